"""misc55: three silent wrong results.

1. ``l0 = loss; loss += r`` with ``loss`` a dlarray standing for numpy's scalar (``x * 2.0`` of a 0-d x,
   ``np.sum(...)``, ``x[0]``): plain Python with sct's dlarray changed its 0-d data in place, so ``l0``
   changed too (12.25 where numpy, and sct under dlfeval, give 10.5: np.float64 is immutable).  The runtime
   dlarray now rebinds such a value, as numpy's scalar does; 0-d arrays (``dlarray(0.5)``, ``x.copy()``)
   and 1-element arrays still change in place, as numpy's do.
2. A ``backward`` set on a layer's instance (``layer.backward = fn``, before or after compiling) was ignored
   where the class has none (the derived gradient [3, 4] where the backward gives [10, 10]); it is used now,
   as one the class defines (``runtime.layers.has_custom_backward`` reads the object; the compiler leaves a
   call of a layer whose kind holds a ``backward`` field to the run), and its removal is followed too.
3. numpy (math, cmath) functions replaced (``np.sin = np.cos``, ``np.tanh = my_tanh``, ``numpy.exp = ...``,
   ``math.sin = ...``): the value of the replacement with the derivative of the original (or a rule calling
   the replacement: -cos(x) for cos), and after compiling a cached entry ran on.  Refused when compiled,
   naming the function and the line (sct/replaced_functions.py); a cache hit checks the module functions
   the code reads (sct/cache.py), so a replacement after compiling compiles again and is refused.
"""
import math

import numpy
import numpy as np
import pytest

import sct
from sct import dlarray, dlfeval, dlgradient, extractdata
from gradcheck import D, assert_close, numerical_gradient


# --- 1. in-place operators on a dlarray that stands for numpy's scalar ------------------------------

def mul_iadd(x, r):
    loss = x * 2.0
    l0 = loss
    loss += r
    return np.sum(l0 * loss)


def sum_isub(x, r):
    loss = np.sum(x * x)
    l0 = loss
    loss -= r
    return np.sum(l0 * loss * 3.0)


def item_imul(x, r):
    loss = x[0] + 0.0
    l0 = loss
    loss *= r
    return np.sum(l0 + loss * loss)


def sin_idiv(x, r):
    loss = np.sin(x)
    l0 = loss
    loss /= r + 2.0
    return np.sum(l0 * loss)


def ipow(x, r):
    loss = np.sum(x * r)
    l0 = loss
    loss **= 2
    return np.sum(l0 * loss)


def rebind(x, r):
    loss = x * 2.0
    l0 = loss
    loss = loss + r
    return np.sum(l0 * loss)


def history(x, r):
    loss = np.sum(x) * 0.0
    first = loss
    for i in range(3):
        loss += r * np.sum(x)
    return np.sum(first * 5.0 + loss * x)


class Holder:
    pass


def field(x, r):
    s = np.sum(x * r)
    h = Holder()
    h.s = s
    s *= x[0]
    return np.sum(s * h.s)


CASES = [mul_iadd, sum_isub, item_imul, sin_idiv, ipow, rebind, history, field]


def gradient_of(fn):
    def run(x, r):
        y = fn(x, r)
        return y, dlgradient(y, x)
    return run


@pytest.mark.parametrize("fn", CASES, ids=lambda f: f.__name__)
@pytest.mark.parametrize("x", [0.75, [0.75], [0.75, -1.3]], ids=["0d", "1", "2"])
def test_plain_dlarray_numpy_and_sct_agree(fn, x):
    if fn in (item_imul, field) and np.ndim(x) == 0:
        pytest.skip("indexes x")
    r = 0.5
    by_numpy = float(np.sum(fn(np.array(x), np.array(r))))
    by_dlarray = float(np.sum(extractdata(fn(dlarray(x), dlarray(r)))))   # plain Python, sct's dlarray
    assert by_dlarray == pytest.approx(by_numpy, rel=1e-12)
    if np.ndim(x) == 0:             # numpy's scalar np.float64: immutable, as above
        assert float(fn(np.float64(x), np.float64(r))) == pytest.approx(by_numpy, rel=1e-12)
    y, g = dlfeval(gradient_of(fn), dlarray(x), dlarray(r))
    assert float(D(y)) == pytest.approx(by_numpy, rel=1e-12)
    expected = numerical_gradient(lambda v: float(np.sum(fn(v, np.array(r)))), [np.array(x, float)], 0)
    assert_close(D(g), expected, rtol=1e-6, atol=1e-8, what="gradient")


