"""Dec 12: valid programs sct refused, now compiled (values as plain Python, gradients exact to second
order), and the variants still refused at the user's line.

1. ``out = None`` then ``np.cumsum(a, 0, None, out)``: a local whose only binding is None passed as
   ``out`` (by position or by name) is no output array (sct/write_checks.py).
2. np.compress (and ``a.compress``), np.extract, np.choose, np.bincount's ``weights``, np.divmod
   (and Python's divmod), math.remainder: ops with derivative rules (runtime/numpy_ops.py,
   runtime/more_ops.py; rows in tests/test_op_rules.py).
3. ``np.fill_diagonal(a, v)`` into a local array no other name, view or container shares: a new
   value ``a = rt.with_diagonal(a, v)`` (sct/aliasing.py lower_mutations; numpy's own fill on a copy),
   its rule in runtime/more_ops.py; shared arrays still refused.
4. ``sliding_window_view(x, w)`` (numpy.lib.stride_tricks): an op (values numpy's own read-only view;
   the adjoint adds g over every window holding an entry).  The alias analysis keeps it a view of x
   (a write into x while it is read later: refused) and marks it read-only (sct/points_to.py): a
   write into it, or a view of it, is refused as numpy raises; writeable=True is refused.
"""
from __future__ import annotations

import inspect
import math
import re

import numpy as np
import pytest

from numpy.lib.stride_tricks import sliding_window_view

import sct
from sct import CompileError, dlarray, dlfeval, dlgradient, extractdata

try:
    from tests.gradcheck import assert_close, check_grads, check_two_inputs, numerical_gradient
except ImportError:                      # run from inside tests/
    from gradcheck import assert_close, check_grads, check_two_inputs, numerical_gradient


RNG = np.random.default_rng(12)
X = RNG.uniform(-2.0, 2.0, (3, 4))
T = RNG.uniform(0.5, 1.5, (3, 4))


def line_of(fun, text: str) -> int:
    """The line of ``fun``'s source that holds ``text`` (the construct a refusal must name)."""
    lines, first = inspect.getsourcelines(fun)
    hits = [first + k for k, line in enumerate(lines) if text in line]
    assert len(hits) == 1, (text, hits)
    return hits[0]


def assert_refused(run, fun, text: str, match: str = ""):
    """``run()`` raises a CompileError naming this file, the line of ``fun`` holding ``text``."""
    with pytest.raises(CompileError) as info:
        run()
    message = str(info.value)
    assert f"test_refusals_dec12.py, line {line_of(fun, text)}" in message, message
    if match:
        assert re.search(match, message), message
    return message


def first_order(f, x, t):
    y = f(x, t)
    return y, dlgradient(y, x, t)


# --- 1. out= bound to None only ---------------------------------------------------------------------

def cumsum_out_none_by_position(x, t):
    out = None
    c = np.cumsum(x * t, 0, None, out)
    return np.sum(c * c)


def cumsum_out_none_by_name(x, t):
    out = None
    c = np.cumsum(np.sin(x), axis=1, out=out) * t
    return np.sum(c ** 2)


def sum_and_method_out_none(x, t):
    out = None
    s = np.sum(x * x, 0, None, out)
    c = (x * t).cumsum(1, None, out)
    return np.sum(s * t[0]) + np.sum(c * c)


def ufuncs_out_none(x, t):
    out = None
    c = np.add(x, t, out=out)
    d = np.multiply(c, np.sin(x), out=out)
    return np.sum(np.matmul(d, t.T, out=out) ** 2)


OUT_NONE = [cumsum_out_none_by_position, cumsum_out_none_by_name, sum_and_method_out_none, ufuncs_out_none]


@pytest.mark.parametrize("case", OUT_NONE)
def test_out_bound_to_none_compiles_like_no_out(case):
    check_grads(case, X, T)
    check_two_inputs(case, X.copy(), T.copy())


@pytest.mark.parametrize("case", OUT_NONE)
def test_out_bound_to_none_forward_mode(case):
    direction = RNG.standard_normal(X.shape)
    value, tangent = sct.jvp(case, (X, T), (direction, np.zeros_like(T)))
    assert_close(value, case(X, T), rtol=1e-12, atol=1e-12, what="value")
    expected = np.sum(numerical_gradient(lambda a: case(a, T.copy()), [X.copy()], 0) * direction)
    assert_close(tangent, expected, rtol=1e-5, atol=1e-6, what="tangent")


