"""Red team Y (dec 22): silent wrong gradients in programs written the way users write them.

Findings (each a silently wrong gradient before the fix, with no error):

1. A library function sct runs as it is (C code: ``heapq.heappush``, ``bisect.insort``,
   ``heapq.heapify``) given a list the analysis did not know as one -- ``l = sorted([...])``,
   ``l = list(x[:2])``, ``l = list(map(float, x))`` -- and a traced value: the item it stored into
   the list had no derivative (``l[2] * 3`` read ``x[2]`` with gradient 0).  The same through an
   object's field, a dict's item or a list's item (``heapq.heappush(s.h, x[2])``,
   ``heapq.heappush(d["h"], v)``, ``heapq.heappush(hs[0], v)``).  Now refused at the line
   (sct/write_checks._library_container_write); bisect's searches (read only) still run.
   Unbound methods of builtins that change their first argument (``dict.update(d, b=v)``,
   ``dict.__setitem__(d, "a", v)``, ``np.ndarray.__setitem__(z, 0, v)``) too: were zero derivatives.

2. ``o.__dict__["a"] = v`` (or ``d = o.__dict__; d["a"] = v``) on an object the function built:
   sct took ``o.__dict__`` for a new dict of its own, so ``o.a`` kept its old value -- a wrong VALUE
   (0.9 for -1.2) and gradient.  ``o.__dict__`` is now o's attributes for the alias analysis
   (sct/points_to._attribute_objects): such a write is refused at the line.

3. ``r = np.real_if_close(z)`` (z itself for a real z) or ``np.trim_zeros(z)`` (a slice of z), then
   ``r[0] = 5.0``: sct took r for a new array, so z kept its old entry -- a wrong value
   and gradient.  Both are now views of their argument for the alias analysis
   (sct/alias_state.VIEW_FUNCTIONS, with asmatrix, frombuffer, from_dlpack, ix_, and the method
   ``__array__``): the write is refused at the line.

4. ``d = dict(zip("ab", M))`` (or ``dict([("a", M[0]), ...])``) then ``d["a"][0] = 5.0``: the dict's
   values, one level below the pairs, were not taken to be M's rows; ``l = sum([[M[0]], [M[1]]], [])``
   then ``l[0][1] = 5.0``: Python's sum of lists was a new value holding nothing.  Both left M
   unchanged: a wrong value and gradient.  Now refused at the line (sct/points_to: dict of pairs,
   builtin sum).

5. ``d = {"a": M[0]} | {"b": M[1]}`` (also ``e | f`` of two dict names and ``d |= {...}``) then
   ``d["b"][0] = 5.0``: rt.dict_or / rt.bit_or made a new value holding nothing, so M kept its old
   entry (a wrong value and gradient).  Both now hold their operands' items
   (sct/alias_state.CONTAINER_COPIES): the write is refused at the line.

6. ``arr = np.empty(2, dtype=object); arr[0] = M[0]; arr[0][1] = 5.0`` (or ``np.array([...],
   dtype=object)``): the rank analysis took ``arr[0]`` of a 1-D array for a number and the literal
   held nothing, so the write into M's row was lost (a wrong value and gradient).  Object arrays now
   hold references to what they are given (sct/points_to): refused at the line.

7. ``r = operator.getitem(M, 0)`` (a view of M), ``operator.add([M[0]], [M[1]])`` and
   ``operator.mul([M[0]], 2)`` (lists holding M's rows) were new values holding nothing: a write into
   them left M unchanged (a wrong value and gradient).  Now a view / a list of the items
   (sct/points_to: _OPERATOR_VIEWS, _OPERATOR_JOINS): the write is refused.

8. ``np.power.reduce(a)`` of three or more floats: this numpy (2.4) gives ``a[0] ** a[-1]``-like values
   (``[2., 3., 2.]`` -> 4.0), where sct computed and differentiated the left fold (64.0): another
   value than the program's.  The runtime's fold now checks numpy's own reduce and raises where they
   differ (runtime/more_ops.reduce_agrees); the folds numpy agrees with still run.
"""
import bisect
import heapq

