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

from .ir import bound_only_to, walk_nodes
from .runtime.effects import class_hooks

# runtime functions that only note what generated code holds (they run no code of the user's)
# (and those that call a helper's compiled code: checked as its call, sct/stale_reads.py _bind_callees)
_QUIET_RT = frozenset(("note_outside", "walk_context", "unformatted_outside", "stale_kept", "stale_check",
                       "stale_kept_walk", "stale_kept_hooked", "list_kept", "seed", "guard_holds", "vjp_at",
                       "vjp_method_at", "vjp_init_at", "globals_kept", "array_operand", "recompute_hooked"))
# nodes whose use of an operand may run an implicit method of its class
_USES = (gast.Attribute, gast.Subscript, gast.BinOp, gast.UnaryOp, gast.Compare, gast.Call, gast.BoolOp,
         gast.IfExp, gast.FormattedValue, gast.Starred, gast.Dict, gast.Set, gast.AugAssign, gast.For, gast.Slice,
         gast.keyword, gast.If, gast.While, gast.Assert, gast.Raise, gast.With, gast.withitem, gast.Delete)
_BINDS_INSIDE = (gast.ListComp, gast.SetComp, gast.DictComp, gast.GeneratorExp, gast.Lambda, gast.NamedExpr)


def hooks_within_reach(fn, param_kinds, free_values) -> frozenset:
    """The names of the implicit code (runtime class_hooks: ``lr``, ``__add__``, ``__getattr__``...) of the user's
    classes within the function's reach; empty where there is none."""
    found: Set[str] = set()
    for cls in classes_within_reach(fn, param_kinds, free_values):
        found |= class_hooks(cls)
    return frozenset(found)


def classes_within_reach(fn, param_kinds, free_values, spaces=(), keep=class_hooks) -> Set[type]:
    """The classes (and metaclasses) whose implicit code the function may run: its arguments' kinds, the values
    it reads by a free name and what they hold, the classes and objects of its module (and of a user's module
    it reads; ``spaces``: more such modules' dicts); those that ``keep`` (default: that have such code)."""
    found: Set[type] = set()
    seen: Set[int] = set()
    for kind in (param_kinds or {}).values():
        _kind_classes(kind, 0, found)
    for v in (free_values or {}).values():
        _value_classes(v, 0, seen, found)
    spaces = [getattr(fn, "__globals__", None), *spaces]
    spaces += [getattr(v, "__globals__", None) for v in (free_values or {}).values()
               if isinstance(v, types.FunctionType)]
    spaces += [vars(v) for v in (free_values or {}).values()       # (``mod.make()``: a user's module's classes)
               if isinstance(v, types.ModuleType) and _users_module(v)]
    done: Set[int] = set()
    for space in spaces:
        if not isinstance(space, dict) or id(space) in done:
            continue
        done.add(id(space))
        for v in list(space.values()):
            if isinstance(v, type):
                found |= {v, type(v)}
            elif not isinstance(v, (types.ModuleType, types.FunctionType)):
                found.add(type(v))
    return {c for c in found if keep(c)}


def _users_module(m) -> bool:
    """A module of the user's (not Python's, numpy's, sct's nor an installed package's)."""
    top = (getattr(m, "__name__", "") or "").partition(".")[0]
    path = getattr(m, "__file__", None) or ""
    return bool(path) and "site-packages" not in path and top not in sys.stdlib_module_names and \
        top not in ("numpy", "sct", "scipy", "builtins")


def _kind_classes(kind, depth: int, found: Set[type]) -> None:
    if isinstance(kind, type):
        found.add(kind)
    elif isinstance(kind, tuple) and depth < 6:
        for k in kind:
            _kind_classes(k, depth + 1, found)


def _value_classes(v, depth: int, seen: Set[int], found: Set[type]) -> None:
    if id(v) in seen or depth > 3 or isinstance(v, (types.ModuleType, types.FunctionType, types.BuiltinFunctionType)):
        return
    seen.add(id(v))
    found.add(type(v))
    if isinstance(v, type):
        found.add(v)
        return
    if type(v) in (list, tuple, set, frozenset):
        items = list(v)[:64]
    elif type(v) is dict:
        items = list(v.values())[:64]
    else:
        try:
            fields = object.__getattribute__(v, "__dict__")     # (no __getattr__ of the user's runs here)
        except (AttributeError, TypeError):
            return
        items = list(fields.values())[:64] if type(fields) is dict else []
    for e in items:
        _value_classes(e, depth + 1, seen, found)


