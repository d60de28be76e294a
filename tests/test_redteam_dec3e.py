"""Red team of the optimiser rewrites of Dec 2 (sct/optimize.py direct_matmul_adjoints,
fold_broadcast_factors' reduction_times, merge_zero_blocks + rt.unit_scaled; the maxpool adjoint from the
forward's maxima; adamupdate's steady-state path): each fast form gives the bits of the form it replaces,
and programs through them give SCT_OPTIMIZE=0's bits and central-difference gradients.  (No wrong value
was found; these pin what was probed.)"""
import warnings

import numpy as np
import pytest

import sct
from sct import adamupdate, cache, dlarray, dlfeval, dlgradient, extractdata, maxpool
from sct.runtime import dlfun, numpy_ops, support

from gradcheck import numerical_gradient

RNG = np.random.default_rng(20261202)


def _r(*shape):
    return RNG.standard_normal(shape)


def _np(v):
    return np.asarray(extractdata(v) if isinstance(v, sct.dlarray) else v)


def _flat(v):
    out = []
    for u in (v if isinstance(v, (tuple, list)) else [v]):
        out += _flat(u) if isinstance(u, (tuple, list)) else [_np(u)]
    return out


def _same_bits(a, b):
    return a.dtype == b.dtype and a.shape == b.shape and a.tobytes() == b.tobytes()


def _run(monkeypatch, fn, args, optimize):
    monkeypatch.setenv("SCT_OPTIMIZE", "1" if optimize else "0")
    cache.clear()
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            return _flat(dlfeval(fn, *[dlarray(a) if isinstance(a, np.ndarray) else a for a in args]))
    finally:
        cache.clear()


# --- runtime fast forms against their general forms --------------------------------------------------

def _mk(shape, kind):
    x = RNG.standard_normal(shape) * 3
    if kind == "c":
        return x + 1j * RNG.standard_normal(shape)
    return x.astype(kind)


@pytest.mark.parametrize("da", ["f8", "f4", "i8", "c", "?"])
@pytest.mark.parametrize("db", ["f8", "f4", "i8", "c"])
@pytest.mark.parametrize("dg", ["f8", "f4", "c"])
def test_matmul_adjoint_2d_is_the_general_form(da, db, dg):
    a, g = _mk((3, 4), da), _mk((3, 5), dg)
    for b in (_mk((4, 5), db), np.broadcast_to(_mk((1, 5), db), (4, 5)), _mk((5, 4), db).T):
        for fast, plain in ((numpy_ops.matmul_adjoint_2d_a, numpy_ops.matmul_adjoint_a),
                            (numpy_ops.matmul_adjoint_2d_b, numpy_ops.matmul_adjoint_b)):
            assert _same_bits(fast(g, a, b), plain(g, a, b))


@pytest.mark.parametrize("shape", [(3, 4, 5), (1, 4, 5), (3, 1, 5), (6, 7), (2, 1, 3, 1)])
@pytest.mark.parametrize("order", ["C", "F"])
def test_reduction_times_is_the_view_times_t(shape, order):
    a = _r(*shape)
    for axis in (None, 0, -1, 1, (0, -1)):
        for keepdims in (True, False):
            for gdtype in (np.float64, np.float32):
                s = np.sum(a, axis=axis, keepdims=keepdims)
                g = np.asarray(_r(*np.shape(s))).astype(gdtype)
                for t in (np.asarray(_r(*shape), order=order), np.asarray(_r(*shape), order=order).astype(np.float32),
                          _r(*shape[::-1]).T, np.asarray(_r(*shape)) + 1j):
                    view = numpy_ops.reduction_broadcast(g, a, axis, keepdims)
                    assert _same_bits(numpy_ops.reduction_times(g, a, axis, keepdims, t), view * t)
                    assert _same_bits(numpy_ops.reduction_times_like(g, a, axis, keepdims, t, a),
                                      support.unbroadcast_product(view, t, a))
                if g.ndim == 0:     # numpy scalars (strong in numpy's promotion, as the view is)
                    t = np.asarray(_r(*shape)).astype(np.float32)
                    assert _same_bits(numpy_ops.reduction_times(g[()], a, axis, keepdims, t),
                                      numpy_ops.reduction_broadcast(g[()], a, axis, keepdims) * t)


