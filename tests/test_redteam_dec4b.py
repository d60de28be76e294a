"""Red team (Dec 4b): MATLAB reference-page scenarios of the deep-learning functions, translated into
sct's Python API as SPEC.md prescribes.  Values against numpy references written from the reference
pages' formulas (with their documented defaults), gradients against central differences
(tests/gradcheck.py), second derivatives and float32 where they apply.
"""
from __future__ import annotations

import numpy as np
import pytest

import sct
from sct import (dlarray, dlfeval, dlgradient, extractdata, dims, stripdims, finddim, dlconv, dltranspconv,
                 maxpool, avgpool, maxunpool, fullyconnect, relu, leakyrelu, gelu, sigmoid, softmax,
                 batchnorm, layernorm, instancenorm, groupnorm, lstm, gru, embed, attention, crossentropy,
                 indexcrossentropy, mse, l1loss, l2loss, huber, onehotencode, onehotdecode, sgdmupdate, adamupdate,
                 rmspropupdate, dlupdate)
from gradcheck import assert_close, check_grads, numerical_gradient


pytestmark = pytest.mark.usefixtures("fresh_cache")   # tests/conftest.py


RNG = np.random.default_rng(20261204)
X4 = RNG.standard_normal((5, 4, 3, 2))          # SSCB
W4 = RNG.standard_normal((2, 3, 3, 4))
B4 = RNG.standard_normal(4)


def _sg(z):
    return 1 / (1 + np.exp(-z))


# --- gradients through formatted data (the trace goes through dlarray(x, fmt)) ---------------------

def conv_same_stride(x, w, b):
    Y = dlconv(dlarray(x, "SSCB"), w, b, Stride=2, Padding="same", DilationFactor=1)
    return np.sum(Y * Y)


def conv_dilated(x, w, b):
    Y = dlconv(dlarray(x, "SSCB"), w, b, DilationFactor=[2, 1], Padding=[1, 2])
    return np.sum(np.sin(Y))


def tconv_cropped(x, w, b):
    Y = dltranspconv(dlarray(x, "SSCB"), w, b, Stride=2, Cropping="same")
    return np.sum(Y ** 2)


def pool_chain(x, w, b):
    Y = dlconv(dlarray(x, "SSCB"), w, b, Padding="same")
    Y = maxpool(Y, 2, Stride=1, Padding=[1, 0])
    Y = avgpool(Y, [2, 2], Stride=[1, 2], Padding="same")
    return np.sum(Y * np.cos(Y))


def norms_chain(x, w, b):
    X = dlarray(x, "SSCB")
    Y = batchnorm(X, b[:3], w[0, 0, :, 0])
    Y = layernorm(Y, b[:3], 1 + w[0, 1, :, 0])
    Y = instancenorm(Y, b[1:4], w[1, 0, :, 1])
    Y = groupnorm(Y, "all-channels", w[1, 1, :, 2], b[:3])
    return np.sum(Y * x)


def fc_softmax_ce(x, w, b):
    X = dlarray(x, "SSCB")
    Y = fullyconnect(X, np.reshape(w, (4, 18))[:, :18] @ np.ones((18, 60)) * 0.01 + 0.1, b)
    P = softmax(Y)
    T = np.zeros((4, 2))
    T[1, 0] = 1
    T[3, 1] = 1
    return crossentropy(P, T)


@pytest.mark.parametrize("fun", [conv_same_stride, conv_dilated, pool_chain, norms_chain, fc_softmax_ce])
def test_formatted_gradients(fun):
    check_grads(fun, X4, W4, B4, rtol=1e-4, atol=1e-6)


def test_transposed_conv_gradients():
    w = RNG.standard_normal((3, 3, 2, 3))   # filter, numFilters, numChannels
    check_grads(tconv_cropped, X4, w, RNG.standard_normal(2), rtol=1e-4, atol=1e-6)


# --- crossentropy: MATLAB's reference page, every normalization, mode, weights and mask ----------------

def _ce_reference(P, T, fmt, mode="single-label", w=None, wfmt=None, mask=None, nf="batch-size"):
    """MATLAB's crossentropy from its Algorithms section, on data in the order of ``fmt``."""
    ci = fmt.index("C")
    values = -T * np.log(P) if mode == "single-label" else -(T * np.log(P) + (1 - T) * np.log(1 - P))
    if w is not None:
        shape = [1] * P.ndim
        shape[fmt.index(wfmt)] = len(w)
        values = values * np.reshape(w, shape)
    if mask is not None:
        values = values * mask
    observations = P.shape[fmt.index("B")] if "B" in fmt else 1      # no B: one observation
    per_element = P.size // (P.shape[ci] if mode == "single-label" else 1)
    if nf == "batch-size":
        return values.sum() / observations
    if nf == "all-elements":
        return values.sum() / per_element
    if nf == "none":
        return values.sum()
    b = [fmt.index("B")] if "B" in fmt else []
    others = tuple(i for i in range(P.ndim) if i not in b)
    counts = np.broadcast_to(mask, P.shape).sum(axis=others) / (P.shape[ci] if mode == "single-label" else 1)
    return np.sum(values.sum(axis=others) / counts)


def _probabilities(shape, fmt, seed):
    rng = np.random.default_rng(seed)
    z = rng.standard_normal(shape)
    ci = fmt.index("C")
    P = np.exp(z) / np.exp(z).sum(ci, keepdims=True)
    T = (rng.random(shape) > 0.5).astype(float)
    return P, T


CE_SHAPES = [("CB", (4, 3)), ("CBT", (4, 3, 5)), ("SSCB", (2, 3, 4, 3)), ("BC", (3, 4)), ("TCB", (5, 4, 3)),
             ("CT", (4, 5)), ("SSC", (3, 2, 4))]


