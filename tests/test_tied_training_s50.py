"""Tied weights in training (session 50, red team redtie50): the optimizers keep a tie (one parameter at
two places is updated once with the summed gradient and one state, as PyTorch's shared parameter), the
alias walk counts a layer whose item points back at the list the forward iterates, a view beside a tie is
refused, and a tied model runs with a dlarray input or a fixed float table.  Each against a plain numpy
reference of the tied model (central differences)."""
import numpy as np
import pytest

import sct
from sct import (adamupdate, dlarray, dlfeval, dlgradient, dlupdate, extractdata, lbfgsupdate, rmspropupdate,
                 sgdmupdate)
from sct.errors import SctError

from gradcheck import numerical_gradient

RNG = np.random.default_rng(5050)
A0 = RNG.standard_normal((3, 3))
B0 = RNG.standard_normal((3, 3))
C1, C2 = RNG.standard_normal(3), RNG.standard_normal(3)
X0 = RNG.standard_normal(3)


def D(v):
    return np.asarray(extractdata(v)) if isinstance(v, dlarray) else np.asarray(v)


class Lin:
    def __init__(self, W, b):
        self.W, self.b = W, b

    def __call__(self, x):
        return np.tanh(self.W @ x + self.b)


class TiedHead:
    def __init__(self):
        self.embed = Lin(dlarray(A0.copy()), dlarray(C1.copy()))
        self.head = Lin(dlarray(A0.copy()), dlarray(C2.copy()))
        self.head.W = self.embed.W

    def __call__(self, x):
        return self.head(self.embed(x))


def loss_net(net, x):
    L = (net(x) ** 2).sum()
    return L, dlgradient(L, net)


def plain_loss(W, c1, c2):
    return float((np.tanh(W @ np.tanh(W @ X0 + c1) + c2) ** 2).sum())


def ref_grads(W, c1, c2):
    return [numerical_gradient(plain_loss, [W, c1, c2], k) for k in range(3)]


def _train(update, ref_update, steps=3):
    """sct's model trained by ``update(net, g, state, it)`` against numpy's one shared W."""
    net, state = TiedHead(), None
    ref = [A0.copy(), C1.copy(), C2.copy()]
    ref_state = [None, None, None]
    for it in range(1, steps + 1):
        _, g = dlfeval(loss_net, net, X0)
        net, state = update(net, g, state, it)
        gs = ref_grads(*ref)
        for k in range(3):
            ref[k], ref_state[k] = ref_update(ref[k], gs[k], ref_state[k], it)
        assert net.head.W is net.embed.W            # the tie kept
        for got, want in [(net.embed.W, ref[0]), (net.embed.b, ref[1]), (net.head.b, ref[2])]:
            np.testing.assert_allclose(D(got), want, rtol=1e-6, atol=1e-8)
    return net, state


def test_sgdmupdate_keeps_the_tie_and_one_velocity():
    def update(net, g, vel, it):
        return sgdmupdate(net, g, vel, 0.1, 0.9)

    def ref(p, g, v, it):
        v = (0 if v is None else 0.9 * v) - 0.1 * g
        return p + v, v
    net, vel = _train(update, ref)
    assert vel.head.W is vel.embed.W                # one state entry for the shared parameter


def test_adamupdate_keeps_the_tie():
    def update(net, g, state, it):
        m, v = state or (None, None)
        net, m, v = adamupdate(net, g, m, v, it, 0.05)
        return net, (m, v)

    def ref(p, g, s, it):
        m, v = s or (0.0, 0.0)
        m = 0.9 * m + 0.1 * g
        v = 0.999 * v + 0.001 * g * g
        rate = 0.05 * np.sqrt(1 - 0.999 ** it) / (1 - 0.9 ** it)
        return p - rate * m / (np.sqrt(v) + 1e-8), (m, v)
    _, (m, v) = _train(update, ref)
    assert m.head.W is m.embed.W and v.head.W is v.embed.W


