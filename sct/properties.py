"""``obj.name`` where ``name`` is a ``property`` of ``obj``'s class: the read is its getter's call.

Python runs ``type(obj).name.fget(obj)`` for such a read (a property is a data descriptor: it wins
over the instance's ``__dict__``).  Where the compiler knows the class of ``obj`` (an argument of
that kind, a name bound once to ``Cls(...)`` or to a part of such an argument: see
``sct/unpack_objects.py: _known_classes``) and the class's attribute is a ``property`` whose getter
is a plain Python function (the class has no ``__getattribute__`` or ``__getattr__`` of its own),
the read becomes that call::

    rt.property_read_here(m, "weight", __sct_property_7_Lin_weight)   # still type(m)'s getter?
    m_weight = __sct_property_7_Lin_weight(m)     # Lin.weight.fget, called as any function of the user's

(the name bound to the getter, guarded: compiled again where the class's property changes; the
check refuses an object of another class put where the compiler read the class, such as a field
written before the read) so the derivative goes through the getter's code, from the values it read when it ran (its
residuals are saved by its forward, as for a method: a field written after the read does not change
it).  What is not proven that way keeps the refusals of ``runtime/support.py``
(``refuse_computed_attribute``): a ``functools.cached_property``, ``__getattr__``, a property of a
class known only at run time.  A write ``obj.name = v`` through a property's setter is marked here
(``sct_setter``) and refused where it is traced (sct/write_checks.py: sct does not differentiate
through setters; the write was taken for a field's, and the derivative of what the setter stored lost).
"""
from __future__ import annotations

from typing import Dict, List, Optional

import gast
import numpy as np

from .ir import assign, call, const, load, walk_nodes, walk_nodes_list
from .runtime.support import data_descriptor, plain_property
from .unpack_objects import _blocks, _known_classes


def _setter_property(cls, name: str):
    if not isinstance(cls, type):
        return None
    for klass in cls.__mro__:
        if name in vars(klass):
            attr = vars(klass)[name]
            return attr if isinstance(attr, property) else None
    return None


_SIMPLE = (gast.Assign, gast.Expr, gast.Return, gast.AugAssign, gast.AnnAssign)


