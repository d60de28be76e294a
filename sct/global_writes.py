"""Globals that a called function rebinds while the differentiated code still reads them.

Generated code reads a module global's value as it was when the call began (the entry's guards
check it then).  A function that sct runs as plain Python (a helper given no traced value, a
callback) may rebind that global with ``global G`` during the call; plain Python's later reads
would see the new value, generated code the old one.  Such a program is refused: every user
function the compiled function can reach through the globals it names (and what those name, a few
levels down) is searched for a ``STORE_GLOBAL``/``DELETE_GLOBAL`` of a global the compiled function
reads from the same module.  A callee known only when it runs is not followed (README, known
limitations).
"""
from __future__ import annotations

import dis
import functools
import os
import types
from typing import Any, Dict, Iterator, Optional, Set

import numpy as np

from .errors import CompileError
from .runtime.origins import module_name

_DEPTH = 6


def _codes(code: types.CodeType) -> Iterator[types.CodeType]:
    """``code`` and the code objects nested in it (inner functions, comprehensions)."""
    yield code
    for const in code.co_consts:
        if isinstance(const, types.CodeType):
            yield from _codes(const)


def _library(module: Optional[str]) -> bool:
    """numpy's, sct's or Python's own code (not searched)."""
    top = (module or "").split(".")[0]
    return top in ("builtins", "numpy", "sct", "scipy")


_REPR_GUARDS = tuple(os.path.join(os.path.dirname(os.__file__), name) for name in ("dataclasses.py", "reprlib.py"))


def _library_code(func) -> bool:
    """A function of Python's dataclasses or reprlib given a user's class as its ``__module__`` (a
    dataclass's ``__repr__``, wrapped by the recursive-repr guard that writes its ``repr_running``
    set): not searched, as ``_library``'s (was: calling a dataclass "changed repr_running")."""
    return getattr(getattr(func, "__code__", None), "co_filename", "") in _REPR_GUARDS


def _functions_of(value: Any, depth: int = 0) -> Iterator[types.FunctionType]:
    """The Python functions that calling ``value`` may run first: itself, a class's ``__init__``
    and ``__call__`` and its other methods, a bound method's function, and those of what a wrapper
    calls (``_wrapped``)."""
    if isinstance(value, types.FunctionType):
        yield value
    elif isinstance(value, types.MethodType) and isinstance(value.__func__, types.FunctionType):
        yield value.__func__
    elif isinstance(value, type) and not _library(module_name(value)):
        for attr in vars(value).values():
            if isinstance(attr, (staticmethod, classmethod)):
                attr = attr.__func__
            if isinstance(attr, types.FunctionType):
                yield attr
    elif depth < 4:
        for inner in _wrapped(value):
            yield from _functions_of(inner, depth + 1)


def _wrapped(value: Any) -> tuple:
    """What calling a wrapper runs: a ``functools.partial``'s function and the values it holds (a
    callback it hands on), an ``lru_cache``/``cache`` wrapper's function (``__wrapped__``), an
    ``np.vectorize``'s ``pyfunc``; () for anything else (was: not looked inside, so ``global SCALE``
    in a ``@functools.cache`` lazy initialiser, or in the function of ``partial(setq, 1)``, left a
    stale value, red54c W5)."""
    if isinstance(value, functools.partial):
        return (value.func,) + tuple(value.args) + tuple((value.keywords or {}).values())
    if isinstance(value, np.vectorize):
        return (value.pyfunc,)
    if type(value).__name__ == "_lru_cache_wrapper" and type(value).__module__ == "functools":
        inner = getattr(value, "__dict__", {}).get("__wrapped__")
        return () if inner is None else (inner,)
    return ()


def runs_hidden_code(value: Any) -> bool:
    """Does calling ``value`` run the user's code through a wrapper whose call sct emits as it is
    (``functools.partial`` of a user's function, an ``lru_cache`` of one, an ``np.vectorize`` of one,
    an ``np.frompyfunc`` ufunc, whose function sct cannot see): such a call is run as a call of the
    user's code (``rt.user_call``), followed by the check that the globals the code read still hold
    (sct/compiler.py _check_context_kept; was: a plain call, a global it rebound read stale, red54c W5)."""
    if isinstance(value, np.ufunc):
        return getattr(np, value.__name__, None) is not value and value.__name__.endswith(" (vectorized)")
    return any(not (_library(module_name(f)) or _library_code(f)) for f in _functions_of(value)) \
        if _wrapped(value) else False


