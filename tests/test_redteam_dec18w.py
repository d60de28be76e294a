"""Lists and in-place writes: values as plain Python computes them, gradients as finite differences.

- ``L.insert / L.extend / L.reverse / L.sort`` on a list holding an array (lowered to a new list,
  ``L = rt.extended(L, ...)``) kept holding it for the alias analysis: a later write into the array
  (``a[0] = 5``), or into the list's item (``L[1][1] = 0``), was made on a copy and the other name
  kept its old value (was: silently wrong value and gradient; now refused as after ``L.append(a)``).
- ``a.reverse()`` / ``a.extend()`` / ``a.insert()`` of an array, ``L.fill()`` of a list,
  ``L.sort(axis=0)`` of a list: Python's AttributeError / TypeError (was: a value).
- ``z[0:2] = [a, b]`` (a list written into an array): a TypeError from np.result_type reached the
  user; now numpy's value and the exact derivative.
"""
import numpy as np
import pytest

import sct
from sct import dlarray, dlfeval, dlgradient, extractdata
from sct.errors import SctError

from gradcheck import assert_close, numerical_gradient

X = np.array([0.3, 0.5, -0.7])


def _value_and_gradient(wrapper, f, x=X):
    y, g = dlfeval(wrapper, dlarray(x))
    assert_close(extractdata(y), f(x.copy()), what="value")
    assert_close(extractdata(g), numerical_gradient(lambda a: float(f(a)), [x.copy()], 0), rtol=1e-5,
                 what="gradient")


# --- a list that holds an array, changed by insert / extend / reverse, then the array written ---

def held_after_extend(x):
    a = x * 1.0
    L = []
    L.extend([a, x])
    a[0] = 5.0
    return np.sum(L[0] * x)


def held_after_insert(x):
    a = x * 1.0
    L = [a]
    L.insert(0, x)
    a[0] = 5.0
    return np.sum(L[1] * L[0])


def held_after_reverse(x):
    a = x * 1.0
    L = [a, x]
    L.reverse()
    a[0] = 5.0
    return np.sum(L[1] * x)


def item_written_after_reverse(x):
    a = x * 1.0
    L = [a, x * 2]
    L.reverse()
    L[1][1] = 0.0
    return np.sum(a * x)


def item_written_after_insert(x):
    a = x * 1.0
    L = [a]
    L.insert(0, x * 2)
    L[1][1] = 0.0
    return np.sum(a * x)


@pytest.mark.parametrize("f", [held_after_extend, held_after_insert, held_after_reverse,
                               item_written_after_reverse, item_written_after_insert])
def test_a_list_changed_in_place_still_holds_its_arrays(f):
    # plain Python: the write is seen through the list (or through a); sct gave the old value
    def wrapper(x):
        y = f(x)
        return y, dlgradient(y, x)
    try:
        y, g = dlfeval(wrapper, dlarray(X))
    except SctError as e:
        assert "in place" in str(e) and "test_redteam_dec18w.py" in str(e)
        return
    assert_close(extractdata(y), f(X.copy()))
    assert_close(extractdata(g), numerical_gradient(lambda a: float(f(a)), [X.copy()], 0), rtol=1e-5)


def list_methods(x):
    L = [x[0] * x[1], x[2], x[1] ** 2]
    L.reverse()
    M = [x[0] * x[1], x[2]]
    M.insert(1, x[1] ** 2)
    M.extend([x[0] ** 3])
    N = [x[0] * x[1], x[2], x[1] ** 2]
    N.sort()
    return L[0] * L[1] ** 2 + L[2] * 3 + M[0] * M[1] ** 2 + M[2] * M[3] + N[0] * N[1] ** 2 + N[2] * 3


def list_methods_value(x):
    y = list_methods(x)
    return y, dlgradient(y, x)


def test_list_methods_of_lists_of_numbers_are_exact():
    _value_and_gradient(list_methods_value, list_methods)


# --- methods a value does not have: Python's error ---

def array_reverse(x):
    a = x * 2
    a.reverse()
    return np.sum(a)


def array_extend(x):
    a = x * 2
    a.extend([1.0])
    return np.sum(a)


def array_insert(x):
    a = x * 2
    a.insert(0, 1.0)
    return np.sum(a)


def list_fill(x):
    a = [x[0], x[1]]
    a.fill(0.0)
    return a[0]


def dict_reverse(x):
    d = {"a": x}
    d.reverse()
    return np.sum(d["a"])


