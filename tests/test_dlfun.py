"""MATLAB's deep-learning functions (runtime.dlfun): values against plain loops and closed forms,
gradients against central differences under dlfeval, second derivatives of gradient penalties."""
from __future__ import annotations

import math

import numpy as np
import pytest

import sct
from sct import (avgpool, batchnorm, dlarray, dlconv, dlfeval, dlgradient, dropout, gelu, groupnorm, huber,
                 indexcrossentropy, instancenorm, l1loss, l2loss, layernorm, maxpool, onehotdecode,
                 onehotencode)
from sct.runtime import dlfun
from sct.runtime.registry import lookup

try:
    from tests.gradcheck import assert_close, check_grads, numerical_gradient
except ImportError:                      # run as plain `pytest` from inside tests/
    from gradcheck import assert_close, check_grads, numerical_gradient

rng = np.random.default_rng(2024)


# --- naive references ------------------------------------------------------------------------


def naive_conv(x, w, b, stride=(1, 1), pads=((0, 0), (0, 0)), dil=(1, 1)):
    (t, bo), (l, r) = pads
    xp = np.pad(x, ((0, 0), (t, bo), (l, r), (0, 0)))
    batch, height, width, channels = xp.shape
    kh, kw, cpg, cout = w.shape
    fpg = cout // (channels // cpg)
    ho = (height - ((kh - 1) * dil[0] + 1)) // stride[0] + 1
    wo = (width - ((kw - 1) * dil[1] + 1)) // stride[1] + 1
    y = np.zeros((batch, ho, wo, cout))
    for n in range(batch):
        for i in range(ho):
            for j in range(wo):
                for f in range(cout):
                    g = f // fpg
                    total = 0.0
                    for a in range(kh):
                        for c in range(kw):
                            for ch in range(cpg):
                                total += xp[n, i * stride[0] + a * dil[0], j * stride[1] + c * dil[1],
                                            g * cpg + ch] * w[a, c, ch, f]
                    y[n, i, j, f] = total + b[f]
    return y


def naive_pool(x, pool, stride, pads, reduce, pad_value):
    (t, bo), (l, r) = pads
    xp = np.pad(x, ((0, 0), (t, bo), (l, r), (0, 0)), constant_values=pad_value)
    batch, height, width, channels = xp.shape
    ho = (height - pool[0]) // stride[0] + 1
    wo = (width - pool[1]) // stride[1] + 1
    y = np.zeros((batch, ho, wo, channels))
    for n in range(batch):
        for i in range(ho):
            for j in range(wo):
                for c in range(channels):
                    y[n, i, j, c] = reduce(xp[n, i * stride[0]:i * stride[0] + pool[0],
                                              j * stride[1]:j * stride[1] + pool[1], c])
    return y


# --- dlconv --------------------------------------------------------------------------------------

CONV_CASES = [
    (dict(), ((0, 0), (0, 0)), (1, 1), (1, 1)),
    (dict(Stride=2, Padding=1), ((1, 1), (1, 1)), (2, 2), (1, 1)),
    (dict(Stride=(1, 2), DilationFactor=(2, 1), Padding=[1, 2]), ((1, 1), (2, 2)), (1, 2), (2, 1)),
    (dict(Padding=[[0, 1], [2, 0]]), ((0, 2), (1, 0)), (1, 1), (1, 1)),
]


@pytest.mark.parametrize("opts,pads,stride,dil", CONV_CASES)
def test_dlconv_matches_loops(opts, pads, stride, dil):
    x = rng.standard_normal((2, 7, 6, 4))
    w = rng.standard_normal((3, 2, 4, 5))
    b = rng.standard_normal(5)
    assert_close(dlconv(x, w, b, **opts), naive_conv(x, w, b, stride, pads, dil), 1e-12, 1e-12)


