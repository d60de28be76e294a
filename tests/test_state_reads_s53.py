"""MATLAB's model-function state read, then replaced (red team 53u FR3): ``h = np.tanh(x @ W +
state["rnn"]["h"] @ U); state["rnn"]["h"] = h`` (an RNN's carried state), ``tm = state["bn"]["TrainedMean"]`` kept
past ``state["bn"]["TrainedMean"] = mu``.  Were refused as "writing into state['rnn'][...] in place changes a
traced value": the nested write was set back into ``state`` (sct/copy_aliases.py) only where the function read
``state`` again later, and any item of the argument kept past the write was taken for one that may hold the dict
written.  Now the caller's dict counts as read after the function (``caller_reads``), and an item whose kind
at entry is an array or a number (``_argument_leaf``) holds no dict.

Each program is checked against plain Python over three steps (dlfeval and dlaccelerate): the loss, the
gradient against central differences of the plain program, the caller's state dict after each step (types,
values, its inner dict kept).  Names kept past the write that hold the dict itself stay refused."""
import copy
import types

import numpy as np
import pytest

import sct
from gradcheck import D
from sct import dlaccelerate, dlarray, dlfeval, dlgradient


def _plain(fn):
    """``fn`` run as plain Python, its dlgradient answering None."""
    return types.FunctionType(fn.__code__, {**fn.__globals__, "dlgradient": lambda *a, **k: None}, fn.__name__,
                              fn.__defaults__, fn.__closure__)


def _fd(f, x, h=1e-6):
    g = np.zeros_like(x)
    for i in range(x.size):
        e = np.zeros_like(x)
        e.flat[i] = h
        g.flat[i] = (f(x + e) - f(x - e)) / (2 * h)
    return g


def _same_dict(mine, python):
    assert set(mine) == set(python)
    for k, v in python.items():
        assert type(mine[k]) is type(v), (k, type(mine[k]), type(v))
        if isinstance(v, dict):
            _same_dict(mine[k], v)
        else:
            np.testing.assert_allclose(np.asarray(D(mine[k])), np.asarray(D(v)), rtol=1e-12, atol=1e-12)


# --- read, then replaced ------------------------------------------------------------------------------------

def rnn_step(p, state, x):                      # red53u mini_FR3b
    h = np.tanh(x @ p["W"] + state["rnn"]["h"] @ p["U"])
    state["rnn"]["h"] = h
    L = np.sum(h ** 2)
    return L, dlgradient(L, p)


def old_kept(p, state, x):                      # red53u fr_state.py top
    h = x @ p["W"]
    mu = h.mean(axis=0)
    tm = state["bn"]["TrainedMean"]
    state["bn"]["TrainedMean"] = mu
    L = np.sum(np.sin(h - tm)) + np.sum(state["bn"]["TrainedMean"] ** 2)
    return L, dlgradient(L, p)


def read_in_loss(p, state, x):                  # red53u fr3var.py f3
    h = x @ p["W"]
    mu = h.mean(axis=0)
    L = np.sum(np.sin(h - state["bn"]["TrainedMean"]))
    state["bn"]["TrainedMean"] = mu
    return L, dlgradient(L, p)


def two_items(p, state, x):                     # an LSTM's h and c
    h0 = state["rnn"]["h"]
    h = np.tanh(x @ p["W"] + h0 @ p["U"])
    state["rnn"]["h"] = h
    c = state["rnn"]["c"]
    state["rnn"]["c"] = c * 0.5 + h
    L = np.sum(h ** 2) + np.sum(h0 * state["rnn"]["c"]) + np.sum(c)
    return L, dlgradient(L, p)


def ema(p, state, x):                           # a running mean of the traced value, read back
    h = np.tanh(x @ p["W"])
    state["bn"]["m"] = 0.9 * state["bn"]["m"] + 0.1 * h
    state["bn"]["v"] = state["bn"]["m"] * 2.0       # (red53u t48 n5: a dlarray in Python, the item just stored)
    L = np.sum(h * state["bn"]["v"]) + np.sum(state["bn"]["m"] @ p["U"])
    return L, dlgradient(L, p)


def rnn_state():
    return {"rnn": {"h": np.array([[0.1, -0.2]]), "c": np.array([[0.3, 0.4]])}}


def bn_state():
    return {"bn": {"TrainedMean": np.array([0.1, -0.2]), "m": np.array([[0.2, 0.1]]), "v": np.zeros((1, 2))}}


