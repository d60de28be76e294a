"""Python's ``**`` on a negative Python number with a fractional exponent makes a complex number
(``math.cos(x) ** 1.5``, ``float(v) ** 0.5``, ``pow(v, 0.5)``, ``(-2.0) ** 0.5``), numpy's (on an
array or a numpy scalar, on either side) nan.  sct proved such a power real from its real operands
and dropped the conjugate of its partial and the real projection of the base's adjoint: silently
wrong gradients (the sign of the imaginary part's derivative flipped).  A power is now proven real
only where its exponent is integral, its base a non-negative number, or either side surely numpy's
(sct/analysis.py ``Activity.power_real``; in a helper's source, ``_tree_real``); elsewhere the
adjoint decides when it runs.  Also: ``v.real`` / ``v.imag`` of a Python number (was an internal
TypeError: the attribute's adjoint was taken for an object's field)."""
import math
import os
import sys

import numpy as np
import pytest

sys.path.insert(0, os.path.dirname(__file__))
from gradcheck import assert_close, numerical_gradient  # noqa: E402

import sct  # noqa: E402
from sct import dlarray, dlfeval, dlgradient, extractdata  # noqa: E402

pytestmark = pytest.mark.filterwarnings("ignore:Casting complex values", "ignore:invalid value")


def float_power(x):
    v = float(x[0] - 1.0)
    w = v ** 1.5
    return w.imag * x[1]


def builtin_pow(x):
    v = float(x[0] - 1.0)
    w = pow(v, 0.5)
    return (w * w * w).imag * x[1]


def math_power(x):
    v = math.cos(x[0])
    return np.imag(v ** 1.5) * x[1]


def _root(v):
    return v ** 0.5


def helper_power(x):
    return np.imag(_root(math.cos(x[0]))) * x[1]


def constant_power(x):
    c = (-2.0) ** 0.5
    return np.real(np.sum(x * c) * (1 - 2j))


def item_power(x):
    v = x[0].item() - 1.0
    return np.sum(np.abs(v ** 0.5 * x))


def real_of_float(x):
    v = float(x[0] - 1.0) * 1.5
    return v.real * x[1] + v.imag


def numpy_power(x):
    # numpy's: a negative base gives nan, never complex; the real code (no run-time decision) stays
    return np.sum(np.abs(x) ** 1.5) + np.sum(x[0] ** 2.5)


CASES = [(float_power, [0.5, 0.7]), (builtin_pow, [0.5, 0.7]), (math_power, [2.5, 0.7]),
         (helper_power, [2.5, 0.7]), (constant_power, [0.3, -0.4]), (item_power, [0.5, 0.7]),
         (real_of_float, [0.5, 0.7]), (numpy_power, [0.5, 0.7])]


def _gradient(f, x):
    y = f(x)
    return y, dlgradient(y, x)


@pytest.mark.parametrize("f, x", CASES, ids=[c[0].__name__ for c in CASES])
def test_value_and_gradient(f, x):
    x = np.array(x)
    y, g = dlfeval(_gradient, f, dlarray(x.copy()))
    assert_close(extractdata(y), f(x.copy()), what=f.__name__)
    assert_close(extractdata(g), numerical_gradient(lambda a: f(a.copy()), [x.copy()], 0), what=f.__name__)
    accelerated = sct.accelerate(lambda a: _gradient(f, a))
    for shift in (0.0, 0.01):
        _, g = accelerated(dlarray(x + shift))
        assert_close(extractdata(g), numerical_gradient(lambda a: f(a.copy()), [x + shift], 0), what=f.__name__)


@pytest.mark.parametrize("f, x", CASES[:4], ids=[c[0].__name__ for c in CASES[:4]])
def test_forward_and_second_order(f, x):
    x, v, h = np.array(x), np.array([0.3, -0.8]), 1e-6
    _, t = sct.jvp(f, (x,), (v,))
    assert_close(extractdata(t), (f(x + h * v) - f(x - h * v)) / (2 * h), what=f.__name__)

    def hvp(x):
        g = dlgradient(f(x), x, EnableHigherDerivatives=True)
        s = np.sum(g * v)
        return dlgradient(s, x)

    def grad(x):
        return dlgradient(f(x), x)
    H = extractdata(dlfeval(hvp, dlarray(x.copy())))
    fd = (extractdata(dlfeval(grad, dlarray(x + h * v))) - extractdata(dlfeval(grad, dlarray(x - h * v)))) / (2 * h)
    assert_close(H, fd, what=f.__name__)


def _numpy_power_gradient(x):
    y = np.sum(np.abs(x) ** 1.5) + np.sum(x[0] ** 2.5) + np.sum(x ** 0.5)
    return y, dlgradient(y, x)


def test_numpy_power_keeps_real_code():
    source = str(sct.source(_numpy_power_gradient, dlarray(np.array([0.5, 0.7]))))
    assert "conj_of" not in source and "real_if_real" not in source