def test_dlconv_groups_and_5d_weights():
    x = rng.standard_normal((2, 5, 5, 6))
    w = rng.standard_normal((3, 3, 2, 9))           # 3 groups of 2 channels, 3 filters each
    b = rng.standard_normal(9)
    y = dlconv(x, w, b, Padding=1)
    assert_close(y, naive_conv(x, w, b, pads=((1, 1), (1, 1))), 1e-12, 1e-12)
    w5_matlab = w.reshape(3, 3, 2, 3, 3)            # filters ordered group-major: f = g*fpg + j
    w5_matlab = np.transpose(w5_matlab, (0, 1, 2, 4, 3))   # (kh, kw, cpg, fpg, groups)
    assert_close(dlconv(x, w5_matlab, b, Padding=1), y, 1e-12, 1e-12)


def test_dlconv_5d_weights_gradients():
    x = rng.standard_normal((1, 4, 4, 4))
    w = rng.standard_normal((2, 2, 2, 3, 2)) * 0.5   # (kh, kw, cpg, fpg, groups)
    b = rng.standard_normal(6)

    def loss(x, w, b):
        return np.sum(np.tanh(dlconv(x, w, b, Padding="same")) ** 2)
    check_grads(loss, x, w, b)


def test_outside_dlfeval_dlarrays_stay_dlarrays():
    x = dlarray(rng.standard_normal((1, 4, 4, 2)))
    w = dlarray(rng.standard_normal((3, 3, 2, 2)))
    for y in (dlconv(x, w, 0.5), maxpool(x, 2), avgpool(x, 2), gelu(x), batchnorm(x, np.zeros(2), np.ones(2)),
              layernorm(x, 0.0, 1.0), dropout(x, rng=1)):
        assert isinstance(y, dlarray)


def test_dlconv_same_padding_is_matlabs():
    x = rng.standard_normal((1, 7, 8, 2))
    w = rng.standard_normal((4, 3, 2, 3))
    b = np.zeros(3)
    y = dlconv(x, w, b, Padding="same", Stride=2)
    assert y.shape == (1, 4, 4, 3)                  # ceil(7/2), ceil(8/2)
    # rows: total (4-1)*2+4-7 = 3 -> 1 top, 2 bottom; cols: (4-1)*2+3-8 = 1 -> 0 left, 1 right
    assert_close(y, naive_conv(x, w, b, (2, 2), ((1, 2), (0, 1))), 1e-12, 1e-12)
    assert dlconv(x, w, b, Padding="same").shape == (1, 7, 8, 3)


def test_dlconv_refuses_bad_shapes_and_complex():
    with pytest.raises(ValueError, match="channels per group"):
        dlconv(np.ones((1, 4, 4, 3)), np.ones((3, 3, 2, 4)), 0)
    with pytest.raises(TypeError, match="complex"):
        dlconv(np.ones((1, 4, 4, 1)) * 1j, np.ones((3, 3, 1, 1)), 0)


def test_dlconv_gradients():
    x = rng.standard_normal((2, 6, 5, 2))
    w = rng.standard_normal((3, 3, 2, 3)) * 0.5
    b = rng.standard_normal(3)

    def loss(x, w, b):
        return np.sum(np.tanh(dlconv(x, w, b, Stride=2, Padding="same", DilationFactor=(1, 2))) ** 2)
    check_grads(loss, x, w, b)


def test_dlconv_grouped_gradients():
    x = rng.standard_normal((1, 5, 4, 4))
    w = rng.standard_normal((2, 2, 2, 4)) * 0.5
    b = rng.standard_normal(4)

    def loss(x, w, b):
        return np.sum(np.sin(dlconv(x, w, b, Padding=1, Stride=(2, 1))))
    check_grads(loss, x, w, b)


def test_dlconv_rules_are_closed_under_differentiation():
    for op in (dlfun.conv_core, dlfun.conv_input_adjoint, dlfun.conv_filter_adjoint):
        assert lookup(op) is not None, op.__name__