def test_out_bound_to_none_in_a_loss_with_params_in_a_dict():
    def model(p, x):
        out = None
        h = np.cumsum(np.tanh(x @ p["w"]), 0, None, out)
        return np.sum(h * p["b"])

    def loss(p, x):
        y = model(p, x)
        return y, dlgradient(y, p)

    p = {"w": RNG.standard_normal((4, 3)), "b": RNG.standard_normal(3)}
    x = RNG.standard_normal((5, 4))
    y, g = dlfeval(loss, {k: dlarray(v) for k, v in p.items()}, x)
    assert_close(extractdata(y), model(p, x), rtol=1e-12, atol=1e-12, what="value")
    for key in p:
        def f(v, key=key):
            return model({**p, key: v}, x)
        assert_close(extractdata(g[key]), numerical_gradient(f, [p[key].copy()], 0), what=f"d/d{key}")


def out_an_array_on_some_path(x, t):
    out = None
    if x.shape[0] > 1:
        out = np.zeros_like(x)
    c = np.cumsum(x * t, 0, None, out)
    return np.sum(c * c)


def out_a_real_array(x, t):
    out = np.zeros_like(x)
    np.cumsum(x * t, 0, None, out)
    return np.sum(out * out)


def out_a_parameter_of_a_helper(x, t):
    return np.sum(cumsum_into(x * t, np.zeros_like(x)) ** 2)


def cumsum_into(a, out=None):
    c = np.cumsum(a, 0, None, out)
    return c


def ufunc_out_rebound(x, t):
    out = None
    out = np.zeros_like(x)
    np.add(x, t, out=out)
    return np.sum(out * x)


@pytest.mark.parametrize("case, text", [(out_an_array_on_some_path, "np.cumsum("),
                                        (out_a_real_array, "np.cumsum(")])
def test_out_bound_to_an_array_is_still_refused(case, text):
    assert_refused(lambda: dlfeval(first_order, case, dlarray(X), dlarray(T)), case, text,
                   r"out \(given by position\) writes the result into out in place")


def scaled(a, out=2.0):
    return a * (1.0 if out is None else out)


def users_function_given_out_none(x, t):
    o = None
    return np.sum(scaled(x * t, out=o) ** 2)       # None passed: not the default 2.0


def test_users_function_given_out_none_keeps_it():
    check_grads(users_function_given_out_none, X, T)


def test_out_a_parameter_or_rebound_is_not_taken_for_none():
    # a helper's parameter out (a caller's array here) and a name bound to None, then to an array
    with pytest.raises(CompileError) as info:
        dlfeval(first_order, out_a_parameter_of_a_helper, dlarray(X), dlarray(T))
    assert f"test_refusals_dec12.py, line {line_of(cumsum_into, 'np.cumsum(')}" in str(info.value)
    # (out=out of an array made here, rebound from None: numpy's write into it, followed as before)
    check_grads(ufunc_out_rebound, X, T)


# --- 2. new ops -----------------------------------------------------------------------------------

def compress_rows(x, t):
    keep = np.array([True, False, True])
    return np.sum(np.compress(keep, x, axis=0) ** 2 * t[:2])


def compress_flat_and_method(x, t):
    return np.sum(np.sin(np.compress([0, 1, 1, 0, 1], x)) * 3) + \
        np.sum(x.compress([True, False, True, True], 1) * t[:, :3])


def extract_positive(x, t):
    return np.sum(np.extract(x > 0, x * t) ** 2)


def choose_from_a_list(x, t):
    idx = np.array([[0, 1, 2, 0], [2, 2, 1, 0], [1, 0, 0, 1]])
    return np.sum(np.choose(idx, [x, t * 2, np.sin(x[0])]) ** 2)


def choose_from_an_array_clipped(x, t):
    idx = np.array([0, 3, 1, -1])
    return np.sum(np.choose(idx, x * t, mode="clip") ** 3)


