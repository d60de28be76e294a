"""Calls from differentiated code to functions: their generated forward/adjoint pairs.

``fwd, bwd = rt.vjp(helper, active, *args)`` compiles ``helper`` (once per kinds
of its arguments) into a forward that also returns what its adjoint needs, and
that adjoint.  The user's helpers, methods, constructors, recursion and the
generated sweeps (for higher derivatives) all go through here, each compiled in
its own globals and closure; since the pair is generated source, code calling it
can be differentiated again.
"""
from __future__ import annotations

import contextlib
import threading
import types
from typing import Sequence, Tuple

from runtime import registry
from runtime.support import ZERO

from .cache import HELPERS, function_key
from .compiler import Compiled, compile_function
from .errors import CompileError
from .kinds import kind_of

class _Recording(threading.local):
    used = None          # while sct.source(..., callees=True) runs: the pairs used, in order


_RECORDING = _Recording()


@contextlib.contextmanager
def recording():
    """Collect, in this thread, the compiled pairs used while the block runs."""
    previous = _RECORDING.used
    used: list = []
    _RECORDING.used = used
    try:
        yield used
    finally:
        _RECORDING.used = previous
        if previous is not None:
            previous.extend(used)


def _seen(compiled: Compiled) -> None:
    used = _RECORDING.used
    if used is not None:
        used.append(compiled)


def _compiled_vjp(fn, args: Sequence, active: Sequence[bool], returns_self: bool = False) -> Compiled:
    kinds = tuple(kind_of(a, traced=bool(m)) for a, m in zip(args, active))
    active = tuple(bool(m) for m in active)
    key = ("vjp", id(fn.__code__), id(fn.__globals__), kinds, active, registry.rules_version(), returns_self)
    compiled = HELPERS.lookup(key, fn)
    if compiled is None:
        compiled = compile_function(fn, kinds, mode="vjp", active_mask=active, returns_self=returns_self)
        HELPERS.insert(key, compiled)
    _seen(compiled)
    return compiled


def function_identity(fn) -> Tuple:
    """What, besides guarded names, decides a function's generated code (the function itself
    is checked by the guards of ``Compiled.valid(fn)``: see sct.cache)."""
    return function_key(fn)


def vjp_pair(fn, active, args, kwargs):
    """The generated (forward, adjoint) functions of ``fn`` for arguments like ``args``.

    ``forward(*args)`` returns ``(value, residuals)``; ``adjoint(residuals, d_value)``
    returns one adjoint per positional argument.  Both are generated Python with
    source, so differentiated code that calls them can be differentiated again.
    """
    from .accelerate import AcceleratedFunction
    if isinstance(fn, AcceleratedFunction):
        fn = fn.fn
    if not isinstance(fn, (types.FunctionType, types.MethodType, type)) and \
            isinstance(getattr(type(fn), "__call__", None), types.FunctionType):
        fn = fn.__call__                       # an object of a user class: its __call__
    if isinstance(fn, types.MethodType) and isinstance(fn.__func__, types.FunctionType):
        compiled = _compiled_vjp(fn.__func__, (fn.__self__,) + tuple(args), (True,) + tuple(active))
        fwd, bwd = compiled.fwd, compiled.bwd
        receiver = fn.__self__

        def forward(*call_args, **call_kwargs):
            return fwd(receiver, *call_args, **call_kwargs)

        def backward(residuals, grad):
            return tuple(bwd(residuals, grad))[1:]
        return forward, backward
    if isinstance(fn, types.FunctionType):
        compiled = _compiled_vjp(fn, args, active)
        return compiled.fwd, compiled.bwd
    rule = registry.lookup(fn)
    if rule is not None:
        return _primitive_pair(fn, rule)
    if registry.is_nondifferentiable(fn):
        return _constant_pair(fn)
    raise CompileError(f"no derivative rule for {getattr(fn, '__qualname__', fn)!r}, and it is not "
                       "a Python function sct can read; use ops with rules, or extractdata to "
                       "make its input a constant")


def vjp_method_pair(obj, name, active, args, kwargs):
    """Like :func:`vjp_pair` for ``obj.name(*args[1:])``: ``args[0]`` is ``obj``, and the
    functions take it first too."""
    from .accelerate import AcceleratedFunction
    if name == "__call__" and isinstance(obj, (types.FunctionType, types.MethodType, AcceleratedFunction)):
        fwd, bwd = vjp_pair(obj, tuple(active[1:]), tuple(args[1:]), kwargs)   # a function value

        def forward_call(receiver, *call_args, **call_kwargs):
            return fwd(*call_args, **call_kwargs)

        def backward_call(residuals, grad):
            return (ZERO,) + tuple(bwd(residuals, grad))
        return forward_call, backward_call
    from runtime.layers import apply_layer, has_custom_backward
    if has_custom_backward(obj) and name in ("predict", "forward", "__call__") and len(args) == 2:
        fwd0, bwd0 = _primitive_pair(apply_layer, registry.lookup(apply_layer))

        def forward_layer(receiver, x):
            return fwd0(receiver, x, name)

        def backward_layer(residuals, grad):
            return tuple(bwd0(residuals, grad))[:2]
        return forward_layer, backward_layer
    method = getattr(obj, name)
    if isinstance(method, types.MethodType) and method.__self__ is obj and \
            isinstance(method.__func__, types.FunctionType):
        compiled = _compiled_vjp(method.__func__, tuple(args), tuple(active))   # args start with obj
        return compiled.fwd, compiled.bwd
    fwd, bwd = vjp_pair(method, tuple(active[1:]), tuple(args[1:]), kwargs)

    def forward(receiver, *call_args, **call_kwargs):
        return fwd(*call_args, **call_kwargs)

    def backward(residuals, grad):
        return (ZERO,) + tuple(bwd(residuals, grad))
    return forward, backward