def _penalty_outer(fn, wrt_index, a0, a1, a2):
    loss = fn(a0, a1, a2)
    gx = dlgradient(loss, a0, EnableHigherDerivatives=True)
    pen = np.sum(gx ** 2)
    return pen, dlgradient(pen, a0, a1, a2)


def _first_order(fn, a0, a1, a2):
    loss = fn(a0, a1, a2)
    return dlgradient(loss, a0)


def _penalty_grad(fn, wrt_index, *args):
    """sct's d/d(args[wrt_index]) of the gradient penalty sum(dlgradient(fn(...), args[0])**2)
    (a second derivative), and central differences of the penalty (computed with first derivatives)."""
    value, grads = dlfeval(_penalty_outer, fn, wrt_index, *[dlarray(v) for v in args])
    got = grads[wrt_index]

    def penalty(*vals):
        gx = dlfeval(_first_order, fn, *[dlarray(v) for v in vals])
        return float(np.sum(gx.data ** 2))
    expected = numerical_gradient(penalty, list(args), wrt_index)
    assert_close(float(value), penalty(*args), 1e-9, 1e-9)
    return got.data, expected


def conv_loss(x, w, b):
    return np.sum(np.tanh(dlconv(x, w, b, Padding=1, Stride=2)) ** 2)


def test_dlconv_gradient_penalty_second_derivative():
    x = rng.standard_normal((1, 5, 5, 2))
    w = rng.standard_normal((3, 3, 2, 2)) * 0.5
    b = rng.standard_normal(2)
    got, expected = _penalty_grad(conv_loss, 1, x, w, b)
    assert_close(got, expected, 1e-5, 1e-6)
    got, expected = _penalty_grad(conv_loss, 0, x, w, b)
    assert_close(got, expected, 1e-5, 1e-6)


# --- pooling ------------------------------------------------------------------------------------------


def test_pooling_matches_loops():
    x = rng.standard_normal((2, 7, 6, 3))
    assert_close(maxpool(x, 2, Stride=2), naive_pool(x, (2, 2), (2, 2), ((0, 0), (0, 0)), np.max, -np.inf))
    assert_close(maxpool(x, (3, 2), Stride=(2, 1), Padding=1),
                 naive_pool(x, (3, 2), (2, 1), ((1, 1), (1, 1)), np.max, -np.inf))
    assert_close(avgpool(x, 3, Stride=2, Padding=1),
                 naive_pool(x, (3, 3), (2, 2), ((1, 1), (1, 1)), np.mean, 0.0))
    assert maxpool(x, 3).shape == (2, 5, 4, 3)          # MATLAB's default Stride is 1
    assert maxpool(x, 2, Stride=2, Padding="same").shape == (2, 4, 3, 3)
    assert_close(maxpool(x, "global"), np.max(x, axis=(1, 2), keepdims=True))
    assert_close(avgpool(x, "global"), np.mean(x, axis=(1, 2), keepdims=True))


def test_pooling_gradients():
    x = rng.standard_normal((2, 6, 5, 2))

    def loss(x):
        return np.sum(np.sin(maxpool(x, 2, Stride=2))) + np.sum(avgpool(x, (3, 2), Padding=1) ** 2) \
            + np.sum(maxpool(x, 3, Padding="same") ** 2)
    check_grads(loss, x)


def test_pooling_second_derivatives():
    x = rng.standard_normal((1, 4, 4, 2))
    w = rng.standard_normal((2, 2, 2, 2))
    b = np.zeros(2)

    def loss(x, w, b):
        return np.sum(maxpool(dlconv(x, w, b, Padding=1), 2, Stride=2) ** 3) + \
            np.sum(avgpool(dlconv(x, w, b), 2) ** 2)
    got, expected = _penalty_grad(loss, 1, x, w, b)
    assert_close(got, expected, 1e-5, 1e-6)


# --- normalisation --------------------------------------------------------------------------------


