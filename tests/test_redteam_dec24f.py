"""Red team F (dec24): MATLAB's documented behaviour of the deep-learning functions and layers.

1. Layers flatten image data as MATLAB does.  MATLAB's ``flattenLayer`` turns an H-by-W-by-C(-by-N-by-S)
   array into (H*W*C)-by-N(-by-S), a MATLAB reshape: column-major, feature ``h + H*w + H*W*c``; its
   ``fullyConnectedLayer`` multiplies that vector by its ``Weights`` (OutputSize-by-InputSize), and its
   ``lstmLayer``/``gruLayer`` read a sequence of images the same way.  sct's ``fullyconnect`` of
   formatted data reads MATLAB's weight matrix so (tests/test_redteam_dec14h.py), but the layers flattened
   row-major in sct's layout (``(h*W + w)*C + c``): ``fullyConnectedLayer(10, Weights=W)`` with MATLAB's
   W (``loadmat`` of a trained network) gave another value than MATLAB's layer and than sct's own
   ``fullyconnect(dlarray(X, "SSCB"), W, b)``, silently; ``flattenLayer``'s features came out in another
   order than MATLAB's.

Values against numpy by hand (``order="F"`` is MATLAB's reshape); gradients against central differences.
"""
import numpy as np
import pytest

from sct import (dims, dlarray, dlfeval, dlgradient, dlnetwork, extractdata, featureInputLayer, flattenLayer, forward,
                 fullyConnectedLayer, fullyconnect, gruLayer, imageInputLayer, lstm, lstmLayer, predict,
                 sequenceInputLayer, stripdims)
from tests.gradcheck import assert_close, numerical_gradient

rng = np.random.default_rng(2412)
H, W, C, B, T, OUT = 3, 4, 2, 5, 3, 4
X_IMG = rng.standard_normal((B, H, W, C))                 # sct's layout (B, H, W, C)
X_SEQ = rng.standard_normal((2, T, H, W, C))              # sct's layout (B, T, H, W, C)
W_MATLAB = rng.standard_normal((OUT, H * W * C))          # MATLAB's OutputSize-by-(H*W*C) matrix
B_MATLAB = rng.standard_normal(OUT)


def D(v):
    return np.asarray(extractdata(v) if hasattr(v, "data") else v)


def matlab_features(x):
    """MATLAB's X(:) of each H-by-W-by-C image of x (sct's layout, images on the last three axes)."""
    lead = x.shape[:-3]
    return np.stack([np.reshape(x[i], -1, order="F") for i in np.ndindex(*lead)]).reshape(lead + (-1,))


def matlab_fc(x, w, b):
    return matlab_features(x) @ w.T + b


@pytest.mark.parametrize("flatten", [False, True], ids=["fc", "flatten+fc"])
def test_fully_connected_layer_reads_matlab_weights_as_matlab(flatten):
    layers = [imageInputLayer((H, W, C), Normalization="none")] + ([flattenLayer()] if flatten else []) + \
        [fullyConnectedLayer(OUT, Weights=W_MATLAB, Bias=B_MATLAB)]
    net = dlnetwork(layers)
    expected = matlab_fc(X_IMG, W_MATLAB, B_MATLAB)
    assert_close(D(predict(net, X_IMG)), expected, rtol=1e-12, atol=1e-12, what="predict, unformatted")
    Y = predict(net, dlarray(np.transpose(X_IMG, (1, 2, 3, 0)), "SSCB"))          # MATLAB's layout
    assert dims(Y) == "BC"
    assert_close(D(Y), expected, rtol=1e-12, atol=1e-12, what="predict, SSCB")
    # the same numbers as sct's (MATLAB's) fullyconnect of formatted data
    assert_close(D(fullyconnect(dlarray(X_IMG, "BSSC"), W_MATLAB, B_MATLAB)), expected, rtol=1e-12, atol=1e-12)


def image_loss(net, X):
    Y, state = forward(net, X)
    loss = np.sum(np.sin(stripdims(Y)))
    return loss, dlgradient(loss, net.Learnables), dlgradient(loss, X)


