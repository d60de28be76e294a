"""The public API: dlfeval, dlgradient, source."""
from __future__ import annotations

from typing import Callable

from runtime import registry
from runtime.dlarray import unwrap, wrap_outputs

from .cache import ENTRIES as _ENTRIES
from .callables import as_function
from .compiler import Compiled, compile_function
from .errors import EvaluationError, SctError
from .kinds import kind_of


def _outside(name: str):
    raise SctError(f"{name} can only be called inside a function evaluated by dlfeval, "
                   f"e.g. dlfeval(model_loss, dlarray(x)); it was called directly")


def dlgradient(y, *xs, RetainData: bool = False, EnableHigherDerivatives: bool = True,
               AllowComplex: bool = True, retain_data=None, enable_higher_derivatives=None,
               allow_complex=None):
    """Gradients of the real scalar ``y`` with respect to ``x1, ..., xk``.

    Only meaningful inside a function run by :func:`dlfeval`, where the
    compiler replaces the call by generated adjoint code::

        def rosenbrock(x):
            y = 100*(x[1] - x[0]**2)**2 + (1 - x[0])**2
            return y, dlgradient(y, x)

        dlfeval(rosenbrock, dlarray([-1.0, 2.0]))   # (104, [396, 200])

    Options (MATLAB or snake_case spelling): ``RetainData`` (no effect on
    results here: the compiler keeps exactly what later sweeps need),
    ``EnableHigherDerivatives`` (default True: the gradient can be
    differentiated again; False makes it a constant), ``AllowComplex``
    (default True; False makes complex ``x`` an error).
    """
    _outside("dlgradient")


def dljacobian(u, x, dim: int, EnableHigherDerivatives: bool = True, enable_higher_derivatives=None):
    """Per-point Jacobian of ``u`` with respect to ``x`` (MATLAB's dljacobian).

    ``dim`` is the axis (0-based, negative allowed) of both ``u`` and ``x`` along
    which points are independent (the batch axis).  For ``u`` of shape
    ``(B, *U)`` and ``x`` of shape ``(B, *X)`` with ``dim=0`` the result has shape
    ``(B, *U, *X)``: ``jac[b, i, j] = d u[b, i] / d x[b, j]``; in general the batch
    axis sits at position ``dim`` of the result and the other axes are those of
    ``u`` followed by those of ``x``.  Only inside a function run by dlfeval.
    """
    _outside("dljacobian")


def dldivergence(u, x, dim: int, EnableHigherDerivatives: bool = True, enable_higher_derivatives=None):
    """Per-point divergence: the sum over i of d u[..., i] / d x[..., i] (MATLAB's dldivergence).

    ``u`` and ``x`` have the same shape; ``dim`` is the batch axis.  The result
    has one value per point (shape ``(B,)``).  Only inside a function run by dlfeval.
    """
    _outside("dldivergence")


def dllaplacian(u, x, dim: int, EnableHigherDerivatives: bool = True, enable_higher_derivatives=None):
    """Per-point Laplacian of the scalar-per-point ``u``: the sum over i of d2u / dx_i2.

    ``u`` has one value per point (shape ``(B,)`` or ``(B, 1)``), ``x`` shape
    ``(B, *X)``; ``dim`` is the batch axis.  The result has shape ``(B,)``.
    Only inside a function run by dlfeval.
    """
    _outside("dllaplacian")


SITE_FUNCTIONS = (dlgradient, dljacobian, dldivergence, dllaplacian)


def _entry(fun: Callable, args) -> Compiled:
    """The compiled form of ``fun`` for arguments of these kinds (compiled on first use).

    Looked up in ``sct.cache.ENTRIES`` (bounded, thread-safe) by the function's code, globals and
    argument kinds, then checked by the guards against ``fun`` itself: a fresh closure of the same
    code with the same captured values finds the code of an earlier one."""
    kinds = tuple([kind_of(a) for a in args])
    try:
        key = (id(fun.__code__), id(fun.__globals__), kinds, registry.rules_version())
    except AttributeError:              # not a Python function: compile_function says what it is
        return compile_function(fun, kinds, mode="entry")
    entry = _ENTRIES.lookup(key, fun)
    if entry is not None:
        return entry
    entry = compile_function(fun, kinds, mode="entry")
    _ENTRIES.insert(key, entry)
    return entry


def dlfeval(fun: Callable, *args, **kwargs):
    """Evaluate ``fun(*args, **kwargs)`` with differentiation enabled (MATLAB's dlfeval).

    ``fun`` is compiled once per kinds of arguments (types, dtypes, ranks and
    container structure); its ``dlgradient`` calls become generated adjoint
    code.  Arrays in the outputs come back as dlarrays.

    >>> import numpy as np
    >>> from sct import dlarray, dlfeval, dlgradient
    >>> def f(x):
    ...     y = np.sum(x ** 2)
    ...     return y, dlgradient(y, x)
    >>> y, g = dlfeval(f, dlarray([1.0, 2.0]))   # doctest: +SKIP
    """
    from .accelerate import AcceleratedFunction
    if isinstance(fun, AcceleratedFunction):
        return fun(*args, **kwargs)
    fun, args, kwargs = as_function(fun, args, kwargs)
    if kwargs:                      # keywords go to their positions: kinds are positional
        args = _positional(fun, args, kwargs)
    return run_compiled(_entry(fun, args), args)


