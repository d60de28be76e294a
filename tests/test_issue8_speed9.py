"""Issue 8, per-call overhead (speed9): a whole-array sum's adjoint (rt.reduction_broadcast with a
0-d seed) made as the zero-stride view np.broadcast_to makes, without np.broadcast_to's cost; the
seed one's view kept per shape and type.

The view: the same shape, dtype, strides and items as np.broadcast_to's, read-only, and one that
cannot be made writeable where it is shared.  Programs through it: values against plain numpy,
gradients against central differences (tests/gradcheck.py), second derivatives (nested dlgradient)
against the closed form, float32 kept.
"""
import numpy as np
import pytest

from sct import dlarray, dlfeval, dlgradient
from sct.runtime import numpy_ops

from gradcheck import assert_close, check_grads


GRADS = [np.float64(1.0), np.float64(2.5), np.float64(-0.0), np.float64("nan"), np.float64("inf"),
         np.float32(1.0), np.float32(-3.5), np.complex128(1 + 2j), np.int8(5), np.bool_(True),
         np.array(3.0), np.array(1.0, np.float32), np.array(7, np.int64)]
SHAPES = [(3000,), (3, 4), (), (0,), (2, 3, 5)]


@pytest.mark.parametrize("grad", GRADS, ids=lambda g: f"{type(g).__name__}-{g}")
@pytest.mark.parametrize("shape", SHAPES, ids=str)
@pytest.mark.parametrize("keepdims", [False, True])
def test_view_is_broadcast_to(grad, shape, keepdims):
    a = np.ones(shape)
    got = numpy_ops.reduction_broadcast(grad, a, None, keepdims)
    want = np.broadcast_to(grad, shape)
    assert type(got) is np.ndarray
    assert got.shape == want.shape and got.dtype == want.dtype and got.strides == want.strides
    assert got.tobytes() == want.tobytes()          # the same bits (signed zero, NaN)
    assert not got.flags.writeable


def test_seed_view_shared_and_locked():
    a = np.ones(5000)
    first = numpy_ops.reduction_broadcast(np.float64(1.0), a, None, False)
    second = numpy_ops.reduction_broadcast(np.float64(1.0), a, None, False)
    assert first is second                         # kept per shape and type
    with pytest.raises(ValueError):
        first.flags.writeable = True               # nothing can write into the shared view
    with pytest.raises(ValueError):
        first[0] = 2.0
    assert np.all(second == 1.0)


def test_writeable_zero_d_grad_is_viewed_like_broadcast_to():
    g = np.array(2.0)
    got = numpy_ops.reduction_broadcast(g, np.ones(4), None, False)
    assert np.shares_memory(got, g) and not got.flags.writeable
    assert np.array_equal(got, np.broadcast_to(g, (4,)))


def test_other_axes_unchanged():
    g = np.arange(3.0)
    a = np.ones((3, 4))
    got = numpy_ops.reduction_broadcast(g, a, 1, False)
    assert np.array_equal(got, np.broadcast_to(g[:, None], (3, 4)))


# --- programs ----------------------------------------------------------------------------------

def chain(x):
    return np.sum(np.sin(x) * np.exp(-x**2) + np.log1p(x**2))


def rosen(x):
    return np.sum(100 * (x[1:] - x[:-1]**2)**2 + (1 - x[:-1])**2)


def rosen_hvp_nested(x, v):
    y = rosen(x)
    g = dlgradient(y, x, EnableHigherDerivatives=True)
    return dlgradient(np.sum(g * v), x)


def rosen_hvp(x, v):
    u, vu = x[:-1], v[:-1]
    a = x[1:] - u * u
    da = v[1:] - 2 * u * vu
    hv = np.empty_like(x)
    hv[:-1] = -400 * (da * u + a * vu) + 2 * vu
    hv[-1] = 0
    hv[1:] += 200 * da
    return hv


@pytest.mark.parametrize("n", [7, 3000])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_chain_value_and_gradient(n, dtype):
    x = np.random.default_rng(1).standard_normal(n).astype(dtype)

    def fun(x):
        y = chain(x)
        return y, dlgradient(y, x)

    y, g = dlfeval(fun, dlarray(x))
    assert np.asarray(y.data) == chain(x)
    assert np.asarray(g.data).dtype == dtype
    if dtype is np.float64:
        check_grads(chain, x[:40])


@pytest.mark.parametrize("n", [9, 3000])
def test_nested_hvp_against_closed_form(n):
    rng = np.random.default_rng(2)
    x, v = rng.standard_normal(n), rng.standard_normal(n)
    for _ in range(3):                                  # the kept seed view, reused
        hv = dlfeval(rosen_hvp_nested, dlarray(x), dlarray(v))
        assert_close(np.asarray(hv.data), rosen_hvp(x, v), rtol=1e-10, atol=1e-9)


