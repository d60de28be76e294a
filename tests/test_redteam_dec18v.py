"""Red team (Dec 18, v): sct's deep-learning functions against MATLAB's documented semantics
(onehotencode, instancenorm, the losses' Reduction on formatted data, 1-D convolution and pooling
over "CBT" data, ...): values, output formats and sizes, and gradients against finite differences."""
import numpy as np
import pytest

import sct
from sct import (dlarray, dlfeval, dlgradient, extractdata, dims, instancenorm, onehotencode, crossentropy,
                 softmax)

from gradcheck import assert_close, numerical_gradient

pytestmark = pytest.mark.usefixtures("fresh_cache")   # tests/conftest.py

RNG = np.random.default_rng(20261218)


# --- onehotencode with text labels -------------------------------------------------------------------


def test_onehotencode_text_labels_against_text_classes():
    classes = ["cat", "dog", "fish"]
    expected = np.array([[1.0, 0, 0], [0, 0, 1], [1, 0, 0]])
    for labels in (["cat", "fish", "cat"], np.array(["cat", "fish", "cat"]),
                   np.array(["cat", "fish", "cat"], dtype=object)):
        assert_close(onehotencode(labels, classes), expected)
        assert_close(onehotencode(np.asarray(labels).reshape(1, 3), 0, ClassNames=classes), expected.T)
    # classes of another string width than the labels, and as an object array
    assert_close(onehotencode(np.array(["dog"]), np.array(["cat", "dog"], dtype=object)), [[0.0, 1.0]])


def test_onehotencode_text_labels_against_numeric_classes_is_refused():
    # was: every comparison unequal, all-zero rows (a zero loss, no gradient), silently
    with pytest.raises(TypeError, match="labels are text"):
        onehotencode(["cat", "dog"], 2)
    with pytest.raises(TypeError, match="labels are text"):
        onehotencode(np.array(["0", "1"]), [0, 1])
    with pytest.raises(TypeError, match="labels are numbers"):
        onehotencode(np.array([0, 1]), ["0", "1"])
    with pytest.raises(TypeError, match="labels are bytes"):
        onehotencode(np.array([b"cat", b"dog"]), ["cat", "dog"])
    with pytest.raises(ValueError, match="distinct"):
        onehotencode(["cat", "dog"], ["cat", "dog", "cat"])


def _text_label_loss(W, X, labels):
    T = onehotencode(labels, ["cat", "dog", "fish"])
    loss = crossentropy(softmax(X @ W), T)
    return loss, dlgradient(loss, W)


def test_onehotencode_text_labels_in_dlfeval_value_and_gradient():
    W = RNG.standard_normal((4, 3))
    X = RNG.standard_normal((5, 4))
    labels = ["cat", "dog", "fish", "dog", "cat"]
    T = np.eye(3)[[0, 1, 2, 1, 0]]

    def plain(W):
        Z = X @ W
        P = np.exp(Z - Z.max(1, keepdims=True))
        P /= P.sum(1, keepdims=True)
        return -np.sum(T * np.log(P)) / 5

    loss, g = dlfeval(_text_label_loss, dlarray(W), X, labels)
    assert_close(extractdata(loss), plain(W), rtol=1e-12)
    assert_close(extractdata(g), numerical_gradient(plain, [W], 0), rtol=1e-6)

    def wrong(W, X, labels):
        T = onehotencode(labels, 3)
        loss = crossentropy(softmax(X @ W), T)
        return loss, dlgradient(loss, W)

    with pytest.raises(sct.EvaluationError, match="labels are text"):
        dlfeval(wrong, dlarray(W), X, labels)


# --- instancenorm needs a spatial or time dimension ------------------------------------------------------


def _inorm(X, offset, scale):
    y = instancenorm(X, offset, scale)
    return y, dlgradient(np.sum(y ** 3), X)


def test_instancenorm_without_spatial_or_time_axis_is_refused():
    X = RNG.standard_normal((3, 4))
    off, sc = np.zeros(3), np.ones(3)
    # was: every entry its own instance, all zeros (and a zero gradient)
    for call in (lambda: instancenorm(dlarray(X, "CB"), off, sc), lambda: instancenorm(X.T, off, sc),
                 lambda: instancenorm(X, off, sc, DataFormat="CB")):
        with pytest.raises(ValueError, match="spatial"):
            call()
    with pytest.raises(sct.CompileError, match="spatial"):
        dlfeval(_inorm, dlarray(X, "CB"), off, sc)
    with pytest.raises(sct.EvaluationError, match="spatial"):
        dlfeval(_inorm, dlarray(X.T), off, sc)


