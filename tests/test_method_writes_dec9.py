"""Methods that set attributes of their object, read in place where the object's class is known
(sct/inline_helpers.py): ``h = st.add(h)`` with ``self.total = self.total + np.sum(u)`` is the
caller's own ``st.total = ...`` (was refused: "sets self.total to a traced value on an object its
caller passed in"); a dlgradient by an attribute path none of whose attributes is set here is
answered (sct/site_checks.py).  Values, gradients and the objects' fields as plain Python has them."""
import copy

import numpy as np
import pytest

import sct
from sct import CompileError, dlarray, dlfeval, dlgradient, extractdata
from gradcheck import D, numerical_gradient

pytestmark = pytest.mark.usefixtures("fresh_cache")

X = np.array([0.3, -0.7, 1.1])


class Stats:
    def __init__(self, total, k):
        self.total = total
        self.k = k
        self.calls = 0

    def add(self, u):
        self.total = self.total + np.sum(u) * 0.1
        return u * self.k

    def scale(self, u):
        self.k = self.k * 1.5
        return u * self.k

    def count(self, u):
        self.calls += 1
        return np.tanh(u)


class Model:
    def __init__(self, W):
        self.W = W
        self.calls = 0
        self.last = None

    def __call__(self, x):
        self.calls = self.calls + 1
        return np.tanh(self.W @ x)

    def forward(self, x):
        self.calls += 1
        self.last = extractdata(x)
        return np.sin(self.W @ x)


class EMA:
    """A running statistic kept on the object (batch norm's running mean), fed constants."""

    def __init__(self, w):
        self.w = w
        self.mean = np.zeros(3)

    def update(self, x):
        self.mean = 0.9 * self.mean + 0.1 * extractdata(x * self.w)
        return x * self.w


def local_stats(x):
    st = Stats(np.array(0.0), 0.5)
    h = x * 2
    h = st.add(h)
    h = st.scale(h) + st.total
    h = st.count(h)
    for _ in range(2):
        h = st.add(h)
    y = np.sum(h ** 2) + st.total * st.k
    return y, dlgradient(y, x)


def plain_local_stats(x):
    st = Stats(np.array(0.0), 0.5)
    h = x * 2
    h = st.add(h)
    h = st.scale(h) + st.total
    h = st.count(h)
    for _ in range(2):
        h = st.add(h)
    return np.sum(h ** 2) + st.total * st.k


def test_methods_of_a_local_object():
    y, g = dlfeval(local_stats, dlarray(X))
    assert float(D(y)) == pytest.approx(plain_local_stats(X), rel=1e-12)
    np.testing.assert_allclose(D(g), numerical_gradient(plain_local_stats, [X.copy()], 0), rtol=1e-6, atol=1e-9)


def stats_argument(x, st):
    h = st.add(x * 2)
    h = st.scale(h) + st.total
    y = np.sum(h ** 2)
    return y, dlgradient(y, x)


def test_methods_of_an_argument_change_it_as_python_does():
    st = Stats(np.array(0.25), 0.5)
    ref = Stats(np.array(0.25), 0.5)
    y, g = dlfeval(stats_argument, dlarray(X), st)
    h = ref.add(X * 2)
    h = ref.scale(h) + ref.total
    assert float(D(y)) == pytest.approx(float(np.sum(h ** 2)), rel=1e-12)
    assert float(st.total) == pytest.approx(float(ref.total)) and st.k == ref.k == 0.75

    def plain(v):
        s = Stats(np.array(0.25), 0.5)
        return float(np.sum((s.scale(s.add(v * 2)) + s.total) ** 2))
    np.testing.assert_allclose(D(g), numerical_gradient(plain, [X.copy()], 0), rtol=1e-6, atol=1e-9)
    # a second call: the object's fields as the first left them (0.75 -> 1.125), the same code
    y2, _ = dlfeval(stats_argument, dlarray(X), st)
    assert st.k == pytest.approx(1.125)


def model_loss(model, x):
    y = np.sum(model(x)) + np.sum(model.forward(x))
    return y, dlgradient(y, model.W)


