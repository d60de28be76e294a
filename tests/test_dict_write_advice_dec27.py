"""A refused write into a dict held by an argument (MATLAB's model-function state,
``state["batchnorm1"]["TrainedMean"] = m``) says what to write for a dict: new dicts, which sct follows
(was: the advice for an array's row, ``state['batchnorm1', ...] = value``, which a dict does not take).
The advice, followed, runs and gives Python's values."""
import numpy as np
import pytest

from sct import CompileError, dlarray, dlfeval, dlgradient


def written_into_argument(x, state):
    y = np.sum(x ** 2)
    state["bn"]["m"] = x * 2
    return y, dlgradient(y, x), state


def as_advised(x, state):
    y = np.sum(x ** 2)
    item = state["bn"].copy()
    item["m"] = x * 2
    state = {**state, "bn": item}
    return y, dlgradient(y, x), state


def written_in_helper(x, state):
    state["bn"]["m"] = x * 2
    return state


def differentiated_twice(x, state):      # (a gradient differentiated again: the helper stays a call)
    state = written_in_helper(x, state)
    y = np.sum(x ** 2) * np.sum(state["bn"]["m"])
    g = dlgradient(y, x, EnableHigherDerivatives=True)
    z = np.sum(g)
    return z, dlgradient(z, x)


def test_advice_names_new_dicts():
    with pytest.raises(CompileError) as info:
        dlfeval(differentiated_twice, dlarray(np.array([1.0, 2.0])), {"bn": {"m": np.zeros(2)}})
    text = str(info.value)
    assert "item = state['bn'].copy()" in text and "item['m'] = value" in text
    # (types57, red57a R1: the advice returns the copy and stores it in the caller; a rebinding
    # ``state = {**state, 'bn': item}`` alone leaves the caller's state as it was)
    assert "return ..., item" in text and "state['bn'] = item` after dlfeval" in text
    assert "['bn', ...]" not in text


def test_written_into_the_argument_runs_as_python():
    # (f4fix52: a write into a dict dlfeval was given is made into the caller's dict too, as in Python)
    state = {"bn": {"m": np.zeros(2)}}
    inner = state["bn"]
    y, g, out = dlfeval(written_into_argument, dlarray(np.array([1.0, 2.0])), state)
    np.testing.assert_allclose(np.asarray(g.data), [2.0, 4.0])
    assert out is state and state["bn"] is inner
    np.testing.assert_allclose(np.asarray(state["bn"]["m"].data), [2.0, 4.0])


def test_advice_followed_runs():
    state = {"bn": {"m": np.zeros(2), "v": np.ones(2)}, "k": 3}
    y, g, new = dlfeval(as_advised, dlarray(np.array([1.0, 2.0])), state)
    np.testing.assert_allclose(float(y), 5.0)
    np.testing.assert_allclose(np.asarray(g.data), [2.0, 4.0])
    np.testing.assert_allclose(np.asarray(getattr(new["bn"]["m"], "data", new["bn"]["m"])), [2.0, 4.0])
    assert new["k"] == 3
    np.testing.assert_array_equal(state["bn"]["m"], [0.0, 0.0])       # the caller's dict as it was
