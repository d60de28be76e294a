"""Issue 8, training steps (second round): a list adjoint's index contributions in one call
(``rt.add_index_grad``, emitted by sct/optimize.py for ``rt.add_grad(d, rt.index_adjoint(g, x, i))``), the
first contribution of batchnorm's and maxpool's input adjoints assigned instead of added to zero, gradients
of dlarray leaves (a network's Learnables) projected without the generic tests, adamupdate's per-parameter
checks.  Hyperparameters that users do differentiate (a dlarray Epsilon, an attribute computed from a
traced value) keep exact gradients.  Values against plain Python, gradients against central differences
(tests/gradcheck.py), second order where the path allows."""
from __future__ import annotations

import random

import numpy as np
import pytest

import sct
from sct import (adamupdate, batchnorm, batchNormalizationLayer, convolution2dLayer, crossentropy, dlarray, dlfeval,
                 dlgradient, dlnetwork, extractdata, forward, fullyConnectedLayer, imageInputLayer, maxpool,
                 maxPooling2dLayer, reluLayer, softmaxLayer)
from sct.runtime import support

try:
    from tests.gradcheck import assert_close, numerical_gradient
except ImportError:                      # run as plain `pytest` from inside tests/
    from gradcheck import assert_close, numerical_gradient


# --- rt.add_index_grad is add_grad of index_adjoint -----------------------------------------------------------------


def _same(a, b):
    if type(a) is not type(b):
        return False
    if isinstance(a, (list, tuple)):
        return len(a) == len(b) and all(_same(u, v) for u, v in zip(a, b))
    if isinstance(a, np.ndarray):
        return a.dtype == b.dtype and a.shape == b.shape and np.array_equal(a, b)
    if a is support.ZERO or b is support.ZERO:           # the zero marker, compared by identity
        return a is b
    return a == b


def _item(rng):
    r = rng.random()
    if r < 0.2:
        return support.ZERO
    if r < 0.3:
        return None
    if r < 0.4:
        return float(rng.choice([0.0, -0.0]))            # a zero that is not the marker
    if r < 0.7:
        return np.array([rng.random(), rng.random()])
    return [np.array(rng.random()), support.ZERO]


def test_add_index_grad_is_add_grad_of_index_adjoint():
    rng = random.Random(8)
    fast = 0
    for _ in range(4000):
        n = rng.randint(1, 6)
        x = [np.zeros(2)] * n if rng.random() < 0.7 else tuple([np.zeros(2)] * n)
        total = [_item(rng) for _ in range(n)] if rng.random() < 0.9 else support.ZERO
        if rng.random() < 0.5:
            idx = rng.randint(-n, n - 1)
            grad = _item(rng)
        else:
            idx = slice(rng.randint(-n, n), rng.randint(-n, n), rng.choice([None, 1, 2, -1]))
            m = len(range(*idx.indices(n)))
            grad = [_item(rng) for _ in range(m)] if rng.random() < 0.9 else support.ZERO
        want = support.add_grad(total, support.index_adjoint(grad, x, idx))
        got = support.add_index_grad(total, grad, x, idx)
        assert _same(want, got), (total, grad, idx, want, got)
        fast += type(total) is list and all(u is support.ZERO or type(u) is not float and u is not None
                                            for u in total)
    assert fast > 1000                                   # the copying path ran, not only the fallback
    total = [support.ZERO, np.ones(2)]
    out = support.add_index_grad(total, np.ones(2), [np.zeros(2)] * 2, 1)
    assert out is not total and total[1].tolist() == [1.0, 1.0] and out[1].tolist() == [2.0, 2.0]   # not in place
    a = np.arange(5.0)                                   # arrays: the two calls' numbers
    np.testing.assert_array_equal(support.add_index_grad(a, np.ones(2), np.zeros(5), slice(1, 3)),
                                  a + support.index_adjoint(np.ones(2), np.zeros(5), slice(1, 3)))


# --- list adjoints written the way a network runner is -------------------------------------------------------------


def run_layers(params, x, plan):
    """A network runner as users write one: activations appended to a list, each step reads some of them by
    position and a slice of the parameter list."""
    acts = [x]
    for a, b, sources in plan:
        w = params[a:b]
        z = acts[sources[0]]
        for j in sources[1:]:
            z = z + acts[j]
        y = np.tanh(z @ w[0])
        if len(w) > 1:
            y = y + w[1]
        acts.append(y)
    return acts