def list_sort_axis(x):
    a = [3.0, 1.0]
    a.sort(axis=0)
    return np.sum(x) * a[0]


@pytest.mark.parametrize("f,error", [(array_reverse, AttributeError), (array_extend, AttributeError),
                                     (array_insert, AttributeError), (list_fill, AttributeError),
                                     (dict_reverse, AttributeError), (list_sort_axis, TypeError)])
def test_a_method_the_value_lacks_raises_as_python(f, error):
    with pytest.raises(error):
        f(X.copy())
    with pytest.raises(Exception, match=error.__name__):
        dlfeval(f, dlarray(X))


def array_sort_axis(x):
    a = np.stack([x, x[::-1] * 2])
    a.sort(axis=0)
    return np.sum(a * np.array([[1.0], [3.0]]))


def array_sort_axis_value(x):
    y = array_sort_axis(x)
    return y, dlgradient(y, x)


def test_an_array_sort_with_axis_still_works():
    _value_and_gradient(array_sort_axis_value, array_sort_axis)


# --- a list written into an array ---

def list_into_slice(x):
    z = np.zeros(3)
    z[0:2] = [x[0] * x[1], x[2] ** 2]
    return np.sum(z * z * x)


def list_into_slice_value(x):
    y = list_into_slice(x)
    return y, dlgradient(y, x)


def list_into_slice_second(x):
    y = list_into_slice(x)
    g = dlgradient(y, x)
    return dlgradient(np.sum(g * g), x)


def list_into_slice_gradient(x):
    return dlgradient(list_into_slice(x), x)


def test_a_list_written_into_an_array_slice():
    _value_and_gradient(list_into_slice_value, list_into_slice)

    def h(a):
        return float(np.sum(extractdata(dlfeval(list_into_slice_gradient, dlarray(a))) ** 2))
    assert_close(extractdata(dlfeval(list_into_slice_second, dlarray(X))),
                 numerical_gradient(h, [X.copy()], 0), rtol=1e-5)
    v = np.array([0.2, -0.4, 0.9])
    g = lambda a: np.asarray(extractdata(dlfeval(list_into_slice_gradient, dlarray(a))))
    assert_close(extractdata(sct.hvp(list_into_slice, X, v)), (g(X + 1e-6 * v) - g(X - 1e-6 * v)) / 2e-6,
                 rtol=1e-5)


# --- L.pop(i) and d.pop(k): lowered to rt.pop_position / rt.without_position / rt.without_key ---
# (was refused: "sct does not differentiate pop() on a list or dict holding traced values")

def pop_index(x):
    L = [x[0] * x[1], x[1] ** 2, x[2] * x[0]]
    v = L.pop(1)
    w = L.pop(-1)
    return v * w * L[0] + len(L)


def pop_in_loop(x):
    L = [x, x * 2, x * 3]
    total = 0.0
    while L:
        v = L.pop(0)
        total = total + np.sum(v * v * x)
    return total


def pop_in_expression(x):
    L = [x[0], x[1] * 2, x[2] * 3]
    total = 0.0
    for i in range(2):
        total = total + L.pop(0) * (i + 1)
    return total + L[0]


def dict_pop(x):
    d = {"a": x * x[0], "b": x ** 2}
    v = d.pop("a")
    u = d.pop("c", x * 3)
    return np.sum(v * d["b"] * u) + len(d)


@pytest.mark.parametrize("f", [pop_index, pop_in_loop, pop_in_expression, dict_pop])
def test_pop_with_an_index_or_key_is_exact(f):
    def gradient(x):
        return dlgradient(f(x), x)

    def value(x):
        y = f(x)
        return y, dlgradient(y, x)
    _value_and_gradient(value, f)
    # second order: the derivative of |gradient|^2 against finite differences of the gradient
    v = np.array([0.2, -0.4, 0.9])
    g = lambda a: np.asarray(extractdata(dlfeval(gradient, dlarray(a))))
    assert_close(extractdata(sct.hvp(f, X, v)), (g(X + 1e-6 * v) - g(X - 1e-6 * v)) / 2e-6, rtol=1e-4, atol=1e-6)


def pop_out_of_range(x):
    L = [x[0]]
    return L.pop(3)


def pop_of_a_missing_key(x):
    d = {"a": x}
    return np.sum(d.pop("b"))


