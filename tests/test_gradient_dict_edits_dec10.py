"""Editing the gradients of a dict of parameters in the function that took them (weight decay,
clipping, scaling), written the ways users write it: a loop over the keys writing each entry,
``list(g)``, ``g.keys()``, ``*=`` on an entry.  The gradient of a dict is a new dict of its keys,
so a loop over its keys may write its entries (was: refused as a write into what the loop walks;
``g.keys()`` crashed the dependence pass)."""
from __future__ import annotations

import numpy as np
import pytest

from sct import CompileError, dlarray, dlfeval, dlgradient

from gradcheck import D

pytestmark = pytest.mark.usefixtures("fresh_cache")

X = np.array([0.5, -1.0, 2.0])


def loss_of(p):
    return np.sum(np.tanh(p["W"] @ X + p["b"]) ** 2)


def params():
    rng = np.random.default_rng(0)
    return {"W": dlarray(0.5 * rng.standard_normal((2, 3))), "b": dlarray(0.1 * rng.standard_normal(2))}


def plain_gradients(p):
    """The gradients by hand: L = sum(tanh(W x + b)^2)."""
    W, b = D(p["W"]), D(p["b"])
    h = np.tanh(W @ X + b)
    dz = 2 * h * (1 - h ** 2)
    return {"W": np.outer(dz, X), "b": dz}


def clip_loop(p):
    loss = loss_of(p)
    g = dlgradient(loss, p)
    for k in g:
        g[k] = np.clip(g[k], -0.05, 0.05)
    return loss, g


def decay_keys(p):
    loss = loss_of(p)
    g = dlgradient(loss, p)
    for k in g.keys():
        g[k] = g[k] + 0.01 * p[k]
    return loss, g


def scale_list(p):
    loss = loss_of(p)
    g = dlgradient(loss, p)
    for name in list(g):
        g[name] *= 0.5
    return loss, g


def scale_items(p):
    loss = loss_of(p)
    grads = dlgradient(loss, p)
    for name, value in grads.items():
        grads[name] = value * 2.0
    return loss, grads


@pytest.mark.parametrize("fun, edit", [
    (clip_loop, lambda g, p: np.clip(g, -0.05, 0.05)),
    (decay_keys, lambda g, p: g + 0.01 * p),
    (scale_list, lambda g, p: 0.5 * g),
    (scale_items, lambda g, p: 2.0 * g),
], ids=["clip", "decay", "scale_list", "scale_items"])
def test_editing_the_gradients_of_a_dict(fun, edit):
    p = params()
    loss, g = dlfeval(fun, p)
    expected = plain_gradients(p)
    assert set(g) == {"W", "b"}
    for k in ("W", "b"):
        np.testing.assert_allclose(D(g[k]), edit(expected[k], D(p[k])), rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(D(loss), np.sum(np.tanh(D(p["W"]) @ X + D(p["b"])) ** 2))


def test_a_list_walked_while_written_is_still_refused():
    """Writing into a list while a loop walks its items changes what the loop reads next."""
    def walk(x):
        xs = [x, 2 * x, 3 * x]
        total = 0.0
        for v in xs:
            xs[1] = v * 10
            total = total + np.sum(v)
        return total, dlgradient(total, x)

    with pytest.raises(CompileError, match="while a for loop walks xs"):
        dlfeval(walk, dlarray(np.ones(2)))


def test_the_gradient_of_a_second_argument_is_not_taken_for_a_dict():
    """``dlgradient(y, W, b)`` gives a tuple: writing into it is a tuple write, not a dict edit."""
    def two(W, b):
        loss = np.sum(W * b)
        g = dlgradient(loss, W, b)
        gW, gb = g
        return loss, gW, gb

    loss, gW, gb = dlfeval(two, dlarray(np.ones(2)), dlarray(np.arange(2.0)))
    np.testing.assert_allclose(D(gW), [0.0, 1.0])
    np.testing.assert_allclose(D(gb), [1.0, 1.0])


HISTORY: list = []


def logs_traced_loss(w):
    loss = np.sum(w ** 2)
    HISTORY.append(loss)
    return loss, dlgradient(loss, w)


def logs_plain_loss(w):
    from sct import extractdata
    loss = np.sum(w ** 2)
    HISTORY.append(float(extractdata(loss)))
    return loss, dlgradient(loss, w)


def test_logging_the_loss_into_an_outside_list():
    """A plain value appended to a list from outside works (once per call); a traced one is refused
    with advice that fits a list (not "return the new values from HISTORY.append()")."""
    HISTORY.clear()
    for _ in range(2):
        loss, g = dlfeval(logs_plain_loss, dlarray(np.array([1.0, 2.0])))
    assert HISTORY == [5.0, 5.0]
    np.testing.assert_allclose(D(g), [2.0, 4.0])
    with pytest.raises(CompileError, match=r"line \d+: HISTORY\.append\(\.\.\.\).*"
                                           r"`HISTORY\.append\(float\(extractdata\(x\)\)\)`"):
        dlfeval(logs_traced_loss, dlarray(np.array([1.0, 2.0])))