import numpy as np
import pytest

from gradcheck import numerical_gradient
from sct import CompileError, dlarray, dlfeval, dlgradient, extractdata
import sct as sct_errors

X3 = np.array([0.3, -0.4, 0.1])


def _entry(fn, x):
    y = fn(x)
    return y, dlgradient(y, x)


def _check(fn, x):
    y, g = dlfeval(_entry, fn, dlarray(x.copy()))
    assert np.allclose(np.asarray(extractdata(y)), fn(x.copy()))
    num = numerical_gradient(lambda a: float(fn(a.copy())), [x.copy()], 0)
    np.testing.assert_allclose(np.asarray(extractdata(g)), num, rtol=1e-6, atol=1e-7)


# --- 1. library functions that change a list in place -------------------------------------------

def insort_into_sorted(x):
    l = sorted([x[0], x[1]])
    bisect.insort(l, x[2])
    return l[0] * 1 + l[1] * 2 + l[2] * 3


def heappush_into_list_call(x):
    l = list(x[:2])
    heapq.heappush(l, x[2])
    return l[0] * 1 + l[1] * 2 + l[2] * 3


def heappush_into_sorted(x):
    l = sorted(x[:2])
    heapq.heappush(l, x[2])
    return l[0] * 1 + l[1] * 2 + l[2] * 3


def heappush_into_mapped(x):
    l = list(map(float, x))
    heapq.heappush(l, x[2])
    return l[0] * 1 + l[1] * 2 + l[2] * 3 + l[3]


def heapify_sorted(x):
    l = sorted(x)
    heapq.heapify(l)
    l.reverse()
    return l[0] * 1 + l[1] * 2 + l[2] * 3


class _Holder:
    def __init__(self):
        self.h = []


def heappush_into_field(x):
    s = _Holder()
    s.h = sorted([x[0], x[1]])
    heapq.heappush(s.h, x[2])
    return s.h[0] * 1 + s.h[1] * 2 + s.h[2] * 3


def heappush_into_dict_item(x):
    d = {"h": sorted([x[0], x[1]])}
    heapq.heappush(d["h"], x[2])
    return d["h"][0] * 1 + d["h"][1] * 2 + d["h"][2] * 3


def heappush_into_list_item(x):
    hs = [sorted([x[0], x[1]])]
    heapq.heappush(hs[0], x[2])
    return hs[0][0] * 1 + hs[0][1] * 2 + hs[0][2] * 3


@pytest.mark.parametrize("fn", [insort_into_sorted, heappush_into_list_call, heappush_into_sorted,
                                heappush_into_mapped, heapify_sorted, heappush_into_field,
                                heappush_into_dict_item, heappush_into_list_item])
def test_library_writes_into_lists_are_refused(fn):
    # plain Python's gradient differs from the one sct gave (the stored item's derivative was lost)
    num = numerical_gradient(lambda a: float(fn(a.copy())), [X3.copy()], 0)
    assert np.abs(num[2]) > 0.5
    with pytest.raises(CompileError, match=r"(heappush|insort|heapify)\(\.\.\.\) is given the container"):
        dlfeval(_entry, fn, dlarray(X3.copy()))


def bisect_searches(x):
    l = sorted([x[0], x[1], x[2]])
    i = bisect.bisect_left(l, 0.0)
    j = bisect.bisect(l, 0.2)
    return l[i] * 2 + l[j - 1]


def heap_of_plain_items(x):
    pq = []
    heapq.heappush(pq, (1.0, 0))
    heapq.heappush(pq, (0.5, 1))
    p, i = heapq.heappop(pq)
    return x[i] * p


def heap_of_indices(x):
    order = sorted(range(3), key=lambda i: float(x[i]))
    heapq.heapify(order)
    return x[order[0]] * 2


