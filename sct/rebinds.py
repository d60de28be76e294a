"""The global and closure variables (bindings, not objects) that calling a user's function reads or
rebinds, through its own code and the user functions it names (a few levels down).

A second derivative recomputes the code before a ``dlgradient`` and replays there the user's calls
that are not differentiated (``set_scale(3.0)`` doing ``global SCALE; SCALE = v``): they do not
rebind anything again, so a differentiated helper recomputed between two such calls
(``y = layer(x)`` reading ``SCALE``) reads the variable as the last replayed call left it in the
first run, not as Python's run had it there (was: not seen, since the objects' scans of
``sct/recompute_writes.py`` follow writes into objects and the rebinding checks of
``sct/global_writes.py`` only the globals the compiled function reads itself: a gradient 4/9 of
Python's, red team 48).  :func:`binding_keys` gives each binding as a key of
``RecomputeWrites``' parts: ``"#g<id of the module's dict>.<name>"`` (``.*``: any name of that
module, ``#g?.<name>``: that name of a module not known), ``"#c<id of the cell>"``.
"""
from __future__ import annotations

import dis
import types
from typing import Callable, Dict, Optional, Tuple

from .global_writes import _codes, _functions_of, _library, _library_code, _namespace_write
from .runtime.origins import module_name

_DEPTH = 4
ANY_NAME = "*"


class _All:
    """Every name (for ``_namespace_write``: a ``globals()[key]`` write of any literal key)."""

    def __contains__(self, name) -> bool:
        return True


def global_key(namespace: dict, name: str) -> str:
    return f"#g{id(namespace)}.{name}"


def overlap(a: str, b: str) -> bool:
    """Do two binding keys name the same variable (``.*``: any of its module; ``#g?``: any module)?"""
    if a == b:
        return True
    if not (a.startswith("#g") and b.startswith("#g")):
        return False
    (ma, na), (mb, nb) = a[2:].split(".", 1), b[2:].split(".", 1)
    return (ma == mb or "?" in (ma, mb)) and (na == nb or ANY_NAME in (na, nb))


def _user_functions(value):
    """The user's functions calling ``value`` may run first: ``_functions_of``'s, and an instance's
    ``__call__``."""
    found = list(_functions_of(value))
    if not found and not isinstance(value, (types.FunctionType, types.MethodType, types.ModuleType, type,
                                            types.BuiltinFunctionType)) and value is not None:
        call = getattr(type(value), "__call__", None)
        if isinstance(call, types.FunctionType) and not _library(module_name(call)):
            found.append(call)
    return found


def binding_keys(target, writes: bool) -> Tuple[Dict[str, str], Optional[Callable[[], bool]]]:
    """``(key -> the variable's name, holds)``: the bindings that calling ``target`` rebinds
    (``writes``: ``global G; G = v``, ``globals()["G"] = v``, ``module.G = v``, ``setattr(module,
    "G", v)``, ``nonlocal c; c = v``) or reads (``G``, ``module.G``, a closure variable), in its code
    and in the user functions it names, a few levels down.  ``holds()``: whether the functions and
    the globals naming them are still those scanned (None where none was)."""
    out: Dict[str, str] = {}
    seen = set()
    entries: list = []
    todo = [(target, 1)]
    while todo:
        value, depth = todo.pop()
        funcs = [f for f in _user_functions(value) if not (_library(module_name(f)) or _library_code(f))]
        if funcs:
            entries.append(("functions", value, [(f, f.__code__) for f in funcs]))
        for func in funcs:
            if id(func.__code__) in seen:
                continue
            seen.add(id(func.__code__))
            cells = dict(zip(func.__code__.co_freevars, func.__closure__ or ()))
            for code in _codes(func.__code__):
                for key, name in (_writes(func, code, cells) if writes else _reads(func, code, cells)):
                    out[key] = name
                if depth >= _DEPTH:
                    continue
                for ins in dis.get_instructions(code):
                    if ins.opname in ("LOAD_GLOBAL", "LOAD_NAME"):
                        found = func.__globals__.get(ins.argval)
                        if isinstance(found, (types.FunctionType, type)):
                            entries.append(("name", func.__globals__, ins.argval, found))
                            todo.append((found, depth + 1))
                    elif ins.opname == "LOAD_DEREF" and ins.argval in cells:
                        try:
                            found = cells[ins.argval].cell_contents
                        except ValueError:
                            continue
                        if isinstance(found, types.FunctionType):
                            todo.append((found, depth + 1))

    def holds() -> bool:
        for entry in entries:
            if entry[0] == "functions":
                now = [f for f in _user_functions(entry[1]) if not (_library(module_name(f)) or _library_code(f))]
                if len(now) != len(entry[2]) or any(f is not g or f.__code__ is not c for f, (g, c) in zip(now, entry[2])):
                    return False
            elif entry[1].get(entry[2]) is not entry[3]:
                return False
        return True
    return out, (holds if entries else None)


