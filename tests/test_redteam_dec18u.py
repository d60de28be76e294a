"""Red team dec18u: a differential random-program generator (tests/redteam_dec18u_gen.py) and the
bugs it (and its predecessor) found, each with a minimal program checked against plain Python and
finite differences."""
from collections import namedtuple

import numpy as np
import pytest

import sct
from sct import dlarray, dlfeval, dlgradient, extractdata

from gradcheck import assert_close, numerical_gradient

X = np.array([1.7, 0.6, -0.4])
P = namedtuple("P", "w b")


def D(v):
    return np.asarray(extractdata(v)) if type(v).__name__ == "dlarray" else np.asarray(v)


# --- 1. np.add.at sums into the target's dtype (numpy's unsafe cast), derivative to match -------

def add_at_int(x):
    z = np.zeros(3, dtype=np.int64)
    np.add.at(z, np.array([0, 1, 1]), x)
    return np.sum(z * x)


def add_at_float32(x):
    z = np.zeros(3, dtype=np.float32)
    np.add.at(z, np.array([0, 1, 1]), x)
    return np.sum(z * x)


def add_at_bool(x):
    z = np.zeros(3, dtype=bool)
    np.add.at(z, [0, 2], x[:2])
    return np.sum(z * x)


def _first(f, x):
    y = f(x)
    return y, dlgradient(y, x)


def _second(f, x):
    y = f(x)
    g = dlgradient(y, x, EnableHigherDerivatives=True)
    z = np.sum(g ** 2)
    return z, dlgradient(z, x)


@pytest.mark.parametrize("f", [add_at_int, add_at_bool])
def test_add_at_into_an_integer_array_truncates_and_is_constant(f):
    # sct summed in float64 (add_at_int gave 8.61 and [3.4, 4.8, 2.6]; numpy: 4.3 and [1, 1, 0])
    y, g = dlfeval(_first, f, dlarray(X))
    assert_close(D(y), f(X.copy()), rtol=1e-14)
    z = np.zeros(3, dtype=np.int64 if f is add_at_int else bool)
    np.add.at(z, [0, 1, 1] if f is add_at_int else [0, 2], X if f is add_at_int else X[:2])
    assert_close(D(g), z.astype(float))       # z is piecewise constant in x
    assert D(g).dtype == np.float64


def test_add_at_into_float32_rounds_as_numpy():
    y, g = dlfeval(_first, add_at_float32, dlarray(X))
    assert D(y) == add_at_float32(X.copy())    # float32 sums, then the float64 product
    z = np.zeros(3, dtype=np.float32)
    np.add.at(z, [0, 1, 1], X)
    z = z.astype(float)      # z0 = x0, z1 = x1 + x2 rounded to float32; y = z0 x0 + z1 x1
    want = np.array([z[0] + X[0], z[1] + X[1], X[1]])
    assert_close(D(g), want, rtol=1e-12)
    z2, h = dlfeval(_second, add_at_float32, dlarray(X))
    assert_close(D(z2), np.sum(want ** 2), rtol=1e-12)
    H = np.array([[2.0, 0, 0], [0, 2, 1], [0, 1, 0]])      # the Hessian of y (float32 rounding: slope 1)
    assert_close(D(h), 2 * H @ want, rtol=1e-12)