@pytest.mark.parametrize("fmt,shape", CE_SHAPES)
@pytest.mark.parametrize("mode", ["single-label", "multilabel"])
@pytest.mark.parametrize("nf", ["batch-size", "all-elements", "none"])
def test_crossentropy_normalizations_formatted(fmt, shape, mode, nf):
    P, T = _probabilities(shape, fmt, 7)
    expected = _ce_reference(P, T, fmt, mode, nf=nf)
    assert_close(crossentropy(dlarray(P, fmt), T, ClassificationMode=mode, NormalizationFactor=nf), expected,
                 rtol=1e-12)

    def loss(y):
        value = crossentropy(y, T, ClassificationMode=mode, NormalizationFactor=nf)
        return value, dlgradient(value, y)
    value, g = dlfeval(loss, dlarray(P, fmt))
    assert_close(value, expected, rtol=1e-12)
    assert dims(g) == fmt and g.shape == P.shape
    numeric = numerical_gradient(lambda p: float(extractdata(crossentropy(dlarray(p, fmt), T, ClassificationMode=mode,
                                                                          NormalizationFactor=nf))), [P], 0)
    assert_close(extractdata(g), numeric, rtol=1e-5, atol=1e-7)


@pytest.mark.parametrize("fmt,shape", [("CB", (4, 3)), ("CBT", (4, 3, 5)), ("SSCB", (2, 3, 4, 3))])
@pytest.mark.parametrize("wfmt", ["C", "B"])
def test_crossentropy_weights_formatted(fmt, shape, wfmt):
    P, T = _probabilities(shape, fmt, 8)
    w = np.linspace(0.5, 2.0, shape[fmt.index(wfmt)])
    expected = _ce_reference(P, T, fmt, w=w, wfmt=wfmt)
    assert_close(crossentropy(dlarray(P, fmt), T, w, WeightsFormat=wfmt), expected, rtol=1e-12)

    def loss(y):
        return crossentropy(y, T, w, WeightsFormat=wfmt)
    assert_close(dlfeval(loss, dlarray(P, fmt)), expected, rtol=1e-12)


# Bug (fixed): crossentropy of formatted data with no "B" label ("CT", "SSC": one observation, N = 1)
# divided by the length of the first other axis (T, or the first S): "CT" with T = 5 gave a fifth of
# MATLAB's loss, silently.  runtime/formats.plan puts a singleton batch axis in front (NEW_BATCH).

def test_crossentropy_without_batch_label_is_one_observation():
    P, T = _probabilities((4, 5), "CT", 9)
    expected = -np.sum(T * np.log(P))
    assert_close(crossentropy(dlarray(P, "CT"), T), expected, rtol=1e-12)
    assert_close(crossentropy(P, T, DataFormat="CT"), expected, rtol=1e-12)

    def loss(y):
        value = crossentropy(y, T)
        return value, dlgradient(value, y)
    value, g = dlfeval(loss, dlarray(P, "CT"))
    assert_close(value, expected, rtol=1e-12)
    assert_close(extractdata(g), -T / P, rtol=1e-12)


# Bug (fixed): MATLAB's Mask option was refused for formatted data ("Mask ... taken for data in sct's
# layout"); MATLAB's sequence examples mask padded time steps of "CBT" data.  The mask is now arranged
# as Y is (runtime/formats.plan, sct/format_layout.loss_alignment), eager and compiled.

@pytest.mark.parametrize("nf", ["batch-size", "all-elements", "mask-included", "none"])
@pytest.mark.parametrize("fmt,shape", [("CBT", (4, 3, 5)), ("TCB", (5, 4, 3)), ("CT", (4, 5))])
def test_crossentropy_mask_formatted(nf, fmt, shape):
    P, T = _probabilities(shape, fmt, 10)
    mask = np.ones(shape)
    t_axis = fmt.index("T")
    index = [slice(None)] * len(shape)
    index[t_axis] = slice(3, None)
    mask[tuple(index)] = 0            # the padded time steps
    expected = _ce_reference(P, T, fmt, mask=mask, nf=nf)
    assert_close(crossentropy(dlarray(P, fmt), T, Mask=mask, NormalizationFactor=nf), expected, rtol=1e-12)

    def loss(y, m):
        value = crossentropy(y, T, Mask=m, NormalizationFactor=nf)
        return value, dlgradient(value, y)
    value, g = dlfeval(loss, dlarray(P, fmt), mask)
    assert_close(value, expected, rtol=1e-12)
    numeric = numerical_gradient(lambda p: float(extractdata(crossentropy(dlarray(p, fmt), T, Mask=mask,
                                                                          NormalizationFactor=nf))), [P], 0)
    assert_close(extractdata(g), numeric, rtol=1e-5, atol=1e-7)


def test_crossentropy_mask_labelled_in_another_order():
    P, T = _probabilities((4, 3, 5), "CBT", 11)
    mask = np.ones((4, 3, 5))
    mask[:, 0, 3:] = 0
    expected = _ce_reference(P, T, "CBT", mask=mask)
    labelled = dlarray(np.transpose(mask, (1, 2, 0)), "BTC")
    assert_close(crossentropy(dlarray(P, "CBT"), T, Mask=labelled), expected, rtol=1e-12)

    def loss(y, m):
        return crossentropy(y, T, Mask=m)
    assert_close(dlfeval(loss, dlarray(P, "CBT"), labelled), expected, rtol=1e-12)


# Bug (fixed): TargetCategories (MATLAB's name of ClassificationMode before R2021b, on the R2019b-R2021a
# reference pages: "exclusive" / "independent") was an unexpected keyword.

