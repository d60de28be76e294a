"""0-d values (0-d dlarrays, numpy scalars from np.dot / np.sum, float32 kept) through ops given
axis=0 / axis=-1, np.convolve and np.divide(..., where=): numpy computes them, sct's value or
gradient code raised (fuzz50 report F2-F5)."""
from __future__ import annotations

import warnings

import numpy as np
import pytest

from sct import dlarray, dlfeval, dlgradient, extractdata

try:
    from tests.gradcheck import check_grads, check_second_order, numerical_gradient
except ImportError:                      # run as plain `pytest` from inside tests/
    from gradcheck import check_grads, check_second_order, numerical_gradient


# v -> an op numpy computes at a 0-d v (numpy reads a 0-d array along axis 0 or -1 as its one item)
OPS = {
    "cumsum0": lambda v: np.cumsum(v, axis=0),
    "cumprod0": lambda v: np.cumprod(v, axis=0),
    "cumprod-1": lambda v: np.cumprod(v * 2.0, axis=-1),
    "prod0": lambda v: np.prod(v * 2.0, axis=0),
    "prod-1k": lambda v: np.prod(v, axis=-1, keepdims=True),
    "nanprod0": lambda v: np.nanprod(v, axis=0),
    "max0": lambda v: np.max(v, axis=0),
    "ptp0": lambda v: np.ptp(v, axis=0) + v,
    "repeat0": lambda v: np.repeat(v, 2, axis=0),
    "repeat-1": lambda v: np.repeat(v, [3], axis=-1),
    "take0": lambda v: np.take(v, [0, 0], axis=0),
    "take_wrap": lambda v: np.take(v, [1, -2], axis=-1, mode="wrap"),
    "maximum.reduce0": lambda v: np.maximum.reduce(v * 2.0, axis=0),
    "maximum.reduce_keep": lambda v: np.maximum.reduce(v, axis=-1, keepdims=True),
    "logaddexp.reduce0": lambda v: np.logaddexp.reduce(v, axis=0),
    "hypot.reduce0": lambda v: np.hypot.reduce(v, axis=0),
    "fmax.reduce0": lambda v: np.fmax.reduce(v, axis=0),
    "multiply.reduce0": lambda v: np.multiply.reduce(v, axis=0),
    "convolve_v": lambda v: np.convolve(np.array([1.0, -2.0, 0.5]), v),
    "convolve_a": lambda v: np.convolve(v, np.array([1.0, -2.0, 0.5]), mode="same"),
    "convolve_vv": lambda v: np.convolve(v, v * 3.0),
}

# how the 0-d value is made from the argument a: a 0-d dlarray itself, or a numpy scalar
# (np.dot / np.inner of two (1,) vectors, np.sum of one)
MAKERS = {
    "0d": (np.array(0.7), lambda a: a * 1.0),
    "dot": (np.array([0.8]), lambda a: np.dot(a, a)),
    "inner": (np.array([0.8]), lambda a: np.inner(a, a)),
    "sum": (np.array([0.8]), lambda a: np.sum(a)),
}


def _objective(op, make):
    def L(a):
        return np.sum(np.sin(op(make(a))))
    return L


@pytest.mark.parametrize("maker", list(MAKERS))
@pytest.mark.parametrize("name", list(OPS))
def test_zero_dim_value_and_gradient(name, maker):
    # was: EvaluationErrors (AxisError, "axes don't match array" in np.dot's rule, IndexError,
    # ZeroDivisionError, "has no len()") where plain numpy computes the value
    x, make = MAKERS[maker]
    L = _objective(OPS[name], make)
    L.__name__ = f"{name}_{maker}"
    check_grads(L, x)


def _value_and_gradient(a, op, make):
    v = op(make(a))
    L = np.sum(np.sin(v))
    return v, L, dlgradient(L, a)


@pytest.mark.parametrize("maker", ["0d", "dot", "sum"])
@pytest.mark.parametrize("name", ["cumsum0", "cumprod0", "prod0", "max0", "repeat0", "take0",
                                  "maximum.reduce0", "maximum.reduce_keep", "logaddexp.reduce0",
                                  "hypot.reduce0", "convolve_v", "convolve_vv"])
def test_zero_dim_float32_and_shapes(name, maker):
    # the value's shape and dtype are numpy's (float32 stays float32: a 0-d keepdims result stays
    # 0-d), the gradient float32 and right
    x, make = MAKERS[maker]
    x = x.astype(np.float32)
    op = OPS[name]
    plain = op(make(x))
    v, _, g = dlfeval(_value_and_gradient, dlarray(x), op, make)
    v = np.asarray(extractdata(v) if isinstance(v, dlarray) else v)
    assert v.shape == np.shape(plain) and v.dtype == np.asarray(plain).dtype
    np.testing.assert_allclose(v, plain, rtol=1e-6)
    g = np.asarray(extractdata(g))
    assert g.dtype == np.float32 and g.shape == x.shape
    expected = numerical_gradient(_objective(op, make), [x.astype(np.float64)], 0)
    np.testing.assert_allclose(g, expected, rtol=1e-4, atol=1e-5)


