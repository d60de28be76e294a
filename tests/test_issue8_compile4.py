"""Issue 8, item 6 (compile time), fourth round: each piece of work removed checked against the work
it replaces (the same trees, the same answers), one scaling bound with a generous margin.

* optimize.indexed_sums: one walk (it walked the function twice), the sums rewritten through the
  child fields (not gast.NodeTransformer's dispatch over every leaf) and only in the assignments
  whose value holds a sum with an ``rt.index_adjoint`` or negated operand: the same trees as the
  transformer;
* templates.simplify and complex_adjoints.elide_conj: the same visits through the child fields;
* sites.SiteFinding: the function walked once for the copy checks, the structures and the copies
  followed (each x, each name followed walked it again).
"""
import random
import textwrap
import types

import gast

import numpy as np
import pytest

import sct
from sct import cache, copy_checks, dlfeval, ir, optimize, sites, templates
from sct.complex_adjoints import ComplexProjection

from ci_mode import ON_CI
from gradcheck import assert_close, numerical_gradient


def run_fresh(fn, *args):
    cache.clear()
    try:
        return dlfeval(fn, *args)
    finally:
        cache.clear()


def data(v):
    return np.asarray(sct.extractdata(v))


# --- indexed_sums: the transformer it replaces -----------------------------------------------------

def _old_indexed_sums(fn, rt_name, shared=frozenset()):
    """optimize.indexed_sums as it was (sct 8a89d90): two walks, gast.NodeTransformer."""
    def simple(node):
        return isinstance(node, (gast.Name, gast.Constant))

    class Sums(gast.NodeTransformer):
        def visit_BinOp(self, node):
            self.generic_visit(node)
            if not isinstance(node.op, gast.Add):
                return node
            for a, b, swapped in ((node.left, node.right, False), (node.right, node.left, True)):
                if swapped and not simple(a):
                    continue
                if optimize._rt_call(b, rt_name, "index_adjoint") and len(b.args) == 3 and not b.keywords:
                    return gast.copy_location(optimize._rt_of(rt_name, "index_added", [a] + list(b.args)), node)
                if isinstance(b, gast.UnaryOp) and isinstance(b.op, gast.USub):
                    return gast.copy_location(gast.BinOp(left=a, op=gast.Sub(), right=b.operand), node)
            return node

    for node in optimize._walk_no_defs(fn.body):
        if isinstance(node, (gast.Lambda, gast.FunctionDef, gast.ClassDef)):
            return
    for node in list(optimize._walk_no_defs(fn.body)):
        if isinstance(node, (gast.Assign, gast.AugAssign)) and id(node) not in shared and \
                id(getattr(node, "value", None)) not in shared and isinstance(node.value, gast.BinOp):
            node.value = Sums().visit(node.value)


_SUM_PARTS = ["a", "b", "-a", "-(a * b)", "rt.index_adjoint(g, x, i)", "rt.index_adjoint(g, x)",
              "rt.index_adjoint(g, x, i, k=1)", "np.sum(a + -b)", "(a + rt.index_adjoint(g, x, i))",
              "f(a, -b + c)", "2.0", "a[1:] + -c", "rt.other(g, x, i)"]


def _random_sum_function(rng, lines):
    body = []
    for i in range(lines):
        expr = rng.choice(_SUM_PARTS)
        for _ in range(rng.randrange(1, 4)):
            expr = f"{expr} {rng.choice(['+', '-', '*', '+'])} {rng.choice(_SUM_PARTS)}"
        kind = rng.random()
        if kind < 0.15:
            body.append(f"t{i} += {expr}")
        elif kind < 0.25:
            body.append(f"if c:\n        t{i} = {expr}\n    else:\n        t{i} = -t{i}")
        elif kind < 0.3:
            body.append(f"for j in r:\n        t{i} = {expr}")
        elif kind < 0.35:
            body.append(f"t{i}[j + -k] = {expr}")
        else:
            body.append(f"t{i} = {expr}")
    return "def f(a, b, c, g, x, i):\n" + "".join(f"    {s}\n" for s in body) + "    return a\n"


@pytest.mark.parametrize("seed", range(12))
def test_indexed_sums_rewrites_as_the_transformer(seed):
    rng = random.Random(seed)
    src = _random_sum_function(rng, 25)
    old_fn, new_fn = gast.parse(src).body[0], gast.parse(src).body[0]
    # some statements shared with another function: left as they are by both
    ids_old = [id(s) for s in old_fn.body[::5]]
    ids_new = [id(s) for s in new_fn.body[::5]]
    _old_indexed_sums(old_fn, "rt", set(ids_old))
    optimize.indexed_sums(new_fn, "rt", set(ids_new))
    assert gast.dump(new_fn) == gast.dump(old_fn)


