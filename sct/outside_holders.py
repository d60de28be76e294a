"""Globals (and captured values) the generated code reads by name that may hold a dlarray: noted when it runs.

sct traces the arguments of dlfeval only; what a global holds is a constant where the code reads it by
name.  Where the global is the same object as an argument (``M = Model(); dlfeval(loss, M, x)`` of a loss
reading both ``M.W`` and ``m.W``; a global dict ``PARAMS`` passed as ``params``; a module-level list of
layers; a closure ``F = make(M)`` or a helper reading ``M``), the derivative through the global's read
was lost: a gradient with respect to ``m.W`` without the ``M.W * x`` term (red team 50).

Each generated function reading such a name by name starts with ``rt.note_outside(holders)``
(sct.runtime.support.note_outside): the dlarrays the values reach are noted for the run, and a gradient
with respect to one of them is refused (support.project), naming the global and the line reading it.
A name whose value cannot hold a dlarray (a module, class, number, string, plain array, a function
capturing nothing) takes no check: the usual code reads no such global and pays nothing.
"""
from __future__ import annotations

import builtins
import functools
import numbers
import sys
import types

import gast
import numpy as np

from . import ir
from .outside_reads import _library
from .runtime.origins import module_name
from .cache import _MISSING
from .ir import walk_nodes

_NO_DLARRAY = (types.ModuleType, type, numbers.Number, str, bytes, np.ndarray, np.generic, np.ufunc,
               types.BuiltinFunctionType, types.BuiltinMethodType, type(None), range, slice)


def may_hold_dlarray(value) -> bool:
    """Whether a dlarray may be reached from ``value`` (decided once, when the code is compiled: the
    guards keep the value the same object)."""
    if isinstance(value, np.ndarray) and value.dtype.kind == "O":
        return True         # (an object array holding the model, OBJ[0].W: was taken for a plain array)
    if value is _MISSING or isinstance(value, _NO_DLARRAY):
        return False
    if type(value) is types.FunctionType:
        from .runtime.support import state_holds_values
        return state_holds_values(value, False)      # (its defaults: see support._dlarrays_of)
    if isinstance(value, (list, tuple, dict, set, frozenset, types.MethodType, functools.partial)):
        return True
    from .runtime.dlarray import dlarray
    if isinstance(value, dlarray):
        return True
    from .runtime.origins import module_top
    module = module_top(type(value))
    # (numpy's, scipy's and sct's own objects: np.sum's dispatcher, a Generator, sct's functions; by
    # identity: was by name, a user's runtime.py taken for sct's runtime, its holder not followed, red52 W2)
    return module not in ("numpy", "scipy", "sct", "runtime", "builtins") or hasattr(value, "__dict__") and \
        module == "builtins"


