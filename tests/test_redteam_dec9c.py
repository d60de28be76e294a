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
2. ``np.ravel(a, order="A")`` / ``np.reshape(a, s, order="A")`` of a Fortran-ordered ``a`` (a
   transpose) read ``a`` in Fortran order, but the adjoint laid the gradient back in C order:
   ``sum(np.ravel(x.reshape(2, 3).T, order="A") * arange(6))`` gave d/dx [0, 4, 8, 2, 6, 10]
   where it is [0, 3, 6, 1, 4, 7]... (runtime/numpy_ops.py ``unravel_adjoint``).  ``order="K"``
   raised in the gradient (np.reshape refuses "K"); now laid back in memory order.
3. ``A.strides`` / ``A.flags`` of a traced array: forward mode took the tangent array's strides
   (``A.strides[0] * t[2]``: jvp 17.6 where the derivative is 7.2) and flags (-0.5 for 0.3);
   reverse mode refused.  They are layout, as ``.shape`` / ``.itemsize`` (registry.NONDIFF_ATTRIBUTES).
"""
import numpy as np
import pytest

import sct
from sct import extractdata
from gradcheck import assert_close, check_two_inputs

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


# --- 2. np.ravel / np.reshape with order="A" / "K" -------------------------------------------------

def ravel_order_a_of_a_transpose(x, t):
    A = x.reshape(2, 3).T
    return np.sum(np.ravel(A, order="A") * np.arange(6)) + np.sum(t)


def reshape_order_a_of_a_transpose(x, t):
    A = x.reshape(2, 3).T
    return np.sum(np.reshape(A, (6,), order="A") * np.arange(6)) + np.sum(A.reshape(2, 3, order="A") * t)


def ravel_order_k(x, t):
    A = x.reshape(2, 3).T
    B = x.reshape(2, 3)[:, ::-1]
    return (np.sum(np.ravel(A, order="K") * np.arange(6)) + np.sum(A.ravel("K") * t.repeat(2))
            + np.sum(B.flatten(order="K") * np.arange(6) ** 2) + np.sum(np.ravel(x.reshape(2, 3), order="K") * x))


def ravel_order_a_after_ufuncs(x, t):
    B = x.reshape(2, 3).T
    A = np.tanh(B * t[0] + 1.0) * 2.0 - B ** 2          # ufuncs keep the Fortran layout
    return np.sum(A.ravel("A") * np.arange(6) ** 2) + np.sum(np.ravel(A, order="K") * np.arange(6))


@pytest.mark.parametrize("case", [ravel_order_a_of_a_transpose, reshape_order_a_of_a_transpose, ravel_order_k,
                                  ravel_order_a_after_ufuncs])
def test_ravel_in_memory_order(case):
    check_two_inputs(case, X.copy(), T.copy())
    check_jvp(case, X.copy(), T.copy())


# --- 3. layout attributes of an array carry no derivative ------------------------------------------

def strides_times_traced(x, t):
    A = x.reshape(2, 3).T * 2.0
    return A.strides[0] * t[2] + A.itemsize * t[1] + A.nbytes * t[0] + np.sum(A)


def flags_times_traced(x, t):
    A = x.reshape(2, 3).T * 2.0
    return A.flags.c_contiguous * t[0] + A.flags["F_CONTIGUOUS"] * t[1] + (A.flags.writeable + 0.0) * t[2]


@pytest.mark.parametrize("case", [strides_times_traced, flags_times_traced])
def test_array_layout_attributes_are_constants(case):
    check_two_inputs(case, X.copy(), T.copy())
    check_jvp(case, X.copy(), T.copy())


VX = np.array([0.2, 0.5, -0.3, 0.1, 0.7, -0.4])
VT = np.array([-0.6, 0.3, 0.9])


def check_jvp(case, x, t, h=1e-6):
    """sct.jvp's value and tangent against plain Python and a central difference along (VX, VT)."""
    y, tangent = sct.jvp(case, (x.copy(), t.copy()), (VX.copy(), VT.copy()))
    expected = (case(x + h * VX, t + h * VT) - case(x - h * VX, t - h * VT)) / (2 * h)
    assert_close(np.asarray(extractdata(y)), case(x.copy(), t.copy()), rtol=1e-12, atol=1e-12, what="jvp value")
    assert_close(np.asarray(extractdata(tangent)), expected, rtol=1e-5, atol=1e-6, what="jvp tangent")
