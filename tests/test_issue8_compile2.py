"""Issue 8, item 6 (compile time), continued: structural checks (counts, never timings) of walks
and analyses the compiler no longer repeats, each beside a check that the result is what the
repeated work gave: the optimiser's three last passes share one walk of a body; the lowering of
in-place operations makes its alias analysis only when a rewrite asks it something; the scalar
specialisation plans nothing where no value of the entry can be a specialised float; the
function's source is parsed once (for the tree and for check_source_matches); the user
function's stores and imports are found on one walk.
"""
import ast
import copy
import inspect
import sys
import textwrap
from typing import Dict

import gast
import numpy as np
import pytest

import sct
from sct import aliasing, cache, compiler, dlarray, dlfeval, dlgradient, optimize, parse, scalars, write_checks
from sct.parse import _increment_lineno, function_ast

from gradcheck import assert_close, numerical_gradient

# the same generated straight-line modules as the first compile-time file
from test_issue8_compile import inputs, straight_line_module


def run_fresh(fn, *args):
    cache.clear()
    try:
        return dlfeval(fn, *args)
    finally:
        cache.clear()


def data(v):
    return np.asarray(sct.extractdata(v))


# --- optimize: contract_products, accumulate_in_place and dead_assignments share one walk ----------

OPTIMIZABLE = '''
def f(a, b, like, g, x, i, n):
    t = rt.unbroadcast(a * b, like)
    d = rt.ZERO
    d = d + rt.index_adjoint(g, x, i)
    d = d + rt.index_adjoint(g, x, n)
    u = 1.0
    v = t
    return t, d
'''


def _optimized(src: str, shared: bool):
    fn = gast.parse(textwrap.dedent(src)).body[0]
    if shared:
        optimize.optimize_function(fn, "rt")
    else:                 # each pass on its own walk, as before
        fn.body = optimize.ZeroFacts("rt").run(fn.body)
        optimize.contract_products(fn, "rt")
        optimize.accumulate_in_place(fn, "rt")
        optimize.dead_assignments(fn, "rt")
    return gast.dump(fn)


@pytest.mark.parametrize("src", [OPTIMIZABLE, OPTIMIZABLE.replace("    d = d + rt.index_adjoint(g, x, n)\n", "")
                                 .replace("d = rt.ZERO", "d = rt.index_adjoint(g, x, n)"),
                                 OPTIMIZABLE.replace("return t, d", "return t, d, u, v")])
def test_the_shared_walk_gives_what_three_walks_gave(src):
    assert _optimized(src, True) == _optimized(src, False)


def test_contract_products_returns_the_walk_of_the_contracted_body():
    fn = gast.parse(textwrap.dedent(OPTIMIZABLE)).body[0]
    nodes = optimize.contract_products(fn, "rt")
    assert "unbroadcast_product" in gast.dump(fn)
    assert [id(n) for n in nodes] == [id(n) for n in optimize._walk_no_defs(fn.body)]


def test_optimize_function_walks_a_body_once_for_its_last_three_passes(tmp_path, monkeypatch):
    fn = straight_line_module(tmp_path, 40, "issue8_compile2_optimize")
    walks: Dict[str, int] = {}
    calls = {"optimize_function": 0}
    walk, optimize_function = optimize._walk_no_defs, optimize.optimize_function

    def counting_walk(stmts):
        caller = sys._getframe(1).f_code.co_name
        walks[caller] = walks.get(caller, 0) + 1
        return walk(stmts)

    def counting_optimize(*a, **k):
        calls["optimize_function"] += 1
        return optimize_function(*a, **k)

    monkeypatch.setattr(optimize, "_walk_no_defs", counting_walk)
    monkeypatch.setattr(optimize, "optimize_function", counting_optimize)
    loss, grads = run_fresh(fn, *inputs())
    assert np.isfinite(float(data(loss)))
    assert calls["optimize_function"] >= 2
    # one walk per function, by contract_products; the two others read its nodes
    assert walks.get("contract_products") == calls["optimize_function"]
    assert "accumulate_in_place" not in walks and "dead_assignments" not in walks


