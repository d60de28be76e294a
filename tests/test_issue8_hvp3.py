"""Issue 8 item 5 (third round): Hessian-vector products with fewer full-array passes, the same bits.

What changed in the generated code, and what is checked here:
- ``rt.into_temporary``'s reference-count check refused a chain of in-place ops (the temporary
  written in place was still held by its dead name): ``reuse_temporaries`` now releases that name
  (``del t``, or ``t = rt.shape_proxy(t)`` where its shape is read later) and ``expand_in_place``
  drops the release when the code is read back;
- generated code read back names the runtime ``rt``: the optimiser now sees those calls too, so the
  tangent and second-level code get ``broadcast_op``/``broadcast_product``/``negated_unbroadcast``;
- ``index_adjoint_op`` also in branches and past ``rt.index_slice``; ``a + rt.index_adjoint(g, x,
  idx)`` is ``rt.index_added`` (one buffer, one pass); ``a + (-b)`` is ``a - b``.
Every result is compared bit for bit (signed zeros included) with the same program compiled with
SCT_OPTIMIZE=0, and against central differences of the gradient (tests/gradcheck.py).
"""
import numpy as np
import pytest

import sct
from sct import cache, dlarray, dlfeval, dlgradient, extractdata
from sct.runtime import support

from gradcheck import assert_close, numerical_gradient

N = 5000        # above the sizes from which temporaries are written in place (runtime INTO_SIZE)


# --- user-style programs -----------------------------------------------------------------------------

def rosen(x):
    return np.sum(100*(x[1:] - x[:-1]**2)**2 + (1 - x[:-1])**2)


def tail_penalty(z):
    return np.sum((z[2:] - 0.5*z[:-2])**2)


def with_helper(x):
    a = x[:-1] * x[1:]
    return np.sum(a**2) + 3.0 * tail_penalty(x) - np.sum(-x[1:] * 2.0)


def looped(x):
    total = 0.0
    for k in range(3):
        d = x[1:] - (k + 1) * x[:-1]
        total = total + np.sum(d * d) / (k + 1)
    return total


def cubic_slices(x):
    u = x[:-2]
    w = x[2:]
    return np.sum(u**3 * w) - np.sum(-(u - w)**2)


FUNCTIONS = [rosen, with_helper, looped, cubic_slices]


def nested(fun):
    def hv(x, v):
        y = fun(x)
        g = dlgradient(y, x, EnableHigherDerivatives=True)
        return dlgradient(np.sum(g * v), x)
    return hv


def nested_rosen(x, v):
    y = rosen(x)
    g = dlgradient(y, x, EnableHigherDerivatives=True)
    return dlgradient(np.sum(g * v), x)


def nested_with_helper(x, v):
    y = with_helper(x)
    g = dlgradient(y, x, EnableHigherDerivatives=True)
    return dlgradient(np.sum(g * v), x)


def nested_looped(x, v):
    y = looped(x)
    g = dlgradient(y, x, EnableHigherDerivatives=True)
    return dlgradient(np.sum(g * v), x)


def nested_cubic(x, v):
    y = cubic_slices(x)
    g = dlgradient(y, x, EnableHigherDerivatives=True)
    return dlgradient(np.sum(g * v), x)


NESTED = {rosen: nested_rosen, with_helper: nested_with_helper, looped: nested_looped, cubic_slices: nested_cubic}


def third(x, v, w):
    y = rosen(x)
    g = dlgradient(y, x, EnableHigherDerivatives=True)
    h = dlgradient(np.sum(g * v), x, EnableHigherDerivatives=True)
    return dlgradient(np.sum(h * w), x)


# --- helpers -----------------------------------------------------------------------------------------

def _inputs(n=N, seed=0, dtype=np.float64):
    rng = np.random.default_rng(seed)
    x = rng.uniform(-1.2, 1.2, n).astype(dtype)
    v = rng.standard_normal(n).astype(dtype)
    x[::97] = -0.0          # signed zeros in the data
    v[::89] = 0.0
    return x, v


def grad_of(fun, x):
    return np.asarray(extractdata(dlfeval(lambda z: dlgradient(fun(z), z), dlarray(x))))


def hvp_directional(fun, x, v, h=1e-5):
    """H v as the central difference of the gradient along v."""
    return (grad_of(fun, x + h * v) - grad_of(fun, x - h * v)) / (2 * h)


def _bits_equal(a, b):
    a, b = np.asarray(a), np.asarray(b)
    assert a.dtype == b.dtype and a.shape == b.shape
    nan = np.isnan(a)
    assert np.array_equal(nan, np.isnan(b))
    assert np.array_equal(a[~nan].view(np.uint8), b[~nan].view(np.uint8)) if a.ndim else \
        (nan.all() or np.signbit(a) == np.signbit(b) and a == b)


