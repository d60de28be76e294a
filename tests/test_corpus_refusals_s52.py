"""False refusals from the corpus red team (session 52, /work/corp52): each program was refused before its
fix; now its value is plain numpy's, its gradient (reverse, jvp, hvp, second order) the central differences
of the plain program, float32 kept; nearby programs that must stay refused are refused, naming the line."""
import numpy as np
import pytest

import sct
from sct import dlarray, dlfeval, dlgradient, extractdata
from sct.errors import SctError

RNG = np.random.default_rng(52)


def D(v):
    return np.asarray(extractdata(v)) if isinstance(v, dlarray) else np.asarray(v)


def _line(fn, k):
    return fn.__code__.co_firstlineno + k


def fd(f, p, h=1e-6):
    p = np.array(p, dtype=np.float64)
    g = np.zeros_like(p)
    for j in range(p.size):
        a = p.copy()
        a.flat[j] += h
        b = p.copy()
        b.flat[j] -= h
        g.flat[j] = (f(a) - f(b)) / (2 * h)
    return g


def exact(loss, p, *data, dtype=np.float64, second=True):
    """sct's value and gradient of loss(p, *data) against plain numpy and central differences (float64
    differences for float32 runs); jvp, hvp and the second-order gradient of L + |g|^2 too."""
    p = np.asarray(p, dtype=dtype)
    data = [np.asarray(d, dtype=dtype) if isinstance(d, np.ndarray) and d.dtype.kind == "f" else d for d in data]

    def drv(q, *ds):
        L = loss(q, *ds)
        return L, dlgradient(L, q)
    L, g = dlfeval(drv, dlarray(p.copy()), *data)
    plain = loss(p.copy(), *data)
    tol = 1e-7 if dtype == np.float64 else 2e-3
    np.testing.assert_allclose(D(L), plain, rtol=tol, atol=tol)
    assert D(L).dtype == np.asarray(plain).dtype
    data64 = [np.asarray(d, dtype=np.float64) if isinstance(d, np.ndarray) and d.dtype.kind == "f" else d
              for d in data]
    want = fd(lambda q: loss(q, *data64), p)
    np.testing.assert_allclose(D(g), want, rtol=tol * 10, atol=tol * 10)
    assert D(g).dtype == p.dtype
    if not second or dtype != np.float64:
        return D(g)
    v = RNG.standard_normal(p.shape)
    _, tangent = sct.jvp(lambda q: loss(q, *data), (dlarray(p.copy()),), (v,))
    np.testing.assert_allclose(D(tangent), np.sum(want * v), rtol=1e-6, atol=1e-6)

    def grad_of(q):
        return D(dlfeval(drv, dlarray(q), *data)[1])
    hv_fd = (grad_of(p + 1e-5 * v) - grad_of(p - 1e-5 * v)) / 2e-5
    hv = sct.hvp(lambda q: loss(q, *data), dlarray(p.copy()), v)
    np.testing.assert_allclose(D(hv), hv_fd, rtol=1e-5, atol=1e-5 * (1 + np.abs(hv_fd).max()))

    def so(q, *ds):
        L = loss(q, *ds)
        gg = dlgradient(L, q, EnableHigherDerivatives=True)
        R = L + np.sum(gg ** 2)
        return dlgradient(R, q)
    g2 = dlfeval(so, dlarray(p.copy()), *data)
    n = float(np.linalg.norm(want)) or 1.0     # (a unit step along the gradient: a step of 1e-5 * want is not
    hg = (grad_of(p + 1e-5 * want / n) - grad_of(p - 1e-5 * want / n)) / 2e-5 * n  # small where |want| is large)
    np.testing.assert_allclose(D(g2), want + 2 * hg, rtol=1e-5, atol=1e-5 * (1 + np.abs(want + 2 * hg).max()))
    return D(g)


def refused(loss, p, *data, match=None, k=1):
    def drv(q, *ds):
        L = loss(q, *ds)
        return L, dlgradient(L, q)
    with pytest.raises(SctError) as info:
        dlfeval(drv, dlarray(np.array(p, dtype=float)), *data)
    assert f"line {_line(loss, k)}:" in str(info.value) and __file__ in str(info.value)
    if match:
        assert match in str(info.value)
    return str(info.value)


# ---------------------------------------------------------------- FR4: np.put into an array the function made

def put_basic(p, d):
    h = np.zeros(4)
    np.put(h, [0, 2], p[:2])
    return np.sum(h * d)


def put_repeated_cycled(p, d):
    h = np.ones((2, 3)) * p[0]
    np.put(h, [5, 0, 5, -1, 1], p[1:3] ** 2)      # last write wins; v repeated; flat positions; -1 is 5
    return np.sum(np.sin(h) * d)


