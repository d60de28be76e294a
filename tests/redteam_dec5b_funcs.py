"""Red team (Dec 5b): functions written the way peer AD tools' test corpora exercise them.

Patterns follow Google Tangent's tests/functions.py (scalar arguments a, b, c and an integer n,
value-dependent if/elif/else, for/while loops, helper calls, nested defs, tuple/dict packing,
subscripts and subscript assignment, augmented assignment, list comprehensions, RNN-style index
writes) and HIPS autograd's tests (test_numpy.py, test_systematic.py, test_linalg.py,
test_scalar_ops.py: every op with its argument shapes and keywords), plus small scientific codes
(Kalman filter, unrolled optimisers, ODE/PDE steppers, kernels, densities).  Written here for
sct's tests; only numpy is imported.  Non-scalar results are reduced with fixed weights
(``np.sum(np.sin(out))``-style) so every function returns a real scalar.
"""
import math
import operator

import numpy as np


# ================================================================ Tangent-style: scalars and control flow
def t_identity(a):
    return a


def t_negate(a):
    return -a


def t_sum_of_array_call(x):
    return np.sum(np.array(x))


def t_rebind_to_sum(x):
    x = np.sum(x)
    x = x * x
    return x


def t_alias_only(a):
    b = a
    return b


def t_saxpy(a, b, c):
    return a * b + c


def _mul2(u, v):
    return u * v


def _add2(u, v):
    return u + v


def t_saxpy_helpers(a, b, c):
    return _add2(_mul2(a, b), c)


def t_saxpy_rebind(a, b, c):
    t = a * b
    t = t + c
    return t


def t_adjoint_like_names(a):
    # names a generator might use for adjoints
    da = a * a
    a_bar = da * a
    grad_a = a_bar + da
    dy = grad_a * 2.0
    _da = dy - a
    return _da * da


def t_if_else_scale(a):
    if a > 0:
        a = a * 3.0
    else:
        a = a * 2.0
    return a


def t_binops(a):
    return (a * 3.0 + 3.0 * a + a * a + a / 3.0 + 3.0 / a + a / a
            + (a - 3.0) + (3.0 - a) + (a - a) + (a + 3.0) + (3.0 + a) + (a + a))


def t_nested_if(a):
    if a > 0:
        if a < 10:
            a = a * a
    else:
        a = 3.0 * a
    return a


def t_many_branches(a):
    if a * a / 3.0 > 0:
        b = 3.0
    else:
        b = 4.0
    a = a * b
    if a < b - a * b:
        a = a * a
    elif a > b + 3.0 * a:
        if a / 2.0 < 0:
            a = a / b
        else:
            a = a * b
    else:
        a = -a
    return a


def t_np_multiply(a):
    return np.multiply(a, 3.0)


def t_list_sum(a):
    b = [1, a * a, 2]
    return np.sum(b)


def t_list_of_products(x):
    b = [1, x[0] * x[1] * x[2], 3]
    return np.sum(b)


def t_subscript_read(x):
    a = x[0]
    b = x[1]
    return a * b


def t_subscript_write(x):
    a = x[0]
    b = x[1]
    x[0] = a * b
    return np.sum(x)


def t_subscript_write_after_square(x):
    y = x ** 2.0
    x[0] = y[1] * y[2]
    return np.sum(x * y)


def t_list_literal_subscript(a):
    x = [1.0, a, 3.0]
    return x[0] * x[1]


def t_list_item_overwrite(a):
    x = [1.0, a * a, 3.0]
    x[1] = x[0] * x[1] + x[2] * a
    return x[1] + x[1]


def t_serial_if(a):
    if a > 0:
        a = a * a
    a = a + a
    if a < 0:
        a = 3.0 * a
    return a


def t_two_arg_if(a, b):
    if a > b:
        a = a * a
    else:
        a = a * b
    return a


def t_serial_for(a, n):
    for i in range(n):
        a = a * a
    a = 2.0 * a
    for i in range(n + 1):
        a = a * 3.0
    return a


def t_if_then_for(a, n):
    if a > 0:
        a = a * a
    a = 2.0 * a
    for i in range(n):
        a = a * a
    return a


def t_for_then_if(a, n):
    for i in range(n):
        a = a * a
    a = 2.0 * a
    if a > 0:
        a = a * a
    return a


def t_nested_if_inside(a):
    if a > 0:
        a = a * 3.0
        if a < 10:
            a = a * a
        else:
            a = a * 2.0
    return a


def t_elif_reversed_compare(a):
    if a > 0:
        a = a * 3.0
    elif 0 > a:
        a = a * 2.0
    else:
        a = 1.0 * a
    return a


def t_overwrite_non_arg(a):
    b = a
    b = b * 3.0
    return b


def t_third_powers(a):
    out = 1
    for i in range(3):
        out = out * a
    out2 = a
    for i in range(3 - 1):
        out2 = out2 * a
    return a * a * a + a ** 3 + out + out2


def t_iterpower_static(a):
    for i in range(3):
        a = a * a
    return a


def t_cond_in_loop(a):
    for i in range(3):
        if a < 20:
            a = a * a
    return a


def t_loop_in_cond(a):
    if a < 20:
        for i in range(3):
            a = a * a
    return a


def t_double_loop(a):
    for i in range(2):
        for j in range(3):
            a = a * a
    return a


def t_triple_product_loop(a):
    for i in range(3):
        a = a * a * a
    return a


def t_exp_exp_sqrt(a):
    return np.exp(np.exp(a)) + np.sqrt(a) + np.tanh(a)


def t_logistic_regression(inputs, W, b, label=np.array([1.0, 0.0, 1.0])):
    h1 = np.dot(inputs, W) + b
    prediction = 0.5 * (np.tanh(h1) + 1)
    label_probabilities = prediction * label + (1 - prediction) * (1 - label)
    loss = -np.sum(np.log(label_probabilities))
    return loss


def t_if_helper(a, b):
    if a > b:
        o = _mul2(a, b)
    else:
        o = _mul2(b, a)
    return o


def t_loop_helper(a, n):
    for i in range(n):
        a = _mul2(a, a)
    return a


def _mul_outer(a, b):
    return _mul2(a, b)


def t_nested_helper(a, b):
    return _mul_outer(a, b)


def t_nested_def_shadow(a, n):
    def _fn(a, n):
        return a * n

    for i in range(n):
        a = _fn(a, a)
    return a


def t_unpack_tuple_arg(abc):
    a, b, c = abc
    return a * b + c


def _dict_saxpy(val):
    return val['a'] * val['b'] + val['c']


def t_dict_call(abc):
    a, b, c = abc
    return _dict_saxpy(dict(a=a, b=b, c=c))


def t_pack_index(a, b, c, i):
    x = a, b, c
    return x[i] * x[(i + 1) % 3]


def t_cart2polar(a, b):
    r = np.sqrt(a ** 2.0 + b ** 2.0)
    theta = np.arctan2(b, a)
    return r + 2.0 * theta


def t_listcomp_over_array(a):
    return np.sum([i * 3 for i in a]) + np.sum([v * v for v in a if v > 0])


def t_while_halve(a):
    while np.abs(a) > 0.1:
        a = a * 0.5
    return a


def t_copy_loop(x):
    y = np.zeros_like(x)
    for i in range(len(x)):
        y[i] = x[i]
    return np.sum(y * y)


def t_row_broadcast_write(x):
    h = np.zeros((len(x), 3))
    for t in range(len(h)):
        h[t] = x[t]
    return np.sum(np.sin(h) * np.arange(3.0))


def t_slice_sum(x):
    return np.sum(x[1:] ** 2)


def t_rnn(inputs, W):
    h = np.zeros((4, 3))
    for t in range(3):
        h[t + 1] = np.tanh(np.dot(inputs[t], W) + h[t])
    return np.sum(h[1:])


def t_augassign(a):
    x = a * a
    x *= x
    x += a
    x -= 0.5 * a
    x /= (1.0 + a * a)
    x **= 2
    return x


def t_bilinear(x, h, U, W, b):
    y = np.dot(x, W)
    y = y + np.dot(h, U)
    y = y + b
    y = np.tanh(y)
    return np.sum(y)


def t_pow_both(a, b):
    a = a ** b
    return a


def t_square_twice(a):
    a = a * a
    y = a * a
    return y


def t_chain_of_mults(a):
    b = a
    b = a * a
    c = b * b
    d = c * c
    return d