@pytest.mark.parametrize("flatten", [False, True], ids=["fc", "flatten+fc"])
def test_fully_connected_layer_gradients_in_matlab_order(flatten):
    layers = [imageInputLayer((H, W, C), Normalization="none")] + ([flattenLayer()] if flatten else []) + \
        [fullyConnectedLayer(OUT, Weights=W_MATLAB, Bias=B_MATLAB)]
    net = dlnetwork(layers)

    def ref(x, w, b):
        return float(np.sum(np.sin(matlab_fc(x, w, b))))
    loss, g, gx = dlfeval(image_loss, net, dlarray(X_IMG))
    assert_close(float(D(loss)), ref(X_IMG, W_MATLAB, B_MATLAB), rtol=1e-12)
    args = [X_IMG, W_MATLAB, B_MATLAB]
    assert_close(D(gx), numerical_gradient(ref, args, 0), what="dX")
    assert_close(D(g.Value[0]), numerical_gradient(ref, args, 1), what="dW")
    assert_close(D(g.Value[1]), numerical_gradient(ref, args, 2), what="db")


def test_flatten_layer_features_in_matlab_order():
    net = dlnetwork([imageInputLayer((H, W, C), Normalization="none"), flattenLayer()])
    assert_close(D(predict(net, X_IMG)), matlab_features(X_IMG), rtol=0, atol=0)
    seq = dlnetwork([sequenceInputLayer((H, W, C)), flattenLayer()])
    y = D(predict(seq, X_SEQ))
    assert y.shape == (2, T, H * W * C)
    assert_close(y, matlab_features(X_SEQ), rtol=0, atol=0)           # each time step's image on its own


@pytest.mark.parametrize("kind", ["lstm", "gru"])
def test_recurrent_layers_read_image_sequences_as_matlab(kind):
    hidden = 3
    gates = 4 if kind == "lstm" else 3
    Wi = rng.standard_normal((gates * hidden, H * W * C)) * 0.3      # MATLAB's InputWeights
    R = rng.standard_normal((gates * hidden, hidden)) * 0.3
    b = rng.standard_normal(gates * hidden) * 0.3
    make = lstmLayer if kind == "lstm" else gruLayer
    net = dlnetwork([sequenceInputLayer((H, W, C)), make(hidden, InputWeights=Wi, RecurrentWeights=R, Bias=b)])
    feats = matlab_features(X_SEQ)                                     # (B, T, H*W*C), MATLAB's order
    if kind == "lstm":
        expected = D(lstm(feats, np.zeros((2, hidden)), np.zeros((2, hidden)), Wi, R, b, nargout=3)[0])
    else:
        from sct import gru
        expected = D(gru(feats, np.zeros((2, hidden)), Wi, R, b, nargout=2)[0])
    assert_close(D(predict(net, X_SEQ)), expected, rtol=1e-12, atol=1e-12)
    # MATLAB's lstm function of "SSCBT" data reads the images the same way (README: column-major)
    if kind == "lstm":
        Y, _, _ = lstm(dlarray(np.transpose(X_SEQ, (2, 3, 4, 0, 1)), "SSCBT"), np.zeros((hidden, 1)),
                       np.zeros((hidden, 1)), Wi, R, b)
        assert_close(np.transpose(D(Y), (1, 2, 0)), expected, rtol=1e-12, atol=1e-12)


# --- 2. input layers' normalization statistics in MATLAB's shapes ----------------------------------------
# MATLAB: featureInputLayer's Mean and StandardDeviation are numFeatures-by-1 vectors, sequenceInputLayer's
# (vector sequences) InputSize-by-1; imageInputLayer's h-by-w-by-c or 1-by-1-by-c.  sct subtracted the
# (C, 1) column from (batch, C) data as numpy broadcasts it: a batch of C observations gave a C-by-C table
# of other values, a batch of one a (C, C) array, silently (other batch sizes: numpy's broadcast error).

MEAN_COL = np.array([[1.0], [2.0], [3.0]])                 # MATLAB's numFeatures-by-1
STD_COL = np.array([[1.0], [2.0], [4.0]])


