"""Code of the user's that Python runs implicitly, for the stale-read checks (sct/stale_reads.py).

A property read (``s.lr``), an operator (``P + 1.0``: ``Plus.__add__``), an index (``range(IDX)``, ``x[:c]``:
``__index__``), a dict subclass's ``__missing__``, a metaclass's property (``H.lr``) all run code of the user's
where the code names no call.  dunder56 took such uses for calls only on an object a parameter or a global names;
an object reached otherwise (``for s in SCHEDS: s.lr``, ``s = SCHEDS[0]``, ``self.plus + 1``, a helper's local)
was taken for no call, and an array such code changed after a differentiated operation read it gave the changed
numbers as the gradient (red57a W2).  Now, where any class of the user's with such code is within reach of the
function (its arguments' kinds, the values it reads by a free name and what they hold, the classes of its module),
each statement that uses an object otherwise than rebinding it counts as such a call: checked around it
(``rt.stale_kept_hooked``, which keeps the arrays only where one of the objects it names has such code when the
statement runs), or always (``rt.stale_kept``) where what it uses is no name the check can read beforehand.
"""
from __future__ import annotations

import sys
import types
from typing import Optional, Set, Tuple, Union

import gast

from .ir import walk_nodes
from .runtime.effects import hooked_class, runs_hooks

# runtime functions that only note what generated code holds (they run no code of the user's)
_QUIET_RT = frozenset(("note_outside", "walk_context", "unformatted_outside", "stale_kept", "stale_check",
                       "stale_kept_walk", "stale_kept_hooked", "list_kept", "seed"))
# nodes whose use of an operand may run an implicit method of its class
_USES = (gast.Attribute, gast.Subscript, gast.BinOp, gast.UnaryOp, gast.Compare, gast.Call, gast.BoolOp,
         gast.IfExp, gast.FormattedValue, gast.Starred, gast.Dict, gast.Set, gast.AugAssign, gast.For, gast.Slice,
         gast.keyword, gast.If, gast.While, gast.Assert, gast.Raise, gast.With, gast.withitem, gast.Delete)
_BINDS_INSIDE = (gast.ListComp, gast.SetComp, gast.DictComp, gast.GeneratorExp, gast.Lambda, gast.NamedExpr)


def hooks_within_reach(fn, param_kinds, free_values) -> bool:
    """Whether a class of the user's with implicit code (runtime hooked_class) is within the function's reach."""
    seen: Set[int] = set()
    for kind in (param_kinds or {}).values():
        if _kind_hooked(kind, 0):
            return True
    if any(_value_hooked(v, 0, seen) for v in (free_values or {}).values()):
        return True
    spaces = [getattr(fn, "__globals__", None)]
    spaces += [getattr(v, "__globals__", None) for v in (free_values or {}).values()
               if isinstance(v, types.FunctionType)]
    done: Set[int] = set()
    for space in spaces:
        if not isinstance(space, dict) or id(space) in done:
            continue
        done.add(id(space))
        for v in list(space.values()):
            if isinstance(v, type) and not isinstance(v, types.ModuleType) and (hooked_class(v) or
                                                                                  hooked_class(type(v))):
                return True
            if not isinstance(v, (type, types.ModuleType, types.FunctionType)) and hooked_class(type(v)):
                return True
    return False


def _kind_hooked(kind, depth: int) -> bool:
    if isinstance(kind, type):
        return hooked_class(kind)
    if isinstance(kind, tuple) and depth < 6:
        return any(_kind_hooked(k, depth + 1) for k in kind)
    return False


def _value_hooked(v, depth: int, seen: Set[int]) -> bool:
    if id(v) in seen or depth > 3 or isinstance(v, (types.ModuleType, types.FunctionType, types.BuiltinFunctionType)):
        return False
    seen.add(id(v))
    if runs_hooks(v):
        return True
    if type(v) in (list, tuple, set, frozenset):
        return any(_value_hooked(e, depth + 1, seen) for e in list(v)[:64])
    if type(v) is dict:
        return any(_value_hooked(e, depth + 1, seen) for e in list(v.values())[:64])
    try:
        fields = object.__getattribute__(v, "__dict__")     # (no __getattr__ of the user's runs here)
    except (AttributeError, TypeError):
        return False
    return type(fields) is dict and not isinstance(v, type) and \
        any(_value_hooked(e, depth + 1, seen) for e in list(fields.values())[:64])