def partial_setattr(value: Any) -> Optional[tuple]:
    """``(object, name)`` that a ``functools.partial(setattr, object, "name", v)`` (or of delattr)
    rebinds when called, else None."""
    if isinstance(value, functools.partial) and value.func in (setattr, delattr) and len(value.args) >= 2 \
            and isinstance(value.args[1], str):
        return value.args[0], value.args[1]
    return None


def writer_name(writer: Any) -> str:
    """How a refusal names what rebinds a variable: ``setq()``, or the partial of setattr."""
    if isinstance(writer, functools.partial):
        return f"functools.partial({getattr(writer.func, '__name__', 'setattr')}, ...)"
    return f"{writer.__qualname__}()"


def rebound_global(fn: types.FunctionType, read: Set[str], namespace: Optional[dict] = None,
                   also=()) -> Optional[tuple]:
    """``(name, writer, how)`` for a global in ``read`` (of ``fn``'s module, or of ``namespace``) that a
    function reachable from ``fn``'s globals (and from ``also``) rebinds (``how``: "global" for
    ``global name``, "globals()" for a write into ``globals()``), or None."""
    module_globals = fn.__globals__ if namespace is None else namespace
    for func, code in _reachable_codes(fn, also):
        if code is None:        # a functools.partial(setattr, module, "G", v) (was: not seen, red54c W5)
            target, name = partial_setattr(func)
            if name in read and getattr(target, "__dict__", None) is module_globals and \
                    isinstance(target, types.ModuleType):
                return name, func, "module attribute"
            continue
        for ins in dis.get_instructions(code):
            if ins.opname in ("STORE_GLOBAL", "DELETE_GLOBAL") and ins.argval in read and \
                    func.__globals__ is module_globals:
                return ins.argval, func, "global"
        if func.__globals__ is module_globals:
            name = _namespace_write(code, read)
            if name is not None:
                return name, func, "globals()"
        name = _module_attribute_write(code, read, func.__globals__, module_globals)
        if name is not None:
            return name, func, "module attribute"
    return None


def touched_global(fn: types.FunctionType, names: Set[str]) -> Optional[tuple]:
    """``(name, function, how)`` for a global in ``names`` that a user function reachable from ``fn``'s
    globals reads ("reads") or rebinds ("rebinds"), or None (sct/global_statements.py)."""
    for func, code in _reachable_codes(fn):
        if code is None or func.__globals__ is not fn.__globals__:
            continue
        for ins in dis.get_instructions(code):
            if ins.argval in names and ins.opname in ("LOAD_GLOBAL", "LOAD_NAME", "STORE_GLOBAL", "DELETE_GLOBAL"):
                return ins.argval, func, "reads" if ins.opname.startswith("LOAD") else "rebinds"
    return None


def _reachable_codes(fn: types.FunctionType, also=()):
    """``(function, code)`` of the user's functions reachable from ``fn``'s globals (and from ``also``),
    through the globals those read, a few levels down (``_DEPTH``): each function's code objects
    once, libraries' left out."""
    seen: Set[int] = {id(fn.__code__)}
    todo = [(value, 1) for name in fn.__code__.co_names for value in
            [fn.__globals__.get(name)] if value is not None] + [(value, 1) for value in also]
    while todo:
        value, depth = todo.pop()
        if partial_setattr(value) is not None:
            yield value, None
        for func in _functions_of(value):
            if id(func.__code__) in seen or _library(module_name(func)) or _library_code(func):
                continue
            seen.add(id(func.__code__))
            for code in _codes(func.__code__):
                yield func, code
                if depth < _DEPTH:
                    todo.extend((func.__globals__.get(n), depth + 1) for n in code.co_names
                                if func.__globals__.get(n) is not None)


_WRITING_METHODS = frozenset(("update", "setdefault", "pop", "popitem", "clear", "__setitem__", "__delitem__"))