PLAN = [(0, 2, (0,)), (2, 3, (1,)), (3, 5, (1, 2)), (5, 6, (0, 3)), (6, 7, (2, 3, 4))]


def list_loss(W0, b0, W1, W2, b2, W3, W4, x):
    acts = run_layers([W0, b0, W1, W2, b2, W3, W4], x, PLAN)
    return np.sum(acts[-1] ** 2) + np.sum(acts[2] * acts[4])


def _list_grads(W0, b0, W1, W2, b2, W3, W4, x):
    loss = list_loss(W0, b0, W1, W2, b2, W3, W4, x)
    return (loss,) + tuple(dlgradient(loss, W0, b0, W1, W2, b2, W3, W4, x))


def list_curvature(W0, b0, W1, W2, b2, W3, W4, x):
    loss = list_loss(W0, b0, W1, W2, b2, W3, W4, x)
    gx, gW2 = dlgradient(loss, x, W2, EnableHigherDerivatives=True)
    return np.sum(gx * gx) + np.sum(gW2 ** 2)


def _list_curv_grads(W0, b0, W1, W2, b2, W3, W4, x):
    c = list_curvature(W0, b0, W1, W2, b2, W3, W4, x)
    return (c,) + tuple(dlgradient(c, W0, b0, W1, W2, b2, W3, W4, x))


def _list_args(seed):
    rng = np.random.default_rng(seed)
    d = 3
    return [rng.standard_normal((d, d)) * 0.7, rng.standard_normal(d), rng.standard_normal((d, d)) * 0.7,
            rng.standard_normal((d, d)) * 0.7, rng.standard_normal(d), rng.standard_normal((d, d)) * 0.7,
            rng.standard_normal((d, d)) * 0.7, rng.standard_normal((2, d))]


def test_list_adjoints_read_by_position_first_and_second_order():
    args = _list_args(1)
    out = dlfeval(_list_grads, *[dlarray(a) for a in args])
    assert_close(float(extractdata(out[0])), list_loss(*args), 1e-12, 1e-12, "value")
    for k, got in enumerate(out[1:]):
        assert_close(extractdata(got), numerical_gradient(list_loss, args, k), 1e-6, 1e-8, f"d/darg{k}")

    def plain(*a):
        return float(np.asarray(extractdata(dlfeval(list_curvature, *[dlarray(v) for v in a]))))
    out = dlfeval(_list_curv_grads, *[dlarray(a) for a in args])
    for k, got in enumerate(out[1:]):
        assert_close(extractdata(got), numerical_gradient(plain, args, k), 1e-5, 1e-6, f"second order d/darg{k}")


def list_of_params_loss(params, x):
    acts = run_layers(params, x, PLAN)
    return np.sum(acts[-1] ** 2)


def _list_of_params_grad(params, x):
    loss = list_of_params_loss(params, x)
    return loss, dlgradient(loss, params)


def test_gradient_with_respect_to_a_list_of_parameters():
    args = _list_args(2)
    params, x = args[:-1], args[-1]
    loss, grads = dlfeval(_list_of_params_grad, [dlarray(p) for p in params], dlarray(x))
    assert type(grads) is list and len(grads) == len(params)
    for k, got in enumerate(grads):
        def f(v, k=k):
            ps = list(params)
            ps[k] = v
            return list_of_params_loss(ps, x)
        assert_close(extractdata(got), numerical_gradient(f, [params[k]], 0), 1e-6, 1e-8, f"d/dparams[{k}]")


# --- hyperparameters users differentiate ------------------------------------------------------------------------------


class Norm:
    """A user's normalisation layer: its Epsilon is an attribute like a network layer's."""

    def __init__(self, offset, scale, eps):
        self.Offset = offset
        self.Scale = scale
        self.Epsilon = eps

    def forward(self, X):
        return batchnorm(X, self.Offset, self.Scale, Epsilon=self.Epsilon)


def norm_loss(offset, scale, eps, X):
    layer = Norm(offset, scale, eps)
    Y = layer.forward(X)
    return np.sum(np.tanh(Y) * X)


def _norm_grads_of_layer(layer, X):
    Y = layer.forward(X)
    loss = np.sum(np.tanh(Y) * X)
    return loss, dlgradient(loss, layer), dlgradient(loss, layer.Epsilon)


