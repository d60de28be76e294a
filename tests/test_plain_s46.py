"""Stop 46: a helper compiled on its own, given an item (an array) of a structure computed from a
dlfeval argument that holds a plain float value beside dlarrays, took dlgradient with respect to it
(the helper cannot tell the plain item from a traced one): the call is now refused at the user's line,
as a dlgradient of it in the function's own code is.  Items of the argument as given still run."""
import numpy as np
import pytest

import sct
from sct import dlarray, dlfeval, dlgradient

from gradcheck import assert_close, numerical_gradient


def h(v, W):
    return dlgradient(np.sum(np.sin(v) * W), v)


def step(v, W):
    g = dlgradient(np.sum(np.sin(v) * W), v)
    return v - 0.1 * g


def copied_then_stepped(p, W):
    q = dict(p)
    z = q["z"]
    for _ in range(3):
        z = step(z, W)
    return z


def comprehension_item(p, W):
    q = {k: v * 1.0 for k, v in p.items()}
    z = q["z"]
    out = [h(z, W) for _ in range(2)]
    return out[0]


def item_in_while(p, W):
    q = dict(p)
    acc, i = 0.0, 0
    while i < 2:
        acc = acc + h(q["z"], W)
        i += 1
    return acc


class Model:
    def grad(self, v, W):
        return dlgradient(np.sum(np.sin(v) * W), v)


def method_call(p, W):
    m, q, r = Model(), dict(p), 0.0
    for _ in range(2):
        r = r + m.grad(q["z"], W)
    return r


def inner(q, W):
    r = 0.0
    for _ in range(2):
        r = r + h(q["z"], W)
    return r


def through_a_helper(p, W):
    return inner(dict(p), W)


def mixed():
    return {"W": dlarray(np.arange(3.0)), "z": np.arange(3.0)}


@pytest.mark.parametrize("fn, callee, line", [
    (copied_then_stepped, "step", 27), (comprehension_item, "h", 34), (item_in_while, "h", 42),
    (method_call, "grad", 55), (through_a_helper, "h", 62)])
def test_helper_given_item_of_a_derived_mixed_structure_refused(fn, callee, line):
    with pytest.raises(sct.CompileError) as info:
        dlfeval(fn, mixed(), dlarray(np.ones(3)))
    text = str(info.value)
    assert f"test_plain_s46.py, line {line}" in text and f"{callee}()" in text and "plain" in text, text


def given_item(p, W):
    r = 0.0
    for _ in range(2):
        r = r + h(p["W"], W)
    return r


def given_item_bound(p, W):
    v = p["W"]
    return h(v, W) + h(v, W)


@pytest.mark.parametrize("fn", [given_item, given_item_bound])
def test_dlarray_item_of_the_argument_as_given_runs(fn):
    p, W = mixed(), np.array([0.5, -1.0, 2.0])
    got = np.asarray(dlfeval(fn, p, dlarray(W)))
    # h returns d/dv sum(sin(v) * W) = cos(v) * W, twice
    expected = 2 * numerical_gradient(lambda v: np.sum(np.sin(v) * W), [np.arange(3.0)], 0)
    assert_close(got.ravel(), np.ravel(expected), rtol=1e-6, atol=1e-7)
    assert_close(got.ravel(), 2 * np.cos(np.arange(3.0)) * W)


def dense(h, w, b=None, act=None):
    z = h.dot(w) + b
    return act(z) if act is not None else z


def sqnorm(p):
    if isinstance(p, dict):
        return sum(sqnorm(v) for v in p.values())
    return np.sum(p * p)


def frozen_loss(params, x):
    ps = dict(params)
    h = dense(x, ps["W"], b=ps["b"], act=np.tanh)
    loss = np.sum(h ** 2) + 1e-2 * sqnorm(params)
    return loss, dlgradient(loss, params)


def test_helpers_taking_no_derivative_given_items_of_a_derived_mixed_structure_run():
    """(fuzz5's frozen leaves: a first version of the check refused these calls, as dense calls a
    parameter and sqnorm recurses; neither takes a derivative)"""
    rng = np.random.default_rng(3)
    W, b, x = rng.standard_normal((3, 2)), rng.standard_normal(2), rng.standard_normal((4, 3))
    loss, g = dlfeval(frozen_loss, {"W": dlarray(W), "b": b}, x)

    def plain(W):
        return np.sum(np.tanh(x @ W + b) ** 2) + 1e-2 * (np.sum(W * W) + np.sum(b * b))
    assert_close(float(np.asarray(loss)), plain(W))
    assert_close(np.asarray(g["W"]), numerical_gradient(plain, [W], 0), rtol=1e-6, atol=1e-7)
    assert_close(np.asarray(g["b"]), np.zeros(2))