def _namespace_write(code: types.CodeType, read: Set[str]) -> Optional[str]:
    """A global in ``read`` that ``code`` rebinds through ``globals()`` (``globals()["G"] = v``,
    ``del globals()["G"]``), or ``"globals()[...]"`` where it writes into ``globals()`` with a key or
    a method sct cannot read (``globals()[name] = v``, ``globals().update(...)``); else None."""
    instructions = list(dis.get_instructions(code))
    if not any(ins.opname in ("LOAD_GLOBAL", "LOAD_NAME") and ins.argval == "globals" for ins in instructions):
        return None
    for k, ins in enumerate(instructions):
        if ins.opname in ("STORE_SUBSCR", "DELETE_SUBSCR"):
            key = instructions[k - 1] if k else None
            if key is not None and key.opname == "LOAD_CONST" and isinstance(key.argval, str):
                if key.argval in read:
                    return key.argval
                continue
            return "globals()[...]"
        if ins.opname in ("LOAD_METHOD", "LOAD_ATTR") and ins.argval in _WRITING_METHODS:
            return "globals()[...]"
    return None


def _module_attribute_write(code: types.CodeType, read: Set[str], namespace: dict, module_globals: dict) -> Optional[str]:
    """A global in ``read`` that ``code`` may rebind as an attribute of ``fn``'s module:
    ``module.G = v`` (a global module or ``sys.modules[__name__]``, an imported module's result),
    ``setattr(module, "G", v)``, ``module.__setattr__("G", v)``, ``del module.G``; None where the
    object is a local (``self.G``) or a global that is not ``fn``'s module."""
    found = next(_module_attribute_writes(code, read, namespace, module_globals), None)
    return None if found is None else found[0]


_ATTRIBUTE_WRITE_OPS = (dis.opmap["STORE_ATTR"], dis.opmap["DELETE_ATTR"])
_ATTRIBUTE_SETTERS = frozenset(("setattr", "delattr", "__setattr__", "__delattr__"))


def _may_write_attributes(code: types.CodeType) -> bool:
    """Whether ``code`` (not its nested code) has a ``STORE_ATTR`` or ``DELETE_ATTR`` instruction or names
    ``setattr``, ``delattr``, ``__setattr__`` or ``__delattr__``: without one, ``_module_attribute_writes``
    finds nothing, and its instructions are not decoded (a long function's dis, three times, was a few
    percent of its compile time).  ``co_code`` is word code: each instruction's opcode at an even offset."""
    if not _ATTRIBUTE_SETTERS.isdisjoint(code.co_names):
        return True
    ops = code.co_code[::2]
    return any(op in ops for op in _ATTRIBUTE_WRITE_OPS)


def _module_attribute_writes(code: types.CodeType, read: Set[str], namespace: dict, module_globals: dict,
                             exact: bool = False):
    """``(name, instruction)`` of each write ``_module_attribute_write`` tells of (``exact``: only where
    the object is a global naming the module, the rest left to the check after the write, sct/compiler.py
    _check_context_kept)."""
    if not _may_write_attributes(code):
        return
    instructions = list(dis.get_instructions(code))

    def other(obj) -> bool:
        """Is the object loaded by ``obj`` (one instruction) not ``fn``'s module?"""
        if obj.opname in ("LOAD_FAST", "LOAD_DEREF", "LOAD_CLOSURE", "LOAD_CONST"):
            return True
        if obj.opname in ("LOAD_GLOBAL", "LOAD_NAME"):
            value = namespace.get(obj.argval)
            return not (isinstance(value, types.ModuleType) and getattr(value, "__dict__", None) is module_globals)
        return exact
    for k, ins in enumerate(instructions):
        if ins.opname in ("STORE_ATTR", "DELETE_ATTR") and ins.argval in read and k:
            if not other(instructions[k - 1]):
                yield ins.argval, ins
            continue
        setter = ins.opname in ("LOAD_GLOBAL", "LOAD_NAME") and ins.argval in ("setattr", "delattr")
        method = ins.opname in ("LOAD_METHOD", "LOAD_ATTR") and ins.argval in ("__setattr__", "__delattr__")
        if not (setter or method):
            continue
        for j in range(k + 1, min(k + 12, len(instructions))):
            later = instructions[j]
            if later.opname == "LOAD_CONST" and later.argval in read:
                # (the object: the one instruction before the name, setattr(obj, "G", v); or before the
                # method, obj.__setattr__("G", v); was: a local's or another global's refused too)
                obj = instructions[j - 1] if setter and j == k + 2 else instructions[k - 1] if method and k else None
                if obj is None and not exact or obj is not None and not other(obj):
                    yield later.argval, later
                break
            if later.opname.startswith("CALL"):
                break


