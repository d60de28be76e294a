"""Red team (dec14h): MATLAB's fullyconnect on formatted data with several feature dimensions.

MATLAB stores a formatted dlarray in its order S.., C, B, T, U and, column-major, flattens an
observation's spatial, channel (and unspecified) values with the first S fastest: its
outputSize-by-inputSize weight matrix (``weights = initializeGlorot([outputSize, H*W*C])`` then
``fullyconnect(X, weights, bias)`` of an "SSCB" X) reads feature ``h + H*w + H*W*c``.  sct flattened
them row-major in X's order (``(h*W + w)*C + c``): with MATLAB's weight matrix another value, silently
(its 4-D (out, H, W, C) weights agreed, since they were flattened the same wrong way).  Now the
features are MATLAB's for every order of the labels, and 4-D weights are MATLAB's ``weights(:, :)``.
Values against numpy by hand (column-major, ``order="F"``); gradients against central differences.
"""
import numpy as np
import pytest

import sct
from sct import dims, dlarray, dlfeval, dlgradient, extractdata, fullyconnect, stripdims
from tests.gradcheck import assert_close, numerical_gradient

rng = np.random.default_rng(1214)
H, W, C, B, OUT = 3, 4, 2, 5, 3
X_SSCB = rng.standard_normal((H, W, C, B))
W_MAT = rng.standard_normal((OUT, H * W * C))
W_4D = rng.standard_normal((OUT, H, W, C))
BIAS = rng.standard_normal((OUT, 1))
WY = rng.standard_normal((OUT, B))


def matlab_fc(x_sscb, weights, bias):
    """MATLAB's Y = fullyconnect(X, weights, bias) for X of size H-by-W-by-C-by-B ("SSCB"): (OUT, B)."""
    features = np.reshape(x_sscb, (-1, x_sscb.shape[-1]), order="F")        # X(:, :) column-major
    matrix = np.reshape(weights, (weights.shape[0], -1), order="F")         # weights(:, :)
    return matrix @ features + np.reshape(bias, (-1, 1))


# --- the minimal program: MATLAB's weight matrix ---------------------------------------------------

def test_weight_matrix_reads_the_features_column_major_eagerly():
    Y = fullyconnect(dlarray(X_SSCB, "SSCB"), W_MAT, BIAS)
    assert dims(Y) == "CB" and Y.shape == (OUT, B)
    assert_close(extractdata(Y), matlab_fc(X_SSCB, W_MAT, BIAS), rtol=1e-12, atol=1e-12)
    # was: the features row-major, (h*W + w)*C + c
    wrong = W_MAT @ np.reshape(X_SSCB, (-1, B)) + BIAS
    assert not np.allclose(extractdata(Y), wrong)


@pytest.mark.parametrize("fmt, order", [("SSCB", (0, 1, 2, 3)), ("BSSC", (3, 0, 1, 2)), ("CBSS", (2, 3, 0, 1)),
                                        ("SCSB", (0, 2, 1, 3))])
def test_every_order_of_the_labels_is_matlabs(fmt, order):
    # the same data labelled in another numpy order: MATLAB permutes it into S, S, C, B first
    x = np.transpose(X_SSCB, order)
    for weights in (W_MAT, W_4D):
        Y = fullyconnect(dlarray(x, fmt), weights, BIAS)
        expected = matlab_fc(X_SSCB, weights, BIAS)
        got = extractdata(Y) if dims(Y) == "CB" else extractdata(Y).T
        assert_close(got, expected, rtol=1e-12, atol=1e-12, what=f"{fmt} {weights.ndim}-D weights")
    plain = fullyconnect(x, W_MAT, BIAS, DataFormat=fmt)
    assert type(plain) is np.ndarray
    assert_close(plain if dims(Y) == "CB" else plain.T, matlab_fc(X_SSCB, W_MAT, BIAS), rtol=1e-12)


