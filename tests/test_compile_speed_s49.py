"""Compile-speed work (s49, issue 8 item 6), guarded without timing:

- ``sct.ir``'s node builders (``load``, ``store``, ``const``, ``assign``, ``attr``, ``call``,
  ``expr_stmt``) make the nodes gast's constructors make (the same fields, in the same order, in the
  node's ``__dict__``) without calling them (they make most of the compiler's nodes: ~210,000 for a
  1,000-line function, each a keyword constructor call and a ``Load()``'s before);
- the generated functions are walked once from the call tree's test of user code
  (``call_tree._runs_user_code``; since s50, from the last passes of ``compiler._rewrite``,
  ``unread_parameters``) to the draws' test (``recomputed.draws_all_seen``): one
  ``sct.ir.shared_walks`` section holds both (was: a walk each); where the call tree rewrites a
  call to call its code by name, the next pass walks the new tree (checked with
  ``sct.ir._CHECK_SHARED``: every shared walk compared with a fresh one), and the value and
  gradient are exact;
- ``compiler._check_context_kept`` walks no statement of a generated function that calls no code sct
  did not compile (one walk of the function, shared with the passes before, says so); where it
  does call such code, the statement is still found and a global it rebinds refused at its line.

``scripts/source_snapshot.py`` checks that no generated source or refusal changed.
"""
import gast
import numpy as np
import pytest

import sct
from sct import call_tree, compiler, dlarray, dlfeval, dlgradient, ir


# --- the builders: gast's nodes, without gast's constructor ---------------------------------------

def _built():
    return [
        (lambda: ir.load("x"), lambda: gast.Name(id="x", ctx=gast.Load(), annotation=None, type_comment=None)),
        (lambda: ir.store("x"), lambda: gast.Name(id="x", ctx=gast.Store(), annotation=None, type_comment=None)),
        (lambda: ir.const(2.5), lambda: gast.Constant(value=2.5, kind=None)),
        (lambda: ir.assign("t", ir.const(1)),
         lambda: gast.Assign(targets=[gast.Name(id="t", ctx=gast.Store(), annotation=None, type_comment=None)],
                             value=gast.Constant(value=1, kind=None), type_comment=None)),
        (lambda: ir.attr(ir.load("np"), "tanh"),
         lambda: gast.Attribute(value=gast.Name(id="np", ctx=gast.Load(), annotation=None, type_comment=None),
                                attr="tanh", ctx=gast.Load())),
        (lambda: ir.call("np.sum", [ir.load("a")]),
         lambda: gast.Call(func=gast.Attribute(value=gast.Name(id="np", ctx=gast.Load(), annotation=None,
                                                               type_comment=None), attr="sum", ctx=gast.Load()),
                           args=[gast.Name(id="a", ctx=gast.Load(), annotation=None, type_comment=None)],
                           keywords=[])),
        (lambda: ir.expr_stmt(ir.const(None)), lambda: gast.Expr(value=gast.Constant(value=None, kind=None))),
    ]


def _fields(node):
    """Every node of the tree: its class and its ``__dict__``'s keys and leaves, in order."""
    out = []
    for n in gast.walk(node):
        out.append((type(n).__name__, [(k, v if not isinstance(v, (gast.AST, list)) else type(v).__name__)
                                       for k, v in vars(n).items()]))
    return out


@pytest.mark.parametrize("k", range(7))
def test_builders_make_the_constructors_nodes(k):
    build, reference = _built()[k]
    made, expected = build(), reference()
    assert gast.dump(made) == gast.dump(expected)
    assert _fields(made) == _fields(expected)
    assert ir.assign("t", ir.const(1), lineno=7).lineno == 7


def test_builders_call_no_constructor(monkeypatch):
    calls = []
    for cls in (gast.Name, gast.Load, gast.Store, gast.Constant, gast.Assign, gast.Attribute, gast.Call, gast.Expr):
        init = cls.__init__

        def counting(self, *args, _init=init, **kwargs):
            calls.append(type(self).__name__)
            _init(self, *args, **kwargs)
        monkeypatch.setattr(cls, "__init__", counting)
    nodes = [build() for build, _ in _built()]
    assert calls == []          # (was: 22 constructor calls for these seven)
    assert [type(n).__name__ for n in nodes] == ["Name", "Name", "Constant", "Assign", "Attribute", "Call", "Expr"]


