"""Issue 8, CNN training step (third round): dlconv's per-channel bias added over rows of W*C entries
(runtime/dlfun.py ``_add_channel_bias``), and the filter adjoint reusing the im2col matrix its forward
built (``_keep_cols``/``_kept_cols``: used only for the same, unchanged input object, checked bit for bit
at run time).  Values against plain numpy, gradients against central differences (tests/gradcheck.py),
stride/padding/dilation variants, float32, second order through the conv rules."""
from __future__ import annotations

import numpy as np
import pytest

from sct import (batchNormalizationLayer, convolution2dLayer, crossentropy, dlarray, dlconv, dlfeval, dlgradient,
                 dlnetwork, forward, fullyConnectedLayer, imageInputLayer, maxPooling2dLayer, reluLayer,
                 softmaxLayer)
from sct.runtime import dlfun

try:
    from tests.gradcheck import assert_close, check_grads, numerical_gradient
except ImportError:                      # run as plain `pytest` from inside tests/
    from gradcheck import assert_close, check_grads, numerical_gradient


GEOMETRIES = [
    dict(),
    dict(Padding="same"),
    dict(Stride=2, Padding=1),
    dict(DilationFactor=2, Padding="same"),
    dict(Stride=[2, 1], DilationFactor=[1, 2], Padding=[[1, 0], [2, 1]]),
    dict(Padding="same", PaddingValue="replicate"),
    dict(Padding=2, PaddingValue="symmetric-exclude-edge", Stride=2),
    dict(Padding=1, PaddingValue=1.5),
]


def _uncached_filter_adjoint(x, g, w_shape, geometry):
    keep = dlfun._COLS_KEEP
    dlfun._COLS.clear()
    dlfun._COLS_KEEP = 0
    try:
        return dlfun.conv_filter_adjoint(x, g, w_shape, geometry)
    finally:
        dlfun._COLS_KEEP = keep


@pytest.mark.parametrize("options", GEOMETRIES)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("cin", [1, 8])
def test_kept_cols_give_the_same_filter_adjoint(options, dtype, cin):
    rng = np.random.default_rng(cin)
    x = rng.standard_normal((3, 9, 8, cin)).astype(dtype)
    w = rng.standard_normal((3, 3, cin, 5)).astype(dtype)
    geometry = dlfun.conv_geometry(x.shape, w.shape, options.get("Stride", 1), options.get("DilationFactor", 1),
                                   options.get("Padding", 0), options.get("PaddingValue", 0))
    y = dlfun.conv_core(x, w, geometry)
    g = rng.standard_normal(y.shape).astype(dtype)
    assert dlfun._kept_cols(x, 3, 3, geometry) is not None
    kept = dlfun.conv_filter_adjoint(x, g, w.shape, geometry)
    fresh = _uncached_filter_adjoint(x, g, w.shape, geometry)
    assert kept.dtype == fresh.dtype == dtype
    assert np.array_equal(kept, fresh)
    # against the definition: the adjoint of w in sum(g * conv(x, w))
    expected = numerical_gradient(lambda w_: float(np.sum(g * dlfun.conv_core(x, w_, geometry))),
                                  [w.astype(np.float64)], 0)
    assert_close(kept, expected, rtol=1e-3 if dtype == np.float32 else 1e-6, atol=1e-3)