def test_rmspropupdate_keeps_the_tie():
    def update(net, g, s, it):
        return rmspropupdate(net, g, s, 0.01)

    def ref(p, g, s, it):
        s = (0 if s is None else 0.9 * s) + 0.1 * g * g
        return p - 0.01 * g / (np.sqrt(s) + 1e-8), s
    _train(update, ref)


def test_dlupdate_keeps_the_tie_with_a_lambda_and_with_a_state():
    def update(net, g, s, it):
        return dlupdate(lambda p, d: p - 0.1 * d, net, g), None

    def ref(p, g, s, it):
        return p - 0.1 * g, None
    _train(update, ref)

    def momentum(p, d, v):                 # two outputs: the parameter and its state
        v = 0.5 * v - 0.1 * d
        return p + v, v

    def update2(net, g, s, it):
        if s is None:
            s = dlupdate(lambda p: 0 * p, net)
        return dlupdate(momentum, net, g, s)

    def ref2(p, g, v, it):
        v = (0 if v is None else 0.5 * v) - 0.1 * g
        return p + v, v
    net, s = _train(update2, ref2)
    assert s.head.W is s.embed.W


def test_lbfgsupdate_of_a_tied_dict_is_that_of_the_one_array():
    def tied_loss(p):
        L = (np.tanh(p["dec"] @ np.tanh(p["enc"] @ X0 + p["c1"]) + p["c2"]) ** 2).sum()
        return L, dlgradient(L, p)

    def one_loss(p):
        L = (np.tanh(p["W"] @ np.tanh(p["W"] @ X0 + p["c1"]) + p["c2"]) ** 2).sum()
        return L, dlgradient(L, p)
    W = dlarray(A0.copy())
    tied = {"enc": W, "dec": W, "c1": dlarray(C1.copy()), "c2": dlarray(C2.copy())}
    one = {"W": dlarray(A0.copy()), "c1": dlarray(C1.copy()), "c2": dlarray(C2.copy())}
    s1 = s2 = None
    for _ in range(3):
        tied, s1 = lbfgsupdate(tied, lambda p: dlfeval(tied_loss, p), s1)
        one, s2 = lbfgsupdate(one, lambda p: dlfeval(one_loss, p), s2)
        assert tied["enc"] is tied["dec"]
        np.testing.assert_allclose(D(tied["enc"]), D(one["W"]), rtol=1e-9, atol=1e-12)
        np.testing.assert_allclose(D(tied["c2"]), D(one["c2"]), rtol=1e-9, atol=1e-12)


def test_listed_layers_stay_the_same_objects():
    class Net:
        def __init__(self):
            self.a, self.b = Lin(dlarray(A0.copy()), dlarray(C1.copy())), Lin(dlarray(B0.copy()), dlarray(C2.copy()))
            self.layers = [self.a, self.b]

        def __call__(self, x):
            for layer in self.layers:
                x = layer(x)
            return x
    net, vel = Net(), None
    W, c1, Bm, c2 = A0.copy(), C1.copy(), B0.copy(), C2.copy()
    vs = [0.0] * 4

    def plain(W, c1, Bm, c2):
        return float((np.tanh(Bm @ np.tanh(W @ X0 + c1) + c2) ** 2).sum())
    for _ in range(3):
        _, g = dlfeval(loss_net, net, X0)
        net, vel = sgdmupdate(net, g, vel, 0.1, 0.9)
        vals = [W, c1, Bm, c2]
        gs = [numerical_gradient(plain, vals, k) for k in range(4)]
        for k in range(4):
            vs[k] = 0.9 * vs[k] - 0.1 * gs[k]
            vals[k] = vals[k] + vs[k]
        W, c1, Bm, c2 = vals
        assert net.a is net.layers[0] and net.b is net.layers[1]
        np.testing.assert_allclose(D(net.a.W), W, rtol=1e-6, atol=1e-8)
        np.testing.assert_allclose(D(net.b.W), Bm, rtol=1e-6, atol=1e-8)


