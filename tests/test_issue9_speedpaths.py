"""The fast paths of the training-step functions (issue 9, speed) against the general paths:
maxpool over windows that tile the input, batchnorm's fused training form, the ungrouped
im2col of dlconv, the per-channel bias adjoint.  Values, gradients (central differences),
second derivatives, ties, NaN and float32."""
from __future__ import annotations

import numpy as np
import pytest

from sct import (batchnorm, batchNormalizationLayer, dlarray, dlconv, dlfeval, dlgradient, dlnetwork,
                 featureInputLayer, forward, fullyConnectedLayer, maxpool, tanhLayer)
from sct.runtime import dlfun

try:
    from tests.gradcheck import assert_close, check_grads, numerical_gradient
except ImportError:                      # run as plain `pytest` from inside tests/
    from gradcheck import assert_close, check_grads, numerical_gradient

rng = np.random.default_rng(9)


def _general(monkeypatch, name):
    """Force the general path of the op behind ``name`` (a predicate of runtime.dlfun)."""
    monkeypatch.setattr(dlfun, name, lambda *args: False)


# --- helpers compiled by sct (user-style) -------------------------------------------------------

def _grad_of(fn, x, *rest):
    y = fn(x, *rest)
    return y, dlgradient(y, x)


def _all_grads(fn, a, b, c):
    y = fn(a, b, c)
    return y, dlgradient(y, a, b, c)


def _penalty(fn, x, *rest):
    y = fn(x, *rest)
    gx = dlgradient(y, x, EnableHigherDerivatives=True)
    p = np.sum(gx * gx)
    return p, dlgradient(p, x)


def _first(fn, x, *rest):
    y = fn(x, *rest)
    return dlgradient(y, x)


def _penalty_check(fn, x, *rest, rtol=1e-5, atol=1e-6):
    """d/dx sum(grad_x fn ** 2) by sct (second derivative) against central differences."""
    value, got = dlfeval(_penalty, fn, dlarray(x), *[dlarray(r) for r in rest])

    def penalty(v):
        g = dlfeval(_first, fn, dlarray(v), *[dlarray(r) for r in rest])
        return float(np.sum(np.asarray(g.data) ** 2))
    assert_close(float(value), penalty(x), 1e-9, 1e-9)
    assert_close(got.data, numerical_gradient(penalty, [x], 0), rtol, atol)
    return np.asarray(got.data)


# --- maxpool ------------------------------------------------------------------------------------

