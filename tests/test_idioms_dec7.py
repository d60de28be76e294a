"""Everyday idioms (dec 7): keyword-only parameters taking traced values (helpers of the same file,
of another module, methods, defaults, **kwargs), functools.partial called with **cfg, lambdas made
in a loop.  Values against plain Python, gradients against finite differences (first and second
order); what sct still refuses, refused naming the user's construct."""
import functools
import types

import numpy as np
import pytest

import sct
from sct import CompileError, EvaluationError, dlarray, dlfeval, dlgradient
from gradcheck import assert_close, check_two_inputs, first, numerical_gradient, second

import idioms_dec7_helpers as other

X = np.array([0.3, -0.5, 0.7, 1.1])
T = np.array([1.0, 2.0, -3.0, 0.4])


def check(case, x=X, t=T, order=2):
    check_two_inputs(case, x, t, order)


# --- 1. keyword-only parameters taking traced values ---------------------------------------------

def layer(x, *, w, b=0.0):
    return np.tanh(w * x + b)


def block(x, *, params, scale=1.0):
    return np.sin(params[0] * x) * params[1] * scale


def kwonly_some(x, w, *, b, **rest):
    return np.cos(w * x) + b * rest.get("extra", 1.0)


def kw_brief(x, t):                      # the brief's example
    return np.sum(layer(x, w=t, b=0.1) ** 2)


def kw_default_left(x, t):               # b keeps its default
    return np.sum(layer(x, w=t * t))


def kw_traced_default_position(x, t):    # a traced value to the defaulted keyword-only one
    return np.sum(layer(x, w=2.0, b=t))


def kw_out_of_order(x, t):
    return np.sum(layer(b=np.sin(t), w=t, x=x))


def kw_tuple_param(x, t):
    return np.sum(block(x, params=(t, x * t)))


def kw_other_module(x, t):
    return np.sum(other.dense(x, w=t)) + np.sum(other.dense(t, w=x, b=0.5))


def kw_attention(x, t):
    return np.sum(other.attention(x, t, x * t, scale=np.sum(t) * 0.1))


def kw_attention_mask(x, t):
    return np.sum(other.attention(x, t, x, mask=t * 0.5, scale=0.3))


def kw_with_kwargs(x, t):
    return np.sum(kwonly_some(x, t, b=t * 2.0, extra=3.0))


def kw_in_loop(x, t):
    y = x
    for _ in range(2):
        y = layer(y, w=t, b=0.1)
    return np.sum(y)


@pytest.mark.parametrize("case", [kw_brief, kw_default_left, kw_traced_default_position, kw_out_of_order,
                                  kw_tuple_param, kw_other_module, kw_attention, kw_attention_mask,
                                  kw_with_kwargs, kw_in_loop])
def test_keyword_only_traced(case):
    check(case)


def helper_calls_in_one(x, t):
    return kw_brief(x, t) + kw_other_module(x, t) + kw_with_kwargs(x, t)


def test_keyword_only_accelerated():
    f = sct.dlaccelerate(first)
    for _ in range(2):
        y, (gx, gt) = dlfeval(f, helper_calls_in_one, dlarray(X), dlarray(T))
        assert_close(sct.extractdata(y), helper_calls_in_one(X, T), rtol=1e-12)
        assert_close(sct.extractdata(gt), numerical_gradient(lambda b: helper_calls_in_one(X, b), [T.copy()], 0))


def test_keyword_only_default_changed_is_seen():
    """rt.positional(f) carries f's defaults: changing them (in place) compiles again."""
    def uses_default(x, t):
        return np.sum(layer(x, w=t))
    check(uses_default, order=1)
    old = layer.__kwdefaults__["b"]
    try:
        layer.__kwdefaults__["b"] = 0.7
        check(uses_default, order=1)
    finally:
        layer.__kwdefaults__["b"] = old


# a dlfeval'd function's own keyword-only parameters, given by keyword

def entry_kwonly(x, *, w, b=0.5):
    y = np.sum(np.tanh(w * x + b) ** 2)
    return y, dlgradient(y, x, w)


def entry_kwonly_second(x, *, w):
    y = np.sum(np.sin(w * x) * x)
    gx, gw = dlgradient(y, x, w, EnableHigherDerivatives=True)
    z = np.sum(gx * gw)
    return z, dlgradient(z, x, w)