def test_pop_errors_are_pythons():
    with pytest.raises(Exception, match="pop index out of range"):
        dlfeval(pop_out_of_range, dlarray(X))
    with pytest.raises(Exception, match="KeyError"):
        dlfeval(pop_of_a_missing_key, dlarray(X))


# --- a change in place of an item a dict or list holds (r = d[k]; r.append(v)), of a row a loop
# walks (for row in A: row *= 2), written back into the dict, list or array (sct/copy_aliases.py
# held_statements: ``base[k] = r; r = base[k]`` after the change, nothing in Python).  Was refused:
# "d holds it ... sct follows the new value through r only" ---

def setdefault_append(x):
    d = {}
    for i in range(3):
        d.setdefault(i % 2, []).append(x[i] * (i + 1))
    return sum(d[0]) * 2 + sum(d[1]) * d[1][0]


def setdefault_append_arrays(x):
    d = {}
    keys = ["a", "b", "a"]
    for i in range(3):
        d.setdefault(keys[i], []).append(x * x[i])
    return np.sum(d["a"][1] * d["a"][0]) + np.sum(d["b"][0]) * 3


def item_of_dict_appended(x):
    d = {"a": [x[0]], "b": [x[1]]}
    r = d["a"]
    r.append(x[2] * 3)
    return d["a"][1] * d["a"][0] + len(d["a"])


def item_of_list_appended(x):
    L = [[x[0]], [x[1]]]
    r = L[1]
    r.append(x[2] * 3)
    return L[1][1] * L[1][0] + len(L[1])


def items_by_key_in_a_loop(x):
    d = {"a": [x[0]], "b": [x[1]]}
    for k in ["a", "b"]:
        r = d[k]
        r.append(x[2] * r[0])
    return d["a"][1] * d["b"][1] + len(d["a"])


def array_item_of_dict_written(x):
    d = {"a": x * 2.0, "b": x * 1.0}
    r = d["a"]
    r[0] = x[2] * 5
    return np.sum(d["a"] * x)


def array_item_of_dict_scaled(x):
    d = {"a": x * 2.0, "b": x * 1.0}
    r = d["a"]
    r *= 3
    return np.sum(d["a"] * x) + np.sum(r)


def number_item_of_dict_added_to(x):
    d = {"a": x[0] * 1.0}
    r = d["a"]
    r += 3 * x[1]              # a number: bound anew, d["a"] keeps its value
    return d["a"] * x[2] + r


def rows_scaled(x):
    A = np.stack([x, x * x])
    for row in A:
        row *= 2
    return np.sum(A * x)


def rows_written(x):
    A = np.stack([x, x * x])
    for row in A:
        row[0] = row[1] * 3
    return np.sum(A ** 2) + np.sum(row)


def rows_in_nested_loops(x):
    A = np.stack([x, x * x])
    for row in A:
        for j in range(3):
            row[j] = row[j] * (j + 1)
    return np.sum(A * x)


def rows_until_break(x):
    A = np.stack([x, x * x, x + 1])
    for row in A:
        row[0] = row[2] * 3
        if np.sum(row) > 1.5:
            break
    return np.sum(A * x)


def rows_enumerated(x):
    A = np.stack([x, x * x])
    for i, row in enumerate(A):
        row *= i + 1
    return np.sum(A * x)


def lists_walked_and_appended(x):
    L = [[x[0]], [x[1]]]
    for r in L:
        r.append(x[2] * 2)
    return L[0][1] * L[1][0] + len(L[1])


def array_view_by_an_index_array(x):
    A = np.stack([x, x * 2])
    idx = [1, 0]
    r = A[idx]                 # a copy: A keeps its values
    r[0] = 0.0
    return np.sum(A * x) + np.sum(r)


def array_view_by_an_integer_name(x):
    A = np.stack([x, x * 2])
    i = 1
    r = A[i]                   # a view: A changes
    r *= 3
    return np.sum(A * x) + np.sum(r)


HELD = [setdefault_append, setdefault_append_arrays, item_of_dict_appended, item_of_list_appended,
        items_by_key_in_a_loop, array_item_of_dict_written, array_item_of_dict_scaled,
        number_item_of_dict_added_to, rows_scaled, rows_written, rows_in_nested_loops, rows_until_break,
        rows_enumerated, lists_walked_and_appended, array_view_by_an_integer_name]


@pytest.mark.parametrize("f", HELD)
def test_a_change_of_an_item_is_written_back(f):
    def value(x):
        y = f(x)
        return y, dlgradient(y, x)
    _value_and_gradient(value, f)


