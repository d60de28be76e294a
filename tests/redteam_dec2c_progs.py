"""Programs for tests/test_redteam_dec2c.py (sct reads their source)."""
import numpy as np

from sct import dlgradient

KEEP = []


class Holder:
    def __init__(self):
        self.t = None


def p_list(x):
    lst = []
    t = x * 2.0
    lst.append(t)
    u = t * 3.0
    return np.sum(u) + np.sum(lst[0] * lst[0])


def p_dict(x):
    d = {}
    t = x * 2.0 + 1.0
    d["t"] = t
    u = t * x
    return np.sum(u) + np.sum(d["t"] ** 2)


def p_second_output(x):
    t = x * 2.0
    u = t - 1.0
    return np.sum(u * u), t


def p_closure(x):
    t = x * 2.0
    f = lambda: t
    u = t * 3.0
    return np.sum(u) + np.sum(f() * x)


def p_view_slice(x):
    t = x * 2.0
    v = t[:5]
    u = t * 3.0
    return np.sum(u) + np.sum(v * v)


def p_view_T(x):
    t = x.reshape(60, 50) * 2.0
    v = t.T
    u = t * 3.0
    return np.sum(u) + np.sum(v[0] * v[1])


def p_view_reshape(x):
    t = x * 2.0
    v = t.reshape(60, 50)
    u = -t
    w = u * 3.0
    return np.sum(w) + np.sum(v[1] * v[2])


def p_asarray(x):
    t = x * 2.0
    v = np.asarray(t)
    u = t + 1.0
    return np.sum(u * u) + np.sum(v * x)


def p_base(x):
    t = x * 2.0
    w = t[1:]
    b = w.base
    u = t * 3.0
    return np.sum(u) + np.sum(b * x)


def p_two(a, b):
    t = a * b
    u = t + a
    v = u * b
    w = v - a
    return np.sum(w * w)


def p_mixed(a, b):
    t = a * 2.0          # a float32
    u = t + b            # b float64: promotes
    v = u * 3.0
    w = t * v
    return np.sum(w)


def p_int_arr(x, k):
    t = k * 2            # int array
    u = t + 1
    v = u / 3            # float
    w = v * x
    z = t * x
    return np.sum(w) + np.sum(z)


def p_neg(x):
    t = x * 1.0
    u = -t
    v = u * 1.0
    return np.sum(v * x), v


def p_loop(x):
    acc = []
    t = x * 1.0
    for i in range(3):
        u = t * 2.0
        acc.append(u)
        t = u + 1.0
    return np.sum(sum(np.sum(a * x) for a in acc))


def p_loop_store(x):
    h = Holder()
    t = x + 0.0
    for i in range(3):
        u = t * 2.0
        if i == 1:
            h.t = u
        t = u - 0.5
    return np.sum(t * x) + np.sum(h.t * x)


def p_global_keep(x):
    t = x * 2.0
    KEEP.append(t)
    u = t * 3.0
    return np.sum(u * x)


def p_slice_sum(x):
    a = x[1:] * x[:-1]
    b = a * 2.0 + x[1:]
    return np.sum(b * b)


def p_generator(x):
    ts = (x * float(i) for i in range(3))
    total = 0.0
    for t in ts:
        u = t * 2.0
        total = total + np.sum(u * x)
    return total


def p_branch(x, flag):
    t = x * 2.0
    if flag:
        u = t * 3.0
    else:
        u = t + 1.0
        t = u * 2.0
    v = u * t
    return np.sum(v)


def p_mean(x):
    return np.mean(x * x) + np.sum(np.mean(x.reshape(60, 50), axis=0) ** 2)


def p_pow(x):
    s = np.sum(x)
    a = s ** 2
    b = s ** 3
    return a + b + np.sum(x ** 2) ** 2


# --- hvp (type-only stand-ins) --------------------------------------------------------------------

def h_chain(x):
    return np.sum(np.sin(x) * x ** 2)


def h_sq_of_sum(x):
    s = np.sum(x * x)
    t = s * s / 2.0
    return t - s


def h_mean_div(x):
    a = x / 3.0
    b = -a
    c = b * x + 1.0
    return np.mean(c ** 3) / 2.0