@pytest.mark.parametrize("fn", [bisect_searches, heap_of_plain_items, heap_of_indices])
def test_library_reads_and_plain_heaps_still_run(fn):
    _check(fn, X3)


def dict_update_unbound(x):
    d = {"a": x[0]}
    dict.update(d, b=x[1])
    return d["a"] + d["b"] * 3


def dict_setitem_unbound(x):
    d = {"a": x[0]}
    dict.__setitem__(d, "a", x[1])
    return d["a"] * 3


def ndarray_setitem_unbound(x):
    z = x * 1.0
    np.ndarray.__setitem__(z, 0, x[1] * 5)
    return np.sum(z * np.array([1.0, 2.0, 3.0]))


@pytest.mark.parametrize("fn", [dict_update_unbound, dict_setitem_unbound, ndarray_setitem_unbound])
def test_unbound_mutating_methods_are_refused(fn):
    num = numerical_gradient(lambda a: float(fn(a.copy())), [X3.copy()], 0)
    assert np.abs(num[1]) > 0.5
    with pytest.raises(CompileError, match=r"is given the container"):
        dlfeval(_entry, fn, dlarray(X3.copy()))


# --- 2. writes through an object's __dict__ --------------------------------------------------------

class _Plain:
    pass


def dict_write_then_attribute(x):
    o = _Plain()
    o.a = x[0]
    o.__dict__["a"] = x[1]
    return o.a * 3


def dict_alias_write(x):
    o = _Plain()
    o.a = x[0]
    d = o.__dict__
    d["a"] = x[1]
    return o.a * 3


def dict_constant_write(x):
    o = _Plain()
    o.a = x[0]
    o.__dict__["a"] = 5.0
    return o.a * x[1]


def dict_new_attribute(x):
    o = _Plain()
    o.__dict__["a"] = x[0]
    return o.a * x[1]


@pytest.mark.parametrize("fn", [dict_write_then_attribute, dict_alias_write, dict_constant_write,
                                dict_new_attribute])
def test_writes_into_an_objects_dict_are_refused(fn):
    with pytest.raises(CompileError, match=r"writing into (o\.__dict__|d)\[\.\.\.\] in place"):
        dlfeval(_entry, fn, dlarray(X3.copy()))


def dict_constant_into_constant(x):
    o = _Plain()
    o.a = 2.0
    o.__dict__["a"] = 5.0
    return o.a * x[1]


def attributes_set_plainly(x):
    o = _Plain()
    o.a = x[0]
    setattr(o, "a", x[1] * 2)
    o.b = o.a + x[2]
    return o.a * 3 + o.b


@pytest.mark.parametrize("fn", [dict_constant_into_constant, attributes_set_plainly])
def test_plain_attribute_code_still_runs(fn):
    _check(fn, X3)


# --- 3. numpy functions that give their argument itself (or a view of it) ---------------------------

def real_if_close_then_write(x):
    z = x * 1.0
    r = np.real_if_close(z)          # a real z: z itself
    r[0] = 5.0
    return np.sum(z * np.array([1.0, 2.0, 3.0]))


def trim_zeros_then_write(x):
    z = x * 1.0
    r = np.trim_zeros(z)             # a slice of z
    r[0] = 5.0
    return np.sum(z * np.array([1.0, 2.0, 3.0]))


@pytest.mark.parametrize("fn", [real_if_close_then_write, trim_zeros_then_write])
def test_writes_through_numpys_same_object_results_are_refused(fn):
    # (was sum(x * [1, 2, 3]): the write into r not seen in z)
    assert fn(X3.copy()) == pytest.approx(5.0 - 0.8 + 0.3)
    with pytest.raises(CompileError, match=r"writing into r\[\.\.\.\] in place"):
        dlfeval(_entry, fn, dlarray(X3.copy()))


def real_if_close_read(x):
    r = np.real_if_close(x * 2.0)
    return np.sum(r * np.array([1.0, 2.0, 3.0]))


