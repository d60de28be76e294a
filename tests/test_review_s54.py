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