def choose_method_of_the_index(x, t):
    idx = np.arange(12).reshape(3, 4) % 3
    return np.sum(idx.choose([x, t, x * t], mode="wrap") ** 2)


def bincount_weights(x, t):
    bins = np.array([0, 2, 2, 4, 0, 1, 2, 3, 3, 3, 1, 0])
    return np.sum(np.bincount(bins, weights=np.ravel(x * t), minlength=7) ** 2)


def numpy_divmod(x, t):
    q, r = np.divmod(x, t)
    return np.sum(r ** 2 * q) + np.sum(np.divmod(x, 0.7)[1] ** 2)


def python_divmod(x, t):
    q, r = divmod(x, t)
    return np.sum(r * r) + np.sum(q)


def math_remainder(x, t):
    s = 0.0
    for i in range(3):
        s = s + math.remainder(x[i, 0], t[i, 1]) ** 2 + math.remainder(x[i, 2], 0.6)
    return s


OPS = [compress_rows, compress_flat_and_method, extract_positive, choose_from_a_list,
       choose_from_an_array_clipped, choose_method_of_the_index, bincount_weights, numpy_divmod, python_divmod,
       math_remainder]


@pytest.mark.parametrize("case", OPS)
def test_new_ops_first_and_second_order(case):
    check_grads(case, X, T)
    check_two_inputs(case, X.copy(), T.copy())


@pytest.mark.parametrize("case", OPS)
def test_new_ops_forward_mode(case):
    direction = RNG.standard_normal(X.shape)
    value, tangent = sct.jvp(case, (X, T), (direction, np.zeros_like(T)))
    assert_close(value, case(X, T), rtol=1e-12, atol=1e-12, what="value")
    expected = np.sum(numerical_gradient(lambda a: case(a, T.copy()), [X.copy()], 0) * direction)
    assert_close(tangent, expected, rtol=1e-5, atol=1e-6, what="tangent")


def test_new_ops_in_a_loss_with_params_in_a_dict():
    bins = np.array([0, 1, 1, 3, 2, 0])
    keep = np.array([True, False, True, True])

    def model(p, x):
        h = np.compress(keep, np.tanh(x @ p["w"]), axis=1)             # (6, 3)
        pooled = np.bincount(bins, weights=h[:, 0] * p["b"], minlength=5)
        picked = np.choose(bins % 2, [h[:, 1], h[:, 2] * p["b"]])
        q, r = np.divmod(h[:, 2] + 3.0, p["scale"])
        return np.sum(pooled ** 2) + np.sum(picked * np.extract(bins > 0, p["b"])[0]) + np.sum(r * q)

    def loss(p, x):
        y = model(p, x)
        return y, dlgradient(y, p)

    p = {"w": RNG.standard_normal((3, 4)), "b": RNG.standard_normal(6), "scale": np.array(0.8)}
    x = RNG.standard_normal((6, 3))
    y, g = dlfeval(loss, {k: dlarray(v) for k, v in p.items()}, x)
    assert_close(extractdata(y), model(p, x), rtol=1e-12, atol=1e-12, what="value")
    for key in p:
        def f(v, key=key):
            return model({**p, key: v}, x)
        assert_close(extractdata(g[key]), numerical_gradient(f, [np.array(p[key], dtype=float)], 0),
                     what=f"d/d{key}")


def divmod_into_outputs(x, t):
    q = np.zeros_like(x)
    r = np.zeros_like(x)
    np.divmod(x, t, q, r)
    return np.sum(r * r)


def choose_into_out(x, t):
    z = np.zeros_like(x)
    np.choose(np.zeros(x.shape, dtype=int), [x, t], out=z)
    return np.sum(z * z)


@pytest.mark.parametrize("case, text, match", [
    (divmod_into_outputs, "np.divmod(", "given 2 output arrays by position"),
    (choose_into_out, "np.choose(", "out=z writes the result into z in place"),
])
def test_new_ops_writing_into_outputs_are_refused(case, text, match):
    assert_refused(lambda: dlfeval(first_order, case, dlarray(X), dlarray(T)), case, text, match)


# --- 3. np.fill_diagonal into a local array ---------------------------------------------------------