def test_real_if_close_read_still_runs():
    _check(real_if_close_read, X3)


# --- 4. containers built from pairs or lists of lists ----------------------------------------------

_W22 = np.array([[1.0, 2.0], [3.0, 4.0]])
X4 = np.array([0.3, -0.4, 0.1, 0.7])


def dict_of_zip_then_write(x):
    M = x.reshape(2, 2) * 1.0
    d = dict(zip("ab", M))            # d["a"] is M's first row (a view)
    d["a"][0] = 5.0
    return np.sum(M * _W22)


def dict_of_pairs_then_write(x):
    M = x.reshape(2, 2) * 1.0
    d = dict([("a", M[0]), ("b", M[1])])
    d["b"][1] = 5.0
    return np.sum(M * _W22)


def sum_of_lists_then_write(x):
    M = x.reshape(2, 2) * 1.0
    l = sum([[M[0]], [M[1]]], [])     # [M[0], M[1]]: views
    l[0][1] = 5.0
    return np.sum(M * _W22)


@pytest.mark.parametrize("fn", [dict_of_zip_then_write, dict_of_pairs_then_write, sum_of_lists_then_write])
def test_writes_into_rows_held_by_built_containers_are_refused(fn):
    M = X4.reshape(2, 2)
    assert fn(X4.copy()) != pytest.approx(np.sum(M * _W22))     # Python's write changes M
    with pytest.raises(CompileError, match=r"in place"):
        dlfeval(_entry, fn, dlarray(X4.copy()))


def dict_of_zip_read(x):
    M = x.reshape(2, 2) * 1.0
    d = dict(zip("ab", M))
    return np.sum(d["a"] * 2.0 + d["b"] ** 2)


def sum_of_arrays_then_write(x):
    M = x.reshape(2, 2) * 1.0
    s = sum([M[0], M[1]])             # a new array
    s[0] = 5.0
    return np.sum(M * _W22) + np.sum(s * np.array([1.0, 3.0]))


@pytest.mark.parametrize("fn", [dict_of_zip_read, sum_of_arrays_then_write])
def test_reads_of_built_containers_still_run(fn):
    _check(fn, X4)


# --- 5. dict union ------------------------------------------------------------------------------------

def dict_union_literals_then_write(x):
    M = x.reshape(2, 2) * 1.0
    d = {"a": M[0]} | {"b": M[1]}
    d["b"][0] = 5.0
    return np.sum(M * _W22)


def dict_union_names_then_write(x):
    M = x.reshape(2, 2) * 1.0
    e = {"a": M[0]}
    f = {"b": M[1]}
    d = e | f
    d["b"][0] = 5.0
    return np.sum(M * _W22)


def dict_union_in_place_then_write(x):
    M = x.reshape(2, 2) * 1.0
    d = {"a": M[0]}
    d |= {"b": M[1]}
    d["b"][0] = 5.0
    return np.sum(M * _W22)


@pytest.mark.parametrize("fn", [dict_union_literals_then_write, dict_union_names_then_write,
                                dict_union_in_place_then_write])
def test_writes_into_items_of_a_dict_union_are_refused(fn):
    M = X4.reshape(2, 2)
    assert fn(X4.copy()) != pytest.approx(np.sum(M * _W22))
    with pytest.raises(CompileError, match=r"writing into d\['b'\]\[\.\.\.\] in place"):
        dlfeval(_entry, fn, dlarray(X4.copy()))


def dict_union_read(x):
    M = x.reshape(2, 2) * 1.0
    d = {"a": M[0]} | {"b": M[1]}
    return np.sum(d["a"] * 2.0 + d["b"] ** 2)


def mask_union_write(x):
    k = (x > 0) | (x < 0.2)
    k[0] = True
    return np.sum(x * k)


@pytest.mark.parametrize("fn", [dict_union_read, mask_union_write])
def test_dict_union_reads_and_masks_still_run(fn):
    _check(fn, X4)


