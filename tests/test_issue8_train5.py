"""Issue 8, training steps (fifth round): the CNN training step's kernels and glue made cheaper without
changing a value.  The convolution and pooling geometries are kept per shapes and options (a network
asks for each one in the forward and again in the adjoint, every step): every answer is the one the
options give computed afresh, an option that is refused is refused every time (a bool PaddingValue
after an equal int was kept)."""
from __future__ import annotations

import itertools

import numpy as np
import pytest

from sct import dlarray, dlfeval, dlgradient, extractdata
from sct.runtime import dlfun

try:
    from tests.gradcheck import assert_close, check_grads, numerical_gradient
except ImportError:                      # run as plain `pytest` from inside tests/
    from gradcheck import assert_close, check_grads, numerical_gradient


def _outcome(fn, *args):
    try:
        return "value", fn(*args)
    except (ValueError, TypeError) as e:
        return type(e).__name__, str(e)


CONV_OPTIONS = [
    dict(Stride=1, DilationFactor=1, Padding=0, PaddingValue=0),
    dict(Stride=[2, 1], DilationFactor=(1, 2), Padding="same", PaddingValue=0.0),
    dict(Stride=(2, 2), DilationFactor=1, Padding=[1, 2], PaddingValue=-0.0),
    dict(Stride=1.0, DilationFactor=True, Padding=[[1, 0], [2, 1]], PaddingValue=2.5),
    dict(Stride=1, DilationFactor=1, Padding=np.array([[1, 0], [2, 1]]), PaddingValue="replicate"),
    dict(Stride=1, DilationFactor=1, Padding=1, PaddingValue=False),           # refused: a bool
    dict(Stride=1, DilationFactor=1, Padding=1, PaddingValue=True),            # refused: a bool
    dict(Stride=1, DilationFactor=1, Padding=1, PaddingValue=1),
    dict(Stride=1, DilationFactor=1, Padding=1, PaddingValue=1.0),
    dict(Stride=np.int64(2), DilationFactor=1, Padding="same", PaddingValue=np.float32(0)),
    dict(Stride=1, DilationFactor=1, Padding="causal", PaddingValue=0),         # refused in 2-D
    dict(Stride=[1, 2, 3], DilationFactor=1, Padding=0, PaddingValue=0),       # refused: three strides
    dict(Stride=1, DilationFactor=1, Padding=0, PaddingValue="mirror"),        # refused: no such mode
]
SHAPES = [((2, 9, 8, 3), (3, 2, 3, 4)), ((2, 9, 8, 6), (3, 3, 3, 4)), ((2, 9, 8, 3), (3, 2, 1, 4)),
          ((2, 10, 3), (3, 3, 4))]


@pytest.mark.parametrize("order", ["forward", "reversed"])
def test_conv_geometry_kept_is_computed_afresh(order):
    dlfun._GEOMETRIES.clear()
    cases = list(itertools.product(SHAPES, CONV_OPTIONS))
    if order == "reversed":
        cases.reverse()
    for _ in range(2):                                  # the second round reads what the first one kept
        for (x_shape, w_shape), o in cases:
            args = (x_shape, w_shape, o["Stride"], o["DilationFactor"], o["Padding"], o["PaddingValue"])
            assert _outcome(dlfun.conv_geometry, *args) == _outcome(dlfun._conv_geometry, *args), (args,)
    assert _outcome(dlfun.conv_geometry, (2, 9, 8, 3), (3, 2, 3, 4), 1, 1, 1, False)[0] == "ValueError"
    assert dlfun.conv_geometry((2, 9, 8, 3), (3, 2, 3, 4), 1, 1, 1, 0) == ((1, 1), ((1, 1), (1, 1)), (1, 1), 1)


POOL_OPTIONS = [(2, 2, 0, 0), ([2, 2], [2, 2], [0, 0], None), ((3, 2), 1, "same", "mean"), ("global", 1, 0, 0),
                (2, 1, 1, "mean"), (2, 1, 1, 0.0), (2, 1, 1, 1), (2, 1, 1, "max"), (2.0, 1, 0, 0), ([2, 2, 2], 1, 0, 0)]


@pytest.mark.parametrize("order", ["forward", "reversed"])
def test_pool_geometry_kept_is_computed_afresh(order):
    dlfun._GEOMETRIES.clear()
    cases = list(itertools.product([(2, 8, 6, 3), (2, 9, 3)], POOL_OPTIONS))
    if order == "reversed":
        cases.reverse()
    for _ in range(2):
        for x_shape, options in cases:
            args = (x_shape,) + options
            assert _outcome(dlfun.pool_geometry, *args) == _outcome(dlfun._pool_geometry, *args), (args,)