def pool_loss(x):
    return np.sum(np.sin(maxpool(x, 2, Stride=2)) * np.arange(1.0, 1.0 + x.size / 4).reshape(
        x.shape[0], x.shape[1] // 2, x.shape[2] // 2, x.shape[3]))


def pool_loss_3(x):
    return np.sum(np.tanh(maxpool(x, [3, 2], Stride=[3, 2])) ** 2)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_maxpool_tiled_ops_match_general_path_with_ties_and_nan(monkeypatch, dtype):
    x = rng.integers(0, 3, (2, 6, 8, 3)).astype(dtype)            # many ties
    x[0, 0, 0, 0] = np.nan
    x[1, 2:4, 2:4, 1] = np.nan                                      # a window of NaN only
    values = rng.standard_normal(x.shape).astype(dtype)
    for pool in (2, [3, 2], [2, 4]):
        geometry = dlfun.pool_geometry(x.shape, pool, pool, 0)
        assert dlfun._tiled_pool(x.shape, geometry)
        y = dlfun.maxpool_select(x, x, geometry)
        g = rng.standard_normal(y.shape).astype(dtype)
        fast = (y, dlfun.maxpool_select(values, x, geometry), dlfun.maxpool_scatter(g, x, geometry))
        with monkeypatch.context() as m:
            _general(m, "_tiled_pool")
            slow = (dlfun.maxpool_select(x, x, geometry), dlfun.maxpool_select(values, x, geometry),
                    dlfun.maxpool_scatter(g, x, geometry))
        for a, b in zip(fast, slow):
            assert a.dtype == b.dtype and a.shape == b.shape
            np.testing.assert_array_equal(a, b)


def test_maxpool_ties_go_to_the_first_maximum_in_row_major_window_order():
    x = np.zeros((1, 2, 2, 1))
    g = np.array([[[[1.0]]]])
    geometry = dlfun.pool_geometry(x.shape, 2, 2, 0)
    assert dlfun.maxpool_scatter(g, x, geometry)[0, :, :, 0].tolist() == [[1.0, 0.0], [0.0, 0.0]]
    x = np.array([[1.0, 3.0], [3.0, 3.0]]).reshape(1, 2, 2, 1)
    assert dlfun.maxpool_scatter(g, x, geometry)[0, :, :, 0].tolist() == [[0.0, 1.0], [0.0, 0.0]]


def test_maxpool_untiled_geometries_keep_the_general_path():
    for shape, pool, stride, pad in [((1, 5, 4, 1), 2, 2, 0), ((1, 4, 4, 1), 2, 1, 0),
                                     ((1, 4, 4, 1), 2, 2, 1), ((1, 1, 4, 1), 2, 2, 0)]:
        assert not dlfun._tiled_pool(shape, dlfun.pool_geometry(shape, pool, stride, pad))


def test_maxpool_fast_path_gradients_and_second_derivatives(monkeypatch):
    x = rng.standard_normal((2, 4, 6, 2))
    check_grads(pool_loss, x)
    check_grads(pool_loss_3, rng.standard_normal((1, 6, 4, 3)))
    fast = _penalty_check(pool_loss, x)
    with monkeypatch.context() as m:
        _general(m, "_tiled_pool")
        slow = _penalty_check(pool_loss, x)
    assert_close(fast, slow, 1e-12, 1e-12)


def test_maxpool_fast_path_float32_with_tied_gradients(monkeypatch):
    x = np.maximum(rng.standard_normal((2, 4, 4, 3)), 0).astype(np.float32)   # relu zeros tie
    _, fast = dlfeval(_grad_of, pool_loss, dlarray(x))
    with monkeypatch.context() as m:
        _general(m, "_tiled_pool")
        _, slow = dlfeval(_grad_of, pool_loss, dlarray(x))
    assert fast.data.dtype == np.float32
    np.testing.assert_array_equal(fast.data, slow.data)


# --- batchnorm ----------------------------------------------------------------------------------

def bn_reference(x, offset, scale):
    """MATLAB's formula as the general path computes it (a composite of numpy ops)."""
    axes = tuple(range(x.ndim - 1))
    mu = np.mean(x, axis=axes)
    centered = x - mu
    var = np.mean(centered * centered, axis=axes)
    return scale * (centered / np.sqrt(var + 1e-5)) + offset


def bn_loss(x, offset, scale):
    return np.sum(np.tanh(batchnorm(x, offset, scale)) * np.linspace(-1, 1, x.size).reshape(x.shape))


def bn_loss_reference(x, offset, scale):
    return np.sum(np.tanh(bn_reference(x, offset, scale)) * np.linspace(-1, 1, x.size).reshape(x.shape))


def bn_stats_loss(x, offset, scale):
    y, mu, var = batchnorm(x, offset, scale, np.zeros(x.shape[-1]), np.ones(x.shape[-1]), nargout=3)
    return np.sum(np.cos(y)) + np.sum(mu ** 2 * var) + np.sum(np.sqrt(var))


def bn_stats_loss_3(x, offset, scale):
    y, mu, var = batchnorm(x, offset, scale, nargout=3)
    return np.sum(y * y * x) + np.sum(np.sin(mu) * var)


@pytest.mark.parametrize("shape", [(5, 3), (3, 4, 2, 3), (2, 3, 5, 4, 2)])
def test_batchnorm_fused_values_and_gradients(shape):
    x = rng.standard_normal(shape) * 2 + 0.5
    c = shape[-1]
    offset, scale = rng.standard_normal(c), rng.standard_normal(c)
    assert dlfun.fused_batchnorm_applies(x, offset, scale)
    assert_close(batchnorm(x, offset, scale), bn_reference(x, offset, scale), 1e-12, 1e-12)
    _, fast = dlfeval(_all_grads, bn_loss, dlarray(x), dlarray(offset), dlarray(scale))
    _, slow = dlfeval(_all_grads, bn_loss_reference, dlarray(x), dlarray(offset), dlarray(scale))
    for a, b in zip(fast, slow):
        assert_close(a.data, b.data, 1e-10, 1e-12)
    check_grads(bn_loss, x, offset, scale)
    check_grads(bn_stats_loss, x, offset, scale)
    check_grads(bn_stats_loss_3, x, offset, scale)


def test_batchnorm_fused_second_derivatives_match_general_path():
    x = rng.standard_normal((3, 2, 2, 3))
    offset, scale = rng.standard_normal(3), rng.standard_normal(3)
    fast = _penalty_check(bn_loss, x, offset, scale)
    slow = _penalty_check(bn_loss_reference, x, offset, scale)
    assert_close(fast, slow, 1e-9, 1e-10)
    _penalty_check(bn_stats_loss_3, x, offset, scale)


def bn_penalty_wrt_scale(scale, x, offset):
    gx = dlgradient(bn_loss(x, offset, scale), x, EnableHigherDerivatives=True)
    return np.sum(gx * gx)


def _grad_wrt_first(fn, a, b, c):
    y = fn(a, b, c)
    return y, dlgradient(y, a)


def test_batchnorm_fused_mixed_second_derivative_in_the_scale():
    x = rng.standard_normal((4, 3))
    offset, scale = rng.standard_normal(3), rng.standard_normal(3)
    _, got = dlfeval(_grad_wrt_first, bn_penalty_wrt_scale, dlarray(scale), dlarray(x), dlarray(offset))

    def penalty(s):
        _, g = dlfeval(_grad_of_x_only, dlarray(x), dlarray(offset), dlarray(s))
        return float(np.sum(np.asarray(g.data) ** 2))
    assert_close(got.data, numerical_gradient(penalty, [scale], 0), 1e-5, 1e-6)


def _grad_of_x_only(x, offset, scale):
    y = bn_loss(x, offset, scale)
    return y, dlgradient(y, x)


def test_batchnorm_fused_float32_stays_float32():
    x = rng.standard_normal((4, 5, 5, 3)).astype(np.float32)
    offset, scale = rng.standard_normal(3).astype(np.float32), rng.standard_normal(3).astype(np.float32)
    y = batchnorm(x, offset, scale)
    assert y.dtype == np.float32
    assert_close(y, bn_reference(x.astype(np.float64), offset, scale), 1e-4, 1e-5)
    _, grads = dlfeval(_all_grads, bn_loss, dlarray(x), dlarray(offset), dlarray(scale))
    _, ref = dlfeval(_all_grads, bn_loss_reference, *[dlarray(v.astype(np.float64)) for v in (x, offset, scale)])
    for a, b in zip(grads, ref):
        assert a.data.dtype == np.float32
        assert_close(a.data, b.data, 2e-3, 2e-4)


def test_batchnorm_shapes_outside_the_fused_form_keep_the_general_path():
    x = rng.standard_normal((4, 3))
    assert not dlfun.fused_batchnorm_applies(x, 0.5, np.ones(3))              # scalar offset
    assert not dlfun.fused_batchnorm_applies(x, np.zeros((1, 3)), np.ones(3))
    assert not dlfun.fused_batchnorm_applies(x.astype(int), np.zeros(3), np.ones(3))
    assert not dlfun.fused_batchnorm_applies(np.zeros((0, 3)), np.zeros(3), np.ones(3))

    def general(x, offset, scale):
        return np.sum(np.tanh(batchnorm(x, offset, scale)) * np.arange(12.0).reshape(4, 3))
    check_grads(general, x, rng.standard_normal((1, 3)), rng.standard_normal(3))


def _net_output(net, x):
    y, state = forward(net, x)
    return np.sum(np.tanh(y) * np.array([1.0, -2.0]))


def _net_penalty(net, x):
    gx = dlgradient(_net_output(net, x), x, EnableHigherDerivatives=True)
    p = np.sum(gx * gx)
    return p, dlgradient(p, x), dlgradient(p, net.Learnables)


def _net_first(net, x):
    return dlgradient(_net_output(net, x), x)


def test_batchnorm_layer_gradient_penalty_through_a_network():
    """The layer's Epsilon is a traced attribute of the layer: second derivatives through the
    fused rules, with respect to the input and to the learnables (WGAN-GP style)."""
    net = dlnetwork([featureInputLayer(3), fullyConnectedLayer(4), batchNormalizationLayer(), tanhLayer(),
                     fullyConnectedLayer(2)], Seed=1)
    x = rng.standard_normal((5, 3))
    p, gx, gl = dlfeval(_net_penalty, net, dlarray(x))

    def penalty(v):
        g = dlfeval(_net_first, net, dlarray(v))
        return float(np.sum(np.asarray(g.data) ** 2))
    assert_close(float(p), penalty(x), 1e-9, 1e-9)
    assert_close(gx.data, numerical_gradient(penalty, [x], 0), 1e-5, 1e-6)
    values = [np.asarray(v.data if hasattr(v, "data") else v, float) for v in net.Learnables.Value]
    for k in range(len(values)):
        def penalty_k(v, k=k):
            vals = [dlarray(w) for w in values]
            vals[k] = dlarray(v)
            g = dlfeval(_net_first, net.with_learnables(vals), dlarray(x))
            return float(np.sum(np.asarray(g.data) ** 2))
        assert_close(np.asarray(gl.Value[k].data), numerical_gradient(penalty_k, [values[k]], 0), 1e-5, 1e-6)


# --- dlconv -------------------------------------------------------------------------------------

CONV_CASES = [((2, 7, 6, 3), (3, 3, 3, 4), dict(Padding="same")),
              ((2, 9, 8, 2), (3, 2, 2, 5), dict(Stride=2, DilationFactor=[2, 1], Padding=[[1, 0], [2, 1]])),
              ((1, 5, 5, 1), (1, 1, 1, 2), {})]


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("xs,ws,options", CONV_CASES)
def test_dlconv_plain_ops_match_general_path(monkeypatch, dtype, xs, ws, options):
    x, w = rng.standard_normal(xs).astype(dtype), rng.standard_normal(ws).astype(dtype)
    geometry = dlfun.conv_geometry(xs, ws, options.get("Stride", 1), options.get("DilationFactor", 1),
                                   options.get("Padding", 0))
    assert dlfun._plain_conv(ws, geometry[3])
    y = dlfun.conv_core(x, w, geometry)
    g = rng.standard_normal(y.shape).astype(dtype)
    fast = (y, dlfun.conv_input_adjoint(g, w, xs, geometry), dlfun.conv_filter_adjoint(x, g, ws, geometry))
    with monkeypatch.context() as m:
        _general(m, "_plain_conv")
        slow = (dlfun.conv_core(x, w, geometry), dlfun.conv_input_adjoint(g, w, xs, geometry),
                dlfun.conv_filter_adjoint(x, g, ws, geometry))
    tol = 1e-5 if dtype == np.float32 else 1e-12
    for a, b in zip(fast, slow):
        assert a.dtype == b.dtype == dtype and a.shape == b.shape
        assert_close(a, b, tol, tol)


def conv_loss(x, w, b):
    return np.sum(np.tanh(dlconv(x, w, b, Padding="same", Stride=[1, 2])) ** 2)


def conv_loss_w(w, x, b):
    return conv_loss(x, w, b)


def test_dlconv_plain_path_gradients_and_second_derivatives(monkeypatch):
    x = rng.standard_normal((2, 5, 6, 2))
    w = rng.standard_normal((3, 3, 2, 3)) * 0.5
    b = rng.standard_normal(3)
    check_grads(conv_loss, x, w, b)
    fast = (_penalty_check(conv_loss, x, w, b), _penalty_check(conv_loss_w, w, x, b))
    with monkeypatch.context() as m:
        _general(m, "_plain_conv")
        slow = (_penalty_check(conv_loss, x, w, b), _penalty_check(conv_loss_w, w, x, b))
    for a, c in zip(fast, slow):
        assert_close(a, c, 1e-10, 1e-12)


def test_dlconv_bias_adjoint_per_channel_and_broadcast_biases():
    g = rng.standard_normal((2, 3, 4, 5)).astype(np.float32)
    got = dlfun.channel_unbroadcast(g, np.zeros(5, np.float32))
    assert got.dtype == np.float32
    assert_close(got, g.sum(axis=(0, 1, 2)), 1e-5, 1e-5)
    assert_close(dlfun.channel_unbroadcast(g, 0.0), g.sum(), 1e-4, 1e-4)
    assert_close(dlfun.channel_unbroadcast(g, np.zeros((1, 1, 4, 5))), g.sum(axis=(0, 1), keepdims=True),
                 1e-5, 1e-5)
    x = rng.standard_normal((1, 4, 4, 2))
    w = rng.standard_normal((3, 3, 2, 3))
    check_grads(conv_loss, x, w, 0.3)
    check_grads(conv_loss, x, w, rng.standard_normal((1, 1, 1, 3)))
