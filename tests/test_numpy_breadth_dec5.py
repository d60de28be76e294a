"""Red team (np, dec5): numpy breadth inside differentiated functions. Each test is one finding:
values against plain Python (dtype included), tangents against central differences."""
import math
import warnings

import numpy as np
import pytest

import sct
from sct import SctError, dlarray, dlfeval, dlgradient, extractdata

from gradcheck import assert_close, numerical_gradient


def _value_and_gradient(f, x):
    y = f(x)
    return y, dlgradient(np.sum(y), x)


def _check_value_and_gradient(f, x):
    expected = f(x.copy())
    y, g = dlfeval(_value_and_gradient, f, dlarray(x.copy()))
    got = np.asarray(extractdata(y))
    assert got.dtype == np.asarray(expected).dtype, f"value dtype {got.dtype}, Python's {np.asarray(expected).dtype}"
    np.testing.assert_array_equal(got, np.asarray(expected))
    g = np.asarray(extractdata(g))
    assert g.dtype == x.dtype
    num = numerical_gradient(lambda v: np.sum(f(v)), [x.astype(np.float64)], 0)
    assert_close(g, num, rtol=1e-3, atol=1e-4, what="gradient")
    return got


# --- 1. jvp of a function whose value is a Python float (math.sqrt(abs(x)) at 0): the NaN tangent of
#        a finite value was returned (the Python float was not counted among the values checked;
#        np.sqrt's was refused)

def _math_sqrt_abs(x):
    return math.sqrt(abs(x)) + 1.0


def test_jvp_nan_tangent_of_python_float_value_is_refused():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with pytest.raises(SctError, match="NaN"):
            sct.jvp(_math_sqrt_abs, (np.array(0.0),), (np.array(1.0),))


def test_jvp_of_python_float_value_elsewhere_is_its_derivative():
    y, t = sct.jvp(_math_sqrt_abs, (np.array(0.64),), (np.array(1.0),))
    assert float(extractdata(y)) == _math_sqrt_abs(np.array(0.64))
    assert_close(extractdata(t), 0.5 / 0.8, rtol=1e-12)


# --- 2. jvp's tangent of a value Python gives as a float (math's functions, float()) of a float32
#        operand was float32 (computed in float32) beside the float64 value

def _math_of_float32_item(x):
    return math.exp(x[0]) * 2.0 + math.erf(x[1])


def _float_of_item(x):
    return float(x[0]) * 3.0


def _math_plus_float32(x):
    return math.sin(x[0]) + np.sum(x)      # a Python float plus a float32: float32, as numpy's rules


@pytest.mark.parametrize("f", [_math_of_float32_item, _float_of_item, _math_plus_float32])
def test_jvp_tangent_has_the_values_dtype(f):
    x = np.array([0.3, -0.7], dtype=np.float32)
    v = np.array([1.0, 0.5], dtype=np.float32)
    expected = f(x)
    y, t = sct.jvp(f, (x,), (v,))
    y, t = np.asarray(extractdata(y)), np.asarray(extractdata(t))
    assert y.dtype == np.asarray(expected).dtype
    assert t.dtype == y.dtype, f"tangent {t.dtype}, value {y.dtype}"
    xs, h = x.astype(np.float64), 1e-6
    num = (f(xs + h * v) - f(xs - h * v)) / (2 * h)
    assert_close(t, num, rtol=1e-6, atol=1e-7)


# --- 3. np.maximum.reduce / np.minimum.reduce with initial= of a float32 array: the fold started from
#        the Python number as a float64 array, so the value was float64 (numpy casts initial into the
#        array's dtype: float32)

def _max_reduce_initial(x):
    return np.maximum.reduce(x, initial=0.0)


def _min_reduce_initial_axis(x):
    return np.minimum.reduce(x.reshape(2, 3), axis=0, initial=0.25)


def _add_reduce_traced_initial(x):
    return np.add.reduce(x[1:] ** 2, 0, None, None, False, x[0] * 3.0)     # a traced initial


