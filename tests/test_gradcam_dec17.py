"""Grad-CAM (MATLAB's "Grad-CAM Reveals the Why Behind Deep Learning Decisions", linked from the dlfeval
page of shared/seeds/002): a gradient with respect to one output of ``predict``/``forward`` with
``Outputs=[...]`` while the score is another output of the same call (sct/network_outputs.py writes a
second call taking the feature map as given).  Checked against the gradient of the network's tail
(the layers after the feature map, in a network of their own, differentiated the ordinary way) and
against finite differences."""
import numpy as np
import pytest

import sct
from sct import (additionLayer, convolution2dLayer, dlarray, dlfeval, dlgradient, dlnetwork, dropoutLayer, extractdata,
                 featureInputLayer, forward, fullyConnectedLayer, imageInputLayer, predict, reluLayer, softmaxLayer)

from gradcheck import assert_close

RNG = np.random.default_rng(17)


def _net():
    return dlnetwork([imageInputLayer([6, 6, 1], Normalization="none"),
                      convolution2dLayer(3, 4, Padding="same", Name="conv"), reluLayer(Name="relu"),
                      fullyConnectedLayer(3, Name="fc"), softmaxLayer(Name="softmax")], Seed=0)


def _tail(net):
    """The layers after "relu" as a network of their own (the same weights)."""
    L = net.Learnables
    value = {(layer, p): v for layer, p, v in zip(L.Layer, L.Parameter, L.Value)}
    return dlnetwork([imageInputLayer([6, 6, 4], Normalization="none"),
                      fullyConnectedLayer(3, Weights=extractdata(value[("fc", "Weights")]),
                                          Bias=extractdata(value[("fc", "Bias")])), softmaxLayer()])


def gradcam(dlnet, dlImg, softmaxName, featureLayerName, classfn):      # MATLAB's, names as arguments
    scores, featureMap = predict(dlnet, dlImg, Outputs=[softmaxName, featureLayerName])
    classScore = np.sum(scores[:, classfn])
    dScoresdMap = dlgradient(classScore, featureMap)
    return featureMap, dScoresdMap


def gradcam_literal(net, X, classfn):
    scores, featureMap = predict(net, X, Outputs=["softmax", "relu"])
    return featureMap, dlgradient(np.sum(scores[:, classfn]), featureMap)


def gradcam_forward(net, X, classfn):
    (featureMap, scores), state = forward(net, X, Outputs=["relu", "softmax"])
    return featureMap, dlgradient(scores[0, classfn], featureMap)


def tail_gradient(tail, F, classfn):
    s = predict(tail, F)
    return dlgradient(np.sum(s[:, classfn]), F)


def test_gradcam_is_the_gradient_of_the_networks_tail():
    net = _net()
    X = RNG.standard_normal((2, 6, 6, 1))
    fm, d = dlfeval(gradcam, net, dlarray(X), "softmax", "relu", 1)
    assert_close(extractdata(fm), extractdata(predict(net, X, Outputs=["relu"])))
    expected = dlfeval(tail_gradient, _tail(net), dlarray(extractdata(fm)), 1)
    assert np.abs(extractdata(expected)).max() > 1e-3
    assert_close(extractdata(d), extractdata(expected), rtol=1e-10, atol=1e-12)
    fm2, d2 = dlfeval(gradcam_literal, net, dlarray(X), 1)
    assert_close(extractdata(d2), extractdata(expected), rtol=1e-10, atol=1e-12)
    fm3, d3 = sct.accelerate(gradcam)(net, dlarray(X), "softmax", "relu", 1)
    assert_close(extractdata(d3), extractdata(expected), rtol=1e-10, atol=1e-12)
    # forward: the same numbers (no dropout in this network), y the first observation's score
    fm4, d4 = dlfeval(gradcam_forward, net, dlarray(X), 2)
    e4 = dlfeval(tail_gradient, _tail(net), dlarray(extractdata(fm4)[:1]), 2)
    assert_close(extractdata(d4)[:1], extractdata(e4), rtol=1e-10, atol=1e-12)
    assert_close(extractdata(d4)[1:], np.zeros_like(extractdata(d4)[1:]))


