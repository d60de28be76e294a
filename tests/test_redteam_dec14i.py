"""Red team, Dec 14 (i): everyday Python idioms (star unpacking, swaps, chained comparisons, augmented
writes to dict items, list items and slices, ``del``, names rebound to other types, shadowed builtins,
``sum`` of generators, ``sorted(key=)``, ``enumerate(start=)``, ``zip`` of unequal lengths, negative
``range`` steps, ``while``/``for`` with ``else``), values against plain Python and gradients (first and
second order) against central differences.

Found (each a silently wrong gradient or a TypeError in the sweep before):
- a name bound to an array at one assignment and to a tuple, list or dict at another (loops,
  branches, helpers returning pairs, comprehensions, np.split, ``w = v.copy()``) added its adjoints
  with ``+``: the tuple's list adjoints were concatenated (4 for 9).  Now ``rt.add_grad``
  (sct/analysis.py ``Activity.mixed_names``); rt.index_add/index_added never ``+`` a container.
- such a name bound to a list: ``v + x`` took list adjoints, ``v * v`` took rt.repeat_adjoint whose
  rule held the count constant (a wrong second derivative), a complex factor was not conjugated.
- ``[a, b] * np.array([2., 3.])`` (numpy's product) was differentiated as a repetition; ``xs * k``
  with ``xs`` a tuple literal or a helper's tuple and ``k`` an int was differentiated as a product.
- a helper making complex values from real ones (``v * (1 + 2j)``) gave a result taken for real:
  the conjugates of the rules using it were elided ([5, 3] for [-3, -1.8]).
"""
import os
import sys

import numpy as np
import pytest

sys.path.insert(0, os.path.dirname(__file__))
from gradcheck import assert_close, numerical_gradient  # noqa: E402

import sct  # noqa: E402
from sct import dlarray, dlfeval, dlgradient, extractdata  # noqa: E402


def _first(f, x):
    y = f(x)
    return y, dlgradient(y, x)


def _second(f, x):
    y = f(x)
    g = dlgradient(y, x, EnableHigherDerivatives=True)
    z = np.sum(np.sin(g))
    return z, dlgradient(z, x)


def check(f, x, accelerate=False, order=2):
    """Value against plain Python; gradient, and the gradient of sum(sin(gradient)), against
    central differences."""
    x = np.array(x, dtype=float)
    run = sct.dlaccelerate(_first) if accelerate else (lambda *a: dlfeval(_first, *a))
    y, g = run(f, dlarray(x.copy()))
    assert_close(extractdata(y), f(x.copy()), rtol=1e-12, atol=1e-12, what=f"{f.__name__}: value")
    assert_close(extractdata(g), numerical_gradient(lambda a: f(a.copy()), [x.copy()], 0),
                 what=f"{f.__name__}: gradient")
    if order < 2:
        return

    def z_of(a):
        _, ga = dlfeval(_first, f, dlarray(a.copy()))
        return np.sum(np.sin(np.asarray(extractdata(ga))))
    z, gz = dlfeval(_second, f, dlarray(x.copy()))
    assert_close(extractdata(z), z_of(x), rtol=1e-10, what=f"{f.__name__}: second-order value")
    assert_close(extractdata(gz), numerical_gradient(z_of, [x.copy()], 0, step=1e-6), rtol=1e-4, atol=1e-5,
                 what=f"{f.__name__}: second-order gradient")


# --- a name bound to an array and to a container ------------------------------------------------------

def _pair(v):
    return v, v * 2


def rebind_tuple_in_loop(x):
    v = x
    for i in range(2):
        v = (v, v * 2)
        v = v[0] + v[1]
    return np.sum(v * v)


def rebind_helper_pair_in_loop(x):
    v = x
    for i in range(2):
        v = _pair(v)
        v = v[0] + v[1]
    return np.sum(v * v)


def rebind_listcomp_in_loop(x):
    v = x
    for i in range(2):
        v = [v * k for k in (1.0, 2.0)]
        v = v[0] + v[1]
    return np.sum(v * v)


def rebind_alias_in_loop(x):
    v = x
    for i in range(2):
        t = (v, v * 2)
        v = t
        v = v[0] + v[1]
    return np.sum(v * v)


def rebind_tuple_slice_in_loop(x):
    v = x
    for i in range(2):
        v = (v, v * 2, v * 3)
        w = v[1:]
        v = v[0] + w[0] + w[1]
    return np.sum(v * v)


def rebind_split_in_loop(x):
    v = x
    for i in range(2):
        v = np.split(v, 2)
        v = np.concatenate([v[1] * 3, v[0]])
    return np.sum(v * np.arange(4.0) * v)