def test_counter_on_the_model_and_gradient_by_its_weights():
    W0 = np.array([[0.5, -0.2], [0.1, 0.4]])
    m = Model(dlarray(W0))
    x = np.array([1.0, 2.0])
    y, g = dlfeval(model_loss, m, x)
    assert m.calls == 2 and np.array_equal(m.last, x)

    def plain(W):
        return float(np.sum(np.tanh(W @ x)) + np.sum(np.sin(W @ x)))
    assert float(D(y)) == pytest.approx(plain(W0), rel=1e-12)
    np.testing.assert_allclose(D(g), numerical_gradient(plain, [W0.copy()], 0), rtol=1e-6, atol=1e-9)


def ema_loss(s, x):
    y = np.sum(s.update(x) ** 2)
    return y, dlgradient(y, s.w)


def test_running_statistic_fed_constants():
    w = np.array([1.0, 2.0, 3.0])
    s = EMA(dlarray(w))
    _, g = dlfeval(ema_loss, s, np.array([1.0, 2.0, 3.0]))
    np.testing.assert_allclose(D(g), 2 * np.array([1.0, 4.0, 9.0]) * w)
    np.testing.assert_allclose(s.mean, 0.1 * np.array([1.0, 4.0, 9.0]))
    dlfeval(ema_loss, s, np.array([1.0, 2.0, 3.0]))
    np.testing.assert_allclose(s.mean, 0.19 * np.array([1.0, 4.0, 9.0]))


def test_replacing_the_method_recompiles():
    st = Stats(np.array(0.0), 0.5)
    _, g1 = dlfeval(stats_argument, dlarray(X), copy.deepcopy(st))
    original = Stats.add

    def add(self, u):
        self.total = self.total + np.sum(u ** 2)
        return u * 3.0
    Stats.add = add
    try:
        _, g2 = dlfeval(stats_argument, dlarray(X), copy.deepcopy(st))

        def plain(v):
            s = copy.deepcopy(st)
            return float(np.sum((s.scale(s.add(v * 2)) + s.total) ** 2))
        np.testing.assert_allclose(D(g2), numerical_gradient(plain, [X.copy()], 0), rtol=1e-6, atol=1e-8)
        assert not np.allclose(D(g1), D(g2))
    finally:
        Stats.add = original


def model_whole(model, x):
    y = np.sum(model(x))
    return y, dlgradient(y, model)


class Swap:
    def __init__(self, W):
        self.W = W

    def reset(self, x):
        self.W = self.W * 0.0 + 1.0
        return x


def swap_loss(s, x):
    h = s.reset(x)
    y = np.sum(s.W * h)
    return y, dlgradient(y, s.W)


@pytest.mark.parametrize("fun, args, match", [
    # the object selected whole after a field of it is set: the old fields' adjoints
    (model_whole, lambda: (Model(dlarray(np.eye(2))), np.ones(2)), "assigns an attribute"),
    # the selected attribute itself set here
    (swap_loss, lambda: (Swap(dlarray(np.ones(3))), np.ones(3)), "assigns an attribute"),
])
def test_still_refused(fun, args, match):
    with pytest.raises(CompileError, match=match):
        dlfeval(fun, *args())


class Shadowed(Stats):
    def __init__(self, total, k):
        super().__init__(total, k)
        self.add = lambda u: u * 100.0       # the instance's own attribute wins over the class's method


def shadowed(x):
    st = Shadowed(np.array(0.0), 0.5)
    y = np.sum(st.add(x))
    return y, dlgradient(y, x)


def test_an_instance_attribute_of_the_same_name_is_not_the_method():
    try:
        y, g = dlfeval(shadowed, dlarray(X))
    except CompileError:
        return                   # refused is fine; the class's method would be wrong
    assert float(D(y)) == pytest.approx(float(np.sum(X * 100.0)))
    np.testing.assert_allclose(D(g), np.full(3, 100.0))


class SetsItsOwnAdd:
    def __init__(self):
        self.total = np.array(0.0)
        self.setup()

    def setup(self):
        self.add = lambda u: u * 100.0      # set by another method: the instance's attribute wins

    def add(self, u):
        self.total = self.total + np.sum(u)
        return u


def own_add_local(x):
    st = SetsItsOwnAdd()
    y = np.sum(st.add(x))
    return y, dlgradient(y, x)


def own_add_argument(x, st):
    y = np.sum(st.add(x))
    return y, dlgradient(y, x)


