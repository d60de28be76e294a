"""``np.copyto(z, v, where=mask)`` and ``np.copyto(z, v, casting=...)`` of an array the function made:
the new values are ``rt.into_where(v, z, mask)`` (v where the mask holds, z's own entries elsewhere)
and ``rt.into(v, z, casting)``.  Were refused with a message that said z had to be an unshared array
of this function, which it was.  And a value cast into an integer array by ``casting="unsafe"``
passes no gradient (truncated: a constant); its gradient was passed through as if nothing were cast.
Values against plain Python, gradients against finite differences, first and second order."""
import numpy as np
import pytest

from sct import EvaluationError, dlarray, dlfeval, dlgradient
from gradcheck import check_grads, check_two_inputs


def where_mask_of_values(x):
    a = np.zeros(3)
    np.copyto(a, x ** 2, where=x > 0)
    return np.sum(a * x)


def where_constant_mask(x):
    a = x * 3.0
    np.copyto(a, np.sin(x), where=np.array([True, False, True]))
    return np.sum(a ** 2)


def where_list_broadcast_value(x):
    a = x * 2.0
    np.copyto(a, x[:1] * 5.0, where=[False, True, True])
    return np.sum(a ** 2)


def where_column_mask(x):
    a = np.ones((2, 3))
    np.copyto(a, x, where=np.array([[True], [False]]))
    return np.sum(a * np.cos(x))


def where_keyword_src(x):
    a = np.tanh(x)
    np.copyto(a, src=x ** 3, where=np.abs(x) < 1.0)
    return np.sum(a * x)


@pytest.mark.parametrize("fun", [where_mask_of_values, where_constant_mask, where_list_broadcast_value,
                                 where_column_mask, where_keyword_src])
def test_where(fun):
    x = np.array([0.5, -1.2, 2.0])
    check_grads(fun, x)
    check_grads(fun, np.array([-0.3, 0.8, 0.1]))


def two_inputs(x, t):
    a = x * t
    np.copyto(a, np.sin(t) * x, where=np.array([True, False, True]))
    b = np.zeros(3)
    np.copyto(b, a ** 2, casting="same_kind")
    return np.sum(b * t) + np.sum(a)


def test_second_order():
    check_two_inputs(two_inputs, np.array([0.5, -1.2, 2.0]), np.array([0.3, 0.7, -0.4]))


def test_casting_same_kind_into_float32():
    def f(x):
        a = np.zeros(3, dtype=np.float32)
        np.copyto(a, x, casting="same_kind")
        y = np.sum(a.astype(np.float64) * x)
        return y, dlgradient(y, x)
    x = np.array([0.5, -1.2, 2.0])
    y, g = dlfeval(f, dlarray(x))
    a = x.astype(np.float32).astype(np.float64)
    np.testing.assert_allclose(float(y), np.sum(a * x), rtol=1e-12)
    # d/dx of a(x) * x where a rounds x to float32: a + x (the adjoint of a is a float32 array)
    np.testing.assert_allclose(np.asarray(g.data), a + x, rtol=1e-7)


def test_unsafe_cast_into_integers_passes_no_gradient():
    def f(x):
        a = np.zeros(3, dtype=np.int64)
        np.copyto(a, x * 10, casting="unsafe")
        y = np.sum(a * x)
        return y, dlgradient(y, x)
    x = np.array([0.5, -1.2, 2.0])
    y, g = dlfeval(f, dlarray(x))
    a = np.zeros(3, dtype=np.int64)
    np.copyto(a, x * 10, casting="unsafe")
    np.testing.assert_allclose(float(y), np.sum(a * x), rtol=1e-12)
    np.testing.assert_allclose(np.asarray(g.data), a)          # was 20 x: the cast ignored


def test_casting_errors_as_numpy():
    def f(x):
        a = np.zeros(3, dtype=np.int64)
        np.copyto(a, x * 10)                       # same_kind: float64 into int64 refused by numpy
        y = np.sum(a * x)
        return y, dlgradient(y, x)
    with pytest.raises(EvaluationError, match="Cannot cast array data from dtype\\('float64'\\) to dtype\\('int64'\\)"):
        dlfeval(f, dlarray(np.array([0.5, -1.2, 2.0])))

    def g(x):
        a = x * 1.0
        np.copyto(a, x * 2.0, where=np.array([1, 0, 1]))   # an integer mask: numpy refuses it
        y = np.sum(a)
        return y, dlgradient(y, x)
    with pytest.raises(EvaluationError, match="to dtype\\('bool'\\)"):
        dlfeval(g, dlarray(np.array([0.5, -1.2, 2.0])))
