"""Compile-speed work (s50, issue 8 item 6), guarded without timing:

- ``sct.ir.shared_walks`` builds its walks as lists directly (``_walk_nodes_list``,
  ``_walk_no_defs_list``; ``sct.optimize._nodes_no_defs`` too): the same nodes in the same order as
  the generators they stand for, without a generator resumed per node;
- the four passes of ``sct/base_inits.py`` (``super().__init__`` inlined, ``super().f(...)``,
  ``type(p)``, generator methods) walk the user's tree once between them (was: six walks), and a
  pass that rewrites it marks it (``tree_changed``): the next walks the new tree (checked with
  ``sct.ir._CHECK_SHARED``: every shared walk compared with a fresh one), values and gradients exact;
- the last passes of ``compiler._rewrite`` (tape entries, unread parameters) take the walk of the
  generated functions that the call tree's passes then read (``tests/test_compile_speed_s49.py``).

``scripts/source_snapshot.py`` checks that no generated source or refusal changed.
"""
import ast

import gast
import numpy as np
import pytest

import sct
from sct import compiler, dlarray, dlfeval, dlgradient, ir, optimize

_SOURCE = '''
def outer(x, W, *args, k=1, **kw):
    d = {**kw, "a": x}
    f = lambda v: v + 1
    def inner(z):
        return [t for t in z if t]
    class C:
        def m(self):
            return 1
    for i in range(3):
        if x[i] > 0:
            x = x + f(i)
        else:
            del d["a"]
    try:
        y = W @ x
    except ValueError as e:
        y = None
    return y, inner(x), C
'''


def _trees():
    module = gast.parse(_SOURCE)
    fdef = module.body[0]
    return [module, fdef, fdef.body[0], fdef.body[3], fdef.body[-2]]


@pytest.mark.parametrize("k", range(5))
def test_list_walks_are_the_generators_walks(k):
    tree = _trees()[k]
    for built, walk in ((ir._walk_nodes_list, ir._walk_nodes), (ir._walk_no_defs_list, ir._walk_no_defs)):
        got, expected = built(tree), list(walk(tree))
        assert len(got) == len(expected) >= 1     # (a module's or class's walk without defs: itself)
        assert all(a is b for a, b in zip(got, expected))
    stmts = tree.body if isinstance(tree, (gast.Module, gast.FunctionDef)) else [tree]
    got, expected = optimize._nodes_no_defs(stmts), list(optimize._walk_no_defs(stmts))
    assert len(got) == len(expected) >= 1 and all(a is b for a, b in zip(got, expected))


def test_shared_walk_of_a_replaced_walker_walks_with_it(monkeypatch):
    # (a walk without a list-built twin, a test's counting walk: shared_walks lists it as it is)
    seen = []
    walk = ir._walk_nodes

    def counting(node):
        seen.append(node)
        return walk(node)
    monkeypatch.setattr(ir, "_walk_nodes", counting)
    fdef = _trees()[1]
    with ir.shared_walks(fdef):
        first = list(ir.walk_nodes(fdef))
        second = list(ir.walk_nodes(fdef))
    assert seen == [fdef] and len(first) == len(second) > 10
    assert all(a is b for a, b in zip(first, second))


# --- the four passes of sct/base_inits.py: one walk of the user's tree -----------------------------

def _plain(x, W):
    a = np.tanh(W @ x)
    y = np.sum(a * x) + np.sum(np.sin(a))
    return y, dlgradient(y, x, W)


def _walks_in_base_inits(monkeypatch, fun, *args):
    """How many times the base_inits passes walked the user's tree (``fun``'s FunctionDef)."""
    walks = []
    window = [False]
    walk = ir._walk_nodes

    def counting(node):
        if window[0] and isinstance(node, gast.FunctionDef) and node.name == fun.__name__:
            walks.append(node)
        return walk(node)
    first, last = compiler.inline_base_inits, compiler.inline_generator_methods

    def opening(*a):
        window[0] = True
        return first(*a)

    def closing(*a):
        try:
            return last(*a)
        finally:
            window[0] = False
    monkeypatch.setattr(ir, "_CHECK_SHARED", False)
    monkeypatch.setattr(ir, "_walk_nodes", counting)
    monkeypatch.setattr(compiler, "inline_base_inits", opening)
    monkeypatch.setattr(compiler, "inline_generator_methods", closing)
    sct.clear_cache()
    out = dlfeval(fun, *args)
    return walks, out


def test_base_inits_passes_walk_the_users_tree_once(monkeypatch):
    rng = np.random.default_rng(50)
    x, W = rng.standard_normal(3), rng.standard_normal((3, 3))
    walks, (y, (gx, gW)) = _walks_in_base_inits(monkeypatch, _plain, dlarray(x), dlarray(W))
    assert len(walks) == 1, len(walks)          # (was: 7, a walk in each pass, three in the last)
    a = np.tanh(W @ x)
    assert np.isclose(float(sct.extractdata(y)), np.sum(a * x) + np.sum(np.sin(a)), rtol=1e-12)
    plain = lambda xv: float(np.sum(np.tanh(W @ xv) * xv) + np.sum(np.sin(np.tanh(W @ xv))))
    fd = np.array([(plain(x + e) - plain(x - e)) / 2e-6 for e in np.eye(3) * 1e-6])
    assert np.allclose(sct.extractdata(gx), fd, rtol=1e-6, atol=1e-8)


class _Base:
    def scale(self, x):
        return x * 2.0


class _Model(_Base):
    def __init__(self, W, b):
        self.W = W
        self.b = b

    def parameters(self):
        yield self.W
        yield self.b

    def scale(self, x):
        return np.tanh(self.W @ x + self.b)

    def loss(self, x):
        # super().scale(...) rewritten to _Base.scale(self, ...), then self.parameters() to
        # _Model.parameters(self): the second pass walks the tree the first changed
        r = 0.1 * sum(np.sum(p ** 2) for p in self.parameters())
        y = np.sum(super().scale(x) * self.scale(x)) + r * np.sum(x)
        return y, dlgradient(y, x)


def _plain_loss(W, b, x):
    return float(np.sum(x * 2.0 * np.tanh(W @ x + b)) + 0.1 * (np.sum(W ** 2) + np.sum(b ** 2)) * np.sum(x))


def test_a_rewritten_tree_is_walked_again_and_the_gradient_is_exact(monkeypatch):
    monkeypatch.setattr(ir, "_CHECK_SHARED", True)      # every shared walk compared with a fresh one
    rng = np.random.default_rng(51)
    W, b, x = rng.standard_normal((3, 3)), rng.standard_normal(3), rng.standard_normal(3)
    model = _Model(W, b)
    sct.clear_cache()
    y, gx = dlfeval(model.loss, dlarray(x))
    assert np.isclose(float(sct.extractdata(y)), _plain_loss(W, b, x), rtol=1e-12)
    fd = np.array([(_plain_loss(W, b, x + e) - _plain_loss(W, b, x - e)) / 2e-6 for e in np.eye(3) * 1e-6])
    assert np.allclose(sct.extractdata(gx), fd, rtol=1e-6, atol=1e-8)
    source = sct.source(model.loss, dlarray(x))
    code = [line for line in source.splitlines() if not line.strip().startswith("#")]
    assert any("_Base.scale" in line for line in code) and not any("super(" in line for line in code)