def test_kept_cols_not_used_for_a_changed_input():
    rng = np.random.default_rng(1)
    x = rng.standard_normal((2, 6, 6, 3))
    w = rng.standard_normal((3, 3, 3, 4))
    geometry = dlfun.conv_geometry(x.shape, w.shape, 1, 1, "same", 0)
    dlfun.conv_core(x, w, geometry)
    g = rng.standard_normal((2, 6, 6, 4))
    x[0, 2, 3, 1] += 1.0                              # in place, after the forward
    assert dlfun._kept_cols(x, 3, 3, geometry) is None
    assert np.array_equal(dlfun.conv_filter_adjoint(x, g, w.shape, geometry),
                          _uncached_filter_adjoint(x, g, w.shape, geometry))
    x[1, 0, 0, 0] = 0.0
    dlfun.conv_core(x, w, geometry)
    x[1, 0, 0, 0] = -0.0                              # equal as numbers, not as bits: rebuilt
    assert dlfun._kept_cols(x, 3, 3, geometry) is None
    # another geometry or kernel size for the same input: not the kept matrix
    dlfun.conv_core(x, w, geometry)
    other = dlfun.conv_geometry(x.shape, w.shape, 2, 1, "same", 0)
    assert dlfun._kept_cols(x, 3, 3, other) is None
    assert dlfun._kept_cols(x, 3, 2, geometry) is None
    # a copy of x (another object) does not find it
    assert dlfun._kept_cols(x.copy(), 3, 3, geometry) is None


def test_kept_cols_go_with_their_input_and_are_bounded():
    rng = np.random.default_rng(2)
    w = rng.standard_normal((3, 3, 2, 2))
    for _ in range(10):
        x = rng.standard_normal((1, 5, 5, 2))
        dlfun.conv_core(x, w, dlfun.conv_geometry(x.shape, w.shape, 1, 1, 0, 0))
    assert len(dlfun._COLS) <= dlfun._COLS_KEEP
    key = id(x)
    assert key in dlfun._COLS
    del x
    assert key not in dlfun._COLS


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_channel_bias_add_same_values(dtype):
    rng = np.random.default_rng(3)
    x = rng.standard_normal((4, 7, 6, 3)).astype(dtype)
    w = rng.standard_normal((3, 3, 3, 5)).astype(dtype)
    geometry = dlfun.conv_geometry(x.shape, w.shape, 1, 1, "same", 0)
    core = dlfun.conv_core(x, w, geometry)
    for bias in (rng.standard_normal(5).astype(dtype), rng.standard_normal(5).astype(np.float32), 0.25,
                 rng.standard_normal((1, 1, 1, 5)).astype(dtype), np.float32(2.0)):
        y = dlconv(x, w, bias, Padding="same")
        assert y.dtype == dtype
        assert np.array_equal(y, core + np.asarray(bias, dtype=dtype)), type(bias)
    one_channel = dlconv(x, w[..., :1], np.array([0.5], dtype), Padding="same")
    assert np.array_equal(one_channel, dlfun.conv_core(x, w[..., :1], geometry) + dtype(0.5))
    wide = dlconv(x, w, rng.standard_normal(5))      # float64 bias on float32 data: promoted, not in place
    assert wide.dtype == np.result_type(dtype, np.float64)


# --- gradients through dlconv as users write it ------------------------------------------------------------


def conv_loss(X, W, b):
    Y = dlconv(X, W, b, Padding="same")
    return np.sum(np.tanh(Y) * Y)


def conv_loss_strided(X, W, b):
    Y = dlconv(X, W, b, Stride=2, Padding=1)
    return np.sum(Y * Y) + np.sum(np.sin(Y))


def conv_loss_dilated(X, W, b):
    Y = dlconv(X, W, b, DilationFactor=2, Padding="same")
    Z = dlconv(np.maximum(Y, 0), W[:, :, :2, :], b)     # a second conv on the first's output
    return np.sum(Z ** 2)


def conv_loss_padvalue(X, W, b):
    Y = dlconv(X, W, b, Padding="same", PaddingValue="symmetric-include-edge")
    Z = dlconv(Y, W, b, Stride=2, Padding=1, PaddingValue=0.5)
    return np.sum(Z * np.tanh(Z))


def conv_loss_loop(X, W, b):
    total = 0.0
    params = {"W": W, "b": b}
    for k in range(2):
        Y = dlconv(X * (k + 1), params["W"], params["b"], Stride=[1, 2], Padding=[[1, 0], [2, 1]])
        total = total + np.sum(Y * np.cos(Y))
    return total


@pytest.mark.parametrize("fun", [conv_loss, conv_loss_strided, conv_loss_dilated, conv_loss_padvalue,
                                 conv_loss_loop])
