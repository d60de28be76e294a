"""Red team (Dec 7c): today's features against plain Python (values) and central differences
(gradients, first and second order; tests/gradcheck.py).

Found and fixed:

1. A helper with a keyword-only parameter given a traced value, a positional parameter before it left
   to its literal default (``def h(x, w=1.0, *, b=2.0)`` called as ``h(x, b=t)``): the call is written
   ``rt.positional(h)(x, 1.0, t)``, the default read when compiling, and nothing guarded it, so after
   ``h.__defaults__ = (5.0,)`` the compiled caller still passed 1.0: sum((x*w + t)**2) gave 11.48
   where Python gives 41.56 (gradient 2.6 for 25 in x[0]).  The caller now holds a guard on each
   default it wrote (sct/calls.py guard_default) and is compiled again when one changes.

Programs that pass are kept in the tables below (regression guard).
"""
import functools

import numpy as np
import pytest

import sct
from sct import dlarray, dlfeval, dlgradient
from gradcheck import assert_close, numerical_gradient

X = np.array([0.3, -0.5, 0.7, 1.1])
T = np.array([1.0, 2.0, -3.0, 0.4])


def first(f, x, t):
    y = f(x, t)
    return y, dlgradient(y, x, t)


def second(f, x, t):
    y = f(x, t)
    gx, gt = dlgradient(y, x, t, EnableHigherDerivatives=True)
    z = np.sum(gx * gx) + np.sum(np.sin(gt))
    return z, dlgradient(z, x, t)


def check(case, x=X, t=T, order=2):
    """case(x, t) -> scalar: value against Python, gradients against central differences."""
    expected = case(x.copy(), t.copy())
    y, (gx, gt) = dlfeval(first, case, dlarray(x), dlarray(t))
    assert_close(sct.extractdata(y), expected, rtol=1e-12, atol=1e-12, what="value")
    assert_close(sct.extractdata(gx), numerical_gradient(lambda a: case(a, t.copy()), [x.copy()], 0),
                 what="d/dx")
    assert_close(sct.extractdata(gt), numerical_gradient(lambda b: case(x.copy(), b), [t.copy()], 0),
                 what="d/dt")
    if order < 2:
        return

    def z_of(a, b):
        _, (ga, gb) = dlfeval(first, case, dlarray(a), dlarray(b))
        ga, gb = sct.extractdata(ga), sct.extractdata(gb)
        return np.sum(ga * ga) + np.sum(np.sin(gb))
    z, (zx, zt) = dlfeval(second, case, dlarray(x), dlarray(t))
    assert_close(sct.extractdata(z), z_of(x, t), rtol=1e-10, what="second-order value")
    assert_close(sct.extractdata(zx), numerical_gradient(lambda a: z_of(a, t.copy()), [x.copy()], 0),
                 rtol=1e-4, atol=1e-5, what="d2/dx")
    assert_close(sct.extractdata(zt), numerical_gradient(lambda b: z_of(x.copy(), b), [t.copy()], 0),
                 rtol=1e-4, atol=1e-5, what="d2/dt")


# --- 1. defaults changed between calls, the call passing a keyword-only parameter a traced value ---

def pos_default_then_kwonly(x, w=1.0, *, b=2.0):
    return x * w + b


def uses_pos_default(x, t):
    return np.sum(pos_default_then_kwonly(x, b=t) ** 2)


def kwonly_default_first(x, *, b=0.5, w):
    return np.tanh(w * x) + b


def uses_kwonly_default(x, t):
    return np.sum(kwonly_default_first(x, w=t) ** 2)


def test_a_positional_default_changed_between_calls():
    saved = pos_default_then_kwonly.__defaults__
    try:
        check(uses_pos_default, order=1)
        pos_default_then_kwonly.__defaults__ = (5.0,)
        check(uses_pos_default, order=1)
        y, _ = dlfeval(first, uses_pos_default, dlarray(X), dlarray(T))
        assert_close(sct.extractdata(y), np.sum((5.0 * X + T) ** 2), what="value after the change")
        pos_default_then_kwonly.__defaults__ = (-2.0,)
        check(uses_pos_default)
    finally:
        pos_default_then_kwonly.__defaults__ = saved


def test_a_keyword_only_default_changed_in_place_between_calls():
    try:
        check(uses_kwonly_default, order=1)
        kwonly_default_first.__kwdefaults__["b"] = 3.0
        check(uses_kwonly_default, order=1)
        y, _ = dlfeval(first, uses_kwonly_default, dlarray(X), dlarray(T))
        assert_close(sct.extractdata(y), np.sum((np.tanh(T * X) + 3.0) ** 2), what="value after the change")
    finally:
        kwonly_default_first.__kwdefaults__["b"] = 0.5