def h_int_weights(x):
    k = np.arange(x.size) % 7
    t = x * k
    u = t + k
    return np.sum(u * x) + np.sum(k * 2)


def helper(u, w):
    return u * w + u


def h_loop(x):
    acc = x * 0.0
    for i in range(3):
        acc = helper(acc, x) + x * i
    return np.sum(acc * acc)


def h_branch(x):
    s = np.sum(x)
    if s > 0:
        y = np.sum(x ** 3)
    else:
        y = np.sum(x ** 2) * s
    return y


def h_returns_pow(x):
    y = np.sum(x ** 2)
    return y ** 2


def h_unused_big(x):
    big = x * 2.0 + 1.0
    bigger = big * big
    s = np.sum(bigger)
    return np.sum(x ** 3) + 0.0 * s


def h_float_int_mix(x):
    m = np.ones(x.shape, dtype=np.int32)
    t = x * m
    u = m - t
    return np.sum(u * u * x)


def h_nan_mask(x):
    t = x * x
    return np.sum(np.where(t > 0.5, t, 0.0) * x)


# --- cse sharing groups: containers built by arithmetic hold the same arrays ----------------------

def cse_list_repeat(x):
    z = np.ones(4)
    a = z * 2.0
    w = [z] * 2                   # a new list holding z twice
    w[0][1] = 5.0
    b = z * 2.0
    return np.sum(x * a) + np.sum(x * b)


def cse_list_concat(x):
    z = np.ones(4)
    a = z * 2.0
    w = [np.zeros(4)] + [z]       # a new list holding z
    w[1][1] = 5.0
    b = z * 2.0
    return np.sum(x * a) + np.sum(x * b)


def cse_tuple_concat(x):
    z = np.ones(4)
    a = z * 2.0
    w = (np.zeros(4),) + (z,)
    w[1][2] = 7.0
    b = z * 2.0
    return np.sum(x * a) + np.sum(x * b)


def cse_list_add_names(x):
    z = [np.ones(4)]
    a = z[0] * 2.0
    w = z + []
    w[0][1] = 5.0
    b = z[0] * 2.0
    return np.sum(x * a) + np.sum(x * b)


def cse_list_augadd(x):
    z = np.ones(4)
    a = z * 2.0
    w = []
    w += [z]
    w[0][1] = 5.0
    b = z * 2.0
    return np.sum(x * a) + np.sum(x * b)


def cse_list_readd(x):
    z = np.ones(4)
    a = z * 2.0
    w = [np.zeros(4)]
    w = w + [z]
    w[1][1] = 5.0
    b = z * 2.0
    return np.sum(x * a) + np.sum(x * b)


def cse_list_extend(x):
    z = np.ones(4)
    a = z * 2.0
    w = []
    w.extend((z,))
    w[0][1] = 5.0
    b = z * 2.0
    return np.sum(x * a) + np.sum(x * b)


def cse_star_list(x):
    z = np.ones(4)
    a = z * 2.0
    v = (z, z)
    w = [*v]
    w[0][1] = 5.0
    b = z * 2.0
    return np.sum(x * a) + np.sum(x * b)


def cse_repeat_name(x):
    z = np.ones(4)
    a = z * 2.0
    n = 2
    w = [z] * n
    w[1][1] = 5.0
    b = z * 2.0
    return np.sum(x * a) + np.sum(x * b)


def cse_dict_merge(x):
    z = np.ones(4)
    a = z * 2.0
    d = {"z": z}
    e = {**d}
    e["z"][1] = 5.0
    b = z * 2.0
    return np.sum(x * a) + np.sum(x * b)


def cse_dict_or(x):
    z = np.ones(4)
    a = z * 2.0
    d = {"z": z}
    e = d | {"k": np.zeros(4)}
    e["z"][1] = 5.0
    b = z * 2.0
    return np.sum(x * a) + np.sum(x * b)


def cse_dict_ior(x):
    z = np.ones(4)
    a = z * 2.0
    d = {}
    d |= {"z": z}
    d["z"][1] = 5.0
    b = z * 2.0
    return np.sum(x * a) + np.sum(x * b)


