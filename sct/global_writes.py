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
import types
from typing import Any, Dict, Iterator, Optional, Set

from .errors import CompileError

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


def _functions_of(value: Any) -> Iterator[types.FunctionType]:
    """The Python functions that calling ``value`` may run first: itself, a class's ``__init__``
    and ``__call__`` and its other methods, a bound method's function."""
    if isinstance(value, types.FunctionType):
        yield value
    elif isinstance(value, types.MethodType) and isinstance(value.__func__, types.FunctionType):
        yield value.__func__
    elif isinstance(value, type) and not _library(value.__module__):
        for attr in vars(value).values():
            if isinstance(attr, (staticmethod, classmethod)):
                attr = attr.__func__
            if isinstance(attr, types.FunctionType):
                yield attr


def rebound_global(fn: types.FunctionType, read: Set[str]) -> Optional[tuple]:
    """``(name, writer)`` for a global in ``read`` (of ``fn``'s module) that a function reachable
    from ``fn``'s globals rebinds, or None."""
    module_globals = fn.__globals__
    seen: Set[int] = {id(fn.__code__)}
    todo = [(value, 1) for name in fn.__code__.co_names for value in
            [module_globals.get(name)] if value is not None]
    while todo:
        value, depth = todo.pop()
        for func in _functions_of(value):
            if id(func.__code__) in seen or _library(func.__module__):
                continue
            seen.add(id(func.__code__))
            for code in _codes(func.__code__):
                for ins in dis.get_instructions(code):
                    if ins.opname in ("STORE_GLOBAL", "DELETE_GLOBAL") and ins.argval in read and \
                            func.__globals__ is module_globals:
                        return ins.argval, func
                if depth < _DEPTH:
                    todo.extend((func.__globals__.get(n), depth + 1) for n in code.co_names
                                if func.__globals__.get(n) is not None)
    return None


def _first_read(code: types.CodeType, name: str) -> Optional[int]:
    """The line of the first instruction of ``code`` that reads the global ``name``."""
    for inner in _codes(code):
        line = None
        for ins in dis.get_instructions(inner):
            line = ins.starts_line or line
            if ins.opname in ("LOAD_GLOBAL", "LOAD_NAME") and ins.argval == name:
                return line
    return None


def check_global_rebinds(fn: types.FunctionType, guards: Dict[str, Any], filename: str) -> None:
    """Refuse ``fn`` when a function it can reach rebinds a global of its module that it reads
    (``guards``: the resolver's, name -> Guard)."""
    read = {name for name, guard in guards.items() if guard.namespace is fn.__globals__}
    if not read:
        return
    found = rebound_global(fn, read)
    if found is None:
        return
    name, writer = found
    line = _first_read(fn.__code__, name)
    raise CompileError(
        f"{fn.__name__}() reads the global {name!r}, which {writer.__qualname__}() rebinds "
        f"(global {name}); sct reads a global's value once per call, so a change made during the call "
        f"would not be seen: pass {name} in as an argument and return its new value", filename, line, name)