def _first_read(code: types.CodeType, name: str) -> Optional[int]:
    """The line of the first instruction of ``code`` that reads the global ``name``."""
    for inner in _codes(code):
        line = None
        for ins in dis.get_instructions(inner):
            line = ins.starts_line or line
            if ins.opname in ("LOAD_GLOBAL", "LOAD_NAME", "LOAD_DEREF") and ins.argval == name:
                return line
    return None


def rebound_cell(fn: types.FunctionType, read: Set[str]) -> Optional[tuple]:
    """``(name, writer)`` for a variable in ``read`` that ``fn`` reads from its closure and that a
    function reachable from ``fn`` (through its globals and closure) rebinds with ``nonlocal``
    (its ``STORE_DEREF`` into the same cell), or None."""
    code = fn.__code__
    closure = fn.__closure__ or ()
    cells = {id(closure[i]): name for i, name in enumerate(code.co_freevars) if name in read and i < len(closure)}
    if not cells:
        return None
    seen: Set[int] = {id(code)}

    def reachable(func):
        values = [func.__globals__.get(n) for n in func.__code__.co_names]
        for cell in func.__closure__ or ():
            try:
                values.append(cell.cell_contents)
            except ValueError:           # an empty cell
                pass
        return [v for v in values if v is not None]
    todo = [(value, 1) for value in reachable(fn)]
    while todo:
        value, depth = todo.pop()
        for func in _functions_of(value):
            if id(func.__code__) in seen or _library(module_name(func)) or _library_code(func):
                continue
            seen.add(id(func.__code__))
            own = func.__closure__ or ()
            for i, name in enumerate(func.__code__.co_freevars):
                if i < len(own) and id(own[i]) in cells:
                    for inner in _codes(func.__code__):
                        for ins in dis.get_instructions(inner):
                            if ins.opname in ("STORE_DEREF", "DELETE_DEREF") and ins.argval == name:
                                return cells[id(own[i])], func
            if depth < _DEPTH:
                todo.extend((v, depth + 1) for v in reachable(func))
    return None


def check_global_rebinds(fn: types.FunctionType, guards: Dict[str, Any], filename: str) -> None:
    """Refuse ``fn`` when a function it can reach rebinds a global of its module that it reads
    (``guards``: the resolver's, name -> Guard), or a variable it reads from its closure."""
    cell_reads = {name for name in guards if name in fn.__code__.co_freevars}
    found = rebound_cell(fn, cell_reads) if cell_reads else None
    if found is not None:
        name, writer = found
        raise CompileError(
            f"{fn.__name__}() reads {name!r} from the enclosing function, which {writer_name(writer)} "
            f"rebinds (nonlocal {name}); sct reads such a variable once per call, so a change made during "
            f"the call would not be seen: pass {name} in as an argument and return its new value",
            filename, _first_read(fn.__code__, name) or fn.__code__.co_firstlineno, name)
    read = {name for name, guard in guards.items() if guard.namespace is fn.__globals__}
    if not read:
        return
    _own_module_writes(fn, read, filename)
    found = rebound_global(fn, read)
    if found is None:
        return
    name, writer, how = found
    line = _first_read(fn.__code__, name)
    what = f"global {name}" if how == "global" else f"as an attribute of the module: module.{name} = ..." \
        if how == "module attribute" else \
        "through globals()" if name.startswith("globals()") else f"globals()[{name!r}] = ..."
    if name.startswith("globals()"):
        name = next(iter(sorted(read)))
        line = _first_read(fn.__code__, name)
    raise CompileError(
        f"{fn.__name__}() reads the global {name!r}, which {writer_name(writer)} "
        f"{'rebinds' if how == 'global' else 'may rebind'} "
        f"({what}); sct reads a global's value once per call, so a change made during the call "
        f"would not be seen: pass {name} in as an argument and return its new value", filename, line, name)