# --- one walk of the generated functions from the call tree to the draws' test --------------------

def _straight(x, W):
    a = np.tanh(x) * 0.5 + x
    b = a @ W + 0.1 * x
    c = np.sin(b[::-1]) * a
    y = np.sum(c ** 2) / 3
    return y, dlgradient(y, x, W)


def _inputs():
    rng = np.random.default_rng(49)
    return 0.3 * rng.standard_normal(4), 0.3 * rng.standard_normal((4, 4))


def _fd(f, x, eps=1e-6):
    out = np.zeros_like(x)
    for i in np.ndindex(x.shape):
        up, dn = x.copy(), x.copy()
        up[i] += eps
        dn[i] -= eps
        out[i] = (f(up) - f(dn)) / (2 * eps)
    return out


def test_generated_functions_walked_once_from_the_call_tree_to_the_draws_test(monkeypatch):
    walks = {}
    window = [False]
    walk = ir._walk_nodes

    def counting_walk(node):
        if window[0] and isinstance(node, gast.FunctionDef):
            walks[node.name] = walks.get(node.name, 0) + 1
        return walk(node)
    unread_parameters, draws_all_seen = compiler.unread_parameters, compiler.draws_all_seen

    def opening(*args):     # (the walk of the last passes of _rewrite, kept for the call tree's: comp50)
        window[0] = True
        return unread_parameters(*args)

    def closing(*args):
        try:
            return draws_all_seen(*args)
        finally:
            window[0] = False
    attribute_rebinds = compiler.check_attribute_rebinds

    def users_tree(*args):      # (the user's function, walked between them: not counted)
        window[0] = False
        try:
            return attribute_rebinds(*args)
        finally:
            window[0] = True
    monkeypatch.setattr(ir, "_CHECK_SHARED", False)     # (SCT_CHECK_SHARED_WALKS=1 walks again to check)
    monkeypatch.setattr(ir, "_walk_nodes", counting_walk)
    monkeypatch.setattr(compiler, "unread_parameters", opening)
    monkeypatch.setattr(compiler, "draws_all_seen", closing)
    monkeypatch.setattr(compiler, "check_attribute_rebinds", users_tree)
    sct.clear_cache()
    x, W = _inputs()
    y, (gx, gW) = dlfeval(_straight, dlarray(x), dlarray(W))
    assert len(walks) == 2, walks            # the forward and the sweep
    assert set(walks.values()) == {1}, walks     # (was: 2 each, the call tree's walk and the draws')
    expected = float(np.sum((np.sin((np.tanh(x) * 0.5 + x) @ W + 0.1 * x)[::-1] *
                             (np.tanh(x) * 0.5 + x)) ** 2) / 3)
    assert np.isclose(float(sct.extractdata(y)), expected, rtol=1e-12)


def _helper(W, x):
    if np.sum(x) > 100.0:       # (a branch on a value: a call site, bound to its code by name)
        return x
    return np.tanh(W @ x)


def _looped(W, x):
    for _ in range(3):
        x = _helper(W, x)
    z = _helper(W, x * 0.5)     # (a second call bound: walked after the first's rewrite)
    y = np.sum(x ** 2) + np.sum(z)
    return y, dlgradient(y, W)


def _looped_plain(W, x):
    for _ in range(3):
        x = np.tanh(W @ x)
    return float(np.sum(x ** 2) + np.sum(np.tanh(W @ (x * 0.5))))


