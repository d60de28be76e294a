"""Issue 8, training step machinery: ``run_network`` as straight-line code generated per network plan
(``runtime.network.network_runner``, cached) instead of the compiled loop ``run_network_loop``.

The unrolled runner must give the values, new states and gradients of the loop bit for bit, for
networks of several shapes (a chain, a graph with addition and concatenation, two inputs, custom
layers with state, batch norm in training and inference, dropout, ``Outputs=``), gradients must match
central differences, and the cache must follow the network: a network of another structure, or the
same structure with other layers, never runs a runner generated for another.  Also the other fast paths
of a training step: bind_learnables' copy, computed_attribute's per-class answer (a class changed later
is looked up again), the one-channel im2col, the transposed convolution into the input's shape, the
layers' direct batchnorm/maxpool paths and adamupdate over all of a network's arrays at once."""
from __future__ import annotations

import numpy as np
import pytest

import sct
from sct import (Layer, additionLayer, batchNormalizationLayer, concatenationLayer, convolution2dLayer,
                 crossentropy, dlarray, dlfeval, dlgradient, dlnetwork, dropoutLayer, extractdata,
                 featureInputLayer, forward, fullyConnectedLayer, imageInputLayer, maxPooling2dLayer, predict,
                 reluLayer, softmaxLayer, tanhLayer, sigmoidLayer)
from sct.runtime import network

try:
    from tests.gradcheck import assert_close, numerical_gradient
except ImportError:                      # run as plain `pytest` from inside tests/
    from gradcheck import assert_close, numerical_gradient


def data(x):
    return np.asarray(extractdata(x))


class RunningCount(Layer):
    """A custom layer with a learnable and a state (forward returns the output and the new state)."""
    learnables = ("W",)
    state = ("Count",)

    def __init__(self, Name="running"):
        self.Name = Name
        self.W = np.array([1.5, -0.5, 2.0])
        self.Count = np.array([0.0])

    def predict(self, X):
        return np.tanh(X * self.W), self.Count

    def forward(self, X):
        return np.tanh(X * self.W) * 1.25, self.Count + 1


def chain_cnn():
    return dlnetwork([imageInputLayer([6, 6, 2], Normalization="none"),
                      convolution2dLayer(3, 4, Padding="same"), batchNormalizationLayer(), reluLayer(),
                      maxPooling2dLayer(2, Stride=2), convolution2dLayer(3, 3, Padding="same"),
                      batchNormalizationLayer(), reluLayer(), fullyConnectedLayer(3), softmaxLayer()], Seed=3)


def graph_net():
    layers = [featureInputLayer(4, Name="in"), fullyConnectedLayer(3, Name="fa"), tanhLayer(Name="ta"),
              fullyConnectedLayer(3, Name="fb"), additionLayer(2, Name="add"),
              concatenationLayer("C", 2, Name="cat"), batchNormalizationLayer(Name="bn"),
              fullyConnectedLayer(3, Name="out"), softmaxLayer(Name="sm")]
    connections = [("in", "fa"), ("fa", "ta"), ("in", "fb"), ("ta", "add/in1"), ("fb", "add/in2"),
                   ("add", "cat/in1"), ("ta", "cat/in2"), ("cat", "bn"), ("bn", "out"), ("out", "sm")]
    return dlnetwork(layers, Connections=connections, Seed=4)


def two_input_net():
    layers = [featureInputLayer(3, Name="a"), featureInputLayer(3, Name="b"), additionLayer(2, Name="add"),
              RunningCount(), fullyConnectedLayer(3, Name="fc"), sigmoidLayer(Name="sg"),
              concatenationLayer("C", 2, Name="cat"), fullyConnectedLayer(3, Name="out"), softmaxLayer(Name="sm")]
    connections = [("a", "add/in1"), ("b", "add/in2"), ("add", "running"), ("running", "fc"), ("fc", "sg"),
                   ("sg", "cat/in1"), ("b", "cat/in2"), ("cat", "out"), ("out", "sm")]
    return dlnetwork(layers, Connections=connections, Seed=5)


