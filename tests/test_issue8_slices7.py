"""Issue 8 (cnn_slices, hvp_nested): products of array views and slice adjoints with fewer passes.

What changed, and what is checked here (every result bit for bit against the plain expression or
the same generated code with plain products, gradients against central differences):
- ``rt.broadcast_mul(a, b)`` (sct/optimize.py ``wide_products``: ``t = a * b`` where an operand is
  a view by basic slicing, ``X[:, i:j, k:m, :]`` or ``x[..., None]``): where one operand has a last
  axis of length 1 and the other is a short vector along it (a shifted slice of a one-channel image
  times a kernel tap's channel weights), the product runs over long rows (the first operand's items
  repeated, the vector tiled) instead of one inner loop per item; a full array times a vector
  repeated along rows (``wide_multiply``) likewise; anything else the plain product;
- ``tie_scaled`` (the relu/max adjoint) multiplies a mean's adjoint (a repeated vector) over long
  rows (``wide_multiply``);
- ``rt.index_added(ZERO, g, x, a:b)`` (the first slice of second-level code): ``0.0 + g`` written
  into the slice of one new buffer, zeros outside (was a zero buffer, a copy and a sum).
"""
import numpy as np
import pytest

import sct
from sct import dlarray, dlfeval, dlgradient, extractdata
from sct.runtime import numpy_ops, support
from sct.rt_namespace import RT

from gradcheck import assert_close, check_grads, numerical_gradient


# --- the bits -----------------------------------------------------------------------------------------

def _bits_equal(a, b):
    a, b = np.asarray(a), np.asarray(b)
    assert a.dtype == b.dtype and a.shape == b.shape, (a.dtype, b.dtype, a.shape, b.shape)
    if a.dtype.kind not in "fc":
        assert np.array_equal(a, b)
        return
    nan = np.isnan(a)
    assert np.array_equal(nan, np.isnan(b))
    assert np.array_equal(np.atleast_1d(a[~nan]).view(np.uint8), np.atleast_1d(b[~nan]).view(np.uint8))


def _special(a):
    """Signed zeros, infinities and NaNs among the items."""
    flat = a.reshape(-1)
    if flat.size > 10 and a.dtype.kind in "fc":
        flat[::7] = -0.0
        flat[3] = np.inf
        flat[5] = -np.inf
        flat[9] = np.nan
    return a


def _array(rng, shape, dtype):
    a = rng.standard_normal(shape)
    if np.dtype(dtype).kind == "c":
        a = a + 1j * rng.standard_normal(shape)
    return _special(np.asarray(a, dtype))


# --- broadcast_mul: the outer-product form and its preconditions ----------------------------------------

OUTER_CASES = [
    # (image shape, slice, kernel-vector shape): a slice with a trailing 1 times a short vector
    ((32, 28, 28, 1), (slice(None), slice(1, 27), slice(2, 28), slice(None)), (1, 16)),
    ((8, 40, 33, 1), (slice(None), slice(0, 38, 2), slice(1, 31), slice(None)), (16,)),     # strided slice
    ((4, 30, 30, 1), (slice(None), slice(None), slice(None), slice(None)), (1, 1, 1, 24)),  # contiguous
    ((6, 50, 64, 1), (slice(None), slice(3, 50), slice(None, None, -1), slice(None)), (8,)),  # reversed axis
    ((2000, 1), (slice(None), slice(None)), (64,)),          # x[:, None] * w: rows too short (1 x 64 < 128)
    ((40, 300, 1), (slice(None), slice(None), slice(None)), (2,)),
]


@pytest.mark.parametrize("dtype", [np.float64, np.float32, np.complex128])
@pytest.mark.parametrize("case", range(len(OUTER_CASES)))
@pytest.mark.parametrize("order", ["view_first", "vector_first"])
def test_broadcast_mul_outer_is_the_product(dtype, case, order):
    shape, index, kshape = OUTER_CASES[case]
    rng = np.random.default_rng(case)
    X = _array(rng, shape, dtype)
    k = _array(rng, kshape, dtype)
    view = X[index]
    a, b = (view, k) if order == "view_first" else (k, view)
    with np.errstate(all="ignore"):
        _bits_equal(support.broadcast_mul(a, b), a * b)


