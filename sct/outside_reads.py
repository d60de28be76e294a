"""What a function that sets traced attributes of an argument's object may read besides its arguments:
the globals of the user's code it may call (sct.api._refuse_aliased_writes walks them for the object).

sct follows ``model.h = np.tanh(x * model.W)`` through the name ``model``; a read of the same object through
a global (``HD.m.h``) would be of the value the object held at entry, a constant.  The function's own reads
are its guards (``Compiled.guards``); a helper it calls may read others (``def helper(): return HD.m.h``,
called as ``helper()``: was a gradient without that path, red team 49).  Found here, once per compiled
entry, from the code: the names each user function reachable from the function's code reads (its
``co_names`` and those of its nested code), looked up in its globals, followed into the functions, the
methods of the user's classes and the user's modules (their attributes the code names) found there.  Read
again on each check (a global rebound after compiling is seen).  Code reading ``sys.modules`` or
``globals()`` may reach any global: refused (``refusal``)."""
from __future__ import annotations

import builtins
import dis
import sys
import types
from typing import Optional

from .runtime.origins import module_name
from .runtime.support import BUILDS_BY_TYPE, CONSTRUCTORS, DYNAMIC_READS

_LIBRARY = frozenset(sys.stdlib_module_names) | {"numpy", "scipy", "sct", "gast", "pytest", "_pytest"}
_MAX_FUNCTIONS = 4000
_GLOBAL_OPS = frozenset({"LOAD_GLOBAL", "STORE_GLOBAL", "DELETE_GLOBAL", "LOAD_NAME"})


def _library(module_name) -> bool:
    return not isinstance(module_name, str) or module_name.split(".")[0] in _LIBRARY


def _codes(code):
    """``code`` and the code objects nested in it."""
    todo = [code]
    while todo:
        c = todo.pop()
        yield c
        todo += [k for k in c.co_consts if isinstance(k, types.CodeType)]


def _functions_of_class(cls, constructors: bool = True):
    """The functions a user's class holds (its MRO's user classes): methods, static and class methods,
    properties' accessors (``constructors``: __init__ and __new__ too)."""
    for k in cls.__mro__:
        if _library(module_name(k)):
            continue
        for attr, v in vars(k).items():
            if attr in CONSTRUCTORS and not constructors:
                continue
            if isinstance(v, (staticmethod, classmethod)):
                v = v.__func__
            if isinstance(v, property):
                yield from (f for f in (v.fget, v.fset, v.fdel) if f is not None)
            elif isinstance(v, types.FunctionType):
                yield v


def _classes_held(args, depth: int = 3) -> list:
    """The user's classes of the objects ``args`` hold, a few levels down."""
    found: list = []
    seen: set = set()
    level = list(args)
    for _ in range(depth):
        nxt = []
        for v in level:
            if id(v) in seen or isinstance(v, (int, float, str, bytes, type, types.ModuleType)):
                continue
            seen.add(id(v))
            if isinstance(v, dict):
                nxt += list(v.values())[:256]
            elif isinstance(v, (list, tuple)):
                nxt += list(v)[:256]
            else:
                cls = type(v)
                if not _library(module_name(cls)) and cls not in found:
                    found.append(cls)
                d = getattr(v, "__dict__", None)
                if isinstance(d, dict):
                    nxt += list(d.values())[:256]
        level = nxt
    return found


class Reads:
    """``live``: ``(label, namespace, name)`` for each global the reachable code may read (read again on
    each check); ``refusal``: the label of a function reading ``sys.modules`` or ``globals()``, or None."""

    def __init__(self, fun, args=()):
        self.live: list = []
        self.refusal = None
        # the names the code read names (its co_names: the attributes it may read by name), for the class
        # attributes sct.runtime.support.written_reached_twice walks; None where some code may read
        # attributes by names it does not write (getattr, vars, __dict__)
        self.names: Optional[set] = set()
        keys: set = set()
        seen: set = set()
        todo: list = []
        self._follow(fun, todo)                 # (a function, a bound method, a callable object's methods)
        fun = getattr(fun, "__func__", fun)
        home = getattr(fun, "__globals__", None)
        held = _classes_held(args)
        for cls in held:                        # (the methods of the arguments' objects: model.step(x))
            # (not their constructors, which run where code builds such an object: by the class's name, read
            # as a global below, or by type(obj)(...): added then; was: ``M.instances.append(self)`` in
            # __init__ counted as a read of the registry, refusing every traced write on an instance)
            todo.extend(_functions_of_class(cls, constructors=False))
        built = False
        while (todo or not built) and len(seen) < _MAX_FUNCTIONS:
            if not todo:
                built = True
                if self.names is not None and self.names & BUILDS_BY_TYPE:
                    for cls in held:
                        todo.extend(_functions_of_class(cls))
                continue
            f = todo.pop()
            if len(seen) + 1 >= _MAX_FUNCTIONS:
                self.names = None       # (not all the code read: any name)
            code = getattr(f, "__code__", None)
            if code is None or id(code) in seen or code.co_filename.startswith("<sct-generated"):
                continue
            space = f.__globals__
            if f is not fun and _library(space.get("__name__", "")):      # (none: exec'd, the user's)
                continue
            seen.add(id(code))
            names: set = set()          # (all: a module's attributes the code names)
            read: set = set()           # (the globals it reads: not a name it reads as an attribute)
            for c in _codes(code):
                names.update(c.co_names)
                read.update(i.argval for i in dis.get_instructions(c) if i.opname in _GLOBAL_OPS)
            if self.names is not None:
                self.names = None if names & DYNAMIC_READS else self.names | names
            label = f"{f.__qualname__}()"
            if "globals" in read and "globals" not in space or \
                    "modules" in names and any(space.get(n) is sys for n in read):
                self.refusal = self.refusal or label
            for cell in f.__closure__ or ():
                try:
                    closed = cell.cell_contents     # (was ``held``: rebound the arguments' classes above,
                except ValueError:                  # so a frozen dataclass's __setattr__, whose closure holds
                    continue                        # ``cls``, left a class to iterate: TypeError, red53u C1)
                self._follow(closed, todo)
            for name in read:
                if name not in space:
                    continue
                value = space[name]
                if isinstance(value, types.ModuleType):
                    if _library(value.__name__) or value is builtins:
                        continue
                    inner = vars(value)
                    for n in names:
                        if n in inner and (id(inner), n) not in keys:
                            keys.add((id(inner), n))
                            self.live.append((f"{value.__name__}.{n}", inner, n))
                            self._follow(inner[n], todo)
                    continue
                if (id(space), name) not in keys:
                    keys.add((id(space), name))
                    self.live.append((name if space is home else f"{space.get('__name__', '?')}.{name}",
                                      space, name))
                self._follow(value, todo)

    @staticmethod
    def _follow(value, todo) -> None:
        """The functions to read next from a value the code reads: a function, a bound method's, a user's
        class's methods."""
        if isinstance(value, types.MethodType):
            value = value.__func__
        if isinstance(value, types.FunctionType):
            todo.append(value)
        elif isinstance(value, type) and not _library(module_name(value)):
            todo.extend(_functions_of_class(value))
        elif not isinstance(value, (int, float, str, bytes, types.ModuleType)) and \
                not _library(module_name(type(value))):
            todo.extend(_functions_of_class(type(value)))     # (an object's methods: HD.read())

    def now(self) -> list:
        """``[(label, value), ...]``: the globals' values now."""
        missing = _MISSING
        found = []
        for label, space, name in self.live:
            v = space.get(name, missing)
            if v is not missing:
                found.append((label, v))
        return found


_MISSING = object()