def test_instancenorm_over_time_and_space_matches_the_definition():
    off, sc = RNG.standard_normal(3), RNG.standard_normal(3)
    for fmt, shape, axes in (("CBT", (3, 2, 5), (2,)), ("SCB", (5, 3, 2), (0,)), ("SSCB", (4, 3, 3, 2), (0, 1))):
        X = RNG.standard_normal(shape)
        c = fmt.index("C")
        view = [1] * len(fmt)
        view[c] = 3

        def plain(X):
            mu = X.mean(axis=axes, keepdims=True)
            var = ((X - mu) ** 2).mean(axis=axes, keepdims=True)
            return sc.reshape(view) * (X - mu) / np.sqrt(var + 1e-5) + off.reshape(view)

        y, g = dlfeval(_inorm, dlarray(X, fmt), off, sc)
        assert dims(y) == fmt and y.shape == shape
        assert_close(extractdata(y), plain(X), rtol=1e-10)
        assert_close(extractdata(g), numerical_gradient(lambda X: np.sum(plain(X) ** 3), [X], 0), rtol=1e-5,
                     atol=1e-6)


# --- 1-D convolution and pooling over time ("CBT"): MATLAB's WeightsFormat="TCU" / PoolFormat="T" -----------

from sct import avgpool, dlconv, maxpool  # noqa: E402

XT = RNG.standard_normal((3, 2, 7))          # C, B, T
WT = RNG.standard_normal((2, 3, 4))          # filterSize, C, filters ("TCU")
BT = RNG.standard_normal(4)


def _over_time(X, W, b):
    """The reference: the same layers on (B, T, C) data, sct's 1-D layout (MATLAB's "SCB" read as "TCB")."""
    y = dlconv(X.transpose(1, 2, 0), W, b, Padding="same")
    return avgpool(maxpool(y, 2, Stride=2), 2).transpose(2, 0, 1)


def _time_layers(X, W, b):
    y = dlconv(X, W, b, WeightsFormat="TCU", Padding="same")
    w = avgpool(maxpool(y, 2, PoolFormat="T", Stride=2), 2, PoolFormat="T")
    return w, dlgradient(np.sum(w ** 2), X, W, b)


def test_cbt_convolution_and_pooling_over_time_eager():
    ref = dlconv(XT.transpose(1, 2, 0), WT, BT).transpose(2, 0, 1)
    for y in (dlconv(dlarray(XT, "CBT"), WT, BT, WeightsFormat="TCU"), dlconv(dlarray(XT, "CBT"), dlarray(WT, "TCU"), BT)):
        assert dims(y) == "CBT" and y.shape == (4, 2, 6)
        assert_close(extractdata(y), ref, rtol=1e-12)
    y = dlconv(XT, WT, BT, DataFormat="CBT", WeightsFormat="TCU")
    assert dims(y) == "" and y.shape == (4, 2, 6)
    for fn in (maxpool, avgpool):
        y = fn(dlarray(XT, "CBT"), 2, Stride=2, PoolFormat="T")
        assert dims(y) == "CBT" and y.shape == (3, 2, 3)
        assert_close(extractdata(y), fn(XT.transpose(1, 2, 0), 2, Stride=2).transpose(2, 0, 1), rtol=1e-12)
    # "TCB" order: the same pooling over T
    y = maxpool(dlarray(XT.transpose(2, 0, 1), "TCB"), 3, PoolFormat="T")
    assert dims(y) == "TCB" and y.shape == (5, 3, 2)
    assert_close(extractdata(y), maxpool(XT.transpose(1, 2, 0), 3).transpose(1, 2, 0), rtol=1e-12)


def test_cbt_over_time_in_dlfeval_values_and_gradients():
    y, grads = dlfeval(_time_layers, dlarray(XT, "CBT"), dlarray(WT), dlarray(BT))
    assert dims(y) == "CBT"
    assert_close(extractdata(y), _over_time(XT, WT, BT), rtol=1e-12)
    for i, g in enumerate(grads):
        expected = numerical_gradient(lambda *a: np.sum(_over_time(*a) ** 2), [XT, WT, BT], i)
        assert_close(extractdata(g), expected, rtol=1e-5, atol=1e-6)