def test_conv_gradients(fun):
    rng = np.random.default_rng(4)
    X = rng.standard_normal((2, 6, 5, 2))
    W = 0.5 * rng.standard_normal((3, 3, 2, 2))
    b = rng.standard_normal(2)
    check_grads(fun, X, W, b, rtol=1e-5, atol=1e-6)


def conv_grad_f32(X, W, b):
    loss = conv_loss_strided(X, W, b)
    return loss, dlgradient(loss, X, W, b)


def test_conv_gradients_float32_keep_dtype():
    rng = np.random.default_rng(5)
    X = rng.standard_normal((2, 6, 5, 2))
    W = 0.5 * rng.standard_normal((3, 3, 2, 2))
    b = rng.standard_normal(2)
    _, grads64 = dlfeval(conv_grad_f32, dlarray(X), dlarray(W), dlarray(b))
    _, grads32 = dlfeval(conv_grad_f32, dlarray(X.astype(np.float32)), dlarray(W.astype(np.float32)),
                         dlarray(b.astype(np.float32)))
    for g32, g64 in zip(grads32, grads64):
        assert np.asarray(g32.data).dtype == np.float32
        assert_close(np.asarray(g32.data), np.asarray(g64.data), rtol=1e-4, atol=1e-4)


def conv_filter_grad_norm(X, W, b):
    loss = conv_loss_strided(X, W, b)
    gW = dlgradient(loss, W, EnableHigherDerivatives=True)
    return np.sum(gW * gW)


def conv_second_order(X, W, b):
    value = conv_filter_grad_norm(X, W, b)
    return value, dlgradient(value, X, W, b)


def first_order_value(X, W, b):
    value = dlfeval(conv_filter_grad_norm, dlarray(X), dlarray(W), dlarray(b))
    return float(np.asarray(value.data))


def test_conv_second_order():
    rng = np.random.default_rng(6)
    X = rng.standard_normal((2, 5, 5, 2))
    W = 0.5 * rng.standard_normal((3, 3, 2, 2))
    b = rng.standard_normal(2)
    value, grads = dlfeval(conv_second_order, dlarray(X), dlarray(W), dlarray(b))
    args = [X, W, b]
    for k, g in enumerate(grads):
        expected = numerical_gradient(first_order_value, args, k)
        assert_close(np.asarray(g.data), expected, rtol=1e-5, atol=1e-5, what=f"d/darg{k}")


# --- a network step: the same gradients with and without the kept matrices --------------------------------


def model_loss(net, X, T):
    Y, state = forward(net, X)
    loss = crossentropy(Y, T)
    return loss, dlgradient(loss, net.Learnables)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_network_step_same_gradients_without_kept_cols(dtype):
    layers = [imageInputLayer([8, 8, 2], Normalization="none"),
              convolution2dLayer(3, 4, Padding="same"), batchNormalizationLayer(), reluLayer(),
              maxPooling2dLayer(2, Stride=2),
              convolution2dLayer(3, 6, Padding="same", Stride=2), reluLayer(),
              fullyConnectedLayer(3), softmaxLayer()]
    net = dlnetwork(layers, Seed=0)
    net = net.with_learnables([dlarray(np.asarray(v.data, dtype)) for v in net.Learnables.Value])
    rng = np.random.default_rng(7)
    X = dlarray(rng.standard_normal((5, 8, 8, 2)).astype(dtype))
    T = dlarray(np.eye(3, dtype=dtype)[rng.integers(0, 3, 5)])
    loss, grads = dlfeval(model_loss, net, X, T)
    keep = dlfun._COLS_KEEP
    dlfun._COLS_KEEP = 0
    dlfun._COLS.clear()
    try:
        loss0, grads0 = dlfeval(model_loss, net, X, T)
    finally:
        dlfun._COLS_KEEP = keep
    assert np.array_equal(np.asarray(loss.data), np.asarray(loss0.data))
    for g, g0 in zip(grads.Value, grads0.Value):
        assert np.asarray(g.data).dtype == dtype
        assert np.array_equal(np.asarray(g.data), np.asarray(g0.data))