def test_calls_bound_by_name_are_walked_again_and_the_gradient_is_exact(monkeypatch):
    monkeypatch.setattr(ir, "_CHECK_SHARED", True)      # every shared walk checked against a fresh one
    bound = []
    bind = call_tree._bind

    def counting_bind(tree, b):
        bound.append(b)
        return bind(tree, b)
    monkeypatch.setattr(call_tree, "_bind", counting_bind)
    sct.clear_cache()
    rng = np.random.default_rng(7)
    W, x = 0.5 * rng.standard_normal((3, 3)), rng.standard_normal(3)
    y, g = dlfeval(_looped, dlarray(W), dlarray(x))
    assert len(bound) >= 2, "the helper's calls are bound to their code by name"
    assert np.isclose(float(sct.extractdata(y)), _looped_plain(W, x), rtol=1e-12)
    np.testing.assert_allclose(np.asarray(sct.extractdata(g)), _fd(lambda w: _looped_plain(w, x), W),
                               rtol=1e-6, atol=1e-8)


def _power_zero(x):
    return np.sum(x ** 0 * x)


def _twice(a):
    return np.real(_power_zero(a)), dlgradient(np.real(_power_zero(a)), a)


def test_two_calls_bound_by_name_each_walked_after_the_last_rewrite(monkeypatch):
    """The call tree's second pair (``rt.vjp_at``'s statement) is read (its names' stores counted)
    after the first one's call was rewritten: that walk walks the new tree (was, with the walk
    shared from the call tree's test of user code and no tree_changed after each rewrite: the
    stale walk, caught by the check)."""
    monkeypatch.setattr(ir, "_CHECK_SHARED", True)
    bound = []
    bind = call_tree._bind

    def counting_bind(tree, b):
        bound.append(b)
        return bind(tree, b)
    monkeypatch.setattr(call_tree, "_bind", counting_bind)
    sct.clear_cache()
    x = np.array([0.0, 1.5, -2.0])
    y, g = dlfeval(_twice, dlarray(x))
    assert len(bound) == 2
    assert np.isclose(float(sct.extractdata(y)), float(np.sum(x ** 0 * x)))
    np.testing.assert_allclose(np.asarray(sct.extractdata(g)), np.ones(3), rtol=1e-12)


# --- _check_context_kept: no statement walked where no statement can call other code --------------

def test_context_check_walks_no_statement_of_code_calling_nothing_else(monkeypatch):
    """A generated function calling no runtime function that runs code sct did not compile (nor a
    call site's code) holds no statement to check after: its statements are not walked one by one
    (was: one walk per simple statement of every generated function)."""
    statement_walks = []
    window = [False]
    walk = ir._walk_nodes

    def counting_walk(node):
        if window[0] and isinstance(node, gast.stmt):
            statement_walks.append(type(node).__name__)
        return walk(node)
    check = compiler._check_context_kept

    def inside(*args):
        window[0] = True
        try:
            return check(*args)
        finally:
            window[0] = False
    monkeypatch.setattr(ir, "_CHECK_SHARED", False)
    monkeypatch.setattr(ir, "_walk_nodes", counting_walk)
    monkeypatch.setattr(compiler, "_check_context_kept", inside)
    sct.clear_cache()
    x, W = _inputs()
    dlfeval(_straight, dlarray(x), dlarray(W))
    assert statement_walks == []       # (was: one walk of each Assign, Expr and Return of the two functions)


SCALE = 2.0


def _bump():
    global SCALE
    SCALE = 3.0


def _calls_back(x, cb):
    y = np.sum(x * SCALE)
    cb()
    z = y + np.sum(x * SCALE)
    return z, dlgradient(z, x)


def test_code_calling_other_code_still_checked_after_the_call(monkeypatch):
    """Where the function does call code sct did not compile, the statement calling it is still
    found and the global it rebinds refused when it runs, naming the line."""
    monkeypatch.setattr(ir, "_CHECK_SHARED", True)
    monkeypatch.setitem(globals(), "SCALE", 2.0)
    sct.clear_cache()
    text = str(sct.source(_calls_back, dlarray(np.ones(3)), _bump))
    assert "rt.globals_kept(__sct_context_reads, 'call'" in text
    line = _calls_back.__code__.co_firstlineno + 2
    with pytest.raises(sct.SctError,
                       match=rf"line {line}: code called at this line .* rebinds a global .*\(SCALE\)"):
        dlfeval(_calls_back, dlarray(np.ones(3)), _bump)
