"""Fixes (Dec 8f).

1. An int exponent is not differentiated.  ``z ** i`` with ``i`` an int (a ``range`` counter, an
   int computed from one, ``len(...)``, an int array) differentiated twice (sct.hvp, a nested
   dlgradient, a transposed jvp): the first-order generated code takes ``i`` back off its tape
   (or its residuals), where the code differentiating it again sees it as differentiable, so the
   power rule's exponent adjoint ``g * z ** i * log(z)`` was computed (and discarded): NaN and a
   RuntimeWarning for ``z < 0``, an EvaluationError under ``np.errstate(invalid="raise")`` or
   ``warnings.simplefilter("error")``.  ``rt.exponent_log(a, b)`` (the rule's log(a)) is 0 for an
   int/bool ``b``, which has no derivative; a float exponent keeps its derivative.  (A first
   attempt at this was reverted: the tangent code's guard that keeps ``0 * log(x)`` from being
   NaN where the exponent's tangent is the zero marker looked for ``np.log`` in the rule and did
   not see ``exponent_log``, so sct.hvp of ``x ** k`` with a float ``k`` gave NaN at x < 0.)

2. MATLAB format labels: ``np.flip`` / ``np.roll`` of a formatted dlarray keep its labels.
"""
from __future__ import annotations

import warnings

import numpy as np
import pytest

import sct
from sct import dlarray, dlfeval, dlgradient, extractdata
from gradcheck import assert_close, numerical_gradient


@pytest.fixture(autouse=True)
def fresh():
    sct.clear_cache()
    yield
    sct.clear_cache()


def D(v):
    return np.asarray(extractdata(v)) if type(v).__name__ == "dlarray" else np.asarray(v)


class strict:
    """Every numpy warning an error, every floating-point problem raised."""

    def __enter__(self):
        self.w = warnings.catch_warnings()
        self.w.__enter__()
        warnings.simplefilter("error")
        self.e = np.errstate(all="raise")
        self.e.__enter__()

    def __exit__(self, *exc):
        self.e.__exit__(*exc)
        self.w.__exit__(*exc)


# ---- 1. int exponents ----

def powers(z):
    y = 0.0
    for i in range(4):
        y = y + z ** i
    return np.sum(y)


def powers_np(z):
    y = 0.0
    for i in range(4):
        y = y + np.power(z, i) * np.sqrt(i) + np.log(i + 1) * z * z
    return np.sum(y)


def powers_computed(z):
    y = 0.0
    for i in range(3):
        k = 2 * i + 1
        y = y + z ** k + z ** len(z.shape) + z ** (z.shape[0] - 2)
    return np.sum(y)


def powers_enumerate(z):
    ws = [0.5, -1.0, 2.0]
    y = 0.0
    for k, w in enumerate(ws):
        y = y + w * np.sum(z ** k) + np.sum(z ** len(ws))
    return y


def powers_array(z):
    return np.sum(z[:, None] ** np.arange(4)) + np.sum(z ** np.array([2, 0, 3]))


def power_then_float(z):
    y = 0.0
    for i in range(3):
        y = y + z ** i * 0.5 + z ** 2.0
    return np.sum(y)


CASES = [powers, powers_np, powers_computed, powers_enumerate, powers_array, power_then_float]
POINTS = {"positive": np.array([0.5, 1.5, 2.0]), "negative": np.array([-1.5, -0.5, -2.0]),
          "mixed": np.array([-1.5, 0.75, 2.0])}


def _grad(f, z):
    y = f(z)
    return y, dlgradient(y, z)


def _nested(f, z):
    y = f(z)
    g = dlgradient(y, z, EnableHigherDerivatives=True)
    s = np.sum(g * g)
    return s, dlgradient(s, z)


def _grad_value(f, z):
    return D(dlfeval(_grad, f, dlarray(z))[1])


def _grad_fn(f):
    def gradient_of(z):
        return dlgradient(f(z), z)
    return gradient_of


@pytest.mark.parametrize("point", list(POINTS))
@pytest.mark.parametrize("f", CASES, ids=lambda f: f.__name__)
def test_int_exponent_first_order(f, point):
    z = POINTS[point]
    with strict():
        y, g = dlfeval(_grad, f, dlarray(z))
    assert_close(D(y), f(z.copy()), rtol=1e-13, atol=1e-13)
    assert_close(D(g), numerical_gradient(f, [z.copy()], 0), what="gradient")