def test_dlfeval_keyword_only_arguments():
    plain = lambda a, b, c=0.5: np.sum(np.tanh(b * a + c) ** 2)
    for b in (None, 0.1):
        kw = {} if b is None else {"b": b}
        y, (gx, gw) = dlfeval(entry_kwonly, dlarray(X), w=dlarray(T), **kw)
        c = 0.5 if b is None else b
        assert_close(sct.extractdata(y), plain(X, T, c), rtol=1e-12)
        assert_close(sct.extractdata(gx), numerical_gradient(lambda a: plain(a, T, c), [X.copy()], 0))
        assert_close(sct.extractdata(gw), numerical_gradient(lambda w: plain(X, w, c), [T.copy()], 0))
    f = sct.dlaccelerate(entry_kwonly)
    y, (gx, gw) = f(dlarray(X), w=dlarray(T))
    assert_close(sct.extractdata(gw), numerical_gradient(lambda w: plain(X, w), [T.copy()], 0))


def test_dlfeval_keyword_only_second_order():
    def z_of(a, b):
        gx = np.cos(b * a) * b * a + np.sin(b * a)
        gw = np.cos(b * a) * a * a
        return np.sum(gx * gw)
    z, (zx, zw) = dlfeval(entry_kwonly_second, dlarray(X), w=dlarray(T))
    assert_close(sct.extractdata(z), z_of(X, T), rtol=1e-12)
    assert_close(sct.extractdata(zx), numerical_gradient(lambda a: z_of(a, T), [X.copy()], 0), rtol=1e-4)
    assert_close(sct.extractdata(zw), numerical_gradient(lambda b: z_of(X, b), [T.copy()], 0), rtol=1e-4)


# methods and function values given traced values by keyword

class Dense:
    def __init__(self, a):
        self.a = a

    def __call__(self, x, *, w, training=False):
        return np.tanh(self.a * w * x) * (0.5 if training else 1.0)

    def apply(self, x, *, scale=1.0, shift=0.0):
        return np.sin(x + shift) * scale * self.a

    def twice(self, x, *, w):
        return self(x, w=w) + self.apply(x, scale=w)


def m_local(x, t):
    m = Dense(2.0)
    return np.sum(m(x, w=t, training=True)) + np.sum(m.apply(x, scale=t))


def m_keywords_reordered(x, t):
    m = Dense(1.5)
    return np.sum(m.apply(shift=x * 0.5, x=t, scale=np.cos(t)))


def m_traced_receiver(x, t):
    m = Dense(t)                         # the receiver holds a traced value too
    return np.sum(m(x, w=x)) + np.sum(m.twice(t, w=x))


def m_function_value(x, t):
    g = layer if x.shape[0] > 1 else other.dense
    return np.sum(g(x, w=t, b=0.2))


@pytest.mark.parametrize("case", [m_local, m_keywords_reordered, m_traced_receiver, m_function_value])
def test_keyword_only_methods(case):
    check(case)


def entry_with_model(x, t, m):
    y = np.sum(m(x, w=t)) + np.sum(m.apply(t, shift=x))
    return y, dlgradient(y, x, t)


def test_keyword_only_method_of_an_argument():
    m = Dense(0.7)
    plain = lambda a, b: np.sum(m(a, w=b)) + np.sum(m.apply(b, shift=a))
    y, (gx, gt) = dlfeval(entry_with_model, dlarray(X), dlarray(T), m)
    assert_close(sct.extractdata(y), plain(X, T), rtol=1e-12)
    assert_close(sct.extractdata(gx), numerical_gradient(lambda a: plain(a, T), [X.copy()], 0))
    assert_close(sct.extractdata(gt), numerical_gradient(lambda b: plain(X, b), [T.copy()], 0))


def static_and_nested(x, t):
    def inner(a, *, s):
        return np.sin(a * s)
    return np.sum(Holder().scaled(x, w=t)) + np.sum(inner(x, s=t))


class Holder:
    @staticmethod
    def scaled(x, *, w):
        return x * w * w


def test_keyword_only_staticmethod_and_nested():
    check(static_and_nested)


def args_and_kwonly(x, *rest, w):
    return x * w * rest[0]


def kw_with_star_args(x, t):
    return np.sum(args_and_kwonly(x, 2.0, w=t))


def test_keyword_only_with_star_args_refused():
    with pytest.raises(CompileError, match=r"keyword-only parameter of args_and_kwonly, which also takes \*args") as e:
        dlfeval(first, kw_with_star_args, dlarray(X), dlarray(T))
    assert "test_idioms_dec7.py" in str(e.value)


V = np.array([0.2, -0.1, 0.4, 0.3])
W = np.array([0.5, 0.1, -0.3, 0.2])


@pytest.mark.parametrize("case", [kw_brief, kw_other_module, kw_with_kwargs, kw_in_loop, m_local,
                                  m_traced_receiver, m_function_value])