def cse_list_slice_store(x):
    z = np.ones(4)
    a = z * 2.0
    w = [np.zeros(4)]
    w[0:1] = [z]
    w[0][1] = 5.0
    b = z * 2.0
    return np.sum(x * a) + np.sum(x * b)


def cse_item_store(x):
    z = np.ones(4)
    a = z * 2.0
    w = [np.zeros(4)]
    w[0] = z
    w[0][1] = 5.0
    b = z * 2.0
    return np.sum(x * a) + np.sum(x * b)


# --- batchnorm's training path ---------------------------------------------------------------------

from sct import batchnorm  # noqa: E402

WB = np.random.default_rng(3).standard_normal((4, 5, 3, 6))


def bn_plain(X, offset, scale, eps=1e-5):
    axes = tuple(range(X.ndim - 1))
    mu = np.mean(X, axis=axes)
    c = X - mu
    var = np.mean(c * c, axis=axes)
    return scale * (c / np.sqrt(var + eps)) + offset, mu, var


def bn_loss(X, offset, scale):
    Y = batchnorm(X, offset, scale)
    return np.sum(Y * WB[..., :X.shape[-1]].reshape(X.shape) if Y.shape == WB.shape else Y * Y * X)


def bn_loss3(X, offset, scale):
    Y, mu, var = batchnorm(X, offset, scale, nargout=3)
    return np.sum(Y * Y * X) + np.sum(mu * mu * scale) + np.sum(var * offset) + np.sum(np.sqrt(var) * scale)


def bn_running(X, offset, scale):
    rm = np.full(X.shape[-1], 0.2)
    rv = np.full(X.shape[-1], 1.5)
    Y, rm, rv = batchnorm(X, offset, scale, rm, rv, nargout=3)
    return np.sum(Y * Y * X) + np.sum(rm * rv * scale)


def bn_eps(X, offset, scale):
    e = np.sum(scale) ** 2 * 0.01
    Y = batchnorm(X, offset, scale, Epsilon=e)
    return np.sum(Y * Y * X)


def bn_twice(X, offset, scale):
    Y = batchnorm(X, offset, scale)
    Z = batchnorm(Y * X, scale, offset)
    return np.sum(Z * Z * X)


def bn_hess(X, offset, scale):
    y = bn_loss3(X, offset, scale)
    gx, go, gs = dlgradient(y, X, offset, scale, EnableHigherDerivatives=True)
    return np.sum(gx * gx) + np.sum(go * scale) + np.sum(gs * gs * offset)


# --- entry calls: repeated calls, outputs mutated, exceptions -------------------------------------

def e_grad_unused(x, w):
    y = np.sum(x * x)
    gx, gw = dlgradient(y, x, w)
    return y, gx, gw


def e_const_out(x):
    z = np.zeros(3000)
    y = np.sum(x * x)
    return y, dlgradient(y, x), z


def e_identity(x):
    y = np.sum(x * 3.0)
    return x, y, dlgradient(y, x)


def e_raise(x):
    t = x * 2.0
    u = t * 3.0
    if np.sum(x) > 1e6:
        raise ValueError("too big")
    y = np.sum(u * x)
    return y, dlgradient(y, x)


def e_sum_grad(x):
    y = np.sum(x)
    return y, dlgradient(y, x)


def e_mean_grad(x):
    y = np.mean(x)
    return y, dlgradient(y, x)


def e_scaled_sum(x):
    y = np.sum(x * 1.0)
    return y, dlgradient(y, x)


def e_two_outputs_same(x):
    y = np.sum(x * x)
    g = dlgradient(y, x)
    return g, g


def m_empty_axis(x, e):
    # e has shape (0, 3): its mean over axis 0 is NaN (numpy warns), over axis 1 empty
    return np.sum(x * x) + np.sum(np.mean(e, axis=1))


def m_empty_all(x, e):
    return np.sum(x * x) + np.nan_to_num(np.mean(e))


# --- slice adjoints written directly, read back for higher derivatives --------------------------

def s_diff2(x):
    d = x[2:] - 2.0 * x[1:-1] + x[:-2]
    return np.sum(d * d * x[1:-1])


def s_rows(x):
    m = x.reshape(100, 30)
    a = m[1:] + m[:-1]
    b = m[3:50] * m[4:51]
    return np.sum(a * a) + np.sum(b)


