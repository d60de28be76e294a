"""issue 8: the adjoints of list/tuple/dict items nobody's adjoint reached stay the zero marker in
generated code (no rule runs on zeros), yet every gradient returned is a real array of the
argument's shape and dtype; starred calls (``f(*xs)``) skip the adjoint of an argument no sweep
reads.  Checked against central differences (tests/gradcheck.py), float32 kept, second order."""
from collections import namedtuple

import numpy as np
import pytest

import sct
from sct import (Layer, dlarray, dlfeval, dlgradient, dlnetwork, extractdata, featureInputLayer, forward,
                 fullyConnectedLayer, batchNormalizationLayer)

from tests.gradcheck import assert_close, check_grads, numerical_gradient, numerical_gradients

RNG = np.random.default_rng(8)


# --- helpers returning containers whose items are partly unused -------------------------------------
def stats(x):
    m = np.mean(x)
    v = np.mean((x - m) ** 2)
    return x * 2.0, m, v


def pair_dict(x, w):
    return {"y": np.tanh(x * w), "unused": np.exp(w), "also": x + 1.0}


def only_first(x):
    y, m, v = stats(x)
    return np.sum(y * y)


def only_middle(x):
    y, m, v = stats(x)
    return m * 3.0


def from_dict(x, w):
    d = pair_dict(x, w)
    return np.sum(d["y"] ** 2)


def tuple_in_loop(x, w):
    total = 0.0
    for i in range(3):
        parts = (x * w, np.sin(x), w * i)
        total = total + np.sum(parts[0] * parts[0])
    return total


def list_items(x, w):
    items = [x * w, np.cos(w), x - w]
    a, b, c = items
    return np.sum(a) + np.sum(c * c)


def unused_branch(x, w):
    out = stats(x * w)
    if np.sum(x) > 0:
        return np.sum(out[0])
    return out[1] + out[2]


def test_partly_unused_items_float64():
    x = RNG.standard_normal(5)
    w = RNG.standard_normal(5)
    check_grads(only_first, x)
    check_grads(only_middle, x)
    check_grads(from_dict, x, w)
    check_grads(tuple_in_loop, x, w)
    check_grads(list_items, x, w)
    check_grads(unused_branch, x, w)
    check_grads(unused_branch, -np.abs(x), w)


def _grad2(fun, a, b):
    y = fun(a, b)
    return y, dlgradient(y, a, b)


def _grad1(fun, a):
    y = fun(a)
    return y, dlgradient(y, a)


@pytest.mark.parametrize("fun", [only_first, only_middle])
def test_float32_kept_one_argument(fun):
    x = RNG.standard_normal(6).astype(np.float32)
    value, g = dlfeval(_grad1, fun, dlarray(x))
    g = extractdata(g)
    assert isinstance(g, np.ndarray) and g.dtype == np.float32 and g.shape == x.shape
    expected = numerical_gradient(fun, [x.astype(np.float64)], 0)
    assert_close(g, expected, rtol=2e-3, atol=2e-4)


@pytest.mark.parametrize("fun", [from_dict, tuple_in_loop, list_items, unused_branch])
def test_float32_kept_two_arguments(fun):
    x = RNG.standard_normal(4).astype(np.float32)
    w = RNG.standard_normal(4).astype(np.float32)
    value, gx, gw = (lambda v, g: (v, *g))(*dlfeval(_grad2, fun, dlarray(x), dlarray(w)))
    for g, position in ((gx, 0), (gw, 1)):
        g = extractdata(g)
        assert isinstance(g, np.ndarray) and g.dtype == np.float32 and g.shape == (4,)
        expected = numerical_gradient(fun, [x.astype(np.float64), w.astype(np.float64)], position)
        assert_close(g, expected, rtol=2e-3, atol=2e-4)


def unused_gradient(x, w):
    """w reaches the value only through an item nobody reads: its gradient is real zeros."""
    d = pair_dict(x, w)
    return np.sum(d["also"] ** 2)


def test_gradient_reached_by_nothing_is_real_zeros():
    x = RNG.standard_normal(3).astype(np.float32)
    w = RNG.standard_normal(3).astype(np.float32)
    _, (gx, gw) = dlfeval(_grad2, unused_gradient, dlarray(x), dlarray(w))
    gw = extractdata(gw)
    assert isinstance(gw, np.ndarray) and gw.dtype == np.float32 and gw.shape == (3,)
    assert np.array_equal(gw, np.zeros(3, np.float32))
    assert_close(extractdata(gx), 2 * (x + 1.0), rtol=1e-6)


# --- second derivatives --------------------------------------------------------------------------
def grad_of_only_first(x):
    y = only_first(x)
    return dlgradient(y, x, EnableHigherDerivatives=True)


def hessian_diag_only_first(x):
    g = grad_of_only_first(x)
    s = np.sum(g * g)
    return s, dlgradient(s, x)