def test_untied_parameters_are_updated_apart_as_before():
    p = {"enc": dlarray(A0.copy()), "dec": dlarray(A0.copy())}
    g = {"enc": dlarray(np.ones((3, 3))), "dec": dlarray(2 * np.ones((3, 3)))}
    q, v = sgdmupdate(p, g, None, 0.1, 0.9)
    assert q["enc"] is not q["dec"]
    np.testing.assert_allclose(D(q["enc"]), A0 - 0.1)
    np.testing.assert_allclose(D(q["dec"]), A0 - 0.2)
    # numbers equal by identity (small ints, one float constant) are not ties
    q = dlupdate(lambda a, b: a - b, {"a": 1.0, "b": 1.0}, {"a": 1.0, "b": 2.0})
    assert q == {"a": 0.0, "b": -1.0}


def test_a_tied_parameter_given_two_different_gradients_is_refused():
    W = dlarray(A0.copy())
    with pytest.raises(ValueError, match="tied weight"):
        sgdmupdate({"enc": W, "dec": W}, {"enc": dlarray(np.ones((3, 3))), "dec": dlarray(np.zeros((3, 3)))},
                   None)


# ------------------------------------------------------------------ a layer pointing back at the list

class CycleNet:
    def __init__(self):
        self.a, self.b = Lin(dlarray(A0.copy()), dlarray(C1.copy())), Lin(dlarray(B0.copy()), dlarray(C2.copy()))
        self.layers = [self.a, self.b]
        self.a.siblings = self.layers          # a -> layers -> a

    def __call__(self, x):
        for layer in self.layers:
            x = layer(x)
        return x


def loss_cycle(net, x):
    L = (net(x) ** 2).sum()
    return L, dlgradient(L, net.a.W)


def test_a_back_reference_to_the_list_counts_the_layer_at_both_places():
    # was: net.a.W counted at one place (the list's contents cached part-way through the cycle): zeros
    _, g = dlfeval(loss_cycle, CycleNet(), X0)
    want = numerical_gradient(lambda W: float((np.tanh(B0 @ np.tanh(W @ X0 + C1) + C2) ** 2).sum()), [A0], 0)
    assert np.abs(want).max() > 1e-3
    np.testing.assert_allclose(D(g), want, rtol=1e-6, atol=1e-8)


# ------------------------------------------------------------------ a view beside a tie

def loss_view(p, x):
    L = ((p["dec"] @ np.tanh(p["enc"] @ x)) ** 2).sum() + (p["t"] ** 3).sum()
    return L, dlgradient(L, p)


@pytest.mark.parametrize("view", ["T", "row", "reshape", "same_data"])
def test_a_view_of_a_tied_array_is_refused(view):
    # was: summed without the view's part (plain Python moves W.T with W)
    a = A0.copy()
    W = dlarray(a)
    t = {"T": lambda: W.T, "row": lambda: W[0], "reshape": lambda: W.reshape(9), "same_data": lambda: dlarray(a)}[view]()
    with pytest.raises(SctError, match="shares its memory") as info:
        dlfeval(loss_view, {"enc": W, "dec": W, "t": t}, X0)
    assert "test_tied_training_s50.py" in str(info.value)


def test_a_tied_array_beside_a_plain_copy_of_its_view_runs():
    W = dlarray(A0.copy())
    p = {"enc": W, "dec": W, "t": dlarray(A0.T.copy())}
    _, g = dlfeval(loss_view, p, X0)
    want = numerical_gradient(lambda W: float(((W @ np.tanh(W @ X0)) ** 2).sum()), [A0], 0)
    np.testing.assert_allclose(D(g["enc"]), want, rtol=1e-6, atol=1e-8)
    np.testing.assert_allclose(D(g["t"]), 3 * A0.T ** 2, rtol=1e-12)


# ------------------------------------------------------------------ false refusals

def loss_dict(p, X):
    L = ((p["dec"] @ np.tanh(p["enc"] @ X + p["b"])) ** 2).sum()
    return L, dlgradient(L, p)


