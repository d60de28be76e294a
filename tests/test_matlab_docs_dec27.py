"""Scenarios from MATLAB's documentation ported to Python (red team, dec 27): each test is a finding
(a wrong value, a crash, or a false refusal of a documented idiom) fixed in this round.  Values against
numpy by hand; gradients against central differences (tests/gradcheck.py)."""
import numpy as np
import pytest

import sct
from sct import dims, dlarray, dlfeval, dlgradient, extractdata, stripdims
from tests.gradcheck import assert_close, numerical_gradient

rng = np.random.default_rng(2712)


# --- dlarray(Y, dims(X)): MATLAB's idiom for giving a result the input's format (was refused inside
# dlfeval: "dlarray(x, fmt) inside dlfeval needs the format as a literal string", though dims(X) of a
# followed X is a constant when the function is compiled)


def relabel_like_input(x):
    y = stripdims(x) * 2.0
    y = dlarray(y, dims(x))
    loss = np.sum(y ** 3)
    return y, loss, dlgradient(loss, x)


def relabel_by_local_format(x):
    fmt = dims(x)
    y = dlarray(np.tanh(stripdims(x)), fmt)
    z = stripdims(y, "BC")                      # a transpose into "BC"
    loss = np.sum(z[0] * y[:, 0])
    return y, loss, dlgradient(loss, x)


def test_dlarray_with_dims_of_input_inside_dlfeval():
    x = rng.standard_normal((3, 4))
    y, loss, g = dlfeval(relabel_like_input, dlarray(x, "CB"))
    assert dims(y) == "CB" and dims(g) == "CB"
    assert_close(extractdata(y), 2 * x)
    assert_close(float(loss), np.sum((2 * x) ** 3))
    assert_close(extractdata(g), numerical_gradient(lambda v: np.sum((2 * v) ** 3), [x], 0))


def test_dlarray_with_format_in_a_local_inside_dlfeval():
    x = rng.standard_normal((3, 4))
    y, loss, g = dlfeval(relabel_by_local_format, dlarray(x, "CB"))
    assert dims(y) == "CB"
    ref = lambda v: np.sum(np.tanh(v)[:, 0] * np.tanh(v)[:, 0])
    assert_close(float(loss), ref(x))
    assert_close(extractdata(g), numerical_gradient(ref, [x], 0))


# --- MATLAB's L2 regularization in a custom training loop (the "Specify L2 regularization" page):
#   idx = net.Learnables.Parameter == "Weights";
#   gradients(idx,:) = dlupdate(@(g,w) g + l2Regularization*w, gradients(idx,:), net.Learnables(idx,:));
# Table had no row assignment (TypeError outside dlfeval; inside, rt.setitem read the table as an array:
# "Cannot interpret ... as a data type"), and a derivative through such a write broke in the rule.

def _small_net():
    return sct.dlnetwork([sct.featureInputLayer(4), sct.fullyConnectedLayer(3, Name="fc"), sct.tanhLayer()],
                         Seed=2)


def plain_gradients(net, X):
    Y, state = sct.forward(net, X)
    loss = np.sum(Y ** 2)
    return loss, dlgradient(loss, net.Learnables)


def regularized_gradients(net, X):
    Y, state = sct.forward(net, X)
    loss = np.sum(Y ** 2)
    gradients = dlgradient(loss, net.Learnables)
    idx = np.array(gradients.Parameter) == "Weights"
    gradients[idx] = sct.dlupdate(lambda g, w: g + 0.01 * w, gradients[idx], net.Learnables[idx])
    gradients["fc", "Bias"] = gradients["fc", "Bias"] * 3
    return loss, gradients


def penalty_through_table_write(net, X):
    Y, state = sct.forward(net, X)
    g = dlgradient(np.sum(Y ** 2), net.Learnables)
    g["fc", "Weights"] = g["fc", "Weights"] * 2
    idx = np.array(g.Parameter) == "Bias"
    g[idx] = sct.Table(("fc",), ("Bias",), [g.Value[1] * 0.5])
    p = np.sum(g.Value[0] ** 2) + np.sum(g.Value[1] ** 2)
    return p, dlgradient(p, net.Learnables)