CASES = [(rnn_step, rnn_state), (old_kept, bn_state), (read_in_loss, bn_state), (two_items, rnn_state),
         (ema, bn_state)]


@pytest.mark.parametrize("runner", ["dlfeval", "dlaccelerate"])
@pytest.mark.parametrize("fn, make", CASES, ids=lambda v: getattr(v, "__name__", None) or str(v))
def test_state_read_then_replaced_exact(fn, make, runner):
    rng = np.random.default_rng(53)
    W, U = np.array([[0.5, -1.0], [0.3, 0.8]]), np.array([[0.2, 0.1], [-0.3, 0.4]])
    plain = _plain(fn)
    mine = make()
    python = copy.deepcopy(mine)
    inner = {k: v for k, v in mine.items() if isinstance(v, dict)}
    call = dlaccelerate(fn) if runner == "dlaccelerate" else (lambda *a: dlfeval(fn, *a))
    for step in range(3):
        x = rng.standard_normal((3, 2))
        before = copy.deepcopy(python)

        def loss_at(w, u):
            return float(D(plain({"W": w, "U": u}, copy.deepcopy(before), x)[0]))
        want = loss_at(W, U)
        want_w = _fd(lambda v: loss_at(v, U), W.copy())
        want_u = _fd(lambda v: loss_at(W, v), U.copy())
        plain({"W": dlarray(W), "U": dlarray(U)}, python, x)       # plain Python's state after this step
        loss, g = call({"W": dlarray(W), "U": dlarray(U)}, mine, x)
        np.testing.assert_allclose(float(D(loss)), want, rtol=1e-12)
        np.testing.assert_allclose(D(g["W"]), want_w, rtol=1e-6, atol=1e-7)
        np.testing.assert_allclose(D(g["U"]), want_u, rtol=1e-6, atol=1e-7)
        _same_dict(mine, python)
        assert all(mine[k] is v for k, v in inner.items())
        W, U = W - 0.1 * D(g["W"]), U - 0.1 * D(g["U"])


def test_rnn_state_values_by_hand():
    # red53u's numbers: L = 0.92027, dL/dW, dL/dU, the caller's new h a dlarray
    W0, U0 = np.array([[0.5, -1.0], [0.3, 0.8]]), np.array([[0.2, 0.1], [-0.3, 0.4]])
    x, h0 = np.array([[1.0, 2.0]]), np.array([[0.1, -0.2]])
    state = {"rnn": {"h": h0.copy()}}
    inner = state["rnn"]
    L, g = dlfeval(rnn_step, {"W": dlarray(W0), "U": dlarray(U0)}, state, x)
    t = np.tanh(x @ W0 + h0 @ U0)
    d = 2 * t * (1 - t ** 2)
    np.testing.assert_allclose(float(D(L)), np.sum(t ** 2), rtol=1e-14)
    np.testing.assert_allclose(D(g["W"]), x.T @ d, rtol=1e-12)
    np.testing.assert_allclose(D(g["U"]), h0.T @ d, rtol=1e-12)
    assert state["rnn"] is inner and type(inner["h"]) is dlarray
    np.testing.assert_allclose(D(inner["h"]), t, rtol=1e-14)


# --- still refused: the dict itself (or the argument through it) kept past the write --------------------------

def dict_kept(p, state, x):
    bn = state["rnn"]
    h = np.tanh(x @ p["W"] + bn["h"] @ p["U"])
    state["rnn"]["h"] = h
    L = np.sum(bn["h"] ** 2)
    return L, dlgradient(L, p)


def dict_kept_unread(p, state, x):
    tm = state["rnn"]
    state["rnn"]["h"] = np.tanh(x @ p["W"])
    L = np.sum(tm["h"] ** 2)
    return L, dlgradient(L, p)


def twice(p, state, x):
    tm = state["b"]["h"]
    state["a"]["h"] = np.tanh(x @ p["W"]) + tm
    L = np.sum(tm ** 2) + np.sum(state["a"]["h"])
    return L, dlgradient(L, p)


def _line(fn, text):
    import inspect
    lines, first = inspect.getsourcelines(fn)
    return first + next(i for i, line in enumerate(lines) if text in line)