def note_outside_reads(fn, generated, resolver, namespace, rt_name: str, filename: str, mode: str,
                       called: bool) -> None:
    """Start each generated function reading such a name with ``rt.note_outside(<its holders>)``."""
    from .emit import COMMENT, LINE
    candidates = {}
    fields_only = set()
    instances = set()
    for key, guard in resolver.guards.items():
        # (the entry's own captured values too: sct.api._noting_cells notes them where dlfeval is given no
        # keywords; was: dlfeval(make(M), M, x=x) of a closure over M gave m.W's gradient without mm.W * x)
        if guard.namespace is builtins.__dict__:
            # (a name the user put in builtins, ``builtins.MODEL = m``: was never noted, a gradient without its read)
            if namespace.get(key, builtins.__dict__.get(key, _MISSING)) is not guard.value:
                continue
        elif namespace.get(key, _MISSING) is not guard.value:
            continue
        if may_hold_dlarray(guard.value):
            candidates[key] = (_label(guard, fn), guard.value)
        elif type(guard.value) is types.FunctionType and not _library(module_name(guard.value)):
            # a user function read for a field of its own (``getm.model = M``, read as getm.model.W, set before or
            # after the code is compiled: was a function taken for no holder, a gradient without that read);
            # noted only where the code reads such a field, not where it calls the function
            candidates[key] = (_label(guard, fn), guard.value)
            fields_only.add(key)
        elif isinstance(guard.value, type) and not _library(module_name(guard.value)):
            # a user's class called (``Shared().model.W``: its instance reads the class attribute, set before or
            # after the code is compiled: was a class taken for no holder, a gradient without that read); its
            # own attributes read by name are noted as such (below), isinstance(v, Cls) not at all
            candidates[key] = (_label(guard, fn), guard.value)
            instances.add(key)
    for base, attr, value in resolver.attribute_guards.values():
        # a user's module's global read as an attribute (gmod.MODEL.W: the generated code reads gmod.MODEL);
        # a user's class's attribute (Config.model.W, Holder.items[0].W: was a class taken for no holder, a
        # gradient without that read); sys.modules (sys.modules[__name__].MODEL.W: the user's modules' globals)
        if isinstance(base, types.ModuleType) and not _library(base.__name__) and may_hold_dlarray(value):
            label = f"the global {base.__name__}.{attr}"
        elif isinstance(base, type) and not _library(module_name(base)) and \
                may_hold_dlarray(value) and not isinstance(value, (types.FunctionType, property)):
            label = f"the class attribute {base.__qualname__}.{attr}"
        elif base is sys and attr == "modules":
            label = "sys.modules"
        else:
            continue
        for key, guard in resolver.guards.items():
            if guard.value is base and namespace.get(key, _MISSING) is base:
                candidates[(key, attr)] = (label, value)
    if called:
        _note_defaults(fn, generated, namespace, rt_name, filename)
    if not candidates:
        return
    for k, function in enumerate(generated.functions):
        if not isinstance(function, gast.FunctionDef):
            continue
        stored = {n.id for n in walk_nodes(function) if isinstance(n, gast.Name) and not isinstance(n.ctx, gast.Load)}
        stored |= {a.id for a in function.args.args + function.args.kwonlyargs if isinstance(a, gast.Name)}
        first: dict = {}
        paths: dict = {}            # key -> the attribute and item steps each read takes from it
        line = [None]

        def scan(body):
            for stmt in body:
                value = getattr(stmt, "value", None)
                if isinstance(stmt, gast.Expr) and isinstance(value, gast.Constant) and \
                        isinstance(value.value, str) and value.value.startswith(COMMENT + LINE):
                    try:
                        line[0] = int(value.value[len(COMMENT) + 1:].split(LINE, 1)[0])
                    except ValueError:
                        pass
                    continue
                compound = isinstance(stmt, (gast.If, gast.For, gast.While, gast.With, gast.Try))
                heads = [getattr(stmt, f, None) for f in ("test", "iter", "items", "handlers")] if compound else [stmt]
                heads = [h for head in heads for h in (head if isinstance(head, list) else [head]) if h is not None]
                parents = {}
                for head in heads:
                    for n in walk_nodes(head):
                        for c in gast.iter_child_nodes(n):
                            parents[id(c)] = n
                for n in (n for head in heads for n in walk_nodes(head)):
                    if isinstance(n, gast.Attribute) and isinstance(n.value, gast.Name) and \
                            n.value.id not in stored:
                        key = (n.value.id, n.attr)
                    elif isinstance(n, gast.Name) and n.id not in stored:
                        key = n.id
                    else:
                        continue
                    if key in candidates and isinstance(n.ctx, gast.Load):
                        path = _read_path(n, parents)
                        if key in fields_only and not (path and path[0][0] == "attr" and
                                                       not path[0][1].startswith("__")):
                            continue
                        if key in instances and not _instantiated(n, parents):
                            continue
                        if key not in first:
                            first[key] = line[0] or getattr(getattr(fn, "__code__", None), "co_firstlineno", None)
                        paths.setdefault(key, set()).add(path)
                for field in ("body", "orelse", "finalbody"):
                    inner = getattr(stmt, field, None)
                    if compound and inner:
                        scan(inner)
        scan(function.body)
        if not first:
            continue
        holders = tuple(candidates[key] + (filename, line, _shortest(paths[key])) for key, line in first.items())
        name = f"__sct_outside_{function.name}"
        namespace[name] = holders
        at = 1 if function.body and _is_comment(function.body[0], COMMENT) else 0
        function.body.insert(at, ir.expr_stmt(ir.call(ir.attr(ir.load(rt_name), "note_outside"), [ir.load(name)])))
        ir.tree_changed(function)


