"""Issue 8, large-array cases: temporaries of generated code overwritten in place
(optimize.reuse_temporaries, rt.into_temporary / rt.negative_into, now on all generated code and
checked by reference count) and a slice adjoint of a sum written straight into its buffer
(optimize.direct_index_adjoints, rt.index_adjoint_op).

Values against plain numpy, gradients against central differences (tests/gradcheck.py), the
same numbers as the unoptimised code, float32 kept, and the aliasing cases the in-place writes
must not break: views, the same array passed twice, references the user keeps, loops, second
derivatives (the code read back is expanded to plain ops first).
"""
import gast
import numpy as np
import pytest

import sct
from sct import dlarray, dlfeval, dlgradient
from sct import optimize as opt
from sct.runtime import support

from gradcheck import assert_close, check_grads, numerical_gradient

N = 3000          # above rt.INTO_SIZE: the in-place paths run


def _rng(seed=0):
    return np.random.default_rng(seed)


# --- programs, written as users write them -------------------------------------------------------

def rosen(x):
    return np.sum(100*(x[1:] - x[:-1]**2)**2 + (1 - x[:-1])**2)


def rosen_grad(x):
    y = rosen(x)
    return y, dlgradient(y, x)


def rosen_hand(x):
    u = x[:-1]
    a = x[1:] - u*u
    g = np.zeros_like(x)
    g[:-1] = -400*a*u - 2*(1 - u)
    g[1:] += 200*a
    return g


def chain(x):
    return np.sum(np.sin(x)*np.exp(-x**2) + np.log1p(x**2))


def chain_grad(x):
    y = chain(x)
    return y, dlgradient(y, x)


def two_args(a, b):
    t = a * 2.0
    u = t + b
    v = u * u
    return np.sum(v - a)


def two_args_grad(a, b):
    y = two_args(a, b)
    ga, gb = dlgradient(y, a, b)
    return y, ga, gb


def keeps_temporary(x):
    t = x * 3.0
    kept = {"t": t}           # the user keeps the temporary
    u = t * x
    return np.sum(u), kept


def keeps_grad(x):
    y, kept = keeps_temporary(x)
    return y, dlgradient(y, x), kept["t"]


def view_of_temporary(x):
    t = x * 2.0
    v = t[1:]                 # a view of the temporary, read after it
    u = t * x
    return np.sum(u) + np.sum(v * v)


def view_grad(x):
    y = view_of_temporary(x)
    return y, dlgradient(y, x)


def loop_accumulate(x, w):
    z = x * 0.5
    for i in range(4):
        t = x * w
        z = z + t * (i + 1)
        z = -z
    return np.sum(z * z)


def loop_grad(x, w):
    y = loop_accumulate(x, w)
    gx, gw = dlgradient(y, x, w)
    return y, gx, gw


def sum_then_slice(x):
    a = x[1:] * x[:-1]
    b = a * 2.0 + x[1:]
    return np.sum(b * b)


def slice_grad(x):
    y = sum_then_slice(x)
    return y, dlgradient(y, x)


def rosen_hvp(x, v):
    y = rosen(x)
    g = dlgradient(y, x, EnableHigherDerivatives=True)
    return dlgradient(np.sum(g * v), x)


def _grad(fun, *args):
    out = dlfeval(fun, *[dlarray(a) for a in args])
    return out


def _source(fun, *args):
    return str(sct.source(fun, *[dlarray(a) for a in args], callees=True))


# --- the generated code uses the rewrites ----------------------------------------------------------

def test_rosen_slices_rewritten_and_exact():
    x = _rng().standard_normal(N)
    text = _source(rosen_grad, x)
    assert "rt.into_temporary(" in text and "rt.index_adjoint_op('" in text
    y, g = _grad(rosen_grad, x)
    assert_close(np.asarray(y.data), rosen(x), rtol=1e-12, atol=0)
    assert_close(np.asarray(g.data), rosen_hand(x), rtol=1e-12, atol=1e-12)
    check_grads(rosen, x, rtol=1e-5, atol=1e-4)


def test_same_numbers_as_unoptimised(monkeypatch):
    x = _rng(1).standard_normal(N)
    results = []
    for setting in ("1", "0"):
        monkeypatch.setenv("SCT_OPTIMIZE", setting)
        sct.clear_cache()
        for fun in (rosen_grad, chain_grad):
            y, g = _grad(fun, x)
            results.append((np.asarray(y.data).copy(), np.asarray(g.data).copy()))
    half = len(results) // 2
    for (y1, g1), (y0, g0) in zip(results[:half], results[half:]):
        np.testing.assert_array_equal(y1, y0)
        np.testing.assert_array_equal(g1, g0)


def test_float32_stays_float32():
    x = _rng(2).standard_normal(N).astype(np.float32)
    y, g = _grad(rosen_grad, x)
    assert np.asarray(g.data).dtype == np.float32
    x64 = x.astype(np.float64)
    assert_close(np.asarray(g.data), rosen_hand(x64), rtol=2e-3, atol=2e-2)
    y, g = _grad(chain_grad, x)
    assert np.asarray(g.data).dtype == np.float32