def hook_subjects(s, plain: Set[str], rt_name: str) -> Union[None, bool, Tuple[str, ...]]:
    """What of statement ``s`` may run implicit code: None (nothing), the names of the objects it uses (their
    classes decide when it runs), or True (an object that is no name: a field's, an item's, a call's result used
    again, a name bound inside the statement)."""
    parents = {}
    for n in walk_nodes(s):
        for c in gast.iter_child_nodes(n):
            parents[id(c)] = n
    names = []
    for n in walk_nodes(s):
        if isinstance(n, _BINDS_INSIDE):
            return True
        up = parents.get(id(n))
        if up is None or not isinstance(up, _USES) or _quiet_call(up, rt_name) or \
                isinstance(up, gast.IfExp) and up.test is not n or \
                isinstance(up, gast.Compare) and all(isinstance(o, (gast.Is, gast.IsNot)) for o in up.ops):
            continue    # (a branch's value is passed on, not used; ``is`` runs nothing)
        if isinstance(up, gast.Call) and up.func is n and isinstance(n, gast.Name):
            continue        # (a call by name: what it runs is a call, checked as calls are)
        if isinstance(n, gast.Name):
            if isinstance(n.ctx, gast.Load) and n.id not in plain and n.id not in names:
                names.append(n.id)
        elif isinstance(n, (gast.Attribute, gast.Subscript, gast.Call)) and \
                not _module_path(n.func if isinstance(n, gast.Call) else n, plain):
            if isinstance(up, gast.Call) and up.func is n:
                continue    # (a method's call: the read of its name is what may run code)
            return True
    return tuple(names) if names else None


def _quiet_call(node, rt_name: str) -> bool:
    return isinstance(node, gast.Call) and isinstance(node.func, gast.Attribute) and \
        isinstance(node.func.value, gast.Name) and node.func.value.id == rt_name and node.func.attr in _QUIET_RT


def _module_path(node, plain: Set[str]) -> bool:
    """``np.linalg``, ``rt.x``: a chain of fields on a name known to run nothing."""
    while isinstance(node, gast.Attribute):
        node = node.value
    return isinstance(node, gast.Name) and node.id in plain


def plain_locals(fwd, plain: Set[str], rt_name: str) -> Set[str]:
    """The names the forward code binds only to a literal, a number's arithmetic of such names or a call of
    numpy's or sct's (``tape = []``, ``n_i = n_i + 1``): no object of the user's, whose use runs nothing."""
    bindings = {}
    for n in walk_nodes(fwd):
        if isinstance(n, gast.Name) and isinstance(n.ctx, (gast.Store, gast.Del, gast.Param)):
            bindings.setdefault(n.id, [])
    for n in walk_nodes(fwd):
        if isinstance(n, gast.Assign) and len(n.targets) == 1 and isinstance(n.targets[0], gast.Name):
            bindings[n.targets[0].id].append(n.value)
        else:
            for t in _stores(n):
                bindings[t].append(None)
    known = {name for name, values in bindings.items() if values and None not in values}
    changed = True
    while changed:         # (the largest such set: ``n_i = n_i + 1`` reads itself)
        changed = False
        for name in list(known):
            if not all(_plain_value(v, plain | known, rt_name) for v in bindings[name]):
                known.discard(name)
                changed = True
    return known


def _stores(n):
    if isinstance(n, gast.Assign) and len(n.targets) == 1 and isinstance(n.targets[0], gast.Name):
        return ()
    parts = n.targets if isinstance(n, (gast.Assign, gast.Delete)) else \
        [n.target] if isinstance(n, (gast.AugAssign, gast.For, gast.AnnAssign, gast.comprehension, gast.NamedExpr)) \
        else [i.optional_vars for i in n.items if i.optional_vars is not None] if isinstance(n, gast.With) else \
        [n] if isinstance(n, (gast.arguments, gast.ExceptHandler)) else []
    return [m.id for p in parts for m in walk_nodes(p) if isinstance(m, gast.Name) and
            isinstance(m.ctx, (gast.Store, gast.Del, gast.Param))]


def _plain_value(v, plain: Set[str], rt_name: str) -> bool:
    if v is None:
        return False
    if isinstance(v, gast.Constant):
        return True
    if isinstance(v, (gast.List, gast.Tuple, gast.Set)) and not v.elts:
        return True
    if isinstance(v, gast.Dict) and not v.keys:
        return True
    if isinstance(v, gast.Name):
        return v.id in plain
    if isinstance(v, gast.BinOp):
        return _plain_value(v.left, plain, rt_name) and _plain_value(v.right, plain, rt_name)
    if isinstance(v, gast.UnaryOp):
        return _plain_value(v.operand, plain, rt_name)
    return isinstance(v, gast.Call) and isinstance(v.func, gast.Attribute) and isinstance(v.func.value, gast.Name) \
        and v.func.value.id == rt_name and v.func.attr in _PLAIN_RT


_PLAIN_RT = frozenset(("scalar_elements",))     # (a dlarray's numbers, or None)


def index_parameters(fdef, kinds) -> Set[str]:
    """The parameters given an object of a class with an ``__index__`` of the user's and never bound again: an
    index or a slice's bound they are read as their integer once, where Python reads it (was: ``x[:cut]`` ran
    ``Cut.__index__`` three times, the adjoint indexing with another slice than the value, red57a W5)."""
    params = [a.id for a in fdef.args.args if isinstance(a, gast.Name)]
    stored = {n.id for n in walk_nodes(fdef) if isinstance(n, gast.Name) and isinstance(n.ctx, (gast.Store, gast.Del))}
    out = set()
    for name, kind in zip(params, tuple(kinds or ())):
        cls = kind[1] if isinstance(kind, tuple) and len(kind) > 1 and kind[0] == "obj" else None
        if isinstance(cls, type) and name not in stored and any(
                isinstance(vars(k).get("__index__"), types.FunctionType) for k in cls.__mro__):
            out.add(name)
    return out