def s_sub_div(x):
    a = x[5:] - x[:-5]
    b = x[:-5] / (1.5 + x[5:] ** 2)
    return np.sum(a * b)


def s_hess(x):
    y = s_diff2(x) + s_sub_div(x)
    g = dlgradient(y, x, EnableHigherDerivatives=True)
    return np.sum(g * g)


def s_third(x):
    y = np.sum(x[1:] * x[:-1] * x[1:])
    g = dlgradient(y, x, EnableHigherDerivatives=True)
    h = dlgradient(np.sum(g * g), x, EnableHigherDerivatives=True)
    return np.sum(h * x)


# --- outside state changed and read in code a second derivative recomputes -------------------------
import heapq  # noqa: E402
import itertools  # noqa: E402

IT = itertools.count(1)
GEN_STATE = {"k": 0}
BUF = np.zeros(4)
HEAP = []


class Cfg2:
    scale = 1.0


def r_next(x):
    k = next(IT)
    return x * k


def r_setattr(x):
    setattr(Cfg2, "scale", Cfg2.scale + 1.0)
    return x * Cfg2.scale


def r_dict_get(x):
    GEN_STATE["k"] = GEN_STATE.get("k", 0) + 1
    return x * GEN_STATE["k"]


def r_copyto(x):
    np.copyto(BUF, BUF + 1.0)
    return x * BUF[0]


def r_heap(x):
    heapq.heappush(HEAP, 1)
    return x * len(HEAP)


def r_vars(x):
    d = vars(Cfg2)
    k = d["scale"]
    Cfg2.scale = k + 1.0
    return x * Cfg2.scale


def make_counter():
    n = [0]

    def f(x):
        n[0] += 1
        return x * n[0]
    return f


r_closure = make_counter()


def r_loss(helper, x):
    return np.sum(helper(x) ** 2)


def r_hess(helper, x):
    y = r_loss(helper, x)
    g = dlgradient(y, x, EnableHigherDerivatives=True)
    return dlgradient(np.sum(g * g), x)


def r_hess_heap(x):
    y = np.sum(r_heap(x) ** 2)
    g = dlgradient(y, x, EnableHigherDerivatives=True)
    return dlgradient(np.sum(g * g), x)


def r_hess_next(x):
    y = np.sum(r_next(x) ** 2)
    g = dlgradient(y, x, EnableHigherDerivatives=True)
    return dlgradient(np.sum(g * g), x)


def push_one():
    heapq.heappush(HEAP, 1)


def r_plain_push(x):
    k = len(HEAP)
    push_one()
    return x * (k + 1)


def r_hess_plain_push(x):
    y = np.sum(r_plain_push(x) ** 2)
    g = dlgradient(y, x, EnableHigherDerivatives=True)
    return dlgradient(np.sum(g * g), x)


def r_grad_next(x):
    y = np.sum(r_next(x) ** 2)
    return dlgradient(y, x)


def r_local_next(x):
    it = iter([1.0, 2.0])
    k = next(it)
    return x * k


SCALE = 2.0
WG = np.ones(3000)
FLAGS = {"on": True}


def a_global(x):
    y = np.sum(x * SCALE * WG)
    if FLAGS["on"]:
        y = y + np.sum(x * x)
    return y, dlgradient(y, x)


def a_linear_hvp(x):
    return np.sum(x * 3.0)


def make_scaled(k, w=None):
    def f(x, b=k):
        y = np.sum(x * k * b)
        if w is not None:
            y = y + np.sum(x * w)
        return y, dlgradient(y, x)
    return f


scaled2 = make_scaled(2.0)
scaled3 = make_scaled(3.0)
scaled_w1 = make_scaled(1.0, np.ones(3000))
scaled_w2 = make_scaled(1.0, np.full(3000, 2.0))


def bn_loss16(X, offset, scale):
    Y, mu, var = batchnorm(X, offset, scale, nargout=3)
    return np.sum(Y.astype(np.float64) * WB16) + np.sum(mu.astype(np.float64)) + np.sum(var.astype(np.float64))


WB16 = np.random.default_rng(8).standard_normal((4000, 3))


