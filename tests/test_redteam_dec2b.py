"""Red team (Dec 2b): MATLAB-documentation scenarios and a peer corpus of numpy functions, each
differentiated in every mode sct offers.  Values against plain numpy, gradients against central
differences (tests/gradcheck.py), higher derivatives against closed forms."""
from __future__ import annotations

import math

import numpy as np
import pytest

import sct
from sct import dlarray, dlfeval, dlgradient, extractdata
from gradcheck import assert_close, numerical_gradient


# --- np.sinc: its derivative rule was np.where(x == 0, 0, (cos(pi x) - sinc(x)) / x), so every
# derivative from the second on was 0 at x == 0 (sinc''(0) = -pi^2/3, not 0) -------------------

def sinc_total(x):
    return np.sum(np.sinc(x))


def sinc_three_derivatives(x):
    y = np.sum(np.sinc(x))
    g = dlgradient(y, x)
    h = dlgradient(np.sum(g), x)
    return y, g, h, dlgradient(np.sum(h), x)


def _sinc_derivatives(x):
    """sinc and its first three derivatives, from the Taylor series at small |x|."""
    u = np.pi * x
    terms = range(0, 12)
    d0 = sum((-1) ** n * u ** (2 * n) / math.factorial(2 * n + 1) for n in terms)
    d1 = sum((-1) ** n * 2 * n * np.pi ** (2 * n) * x ** (2 * n - 1) / math.factorial(2 * n + 1)
             for n in range(1, 12))
    d2 = sum((-1) ** n * 2 * n * (2 * n - 1) * np.pi ** (2 * n) * x ** (2 * n - 2) / math.factorial(2 * n + 1)
             for n in range(1, 12))
    d3 = sum((-1) ** n * 2 * n * (2 * n - 1) * (2 * n - 2) * np.pi ** (2 * n) * x ** (2 * n - 3)
             / math.factorial(2 * n + 1) for n in range(2, 12))
    return d0, d1, d2, d3


def test_sinc_higher_derivatives_at_and_near_zero():
    x = np.array([0.0, 1e-3, 0.01, -0.049, 0.051, 0.3, -0.6])
    y, g, h, t = dlfeval(sinc_three_derivatives, dlarray(x))
    d0, d1, d2, d3 = _sinc_derivatives(x)
    assert_close(extractdata(y), np.sum(np.sinc(x)))
    assert_close(extractdata(g), d1, 1e-10, 1e-12)
    assert_close(extractdata(h), d2, 1e-9, 1e-10)
    assert extractdata(h)[0] == pytest.approx(-np.pi ** 2 / 3, rel=1e-12)
    assert_close(extractdata(t), d3, 1e-7, 1e-8)
    v = np.linspace(-1, 1, x.size)
    assert_close(extractdata(sct.hvp(sinc_total, x, v)), d2 * v, 1e-9, 1e-10)


def test_sinc_derivatives_away_from_zero_and_float32():
    x = np.array([0.7, -1.3, 2.5, 4.0])
    y, g, h, t = dlfeval(sinc_three_derivatives, dlarray(x))
    assert_close(extractdata(g), numerical_gradient(sinc_total, [x.copy()], 0), 1e-6, 1e-8)
    assert_close(extractdata(h), numerical_gradient(lambda z: np.sum(extractdata(
        dlfeval(sinc_three_derivatives, dlarray(z))[1])), [x.copy()], 0), 1e-5, 1e-6)
    x32 = np.array([0.0, 0.02, 0.5], dtype=np.float32)
    y, g, h, t = dlfeval(sinc_three_derivatives, dlarray(x32))
    assert extractdata(g).dtype == np.float32 and extractdata(h).dtype == np.float32
    assert_close(extractdata(h), _sinc_derivatives(x32.astype(np.float64))[2], 1e-5, 1e-5)
    value, tangent = sct.jvp(sinc_total, (np.array([0.0, 0.5]),), (np.array([1.0, 1.0]),))
    assert_close(extractdata(tangent), np.sum(_sinc_derivatives(np.array([0.0, 0.5]))[1]), 1e-10, 1e-12)
