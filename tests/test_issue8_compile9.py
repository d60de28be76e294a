"""Issue 8, item 6 (compile time), ninth round: structural checks (counts of the work removed), each
beside a check that the result is what the old work gave.

* optimize.ZeroFacts: the names a loop (or a simple statement) stores, and whether a loop's body
  jumps, found once per statement (the fixed point over a loop's body visited every nested loop
  and statement again each round, walking them again each time);
* optimize._jumps: the children read through sct.ir.child_nodes (no context or operator leaf);
* optimize.shape_residuals: each body walked once (it was walked four and two times);
* the walks that looked for names, calls and definitions through gast.walk read
  sct.ir.walk_nodes (gast.walk's nodes in its order, less the leaves none of them looks at).
"""
import textwrap

import gast
import numpy as np
import pytest

import sct
from sct import call_tree, cache, dlfeval, dlgradient, optimize
from sct.ir import walk_nodes

from gradcheck import assert_close, numerical_gradient


def _body(src):
    return gast.parse(textwrap.dedent(src)).body


NESTED = """
    d_x = rt.ZERO
    for i in range(3):
        for j in range(2):
            for k in range(2):
                if d_x is not rt.ZERO:
                    d_y = d_x + g
                d_x = d_x + g
                q += 1
            w = d_x
        z = w
"""


def _reference_zero_facts(body, rt_name="rt"):
    """ZeroFacts as it was: _stored and _jumps found again on every visit."""
    class Old(optimize.ZeroFacts):
        pass
    facts = Old(rt_name)
    facts._stores = _NoCache()
    return facts.run(body)


class _NoCache(dict):
    def get(self, key, default=None):
        return None


def test_zero_facts_stores_found_once_per_statement(monkeypatch):
    calls = []
    real = optimize._stored

    def counting(stmts):
        calls.append(1)
        return real(stmts)
    monkeypatch.setattr(optimize, "_stored", counting)
    body = _body(NESTED)
    statements = sum(1 for s in gast.walk(gast.Module(body=body, type_ignores=[])) if isinstance(s, gast.stmt))
    optimize.ZeroFacts("rt").run(body)
    # (changeable's own calls and one per statement; the old code called it again on each visit)
    assert len(calls) <= 2 * statements
    found = len(calls)
    calls.clear()
    _reference_zero_facts(_body(NESTED))
    assert len(calls) > 2 * statements and found * 2 < len(calls)


def test_zero_facts_same_rewrite_as_without_the_memo():
    for src in (NESTED, """
        d_a = rt.ZERO
        while c:
            for t in xs:
                d_a = d_a + t * 2.0
                if d_a is rt.ZERO:
                    break
            d_b = d_a
        if d_b is not rt.ZERO:
            r = d_b + 1.0
    """):
        new = optimize.ZeroFacts("rt").run(_body(src))
        old = _reference_zero_facts(_body(src))
        assert gast.dump(gast.Module(body=new, type_ignores=[])) == gast.dump(gast.Module(body=old, type_ignores=[]))


def _jumps_reference(stmts):
    todo = list(stmts)
    while todo:
        node = todo.pop()
        if isinstance(node, (gast.Break, gast.Continue)):
            return True
        if isinstance(node, (gast.For, gast.While, gast.FunctionDef, gast.ClassDef, gast.Lambda)):
            continue
        todo.extend(gast.iter_child_nodes(node))
    return False


@pytest.mark.parametrize("src", [
    "if a:\n    break\n", "x = 1\nwith m:\n    continue\n", "for i in y:\n    break\n",
    "while a:\n    continue\n", "def f():\n    pass\ny = [z for z in w]\n", "try:\n    pass\nexcept E:\n    break\n",
])
def test_jumps_as_before(src):
    body = gast.parse(src).body
    assert optimize._jumps(body) == _jumps_reference(body)


def test_shape_residuals_walks_each_body_once(monkeypatch):
    fwd = gast.parse(textwrap.dedent("""
        def f_fwd(x):
            t = x * 2.0
            tape.append(t)
            return t, (x, t)
    """)).body[0]
    bwd = gast.parse(textwrap.dedent("""
        def f_bwd(res, d_t):
            x, t = res
            t = tape.pop()
            d_x = rt.unbroadcast(d_t * 2.0, x)
            return d_x
    """)).body[0]
    walks = []
    real, real_list = optimize._walk_no_defs, optimize._nodes_no_defs

    def counting(stmts):
        walks.append(1)
        return real(stmts)

    def counting_list(stmts):       # (s50: the list-built walk, no longer through _walk_no_defs)
        walks.append(1)
        return real_list(stmts)
    monkeypatch.setattr(optimize, "_walk_no_defs", counting)
    monkeypatch.setattr(optimize, "_nodes_no_defs", counting_list)
    optimize.shape_residuals(fwd, bwd, "rt")
    assert len(walks) == 2
    # t is never read in the adjoint: proxied (x is the forward's parameter: kept), as before
    assert gast.unparse(fwd.body[-1]).strip() == "return (t, (x, rt.shape_proxy(t)))"