def _conv_plain(X, W, b):
    return dlconv(X, W, b)


def test_cbt_without_time_option_is_refused_naming_it():
    # MATLAB slides over the "S" dimensions unless the weights or pooling region have a "T"; sct's message
    # said only that 'CBT' has no S
    with pytest.raises(ValueError, match="PoolFormat='T'"):
        maxpool(dlarray(XT, "CBT"), 2)
    with pytest.raises(ValueError, match="WeightsFormat='TCU'"):
        dlconv(dlarray(XT, "CBT"), WT, BT)
    with pytest.raises(sct.CompileError, match="WeightsFormat='TCU'"):
        dlfeval(_conv_plain, dlarray(XT, "CBT"), WT, BT)
    y = dlfeval(_conv_plain, dlarray(XT, "CBT"), dlarray(WT, "TCU"), BT)     # labelled weights: over T
    assert dims(y) == "CBT"
    assert_close(extractdata(y), dlconv(XT.transpose(1, 2, 0), WT, BT).transpose(2, 0, 1), rtol=1e-12)
    with pytest.raises(ValueError, match="does not fit"):
        maxpool(dlarray(XT, "CBT"), 2, PoolFormat="S")
    with pytest.raises(ValueError, match="formatted data"):
        maxpool(XT.transpose(1, 2, 0), 2, PoolFormat="T")        # unformatted: refused, not ignored


# --- Reduction="none" on formatted losses: MATLAB's unreduced loss, unformatted, of Y's size -----------------

from sct import huber, l1loss, l2loss  # noqa: E402

YL = RNG.random((3, 4, 5))
YL /= YL.sum(0)                              # C, B, T probabilities
TL = RNG.random((3, 4, 5))
TL /= TL.sum(0)
ML = (RNG.random((3, 4, 5)) > 0.3).astype(float)
WC = np.array([0.5, 1.0, 2.0])               # per class


def _elementwise(name, Y, T):
    d = Y - T
    return {"crossentropy": -T * np.log(Y), "l1loss": np.abs(d), "l2loss": d ** 2,
            "huber": np.where(np.abs(d) <= 1, 0.5 * d ** 2, np.abs(d) - 0.5)}[name]


LOSSES = {"crossentropy": crossentropy, "l1loss": l1loss, "l2loss": l2loss, "huber": huber}


@pytest.mark.parametrize("name", sorted(LOSSES))
def test_reduction_none_on_formatted_data_eager(name):
    fn = LOSSES[name]
    # was refused ("Reduction='none' ... is taken for data in sct's layout")
    for kw, factor in (({}, 1.0), ({"Mask": ML}, ML), ({"weights": WC, "WeightsFormat": "C"}, WC[:, None, None])):
        got = fn(dlarray(YL, "CBT"), TL, Reduction="none", **kw)
        assert dims(got) == "" and got.shape == YL.shape
        assert_close(extractdata(got), _elementwise(name, YL, TL) * factor, rtol=1e-12)
    # targets labelled in another order are aligned first; DataFormat= on unformatted data
    got = fn(dlarray(YL, "CBT"), dlarray(TL.transpose(1, 2, 0), "BTC"), Reduction="none")
    assert got.shape == YL.shape
    assert_close(extractdata(got), _elementwise(name, YL, TL), rtol=1e-12)
    got = fn(YL, TL, DataFormat="CBT", Reduction="none")
    assert_close(got, _elementwise(name, YL, TL), rtol=1e-12)


def _unreduced(Y, T, M):
    a = crossentropy(Y, T, Mask=M, Reduction="none")
    b = huber(Y, T, Reduction="none")
    z = np.sum(a * np.arange(60.0).reshape(3, 4, 5)) + np.sum(b ** 2)
    return a, b, dlgradient(z, Y)