def dropout_mlp():
    return dlnetwork([featureInputLayer(5), fullyConnectedLayer(8), reluLayer(), dropoutLayer(0.3),
                      fullyConnectedLayer(3), softmaxLayer()], Seed=6)


def inputs_for(net, rng):
    if net.InputNames == ["a", "b"]:
        return [rng.standard_normal((4, 3)), rng.standard_normal((4, 3))]
    if len(net.Learnables.Value[0].shape) == 4:
        return [rng.standard_normal((4, 6, 6, 2))]
    return [rng.standard_normal((4, net.Learnables.Value[0].shape[1]))]


T4 = np.eye(3)[[0, 2, 1, 1]]


def train_loss(net, X, T):
    Y, state = forward(net, X)
    loss = crossentropy(Y, T)
    return loss, dlgradient(loss, net.Learnables), state


def train_loss_with_input(net, X, T):
    Y, state = forward(net, X)
    loss = crossentropy(Y, T)
    gX, g = dlgradient(loss, X, net.Learnables)
    return loss, gX, g, state


def predict_loss(net, X, T):
    loss = crossentropy(predict(net, X), T)
    return loss, dlgradient(loss, net.Learnables)


def train_loss2(net, A, B, T):
    Y, state = forward(net, A, B)
    loss = crossentropy(Y, T)
    gA, g = dlgradient(loss, A, net.Learnables)
    return loss, gA, g, state


def outputs_loss(net, X, T):
    (H, Y), state = forward(net, X, Outputs=["ta", "sm"])
    loss = crossentropy(Y, T) + np.sum(H * H)
    return loss, dlgradient(loss, net.Learnables), state


def flat(result):
    """Every array in a dlfeval result (tables' values, dlarrays), in order."""
    out = []
    for r in result:
        if isinstance(r, sct.Table):
            out.extend(data(v) for v in r.Value)
        else:
            out.append(data(r))
    return out


def both_paths(monkeypatch, fn, *args, seed=None):
    """``dlfeval(fn, *args)`` with the unrolled runner, then with the loop (networks of more than
    ``UNROLL_MAX_LAYERS`` layers run it), each after np.random.seed(seed) when given."""
    results = []
    for limit in (network.UNROLL_MAX_LAYERS, -1):
        monkeypatch.setattr(network, "UNROLL_MAX_LAYERS", limit)
        if seed is not None:
            np.random.seed(seed)
        results.append(flat(dlfeval(fn, *args)))
    return results


def assert_same(a, b):
    assert len(a) == len(b)
    for x, y in zip(a, b):
        assert x.dtype == y.dtype and x.shape == y.shape
        np.testing.assert_array_equal(x, y)


@pytest.mark.parametrize("make", [chain_cnn, graph_net, dropout_mlp])
@pytest.mark.parametrize("fn", [train_loss, train_loss_with_input, predict_loss])
def test_unrolled_runner_equals_the_loop(monkeypatch, make, fn):
    rng = np.random.default_rng(1)
    net = make()
    X = dlarray(inputs_for(net, rng)[0])
    unrolled, loop = both_paths(monkeypatch, fn, net, X, dlarray(T4), seed=7)
    assert_same(unrolled, loop)


def test_unrolled_runner_equals_the_loop_two_inputs_custom_state(monkeypatch):
    rng = np.random.default_rng(2)
    net = two_input_net()
    A, B = inputs_for(net, rng)
    unrolled, loop = both_paths(monkeypatch, train_loss2, net, dlarray(A), dlarray(B), dlarray(T4))
    assert_same(unrolled, loop)
    # the custom layer's new state: its forward's Count + 1
    *_, state = dlfeval(train_loss2, net, dlarray(A), dlarray(B), dlarray(T4))
    assert state.Parameter == ("Count",) and float(data(state.Value[0])[0]) == 1.0


def test_unrolled_runner_equals_the_loop_with_outputs(monkeypatch):
    rng = np.random.default_rng(3)
    net = graph_net()
    X = dlarray(inputs_for(net, rng)[0])
    unrolled, loop = both_paths(monkeypatch, outputs_loss, net, X, dlarray(T4))
    assert_same(unrolled, loop)