# --- rt.type_only: the small case first, proxies and totals kept -----------------------------------

from sct.runtime import support  # noqa: E402

_OPS = [("add", 2.0), ("sub", 3), ("mul", np.float32(2)), ("div", 4.0), ("pow", 2), ("neg", None), ("pos", None),
        ("sum", None), ("mean", None)]


@pytest.mark.parametrize("op,b", _OPS, ids=[o for o, _ in _OPS])
@pytest.mark.parametrize("n", [5, 3000])
@pytest.mark.parametrize("dtype", [np.float64, np.float32, np.int64])
def test_type_only_matches_the_op(op, b, n, dtype):
    a = np.arange(1, n + 1).astype(dtype)
    want = support._TYPE_OPS[op](a) if b is None else support._TYPE_OPS[op](a, b)
    for _ in range(2):                      # the second call reads what the first kept
        got = support.type_only(op, a) if b is None else support.type_only(op, a, b)
        assert np.result_type(got) == np.result_type(want) and np.shape(got) == np.shape(want)
        if n < support.SHAPE_PROXY_SIZE:
            assert np.array_equal(got, want)    # small: the op itself
        elif np.ndim(got):
            assert not got.flags.writeable and not any(got.strides)
    if b is not None:                      # the number on the left, the array on the right
        with np.errstate(all="ignore"):
            want = support._TYPE_OPS[op](b, a)
        with np.errstate(all="ignore"):
            got = support.type_only(op, b, a)
        assert np.result_type(got) == np.result_type(want) and np.shape(got) == np.shape(want)


def test_type_only_broadcast_shape_and_mismatch():
    a, b = np.ones((3000, 1)), np.ones((1, 4), np.float32)
    got = support.type_only("mul", a, b)
    assert got.shape == (3000, 4) and got.dtype == np.float64
    with pytest.raises(ValueError):
        support.type_only("add", np.ones(3000), np.ones(2999))
    assert support.type_only("add", np.ones(3000), np.ones(3000)) is support.shape_proxy(np.ones(3000))


# --- optimize.reuse_temporaries: an operand computed inline written into -----------------------------

import warnings  # noqa: E402

import sct  # noqa: E402


def nested(x, w):
    return np.sum(np.log1p(x**2) * w + (x - 1.0) * (2.0 * x) / (1 + w**2) - (3.0 * x) * (x * w))


def nested_grad(x, w):
    y = nested(x, w)
    return y, dlgradient(y, x, w)


def broadcast_inline(a, b):
    return np.sum(a * (b + 1.0) - (a * 2.0) / (b * b + 1.0))


def broadcast_inline_grad(a, b):
    y = broadcast_inline(a, b)
    return y, dlgradient(y, a, b)


def hess_nested(x, v):
    y = nested(x, x * 0.5)
    g = dlgradient(y, x, EnableHigherDerivatives=True)
    return dlgradient(np.sum(g * v), x)


def _flat(out):
    if isinstance(out, (tuple, list)):
        return [a for o in out for a in _flat(o)]
    return [np.asarray(out.data)]


def _run(fun, *arrays):
    return _flat(dlfeval(fun, *[dlarray(a) for a in arrays]))


def _unoptimised(monkeypatch, fun, *arrays):
    monkeypatch.setenv("SCT_OPTIMIZE", "0")
    sct.clear_cache()
    try:
        return _run(fun, *arrays)
    finally:
        monkeypatch.setenv("SCT_OPTIMIZE", "1")
        sct.clear_cache()


def _bits_equal(a, b):
    a, b = np.asarray(a), np.asarray(b)
    assert a.dtype == b.dtype and a.shape == b.shape
    nan = np.isnan(a)
    np.testing.assert_array_equal(nan, np.isnan(b))
    assert np.where(nan, 0, a).tobytes() == np.where(nan, 0, b).tobytes()


def test_inline_operands_written_into():
    text = str(sct.source(chain_grad9, dlarray(np.ones(3000)), callees=True))
    assert "rt.into_temporary('div', " in text and ", (1 + " in text
    text = str(sct.source(nested_grad, dlarray(np.ones(3000)), dlarray(np.ones(3000)), callees=True))
    assert text.count("rt.into_temporary(") >= 3


def chain_grad9(x):
    y = chain(x)
    return y, dlgradient(y, x)


EDGE = [np.inf, -np.inf, np.nan, 0.0, -0.0, 1e308, -1e308, 1.5e154, 5e-324, -5e-324, 1e-310, 1.0, -1.0]


