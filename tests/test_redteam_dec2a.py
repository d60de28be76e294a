"""Red team, Dec 2 (a): common subexpressions across in-place writes, ..."""
from __future__ import annotations

import numpy as np
import pytest

import sct
from gradcheck import check_grads


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