# --- aliasing: lower_mutations' alias analysis made on first use ----------------------------------

def inplace_loss(x):
    z = np.zeros(3)
    np.multiply(x, x, out=z)
    y = np.sum(z * 2.0)
    return y, dlgradient(y, x)


def _count_analyses(monkeypatch):
    counts = {"lowering": 0, "checks": 0}
    lowering_cls, checks_cls = aliasing.AliasAnalysis, write_checks.AliasAnalysis

    def lowering(*a, **k):
        counts["lowering"] += 1
        return lowering_cls(*a, **k)

    def checks(*a, **k):
        counts["checks"] += 1
        return checks_cls(*a, **k)
    monkeypatch.setattr(aliasing, "AliasAnalysis", lowering)
    monkeypatch.setattr(write_checks, "AliasAnalysis", checks)
    return counts


def test_no_alias_analysis_for_a_lowering_with_nothing_to_lower(tmp_path, monkeypatch):
    fn = straight_line_module(tmp_path, 30, "issue8_compile2_alias")
    counts = _count_analyses(monkeypatch)
    loss, grads = run_fresh(fn, *inputs())
    assert np.isfinite(float(data(loss)))
    # (the write checks build theirs at the first question that needs it: a straight-line numpy
    # function whose calls all have rules asks none)
    assert counts == {"lowering": 0, "checks": 0}


def test_an_in_place_operation_is_still_lowered_with_its_analysis(monkeypatch):
    counts = _count_analyses(monkeypatch)
    x = np.array([0.5, -1.25, 2.0])
    y, g = run_fresh(inplace_loss, dlarray(x))
    assert counts["lowering"] >= 1 and counts["checks"] <= 1
    assert_close(float(data(y)), float(np.sum(2.0 * x * x)))
    assert_close(data(g), numerical_gradient(lambda v: float(np.sum(2.0 * v * v)), [x], 0))


# --- scalars: no plan where nothing can be a specialised float -----------------------------------

def element_loss(x):
    s = x[0] * x[1] + np.sin(x[2])
    return s, dlgradient(s, x)


def python_float_loss(x):
    c = np.exp(0.5)              # a numpy function of a Python float: a float (F) without elements
    s = c * 2.0 + 1.0
    y = np.sum(x * s)
    return y, dlgradient(y, x)


def _count_plans(monkeypatch):
    counts = {"plan": 0}
    plan = scalars.Specialiser.plan

    def counting(self, *a, **k):
        counts["plan"] += 1
        return plan(self, *a, **k)
    monkeypatch.setattr(scalars.Specialiser, "plan", counting)
    return counts


def test_no_scalar_plan_for_vectors_none_of_whose_elements_are_read(tmp_path, monkeypatch):
    fn = straight_line_module(tmp_path, 30, "issue8_compile2_scalars")
    counts = _count_plans(monkeypatch)
    loss, grads = run_fresh(fn, *inputs())
    assert np.isfinite(float(data(loss)))
    assert counts["plan"] == 0


@pytest.mark.parametrize("fun,expected", [
    (element_loss, lambda v: v[0] * v[1] + np.sin(v[2])),
    (python_float_loss, lambda v: np.sum(v * (np.exp(0.5) * 2.0 + 1.0))),
])
def test_a_scalar_plan_where_a_value_may_be_a_float(monkeypatch, fun, expected):
    counts = _count_plans(monkeypatch)
    x = np.array([0.3, -0.7, 1.1])
    y, g = run_fresh(fun, dlarray(x))
    assert counts["plan"] >= 1
    assert_close(float(data(y)), float(expected(x)))
    assert_close(data(g), numerical_gradient(lambda v: float(expected(v)), [x], 0))


# --- parse: the source parsed once ---------------------------------------------------------------

def with_handler(x):
    try:
        y = x + 1.0
    except ValueError as err:
        y = x * float(len(str(err)))
    return y


def _old_tree(fn):
    """function_ast's tree as it was made before: gast.parse of the text, its lines moved."""
    lines, start = inspect.getsourcelines(fn)
    tree = gast.parse(textwrap.dedent("".join(lines)))
    _increment_lineno(tree, start - 1)
    fdef = tree.body[0]
    fdef.decorator_list = []
    return fdef


