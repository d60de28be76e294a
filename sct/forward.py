"""Jacobian-vector products (forward-mode derivatives), generated as source.

``jvp(fun, primals, tangents)`` returns ``fun(*primals)`` and ``J @ tangents``.
It is computed by transposing the generated reverse code: with ``g(u) = J^T u``
(a vector-Jacobian product, linear in ``u``), ``J v`` is the gradient of
``<g(u), v>`` with respect to ``u``.  Both steps are sct's own generated code,
so a JVP costs about two reverse sweeps, works through everything reverse
mode does (loops, helpers, methods, complex holomorphic code), and its source
can be printed with :func:`jvp_source`.  :func:`hvp` gives Hessian-vector
products by differentiating a generated gradient once more.
"""
from __future__ import annotations

import builtins
import dataclasses
import numbers
import os
import types

from typing import Any, Callable, Tuple

import numpy as np
from numpy.typing import ArrayLike

from .runtime import effects as _effects, registry as _registry
from .runtime.dlarray import dlarray, extractdata, unwrap as _unwrap
from .runtime.support import ZERO as _ZERO, project as _project, seed as _seed

from .api import dlgradient, dlfeval, recursion_refusal, run_generated, source, user_error
from . import hooks as _hooks
from .plain_leaves import context_key
from .callables import as_function
from .errors import CompileError, EvaluationError, SctError


def _jvp_kernel_1(fun, before, after, x, v, u):
    y = fun(*before, x, *after)
    g = dlgradient(np.sum(np.real(np.conj(u) * y)), x)
    s = np.sum(np.real(np.conj(g) * v))
    return y, dlgradient(s, u)


def _jvp_kernel_2(fun, before, after, x1, x2, v1, v2, u):
    y = fun(*before, x1, x2, *after)
    g1, g2 = dlgradient(np.sum(np.real(np.conj(u) * y)), x1, x2)
    s = np.sum(np.real(np.conj(g1) * v1)) + np.sum(np.real(np.conj(g2) * v2))
    return y, dlgradient(s, u)


def _jvp_kernel_3(fun, before, after, x1, x2, x3, v1, v2, v3, u):
    y = fun(*before, x1, x2, x3, *after)
    g1, g2, g3 = dlgradient(np.sum(np.real(np.conj(u) * y)), x1, x2, x3)
    s = np.sum(np.real(np.conj(g1) * v1)) + np.sum(np.real(np.conj(g2) * v2)) + \
        np.sum(np.real(np.conj(g3) * v3))
    return y, dlgradient(s, u)


_KERNELS = {1: _jvp_kernel_1, 2: _jvp_kernel_2, 3: _jvp_kernel_3}


def _concatenated(outputs):
    """A function's tuple (or list) of array outputs as one vector: what the kernels below
    differentiate, split back by :func:`_split_outputs`."""
    return np.concatenate([np.ravel(y) for y in outputs])


def _jvp_kernel_many_1(fun, before, after, x, v, u):
    y = _concatenated(fun(*before, x, *after))
    g = dlgradient(np.sum(np.real(np.conj(u) * y)), x)
    s = np.sum(np.real(np.conj(g) * v))
    return y, dlgradient(s, u)


def _jvp_kernel_many_2(fun, before, after, x1, x2, v1, v2, u):
    y = _concatenated(fun(*before, x1, x2, *after))
    g1, g2 = dlgradient(np.sum(np.real(np.conj(u) * y)), x1, x2)
    s = np.sum(np.real(np.conj(g1) * v1)) + np.sum(np.real(np.conj(g2) * v2))
    return y, dlgradient(s, u)


def _jvp_kernel_many_3(fun, before, after, x1, x2, x3, v1, v2, v3, u):
    y = _concatenated(fun(*before, x1, x2, x3, *after))
    g1, g2, g3 = dlgradient(np.sum(np.real(np.conj(u) * y)), x1, x2, x3)
    s = np.sum(np.real(np.conj(g1) * v1)) + np.sum(np.real(np.conj(g2) * v2)) + \
        np.sum(np.real(np.conj(g3) * v3))
    return y, dlgradient(s, u)


# a function returning a tuple or list of arrays: its outputs as one vector, split afterwards
_MANY_KERNELS = {1: _jvp_kernel_many_1, 2: _jvp_kernel_many_2, 3: _jvp_kernel_many_3}


def _output_layout(y):
    """``(type, [(shape, dtype), ...])`` of a tuple or list of arrays / numbers a function
    returned (None for one array); refused for nested or non-numeric outputs."""
    if isinstance(y, dict) or dataclasses.is_dataclass(y):
        # (was: a TypeError in the kernel, naming sct's own line)
        raise SctError(f"jvp(mode='transpose'): the function returns a {type(y).__name__}; return arrays (an "
                       "array, or a tuple or list of arrays), or differentiate each output by a function of its own")
    if not isinstance(y, (tuple, list)):
        return None
    parts = []
    for item in y:
        data = extractdata(item) if not isinstance(item, (tuple, list, dict)) else None
        array = np.asarray(data) if data is not None else None
        if array is None or array.dtype.kind not in "biufc":
            raise SctError(f"jvp(mode='transpose'): the function returns a {type(y).__name__} holding a "
                           f"{type(item).__name__}; return arrays (a tuple or list of arrays), or "
                           "differentiate each output by a function of its own")
        parts.append((array.shape, array.dtype))
    if not parts:
        raise SctError("jvp(mode='transpose'): the function returns an empty tuple")
    return type(y), parts