@pytest.mark.parametrize("batch", [1, 3, 4])
@pytest.mark.parametrize("how", ["zscore", "zerocenter"])
def test_feature_input_statistics_given_as_matlab_columns(batch, how):
    X = rng.standard_normal((batch, 3))
    net = dlnetwork([featureInputLayer(3, Normalization=how, Mean=MEAN_COL, StandardDeviation=STD_COL)])
    expected = (X - MEAN_COL.ravel()) / (STD_COL.ravel() if how == "zscore" else 1.0)
    assert_close(D(predict(net, X)), expected, rtol=1e-12, atol=1e-12)
    Y = predict(net, dlarray(X.T, "CB"))                    # MATLAB's layout
    assert_close(D(Y), expected, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("steps", [1, 3, 5])
def test_sequence_input_statistics_given_as_matlab_columns(steps):
    X = rng.standard_normal((2, steps, 3))
    net = dlnetwork([sequenceInputLayer(3, Normalization="zscore", Mean=MEAN_COL, StandardDeviation=STD_COL)])
    assert_close(D(predict(net, X)), (X - MEAN_COL.ravel()) / STD_COL.ravel(), rtol=1e-12, atol=1e-12)


def test_input_statistics_gradient_and_image_shapes():
    X = rng.standard_normal((3, 3))
    net = dlnetwork([featureInputLayer(3, Normalization="zscore", Mean=MEAN_COL, StandardDeviation=STD_COL),
                     fullyConnectedLayer(2, Weights=W_MATLAB[:2, :3], Bias=B_MATLAB[:2])])

    def loss(net, X):
        y = np.sum(np.sin(predict(net, X)))
        return y, dlgradient(y, X)

    def ref(x):
        return float(np.sum(np.sin(((x - MEAN_COL.ravel()) / STD_COL.ravel()) @ W_MATLAB[:2, :3].T + B_MATLAB[:2])))
    y, gx = dlfeval(loss, net, dlarray(X))
    assert_close(float(D(y)), ref(X), rtol=1e-12)
    assert_close(D(gx), numerical_gradient(ref, [X], 0))
    # images: h-by-w-by-c and 1-by-1-by-c broadcast as MATLAB's
    Xi = rng.standard_normal((2, 4, 4, 2))
    for mean in (np.reshape([1.0, 2.0], (1, 1, 2)), rng.standard_normal((4, 4, 2))):
        net = dlnetwork([imageInputLayer((4, 4, 2), Mean=mean)])
        assert_close(D(predict(net, Xi)), Xi - mean, rtol=1e-12, atol=1e-12)
    with pytest.raises(ValueError, match="Mean"):
        featureInputLayer(3, Normalization="zerocenter", Mean=np.ones((2, 1)))


def test_zscore_needs_both_statistics():
    # the standard deviation alone was ignored (X passed on unchanged), the mean alone a TypeError when run
    with pytest.raises(ValueError, match="both Mean and StandardDeviation"):
        featureInputLayer(3, Normalization="zscore", StandardDeviation=STD_COL)
    with pytest.raises(ValueError, match="both Mean and StandardDeviation"):
        sequenceInputLayer(3, Normalization="zscore", Mean=MEAN_COL)


# --- 3. indexcrossentropy's weights as MATLAB gives them -------------------------------------------------
# A numClasses-by-1 column of class weights (MATLAB's vectors are columns) was multiplied into the (N,)
# per-target losses as numpy broadcasts it: an N-by-C table, every observation times every class weight,
# summed -- another value, silently; per-observation weights (N, 1) the same.

from sct import indexcrossentropy, softmax  # noqa: E402

P_IDX = softmax(rng.standard_normal((4, 3)))                  # (N, C) probabilities, sct's layout
T_IDX = np.array([0, 2, 1, 2])


def ice_ref(p, w_class=None, w_obs=None):
    v = -np.log(p[np.arange(4), T_IDX])
    if w_class is not None:
        v = v * np.ravel(w_class)[T_IDX]
    if w_obs is not None:
        v = v * np.ravel(w_obs)
    return float(np.sum(v) / 4)


@pytest.mark.parametrize("shape", [(3,), (3, 1), (1, 3)])
def test_indexcrossentropy_class_weights_any_vector_shape(shape):
    w = np.reshape([0.5, 2.0, 3.0], shape)

    def f(p, w):
        y = indexcrossentropy(p, T_IDX, w)
        return y, dlgradient(y, p, w)
    y, (gp, gw) = dlfeval(f, dlarray(D(P_IDX)), dlarray(w))
    assert_close(float(D(y)), ice_ref(D(P_IDX), w_class=w), rtol=1e-12)
    assert D(gw).shape == shape
    assert_close(D(gw), numerical_gradient(lambda w_: ice_ref(D(P_IDX), w_class=w_), [w], 0))
    assert_close(D(gp), numerical_gradient(lambda p_: ice_ref(p_, w_class=w), [D(P_IDX)], 0))


def test_indexcrossentropy_refuses_weights_that_broadcast_past_the_losses():
    with pytest.raises(ValueError, match="weights"):
        indexcrossentropy(D(P_IDX), T_IDX, np.ones((4, 1)) * 2.0)       # per observation as a column
    # per-observation weights as a vector of the targets' shape are elementwise
    w = np.array([1.0, 2.0, 0.5, 3.0])
    assert_close(float(D(indexcrossentropy(D(P_IDX), T_IDX, w, NormalizationFactor="batch-size"))),
                 ice_ref(D(P_IDX), w_obs=w), rtol=1e-12)


# --- 4. weights and masks that broadcast past the predictions ----------------------------------------------
# MATLAB's losses take a Mask (and weights) of the predictions' size, or fewer dimensions expanding into
# it.  sct multiplied the elementwise losses by them as numpy broadcasts: a Mask or weights with more
# entries than Y (a (2, N, C) mask, an (N, 1, 1) one against (N, C)) made the loss a sum over a bigger
# array, divided by Y's N: twice the loss, silently (Reduction="none" a bigger array than Y).

from sct import crossentropy, huber, l1loss, l2loss  # noqa: E402

YL = rng.uniform(0.2, 0.9, (3, 2))
TL = rng.uniform(0.0, 1.0, (3, 2))


@pytest.mark.parametrize("fname", ["l1loss", "l2loss", "huber", "crossentropy"])
@pytest.mark.parametrize("what", ["weights", "Mask"])
@pytest.mark.parametrize("shape", [(2, 3, 2), (3, 1, 1)])
@pytest.mark.parametrize("reduction", ["sum", "none"])
def test_loss_weights_and_masks_broadcasting_past_the_predictions_are_refused(fname, what, shape, reduction):
    fn = {"l1loss": l1loss, "l2loss": l2loss, "huber": huber, "crossentropy": crossentropy}[fname]
    kw = {"Reduction": reduction}
    if what == "weights":
        args = (YL, TL, np.ones(shape))
    else:
        args, kw["Mask"] = (YL, TL), np.ones(shape)
    with pytest.raises(ValueError, match=what):
        fn(*args, **kw)


@pytest.mark.parametrize("fname", ["l1loss", "l2loss", "huber", "crossentropy"])
def test_loss_masks_broadcasting_into_the_predictions_still_work(fname):
    fn = {"l1loss": l1loss, "l2loss": l2loss, "huber": huber, "crossentropy": crossentropy}[fname]
    mask = np.array([[1.0], [0.0], [1.0]])                 # per observation, broadcast over the channels
    wts = np.array([[0.5, 2.0]])                            # per channel, a row
    elem = {"l1loss": lambda d: np.abs(d), "l2loss": lambda d: d * d,
            "huber": lambda d: np.where(np.abs(d) <= 1, 0.5 * d * d, np.abs(d) - 0.5)}

    def ref(y):
        v = -TL * np.log(y) if fname == "crossentropy" else elem[fname](y - TL)
        return float(np.sum(v * mask * wts) / 3)

    def f(y):
        loss = fn(y, TL, wts, Mask=mask)
        return loss, dlgradient(loss, y)
    loss, g = dlfeval(f, dlarray(YL))
    assert_close(float(D(loss)), ref(YL), rtol=1e-12)
    assert_close(D(g), numerical_gradient(ref, [YL.copy()], 0))


# --- 5. per-channel parameters that vary over the observations or enlarge the output ----------------------
# MATLAB's offset, scaleFactor, trained statistics and recurrent biases are numChannels-by-1 (per channel;
# sct's docstrings: (C,), or broadcasting against the trailing axes).  sct added and multiplied them as
# numpy broadcasts: an (N, 1) offset gave each observation its own, a (2, 1, C) scale a (2, N, C) output of
# layernorm, an (N, 4H) lstm bias one per observation, silently.  (fullyconnect's bias keeps its documented
# numpy broadcasting: tests/test_issue8_train.py.)

from sct import batchnorm, groupnorm, gru, instancenorm, layernorm  # noqa: E402

XN = rng.standard_normal((4, 3))                      # (N, C), N = 4 observations, C = 3 channels
XI4 = rng.standard_normal((2, 4, 4, 3))
XS = rng.standard_normal((2, 5, 3))


@pytest.mark.parametrize("case", [
    "batchnorm offset (4,1)", "batchnorm scale (4,3)", "batchnorm mean (4,3)", "layernorm scale (2,1,3)",
    "layernorm offset (4,1)", "instancenorm offset (2,1,1,3)", "groupnorm scale (2,1,1,3)",
    "lstm bias (2,8)", "gru bias (2,6)"])
def test_per_channel_parameters_varying_over_observations_are_refused(case):
    fname, what = case.split()[:2]
    calls = {
        "batchnorm offset (4,1)": lambda: batchnorm(XN, np.zeros((4, 1)), np.ones(3)),
        "batchnorm scale (4,3)": lambda: batchnorm(XN, np.zeros(3), np.ones((4, 3))),
        "batchnorm mean (4,3)": lambda: batchnorm(XN, np.zeros(3), np.ones(3), np.zeros((4, 3)), np.ones(3)),
        "layernorm scale (2,1,3)": lambda: layernorm(XN, np.zeros(3), np.ones((2, 1, 3))),
        "layernorm offset (4,1)": lambda: layernorm(XN, np.zeros((4, 1)), np.ones(3)),
        "instancenorm offset (2,1,1,3)": lambda: instancenorm(XI4, np.zeros((2, 1, 1, 3)), np.ones(3)),
        "groupnorm scale (2,1,1,3)": lambda: groupnorm(XI4, 3, np.zeros(3), np.ones((2, 1, 1, 3))),
        "lstm bias (2,8)": lambda: lstm(XS, np.zeros(2), np.zeros(2), np.ones((8, 3)), np.ones((8, 2)), np.zeros((2, 8))),
        "gru bias (2,6)": lambda: gru(XS, np.zeros(2), np.ones((6, 3)), np.ones((6, 2)), np.zeros((2, 6))),
    }
    with pytest.raises(ValueError, match=fname):
        calls[case]()


def test_per_channel_parameters_in_matlab_shapes_still_work():
    off, sc = rng.standard_normal(3), rng.uniform(0.5, 2, 3)
    ref_bn = (XI4 - XI4.mean(axis=(0, 1, 2))) / np.sqrt(XI4.var(axis=(0, 1, 2)) + 1e-5) * sc + off
    for shape in [(3,), (3, 1), (1, 3), (1, 1, 3)]:
        assert_close(D(batchnorm(XI4, np.reshape(off, shape), np.reshape(sc, shape))), ref_bn, rtol=1e-10, atol=1e-12)
    ref_ln = (XN - XN.mean(axis=1, keepdims=True)) / np.sqrt(XN.var(axis=1, keepdims=True) + 1e-5) * sc + off
    assert_close(D(layernorm(XN, np.reshape(off, (3, 1)), np.reshape(sc, (1, 3)))), ref_ln, rtol=1e-10, atol=1e-12)
    assert_close(D(layernorm(XN, 0.5, 2.0)), (ref_ln - off) / sc * 2.0 + 0.5, rtol=1e-10, atol=1e-12)
    Wf, bf = rng.standard_normal((5, 3)), rng.standard_normal(5)
    for shape in [(5,), (5, 1), (1, 5)]:
        assert_close(D(fullyconnect(XN, Wf, np.reshape(bf, shape))), XN @ Wf.T + bf, rtol=1e-12, atol=1e-12)

    def f(x, o, s):
        y = np.sum(np.sin(batchnorm(x, o, s)))
        return y, dlgradient(y, x, o, s)

    def ref(x, o, s):
        return float(np.sum(np.sin((x - x.mean(0)) / np.sqrt(x.var(0) + 1e-5) * np.ravel(s) + np.ravel(o))))
    o, s = np.reshape(off, (3, 1)), np.reshape(sc, (3, 1))
    y, (gx, go, gs) = dlfeval(f, dlarray(XN), dlarray(o), dlarray(s))
    assert_close(float(D(y)), ref(XN, o, s), rtol=1e-12)
    assert D(go).shape == (3, 1) and D(gs).shape == (3, 1)
    for k, g in enumerate((gx, go, gs)):
        assert_close(D(g), numerical_gradient(ref, [XN, o, s], k))
