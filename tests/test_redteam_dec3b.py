"""Red team, Dec 3 (b): operation semantics against numpy (values, gradients, tangents).

Each program is written the way a user writes it; values against plain Python, gradients against
central differences (tests/gradcheck.py), tangents (sct.forward.jvp) against directional differences.
"""
from __future__ import annotations

import numpy as np
import pytest

import sct
from sct import dlarray, dlfeval, dlgradient
from sct.forward import jvp
from gradcheck import assert_close, numerical_gradient, sct_gradients


pytestmark = pytest.mark.usefixtures("fresh_cache")   # tests/conftest.py


X = np.array([0.3, 0.7, -0.4, 1.2, 0.55, 0.9])
Y = np.array([0.25, -0.3, 0.35, 0.5, -0.2, 0.4])


def check(fun, *args, rtol=1e-6, atol=1e-8):
    args = [np.array(a, dtype=float) for a in args]
    value, grads = sct_gradients(fun, *args)
    assert_close(value, fun(*[a.copy() for a in args]), rtol=1e-12, atol=1e-14)
    for k, g in enumerate(grads):
        assert_close(g, numerical_gradient(fun, args, k), rtol=rtol, atol=atol, what=f"d/darg{k}")
    return grads


def directional(fun, args, dirs, h=1e-6):
    up = fun(*[a + h * d for a, d in zip(args, dirs)])
    down = fun(*[a - h * d for a, d in zip(args, dirs)])
    return (up - down) / (2 * h)


# --- a % b: the adjoint of a computed divisor ----------------------------------------------------------------
def mod_shifted(x, y):
    return np.sum(x % (y - 2.0))


def mod_named(x, y):
    z = y * 2.0 - 5.0
    return np.sum(x % z)


def mod_exp(x, y):
    return np.sum(x % np.exp(y))


def mod_negated(x, y):
    return np.sum(x % (-y))


def mod_times(x, y):
    return np.sum((x % (y - 2.0)) * y)


@pytest.mark.parametrize("fun", [mod_shifted, mod_named, mod_exp, mod_negated, mod_times])
def test_remainder_by_a_computed_divisor(fun):
    """``x % (y - 2.0)``: liveness kept only the dividend of ``%`` (from when the rule had no
    divisor adjoint), so the divisor's adjoint was computed and dropped: d/dy was 0 (``x % y``
    with y an argument was right).  d(a % b)/db = -floor(a / b)."""
    _, gy = check(fun, X, Y)
    assert np.any(gy != 0)


def test_remainder_by_a_computed_divisor_forward():
    value, tangent = jvp(lambda x, y: x % (y - 2.0), (X, Y), (np.ones(6), 0.5 * np.ones(6)))
    assert_close(np.asarray(tangent.data),
                 directional(lambda x, y: x % (y - 2.0), [X, Y], [np.ones(6), 0.5 * np.ones(6)]), atol=1e-6)


# --- np.take's mode -------------------------------------------------------------------------------------------
def take_clip(x):
    return np.sum(np.take(x, [7, -3, 0], mode="clip") ** 2)


def take_clip_axis(x):
    return np.sum(np.take(x.reshape(2, 3), [[5, -1]], axis=-1, mode="clip") * np.array([1.0, 3.0]))


def take_wrap_axis(x):
    return np.sum(np.take(x.reshape(2, 3), [4, -4], axis=1, mode="wrap") * np.array([1.0, 3.0]))


def take_clip_method(x):
    return np.sum(x.reshape(2, 3).take([3, -1], 0, mode="clip") * np.arange(6.0).reshape(2, 3))


@pytest.mark.parametrize("fun", [take_clip, take_clip_axis, take_wrap_axis, take_clip_method])
def test_take_mode(fun):
    """np.take(x, [7, -3, 0], mode='clip') reads x[5], x[0], x[0] (clip: a negative index is
    clipped to 0, not counted from the end); the adjoint ignored mode and scattered to x[-3]
    (and raised for an out-of-range index along an axis)."""
    check(fun, X)


# --- dtype= an integer type: the op truncates first ------------------------------------------------------------
def sum_int(x):
    return np.sum(x, dtype=int) * x[0]


