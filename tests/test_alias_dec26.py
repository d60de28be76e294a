"""Red team L (dec26): aliasing, views and writes in place that sct accepted with a silently
wrong value or gradient.

1. ``w = extractdata(z)`` is z's own array (numpy's ``np.asarray``), without z's derivative. A
   write into it (``w[0] = 7.5``, ``w[w < 0] = 0``, ``w.fill(1)``, ``np.copyto(w, 3)``, ``w.sort()``)
   changes z in Python; sct ran the write (the value was right) but kept z's derivative as it was:
   a wrong gradient. Such a write is now checked as a write into the traced z: refused where z is
   read later.
2. ``np.einsum('ij->ji', z)`` (and 'ii->i', 'i->i': one operand, no sum) is a view of z in numpy.
   sct took it for a new array: a write into it was not seen to change z (wrong value and gradient),
   and a write into z was not seen to change it. Now it is a view (of one operand; of several
   operands einsum makes a new array, as before).
3. ``list(d.values())`` (``tuple``, ``sorted``, a comprehension, ``zip``/``enumerate`` over it) of a
   dict of dicts, or of the dict dlgradient returns, was read as ``list(d)`` (the keys): a new list
   holding nothing. ``for layer in list(params.values()): layer["w"] = layer["w"] * 3`` then left
   params unchanged in sct (wrong value and gradient), and ``gl = list(g.values()); gl[0] *= 2``
   left the gradient dict unchanged. Now it holds the dict's values: refused at the line.
4. ``it = enumerate(ps)`` / ``z = zip(ps, qs)`` bound to a name (or ``[*zip(L)]``, ``max(zip(...))``)
   was an object holding nothing, so ``for i, p in it: p[0] = v`` was not seen to change ps. Now the
   iterator holds what it walks: refused at the line.

Values are compared with plain Python, gradients with central differences (check_grads) or closed
forms; refusals must name the user's line.
"""
import inspect

import numpy as np
import pytest

import sct
from sct import dlarray, dlfeval, dlgradient, extractdata
from gradcheck import check_grads

X = np.array([0.3, -1.2, 0.7, 1.5, -0.4, 0.9])


def _line_of(fun, text):
    lines, start = inspect.getsourcelines(fun)
    for k, line in enumerate(lines):
        if text in line:
            return start + k
    raise AssertionError(f"{text!r} not in {fun.__name__}")


def _refused_at(fun, text, *args):
    """``fun`` differentiated is refused with a CompileError (or an EvaluationError the run raises
    before anything is computed) naming the line holding ``text``."""
    def loss_and_grad(x, *rest):
        y = fun(x, *rest)
        return y, dlgradient(y, x)
    with pytest.raises((sct.CompileError, sct.EvaluationError)) as info:
        dlfeval(loss_and_grad, dlarray(X.copy()), *args)
    message = str(info.value)
    assert f"line {_line_of(fun, text)}" in message, message
    return message


# --- 1. writes through extractdata(z) --------------------------------------------------------------

def extract_item_write(x):
    z = x * 1.0
    w = extractdata(z)
    w[0] = 7.5
    return np.sum(z * x)


def extract_mask_write(x):
    z = np.tanh(x)
    zd = extractdata(z)
    zd[zd < 0] = 0.0
    return np.sum(z ** 2)


def extract_fill(x):
    z = x * 1.0
    w = extractdata(z)
    w.fill(1.0)
    return np.sum(z * x)


def extract_copyto(x):
    z = x * 1.0
    w = extractdata(z)
    np.copyto(w, 3.0)
    return np.sum(z * x)


def extract_sort(x):
    z = x * 1.0
    w = extractdata(z)
    w.sort()
    return np.sum(z * x)


def extract_view_write(x):
    z = x * 1.0
    w = extractdata(z).reshape(2, 3)
    w[0] = 0.0
    return np.sum(z * x)


def extract_asarray_write(x):
    z = x * 1.0
    w = np.asarray(extractdata(z))
    w[0] = 7.0
    return np.sum(z * x)


@pytest.mark.parametrize("fun, text", [
    (extract_item_write, "w[0] = 7.5"),
    (extract_mask_write, "zd[zd < 0] = 0.0"),
    (extract_fill, "w.fill(1.0)"),
    (extract_copyto, "np.copyto(w, 3.0)"),
    (extract_sort, "w.sort()"),
    (extract_view_write, "w[0] = 0.0"),
    (extract_asarray_write, "w[0] = 7.0"),
])
def test_write_through_extractdata_of_a_traced_value_is_refused(fun, text):
    # (was: accepted, z's derivative kept: extract_item_write's gradient [7.8, ...] where z[0] = 7.5
    # is a constant, [7.5, ...])
    message = _refused_at(fun, text)
    assert "z" in message