def rebind_dict_in_loop(x):
    v = x
    for i in range(2):
        v = {"a": v, "b": v * 2}
        v = v["a"] + v["b"]
    return np.sum(v * v)


def rebind_in_branch(x):
    if np.sum(x) > 0:
        v = x * 2
    else:
        v = (x, x)
    if isinstance(v, tuple):
        return np.sum(v[0] * v[1] * v[0])
    return np.sum(v ** 3)


def rebind_tuple_kept_in_list(x):
    v = x
    vs = []
    for i in range(2):
        v = (v, v * 2)
        vs.append(v)
        v = v[1] - v[0] * v[1]
    return np.sum(v) + np.sum(vs[0][1] * vs[1][0])


def rebind_tuple_unpacked(x):
    v = x
    for i in range(2):
        v = v, v * 2
        a, b = v
        v = a * b
    return np.sum(v)


def rebind_tuple_repeated(x):
    v = x
    for i in range(2):
        v = (v,) * 2
        v = v[0] + 3 * v[1]
    return np.sum(v * v)


def rebind_number_to_tuple(x):
    v = np.sum(x)
    w = v
    for i in range(2):
        w = (w, v)
        w = w[0] * w[1]
    return w


def _pair_list(v):
    return [v, v * 2]


def rebind_helper_list(x):
    v = x
    for i in range(2):
        a, b = _pair_list(v)
        v = a * b
        v = _pair_list(v)
        v = v[0] + v[1]
    return np.sum(v)


def rebind_list_of_array(x):
    v = x
    for i in range(2):
        v = list(v)
        v = v[0] * x + v[1]
    return np.sum(v * v)


def rebind_tuple_of_generator(x):
    v = x
    for i in range(2):
        v = tuple(v * k for k in range(1, 3))
        v = v[0] * v[1]
    return np.sum(v)


@pytest.mark.parametrize("f", [rebind_tuple_in_loop, rebind_helper_pair_in_loop, rebind_listcomp_in_loop,
                               rebind_alias_in_loop, rebind_tuple_slice_in_loop, rebind_split_in_loop,
                               rebind_dict_in_loop, rebind_tuple_kept_in_list, rebind_tuple_unpacked,
                               rebind_tuple_repeated, rebind_number_to_tuple, rebind_helper_list,
                               rebind_list_of_array, rebind_tuple_of_generator])
def test_a_name_rebound_to_a_container_in_a_loop(f):
    check(f, [1.0, 2.0] if f is not rebind_split_in_loop else [1.0, 2.0, -0.5, 0.7])


def test_a_name_rebound_to_a_container_in_a_loop_accelerated():
    check(rebind_tuple_in_loop, [0.3, -1.2], accelerate=True)
    check(rebind_helper_pair_in_loop, [0.3, -1.2], accelerate=True)


@pytest.mark.parametrize("x", [[1.0, 2.0], [-1.0, -2.0]])
def test_a_name_bound_to_an_array_or_a_tuple_in_branches(x):
    check(rebind_in_branch, x)


def test_index_add_of_a_container_adjoint_adds_item_by_item():
    from sct.runtime import support
    x = (np.array([1.0]), np.array([2.0]))
    total = support.index_adjoint(np.array([5.0]), x, 1)          # [ZERO, [5.]]
    for fn in (support.index_added, support.index_add):
        out = fn(list(total), np.array([3.0]), x, 0)
        assert len(out) == 2, out
        assert_close(out[0], [3.0]), assert_close(out[1], [5.0])


# --- idioms that were already right (kept so they stay so) -------------------------------------------

def star_unpack(x):
    a, *mid, b = x
    s = 0.0
    for m in mid:
        s = s + m * a
    return s * b


def swap_in_loop(x):
    a, b = x[0], x[1]
    for _ in range(3):
        a, b = b, a * b
    return a + 2 * b


def chained_comparison(x):
    s = 0.0
    for v in x:
        if 0.0 < v < 1.5:
            s = s + v ** 2
        else:
            s = s + 3 * v
    return s


def augmented_items(x):
    p = {"w": x * 1.0}
    p["w"] -= 0.1 * x ** 2
    p["w"] *= x
    xs = [x[0], x[1], x[2]]
    for i in range(3):
        xs[i] *= 2 * x[i]
    B = np.stack([x, x ** 2])
    B[:, 1] += x[:2]
    B[0] *= B[1]
    return np.sum(p["w"]) + xs[0] * xs[1] + np.sum(B ** 2)


def shadowed_sum_and_builtins(x):
    sum = 0
    for v in x:
        sum += v * v
    return sum + max(x[0], x[1]) * min(x[1], x[2]) + sorted([x[0], x[1], x[2]], key=lambda v: -v)[0]