def test_reduction_none_on_formatted_data_in_dlfeval():
    a, b, g = dlfeval(_unreduced, dlarray(YL, "CBT"), dlarray(TL.transpose(1, 2, 0), "BTC"), ML)
    assert dims(a) == "" and dims(b) == "" and a.shape == b.shape == YL.shape and dims(g) == "CBT"
    assert_close(extractdata(a), _elementwise("crossentropy", YL, TL) * ML, rtol=1e-12)
    assert_close(extractdata(b), _elementwise("huber", YL, TL), rtol=1e-12)

    def plain(Y):
        return np.sum(_elementwise("crossentropy", Y, TL) * ML * np.arange(60.0).reshape(3, 4, 5)) + \
            np.sum(_elementwise("huber", Y, TL) ** 2)
    assert_close(extractdata(g), numerical_gradient(plain, [YL], 0), rtol=1e-5, atol=1e-6)


def test_reduction_none_crossentropy_without_batch_label():
    got = crossentropy(dlarray(YL[:, 0, :], "CT"), TL[:, 0, :], Reduction="none")
    assert dims(got) == "" and got.shape == (3, 5)
    assert_close(extractdata(got), -TL[:, 0, :] * np.log(YL[:, 0, :]), rtol=1e-12)


# --- onehotdecode of formatted scores inside dlfeval; text results come back as they are ------------------

from sct import onehotdecode  # noqa: E402

SCORES = np.array([[0.1, 0.7, 0.3], [0.2, 0.2, 0.6], [0.7, 0.1, 0.1]])   # C, B (square: either axis decodes)


def _decode(Y):
    labels = onehotdecode(softmax(Y), ["a", "b", "c"])
    return labels, dlgradient(np.sum(softmax(Y)[0]), Y)


def test_onehotdecode_reads_the_c_label_in_dlfeval():
    expected = ["c", "a", "b"]                  # the argmax over C (axis 0) of each observation
    assert list(onehotdecode(dlarray(SCORES, "CB"), ["a", "b", "c"])) == expected
    # was: the last axis read in compiled code (the labels are not there when it runs): ['b', 'c', 'a']
    # here, an IndexError for non-square scores; and the text result raised "could not convert string to
    # float" inside sct when dlfeval returned it
    labels, g = dlfeval(_decode, dlarray(SCORES, "CB"))
    assert isinstance(labels, np.ndarray) and list(labels) == expected
    assert list(dlfeval(_decode, dlarray(SCORES.T, "BC"))[0]) == expected
    assert list(dlfeval(_decode, dlarray(SCORES[:, :2], "CB"))[0]) == expected[:2]
    assert list(dlfeval(_decode, dlarray(SCORES.T))[0]) == expected      # unformatted: the last axis


def test_onehotencode_typename_positional():
    got = onehotencode(np.array([["b", "a"]]), 0, "logical", ClassNames=["a", "b"])
    assert got.dtype == np.bool_ and got.tolist() == [[False, True], [True, False]]
    assert onehotencode(np.array([["b", "a"]]), 0, "single", ClassNames=["a", "b"]).dtype == np.float32


# --- crossentropy's targets must be the predictions' size -------------------------------------------------


def _ce(Y, T):
    loss = crossentropy(softmax(Y), T)
    return loss, dlgradient(loss, Y)


def test_crossentropy_targets_of_another_size_are_refused():
    Y = RNG.standard_normal((2, 3))
    # was: T (2, 1) broadcast against (2, 3), every class given the same target: a number with no meaning
    with pytest.raises(ValueError, match="targets have shape"):
        crossentropy(softmax(Y), np.ones((2, 1)))
    with pytest.raises(sct.EvaluationError, match="targets have shape"):
        dlfeval(_ce, dlarray(Y), np.ones((2, 1)))
    with pytest.raises(ValueError, match="targets have shape"):
        crossentropy(softmax(dlarray(Y.T, "CB")), np.ones((3, 1)))
    T = np.eye(3)[[2, 0]]
    loss, g = dlfeval(_ce, dlarray(Y), T)
    P = np.exp(Y) / np.exp(Y).sum(1, keepdims=True)
    assert_close(extractdata(loss), -np.sum(T * np.log(P)) / 2, rtol=1e-12)
    assert_close(extractdata(g), (P - T) / 2, rtol=1e-10)


# --- sct's reduction="none" (per observation) on formatted data: Y's order without C --------------------------

YS = RNG.random((4, 4, 3))
YS /= YS.sum(2, keepdims=True)               # T, B, C (T == B: a transposed result has the same shape)
TS = np.eye(3)[RNG.integers(0, 3, (4, 4))]
WS = np.arange(16.0).reshape(4, 4)