def test_plain_calls_outside_dlfeval_equal_the_loop(monkeypatch):
    rng = np.random.default_rng(4)
    for make in (chain_cnn, graph_net, two_input_net):
        net = make()
        xs = inputs_for(net, rng)
        got = []
        for limit in (network.UNROLL_MAX_LAYERS, -1):
            monkeypatch.setattr(network, "UNROLL_MAX_LAYERS", limit)
            Y, state = forward(net, *xs)
            got.append([data(Y)] + [data(v) for v in state.Value] + [data(predict(net, *xs))])
        assert_same(*got)


def test_batchnorm_training_state_and_gradients_against_central_differences():
    """The new running statistics (MATLAB's decay rule) and the learnables' gradients of the unrolled
    runner against plain numpy and central differences."""
    rng = np.random.default_rng(5)
    net = dlnetwork([featureInputLayer(3), fullyConnectedLayer(4), batchNormalizationLayer(), tanhLayer(),
                     fullyConnectedLayer(3), softmaxLayer()], Seed=8)
    X = rng.standard_normal((5, 3))
    T = np.eye(3)[[0, 1, 2, 1, 0]]
    values = [data(v).astype(np.float64) for v in net.Learnables.Value]

    def ref(vals):
        W1, b1, off, sc, W2, b2 = vals
        h = X @ W1.T + b1
        mu, var = h.mean(axis=0), h.var(axis=0)
        z = np.tanh(sc * (h - mu) / np.sqrt(var + 1e-5) + off)
        y = z @ W2.T + b2
        p = np.exp(y - y.max(axis=1, keepdims=True))
        p /= p.sum(axis=1, keepdims=True)
        return -np.sum(T * np.log(p)) / len(X), mu, var

    loss, g, state = dlfeval(train_loss, net, dlarray(X), dlarray(T))
    want, mu, var = ref(values)
    assert_close(float(data(loss)), want, 1e-12, 1e-12)
    assert_close(data(state.Value[0]), 0.1 * mu, 1e-12, 1e-12)
    assert_close(data(state.Value[1]), 0.1 * var * 5 / 4 + 0.9, 1e-12, 1e-12)
    for k in range(len(values)):
        def f(v, k=k):
            vals = list(values)
            vals[k] = v
            return ref(vals)[0]
        assert_close(data(g.Value[k]), numerical_gradient(f, [values[k]], 0), 1e-6, 1e-8, f"learnable {k}")


def test_the_runner_is_cached_per_plan():
    a, b = chain_cnn(), chain_cnn()
    assert network.network_runner(a, True) is network.network_runner(b, True)
    assert network.network_runner(a, True) is not network.network_runner(a, False)
    assert network.network_runner(a, True) is not network.network_runner(graph_net(), True)


def test_same_plan_other_layers_are_not_stale():
    """Two networks of one plan (tanh and sigmoid have no learnables: the plans are equal) share the
    runner, which reads each network's own layers: each computes its own function and gradient."""
    rng = np.random.default_rng(6)
    X = rng.standard_normal((4, 3))
    T = np.eye(3)[[0, 1, 2, 0]]
    nets = {act: dlnetwork([featureInputLayer(3), fullyConnectedLayer(3), layer(), fullyConnectedLayer(3),
                            softmaxLayer()], Seed=9)
            for act, layer in (("tanh", tanhLayer), ("sigmoid", sigmoidLayer), ("relu", reluLayer))}
    acts = {"tanh": np.tanh, "sigmoid": lambda h: 1 / (1 + np.exp(-h)), "relu": lambda h: np.maximum(h, 0)}
    for name in ("tanh", "sigmoid", "relu", "tanh"):          # back and forth through the compiled code
        net = nets[name]
        values = [data(v) for v in net.Learnables.Value]

        def ref(vals, act=acts[name]):
            W1, b1, W2, b2 = vals
            y = act(X @ W1.T + b1) @ W2.T + b2
            p = np.exp(y - y.max(axis=1, keepdims=True))
            p /= p.sum(axis=1, keepdims=True)
            return -np.sum(T * np.log(p)) / len(X)
        loss, g = dlfeval(predict_loss, net, dlarray(X), dlarray(T))
        assert_close(float(data(loss)), ref(values), 1e-12, 1e-12)
        for k in range(len(values)):
            def f(v, k=k):
                vals = list(values)
                vals[k] = v
                return ref(vals)
            assert_close(data(g.Value[k]), numerical_gradient(f, [values[k]], 0), 1e-6, 1e-8, f"{name} {k}")