def extract_copy_then_write(x):
    z = x * 1.0
    w = extractdata(z).copy()
    w[0] = 7.5
    return np.sum(z * x) + np.sum(w)


def extract_then_dead(x):
    z = x * 1.0
    y = np.sum(z * x)
    w = extractdata(z * 2.0)
    w[0] = 7.5
    return y + np.sum(w)


def test_write_into_a_copy_of_extractdata_is_followed():
    for fun in (extract_copy_then_write, extract_then_dead):
        def loss_and_grad(x):
            y = fun(x)
            return y, dlgradient(y, x)
        value, grad = dlfeval(loss_and_grad, dlarray(X.copy()))
        np.testing.assert_allclose(float(value), fun(X.copy()), rtol=1e-12)
        np.testing.assert_allclose(extractdata(grad), 2 * X, rtol=1e-12)   # w carries no derivative


def extract_untraced_buffer(x):
    buf = np.zeros(6)
    b2 = buf
    b2[0] = 3.0
    m = extractdata(x) > 0
    m2 = m
    m2[0] = True
    return np.sum(x * buf) + np.sum(x[m] ** 2)


def test_writes_into_untraced_data_still_run_as_python():
    check_grads(extract_untraced_buffer, X)


# --- 2. np.einsum of one operand is a view -----------------------------------------------------------

def einsum_transpose_write(x):
    z = x.reshape(2, 3) * 1.0
    w = np.einsum('ij->ji', z)
    w[0, 0] = 7.5
    return np.sum(z * x.reshape(2, 3)) + np.sum(w * w)


def einsum_diagonal_write(x):
    z = x.reshape(2, 3) * 1.0
    w = np.einsum('ii->i', z[:, :2])
    w[1] = 7.5
    return np.sum(z * x.reshape(2, 3)) + np.sum(w * w)


def einsum_identity_write(x):
    z = x * 1.0
    w = np.einsum('i->i', z)
    w[0] = 7.5
    return np.sum(z * x) + np.sum(w * w)


def einsum_base_write(x):
    z = x.reshape(2, 3) * 1.0
    w = np.einsum('ij->ji', z)
    z[0, 0] = x[1] ** 2
    return np.sum(w * w)


@pytest.mark.parametrize("fun, text", [
    (einsum_transpose_write, "w[0, 0] = 7.5"),
    (einsum_diagonal_write, "w[1] = 7.5"),
    (einsum_identity_write, "w[0] = 7.5"),
    (einsum_base_write, "z[0, 0] = x[1] ** 2"),
])
def test_write_into_or_under_an_einsum_view_is_refused(fun, text):
    # (was: einsum_transpose_write gave 120.64 where Python gives 131.8)
    z = X.reshape(2, 3) * 1.0
    assert np.shares_memory(np.einsum('ij->ji', z), z)      # numpy's view, which the program writes through
    _refused_at(fun, text)


def einsum_two_operands_write(x):
    z = x * 1.0
    w = np.einsum('i,i->i', z, z)
    w[0] = 1.0
    return np.sum(w * z)


def einsum_contract_write(x):
    z = x.reshape(2, 3) * 1.0
    w = np.einsum('ij,j->i', z, x[:3])
    w[0] = 0.0
    return np.sum(w * w) + np.sum(z)


def test_einsum_of_several_operands_is_a_new_array():
    check_grads(einsum_two_operands_write, X)
    check_grads(einsum_contract_write, X)


# --- 3. list(d.values()) holds d's values -----------------------------------------------------------

def values_list_layers(x):
    d = {'a': {'w': x * 1.0}, 'b': {'w': x * 2.0}}
    for layer in list(d.values()):
        layer['w'] = layer['w'] * 3.0
    return np.sum(d['a']['w'] * x) + np.sum(d['b']['w'])


def values_list_item(x):
    d = {'a': {'w': x * 1.0}}
    v = list(d.values())[0]
    v['w'] = v['w'] * 2.0
    return np.sum(d['a']['w'] * x)


def values_list_deep_write(x):
    d = {'a': {'w': x * 1.0}}
    ls = list(d.values())
    ls[0]['w'][0] = 7.0
    return np.sum(d['a']['w'] * x)


def items_list_layers(x):
    d = {'a': {'w': x * 1.0}}
    for k, layer in list(d.items()):
        layer['w'] = layer['w'] * 3.0
    return np.sum(d['a']['w'] * x)


