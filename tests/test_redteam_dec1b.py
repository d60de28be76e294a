"""Red-team findings (Dec 1, second round) on the optimiser, primal helper calls, hvp,
the numexpr backend and gradients of gradients through helpers: each a regression test."""
import numpy as np
import pytest

from sct import CompileError, dlarray, dlfeval, dlgradient, extractdata

from gradcheck import assert_close, numerical_gradient


def _data(v):
    return np.asarray(extractdata(v))


# --- a recursive helper no sweep differentiates through (rt.primal_call) -------------------------
# Its entry code keeps the user's name; the recursive call inside it read that generated
# function instead of the user's, and compiling a pair of generated code failed
# ("internal error: code with rt.primal_call is being differentiated").

def power_rec(n, x):
    if n <= 1:
        return x
    return x * power_rec(n - 1, x)


def fib_like(n, x):
    if n <= 1:
        return x
    return fib_like(n - 1, x) + np.sin(fib_like(n - 2, x))


def loss_and_recursive_extra(x):
    y = np.sum(x ** 2)
    g = dlgradient(y, x)
    return y, g, power_rec(3, x), fib_like(3, x)


def recursive_in_both(x):
    y = np.sum(fib_like(4, x))
    g = dlgradient(y, x)
    return y, g, fib_like(3, x)


def test_recursive_helper_called_outside_any_sweep():
    x = np.array([0.5, -1.2, 2.0])
    y, g, p, q = dlfeval(loss_and_recursive_extra, dlarray(x))
    assert_close(_data(g), 2 * x)
    assert_close(_data(p), x ** 3)
    assert_close(_data(q), fib_like(3, x))


def test_recursive_helper_differentiated_and_called_plainly():
    x = np.array([0.5, -1.2, 2.0])
    y, g, q = dlfeval(recursive_in_both, dlarray(x))
    assert_close(_data(q), fib_like(3, x))
    assert_close(_data(y), np.sum(fib_like(4, x)))
    assert_close(_data(g), numerical_gradient(lambda z: float(np.sum(fib_like(4, z))), [x], 0))