def _reads(func, code, cells):
    instructions = list(dis.get_instructions(code))
    for k, ins in enumerate(instructions):
        if ins.opname in ("LOAD_GLOBAL", "LOAD_NAME"):
            yield global_key(func.__globals__, ins.argval), ins.argval
            value = func.__globals__.get(ins.argval)
            after = instructions[k + 1] if k + 1 < len(instructions) else None
            if isinstance(value, types.ModuleType) and after is not None and \
                    after.opname in ("LOAD_ATTR", "LOAD_METHOD"):        # module.G
                yield global_key(vars(value), after.argval), after.argval
        elif ins.opname in ("LOAD_DEREF", "LOAD_CLASSDEREF") and ins.argval in cells:
            yield f"#c{id(cells[ins.argval])}", ins.argval


def _writes(func, code, cells):
    instructions = list(dis.get_instructions(code))
    for k, ins in enumerate(instructions):
        if ins.opname in ("STORE_GLOBAL", "DELETE_GLOBAL"):
            yield global_key(func.__globals__, ins.argval), ins.argval
        elif ins.opname in ("STORE_DEREF", "DELETE_DEREF") and ins.argval in cells and \
                ins.argval in code.co_freevars:
            yield f"#c{id(cells[ins.argval])}", ins.argval
        elif ins.opname in ("STORE_ATTR", "DELETE_ATTR") and k:
            module = _module_before(func, instructions[k - 1])
            if module is not False:
                yield (global_key(vars(module), ins.argval) if module is not None else f"#g?.{ins.argval}"), \
                    ins.argval
        elif ins.opname in ("LOAD_GLOBAL", "LOAD_NAME") and ins.argval in ("setattr", "delattr") and \
                func.__globals__.get(ins.argval) is None:
            start = k + 1 + (k + 1 < len(instructions) and instructions[k + 1].opname == "PUSH_NULL")
            for j in range(start, min(start + 12, len(instructions))):
                later = instructions[j]
                if later.opname.startswith("CALL") or later.opname == "PRECALL":
                    break
                if later.opname == "LOAD_CONST" and isinstance(later.argval, str) and j > start:
                    # the object: one instruction (a local, a global), else not known (sys.modules[...])
                    module = _module_before(func, instructions[start]) if j == start + 1 else None
                    if module is not False:
                        yield (global_key(vars(module), later.argval) if module is not None else
                               f"#g?.{later.argval}"), later.argval
                    break
    if any(ins.opname in ("LOAD_GLOBAL", "LOAD_NAME") and ins.argval == "globals" for ins in instructions):
        name = _namespace_write(code, _All())
        if name is not None:
            yield global_key(func.__globals__, ANY_NAME if name.startswith("globals()") else name), \
                "a global" if name.startswith("globals()") else name


def _module_before(func, ins):
    """The module the object an attribute is set on is, where ``ins`` loads it: a module, None (not
    known: ``sys.modules[__name__]``, a call's result), or False (a local, a constant, a global that is
    not a module: an object, whose writes are its own check's)."""
    if ins.opname in ("LOAD_FAST", "LOAD_DEREF", "LOAD_CLOSURE", "LOAD_CONST"):
        return False
    if ins.opname in ("LOAD_GLOBAL", "LOAD_NAME"):
        value = func.__globals__.get(ins.argval)
        return value if isinstance(value, types.ModuleType) else False
    if ins.opname in ("BINARY_SUBSCR", "CALL", "PRECALL", "CALL_FUNCTION", "CALL_METHOD"):
        return None
    return False