@pytest.mark.parametrize("categories,mode", [("exclusive", "single-label"), ("independent", "multilabel")])
def test_crossentropy_target_categories(categories, mode):
    P, T = _probabilities((10, 12), "CB", 12)
    expected = _ce_reference(P, T, "CB", mode)
    assert_close(crossentropy(dlarray(P, "CB"), T, TargetCategories=categories), expected, rtol=1e-12)

    def loss(y):
        value = crossentropy(y, T, TargetCategories=categories)
        return value, dlgradient(value, y)
    value, g = dlfeval(loss, dlarray(P, "CB"))
    assert_close(value, expected, rtol=1e-12)
    numeric = numerical_gradient(lambda p: float(extractdata(crossentropy(dlarray(p, "CB"), T,
                                                                          ClassificationMode=mode))), [P], 0)
    assert_close(extractdata(g), numeric, rtol=1e-5, atol=1e-7)

    def second(y):        # the gradient of a gradient norm (higher derivatives on by default)
        value = crossentropy(y, T, TargetCategories=categories)
        g = dlgradient(value, y)
        penalty = np.sum(g * g)
        return dlgradient(penalty, y)
    got = dlfeval(second, dlarray(P))
    penalty = lambda p: float(np.sum(extractdata(dlfeval(lambda y: dlgradient(  # noqa: E731
        crossentropy(y, T, TargetCategories=categories), y), dlarray(p))) ** 2))
    assert_close(extractdata(got), numerical_gradient(penalty, [P], 0), rtol=1e-4, atol=1e-6)


def test_crossentropy_target_categories_refusals():
    P, T = _probabilities((3, 2), "CB", 13)
    with pytest.raises(ValueError, match="TargetCategories"):
        crossentropy(P, T, TargetCategories="multi")
    with pytest.raises(ValueError, match="contradicts"):
        crossentropy(P, T, TargetCategories="exclusive", ClassificationMode="multilabel")


# --- layernorm's OperationDimension ---------------------------------------------------------------
# Bug (fixed): "spatial-channel" normalised over every axis but the batch axis, T included: for
# sequence data ("CBT", or sct's unformatted (batch, time, C)) it normalised over time and channels
# (MATLAB: the channels, there being no spatial dimension), and "auto" on spatio-temporal data
# ("SCBT") normalised over S, T and C.  T is never a spatial dimension: runtime/formats
# ._layernorm_dimension and runtime/dlfun.layernorm_axes.

def _layer_normalized(x, axes, offset, scale, ci, eps=1e-5):
    mu = x.mean(axis=axes, keepdims=True)
    var = x.var(axis=axes, keepdims=True)
    shape = [1] * x.ndim
    shape[ci] = -1
    return (x - mu) / np.sqrt(var + eps) * np.reshape(scale, shape) + np.reshape(offset, shape)


def ln_auto(x, offset, scale):
    value = np.sum(layernorm(x, offset, scale) * np.sin(x))
    return value, dlgradient(value, x, offset, scale)


def ln_spatial_channel(x, offset, scale):
    value = np.sum(layernorm(x, offset, scale, OperationDimension="spatial-channel") * np.sin(x))
    return value, dlgradient(value, x, offset, scale)


def ln_channel_only(x, offset, scale):
    value = np.sum(layernorm(x, offset, scale, OperationDimension="channel-only") * np.sin(x))
    return value, dlgradient(value, x, offset, scale)


def ln_batch_excluded(x, offset, scale):
    value = np.sum(layernorm(x, offset, scale, OperationDimension="batch-excluded") * np.sin(x))
    return value, dlgradient(value, x, offset, scale)


LAYERNORM_LOSSES = {"auto": ln_auto, "spatial-channel": ln_spatial_channel, "channel-only": ln_channel_only,
                    "batch-excluded": ln_batch_excluded}


@pytest.mark.parametrize("fmt,shape,which,labels", [
    ("CBT", (4, 3, 5), "auto", "C"), ("CBT", (4, 3, 5), "spatial-channel", "C"),
    ("CBT", (4, 3, 5), "channel-only", "C"), ("CBT", (4, 3, 5), "batch-excluded", "CT"),
    ("SSCB", (3, 2, 4, 3), "auto", "SC"), ("SSCB", (3, 2, 4, 3), "spatial-channel", "SC"),
    ("SSCB", (3, 2, 4, 3), "channel-only", "C"), ("CB", (4, 3), "spatial-channel", "C"),
    ("SCBT", (3, 4, 2, 5), "auto", "C"), ("SCBT", (3, 4, 2, 5), "batch-excluded", "SCT"),
    ("TBC", (5, 3, 4), "spatial-channel", "C")])
def test_layernorm_operation_dimension(fmt, shape, which, labels):
    rng = np.random.default_rng(14)
    x = rng.standard_normal(shape)
    ci = fmt.index("C")
    offset = rng.standard_normal(shape[ci])
    scale = 1 + rng.random(shape[ci])
    axes = tuple(i for i, c in enumerate(fmt) if c in labels)
    expected = _layer_normalized(x, axes, offset, scale, ci)
    got = layernorm(dlarray(x, fmt), offset, scale, OperationDimension=which)
    assert dims(got) == fmt
    assert_close(extractdata(got), expected, rtol=1e-10, atol=1e-12)

    value, grads = dlfeval(LAYERNORM_LOSSES[which], dlarray(x, fmt), dlarray(offset), dlarray(scale))
    assert_close(value, np.sum(expected * np.sin(x)), rtol=1e-10)
    plain = lambda x, offset, scale: float(np.sum(_layer_normalized(x, axes, offset, scale, ci)  # noqa: E731
                                                  * np.sin(x)))
    for i, g in enumerate(grads):
        assert_close(extractdata(g), numerical_gradient(plain, [x, offset, scale], i), rtol=1e-5, atol=1e-7)


def test_layernorm_spatial_channel_of_unformatted_sequences():
    rng = np.random.default_rng(15)
    x = rng.standard_normal((3, 5, 4))                  # sct's (batch, time, C)
    expected = _layer_normalized(x, (2,), np.zeros(4), np.ones(4), 2)
    assert_close(layernorm(x, np.zeros(4), np.ones(4), OperationDimension="spatial-channel"), expected, rtol=1e-10)
    check_grads(lambda x: np.sum(layernorm(x, 0.5, 2.0, OperationDimension="spatial-channel") ** 3), x,
                rtol=1e-5, atol=1e-6)


def layernorm_video(x):
    return layernorm(x, np.zeros(4), np.ones(4), OperationDimension="spatial-channel")