@pytest.mark.parametrize("argument", [False, True])
def test_a_method_hidden_by_an_attribute_set_elsewhere_in_the_class(argument):
    if argument:
        y, g = dlfeval(own_add_argument, dlarray(X), SetsItsOwnAdd())
    else:
        y, g = dlfeval(own_add_local, dlarray(X))
    assert float(D(y)) == pytest.approx(float(np.sum(X * 100.0)))
    np.testing.assert_allclose(D(g), np.full(3, 100.0))


class BatchNorm:
    """Batch normalisation keeping running statistics on the layer (PyTorch's way)."""

    def __init__(self, n):
        self.gamma = np.ones(n)
        self.beta = np.zeros(n)
        self.running_mean = np.zeros(n)
        self.running_var = np.ones(n)

    def __call__(self, x, training=True):
        if training:
            mu = x.mean(axis=0)
            var = x.var(axis=0)
            self.running_mean = 0.9 * self.running_mean + 0.1 * extractdata(mu)
            self.running_var = 0.9 * self.running_var + 0.1 * extractdata(var)
        else:
            mu, var = self.running_mean, self.running_var
        return self.gamma * (x - mu) / np.sqrt(var + 1e-5) + self.beta


class Net:
    def __init__(self, W1, W2):
        self.W1, self.W2 = W1, W2
        self.bn = BatchNorm(W1.shape[1])

    def __call__(self, x):
        return np.tanh(self.bn(x @ self.W1)) @ self.W2


def net_loss(net, x, t):
    y = net(x)
    loss = np.mean((y - t) ** 2)
    return loss, dlgradient(loss, net.W1, net.W2)


def test_layers_calling_a_layer_that_keeps_running_statistics():
    r = np.random.default_rng(0)
    W1, W2 = r.standard_normal((4, 5)), r.standard_normal((5, 1))
    x, t = r.standard_normal((8, 4)), r.standard_normal((8, 1))
    net = Net(dlarray(W1), dlarray(W2))
    ref = Net(W1, W2)

    def plain(a, b):
        n = Net(a, b)
        return float(np.mean((n(x) - t) ** 2))
    for step in range(2):
        loss, (g1, g2) = dlfeval(net_loss, net, x, t)
        ref_y = ref(x)
        assert float(D(loss)) == pytest.approx(float(np.mean((ref_y - t) ** 2)), rel=1e-12)
        np.testing.assert_allclose(net.bn.running_mean, ref.bn.running_mean, rtol=1e-12)
        np.testing.assert_allclose(net.bn.running_var, ref.bn.running_var, rtol=1e-12)
    np.testing.assert_allclose(D(g1), numerical_gradient(plain, [W1.copy(), W2.copy()], 0), rtol=1e-5, atol=1e-8)
    np.testing.assert_allclose(D(g2), numerical_gradient(plain, [W1.copy(), W2.copy()], 1), rtol=1e-5, atol=1e-8)


class RNNCell:
    """An RNN cell keeping its hidden state on itself between steps."""

    def __init__(self, W, U, n):
        self.W, self.U, self.h = W, U, np.zeros(n)

    def step(self, x):
        self.h = np.tanh(self.W @ x + self.U @ self.h)
        return self.h

    def reset(self):
        self.h = np.zeros_like(self.h)


def cell_loss(cell, xs):
    cell.reset()
    out = 0.0
    for t in range(xs.shape[0]):
        out = out + np.sum(cell.step(xs[t]) ** 2)
    return out, dlgradient(out, cell.W, cell.U)


def test_hidden_state_kept_on_the_cell():
    r = np.random.default_rng(1)
    W, U, xs = 0.5 * r.standard_normal((3, 2)), 0.5 * r.standard_normal((3, 3)), r.standard_normal((4, 2))

    def plain(W, U):
        h, out = np.zeros(3), 0.0
        for t in range(4):
            h = np.tanh(W @ xs[t] + U @ h)
            out += np.sum(h ** 2)
        return out
    cell = RNNCell(dlarray(W), dlarray(U), 3)
    y, (gW, gU) = dlfeval(cell_loss, cell, xs)
    assert float(D(y)) == pytest.approx(plain(W, U), rel=1e-12)
    np.testing.assert_allclose(D(gW), numerical_gradient(plain, [W.copy(), U.copy()], 0), rtol=1e-5, atol=1e-8)
    np.testing.assert_allclose(D(gU), numerical_gradient(plain, [W.copy(), U.copy()], 1), rtol=1e-5, atol=1e-8)
