"""What dlfeval returns and leaves in the caller's objects has the types plain Python gives (red54u W1, W2, F2, F4):
values stored into the caller's state dict, the results returned."""
import json

import numpy as np
import pytest

import sct
from sct import dlarray, dlfeval, dlgradient, extractdata
from tests.gradcheck import D, numerical_gradient

P0 = np.array([0.3, -0.2])


def _fd(loss_of, p0=P0):
    return numerical_gradient(lambda q: float(loss_of(q)), [np.array(p0, dtype=float)], 0)


# ---- W2: the types of values stored into the caller's state dict -------------------------------------------

def w2_compare(p, state):
    h = np.tanh(p * 2.0)
    state["active"] = h > 0
    state["any"] = h.sum() > 0
    loss = np.sum(h)
    return loss, dlgradient(loss, p)


def w2_number(p, state):
    h = np.tanh(p * 2.0)
    state["active"] = h > 0
    state["total"] = np.float64(h.sum())
    state["f"] = float(h.sum())
    state["it"] = h.sum().item()
    loss = np.sum(h)
    return loss, dlgradient(loss, p)


@pytest.mark.parametrize("fn", [w2_compare, w2_number])
def test_state_store_types_as_python(fn):
    st = {}
    loss, g = dlfeval(fn, dlarray(P0), st)
    h = np.tanh(dlarray(P0) * 2.0)          # plain Python, eagerly
    expect = {"active": h > 0, "any": h.sum() > 0, "total": np.float64(h.sum()), "f": float(h.sum()),
              "it": h.sum().item()}
    assert set(st) <= set(expect) and st
    for k, v in st.items():
        assert type(v) is type(expect[k]), (k, type(v), type(expect[k]))
        np.testing.assert_array_equal(D(v), D(expect[k]))
        assert np.asarray(D(v)).dtype == np.asarray(D(expect[k])).dtype, k
    np.testing.assert_allclose(D(loss), np.sum(np.tanh(P0 * 2.0)))
    np.testing.assert_allclose(D(g), _fd(lambda q: np.sum(np.tanh(q * 2.0))), rtol=1e-6, atol=1e-8)


# ---- F4: a same-file helper's result stored into the caller's state ----------------------------------------

def cell(p, h):
    return np.tanh(p * 2.0 + 0.5 * h)


def core(w, x, h):
    hn = np.tanh(w["w"] * x + 0.5 * h)
    return np.sum(hn ** 2), hn


def f4_helper(p, state):
    hn = cell(p, state["h"])
    state["h"] = hn
    loss = np.sum(hn ** 2)
    return loss, dlgradient(loss, p)


def f4_alias(p, state):
    loss, hn = core(p, 0.7, state["h"])
    new_state = state
    new_state["h"] = hn
    return loss, dlgradient(loss, p["w"]), new_state


@pytest.mark.parametrize("fn", [f4_helper, f4_alias])
@pytest.mark.parametrize("accel", [False, True])
def test_helper_result_stored_in_state(fn, accel):
    f = sct.dlaccelerate(fn) if accel else fn
    st = {"h": np.zeros(2)}
    h_np = np.zeros(2)
    for _ in range(3):
        out = dlfeval(f, dlarray(P0) if fn is f4_helper else {"w": dlarray(P0)}, st)
        h_before = h_np
        if fn is f4_helper:
            h_np = np.tanh(P0 * 2.0 + 0.5 * h_before)
            loss_of = lambda q: np.sum(np.tanh(q * 2.0 + 0.5 * h_before) ** 2)
        else:
            h_np = np.tanh(P0 * 0.7 + 0.5 * h_before)
            loss_of = lambda q: np.sum(np.tanh(q * 0.7 + 0.5 * h_before) ** 2)
            assert out[2] is st                 # (the caller's own dict, as Python returns it)
        assert type(st["h"]) is dlarray         # (an operation on a dlarray: one in Python)
        np.testing.assert_allclose(D(st["h"]), h_np, rtol=1e-12)
        np.testing.assert_allclose(D(out[0]), loss_of(P0), rtol=1e-12)
        np.testing.assert_allclose(D(out[1]), _fd(loss_of), rtol=1e-6, atol=1e-8)


# ---- F2: a log kept in the caller's state ------------------------------------------------------------------

def ex(a):
    return sct.extractdata(a)


def f2_log(p, state):
    loss = np.sum(p ** 2)
    state["step"] += 1
    state["last"] = ex(loss)
    state["hist"] = state["hist"] + [float(loss)]
    return loss, dlgradient(loss, p)


def test_log_in_state():
    st = {"step": 0, "last": None, "hist": []}
    for i in range(2):
        loss, g = dlfeval(f2_log, dlarray(P0), st)
    expect_last = extractdata(np.sum(dlarray(P0) ** 2))
    assert st["step"] == 2 and type(st["step"]) is int
    assert type(st["last"]) is type(expect_last) and np.asarray(st["last"]) == np.sum(P0 ** 2)
    assert type(st["hist"]) is list and [type(v) for v in st["hist"]] == [float, float]
    assert st["hist"] == [float(np.sum(P0 ** 2))] * 2
    json.dumps({"hist": st["hist"]})
    np.testing.assert_allclose(D(g), _fd(lambda q: np.sum(q ** 2)), rtol=1e-6, atol=1e-8)


