"""Issue 8, large arrays (2): a sum's adjoint (a broadcast view of one value, or of a smaller array)
scaled on its distinct items and the rules' constants folded into it where that is exact, negations
folded into the sums that read them (optimize.fold_broadcast_factors; rt.broadcast_op,
rt.broadcast_negative, rt.broadcast_product, rt.unit_product, rt.negated_unbroadcast).

Values against plain numpy, the same bits as the unoptimised code (also at infinities, NaN, signed
zeros, overflow, subnormals), gradients against central differences (tests/gradcheck.py), second
derivatives through the rewritten code, float32 kept, seeds that are not uniform (sums over one axis,
weights) and seeds other than one (means, negated and scaled losses).
"""
import warnings

import gast
import numpy as np
import pytest

import sct
from sct import dlarray, dlfeval, dlgradient
from sct import optimize as opt
from sct.runtime import support

from gradcheck import assert_close, check_grads, numerical_gradient

N = 3000          # above rt.INTO_SIZE: the folded paths run


def _rng(seed=0):
    return np.random.default_rng(seed)


# --- programs, written as users write them -------------------------------------------------------

def rosen(x):
    return np.sum(100*(x[1:] - x[:-1]**2)**2 + (1 - x[:-1])**2)


def rosen_grad(x):
    y = rosen(x)
    return y, dlgradient(y, x)


def chain(x):
    return np.sum(np.sin(x)*np.exp(-x**2) + np.log1p(x**2))


def chain_grad(x):
    y = chain(x)
    return y, dlgradient(y, x)


def scaled(x):
    return np.sum(3.0 * x**2) / 7          # seed 1/7: the rule's constant not folded


def negated(x):
    return -np.sum(x**2 + 4 * x**3)        # seed -1: folded, (-1 * 2) * x


def mean_sq(x):
    return np.mean((x - 1.0)**2)           # np.mean's adjoint: 1/N


def halved(x):
    return np.sum(0.5 * x**2)              # 0.5 * (2 * x): |c| < 1, not folded


def rows(x, w):
    s = np.sum(x**2, axis=1)               # a view broadcast along axis 1 only
    return np.sum(s * w)


def two_sums(x):
    a = np.sum(x**2)
    b = np.sum(np.cos(x) * np.sin(x))
    return 2.0 * a + b * b                 # seeds 2 and 2b


def in_loop(x):
    t = 0.0
    for i in range(3):
        t = t + np.sum((x - i)**2) * (i + 1)
    return t


class Model:
    def __init__(self, scale):
        self.scale = scale

    def loss(self, p):
        r = p["a"] * self.scale - p["b"]
        return np.sum(r**2) + np.sum(-p["a"])


def _fun_grad(fun):
    def grad(*args):
        y = fun(*args)
        return y, dlgradient(y, *args)
    return grad


def rosen_hvp(x, v):
    y = rosen(x)
    g = dlgradient(y, x, EnableHigherDerivatives=True)
    return dlgradient(np.sum(g * v), x)


def chain_hvp(x, v):
    y = chain(x)
    g = dlgradient(y, x, EnableHigherDerivatives=True)
    return dlgradient(np.sum(g * v), x)


def rosen_hand(x):
    u = x[:-1]
    a = x[1:] - u*u
    g = np.zeros_like(x)
    g[:-1] = -400*a*u - 2*(1 - u)
    g[1:] += 200*a
    return g


def chain_hand(x):
    s, x2 = np.sin(x), x*x
    e = np.exp(-x2)
    return e*(np.cos(x) - 2*x*s) + 2*x/(1 + x2)


def _grad(fun, *args):
    return dlfeval(fun, *[dlarray(a) for a in args])


def _source(fun, *args):
    return str(sct.source(fun, *[dlarray(a) for a in args], callees=True))


def rosen_g(x):
    return rosen_grad(x)


def chain_g(x):
    return chain_grad(x)


def scaled_g(x):
    y = scaled(x)
    return y, dlgradient(y, x)