def values_comprehension(x):
    d = {'a': {'w': x * 1.0}}
    ls = [v for v in d.values()]
    ls[0]['w'] = ls[0]['w'] * 2.0
    return np.sum(d['a']['w'] * x)


def values_generator_tuple(x):
    d = {'a': {'w': x * 1.0}}
    ls = tuple(v for v in d.values())
    ls[0]['w'] = ls[0]['w'] * 2.0
    return np.sum(d['a']['w'] * x)


def values_zip(x):
    d = {'a': {'w': x * 1.0}}
    ls = list(zip(d.values()))
    ls[0][0]['w'] = ls[0][0]['w'] * 2.0
    return np.sum(d['a']['w'] * x)


def values_enumerate(x):
    d = {'a': {'w': x * 1.0}}
    ls = list(enumerate(d.values()))
    ls[0][1]['w'] = ls[0][1]['w'] * 2.0
    return np.sum(d['a']['w'] * x)


def keys_values_dict(x):
    d = {'a': {'w': x * 1.0}}
    d2 = dict(zip(d.keys(), d.values()))
    d2['a']['w'] = d2['a']['w'] * 2.0
    return np.sum(d['a']['w'] * x)


def values_name_list(x):
    d = {'a': {'w': x * 1.0}}
    vals = d.values()
    ls = list(vals)
    ls[0]['w'] = ls[0]['w'] * 2.0
    return np.sum(d['a']['w'] * x)


@pytest.mark.parametrize("fun, text", [
    (values_list_layers, "layer['w'] = layer['w'] * 3.0"),
    (values_list_item, "v['w'] = v['w'] * 2.0"),
    (values_list_deep_write, "ls[0]['w'][0] = 7.0"),
    (items_list_layers, "layer['w'] = layer['w'] * 3.0"),
    (values_comprehension, "ls[0]['w'] = ls[0]['w'] * 2.0"),
    (values_generator_tuple, "ls[0]['w'] = ls[0]['w'] * 2.0"),
    (values_zip, "ls[0][0]['w'] = ls[0][0]['w'] * 2.0"),
    (values_enumerate, "ls[0][1]['w'] = ls[0][1]['w'] * 2.0"),
    (keys_values_dict, "d2['a']['w'] = d2['a']['w'] * 2.0"),
    (values_name_list, "ls[0]['w'] = ls[0]['w'] * 2.0"),
])
def test_write_into_a_dict_value_through_a_list_of_its_values_is_refused(fun, text):
    # (was: values_list_layers gave 1.62 where Python gives 4.86, and the gradient [2.6, ...] for
    # [7.8, ...])
    _refused_at(fun, text)


def values_read_only(x):
    d = {'a': {'w': x * 1.0}, 'b': {'w': x * 2.0}}
    s = 0.0
    for layer in list(d.values()):
        s = s + np.sum(layer['w'] ** 2)
    vs = [v['w'] for v in d.values()]
    return s + np.sum(np.stack(vs) * x)


def values_rebuilt(x):
    d = {'a': {'w': x * 1.0}, 'b': {'w': x * 2.0}}
    new = {k: {'w': v['w'] * 3.0} for k, v in d.items()}
    return np.sum(new['a']['w'] * new['b']['w'])


def test_reading_a_list_of_dict_values_is_differentiated():
    check_grads(values_read_only, X)
    check_grads(values_rebuilt, X)


W = np.array([1.0, 2.0])
B = np.array([3.0, -1.0])


def _grad_dict_loss(p):
    return np.sum(p['w'] ** 2) + np.sum(p['b'] ** 3)


def grad_values_list_scaled(p):
    g = dlgradient(_grad_dict_loss(p), p)
    gl = list(g.values())
    gl[0] *= 2.0
    return g


def grad_values_tuple_write(p):
    g = dlgradient(_grad_dict_loss(p), p)
    gl = tuple(g.values())
    gl[1][0] = 7.0
    return g


def grad_items_list_write(p):
    g = dlgradient(_grad_dict_loss(p), p)
    gl = list(g.items())
    gl[0][1][0] = 5.0
    return g