def _per_observation(Y, T):
    loss = crossentropy(Y, T, reduction="none")
    return loss, dlgradient(np.sum(loss * WS), Y)


def test_sct_reduction_none_keeps_y_order():
    expected = -(TS * np.log(YS)).sum(2)                 # (T, B): "shaped like y_pred without axis"
    # was (B, T): batch first, the layout sct computes in, silently transposed for square T x B
    assert_close(extractdata(crossentropy(dlarray(YS, "TBC"), TS, reduction="none")), expected, rtol=1e-12)
    loss, g = dlfeval(_per_observation, dlarray(YS, "TBC"), TS)
    assert_close(extractdata(loss), expected, rtol=1e-12)
    assert_close(extractdata(g), -TS / YS * WS[:, :, None], rtol=1e-12)
    loss, g = dlfeval(_per_observation, dlarray(YS.transpose(2, 0, 1), "CTB"), TS.transpose(2, 0, 1))
    assert_close(extractdata(loss), expected, rtol=1e-12)
    assert_close(extractdata(g), (-TS / YS * WS[:, :, None]).transpose(2, 0, 1), rtol=1e-12)


# --- a user's 1-D CNN over time: parameters in a dict, text labels, "CBT" data ---------------------------------

from sct import fullyconnect, layernorm, relu  # noqa: E402

XC = RNG.standard_normal((2, 5, 8))          # C, B, T
PARAMS = {"conv": {"W": RNG.standard_normal((3, 2, 4)) * 0.5, "b": np.zeros(4)},
          "ln": {"off": np.zeros(4), "sc": np.ones(4)},
          "fc": {"W": RNG.standard_normal((3, 4)) * 0.5, "b": np.zeros(3)}}
LABELS = ["x", "y", "z", "y", "x"]


def _sequence_model(p, X, labels):
    h = dlconv(X, p["conv"]["W"], p["conv"]["b"], WeightsFormat="TCU", Padding="causal")
    h = relu(layernorm(h, p["ln"]["off"], p["ln"]["sc"]))
    h = maxpool(h, 2, Stride=2, PoolFormat="T")
    h = np.mean(h, axis=2)
    y = softmax(fullyconnect(h, p["fc"]["W"], p["fc"]["b"]))
    T = onehotencode(np.array(labels)[None, :], 0, ClassNames=["x", "y", "z"])
    loss = crossentropy(y, T)
    return loss, dlgradient(loss, p), dims(y)


def _sequence_plain(W1, Wfc):
    h = np.asarray(dlconv(XC.transpose(1, 2, 0), W1, np.zeros(4), Padding="causal"))    # (B, T, C)
    h = (h - h.mean(2, keepdims=True)) / np.sqrt(h.var(2, keepdims=True) + 1e-5)
    h = np.asarray(maxpool(np.maximum(h, 0), 2, Stride=2)).mean(1)
    z = h @ Wfc.T
    y = np.exp(z - z.max(1, keepdims=True))
    y /= y.sum(1, keepdims=True)
    return -np.sum(np.eye(3)[[0, 1, 2, 1, 0]] * np.log(y)) / 5


def test_user_sequence_cnn_over_time():
    P = {k: {kk: dlarray(vv) for kk, vv in v.items()} for k, v in PARAMS.items()}
    loss, g, fmt = dlfeval(_sequence_model, P, dlarray(XC, "CBT"), LABELS)
    assert fmt == "CB"
    W1, Wfc = PARAMS["conv"]["W"], PARAMS["fc"]["W"]
    assert_close(extractdata(loss), _sequence_plain(W1, Wfc), rtol=1e-12)
    assert_close(extractdata(g["conv"]["W"]), numerical_gradient(_sequence_plain, [W1, Wfc], 0), rtol=1e-5, atol=1e-7)
    assert_close(extractdata(g["fc"]["W"]), numerical_gradient(_sequence_plain, [W1, Wfc], 1), rtol=1e-5, atol=1e-7)


# --- the regression losses' targets must be the predictions' size ------------------------------------------


def _l2(Y, T):
    loss = l2loss(Y, T)
    return loss, dlgradient(loss, Y)


