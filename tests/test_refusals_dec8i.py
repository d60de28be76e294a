"""Writes through a second name surely bound to the same object (sct/copy_aliases.py).

``t op= v`` too: an array, list or dict changes in place (the other name follows), a number or a
tuple is bound anew (the other name keeps its value); the run tells which (rt.updated_in_place).

``al = lst; al[0] = v; ... lst[0]``: Python changes the one object both names hold.  sct gives
a write value semantics, so it refused such a write whenever the other name was read later
(about a sixth of the refusals of scripts/progtest.py).  Where the other name is surely the same
object (bound by plain copies on every path, neither bound again since), sct now binds it again
after the write (``lst = al``: the same program in Python) and follows the new value into it.

Each accepted program runs under dlfeval and as plain Python (``dlgradient`` swapped for a
stub): the values agree and the gradients match central differences (first order, and through
tests/gradcheck.check_two_inputs second order too).  The near misses -- a name that is the same
object on some paths only, is bound again in the loop, is a view, is read by a lambda, or holds
the object in a list -- stay refused at their line.

A view by constant basic indexing of an array (``w = z[1:]``, ``z[::-1]``, ``m[1:, ::2]``) is
followed the same way: after a write into ``w``, ``z[1:] = w; w = z[1:]`` (its numbers written
back onto themselves); after a write into ``z``, ``w = z[1:]``.  An item by constant integers
(``a = w[1]``) is a view where w has more dimensions than the index and a number otherwise: the
run tells which (``a = w[1]; w[1] = w[2]; w[2] = a`` swaps, as in Python).
"""
import inspect

import numpy as np
import pytest

import sct
from sct import dlarray, dlfeval, dlgradient
from gradcheck import assert_close, check_two_inputs, numerical_gradient


# --- accepted: dlfeval's own function (progtest's shapes) ------------------------------------------

def list_alias(x):
    v = x * 1.0
    lst = [v, v * 2.0]
    al = lst
    al[0] = v * 3.0
    v = lst[0] + lst[1]
    y = np.sum(v * x)
    return y, dlgradient(y, x)


def dict_alias(x):
    t = x * 1.0
    dd = {'a': t}
    ee = dd
    ee['a'] = t ** 2
    t = dd['a'] + t
    y = np.sum(t ** 2)
    return y, dlgradient(y, x)


def array_alias(x):
    h = x * 1.0
    z = h
    z[1] = z[1] * 0.5 + 0.2
    h = h + z
    y = np.sum(np.sin(h) * x)
    return y, dlgradient(y, x)


def write_through_first_name(x):
    h = x * 2.0
    z = h
    h[0] = x[1] * x[2]
    y = np.sum(z * z) + np.sum(h)
    return y, dlgradient(y, x)


def chain_and_sort(x):
    z = x * 1.0
    a = z
    b = a
    b[1] = x[2] * x[0]
    b.sort()
    y = np.sum(a * np.arange(3.0)) + np.sum(z * x)
    return y, dlgradient(y, x)


def write_in_branch_and_loop(x):
    lst = [x, x * 2.0]
    al = lst
    if x[0] > 0:
        al[1] = al[1] * x
    for i in range(2):
        al[i] = al[i] * x + lst[1 - i]
    y = np.sum(lst[0] * lst[1])
    return y, dlgradient(y, x)


def list_append_alias(x):
    lst = [x]
    al = lst
    al.append(x * x)
    y = np.sum(lst[0] * lst[1]) + len(lst)
    return y, dlgradient(y, x)


def out_and_copyto_alias(x):
    z = np.zeros(3)
    w = z
    np.copyto(z, x * x)
    np.multiply(w, x, out=w)
    y = np.sum(z * x) + np.sum(w)
    return y, dlgradient(y, x)


def augmented_item_alias(x):
    z = x * 1.0
    w = z
    w[1] += x[2] * 3.0
    w[1:] *= x[0]
    y = np.sum(z ** 2)
    return y, dlgradient(y, x)


def rebound_before_write(x):
    z = x * 1.0
    w = z
    w = w * 2.0                # no longer z: keeps its value
    z[0] = x[1] * 3.0
    y = np.sum(w * x) + np.sum(z * z)
    return y, dlgradient(y, x)


