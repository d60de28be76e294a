"""Findings of the red team red58b (MATLAB doc scenarios and a corpus of real functions) fixed: what dlfeval gives
back of a numpy argument's items and slices is numpy's, as in Python (W1: dlarrays); a None tangent in
sct.jvp is no direction (zeros), as autograd's (R1: refused as a NaN tangent)."""
import numpy as np
import pytest

import sct
from sct import dlarray, dlfeval, dlgradient
from gradcheck import assert_close


def slices_of_an_argument(x, arr):
    y = np.sum(x * arr[:2])
    g = dlgradient(y, x)
    return arr[1:], arr[0], arr * 2, arr[0] * 2, arr[-1] + 1.0, g


def no_gradient(x, arr):
    return arr[1:], arr[::-1], arr[arr > 0.5]


@pytest.mark.parametrize("accelerated", [False, True])
def test_items_and_slices_of_a_numpy_argument_come_back_as_numpy_gives_them(accelerated):
    arr = np.arange(3.0)
    x = dlarray(np.array([1.0, 2.0]))
    run = sct.accelerate(slices_of_an_argument) if accelerated else slices_of_an_argument
    for _ in range(2):
        out = dlfeval(run, x, arr)
        expected = (arr[1:], arr[0], arr * 2, arr[0] * 2, arr[-1] + 1.0)
        for got, want in zip(out[:5], expected):
            assert not isinstance(got, sct.dlarray)
            assert isinstance(got, type(want)) or isinstance(want, np.floating) and isinstance(got, float)
            assert_close(np.asarray(got), np.asarray(want), rtol=0, atol=0)
        assert_close(sct.extractdata(out[5]), arr[:2])


def test_slices_without_a_gradient():
    arr = np.array([0.2, 0.7, 0.9])
    out = dlfeval(no_gradient, dlarray(np.ones(2)), arr)
    for got, want in zip(out, no_gradient(None, arr)):
        assert type(got) is np.ndarray
        np.testing.assert_array_equal(got, want)


def rebound(x, arr):
    arr = x * 1.0
    return arr[1:], arr[0]


def test_a_name_bound_again_keeps_its_type():
    x = dlarray(np.array([1.0, 2.0, 3.0]))
    out = dlfeval(rebound, x, np.zeros(3))
    assert all(isinstance(v, sct.dlarray) for v in out)


def scaled_energy(r, d):
    return np.sum(r ** 2) * d


@pytest.mark.parametrize("mode", ["forward", "reverse"])
def test_a_none_tangent_is_no_direction(mode):
    r = np.array([0.5, -2.0, 3.0])
    y, t = sct.jvp(scaled_energy, (r, 1.0), (np.ones(3), None), mode=mode)
    assert float(sct.extractdata(t)) == pytest.approx(2 * np.sum(r))
    y, t = sct.jvp(scaled_energy, (r, 1.0), (None, 1.0), mode=mode)
    assert float(sct.extractdata(t)) == pytest.approx(np.sum(r ** 2))
    assert float(sct.extractdata(y)) == pytest.approx(np.sum(r ** 2))