def loops_with_else(x):
    s = x[0]
    i = 0
    while i < 5:
        s = s * x[1]
        if s > 10:
            break
        i += 1
    else:
        s = s + 100 * x[0]
    for i, v in enumerate(x, start=1):
        if v < 0:
            s = s - v * 7 * i
            break
    else:
        s = s * x[2]
    for i in range(len(x) - 1, -1, -2):
        s = s * x[i] + x[i]
    return s


@pytest.mark.parametrize("f", [star_unpack, swap_in_loop, chained_comparison, augmented_items,
                               shadowed_sum_and_builtins, loops_with_else])
def test_everyday_idioms(f):
    check(f, [0.5, 2.0, 1.25])
    if f is loops_with_else:
        check(f, [1.0, 1.1, -0.5])



def rebind_tuple_in_while(x):
    v = x
    n = 0
    while np.sum(v) < 5.0:
        v = (v, v * 1.5)
        v = v[0] + v[1]
        n += 1
    return np.sum(v * v) + n


def rebind_list_in_while_else(x):
    v = [x[0], x[1]]
    while len(v) < 4:
        v = v + [v[-1] * v[0]]
    else:
        v = np.array(v)
    return np.sum(v * v)


def rebind_dict_with_continue(x):
    v = x
    for i in range(3):
        if i == 1:
            continue
        v = {"a": v, "b": v * 2}
        v = v["a"] * v["b"]
    return np.sum(v)


def rebind_tuple_with_break(x):
    v = x
    for i in range(4):
        if i == 2:
            break
        v = (v * 2, v)
        v = v[0] - v[1] ** 2
    return np.sum(v)


@pytest.mark.parametrize("f", [rebind_tuple_in_while, rebind_list_in_while_else, rebind_dict_with_continue,
                               rebind_tuple_with_break])
def test_a_name_rebound_to_a_container_in_while_break_continue(f):
    check(f, [0.5, 0.31])


# --- a name bound to a list and (elsewhere) to an array -----------------------------------------------

def list_then_array_add(x):
    v = x
    for i in range(2):
        v = v + x
        v = [v[0], v[1] * 2]
        v = np.array(v)
    return np.sum(v * v)


def list_then_array_add_straight(x):
    v = x
    v = v + x
    v = [v[0], v[1] * 2]
    v = np.array(v)
    return np.sum(v * v)


def array_from_list_add(x):
    v = [x[0], x[1]]
    for i in range(2):
        v = np.array(v) * 2
        v = v + x
        v = list(v)
    return v[0] * v[1]


def list_then_array_square(x):
    v = x
    for i in range(2):
        v = v * x
        v = [v[0], v[1] * 2]
        v = np.array(v)
    return np.sum(v * v)


@pytest.mark.parametrize("f", [list_then_array_add, list_then_array_add_straight, array_from_list_add,
                               list_then_array_square])
def test_a_name_bound_to_a_list_and_to_an_array(f):
    """``v + x`` with ``v`` an array here and a list at another assignment took list adjoints
    (list_head/list_tail: a TypeError in the sweep); ``v * v`` took ``rt.repeat_adjoint(g, v, v)``,
    right at first order, but its derivative took the count ``v`` for a constant: a second
    derivative silently wrong by a factor (1.0 for 3.0)."""
    check(f, [0.5, 0.3])


def list_or_real_array_times_complex(x):
    v = x
    for i in range(2):
        u = v * (1 + 2j)
        u = u * u
        v = [np.real(u[0]), np.imag(u[1])]
        v = np.array(v)
    return np.sum(v * v)


def list_or_real_array_times_complex_name(x):
    c = 0.5 - 1.5j
    v = x
    for i in range(2):
        u = v * c
        v = [np.real(u[0] * u[1]), np.imag(u[1])]
        v = np.array(v)
    return np.sum(v * v)


def list_of_complex_and_real(x):
    v = x
    for i in range(2):
        v = [v * 1j, v]
        v = np.real(v[0] * v[0] * v[1] + v[1])
    return np.sum(v)


@pytest.mark.parametrize("f", [list_or_real_array_times_complex, list_or_real_array_times_complex_name,
                               list_of_complex_and_real])
def test_a_name_bound_to_a_list_and_to_a_real_array_with_complex_factors(f):
    """``u = v * (1 + 2j)`` with ``v`` also bound to a list took ``rt.repeat_adjoint(d_u, v, c)``,
    which multiplied by ``c``, not its conjugate: the imaginary part's contribution negated, a
    silently wrong gradient ([1, -2.4] for [1, 2.4])."""
    check(f, [0.5, 0.3])