def test_geometries_kept_are_bounded_and_unhashable_options_are_computed():
    dlfun._GEOMETRIES.clear()
    for n in range(dlfun._GEOMETRIES_KEEP + 10):
        dlfun.pool_geometry((1, n + 2, 4, 1), 2)
    assert 0 < len(dlfun._GEOMETRIES) <= dlfun._GEOMETRIES_KEEP
    dlfun._GEOMETRIES.clear()
    padding = np.array([1, 2])                          # an array: computed each time, never kept
    assert dlfun.conv_geometry((1, 5, 5, 1), (3, 3, 1, 1), 1, 1, padding, 0) == \
        ((1, 1), ((1, 1), (2, 2)), (1, 1), 1)
    padding[:] = [0, 0]
    assert dlfun.conv_geometry((1, 5, 5, 1), (3, 3, 1, 1), 1, 1, padding, 0) == \
        ((1, 1), ((0, 0), (0, 0)), (1, 1), 1)
    assert not dlfun._GEOMETRIES


# --- relu: numpy's maximum against an array of zeros (its scalar loop is several times slower) -------------

def _special(n, dtype, seed):
    x = np.random.default_rng(seed).standard_normal(n).astype(dtype)
    x[::3] = -0.0
    x[1::7] = np.nan
    x[2::11] = -np.nan
    x[4::13] = -np.inf
    x[5::17] = np.inf
    x[6::19] = 0.0
    return x


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("n", [1, 7, 1023, 1024, 5000, 100003])
def test_relu_bits_are_numpys_maximum_with_zero(dtype, n):
    from sct.runtime import nn
    x = _special(n, dtype, n)
    for a in (x, x.reshape(-1, 1)[::2], x[::-1], x.reshape(1, n, 1)):
        y = nn.relu(a)
        expected = np.maximum(a, 0)
        assert y.dtype == expected.dtype and y.shape == expected.shape
        assert y.tobytes() == expected.tobytes()
        assert y.flags.writeable and not np.shares_memory(y, a)
        y[...] = 5                                      # the result is the caller's own array
    assert nn.relu(x[:3]).tobytes() == np.maximum(x[:3], 0).tobytes()
    big = _special(n + 10, dtype, 1)                    # a larger array after a smaller one: zeros grown
    assert nn.relu(big).tobytes() == np.maximum(big, 0).tobytes()
    assert nn.relu(x).tobytes() == np.maximum(x, 0).tobytes()


def test_relu_other_inputs_as_before():
    from sct.runtime import nn
    for a in (np.arange(-3000, 3000), np.arange(-3000, 3000).astype(np.int8), np.float32(-2.0), -1.5, 3,
              np.full(2048, -1 + 2j)[:0].real, np.ones(2000, np.float16) * -1):
        y = nn.relu(a)
        expected = np.maximum(a, 0)
        assert np.asarray(y).dtype == np.asarray(expected).dtype
        assert np.asarray(y).tobytes() == np.asarray(expected).tobytes()
    for dtype in (np.float32, np.float64):
        kept = nn._FILLED.get((0, np.dtype(dtype)))
        assert kept is None or (not kept.flags.writeable and not np.any(kept))
    a = nn.kept_filled(1, 10, np.float32)
    assert a.dtype == np.float32 and a.shape == (10,) and not a.flags.writeable and np.all(a == 1)
    assert nn.kept_filled(1, 3, np.dtype(np.float32)).base is a.base     # one kept array, viewed
    big = nn.kept_filled(1, nn._FILLED_MAX + 1, np.float64)              # too long to keep: a new one
    assert big.size == nn._FILLED_MAX + 1 and np.all(big == 1)
    assert all(kept.size <= nn._FILLED_MAX for kept in nn._FILLED.values())


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_row_totals_with_the_kept_ones_are_those_of_new_ones(dtype):
    rng = np.random.default_rng(5)
    for rows in (3000, 7, 2, 40000, 5):
        a = rng.standard_normal((rows, 24)).astype(dtype)
        for m in (a, a[::2], a[:, ::3]):
            assert dlfun._row_total(m).tobytes() == (np.ones(m.shape[0], dtype) @ m).tobytes()
        x = a.reshape(rows, 3, 8)
        assert dlfun.batch_total(x).tobytes() == (np.ones(rows, dtype) @ x.reshape(rows, 24)).reshape(
            3, 8).sum(axis=0).tobytes()


# --- max pooling's adjoint: the first maximum's masks of all the taps at once -------------------------------

def _reference_scatter(g, x, geometry):
    """The adjoint through np.argmax of each window (its tie rule: the first maximum, NaN first)."""
    first, shape = dlfun._max_selection(x, geometry)
    pool, stride, pads = geometry[:3]
    cols = np.zeros(shape[:4] + (pool[0] * pool[1],), dtype=np.result_type(g, np.float32))
    np.put_along_axis(cols, first[..., None], np.asarray(g)[..., None], axis=-1)
    return dlfun._scatter_taps(cols.reshape(shape), np.shape(x), pool, stride, (1, 1), pads)


