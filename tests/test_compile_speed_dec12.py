"""Compile speed without a change to what sct generates (issue 8, Dec 12).

* ``sct.ir.shared_walks``: inside, a function's ``walk_nodes``/``walk_no_defs`` are walked once and
  given again; ``tree_changed`` and ``stop_sharing`` make the next walk fresh; the walks of any other
  node are walked as always.
* The generated code with the shared walks is the generated code without them (the compiler's
  stretches compiled with ``shared_walks`` made a no-op), for functions that take every path that
  changes a tree inside a shared stretch (call sites attached, scalars specialised, nested
  functions, helpers, classes).
* ``SCT_CHECK_SHARED_WALKS`` (``sct.ir._CHECK_SHARED``) checks every reuse against a fresh walk: those
  compilations pass it, and their values and gradients are plain Python's and central differences'.
* ``reuse_temporaries`` still writes into an operand computed inline in statements nested in a
  branch (the statements it looks at are found on its first walk).
"""
import contextlib

import gast
import numpy as np
import pytest

import sct
import sct.compiler
import sct.inline_helpers
import sct.ir as ir
from sct import dlarray, dlfeval, dlgradient
from gradcheck import check_grads, leaves, D


# --- sct.ir.shared_walks ------------------------------------------------------------------------------

SOURCE = """
def f(x, y):
    a = x + 1
    if a > 0:
        b = [a * y for _ in range(2)]
        def g(t):
            return t * 2
    return g(b)
"""


def _fdef():
    return gast.parse(SOURCE).body[0]


def _same(a, b):
    return len(a) == len(b) and all(p is q for p, q in zip(a, b))


def test_a_shared_walk_gives_the_nodes_of_a_fresh_walk_in_the_same_order():
    fdef = _fdef()
    plain, plain_no_defs = list(ir.walk_nodes(fdef)), list(ir.walk_no_defs(fdef))
    with ir.shared_walks(fdef):
        first, again = list(ir.walk_nodes(fdef)), list(ir.walk_nodes(fdef))
        no_defs, no_defs_again = list(ir.walk_no_defs(fdef)), list(ir.walk_no_defs(fdef))
        assert _same(first, plain) and _same(again, plain)
        assert _same(no_defs, plain_no_defs) and _same(no_defs_again, plain_no_defs)
        assert ir._SHARED[id(fdef)][1] is not None          # walked once, kept
        stmt = fdef.body[1]                                 # any other node: walked as always
        assert _same(list(ir.walk_nodes(stmt)), list(ir._walk_nodes(stmt)))
        assert id(stmt) not in ir._SHARED
    assert id(fdef) not in ir._SHARED
    # the nested def is met by walk_nodes but not entered by walk_no_defs
    assert any(isinstance(n, gast.Return) and n is not fdef.body[-1] for n in plain)
    assert not any(isinstance(n, gast.Return) and n is not fdef.body[-1] for n in plain_no_defs)


def test_a_tree_changed_inside_is_walked_again():
    fdef = _fdef()
    with ir.shared_walks(fdef):
        before = list(ir.walk_nodes(fdef))
        fdef.body.insert(0, gast.parse("z = 1").body[0])
        ir.tree_changed(fdef)
        after = list(ir.walk_nodes(fdef))
        assert len(after) == len(before) + 3          # the Assign, its Name and its Constant
        assert _same(after, list(ir._walk_nodes(fdef)))
        # stop_sharing: walked as always from here to the end of the stretch
        ir.stop_sharing(fdef)
        fdef.body.pop(0)
        assert _same(list(ir.walk_nodes(fdef)), before)
    assert id(fdef) not in ir._SHARED


def test_the_check_mode_finds_a_change_no_pass_reported(monkeypatch):
    monkeypatch.setattr(ir, "_CHECK_SHARED", True)
    fdef = _fdef()
    with pytest.raises(AssertionError, match="changed inside a shared walk"):
        with ir.shared_walks(fdef):
            list(ir.walk_nodes(fdef))
            fdef.body.pop(0)
            list(ir.walk_nodes(fdef))
    fdef = _fdef()
    with pytest.raises(AssertionError, match="changed inside a shared walk"):
        with ir.shared_walks(fdef):             # (checked at the end of the stretch too)
            list(ir.walk_no_defs(fdef))
            fdef.body.pop(0)


def test_nested_stretches_of_one_tree_share_one_walk():
    fdef = _fdef()
    with ir.shared_walks(fdef):
        outer = list(ir.walk_nodes(fdef))
        with ir.shared_walks(fdef):
            inner = list(ir.walk_nodes(fdef))
            assert all(p is q for p, q in zip(outer, inner))
        assert id(fdef) in ir._SHARED               # the inner one leaves the outer one open
    assert id(fdef) not in ir._SHARED


# --- the generated code: the same with and without the shared walks --------------------------------

def helper(a, b):
    return np.tanh(a) * b + a ** 2


def helpers_in_a_loop(x, w):
    acc = 0.0
    for k in range(3):
        acc = acc + np.sum(helper(x * k, w))
    return acc


class Affine:
    def __init__(self, W, b):
        self.W = W
        self.b = b

    def __call__(self, x):
        return self.W @ x + self.b


def with_a_class(W, b, x):
    y = np.tanh(Affine(W, b)(x))
    return np.sum(y ** 2)


def with_a_closure(x, c):
    def f(t):
        return np.exp(-c * t) * t
    return np.sum(f(x) + f(2 * x))