def _split_outputs(flat, layout, tangent: bool):
    """The vector of :func:`_concatenated` as the function's outputs again (each its shape; a
    value in its own dtype, a tangent real where its output is real)."""
    kind, parts = layout[:2]
    data = np.asarray(extractdata(flat))
    pieces, start = [], 0
    for shape, dtype in parts:
        size = int(np.prod(shape, dtype=np.int64))
        piece = np.reshape(data[start:start + size], shape)
        start += size
        if not tangent:
            piece = piece.astype(dtype) if dtype.kind in "fc" else piece.astype(np.result_type(dtype, np.float64))
        elif dtype.kind == "c":
            piece = piece.astype(dtype)         # its output's dtype, as forward mode gives it (was: the
            #                                     vector's, complex128 beside a float64 output)
        else:                                   # real: float32 stays float32; integer and bool outputs
            piece = np.real(piece).astype(dtype if dtype.kind == "f" else np.float64)    # float64
        pieces.append(dlarray(piece))
    if kind is list:
        return pieces
    if issubclass(kind, tuple) and hasattr(kind, "_fields"):
        return kind(*pieces)        # a namedtuple as the function returned it (was: a plain tuple)
    return tuple(pieces)


def _reduced(fun, primals):
    """``fun`` as a plain function and what surrounds the primals in its positional arguments.

    A lambda, bound/static/class method, ``functools.partial`` or callable object is
    reduced as ``dlfeval`` does (:func:`sct.callables.as_function`): a bound method's
    instance or a partial's frozen arguments come before the primals (its frozen
    keywords after them) and are constants to the derivative.
    """
    function, args, kwargs = as_function(fun, primals, {})
    before = tuple(args[:len(args) - len(primals)])
    after = ()
    if not kwargs and isinstance(function, types.FunctionType) and not function.__defaults__ and \
            not function.__code__.co_kwonlyargcount:
        return function, before, after      # no keywords, no defaults: nothing goes after
    import inspect
    parameters = inspect.signature(function).parameters.values()
    if kwargs or any(p.default is not p.empty for p in parameters):
        # a partial's keywords and the defaults: to their positions after the primals
        try:
            bound = inspect.signature(function).bind(*args, **kwargs)
        except TypeError as exc:
            raise SctError(f"jvp: the arguments do not match {function.__qualname__}: {exc}") from None
        bound.apply_defaults()
        if bound.kwargs:            # keyword-only ones: rt.positional(function) takes them after the others
            if not isinstance(function, types.FunctionType) or function.__code__.co_flags & 0x0C:
                raise SctError("jvp: keyword-only arguments cannot be passed yet to a function with *args "
                               "or **kwargs; make them ordinary parameters")
            from .runtime.support import positional
            function = positional(function)
            return function, before, tuple(bound.args[len(args):]) + tuple(bound.kwargs.values())
        after = tuple(bound.args[len(args):])
    return function, before, after


def _apart(v: np.ndarray, xs) -> np.ndarray:
    """A tangent that shares memory with a primal's data (``jvp(f, a, a)``), copied: the kernels read
    tangents only, and dlfeval refuses a dlarray sharing memory with a plain array argument of a
    function that may write into its arguments (sct.api._refuse_shared_memory)."""
    if any(isinstance(getattr(x, "_data", None), np.ndarray) and np.may_share_memory(v, x._data) for x in xs):
        return v.copy()
    return v


def _tangent_as(t, dtype, what: str = "jvp: a tangent") -> np.ndarray:
    """The tangent (or direction) ``t`` as an array of its primal's ``dtype``; a complex one with a
    nonzero imaginary part for a real primal is refused (numpy's cast would drop that part)."""
    t = np.asarray(extractdata(t))
    if t.dtype.kind == "c" and np.dtype(dtype).kind != "c":
        if np.any(t.imag != 0):
            raise SctError(f"{what} is complex but its primal is real ({np.dtype(dtype).name}): its "
                           "imaginary part would be dropped; pass a complex primal "
                           "(x.astype(complex)) to differentiate along complex directions")
        t = t.real
    return np.asarray(t, dtype=dtype)


def _integer_primals(primals, tangents) -> list:
    """Which primals are integers (a loop count, an index): constants, whose tangent must be 0."""
    for p in primals:
        if isinstance(p, (dict, list, tuple, set, str)) or p is None:
            raise SctError(f"jvp: a primal is a {type(p).__name__}; primals are arrays or numbers "
                           "(differentiate a function of the arrays inside it, e.g. "
                           "jvp(lambda w: f({'w': w}), w, v), or use dlgradient)")
        if not isinstance(p, (numbers.Number, np.number, np.bool_, np.ndarray, dlarray)):
            # a dataclass or another object (was: a TypeError inside the runtime's dlarray, red team 53h C1)
            what = "a dataclass" if dataclasses.is_dataclass(p) else "an object"
            raise SctError(f"jvp: a primal is {what} of class {type(p).__name__}; primals are arrays or "
                           "numbers (differentiate a function of the arrays inside it, e.g. "
                           f"jvp(lambda W, b: f({type(p).__name__}(W, b)), (W, b), (vW, vb)), or use dlgradient)")
    fixed = [isinstance(p, (int, np.integer)) or
             (isinstance(p, np.ndarray) and p.dtype.kind in "biu") for p in primals]  # int arrays: indices
    for p, t, is_int in zip(primals, tangents, fixed):
        if is_int and t is not None and np.any(np.asarray(extractdata(t)) != 0):
            raise SctError(f"jvp: the integer primal {p!r} cannot have a nonzero tangent")
    return fixed