def sum_int_method(x):
    return x.sum(dtype=int) * x[0]


def cumsum_int(x):
    return np.sum(np.cumsum(x, dtype=np.int64) * x)


def cumsum_int_method(x):
    return np.sum(x.cumsum(dtype=int) * x)


def cumprod_int(x):
    return np.sum(np.cumprod(x, dtype=int) * x)


def prod_int(x):
    return np.prod(x, dtype=int) * x[0]


def nansum_int(x):
    return np.sum(np.nansum(x, dtype=int) * x)


def trace_int(x):
    return np.trace(x[:4].reshape(2, 2), dtype=int) * x[0]


def full_int(x):
    return np.sum(np.full(2, x[0], dtype=int) * x[:2])


def full_like_int(x):
    return np.sum(np.full_like(x, x[1], dtype=int) * x)


def asarray_int(x):
    return np.sum(np.asarray(x, dtype=int) * x)


def asarray_int_positional(x):
    return np.sum(np.asarray(x, "int32") * x)


def array_int(x):
    return np.sum(np.array(x, int) * x)


def array_bool_list(x):
    return np.sum(np.array([x[0], x[1]], dtype=bool) * x[:2])


def sum_float32(x):
    return np.sum(x, dtype=np.float32) * x[0]


XI = np.array([1.3, 2.7, -0.4, 1.2, 0.45, 2.2])


@pytest.mark.parametrize("fun", [sum_int, sum_int_method, cumsum_int, cumsum_int_method, cumprod_int, prod_int,
                                 nansum_int, trace_int, full_int, full_like_int, asarray_int,
                                 asarray_int_positional, array_int, array_bool_list])
def test_integer_dtype_is_piecewise_constant(fun):
    """np.sum(x, dtype=int) converts x to int before adding (1.3 + 2.7 -> 1 + 2): piecewise
    constant in x.  The rules ignored dtype: the gradient was the float op's."""
    check(fun, XI)


def test_float_dtype_keeps_the_gradient():
    value, (g,) = sct_gradients(sum_float32, XI)
    assert_close(g, np.full(6, XI[0]) + np.eye(6)[0] * np.sum(XI, dtype=np.float32), rtol=1e-6)


@pytest.mark.parametrize("fun", [sum_int, cumsum_int, full_int, asarray_int, array_int])
def test_integer_dtype_tangent(fun):
    """Forward mode applied the linear op to the tangent (np.sum(dot_x, dtype=int): the tangent
    truncated) or transposed a rule that ignored dtype."""
    v = np.array([1.0, 0.5, -2.0, 0.25, 1.5, -1.0])
    value, tangent = jvp(fun, XI, v)
    assert_close(np.asarray(getattr(tangent, "data", tangent)), directional(fun, [XI], [v]), atol=1e-6)


def hessian_sum_int(x):
    y = np.sum(np.sum(x, dtype=int) * x ** 2)
    g = dlgradient(y, x, EnableHigherDerivatives=True)
    return np.sum(g * x)


def test_integer_dtype_second_derivative():
    """d/dx of sum(x * dL/dx) with L = sum(int-sum(x) * x**2): 4 * int-sum(x) * x."""
    _, h = dlfeval(lambda x: (hessian_sum_int(x), dlgradient(hessian_sum_int(x), x)), dlarray(XI))
    assert_close(np.asarray(h.data), 4 * np.sum(XI, dtype=int) * XI, rtol=1e-12)


# --- index methods of a traced array ---------------------------------------------------------------------------
def argmax_method(x):
    return x[x.argmax()] * 2.0


def argsort_method(x):
    return np.sum(x[x.argsort()] * np.arange(6.0))


def nonzero_method(x):
    return np.sum(x[(x > 0.5).nonzero()] ** 2)


def argmin_method(x):
    i = x.argmin()
    return x[i] + np.sum(x)


def any_all(x):
    return np.sum(x) * (x > 1.0).any() + (x > -1.0).all() * x[1]


def searchsorted_method(x):
    s = np.sort(x)
    return np.sum(s[: s.searchsorted(0.5)] ** 2)