def test_regression_loss_targets_of_another_size_are_refused():
    Y = np.ones((4, 1))
    # was: (4,) targets against (4, 1) predictions broadcast to a 4 x 4 table of differences: 4.0 for 1.0
    for fn in (l1loss, l2loss, huber):
        with pytest.raises(ValueError, match="targets have shape"):
            fn(Y, np.zeros(4))
    with pytest.raises(sct.EvaluationError, match="targets have shape"):
        dlfeval(_l2, dlarray(Y), np.zeros(4))
    loss, g = dlfeval(_l2, dlarray(Y), np.zeros((4, 1)))
    assert_close(extractdata(loss), 1.0, rtol=1e-12)          # sum((Y - T)^2) / N, N = 4
    assert_close(extractdata(g), np.full((4, 1), 0.5), rtol=1e-12)


def _mse(Y, T):
    loss = sct.mse(Y, T)
    return loss, dlgradient(loss, Y)


def test_mse_targets_broadcast_only_into_the_predictions():
    Y = np.ones((4, 1))
    # was: 2.0 (a 4 x 4 table of differences over 2N) for 0.5
    with pytest.raises(ValueError, match="does not broadcast into"):
        sct.mse(Y, np.zeros(4))
    with pytest.raises(sct.EvaluationError, match="does not broadcast into"):
        dlfeval(_mse, dlarray(Y), np.zeros(4))
    assert_close(sct.mse(Y, np.zeros((4, 1))), 0.5, rtol=1e-12)
    assert_close(sct.mse(np.ones((4, 3)), np.zeros(3)), 1.5, rtol=1e-12)     # sct's documented broadcast
    loss, g = dlfeval(_mse, dlarray(np.ones((4, 3))), 0.0)
    assert_close(extractdata(loss), 1.5, rtol=1e-12)
    assert_close(extractdata(g), np.full((4, 3), 0.25), rtol=1e-12)


# --- softmax/crossentropy axis= on formatted data ----------------------------------------------------------


def _softmax_axis1(x):
    y = softmax(x, axis=1)
    return dlgradient(np.sum(y[0]), x)


def _softmax_axis0(x):
    y = softmax(x, axis=0)
    return y, dlgradient(np.sum(y[0] * np.arange(4.0)), x)


def test_softmax_axis_other_than_c_on_formatted_data_is_refused():
    X = RNG.random((3, 4))
    P = np.exp(X) / np.exp(X).sum(0)
    # was: the C axis used silently in place of the axis asked for
    with pytest.raises(ValueError, match="puts the channels on axis 0"):
        softmax(dlarray(X, "CB"), axis=1)
    with pytest.raises(ValueError, match="puts the channels on axis 0"):
        crossentropy(dlarray(P, "CB"), np.eye(3)[:, [0, 1, 2, 0]], axis=1)
    with pytest.raises(sct.CompileError, match="puts the channels on axis 0"):
        dlfeval(_softmax_axis1, dlarray(X, "CB"))
    assert_close(extractdata(softmax(dlarray(X, "CB"), axis=0)), P, rtol=1e-12)
    assert_close(extractdata(softmax(dlarray(X, "CB"))), P, rtol=1e-12)
    y, g = dlfeval(_softmax_axis0, dlarray(X, "CB"))
    assert_close(extractdata(y), P, rtol=1e-12)

    def plain(X):
        P = np.exp(X) / np.exp(X).sum(0)
        return np.sum(P[0] * np.arange(4.0))
    assert_close(extractdata(g), numerical_gradient(plain, [X], 0), rtol=1e-6, atol=1e-8)


def _weighted_unreduced(Y, T, w):
    loss = l1loss(Y, T, w, Reduction="none")
    return loss, dlgradient(np.sum(loss ** 2), Y, w)


def test_reduction_none_with_labelled_observation_weights_in_dlfeval():
    wb = RNG.random(4)
    loss, (gy, gw) = dlfeval(_weighted_unreduced, dlarray(YL, "CBT"), TL, dlarray(wb, "B"))
    ref = np.abs(YL - TL) * wb[None, :, None]
    assert dims(loss) == "" and dims(gw) == "B"
    assert_close(extractdata(loss), ref, rtol=1e-12)
    assert_close(extractdata(gy), 2 * ref * np.sign(YL - TL) * wb[None, :, None], rtol=1e-12)
    assert_close(extractdata(gw), (2 * ref * np.abs(YL - TL)).sum((0, 2)), rtol=1e-12)