def compile_property_reads(fdef, resolver, param_kinds, namer, rt_name: str, filename: str) -> None:
    """Rewrite the property reads of objects of known classes into their getters' calls (see the
    module's doc), in place; refuse writes through a property."""
    classes: Optional[Dict[str, type]] = None
    for block in _blocks(fdef):
        at = 0
        while at < len(block):
            stmt = block[at]
            if not isinstance(stmt, _SIMPLE):
                at += 1
                continue
            found = [node for node in _attributes(stmt)]
            if not found:
                at += 1
                continue
            if classes is None:
                try:
                    classes = _known_classes(fdef, resolver, param_kinds, rt_name)
                except Exception:           # (nothing proven: the reads stay reads, refused where traced)
                    classes = {}
                nodes = walk_nodes_list(fdef)      # (one walk for both)
                asked = _site_arguments(fdef, resolver, nodes)
                local = {n.id for n in nodes if isinstance(n, gast.Name) and
                         isinstance(n.ctx, (gast.Store, gast.Param))} | \
                    {a.id for a in fdef.args.args + fdef.args.kwonlyargs + fdef.args.posonlyargs
                     if isinstance(a, gast.Name)}
            line = getattr(stmt, "lineno", None) or getattr(fdef, "lineno", 0)
            pre: List = []
            for node, parent, field, index in found:
                cls = classes.get(node.value.id)
                if cls is None and isinstance(node.ctx, gast.Store) and parent is None and \
                        isinstance(stmt, (gast.Assign, gast.AugAssign, gast.AnnAssign)) and \
                        node.value.id in local:     # (not ``Cfg.scale = v`` of a global: its own checks)
                    # an object whose class is not proven here: ``p.w = v`` may run a property's setter
                    # or a descriptor's __set__ (was: taken for a field's write, the derivative of what the
                    # setter stored lost); checked at run time where the write is traced (sct/write_checks.py
                    # turns the flag on)
                    check = gast.Expr(value=call(f"{rt_name}.attribute_write_here", [
                        load(node.value.id), const(node.attr), const(False)]))
                    check.lineno = line
                    pre.append(check)
                    stmt.sct_write_check = check.value
                    continue
                if cls is None or _site_argument(parent, resolver) or \
                        isinstance(stmt, gast.Assign) and isinstance(stmt.targets[0], gast.Name) and \
                        stmt.targets[0].id in asked:
                    continue
                if isinstance(node.ctx, (gast.Store, gast.Del)):
                    prop = _setter_property(cls, node.attr)
                    if prop is None and data_descriptor(cls, node.attr) is not None:
                        # a descriptor's __set__ (not a property's): refused where traced as a setter is
                        # (was: taken for a field's write, the derivative of what __set__ stored lost)
                        stmt.sct_setter = f"{cls.__name__}.{node.attr}"
                        stmt.sct_descriptor = True
                    if prop is not None and (prop.fset is not None or prop.fdel is not None):
                        # refused where the write is traced (sct/write_checks.py): a setter of an object
                        # holding no traced value (a flag, a setting) runs as Python runs it
                        stmt.sct_setter = f"{cls.__name__}.{node.attr}"
                    continue
                if plain_property(cls, node.attr) is None:
                    continue
                if getattr(stmt, "value", None) is not node:
                    # (the normalizer reads each attribute into a name of its own; a read inside a
                    # larger expression, after code that may change the object, stays a read)
                    continue
                obj = node.value.id
                getter = _getter_name(resolver, cls, node.attr, namer)
                value = namer.fresh(f"{obj}_{node.attr}")
                check = gast.Expr(value=call(f"{rt_name}.property_read_here", [load(obj), const(node.attr),
                                                                               load(getter)]))
                check.lineno = line
                pre.append(check)
                pre.append(assign(value, call(getter, [load(obj)]), line))
                new = load(value)
                if index is None:
                    setattr(parent, field, new)
                else:
                    getattr(parent, field)[index] = new
            block[at:at] = pre
            at += len(pre) + 1


def _getter_name(resolver, cls, name: str, namer) -> str:
    """A global name of the generated code bound to the getter of ``cls``'s property ``name``,
    guarded: the code is compiled again where the class's property changes."""
    from .analysis import Guard
    from .options import _Lookup
    made = resolver.__dict__.setdefault("property_getters", {})     # (class, name) -> its global name
    key = made.get((cls, name))
    if key is None:
        fget = plain_property(cls, name).fget
        key = made[(cls, name)] = f"__sct_property_{len(resolver.guards)}_{cls.__name__}_{name}"
        resolver.guards[key] = Guard(_Lookup(lambda: plain_property(cls, name).fget), key, fget)
    return key


def _site_arguments(fdef, resolver, nodes=None) -> set:
    """The names passed to dlgradient (dljacobian, ...) as what to differentiate with respect to
    (``nodes``: ``walk_nodes(fdef)``'s, where already walked)."""
    out = set()
    for node in (walk_nodes(fdef) if nodes is None else nodes):
        if isinstance(node, gast.Call) and _site_argument(node, resolver):
            for a in node.args[1:]:
                out |= {n.id for n in walk_nodes(a) if isinstance(n, gast.Name)}
    return out


def _site_argument(parent, resolver) -> bool:
    """Is the read an argument of dlgradient (dljacobian, ...)?  ``dlgradient(y, obj.weight)`` asks
    for the derivative with respect to a property, which is no field: left to the run-time refusal."""
    if not isinstance(parent, gast.Call):
        return False
    from .hooks import API
    try:
        target = resolver.resolve(parent.func)
    except Exception:
        return True
    return any(target is f for f in API.SITE_FUNCTIONS)