# --- a helper's name read from dicts that hold an array at one call and a tuple at another -------------

def _square_of_item(x, p, q):
    s = 0.0
    v = p
    for i in range(2):
        u = v["w"]
        if isinstance(u, tuple):
            s = s + np.sum(u[0] * u[1] * u[0])
        else:
            s = s + np.sum(u * u * x)
        v = q
    return s


def dict_item_squared(x):
    return _square_of_item(x, {"w": x * 2}, {"w": (x, x * 3)})


def _product_of_items(x, p, q):
    s = 0.0
    v = p
    for i in range(2):
        u = v["w"]
        t = v["b"]
        if isinstance(u, tuple):
            s = s + np.sum(u[0] * u[1] * t[0])
        else:
            s = s + np.sum(u * t * x)
        v = q
    return s


def dict_items_product(x):
    return _product_of_items(x, {"w": x * 2, "b": x + 1}, {"w": (x, x * 3), "b": (x * x, 1.0)})


def _complex_product_of_items(x, p, q):
    s = 0.0
    v = p
    for i in range(2):
        u = v["w"]
        t = v["b"]
        if isinstance(u, tuple):
            s = s + np.sum(np.abs(u[0] * u[1] * t[0]) ** 2)
        else:
            s = s + np.sum(np.abs(u * t * x) ** 2)
        v = q
    return s


def dict_items_complex_product(x):
    return _complex_product_of_items(x, {"w": x * (2 + 1j), "b": x + 1j}, {"w": (x, x * 3j), "b": (x * x, 1.0)})


@pytest.mark.parametrize("f", [dict_item_squared, dict_items_product, dict_items_complex_product])
def test_a_product_of_names_that_may_hold_tuples(f):
    """``u * t`` with ``u``, ``t`` read from a dict that holds tuples at another iteration was
    ``rt.repeat_adjoint(g, u, t)`` (a repetition, the runtime deciding): its rule took ``t`` for a
    constant count (a silently wrong second derivative) and multiplied by a complex ``t``, not its
    conjugate (a wrong first derivative: 0.875 for 4.0)."""
    check(f, [0.5, 0.3])


# --- .copy() and .append() of a name that holds an array at one iteration and a list at another --------

def copy_of_array_then_list(x):
    v = x
    out = 0.0
    for i in range(2):
        w = v.copy()
        if isinstance(w, list):
            out = out + w[0] * w[1] * 2
            v = x * 3
        else:
            out = out + np.sum(w * w)
            v = [x[0], x[1]]
    return out


def copy_of_list_then_array_appended(x):
    v = [x[0], x[1]]
    out = 0.0
    for i in range(2):
        w = v.copy()
        if isinstance(w, list):
            w.append(x[0])
            out = out + w[0] * w[2] * 2
            v = x * 3
        else:
            out = out + np.sum(w * w)
    return out


@pytest.mark.parametrize("f", [copy_of_array_then_list, copy_of_list_then_array_appended])
def test_copy_and_append_of_a_name_bound_to_an_array_and_a_list(f):
    """``w = v.copy()`` took ``w`` for an array wherever ``v`` was one somewhere (a silently wrong
    gradient, 1.0 for 1.6, or a TypeError in the sweep); ``w.append(a)`` with ``w`` bound to an array
    elsewhere dropped ``a``'s adjoint (10 for 11)."""
    check(f, [0.5, 0.3])


# --- a list times a numpy array: numpy's product, not a repetition ------------------------------------

_W = np.array([2.0, 3.0])


def list_times_array(x):
    xs = [x[0], x[1]]
    return np.sum(xs * _W) + np.sum(_W * xs) * x[0]


def list_times_0d_int_array(x):
    xs = [x[0], x[1] * x[0]]
    return np.sum(xs * np.array(2))


def list_times_count(x):
    xs = [x[0], x[1] * x[0]]
    n = np.int64(2)
    return sum(xs * n) + sum(3 * xs) * x[1]


@pytest.mark.parametrize("f", [list_times_array, list_times_0d_int_array, list_times_count])
def test_a_list_times_an_array_is_a_product(f):
    """``[a, b] * np.array([2., 3.])`` is numpy's ``[2a, 3b]``; sct took it for a repetition of the
    list (rt.repeat_adjoint's list branch): the gradient without the factor, [1, 1] for [2, 3]."""
    check(f, [0.5, 0.3])


def _count_of(x):
    return int(np.sum(x) > 0) + 1


def list_times_count_from_helper(x):
    xs = [x[0], x[1]]
    n = _count_of(x)
    ys = xs * n
    return sum(y * (i + 1) for i, y in enumerate(ys))