def test_layernorm_spatial_channel_of_spatiotemporal_data_is_refused():
    x = dlarray(np.ones((3, 4, 2, 5)), "SCBT")
    with pytest.raises(ValueError, match="spatial-channel"):
        layernorm_video(x)
    with pytest.raises(sct.CompileError, match="spatial-channel") as info:
        dlfeval(layernorm_video, x)
    assert info.value.filename == __file__ and info.value.lineno is not None


# --- dlconv Padding="causal" (MATLAB's, for 1-D convolution) -----------------------------------------
# Bug (fixed): a documented Padding value, refused ("Padding must be 'same' or nonnegative integers").
# runtime/dlfun.conv_geometry pads (filterSize - 1) * DilationFactor before the sequence, none after.

def _causal_reference(x, w, b, dilation, stride):
    """x (length, C, B) ("SCB"), w (k, C, F): MATLAB's causal 1-D convolution."""
    k = w.shape[0]
    pad = (k - 1) * dilation
    xp = np.concatenate([np.zeros((pad,) + x.shape[1:]), x])
    length = (xp.shape[0] - pad - 1) // stride + 1
    taps = [np.einsum("kcb,kcf->fb", xp[i * stride:i * stride + pad + 1:dilation], w) for i in range(length)]
    return np.stack(taps) + np.reshape(b, (1, -1, 1))


def causal_conv(x, w, b):
    return dlconv(x, w, b, Padding="causal", DilationFactor=2)


def causal_conv_strided(x, w, b):
    return dlconv(x, w, b, Padding="causal", Stride=2)


def causal_conv_loss(x, w, b):
    y = dlconv(x, w, b, Padding="causal", DilationFactor=2)
    value = np.sum(np.tanh(y))
    return value, dlgradient(value, x, w, b)


def causal_conv_penalty(x, w, b):
    y = dlconv(x, w, b, Padding="causal", DilationFactor=2)
    gx = dlgradient(np.sum(np.tanh(y)), x)
    penalty = np.sum(gx * gx)
    return dlgradient(penalty, w)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_dlconv_causal_padding(dtype):
    rng = np.random.default_rng(16)
    x = rng.standard_normal((9, 3, 2)).astype(dtype)      # "SCB"
    w = rng.standard_normal((3, 3, 4)).astype(dtype)
    b = rng.standard_normal(4).astype(dtype)
    tol = 1e-12 if dtype == np.float64 else 1e-5
    y = causal_conv(dlarray(x, "SCB"), w, b)
    assert dims(y) == "SCB" and y.shape == (9, 4, 2)
    assert_close(extractdata(y), _causal_reference(x, w, b, 2, 1), rtol=tol, atol=tol)
    y = causal_conv_strided(dlarray(x, "SCB"), w, b)
    assert y.shape == (5, 4, 2)
    assert_close(extractdata(y), _causal_reference(x, w, b, 1, 2), rtol=tol, atol=tol)
    # sct's own layout (batch, length, channels), unformatted
    assert_close(causal_conv(np.transpose(x, (2, 0, 1)), w, b),
                 np.transpose(_causal_reference(x, w, b, 2, 1), (2, 0, 1)), rtol=tol, atol=tol)
    value, grads = dlfeval(causal_conv_loss, dlarray(x, "SCB"), dlarray(w), dlarray(b))
    assert all(extractdata(g).dtype == dtype for g in grads)
    if dtype == np.float64:
        plain = lambda x, w, b: float(np.sum(np.tanh(_causal_reference(x, w, b, 2, 1))))  # noqa: E731
        for i, g in enumerate(grads):
            assert_close(extractdata(g), numerical_gradient(plain, [x, w, b], i), rtol=1e-6, atol=1e-8)
        got = dlfeval(causal_conv_penalty, dlarray(x, "SCB"), dlarray(w), dlarray(b))
        penalty = lambda w: float(np.sum(extractdata(dlfeval(causal_conv_loss, dlarray(x, "SCB"), dlarray(w),  # noqa
                                                             dlarray(b))[1][0]) ** 2))
        assert_close(extractdata(got), numerical_gradient(penalty, [w], 0), rtol=1e-5, atol=1e-7)


def test_dlconv_causal_padding_is_one_d_only():
    with pytest.raises(ValueError, match="causal"):
        dlconv(dlarray(X4, "SSCB"), W4, B4, Padding="causal")


# --- lstm / gru: MATLAB's gate order and states ------------------------------------------------------

def _lstm_reference(x, h, c, W, R, b):
    """x (C, B, T) ("CBT"), states (hidden, B): MATLAB's lstm (gates i, f, g, o)."""
    n = h.shape[0]
    ys = []
    for t in range(x.shape[2]):
        z = W @ x[:, :, t] + R @ h + b[:, None]
        i, f, g, o = _sg(z[:n]), _sg(z[n:2 * n]), np.tanh(z[2 * n:3 * n]), _sg(z[3 * n:])
        c = f * c + i * g
        h = o * np.tanh(c)
        ys.append(h)
    return np.stack(ys, 2), h, c


def lstm_loss(x, h0, c0, W, R, b):
    Y, H, C = lstm(x, h0, c0, W, R, b)
    value = np.sum(Y * Y) + np.sum(H * C)
    return value, dlgradient(value, x, h0, W)


def test_lstm_cbt_against_matlab_formula():
    rng = np.random.default_rng(17)
    x = rng.standard_normal((4, 2, 6))
    h0, c0 = rng.standard_normal((5, 2)), rng.standard_normal((5, 2))
    W, R, b = rng.standard_normal((20, 4)), rng.standard_normal((20, 5)), rng.standard_normal(20)
    Y, H, C = lstm(dlarray(x, "CBT"), h0, c0, W, R, b)
    Yr, Hr, Cr = _lstm_reference(x, h0, c0, W, R, b)
    assert dims(Y) == "CBT"
    for got, expected in ((Y, Yr), (H, Hr), (C, Cr)):
        assert_close(extractdata(got), expected, rtol=1e-12, atol=1e-12)
    value, grads = dlfeval(lstm_loss, dlarray(x, "CBT"), dlarray(h0), c0, dlarray(W), R, b)

    def plain(x, h0, W):
        Y, H, C = _lstm_reference(x, h0, c0, W, R, b)
        return float(np.sum(Y * Y) + np.sum(H * C))
    for i, g in enumerate(grads):
        assert_close(extractdata(g), numerical_gradient(plain, [x, h0, W], i), rtol=1e-5, atol=1e-7)