def _attributes(stmt):
    """``(name.attr node, its parent, the field, the index in it)`` of ``stmt``'s attribute reads of
    names (in the order Python evaluates them, roughly: left to right), and its attribute targets."""
    out = []

    def visit(node, parent, field, index):
        if isinstance(node, (gast.Lambda, gast.ListComp, gast.SetComp, gast.DictComp, gast.GeneratorExp,
                             gast.FunctionDef, gast.ClassDef)):
            return
        if isinstance(node, gast.Attribute) and isinstance(node.value, gast.Name):
            out.append((node, parent, field, index))
            return
        for name in node._fields:
            child = getattr(node, name, None)
            if isinstance(child, list):
                for i, c in enumerate(child):
                    if isinstance(c, gast.AST):
                        visit(c, node, name, i)
            elif isinstance(child, gast.AST):
                visit(child, node, name, None)

    if isinstance(stmt, (gast.Assign, gast.AugAssign, gast.AnnAssign)):
        targets = stmt.targets if isinstance(stmt, gast.Assign) else [stmt.target]
        for i, t in enumerate(targets):
            if isinstance(t, gast.Attribute) and isinstance(t.value, gast.Name):
                out.append((t, None, None, None))       # a write: checked, not rewritten
        if stmt.value is not None:
            visit(stmt.value, stmt, "value", None)
    elif stmt.value is not None:
        visit(stmt.value, stmt, "value", None)
    del visit       # (a recursive closure: freed now rather than by the cyclic collector)
    return out


_NUMBER_BUILTINS = frozenset(("float", "int", "abs", "min", "max", "round", "len", "bool"))


# numpy's functions that build a new array of their numbers (a getter's per-parameter vector)
_NEW_ARRAYS = frozenset(("array", "asarray", "ones", "zeros", "full", "arange", "linspace"))