_BINARY = {gast.Add: "add", gast.Sub: "sub", gast.Mult: "mul", gast.MatMult: "matmul", gast.Div: "truediv",
           gast.FloorDiv: "floordiv", gast.Mod: "mod", gast.Pow: "pow", gast.LShift: "lshift", gast.RShift: "rshift",
           gast.BitOr: "or", gast.BitXor: "xor", gast.BitAnd: "and"}
_UNARY = {gast.USub: ("__neg__",), gast.UAdd: ("__pos__",), gast.Invert: ("__invert__",),
          gast.Not: ("__bool__", "__len__")}
_COMPARE = {gast.Eq: ("__eq__",), gast.NotEq: ("__ne__", "__eq__"), gast.Lt: ("__lt__", "__gt__"),
            gast.LtE: ("__le__", "__ge__"), gast.Gt: ("__gt__", "__lt__"), gast.GtE: ("__ge__", "__le__"),
            gast.In: ("__contains__", "__iter__", "__getitem__", "__eq__"),
            gast.NotIn: ("__contains__", "__iter__", "__getitem__", "__eq__"), gast.Is: (), gast.IsNot: ()}
_TRUTH = ("__bool__", "__len__")
_ITEM = ("__getitem__", "__setitem__", "__delitem__", "__missing__", "__index__", "__hash__", "__eq__",
         "__class_getitem__")
_WALK = ("__iter__", "__next__", "__len__", "__getitem__")
_BY_NAME = frozenset(("getattr", "hasattr", "setattr", "delattr", "vars", "dir"))


def runs_hook(up, n, hooks) -> bool:
    """Whether ``up``'s use of its operand ``n`` may run one of ``hooks``."""
    if isinstance(up, gast.Attribute):
        return up.attr in hooks or "__getattr__" in hooks or "__getattribute__" in hooks or \
            isinstance(up.ctx, (gast.Store, gast.Del)) and ("__setattr__" in hooks or "__delattr__" in hooks)
    if isinstance(up, (gast.BinOp, gast.AugAssign)):
        op = _BINARY.get(type(up.op), "")
        return any(f"__{p}{op}__" in hooks for p in ("", "r", "i"))
    if isinstance(up, gast.UnaryOp):
        return any(h in hooks for h in _UNARY.get(type(up.op), ()))
    if isinstance(up, gast.Compare):
        return any(h in hooks for op in up.ops for h in _COMPARE.get(type(op), ("__eq__",)))
    if isinstance(up, (gast.Subscript, gast.Slice, gast.Delete)):
        return any(h in hooks for h in _ITEM)
    if isinstance(up, gast.For):
        return any(h in hooks for h in _WALK)
    if isinstance(up, (gast.If, gast.While, gast.Assert, gast.BoolOp)) or isinstance(up, gast.IfExp) and up.test is n:
        return any(h in hooks for h in _TRUTH)
    if isinstance(up, gast.FormattedValue):
        return any(h in hooks for h in ("__format__", "__str__", "__repr__"))
    if isinstance(up, (gast.Dict, gast.Set)):
        return "__hash__" in hooks or "__eq__" in hooks
    if isinstance(up, (gast.Call, gast.keyword, gast.Starred)):
        # (given to a function: any protocol of its class, len(), float(), np.asarray()...; getattr(o, "lr"))
        return any(h.startswith("__") for h in hooks) or \
            isinstance(up, gast.Call) and isinstance(up.func, gast.Name) and up.func.id in _BY_NAME
    return bool(hooks)