# Bug (fixed): initial states in the wrong orientation (MATLAB's (hidden, batch) for data labelled
# "TBC", whose states sct takes in X's order of C and B) failed inside lstm with numpy's "matmul:
# Input operand 1 has a mismatch in its core dimension 0" (gru: "bias has 15 entries ... hidden size
# 2", the batch taken for the hidden size).  runtime/nn.recurrent_states names the shape expected.

def test_recurrent_states_of_the_wrong_shape_are_named():
    rng = np.random.default_rng(18)
    x = dlarray(rng.standard_normal((6, 2, 4)), "TBC")
    W, R, b = rng.standard_normal((20, 4)), rng.standard_normal((20, 5)), np.zeros(20)
    with pytest.raises(ValueError, match=r"H0 does not fit the states: \(batch, hidden\) = \(2, 5\)"):
        lstm(x, np.zeros((5, 2)), np.zeros((5, 2)), W, R, b)
    with pytest.raises(ValueError, match=r"H0 does not fit the states"):
        gru(x, np.zeros((5, 2)), W[:15], R[:15], b[:15])
    with pytest.raises(sct.EvaluationError, match="H0 does not fit the states") as info:
        dlfeval(lstm_loss, x, dlarray(np.zeros((5, 2))), np.zeros((5, 2)), dlarray(W), R, b)
    assert info.value.filename == __file__
    Y, H, C = lstm(x, np.zeros((2, 5)), np.zeros((2, 5)), W, R, b)      # (batch, hidden) for "TBC"
    assert dims(Y) == "TBC" and Y.shape == (6, 2, 5) and H.shape == (2, 5)


# --- weights labelled "B" or "C" (MATLAB reads a formatted weights argument by its labels) -----------
# Bug (fixed): crossentropy, l1loss, l2loss and huber dropped the labels of dlarray(w, "B") and took a
# vector as many long as the channels for per-channel weights: observation weights of a batch as large
# as the classes were applied per class, silently (crossentropy 3.584 for 2.646).  l1loss, l2loss and
# huber had no WeightsFormat option either.  runtime/formats.labelled_weights (eager) and
# sct/format_layout.weights_format (compiled: the label becomes WeightsFormat=).

def _weighted_reference(fname, P, T, w, along):
    shape = [1, 1]
    shape[along] = len(w)
    w = np.reshape(w, shape)
    if fname == "crossentropy":
        return -np.sum(w * T * np.log(P)) / P.shape[1]
    d = P - T
    values = {"l1loss": np.abs(d), "l2loss": d * d,
              "huber": np.where(np.abs(d) <= 1, 0.5 * d * d, np.abs(d) - 0.5)}[fname]
    return np.sum(w * values) / P.shape[1]


LOSSES = {"crossentropy": crossentropy, "l1loss": l1loss, "l2loss": l2loss, "huber": huber}


def weighted_ce(y, t, w):
    value = crossentropy(y, t, w)
    return value, dlgradient(value, y)


def weighted_l1(y, t, w):
    value = l1loss(y, t, w)
    return value, dlgradient(value, y)


def weighted_l2(y, t, w):
    value = l2loss(y, t, w)
    return value, dlgradient(value, y)


def weighted_huber(y, t, w):
    value = huber(y, t, w)
    return value, dlgradient(value, y)


WEIGHTED = {"crossentropy": weighted_ce, "l1loss": weighted_l1, "l2loss": weighted_l2, "huber": weighted_huber}


@pytest.mark.parametrize("fname", sorted(LOSSES))
@pytest.mark.parametrize("label", ["B", "C"])
def test_loss_weights_labelled(fname, label):
    rng = np.random.default_rng(19)
    P = rng.random((3, 3)) * 0.9 + 0.05             # "CB", as many classes as observations
    T = rng.random((3, 3)) * 3 if fname != "crossentropy" else rng.random((3, 3))
    w = np.array([1.0, 2.0, 3.0])
    along = 1 if label == "B" else 0
    expected = _weighted_reference(fname, P, T, w, along)
    assert_close(LOSSES[fname](dlarray(P, "CB"), T, dlarray(w, label)), expected, rtol=1e-12)
    assert_close(LOSSES[fname](dlarray(P, "CB"), T, w, WeightsFormat=label), expected, rtol=1e-12)
    value, g = dlfeval(WEIGHTED[fname], dlarray(P, "CB"), T, dlarray(w, label))
    assert_close(value, expected, rtol=1e-12)
    numeric = numerical_gradient(lambda p: _weighted_reference(fname, p, T, w, along), [P], 0)
    assert_close(extractdata(g), numeric, rtol=1e-6, atol=1e-8)
    # unformatted predictions in sct's layout (batch, C), labelled weights
    value, g = dlfeval(WEIGHTED[fname], dlarray(P.T), T.T, dlarray(w, label))
    assert_close(value, expected, rtol=1e-12)
    assert_close(extractdata(g), numeric.T, rtol=1e-6, atol=1e-8)


def huber_weights_disagree(y, t, w):
    return huber(y, t, w, WeightsFormat="C")


