"""Augmented assignments (``t op= v``, ``d[k] op= v``, ``o.a op= v``) in the aliasing pass
(sct/aliasing.py): Python changes an array, list or dict that ``t`` holds in place, where sct
computes a new value; ``_check_augmented`` proves that nothing else sees the old object, or
refuses, or (where only the run can tell whether the item is a number) records a
``NumberGuard`` that ``inplace_updates`` turns into a check the run makes first.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import List, Optional

import gast

from .alias_state import EXT, _statements
from .ir import call, const, load, walk_no_defs
from .points_to import AliasAnalysis, _parameter_names, multi_of, unset_key

INPLACE_METHODS = {
    gast.Add: "__iadd__", gast.Sub: "__isub__", gast.Mult: "__imul__", gast.Div: "__itruediv__",
    gast.FloorDiv: "__ifloordiv__", gast.Mod: "__imod__", gast.Pow: "__ipow__",
    gast.MatMult: "__imatmul__", gast.BitAnd: "__iand__", gast.BitOr: "__ior__",
    gast.BitXor: "__ixor__", gast.LShift: "__ilshift__", gast.RShift: "__irshift__",
}
OP_SYMBOLS = {
    gast.Add: "+", gast.Sub: "-", gast.Mult: "*", gast.Div: "/", gast.FloorDiv: "//", gast.Mod: "%",
    gast.Pow: "**", gast.MatMult: "@", gast.BitAnd: "&", gast.BitOr: "|", gast.BitXor: "^",
    gast.LShift: "<<", gast.RShift: ">>",
}


def _rebinds(kind, op, mode: str) -> bool:
    """Does ``t op= v`` rebind ``t`` to a new value when ``t`` has this argument kind (a
    number, a tuple, an object without the in-place method), rather than change it in place?"""
    if not isinstance(kind, tuple) or not kind:
        return False
    method = INPLACE_METHODS.get(type(op), "__iadd__")
    tag = kind[0]
    if tag == "num":
        return True
    if tag in ("dl", "nd"):
        # a traced scalar handed to a helper is a Python or numpy number (immutable);
        # a dlarray or ndarray given to dlfeval changes in place, even with no dimensions
        return mode == "vjp" and len(kind) > 2 and kind[2] == 0
    if tag in ("seq", "map", "obj", "const") and len(kind) > 1 and isinstance(kind[1], type):
        return not hasattr(kind[1], method)
    return False


def _element_kinds(kind, key=None):
    """The kinds of the items of a container argument (of the item ``key`` where known)."""
    if not isinstance(kind, tuple) or len(kind) < 3 or not isinstance(kind[2], tuple):
        return None
    if kind[0] == "seq":
        if isinstance(key, int) and -len(kind[2]) <= key < len(kind[2]):
            return [kind[2][key]]
        return list(kind[2])
    if kind[0] in ("map", "obj"):
        items = [k for k in kind[2] if isinstance(k, tuple) and len(k) == 2]
        if key is not None and any(k == key for k, _ in items):
            return [v for k, v in items if k == key]
        return [v for _, v in items] if kind[0] == "map" or key is None else None
    return None


@dataclass(frozen=True)
class NumberGuard:
    """``d[k] op= v`` whose old item may be a number (rebound, exact) or an array (changed in
    place, refused): the run checks ``old_name`` with ``message`` before ``stmt``."""
    stmt: gast.stmt
    old_name: str
    message: str
    container: Optional[str] = None     # d of ``d[k] op= v``: an item of a numeric array is part of it
    check: str = "require_number"       # the runtime's check (require_array_value: t.any() of a traced t)
    values: tuple = ()                  # names given to the check after the message (require_logger's)


def _check_augmented(s, analysis: AliasAnalysis, param_kinds, mode: str, fail) -> None:
    """``t op= v`` (and ``d[k] op= v``, ``o.a op= v``): Python changes an array, list or dict
    that t holds in place, where sct computes a new value.  That is the same program only when
    nothing else can see the old object: check it, or refuse."""
    old_name, container = s.sct_augmented
    value = s.value
    if not (isinstance(value, gast.BinOp) or isinstance(getattr(value, "op", None), gast.BitOr)) or \
            old_name is None:
        return
    state = analysis.before.get(id(s))
    if state is None:
        return
    if container is None:                       # t op= v
        _check_rebinding(s, analysis, param_kinds, mode, fail, old_name)
    else:
        _check_item_update(s, analysis, param_kinds, mode, fail, old_name, container)


def _check_rebinding(s, analysis: AliasAnalysis, param_kinds, mode: str, fail, old_name: str) -> None:
    """``t op= v``: the objects t holds (less the arguments it rebinds) are seen through t only."""
    op = s.value.op
    symbol = OP_SYMBOLS.get(type(op), "+")
    all_objs = analysis.objects(s, old_name)
    objs = frozenset(o for o in all_objs if not (o[0] == "arg" and
                                                  _rebinds(param_kinds.get(o[1]), op, mode)))
    # s rebinds its target; a name surely holding t's object is bound again after it where Python
    # changed the object in place (sct/copy_aliases.py: sct_rebound)
    why = analysis.sharing_of(s, old_name, objs,
                              exclude={s.targets[0].id} | getattr(s, "sct_rebound", frozenset()))
    message = (f"`{old_name} {symbol}= ...` changes the array (or list) {old_name} holds in place, "
               f"and {{why}}; sct follows the new value through {old_name} only. Write "
               f"`{old_name} = {old_name} {symbol} ...` for a new value (or "
               f"`{old_name} = {old_name}.copy()` first)")
    if why is not None:
        fail(s, message.format(why=why), f"{old_name} {symbol}=")
        return
    # a traced scalar argument of a helper is taken to be a number (rebound: exact); a 0-d array
    # would change in place, seen by the caller (and by another name read later here, as in
    # ``k = c; k *= v; ... c``): the run checks that the old value is a number
    scalars = all_objs - objs
    guards = getattr(analysis.fdef, "sct_number_guards", None)
    if scalars and guards is not None:
        other = _other_live_holder(analysis, s, scalars, {old_name, s.targets[0].id})
        args = ", ".join(sorted(o[1] for o in scalars))
        why = f"{other} holds the same object and is read later" if other is not None else \
            f"{args} is an argument of {analysis.fdef.name}(): the caller's object would change too"
        guards.append(NumberGuard(s, old_name, message.format(why=why + " (a 0-d array changes in place)")))


def _other_live_holder(analysis: AliasAnalysis, s, objs, exclude) -> Optional[str]:
    """A name other than ``exclude``, live after ``s``, that may hold one of ``objs``."""
    state = analysis.before.get(id(s))
    if state is None:
        return None
    live = analysis.live_after.get(id(s), frozenset()) | analysis.captured
    for other in sorted(live):
        if other not in exclude and other in state.env and objs & state.env[other]:
            return other
    return None


def _check_item_update(s, analysis: AliasAnalysis, param_kinds, mode: str, fail, old_name: str,
                       container: str) -> None:
    """``d[k] op= v``: the old item is changed in place (an array within a list, dict or object;
    an item of an array is part of it, and the write into d is checked on its own)."""
    op = s.value.op
    symbol = OP_SYMBOLS.get(type(op), "+")
    state = analysis.before.get(id(s))
    key = None
    src = _source_of(analysis, s, old_name)
    if isinstance(src, gast.Subscript) and isinstance(src.slice, gast.Constant):
        key = src.slice.value
    elif isinstance(src, gast.Attribute):
        key = src.attr
    items = _changed_items(analysis, state, analysis.objects(s, container), key, param_kinds, op, mode)
    if isinstance(src, gast.Subscript) and isinstance(src.slice, gast.Constant):
        items = _items_at_key(analysis, container, key, items)
    if isinstance(src, gast.Attribute) and container in analysis.owned_params:
        # self.a op= v in __init__ before it sets self.a: the class's attribute, which every
        # instance shares (changed in place where it is an array or a list)
        items = items | state.env.get(unset_key(container, key), frozenset())
    what = f"{container}[...]" if isinstance(src, gast.Subscript) else \
        f"{container}.{src.attr}" if isinstance(src, gast.Attribute) else container
    # (a name holding the items only inside the container sees them through it: the write into the
    # container is checked, and followed into such names, on its own)
    through = analysis.holders_through(s, frozenset(items), frozenset(analysis.objects(s, container))) \
        if isinstance(src, gast.Subscript) else frozenset()
    why = analysis.sharing_of(s, what, frozenset(items),
                              exclude={container, old_name, s.targets[0].id} | through)
    if why is None and items & multi_of(analysis, state, analysis.objects(s, container)):
        why = f"{container} may hold the same object at another place too (as `[a] * 2` does)"
    if why is not None:
        message = (f"`{what} {symbol}= ...` changes the array (or list) {what} holds in place, and "
                   f"{why}; sct follows the new value through {container} only. Write "
                   f"`{what} = {what} {symbol} ...` for a new value")
        if _may_be_number(analysis, items, param_kinds):
            # a number (an int attribute, a float in a dict) is rebound, which is exact: only the
            # run can tell, so the run checks it before the statement
            guards = getattr(analysis.fdef, "sct_number_guards", None)
            if guards is not None:
                guards.append(NumberGuard(s, old_name, message,
                                          container if isinstance(src, gast.Subscript) else None))
                return
        fail(s, message, f"{what} {symbol}=")


def _changed_items(analysis: AliasAnalysis, state, holders, key, param_kinds, op, mode: str) -> set:
    """The objects the containers ``holders`` may hold (at ``key`` where known) that ``op=``
    changes in place: not the items of arrays, nor argument items it rebinds."""
    items = set()
    for h in holders:
        inside = state.heap.get(h, frozenset())
        if h[0] == "arg" and isinstance(param_kinds.get(h[1]), tuple) and \
                param_kinds[h[1]][:1] in (("dl",), ("nd",)) or \
                h[0] in ("new", "old") and h[1] in analysis.array_sites:
            continue          # an item of an array is part of it: the write into it is checked
        if h[0] == "arg":
            kinds = _element_kinds(param_kinds.get(h[1]), key)
            if kinds is not None and all(_rebinds(k, op, mode) for k in kinds):
                inside = inside - {EXT}
        items |= inside
    return items


def _items_at_key(analysis: AliasAnalysis, container: str, key, items) -> set:
    """``items`` less the objects surely at another key than ``key`` of the list or dict
    ``container`` (was: ``lst = [x * 1.0, y]; lst[0] += y`` refused as changing y, the other item).
    Only for a container bound once to a list or dict written out, read and written only by
    constant keys (no other name, call or method can reach it, so no item moves): the objects
    put at each key are known, by site (an object made again in a loop is the older one later)."""
    fdef = analysis.fdef
    if container in _parameter_names(fdef) + [a.id for a in getattr(fdef.args, "posonlyargs", None) or []]:
        return items
    literal, stores, uses = None, [], 0
    for n in gast.walk(fdef):
        if isinstance(n, gast.Name) and n.id == container:
            uses -= 1
        elif isinstance(n, gast.Assign) and len(n.targets) == 1 and isinstance(n.targets[0], gast.Name) and \
                n.targets[0].id == container:
            if literal is not None or not isinstance(n.value, (gast.List, gast.Dict)):
                return items
            literal = n
            uses += 1
        elif isinstance(n, gast.Assign) and len(n.targets) == 1 and isinstance(n.targets[0], gast.Subscript) and \
                isinstance(n.targets[0].value, gast.Name) and n.targets[0].value.id == container:
            if not isinstance(n.targets[0].slice, gast.Constant):
                return items
            stores.append(n)
            uses += 1
        elif isinstance(n, gast.Subscript) and isinstance(n.ctx, gast.Load) and isinstance(n.value, gast.Name) and \
                n.value.id == container and isinstance(n.slice, gast.Constant):
            uses += 1
    if literal is None or uses != 0 or \
            sum(1 for n in walk_no_defs(fdef) if isinstance(n, gast.Name) and n.id == container) != \
            sum(1 for n in gast.walk(fdef) if isinstance(n, gast.Name) and n.id == container):
        return items                # another use: a call, a method, a loop over it, another name, a nested def
    value = literal.value
    if isinstance(value, gast.List):
        entries = list(enumerate(value.elts))
        if any(isinstance(e, gast.Starred) for e in value.elts):
            return items
    elif any(k is None or not isinstance(k, gast.Constant) for k in value.keys):
        return items                # {**d}: keys not known
    else:
        entries = [(k.value, v) for k, v in zip(value.keys, value.values)]
    size = len(entries)

    def position(k):
        if isinstance(value, gast.Dict):
            return k
        if type(k) not in (int, bool) or not -size <= k < size:
            return _UNKNOWN
        return k % size

    def sites(stmt, node):
        state = analysis.before.get(id(stmt))
        if state is None:
            return None
        return {_site_of(o) for o in analysis.names(state, node)}
    at: dict = {}                   # a dict: keys equal in Python are one key (1 and True)
    for k, v in entries:
        found = sites(literal, v)
        if found is None:
            return items
        at[position(k)] = found     # (a key written twice in the dict: the last value)
    for st in stores:
        k = position(st.targets[0].slice.value)
        found = sites(st, st.value)
        if found is None or k is _UNKNOWN:
            return items
        at[k] = at.get(k, set()) | found
    k = position(key)
    if k is _UNKNOWN or k not in at:
        return items
    mine = at[k]
    others = set().union(*(v for j, v in at.items() if j != k)) - mine
    # (an object from outside, EXT, too: where it is put at other keys only, this key's item is none of them;
    # was kept, so `acc = {"sum": np.zeros(2), "first": x[0]}; acc["sum"] += v` was refused when run, red55r F2)
    return {o for o in items if _site_of(o) not in others}


_UNKNOWN = object()


def _site_of(o):
    """The object ``o`` by its site: the newest and the older objects of a site are one here."""
    return ("site", o[1]) if o[0] in ("new", "old") else o


def _may_be_number(analysis: AliasAnalysis, objs, param_kinds) -> bool:
    """May one of ``objs`` be a number (not surely an array, list or dict)?"""
    for o in objs:
        if o == EXT:
            return True
        if o[0] == "arg":
            kind = param_kinds.get(o[1])
            if not (isinstance(kind, tuple) and kind[:1] in (("dl",), ("nd",), ("seq",), ("map",))):
                return True
        elif o[0] in ("new", "old") and not (o[1] in analysis.array_sites or o[1] in analysis.seq_sites or
                                               o[1] in analysis.map_sites):
            return True
    return False


def _insert_number_guards(body: List, guards: List[NumberGuard], rt_name: str) -> None:
    """``rt.require_number(old, message)`` before each augmented statement in ``guards``."""
    wanted: dict = {}
    for g in guards:        # (several before one statement: each parameter taken for None, see write_checks)
        entry = (g.old_name, g.message, g.container, g.check, g.values)
        if entry not in wanted.setdefault(id(g.stmt), []):
            wanted[id(g.stmt)].append(entry)
    i = 0
    while i < len(body):
        s = body[i]
        for field_name in ("body", "orelse"):
            inner = getattr(s, field_name, None)
            if isinstance(inner, list):
                _insert_number_guards(inner, guards, rt_name)
        for old, message, container, checker, values in wanted.get(id(s), ()):
            check = gast.Expr(value=call(f"{rt_name}.{checker}", [load(old), const(message)] +
                                         ([load(container)] if container is not None else []) +
                                         [load(v) for v in values]))
            check.lineno = s.lineno
            body.insert(i, check)
            i += 1
        i += 1


def _source_of(analysis: AliasAnalysis, s, name: str):
    """The value ``name`` was last assigned from before ``s`` in the same block (the item load
    the normaliser emits right before an augmented statement)."""
    for st in _statements(analysis.fdef.body):
        if isinstance(st, gast.Assign) and isinstance(st.targets[0], gast.Name) and \
                st.targets[0].id == name:
            return st.value
    return None



def inplace_updates(fdef, rt_name: str) -> None:
    """The augmented statements only the run can check (an item or attribute that may be a
    number, see check_writes) get their check first."""
    guards = getattr(fdef, "sct_number_guards", None)
    if guards:
        _insert_number_guards(fdef.body, guards, rt_name)
    fdef.sct_number_guards = None
