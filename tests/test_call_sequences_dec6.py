"""Red team "keys" (dec 6): caches and call sequences.  The same function called in a sequence
of calls in one process must give what the same call gives first in a fresh process: values
against plain Python, gradients against central differences."""
from __future__ import annotations

import numpy as np
import pytest

import sct
from gradcheck import numerical_gradient
from sct import dlarray, dlfeval, dlgradient, extractdata


def test_hvp_starred_empty_constants_drawing_seeded_noise():
    # sct.hvp(lambda a: np.sum(fn(a, *cs)), x, v) with cs = (): forward mode refuses to compile the
    # starred call and hvp falls back to reverse over reverse, which it ran as a recomputation of
    # what forward mode had run (nothing), comparing numpy's global generator with its state from
    # before fn's first draw: refused ("drew random numbers through a call sct does not know")
    # unless an earlier call had left the generator where fn's np.random.seed(1) + randn put it
    def fn(x):
        np.random.seed(1)
        noise = np.random.randn(*x.shape)
        return np.sum(x * x * noise)

    cs = ()
    x = np.array([0.3, 0.7, -0.4])
    v = np.array([1.0, -0.5, 0.2])
    np.random.seed(0)
    got = extractdata(sct.hvp(lambda a: np.sum(fn(a, *cs)), x, v))
    np.random.seed(1)
    np.testing.assert_allclose(got, 2 * np.random.randn(3) * v, rtol=1e-12)


def test_hvp_starred_empty_constants_draws_once():
    # the fallback is fun's first run: numpy's generator moves once, as in Python
    def fn(x):
        noise = np.random.randn(*x.shape)
        return np.sum(x * x * noise)

    cs = ()
    x = np.array([0.3, 0.7, -0.4])
    v = np.array([1.0, -0.5, 0.2])
    np.random.seed(5)
    got = extractdata(sct.hvp(lambda a: np.sum(fn(a, *cs)), x, v))
    after = np.random.get_state()
    np.random.seed(5)
    np.testing.assert_allclose(got, 2 * np.random.randn(3) * v, rtol=1e-12)
    now = np.random.get_state()
    assert after[2] == now[2] and np.array_equal(after[1], now[1])