def test_loss_weights_label_and_weights_format_must_agree():
    P = np.full((3, 3), 0.5)
    with pytest.raises(ValueError, match="labelled 'B' but WeightsFormat is 'C'"):
        huber(dlarray(P, "CB"), P, dlarray(np.ones(3), "B"), WeightsFormat="C")
    with pytest.raises(sct.CompileError, match="labelled 'B'") as info:
        dlfeval(huber_weights_disagree, dlarray(P, "CB"), P, dlarray(np.ones(3), "B"))
    assert info.value.filename == __file__
    with pytest.raises(ValueError, match="do not match"):
        l2loss(P, P, np.ones(4), WeightsFormat="B")


# --- the optimizers keep a formatted parameter's labels ---------------------------------------------
# Bug (fixed): sgdmupdate, adamupdate, rmspropupdate and dlupdate returned a formatted dlarray
# parameter ("CB") and its states unformatted (runtime/optim._like, _wrapped): the next formatted call
# (fullyconnect, crossentropy, ...) then read it in sct's default layout.

def test_optimizers_keep_labels():
    rng = np.random.default_rng(20)
    p0 = rng.standard_normal((3, 2))
    g0 = rng.standard_normal((3, 2))
    p, g = dlarray(p0, "CB"), dlarray(g0, "CB")
    P, V = sgdmupdate(p, g, [])
    assert dims(P) == dims(V) == "CB"
    assert_close(extractdata(P), p0 - 0.01 * g0, rtol=1e-12)
    P, M, S = adamupdate(p, g, [], [], 1)
    assert dims(P) == dims(M) == dims(S) == "CB"
    P2, M2, S2 = adamupdate(P, g, M, S, 2)            # the steady state (states are dlarrays)
    assert dims(P2) == dims(M2) == dims(S2) == "CB"
    m = 0.9 * (0.1 * g0) + 0.1 * g0
    v = 0.999 * (0.001 * g0 ** 2) + 0.001 * g0 ** 2
    p1 = p0 - 0.001 * np.sqrt(1 - 0.999) / (1 - 0.9) * (0.1 * g0) / (np.sqrt(0.001 * g0 ** 2) + 1e-8)
    expected = p1 - 0.001 * np.sqrt(1 - 0.999 ** 2) / (1 - 0.9 ** 2) * m / (np.sqrt(v) + 1e-8)
    assert_close(extractdata(P2), expected, rtol=1e-10)
    P, S = rmspropupdate(p, g, [])
    assert dims(P) == dims(S) == "CB"
    assert dims(dlupdate(lambda a: 2 * a, p)) == "CB"
    P, V = sgdmupdate({"W": p, "b": dlarray(np.zeros(2))}, {"W": g, "b": dlarray(np.ones(2))}, None)
    assert dims(P["W"]) == "CB" and dims(P["b"]) == ""


# --- attention on MATLAB's "CBT" data ----------------------------------------------------------------
# Bug (fixed): attention read a formatted "CBT" dlarray as sct's (batch, target, features) layout:
# eagerly it failed in a reshape ("cannot reshape array of size 120") or, where the sizes allowed it
# (C=8, B=4, T=4, 2 heads), returned a silently wrong result; DataFormat= was an unexpected keyword.
# Formatted queries (and DataFormat=) are now read by their labels (runtime/formats.plan "attention",
# eager and compiled), Y has the queries' order and format.

def _attention_reference(q, k, v, heads, mask=None):
    """q (C, B, T), k and v (C, B, S): MATLAB's multi-head scaled dot-product attention, Y as q."""
    C, B, T = q.shape
    S = k.shape[2]
    d = C // heads
    Y = np.zeros_like(q)
    for b in range(B):
        for h in range(heads):
            Q, K, V = q[h * d:(h + 1) * d, b, :], k[h * d:(h + 1) * d, b, :], v[h * d:(h + 1) * d, b, :]
            scores = K.T @ Q / np.sqrt(d)                                # (S, T)
            if mask is not None:
                scores = np.where(mask[0, b, :][:, None] > 0, scores, -np.inf)
            A = np.exp(scores - scores.max(0))
            A = A / A.sum(0)
            Y[h * d:(h + 1) * d, b, :] = V @ A
    return Y


def attention_cbt(q, k, v):
    Y, weights = attention(q, k, v, 2)
    value = np.sum(Y * Y)
    return Y, value, dlgradient(value, q, k, v)


def attention_cbt_masked(q, k, v, m):
    Y, weights = attention(q, k, v, 2, PaddingMask=m)
    return Y


def attention_data_format(q, k, v):
    Y, weights = attention(q, k, v, 2, DataFormat="CBT")
    return Y


@pytest.mark.parametrize("C,B,T,S", [(8, 3, 5, 4), (8, 4, 4, 4)])
def test_attention_formatted(C, B, T, S):
    rng = np.random.default_rng(21)
    q, k, v = rng.standard_normal((C, B, T)), rng.standard_normal((C, B, S)), rng.standard_normal((C, B, S))
    expected = _attention_reference(q, k, v, 2)
    Y, weights = attention(dlarray(q, "CBT"), dlarray(k, "CBT"), dlarray(v, "CBT"), 2)
    assert dims(Y) == "CBT" and Y.shape == (C, B, T) and weights.shape == (B, 2, T, S)
    assert_close(extractdata(Y), expected, rtol=1e-10, atol=1e-12)
    Y, _ = attention(q, k, v, 2, DataFormat="CBT")
    assert_close(Y, expected, rtol=1e-10, atol=1e-12)
    # keys labelled in another order are read by their labels; unformatted values in the queries' order
    Y, _ = attention(dlarray(q, "CBT"), dlarray(np.transpose(k, (2, 1, 0)), "TBC"), v, 2)
    assert_close(extractdata(Y), expected, rtol=1e-10, atol=1e-12)
    Y, value, grads = dlfeval(attention_cbt, dlarray(q, "CBT"), dlarray(k, "CBT"), dlarray(v, "CBT"))
    assert dims(Y) == "CBT" and all(dims(g) == "CBT" for g in grads)
    assert_close(extractdata(Y), expected, rtol=1e-10, atol=1e-12)
    plain = lambda q, k, v: float(np.sum(_attention_reference(q, k, v, 2) ** 2))  # noqa: E731
    for i, g in enumerate(grads):
        assert_close(extractdata(g), numerical_gradient(plain, [q, k, v], i), rtol=1e-5, atol=1e-7)
    assert_close(extractdata(dlfeval(attention_data_format, dlarray(q), dlarray(k), dlarray(v))), expected,
                 rtol=1e-10, atol=1e-12)