def _unoptimised(monkeypatch, run):
    monkeypatch.setenv("SCT_OPTIMIZE", "0")
    sct.clear_cache()
    try:
        return run()
    finally:
        monkeypatch.setenv("SCT_OPTIMIZE", "1")
        sct.clear_cache()


def _hvp(fun, x, v):
    return np.asarray(extractdata(sct.hvp(fun, dlarray(x), dlarray(v))))


def _nested(fun, x, v):
    return np.asarray(extractdata(dlfeval(NESTED[fun], dlarray(x), dlarray(v))))


def _hvp_sources(fun, x, v) -> str:
    """The generated code sct.hvp compiled for fun (its forward-over-reverse helpers)."""
    sct.clear_cache()
    sct.hvp(fun, dlarray(x), dlarray(v))
    sct.hvp(fun, dlarray(x), dlarray(v))
    return "\n".join(getattr(e, "source", "") for e in cache.HELPERS.entries())


# --- values: finite differences and the unoptimised code, bit for bit ----------------------------------

@pytest.mark.parametrize("fun", FUNCTIONS, ids=lambda f: f.__name__)
def test_hvp_matches_differences_and_unoptimised_bits(fun, monkeypatch):
    x, v = _inputs(seed=1)
    got = _hvp(fun, x, v)
    assert_close(got, hvp_directional(fun, x, v), rtol=1e-4, atol=1e-4)
    _bits_equal(got, _unoptimised(monkeypatch, lambda: _hvp(fun, x, v)))


@pytest.mark.parametrize("fun", FUNCTIONS, ids=lambda f: f.__name__)
def test_nested_matches_hvp_differences_and_unoptimised_bits(fun, monkeypatch):
    x, v = _inputs(seed=2)
    got = _nested(fun, x, v)
    assert_close(got, hvp_directional(fun, x, v), rtol=1e-4, atol=1e-4)
    assert_close(got, _hvp(fun, x, v), rtol=1e-10, atol=1e-9)
    _bits_equal(got, _unoptimised(monkeypatch, lambda: _nested(fun, x, v)))
    again = _nested(fun, x, v)          # a cache hit: the same bits
    _bits_equal(again, got)