@pytest.mark.parametrize("a_shape, b_shape, a_dtype, b_dtype", [
    ((32, 26, 26, 1), (65,), np.float64, np.float64),            # vector too long: plain
    ((4, 6, 6, 1), (16,), np.float64, np.float64),                # too small: plain
    ((32, 26, 26, 1), (16,), np.float32, np.float64),            # two dtypes: plain (float64 result)
    ((32, 26, 26, 1), (16,), np.int64, np.int64),                # integers: plain
    ((32, 26, 26, 1), (26, 16), np.float64, np.float64),         # not a vector: plain (broadcasts)
    ((32, 26, 26, 1), (1,), np.float64, np.float64),             # nothing to widen
    ((3000, 1), (16,), np.float64, np.float64),                  # rows of 16: too short
    ((32, 26, 26, 16), (16,), np.float64, np.float64),           # no trailing 1: plain
])
def test_broadcast_mul_outside_its_preconditions(a_shape, b_shape, a_dtype, b_dtype):
    rng = np.random.default_rng(1)
    a = (rng.standard_normal(a_shape) * 10).astype(a_dtype)
    b = (rng.standard_normal(b_shape) * 10).astype(b_dtype)
    _bits_equal(support.broadcast_mul(a, b), a * b)
    _bits_equal(support.broadcast_mul(b, a), b * a)
    assert support.broadcast_mul(2.0, a).dtype == (2.0 * a).dtype
    _bits_equal(support.broadcast_mul(a[0, 0], 3), a[0, 0] * 3)


def test_broadcast_mul_warns_as_the_product():
    X = np.full((16, 30, 30, 1), 1e300)
    k = np.full(16, 1e10)
    with np.errstate(over="raise"):
        with pytest.raises(FloatingPointError):
            X * k
        with pytest.raises(FloatingPointError):
            support.broadcast_mul(X, k)


# --- wide_multiply: a full array times a vector repeated along rows ---------------------------------------

@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("small", ["broadcast_view", "none_index", "keepdims", "short"])
def test_wide_multiply_is_the_product(dtype, small):
    rng = np.random.default_rng(3)
    full = _array(rng, (32, 26, 26, 16), dtype)
    dP = _array(rng, (32, 16), dtype)
    view = {"broadcast_view": np.broadcast_to(dP[:, None, None, :], full.shape),
            "none_index": dP[:, None, None, :],
            "keepdims": dP.reshape(32, 1, 1, 16),
            "short": dP[0]}[small]
    with np.errstate(all="ignore"):
        for a, b in ((full, view), (view, full)):
            out = support.wide_multiply(a, b)
            assert out is not None
            _bits_equal(out, a * b)
            _bits_equal(support.broadcast_mul(a, b), a * b)
            mask = full > 0
            _bits_equal(support.wide_multiply(view, mask, np.dtype(np.float64)),
                        np.multiply(view, mask, dtype=np.float64))


def test_wide_multiply_outside_its_preconditions():
    rng = np.random.default_rng(4)
    full = rng.standard_normal((32, 26, 26, 16))
    dP = rng.standard_normal((32, 16))
    assert support.wide_multiply(full[:, ::2], dP[:, None, None, :]) is None          # not contiguous
    assert support.wide_multiply(full, rng.standard_normal((32, 1, 26, 16))) is None  # not repeated along rows
    per_row = rng.standard_normal((32, 26, 1, 16))                                    # repeated: the wide form
    _bits_equal(support.wide_multiply(full, per_row), full * per_row)
    assert support.wide_multiply(full, full) is None
    assert support.wide_multiply(full[..., :1], dP[:, None, None, :1]) is None        # a vector of one
    long = rng.standard_normal((32, 26, 4, 100))
    assert support.wide_multiply(long, rng.standard_normal(100)) is None              # a long last axis
    assert support.wide_multiply(full, 2.0) is None
    small = rng.standard_normal((2, 3, 4, 16))
    assert support.wide_multiply(small, small[:, :, :1, :]) is None                    # too small


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_tie_scaled_without_ties_is_the_masked_product(dtype):
    rng = np.random.default_rng(5)
    Z = rng.standard_normal((32, 26, 26, 16)).astype(dtype)
    dP = rng.standard_normal((32, 16)).astype(dtype)
    grad = numpy_ops.reduction_broadcast(dP / 676, Z, (1, 2), False)
    expected = np.multiply(grad, np.greater(Z, 0), dtype=np.result_type(grad, numpy_ops.weight_dtype(Z, 0)))
    _bits_equal(numpy_ops.tie_scaled(grad, Z, 0), expected)
    Z[0, 0, 0, :3] = 0.0                # ties: half the adjoint each way
    _bits_equal(numpy_ops.tie_scaled(grad, Z, 0), grad * numpy_ops.tie_weights(Z, 0))


