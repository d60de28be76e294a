"""The written dict or object also given as a view of it, an iterator over it, or a method bound to it
(red team red2st53 F4/F5): ``state["rnn"]["h"] = h`` read back through ``state["rnn"].values()``,
``iter(...)``, ``state["rnn"].get``; ``c.h = h`` read back through ``vars(c).get``, ``c.__getattribute__``,
``vars(c).values()``, ``vars(c)``.  Was: half the gradient (the read through the other holder taken for a
constant), or a ValueError in the sweep; now refused when called, naming the line of the write."""
import operator

import numpy as np
import pytest

from sct import SctError, dlarray, dlfeval, dlgradient, extractdata

W0 = np.array([[0.5, -1.0], [0.3, 0.8]])
X = np.array([[1.0, 2.0]])


def _state_read(o, how):
    if how == "first_item_value":
        return list(o)[0][1]
    if how == "first":
        return list(o)[0]
    if how == "next":
        return next(o)
    return o("h")


def f_state(p, state, o, how, x):
    h = np.tanh(x @ p["W"])
    state["rnn"]["h"] = h                                   # WRITE
    L = np.sum(h ** 2) + np.sum(_state_read(o, how) ** 2)
    return L, dlgradient(L, p)


STATE_FORMS = {
    "items view": (lambda d: d.items(), "first_item_value"),
    "values view": (lambda d: d.values(), "first"),
    "values iterator": (lambda d: iter(d.values()), "next"),
    "items iterator": (lambda d: iter(d.keys()), "skip"),
    "bound get": (lambda d: d.get, "call"),
    "bound __getitem__": (lambda d: d.__getitem__, "call"),
}


@pytest.mark.parametrize("form", sorted(STATE_FORMS))
def test_state_dict_reached_through_view_refused(form):
    make, how = STATE_FORMS[form]
    if how == "skip":           # (keys: reaches the dict; the function reads it through the values form)
        make, how = (lambda d: iter(d.values())), "next"
    state = {"rnn": {"h": np.zeros((1, 2))}}
    with pytest.raises(SctError) as info:
        dlfeval(f_state, {"W": dlarray(W0)}, state, make(state["rnn"]), how, X)
    assert "test_alias_views_s53.py" in str(info.value), str(info.value)


def f_cell(c, o, how, x):
    h = np.tanh(x @ c.W)
    c.h = h                                                 # WRITE
    read = o("h") if how == "call" else list(o)[1] if how == "values" else o["h"]
    L = np.sum(h ** 2) + np.sum(read ** 2)
    return L, dlgradient(L, c.W)


class Cell:
    def __init__(self, W):
        self.W = W
        self.h = np.zeros((1, 2))


CELL_FORMS = {
    "vars get": (lambda c: vars(c).get, "call"),
    "__getattribute__": (lambda c: c.__getattribute__, "call"),
    "vars values": (lambda c: vars(c).values(), "values"),
    "vars itself": (lambda c: vars(c), "item"),
}


@pytest.mark.parametrize("form", sorted(CELL_FORMS))
def test_object_reached_through_its_dict_refused(form):
    make, how = CELL_FORMS[form]
    c = Cell(dlarray(W0))
    with pytest.raises(SctError) as info:
        dlfeval(f_cell, c, make(c), how, X)
    assert "test_alias_views_s53.py" in str(info.value), str(info.value)


def f_other(c, o, x):
    h = np.tanh(x @ c.W)
    c.h = h
    L = np.sum(h ** 2) + np.sum(o("b") ** 2)
    return L, dlgradient(L, c.W)


def test_methods_bound_to_other_objects_stay_exact():
    """A bound builtin of another dict (a config's ``get``) is not the written object: exact as before."""
    c = Cell(dlarray(W0))
    cfg = {"b": np.array([0.5, 0.25])}
    L, g = dlfeval(f_other, c, cfg.get, X)
    t = np.tanh(X @ W0)
    assert np.isclose(float(extractdata(L)), np.sum(t ** 2) + 0.3125)
    assert np.allclose(extractdata(g), X.T @ (2 * t * (1 - t ** 2)))
    state, other = {"rnn": {"h": np.zeros((1, 2))}}, {"h": np.ones((1, 2))}
    L, g = dlfeval(f_state, {"W": dlarray(W0)}, state, other.values(), "first", X)
    assert np.isclose(float(extractdata(L)), np.sum(t ** 2) + 2.0)
    assert np.allclose(extractdata(g["W"]), X.T @ (2 * t * (1 - t ** 2)))
    assert state["rnn"]["h"] is not None and np.allclose(np.asarray(state["rnn"]["h"]), t)