@pytest.mark.parametrize("n", [50, 3000])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("edges", [False, True])
def test_inline_same_bits_as_unoptimised(monkeypatch, n, dtype, edges):
    rng = np.random.default_rng(5)
    x, w = (rng.standard_normal(n) * 3).astype(dtype), rng.standard_normal(n).astype(dtype)
    if edges:
        x[:len(EDGE)] = EDGE
        w[-len(EDGE):] = EDGE
    for fun, args in ((chain_grad9, (x,)), (nested_grad, (x, w))):
        with warnings.catch_warnings(record=True) as w1, np.errstate(all="ignore"):
            warnings.simplefilter("always")
            got = _run(fun, *args)
        with warnings.catch_warnings(record=True) as w0, np.errstate(all="ignore"):
            warnings.simplefilter("always")
            want = _unoptimised(monkeypatch, fun, *args)
        assert [str(m.message) for m in w1] == [str(m.message) for m in w0]
        for a, b in zip(got, want):
            _bits_equal(a, b)
        assert all(np.asarray(a).dtype == dtype for a in got)


def test_inline_values_and_central_differences():
    rng = np.random.default_rng(6)
    x, w = rng.standard_normal(3000), rng.standard_normal(3000)
    y, gx, gw = _run(nested_grad, x, w)
    assert_close(y, nested(x, w), rtol=1e-12, atol=1e-12)
    check_grads(nested, x[:30], w[:30])


@pytest.mark.parametrize("shapes", [((3000, 4), (3000, 1)), ((3000, 4), (4,)), ((3000,), ())])
def test_inline_broadcast_operands(monkeypatch, shapes):
    rng = np.random.default_rng(7)
    a, b = rng.standard_normal(shapes[0]), np.asarray(rng.standard_normal(shapes[1]))
    got = _run(broadcast_inline_grad, a, b)
    want = _unoptimised(monkeypatch, broadcast_inline_grad, a, b)
    for u, v in zip(got, want):         # (sums over broadcast axes are contracted: the same up to rounding)
        assert u.dtype == v.dtype and u.shape == v.shape
        assert_close(u, v, rtol=1e-12, atol=1e-10)
    assert_close(got[0], broadcast_inline(a, b), rtol=1e-12, atol=1e-9)
    check_grads(broadcast_inline, a[:20], b[:20] if b.ndim and b.shape[0] == 3000 else b)


def test_inline_integer_operands_keep_their_types(monkeypatch):
    def fun(x, k):
        return np.sum(x * (k + 1) / (k * 2 + 1))

    def grad(x, k):
        y = fun(x, k)
        return y, dlgradient(y, x)

    x, k = np.linspace(-1, 1, 3000), np.arange(3000)
    got = dlfeval(grad, dlarray(x), k)
    assert_close(np.asarray(got[0].data), fun(x, k), rtol=1e-12, atol=1e-12)
    assert_close(np.asarray(got[1].data), (k + 1) / (k * 2 + 1), rtol=1e-12, atol=0)


@pytest.mark.parametrize("n", [40, 3000])
def test_inline_second_derivatives(n):
    rng = np.random.default_rng(8)
    x, v = rng.standard_normal(n), rng.standard_normal(n)
    hv = np.asarray(dlfeval(hess_nested, dlarray(x), dlarray(v)).data)

    def directional(xx):       # <grad f(x), v> through central differences of f along each axis
        return float(np.sum(np.asarray(dlfeval(
            lambda_free_grad, dlarray(xx)).data) * v))
    k = min(n, 6)
    for i in range(k):
        e = np.zeros(n)
        e[i] = 1e-5
        fd = (directional(x + e) - directional(x - e)) / 2e-5
        assert abs(hv[i] - fd) <= 1e-4 * max(1.0, abs(fd))


def lambda_free_grad(x):
    y = nested(x, x * 0.5)
    return dlgradient(y, x)


@pytest.mark.parametrize("n", [0, 1, 7, 3000])
@pytest.mark.parametrize("k", [2, -3.5, 1e308])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_unit_scaled_small_and_large_same_bits(n, k, dtype):
    rng = np.random.default_rng(9)
    shape = () if n == 1 else (n,)
    g, a = (rng.standard_normal(shape) * 1e3).astype(dtype), rng.standard_normal(shape).astype(dtype)
    with np.errstate(all="ignore"):
        got = support.unit_scaled(np.asarray(g), np.asarray(a), np.asarray(a), k)
        want = support.unbroadcast_product(np.asarray(g), np.asarray(a), np.asarray(a)) * k
    assert np.asarray(got).dtype == np.asarray(want).dtype and np.shape(got) == np.shape(want)
    assert np.asarray(got).tobytes() == np.asarray(want).tobytes()