# --- index_added with no contribution yet ----------------------------------------------------------------

@pytest.mark.parametrize("dtype", [np.float64, np.float32, np.complex128])
@pytest.mark.parametrize("idx", [slice(None, -1), slice(1, None), slice(2, 7), slice(0, 10), slice(0, 10, 2),
                                 slice(5, 5), slice(-3, None)])
@pytest.mark.parametrize("zero", [support.ZERO, -0.0])
def test_index_added_to_zero_is_the_plain_sum(dtype, idx, zero):
    rng = np.random.default_rng(6)
    x = _array(rng, (10, 3), dtype)
    g = _array(rng, x[idx].shape, dtype)
    g.reshape(-1)[::2] = -0.0
    _bits_equal(support.index_added(zero, g, x, idx), zero + support.index_adjoint(g, x, idx))


def test_index_added_to_zero_other_kinds():
    x = np.arange(6.0)
    assert np.array_equal(support.index_added(0.0, np.ones(2, np.float32), x, slice(1, 3)),
                          0.0 + support.index_adjoint(np.ones(2, np.float32), x, slice(1, 3)))
    _bits_equal(support.index_added(0.0, np.float64(2.0), x, 3), 0.0 + support.index_adjoint(np.float64(2.0), x, 3))
    _bits_equal(support.index_added(0.0, np.ones(3), x, [0, 0, 5]),
                0.0 + support.index_adjoint(np.ones(3), x, [0, 0, 5]))


# --- user-style programs -----------------------------------------------------------------------------------

def conv_taps(X, K, b):
    """'valid' convolution as a sum of shifted-slice products, channels last."""
    kh, kw = K.shape[0], K.shape[1]
    Ho, Wo = X.shape[1] - kh + 1, X.shape[2] - kw + 1
    Z = b
    for i in range(kh):
        for j in range(kw):
            Z = Z + X[:, i:i+Ho, j:j+Wo, :] * K[i, j]
    return Z


def relu(x):
    return np.maximum(x, 0)


def cnn_loss(K, b, W, X, T):
    Z = conv_taps(X, K, b)
    P = np.mean(relu(Z), axis=(1, 2))
    L = P @ W
    L = L - np.max(L, axis=1, keepdims=True)
    return -np.sum(T * (L - np.log(np.sum(np.exp(L), axis=1, keepdims=True)))) / X.shape[0]


def cnn_grad(K, b, W, X, T):
    loss = cnn_loss(K, b, W, X, T)
    return loss, dlgradient(loss, K, b, W)


def strided_taps(X, K):
    """Taps of a stride-2 convolution, accumulated in a dict of parameters."""
    params = {"K": K}
    Ho, Wo = (X.shape[1] - 3) // 2 + 1, (X.shape[2] - 3) // 2 + 1
    Z = 0.0
    for i in range(3):
        for j in range(3):
            tap = X[:, i:i+2*Ho-1:2, j:j+2*Wo-1:2, :]
            Z = Z + tap * params["K"][i, j]
    return np.sum(np.tanh(Z) ** 2)


def strided_grad(X, K):
    y = strided_taps(X, K)
    return y, dlgradient(y, K, X)


def outer_features(x, w):
    feats = x[:, None] * w
    return np.sum(np.sin(feats))


def outer_grad(x, w):
    y = outer_features(x, w)
    return y, dlgradient(y, x, w)


def channel_scale(X, s):
    """A full activation times per-channel scales indexed with None (the repeated-rows form)."""
    H = np.tanh(X) * s[None, None, None, :]
    return np.sum(H ** 2)


def channel_grad(X, s):
    y = channel_scale(X, s)
    return y, dlgradient(y, X, s)


def nested_conv(K, X, V):
    y = np.sum(conv_taps(X, K, 0.0) ** 2)
    g = dlgradient(y, K, EnableHigherDerivatives=True)
    return dlgradient(np.sum(g * V), K)


def _run(fun, *args):
    out = dlfeval(fun, *[dlarray(a) for a in args])
    flat = []
    for o in (out if isinstance(out, tuple) else (out,)):
        for p in (o if isinstance(o, (list, tuple)) else (o,)):
            flat.append(np.asarray(extractdata(p)))
    return flat


