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
   ``sum(np.ravel(x.reshape(2, 3).T, order="A") * arange(6))`` gave d/dx [0, 2, 4, 1, 3, 5]
   where it is [0, 1, 2, 3, 4, 5] (runtime/numpy_ops.py ``unravel_adjoint``).  ``order="K"``
   raised in the gradient (np.reshape refuses "K"); now laid back in memory order.
3. ``A.strides`` / ``A.flags`` of a traced array: forward mode took the tangent array's strides
   (``A.strides[0] * t[2]``: jvp 17.6 where the derivative is 7.2) and flags (-0.5 for 0.3);
   reverse mode refused.  They are layout, as ``.shape`` / ``.itemsize`` (registry.NONDIFF_ATTRIBUTES).
4. A field of the user's own object named as an array's metadata (``shape``, ``size``, ``ndim``,
   ``dtype``, ...) was taken for metadata, a constant: ``Gamma(shape=t[0] ** 2 + 1, ...)`` read as
   ``g.shape`` had the derivative 0 for t[0] (``g.shape * g.scale + sum(x) * g.shape``: d/dt[0]
   0 where it is 2.7); ``b.size`` of a box, ``bs[0].size`` of a list of them, the same.  Such an
   attribute is now metadata only where the receiver is known to be an array or a number
   (sct/analysis.py ``user_attribute``); elsewhere it is followed as other attributes are, and an
   array's metadata gets no derivative at run time (rt.attribute_adjoint, getattr_or_zero,
   tangent_attribute).  The alias analysis took such a field for metadata too (holding no
   object): ``a = h.shape; a[0] = 5 * t[0]`` did not change h.shape, a wrong VALUE (1.82 where
   Python gives 10.18); now refused as for any other field (sct/points_to.py).
