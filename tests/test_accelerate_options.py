"""AcceleratedFunction: enabled=False still differentiates, CheckMode, callables other than def."""
import functools

import numpy as np
import pytest

import sct
from sct import SctError, dlaccelerate, dlarray, dlfeval, dlgradient
from gradcheck import assert_close

X = np.array([0.5, -1.5, 2.0])


def model_loss(w, x):
    y = np.sum(np.tanh(w * x))
    return y, dlgradient(y, w)


def expected(w, x):
    return np.sum(np.tanh(w * x)), x * (1 - np.tanh(w * x) ** 2)


def test_disabled_accelerated_function_still_runs_under_dlfeval():
    acc = dlaccelerate(model_loss)
    acc.enabled = False
    y, g = dlfeval(acc, dlarray(X), X[::-1].copy())
    ey, eg = expected(X, X[::-1])
    assert_close(y, ey)
    assert_close(g, eg)
    assert acc.occupancy == 0.0            # nothing was cached


def test_check_mode_tolerance_compares_with_a_fresh_run():
    acc = dlaccelerate(model_loss, CheckMode="tolerance", CheckTolerance=1e-6)
    for _ in range(3):
        y, g = dlfeval(acc, dlarray(X), X)
        assert_close(g, expected(X, X)[1])
    assert acc.hit_rate > 0


def test_check_mode_catches_a_stale_entry():
    acc = dlaccelerate(model_loss, CheckMode="tolerance")
    dlfeval(acc, dlarray(X), X)
    entry = acc.compiled((dlarray(X), X))
    real = entry.entry
    entry.entry = lambda w, x: (real(w, x)[0] + 1.0, real(w, x)[1])   # simulate a stale cache
    try:
        with pytest.raises(SctError, match="CheckTolerance"):
            dlfeval(acc, dlarray(X), X)
    finally:
        entry.entry = real


def test_check_mode_is_validated():
    with pytest.raises(SctError, match="CheckMode"):
        dlaccelerate(model_loss, CheckMode="sometimes")


class Model:
    def __init__(self, k):
        self.k = k

    def loss(self, w):
        y = np.sum(self.k * w ** 2)
        return y, dlgradient(y, w)


@pytest.mark.parametrize("fun", [Model(3.0).loss, functools.partial(lambda w, k: dlgradient(np.sum(k * w ** 2), w), k=3.0)])
def test_accelerated_methods_and_partials(fun):
    acc = sct.accelerate(fun)
    out = dlfeval(acc, dlarray(X))
    g = out[1] if isinstance(out, tuple) else out
    assert_close(g, 6.0 * X)
    dlfeval(acc, dlarray(X))
    assert acc.hit_rate == 0.5


RUNS = [0]


def noisy_loss(x):
    RUNS[0] += 1        # a result that changes from run to run (random draws do not: the check's fresh
    y = np.sum(x ** 2) + 1000.0 * RUNS[0]     # run starts from the same generators, test_accelerate_draws_s49)
    return y, dlgradient(y, x)


def test_check_mode_settable_like_matlabs_property_and_catches_nondeterminism():
    noisy = dlaccelerate(noisy_loss)
    noisy.CheckMode = "tolerance"
    assert noisy.CheckMode == "tolerance" and noisy.CheckTolerance == 1e-4
    with pytest.raises(SctError, match="CheckTolerance"):
        dlfeval(noisy, dlarray(X))
