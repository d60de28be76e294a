"""Higher derivatives through nested functions and lambdas passed as values (dec 9): to a helper,
kept in a list or a dict, under another name, with a default value computed from traced values,
and functools.partial passed on.  Was refused ("higher derivatives through the lambda ... passed
as a value are not supported yet"); the pair of a closure's call is now generated source that
reads the captured values from the closure by item, so it is differentiated again like any
generated pair and the adjoints reach the captured values at every order.

Each case: the value against plain Python; the first derivative against a complex-step gradient
of plain Python; the second against central differences of sct's own first derivative AND
against central differences of the complex-step gradient of plain Python (no sct in it)."""
import functools
from functools import partial
import types

import numpy as np
import pytest

import sct
from sct import dlarray, dlfeval, dlgradient, extractdata
from gradcheck import assert_close, numerical_gradient

X = np.array([0.3, -0.5, 0.7, 1.1])
T = np.array([0.9, 1.4, -0.6, 0.4])


def _plain(f):
    return types.FunctionType(f.__code__, f.__globals__, f.__name__, f.__defaults__, f.__closure__)


def cs_gradients(case, x, t):
    """Complex-step gradients of plain Python's ``case(x, t)`` (exact to rounding)."""
    h = 1e-30
    out = []
    for which in (0, 1):
        args = [np.array(x, dtype=complex), np.array(t, dtype=complex)]
        g = np.zeros(args[which].shape)
        for k in range(g.size):
            a = [v.copy() for v in args]
            a[which].reshape(-1)[k] += 1j * h
            g.reshape(-1)[k] = np.imag(case(*a)) / h
        out.append(g)
    return out


def first(f, x, t):
    y = f(x, t)
    return y, dlgradient(y, x, t)


def second(f, x, t):
    y = f(x, t)
    gx, gt = dlgradient(y, x, t, EnableHigherDerivatives=True)
    z = np.sum(gx * gx) + np.sum(np.sin(gt))
    return z, dlgradient(z, x, t)


def z_from(gx, gt):
    return np.sum(gx * gx) + np.sum(np.sin(gt))


def check(case, x=X, t=T, order=2):
    expected = case(x.copy(), t.copy())
    y, (gx, gt) = dlfeval(first, case, dlarray(x), dlarray(t))
    assert_close(extractdata(y), expected, rtol=1e-12, atol=1e-12, what="value")
    rx, rt_ = cs_gradients(case, x, t)
    assert_close(extractdata(gx), rx, rtol=1e-10, atol=1e-12, what="d/dx")
    assert_close(extractdata(gt), rt_, rtol=1e-10, atol=1e-12, what="d/dt")
    if order < 2:
        return

    def z_sct(a, b):
        _, (ga, gb) = dlfeval(first, case, dlarray(a), dlarray(b))
        return z_from(extractdata(ga), extractdata(gb))

    def z_ref(a, b):
        return z_from(*cs_gradients(case, a, b))
    z, (zx, zt) = dlfeval(second, case, dlarray(x), dlarray(t))
    assert_close(extractdata(z), z_ref(x, t), rtol=1e-10, what="second-order value")
    for got, which in ((zx, 0), (zt, 1)):
        fd_sct = numerical_gradient(z_sct, [x.copy(), t.copy()], which)
        fd_ref = numerical_gradient(z_ref, [x.copy(), t.copy()], which)
        assert_close(extractdata(got), fd_sct, rtol=1e-5, atol=1e-6, what=f"d2 (arg {which}) vs sct's first")
        assert_close(extractdata(got), fd_ref, rtol=1e-5, atol=1e-6, what=f"d2 (arg {which}) vs plain")


# --- helpers that call a function value -------------------------------------------------------------

def rk4(f, y, h, n):
    for _ in range(n):
        k1 = f(y); k2 = f(y + h / 2 * k1); k3 = f(y + h / 2 * k2); k4 = f(y + h * k3)
        y = y + h / 6 * (k1 + 2 * k2 + 2 * k3 + k4)
    return y


def apply_twice(fn, v):
    return fn(fn(v))


def iterate(fn, z, n):
    for _ in range(n):
        z = fn(z)
    return z


def call_all(fs, v):
    total = 0.0
    for f in fs:
        total = total + np.sum(f(v))
    return total


def mse(y, targets):
    return np.sum((y - targets) ** 2)


def layer(x, w, scale=1.0, bias=0.0):
    return scale * np.tanh(w * x) + bias