def fill_diagonal_scalar(x, t):
    a = x * t
    np.fill_diagonal(a, t[0, 0] * 3.0)
    return np.sum(a ** 2)


def fill_diagonal_short_values(x, t):
    a = np.sin(x)
    np.fill_diagonal(a, t[1, :2])              # cycled: t[1, 0], t[1, 1], t[1, 0]
    return np.sum(a ** 3 * t)


def fill_diagonal_tall_wrapped(x, t):
    a = np.zeros((7, 3))
    np.fill_diagonal(a, x[0], wrap=True)
    return np.sum(np.cos(a) * np.arange(21.0).reshape(7, 3)) + np.sum(t)


def fill_diagonal_through_a_copy_alias(x, t):
    a = np.tile(x, (2, 1)).T * 1.0
    b = a                                      # the same object: sees the fill
    np.fill_diagonal(a, val=t[0])
    return np.sum(a * b)


def fill_diagonal_after_a_read(x, t):
    a = x.copy()
    s = np.sum(a * a)                          # read before the fill: the old values
    np.fill_diagonal(a, 0.0)
    return s + np.sum(a * t)


def fill_diagonal_in_a_loop(x, t):
    a = np.outer(x[0], x[1])
    for k in range(3):
        np.fill_diagonal(a, t[k, 0] * k)
        a = np.tanh(a + t[k])
    return np.sum(a)


def fill_diagonal_of_integers(x, t):
    a = np.zeros((3, 4), dtype=int)
    np.fill_diagonal(a, x[0] * 2.7)            # rounded: no derivative through the values
    return np.sum(a * x * t)


def kernel_with_jitter(x, t):
    d = x[:, None, :] - x[None, :, :]                  # (3, 3, 4)
    K = np.exp(-np.sum(d ** 2, axis=-1) / 4.0)
    np.fill_diagonal(K, K.diagonal() + 0.1 * t[0, 0])  # the value reads K itself
    return np.linalg.slogdet(K)[1]


def nearest_other_distance(x, t):
    d = np.sqrt(np.sum((x[:, None, :] - x[None, :, :]) ** 2, axis=-1) + 1e-3)
    np.fill_diagonal(d, np.inf)                        # not one's own neighbour
    return np.sum(np.min(d, axis=1) * t[:, 0])


FILLS = [kernel_with_jitter, nearest_other_distance, fill_diagonal_scalar, fill_diagonal_short_values, fill_diagonal_tall_wrapped,
         fill_diagonal_through_a_copy_alias, fill_diagonal_after_a_read, fill_diagonal_in_a_loop,
         fill_diagonal_of_integers]


@pytest.mark.parametrize("case", FILLS)
def test_fill_diagonal_of_a_local_array(case):
    check_grads(case, X, T)
    check_two_inputs(case, X.copy(), T.copy())


@pytest.mark.parametrize("case", FILLS)
def test_fill_diagonal_forward_mode(case):
    direction = RNG.standard_normal(X.shape)
    value, tangent = sct.jvp(case, (X, T), (direction, np.zeros_like(T)))
    assert_close(value, case(X, T), rtol=1e-12, atol=1e-12, what="value")
    expected = np.sum(numerical_gradient(lambda a: case(a, T.copy()), [X.copy()], 0) * direction)
    assert_close(tangent, expected, rtol=1e-5, atol=1e-6, what="tangent")


def test_fill_diagonal_in_a_loss_with_params_in_a_dict():
    def model(p, x):
        h = np.tanh(x @ p["w"])                # (4, 4)
        gram = h.T @ h
        np.fill_diagonal(gram, p["d"])
        return np.sum(gram * (p["w"].T @ p["w"])) + np.sum(h)

    def loss(p, x):
        y = model(p, x)
        return y, dlgradient(y, p)

    p = {"w": RNG.standard_normal((3, 4)), "d": RNG.standard_normal(4)}
    x = RNG.standard_normal((4, 3))
    y, g = dlfeval(loss, {k: dlarray(v) for k, v in p.items()}, x)
    assert_close(extractdata(y), model({k: v.copy() for k, v in p.items()}, x), rtol=1e-12, atol=1e-12,
                 what="value")
    for key in p:
        def f(v, key=key):
            return model({**{k: w.copy() for k, w in p.items()}, key: v}, x)
        assert_close(extractdata(g[key]), numerical_gradient(f, [p[key].copy()], 0), what=f"d/d{key}")