@pytest.mark.parametrize("point", list(POINTS))
@pytest.mark.parametrize("f", CASES, ids=lambda f: f.__name__)
def test_int_exponent_nested_dlgradient(f, point):
    z = POINTS[point]
    with strict():
        s, h = dlfeval(_nested, f, dlarray(z))
    g = _grad_value(f, z)
    assert_close(D(s), np.sum(g * g), rtol=1e-12, atol=1e-12)
    expected = numerical_gradient(lambda a: np.sum(_grad_value(f, a) ** 2), [z.copy()], 0)
    assert_close(D(h), expected, rtol=1e-5, atol=1e-5, what="second order")


@pytest.mark.parametrize("point", list(POINTS))
@pytest.mark.parametrize("f", CASES, ids=lambda f: f.__name__)
def test_int_exponent_hvp_and_jvp(f, point):
    z = POINTS[point]
    v = np.array([1.0, -0.5, 2.0])
    e = 1e-6
    with strict():
        hv = sct.hvp(f, z, v)
        jvs = {mode: sct.jvp(f, (z,), (v,), mode=mode) for mode in ("forward", "transpose")}
    expected = (_grad_value(f, z + e * v) - _grad_value(f, z - e * v)) / (2 * e)
    assert_close(D(hv), expected, rtol=1e-5, atol=1e-5, what="hvp")
    for mode, (y, jv) in jvs.items():
        assert_close(D(y), f(z.copy()), rtol=1e-13, atol=1e-13, what=mode)
        assert_close(D(jv), (f(z + e * v) - f(z - e * v)) / (2 * e), rtol=1e-5, atol=1e-5, what=mode)


@pytest.mark.parametrize("point", list(POINTS))
@pytest.mark.parametrize("f", [powers, powers_enumerate, powers_computed], ids=lambda f: f.__name__)
def test_jvp_of_a_gradient_function(f, point):
    z = POINTS[point]
    v = np.array([1.0, -0.5, 2.0])
    e = 1e-6
    for mode in ("forward", "transpose"):
        with strict():
            g, jv = sct.jvp(_grad_fn(f), (z,), (v,), mode=mode)
        assert_close(D(g), _grad_value(f, z), rtol=1e-12, atol=1e-12, what=mode)
        expected = (_grad_value(f, z + e * v) - _grad_value(f, z - e * v)) / (2 * e)
        assert_close(D(jv), expected, rtol=1e-5, atol=1e-5, what=mode)


def _exact_second(z):
    y = 0.0
    for i in range(3):
        y = y + np.sum(z ** i)
    g = dlgradient(y, z, EnableHigherDerivatives=True)
    return y, g, dlgradient(np.sum(g), z)


@pytest.mark.parametrize("z", [np.array([-1.5, 0.0, 2.0]), np.array([-2.0, -0.5]), np.array([0.0, 0.0])],
                         ids=["mixed", "negative", "zero"])
def test_int_exponent_second_order_exact_at_zero(z):
    with strict():
        y, g, h = dlfeval(_exact_second, dlarray(z))
        hv = sct.hvp(powers, np.resize(z, 3), np.ones(3))
    assert float(D(y)) == float(np.sum(1 + z + z ** 2))
    np.testing.assert_array_equal(D(g), 1 + 2 * z)
    np.testing.assert_array_equal(D(h), 2 * np.ones_like(z))
    np.testing.assert_array_equal(D(hv), 2 + 6 * np.resize(z, 3))


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


def cube_by_name(x):
    k = 3.0
    return np.sum(x ** k)


def cube_int(x):
    k = 3
    return np.sum(x ** k)


@pytest.mark.parametrize("f", [cube_by_name, cube_int])
def test_hvp_of_a_constant_power_at_negative_points_no_nan(f):
    # the case that made the first attempt be reverted: x ** k, k a constant the adjoint reads
    # from its residuals, forward over reverse at x < 0 (0 * log(x) must not be computed)
    x, v = np.array([-1.0, 0.5, -2.0]), np.array([1.0, -0.5, 2.0])
    with strict():
        hv = sct.hvp(f, x, v)
    np.testing.assert_allclose(D(hv), 6 * x * v, rtol=1e-14)