def _plain_products(monkeypatch, run):
    """``run()`` with ``rt.broadcast_mul(a, b)`` as ``a * b`` and no ``wide_multiply`` form (the same
    generated code otherwise: the optimiser's other rewrites sum in their own order)."""
    with monkeypatch.context() as m:
        m.setattr(RT, "broadcast_mul", lambda a, b: a * b)
        m.setattr(support, "wide_multiply", lambda a, b, dtype=None: None)
        m.setattr(numpy_ops, "wide_multiply", lambda a, b, dtype=None: None)
        return run()


def _cnn_inputs(dtype, n=8, side=34, filters=16, kernel=3, channels=1, classes=5, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, side, side, channels)).astype(dtype)
    K = (0.3 * rng.standard_normal((kernel, kernel, channels, filters))).astype(dtype)
    b = (0.1 * rng.standard_normal(filters)).astype(dtype)
    W = (0.3 * rng.standard_normal((filters, classes))).astype(dtype)
    T = np.eye(classes, dtype=dtype)[rng.integers(0, classes, n)]
    return K, b, W, X, T


@pytest.mark.parametrize("dtype, filters, kernel, side", [
    (np.float64, 16, 3, 34), (np.float32, 16, 3, 34), (np.float64, 8, 2, 34), (np.float64, 24, 5, 30),
    (np.float64, 16, 3, 8),             # too small for the wide form: the plain product
    (np.float64, 80, 3, 20),            # a vector too long for the wide form
])
def test_cnn_taps_same_bits_as_plain_products(monkeypatch, dtype, filters, kernel, side):
    args = _cnn_inputs(dtype, filters=filters, kernel=kernel, side=side)
    src = sct.source(cnn_grad, *[dlarray(a) for a in args], callees=True)
    assert "broadcast_mul(" in src
    got = _run(cnn_grad, *args)
    expected = _plain_products(monkeypatch, lambda: _run(cnn_grad, *args))
    for g, e in zip(got, expected):
        _bits_equal(g, e)
    assert [g.dtype for g in got[1:]] == [dtype] * 3


def test_cnn_taps_gradients_against_differences():
    K, b, W, X, T = _cnn_inputs(np.float64, n=4, side=34, filters=16)
    loss, gK, gb, gW = _run(cnn_grad, K, b, W, X, T)
    assert_close(loss, cnn_loss(K, b, W, X, T), 1e-12, 1e-12)
    for pos, g in ((0, gK), (1, gb), (2, gW)):
        assert_close(g, numerical_gradient(cnn_loss, [K, b, W, X, T], pos), 1e-5, 1e-7)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_strided_taps_in_a_dict(monkeypatch, dtype):
    rng = np.random.default_rng(2)
    X = rng.standard_normal((6, 41, 39, 1)).astype(dtype)
    K = (0.2 * rng.standard_normal((3, 3, 1, 12))).astype(dtype)
    got = _run(strided_grad, X, K)
    expected = _plain_products(monkeypatch, lambda: _run(strided_grad, X, K))
    for g, e in zip(got, expected):
        _bits_equal(g, e)
    if dtype == np.float64:
        assert_close(got[1], numerical_gradient(strided_taps, [X, K], 1), 1e-5, 1e-7)


def test_outer_product_and_channel_scales(monkeypatch):
    rng = np.random.default_rng(7)
    x, w = rng.standard_normal(3000), rng.standard_normal(48)       # x[:, None] * w: rows too short, plain
    check_grads(outer_features, x[:200], w)
    got = _run(outer_grad, x, w)
    expected = _plain_products(monkeypatch, lambda: _run(outer_grad, x, w))
    for g, e in zip(got, expected):
        _bits_equal(g, e)
    X, s = rng.standard_normal((4, 20, 20, 16)), rng.standard_normal(16)
    src = sct.source(channel_grad, dlarray(X), dlarray(s), callees=True)
    assert "broadcast_mul(" in src
    got = _run(channel_grad, X, s)
    expected = _plain_products(monkeypatch, lambda: _run(channel_grad, X, s))
    for g, e in zip(got, expected):
        _bits_equal(g, e)
    check_grads(channel_scale, X[:1, :3, :3], s)


def test_second_derivative_through_taps(monkeypatch):
    K, _, _, X, _ = _cnn_inputs(np.float64, n=4, side=34, filters=16)
    V = np.random.default_rng(8).standard_normal(K.shape)
    got = _run(nested_conv, K, X, V)[0]
    expected = _plain_products(monkeypatch, lambda: _run(nested_conv, K, X, V))[0]
    _bits_equal(got, expected)

    def grad_k(Kc):
        return _run(lambda k, x: dlgradient(np.sum(conv_taps(x, k, 0.0) ** 2), k), Kc, X)[0]
    h = 1e-5
    fd = (grad_k(K + h * V) - grad_k(K - h * V)) / (2 * h)
    assert_close(got, fd, 1e-5, 1e-6 * np.abs(fd).max())