def fill_diagonal_of_a_view(x, t):
    a = x * t
    v = a[:, :3]
    np.fill_diagonal(v, 0.0)
    return np.sum(a ** 2)


def fill_helper(a, v):
    np.fill_diagonal(a, v)
    return a


def fill_diagonal_of_the_callers_array(x, t):
    a = x * t
    b = fill_helper(a, t[0, 0])
    return np.sum(a * b)


def fill_diagonal_of_an_array_in_a_list(x, t):
    a = x * t
    xs = [a]
    np.fill_diagonal(a, t[0, 0])
    return np.sum(xs[0] * t)


def fill_diagonal_of_the_argument(x, t):
    np.fill_diagonal(x, t[0, 0])
    return np.sum(x * t)


def fill_diagonal_result_kept(x, t):
    a = x * t
    r = np.fill_diagonal(a, 1.0)
    return np.sum(a) + (r is None)


@pytest.mark.parametrize("case, match", [
    (fill_diagonal_of_a_view, "v may be a view of another array"),
    (fill_diagonal_of_the_callers_array, "a is an argument of fill_helper"),
    (fill_diagonal_of_an_array_in_a_list, "xs holds it"),
    (fill_diagonal_of_the_argument, "x is an argument of fill_diagonal_of_the_argument"),
    (fill_diagonal_result_kept, "statement of its own"),
])
def test_fill_diagonal_of_a_shared_array_is_refused(case, match):
    fun = fill_helper if case is fill_diagonal_of_the_callers_array else case
    assert_refused(lambda: dlfeval(first_order, case, dlarray(X.copy()), dlarray(T.copy())), fun,
                   "np.fill_diagonal(", match)


# --- 4. sliding_window_view ---------------------------------------------------------------------------

def windows_of_a_row(x, t):
    w = sliding_window_view(x[0] * t[0], 2)
    return np.sum(np.prod(w, axis=-1) ** 2)


def windows_2d(x, t):
    w = sliding_window_view(x * t, (2, 3))
    return np.sum(np.sin(w) * np.arange(w.size).reshape(w.shape))


def windows_along_an_axis_max(x, t):
    w = np.lib.stride_tricks.sliding_window_view(x, 2, axis=0)
    return np.sum(w.max(axis=-1) * t[:2])


def moving_average(x, t):
    w = sliding_window_view(x, window_shape=3, axis=1)
    return np.sum(np.mean(w, axis=-1) ** 2 * t[:, :2])


def windows_then_base_written_after_last_read(x, t):
    a = x * t
    w = sliding_window_view(a, 2, axis=1)
    s = np.sum(w ** 2)
    a[0, 0] = 5.0 * t[0, 0]                    # the view is not read again
    return s + np.sum(a)


def windows_of_constants_written_before_read(x, t):
    a = np.arange(12.0).reshape(3, 4)
    w = sliding_window_view(a, 2, axis=1)
    a[0, 0] = 5.0                              # plain data, written in place: the view sees it
    return np.sum(w * x[:, :3, None]) + np.sum(t)


def windows_copied_then_written(x, t):
    w = sliding_window_view(x * t, 2, axis=1).copy()
    w[0, 0, 0] = t[0, 0]
    return np.sum(w ** 2)


WINDOWS = [windows_of_a_row, windows_2d, windows_along_an_axis_max, moving_average,
           windows_then_base_written_after_last_read, windows_of_constants_written_before_read,
           windows_copied_then_written]


@pytest.mark.parametrize("case", WINDOWS)
def test_sliding_window_view(case):
    check_grads(case, X, T)
    check_two_inputs(case, X.copy(), T.copy())