# --- the cases ----------------------------------------------------------------------------------------

def c_rk4(x, t):                           # the example of the task: an ODE solver's rhs
    rhs = lambda y: -t * y + np.sin(y)
    yT = rk4(rhs, x, 0.1, 5)
    return np.sum(yT ** 2)


def c_dict(x, t):                          # captured over a dict of parameters
    p = {"w": t, "b": t ** 2, "s": 0.5}
    f = lambda z: np.tanh(p["w"] * z + p["b"]) * p["s"]
    return np.sum(apply_twice(f, x) * x)


def c_loop_helper(x, t):                   # a helper calling it in a loop
    def step(z):
        return z + 0.1 * np.sin(t * z) * x
    return np.sum(iterate(step, x, 4) ** 2)


def c_def_default(x, t):                   # a nested def with a default argument
    def g(z, scale=2.0):
        return scale * np.sin(t * z)
    return np.sum(apply_twice(g, x)) + np.sum(call_all([g], x * t))


def c_def_traced_default(x, t):            # a default computed from traced values
    def g(z, c=t * t):
        return np.sin(c * z) + z * x
    return np.sum(apply_twice(g, x))


def c_list(x, t):                          # kept in a list, called from there
    fs = [lambda z: np.sin(t * z), lambda z: t * z ** 2]
    s = 0.0
    for f in fs:
        s = s + np.sum(f(x) * x)
    return s + fs[1](t)[0] + call_all(fs, x * t)


def c_renamed(x, t):                       # under another name
    def g(z):
        return np.exp(t * z) * z
    h = g
    return np.sum(h(x) * h(t))


def c_partial(x, t):                       # functools.partial of a module-level function passed on
    f = partial(layer, w=t, bias=0.5)
    loss = partial(mse, targets=t * t)
    return np.sum(apply_twice(f, x)) + apply_twice(lambda v: loss(v) * v, x)[0]


def c_nested_closure(x, t):                # a closure passed on, calling another passed on
    inner = lambda z: np.sin(t * z)
    outer = lambda z: inner(z) * t + apply_twice(inner, z)
    return np.sum(iterate(outer, x, 2))


CASES = [c_rk4, c_dict, c_loop_helper, c_def_default, c_def_traced_default, c_list, c_renamed,
         c_partial, c_nested_closure]


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.__name__)
def test_second_order_through_closure_passed_as_value(case):
    check(case)


# --- the example of the task, against a hand-derived Hessian -----------------------------------------

def example(theta, y0):
    rhs = lambda y: -theta * y + np.sin(y)
    yT = rk4(rhs, y0, 0.1, 5)
    L = np.sum(yT ** 2)
    g = dlgradient(L, theta, EnableHigherDerivatives=True)
    return L, g, dlgradient(np.sum(g ** 2), theta)


def test_task_example_closed_form_euler():
    """A one-step explicit Euler of the same rhs, with the derivatives written out by hand:
    y1 = y0 + h (-theta y0 + sin y0), L = sum(y1^2), dL/dtheta = -2 h y0 y1,
    d/dtheta sum(g^2) = 2 g * dg/dtheta = 2 g (2 h^2 y0^2)."""
    th, y0, h = np.array([0.7, 1.3]), np.array([0.5, -0.2]), 0.1
    L, g, gg = dlfeval(euler_example, dlarray(th), dlarray(y0))
    y1 = y0 + h * (-th * y0 + np.sin(y0))
    g_hand = -2 * h * y0 * y1
    assert_close(extractdata(L), np.sum(y1 ** 2), rtol=1e-14)
    assert_close(extractdata(g), g_hand, rtol=1e-13)
    assert_close(extractdata(gg), 2 * g_hand * 2 * h * h * y0 * y0, rtol=1e-13)


def euler(f, y, h):
    return y + h * f(y)


def euler_example(theta, y0):
    rhs = lambda y: -theta * y + np.sin(y)
    L = np.sum(euler(rhs, y0, 0.1) ** 2)
    g = dlgradient(L, theta, EnableHigherDerivatives=True)
    return L, g, dlgradient(np.sum(g ** 2), theta)


