"""Fixes of the session of 2026-12-02 (after the sixth red teams), each with the program that
showed it.

- ``operator.or_`` called by name on dicts (``functools.reduce(operator.or_, parts)``) had its own
  rule beside ``a | b``'s (rt.bit_or): first order right, second order an internal
  "unsupported operand type(s) for +: 'dict' and 'dict'".  It is now read as ``a | b``.
"""
import functools
import operator

import numpy as np

from sct import dlarray, dlfeval, dlgradient
from gradcheck import assert_close, numerical_gradient

X = np.array([1.0, 2.0])
W = np.array([0.5, -1.5])


def reduce_or(x, w):
    p = {"a": x * 2.0, "b": w}
    q = {"b": x * w, "c": w ** 2}
    m = functools.reduce(operator.or_, [p, q])
    y = np.sum(m["a"] * m["b"] + m["c"])
    return y, dlgradient(y, x, w)


def test_operator_or_by_name_first_order():
    y, (gx, gw) = dlfeval(reduce_or, dlarray(X), dlarray(W))
    plain = lambda x, w: float(np.sum(2 * x * x * w + w ** 2))
    assert_close(np.asarray(y), plain(X, W))
    assert_close(np.asarray(gx), numerical_gradient(lambda x: plain(x, W), [X], 0))
    assert_close(np.asarray(gw), numerical_gradient(lambda w: plain(X, w), [W], 0))


def or_second(x, w):
    p = {"a": x * 2.0, "b": w}
    m = operator.or_(p, {"b": x})
    y = np.sum(m["a"] * m["b"])
    gx = dlgradient(y, x, EnableHigherDerivatives=True)
    z = np.sum(gx ** 2)
    return z, dlgradient(z, x)


def test_operator_or_by_name_second_order():
    # y = 2 sum x^2, gx = 4x, z = 16 sum x^2, dz/dx = 32x
    z, g = dlfeval(or_second, dlarray(X), dlarray(W))
    assert_close(np.asarray(z), 16 * np.sum(X ** 2))
    assert_close(np.asarray(g), 32 * X)
