"""``del d[k]`` of a dict the function was given: ``d.pop(k)`` (sct.compiler runs it before the normalizer).

sct's normalizer refuses ``del`` of an item (sct/normalize_stmts.py), whose in-place change of a container it
does not follow.  Of a dict that is surely one (the parameter's kind, the cache's key, is a dict, not a subclass
with a ``__delitem__`` of its own) and that the function never binds again, ``del d[k]`` is ``d.pop(k)``: the same
change, the same KeyError for a key not there.  ``d.pop(k)`` is a call sct models: run on the caller's dict as
an effect where the dict holds no traced value, or refused where it does (``state.pop(...)`` of a dict holding
the function's traced values: sct/write_checks.py), as the call written so is.  (Was refused in every case:
``if "tmp" in state: del state["tmp"]`` in a loss function; refuse55a.)
"""
from __future__ import annotations

import gast

from .none_branches import rebound_names

_SCOPES = (gast.FunctionDef, gast.AsyncFunctionDef, gast.ClassDef, gast.Lambda)


def argument_deletes_as_pops(fdef, kinds) -> None:
    """Rewrite each ``del d[k]`` (``del d[a], d[b]``: one pop each, in order) of a parameter ``d`` given a
    dict (``kinds``: the parameters' kinds, in order) that ``fdef`` never binds again, as ``d.pop(k)``."""
    params = [a.id for a in fdef.args.args if isinstance(a, gast.Name)]
    dicts = {p for p, kind in zip(params, tuple(kinds or ()))
             if isinstance(kind, tuple) and len(kind) > 1 and kind[0] == "map" and kind[1] is dict}
    if not dicts or not any(isinstance(n, gast.Delete) for n in gast.walk(fdef)):
        return
    dicts -= rebound_names(fdef)
    if dicts:
        fdef.sct_deleted_items = set()      # (line, dict) of each: its refusal names the del (sct/write_checks.py)
        _rewrite(fdef.body, dicts, fdef.sct_deleted_items)


def _rewrite(body, dicts, lines) -> None:
    i = 0
    while i < len(body):
        s = body[i]
        if isinstance(s, _SCOPES):
            i += 1
            continue
        for field in ("body", "orelse", "finalbody"):
            inner = getattr(s, field, None)
            if isinstance(inner, list):
                _rewrite(inner, dicts, lines)
        for handler in getattr(s, "handlers", None) or ():
            _rewrite(handler.body, dicts, lines)
        for case in getattr(s, "cases", None) or ():
            _rewrite(case.body, dicts, lines)
        if isinstance(s, gast.Delete) and all(_item_of(t, dicts) for t in s.targets):
            pops = []
            for t in s.targets:
                pop = gast.Expr(value=gast.Call(
                    func=gast.Attribute(value=gast.Name(id=t.value.id, ctx=gast.Load(), annotation=None,
                                                        type_comment=None), attr="pop", ctx=gast.Load()),
                    args=[t.slice], keywords=[]))
                gast.copy_location(pop, s)
                gast.copy_location(pop.value, s)
                pops.append(pop)
                lines.add((getattr(s, "lineno", None), t.value.id))
            body[i:i + 1] = pops
            i += len(pops)
            continue
        i += 1


def _item_of(target, dicts) -> bool:
    """Is ``target`` ``d[k]`` of one of ``dicts`` (a key, not a slice written out)?"""
    return isinstance(target, gast.Subscript) and isinstance(target.value, gast.Name) and \
        target.value.id in dicts and not isinstance(target.slice, (gast.Slice, gast.Starred))