def _reference_gradients(W, b, X):
    Y = np.tanh(X @ W.T + b)
    d = 2 * Y * (1 - Y ** 2)
    return d.T @ X, d.sum(0)


def test_table_row_assignment_outside_dlfeval():
    net = _small_net()
    X = rng.standard_normal((6, 4))
    loss, gradients = dlfeval(plain_gradients, net, X)
    before = [extractdata(v).copy() for v in gradients.Value]
    idx = np.array(gradients.Parameter) == "Weights"
    gradients[idx] = sct.dlupdate(lambda g, w: g + 0.01 * w, gradients[idx], net.Learnables[idx])
    W = extractdata(net.Learnables["fc", "Weights"])
    assert_close(extractdata(gradients["fc", "Weights"]), before[0] + 0.01 * W)
    assert_close(extractdata(gradients["fc", "Bias"]), before[1])
    gradients["fc", "Bias"] = gradients["fc", "Bias"] * 0
    assert_close(extractdata(gradients.Value[1]), 0 * before[1])
    assert gradients.Layer == ("fc", "fc") and gradients.Parameter == ("Weights", "Bias")
    with pytest.raises(ValueError):
        gradients[idx] = gradients            # two rows into one


def test_table_row_assignment_inside_dlfeval():
    net = _small_net()
    X = rng.standard_normal((6, 4))
    loss, gradients = dlfeval(regularized_gradients, net, X)
    W = extractdata(net.Learnables["fc", "Weights"])
    b = extractdata(net.Learnables["fc", "Bias"])
    gW, gb = _reference_gradients(W, b, X)
    assert_close(extractdata(gradients["fc", "Weights"]), gW + 0.01 * W)
    assert_close(extractdata(gradients["fc", "Bias"]), 3 * gb)


def test_derivative_through_table_assignment():
    net = _small_net()
    X = rng.standard_normal((6, 4))
    p, g = dlfeval(penalty_through_table_write, net, X)
    W = extractdata(net.Learnables["fc", "Weights"])
    b = extractdata(net.Learnables["fc", "Bias"])

    def ref(W, b):
        gW, gb = _reference_gradients(W, b, X)
        return np.sum((2 * gW) ** 2) + np.sum((0.5 * gb) ** 2)
    assert_close(float(p), ref(W, b))
    assert_close(extractdata(g["fc", "Weights"]), numerical_gradient(ref, [W, b], 0), rtol=1e-4, atol=1e-6)
    assert_close(extractdata(g["fc", "Bias"]), numerical_gradient(ref, [W, b], 1), rtol=1e-4, atol=1e-6)


# --- embed and indexcrossentropy take 0-based indices: MATLAB's indexcrossentropy errors outside 1 .. numClasses,
# but numpy read an index -1 as the last class and 1.7 as 1: a silently wrong value and gradient.  embed's -1
# (MATLAB's padding index 0) is the last word, MATLAB's out-of-vocabulary vector (red team mat51); other
# indices outside the words are refused.  embed's weights are MATLAB's embeddingDimension-by-numWords.


def embedding_loss(W, idx):
    y = np.sum(sct.embed(idx, W) ** 2)
    return y, dlgradient(y, W)


def index_loss(Z, t):
    loss = sct.indexcrossentropy(sct.softmax(Z), t)
    return loss, dlgradient(loss, Z)


def test_embed_refuses_indices_outside_the_words():
    W = rng.standard_normal((3, 5))             # dimension 3, five words
    good = np.array([[0, 4, 2]])
    y, g = dlfeval(embedding_loss, dlarray(W), good)
    assert_close(float(y), np.sum(W.T[good] ** 2))
    assert_close(extractdata(g), numerical_gradient(lambda w: np.sum(w.T[good] ** 2), [W], 0))
    for bad in (np.array([[0, -2]]), np.array([1.5]), np.array([5])):
        with pytest.raises(ValueError, match="embed: word index|embed: the word indices"):
            sct.embed(bad, W)
        with pytest.raises(sct.SctError, match="embed"):
            dlfeval(embedding_loss, dlarray(W), bad)
    assert_close(extractdata(sct.embed(np.array([2.0]), W)), W.T[[2]])     # whole floats are indices


