"""Red team R (Dec 16): a corpus of small real functions ported the way a user would write them.

Modelled on the kinds of functions in Google Tangent's test corpus (tests/functions.py), autograd's
numpy tests and myia/jax examples: loops, branches on scalars, subscripts with assignment, list ops,
numpy calls, nested functions, while loops, augmented assignments, tuple returns.  Rewritten here (not
copied); the tests in test_redteam_dec16r.py run each through sct.
"""
import math

import numpy as np

from sct import dlgradient


# --- tangent-style: identities and binops --------------------------------------------------------

def ident(a):
    return a


def neg(a):
    return -a


def total(x):
    return np.sum(x)


def total_of_array(x):
    return np.sum(np.array(x))


def sum_then_square(x):
    x = np.sum(x)
    x = x * x
    return x


def hyp_tan(a):
    return np.tanh(a)


def copy_name(a):
    b = a
    return b


def plus_one(a):
    return a + 1


def axpy(a, b, c):
    return a * b + c


def times(a, b):
    return a * b


def plus(a, b):
    return a + b


def axpy_by_calls(a, b, c):
    return plus(times(a, b), c)


def axpy_steps(a, b, c):
    p = a * b
    q = p + c
    return q


def axpy_rebind(a, b, c):
    r = a * b
    r = r + c
    return r


def named_like_grad(a):
    da = a * a
    return da


def branch_scale(a):
    if a > 0:
        a = a * 3.0
    else:
        a = a * 2.0
    return a


def mul_c_right(a):
    return a * 3.0


def mul_c_left(a):
    return 3.0 * a


def mul_self(a):
    return a * a


def div_c_right(a):
    return a / 3.0


def div_c_left(a):
    return 3.0 / a


def div_self(a):
    return a / a


def sub_c_right(a):
    return a - 3.0


def sub_c_left(a):
    return 3.0 - a


def sub_self(a):
    return a - a


def add_c_right(a):
    return a + 3.0


def add_c_left(a):
    return 3.0 + a


def add_self(a):
    return a + a


def nested_branch(a):
    if a > 0:
        if a < 10:
            a = a * a
    else:
        a = 3.0 * a
    return a


def many_branches(a):
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


def np_multiply_c(a):
    return np.multiply(a, 3.0)


def pair_out(a):
    return 2 * a, a


def list_literal_sum(a):
    b = [1, a * a, 2]
    return np.sum(b)


def list_of_products(x):
    b = [1, x[0] * x[1] * x[2], 3]
    return np.sum(b)


def items_product(x):
    first = x[0]
    second = x[1]
    return first * second


def item_write_own(x):
    x = x.copy()
    first = x[0]
    second = x[1]
    x[0] = first * second
    return np.sum(x)


def item_write_arg(x):
    first = x[0]
    second = x[1]
    x[0] = first * second
    return np.sum(x)


def item_write_from_square(x):
    x = x.copy()
    y = x ** 2.0
    x[0] = y[1] * y[2]
    return np.sum(x * y)


def list_then_index(a):
    v = [1.0, a, 3.0]
    return v[0] * v[1]


def list_item_overwrite(a):
    v = [1, a * a, 3]
    v[1] = v[0] * v[1]
    return v[1] + v[1]


def two_ifs(a):
    if a > 0:
        a = a * a
    a = a + a
    if a < 0:
        a = 3.0 * a
    return a


def compare_two(a, b):
    if a > b:
        a = a * a
    else:
        a = a * b
    return a


def two_loops(a, n):
    for i in range(n):
        a = a * a
    a = 2.0 * a
    for i in range(n + 1):
        a = a * 3.0
    return a


def if_then_loop(a, n):
    if a > 0:
        a = a * a
    a = 2.0 * a
    for i in range(n):
        a = a * a
    return a


def loop_then_if(a, n):
    for i in range(n):
        a = a * a
    a = 2.0 * a
    if a > 0:
        a = a * a
    return a


def inner_else(a):
    if a > 0:
        a = a * 3.0
        if a < 10:
            a = a * a
        else:
            a = a * 2.0
    return a


def elif_chain(a):
    if a > 0:
        a = a * 3.0
    elif 0 > a:
        a = a * 2.0
    else:
        a = 1.0 * a
    return a


def rebind_arg(a):
    a = a * 3.0
    return a


def rebind_copy(a):
    b = a
    b = b * 3.0
    return b


def cube_mul(a):
    return a * a * a


def cube_pow(a):
    return a ** 3


def cube_loop_from_one(a):
    out = 1
    for i in range(3):
        out = out * a
    return out


def cube_loop_from_a(a):
    out = a
    for i in range(3 - 1):
        out = out * a
    return out


def square_three_times(a):
    for i in range(3):
        a = a * a
    return a


def square_n_times(a, n):
    for i in range(n):
        a = a * a
    return a


def square_while_small(a):
    for i in range(3):
        if a < 20:
            a = a * a
    return a


def square_if_small(a):
    if a < 20:
        for i in range(3):
            a = a * a
    return a


def double_loop(a):
    for i in range(2):
        for j in range(3):
            a = a * a
    return a


def cube_three_times(a):
    for i in range(3):
        a = a * a * a
    return a


def np_mean(x):
    return np.mean(x)


def np_exp(a):
    return np.exp(a)


def np_exp_exp(a):
    return np.exp(np.exp(a))


def np_sqrt(a):
    return np.sqrt(a)


def logreg(inputs, label, W, b):
    h1 = np.dot(inputs, W) + b
    prediction = 0.5 * (np.tanh(h1) + 1)
    prob = prediction * label + (1 - prediction) * (1 - label)
    loss = -np.sum(np.log(prob))
    return loss


def _mul_helper(a, b):
    return a * b


def call_helper(a, b):
    return _mul_helper(a, b)


def branch_call(a, b):
    if a > b:
        o = _mul_helper(a, b)
    else:
        o = _mul_helper(b, a)
    return o


def loop_call(a, n):
    for i in range(n):
        a = _mul_helper(a, a)
    return a


def call_call(a, b):
    return call_helper(a, b)


def loop_nested_def(a, n):
    def inner(a, n):
        return a * n

    for i in range(n):
        a = inner(a, a)
    return a


def unpack_tuple(abc):
    a, b, c = abc
    return a * b + c


def dict_axpy(val):
    return val['a'] * val['b'] + val['c']


def build_dict_call(abc):
    a, b, c = abc
    return dict_axpy(dict(a=a, b=b, c=c))


def pick_from_tuple(a, b, c, i):
    t = a, b, c
    return t[i]


def first_of_tuple(abc):
    a, b, c = abc
    return a


def to_polar(a, b):
    r = np.sqrt(a ** 2.0 + b ** 2.0)
    theta = np.arctan2(b, a)
    return r, theta


def comp_sum(a):
    return np.sum([v * 3 for v in a])


def halve_while_big(a):
    while np.abs(a) > 0.1:
        a = a * 0.5
    return a


def copy_by_items(x):
    y = np.zeros_like(x)
    for i in range(len(x)):
        y[i] = x[i]
    return np.sum(y)


def rows_from_items(x):
    h = np.zeros((len(x), 3))
    for t in range(len(h)):
        h[t] = x[t]
    return np.sum(h)


def tail_sum(x):
    return np.sum(x[1:])


def tiny_rnn(inputs, W):
    h = np.zeros((4, 3))
    for t in range(3):
        h[t + 1] = np.dot(inputs[t], W) + h[t]
    return np.sum(h[1:])


def aug_square(a):
    x = a * a
    x *= x
    return x


def bilinear_layer(x, h, U, W, b):
    y = np.dot(x, W)
    y = y + np.dot(h, U)
    y = y + b
    y = np.tanh(y)
    return np.sum(y)


def stack_like(a):
    stack = []
    y = a * a
    stack.append(a)
    aa = stack.pop()
    z = y * aa
    z = z * aa
    return z


def power_ab(a, b):
    a = a ** b
    return a


def square_square(a):
    a = a * a
    y = a * a
    return y


def chain_mults(a):
    b = a
    b = a * a
    c = b * b
    d = c * c
    return d


def chain_mul_calls(a):
    b = times(a, a)
    c = times(b, b)
    d = times(c, c)
    return d


def unused_stack(a):
    st = []
    b = a * a
    st.append(b)
    b = st.pop()
    return a


def rebind_to_list(a):
    st = []
    x = a
    st.append(x)
    x = [a]
    x = st.pop()
    return a


def nested_dict_prod(p):
    return p['i']['j'] * p['i']['k']


def strided_newaxis(x):
    return np.sum(x[::2, np.newaxis])


def aug_inplace_self(a):
    x = a
    x *= a
    return x


def aug_chain(a):
    x = a + 0.0
    x += a
    x -= 0.5 * a
    x *= a
    x /= 2.0
    x **= 2
    return x


def while_counter(a):
    i = 0
    while i < 4:
        a = a * 1.5 + i
        i += 1
    return a


def while_break(a):
    k = 0
    while True:
        a = np.sin(a) + a
        k += 1
        if k >= 3:
            break
    return a


def lambda_inline(a):
    sq = lambda t: t * t
    return sq(a) + sq(2 * a)


def default_arg(a, scale=2.0):
    return a * scale


def call_default(a):
    return default_arg(a) + default_arg(a, 3.0)


def int_power(a):
    return a ** 2 + 3 * a ** 4


def tuple_swap(a, b):
    a, b = b, a * b
    return a - b


def list_append_loop(x):
    out = []
    for i in range(len(x)):
        out.append(x[i] * (i + 1))
    return np.sum(np.array(out))


def list_pop_loop(x):
    vals = [x[0], x[1], x[2]]
    acc = 0.0
    while vals:
        acc = acc * 2.0 + vals.pop()
    return acc


def nested_closure(a):
    k = a * 2.0

    def g(t):
        return t * k

    return g(a) + g(1.0)


def recursive_pow(a, n):
    if n == 0:
        return 1.0
    return a * recursive_pow(a, n - 1)


def factorial_like(a, n):
    acc = a
    while n > 1:
        acc = acc * a / n
        n = n - 1
    return acc


def early_return(a):
    if a > 1.0:
        return a * a
    return -a


def ternary(a):
    return a * a if a > 0 else np.sin(a)


def abs_branch(a):
    return a if a >= 0 else -a


def max_builtin(a, b):
    return max(a, b) * min(a, b)


def math_calls(a):
    return math.sin(a) * math.exp(a) + math.sqrt(a * a + 1.0)


def tuple_return_loop(a):
    s, p = 0.0, 1.0
    for k in range(1, 4):
        s, p = s + a / k, p * (a + k)
    return s, p


def enumerate_sum(x):
    s = 0.0
    for i, v in enumerate(x):
        s = s + i * v * v
    return s


def zip_dot(x, y):
    s = 0.0
    for u, v in zip(x, y):
        s += u * v
    return s


def dict_loop(p):
    s = 0.0
    for k, v in p.items():
        s = s + np.sum(v ** 2)
    return s


def slice_assign(x):
    y = np.zeros(5)
    y[1:4] = x[:3] * 2.0
    y[0] += x[3]
    return np.sum(y * y)


def cumulative(x):
    out = np.zeros_like(x)
    acc = 0.0
    for i in range(x.shape[0]):
        acc = acc + x[i]
        out[i] = acc
    return np.sum(out ** 2)


def continue_loop(x):
    s = 0.0
    for i in range(len(x)):
        if x[i] < 0:
            continue
        s += x[i] ** 2
    return s


def for_else(a):
    for i in range(3):
        a = a * 1.1
        if a > 100:
            break
    else:
        a = a + 1.0
    return a


def fib_loop(a, n):
    p, q = a, a * a
    for i in range(n):
        p, q = q, p + q
    return q


def newton_sqrt(a):
    x = a
    for i in range(5):
        x = 0.5 * (x + a / x)
    return x


def horner(x):
    coeffs = [1.0, -2.0, 0.5, 3.0]
    acc = 0.0
    for c in coeffs:
        acc = acc * x + c
    return acc


def mutual_even(a, n):
    if n == 0:
        return a
    return mutual_odd(a * 1.5, n - 1)


def mutual_odd(a, n):
    if n == 0:
        return -a
    return mutual_even(a * a, n - 1)


def kwargs_call(a):
    return default_arg(a, scale=a)


def star_args_helper(*vals):
    s = 0.0
    for v in vals:
        s = s + v * v
    return s


def star_args_call(a, b):
    return star_args_helper(a, b, a * b)


def string_dispatch(a, mode):
    if mode == "sq":
        return a * a
    elif mode == "cube":
        return a * a * a
    return a


def int_mod_loop(a):
    for i in range(6):
        if i % 2 == 0:
            a = a + 1.0
        else:
            a = a * a
    return a


def bool_mask_arith(x):
    m = x > 0
    return np.sum(x * m)


def global_const_use(a):
    return a * SCALE + OFFSET[1]


SCALE = 2.5
OFFSET = (1.0, -3.0)


# --- autograd-style numpy ops --------------------------------------------------------------------

def ag_sum_axis(x):
    return np.sum(np.sum(x, axis=0) ** 2) + np.sum(np.sum(x, axis=1, keepdims=True) * x)


def ag_mean_axis(x):
    return np.sum(np.mean(x, axis=1) ** 2)


def ag_var(x):
    return np.var(x) + np.sum(np.var(x, axis=0))


def ag_std(x):
    return np.std(x) + np.sum(np.std(x, axis=1))


def ag_prod(x):
    return np.prod(x) + np.sum(np.prod(x, axis=0))


def ag_dot_mv(M, v):
    return np.sum(np.dot(M, v) ** 2)


def ag_dot_mm(A, B):
    return np.sum(np.sin(np.dot(A, B)))


def ag_matmul(A, B):
    return np.sum((A @ B) ** 2)


def ag_outer(a, b):
    return np.sum(np.outer(a, b) ** 3)


def ag_inner(a, b):
    return np.inner(a, b) ** 2


def ag_transpose(A):
    return np.sum(A.T * np.arange(A.size).reshape(A.T.shape))


def ag_reshape(x):
    return np.sum(np.reshape(x, (-1,)) * np.arange(x.size))


def ag_concatenate(a, b):
    return np.sum(np.concatenate([a, b, a * b]) ** 2)


def ag_stack(a, b):
    return np.sum(np.stack([a, b * 2.0], axis=1) ** 3)


def ag_max(x):
    return np.max(x) + np.sum(np.max(x, axis=0))


def ag_min(x):
    return np.min(x) * 2.0


def ag_maximum(a, b):
    return np.sum(np.maximum(a, b) ** 2)


def ag_cumsum(x):
    return np.sum(np.cumsum(x) ** 2)


def ag_clip(x):
    return np.sum(np.clip(x, -0.5, 0.5) ** 2)


def ag_where(x):
    return np.sum(np.where(x > 0, x ** 2, -x))


def ag_abs(x):
    return np.sum(np.abs(x) * x)


def ag_tril_triu(A):
    return np.sum(np.tril(A) * 2.0 + np.triu(A, 1) ** 2)


def ag_diag(A):
    return np.sum(np.diag(A) ** 2) + np.sum(np.diag(np.diag(A)))


def ag_trace(A):
    return np.trace(A @ A)


def ag_roll(x):
    return np.sum(np.roll(x, 1) * x)


def ag_flip(x):
    return np.sum(np.flip(x) * np.arange(x.size))


def ag_sort(x):
    return np.sum(np.sort(x) * np.arange(x.size))


def ag_einsum(A, B):
    return np.einsum('ij,jk->', A, B) + np.sum(np.einsum('ij,ij->i', A, A))


def ag_logsumexp(x):
    m = np.max(x)
    return m + np.log(np.sum(np.exp(x - m)))


def ag_softplus(x):
    return np.sum(np.log1p(np.exp(x)))


def ag_norm(x):
    return np.linalg.norm(x) + np.linalg.norm(x, 1)


def ag_inv(A):
    return np.sum(np.linalg.inv(A))


def ag_det(A):
    return np.linalg.det(A)


def ag_solve(A, b):
    return np.sum(np.linalg.solve(A, b) ** 2)


def ag_tensordot(A, B):
    return np.sum(np.tensordot(A, B, axes=1))


def ag_expand_squeeze(x):
    y = np.expand_dims(x, 0)
    return np.sum(np.squeeze(y, 0) ** 2)


def ag_hypot_arctan2(a, b):
    return np.sum(np.hypot(a, b) + np.arctan2(a, b))


def ag_power_array(a, b):
    return np.sum(np.power(a, b))


def ag_mod_floor(x):
    return np.sum(x * np.floor(x) + np.mod(x, 1.0) ** 2)


def ag_fancy_index(x):
    idx = np.array([0, 2, 2, 1])
    return np.sum(x[idx] ** 2)


def ag_bool_index(x):
    return np.sum(x[x > 0.0] ** 3)


def ag_index_add(x):
    y = np.zeros(3)
    y[0] += x[0]
    y[0] += x[1]
    y[2] = x[2] * x[0]
    return np.sum(y ** 2)


def ag_astype(x):
    return np.sum(x.astype(np.float64) ** 2)


def ag_array_list(a, b):
    v = np.array([a, b, a * b])
    return np.sum(v ** 2)


def ag_linspace_grid(a):
    t = np.linspace(0.0, 1.0, 5)
    return np.sum(np.sin(a * t))


def ag_cos_sin_tan(x):
    return np.sum(np.cos(x) * np.sin(x) + np.tan(x * 0.3))


def ag_arcfuncs(x):
    return np.sum(np.arcsin(x * 0.5) + np.arccos(x * 0.3) + np.arctan(x))


def ag_hyperbolic(x):
    return np.sum(np.sinh(x) + np.cosh(x) + np.tanh(x))


def ag_log_family(x):
    return np.sum(np.log(x) + np.log2(x) + np.log10(x) + np.log1p(x))


def ag_exp_family(x):
    return np.sum(np.exp2(x) + np.expm1(x))


def ag_square_reciprocal(x):
    return np.sum(np.square(x) + np.reciprocal(x))


def ag_sign(x):
    return np.sum(np.sign(x) * x ** 2)


# --- myia / jax examples -------------------------------------------------------------------------

def myia_fact(a, n):
    if n <= 1:
        return a
    return n * myia_fact(a, n - 1)


def myia_while_sum(x):
    i = 0
    s = 0.0
    while i < x.shape[0]:
        s = s + x[i] * x[i]
        i = i + 1
    return s


def myia_closure_grad(a):
    def f(y):
        return y * a

    return f(a) + f(2.0)


def jax_tanh_sum(x):
    y = np.exp(-2.0 * x)
    return np.sum((1.0 - y) / (1.0 + y))


def jax_predict(W, b, inputs):
    return 1.0 / (1.0 + np.exp(-(np.dot(inputs, W) + b)))


def jax_loss(W, b, inputs):
    targets = np.array([1.0, 0.0, 1.0, 1.0])
    preds = jax_predict(W, b, inputs)
    label_probs = preds * targets + (1 - preds) * (1 - targets)
    return -np.sum(np.log(label_probs))


def jax_mlp(params, x):
    for W, b in params:
        x = np.tanh(x @ W + b)
    return np.sum(x)



# --- autograd numpy tests, rewritten: each op's result scored non-linearly ---------------------------

def _sc(v):
    return np.sum(np.sin(v) * 1.3 + v ** 3 * 0.1)


def an_dot(x, y):
    return _sc(np.dot(x, y))


def an_outer(x, y):
    return _sc(np.outer(x, y))


def an_max_axis(x):
    return _sc(np.max(x, axis=1))


def an_max_keep(x):
    return _sc(np.max(x, axis=1, keepdims=True))


def an_min_axis(x):
    return _sc(np.min(x, axis=1))


def an_min_keep(x):
    return _sc(np.min(x, axis=1, keepdims=True))


def an_sum_axis0(x):
    return _sc(np.sum(x, axis=0))


def an_sum_keep(x):
    return _sc(np.sum(x, axis=0, keepdims=True))


def an_sum_axes(x):
    return _sc(np.sum(x, axis=(1, 2)))


def an_flipud(x):
    return _sc(np.flipud(x) * np.arange(x.shape[0])[:, None])


def an_fliplr(x):
    return _sc(np.fliplr(x) * np.arange(x.shape[1]))


def an_rot90(x):
    return _sc(np.rot90(x) * np.arange(x.shape[1])[:, None])


def an_cumsum0(x):
    return _sc(np.cumsum(x, axis=0))


def an_cumsum1(x):
    return _sc(np.cumsum(x, axis=1))


def an_cumsum_flat(x):
    return _sc(np.cumsum(x))


def an_builtin_sum(x, y):
    return _sc(sum([x, y]))


def an_mean0(x):
    return _sc(np.mean(x, axis=0))


def an_mean_keep(x):
    return _sc(np.mean(x, axis=0, keepdims=True))


def an_index_ints(x):
    return _sc(x[3, 0, 1])


def an_index_slice(x):
    return _sc(x[::-1, 2:4, :])


def an_index_lists(x):
    return _sc(x[[0, 1, 2], :, :])


def an_index_mixed(x):
    return _sc(x[3, 2:, [1, 3]])


def an_vector_slice(x):
    return _sc(x[2:4])


def an_slice_fanout(x):
    y = x[::-1, 2:4, :]
    z = x[::-1, 3:5, :]
    return _sc(y + z)


def an_slice_of_slice(x):
    y = x[2:6]
    z = y[1:3]
    return _sc(z)


def an_reshape_method(x):
    return _sc(x.reshape((5 * 4, 6)) * np.arange(6))


def an_reshape_call(x):
    return _sc(np.reshape(x, (5 * 4, 6)) * np.arange(6))


def an_reshape_nolist(x):
    return _sc(x.reshape(5 * 4, 6) * np.arange(6))


def an_ravel_method(x):
    return _sc(x.ravel() * np.arange(x.size) / x.size)


def an_ravel_call(x):
    return _sc(np.ravel(x) * np.arange(x.size) / x.size)


def an_flatten(x):
    return _sc(x.flatten() * np.arange(x.size) / x.size)


def an_append(a, b):
    return _sc(np.append(a, b) * np.arange(4))


def an_concat_const(x):
    A = np.ones((5, 6, 4)) * 0.5
    return _sc(np.concatenate((A, x)))


def an_concat_axis1(x):
    B = np.full((5, 6, 4), 0.25)
    return _sc(np.concatenate((B, x, B), axis=1) * np.arange(18)[:, None])


def an_concat_axis1_pos(x):
    B = np.full((5, 6, 4), 0.25)
    return _sc(np.concatenate((B, x, B), 1) * np.arange(18)[:, None])


def an_trace_offset(x):
    return _sc(np.trace(x, offset=2)) + _sc(np.trace(x, offset=-1))


def an_split_first(x):
    return _sc(np.split(x, 2)[0])


def an_trace_extradims(x):
    return _sc(np.trace(x, offset=1))


def an_diag(x):
    return _sc(np.diag(x))


def an_T(x):
    return _sc(x.T * np.arange(x.shape[0]))


def an_roll_axis(x):
    return _sc(np.roll(x, 2, axis=1) * np.arange(x.shape[1]))


def an_roll_flat(x):
    return _sc(np.roll(x, 2) * np.arange(x.shape[1]))


def an_triu_k(x):
    return _sc(np.triu(x, k=2))


def an_tril_k(x):
    return _sc(np.tril(x, k=2))


def an_clip_kw(x):
    return _sc(np.clip(x, a_min=0.1, a_max=1.1))


def an_prod_all(x):
    return _sc(np.prod(x))


def an_prod_axis(x):
    return _sc(np.prod(x, axis=0))


def an_prod_keep(x):
    return _sc(np.prod(x, axis=0, keepdims=True))


def an_array_1d(a):
    return _sc(np.array([a, a * 1.0, a + 2.5]) * np.arange(3))


def an_array_2d(a):
    return _sc(np.array([[a, a * 1.0, a + 2.5], [a ** 2, a, a / 2.0]]))


def an_array_fanout(a):
    A = np.array([[a, a * 1.0, a + 2.5], [a ** 2, a, a / 2.0]])
    return _sc(A + A)


def an_array_scalar(a):
    return _sc(np.array(a))


def an_array_of_arrays(x):
    return _sc(np.array([x, x * 2.0]))


def an_array_nested(x):
    return _sc(np.array([[2 * x, x + 1], [x, x]]))


def an_len(x):
    assert len(x) == 3
    return _sc(x)


def an_r_basic(x):
    return _sc(np.r_[x])


def an_r_double(x):
    return _sc(np.r_[x, x * 2.0])


def an_no_relation(x):
    return _sc(np.ones((3, 2)))


def an_r_mixed(x):
    c = np.full((3, 2), 0.3)
    return _sc(np.r_[x, c, x])


def an_c_mixed(x):
    c = np.full((3, 2), 0.3)
    return _sc(np.c_[x, c, x * 3.0])


def an_var_ddof(x):
    return _sc(np.var(x, ddof=1)) + _sc(np.var(x, axis=1, keepdims=True, ddof=1))


def an_std_ddof(x):
    return _sc(np.std(x, ddof=1)) + _sc(np.std(x, axis=1, keepdims=True, ddof=1))


def an_where_mask(x, y):
    C = np.arange(x.size).reshape(x.shape) % 3 == 0
    return _sc(np.where(C, x, y))


def an_squeeze_fn(x):
    return _sc(np.squeeze(x))


def an_squeeze_method(x):
    return _sc(x.squeeze())


def an_repeat1(x):
    return _sc(np.repeat(x, 2, axis=1))


def an_repeat0(x):
    return _sc(np.repeat(x, 2, axis=0))


def an_expand(x):
    return _sc(np.expand_dims(x, 2))


def an_tensordot_pos(a):
    return _sc(np.tensordot(a * np.ones((2, 2)), a * np.ones((2, 2)), 2))


def an_multi_index(x):
    return _sc(x[[0, 0]])


def an_multi_index2(x):
    return _sc(x[[0, 1, 0]])


def an_index_dot(x):
    return _sc(np.dot(x[:2], x[2:]))


def an_cast_int(W):
    inds = np.ones(5)[:, None]
    glued = np.concatenate((W, inds), axis=1)
    new_W = glued[:, :-2]
    new_inds = np.int64(glued[:, -1])
    return _sc(new_W[new_inds])


def an_diagonal(D):
    return _sc(np.diagonal(D, axis1=-1, axis2=-2))


def an_nan_to_num(x):
    y = np.array([0.0, np.nan, np.inf, -np.inf])
    return np.sum(np.sin(np.nan_to_num(x + y)))


def an_max_tie(a):
    return np.max(np.array([a, a]))


def an_max_tie_2d(a):
    return _sc(np.max(np.array([[a, a], [a, 0.5]]), axis=1))


def an_min_tie3(a):
    return _sc(np.min(np.array([[a, a, a], [a, 0.5, 0.5], [0.5, 0.5, 0.5], [a, a, 0.5]]), axis=0))


def an_maximum_self(a):
    return np.maximum(a, a)


def an_maximum_tie_2d(a):
    return _sc(np.maximum(np.array([a, a, 0.5]), np.array([[a, 0.5, a], [a, a, 0.5]])))


def an_linspace5(a, b):
    return _sc(np.linspace(a, b, 5))


def an_linspace1(a, b):
    return _sc(np.linspace(a, b, 1))


def an_astype32(x):
    return np.sum(np.sin(x.astype('float64')))


def an_transpose_axes(x):
    return _sc(np.transpose(x, (2, 0, 1)) * np.arange(4)[:, None, None])


def an_einsum_three(a, b, c):
    return _sc(np.einsum('ijk,lji,lli->lki', a, b, c))


def an_einsum_ellipsis(a, b):
    return _sc(np.einsum('...jk,...lj->...lk', a, b))


def an_tensordot_axes(a, b):
    return _sc(np.tensordot(a, b, axes=[(0, 1), (1, 2)]))


def an_partition(x):
    return _sc(np.partition(x, 3) * np.arange(x.size))


def an_atleast(a):
    return _sc(np.atleast_2d(a) + np.atleast_3d(a) * 2.0 + np.atleast_1d(a))


def an_logaddexp(a, b):
    return _sc(np.logaddexp(a, b) + np.logaddexp2(a, b))


def an_remainder(a, b):
    return _sc(np.remainder(a, b) + a % b + np.fmod(a, b))


