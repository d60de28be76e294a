"""Fixes (Dec 7d) for red-team findings: correct programs sct made fail, and internal errors reaching
the user.

* ``z ** i`` with ``i`` an int loop variable, differentiated twice (or transposed for a jvp): the
  generated first-order code takes ``i`` back off its tape, where it looked differentiable, so the
  exponent's adjoint ``z ** i * log(z)`` was computed (and discarded): NaN and a RuntimeWarning for
  ``z < 0``, an EvaluationError under ``np.errstate(invalid="raise")``.  An int exponent is now not
  differentiated (``rt.exponent_log`` is 0 for it); a float exponent keeps its derivative.
"""
from __future__ import annotations

import inspect
import warnings

import numpy as np
import pytest

import sct
from sct import dlarray, dlfeval, dlgradient, extractdata
from gradcheck import numerical_gradient


@pytest.fixture(autouse=True)
def fresh():
    sct.clear_cache()
    yield
    sct.clear_cache()


def D(v):
    return np.asarray(extractdata(v)) if type(v).__name__ == "dlarray" else np.asarray(v)


def _line_of(fn, text):
    lines, start = inspect.getsourcelines(fn)
    return next(start + i for i, line in enumerate(lines) if text in line)


# ---- 1. int exponents are not differentiated ----

def _powers_sum(z):
    y = 0.0
    for i in range(3):
        y = y + np.sum(z ** i)
    return y


def _powers_second(z):
    y = 0.0
    for i in range(3):
        y = y + np.sum(z ** i)
    g = dlgradient(y, z, EnableHigherDerivatives=True)
    h = dlgradient(np.sum(g), z)
    return y, g, h


def _powers_enumerate(z, ws):
    y = 0.0
    for k, w in enumerate(ws):
        y = y + w * np.sum(z ** k) + np.sum(z ** len(ws))
    g = dlgradient(y, z, EnableHigherDerivatives=True)
    h = dlgradient(np.sum(g * g), z)
    return y, g, h


Z_INT = [np.array([-1.5, 0.0, 2.0]), np.array([-2.0, -0.5]), np.array([0.0, 0.0])]


@pytest.mark.parametrize("z", Z_INT, ids=["mixed", "negative", "zero"])
def test_int_loop_exponent_second_order_exact_without_warnings(z):
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with np.errstate(all="raise"):
            y, g, h = dlfeval(_powers_second, dlarray(z))
    assert float(D(y)) == float(np.sum(1 + z + z ** 2))
    np.testing.assert_array_equal(D(g), 1 + 2 * z)
    np.testing.assert_array_equal(D(h), 2 * np.ones_like(z))


@pytest.mark.parametrize("z", Z_INT, ids=["mixed", "negative", "zero"])
def test_int_exponent_enumerate_len_second_order(z):
    ws = [0.5, -1.0, 2.0]
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with np.errstate(all="raise"):
            y, g, h = dlfeval(_powers_enumerate, dlarray(z), ws)
    n = len(ws)
    grad = sum(w * k * z ** max(k - 1, 0) for k, w in enumerate(ws)) + n * n * z ** (n - 1)
    hess = sum(w * k * (k - 1) * z ** max(k - 2, 0) for k, w in enumerate(ws)) + n * n * (n - 1) * z ** (n - 2)
    np.testing.assert_allclose(float(D(y)), sum(w * np.sum(z ** k) + np.sum(z ** n) for k, w in enumerate(ws)),
                               rtol=1e-14)
    np.testing.assert_allclose(D(g), grad, rtol=1e-14, atol=1e-14)
    np.testing.assert_allclose(D(h), 2 * grad * hess, rtol=1e-14, atol=1e-14)


@pytest.mark.parametrize("z", Z_INT, ids=["mixed", "negative", "zero"])
def test_int_loop_exponent_jvp_hvp_exact(z):
    v = np.linspace(1.0, 2.0, z.size)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with np.errstate(all="raise"):
            for mode in ("forward", "transpose"):
                y, jv = sct.jvp(_powers_sum, (z,), (v,), mode=mode)
                assert float(D(y)) == float(np.sum(1 + z + z ** 2))
                assert float(D(jv)) == float(np.sum((1 + 2 * z) * v)), mode
            hv = sct.hvp(_powers_sum, z, v)
    np.testing.assert_array_equal(D(hv), 2 * v)


def _float_power(x, p):
    y = np.sum(x ** p)
    gx, gp = dlgradient(y, x, p, EnableHigherDerivatives=True)
    return y, gx, gp, dlgradient(gp, p), dlgradient(np.sum(gx), p)


def test_float_exponent_still_differentiated_twice():
    x, p = np.array([0.5, 1.5, 2.0]), 1.7
    y, gx, gp, gpp, gxp = dlfeval(_float_power, dlarray(x), dlarray(p))
    np.testing.assert_allclose(D(gx), p * x ** (p - 1), rtol=1e-12)
    np.testing.assert_allclose(float(D(gp)), np.sum(x ** p * np.log(x)), rtol=1e-12)
    np.testing.assert_allclose(float(D(gpp)), np.sum(x ** p * np.log(x) ** 2), rtol=1e-12)
    np.testing.assert_allclose(float(D(gxp)), np.sum(x ** (p - 1) * (1 + p * np.log(x))), rtol=1e-12)