@pytest.mark.parametrize("f", [setdefault_append_arrays, rows_written, array_item_of_dict_scaled])
def test_a_change_of_an_item_second_order(f):
    def gradient(x):
        return dlgradient(f(x), x)
    v = np.array([0.2, -0.4, 0.9])
    g = lambda a: np.asarray(extractdata(dlfeval(gradient, dlarray(a))))
    assert_close(extractdata(sct.hvp(f, X, v)), (g(X + 1e-6 * v) - g(X - 1e-6 * v)) / 2e-6, rtol=1e-4, atol=1e-6)


# where writing the item back would not be Python's meaning: refused, never a wrong value

def held_twice(x):
    l = [x[0]]
    d = {"a": l, "b": l}
    r = d["a"]
    r.append(x[1] * 3)
    return d["b"][1] * 2 + len(d["b"])


def held_inside_another_item(x):
    l = [x[0]]
    d = {"a": l, "b": [l]}
    r = d["a"]
    r.append(x[1] * 3)
    return d["b"][0][1] * 2 + len(d["b"][0])


def replaced_before_the_change(x):
    d = {"a": [x[0]]}
    r = d["a"]
    d["a"] = [x[2]]
    r.append(x[1] * 3)
    return d["a"][0] * 2 + len(d["a"]) + r[1]


def replaced_in_a_later_iteration(x):
    d = {"a": [x[0]]}
    r = d["a"]
    for i in range(2):
        r.append(x[1] * (i + 1))
        d["a"] = [x[2]]
    return d["a"][0] * 2 + len(d["a"]) + r[2]


def moved_by_an_insert(x):
    L = [[x[0]], [x[1]]]
    r = L[0]
    L.insert(0, [x[2]])
    r.append(x[1] * 3)
    return L[0][0] + len(L[0]) + L[1][1]


def written_through_a_second_name_of_the_dict(x):
    d = {"a": [x[0]]}
    e = d
    r = d["a"]
    e["a"] = [x[2]]
    r.append(x[1] * 3)
    return d["a"][0] + len(d["a"])


def rows_with_a_second_name(x):
    A = np.stack([x, x * x])
    B = A
    for row in A:
        row *= 2
    return np.sum(B * x)


def rows_of_a_slice(x):
    A = np.stack([x, x * x, x + 1])
    for row in A[1:]:
        row *= 2
    return np.sum(A * x)


@pytest.mark.parametrize("f", [held_twice, held_inside_another_item, replaced_before_the_change,
                               replaced_in_a_later_iteration, moved_by_an_insert,
                               written_through_a_second_name_of_the_dict, rows_with_a_second_name,
                               rows_of_a_slice, array_view_by_an_index_array])
def test_an_item_write_back_is_never_a_guess(f):
    def value(x):
        y = f(x)
        return y, dlgradient(y, x)
    try:
        y, g = dlfeval(value, dlarray(X))
    except SctError:
        return
    assert_close(extractdata(y), f(X.copy()))
    assert_close(extractdata(g), numerical_gradient(lambda a: float(f(a)), [X.copy()], 0), rtol=1e-5)


# --- a view of a copy (b = x.copy(); v = b[1:]; v[0] = 7): a write into b only (was refused: "v may
# be an object the function did not create": the copy was given the argument's items) ---

def view_of_a_copy_written(x):
    b = x.copy()
    v = b[1:]
    v[0] = 7.0
    return np.sum(b * x)


def view_of_a_copy_scaled(x):
    A = np.stack([x, x * x])
    b = A.copy()
    v = b[:, 1]
    v *= 3
    return np.sum(b * A) + np.sum(A)


# --- nested functions that make new objects (def make(v): return [v, v * 2]): their results are
# the caller's own (was refused: "x is an argument ...: the caller's object would change too") ---

def nested_list_maker(x):
    def make(v):
        return [v, v * 2]
    L = make(x)
    M = make(x * x)
    L.append(M[1])
    return np.sum(L[0] * L[2]) + np.sum(M[0])


def nested_array_maker(x):
    def scale(v):
        out = v * 3
        return out
    a = scale(x)
    a[0] = 1.0
    b = scale(x)
    return np.sum(a * b)


@pytest.mark.parametrize("f", [view_of_a_copy_written, view_of_a_copy_scaled, nested_list_maker,
                               nested_array_maker])
def test_copies_and_nested_makers_are_the_functions_own(f):
    def value(x):
        y = f(x)
        return y, dlgradient(y, x)
    _value_and_gradient(value, f)