def test_chain_gradient():
    x = _rng(3).standard_normal(N)
    check_grads(chain, x, rtol=1e-5, atol=1e-4)


# --- aliasing: what the in-place writes must never touch ------------------------------------------

def test_same_array_passed_twice():
    a = _rng(4).standard_normal(N)
    a_before = a.copy()
    y, ga, gb = _grad(two_args_grad, a, a)
    assert_close(np.asarray(y.data), two_args(a_before, a_before), rtol=1e-12, atol=0)
    u = 2*a_before + a_before
    assert_close(np.asarray(ga.data), 4*u - 1, rtol=1e-12, atol=1e-12)
    assert_close(np.asarray(gb.data), 2*u, rtol=1e-12, atol=1e-12)
    np.testing.assert_array_equal(a, a_before)
    check_grads(two_args, a, a[::-1].copy(), rtol=1e-5, atol=1e-4)


def test_user_kept_temporary_is_not_overwritten():
    x = _rng(5).standard_normal(N)
    y, g, t = _grad(keeps_grad, x)
    np.testing.assert_array_equal(np.asarray(t.data), x * 3.0)
    assert_close(np.asarray(g.data), 6.0 * x, rtol=1e-12, atol=1e-12)


def test_view_of_temporary():
    x = _rng(6).standard_normal(N)
    y, g = _grad(view_grad, x)
    assert_close(np.asarray(y.data), view_of_temporary(x), rtol=1e-12, atol=0)
    expected = 4*x
    expected[1:] += 8*x[1:]
    assert_close(np.asarray(g.data), expected, rtol=1e-12, atol=1e-12)
    check_grads(view_of_temporary, x, rtol=1e-5, atol=1e-4)     # (sums of 3000 terms: difference noise)


def test_loops():
    x, w = _rng(7).standard_normal(N), _rng(8).standard_normal(N)
    y, gx, gw = _grad(loop_grad, x, w)
    assert_close(np.asarray(y.data), loop_accumulate(x, w), rtol=1e-12, atol=0)
    check_grads(loop_accumulate, x, w, rtol=1e-5, atol=1e-4)


def test_slice_sum_written_directly():
    x = _rng(9).standard_normal(N)
    y, g = _grad(slice_grad, x)
    assert_close(np.asarray(y.data), sum_then_slice(x), rtol=1e-12, atol=0)
    a = x[1:]*x[:-1]
    db = 2*(2*a + x[1:])
    expected = np.zeros_like(x)
    expected[1:] += db + 2*db*x[:-1]
    expected[:-1] += 2*db*x[1:]
    assert_close(np.asarray(g.data), expected, rtol=1e-12, atol=1e-12)
    check_grads(sum_then_slice, x, rtol=1e-5, atol=1e-4)


def test_second_derivative_through_rewritten_code():
    x, v = _rng(10).standard_normal(N), _rng(11).standard_normal(N)
    hv = np.asarray(dlfeval(rosen_hvp, dlarray(x), dlarray(v)).data)
    u, vu = x[:-1], v[:-1]
    a = x[1:] - u*u
    da = v[1:] - 2*u*vu
    expected = np.zeros_like(x)
    expected[:-1] = -400*(da*u + a*vu) + 2*vu
    expected[1:] += 200*da
    assert_close(hv, expected, rtol=1e-10, atol=1e-9)


def test_small_arrays_unchanged():
    x = _rng(12).standard_normal(7)
    check_grads(rosen, x)
    check_grads(loop_accumulate, x, x[::-1].copy())


# --- the runtime helpers -------------------------------------------------------------------------

def test_into_temporary_refuses_a_held_buffer():
    t = np.ones(5000)
    held = t                    # a second name: the reference count says it is not a temporary
    out = support.into_temporary("mul", t, 2.0, 0)
    assert out is not held and held[0] == 1.0
    view = np.ones(5000)
    part = view[10:]            # a view keeps its base alive
    out = support.into_temporary("add", view, 1.0, 0)
    assert part[0] == 1.0 and out[0] == 2.0
    lst = [np.ones(5000)]
    t = lst[0]                  # a name and a container
    out = support.negative_into(t)
    assert lst[0][0] == 1.0 and out[0] == -1.0


def _fresh_product(n):
    t = np.ones(n) * 3.0
    return support.into_temporary("mul", t, 2.0, 0), t


def test_into_temporary_in_place_when_only_a_name_holds_it():
    def caller():
        t = np.ones(5000) * 3.0
        u = support.into_temporary("mul", t, 2.0, 0)
        return u
    assert caller()[0] == 6.0
    x = np.arange(5000.0)

    def writes():
        t = x * 1.0
        ident = id(t)
        u = support.into_temporary("add", t, 1.0, 0)
        return id(u) == ident, u
    same, u = writes()
    assert same and u[3] == 4.0 and x[3] == 3.0


