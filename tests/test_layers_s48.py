"""PyTorch-style layers keeping state on themselves, read in place (sct/inline_helpers.py) and their
writes checked (sct/write_checks.py ``_constant_field_write``): a batch-norm layer of a net whose
``gamma`` is traced setting ``self.running_mean`` from ``extractdata`` (was refused: "self may be an
object loss_fn() did not create (self is an attribute of net)"), ``nn.Module``'s ``__call__`` handing
``*args, **kwargs`` to ``forward`` (was: "forward() sets self.h to a traced value on an object its caller
passed in"), ``self.l1.forward(x)`` of a layer caching its input (was: refused), a dropout layer's
untaken ``self.mask = ...``.  Values, the objects' state after one and two calls, and gradients against
central differences of the same code run by plain numpy.  Traced state on a layer of a net, a
gradient by a whole layer, and a gradient taken again stay refused at the user's line."""
import copy

import numpy as np
import pytest

import sct
from sct import CompileError, dlarray, dlfeval, dlgradient, extractdata
from gradcheck import D, numerical_gradient

pytestmark = pytest.mark.usefixtures("fresh_cache")

R = np.random.default_rng(48)
X = R.standard_normal((4, 2))
W0 = np.array([[0.3, -0.5], [0.8, 0.2]])
V0 = np.array([[1.0, 0.2], [-0.3, 0.9]])
G0 = np.array([1.5, 0.7])


class Module:                          # PyTorch's nn.Module.__call__
    def __call__(self, *args, **kwargs):
        return self.forward(*args, **kwargs)


class BatchNorm:
    def __init__(self, gamma):
        self.gamma = gamma
        self.running_mean = np.zeros(2)
        self.n = 0

    def __call__(self, h):
        mu = h.mean(axis=0)
        self.running_mean = 0.9 * self.running_mean + 0.1 * extractdata(mu)
        self.n += 1
        return self.gamma * (h - mu)


class Net:
    def __init__(self, W, gamma):
        self.W = W
        self.bn = BatchNorm(gamma)

    def __call__(self, x):
        return self.bn(x @ self.W)


def net_loss(net, x):
    loss = np.sum(np.tanh(net(x)))
    return loss, dlgradient(loss, net.W, net.bn.gamma)


def plain_net(W, g, x=X):
    h = x @ W
    return float(np.sum(np.tanh(g * (h - h.mean(axis=0)))))


def test_batch_norm_of_a_net_with_traced_gamma():
    net = Net(dlarray(W0), dlarray(G0))
    ref = Net(W0.copy(), G0.copy())
    for _ in range(2):                 # the running mean carried from the first call to the second
        loss, (gW, gg) = dlfeval(net_loss, net, X)
        h = X @ W0
        ref.bn.running_mean = 0.9 * ref.bn.running_mean + 0.1 * h.mean(axis=0)
        assert float(D(loss)) == pytest.approx(plain_net(W0, G0), rel=1e-12)
        np.testing.assert_allclose(net.bn.running_mean, ref.bn.running_mean, rtol=1e-12)
        np.testing.assert_allclose(D(gW), numerical_gradient(plain_net, [W0.copy(), G0.copy()], 0), rtol=1e-6,
                                   atol=1e-9)
        np.testing.assert_allclose(D(gg), numerical_gradient(plain_net, [W0.copy(), G0.copy()], 1), rtol=1e-6,
                                   atol=1e-9)
    assert net.bn.n == 2 and type(net.bn.n) is int


def read_back(net, x):
    a = net.bn                          # an alias bound before the call, read after it
    h = net(x)
    loss = np.sum(np.tanh(h) * net.bn.running_mean) + np.sum(h[0] * a.running_mean) + a.n
    return loss, dlgradient(loss, net.W)


def test_the_running_mean_read_back_after_the_call():
    net = Net(dlarray(W0), dlarray(G0))
    rm = np.zeros(2)
    for calls in (1, 2):
        mu = (X @ W0).mean(axis=0)
        rm = 0.9 * rm + 0.1 * mu            # extractdata: a constant for the derivative

        def plain(W, rm=rm, calls=calls):
            h = X @ W
            h = G0 * (h - h.mean(axis=0))
            return float(np.sum(np.tanh(h) * rm) + np.sum(h[0] * rm) + calls)
        loss, gW = dlfeval(read_back, net, X)
        assert float(D(loss)) == pytest.approx(plain(W0), rel=1e-12)
        np.testing.assert_allclose(D(gW), numerical_gradient(plain, [W0.copy()], 0), rtol=1e-6, atol=1e-9)
        np.testing.assert_allclose(net.bn.running_mean, rm, rtol=1e-12)


class Block:
    def __init__(self):
        self.V = dlarray(V0)
        self.bn = BatchNorm(dlarray(G0))

    def __call__(self, h):
        return self.bn(h @ self.V) + 0.5 * h


class Deep:
    def __init__(self):
        self.W = dlarray(W0)
        self.block = Block()
        self.shared = self.block.bn         # the same layer at two places, used twice

    def __call__(self, x):
        h = self.block(np.tanh(x @ self.W))
        return self.shared(h)