def scalar_branches(x):
    y = x
    for i in range(12):
        if y > 0.5:
            y = y * 0.9 - 0.01 * np.sin(y)
        else:
            y = y + 0.1 * np.cos(y)
    return y


def slices_and_products(x, W):
    a = np.tanh(x) * 0.5
    b = a @ W + 0.1 * x
    c = np.concatenate([b[2:], a[:2]]) / (1.0 + b ** 2)
    d = np.maximum(c, 0.0) + np.mean(a * x)
    return np.sum(np.sin(d[::-1]) * c) + np.sum(np.log1p(d ** 2) - W[0] * a)


def _gradient_fn(fun):
    n = fun.__code__.co_argcount
    if n == 1:
        def g1(a):
            y = fun(a)
            return y, dlgradient(y, a)
        return g1
    if n == 2 and fun is with_a_closure:       # (c: a number, not differentiated)
        def g2c(a, c):
            y = fun(a, c)
            return y, dlgradient(y, a)
        return g2c
    if n == 2:
        def g2(a, b):
            y = fun(a, b)
            return y, dlgradient(y, a, b)
        return g2

    def g3(a, b, c):
        y = fun(a, b, c)
        return y, dlgradient(y, a, b, c)
    return g3


rng = np.random.default_rng(12)
CASES = [
    (helpers_in_a_loop, (rng.standard_normal(4), rng.standard_normal(4))),
    (with_a_class, (rng.standard_normal((3, 3)), rng.standard_normal(3), rng.standard_normal(3))),
    (with_a_closure, (rng.standard_normal(4), 0.5)),
    (scalar_branches, (np.array(0.3),)),
    (slices_and_products, (0.3 * rng.standard_normal(8), 0.3 * rng.standard_normal((8, 8)))),
]


def _sources(fun, args, shared: bool, monkeypatch):
    """The generated code of ``fun``'s gradient function (and of every function it calls), compiled
    afresh with the shared walks on or off."""
    sct.clear_cache()
    with monkeypatch.context() as m:
        if not shared:
            off = lambda root: contextlib.nullcontext()     # noqa: E731
            m.setattr(sct.compiler, "shared_walks", off)
            m.setattr(sct.inline_helpers, "shared_walks", off)
        wrapped = [dlarray(a) if isinstance(a, np.ndarray) else a for a in args]
        text = str(sct.source(_gradient_fn(fun), *wrapped, callees=True, run=True))
    sct.clear_cache()
    return text


@pytest.mark.parametrize("fun, args", CASES, ids=[c[0].__name__ for c in CASES])
def test_the_generated_code_is_the_code_made_without_shared_walks(fun, args, monkeypatch):
    monkeypatch.setattr(ir, "_CHECK_SHARED", True)      # and every reuse checked against a fresh walk
    with_shared = _sources(fun, args, True, monkeypatch)
    without = _sources(fun, args, False, monkeypatch)
    assert "def " in with_shared
    assert with_shared == without


@pytest.mark.parametrize("fun, args", CASES, ids=[c[0].__name__ for c in CASES])
def test_values_and_gradients_with_every_shared_walk_checked(fun, args, monkeypatch):
    monkeypatch.setattr(ir, "_CHECK_SHARED", True)
    sct.clear_cache()
    arrays = [a for a in args if isinstance(a, np.ndarray)]
    consts = [a for a in args if not isinstance(a, np.ndarray)]

    def of_arrays(*xs):
        return fun(*xs, *consts)
    of_arrays.__name__ = fun.__name__
    if fun is scalar_branches:          # a 0-d point: plain Python's value, then the gradient
        value, grad = dlfeval(_gradient_fn(fun), dlarray(args[0]))
        assert float(D(value)) == pytest.approx(float(fun(float(args[0]))), rel=1e-12)
        step = 1e-6
        numeric = (fun(float(args[0]) + step) - fun(float(args[0]) - step)) / (2 * step)
        assert float(D(grad)) == pytest.approx(numeric, rel=1e-6)
    else:
        check_grads(of_arrays, *arrays)
    sct.clear_cache()


# --- reuse_temporaries: operands computed inline, in a branch ---------------------------------------

def inline_in_a_branch(x, c):
    y = x * 1.0
    if c > 0:
        y = np.sin(x) / (1.0 + x ** 2) - (x * 2.0 + 1.0) * (x - 3.0)
    loss = np.sum(y * y)
    return loss, dlgradient(loss, x)


def test_an_operand_computed_inline_in_a_branch_is_still_written_into():
    x = np.linspace(-1.0, 2.0, 5)
    text = str(sct.source(inline_in_a_branch, dlarray(x), 1.0))
    # the adjoint of the quotient, inside the branch: the product written into its negated operand
    assert "rt.unbroadcast(rt.into_temporary('mul', (-d_y_div)" in text
    assert "rt.into_temporary('add', d_x, rt.into_temporary('mul'" in text
    value, grad = dlfeval(inline_in_a_branch, dlarray(x), 1.0)

    def plain(v):
        return float(np.sum((np.sin(v) / (1.0 + v ** 2) - (v * 2.0 + 1.0) * (v - 3.0)) ** 2))
    assert float(D(value)) == pytest.approx(plain(x), rel=1e-12)
    step, numeric = 1e-6, np.zeros_like(x)
    for k in range(x.size):
        e = np.zeros_like(x)
        e[k] = step
        numeric[k] = (plain(x + e) - plain(x - e)) / (2 * step)
    np.testing.assert_allclose(D(grad), numeric, rtol=1e-6, atol=1e-8)
    assert list(leaves((value, grad)))