def swapped_then_aliased(x):
    a = x * 1.0
    b = x * 2.0
    a, b = b, a
    c = a
    c[0] = x[1] * 5.0
    y = np.sum(a * b) + np.sum(x * b)
    return y, dlgradient(y, x)


def dict_update_alias(x):
    d = {"a": x, "b": x * 2.0}
    e = d
    e.update(a=x * x)
    y = np.sum(d["a"] * d["b"])
    return y, dlgradient(y, x)


def augmented_array_alias(x):
    h = x * 1.0
    z = h + 0.0
    y = z
    y += h * x                 # in place: z changes too
    h = z * 0.5
    q = np.sum(np.sin(h) * x) + np.sum(y)
    return q, dlgradient(q, x)


def augmented_number_alias(x):
    z = np.sum(x * x)
    z = z * 0.7 + 0.01 * np.tanh(z)
    v = z
    v *= np.sum(x)             # a number: v is bound to a new one, z keeps its value
    q = np.sin(v) + z * 2.0
    return q, dlgradient(q, x)


def augmented_list_alias(x):
    lst = [x, x * 2.0]
    m = lst
    m += [x * x]
    q = np.sum(lst[2] * lst[0]) + len(lst)
    return q, dlgradient(q, x)


def augmented_tuple_alias(x):
    tup = (x, x * 2.0)
    m = tup
    m += (x * x,)              # a tuple: m is bound to a new one
    q = np.sum(m[2] * tup[0]) + len(tup)
    return q, dlgradient(q, x)


def augmented_0d_alias(x):
    z = np.zeros(())
    z[()] = np.sum(x * x)
    y = z
    y += np.sum(x * x * x)     # a 0-d array changes in place, but numpy's number would not: the run refuses
    q = z * 2.0 + y * y
    return q, dlgradient(q, x)


def view_written(x):
    z = x * 1.0
    w = z[:2]
    w[0] = 3.0 * x[2]
    y = np.sum((x + z) * x)
    return y, dlgradient(y, x)


def view_augmented(x):
    h = x * x
    w = h[1:]
    w *= 1.5
    h = h * 1.0
    y = np.sum(np.sin(h) * x)
    return y, dlgradient(y, x)


def base_written_view_read(x):
    z = x * 1.0
    w = z[1:]
    z[2] = x[0] * 3.0
    y = np.sum(w * x[1:]) + np.sum(z * x)
    return y, dlgradient(y, x)


def base_augmented_view_read(x):
    z = x * 1.0
    w = z[::-1]
    z += x * x
    y = np.sum(w * x) + np.sum(z)
    return y, dlgradient(y, x)


def view_2d_in_loop(x):
    m = np.outer(x, x)
    w = m[1:, ::2]
    for i in range(2):
        w[i, 0] = w[i, 1] * x[i]
    w *= 2.0
    y = np.sum(m * m)
    return y, dlgradient(y, x)


def view_of_a_view(x):
    z = x * 1.0
    w = z[1:]
    u = w[:1]
    u[0] = x[0] * x[1]
    y = np.sum(w * x[1:])
    return y, dlgradient(y, x)


def base_write_reads_view(x):
    z = x * x
    w = z[1:]
    z[0] = w[1] * 2.0
    y = np.sum(z * x) + np.sum(w * x[1:])
    return y, dlgradient(y, x)


def view_written_in_while(x):
    z = x * 1.0
    w = z[:2]
    k = 0
    while k < 3:
        w[k % 2] = w[k % 2] * x[k] + 0.1
        k += 1
    y = np.sum(z * x)
    return y, dlgradient(y, x)


def alias_deleted_then_rebound(x):
    z = x * 1.0
    c = z
    del c
    c = x * 2.0
    z[0] = x[1]
    y = np.sum(c * z)
    return y, dlgradient(y, x)


def alias_rebound_by_walrus_in_the_write(x):
    z = x * 1.0
    c = z
    z[0] = (c := x * 3.0)[1]
    y = np.sum(c * z)
    return y, dlgradient(y, x)