def test_four_d_weights_are_matlabs_weights_colon():
    Y4 = fullyconnect(dlarray(X_SSCB, "SSCB"), W_4D, BIAS)
    Ym = fullyconnect(dlarray(X_SSCB, "SSCB"), np.reshape(W_4D, (OUT, -1), order="F"), BIAS)
    assert_close(extractdata(Y4), extractdata(Ym), rtol=1e-12, atol=1e-12)


def test_one_d_images_and_single_feature_axes():
    x = rng.standard_normal((6, 2, 3))                                     # "SCB": S=6, C=2, B=3
    w = rng.standard_normal((4, 12))
    Y = fullyconnect(dlarray(x, "SCB"), w, np.zeros(4))
    assert_close(extractdata(Y), w @ np.reshape(x, (12, 3), order="F"), rtol=1e-12)
    xc = rng.standard_normal((5, 3))                                       # "CB": nothing to flatten
    wc = rng.standard_normal((2, 5))
    assert_close(extractdata(fullyconnect(dlarray(xc, "CB"), wc, 0.0)), wc @ xc, rtol=1e-12)


# --- through dlfeval, MATLAB's modelLoss: parameters in a struct, gradients of every input --------

def model(parameters, X):
    Y = fullyconnect(X, parameters["fc"]["Weights"], parameters["fc"]["Bias"])
    return np.tanh(Y)


def model_loss(parameters, X):
    Y = model(parameters, X)
    loss = np.sum(WY * stripdims(Y))
    gradients = dlgradient(loss, parameters)
    return loss, gradients, dlgradient(loss, X), dims(Y)


def reference_loss(x, weights, bias):
    return float(np.sum(WY * np.tanh(matlab_fc(x, weights, bias))))


@pytest.mark.parametrize("weights", [W_MAT, W_4D], ids=["matrix", "4-D"])
def test_model_loss_values_and_gradients(weights):
    parameters = {"fc": {"Weights": dlarray(weights), "Bias": dlarray(BIAS)}}
    loss, grads, gX, d = dlfeval(model_loss, parameters, dlarray(X_SSCB, "SSCB"))
    assert d == "CB"
    assert_close(float(loss), reference_loss(X_SSCB, weights, BIAS), rtol=1e-12)
    args = [X_SSCB, weights, BIAS]
    f = lambda x, w, b: reference_loss(x, w, b)
    assert grads["fc"]["Weights"].shape == weights.shape and grads["fc"]["Bias"].shape == (OUT, 1)
    assert_close(extractdata(grads["fc"]["Weights"]), numerical_gradient(f, args, 1), what="dW")
    assert_close(extractdata(grads["fc"]["Bias"]), numerical_gradient(f, args, 2), what="db")
    assert_close(extractdata(gX), numerical_gradient(f, args, 0), what="dX")
    assert dims(gX) == "SSCB"


def penalty_loss(w, X):
    loss = np.sum(WY * np.tanh(stripdims(fullyconnect(X, w, 0.0))))
    g = dlgradient(loss, w, EnableHigherDerivatives=True)
    z = np.sum(g * g)
    return z, dlgradient(z, w)


@pytest.mark.parametrize("weights", [W_MAT, W_4D], ids=["matrix", "4-D"])
def test_second_order_through_the_weights(weights):
    def z_of(w):
        _, g = dlfeval(lambda w, X: (0.0, dlgradient(np.sum(WY * np.tanh(stripdims(fullyconnect(X, w, 0.0)))), w)),
                       dlarray(w), dlarray(X_SSCB, "SSCB"))
        return float(np.sum(extractdata(g) ** 2))

    def z_ref(w):
        # d/dW of sum(WY * tanh(M X)) by hand, in weights' shape
        m = np.reshape(w, (OUT, -1), order="F")
        feats = np.reshape(X_SSCB, (-1, B), order="F")
        gm = (WY * (1 - np.tanh(m @ feats) ** 2)) @ feats.T
        return float(np.sum(gm ** 2))

    assert_close(z_of(weights), z_ref(weights), rtol=1e-10)
    z, gz = dlfeval(penalty_loss, dlarray(weights), dlarray(X_SSCB, "SSCB"))
    assert_close(float(z), z_ref(weights), rtol=1e-10)
    assert_close(extractdata(gz), numerical_gradient(z_ref, [weights.copy()], 0), rtol=1e-5, atol=1e-6)