def test_indexcrossentropy_refuses_targets_outside_the_classes():
    Z = rng.standard_normal((4, 3))
    t = np.array([0, 2, 1, 2])
    loss, g = dlfeval(index_loss, dlarray(Z), t)

    def ref(z):
        p = np.exp(z) / np.exp(z).sum(1, keepdims=True)
        return -np.sum(np.log(p[np.arange(4), t])) / 4
    assert_close(float(loss), ref(Z))
    assert_close(extractdata(g), numerical_gradient(ref, [Z], 0))
    for bad in (np.array([0, -1, 1, 2]), np.array([0, 3, 1, 2]), np.array([0.0, 1.5, 1, 2])):
        with pytest.raises(sct.SctError, match="indexcrossentropy"):
            dlfeval(index_loss, dlarray(Z), bad)
    # a target left out by MaskIndex may be any number
    masked = sct.indexcrossentropy(dlarray(np.full((4, 3), 1 / 3)), np.array([0, -1, 1, 2]), MaskIndex=-1)
    assert_close(float(masked), 3 * np.log(3) / 4)


# --- MATLAB's convolution2dLayer, maxPooling2dLayer, averagePooling2dLayer (Padding) and
# transposedConv2dLayer (Cropping) take a four-element vector [t b l r] (was refused by dlconv:
# "Padding must be 'same', a nonnegative integer, [a b] or [t l; b r]")


def _layer_loss(net, X):
    Y, state = sct.forward(net, X)
    loss = np.sum(Y ** 2)
    return loss, dlgradient(loss, X)


def _xcorr_valid(xp, w):
    kh, kw = w.shape[:2]
    return np.array([[np.sum(xp[:, i:i + kh, j:j + kw, :] * w[..., 0], axis=(1, 2, 3))
                      for j in range(xp.shape[2] - kw + 1)] for i in range(xp.shape[1] - kh + 1)]).transpose(2, 0, 1)


def test_layers_take_padding_top_bottom_left_right():
    X = rng.standard_normal((2, 5, 6, 2))               # sct's layout: batch, height, width, channels
    W = rng.standard_normal((3, 3, 2, 1))
    pads = ((1, 0), (2, 1), (0, 0))

    def conv_ref(x):
        return _xcorr_valid(np.pad(x, ((0, 0),) + pads), W)
    net = sct.dlnetwork([sct.imageInputLayer([5, 6, 2], Normalization="none"),
                         sct.convolution2dLayer(3, 1, Padding=[1, 0, 2, 1], Weights=W, Bias=np.zeros((1, 1, 1)))])
    loss, g = dlfeval(_layer_loss, net, dlarray(X))
    assert_close(float(loss), np.sum(conv_ref(X) ** 2))
    assert_close(extractdata(g), numerical_gradient(lambda x: np.sum(conv_ref(x) ** 2), [X], 0))

    def pool_ref(x, fn, fill):
        xp = np.pad(x, ((0, 0), (1, 0), (1, 1), (0, 0)), constant_values=fill)
        return np.stack([np.stack([fn(xp[:, i:i + 2, j:j + 2], axis=(1, 2)) for j in range(0, xp.shape[2] - 1, 2)], 1)
                         for i in range(0, xp.shape[1] - 1, 2)], 1)
    for layer, fn, fill in ((sct.maxPooling2dLayer(2, Stride=2, Padding=[1, 0, 1, 1]), np.max, -np.inf),
                            (sct.averagePooling2dLayer(2, Stride=2, Padding=[1, 0, 1, 1]), np.mean, 0.0)):
        net = sct.dlnetwork([sct.imageInputLayer([5, 6, 2], Normalization="none"), layer])
        Y = sct.predict(net, dlarray(X))
        assert_close(extractdata(Y), pool_ref(X, fn, fill))

    # transposedConv2dLayer Cropping [t b l r]: the full transposed convolution cropped so
    Wt = rng.standard_normal((3, 3, 1, 2))
    full = sct.dltranspconv(X, Wt, 0, Stride=2)
    net = sct.dlnetwork([sct.imageInputLayer([5, 6, 2], Normalization="none"),
                         sct.transposedConv2dLayer(3, 1, Stride=2, Cropping=[1, 0, 2, 1], Weights=Wt,
                                                   Bias=np.zeros((1, 1, 1)))])
    assert_close(extractdata(sct.predict(net, dlarray(X))), extractdata(full)[:, 1:, 2:-1])


