"""Stop 48: a helper taking dlgradient with respect to two parameters, called in a loop whose
later statements compute one argument from the other for the next pass (``gw, gv = h(w, v)`` then
``w = w + ...; v = w * 3``).  Was: read as loop-carried state (each computed from the other's
earlier value), not linked, and the helper's partial derivative returned where MATLAB's trace (and
the same lines written in the function dlfeval runs) follows the path from w through v: 8.80 where
18.51 is right.  Refused now at the call; an argument computed from the other's earlier value runs.
"""
import numpy as np
import pytest

import sct
from sct import CompileError, dlarray, dlfeval, dlgradient

W0 = np.array([0.3, -0.7])
V0 = np.array([1.1, 0.4])


def h(w, v):
    y = np.sum(np.sin(w) * v ** 2)
    return dlgradient(y, w, v)


def tail_for(w, v):
    t = 0.0
    for _ in range(2):
        gw, gv = h(w, v)
        t = t + np.sum(gw) + np.sum(gv)
        w = w + 0.0 * gw
        v = w * 3.0
    return t


def tail_inline(w, v):
    t = 0.0
    for _ in range(2):
        y = np.sum(np.sin(w) * v ** 2)
        gw, gv = dlgradient(y, w, v)
        t = t + np.sum(gw) + np.sum(gv)
        w = w + 0.0 * gw
        v = w * 3.0
    return t


def tail_while(w, v):
    t, k = 0.0, 0
    while k < 2:
        gw, gv = h(w, v)
        t = t + np.sum(gw) + np.sum(gv)
        w = w - 0.1 * gw
        k += 1
        if k > 0:
            v = np.tanh(w) * 3.0
    return t


def tail_outer_loop(w, v):
    t = 0.0
    for _ in range(2):
        for _ in range(2):
            gw, gv = h(w, v)
            t = t + np.sum(gw) + np.sum(gv)
        w = w - 0.1 * gw
        u = w * 3.0
        v = u + 1.0
    return t


def earlier_value(w, v):
    # v computed from w's value before w is rebound: at the call, v and w are values of their own
    t = 0.0
    for _ in range(2):
        gw, gv = h(w, v)
        t = t + np.sum(gw) + np.sum(gv)
        v = w * 3.0
        w = w - 0.1 * gw
    return t


def _expected_tail():
    """tail_for's value with the whole derivative (v = 3w on the second pass), by hand."""
    w, v = W0, V0
    t = np.sum(np.cos(w) * v ** 2) + np.sum(2 * np.sin(w) * v)
    v = 3 * w
    return t + np.sum(9 * w ** 2 * np.cos(w) + 18 * w * np.sin(w)) + np.sum(2 * np.sin(w) * v)


def _expected_earlier():
    w, v, t = W0, V0, 0.0
    for _ in range(2):
        gw, gv = np.cos(w) * v ** 2, 2 * np.sin(w) * v
        t = t + np.sum(gw) + np.sum(gv)
        v = w * 3.0
        w = w - 0.1 * gw
    return t


def test_inline_code_follows_the_path():
    sct.clear_cache()
    assert abs(float(dlfeval(tail_inline, dlarray(W0), dlarray(V0))) - _expected_tail()) < 1e-12


@pytest.mark.parametrize("fun", [tail_for, tail_while, tail_outer_loop], ids=lambda f: f.__name__)
def test_argument_computed_for_the_next_pass_is_refused(fun):
    sct.clear_cache()
    with pytest.raises(CompileError) as info:
        dlfeval(fun, dlarray(W0), dlarray(V0))
    text = str(info.value)
    assert __file__ in text and "h() takes dlgradient" in text and "'v' a value computed from" in text
    assert "internal error" not in text


def test_argument_computed_from_an_earlier_value_runs():
    sct.clear_cache()
    assert abs(float(dlfeval(earlier_value, dlarray(W0), dlarray(V0))) - _expected_earlier()) < 1e-12