def deep_loss(net, x):
    loss = np.sum(np.tanh(net(x)))
    return loss, dlgradient(loss, net.W, net.block.V)


def plain_deep(W, V):
    def bn(h):
        return G0 * (h - h.mean(axis=0))
    h = np.tanh(X @ W)
    h = bn(h @ V) + 0.5 * h
    return float(np.sum(np.tanh(bn(h))))


def test_layers_calling_layers_two_deep_and_a_shared_layer():
    net = Deep()
    for calls in (1, 2):
        loss, (gW, gV) = dlfeval(deep_loss, net, X)
        assert float(D(loss)) == pytest.approx(plain_deep(W0, V0), rel=1e-12)
        np.testing.assert_allclose(D(gW), numerical_gradient(plain_deep, [W0.copy(), V0.copy()], 0), rtol=1e-6,
                                   atol=1e-9)
        np.testing.assert_allclose(D(gV), numerical_gradient(plain_deep, [W0.copy(), V0.copy()], 1), rtol=1e-6,
                                   atol=1e-9)
        assert net.block.bn.n == 2 * calls


class RNNCell(Module):
    def __init__(self, W):
        self.W = W
        self.h = np.zeros((3, 2))

    def forward(self, x):
        self.h = np.tanh(x @ self.W + self.h)
        return self.h


def cell_loss(cell, xs):
    for x in xs:
        out = cell(x)                  # Module.__call__ -> forward
    loss = np.sum(out ** 2)
    return loss, dlgradient(loss, cell.W)


def test_module_call_forwarding_to_forward_keeps_the_hidden_state():
    xs = R.standard_normal((4, 3, 2))
    cell = RNNCell(dlarray(W0))
    ref = RNNCell(W0.copy())
    for _ in range(2):                 # the hidden state carried into the second call
        h0 = ref.h.copy()

        def plain(W, h0=h0):
            h = h0
            for x in xs:
                h = np.tanh(x @ W + h)
            return float(np.sum(h ** 2))
        loss, g = dlfeval(cell_loss, cell, xs)
        for x in xs:
            ref(x)
        assert float(D(loss)) == pytest.approx(plain(W0), rel=1e-12)
        np.testing.assert_allclose(D(cell.h), ref.h, rtol=1e-12)
        np.testing.assert_allclose(D(g), numerical_gradient(plain, [W0.copy()], 0), rtol=1e-6, atol=1e-9)


class Linear:                          # numpy-from-scratch layer caching its input for backward
    def __init__(self):
        self.W = dlarray(W0)

    def forward(self, x):
        self.x = x
        return x @ self.W


class CacheNet:
    def __init__(self):
        self.l1 = Linear()

    def forward(self, x):
        return self.l1.forward(x)


def cache_loss(net, x):
    loss = np.sum(np.tanh(net.forward(x)))
    return loss, dlgradient(loss, net.l1.W)


def test_a_layer_of_a_net_caching_its_input():
    net = CacheNet()
    loss, g = dlfeval(cache_loss, net, X)
    assert net.l1.x is X
    assert float(D(loss)) == pytest.approx(float(np.sum(np.tanh(X @ W0))), rel=1e-12)
    np.testing.assert_allclose(D(g), numerical_gradient(lambda W: float(np.sum(np.tanh(X @ W))), [W0.copy()], 0),
                               rtol=1e-6, atol=1e-9)


class DenseDrop(Module):
    def __init__(self):
        self.W = dlarray(W0)
        self.training = False

    def forward(self, x):
        z = x @ self.W
        if self.training:              # not taken
            self.mask = np.random.rand(*z.shape) > 0.5
            z = z * self.mask
        return z


def drop_loss(m, x):
    loss = np.sum(m(x) ** 2)
    return loss, dlgradient(loss, m.W)


def test_dropout_in_eval_mode_through_module_call():
    m = DenseDrop()
    loss, g = dlfeval(drop_loss, m, X)
    assert not hasattr(m, "mask")
    assert float(D(loss)) == pytest.approx(float(np.sum((X @ W0) ** 2)), rel=1e-12)
    np.testing.assert_allclose(D(g), 2 * X.T @ (X @ W0), rtol=1e-12)


def test_accelerated_with_checks_changes_the_state_once():
    acc = sct.dlaccelerate(net_loss, CheckMode="tolerance")
    net = Net(dlarray(W0), dlarray(G0))
    for _ in range(2):
        dlfeval(acc, net, X)
    # (was: the check's second run on the caller's objects: n == 4, the running mean updated four times)
    assert net.bn.n == 2
    np.testing.assert_allclose(net.bn.running_mean, 0.19 * (X @ W0).mean(axis=0), rtol=1e-12)


class Counted(Module):
    def __init__(self, W):
        self.W = dlarray(W)
        self.calls = 0
        self.rm = np.zeros(2)

    def forward(self, x):
        self.calls += 1
        self.rm = 0.5 * self.rm + extractdata(x).mean(axis=0)
        return x @ self.W


