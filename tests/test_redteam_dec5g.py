"""Red team, Dec 5 (g): today's speed work (the unrolled network runner, adamupdate's flat steady-state
path, broadcast_mul/wide_multiply/tie_scaled/index_added, the value-only-seeded helper forward).

Finding: an optimizer state (or gradient) of another shape than its parameter (a parameter replaced by
one of another shape between steps) made adamupdate fail with numpy's own message from its in-place
step ("non-broadcastable output operand with shape (1,) ..."), and sgdmupdate/rmspropupdate silently
gave the parameter the state's shape.  Now each refuses with a ValueError naming both shapes."""
from __future__ import annotations

import numpy as np
import pytest

import sct
from sct import (Table, dlarray, dlfeval, dlgradient, dlnetwork, extractdata, featureInputLayer,
                 fullyConnectedLayer, predict, tanhLayer)
from sct.runtime import network, numpy_ops, support

try:
    from tests.gradcheck import assert_close, numerical_gradient
except ImportError:
    from gradcheck import assert_close, numerical_gradient


def data(x):
    return np.asarray(extractdata(x))


def _net_and_state(optimizer):
    net = dlnetwork([featureInputLayer(3), fullyConnectedLayer(2), fullyConnectedLayer(2)], Seed=0)
    L = net.Learnables
    g = Table(L.Layer, L.Parameter, [dlarray(np.ones(data(v).shape)) for v in L.Value])
    if optimizer == "adam":
        avg = sq = None
        for it in (1, 2):
            net, avg, sq = sct.adamupdate(net, g, avg, sq, it)
        return net, (avg, sq)
    f = sct.sgdmupdate if optimizer == "sgdm" else sct.rmspropupdate
    net, st = f(net, g, None)
    return net, (st,)


@pytest.mark.parametrize("optimizer", ["adam", "sgdm", "rmsprop"])
def test_state_of_another_shape_is_refused(optimizer):
    net, states = _net_and_state(optimizer)
    vals = list(net.Learnables.Value)
    vals[3] = dlarray(np.array([0.5]))                 # the last bias replaced by one of shape (1,)
    net2 = net.with_learnables(vals)
    L = net2.Learnables
    g2 = Table(L.Layer, L.Parameter, [dlarray(np.ones(data(v).shape)) for v in vals])
    with pytest.raises(ValueError, match=r"shape \(2,\) for a parameter of shape \(1,\)"):
        if optimizer == "adam":
            sct.adamupdate(net2, g2, *states, 3)
        elif optimizer == "sgdm":
            sct.sgdmupdate(net2, g2, *states)
        else:
            sct.rmspropupdate(net2, g2, *states)
    # the state started again: a step of the new shapes, MATLAB's formula
    if optimizer == "sgdm":
        new, vel = sct.sgdmupdate(net2, g2, None, 0.1)
        assert_close(data(new.Learnables.Value[3]), np.array([0.5 - 0.1]))


@pytest.mark.parametrize("optimizer", ["adam", "sgdm", "rmsprop"])
def test_gradient_of_another_shape_is_refused_and_a_broadcasting_one_kept(optimizer):
    p = {"w": np.array([1.0, 2.0])}
    bad = {"w": np.ones((3, 2))}
    with pytest.raises(ValueError, match="a gradient of shape"):
        if optimizer == "adam":
            sct.adamupdate(p, bad, None, None, 1)
        elif optimizer == "sgdm":
            sct.sgdmupdate(p, bad, None)
        else:
            sct.rmspropupdate(p, bad, None)
    # a scalar gradient broadcasts to the parameter (numpy's rule): the parameter keeps its shape
    new, vel = sct.sgdmupdate(p, {"w": np.float64(1.0)}, None, 0.1)
    assert_close(new["w"], np.array([0.9, 1.9]))


def test_adam_flat_path_matches_matlab_formula_float32():
    """Three steps of the flat path against MATLAB's documented update written in numpy."""
    rng = np.random.default_rng(3)
    net = dlnetwork([featureInputLayer(3), fullyConnectedLayer(4), fullyConnectedLayer(2)], Seed=1)
    net = net.with_learnables([dlarray(data(v).astype(np.float32)) for v in net.Learnables.Value])
    P = [data(v).copy() for v in net.Learnables.Value]
    M = [np.zeros_like(p) for p in P]
    V = [np.zeros_like(p) for p in P]
    avg = sq = None
    for it in (1, 2, 3):
        G = [rng.standard_normal(p.shape).astype(np.float32) for p in P]
        L = net.Learnables
        net, avg, sq = sct.adamupdate(net, Table(L.Layer, L.Parameter, [dlarray(g) for g in G]), avg, sq, it, 0.01)
        rate = 0.01 * np.sqrt(1 - 0.999 ** it) / (1 - 0.9 ** it)
        for k in range(len(P)):
            M[k] = 0.9 * M[k] + 0.1 * G[k]
            V[k] = 0.999 * V[k] + 0.001 * G[k] * G[k]
            P[k] = P[k] - rate * M[k] / (np.sqrt(V[k]) + 1e-8)
    for k in range(len(P)):
        got = data(net.Learnables.Value[k])
        assert got.dtype == np.float32 and got.shape == P[k].shape
        assert_close(got, P[k], 1e-5, 1e-6)