def test_network_changed_after_the_first_call_is_not_stale():
    """Layers added to a network after it ran (addLayers, connectLayers, initialize): another plan, another
    runner, the new layers' values and gradients."""
    rng = np.random.default_rng(7)
    X = rng.standard_normal((4, 3))
    T = np.eye(3)[[2, 1, 0, 0]]
    net = dlnetwork([featureInputLayer(3, Name="in"), fullyConnectedLayer(3, Name="fc1"), softmaxLayer(Name="sm")],
                    Seed=10)
    loss1, g1 = dlfeval(predict_loss, net, dlarray(X), dlarray(T))
    W1, b1 = [data(v) for v in net.Learnables.Value]
    grown = dlnetwork([featureInputLayer(3, Name="in"), fullyConnectedLayer(3, Name="fc1"), tanhLayer(Name="t"),
                       fullyConnectedLayer(3, Name="fc2"), softmaxLayer(Name="sm")], Seed=10)
    loss2, g2 = dlfeval(predict_loss, grown, dlarray(X), dlarray(T))
    assert len(g2.Value) == 4
    values = [data(v) for v in grown.Learnables.Value]

    def ref(vals):
        A, a, B, b = vals
        y = np.tanh(X @ A.T + a) @ B.T + b
        p = np.exp(y - y.max(axis=1, keepdims=True))
        p /= p.sum(axis=1, keepdims=True)
        return -np.sum(T * np.log(p)) / len(X)
    assert_close(float(data(loss2)), ref(values), 1e-12, 1e-12)
    for k in range(4):
        def f(v, k=k):
            vals = list(values)
            vals[k] = v
            return ref(vals)
        assert_close(data(g2.Value[k]), numerical_gradient(f, [values[k]], 0), 1e-6, 1e-8, f"learnable {k}")
    # the first network again: its own (one-layer) function
    loss1b, g1b = dlfeval(predict_loss, net, dlarray(X), dlarray(T))
    assert float(data(loss1b)) == float(data(loss1))
    # a network built by addLayers/connectLayers after a first call, then initialised
    g = sct.addLayers(dlnetwork(), [featureInputLayer(3, Name="in"), fullyConnectedLayer(3, Name="fc1")])
    g = sct.addLayers(g, [softmaxLayer(Name="sm")])
    g = sct.connectLayers(g, "fc1", "sm")
    g = sct.initialize(g, Seed=10)
    loss3, g3 = dlfeval(predict_loss, g, dlarray(X), dlarray(T))
    A, a = [data(v) for v in g.Learnables.Value]
    y = X @ A.T + a
    p = np.exp(y - y.max(axis=1, keepdims=True))
    p /= p.sum(axis=1, keepdims=True)
    assert_close(float(data(loss3)), -np.sum(T * np.log(p)) / len(X), 1e-12, 1e-12)


def test_training_steps_through_the_runner_match_the_loop(monkeypatch):
    """Five steps of forward, gradients, state and adamupdate: the same parameters and states bit for bit."""
    rng = np.random.default_rng(8)
    X = dlarray(rng.standard_normal((4, 6, 6, 2)).astype(np.float32))
    T = dlarray(T4.astype(np.float32))
    finals = []
    for limit in (network.UNROLL_MAX_LAYERS, -1):
        monkeypatch.setattr(network, "UNROLL_MAX_LAYERS", limit)
        net = chain_cnn()
        net = net.with_learnables([dlarray(data(v).astype(np.float32)) for v in net.Learnables.Value])
        avg = avg_sq = None
        losses = []
        for it in range(1, 6):
            loss, g, net.State = dlfeval(train_loss, net, X, T)
            net, avg, avg_sq = sct.adamupdate(net, g, avg, avg_sq, it)
            losses.append(data(loss))
        finals.append(losses + [data(v) for v in net.Learnables.Value] + [data(v) for v in net.State.Value]
                      + [data(v) for v in avg.Value] + [data(v) for v in avg_sq.Value])
    assert_same(*finals)
    assert all(a.dtype == np.float32 for a in finals[0][5:15])