@pytest.mark.parametrize("mode", ["forward", "transpose"])
def test_keyword_only_jvp(case, mode):
    y, jv = sct.jvp(lambda x, t: case(x, t), (X, T), (V, W), mode=mode)
    assert_close(sct.extractdata(y), case(X, T), rtol=1e-12)
    assert_close(sct.extractdata(jv), numerical_gradient(lambda e: case(X + e * V, T + e * W), [np.array(0.0)], 0))


def jvp_kwonly(x, *, s=2.0, w):
    return np.sum(np.sin(x * s) * w)


@pytest.mark.parametrize("mode", ["forward", "transpose"])
def test_jvp_of_a_function_with_keyword_only_parameters(mode):
    y, jv = sct.jvp(functools.partial(jvp_kwonly, w=T), X, V, mode=mode)
    assert_close(sct.extractdata(y), jvp_kwonly(X, w=T), rtol=1e-12)
    assert_close(sct.extractdata(jv), numerical_gradient(lambda e: jvp_kwonly(X + e * V, w=T), [np.array(0.0)], 0))


# --- 2. functools.partial called with keywords ------------------------------------------------

def pf(x, w, s=1.0, b=0.0):
    return np.sum(np.tanh(w * x * s) + b * w)


def partial_keywords_by_name(x, t):
    g = functools.partial(pf, s=3.0)            # b after the frozen s: keyword-only in g
    cfg = {"w": t, "b": 0.5}
    return g(x, w=cfg["w"], b=cfg["b"])


def partial_traced_keyword_only(x, t):
    g = functools.partial(pf, s=3.0)
    return g(x, w=t, b=t * 2.0) + g(t, x, b=np.sin(x))


def partial_double_star_positional_part(x, t):
    g = functools.partial(pf, s=3.0)
    cfg = {"w": t}
    return g(x, **cfg)


@pytest.mark.parametrize("case", [partial_keywords_by_name, partial_traced_keyword_only])
def test_partial_keywords(case):
    check(case)


def partial_double_star(x, t):
    g = functools.partial(pf, s=3.0)
    cfg = {"w": t, "b": 0.5}
    y = g(x, **cfg)
    return y


def partial_double_star_positional_part_written(x, t):
    g = functools.partial(pf, s=3.0)
    cfg = {}
    cfg["w"] = t                # (keys known only when it runs)
    return g(x, **cfg)


def partial_double_star_written(x, t):
    g = functools.partial(pf, s=3.0)
    cfg = {"w": t}
    cfg["b"] = 0.5
    y = g(x, **cfg)
    return y


@pytest.mark.parametrize("case", [partial_double_star_positional_part, partial_double_star])
def test_partial_double_star_of_a_dict_display(case):
    # (was refused: a dict display's keys are the call's own keywords since stop 42)
    check(case)


def test_partial_double_star_refused_naming_it():
    with pytest.raises(EvaluationError, match=r"g = functools.partial\(pf, \.\.\.\) is made in the function: "
                       r"sct does not bind its parameters from \*\* yet: pass them by name \(g\(\.\.\., w=\.\.\.\)\)"):
        dlfeval(first, partial_double_star_positional_part_written, dlarray(X), dlarray(T))


def test_partial_double_star_to_keyword_only_names_the_partial():
    """(was: "... to Closure() by position, and Closure() takes them as **kwargs")"""
    with pytest.raises(EvaluationError) as e:
        dlfeval(first, partial_double_star_written, dlarray(X), dlarray(T))
    text = str(e.value)
    # (the partial's frozen values are its def's own defaults since s55, its keyword-only parameters after
    # them: the ** refusal names it so)
    assert "g = functools.partial(pf, ...)" in text and "**" in text, text
    assert "y = g(x, **cfg)" in text and "test_idioms_dec7.py" in text and "Closure" not in text, text


def test_double_star_binds_the_partial_once():
    """The generated code of ``g(x, **cfg)`` binds g's closure once (it was bound twice, f_closure and
    f_closure_1, one per run-time layout call)."""
    text = str(sct.source(partial_double_star_written, dlarray(X), dlarray(T)))
    assert text.count("rt.bind_closure(") == 1, text


# --- 3. lambdas made in a loop, called later (Python's late binding: the loop variable's last value) ---

def late_comprehension(x, t):
    fs = [lambda v: v * k for k in range(3)]
    return np.sum(sum(f(x) for f in fs) * t)


def late_append(x, t):
    fs = []
    for k in range(3):
        fs.append(lambda v: v * k * t)
    return np.sum(sum(f(x) for f in fs))


def late_called_in_loop(x, t):
    fs = []
    for k in range(1, 4):
        fs.append(lambda v: np.sin(v * k) * t)
    total = 0.0
    for f in fs:
        total = total + np.sum(f(x))
    return total