class Stack(Module):
    def __init__(self):
        self.layers = [Counted(W0), Counted(V0)]
        self.named = {"a": Counted(V0), "b": Counted(W0)}

    def forward(self, x):
        h = x
        for layer in self.layers:
            h = np.tanh(layer(h))
        return self.named["b"](self.named["a"](h))


def stack_loss(net, x):
    loss = np.sum(net(x) ** 2)
    return loss, dlgradient(loss, net.layers[0].W, net.named["a"].W)


def plain_stack(W, V):
    return float(np.sum((np.tanh(np.tanh(X @ W) @ V0) @ V @ W0) ** 2))


def test_layers_in_a_list_and_a_dict():
    net = Stack()
    ref = copy.deepcopy(net)
    for calls in (1, 2):
        loss, (g0, ga) = dlfeval(stack_loss, net, X)
        h = X
        for layer in ref.layers:
            layer.calls += 1
            layer.rm = 0.5 * layer.rm + D(h).mean(axis=0)
            h = np.tanh(h @ W0 if layer is ref.layers[0] else h @ V0)
        for key in ("a", "b"):
            ref.named[key].calls += 1
            ref.named[key].rm = 0.5 * ref.named[key].rm + h.mean(axis=0)
            h = h @ (V0 if key == "a" else W0)
        assert float(D(loss)) == pytest.approx(plain_stack(W0, V0), rel=1e-12)
        for a, b in zip(net.layers + list(net.named.values()), ref.layers + list(ref.named.values())):
            assert a.calls == b.calls == calls
            np.testing.assert_allclose(a.rm, b.rm, rtol=1e-12)
        np.testing.assert_allclose(D(g0), numerical_gradient(plain_stack, [W0.copy(), V0.copy()], 0), rtol=1e-6,
                                   atol=1e-9)
        np.testing.assert_allclose(D(ga), numerical_gradient(plain_stack, [W0.copy(), V0.copy()], 1), rtol=1e-6,
                                   atol=1e-9)


class Mixed(Module):
    def __init__(self):
        self.layers = [Counted(W0), DenseDrop()]     # items of two classes: each call left a call

    def forward(self, x):
        for layer in self.layers:
            x = layer(x)
        return x


def mixed_loss(net, x):
    loss = np.sum(net(x) ** 2)
    return loss, dlgradient(loss, net.layers[0].W)


def test_a_count_on_a_layer_left_a_call_is_not_called_traced():
    with pytest.raises(CompileError) as info:
        dlfeval(mixed_loss, Mixed(), X)
    # (was: "sets self.calls to a traced value" for an int)
    assert "self.calls on an object its caller passed in that holds traced values" in str(info.value)


# --- still refused ---------------------------------------------------------------------------------------

def whole_layer(net, x):
    loss = np.sum(np.tanh(net(x))) + np.sum(net.bn.running_mean)
    return loss, dlgradient(loss, net.bn)       # running_mean's derivative would be the new value's


class Cell:
    def __init__(self):
        self.W = dlarray(W0)
        self.h = np.zeros((3, 2))

    def __call__(self, x):
        self.h = np.tanh(x @ self.W + self.h)   # traced state on a layer of a net (line checked)
        return self.h


class RNN:
    def __init__(self):
        self.cell = Cell()

    def __call__(self, xs):
        for x in xs:
            out = self.cell(x)
        return out


def rnn_loss(net, xs):
    loss = np.sum(net(xs) ** 2)
    return loss, dlgradient(loss, net.cell.W)


def twice(net, x):
    loss = np.sum(np.tanh(net(x)))
    g = dlgradient(loss, net.W, EnableHigherDerivatives=True)
    return loss, dlgradient(np.sum(g ** 2), net.W)


@pytest.mark.parametrize("fun, args, line, match", [
    (whole_layer, lambda: (Net(dlarray(W0), dlarray(G0)), X), "self.running_mean = 0.9", "running_mean"),
    (rnn_loss, lambda: (RNN(), R.standard_normal((3, 3, 2))), "(line checked)", "self.h"),
    (twice, lambda: (Net(dlarray(W0), dlarray(G0)), X), "self.running_mean = 0.9", "running_mean"),
])
def test_still_refused(fun, args, line, match):
    objects = args()
    before = copy.deepcopy(objects[0])
    with pytest.raises(CompileError, match=match) as info:
        dlfeval(fun, *objects)
    lines = open(__file__).read().splitlines()
    number = next(i + 1 for i, text in enumerate(lines) if line in text)
    assert f"line {number}" in str(info.value) and "test_layers_s48.py" in str(info.value)
    for layer in ("bn", "cell"):       # nothing written
        if hasattr(before, layer):
            assert vars(getattr(before, layer)).keys() == vars(getattr(objects[0], layer)).keys()
            for k, v in vars(getattr(before, layer)).items():
                assert np.array_equal(D(v), D(getattr(getattr(objects[0], layer), k)))