def _norm_grads(offset, scale, eps, X):
    loss = norm_loss(offset, scale, eps, X)
    return (loss,) + tuple(dlgradient(loss, offset, scale, eps, X))


def norm_curvature(offset, scale, eps, X):
    loss = norm_loss(offset, scale, eps, X)
    geps, gX = dlgradient(loss, eps, X, EnableHigherDerivatives=True)
    return geps * geps + np.sum(gX * gX)


def _norm_curv_grads(offset, scale, eps, X):
    c = norm_curvature(offset, scale, eps, X)
    return (c,) + tuple(dlgradient(c, offset, scale, eps, X))


def _norm_args():
    rng = np.random.default_rng(5)
    X = rng.standard_normal((4, 3, 2, 3)) * 0.3 + 0.2         # a small variance: Epsilon matters
    return [rng.standard_normal(3), rng.standard_normal(3), np.array(0.05), X]


def test_dlarray_epsilon_attribute_gets_its_exact_gradient():
    offset, scale, eps, X = _norm_args()
    layer = Norm(dlarray(offset), dlarray(scale), dlarray(eps))
    loss, g_layer, g_eps = dlfeval(_norm_grads_of_layer, layer, dlarray(X))
    args = [offset, scale, eps, X]
    expected = numerical_gradient(norm_loss, args, 2)
    assert abs(float(expected)) > 1e-3                        # the check below can fail
    assert_close(extractdata(g_eps), expected, 1e-6, 1e-9, "d/dlayer.Epsilon")
    assert_close(extractdata(g_layer.Epsilon), expected, 1e-6, 1e-9, "d/dlayer: Epsilon")
    assert_close(extractdata(g_layer.Scale), numerical_gradient(norm_loss, args, 1), 1e-6, 1e-9, "d/dlayer: Scale")
    assert_close(extractdata(g_layer.Offset), numerical_gradient(norm_loss, args, 0), 1e-6, 1e-9, "d/dlayer: Offset")


def test_epsilon_first_and_second_order():
    args = _norm_args()
    out = dlfeval(_norm_grads, *[dlarray(a) for a in args])
    for k, got in enumerate(out[1:]):
        assert_close(extractdata(got), numerical_gradient(norm_loss, args, k), 1e-6, 1e-9, f"d/darg{k}")

    def plain(*a):
        return float(np.asarray(extractdata(dlfeval(norm_curvature, *[dlarray(v) for v in a]))))
    out = dlfeval(_norm_curv_grads, *[dlarray(a) for a in args])
    for k, got in enumerate(out[1:]):
        assert_close(extractdata(got), numerical_gradient(plain, args, k), 1e-4, 1e-6, f"second order d/darg{k}")


class Scaled:
    def __init__(self, W, rate):
        self.W = W
        self.rate = rate

    def apply(self, x):
        return np.tanh(x @ self.W) * self.rate


def traced_rate_loss(W, s, x):
    layer = Scaled(W, float(0.5) + s * s)     # an attribute made from a traced value
    y = layer.apply(x)
    return np.sum(y * y)


def _traced_rate_grads(W, s, x):
    loss = traced_rate_loss(W, s, x)
    return (loss,) + tuple(dlgradient(loss, W, s))


def test_an_attribute_computed_from_a_traced_value_keeps_its_derivative():
    rng = np.random.default_rng(6)
    args = [rng.standard_normal((3, 2)), np.array(0.7), rng.standard_normal((4, 3))]
    loss, gW, gs = dlfeval(_traced_rate_grads, *[dlarray(a) for a in args])
    assert_close(float(extractdata(loss)), traced_rate_loss(*args), 1e-12, 1e-12, "value")
    assert_close(extractdata(gW), numerical_gradient(traced_rate_loss, args, 0), 1e-6, 1e-9, "d/dW")
    assert_close(extractdata(gs), numerical_gradient(traced_rate_loss, args, 1), 1e-6, 1e-9, "d/ds")


# --- a network: every learnable (batchnorm's too), float32 kept, the training step ------------------------------


def cnn(seed=0):
    return dlnetwork([imageInputLayer([6, 6, 2], Normalization="none"),
                      convolution2dLayer(3, 3, Padding="same"), batchNormalizationLayer(Epsilon=0.01), reluLayer(),
                      maxPooling2dLayer(2, Stride=2), fullyConnectedLayer(3), softmaxLayer()], Seed=seed)