def grad_of_tuple_in_loop(x, w):
    y = tuple_in_loop(x, w)
    gx = dlgradient(y, x, EnableHigherDerivatives=True)
    s = np.sum(np.sin(gx))
    return s, dlgradient(s, x, w)


def test_second_derivatives():
    x = RNG.standard_normal(4)
    s, h = dlfeval(hessian_diag_only_first, dlarray(x))
    # only_first(x) = sum(4 x^2): gradient 8 x, s = sum(64 x^2), ds/dx = 128 x
    assert_close(extractdata(h), 128 * x, rtol=1e-10)
    w = RNG.standard_normal(4)

    def s_of(x_, w_):
        return np.sum(np.sin(numerical_gradient(tuple_in_loop, [x_, w_], 0)))
    _, (gx, gw) = dlfeval(grad_of_tuple_in_loop, dlarray(x), dlarray(w))
    # d/dx of sum(sin(gx)) with gx = 6 x w^2: checked by central differences of the exact gradient
    exact = lambda x_, w_: np.sum(np.sin(6 * x_ * w_ ** 2))
    assert_close(extractdata(gx), numerical_gradient(exact, [x, w], 0), rtol=1e-5, atol=1e-7)
    assert_close(extractdata(gw), numerical_gradient(exact, [x, w], 1), rtol=1e-5, atol=1e-7)
    x32 = x.astype(np.float32)
    _, h32 = dlfeval(hessian_diag_only_first, dlarray(x32))
    assert extractdata(h32).dtype == np.float32
    assert_close(extractdata(h32), 128 * x, rtol=1e-5, atol=1e-5)


# --- networks: batchnorm state, several inputs (starred layer calls) -----------------------------
class Mix(Layer):
    """Two inputs, a learnable W and a state Count: forward returns (Z, new Count)."""
    learnables = ("W",)
    state = ("Count",)
    NumInputs = 2

    def __init__(self, Name="mix"):
        self.Name = Name
        self.W = np.array([0.7, -1.3, 0.4])
        self.Count = np.array([0.0])

    def predict(self, A, B):
        return np.tanh(A * self.W) + B * B, self.Count

    def forward(self, A, B):
        return np.tanh(A * self.W) + B * B, self.Count + 1


def two_input_net():
    layers = [featureInputLayer(3, Name="a"), featureInputLayer(3, Name="b"), Mix(),
              fullyConnectedLayer(2, Name="fc")]
    return dlnetwork(layers, Connections=[("a", "mix/in1"), ("b", "mix/in2"), ("mix", "fc")], Seed=0)


def learnables_loss(net, A, B):
    Y, state = forward(net, A, B)
    loss = np.sum(Y * Y)
    return loss, dlgradient(loss, net.Learnables), state


def inputs_loss(net, A, B):
    Y, state = forward(net, A, B)
    loss = np.sum(Y * Y)
    gl, ga, gb = dlgradient(loss, net.Learnables, A, B)
    return loss, gl, ga, gb


def input_b_loss(net, A, B):
    Y, state = forward(net, A, B)
    loss = np.sum(Y * Y)
    return loss, dlgradient(loss, B)


def _reference(values, A, B):
    W, Wf, bf = values
    h = np.tanh(A * W) + B * B
    return np.sum((h @ Wf.T + bf) ** 2)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_network_with_two_inputs(dtype):
    net = two_input_net()
    A = RNG.standard_normal((4, 3)).astype(dtype)
    B = RNG.standard_normal((4, 3)).astype(dtype)
    values = [np.array(extractdata(v), np.float64) for v in net.Learnables.Value]
    A64, B64 = A.astype(np.float64), B.astype(np.float64)
    tol = dict(rtol=1e-5, atol=1e-7) if dtype == np.float64 else dict(rtol=2e-3, atol=2e-3)
    expected = numerical_gradients(lambda v: _reference(v, A64, B64), values)
    loss, grads, state = dlfeval(learnables_loss, net, dlarray(A), dlarray(B))
    assert_close(float(extractdata(loss)), _reference(values, A64, B64), **tol)
    for row, e in zip(grads, expected):
        assert_close(extractdata(row.Value), e, what=f"{row.Layer}.{row.Parameter}", **tol)
    assert_close(extractdata(state.Value[0]), [1.0])
    loss, gl, ga, gb = dlfeval(inputs_loss, net, dlarray(A), dlarray(B))
    for row, e in zip(gl, expected):
        assert_close(extractdata(row.Value), e, what=f"{row.Layer}.{row.Parameter}", **tol)
    for g, position in ((ga, 1), (gb, 2)):
        g = extractdata(g)
        assert isinstance(g, np.ndarray) and g.dtype == dtype and g.shape == (4, 3)
        assert_close(g, numerical_gradient(lambda a, b: _reference(values, a, b), [A64, B64], position - 1),
                     **tol)
    _, gb = dlfeval(input_b_loss, net, dlarray(A), dlarray(B))
    assert_close(extractdata(gb), numerical_gradient(lambda a, b: _reference(values, a, b), [A64, B64], 1),
                 **tol)


