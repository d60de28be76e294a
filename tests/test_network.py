"""dlnetwork, built-in layers, Learnables/State tables, optimizers over networks, minibatchqueue
(issue 9): values against hand-written numpy, gradients against central differences, second
derivatives through a network, and a MATLAB-shaped custom training loop on real data."""
from __future__ import annotations

import time

import numpy as np
import pytest

import sct
from sct import (Layer, Table, additionLayer, adamupdate, batchNormalizationLayer, concatenationLayer,
                 convolution2dLayer, crossentropy, dlarray, dlfeval, dlgradient, dlnetwork, dropoutLayer,
                 embeddingLayer, extractdata, featureInputLayer, flattenLayer, forward, fullyConnectedLayer,
                 geluLayer, gruLayer, imageInputLayer, initialize, layerNormalizationLayer, leakyReluLayer,
                 lstmLayer, maxPooling2dLayer, averagePooling2dLayer, minibatchqueue, predict, reluLayer,
                 sequenceInputLayer, sgdmupdate, sigmoidLayer, softmaxLayer, tanhLayer)

try:
    from tests.gradcheck import assert_close, numerical_gradients
except ImportError:                      # run as plain `pytest` from inside tests/
    from gradcheck import assert_close, numerical_gradients


# --- helpers -------------------------------------------------------------------------------------


def values_of(table):
    return [np.array(extractdata(v), dtype=np.float64) for v in table.Value]


def assert_table_close(table, expected, rtol=1e-5, atol=1e-7):
    assert isinstance(table, Table)
    assert len(table) == len(expected)
    for row, e in zip(table, expected):
        assert_close(extractdata(row.Value), e, rtol=rtol, atol=atol, what=f"{row.Layer}.{row.Parameter}")


def with_values(net, values):
    return net.with_learnables([dlarray(v) for v in values])


# --- model-loss functions (MATLAB's shape) -------------------------------------------------------------


def model_loss(net, X, T):
    Y, state = forward(net, X)
    loss = crossentropy(Y, T)
    gradients = dlgradient(loss, net.Learnables)
    return loss, gradients, state


def squared_output_loss(net, X):
    Y, state = forward(net, X)
    loss = np.sum(Y * Y) / 2
    return loss, dlgradient(loss, net.Learnables)


def predict_loss(net, X):
    Y = predict(net, X)
    loss = np.sum(np.sin(Y))
    return loss, dlgradient(loss, net.Learnables)


def input_gradient(net, X):
    Y = predict(net, X)
    return dlgradient(np.sum(Y * Y), X)


def gradient_penalty(net, X):
    Y = predict(net, X)
    dX = dlgradient(np.sum(Y * Y), X)
    penalty = np.sum(dX * dX)
    return penalty, dlgradient(penalty, net.Learnables)


# --- an MLP -----------------------------------------------------------------------------------------------


def mlp(seed=0):
    return dlnetwork([featureInputLayer(5), fullyConnectedLayer(7), tanhLayer(), fullyConnectedLayer(3),
                      softmaxLayer()], Seed=seed)