def test_task_example():
    th, y0 = np.array([0.7, 1.3]), np.array([0.5, -0.2])
    L, g, gg = dlfeval(example, dlarray(th), dlarray(y0))

    def loss(a):
        return np.sum(rk4(lambda y: -a * y + np.sin(y), y0, 0.1, 5) ** 2)
    g_ref = cs_gradients(lambda a, b: loss(a), th, th)[0]
    assert_close(extractdata(L), loss(th), rtol=1e-14)
    assert_close(extractdata(g), g_ref, rtol=1e-10)
    gg_ref = numerical_gradient(lambda a: np.sum(cs_gradients(lambda b, c: loss(b), a, a)[0] ** 2), [th], 0)
    assert_close(extractdata(gg), gg_ref, rtol=1e-6)


# --- third order, float32 -----------------------------------------------------------------------------

def third(x):
    f = lambda z: np.sin(x * z) * z
    y = np.sum(apply_twice(f, x))
    g = dlgradient(y, x, EnableHigherDerivatives=True)
    h = dlgradient(np.sum(g), x, EnableHigherDerivatives=True)
    return h, dlgradient(np.sum(h), x)


def second_of_third(x):
    f = lambda z: np.sin(x * z) * z
    y = np.sum(apply_twice(f, x))
    g = dlgradient(y, x, EnableHigherDerivatives=True)
    return dlgradient(np.sum(g), x)


def test_third_derivative():
    x = np.array([0.4, -0.8, 1.2])
    h, k = dlfeval(third, dlarray(x))
    fd = numerical_gradient(lambda a: np.sum(extractdata(dlfeval(second_of_third, dlarray(a)))), [x.copy()], 0)
    assert_close(extractdata(h), extractdata(dlfeval(second_of_third, dlarray(x))), rtol=1e-12)
    assert_close(extractdata(k), fd, rtol=1e-5, atol=1e-7)


def test_float32():
    x32, t32 = X.astype(np.float32), T.astype(np.float32)
    z, (zx, zt) = dlfeval(second, c_rk4, dlarray(x32), dlarray(t32))
    z64, (zx64, zt64) = dlfeval(second, c_rk4, dlarray(X), dlarray(T))
    for got, ref in ((z, z64), (zx, zx64), (zt, zt64)):
        assert extractdata(got).dtype == np.float32
        assert_close(extractdata(got), extractdata(ref), rtol=2e-4, atol=1e-5)


# --- more ways to pass a closure on ---------------------------------------------------------------------

def ident(f):
    return f


def pick(fs, i):
    return fs[i]


def make(t):
    return lambda z: np.sin(z * t)


def compose(f, g):
    return lambda z: f(g(z))


def apply2(f, a, b):
    return f(a, b) + f(b, a)


def kwonly_calls(f, z):
    return f(z) + f(z, s=2.0)


def keyword_calls(fn, v):
    return fn(v, bias=0.3) * fn(v, scale=2.0) + fn(v) + fn(v, bias=0.1, scale=0.5)


def c_returned_by_helper(x, t):
    g = ident(lambda z: z * t)
    f = make(t * t)
    return np.sum(g(x) ** 2) + np.sum(apply_twice(f, x))


def c_picked(x, t):
    fs = [lambda z: z * t, lambda z: np.sin(z + t)]
    return np.sum(pick(fs, 1)(x) * pick(fs, 0)(x))


def c_composed(x, t):
    h = compose(lambda z: z * t, lambda z: np.cos(z * t))
    return np.sum(apply_twice(h, x))


def c_varargs(x, t):
    f = lambda *zs: zs[0] * zs[1] * t
    return np.sum(apply2(f, x, t))


def c_kwonly(x, t):
    def g(z, *, s=1.0):
        return np.sin(z * s * t)
    return np.sum(kwonly_calls(g, x))


def c_closure_default(x, t):
    inner = lambda z: z * t
    def outer(z, f=inner):
        return f(z) * z
    return np.sum(apply_twice(outer, x))


def c_late_bound(x, t):                    # a loop's counter read late, with a traced value
    fs = []
    for k in range(3):
        fs.append(lambda z: z * k * t)
    return np.sum(iterate(fs[1], x, 2)) + call_all(fs, x)


def c_traced_default_direct(x, t):
    w = np.cos(x)
    f = lambda z, w=w: z * w * t
    return np.sum(f(x) + f(t, x) ** 2)


def c_keyword_before_traced_default(x, t):
    """``fn(v, scale=2.0)`` of ``def g2(z, scale=1.0, bias=t)``: the keyword names a parameter
    before the traced default (first order was wrong: d/dt 0, the mark of bias given to scale)."""
    def g2(z, scale=1.0, bias=t):
        return scale * np.tanh(z * t) + bias * z
    return np.sum(keyword_calls(g2, x))