def late_list_of_sums(x, t):
    fs = [lambda v: np.sin(v * k) for k in range(3)]
    return np.sum([np.sum(f(x) * t) for f in fs])


def late_comprehension_in_loop(x, t):
    """Each run of a comprehension has its own variable: the first run's lambdas keep its last value."""
    groups = []
    for j in range(2):
        groups.append([lambda v: v * k * t for k in range(j + 2)])
    return sum(np.sum(f(x)) for g in groups for f in g)


def late_rebound_between_calls(x, t):
    k = 1
    f = lambda v: v * k * t
    a = np.sum(f(x))
    k = 4
    return a + np.sum(f(x)) + sum(np.sum(f(x)) * i for i in range(2))


def late_while(x, t):
    fs = []
    k = 0
    while k < 3:
        fs.append(lambda v: np.cos(v + k) * t)
        k += 1
    return sum(np.sum(f(x)) for f in fs)


def late_string_key(x, t):
    fs = []
    for name in ("a", "b"):
        fs.append(lambda v: v * t * (2.0 if name == "a" else 3.0))
    return np.sum(fs[0](x) + fs[1](x))


@pytest.mark.parametrize("case", [late_comprehension, late_append, late_called_in_loop, late_list_of_sums,
                                  late_comprehension_in_loop, late_rebound_between_calls, late_while,
                                  late_string_key])
def test_late_binding(case):
    check(case, order=1)


@pytest.mark.parametrize("case", [late_comprehension, late_append, late_called_in_loop, late_while])
def test_late_binding_second_order(case):
    """Lambdas kept in a list are nested functions passed as values: higher derivatives through
    them were refused; dec 9: differentiated again (tests/test_closures_dec9d.py)."""
    check(case)


def late_traced_value(x, t):
    fs = []
    s = t
    for k in range(2):
        fs.append(lambda v: v * s)
        s = s * 2.0                     # a traced value rebound: refused (not followed)
    return np.sum(fs[0](x))


def test_late_binding_of_a_traced_value_refused():
    with pytest.raises(EvaluationError, match=r"the lambda defined at line \d+ is called after 's'"):
        dlfeval(first, late_traced_value, dlarray(X), dlarray(T))


def lazy_generator_calls(x, t):
    # a generator's lambdas called as it is consumed: Python's read k of then (0, 1, 2); sct makes the
    # generator a list at once, so its closures cannot follow k: refused (late binding would give 2, 2, 2)
    return sum(np.sum(f(x) * t) for f in (lambda v: v * k for k in range(3)))


def lazy_generator_listed(x, t):
    vals = [f() for f in (lambda: k for k in range(3))]
    return np.sum(x * t) * (vals[0] + 10 * vals[1] + 100 * vals[2])


@pytest.mark.parametrize("case", [lazy_generator_calls, lazy_generator_listed])
def test_late_binding_in_a_generator_refused(case):
    with pytest.raises(EvaluationError, match=r"the lambda defined at line \d+ is called after 'k'"):
        dlfeval(first, case, dlarray(X), dlarray(T))


# helpers of the file read in place (formats, gradients taken inside) with keyword-only parameters

def fc_model(X, *, W, b=0.0):
    return sct.fullyconnect(X, W, np.zeros(2) + b)


def fc_loss(W, X):
    Y = fc_model(X, W=W, b=0.5)
    y = sct.mse(Y, dlarray(np.ones((2, 3)), "CB"))
    return y, dlgradient(y, W)


def test_keyword_only_helper_meeting_formats():
    W = np.array([[0.1, 0.2, 0.3], [0.4, -0.5, 0.6]])
    Xd = np.arange(9.0).reshape(3, 3) / 10

    def plain(w):       # mse of a "CB" array: half the summed squares over the batch size
        return np.sum((w @ Xd + 0.5 - 1.0) ** 2) / 2 / 3
    y, g = dlfeval(fc_loss, dlarray(W), dlarray(Xd, "CB"))
    assert_close(sct.extractdata(y), plain(W), rtol=1e-12)
    assert_close(sct.extractdata(g), numerical_gradient(plain, [W.copy()], 0))


def grad_inside(x, *, z):
    return dlgradient(np.sum(x * z), x)


def grad_inside_caller(x):
    return grad_inside(x, z=x ** 2)


def test_keyword_only_helper_taking_a_gradient_read_in_place():
    """d/dx sum(x * z) with z = x**2 given by keyword is 3x**2 through the caller's code (MATLAB's),
    as for a positional z (was refused: "z is a keyword-only parameter")."""
    x = np.array([0.5, -1.0, 2.0])
    g = dlfeval(grad_inside_caller, dlarray(x))
    assert_close(sct.extractdata(g), 3 * x ** 2, rtol=1e-12)