def _positional(fun: Callable, args, kwargs) -> tuple:
    import inspect
    try:
        bound = inspect.signature(fun).bind(*args, **kwargs)
    except TypeError as exc:
        raise SctError(f"dlfeval: the arguments do not match {getattr(fun, '__qualname__', fun)}: {exc}") from None
    bound.apply_defaults()
    if bound.kwargs:
        raise SctError("dlfeval: keyword-only arguments cannot be passed yet; make them ordinary parameters")
    return tuple(bound.args)


def run_compiled(compiled: Compiled, args):
    """Run generated code on the plain data of ``args``; wrap arrays that come back."""
    return wrap_outputs(run_generated(compiled.entry, unwrap(args)))


def run_generated(function, args):
    """Call generated code; an error inside it is reported at the user's line."""
    from runtime.effects import held
    with held():            # effects logged for recomputations during this run
        try:
            return function(*args)
        except SctError as exc:
            located = _located_sct_error(exc)
            if located is exc:
                raise
            raise located from exc
        except Exception as exc:
            raise _located(exc) from exc


def _own_file(filename) -> bool:
    """A file of sct itself (the compiler, the runtime, generated code): not the user's."""
    import os
    if not filename or filename.startswith("<sct-generated"):
        return True
    here = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    path = os.path.abspath(filename)
    return any(path.startswith(os.path.join(here, d) + os.sep) for d in ("sct", "runtime"))


def _located_sct_error(exc: SctError) -> SctError:
    """An error sct raised while the generated code ran (a helper it could not differentiate,
    a function without rule met at run time), pointed at the user's line that made the call."""
    from .errors import CompileError
    from .parse import source_line, user_location
    if not _own_file(getattr(exc, "filename", None)):
        return exc
    where = user_location(exc.__traceback__)
    if where is None or _own_file(where[0]):
        return exc
    filename, lineno, _ = where
    text = source_line(filename, lineno)
    message = str(exc)
    old = getattr(exc, "filename", None)
    if old and message.startswith(f"{old}, line "):
        message = message.split(": ", 1)[1] if ": " in message else message
    message = f"at `{text}`: {message}"
    if isinstance(exc, CompileError):
        return CompileError(message, filename, lineno, exc.construct)
    return EvaluationError(message, filename, lineno)


def _located(exc: Exception) -> Exception:
    """An error of the user's code, pointed at the user's file and line."""
    from .parse import source_line, user_location
    where = user_location(exc.__traceback__)
    if where is None:
        return exc
    filename, lineno, function = where
    phase = "computing the gradient of" if "dlgradient" in function or function.endswith("_bwd") \
        else "evaluating"
    text = source_line(filename, lineno)
    return EvaluationError(f"{type(exc).__name__} while {phase} `{text}`: {exc}", filename, lineno)


class GeneratedSource(str):
    """Generated code: prints as text, shows highlighted in a notebook."""

    def _repr_html_(self) -> str:
        try:
            from pygments import highlight
            from pygments.formatters import HtmlFormatter
            from pygments.lexers import PythonLexer
        except ImportError:
            import html
            return f"<pre>{html.escape(str(self))}</pre>"
        return highlight(str(self), PythonLexer(), HtmlFormatter(noclasses=True))

    def __repr__(self) -> str:
        return str(self)


def source(fun: Callable, *args, callees: bool = False) -> GeneratedSource:
    """The generated forward and adjoint source of ``fun`` for arguments like ``args``.

    With ``callees=True`` the function is run once on ``args`` and the generated
    forward/adjoint pairs of every function it called (helpers, methods, the
    runtime's own helpers) follow, each under a header naming it.

    >>> print(sct.source(rosenbrock, dlarray([-1.0, 2.0])))   # doctest: +SKIP
    def rosenbrock(x):
        # line 2: y = 100*(x[1] - x[0]**2)**2 + (1 - x[0])**2
        ...
    """
    text = _entry(fun, args).source
    if not callees:
        return GeneratedSource(text)
    from . import transform_calls
    with transform_calls.recording() as used:
        dlfeval(fun, *args)
    parts, shown = [text], set()
    for compiled in used:
        if compiled.filename not in shown:
            shown.add(compiled.filename)
            parts.append(f"# ---- generated for a call made from it: {compiled.filename.strip('<>')} ----\n"
                         + compiled.source)
    return GeneratedSource("\n".join(parts))


def clear_cache() -> None:
    """Forget every compiled function (they are compiled again on next use)."""
    from . import cache
    cache.clear()