def negated_g(x):
    y = negated(x)
    return y, dlgradient(y, x)


def mean_sq_g(x):
    y = mean_sq(x)
    return y, dlgradient(y, x)


def halved_g(x):
    y = halved(x)
    return y, dlgradient(y, x)


def two_sums_g(x):
    y = two_sums(x)
    return y, dlgradient(y, x)


def in_loop_g(x):
    y = in_loop(x)
    return y, dlgradient(y, x)


def rows_g(x, w):
    y = rows(x, w)
    gx, gw = dlgradient(y, x, w)
    return y, gx, gw


def model_g(m, p):
    y = m.loss(p)
    return y, dlgradient(y, p)


ONE_ARG = [(rosen_g, rosen), (chain_g, chain), (scaled_g, scaled), (negated_g, negated), (mean_sq_g, mean_sq),
           (halved_g, halved), (two_sums_g, two_sums), (in_loop_g, in_loop)]


def _unoptimised(monkeypatch, fun, *args):
    """The same program compiled with SCT_OPTIMIZE=0 (then the cache cleared again)."""
    monkeypatch.setenv("SCT_OPTIMIZE", "0")
    sct.clear_cache()
    try:
        return _grad(fun, *args)
    finally:
        monkeypatch.setenv("SCT_OPTIMIZE", "1")
        sct.clear_cache()


def _bits_equal(a, b):
    """The same bits, signed zeros and infinities included; a NaN matches a NaN (IEEE leaves the
    sign bit of a NaN result to the operation: ``-(c * nan)`` and ``(-c) * nan`` differ there)."""
    a, b = np.asarray(a), np.asarray(b)
    assert a.dtype == b.dtype and a.shape == b.shape
    nan = np.isnan(a)
    np.testing.assert_array_equal(nan, np.isnan(b))
    assert np.where(nan, 0, a).tobytes() == np.where(nan, 0, b).tobytes()


# --- the generated code uses the rewrites ----------------------------------------------------------

def test_rosen_code_folds_and_matches_hand_written():
    x = _rng().standard_normal(N)
    text = _source(rosen_grad, x)
    assert "rt.broadcast_product(rt.broadcast_negative(" in text
    assert "rt.broadcast_op('mul'" in text
    assert "rt.negated_unbroadcast(" in text and "rt.index_adjoint_op('sub'" in text
    assert "negative_into" not in text
    y, g = _grad(rosen_grad, x)
    assert_close(np.asarray(y.data), rosen(x), rtol=1e-12, atol=0)
    assert_close(np.asarray(g.data), rosen_hand(x), rtol=1e-12, atol=1e-12)


