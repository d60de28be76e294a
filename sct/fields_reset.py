"""A call sct does not read in place that sets fields of an object whose fields the function follows by name
(red team 52 F1): ``y = cell(x0); cell.reset(); y = cell(x1)`` where ``reset`` (another module's method, or one
with a ``try``) sets ``self.h``, left as a call (``rt.effect`` / ``rt.maybe_effect``) because it stores no
traced value (sct.callee_effects._pure's ``self_attributes``).  The function follows ``cell.h`` by its name,
so the adjoint of the read after the call went on into the traced value written before it, as if the call had
not replaced it (a wrong gradient).  Refused where the call may run between a traced write of such a field and
a read of it; a call before the first write (``cell.reset()`` at the start of a forward pass) or after the
last read is exact, and kept."""
from __future__ import annotations

from typing import Optional

import gast

from .alias_state import EXT, _statements
from .ir import walk_nodes


def fields_set(callee) -> frozenset:
    """The fields ``callee`` (a Python function) sets on its first parameter (``self.h = ...``)."""
    from .parse import function_ast
    try:
        fdef, _, _ = function_ast(callee)
    except Exception:
        return frozenset()
    first = fdef.args.args[0].id if fdef.args.args else None
    if first is None:
        return frozenset()
    return frozenset(t.attr for n in gast.walk(fdef) if isinstance(n, gast.Assign)
                     for t in n.targets if isinstance(t, gast.Attribute) and
                     isinstance(t.value, gast.Name) and t.value.id == first)


def _layout(body, order: dict, loops: dict, enclosing=()) -> None:
    """Each statement's place in the function's text and the loops around it."""
    for st in body:
        order[id(st)], loops[id(st)] = len(order), enclosing
        inner = enclosing + (id(st),) if isinstance(st, (gast.For, gast.While)) else enclosing
        for name in ("body", "orelse"):
            block = getattr(st, name, None)
            if isinstance(block, list):
                _layout(block, order, loops, inner)


def _own_parts(st) -> list:
    """The expressions of ``st`` itself (a compound statement's test or iterable, not its blocks)."""
    if isinstance(st, (gast.If, gast.While)):
        return [st.test]
    if isinstance(st, gast.For):
        return [st.iter]
    if isinstance(st, gast.With):
        return list(st.items)
    return [st]


def reset_field(check, s, receivers, callee) -> Optional[str]:
    """The field (``cell.h``) that the call ``s`` (of ``callee``, setting fields of ``receivers``' objects)
    may replace between a traced write of it and a read of it, as the user spells it; None where there is none."""
    fields = fields_set(callee)
    receivers = [r for r in receivers if r is not None]
    if not fields or not receivers:
        return None
    analysis = check.analysis
    mine = set()
    for r in receivers:
        mine |= analysis.objects(s, r)
    order: dict = {}
    loops: dict = {}
    _layout(check.fdef.body, order, loops)
    if id(s) not in order:
        return None
    here, around = order[id(s)], set(loops[id(s)])

    def same(st, name) -> bool:
        if name in receivers:
            return True
        objs = analysis.objects(st, name)
        return bool(objs & mine - {EXT}) or (EXT in objs and EXT in mine)

    written, read = None, None
    for st in _statements(check.fdef.body):
        if st is s or id(st) not in order:
            continue
        before = order[id(st)] < here or bool(around & set(loops[id(st)]))
        after = order[id(st)] > here or bool(around & set(loops[id(st)]))
        if isinstance(st, gast.Assign) and len(st.targets) == 1 and isinstance(st.targets[0], gast.Attribute):
            t = st.targets[0]
            if before and written is None and t.attr in fields and isinstance(t.value, gast.Name) and \
                    (t.value.id in check.active or check.is_active(st.value)) and same(st, t.value.id):
                written = f"{t.value.id}.{t.attr}"
        if after and read is None:
            for part in _own_parts(st):
                for n in walk_nodes(part):
                    if isinstance(n, gast.Attribute) and isinstance(n.ctx, gast.Load) and n.attr in fields and \
                            isinstance(n.value, gast.Name) and same(st, n.value.id):
                        read = f"{n.value.id}.{n.attr}"
                        break
    return written if written is not None and read is not None else None