def _arguments(fun, primals, tangents) -> Tuple[Callable, list]:
    primals = tuple(primals) if isinstance(primals, (tuple, list)) else (primals,)
    tangents = tuple(tangents) if isinstance(tangents, (tuple, list)) else (tangents,)
    if len(primals) != len(tangents):
        raise SctError(f"jvp: {len(primals)} primals but {len(tangents)} tangents")
    fixed = {i: p for i, (p, is_int) in enumerate(zip(primals, _integer_primals(primals, tangents)))
             if is_int}
    if fixed and min(fixed) < max(i for i in range(len(primals)) if i not in fixed):
        raise SctError("jvp(mode='transpose'): integer primals must come after the arrays; "
                       "wrap the function, e.g. jvp(lambda x: f(3, x), x, v)")
    if fixed:                       # integers are constants: bound by name, no tangent
        import functools
        import inspect
        names = list(inspect.signature(fun).parameters)
        fun = functools.partial(fun, **{names[i]: p for i, p in fixed.items()})
        primals = tuple(p for i, p in enumerate(primals) if i not in fixed)
        tangents = tuple(t for i, t in enumerate(tangents) if i not in fixed)
    if len(primals) not in _KERNELS:
        raise SctError("jvp: functions of 1 to 3 array arguments are supported; pack more into one array")
    labelled = [_format_text(p) for p in primals if _labelled(p)]
    if labelled:        # (the kernel would pass them to fun as a value, where their labels are not followed)
        raise SctError(f"jvp(mode='transpose'): a primal is a formatted dlarray ({labelled[0]!r}), whose labels "
                       "are followed in forward mode (the default) only; use it, or pass stripdims(x) and give "
                       "the deep-learning calls in fun DataFormat=...")
    xs = [dlarray(p) for p in primals]
    vs = [_apart(_tangent_as(t, xs[i].dtype), xs) for i, t in enumerate(tangents)]
    for x, v in zip(xs, vs):
        if x.shape != v.shape:
            raise SctError(f"jvp: a tangent of shape {v.shape} for a primal of shape {x.shape}")
    function, before, after = _reduced(fun, xs)
    out = dlfeval(function, *before, *xs, *after)          # the output's shape and type
    layout = _output_layout(out)
    if layout is not None:                  # a tuple of outputs: one vector, split afterwards
        # (the values are this run's outputs as dlfeval gives them: an int or bool output stays what
        # Python computed, not the float it is in the vector; red team H, dec 25)
        layout = layout + (out,)
        y = np.zeros(builtins.sum(int(np.prod(shape, dtype=np.int64)) for shape, _ in layout[1]),
                     dtype=np.result_type(*[dtype for _, dtype in layout[1]]))
    else:
        y = np.asarray(extractdata(out))
    # the cotangent, hence the tangent dlgradient gives back, in the output's dtype: float32 stays
    # float32 and complex64 complex64, as forward mode gives them (was: result_type(y, float64) for a
    # complex y, a complex128 tangent of a complex64 output); integer and bool outputs: float64
    # Its value: fixed weights that differ from entry to entry, not zeros.  J v, the gradient of
    # <J^T u, v> in u, is the same for any u (J^T u is linear in u), but the rules of the inner sweep
    # check their cotangent where a derivative exists for some cotangents only: np.linalg.eigh's,
    # svd's and eig's that the loss is independent of the complex vectors' phases, which a zero u
    # always passed (was: jvp of a function returning complex eigenvectors gave a tangent in
    # another phase convention than numpy's, silently; runtime/numpy_ops.py phase_invariant)
    dtype = y.dtype if y.dtype.kind in "fc" else np.float64
    angles = np.arange(y.size, dtype=np.float64).reshape(y.shape) * 0.7548776662466927 + 0.25
    weights = np.cos(angles) + 1.5
    if np.dtype(dtype).kind == "c":
        weights = weights + 1j * (np.sin(angles) + 1.5)
    u = dlarray(weights.astype(dtype))
    kernels = _KERNELS if layout is None else _MANY_KERNELS
    return kernels[len(xs)], [function, before, after] + xs + vs + [u], layout


def jvp(fun: Callable, primals: Any, tangents: Any, mode: str = "forward") -> Tuple[Any, Any]:
    """``(fun(*primals), J @ tangents)``: the Jacobian-vector product of ``fun``.

    ``primals`` and ``tangents`` are arrays or tuples of arrays.  ``mode="forward"``
    (the default) runs generated forward-mode code: every value's tangent is
    computed beside it.  ``mode="transpose"`` transposes generated reverse code
    instead; forward mode falls back to it for what it cannot follow yet.

    >>> y, jv = jvp(f, np.array([0.0, 1.0]), np.array([1.0, 1.0]))   # doctest: +SKIP
    """
    try:
        return _jvp(fun, primals, tangents, mode)
    except SctError as error:
        raise user_error(_at_function(error, fun), fun)
    except RecursionError as error:
        raise user_error(recursion_refusal(fun, (primals,)), fun) from error