# --- a forward whose value the caller only seeds computes only its residuals -------------------------------

def energy(x):
    a = x[1:] - x[:-1] ** 2
    return np.sum(100 * a ** 2 + (1 - x[:-1]) ** 2)


def logged_energy(x):
    print("energy called")
    return np.sum(np.exp(-x) * x ** 2)


def vector_energy(x):
    return x ** 2 + 1.0


def grad_only(x):
    y = energy(x)
    return dlgradient(y, x)


def grad_and_value(x):
    y = energy(x)
    return dlgradient(y, x), y


def grad_then_value_used(x):
    y = energy(x)
    g = dlgradient(y, x)
    return g * np.tanh(y / 1e6)


def grad_logged(x):
    y = logged_energy(x)
    return dlgradient(y, x)


def grad_of_vector(x):
    y = vector_energy(x)
    return dlgradient(y, x)


def hvp_of_energy(x, v):
    y = energy(x)
    g = dlgradient(y, x, EnableHigherDerivatives=True)
    return dlgradient(np.sum(g * v), x)


def _energy_grad(x):
    u = x[:-1]
    a = x[1:] - u * u
    g = np.zeros_like(x)
    g[:-1] = -400 * a * u - 2 * (1 - u)
    g[1:] += 200 * a
    return g


def _callee_sources(fun, *args):
    return sct.source(fun, *[dlarray(a) for a in args], callees=True, run=True)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_value_only_seeded_computes_residuals_only(monkeypatch, dtype):
    rng = np.random.default_rng(9)
    x = rng.uniform(-1.2, 1.2, 5000).astype(dtype)
    src = _callee_sources(grad_only, x)
    assert "type_only('sum'" in src            # energy's forward: the sum is not computed
    g = _run(grad_only, x)[0]
    assert g.dtype == dtype
    assert_close(g, _energy_grad(x.astype(np.float64)), 1e-4 if dtype == np.float32 else 1e-10, 1e-3)
    monkeypatch.setenv("SCT_OPTIMIZE", "0")
    sct.clear_cache()
    try:
        plain = _run(grad_only, x)[0]
    finally:
        monkeypatch.setenv("SCT_OPTIMIZE", "1")
        sct.clear_cache()
    _bits_equal(g, plain)


def test_value_read_otherwise_is_computed():
    x = np.random.default_rng(10).uniform(-1.2, 1.2, 5000)
    for fun in (grad_and_value, grad_then_value_used):
        assert "type_only('sum'" not in _callee_sources(fun, x)
    g, y = _run(grad_and_value, x)
    assert_close(y, energy(x), 1e-12, 0)
    _bits_equal(g, _run(grad_only, x)[0])
    out = _run(grad_then_value_used, x)[0]
    assert_close(out, _energy_grad(x) * np.tanh(energy(x) / 1e6), 1e-10, 1e-12)


def test_value_only_seeded_keeps_effects_and_checks(capsys):
    x = np.random.default_rng(11).standard_normal(3000)
    g = _run(grad_logged, x)[0]
    assert capsys.readouterr().out.count("energy called") == 1
    assert_close(g, np.exp(-x) * (2 * x - x ** 2), 1e-10, 1e-12)
    with pytest.raises(sct.EvaluationError, match="scalar"):
        _run(grad_of_vector, x)


def test_nested_gradient_value_only_seeded(monkeypatch):
    rng = np.random.default_rng(12)
    x, v = rng.uniform(-1.2, 1.2, 4000), rng.standard_normal(4000)
    src = _callee_sources(hvp_of_energy, x, v)
    assert "type_only('sum'" in src
    got = _run(hvp_of_energy, x, v)[0]
    monkeypatch.setenv("SCT_OPTIMIZE", "0")
    sct.clear_cache()
    try:
        plain = _run(hvp_of_energy, x, v)[0]
    finally:
        monkeypatch.setenv("SCT_OPTIMIZE", "1")
        sct.clear_cache()
    _bits_equal(got, plain)
    h = 1e-6
    fd = (_energy_grad(x + h * v) - _energy_grad(x - h * v)) / (2 * h)
    assert_close(got, fd, 1e-5, 1e-5 * np.abs(fd).max())