def test_indexed_sums_without_candidates_changes_nothing():
    src = "def f(a, b):\n    t = a + b * 2.0\n    u = t - a\n    v = rt.index_adjoint(t, a, 0)\n    return u + v\n"
    fn = gast.parse(src).body[0]
    before = [id(n) for n in gast.walk(fn)]
    optimize.indexed_sums(fn, "rt")
    assert [id(n) for n in gast.walk(fn)] == before     # (v is not a sum's operand: no candidate)


def test_indexed_sums_leaves_functions_with_definitions():
    src = "def f(a, b):\n    t = a + -b\n    h = lambda q: q + -a\n    return t\n"
    fn = gast.parse(src).body[0]
    dump = gast.dump(fn)
    optimize.indexed_sums(fn, "rt")
    assert gast.dump(fn) == dump


def test_indexed_sums_walks_the_function_once(monkeypatch):
    src = _random_sum_function(random.Random(3), 30)
    fn = gast.parse(src).body[0]
    walks = []
    real = optimize._walk_no_defs

    def counted(stmts):
        walks.append(stmts)
        return real(stmts)
    monkeypatch.setattr(optimize, "_walk_no_defs", counted)
    optimize.indexed_sums(fn, "rt")
    assert len(walks) <= 1          # (its own walk, in _walk_no_defs' order)


# --- simplify and elide_conj: the transformers they replace ----------------------------------------

_FOLD_PARTS = ["x", "1", "2", "0", "1.0", "2.5", "(x ** 1)", "(1 * y)", "(y / 1)", "(2 != 0)", "(1 == 1)",
               "np.cos(x * 1)", "f(2 * 3, y ** 1)", "(3 % 0)", "(4 / 0)", "[1 + 1, x * 1]"]


@pytest.mark.parametrize("seed", range(10))
def test_simplify_folds_as_the_transformer(seed):
    rng = random.Random(seed)
    for _ in range(40):
        expr = rng.choice(_FOLD_PARTS)
        for _ in range(rng.randrange(1, 5)):
            expr = f"({expr} {rng.choice(['+', '-', '*', '/', '**'])} {rng.choice(_FOLD_PARTS)})"
        old = gast.parse(expr, mode="eval").body
        new = gast.parse(expr, mode="eval").body
        old = templates._FOLD.visit(old)
        new = templates.simplify(new)
        assert gast.dump(new) == gast.dump(old), expr


def _projection(complex_names):
    act = types.SimpleNamespace(complex=set(complex_names), maybe_complex=set(complex_names),
                                name_real=lambda n: n not in complex_names)
    gen = types.SimpleNamespace(np="np", rt_name="rt", primal_of=lambda n: n[2:] if n.startswith("d_") else n,
                                act=act, live=None, facts=None, namer=None, fail=None, rt=None)
    return ComplexProjection(gen)


def _old_elide(projection, expr):
    """elide_conj's transformer as it was: every field of every node (the leaves too)."""
    import ast

    def elide(node):
        for field in node._fields:
            old = getattr(node, field, None)
            if isinstance(old, list):
                old[:] = [elide(v) if isinstance(v, ast.AST) else v for v in old]
            elif isinstance(old, ast.AST):
                setattr(node, field, elide(old))
        if type(node) is gast.Call:
            f = node.func
            if isinstance(f, gast.Attribute) and f.attr in ("conj", "conjugate") and \
                    isinstance(f.value, gast.Name) and f.value.id == "np" and \
                    len(node.args) == 1 and projection.expr_is_real(node.args[0]):
                return node.args[0]
        return node
    return elide(expr)


@pytest.mark.parametrize("src", [
    "g * np.conj(np.cos(x))",
    "g * np.conj(z) + np.conj(x * 2.0)",
    "np.conj(np.conj(x) * np.conj(1j * x))",
    "np.sum(g * np.conjugate(x), axis=0) - x.conj()",
    "f([np.conj(x), np.conj(z)], k=np.conj(y))",
])
def test_elide_conj_as_the_transformer(src):
    projection = _projection({"z"})
    old = _old_elide(projection, gast.parse(src, mode="eval").body)
    new = projection.elide_conj(gast.parse(src, mode="eval").body)
    assert gast.dump(new) == gast.dump(old)


# --- SiteFinding: the function walked once -----------------------------------------------------------

COPIES = '''
import numpy as np
from sct import dlgradient


def f(x, w, p):
    x0 = x
    q = {"w": w, "b": p}
    v = q["w"]
    ws = [w, x]
    h = np.tanh(x0 @ v) + ws[1] * 2.0
    if np.sum(h) > 0:
        h = h * 1.5
    y = np.sum(h ** 2) + np.sum(q["b"] * x)
    return y, dlgradient(y, x, w, p)
'''


