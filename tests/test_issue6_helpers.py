"""Issue 6, items 2, 3, 12 and 14: helpers, methods and callable objects called from
differentiated code.

2. A helper call that rebinds a name it reads (``y = h(y, c)``) inside a loop or branch.
3. Nested callable objects (layers calling layers), gradients with respect to the object.
12. Method calls on attribute chains (``self.a.sum()``, ``w.T.reshape(-1)``).
14. A constructor argument stored on ``self`` and never read.

Values are checked against plain Python, gradients against central differences.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pytest

import sct
from sct import dlarray, dlfeval, dlgradient

try:
    from tests.gradcheck import assert_close, check_grads, numerical_gradient
except ImportError:                      # run as plain `pytest` from inside tests/
    from gradcheck import assert_close, check_grads, numerical_gradient

rng = np.random.default_rng(6)
A = rng.standard_normal(3) * 0.5
B = rng.standard_normal(3) * 0.5


# --- item 2: helpers that rebind a name they read, in loops and branches -------------------------

def h(a, b):
    return a * b


def h2(y, z):
    return y * z, y + np.sin(z)


def f_for(a):
    y = a
    for i in range(3):
        y = h(y, 3.0)
    return np.sum(y ** 2)


def f_while(a):
    y = a
    i = 0
    while i < 3:
        y = h(y, 1.5)
        i += 1
    return np.sum(np.sin(y))


def f_tuple(a, b):
    y, z = a, b
    for i in range(3):
        y, z = h2(y, z)
    return np.sum(y * z)


def f_same(a):
    y = a
    for i in range(2):
        y = h(y, y)
    return np.sum(y)


def f_both(a, b):
    y = a
    for i in range(2):
        y = h(y, b) + y
        y = h(b, y)
    return np.sum(y)


class Stepper:
    def __init__(self, c):
        self.c = c

    def step(self, y):
        return np.tanh(y * self.c) + y

    def run(self, y):
        for i in range(3):
            y = self.step(y)
        return y


def f_method(a):
    s = Stepper(0.7)
    y = a
    for i in range(3):
        y = s.step(y)
    return np.sum(y)


def f_method_inner(a):
    return np.sum(Stepper(0.7).run(a))


def f_branch(a):
    y = a
    for i in range(4):
        if i % 2 == 0:
            y = h(y, 2.0)
        else:
            y = np.cos(y)
    return np.sum(y)


def f_if_only(a):
    y = a
    if np.sum(a) < 10:
        y = h(y, 3.0)
    return np.sum(y)


def f_nested(a):
    y = a
    for i in range(2):
        j = 0
        while j < 2:
            y = h(y, 0.9) + 0.1 * y * y
            j += 1
    return np.sum(y)


def f_acc(a):
    y = a
    t = 0.0
    for i in range(3):
        t = t + h(y, t + 1.0)
        y = h(y, 0.5)
    return np.sum(t) + np.sum(y)


def f_recv(a, b):
    y = a
    for i in range(2):
        y = h(b, y)
        b = h(b, y)
    return np.sum(y * b)


def g_param_rebind(y, n):
    for i in range(n):
        y = h(y, 2.0)
    return y


def f_helper_with_loop(a):
    y = a
    for k in range(2):
        y = g_param_rebind(y, 2)
    return np.sum(np.sin(y))


REBINDING = [f_for, f_while, f_tuple, f_same, f_both, f_method, f_method_inner, f_branch, f_if_only,
             f_nested, f_acc, f_recv, f_helper_with_loop]


@pytest.mark.parametrize("fun", REBINDING, ids=lambda f: f.__name__)
def test_helper_rebinding_its_argument(fun):
    check_grads(fun, *[A, B][:fun.__code__.co_argcount])


def test_issue_example_gives_nine():
    def f(a):
        y = a
        for i in range(2):
            y = h(y, 3.0)
        return y, dlgradient(y, a)
    value, grad = dlfeval(f, dlarray(2.0))
    assert float(value.data) == 18.0
    assert float(grad.data) == 9.0


def _hvp(fun, a, v):
    y = fun(a)
    g = dlgradient(y, a)
    return dlgradient(np.sum(g * v), a)


def _grad(fun, a):
    y = fun(a)
    return dlgradient(y, a)


def check_hvp(fun, a, seed=0, step=1e-5):
    """Second derivatives: sct's Hessian-vector product against differences of its gradient."""
    v = np.random.default_rng(seed).standard_normal(np.shape(a))
    got = np.asarray(dlfeval(_hvp, fun, dlarray(a), v).data)
    up = np.asarray(dlfeval(_grad, fun, dlarray(a + step * v)).data)
    down = np.asarray(dlfeval(_grad, fun, dlarray(a - step * v)).data)
    assert_close(got, (up - down) / (2 * step), rtol=1e-4, atol=1e-6, what=fun.__name__)


@pytest.mark.parametrize("fun", [f for f in REBINDING if f.__code__.co_argcount == 1],
                         ids=lambda f: f.__name__)
def test_helper_rebinding_second_derivative(fun):
    check_hvp(fun, A)