def _at_function(error: SctError, fun: Callable) -> SctError:
    """A refusal located at a line of this file (the dlgradient of a transpose-mode kernel, where a NaN
    gradient of a finite value is refused) told at ``fun``'s def instead: the user's file, not sct's
    (was: "sct/forward.py, line 35: the gradient of this dlgradient ... is NaN")."""
    filename, lineno = getattr(error, "filename", None), getattr(error, "lineno", None)
    if not filename or os.path.abspath(filename) != os.path.abspath(__file__):
        return error
    code = getattr(getattr(fun, "__func__", fun), "__code__", None)
    if code is None:
        return error
    message = str(error)
    prefix = f"{filename}, line {lineno}: "
    message = f"in jvp of {code.co_name}(): " + (message[len(prefix):] if message.startswith(prefix) else message)
    if isinstance(error, CompileError):
        located = CompileError(message, code.co_filename, code.co_firstlineno, error.construct)
    else:
        located = EvaluationError(message, code.co_filename, code.co_firstlineno)
    located.__cause__ = error.__cause__
    return located


def _jvp(fun: Callable, primals: Any, tangents: Any, mode: str = "forward"):
    from .runtime import effects
    tangents = _none_as_zero(primals, tangents)
    with effects.held():           # fun's effects (draws, prints) happen once in all
        start = effects.effect_position()
        if mode == "forward":
            try:
                compiled, values, dots = _forward(fun, primals, tangents)
                values, dots = _with_defaults(fun, compiled, values, dots)
                pair = _wrap_pair(_checked_tangent(run_generated, compiled.entry, tuple(values) + tuple(dots)))
                if compiled.formats is not None:       # the outputs' labels, the tangent's as its value's
                    from .runtime.formats import apply_formats
                    pair = tuple(apply_formats(out, compiled.formats) for out in pair)
                return pair
            except CompileError:       # something forward mode cannot follow yet (a helper built
                # from traced values, say): transpose reverse code instead (not for formatted primals,
                # whose labels only forward mode follows: its refusal names the line)
                prims = primals if isinstance(primals, (tuple, list)) else (primals,)
                if any(_labelled(p) for p in prims):
                    raise
        # what ran already is replayed; where forward mode ran nothing (it refused to compile), the run
        # for the output's shape is fun's first: its draws are drawn, not replayed from an empty log
        # (red team B, dec 23: jvp(lambda *a: f(*a), ...) of an f drawing np.random.randn was
        # refused, with no line, as a recomputation drawing other numbers)
        replaying = effects.effect_position() != start
        if replaying:
            effects.replay_from(start)
        try:
            kernel, args, layout = _arguments(fun, primals, tangents)
            if replaying:
                effects.replay_end()
            replaying = True
            effects.replay_from(start)
            y, jv = dlfeval(kernel, *args)
        finally:
            if replaying:
                effects.replay_end()
    # a tangent NaN where the value is finite is refused as forward mode refuses it (was: returned, the
    # NaN of the kernel's J^T u at a rule's infinite factor times u = 0: jvp of np.sum(np.sqrt(x)) at
    # x = [0, 4] along [0, 1], NaN for 0.25, where forward mode refused)
    _refuse_nan_tangent_of_finite_value((y, jv))
    if layout is not None:
        return layout[2], _split_outputs(jv, layout, True)
    return y, jv


def jvp_source(fun: Callable, primals: Any, tangents: Any, mode: str = "forward") -> str:
    """The generated code that :func:`jvp` runs for these arguments.

    >>> def f(x):
    ...     return np.sin(x) * x
    ...
    >>> text = jvp_source(f, np.array([1.0]), np.array([1.0]))
    >>> "def " in text
    True
    """
    try:
        return _jvp_source(fun, primals, tangents, mode)
    except SctError as error:
        raise user_error(error, fun)


def _jvp_source(fun: Callable, primals: Any, tangents: Any, mode: str = "forward"):
    from .api import GeneratedSource
    if mode == "forward":
        try:
            return GeneratedSource(_forward(fun, primals, tangents)[0].source)
        except CompileError:
            pass
    kernel, args, _ = _arguments(fun, primals, tangents)
    return source(kernel, *args)