def counting_getter(fget, kind, _depth=0) -> bool:
    """Does the getter ``fget`` of a property, read on an object of the argument kind ``kind`` (its fields'
    kinds), change nothing but fields of its object holding Python's numbers, rebound (``self.t += 1``,
    ``self.last = lr``), and call nothing but Python's number builtins and ``math``'s functions?  Such a
    getter (a scheduler's step count) changes no array in place, whatever the object holds: read through a
    config dict (``cfg["sched"].lr``) it is run as Python runs it (was refused as a call that may change values
    earlier differentiated operations read, red57a F4).  It reads only number and array fields (no operator of
    a user's object runs) and no class attribute (no other property, method or descriptor)."""
    import math
    import types as _types
    from .parse import function_ast
    if not (isinstance(kind, tuple) and kind[:1] == ("obj",) and len(kind) > 2 and isinstance(kind[2], tuple)):
        return False
    cls = kind[1]
    if not isinstance(cls, type) or \
            any(k in vars(klass) for klass in cls.__mro__[:-1] for k in ("__setattr__", "__getattr__",
                                                                          "__getattribute__", "__delattr__")):
        return False
    try:
        fdef, _, _ = function_ast(fget)
    except Exception:
        return False
    if len(fdef.args.args) != 1 or fdef.args.vararg or fdef.args.kwarg or fdef.args.kwonlyargs:
        return False
    first = fdef.args.args[0].id
    numbers = {key for key, k in kind[2] if isinstance(key, str) and isinstance(k, tuple) and k[:1] == ("num",)}
    # the fields it may read: numbers and arrays (no user object, whose operators would run its code), or its own
    plain = numbers | {key for key, k in kind[2] if isinstance(key, str) and isinstance(k, tuple) and k[:1] == ("nd",)}
    plain |= {t.attr for n in walk_nodes(fdef) if isinstance(n, gast.Assign) for t in n.targets
              if isinstance(t, gast.Attribute)}
    names = getattr(fget, "__globals__", {})
    # (``self._bump()``: a method of the class counting so too, no argument; red57b F3 was refused)
    methods = {id(n.func) for st in fdef.body for n in walk_nodes(st) if isinstance(n, gast.Call) and
               _counting_method(n, first, cls, kind, _depth)}
    for n in (n for st in fdef.body for n in walk_nodes(st)):
        if id(n) in methods or isinstance(n, gast.Call) and id(n.func) in methods:
            continue
        if isinstance(n, (gast.Global, gast.Nonlocal, gast.Lambda, gast.FunctionDef, gast.AsyncFunctionDef,
                          gast.ClassDef, gast.Yield, gast.YieldFrom, gast.Await, gast.With, gast.AsyncWith,
                          gast.Delete, gast.Subscript, gast.Starred, gast.NamedExpr)):
            return False                # (an item written or read: it may be an array's; a def: its own code)
        if isinstance(n, gast.Name) and n.id == first and not isinstance(n.ctx, gast.Load):
            return False
        if isinstance(n, gast.Attribute):
            if not (isinstance(n.value, gast.Name) and n.value.id == first) and \
                    not (isinstance(n.value, gast.Name) and names.get(n.value.id) in (math, np) and
                         isinstance(n.ctx, gast.Load)):
                return False            # (a field of another object, or a module's)
            if isinstance(n.value, gast.Name) and n.value.id == first and \
                    (n.attr not in plain or any(n.attr in vars(klass) for klass in cls.__mro__[:-1])):
                return False            # (a class attribute: a property's code, a method, a descriptor)
        if isinstance(n, gast.AugAssign) and not (isinstance(n.target, gast.Attribute) and n.target.attr in numbers):
            return False                # (``self.w += d`` of an array changes it in place)
        if isinstance(n, (gast.Assign, gast.AnnAssign)) and \
                any(not isinstance(t, (gast.Name, gast.Attribute)) for t in
                    (n.targets if isinstance(n, gast.Assign) else [n.target])):
            return False
        if isinstance(n, gast.Call):
            f = n.func
            if isinstance(f, gast.Name) and f.id in _NUMBER_BUILTINS and f.id not in names and \
                    f.id not in fget.__code__.co_freevars and \
                    f.id not in {a.id for a in walk_nodes(fdef) if isinstance(a, gast.Name) and
                                 not isinstance(a.ctx, gast.Load)}:
                continue
            if isinstance(f, gast.Attribute) and isinstance(f.value, gast.Name) and names.get(f.value.id) is math \
                    and isinstance(getattr(math, f.attr, None), _types.BuiltinFunctionType):
                continue
            if isinstance(f, gast.Attribute) and isinstance(f.value, gast.Name) and names.get(f.value.id) is np and \
                    not n.keywords and not any(isinstance(a, gast.Starred) for a in n.args) and \
                    (f.attr in _NEW_ARRAYS or isinstance(getattr(np, f.attr, None), np.ufunc) and
                     len(n.args) <= getattr(np, f.attr).nin):       # (a further argument is out=)
                continue                # (a per-parameter lr vector: np.array([1.0, 2.0]) / self.t, red57b F6)
            return False
    return True


def _counting_method(call, first, cls, kind, depth) -> bool:
    """Is ``call`` ``self.m()`` of a plain method ``m`` of the class (no field of the object of that name) that
    is itself a counting getter (``counting_getter``)?"""
    import types as _types
    f = call.func
    if call.args or call.keywords or depth > 4 or not (isinstance(f, gast.Attribute) and
                                                         isinstance(f.value, gast.Name) and f.value.id == first):
        return False
    if f.attr in {key for key, _ in kind[2]}:
        return False
    klass = next((k for k in cls.__mro__[:-1] if f.attr in vars(k)), None)
    method = vars(klass).get(f.attr) if klass is not None else None
    return isinstance(method, _types.FunctionType) and counting_getter(method, kind, depth + 1)