def test_batchnorm_forms():
    x = rng.standard_normal((4, 3, 3, 2)) * 2 + 1
    offset, scale = rng.standard_normal(2), rng.standard_normal(2)
    mu = x.mean(axis=(0, 1, 2))
    var = x.var(axis=(0, 1, 2))
    expected = scale * (x - mu) / np.sqrt(var + 1e-5) + offset
    assert_close(batchnorm(x, offset, scale), expected, 1e-12, 1e-12)
    y, m, v = batchnorm(x, offset, scale, nargout=3)
    assert_close(y, expected, 1e-12, 1e-12)
    assert_close(m, mu, 1e-12, 1e-12)
    assert_close(v, var, 1e-12, 1e-12)
    run_mu, run_var = rng.standard_normal(2), rng.random(2) + 0.5
    y, m, v = batchnorm(x, offset, scale, run_mu, run_var, nargout=3)
    assert_close(y, expected, 1e-12, 1e-12)                   # training: batch statistics
    count = 4 * 3 * 3
    assert_close(m, 0.1 * mu + 0.9 * run_mu, 1e-12, 1e-12)
    assert_close(v, 0.1 * var * count / (count - 1) + 0.9 * run_var, 1e-12, 1e-12)
    y, m, v = batchnorm(x, offset, scale, run_mu, run_var, MeanDecay=0.3, VarianceDecay=0.2, nargout=3)
    assert_close(m, 0.3 * mu + 0.7 * run_mu, 1e-12, 1e-12)
    assert_close(v, 0.2 * var * count / (count - 1) + 0.8 * run_var, 1e-12, 1e-12)
    inference = batchnorm(x, offset, scale, run_mu, run_var, Epsilon=1e-3)  # inference: given statistics
    assert_close(inference, scale * (x - run_mu) / np.sqrt(run_var + 1e-3) + offset, 1e-12, 1e-12)


def test_batchnorm_gradients_all_forms():
    x = rng.standard_normal((5, 3))
    offset, scale = rng.standard_normal(3), rng.standard_normal(3)
    rm, rv = rng.standard_normal(3), rng.random(3) + 0.5

    def train(x, offset, scale):
        return np.sum(np.sin(batchnorm(x, offset, scale)) * np.arange(15).reshape(5, 3))
    check_grads(train, x, offset, scale)

    def train_stats(x, offset, scale):
        y, m, v = batchnorm(x, offset, scale, rm, rv, nargout=3)
        return np.sum(np.cos(y)) + np.sum(m ** 2) + np.sum(v)
    check_grads(train_stats, x, offset, scale)

    def infer(x, offset, scale):
        return np.sum(batchnorm(x, offset, scale, rm, rv) ** 2)
    check_grads(infer, x, offset, scale)


def bn_loss(x, scale, offset):
    return np.sum(np.tanh(batchnorm(x, offset, scale)) * np.linspace(-1, 1, x.size).reshape(x.shape))


def test_batchnorm_second_derivative():
    x = rng.standard_normal((4, 2, 2, 3))
    scale, offset = rng.standard_normal(3), rng.standard_normal(3)
    got, expected = _penalty_grad(bn_loss, 1, x, scale, offset)
    assert_close(got, expected, 1e-5, 1e-6)