def put_wrap(p, d):
    h = np.tanh(d * p[0])
    np.put(h, np.array([7, -9, 2]), p, mode="wrap")
    return np.sum(h ** 2 * d)


def put_clip(p, d):
    h = d * 1.0
    np.put(h, [10, -3, 1], p[::-1] * p[0], "clip")
    return np.sum(h ** 3)


@pytest.mark.parametrize("loss", [put_basic, put_repeated_cycled, put_wrap, put_clip])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_np_put_into_own_array_runs(loss, dtype):
    p = RNG.standard_normal(3)
    d = RNG.standard_normal(4) if loss is put_basic else RNG.standard_normal((2, 3)) if loss is \
        put_repeated_cycled else RNG.standard_normal(4)
    exact(loss, p, d, dtype=dtype)


def put_shared(p, d):
    h = np.zeros(4)
    k = h
    np.put(h, [0, 2], p[:2])
    return np.sum(k * d)


def test_np_put_shared_array_still_exact_or_refused():
    p, d = RNG.standard_normal(3), RNG.standard_normal(4)
    try:
        exact(put_shared, p, d, second=False)
    except SctError as e:
        assert f"line {_line(put_shared, 3)}" in str(e)


# ---------------------------------------------------------------- FR5: missing data (NaN) in a nan* reduction

def nanmean_sq(p, d):
    return np.nanmean((p - d) ** 2)


def nansum_weighted(p, d):
    return np.sum(np.nansum(p * d, axis=0) ** 2) + np.nansum(np.exp(-p) * d / 3.0)


def nanmean_axis_keepdims(p, d):
    pred = np.tanh(p * 2.0)
    return np.sum(np.nanmean(np.abs(pred - d) * 1.5, axis=1, keepdims=True) ** 2)


def nanmax_min(p, d):
    return np.nanmax(p * d) - 2.0 * np.nanmin(-(p + d), axis=0).sum()


def nanvar_std(p, d):
    return np.nansum(np.nanvar(p - d, axis=1)) + np.nanstd(d * p) + np.nanprod(p / 2.0 + d * 0.1)


def nancumsum_prod(p, d):
    return np.sum(np.nancumsum(p * d, axis=1) ** 2) + np.sum(np.nancumprod(0.5 + 0.1 * p * d, axis=0))


def linear_model(p, X, y):
    pred = X @ p
    return np.nanmean((pred - y) ** 2)


def _nan_data(shape):
    d = RNG.standard_normal(shape)
    d.flat[[1, 4] if d.size > 4 else [1]] = np.nan
    return d


@pytest.mark.parametrize("loss", [nanmean_sq, nansum_weighted, nanmean_axis_keepdims, nanmax_min, nanvar_std,
                                  nancumsum_prod])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_nan_reduction_of_missing_data_runs(loss, dtype):
    shape = (3,) if loss is nanmean_sq else (3, 4)
    p = RNG.standard_normal(shape)
    d = _nan_data(shape)
    g = exact(loss, p, d, dtype=dtype)
    assert np.isfinite(g).all()


def test_nan_reduction_fr5_program_gradient():
    g = exact(nanmean_sq, np.array([0.3, -1.2, 0.7]), np.array([1.0, np.nan, 2.0]))
    np.testing.assert_allclose(g, [-0.7, 0.0, -1.3], atol=1e-12)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_nan_reduction_of_model_output_runs(dtype):
    X, p = RNG.standard_normal((6, 3)), RNG.standard_normal(3)
    y = RNG.standard_normal(6)
    y[[0, 3]] = np.nan
    exact(linear_model, p, X.astype(dtype), y, dtype=dtype)


def test_nan_reduction_nan_parameter_entry_gets_zero():
    # a parameter's own NaN entry: p + h is NaN there too, so central differences give 0, as
    # np.nanstd(p) of such a p gives (the rewrite must not turn it into a NaN or a refusal)
    for d in (np.array([1.0, 2.0, np.nan]), np.array([1.0, np.nan, 2.0])):
        g = exact(nanmean_sq, np.array([0.3, np.nan, 0.7]), d, second=False)
        assert g[1] == 0


def nan_sqrt_negative(p, d):
    return np.nanmax(np.sqrt(p - 1.5) * d)


def test_nan_reduction_of_nonfinite_filled_argument_still_refused():
    # the entry put back to NaN is NaN in the filled argument too (sqrt of a negative): its partial
    # there is NaN, the gradient NaN: refused, naming the reduction and the line
    refused(nan_sqrt_negative, np.array([1.0, -1.0, 2.0]), np.array([np.nan, 2.0, 3.0]), match="np.nanmax")


def nan_pow_zero(p, d):
    return np.nansum(p * d ** 0 + p)          # nan ** 0 is 1: d not filled (the entry counts)


