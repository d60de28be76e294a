"""Fixes of dec6 (wt-red32), each against plain Python (values) and central differences or a closed
form (gradients): second sweeps where a dict item's adjoint was a plain 0.0, NaN gradients where a
NaN or inf value is replaced, tangent dtypes in forward mode, refusals inside library callees."""
import numpy as np
import pytest

import sct
from sct import dlarray, dlfeval, dlgradient, extractdata

from gradcheck import assert_close, numerical_gradient

A3 = np.array([0.3, -0.8, 1.2])
W3 = np.array([0.3, -0.7, 1.1])


def _np(v):
    return np.asarray(extractdata(v)) if type(v).__name__ == "dlarray" else np.asarray(v)


def _second(first, a, w, *rest):
    """d/da <w, first(a, *rest)> by central differences of sct's first derivative."""
    h = 1e-5
    return np.array([np.sum((first(a + h * e, *rest) - first(a - h * e, *rest)) * w) / (2 * h)
                     for e in np.eye(a.size)]).reshape(a.shape)


# --- 1. second order through a dict filled in a loop with np.diag: the second sweep added two
#        zero markers read from the dict's adjoint (`d + rt.unbroadcast(rt.masked(rt.getitem_or_zero(...))))`),
#        a plain 0.0 the `is not rt.ZERO` tests took for an adjoint: np.diag's rule got 0.0 (IndexError)

def _dict_diag(a, c):
    d2 = {}
    for i in range(3):
        d2['k' + str(i)] = np.diag(np.eye(3) * c)
    return np.sum(d2['k0'] * a ** 2)


def _dict_diag_first(a, c):
    return dlgradient(_dict_diag(a, c), a, EnableHigherDerivatives=True)


def _dict_diag_second(a, c, w):
    return dlgradient(np.sum(_dict_diag_first(a, c) * w), a, c)


def _dict_rows(a):
    d = {}
    for i in range(2):
        d[i] = np.diagonal(np.outer(a, a) * (i + 1))
    return np.sum(np.sin(d[1]))


def _dict_rows_second(a, w):
    g = dlgradient(_dict_rows(a), a, EnableHigherDerivatives=True)
    return dlgradient(np.sum(g * w), a)


def test_dict_of_diag_in_loop_second_order_exact():
    ga, gc = dlfeval(_dict_diag_second, dlarray(A3), dlarray(np.array(0.7)), W3)
    # d/da <2 c a, w> = 2 c w; d/dc <2 c a, w> = 2 <a, w>
    assert_close(_np(ga), 1.4 * W3, 1e-12, 1e-12)
    assert_close(_np(gc), 2 * np.sum(A3 * W3), 1e-12, 1e-12)


def test_dict_of_diagonal_second_order_against_differences():
    def first(a):
        return _np(dlfeval(lambda x: dlgradient(_dict_rows(x), x), dlarray(a)))
    got = _np(dlfeval(_dict_rows_second, dlarray(A3), W3))
    # closed form: L = sum sin(2 a^2), dL/da = 4 a cos(2 a^2), d2 = 4 cos(2a^2) - 16 a^2 sin(2a^2)
    assert_close(got, (4 * np.cos(2 * A3 ** 2) - 16 * A3 ** 2 * np.sin(2 * A3 ** 2)) * W3, 1e-10, 1e-12)
    assert_close(got, _second(first, A3, W3), 1e-5, 1e-7)