def test_local_names_as_gast_walk():
    fdef = gast.parse(textwrap.dedent("""
        def f(a, *b, c=1, **d):
            x = a
            for i in range(3):
                y, (z, w) = i, (a, a)
            del x
            def g():
                inner = 1
            class K:
                pass
            return y
    """)).body[0]
    old = {n.id for n in gast.walk(fdef) if isinstance(n, gast.Name) and isinstance(n.ctx, (gast.Store, gast.Del))}
    old |= {n.name for n in gast.walk(fdef) if isinstance(n, gast.FunctionDef) and n is not fdef}
    args = fdef.args
    old |= {a.id for a in args.args + args.kwonlyargs + args.posonlyargs} | {"b", "d"}
    assert call_tree._local_names(fdef) == old


def test_walk_nodes_is_gast_walk_without_leaves():
    import sct.optimize as module
    tree = gast.parse(open(module.__file__).read())
    leaves = (gast.expr_context, gast.operator, gast.unaryop, gast.boolop, gast.cmpop)
    old = [n for n in gast.walk(tree) if not isinstance(n, leaves)]
    new = list(walk_nodes(tree))
    assert len(old) == len(new) and all(a is b for a, b in zip(old, new))


# --- end to end: what the touched passes compile still differentiates right -------------------

def nested_loops_loss(x):
    s = x * 0.0
    for i in range(3):
        for j in range(2):
            if i > j:
                s = s + np.sin(x) * (i + j)
            else:
                s = s - x ** 2
    return np.sum(s)


def nested_loops_grad(x):
    y = nested_loops_loss(x)
    return y, dlgradient(y, x)


def helper_tape(x):
    t = np.tanh(x)
    return t * x


def loop_helper_loss(x):
    acc = x * 0.0
    for k in range(3):
        acc = acc + helper_tape(x + k)
    return np.sum(acc)


def loop_helper_grad(x):
    y = loop_helper_loss(x)
    return y, dlgradient(y, x)


def second_order(x):
    y, g = loop_helper_grad(x)
    return np.sum(g * g), dlgradient(np.sum(g * g), x)


@pytest.mark.parametrize("loss,grad", [(nested_loops_loss, nested_loops_grad),
                                        (loop_helper_loss, loop_helper_grad)])
def test_gradients_of_loops_and_helpers(loss, grad):
    cache.clear()
    x0 = np.array([0.3, -0.7, 1.1])
    y, g = dlfeval(grad, sct.dlarray(x0))
    assert_close(np.asarray(sct.extractdata(y)), loss(x0))
    assert_close(np.asarray(sct.extractdata(g)), numerical_gradient(loss, [x0], 0))


def test_second_order_through_helper_in_loop():
    cache.clear()
    x0 = np.array([0.3, -0.7, 1.1])

    def value(x):
        return np.sum(numerical_gradient(loop_helper_loss, [x], 0, step=1e-5) ** 2)

    v, g = dlfeval(second_order, sct.dlarray(x0))
    assert_close(np.asarray(sct.extractdata(v)), value(x0), rtol=1e-5, atol=1e-6)
    assert_close(np.asarray(sct.extractdata(g)), numerical_gradient(value, [x0], 0, step=1e-3), rtol=1e-3, atol=1e-3)


# --- child_nodes where gast.iter_child_nodes was read (cse._held_names, normalize_jumps) ----------

@pytest.mark.parametrize("src,held", [
    ("x[i]", {"x", "i"}), ("(x, y * 2.0)", {"x"}), ("a.b[c]", {"a", "c"}), ("[*x, y]", {"x", "y"}),
    ("{k: v for k in x}", {"k", "v", "x"}), ("x if c else y", {"x", "y"}),
])
def test_held_names_as_before(src, held):
    from sct import cse
    expr = gast.parse(src, mode="eval").body
    local = {"x", "y", "i", "a", "c", "k", "v"}
    assert cse._held_names(expr, local) == held & local


def loop_with_break(x, n):
    s = x * 0.0
    for i in range(n):
        if i == 2:
            break
        s = s + np.cos(x) * (i + 1)
        for j in range(2):
            if j > i:
                continue
            s = s * 1.1
    return np.sum(s)


def loop_with_break_grad(x):
    y = loop_with_break(x, 4)
    return y, dlgradient(y, x)


def test_break_and_continue_in_loops():
    cache.clear()
    x0 = np.array([0.2, -0.4])
    y, g = dlfeval(loop_with_break_grad, sct.dlarray(x0))
    assert_close(np.asarray(sct.extractdata(y)), loop_with_break(x0, 4))
    assert_close(np.asarray(sct.extractdata(g)), numerical_gradient(lambda v: loop_with_break(v, 4), [x0], 0))