@pytest.mark.parametrize("dtype", [np.float64, np.float32, np.float16])
@pytest.mark.parametrize("k", [3, -2.0, 0.5, 0.1, 0, -0.0, 1e30, 2 ** 40])
def test_unit_scaled_is_the_plain_product(dtype, k):
    n = support.INTO_SIZE + 7
    for c in (1.0, -1.0, 2.0):
        a = np.broadcast_to(np.array([[c]], dtype=dtype), (n, 3))
        g = _r(n, 3).astype(dtype)
        g[0, 0], g[1, 0], g[2, 0] = -0.0, np.inf, 0.0
        with np.errstate(all="ignore"):
            got = support.unit_scaled(g, a, g, k)
            want = support.unbroadcast_product(g, a, g) * k
        assert _same_bits(got, want)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])     # (complex: refused, test_redteam_dec13e)
def test_adam_dlarray_steady_state_is_the_ndarray_path(dtype):
    for hyper in ({}, {"gradDecay": np.float32(0.8), "sqGradDecay": np.float32(0.99), "epsilon": np.float32(1e-6)}):
        p0 = _r(4, 5).astype(dtype)
        a, b, ma, va, mb, vb = dlarray(p0), p0.copy(), None, None, None, None
        for t in range(1, 5):
            g = _r(4, 5).astype(dtype)
            a, ma, va = adamupdate(a, dlarray(g), ma, va, t, 0.01, **hyper)
            b, mb, vb = adamupdate(b, g, mb, vb, t, 0.01, **hyper)
            for x, y in ((a, b), (ma, mb), (va, vb)):
                assert type(x) is dlarray and _same_bits(_np(x), y)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_maxpool_scatter_with_the_forward_maxima_ties_nan(dtype):
    x = np.round(_r(8, 8, 2, 3)).astype(dtype)
    x[0, 0, 0, 0] = np.nan
    x[2, 3, 1, 2] = np.inf
    geometry = dlfun.pool_geometry(x.shape, 2, 2, 0)
    top = dlfun.maxpool_select(x, x, geometry)
    g = _r(*top.shape).astype(dtype)
    assert _same_bits(dlfun.maxpool_scatter(g, x, geometry, top), dlfun.maxpool_scatter(g, x, geometry))


# --- user programs: SCT_OPTIMIZE=0's bits and central differences ------------------------------------

def mm_ranks(a, b):
    y = np.sum(np.sin(a @ b)) + np.sum(np.tanh(np.matmul(a, b)))
    return y, dlgradient(y, a, b)


def mm_second(a, b):
    y = np.sum(np.sin(a @ b))
    ga, gb = dlgradient(y, a, b, EnableHigherDerivatives=True)
    z = np.sum(ga ** 2) + np.sum(gb * gb)
    return z, dlgradient(z, a, b)


def sum_times(x, t):
    s = -np.sum(x * x, axis=-1, keepdims=True)
    m = np.mean(x, axis=0)
    y = np.sum(np.sin(s * t)) + np.sum(np.cos(m) * x[0])
    return y, dlgradient(y, x, t)


def pooled(x):
    p = maxpool(x, 2, Stride=2)
    q = p * 3.0 + 1.0
    y = np.sum(q * q) + np.sum(np.exp(maxpool(x * 0.5, 2, Stride=2) - 1.0))
    return y, dlgradient(y, x)


CASES = [
    (mm_ranks, lambda: [_r(3, 4), _r(4, 5)]),
    (mm_ranks, lambda: [_r(4), _r(4, 5)]),
    (mm_ranks, lambda: [_r(3, 4), _r(4)]),
    (mm_ranks, lambda: [_r(2, 3, 4), _r(1, 4, 5)]),
    (mm_ranks, lambda: [_r(4, 3).T, _r(5, 4).T]),
    (mm_second, lambda: [_r(3, 4), _r(4, 5)]),
    (mm_second, lambda: [_r(4), _r(4, 5)]),
    (mm_second, lambda: [_r(2, 3, 4), _r(4, 5)]),
    (sum_times, lambda: [_r(3, 4), _r(3, 4)]),
    (sum_times, lambda: [_r(3, 4), _r(1, 4)]),
    (pooled, lambda: [_r(4, 4, 2, 1)]),
]


