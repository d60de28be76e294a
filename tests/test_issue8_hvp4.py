"""Issue 8 item 5 (fourth round): the nested-dlgradient Hessian-vector product with fewer passes, the same bits.

What changed in the generated code, and what is checked here:
- ``optimize.merge_zero_blocks``: second-level adjoint code tests each adjoint against ``rt.ZERO`` in a
  block of its own; where a block's test follows from an earlier block's (the name was ``rt.ZERO``
  before it and that block assigns it arithmetic), its statements run at the end of the earlier block,
  so that the same-block folds reach the chain: ``-(broadcast_like(-m))`` is ``broadcast_like(m)``,
  ``unbroadcast(-g)`` read once as ``a + n * e`` is ``a - negated_unbroadcast(g) * e``;
- ``rt.unit_scaled``: ``unbroadcast_product(g, a, like) * k`` as ``g * (c * k)`` where ``a`` is a
  broadcast view of ``c`` = 1 or -1 (one pass instead of two).
Every result is compared bit for bit (signed zeros included) with the same program compiled with
SCT_OPTIMIZE=0, and against central differences of the gradient (tests/gradcheck.py).
"""
import gast
import numpy as np
import pytest

import sct
from sct import dlarray, dlfeval, dlgradient, extractdata
from sct import optimize
from sct.runtime import support

from gradcheck import assert_close, numerical_gradient

N = 5000        # above the sizes from which the runtime's one-pass forms apply (runtime INTO_SIZE)


# --- user-style programs -----------------------------------------------------------------------------

def rosen(x):
    return np.sum(100*(x[1:] - x[:-1]**2)**2 + (1 - x[:-1])**2)


def penalty(z, weight):
    return weight * np.sum((z[2:] - 0.5*z[:-2])**2)


def with_helper(x):
    a = x[:-1] * x[1:]
    return np.sum(a**2) - np.sum(-x[1:] * 2.0) + penalty(x, 3.0)


def looped(x):
    total = 0.0
    for k in range(3):
        d = x[1:] - (k + 1) * x[:-1]**2
        total = total + np.sum(d * d) / (k + 1)
    return total


def branchy(x):
    s = np.sum(x[:-1] * x[1:])
    if s > 0:
        y = np.sum((x[1:] - x[:-1]**2)**2)
    else:
        y = np.sum(-(x[1:] + x[:-1])**3)
    return y - 0.5 * np.sum(-x**2)


def centred(x):
    # a negated broadcast: the mean is subtracted from every item (its adjoint sums)
    c = np.mean(x)
    return np.sum((x[1:] - c)**2 * x[:-1]) + 2.0 * np.sum(-(c - x)**2)


def params_in_dict(x):
    p = {"a": 100.0, "b": 1.0}
    u = x[:-1]
    return np.sum(p["a"] * (x[1:] - u**2)**2 + (p["b"] - u)**2)


FUNCTIONS = [rosen, with_helper, looped, branchy, centred, params_in_dict]


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


def nested_branchy(x, v):
    y = branchy(x)
    g = dlgradient(y, x, EnableHigherDerivatives=True)
    return dlgradient(np.sum(g * v), x)


def nested_centred(x, v):
    y = centred(x)
    g = dlgradient(y, x, EnableHigherDerivatives=True)
    return dlgradient(np.sum(g * v), x)


def nested_params_in_dict(x, v):
    y = params_in_dict(x)
    g = dlgradient(y, x, EnableHigherDerivatives=True)
    return dlgradient(np.sum(g * v), x)


NESTED = {rosen: nested_rosen, with_helper: nested_with_helper, looped: nested_looped, branchy: nested_branchy,
          centred: nested_centred, params_in_dict: nested_params_in_dict}


def nested_inline(x, v):
    # the objective written in the function itself, the product with v written as a dot product
    y = np.sum(100*(x[1:] - x[:-1]**2)**2 + (1 - x[:-1])**2)
    g = dlgradient(y, x, EnableHigherDerivatives=True)
    return dlgradient(np.dot(g, v), x)