def _loss(net, X):
    y = predict(net, X)
    loss = np.sum(y ** 2)
    g, gX = dlgradient(loss, net.Learnables, X)
    return loss, g, gX


def test_networks_around_the_unroll_limit_called_alternately():
    """64, 65, 66 layers (the runner and the loop) and a small one, back and forth: each its own
    function, the input gradient against central differences of the same network in numpy."""
    rng = np.random.default_rng(2)
    X = rng.standard_normal((3, 2))

    def make(n):
        layers = [featureInputLayer(2)]
        while len(layers) < n:
            layers.append(fullyConnectedLayer(2) if len(layers) % 2 else tanhLayer())
        return dlnetwork(layers, Seed=n)

    def ref(net, x):
        vals = [data(v) for v in net.Learnables.Value]
        h, k = x, 0
        for layer in net.Layers[1:]:
            if type(layer).__name__ == "FullyConnectedLayer":
                h = h @ vals[k].T + vals[k + 1]
                k += 2
            else:
                h = np.tanh(h)
        return np.sum(h ** 2)
    for n in (network.UNROLL_MAX_LAYERS, network.UNROLL_MAX_LAYERS + 1, 3, network.UNROLL_MAX_LAYERS + 2,
              network.UNROLL_MAX_LAYERS):
        net = make(n)
        loss, g, gX = dlfeval(_loss, net, dlarray(X))
        assert_close(float(data(loss)), ref(net, X), 1e-12, 1e-12)
        assert_close(data(gX), numerical_gradient(lambda x: ref(net, x), [X], 0), 1e-6, 1e-9)


def test_wide_products_and_tie_scaled_equal_numpy_bit_for_bit():
    rng = np.random.default_rng(0)
    for dtype in (np.float64, np.float32, np.complex128):
        wide = rng.standard_normal((4, 300, 1)).astype(dtype)[:, ::-1]
        vec = rng.standard_normal(32).astype(dtype)
        vec[3] = np.nan
        for a, b in ((wide, vec), (vec, wide)):
            ref = a * b
            out = support.broadcast_mul(a, b)
            assert out.dtype == ref.dtype and np.array_equal(out, ref, equal_nan=True)
        full = rng.standard_normal((6, 200, 16)).astype(dtype)
        rep = np.broadcast_to(rng.standard_normal((6, 1, 16)).astype(dtype), full.shape)
        out = support.wide_multiply(full, rep)
        assert out is not None and np.array_equal(out, full * rep, equal_nan=True)
        x = rng.standard_normal((6, 200, 16))
        g = rep
        assert np.array_equal(numpy_ops.tie_scaled(g, x, 0.0), g * numpy_ops.tie_weights(x, 0.0))


@pytest.mark.parametrize("optimizer", ["adam", "sgdm", "rmsprop"])
def test_gradients_of_a_network_as_a_list_are_a_clear_error(optimizer):
    """A list of gradients for a dlnetwork (MATLAB's take a table): a TypeError saying so (was
    AttributeError: 'list' object has no attribute 'Value' from inside the optimizer)."""
    net = dlnetwork([featureInputLayer(3), fullyConnectedLayer(3)], Seed=0)
    g = [dlarray(np.ones((3, 3))), dlarray(np.ones(3))]
    with pytest.raises(TypeError, match="same structure as the parameters"):
        if optimizer == "adam":
            sct.adamupdate(net, g, None, None, 1)
        elif optimizer == "sgdm":
            sct.sgdmupdate(net, g, None)
        else:
            sct.rmspropupdate(net, g, None)


# (was open: a Learnables table assigned with its rows in another order was read by position, two
# layers of one shape swapping weights silently; now refused when the network runs)
def test_learnables_assigned_in_another_row_order_are_paired_by_name():
    net = dlnetwork([featureInputLayer(3), fullyConnectedLayer(3, Name="a"), tanhLayer(),
                     fullyConnectedLayer(3, Name="b")], Seed=0)
    X = np.array([[1.0, -2.0, 0.5], [0.3, 0.1, -1.0]])
    y0 = data(predict(net, X))
    L = net.Learnables
    order = [2, 3, 0, 1]                       # b's rows first, then a's: the same shapes
    net.Learnables = Table(tuple(L.Layer[k] for k in order), tuple(L.Parameter[k] for k in order),
                           [L.Value[k] for k in order])
    with pytest.raises(ValueError, match=r"net.Learnables: row 0 is \('b', 'Weights'\)"):
        predict(net, X)
    net.Learnables = L.with_values(L.Value)     # the table's own order: runs as before
    assert np.array_equal(y0, data(predict(net, X)))