def an_true_divide(a, b):
    return _sc(np.true_divide(a, b) + a // b)


def an_pow_op(a, b):
    return _sc(a ** b)


def an_minimum_bcast(a, b):
    return _sc(np.minimum(a, b))


def an_unary_misc(x):
    return _sc(np.arcsinh(x) + np.arctanh(x * 0.5) + np.deg2rad(x) + np.degrees(x) / 50.0
               + np.fabs(x) + np.ceil(x) + np.rad2deg(x) / 50.0 + np.radians(x))


def an_arccosh(x):
    return _sc(np.arccosh(x + 1.5))


def an_real_imag(x):
    return _sc(np.real(x) + np.imag(x) + np.conj(x) + np.angle(x))




# --- tangent (later version of its corpus) -------------------------------------------------------

def implicit_iter(x):
    res = 0.0
    for a in x:
        res += a
    return res


def sqrt_either_sign(a):
    if a >= 0:
        r = np.sqrt(a)
    else:
        r = np.sqrt(-a)
    return r


def np_trig(a):
    return np.cos(a) + np.sin(a) + np.tan(a) + np.cosh(a) + np.sinh(a) + np.tanh(a)


def np_arctrig(a):
    return np.arccos(a) + np.arcsin(a) + np.arctan(a)


def atleast_sums(x):
    return np.sum(np.atleast_1d(x)) + np.sum(np.atleast_2d(x)) * 2.0 + np.sum(np.atleast_3d(x)) * 3.0


def det_square(m):
    return np.linalg.det(m)


def pow_either_sign(a, b):
    if a >= 0:
        a = a ** b
    else:
        a = (-a) ** b
    return a


def polar_out_positional(a, b):
    r = np.sqrt(a ** 2.0 + b ** 2.0)
    theta = np.arctan(b, a)
    return r, theta


# --- myia's gradient tests ------------------------------------------------------------------------

from dataclasses import dataclass  # noqa: E402


@dataclass
class Point:
    x: float
    y: float

    def abs(self):
        return (self.x ** 2 + self.y ** 2) ** 0.5


def my_null(x, y):
    return 10.0 + 28.0 / 43.0


def my_expr(x, y):
    return x ** 3.0 * y ** 4.0


def my_quadruple(x):
    def g(a, b, c, d):
        return a * b * c * d
    return g(x, x, x, x)


def my_tuples(x, y):
    tup = x + y, x * y
    z = tup[0] + tup[1]
    return z


def my_dataclass(pt):
    return pt.x * pt.y


def my_dataclass_method(pt):
    return pt.abs()


def my_hof(a, b):
    def f(g, x):
        return g(x) * g(x + 10.0)

    def g(x):
        return x * b

    return f(g, a) + f(g, b)


def my_hof_tup(a, b):
    import operator

    def f(gh, x, y):
        g, h = gh
        return g(x, y) * h(x, y)

    return f((operator.add, operator.mul), a, b)


def my_simple_closure(a, b):
    def f():
        return a + 1.0

    def g():
        return b + 2.0
    return f() * g()


def my_closure_of_closure(a):
    def x1(b):
        def x4(c):
            return b
        return x4
    x2 = x1(a)
    x3 = x2(1.0)
    return x3


def my_if_return(a, b):
    if a > b:
        return a
    else:
        return b


def my_if2(a, b):
    if a > b:
        return a * a
    else:
        return b + b


def my_fact_traced(x):
    def fact(n):
        if n <= 1:
            return 1
        else:
            return n * fact(n - 1)
    return fact(x)


def my_while_square(x):
    rval = x
    while rval < 100:
        rval = rval * rval
    return rval


def my_while_2(x, y, z):
    rval = 0
    while x > -0.1:
        rval = rval + y
        x = x - z
    return rval


def my_pow10(x):
    v = x
    j = 0
    while j < 3:
        i = 0
        while i < 3:
            v = v * x
            i = i + 1
        j = j + 1
    return v


def my_list_while(xs):
    y = 1.0
    index = 0
    while index < len(xs):
        y = y * xs[index]
        index = index + 1
    return y


def my_list_for(xs):
    y = 1
    for x in xs:
        y = y * x
    return y


def my_nested_closure(x):
    a = x * x

    def f():
        b = x + 5

        def g():
            return a + b

        def h():
            return a * b
        return g if x < 0 else h
    return f()()


def my_functions_in_tuples(x, y):
    import operator
    tup = operator.add, operator.mul
    f, g = tup
    return f(x, y) + g(x, y)


def my_closures_in_tuples(x, y):
    def f():
        return x * y

    def g():
        return x + y

    tup = f, g
    ff, gg = tup
    return ff() + gg()


def my_array_div(xs, ys):
    return np.sum(xs / ys)


def my_distribute(x, y):
    xs = np.broadcast_to(np.asarray(x), (4, 3))
    ys = np.broadcast_to(np.asarray(y), (4, 3))
    return np.sum(xs / ys)


def my_reshape_div(xs, ys):
    return np.sum(np.reshape(xs, (6,)) / np.reshape(ys, (6,)))


def my_transpose_dot(x, y):
    return np.sum(np.dot(np.transpose(x, (1, 0)), np.transpose(y, (1, 0))))




# --- generated by the red team's script: the way a user writes the gradient function, one per
# corpus function, in this file (helpers of the same file are read in place) ---------------------

def rev_ident(x0):
    out = ident(x0)
    y = np.sum(out)
    return out, dlgradient(y, x0)


def rev2_ident(x0):
    out = ident(x0)
    y = np.sum(out)
    g0 = dlgradient(y, x0)
    z = np.sum(np.sin(g0))
    return z, dlgradient(z, x0)


def rev3_ident(x0):
    out = ident(x0)
    y = np.sum(out)
    g0 = dlgradient(y, x0)
    z = np.sum(np.sin(g0))
    h0 = dlgradient(z, x0)
    w = np.sum(np.cos(h0))
    return w, dlgradient(w, x0)


def rev_neg(x0):
    out = neg(x0)
    y = np.sum(out)
    return out, dlgradient(y, x0)


def rev2_neg(x0):
    out = neg(x0)
    y = np.sum(out)
    g0 = dlgradient(y, x0)
    z = np.sum(np.sin(g0))
    return z, dlgradient(z, x0)


def rev3_neg(x0):
    out = neg(x0)
    y = np.sum(out)
    g0 = dlgradient(y, x0)
    z = np.sum(np.sin(g0))
    h0 = dlgradient(z, x0)
    w = np.sum(np.cos(h0))
    return w, dlgradient(w, x0)


def rev_hyp_tan(x0):
    out = hyp_tan(x0)
    y = np.sum(out)
    return out, dlgradient(y, x0)


def rev2_hyp_tan(x0):
    out = hyp_tan(x0)
    y = np.sum(out)
    g0 = dlgradient(y, x0)
    z = np.sum(np.sin(g0))
    return z, dlgradient(z, x0)


def rev3_hyp_tan(x0):
    out = hyp_tan(x0)
    y = np.sum(out)
    g0 = dlgradient(y, x0)
    z = np.sum(np.sin(g0))
    h0 = dlgradient(z, x0)
    w = np.sum(np.cos(h0))
    return w, dlgradient(w, x0)


def rev_copy_name(x0):
    out = copy_name(x0)
    y = np.sum(out)
    return out, dlgradient(y, x0)


def rev2_copy_name(x0):
    out = copy_name(x0)
    y = np.sum(out)
    g0 = dlgradient(y, x0)
    z = np.sum(np.sin(g0))
    return z, dlgradient(z, x0)


def rev3_copy_name(x0):
    out = copy_name(x0)
    y = np.sum(out)
    g0 = dlgradient(y, x0)
    z = np.sum(np.sin(g0))
    h0 = dlgradient(z, x0)
    w = np.sum(np.cos(h0))
    return w, dlgradient(w, x0)


def rev_plus_one(x0):
    out = plus_one(x0)
    y = np.sum(out)
    return out, dlgradient(y, x0)


def rev2_plus_one(x0):
    out = plus_one(x0)
    y = np.sum(out)
    g0 = dlgradient(y, x0)
    z = np.sum(np.sin(g0))
    return z, dlgradient(z, x0)


def rev3_plus_one(x0):
    out = plus_one(x0)
    y = np.sum(out)
    g0 = dlgradient(y, x0)
    z = np.sum(np.sin(g0))
    h0 = dlgradient(z, x0)
    w = np.sum(np.cos(h0))
    return w, dlgradient(w, x0)


def rev_named_like_grad(x0):
    out = named_like_grad(x0)
    y = np.sum(out)
    return out, dlgradient(y, x0)


def rev2_named_like_grad(x0):
    out = named_like_grad(x0)
    y = np.sum(out)
    g0 = dlgradient(y, x0)
    z = np.sum(np.sin(g0))
    return z, dlgradient(z, x0)


def rev3_named_like_grad(x0):
    out = named_like_grad(x0)
    y = np.sum(out)
    g0 = dlgradient(y, x0)
    z = np.sum(np.sin(g0))
    h0 = dlgradient(z, x0)
    w = np.sum(np.cos(h0))
    return w, dlgradient(w, x0)


def rev_mul_c_right(x0):
    out = mul_c_right(x0)
    y = np.sum(out)
    return out, dlgradient(y, x0)


def rev2_mul_c_right(x0):
    out = mul_c_right(x0)
    y = np.sum(out)
    g0 = dlgradient(y, x0)
    z = np.sum(np.sin(g0))
    return z, dlgradient(z, x0)


def rev3_mul_c_right(x0):
    out = mul_c_right(x0)
    y = np.sum(out)
    g0 = dlgradient(y, x0)
    z = np.sum(np.sin(g0))
    h0 = dlgradient(z, x0)
    w = np.sum(np.cos(h0))
    return w, dlgradient(w, x0)


def rev_mul_c_left(x0):
    out = mul_c_left(x0)
    y = np.sum(out)
    return out, dlgradient(y, x0)


def rev2_mul_c_left(x0):
    out = mul_c_left(x0)
    y = np.sum(out)
    g0 = dlgradient(y, x0)
    z = np.sum(np.sin(g0))
    return z, dlgradient(z, x0)


def rev3_mul_c_left(x0):
    out = mul_c_left(x0)
    y = np.sum(out)
    g0 = dlgradient(y, x0)
    z = np.sum(np.sin(g0))
    h0 = dlgradient(z, x0)
    w = np.sum(np.cos(h0))
    return w, dlgradient(w, x0)


def rev_mul_self(x0):
    out = mul_self(x0)
    y = np.sum(out)
    return out, dlgradient(y, x0)


def rev2_mul_self(x0):
    out = mul_self(x0)
    y = np.sum(out)
    g0 = dlgradient(y, x0)
    z = np.sum(np.sin(g0))
    return z, dlgradient(z, x0)


def rev3_mul_self(x0):
    out = mul_self(x0)
    y = np.sum(out)
    g0 = dlgradient(y, x0)
    z = np.sum(np.sin(g0))
    h0 = dlgradient(z, x0)
    w = np.sum(np.cos(h0))
    return w, dlgradient(w, x0)


def rev_div_c_right(x0):
    out = div_c_right(x0)
    y = np.sum(out)
    return out, dlgradient(y, x0)


def rev2_div_c_right(x0):
    out = div_c_right(x0)
    y = np.sum(out)
    g0 = dlgradient(y, x0)
    z = np.sum(np.sin(g0))
    return z, dlgradient(z, x0)


def rev3_div_c_right(x0):
    out = div_c_right(x0)
    y = np.sum(out)
    g0 = dlgradient(y, x0)
    z = np.sum(np.sin(g0))
    h0 = dlgradient(z, x0)
    w = np.sum(np.cos(h0))
    return w, dlgradient(w, x0)


def rev_div_c_left(x0):
    out = div_c_left(x0)
    y = np.sum(out)
    return out, dlgradient(y, x0)


def rev2_div_c_left(x0):
    out = div_c_left(x0)
    y = np.sum(out)
    g0 = dlgradient(y, x0)
    z = np.sum(np.sin(g0))
    return z, dlgradient(z, x0)


def rev3_div_c_left(x0):
    out = div_c_left(x0)
    y = np.sum(out)
    g0 = dlgradient(y, x0)
    z = np.sum(np.sin(g0))
    h0 = dlgradient(z, x0)
    w = np.sum(np.cos(h0))
    return w, dlgradient(w, x0)


def rev_div_self(x0):
    out = div_self(x0)
    y = np.sum(out)
    return out, dlgradient(y, x0)


def rev2_div_self(x0):
    out = div_self(x0)
    y = np.sum(out)
    g0 = dlgradient(y, x0)
    z = np.sum(np.sin(g0))
    return z, dlgradient(z, x0)


def rev3_div_self(x0):
    out = div_self(x0)
    y = np.sum(out)
    g0 = dlgradient(y, x0)
    z = np.sum(np.sin(g0))
    h0 = dlgradient(z, x0)
    w = np.sum(np.cos(h0))
    return w, dlgradient(w, x0)


def rev_sub_c_right(x0):
    out = sub_c_right(x0)
    y = np.sum(out)
    return out, dlgradient(y, x0)


def rev2_sub_c_right(x0):
    out = sub_c_right(x0)
    y = np.sum(out)
    g0 = dlgradient(y, x0)
    z = np.sum(np.sin(g0))
    return z, dlgradient(z, x0)


def rev3_sub_c_right(x0):
    out = sub_c_right(x0)
    y = np.sum(out)
    g0 = dlgradient(y, x0)
    z = np.sum(np.sin(g0))
    h0 = dlgradient(z, x0)
    w = np.sum(np.cos(h0))
    return w, dlgradient(w, x0)


def rev_sub_c_left(x0):
    out = sub_c_left(x0)
    y = np.sum(out)
    return out, dlgradient(y, x0)


def rev2_sub_c_left(x0):
    out = sub_c_left(x0)
    y = np.sum(out)
    g0 = dlgradient(y, x0)
    z = np.sum(np.sin(g0))
    return z, dlgradient(z, x0)


def rev3_sub_c_left(x0):
    out = sub_c_left(x0)
    y = np.sum(out)
    g0 = dlgradient(y, x0)
    z = np.sum(np.sin(g0))
    h0 = dlgradient(z, x0)
    w = np.sum(np.cos(h0))
    return w, dlgradient(w, x0)


def rev_sub_self(x0):
    out = sub_self(x0)
    y = np.sum(out)
    return out, dlgradient(y, x0)


def rev2_sub_self(x0):
    out = sub_self(x0)
    y = np.sum(out)
    g0 = dlgradient(y, x0)
    z = np.sum(np.sin(g0))
    return z, dlgradient(z, x0)


def rev3_sub_self(x0):
    out = sub_self(x0)
    y = np.sum(out)
    g0 = dlgradient(y, x0)
    z = np.sum(np.sin(g0))
    h0 = dlgradient(z, x0)
    w = np.sum(np.cos(h0))
    return w, dlgradient(w, x0)


def rev_add_c_right(x0):
    out = add_c_right(x0)
    y = np.sum(out)
    return out, dlgradient(y, x0)


def rev2_add_c_right(x0):
    out = add_c_right(x0)
    y = np.sum(out)
    g0 = dlgradient(y, x0)
    z = np.sum(np.sin(g0))
    return z, dlgradient(z, x0)


def rev3_add_c_right(x0):
    out = add_c_right(x0)
    y = np.sum(out)
    g0 = dlgradient(y, x0)
    z = np.sum(np.sin(g0))
    h0 = dlgradient(z, x0)
    w = np.sum(np.cos(h0))
    return w, dlgradient(w, x0)


def rev_add_c_left(x0):
    out = add_c_left(x0)
    y = np.sum(out)
    return out, dlgradient(y, x0)


def rev2_add_c_left(x0):
    out = add_c_left(x0)
    y = np.sum(out)
    g0 = dlgradient(y, x0)
    z = np.sum(np.sin(g0))
    return z, dlgradient(z, x0)


def rev3_add_c_left(x0):
    out = add_c_left(x0)
    y = np.sum(out)
    g0 = dlgradient(y, x0)
    z = np.sum(np.sin(g0))
    h0 = dlgradient(z, x0)
    w = np.sum(np.cos(h0))
    return w, dlgradient(w, x0)


def rev_add_self(x0):
    out = add_self(x0)
    y = np.sum(out)
    return out, dlgradient(y, x0)


def rev2_add_self(x0):
    out = add_self(x0)
    y = np.sum(out)
    g0 = dlgradient(y, x0)
    z = np.sum(np.sin(g0))
    return z, dlgradient(z, x0)


def rev3_add_self(x0):
    out = add_self(x0)
    y = np.sum(out)
    g0 = dlgradient(y, x0)
    z = np.sum(np.sin(g0))
    h0 = dlgradient(z, x0)
    w = np.sum(np.cos(h0))
    return w, dlgradient(w, x0)


def rev_np_multiply_c(x0):
    out = np_multiply_c(x0)
    y = np.sum(out)
    return out, dlgradient(y, x0)


def rev2_np_multiply_c(x0):
    out = np_multiply_c(x0)
    y = np.sum(out)
    g0 = dlgradient(y, x0)
    z = np.sum(np.sin(g0))
    return z, dlgradient(z, x0)


def rev3_np_multiply_c(x0):
    out = np_multiply_c(x0)
    y = np.sum(out)
    g0 = dlgradient(y, x0)
    z = np.sum(np.sin(g0))
    h0 = dlgradient(z, x0)
    w = np.sum(np.cos(h0))
    return w, dlgradient(w, x0)


def rev_pair_out(x0):
    out = pair_out(x0)
    y = np.sum(out[0]) + np.sum(out[1])
    return out, dlgradient(y, x0)


def rev2_pair_out(x0):
    out = pair_out(x0)
    y = np.sum(out[0]) + np.sum(out[1])
    g0 = dlgradient(y, x0)
    z = np.sum(np.sin(g0))
    return z, dlgradient(z, x0)


def rev3_pair_out(x0):
    out = pair_out(x0)
    y = np.sum(out[0]) + np.sum(out[1])
    g0 = dlgradient(y, x0)
    z = np.sum(np.sin(g0))
    h0 = dlgradient(z, x0)
    w = np.sum(np.cos(h0))
    return w, dlgradient(w, x0)


def rev_rebind_arg(x0):
    out = rebind_arg(x0)
    y = np.sum(out)
    return out, dlgradient(y, x0)


def rev2_rebind_arg(x0):
    out = rebind_arg(x0)
    y = np.sum(out)
    g0 = dlgradient(y, x0)
    z = np.sum(np.sin(g0))
    return z, dlgradient(z, x0)


def rev3_rebind_arg(x0):
    out = rebind_arg(x0)
    y = np.sum(out)
    g0 = dlgradient(y, x0)
    z = np.sum(np.sin(g0))
    h0 = dlgradient(z, x0)
    w = np.sum(np.cos(h0))
    return w, dlgradient(w, x0)


def rev_rebind_copy(x0):
    out = rebind_copy(x0)
    y = np.sum(out)
    return out, dlgradient(y, x0)


def rev2_rebind_copy(x0):
    out = rebind_copy(x0)
    y = np.sum(out)
    g0 = dlgradient(y, x0)
    z = np.sum(np.sin(g0))
    return z, dlgradient(z, x0)


def rev3_rebind_copy(x0):
    out = rebind_copy(x0)
    y = np.sum(out)
    g0 = dlgradient(y, x0)
    z = np.sum(np.sin(g0))
    h0 = dlgradient(z, x0)
    w = np.sum(np.cos(h0))
    return w, dlgradient(w, x0)


def rev_cube_mul(x0):
    out = cube_mul(x0)
    y = np.sum(out)
    return out, dlgradient(y, x0)


def rev2_cube_mul(x0):
    out = cube_mul(x0)
    y = np.sum(out)
    g0 = dlgradient(y, x0)
    z = np.sum(np.sin(g0))
    return z, dlgradient(z, x0)


def rev3_cube_mul(x0):
    out = cube_mul(x0)
    y = np.sum(out)
    g0 = dlgradient(y, x0)
    z = np.sum(np.sin(g0))
    h0 = dlgradient(z, x0)
    w = np.sum(np.cos(h0))
    return w, dlgradient(w, x0)


def rev_cube_pow(x0):
    out = cube_pow(x0)
    y = np.sum(out)
    return out, dlgradient(y, x0)


def rev2_cube_pow(x0):
    out = cube_pow(x0)
    y = np.sum(out)
    g0 = dlgradient(y, x0)
    z = np.sum(np.sin(g0))
    return z, dlgradient(z, x0)


def rev3_cube_pow(x0):
    out = cube_pow(x0)
    y = np.sum(out)
    g0 = dlgradient(y, x0)
    z = np.sum(np.sin(g0))
    h0 = dlgradient(z, x0)
    w = np.sum(np.cos(h0))
    return w, dlgradient(w, x0)


def rev_cube_loop_from_one(x0):
    out = cube_loop_from_one(x0)
    y = np.sum(out)
    return out, dlgradient(y, x0)


def rev2_cube_loop_from_one(x0):
    out = cube_loop_from_one(x0)
    y = np.sum(out)
    g0 = dlgradient(y, x0)
    z = np.sum(np.sin(g0))
    return z, dlgradient(z, x0)


def rev3_cube_loop_from_one(x0):
    out = cube_loop_from_one(x0)
    y = np.sum(out)
    g0 = dlgradient(y, x0)
    z = np.sum(np.sin(g0))
    h0 = dlgradient(z, x0)
    w = np.sum(np.cos(h0))
    return w, dlgradient(w, x0)


def rev_cube_loop_from_a(x0):
    out = cube_loop_from_a(x0)
    y = np.sum(out)
    return out, dlgradient(y, x0)


def rev2_cube_loop_from_a(x0):
    out = cube_loop_from_a(x0)
    y = np.sum(out)
    g0 = dlgradient(y, x0)
    z = np.sum(np.sin(g0))
    return z, dlgradient(z, x0)


def rev3_cube_loop_from_a(x0):
    out = cube_loop_from_a(x0)
    y = np.sum(out)
    g0 = dlgradient(y, x0)
    z = np.sum(np.sin(g0))
    h0 = dlgradient(z, x0)
    w = np.sum(np.cos(h0))
    return w, dlgradient(w, x0)


def rev_square_three_times(x0):
    out = square_three_times(x0)
    y = np.sum(out)
    return out, dlgradient(y, x0)


def rev2_square_three_times(x0):
    out = square_three_times(x0)
    y = np.sum(out)
    g0 = dlgradient(y, x0)
    z = np.sum(np.sin(g0))
    return z, dlgradient(z, x0)


def rev3_square_three_times(x0):
    out = square_three_times(x0)
    y = np.sum(out)
    g0 = dlgradient(y, x0)
    z = np.sum(np.sin(g0))
    h0 = dlgradient(z, x0)
    w = np.sum(np.cos(h0))
    return w, dlgradient(w, x0)


def rev_double_loop(x0):
    out = double_loop(x0)
    y = np.sum(out)
    return out, dlgradient(y, x0)


def rev2_double_loop(x0):
    out = double_loop(x0)
    y = np.sum(out)
    g0 = dlgradient(y, x0)
    z = np.sum(np.sin(g0))
    return z, dlgradient(z, x0)


def rev3_double_loop(x0):
    out = double_loop(x0)
    y = np.sum(out)
    g0 = dlgradient(y, x0)
    z = np.sum(np.sin(g0))
    h0 = dlgradient(z, x0)
    w = np.sum(np.cos(h0))
    return w, dlgradient(w, x0)


def rev_cube_three_times(x0):
    out = cube_three_times(x0)
    y = np.sum(out)
    return out, dlgradient(y, x0)


def rev2_cube_three_times(x0):
    out = cube_three_times(x0)
    y = np.sum(out)
    g0 = dlgradient(y, x0)
    z = np.sum(np.sin(g0))
    return z, dlgradient(z, x0)


def rev3_cube_three_times(x0):
    out = cube_three_times(x0)
    y = np.sum(out)
    g0 = dlgradient(y, x0)
    z = np.sum(np.sin(g0))
    h0 = dlgradient(z, x0)
    w = np.sum(np.cos(h0))
    return w, dlgradient(w, x0)


def rev_np_exp(x0):
    out = np_exp(x0)
    y = np.sum(out)
    return out, dlgradient(y, x0)


def rev2_np_exp(x0):
    out = np_exp(x0)
    y = np.sum(out)
    g0 = dlgradient(y, x0)
    z = np.sum(np.sin(g0))
    return z, dlgradient(z, x0)


def rev3_np_exp(x0):
    out = np_exp(x0)
    y = np.sum(out)
    g0 = dlgradient(y, x0)
    z = np.sum(np.sin(g0))
    h0 = dlgradient(z, x0)
    w = np.sum(np.cos(h0))
    return w, dlgradient(w, x0)


def rev_np_exp_exp(x0):
    out = np_exp_exp(x0)
    y = np.sum(out)
    return out, dlgradient(y, x0)


def rev2_np_exp_exp(x0):
    out = np_exp_exp(x0)
    y = np.sum(out)
    g0 = dlgradient(y, x0)
    z = np.sum(np.sin(g0))
    return z, dlgradient(z, x0)


def rev3_np_exp_exp(x0):
    out = np_exp_exp(x0)
    y = np.sum(out)
    g0 = dlgradient(y, x0)
    z = np.sum(np.sin(g0))
    h0 = dlgradient(z, x0)
    w = np.sum(np.cos(h0))
    return w, dlgradient(w, x0)


def rev_aug_square(x0):
    out = aug_square(x0)
    y = np.sum(out)
    return out, dlgradient(y, x0)


def rev2_aug_square(x0):
    out = aug_square(x0)
    y = np.sum(out)
    g0 = dlgradient(y, x0)
    z = np.sum(np.sin(g0))
    return z, dlgradient(z, x0)


def rev3_aug_square(x0):
    out = aug_square(x0)
    y = np.sum(out)
    g0 = dlgradient(y, x0)
    z = np.sum(np.sin(g0))
    h0 = dlgradient(z, x0)
    w = np.sum(np.cos(h0))
    return w, dlgradient(w, x0)


def rev_stack_like(x0):
    out = stack_like(x0)
    y = np.sum(out)
    return out, dlgradient(y, x0)


def rev2_stack_like(x0):
    out = stack_like(x0)
    y = np.sum(out)
    g0 = dlgradient(y, x0)
    z = np.sum(np.sin(g0))
    return z, dlgradient(z, x0)


def rev3_stack_like(x0):
    out = stack_like(x0)
    y = np.sum(out)
    g0 = dlgradient(y, x0)
    z = np.sum(np.sin(g0))
    h0 = dlgradient(z, x0)
    w = np.sum(np.cos(h0))
    return w, dlgradient(w, x0)


def rev_square_square(x0):
    out = square_square(x0)
    y = np.sum(out)
    return out, dlgradient(y, x0)


def rev2_square_square(x0):
    out = square_square(x0)
    y = np.sum(out)
    g0 = dlgradient(y, x0)
    z = np.sum(np.sin(g0))
    return z, dlgradient(z, x0)


def rev3_square_square(x0):
    out = square_square(x0)
    y = np.sum(out)
    g0 = dlgradient(y, x0)
    z = np.sum(np.sin(g0))
    h0 = dlgradient(z, x0)
    w = np.sum(np.cos(h0))
    return w, dlgradient(w, x0)


def rev_chain_mults(x0):
    out = chain_mults(x0)
    y = np.sum(out)
    return out, dlgradient(y, x0)


def rev2_chain_mults(x0):
    out = chain_mults(x0)
    y = np.sum(out)
    g0 = dlgradient(y, x0)
    z = np.sum(np.sin(g0))
    return z, dlgradient(z, x0)


def rev3_chain_mults(x0):
    out = chain_mults(x0)
    y = np.sum(out)
    g0 = dlgradient(y, x0)
    z = np.sum(np.sin(g0))
    h0 = dlgradient(z, x0)
    w = np.sum(np.cos(h0))
    return w, dlgradient(w, x0)


def rev_chain_mul_calls(x0):
    out = chain_mul_calls(x0)
    y = np.sum(out)
    return out, dlgradient(y, x0)


def rev2_chain_mul_calls(x0):
    out = chain_mul_calls(x0)
    y = np.sum(out)
    g0 = dlgradient(y, x0)
    z = np.sum(np.sin(g0))
    return z, dlgradient(z, x0)


def rev3_chain_mul_calls(x0):
    out = chain_mul_calls(x0)
    y = np.sum(out)
    g0 = dlgradient(y, x0)
    z = np.sum(np.sin(g0))
    h0 = dlgradient(z, x0)
    w = np.sum(np.cos(h0))
    return w, dlgradient(w, x0)


def rev_unused_stack(x0):
    out = unused_stack(x0)
    y = np.sum(out)
    return out, dlgradient(y, x0)


def rev2_unused_stack(x0):
    out = unused_stack(x0)
    y = np.sum(out)
    g0 = dlgradient(y, x0)
    z = np.sum(np.sin(g0))
    return z, dlgradient(z, x0)


def rev3_unused_stack(x0):
    out = unused_stack(x0)
    y = np.sum(out)
    g0 = dlgradient(y, x0)
    z = np.sum(np.sin(g0))
    h0 = dlgradient(z, x0)
    w = np.sum(np.cos(h0))
    return w, dlgradient(w, x0)


def rev_rebind_to_list(x0):
    out = rebind_to_list(x0)
    y = np.sum(out)
    return out, dlgradient(y, x0)


def rev2_rebind_to_list(x0):
    out = rebind_to_list(x0)
    y = np.sum(out)
    g0 = dlgradient(y, x0)
    z = np.sum(np.sin(g0))
    return z, dlgradient(z, x0)


def rev3_rebind_to_list(x0):
    out = rebind_to_list(x0)
    y = np.sum(out)
    g0 = dlgradient(y, x0)
    z = np.sum(np.sin(g0))
    h0 = dlgradient(z, x0)
    w = np.sum(np.cos(h0))
    return w, dlgradient(w, x0)


def rev_aug_inplace_self(x0):
    out = aug_inplace_self(x0)
    y = np.sum(out)
    return out, dlgradient(y, x0)


def rev2_aug_inplace_self(x0):
    out = aug_inplace_self(x0)
    y = np.sum(out)
    g0 = dlgradient(y, x0)
    z = np.sum(np.sin(g0))
    return z, dlgradient(z, x0)


def rev3_aug_inplace_self(x0):
    out = aug_inplace_self(x0)
    y = np.sum(out)
    g0 = dlgradient(y, x0)
    z = np.sum(np.sin(g0))
    h0 = dlgradient(z, x0)
    w = np.sum(np.cos(h0))
    return w, dlgradient(w, x0)


def rev_aug_chain(x0):
    out = aug_chain(x0)
    y = np.sum(out)
    return out, dlgradient(y, x0)


def rev2_aug_chain(x0):
    out = aug_chain(x0)
    y = np.sum(out)
    g0 = dlgradient(y, x0)
    z = np.sum(np.sin(g0))
    return z, dlgradient(z, x0)


def rev3_aug_chain(x0):
    out = aug_chain(x0)
    y = np.sum(out)
    g0 = dlgradient(y, x0)
    z = np.sum(np.sin(g0))
    h0 = dlgradient(z, x0)
    w = np.sum(np.cos(h0))
    return w, dlgradient(w, x0)


def rev_while_counter(x0):
    out = while_counter(x0)
    y = np.sum(out)
    return out, dlgradient(y, x0)


def rev2_while_counter(x0):
    out = while_counter(x0)
    y = np.sum(out)
    g0 = dlgradient(y, x0)
    z = np.sum(np.sin(g0))
    return z, dlgradient(z, x0)


def rev3_while_counter(x0):
    out = while_counter(x0)
    y = np.sum(out)
    g0 = dlgradient(y, x0)
    z = np.sum(np.sin(g0))
    h0 = dlgradient(z, x0)
    w = np.sum(np.cos(h0))
    return w, dlgradient(w, x0)


def rev_while_break(x0):
    out = while_break(x0)
    y = np.sum(out)
    return out, dlgradient(y, x0)


def rev2_while_break(x0):
    out = while_break(x0)
    y = np.sum(out)
    g0 = dlgradient(y, x0)
    z = np.sum(np.sin(g0))
    return z, dlgradient(z, x0)


def rev3_while_break(x0):
    out = while_break(x0)
    y = np.sum(out)
    g0 = dlgradient(y, x0)
    z = np.sum(np.sin(g0))
    h0 = dlgradient(z, x0)
    w = np.sum(np.cos(h0))
    return w, dlgradient(w, x0)


def rev_lambda_inline(x0):
    out = lambda_inline(x0)
    y = np.sum(out)
    return out, dlgradient(y, x0)


def rev2_lambda_inline(x0):
    out = lambda_inline(x0)
    y = np.sum(out)
    g0 = dlgradient(y, x0)
    z = np.sum(np.sin(g0))
    return z, dlgradient(z, x0)


def rev3_lambda_inline(x0):
    out = lambda_inline(x0)
    y = np.sum(out)
    g0 = dlgradient(y, x0)
    z = np.sum(np.sin(g0))
    h0 = dlgradient(z, x0)
    w = np.sum(np.cos(h0))
    return w, dlgradient(w, x0)


def rev_call_default(x0):
    out = call_default(x0)
    y = np.sum(out)
    return out, dlgradient(y, x0)


def rev2_call_default(x0):
    out = call_default(x0)
    y = np.sum(out)
    g0 = dlgradient(y, x0)
    z = np.sum(np.sin(g0))
    return z, dlgradient(z, x0)


def rev3_call_default(x0):
    out = call_default(x0)
    y = np.sum(out)
    g0 = dlgradient(y, x0)
    z = np.sum(np.sin(g0))
    h0 = dlgradient(z, x0)
    w = np.sum(np.cos(h0))
    return w, dlgradient(w, x0)


def rev_int_power(x0):
    out = int_power(x0)
    y = np.sum(out)
    return out, dlgradient(y, x0)


def rev2_int_power(x0):
    out = int_power(x0)
    y = np.sum(out)
    g0 = dlgradient(y, x0)
    z = np.sum(np.sin(g0))
    return z, dlgradient(z, x0)


def rev3_int_power(x0):
    out = int_power(x0)
    y = np.sum(out)
    g0 = dlgradient(y, x0)
    z = np.sum(np.sin(g0))
    h0 = dlgradient(z, x0)
    w = np.sum(np.cos(h0))
    return w, dlgradient(w, x0)


def rev_nested_closure(x0):
    out = nested_closure(x0)
    y = np.sum(out)
    return out, dlgradient(y, x0)


def rev2_nested_closure(x0):
    out = nested_closure(x0)
    y = np.sum(out)
    g0 = dlgradient(y, x0)
    z = np.sum(np.sin(g0))
    return z, dlgradient(z, x0)


def rev3_nested_closure(x0):
    out = nested_closure(x0)
    y = np.sum(out)
    g0 = dlgradient(y, x0)
    z = np.sum(np.sin(g0))
    h0 = dlgradient(z, x0)
    w = np.sum(np.cos(h0))
    return w, dlgradient(w, x0)


def rev_horner(x0):
    out = horner(x0)
    y = np.sum(out)
    return out, dlgradient(y, x0)


def rev2_horner(x0):
    out = horner(x0)
    y = np.sum(out)
    g0 = dlgradient(y, x0)
    z = np.sum(np.sin(g0))
    return z, dlgradient(z, x0)


def rev3_horner(x0):
    out = horner(x0)
    y = np.sum(out)
    g0 = dlgradient(y, x0)
    z = np.sum(np.sin(g0))
    h0 = dlgradient(z, x0)
    w = np.sum(np.cos(h0))
    return w, dlgradient(w, x0)


def rev_kwargs_call(x0):
    out = kwargs_call(x0)
    y = np.sum(out)
    return out, dlgradient(y, x0)


def rev2_kwargs_call(x0):
    out = kwargs_call(x0)
    y = np.sum(out)
    g0 = dlgradient(y, x0)
    z = np.sum(np.sin(g0))
    return z, dlgradient(z, x0)


def rev3_kwargs_call(x0):
    out = kwargs_call(x0)
    y = np.sum(out)
    g0 = dlgradient(y, x0)
    z = np.sum(np.sin(g0))
    h0 = dlgradient(z, x0)
    w = np.sum(np.cos(h0))
    return w, dlgradient(w, x0)


def rev_int_mod_loop(x0):
    out = int_mod_loop(x0)
    y = np.sum(out)
    return out, dlgradient(y, x0)


def rev2_int_mod_loop(x0):
    out = int_mod_loop(x0)
    y = np.sum(out)
    g0 = dlgradient(y, x0)
    z = np.sum(np.sin(g0))
    return z, dlgradient(z, x0)


def rev3_int_mod_loop(x0):
    out = int_mod_loop(x0)
    y = np.sum(out)
    g0 = dlgradient(y, x0)
    z = np.sum(np.sin(g0))
    h0 = dlgradient(z, x0)
    w = np.sum(np.cos(h0))
    return w, dlgradient(w, x0)


def rev_global_const_use(x0):
    out = global_const_use(x0)
    y = np.sum(out)
    return out, dlgradient(y, x0)


def rev2_global_const_use(x0):
    out = global_const_use(x0)
    y = np.sum(out)
    g0 = dlgradient(y, x0)
    z = np.sum(np.sin(g0))
    return z, dlgradient(z, x0)


def rev3_global_const_use(x0):
    out = global_const_use(x0)
    y = np.sum(out)
    g0 = dlgradient(y, x0)
    z = np.sum(np.sin(g0))
    h0 = dlgradient(z, x0)
    w = np.sum(np.cos(h0))
    return w, dlgradient(w, x0)


def rev_myia_closure_grad(x0):
    out = myia_closure_grad(x0)
    y = np.sum(out)
    return out, dlgradient(y, x0)


def rev2_myia_closure_grad(x0):
    out = myia_closure_grad(x0)
    y = np.sum(out)
    g0 = dlgradient(y, x0)
    z = np.sum(np.sin(g0))
    return z, dlgradient(z, x0)


def rev3_myia_closure_grad(x0):
    out = myia_closure_grad(x0)
    y = np.sum(out)
    g0 = dlgradient(y, x0)
    z = np.sum(np.sin(g0))
    h0 = dlgradient(z, x0)
    w = np.sum(np.cos(h0))
    return w, dlgradient(w, x0)


def rev_tuple_return_loop(x0):
    out = tuple_return_loop(x0)
    y = np.sum(out[0]) + np.sum(out[1])
    return out, dlgradient(y, x0)


def rev2_tuple_return_loop(x0):
    out = tuple_return_loop(x0)
    y = np.sum(out[0]) + np.sum(out[1])
    g0 = dlgradient(y, x0)
    z = np.sum(np.sin(g0))
    return z, dlgradient(z, x0)


def rev3_tuple_return_loop(x0):
    out = tuple_return_loop(x0)
    y = np.sum(out[0]) + np.sum(out[1])
    g0 = dlgradient(y, x0)
    z = np.sum(np.sin(g0))
    h0 = dlgradient(z, x0)
    w = np.sum(np.cos(h0))
    return w, dlgradient(w, x0)


def rev_list_literal_sum(x0):
    out = list_literal_sum(x0)
    y = np.sum(out)
    return out, dlgradient(y, x0)


def rev2_list_literal_sum(x0):
    out = list_literal_sum(x0)
    y = np.sum(out)
    g0 = dlgradient(y, x0)
    z = np.sum(np.sin(g0))
    return z, dlgradient(z, x0)


def rev3_list_literal_sum(x0):
    out = list_literal_sum(x0)
    y = np.sum(out)
    g0 = dlgradient(y, x0)
    z = np.sum(np.sin(g0))
    h0 = dlgradient(z, x0)
    w = np.sum(np.cos(h0))
    return w, dlgradient(w, x0)


def rev_list_then_index(x0):
    out = list_then_index(x0)
    y = np.sum(out)
    return out, dlgradient(y, x0)


def rev2_list_then_index(x0):
    out = list_then_index(x0)
    y = np.sum(out)
    g0 = dlgradient(y, x0)
    z = np.sum(np.sin(g0))
    return z, dlgradient(z, x0)


def rev3_list_then_index(x0):
    out = list_then_index(x0)
    y = np.sum(out)
    g0 = dlgradient(y, x0)
    z = np.sum(np.sin(g0))
    h0 = dlgradient(z, x0)
    w = np.sum(np.cos(h0))
    return w, dlgradient(w, x0)


def rev_list_item_overwrite(x0):
    out = list_item_overwrite(x0)
    y = np.sum(out)
    return out, dlgradient(y, x0)


def rev2_list_item_overwrite(x0):
    out = list_item_overwrite(x0)
    y = np.sum(out)
    g0 = dlgradient(y, x0)
    z = np.sum(np.sin(g0))
    return z, dlgradient(z, x0)


def rev3_list_item_overwrite(x0):
    out = list_item_overwrite(x0)
    y = np.sum(out)
    g0 = dlgradient(y, x0)
    z = np.sum(np.sin(g0))
    h0 = dlgradient(z, x0)
    w = np.sum(np.cos(h0))
    return w, dlgradient(w, x0)


def rev_branch_scale(x0):
    out = branch_scale(x0)
    y = np.sum(out)
    return out, dlgradient(y, x0)


def rev2_branch_scale(x0):
    out = branch_scale(x0)
    y = np.sum(out)
    g0 = dlgradient(y, x0)
    z = np.sum(np.sin(g0))
    return z, dlgradient(z, x0)


def rev3_branch_scale(x0):
    out = branch_scale(x0)
    y = np.sum(out)
    g0 = dlgradient(y, x0)
    z = np.sum(np.sin(g0))
    h0 = dlgradient(z, x0)
    w = np.sum(np.cos(h0))
    return w, dlgradient(w, x0)


def rev_nested_branch(x0):
    out = nested_branch(x0)
    y = np.sum(out)
    return out, dlgradient(y, x0)


def rev2_nested_branch(x0):
    out = nested_branch(x0)
    y = np.sum(out)
    g0 = dlgradient(y, x0)
    z = np.sum(np.sin(g0))
    return z, dlgradient(z, x0)


def rev3_nested_branch(x0):
    out = nested_branch(x0)
    y = np.sum(out)
    g0 = dlgradient(y, x0)
    z = np.sum(np.sin(g0))
    h0 = dlgradient(z, x0)
    w = np.sum(np.cos(h0))
    return w, dlgradient(w, x0)


def rev_many_branches(x0):
    out = many_branches(x0)
    y = np.sum(out)
    return out, dlgradient(y, x0)


def rev2_many_branches(x0):
    out = many_branches(x0)
    y = np.sum(out)
    g0 = dlgradient(y, x0)
    z = np.sum(np.sin(g0))
    return z, dlgradient(z, x0)


def rev3_many_branches(x0):
    out = many_branches(x0)
    y = np.sum(out)
    g0 = dlgradient(y, x0)
    z = np.sum(np.sin(g0))
    h0 = dlgradient(z, x0)
    w = np.sum(np.cos(h0))
    return w, dlgradient(w, x0)


def rev_two_ifs(x0):
    out = two_ifs(x0)
    y = np.sum(out)
    return out, dlgradient(y, x0)


def rev2_two_ifs(x0):
    out = two_ifs(x0)
    y = np.sum(out)
    g0 = dlgradient(y, x0)
    z = np.sum(np.sin(g0))
    return z, dlgradient(z, x0)


def rev3_two_ifs(x0):
    out = two_ifs(x0)
    y = np.sum(out)
    g0 = dlgradient(y, x0)
    z = np.sum(np.sin(g0))
    h0 = dlgradient(z, x0)
    w = np.sum(np.cos(h0))
    return w, dlgradient(w, x0)


def rev_inner_else(x0):
    out = inner_else(x0)
    y = np.sum(out)
    return out, dlgradient(y, x0)


def rev2_inner_else(x0):
    out = inner_else(x0)
    y = np.sum(out)
    g0 = dlgradient(y, x0)
    z = np.sum(np.sin(g0))
    return z, dlgradient(z, x0)


def rev3_inner_else(x0):
    out = inner_else(x0)
    y = np.sum(out)
    g0 = dlgradient(y, x0)
    z = np.sum(np.sin(g0))
    h0 = dlgradient(z, x0)
    w = np.sum(np.cos(h0))
    return w, dlgradient(w, x0)


def rev_elif_chain(x0):
    out = elif_chain(x0)
    y = np.sum(out)
    return out, dlgradient(y, x0)


def rev2_elif_chain(x0):
    out = elif_chain(x0)
    y = np.sum(out)
    g0 = dlgradient(y, x0)
    z = np.sum(np.sin(g0))
    return z, dlgradient(z, x0)


def rev3_elif_chain(x0):
    out = elif_chain(x0)
    y = np.sum(out)
    g0 = dlgradient(y, x0)
    z = np.sum(np.sin(g0))
    h0 = dlgradient(z, x0)
    w = np.sum(np.cos(h0))
    return w, dlgradient(w, x0)


def rev_square_while_small(x0):
    out = square_while_small(x0)
    y = np.sum(out)
    return out, dlgradient(y, x0)


def rev2_square_while_small(x0):
    out = square_while_small(x0)
    y = np.sum(out)
    g0 = dlgradient(y, x0)
    z = np.sum(np.sin(g0))
    return z, dlgradient(z, x0)


def rev3_square_while_small(x0):
    out = square_while_small(x0)
    y = np.sum(out)
    g0 = dlgradient(y, x0)
    z = np.sum(np.sin(g0))
    h0 = dlgradient(z, x0)
    w = np.sum(np.cos(h0))
    return w, dlgradient(w, x0)


def rev_square_if_small(x0):
    out = square_if_small(x0)
    y = np.sum(out)
    return out, dlgradient(y, x0)


def rev2_square_if_small(x0):
    out = square_if_small(x0)
    y = np.sum(out)
    g0 = dlgradient(y, x0)
    z = np.sum(np.sin(g0))
    return z, dlgradient(z, x0)


def rev3_square_if_small(x0):
    out = square_if_small(x0)
    y = np.sum(out)
    g0 = dlgradient(y, x0)
    z = np.sum(np.sin(g0))
    h0 = dlgradient(z, x0)
    w = np.sum(np.cos(h0))
    return w, dlgradient(w, x0)


def rev_halve_while_big(x0):
    out = halve_while_big(x0)
    y = np.sum(out)
    return out, dlgradient(y, x0)


def rev2_halve_while_big(x0):
    out = halve_while_big(x0)
    y = np.sum(out)
    g0 = dlgradient(y, x0)
    z = np.sum(np.sin(g0))
    return z, dlgradient(z, x0)


def rev3_halve_while_big(x0):
    out = halve_while_big(x0)
    y = np.sum(out)
    g0 = dlgradient(y, x0)
    z = np.sum(np.sin(g0))
    h0 = dlgradient(z, x0)
    w = np.sum(np.cos(h0))
    return w, dlgradient(w, x0)


def rev_early_return(x0):
    out = early_return(x0)
    y = np.sum(out)
    return out, dlgradient(y, x0)


def rev2_early_return(x0):
    out = early_return(x0)
    y = np.sum(out)
    g0 = dlgradient(y, x0)
    z = np.sum(np.sin(g0))
    return z, dlgradient(z, x0)


def rev3_early_return(x0):
    out = early_return(x0)
    y = np.sum(out)
    g0 = dlgradient(y, x0)
    z = np.sum(np.sin(g0))
    h0 = dlgradient(z, x0)
    w = np.sum(np.cos(h0))
    return w, dlgradient(w, x0)


def rev_ternary(x0):
    out = ternary(x0)
    y = np.sum(out)
    return out, dlgradient(y, x0)


def rev2_ternary(x0):
    out = ternary(x0)
    y = np.sum(out)
    g0 = dlgradient(y, x0)
    z = np.sum(np.sin(g0))
    return z, dlgradient(z, x0)


def rev3_ternary(x0):
    out = ternary(x0)
    y = np.sum(out)
    g0 = dlgradient(y, x0)
    z = np.sum(np.sin(g0))
    h0 = dlgradient(z, x0)
    w = np.sum(np.cos(h0))
    return w, dlgradient(w, x0)


def rev_abs_branch(x0):
    out = abs_branch(x0)
    y = np.sum(out)
    return out, dlgradient(y, x0)


def rev2_abs_branch(x0):
    out = abs_branch(x0)
    y = np.sum(out)
    g0 = dlgradient(y, x0)
    z = np.sum(np.sin(g0))
    return z, dlgradient(z, x0)


def rev3_abs_branch(x0):
    out = abs_branch(x0)
    y = np.sum(out)
    g0 = dlgradient(y, x0)
    z = np.sum(np.sin(g0))
    h0 = dlgradient(z, x0)
    w = np.sum(np.cos(h0))
    return w, dlgradient(w, x0)


def rev_for_else(x0):
    out = for_else(x0)
    y = np.sum(out)
    return out, dlgradient(y, x0)


def rev2_for_else(x0):
    out = for_else(x0)
    y = np.sum(out)
    g0 = dlgradient(y, x0)
    z = np.sum(np.sin(g0))
    return z, dlgradient(z, x0)


def rev3_for_else(x0):
    out = for_else(x0)
    y = np.sum(out)
    g0 = dlgradient(y, x0)
    z = np.sum(np.sin(g0))
    h0 = dlgradient(z, x0)
    w = np.sum(np.cos(h0))
    return w, dlgradient(w, x0)


def rev_np_sqrt(x0):
    out = np_sqrt(x0)
    y = np.sum(out)
    return out, dlgradient(y, x0)


def rev2_np_sqrt(x0):
    out = np_sqrt(x0)
    y = np.sum(out)
    g0 = dlgradient(y, x0)
    z = np.sum(np.sin(g0))
    return z, dlgradient(z, x0)


def rev3_np_sqrt(x0):
    out = np_sqrt(x0)
    y = np.sum(out)
    g0 = dlgradient(y, x0)
    z = np.sum(np.sin(g0))
    h0 = dlgradient(z, x0)
    w = np.sum(np.cos(h0))
    return w, dlgradient(w, x0)


def rev_newton_sqrt(x0):
    out = newton_sqrt(x0)
    y = np.sum(out)
    return out, dlgradient(y, x0)


def rev2_newton_sqrt(x0):
    out = newton_sqrt(x0)
    y = np.sum(out)
    g0 = dlgradient(y, x0)
    z = np.sum(np.sin(g0))
    return z, dlgradient(z, x0)


def rev3_newton_sqrt(x0):
    out = newton_sqrt(x0)
    y = np.sum(out)
    g0 = dlgradient(y, x0)
    z = np.sum(np.sin(g0))
    h0 = dlgradient(z, x0)
    w = np.sum(np.cos(h0))
    return w, dlgradient(w, x0)


def rev_math_calls(x0):
    out = math_calls(x0)
    y = np.sum(out)
    return out, dlgradient(y, x0)


def rev2_math_calls(x0):
    out = math_calls(x0)
    y = np.sum(out)
    g0 = dlgradient(y, x0)
    z = np.sum(np.sin(g0))
    return z, dlgradient(z, x0)


def rev3_math_calls(x0):
    out = math_calls(x0)
    y = np.sum(out)
    g0 = dlgradient(y, x0)
    z = np.sum(np.sin(g0))
    h0 = dlgradient(z, x0)
    w = np.sum(np.cos(h0))
    return w, dlgradient(w, x0)


def rev_axpy(x0, x1, x2):
    out = axpy(x0, x1, x2)
    y = np.sum(out)
    return out, dlgradient(y, x0, x1, x2)


def rev2_axpy(x0, x1, x2):
    out = axpy(x0, x1, x2)
    y = np.sum(out)
    g0, g1, g2 = dlgradient(y, x0, x1, x2)
    z = np.sum(np.sin(g0)) + np.sum(np.sin(g1)) + np.sum(np.sin(g2))
    return z, dlgradient(z, x0, x1, x2)


def rev_axpy_by_calls(x0, x1, x2):
    out = axpy_by_calls(x0, x1, x2)
    y = np.sum(out)
    return out, dlgradient(y, x0, x1, x2)


def rev2_axpy_by_calls(x0, x1, x2):
    out = axpy_by_calls(x0, x1, x2)
    y = np.sum(out)
    g0, g1, g2 = dlgradient(y, x0, x1, x2)
    z = np.sum(np.sin(g0)) + np.sum(np.sin(g1)) + np.sum(np.sin(g2))
    return z, dlgradient(z, x0, x1, x2)


def rev_axpy_steps(x0, x1, x2):
    out = axpy_steps(x0, x1, x2)
    y = np.sum(out)
    return out, dlgradient(y, x0, x1, x2)


def rev2_axpy_steps(x0, x1, x2):
    out = axpy_steps(x0, x1, x2)
    y = np.sum(out)
    g0, g1, g2 = dlgradient(y, x0, x1, x2)
    z = np.sum(np.sin(g0)) + np.sum(np.sin(g1)) + np.sum(np.sin(g2))
    return z, dlgradient(z, x0, x1, x2)


def rev_axpy_rebind(x0, x1, x2):
    out = axpy_rebind(x0, x1, x2)
    y = np.sum(out)
    return out, dlgradient(y, x0, x1, x2)


def rev2_axpy_rebind(x0, x1, x2):
    out = axpy_rebind(x0, x1, x2)
    y = np.sum(out)
    g0, g1, g2 = dlgradient(y, x0, x1, x2)
    z = np.sum(np.sin(g0)) + np.sum(np.sin(g1)) + np.sum(np.sin(g2))
    return z, dlgradient(z, x0, x1, x2)


def rev_times(x0, x1):
    out = times(x0, x1)
    y = np.sum(out)
    return out, dlgradient(y, x0, x1)


def rev2_times(x0, x1):
    out = times(x0, x1)
    y = np.sum(out)
    g0, g1 = dlgradient(y, x0, x1)
    z = np.sum(np.sin(g0)) + np.sum(np.sin(g1))
    return z, dlgradient(z, x0, x1)


def rev_plus(x0, x1):
    out = plus(x0, x1)
    y = np.sum(out)
    return out, dlgradient(y, x0, x1)


def rev2_plus(x0, x1):
    out = plus(x0, x1)
    y = np.sum(out)
    g0, g1 = dlgradient(y, x0, x1)
    z = np.sum(np.sin(g0)) + np.sum(np.sin(g1))
    return z, dlgradient(z, x0, x1)


def rev_call_helper(x0, x1):
    out = call_helper(x0, x1)
    y = np.sum(out)
    return out, dlgradient(y, x0, x1)


def rev2_call_helper(x0, x1):
    out = call_helper(x0, x1)
    y = np.sum(out)
    g0, g1 = dlgradient(y, x0, x1)
    z = np.sum(np.sin(g0)) + np.sum(np.sin(g1))
    return z, dlgradient(z, x0, x1)


def rev_call_call(x0, x1):
    out = call_call(x0, x1)
    y = np.sum(out)
    return out, dlgradient(y, x0, x1)


def rev2_call_call(x0, x1):
    out = call_call(x0, x1)
    y = np.sum(out)
    g0, g1 = dlgradient(y, x0, x1)
    z = np.sum(np.sin(g0)) + np.sum(np.sin(g1))
    return z, dlgradient(z, x0, x1)


def rev_tuple_swap(x0, x1):
    out = tuple_swap(x0, x1)
    y = np.sum(out)
    return out, dlgradient(y, x0, x1)


def rev2_tuple_swap(x0, x1):
    out = tuple_swap(x0, x1)
    y = np.sum(out)
    g0, g1 = dlgradient(y, x0, x1)
    z = np.sum(np.sin(g0)) + np.sum(np.sin(g1))
    return z, dlgradient(z, x0, x1)


def rev_star_args_call(x0, x1):
    out = star_args_call(x0, x1)
    y = np.sum(out)
    return out, dlgradient(y, x0, x1)


def rev2_star_args_call(x0, x1):
    out = star_args_call(x0, x1)
    y = np.sum(out)
    g0, g1 = dlgradient(y, x0, x1)
    z = np.sum(np.sin(g0)) + np.sum(np.sin(g1))
    return z, dlgradient(z, x0, x1)


def rev_compare_two(x0, x1):
    out = compare_two(x0, x1)
    y = np.sum(out)
    return out, dlgradient(y, x0, x1)


def rev2_compare_two(x0, x1):
    out = compare_two(x0, x1)
    y = np.sum(out)
    g0, g1 = dlgradient(y, x0, x1)
    z = np.sum(np.sin(g0)) + np.sum(np.sin(g1))
    return z, dlgradient(z, x0, x1)


def rev_branch_call(x0, x1):
    out = branch_call(x0, x1)
    y = np.sum(out)
    return out, dlgradient(y, x0, x1)


def rev2_branch_call(x0, x1):
    out = branch_call(x0, x1)
    y = np.sum(out)
    g0, g1 = dlgradient(y, x0, x1)
    z = np.sum(np.sin(g0)) + np.sum(np.sin(g1))
    return z, dlgradient(z, x0, x1)


def rev_max_builtin(x0, x1):
    out = max_builtin(x0, x1)
    y = np.sum(out)
    return out, dlgradient(y, x0, x1)


def rev2_max_builtin(x0, x1):
    out = max_builtin(x0, x1)
    y = np.sum(out)
    g0, g1 = dlgradient(y, x0, x1)
    z = np.sum(np.sin(g0)) + np.sum(np.sin(g1))
    return z, dlgradient(z, x0, x1)


def rev_to_polar(x0, x1):
    out = to_polar(x0, x1)
    y = np.sum(out[0]) + np.sum(out[1])
    return out, dlgradient(y, x0, x1)


def rev2_to_polar(x0, x1):
    out = to_polar(x0, x1)
    y = np.sum(out[0]) + np.sum(out[1])
    g0, g1 = dlgradient(y, x0, x1)
    z = np.sum(np.sin(g0)) + np.sum(np.sin(g1))
    return z, dlgradient(z, x0, x1)


def rev_power_ab(x0, x1):
    out = power_ab(x0, x1)
    y = np.sum(out)
    return out, dlgradient(y, x0, x1)


def rev2_power_ab(x0, x1):
    out = power_ab(x0, x1)
    y = np.sum(out)
    g0, g1 = dlgradient(y, x0, x1)
    z = np.sum(np.sin(g0)) + np.sum(np.sin(g1))
    return z, dlgradient(z, x0, x1)


def rev_two_loops(x0, c0):
    out = two_loops(x0, c0)
    y = np.sum(out)
    return out, dlgradient(y, x0)


def rev2_two_loops(x0, c0):
    out = two_loops(x0, c0)
    y = np.sum(out)
    g0 = dlgradient(y, x0)
    z = np.sum(np.sin(g0))
    return z, dlgradient(z, x0)


def rev3_two_loops(x0, c0):
    out = two_loops(x0, c0)
    y = np.sum(out)
    g0 = dlgradient(y, x0)
    z = np.sum(np.sin(g0))
    h0 = dlgradient(z, x0)
    w = np.sum(np.cos(h0))
    return w, dlgradient(w, x0)


def rev_if_then_loop(x0, c0):
    out = if_then_loop(x0, c0)
    y = np.sum(out)
    return out, dlgradient(y, x0)


def rev2_if_then_loop(x0, c0):
    out = if_then_loop(x0, c0)
    y = np.sum(out)
    g0 = dlgradient(y, x0)
    z = np.sum(np.sin(g0))
    return z, dlgradient(z, x0)


def rev3_if_then_loop(x0, c0):
    out = if_then_loop(x0, c0)
    y = np.sum(out)
    g0 = dlgradient(y, x0)
    z = np.sum(np.sin(g0))
    h0 = dlgradient(z, x0)
    w = np.sum(np.cos(h0))
    return w, dlgradient(w, x0)


def rev_loop_then_if(x0, c0):
    out = loop_then_if(x0, c0)
    y = np.sum(out)
    return out, dlgradient(y, x0)


def rev2_loop_then_if(x0, c0):
    out = loop_then_if(x0, c0)
    y = np.sum(out)
    g0 = dlgradient(y, x0)
    z = np.sum(np.sin(g0))
    return z, dlgradient(z, x0)


def rev3_loop_then_if(x0, c0):
    out = loop_then_if(x0, c0)
    y = np.sum(out)
    g0 = dlgradient(y, x0)
    z = np.sum(np.sin(g0))
    h0 = dlgradient(z, x0)
    w = np.sum(np.cos(h0))
    return w, dlgradient(w, x0)


def rev_square_n_times(x0, c0):
    out = square_n_times(x0, c0)
    y = np.sum(out)
    return out, dlgradient(y, x0)


def rev2_square_n_times(x0, c0):
    out = square_n_times(x0, c0)
    y = np.sum(out)
    g0 = dlgradient(y, x0)
    z = np.sum(np.sin(g0))
    return z, dlgradient(z, x0)


def rev3_square_n_times(x0, c0):
    out = square_n_times(x0, c0)
    y = np.sum(out)
    g0 = dlgradient(y, x0)
    z = np.sum(np.sin(g0))
    h0 = dlgradient(z, x0)
    w = np.sum(np.cos(h0))
    return w, dlgradient(w, x0)


def rev_loop_call(x0, c0):
    out = loop_call(x0, c0)
    y = np.sum(out)
    return out, dlgradient(y, x0)


def rev2_loop_call(x0, c0):
    out = loop_call(x0, c0)
    y = np.sum(out)
    g0 = dlgradient(y, x0)
    z = np.sum(np.sin(g0))
    return z, dlgradient(z, x0)


def rev3_loop_call(x0, c0):
    out = loop_call(x0, c0)
    y = np.sum(out)
    g0 = dlgradient(y, x0)
    z = np.sum(np.sin(g0))
    h0 = dlgradient(z, x0)
    w = np.sum(np.cos(h0))
    return w, dlgradient(w, x0)


def rev_loop_nested_def(x0, c0):
    out = loop_nested_def(x0, c0)
    y = np.sum(out)
    return out, dlgradient(y, x0)


def rev2_loop_nested_def(x0, c0):
    out = loop_nested_def(x0, c0)
    y = np.sum(out)
    g0 = dlgradient(y, x0)
    z = np.sum(np.sin(g0))
    return z, dlgradient(z, x0)


def rev3_loop_nested_def(x0, c0):
    out = loop_nested_def(x0, c0)
    y = np.sum(out)
    g0 = dlgradient(y, x0)
    z = np.sum(np.sin(g0))
    h0 = dlgradient(z, x0)
    w = np.sum(np.cos(h0))
    return w, dlgradient(w, x0)


def rev_fib_loop(x0, c0):
    out = fib_loop(x0, c0)
    y = np.sum(out)
    return out, dlgradient(y, x0)


def rev2_fib_loop(x0, c0):
    out = fib_loop(x0, c0)
    y = np.sum(out)
    g0 = dlgradient(y, x0)
    z = np.sum(np.sin(g0))
    return z, dlgradient(z, x0)


def rev3_fib_loop(x0, c0):
    out = fib_loop(x0, c0)
    y = np.sum(out)
    g0 = dlgradient(y, x0)
    z = np.sum(np.sin(g0))
    h0 = dlgradient(z, x0)
    w = np.sum(np.cos(h0))
    return w, dlgradient(w, x0)


def rev_mutual_even(x0, c0):
    out = mutual_even(x0, c0)
    y = np.sum(out)
    return out, dlgradient(y, x0)


def rev2_mutual_even(x0, c0):
    out = mutual_even(x0, c0)
    y = np.sum(out)
    g0 = dlgradient(y, x0)
    z = np.sum(np.sin(g0))
    return z, dlgradient(z, x0)


def rev3_mutual_even(x0, c0):
    out = mutual_even(x0, c0)
    y = np.sum(out)
    g0 = dlgradient(y, x0)
    z = np.sum(np.sin(g0))
    h0 = dlgradient(z, x0)
    w = np.sum(np.cos(h0))
    return w, dlgradient(w, x0)


def rev_recursive_pow(x0, c0):
    out = recursive_pow(x0, c0)
    y = np.sum(out)
    return out, dlgradient(y, x0)


def rev2_recursive_pow(x0, c0):
    out = recursive_pow(x0, c0)
    y = np.sum(out)
    g0 = dlgradient(y, x0)
    z = np.sum(np.sin(g0))
    return z, dlgradient(z, x0)


def rev3_recursive_pow(x0, c0):
    out = recursive_pow(x0, c0)
    y = np.sum(out)
    g0 = dlgradient(y, x0)
    z = np.sum(np.sin(g0))
    h0 = dlgradient(z, x0)
    w = np.sum(np.cos(h0))
    return w, dlgradient(w, x0)


def rev_factorial_like(x0, c0):
    out = factorial_like(x0, c0)
    y = np.sum(out)
    return out, dlgradient(y, x0)


def rev2_factorial_like(x0, c0):
    out = factorial_like(x0, c0)
    y = np.sum(out)
    g0 = dlgradient(y, x0)
    z = np.sum(np.sin(g0))
    return z, dlgradient(z, x0)


def rev3_factorial_like(x0, c0):
    out = factorial_like(x0, c0)
    y = np.sum(out)
    g0 = dlgradient(y, x0)
    z = np.sum(np.sin(g0))
    h0 = dlgradient(z, x0)
    w = np.sum(np.cos(h0))
    return w, dlgradient(w, x0)


def rev_myia_fact(x0, c0):
    out = myia_fact(x0, c0)
    y = np.sum(out)
    return out, dlgradient(y, x0)


def rev2_myia_fact(x0, c0):
    out = myia_fact(x0, c0)
    y = np.sum(out)
    g0 = dlgradient(y, x0)
    z = np.sum(np.sin(g0))
    return z, dlgradient(z, x0)


def rev3_myia_fact(x0, c0):
    out = myia_fact(x0, c0)
    y = np.sum(out)
    g0 = dlgradient(y, x0)
    z = np.sum(np.sin(g0))
    h0 = dlgradient(z, x0)
    w = np.sum(np.cos(h0))
    return w, dlgradient(w, x0)


def rev_string_dispatch(x0, c0):
    out = string_dispatch(x0, c0)
    y = np.sum(out)
    return out, dlgradient(y, x0)


def rev2_string_dispatch(x0, c0):
    out = string_dispatch(x0, c0)
    y = np.sum(out)
    g0 = dlgradient(y, x0)
    z = np.sum(np.sin(g0))
    return z, dlgradient(z, x0)


def rev3_string_dispatch(x0, c0):
    out = string_dispatch(x0, c0)
    y = np.sum(out)
    g0 = dlgradient(y, x0)
    z = np.sum(np.sin(g0))
    h0 = dlgradient(z, x0)
    w = np.sum(np.cos(h0))
    return w, dlgradient(w, x0)


def rev_total(x0):
    out = total(x0)
    y = np.sum(out)
    return out, dlgradient(y, x0)


def rev2_total(x0):
    out = total(x0)
    y = np.sum(out)
    g0 = dlgradient(y, x0)
    z = np.sum(np.sin(g0))
    return z, dlgradient(z, x0)


def rev3_total(x0):
    out = total(x0)
    y = np.sum(out)
    g0 = dlgradient(y, x0)
    z = np.sum(np.sin(g0))
    h0 = dlgradient(z, x0)
    w = np.sum(np.cos(h0))
    return w, dlgradient(w, x0)


def rev_total_of_array(x0):
    out = total_of_array(x0)
    y = np.sum(out)
    return out, dlgradient(y, x0)


def rev2_total_of_array(x0):
    out = total_of_array(x0)
    y = np.sum(out)
    g0 = dlgradient(y, x0)
    z = np.sum(np.sin(g0))
    return z, dlgradient(z, x0)


def rev3_total_of_array(x0):
    out = total_of_array(x0)
    y = np.sum(out)
    g0 = dlgradient(y, x0)
    z = np.sum(np.sin(g0))
    h0 = dlgradient(z, x0)
    w = np.sum(np.cos(h0))
    return w, dlgradient(w, x0)


def rev_sum_then_square(x0):
    out = sum_then_square(x0)
    y = np.sum(out)
    return out, dlgradient(y, x0)


def rev2_sum_then_square(x0):
    out = sum_then_square(x0)
    y = np.sum(out)
    g0 = dlgradient(y, x0)
    z = np.sum(np.sin(g0))
    return z, dlgradient(z, x0)


def rev3_sum_then_square(x0):
    out = sum_then_square(x0)
    y = np.sum(out)
    g0 = dlgradient(y, x0)
    z = np.sum(np.sin(g0))
    h0 = dlgradient(z, x0)
    w = np.sum(np.cos(h0))
    return w, dlgradient(w, x0)


def rev_np_mean(x0):
    out = np_mean(x0)
    y = np.sum(out)
    return out, dlgradient(y, x0)


def rev2_np_mean(x0):
    out = np_mean(x0)
    y = np.sum(out)
    g0 = dlgradient(y, x0)
    z = np.sum(np.sin(g0))
    return z, dlgradient(z, x0)


def rev3_np_mean(x0):
    out = np_mean(x0)
    y = np.sum(out)
    g0 = dlgradient(y, x0)
    z = np.sum(np.sin(g0))
    h0 = dlgradient(z, x0)
    w = np.sum(np.cos(h0))
    return w, dlgradient(w, x0)


def rev_comp_sum(x0):
    out = comp_sum(x0)
    y = np.sum(out)
    return out, dlgradient(y, x0)


def rev2_comp_sum(x0):
    out = comp_sum(x0)
    y = np.sum(out)
    g0 = dlgradient(y, x0)
    z = np.sum(np.sin(g0))
    return z, dlgradient(z, x0)


def rev3_comp_sum(x0):
    out = comp_sum(x0)
    y = np.sum(out)
    g0 = dlgradient(y, x0)
    z = np.sum(np.sin(g0))
    h0 = dlgradient(z, x0)
    w = np.sum(np.cos(h0))
    return w, dlgradient(w, x0)


def rev_copy_by_items(x0):
    out = copy_by_items(x0)
    y = np.sum(out)
    return out, dlgradient(y, x0)


def rev2_copy_by_items(x0):
    out = copy_by_items(x0)
    y = np.sum(out)
    g0 = dlgradient(y, x0)
    z = np.sum(np.sin(g0))
    return z, dlgradient(z, x0)


def rev3_copy_by_items(x0):
    out = copy_by_items(x0)
    y = np.sum(out)
    g0 = dlgradient(y, x0)
    z = np.sum(np.sin(g0))
    h0 = dlgradient(z, x0)
    w = np.sum(np.cos(h0))
    return w, dlgradient(w, x0)


def rev_rows_from_items(x0):
    out = rows_from_items(x0)
    y = np.sum(out)
    return out, dlgradient(y, x0)


def rev2_rows_from_items(x0):
    out = rows_from_items(x0)
    y = np.sum(out)
    g0 = dlgradient(y, x0)
    z = np.sum(np.sin(g0))
    return z, dlgradient(z, x0)


def rev3_rows_from_items(x0):
    out = rows_from_items(x0)
    y = np.sum(out)
    g0 = dlgradient(y, x0)
    z = np.sum(np.sin(g0))
    h0 = dlgradient(z, x0)
    w = np.sum(np.cos(h0))
    return w, dlgradient(w, x0)


def rev_tail_sum(x0):
    out = tail_sum(x0)
    y = np.sum(out)
    return out, dlgradient(y, x0)


def rev2_tail_sum(x0):
    out = tail_sum(x0)
    y = np.sum(out)
    g0 = dlgradient(y, x0)
    z = np.sum(np.sin(g0))
    return z, dlgradient(z, x0)


def rev3_tail_sum(x0):
    out = tail_sum(x0)
    y = np.sum(out)
    g0 = dlgradient(y, x0)
    z = np.sum(np.sin(g0))
    h0 = dlgradient(z, x0)
    w = np.sum(np.cos(h0))
    return w, dlgradient(w, x0)


def rev_list_of_products(x0):
    out = list_of_products(x0)
    y = np.sum(out)
    return out, dlgradient(y, x0)


def rev2_list_of_products(x0):
    out = list_of_products(x0)
    y = np.sum(out)
    g0 = dlgradient(y, x0)
    z = np.sum(np.sin(g0))
    return z, dlgradient(z, x0)


def rev3_list_of_products(x0):
    out = list_of_products(x0)
    y = np.sum(out)
    g0 = dlgradient(y, x0)
    z = np.sum(np.sin(g0))
    h0 = dlgradient(z, x0)
    w = np.sum(np.cos(h0))
    return w, dlgradient(w, x0)


def rev_items_product(x0):
    out = items_product(x0)
    y = np.sum(out)
    return out, dlgradient(y, x0)


def rev2_items_product(x0):
    out = items_product(x0)
    y = np.sum(out)
    g0 = dlgradient(y, x0)
    z = np.sum(np.sin(g0))
    return z, dlgradient(z, x0)


def rev3_items_product(x0):
    out = items_product(x0)
    y = np.sum(out)
    g0 = dlgradient(y, x0)
    z = np.sum(np.sin(g0))
    h0 = dlgradient(z, x0)
    w = np.sum(np.cos(h0))
    return w, dlgradient(w, x0)


def rev_item_write_own(x0):
    out = item_write_own(x0)
    y = np.sum(out)
    return out, dlgradient(y, x0)


def rev2_item_write_own(x0):
    out = item_write_own(x0)
    y = np.sum(out)
    g0 = dlgradient(y, x0)
    z = np.sum(np.sin(g0))
    return z, dlgradient(z, x0)


def rev3_item_write_own(x0):
    out = item_write_own(x0)
    y = np.sum(out)
    g0 = dlgradient(y, x0)
    z = np.sum(np.sin(g0))
    h0 = dlgradient(z, x0)
    w = np.sum(np.cos(h0))
    return w, dlgradient(w, x0)


def rev_item_write_arg(x0):
    out = item_write_arg(x0)
    y = np.sum(out)
    return out, dlgradient(y, x0)


def rev2_item_write_arg(x0):
    out = item_write_arg(x0)
    y = np.sum(out)
    g0 = dlgradient(y, x0)
    z = np.sum(np.sin(g0))
    return z, dlgradient(z, x0)


def rev3_item_write_arg(x0):
    out = item_write_arg(x0)
    y = np.sum(out)
    g0 = dlgradient(y, x0)
    z = np.sum(np.sin(g0))
    h0 = dlgradient(z, x0)
    w = np.sum(np.cos(h0))
    return w, dlgradient(w, x0)


def rev_item_write_from_square(x0):
    out = item_write_from_square(x0)
    y = np.sum(out)
    return out, dlgradient(y, x0)


def rev2_item_write_from_square(x0):
    out = item_write_from_square(x0)
    y = np.sum(out)
    g0 = dlgradient(y, x0)
    z = np.sum(np.sin(g0))
    return z, dlgradient(z, x0)


def rev3_item_write_from_square(x0):
    out = item_write_from_square(x0)
    y = np.sum(out)
    g0 = dlgradient(y, x0)
    z = np.sum(np.sin(g0))
    h0 = dlgradient(z, x0)
    w = np.sum(np.cos(h0))
    return w, dlgradient(w, x0)


def rev_list_append_loop(x0):
    out = list_append_loop(x0)
    y = np.sum(out)
    return out, dlgradient(y, x0)


def rev2_list_append_loop(x0):
    out = list_append_loop(x0)
    y = np.sum(out)
    g0 = dlgradient(y, x0)
    z = np.sum(np.sin(g0))
    return z, dlgradient(z, x0)


def rev3_list_append_loop(x0):
    out = list_append_loop(x0)
    y = np.sum(out)
    g0 = dlgradient(y, x0)
    z = np.sum(np.sin(g0))
    h0 = dlgradient(z, x0)
    w = np.sum(np.cos(h0))
    return w, dlgradient(w, x0)


def rev_list_pop_loop(x0):
    out = list_pop_loop(x0)
    y = np.sum(out)
    return out, dlgradient(y, x0)


def rev2_list_pop_loop(x0):
    out = list_pop_loop(x0)
    y = np.sum(out)
    g0 = dlgradient(y, x0)
    z = np.sum(np.sin(g0))
    return z, dlgradient(z, x0)


def rev3_list_pop_loop(x0):
    out = list_pop_loop(x0)
    y = np.sum(out)
    g0 = dlgradient(y, x0)
    z = np.sum(np.sin(g0))
    h0 = dlgradient(z, x0)
    w = np.sum(np.cos(h0))
    return w, dlgradient(w, x0)


def rev_enumerate_sum(x0):
    out = enumerate_sum(x0)
    y = np.sum(out)
    return out, dlgradient(y, x0)


def rev2_enumerate_sum(x0):
    out = enumerate_sum(x0)
    y = np.sum(out)
    g0 = dlgradient(y, x0)
    z = np.sum(np.sin(g0))
    return z, dlgradient(z, x0)


def rev3_enumerate_sum(x0):
    out = enumerate_sum(x0)
    y = np.sum(out)
    g0 = dlgradient(y, x0)
    z = np.sum(np.sin(g0))
    h0 = dlgradient(z, x0)
    w = np.sum(np.cos(h0))
    return w, dlgradient(w, x0)


def rev_cumulative(x0):
    out = cumulative(x0)
    y = np.sum(out)
    return out, dlgradient(y, x0)


def rev2_cumulative(x0):
    out = cumulative(x0)
    y = np.sum(out)
    g0 = dlgradient(y, x0)
    z = np.sum(np.sin(g0))
    return z, dlgradient(z, x0)


def rev3_cumulative(x0):
    out = cumulative(x0)
    y = np.sum(out)
    g0 = dlgradient(y, x0)
    z = np.sum(np.sin(g0))
    h0 = dlgradient(z, x0)
    w = np.sum(np.cos(h0))
    return w, dlgradient(w, x0)


def rev_continue_loop(x0):
    out = continue_loop(x0)
    y = np.sum(out)
    return out, dlgradient(y, x0)


def rev2_continue_loop(x0):
    out = continue_loop(x0)
    y = np.sum(out)
    g0 = dlgradient(y, x0)
    z = np.sum(np.sin(g0))
    return z, dlgradient(z, x0)


def rev3_continue_loop(x0):
    out = continue_loop(x0)
    y = np.sum(out)
    g0 = dlgradient(y, x0)
    z = np.sum(np.sin(g0))
    h0 = dlgradient(z, x0)
    w = np.sum(np.cos(h0))
    return w, dlgradient(w, x0)


def rev_bool_mask_arith(x0):
    out = bool_mask_arith(x0)
    y = np.sum(out)
    return out, dlgradient(y, x0)


def rev2_bool_mask_arith(x0):
    out = bool_mask_arith(x0)
    y = np.sum(out)
    g0 = dlgradient(y, x0)
    z = np.sum(np.sin(g0))
    return z, dlgradient(z, x0)


def rev3_bool_mask_arith(x0):
    out = bool_mask_arith(x0)
    y = np.sum(out)
    g0 = dlgradient(y, x0)
    z = np.sum(np.sin(g0))
    h0 = dlgradient(z, x0)
    w = np.sum(np.cos(h0))
    return w, dlgradient(w, x0)


def rev_myia_while_sum(x0):
    out = myia_while_sum(x0)
    y = np.sum(out)
    return out, dlgradient(y, x0)


def rev2_myia_while_sum(x0):
    out = myia_while_sum(x0)
    y = np.sum(out)
    g0 = dlgradient(y, x0)
    z = np.sum(np.sin(g0))
    return z, dlgradient(z, x0)


def rev3_myia_while_sum(x0):
    out = myia_while_sum(x0)
    y = np.sum(out)
    g0 = dlgradient(y, x0)
    z = np.sum(np.sin(g0))
    h0 = dlgradient(z, x0)
    w = np.sum(np.cos(h0))
    return w, dlgradient(w, x0)


def rev_jax_tanh_sum(x0):
    out = jax_tanh_sum(x0)
    y = np.sum(out)
    return out, dlgradient(y, x0)


def rev2_jax_tanh_sum(x0):
    out = jax_tanh_sum(x0)
    y = np.sum(out)
    g0 = dlgradient(y, x0)
    z = np.sum(np.sin(g0))
    return z, dlgradient(z, x0)


def rev3_jax_tanh_sum(x0):
    out = jax_tanh_sum(x0)
    y = np.sum(out)
    g0 = dlgradient(y, x0)
    z = np.sum(np.sin(g0))
    h0 = dlgradient(z, x0)
    w = np.sum(np.cos(h0))
    return w, dlgradient(w, x0)


def rev_ag_cumsum(x0):
    out = ag_cumsum(x0)
    y = np.sum(out)
    return out, dlgradient(y, x0)


def rev2_ag_cumsum(x0):
    out = ag_cumsum(x0)
    y = np.sum(out)
    g0 = dlgradient(y, x0)
    z = np.sum(np.sin(g0))
    return z, dlgradient(z, x0)


def rev3_ag_cumsum(x0):
    out = ag_cumsum(x0)
    y = np.sum(out)
    g0 = dlgradient(y, x0)
    z = np.sum(np.sin(g0))
    h0 = dlgradient(z, x0)
    w = np.sum(np.cos(h0))
    return w, dlgradient(w, x0)


def rev_ag_clip(x0):
    out = ag_clip(x0)
    y = np.sum(out)
    return out, dlgradient(y, x0)


def rev2_ag_clip(x0):
    out = ag_clip(x0)
    y = np.sum(out)
    g0 = dlgradient(y, x0)
    z = np.sum(np.sin(g0))
    return z, dlgradient(z, x0)


def rev3_ag_clip(x0):
    out = ag_clip(x0)
    y = np.sum(out)
    g0 = dlgradient(y, x0)
    z = np.sum(np.sin(g0))
    h0 = dlgradient(z, x0)
    w = np.sum(np.cos(h0))
    return w, dlgradient(w, x0)


def rev_ag_where(x0):
    out = ag_where(x0)
    y = np.sum(out)
    return out, dlgradient(y, x0)


def rev2_ag_where(x0):
    out = ag_where(x0)
    y = np.sum(out)
    g0 = dlgradient(y, x0)
    z = np.sum(np.sin(g0))
    return z, dlgradient(z, x0)


def rev3_ag_where(x0):
    out = ag_where(x0)
    y = np.sum(out)
    g0 = dlgradient(y, x0)
    z = np.sum(np.sin(g0))
    h0 = dlgradient(z, x0)
    w = np.sum(np.cos(h0))
    return w, dlgradient(w, x0)


def rev_ag_abs(x0):
    out = ag_abs(x0)
    y = np.sum(out)
    return out, dlgradient(y, x0)


def rev2_ag_abs(x0):
    out = ag_abs(x0)
    y = np.sum(out)
    g0 = dlgradient(y, x0)
    z = np.sum(np.sin(g0))
    return z, dlgradient(z, x0)


def rev3_ag_abs(x0):
    out = ag_abs(x0)
    y = np.sum(out)
    g0 = dlgradient(y, x0)
    z = np.sum(np.sin(g0))
    h0 = dlgradient(z, x0)
    w = np.sum(np.cos(h0))
    return w, dlgradient(w, x0)


def rev_ag_roll(x0):
    out = ag_roll(x0)
    y = np.sum(out)
    return out, dlgradient(y, x0)


def rev2_ag_roll(x0):
    out = ag_roll(x0)
    y = np.sum(out)
    g0 = dlgradient(y, x0)
    z = np.sum(np.sin(g0))
    return z, dlgradient(z, x0)


def rev3_ag_roll(x0):
    out = ag_roll(x0)
    y = np.sum(out)
    g0 = dlgradient(y, x0)
    z = np.sum(np.sin(g0))
    h0 = dlgradient(z, x0)
    w = np.sum(np.cos(h0))
    return w, dlgradient(w, x0)


def rev_ag_flip(x0):
    out = ag_flip(x0)
    y = np.sum(out)
    return out, dlgradient(y, x0)


def rev2_ag_flip(x0):
    out = ag_flip(x0)
    y = np.sum(out)
    g0 = dlgradient(y, x0)
    z = np.sum(np.sin(g0))
    return z, dlgradient(z, x0)


def rev3_ag_flip(x0):
    out = ag_flip(x0)
    y = np.sum(out)
    g0 = dlgradient(y, x0)
    z = np.sum(np.sin(g0))
    h0 = dlgradient(z, x0)
    w = np.sum(np.cos(h0))
    return w, dlgradient(w, x0)


def rev_ag_sort(x0):
    out = ag_sort(x0)
    y = np.sum(out)
    return out, dlgradient(y, x0)


def rev2_ag_sort(x0):
    out = ag_sort(x0)
    y = np.sum(out)
    g0 = dlgradient(y, x0)
    z = np.sum(np.sin(g0))
    return z, dlgradient(z, x0)


def rev3_ag_sort(x0):
    out = ag_sort(x0)
    y = np.sum(out)
    g0 = dlgradient(y, x0)
    z = np.sum(np.sin(g0))
    h0 = dlgradient(z, x0)
    w = np.sum(np.cos(h0))
    return w, dlgradient(w, x0)


def rev_ag_logsumexp(x0):
    out = ag_logsumexp(x0)
    y = np.sum(out)
    return out, dlgradient(y, x0)


def rev2_ag_logsumexp(x0):
    out = ag_logsumexp(x0)
    y = np.sum(out)
    g0 = dlgradient(y, x0)
    z = np.sum(np.sin(g0))
    return z, dlgradient(z, x0)


def rev3_ag_logsumexp(x0):
    out = ag_logsumexp(x0)
    y = np.sum(out)
    g0 = dlgradient(y, x0)
    z = np.sum(np.sin(g0))
    h0 = dlgradient(z, x0)
    w = np.sum(np.cos(h0))
    return w, dlgradient(w, x0)


def rev_ag_softplus(x0):
    out = ag_softplus(x0)
    y = np.sum(out)
    return out, dlgradient(y, x0)


def rev2_ag_softplus(x0):
    out = ag_softplus(x0)
    y = np.sum(out)
    g0 = dlgradient(y, x0)
    z = np.sum(np.sin(g0))
    return z, dlgradient(z, x0)


def rev3_ag_softplus(x0):
    out = ag_softplus(x0)
    y = np.sum(out)
    g0 = dlgradient(y, x0)
    z = np.sum(np.sin(g0))
    h0 = dlgradient(z, x0)
    w = np.sum(np.cos(h0))
    return w, dlgradient(w, x0)


def rev_ag_norm(x0):
    out = ag_norm(x0)
    y = np.sum(out)
    return out, dlgradient(y, x0)


def rev2_ag_norm(x0):
    out = ag_norm(x0)
    y = np.sum(out)
    g0 = dlgradient(y, x0)
    z = np.sum(np.sin(g0))
    return z, dlgradient(z, x0)


def rev3_ag_norm(x0):
    out = ag_norm(x0)
    y = np.sum(out)
    g0 = dlgradient(y, x0)
    z = np.sum(np.sin(g0))
    h0 = dlgradient(z, x0)
    w = np.sum(np.cos(h0))
    return w, dlgradient(w, x0)


def rev_ag_expand_squeeze(x0):
    out = ag_expand_squeeze(x0)
    y = np.sum(out)
    return out, dlgradient(y, x0)


def rev2_ag_expand_squeeze(x0):
    out = ag_expand_squeeze(x0)
    y = np.sum(out)
    g0 = dlgradient(y, x0)
    z = np.sum(np.sin(g0))
    return z, dlgradient(z, x0)


def rev3_ag_expand_squeeze(x0):
    out = ag_expand_squeeze(x0)
    y = np.sum(out)
    g0 = dlgradient(y, x0)
    z = np.sum(np.sin(g0))
    h0 = dlgradient(z, x0)
    w = np.sum(np.cos(h0))
    return w, dlgradient(w, x0)


def rev_ag_mod_floor(x0):
    out = ag_mod_floor(x0)
    y = np.sum(out)
    return out, dlgradient(y, x0)


def rev2_ag_mod_floor(x0):
    out = ag_mod_floor(x0)
    y = np.sum(out)
    g0 = dlgradient(y, x0)
    z = np.sum(np.sin(g0))
    return z, dlgradient(z, x0)


def rev3_ag_mod_floor(x0):
    out = ag_mod_floor(x0)
    y = np.sum(out)
    g0 = dlgradient(y, x0)
    z = np.sum(np.sin(g0))
    h0 = dlgradient(z, x0)
    w = np.sum(np.cos(h0))
    return w, dlgradient(w, x0)


def rev_ag_fancy_index(x0):
    out = ag_fancy_index(x0)
    y = np.sum(out)
    return out, dlgradient(y, x0)


def rev2_ag_fancy_index(x0):
    out = ag_fancy_index(x0)
    y = np.sum(out)
    g0 = dlgradient(y, x0)
    z = np.sum(np.sin(g0))
    return z, dlgradient(z, x0)


def rev3_ag_fancy_index(x0):
    out = ag_fancy_index(x0)
    y = np.sum(out)
    g0 = dlgradient(y, x0)
    z = np.sum(np.sin(g0))
    h0 = dlgradient(z, x0)
    w = np.sum(np.cos(h0))
    return w, dlgradient(w, x0)


def rev_ag_bool_index(x0):
    out = ag_bool_index(x0)
    y = np.sum(out)
    return out, dlgradient(y, x0)


def rev2_ag_bool_index(x0):
    out = ag_bool_index(x0)
    y = np.sum(out)
    g0 = dlgradient(y, x0)
    z = np.sum(np.sin(g0))
    return z, dlgradient(z, x0)


def rev3_ag_bool_index(x0):
    out = ag_bool_index(x0)
    y = np.sum(out)
    g0 = dlgradient(y, x0)
    z = np.sum(np.sin(g0))
    h0 = dlgradient(z, x0)
    w = np.sum(np.cos(h0))
    return w, dlgradient(w, x0)


def rev_ag_index_add(x0):
    out = ag_index_add(x0)
    y = np.sum(out)
    return out, dlgradient(y, x0)


def rev2_ag_index_add(x0):
    out = ag_index_add(x0)
    y = np.sum(out)
    g0 = dlgradient(y, x0)
    z = np.sum(np.sin(g0))
    return z, dlgradient(z, x0)


def rev3_ag_index_add(x0):
    out = ag_index_add(x0)
    y = np.sum(out)
    g0 = dlgradient(y, x0)
    z = np.sum(np.sin(g0))
    h0 = dlgradient(z, x0)
    w = np.sum(np.cos(h0))
    return w, dlgradient(w, x0)


def rev_ag_astype(x0):
    out = ag_astype(x0)
    y = np.sum(out)
    return out, dlgradient(y, x0)


def rev2_ag_astype(x0):
    out = ag_astype(x0)
    y = np.sum(out)
    g0 = dlgradient(y, x0)
    z = np.sum(np.sin(g0))
    return z, dlgradient(z, x0)


def rev3_ag_astype(x0):
    out = ag_astype(x0)
    y = np.sum(out)
    g0 = dlgradient(y, x0)
    z = np.sum(np.sin(g0))
    h0 = dlgradient(z, x0)
    w = np.sum(np.cos(h0))
    return w, dlgradient(w, x0)


def rev_ag_cos_sin_tan(x0):
    out = ag_cos_sin_tan(x0)
    y = np.sum(out)
    return out, dlgradient(y, x0)


def rev2_ag_cos_sin_tan(x0):
    out = ag_cos_sin_tan(x0)
    y = np.sum(out)
    g0 = dlgradient(y, x0)
    z = np.sum(np.sin(g0))
    return z, dlgradient(z, x0)


def rev3_ag_cos_sin_tan(x0):
    out = ag_cos_sin_tan(x0)
    y = np.sum(out)
    g0 = dlgradient(y, x0)
    z = np.sum(np.sin(g0))
    h0 = dlgradient(z, x0)
    w = np.sum(np.cos(h0))
    return w, dlgradient(w, x0)


def rev_ag_arcfuncs(x0):
    out = ag_arcfuncs(x0)
    y = np.sum(out)
    return out, dlgradient(y, x0)


def rev2_ag_arcfuncs(x0):
    out = ag_arcfuncs(x0)
    y = np.sum(out)
    g0 = dlgradient(y, x0)
    z = np.sum(np.sin(g0))
    return z, dlgradient(z, x0)


def rev3_ag_arcfuncs(x0):
    out = ag_arcfuncs(x0)
    y = np.sum(out)
    g0 = dlgradient(y, x0)
    z = np.sum(np.sin(g0))
    h0 = dlgradient(z, x0)
    w = np.sum(np.cos(h0))
    return w, dlgradient(w, x0)


def rev_ag_hyperbolic(x0):
    out = ag_hyperbolic(x0)
    y = np.sum(out)
    return out, dlgradient(y, x0)


def rev2_ag_hyperbolic(x0):
    out = ag_hyperbolic(x0)
    y = np.sum(out)
    g0 = dlgradient(y, x0)
    z = np.sum(np.sin(g0))
    return z, dlgradient(z, x0)


def rev3_ag_hyperbolic(x0):
    out = ag_hyperbolic(x0)
    y = np.sum(out)
    g0 = dlgradient(y, x0)
    z = np.sum(np.sin(g0))
    h0 = dlgradient(z, x0)
    w = np.sum(np.cos(h0))
    return w, dlgradient(w, x0)


def rev_ag_exp_family(x0):
    out = ag_exp_family(x0)
    y = np.sum(out)
    return out, dlgradient(y, x0)


def rev2_ag_exp_family(x0):
    out = ag_exp_family(x0)
    y = np.sum(out)
    g0 = dlgradient(y, x0)
    z = np.sum(np.sin(g0))
    return z, dlgradient(z, x0)


def rev3_ag_exp_family(x0):
    out = ag_exp_family(x0)
    y = np.sum(out)
    g0 = dlgradient(y, x0)
    z = np.sum(np.sin(g0))
    h0 = dlgradient(z, x0)
    w = np.sum(np.cos(h0))
    return w, dlgradient(w, x0)


def rev_ag_sign(x0):
    out = ag_sign(x0)
    y = np.sum(out)
    return out, dlgradient(y, x0)


def rev2_ag_sign(x0):
    out = ag_sign(x0)
    y = np.sum(out)
    g0 = dlgradient(y, x0)
    z = np.sum(np.sin(g0))
    return z, dlgradient(z, x0)


def rev3_ag_sign(x0):
    out = ag_sign(x0)
    y = np.sum(out)
    g0 = dlgradient(y, x0)
    z = np.sum(np.sin(g0))
    h0 = dlgradient(z, x0)
    w = np.sum(np.cos(h0))
    return w, dlgradient(w, x0)


def rev_ag_max(x0):
    out = ag_max(x0)
    y = np.sum(out)
    return out, dlgradient(y, x0)


def rev2_ag_max(x0):
    out = ag_max(x0)
    y = np.sum(out)
    g0 = dlgradient(y, x0)
    z = np.sum(np.sin(g0))
    return z, dlgradient(z, x0)


def rev3_ag_max(x0):
    out = ag_max(x0)
    y = np.sum(out)
    g0 = dlgradient(y, x0)
    z = np.sum(np.sin(g0))
    h0 = dlgradient(z, x0)
    w = np.sum(np.cos(h0))
    return w, dlgradient(w, x0)


def rev_ag_min(x0):
    out = ag_min(x0)
    y = np.sum(out)
    return out, dlgradient(y, x0)


def rev2_ag_min(x0):
    out = ag_min(x0)
    y = np.sum(out)
    g0 = dlgradient(y, x0)
    z = np.sum(np.sin(g0))
    return z, dlgradient(z, x0)


def rev3_ag_min(x0):
    out = ag_min(x0)
    y = np.sum(out)
    g0 = dlgradient(y, x0)
    z = np.sum(np.sin(g0))
    h0 = dlgradient(z, x0)
    w = np.sum(np.cos(h0))
    return w, dlgradient(w, x0)


def rev_ag_prod(x0):
    out = ag_prod(x0)
    y = np.sum(out)
    return out, dlgradient(y, x0)


def rev2_ag_prod(x0):
    out = ag_prod(x0)
    y = np.sum(out)
    g0 = dlgradient(y, x0)
    z = np.sum(np.sin(g0))
    return z, dlgradient(z, x0)


def rev3_ag_prod(x0):
    out = ag_prod(x0)
    y = np.sum(out)
    g0 = dlgradient(y, x0)
    z = np.sum(np.sin(g0))
    h0 = dlgradient(z, x0)
    w = np.sum(np.cos(h0))
    return w, dlgradient(w, x0)


def rev_slice_assign(x0):
    out = slice_assign(x0)
    y = np.sum(out)
    return out, dlgradient(y, x0)


def rev2_slice_assign(x0):
    out = slice_assign(x0)
    y = np.sum(out)
    g0 = dlgradient(y, x0)
    z = np.sum(np.sin(g0))
    return z, dlgradient(z, x0)


def rev3_slice_assign(x0):
    out = slice_assign(x0)
    y = np.sum(out)
    g0 = dlgradient(y, x0)
    z = np.sum(np.sin(g0))
    h0 = dlgradient(z, x0)
    w = np.sum(np.cos(h0))
    return w, dlgradient(w, x0)


def rev_ag_log_family(x0):
    out = ag_log_family(x0)
    y = np.sum(out)
    return out, dlgradient(y, x0)


def rev2_ag_log_family(x0):
    out = ag_log_family(x0)
    y = np.sum(out)
    g0 = dlgradient(y, x0)
    z = np.sum(np.sin(g0))
    return z, dlgradient(z, x0)


def rev3_ag_log_family(x0):
    out = ag_log_family(x0)
    y = np.sum(out)
    g0 = dlgradient(y, x0)
    z = np.sum(np.sin(g0))
    h0 = dlgradient(z, x0)
    w = np.sum(np.cos(h0))
    return w, dlgradient(w, x0)


def rev_ag_square_reciprocal(x0):
    out = ag_square_reciprocal(x0)
    y = np.sum(out)
    return out, dlgradient(y, x0)


def rev2_ag_square_reciprocal(x0):
    out = ag_square_reciprocal(x0)
    y = np.sum(out)
    g0 = dlgradient(y, x0)
    z = np.sum(np.sin(g0))
    return z, dlgradient(z, x0)


def rev3_ag_square_reciprocal(x0):
    out = ag_square_reciprocal(x0)
    y = np.sum(out)
    g0 = dlgradient(y, x0)
    z = np.sum(np.sin(g0))
    h0 = dlgradient(z, x0)
    w = np.sum(np.cos(h0))
    return w, dlgradient(w, x0)


def rev_strided_newaxis(x0):
    out = strided_newaxis(x0)
    y = np.sum(out)
    return out, dlgradient(y, x0)


def rev2_strided_newaxis(x0):
    out = strided_newaxis(x0)
    y = np.sum(out)
    g0 = dlgradient(y, x0)
    z = np.sum(np.sin(g0))
    return z, dlgradient(z, x0)


def rev3_strided_newaxis(x0):
    out = strided_newaxis(x0)
    y = np.sum(out)
    g0 = dlgradient(y, x0)
    z = np.sum(np.sin(g0))
    h0 = dlgradient(z, x0)
    w = np.sum(np.cos(h0))
    return w, dlgradient(w, x0)


def rev_ag_sum_axis(x0):
    out = ag_sum_axis(x0)
    y = np.sum(out)
    return out, dlgradient(y, x0)


def rev2_ag_sum_axis(x0):
    out = ag_sum_axis(x0)
    y = np.sum(out)
    g0 = dlgradient(y, x0)
    z = np.sum(np.sin(g0))
    return z, dlgradient(z, x0)


def rev3_ag_sum_axis(x0):
    out = ag_sum_axis(x0)
    y = np.sum(out)
    g0 = dlgradient(y, x0)
    z = np.sum(np.sin(g0))
    h0 = dlgradient(z, x0)
    w = np.sum(np.cos(h0))
    return w, dlgradient(w, x0)


def rev_ag_mean_axis(x0):
    out = ag_mean_axis(x0)
    y = np.sum(out)
    return out, dlgradient(y, x0)


def rev2_ag_mean_axis(x0):
    out = ag_mean_axis(x0)
    y = np.sum(out)
    g0 = dlgradient(y, x0)
    z = np.sum(np.sin(g0))
    return z, dlgradient(z, x0)


def rev3_ag_mean_axis(x0):
    out = ag_mean_axis(x0)
    y = np.sum(out)
    g0 = dlgradient(y, x0)
    z = np.sum(np.sin(g0))
    h0 = dlgradient(z, x0)
    w = np.sum(np.cos(h0))
    return w, dlgradient(w, x0)


def rev_ag_var(x0):
    out = ag_var(x0)
    y = np.sum(out)
    return out, dlgradient(y, x0)


def rev2_ag_var(x0):
    out = ag_var(x0)
    y = np.sum(out)
    g0 = dlgradient(y, x0)
    z = np.sum(np.sin(g0))
    return z, dlgradient(z, x0)


def rev3_ag_var(x0):
    out = ag_var(x0)
    y = np.sum(out)
    g0 = dlgradient(y, x0)
    z = np.sum(np.sin(g0))
    h0 = dlgradient(z, x0)
    w = np.sum(np.cos(h0))
    return w, dlgradient(w, x0)


def rev_ag_std(x0):
    out = ag_std(x0)
    y = np.sum(out)
    return out, dlgradient(y, x0)


def rev2_ag_std(x0):
    out = ag_std(x0)
    y = np.sum(out)
    g0 = dlgradient(y, x0)
    z = np.sum(np.sin(g0))
    return z, dlgradient(z, x0)


def rev3_ag_std(x0):
    out = ag_std(x0)
    y = np.sum(out)
    g0 = dlgradient(y, x0)
    z = np.sum(np.sin(g0))
    h0 = dlgradient(z, x0)
    w = np.sum(np.cos(h0))
    return w, dlgradient(w, x0)


def rev_ag_transpose(x0):
    out = ag_transpose(x0)
    y = np.sum(out)
    return out, dlgradient(y, x0)


def rev2_ag_transpose(x0):
    out = ag_transpose(x0)
    y = np.sum(out)
    g0 = dlgradient(y, x0)
    z = np.sum(np.sin(g0))
    return z, dlgradient(z, x0)


def rev3_ag_transpose(x0):
    out = ag_transpose(x0)
    y = np.sum(out)
    g0 = dlgradient(y, x0)
    z = np.sum(np.sin(g0))
    h0 = dlgradient(z, x0)
    w = np.sum(np.cos(h0))
    return w, dlgradient(w, x0)


def rev_ag_reshape(x0):
    out = ag_reshape(x0)
    y = np.sum(out)
    return out, dlgradient(y, x0)


def rev2_ag_reshape(x0):
    out = ag_reshape(x0)
    y = np.sum(out)
    g0 = dlgradient(y, x0)
    z = np.sum(np.sin(g0))
    return z, dlgradient(z, x0)


def rev3_ag_reshape(x0):
    out = ag_reshape(x0)
    y = np.sum(out)
    g0 = dlgradient(y, x0)
    z = np.sum(np.sin(g0))
    h0 = dlgradient(z, x0)
    w = np.sum(np.cos(h0))
    return w, dlgradient(w, x0)


def rev_ag_tril_triu(x0):
    out = ag_tril_triu(x0)
    y = np.sum(out)
    return out, dlgradient(y, x0)


def rev2_ag_tril_triu(x0):
    out = ag_tril_triu(x0)
    y = np.sum(out)
    g0 = dlgradient(y, x0)
    z = np.sum(np.sin(g0))
    return z, dlgradient(z, x0)


def rev3_ag_tril_triu(x0):
    out = ag_tril_triu(x0)
    y = np.sum(out)
    g0 = dlgradient(y, x0)
    z = np.sum(np.sin(g0))
    h0 = dlgradient(z, x0)
    w = np.sum(np.cos(h0))
    return w, dlgradient(w, x0)


def rev_ag_diag(x0):
    out = ag_diag(x0)
    y = np.sum(out)
    return out, dlgradient(y, x0)


def rev2_ag_diag(x0):
    out = ag_diag(x0)
    y = np.sum(out)
    g0 = dlgradient(y, x0)
    z = np.sum(np.sin(g0))
    return z, dlgradient(z, x0)


def rev3_ag_diag(x0):
    out = ag_diag(x0)
    y = np.sum(out)
    g0 = dlgradient(y, x0)
    z = np.sum(np.sin(g0))
    h0 = dlgradient(z, x0)
    w = np.sum(np.cos(h0))
    return w, dlgradient(w, x0)


def rev_ag_trace(x0):
    out = ag_trace(x0)
    y = np.sum(out)
    return out, dlgradient(y, x0)


def rev2_ag_trace(x0):
    out = ag_trace(x0)
    y = np.sum(out)
    g0 = dlgradient(y, x0)
    z = np.sum(np.sin(g0))
    return z, dlgradient(z, x0)


def rev3_ag_trace(x0):
    out = ag_trace(x0)
    y = np.sum(out)
    g0 = dlgradient(y, x0)
    z = np.sum(np.sin(g0))
    h0 = dlgradient(z, x0)
    w = np.sum(np.cos(h0))
    return w, dlgradient(w, x0)


def rev_ag_inv(x0):
    out = ag_inv(x0)
    y = np.sum(out)
    return out, dlgradient(y, x0)


def rev2_ag_inv(x0):
    out = ag_inv(x0)
    y = np.sum(out)
    g0 = dlgradient(y, x0)
    z = np.sum(np.sin(g0))
    return z, dlgradient(z, x0)


def rev3_ag_inv(x0):
    out = ag_inv(x0)
    y = np.sum(out)
    g0 = dlgradient(y, x0)
    z = np.sum(np.sin(g0))
    h0 = dlgradient(z, x0)
    w = np.sum(np.cos(h0))
    return w, dlgradient(w, x0)


def rev_ag_det(x0):
    out = ag_det(x0)
    y = np.sum(out)
    return out, dlgradient(y, x0)


def rev2_ag_det(x0):
    out = ag_det(x0)
    y = np.sum(out)
    g0 = dlgradient(y, x0)
    z = np.sum(np.sin(g0))
    return z, dlgradient(z, x0)


def rev3_ag_det(x0):
    out = ag_det(x0)
    y = np.sum(out)
    g0 = dlgradient(y, x0)
    z = np.sum(np.sin(g0))
    h0 = dlgradient(z, x0)
    w = np.sum(np.cos(h0))
    return w, dlgradient(w, x0)


def rev_ag_solve(x0, x1):
    out = ag_solve(x0, x1)
    y = np.sum(out)
    return out, dlgradient(y, x0, x1)


def rev2_ag_solve(x0, x1):
    out = ag_solve(x0, x1)
    y = np.sum(out)
    g0, g1 = dlgradient(y, x0, x1)
    z = np.sum(np.sin(g0)) + np.sum(np.sin(g1))
    return z, dlgradient(z, x0, x1)


def rev_ag_dot_mv(x0, x1):
    out = ag_dot_mv(x0, x1)
    y = np.sum(out)
    return out, dlgradient(y, x0, x1)


def rev2_ag_dot_mv(x0, x1):
    out = ag_dot_mv(x0, x1)
    y = np.sum(out)
    g0, g1 = dlgradient(y, x0, x1)
    z = np.sum(np.sin(g0)) + np.sum(np.sin(g1))
    return z, dlgradient(z, x0, x1)


def rev_ag_dot_mm(x0, x1):
    out = ag_dot_mm(x0, x1)
    y = np.sum(out)
    return out, dlgradient(y, x0, x1)


def rev2_ag_dot_mm(x0, x1):
    out = ag_dot_mm(x0, x1)
    y = np.sum(out)
    g0, g1 = dlgradient(y, x0, x1)
    z = np.sum(np.sin(g0)) + np.sum(np.sin(g1))
    return z, dlgradient(z, x0, x1)


def rev_ag_matmul(x0, x1):
    out = ag_matmul(x0, x1)
    y = np.sum(out)
    return out, dlgradient(y, x0, x1)


def rev2_ag_matmul(x0, x1):
    out = ag_matmul(x0, x1)
    y = np.sum(out)
    g0, g1 = dlgradient(y, x0, x1)
    z = np.sum(np.sin(g0)) + np.sum(np.sin(g1))
    return z, dlgradient(z, x0, x1)


def rev_ag_einsum(x0, x1):
    out = ag_einsum(x0, x1)
    y = np.sum(out)
    return out, dlgradient(y, x0, x1)


def rev2_ag_einsum(x0, x1):
    out = ag_einsum(x0, x1)
    y = np.sum(out)
    g0, g1 = dlgradient(y, x0, x1)
    z = np.sum(np.sin(g0)) + np.sum(np.sin(g1))
    return z, dlgradient(z, x0, x1)


def rev_ag_tensordot(x0, x1):
    out = ag_tensordot(x0, x1)
    y = np.sum(out)
    return out, dlgradient(y, x0, x1)


def rev2_ag_tensordot(x0, x1):
    out = ag_tensordot(x0, x1)
    y = np.sum(out)
    g0, g1 = dlgradient(y, x0, x1)
    z = np.sum(np.sin(g0)) + np.sum(np.sin(g1))
    return z, dlgradient(z, x0, x1)


def rev_ag_outer(x0, x1):
    out = ag_outer(x0, x1)
    y = np.sum(out)
    return out, dlgradient(y, x0, x1)


def rev2_ag_outer(x0, x1):
    out = ag_outer(x0, x1)
    y = np.sum(out)
    g0, g1 = dlgradient(y, x0, x1)
    z = np.sum(np.sin(g0)) + np.sum(np.sin(g1))
    return z, dlgradient(z, x0, x1)


def rev_ag_inner(x0, x1):
    out = ag_inner(x0, x1)
    y = np.sum(out)
    return out, dlgradient(y, x0, x1)


def rev2_ag_inner(x0, x1):
    out = ag_inner(x0, x1)
    y = np.sum(out)
    g0, g1 = dlgradient(y, x0, x1)
    z = np.sum(np.sin(g0)) + np.sum(np.sin(g1))
    return z, dlgradient(z, x0, x1)


def rev_ag_concatenate(x0, x1):
    out = ag_concatenate(x0, x1)
    y = np.sum(out)
    return out, dlgradient(y, x0, x1)


def rev2_ag_concatenate(x0, x1):
    out = ag_concatenate(x0, x1)
    y = np.sum(out)
    g0, g1 = dlgradient(y, x0, x1)
    z = np.sum(np.sin(g0)) + np.sum(np.sin(g1))
    return z, dlgradient(z, x0, x1)


def rev_ag_stack(x0, x1):
    out = ag_stack(x0, x1)
    y = np.sum(out)
    return out, dlgradient(y, x0, x1)


def rev2_ag_stack(x0, x1):
    out = ag_stack(x0, x1)
    y = np.sum(out)
    g0, g1 = dlgradient(y, x0, x1)
    z = np.sum(np.sin(g0)) + np.sum(np.sin(g1))
    return z, dlgradient(z, x0, x1)


def rev_ag_maximum(x0, x1):
    out = ag_maximum(x0, x1)
    y = np.sum(out)
    return out, dlgradient(y, x0, x1)


def rev2_ag_maximum(x0, x1):
    out = ag_maximum(x0, x1)
    y = np.sum(out)
    g0, g1 = dlgradient(y, x0, x1)
    z = np.sum(np.sin(g0)) + np.sum(np.sin(g1))
    return z, dlgradient(z, x0, x1)


def rev_ag_hypot_arctan2(x0, x1):
    out = ag_hypot_arctan2(x0, x1)
    y = np.sum(out)
    return out, dlgradient(y, x0, x1)


def rev2_ag_hypot_arctan2(x0, x1):
    out = ag_hypot_arctan2(x0, x1)
    y = np.sum(out)
    g0, g1 = dlgradient(y, x0, x1)
    z = np.sum(np.sin(g0)) + np.sum(np.sin(g1))
    return z, dlgradient(z, x0, x1)


def rev_zip_dot(x0, x1):
    out = zip_dot(x0, x1)
    y = np.sum(out)
    return out, dlgradient(y, x0, x1)


def rev2_zip_dot(x0, x1):
    out = zip_dot(x0, x1)
    y = np.sum(out)
    g0, g1 = dlgradient(y, x0, x1)
    z = np.sum(np.sin(g0)) + np.sum(np.sin(g1))
    return z, dlgradient(z, x0, x1)


def rev_ag_power_array(x0, x1):
    out = ag_power_array(x0, x1)
    y = np.sum(out)
    return out, dlgradient(y, x0, x1)


def rev2_ag_power_array(x0, x1):
    out = ag_power_array(x0, x1)
    y = np.sum(out)
    g0, g1 = dlgradient(y, x0, x1)
    z = np.sum(np.sin(g0)) + np.sum(np.sin(g1))
    return z, dlgradient(z, x0, x1)


def rev_ag_array_list(x0, x1):
    out = ag_array_list(x0, x1)
    y = np.sum(out)
    return out, dlgradient(y, x0, x1)


def rev2_ag_array_list(x0, x1):
    out = ag_array_list(x0, x1)
    y = np.sum(out)
    g0, g1 = dlgradient(y, x0, x1)
    z = np.sum(np.sin(g0)) + np.sum(np.sin(g1))
    return z, dlgradient(z, x0, x1)


def rev_ag_linspace_grid(x0):
    out = ag_linspace_grid(x0)
    y = np.sum(out)
    return out, dlgradient(y, x0)


def rev2_ag_linspace_grid(x0):
    out = ag_linspace_grid(x0)
    y = np.sum(out)
    g0 = dlgradient(y, x0)
    z = np.sum(np.sin(g0))
    return z, dlgradient(z, x0)


def rev3_ag_linspace_grid(x0):
    out = ag_linspace_grid(x0)
    y = np.sum(out)
    g0 = dlgradient(y, x0)
    z = np.sum(np.sin(g0))
    h0 = dlgradient(z, x0)
    w = np.sum(np.cos(h0))
    return w, dlgradient(w, x0)


def rev_logreg(x0, x1, x2, x3):
    out = logreg(x0, x1, x2, x3)
    y = np.sum(out)
    return out, dlgradient(y, x0, x1, x2, x3)


def rev2_logreg(x0, x1, x2, x3):
    out = logreg(x0, x1, x2, x3)
    y = np.sum(out)
    g0, g1, g2, g3 = dlgradient(y, x0, x1, x2, x3)
    z = np.sum(np.sin(g0)) + np.sum(np.sin(g1)) + np.sum(np.sin(g2)) + np.sum(np.sin(g3))
    return z, dlgradient(z, x0, x1, x2, x3)


def rev_tiny_rnn(x0, x1):
    out = tiny_rnn(x0, x1)
    y = np.sum(out)
    return out, dlgradient(y, x0, x1)


def rev2_tiny_rnn(x0, x1):
    out = tiny_rnn(x0, x1)
    y = np.sum(out)
    g0, g1 = dlgradient(y, x0, x1)
    z = np.sum(np.sin(g0)) + np.sum(np.sin(g1))
    return z, dlgradient(z, x0, x1)


def rev_bilinear_layer(x0, x1, x2, x3, x4):
    out = bilinear_layer(x0, x1, x2, x3, x4)
    y = np.sum(out)
    return out, dlgradient(y, x0, x1, x2, x3, x4)


def rev2_bilinear_layer(x0, x1, x2, x3, x4):
    out = bilinear_layer(x0, x1, x2, x3, x4)
    y = np.sum(out)
    g0, g1, g2, g3, g4 = dlgradient(y, x0, x1, x2, x3, x4)
    z = np.sum(np.sin(g0)) + np.sum(np.sin(g1)) + np.sum(np.sin(g2)) + np.sum(np.sin(g3)) + np.sum(np.sin(g4))
    return z, dlgradient(z, x0, x1, x2, x3, x4)


def rev_jax_loss(x0, x1, x2):
    out = jax_loss(x0, x1, x2)
    y = np.sum(out)
    return out, dlgradient(y, x0, x1, x2)


def rev2_jax_loss(x0, x1, x2):
    out = jax_loss(x0, x1, x2)
    y = np.sum(out)
    g0, g1, g2 = dlgradient(y, x0, x1, x2)
    z = np.sum(np.sin(g0)) + np.sum(np.sin(g1)) + np.sum(np.sin(g2))
    return z, dlgradient(z, x0, x1, x2)


def rev_jax_mlp(x0, x1):
    out = jax_mlp(x0, x1)
    y = np.sum(out)
    return out, dlgradient(y, x0, x1)


def rev2_jax_mlp(x0, x1):
    out = jax_mlp(x0, x1)
    y = np.sum(out)
    g0, g1 = dlgradient(y, x0, x1)
    z = np.sum(np.sin(g0)) + np.sum(np.sin(g1))
    return z, dlgradient(z, x0, x1)


def rev_unpack_tuple(x0):
    out = unpack_tuple(x0)
    y = np.sum(out)
    return out, dlgradient(y, x0)


def rev2_unpack_tuple(x0):
    out = unpack_tuple(x0)
    y = np.sum(out)
    g0 = dlgradient(y, x0)
    z = np.sum(np.sin(g0))
    return z, dlgradient(z, x0)


def rev3_unpack_tuple(x0):
    out = unpack_tuple(x0)
    y = np.sum(out)
    g0 = dlgradient(y, x0)
    z = np.sum(np.sin(g0))
    h0 = dlgradient(z, x0)
    w = np.sum(np.cos(h0))
    return w, dlgradient(w, x0)


def rev_first_of_tuple(x0):
    out = first_of_tuple(x0)
    y = np.sum(out)
    return out, dlgradient(y, x0)


def rev2_first_of_tuple(x0):
    out = first_of_tuple(x0)
    y = np.sum(out)
    g0 = dlgradient(y, x0)
    z = np.sum(np.sin(g0))
    return z, dlgradient(z, x0)


def rev3_first_of_tuple(x0):
    out = first_of_tuple(x0)
    y = np.sum(out)
    g0 = dlgradient(y, x0)
    z = np.sum(np.sin(g0))
    h0 = dlgradient(z, x0)
    w = np.sum(np.cos(h0))
    return w, dlgradient(w, x0)


def rev_build_dict_call(x0):
    out = build_dict_call(x0)
    y = np.sum(out)
    return out, dlgradient(y, x0)


def rev2_build_dict_call(x0):
    out = build_dict_call(x0)
    y = np.sum(out)
    g0 = dlgradient(y, x0)
    z = np.sum(np.sin(g0))
    return z, dlgradient(z, x0)


def rev3_build_dict_call(x0):
    out = build_dict_call(x0)
    y = np.sum(out)
    g0 = dlgradient(y, x0)
    z = np.sum(np.sin(g0))
    h0 = dlgradient(z, x0)
    w = np.sum(np.cos(h0))
    return w, dlgradient(w, x0)


def rev_dict_axpy(x0):
    out = dict_axpy(x0)
    y = np.sum(out)
    return out, dlgradient(y, x0)


def rev2_dict_axpy(x0):
    out = dict_axpy(x0)
    y = np.sum(out)
    g0 = dlgradient(y, x0)
    z = np.sum(np.sin(g0))
    return z, dlgradient(z, x0)


def rev3_dict_axpy(x0):
    out = dict_axpy(x0)
    y = np.sum(out)
    g0 = dlgradient(y, x0)
    z = np.sum(np.sin(g0))
    h0 = dlgradient(z, x0)
    w = np.sum(np.cos(h0))
    return w, dlgradient(w, x0)


def rev_nested_dict_prod(x0):
    out = nested_dict_prod(x0)
    y = np.sum(out)
    return out, dlgradient(y, x0)


def rev2_nested_dict_prod(x0):
    out = nested_dict_prod(x0)
    y = np.sum(out)
    g0 = dlgradient(y, x0)
    z = np.sum(np.sin(g0))
    return z, dlgradient(z, x0)


def rev3_nested_dict_prod(x0):
    out = nested_dict_prod(x0)
    y = np.sum(out)
    g0 = dlgradient(y, x0)
    z = np.sum(np.sin(g0))
    h0 = dlgradient(z, x0)
    w = np.sum(np.cos(h0))
    return w, dlgradient(w, x0)


def rev_dict_loop(x0):
    out = dict_loop(x0)
    y = np.sum(out)
    return out, dlgradient(y, x0)


def rev2_dict_loop(x0):
    out = dict_loop(x0)
    y = np.sum(out)
    g0 = dlgradient(y, x0)
    z = np.sum(np.sin(g0))
    return z, dlgradient(z, x0)


def rev3_dict_loop(x0):
    out = dict_loop(x0)
    y = np.sum(out)
    g0 = dlgradient(y, x0)
    z = np.sum(np.sin(g0))
    h0 = dlgradient(z, x0)
    w = np.sum(np.cos(h0))
    return w, dlgradient(w, x0)


def rev_pick_from_tuple(x0, x1, x2, c0):
    out = pick_from_tuple(x0, x1, x2, c0)
    y = np.sum(out)
    return out, dlgradient(y, x0, x1, x2)


def rev2_pick_from_tuple(x0, x1, x2, c0):
    out = pick_from_tuple(x0, x1, x2, c0)
    y = np.sum(out)
    g0, g1, g2 = dlgradient(y, x0, x1, x2)
    z = np.sum(np.sin(g0)) + np.sum(np.sin(g1)) + np.sum(np.sin(g2))
    return z, dlgradient(z, x0, x1, x2)


def rev_an_dot(x0, x1):
    out = an_dot(x0, x1)
    y = np.sum(out)
    return out, dlgradient(y, x0, x1)


def rev2_an_dot(x0, x1):
    out = an_dot(x0, x1)
    y = np.sum(out)
    g0, g1 = dlgradient(y, x0, x1)
    z = np.sum(np.sin(g0)) + np.sum(np.sin(g1))
    return z, dlgradient(z, x0, x1)


def rev_an_outer(x0, x1):
    out = an_outer(x0, x1)
    y = np.sum(out)
    return out, dlgradient(y, x0, x1)


def rev2_an_outer(x0, x1):
    out = an_outer(x0, x1)
    y = np.sum(out)
    g0, g1 = dlgradient(y, x0, x1)
    z = np.sum(np.sin(g0)) + np.sum(np.sin(g1))
    return z, dlgradient(z, x0, x1)


def rev_an_max_axis(x0):
    out = an_max_axis(x0)
    y = np.sum(out)
    return out, dlgradient(y, x0)


def rev2_an_max_axis(x0):
    out = an_max_axis(x0)
    y = np.sum(out)
    g0 = dlgradient(y, x0)
    z = np.sum(np.sin(g0))
    return z, dlgradient(z, x0)


def rev3_an_max_axis(x0):
    out = an_max_axis(x0)
    y = np.sum(out)
    g0 = dlgradient(y, x0)
    z = np.sum(np.sin(g0))
    h0 = dlgradient(z, x0)
    w = np.sum(np.cos(h0))
    return w, dlgradient(w, x0)


def rev_an_max_keep(x0):
    out = an_max_keep(x0)
    y = np.sum(out)
    return out, dlgradient(y, x0)


def rev2_an_max_keep(x0):
    out = an_max_keep(x0)
    y = np.sum(out)
    g0 = dlgradient(y, x0)
    z = np.sum(np.sin(g0))
    return z, dlgradient(z, x0)


def rev3_an_max_keep(x0):
    out = an_max_keep(x0)
    y = np.sum(out)
    g0 = dlgradient(y, x0)
    z = np.sum(np.sin(g0))
    h0 = dlgradient(z, x0)
    w = np.sum(np.cos(h0))
    return w, dlgradient(w, x0)


def rev_an_min_axis(x0):
    out = an_min_axis(x0)
    y = np.sum(out)
    return out, dlgradient(y, x0)


def rev2_an_min_axis(x0):
    out = an_min_axis(x0)
    y = np.sum(out)
    g0 = dlgradient(y, x0)
    z = np.sum(np.sin(g0))
    return z, dlgradient(z, x0)


def rev3_an_min_axis(x0):
    out = an_min_axis(x0)
    y = np.sum(out)
    g0 = dlgradient(y, x0)
    z = np.sum(np.sin(g0))
    h0 = dlgradient(z, x0)
    w = np.sum(np.cos(h0))
    return w, dlgradient(w, x0)


def rev_an_min_keep(x0):
    out = an_min_keep(x0)
    y = np.sum(out)
    return out, dlgradient(y, x0)


def rev2_an_min_keep(x0):
    out = an_min_keep(x0)
    y = np.sum(out)
    g0 = dlgradient(y, x0)
    z = np.sum(np.sin(g0))
    return z, dlgradient(z, x0)


def rev3_an_min_keep(x0):
    out = an_min_keep(x0)
    y = np.sum(out)
    g0 = dlgradient(y, x0)
    z = np.sum(np.sin(g0))
    h0 = dlgradient(z, x0)
    w = np.sum(np.cos(h0))
    return w, dlgradient(w, x0)


def rev_an_sum_axes(x0):
    out = an_sum_axes(x0)
    y = np.sum(out)
    return out, dlgradient(y, x0)


def rev2_an_sum_axes(x0):
    out = an_sum_axes(x0)
    y = np.sum(out)
    g0 = dlgradient(y, x0)
    z = np.sum(np.sin(g0))
    return z, dlgradient(z, x0)


def rev3_an_sum_axes(x0):
    out = an_sum_axes(x0)
    y = np.sum(out)
    g0 = dlgradient(y, x0)
    z = np.sum(np.sin(g0))
    h0 = dlgradient(z, x0)
    w = np.sum(np.cos(h0))
    return w, dlgradient(w, x0)


def rev_an_trace_extradims(x0):
    out = an_trace_extradims(x0)
    y = np.sum(out)
    return out, dlgradient(y, x0)


def rev2_an_trace_extradims(x0):
    out = an_trace_extradims(x0)
    y = np.sum(out)
    g0 = dlgradient(y, x0)
    z = np.sum(np.sin(g0))
    return z, dlgradient(z, x0)


def rev3_an_trace_extradims(x0):
    out = an_trace_extradims(x0)
    y = np.sum(out)
    g0 = dlgradient(y, x0)
    z = np.sum(np.sin(g0))
    h0 = dlgradient(z, x0)
    w = np.sum(np.cos(h0))
    return w, dlgradient(w, x0)


def rev_an_index_ints(x0):
    out = an_index_ints(x0)
    y = np.sum(out)
    return out, dlgradient(y, x0)


def rev2_an_index_ints(x0):
    out = an_index_ints(x0)
    y = np.sum(out)
    g0 = dlgradient(y, x0)
    z = np.sum(np.sin(g0))
    return z, dlgradient(z, x0)


def rev3_an_index_ints(x0):
    out = an_index_ints(x0)
    y = np.sum(out)
    g0 = dlgradient(y, x0)
    z = np.sum(np.sin(g0))
    h0 = dlgradient(z, x0)
    w = np.sum(np.cos(h0))
    return w, dlgradient(w, x0)


def rev_an_index_slice(x0):
    out = an_index_slice(x0)
    y = np.sum(out)
    return out, dlgradient(y, x0)


def rev2_an_index_slice(x0):
    out = an_index_slice(x0)
    y = np.sum(out)
    g0 = dlgradient(y, x0)
    z = np.sum(np.sin(g0))
    return z, dlgradient(z, x0)


def rev3_an_index_slice(x0):
    out = an_index_slice(x0)
    y = np.sum(out)
    g0 = dlgradient(y, x0)
    z = np.sum(np.sin(g0))
    h0 = dlgradient(z, x0)
    w = np.sum(np.cos(h0))
    return w, dlgradient(w, x0)


def rev_an_index_lists(x0):
    out = an_index_lists(x0)
    y = np.sum(out)
    return out, dlgradient(y, x0)


def rev2_an_index_lists(x0):
    out = an_index_lists(x0)
    y = np.sum(out)
    g0 = dlgradient(y, x0)
    z = np.sum(np.sin(g0))
    return z, dlgradient(z, x0)


def rev3_an_index_lists(x0):
    out = an_index_lists(x0)
    y = np.sum(out)
    g0 = dlgradient(y, x0)
    z = np.sum(np.sin(g0))
    h0 = dlgradient(z, x0)
    w = np.sum(np.cos(h0))
    return w, dlgradient(w, x0)


def rev_an_index_mixed(x0):
    out = an_index_mixed(x0)
    y = np.sum(out)
    return out, dlgradient(y, x0)


def rev2_an_index_mixed(x0):
    out = an_index_mixed(x0)
    y = np.sum(out)
    g0 = dlgradient(y, x0)
    z = np.sum(np.sin(g0))
    return z, dlgradient(z, x0)


def rev3_an_index_mixed(x0):
    out = an_index_mixed(x0)
    y = np.sum(out)
    g0 = dlgradient(y, x0)
    z = np.sum(np.sin(g0))
    h0 = dlgradient(z, x0)
    w = np.sum(np.cos(h0))
    return w, dlgradient(w, x0)


def rev_an_slice_fanout(x0):
    out = an_slice_fanout(x0)
    y = np.sum(out)
    return out, dlgradient(y, x0)


def rev2_an_slice_fanout(x0):
    out = an_slice_fanout(x0)
    y = np.sum(out)
    g0 = dlgradient(y, x0)
    z = np.sum(np.sin(g0))
    return z, dlgradient(z, x0)


def rev3_an_slice_fanout(x0):
    out = an_slice_fanout(x0)
    y = np.sum(out)
    g0 = dlgradient(y, x0)
    z = np.sum(np.sin(g0))
    h0 = dlgradient(z, x0)
    w = np.sum(np.cos(h0))
    return w, dlgradient(w, x0)


def rev_an_repeat1(x0):
    out = an_repeat1(x0)
    y = np.sum(out)
    return out, dlgradient(y, x0)


def rev2_an_repeat1(x0):
    out = an_repeat1(x0)
    y = np.sum(out)
    g0 = dlgradient(y, x0)
    z = np.sum(np.sin(g0))
    return z, dlgradient(z, x0)


def rev3_an_repeat1(x0):
    out = an_repeat1(x0)
    y = np.sum(out)
    g0 = dlgradient(y, x0)
    z = np.sum(np.sin(g0))
    h0 = dlgradient(z, x0)
    w = np.sum(np.cos(h0))
    return w, dlgradient(w, x0)


def rev_an_transpose_axes(x0):
    out = an_transpose_axes(x0)
    y = np.sum(out)
    return out, dlgradient(y, x0)


def rev2_an_transpose_axes(x0):
    out = an_transpose_axes(x0)
    y = np.sum(out)
    g0 = dlgradient(y, x0)
    z = np.sum(np.sin(g0))
    return z, dlgradient(z, x0)


def rev3_an_transpose_axes(x0):
    out = an_transpose_axes(x0)
    y = np.sum(out)
    g0 = dlgradient(y, x0)
    z = np.sum(np.sin(g0))
    h0 = dlgradient(z, x0)
    w = np.sum(np.cos(h0))
    return w, dlgradient(w, x0)


def rev_an_sum_axis0(x0):
    out = an_sum_axis0(x0)
    y = np.sum(out)
    return out, dlgradient(y, x0)


def rev2_an_sum_axis0(x0):
    out = an_sum_axis0(x0)
    y = np.sum(out)
    g0 = dlgradient(y, x0)
    z = np.sum(np.sin(g0))
    return z, dlgradient(z, x0)


def rev3_an_sum_axis0(x0):
    out = an_sum_axis0(x0)
    y = np.sum(out)
    g0 = dlgradient(y, x0)
    z = np.sum(np.sin(g0))
    h0 = dlgradient(z, x0)
    w = np.sum(np.cos(h0))
    return w, dlgradient(w, x0)


def rev_an_sum_keep(x0):
    out = an_sum_keep(x0)
    y = np.sum(out)
    return out, dlgradient(y, x0)


def rev2_an_sum_keep(x0):
    out = an_sum_keep(x0)
    y = np.sum(out)
    g0 = dlgradient(y, x0)
    z = np.sum(np.sin(g0))
    return z, dlgradient(z, x0)


def rev3_an_sum_keep(x0):
    out = an_sum_keep(x0)
    y = np.sum(out)
    g0 = dlgradient(y, x0)
    z = np.sum(np.sin(g0))
    h0 = dlgradient(z, x0)
    w = np.sum(np.cos(h0))
    return w, dlgradient(w, x0)


def rev_an_flipud(x0):
    out = an_flipud(x0)
    y = np.sum(out)
    return out, dlgradient(y, x0)


def rev2_an_flipud(x0):
    out = an_flipud(x0)
    y = np.sum(out)
    g0 = dlgradient(y, x0)
    z = np.sum(np.sin(g0))
    return z, dlgradient(z, x0)


def rev3_an_flipud(x0):
    out = an_flipud(x0)
    y = np.sum(out)
    g0 = dlgradient(y, x0)
    z = np.sum(np.sin(g0))
    h0 = dlgradient(z, x0)
    w = np.sum(np.cos(h0))
    return w, dlgradient(w, x0)


def rev_an_fliplr(x0):
    out = an_fliplr(x0)
    y = np.sum(out)
    return out, dlgradient(y, x0)


def rev2_an_fliplr(x0):
    out = an_fliplr(x0)
    y = np.sum(out)
    g0 = dlgradient(y, x0)
    z = np.sum(np.sin(g0))
    return z, dlgradient(z, x0)


def rev3_an_fliplr(x0):
    out = an_fliplr(x0)
    y = np.sum(out)
    g0 = dlgradient(y, x0)
    z = np.sum(np.sin(g0))
    h0 = dlgradient(z, x0)
    w = np.sum(np.cos(h0))
    return w, dlgradient(w, x0)


def rev_an_rot90(x0):
    out = an_rot90(x0)
    y = np.sum(out)
    return out, dlgradient(y, x0)


def rev2_an_rot90(x0):
    out = an_rot90(x0)
    y = np.sum(out)
    g0 = dlgradient(y, x0)
    z = np.sum(np.sin(g0))
    return z, dlgradient(z, x0)


def rev3_an_rot90(x0):
    out = an_rot90(x0)
    y = np.sum(out)
    g0 = dlgradient(y, x0)
    z = np.sum(np.sin(g0))
    h0 = dlgradient(z, x0)
    w = np.sum(np.cos(h0))
    return w, dlgradient(w, x0)


def rev_an_cumsum0(x0):
    out = an_cumsum0(x0)
    y = np.sum(out)
    return out, dlgradient(y, x0)


def rev2_an_cumsum0(x0):
    out = an_cumsum0(x0)
    y = np.sum(out)
    g0 = dlgradient(y, x0)
    z = np.sum(np.sin(g0))
    return z, dlgradient(z, x0)


def rev3_an_cumsum0(x0):
    out = an_cumsum0(x0)
    y = np.sum(out)
    g0 = dlgradient(y, x0)
    z = np.sum(np.sin(g0))
    h0 = dlgradient(z, x0)
    w = np.sum(np.cos(h0))
    return w, dlgradient(w, x0)


def rev_an_cumsum1(x0):
    out = an_cumsum1(x0)
    y = np.sum(out)
    return out, dlgradient(y, x0)


def rev2_an_cumsum1(x0):
    out = an_cumsum1(x0)
    y = np.sum(out)
    g0 = dlgradient(y, x0)
    z = np.sum(np.sin(g0))
    return z, dlgradient(z, x0)


def rev3_an_cumsum1(x0):
    out = an_cumsum1(x0)
    y = np.sum(out)
    g0 = dlgradient(y, x0)
    z = np.sum(np.sin(g0))
    h0 = dlgradient(z, x0)
    w = np.sum(np.cos(h0))
    return w, dlgradient(w, x0)


def rev_an_cumsum_flat(x0):
    out = an_cumsum_flat(x0)
    y = np.sum(out)
    return out, dlgradient(y, x0)


def rev2_an_cumsum_flat(x0):
    out = an_cumsum_flat(x0)
    y = np.sum(out)
    g0 = dlgradient(y, x0)
    z = np.sum(np.sin(g0))
    return z, dlgradient(z, x0)


def rev3_an_cumsum_flat(x0):
    out = an_cumsum_flat(x0)
    y = np.sum(out)
    g0 = dlgradient(y, x0)
    z = np.sum(np.sin(g0))
    h0 = dlgradient(z, x0)
    w = np.sum(np.cos(h0))
    return w, dlgradient(w, x0)


def rev_an_mean0(x0):
    out = an_mean0(x0)
    y = np.sum(out)
    return out, dlgradient(y, x0)


def rev2_an_mean0(x0):
    out = an_mean0(x0)
    y = np.sum(out)
    g0 = dlgradient(y, x0)
    z = np.sum(np.sin(g0))
    return z, dlgradient(z, x0)


def rev3_an_mean0(x0):
    out = an_mean0(x0)
    y = np.sum(out)
    g0 = dlgradient(y, x0)
    z = np.sum(np.sin(g0))
    h0 = dlgradient(z, x0)
    w = np.sum(np.cos(h0))
    return w, dlgradient(w, x0)


def rev_an_mean_keep(x0):
    out = an_mean_keep(x0)
    y = np.sum(out)
    return out, dlgradient(y, x0)


def rev2_an_mean_keep(x0):
    out = an_mean_keep(x0)
    y = np.sum(out)
    g0 = dlgradient(y, x0)
    z = np.sum(np.sin(g0))
    return z, dlgradient(z, x0)


def rev3_an_mean_keep(x0):
    out = an_mean_keep(x0)
    y = np.sum(out)
    g0 = dlgradient(y, x0)
    z = np.sum(np.sin(g0))
    h0 = dlgradient(z, x0)
    w = np.sum(np.cos(h0))
    return w, dlgradient(w, x0)


def rev_an_trace_offset(x0):
    out = an_trace_offset(x0)
    y = np.sum(out)
    return out, dlgradient(y, x0)


def rev2_an_trace_offset(x0):
    out = an_trace_offset(x0)
    y = np.sum(out)
    g0 = dlgradient(y, x0)
    z = np.sum(np.sin(g0))
    return z, dlgradient(z, x0)


def rev3_an_trace_offset(x0):
    out = an_trace_offset(x0)
    y = np.sum(out)
    g0 = dlgradient(y, x0)
    z = np.sum(np.sin(g0))
    h0 = dlgradient(z, x0)
    w = np.sum(np.cos(h0))
    return w, dlgradient(w, x0)


def rev_an_T(x0):
    out = an_T(x0)
    y = np.sum(out)
    return out, dlgradient(y, x0)


def rev2_an_T(x0):
    out = an_T(x0)
    y = np.sum(out)
    g0 = dlgradient(y, x0)
    z = np.sum(np.sin(g0))
    return z, dlgradient(z, x0)


def rev3_an_T(x0):
    out = an_T(x0)
    y = np.sum(out)
    g0 = dlgradient(y, x0)
    z = np.sum(np.sin(g0))
    h0 = dlgradient(z, x0)
    w = np.sum(np.cos(h0))
    return w, dlgradient(w, x0)


def rev_an_roll_axis(x0):
    out = an_roll_axis(x0)
    y = np.sum(out)
    return out, dlgradient(y, x0)


def rev2_an_roll_axis(x0):
    out = an_roll_axis(x0)
    y = np.sum(out)
    g0 = dlgradient(y, x0)
    z = np.sum(np.sin(g0))
    return z, dlgradient(z, x0)


def rev3_an_roll_axis(x0):
    out = an_roll_axis(x0)
    y = np.sum(out)
    g0 = dlgradient(y, x0)
    z = np.sum(np.sin(g0))
    h0 = dlgradient(z, x0)
    w = np.sum(np.cos(h0))
    return w, dlgradient(w, x0)


def rev_an_roll_flat(x0):
    out = an_roll_flat(x0)
    y = np.sum(out)
    return out, dlgradient(y, x0)


def rev2_an_roll_flat(x0):
    out = an_roll_flat(x0)
    y = np.sum(out)
    g0 = dlgradient(y, x0)
    z = np.sum(np.sin(g0))
    return z, dlgradient(z, x0)


def rev3_an_roll_flat(x0):
    out = an_roll_flat(x0)
    y = np.sum(out)
    g0 = dlgradient(y, x0)
    z = np.sum(np.sin(g0))
    h0 = dlgradient(z, x0)
    w = np.sum(np.cos(h0))
    return w, dlgradient(w, x0)


def rev_an_triu_k(x0):
    out = an_triu_k(x0)
    y = np.sum(out)
    return out, dlgradient(y, x0)


def rev2_an_triu_k(x0):
    out = an_triu_k(x0)
    y = np.sum(out)
    g0 = dlgradient(y, x0)
    z = np.sum(np.sin(g0))
    return z, dlgradient(z, x0)


def rev3_an_triu_k(x0):
    out = an_triu_k(x0)
    y = np.sum(out)
    g0 = dlgradient(y, x0)
    z = np.sum(np.sin(g0))
    h0 = dlgradient(z, x0)
    w = np.sum(np.cos(h0))
    return w, dlgradient(w, x0)


def rev_an_tril_k(x0):
    out = an_tril_k(x0)
    y = np.sum(out)
    return out, dlgradient(y, x0)


def rev2_an_tril_k(x0):
    out = an_tril_k(x0)
    y = np.sum(out)
    g0 = dlgradient(y, x0)
    z = np.sum(np.sin(g0))
    return z, dlgradient(z, x0)


def rev3_an_tril_k(x0):
    out = an_tril_k(x0)
    y = np.sum(out)
    g0 = dlgradient(y, x0)
    z = np.sum(np.sin(g0))
    h0 = dlgradient(z, x0)
    w = np.sum(np.cos(h0))
    return w, dlgradient(w, x0)


def rev_an_clip_kw(x0):
    out = an_clip_kw(x0)
    y = np.sum(out)
    return out, dlgradient(y, x0)


def rev2_an_clip_kw(x0):
    out = an_clip_kw(x0)
    y = np.sum(out)
    g0 = dlgradient(y, x0)
    z = np.sum(np.sin(g0))
    return z, dlgradient(z, x0)


def rev3_an_clip_kw(x0):
    out = an_clip_kw(x0)
    y = np.sum(out)
    g0 = dlgradient(y, x0)
    z = np.sum(np.sin(g0))
    h0 = dlgradient(z, x0)
    w = np.sum(np.cos(h0))
    return w, dlgradient(w, x0)


def rev_an_var_ddof(x0):
    out = an_var_ddof(x0)
    y = np.sum(out)
    return out, dlgradient(y, x0)


def rev2_an_var_ddof(x0):
    out = an_var_ddof(x0)
    y = np.sum(out)
    g0 = dlgradient(y, x0)
    z = np.sum(np.sin(g0))
    return z, dlgradient(z, x0)


def rev3_an_var_ddof(x0):
    out = an_var_ddof(x0)
    y = np.sum(out)
    g0 = dlgradient(y, x0)
    z = np.sum(np.sin(g0))
    h0 = dlgradient(z, x0)
    w = np.sum(np.cos(h0))
    return w, dlgradient(w, x0)


def rev_an_std_ddof(x0):
    out = an_std_ddof(x0)
    y = np.sum(out)
    return out, dlgradient(y, x0)


def rev2_an_std_ddof(x0):
    out = an_std_ddof(x0)
    y = np.sum(out)
    g0 = dlgradient(y, x0)
    z = np.sum(np.sin(g0))
    return z, dlgradient(z, x0)


def rev3_an_std_ddof(x0):
    out = an_std_ddof(x0)
    y = np.sum(out)
    g0 = dlgradient(y, x0)
    z = np.sum(np.sin(g0))
    h0 = dlgradient(z, x0)
    w = np.sum(np.cos(h0))
    return w, dlgradient(w, x0)


def rev_an_repeat0(x0):
    out = an_repeat0(x0)
    y = np.sum(out)
    return out, dlgradient(y, x0)


def rev2_an_repeat0(x0):
    out = an_repeat0(x0)
    y = np.sum(out)
    g0 = dlgradient(y, x0)
    z = np.sum(np.sin(g0))
    return z, dlgradient(z, x0)


def rev3_an_repeat0(x0):
    out = an_repeat0(x0)
    y = np.sum(out)
    g0 = dlgradient(y, x0)
    z = np.sum(np.sin(g0))
    h0 = dlgradient(z, x0)
    w = np.sum(np.cos(h0))
    return w, dlgradient(w, x0)


def rev_an_diagonal(x0):
    out = an_diagonal(x0)
    y = np.sum(out)
    return out, dlgradient(y, x0)


def rev2_an_diagonal(x0):
    out = an_diagonal(x0)
    y = np.sum(out)
    g0 = dlgradient(y, x0)
    z = np.sum(np.sin(g0))
    return z, dlgradient(z, x0)


def rev3_an_diagonal(x0):
    out = an_diagonal(x0)
    y = np.sum(out)
    g0 = dlgradient(y, x0)
    z = np.sum(np.sin(g0))
    h0 = dlgradient(z, x0)
    w = np.sum(np.cos(h0))
    return w, dlgradient(w, x0)


def rev_an_diag(x0):
    out = an_diag(x0)
    y = np.sum(out)
    return out, dlgradient(y, x0)


def rev2_an_diag(x0):
    out = an_diag(x0)
    y = np.sum(out)
    g0 = dlgradient(y, x0)
    z = np.sum(np.sin(g0))
    return z, dlgradient(z, x0)


def rev3_an_diag(x0):
    out = an_diag(x0)
    y = np.sum(out)
    g0 = dlgradient(y, x0)
    z = np.sum(np.sin(g0))
    h0 = dlgradient(z, x0)
    w = np.sum(np.cos(h0))
    return w, dlgradient(w, x0)


def rev_an_builtin_sum(x0, x1):
    out = an_builtin_sum(x0, x1)
    y = np.sum(out)
    return out, dlgradient(y, x0, x1)


def rev2_an_builtin_sum(x0, x1):
    out = an_builtin_sum(x0, x1)
    y = np.sum(out)
    g0, g1 = dlgradient(y, x0, x1)
    z = np.sum(np.sin(g0)) + np.sum(np.sin(g1))
    return z, dlgradient(z, x0, x1)


def rev_an_vector_slice(x0):
    out = an_vector_slice(x0)
    y = np.sum(out)
    return out, dlgradient(y, x0)


def rev2_an_vector_slice(x0):
    out = an_vector_slice(x0)
    y = np.sum(out)
    g0 = dlgradient(y, x0)
    z = np.sum(np.sin(g0))
    return z, dlgradient(z, x0)


def rev3_an_vector_slice(x0):
    out = an_vector_slice(x0)
    y = np.sum(out)
    g0 = dlgradient(y, x0)
    z = np.sum(np.sin(g0))
    h0 = dlgradient(z, x0)
    w = np.sum(np.cos(h0))
    return w, dlgradient(w, x0)


def rev_an_slice_of_slice(x0):
    out = an_slice_of_slice(x0)
    y = np.sum(out)
    return out, dlgradient(y, x0)


def rev2_an_slice_of_slice(x0):
    out = an_slice_of_slice(x0)
    y = np.sum(out)
    g0 = dlgradient(y, x0)
    z = np.sum(np.sin(g0))
    return z, dlgradient(z, x0)


def rev3_an_slice_of_slice(x0):
    out = an_slice_of_slice(x0)
    y = np.sum(out)
    g0 = dlgradient(y, x0)
    z = np.sum(np.sin(g0))
    h0 = dlgradient(z, x0)
    w = np.sum(np.cos(h0))
    return w, dlgradient(w, x0)


def rev_an_split_first(x0):
    out = an_split_first(x0)
    y = np.sum(out)
    return out, dlgradient(y, x0)


def rev2_an_split_first(x0):
    out = an_split_first(x0)
    y = np.sum(out)
    g0 = dlgradient(y, x0)
    z = np.sum(np.sin(g0))
    return z, dlgradient(z, x0)


def rev3_an_split_first(x0):
    out = an_split_first(x0)
    y = np.sum(out)
    g0 = dlgradient(y, x0)
    z = np.sum(np.sin(g0))
    h0 = dlgradient(z, x0)
    w = np.sum(np.cos(h0))
    return w, dlgradient(w, x0)


def rev_an_reshape_method(x0):
    out = an_reshape_method(x0)
    y = np.sum(out)
    return out, dlgradient(y, x0)


def rev2_an_reshape_method(x0):
    out = an_reshape_method(x0)
    y = np.sum(out)
    g0 = dlgradient(y, x0)
    z = np.sum(np.sin(g0))
    return z, dlgradient(z, x0)


def rev3_an_reshape_method(x0):
    out = an_reshape_method(x0)
    y = np.sum(out)
    g0 = dlgradient(y, x0)
    z = np.sum(np.sin(g0))
    h0 = dlgradient(z, x0)
    w = np.sum(np.cos(h0))
    return w, dlgradient(w, x0)


def rev_an_reshape_call(x0):
    out = an_reshape_call(x0)
    y = np.sum(out)
    return out, dlgradient(y, x0)


def rev2_an_reshape_call(x0):
    out = an_reshape_call(x0)
    y = np.sum(out)
    g0 = dlgradient(y, x0)
    z = np.sum(np.sin(g0))
    return z, dlgradient(z, x0)


def rev3_an_reshape_call(x0):
    out = an_reshape_call(x0)
    y = np.sum(out)
    g0 = dlgradient(y, x0)
    z = np.sum(np.sin(g0))
    h0 = dlgradient(z, x0)
    w = np.sum(np.cos(h0))
    return w, dlgradient(w, x0)


def rev_an_reshape_nolist(x0):
    out = an_reshape_nolist(x0)
    y = np.sum(out)
    return out, dlgradient(y, x0)


def rev2_an_reshape_nolist(x0):
    out = an_reshape_nolist(x0)
    y = np.sum(out)
    g0 = dlgradient(y, x0)
    z = np.sum(np.sin(g0))
    return z, dlgradient(z, x0)


def rev3_an_reshape_nolist(x0):
    out = an_reshape_nolist(x0)
    y = np.sum(out)
    g0 = dlgradient(y, x0)
    z = np.sum(np.sin(g0))
    h0 = dlgradient(z, x0)
    w = np.sum(np.cos(h0))
    return w, dlgradient(w, x0)


def rev_an_ravel_method(x0):
    out = an_ravel_method(x0)
    y = np.sum(out)
    return out, dlgradient(y, x0)


def rev2_an_ravel_method(x0):
    out = an_ravel_method(x0)
    y = np.sum(out)
    g0 = dlgradient(y, x0)
    z = np.sum(np.sin(g0))
    return z, dlgradient(z, x0)


def rev3_an_ravel_method(x0):
    out = an_ravel_method(x0)
    y = np.sum(out)
    g0 = dlgradient(y, x0)
    z = np.sum(np.sin(g0))
    h0 = dlgradient(z, x0)
    w = np.sum(np.cos(h0))
    return w, dlgradient(w, x0)


def rev_an_ravel_call(x0):
    out = an_ravel_call(x0)
    y = np.sum(out)
    return out, dlgradient(y, x0)


def rev2_an_ravel_call(x0):
    out = an_ravel_call(x0)
    y = np.sum(out)
    g0 = dlgradient(y, x0)
    z = np.sum(np.sin(g0))
    return z, dlgradient(z, x0)


def rev3_an_ravel_call(x0):
    out = an_ravel_call(x0)
    y = np.sum(out)
    g0 = dlgradient(y, x0)
    z = np.sum(np.sin(g0))
    h0 = dlgradient(z, x0)
    w = np.sum(np.cos(h0))
    return w, dlgradient(w, x0)


def rev_an_flatten(x0):
    out = an_flatten(x0)
    y = np.sum(out)
    return out, dlgradient(y, x0)


def rev2_an_flatten(x0):
    out = an_flatten(x0)
    y = np.sum(out)
    g0 = dlgradient(y, x0)
    z = np.sum(np.sin(g0))
    return z, dlgradient(z, x0)


def rev3_an_flatten(x0):
    out = an_flatten(x0)
    y = np.sum(out)
    g0 = dlgradient(y, x0)
    z = np.sum(np.sin(g0))
    h0 = dlgradient(z, x0)
    w = np.sum(np.cos(h0))
    return w, dlgradient(w, x0)


def rev_an_concat_axis1(x0):
    out = an_concat_axis1(x0)
    y = np.sum(out)
    return out, dlgradient(y, x0)


def rev2_an_concat_axis1(x0):
    out = an_concat_axis1(x0)
    y = np.sum(out)
    g0 = dlgradient(y, x0)
    z = np.sum(np.sin(g0))
    return z, dlgradient(z, x0)


def rev3_an_concat_axis1(x0):
    out = an_concat_axis1(x0)
    y = np.sum(out)
    g0 = dlgradient(y, x0)
    z = np.sum(np.sin(g0))
    h0 = dlgradient(z, x0)
    w = np.sum(np.cos(h0))
    return w, dlgradient(w, x0)


def rev_an_concat_axis1_pos(x0):
    out = an_concat_axis1_pos(x0)
    y = np.sum(out)
    return out, dlgradient(y, x0)


def rev2_an_concat_axis1_pos(x0):
    out = an_concat_axis1_pos(x0)
    y = np.sum(out)
    g0 = dlgradient(y, x0)
    z = np.sum(np.sin(g0))
    return z, dlgradient(z, x0)


def rev3_an_concat_axis1_pos(x0):
    out = an_concat_axis1_pos(x0)
    y = np.sum(out)
    g0 = dlgradient(y, x0)
    z = np.sum(np.sin(g0))
    h0 = dlgradient(z, x0)
    w = np.sum(np.cos(h0))
    return w, dlgradient(w, x0)


def rev_an_concat_const(x0):
    out = an_concat_const(x0)
    y = np.sum(out)
    return out, dlgradient(y, x0)


def rev2_an_concat_const(x0):
    out = an_concat_const(x0)
    y = np.sum(out)
    g0 = dlgradient(y, x0)
    z = np.sum(np.sin(g0))
    return z, dlgradient(z, x0)


def rev3_an_concat_const(x0):
    out = an_concat_const(x0)
    y = np.sum(out)
    g0 = dlgradient(y, x0)
    z = np.sum(np.sin(g0))
    h0 = dlgradient(z, x0)
    w = np.sum(np.cos(h0))
    return w, dlgradient(w, x0)


def rev_an_append(x0, x1):
    out = an_append(x0, x1)
    y = np.sum(out)
    return out, dlgradient(y, x0, x1)


def rev2_an_append(x0, x1):
    out = an_append(x0, x1)
    y = np.sum(out)
    g0, g1 = dlgradient(y, x0, x1)
    z = np.sum(np.sin(g0)) + np.sum(np.sin(g1))
    return z, dlgradient(z, x0, x1)


def rev_an_prod_all(x0):
    out = an_prod_all(x0)
    y = np.sum(out)
    return out, dlgradient(y, x0)


def rev2_an_prod_all(x0):
    out = an_prod_all(x0)
    y = np.sum(out)
    g0 = dlgradient(y, x0)
    z = np.sum(np.sin(g0))
    return z, dlgradient(z, x0)


def rev3_an_prod_all(x0):
    out = an_prod_all(x0)
    y = np.sum(out)
    g0 = dlgradient(y, x0)
    z = np.sum(np.sin(g0))
    h0 = dlgradient(z, x0)
    w = np.sum(np.cos(h0))
    return w, dlgradient(w, x0)


def rev_an_prod_axis(x0):
    out = an_prod_axis(x0)
    y = np.sum(out)
    return out, dlgradient(y, x0)


def rev2_an_prod_axis(x0):
    out = an_prod_axis(x0)
    y = np.sum(out)
    g0 = dlgradient(y, x0)
    z = np.sum(np.sin(g0))
    return z, dlgradient(z, x0)


def rev3_an_prod_axis(x0):
    out = an_prod_axis(x0)
    y = np.sum(out)
    g0 = dlgradient(y, x0)
    z = np.sum(np.sin(g0))
    h0 = dlgradient(z, x0)
    w = np.sum(np.cos(h0))
    return w, dlgradient(w, x0)


def rev_an_prod_keep(x0):
    out = an_prod_keep(x0)
    y = np.sum(out)
    return out, dlgradient(y, x0)


def rev2_an_prod_keep(x0):
    out = an_prod_keep(x0)
    y = np.sum(out)
    g0 = dlgradient(y, x0)
    z = np.sum(np.sin(g0))
    return z, dlgradient(z, x0)


def rev3_an_prod_keep(x0):
    out = an_prod_keep(x0)
    y = np.sum(out)
    g0 = dlgradient(y, x0)
    z = np.sum(np.sin(g0))
    h0 = dlgradient(z, x0)
    w = np.sum(np.cos(h0))
    return w, dlgradient(w, x0)


def rev_an_array_1d(x0):
    out = an_array_1d(x0)
    y = np.sum(out)
    return out, dlgradient(y, x0)


def rev2_an_array_1d(x0):
    out = an_array_1d(x0)
    y = np.sum(out)
    g0 = dlgradient(y, x0)
    z = np.sum(np.sin(g0))
    return z, dlgradient(z, x0)


def rev3_an_array_1d(x0):
    out = an_array_1d(x0)
    y = np.sum(out)
    g0 = dlgradient(y, x0)
    z = np.sum(np.sin(g0))
    h0 = dlgradient(z, x0)
    w = np.sum(np.cos(h0))
    return w, dlgradient(w, x0)


def rev_an_array_2d(x0):
    out = an_array_2d(x0)
    y = np.sum(out)
    return out, dlgradient(y, x0)


def rev2_an_array_2d(x0):
    out = an_array_2d(x0)
    y = np.sum(out)
    g0 = dlgradient(y, x0)
    z = np.sum(np.sin(g0))
    return z, dlgradient(z, x0)


def rev3_an_array_2d(x0):
    out = an_array_2d(x0)
    y = np.sum(out)
    g0 = dlgradient(y, x0)
    z = np.sum(np.sin(g0))
    h0 = dlgradient(z, x0)
    w = np.sum(np.cos(h0))
    return w, dlgradient(w, x0)


def rev_an_array_fanout(x0):
    out = an_array_fanout(x0)
    y = np.sum(out)
    return out, dlgradient(y, x0)


def rev2_an_array_fanout(x0):
    out = an_array_fanout(x0)
    y = np.sum(out)
    g0 = dlgradient(y, x0)
    z = np.sum(np.sin(g0))
    return z, dlgradient(z, x0)


def rev3_an_array_fanout(x0):
    out = an_array_fanout(x0)
    y = np.sum(out)
    g0 = dlgradient(y, x0)
    z = np.sum(np.sin(g0))
    h0 = dlgradient(z, x0)
    w = np.sum(np.cos(h0))
    return w, dlgradient(w, x0)


def rev_an_array_scalar(x0):
    out = an_array_scalar(x0)
    y = np.sum(out)
    return out, dlgradient(y, x0)


def rev2_an_array_scalar(x0):
    out = an_array_scalar(x0)
    y = np.sum(out)
    g0 = dlgradient(y, x0)
    z = np.sum(np.sin(g0))
    return z, dlgradient(z, x0)


def rev3_an_array_scalar(x0):
    out = an_array_scalar(x0)
    y = np.sum(out)
    g0 = dlgradient(y, x0)
    z = np.sum(np.sin(g0))
    h0 = dlgradient(z, x0)
    w = np.sum(np.cos(h0))
    return w, dlgradient(w, x0)


def rev_an_tensordot_pos(x0):
    out = an_tensordot_pos(x0)
    y = np.sum(out)
    return out, dlgradient(y, x0)


def rev2_an_tensordot_pos(x0):
    out = an_tensordot_pos(x0)
    y = np.sum(out)
    g0 = dlgradient(y, x0)
    z = np.sum(np.sin(g0))
    return z, dlgradient(z, x0)


def rev3_an_tensordot_pos(x0):
    out = an_tensordot_pos(x0)
    y = np.sum(out)
    g0 = dlgradient(y, x0)
    z = np.sum(np.sin(g0))
    h0 = dlgradient(z, x0)
    w = np.sum(np.cos(h0))
    return w, dlgradient(w, x0)


def rev_an_max_tie(x0):
    out = an_max_tie(x0)
    y = np.sum(out)
    return out, dlgradient(y, x0)


def rev2_an_max_tie(x0):
    out = an_max_tie(x0)
    y = np.sum(out)
    g0 = dlgradient(y, x0)
    z = np.sum(np.sin(g0))
    return z, dlgradient(z, x0)


def rev3_an_max_tie(x0):
    out = an_max_tie(x0)
    y = np.sum(out)
    g0 = dlgradient(y, x0)
    z = np.sum(np.sin(g0))
    h0 = dlgradient(z, x0)
    w = np.sum(np.cos(h0))
    return w, dlgradient(w, x0)


def rev_an_max_tie_2d(x0):
    out = an_max_tie_2d(x0)
    y = np.sum(out)
    return out, dlgradient(y, x0)


def rev2_an_max_tie_2d(x0):
    out = an_max_tie_2d(x0)
    y = np.sum(out)
    g0 = dlgradient(y, x0)
    z = np.sum(np.sin(g0))
    return z, dlgradient(z, x0)


def rev3_an_max_tie_2d(x0):
    out = an_max_tie_2d(x0)
    y = np.sum(out)
    g0 = dlgradient(y, x0)
    z = np.sum(np.sin(g0))
    h0 = dlgradient(z, x0)
    w = np.sum(np.cos(h0))
    return w, dlgradient(w, x0)


def rev_an_min_tie3(x0):
    out = an_min_tie3(x0)
    y = np.sum(out)
    return out, dlgradient(y, x0)


def rev2_an_min_tie3(x0):
    out = an_min_tie3(x0)
    y = np.sum(out)
    g0 = dlgradient(y, x0)
    z = np.sum(np.sin(g0))
    return z, dlgradient(z, x0)


def rev3_an_min_tie3(x0):
    out = an_min_tie3(x0)
    y = np.sum(out)
    g0 = dlgradient(y, x0)
    z = np.sum(np.sin(g0))
    h0 = dlgradient(z, x0)
    w = np.sum(np.cos(h0))
    return w, dlgradient(w, x0)


def rev_an_maximum_self(x0):
    out = an_maximum_self(x0)
    y = np.sum(out)
    return out, dlgradient(y, x0)


def rev2_an_maximum_self(x0):
    out = an_maximum_self(x0)
    y = np.sum(out)
    g0 = dlgradient(y, x0)
    z = np.sum(np.sin(g0))
    return z, dlgradient(z, x0)


def rev3_an_maximum_self(x0):
    out = an_maximum_self(x0)
    y = np.sum(out)
    g0 = dlgradient(y, x0)
    z = np.sum(np.sin(g0))
    h0 = dlgradient(z, x0)
    w = np.sum(np.cos(h0))
    return w, dlgradient(w, x0)


def rev_an_maximum_tie_2d(x0):
    out = an_maximum_tie_2d(x0)
    y = np.sum(out)
    return out, dlgradient(y, x0)


def rev2_an_maximum_tie_2d(x0):
    out = an_maximum_tie_2d(x0)
    y = np.sum(out)
    g0 = dlgradient(y, x0)
    z = np.sum(np.sin(g0))
    return z, dlgradient(z, x0)


def rev3_an_maximum_tie_2d(x0):
    out = an_maximum_tie_2d(x0)
    y = np.sum(out)
    g0 = dlgradient(y, x0)
    z = np.sum(np.sin(g0))
    h0 = dlgradient(z, x0)
    w = np.sum(np.cos(h0))
    return w, dlgradient(w, x0)


def rev_an_atleast(x0):
    out = an_atleast(x0)
    y = np.sum(out)
    return out, dlgradient(y, x0)


def rev2_an_atleast(x0):
    out = an_atleast(x0)
    y = np.sum(out)
    g0 = dlgradient(y, x0)
    z = np.sum(np.sin(g0))
    return z, dlgradient(z, x0)


def rev3_an_atleast(x0):
    out = an_atleast(x0)
    y = np.sum(out)
    g0 = dlgradient(y, x0)
    z = np.sum(np.sin(g0))
    h0 = dlgradient(z, x0)
    w = np.sum(np.cos(h0))
    return w, dlgradient(w, x0)


def rev_an_array_of_arrays(x0):
    out = an_array_of_arrays(x0)
    y = np.sum(out)
    return out, dlgradient(y, x0)


def rev2_an_array_of_arrays(x0):
    out = an_array_of_arrays(x0)
    y = np.sum(out)
    g0 = dlgradient(y, x0)
    z = np.sum(np.sin(g0))
    return z, dlgradient(z, x0)


def rev3_an_array_of_arrays(x0):
    out = an_array_of_arrays(x0)
    y = np.sum(out)
    g0 = dlgradient(y, x0)
    z = np.sum(np.sin(g0))
    h0 = dlgradient(z, x0)
    w = np.sum(np.cos(h0))
    return w, dlgradient(w, x0)


def rev_an_array_nested(x0):
    out = an_array_nested(x0)
    y = np.sum(out)
    return out, dlgradient(y, x0)


def rev2_an_array_nested(x0):
    out = an_array_nested(x0)
    y = np.sum(out)
    g0 = dlgradient(y, x0)
    z = np.sum(np.sin(g0))
    return z, dlgradient(z, x0)


def rev3_an_array_nested(x0):
    out = an_array_nested(x0)
    y = np.sum(out)
    g0 = dlgradient(y, x0)
    z = np.sum(np.sin(g0))
    h0 = dlgradient(z, x0)
    w = np.sum(np.cos(h0))
    return w, dlgradient(w, x0)


def rev_an_len(x0):
    out = an_len(x0)
    y = np.sum(out)
    return out, dlgradient(y, x0)


def rev2_an_len(x0):
    out = an_len(x0)
    y = np.sum(out)
    g0 = dlgradient(y, x0)
    z = np.sum(np.sin(g0))
    return z, dlgradient(z, x0)


def rev3_an_len(x0):
    out = an_len(x0)
    y = np.sum(out)
    g0 = dlgradient(y, x0)
    z = np.sum(np.sin(g0))
    h0 = dlgradient(z, x0)
    w = np.sum(np.cos(h0))
    return w, dlgradient(w, x0)


def rev_an_r_basic(x0):
    out = an_r_basic(x0)
    y = np.sum(out)
    return out, dlgradient(y, x0)


def rev2_an_r_basic(x0):
    out = an_r_basic(x0)
    y = np.sum(out)
    g0 = dlgradient(y, x0)
    z = np.sum(np.sin(g0))
    return z, dlgradient(z, x0)


def rev3_an_r_basic(x0):
    out = an_r_basic(x0)
    y = np.sum(out)
    g0 = dlgradient(y, x0)
    z = np.sum(np.sin(g0))
    h0 = dlgradient(z, x0)
    w = np.sum(np.cos(h0))
    return w, dlgradient(w, x0)


def rev_an_r_double(x0):
    out = an_r_double(x0)
    y = np.sum(out)
    return out, dlgradient(y, x0)


def rev2_an_r_double(x0):
    out = an_r_double(x0)
    y = np.sum(out)
    g0 = dlgradient(y, x0)
    z = np.sum(np.sin(g0))
    return z, dlgradient(z, x0)


def rev3_an_r_double(x0):
    out = an_r_double(x0)
    y = np.sum(out)
    g0 = dlgradient(y, x0)
    z = np.sum(np.sin(g0))
    h0 = dlgradient(z, x0)
    w = np.sum(np.cos(h0))
    return w, dlgradient(w, x0)


def rev_an_no_relation(x0):
    out = an_no_relation(x0)
    y = np.sum(out)
    return out, dlgradient(y, x0)


def rev2_an_no_relation(x0):
    out = an_no_relation(x0)
    y = np.sum(out)
    g0 = dlgradient(y, x0)
    z = np.sum(np.sin(g0))
    return z, dlgradient(z, x0)


def rev3_an_no_relation(x0):
    out = an_no_relation(x0)
    y = np.sum(out)
    g0 = dlgradient(y, x0)
    z = np.sum(np.sin(g0))
    h0 = dlgradient(z, x0)
    w = np.sum(np.cos(h0))
    return w, dlgradient(w, x0)


def rev_an_r_mixed(x0):
    out = an_r_mixed(x0)
    y = np.sum(out)
    return out, dlgradient(y, x0)


def rev2_an_r_mixed(x0):
    out = an_r_mixed(x0)
    y = np.sum(out)
    g0 = dlgradient(y, x0)
    z = np.sum(np.sin(g0))
    return z, dlgradient(z, x0)


def rev3_an_r_mixed(x0):
    out = an_r_mixed(x0)
    y = np.sum(out)
    g0 = dlgradient(y, x0)
    z = np.sum(np.sin(g0))
    h0 = dlgradient(z, x0)
    w = np.sum(np.cos(h0))
    return w, dlgradient(w, x0)


def rev_an_c_mixed(x0):
    out = an_c_mixed(x0)
    y = np.sum(out)
    return out, dlgradient(y, x0)


def rev2_an_c_mixed(x0):
    out = an_c_mixed(x0)
    y = np.sum(out)
    g0 = dlgradient(y, x0)
    z = np.sum(np.sin(g0))
    return z, dlgradient(z, x0)


def rev3_an_c_mixed(x0):
    out = an_c_mixed(x0)
    y = np.sum(out)
    g0 = dlgradient(y, x0)
    z = np.sum(np.sin(g0))
    h0 = dlgradient(z, x0)
    w = np.sum(np.cos(h0))
    return w, dlgradient(w, x0)


def rev_an_squeeze_fn(x0):
    out = an_squeeze_fn(x0)
    y = np.sum(out)
    return out, dlgradient(y, x0)


def rev2_an_squeeze_fn(x0):
    out = an_squeeze_fn(x0)
    y = np.sum(out)
    g0 = dlgradient(y, x0)
    z = np.sum(np.sin(g0))
    return z, dlgradient(z, x0)


def rev3_an_squeeze_fn(x0):
    out = an_squeeze_fn(x0)
    y = np.sum(out)
    g0 = dlgradient(y, x0)
    z = np.sum(np.sin(g0))
    h0 = dlgradient(z, x0)
    w = np.sum(np.cos(h0))
    return w, dlgradient(w, x0)


def rev_an_squeeze_method(x0):
    out = an_squeeze_method(x0)
    y = np.sum(out)
    return out, dlgradient(y, x0)


def rev2_an_squeeze_method(x0):
    out = an_squeeze_method(x0)
    y = np.sum(out)
    g0 = dlgradient(y, x0)
    z = np.sum(np.sin(g0))
    return z, dlgradient(z, x0)


def rev3_an_squeeze_method(x0):
    out = an_squeeze_method(x0)
    y = np.sum(out)
    g0 = dlgradient(y, x0)
    z = np.sum(np.sin(g0))
    h0 = dlgradient(z, x0)
    w = np.sum(np.cos(h0))
    return w, dlgradient(w, x0)


def rev_an_expand(x0):
    out = an_expand(x0)
    y = np.sum(out)
    return out, dlgradient(y, x0)


def rev2_an_expand(x0):
    out = an_expand(x0)
    y = np.sum(out)
    g0 = dlgradient(y, x0)
    z = np.sum(np.sin(g0))
    return z, dlgradient(z, x0)


def rev3_an_expand(x0):
    out = an_expand(x0)
    y = np.sum(out)
    g0 = dlgradient(y, x0)
    z = np.sum(np.sin(g0))
    h0 = dlgradient(z, x0)
    w = np.sum(np.cos(h0))
    return w, dlgradient(w, x0)


def rev_an_where_mask(x0, x1):
    out = an_where_mask(x0, x1)
    y = np.sum(out)
    return out, dlgradient(y, x0, x1)


def rev2_an_where_mask(x0, x1):
    out = an_where_mask(x0, x1)
    y = np.sum(out)
    g0, g1 = dlgradient(y, x0, x1)
    z = np.sum(np.sin(g0)) + np.sum(np.sin(g1))
    return z, dlgradient(z, x0, x1)


def rev_an_multi_index(x0):
    out = an_multi_index(x0)
    y = np.sum(out)
    return out, dlgradient(y, x0)


def rev2_an_multi_index(x0):
    out = an_multi_index(x0)
    y = np.sum(out)
    g0 = dlgradient(y, x0)
    z = np.sum(np.sin(g0))
    return z, dlgradient(z, x0)


def rev3_an_multi_index(x0):
    out = an_multi_index(x0)
    y = np.sum(out)
    g0 = dlgradient(y, x0)
    z = np.sum(np.sin(g0))
    h0 = dlgradient(z, x0)
    w = np.sum(np.cos(h0))
    return w, dlgradient(w, x0)


def rev_an_multi_index2(x0):
    out = an_multi_index2(x0)
    y = np.sum(out)
    return out, dlgradient(y, x0)


def rev2_an_multi_index2(x0):
    out = an_multi_index2(x0)
    y = np.sum(out)
    g0 = dlgradient(y, x0)
    z = np.sum(np.sin(g0))
    return z, dlgradient(z, x0)


def rev3_an_multi_index2(x0):
    out = an_multi_index2(x0)
    y = np.sum(out)
    g0 = dlgradient(y, x0)
    z = np.sum(np.sin(g0))
    h0 = dlgradient(z, x0)
    w = np.sum(np.cos(h0))
    return w, dlgradient(w, x0)


def rev_an_index_dot(x0):
    out = an_index_dot(x0)
    y = np.sum(out)
    return out, dlgradient(y, x0)


def rev2_an_index_dot(x0):
    out = an_index_dot(x0)
    y = np.sum(out)
    g0 = dlgradient(y, x0)
    z = np.sum(np.sin(g0))
    return z, dlgradient(z, x0)


def rev3_an_index_dot(x0):
    out = an_index_dot(x0)
    y = np.sum(out)
    g0 = dlgradient(y, x0)
    z = np.sum(np.sin(g0))
    h0 = dlgradient(z, x0)
    w = np.sum(np.cos(h0))
    return w, dlgradient(w, x0)


def rev_an_cast_int(x0):
    out = an_cast_int(x0)
    y = np.sum(out)
    return out, dlgradient(y, x0)


def rev2_an_cast_int(x0):
    out = an_cast_int(x0)
    y = np.sum(out)
    g0 = dlgradient(y, x0)
    z = np.sum(np.sin(g0))
    return z, dlgradient(z, x0)


def rev3_an_cast_int(x0):
    out = an_cast_int(x0)
    y = np.sum(out)
    g0 = dlgradient(y, x0)
    z = np.sum(np.sin(g0))
    h0 = dlgradient(z, x0)
    w = np.sum(np.cos(h0))
    return w, dlgradient(w, x0)


def rev_an_nan_to_num(x0):
    out = an_nan_to_num(x0)
    y = np.sum(out)
    return out, dlgradient(y, x0)


def rev2_an_nan_to_num(x0):
    out = an_nan_to_num(x0)
    y = np.sum(out)
    g0 = dlgradient(y, x0)
    z = np.sum(np.sin(g0))
    return z, dlgradient(z, x0)


def rev3_an_nan_to_num(x0):
    out = an_nan_to_num(x0)
    y = np.sum(out)
    g0 = dlgradient(y, x0)
    z = np.sum(np.sin(g0))
    h0 = dlgradient(z, x0)
    w = np.sum(np.cos(h0))
    return w, dlgradient(w, x0)


def rev_an_linspace5(x0, x1):
    out = an_linspace5(x0, x1)
    y = np.sum(out)
    return out, dlgradient(y, x0, x1)


def rev2_an_linspace5(x0, x1):
    out = an_linspace5(x0, x1)
    y = np.sum(out)
    g0, g1 = dlgradient(y, x0, x1)
    z = np.sum(np.sin(g0)) + np.sum(np.sin(g1))
    return z, dlgradient(z, x0, x1)


def rev_an_linspace1(x0, x1):
    out = an_linspace1(x0, x1)
    y = np.sum(out)
    return out, dlgradient(y, x0, x1)


def rev2_an_linspace1(x0, x1):
    out = an_linspace1(x0, x1)
    y = np.sum(out)
    g0, g1 = dlgradient(y, x0, x1)
    z = np.sum(np.sin(g0)) + np.sum(np.sin(g1))
    return z, dlgradient(z, x0, x1)


def rev_an_einsum_three(x0, x1, x2):
    out = an_einsum_three(x0, x1, x2)
    y = np.sum(out)
    return out, dlgradient(y, x0, x1, x2)


def rev2_an_einsum_three(x0, x1, x2):
    out = an_einsum_three(x0, x1, x2)
    y = np.sum(out)
    g0, g1, g2 = dlgradient(y, x0, x1, x2)
    z = np.sum(np.sin(g0)) + np.sum(np.sin(g1)) + np.sum(np.sin(g2))
    return z, dlgradient(z, x0, x1, x2)


def rev_an_einsum_ellipsis(x0, x1):
    out = an_einsum_ellipsis(x0, x1)
    y = np.sum(out)
    return out, dlgradient(y, x0, x1)


def rev2_an_einsum_ellipsis(x0, x1):
    out = an_einsum_ellipsis(x0, x1)
    y = np.sum(out)
    g0, g1 = dlgradient(y, x0, x1)
    z = np.sum(np.sin(g0)) + np.sum(np.sin(g1))
    return z, dlgradient(z, x0, x1)


def rev_an_tensordot_axes(x0, x1):
    out = an_tensordot_axes(x0, x1)
    y = np.sum(out)
    return out, dlgradient(y, x0, x1)


def rev2_an_tensordot_axes(x0, x1):
    out = an_tensordot_axes(x0, x1)
    y = np.sum(out)
    g0, g1 = dlgradient(y, x0, x1)
    z = np.sum(np.sin(g0)) + np.sum(np.sin(g1))
    return z, dlgradient(z, x0, x1)


def rev_an_partition(x0):
    out = an_partition(x0)
    y = np.sum(out)
    return out, dlgradient(y, x0)


def rev2_an_partition(x0):
    out = an_partition(x0)
    y = np.sum(out)
    g0 = dlgradient(y, x0)
    z = np.sum(np.sin(g0))
    return z, dlgradient(z, x0)


def rev3_an_partition(x0):
    out = an_partition(x0)
    y = np.sum(out)
    g0 = dlgradient(y, x0)
    z = np.sum(np.sin(g0))
    h0 = dlgradient(z, x0)
    w = np.sum(np.cos(h0))
    return w, dlgradient(w, x0)


def rev_an_logaddexp(x0, x1):
    out = an_logaddexp(x0, x1)
    y = np.sum(out)
    return out, dlgradient(y, x0, x1)


def rev2_an_logaddexp(x0, x1):
    out = an_logaddexp(x0, x1)
    y = np.sum(out)
    g0, g1 = dlgradient(y, x0, x1)
    z = np.sum(np.sin(g0)) + np.sum(np.sin(g1))
    return z, dlgradient(z, x0, x1)


def rev_an_minimum_bcast(x0, x1):
    out = an_minimum_bcast(x0, x1)
    y = np.sum(out)
    return out, dlgradient(y, x0, x1)


def rev2_an_minimum_bcast(x0, x1):
    out = an_minimum_bcast(x0, x1)
    y = np.sum(out)
    g0, g1 = dlgradient(y, x0, x1)
    z = np.sum(np.sin(g0)) + np.sum(np.sin(g1))
    return z, dlgradient(z, x0, x1)


def rev_an_remainder(x0, x1):
    out = an_remainder(x0, x1)
    y = np.sum(out)
    return out, dlgradient(y, x0, x1)


def rev2_an_remainder(x0, x1):
    out = an_remainder(x0, x1)
    y = np.sum(out)
    g0, g1 = dlgradient(y, x0, x1)
    z = np.sum(np.sin(g0)) + np.sum(np.sin(g1))
    return z, dlgradient(z, x0, x1)


def rev_an_true_divide(x0, x1):
    out = an_true_divide(x0, x1)
    y = np.sum(out)
    return out, dlgradient(y, x0, x1)


def rev2_an_true_divide(x0, x1):
    out = an_true_divide(x0, x1)
    y = np.sum(out)
    g0, g1 = dlgradient(y, x0, x1)
    z = np.sum(np.sin(g0)) + np.sum(np.sin(g1))
    return z, dlgradient(z, x0, x1)


def rev_an_pow_op(x0, x1):
    out = an_pow_op(x0, x1)
    y = np.sum(out)
    return out, dlgradient(y, x0, x1)


def rev2_an_pow_op(x0, x1):
    out = an_pow_op(x0, x1)
    y = np.sum(out)
    g0, g1 = dlgradient(y, x0, x1)
    z = np.sum(np.sin(g0)) + np.sum(np.sin(g1))
    return z, dlgradient(z, x0, x1)


def rev_an_unary_misc(x0):
    out = an_unary_misc(x0)
    y = np.sum(out)
    return out, dlgradient(y, x0)


def rev2_an_unary_misc(x0):
    out = an_unary_misc(x0)
    y = np.sum(out)
    g0 = dlgradient(y, x0)
    z = np.sum(np.sin(g0))
    return z, dlgradient(z, x0)


def rev3_an_unary_misc(x0):
    out = an_unary_misc(x0)
    y = np.sum(out)
    g0 = dlgradient(y, x0)
    z = np.sum(np.sin(g0))
    h0 = dlgradient(z, x0)
    w = np.sum(np.cos(h0))
    return w, dlgradient(w, x0)


def rev_an_arccosh(x0):
    out = an_arccosh(x0)
    y = np.sum(out)
    return out, dlgradient(y, x0)


def rev2_an_arccosh(x0):
    out = an_arccosh(x0)
    y = np.sum(out)
    g0 = dlgradient(y, x0)
    z = np.sum(np.sin(g0))
    return z, dlgradient(z, x0)


def rev3_an_arccosh(x0):
    out = an_arccosh(x0)
    y = np.sum(out)
    g0 = dlgradient(y, x0)
    z = np.sum(np.sin(g0))
    h0 = dlgradient(z, x0)
    w = np.sum(np.cos(h0))
    return w, dlgradient(w, x0)


def rev_an_real_imag(x0):
    out = an_real_imag(x0)
    y = np.sum(out)
    return out, dlgradient(y, x0)


def rev2_an_real_imag(x0):
    out = an_real_imag(x0)
    y = np.sum(out)
    g0 = dlgradient(y, x0)
    z = np.sum(np.sin(g0))
    return z, dlgradient(z, x0)


def rev3_an_real_imag(x0):
    out = an_real_imag(x0)
    y = np.sum(out)
    g0 = dlgradient(y, x0)
    z = np.sum(np.sin(g0))
    h0 = dlgradient(z, x0)
    w = np.sum(np.cos(h0))
    return w, dlgradient(w, x0)


def rev_implicit_iter(x0):
    out = implicit_iter(x0)
    y = np.sum(out)
    return out, dlgradient(y, x0)


def rev2_implicit_iter(x0):
    out = implicit_iter(x0)
    y = np.sum(out)
    g0 = dlgradient(y, x0)
    z = np.sum(np.sin(g0))
    return z, dlgradient(z, x0)


def rev3_implicit_iter(x0):
    out = implicit_iter(x0)
    y = np.sum(out)
    g0 = dlgradient(y, x0)
    z = np.sum(np.sin(g0))
    h0 = dlgradient(z, x0)
    w = np.sum(np.cos(h0))
    return w, dlgradient(w, x0)


def rev_sqrt_either_sign(x0):
    out = sqrt_either_sign(x0)
    y = np.sum(out)
    return out, dlgradient(y, x0)


def rev2_sqrt_either_sign(x0):
    out = sqrt_either_sign(x0)
    y = np.sum(out)
    g0 = dlgradient(y, x0)
    z = np.sum(np.sin(g0))
    return z, dlgradient(z, x0)


def rev3_sqrt_either_sign(x0):
    out = sqrt_either_sign(x0)
    y = np.sum(out)
    g0 = dlgradient(y, x0)
    z = np.sum(np.sin(g0))
    h0 = dlgradient(z, x0)
    w = np.sum(np.cos(h0))
    return w, dlgradient(w, x0)


def rev_np_trig(x0):
    out = np_trig(x0)
    y = np.sum(out)
    return out, dlgradient(y, x0)


def rev2_np_trig(x0):
    out = np_trig(x0)
    y = np.sum(out)
    g0 = dlgradient(y, x0)
    z = np.sum(np.sin(g0))
    return z, dlgradient(z, x0)


def rev3_np_trig(x0):
    out = np_trig(x0)
    y = np.sum(out)
    g0 = dlgradient(y, x0)
    z = np.sum(np.sin(g0))
    h0 = dlgradient(z, x0)
    w = np.sum(np.cos(h0))
    return w, dlgradient(w, x0)


def rev_np_arctrig(x0):
    out = np_arctrig(x0)
    y = np.sum(out)
    return out, dlgradient(y, x0)


def rev2_np_arctrig(x0):
    out = np_arctrig(x0)
    y = np.sum(out)
    g0 = dlgradient(y, x0)
    z = np.sum(np.sin(g0))
    return z, dlgradient(z, x0)


def rev3_np_arctrig(x0):
    out = np_arctrig(x0)
    y = np.sum(out)
    g0 = dlgradient(y, x0)
    z = np.sum(np.sin(g0))
    h0 = dlgradient(z, x0)
    w = np.sum(np.cos(h0))
    return w, dlgradient(w, x0)


def rev_pow_either_sign(x0, x1):
    out = pow_either_sign(x0, x1)
    y = np.sum(out)
    return out, dlgradient(y, x0, x1)


def rev2_pow_either_sign(x0, x1):
    out = pow_either_sign(x0, x1)
    y = np.sum(out)
    g0, g1 = dlgradient(y, x0, x1)
    z = np.sum(np.sin(g0)) + np.sum(np.sin(g1))
    return z, dlgradient(z, x0, x1)


def rev_atleast_sums(x0):
    out = atleast_sums(x0)
    y = np.sum(out)
    return out, dlgradient(y, x0)


def rev2_atleast_sums(x0):
    out = atleast_sums(x0)
    y = np.sum(out)
    g0 = dlgradient(y, x0)
    z = np.sum(np.sin(g0))
    return z, dlgradient(z, x0)


def rev3_atleast_sums(x0):
    out = atleast_sums(x0)
    y = np.sum(out)
    g0 = dlgradient(y, x0)
    z = np.sum(np.sin(g0))
    h0 = dlgradient(z, x0)
    w = np.sum(np.cos(h0))
    return w, dlgradient(w, x0)


def rev_det_square(x0):
    out = det_square(x0)
    y = np.sum(out)
    return out, dlgradient(y, x0)


def rev2_det_square(x0):
    out = det_square(x0)
    y = np.sum(out)
    g0 = dlgradient(y, x0)
    z = np.sum(np.sin(g0))
    return z, dlgradient(z, x0)


def rev3_det_square(x0):
    out = det_square(x0)
    y = np.sum(out)
    g0 = dlgradient(y, x0)
    z = np.sum(np.sin(g0))
    h0 = dlgradient(z, x0)
    w = np.sum(np.cos(h0))
    return w, dlgradient(w, x0)


def rev_polar_out_positional(x0, x1):
    out = polar_out_positional(x0, x1)
    y = np.sum(out[0]) + np.sum(out[1])
    return out, dlgradient(y, x0, x1)


def rev2_polar_out_positional(x0, x1):
    out = polar_out_positional(x0, x1)
    y = np.sum(out[0]) + np.sum(out[1])
    g0, g1 = dlgradient(y, x0, x1)
    z = np.sum(np.sin(g0)) + np.sum(np.sin(g1))
    return z, dlgradient(z, x0, x1)


def rev_my_null(x0, x1):
    out = my_null(x0, x1)
    y = np.sum(out)
    return out, dlgradient(y, x0, x1)


def rev2_my_null(x0, x1):
    out = my_null(x0, x1)
    y = np.sum(out)
    g0, g1 = dlgradient(y, x0, x1)
    z = np.sum(np.sin(g0)) + np.sum(np.sin(g1))
    return z, dlgradient(z, x0, x1)


def rev_my_expr(x0, x1):
    out = my_expr(x0, x1)
    y = np.sum(out)
    return out, dlgradient(y, x0, x1)


def rev2_my_expr(x0, x1):
    out = my_expr(x0, x1)
    y = np.sum(out)
    g0, g1 = dlgradient(y, x0, x1)
    z = np.sum(np.sin(g0)) + np.sum(np.sin(g1))
    return z, dlgradient(z, x0, x1)


def rev_my_quadruple(x0):
    out = my_quadruple(x0)
    y = np.sum(out)
    return out, dlgradient(y, x0)


def rev2_my_quadruple(x0):
    out = my_quadruple(x0)
    y = np.sum(out)
    g0 = dlgradient(y, x0)
    z = np.sum(np.sin(g0))
    return z, dlgradient(z, x0)


def rev3_my_quadruple(x0):
    out = my_quadruple(x0)
    y = np.sum(out)
    g0 = dlgradient(y, x0)
    z = np.sum(np.sin(g0))
    h0 = dlgradient(z, x0)
    w = np.sum(np.cos(h0))
    return w, dlgradient(w, x0)


def rev_my_tuples(x0, x1):
    out = my_tuples(x0, x1)
    y = np.sum(out)
    return out, dlgradient(y, x0, x1)


def rev2_my_tuples(x0, x1):
    out = my_tuples(x0, x1)
    y = np.sum(out)
    g0, g1 = dlgradient(y, x0, x1)
    z = np.sum(np.sin(g0)) + np.sum(np.sin(g1))
    return z, dlgradient(z, x0, x1)


def rev_my_dataclass(x0):
    out = my_dataclass(x0)
    y = np.sum(out)
    return out, dlgradient(y, x0)


def rev2_my_dataclass(x0):
    out = my_dataclass(x0)
    y = np.sum(out)
    g0 = dlgradient(y, x0)
    z = np.sum(np.sin(g0))
    return z, dlgradient(z, x0)


def rev3_my_dataclass(x0):
    out = my_dataclass(x0)
    y = np.sum(out)
    g0 = dlgradient(y, x0)
    z = np.sum(np.sin(g0))
    h0 = dlgradient(z, x0)
    w = np.sum(np.cos(h0))
    return w, dlgradient(w, x0)


def rev_my_dataclass_method(x0):
    out = my_dataclass_method(x0)
    y = np.sum(out)
    return out, dlgradient(y, x0)


def rev2_my_dataclass_method(x0):
    out = my_dataclass_method(x0)
    y = np.sum(out)
    g0 = dlgradient(y, x0)
    z = np.sum(np.sin(g0))
    return z, dlgradient(z, x0)


def rev3_my_dataclass_method(x0):
    out = my_dataclass_method(x0)
    y = np.sum(out)
    g0 = dlgradient(y, x0)
    z = np.sum(np.sin(g0))
    h0 = dlgradient(z, x0)
    w = np.sum(np.cos(h0))
    return w, dlgradient(w, x0)


def rev_my_hof(x0, x1):
    out = my_hof(x0, x1)
    y = np.sum(out)
    return out, dlgradient(y, x0, x1)


def rev2_my_hof(x0, x1):
    out = my_hof(x0, x1)
    y = np.sum(out)
    g0, g1 = dlgradient(y, x0, x1)
    z = np.sum(np.sin(g0)) + np.sum(np.sin(g1))
    return z, dlgradient(z, x0, x1)


def rev_my_hof_tup(x0, x1):
    out = my_hof_tup(x0, x1)
    y = np.sum(out)
    return out, dlgradient(y, x0, x1)


def rev2_my_hof_tup(x0, x1):
    out = my_hof_tup(x0, x1)
    y = np.sum(out)
    g0, g1 = dlgradient(y, x0, x1)
    z = np.sum(np.sin(g0)) + np.sum(np.sin(g1))
    return z, dlgradient(z, x0, x1)


def rev_my_simple_closure(x0, x1):
    out = my_simple_closure(x0, x1)
    y = np.sum(out)
    return out, dlgradient(y, x0, x1)


def rev2_my_simple_closure(x0, x1):
    out = my_simple_closure(x0, x1)
    y = np.sum(out)
    g0, g1 = dlgradient(y, x0, x1)
    z = np.sum(np.sin(g0)) + np.sum(np.sin(g1))
    return z, dlgradient(z, x0, x1)


def rev_my_closure_of_closure(x0):
    out = my_closure_of_closure(x0)
    y = np.sum(out)
    return out, dlgradient(y, x0)


def rev2_my_closure_of_closure(x0):
    out = my_closure_of_closure(x0)
    y = np.sum(out)
    g0 = dlgradient(y, x0)
    z = np.sum(np.sin(g0))
    return z, dlgradient(z, x0)


def rev3_my_closure_of_closure(x0):
    out = my_closure_of_closure(x0)
    y = np.sum(out)
    g0 = dlgradient(y, x0)
    z = np.sum(np.sin(g0))
    h0 = dlgradient(z, x0)
    w = np.sum(np.cos(h0))
    return w, dlgradient(w, x0)


def rev_my_if_return(x0, x1):
    out = my_if_return(x0, x1)
    y = np.sum(out)
    return out, dlgradient(y, x0, x1)


def rev2_my_if_return(x0, x1):
    out = my_if_return(x0, x1)
    y = np.sum(out)
    g0, g1 = dlgradient(y, x0, x1)
    z = np.sum(np.sin(g0)) + np.sum(np.sin(g1))
    return z, dlgradient(z, x0, x1)


def rev_my_if2(x0, x1):
    out = my_if2(x0, x1)
    y = np.sum(out)
    return out, dlgradient(y, x0, x1)


def rev2_my_if2(x0, x1):
    out = my_if2(x0, x1)
    y = np.sum(out)
    g0, g1 = dlgradient(y, x0, x1)
    z = np.sum(np.sin(g0)) + np.sum(np.sin(g1))
    return z, dlgradient(z, x0, x1)


def rev_my_fact_traced(x0):
    out = my_fact_traced(x0)
    y = np.sum(out)
    return out, dlgradient(y, x0)


def rev2_my_fact_traced(x0):
    out = my_fact_traced(x0)
    y = np.sum(out)
    g0 = dlgradient(y, x0)
    z = np.sum(np.sin(g0))
    return z, dlgradient(z, x0)


def rev3_my_fact_traced(x0):
    out = my_fact_traced(x0)
    y = np.sum(out)
    g0 = dlgradient(y, x0)
    z = np.sum(np.sin(g0))
    h0 = dlgradient(z, x0)
    w = np.sum(np.cos(h0))
    return w, dlgradient(w, x0)


def rev_my_while_square(x0):
    out = my_while_square(x0)
    y = np.sum(out)
    return out, dlgradient(y, x0)


def rev2_my_while_square(x0):
    out = my_while_square(x0)
    y = np.sum(out)
    g0 = dlgradient(y, x0)
    z = np.sum(np.sin(g0))
    return z, dlgradient(z, x0)


def rev3_my_while_square(x0):
    out = my_while_square(x0)
    y = np.sum(out)
    g0 = dlgradient(y, x0)
    z = np.sum(np.sin(g0))
    h0 = dlgradient(z, x0)
    w = np.sum(np.cos(h0))
    return w, dlgradient(w, x0)


def rev_my_while_2(x0, x1, x2):
    out = my_while_2(x0, x1, x2)
    y = np.sum(out)
    return out, dlgradient(y, x0, x1, x2)


def rev2_my_while_2(x0, x1, x2):
    out = my_while_2(x0, x1, x2)
    y = np.sum(out)
    g0, g1, g2 = dlgradient(y, x0, x1, x2)
    z = np.sum(np.sin(g0)) + np.sum(np.sin(g1)) + np.sum(np.sin(g2))
    return z, dlgradient(z, x0, x1, x2)


def rev_my_pow10(x0):
    out = my_pow10(x0)
    y = np.sum(out)
    return out, dlgradient(y, x0)


def rev2_my_pow10(x0):
    out = my_pow10(x0)
    y = np.sum(out)
    g0 = dlgradient(y, x0)
    z = np.sum(np.sin(g0))
    return z, dlgradient(z, x0)


def rev3_my_pow10(x0):
    out = my_pow10(x0)
    y = np.sum(out)
    g0 = dlgradient(y, x0)
    z = np.sum(np.sin(g0))
    h0 = dlgradient(z, x0)
    w = np.sum(np.cos(h0))
    return w, dlgradient(w, x0)


def rev_my_list_while(x0):
    out = my_list_while(x0)
    y = np.sum(out)
    return out, dlgradient(y, x0)


def rev2_my_list_while(x0):
    out = my_list_while(x0)
    y = np.sum(out)
    g0 = dlgradient(y, x0)
    z = np.sum(np.sin(g0))
    return z, dlgradient(z, x0)


def rev3_my_list_while(x0):
    out = my_list_while(x0)
    y = np.sum(out)
    g0 = dlgradient(y, x0)
    z = np.sum(np.sin(g0))
    h0 = dlgradient(z, x0)
    w = np.sum(np.cos(h0))
    return w, dlgradient(w, x0)


def rev_my_list_for(x0):
    out = my_list_for(x0)
    y = np.sum(out)
    return out, dlgradient(y, x0)


def rev2_my_list_for(x0):
    out = my_list_for(x0)
    y = np.sum(out)
    g0 = dlgradient(y, x0)
    z = np.sum(np.sin(g0))
    return z, dlgradient(z, x0)


def rev3_my_list_for(x0):
    out = my_list_for(x0)
    y = np.sum(out)
    g0 = dlgradient(y, x0)
    z = np.sum(np.sin(g0))
    h0 = dlgradient(z, x0)
    w = np.sum(np.cos(h0))
    return w, dlgradient(w, x0)


def rev_my_nested_closure(x0):
    out = my_nested_closure(x0)
    y = np.sum(out)
    return out, dlgradient(y, x0)


def rev2_my_nested_closure(x0):
    out = my_nested_closure(x0)
    y = np.sum(out)
    g0 = dlgradient(y, x0)
    z = np.sum(np.sin(g0))
    return z, dlgradient(z, x0)


def rev3_my_nested_closure(x0):
    out = my_nested_closure(x0)
    y = np.sum(out)
    g0 = dlgradient(y, x0)
    z = np.sum(np.sin(g0))
    h0 = dlgradient(z, x0)
    w = np.sum(np.cos(h0))
    return w, dlgradient(w, x0)


def rev_my_functions_in_tuples(x0, x1):
    out = my_functions_in_tuples(x0, x1)
    y = np.sum(out)
    return out, dlgradient(y, x0, x1)


def rev2_my_functions_in_tuples(x0, x1):
    out = my_functions_in_tuples(x0, x1)
    y = np.sum(out)
    g0, g1 = dlgradient(y, x0, x1)
    z = np.sum(np.sin(g0)) + np.sum(np.sin(g1))
    return z, dlgradient(z, x0, x1)


def rev_my_closures_in_tuples(x0, x1):
    out = my_closures_in_tuples(x0, x1)
    y = np.sum(out)
    return out, dlgradient(y, x0, x1)


def rev2_my_closures_in_tuples(x0, x1):
    out = my_closures_in_tuples(x0, x1)
    y = np.sum(out)
    g0, g1 = dlgradient(y, x0, x1)
    z = np.sum(np.sin(g0)) + np.sum(np.sin(g1))
    return z, dlgradient(z, x0, x1)


def rev_my_array_div(x0, x1):
    out = my_array_div(x0, x1)
    y = np.sum(out)
    return out, dlgradient(y, x0, x1)


def rev2_my_array_div(x0, x1):
    out = my_array_div(x0, x1)
    y = np.sum(out)
    g0, g1 = dlgradient(y, x0, x1)
    z = np.sum(np.sin(g0)) + np.sum(np.sin(g1))
    return z, dlgradient(z, x0, x1)


def rev_my_distribute(x0, x1):
    out = my_distribute(x0, x1)
    y = np.sum(out)
    return out, dlgradient(y, x0, x1)


def rev2_my_distribute(x0, x1):
    out = my_distribute(x0, x1)
    y = np.sum(out)
    g0, g1 = dlgradient(y, x0, x1)
    z = np.sum(np.sin(g0)) + np.sum(np.sin(g1))
    return z, dlgradient(z, x0, x1)


def rev_my_reshape_div(x0, x1):
    out = my_reshape_div(x0, x1)
    y = np.sum(out)
    return out, dlgradient(y, x0, x1)


def rev2_my_reshape_div(x0, x1):
    out = my_reshape_div(x0, x1)
    y = np.sum(out)
    g0, g1 = dlgradient(y, x0, x1)
    z = np.sum(np.sin(g0)) + np.sum(np.sin(g1))
    return z, dlgradient(z, x0, x1)


def rev_my_transpose_dot(x0, x1):
    out = my_transpose_dot(x0, x1)
    y = np.sum(out)
    return out, dlgradient(y, x0, x1)


def rev2_my_transpose_dot(x0, x1):
    out = my_transpose_dot(x0, x1)
    y = np.sum(out)
    g0, g1 = dlgradient(y, x0, x1)
    z = np.sum(np.sin(g0)) + np.sum(np.sin(g1))
    return z, dlgradient(z, x0, x1)