def fc_of_formatted_constant(w):
    return np.sum(np.sin(fullyconnect(dlarray(X_SSCB, "SSCB"), w, 0.5)))


@pytest.mark.parametrize("weights", [W_MAT, W_4D], ids=["matrix", "4-D"])
def test_jvp_through_the_weights(weights):
    v = rng.standard_normal(weights.shape)
    ref = lambda w: float(np.sum(np.sin(matlab_fc(X_SSCB, w, np.full((OUT, 1), 0.5)))))
    for mode in ("forward", "transpose"):
        y, jv = sct.jvp(fc_of_formatted_constant, (weights,), (v,), mode=mode)
        assert_close(float(np.asarray(getattr(y, "data", y))), ref(weights), rtol=1e-12)
        expected = (ref(weights + 1e-6 * v) - ref(weights - 1e-6 * v)) / 2e-6
        assert_close(float(np.asarray(getattr(jv, "data", jv))), expected, rtol=1e-6, what=mode)


def keyword_weights(w, X):
    loss = np.sum(WY * stripdims(fullyconnect(X, weights=w, bias=BIAS)))
    return loss, dlgradient(loss, w)


def test_weights_by_keyword_in_dlfeval():
    loss, g = dlfeval(keyword_weights, dlarray(W_MAT), dlarray(X_SSCB, "SSCB"))
    assert_close(float(loss), float(np.sum(WY * matlab_fc(X_SSCB, W_MAT, BIAS))), rtol=1e-12)
    assert_close(extractdata(g), WY @ np.reshape(X_SSCB, (-1, B), order="F").T, rtol=1e-12)


# --- lstm / gru: S axes flattened into the channels as MATLAB's X(:, :) (was row-major in X's order) --

HID = 3
RNN_W = rng.standard_normal((4 * HID, 6)) * 0.5
RNN_R = rng.standard_normal((4 * HID, HID)) * 0.5
RNN_B = rng.standard_normal(4 * HID) * 0.1


def sigmoid_ref(z):
    return 1 / (1 + np.exp(-z))


def lstm_ref(x_fbt, w, r, b):
    """MATLAB's lstm of features-by-batch-by-time data, zero states: Y (hidden, batch, time)."""
    h = np.zeros((HID, x_fbt.shape[1]))
    c = np.zeros_like(h)
    ys = []
    for t in range(x_fbt.shape[2]):
        z = w @ x_fbt[:, :, t] + r @ h + b[:, None]
        i, f, g, o = sigmoid_ref(z[:HID]), sigmoid_ref(z[HID:2 * HID]), np.tanh(z[2 * HID:3 * HID]), sigmoid_ref(z[3 * HID:])
        c = f * c + i * g
        h = o * np.tanh(c)
        ys.append(h)
    return np.stack(ys, axis=2)


def lstm_loss(X, w):
    Y = sct.lstm(X, np.zeros(HID), np.zeros(HID), w, RNN_R, RNN_B, nargout=3)[0]
    loss = np.sum(stripdims(Y) ** 2)
    return loss, dlgradient(loss, X, w), Y