def aliases_then_second_order(x):
    z = x * x
    c = z
    c[1] = x[0] * x[2]
    w = z[1:]
    w *= x[0]
    g = dlgradient(np.sum(z * z), x, EnableHigherDerivatives=True)
    y = np.sum(g * g)
    return y, dlgradient(y, x)


def swap_items_of_unknown_rank(x):
    u = np.stack([x[0], x[1] * 2.0, x[2] ** 2])     # (its rank is not known to sct)
    w = np.tanh(u) + 0.5
    a = w[1]                   # a number: keeps its value when w[1] changes
    w[1] = w[2] * 0.90
    w[2] = a
    y = np.sum(w * u) + a
    return y, dlgradient(y, x)


def swap_rows(x):
    m = np.outer(x, x) + 0.0
    a = m[1]                   # a view of row 1: sees the write
    m[1] = m[2] * 0.5
    m[2] = a
    y = np.sum(m * m) + np.sum(a)
    return y, dlgradient(y, x)


def row_written(x):
    m = np.outer(x, x) + 0.0
    r = m[0]
    r[1] = x[2] * 3.0
    r *= x[1]
    y = np.sum(m * m) + np.sum(r)
    return y, dlgradient(y, x)


def number_item_augmented(x):
    w = np.tanh(np.stack([x[0], x[1], x[2]]))
    a = w[1]
    a += 1.0                   # a number: bound anew, w keeps its value
    y = np.sum(w) + a
    return y, dlgradient(y, x)


def list_item_replaced(x):
    lst = [x * 1.0, x * 2.0]
    a = lst[0]
    lst[0] = x * 3.0
    y = np.sum(a * lst[0])
    return y, dlgradient(y, x)


def _z_of(v):
    z = v * v
    z[1] = v[0] * v[2]
    z[1:] *= v[0]
    return np.sum(z * z)


X0 = np.array([0.3, -1.2, 0.7])


def _plain(f, x):
    g = globals()
    real = g["dlgradient"]
    g["dlgradient"] = lambda *a, **k: None
    try:
        return f(x)[0]
    finally:
        g["dlgradient"] = real


EXACT = ["list_alias", "dict_alias", "array_alias", "write_through_first_name", "chain_and_sort",
         "write_in_branch_and_loop", "list_append_alias", "out_and_copyto_alias", "augmented_item_alias",
         "rebound_before_write", "swapped_then_aliased", "dict_update_alias",
         "augmented_array_alias", "augmented_number_alias", "augmented_list_alias", "augmented_tuple_alias",
         "view_written", "view_augmented", "base_written_view_read", "base_augmented_view_read", "view_2d_in_loop",
         "view_of_a_view", "view_of_a_list", "base_write_reads_view", "view_written_in_while",
         "alias_deleted_then_rebound", "alias_rebound_by_walrus_in_the_write",
         "swap_items_of_unknown_rank", "swap_rows", "row_written", "number_item_augmented", "list_item_replaced"]


@pytest.mark.parametrize("name", EXACT)
@pytest.mark.parametrize("sign", [1.0, -1.0])
def test_value_and_gradient_match_python(name, sign):
    f = globals()[name]
    x0 = sign * X0
    x = x0.copy()
    y, g = dlfeval(f, dlarray(x))
    np.testing.assert_array_equal(x, x0)           # the argument is not changed
    assert_close(np.asarray(y.data), _plain(f, x0.copy()), rtol=1e-12, atol=1e-12, what=name)
    expected = numerical_gradient(lambda v: float(_plain(f, v)), [x0.copy()], 0)
    assert_close(np.asarray(g.data), expected, rtol=1e-5, atol=1e-6, what=name)


def list_on_one_path(x):
    if x[0] > 5.0:
        h = x * 2.0
    else:
        h = [x[0], x[1], x[2]]
    z = h * 2                  # a list here: its slice is a new list, not a view
    w = z[1:]
    w[0] = x[2] * 4.0
    y = z[1] * x[0] + w[0] + len(z)
    return y, dlgradient(y, x)


def test_view_of_what_is_a_list_at_run_time_is_refused_by_the_run():
    with pytest.raises(sct.EvaluationError) as info:
        dlfeval(list_on_one_path, dlarray(X0.copy()))
    assert "is a view of z where z is an array" in str(info.value)