def test_layer_instance_group_norm_values():
    x = rng.standard_normal((2, 3, 4, 6))
    off, sc = rng.standard_normal(6), rng.standard_normal(6)

    def norm(v, axes):
        m = v.mean(axis=axes, keepdims=True)
        return (v - m) / np.sqrt(v.var(axis=axes, keepdims=True) + 1e-5)
    assert_close(layernorm(x, off, sc), sc * norm(x, (1, 2, 3)) + off, 1e-12, 1e-12)
    assert_close(layernorm(x, off, sc, OperationDimension="channel-only"), sc * norm(x, (3,)) + off, 1e-12, 1e-12)
    seq = rng.standard_normal((2, 5, 6))
    assert_close(layernorm(seq, off, sc), sc * norm(seq, (2,)) + off, 1e-12, 1e-12)
    assert_close(instancenorm(x, off, sc), sc * norm(x, (1, 2)) + off, 1e-12, 1e-12)
    grouped = x.reshape(2, 3, 4, 3, 2)
    expected = norm(grouped, (1, 2, 4)).reshape(x.shape)
    assert_close(groupnorm(x, 3, off, sc), sc * expected + off, 1e-12, 1e-12)
    assert_close(groupnorm(x, "all-channels", off, sc), layernorm(x, off, sc), 1e-12, 1e-12)
    assert_close(groupnorm(x, "channel-wise", off, sc), instancenorm(x, off, sc), 1e-12, 1e-12)


def test_layer_instance_group_norm_gradients():
    x = rng.standard_normal((2, 3, 2, 4))
    off, sc = rng.standard_normal(4), rng.standard_normal(4)
    weights = np.cos(np.arange(x.size)).reshape(x.shape)

    def ln(x, off, sc):
        return np.sum(np.tanh(layernorm(x, off, sc)) * weights)

    def inn(x, off, sc):
        return np.sum(np.tanh(instancenorm(x, off, sc)) * weights)

    def gn(x, off, sc):
        return np.sum(np.tanh(groupnorm(x, 2, off, sc)) * weights)
    for fn in (ln, inn, gn):
        check_grads(fn, x, off, sc)


def ln_loss(x, scale, offset):
    return np.sum(np.tanh(layernorm(x, offset, scale)) * np.linspace(-1, 1, x.size).reshape(x.shape))


def test_layernorm_second_derivative():
    x = rng.standard_normal((3, 4))
    scale, offset = rng.standard_normal(4), rng.standard_normal(4)
    got, expected = _penalty_grad(ln_loss, 1, x, scale, offset)
    assert_close(got, expected, 1e-5, 1e-6)


# --- dropout ----------------------------------------------------------------------------------------


def test_dropout_training_and_inference():
    x = rng.standard_normal((200, 50)) + 3
    y = dropout(x, rng=7)
    kept = y != 0
    assert 0.4 < kept.mean() < 0.6
    assert_close(y[kept], 2 * x[kept])                     # scaled by 1/(1-0.5)
    assert_close(dropout(x, rng=7), y)                     # a seed reproduces the mask
    y3 = dropout(x, Probability=0.25, rng=np.random.default_rng(3))
    assert_close(y3[y3 != 0], x[y3 != 0] / 0.75)
    assert 0.7 < np.mean(y3 != 0) < 0.8
    assert dropout(x, Training=False) is x or np.array_equal(dropout(x, Training=False), x)
    with pytest.raises(ValueError):
        dropout(x, Probability=1.0)


def test_dropout_gradient_is_the_mask():
    x = rng.standard_normal((6, 5)) + 3
    w = rng.standard_normal((5, 5))

    def loss(x, w):
        return np.sum(np.tanh(dropout(x @ w, Probability=0.3, rng=11)))
    check_grads(loss, x, w)

    def infer(x, w):
        return np.sum(np.tanh(dropout(x @ w, Training=False)))
    check_grads(infer, x, w)


# --- gelu -----------------------------------------------------------------------------------------------


def test_gelu_values():
    x = np.linspace(-4, 4, 17)
    exact = np.array([v * 0.5 * (1 + math.erf(v / math.sqrt(2))) for v in x])
    assert_close(gelu(x), exact, 1e-12, 1e-14)
    approx = 0.5 * x * (1 + np.tanh(np.sqrt(2 / np.pi) * (x + 0.044715 * x ** 3)))
    assert_close(gelu(x, Approximation="tanh"), approx, 1e-12, 1e-14)
    with pytest.raises(ValueError):
        gelu(x, Approximation="sigmoid")