@pytest.mark.parametrize("fun", [argmax_method, argsort_method, nonzero_method, argmin_method, any_all,
                                 searchsorted_method])
def test_index_methods_of_a_traced_array(fun):
    """x.argmax() was refused ("may change its arguments or its object in place") while
    np.argmax(x) worked; x.any() / x.all() / x.searchsorted() had no rule at all."""
    check(fun, X)


class Holder:
    def __init__(self, w):
        self.w = w

    def argmax(self):
        return self.w * 3.0

    def all(self):
        return [self.w, self.w * 2.0]


def user_argmax(x):
    h = Holder(x)
    return np.sum(h.argmax() ** 2)


def user_all(x):
    h = Holder(x)
    return np.sum(h.all()[1] ** 2)


@pytest.mark.parametrize("fun", [user_argmax, user_all])
def test_user_methods_named_like_index_methods(fun):
    """A user's class method named argmax/all is the user's code: differentiated, not taken for
    numpy's index method (a zero gradient)."""
    check(fun, X[:2])


# --- isinstance(x, dlarray) inside the transformed function ---------------------------------------------------
def isa_dlarray(x):
    y = np.sum(x ** 2) if isinstance(x, dlarray) else np.sum(x)
    return y, dlgradient(y, x)


def isa_dlarray_tuple(x):
    z = dlarray(np.ones(4))
    y = np.sum(x * z) + (1.0 if isinstance(z, (float, sct.dlarray)) else 100.0)
    return y, dlgradient(y, x)


def helper_isa(v):
    return v * 2.0 if isinstance(v, dlarray) else v


def isa_in_helper(x):
    y = np.sum(helper_isa(x) ** 2)
    return y, dlgradient(y, x)


@pytest.mark.parametrize("fun,value,grad", [
    (isa_dlarray, lambda x: np.sum(x ** 2), lambda x: 2 * x),
    (isa_dlarray_tuple, lambda x: np.sum(x) + 1.0, np.ones_like),
    (isa_in_helper, lambda x: 4 * np.sum(x ** 2), lambda x: 8 * x)])
def test_isinstance_dlarray_is_pythons_answer(fun, value, grad):
    """sct runs the function on the dlarrays' data (numpy arrays): isinstance(x, dlarray) was
    silently False (MATLAB's isa(x, 'dlarray') is true inside dlfeval): value sum(x) instead of
    sum(x ** 2), and its gradient; then refused.  Answered as Python's run on the dlarray now (isi56):
    True (value and gradient of plain Python's run, written out)."""
    x = X[:4].copy()
    y, g = dlfeval(fun, dlarray(x))
    assert_close(y.data, value(x), rtol=1e-12, atol=1e-14)
    assert_close(g.data, grad(x))


def isa_ndarray(x):
    y = np.sum(x ** 2) if isinstance(x, np.ndarray) else np.sum(x)
    return y


def test_isinstance_ndarray_follows_python():
    """A numpy function's own test (isinstance(x, np.ndarray)) of the dlarray dlfeval gives it: False, as in
    Python's run on that dlarray (isi56: was numpy's answer, True, as for numpy's arrays)."""
    def g(x):
        y = isa_ndarray(x)
        return y, dlgradient(y, x)
    y, gx = dlfeval(g, dlarray(X))
    assert_close(y.data, np.sum(X), rtol=1e-12, atol=1e-14)
    assert_close(gx.data, np.ones_like(X))


# --- dlarray(column, "C"): MATLAB's trailing singleton dimension --------------------------------------------
def test_column_with_one_label_is_a_formatted_vector():
    """MATLAB's lstm page: ``bias = dlarray(randn(4*numHiddenUnits,1),"C")`` (a column's second
    dimension is a trailing singleton); sct raised "format 'C' has 1 labels but the data has 2
    dimensions"."""
    b = dlarray(np.arange(12.0).reshape(12, 1), "C")
    assert sct.dims(b) == "C" and b.shape == (12,)
    assert sct.dims(dlarray(np.ones((2, 3, 1, 1)), "SS")) == "SS"
    with pytest.raises(ValueError):
        dlarray(np.ones((12, 2)), "C")          # a second dimension that is not a singleton


