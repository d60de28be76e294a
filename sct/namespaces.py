"""``types.SimpleNamespace(w=w, b=b)`` built in differentiated code: rewritten (after normalization,
where the callee is resolved) as ``rt.simple_namespace(("w", "b"), w, b)``, an op with a derivative
rule (each value's adjoint is that of its attribute) that makes the same ``types.SimpleNamespace``
(was: refused, "no derivative rule for types.SimpleNamespace", in the entry and in helpers alike,
although a SimpleNamespace passed in as an argument was differentiated).  ``SimpleNamespace()`` with
no arguments too (a new object whose attributes are set after).  A call with ``**mapping`` or a
positional argument is left as it was (``**mapping`` is refused: pass the keywords explicitly)."""
from __future__ import annotations

import types

import gast

from .ir import call, const, walk_no_defs


def rewrite_namespaces(fdef, resolver, rt_name: str) -> None:
    for node in walk_no_defs(fdef):
        value = node.value if isinstance(node, (gast.Assign, gast.Return, gast.Expr)) else None
        if not isinstance(value, gast.Call) or value.args or \
                any(k.arg is None for k in value.keywords):
            continue
        if not isinstance(value.func, (gast.Name, gast.Attribute)):
            continue
        try:
            target = resolver.resolve(value.func)
        except Exception:
            continue
        if target is not types.SimpleNamespace:
            continue
        names = gast.Tuple(elts=[const(k.arg) for k in value.keywords], ctx=gast.Load())
        node.value = call(f"{rt_name}.simple_namespace", [names] + [k.value for k in value.keywords])