def test_runner_source_is_straight_line():
    net = chain_cnn()
    source = network._runner_source("f", net._graph.plan, 1, net._graph.outputs, True)
    assert "for " not in source and "while " not in source and source.count(".forward(") == 2
    assert network._runner_source("f", net._graph.plan, 1, net._graph.outputs, False).count(".forward(") == 0


# --- the fast paths behind a training step: bind_learnables' copy, computed-attribute look-ups -----------------


class CountingCopyLayer(Layer):
    """A custom layer whose class copies itself (__copy__): bind_learnables must use it."""
    learnables = ("W",)
    copies = 0

    def __init__(self, Name="counting"):
        self.Name = Name
        self.W = np.array([0.5, -1.0, 2.0])

    def __copy__(self):
        type(self).copies += 1
        out = CountingCopyLayer(self.Name)
        out.__dict__.update(self.__dict__)
        out.copied = True
        return out

    def predict(self, X):
        assert getattr(self, "copied", False)
        return X * self.W


class SlottedBase:
    __slots__ = ("extra",)


def test_bind_learnables_copies_as_copy_copy():
    from sct.runtime import layers
    layer = fullyConnectedLayer(3, Weights=np.ones((3, 2)), Bias=np.zeros(3))
    layer.Name = "fc"
    bound = layers.bind_learnables(layer, ("Weights", "Bias"), [dlarray(np.full((3, 2), 2.0)), np.ones(3)])
    assert type(bound) is type(layer) and bound is not layer and bound.Name == "fc"
    assert type(bound.Weights) is np.ndarray and float(bound.Weights[0, 0]) == 2.0
    assert float(layer.Weights[0, 0]) == 1.0                                  # the layer itself unchanged
    assert layers._plainly_copied(type(layer))
    assert not layers._plainly_copied(CountingCopyLayer)
    assert not layers._plainly_copied(type("Slotted", (SlottedBase,), {}))
    before = CountingCopyLayer.copies
    net = dlnetwork([featureInputLayer(3), CountingCopyLayer(), fullyConnectedLayer(2)], Seed=0)
    X = np.random.default_rng(9).standard_normal((2, 3))
    Y = predict(net, X)
    assert CountingCopyLayer.copies > before
    W = data(net.Learnables.Value[0])
    A, a = [data(v) for v in net.Learnables.Value[1:]]
    assert_close(data(Y), (X * W) @ A.T + a, 1e-12, 1e-12)


class Later:
    def __init__(self, w):
        self.w = w


def later_model(x):
    obj = Later(x)
    y = np.sum(obj.w ** 2)
    return y, dlgradient(y, x)


def test_a_property_added_to_a_class_after_a_first_gradient_is_refused():
    """computed_attribute's answer is kept per class and attribute: a class changed afterwards (a
    property put on it) is looked up again, and the derivative through the getter refused."""
    X = np.array([1.0, -2.0, 0.5])
    _, g = dlfeval(later_model, dlarray(X))
    assert_close(data(g), 2 * X, 1e-12, 1e-12)
    from sct.runtime import support
    assert support.computed_attribute(Later(X), "w") is None
    try:
        Later.w = property(lambda self: self.__dict__["_w"] * 2.0, lambda self, v: self.__dict__.__setitem__("_w", v))
        assert support.computed_attribute(Later(X), "w") == "the property Later.w"
        with pytest.raises(sct.EvaluationError, match="property Later.w"):
            dlfeval(later_model, dlarray(X))
    finally:
        del Later.w
    assert support.computed_attribute(Later(X), "w") is None


