"""red57c W1, W2 (isi4_57): type tests of values whose Python type differs from what their kinds or numpy's
answer say.

W1: a number (or ndarray) made from a traced value (``float(y)``, ``y.item()``, ``math.sqrt(float(y))``,
``np.asarray(x)``) given to a helper: the helper's kinds said traced ("dl"), its type tests answered as for a
dlarray (``isinstance(v, float)`` False where Python's is True: 15 and [6, -12] where 10 and [4, -8]).  Now the
call is unsure (rt.unsure_types): a Python number is tested as it is, numpy's data refused at the helper's line.
W2: ``np.zeros_like(x)``, ``np.isfinite(x)``, ``np.all(x > 0)``, ``(x > 0).all()`` of a dlarray are dlarrays in
Python (a 0-d one of all/any); the inline type test answered numpy's way.
"""
import math

import numpy as np
import pytest

import sct
from sct import dlarray, dlfeval, dlgradient
from gradcheck import assert_close, numerical_gradient

X = np.array([1.0, -2.0])


def as_float(v):
    return v if isinstance(v, float) else -1.0


def scale(v):
    return 2.0 if isinstance(v, float) else 3.0


def scale_type(v):
    return 2.0 if type(v) is float else 3.0


def ndarray_scale(v):
    return 2.0 if type(v) is np.ndarray else 3.0


def _value(y):
    return float(np.asarray(y.data if isinstance(y, dlarray) else y))


def _check(f, x=X):
    """value as plain Python's f on a dlarray, gradient as central differences, plain and accelerated."""
    def g(x):
        y = f(x)
        return y, dlgradient(y, x)
    expected = _value(f(dlarray(x)))
    grad = numerical_gradient(lambda a: _value(f(dlarray(a))), [x.copy()], 0)
    for run in (lambda: dlfeval(g, dlarray(x)), lambda: sct.accelerate(g)(dlarray(x))):
        y, d = run()
        assert_close(_value(y), expected, what="value")
        assert_close(np.asarray(d.data), grad, what="gradient")


def w1_float(x):
    s = float(np.sum(x))
    return np.sum(x * x) * scale(s)


def w1_float_inline_arg(x):
    return np.sum(x * x) * scale(float(np.sum(x)))


def w1_item(x):
    return np.sum(x * x) * scale_type(np.sum(x).item())


def w1_sqrt(x):
    return np.sum(x * x) * scale(math.sqrt(float(np.sum(x * x))))


def w1_max_abs(x):
    s = float(np.sum(x))
    return np.sum(x * x) * scale(max(abs(s), 0.0))


def w1_returned(x):
    y = np.sum(x ** 2)
    return y + as_float(float(y))


@pytest.mark.parametrize("f", [w1_float, w1_float_inline_arg, w1_item, w1_sqrt, w1_max_abs, w1_returned])
def test_w1_number_from_traced_value_given_to_a_type_testing_helper(f):
    _check(f)


def test_w1_returned_number_is_pythons():
    def f(x):
        y = np.sum(x ** 2)
        b = as_float(float(y))
        return y, dlgradient(y, x), b
    _, _, b = dlfeval(f, dlarray(np.array([1.0, 2.0])))
    assert type(b) is float and b == 5.0


def w1_asarray(x):
    a = np.asarray(x)
    return np.sum(x * x) * ndarray_scale(a)


def w1_np_float64(x):
    return np.sum(x * x) * scale(np.float64(np.sum(x)))


@pytest.mark.parametrize("f", [w1_asarray, w1_np_float64])
def test_w1_numpy_value_given_to_a_type_testing_helper_right_or_refused(f):
    """np.asarray(x), np.float64(..): numpy's in Python, the code's data of a dlarray to the helper: right or
    refused at the helper's line naming the test."""
    try:
        _check(f)
    except sct.EvaluationError as e:
        assert "type(...)" in str(e) or "isinstance(...)" in str(e)
        assert "test_isi4_57_s57.py, line 36" in str(e) or "test_isi4_57_s57.py, line 28" in str(e), str(e)


def w2_zeros_like(x):
    z = np.zeros_like(x)
    return np.sum(x * x) * (2.0 if isinstance(z, dlarray) else 3.0)


def w2_ones_like_type(x):
    return np.sum(x * x) * (2.0 if type(np.ones_like(x)) is np.ndarray else 3.0)


def w2_isfinite(x):
    m = np.isfinite(x)
    return np.sum(x * x) * (2.0 if isinstance(m, np.ndarray) else 3.0)


def w2_all(x):
    ok = np.all(x > 0)
    return np.sum(x * x) * (2.0 if isinstance(ok, (bool, np.bool_)) else 3.0)


def w2_any_method(x):
    ok = (x > 0).any()
    return np.sum(x * x) * (2.0 if isinstance(ok, (bool, np.bool_)) else 3.0)


def w2_zeros_like_int(x):
    z = np.zeros_like(x, dtype=int)         # numpy's ndarray in Python
    return np.sum(x * x) * (2.0 if isinstance(z, np.ndarray) else 3.0)


@pytest.mark.parametrize("f", [w2_zeros_like, w2_ones_like_type, w2_isfinite, w2_all, w2_any_method,
                               w2_zeros_like_int])
def test_w2_numpy_results_that_are_dlarrays_in_python(f):
    _check(f)
    _check(f, np.array([1.0, 2.0]))