@pytest.mark.parametrize("f", [_max_reduce_initial, _min_reduce_initial_axis, _add_reduce_traced_initial])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_ufunc_reduce_initial_keeps_the_arrays_dtype(f, dtype):
    x = np.array([0.4, -1.1, 0.9, 0.3, -0.2, 1.5], dtype=dtype)
    _check_value_and_gradient(f, x)


# --- 4. np.r_ with a Python number among float32 arrays: numpy reads the number as a weak scalar
#        (float32 result); sct's concatenation of np.atleast_1d(0.5) gave float64 values

def _r_with_number(x):
    return np.r_[x[:3], 0.5, x[4:]] ** 2


def _r_number_first(x):
    return np.r_[0.5, x[:2] * 3.0]


def _r_with_list(x):
    return np.r_[x[:2], [0.5, 1.5]]        # a list is an array (float64), as numpy reads it


@pytest.mark.parametrize("f", [_r_with_number, _r_number_first, _r_with_list])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_r_concatenation_dtype_is_numpys(f, dtype):
    x = np.array([0.4, -1.1, 0.9, 0.3, -0.2, 1.5], dtype=dtype)
    _check_value_and_gradient(f, x)


def test_r_of_ints_and_floats():
    def f(x):
        return np.r_[x, 2] * np.r_[1, 2, 3, 4, 5, 6, 7]
    _check_value_and_gradient(f, np.array([0.4, -1.1, 0.9, 0.3, -0.2, 1.5]))


# --- 5. dllaplacian of a harmonic u (np.exp(x0) * np.sin(x1), x0**3 - 3 x0 x1**2, log|x|^2): its
#        Laplacian is rounding error only, and the check of independent points compared the two
#        divergences' rounding errors relative to their sums (about 1e-16): refused as coupled points.
#        The tolerance now counts the size of the second derivatives the divergences summed

from sct import dllaplacian  # noqa: E402


def _harmonic_exp_sin(x):
    return np.exp(x[:, 0]) * np.sin(x[:, 1])


def _harmonic_cubic(x):
    return x[:, 0] ** 3 - 3 * x[:, 0] * x[:, 1] ** 2


def _harmonic_log(x):
    return np.log(x[:, 0] ** 2 + x[:, 1] ** 2)


def _lap_exp_sin(x):
    return dllaplacian(_harmonic_exp_sin(x), x, 0)


def _lap_cubic(x):
    return dllaplacian(_harmonic_cubic(x), x, 0)


def _lap_log(x):
    return dllaplacian(_harmonic_log(x), x, 0)


@pytest.mark.parametrize("f", [_lap_exp_sin, _lap_cubic, _lap_log])
def test_laplacian_of_harmonic_function_is_zero(f):
    x = np.random.default_rng(0).standard_normal((5, 2)) + 1.5
    lap = np.asarray(extractdata(dlfeval(f, dlarray(x))))
    assert lap.shape == (5,)
    assert_close(lap, np.zeros(5), atol=1e-10)


def _lap_coupled(x):
    # points coupled through second derivatives only (np.mean(x ** 2) at x = 0): still refused
    return dllaplacian(np.sum(x ** 3, axis=1) - np.mean(x ** 2), x, 0)


def test_laplacian_of_coupled_points_is_still_refused():
    with pytest.raises(SctError, match="not independent"):
        dlfeval(_lap_coupled, dlarray(np.zeros((3, 2))))


def _lap_nearly_harmonic(x):
    return dllaplacian(np.exp(x[:, 0]) * np.sin(x[:, 1]) + 1e-6 * x[:, 0] ** 2, x, 0)


def test_laplacian_of_nearly_harmonic_function():
    x = np.random.default_rng(1).standard_normal((4, 2))
    lap = np.asarray(extractdata(dlfeval(_lap_nearly_harmonic, dlarray(x))))
    assert_close(lap, np.full(4, 2e-6), rtol=1e-6, atol=1e-12)


# --- 6. ufunc(..., out=z, where=m): numpy's masked ufunc (np.divide(a, b, out=np.zeros_like(a),
#        where=b != 0), the safe division idiom) was refused as an unexpected keyword; np.clip(z, lo, hi,
#        out=z) was refused as a derivative "with respect to 'out'". Now the ufunc is computed at the
#        entries m selects only (no warning, no derivative from the others) and written into a copy of z