def _forward(fun, primals, tangents):
    from .runtime import registry
    from .cache import HELPERS, function_key
    from .compiler import compile_function
    from .kinds import kind_of
    primals = tuple(primals) if isinstance(primals, (tuple, list)) else (primals,)
    tangents = tuple(tangents) if isinstance(tangents, (tuple, list)) else (tangents,)
    if len(primals) != len(tangents):
        raise SctError(f"jvp: {len(primals)} primals but {len(tangents)} tangents")
    # integers (a loop count, an index) are constants: no tangent, no conversion to floats
    fixed = _integer_primals(primals, tangents)
    values = [p if is_int else extractdata(dlarray(p)) for p, is_int in zip(primals, fixed)]
    dots = [None if is_int else _tangent_as(t, v.dtype)
            for v, t, is_int in zip(values, tangents, fixed)]
    for v, d in zip(values, dots):
        if d is not None and v.shape != d.shape:
            raise SctError(f"jvp: a tangent of shape {d.shape} for a primal of shape {v.shape}")
    function, before, after = _reduced(fun, values)
    from .runtime.dlarray import unwrap
    before, after = unwrap(before), unwrap(after)
    # a formatted primal's labels are part of its kind, as dlfeval's arguments' (softmax(X) of a "CB" X is
    # over C; was: the plain data, read in sct's default layout: another value and tangent)
    own = tuple(kind_of(v) if is_int else kind_of(dlarray(p)) if _labelled(p) else kind_of(v, traced=True)
                for p, v, is_int in zip(primals, values, fixed))
    if not before and not after and not any(fixed):
        kinds = own
        mask = None
    else:                           # the instance / frozen arguments, integers: constants, no tangents
        kinds = tuple(kind_of(a) for a in before) + own + tuple(kind_of(a) for a in after)
        mask = (False,) * len(before) + tuple(not f for f in fixed) + (False,) * len(after)
    key = ("jvp-entry",) + function_key(function) + (kinds, mask, registry.rules_version(), context_key())
    compiled = HELPERS.lookup(key, function)
    if compiled is None:
        compiled = compile_function(function, kinds, mode="jvp", active_mask=mask)
        HELPERS.insert(key, compiled)
    if mask is not None:
        values = list(before) + list(values) + list(after)
        dots = [None] * len(before) + list(dots) + [None] * len(after)
    return compiled, values, dots


def _none_as_zero(primals, tangents):
    """``tangents`` with a None (no direction for that primal: autograd's and PyTorch's zeros) made zeros shaped as
    its primal (was read as NaN: refused as a NaN tangent, red58b R1)."""
    if tangents is None and not isinstance(primals, (tuple, list)):
        tangents, primals, one = (None,), (primals,), True
    else:
        one = False
    if not isinstance(tangents, (tuple, list)) or not any(t is None for t in tangents) or \
            not isinstance(primals, (tuple, list)) or len(primals) != len(tangents):
        return tangents
    out = tuple(t if t is not None else
                np.zeros(np.shape(extractdata(p) if isinstance(p, dlarray) else p)) if
                isinstance(p, (np.ndarray, dlarray)) else 0.0 for p, t in zip(primals, tangents))
    return out[0] if one else out


def _format_text(p) -> str:
    return p._fmt if isinstance(p._fmt, str) and p._fmt else "labels an operation dropped"


def _labelled(p) -> bool:
    """Is ``p`` a dlarray with labels (a format, or labels an operation dropped)?"""
    from .runtime.labels import LostLabels
    return isinstance(p, dlarray) and (bool(p._fmt) or p._fmt.__class__ is LostLabels)


def _with_defaults(fun, compiled, values, dots):
    """The generated code takes every parameter and then a tangent for each: parameters not
    given get their defaults (and zero tangents)."""
    from .runtime.support import ZERO
    params = compiled.entry.__code__.co_argcount // 2
    if len(values) >= params:
        return list(values), list(dots)
    defaults = getattr(fun, "__defaults__", None) or ()
    values, dots = list(values), list(dots)
    for i in range(len(values), params):
        j = i - (params - len(defaults))
        if j < 0:
            raise SctError(f"jvp: {getattr(fun, '__qualname__', fun)} needs more arguments than "
                           f"the {len(values)} primals given")
        values.append(defaults[j])
    return values, dots + [ZERO] * (params - len(dots))


def _checked_tangent(run, entry, args):
    """``run(entry, args)``: the value and the tangent, the tangent refused where it is NaN through
    entries a rule left out that are NaN or infinite (np.where's unselected branch, np.nanmax's NaN
    entries: their zero weight times their NaN tangent), as reverse mode's gradient is
    (support.project): jvp of np.nanmax(x * data) with NaN in data was NaN for 0.1."""
    from .runtime import support
    support._UNSELECTED.sites.clear()
    support._UNSELECTED.ops.clear()
    pair = run(entry, args)
    if support._UNSELECTED.sites:
        for leaf in _array_leaves(pair[1]):
            support._refuse_nan_through_unselected(leaf)
        support._UNSELECTED.sites.clear()
        support._UNSELECTED.ops.clear()
    _refuse_nan_tangent_of_finite_value(pair)
    return pair[0], _tangents_as_values(pair[0], pair[1])


def _tangents_as_values(value, tangent):
    """``tangent`` with each real float leaf in its value's dtype (a Python float's: float64): the
    tangent of ``math.sin(x0) + np.sum(x32)`` (a float32 value) was float64, math's partials being
    computed in float64."""
    if isinstance(value, (list, tuple)) and isinstance(tangent, (list, tuple)) and len(value) == len(tangent) \
            and type(tangent) in (list, tuple):
        return type(tangent)(_tangents_as_values(v, t) for v, t in zip(value, tangent))
    if isinstance(value, dict) and type(tangent) is dict and value.keys() == tangent.keys():
        return {k: _tangents_as_values(value[k], t) for k, t in tangent.items()}
    target = np.dtype(np.float64) if type(value) is float else getattr(value, "dtype", None)
    dtype = getattr(tangent, "dtype", None)
    if target is None or dtype is None or target.kind != "f" or dtype.kind != "f" or dtype == target or \
            type(tangent) not in (np.ndarray,) and not isinstance(tangent, np.floating):
        return tangent
    return tangent.astype(target)


