"""Helpers of the same file that take gradients are read in place (sct/inline_helpers.py), so their
dlgradient differentiates through the caller's code as MATLAB's trace does; where that would put
a gradient differentiated again inside a loop (called in a loop, or looping themselves) they
stay calls with their own pair, as before."""
import numpy as np
import pytest

from sct import dlarray, dlfeval, dlgradient, extractdata
from gradcheck import assert_close, numerical_gradient


def f(x):
    return np.sum(np.sin(x) * x ** 2)


def grad_f(x):
    y = f(x)
    return dlgradient(y, x, EnableHigherDerivatives=True)


def grad_of(y, x):
    return dlgradient(y, x, EnableHigherDerivatives=True)


def partial(x, z):
    return dlgradient(np.sum(x * z), x)


def total_through_argument(x):
    return partial(x, x ** 2)                       # MATLAB: d/dx sum(x * x**2) = 3x**2


def caller_made_y(x):
    y = np.sum(np.exp(x) * x)
    g = grad_of(y, x)
    return np.sum(g ** 2), g


def penalty_of_caller_made_y(x):
    s, g = caller_made_y(x)
    return s, dlgradient(s, x)


def hessian_rows(x):
    rows = []
    for i in range(3):
        g = grad_f(x)
        rows.append(dlgradient(g[i], x))
    return np.stack(rows)


def penalty_in_loop(x):
    total = 0.0
    for k in range(2):
        g = grad_f(x * (k + 1))
        total = total + np.sum(g ** 2)
    return total, dlgradient(total, x)


X = np.array([0.3, -0.7, 1.1])


def _np(v):
    return np.asarray(extractdata(v))


def gf(v):
    return np.sin(v) * 2 * v + v ** 2 * np.cos(v)


def test_the_gradient_follows_the_callers_arguments():
    assert_close(_np(dlfeval(total_through_argument, dlarray(X))), 3 * X ** 2, 1e-12, 1e-12)


def test_a_y_made_by_the_caller_and_its_second_derivative():
    s, h = dlfeval(penalty_of_caller_made_y, dlarray(X))
    g = np.exp(X) * (X + 1)
    assert_close(_np(s), np.sum(g ** 2), 1e-12, 1e-12)
    assert_close(_np(h), numerical_gradient(lambda v: np.sum((np.exp(v) * (v + 1)) ** 2), [X], 0), 1e-6, 1e-6)


def test_gradient_helpers_in_loops_stay_calls():
    H = _np(dlfeval(hessian_rows, dlarray(X)))
    expected = np.diag(2 * np.sin(X) + 4 * X * np.cos(X) - X ** 2 * np.sin(X))
    assert_close(H, expected, 1e-10, 1e-12)
    total, g = dlfeval(penalty_in_loop, dlarray(X))
    plain = lambda v: sum(np.sum(gf(v * (k + 1)) ** 2) for k in range(2))   # noqa: E731
    assert_close(_np(total), plain(X), 1e-12, 1e-12)
    assert_close(_np(g), numerical_gradient(plain, [X], 0), 1e-6, 1e-6)