def vjp_init_pair(cls, active, args, kwargs):
    """The pair for ``cls.__init__`` differentiated as a function returning the new object."""
    compiled = _compiled_vjp(cls.__init__, tuple(args), tuple(active), returns_self=True)
    return compiled.fwd, compiled.bwd


def _is_zero_tangent(t) -> bool:
    return t is None or t is ZERO or (type(t) is float and t == 0.0)


def jvp_call_impl(fn, args, tangents, kwargs):
    from .accelerate import AcceleratedFunction
    if isinstance(fn, AcceleratedFunction):
        fn = fn.fn
    if not isinstance(fn, (types.FunctionType, types.MethodType, type)) and \
            isinstance(getattr(type(fn), "__call__", None), types.FunctionType):
        fn = fn.__call__
    if isinstance(fn, types.MethodType):
        return jvp_call_impl(fn.__func__, (fn.__self__,) + tuple(args), (ZERO,) + tuple(tangents), kwargs)
    rule = registry.lookup(fn)
    if rule is not None:
        out = fn(*args, **kwargs)
        return out, op_jvp_impl(fn, args, kwargs, tangents, {}, out)
    if not isinstance(fn, types.FunctionType):
        if registry.is_nondifferentiable(fn):
            from runtime.support import zero_adjoint
            out = fn(*args, **kwargs)
            return out, zero_adjoint(out)
        raise CompileError(f"forward mode has no rule for {getattr(fn, '__qualname__', fn)!r}")
    active = tuple(not _is_zero_tangent(t) for t in tangents)
    kinds = tuple(kind_of(a, traced=m) for a, m in zip(args, active))
    key = ("jvp",) + function_key(fn) + (kinds, active, registry.rules_version())
    compiled = HELPERS.lookup(key, fn)
    if compiled is None:
        compiled = compile_function(fn, kinds, mode="jvp", active_mask=active)
        HELPERS.insert(key, compiled)
    _seen(compiled)
    params = compiled.entry.__code__.co_argcount // 2
    values = list(args) + [None] * (params - len(args))
    dots = list(tangents) + [ZERO] * (params - len(tangents))
    if len(args) < params:                 # defaults of the original function
        defaults = fn.__defaults__ or ()
        for i in range(len(args), params):
            values[i] = defaults[i - (params - len(defaults))]
    return compiled.entry(*values, *dots, **kwargs)


def op_jvp_impl(op, args, kwargs, tangents, keyword_tangents, ans):
    """J @ tangent for one op: the vjp of its rule with respect to g (rules are linear in g)."""
    from runtime.support import zero_adjoint
    rule = registry.lookup(op)
    names = list(rule.signature.parameters)
    dots = {names[i]: t for i, t in enumerate(tangents) if i < len(names) and not _is_zero_tangent(t)}
    dots.update({k: t for k, t in keyword_tangents.items() if not _is_zero_tangent(t)})
    wanted = [p for p in rule.wrt if p in dots]
    if not wanted:
        return zero_adjoint(ans)
    g0 = zero_adjoint(ans)
    active = (True,) + (False,) * (1 + len(args))
    fwd, bwd = vjp_pair(rule.fn, active, (g0, ans) + tuple(args), kwargs)
    _, residuals = fwd(g0, ans, *args, **kwargs)
    if len(rule.wrt) == 1:
        cotangent = dots[rule.wrt[0]]
    else:
        cotangent = tuple(dots.get(p, ZERO) for p in rule.wrt)
    return bwd(residuals, cotangent)[0]


def _primitive_pair(op, rule):
    names = list(rule.signature.parameters)

    def forward(*args, **kwargs):
        out = op(*args, **kwargs)
        return out, (args, kwargs, out)

    def backward(residuals, grad):
        args, kwargs, out = residuals
        results = rule.fn(grad, out, *args, **kwargs)
        if len(rule.wrt) == 1:
            results = (results,)
        by_name = dict(zip(rule.wrt, results))
        return tuple(by_name.get(names[i], ZERO) if i < len(names) else ZERO for i in range(len(args)))
    return forward, backward


def _constant_pair(fn):
    def forward(*args, **kwargs):
        return fn(*args, **kwargs), len(args)

    def backward(count, grad):
        return (ZERO,) * count
    return forward, backward