def test_gelu_gradients_and_second_derivatives():
    x = rng.standard_normal(7) * 2

    def f(x):
        return np.sum(gelu(x) ** 2)

    def ft(x):
        return np.sum(np.sin(gelu(x, Approximation="tanh")))
    check_grads(f, x)
    check_grads(ft, x)
    for approximation in ("none", "tanh"):
        slope = dlfun.gelu_slope(x, approximation)
        num = np.array([(dlfun.gelu(v + 1e-6, approximation) - dlfun.gelu(v - 1e-6, approximation)) / 2e-6
                        for v in x])
        assert_close(slope, num, 1e-6, 1e-8)
        curvature = dlfun.gelu_curvature(x, approximation)
        num2 = (dlfun.gelu_slope(x + 1e-6, approximation) - dlfun.gelu_slope(x - 1e-6, approximation)) / 2e-6
        assert_close(curvature, num2, 1e-6, 1e-8)


def gelu_layer(x, w, b):
    return np.sum(gelu(x @ w + b) ** 2)


def gelu_layer_tanh(x, w, b):
    return np.sum(gelu(x @ w + b, Approximation="tanh") ** 2)


@pytest.mark.parametrize("fn", [gelu_layer, gelu_layer_tanh])
def test_gelu_gradient_penalty(fn):
    x = rng.standard_normal((3, 2))
    w = rng.standard_normal((2, 3))
    b = rng.standard_normal(3)
    got, expected = _penalty_grad(fn, 1, x, w, b)
    assert_close(got, expected, 1e-5, 1e-6)


# --- losses -----------------------------------------------------------------------------------------


def test_regression_losses_values():
    y = rng.standard_normal((4, 3))
    t = rng.standard_normal((4, 3))
    d = y - t
    assert_close(l1loss(y, t), np.sum(np.abs(d)) / 4, 1e-12, 1e-12)
    assert_close(l2loss(y, t), np.sum(d ** 2) / 4, 1e-12, 1e-12)             # no 1/2
    h = np.where(np.abs(d) <= 1, 0.5 * d ** 2, np.abs(d) - 0.5)
    assert_close(huber(y, t), np.sum(h) / 4, 1e-12, 1e-12)
    h5 = np.where(np.abs(d) <= 0.5, 0.5 * d ** 2, 0.5 * np.abs(d) - 0.125)
    assert_close(huber(y, t, TransitionPoint=0.5), np.sum(h5) / 4, 1e-12, 1e-12)
    assert_close(l2loss(y, t, NormalizationFactor="all-elements"), np.mean(d ** 2), 1e-12, 1e-12)
    assert_close(l2loss(y, t, NormalizationFactor="none"), np.sum(d ** 2), 1e-12, 1e-12)
    assert_close(l1loss(y, t, Reduction="none"), np.abs(d), 1e-12, 1e-12)
    cw = np.array([1.0, 2.0, 0.5])
    assert_close(l2loss(y, t, cw), np.sum(cw * d ** 2) / 4, 1e-12, 1e-12)     # class (channel) weights
    ow = np.array([1.0, 0.0, 2.0, 3.0])
    assert_close(l1loss(y, t, ow), np.sum(ow[:, None] * np.abs(d)) / 4, 1e-12, 1e-12)  # observation weights
    mask = (rng.random((4, 3)) > 0.4).astype(float)
    mask[1] = 0
    mask[0, 0] = 1
    assert_close(l2loss(y, t, Mask=mask), np.sum(mask * d ** 2) / 4, 1e-12, 1e-12)
    per_obs = np.sum(mask * d ** 2, axis=1) / np.maximum(mask.sum(axis=1), 1)
    assert_close(l2loss(y, t, Mask=mask, NormalizationFactor="mask-included"), np.sum(per_obs), 1e-12, 1e-12)
    with pytest.raises(ValueError, match="Mask"):
        l2loss(y, t, NormalizationFactor="mask-included")