def tuple_times_count_from_value(x):
    xs = (x[0], x[1])
    k = int(x[0] * 10 + 0.3) % 3 + 1
    ys = xs * k
    return sum(y * (i + 1) for i, y in enumerate(ys))


@pytest.mark.parametrize("f", [list_times_count_from_helper, tuple_times_count_from_value])
def test_a_sequence_times_a_count_computed_from_traced_values(f):
    """``xs * k`` with ``xs = (a, b)`` (a tuple literal: not among the list names) and ``k`` an int
    computed from x was differentiated as a product: the list adjoint times k, itself a repetition
    (a silently wrong gradient, [1, 2] for [9, 12]); with ``n`` from a helper (traced as far as sct
    knows), the product's rule was given the list (a TypeError in the sweep)."""
    check(f, [0.5, 0.3])


def _pair_of(a, b):
    return a, b


def helper_tuple_times_count(x):
    t = _pair_of(x[0], x[1])
    k = 2
    ys = t * k
    return sum(y * (i + 1) for i, y in enumerate(ys))


def helper_tuple_times_count_from_value(x):
    t = _pair_of(x[0], x[1])
    k = int(x[0] * 10 + 0.3) % 3 + 1
    ys = t * k
    return sum(y * (i + 1) for i, y in enumerate(ys))


def _sine(v):
    return np.sin(v) * 2


def _rotate(v):
    return v * (1 + 2j)


def helper_results_multiplied(x):
    h = _sine(x)
    h2 = _sine(x * 3)
    c = 0.7
    z = _rotate(x)
    z2 = _rotate(x * 3)
    w = 0.5 - 1j
    return np.sum(h * h2) + np.sum(h * c) + np.sum(np.abs(z * z2) ** 2) + np.imag(np.sum(z2 * z * w))


@pytest.mark.parametrize("f", [helper_tuple_times_count, helper_tuple_times_count_from_value])
def test_a_helpers_result_times_a_factor(f):
    """``t = pair(a, b); t * k`` (a helper's tuple repeated) was differentiated as a product: the
    tuple's adjoint times k, a silently wrong gradient ([1, 2] for [4, 6])."""
    check(f, [0.5, 0.3])


def test_products_of_helpers_results():
    """Products of helpers' results, real and complex (was wrong for the complex ones at first
    order; at second order until values not proven real were decided when the code runs:
    tests/test_complex_unproven_dec15.py)."""
    check(helper_results_multiplied, [0.5, 0.3])


# --- a helper that makes complex values from real ones -----------------------------------------------

def _rotated(v):
    return v * (1 + 2j)


def _phase(v):
    return np.exp(1j * v)


def _rotated_twice(v):
    return _rotated(v) * 2


class _Rotation:
    def __init__(self, a):
        self.a = a

    def apply(self, v):
        return v * np.exp(1j * self.a)

    def __call__(self, v):
        return v * (2 - 1j)


def complex_helper_squared(x):
    z = _rotated(x)
    return np.real(np.sum(z * z))


def complex_helper_times_traced(x):
    z = _phase(x)
    return np.real(np.sum(z * z * x)) + np.sum(np.abs(_rotated(x) * x) ** 2)


def complex_helper_through_helper(x):
    z = _rotated_twice(x)
    return np.real(np.sum((x + 2) / z)) + np.real(np.sum(np.exp(z) * x))


def complex_method(x):
    r = _Rotation(0.3)
    z = r.apply(x)
    return np.real(np.sum(z * z * x))


def complex_call_of_object(x):
    r = _Rotation(0.3)
    w = r(x)
    return np.real(np.sum(w * w * x))


@pytest.mark.parametrize("f", [complex_helper_squared, complex_helper_times_traced, complex_helper_through_helper])
def test_a_helper_making_complex_values_from_real_ones(f):
    """``def rotate(v): return v * (1 + 2j)`` called with a real array: its result was taken for real
    (its argument is), so the conjugates of the rules using it were elided: a silently wrong gradient
    of ``np.real(np.sum(z * z))`` ([5, 3] for [-3, -1.8])."""
    check(f, [0.5, 0.3])


@pytest.mark.parametrize("f", [complex_method, complex_call_of_object])
def test_a_method_making_complex_values(f):
    """``r = Rotation(a); r.apply(x)``, ``r(x)``: right at first order (the class's method is read);
    the second derivatives were wrong until a value not proven real (a result of rt.vjp_at's code
    in the second-level code) was no longer taken for real (tests/test_complex_unproven_dec15.py)."""
    check(f, [0.5, 0.3])