# (the third derivative and the helpers of test_issue8_hvp3: inputs with signed zeros, gradients,
# central differences along v, bit equality, the code compiled with SCT_OPTIMIZE=0)
from test_issue8_hvp3 import _bits_equal, _inputs, _unoptimised, grad_of, hvp_directional, third  # noqa: E402


def _run(fn, *args):
    return np.asarray(extractdata(dlfeval(fn, *[dlarray(a) for a in args])))


def _nested_source(fn, x, v) -> str:
    sct.clear_cache()
    # (sct.source lists the adjoint's own second-level code, compiled on its first call, where
    # sct.hvp compiled it first; after dlfeval alone it is not listed)
    sct.hvp(rosen, dlarray(x), dlarray(v))
    dlfeval(fn, dlarray(x), dlarray(v))
    return str(sct.source(fn, dlarray(x), dlarray(v), callees=True))


def _function(src: str, name: str) -> str:
    start = src.index(f"def {name}(")
    end = src.find("\ndef ", start + 1)
    return src[start:end if end > 0 else len(src)]


# --- values: finite differences and the unoptimised code, bit for bit ----------------------------------

@pytest.mark.parametrize("fun", FUNCTIONS, ids=lambda f: f.__name__)
def test_nested_hvp_matches_differences_and_unoptimised_bits(fun, monkeypatch):
    x, v = _inputs(seed=21)
    got = _run(NESTED[fun], x, v)
    assert_close(got, hvp_directional(fun, x, v), rtol=1e-4, atol=1e-4)
    _bits_equal(got, _unoptimised(monkeypatch, lambda: _run(NESTED[fun], x, v)))
    _bits_equal(_run(NESTED[fun], x, v), got)          # a cache hit: the same bits


def test_nested_inline_and_hvp_agree(monkeypatch):
    x, v = _inputs(seed=22)
    got = _run(nested_inline, x, v)
    assert_close(got, hvp_directional(rosen, x, v), rtol=1e-4, atol=1e-4)
    assert_close(got, np.asarray(extractdata(sct.hvp(rosen, dlarray(x), dlarray(v)))), rtol=1e-10, atol=1e-9)
    _bits_equal(got, _unoptimised(monkeypatch, lambda: _run(nested_inline, x, v)))


@pytest.mark.parametrize("fun", [rosen, centred, branchy], ids=lambda f: f.__name__)
def test_small_inputs_against_gradcheck(fun, monkeypatch):
    # small arrays take the runtime helpers' plain paths
    x, v = _inputs(n=11, seed=23)
    fd = numerical_gradient(lambda z: float(np.dot(grad_of(fun, z), v)), [x], 0)
    got = _run(NESTED[fun], x, v)
    assert_close(got, fd, rtol=1e-5, atol=1e-5)
    _bits_equal(got, _unoptimised(monkeypatch, lambda: _run(NESTED[fun], x, v)))


@pytest.mark.parametrize("fun", [rosen, with_helper, centred], ids=lambda f: f.__name__)
def test_float32_kept_and_same_bits(fun, monkeypatch):
    x, v = _inputs(seed=24, dtype=np.float32)
    got = _run(NESTED[fun], x, v)
    assert got.dtype == np.float32
    assert_close(got, hvp_directional(fun, x.astype(np.float64), v.astype(np.float64)), rtol=2e-3, atol=3e-2)
    _bits_equal(got, _unoptimised(monkeypatch, lambda: _run(NESTED[fun], x, v)))


def test_extreme_values_same_bits(monkeypatch):
    # subnormal, huge and non-finite items: the one-pass forms give the plain forms' numbers
    x, v = _inputs(seed=25)
    x[5:9] = [1e-160, -1e-170, 1e154, -1e155]
    v[10:16] = [5e-324, -5e-324, 1e-310, np.inf, np.nan, 1e308]
    with np.errstate(all="ignore"):
        got = _run(nested_rosen, x, v)
        _bits_equal(got, _unoptimised(monkeypatch, lambda: _run(nested_rosen, x, v)))