@pytest.mark.parametrize("sign", [1.0, -1.0])
def test_aliases_then_second_order(sign):
    x0 = sign * X0
    y, g = dlfeval(aliases_then_second_order, dlarray(x0.copy()))
    grad = lambda v: numerical_gradient(_z_of, [v], 0, step=1e-5)
    assert_close(np.asarray(y.data), np.sum(grad(x0.copy()) ** 2), rtol=1e-4, atol=1e-5)
    expected = numerical_gradient(lambda v: float(np.sum(grad(v) ** 2)), [x0.copy()], 0, step=1e-4)
    assert_close(np.asarray(g.data), expected, rtol=1e-3, atol=1e-3)


def test_augmented_0d_alias_is_refused_by_the_run():
    with pytest.raises(sct.EvaluationError) as info:
        dlfeval(augmented_0d_alias, dlarray(X0.copy()))
    assert "0-d array" in str(info.value) and "y +=" in str(info.value)


# --- accepted: in a helper, first and second order ------------------------------------------------

def h_list(x, t):
    lst = [x, x * 2.0]
    al = lst
    al[0] = x * 3.0 + t
    v = lst[0] + lst[1]
    return np.sum(np.sin(v) * t)


def h_dict(x, t):
    dd = {'a': x}
    ee = dd
    ee['a'] = x ** 2 * t
    v = dd['a'] + x
    return np.sum(v * v)


def h_array(x, t):
    h = x * 1.0
    z = h
    z[1] = z[1] * 0.5 + t[0]
    h = h + z
    return np.sum(h * h * t)


def h_sort(x, t):
    h = x * t
    z = h
    z.sort()
    return np.sum(h * np.arange(4.0))


def h_loop(x, t):
    lst = [x, x * 2.0]
    al = lst
    for i in range(2):
        al[i] = al[i] * t + lst[1 - i]
    return np.sum(lst[0] * lst[1])


def h_two_branches(x, t):
    z = x * 1.0
    if t[0] > 0:
        w = z
    else:
        w = z
        t = t * 2.0
    z[0] = t[1] * 2.0
    return np.sum(w * t + z)


def h_out(x, t):
    z = x * t
    w = z
    z[3] = x[0] * x[1]
    np.multiply(z, t, out=z)
    return np.sum(w ** 2)


def h_view(x, t):
    z = x * t
    w = z[::-1]
    w[1] = x[0] * x[3]
    w[2:] *= t[0]
    return np.sum(z * x) + np.sum(w * t)


def h_swap(x, t):
    w = np.tanh(np.stack([x[0], x[1] * t[0], x[2], x[3] * t[1]])) + 0.5
    a = w[1]
    w[1] = w[2] * t[2]
    w[2] = a
    return np.sum(w * t) + a * t[3]


def h_augmented(x, t):
    h = x * t
    z = h + 0.0
    y = z
    y += h * x
    h = z * 0.5
    return np.sum(np.sin(h) * t + y)


XT = (np.array([0.3, -0.7, 1.1, 0.5]), np.array([0.9, 1.3, -0.4, 0.2]))


@pytest.mark.parametrize("case", [h_list, h_dict, h_array, h_sort, h_loop, h_two_branches, h_out,
                                  h_augmented, h_view, h_swap],
                         ids=lambda c: c.__name__)
@pytest.mark.parametrize("sign", [1.0, -1.0])
def test_helper_first_and_second_order(case, sign):
    x, t = XT
    check_two_inputs(case, x.copy(), sign * t)


# --- near misses: still refused -------------------------------------------------------------------

def same_on_one_path(x):
    z = x * 1.0
    if x[0] > 0:
        w = z
    else:
        w = z.copy()
    z[0] = x[1] * 2.0
    y = np.sum(w * x + z)
    return y, dlgradient(y, x)


def rebound_in_loop(x):
    z = x * 1.0
    w = z
    for i in range(2):
        z[i] = x[i] * z[i + 1]
        if i == 1:
            w = w * 2.0
    y = np.sum(w * x + z)
    return y, dlgradient(y, x)


def view_by_a_name(x):
    z = x * 1.0
    k = 2
    w = z[:k]                  # an index that is not a constant: not followed
    w[0] = x[0] * 3.0
    y = np.sum(z * x)
    return y, dlgradient(y, x)


