"""Red team of the alias feature (sct/copy_aliases.py: items ``a = w[1]``, views, second names).

Found: a 1-D array indexed by a NAME bound to ``...`` or ``None`` (``e = ...; w = v[e]``,
``n = None; w = v[n]``) was taken for a number (points_to.is_scalar_item: the name holds no
object, so it looked like an integer), so a write into w (or into v) was not followed into the
other: wrong value.  Such names (``None``, ``...``, attributes such as ``np.newaxis``, tuples,
lists, a ``for`` over anything but ``range``) are now indexes that may give a view: refused.

The accepted item programs below are the red team's probes that came out right (value vs plain
Python, gradient vs central differences, first and second order)."""
import numpy as np
import pytest

import sct
from gradcheck import check_two_inputs

X = np.array([0.3, -1.2, 0.7, 1.1, -0.4, 0.9])
T = np.array([0.5, -0.8, 1.3])


# --- refused: an index name that may hold ``...`` or ``None`` (was a wrong value) ------------------

def ellipsis_name(x, t):
    v = x * 1.0
    e = ...
    w = v[e]                   # a view of all of v
    w[0] = t[0] * 3.0
    return np.sum(v * v) + np.sum(w)


def none_name(x, t):
    v = x * 1.0
    n = None
    w = v[n]                   # a (1, 6) view of v
    w[0, 1] = t[0] * 3.0
    return np.sum(v * v) + np.sum(w)


def ellipsis_name_base_write(x, t):
    v = x * 1.0
    e = ...
    w = v[e]
    v[0] = t[0] * 3.0
    return np.sum(v * v) + np.sum(w * w)


def newaxis_name_base_write(x, t):
    v = x * 1.0
    n = np.newaxis
    w = v[n]
    v[1] = t[0] * 3.0
    return np.sum(v * v) + np.sum(w * w)


def none_from_loop(x, t):
    v = x * 1.0
    s = 0.0
    for e in [None]:
        w = v[e]
        v[1] = t[0] * 3.0
        s = s + np.sum(w * w)
    return s + np.sum(v)


def copied_ellipsis_name(x, t):
    v = x * 1.0
    e = ...
    f = e
    w = v[f]
    w[2] = t[1] * 2.0
    return np.sum(v * v) + np.sum(w)


@pytest.mark.parametrize("case", [ellipsis_name, none_name, ellipsis_name_base_write, newaxis_name_base_write,
                                  none_from_loop, copied_ellipsis_name])
def test_view_by_a_name_index_is_refused(case):
    with pytest.raises(sct.CompileError):
        check_two_inputs(case, X.copy(), T.copy(), order=1)


# --- accepted: items of arrays (value and gradient, first and second order) ------------------------

def int_name_item(x, t):
    v = x * 1.0
    k = 2
    a = v[k]                   # a number: keeps its value
    v[2] = t[0] * 5.0
    return np.sum(v * v) + a * a


def loop_index_items(x, t):
    m = np.outer(x[:2], t) + x[2:5]
    a = m[1]
    for i in range(2):
        m[i] = m[i] * t
    return np.sum(a * a) + np.sum(m)


def swap_rows_without_copy(x, t):
    m = np.outer(x[:2], t) + x[2:5]
    a = m[0]
    m[0] = m[1]
    m[1] = a                   # a is row 0, already overwritten: duplicated rows, as in Python
    return np.sum(m * np.arange(6.0).reshape(2, 3)) + np.sum(m * m * t)


def item_written_then_augmented(x, t):
    m = np.outer(x[:2], t) + x[2:5]
    a = m[0]
    a[1] = x[5] * 2.0
    a *= t
    return np.sum(m * m) + np.sum(a * t)


def items_swapped_then_read(x, t):
    m = np.outer(x[:2], t) + x[2:5]
    a = m[0]
    b = m[1]
    m[0] = b
    m[1] = a
    return np.sum(m * np.arange(6.0).reshape(2, 3)) + np.sum(a * t) + np.sum(b)


def item_in_branch_and_loop(x, t):
    m = np.outer(x[:2], t) + x[2:5]
    a = m[0]
    if x[0] > 0:
        a[1] = t[1] * 3.0
    else:
        m[0, 2] = t[2] * 3.0
    for i in range(3):
        a[i] = a[i] * t[i] + m[1, i]
    return np.sum(m * m) + np.sum(a * t)


@pytest.mark.parametrize("case", [int_name_item, loop_index_items, swap_rows_without_copy,
                                  item_written_then_augmented, items_swapped_then_read,
                                  item_in_branch_and_loop])
@pytest.mark.parametrize("sign", [1.0, -1.0])
def test_items_match_python(case, sign):
    check_two_inputs(case, sign * X.copy(), sign * T.copy())


# --- refused by the run: an item of what the activity took for an array but is a list -------------
# (``z[1] += t`` of a list of arrays changes the array a holds in place: a follows in Python; sct
# took the list's item as keeping its value: 6.8 where Python gives 13.46)

def list_on_one_path_item_augmented(x, t):
    if x[0] > 5.0:
        h = np.outer(x[:2], t) + 0.0
    else:
        h = [x[:3] * 1.0, x[3:] * 1.0]
    z = h * 1                  # a list here: its items are the arrays themselves
    a = z[1]
    z[1] += t                  # changes the array a holds, in place
    return np.sum(a * a) + np.sum(z[1] * t)


def list_on_one_path_item_replaced(x, t):
    if x[0] > 5.0:
        h = np.outer(x[:2], t) + 0.0
    else:
        h = [x[:3] * 1.0, x[3:] * 1.0]
    z = h * 1
    a = z[1]
    z[1] = t * 2.0
    return np.sum(a * a) + np.sum(z[1] * t)


def dict_on_one_path_item_augmented(x, t):
    if x[0] > 5.0:
        h = np.outer(x[:2], t) + 0.0
    else:
        h = {0: x[:3] * 1.0, 1: x[3:] * 1.0}
    z = h
    a = z[1]
    z[1] += t
    return np.sum(a * a) + np.sum(z[1] * t)


@pytest.mark.parametrize("case", [list_on_one_path_item_augmented, list_on_one_path_item_replaced,
                                  dict_on_one_path_item_augmented])
def test_item_of_a_list_at_run_time_is_refused(case):
    x, t = X.copy(), T.copy()
    if case is list_on_one_path_item_augmented:
        assert case(x.copy(), t.copy()) == pytest.approx(13.46)      # (sct gave 6.8)
    with pytest.raises((sct.CompileError, sct.EvaluationError)) as info:
        check_two_inputs(case, x, t, order=1)
    assert "is a view of z where z is an array" in str(info.value) or isinstance(info.value, sct.CompileError)