@pytest.mark.parametrize("fn", [dict_kept, dict_kept_unread])
def test_dict_kept_past_the_write_refused(fn):
    state = {"rnn": {"h": np.array([[0.1, -0.2]])}}
    line = _line(fn, 'state["rnn"]["h"] =')
    with pytest.raises(sct.SctError, match=rf"line {line}:.*did not create"):
        dlfeval(fn, {"W": dlarray(np.eye(2)), "U": dlarray(np.eye(2))}, state, np.array([[1.0, 2.0]]))


def test_dict_reached_twice_refused():
    D0 = {"h": np.array([[0.1, -0.2]])}
    state = {"a": D0, "b": D0}
    line = _line(twice, 'state["a"]["h"] =')
    with pytest.raises(sct.SctError, match=rf"line {line}:.*reached another way"):
        dlfeval(twice, {"W": dlarray(np.eye(2))}, state, np.array([[1.0, 2.0]]))
    np.testing.assert_array_equal(D0["h"], [[0.1, -0.2]])


def rnn_nested_params(p, state, x):            # MATLAB's parameters nested too: p["rnn"]["W"]
    h = np.tanh(x @ p["rnn"]["W"] + state["rnn"]["h"] @ p["rnn"]["U"])
    state["rnn"]["h"] = h
    L = np.sum(h ** 2)
    return L, dlgradient(L, p)


def test_rnn_with_nested_parameters_exact():
    W0, U0 = np.array([[0.5, -1.0], [0.3, 0.8]]), np.array([[0.2, 0.1], [-0.3, 0.4]])
    x, h0 = np.array([[1.0, 2.0], [0.5, -0.3]]), np.array([[0.1, -0.2]])
    state = {"rnn": {"h": h0.copy()}}
    L, g = dlfeval(rnn_nested_params, {"rnn": {"W": dlarray(W0), "U": dlarray(U0)}}, state, x)
    t = np.tanh(x @ W0 + h0 @ U0)
    d = 2 * t * (1 - t ** 2)
    np.testing.assert_allclose(float(D(L)), np.sum(t ** 2), rtol=1e-14)
    np.testing.assert_allclose(D(g["rnn"]["W"]), x.T @ d, rtol=1e-12)
    np.testing.assert_allclose(D(g["rnn"]["U"]), h0.T @ d.sum(axis=0, keepdims=True), rtol=1e-12)
    np.testing.assert_allclose(D(state["rnn"]["h"]), t, rtol=1e-14)


# --- red53u FR1: the README's batch-norm layer on net.bn, two first-order gradient sites -------------------------

class BN:
    def __init__(self, n):
        self.gamma = dlarray(np.linspace(0.8, 1.2, n))
        self.rm = np.zeros(n)
        self.training = True

    def __call__(self, h):
        mu = h.mean(axis=0)
        if self.training:
            self.rm = 0.9 * self.rm + 0.1 * sct.extractdata(mu)
        return self.gamma * (h - mu)


class Net:
    def __init__(self):
        self.W = dlarray(np.eye(2) + 0.3)
        self.bn = BN(2)

    def __call__(self, x):
        return self.bn(x @ self.W)


def two_sites(net, x):                  # red53u fr_bn11.py: GAN-style per-network gradients
    L = np.sum(net(x) ** 3)
    gW = dlgradient(L, net.W)
    gg = dlgradient(L, net.bn.gamma)
    return L, (gW, gg)


def early_return(net, x):               # red53u fr_bn12.py
    L = np.sum(net(x) ** 3)
    if x.shape[0] > 100:
        return L, (dlgradient(L, net.W), dlgradient(L, net.bn.gamma))
    return L, (dlgradient(L, net.W), dlgradient(L, net.bn.gamma))


def _bn_loss(W, gamma, x):
    h = x @ W
    return np.sum((gamma * (h - h.mean(axis=0))) ** 3)


