"""Red team dec9c: numpy and Python semantics inside differentiated functions (integer and float
division, dtypes, complex parts, broadcasting, masks and fancy indexes with repeats, sorting,
linear algebra, builtins, views).  Checked by value against plain Python and by gradient
against central differences (tests/gradcheck.py), first and second order.

Found (each a silent wrong gradient, the value right):

1. A tuple (or other non-list sequence) inside an index is numpy's advanced index, as a list
   is: ``A[(0, 0), (2, 2)]`` reads A[0, 2] twice, ``y[(5, 5, 1),]`` reads y[5] twice.  The
   runtime (runtime/support.py ``_needs_add_at``) took only lists and integer arrays for
   advanced indexes, so
     - a read's adjoint stored each item's gradient instead of adding them
       (``sum(A[(0, 0), (2, 2)] * t[:2])``: d/dA[0, 2] was t[1], is t[0] + t[1]);
     - a write ``A[(0, 0), (2, 2)] += t[:2]`` (numpy keeps the last item) gave t[0] a gradient
       (-0.2 where the derivative is 0).
"""
import numpy as np
import pytest

from gradcheck import check_two_inputs

X = np.array([0.3, -1.2, 0.7, 1.1, -0.4, 0.9])
T = np.array([0.5, -0.8, 1.3])


# --- 1. a tuple inside an index is an advanced index (repeats add on read, last wins on write) ---

def read_tuple_pairs_repeated(x, t):
    A = x.reshape(2, 3)
    return np.sum(A[(0, 0), (2, 2)] * t[:2])


def read_tuple_in_tuple_repeated(x, t):
    return np.sum(x[(5, 5, 1),] * t)


def augmented_write_tuple_pairs_repeated(x, t):
    A = x.reshape(2, 3) * 1.0
    A[(0, 0), (2, 2)] += t[:2]
    return np.sum(A * A)


def augmented_write_tuple_pairs_negative(x, t):
    A = x.reshape(2, 3) * 1.0
    A[(0, -2), (2, -1)] += t[:2]          # (0, 2) and (-2, -1) are the same element
    return np.sum(A * A)


def augmented_write_tuple_in_tuple(x, t):
    y = x * 1.0
    y[(5, -1),] += t[:2]
    return np.sum(y * y)


def assign_tuple_pairs_repeated(x, t):
    A = x.reshape(2, 3) * 1.0
    A[(1, 1, 0), (0, 0, 1)] = t
    return np.sum(A * A)


def tuple_index_held_in_a_name(x, t):
    idx = (2, 2, 0)
    y = x * 1.0
    y[idx,] *= t
    return np.sum(y * y) + np.sum(x[idx,] * t)


@pytest.mark.parametrize("case", [read_tuple_pairs_repeated, read_tuple_in_tuple_repeated,
                                  augmented_write_tuple_pairs_repeated, augmented_write_tuple_pairs_negative,
                                  augmented_write_tuple_in_tuple, assign_tuple_pairs_repeated,
                                  tuple_index_held_in_a_name])
def test_tuple_inside_an_index_is_an_advanced_index(case):
    check_two_inputs(case, X.copy(), T.copy())