def _cum_after_dot(a):
    v0 = np.dot(a, a)                       # a numpy float64 scalar
    v1 = np.cumsum(v0, axis=0)              # numpy: shape (1,)
    v2 = np.cumprod(np.inner(a, a), axis=0)
    return np.sum(v1) + np.sum(v2 * v2)


def test_fuzz50_F2_cumsum_after_dot():
    # was: "ValueError while computing the gradient of v0 = np.dot(a, a): axes don't match array"
    got = check_grads(_cum_after_dot, np.array([0.5, -1.0, 2.0]))
    np.testing.assert_allclose(got[0], 2 * np.array([0.5, -1.0, 2.0]) * (1 + 2 * 5.25), rtol=1e-12)


def _convolve_0d(a, b):
    v0 = np.sum(b * 2.0)
    v3 = np.convolve(a, v0)
    return np.sum(v3 ** 2)


def test_fuzz50_F3_convolve_with_0d():
    # was: "TypeError ... object of type 'numpy.float64' has no len()"
    got = check_grads(_convolve_0d, np.array([0.5, -1.0, 2.0]), np.array([0.3, 0.4]))
    np.testing.assert_allclose(got[0], [1.96, -3.92, 7.84], rtol=1e-12)
    np.testing.assert_allclose(got[1], [29.4, 29.4], rtol=1e-12)


# --- F5: the README's safe-divide idiom on a 0-d value ---------------------------------------------

def _safe_divide(a):
    z = a - 1.5
    v = np.divide(np.sin(z), z, out=np.ones_like(z), where=z != 0)
    return np.sum(np.tanh(v))


def _safe_divide_scalar(a):
    z = np.sum(a) - 1.5                     # a numpy scalar
    v = np.divide(np.sin(z), z, out=np.ones_like(z), where=z != 0)
    return np.sum(np.tanh(v)) * a


@pytest.mark.parametrize("x", [1.5, 1.9])
def test_fuzz50_F5_divide_where_0d(x):
    # was: "the gradient ... is NaN at some entries" at z = 0 (the right gradient is 0: the program
    # reads out's 1 there), and numpy's "invalid value encountered in divide" warnings
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        got = check_grads(_safe_divide, np.array(x))
        check_grads(_safe_divide, np.array([x, 0.3]))
        check_grads(lambda a: np.sum(_safe_divide_scalar(a)), np.array([x]))
        check_second_order(_safe_divide, np.array(x))
    if x == 1.5:
        assert got[0] == 0.0


@pytest.mark.parametrize("x", [1.5, 1.9])
def test_fuzz50_F5_divide_where_0d_float32(x):
    def f(a):
        L = _safe_divide(a)
        return L, dlgradient(L, a)
    a = np.array(x, dtype=np.float32)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        L, g = dlfeval(f, dlarray(a))
        plain = _safe_divide(a)
    L = np.asarray(extractdata(L))
    g = np.asarray(extractdata(g))
    assert L.dtype == np.asarray(plain).dtype == np.float32 and L == plain
    assert g.dtype == np.float32 and g.shape == ()
    np.testing.assert_allclose(g, numerical_gradient(_safe_divide, [np.array(x)], 0), rtol=1e-4, atol=1e-6)


@pytest.mark.parametrize("acc", [np.maximum.accumulate, np.add.accumulate, np.multiply.accumulate])
def test_accumulate_of_0d_raises_as_numpy(acc):
    # numpy: "cannot accumulate on a scalar" (was: np.add/np.multiply.accumulate read as np.cumsum /
    # np.cumprod gave a (1,) array, a value where the program raises)
    def f(a):
        v = acc(a * 2.0)
        return np.sum(v), dlgradient(np.sum(v), a)
    with pytest.raises(TypeError, match="cannot accumulate on a scalar"):
        acc(np.array(1.4))
    with pytest.raises(Exception, match="cannot accumulate on a scalar"):
        dlfeval(f, dlarray(np.array(0.7)))
    with pytest.raises(Exception, match="cannot accumulate on a scalar"):
        dlfeval(lambda a: acc(np.dot(a, a)), dlarray(np.array([0.7])))


def _cum_take_convolve(a):
    return (np.sum(np.cumprod(np.dot(a, a), axis=0)) + np.sum(np.take(np.sum(a), [0, 0], axis=0))
            + np.sum(np.convolve(a, np.sum(a))) + np.maximum.reduce(np.sum(a) * 2.0, axis=0)
            + np.prod(np.sum(a), axis=0) + np.sum(np.repeat(np.sum(a), 2, axis=0)))


def test_zero_dim_forward_mode():
    # the same 0-d cases through sct.jvp (the tangent against a central difference)
    from sct import jvp   # noqa: F401  (check_tangent uses it)
    try:
        from tests.gradcheck import check_tangent
    except ImportError:
        from gradcheck import check_tangent
    check_tangent(_safe_divide, np.array(1.5), np.array(1.0))
    check_tangent(_safe_divide, np.array(1.9), np.array(1.0))
    check_tangent(_cum_take_convolve, np.array([0.5, -1.0]), np.array([1.0, 0.3]))
    check_grads(_cum_take_convolve, np.array([0.5, -1.0]))