# ---- W1: Python's numbers returned from the model function, the state dict returned -----------------------

def w1_copy(p, state):
    loss = np.sum(p ** 2) * state["scale"]
    logged = float(loss)
    state = dict(state)
    state["step"] = state["step"] + 1
    return loss, dlgradient(loss, p), logged, state


def w1_numbers(p, lr):
    loss = np.sum(np.sin(p) * p)
    return loss, dlgradient(loss, p), lr * 0.5, float(loss), loss.item(), 1.0, np.float64(2.5), \
        {"lr": lr, "n": 3, "w": 0.25}, [2.5]


def w1_same(p, st):
    loss = np.sum(p ** 2) * st["scale"]
    return loss, dlgradient(loss, p), st


@pytest.mark.parametrize("accel", [False, True])
def test_floats_returned_as_python(accel):
    f = sct.dlaccelerate(w1_copy) if accel else w1_copy
    state = {"scale": 0.5, "step": 0, "arr": np.ones(2)}
    for i in range(3):
        loss, g, logged, state = dlfeval(f, dlarray(P0), state)
        assert type(loss) is dlarray and type(g) is dlarray      # (computed from dlarrays: dlarrays)
        assert type(logged) is float and logged == pytest.approx(0.5 * np.sum(P0 ** 2), rel=1e-14)
        assert type(state["scale"]) is float and state["scale"] == 0.5 and state["step"] == i + 1
        assert type(state["step"]) is int and type(state["arr"]) is np.ndarray
        json.dumps({k: v for k, v in state.items() if k != "arr"})
        np.testing.assert_allclose(D(loss), 0.5 * np.sum(P0 ** 2), rtol=1e-14)
        np.testing.assert_allclose(D(g), _fd(lambda q: 0.5 * np.sum(q ** 2)), rtol=1e-6, atol=1e-8)
    if accel:
        assert f.HitRate > 60          # (one compilation: the state's kinds stay the same, was 33%)

    for _ in range(2):
        out = dlfeval(w1_numbers, dlarray(P0), 0.1)
        lval = np.sum(np.sin(P0) * P0)
        assert [type(v) for v in out[2:8]] == [float, float, float, float, np.float64, dict]
        assert out[2] == 0.05 and out[3] == pytest.approx(lval, rel=1e-14) and out[4] == pytest.approx(lval)
        assert out[5] == 1.0 and out[6] == 2.5
        assert out[7] == {"lr": 0.1, "n": 3, "w": 0.25} and [type(v) for v in out[7].values()] == [float, int, float]
        assert out[8] == [2.5] and type(out[8][0]) is float
        assert type(out[0]) is dlarray and np.asarray(D(out[0])) == pytest.approx(lval)
        np.testing.assert_allclose(D(out[1]), _fd(lambda q: np.sum(np.sin(q) * q)), rtol=1e-6, atol=1e-8)


@pytest.mark.parametrize("accel", [False, True])
def test_callers_dict_returned_itself(accel):
    f = sct.dlaccelerate(w1_same) if accel else w1_same
    st = {"scale": 0.5, "n": 2, "arr": np.ones(2)}
    for _ in range(3):
        loss, g, out = dlfeval(f, dlarray(P0), st)
        assert out is st                            # (Python returns the object it was given)
        assert type(st["scale"]) is float and type(st["arr"]) is np.ndarray
        np.testing.assert_allclose(D(g), _fd(lambda q: 0.5 * np.sum(q ** 2)), rtol=1e-6, atol=1e-8)


# ---- what stays refused: a helper whose returns differ in type ---------------------------------------------

def as_plain(h):
    return np.asarray(h) * 2.0


def mixed(h, flag):
    if flag:
        return h * 2.0
    return np.ones(2)


def f_helpers(p, state):
    h = np.tanh(p)
    state["plain"] = as_plain(h)
    loss = np.sum(h)
    return loss, dlgradient(loss, p)


def f_mixed(p, state):
    h = np.tanh(p)
    state["m"] = mixed(h, state["flag"])
    loss = np.sum(h)
    return loss, dlgradient(loss, p)


def test_helper_types_read_from_source():
    st = {}
    loss, g = dlfeval(f_helpers, dlarray(P0), st)
    assert type(st["plain"]) is np.ndarray           # (np.asarray of a dlarray: numpy's ndarray in Python)
    np.testing.assert_allclose(st["plain"], np.tanh(P0) * 2.0, rtol=1e-14)
    np.testing.assert_allclose(D(g), _fd(lambda q: np.sum(np.tanh(q))), rtol=1e-6, atol=1e-8)
    st = {"flag": True}
    with pytest.raises(sct.SctError, match=r"line \d+: at `state\[\"m\"\] = mixed\(h, state\[\"flag\"\]\)`.*not known"):
        dlfeval(f_mixed, dlarray(P0), st)
