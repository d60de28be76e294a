"""Red team edge43 (stop 43): special values, kinks and degenerate shapes. Each test fails before its fix."""
import os

import numpy as np
import pytest

import sct
from sct import dlarray, dldivergence, dlfeval, dlgradient, dljacobian, dllaplacian

from gradcheck import numerical_gradient

_DATA = np.array([np.nan, 2.0, 3.0])


def _nanmax_scaled(x):
    return np.nanmax(np.sqrt(x - 1.5) * _DATA)   # (was x * _DATA: NaN data alone now runs, corp52 FR5)


def test_jvp_refusal_through_a_reduction_skipping_nan_names_the_users_line():
    # forward mode transposes np.nanmax's rule; the refusal (a NaN tangent through the NaN entry it
    # skips) named runtime/numpy_ops.py, sct's own file, not the user's line
    with pytest.raises(sct.EvaluationError) as info:
        sct.jvp(_nanmax_scaled, (np.array([1.0, -1.0, 2.0]),), (np.ones(3),))
    assert os.path.abspath(info.value.filename) == os.path.abspath(__file__)
    assert info.value.lineno == _nanmax_scaled.__code__.co_firstlineno + 1
    assert "np.nanmax" in str(info.value)


# --- x ** y: the mixed second derivative at y == 0 -------------------------------------------------

def _power(v):
    return v[0] ** v[1]



def _np_power(v):
    return np.power(v[0], v[1]) + np.float_power(v[0] + 1.0, v[1])


def _hessian_fd(f, v, h=1e-5):
    cols = []
    for j in range(v.size):
        e = np.zeros_like(v)
        e[j] = h
        cols.append((numerical_gradient(f, [v + e], 0) - numerical_gradient(f, [v - e], 0)) / (2 * h))
    return np.stack(cols, axis=1)


@pytest.mark.parametrize("point", [[2.0, 0.0], [0.5, 0.0], [3.0, 1.5], [2.0, 1.0]])
@pytest.mark.parametrize("fun", [_power, _np_power])
def test_mixed_second_derivative_of_power_at_a_zero_exponent(fun, point):
    # the base's adjoint b * a ** (b - 1 + (b == 0)) had the exponent 0 wherever b == 0, so its
    # derivative in b there was a ** 0 = 1 for a ** -1: hvp of x ** y at (2, 0) along (1, 3) gave
    # [1.5, 2.44] for [1.5, 1.94]
    v = np.array(point)
    t = np.array([1.0, 3.0])
    expected = _hessian_fd(fun, v) @ t
    np.testing.assert_allclose(np.asarray(sct.hvp(fun, v, t)), expected, rtol=1e-5, atol=1e-5)
    grad = lambda w: dlgradient(fun(w), w)     # noqa: E731 (forward over reverse)
    _, jv = sct.jvp(lambda w: dlfeval(grad, dlarray(w)), (v,), (t,))
    np.testing.assert_allclose(np.asarray(jv), expected, rtol=1e-5, atol=1e-5)


def _power_twice(v):
    g = dlgradient(v[0] ** v[1], v)
    y = g[0] * 1.0 + g[1] * 3.0
    return y, dlgradient(y, v)


def test_nested_dlgradient_of_power_at_a_zero_exponent():
    v = np.array([2.0, 0.0])
    _, h = dlfeval(_power_twice, dlarray(v))
    np.testing.assert_allclose(np.asarray(h), _hessian_fd(_power, v) @ np.array([1.0, 3.0]), rtol=1e-5, atol=1e-5)


_P = 1.5


def _python_float_power(x):
    y = np.real(float(x[0]) ** _P) + float(x[1]) ** 0
    return y, dlgradient(y, x)


def test_python_float_power_of_a_negative_base_keeps_pythons_complex_adjoint():
    # the base's adjoint of float(x) ** p (p a global, not a literal) stays Python's complex power,
    # 1.5 * (-2) ** 0.5, whose real part is ~0: not numpy's NaN
    y, g = dlfeval(_python_float_power, dlarray(np.array([-2.0, np.nan])))
    assert float(y) == pytest.approx(np.real(complex(-2.0) ** 1.5) + 1.0)
    np.testing.assert_allclose(np.asarray(g), [np.real(1.5 * complex(-2.0) ** 0.5), 0.0], atol=1e-12)


# --- dljacobian / dldivergence / dllaplacian of a batch of no points, or a u of no components ----------

def _jacobian_of_square(x):
    return dljacobian(x ** 2, x, 0)


def _jacobian_of_nothing(x):
    return dljacobian(x[:, :0] * 2.0, x, 0)


def _divergence_of_square(x):
    return dldivergence(x ** 2, x, 0)


def _laplacian_of_cubes(x):
    return dllaplacian(np.sum(x ** 3, axis=1), x, 0)