def copy_of_a_view(x):
    z = x * 1.0
    w = z[:2]
    c = w                      # c is the old view object: not followed
    w[0] = x[0] * 3.0
    y = np.sum(c) + np.sum(z * x)
    return y, dlgradient(y, x)


def view_of_a_list(x):
    lst = [x, x * 2.0, x * 3.0]
    w = lst[1:]                # a list's slice is a new list: lst keeps its items
    w[0] = x * 5.0
    y = np.sum(lst[1] * x) + np.sum(w[0])
    return y, dlgradient(y, x)


def read_by_lambda(x):
    z = x * 1.0
    w = z
    f = lambda: np.sum(w * x)
    z[0] = x[0] * 3.0
    y = f() + np.sum(z)
    return y, dlgradient(y, x)


def also_in_a_list(x):
    z = x * 1.0
    w = z
    lst = [w]
    z[0] = x[0] * 3.0
    y = np.sum(lst[0] * x) + np.sum(w)
    return y, dlgradient(y, x)


def alias_of_argument(x):
    w = x
    w[0] = 5.0
    y = np.sum(x * x)
    return y, dlgradient(y, x)


def aliased_then_rebound_in_branch(x):
    z = x * 1.0
    w = z
    if x[1] > 0:
        w = x * 3.0
    z[1] = x[0]
    y = np.sum(w * z)
    return y, dlgradient(y, x)


class Acc:
    def __init__(self, v):
        self.v = v

    def __iadd__(self, other):
        self.v = self.v + other
        return self


def augmented_user_object_alias(x):
    a = Acc(x * 1.0)
    b = a
    b += x * x                 # the user's __iadd__: not followed
    y = np.sum(a.v * x)
    return y, dlgradient(y, x)


def augmented_alias_in_loop(x):
    z = x * 1.0
    y = z
    for i in range(2):
        y += x * z             # y is bound in the loop: not surely z at its head
    q = np.sum(z * y)
    return q, dlgradient(q, x)


def augmented_alias_on_one_path(x):
    z = x * 1.0
    if x[0] > 0:
        y = z
    else:
        y = z.copy()
    y += x
    q = np.sum(z * x) + np.sum(y)
    return q, dlgradient(q, x)


def view_then_base_reshaped(x):
    z = np.concatenate([x, x * 2.0, x * x, x + 1.0])
    w = z[1:3]
    z.shape = (4, 3)           # w is no longer z[1:3]
    w[0] = x[2] * 4.0
    y = np.sum(z * z)
    return y, dlgradient(y, x)


REFUSED = {
    "same_on_one_path": ("z[...]", "w may be the same object as z"),
    "rebound_in_loop": ("z[...]", "w may be the same object as z"),
    "view_by_a_name": ("w[...]", "z may be the same object as w"),
    "copy_of_a_view": ("z[...]", "c may be the same object as z"),
    "read_by_lambda": ("z[...]", "w may be the same object as z"),
    "also_in_a_list": ("z[...]", "lst holds it"),
    "alias_of_argument": ("w[...]", "x is an argument"),
    "aliased_then_rebound_in_branch": ("z[...]", "w may be the same object as z"),
    "view_then_base_reshaped": ("z.shape", "changes the array z in place"),
    # (s49: `b += ...` runs the user's __iadd__, compiled as its call; refused where it changes self)
    "augmented_user_object_alias": ("__iadd__()", "sets self.v to a traced value"),
    "augmented_alias_in_loop": ("y +=", "z may be the same object as y"),
    "augmented_alias_on_one_path": ("y +=", "z may be the same object as y"),
}


@pytest.mark.parametrize("name", sorted(REFUSED))
def test_near_misses_are_refused_at_their_line(name):
    f = globals()[name]
    needle, reason = REFUSED[name]
    with pytest.raises(sct.CompileError) as info:
        dlfeval(f, dlarray(X0.copy()))
    err = info.value
    assert err.filename == __file__
    lines, start = inspect.getsourcelines(Acc.__iadd__ if name == "augmented_user_object_alias" else f)
    assert start <= err.lineno < start + len(lines)
    assert needle in str(err) and reason in str(err), str(err)