@pytest.mark.parametrize("runner", ["dlfeval", "dlaccelerate"])
@pytest.mark.parametrize("fn", [two_sites, early_return])
def test_batchnorm_running_mean_with_two_gradient_sites(fn, runner):
    rng = np.random.default_rng(7)
    net = Net()
    W, gamma, rm = D(net.W).copy(), D(net.bn.gamma).copy(), np.zeros(2)
    call = dlaccelerate(fn) if runner == "dlaccelerate" else (lambda *a: dlfeval(fn, *a))
    for step in range(3):
        x = rng.standard_normal((4, 2))
        L, (gW, gg) = call(net, x)
        np.testing.assert_allclose(float(D(L)), _bn_loss(W, gamma, x), rtol=1e-12)
        np.testing.assert_allclose(D(gW), _fd(lambda v: _bn_loss(v, gamma, x), W.copy()), rtol=1e-6, atol=1e-7)
        np.testing.assert_allclose(D(gg), _fd(lambda v: _bn_loss(W, v, x), gamma.copy()), rtol=1e-6, atol=1e-7)
        rm = 0.9 * rm + 0.1 * (x @ W).mean(axis=0)          # plain Python's running mean: once per call
        assert type(net.bn.rm) is np.ndarray
        np.testing.assert_allclose(net.bn.rm, rm, rtol=1e-12, atol=1e-15)
        W, gamma = W - 0.01 * D(gW), gamma - 0.01 * D(gg)
        net.W, net.bn.gamma = dlarray(W), dlarray(gamma)


def differentiated_again(net, x):       # a gradient differentiated again: the code before it recomputed
    L = np.sum(net(x) ** 3)
    g = dlgradient(L, net.W, EnableHigherDerivatives=True)
    L2 = np.sum(g ** 2)
    return L2, dlgradient(L2, net.W)


def test_batchnorm_running_mean_under_a_second_order_gradient_not_written_twice():
    net = Net()
    x = np.array([[1.0, 2.0], [0.5, -1.0], [0.1, 0.2]])
    # refused, saying what it is (was "sets self.bn.rm to a traced value", for extractdata's numbers)
    with pytest.raises(sct.SctError, match=rf"line {_line(BN.__call__, 'self.rm =')}:.*sets self.bn.rm to a value "
                                           "sct counts as traced here \\(extractdata's numbers"):
        dlfeval(differentiated_again, net, x)
    np.testing.assert_array_equal(net.bn.rm, np.zeros(2))


class Cell:
    def __init__(self, W):
        self.W = W
        self.h = np.zeros((1, 2))

    def __call__(self, x):
        self.h = np.tanh(x @ self.W + self.h)
        return self.h


def cell_two_sites(cell, x):            # a traced field set between two first-order sites (read in place)
    y1 = cell(x)
    L1 = np.sum(y1 ** 2)
    g1 = dlgradient(L1, cell.W)
    y2 = cell(x)
    L2 = np.sum(y2 ** 3)
    g2 = dlgradient(L2, cell.W)
    return L1, L2, g1, g2


def test_traced_field_between_two_sites_exact():
    W0, x = np.array([[0.5, -1.0], [0.3, 0.8]]), np.array([[1.0, 2.0]])

    def plain(W):
        h1 = np.tanh(x @ W)
        h2 = np.tanh(x @ W + h1)
        return np.sum(h1 ** 2), np.sum(h2 ** 3), h2
    cell = Cell(dlarray(W0))
    L1, L2, g1, g2 = dlfeval(cell_two_sites, cell, x)
    np.testing.assert_allclose([float(D(L1)), float(D(L2))], plain(W0)[:2], rtol=1e-12)
    np.testing.assert_allclose(D(g1), _fd(lambda v: plain(v)[0], W0.copy()), rtol=1e-6, atol=1e-7)
    np.testing.assert_allclose(D(g2), _fd(lambda v: plain(v)[1], W0.copy()), rtol=1e-6, atol=1e-7)
    assert type(cell.h) is dlarray
    np.testing.assert_allclose(D(cell.h), plain(W0)[2], rtol=1e-12)


def stored_under_a_branch(p, state, x, flag):
    h = np.tanh(x @ p["W"])
    if flag:
        state["bn"]["m"] = h
    state["bn"]["v"] = state["bn"]["m"] * 2.0       # a dlarray or an ndarray in Python: as the branch went
    L = np.sum(h * state["bn"]["v"])
    return L, dlgradient(L, p)


@pytest.mark.parametrize("flag", [True, False])
def test_item_type_after_a_branch_as_python_or_refused(flag):
    W = np.array([[0.5, -1.0], [0.3, 0.8]])
    x = np.array([[1.0, 2.0], [0.3, -0.5]])
    mine, python = bn_state(), bn_state()
    _plain(stored_under_a_branch)({"W": dlarray(W)}, python, x, flag)
    try:
        dlfeval(stored_under_a_branch, {"W": dlarray(W)}, mine, x, flag)
    except sct.SctError as e:
        line = _line(stored_under_a_branch, 'state["bn"]["v"] =')
        assert f"line {line}" in str(e)
        return
    _same_dict(mine, python)