# --- 6. numpy arrays of objects (MATLAB's cells ported) -----------------------------------------------

def object_array_item_write(x):
    M = x.reshape(2, 2) * 1.0
    arr = np.empty(2, dtype=object)
    arr[0] = M[0]                    # a reference to M's row
    arr[0][1] = 5.0
    return np.sum(M * _W22)


def object_array_literal_item_write(x):
    M = x.reshape(2, 2) * 1.0
    arr = np.array([M[0], None], dtype=object)
    arr[0][1] = 5.0
    return np.sum(M * _W22)


@pytest.mark.parametrize("fn", [object_array_item_write, object_array_literal_item_write])
def test_writes_into_items_of_object_arrays_are_refused(fn):
    M = X4.reshape(2, 2)
    assert fn(X4.copy()) != pytest.approx(np.sum(M * _W22))
    with pytest.raises(CompileError, match=r"writing into arr\[0\]\[\.\.\.\] in place"):
        dlfeval(_entry, fn, dlarray(X4.copy()))


def numeric_array_row_copy_write(x):
    M = x.reshape(2, 2) * 1.0
    z = np.zeros((2, 2))
    z[0] = M[0]                      # numbers copied
    z[0][1] = 5.0
    return np.sum(M * _W22) + np.sum(z * _W22)


def test_numeric_array_rows_are_copies():
    _check(numeric_array_row_copy_write, X4)


# --- 7. the operator module's functions on containers -------------------------------------------------

import operator  # noqa: E402


def operator_getitem_then_write(x):
    M = x.reshape(2, 2) * 1.0
    r = operator.getitem(M, 0)        # M[0]: a view
    r[1] = 5.0
    return np.sum(M * _W22)


def operator_add_lists_then_write(x):
    M = x.reshape(2, 2) * 1.0
    l = operator.add([M[0]], [M[1]])
    l[1][1] = 5.0
    return np.sum(M * _W22)


def operator_mul_list_then_write(x):
    M = x.reshape(2, 2) * 1.0
    l = operator.mul([M[0]], 2)
    l[1][1] = 5.0
    return np.sum(M * _W22)


@pytest.mark.parametrize("fn", [operator_getitem_then_write, operator_add_lists_then_write,
                                operator_mul_list_then_write])
def test_writes_through_operator_results_are_refused(fn):
    M = X4.reshape(2, 2)
    assert fn(X4.copy()) != pytest.approx(np.sum(M * _W22))
    with pytest.raises(CompileError, match=r"writing into (r|l\[1\])\[\.\.\.\] in place"):
        dlfeval(_entry, fn, dlarray(X4.copy()))


def operator_reads(x):
    M = x.reshape(2, 2) * 1.0
    r = operator.getitem(M, 1)
    s = operator.add(M[0], r * 2.0)
    return np.sum(operator.mul(s, r))


def test_operator_reads_still_run():
    _check(operator_reads, X4)


# --- 8. np.power.reduce: numpy's own value is not the fold --------------------------------------------

def power_reduce(x):
    return np.power.reduce(np.abs(x[:3]) + 0.5)


def test_power_reduce_where_numpy_does_not_fold_is_refused():
    a = np.abs(X4[:3]) + 0.5
    import functools as _ft
    if np.isclose(np.power.reduce(a), _ft.reduce(np.power, a)):
        pytest.skip("this numpy's np.power.reduce folds left")
    with pytest.raises(sct_errors.EvaluationError, match=r"np\.power\.reduce: numpy gives"):
        dlfeval(_entry, power_reduce, dlarray(X4.copy()))


def folds_numpy_agrees_with(x):
    a = np.abs(x) + 0.5
    return np.subtract.reduce(a) + np.maximum.reduce(a * 2.0) + np.sum(np.power.accumulate(a[:3])) + \
        np.power.reduce(a[:2]) + np.hypot.reduce(a)


def test_folds_numpy_agrees_with_still_run():
    _check(folds_numpy_agrees_with, X4)
