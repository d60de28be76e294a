"""numpy's, math's and cmath's functions replaced at run time (``np.sin = np.cos``, ``np.tanh = my_tanh``,
``numpy.exp = ...``, ``math.sin = ...``): refused when code is compiled.

sct's derivative rules are those of numpy's own functions, and they call numpy's functions themselves
(the rule of ``np.cos`` computes ``np.sin``): with ``np.sin`` replaced, the code sct writes would run the
replacement where Python does and a rule of the original, or a rule that calls the replacement, where
Python has none (was: ``np.sin = np.cos`` gave the value of cos and the derivative of sin, or -cos(x)).
The functions are compared by identity with those the modules held when sct was imported; a function the
compiled code calls as ``np.attr`` is guarded on a cache hit too (sct.compiler ``_fixed_module``), so a
replacement after compiling compiles again, and is refused here.
"""
from __future__ import annotations

import importlib
import sys
from typing import Any, Dict, Optional, Tuple

import gast

from .errors import CompileError
from .ir import walk_nodes
from .runtime.origins import call_name

#: the modules whose functions sct's rules stand for (and call)
WATCHED = ("numpy", "numpy.linalg", "numpy.fft", "math", "cmath")


def _functions(module) -> Dict[str, Any]:
    return {name: value for name, value in vars(module).items()
            if callable(value) and not isinstance(value, type) and not name.startswith("_")}


ORIGINAL: Dict[str, Dict[str, Any]] = {name: _functions(importlib.import_module(name)) for name in WATCHED}


def replaced(module, name: str, value) -> bool:
    """Is ``value`` (what ``module.name`` holds now) another object than the function numpy's (math's,
    cmath's) module held when sct was imported?"""
    original = ORIGINAL.get(getattr(module, "__name__", None))
    if original is None or sys.modules.get(module.__name__) is not module:
        return False
    held = original.get(name)
    return held is not None and value is not held


def first_replaced() -> Optional[Tuple[str, str, Any]]:
    """``(module, name, value)`` of a watched function replaced now, or None (one pass over the watched
    modules' functions: ~650 look-ups, once per compile)."""
    for module_name, original in ORIGINAL.items():
        now = vars(sys.modules[module_name])
        for name, held in original.items():
            value = now.get(name, held)
            if value is not held:
                return module_name, name, value
    return None


def _spelled(module_name: str) -> str:
    return {"numpy": "np"}.get(module_name, module_name.replace("numpy.", "np."))


def _describe(value) -> str:
    name = call_name(value, type(value).__name__)
    module = getattr(value, "__module__", None) or ""
    return f"{module}.{name}" if module and module != "builtins" else str(name)


def refuse_replaced(resolver, fdef, filename: str) -> None:
    """Refuse code compiled while a watched function is replaced: the one the function reads (as
    ``np.sin``, ``numpy.exp``, ``from numpy import sin``), named at its line, else any (which sct's rules
    may call), named at the function's ``def``."""
    for base, name, value in list(resolver.attribute_guards.values()):
        if replaced(base, name, value):
            line, spelled = _line_of(resolver, fdef, base, name)
            raise CompileError(
                f"{spelled} is not {base.__name__}'s {name} here: it was replaced by {_describe(value)} "
                f"({spelled} = ...), and sct's derivative rules are numpy's own functions' (they call them "
                f"too), so sct would run one function and differentiate another. Restore {base.__name__}."
                f"{name} and call your function by its own name", filename, line, f"replaced {spelled}")
    found = first_replaced()
    if found is not None:
        module_name, name, value = found
        spelled = f"{_spelled(module_name)}.{name}"
        raise CompileError(
            f"{spelled} was replaced by {_describe(value)} ({spelled} = ...): sct's derivative rules are "
            f"numpy's own functions' and call them (the rule of np.cos computes np.sin), so they would not "
            f"give the derivative of this code. Restore {module_name}.{name} and call your function by its "
            f"own name", filename, fdef.lineno, f"replaced {spelled}")


def guard_module_reads(functions, namespace, resolver) -> None:
    """Guard the watched functions the generated code reads itself (``np.sin(x)`` in the adjoint of ``np.cos``,
    written from its rule), as the user's code's reads are: a cache hit after ``np.sin = np.cos`` compiles again,
    and is refused (was: the cached adjoint ran the replacement, -cos(x) as the derivative of cos, misc55)."""
    watched = {id(m): m for m in (sys.modules.get(n) for n in WATCHED) if m is not None}

    def module_of(node):
        if isinstance(node, gast.Name):
            return watched.get(id(namespace.get(node.id)))
        if isinstance(node, gast.Attribute):
            base = module_of(node.value)
            return watched.get(id(getattr(base, node.attr, None))) if base is not None else None
        return None
    for function in functions:
        for node in walk_nodes(function):
            if isinstance(node, gast.Attribute) and isinstance(node.ctx, gast.Load):
                base = module_of(node.value)
                if base is not None and node.attr in ORIGINAL[base.__name__]:
                    resolver.attribute(base, node.attr)


def _line_of(resolver, fdef, base, name: str) -> Tuple[int, str]:
    """The line of the first statement that reads ``base.name`` (a call, an attribute, ``from base import
    name``) and how it spells it."""
    for statement in walk_nodes(fdef):
        if not isinstance(statement, gast.stmt) or statement is fdef:
            continue
        if isinstance(statement, gast.ImportFrom) and statement.module == base.__name__ and \
                any(alias.name == name for alias in statement.names):
            return statement.lineno, f"{base.__name__}.{name}"
        for node in _own_expressions(statement):
            if isinstance(node, gast.Attribute) and node.attr == name:
                try:
                    found = resolver.resolve(node.value)
                except Exception:
                    continue
                if found is base:
                    prefix = node.value.id if isinstance(node.value, gast.Name) else _spelled(base.__name__)
                    return statement.lineno, f"{prefix}.{name}"
    return fdef.lineno, f"{_spelled(base.__name__)}.{name}"


def _own_expressions(statement):
    """The expression nodes of ``statement`` itself (not of the statements in its body)."""
    for _, value in gast.iter_fields(statement):
        for item in value if isinstance(value, list) else [value]:
            if isinstance(item, gast.AST) and not isinstance(item, gast.stmt):
                yield from walk_nodes(item)