def lstm_doc_loss(x, w, r, b, h0):
    y, h, c = sct.lstm(x, h0, np.zeros((3, 1)), w, r, dlarray(b, "C"))
    loss = np.sum(y ** 2) + np.sum(h * c)
    return loss, dlgradient(loss, w, b, h0)


def test_lstm_doc_example_shapes_and_gradients():
    """MATLAB's lstm example: H0 = zeros(numHiddenUnits, 1) shared by every observation, a bias
    column labelled "C"; gradients against central differences, in the arguments' shapes."""
    rng = np.random.default_rng(0)
    x = dlarray(rng.standard_normal((2, 2, 3)), "CBT")
    w, r = rng.standard_normal((12, 2)), rng.standard_normal((12, 3))
    b, h0 = rng.standard_normal((12, 1)), rng.standard_normal((3, 1))
    _, grads = dlfeval(lstm_doc_loss, x, dlarray(w), dlarray(r), dlarray(b), dlarray(h0))

    def value(w_, b_, h0_):
        return float(dlfeval(_loss_only, x, dlarray(w_), dlarray(r), dlarray(b_), dlarray(h0_)).data)
    args = [w, b, h0]
    for k, arg in enumerate(args):
        num = numerical_gradient(value, args, k)
        assert grads[k].shape == arg.shape
        assert_close(np.asarray(grads[k].data), num, rtol=1e-5, atol=1e-7)


def _loss_only(x, w, r, b, h0):
    y, h, c = sct.lstm(x, h0, np.zeros((3, 1)), w, r, dlarray(b, "C"))
    return np.sum(y ** 2) + np.sum(h * c)


# --- y[index] op= v on a numeric array (numpy's masked and fancy in-place updates) ------------------------------
def masked_scale(x):
    y = x.copy()
    y[y < 0.5] *= 0.1
    return np.sum(y ** 2)


def fancy_add_repeated(x):
    y = x.copy()
    y[[0, 0, 1]] += x[3:]          # numpy: the last of the repeated writes wins
    return np.sum(y * np.arange(6.0))


def fancy_mul_repeated(x):
    y = x.copy()
    y[[2, 0, 2]] *= x[3:]
    return np.sum(y * np.arange(6.0))


def rows_update(x):
    y = x.reshape(2, 3).copy()
    y[:, [0, 0]] += 1.0
    y[[0, 0], [1, 1]] -= x[:2]
    return np.sum(y ** 2)


def slice_from_itself(x):
    y = x.copy()
    y[1:4] += y[0:3]
    y[y > 0.5] **= 2
    return np.sum(y * np.arange(6.0))


@pytest.mark.parametrize("fun", [masked_scale, fancy_add_repeated, fancy_mul_repeated, rows_update, slice_from_itself])
def test_item_update_of_a_numeric_array(fun):
    """``y[y < 0.5] *= 0.1`` on an array the function made was refused at run time ("y[...] may
    be an object g() did not create"): the item of a numeric array is part of it (or a copy of its
    entries), and the write into y is what sct follows."""
    check(fun, X)


def list_item_update(x):
    items = [x[:2], x[2:4]]
    items[0] *= 2.0                # changes x's own entries in place
    return np.sum(items[0] ** 2) + np.sum(x)


def test_item_update_of_a_list_still_refused():
    with pytest.raises(sct.EvaluationError):
        sct_gradients(list_item_update, X)


def shape_assignment(x):
    y = x.copy()
    y.shape = (2, 3)
    return np.sum(y * np.arange(6.0).reshape(2, 3))


def test_shape_assignment_is_refused_at_its_line():
    """``y.shape = (2, 3)`` reshapes y in place: the gradient failed with numpy's "input operand
    has more dimensions than allowed by the axis remapping" from inside sct; now refused."""
    with pytest.raises(sct.CompileError) as info:
        sct_gradients(shape_assignment, X)
    assert info.value.filename == __file__
    assert info.value.lineno == shape_assignment.__code__.co_firstlineno + 2