# --- dlconv of a one-channel input: the im2col matrix built tap by tap, transposed ------------------------------


def conv_reference(x, w, b, stride, dilation, pads):
    (t, bo), (l, r) = pads
    xp = np.pad(x, ((0, 0), (t, bo), (l, r), (0, 0)))
    kh, kw, c, f = w.shape
    ho = (xp.shape[1] - ((kh - 1) * dilation + 1)) // stride + 1
    wo = (xp.shape[2] - ((kw - 1) * dilation + 1)) // stride + 1
    out = np.zeros((x.shape[0], ho, wo, f))
    for n in range(x.shape[0]):
        for i in range(ho):
            for j in range(wo):
                for a in range(kh):
                    for bb in range(kw):
                        out[n, i, j] += xp[n, i * stride + a * dilation, j * stride + bb * dilation] @ w[a, bb]
    return out + b


def one_channel_conv(x, w, b, stride, dilation, padding):
    y = sct.dlconv(x, w, b, Stride=stride, DilationFactor=dilation, Padding=padding)
    loss = np.sum(np.sin(y))
    return loss, dlgradient(loss, x, w, b)


@pytest.mark.parametrize("stride,dilation,padding,pads", [(1, 1, "same", ((1, 1), (1, 1))), (2, 1, 0, ((0, 0), (0, 0))),
                                                          (1, 2, 1, ((1, 1), (1, 1))), (2, 2, "same", None)])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_one_channel_convolution_values_and_gradients(stride, dilation, padding, pads, dtype):
    rng = np.random.default_rng(11)
    x = rng.standard_normal((2, 7, 6, 1)).astype(dtype)
    w = rng.standard_normal((3, 2, 1, 4)).astype(dtype)
    b = rng.standard_normal(4).astype(dtype)
    from sct.runtime import dlfun
    geometry = dlfun.conv_geometry(x.shape, w.shape, stride, dilation, padding, 0)
    cols, _ = dlfun._cols_taps(x, 3, 2, geometry)
    assert cols.shape[1] == 6 and cols.flags.f_contiguous            # the transposed build
    want = conv_reference(x.astype(np.float64), w.astype(np.float64), b.astype(np.float64), stride, dilation,
                          geometry[1])
    y = data(sct.dlconv(x, w, b, Stride=stride, DilationFactor=dilation, Padding=padding))
    assert y.dtype == dtype
    assert_close(y, want, 1e-5 if dtype == np.float32 else 1e-12, 1e-5 if dtype == np.float32 else 1e-12)
    if dtype == np.float32:
        return
    _, (gx, gw, gb) = dlfeval(one_channel_conv, dlarray(x), dlarray(w), dlarray(b), stride, dilation, padding)

    def f(x, w, b):
        return float(np.sum(np.sin(conv_reference(x, w, b, stride, dilation, geometry[1]))))
    for k, g in enumerate((gx, gw, gb)):
        assert_close(data(g), numerical_gradient(f, [x, w, b], k), 1e-6, 1e-8, f"argument {k}")


# --- the transposed convolution added straight into the input's shape ------------------------------------------


def scatter_padded(g, weights, x_shape, stride, dilation, pads):
    """The per-tap transposed convolution into the padded input, the padding sliced off afterwards
    (what _scatter_tap_products did before): the same sums in the same order."""
    kh, kw, cpg, cout = weights.shape
    batch, ho, wo = g.shape[:3]
    (t, b), (l, r) = pads
    products = np.matmul(g.reshape(-1, cout), np.swapaxes(weights.reshape(kh * kw, cpg, cout), 1, 2))
    out = np.zeros((batch, x_shape[1] + t + b, x_shape[2] + l + r, cpg), dtype=products.dtype)
    for i in range(kh):
        for j in range(kw):
            r0, c0 = i * dilation[0], j * dilation[1]
            out[:, r0:r0 + stride[0] * (ho - 1) + 1:stride[0], c0:c0 + stride[1] * (wo - 1) + 1:stride[1], :] += \
                products[i * kw + j].reshape(batch, ho, wo, cpg)
    return out[:, t:t + x_shape[1], l:l + x_shape[2], :]