STACK = [1.0, 2.0, 3.0, 4.0, 5.0]
QUEUE = {"a": 1.0}
IT2 = iter([1.0, 2.0, 3.0, 4.0])


def r_pop(x):
    k = STACK.pop()
    return x * k


def r_dunder_next(x):
    k = IT2.__next__()
    return x * k


def r_popitem(x):
    k = QUEUE.popitem()[1]
    QUEUE["b"] = 2.0
    return x * k


def r_hess_pop(x):
    y = np.sum(r_pop(x) ** 2)
    g = dlgradient(y, x, EnableHigherDerivatives=True)
    return dlgradient(np.sum(g * g), x)


def r_hess_dunder_next(x):
    y = np.sum(r_dunder_next(x) ** 2)
    g = dlgradient(y, x, EnableHigherDerivatives=True)
    return dlgradient(np.sum(g * g), x)


def r_grad_pop(x):
    y = np.sum(r_pop(x) ** 2)
    return dlgradient(y, x)


def r_local_pop(x):
    s = [1.0, 2.0]
    k = s.pop()
    return x * k


class Cfg3:
    scale = 1.0


def get_scale():
    return Cfg3.scale


def scaled_by_cfg(x):
    return x * Cfg3.scale


def r_write_after_helper(x):
    a = x * get_scale()
    Cfg3.scale = 5.0
    return a


def r_write_after_diff_helper(x):
    a = scaled_by_cfg(x)
    Cfg3.scale = 5.0
    return a


def r_hess_cfg(helper, x):
    y = np.sum(helper(x) ** 2)
    g = dlgradient(y, x, EnableHigherDerivatives=True)
    return dlgradient(np.sum(g * g), x)


def r_hess_cfg_direct(x):
    y = np.sum(r_write_after_diff_helper(x) ** 2)
    g = dlgradient(y, x, EnableHigherDerivatives=True)
    return dlgradient(np.sum(g * g), x)


def r_grad_cfg(x):
    y = np.sum(r_write_after_diff_helper(x) ** 2)
    return dlgradient(y, x)


def cse_ufunc_positional_out(x):
    z = np.ones(4)
    a = z * 2.0
    np.add(z, 1.0, z)             # out given by position
    b = z * 2.0
    return np.sum(x * a) + np.sum(x * b)


def cse_ufunc_at(x):
    z = np.ones(4)
    a = z * 2.0
    np.add.at(z, [1], 5.0)
    b = z * 2.0
    return np.sum(x * a) + np.sum(x * b)


def cse_sort(x):
    z = np.array([3.0, 1.0, 2.0, 0.5])
    a = z * 2.0
    z.sort()
    b = z * 2.0
    return np.sum(x * a) + np.sum(x * b)


def cse_partition(x):
    z = np.array([3.0, 1.0, 2.0, 0.5])
    a = z * 2.0
    z.partition(1)
    b = z * 2.0
    return np.sum(x * a) + np.sum(x * b)


def cse_view_positional_out(x):
    z = np.ones(4)
    v = z[1:]
    a = v * 2.0
    np.multiply(z, 3.0, z)
    b = v * 2.0
    return np.sum(x[1:] * a) + np.sum(x[1:] * b)


def cse_setitem_via_func(x):
    z = np.ones(4)
    a = z * 2.0
    z.__setitem__(1, 5.0)
    b = z * 2.0
    return np.sum(x * a) + np.sum(x * b)


def cse_ufunc_out_tuple(x):
    z = np.ones(4)
    a = z * 2.0
    np.add(z, 1.0, out=(z,))
    b = z * 2.0
    return np.sum(x * a) + np.sum(x * b)


def cse_divmod_out(x):
    z = np.ones(4) * 3.0
    w = np.ones(4)
    a = z * 2.0
    np.divmod(x, 2.0, w, z)       # two outputs by position
    b = z * 2.0
    return np.sum(x * a) + np.sum(x * b)


def cse_divmod_untraced(x):
    c = np.arange(4.0) + 5.0
    z = np.ones(4)
    w = np.ones(4)
    a = z * 2.0
    q = np.divmod(c, 2.0, w, z)[1]
    b = z * 2.0
    return np.sum(x * a) + np.sum(x * b) + np.sum(q * x)