@pytest.mark.parametrize("fun, text", [
    (grad_values_list_scaled, "gl[0] *= 2.0"),
    (grad_values_tuple_write, "gl[1][0] = 7.0"),
    (grad_items_list_write, "gl[0][1][0] = 5.0"),
])
def test_edit_of_the_gradient_dict_through_a_list_of_its_values_is_refused(fun, text):
    # (was: grad_values_list_scaled returned g["w"] = [2, 4] where Python doubles it, [4, 8])
    with pytest.raises((sct.CompileError, sct.EvaluationError)) as info:
        dlfeval(fun, {'w': dlarray(W.copy()), 'b': dlarray(B.copy())})
    assert f"line {_line_of(fun, text)}" in str(info.value), str(info.value)


def grad_values_rebound(p):
    g = dlgradient(_grad_dict_loss(p), p)
    gl = list(g.values())
    gl[0] = gl[0] * 2.0
    return g, gl


def test_a_list_of_gradient_values_bound_anew_leaves_the_dict():
    g, gl = dlfeval(grad_values_rebound, {'w': dlarray(W.copy()), 'b': dlarray(B.copy())})
    np.testing.assert_allclose(extractdata(g['w']), 2 * W)
    np.testing.assert_allclose(extractdata(g['b']), 3 * B ** 2)
    np.testing.assert_allclose(extractdata(gl[0]), 4 * W)
    np.testing.assert_allclose(extractdata(gl[1]), 3 * B ** 2)


# --- 4. zip / enumerate objects hold what they walk ---------------------------------------------------

def enumerate_named(x):
    ps = [x * 1.0, x * 2.0]
    it = enumerate(ps)
    for i, p in it:
        p[0] = 7.0
    return np.sum(ps[0] * x) + np.sum(ps[1])


def zip_named(x):
    ps = [x * 1.0, x * 2.0]
    z = zip(ps, ps)
    for p, q in z:
        p[0] = 7.0
    return np.sum(ps[0] * x) + np.sum(ps[1])


def zip_named_list(x):
    z = x * 1.0
    it = zip([z], [1])
    ls = list(it)
    ls[0][0][0] = 5.0
    return np.sum(z * x)


def zip_starred(x):
    z = x * 1.0
    ls = [*zip([z])]
    ls[0][0][0] = 5.0
    return np.sum(z * x)


def zip_transpose(x):
    z = x * 1.0
    t = tuple(zip(*[[z]]))
    t[0][0][0] = 5.0
    return np.sum(z * x)


def zip_max(x):
    z = x * 1.0
    a = max(zip([z], [1]), key=lambda t: t[1])[0]
    a[0] = 5.0
    return np.sum(z * x)


@pytest.mark.parametrize("fun, text", [
    (enumerate_named, "p[0] = 7.0"),
    (zip_named, "p[0] = 7.0"),
    (zip_named_list, "ls[0][0][0] = 5.0"),
    (zip_starred, "ls[0][0][0] = 5.0"),
    (zip_transpose, "t[0][0][0] = 5.0"),
    (zip_max, "a[0] = 5.0"),
])
def test_write_through_a_zip_or_enumerate_object_is_refused(fun, text):
    # (was: enumerate_named gave 8.84 where Python gives 17.25)
    _refused_at(fun, text)


def zip_sgd(x):
    ps = [x * 1.0, x * 2.0]
    gs = [x, x * 3.0]
    for p, g in zip(ps, gs):
        p -= 0.1 * g
    return np.sum(ps[0] * x) + np.sum(ps[1])


def enumerate_scale(x):
    ps = [x * 1.0, x * 2.0]
    for i, p in enumerate(ps):
        p *= float(i + 2)
    return np.sum(ps[0] * x) + np.sum(ps[1])


def zip_read(x):
    ps = [x * 1.0, x * 2.0]
    tot = 0.0
    for i, (p, q) in enumerate(zip(ps, ps)):
        tot = tot + np.sum(p * q) * i
    pairs = list(zip(ps, [1.0, 2.0]))
    return tot + sum(np.sum(p) * c for p, c in pairs)


def test_zip_and_enumerate_loops_still_differentiated():
    check_grads(zip_sgd, X)
    check_grads(enumerate_scale, X)
    check_grads(zip_read, X)


# --- 5. scipy's overwrite_a / overwrite_b / overwrite_x ------------------------------------------------

import scipy.fft  # noqa: E402
import scipy.linalg  # noqa: E402


def solve_overwrite_b(x):
    A = np.diag(x[:3] ** 2 + 1.0) + 0.1
    b = x[3:] * 1.0
    s = scipy.linalg.solve(A, b, overwrite_b=True)
    return np.sum(s) + np.sum(b * b)


def solve_overwrite_by_position(x):
    A = np.diag(x[:3] ** 2 + 1.0) + 0.1
    b = x[3:] * 1.0
    s = scipy.linalg.solve(A, b, False, False, True)
    return np.sum(s) + np.sum(b * b)


