"""Calls from differentiated code to functions known only at run time.

``rt.call_fwd(helper, active, *args)`` compiles ``helper`` (once per kinds of
its arguments) into a forward/adjoint pair, runs the forward and returns the
value with a record; ``rt.call_bwd(record, d_value)`` runs the adjoint.  The
user's helpers, methods, recursion and generated sweeps (for higher
derivatives) all go through here, each compiled in its own globals and closure.
"""
from __future__ import annotations

import types
from typing import Any, Dict, Sequence, Tuple

from runtime import registry
from runtime.support import ZERO

from .compiler import Compiled, compile_function
from .errors import CompileError
from .kinds import kind_of

_CACHE: Dict[Any, list] = {}


def _compiled_vjp(fn, args: Sequence, active: Sequence[bool], returns_self: bool = False) -> Compiled:
    kinds = tuple(kind_of(a, traced=bool(m)) for a, m in zip(args, active))
    key = (function_identity(fn), kinds, tuple(bool(m) for m in active), registry.rules_version(),
           returns_self)
    entries = _CACHE.setdefault(key, [])
    for entry in entries:
        if entry.valid():
            return entry
    entries.clear()
    compiled = compile_function(fn, kinds, mode="vjp", active_mask=active, returns_self=returns_self)
    entries.append(compiled)
    return compiled


def function_identity(fn) -> Tuple:
    """What, besides guarded names, decides a function's generated code."""
    cells = tuple(id(c) for c in fn.__closure__) if fn.__closure__ else ()
    return (fn.__code__, id(fn.__globals__), cells)


class _RuleRecord:
    __slots__ = ("rule", "args", "kwargs", "out")

    def __init__(self, rule, args, kwargs, out):
        self.rule, self.args, self.kwargs, self.out = rule, args, kwargs, out


def dynamic_forward(fn, active, args, kwargs):
    if isinstance(fn, types.MethodType) and isinstance(fn.__func__, types.FunctionType):
        out, record = dynamic_forward(fn.__func__, (True,) + tuple(active), (fn.__self__,) + tuple(args),
                                      kwargs)
        return out, ("method", record)
    rule = registry.lookup(fn)
    if rule is not None:
        out = fn(*args, **kwargs)
        return out, _RuleRecord(rule, args, kwargs, out)
    if isinstance(fn, type) and isinstance(getattr(fn, "__init__", None), types.FunctionType):
        obj = fn.__new__(fn)
        compiled = _compiled_vjp(fn.__init__, (obj,) + tuple(args), (True,) + tuple(active),
                                 returns_self=True)
        out, residuals = compiled.fwd(obj, *args, **kwargs)
        return out, ("init", (compiled, residuals))
    if registry.is_nondifferentiable(fn) or not isinstance(fn, types.FunctionType):
        if isinstance(fn, type) or registry.is_nondifferentiable(fn):
            return fn(*args, **kwargs), None
        raise CompileError(f"no derivative rule for {getattr(fn, '__qualname__', fn)!r}, and it is not "
                           "a Python function sct can read; use ops with rules or extractdata")
    compiled = _compiled_vjp(fn, args, active)
    out, residuals = compiled.fwd(*args, **kwargs)
    return out, (compiled, residuals)


def dynamic_method_forward(obj, name, active, args, kwargs):
    method = getattr(obj, name)
    if isinstance(method, types.MethodType) and method.__self__ is obj:
        out, record = dynamic_forward(method.__func__, tuple(active), (obj,) + tuple(args), kwargs)
        return out, ("self", record)
    out, record = dynamic_forward(method, tuple(active[1:]), args, kwargs)
    return out, ("noself", record)


def dynamic_backward(record, grad) -> Tuple:
    if isinstance(record, tuple) and len(record) == 2 and isinstance(record[0], str):
        how, inner = record
        grads = dynamic_backward(inner, grad)
        if how == "noself":
            return (ZERO,) + tuple(grads)
        if how in ("method", "init"):
            return tuple(grads[1:])
        return tuple(grads)
    if record is None:
        return ()
    if isinstance(record, _RuleRecord):
        import inspect
        rule = record.rule
        bound = rule.signature.bind(*record.args, **record.kwargs)
        bound.apply_defaults()
        results = rule.fn(grad, record.out, *bound.args, **bound.kwargs)
        if len(rule.wrt) == 1:
            results = (results,)
        by_name = dict(zip(rule.wrt, results))
        names = list(rule.signature.parameters)
        return tuple(by_name.get(names[i], ZERO) if i < len(names) else ZERO
                     for i in range(len(record.args)))
    compiled, residuals = record
    return compiled.bwd(residuals, grad)