# --- MATLAB's custom layer pages (the PReLU layer with its backward function, seed 001): a custom layer
# that is not Formattable gets its input unformatted and its output takes the input's format. sct left the
# output of any custom layer unformatted, so forward(net, X) of "SSCB" data gave an unformatted Y and
# crossentropy(Y, T) of "CB" targets was refused ("the targets are labelled 'CB' but the predictions are
# unformatted"), in the page's own training pattern.


class preluLayer(sct.Layer):
    learnables = ("Alpha",)

    def __init__(self, Name=""):
        self.Name = Name
        self.Alpha = None

    def initialize(self, layout):
        if self.Alpha is not None:
            return self
        sz = layout.Size
        idx = sct.finddim(layout, "C")
        shape = [1] * len(sz)
        shape[idx[0]] = sz[idx[0]]
        self.Alpha = np.random.default_rng(0).random(shape)
        return self

    def predict(self, X):
        return np.maximum(X, 0) + self.Alpha * np.minimum(0, X)

    def backward(self, X, Z, dLdZ, memory):
        dLdX = self.Alpha * dLdZ
        dLdX[X > 0] = dLdZ[X > 0]
        dLdAlpha = np.sum(np.minimum(0, X) * dLdZ, axis=(0, 1, 2), keepdims=True)
        return dLdX, dLdAlpha


class GlobalMean(sct.Layer):
    def __init__(self, Name="gm"):
        self.Name = Name

    def predict(self, X):
        return np.mean(X, axis=(1, 2))


def prelu_model_loss(net, X, T):
    Y, state = sct.forward(net, X)
    loss = sct.crossentropy(Y, T)
    return loss, dlgradient(loss, net.Learnables), Y


def _prelu_net():
    return sct.dlnetwork([sct.imageInputLayer([6, 6, 1], Normalization="none"), sct.convolution2dLayer(3, 4),
                          preluLayer(Name="prelu"), sct.fullyConnectedLayer(3), sct.softmaxLayer()], Seed=1)


def test_custom_layer_output_takes_its_input_format():
    net = _prelu_net()
    X = rng.standard_normal((6, 6, 1, 5))                         # MATLAB's "SSCB"
    T = np.eye(3)[rng.integers(0, 3, 5)].T.copy()                 # "CB"
    assert dims(sct.predict(net, dlarray(X, "SSCB"))) == "BC"
    loss, grads, Y = dlfeval(prelu_model_loss, net, dlarray(X, "SSCB"), dlarray(T, "CB"))
    assert dims(Y) == "BC"
    Xu, Tu = np.transpose(X, (3, 0, 1, 2)).copy(), T.T.copy()     # sct's layout, unformatted
    loss_u, grads_u, _ = dlfeval(prelu_model_loss, net, Xu, Tu)
    assert_close(float(loss), float(loss_u))
    values = [np.array(extractdata(v)) for v in net.Learnables.Value]

    def ref(*vs):
        import copy
        n2 = copy.deepcopy(net)
        table = n2.Learnables
        table.Value = [dlarray(v) for v in vs]
        n2.Learnables = table
        return float(extractdata(sct.crossentropy(sct.predict(n2, Xu), Tu)))
    for i in range(len(values)):
        assert_close(extractdata(grads.Value[i]), extractdata(grads_u.Value[i]))
        assert_close(extractdata(grads.Value[i]), numerical_gradient(ref, values, i), rtol=1e-4, atol=1e-7)