def _own_module_writes(fn: types.FunctionType, read: Set[str], filename: str) -> None:
    """Refuse ``fn`` rebinding a global it reads as an attribute of its own module named by a global
    (``THIS.Q = 5.0``, ``setattr(THIS, "Q", 5.0)``; another object, ``sys.modules[__name__]`` or a local
    holding the module, is checked after the write at run time) where it may read the global
    after the write (a read later in its code, a read in a loop holding the write, a nested function's
    or a callee's read): generated code reads the value the global had when the call began (was: its
    own code not searched, only its callees', so the read after the write was stale, red54c W3).  A
    write after its last read (``THIS.count = count + 1``) is what Python computes: the entry's
    guard sees the new value at the next call."""
    code = fn.__code__
    own_reads: Dict[str, list] = {}
    loops: Optional[list] = None        # (its own reads and loops: decoded at the first write found)
    for inner in _codes(code):
        for name, ins in _module_attribute_writes(inner, read, fn.__globals__, fn.__globals__, exact=True):
            if loops is None:
                instructions = list(dis.get_instructions(code))
                for own in instructions:
                    if own.opname in ("LOAD_GLOBAL", "LOAD_NAME"):
                        own_reads.setdefault(own.argval, []).append(own.offset)
                loops = [(own.argval, own.offset) for own in instructions
                         if own.opname.startswith("JUMP_BACKWARD") or own.opname == "JUMP_ABSOLUTE"]
            offsets = own_reads.get(name, ())
            later = inner is not code or not offsets or any(at > ins.offset for at in offsets) or \
                any(start <= at < ins.offset < end for start, end in loops for at in offsets)
            if not later:
                continue
            line = getattr(getattr(ins, "positions", None), "lineno", None) or ins.starts_line or \
                code.co_firstlineno
            raise CompileError(
                f"{fn.__name__}() rebinds the global {name!r} of its own module (module.{name} = ...) and "
                f"reads it after; sct reads a global's value once per call, so the new value would not be "
                f"seen: keep the value in a local variable, or pass it in as an argument and return its "
                f"new value", filename, line, name)


def check_attribute_rebinds(fdef, resolver, filename: str) -> None:
    """Refuse a function that assigns (or deletes) ``base.attr`` where it also calls ``base.attr(...)``
    of a module, class or namespace: the function called there was chosen when the code was compiled
    (its derivative rule, its compiled code), so one rebound during the call (``Mode.act = np.cos``,
    ``setattr(Mode, "act", f)``) would be differentiated as the old one."""
    import gast
    targets = getattr(resolver, "call_targets", None)
    if not targets:
        return
    from .ir import walk_nodes
    for node in walk_nodes(fdef):
        base_node = attr = None
        if isinstance(node, gast.Attribute) and isinstance(node.ctx, (gast.Store, gast.Del)):
            base_node, attr = node.value, node.attr
        elif isinstance(node, gast.Call) and isinstance(node.func, gast.Name) and \
                node.func.id in ("setattr", "delattr") and len(node.args) >= 2 and \
                isinstance(node.args[1], gast.Constant) and isinstance(node.args[1].value, str):
            base_node, attr = node.args[0], node.args[1].value
        if base_node is None:
            continue
        base = resolver.resolve(base_node)
        found = targets.get((id(base), attr))
        if found is None or found[0] is not base:
            continue
        called_at = f" (called at line {found[3]})" if found[3] else ""
        what = getattr(base, "__name__", type(base).__name__)
        raise CompileError(
            f"{fdef.name}() assigns {what}.{attr}, which it also calls{called_at}; sct chooses the function "
            f"called as {what}.{attr}(...) when it compiles the code (its derivative), so a change made "
            f"during the call would not be seen: pass the function in as an argument, or change "
            f"{what}.{attr} before calling dlfeval", filename, _line_of(fdef, node), f"{what}.{attr}")


def _line_of(fdef, node) -> int:
    """The line of the innermost simple statement of ``fdef`` holding ``node`` (else of the
    innermost compound one, else the function's)."""
    import gast
    found = None
    for stmt in gast.walk(fdef):
        if isinstance(stmt, gast.stmt) and getattr(stmt, "lineno", None) and \
                any(inner is node for inner in gast.walk(stmt)):
            simple = not isinstance(stmt, (gast.FunctionDef, gast.For, gast.While, gast.If, gast.With))
            if found is None or simple or not found[0]:
                found = (simple, stmt.lineno)
    return found[1] if found else fdef.lineno