def test_chain_code_folds_and_matches_hand_written():
    x = _rng(1).standard_normal(N)
    text = _source(chain_grad, x)
    assert "rt.unit_product(" in text
    y, g = _grad(chain_grad, x)
    assert_close(np.asarray(y.data), chain(x), rtol=1e-12, atol=0)
    assert_close(np.asarray(g.data), chain_hand(x), rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("fun, plain", ONE_ARG, ids=[f.__name__ for f, _ in ONE_ARG])
def test_same_bits_as_unoptimised_and_central_differences(monkeypatch, fun, plain):
    x = _rng(2).standard_normal(N)
    y1, g1 = _grad(fun, x)
    y0, g0 = _unoptimised(monkeypatch, fun, x)
    _bits_equal(y1.data, y0.data)
    _bits_equal(g1.data, g0.data)
    assert_close(np.asarray(y1.data), plain(x), rtol=1e-12, atol=1e-12)
    scale = max(1.0, float(np.max(np.abs(np.asarray(g1.data)))))
    assert_close(np.asarray(g1.data), numerical_gradient(plain, [x], 0), rtol=1e-5, atol=1e-6 * scale)


EDGE = [np.inf, -np.inf, np.nan, 0.0, -0.0, 1e308, -1e308, 1.5e154, 5e-324, -5e-324, 1e-310, 1.0, -1.0]


@pytest.mark.parametrize("fun", [f for f, _ in ONE_ARG if f is not in_loop_g], ids=lambda f: f.__name__)
def test_same_bits_at_infinities_nan_zeros_overflow(monkeypatch, fun):
    x = _rng(3).standard_normal(N) * 10
    x[:len(EDGE)] = EDGE
    x[-len(EDGE):] = EDGE[::-1]
    with warnings.catch_warnings(record=True) as w1:
        warnings.simplefilter("always")
        with np.errstate(all="ignore"):
            y1, g1 = _grad(fun, x)
    with warnings.catch_warnings(record=True) as w0:
        warnings.simplefilter("always")
        with np.errstate(all="ignore"):
            y0, g0 = _unoptimised(monkeypatch, fun, x)
    _bits_equal(y1.data, y0.data)
    _bits_equal(g1.data, g0.data)


def test_warnings_as_unoptimised(monkeypatch):
    # np.errstate(all="raise"): an overflow raises in both or in neither
    for x in (np.full(N, 1e200), _rng(4).standard_normal(N)):
        outcomes = []
        for run in (lambda: _grad(negated_g, x), lambda: _unoptimised(monkeypatch, negated_g, x)):
            with np.errstate(all="raise"):
                try:
                    run()
                    outcomes.append(None)
                except Exception as exc:             # sct's EvaluationError naming numpy's error
                    outcomes.append(type(exc).__name__)
        assert outcomes[0] == outcomes[1]


def test_not_uniform_seed_rows(monkeypatch):
    # a sum over axis 1: the adjoint is broadcast along axis 1 only, with different values per row
    x = _rng(5).standard_normal((300, 20))
    for w in (_rng(6).standard_normal(300), 1.0 + _rng(7).random(300) * 4, np.ones(300), -np.ones(300)):
        y1, gx1, gw1 = _grad(rows_g, x, w)
        y0, gx0, gw0 = _unoptimised(monkeypatch, rows_g, x, w)
        _bits_equal(gx1.data, gx0.data)
        _bits_equal(gw1.data, gw0.data)
        assert_close(np.asarray(gx1.data), 2 * x * w[:, None], rtol=1e-12, atol=1e-12)
        assert_close(np.asarray(gw1.data), np.sum(x**2, axis=1), rtol=1e-12, atol=1e-12)
    check_grads(rows, x[:6, :5].copy(), _rng(8).standard_normal(6), rtol=1e-5, atol=1e-5)


def test_objects_and_dicts(monkeypatch):
    m = Model(3.0)
    p = {"a": _rng(9).standard_normal(N), "b": _rng(10).standard_normal(N)}
    pd = {k: dlarray(v) for k, v in p.items()}
    y1, g1 = dlfeval(model_g, m, pd)
    monkeypatch.setenv("SCT_OPTIMIZE", "0")
    sct.clear_cache()
    y0, g0 = dlfeval(model_g, m, pd)
    monkeypatch.setenv("SCT_OPTIMIZE", "1")
    sct.clear_cache()
    for k in ("a", "b"):
        _bits_equal(g1[k].data, g0[k].data)
    r = p["a"] * 3.0 - p["b"]
    assert_close(np.asarray(g1["a"].data), 6.0 * r - 1, rtol=1e-12, atol=1e-12)
    assert_close(np.asarray(g1["b"].data), -2.0 * r, rtol=1e-12, atol=1e-12)


def test_float32_stays_float32(monkeypatch):
    x = _rng(11).standard_normal(N).astype(np.float32)
    for fun in (rosen_g, chain_g, negated_g, scaled_g):
        y1, g1 = _grad(fun, x)
        assert np.asarray(g1.data).dtype == np.float32
        y0, g0 = _unoptimised(monkeypatch, fun, x)
        _bits_equal(g1.data, g0.data)
    y, g = _grad(rosen_g, x)
    assert_close(np.asarray(g.data), rosen_hand(x.astype(np.float64)), rtol=2e-3, atol=2e-2)


def test_user_arrays_untouched_and_gradients_writable():
    x = _rng(12).standard_normal(N)
    before = x.copy()
    y, g = _grad(mean_sq_g, x)
    np.testing.assert_array_equal(x, before)
    data = np.asarray(g.data)
    assert data.flags.writeable
    data += 1                       # the user may write into the gradient
    y2, g2 = _grad(mean_sq_g, x)
    assert_close(np.asarray(g2.data), 2 * (x - 1) / N, rtol=1e-12, atol=1e-15)


# --- second derivatives through the rewritten code -------------------------------------------------

def test_second_derivatives_nested_and_hvp():
    x, v = _rng(13).standard_normal(N), _rng(14).standard_normal(N)
    hv = np.asarray(dlfeval(rosen_hvp, dlarray(x), dlarray(v)).data)
    u, vu = x[:-1], v[:-1]
    a = x[1:] - u*u
    da = v[1:] - 2*u*vu
    expected = np.zeros_like(x)
    expected[:-1] = -400*(da*u + a*vu) + 2*vu
    expected[1:] += 200*da
    assert_close(hv, expected, rtol=1e-10, atol=1e-9)
    assert_close(np.asarray(sct.hvp(rosen, dlarray(x), dlarray(v)).data), expected, rtol=1e-10, atol=1e-9)
    hc = np.asarray(dlfeval(chain_hvp, dlarray(x), dlarray(v)).data)
    eps = 1e-6
    fd = (chain_hand(x + eps * v) - chain_hand(x - eps * v)) / (2 * eps)
    assert_close(hc, fd, rtol=1e-5, atol=1e-6)
    assert_close(np.asarray(sct.hvp(chain, dlarray(x), dlarray(v)).data), fd, rtol=1e-5, atol=1e-6)
    assert_close(np.asarray(sct.hvp(negated, dlarray(x), dlarray(v)).data), -(2 + 24 * x) * v,
                 rtol=1e-10, atol=1e-10)


# --- the runtime helpers: the same bits as the expressions they stand for --------------------------

def _views(dtype):
    rng = _rng(15)
    bases = [1.0, -1.0, 2.0, 100.0, -3.0, 0.5, 0.0, -0.0, np.inf, np.nan, 1e308, 3e38, 1e-310, 1 / 7]
    out = [np.broadcast_to(np.asarray(c, dtype), (N,)) for c in bases]
    out.append(np.broadcast_to(rng.standard_normal((1, 40)).astype(dtype), (80, 40)))        # per column
    out.append(np.broadcast_to((1 + rng.random((80, 1)) * 9).astype(dtype), (80, 40)))      # >= 1 per row
    out.append(np.broadcast_to(np.ones((80, 1), dtype), (80, 40)))
    return out


def _like(g, dtype, seed=16):
    t = _rng(seed).standard_normal(g.shape) * 10
    flat = t.reshape(-1)
    flat[:len(EDGE)] = EDGE
    return t.astype(dtype)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_helpers_same_bits(dtype):
    with np.errstate(all="ignore"):
        for g in _views(dtype):
            t = _like(g, dtype)
            for k in (2, -2, 4, 2.0, 3, 0.5, 1, 100, 1e-3, 2.0 ** 200):
                _bits_equal(support.broadcast_product(g, k, t), g * (k * t))
            for op, f in (("add", np.add), ("sub", np.subtract), ("mul", np.multiply), ("div", np.true_divide)):
                for k in (100, 0.1, -3, 2.0):
                    _bits_equal(support.broadcast_op(op, g, k), f(g, k))
                    _bits_equal(support.broadcast_op(op, k, g), f(k, g))
            _bits_equal(support.broadcast_negative(g), -g)
            u = _like(g, dtype, 17)
            _bits_equal(support.unit_product(g, t, u, u), support.unbroadcast_product(g, t, u) * u)
            _bits_equal(support.negated_unbroadcast(t, u), -support.unbroadcast(-t, u))


def test_helpers_keep_dtype_and_plain_fallbacks():
    g32 = np.broadcast_to(np.float32(1.0), (N,))
    t64 = _rng(18).standard_normal(N)
    _bits_equal(support.broadcast_product(g32, 2, t64), g32 * (2 * t64))          # mixed dtypes: as written
    _bits_equal(support.broadcast_product(g32, 2, t64.astype(np.float32)), 2 * t64.astype(np.float32))
    assert support.broadcast_op("mul", g32, 0.1).dtype == np.float32
    small = np.broadcast_to(np.float64(1.0), (5,))
    assert support.broadcast_op("mul", small, 3).flags.writeable                    # small: the plain op
    full = np.ones(N)
    assert support.broadcast_op("mul", full, 3).flags.owndata                       # not a view: the plain op
    # a sum over a broadcast axis: the negations do not cancel (-0 + 0 is +0)
    q = np.zeros((4, N))
    q[0] = -0.0
    like = np.zeros((1, N))
    _bits_equal(support.negated_unbroadcast(q, like), -support.unbroadcast(-q, like))
    assert support.negated_unbroadcast(full, full) is full
    c = np.broadcast_to(np.complex128(1 + 1j), (N,))
    _bits_equal(support.broadcast_op("mul", c, 2.0), c * 2.0)
    _bits_equal(support.broadcast_product(c, 2, np.ones(N, complex)), c * (2 * np.ones(N, complex)))


# --- the rewrite on its own --------------------------------------------------------------------------

def _fn(source):
    return gast.parse(source).body[0]


def _text(fn):
    from sct.emit import source_and_lines
    return source_and_lines([fn])[0]


def test_fold_rules():
    fn = _fn("""
def f(s, y, t, u, x, like):
    g = rt.reduction_broadcast(s, y, None, False)
    h = rt.unbroadcast(g, y)
    a = h * 100
    b = 2.0 / h
    n = g * (2 * t)
    m = -n
    p = rt.unbroadcast_product(g, t, u)
    q = p * u
    r = -q
    z = x + r * t
    w = rt.unbroadcast((-a), like)
    v = x + w
    return m, b, z, v
""")
    opt.fold_broadcast_factors(fn, "rt")
    text = _text(fn)
    assert "a = rt.broadcast_op('mul', h, 100)" in text
    assert "b = rt.broadcast_op('div', 2.0, h)" in text
    assert "m = rt.broadcast_product(rt.broadcast_negative(g), 2, t)" in text and "n = " not in text
    assert "q = rt.unit_product(g, t, u, u)" in text and "p = " not in text
    assert "z = x - (q * t)" in text and "r = " not in text
    assert "v = x - rt.negated_unbroadcast(a, like)" in text and "w = " not in text


def test_fold_leaves_what_it_cannot_prove():
    fn = _fn("""
def f(s, y, t, x):
    g = rt.reduction_broadcast(s, y, None, False)
    n = -t
    t = x * 2
    z = x + n
    k = -x
    print(k)
    z2 = z + k
    j = -z2
    z3 = j + j
    i = -x
    for e in range(3):
        z3 = z3 + i
    return z, z2, z3, g
""")
    opt.fold_broadcast_factors(fn, "rt")
    text = _text(fn)
    assert "n = (-t)" in text or "n = -t" in text           # t stored again before the read
    assert "z2 = z + k" in text                             # a call that may change x in between
    assert "z3 = j + j" in text                             # read twice
    assert "z3 = z3 + i" in text                            # the read is in a loop
    fn = _fn("""
def f(t, x):
    n = -t
    z = x + n
    return z
""")
    opt.fold_broadcast_factors(fn, "rt", numpy_name="np")
    assert "z = x - t" in _text(fn)


def test_expand_round_trip():
    fn = _fn("""
def f(g, t, u, x, like):
    a = rt.broadcast_op('mul', g, 100)
    b = rt.broadcast_negative(a)
    c = rt.broadcast_product(b, 2, t)
    d = rt.unit_product(g, t, u, c)
    e = x - rt.negated_unbroadcast(d, like)
    return e
""")
    assert opt.has_in_place(fn)
    opt.expand_in_place(fn, {"rt"})
    text = _text(fn)
    assert "a = g * 100" in text and "b = -a" in text and "c = b * (2 * t)" in text
    assert "d = rt.unbroadcast_product(g, t, u) * c" in text
    assert "e = x - (-rt.unbroadcast((-d), like))" in text
    assert not opt.has_in_place(fn)


# --- the max's weights: one hit per slice ------------------------------------------------------------

def softmax_loss(Z, T):
    Z = Z - np.max(Z, axis=1, keepdims=True)
    logp = Z - np.log(np.sum(np.exp(Z), axis=1, keepdims=True))
    return -np.sum(T * logp) / Z.shape[0]


def softmax_g(Z, T):
    y = softmax_loss(Z, T)
    return y, dlgradient(y, Z)


def max_of(x):
    return np.sum(np.max(x, axis=0) ** 2) + np.max(x)


def test_extremum_weights_same_numbers_with_and_without_ties():
    from sct.runtime import numpy_ops
    rng = _rng(19)
    a = rng.standard_normal((64, 10))
    a[3, :] = 2.0                                   # a tie along axis 1 (and 0)
    a[5, 1] = a[5, 4] = a[5].max() + 1
    a[7, 2] = np.nan
    for dtype in (np.float64, np.float32):
        x = a.astype(dtype)
        for axis, keepdims in ((1, True), (0, False), (None, False), ((0, 1), True), (1, False)):
            with np.errstate(invalid="ignore"):
                ans = np.max(x, axis=axis, keepdims=keepdims)
                ext = ans if keepdims or axis is None else np.expand_dims(ans, axis)
                hits = np.asarray(x == ext, dtype=dtype)
                ref = hits / np.maximum(np.sum(hits, axis=axis, keepdims=True), 1)
                got = numpy_ops.extremum_weights(x, ans, axis, keepdims)
            assert got.dtype == ref.dtype
            _bits_equal(got, ref)
        x = rng.standard_normal((64, 10)).astype(dtype)            # no ties
        ans = np.max(x, axis=1, keepdims=True)
        _bits_equal(numpy_ops.extremum_weights(x, ans, 1, True), (x == ans).astype(dtype))


def max_of_g(x):
    y = max_of(x)
    return y, dlgradient(y, x)


def test_softmax_and_max_gradients():
    rng = _rng(20)
    Z = rng.standard_normal((256, 10))
    T = np.eye(10)[rng.integers(0, 10, 256)]
    y, g = dlfeval(softmax_g, dlarray(Z), T)
    E = np.exp(Z - Z.max(axis=1, keepdims=True))
    assert_close(np.asarray(g.data), (E / E.sum(axis=1, keepdims=True) - T) / 256, rtol=1e-10, atol=1e-14)
    y, g = dlfeval(softmax_g, dlarray(Z[:8]), T[:8])
    assert_close(np.asarray(g.data), numerical_gradient(softmax_loss, [Z[:8], T[:8]], 0), rtol=1e-5, atol=1e-7)
    x = rng.standard_normal((30, 5))
    x[4, 2] = x[:, 2].max() + 1
    x[9, 2] = x[4, 2]                                # a tie in column 2: its adjoint shared
    y, g = dlfeval(max_of_g, dlarray(x))
    m = x.max(axis=0)
    expected = np.where(x == m, 2 * m, 0.0)
    expected[4, 2] = expected[9, 2] = m[2]           # 2 m[2] shared by the two hits
    top = x == x.max()
    expected[top] += 1.0 / top.sum()
    assert_close(np.asarray(g.data), expected, rtol=1e-12, atol=1e-12)
    check_grads(max_of, rng.standard_normal((30, 5)), rtol=1e-5, atol=1e-6)
