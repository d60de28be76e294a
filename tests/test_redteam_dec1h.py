"""Red team (Dec 1, h): programs written the way users write them, values against plain Python and
gradients against central differences."""
from __future__ import annotations

import numpy as np
import pytest

import sct
from sct import SctError, dlarray, dlfeval, dlgradient, extractdata
from gradcheck import assert_close, numerical_gradient

W = np.array([1.0, -2.0, 0.5])
X = np.array([[0.37, -1.21, 0.74], [1.13, 0.48, -0.66]])


# --- 1. sorted(..., key=lambda ...): the sweep calls the key, a nested def of the forward code ----
# (was: NameError 's_lambda' is not defined while computing the gradient)

def sorted_by_key(x):
    rows = [x[0], x[1] * 2.0, x[0] - x[1]]
    s = sorted(rows, key=lambda r: float(np.sum(r * W)))
    return np.sum(s[0] ** 2) + np.sum(s[-1] * W)


def sorted_by_key_grad(x):
    rows = [x[0], x[1] * 2.0, x[0] - x[1]]
    s = sorted(rows, key=lambda r: float(np.sum(r * W)))
    y = np.sum(s[0] ** 2) + np.sum(s[-1] * W)
    return y, dlgradient(y, x)


def sorted_in_loop(x):
    total = 0.0
    for i in range(3):
        rows = [x[0] * (i + 1.0), x[1], x[0] - x[1]]
        s = sorted(rows, key=lambda r: float(np.sum(r * W)), reverse=(i == 1))
        total = total + np.sum(s[0] ** 2) + np.sum(s[-1] * W)
    return total


def sorted_in_loop_grad(x):
    total = 0.0
    for i in range(3):
        rows = [x[0] * (i + 1.0), x[1], x[0] - x[1]]
        s = sorted(rows, key=lambda r: float(np.sum(r * W)), reverse=(i == 1))
        total = total + np.sum(s[0] ** 2) + np.sum(s[-1] * W)
    return total, dlgradient(total, x)


def sorted_by_def_key_grad(x):
    def key(r):
        return float(np.sum(r))
    rows = [x[0], x[1] * 2.0]
    s = sorted(rows, key=key)
    y = np.sum(s[-1] ** 2) + np.sum(min(rows, key=key) * W)
    return y, dlgradient(y, x)


def sorted_by_def_key(x):
    def key(r):
        return float(np.sum(r))
    rows = [x[0], x[1] * 2.0]
    s = sorted(rows, key=key)
    return np.sum(s[-1] ** 2) + np.sum(min(rows, key=key) * W)


def sorted_through_helper_grad(x):
    y = sorted_in_loop(x)
    return y, dlgradient(y, x)


@pytest.mark.parametrize("plain, graded", [(sorted_by_key, sorted_by_key_grad),
                                           (sorted_in_loop, sorted_in_loop_grad),
                                           (sorted_by_def_key, sorted_by_def_key_grad),
                                           (sorted_in_loop, sorted_through_helper_grad)])
def test_sorted_with_a_lambda_key(plain, graded):
    for _ in range(2):
        y, g = dlfeval(graded, dlarray(X))
        assert_close(extractdata(y), plain(X), what="value")
        assert_close(extractdata(g), numerical_gradient(plain, [X], 0), rtol=1e-5, atol=1e-6, what="gradient")


def sorted_key_second(x):
    c = x[1]
    rows = [x[0], x[1] * 2.0, x[0] * 0.5]
    s = sorted(rows, key=lambda r: float(np.sum((r - c) ** 2)))
    y = np.sum(s[0] * s[1] ** 2)
    g = dlgradient(y, x, EnableHigherDerivatives=True)
    z = np.sum(g * g)
    return z, dlgradient(z, x)


def test_sorted_with_a_lambda_key_second_order():
    def plain(v):
        rows, c = [v[0], v[1] * 2.0, v[0] * 0.5], v[1]
        s = sorted(rows, key=lambda r: float(np.sum((r - c) ** 2)))
        return np.sum(s[0] * s[1] ** 2)

    def first(v):
        return numerical_gradient(plain, [v], 0, 1e-5)
    z, g = dlfeval(sorted_key_second, dlarray(X))
    assert_close(extractdata(z), np.sum(first(X) ** 2), rtol=1e-4, atol=1e-4)
    assert_close(extractdata(g), numerical_gradient(lambda v: np.sum(first(v) ** 2), [X], 0, 1e-4),
                 rtol=1e-3, atol=1e-3)
