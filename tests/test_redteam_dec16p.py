"""Red team, Dec 16 (P): an independent random program generator (straight-line numpy with
broadcasting over (n,1)/(1,m)/() shapes, reductions with axis/keepdims, kinks avoided, for/while
loops with data-dependent trip counts, if/else on Python and array values, module-level and nested
helpers, closures, list/dict accumulation, tuple unpacking, augmented assignment on arrays and
slices, names rebound to other shapes, concatenate/stack/reshape/transpose, matmul, index arrays,
math on floats, early returns; each program run through dlfeval and dlaccelerate, the latter with
other inputs of the same and of other shapes of the same rank), checked for values against plain
Python and gradients against central differences.  About 1500 programs; no silently wrong value or
gradient was found.  What was found (internal errors, now fixed):

- np.triu / np.tril of a 1-d array (numpy makes the (n, n) matrix whose rows are the vector): the
  rule returned an (n, n) gradient for the (n,) input, a ValueError inside sct reported at the
  line before (runtime/numpy_ops.py triu/tril: the rows summed for a 1-d input).
- np.pad of a 0-d array (numpy returns its value, no axis padded): the rule indexed the 0-d
  cotangent, a ValueError inside sct (runtime/numpy_ops.py pad: the cotangent itself).
"""
import os
import sys

import numpy as np
import pytest

sys.path.insert(0, os.path.dirname(__file__))
from gradcheck import assert_close, numerical_gradient  # noqa: E402
from test_redteam_dec14i import check  # noqa: E402

import sct  # noqa: E402
from sct import dlarray, dlfeval, dlgradient, extractdata  # noqa: E402


def _value_and_grads(x, y, fun):
    loss = fun(x, y)
    gx, gy = dlgradient(loss, x, y)
    return loss, gx, gy


def check2(fun, x, y, accelerate=False):
    """Value against plain Python, both gradients against central differences."""
    x = np.array(x, dtype=float)
    y = np.array(y, dtype=float)
    if accelerate:
        run = sct.dlaccelerate(_value_and_grads)
        loss, gx, gy = run(dlarray(x.copy()), dlarray(y.copy()), fun)
    else:
        loss, gx, gy = dlfeval(_value_and_grads, dlarray(x.copy()), dlarray(y.copy()), fun)
    assert_close(extractdata(loss), fun(x.copy(), y.copy()), rtol=1e-12, atol=1e-12, what="value")
    plain = lambda a, b: fun(a.copy(), b.copy())
    assert_close(extractdata(gx), numerical_gradient(plain, [x.copy(), y.copy()], 0), what="d/dx")
    assert_close(extractdata(gy), numerical_gradient(plain, [x.copy(), y.copy()], 1), what="d/dy")


# --- np.triu / np.tril of a vector -----------------------------------------------------------------

def triu_of_row(x, y):
    v = x[-1] * 2.0
    return np.sum(np.triu(v) * np.arange(9).reshape(3, 3)) + np.sum(y)


def tril_of_row(x, y):
    v = x[-1] * 2.0
    return np.sum(np.tril(v, -1) * np.arange(9).reshape(3, 3)) + np.sum(y) * np.sum(v)


def triu_after_slice_write(x, y):
    # the generated program it was found in: the error was reported at the write's line
    v = x[-1]
    w = v.copy()
    w[::2] -= 1.0
    t = np.triu(w, 1)
    return np.sum(t * t) + np.sum(np.sin(y))


def triu_vector(x):
    return np.sum(np.sin(np.triu(x * x, 1)) * np.arange(16).reshape(4, 4))


@pytest.mark.parametrize("fun", [triu_of_row, tril_of_row, triu_after_slice_write])
@pytest.mark.parametrize("accelerate", [False, True])
def test_triu_tril_of_vector(fun, accelerate):
    rng = np.random.default_rng(3)
    check2(fun, rng.standard_normal((2, 3)), rng.standard_normal((1, 4)), accelerate)


def test_triu_vector_second_order():
    check(triu_vector, np.array([0.3, -0.7, 1.1, 0.4]))


# --- np.pad of a 0-d array ---------------------------------------------------------------------------

def pad_of_scalar(x, y):
    s = np.sum(x * y)
    p = np.pad(s, 1)
    return np.sum(p * p) + np.sum(np.pad(np.sum(y), 2, mode="edge")) * 3.0


def pad_scalar_one(x):
    return np.sum(np.pad(np.sum(x ** 2), 1) ** 3)


@pytest.mark.parametrize("accelerate", [False, True])
def test_pad_of_0d(accelerate):
    check2(pad_of_scalar, [0.3, -0.2, 0.8], [1.1, 0.4, -0.6], accelerate)


def test_pad_of_0d_second_order():
    check(pad_scalar_one, np.array([0.3, -0.7, 1.1]))