def test_third_derivative_reads_the_rewritten_code_back(monkeypatch):
    x, v = _inputs(n=3000, seed=26)
    w = np.random.default_rng(27).standard_normal(3000)
    got = _run(third, x, v, w)
    h = 1e-4
    hv = lambda z: np.asarray(extractdata(sct.hvp(rosen, dlarray(z), dlarray(v))))   # noqa: E731
    assert_close(got, (hv(x + h * w) - hv(x - h * w)) / (2 * h), rtol=1e-4, atol=1e-3)
    _bits_equal(got, _unoptimised(monkeypatch, lambda: _run(third, x, v, w)))


def test_first_order_gradients_unchanged_bits(monkeypatch):
    x, _ = _inputs(seed=28)
    for fun in FUNCTIONS:
        got = grad_of(fun, x)
        _bits_equal(got, _unoptimised(monkeypatch, lambda: grad_of(fun, x)))


# --- structure of the generated code -------------------------------------------------------------------

def test_nested_code_has_one_negation_pass_and_one_pass_products():
    x, v = _inputs(seed=29)
    src = _nested_source(nested_rosen, x, v)
    second = _function(src, "rosen_bwd_bwd")
    negations = [line for line in second.splitlines()
                 if not line.strip().startswith("#") and ("= -" in line or "(-" in line)]
    assert len(negations) == 1, negations          # -s, read by both products; the -(-(...)) chain folded
    assert second.count("unit_scaled(") == 3
    assert "broadcast_like(d_d_x_neg_1" in second
    forward_adjoint = _function(src, "rosen_fwd_bwd")
    assert "negated_unbroadcast(d_out_sub, out_pow)" in forward_adjoint
    assert "unbroadcast((-d_out_sub)" not in forward_adjoint


def test_merged_blocks_keep_their_user_line_comment():
    x, v = _inputs(seed=30)
    forward_adjoint = _function(_nested_source(nested_rosen, x, v), "rosen_fwd_bwd")
    lines = [line.strip() for line in forward_adjoint.splitlines()]
    # the statements moved into an earlier block still follow the comment naming their line (the
    # value's own adjoint, out_pow_2's among them, is gone: the first sweep reads the value only to
    # seed it, so its forward computes only the residuals: tests/test_issue8_slices7.py)
    at = lines.index("# adjoint of line 5: out_pow = x_item_1 ** 2")
    # (the product written into the inline 2 * x_item_1 and the difference into that: reuse_temporaries)
    assert "d_x_item_1 = sct_rt.into_temporary('sub', d_x_item_1, sct_rt.into_temporary('mul', d_out_pow, " \
        "(2 * x_item_1), 1), 1)" in lines[at + 1]
    assert "# adjoint of line 12: out_pow_2 = out_sub_1 ** 2" not in lines


# --- merge_zero_blocks on its own ----------------------------------------------------------------------

def _merged(src: str):
    fn = gast.parse(src).body[0]
    changed = optimize.merge_zero_blocks(fn, "rt")
    import astunparse
    return changed, astunparse.unparse(gast.gast_to_ast(fn))


def test_merge_follows_a_decided_test():
    changed, out = _merged(
        "def f(a, like):\n"
        "    b = rt.ZERO\n"
        "    c = rt.ZERO\n"
        "    if a is not rt.ZERO:\n"
        "        b = -a\n"
        "    t = tape.pop()\n"
        "    if b is not rt.ZERO:\n"
        "        c = rt.broadcast_like(b, like)\n"
        "    b = rt.ZERO\n"
        "    return c\n")
    assert changed
    assert out.count("is not rt.ZERO") == 1
    assert "b = rt.ZERO" not in out            # the stores nothing reads any more
    assert "c = rt.ZERO" in out                # c is returned: its zero is read where a is zero