def test_attention_formatted_padding_mask():
    rng = np.random.default_rng(22)
    q, k, v = rng.standard_normal((4, 2, 3)), rng.standard_normal((4, 2, 5)), rng.standard_normal((4, 2, 5))
    mask = np.ones((4, 2, 5))
    mask[:, 0, 3:] = 0
    mask[:, 1, 4:] = 0
    expected = _attention_reference(q, k, v, 2, mask)
    Y, _ = attention(dlarray(q, "CBT"), dlarray(k, "CBT"), dlarray(v, "CBT"), 2, PaddingMask=mask)
    assert_close(extractdata(Y), expected, rtol=1e-10, atol=1e-12)
    Y = dlfeval(attention_cbt_masked, dlarray(q, "CBT"), dlarray(k, "CBT"), dlarray(v, "CBT"), mask)
    assert_close(extractdata(Y), expected, rtol=1e-10, atol=1e-12)


def test_attention_refuses_other_labels():
    x = dlarray(np.ones((4, 2, 3, 2)), "SSCB")
    with pytest.raises(ValueError, match="C, B and T"):
        attention(x, x, x, 2)
    with pytest.raises(sct.CompileError, match="queries are unformatted"):
        dlfeval(attention_cbt, dlarray(np.ones((2, 3, 4))), dlarray(np.ones((4, 2, 3)), "CBT"),
                dlarray(np.ones((2, 3, 4))))


# Bug (fixed): onehotdecode of a formatted "CB" dlarray decoded along its last axis (the observations)
# unless told the axis; indexcrossentropy of a "CB" dlarray read it as (batch, C) eagerly (a shape error,
# or silently wrong for as many classes as observations).  runtime/dlfun.onehotdecode reads the "C"
# label; indexcrossentropy refuses labels other than its layout, as it does when compiled.

def test_onehotdecode_formatted_reads_the_channel_label():
    scores = np.array([[0.1, 0.8, 0.3], [0.9, 0.2, 0.7]])        # 2 classes, 3 observations
    assert list(onehotdecode(dlarray(scores, "CB"), ["a", "b"])) == ["b", "a", "b"]
    assert list(onehotdecode(dlarray(scores.T, "BC"), ["a", "b"])) == ["b", "a", "b"]
    assert list(onehotdecode(scores, ["a", "b"], 0)) == ["b", "a", "b"]
    assert list(onehotdecode(scores.T, ["a", "b"])) == ["b", "a", "b"]
    encoded = onehotencode(np.array([["b", "a", "b"]]), 0, ClassNames=["a", "b"])
    assert_close(encoded, np.array([[0.0, 1.0, 0.0], [1.0, 0.0, 1.0]]))


def test_indexcrossentropy_refuses_other_labels_eagerly():
    P = np.array([[0.25, 0.75], [0.6, 0.4]])
    with pytest.raises(ValueError, match="does not read data formats"):
        indexcrossentropy(dlarray(P, "CB"), np.array([1, 0]))
    assert_close(indexcrossentropy(dlarray(P, "BC"), np.array([1, 0])), -(np.log(0.75) + np.log(0.6)) / 2,
                 rtol=1e-12)


# --- dlconv / dltranspconv / pooling against the reference pages' definitions (every Padding form) -----

def _conv_reference(x, w, b, stride, dil, pad):
    """x (H, W, C, N) "SSCB", w (kh, kw, C, F); pad ((top, bottom), (left, right))."""
    H, W, C, N = x.shape
    kh, kw, _, F = w.shape
    (pt, pb), (pl, pr) = pad
    xp = np.zeros((H + pt + pb, W + pl + pr, C, N))
    xp[pt:pt + H, pl:pl + W] = x
    ekh, ekw = (kh - 1) * dil[0] + 1, (kw - 1) * dil[1] + 1
    oh, ow = (xp.shape[0] - ekh) // stride[0] + 1, (xp.shape[1] - ekw) // stride[1] + 1
    y = np.zeros((oh, ow, F, N))
    for i in range(oh):
        for j in range(ow):
            patch = xp[i * stride[0]:i * stride[0] + ekh:dil[0], j * stride[1]:j * stride[1] + ekw:dil[1]]
            y[i, j] = np.einsum("abcn,abcf->fn", patch, w)
    return y + b.reshape(1, 1, F, 1)


