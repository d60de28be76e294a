"""The public API: dlfeval, dlgradient, source."""
from __future__ import annotations

import functools
import linecache
import numbers
import os
import re
import sys
import threading
import types
import warnings
from typing import Any, Callable, Optional

import numpy as np
from numpy.typing import ArrayLike

from .runtime import registry
from .runtime.dlarray import make_wrapper, unwrap, wrap_outputs
from .runtime.formats import apply_formats
from .runtime.support import _TYPES_SURE
from .runtime.effects import state as _effects_state, _LOCAL as _effects_local, globals_seen_kept as _globals_seen_kept
from .runtime.support import ALIASED as _ALIASED, aliased_dlarrays as _aliased_dlarrays, self_holding_path, \
    dlarray_memory_shared as _dlarray_memory_shared, dlarray_data_and_arrays as _dlarray_data_and_arrays, \
    written_reached_twice as _written_reached_twice, state_holds_values as _state_holds_values, \
    inner_dicts_reached_twice as _inner_dicts_reached_twice, callers_dicts

from . import cache as _cache
from .call_tree import describe
from . import hooks as _hooks
from . import transform_calls
from .cache import ENTRIES as _ENTRIES
from .cache import targets_hold
from .callables import WrappedFunction, as_function
from .compiler import Compiled, compile_function
from .errors import CompileError, EvaluationError, SctError, evaluation_error_from
from .parse import LINE_MAPS as _LINE_MAPS, user_line
from .kinds import kind_of, refuse_nested_slotted
from .unroll import compile_entry, entry_values, values_check_lines, values_key


def _outside(name: str):
    if _inside_dlfeval():
        raise SctError(
            f"{name} was called while dlfeval runs, but where sct did not see it when compiling: through "
            f"another name bound to it (g = {name}), a function given as an argument or stored in a "
            f"container, or code sct does not compile; call {name}(...) by its name in the code of the "
            f"function given to dlfeval (or of a helper it calls)")
    raise SctError(f"{name} can only be called inside a function evaluated by dlfeval, "
                   f"e.g. dlfeval(model_loss, dlarray(x)); it was called directly")


def _inside_dlfeval() -> bool:
    """Whether a dlfeval call is on the stack (only read to word an error)."""
    codes = (dlfeval.__code__, _dlfeval.__code__)
    frame = sys._getframe(2)
    while frame is not None:
        if frame.f_code in codes:
            return True
        frame = frame.f_back
    return False


