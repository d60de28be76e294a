"""What ``dlfeval`` accepts as ``fun``: a def, a lambda, a bound method, a
``functools.partial``, a static or class method, or a callable object.

Each is reduced to a plain Python function and the arguments it receives, so
the compiler only ever sees functions: a bound method becomes its function
with the instance as first argument (the instance is an ordinary argument, so
its dlarray attributes are traced like any object's); a partial becomes its
function with the frozen arguments in front; a callable object becomes its
class's ``__call__`` with the object first.
"""
from __future__ import annotations

import functools
import types
from typing import Any, Callable, Dict, Tuple

from .errors import SctError


def as_function(fun: Callable, args: Tuple, kwargs: Dict[str, Any]):
    """``(function, args, kwargs)`` such that ``function(*args, **kwargs)`` is ``fun(*args, **kwargs)``."""
    for _ in range(16):                      # partials of bound methods of callable objects...
        if isinstance(fun, types.FunctionType):
            return fun, tuple(args), dict(kwargs)
        if isinstance(fun, types.MethodType):
            fun, args = fun.__func__, (fun.__self__,) + tuple(args)
        elif isinstance(fun, functools.partial):
            fun, args, kwargs = fun.func, tuple(fun.args) + tuple(args), {**fun.keywords, **kwargs}
        elif isinstance(fun, (staticmethod, classmethod)):
            fun = fun.__func__
        elif isinstance(fun, WrappedFunction):      # an accelerated function: the function it runs
            fun = fun.fn
        elif isinstance(fun, (types.BuiltinFunctionType, types.BuiltinMethodType)) or \
                type(fun).__name__ == "ufunc" or not callable(fun):
            break
        elif isinstance(getattr(type(fun), "__call__", None), types.FunctionType):
            fun, args = type(fun).__call__, (fun,) + tuple(args)
        else:
            break
    name = getattr(fun, "__name__", type(fun).__name__)
    raise SctError(f"dlfeval cannot differentiate {name!r}: it is not a Python function "
                   f"(sct transforms Python source). Wrap it in one, e.g. "
                   f"dlfeval(lambda x: {name}(x), x), or `def f(x): return {name}(x)`")


class WrappedFunction:
    """Base of a callable that stands for its function ``fn`` in code sct differentiates:
    ``sct.AcceleratedFunction``, which lives above the compiler; the passes and the run-time
    call hooks test this class and read ``fn`` (sct.hooks)."""
    __slots__ = ()
    __sct_wraps__ = True        # the runtime (which does not import this module) unwraps it by this
    fn: Callable