def test_scalar_dlarray_is_not_changed_by_augmented_assignment():
    for make in (lambda: dlarray([1.5, 2.0])[0], lambda: np.sum(dlarray([1.5, 2.0])),
                 lambda: dlarray(1.5) * 2.0):
        s = make()
        before = float(extractdata(s))
        s0 = s
        s += 1.0
        s -= 0.25
        s *= 3.0
        s /= 2.0
        s **= 2
        assert float(extractdata(s0)) == before
        assert float(extractdata(s)) == pytest.approx(((before + 0.75) * 1.5) ** 2)


def test_arrays_still_change_in_place():
    for data in (1.5, [1.5], [1.5, 2.0]):
        a = dlarray(data)           # a 0-d array (np.array(1.5)), a 1- and a 2-element one: in place
        a0 = a
        a += 1.0
        a **= 2
        assert_close(D(a0), (np.array(data) + 1.0) ** 2)
    c = dlarray([1.5, 2.0]).copy()
    c0 = c
    c *= 2.0
    assert_close(D(c0), [3.0, 4.0])


def test_scalar_dlarray_plus_array_broadcasts_to_a_new_array():
    s = dlarray([1.5, 2.0])[0]
    s0 = s
    s += dlarray([1.0, 2.0, 3.0])           # np.float64 += array: a new array, as numpy gives
    assert_close(D(s), [2.5, 3.5, 4.5])
    assert float(extractdata(s0)) == 1.5


# --- 2. a custom backward set on a layer's instance --------------------------------------------------

class Scale(sct.Layer):
    learnables = ("W",)

    def __init__(self, w):
        self.W = w

    def predict(self, X):
        return X * self.W


class ScaleTen(Scale):
    def backward(self, X, Z, dLdZ, memory):
        return dLdZ * 10.0, dLdZ * 0.0


def tenfold(X, Z, dLdZ, memory):        # the backward set on an instance: a function of the layer's values
    return dLdZ * 10.0, dLdZ * 0.0


def hundredfold(X, Z, dLdZ, memory):
    return dLdZ * 100.0, dLdZ * 0.0


def by_predict(layer, x):
    y = np.sum(layer.predict(x))
    return y, dlgradient(y, x)


def by_forward(layer, x):
    y = np.sum(layer.forward(x))
    return y, dlgradient(y, x)


def by_call(layer, x):
    y = np.sum(layer(x))
    return y, dlgradient(y, x)


def in_list(layers, x):
    h = x
    for layer in layers:
        h = layer(h)
    y = np.sum(h)
    return y, dlgradient(y, x)


def in_dict(p, x):
    y = np.sum(p["layer"].predict(x))
    return y, dlgradient(y, x)


def second(layer, x):
    y = np.sum(layer.predict(x) ** 2)
    g = dlgradient(y, x)
    z = np.sum(g * g)
    return z, dlgradient(z, x)


W0 = np.array([3.0, 4.0])
X0 = np.array([1.0, 2.0])


@pytest.mark.parametrize("fn", [by_predict, by_forward, by_call], ids=lambda f: f.__name__)
def test_instance_backward_set_after_compiling_is_used_and_removed(fn):
    layer = Scale(dlarray(W0))
    assert_close(D(dlfeval(fn, layer, dlarray(X0))[1]), W0)             # derived: W
    layer.backward = tenfold
    y, g = dlfeval(fn, layer, dlarray(X0))
    assert float(D(y)) == pytest.approx(float(np.sum(X0 * W0)))
    assert_close(D(g), [10.0, 10.0])                                    # the backward's, as MATLAB uses it
    layer.backward = hundredfold
    assert_close(D(dlfeval(fn, layer, dlarray(X0))[1]), [100.0, 100.0])
    del layer.backward
    assert_close(D(dlfeval(fn, layer, dlarray(X0))[1]), W0)


@pytest.mark.parametrize("fn, wrap", [(by_predict, lambda L: L), (in_list, lambda L: [L]),
                                      (in_dict, lambda L: {"layer": L})], ids=["arg", "list", "dict"])
def test_instance_backward_set_before_compiling(fn, wrap):
    layer = Scale(dlarray(W0))
    layer.backward = tenfold
    assert_close(D(dlfeval(fn, wrap(layer), dlarray(X0))[1]), [10.0, 10.0])
    assert_close(D(dlfeval(fn, wrap(Scale(dlarray(W0))), dlarray(X0))[1]), W0)