def dlgradient(y: ArrayLike, *xs: Any, RetainData: bool = False, EnableHigherDerivatives: bool = True,
               AllowComplex: bool = True, retain_data: Optional[bool] = None,
               enable_higher_derivatives: Optional[bool] = None, allow_complex: Optional[bool] = None) -> Any:
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

    >>> def f(x):
    ...     y = np.sum(x ** 3)
    ...     return y, dlgradient(y, x)
    ...
    >>> y, g = dlfeval(f, dlarray([1.0, 2.0]))
    >>> float(y), g.data.tolist()
    (9.0, [3.0, 12.0])
    """
    _outside("dlgradient")


def dljacobian(u: ArrayLike, x: ArrayLike, dim: int, EnableHigherDerivatives: bool = True,
               enable_higher_derivatives: Optional[bool] = None) -> Any:
    """Per-point Jacobian of ``u`` with respect to ``x`` (MATLAB's dljacobian).

    ``dim`` is the axis (0-based, negative allowed) of both ``u`` and ``x`` along
    which points are independent (the batch axis).  For ``u`` of shape
    ``(B, *U)`` and ``x`` of shape ``(B, *X)`` with ``dim=0`` the result has shape
    ``(B, *U, *X)``: ``jac[b, i, j] = d u[b, i] / d x[b, j]``; in general the batch
    axis sits at position ``dim`` of the result and the other axes are those of
    ``u`` followed by those of ``x``.  Only inside a function run by dlfeval.

    >>> def jac(x):
    ...     u = x ** 2
    ...     return dljacobian(u, x, 0)
    ...
    >>> dlfeval(jac, dlarray([[1.0, 2.0], [3.0, 4.0]])).data.tolist()
    [[[2.0, 0.0], [0.0, 4.0]], [[6.0, 0.0], [0.0, 8.0]]]
    """
    _outside("dljacobian")


def dldivergence(u: ArrayLike, x: ArrayLike, dim: int, EnableHigherDerivatives: bool = True,
                 enable_higher_derivatives: Optional[bool] = None) -> Any:
    """Per-point divergence: the sum over i of d u[..., i] / d x[..., i] (MATLAB's dldivergence).

    ``u`` and ``x`` have the same shape; ``dim`` is the batch axis.  The result
    has one value per point (shape ``(B,)``).  Only inside a function run by dlfeval.

    >>> def div(x):
    ...     u = x ** 2
    ...     return dldivergence(u, x, 0)
    ...
    >>> dlfeval(div, dlarray([[1.0, 2.0], [3.0, 4.0]])).data.tolist()
    [6.0, 14.0]
    """
    _outside("dldivergence")


def dllaplacian(u: ArrayLike, x: ArrayLike, dim: int, EnableHigherDerivatives: bool = True,
                enable_higher_derivatives: Optional[bool] = None) -> Any:
    """Per-point Laplacian of the scalar-per-point ``u``: the sum over i of d2u / dx_i2.

    ``u`` has one value per point (shape ``(B,)`` or ``(B, 1)``), ``x`` shape
    ``(B, *X)``; ``dim`` is the batch axis.  The result has shape ``(B,)``.
    Only inside a function run by dlfeval.

    >>> def lap(x):
    ...     u = np.sum(x ** 3, axis=1)
    ...     return dllaplacian(u, x, 0)
    ...
    >>> dlfeval(lap, dlarray([[1.0, 2.0], [3.0, 4.0]])).data.tolist()
    [18.0, 42.0]
    """
    _outside("dllaplacian")


SITE_FUNCTIONS = (dlgradient, dljacobian, dldivergence, dllaplacian)
_RULES_VERSION = registry._version           # [n]: registry.rules_version() without the call


def _entry(fun: Callable, args) -> Compiled:
    """The compiled form of ``fun`` for arguments of these kinds (compiled on first use).

    Looked up in ``sct.cache.ENTRIES`` (bounded, thread-safe) by the function's code, globals and
    argument kinds, then checked by the guards against ``fun`` itself: a fresh closure of the same
    code with the same captured values finds the code of an earlier one."""
    kinds = tuple([kind_of(a) for a in args])
    try:
        key = (id(fun.__code__), id(fun.__globals__), kinds, _RULES_VERSION[0]) + values_key(entry_values(fun, args))
    except AttributeError:              # not a Python function: compile_function says what it is
        return compile_function(fun, kinds, mode="entry")
    # arguments holding one dlarray at two places (tied weights): compiled apart, its gradients summing the
    # adjoints of the places (sct/sweeps.py _tied_roots; run_entry notes them for the run: rt.project_tied)
    tied = bool(_aliased_dlarrays(args))
    if tied:
        key += ("tied",)
    entry = _ENTRIES.lookup(key, fun)
    if entry is None:
        refuse_nested_slotted(args, [False] * len(args))   # a __slots__ object in a list or dict argument
        if tied:
            from .sweeps import TIED_ENTRY
            saved, TIED_ENTRY.code = getattr(TIED_ENTRY, "code", None), fun.__code__
            try:
                entry, values = compile_entry(fun, args, lambda: compile_function(fun, kinds, mode="entry"))
            finally:
                TIED_ENTRY.code = saved
        else:
            entry, values = compile_entry(fun, args, lambda: compile_function(fun, kinds, mode="entry"))
        key = (id(fun.__code__), id(fun.__globals__), kinds, _RULES_VERSION[0]) + values_key(values) + \
            (("tied",) if tied else ())
        _ENTRIES.insert(key, entry)
    return entry


# Per def (code object): the compiled entries it ran, newest first, each as the ``call`` that
# make_call generated for it, so a repeated dlfeval neither computes kinds nor hashes a key: one
# call checks, unwraps, runs and wraps.
# A site is ``(code, calls, calls[0], calls[1:])``; _LAST_SITE is the site of the last hit (or a
# site of no code), tried before the dict: a loop calling dlfeval on one function reads neither
# ``id`` nor the dict.
_ENTRY_SITES: dict = {}
_ENTRY_SITES_MAX = 1024
_NO_SITE = (None, (), lambda f, args: MISS, ())
_LAST_SITE = _NO_SITE


def _clear_sites() -> None:
    global _LAST_SITE
    _ENTRY_SITES.clear()
    _LAST_SITE = _NO_SITE


_cache.ON_CLEAR.append(_clear_sites)


def make_hit(fun, args, compiled: Compiled):
    """``hit(f, args)``: the plain data of ``args`` (what ``unwrap(args)`` gives) when ``compiled``
    is right for ``f(*args)``, else None.  One generated function (sct.kinds.make_unwrapper) that
    checks everything the cache key and the guards hold: the rule set and backend version it was
    compiled under, the arguments' kinds part by part (exact types, dtypes, ranks, formats, keys,
    fields) while unwrapping them, then ``compiled.check(f)`` (code, globals, defaults, closure
    cells, the globals and attributes the code read).  None where the arguments are too big."""
    if getattr(compiled, "written_args", ()):
        _outside_reads(fun, args, compiled)     # (its hits read the globals of the code it may call again)
    parts = _hit_parts(args, compiled)
    if parts is None:
        return None
    text, consts, result = parts
    text = "def hit(f, args):\n" + text + f"    return {result}\n"
    exec(compile(text, "<sct-entry-hit>", "exec"), consts)
    hit = consts["hit"]
    hit.source = text
    return hit


def _writes_args(fun, compiled: Compiled) -> bool:
    """Whether ``fun`` may change an argument in place (found once per compiled entry)."""
    found = getattr(compiled, "writes_args", None)
    if found is None:
        from .callee_effects import changes_arguments
        try:
            found = bool(changes_arguments(fun))
        except Exception:
            found = True
        compiled.writes_args = found
    return found


def _shared_memory(fun, args, compiled: Compiled) -> bool:
    """Whether ``f`` may write into an argument in place and a dlarray's data in ``args`` shares memory
    with a plain array there (read before the run, which may change them)."""
    if not all(_dlarray_data_and_arrays(args)):
        # (no dlarray beside a plain array: none shares memory, and the function's source is not read
        # again for its writes; was: parsed and analysed on the first run of every entry, ~3 % of a
        # 2,000-line function's first call.  _hit_parts asks writes_args only for such arguments too)
        return False
    return _writes_args(fun, compiled) and _dlarray_memory_shared(args)


def _refuse_shared_memory(fun, shared: bool) -> None:
    """``dlfeval(f, dlarray(buf), buf)`` where ``f`` may write into an argument in place: the write
    through the plain array would change the dlarray's data, which sct's derivative reads as it was
    (a wrong gradient: red team X); refused after the run (where the run has its own refusal, that one
    is raised), its results not returned."""
    if shared:
        code = getattr(fun, "__code__", None) or getattr(getattr(fun, "__func__", None), "__code__", None)
        name = getattr(fun, "__qualname__", None) or type(fun).__name__
        raise EvaluationError(f"{name}() may change an argument in place, and the data of a dlarray argument is "
                              f"also (or shares memory with) a plain array argument: a write through the plain "
                              f"array would change the dlarray's values, which the derivative reads as they were. "
                              f"Pass a copy (dlarray(a.copy()), or a.copy())",
                              getattr(code, "co_filename", None), getattr(code, "co_firstlineno", None))


def _refuse_aliased_writes(fun, args, compiled: Compiled) -> None:
    """``dlfeval(f, c, c, x)`` (or ``c, [c]``, ``{"m": c}``, ``c.other = c``) of an ``f`` that sets a traced
    attribute of an argument's object (``a.h = np.tanh(x @ a.W)``, a method read in place setting ``self.h``):
    sct follows the write by the argument's name, so a read of the object through the other path (``b.h``) is of
    the value it had at entry, a constant (was: a gradient of 0, or "y does not depend on any traced input").
    Refused before the run, at the line of the write, naming both paths (Compiled.written_args)."""
    written = getattr(compiled, "written_args", ())
    if not written:
        return
    reads = _outside_reads(fun, args, compiled)
    name = getattr(fun, "__qualname__", None) or type(fun).__name__
    if reads.refusal is not None:       # (was: sys.modules[__name__].MODEL.h read as a constant, red team 49)
        position, param, where = written[0]
        raise EvaluationError(f"{name}() sets an attribute of {param}'s object here, and {reads.refusal} reads "
                              f"sys.modules or globals(), through which sct cannot tell which objects it reaches: "
                              f"a read of this object that way would lose the new value's derivative (sct "
                              f"follows writes by name). Read the object through {param}, or pass it as an "
                              f"argument", *where)
    extra = _read_outside(compiled) + tuple(reads.now())
    _refuse_inner_dicts_twice(fun, args, compiled, extra)
    found = _written_reached_twice(args, [w[0] for w in written], extra, _names_read(reads))
    if found is None:
        return
    position, first, second = found
    names = {w[0]: w[1] for w in written}
    code = getattr(fun, "__code__", None)
    params = list(code.co_varnames[:code.co_argcount + code.co_kwonlyargcount]) if code is not None else []
    params += [w[1] for w in written if w[0] >= len(params)]

    def spell(path) -> str:
        i = path[0]
        text = names.get(i) or (extra[i - len(args)][0] if i >= len(args) else
                                params[i] if i < len(params) else f"argument {i + 1}")
        for how, key in path[1:]:       # (a class, a deque's or set's item, a weakref's object: red team 49)
            text = f"{text}.{key}" if how == "attr" else f"type({text})" if how == "class" else \
                f"an item of {text}" if how == "member" else f"{text}()" if how == "ref" else \
                f"what {text} may yield (an iterator or generator sct cannot look into without running it)" \
                if how == "yields" else f"{text}[{key!r}]"
        return text
    where = next(w[2] for w in written if w[0] == position)
    a, b = spell(first), spell(second)
    what = f"writes into the dict {names[position]}" if position in compiled.dict_written_args else \
        f"sets an attribute of {names[position]}'s object"
    raise EvaluationError(f"{a} and {b} are one object; sct follows writes by name: {name}() {what} "
                          f"here, and reads of it through {b if a == names[position] else a} "
                          f"would lose the new value's derivative (sct differentiates them as reads of what the object "
                          f"held when the call began). Pass the object once (read it through one name), or pass "
                          f"distinct objects", *where)


def _refuse_inner_dicts_twice(fun, args, compiled: Compiled, extra) -> None:
    """``dlfeval(f, params, state)`` of an ``f`` writing into a dict inside its dict argument
    (``state["bn"]["TrainedMean"] = m``), where that inner dict is reached another way too (``state["bn"] is
    params["bn"]``, twice in state): sct follows the write along the one path written, so a read through the
    other would be of the value it had at entry.  Refused before the run, at the line of the write."""
    nested = getattr(compiled, "nested_written_args", ())
    if not nested:
        return
    found = _inner_dicts_reached_twice(args, [w[0] for w in nested], extra)
    if found is None:
        return
    position, keys = found
    param, where = next((w[1], w[2]) for w in nested if w[0] == position)
    name = getattr(fun, "__qualname__", None) or type(fun).__name__
    path = param + "".join(f"[{k!r}]" for k in keys)
    raise EvaluationError(f"{name}() writes into the dict {path} here, and that dict is also reached another way "
                          f"from its arguments (another argument or another item holds the same dict); sct follows "
                          f"the write along {path} only, so a read through the other path would lose it. Pass "
                          f"distinct dicts (copy it: `{path} = dict({path})` before the call)", *where)


_NOT_HOLDERS = (types.ModuleType, type, types.FunctionType, types.BuiltinFunctionType, types.MethodType,
                functools.partial, np.ufunc, str, bytes, numbers.Number, np.ndarray, np.generic)


def _names_read(reads):
    """The names the code ``reads`` followed names (the class attributes it may read), as a frozenset; None
    where not known (some of that code reads attributes by computed names)."""
    return None if reads is None or reads.names is None else frozenset(reads.names)


def _outside_reads(fun, args, compiled: Compiled):
    """sct.outside_reads.Reads of ``fun`` (the globals of the code it may call), kept on ``compiled``."""
    found = getattr(compiled, "outside_reads", None)
    if found is None:
        from .outside_reads import Reads
        found = compiled.outside_reads = Reads(fun, args)
        # (the defaults the call does not pass, read by the function itself: walked as its globals are; was:
        # ``def loss(net, xs, other=net.cell)`` read other.h as the value at entry, a wrong gradient, red team 52)
        compiled.outside_values = _read_outside(compiled) + _defaults_not_passed(fun, len(args))
    return found


def _defaults_not_passed(fun, count: int) -> tuple:
    """``((parameter, value), ...)``: the defaults of ``fun`` (a Python function, a bound method's self among
    its ``count`` arguments) that a call passing ``count`` arguments by position leaves it to read itself."""
    code = getattr(fun, "__code__", None)
    if code is None:
        return ()
    defaults = getattr(fun, "__defaults__", None) or ()
    first = code.co_argcount - len(defaults)
    found = [(code.co_varnames[first + j], v) for j, v in enumerate(defaults) if first + j >= count]
    if count <= code.co_argcount:
        found += list((getattr(fun, "__kwdefaults__", None) or {}).items())
    return tuple(found)


def _read_outside(compiled: Compiled) -> tuple:
    """``((name, value), ...)``: the globals and closure values ``compiled`` reads (its guards: the same
    objects while it is run) that may hold an object (not a module, class, function or number); kept on it."""
    found = getattr(compiled, "outside_values", None)
    if found is None:
        found = compiled.outside_values = tuple(
            (g.name, g.value) for g in compiled.guards
            if g.value is not None and (not isinstance(g.value, _NOT_HOLDERS) or _users_class(g.value)))
    return found


def _users_class(value) -> bool:
    """A class of the user's (its class attributes may hold the user's objects: ``Base.shared``)."""
    from .runtime.origins import module_top
    return isinstance(value, type) and module_top(value) not in ("builtins", "numpy", "sct")


def _hit_parts(args, compiled: Compiled):
    """make_hit's body up to its last line (``return None`` for a miss), its constants and the
    expression of the plain data it returns; None where the arguments are too big."""
    from .kinds import make_unwrapper
    if getattr(compiled, "dict_written_args", ()):
        return None         # (writes into a dict argument: run_entry pairs its copies with the caller's)
    made = make_unwrapper(tuple(args))
    if made is None:
        return None
    lines, consts, result = made
    consts = dict(consts, RV=_RULES_VERSION, CHECK=compiled.check)
    if getattr(compiled, "param_values", ()):    # (int arguments its loops were written out for: sct/unroll.py)
        lines = list(lines) + values_check_lines(compiled.param_values, consts)
    if getattr(compiled, "writes_args", None) is not False and all(_dlarray_data_and_arrays(args)):
        # (a dlarray's data shared with a plain array: the slow path, which refuses it)
        consts["SHARED"] = _dlarray_memory_shared
        lines = list(lines) + ["    if SHARED(args): return None"]
    if getattr(compiled, "written_args", ()):
        # (an argument whose attributes it sets, reached another way too: the slow path, which refuses it)
        consts["TWICE"], consts["WRITTEN"] = _written_reached_twice, [w[0] for w in compiled.written_args]
        consts["OUTSIDE"] = _read_outside(compiled)
        reads = getattr(compiled, "outside_reads", None)
        consts["NAMES"] = _names_read(reads)     # (the class attributes the code may read: None, all)
        if reads is not None and reads.live:   # (the globals of the code it may call: read now)
            consts["READS"] = reads.now
            lines = list(lines) + ["    if TWICE(args, WRITTEN, OUTSIDE + tuple(READS()), NAMES) is not None: "
                                   "return None"]
        else:
            lines = list(lines) + ["    if TWICE(args, WRITTEN, OUTSIDE, NAMES) is not None: return None"]
        if getattr(compiled, "nested_written_args", ()):       # (and the dicts inside one)
            consts["INNER"] = _inner_dicts_reached_twice
            consts["NESTED"] = [w[0] for w in compiled.nested_written_args]
            outside = "OUTSIDE + tuple(READS())" if "READS" in consts else "OUTSIDE"
            lines = list(lines) + [f"    if INNER(args, NESTED, {outside}) is not None: return None"]
    check = compiled.check
    body, names = getattr(check, "body", None), getattr(check, "consts", None)
    if body is not None and names is not None and not set(names) & set(consts) and \
            all(line.count("return False") <= 1 for line in body):   # sct.cache.make_check's lines
        consts.update(names)
        guards = [line.replace("return False", "return None") for line in body]
    else:
        guards = ["    if not CHECK(f): return None"]
    text = (f"    if RV[0] != {_RULES_VERSION[0]}: return None\n" + "\n".join(lines) +
            "\n" + "\n".join(guards) + "\n")
    return text, consts, result


MISS = object()         # what a call (make_call) returns for arguments it is not for


def make_call(args, compiled: Compiled, out):
    """The ``call`` (see make_call_from) for arguments like ``args`` and outputs like ``out``."""
    parts = _hit_parts(args, compiled)
    return None if parts is None else make_call_from(parts, compiled, out)


def make_call_from(parts, compiled: Compiled, out):
    """``call(f, args)``: what ``dlfeval(f, *args)`` returns, when ``compiled`` is right for
    ``f(*args)``; else ``MISS``.  One generated function per compiled entry: make_hit's checks and
    unwrapping, the run of the generated code (run_generated's work written inline: the effects
    log kept, warnings shown at the user's line, an error located there), the wrapping of outputs
    laid out as ``out`` (the first raw outputs: sct.runtime.dlarray.wrapper_lines; others by
    wrap_outputs), then Compiled.recheck's check and the outputs' formats where the entry has
    them.  ``parts``: _hit_parts of the arguments, read before the run (which may change them)."""
    from .runtime.dlarray import wrapper_lines
    text, consts, result = parts
    consts = dict(consts)
    run = dict(ENTRY=compiled.entry, HOOK=_HOOK[0], W=warnings, EL=_EFFECTS_LOCAL, ESTATE=_effects_state,
               AT=_at_user_line, SLOW=run_generated, MISS=MISS,
               COMPILED=compiled, READ=_read_values_kept, APPLY=apply_formats, FORMATS=compiled.formats,
               WRAP_ALL=wrap_outputs, GLOBALS_KEPT=_globals_seen_kept)
    wrap = wrapper_lines(out) if compiled.output_types is None else None
    if wrap is not None and any(k in consts and consts[k] is not v for k, v in wrap[1].items()):
        wrap = None
    if compiled.output_types is not None:       # (outputs Python gives as no dlarray: kept_outputs)
        run.update(KEEP=kept_outputs, KEPT_TYPES=compiled.output_types)
    if any(k in consts for k in run) or wrap is not None and any(k in run for k in wrap[1]):
        return None
    consts.update(run)
    text = re.sub(r"return None$", "return MISS", text, flags=re.M)
    call = f"ENTRY{result}" if result.startswith("(") else f"ENTRY(*{result})"
    if _HOOK[0] is not None and not (compiled.recheck or compiled.formats is not None or wrap is None) and \
            not _uses_effects(compiled):
        # the entry's body (and its sweep's) written into the call: one frame (sct/entry_inline.py)
        from .entry_inline import inline_call
        inlined = inline_call(text, dict(consts, **wrap[1]), result, compiled.entry, wrap[0])
        if inlined is not None:
            inlined.compiled = compiled
            return inlined
    if _HOOK[0] is None:                # no warning hook: run_generated catches them
        text += f"    o = SLOW(ENTRY, {result})\n"
    else:
        # the effects log kept for the outermost run and cleared after it, where the generated code
        # can reach it (_uses_effects; decided here, once per entry)
        effects = _uses_effects(compiled)
        text += f"""    if W._showwarnmsg is not HOOK:
        o = SLOW(ENTRY, {result})
    else:
""" + ("""        e = getattr(EL, "state", None) or ESTATE()
        depth = e.depth
        e.depth = depth + 1
""" if effects else "") + f"""        try:
            o = {call}
""" + ("""            if depth == 0 and e.globals_seen:
                GLOBALS_KEPT()
""" if effects else "") + f"""        except Exception as exc:
            located = AT(exc, ENTRY)
            if located is None:
                raise
            raise located from exc
""" + ("""        finally:
            if depth > 0:
                e.depth = depth
            else:
                e.depth = 0
                if e.log:
                    e.log.clear()
                if e.cursors:
                    e.cursors.clear()
                if e.walked:
                    e.walked.clear()
                if e.walks:
                    e.walks.clear()
                if e.draws:
                    e.draws.clear()
                if e.captured:
                    e.captured.clear()
                if e.globals_seen:
                    e.globals_seen.clear()
""" if effects else "")
    if compiled.recheck or compiled.formats is not None or wrap is None:
        finish = ["    o = WRAP_ALL(o)"] if wrap is None else ["    o = WRAP(o)"]
        if compiled.output_types is not None:
            finish = ["    raw = o"] + finish
        if wrap is not None:
            consts["WRAP"] = make_wrapper(out)
        if compiled.recheck:
            finish.append("    READ(COMPILED, f)")
        if compiled.formats is not None:
            finish.append("    o = APPLY(o, FORMATS)")
        if compiled.output_types is not None:
            finish.append("    o = KEEP(o, raw, KEPT_TYPES, args)")
        finish.append("    return o")
        text += "\n".join(finish) + "\n"
    else:
        consts.update(wrap[1])
        text += "\n".join(wrap[0]) + "\n"
    text = "def call(f, args):\n" + text
    exec(compile(text, "<sct-entry-call>", "exec"), consts)
    function = consts["call"]
    function.source = text
    function.compiled = compiled
    return function


def _code_names(code) -> frozenset:
    """The global and attribute names ``code`` and the functions defined in it read."""
    names = set(code.co_names)
    for c in code.co_consts:
        if isinstance(c, types.CodeType):
            names |= _code_names(c)
    return frozenset(names)


def _functions_of(value) -> list:
    if isinstance(value, (staticmethod, classmethod, types.MethodType)):
        value = value.__func__
    if isinstance(value, property):
        return [f for f in (value.fget, value.fset, value.fdel) if f is not None]
    return [value] if isinstance(value, types.FunctionType) else []


_RUNTIME_PREFIX = __name__.rsplit(".", 1)[0] + ".runtime."
_METHODS: list = []                 # [{name: the functions of the runtime's classes of that name}]
_REACHES: dict = {}                 # id(runtime function or class) -> (it, whether it reaches the log)
_LOG_NAMES = frozenset({"_LOCAL", "HOOKS"})


def _runtime_methods() -> dict:
    """The methods (and properties) of every class of the runtime, by name: what reading an
    attribute of that name may call (built once)."""
    if not _METHODS:
        import importlib
        from . import runtime as _runtime
        methods: dict = {}
        files = sorted({f for d in _runtime.__path__ for f in os.listdir(d)})
        for name in [f[:-3] for f in files if f.endswith(".py") and f != "__init__.py"]:
            module = importlib.import_module(f"{_runtime.__name__}.{name}")
            for value in list(vars(module).values()):
                if isinstance(value, type) and value.__module__ == module.__name__:
                    for attr, member in vars(value).items():
                        methods.setdefault(attr, []).extend(_functions_of(member))
        _METHODS.append(methods)
    return _METHODS[0]


def _runtime_object(value) -> bool:
    module = getattr(value, "__module__", None)
    return isinstance(module, str) and module.startswith(_RUNTIME_PREFIX)


def _runtime_callees(names, space) -> list:
    """The runtime's functions and classes that code reading ``names`` with globals ``space`` may
    call: those the globals hold, a runtime module's or a namespace's (``rt``) attributes among
    ``names``, and the methods of the runtime's classes of any of those names."""
    methods = _runtime_methods()
    out: list = []
    for name in names:
        value = space.get(name)
        if isinstance(value, types.SimpleNamespace) or \
                isinstance(value, types.ModuleType) and value.__name__.startswith(_RUNTIME_PREFIX):
            out += [getattr(value, a) for a in names if hasattr(value, a)]
        elif value is not None:
            out.append(value)
        out += methods.get(name, ())
    return [v for v in out if _runtime_object(v)]


def _reaches_log(roots) -> bool:
    """Whether calling any of ``roots`` (the runtime's functions and classes) may reach the effects
    log (sct.runtime.effects: the thread-local ``_LOCAL`` its functions keep it in) or compile and run
    generated code (support.HOOKS: call sites, helpers compiled on their first call): whether a
    function among them, or among all they may call (_runtime_callees of their code, closures and
    defaults included), reads ``_LOCAL`` or ``HOOKS``.  Remembered per function: a search that
    finds nothing covers everything it went through."""
    todo, seen = list(roots), {}
    while todo:
        value = todo.pop()
        if id(value) in seen:
            continue
        seen[id(value)] = value
        known = _REACHES.get(id(value))
        if known is not None and known[0] is value:
            if known[1]:
                return True
            continue
        if isinstance(value, type):
            todo += [f for member in vars(value).values() for f in _functions_of(member)]
            continue
        for f in _functions_of(value):
            names = _code_names(f.__code__)
            if names & _LOG_NAMES:
                _REACHES[id(value)] = (value, True)
                return True
            todo += _runtime_callees(names, f.__globals__)
            held = [c.cell_contents for c in f.__closure__ or () if c.cell_contents is not None] + \
                list(f.__defaults__ or ())
            todo += [v for v in held if _runtime_object(v)]
    for key, value in seen.items():
        _REACHES[key] = (value, False)
    return False


_PLAIN = (types.ModuleType, types.SimpleNamespace, int, float, complex, str, bytes, bool, type(None))


def _uses_effects(compiled: Compiled) -> bool:
    """Whether a run of ``compiled`` may reach the effects log (its effects, a recomputation's
    replay, a guard that reads it) or code that does: it may run user code sct did not compile
    (``Compiled.opaque``); or its generated code, or generated code it calls by name (followed
    through the globals of each), may call a runtime function that does (_reaches_log:
    ``rt.effect``, ``rt.replay_from``, a call site's ``rt.vjp_at``...); or a global it reads is
    anything but generated code, a module, a number, a string, a numpy value, or a function or
    class of numpy, math, the builtins or sct's runtime.  Where it cannot, a run leaves the log
    as it found it, so the call of its entry (make_call_from) keeps no depth and clears nothing:
    code it calls that does log (a nested dlfeval) keeps its own."""
    if getattr(compiled, "opaque", True):
        return True
    seen: set = set()
    todo = [compiled.entry]
    roots: list = []
    while todo:
        function = todo.pop()
        code = getattr(function, "__code__", None)
        if type(function) is not _FUNCTION or not code.co_filename.startswith("<sct-generated") or \
                function.__closure__:
            return True
        if code in seen:
            continue
        seen.add(code)
        space = function.__globals__
        read = _code_names(code)
        roots += _runtime_callees(read, space)
        for name in read:
            value = space.get(name, _UNSET)
            if value is _UNSET or isinstance(value, _PLAIN) or \
                    type(value).__module__.split(".")[0] == "numpy" and not callable(value):
                continue
            if type(value) is _FUNCTION and value.__code__.co_filename.startswith("<sct-generated"):
                todo.append(value)
                continue
            module = getattr(value, "__module__", None)
            if not (callable(value) and isinstance(module, str) and
                    (module.split(".")[0] in ("numpy", "math", "cmath", "builtins") or
                     module.startswith(_RUNTIME_PREFIX))):
                return True
    return _reaches_log(roots)


def _run_first(fun, args, compiled: Compiled):
    """run_compiled for a call that missed the entry sites; a Python function's entry is then
    remembered there (make_call), its checks written for ``args`` as they are before the run."""
    global _LAST_SITE
    code = getattr(fun, "__code__", None)
    _refuse_aliased_writes(fun, args, compiled)
    shared = _shared_memory(fun, args, compiled)
    parts = _hit_parts(args, compiled) if code is not None else None
    _OPAQUE_MET.flag = False
    raw = run_entry(compiled.entry, args, lambda: _names_read(_outside_reads(fun, args, compiled)),
                    compiled.dict_written_args)
    _refuse_shared_memory(fun, shared)
    if parts is not None and not _OPAQUE_MET.flag:      # (opaque holders noted: each call runs run_entry)
        call = make_call_from(parts, compiled, raw)
        if call is not None:
            site = _ENTRY_SITES.get(id(code))
            old = site[1] if site is not None and site[0] is code else ()
            if len(_ENTRY_SITES) >= _ENTRY_SITES_MAX:
                _ENTRY_SITES.clear()
            calls = (call,) + old[:7]
            _ENTRY_SITES[id(code)] = _LAST_SITE = (code, calls, call, calls[1:])
    out = wrap_outputs(raw)
    out = out if compiled.formats is None else apply_formats(out, compiled.formats)
    out = callers_dicts(out) if compiled.dict_written_args else out
    return out if compiled.output_types is None else kept_outputs(out, raw, compiled.output_types, args)


def kept_outputs(out, raw, kept, args):
    """``out`` (what dlfeval gives back: the arrays and numbers of the entry's outputs ``raw`` as dlarrays) with
    those plain Python gives as no dlarray as Python has them (``kept``: Compiled.output_types, from
    sct/argument_writes.py output_types): ``float(loss)``, ``loss.item()``, ``lr * 0.5`` Python's numbers, a dict,
    list, tuple or object argument returned as it was given the caller's object itself (red55r W3), a copy of one holding its numbers (was: 1x1
    dlarrays and a new dict, so json.dumps(state) failed and a loop passing the state back recompiled, red54u W1).
    ``args``: dlfeval's arguments, by the position of the function's parameters."""
    if kept[0] == "one":
        return _kept_output(out, raw, kept[1], args)
    if type(out) is not tuple or type(raw) is not tuple or len(out) != kept[1] or len(raw) != kept[1]:
        return out
    out = list(out)
    for i, t in kept[2].items():
        out[i] = _kept_output(out[i], raw[i], t, args)
    return tuple(out)


def _kept_output(wrapped, raw, kept, args):
    if kept == "plain":
        if type(raw) in (float, int, complex, bool, str) or isinstance(raw, np.generic) and raw.dtype.kind in "biufc":
            return raw
        if type(raw) is np.ndarray and raw.dtype.kind in "biufc":
            return raw if raw.flags.writeable else raw.copy()   # (as wrap_outputs: never a read-only view)
        if type(raw) is list and all(type(v) in (float, int, complex, bool, str) for v in raw):
            return raw
        return wrapped
    if kept[0] == "arg":
        given = args[kept[1]] if kept[1] < len(args) else None
        return given if type(given) is dict or type(given) is type(raw) else wrapped
    if kept[0] == "field":          # (``return ..., s.hist``: the caller's field itself, where the code's value is)
        given = args[kept[1]] if kept[1] < len(args) else None
        if raw is getattr(given, kept[2], wrapped):
            return raw
        return wrapped if kept[3] is None else _kept_output(wrapped, raw, kept[3], args)
    if kept[0] == "display":        # (``return y, g, (s, 1.5)``: its items as Python has them)
        if type(raw) is not kept[1] or type(wrapped) is not kept[1] or len(raw) != len(kept[2]):
            return wrapped
        return kept[1](w if t is None else _kept_output(w, r, t, args) for w, r, t in zip(wrapped, raw, kept[2]))
    if kept[0] == "record":         # (``Metrics(float(L), lr)``: its fields as Python has them, red56c W1)
        if type(raw) is not kept[1] or type(wrapped) is not kept[1]:
            return wrapped
        fields = {f: _kept_output(getattr(wrapped, f), getattr(raw, f), t, args) for f, t in kept[2].items()}
        if isinstance(wrapped, tuple):
            return wrapped._replace(**fields)
        for f, v in fields.items():     # (wrapped: wrap_outputs' own copy of the dataclass)
            object.__setattr__(wrapped, f, v)
        return wrapped
    if kept[0] == "items" and type(wrapped) is dict and type(raw) is dict:
        for k in kept[1]:
            if k in raw and k in wrapped:
                wrapped[k] = _kept_output(wrapped[k], raw[k], "plain", args)
    return wrapped


def dlfeval(fun: Callable, *args: Any, **kwargs: Any) -> Any:
    """Evaluate ``fun(*args, **kwargs)`` with differentiation enabled (MATLAB's dlfeval).

    ``fun`` is compiled once per kinds of arguments (types, dtypes, ranks and
    container structure); its ``dlgradient`` calls become generated adjoint
    code.  Float, complex and bool arrays in the outputs come back as dlarrays;
    integer arrays and numpy integers as numpy gives them.

    >>> import numpy as np
    >>> from sct import dlarray, dlfeval, dlgradient
    >>> def f(x):
    ...     y = np.sum(x ** 2)
    ...     return y, dlgradient(y, x)
    >>> y, g = dlfeval(f, dlarray([1.0, 2.0]))   # doctest: +SKIP
    """
    global _LAST_SITE
    depth = len(_TYPES_SURE)        # (a helper's unsure_types left by an error: ended here)
    try:
        if type(fun) is _FUNCTION and not kwargs:      # the usual call: no adapting
            if fun.__closure__ is not None and _state_holds_values(fun, False) and _NOTING.fun is not fun:
                return _noting_cells(fun, args)     # (its defaults are arguments: traced)
            code = fun.__code__
            site = _LAST_SITE
            if site[0] is not code:
                site = _ENTRY_SITES.get(id(code))
                if site is not None and site[0] is code:
                    _LAST_SITE = site
                else:
                    site = _NO_SITE
            out = site[2](fun, args)        # a hit: checked, unwrapped, run, wrapped in one call
            if out is not MISS:
                return out
            for call in site[3]:
                out = call(fun, args)
                if out is not MISS:
                    return out
            compiled = _entry(fun, args)
            out = _run_first(fun, args, compiled)
            if compiled.recheck:
                _read_values_kept(compiled, fun)
            return out
        return _dlfeval(fun, args, kwargs)           # an AcceleratedFunction: its own cache
    except SctError as error:
        raise user_error(_self_holding_note(error, fun, args), fun)
    except RecursionError as error:
        raise user_error(recursion_refusal(fun, args, kwargs), fun) from error
    finally:
        del _TYPES_SURE[depth:]


_FUNCTION = types.FunctionType


def _self_holding_note(error, fun, args):
    """``error`` with what may be behind "y does not depend on any traced input" where an argument holds
    itself (``c.me = c`` made by the caller, the function setting c.h and reading c.me.h): sct follows c.me
    as a value apart from c, so the field read through it is the value it had at entry, a constant (was: only
    "y does not depend on any traced input", which names no reason: red2st53 F2)."""
    if not isinstance(error, CompileError) or "does not depend on any traced input" not in str(error):
        return error
    code = getattr(fun, "__code__", None)
    params = list(code.co_varnames[:code.co_argcount]) if code is not None else []
    for i, value in enumerate(args):
        where = params[i] if i < len(params) else f"argument {i + 1}"
        try:
            path = self_holding_path(value, where, (list, tuple), (type, types.ModuleType, types.FunctionType),
                                     depth_limit=50)
        except Exception:
            path = None
        if path:
            error.args = (f"{error.args[0]} (maybe so because {where} holds itself: {path} is an object or "
                          f"container it sits in, a cycle. sct follows {path} as a value apart from {where}: "
                          f"a field or item the function sets on {where} and reads back through {path} is read as "
                          f"the value it had at entry, a constant. Read it through {where}, or pass {where} "
                          "without the back-reference)",) + tuple(error.args[1:])
            break
    return error


def _noting_cells(fun, args):
    """dlfeval of ``fun``, a closure whose captured values may hold arrays: its code reads them as
    constants, so the leaves they reach are noted for the run (rt.note_captured; the effects log kept
    around it, as around a run) and a gradient with respect to one of them is refused (was: ``def
    make(m): def loss(mm, x): ... x @ m.W ...`` run as dlfeval(make(m), m, x) gave m.W a zero gradient)."""
    from .runtime.dlarray import dlarray as dl
    from .runtime.effects import held
    from .runtime.support import captured_leaves, note_captured
    cells = _cells_only(fun)
    saved, _NOTING.fun = _NOTING.fun, fun
    try:
        if not any(type(leaf) is dl for _, leaf in captured_leaves(cells)):
            # (only a dlarray it captures can be one the arguments hold and a gradient is taken with
            # respect to: plain arrays and numbers are constants to the caller too; the usual closure,
            # over data, is not noted: about 20 us a call)
            return dlfeval(fun, *args)
        with held():
            note_captured(cells, functools.partial(_entry_described, fun), called=False)
            return dlfeval(fun, *args)      # (its entry sites, as any call's)
    finally:
        _NOTING.fun = saved


class _Noting(threading.local):
    fun = None                  # the closure _noting_cells runs now (its cells noted)


_NOTING = _Noting()


def _entry_described(fun) -> str:
    code = fun.__code__
    return f"{fun.__name__}() ({code.co_filename}, line {code.co_firstlineno}), the function dlfeval runs, " \
        "through a value it captures"


def _cells_only(fun):
    """A partial holding ``fun``'s captured values (what note_captured walks)."""
    values = []
    for cell in fun.__closure__:
        try:
            values.append(cell.cell_contents)
        except ValueError:
            pass
    return functools.partial(_no_function, *values)


def _no_function(*args):
    """(see _cells_only)"""


def recursion_refusal(fun, args, kwargs=None) -> EvaluationError:
    """The error for a RecursionError met while sct walked ``fun``'s arguments or the values it reads
    (its closure and defaults): names the value that holds itself where there is one."""
    code = getattr(getattr(fun, "__func__", fun), "__code__", None)
    filename = code.co_filename if code is not None else None
    lineno = code.co_firstlineno if code is not None else None
    name = getattr(fun, "__name__", "the function")
    places = [(f"argument {i + 1}", a) for i, a in enumerate(args)] + \
        [(f"argument {k}=", a) for k, a in (kwargs or {}).items()]
    for cell_name, cell in zip(getattr(code, "co_freevars", ()), getattr(fun, "__closure__", None) or ()):
        try:
            places.append((cell_name, cell.cell_contents))
        except ValueError:
            pass
    module = getattr(fun, "__globals__", {})
    places += [(n, module[n]) for n in getattr(code, "co_names", ()) if n in module and
               isinstance(module[n], (dict, list, tuple, set))]
    for where, value in places:
        path = self_holding_path(value, where, (list, tuple, set, frozenset),
                                 (type, types.ModuleType, types.FunctionType))
        if path:
            return EvaluationError(
                f"{name}: {where} holds itself ({path} is a container it sits in: a cycle); sct walks the values a "
                "function is given and cannot follow a cycle. Pass the arrays and numbers it needs "
                "(e.g. a dict without the back-reference)", filename, lineno)
    return EvaluationError(
        f"{name}: Python's recursion limit was reached while sct compiled or ran it (a value holding "
        "itself, or recursion deeper than sys.getrecursionlimit()); pass values without cycles, or "
        "raise the limit with sys.setrecursionlimit", filename, lineno)


def _dlfeval(fun: Callable, args, kwargs):
    if isinstance(fun, WrappedFunction):          # an AcceleratedFunction: its own cache
        return fun(*args, **kwargs)
    fun, args, kwargs = as_function(fun, args, kwargs)
    if kwargs:                      # keywords go to their positions: kinds are positional
        fun, args = _positional_call(fun, args, kwargs)
    code = getattr(fun, "__code__", None)
    site = _ENTRY_SITES.get(id(code)) if code is not None else None
    if site is not None and site[0] is code:           # a hit, as in dlfeval
        for call in site[1]:
            out = call(fun, args)
            if out is not MISS:
                return out
    compiled = _entry(fun, args)
    out = _run_first(fun, args, compiled)
    if compiled.recheck:
        _read_values_kept(compiled, fun)
    return out


def _read_values_kept(compiled: Compiled, fun) -> None:
    """After a run of generated code that may run user code sct did not compile (``Compiled.recheck``:
    a function called through a dict, an argument, an effect): the globals, closure values and
    attributes it read still hold what it was compiled with.  The generated code reads them once
    per call, so one rebound during the call (a hook doing ``global scale; scale = 3``) would have
    left a stale value: refused, as sct.global_writes refuses the calls it can see."""
    if (compiled.post_check or compiled.check)(fun) if compiled.recheck_all else \
            targets_hold(compiled.call_targets):
        return
    code = fun.__code__
    raise EvaluationError(f"{fun.__qualname__}() called code sct did not compile that rebinds a global, "
                          "closure value or attribute it reads (sct reads those once per call, so the "
                          "change made during the call would not be seen): pass the value in as an "
                          "argument, or make the change before calling dlfeval",
                          code.co_filename, code.co_firstlineno)


# the compiler recognises these in the user's code without importing this module (sct.hooks)
_hooks.lend_api(dlfeval=dlfeval, dlgradient=dlgradient, dljacobian=dljacobian, dldivergence=dldivergence,
                dllaplacian=dllaplacian, SITE_FUNCTIONS=SITE_FUNCTIONS)


_BINDINGS: dict = {}            # id(code) -> (code, {name: position}): _positional's fast path


def _positional(fun: Callable, args, kwargs) -> tuple:
    """The arguments of ``fun(*args, **kwargs)`` by position (keyword-only ones after the others:
    the parameters of ``rt.positional(fun)``, see :func:`_positional_call`)."""
    return _positional_call(fun, args, kwargs)[1]


def _positional_call(fun: Callable, args, kwargs) -> tuple:
    """``fun`` and the arguments by position: keyword-only ones given, ``rt.positional(fun)`` (its
    keyword-only parameters after the others) and every argument in that order."""
    fast = _positional_fast(fun, args, kwargs)
    if fast is not None:
        return fun, fast
    import inspect
    from .calls import follows_wrapped
    try:
        # (a decorator's wrapper: its own parameters unless its code only passes them on; was the wrapped
        # function's, a wrapper reading kwargs saw none: 71 where Python gives 146)
        bound = inspect.signature(fun, follow_wrapped=follows_wrapped(fun)).bind(*args, **kwargs)
    except TypeError as exc:
        raise SctError(f"dlfeval: the arguments do not match {getattr(fun, '__qualname__', fun)}: {exc}") from None
    passed = dict(bound.kwargs)     # keyword-only ones given (their defaults the function reads itself)
    bound.apply_defaults()
    if passed:
        params = bound.signature.parameters.values()
        var = [p.name for p in params if p.kind == p.VAR_KEYWORD]
        names = ", ".join(passed)
        code = getattr(fun, "__code__", None)
        if var and type(fun) is _FUNCTION and not code.co_flags & 0x04:
            # def f(x, **kw): the keyword-only parameters, then kw as one dict, by position
            from .runtime.support import keywords_positional
            values = [bound.arguments[p.name] if p.kind != p.VAR_KEYWORD else dict(bound.arguments.get(p.name, {}))
                      for p in params]
            return keywords_positional(fun), tuple(values)
        where = (code.co_filename, code.co_firstlineno) if code is not None else (None, None)
        if var:
            raise CompileError(f"dlfeval: {getattr(fun, '__qualname__', fun)} takes **{var[0]} and *args, which sct "
                               f"does not pass through yet: make {names} ordinary parameters", *where)
        if type(fun) is not _FUNCTION or code.co_flags & 0x04:
            raise CompileError(f"dlfeval: keyword-only arguments ({names}) cannot be passed yet "
                               f"{'to a function with *args' if type(fun) is _FUNCTION else 'here'}; "
                               "make them ordinary parameters (or pass them as a dict argument)", *where)
        from .runtime.support import positional
        return positional(fun), tuple(bound.args) + tuple(bound.kwargs.values())
    return fun, tuple(bound.args)


def _positional_fast(fun, args, kwargs):
    """What ``inspect.signature(fun).bind(*args, **kwargs)`` with its defaults applied gives as
    positional arguments, for a plain function whose parameters are all positional-or-keyword
    (no ``*args``, ``**kwargs``, keyword-only or positional-only ones, no ``__wrapped__`` or
    ``__signature__``); None for any other function or call (an error included: the general
    path says what is wrong)."""
    if type(fun) is not _FUNCTION or fun.__dict__:
        return None
    code = fun.__code__
    known = _BINDINGS.get(id(code))
    if known is None or known[0] is not code:
        if code.co_flags & 0x0C or code.co_kwonlyargcount or code.co_posonlyargcount:
            return None                  # CO_VARARGS | CO_VARKEYWORDS, keyword-only, positional-only
        known = (code, {name: i for i, name in enumerate(code.co_varnames[:code.co_argcount])})
        if len(_BINDINGS) >= 1024:
            _BINDINGS.clear()
        _BINDINGS[id(code)] = known
    positions = known[1]
    count = len(positions)
    if len(args) > count:
        return None
    out = list(args) + [_UNSET] * (count - len(args))
    for name, value in kwargs.items():
        i = positions.get(name)
        if i is None or out[i] is not _UNSET:
            return None
        out[i] = value
    defaults = fun.__defaults__ or ()
    first = count - len(defaults)
    for i in range(len(args), count):
        if out[i] is _UNSET:
            if i < first:
                return None
            out[i] = defaults[i - first]
    return tuple(out)


_UNSET = object()


def run_compiled(compiled: Compiled, args):
    """Run generated code on the plain data of ``args``; wrap arrays that come back."""
    dicts = getattr(compiled, "dict_written_args", ())
    raw = run_entry(compiled.entry, args, dicts=dicts)
    out = wrap_outputs(raw)
    out = out if compiled.formats is None else apply_formats(out, compiled.formats)
    out = callers_dicts(out) if dicts else out
    return out if compiled.output_types is None else kept_outputs(out, raw, compiled.output_types, args)


def run_entry(entry, args, names=None, dicts=()):
    """run_generated of ``entry`` on the plain data of ``args``, with the dlarrays the arguments
    hold at more than one place noted for the run (sct.runtime.support.ALIASED: a gradient with
    respect to one of them is refused; the entry calls of make_call_from miss for such arguments).
    ``dicts``: the positions of the dict arguments whose items the entry writes into (Compiled.
    dict_written_args): the copies unwrapping makes of them paired with the caller's dicts for the run,
    which the writes then change too (sct.runtime.support.setitem_through); the dicts it returns that stand for
    the caller's come back as CallersDict (the caller's dict itself once wrapped: callers_dicts)."""
    if not dicts:
        return _run_entry(entry, args, names)
    from .runtime.support import ARGUMENT_DICTS, changes_kept, note_argument_dicts, mark_callers_dicts
    saved, saved_written = ARGUMENT_DICTS.pairs, ARGUMENT_DICTS.written
    pairs: dict = {}
    written: set = set()

    def unwrapped(args):
        out = list(unwrap(args))
        pairs.update(note_argument_dicts(args, out, dicts))
        ARGUMENT_DICTS.pairs, ARGUMENT_DICTS.written = pairs, written
        return tuple(out)
    try:
        raw = _run_entry(entry, args, names, unwrapped)
        changes_kept(pairs, written)        # (what code run as it is changed in the copies: the caller's too)
    finally:
        ARGUMENT_DICTS.pairs, ARGUMENT_DICTS.written = saved, saved_written
    return mark_callers_dicts(raw, pairs)


def _run_entry(entry, args, names=None, unwrap=unwrap):
    split: set = set()
    opaque: list = []
    ids = _aliased_dlarrays(args, split, opaque)
    if opaque:
        # (dlarrays the arguments hold where their kinds do not follow: in a deque, a set, a dict's keys,
        # an object array, a class attribute; noted, a gradient with respect to one refused)
        from .runtime.support import opaque_leaves
        leaves = opaque_leaves(opaque, names)
        if leaves:
            return _run_noting_opaque(entry, args, ids, split, leaves, unwrap)
    saved = _ALIASED.ids
    if not ids and not saved:
        return run_generated(entry, unwrap(args))
    saved_split = _ALIASED.split
    _ALIASED.ids, _ALIASED.split = ids, frozenset(split)
    try:
        return run_generated(entry, unwrap(args))
    finally:
        _ALIASED.ids, _ALIASED.split = saved, saved_split




_OPAQUE_MET = threading.local()


def _run_noting_opaque(entry, args, ids, split, leaves, unwrap=unwrap):
    from .runtime.effects import held
    _OPAQUE_MET.flag = True
    from .runtime.support import note_opaque
    saved, saved_split = _ALIASED.ids, _ALIASED.split
    _ALIASED.ids, _ALIASED.split = ids or saved, frozenset(split) if ids else saved_split
    try:
        with held():
            note_opaque(leaves)
            return run_generated(entry, unwrap(args))
    finally:
        _ALIASED.ids, _ALIASED.split = saved, saved_split


def _install_warning_hook() -> bool:
    """Warnings raised while generated code runs are shown at the user's line: one hook,
    installed once, on ``warnings._showwarnmsg`` (what both the C and the Python ``warn``
    call to show a warning that passed the filters; ``catch_warnings`` leaves it in place).
    A warning whose file is generated code (``sct.parse.LINE_MAPS``) is warned again at the
    user's line it maps to (the filters and the once-per-line registry applied there, as
    ``_warn_at_user_lines`` does); every other passes on as it is.  It keeps no state per
    run or thread, so a run of generated code sets up nothing for warnings (``catch_warnings``
    per call cost ~2 us and was not thread-safe; a list of the run's warnings per call
    ~0.1 us)."""
    original = getattr(warnings, "_showwarnmsg", None)
    if original is None:
        return False
    if getattr(original, "_sct_hook", False) == 2:
        _HOOK[0] = original
        return True
    from .parse import LINE_MAPS

    def _showwarnmsg(msg):
        filename = msg.filename
        if filename not in LINE_MAPS and _own_file(filename):
            _at_generated_frame(msg)        # numpy's warning inside a runtime function: its caller's line
            filename = msg.filename
        if filename in LINE_MAPS:
            filename, lineno = user_line(filename, msg.lineno)
            if filename not in LINE_MAPS:
                warnings.warn_explicit(msg.message, msg.category, filename, lineno, registry=_WARNINGS_SHOWN)
                return
        original(msg)
    _showwarnmsg._sct_hook = 2
    warnings._showwarnmsg = _showwarnmsg
    _HOOK[0] = _showwarnmsg
    return True


def _at_generated_frame(msg) -> None:
    """A warning numpy gave inside a runtime function (``rt.scalar_power``'s fallback to
    np.power, a rule's helper) names that function's file: moved to the innermost frame of
    generated code (or of the user's own code) that called it, whose line _warn_at_user_lines
    maps to the user's.  Walked only when a warning is shown (rare).  The walk starts at the frame
    that gave the warning (the innermost of ``msg``'s file): the frames inside it are the warning
    machinery's and the hooks', another library's hook wrapping sct's among them (was: from a fixed
    depth, so a wrapping hook's own line was named instead of the user's)."""
    frame = sys._getframe(1)
    while frame is not None and frame.f_code.co_filename != msg.filename:
        frame = frame.f_back
    if frame is None:
        return
    while frame is not None:
        filename = frame.f_code.co_filename
        if filename in _LINE_MAPS or not (_own_file(filename) or filename == warnings.__file__):
            msg.filename, msg.lineno = filename, frame.f_lineno
            return
        frame = frame.f_back


_HOOK: list = [None]                # [the hook installed], checked by identity on every run
_HOOKED = _install_warning_hook()
_EFFECTS_LOCAL = _effects_local     # the thread-local of sct.runtime.effects.state()


def run_generated(function, args):
    """Call generated code; an error inside it is reported at the user's line (and so is a
    warning, e.g. numpy's ``invalid value encountered in log``: by the hook, see
    _install_warning_hook).  The effects log is kept for the outermost run and cleared after
    it, an error included."""
    hook = _HOOK[0]
    if hook is None or warnings._showwarnmsg is not hook and \
            not getattr(warnings._showwarnmsg, "_sct_hook", False):
        return _run_generated_catching(function, args)
    effects = getattr(_EFFECTS_LOCAL, "state", None) or _effects_state()   # kept for this outermost run
    depth = effects.depth
    effects.depth = depth + 1
    try:
        out = function(*args)       # effects logged for recomputations
        if depth == 0 and effects.globals_seen:      # (the globals a `global` statement names: kept)
            _globals_seen_kept()
        return out
    except Exception as exc:
        located = _at_user_line(exc, function)
        if located is None:
            raise
        raise located from exc
    finally:
        if depth > 0:
            effects.depth = depth
        else:
            effects.depth = 0
            if effects.log:
                effects.log.clear()
            if effects.cursors:
                effects.cursors.clear()
            # what the run's loops walked (and the generator states its recomputations began at) are
            # this run's, as the log is: kept past it, a later call's recomputation that walked a
            # loader in another order than its first run was taken as one of an earlier call's walks
            # (a silently wrong gradient after first-order calls over the same loader), and every
            # walk's batches were held for the life of the thread
            if effects.walked:
                effects.walked.clear()
            if effects.walks:
                effects.walks.clear()
            if effects.draws:
                effects.draws.clear()
            if effects.captured:            # (support.note_captured: this run's)
                effects.captured.clear()
            if effects.globals_seen:
                effects.globals_seen.clear()


def _at_user_line(exc: Exception, function):
    """The error to raise for ``exc`` from generated code, located at the user's line; None
    when ``exc`` already names the user's file (raised as it is)."""
    if isinstance(exc, SctError):
        located = _located_sct_error(exc)
        if located is not exc:
            return located
        own = _sct_filename(exc)
        if own:
            from .parse import library_file
            if library_file(own):
                # refused inside a library function compiled for this call (dataclasses.asdict):
                # at the user's line that called it, the message still saying where inside (was:
                # the library's file and line only)
                located = _located(exc, function)
                if located is not exc and _sct_filename(located) and \
                        not library_file(_sct_filename(located)):
                    return located
            return None
    return _located(exc, function)


def _run_generated_catching(function, args):
    """run_generated where the warning hook is not available (replaced by another library)."""
    from .runtime.effects import held
    caught: list = []
    try:
        with held(), warnings.catch_warnings(record=True) as caught:   # effects logged for
            # a warning numpy gave inside a runtime function moved to the generated (or user's) line
            # that called it while the frames are there (was: recorded at the runtime file, which
            # _warn_at_user_lines cannot map: the warning named sct's runtime, not the user's line)
            warnings._showwarnmsg_impl = functools.partial(_record_at_generated_frame, caught.append)
            return function(*args)                                     # recomputations
    except Exception as exc:
        located = _at_user_line(exc, function)
        if located is None:
            raise
        raise located from exc
    finally:
        if caught:
            _warn_at_user_lines(caught)


def _record_at_generated_frame(append, msg) -> None:
    """``catch_warnings(record=True)``'s recording of ``msg`` (``append``), after moving a warning
    given inside sct's runtime to the frame of generated code that called it (_at_generated_frame)."""
    from .parse import LINE_MAPS
    if msg.filename not in LINE_MAPS and _own_file(msg.filename):
        _at_generated_frame(msg)
    append(msg)


def _own_file(filename) -> bool:
    """A file of sct itself (the compiler, the runtime, generated code): not the user's."""
    import os
    if not filename or filename.startswith("<sct-generated"):
        return True
    here = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    path = os.path.abspath(filename)
    return any(path.startswith(os.path.join(here, d) + os.sep) for d in ("sct", "runtime"))


def _in_library(exc: SctError, message: str) -> str:
    """A refusal raised in a library's code (``json.dumps`` compiled because it was given a traced
    value), told at the user's call: the library's line as a detail, and what the user can do."""
    old, line = getattr(exc, "filename", None), getattr(exc, "lineno", None)
    construct = getattr(exc, "construct", None)
    detail = f"{construct} in library code, {old}, line {line}" if construct else \
        f"in library code, {old}, line {line}: {message}"
    if str(old).replace("\\", "/").endswith("numpy/lib/_polynomial_impl.py"):
        # np.poly1d(c) of traced coefficients kept as an object (P = np.poly1d(c); P(x)): corp52 FR2
        detail += ("; np.poly1d of traced coefficients: evaluate it with np.polyval(c, x), or call it where "
                   "it is made, np.poly1d(c)(x)")
    return (f"the call gives a traced value to library code that sct cannot differentiate ({detail}); "
            f"give it plain values instead (extractdata(x), float(extractdata(x)), extractdata(x).tolist(): "
            f"they carry no gradient), or make the call outside the differentiated function")


def _sct_filename(exc):
    """The file sct's error names: its ``sct_location`` where it is also the user's own error (whose
    ``filename`` is the user's: an OSError's, a None), else its ``filename``."""
    location = getattr(exc, "sct_location", None)
    return location[0] if location else getattr(exc, "filename", None)


def _located_sct_error(exc: SctError) -> SctError:
    """An error sct raised while the generated code ran (a helper it could not differentiate,
    a function without rule met at run time), pointed at the user's line that made the call.
    So is a refusal inside a library's code (json.dumps given a traced value: was told at
    json/__init__.py's line, code the user did not write): at the user's call of it."""
    from .errors import CompileError
    from .parse import library_file, source_line, user_location
    in_library = library_file(_sct_filename(exc))
    if not _own_file(_sct_filename(exc)) and not in_library:
        return exc
    where = user_location(exc.__traceback__)
    if where is None or _own_file(where[0]) or library_file(where[0]):
        return exc
    filename, lineno, _ = where
    text = source_line(filename, lineno)
    message = str(exc)
    old = _sct_filename(exc)
    if old and message.startswith(f"{old}, line "):
        message = message.split(": ", 1)[1] if ": " in message else message
    if in_library:
        message = _in_library(exc, message)
    message = f"at `{text}`: {message}"
    if isinstance(exc, CompileError):
        return CompileError(message, filename, lineno, exc.construct)
    return EvaluationError(message, filename, lineno)


_WARNINGS_SHOWN: dict = {}


def _warn_at_user_lines(caught) -> None:
    for w in caught:
        filename, lineno = user_line(w.filename, w.lineno)
        warnings.warn_explicit(w.message, w.category, filename, lineno, registry=_WARNINGS_SHOWN)


_GENERATED_SUFFIX = re.compile(r"(_dlgradient_line\d+.*|_fwd|_bwd|_jvp|_vjp)$")


def _located(exc: Exception, function=None) -> Exception:
    """An error of the user's code, pointed at the user's file and line.

    A message of sct's own (a y that is not a real scalar...) keeps its text; any
    other error is described with the line it happened on.  Neither names
    generated files nor sct's modules.
    """
    from .parse import LINE_MAPS, source_line, user_location
    found = user_location(exc.__traceback__)
    if found is None:               # the call into generated code itself: the function's first line
        code = getattr(function, "__code__", None)
        mapped = LINE_MAPS.get(code.co_filename) if code is not None else None
        lines = [n for n in mapped[1] if n is not None] if mapped else []
        if not lines:
            return exc if isinstance(exc, SctError) else \
                evaluation_error_from(exc, f"{type(exc).__name__}: {_clean(str(exc))}")
        found = (mapped[0], min(lines), code.co_name)
    filename, lineno, generated_name = found
    text = source_line(filename, lineno)
    if isinstance(exc, CompileError):   # a call compiled when first reached: still a CompileError
        error = CompileError(f"{_clean(str(exc))} (at `{text}`)", filename, lineno, exc.construct)
    elif isinstance(exc, SctError):
        error = EvaluationError(f"{_clean(str(exc))} (at `{text}`)", filename, lineno)
    else:
        if isinstance(exc, NameError):      # (a local sct renamed: the user's name)
            from .compiler import RENAMED_LOCALS
            for (where, new), old in list(RENAMED_LOCALS.items()):
                if where == filename:
                    exc = type(exc)(re.sub(rf"'{new}'", f"'{old}'", str(exc)))
        phase = "computing the gradient of" if "dlgradient" in generated_name or \
            generated_name.endswith("_bwd") else "evaluating"
        error = evaluation_error_from(
            exc, f"{type(exc).__name__} while {phase} `{text}`: {_clean(str(exc))}"
                 f"{_unpacking_hint(exc, text)}{_recursion_hint(exc)}{_generator_hint(filename, lineno)}",
            filename, lineno)
    error.function_name = _GENERATED_SUFFIX.sub("", generated_name) or generated_name
    return error


_UNPACKING = re.compile(r"^\s*(?:for\s+)?[\w\s,()\[\]*.]*,[\w\s,()\[\]*.]*(?:=(?!=)|\s+in\s)")


def _unpacking_hint(exc: Exception, text) -> str:
    """What to do where ``a, b = obj`` failed because sct read it by position (``obj[0]``) where it
    could not see obj's class (sct/unpack_objects.py rewrites the ones it can see)."""
    if not (isinstance(exc, TypeError) and "is not subscriptable" in str(exc) and isinstance(text, str) and
            _UNPACKING.match(text)):
        return ""
    return (" (sct reads an unpacking `a, b = obj` by position where it cannot tell obj's class, here an "
            "object it could not follow; Python iterates it: write `a, b = list(obj)`, which sct follows "
            "through the object's __iter__, or read its fields by name)")


def _generator_hint(filename, lineno) -> str:
    """Where the error is in a generator function sct read (runtime/support.py generator_items): sct
    computes all its items when it is called, Python only those its caller asks for, so the item that
    failed may be one Python never computes."""
    try:
        import dis
        from .normalize_generators import _GENERATOR_ITEMS
        for held in list(_GENERATOR_ITEMS.values()):
            code = held[2].__code__
            if code.co_filename == filename and \
                    any(line == lineno for _, line in dis.findlinestarts(code) if line is not None):
                return (f" (in the generator {held[2].__name__}(): sct computes all of a generator's items when "
                        f"it is called, where Python computes only those its caller asks for, so this item may "
                        f"be one Python never computes; make the generator stop where its caller stops, or "
                        f"return a list of the items wanted)")
    except Exception:               # (a hint only)
        pass
    return ""


def _recursion_hint(exc: Exception) -> str:
    """What a RecursionError met while the generated code ran most often is: a value that holds itself
    (a list appended to itself, a field pointing back to a container it sits in), which sct's walks of
    values (gradients' structures, kinds) cannot follow."""
    if not isinstance(exc, RecursionError):
        return ""
    return (" (sct walks the values it differentiates and their gradients' structures: one that holds itself "
            "-- a list or dict inside itself, a field that points back to a container or object it sits in -- "
            "has no end; pass values without the back-reference, or raise sys.setrecursionlimit if the "
            "recursion is your code's own)")


def _clean(message: str) -> str:
    """A message without the names of generated files (``<sct-generated m.f 1a2b>`` -> ``m.f``)."""
    message = re.sub(r"<sct-generated ([^ >]+) [0-9a-f]+>", r"\1", message)
    # Python's own message about a call of a generated function names it as the user wrote it
    # (backward_fwd() takes 4 positional arguments -> backward() ...)
    message = re.sub(r"\b(\w+?)_(?:fwd|bwd|jvp|vjp)\(\) (takes|missing|got)", r"\1() \2", message)
    if re.match(r"backward\(\) (takes|missing)", message):
        message += (" (sct calls a custom layer's backward as MATLAB does: "
                    "backward(self, X, Z, dLdZ, memory), with memory None)")
    return message


# --- short tracebacks -------------------------------------------------------------------------------

_SCT_DIRS = tuple(os.path.dirname(os.path.abspath(m.__file__)) + os.sep for m in (sys.modules["sct"],
                                                                                   sys.modules["sct.runtime"]))


def _internal(filename: str) -> bool:
    return filename.startswith("<sct-generated") or filename.startswith(_SCT_DIRS) or \
        filename.startswith("<frozen ") or filename.endswith(os.sep + "functools.py")


def _frame_at(error: BaseException, filename: str, lineno: int, name: str):
    """A traceback entry that reads as the user's line ``filename:lineno`` in ``name``
    (tracebacks, IPython's included, show that line of the file or cell)."""
    import linecache
    text = linecache.getline(filename, lineno).rstrip()
    indent = len(text) - len(text.lstrip())
    statement = "raise (__sct_error__)"         # as wide as the user's line: no ^^^ under it
    if len(text) - indent > len(statement):
        statement = "raise (__sct_error__" + " " * (len(text) - indent - len(statement)) + ")"
    try:
        code = compile("\n" * (max(lineno, 1) - 1) + statement, filename, "exec")
        fields = {"co_name": name}
        if hasattr(code, "co_qualname"):
            fields["co_qualname"] = name
        code = code.replace(**fields)
        exec(code, {"__sct_error__": error, "__name__": "__sct_user_line__"})
    except BaseException as raised:
        if raised is error and raised.__traceback__ is not None:
            return raised.__traceback__.tb_next
    return None


def user_error(error: BaseException, fun=None) -> BaseException:
    """``error`` with a traceback for users, raised from the public function's frame.

    sct's own frames and the generated code's are left out (as JAX leaves out its
    internals): what remains is the user's frames, the one public sct function
    they called, and the user's line the error is about.  The whole original
    traceback stays in ``error.sct_traceback`` (and the original error in
    ``__cause__``, without its traceback); ``SCT_TRACEBACK=full`` in the
    environment keeps everything as it was, for bug reports.
    """
    if os.environ.get("SCT_TRACEBACK", "").lower() in ("full", "1", "on", "yes"):
        return error
    full = error.__traceback__
    if getattr(error, "sct_traceback", None) is None:
        error.sct_traceback = full
        cause = error.__cause__
        if cause is not None and cause.__traceback__ is not None:
            error.sct_cause_traceback = cause.__traceback__
            cause.with_traceback(None)
    filename, lineno = getattr(error, "sct_location", None) or \
        (getattr(error, "filename", None), getattr(error, "lineno", None))     # (sct's, not an OSError's)
    kept = []
    tb = full.tb_next if full is not None else None     # the catching frame is added when raised
    while tb is not None:
        code = tb.tb_frame.f_code
        # the user's frames, and the synthetic user line of an inner call
        if not _internal(code.co_filename) and code.co_name != "__sct_user_line__" or \
                code.co_filename == filename and tb.tb_lineno == lineno:
            kept.append(tb)
        tb = tb.tb_next
    if filename and lineno and isinstance(filename, str) and not any(
            t.tb_frame.f_code.co_filename == filename and t.tb_lineno == lineno for t in kept):
        name = getattr(error, "function_name", None)
        if name is None:
            code = getattr(fun, "__code__", None)
            name = code.co_name if code is not None and code.co_filename == filename else "<module>"
        line = _frame_at(error, filename, lineno, name)
        if line is not None:
            kept.append(line)
    head = None
    for tb in reversed(kept):
        head = types.TracebackType(head, tb.tb_frame, tb.tb_lasti, tb.tb_lineno)
    return error.with_traceback(head)


_STYLES = {"keyword": "color: #008000; font-weight: bold", "builtin": "color: #008000",
           "comment": "color: #3d7b7b; font-style: italic", "string": "color: #ba2121",
           "number": "color: #666666", "def": "color: #0000ff"}


def highlight_html(text: str) -> str:
    """Python source as an HTML block with keywords, comments, strings and numbers coloured,
    by the standard library's tokenizer (used when pygments is not installed).  The styles
    are inline, so the colours survive a notebook's export to HTML.

    >>> print(highlight_html("x = 1  # one"))     # doctest: +NORMALIZE_WHITESPACE
    <div class="sct-source" style="background: #f8f8f8; padding: 0.4em"><pre style="font-family: monospace; line-height: 125%; margin: 0">x = <span style="color: #666666">1</span>  <span style="color: #3d7b7b; font-style: italic"># one</span></pre></div>
    """
    import builtins as _builtins
    import html
    import io
    import keyword
    import token
    import tokenize

    lines = text.splitlines(keepends=True)
    offsets = [0]
    for line in lines:
        offsets.append(offsets[-1] + len(line))
    out, pos, after_def, prev = [], 0, False, ""
    try:
        for tok in tokenize.generate_tokens(io.StringIO(text).readline):
            if tok.type == token.ENDMARKER or tok.start[0] > len(lines):
                break
            start = offsets[tok.start[0] - 1] + tok.start[1]
            end = offsets[tok.end[0] - 1] + tok.end[1] if tok.end[0] <= len(lines) else len(text)
            style = None
            if tok.type == token.COMMENT:
                style = "comment"
            elif tok.type == token.STRING:
                style = "string"
            elif tok.type == token.NUMBER:
                style = "number"
            elif tok.type == token.NAME:
                if after_def:
                    style = "def"
                elif keyword.iskeyword(tok.string):
                    style = "keyword"
                elif hasattr(_builtins, tok.string) and not tok.string.startswith("_") and prev != ".":
                    style = "builtin"
            after_def = tok.type == token.NAME and tok.string in ("def", "class")
            prev = tok.string
            if style is None or start < pos:
                continue
            out.append(html.escape(text[pos:start]))
            out.append(f'<span style="{_STYLES[style]}">{html.escape(text[start:end])}</span>')
            pos = end
    except (tokenize.TokenError, IndentationError, SyntaxError):
        pass                            # the rest stays plain text
    out.append(html.escape(text[pos:]))
    return ('<div class="sct-source" style="background: #f8f8f8; padding: 0.4em">'
            '<pre style="font-family: monospace; line-height: 125%; margin: 0">' + "".join(out) +
            "</pre></div>")


class GeneratedSource(str):
    """Generated code: prints as text, shows highlighted in a notebook."""

    def _repr_html_(self) -> str:
        try:
            from pygments import highlight
            from pygments.formatters import HtmlFormatter
            from pygments.lexers import PythonLexer
        except ImportError:
            return highlight_html(str(self))
        return highlight(str(self), PythonLexer(), HtmlFormatter(noclasses=True))

    def __repr__(self) -> str:
        return str(self)


def source(fun: Callable, *args: Any, callees: bool = False, run: bool = False) -> GeneratedSource:
    """The generated forward and adjoint source of ``fun`` for arguments like ``args``.

    With ``callees=True`` the generated code of every function it calls (helpers, methods,
    constructors, callable objects, and what they call in turn, at every level) follows, each
    under a header naming it: the code made for those calls when ``fun`` was compiled.
    A call whose callee or argument kinds are known only at run time (a function chosen from
    data, a helper given a value computed in ``fun``) is listed by name and line: its code is
    compiled on its first call, and shown (with what it calls in turn, at every level) once a run
    has made it.  ``fun`` is not run, unless ``run=True``: then, where such a call has not been made
    yet, the code shown is run once on ``args`` (as ``dlfeval(fun, *args)`` runs it, side effects
    included) so that every level's code is made and shown (a failing run leaves them listed).

    >>> print(sct.source(rosenbrock, dlarray([-1.0, 2.0])))   # doctest: +SKIP
    def rosenbrock(x):
        # line 2: y = 100*(x[1] - x[0]**2)**2 + (1 - x[0])**2
        ...
    """
    try:
        # what dlfeval(fun, *args) runs: a bound method, partial, callable object or accelerated
        # function as its function and arguments (was: an internal AttributeError '__code__' for
        # all but the method, whose object was taken for its first argument)
        fun, args, kwargs = as_function(fun, args, {})
        if kwargs:
            fun, args = _positional_call(fun, args, kwargs)
        compiled = _entry(fun, args)
    except SctError as error:
        raise user_error(error, fun)
    if not callees:
        return GeneratedSource(compiled.source)
    if run and _calls_not_made(compiled, set()):
        try:                 # the code shown, run: the calls left to run time compiled (every level)
            run_compiled(compiled, args)
        except Exception:                # (listed only, as before)
            pass
    parts: list = []
    shown: set = set()

    def show(code, header: Optional[str]) -> None:
        shown.add(code.filename)
        parts.append(code.source if header is None else header + "\n" + code.source)
        parts.extend(describe(code.calls, code.filename.strip("<>").split(" ")[1]))
        for record in code.calls:
            if record.compiled is not None and record.compiled.filename not in shown:
                called = f" (called as {', '.join(record.names)})" if record.names else ""
                show(record.compiled, "# ---- generated for a call made from it: "
                     f"{record.compiled.filename.strip('<>')}{called} ----")
            if record.site is not None:   # left to run time, or other kinds than foreseen: what runs made
                for e in record.site.entries:
                    made = getattr(getattr(e.first, "__code__", None), "co_filename", "")
                    if made in shown or not made.startswith("<sct-generated "):
                        continue
                    header = (f"# ---- generated on a first call of {record.label}() (line "
                              f"{record.line}): {made.strip('<>')} ----")
                    found = _compiled_named(made)
                    if found is not None:           # with what it calls in turn
                        show(found, header)
                        continue
                    lines = linecache.getlines(made)
                    if lines:
                        shown.add(made)
                        parts.append(header + "\n" + "".join(lines))

    show(compiled, None)
    if not run and _calls_not_made(compiled, set()):
        parts.append("# ---- calls compiled on their first call, not made yet, are listed only: "
                     "sct.source(fun, *args, callees=True, run=True) runs fun once to show their code ----")
    return GeneratedSource("\n".join(parts))


def _calls_not_made(code, seen: set) -> bool:
    """Does ``code`` (or code it calls, at any level) make a call left to run time that has not been
    made yet (its site holds no entry)?"""
    if code.filename in seen:
        return False
    seen.add(code.filename)
    for record in code.calls:
        if record.compiled is not None:
            if _calls_not_made(record.compiled, seen):
                return True
        elif record.site is None or not record.site.entries:
            return True
        if record.site is not None:
            for e in record.site.entries:
                made = getattr(getattr(e.first, "__code__", None), "co_filename", "")
                found = _compiled_named(made)
                if found is not None and _calls_not_made(found, seen):
                    return True
    return False


def _compiled_named(filename: str):
    """The compiled code (sct.cache's entries and helpers) whose generated file is ``filename``."""
    from .cache import HELPERS
    for cache in (HELPERS, _ENTRIES):
        for c in cache.entries():
            if getattr(c, "filename", None) == filename:
                return c
    return None


def clear_cache() -> None:
    """Forget every compiled function (they are compiled again on next use).

    >>> def f(x):
    ...     y = np.sum(x ** 2)
    ...     return y, dlgradient(y, x)
    ...
    >>> y, g = dlfeval(f, dlarray([3.0]))
    >>> clear_cache()
    >>> y, g = dlfeval(f, dlarray([3.0]))
    >>> g.data.tolist()
    [6.0]
    """
    from . import cache
    cache.clear()