class DropsSpaceWhenWide(sct.Layer):
    """Keeps its input's rank on the 4-by-4 example it is initialized with, not on wider data."""
    def __init__(self, Name="odd"):
        self.Name = Name

    def predict(self, X):
        return np.mean(X, axis=(1, 2)) if X.shape[2] > 4 else X


def test_custom_layer_changing_the_rank_stays_unformatted():
    # a custom layer whose output has another rank than its input (MATLAB's would be Formattable, as the
    # projectAndReshape layer): its outputs stay unformatted, as before
    T = dlarray(np.eye(2)[:, [0, 1, 0]], "CB")
    X = dlarray(rng.standard_normal((4, 4, 2, 3)), "SSCB")
    for layers in ([sct.convolution2dLayer(3, 2), GlobalMean(), sct.softmaxLayer()],
                   [GlobalMean(), sct.fullyConnectedLayer(2), sct.softmaxLayer()]):
        net = sct.dlnetwork([sct.imageInputLayer([4, 4, 2], Normalization="none")] + layers, Seed=0)
        Y = sct.predict(net, X)
        assert dims(Y) == "" and Y.shape == (3, 2)
        with pytest.raises(sct.CompileError, match="predictions are unformatted"):
            dlfeval(prelu_model_loss, net, X, T)
    # one that kept the rank on its example but not when it runs: refused, not labelled wrongly
    net = sct.dlnetwork([sct.imageInputLayer([4, 8, 2], Normalization="none"), DropsSpaceWhenWide(),
                         sct.softmaxLayer()], dlarray(rng.standard_normal((4, 4, 2, 1)), "SSCB"), Seed=0)
    with pytest.raises(ValueError, match="custom layer changed the number of dimensions"):
        sct.predict(net, dlarray(rng.standard_normal((4, 8, 2, 3)), "SSCB"))
    with pytest.raises(sct.SctError, match="custom layer changed the number of dimensions"):
        dlfeval(_formatted_predict, net, dlarray(rng.standard_normal((4, 8, 2, 3)), "SSCB"))


def _formatted_predict(net, X):
    return sct.predict(net, X)


# --- MATLAB's lstm / gru (and lstmLayer / gruLayer) options StateActivationFunction ("tanh", "softsign",
# "relu") and GateActivationFunction ("sigmoid", "hard-sigmoid"), and gruLayer's ResetGateMode: were not
# taken (a TypeError for the keywords)

def _sigmoid(z):
    return 1 / (1 + np.exp(-z))


def _hard_sigmoid(z):
    return np.clip(0.2 * z + 0.5, 0, 1)


_STATE = {"tanh": np.tanh, "softsign": lambda z: z / (1 + np.abs(z)), "relu": lambda z: np.maximum(z, 0)}


def _lstm_reference(x, W, R, b, sa, ga):          # x: MATLAB's "CBT"
    hidden = R.shape[1]
    h = np.zeros((hidden, x.shape[1]))
    c = np.zeros_like(h)
    gate, state, ys = (_sigmoid if ga == "sigmoid" else _hard_sigmoid), _STATE[sa], []
    for t in range(x.shape[2]):
        z = W @ x[:, :, t] + R @ h + b[:, None]
        i, f, g, o = gate(z[:hidden]), gate(z[hidden:2 * hidden]), state(z[2 * hidden:3 * hidden]), gate(z[3 * hidden:])
        c = f * c + i * g
        h = o * state(c)
        ys.append(h)
    return np.stack(ys, 2)


def _gru_reference(x, W, R, b, sa, ga):           # reset gate after the multiplication
    hidden = R.shape[1]
    h = np.zeros((hidden, x.shape[1]))
    gate, state, ys = (_sigmoid if ga == "sigmoid" else _hard_sigmoid), _STATE[sa], []
    for t in range(x.shape[2]):
        zx = W @ x[:, :, t] + b[:, None]
        zh = R @ h
        r, u = gate(zx[:hidden] + zh[:hidden]), gate(zx[hidden:2 * hidden] + zh[hidden:2 * hidden])
        h = (1 - u) * state(zx[2 * hidden:] + r * zh[2 * hidden:]) + u * h
        ys.append(h)
    return np.stack(ys, 2)