F_OUTSIDE = partial(layer, w=2.0)


def c_partial_made_outside(x, t):          # a functools.partial of constants, made before dlfeval
    return np.sum(keyword_calls(F_OUTSIDE, x * t)) + np.sum(apply_twice(F_OUTSIDE, x))


MORE = [c_returned_by_helper, c_picked, c_composed, c_varargs, c_kwonly, c_closure_default, c_late_bound,
        c_traced_default_direct, c_keyword_before_traced_default, c_partial_made_outside]


@pytest.mark.parametrize("case", MORE, ids=lambda c: c.__name__)
def test_second_order_more(case):
    check(case)


def test_keyword_before_traced_default_first_order():
    check(c_keyword_before_traced_default, order=1)


# --- forward over reverse, Hessian-vector products, sct.jvp ----------------------------------------------

@pytest.mark.parametrize("case", [c_rk4, c_def_traced_default, c_late_bound, c_dict], ids=lambda c: c.__name__)
def test_jvp_and_hvp(case):
    v = np.array([0.1, 0.5, -0.3, 0.2])

    def f(x):
        return case(x, T)

    def grad_f(x):
        return dlgradient(case(x, T), x)
    y, jv = sct.jvp(f, X, v)
    assert_close(extractdata(y), f(X), rtol=1e-12)
    assert_close(extractdata(jv), (f(X + 1e-6 * v) - f(X - 1e-6 * v)) / 2e-6, rtol=1e-6, atol=1e-8)

    def g_ref(a):
        return cs_gradients(case, a, T)[0]
    hv_ref = (g_ref(X + 1e-6 * v) - g_ref(X - 1e-6 * v)) / 2e-6
    assert_close(extractdata(sct.hvp(f, X, v)), hv_ref, rtol=1e-6, atol=1e-8)
    _, hv = sct.jvp(grad_f, X, v)           # forward over reverse
    assert_close(extractdata(hv), hv_ref, rtol=1e-6, atol=1e-8)


def test_expired_closure_refused_at_second_order():
    def expired(x, t):
        s = t
        fs = [lambda z: z * s]
        s = s * 2
        return np.sum(call_all(fs, x))
    with pytest.raises(sct.EvaluationError, match="reassigned"):
        dlfeval(second, expired, dlarray(X), dlarray(T))


def test_accelerated_second_order():
    fast = sct.dlaccelerate(second)
    for i in range(3):
        t = T + 0.1 * i
        got = dlfeval(fast, c_rk4, dlarray(X), dlarray(t))
        want = dlfeval(second, c_rk4, dlarray(X), dlarray(t))
        assert_close(extractdata(got[1][1]), extractdata(want[1][1]), rtol=1e-13)
        assert_close(extractdata(got[1][0]), extractdata(want[1][0]), rtol=1e-13)


def call_with_receiver(f, z):
    return f(z, receiver=2.0)


def c_keyword_receiver(x, t):
    f = lambda z, receiver=1.0: z * receiver * t
    return np.sum(call_with_receiver(f, x) ** 2)


def test_keyword_named_like_the_pair_refused_at_second_order():
    """A closure called as a value with a keyword the generated pair uses as a name (receiver=):
    first order as before; the second refused, naming the keyword, at the lambda's line."""
    check(c_keyword_receiver, order=1)
    with pytest.raises(sct.CompileError, match=r"higher derivatives through the lambda \(line \d+\) passed "
                       r"as a value and called with the keyword receiver= ") as info:
        dlfeval(second, c_keyword_receiver, dlarray(X), dlarray(T))
    assert info.value.filename == __file__


# --- a closure over a dict of parameters given to dlfeval ------------------------------------------------

def net_loss(p, x):
    f = lambda z: np.tanh(p["W"] @ z + p["b"])
    return np.sum(iterate(f, x, 3) ** 2)


def net_hv(p, x, v):
    g = dlgradient(net_loss(p, x), p, EnableHigherDerivatives=True)
    return dlgradient(np.sum(g["W"] * v["W"]) + np.sum(g["b"] * v["b"]), p)


def net_grad(p, x):
    return dlgradient(net_loss(p, x), p)