@pytest.mark.parametrize("shape,kernel,stride,dilation,padding", [
    ((2, 7, 6, 8), (3, 3), 1, 1, "same"), ((2, 7, 6, 8), (3, 2), 2, 1, "same"), ((1, 9, 8, 8), (3, 3), 2, 2, 2),
    ((2, 6, 7, 9), (2, 3), (1, 2), (2, 1), [[1, 0], [2, 1]]), ((1, 5, 5, 8), (3, 3), 3, 1, 0),
    ((1, 4, 4, 8), (5, 5), 1, 1, 4)])
def test_transposed_convolution_into_the_input_shape(shape, kernel, stride, dilation, padding):
    from sct.runtime import dlfun
    rng = np.random.default_rng(12)
    x = rng.standard_normal(shape)
    w = rng.standard_normal(kernel + (shape[-1], 5))
    geometry = dlfun.conv_geometry(x.shape, w.shape, stride, dilation, padding, 0)
    y = dlfun.conv_core(x, w, geometry)
    g = rng.standard_normal(y.shape)
    got = dlfun.conv_input_adjoint(g, w, x.shape, geometry)
    assert got.flags.c_contiguous and got.shape == x.shape
    want = scatter_padded(g, w, x.shape, geometry[0], geometry[2], geometry[1])
    np.testing.assert_array_equal(got, want)
    # the adjoint: <conv(x), g> == <x, conv_input_adjoint(g)>
    assert_close(float(np.sum(y * g)), float(np.sum(x * got)), 1e-10, 1e-10)


# --- the layers' direct paths: batchnorm_running, maxpool_values ----------------------------------------------


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_batchnorm_layer_forward_equals_batchnorm(dtype):
    from sct.runtime import dlfun
    rng = np.random.default_rng(13)
    X = rng.standard_normal((4, 3, 3, 2)).astype(dtype)
    layer = batchNormalizationLayer(Name="bn", MeanDecay=0.2, VarianceDecay=0.3)
    layer.Offset = rng.standard_normal(2).astype(dtype)
    layer.Scale = rng.standard_normal(2).astype(dtype)
    layer.TrainedMean = rng.standard_normal(2).astype(dtype)
    layer.TrainedVariance = rng.uniform(0.5, 2, 2).astype(dtype)
    got = layer.forward(X)
    want = sct.batchnorm(X, layer.Offset, layer.Scale, layer.TrainedMean, layer.TrainedVariance, Epsilon=1e-5,
                         MeanDecay=0.2, VarianceDecay=0.3, nargout=3)
    assert_same([np.asarray(g) for g in got], [np.asarray(w) for w in want])
    assert got[0].dtype == dtype
    # a formatted input outside dlfeval takes batchnorm's own path (read by its labels)
    Xf = dlarray(np.transpose(X, (1, 2, 3, 0)), "SSCB")
    Z, mean, var = layer.forward(Xf)
    np.testing.assert_allclose(np.transpose(data(Z), (3, 0, 1, 2)), np.asarray(want[0]), rtol=1e-5, atol=1e-6)
    assert dlfun.fused_batchnorm_applies(X, layer.Offset, layer.Scale)


def test_maxpool_layer_predict_equals_maxpool():
    rng = np.random.default_rng(14)
    X = rng.standard_normal((2, 6, 6, 3))
    for kw in ({"Stride": 2}, {"Stride": 1, "Padding": 1}):
        net = dlnetwork([imageInputLayer([6, 6, 3], Normalization="none"), maxPooling2dLayer(2, **kw),
                         fullyConnectedLayer(2)], Seed=1)
        layer = net._layers[1]
        np.testing.assert_array_equal(np.asarray(layer.predict(X)),
                                      np.asarray(sct.maxpool(X, 2, **{"Padding": 0, **kw})))
        W, b = [data(v) for v in net.Learnables.Value]

        def loss(net, X):
            y = np.sum(np.sin(predict(net, X)))
            return y, dlgradient(y, X)
        _, gX = dlfeval(loss, net, dlarray(X))

        def f(X):
            P = np.asarray(sct.maxpool(X, 2, **{"Padding": 0, **kw}))
            return float(np.sum(np.sin(P.transpose(0, 3, 2, 1).reshape(len(X), -1) @ W.T + b)))     # MATLAB's flatten
        assert_close(data(gX), numerical_gradient(f, [X], 0), 1e-6, 1e-8)