def mlp_reference(values, X):
    W1, b1, W2, b2 = values
    h = np.tanh(X @ W1.T + b1)
    z = h @ W2.T + b2
    e = np.exp(z - z.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


RNG = np.random.default_rng(0)
X5 = RNG.standard_normal((6, 5))
T3 = np.eye(3)[RNG.integers(0, 3, 6)]


def test_mlp_structure_initialisers_and_table():
    net = mlp()
    assert net.Initialized
    assert [layer.Name for layer in net.Layers] == ["input", "fc_1", "tanh", "fc_2", "softmax"]
    assert net.InputNames == ["input"] and net.OutputNames == ["softmax"]
    t = net.Learnables
    assert len(t) == 4 and t.height == 4
    assert t.Layer == ("fc_1", "fc_1", "fc_2", "fc_2")
    assert t.Parameter == ("Weights", "Bias", "Weights", "Bias")
    assert [np.shape(v) for v in t.Value] == [(7, 5), (7,), (3, 7), (3,)]
    assert all(isinstance(v, dlarray) for v in t.Value)
    # MATLAB's defaults: Glorot uniform weights, zero biases
    w = extractdata(t.Value[0])
    assert np.all(np.abs(w) <= np.sqrt(6 / (5 + 7))) and np.std(w) > 0.1
    assert np.all(extractdata(t.Value[1]) == 0)
    # rows, indexing, iteration
    assert t[2].Layer == "fc_2" and t[2].Parameter == "Weights"
    assert t["fc_2", "Bias"] is t.Value[3]
    assert len(t["fc_1"]) == 2 and len(t[1:3]) == 2
    assert [row.Parameter for row in t] == list(t.Parameter)
    text = repr(t)
    assert "fc_1" in text and "Weights" in text and "7x5 dlarray" in text
    assert "<table" in t._repr_html_()
    # the same seed gives the same network; Layers hold the current values
    assert_close(extractdata(mlp().Learnables.Value[0]), w)
    assert_close(extractdata(net.Layers[1].Weights), w)
    assert net.Layers[1].Weights is not None and net._layers[1].Weights is None


def test_mlp_forward_and_predict_match_numpy():
    net = mlp()
    ref = mlp_reference(values_of(net.Learnables), X5)
    Y, state = forward(net, dlarray(X5))
    assert_close(extractdata(Y), ref)
    assert isinstance(state, Table) and len(state) == 0
    assert_close(extractdata(predict(net, X5)), ref)
    # under dlfeval too
    loss, grads, state = dlfeval(model_loss, net, dlarray(X5), T3)
    assert_close(float(loss), -np.sum(T3 * np.log(ref)) / 6)


def test_mlp_gradients_are_a_table_matching_numerical_gradients():
    net = mlp()
    loss, grads, _ = dlfeval(model_loss, net, dlarray(X5), T3)
    assert isinstance(grads, Table)
    assert grads.Layer == net.Learnables.Layer and grads.Parameter == net.Learnables.Parameter

    def f(values):
        return -np.sum(T3 * np.log(mlp_reference(values, X5))) / 6
    assert_table_close(grads, numerical_gradients(f, values_of(net.Learnables)))


def test_network_code_is_compiled_once_and_cached():
    from sct import cache
    net = mlp(seed=3)
    dlfeval(model_loss, net, dlarray(X5), T3)
    before = (len(cache.ENTRIES), len(cache.HELPERS))
    entries = cache.ENTRIES.entries()
    start = time.process_time()          # CPU time: other processes (xdist workers, a loaded CI) do not count
    for _ in range(5):
        dlfeval(model_loss, net, dlarray(X5), T3)
    per_call = (time.process_time() - start) / 5
    assert (len(cache.ENTRIES), len(cache.HELPERS)) == before
    assert cache.ENTRIES.entries() == entries
    # another network of the same structure (new values, a new batch size) reuses the code
    dlfeval(model_loss, mlp(seed=4), dlarray(RNG.standard_normal((9, 5))), np.eye(3)[np.arange(9) % 3])
    assert (len(cache.ENTRIES), len(cache.HELPERS)) == before
    assert per_call < 0.05, per_call


# --- a small CNN with batch normalisation ----------------------------------------------------------


def cnn(seed=0, dropout=False):
    layers = [imageInputLayer([6, 6, 2], Normalization="none"),
              convolution2dLayer(3, 3, Padding="same"),
              batchNormalizationLayer(),
              reluLayer(),
              maxPooling2dLayer(2, Stride=2)]
    if dropout:
        layers.append(dropoutLayer(0.5))
    layers += [fullyConnectedLayer(4), softmaxLayer()]
    return dlnetwork(layers, Seed=seed)


def conv_same_reference(X, W, b):
    B, H, Wd, C = X.shape
    kh, kw, _, F = W.shape
    Xp = np.pad(X, ((0, 0), (kh // 2, kh // 2), (kw // 2, kw // 2), (0, 0)))
    out = np.zeros((B, H, Wd, F))
    for i in range(H):
        for j in range(Wd):
            patch = Xp[:, i:i + kh, j:j + kw, :]
            out[:, i, j, :] = np.tensordot(patch, W, axes=([1, 2, 3], [0, 1, 2]))
    return out + b


def cnn_reference(values, states, X, training):
    W, b, offset, scale, Wf, bf = values
    mean, var = states
    y = conv_same_reference(X, W, b)
    if training:
        mu = y.mean(axis=(0, 1, 2))
        sig = y.var(axis=(0, 1, 2))
    else:
        mu, sig = mean, var
    y = scale * (y - mu) / np.sqrt(sig + 1e-5) + offset
    y = np.maximum(y, 0)
    B, H, Wd, C = y.shape
    y = y.reshape(B, H // 2, 2, Wd // 2, 2, C).max(axis=(2, 4))
    z = y.transpose(0, 3, 2, 1).reshape(B, -1) @ Wf.T + bf     # MATLAB's flatten: column-major (h fastest)
    e = np.exp(z - z.max(axis=1, keepdims=True))
    p = e / e.sum(axis=1, keepdims=True)
    m = X.shape[0] * X.shape[1] * X.shape[2]
    conv = conv_same_reference(X, W, b)
    new_mean = 0.1 * conv.mean(axis=(0, 1, 2)) + 0.9 * mean
    new_var = 0.1 * conv.var(axis=(0, 1, 2)) * m / (m - 1) + 0.9 * var
    return p, (new_mean, new_var)


XI = RNG.standard_normal((5, 6, 6, 2))
T4 = np.eye(4)[RNG.integers(0, 4, 5)]


def test_cnn_forward_predict_and_state_match_numpy():
    net = cnn()
    assert net.Learnables.Parameter == ("Weights", "Bias", "Offset", "Scale", "Weights", "Bias")
    assert [np.shape(v) for v in net.Learnables.Value] == [(3, 3, 2, 3), (3,), (3,), (3,), (4, 27), (4,)]
    assert net.State.Parameter == ("TrainedMean", "TrainedVariance")
    values, states = values_of(net.Learnables), values_of(net.State)
    p, (mean, var) = cnn_reference(values, states, XI, training=True)
    loss, grads, state = dlfeval(model_loss, net, dlarray(XI), T4)
    assert_close(float(loss), -np.sum(T4 * np.log(p)) / 5)
    assert isinstance(state, Table) and state.Parameter == net.State.Parameter
    assert_close(extractdata(state.Value[0]), mean)
    assert_close(extractdata(state.Value[1]), var)
    # net.State = state: predict uses the trained statistics
    net.State = state
    p_inf, _ = cnn_reference(values, [mean, var], XI, training=False)
    assert_close(extractdata(predict(net, XI)), p_inf)
    Y, _ = forward(net, XI)
    assert_close(extractdata(Y), cnn_reference(values, [mean, var], XI, training=True)[0])


def test_cnn_gradients_match_numerical_gradients():
    net = cnn(seed=1)
    states = values_of(net.State)
    _, grads, _ = dlfeval(model_loss, net, dlarray(XI), T4)

    def f(values):
        p, _ = cnn_reference(values, states, XI, training=True)
        return -np.sum(T4 * np.log(p)) / 5
    assert_table_close(grads, numerical_gradients(f, values_of(net.Learnables)), rtol=1e-4, atol=1e-6)


def test_dropout_layer_trains_and_predicts():
    net = cnn(dropout=True)
    p_pred = extractdata(predict(net, XI))
    assert_close(p_pred, cnn_reference(values_of(net.Learnables), values_of(net.State), XI, False)[0])
    Y1, _ = forward(net, XI)
    Y2, _ = forward(net, XI)
    assert not np.allclose(extractdata(Y1), extractdata(Y2))          # fresh masks in training
    loss, grads, _ = dlfeval(model_loss, net, dlarray(XI), T4)
    assert np.isfinite(float(loss)) and all(np.all(np.isfinite(extractdata(v))) for v in grads.Value)


# --- second derivatives through a network -------------------------------------------------------------


def test_gradient_penalty_second_derivative():
    net = dlnetwork([featureInputLayer(3), fullyConnectedLayer(4), tanhLayer(), fullyConnectedLayer(2),
                     sigmoidLayer()], Seed=2)
    X = RNG.standard_normal((3, 3))
    penalty, grads = dlfeval(gradient_penalty, net, dlarray(X))

    def f(values):          # differences of the exact first derivative
        dX = extractdata(dlfeval(input_gradient, with_values(net, values), dlarray(X)))
        return float(np.sum(dX * dX))
    values = values_of(net.Learnables)
    assert_close(float(penalty), f(values))
    assert_table_close(grads, numerical_gradients(f, values), rtol=1e-4, atol=1e-6)


# --- graphs, more layers, custom layers -------------------------------------------------------------


def test_layer_graph_with_addition_and_concatenation():
    layers = [featureInputLayer(4, Name="in"), fullyConnectedLayer(3, Name="fa"), tanhLayer(Name="ta"),
              fullyConnectedLayer(3, Name="fb"), additionLayer(2, Name="add"),
              concatenationLayer("C", 2, Name="cat"), fullyConnectedLayer(2, Name="out")]
    connections = [("in", "fa"), ("fa", "ta"), ("in", "fb"), ("ta", "add/in1"), ("fb", "add/in2"),
                   ("add", "cat/in1"), ("ta", "cat/in2"), ("cat", "out")]
    net = dlnetwork(layers, Connections=connections, Seed=0)
    assert net.OutputNames == ["out"]
    assert ("ta", "cat/in2") in net.Connections
    X = RNG.standard_normal((4, 4))

    def ref(values):
        Wa, ba, Wb, bb, Wo, bo = values
        ta = np.tanh(X @ Wa.T + ba)
        add = ta + (X @ Wb.T + bb)
        return np.concatenate([add, ta], axis=1) @ Wo.T + bo
    values = values_of(net.Learnables)
    assert_close(extractdata(predict(net, X)), ref(values))
    _, grads = dlfeval(predict_loss, net, dlarray(X))
    assert_table_close(grads, numerical_gradients(lambda v: np.sum(np.sin(ref(v))), values))
    # the same graph with addLayers / connectLayers
    g = sct.addLayers(dlnetwork(), layers[:3])
    g = sct.addLayers(g, layers[3:5])
    g = sct.connectLayers(g, "in", "fb")
    g = sct.connectLayers(g, "ta", "add/in2")
    g = sct.addLayers(g, layers[5:])
    g = sct.connectLayers(g, "add", "cat/in1")
    g = sct.connectLayers(g, "ta", "cat/in2")
    assert not g.Initialized
    g = initialize(g)
    assert g.Initialized and len(g.Learnables) == 6


def test_uninitialised_network_needs_an_example():
    net = dlnetwork([fullyConnectedLayer(3), reluLayer()])
    assert not net.Initialized
    with pytest.raises(ValueError, match="not initialized"):
        predict(net, X5)
    net = initialize(net, X5, Seed=0)
    assert [np.shape(v) for v in net.Learnables.Value] == [(3, 5), (3,)]
    assert_close(extractdata(predict(net, X5)),
                 np.maximum(X5 @ extractdata(net.Learnables.Value[0]).T, 0))
    with pytest.raises(ValueError, match="1 inputs"):
        predict(net, X5, X5)


class PReLULayer(Layer):
    """MATLAB's example custom layer (seed 001): Alpha initialised from the layout."""
    learnables = ("Alpha",)

    def __init__(self, Name=""):
        self.Name = Name
        self.Alpha = None

    def initialize(self, layout):
        if self.Alpha is not None:
            return self
        idx = sct.finddim(layout, "C")[0]
        size = [1] * len(layout.Size)
        size[idx] = layout.Size[idx]
        self.Alpha = np.random.default_rng(5).uniform(size=tuple(size[1:]))
        return self

    def predict(self, X):
        return np.maximum(X, 0) + self.Alpha * np.minimum(0, X)


class ScaledPReLULayer(PReLULayer):
    def backward(self, X, Z, dLdZ, memory):
        dLdX = np.where(X > 0, dLdZ, self.Alpha * dLdZ)
        return dLdX, np.sum(np.minimum(0, X) * dLdZ, axis=0)


@pytest.mark.parametrize("cls", [PReLULayer, ScaledPReLULayer])
def test_custom_layer_in_a_network(cls):
    net = dlnetwork([featureInputLayer(5), fullyConnectedLayer(4), cls(Name="prelu"), fullyConnectedLayer(2)],
                    Seed=0)
    assert net.Learnables.Layer[2] == "prelu" and np.shape(net.Learnables.Value[2]) == (4,)
    X = RNG.standard_normal((3, 5))

    def ref(values):
        W1, b1, a, W2, b2 = values
        h = X @ W1.T + b1
        h = np.maximum(h, 0) + a * np.minimum(h, 0)
        return h @ W2.T + b2
    values = values_of(net.Learnables)
    assert_close(extractdata(predict(net, X)), ref(values))
    _, grads = dlfeval(squared_output_loss, net, dlarray(X))
    assert_table_close(grads, numerical_gradients(lambda v: np.sum(ref(v) ** 2) / 2, values))


class RunningScale(Layer):
    """A custom layer with state: forward returns (Z, new state)."""
    learnables = ("W",)
    state = ("Count",)

    def __init__(self, Name="running"):
        self.Name = Name
        self.W = np.array([2.0])
        self.Count = np.array([0.0])

    def predict(self, X):
        return X * self.W, self.Count

    def forward(self, X):
        return X * self.W, self.Count + 1


def test_custom_layer_with_state():
    net = dlnetwork([featureInputLayer(2), RunningScale()])
    assert net.State.Parameter == ("Count",)
    Y, state = forward(net, np.ones((1, 2)))
    assert_close(extractdata(Y), 2 * np.ones((1, 2)))
    net.State = state
    _, state = forward(net, np.ones((1, 2)))
    assert_close(extractdata(state.Value[0]), [2.0])
    _, grads = dlfeval(squared_output_loss, net, dlarray(np.ones((1, 2))))
    assert_close(extractdata(grads.Value[0]), [4.0])             # sum(X * W * X)


def test_more_layers_gradients():
    """layernorm, gelu, leaky ReLU, avg pooling, flatten, sequence layers, embeddings."""
    nets = {
        "norm": (dlnetwork([featureInputLayer(4), fullyConnectedLayer(5), layerNormalizationLayer(), geluLayer(),
                            leakyReluLayer(0.1), fullyConnectedLayer(2)], Seed=0), RNG.standard_normal((3, 4))),
        "pool": (dlnetwork([imageInputLayer([4, 4, 1], Normalization="none"), convolution2dLayer([2, 2], 2),
                            averagePooling2dLayer(2, Stride=1), flattenLayer(), fullyConnectedLayer(2)], Seed=0),
                 RNG.standard_normal((2, 4, 4, 1))),
        "lstm": (dlnetwork([sequenceInputLayer(3), lstmLayer(4, OutputMode="last"), fullyConnectedLayer(2)],
                           Seed=0), RNG.standard_normal((2, 3, 3))),
        "gru": (dlnetwork([sequenceInputLayer(3), gruLayer(3), fullyConnectedLayer(2)], Seed=0),
                RNG.standard_normal((2, 3, 3))),
    }
    for name, (net, X) in nets.items():
        _, grads = dlfeval(predict_loss, net, dlarray(X))

        def f(values, net=net, X=X):
            return float(np.sum(np.sin(extractdata(predict(with_values(net, values), X)))))
        assert_table_close(grads, numerical_gradients(f, values_of(net.Learnables)), rtol=1e-4, atol=1e-6)
    # LSTM defaults: orthogonal recurrent weights, unit forget gate bias
    lstm_net = nets["lstm"][0]
    R = extractdata(lstm_net.Learnables.value("lstm", "RecurrentWeights"))
    assert_close(R[:4].T @ R[:4], np.eye(4), atol=1e-10)
    assert_close(extractdata(lstm_net.Learnables.value("lstm", "Bias")), [0] * 4 + [1] * 4 + [0] * 8)
    # embeddings: integer word indices, narrow-normal weights
    emb = dlnetwork([embeddingLayer(3, 10), flattenLayer(), fullyConnectedLayer(2)],
                    np.array([[1, 2], [3, 1]]), Seed=0)
    w = extractdata(emb.Learnables.Value[0])
    assert w.shape == (3, 10) and np.std(w) < 0.05          # MATLAB's embeddingDimension-by-numWords
    _, grads = dlfeval(predict_loss, emb, np.array([[1, 2], [3, 1]]))
    g = extractdata(grads.Value[0])
    assert np.all(g[:, [0, 4, 5, 6, 7, 8, 9]] == 0) and np.any(g[:, 1] != 0)


# --- optimizers over networks and tables ------------------------------------------------------------


def test_adamupdate_and_sgdmupdate_take_networks_and_tables():
    net = mlp()
    _, grads, _ = dlfeval(model_loss, net, dlarray(X5), T3)
    new, avg, avg_sq = adamupdate(net, grads, None, None, 1)
    assert isinstance(new, dlnetwork) and isinstance(avg, Table) and isinstance(avg_sq, Table)
    assert new is not net and net.Learnables.Value[0] is not new.Learnables.Value[0]
    for p0, g, p1, m, v in zip(values_of(net.Learnables), values_of(grads), values_of(new.Learnables),
                               values_of(avg), values_of(avg_sq)):
        assert_close(m, 0.1 * g)
        assert_close(v, 0.001 * g * g)
        assert_close(p1, p0 - 0.001 * np.sqrt(1 - 0.999) / (1 - 0.9) * m / (np.sqrt(v) + 1e-8))
    table, vel = sgdmupdate(net.Learnables, grads, None, 0.1, 0.9)
    assert isinstance(table, Table) and table.Layer == net.Learnables.Layer
    for p0, g, p1 in zip(values_of(net.Learnables), values_of(grads), values_of(table)):
        assert_close(p1, p0 - 0.1 * g)
    # the updated network computes with its new values
    assert_close(extractdata(predict(new, X5)), mlp_reference(values_of(new.Learnables), X5))


# --- minibatchqueue ---------------------------------------------------------------------------------


def test_minibatchqueue():
    X = np.arange(10.0)[:, None] * np.ones((1, 3))
    T = np.arange(10)
    mbq = minibatchqueue(X, T, MiniBatchSize=4)
    batches = []
    while sct.hasdata(mbq):
        x, t = next(mbq)
        assert isinstance(x, dlarray) and not isinstance(t, dlarray)
        batches.append(t.tolist())
    assert batches == [[0, 1, 2, 3], [4, 5, 6, 7], [8, 9]]
    with pytest.raises(StopIteration):
        next(mbq)
    sct.reset(mbq)
    assert len(list(mbq)) == 3 == len(mbq)
    mbq = minibatchqueue(X, T, MiniBatchSize=4, PartialMiniBatch="discard", Seed=0,
                         MiniBatchFcn=lambda x, t: (x * 2, sct.onehotencode(t, 10)))
    sct.shuffle(mbq)
    seen = []
    for x, t in mbq:
        assert x.shape == (4, 3) and t.shape == (4, 10)
        labels = np.argmax(extractdata(t), axis=1)
        assert_close(extractdata(x)[:, 0], 2 * labels)
        seen += labels.tolist()
    assert len(seen) == 8 and len(set(seen)) == 8 and seen != sorted(seen)
    with pytest.raises(ValueError, match="same|different"):
        minibatchqueue(X, T[:5])


# --- a custom training loop, as MATLAB's examples write it --------------------------------------------


def digits_data():
    try:
        return sct.load_digits(Seed=0)
    except ImportError:                   # scikit-learn not installed: a synthetic stand-in
        rng = np.random.default_rng(0)
        centers = rng.uniform(size=(10, 8, 8, 1))
        T = rng.integers(0, 10, 1000)
        X = np.clip(centers[T] + 0.3 * rng.standard_normal((1000, 8, 8, 1)), 0, 1)
        return X[:750], T[:750], X[750:], T[750:]


def test_custom_training_loop_on_digits():
    XTrain, TTrain, XTest, TTest = digits_data()
    net = dlnetwork([imageInputLayer([8, 8, 1], Normalization="none"),
                     convolution2dLayer(3, 8, Padding="same"), batchNormalizationLayer(), reluLayer(),
                     maxPooling2dLayer(2, Stride=2),
                     fullyConnectedLayer(32), reluLayer(), dropoutLayer(0.1),
                     fullyConnectedLayer(10), softmaxLayer()], Seed=0)
    mbq = minibatchqueue(XTrain, TTrain, MiniBatchSize=64, Seed=0,
                         MiniBatchFcn=lambda X, T: (X, sct.onehotencode(T, 10)))
    avg = avg_sq = None
    iteration = 0
    start = time.process_time()          # CPU time: other processes (xdist workers, a loaded CI) do not count
    for epoch in range(4):
        sct.shuffle(mbq)
        while sct.hasdata(mbq):
            iteration += 1
            X, T = next(mbq)
            loss, gradients, state = dlfeval(model_loss, net, X, T)
            net.State = state
            net, avg, avg_sq = adamupdate(net, gradients, avg, avg_sq, iteration, 0.01)
    elapsed = time.process_time() - start
    predicted = np.argmax(extractdata(predict(net, XTest)), axis=1)
    accuracy = np.mean(predicted == TTest)
    assert accuracy > 0.9, accuracy                # chance is 0.1 (measured: 0.97)
    assert elapsed < 30, elapsed


# --- MATLAB's physics-informed network for Burgers' equation (second derivatives inside the loss) ---

def burgers_residual(net, X, T):
    U = predict(net, np.concatenate([X, T], axis=1))
    Ux, Ut = dlgradient(np.sum(U), X, T)                     # MATLAB: dlgradient(sum(U,"all"), {X,T})
    Uxx = dlgradient(np.sum(Ux), X)
    f = Ut + U * Ux - (0.01 / np.pi) * Uxx
    return np.mean(f ** 2), U, Ux, Ut, Uxx


def burgers_loss(net, X, T, X0, U0):
    mseF = burgers_residual(net, X, T)[0]
    mseU = np.mean((predict(net, X0) - U0) ** 2)
    loss = mseF + mseU
    return loss, dlgradient(loss, net.Learnables)


@pytest.mark.heavy
def test_physics_informed_burgers_loss_and_its_gradient():
    net = dlnetwork([featureInputLayer(2), fullyConnectedLayer(5), tanhLayer(), fullyConnectedLayer(1)],
                    Seed=0)                       # its own initial weights, whatever ran before
    rng = np.random.default_rng(3)
    X, T = rng.uniform(-1, 1, (5, 1)), rng.uniform(0, 1, (5, 1))
    x0 = np.linspace(-1, 1, 4)[:, None]
    X0, U0 = np.concatenate([x0, np.zeros_like(x0)], axis=1), -np.sin(np.pi * x0)

    # the derivatives of U inside the loss, against central differences of the network
    _, U, Ux, Ut, Uxx = dlfeval(burgers_residual, net, dlarray(X), dlarray(T))

    def u(x, t):
        return extractdata(predict(net, np.concatenate([x, t], axis=1)))
    h = 1e-4
    assert_close(extractdata(Ux), (u(X + h, T) - u(X - h, T)) / (2 * h), rtol=1e-5, atol=1e-7)
    assert_close(extractdata(Ut), (u(X, T + h) - u(X, T - h)) / (2 * h), rtol=1e-5, atol=1e-7)
    assert_close(extractdata(Uxx), (u(X + h, T) - 2 * u(X, T) + u(X - h, T)) / h ** 2, rtol=1e-3, atol=1e-5)

    # the gradient with respect to the learnables (third derivatives of the network) is exact
    loss, grads = dlfeval(burgers_loss, net, dlarray(X), dlarray(T), X0, U0)

    def f(values):
        return float(dlfeval(burgers_loss, with_values(net, values), dlarray(X), dlarray(T), X0, U0)[0])
    assert_table_close(grads, numerical_gradients(f, values_of(net.Learnables)), rtol=1e-4, atol=1e-6)

    # and a few Adam steps lower the loss
    avg = avg_sq = None
    first = float(loss)
    for it in range(1, 21):
        loss, grads = dlfeval(burgers_loss, net, dlarray(X), dlarray(T), X0, U0)
        net, avg, avg_sq = adamupdate(net, grads, avg, avg_sq, it, 0.02)
    assert float(loss) < 0.7 * first