def _safe_divide(x):
    b = np.where(np.abs(x) > 0.5, x, 0.0)
    r = np.divide(x ** 2, b, out=np.zeros_like(x), where=b != 0)
    return r ** 2


def _safe_log(x):
    return np.log(x, out=np.full_like(x, -1.0), where=x > 0) * x


def _masked_into_traced_out(x):
    z = x[::-1] * 1.0
    r = np.arctan2(x, 0.5, out=z, where=x < 0.35)
    return z ** 3 + r


def _masked_broadcast(x):
    z = np.zeros((2, 3))
    np.add(x.reshape(2, 3), x[:3] ** 2, out=z, where=np.array([True, False, True]))
    return z * np.arange(6.0).reshape(2, 3)


def _clip_out_self(x):
    z = x.copy()
    np.clip(z, -0.5, 0.5, out=z)
    return z ** 3


@pytest.mark.parametrize("f", [_safe_divide, _safe_log, _masked_into_traced_out, _masked_broadcast, _clip_out_self])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_ufunc_out_where(f, dtype):
    x = np.array([0.4, -1.1, 0.9, 0.3, -0.2, 1.5], dtype=dtype)
    with warnings.catch_warnings():
        warnings.simplefilter("error")          # numpy computes nothing where m is False: no warning
        _check_value_and_gradient(f, x)


@pytest.mark.parametrize("f", [_safe_divide, _masked_into_traced_out, _clip_out_self])
def test_ufunc_out_where_forward_and_second_order(f):
    x = np.array([0.4, -1.1, 0.9, 0.3, -0.2, 1.5])
    v = np.array([1.0, -0.5, 0.25, 2.0, 0.3, -1.0])
    loss = lambda a: np.sum(np.sin(f(a)))
    y, t = sct.jvp(loss, (x,), (v,))
    h = 1e-6
    assert_close(extractdata(t), (loss(x + h * v) - loss(x - h * v)) / (2 * h), rtol=1e-6, atol=1e-8)
    hv = np.asarray(sct.hvp(loss, x, v))
    grad = lambda a: np.asarray(extractdata(dlfeval(_value_and_gradient, loss, dlarray(a))[1]))
    assert_close(hv, (grad(x + 1e-5 * v) - grad(x - 1e-5 * v)) / 2e-5, rtol=1e-4, atol=1e-6)


def _into_int_out(x):
    z = np.zeros(6, dtype=int)
    np.divide(x, 2.0, out=z, where=x > 0)
    return z * x


def test_ufunc_out_where_casting_is_numpys():
    with pytest.raises(TypeError):
        _into_int_out(np.ones(6))
    with pytest.raises(SctError, match="same_kind"):
        dlfeval(_value_and_gradient, _into_int_out, dlarray(np.ones(6)))


# --- 7. numpy 2's array-API functions np.astype, np.linalg.outer and np.linalg.diagonal (the last two
#        not aliases of np.outer / np.diagonal: vectors only, the last two axes) were refused: no rule

def _astype_function(x):
    return np.astype(x, np.float64) ** 2 + np.astype(x * 3, np.int64) * x


def _linalg_outer(x):
    return np.linalg.outer(x[:3], x[3:] ** 2)


def _linalg_diagonal(x):
    return np.linalg.diagonal(x.reshape(1, 2, 3), offset=1) ** 3


@pytest.mark.parametrize("f", [_astype_function, _linalg_outer, _linalg_diagonal])
def test_array_api_functions(f):
    _check_value_and_gradient(f, np.array([0.4, -1.1, 0.9, 0.3, -0.2, 1.5]))


def _linalg_outer_of_matrix(x):
    return np.linalg.outer(x.reshape(2, 3), x)


def test_linalg_outer_refuses_what_numpy_refuses():
    with pytest.raises(ValueError):
        _linalg_outer_of_matrix(np.ones(6))
    with pytest.raises(SctError, match="one-dimensional"):
        dlfeval(_value_and_gradient, _linalg_outer_of_matrix, dlarray(np.ones(6)))