@pytest.mark.parametrize("fmt, order", [("SCBT", (0, 1, 2, 3)), ("CSBT", (1, 0, 2, 3)), ("BTSC", (2, 3, 0, 1))])
def test_lstm_spatial_channels_are_matlabs_features(fmt, order):
    xs = rng.standard_normal((2, 3, 2, 4))            # S=2, C=3, B=2, T=4 (MATLAB's order S, C, B, T)
    features = lambda v: np.reshape(v, (6, 2, 4), order="F")                 # X(:, :, :) column-major
    x = np.transpose(xs, order)
    Y = sct.lstm(dlarray(x, fmt), np.zeros(HID), np.zeros(HID), RNN_W, RNN_R, RNN_B, nargout=3)[0]
    expected = lstm_ref(features(xs), RNN_W, RNN_R, RNN_B)          # (hidden, B, T)
    got = extractdata(Y)
    got = got if dims(Y) == "CBT" else np.transpose(got, [dims(Y).index(c) for c in "CBT"])
    assert_close(got, expected, rtol=1e-10, atol=1e-12, what=fmt)
    loss, (gx, gw), _ = dlfeval(lstm_loss, dlarray(x, fmt), dlarray(RNN_W))
    ref = lambda v, w: float(np.sum(lstm_ref(features(np.transpose(v, np.argsort(order))), w, RNN_R, RNN_B) ** 2))
    assert_close(float(loss), ref(x, RNN_W), rtol=1e-10)
    assert_close(extractdata(gx), numerical_gradient(ref, [x, RNN_W], 0), rtol=1e-5, atol=1e-7, what="dX")
    assert_close(extractdata(gw), numerical_gradient(ref, [x, RNN_W], 1), rtol=1e-5, atol=1e-7, what="dW")


# --- sequences of images in a dlnetwork: flattenLayer and fullyConnectedLayer keep the time dimension ---
# MATLAB's flattenLayer: "if the input to the layer is an H-by-W-by-C-by-N-by-S array (sequences of
# images), then the flattened output is an (H*W*C)-by-N-by-S array".  sct's merged T into the features
# ((B, T*H*W*C) labelled "BC"); a fullyConnectedLayer, sized on the one-step example, then raised numpy's
# matmul error, and flattenLayer -> lstmLayer an IndexError.

from sct import (dlnetwork, flattenLayer, forward, fullyConnectedLayer, imageInputLayer, lstmLayer,  # noqa: E402
                 predict, sequenceInputLayer)

X_SEQ = rng.standard_normal((2, 3, 4, 3, 2))          # sct's layout (B, T, H, W, C)


def test_flatten_layer_keeps_the_time_of_image_sequences():
    net = dlnetwork([sequenceInputLayer((4, 3, 2)), flattenLayer()])
    y = predict(net, X_SEQ)
    assert np.shape(y) == (2, 3, 24)
    for b in range(2):
        for t in range(3):          # each time step's image flattened on its own, column-major (MATLAB's)
            assert_close(np.asarray(getattr(y, "data", y))[b, t], np.reshape(X_SEQ[b, t], -1, order="F"), rtol=0, atol=0)
    Y = predict(net, dlarray(np.transpose(X_SEQ, (2, 3, 4, 0, 1)), "SSCBT"))          # MATLAB's layout
    assert dims(Y) == "BTC" and Y.shape == (2, 3, 24)
    Z = predict(dlnetwork([sequenceInputLayer((4, 3, 2)), flattenLayer(), lstmLayer(5)], Seed=0), X_SEQ)
    assert np.shape(Z) == (2, 3, 5)


def sequence_loss(net, X):
    Y, state = forward(net, X)
    loss = np.sum(stripdims(Y) ** 2)
    return loss, dlgradient(loss, net.Learnables), dlgradient(loss, X), dims(Y)


