"""Stop 54's own review fixes (not a helper's): each test fails before its fix."""
import numpy as np

from sct import dlarray, dlfeval, dlgradient
from tests.gradcheck import D, assert_close, numerical_gradient


def _nested_model(p, state, x):
    h = np.tanh(x @ p["W"])
    state["bn"]["m"] = np.asarray(h)
    state["bn"]["v"] = state["bn"]["m"] * 2.0
    state["bn"]["w"] = np.array(h) * 2.0
    state["bn"]["z"] = np.ascontiguousarray(h, dtype=float) + 1.0
    L = np.sum(h ** 2) + np.sum(state["bn"]["v"])
    return L, dlgradient(L, p)


def test_ndarray_of_a_traced_value_stored_into_the_callers_state_is_an_ndarray():
    """red2st53 F1: np.asarray(h) / np.array(h) of a dlarray h is an ndarray in Python; sct stored a dlarray
    into the caller's state dict (nested and flat forms).  Values and gradient unchanged."""
    x = np.array([[1.0, 2.0], [0.3, -0.4]])
    W = np.array([[0.5, -0.2], [0.1, 0.7]])
    s = {"bn": {"m": np.zeros(2), "v": np.zeros(2), "w": 0, "z": 0}}
    L, g = dlfeval(_nested_model, {"W": dlarray(W)}, s, x)
    assert {k: type(v) for k, v in s["bn"].items()} == dict.fromkeys("mvwz", np.ndarray)
    h = np.tanh(x @ W)
    assert_close(s["bn"]["m"], h)
    assert_close(s["bn"]["v"], 2 * h)
    assert_close(s["bn"]["z"], h + 1)

    def plain(W):
        h = np.tanh(x @ W)
        return np.sum(h ** 2) + np.sum(2 * h)
    assert_close(D(L), plain(W))
    assert_close(D(g["W"]), numerical_gradient(plain, [W], 0))

    def flat(p, state, x):
        h = np.tanh(x @ p["W"])
        state["m"] = np.asarray(h)
        L = np.sum(h ** 2)
        return L, dlgradient(L, p)
    s = {"m": 0}
    dlfeval(flat, {"W": dlarray(W)}, s, x)
    assert type(s["m"]) is np.ndarray
    assert_close(s["m"], np.tanh(x @ W))


def _adam_like(p, state, x):
    h = np.tanh(x @ p["W"] + state["rnn"]["h"] @ p["U"])
    state["rnn"]["h"] = h
    L = np.sum(h ** 2)
    g = dlgradient(L, p)
    state["opt"]["m"] = 0.9 * state["opt"]["m"] + 0.1 * g["W"]
    state["opt"]["t"] = state["opt"]["t"] + 1
    return L, g


def test_an_optimiser_moment_of_a_gradient_kept_in_the_callers_state():
    """red2st53 a19: a gradient's item (a dlarray in Python) mixed into the state's moment was of unknown type:
    refused when stored.  Now stored as the dlarray Python leaves; three steps against finite differences."""
    W = np.array([[0.5, -1.0], [0.3, 0.8]])
    U = np.array([[0.2, 0.1], [-0.3, 0.4]])
    X = np.array([[1.0, 2.0], [0.3, -0.5], [0.7, 0.1]])
    s = {"rnn": {"h": np.array([[0.1, -0.2]])}, "opt": {"m": np.zeros((2, 2)), "t": 0}}
    m, h = np.zeros((2, 2)), np.array([[0.1, -0.2]])
    for step in range(3):
        L, g = dlfeval(_adam_like, {"W": dlarray(W), "U": dlarray(U)}, s, X)
        gw = numerical_gradient(lambda w: np.sum(np.tanh(X @ w + h @ U) ** 2), [W], 0)
        h = np.tanh(X @ W + h @ U)
        m = 0.9 * m + 0.1 * gw
        assert_close(D(g["W"]), gw)
        assert type(s["opt"]["m"]).__name__ == "dlarray" and s["opt"]["t"] == step + 1
        assert_close(D(s["opt"]["m"]), m)
        assert_close(D(s["rnn"]["h"]), h)
        W = W - 0.1 * D(g["W"])