def test_regression_losses_gradients():
    y = rng.standard_normal((4, 3))
    t = y + np.where(rng.random((4, 3)) > 0.5, 1, -1) * (0.2 + rng.random((4, 3)))   # |d| away from 0
    t[0, 0] = y[0, 0] + 1.7
    w = rng.random(3) + 0.5
    mask = (rng.random((4, 3)) > 0.3).astype(float)

    def f1(y, t, w):
        return l1loss(y, t, w, Mask=mask, NormalizationFactor="mask-included")

    def f2(y, t, w):
        return l2loss(y, t, w, NormalizationFactor="all-elements") + np.sum(l2loss(y, t, Reduction="none") ** 2)

    def fh(y, t, w):
        return huber(y, t, w, TransitionPoint=0.8) + np.sum(np.sin(huber(y, t, Reduction="none")))
    for fn in (f1, f2, fh):
        check_grads(fn, y, t, w)


def huber_model(x, w, t):
    return huber(np.tanh(x @ w), t, TransitionPoint=0.5) + huber(x @ w, t, Reduction="none")[0, 1]


def test_huber_gradient_penalty():
    x = rng.standard_normal((3, 2))
    w = rng.standard_normal((2, 2))
    t = rng.standard_normal((3, 2)) * 2
    got, expected = _penalty_grad(huber_model, 1, x, w, t)
    assert_close(got, expected, 1e-5, 1e-6)


def test_indexcrossentropy():
    logits = rng.standard_normal((7, 5))
    y = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    t = np.array([4, 3, 1, 4, 0, 2, 1])
    expected = -np.mean(np.log(y[np.arange(7), t]))
    assert_close(indexcrossentropy(y, t), expected, 1e-12, 1e-12)
    assert_close(indexcrossentropy(y, t), sct.crossentropy(y, onehotencode(t, 5)), 1e-12, 1e-12)
    cw = rng.random(5)
    assert_close(indexcrossentropy(y, t, cw), -np.sum(cw[t] * np.log(y[np.arange(7), t])) / 7, 1e-12, 1e-12)
    masked = indexcrossentropy(y, t, MaskIndex=4, NormalizationFactor="target-included")
    keep = t != 4
    assert_close(masked, -np.mean(np.log(y[np.arange(7), t][keep])), 1e-12, 1e-12)
    assert_close(indexcrossentropy(y, t, Reduction="none"), -np.log(y[np.arange(7), t]), 1e-12, 1e-12)

    def f(y, w):
        return indexcrossentropy(y, t, w, MaskIndex=3) + np.sum(indexcrossentropy(y, t, Reduction="none") ** 2)
    check_grads(f, y, cw)


def test_onehot_round_trip():
    labels = np.array([[2, 0], [1, 2]])
    encoded = onehotencode(labels, 3)
    assert encoded.shape == (2, 2, 3)
    assert_close(encoded[0, 0], [0, 0, 1])
    assert_close(onehotdecode(encoded, 3), labels)
    names = np.array(["cat", "dog", "fish"])
    assert list(onehotdecode(onehotencode(np.array(["dog", "fish"]), names), names)) == ["dog", "fish"]


def test_everything_exported():
    for name in dlfun.__all__:
        assert getattr(sct, name) is getattr(dlfun, name)
        assert name in sct.__all__


def dropout_model(x, w, b):
    return np.sum(np.tanh(dropout(x @ w + b, Probability=0.4, rng=3)) ** 2)


def test_seeded_dropout_gradient_penalty():
    # A seed makes the mask the same wherever the compiler evaluates the forward again.
    x = rng.standard_normal((4, 3))
    w = rng.standard_normal((3, 5))
    b = rng.standard_normal(5)
    got, expected = _penalty_grad(dropout_model, 1, x, w, b)
    assert_close(got, expected, 1e-5, 1e-6)