def inverse_overwrite_a(x):
    A = np.diag(x[:3] ** 2 + 1.0) + 0.1
    Ai = scipy.linalg.inv(A, overwrite_a=True)
    return np.sum(Ai) + np.sum(A)


def fft_overwrite_x(x):
    z = x + 0j
    f = scipy.fft.fft(z, overwrite_x=True)
    return np.sum(np.abs(f)) + np.sum(np.real(z) * x)


@pytest.mark.parametrize("fun, text", [
    (solve_overwrite_b, "overwrite_b=True"),
    (solve_overwrite_by_position, "False, False, True"),
    (inverse_overwrite_a, "overwrite_a=True"),
    (fft_overwrite_x, "overwrite_x=True"),
])
def test_scipy_overwrite_of_a_traced_argument_is_refused(fun, text):
    # (was: solve_overwrite_b accepted, b overwritten by the solution in Python and in sct, its
    # derivative not followed: gradient [-0.568, ...] where central differences give [-2.096, ...])
    message = _refused_at(fun, text)
    assert "overwrite_" in message


def solve_plain(x):
    A = np.diag(x[:3] ** 2 + 1.0) + 0.1
    b = x[3:] * 1.0
    s = scipy.linalg.solve(A, b, overwrite_b=False)
    return np.sum(s * s) + np.sum(b * b)


def test_scipy_without_overwrite_is_differentiated():
    check_grads(solve_plain, X)


# --- 6. np.diff(z, n=0) is z itself --------------------------------------------------------------------

def diff_order_zero(x):
    z = x * 1.0
    w = np.diff(z, 0)
    w[0] = 7.5
    return np.sum(z * x)


def diff_order_variable(x):
    z = x * 1.0
    k = 0
    w = np.diff(z, n=k)
    w[0] = 7.5
    return np.sum(z * x) + np.sum(w)


@pytest.mark.parametrize("fun, text", [
    (diff_order_zero, "w[0] = 7.5"),
    (diff_order_variable, "w[0] = 7.5"),
])
def test_write_into_np_diff_of_order_zero_is_refused(fun, text):
    # (was: diff_order_zero gave 5.24 where Python, whose np.diff(z, 0) is z, gives 7.4)
    z = X.copy()
    assert np.diff(z, 0) is z
    _refused_at(fun, text)


def diff_first(x):
    w = np.diff(x)
    w[0] = 7.5
    return np.sum(w * x[1:])


def diff_second_axis(x):
    z = x.reshape(2, 3) * 1.0
    w = np.diff(z, 2, axis=1)
    w[0] = 7.5
    return np.sum(w * w) + np.sum(z * z)


def test_writes_into_np_diff_of_positive_order_are_followed():
    check_grads(diff_first, X)
    check_grads(diff_second_axis, X)


# --- 7. np.multiply.at / np.maximum.at: the refusal says what sct follows ------------------------------

def multiply_at(x):
    z = x * 1.0
    np.multiply.at(z, [0, 0], x[1:3])
    return np.sum(z * z)


def test_unfollowed_ufunc_at_is_refused_saying_which_are_followed():
    # (was: "changes z in place, which sct models only for a z this function created and no other
    # name shares; write `z = z.copy()` first", of such a z, and a copy was refused the same way)
    message = _refused_at(multiply_at, "np.multiply.at(z, [0, 0], x[1:3])")
    assert "np.add.at and np.subtract.at only" in message


def add_at_twice(x):
    z = x * 1.0
    np.add.at(z, [0, 0, 2], x[1:4] ** 2)
    return np.sum(z * z)


def test_add_at_with_repeated_indices_is_differentiated():
    check_grads(add_at_twice, X)


def sin_out_into_traced_row(x):
    z = x.reshape(2, 3) * 1.0
    np.sin(z[0], out=z[1])
    return np.sum(z * np.arange(6).reshape(2, 3))


def sin_out_into_zeros(x):
    z = np.zeros((2, 3))
    np.sin(x[:3], out=z[0])
    np.cos(z[0], out=z[1])
    return np.sum(z * np.arange(6).reshape(2, 3))


def test_out_keyword_sct_does_not_follow_is_refused_saying_what_to_write():
    # (was: only "got an unexpected keyword argument 'out'", though numpy's np.sin takes out=)
    message = _refused_at(sin_out_into_traced_row, "np.sin(z[0], out=z[1])")
    assert "numpy's out= writes the result into an array in place" in message
    check_grads(sin_out_into_zeros, X)
