"""Red team I (dec 25): second-order and forward mode written the way users write them.

A list of Python floats (``x.tolist()``) read by a function whose gradient is differentiated twice
more: the rule of ``nested_to_array`` (the adjoint of ``tolist``) gave ``g.tolist()``, Python
floats, and a plain 0.0 is the zero marker, which a later sweep reads as "no adjoint reached"
(runtime/support.py ``getitem_or_zero``), dropping its dependence on what made it.  A
cotangent that is zero where the next sweep differentiates it (a zero-initialised weight ``u`` of a
mixed partial; ``sct.jvp`` of a gradient function, whose transposition runs at u = 0 where forward
mode does not follow ``tolist``) then gave zeros: ``sct.jvp(lambda x: dlgradient(f(x), x), x, v)``
returned 0 for the Hessian-vector product of ``f(x) = sum(e ** 3 for e in x.tolist())``.
"""
import math

import numpy as np
import pytest

import sct
from gradcheck import numerical_gradient
from sct import dlarray, dlfeval, dlgradient

X = np.array([0.5, -1.2, 0.3, 2.0])
V = np.array([1.0, 0.5, -0.3, 0.2])


def D(v):
    return np.asarray(v.data) if type(v).__name__ == "dlarray" else np.asarray(v)


def cubes_generator(x):
    lst = x.tolist()
    return sum(e ** 3 for e in lst)


def cubes_items(x):
    l = x.tolist()
    return l[0] ** 3 + l[1] ** 3 + l[2] ** 3 + l[3] ** 3


def cubes_comprehension(x):
    return sum([e ** 3 for e in x.tolist()])


def cubes_loop(x):
    s = 0.0
    for e in x.tolist():
        s = s + e ** 3
    return s


def cubes_nested(x):
    m = x.reshape(2, 2).tolist()
    return m[0][0] ** 3 + m[0][1] ** 3 + m[1][0] ** 3 + math.pow(m[1][1], 3)


FUNCTIONS = [cubes_generator, cubes_items, cubes_comprehension, cubes_loop, cubes_nested]


def hessian_vector_fd(f, x, v, h=1e-5):
    grad = lambda y: numerical_gradient(f, [y], 0)          # noqa: E731
    return (grad(x + h * v) - grad(x - h * v)) / (2 * h)


@pytest.mark.parametrize("f", FUNCTIONS)
def test_jvp_of_a_gradient_reading_tolist(f):
    def gradient(x):
        return dlgradient(f(x), x)
    want = 6 * X * V                                    # the closed form; differences agree
    np.testing.assert_allclose(hessian_vector_fd(f, X.copy(), V), want, rtol=1e-3, atol=1e-4)
    for mode in ("forward", "transpose"):
        value, jv = sct.jvp(gradient, X, V, mode=mode)
        np.testing.assert_allclose(D(value), 3 * X ** 2, rtol=1e-12, err_msg=mode)
        np.testing.assert_allclose(D(jv), want, rtol=1e-12, atol=1e-14, err_msg=mode)
    np.testing.assert_allclose(D(sct.hvp(f, X, V)), want, rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize("f", FUNCTIONS)
def test_mixed_partial_at_a_zero_weight(f):
    def mixed(x, u, v):
        y = dlgradient(f(x), x)
        g = dlgradient(np.sum(u * y), x)              # H u
        return g, dlgradient(np.sum(g * v), u)        # H v
    want = 6 * X * V
    np.testing.assert_allclose(hessian_vector_fd(f, X.copy(), V), want, rtol=1e-3, atol=1e-4)
    for u in (np.zeros(4), np.array([0.0, 0.3, 0.0, -0.4])):
        g, hv = dlfeval(mixed, dlarray(X), dlarray(u), V)
        np.testing.assert_allclose(D(g), 6 * X * u, rtol=1e-12, atol=1e-14)
        np.testing.assert_allclose(D(hv), want, rtol=1e-12, atol=1e-14)


def test_float32_stays_float32():
    x, v = X.astype(np.float32), V.astype(np.float32)
    value, jv = sct.jvp(lambda x: dlgradient(cubes_items(x), x), x, v, mode="transpose")
    assert D(jv).dtype == np.float32 and D(value).dtype == np.float32
    np.testing.assert_allclose(D(jv), 6 * x * v, rtol=1e-5)