def _refuse_nan_tangent_of_finite_value(pair):
    """A tangent NaN at an entry where the value is finite: the program's derivative of a finite value
    is not NaN there (a rule's factor not finite times a zero tangent: ``x * np.sqrt(x)`` at 0,
    ``np.sqrt(x) * 0.0``), as reverse mode's gradient of a finite y is refused (support.project)."""
    # (a Python number's too: `math.sqrt(abs(x))` at 0 returns a float, whose NaN tangent was returned
    # because the value was not counted among the leaves)
    values, tangents = list(_array_leaves(pair[0], True)), list(_array_leaves(pair[1], True))
    if len(values) != len(tangents):
        return
    for value, tangent in zip(values, tangents):
        try:
            t = np.asarray(getattr(tangent, "_data", tangent))
            v = np.asarray(getattr(value, "_data", value))
            if t.dtype.kind not in "fc" or t.shape != v.shape or not np.isnan(t).any():
                continue
            if not (np.isnan(t) & np.isfinite(v)).any():
                continue
        except (TypeError, ValueError):
            continue
        from .runtime.support import _refuse_nan_of_finite_y
        _refuse_nan_of_finite_y(np.array([np.nan]))


def _array_leaves(tree, numbers=False):
    """The arrays of a result nested in lists, tuples and dicts, in order (with ``numbers``, its Python
    floats and complex numbers too)."""
    if isinstance(tree, (list, tuple)):
        for item in tree:
            yield from _array_leaves(item, numbers)
    elif isinstance(tree, dict):
        for item in tree.values():
            yield from _array_leaves(item, numbers)
    elif hasattr(tree, "shape") and hasattr(tree, "dtype") and not isinstance(tree, type):
        yield tree
    elif numbers and type(tree) in (float, complex):
        yield tree


def _wrap_pair(pair):
    from .runtime.dlarray import wrap_outputs
    return wrap_outputs(pair[0]), wrap_outputs(pair[1])


def _hvp_kernel(fun, before, after, x, v):
    y = fun(*before, x, *after)
    g = dlgradient(y, x)
    return dlgradient(np.sum(np.real(np.conj(g) * v)), x)


def hvp(fun: Callable, x: ArrayLike, v: ArrayLike) -> Any:
    """The Hessian-vector product of the real scalar ``fun`` at ``x`` along ``v``.

    Computed forward over reverse: the generated gradient of ``fun`` differentiated in
    forward mode along ``v`` (its forward sweep runs once); where forward mode cannot
    follow the code yet, as the gradient of ``<grad fun(x), v>`` (reverse over reverse).

    >>> def f(x):
    ...     return np.sum(x ** 3)
    ...
    >>> hvp(f, np.array([1.0, 2.0]), np.array([1.0, 0.0])).tolist()
    [6.0, 0.0]
    """
    try:
        return _hvp(fun, x, v)
    except _HvpRefusal as error:        # (at fun's own line: was a message with no file or line)
        code = getattr(getattr(fun, "__func__", fun), "__code__", None)
        where = (code.co_filename, code.co_firstlineno) if code is not None else (None, None)
        raise user_error(EvaluationError(str(error), *where), fun) from None
    except SctError as error:
        if getattr(error, "filename", None) == __file__ and "must be real" in str(error):
            # dlgradient's refusal of a complex y in the reverse-over-reverse kernel (reached where
            # forward mode does not follow fun: `lambda a: np.sum(f(a, *cs))`): named this file's
            # kernel line, sct's own, not the user's; it is hvp's refusal of what fun returns
            code = getattr(getattr(fun, "__func__", fun), "__code__", None)
            where = (code.co_filename, code.co_firstlineno) if code is not None else (None, None)
            raise user_error(EvaluationError("hvp: fun must return a real scalar", *where), fun) from None
        raise user_error(error, fun)
    except RecursionError as error:
        raise user_error(recursion_refusal(fun, (x,)), fun) from error


class _HvpRefusal(SctError):
    """hvp's own refusal of what ``fun`` returns (raised as it is, not retried in reverse mode)."""


def _hvp(fun: Callable, x, v):
    effects = _effects
    if isinstance(x, dict) or dataclasses.is_dataclass(x) or (
            isinstance(x, (list, tuple)) and not _numeric_sequence(x)):
        raise SctError(f"hvp: x must be one array, got a {type(x).__name__}; for parameters in a "
                       "structure take the product inside dlfeval: "
                       "dlgradient(np.sum(dlgradient(y, p['w']) * v), p['w']) for each array")
    if _labelled(x):
        # (its generated gradient runs on the plain data: softmax(X) of a "CB" X read in sct's default
        # layout, another value; was returned)
        raise SctError(f"hvp: x is a formatted dlarray ({_format_text(x)!r}); hvp differentiates fun on the plain "
                       "data, where its labels are not followed. Take the product inside dlfeval, where they "
                       "are: g = dlgradient(y, X); dlgradient(np.sum(stripdims(g) * v), X), or pass "
                       "stripdims(x) and give the deep-learning calls in fun DataFormat=...")
    if isinstance(x, (list, tuple)) and any(np.ndim(getattr(p, "data", p)) >= 1 for p in x
                                            if isinstance(p, (np.ndarray, dlarray))):
        # (was stacked into one array and passed to fun as its only argument: a TypeError for an
        # f(a, b), located in sct's own file)
        raise SctError(f"hvp: x is a {type(x).__name__} of arrays; hvp takes one array x and calls fun(x). "
                       "For a function of several arrays fix the others (hvp(lambda a: f(a, b), a, v)), "
                       "stack them into one array (np.concatenate) and split it inside fun, or take the "
                       "product inside dlfeval: dlgradient(np.sum(dlgradient(y, a) * v), a)")
    given = isinstance(x, dlarray)
    x = dlarray(x)
    function, before, after = _reduced(fun, (x,))
    if not given:
        # fun is run on a dlarray of a numpy x: its type tests of x are refused where their answer depends on it,
        # as jvp's are (was the dlarray's answer, another branch than fun(x) takes; red2_56 W3)
        from .runtime.support import types_end, unsure_types
        unsure_types()
        try:
            return _hvp_run(function, before, after, x, v, effects)
        finally:
            types_end()
    return _hvp_run(function, before, after, x, v, effects)


