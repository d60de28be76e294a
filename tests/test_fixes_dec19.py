"""Fixes (Dec 19), after merging the helper branches wt-w and wt-y.

1. A helper whose analysis read a builtin by name (``range`` in ``settle``'s loop, recorded by
   callee_effects to guard the helpers it reads) bound that name in the generated code's globals to
   the guard's "absent" marker: the entry's own ``for _ in range(n_while)`` (the adjoint of a while
   loop) then raised "'object' object is not callable" (progtest seed 23).
2. np.power's own rule (a list base read as an array) computed the exponent's log for a constant
   exponent in a transposed jvp: a FloatingPointError under ``np.errstate(invalid="raise")`` at z < 0.
3. ``sorted(p.keys())`` of a traced dict argument was refused by the array-method number guard.
"""
from __future__ import annotations

import numpy as np
import pytest

import sct
from gradcheck import D, numerical_gradient
from sct import dlarray, dlfeval, dlgradient


def settle(u):
    for i in range(4):
        u = u * 0.9 + 0.1 * np.sin(u)
        if np.sum(u) > 0.36:
            return u * 2.0
    return u


def shrink_then_settle(x):
    s = x * 1.0
    while np.sum(np.abs(s)) > 0.47:
        s = s * 0.7

    def inner(u):
        return u * s[1] + x * 0.1
    h = inner(s) * 0.5
    h = settle(h)
    return np.sum(h ** 2)


@pytest.mark.parametrize("x", [np.array([0.5, -0.3, 0.8]), np.array([0.05, 0.1, -0.02])])
def test_builtin_read_by_a_helper_is_not_shadowed(x):
    def g(x):
        y = shrink_then_settle(x)
        return y, dlgradient(y, x)
    y, gx = dlfeval(g, dlarray(x))
    assert float(D(y)) == pytest.approx(shrink_then_settle(x), rel=1e-12)
    np.testing.assert_allclose(D(gx), numerical_gradient(shrink_then_settle, [x], 0), rtol=1e-6, atol=1e-9)


def power_of_constant(z):
    k = 3.0
    return np.sum(np.power(z, k - 1.0)) + np.sum(np.float_power(z, k))


@pytest.mark.parametrize("mode", ["forward", "transpose"])
def test_np_power_constant_exponent_jvp_at_negative_base(mode):
    z, v = np.array([-0.5, -1.2, -2.0]), np.array([1.0, -0.5, 2.0])
    with np.errstate(all="raise"):
        y, jv = sct.jvp(power_of_constant, (z,), (v,), mode=mode)
    assert float(D(y)) == pytest.approx(power_of_constant(z), rel=1e-12)
    assert float(D(jv)) == pytest.approx(float(np.sum((2 * z + 3 * z ** 2) * v)), rel=1e-12)


def sorted_keys(p):
    total = 0.0
    for k in sorted(p.keys(), reverse=True):
        total = total + np.sum(p[k] ** 2) * (1.0 if k == "a" else 2.0)
    return total


def test_sorted_keys_of_a_traced_dict():
    p = {"a": np.array([0.3, -1.0]), "b": np.array([2.0])}

    def g(p):
        y = sorted_keys(p)
        return y, dlgradient(y, p)
    y, gp = dlfeval(g, {k: dlarray(v) for k, v in p.items()})
    assert float(D(y)) == pytest.approx(sorted_keys(p), rel=1e-12)
    np.testing.assert_allclose(D(gp["a"]), 2 * p["a"], rtol=1e-12)
    np.testing.assert_allclose(D(gp["b"]), 4 * p["b"], rtol=1e-12)


# --- 4. an object's plain fields read both by its methods and directly ----------------------------

class Scaled:
    def __init__(self, W, s):
        self.W = W
        self.s = s

    def __call__(self, x):
        return self.s * np.sum(self.W * x)

    def scaled(self, x):
        return self.s * x


def _read_both_ways(m, x):
    return m(x) + m.s * 2.0 + np.sum(m.W)


def _through_a_method_and_a_name(m, x):
    s = m.s
    return np.sum(m.scaled(x) * np.sum(m.W)) + s ** 2


@pytest.mark.parametrize("fun", [_read_both_ways, _through_a_method_and_a_name])
@pytest.mark.parametrize("fields", ["dlarrays", "plain W", "plain s"])
def test_object_fields_read_by_methods_and_directly(fun, fields):
    """Was: a field's derivative through the methods only (3 for 5, silently): read directly in the
    function a plain field was a constant, while the methods read it as a variable.  Now an object's
    arrays (dlarray or plain) are variables however they are read, and its Python number fields are
    settings, constants however they are read (zero gradient)."""
    x, W0, s0 = np.array([1.0, 1.0]), np.array([1.0, 2.0]), 1.5
    W = W0.copy() if fields == "plain W" else dlarray(W0)
    s = s0 if fields == "plain s" else dlarray(np.array(s0))
    if fields == "plain W":
        s = dlarray(np.array(s0))      # (the object holds a dlarray: it is traced)
    m = Scaled(W, s)

    def g(m, x):
        y = fun(m, x)
        return y, dlgradient(y, m)
    y, gm = dlfeval(g, m, x)

    def at_s(s):
        return fun(Scaled(W0, float(s)), x)

    def at_W(W):
        return fun(Scaled(W, s0), x)
    assert float(D(y)) == pytest.approx(at_s(s0), rel=1e-12)
    np.testing.assert_allclose(D(gm.W), numerical_gradient(at_W, [W0], 0), rtol=1e-6)
    if fields == "plain s":
        assert float(D(gm.s)) == 0.0
    else:
        np.testing.assert_allclose(D(gm.s), numerical_gradient(at_s, [np.array(s0)], 0), rtol=1e-6)


