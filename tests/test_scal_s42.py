"""Red-team findings in scalar specialisation (sct/scalars.py), session s42.

A float that starts as a Python float (``s = 0.0``, ``s = 1.0``) and becomes a numpy float64 in a
loop is a Python float in the plain code where the loop runs no step; ``1.0 / s``, ``s / n`` of
two Python numbers then raise ZeroDivisionError, where the specialised code (all Python floats,
its division by ``rt.scalar_divide``: numpy's inf/nan) gave inf or nan silently.  Each test runs
the same function in plain Python and through dlfeval: the same value (or an sct refusal where
Python raises), and gradients against central differences where the value is defined.
"""
import numpy as np
import pytest

import sct
from sct import dlarray, dlfeval, dlgradient

from gradcheck import assert_close, numerical_gradient


def mean_value(a, n):
    s = 0.0
    for i in range(n):
        s = s + a
    return s / n + a


def mean_grad(a, n):
    s = 0.0
    for i in range(n):
        s = s + a
    y = s / n + a
    return y, dlgradient(y, a)


def recip_value(x, n):
    s = 0.0
    for i in range(n):
        s = s + x[i]
    return 1.0 / s + x[0]


def recip_grad(x, n):
    s = 0.0
    for i in range(n):
        s = s + x[i]
    y = 1.0 / s + x[0]
    return y, dlgradient(y, x)


def product_value(a, n):
    s = 1.0
    for i in range(n):
        s = s * a
    return 1.0 / (s - 1.0) + a


def product_grad(a, n):
    s = 1.0
    for i in range(n):
        s = s * a
    y = 1.0 / (s - 1.0) + a
    return y, dlgradient(y, a)


CASES = [
    ("mean of no terms", mean_value, mean_grad, np.array(0.3)),
    ("reciprocal of an empty sum of elements", recip_value, recip_grad, np.array([0.3, 0.7])),
    ("reciprocal of an empty product minus one", product_value, product_grad, np.array(0.3)),
]


@pytest.mark.parametrize("what, value, grad, x", CASES, ids=[c[0] for c in CASES])
def test_python_float_divided_by_zero_refused_as_python_raises(what, value, grad, x):
    # plain Python: the loop runs no step, s is the Python float it started as: 0.0 / 0, 1.0 / 0.0
    with pytest.raises(ZeroDivisionError):
        value(x, 0)
    # sct gave nan (mean) or inf (reciprocals) here, with gradients, instead of raising
    with pytest.raises(sct.errors.SctError, match="ZeroDivisionError"):
        dlfeval(grad, dlarray(x), 0)


@pytest.mark.parametrize("what, value, grad, x", CASES, ids=[c[0] for c in CASES])
def test_python_float_division_values_and_gradients_where_defined(what, value, grad, x):
    n = x.size if x.ndim else 3
    y, g = dlfeval(grad, dlarray(x), n)
    ref = value(x, n)
    assert np.asarray(y.data).dtype == np.float64
    assert float(y.data) == float(ref)
    num = numerical_gradient(lambda v: value(v, n), [x], 0)
    assert g.data.dtype == x.dtype and g.data.shape == x.shape
    assert_close(g.data, num, rtol=1e-5, atol=1e-6, what=what)


def test_accumulator_divided_by_numpy_zero_still_gives_numpy_inf():
    # the loop ran: s is numpy's float64, so s / 0.0 is numpy's (inf, no exception) in both
    def value(x, k):
        s = 0.0
        for i in range(2):
            s = s + x[i]
        return s / (k - 1.0) + x[0]

    def grad(x, k):
        s = 0.0
        for i in range(2):
            s = s + x[i]
        y = s / (k - 1.0) + x[0]
        return y, dlgradient(y, x)

    x = np.array([0.3, 0.7])
    with np.errstate(all="ignore"):
        ref = value(x, 1.0)
        y, g = dlfeval(grad, dlarray(x), 1.0)
    assert np.isinf(ref) and float(y.data) == float(ref)


# --- an int computed at run time compared with a specialised float ---------------------------------
# numpy compares a float64 with a Python int by converting the int to float64; Python compares a
# float with an int exactly.  Beyond 2**53 the two differ (np.float64(2.0**60) < 2**60 + 1 is False,
# 2.0**60 < 2**60 + 1 is True); sct compared the specialised Python float exactly: the other branch.

def power_of_two_value(x):
    k = 1
    for i in range(60):
        k = k * 2
    k = k + 1
    if x[0] < k:
        y = x[0] * 2.0
    else:
        y = x[0] * 3.0
    return y


def power_of_two_grad(x):
    k = 1
    for i in range(60):
        k = k * 2
    k = k + 1
    if x[0] < k:
        y = x[0] * 2.0
    else:
        y = x[0] * 3.0
    return y, dlgradient(y, x)


def factorial_value(a):
    fact = 1
    for i in range(1, 25):
        fact = fact * i
    if a >= fact:
        return a * a
    return a


def factorial_grad(a):
    fact = 1
    for i in range(1, 25):
        fact = fact * i
    if a >= fact:
        y = a * a
    else:
        y = a
    return y, dlgradient(y, a)


@pytest.mark.parametrize("value, grad, x, dx", [
    (power_of_two_value, power_of_two_grad, np.array([2.0 ** 60, 1.0]), np.array([3.0, 0.0])),
    (factorial_value, factorial_grad, np.array(float(np.prod(np.arange(1, 25, dtype=object)))),
     np.array(2 * float(np.prod(np.arange(1, 25, dtype=object))))),
], ids=["elements vs 2**60 + 1", "0-d vs 24!"])
def test_big_runtime_int_compared_as_numpy_does(value, grad, x, dx):
    ref = value(x)                       # numpy: the int rounded to float64 (the else branch / a*a)
    y, g = dlfeval(grad, dlarray(x))
    assert float(y.data) == float(ref)
    assert g.data.dtype == x.dtype and g.data.shape == x.shape
    assert_close(g.data, dx, rtol=1e-12, atol=0, what="gradient of the branch numpy takes")


def test_range_index_compared_with_elements_still_specialised_and_right():
    def value(x):
        s = 0.0
        for i in range(3):
            if x[i] > i:
                s = s + x[i] * i
        return s

    def grad(x):
        s = 0.0
        for i in range(3):
            if x[i] > i:
                s = s + x[i] * i
        return s, dlgradient(s, x)

    x = np.array([0.5, 1.5, 1.0])
    y, g = dlfeval(grad, dlarray(x))
    assert float(y.data) == float(value(x))
    assert_close(g.data, numerical_gradient(value, [x], 0), what="range index compare")
    assert "rt.scalar_elements" in sct.source(grad, dlarray(x))