@pytest.mark.parametrize("flatten", [True, False], ids=["flatten+fc", "fc"])
def test_fully_connected_layer_on_image_sequences_values_and_gradients(flatten):
    layers = [sequenceInputLayer((4, 3, 2))] + ([flattenLayer()] if flatten else []) + [fullyConnectedLayer(3)]
    net = dlnetwork(layers, Seed=0)
    assert net.Learnables.Value[0].shape == (3, 24)
    Wt, bt = extractdata(net.Learnables.Value[0]), extractdata(net.Learnables.Value[1])

    def ref(x, w, b):
        return float(np.sum((np.reshape(np.transpose(x, (0, 1, 4, 3, 2)), (2, 3, -1)) @ w.T + b) ** 2))
    y = predict(net, X_SEQ)
    assert np.shape(y) == (2, 3, 3)
    loss, g, gx, d = dlfeval(sequence_loss, net, dlarray(X_SEQ, "BTSSC"))
    assert d == "BTC"
    assert_close(float(loss), ref(X_SEQ, Wt, bt), rtol=1e-10)
    args = [X_SEQ, Wt, bt]
    assert_close(extractdata(gx), numerical_gradient(ref, args, 0), what="dX")
    assert_close(extractdata(g.Value[0]), numerical_gradient(ref, args, 1), what="dW")
    assert_close(extractdata(g.Value[1]), numerical_gradient(ref, args, 2), what="db")


def test_images_are_still_flattened_whole():
    x = rng.standard_normal((2, 4, 3, 2))
    net = dlnetwork([imageInputLayer((4, 3, 2)), flattenLayer()])
    assert np.shape(predict(net, x)) == (2, 24)
    assert dims(predict(net, dlarray(np.transpose(x, (1, 2, 3, 0)), "SSCB"))) == "BC"


def recurrent_loss(net, X):
    Y, state = forward(net, X)
    loss = np.sum(np.sin(stripdims(Y)))
    return loss, dlgradient(loss, net.Learnables), dlgradient(loss, X), dims(Y)


@pytest.mark.parametrize("mode", ["sequence", "last"])
@pytest.mark.parametrize("kind", ["lstm", "gru"])
def test_recurrent_layers_flatten_image_sequences_at_each_time_step(kind, mode):
    # was: numpy's "operands could not be broadcast" inside the gates; as the lstm/gru functions, the
    # layers read S into the channels (here after a flattenLayer or without one: the same values)
    layer = (sct.lstmLayer if kind == "lstm" else sct.gruLayer)(4, OutputMode=mode)
    net = dlnetwork([sequenceInputLayer((4, 3, 2)), layer], Seed=0)
    flat = dlnetwork([sequenceInputLayer((4, 3, 2)), flattenLayer(), layer], Seed=0)
    assert net.Learnables.Value[0].shape == (layer.gates * 4, 24)
    y, yf = predict(net, X_SEQ), predict(flat, X_SEQ)
    assert np.shape(y) == ((2, 3, 4) if mode == "sequence" else (2, 4))
    assert_close(np.asarray(getattr(y, "data", y)), np.asarray(getattr(yf, "data", yf)), rtol=1e-12, atol=1e-12)
    loss, g, gx, d = dlfeval(recurrent_loss, net, dlarray(X_SEQ, "BTSSC"))
    assert d == ("BTC" if mode == "sequence" else "BC")
    values = [extractdata(v) for v in net.Learnables.Value]
    fun = sct.lstm if kind == "lstm" else sct.gru

    def ref(x, w):
        states = (np.zeros(4), np.zeros(4)) if kind == "lstm" else (np.zeros(4),)
        out = fun(np.reshape(np.transpose(x, (0, 1, 4, 3, 2)), (2, 3, -1)), *states, w, values[1], values[2], OutputMode=mode)    # MATLAB: Y alone
        return float(np.sum(np.sin(out)))
    assert_close(float(loss), ref(X_SEQ, values[0]), rtol=1e-10)
    assert_close(extractdata(gx), numerical_gradient(ref, [X_SEQ, values[0]], 0), what="dX")
    assert_close(extractdata(g.Value[0]), numerical_gradient(ref, [X_SEQ, values[0]], 1), what="dW")