def _helper_reads(p):
    return np.sum(p.w * p.s) + np.sum(p.v * p.w)


def test_record_object_fields_read_by_a_helper_and_directly():
    class P:
        def __init__(self):
            self.w = dlarray(np.array([1.0, 2.0]))
            self.v = np.array([0.5, -1.0])
            self.s = 5.0

    def f(p):
        loss = _helper_reads(p) + p.s * 2 + np.sum(p.v ** 2)
        return loss, dlgradient(loss, p)
    _, g = dlfeval(f, P())
    np.testing.assert_allclose(D(g.w), [5.5, 4.0])
    np.testing.assert_allclose(D(g.v), [1.0 + 1.0, 2.0 - 2.0])   # w + 2 v: both reads (was: w only)
    assert float(D(g.s)) == 0.0                                  # a setting (was: 3, the helper's part)


class _Rec:
    def __init__(self):
        self.w = dlarray(np.array([1.0, 2.0]))
        self.s = 5.0
        self.v = np.array([0.5, -1.0])


def _rec_helper(p):
    return np.sum(p.w * p.s) + np.sum(p.w * p.v)


def _dict_helper(p):
    return np.sum(p["w"] * p["s"]) + np.sum(p["w"] * p["v"])


def _wrt_object_s(p):
    y = _rec_helper(p) + p.s * 2
    return dlgradient(y, p.s)


def _wrt_object_v(p):
    y = _rec_helper(p) + np.sum(p.v ** 2)
    return dlgradient(y, p.v)


def _wrt_dict_s(p):
    y = _dict_helper(p) + p["s"] * 2
    return dlgradient(y, p["s"])


def _wrt_dict_v(p):
    y = _dict_helper(p) + np.sum(p["v"] ** 2)
    return dlgradient(y, p["v"])


@pytest.mark.parametrize("fun, expected", [
    (_wrt_object_s, 0.0),           # an object's Python number: a setting (was 3, the helper's part)
    (_wrt_object_v, [2.0, 0.0]),    # an object's plain array: a variable, w + 2 v (both reads)
    (_wrt_dict_s, 0.0),             # a dict's plain leaves are constants (was 3)
    (_wrt_dict_v, [0.0, 0.0]),      # (was [1, 2], the helper's part)
])
def test_gradient_with_respect_to_one_plain_leaf_read_by_a_helper_and_directly(fun, expected):
    arg = _Rec() if "object" in fun.__name__ else \
        {"w": dlarray(np.array([1.0, 2.0])), "s": 5.0, "v": np.array([0.5, -1.0])}
    np.testing.assert_allclose(D(dlfeval(fun, arg)), expected)


# --- 5. np.diff's prepend and append are differentiated ---------------------------------------------

def _diff_prepend_first(x):
    return np.sum(np.diff(x, prepend=x[0]) ** 2)


def _diff_both_ends(x):
    return np.sum(np.diff(x, n=2, append=x[-1] * 2.0, prepend=0.0) ** 2)


def _diff_rows(X):
    return np.sum(np.diff(X, axis=0, prepend=X[:1] * 3.0) ** 3)


@pytest.mark.parametrize("fun, shape", [(_diff_prepend_first, (5,)), (_diff_both_ends, (6,)), (_diff_rows, (4, 3))])
def test_np_diff_with_traced_prepend_and_append(fun, shape):
    """Was refused ('np.diff: the argument prepend depends on the traced inputs, but sct has no
    derivative ...'); random programs write ``np.diff(x, prepend=x[0])``."""
    x = np.random.default_rng(3).standard_normal(shape)

    def g(x):
        y = fun(x)
        return y, dlgradient(y, x)
    y, gx = dlfeval(g, dlarray(x))
    assert float(D(y)) == pytest.approx(fun(x), rel=1e-12)
    np.testing.assert_allclose(D(gx), numerical_gradient(fun, [x], 0), rtol=1e-6, atol=1e-8)
    v = np.ones(shape)
    _, jv = sct.jvp(fun, (x,), (v,))
    assert float(D(jv)) == pytest.approx(float(np.sum(numerical_gradient(fun, [x], 0) * v)), rel=1e-6)


# --- 6. np.fromiter is read as the loop it is ------------------------------------------------------

def _fromiter_squares(x):
    v = np.fromiter((x[i] ** 2 for i in range(x.shape[0])), float)
    return np.sum(v * np.arange(3.0))


def _fromiter_counted(x):
    v = np.fromiter((np.sin(t) for t in x), dtype=np.float64, count=2)
    return np.sum(v ** 3)


@pytest.mark.parametrize("fun", [_fromiter_squares, _fromiter_counted])
def test_np_fromiter_of_traced_values(fun):
    """Was refused ('no derivative rule for np.fromiter'); random programs build arrays with it."""
    x = np.array([0.3, -0.7, 1.2])

    def g(x):
        y = fun(x)
        return y, dlgradient(y, x)
    y, gx = dlfeval(g, dlarray(x))
    assert float(D(y)) == fun(x)
    np.testing.assert_allclose(D(gx), numerical_gradient(fun, [x], 0), rtol=1e-6, atol=1e-9)


def test_np_fromiter_too_short_raises_numpys_error():
    def f(x):
        v = np.fromiter((t for t in x), float, count=5)
        return np.sum(v)

    def g(x):
        y = f(x)
        return y, dlgradient(y, x)
    with pytest.raises(sct.EvaluationError, match="iterator too short"):
        dlfeval(g, dlarray(np.array([1.0, 2.0])))