# --- adamupdate of a network's Learnables as one pass over all of its arrays ----------------------------------


def _adam_steps(monkeypatch, flat, net, grads, steps=3):
    from sct.runtime import optim
    if not flat:
        monkeypatch.setattr(optim, "_flat_update", lambda *args: None)
    taken = []
    original = optim._flat_update

    def spy(*args):
        out = original(*args)
        taken.append(out is not None)
        return out
    monkeypatch.setattr(optim, "_flat_update", spy)
    avg = avg_sq = None
    for it in range(1, steps + 1):
        net, avg, avg_sq = sct.adamupdate(net, grads(it), avg, avg_sq, it, 0.01)
    monkeypatch.undo()
    return ([data(v) for v in net.Learnables.Value] + [data(v) for v in avg.Value] +
            [data(v) for v in avg_sq.Value]), taken, (net, avg, avg_sq)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_flat_adamupdate_equals_leaf_by_leaf(monkeypatch, dtype):
    rng = np.random.default_rng(15)
    net = chain_cnn()
    net = net.with_learnables([dlarray(data(v).astype(dtype)) for v in net.Learnables.Value])
    shapes = [data(v).shape for v in net.Learnables.Value]
    gradients = {it: sct.Table(net.Learnables.Layer, net.Learnables.Parameter,
                               [dlarray(rng.standard_normal(s).astype(dtype)) for s in shapes]) for it in (1, 2, 3)}
    flat, taken, (new, avg, avg_sq) = _adam_steps(monkeypatch, True, net, gradients.get)
    leafwise, _, _ = _adam_steps(monkeypatch, False, net, gradients.get)
    assert taken == [False, True, True]          # the first step starts from None states: leaf by leaf
    assert_same(flat, leafwise)
    assert all(a.dtype == dtype for a in flat)
    assert avg.Layer == net.Learnables.Layer and avg.Parameter == net.Learnables.Parameter
    # each result its own array of the parameter's shape (views of one buffer), the inputs untouched
    for v, s in zip(new.Learnables.Value, shapes):
        assert data(v).shape == s and data(v).flags.c_contiguous
    for old, v in zip(net.Learnables.Value, new.Learnables.Value):
        assert not np.shares_memory(data(old), data(v))


def test_flat_adamupdate_falls_back_where_it_does_not_apply(monkeypatch):
    rng = np.random.default_rng(16)
    net = dlnetwork([featureInputLayer(3), fullyConnectedLayer(2), fullyConnectedLayer(2)], Seed=0)
    L = net.Learnables
    g = sct.Table(L.Layer, L.Parameter, [dlarray(rng.standard_normal(data(v).shape)) for v in L.Value])
    reordered = sct.Table(tuple(reversed(L.Layer)), tuple(reversed(L.Parameter)), list(reversed(g.Value)))
    mixed = sct.Table(L.Layer, L.Parameter, [dlarray(data(x).astype(np.float32)) if k == 0 else x
                                             for k, x in enumerate(g.Value)])
    for grads in (reordered, mixed):
        flat, taken, _ = _adam_steps(monkeypatch, True, net, lambda it: grads)
        leafwise, _, _ = _adam_steps(monkeypatch, False, net, lambda it: grads)
        assert not any(taken)
        assert_same(flat, leafwise)
    # a reordered table of gradients is paired by rows: the same update as in order
    same, _, _ = _adam_steps(monkeypatch, True, net, lambda it: g)
    other, _, _ = _adam_steps(monkeypatch, True, net, lambda it: reordered)
    assert_same(same, other)
