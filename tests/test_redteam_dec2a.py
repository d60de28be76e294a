"""Red team, Dec 2 (a): common subexpressions across in-place writes, ..."""
from __future__ import annotations

from collections import namedtuple
from typing import NamedTuple

import numpy as np
import pytest

import sct
from sct import dlarray, dlfeval, dlgradient, extractdata
from gradcheck import assert_close, check_grads, numerical_gradient


@pytest.fixture(autouse=True)
def fresh():
    sct.clear_cache()
    yield
    sct.clear_cache()


X = np.array([0.3, 0.7, -0.4, 1.2])


# --- CSE (sct/cse.py): an expression recomputed after an in-place write through another name ---------------
def write_through_base(x):
    z = np.ones(4)
    v = z[:2]                     # a view of z
    a = v * 2.0
    z[0] = 5.0                    # changes v too
    b = v * 2.0                   # was read from a: 2 instead of 10
    return np.sum(x[:2] * a) + np.sum(x[:2] * b)


def write_through_view(x):
    z = np.ones(4)
    a = z * 2.0
    b = z * 2.0                   # was b = a: the write below changed both
    u = a[:2]
    u[0] = 9.0
    return np.sum(x * a) + np.sum(x * b)


def write_through_transpose(x):
    z = np.ones((2, 2))
    a = z * 2.0
    b = z * 2.0
    u = a.T
    u[0, 1] = 9.0
    return np.sum(x.reshape(2, 2) * a) + np.sum(x.reshape(2, 2) * b)


def fill_diagonal(x):
    z = np.ones((2, 2))
    a = z * 2.0
    np.fill_diagonal(z, 5.0)      # numpy writing into its argument
    b = z * 2.0
    return np.sum(x.reshape(2, 2) * a) + np.sum(x.reshape(2, 2) * b)


def put(x):
    z = np.ones(4)
    a = z * 2.0
    np.put(z, [0, 2], [5.0, 6.0])
    b = z * 2.0
    return np.sum(x * a) + np.sum(x * b)


def putmask(x):
    z = np.ones(4)
    a = z * 2.0
    np.putmask(z, z > 0, 3.0)
    b = z * 2.0
    return np.sum(x * a) + np.sum(x * b)


def copyto_view(x):
    z = np.ones(4)
    v = z[1:]
    a = v * 2.0
    np.copyto(z, np.arange(4.0))
    b = v * 2.0
    return np.sum(x[1:] * a) + np.sum(x[1:] * b)


def fill_view(x):
    z = np.ones(4)
    v = z[1:]
    a = v * 2.0
    z.fill(3.0)
    b = v * 2.0
    return np.sum(x[1:] * a) + np.sum(x[1:] * b)


def reshape_view(x):
    z = np.ones(4)
    v = np.reshape(z, (2, 2))
    a = v * 3.0
    w = [z]
    w[0][1] = 4.0                 # through a list holding z
    b = v * 3.0
    return np.sum(x.reshape(2, 2) * a * b)


@pytest.mark.parametrize("fun", [write_through_base, write_through_view, write_through_transpose, fill_diagonal,
                                 put, putmask, copyto_view, fill_view, reshape_view])
def test_expression_after_an_in_place_write_through_another_name(fun):
    """An untraced array written in place (numpy's in-place behaviour kept) through a view, an alias
    or a numpy function writing into its argument: the same expression of the same names after it is
    a new value; CSE read it from the first (or made the two names one object)."""
    check_grads(fun, X)


# --- a namedtuple built with keywords from traced values --------------------------------------------------------
Pair = namedtuple("Pair", "a b")
Triple = namedtuple("Triple", "a b c", defaults=[0.5])


class Typed(NamedTuple):
    w: np.ndarray
    b: float = 0.25


def namedtuples_by_keyword(x):
    p = Pair(a=x, b=x * 2)
    q = Pair(np.sin(x), b=x)
    r = Triple(b=x, a=np.cos(x))
    s = Typed(w=x * 3.0)
    t = Typed(b=np.sum(x), w=x)
    return np.sum(p.a * p.b) + np.sum(q.a * q.b) + np.sum(r.a * r.b * r.c) + np.sum(s.w * s.b) + np.sum(t.w) * t.b


def test_namedtuple_built_with_keywords():
    """Pair(a=x, b=...) with a traced value was refused as not matching object.__init__ (a
    namedtuple's signature is its __new__'s: the fields, with their defaults)."""
    check_grads(namedtuples_by_keyword, X)


def namedtuple_second_order(x):
    p = Pair(b=x ** 3, a=x)
    y = np.sum(p.a * p.b)
    g = dlgradient(y, x)
    return dlgradient(np.sum(g * g), x)


def test_namedtuple_by_keyword_second_order():
    got = extractdata(dlfeval(namedtuple_second_order, dlarray(X)))
    assert_close(got, numerical_gradient(lambda x: np.sum((4 * x ** 3) ** 2), [X], 0), rtol=1e-5)