@pytest.mark.parametrize("src", [
    # b not known zero before the first block (a parameter)
    "def f(a, b):\n    if a is not rt.ZERO:\n        b = -a\n    if b is not rt.ZERO:\n        c = b * 2\n    return c\n",
    # b assigned something that may be the zero marker
    "def f(a, g):\n    b = rt.ZERO\n    if a is not rt.ZERO:\n        b = rt.getitem_or_zero(g, 0)\n"
    "    if b is not rt.ZERO:\n        c = b * 2\n    return c\n",
    # a name the second block reads changes between the blocks
    "def f(a, like):\n    b = rt.ZERO\n    if a is not rt.ZERO:\n        b = -a\n    like = tape.pop()\n"
    "    if b is not rt.ZERO:\n        c = rt.broadcast_like(b, like)\n    return c\n",
    # something runs between the blocks
    "def f(a, like):\n    b = rt.ZERO\n    if a is not rt.ZERO:\n        b = -a\n    print(a)\n"
    "    if b is not rt.ZERO:\n        c = b * 2\n    return c\n",
    # the second block calls user code
    "def f(a, h):\n    b = rt.ZERO\n    if a is not rt.ZERO:\n        b = -a\n"
    "    if b is not rt.ZERO:\n        c = h(b)\n    return c\n",
    # a loop: the zero before the block may be another iteration's value
    "def f(a, n):\n    b = rt.ZERO\n    for i in range(n):\n        if a is not rt.ZERO:\n            b = -a\n"
    "        if b is not rt.ZERO:\n            c = b * 2\n    return c\n",
    # an else branch
    "def f(a):\n    b = rt.ZERO\n    if a is not rt.ZERO:\n        b = -a\n"
    "    if b is not rt.ZERO:\n        c = b * 2\n    else:\n        c = 1.0\n    return c\n",
])
def test_merge_refused(src):
    changed, out = _merged(src)
    assert not changed
    assert out.count("is not rt.ZERO") == src.count("is not rt.ZERO")


# --- the runtime helper ---------------------------------------------------------------------------------

@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("c", [1.0, -1.0, 100.0, -0.5, 0.0])
@pytest.mark.parametrize("k", [2, -3, 0.5, 0.1, 1e300, 0])
def test_unit_scaled_is_the_plain_expression(dtype, c, k):
    rng = np.random.default_rng(31)
    n = max(support.INTO_SIZE, 64)
    g = rng.standard_normal(n).astype(dtype)
    g[:8] = [0.0, -0.0, np.inf, -np.inf, np.nan, np.finfo(dtype).tiny / 3, -np.finfo(dtype).max,
             np.finfo(dtype).smallest_subnormal]
    a = np.broadcast_to(np.array([c], dtype), (n,))
    like = support.shape_proxy(g) if hasattr(support, "shape_proxy") else g
    with np.errstate(all="ignore"):
        expected = support.unbroadcast_product(g, a, like) * k
        got = support.unit_scaled(g, a, like, k)
    _bits_equal(got, expected)


def test_unit_scaled_other_operands():
    g = np.arange(6.0)
    a = np.ones(6)                                          # not a broadcast view: plain
    _bits_equal(support.unit_scaled(g, a, g, 2), support.unbroadcast_product(g, a, g) * 2)
    m = np.arange(12.0).reshape(3, 4)
    v = np.broadcast_to(np.array([[-1.0]]), (3, 4))
    like = np.zeros(4)                                      # summed to a smaller shape: plain
    _bits_equal(support.unit_scaled(m, v, like, 2), support.unbroadcast_product(m, v, like) * 2)
    _bits_equal(support.unit_scaled(1.5, -1.0, 0.0, 2), support.unbroadcast_product(1.5, -1.0, 0.0) * 2)