def cnn_loss(net, X, T):
    Y, state = forward(net, X)
    return crossentropy(Y, T)


def _cnn_grads(net, X, T):
    loss = cnn_loss(net, X, T)
    return loss, dlgradient(loss, net.Learnables)


def test_network_gradients_of_every_learnable():
    rng = np.random.default_rng(12)
    net = cnn()
    X = rng.standard_normal((3, 6, 6, 2))
    T = np.eye(3)[[0, 2, 1]]
    values = [np.asarray(extractdata(v), np.float64) for v in net.Learnables.Value]
    net = net.with_learnables([dlarray(v) for v in values])
    _, g = dlfeval(_cnn_grads, net, dlarray(X), dlarray(T))
    assert list(g.Parameter) == list(net.Learnables.Parameter)
    for k in range(len(values)):
        def f(v, k=k):
            vals = list(values)
            vals[k] = v
            return float(np.asarray(extractdata(cnn_loss(net.with_learnables([dlarray(a) for a in vals]), X, T))))
        got = extractdata(g.Value[k])
        assert type(got) is np.ndarray and got.dtype == np.float64 and got.shape == values[k].shape
        assert_close(got, numerical_gradient(f, [values[k]], 0), 1e-5, 1e-7, f"learnable {k} ({g.Parameter[k]})")


def test_float32_network_gradients_and_adam_step_stay_float32():
    rng = np.random.default_rng(13)
    net = cnn(1)
    net = net.with_learnables([dlarray(np.asarray(extractdata(v), np.float32)) for v in net.Learnables.Value])
    X = dlarray(rng.standard_normal((3, 6, 6, 2)).astype(np.float32))
    T = dlarray(np.eye(3, dtype=np.float32)[[1, 0, 2]])
    loss, g = dlfeval(_cnn_grads, net, X, T)
    assert all(extractdata(v).dtype == np.float32 for v in g.Value)
    before = [np.array(extractdata(v)) for v in net.Learnables.Value]
    new, m, v = adamupdate(net, g, None, None, 1)
    for b, p, gk, mk, vk in zip(before, new.Learnables.Value, g.Value, m.Value, v.Value):
        p, gk, mk, vk = extractdata(p), extractdata(gk), extractdata(mk), extractdata(vk)
        assert p.dtype == mk.dtype == vk.dtype == np.float32
        np.testing.assert_allclose(mk, 0.1 * gk, rtol=1e-6)
        np.testing.assert_allclose(vk, 0.001 * gk * gk, rtol=1e-5, atol=1e-30)
        np.testing.assert_allclose(p, b - 0.001 * np.sqrt(1 - 0.999) / (1 - 0.9) * mk / (np.sqrt(vk) + 1e-8),
                                   rtol=1e-5, atol=1e-7)
    for b, p in zip(before, net.Learnables.Value):      # the old network untouched
        np.testing.assert_array_equal(b, extractdata(p))


def test_adamupdate_with_empty_states_and_plain_arrays():
    p = [dlarray(np.ones(3, np.float32)), np.array([1.0, 2.0])]
    g = [dlarray(np.full(3, 0.5, np.float32)), np.array([1.0, -1.0])]
    new, m, v = adamupdate(p, g, [dlarray(np.zeros(0)), []], None, 1, 0.1)
    assert isinstance(new[0], dlarray) and extractdata(new[0]).dtype == np.float32
    assert type(new[1]) is np.ndarray
    np.testing.assert_allclose(extractdata(new[0]), np.full(3, 0.9, np.float32), rtol=1e-6)
    np.testing.assert_allclose(new[1], [0.9, 2.1], rtol=1e-6)


def test_project_of_dlarray_leaves_keeps_dtype_and_shape():
    w = dlarray(np.ones((2, 3), np.float32))
    assert support.project(np.ones((2, 3), np.float32), w).dtype == np.float32
    g64 = support.project(np.ones((2, 3)), w)               # another dtype: cast to the leaf's
    assert type(g64) is np.ndarray and g64.dtype == np.float32
    gb = support.project(np.ones(3, np.float32), w)         # a broadcast adjoint: the leaf's shape
    assert gb.shape == (2, 3)
    assert support.project(support.ZERO, w).tolist() == np.zeros((2, 3)).tolist()
    assert support.project(np.ones((1, 3)), "name") == "name"