def t_chain_of_calls(a):
    b = _mul2(a, a)
    c = _mul2(b, b)
    d = _mul2(c, c)
    return d


def t_unused_work(a):
    b = a * a
    b = b + 1.0
    return a


def t_redefine_as_list(a):
    x = a
    x = [a]
    x = x[0] * 2.0
    return x * a


def t_nested_dict(p):
    return p['i']['j'] * p['i']['k']


def t_extended_slice(x):
    return np.sum(np.sin(x[::2, np.newaxis]) * np.arange(1.0, 4.0))


def t_divide_future(a, b):
    return a / b + (a // 1.0) * b


# ================================================================ autograd test_numpy-style ops
_W34 = np.linspace(-1.0, 1.0, 12).reshape(3, 4)


def ag_dot_mat_vec(x, y):
    return np.sum(np.sin(np.dot(x, y)))


def ag_dot_vec_mat(x, y):
    return np.sum(np.cos(np.dot(x, y)))


def ag_dot_mat_matT(x, y):
    return np.sum(np.tanh(np.dot(x, y.T)))


def ag_dot_with_float(x, f):
    return np.sum(np.sin(np.dot(x, f))) + np.sum(np.dot(f, x) ** 2)


def ag_outer(x, y):
    return np.sum(np.sin(np.outer(x, y)) * np.outer(x.T, y.T))


def ag_max_axis_keepdims(x):
    return np.sum(np.max(x, axis=1) ** 2) + np.sum(np.max(x, axis=1, keepdims=True) * x)


def ag_min_axis(x):
    return np.sum(np.min(x, axis=1) ** 2) + np.sum(np.min(x, axis=2, keepdims=True) * x)


def ag_sum_axis_tuple(x):
    return np.sum(np.sin(np.sum(x, axis=(1, 2)))) + np.sum(np.sum(x, axis=0, keepdims=True) ** 2)


def ag_flips(x):
    return np.sum(np.flipud(x) * _W34) + np.sum(np.fliplr(x) ** 2 * _W34) + np.sum(np.rot90(x) * _W34.T)


def ag_cumsum_axes(x):
    return (np.sum(np.sin(np.cumsum(x, axis=0))) + np.sum(np.cumsum(x, axis=1) ** 2)
            + np.sum(np.cos(np.cumsum(x))))


def ag_builtin_sum(x, y):
    return np.sum(sum([x, y]) ** 2) + np.sum(sum([x, y], 1.0) * x)


def ag_mean_keepdims(x):
    return np.sum(np.mean(x, axis=0) ** 2) + np.sum(np.mean(x, axis=0, keepdims=True) * x)


def ag_index_variants(A):
    return (A[3, 0, 1] ** 2 + np.sum(np.sin(A[::-1, 2:4, :]))
            + np.sum(A[[0, 1, 2], :, :] ** 2) + np.sum(np.cos(A[3, 2:, [1, 3]])))


def ag_slice_fanout(x):
    y = x[::-1, 2:4, :]
    z = x[::-1, 3:5, :]
    w = y + z
    u = x[2:4]
    v = u[1:2]
    return np.sum(w * w) + np.sum(v ** 3)


def ag_reshapes(x):
    a = x.reshape((5 * 4, 6))
    b = np.reshape(x, (5 * 4, 6))
    c = x.reshape(5 * 4, 6)
    d = x.ravel()
    e = np.ravel(x)
    f = x.flatten()
    return (np.sum(np.sin(a) * b) + np.sum(c ** 2) + np.sum(d * np.arange(d.size))
            + np.sum(np.cos(e)) + np.sum(f[::7]))


def ag_append(A, b):
    return np.sum(np.sin(np.append(A, b)) * np.arange(1.0, 5.0)) + np.sum(np.append([1.0, 2.0], b) ** 2)


def ag_concatenate(x):
    B = np.ones((2, 3, 2))
    c0 = np.concatenate((B, x, B))
    c1 = np.concatenate((B, x, B), axis=1)
    c2 = np.concatenate((B, x, B), 1)
    return np.sum(np.sin(c0)) + np.sum(c1 ** 2) + np.sum(np.cos(c2) * 0.5)


def ag_trace_offsets(x):
    total = 0.0
    for k in range(-2, 3):
        total = total + np.trace(x, offset=k) * (k + 3)
    return total + np.trace(x) ** 2


def ag_trace_4d(x):
    return np.sum(np.trace(x, offset=1) ** 2) + np.sum(np.sin(np.trace(x)))


def ag_split_diag(x):
    parts = np.split(x, 2)
    return np.sum(parts[0] ** 2) + np.sum(np.diag(np.outer(parts[1], parts[0])))


def ag_diag_2d(x):
    return np.sum(np.diag(x) ** 2) + np.sum(np.diag(x, 1)) + np.sum(np.diag(x, -1) ** 3)


def ag_transpose_T(x):
    return np.sum(x.T * _W34.T) + np.sum(np.sin(x.T @ x))


def ag_roll(x):
    return np.sum(np.roll(x, 2, axis=1) * _W34) + np.sum(np.roll(x, -3) ** 2 * _W34)


def ag_tri(x):
    return np.sum(np.triu(x, k=2) ** 2) + np.sum(np.sin(np.tril(x, k=-1))) + np.sum(np.triu(x) * np.tril(x))


def ag_clip_kw(x):
    return np.sum(np.clip(x, a_min=0.1, a_max=1.1) ** 2) + np.sum(np.clip(x, -0.5, None) * x)


def ag_prod_axes(x):
    return np.prod(x) + np.sum(np.prod(x, axis=0)) + np.sum(np.prod(x, axis=0, keepdims=True) * x)


def ag_array_from_scalar(x):
    A = np.array([x, x * 1.0, x + 2.5])
    B = np.array([[x, x * 1.0, x + 2.5],
                  [x ** 2, x, x / 2.0]])
    C = np.array(x)
    return np.sum(np.sin(A + A)) + np.sum(B * B) + C * C


def ag_array_from_arrays(x):
    A = np.array([x, x])
    B = np.array([[2 * x, x + 1],
                  [x, x]])
    return np.sum(np.sin(A)) + np.sum(B ** 2 * np.arange(1.0, 3.0))


def ag_len_assert(x):
    assert len(x) == 3
    return np.sum(x ** 2)


def ag_r_c(x):
    c = np.linspace(0.0, 1.0, 6).reshape(3, 2)
    b = np.r_[x]
    d = np.r_[x, x]
    e = np.r_[x, c, x]
    g = np.c_[x, c, x]
    return np.sum(b * b) + np.sum(np.sin(d)) + np.sum(e ** 3) + np.sum(np.cos(g))


def ag_r_slicing(x):
    c = np.linspace(0.0, 1.0, 4)
    b = np.r_[x, c, 1:10]
    return np.sum(np.sin(b))


def ag_var_std_ddof(x):
    return (np.var(x, ddof=1) + np.std(x, ddof=1) + np.sum(np.var(x, axis=1, keepdims=True) * x)
            + np.sum(np.std(x, axis=1, ddof=2)) + np.var(x, keepdims=True).item())


def ag_where_two(x, y):
    C = np.array([[True, False, True, True], [False, False, True, False], [True, True, False, True]])
    b = np.where(C, x, y)
    return np.sum(np.sin(b) * _W34)


def ag_squeeze_repeat_expand(x):
    a = np.squeeze(x)
    b = x.squeeze()
    c = np.repeat(x, 2, axis=1)
    d = np.repeat(x, 2, axis=0)
    e = np.expand_dims(x, 2)
    f = np.repeat(x, 1, axis=1)
    return np.sum(np.sin(a) * b) + np.sum(c ** 2) + np.sum(np.cos(d)) + np.sum(e ** 3) + np.sum(f)


def ag_tensordot_scalar(x):
    return np.tensordot(x * np.ones((2, 2)), x * np.ones((2, 2)), 2)


def ag_repeated_index(x):
    return np.sum(x[[0, 0]] ** 2) + np.sum(np.sin(x[[0, 1, 0]])) + np.dot(x[:2], x[1:])


def ag_cast_to_int_index(W):
    inds = np.ones(5)[:, None]
    glued = np.concatenate((W, inds), axis=1)
    new_W = glued[:, :-1]
    new_inds = np.int64(glued[:, -1])
    assert new_inds.dtype == np.int64
    return np.sum(new_W[new_inds] ** 2)


def ag_diagonal_batched(D):
    return np.sum(np.diagonal(D, axis1=-1, axis2=-2) ** 2) + np.sum(np.sin(np.diagonal(D, 1, 1, 2)))


def ag_nan_to_num(x):
    y = np.array([0.0, np.nan, np.inf, -np.inf])
    return np.sum(np.sin(np.nan_to_num(x + y)))


def ag_max_scalar(x):
    return np.max(x) + np.min(x) * 2.0 + np.amax(x, axis=0).sum()


# ================================================================ autograd test_systematic-style
def sys_stats(x):
    return (np.sum(x) + np.mean(x) + np.max(x) + np.min(x) + np.prod(x) + np.var(x) + np.std(x)
            + float(np.all(x > -10)) + float(np.any(x > 10)))


def sys_unary_a(x):
    return (np.sum(np.sin(x)) + np.sum(np.abs(x)) + np.sum(np.absolute(x)) + np.sum(np.cos(x))
            + np.sum(np.cosh(x)) + np.sum(np.deg2rad(x)) + np.sum(np.degrees(x) / 50.0)
            + np.sum(np.exp(x)) + np.sum(np.exp2(x)) + np.sum(np.expm1(x)) + np.sum(np.fabs(x)))


def sys_unary_b(x):
    return (np.sum(np.rad2deg(x) / 50.0) + np.sum(np.radians(x)) + np.sum(np.sign(x) * x)
            + np.sum(np.sinh(x)) + np.sum(np.square(x)) + np.sum(np.tan(x)) + np.sum(np.tanh(x))
            + np.sum(np.ceil(x) * x) + np.sum(np.floor(x) * x ** 2) + np.sum(np.real(x))
            + np.sum(np.imag(x)) + np.sum(np.conj(x)))


def sys_unary_log(x):
    return (np.sum(np.log(x)) + np.sum(np.log10(x)) + np.sum(np.log1p(x)) + np.sum(np.log2(x))
            + np.sum(np.sqrt(x)) + np.sum(np.arccosh(x + 1.0)) + np.sum(np.reciprocal(x)))


def sys_unary_inverse(x):
    return (np.sum(np.arcsinh(x)) + np.sum(np.arctanh(x)) + np.sum(np.arcsin(x))
            + np.sum(np.arccos(x)) + np.sum(np.arctan(x)) + np.sum(np.sinc(x)))


def sys_real_if_close_angle(z):
    return np.sum(np.real_if_close(z) ** 2).real + np.sum(np.angle(z)) + np.sum(np.abs(z) ** 2)


def sys_binary(x, y):
    return (np.sum(np.add(x, y) ** 2) + np.sum(np.logaddexp(x, y)) + np.sum(np.logaddexp2(x, y))
            + np.sum(np.true_divide(x, y)) + np.sum(x * y) + np.sum(x - y) + np.sum(np.hypot(x, y))
            + np.sum(np.arctan2(x, y)))


def sys_remainder(x, y):
    return (np.sum(np.remainder(x, y) ** 2) + np.sum(np.mod(x, y) * x) + np.sum(operator.mod(x, y))
            + np.sum(np.fmod(x, y) * y) + np.sum(x % y))


def sys_remainder_neg(x, y):
    return np.sum(np.mod(x, -y) ** 2) + np.sum(operator.mod(x, -y) * x)


def sys_pow(x, y):
    return np.sum(operator.pow(x, y)) + np.sum(np.power(x, y) * y) + np.sum(x ** 2.5)


def sys_transpose_axes(x):
    total = np.sum(np.transpose(x) * np.arange(24.0).reshape(4, 3, 2))
    for i, axes in enumerate([[0, 1, 2], [0, 2, 1], [2, 0, 1], [2, 1, 0], [1, 0, 2], [1, 2, 0]]):
        y = np.transpose(x, axes)
        total = total + np.sum(np.sin(y) * np.arange(24.0).reshape(y.shape)) * (i + 1)
    return total


def sys_dot_shapes(x, y, z):
    return (np.sum(np.dot(1.5, y) ** 2) + np.sum(np.dot(x, 0.3) * x) + np.sum(np.sin(np.dot(x, z)))
            + np.dot(y, y) + np.sum(np.cos(np.dot(z.T, y))))


def sys_tensordots(a, b):
    r1 = np.tensordot(a, b, axes=[(1,), (0,)])
    r2 = np.tensordot(b, a, axes=[(0,), (1,)])
    r3 = np.tensordot(a, b, axes=1)
    r4 = np.tensordot(b, b, axes=2)
    return np.sum(np.sin(r1)) + np.sum(r2 ** 2) + np.sum(np.cos(r3)) + r4


def sys_tensordot_pairs(a, b):
    r1 = np.tensordot(a, b, axes=[(0, 1), (1, 2)])
    r2 = np.tensordot(a, b, axes=[(1, 0), (2, 1)])
    return np.sum(np.sin(r1)) + np.sum(r2 ** 2)


def sys_max_min_broadcast(x, y, z):
    return (np.sum(np.sin(np.maximum(x, y))) + np.sum(np.minimum(y, z) ** 2)
            + np.sum(np.maximum(z, x) * z) + np.sum(np.fmax(x, z)) + np.sum(np.fmin(y, z) ** 3))


def sys_sort_partition(x):
    s = np.sort(x)
    p = np.partition(x, 3)
    q = np.partition(x, 0)
    r = np.partition(x, 6)
    return (np.sum(s * np.arange(7.0)) + p[3] * 2.0 + np.sum(p[:3] ** 2) + q[0] + r[6] ** 2
            + np.sum(np.sort(x.reshape(1, 7), axis=1) ** 3))


def sys_atleast(x):
    return (np.sum(np.atleast_1d(x) ** 2) + np.sum(np.sin(np.atleast_2d(x)))
            + np.sum(np.atleast_3d(x) * np.atleast_3d(x)) + np.atleast_2d(x)[0, 0])


def sys_atleast_scalar(a):
    return np.sum(np.atleast_1d(a) ** 2) + np.sum(np.atleast_2d(a)) * a + np.sum(np.atleast_3d(a)) ** 3


def sys_einsum_cases(a, b, c):
    r1 = np.einsum('ij->ji', a[0])
    r2 = np.einsum('ijk,lji->lki', a, b)
    r3 = np.einsum('...jk,...lj->...lk', a, a)
    r4 = np.einsum('...,...->...', a, a)
    r5 = np.einsum('ijk,lji,lli->lki', a, b, c)
    return (np.sum(r1 * np.arange(16.0).reshape(4, 4)) + np.sum(np.sin(r2)) + np.sum(r3 ** 2)
            + np.sum(np.cos(r4)) + np.sum(r5))


def sys_einsum_matmul(x, y):
    return np.sum(np.sin(np.einsum('ij,jk->ik', x, y))) + np.einsum('ii', x[:, :2] @ y[:2, :2])


def sys_trace_rect(x):
    return np.trace(x, offset=-1) + np.trace(x, offset=1) ** 2 + np.trace(x.T, 2)


# ================================================================ autograd test_linalg-style
def la_inv_batched(A):
    return np.sum(np.sin(np.linalg.inv(A + 3.0 * np.eye(3))))


def la_det_batched(A):
    return np.sum(np.linalg.det(A) ** 2) + np.sum(np.linalg.slogdet(A + 3.0 * np.eye(3))[1])


def la_solve_vec(A, b):
    return np.sum(np.linalg.solve(A + 3.0 * np.eye(3), b) ** 2)


def la_solve_batched_mat(A, B):
    return np.sum(np.sin(np.linalg.solve(A + 3.0 * np.eye(3), B)))


def la_norm_axes(x):
    return (np.linalg.norm(x) + np.sum(np.linalg.norm(x, axis=1)) + np.sum(np.linalg.norm(x, ord=1, axis=0))
            + np.sum(np.linalg.norm(x, ord=3, axis=1)) + np.linalg.norm(x, 'fro') ** 2
            + np.linalg.norm(x, ord=np.inf) + np.sum(np.linalg.norm(x, axis=1, keepdims=True) * x))


def la_norm_vector_ords(v):
    return (np.linalg.norm(v, 1) + np.linalg.norm(v, 2) + np.linalg.norm(v, np.inf) + np.linalg.norm(v, -np.inf)
            + np.linalg.norm(v, 4))


def la_eigh_uplo(A):
    S = A + A.T
    w, V = np.linalg.eigh(S)
    wl, Vl = np.linalg.eigh(A, UPLO='U')
    return np.sum(w * np.arange(1.0, 4.0)) + np.sum(np.abs(V[:, 0]) ** 2 * np.diag(S)) + np.sum(wl ** 3)


def la_eigvalsh(A):
    S = A @ A.T + np.eye(3)
    return np.sum(np.log(np.linalg.eigvalsh(S))) + np.max(np.linalg.eigvalsh(S))


def la_cholesky_logdet(A):
    S = A @ A.T + 0.5 * np.eye(A.shape[0])
    L = np.linalg.cholesky(S)
    return 2.0 * np.sum(np.log(np.diag(L))) + np.sum(np.tril(L, -1) ** 2)


def la_svd_invariants(A):
    U, s, Vt = np.linalg.svd(A, full_matrices=False)
    R = U @ np.diag(s) @ Vt
    return np.sum(s ** 2) + np.sum(np.sin(R)) + np.sum(np.abs(U[:, 0] * Vt[0, 0]))


def la_matrix_power_pinv(A):
    return (np.sum(np.linalg.matrix_power(A, 3)) + np.sum(np.linalg.matrix_power(A + 2.0 * np.eye(3), -2))
            + np.sum(np.linalg.pinv(A) ** 2))


def la_qr_full(A):
    Q, R = np.linalg.qr(A)
    return np.sum(np.abs(np.diag(R))) + np.sum((Q @ R) ** 2)


# ================================================================ autograd test_scalar_ops-style
def sc_math_module(a):
    return (math.sin(a) + math.cos(a) * math.exp(a) + math.log(a + 2.0) + math.sqrt(a + 2.0)
            + math.tanh(a) + math.atan(a) + math.hypot(a, 2.0) + math.log1p(a + 1.0) + math.expm1(a)
            + math.pow(a + 2.0, 1.5) + math.fabs(a - 1.0) + math.atan2(a, 0.5) + math.erf(a))


def sc_numpy_scalar(a):
    return (np.sin(a) + np.arcsin(a / 2.0) + np.arccos(a / 2.0) + np.arctan(a) + np.sinc(a)
            + np.reciprocal(a + 2.0) + np.hypot(a, 0.3) + np.logaddexp(a, 0.1) + np.negative(a) * a
            + np.power(a + 2.0, a) + np.exp2(a) + np.log2(a + 2.0) + np.cbrt(a + 3.0))


def sc_abs_builtin(a, b):
    return abs(a) * b + max(a, b) ** 2 + min(a * 2.0, b) + pow(b, 2) + round(3.7) * a + divmod(7, 2)[0] * b


def sc_int_float_mix(a, n):
    total = 0.0
    for k in range(1, n + 1):
        total += a ** k / math.factorial(k)
    return total + float(n) * a + int(2.9) * a


# ================================================================ scientific code
def sci_kalman_filter(q, ys=np.array([0.3, 0.5, 0.4, 0.9, 1.3, 1.1])):
    # 1-d position/velocity Kalman filter; q = (log process noise, log obs noise)
    F = np.array([[1.0, 1.0], [0.0, 1.0]])
    H = np.array([[1.0, 0.0]])
    Q = np.exp(q[0]) * np.eye(2)
    R = np.exp(q[1]) * np.eye(1)
    m = np.zeros(2)
    P = np.eye(2)
    loglik = 0.0
    for y in ys:
        m = F @ m
        P = F @ P @ F.T + Q
        S = H @ P @ H.T + R
        K = P @ H.T @ np.linalg.inv(S)
        r = y - H @ m
        loglik = loglik - 0.5 * (r @ np.linalg.solve(S, r) + np.log(np.linalg.det(S)) + np.log(2 * np.pi))
        m = m + K @ r
        P = (np.eye(2) - K @ H) @ P
    return loglik


def sci_unrolled_gd(lr_w):
    # differentiate a loss after 5 gradient-descent steps w.r.t. the initial weights and the rate
    lr = lr_w[0]
    w = lr_w[1:]
    X = np.array([[1.0, 0.5], [0.3, -1.2], [-0.7, 0.8]])
    y = np.array([0.5, -0.2, 0.9])
    for step in range(5):
        r = X @ w - y
        g = X.T @ r / len(y)
        w = w - lr * g
    return 0.5 * np.mean((X @ w - y) ** 2)


def sci_adam_unrolled(w0):
    m = np.zeros_like(w0)
    v = np.zeros_like(w0)
    w = w0
    b1, b2, eps, lr = 0.9, 0.999, 1e-8, 0.1
    for t in range(1, 6):
        g = 2.0 * (w - np.array([1.0, -2.0, 0.5])) + np.cos(w)
        m = b1 * m + (1 - b1) * g
        v = b2 * v + (1 - b2) * g ** 2
        mhat = m / (1 - b1 ** t)
        vhat = v / (1 - b2 ** t)
        w = w - lr * mhat / (np.sqrt(vhat) + eps)
    return np.sum(w ** 2) + np.sum(np.sin(w))


def sci_lotka_volterra(theta):
    a, b, c, d = theta
    x, y = 1.0, 0.5
    traj = []
    dt = 0.05
    for i in range(20):
        dx = a * x - b * x * y
        dy = d * x * y - c * y
        x, y = x + dt * dx, y + dt * dy
        traj.append([x, y])
    traj = np.array(traj)
    return np.sum((traj[:, 0] - 1.0) ** 2) + np.mean(traj[:, 1])


def sci_nbody_energy(pos):
    P = pos.reshape(4, 2)
    masses = [1.0, 2.0, 0.5, 1.5]
    energy = 0.0
    for i in range(4):
        for j in range(i + 1, 4):
            d = P[i] - P[j]
            energy -= masses[i] * masses[j] / np.sqrt(np.dot(d, d) + 0.01)
    return energy


def sci_spring_chain(x):
    k = 3.0
    stretch = np.roll(x, -1) - x - 1.0
    return 0.5 * k * np.sum(stretch[:-1] ** 2) + 0.1 * np.sum(x ** 4)


def sci_heat_explicit(u0):
    u = u0.copy()
    alpha = 0.2
    for step in range(8):
        lap = np.zeros_like(u)
        lap[1:-1] = u[2:] - 2 * u[1:-1] + u[:-2]
        u = u + alpha * lap
        u[0] = 0.0
        u[-1] = 0.0
    return np.sum(u ** 2)


def sci_van_der_pol(p):
    mu = p[0]
    state = np.array([p[1], 0.0])
    h = 0.05

    def rhs(s):
        return np.array([s[1], mu * (1 - s[0] ** 2) * s[1] - s[0]])

    for i in range(15):
        k1 = rhs(state)
        k2 = rhs(state + 0.5 * h * k1)
        state = state + h * k2
    return state[0] ** 2 + state[1]


def sci_rbf_kernel_gp(log_ls, X=np.linspace(-1.0, 1.0, 5)[:, None], y=np.sin(np.linspace(-1.0, 1.0, 5))):
    ls = np.exp(log_ls)
    sq = np.sum((X[:, None, :] - X[None, :, :]) ** 2 / ls ** 2, axis=-1)
    K = np.exp(-0.5 * sq) + 0.1 * np.eye(len(X))
    L = np.linalg.cholesky(K)
    alpha = np.linalg.solve(L.T, np.linalg.solve(L, y))
    return 0.5 * y @ alpha + np.sum(np.log(np.diag(L)))


def sci_mvn_logpdf(mu, x=np.array([[0.1, 0.4], [-0.5, 0.3], [1.0, -0.8]])):
    cov = np.array([[1.0, 0.3], [0.3, 0.5]])
    d = x - mu
    prec = np.linalg.inv(cov)
    maha = np.einsum('ni,ij,nj->n', d, prec, d)
    sign, logdet = np.linalg.slogdet(cov)
    return np.sum(-0.5 * (maha + logdet + 2 * np.log(2 * np.pi)))


def sci_kl_gaussians(params):
    mu1, log_s1, mu2, log_s2 = params
    s1, s2 = np.exp(log_s1), np.exp(log_s2)
    return np.log(s2 / s1) + (s1 ** 2 + (mu1 - mu2) ** 2) / (2 * s2 ** 2) - 0.5


def sci_poisson_nll(w, X=np.array([[1.0, 0.2], [1.0, -0.4], [1.0, 1.1], [1.0, 0.7]]),
                    counts=np.array([1.0, 0.0, 3.0, 2.0])):
    eta = X @ w
    return np.sum(np.exp(eta) - counts * eta)


def sci_softmax_regression(W, X=np.array([[0.2, 1.0], [-0.3, 0.5], [0.9, -1.2]]), labels=np.array([0, 2, 1])):
    logits = X @ W
    logits = logits - np.max(logits, axis=1, keepdims=True)
    logp = logits - np.log(np.sum(np.exp(logits), axis=1, keepdims=True))
    return -np.mean(logp[np.arange(len(labels)), labels]) + 0.01 * np.sum(W * W)


def sci_conv1d_valid(w, x=np.sin(np.arange(10.0))):
    k = len(w)
    out = np.array([np.dot(x[i:i + k], w) for i in range(len(x) - k + 1)])
    return np.sum(np.maximum(out, 0.0) ** 2)


def sci_batchnorm_np(x):
    mu = x.mean(axis=0)
    var = x.var(axis=0)
    xhat = (x - mu) / np.sqrt(var + 1e-5)
    return np.sum(np.tanh(xhat) * np.arange(x.size).reshape(x.shape))


def sci_maxpool_np(x):
    H, W = x.shape
    pooled = x.reshape(H // 2, 2, W // 2, 2).max(axis=(1, 3))
    return np.sum(pooled ** 2)


def sci_em_gmm_step(mu):
    data = np.array([-1.2, -0.8, -1.0, 0.9, 1.1, 1.4])
    for it in range(3):
        logr = -0.5 * (data[:, None] - mu[None, :]) ** 2
        logr = logr - np.max(logr, axis=1, keepdims=True)
        r = np.exp(logr)
        r = r / r.sum(axis=1, keepdims=True)
        mu = (r * data[:, None]).sum(axis=0) / r.sum(axis=0)
    return np.sum(mu ** 2) + mu[0]


def sci_bisection_root(c):
    # root of x^3 - c on [0, 3] by bisection: the result depends on c only through comparisons (a
    # piecewise-constant function); then one Newton step makes it differentiable
    lo, hi = 0.0, 3.0
    while hi - lo > 1e-3:
        mid = 0.5 * (lo + hi)
        if mid ** 3 - c > 0:
            hi = mid
        else:
            lo = mid
    x = 0.5 * (lo + hi)
    x = x - (x ** 3 - c) / (3 * x ** 2)
    return x


def sci_trapezoid_integral(p):
    t = np.linspace(0.0, 1.0, 21)
    f = np.exp(-p[0] * t) * np.sin(p[1] * t)
    return np.sum((f[1:] + f[:-1]) * np.diff(t)) / 2.0


def sci_logsumexp_b(x):
    # logsumexp with per-row weights b, the scipy signature
    b = np.array([0.5, 1.0, 2.0])
    m = np.max(x, axis=-1, keepdims=True)
    return np.sum(np.log(np.sum(b * np.exp(x - m), axis=-1)) + m[..., 0])


def sci_pendulum_energy_loop(theta0):
    theta, omega = theta0[0], theta0[1]
    dt = 0.1
    energies = []
    for step in range(10):
        omega = omega - dt * np.sin(theta)
        theta = theta + dt * omega
        energies.append(0.5 * omega ** 2 + (1 - np.cos(theta)))
    return sum(energies) / len(energies)


def sci_cross_entropy_onehot(logits):
    onehot = np.eye(4)[[1, 3, 0]]
    p = np.exp(logits) / np.sum(np.exp(logits), axis=1, keepdims=True)
    return -np.sum(onehot * np.log(p)) / logits.shape[0]


def sci_attention_np(q):
    k = q[::-1] * 0.5
    v = np.cos(q)
    s = q @ k.T / np.sqrt(q.shape[-1])
    s = s - s.max(axis=-1, keepdims=True)
    a = np.exp(s)
    a /= a.sum(axis=-1, keepdims=True)
    return np.sum((a @ v) ** 2)


def sci_lstm_loop(W):
    xs = np.sin(np.arange(12.0)).reshape(4, 3)
    h = np.zeros(2)
    c = np.zeros(2)
    for x in xs:
        z = W @ np.concatenate([x, h])
        i, f, o, g = np.split(z, 4)
        i, f, o = 1 / (1 + np.exp(-i)), 1 / (1 + np.exp(-f)), 1 / (1 + np.exp(-o))
        c = f * c + i * np.tanh(g)
        h = o * np.tanh(c)
    return np.sum(h ** 2)


# ================================================================ batch 2: semantics a generator could get wrong
def b_names_like_generated(x):
    rt = x * 2.0
    d_x = rt + 1.0
    out_t = d_x * x
    x_residuals = np.sum(out_t)
    d_y = x_residuals * 2
    seed = np.sin(d_y)
    project = seed + x_residuals
    return project


def b_name_np_shadow(x):
    total = 0.0
    for np_ in (1.0, 2.0):
        total = total + np.sum(x * np_)
    return total


def b_tolist_float_item(x):
    vals = x.tolist()
    s = 0.0
    for v in vals:
        s = s + v * v
    return s + float(x[0]) * x[1].item() + float(np.sum(x))


def b_late_binding_lambdas(x):
    fs = [lambda z: z * i for i in range(3)]
    return np.sum(fs[0](x) + fs[1](x) ** 2)


def b_default_binding_lambdas(x):
    fs = [lambda z, i=i: z * i for i in range(3)]
    return np.sum(fs[0](x) + fs[1](x) ** 2 + fs[2](x))


def b_copy_alias_augassign(x):
    y = x.copy()
    z = y
    z += 1.0
    return np.sum(y * x)


def b_view_augassign(x):
    y = x.copy()
    v = y[1:]
    v *= 2.0
    return np.sum(y * y)


def b_out_keyword(x):
    y = np.empty_like(x)
    np.multiply(x, 3.0, out=y)
    np.add(y, x, out=y)
    return np.sum(y * x)


def b_fill_diagonal(A):
    B = A.copy()
    np.fill_diagonal(B, np.sum(A))
    return np.sum(B ** 2)


def b_mask_assign(x):
    y = x.copy()
    y[y < 0] = 0.0
    y[y > 0.5] *= 2.0
    return np.sum(y ** 2)


def b_prod_with_zero(x):
    z = np.concatenate([x, np.zeros(1)])
    return np.prod(z + 0.0) + np.prod(x)


def b_cumprod_with_zero(x):
    y = x.copy()
    y[1] = 0.0
    return np.sum(np.cumprod(y)) + np.sum(np.cumprod(x))


def b_det_singular(a):
    # rank-2 3x3 matrix: the derivative of det is the adjugate (not zero)
    u = a[:3]
    v = a[3:]
    M = np.outer(u, u) + np.outer(v, v)
    return np.linalg.det(M)


def b_prod_exact_zero(x):
    # the argument holds an exact zero (see CORPUS)
    return np.prod(x) + np.sum(np.prod(x.reshape(2, 2), axis=1))


def b_swap_recurrence(x):
    a, b = x[0], x[1]
    for i in range(4):
        a, b = b, a + b * 0.5
    return a * b


def b_star_unpack(x):
    first, *rest = x
    *init, last = x
    return first * sum(rest) + last * init[0]


def b_chained_compare(x):
    total = 0.0
    for v in x:
        if -0.5 < v < 0.5:
            total = total + v ** 2
        elif v >= 0.5 and not v > 0.9:
            total = total + np.sin(v)
        else:
            total = total - v
    return total


def b_try_except(x):
    try:
        y = np.linalg.cholesky(np.outer(x, x))
        r = np.sum(y)
    except np.linalg.LinAlgError:
        r = np.sum(x ** 2)
    return r


def b_for_else_search(x):
    for v in x:
        if v > 2.0:
            found = v
            break
    else:
        found = x[-1]
    return found * np.sum(x)


def b_generators(x):
    s1 = sum(v * v for v in x)
    s2 = sum(map(np.sin, x))
    s3 = max(x * 2.0)
    s4 = sum(v for v in filter(lambda t: t > 0, x))
    return s1 + s2 + s3 + s4


def b_enumerate_zip_reversed(x, y):
    total = 0.0
    for i, (a, b) in enumerate(zip(x, reversed(y))):
        total = total + (i + 1) * a * b
    for a in reversed(x):
        total = total * 0.5 + a
    return total


def b_list_augassign(x):
    acc = [0.0, 0.0]
    for i in range(len(x)):
        acc[i % 2] += x[i] ** 2
        acc[0] *= 1.1
    return acc[0] - acc[1]


def b_dict_augassign(x):
    p = {'w': x.copy(), 'b': 0.0}
    for step in range(3):
        g = 2.0 * p['w'] + p['b']
        p['w'] -= 0.1 * g
        p['b'] += 0.01 * np.sum(g)
    return np.sum(p['w'] ** 2) + p['b']


class _State:
    def __init__(self, h):
        self.h = h
        self.n = 0

    def step(self, u):
        self.h += np.tanh(u + self.h)
        self.n += 1
        return self.h


def b_attribute_augassign(x):
    s = _State(np.zeros(2))
    for u in x.reshape(3, 2):
        s.step(u)
    return np.sum(s.h ** 2) * s.n


def b_recursion_memo(x):
    memo = {}

    def f(k):
        if k in memo:
            return memo[k]
        if k < 2:
            r = x[k]
        else:
            r = f(k - 1) * 0.5 + f(k - 2) * x[k % len(x)]
        memo[k] = r
        return r
    return f(5)


def b_methods_galore(x):
    X = x.reshape(2, 3)
    return (X.sum() + X.mean(axis=0).dot(X[0]) + X.max() + X.min(axis=1).sum() + X.prod()
            + X.cumsum(axis=1).sum() + X.std() + X.var(axis=1).sum() + X[:, :2].trace()
            + X.clip(-0.2, 0.3).sum() + X.swapaxes(0, 1)[0, 1] + X.transpose(1, 0)[2, 1]
            + X.conj().real.sum() + X.ravel()[::2].sum() + X.squeeze().flatten()[3] + X.round(1).sum() * 0)


def b_stack_family(x):
    a, b = x[:3], x[3:]
    return (np.sum(np.stack([a, b], axis=1) ** 2) + np.sum(np.hstack([a, b]) * np.arange(6))
            + np.sum(np.vstack([a, b]) ** 3) + np.sum(np.column_stack([a, b])[:, 1])
            + np.sum(np.block([[a], [b]]) * 2.0) + np.sum(np.dstack([a, b]) ** 2))


def b_splits(x):
    p, q, r = np.split(x, [1, 3])
    s = np.array_split(x, 4)
    return np.sum(p) + np.sum(q ** 2) + np.sum(r ** 3) + sum(np.sum(t) * (i + 1) for i, t in enumerate(s))


def b_poly_conv(x):
    return (np.polyval(x, 0.7) + np.sum(np.convolve(x, [1.0, -2.0, 1.0], mode='same') ** 2)
            + np.sum(np.correlate(x, [0.5, 1.0], mode='valid')) + np.sum(np.convolve(x, x, mode='full')))


def b_ifft_eig(x):
    z = np.fft.ifft(np.fft.fft(x) * np.array([1.0, 0.5, 0.25, 0.125]))
    return np.sum(np.abs(z) ** 2) + np.sum(np.real(np.fft.irfft(np.fft.rfft(x), n=4)))


def b_where_one_arg_select(x):
    idx = np.where(x > 0)
    return np.sum(x[idx] ** 2) + np.sum(np.select([x < -0.5, x < 0.5], [x ** 2, np.sin(x)], default=x))


def b_piecewise(x):
    return np.sum(np.piecewise(x, [x < 0, x >= 0], [lambda t: -t, lambda t: t ** 2]))


def b_index_forms(x):
    X = x.reshape(3, 4)
    y = X[..., None] * X[:, None]
    z = X[:, [0, 2]][[1, 0]]
    w = np.zeros(4)
    w[::-1] = X[0]
    return np.sum(y[1, 2]) + np.sum(z ** 2) + np.sum(w * np.arange(4)) + np.sum(X[-1, ::-2])


def b_einsum_diag_out(A):
    return np.sum(np.einsum('ii->i', A) ** 2) + np.einsum('ij,ij->', A, A) + np.sum(np.einsum('ij->j', A) ** 3)


def b_power_forms(x):
    return np.sum(x ** -1) + np.sum(x ** 0) + np.sum(np.power(2.0, x)) + np.sum(x ** -2.5) + np.sum(2 ** x)


def b_float32_mix(x):
    y = x.astype(np.float32)
    z = np.float32(2.0) * y + 1.0
    return float(np.sum(z.astype(np.float64) ** 2))


_CALLS = []


def b_side_effect_global(x):
    _CALLS.append(1)
    return np.sum(x ** 2) * len(_CALLS) / len(_CALLS)


def b_math_fsum_prod(x):
    return math.fsum([x[0], x[1] * 2.0, x[2]]) + math.prod([x[0], x[1], 2.0]) + math.dist(x[:2], x[1:])


def b_sorted_lambda(x):
    pairs = [(x[i], x[i] ** 2) for i in range(len(x))]
    ordered = sorted(pairs, key=lambda p: p[1])
    return ordered[0][0] * 3.0 + ordered[-1][1]


def b_lstsq_eig(A):
    b = np.array([1.0, 0.0, -1.0, 2.0])
    sol, res, rank, sv = np.linalg.lstsq(A, b, rcond=None)
    w = np.linalg.eigvals(A[:3] @ A[:3].T + np.eye(3))
    return np.sum(sol ** 2) + np.sum(np.real(w)) + np.sum(sv)


def b_interp_grid(y):
    xs = np.linspace(0.0, 1.0, len(y))
    q = np.array([0.05, 0.33, 0.5, 0.91])
    return np.sum(np.interp(q, xs, y) ** 2) + np.sum(np.gradient(y) ** 2)


# ================================================================ batch 3: containers, builtins, introspection
def c_list_ops(x):
    l = []
    l.extend([x[0], x[1]])
    l = [x[2] * 2.0] + l
    l.append(x[0] * x[1])
    last = l.pop()
    l2 = l + [last, 1.0]
    l3 = l2 * 2
    rev = l3[::-1]
    rev = rev[::-1][1:]
    return sum(rev) + l3[3] * last + len(l3)


def c_dict_ops(x):
    keys = ['a', 'b', 'c']
    d = {k: v for k, v in zip(keys, x)}
    d2 = dict(zip(keys, x * 2.0))
    d['d'] = x[0] * x[1]
    total = 0.0
    for k, v in d.items():
        total = total + v * len(k)
    for v in d2.values():
        total = total + v ** 2
    total = total + d.get('e', 0.5) * d.get('a', 0.0) + d['d'] * 3.0
    for k in sorted(d):
        total = total + d[k]
    d['z'] = d.get('z', x[2] ** 3)
    return total + d['z'] + len(d)


def c_del_item(x):
    l = [x[0], x[1] * 2.0, x[2]]
    del l[0]
    return sum(l)


def c_dict_update(x):
    d = {k: v for k, v in zip(['a', 'b'], x)}
    d.update({'c': x[0] * x[1]})
    return d['a'] + d['c']


def c_list_insert(x):
    l = [x[0], x[1]]
    l.insert(0, x[2] * 2.0)
    return l[0] * l[1]


def c_dict_pop(x):
    d = {'a': x[0], 'b': x[1]}
    v = d.pop('a')
    return v * d['b']


def c_tuple_ops(x):
    t = (x[0], x[1])
    t2 = t + (x[2],)
    t3 = t2[1:] * 2
    a, b, *rest = t3
    return a * b + sum(rest) + len(t3) + t2[-1] ** 2


def c_builtin_shadow(x):
    sum = 0.0
    max = x[0]
    for v in x:
        sum += v
        if v > max:
            max = v
    abs = sum * max
    return abs


def c_introspection(x):
    total = 0.0
    if x.ndim == 2 and x.shape[0] == 2:
        total = total + np.sum(x[0])
    if x.dtype == np.float64:
        total = total + np.sum(x ** 2)
    if hasattr(x, 'shape') and np.isscalar(3.0) and not np.isscalar(x):
        total = total + x.size * np.mean(x)
    n, m = x.shape
    for i in range(n):
        for j in range(m):
            total = total + x[i, j] * (i - j)
    return total


def c_isinstance_branch(x, scale):
    if isinstance(scale, (int, float)):
        s = scale
    else:
        s = 2.0 * scale
    return np.sum(x * s) + np.sum(x) * s


def c_mutable_default(x, cache=[]):
    cache.append(1)
    return np.sum(x ** 2)


def c_string_keys_loop(p):
    names = ['w1', 'w2']
    h = np.array([0.5, -0.5])
    for name in names:
        h = np.tanh(h * p[name])
    return np.sum(h ** 2)


def c_nested_structures(x):
    params = {'layers': [{'w': x[:2], 'b': x[2]}, {'w': x[3:5], 'b': x[5]}], 'scale': (x[0], 2.0)}
    h = 1.0
    for layer in params['layers']:
        h = np.tanh(np.sum(layer['w'] * h) + layer['b'])
    return h * params['scale'][0] * params['scale'][1]


def c_zip_dict_grad_like(x):
    ws = [x[:2], x[2:4]]
    gs = [2 * w for w in ws]
    new = [w - 0.1 * g for w, g in zip(ws, gs)]
    return sum(np.sum(w ** 2) for w in new)


def c_comprehension_nested(x):
    X = x.reshape(2, 3)
    rows = [[X[i, j] * (i + j) for j in range(3)] for i in range(2)]
    flat = [v for row in rows for v in row if True]
    return sum(flat) + np.sum(np.array(rows) ** 2)


def c_while_counter(x):
    i = 0
    total = 0.0
    while i < len(x) and total < 10.0:
        total += np.exp(x[i])
        i += 1
    return total


def c_walrus_ternary(x):
    total = 0.0
    for v in x:
        total += (w := v * 2.0) if v > 0 else -v
    return total * w


def c_global_constant(x):
    return np.sum(x * SCALE) + np.sum(_TABLE * x)


SCALE = 2.0
_TABLE = np.array([1.0, 2.0, 3.0])


def _helper_value(x):
    return x ** 2


def c_calls_module_helper(x):
    return np.sum(_helper_value(x))


def make_loss(k):
    def loss(x):
        return np.sum(x ** k) * k
    return loss


class Scaler:
    factor = 3.0

    def __init__(self, offset):
        self.offset = offset

    def __call__(self, x):
        return np.sum((x - self.offset) ** 2) * self.factor


def c_loop_count(x, n):
    for i in range(n):
        x = np.sin(x) + x
    return np.sum(x)


# ================================================================ batch 4: ufunc methods, index helpers, randomness
def d_ufunc_methods(x):
    X = x.reshape(2, 3)
    return (np.sum(np.add.reduce(X, axis=0) ** 2) + np.sum(np.multiply.accumulate(x)) + np.sum(np.add.accumulate(x) ** 2)
            + np.maximum.reduce(x) + np.sum(np.add.outer(x[:2], x[2:]) ** 2) + np.sum(np.maximum.accumulate(x))
            + np.logaddexp.reduce(x) + np.sum(np.multiply.outer(x[:3], x[3:]) ** 2))


def d_index_helpers(x):
    A = x.reshape(3, 3)
    iu = np.triu_indices(3)
    il = np.tril_indices(3, -1)
    di = np.diag_indices(3)
    order = np.argsort(A, axis=1)
    return (np.sum(A[iu] ** 2) + np.sum(np.sin(A[il])) + np.sum(A[di] * 3.0)
            + np.sum(np.take_along_axis(A, order, axis=1) * np.arange(3.0)) + np.sum(A[np.tril_indices_from(A)]))


def d_matmul_broadcast(a, b):
    A = a.reshape(2, 3, 4)
    B = b.reshape(4, 2)
    v = b[:4]
    return (np.sum(np.sin(A @ B)) + np.sum((A @ v) ** 2) + np.sum(np.matmul(v[:3], A) ** 2)
            + np.inner(v, v) + np.vdot(A[0], A[1]) + np.sum(np.broadcast_to(v, (3, 4)) * np.arange(12.0).reshape(3, 4))
            + np.sum(np.tile(v, (2, 1)) ** 3))


def d_axis_tuples(x):
    X = x.reshape(2, 3, 2)
    return (np.sum(np.mean(X, axis=(0, 2)) ** 2) + np.sum(np.sum(X, axis=-1, keepdims=True) * X)
            + np.sum(np.max(X, axis=(1, 2))) + np.sum(np.std(X, axis=(0, 1)) * 2.0) + np.sum(np.prod(X, axis=(0, -1))))


def d_rot_roll(x):
    X = x.reshape(3, 4)
    return (np.sum(np.rot90(X, k=2) * np.arange(12.0).reshape(3, 4)) + np.sum(np.rot90(X, 1, axes=(1, 0))[0] ** 2)
            + np.sum(np.roll(X, (1, -1), axis=(0, 1)) * np.arange(12.0).reshape(3, 4)))


def d_matrix_norms(A):
    return np.linalg.norm(A, 'nuc') + np.linalg.norm(A, 2) + np.linalg.norm(A, -2) + np.linalg.norm(A, 1) + np.linalg.norm(A, -np.inf)


def d_reparam_global(params):
    mu, log_sigma = params[:3], params[3:]
    eps = np.random.randn(3)
    z = mu + np.exp(log_sigma) * eps
    return np.sum(z ** 2) + np.sum(np.sin(z))


def d_reparam_generator(params):
    rng = np.random.default_rng(42)
    mu, log_sigma = params[:3], params[3:]
    eps = rng.standard_normal(3)
    z = mu + np.exp(log_sigma) * eps
    eps2 = rng.normal(size=3)
    return np.sum(z ** 2) + np.sum(np.tanh(z * eps2))


def d_dropout_mask(x):
    rng = np.random.default_rng(7)
    mask = rng.uniform(size=x.shape) > 0.3
    h = np.where(mask, x / 0.7, 0.0)
    return np.sum(np.sin(h) * x)


def d_sampling_loop(x):
    rng = np.random.default_rng(3)
    total = 0.0
    for i in range(4):
        eps = rng.standard_normal(x.shape)
        total = total + np.sum((x + 0.1 * eps) ** 2) * (i + 1)
    return total


def d_integer_outputs(x):
    bins = np.array([-0.5, 0.0, 0.5])
    which = np.digitize(x, bins)
    flags = np.isin(np.arange(len(x)), [0, 2])
    part = np.argpartition(x, 2)
    r, c = np.unravel_index(np.argmax(x), (2, 3))
    return (np.sum(x * which) + np.sum(x[flags] ** 2) + x[part[0]] * 3.0 + x[r * 3 + c] ** 2
            + np.sum(x[np.lexsort((x, which))] * np.arange(len(x))))


def d_ufunc_methods_more(x):
    X = x.reshape(2, 3)
    return (np.sum(np.maximum.reduce(X, axis=1, keepdims=True) * X) + np.sum(np.subtract.accumulate(X, axis=1) ** 2)
            + np.sum(np.subtract.outer(x, x) ** 2) + np.minimum.reduce(X, axis=None) + np.sum(np.divide.outer(x, x + 2.0))
            + np.hypot.reduce(x) + np.sum(np.power.outer(x[:2] + 2.0, x[2:4])))


def d_piecewise_forms(x):
    return (np.sum(np.piecewise(x, [x < -0.5], [lambda t: np.sin(t), 2.0]))
            + np.sum(np.piecewise(x, [x < 0, x > 0.5], [lambda t, a: t ** 3, lambda t, a: a * t, 0.25], 3.0)))


def d_reduce_positional(x):
    X = x.reshape(2, 3)
    return np.sum(np.add.reduce(X, 1, None, None, True) * X) + np.sum(np.maximum.reduce(X, 0, None, None, True) ** 2)


def d_reduce_out(x):
    out = np.zeros(3)
    np.add.reduce(x.reshape(2, 3), 0, None, out)
    return np.sum(out)


def d_dist_mismatch(x):
    return math.dist(x[:2], x[1:])


# ================================================================ np.vectorize (was refused naming numpy's own file)
@np.vectorize
def _soft_clip(t, limit):
    if t > limit:
        return limit + np.log1p(t - limit)
    elif t < -limit:
        return -limit - np.log1p(-t - limit)
    return t


def e_vectorize_lambda(x):
    f = np.vectorize(lambda t: t * t if t > 0 else -t)
    return np.sum(f(x))


def e_vectorize_decorated_broadcast(x):
    X = x.reshape(2, 3)
    limits = np.array([0.2, 0.5, 1.0])
    return np.sum(_soft_clip(X * 3.0, limits) ** 2) + np.sum(_soft_clip(x, 0.3))


def e_vectorize_otypes(x):
    f = np.vectorize(lambda a, b: a * b + np.sin(a), otypes=[float])
    return np.sum(f(x, x[::-1]))


def e_vectorize_first_int(x):
    # numpy takes the dtype of the first result: an int here, so every result is cast to int
    f = np.vectorize(lambda t: 0 if t < 0 else t * 10.0)
    return np.sum(f(x)) + np.sum(x ** 2)


def c_list_insert_forms(x):
    l = [x[0], x[1]]
    l.insert(0, x[2] * 2.0)
    l.insert(-1, x[0] ** 2)
    l.insert(10, np.sin(x[1]))
    l.insert(-10, 3.0)
    stack = []
    for i in range(3):
        stack.insert(0, x[i] * (i + 1))
    return l[0] * l[1] + l[2] * 3.0 + l[3] * l[4] + l[5] ** 2 + stack[0] * 10 + stack[2]


def c_dict_update_rewritten(x):
    d = {k: v for k, v in zip(['a', 'b'], x)}
    d = {**d, **{'c': x[0] * x[1]}}
    return d['a'] + d['c']


# ================================================================ batch 5: autograd-examples-style programs
def _project(vx, vy):
    # a few Jacobi iterations of a pressure solve on a periodic grid
    h = 1.0 / vx.shape[0]
    div = -0.5 * h * (np.roll(vx, -1, axis=0) - np.roll(vx, 1, axis=0) + np.roll(vy, -1, axis=1) - np.roll(vy, 1, axis=1))
    p = np.zeros(vx.shape)
    for k in range(6):
        p = (div + np.roll(p, 1, axis=0) + np.roll(p, -1, axis=0) + np.roll(p, 1, axis=1) + np.roll(p, -1, axis=1)) / 4.0
    vx = vx - 0.5 * (np.roll(p, -1, axis=0) - np.roll(p, 1, axis=0)) / h
    vy = vy - 0.5 * (np.roll(p, -1, axis=1) - np.roll(p, 1, axis=1)) / h
    return vx, vy


def _advect(f, vx, vy):
    # semi-Lagrangian advection with bilinear interpolation (integer cell indices from floor)
    rows, cols = f.shape
    cell_ys, cell_xs = np.meshgrid(np.arange(rows), np.arange(cols), indexing='ij')
    center_xs = (cell_xs - vx).ravel()
    center_ys = (cell_ys - vy).ravel()
    left_ix = np.floor(center_xs).astype(int)
    top_ix = np.floor(center_ys).astype(int)
    rw = center_xs - left_ix
    bw = center_ys - top_ix
    left_ix = np.mod(left_ix, rows)
    right_ix = np.mod(left_ix + 1, rows)
    top_ix = np.mod(top_ix, cols)
    bot_ix = np.mod(top_ix + 1, cols)
    flat_f = (1 - rw) * ((1 - bw) * f[top_ix, left_ix] + bw * f[bot_ix, left_ix]) \
        + rw * ((1 - bw) * f[top_ix, right_ix] + bw * f[bot_ix, right_ix])
    return np.reshape(flat_f, (rows, cols))


def ex_fluidsim(v0):
    vx = v0[:16].reshape(4, 4) * 0.3
    vy = v0[16:].reshape(4, 4) * 0.3
    smoke = np.outer(np.arange(4.0), np.ones(4)) / 4.0
    for t in range(3):
        vx, vy = _project(vx, vy)
        vx = _advect(vx, vx, vy)
        vy = _advect(vy, vx, vy)
        smoke = _advect(smoke, vx, vy)
    target = np.eye(4)
    return np.mean((smoke - target) ** 2)


def _init_params(scale, sizes):
    rng = np.random.default_rng(0)
    return [(scale * rng.standard_normal((m, n)), scale * rng.standard_normal(n)) for m, n in zip(sizes[:-1], sizes[1:])]


def _nn_predict(params, inputs):
    for W, b in params:
        outputs = np.dot(inputs, W) + b
        inputs = np.tanh(outputs)
    return outputs - np.log(np.sum(np.exp(outputs), axis=1, keepdims=True))


def ex_neural_net_flat(flat):
    # autograd's neural_net example with the parameters unflattened by hand
    sizes = [3, 4, 2]
    params = []
    start = 0
    for m, n in zip(sizes[:-1], sizes[1:]):
        W = flat[start:start + m * n].reshape(m, n)
        start += m * n
        b = flat[start:start + n]
        start += n
        params.append((W, b))
    X = np.linspace(-1, 1, 15).reshape(5, 3)
    T = np.eye(2)[[0, 1, 1, 0, 1]]
    log_prior = -0.5 * sum(np.sum(W ** 2) + np.sum(b ** 2) for W, b in params)
    log_lik = np.sum(_nn_predict(params, X) * T)
    return -(log_prior + log_lik)


def ex_gmm_loglik(params):
    # mixture of 2 Gaussians in 2-d with Cholesky-parameterised covariances (autograd gmm example)
    log_weights = params[:2]
    means = params[2:6].reshape(2, 2)
    chol = params[6:].reshape(2, 2, 2)
    data = np.array([[0.1, 0.5], [1.2, -0.3], [-0.7, 0.8], [0.4, 0.4]])
    log_w = log_weights - np.log(np.sum(np.exp(log_weights)))
    cluster_lls = []
    for log_proportion, mean, L in zip(log_w, means, chol):
        Lt = np.tril(L) + 2.0 * np.eye(2)
        cov = Lt @ Lt.T
        diff = data - mean
        sol = np.linalg.solve(cov, diff.T).T
        ll = -0.5 * np.sum(diff * sol, axis=1) - 0.5 * np.linalg.slogdet(cov)[1] - np.log(2 * np.pi)
        cluster_lls.append(log_proportion + ll)
    stacked = np.array(cluster_lls)
    m = np.max(stacked, axis=0)
    return np.sum(m + np.log(np.sum(np.exp(stacked - m), axis=0)))


def ex_black_box_svi(var_params):
    # black-box variational inference with fixed noise (reparameterised ELBO)
    D = 2
    mean, log_std = var_params[:D], var_params[D:]
    rng = np.random.default_rng(1)
    samples = rng.standard_normal((5, D)) * np.exp(log_std) + mean

    def log_density(x):
        mu, log_sigma = x[:, 0], x[:, 1]
        sigma_density = -0.5 * log_sigma ** 2 / 1.35 ** 2
        mu_density = -0.5 * mu ** 2 / np.exp(log_sigma) ** 2 - log_sigma
        return sigma_density + mu_density
    entropy = 0.5 * D * (1.0 + np.log(2 * np.pi)) + np.sum(log_std)
    return -(entropy + np.mean(log_density(samples)))


def ex_rnn_sequence(W):
    # a character-RNN-style loop over time with a softmax output per step
    Wx, Wh, Wo = W[:6].reshape(2, 3), W[6:15].reshape(3, 3), W[15:].reshape(3, 2)
    seq = np.array([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0], [0.5, -0.5]])
    h = np.zeros(3)
    loglik = 0.0
    for t in range(len(seq) - 1):
        h = np.tanh(seq[t] @ Wx + h @ Wh)
        out = h @ Wo
        logp = out - np.log(np.sum(np.exp(out)))
        loglik = loglik + np.sum(logp * (seq[t + 1] > 0))
    return -loglik


def ex_sinusoid_fit(params):
    t = np.linspace(0, 3, 10)
    y = np.sin(1.3 * t + 0.2) * 0.8
    a, w, phi = params
    pred = a * np.sin(w * t + phi)
    return np.mean((pred - y) ** 2)


def ex_ode_net(params):
    # a neural ODE integrated with Euler steps (ode_net example)
    W1 = params[:8].reshape(2, 4)
    W2 = params[8:].reshape(4, 2)
    z = np.array([[1.0, 0.0], [0.0, 1.0]])

    def dynamics(z, t):
        return np.tanh(z @ W1) @ W2 * np.cos(t)
    t = 0.0
    dt = 0.1
    for step in range(10):
        z = z + dt * dynamics(z, t)
        t = t + dt
    return np.sum((z - np.array([[0.5, 0.5], [-0.5, 0.5]])) ** 2)