def recurrent_activation_loss(x, W, R, b, w, sa, ga, which):
    if which == "lstm":
        Y, h, c = sct.lstm(x, np.zeros(2), np.zeros(2), W, R, b, StateActivationFunction=sa, GateActivationFunction=ga)
    else:
        Y, h = sct.gru(x, np.zeros(2), W, R, b, StateActivationFunction=sa, GateActivationFunction=ga)
    loss = np.sum(Y * w)
    return Y, loss, dlgradient(loss, x, W)


@pytest.mark.parametrize("which", ["lstm", "gru"])
@pytest.mark.parametrize("sa, ga", [("softsign", "sigmoid"), ("relu", "hard-sigmoid"), ("tanh", "hard-sigmoid")])
def test_recurrent_activation_functions(which, sa, ga):
    gates = 4 if which == "lstm" else 3
    x = 2 * rng.standard_normal((3, 2, 4))
    W, R, b = rng.standard_normal((gates * 2, 3)), rng.standard_normal((gates * 2, 2)), rng.standard_normal(gates * 2)
    w = rng.standard_normal((2, 2, 4))
    reference = _lstm_reference if which == "lstm" else _gru_reference
    Y, loss, (gx, gW) = dlfeval(recurrent_activation_loss, dlarray(x, "CBT"), dlarray(W), R, b, w, sa, ga, which)
    assert dims(Y) == "CBT"
    assert_close(extractdata(Y), reference(x, W, R, b, sa, ga))
    ref = lambda xx, WW: np.sum(reference(xx, WW, R, b, sa, ga) * w)
    assert_close(extractdata(gx), numerical_gradient(ref, [x, W], 0), rtol=1e-4, atol=1e-7)
    assert_close(extractdata(gW), numerical_gradient(ref, [x, W], 1), rtol=1e-4, atol=1e-7)
    layer = (sct.lstmLayer if which == "lstm" else sct.gruLayer)(2, StateActivationFunction=sa, GateActivationFunction=ga,
                                                                   InputWeights=W, RecurrentWeights=R, Bias=b)
    net = sct.dlnetwork([sct.sequenceInputLayer(3), layer], Seed=0)
    assert_close(np.transpose(extractdata(sct.predict(net, dlarray(x, "CBT"))), (2, 0, 1)),
                 reference(x, W, R, b, sa, ga))
    with pytest.raises(ValueError, match="StateActivationFunction"):
        getattr(sct, which)(x.transpose(1, 2, 0), np.zeros(2), *([np.zeros(2)] if which == "lstm" else []), W, R, b,
                            StateActivationFunction="sigmoid")


def test_gru_layer_reset_gate_mode():
    x = rng.standard_normal((3, 2, 4))
    net = sct.dlnetwork([sct.sequenceInputLayer(3), sct.gruLayer(2, ResetGateMode="recurrent-bias-after-multiplication")],
                        Seed=0)
    W, R, b = (extractdata(net.Learnables["gru", p]) for p in ("InputWeights", "RecurrentWeights", "Bias"))
    assert b.shape == (12,)
    Y = sct.predict(net, dlarray(x, "CBT"))
    want, _ = sct.gru(x.transpose(1, 2, 0), np.zeros(2), W, R, b, ResetGateMode="recurrent-bias-after-multiplication")
    assert_close(extractdata(Y), np.asarray(want))
    with pytest.raises(ValueError, match="ResetGateMode"):
        sct.gruLayer(2, ResetGateMode="after")


# --- MATLAB's convolution2dLayer PaddingValue (a number or "symmetric-include-edge", "symmetric-exclude-edge",
# "replicate") and averagePooling2dLayer PaddingValue (0 or "mean"): the functions took them, the layers did not


def _conv_layer_loss(net, X):
    Y, state = sct.forward(net, X)
    loss = np.sum(Y ** 2)
    return loss, dlgradient(loss, X)