def test_instance_backward_overrides_the_class_one_and_is_differentiated_again():
    layer = Scale(dlarray(W0))
    layer.backward = tenfold
    by_class = dlfeval(second, ScaleTen(dlarray(W0)), dlarray(X0))
    by_instance = dlfeval(second, layer, dlarray(X0))
    assert_close(D(by_instance[1]), D(by_class[1]))
    assert_close(D(by_class[1]), 400.0 * 20.0 * X0 * W0)     # g = 10 * 2Z = 20WX, dz/dx = 2g * 10 * 2 * 10
    override = ScaleTen(dlarray(W0))
    override.backward = hundredfold
    assert_close(D(dlfeval(by_predict, override, dlarray(X0))[1]), [100.0, 100.0])


def test_instance_predict_is_python_s():
    layer = Scale(dlarray(W0))
    assert_close(D(dlfeval(by_predict, layer, dlarray(X0))[1]), W0)
    layer.predict = lambda X: X * 7.0
    y, g = dlfeval(by_predict, layer, dlarray(X0))
    assert float(D(y)) == pytest.approx(float(np.sum(X0 * 7.0)))
    assert_close(D(g), [7.0, 7.0])


# --- 3. numpy's, math's functions replaced ------------------------------------------------------------

def uses_sin(x):
    y = np.sum(np.sin(x))
    return y, dlgradient(y, x)


def uses_math_sin(x):
    y = math.sin(x[0]) * np.sum(x)
    return y, dlgradient(y, x)


def uses_numpy_exp(x):
    y = numpy.sum(numpy.exp(x))
    return y, dlgradient(y, x)


def uses_tanh(x):
    y = np.sum(np.tanh(x))
    return y, dlgradient(y, x)


def uses_cos(x):
    y = np.sum(np.cos(x))
    return y, dlgradient(y, x)


def my_tanh(v):
    return v * 2.0


def refused(fn, spelled, line_offset=1):
    with pytest.raises(sct.CompileError) as info:
        dlfeval(fn, dlarray(X0 * 0.3))
    assert info.value.lineno == fn.__code__.co_firstlineno + line_offset
    assert spelled in str(info.value) and "replaced" in str(info.value)
    assert "test_misc55_s55.py" in str(info.value)


def test_replaced_before_compiling_is_refused(monkeypatch):
    monkeypatch.setattr(np, "sin", np.cos)
    refused(uses_sin, "np.sin")
    monkeypatch.setattr(math, "sin", math.cos)
    refused(uses_math_sin, "math.sin")
    monkeypatch.setattr(numpy, "exp", np.expm1)
    refused(uses_numpy_exp, "numpy.exp")
    monkeypatch.setattr(np, "tanh", my_tanh)
    refused(uses_tanh, "np.tanh")


PLAIN = {uses_sin: lambda v: np.sum(np.sin(v)), uses_math_sin: lambda v: math.sin(v[0]) * np.sum(v),
         uses_numpy_exp: lambda v: np.sum(np.exp(v)), uses_tanh: lambda v: np.sum(np.tanh(v))}


def check_original(fn, x):
    y, g = dlfeval(fn, dlarray(x))
    assert float(D(y)) == pytest.approx(float(PLAIN[fn](x)), rel=1e-12)
    assert_close(D(g), numerical_gradient(PLAIN[fn], [x.copy()], 0), what=fn.__name__)


def test_replaced_after_compiling_is_not_served_from_the_cache(monkeypatch):
    x = X0 * 0.3
    for fn, module, name, other in [(uses_sin, np, "sin", np.cos), (uses_math_sin, math, "sin", math.cos),
                                    (uses_numpy_exp, numpy, "exp", np.expm1), (uses_tanh, np, "tanh", my_tanh)]:
        check_original(fn, x)                   # compiled and cached
        monkeypatch.setattr(module, name, other)
        refused(fn, name)                       # was: the cached code, the value of the new one, the old rule
        monkeypatch.undo()
        check_original(fn, x)                   # restored: the original's value and derivative again


def test_a_replaced_function_the_rules_call_is_refused(monkeypatch):
    # the rule of np.cos computes np.sin: replaced, the derivative of cos was -cos(x)
    monkeypatch.setattr(np, "sin", np.cos)
    with pytest.raises(sct.CompileError) as info:
        dlfeval(uses_cos, dlarray(X0))
    assert info.value.lineno == uses_cos.__code__.co_firstlineno
    assert "np.sin was replaced" in str(info.value)


def test_unreplaced_and_added_names_are_not_refused(monkeypatch):
    monkeypatch.setattr(np, "sin", np.sin, raising=True)          # the same function set again
    monkeypatch.setattr(np, "my_helper_s55", my_tanh, raising=False)  # a name numpy has not
    y, g = dlfeval(uses_sin, dlarray(X0))
    assert_close(D(g), np.cos(X0))