def hook_subjects(s, plain: Set[str], rt_name: str, hooks=frozenset(("__",)), helpers=frozenset(), inside=False) \
        -> Union[None, bool, Tuple[str, ...]]:
    """What of statement ``s`` may run implicit code (``hooks``: the names of what the classes within reach have;
    ``helpers``: the helpers' compiled code, whose own uses of what they are given are checked there):
    None (nothing), the names of the objects it uses (their classes decide when it runs), or True (an object
    that is no name: a field's, an item's, a call's result used again, a name bound inside the statement;
    ``inside``: such a name is given as a name, the caller knowing them: ``bound_inside``)."""
    if isinstance(s, (gast.FunctionDef, gast.AsyncFunctionDef, gast.ClassDef)):
        return None     # (a def runs nothing of its body; its calls are checked as calls)
    parents = {}
    for n in walk_nodes(s):
        for c in gast.iter_child_nodes(n):
            parents[id(c)] = n
    names = []
    for n in walk_nodes(s):
        if isinstance(n, _BINDS_INSIDE) and not inside:
            return True
        up = parents.get(id(n))
        if up is None or not isinstance(up, _USES) or _quiet_call(up, rt_name, plain) or \
                isinstance(up, gast.Call) and isinstance(up.func, gast.Name) and up.func.id in helpers or \
                isinstance(up, gast.IfExp) and up.test is not n or not runs_hook(up, n, hooks):
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


def bound_inside(s) -> Set[str]:
    """The names a comprehension, a lambda or ``:=`` of statement ``s`` binds."""
    return {m.id for n in walk_nodes(s) if isinstance(n, _BINDS_INSIDE) for m in walk_nodes(n)
            if isinstance(m, gast.Name) and isinstance(m.ctx, (gast.Store, gast.Param))}


def _quiet_call(node, rt_name: str, plain=frozenset()) -> bool:
    """sct's bookkeeping, or ``tape.append(v)`` of a list the code made: runs nothing of what it is given."""
    return isinstance(node, gast.Call) and isinstance(node.func, gast.Attribute) and \
        isinstance(node.func.value, gast.Name) and (node.func.value.id == rt_name and node.func.attr in _QUIET_RT or
                                                    node.func.value.id in plain and node.func.attr == "append")


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
        elif isinstance(n, gast.For) and isinstance(n.target, gast.Name) and isinstance(n.iter, gast.Call) and \
                isinstance(n.iter.func, gast.Name) and n.iter.func.id == "range":
            bindings[n.target.id].append(gast.Constant(value=0, kind=None))     # (an int of range's)
        else:
            for t in _stores(n):
                bindings[t].append(None)
    return bound_only_to(bindings, set(), lambda v, names: _plain_value(v, plain | names, rt_name))


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
    if isinstance(v, gast.Call) and isinstance(v.func, gast.Name) and v.func.id == "len":
        return True     # (an int; generated code's len is Python's)
    return isinstance(v, gast.Call) and isinstance(v.func, gast.Attribute) and isinstance(v.func.value, gast.Name) \
        and v.func.value.id == rt_name and v.func.attr in _PLAIN_RT


# (a dlarray's numbers, or None; what a for loop walks by position: its walk is checked where it is made,
# rt.stale_kept_walk, and a helper's walk of a name is left out as sct/stale_reads.py leaves it)
_PLAIN_RT = frozenset(("scalar_elements", "as_sequence"))


def plain_parameters(fdef, kinds) -> Set[str]:
    """The parameters given plain data (arrays, dlarrays, numbers, strings, lists, tuples and dicts of such) and
    never bound again: reading their items, fields or operators runs no code of the user's, so one statement's
    repeated ``x[0]``, ``x.T`` or ``x * w`` of them is computed once (sct/normalize_exprs.py ``atom``); any other
    object's may run a property's getter, ``__getitem__`` or an operator each time Python reads it."""
    params = [a.id for a in fdef.args.args if isinstance(a, gast.Name)]
    stored = {n.id for n in walk_nodes(fdef) if isinstance(n, gast.Name) and isinstance(n.ctx, (gast.Store, gast.Del))}
    return {name for name, kind in zip(params, tuple(kinds or ())) if name not in stored and _plain_kind(kind, 0)}


_PLAIN_CONSTANTS = (bool, str, bytes, type(None), slice, range)


def _plain_kind(kind, depth: int) -> bool:
    if not isinstance(kind, tuple) or not kind or depth > 8:
        return False
    tag = kind[0]
    if tag in ("dl", "nd", "num"):
        return True
    if tag == "const":
        return len(kind) > 1 and kind[1] in _PLAIN_CONSTANTS
    if tag == "seq" and len(kind) > 2 and kind[1] in (list, tuple):
        return all(_plain_kind(k, depth + 1) for k in kind[2])
    if tag == "map" and len(kind) > 2 and kind[1] is dict:
        return all(_plain_kind(k, depth + 1) for _, k in kind[2])
    return False


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