def _with_lines(tree):
    return [(type(n).__name__,) + tuple((a, getattr(n, a, "missing")) for a in n._attributes)
            for n in gast.walk(tree)], gast.dump(tree)


@pytest.mark.parametrize("fn", [with_handler, element_loss, inplace_loss])
def test_function_ast_parses_the_source_once_with_the_same_tree_and_lines(fn, monkeypatch):
    function_ast(fn)             # (the module's imports read once per file: cached)
    parses = {"n": 0}
    real = ast.parse

    def counting(source, *a, **k):
        if f"def {fn.__name__}(" in str(source):       # (not the module's import lines)
            parses["n"] += 1
        return real(source, *a, **k)
    monkeypatch.setattr(ast, "parse", counting)
    fdef, filename, _ = function_ast(fn)
    monkeypatch.setattr(ast, "parse", real)
    assert parses["n"] == 1
    assert filename == fn.__code__.co_filename
    assert _with_lines(fdef) == _with_lines(_old_tree(fn))
    assert fdef.lineno == fn.__code__.co_firstlineno


# --- compiler: the user function's stores and imports on one walk --------------------------------

def imports_inside(x):
    import math
    from numpy import sum as total
    xp = np
    y = xp.sin(x) * math.pi
    s = total(y)
    return s, dlgradient(s, x)


def test_the_resolver_walks_the_function_once(monkeypatch):
    walks = {"n": 0}
    walk, resolver = compiler.walk_nodes, compiler._resolver
    inside = {"on": False}

    def counting(node):
        if inside["on"]:
            walks["n"] += 1
        return walk(node)

    def counting_resolver(*a, **k):
        inside["on"] = True
        try:
            return resolver(*a, **k)
        finally:
            inside["on"] = False
    monkeypatch.setattr(compiler, "walk_nodes", counting)
    monkeypatch.setattr(compiler, "_resolver", counting_resolver)
    x = np.array([0.2, 0.4, -0.9])
    s, g = run_fresh(imports_inside, dlarray(x))
    assert walks["n"] == 1
    assert_close(float(data(s)), float(np.sum(np.sin(x) * np.pi)))
    assert_close(data(g), numerical_gradient(lambda v: float(np.sum(np.sin(v) * np.pi)), [x], 0))


def test_tree_fingerprint_finds_the_stored_names_on_its_walk():
    from sct.analysis import tree_fingerprint
    fdef = gast.parse("def f(a):\n    b = a\n    c, d = b, a\n    del c\n    return d\n").body[0]
    stored = set()
    assert tree_fingerprint(fdef, stored) == tree_fingerprint(fdef)
    assert stored == compiler._stored_names(fdef) == {"b", "c", "d"}


# --- cse: the rewrite's names read from optimize's walk ------------------------------------------

def test_cse_reads_the_names_of_a_function_from_optimize_walk(tmp_path, monkeypatch):
    from sct import cse
    fn = straight_line_module(tmp_path, 40, "issue8_compile2_cse")
    given = {"with": 0, "without": 0}
    uses_init = cse._Uses.__init__

    def checking(self, fdef, rt_name, generated, numpy_name, body_nodes=None):
        uses_init(self, fdef, rt_name, generated, numpy_name, body_nodes)
        if body_nodes is None:
            given["without"] += 1
            return
        given["with"] += 1
        walked = cse._Uses.__new__(cse._Uses)
        uses_init(walked, fdef, rt_name, generated, numpy_name)        # the whole walk, as before
        for field in ("unsafe", "all", "stored", "scope", "local", "params", "params_only"):
            assert getattr(self, field) == getattr(walked, field), field
    monkeypatch.setattr(cse._Uses, "__init__", checking)
    loss, grads = run_fresh(fn, *inputs())
    assert np.isfinite(float(data(loss)))
    # readers' summaries walk each function; each rewrite reads optimize's nodes instead
    assert given["with"] >= 2 and given["without"] == given["with"]