def _module(tmp_path, name, src):
    import importlib
    import sys
    path = tmp_path / f"{name}.py"
    path.write_text(textwrap.dedent(src))
    sys.path.insert(0, str(tmp_path))
    try:
        return importlib.import_module(name)
    finally:
        sys.path.remove(str(tmp_path))


def test_site_finding_walks_the_function_once(tmp_path, monkeypatch):
    mod = _module(tmp_path, "issue8_compile4_copies", COPIES)
    walks = {"inside": False, "count": 0}
    real_walk = ir.walk_nodes

    def counted(node):
        if walks["inside"] and isinstance(node, gast.FunctionDef):
            walks["count"] += 1
        return real_walk(node)
    real_list = ir.walk_nodes_list

    def counted_list(node):     # (the walk as a list: sct.ir.walk_nodes_list)
        if walks["inside"] and isinstance(node, gast.FunctionDef):
            walks["count"] += 1
        return real_list(node)
    for module in (sites, copy_checks):
        monkeypatch.setattr(module, "walk_nodes", counted)
        monkeypatch.setattr(module, "walk_nodes_list", counted_list)
    real_find = sites.SiteFinding.find_sites

    def find(self):
        walks["inside"] = True
        try:
            return real_find(self)
        finally:
            walks["inside"] = False
    monkeypatch.setattr(sites.SiteFinding, "find_sites", find)
    rng = np.random.default_rng(0)
    x, w, p = rng.standard_normal((3, 3)), rng.standard_normal((3, 3)), rng.standard_normal(3)
    y, (gx, gw, gp) = run_fresh(mod.f, sct.dlarray(x), sct.dlarray(w), sct.dlarray(p))
    assert walks["count"] == 1
    # the values and gradients are the program's
    plain = lambda x, w, p: float(np.sum((np.tanh(x @ w) + x * 2.0) ** 2 * (
        1.5 ** 2 if np.sum(np.tanh(x @ w) + x * 2.0) > 0 else 1.0)) + np.sum(p * x))
    assert_close(float(data(y)), plain(x, w, p))
    for k, got in enumerate((gx, gw, gp)):
        assert_close(data(got), numerical_gradient(plain, [x, w, p], k), rtol=1e-4, atol=1e-5)


def test_site_finding_refusals_unchanged(tmp_path):
    # a copy not followed (bound in a branch) is refused, naming the line, as before
    mod = _module(tmp_path, "issue8_compile4_refused", '''
import numpy as np
from sct import dlgradient


def f(x, c):
    if c > 0:
        z = x
    else:
        z = 2.0 * x
    y = np.sum(z * x)
    return dlgradient(y, z)
''')
    with pytest.raises(sct.CompileError) as info:
        run_fresh(mod.f, sct.dlarray(np.ones(3)), 1.0)
    assert info.value.filename.endswith("issue8_compile4_refused.py")
    assert info.value.lineno is not None


# --- scaling --------------------------------------------------------------------------------------

@pytest.mark.heavy
def test_compile_time_grows_about_linearly(tmp_path):
    from test_issue8_compile3 import compile_cpu
    compile_cpu(tmp_path, 20, "issue8_compile4_warm")          # rule templates parsed
    runs = 1 if ON_CI else 2     # (CI's time)
    small = min(compile_cpu(tmp_path, 150, f"issue8_compile4_s{k}") for k in range(runs))
    large = min(compile_cpu(tmp_path, 600, f"issue8_compile4_l{k}") for k in range(runs))
    # 4x the lines: linear is 4x (a quadratic piece made it well over 10x at these sizes)
    assert large < 4 * small * 2.5, (small, large)


# --- normalize: AttributeBuiltins only where a statement names one ------------------------------

ATTRIBUTE_PROGRAM = '''
def f(o, x, n):
    a = getattr(o, "w") * x
    b = np.sum(x) + getattr(o, "b", 0.0)
    setattr(o, "c", a + b)
    delattr(o, "c")
    c = [getattr(q, "w") for q in n]
    def inner(p):
        return getattr(p, "w")
    d = x * 2.0 + np.tanh(x)
    for k in range(3):
        d = d + getattr(o, "w")
    return a + b + d
'''


def test_attribute_builtins_only_where_named():
    from sct.normalize import AttributeBuiltins, _attribute_reads

    def fail(node, construct, advice):
        raise AssertionError(construct)
    body = gast.parse(textwrap.dedent(ATTRIBUTE_PROGRAM)).body[0].body
    named = [_attribute_reads(st)[0] for st in body]      # (its first part: the attribute builtins)
    assert named == [True, True, True, True, True, True, False, True, False]
    for st, has in zip(body, named):
        dump = gast.dump(st)
        out = AttributeBuiltins(fail).visit(st)
        if not has:         # the transformer leaves such a statement as it is
            assert out is st and gast.dump(out) == dump