def _hvp_run(function, before, after, x, v, effects):
    v = _apart(_tangent_as(v, x.dtype, "hvp: the direction v"), (x,))
    if v.shape != x.shape:
        raise SctError(f"hvp: a direction of shape {v.shape} for x of shape {x.shape}")
    with effects.held():           # fun's effects (draws, prints) happen once in all
        start = effects.effect_position()
        drawn = effects._global_draw_state()
        try:
            return dlarray(_hvp_forward_over_reverse(function, before, after, extractdata(x), v))
        except CompileError:       # something forward mode cannot follow yet: reverse over reverse
            pass
        except _HvpRefusal:
            raise
        except SctError as error:  # a refusal from a run-time check, with no line to name:
            if getattr(error, "filename", None):    # reverse over reverse names the user's line
                raise
        except RecursionError:
            raise
        except Exception:          # an error raised in a rule or the user's code (np.linalg's
            pass                   # LinAlgError, a rule's NotImplementedError): reverse over reverse
            #                        raises it as an EvaluationError naming the user's line (was: raw)
        # what forward mode ran already is replayed; where it ran nothing (it refused to compile:
        # `lambda a: np.sum(fn(a, *cs))`, a call forward mode does not follow), reverse over reverse
        # is fun's first run: its draws are drawn, not compared with a state from before them (was
        # refused as a recomputation drawing other numbers, unless an earlier call had left numpy's
        # global generator where fn's np.random.seed put it)
        if effects.effect_position() == start and effects._same_draw_state(drawn, effects._global_draw_state()):
            return dlfeval(_hvp_kernel, function, before, after, x, v)
        effects.replay_from(start)
        try:
            return dlfeval(_hvp_kernel, function, before, after, x, v)
        finally:
            effects.replay_end()


def _numeric_sequence(x) -> bool:
    """A list or tuple that is one array of numbers (``[1.0, 2.0]``), not a structure of arrays."""
    try:
        return np.asarray(extractdata(x) if isinstance(x, dlarray) else x).dtype.kind in "biufc"
    except (TypeError, ValueError):
        return False


def _hvp_forward_over_reverse(function, before, after, x, v):
    """H v as the tangent of the generated gradient along ``v`` (forward over reverse).

    The forward sweep of ``function`` runs once, forward-differentiated (its values and
    their tangents along ``v``); then the adjoint sweep, forward-differentiated, from the
    seed 1 (tangent zero): its tangent is H v.  Nothing runs twice, and no second reverse
    sweep is taped.
    """
    from .transform_calls import jvp_call_impl, vjp_pair
    ZERO, project, seed = _ZERO, _project, _seed
    if before or after:
        before, after = _unwrap(before), _unwrap(after)
        args = tuple(before) + (x,) + tuple(after)
    else:
        args = (x,)
    position = len(before)
    active = tuple(i == position for i in range(len(args)))
    fwd, bwd = vjp_pair(function, active, args, {})
    tangents = tuple(v if i == position else ZERO for i in range(len(args)))
    if _generated(fwd) and _generated(bwd):
        return project(_hvp_pruned(fwd, bwd, args, tangents)[position], x)
    (y, residuals), (_, dot_residuals) = jvp_call_impl(fwd, args, tangents, {})
    if not _real_scalar(y):
        raise _HvpRefusal("hvp: fun must return a real scalar")
    _, dot_grads = jvp_call_impl(bwd, (residuals, seed(y)), (dot_residuals, ZERO), {})
    return project(dot_grads[position], x)


def _real_scalar(y) -> bool:
    """Is ``y`` (what fun returned) one real number?  A tuple or list is not (numpy would fail
    to make an array of a value and an array, so it is told here, not by numpy)."""
    if isinstance(y, (tuple, list, dict)):
        return False
    return not np.iscomplexobj(y) and np.size(y) == 1


def _generated(fn) -> bool:
    return isinstance(fn, types.FunctionType) and getattr(fn, "__sct_generated__", False)