def test_closure_over_a_dict_of_parameters():
    rng = np.random.default_rng(0)
    W, b, x = rng.standard_normal((3, 3)) * 0.5, rng.standard_normal(3) * 0.3, rng.standard_normal(3)
    v = {"W": rng.standard_normal((3, 3)), "b": rng.standard_normal(3)}
    h = dlfeval(net_hv, {"W": dlarray(W), "b": dlarray(b)}, dlarray(x), v)
    eps = 1e-6

    def sct_grad(s):
        g = dlfeval(net_grad, {"W": dlarray(W + s * v["W"]), "b": dlarray(b + s * v["b"])}, dlarray(x))
        return np.concatenate([extractdata(g["W"]).ravel(), extractdata(g["b"])])

    def plain_grad(s):                     # complex step on plain Python
        out = []
        for name, shape in (("W", (3, 3)), ("b", (3,))):
            for k in range(int(np.prod(shape))):
                p = {"W": (W + s * v["W"]).astype(complex), "b": (b + s * v["b"]).astype(complex)}
                p[name].reshape(-1)[k] += 1e-30j
                out.append(np.imag(net_loss(p, x)) / 1e-30)
        return np.array(out)
    got = np.concatenate([extractdata(h["W"]).ravel(), extractdata(h["b"])])
    assert_close(sct_grad(0.0), plain_grad(0.0), rtol=1e-10, atol=1e-12)
    assert_close(got, (sct_grad(eps) - sct_grad(-eps)) / (2 * eps), rtol=1e-6, atol=1e-8)
    assert_close(got, (plain_grad(eps) - plain_grad(-eps)) / (2 * eps), rtol=1e-6, atol=1e-8)


def c_complex_inside(x, t):
    f = lambda z: z * t * (1 + 2j) + np.exp(1j * z)
    return np.sum(np.abs(apply_twice(f, x)) ** 2)


def test_complex_values_inside():
    from gradcheck import check_two_inputs
    check_two_inputs(c_complex_inside, X, T)


# --- the pairs hold no closure: nothing captured is kept alive by sct's caches ---------------------------

def captures_constant(x, data):
    fs = [lambda z: z * data[0]]
    return call_all(fs, x)


def first_of_captures(x, data):
    return dlgradient(captures_constant(x, data), x)


def test_captured_values_not_kept_alive():
    """A closure of untraced values called as a function (its pair's forward: the shared
    generated forward with the closure put in, as a Closure): sct's caches keep no closure, so a
    value it captured (a data batch) is freed after the run (was, in a first version of the
    generated pair: up to 256 of them kept)."""
    import gc
    import weakref
    from sct import transform_calls
    x = dlarray(np.array([1.0, 2.0]))
    dlfeval(first_of_captures, x, np.ones(4))
    sizes = len(transform_calls._CLOSURE_PAIRS), len(transform_calls._PARTIAL_PAIRS)
    for i in range(5):
        data = np.full(4, float(i + 2))
        ref = weakref.ref(data)
        g = dlfeval(first_of_captures, x, data)
        assert_close(extractdata(g), np.full(2, float(i + 2)))
        del data
        gc.collect()
        assert ref() is None
    assert (len(transform_calls._CLOSURE_PAIRS), len(transform_calls._PARTIAL_PAIRS)) == sizes


def captures_data(x, data):
    fs = [lambda z: np.sin(z * data[0]) * z]
    return call_all(fs, x) + np.sum(iterate(fs[0], x, 3))


def partial_of_data(x, data):
    return np.sum(apply_twice(partial(layer, w=data[0]), x)) + np.sum(apply_twice(F_OUTSIDE, x * data[1]))


def second_data(case, x, data):
    g = dlgradient(case(x, data), x, EnableHigherDerivatives=True)
    return dlgradient(np.sum(g ** 2), x)


@pytest.mark.parametrize("case", [captures_data, partial_of_data], ids=lambda c: c.__name__)
def test_cached_code_reads_each_runs_captured_values(case):
    """The generated code is shared by every closure of a call: each run's captured values are read
    (none baked in), at second order too."""
    x = np.array([0.3, 0.7])
    for i in range(3):
        data = np.full(3, 0.5 + i)
        got = extractdata(dlfeval(second_data, case, dlarray(x), data))

        def gsq(a):
            return np.sum(cs_gradients(lambda u, v: case(u, data), a, a)[0] ** 2)
        want = numerical_gradient(gsq, [x.copy()], 0)
        assert_close(got, want, rtol=1e-6, atol=1e-8)
