"""A real value read back from a list that also holds complex values (the tape of generated code,
differentiated again for a second derivative) gets a real cotangent: |z| of a complex z in a loop."""
import numpy as np
import pytest

import sct
from sct import dlarray, dlfeval, dlgradient
from tests.gradcheck import assert_close


def abs_in_loop(x):
    total = 0.0
    for k in range(2):
        z = complex(x[0], x[1] * (k + 1))
        total = total + abs(z * z)
    return total


def np_abs_in_loop(x):
    total = 0.0
    for k in range(3):
        z = x[0:2] + 1j * x[2:4] * (k + 1)
        total = total + np.sum(np.abs(z))
    return total


def abs_and_real(x):
    total = 0.0
    for k in range(2):
        z = x[0] + 1j * x[1]
        w = z * z
        total = total + abs(w) + w.real * w.imag
    return total


def _gradient(f, y):
    return dlgradient(f(y), y)


def _hessian_times(f, y, v):
    g = dlgradient(f(y), y, EnableHigherDerivatives=True)
    return dlgradient(np.sum(g * v), y)


@pytest.mark.parametrize("f", [abs_in_loop, np_abs_in_loop, abs_and_real])
def test_nested_dlgradient_of_abs_of_complex_in_a_loop(f):
    x = np.array([0.3, -0.7, 1.1, 0.5])
    v = np.array([0.3, 0.5, -0.2, 0.7])
    h = 1e-6

    def grad(p):
        return np.asarray(dlfeval(_gradient, f, dlarray(p)))
    fd = (grad(x + h * v) - grad(x - h * v)) / (2 * h)
    hv = np.asarray(dlfeval(_hessian_times, f, dlarray(x), v))
    assert_close(hv, fd, 1e-6, 1e-7, what="Hessian-vector product")
    assert_close(np.asarray(sct.hvp(f, x, v)), fd, 1e-6, 1e-7, what="sct.hvp")