def test_index_adjoint_op_same_numbers_and_fallbacks():
    r = _rng(13)
    for dtype in (np.float64, np.float32):
        x = r.standard_normal((50, 3)).astype(dtype)
        a = r.standard_normal((49, 3)).astype(dtype)
        b = r.standard_normal((49, 3)).astype(dtype)
        for op, f in (("add", np.add), ("sub", np.subtract), ("mul", np.multiply), ("div", np.divide)):
            for idx in (slice(None, -1), slice(1, None)):
                got = support.index_adjoint_op(op, a, b, x, idx)
                expected = support.index_adjoint(f(a, b), x, idx)
                np.testing.assert_array_equal(got, expected)
                assert got.dtype == dtype
    x = np.ones(10)
    got = support.index_adjoint_op("add", np.ones(3), 1.0, x, np.array([0, 0, 2]))   # fancy: add.at
    np.testing.assert_array_equal(got, [4, 0, 2, 0, 0, 0, 0, 0, 0, 0])
    got = support.index_adjoint_op("mul", np.ones(9, np.float32), 2.0, np.ones(10), slice(1, None))
    assert got.dtype == np.float64 and got[0] == 0 and got[1] == 2
    got = support.index_adjoint_op("add", np.ones(0), 1.0, np.ones(10), slice(3, 3))   # empty slice
    assert got.shape == (10,) and not got.any()


# --- the rewrites on their own ---------------------------------------------------------------------

def _fn(source):
    return gast.parse(source).body[0]


def _text(fn):
    from sct.emit import source_and_lines
    return source_and_lines([fn])[0]


def test_reuse_temporaries_rules():
    fn = _fn("""
def f(x, b):
    t = x * b
    u = t + b
    v = u * 2
    w = v + v
    s = x * 3
    keep = s
    r = s * b
    q = rt.shape_proxy(r)
    p = r - b
    z = p * 2
    z = z + b
    z = -z
    return w, keep, r, z, q
""")
    opt.reuse_temporaries(fn, "rt")
    text = _text(fn)
    assert "u = rt.into_temporary('add', t, b, 0)" in text      # t read once
    assert "v = rt.into_temporary('mul', u, 2, 0)" in text
    assert "w = v + v" in text                                   # the same temporary twice
    assert "r = s * b" in text                                   # s is also read by keep
    assert "p = r - b" in text                                   # r is returned
    assert "z = rt.into_temporary('add', z, b, 0)" in text       # re-stored by the statement itself
    assert "z = rt.negative_into(z)" in text


def test_reuse_temporaries_not_across_loop_iterations_or_reads():
    fn = _fn("""
def f(x, b):
    t = x * b
    for i in range(3):
        u = t * 2
    s = x * b
    if b:
        y = s
    r = s * 2
    return u, r
""")
    opt.reuse_temporaries(fn, "rt")
    text = _text(fn)
    assert "into_temporary" not in text


def test_direct_index_adjoints_only_when_nothing_reads_the_sum_later():
    fn = _fn("""
def f(g, h, x):
    t = g + h
    d = rt.index_adjoint(t, x, rt.index_slice(1, None, None))
    s = g * h
    e = rt.index_adjoint(s, x, rt.index_slice(1, None, None))
    return d, e, s
""")
    opt.direct_index_adjoints(fn, "rt")
    text = _text(fn)
    assert "d = rt.index_adjoint_op('add', g, h, x, rt.index_slice(1, None, None))" in text
    assert "t = g + h" not in text
    assert "s = g * h" in text and "e = rt.index_adjoint(s, x" in text
    fn = _fn("""
def f(g, h, x):
    for i in range(2):
        t = g + h
        d = rt.index_adjoint(t, x, rt.index_slice(1, None, None))
    return d
""")
    opt.direct_index_adjoints(fn, "rt")
    assert "index_adjoint_op" not in _text(fn)


def test_expand_in_place_round_trip():
    fn = _fn("""
def f(a, b, x):
    u = rt.into_temporary('mul', a, b, 0)
    v = rt.negative_into(u)
    d = rt.index_adjoint_op('sub', v, b, x, rt.index_slice(1, None, None))
    return d
""")
    assert opt.has_in_place(fn)
    opt.expand_in_place(fn, {"rt"})
    text = _text(fn)
    assert "u = a * b" in text and "v = -u" in text
    assert "d = rt.index_adjoint((v - b), x, rt.index_slice(1, None, None))" in text
    assert not opt.has_in_place(fn)


@pytest.mark.parametrize("n", [N])
def test_numerical_gradient_of_loop_against_sct(n):
    x, w = _rng(14).standard_normal(n), _rng(15).standard_normal(n)
    _, gx, gw = _grad(loop_grad, x, w)
    assert_close(np.asarray(gw.data), numerical_gradient(loop_accumulate, [x, w], 1), 1e-5, 1e-5)