@pytest.mark.parametrize("case", range(len(CASES)))
def test_programs_small_match_central_differences(monkeypatch, case):
    fn, make = CASES[case]
    args = make()
    got = _run(monkeypatch, fn, args, True)
    plain = _run(monkeypatch, fn, args, False)
    for a, b in zip(got, plain):    # (rounding only: rt.unbroadcast_product, an older contraction, sums
        np.testing.assert_allclose(a, b, rtol=1e-13, atol=1e-15)    # in einsum's order where t broadcasts)
    for k in range(len(args)):
        num = numerical_gradient(lambda *xs: float(_run(monkeypatch, fn, list(xs), False)[0]), args, k)
        np.testing.assert_allclose(got[1 + k], num, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_programs_large_match_unoptimised_bits(monkeypatch, dtype):
    # sizes above runtime INTO_SIZE, where the one-pass forms apply
    for fn, args in ((mm_ranks, [_r(60, 40), _r(40, 50)]), (mm_second, [_r(30, 40), _r(40, 50)]),
                     (sum_times, [_r(60, 40), _r(60, 40)]), (pooled, [_r(64, 64, 2, 1)])):
        args = [a.astype(dtype) for a in args]
        got, plain = _run(monkeypatch, fn, args, True), _run(monkeypatch, fn, args, False)
        if fn is sum_times:     # s * t with s (n, 1): d_s is rt.unbroadcast_product's einsum (rounding only)
            for a, b in zip(got, plain):
                # rounding of a sum: relative to the sum's scale (an element that cancels to a small value
                # keeps the absolute error of its terms)
                tol = 1e-12 if dtype == np.float64 else 1e-5
                np.testing.assert_allclose(a, b, rtol=tol, atol=tol * np.max(np.abs(b)))
        else:
            assert all(_same_bits(a, b) for a, b in zip(got, plain))


def hv_objective(x):
    z = np.zeros(x.shape)
    z[1:] = -x[:-1] ** 2
    z[0] = -np.sum(x) * 3.0
    s = -np.sum(x ** 3) / 2.0
    if s > 0:
        return -np.sum(z * x) + np.mean(x) ** 2 + s
    return -np.sum(z * x) + np.mean(-x) * 2 - s


def hv_linear(x):
    return -np.sum(x) * 2.0 + np.sum(-x[1:]) + 3.0


def hv_objective_grad(x):
    return dlgradient(hv_objective(x), x)


def hv_linear_grad(x):
    return dlgradient(hv_linear(x), x)


GRADS = {hv_objective: hv_objective_grad, hv_linear: hv_linear_grad}


@pytest.mark.parametrize("fn", [hv_objective, hv_linear])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_hvp_slice_written_objective(monkeypatch, fn, dtype):
    n = support.INTO_SIZE + 952
    x, v = _r(n).astype(dtype), _r(n).astype(dtype)

    def hv(optimize):
        monkeypatch.setenv("SCT_OPTIMIZE", "1" if optimize else "0")
        cache.clear()
        return _np(sct.hvp(fn, dlarray(x), dlarray(v)))
    got, plain = hv(True), hv(False)
    assert _same_bits(got, plain)
    if dtype == np.float64:
        def grad(z):
            monkeypatch.setenv("SCT_OPTIMIZE", "0")
            cache.clear()
            return _np(dlfeval(GRADS[fn], dlarray(z)))
        h = 1e-5
        num = (grad(x + h * v) - grad(x - h * v)) / (2 * h)
        np.testing.assert_allclose(got, num, rtol=1e-6, atol=1e-6 * (1 + np.max(np.abs(num))))
    if fn is hv_linear:
        assert not np.any(got)