@pytest.mark.parametrize("fun, x, shape", [
    (_jacobian_of_square, np.zeros((0, 3)), (0, 3, 3)),
    (_jacobian_of_square, np.zeros((2, 0), np.float32), (2, 0, 0)),
    (_jacobian_of_nothing, np.ones((2, 3), np.float32), (2, 0, 3)),
    (_divergence_of_square, np.zeros((0, 3)), (0,)),
    (_laplacian_of_cubes, np.zeros((0, 2), np.float32), (0,)),
])
def test_per_point_derivatives_of_empty_batches_are_empty(fun, x, shape):
    # was: numpy's "cannot reshape array of size 0 into shape (0,newaxis)" or "need at least one array
    # to stack" from sct's runtime, reported as an error of the user's line
    out = dlfeval(fun, dlarray(x))
    assert out.shape == shape and out.dtype == x.dtype


def test_jacobian_of_a_batch_of_one_point_is_unchanged():
    x = np.array([[1.0, -2.0, 0.0]])
    np.testing.assert_array_equal(np.asarray(dlfeval(_jacobian_of_square, dlarray(x))), 2 * np.diag(x[0])[None])


# --- a power of a Python float whose adjoint Python cannot compute (0.0 ** -0.5, 1e-200 ** -2) -------

def _python_sqrt_by_power(x):
    return float(x[0]) ** 0.5 + x[1]


def _python_builtin_pow(x):
    return pow(float(x[0]), 0.5) + x[1]


def _python_item_power(x):
    return x[0].item() ** (1 / 3) + x[1]


def _python_reciprocal_by_power(x):
    return float(x[0]) ** -1 + x[1]


def _value_and_gradient(fun):
    def vg(x):
        y = fun(x)
        return y, dlgradient(y, x)
    return vg


@pytest.mark.parametrize("fun, x, expected", [
    (_python_sqrt_by_power, [0.0, 1.0], [np.inf, 1.0]),
    (_python_builtin_pow, [0.0, 1.0], [np.inf, 1.0]),
    (_python_item_power, [0.0, 1.0], [np.inf, 1.0]),
    (_python_reciprocal_by_power, [1e-200, 1.0], [-np.inf, 1.0]),
    (_python_sqrt_by_power, [4.0, 1.0], [0.25, 1.0]),
])
def test_power_of_a_python_float_where_its_derivative_is_infinite(fun, x, expected):
    # plain Python computes the value; the adjoint's 0.0 ** -0.5 (1e-200 ** -2) raised ZeroDivisionError
    # (OverflowError) inside the gradient, as an error of the user's line; numpy's np.sqrt, math.sqrt
    # and x[0] ** 0.5 of an array element give the derivative inf there
    x = np.array(x)
    with np.errstate(all="ignore"):
        y, g = dlfeval(_value_and_gradient(fun), dlarray(x))
        assert float(y) == fun(x)
        np.testing.assert_array_equal(np.asarray(g), expected)
        y2, g2 = dlfeval(sct.accelerate(_value_and_gradient(fun)), dlarray(x))
        np.testing.assert_array_equal(np.asarray(g2), expected)
        _, t = sct.jvp(fun, (x,), (np.array([1.0, 0.0]),))
        assert float(t) == expected[0]


def _python_power_twice(x):
    y = float(x[0]) ** 0.5 * x[1]
    g = dlgradient(y, x)
    z = g[0] + g[1]
    return z, dlgradient(z, x)


def test_second_derivative_of_a_python_float_power():
    x = np.array([4.0, 3.0])
    z, h = dlfeval(_python_power_twice, dlarray(x))
    # d/dx0 (0.5 x1 / sqrt(x0) + sqrt(x0)) = -0.25 x1 x0^-1.5 + 0.5 / sqrt(x0); d/dx1 = 0.5 / sqrt(x0)
    np.testing.assert_allclose(np.asarray(h), [-0.25 * 3.0 / 8.0 + 0.25, 0.25])
    np.testing.assert_allclose(np.asarray(sct.hvp(lambda v: float(v[0]) ** 0.5 * v[1], x, np.array([1.0, 0.0]))),
                               [-0.25 * 3.0 / 8.0, 0.25])


# --- jvp's transpose mode: a NaN tangent of a finite value is refused, as forward mode refuses it ------

def _sum_of_roots(x, c):
    return np.sum(np.sqrt(x)) * c


_ARGS = (2.0,)
_THROUGH_STAR_ARGS = lambda z: _sum_of_roots(z, *_ARGS)      # noqa: E731 (forward mode falls back)


@pytest.mark.parametrize("fun, mode", [(_THROUGH_STAR_ARGS, "forward"), (lambda z: _sum_of_roots(z, 2.0), "transpose")])
def test_jvp_nan_tangent_of_a_finite_value_is_refused_in_transpose_mode(fun, mode):
    # along [0, 1] at x = [0, 4] the rule's infinite factor at 0 times the zero direction is NaN; forward
    # mode refused it, transpose mode (also forward mode's fallback) returned NaN for a value of 4
    with np.errstate(all="ignore"):
        with pytest.raises(sct.EvaluationError, match="NaN"):
            sct.jvp(fun, (np.array([0.0, 4.0]),), (np.array([0.0, 1.0]),), mode=mode)
        y, t = sct.jvp(fun, (np.array([1.0, 4.0]),), (np.array([0.0, 1.0]),), mode=mode)
    assert float(y) == 6.0 and float(t) == 0.5
