"""Optimizers over dict subclasses: a defaultdict or OrderedDict of parameters comes back as the
same class (the defaultdict with its factory), updated by the documented formula."""
import collections

import numpy as np
import pytest

import sct
from tests.gradcheck import assert_close


def loss(p, x):
    y = np.sum((x @ p["w"] + p["b"]) ** 2)
    return y, sct.dlgradient(y, p)


def grads_by_hand(w, b, x):
    r = x @ w + b
    return {"w": 2 * x.T @ r, "b": 2 * r.sum(0)}


@pytest.mark.parametrize("make", [lambda: collections.defaultdict(lambda: None), collections.OrderedDict])
def test_sgdm_and_adam_keep_the_dict_class(make):
    w0, b0 = np.linspace(-1, 1, 6).reshape(3, 2), np.array([0.1, -0.2])
    x = np.arange(6.0).reshape(2, 3) / 5
    p = make()
    p["w"], p["b"] = sct.dlarray(w0), sct.dlarray(b0)
    _, g = sct.dlfeval(loss, p, sct.dlarray(x))
    assert isinstance(g, dict)          # (a plain dict of the gradients)
    by_hand = grads_by_hand(w0, b0, x)
    for k in ("w", "b"):
        assert_close(np.asarray(sct.extractdata(g[k])), by_hand[k])
    new, vel = sct.sgdmupdate(p, g, None, 0.1, 0.9)
    assert type(new) is type(p) and type(vel) is type(p)
    if isinstance(p, collections.defaultdict):
        assert new.default_factory is p.default_factory
    for k, v0 in (("w", w0), ("b", b0)):
        assert_close(np.asarray(sct.extractdata(new[k])), v0 - 0.1 * by_hand[k])
    new2, avg, sq = sct.adamupdate(p, g, None, None, 1, 0.01)
    assert type(new2) is type(p)
    for k, v0 in (("w", w0), ("b", b0)):
        gk = by_hand[k]
        m, s = 0.1 * gk, 0.001 * gk ** 2
        step = 0.01 * (m / 0.1) / (np.sqrt(s / 0.001) + 1e-8)
        assert_close(np.asarray(sct.extractdata(new2[k])), v0 - step)