5. ``n.data`` of the user's ``Node(data)`` was compiled as dlarray's ``.data`` (the value as a
   constant) of n, i.e. to n itself: ``np.sum(n.data ** 2)`` raised a TypeError ('Node' ** int).
   A name known to hold the user's object now reads its field (value and gradient); elsewhere
   (a list's item, second order) a `.data` that is not an array's is refused with a message
   saying why (rt.data_receiver).
6. Reductions that leave entries out gave a silent NaN gradient where the derivative is 0:
   ``np.nansum(x * DATA)`` with NaN in the constant DATA gave d/dx NaN at those entries (their
   zero adjoint times DATA's NaN), where central differences give 0; the same for np.nanmean,
   nanstd/nanvar, nancumsum, nanprod, nanmax/nanmin, nanmedian, np.sum/np.mean/np.max with a
   where= mask over NaN entries, and np.nan_to_num; jvp of np.nanmax / np.nanmedian / np.max(where=)
   likewise.  As for np.where's unselected branch (the project's rule), sct now refuses such a
   NaN gradient, naming the line (numpy_ops.noted_skips, support.project, forward._checked_tangent).
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


# --- 4. a field of the user's object named shape / size / ndim is the user's, not metadata --------

class Gamma:
    def __init__(self, shape, scale):
        self.shape = shape
        self.scale = scale

    def logpdf(self, v):
        return (self.shape - 1.0) * np.log(v) - v / self.scale - self.shape * np.log(self.scale)


class Box:
    def __init__(self, v):
        self.size = v
        self.ndim = v * 2.0
        self.dtype = v * 3.0


def gamma_fields(x, t):
    g = Gamma(t[0] ** 2 + 1.0, t[2])
    return g.shape * g.scale + np.sum(x) * g.shape


def gamma_method(x, t):
    g = Gamma(t[0] ** 2 + 1.0, t[2])
    return np.sum(g.logpdf(np.abs(x) + 0.1))


def box_fields(x, t):
    b = Box(x[0] * t[0])
    return b.size * 2.0 + b.ndim + b.dtype * t[1]


def box_sum_field(x, t):
    b = Box(np.sum(x))
    return np.sum(b.size * t)


def boxes_in_a_list(x, t):
    bs = [Box(x[1] * t[1]), Box(t[2])]
    return bs[0].size + bs[1].ndim


def boxes_in_a_loop(x, t):
    s = 0.0
    for b in [Box(x[1] * t[1]), Box(t[2])]:
        s = s + b.size * b.ndim
    return s


def boxes_and_arrays(x, t):
    s = 0.0
    for item in [Box(x[1] * t[1]), x.reshape(3, 2) * t[0]]:
        s = s + item.size * 1.5 + item.ndim * t[2]
    return s


def arrays_in_a_list(x, t):
    s = 0.0
    for a in [x.reshape(2, 3) * t[0], t]:
        s = s + np.sum(a) * a.shape[0] + a.size * t[1] + a.ndim * np.sum(a ** 2) + a.strides[0] * t[2] + a.itemsize * t[0]
    return s


def arrays_in_a_dict(x, t):
    d = {"a": x.reshape(2, 3), "b": t}
    return np.sum(d["a"]) * d["a"].shape[1] + d["b"].size * np.sum(d["b"] ** 2)


@pytest.mark.parametrize("case", [gamma_fields, gamma_method, box_fields, box_sum_field, boxes_in_a_list,
                                  boxes_in_a_loop, boxes_and_arrays, arrays_in_a_list, arrays_in_a_dict])
def test_user_fields_named_as_array_metadata(case):
    check_two_inputs(case, X.copy(), T.copy())
    check_jvp(case, X.copy(), T.copy())


class Holder:
    def __init__(self, v):
        self.shape = v
        self.other = v


def write_through_a_field_named_shape(x, t):
    h = Holder(x[:3] * 1.0)
    a = h.shape
    a[0] = t[0] * 5.0
    return np.sum(h.shape * h.shape) + np.sum(h.other)


def test_write_through_a_field_named_shape_is_refused_as_other_fields():
    # (Holder's __init__ only sets fields to its argument: h is known to hold a, s51)
    with pytest.raises(sct.CompileError, match="a may be an object|h holds it"):
        check_two_inputs(write_through_a_field_named_shape, X.copy(), T.copy(), order=1)


class ComplexBox:
    def __init__(self, v):
        self.size = v


def complex_field_named_size(x, t):
    b = ComplexBox(x[:3] * t)
    return np.sum(np.abs(b.size) ** 2) + np.real(np.sum(b.size * np.conj(t)))


def test_complex_field_named_size():
    # the field was also taken for a real number: d/dt wrong, not only zero
    xc = np.array([0.3 + 0.2j, -1.2 + 0.5j, 0.7 - 0.1j, 1.1 + 1j, -0.4 - 0.3j, 0.9 + 0.0j])
    tc = np.array([0.5 - 0.5j, -0.8 + 0.1j, 1.3 + 0.7j])
    check_two_inputs(complex_field_named_size, xc, tc, order=1)


# --- 5. n.data of the user's object is its field ------------------------------------------------------

class Node:
    def __init__(self, data):
        self.data = data

    def value(self):
        return self.data * 2.0


def node_data_field(x, t):
    n = Node(x[:3] * t)
    return np.sum(n.data ** 2) + np.sum(n.value())


def nodes_in_a_list(x, t):
    ns = [Node(x[0] * t[0]), Node(t[1])]
    return sum(n.data for n in ns)


def test_data_field_of_a_user_object():
    check_two_inputs(node_data_field, X.copy(), T.copy(), order=1)


def test_data_field_where_the_object_is_not_known_is_refused():
    with pytest.raises(sct.SctError, match="could not tell"):
        check_two_inputs(nodes_in_a_list, X.copy(), T.copy(), order=1)
    with pytest.raises(sct.SctError, match="could not tell"):
        check_two_inputs(node_data_field, X.copy(), T.copy(), order=2)
    with pytest.raises(sct.SctError, match="could not tell"):
        check_jvp(node_data_field, X.copy(), T.copy())


# --- 6. a NaN gradient through entries a reduction leaves out is refused, not returned ---------------

DATA = np.array([1.0, np.nan, 2.0, 3.0, np.nan, 0.5])
MASK = ~np.isnan(DATA)


def nansum_weighted(x, t):
    return np.nansum(x * DATA) + t[0]


def nanmean_squares(x, t):
    return np.nanmean((DATA - x) ** 2) + t[0]


def nanstd_nanvar(x, t):
    return np.nanstd(x * DATA) + np.nanvar(DATA * t[0]) + t[1]


def nancumsum_weighted(x, t):
    return np.sum(np.nancumsum(x * DATA) * np.arange(6)) + t[0]


def nanprod_of(x, t):
    return np.nanprod(x * DATA) + t[0]


def nanmax_nanmin(x, t):
    return np.nanmax(x * DATA) + np.nanmin(x * DATA) + t[0]


def nanmedian_of(x, t):
    return np.nanmedian(x * DATA) + t[0]


def sum_where_mask(x, t):
    return np.sum(x * DATA, where=MASK) + t[0]


def mean_where_mask(x, t):
    return np.mean((x - DATA) ** 2, where=MASK) + t[0]


def max_where_mask(x, t):
    return np.max(x * DATA, where=MASK, initial=-10.0) + t[0]


def nan_to_num_of(x, t):
    return np.sum(np.nan_to_num(x * DATA)) + t[0]


@pytest.mark.parametrize("case", [nanmedian_of, sum_where_mask, mean_where_mask, max_where_mask, nan_to_num_of])
def test_nan_gradient_through_left_out_entries_is_refused(case):
    with pytest.raises(sct.EvaluationError, match="the gradient is NaN through"):
        check_two_inputs(case, X.copy(), T.copy(), order=1)


@pytest.mark.parametrize("case", [nansum_weighted, nanmean_squares, nanstd_nanvar, nancumsum_weighted, nanprod_of,
                                  nanmax_nanmin])
def test_nan_reduction_of_nan_data_is_exact(case):
    # (was refused as above: the argument's NaN comes from the data DATA, a name the compiler fills and
    # puts back, sct/nan_leaves.py; corp52 FR5)
    check_two_inputs(case, X.copy(), T.copy(), order=1)
    check_jvp(case, X.copy(), T.copy())


@pytest.mark.parametrize("case", [nanmedian_of, max_where_mask])
def test_nan_tangent_through_left_out_entries_is_refused(case):
    with pytest.raises(sct.EvaluationError, match="the gradient is NaN through"):
        check_jvp(case, X.copy(), T.copy())


def masked_index_instead(x, t):
    return np.sum(x[MASK] * DATA[MASK]) + np.sum(np.where(MASK, DATA, 0.0) * x) + np.sum(t)


def nan_reductions_of_finite_values(x, t):
    A = x.reshape(2, 3)
    return (np.nansum(A * t) + np.nanmean(A ** 2) + np.nanmax(A, axis=0) @ t + np.nanmedian(x) * t[1]
            + np.sum(x, where=x > 0) + np.max(t, where=t < 1.0, initial=-5.0) + np.sum(np.nan_to_num(x * t[0])))


@pytest.mark.parametrize("case", [masked_index_instead, nan_reductions_of_finite_values])
def test_nan_reductions_without_nan_are_exact(case):
    check_two_inputs(case, X.copy(), T.copy())
    check_jvp(case, X.copy(), T.copy())
