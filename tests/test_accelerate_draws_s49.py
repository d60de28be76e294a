"""dlaccelerate(CheckMode="tolerance") of a function that draws random numbers: the fresh run that
checks the cached code starts from the same generators, so it is compared with itself (was: refused as
"a stale cache entry" at every call), and the generators are left where one call of the plain function
leaves them."""
import random

import numpy as np
import pytest

from sct import dlaccelerate, dlarray, dlfeval, dlgradient
from sct.errors import SctError

X = np.array([0.5, -1.0, 2.0])
RNG = np.random.default_rng(3)


def global_noise(x):
    y = np.sum((x + 0.1 * np.random.standard_normal(x.shape)) ** 2) + random.random()
    return y, dlgradient(y, x)


def held_noise(x):
    y = np.sum((x + 0.1 * RNG.standard_normal(x.shape)) ** 2)
    return y, dlgradient(y, x)


class Noisy:
    def __init__(self, seed):
        self.rng = np.random.default_rng(seed)

    def loss(self, x):
        n = self.rng.standard_normal(x.shape)
        y = np.sum((x * n) ** 2)
        return y, dlgradient(y, x)


def _plain(draw, x):
    n = draw(x.shape)
    return np.sum((x + 0.1 * n) ** 2), 2 * (x + 0.1 * n)


def test_global_generators_draw_as_one_plain_call():
    acc = dlaccelerate(global_noise, CheckMode="tolerance")
    np.random.seed(7)
    random.seed(7)
    got = [acc(dlarray(X)) for _ in range(3)]
    np.random.seed(7)
    random.seed(7)
    for y, g in got:
        want_y, want_g = _plain(np.random.standard_normal, X)
        want_y += random.random()
        np.testing.assert_allclose(float(y), want_y, rtol=1e-12)
        np.testing.assert_allclose(np.asarray(g), want_g, rtol=1e-12)
    assert not np.allclose(np.asarray(got[0][1]), np.asarray(got[1][1]))     # new draws each call


def test_generator_in_a_global_and_in_an_argument():
    acc = dlaccelerate(held_noise, CheckMode="tolerance")
    start = RNG.bit_generator.state
    got = [acc(dlarray(X)) for _ in range(2)]
    RNG.bit_generator.state = start
    for y, g in got:
        np.testing.assert_allclose(np.asarray(g), _plain(RNG.standard_normal, X)[1], rtol=1e-12)
    m, plain = Noisy(5), Noisy(5)
    acc = dlaccelerate(m.loss, CheckMode="tolerance")
    for _ in range(2):
        y, g = dlfeval(acc, dlarray(X))
        n = plain.rng.standard_normal(X.shape)
        np.testing.assert_allclose(np.asarray(g), 2 * X * n ** 2, rtol=1e-12)


CALLS = [0]


def counted(x):
    CALLS[0] += 1                      # a global that changes at each run: the fresh run's result differs
    y = np.sum(x ** 2) + CALLS[0]
    return y, dlgradient(y, x)


def test_a_result_that_changes_by_other_means_is_still_caught():
    acc = dlaccelerate(counted, CheckMode="tolerance")
    with pytest.raises(SctError, match="CheckTolerance"):
        acc(dlarray(X))