@pytest.mark.parametrize("fun", [rosen, cubic_slices], ids=lambda f: f.__name__)
def test_small_inputs_against_gradcheck(fun):
    # small arrays take the plain paths of the runtime helpers: the same products
    x, v = _inputs(n=12, seed=3)
    fd = numerical_gradient(lambda z: float(np.dot(grad_of(fun, z), v)), [x], 0)
    assert_close(_hvp(fun, x, v), fd, rtol=1e-5, atol=1e-5)
    assert_close(_nested(fun, x, v), fd, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("fun", [rosen, with_helper], ids=lambda f: f.__name__)
def test_float32_kept_and_same_bits(fun, monkeypatch):
    x, v = _inputs(seed=4, dtype=np.float32)
    got = _hvp(fun, x, v)
    nested_got = _nested(fun, x, v)
    assert got.dtype == np.float32 and nested_got.dtype == np.float32
    x64, v64 = x.astype(np.float64), v.astype(np.float64)
    assert_close(got, hvp_directional(fun, x64, v64), rtol=2e-3, atol=2e-2)
    assert_close(nested_got, hvp_directional(fun, x64, v64), rtol=2e-3, atol=2e-2)
    _bits_equal(got, _unoptimised(monkeypatch, lambda: _hvp(fun, x, v)))
    _bits_equal(nested_got, _unoptimised(monkeypatch, lambda: _nested(fun, x, v)))


def test_third_derivative_reads_the_rewritten_code_back(monkeypatch):
    # the second-level code (index_added, released names, type_only stand-ins) differentiated again
    x, v = _inputs(n=3000, seed=5)
    w = np.random.default_rng(6).standard_normal(3000)
    got = np.asarray(extractdata(dlfeval(third, dlarray(x), dlarray(v), dlarray(w))))
    h = 1e-4
    fd = (np.dot(_hvp(rosen, x + h * w, v), 1.0) - _hvp(rosen, x - h * w, v)) / (2 * h)
    assert_close(got, fd, rtol=1e-4, atol=1e-3)
    _bits_equal(got, _unoptimised(monkeypatch, lambda: np.asarray(extractdata(
        dlfeval(third, dlarray(x), dlarray(v), dlarray(w))))))


def test_first_order_gradient_unchanged_bits(monkeypatch):
    x, _ = _inputs(seed=7)
    for fun in FUNCTIONS:
        got = grad_of(fun, x)
        _bits_equal(got, _unoptimised(monkeypatch, lambda: grad_of(fun, x)))


# --- structure of the generated code -------------------------------------------------------------------

def test_hvp_code_folds_the_sum_adjoint_and_writes_slices_directly():
    x, v = _inputs(seed=8)
    src = _hvp_sources(rosen, x, v)
    jvp = src[src.index("def rosen_bwd_jvp"):]
    jvp = jvp[:jvp.index("\ndef ", 1)] if "\ndef " in jvp[1:] else jvp
    assert "broadcast_product(" in jvp and "broadcast_op('mul'" in jvp
    assert "negated_unbroadcast(" in jvp
    assert "index_adjoint_op('sub'" in jvp
    assert " * 100" not in jvp                   # the sum's adjoint is not scaled item by item
    assert "= -" not in jvp                      # no negation pass left in the tangent code


def test_in_place_chain_releases_the_dead_name():
    x, v = _inputs(seed=9)
    src = _hvp_sources(rosen, x, v)
    lines = src.splitlines()
    for i, line in enumerate(lines):
        if "into_temporary(" in line and "=" in line and not line.strip().startswith("#"):
            args = line.split("into_temporary(")[1].rstrip(")").split(", ")
            operand = args[2] if args[-1].strip() == "1" else args[1]
            target = line.split("=")[0].strip()
            if operand != target and operand.isidentifier():
                nxt = lines[i + 1].strip()
                assert nxt in (f"del {operand}", f"{operand} = rt.shape_proxy({operand})",
                               f"{operand} = sct_rt.shape_proxy({operand})"), (line, nxt)


def test_in_place_chain_runs_in_place():
    # three arithmetic steps each written into the previous one's buffer: one buffer for the chain
    x, v = _inputs(seed=10)
    seen = []
    refs = support._getrefcount

    def counting(t):
        c = refs(t) - 1        # (this function's own reference)
        seen.append(c)
        return c
    sct.clear_cache()
    _hvp(rosen, x, v)
    support._getrefcount = counting
    try:
        _hvp(rosen, x, v)
    finally:
        support._getrefcount = refs
    assert seen and max(seen) <= support._INTO_REFS


def test_nested_code_writes_slice_adjoints_directly():
    x, v = _inputs(seed=11)
    sct.clear_cache()
    dlfeval(nested_rosen, dlarray(x), dlarray(v))      # (the adjoint's own code is compiled on its first call)
    src = str(sct.source(nested_rosen, dlarray(x), dlarray(v), callees=True))
    assert "index_added(" in src
    assert "+ sct_rt.index_adjoint(" not in src and "+ rt.index_adjoint(" not in src
    assert "type_only('mul', 2," in src          # 2 * t folded into the product, its shape kept


# --- the runtime helper ---------------------------------------------------------------------------------

@pytest.mark.parametrize("dtype", [np.float64, np.float32, np.complex128])
@pytest.mark.parametrize("idx", [slice(1, None), slice(None, -1), slice(2, 5), slice(0, 7), slice(3, 3),
                                 slice(None, None, 2), 4, [0, 2, 2]])
def test_index_added_is_the_plain_sum(dtype, idx):
    rng = np.random.default_rng(12)
    x = rng.standard_normal(7).astype(dtype)
    total = rng.standard_normal(7).astype(dtype)
    total[[0, 6]] = -0.0
    total[3] = np.nan
    total[5] = np.inf
    grad = np.asarray(rng.standard_normal(np.shape(x[idx])).astype(dtype))
    if grad.size:
        grad.flat[0] = -0.0
    expected = total + support.index_adjoint(grad, x, idx)
    got = support.index_added(total, grad, x, idx)
    assert got is not total
    _bits_equal(got, expected)
    zero = support.index_added(support.ZERO, grad, x, idx)
    _bits_equal(zero, support.ZERO + support.index_adjoint(grad, x, idx))


def test_index_added_mixed_dtypes_and_rows():
    x = np.zeros((6, 3))
    total = np.arange(18.0).reshape(6, 3)
    grad = np.ones((4, 3), np.float32)               # another dtype: numpy's promotion, as plain
    _bits_equal(support.index_added(total, grad, x, slice(1, 5)),
                total + support.index_adjoint(grad, x, slice(1, 5)))
    g64 = np.full((4, 3), -0.0)
    _bits_equal(support.index_added(total, g64, x, slice(2, None)),
                total + support.index_adjoint(g64, x, slice(2, None)))