def _same(n, k, s, d):
    out = -(-n // s)
    total = max((out - 1) * s + (k - 1) * d + 1 - n, 0)
    return (total // 2, total - total // 2)


def _pads(padding, sizes, kernel, stride, dil):
    if padding == "same":
        return tuple(_same(n, k, s, d) for n, k, s, d in zip(sizes, kernel, stride, dil))
    if isinstance(padding, int):
        return ((padding, padding), (padding, padding))
    if not isinstance(padding[0], list):
        return ((padding[0],) * 2, (padding[1],) * 2)
    return ((padding[0][0], padding[1][0]), (padding[0][1], padding[1][1]))     # MATLAB's [t l; b r]


@pytest.mark.parametrize("geometry", [(6, 7, 2, 3, 2, 1), (7, 6, 4, 2, 1, 2), (8, 5, 2, 2, 2, 2),
                                      (6, 6, 3, 2, (1, 2), (2, 1))])
@pytest.mark.parametrize("padding", ["same", 0, 1, [1, 2], [[1, 0], [2, 1]]])
def test_dlconv_geometry(geometry, padding):
    H, W, kh, kw, s, d = geometry
    stride = s if isinstance(s, tuple) else (s, s)
    dil = d if isinstance(d, tuple) else (d, d)
    rng = np.random.default_rng(23)
    x, w, b = rng.standard_normal((H, W, 3, 2)), rng.standard_normal((kh, kw, 3, 4)), rng.standard_normal(4)
    expected = _conv_reference(x, w, b, stride, dil, _pads(padding, (H, W), (kh, kw), stride, dil))
    y = dlconv(dlarray(x, "SSCB"), w, b, Stride=s, DilationFactor=d, Padding=padding)
    assert dims(y) == "SSCB"
    assert_close(extractdata(y), expected, rtol=1e-10, atol=1e-10)


def _pool_reference(x, k, s, pad, op, value):
    H, W = x.shape[:2]
    (pt, pb), (pl, pr) = pad
    xp = np.full((H + pt + pb, W + pl + pr) + x.shape[2:], value)
    xp[pt:pt + H, pl:pl + W] = x
    oh, ow = (xp.shape[0] - k[0]) // s[0] + 1, (xp.shape[1] - k[1]) // s[1] + 1
    y = np.zeros((oh, ow) + x.shape[2:])
    for i in range(oh):
        for j in range(ow):
            y[i, j] = op(xp[i * s[0]:i * s[0] + k[0], j * s[1]:j * s[1] + k[1]], axis=(0, 1))
    return y


@pytest.mark.parametrize("k,s,padding", [((2, 2), (2, 2), 1), ((3, 2), (2, 1), "same"),
                                         ((3, 3), (2, 2), [[1, 0], [0, 1]])])
def test_pooling_geometry(k, s, padding):
    x = np.random.default_rng(24).standard_normal((6, 6, 4, 2))
    pad = _pads(padding, (6, 6), k, s, (1, 1))
    got = maxpool(dlarray(x, "SSCB"), list(k), Stride=list(s), Padding=padding)
    assert_close(extractdata(got), _pool_reference(x, k, s, pad, np.max, -np.inf), rtol=1e-12)
    got = avgpool(dlarray(x, "SSCB"), list(k), Stride=list(s), Padding=padding)
    assert_close(extractdata(got), _pool_reference(x, k, s, pad, np.mean, 0.0), rtol=1e-12)


def _transposed_reference(x, w, b, s, d, crop):
    """x (H, W, C, N), w (kh, kw, F, C): each input pixel's contribution scattered, then cropped."""
    H, W, C, N = x.shape
    kh, kw, F, _ = w.shape
    OH, OW = (H - 1) * s[0] + (kh - 1) * d[0] + 1, (W - 1) * s[1] + (kw - 1) * d[1] + 1
    y = np.zeros((OH, OW, F, N))
    for i in range(H):
        for j in range(W):
            for a in range(kh):
                for c in range(kw):
                    y[i * s[0] + a * d[0], j * s[1] + c * d[1]] += np.einsum("cn,fc->fn", x[i, j], w[a, c])
    (t, bo), (l, r) = crop
    return y[t:OH - bo, l:OW - r] + b.reshape(1, 1, -1, 1)


@pytest.mark.parametrize("geometry", [(3, 4, 3, 2, 2, 1), (4, 3, 2, 3, (1, 2), 1), (3, 3, 3, 3, 2, 2),
                                      (4, 4, 4, 4, 3, 1)])
@pytest.mark.parametrize("cropping", [0, 1, [1, 0], [[1, 0], [0, 1]], "same"])
def test_dltranspconv_geometry(geometry, cropping):
    H, W, kh, kw, s, d = geometry
    stride = s if isinstance(s, tuple) else (s, s)
    dil = d if isinstance(d, tuple) else (d, d)
    rng = np.random.default_rng(25)
    x, w, b = rng.standard_normal((H, W, 3, 2)), rng.standard_normal((kh, kw, 4, 3)), rng.standard_normal(4)
    if cropping == "same":
        crop = tuple(((k - 1) * dd + 1 - ss) for k, ss, dd in zip((kh, kw), stride, dil))
        crop = tuple((c // 2, c - c // 2) for c in crop)
    else:
        crop = _pads(cropping, (H, W), (kh, kw), stride, dil)
    y = dltranspconv(dlarray(x, "SSCB"), w, b, Stride=s, DilationFactor=d, Cropping=cropping)
    assert dims(y) == "SSCB"
    assert_close(extractdata(y), _transposed_reference(x, w, b, stride, dil, crop), rtol=1e-10, atol=1e-10)


@pytest.mark.parametrize("mode", ["after-multiplication", "before-multiplication",
                                  "recurrent-bias-after-multiplication"])
def test_gru_reset_gate_modes_against_matlab_formula(mode):
    rng = np.random.default_rng(26)
    C, B, T, n = 4, 2, 5, 3
    x, h0 = rng.standard_normal((C, B, T)), rng.standard_normal((n, B))
    W, R = rng.standard_normal((3 * n, C)), rng.standard_normal((3 * n, n))
    b = rng.standard_normal(6 * n if mode == "recurrent-bias-after-multiplication" else 3 * n)
    h, ys = h0, []
    for t in range(T):
        bx, bh = (b[:3 * n, None], b[3 * n:, None]) if len(b) == 6 * n else (b[:, None], 0)
        zx, zh = W @ x[:, :, t] + bx, R @ h + bh
        r, z = _sg(zx[:n] + zh[:n]), _sg(zx[n:2 * n] + zh[n:2 * n])
        if mode == "before-multiplication":
            cand = np.tanh(zx[2 * n:] + R[2 * n:] @ (r * h))
        else:
            cand = np.tanh(zx[2 * n:] + r * zh[2 * n:])
        h = (1 - z) * cand + z * h
        ys.append(h)
    Y, H = gru(dlarray(x, "CBT"), h0, W, R, b, ResetGateMode=mode)
    assert dims(Y) == "CBT"
    assert_close(extractdata(Y), np.stack(ys, 2), rtol=1e-12, atol=1e-12)
    assert_close(extractdata(H), h, rtol=1e-12, atol=1e-12)
