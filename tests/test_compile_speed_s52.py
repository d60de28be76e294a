"""Compile speed, session 52 (comp52b): walks built as lists, one walk for stale_reads' three."""
import gast

from sct import ir
from sct.cse import _Uses, _is_ufunc
from sct.stale_reads import _bound_and_guarded

SOURCE = '''
def f(x, W):
    a = np.tanh(x) * 0.5 + W[0]
    b = [a, x]
    def inner(u):
        return u * 2
    class K:
        pass
    c = rt.recompute_guard(b)
    for i in range(3):
        a = a + i
    return inner(a), locals()
'''


def _fdef():
    return gast.parse(SOURCE).body[0]


def test_walk_nodes_list_is_the_walk_as_a_new_list():
    fdef = _fdef()
    walked = list(ir.walk_nodes(fdef))
    listed = ir.walk_nodes_list(fdef)
    assert len(listed) == len(walked) > 50
    assert all(a is b for a, b in zip(listed, walked))
    with ir.shared_walks(fdef):         # the shared walk's nodes, copied (a caller may change its list)
        shared = ir.walk_nodes_list(fdef)
        assert all(a is b for a, b in zip(shared, walked)) and len(shared) == len(walked)
        shared.clear()
        assert len(ir.walk_nodes_list(fdef)) == len(walked)


def test_bound_and_guarded_one_walk_as_the_three():
    fdef = _fdef()
    bound, guarded = _bound_and_guarded(fdef)
    stores = {n.id for n in ir.walk_nodes(fdef) if isinstance(n, gast.Name) and
              isinstance(n.ctx, (gast.Store, gast.Param))}
    defs = {n.name for n in ir.walk_nodes(fdef) if n is not fdef and
            isinstance(n, (gast.FunctionDef, gast.AsyncFunctionDef, gast.ClassDef))}
    assert bound == stores | defs and {"a", "b", "c", "i", "u", "inner", "K"} <= bound and "f" not in bound
    assert guarded
    assert _bound_and_guarded(gast.parse("def g(x):\n    return x.T\n").body[0]) == ({"x"}, False)


def test_uses_scope_and_names():
    uses = _Uses(_fdef(), "rt", set(), "np")
    assert uses.scope                   # locals() reads the frame
    assert {"a", "b", "c", "i", "x", "W", "np", "rt", "locals"} <= uses.all
    assert uses.stored == {n.id for n in ir.walk_nodes(_fdef()) if isinstance(n, gast.Name) and
                           not isinstance(n.ctx, gast.Load)}           # (parameters too)
    assert {"a", "b", "c", "i", "x"} <= uses.stored and "np" not in uses.stored
    plain = _Uses(gast.parse("def g(x):\n    y = x * 2\n    return y\n").body[0], "rt", set(), "np")
    assert not plain.scope and plain.stored == {"x", "y"} and plain.local == {"x", "y"}
    assert _is_ufunc("tanh") and not _is_ufunc("concatenate") and not _is_ufunc("no_such_name")