@pytest.mark.parametrize("value", [1.5, "replicate", "symmetric-exclude-edge"])
def test_convolution_layer_padding_value(value):
    X = rng.standard_normal((2, 5, 5, 2))
    W = rng.standard_normal((3, 3, 2, 2))
    net = sct.dlnetwork([sct.imageInputLayer([5, 5, 2], Normalization="none"),
                         sct.convolution2dLayer(3, 2, Padding=1, PaddingValue=value, Weights=W, Bias=np.zeros(2))],
                        Seed=0)
    loss, g = dlfeval(_conv_layer_loss, net, dlarray(X))
    ref = lambda x: float(np.sum(extractdata(sct.dlconv(x, W, 0, Padding=1, PaddingValue=value)) ** 2))
    assert_close(float(loss), ref(X))
    assert_close(extractdata(g), numerical_gradient(ref, [X], 0), rtol=1e-4, atol=1e-7)
    with pytest.raises(ValueError):
        sct.convolution2dLayer(3, 2, PaddingValue="mirror")


def test_average_pooling_layer_padding_value_mean():
    X = rng.standard_normal((1, 4, 4, 1))
    net = sct.dlnetwork([sct.imageInputLayer([4, 4, 1], Normalization="none"),
                         sct.averagePooling2dLayer(2, Stride=2, Padding=1, PaddingValue="mean")])
    Y = extractdata(sct.predict(net, X))[0, :, :, 0]
    x = X[0, :, :, 0]
    assert_close(Y[0, 0], x[0, 0])                     # a corner window holds one entry of X
    assert_close(Y[1, 1], x[1:3, 1:3].mean())
    with pytest.raises(ValueError):
        sct.averagePooling2dLayer(2, PaddingValue=1)


# --- gelu keeps its input's precision: scipy's erf has no float16 loop, so gelu of float16 data gave float64
# (sct keeps float16 to float64 as they are; the tanh approximation and every other activation did)


def gelu_loss(x):
    y = sct.gelu(x)
    return y, dlgradient(np.sum(y), x)


def test_gelu_keeps_float16():
    x = rng.standard_normal((3, 4)).astype(np.float16)
    y, g = dlfeval(gelu_loss, dlarray(x, "CB"))
    assert extractdata(y).dtype == np.float16 and extractdata(g).dtype == np.float16
    assert extractdata(sct.gelu(dlarray(x))).dtype == np.float16
    y64, g64 = dlfeval(gelu_loss, dlarray(x.astype(np.float64), "CB"))
    assert_close(extractdata(y).astype(np.float64), extractdata(y64), rtol=2e-3, atol=2e-3)
    assert_close(extractdata(g).astype(np.float64), extractdata(g64), rtol=2e-3, atol=2e-3)


# --- float16 data kept float16 by avgpool with PaddingValue="mean", dropout, maxunpool and attention's
# dropout (each made a float32 factor or result: float32 values from float16 data)


def float16_dropout_loss(x, p):
    y = sct.dropout(x, 0.5) * p
    z = sct.avgpool(x, 2, Padding=1, PaddingValue="mean")
    return y, z, dlgradient(np.sum(y) + np.sum(z), x)


def test_float16_stays_float16_through_pooling_and_dropout():
    X = rng.standard_normal((4, 4, 2, 2)).astype(np.float16)
    np.random.seed(3)
    y, z, g = dlfeval(float16_dropout_loss, dlarray(X, "SSCB"), np.float16(2.0))
    assert extractdata(y).dtype == np.float16 and extractdata(z).dtype == np.float16
    assert extractdata(g).dtype == np.float16
    np.random.seed(3)
    keep = np.random.random_sample(X.shape) >= 0.5
    assert_close(extractdata(y).astype(float), np.where(keep, 2 * X.astype(float) * 2, 0), rtol=2e-3, atol=2e-3)
    Y, idx, size = sct.maxpool(dlarray(X, "SSCB"), 2, Stride=2, nargout=3)
    assert extractdata(sct.maxunpool(Y, idx, size)).dtype == np.float16
    q = dlarray(rng.standard_normal((4, 2, 3)).astype(np.float16), "CBT")
    assert extractdata(sct.attention(q, q, q, 2, DropoutProbability=0.3, nargout=2)[0]).dtype == np.float16