@pytest.mark.parametrize("case", WINDOWS)
def test_sliding_window_view_forward_mode(case):
    direction = RNG.standard_normal(X.shape)
    value, tangent = sct.jvp(case, (X, T), (direction, np.zeros_like(T)))
    assert_close(value, case(X, T), rtol=1e-12, atol=1e-12, what="value")
    expected = np.sum(numerical_gradient(lambda a: case(a, T.copy()), [X.copy()], 0) * direction)
    assert_close(tangent, expected, rtol=1e-5, atol=1e-6, what="tangent")


def test_sliding_window_view_in_a_loss_with_params_in_a_dict():
    def model(p, x):
        h = np.tanh(x * p["scale"])                               # (8,)
        w = sliding_window_view(h, 3)                             # (6, 3)
        return np.sum((w @ p["kernel"] + p["bias"]) ** 2)

    def loss(p, x):
        y = model(p, x)
        return y, dlgradient(y, p)

    p = {"kernel": RNG.standard_normal(3), "bias": np.array(0.3), "scale": RNG.standard_normal(8)}
    x = RNG.standard_normal(8)
    y, g = dlfeval(loss, {k: dlarray(v) for k, v in p.items()}, x)
    assert_close(extractdata(y), model(p, x), rtol=1e-12, atol=1e-12, what="value")
    for key in p:
        def f(v, key=key):
            return model({**p, key: v}, x)
        assert_close(extractdata(g[key]), numerical_gradient(f, [np.array(p[key], dtype=float)], 0),
                     what=f"d/d{key}")


def base_written_while_windows_are_read_later(x, t):
    a = x * t
    w = sliding_window_view(a, 2, axis=1)
    a[0, 0] = 5.0 * t[0, 0]
    return np.sum(w ** 2)


def base_updated_while_windows_are_read_later(x, t):
    a = x * t
    w = sliding_window_view(a, 2, axis=1)
    a += t
    return np.sum(w ** 2)


def base_diagonal_filled_while_windows_are_read_later(x, t):
    a = x * t
    w = sliding_window_view(a, 2, axis=1)
    np.fill_diagonal(a, t[0, 0])
    return np.sum(w ** 2)


def write_into_windows(x, t):
    w = sliding_window_view(x * t, 2, axis=1)
    w[0, 0, 0] = t[0, 0]
    return np.sum(w ** 2)


def augmented_windows(x, t):
    w = sliding_window_view(x * t, 2, axis=1)
    w += 1.0
    return np.sum(w ** 2)


def write_into_a_view_of_windows(x, t):
    w = sliding_window_view(x * t, 2, axis=1)
    v = w[0].T
    v[0, 0] = 3.0
    return np.sum(w)


def windows_sorted_in_place(x, t):
    w = sliding_window_view(x * t, 2, axis=1)
    w.sort(axis=-1)
    return np.sum(w ** 2)


def windows_copyto(x, t):
    w = sliding_window_view(x * t, 2, axis=1)
    np.copyto(w, 0.0)
    return np.sum(w ** 2)


def writeable_windows(x, t):
    w = sliding_window_view(x * t, 2, axis=1, writeable=True)
    return np.sum(w ** 2)


@pytest.mark.parametrize("case, text, match", [
    (base_written_while_windows_are_read_later, "a[0, 0] = ", "w may be the same object as a or a view of it"),
    (base_updated_while_windows_are_read_later, "a += t", "w may be the same object as a or a view of it"),
    (base_diagonal_filled_while_windows_are_read_later, "np.fill_diagonal(", "w may be the same object as a"),
    (write_into_windows, "w[0, 0, 0] = ", "w may be a read-only view"),
    (augmented_windows, "w += 1.0", "w may be a read-only view"),
    (write_into_a_view_of_windows, "v[0, 0] = ", "v may be a read-only view"),
    (windows_sorted_in_place, "w.sort(", "w may be a read-only view"),
    (windows_copyto, "np.copyto(", "w may be a read-only view"),
    (writeable_windows, "writeable=True", "writeable=True"),
])
def test_sliding_window_view_writes_are_refused(case, text, match):
    assert_refused(lambda: dlfeval(first_order, case, dlarray(X.copy()), dlarray(T.copy())), case, text, match)
    if "base" not in case.__name__ and case is not writeable_windows:
        with pytest.raises(ValueError, match="read-only"):
            case(X.copy(), T.copy())               # numpy raises there too