def test_a_tied_model_with_a_dlarray_input_runs():
    # was: refused with the tie's message (X a dlarray not differentiated by)
    W = dlarray(A0.copy())
    p = {"enc": W, "dec": W, "b": dlarray(C1.copy())}
    want = numerical_gradient(lambda W: float(((W @ np.tanh(W @ X0 + C1)) ** 2).sum()), [A0], 0)
    for X in (X0, dlarray(X0.copy()), dlarray(X0.copy())):
        L, g = dlfeval(loss_dict, p, X)
        assert np.isclose(float(D(L)), float(((A0 @ np.tanh(A0 @ X0 + C1)) ** 2).sum()))
        np.testing.assert_allclose(D(g["enc"]), want, rtol=1e-6, atol=1e-8)
        np.testing.assert_allclose(D(g["dec"]), want, rtol=1e-6, atol=1e-8)


def loss_dict_input(p, X):
    L = ((p["dec"] @ np.tanh(p["enc"] @ X[0] + p["b"])) ** 2).sum()
    return L, dlgradient(L, p)


def test_an_input_holding_the_tied_array_stays_refused():
    W = dlarray(A0.copy())
    p = {"enc": W, "dec": W, "b": dlarray(C1.copy())}
    with pytest.raises(SctError, match="more than one place"):
        dlfeval(loss_dict_input, p, [dlarray(X0.copy()), W])


def loss_table(p, idx):
    h = np.tanh(p["embed"][idx] + p["pe"])
    L = ((h @ p["head"].T) ** 2).sum()
    return L, dlgradient(L, p)


def test_a_tied_dict_with_a_fixed_float_table_runs():
    # was: refused (the plain float leaf took the path without the tie's sum)
    E0 = RNG.standard_normal((5, 3))
    PE = np.linspace(0, 1, 9).reshape(3, 3)
    idx = np.array([1, 3, 1])
    E = dlarray(E0.copy())

    def plain(E):
        h = np.tanh(E[idx] + PE)
        return float(((h @ E.T) ** 2).sum())
    L, g = dlfeval(loss_table, {"embed": E, "head": E, "pe": PE.copy()}, idx)
    assert np.isclose(float(D(L)), plain(E0))
    want = numerical_gradient(plain, [E0], 0)
    np.testing.assert_allclose(D(g["embed"]), want, rtol=1e-6, atol=1e-8)
    np.testing.assert_allclose(D(g["head"]), want, rtol=1e-6, atol=1e-8)
    np.testing.assert_array_equal(D(g["pe"]), np.zeros((3, 3)))


def test_a_fixed_table_that_is_the_tied_arrays_memory_is_refused():
    E0 = RNG.standard_normal((3, 3))
    E = dlarray(E0)
    with pytest.raises(SctError, match="shares its memory"):
        dlfeval(loss_table, {"embed": E, "head": E, "pe": E0}, np.array([0, 1, 2]))


def loss_scaled(p, X):
    L = p["s"] * ((p["dec"] @ np.tanh(p["enc"] @ X)) ** 2).sum()
    return L, dlgradient(L, p)


def test_a_tied_dict_with_a_number_and_a_dlarray_input_and_a_tied_model_with_one():
    W = dlarray(A0.copy())
    _, g = dlfeval(loss_scaled, {"enc": W, "dec": W, "s": 2.0}, dlarray(X0.copy()))
    want = numerical_gradient(lambda W: 2.0 * float(((W @ np.tanh(W @ X0)) ** 2).sum()), [A0], 0)
    np.testing.assert_allclose(D(g["enc"]), want, rtol=1e-6, atol=1e-8)
    assert float(D(g["s"])) == 0.0
    _, g = dlfeval(loss_net, TiedHead(), dlarray(X0.copy()))
    gs = ref_grads(A0, C1, C2)
    for got, want in [(g.embed.W, gs[0]), (g.head.W, gs[0]), (g.embed.b, gs[1]), (g.head.b, gs[2])]:
        np.testing.assert_allclose(D(got), want, rtol=1e-6, atol=1e-8)