def _note_defaults(fn, generated, namespace, rt_name: str, filename: str) -> None:
    """A helper's parameter whose default may hold a dlarray (``def predict(x, m=M)``): where a call leaves it
    out, the helper reads the default, a constant there (was: predict(x) in a loss given M gave m.W's gradient
    without predict's part); ``rt.note_default(m, <holder>)`` notes it for the run where the value is the
    default (a call giving the argument reads what it is given)."""
    code = getattr(fn, "__code__", None)
    if code is None:
        return
    params = code.co_varnames[:code.co_argcount]
    defaults = dict(zip(params[len(params) - len(fn.__defaults__ or ()):], fn.__defaults__ or ()))
    defaults.update(fn.__kwdefaults__ or {})
    defaults = {p: v for p, v in defaults.items() if may_hold_dlarray(v)}
    function = next((f for f in generated.functions if isinstance(f, gast.FunctionDef) and f.name == generated.entry),
                    None)
    if not defaults or function is None:
        return
    args = function.args
    names = {a.id for a in args.args + args.kwonlyargs if isinstance(a, gast.Name)}
    from .emit import COMMENT
    at = 1 if function.body and _is_comment(function.body[0], COMMENT) else 0
    for param, value in defaults.items():
        if param not in names:
            continue
        name = f"__sct_default_{function.name}_{param}"
        namespace[name] = (f"the default of {param} of {fn.__qualname__}()", value, filename, code.co_firstlineno,
                           ((),))
        function.body.insert(at, ir.expr_stmt(ir.call(ir.attr(ir.load(rt_name), "note_default"),
                                                      [ir.load(param), ir.load(name)])))
    ir.tree_changed(function)


def _instantiated(node, parents) -> bool:
    """Whether a class read as ``node`` is called there (``Cls(...)``, ``rt.user_call(Cls, ...)``), not tested."""
    up = parents.get(id(node))
    if not isinstance(up, gast.Call):
        return False
    return up.func is node or any(a is node for a in up.args[:2]) and isinstance(up.func, gast.Attribute) and \
        up.func.attr in ("user_call", "new_object", "vjp_init_at", "primal_call_at", "effect", "maybe_effect")


def _read_path(node, parents) -> tuple:
    """The attribute reads and constant-key items the code takes from ``node`` before using the value
    otherwise (``CFG["lr"]``: ``(("item", "lr"),)``; ``M.layers[0].W``: three steps; ``M`` passed on: none)."""
    steps = []
    while len(steps) < 16:
        up = parents.get(id(node))
        if isinstance(up, gast.Attribute) and up.value is node and isinstance(up.ctx, gast.Load):
            steps.append(("attr", up.attr))
        elif isinstance(up, gast.Subscript) and up.value is node and isinstance(up.ctx, gast.Load) and \
                isinstance(up.slice, gast.Constant) and type(up.slice.value) in (str, int):
            steps.append(("item", up.slice.value))
        else:
            break
        node = up
    return tuple(steps)


def _shortest(paths) -> tuple:
    """The read paths, none that another one begins (``M`` read whole: ``((),)``)."""
    out = []
    for p in sorted(paths, key=len):
        if not any(p[:len(q)] == q for q in out):
            out.append(p)
    return tuple(out)


def _is_comment(stmt, comment: str) -> bool:
    value = getattr(stmt, "value", None)
    return isinstance(stmt, gast.Expr) and isinstance(value, gast.Constant) and isinstance(value.value, str) and \
        value.value.startswith(comment)


def _label(guard, fn) -> str:
    name = guard.name
    if type(guard.namespace) is dict:
        return f"the global {name}" if guard.namespace is getattr(fn, "__globals__", None) else \
            f"the global {guard.namespace.get('__name__', '?')}.{name}"
    return f"{name} (a value {getattr(fn, '__qualname__', 'the function')}() captures)"