def _hvp_pruned(fwd, bwd, args, tangents):
    """The tangents of the adjoints (H v), computing only what they need.

    The adjoint's forward-mode code is generated keeping only its tangent (the gradient itself
    is not computed), and the forward's keeping only the residuals and residual tangents that
    this adjoint code reads (what it reads is found in its code, on the first call, and kept
    per kind of arguments on ``fwd``).  If a later adjoint code reads more than the forward
    was asked for, a CompileError sends hvp to reverse over reverse (the same numbers).  What
    is read only for its type (the value; residuals the adjoint code does not read) is not
    computed, only its type, dtype and shape (``rt.type_only``)."""
    from .kinds import kind_of
    ZERO, seed = _ZERO, _seed
    plans = fwd.__dict__.setdefault("__sct_hvp_plans__", {})
    arg_kinds = tuple(kind_of(a, traced=t is not ZERO) for a, t in zip(args, tangents))
    plan = plans.get(arg_kinds)
    # every residual is passed on (a residual left out would make its name a constant to the
    # adjoint's forward-mode code, and its tangent ignored); those it does not read are kept for
    # their type only, like the value (a real scalar? the seed's dtype): their arithmetic is not
    # computed (sct.optimize.type_only_values); tangents it does not read are left out
    if plan is None:
        keep = (("type", True), (False, True))
    else:
        keep = (("type", tuple(True if r else "type" for r in plan[0])), (False, plan[1]))
    _, ((y, residuals), (_, dot_residuals)) = _jvp_keeping(
        fwd, args, tangents, keep, kinds=(arg_kinds, tuple(t is not ZERO for t in tangents)))
    if not _real_scalar(y):
        raise _HvpRefusal("hvp: fun must return a real scalar")
    compiled, call = _jvp_keeping(bwd, (residuals, seed(y)), (dot_residuals, ZERO), (False, True),
                                  run=False)
    reads = _reads_of_residuals(compiled, len(residuals))
    if plan is not None and not all(p or not r for ps, rs in zip(plan, reads) for p, r in zip(ps, rs)):
        plans[arg_kinds] = tuple(tuple(a or b for a, b in zip(ps, rs)) for ps, rs in zip(plan, reads))
        raise CompileError("hvp: the adjoint code reads residuals its forward was not asked for")
    if plan is None:
        plans[arg_kinds] = reads
    return call()[1]


def _jvp_keeping(fn, args, tangents, keep, run: bool = True, kinds=None):
    """``jvp_call_impl`` of sct's own generated ``fn``, its code keeping only the parts ``keep``
    marks of its result (``sct.optimize.keep_outputs``).  ``run=False``: the compiled code and a
    function running it.  ``kinds``: the arguments' kinds and which tangents are not zero, where
    the caller has them (``kind_of(a, traced=t is not ZERO)``)."""
    from .cache import HELPERS, function_key
    from .compiler import compile_function
    ZERO = _ZERO
    if kinds is None:
        from .kinds import kind_of
        from .transform_calls import _is_zero_tangent
        active = tuple(not _is_zero_tangent(t) for t in tangents)
        kinds = tuple(kind_of(a, traced=m) for a, m in zip(args, active))
    else:
        kinds, active = kinds
    key = ("jvp-keep",) + function_key(fn) + (kinds, active, _registry.rules_version(), keep, context_key())
    compiled = HELPERS.lookup(key, fn)
    if compiled is None:
        compiled = compile_function(fn, kinds, mode="jvp", active_mask=active, keep=keep)
        HELPERS.insert(key, compiled)
    params = compiled.entry.__code__.co_argcount // 2
    values = list(args) + [None] * (params - len(args))
    dots = list(tangents) + [ZERO] * (params - len(tangents))
    if len(args) < params:                 # defaults of the original function
        defaults = fn.__defaults__ or ()
        for i in range(len(args), params):
            values[i] = defaults[i - (params - len(defaults))]
    if run:
        return compiled, compiled.entry(*values, *dots)
    return compiled, lambda: compiled.entry(*values, *dots)


def _reads_of_residuals(compiled, count: int):
    """Which residuals and which residual tangents (by position) the generated forward-mode
    adjoint ``compiled`` reads: all where it reads them other than by a constant index."""
    entry = compiled.entry
    found = entry.__dict__.get("__sct_residual_reads__")
    if found is not None and len(found[0]) == count:
        return found
    import ast
    tree = ast.parse(compiled.source)
    everything = ((True,) * count, (True,) * count)
    result = everything
    for node in tree.body:
        if isinstance(node, ast.FunctionDef) and node.name == entry.__name__:
            params = [a.arg for a in node.args.args]
            names = (params[0], params[len(params) // 2])
            reads = [set(), set()]
            indexed = set()
            ok = True
            for n in ast.walk(node):
                if isinstance(n, ast.Subscript) and isinstance(n.value, ast.Name) and n.value.id in names:
                    if isinstance(n.slice, ast.Constant) and type(n.slice.value) is int and \
                            0 <= n.slice.value < count:
                        reads[names.index(n.value.id)].add(n.slice.value)
                        indexed.add(id(n.value))
                    else:
                        ok = False
            for n in ast.walk(node):
                if isinstance(n, ast.Name) and n.id in names and id(n) not in indexed and \
                        not isinstance(n.ctx, ast.Param if hasattr(ast, "Param") else ()):
                    ok = False              # read whole (or stored to): everything
            if ok:
                result = tuple(tuple(i in r for i in range(count)) for r in reads)
    entry.__sct_residual_reads__ = result
    return result


# differentiated code may not call these (sct.transform_calls refuses them; sct.hooks)
_hooks.lend_forward_entries(jvp=jvp, hvp=hvp, jvp_source=jvp_source)