def nested_identity(x):
    a0 = x * 1.0

    def ident(v):
        return v
    a = ident(a0)
    a[0] = 1.0
    return np.sum(a0 * x)


def nested_reader_of_a_local(x):
    W = x * 2

    def get():
        return W
    a = get()
    a[0] = 1.0
    return np.sum(W * x)


def nested_view(x):
    a0 = x * 1.0

    def first(v):
        return v[0:2]
    a = first(a0)
    a[0] = 1.0
    return np.sum(a0 * x)


@pytest.mark.parametrize("f", [nested_identity, nested_reader_of_a_local, nested_view])
def test_nested_functions_that_return_what_they_are_given_stay_refused(f):
    def value(x):
        y = f(x)
        return y, dlgradient(y, x)
    with pytest.raises(SctError, match="did not create"):
        dlfeval(value, dlarray(X))


# --- a list operand of an elementwise op: np.power([u, v], 2.0) (its adjoint computed ``[u, v] ** 1.0``:
# Python's TypeError reached the user), np.maximum([x0, 1.0], y) in forward mode (the list tangent
# went on as a list: "Field elements must be 2- or 3-tuples" from np.result_type; runtime broadcast_like) ---

def power_of_a_list(x):
    v = [x[0] * x[1], x[2]]
    return np.sum(np.power(v, 3.0) * x[0])


def maximum_of_a_list(x):
    return np.sum(np.maximum([x[0], 1.0], x[:2] * x[2]) * x[1])


@pytest.mark.parametrize("f", [power_of_a_list, maximum_of_a_list])
def test_list_operands_in_reverse_and_forward_mode(f):
    def value(x):
        y = f(x)
        return y, dlgradient(y, x)

    def gradient(x):
        return dlgradient(f(x), x)
    _value_and_gradient(value, f)
    v = np.array([0.2, -0.4, 0.9])
    _, dot = sct.jvp(f, (X,), (v,))
    assert_close(dot, (f(X + 1e-6 * v) - f(X - 1e-6 * v)) / 2e-6, rtol=1e-5, atol=1e-7)
    g = lambda a: np.asarray(extractdata(dlfeval(gradient, dlarray(a))))
    want = (g(X + 1e-6 * v) - g(X - 1e-6 * v)) / 2e-6
    assert_close(extractdata(sct.hvp(f, X, v)), want, rtol=1e-4, atol=1e-6)
    _, dot = sct.jvp(gradient, (X,), (v,))
    assert_close(dot, want, rtol=1e-4, atol=1e-6)


# --- an item written into what a call returns: d.setdefault(k, {})[j] = v (was refused: "this
# assignment target"; sct/normalize_stmts.py as_load) ---

def setdefault_nested_dicts(x):
    d = {}
    for i in range(3):
        d.setdefault(i % 2, {})["v" + str(i)] = x[i] * 2
    return d[0]["v0"] * d[0]["v2"] + d[1]["v1"]


def setdefault_item_added_to(x):
    d = {"a": {"n": x[0]}}
    d.setdefault("a", {})["n"] += x[1] * 3
    return d["a"]["n"] * x[2]


def setdefault_array_item_written(x):
    d = {"a": x * 1.0}
    d.setdefault("a", x * 0)[1] = x[0] * 7
    return np.sum(d["a"] * x)


@pytest.mark.parametrize("f", [setdefault_nested_dicts, setdefault_item_added_to, setdefault_array_item_written])
def test_an_item_of_a_calls_result_is_written(f):
    def value(x):
        y = f(x)
        return y, dlgradient(y, x)
    _value_and_gradient(value, f)


# --- refusals of the suite that are now computed (their tests moved to values): ---

def dict_item_array_written(x):
    d = {"w": np.zeros(3)}
    d["w"][0] = x[0] * 2.0
    return np.sum(d["w"] * x)


def list_item_written(x):
    pair = [x * 1.0, x * 2.0]
    first = pair[0]
    first[0] = 0.0
    return np.sum(pair[0] * x)


def view_of_a_copy_augmented(x):
    y = x.copy()
    v = y[1:]
    v *= 2.0
    return np.sum(y * y)


@pytest.mark.parametrize("f", [dict_item_array_written, list_item_written, view_of_a_copy_augmented])
def test_former_refusals_now_computed(f):
    def value(x):
        y = f(x)
        return y, dlgradient(y, x)
    _value_and_gradient(value, f)