def bn_loss(net, X):
    Y, state = forward(net, X)
    loss = np.sum(Y * Y)
    return loss, dlgradient(loss, net.Learnables), state


def bn_input_loss(net, X):
    Y, state = forward(net, X)
    loss = np.sum(Y * Y)
    return loss, dlgradient(loss, net.Learnables, X)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_batchnorm_state_adjoints_unused(dtype):
    net = dlnetwork([featureInputLayer(3), fullyConnectedLayer(4), batchNormalizationLayer(),
                     fullyConnectedLayer(2)], Seed=1)
    X = RNG.standard_normal((5, 3)).astype(dtype)
    net = net.with_learnables([dlarray(np.asarray(extractdata(v), dtype)) for v in net.Learnables.Value])
    values = [np.array(extractdata(v), np.float64) for v in net.Learnables.Value]

    def ref(v, x):
        W1, b1, off, sc, W2, b2 = v
        h = x @ W1.T + b1
        mu = h.mean(axis=0)
        var = ((h - mu) ** 2).mean(axis=0)
        y = sc * (h - mu) / np.sqrt(var + 1e-5) + off
        return np.sum((y @ W2.T + b2) ** 2)
    tol = dict(rtol=1e-5, atol=1e-6) if dtype == np.float64 else dict(rtol=5e-3, atol=5e-3)
    X64 = X.astype(np.float64)
    expected = numerical_gradients(lambda v: ref(v, X64), values)
    loss, grads, state = dlfeval(bn_loss, net, dlarray(X))
    for row, e in zip(grads, expected):
        g = extractdata(row.Value)
        assert g.dtype == dtype
        assert_close(g, e, what=f"{row.Layer}.{row.Parameter}", **tol)
    h = X64 @ values[0].T + values[1]
    assert_close(extractdata(state.Value[0]), 0.1 * h.mean(axis=0), **tol)
    loss, (grads, gx) = dlfeval(bn_input_loss, net, dlarray(X))
    gx = extractdata(gx)
    assert gx.dtype == dtype and gx.shape == X.shape
    assert_close(gx, numerical_gradient(lambda x: ref(values, x), [X64], 0), **tol)


# --- variations: a namedtuple holding a dict, a helper building tuples in a loop, items used twice --
P = namedtuple("P", "a b c")


def make_p(x, w):
    return P(x * w, np.exp(w), {"k": x ** 2, "z": w})


def namedtuple_partly_used(x, w):
    p = make_p(x, w)
    return np.sum(p.a) + np.sum(p.c["k"])


def tuples_in_loop(xs):
    out = []
    for v in xs:
        out.append((v * 2.0, v ** 3))
    return out


def list_of_tuples_partly_used(x, w):
    pairs = tuples_in_loop([x, w, x * w])
    s = 0.0
    for i in range(len(pairs)):
        if i != 1:
            s = s + np.sum(pairs[i][1])
    return s


def items_twice(x, w):
    a, b = (x * w, x + w)
    c = [a, b, a]
    d = {"u": c[0], "v": c[2]}
    return np.sum(d["u"] * d["v"])


def second_order_items_twice(x, w):
    y = items_twice(x, w)
    gx, gw = dlgradient(y, x, w, EnableHigherDerivatives=True)
    z = np.sum(gx * gw)
    return y, dlgradient(z, x, w)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_variations(dtype):
    x = RNG.standard_normal(3).astype(dtype)
    w = RNG.standard_normal(3).astype(dtype)
    x64, w64 = x.astype(np.float64), w.astype(np.float64)
    tol = dict(rtol=1e-5, atol=1e-7) if dtype == np.float64 else dict(rtol=2e-3, atol=2e-3)
    for fun in (namedtuple_partly_used, list_of_tuples_partly_used, items_twice):
        _, grads = dlfeval(_grad2, fun, dlarray(x), dlarray(w))
        for g, position in zip(grads, (0, 1)):
            g = extractdata(g)
            assert g.dtype == dtype and g.shape == (3,)
            assert_close(g, numerical_gradient(fun, [x64, w64], position), what=fun.__name__, **tol)
    # z = sum(gx * gw) with gx = 2 x w^2, gw = 2 x^2 w: z = sum(4 x^3 w^3)
    _, (hx, hw) = dlfeval(second_order_items_twice, dlarray(x), dlarray(w))
    assert extractdata(hx).dtype == dtype and extractdata(hw).dtype == dtype
    assert_close(extractdata(hx), 12 * x64 ** 2 * w64 ** 3, **tol)
    assert_close(extractdata(hw), 12 * x64 ** 3 * w64 ** 2, **tol)
