"""Issue 8, training steps: the kernel paths behind a CNN/MLP training step (tap-major max pooling,
im2col by contiguous runs, the per-tap transposed convolution, batchnorm's input adjoint in fewer
passes, adamupdate without temporaries, fullyconnect's in-place bias, run_network's call sites for the
layers fed by the inputs alone).  Values against plain reference implementations written here (loops
over windows), gradients against central differences (tests/gradcheck.py), float32 kept, second
derivatives where dlconv's and maxpool's rules are used twice."""
from __future__ import annotations

import numpy as np
import pytest

import sct
from sct import (adamupdate, batchNormalizationLayer, convolution2dLayer, crossentropy, dlarray, dlconv, dlfeval,
                 dlgradient, dlnetwork, extractdata, forward, fullyConnectedLayer, imageInputLayer, maxpool,
                 maxPooling2dLayer, predict, reluLayer, softmaxLayer, featureInputLayer, batchnorm)
from sct.runtime import dlfun, nn

try:
    from tests.gradcheck import assert_close, numerical_gradient
except ImportError:                      # run as plain `pytest` from inside tests/
    from gradcheck import assert_close, numerical_gradient


# --- plain references ---------------------------------------------------------------------------------


def ref_pool_first_max(x, pool):
    """Per window (stride = pool), the flat index in the window of its first maximum (NaN first)."""
    b, h, w, c = x.shape
    ph, pw = pool
    first = np.zeros((b, h // ph, w // pw, c), dtype=int)
    for n in range(b):
        for i in range(h // ph):
            for j in range(w // pw):
                for k in range(c):
                    window = x[n, i * ph:(i + 1) * ph, j * pw:(j + 1) * pw, k].ravel()
                    first[n, i, j, k] = int(np.argmax(window))       # np.argmax: first max, NaN wins
    return first


def ref_pool_select(values, x, pool):
    first = ref_pool_first_max(x, pool)
    ph, pw = pool
    out = np.zeros(first.shape, dtype=values.dtype)
    for idx in np.ndindex(*first.shape):
        n, i, j, k = idx
        f = first[idx]
        out[idx] = values[n, i * ph + f // pw, j * pw + f % pw, k]
    return out


def ref_pool_scatter(g, x, pool):
    first = ref_pool_first_max(x, pool)
    ph, pw = pool
    out = np.zeros(x.shape, dtype=np.result_type(g, np.float32))
    for idx in np.ndindex(*first.shape):
        n, i, j, k = idx
        f = first[idx]
        out[n, i * ph + f // pw, j * pw + f % pw, k] = g[idx]
    return out


def ref_conv(x, w, stride, pads, dilation, value=0.0):
    """Plain cross-correlation (float64 accumulation), channels last, one loop per tap."""
    (t, b), (l, r) = pads
    xp = np.pad(np.asarray(x, np.float64), ((0, 0), (t, b), (l, r), (0, 0)), constant_values=value)
    kh, kw, c, o = w.shape
    ho = (xp.shape[1] - (kh - 1) * dilation[0] - 1) // stride[0] + 1
    wo = (xp.shape[2] - (kw - 1) * dilation[1] - 1) // stride[1] + 1
    y = np.zeros((x.shape[0], ho, wo, o))
    for i in range(kh):
        for j in range(kw):
            patch = xp[:, i * dilation[0]:i * dilation[0] + stride[0] * (ho - 1) + 1:stride[0],
                       j * dilation[1]:j * dilation[1] + stride[1] * (wo - 1) + 1:stride[1], :]
            y += patch @ np.asarray(w[i, j], np.float64)
    return y


def ref_conv_input_adjoint(g, w, x_shape, stride, pads, dilation):
    (t, b), (l, r) = pads
    kh, kw, c, o = w.shape
    ho, wo = g.shape[1:3]
    out = np.zeros((x_shape[0], x_shape[1] + t + b, x_shape[2] + l + r, c))
    for i in range(kh):
        for j in range(kw):
            out[:, i * dilation[0]:i * dilation[0] + stride[0] * (ho - 1) + 1:stride[0],
                j * dilation[1]:j * dilation[1] + stride[1] * (wo - 1) + 1:stride[1], :] += \
                np.asarray(g, np.float64) @ np.asarray(w[i, j], np.float64).T
    return out[:, t:t + x_shape[1], l:l + x_shape[2], :]


def ref_conv_filter_adjoint(x, g, w_shape, stride, pads, dilation, value=0.0):
    (t, b), (l, r) = pads
    xp = np.pad(np.asarray(x, np.float64), ((0, 0), (t, b), (l, r), (0, 0)), constant_values=value)
    kh, kw, c, o = w_shape
    ho, wo = g.shape[1:3]
    dw = np.zeros(w_shape)
    for i in range(kh):
        for j in range(kw):
            patch = xp[:, i * dilation[0]:i * dilation[0] + stride[0] * (ho - 1) + 1:stride[0],
                       j * dilation[1]:j * dilation[1] + stride[1] * (wo - 1) + 1:stride[1], :]
            dw[i, j] = patch.reshape(-1, c).T @ np.asarray(g, np.float64).reshape(-1, o)
    return dw


# --- max pooling (tiled windows: the tap-major path) -----------------------------------------------------


POOLS = [((3, 4, 6, 2), (2, 2)), ((2, 6, 6, 3), (3, 3)), ((2, 4, 6, 5), (2, 3)), ((1, 2, 2, 1), (2, 2)),
         ((2, 8, 8, 16), (2, 2))]


@pytest.mark.parametrize("shape,pool", POOLS)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_tiled_maxpool_select_and_scatter_against_window_loops(shape, pool, dtype):
    rng = np.random.default_rng(sum(shape))
    x = np.maximum(np.round(rng.standard_normal(shape), 0), 0).astype(dtype)    # many ties (relu zeros)
    x.reshape(-1)[::7] = np.nan if shape[0] > 1 else 0.0
    geometry = dlfun.pool_geometry(shape, pool, pool, 0)
    assert dlfun._tiled_pool(shape, geometry)
    ys = (shape[0], shape[1] // pool[0], shape[2] // pool[1], shape[3])
    g = rng.standard_normal(ys).astype(dtype)
    v = rng.standard_normal(shape).astype(dtype)
    top = dlfun.maxpool_select(x, x, geometry)
    assert top.dtype == dtype
    np.testing.assert_array_equal(top, ref_pool_select(x, x, pool))
    sel = dlfun.maxpool_select(v, x, geometry)
    assert sel.dtype == dtype
    np.testing.assert_array_equal(sel, ref_pool_select(v, x, pool))
    back = dlfun.maxpool_scatter(g, x, geometry)
    assert back.dtype == dtype and back.shape == shape
    np.testing.assert_array_equal(back, ref_pool_scatter(g, x, pool))
    # a non-finite adjoint goes to the first maximum only (no inf * 0 = NaN elsewhere)
    ginf = np.where(g > 1, np.inf, g).astype(dtype)
    np.testing.assert_array_equal(dlfun.maxpool_scatter(ginf, x, geometry), ref_pool_scatter(ginf, x, pool))
    # a non-contiguous x (a reversed channel axis) and a float16 adjoint (float32 result, as before)
    xr = x[..., ::-1]
    np.testing.assert_array_equal(dlfun.maxpool_scatter(g, xr, geometry), ref_pool_scatter(g, np.ascontiguousarray(xr), pool))
    half = dlfun.maxpool_scatter(g.astype(np.float16), x, geometry)
    assert half.dtype == np.float32


def test_tiled_maxpool_of_an_empty_batch():
    x = np.zeros((0, 4, 4, 3), np.float32)
    geometry = dlfun.pool_geometry(x.shape, 2, 2, 0)
    assert dlfun.maxpool_select(x, x, geometry).shape == (0, 2, 2, 3)
    assert dlfun.maxpool_scatter(np.zeros((0, 2, 2, 3), np.float32), x, geometry).shape == x.shape


def pool_loss(x, w):
    y = maxpool(x, 2, Stride=2)
    return np.sum(y * w)


def pool_curvature(x, w):
    dx = dlgradient(pool_loss(x, w) ** 2, x)
    return np.sum(dx * dx)


def _pool_grad(x, w):
    loss = pool_loss(x, w)
    gx, gw = dlgradient(loss, x, w)
    return loss, gx, gw


def _pool_curv_grad(x, w):
    c = pool_curvature(x, w)
    gx, gw = dlgradient(c, x, w)
    return c, gx, gw


def test_maxpool_gradients_first_and_second_order_against_central_differences():
    rng = np.random.default_rng(3)
    x = rng.permutation(2 * 4 * 6 * 3).reshape(2, 4, 6, 3) / 10.0       # distinct: no ties for the differences
    w = rng.standard_normal((2, 2, 3, 3))
    value, gx, gw = dlfeval(_pool_grad, dlarray(x), dlarray(w))
    assert_close(extractdata(gx), numerical_gradient(pool_loss, [x, w], 0), 1e-6, 1e-8, "d/dx")
    assert_close(extractdata(gw), numerical_gradient(pool_loss, [x, w], 1), 1e-6, 1e-8, "d/dw")
    value, gx, gw = dlfeval(_pool_curv_grad, dlarray(x), dlarray(w))

    def curvature_plain(x, w):
        return float(np.asarray(extractdata(dlfeval(pool_curvature, dlarray(x), dlarray(w)))))
    assert_close(extractdata(gw), numerical_gradient(curvature_plain, [x, w], 1), 1e-5, 1e-6, "second order d/dw")
    assert_close(extractdata(gx), numerical_gradient(curvature_plain, [x, w], 0), 1e-5, 1e-6, "second order d/dx")


# --- convolution (im2col by runs, the per-tap transposed convolution) ----------------------------------------


CONVS = [((3, 9, 8, 8), (3, 3, 8, 5), dict(Padding="same")),
         ((2, 10, 11, 8), (3, 2, 8, 4), dict(Stride=2)),
         ((2, 12, 11, 9), (2, 3, 9, 3), dict(Stride=[2, 1], DilationFactor=[2, 1], Padding=[[1, 2], [0, 1]])),
         ((2, 9, 9, 16), (3, 3, 16, 4), dict(DilationFactor=2, Padding="same")),
         ((2, 7, 7, 8), (3, 3, 8, 2), dict(Padding=1, PaddingValue=1.5)),
         ((2, 5, 5, 2), (3, 3, 2, 3), {}),
         ((2, 6, 6, 1), (3, 3, 1, 8), dict(Padding="same")),
         ((2, 8, 7, 6), (3, 3, 6, 4), dict(Stride=[1, 2], Padding="same"))]


def _geometry(xs, ws, kw):
    return dlfun.conv_geometry(xs, ws, kw.get("Stride", 1), kw.get("DilationFactor", 1), kw.get("Padding", 0),
                               kw.get("PaddingValue", 0))


@pytest.mark.parametrize("xs,ws,kw", CONVS)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_conv_kernels_against_tap_loops(xs, ws, kw, dtype):
    rng = np.random.default_rng(sum(xs) + sum(ws))
    x = rng.standard_normal(xs).astype(dtype)
    w = rng.standard_normal(ws).astype(dtype)
    geometry = _geometry(xs, ws, kw)
    stride, pads, dilation = geometry[0], geometry[1], geometry[2]
    value = kw.get("PaddingValue", 0.0)
    tol = dict(rtol=2e-5, atol=2e-5) if dtype == np.float32 else dict(rtol=1e-12, atol=1e-12)
    y = dlfun.conv_core(x, w, geometry)
    assert y.dtype == dtype
    np.testing.assert_allclose(y, ref_conv(x, w, stride, pads, dilation, value), **tol)
    g = rng.standard_normal(y.shape).astype(dtype)
    dx = dlfun.conv_input_adjoint(g, w, xs, dlfun.linear_geometry(geometry))
    assert dx.dtype == dtype and dx.shape == xs
    np.testing.assert_allclose(dx, ref_conv_input_adjoint(g, w, xs, stride, pads, dilation), **tol)
    dw = dlfun.conv_filter_adjoint(x, g, ws, geometry)
    assert dw.dtype == dtype and dw.shape == ws
    np.testing.assert_allclose(dw, ref_conv_filter_adjoint(x, g, ws, stride, pads, dilation, value), **tol)


def conv_loss(x, w, b):
    y = dlconv(x, w, b, Padding="same", Stride=[1, 2])
    return np.sum(np.tanh(y))


def _conv_grad(x, w, b):
    loss = conv_loss(x, w, b)
    gx, gw, gb = dlgradient(loss, x, w, b)
    return loss, gx, gw, gb


def conv_curvature(x, w, b):
    gx, gw = dlgradient(conv_loss(x, w, b), x, w)
    return np.sum(gx * gx) + np.sum(gw * gw)


def _conv_curv_grad(x, w, b):
    c = conv_curvature(x, w, b)
    gx, gw, gb = dlgradient(c, x, w, b)
    return c, gx, gw, gb


def test_dlconv_gradients_with_eight_channels_first_and_second_order():
    rng = np.random.default_rng(5)
    x = rng.standard_normal((2, 5, 6, 8)) * 0.5
    w = rng.standard_normal((3, 3, 8, 3)) * 0.3
    b = rng.standard_normal(3) * 0.1
    _, gx, gw, gb = dlfeval(_conv_grad, dlarray(x), dlarray(w), dlarray(b))
    for k, got in enumerate((gx, gw, gb)):
        assert_close(extractdata(got), numerical_gradient(conv_loss, [x, w, b], k), 1e-6, 1e-8, f"d/darg{k}")
    _, hx, hw, hb = dlfeval(_conv_curv_grad, dlarray(x), dlarray(w), dlarray(b))

    def plain(x, w, b):
        return float(np.asarray(extractdata(dlfeval(conv_curvature, dlarray(x), dlarray(w), dlarray(b)))))
    for k, got in enumerate((hx, hw, hb)):
        assert_close(extractdata(got), numerical_gradient(plain, [x, w, b], k), 1e-5, 1e-6, f"second order d/darg{k}")


def test_dlconv_gradients_keep_float32():
    rng = np.random.default_rng(6)
    x = rng.standard_normal((2, 6, 6, 8)).astype(np.float32)
    w = rng.standard_normal((3, 3, 8, 4)).astype(np.float32)
    b = np.zeros(4, np.float32)
    _, gx, gw, gb = dlfeval(_conv_grad, dlarray(x), dlarray(w), dlarray(b))
    assert extractdata(gx).dtype == extractdata(gw).dtype == extractdata(gb).dtype == np.float32
    _, gx64, gw64, _ = dlfeval(_conv_grad, dlarray(x.astype(np.float64)), dlarray(w.astype(np.float64)),
                               dlarray(b.astype(np.float64)))
    assert_close(extractdata(gx), extractdata(gx64), 1e-4, 1e-5)
    assert_close(extractdata(gw), extractdata(gw64), 1e-4, 1e-5)


# --- batchnorm ---------------------------------------------------------------------------------------------


def ref_batchnorm_input_adjoint(g, x, scale, eps):
    axes = tuple(range(x.ndim - 1))
    x = np.asarray(x, np.float64)
    g = np.asarray(g, np.float64)
    mu = x.mean(axis=axes)
    var = ((x - mu) ** 2).mean(axis=axes)
    xhat = (x - mu) / np.sqrt(var + eps)
    return np.asarray(scale) / np.sqrt(var + eps) * (g - g.mean(axis=axes) - xhat * (g * xhat).mean(axis=axes))


@pytest.mark.parametrize("shape", [(5, 3), (4, 3, 5, 2), (2, 3, 4, 5, 3), (6, 1)])
@pytest.mark.parametrize("dtypes", [(np.float32,) * 3, (np.float64,) * 3, (np.float32, np.float32, np.float64),
                                    (np.float64, np.float32, np.float32)])
def test_batchnorm_input_adjoint_against_the_closed_form(shape, dtypes):
    dx, dg, ds = dtypes
    rng = np.random.default_rng(len(shape))
    x = (rng.standard_normal(shape) * 2 + 1).astype(dx)
    g = rng.standard_normal(shape).astype(dg)
    scale = rng.standard_normal(shape[-1]).astype(ds)
    for s in (scale, 1.0):
        got = dlfun.batchnorm_input_adjoint(g, x, s, 1e-5)
        assert got.dtype == np.dtype(dg) and got.shape == shape      # the adjoint's dtype, as before
        tol = 2e-4 if np.float32 in dtypes else 1e-10
        assert_close(got, ref_batchnorm_input_adjoint(g, x, s, 1e-5), tol, tol)
    m, mu, centered, var = dlfun._moments(x)
    assert mu.dtype == var.dtype == centered.dtype == np.dtype(dx)
    axes = tuple(range(len(shape) - 1))
    tol = 1e-5 if dx == np.float32 else 1e-12
    assert_close(mu, x.astype(np.float64).mean(axis=axes), tol, tol)
    assert_close(var, x.astype(np.float64).var(axis=axes), tol, tol)


def bn_loss(x, offset, scale):
    y = batchnorm(x, offset, scale)
    return np.sum(np.sin(y) * y)


def _bn_grad(x, offset, scale):
    loss = bn_loss(x, offset, scale)
    gx, go, gs = dlgradient(loss, x, offset, scale)
    return loss, gx, go, gs


def bn_curvature(x, offset, scale):
    gx = dlgradient(bn_loss(x, offset, scale), x)
    return np.sum(gx * gx)


def _bn_curv_grad(x, offset, scale):
    c = bn_curvature(x, offset, scale)
    gx, go, gs = dlgradient(c, x, offset, scale)
    return c, gx, go, gs


def test_batchnorm_gradients_first_and_second_order():
    rng = np.random.default_rng(7)
    x = rng.standard_normal((3, 4, 2, 3))
    offset = rng.standard_normal(3)
    scale = rng.standard_normal(3)
    _, *grads = dlfeval(_bn_grad, dlarray(x), dlarray(offset), dlarray(scale))
    for k, got in enumerate(grads):
        assert_close(extractdata(got), numerical_gradient(bn_loss, [x, offset, scale], k), 1e-5, 1e-7, f"d/darg{k}")
    _, *grads = dlfeval(_bn_curv_grad, dlarray(x), dlarray(offset), dlarray(scale))

    def plain(x, offset, scale):
        return float(np.asarray(extractdata(dlfeval(bn_curvature, dlarray(x), dlarray(offset), dlarray(scale)))))
    for k, got in enumerate(grads):
        assert_close(extractdata(got), numerical_gradient(plain, [x, offset, scale], k), 1e-4, 1e-6,
                     f"second order d/darg{k}")


# --- adamupdate, fullyconnect --------------------------------------------------------------------------------


def ref_adam(p, g, m, v, t, lr=1e-3, b1=0.9, b2=0.999, eps=1e-8):
    p, g, m, v = (np.asarray(a, np.float64) for a in (p, g, m, v))
    m = b1 * m + (1 - b1) * g
    v = b2 * v + (1 - b2) * g * g
    return p - lr * np.sqrt(1 - b2 ** t) / (1 - b1 ** t) * m / (np.sqrt(v) + eps), m, v


@pytest.mark.parametrize("dtypes", [(np.float32,) * 4, (np.float64,) * 4, (np.float32, np.float32, np.float64, np.float64),
                                    (np.float64, np.float32, np.float32, np.float32)])
def test_adamupdate_values_dtypes_and_inputs_untouched(dtypes):
    rng = np.random.default_rng(8)
    p, g, m, v = (rng.standard_normal((4, 3)).astype(d) for d in dtypes)
    v = np.abs(v)
    before = [a.copy() for a in (p, g, m, v)]
    new_p, new_m, new_v = adamupdate(p, g, m, v, 3, 0.01)
    for a, b in zip((p, g, m, v), before):                 # MATLAB's value semantics: nothing changed in place
        np.testing.assert_array_equal(a, b)
    for got in (new_p, new_m, new_v):
        assert np.asarray(got).dtype == p.dtype
        assert not any(np.shares_memory(got, a) for a in (p, g, m, v))
    rp, rm, rv = ref_adam(p, g, m, v, 3, 0.01)
    tol = 1e-5 if np.float32 in dtypes else 1e-12
    assert_close(new_m, rm, tol, tol)
    assert_close(new_v, rv, tol, tol)
    assert_close(new_p, rp, tol, tol)
    # from MATLAB's [] state
    new_p, new_m, new_v = adamupdate(p, g, None, None, 1)
    rp, rm, rv = ref_adam(p, g, np.zeros_like(p), np.zeros_like(p), 1)
    assert_close(new_p, rp, tol, tol)
    assert np.asarray(new_p).dtype == p.dtype


def test_fullyconnect_bias_in_place_keeps_values_and_dtypes():
    rng = np.random.default_rng(9)
    x = rng.standard_normal((5, 3)).astype(np.float32)
    w = rng.standard_normal((4, 3)).astype(np.float32)
    for bias in (rng.standard_normal(4).astype(np.float32), rng.standard_normal(4), 1.5, np.float64(2.0),
                 rng.standard_normal((5, 4)).astype(np.float32), rng.standard_normal((1, 4)).astype(np.float32)):
        b_before = np.array(bias, copy=True)
        y = nn.fullyconnect(x, w, bias)
        expected = x @ w.T + bias
        assert y.dtype == expected.dtype and y.shape == expected.shape
        np.testing.assert_array_equal(y, expected)
        np.testing.assert_array_equal(bias, b_before)
    assert nn.fullyconnect(x[0], w, np.ones(4, np.float32)).shape == (4,)
    assert nn.fullyconnect(x, w, np.ones((2, 5, 4), np.float32)).shape == (2, 5, 4)     # broadcasts up: not in place


# --- run_network: the layers fed by the inputs alone ---------------------------------------------------------------


def cnn(seed=0, channels=2):
    return dlnetwork([imageInputLayer([6, 6, channels], Normalization="none"),
                      convolution2dLayer(3, 4, Padding="same"), batchNormalizationLayer(), reluLayer(),
                      maxPooling2dLayer(2, Stride=2), fullyConnectedLayer(3), softmaxLayer()], Seed=seed)


def cnn_loss(net, X, T):
    Y, state = forward(net, X)
    return crossentropy(Y, T)


def _learnable_gradients(net, X, T):
    loss = cnn_loss(net, X, T)
    return loss, dlgradient(loss, net.Learnables)


def _input_and_learnable_gradients(net, X, T):
    loss = cnn_loss(net, X, T)
    gX, g = dlgradient(loss, X, net.Learnables)
    return loss, gX, g


def test_network_gradients_with_and_without_the_inputs_gradient():
    rng = np.random.default_rng(10)
    net = cnn()
    X = rng.standard_normal((3, 6, 6, 2))
    T = np.eye(3)[[0, 2, 1]]
    loss1, g1 = dlfeval(_learnable_gradients, net, dlarray(X), dlarray(T))
    loss2, gX, g2 = dlfeval(_input_and_learnable_gradients, net, dlarray(X), dlarray(T))
    assert float(extractdata(loss1)) == float(extractdata(loss2))
    for a, b in zip(g1.Value, g2.Value):
        np.testing.assert_array_equal(extractdata(a), extractdata(b))

    def plain(X):
        return float(np.asarray(extractdata(cnn_loss(net, X, T))))
    assert_close(extractdata(gX), numerical_gradient(plain, [X], 0), 1e-5, 1e-7, "d/dX")
    values = [np.asarray(extractdata(v), np.float64) for v in net.Learnables.Value]

    def with_learnable(k):
        def f(v):
            vals = list(values)
            vals[k] = v
            return float(np.asarray(extractdata(cnn_loss(net.with_learnables([dlarray(a) for a in vals]), X, T))))
        return f
    for k in (0, 1, 4):                                  # conv weights and bias, fc weights
        assert_close(extractdata(g1.Value[k]), numerical_gradient(with_learnable(k), [values[k]], 0), 1e-5, 1e-7,
                     f"learnable {k}")


def input_penalty(net, X):
    Y = predict(net, X)
    dX = dlgradient(np.sum(Y * Y), X)
    penalty = np.sum(dX * dX)
    return penalty, dlgradient(penalty, net.Learnables)


def test_second_order_through_a_network_whose_first_layer_reads_the_inputs():
    rng = np.random.default_rng(11)
    net = dlnetwork([featureInputLayer(4), fullyConnectedLayer(5), reluLayer(), fullyConnectedLayer(2)], Seed=1)
    X = rng.standard_normal((3, 4))
    _, g = dlfeval(input_penalty, net, dlarray(X))
    values = [np.asarray(extractdata(v), np.float64) for v in net.Learnables.Value]
    for k in range(len(values)):
        def f(v, k=k):
            vals = list(values)
            vals[k] = v
            return float(np.asarray(extractdata(dlfeval(input_penalty, net.with_learnables([dlarray(a) for a in vals]),
                                                        dlarray(X))[0])))
        assert_close(extractdata(g.Value[k]), numerical_gradient(f, [values[k]], 0), 1e-5, 1e-7, f"learnable {k}")


def test_float32_training_step_keeps_float32_and_matches_float64():
    rng = np.random.default_rng(12)
    net = cnn(channels=1)
    X = rng.standard_normal((4, 6, 6, 1))
    T = np.eye(3)[[0, 2, 1, 1]]
    net32 = net.with_learnables([dlarray(np.asarray(extractdata(v), np.float32)) for v in net.Learnables.Value])
    net64 = net.with_learnables([dlarray(np.asarray(extractdata(v), np.float64)) for v in net.Learnables.Value])
    _, g32 = dlfeval(_learnable_gradients, net32, dlarray(X.astype(np.float32)), dlarray(T.astype(np.float32)))
    _, g64 = dlfeval(_learnable_gradients, net64, dlarray(X), dlarray(T))
    for a, b in zip(g32.Value, g64.Value):
        assert extractdata(a).dtype == np.float32
        assert_close(extractdata(a), extractdata(b), 1e-3, 1e-5)
    new, avg, avg_sq = adamupdate(net32, g32, None, None, 1)
    for v in new.Learnables.Value:
        assert extractdata(v).dtype == np.float32


# --- batchnorm from its statistics (batch_mean, batch_variance, batchnorm_apply), list adjoints -----------

try:
    from tests.gradcheck import check_rule
except ImportError:                      # run as plain `pytest` from inside tests/
    from gradcheck import check_rule


@pytest.mark.parametrize("shape", [(5, 3), (4, 3, 5, 2), (2, 3, 4, 3)])
def test_batchnorm_apply_and_its_kernels_rules_against_central_differences(shape):
    rng = np.random.default_rng(21)
    c = shape[-1]
    x = rng.standard_normal(shape)
    mu, var = rng.standard_normal(c) * 0.3, rng.uniform(0.5, 2.0, c)
    offset, scale = rng.standard_normal(c), rng.standard_normal(c)
    rule = dlfun._batchnorm_apply_rule

    def op(x, mu, var, offset, scale, eps):
        return dlfun.batchnorm_apply(x, mu, var, offset, scale, eps)
    check_rule(op, rule, [x, mu, var, offset, scale, 0.3], list(range(6)), rtol=1e-6, atol=1e-8)
    check_rule(dlfun.channel_product, dlfun._channel_product_rule, [x, scale], [0, 1], rtol=1e-6, atol=1e-8)
    g = rng.standard_normal(shape)
    check_rule(dlfun.centered_total, dlfun._centered_total_rule, [g, x, mu], [0, 1, 2], rtol=1e-6, atol=1e-8)
    dv = rng.standard_normal(c)
    check_rule(dlfun.batch_variance_adjoint, dlfun._batch_variance_adjoint_rule, [dv, x], [0, 1],
               rtol=1e-6, atol=1e-8)
    # the values: plain numpy formulas
    axes = tuple(range(len(shape) - 1))
    assert_close(dlfun.batchnorm_apply(x, mu, var, offset, scale, 0.3), scale * (x - mu) / np.sqrt(var + 0.3) + offset,
                 1e-12, 1e-12)
    assert_close(dlfun.centered_total(g, x, mu), (g * (x - mu)).sum(axis=axes), 1e-12, 1e-12)
    assert_close(dlfun.batch_variance_adjoint(dv, x), 2 * dv * (x - x.mean(axis=axes)) / (x.size // c), 1e-12, 1e-12)
    view = dlfun.batch_mean_adjoint(dv, x)
    assert view.shape == x.shape and not view.flags.writeable
    assert_close(view, np.broadcast_to(dv / (x.size // c), x.shape), 1e-15, 0)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_batchnorm_kernels_keep_the_dtype(dtype):
    rng = np.random.default_rng(22)
    x = rng.standard_normal((4, 3, 5, 2)).astype(dtype)
    v = rng.uniform(0.5, 1.5, 2).astype(dtype)
    for got in (dlfun.batchnorm_apply(x, v, v, v, v, 1e-5), dlfun.channel_product(x, v), dlfun.centered_total(x, x, v),
                dlfun.batch_variance_adjoint(v, x), dlfun.batch_mean_adjoint(v, x), dlfun.batch_variance(x),
                dlfun.batch_mean(x)):
        assert got.dtype == dtype
    # mixed: the product's dtype, as numpy's
    assert dlfun.batch_variance_adjoint(v.astype(np.float64), x).dtype == np.float64
    assert dlfun.channel_product(x, v.astype(np.float64)).dtype == np.float64
    assert dlfun.centered_total(x.astype(np.float64), x, v).dtype == np.float64


def bn_state_loss(x, offset, scale, rmean, rvar):
    y, m, v = batchnorm(x, offset, scale, rmean, rvar, nargout=3)
    return np.sum(np.sin(y) * y) + np.sum(m * m * 0.7) + np.sum(np.cos(v))


def _bn_state_grad(x, offset, scale, rmean, rvar):
    loss = bn_state_loss(x, offset, scale, rmean, rvar)
    return loss, *dlgradient(loss, x, offset, scale, rmean, rvar)


def bn_state_curvature(x, offset, scale, rmean, rvar):
    gx, gs = dlgradient(bn_state_loss(x, offset, scale, rmean, rvar), x, scale, EnableHigherDerivatives=True)
    return np.sum(gx * gx) + np.sum(gs * np.sin(gs))


def _bn_state_curv_grad(x, offset, scale, rmean, rvar):
    c = bn_state_curvature(x, offset, scale, rmean, rvar)
    return c, *dlgradient(c, x, offset, scale)


def test_batchnorm_with_running_statistics_first_and_second_order():
    """The network's form (running statistics, nargout=3): the statistics' own outputs read too."""
    rng = np.random.default_rng(23)
    x = rng.standard_normal((3, 2, 4, 3)) * 1.5 + 0.5
    args = [x, rng.standard_normal(3), rng.standard_normal(3), rng.standard_normal(3), rng.uniform(0.5, 1.5, 3)]
    _, *grads = dlfeval(_bn_state_grad, *[dlarray(a) for a in args])
    for k, got in enumerate(grads):
        assert_close(extractdata(got), numerical_gradient(bn_state_loss, args, k), 1e-5, 1e-7, f"d/darg{k}")

    def plain(*a):
        return float(np.asarray(extractdata(dlfeval(bn_state_curvature, *[dlarray(v) for v in a]))))
    _, *grads = dlfeval(_bn_state_curv_grad, *[dlarray(a) for a in args])
    for k, got in enumerate(grads):
        assert_close(extractdata(got), numerical_gradient(plain, args, k), 1e-4, 1e-6, f"second order d/darg{k}")


def test_add_grad_of_lists_with_zero_entries():
    a = [0.0, np.array([1.0, 2.0]), None, 3.0]
    b = [np.array([5.0]), 0.0, 0.0, 4.0]
    out = sct.runtime.support.add_grad(a, b)
    assert type(out) is list and out[0] is b[0] and out[1] is a[1] and out[2] == 0.0 and out[3] == 7.0
    nested = sct.runtime.support.add_grad([[1.0, 0.0]], [[0.0, np.float32(2.0)]])
    assert nested[0][0] == 1.0 and nested[0][1] == np.float32(2.0) and type(nested[0][1]) is np.float32


# --- the benchmark's training steps against the hand-written numpy steps ------------------------------------


@pytest.mark.parametrize("case", ["train_cnn", "train_mlp"])
def test_training_steps_match_the_plain_numpy_steps(case):
    """Three steps (gradients, running statistics, Adam) of the benchmark's dlnetwork against the
    hand-written numpy step (benchmarks/cases_numpy.py): losses and gradients, float32 throughout."""
    import os
    import sys
    bench = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "benchmarks")
    if bench not in sys.path:
        sys.path.insert(0, bench)
    import cases_data
    import cases_numpy
    import cases_sct
    inputs = cases_data.make_inputs(case)
    if case == "train_mlp":          # a smaller batch keeps the test quick
        inputs["X"], inputs["T"] = inputs["X"][:32], inputs["T"][:32]
    call_sct, result_sct = cases_sct.make(case, inputs)
    call_np, result_np = cases_numpy.make(case, inputs)
    for step in range(3):
        loss_s, grads_s = result_sct(call_sct())
        loss_n, grads_n = result_np(call_np())
        assert abs(loss_s - loss_n) <= 1e-4 * max(1.0, abs(loss_n)), (step, loss_s, loss_n)
        assert len(grads_s) == len(grads_n)
        for k, (a, b) in enumerate(zip(grads_s, grads_n)):
            assert a.dtype == np.float32 and b.dtype == np.float32, (step, k)
            assert_close(a, b, 2e-3, 2e-5, f"step {step} gradient {k}")