def test_nan_reduction_value_of_non_propagating_power():
    p, d = RNG.standard_normal(3), np.array([1.0, np.nan, 2.0])
    exact(nan_pow_zero, p, d)


# ---------------------------------------------------------------- FR2: np.poly1d(c)(x) of traced coefficients

def poly1d_fit(p, x):
    return np.sum(np.poly1d(p)(x) ** 2)


def poly1d_both(p, d):
    return np.sum(np.sin(np.poly1d(p[:3] * 0.5)(p[3:] * d))) + np.poly1d(p[1:3])(2.0)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_poly1d_call_runs(dtype):
    g = exact(poly1d_fit, np.array([0.5, -1.0, 2.0]), np.linspace(-1, 1, 5), dtype=dtype)
    np.testing.assert_allclose(g, [12.125, -5.0, 22.5], rtol=1e-5)
    exact(poly1d_both, RNG.standard_normal(6), RNG.standard_normal(3), dtype=dtype)


def test_poly1d_leading_zero_coefficient():
    # numpy trims the leading 0; c + h keeps it: its derivative is x ** 2's sum (as np.polyval's)
    exact(poly1d_fit, np.array([0.0, -1.0, 2.0]), np.linspace(-1, 1, 5))


def poly1d_kept(p, x):
    P = np.poly1d(p)
    return np.sum(P(x) ** 2)


def test_poly1d_kept_as_object_points_at_polyval():
    message = refused(poly1d_kept, np.array([0.5, -1.0, 2.0]), np.linspace(-1, 1, 5))
    assert "np.polyval(c, x)" in message


# ---------------------------------------------------------------- FR7: in place through a transposed view

def center_through_T(p, d):
    h = p @ d
    t = h.T
    t -= t.mean(axis=0)
    return np.sum(h ** 2)


def scale_through_transpose(p, d):
    h = np.tanh(p @ d)
    t = h.transpose()
    t *= d[0][:, None]
    t[1] = p[0, 0] * 3.0
    return np.sum(np.sin(h) * 1.5) + np.sum(t ** 2)


def base_changed_view_read(p, d):
    h = p @ d
    t = h.T
    h *= 2.0
    h[0] = np.cos(h[1])
    return np.sum(t * np.arange(12.0).reshape(4, 3))


def swapaxes_3d(p, d):
    h = np.stack([p @ d, (p @ d) ** 2])
    s = h.swapaxes(0, 2)
    s += s.mean(axis=1, keepdims=True) * 0.5
    s[1] *= 2.0
    return np.sum(h ** 2) + np.sum(s[0])


@pytest.mark.parametrize("loss", [center_through_T, scale_through_transpose, base_changed_view_read,
                                  swapaxes_3d])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_in_place_through_transposed_view_runs(loss, dtype):
    exact(loss, RNG.standard_normal((3, 2)), RNG.standard_normal((2, 4)), dtype=dtype)


def reshape_view_write(p, d):
    h = p @ d
    r = h.reshape(-1)
    r[0] = 0.0
    return np.sum(h ** 2)


def transposed_argument_write(p, d):
    t = p.T
    t -= 1.0
    return np.sum(p ** 2)


def test_reshape_view_write_runs():
    # (s53: a reshape of a new C-contiguous array, numpy's view of it, is followed: tests/test_everyday_s53.py)
    exact(reshape_view_write, RNG.standard_normal((3, 2)), RNG.standard_normal((2, 4)))


@pytest.mark.parametrize("loss,k", [(transposed_argument_write, 2)])
def test_in_place_through_other_views_still_refused(loss, k):
    refused(loss, RNG.standard_normal((3, 2)), RNG.standard_normal((2, 4)), k=k)


def write_into_T_item(p, d):
    h = p @ d
    h.T[0] += p[0, 0] * 2.0
    h.swapaxes(0, 1)[1] *= p[1, 1]
    h.T[2] = np.tanh(p[:, 0])
    return np.sum(h ** 2)


def T_of_3d(p, d):
    h = np.stack([p @ d, np.sin(p @ d)], axis=-1)
    t = h.T
    t[1] -= t[0] * 0.5
    return np.sum(h ** 3)


@pytest.mark.parametrize("loss", [write_into_T_item, T_of_3d])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_write_into_transposed_item_runs(loss, dtype):
    exact(loss, RNG.standard_normal((3, 2)), RNG.standard_normal((2, 4)), dtype=dtype)


def poly1d_composed(p, x):
    q = np.poly1d(p)(np.poly1d([1.0, 2.0]))
    return np.sum(q.coeffs ** 2) + x


def test_poly1d_composition_refused_naming_the_line():
    refused(poly1d_composed, np.array([1.0, 2.0, 3.0]), 1.0, match="np.polyval")
