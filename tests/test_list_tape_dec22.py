"""A list grown by ``append`` in a loop (``hs.append(h)``, an RNN's hidden states): the forward's tape
kept every earlier version of the list (one per step: quadratic memory, which the collector walked
again and again; 4,000 steps ran at ~150 us a step against ~65 at 250).  Where the adjoint reads the
popped list only for its length (``rt.list_head``/``rt.list_tail`` of ``hs + [h]``), the tape keeps
``rt.length_proxy(hs)`` (sct/optimize.py shape_only_tapes, LENGTH_ARGUMENTS).  Where it reads more,
the list is kept as before.

Values against plain Python, gradients against finite differences (tests/gradcheck.py)."""
from __future__ import annotations

import numpy as np
import pytest

from gradcheck import assert_close, check_grads, numerical_gradient
from sct import dlarray, dlfeval, dlgradient, source
from sct.runtime.support import _Length, length_proxy

pytestmark = pytest.mark.usefixtures("fresh_cache")

RNG = np.random.default_rng(22)
W0 = RNG.standard_normal((3, 3)) * 0.4
XS = RNG.standard_normal((7, 3))


def stacked(W, xs):
    h = np.zeros(3)
    hs = []
    for t in range(xs.shape[0]):
        h = np.tanh(W @ h + xs[t])
        hs.append(h)
    H = np.stack(hs)
    return np.sum(H ** 2) + np.sum(H[2] * H[-1])


def stacked_grad(W, xs):
    loss = stacked(W, xs)
    return loss, dlgradient(loss, W)


def summed(W, xs):
    h = np.zeros(3)
    hs = []
    for t in range(xs.shape[0]):
        h = np.sin(W @ h) + xs[t]
        if t % 2 == 0:
            hs.append(h * 2.0)
        else:
            hs.append(h)
    total = 0.0
    for v in hs:
        total = total + np.sum(v ** 3)
    return total


def summed_grad(W, xs):
    loss = summed(W, xs)
    return loss, dlgradient(loss, W)


def reads_last(W, xs):
    # the list read inside the loop: its items are read, so the list is kept whole
    hs = [np.zeros(3)]
    for t in range(xs.shape[0]):
        hs.append(np.tanh(W @ hs[-1] + xs[t]))
    return np.sum(hs[-1] ** 2) + np.sum(hs[1])


def reads_last_grad(W, xs):
    loss = reads_last(W, xs)
    return loss, dlgradient(loss, W)


def pairs(W, xs):
    h = np.ones(3)
    out = []
    for t in range(xs.shape[0]):
        h = np.tanh(W @ h * xs[t])
        out.append((h, np.sum(h)))
    return sum(a[0] @ a[0] * a[1] for a in out)


def pairs_grad(W, xs):
    loss = pairs(W, xs)
    return loss, dlgradient(loss, W)


@pytest.mark.parametrize("value, grad, proxied", [(stacked, stacked_grad, True), (summed, summed_grad, True),
                                                  (reads_last, reads_last_grad, False), (pairs, pairs_grad, None)])
def test_gradients_of_grown_lists(value, grad, proxied):
    text = str(source(grad, dlarray(W0), dlarray(XS), callees=True))
    if proxied is not None:
        assert ("rt.length_proxy(" in text) == proxied, text
    for xs in (XS, XS[:3], XS[:4] * 2.0):
        y, g = dlfeval(grad, dlarray(W0), dlarray(xs))
        assert np.allclose(float(y._data), value(W0, xs), rtol=1e-13, atol=1e-13)
        assert_close(np.asarray(g._data), numerical_gradient(value, [W0, xs], 0), 1e-5, 1e-6)
    check_grads(value, W0, XS)          # (with respect to both arguments)


def test_second_derivative_through_a_grown_list():
    def nested(W, xs):
        loss = stacked(W, xs)
        g = dlgradient(loss, W, EnableHigherDerivatives=True)
        return dlgradient(np.sum(g * g), W)

    def value(W):
        eps, G = 1e-6, np.zeros_like(W)
        for i in np.ndindex(W.shape):
            e = np.zeros_like(W)
            e[i] = eps
            G[i] = (stacked(W + e, XS) - stacked(W - e, XS)) / (2 * eps)
        return G

    got = np.asarray(dlfeval(nested, dlarray(W0), dlarray(XS))._data)
    eps, want = 1e-4, np.zeros_like(W0)
    for i in np.ndindex(W0.shape):
        e = np.zeros_like(W0)
        e[i] = eps
        want[i] = (np.sum(value(W0 + e) ** 2) - np.sum(value(W0 - e) ** 2)) / (2 * eps)
    np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-5)


def test_long_sequence_keeps_lengths_only():
    xs = RNG.standard_normal((600, 3))
    y, g = dlfeval(stacked_grad, dlarray(W0), dlarray(xs))
    assert np.allclose(float(y._data), stacked(W0, xs), rtol=1e-12)
    assert_close(np.asarray(g._data), numerical_gradient(stacked, [W0, xs], 0), 1e-5, 1e-6)


def test_length_proxy():
    p = length_proxy([1, 2, 3])
    assert type(p) is _Length and len(p) == 3
    assert len(length_proxy((1,))) == 1
    a = np.zeros(4)
    assert length_proxy(a) is a
    with pytest.raises(TypeError):
        p[0]