def _reference_select(values, x, geometry):
    first, shape = dlfun._max_selection(x, geometry)
    pool, stride, pads = geometry[:3]
    win = dlfun._windows(dlfun._pad(np.asarray(values), pads, 0.0), pool, stride, (1, 1))
    return np.take_along_axis(win.reshape(shape[:4] + (-1,)), first[..., None], axis=-1)[..., 0]


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("channels", [1, 3, 8])
@pytest.mark.parametrize("pool", [(2, 2), (3, 2), (1, 1), (3, 3)])
@pytest.mark.parametrize("data", ["relu", "integers", "nan", "inf_grad"])
def test_maxpool_adjoint_is_the_first_maximum(dtype, channels, pool, data):
    rng = np.random.default_rng(channels * 7 + pool[0])
    shape = (3, 2 * pool[0], 4 * pool[1], channels)
    x = rng.standard_normal(shape).astype(dtype)
    if data == "relu":
        x = np.maximum(x, 0)                            # ties of zeros in many windows
    elif data == "integers":
        x = rng.integers(-1, 2, shape).astype(dtype)   # ties of every value
    elif data == "nan":
        x[0, 0, :2, 0] = np.nan
        x[1, 1, 1, -1] = np.nan
        x[2, :, 0, 0] = -np.inf
    geometry = dlfun.pool_geometry(shape, pool, pool, 0)
    assert dlfun._tiled_pool(shape, geometry)
    top = dlfun.maxpool_select(x, x, geometry)
    assert top.tobytes() == _reference_select(x, x, geometry).tobytes()
    g = rng.standard_normal(top.shape).astype(dtype)
    if data == "inf_grad":
        g.reshape(-1)[::5] = np.inf
        g.reshape(-1)[1::7] = np.nan
    expected = _reference_scatter(g, x, geometry)
    for given_top in (None, top, top.astype(np.float16), top[:1]):
        got = dlfun.maxpool_scatter(g, x, geometry, given_top)
        assert got.dtype == expected.dtype and got.shape == expected.shape
        np.testing.assert_array_equal(got, expected)   # NaN where NaN; zeros' signs may differ
        assert np.array_equal(np.isnan(got), np.isnan(expected))
    values = rng.standard_normal(shape).astype(dtype)
    assert dlfun.maxpool_select(values, x, geometry).tobytes() == _reference_select(values, x, geometry).tobytes()
    # a scalar and a float16 adjoint: broadcast and promoted as before
    np.testing.assert_array_equal(dlfun.maxpool_scatter(np.float16(2), x, geometry, top),
                                  _reference_scatter(np.full(top.shape, 2, np.float32), x, geometry))


# --- batchnorm's variance from the mean it has: the same bits, batch_variance's derivatives -------------------------

@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("shape", [(7, 3), (5, 4, 1), (3, 4, 5, 3), (2, 3, 4, 1), (6, 2, 2, 8)])
def test_batch_variance_about_the_mean_is_batch_variance(dtype, shape):
    x = (np.random.default_rng(11).standard_normal(shape) * 3 + 10).astype(dtype)
    mu = dlfun.batch_mean(x)
    got = dlfun.batch_variance_about(x, mu)
    expected = dlfun.batch_variance(x)
    assert got.dtype == expected.dtype and got.tobytes() == expected.tobytes()
    # a mean of another shape or dtype than the statistics': batch_variance itself
    assert dlfun.batch_variance_about(x, mu.astype(np.float16)).tobytes() == expected.tobytes()
    assert dlfun.batch_variance_about(x, mu[:1]).tobytes() == expected.tobytes() or shape[-1] == 1


def variance_about_loss(X, w):
    v = dlfun.batch_variance_about(X, dlfun.batch_mean(X))
    return np.sum(np.tanh(v) * w) + np.sum(X * X) * 0.01


def variance_about_curvature(X, w):
    gX, gw = dlgradient(variance_about_loss(X, w), X, w, EnableHigherDerivatives=True)
    return np.sum(gX * gX) + np.sum(np.sin(gw))


def _curvature_grads(X, w):
    c = variance_about_curvature(X, w)
    return (c,) + tuple(dlgradient(c, X, w))


def test_batch_variance_about_first_and_second_order():
    rng = np.random.default_rng(12)
    args = [rng.standard_normal((4, 3, 2, 3)), rng.standard_normal(3)]
    check_grads(variance_about_loss, *args)

    def plain(*a):
        return float(np.asarray(extractdata(dlfeval(variance_about_curvature, *[dlarray(v) for v in a]))))
    out = dlfeval(_curvature_grads, *[dlarray(a) for a in args])
    for k, got in enumerate(out[1:]):
        assert_close(extractdata(got), numerical_gradient(plain, args, k), 1e-4, 1e-6, f"second order d/darg{k}")