def test_gradcam_by_finite_differences():
    net = _net()
    X = RNG.standard_normal((1, 6, 6, 1))
    fm, d = dlfeval(gradcam_literal, net, dlarray(X), 0)
    F0 = extractdata(fm)
    tail = _tail(net)

    def score(F):
        return float(np.sum(extractdata(predict(tail, F))[:, 0]))
    num = np.zeros_like(F0)
    for idx in [(0, 1, 2, 0), (0, 3, 3, 1), (0, 5, 0, 3), (0, 2, 4, 2)]:
        Fp, Fm = F0.copy(), F0.copy()
        Fp[idx] += 1e-6
        Fm[idx] -= 1e-6
        num[idx] = (score(Fp) - score(Fm)) / 2e-6
        assert abs(num[idx] - extractdata(d)[idx]) < 1e-7


def test_gradcam_with_formatted_data():
    net = _net()
    X = RNG.standard_normal((2, 6, 6, 1))
    img = dlarray(np.transpose(X, (1, 2, 3, 0)), "SSCB")
    fm, d = dlfeval(gradcam_literal, net, img, 1)
    assert sct.dims(d) == sct.dims(fm)
    expected = dlfeval(tail_gradient, _tail(net), dlarray(extractdata(fm)), 1)
    assert_close(extractdata(d), extractdata(expected), rtol=1e-10, atol=1e-12)


def skip_gradcam(net, X):
    scores, hidden = predict(net, X, Outputs=["out", "relu"])
    return dlgradient(np.sum(scores[:, 0]), hidden), dlgradient(np.sum(scores[:, 0]), X)


def test_a_path_around_the_feature_map_is_held_and_the_input_gradient_unchanged():
    # in -> fc1 -> relu -> fc2 -> add <- fc1 (a skip around relu): d score / d relu goes through fc2 only
    W1, b1 = RNG.standard_normal((3, 2)), RNG.standard_normal(3)
    W2, b2 = RNG.standard_normal((3, 3)), RNG.standard_normal(3)
    net = dlnetwork([featureInputLayer(2, Name="in"), fullyConnectedLayer(3, Weights=W1, Bias=b1, Name="fc1"),
                     reluLayer(Name="relu"), fullyConnectedLayer(3, Weights=W2, Bias=b2, Name="fc2"),
                     additionLayer(2, Name="add"), softmaxLayer(Name="out")],
                    Connections=[("in", "fc1"), ("fc1", "relu"), ("relu", "fc2"), ("fc2", "add/in1"),
                                 ("fc1", "add/in2"), ("add", "out")])
    X = RNG.standard_normal((4, 2))
    if not net.Initialized:
        net = sct.initialize(net, X)
    g_hidden, g_x = dlfeval(skip_gradcam, net, dlarray(X))
    a = X @ W1.T + b1
    r = np.maximum(a, 0)
    z = r @ W2.T + b2 + a
    s = np.exp(z - z.max(1, keepdims=True))
    s /= s.sum(1, keepdims=True)
    dz = s * ((np.arange(3) == 0) - s[:, :1])          # d s0 / d z
    assert_close(extractdata(g_hidden), dz @ W2, rtol=1e-10, atol=1e-12)
    da = dz + (dz @ W2) * (a > 0)
    assert_close(extractdata(g_x), da @ W1, rtol=1e-10, atol=1e-12)


def test_forward_through_dropout_is_refused():
    net = dlnetwork([imageInputLayer([6, 6, 1], Normalization="none"),
                     convolution2dLayer(3, 4, Padding="same", Name="conv"), reluLayer(Name="relu"),
                     dropoutLayer(0.5), fullyConnectedLayer(3), softmaxLayer(Name="softmax")], Seed=0)
    with pytest.raises(sct.SctError, match="draws random numbers"):
        dlfeval(gradcam_forward, net, dlarray(RNG.standard_normal((1, 6, 6, 1))), 0)
    # predict runs no dropout: computed
    fm, d = dlfeval(gradcam_literal, net, dlarray(RNG.standard_normal((1, 6, 6, 1))), 0)
    assert np.abs(extractdata(d)).max() > 0
