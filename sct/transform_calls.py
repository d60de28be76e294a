"""Calls from differentiated code to functions: their generated forward/adjoint pairs.

``fwd, bwd = rt.vjp(helper, active, *args)`` compiles ``helper`` (once per kinds
of its arguments) into a forward that also returns what its adjoint needs, and
that adjoint.  The user's helpers, methods, constructors, recursion and the
generated sweeps (for higher derivatives) all go through here, each compiled in
its own globals and closure; since the pair is generated source, code calling it
can be differentiated again.
"""
from __future__ import annotations

import functools
import hashlib
import threading
import types
from collections import OrderedDict
from typing import Any, Dict, List, Optional, Sequence, Tuple

import numpy as np

from .runtime import registry
from .runtime.support import ZERO, Closure, SiteEntry, captured_leaves, method_of, note_captured, \
    state_holds_values

from .cache import HELPERS, function_key
from .helper_sites import joint_sites_through, refuse_linked
from .callables import WrappedFunction
from .compiler import Compiled, compile_function
from .errors import CompileError, EvaluationError
from .hooks import FORWARD_ENTRIES
from .kinds import kind_of, make_matcher, refuse_nested_slotted
from .aliasing import _generated_dataclass_init
from .base_inits import dataclass_post_init
from .plain_leaves import context_key
from .plans import NO_ADJOINT

class _Misses(threading.local):
    def __init__(self):
        self.frames: List[Tuple[Any, Sequence]] = []     # (site, its call's arguments), innermost last


_MISSES = _Misses()


def _holds_object(holder, a) -> bool:
    """Does ``holder`` (an argument of a call) hold the object ``a`` one level down: a partial's frozen
    arguments (through partials and a nested function's captured values), a closure's captured
    values, an object's fields?"""
    if a is None or type(a) in (bool, int, str):      # (small ints and strings are shared objects)
        return False
    for _ in range(8):
        if type(holder) is functools.partial:
            if any(v is a for v in holder.args) or any(v is a for v in holder.keywords.values()):
                return True
            holder = holder.func
            continue
        if isinstance(holder, Closure):
            return any(v is a for v in holder)
        own = getattr(holder, "__dict__", None)
        return type(own) is dict and not isinstance(holder, (type, types.ModuleType, types.FunctionType)) and \
            any(v is a for v in own.values())
    return False


def _traced_at(value, paths) -> bool:
    """Is ``value`` a list, tuple, dict or object (not an array, a number or None), with an item
    that may be traced (not a number, text or None) at one of ``paths`` (None: any)?"""
    plain = (int, float, complex, str, bool, type(None))
    if isinstance(value, (np.ndarray, np.generic) + plain):
        return False
    if paths is None:
        return True
    for path in paths:
        item = value
        for key in path:
            try:
                item = item[key] if isinstance(item, (dict, list, tuple)) else getattr(item, key)
            except (KeyError, IndexError, TypeError, AttributeError):
                return True         # (not read: may be)
        if not isinstance(item, plain):
            return True
    return False


def _refuse_joint_args(fn, compiled: Compiled, args: Sequence) -> None:
    """``compiled`` (``fn``'s code for the arguments ``args``) takes dlgradient of a parameter of a
    y that also reads another (``Compiled.joint_sites``, sct/helper_sites.py), called from the
    site(s) missed on this thread: refused where a site's links (``CallSite.linked``: argument j
    computed from argument i) join, by identity, the objects passed there, or where the site sits
    in a helper and the two come from its parameters (``CallSite.forwards``: a function calling,
    through a callee known at run time only, a helper with a joint site; its callers are not
    known here).  By identity, every path a call takes (a closure's captured values passed first,
    a bound method's receiver, a callable object, a partial) reads the same objects."""
    if not getattr(compiled, "joint_sites", ()) or not _MISSES.frames:
        return
    for site, site_args in reversed(_MISSES.frames):
        linked, forwards = site.linked, site.forwards
        if linked is None and forwards is None:
            continue
        # each parameter's arguments there: the argument itself, or one holding it (a partial's frozen
        # value, a closure's captured one, an object's field: ``partial(g, s=np.sum(w))(w)`` calls g
        # with s frozen; was: s was found at no argument, and g's dlgradient with respect to w held s
        # constant, the partial derivative)
        at = [[i for i, b in enumerate(site_args) if b is a] or
              [i for i, b in enumerate(site_args) if _holds_object(b, a)] for a in args]
        if linked is not None:
            # (p, p): the argument is a display holding an item computed from another it holds
            pairs = frozenset((p, q) for p, mine in enumerate(at) for q, theirs in enumerate(at)
                              if any((i, j) in linked[0] for i in mine for j in theirs if p != q or i == j)) | \
                frozenset(("same", p, q) for p in range(len(args)) for q in range(len(args))
                          if p != q and args[p] is args[q]) | \
                frozenset(("direct", p, q) for p, mine in enumerate(at) for q, theirs in enumerate(at)
                          if p != q and any(("direct", i, j) in linked[0] for i in mine for j in theirs)) | \
                frozenset(("result", p, k[2]) for p, mine in enumerate(at) for k in linked[0]
                          if k[0] == "result" and k[1] in mine) | \
                frozenset(("held", p) for p, mine in enumerate(at) for k in linked[0] if k[0] == "held" and k[1] in mine) | \
                frozenset(("nested", p, k[2]) for p, mine in enumerate(at) for k in linked[0]
                          if k[0] == "nested" and k[1] in mine)
            refuse_linked(compiled, pairs, fn, linked[1], linked[2], lambda p, paths: _traced_at(args[p], paths),
                          unpacked=getattr(linked[0], "unpacked", False))
        if forwards is not None:
            deps, caller, filename, line = forwards
            reach = [set().union(*(deps[i] for i in places if i < len(deps))) for places in at]
            name = getattr(fn, "__name__", "a helper")
            for where, mine, theirs in joint_sites_through(compiled.joint_sites, reach, name):
                if mine == theirs and len(mine) < 2:
                    continue        # a structure's items among themselves: its caller's display decides
                error = CompileError(
                    f"{caller}() passes its parameters to {name}(), which takes dlgradient "
                    f"({where}) with respect to "
                    f"one of them of a y that also reads the other, through a callee known at run time only: "
                    f"sct differentiates {name}()'s own code, holding the other constant, and cannot check "
                    f"what {caller}()'s callers pass there. Call {name}() directly (a function of the "
                    "module, not a local), or take the gradient in the function dlfeval runs",
                    filename, line, "dlgradient")
                error.at_call = True
                raise error


def _compiled_vjp(fn, args: Sequence, active: Sequence[bool], returns_self: bool = False) -> Compiled:
    kinds = tuple(kind_of(a, traced=bool(m)) for a, m in zip(args, active))
    if not getattr(fn, "__sct_generated__", False) and any(k[:1] in (("map",), ("seq",), ("obj",)) for k in kinds):
        refuse_nested_slotted(args, active)
    compiled = vjp_for_kinds(fn, kinds, active, returns_self)
    _refuse_joint_args(fn, compiled, args)
    note_function_state(fn)
    return compiled


def note_function_state(fn) -> None:
    """``fn``'s captured values and defaults are constants of the code compiled for it: the leaves they
    reach are noted for this run (rt.note_captured), so that a gradient with respect to one of them is
    refused (was: a closure made outside the compiled code, ``lambda x: x @ self.W`` returned by
    ``__getattr__`` or passed to dlfeval beside the object, gave W a zero gradient)."""
    if type(fn) is types.FunctionType and (fn.__closure__ is not None or fn.__defaults__ is not None or
                                          fn.__kwdefaults__ is not None) and \
            not fn.__code__.co_filename.startswith("<sct-generated") and state_holds_values(fn):
        # (a nested def of compiled code is called with its captured values and defaults passed: Closure)
        note_captured(fn, functools.partial(_described, fn))


def _described(fn) -> str:
    """The callable ``fn`` as a refusal names it: a function with where it is defined, a bound method, a partial."""
    if type(fn) is functools.partial:
        name = getattr(fn.func, "__qualname__", type(fn.func).__name__)
        return f"functools.partial({name}, ...) (its frozen arguments)"
    if isinstance(fn, types.MethodType):
        return f"the method {type(fn.__self__).__name__}.{getattr(fn.__func__, '__name__', '?')} taken as a value " \
               "(the object it is bound to)"
    code = getattr(fn, "__code__", None)
    where = f" ({code.co_filename}, line {code.co_firstlineno})" if code is not None else ""
    what = "the lambda" if getattr(fn, "__name__", "") == "<lambda>" else f"the function {fn.__name__}()"
    return f"{what}{where}, made outside the code sct compiled (its captured values and defaults)"


def vjp_for_kinds(fn, kinds: tuple, active: Sequence[bool], returns_self: bool = False, keep=None) -> Compiled:
    """The pair of ``fn`` for arguments of these kinds (``kind_of(arg, traced=m)``), from the
    helpers' cache or compiled now (also when its caller is compiled: sct.call_tree).  ``keep``:
    "type" where the caller reads the forward's value only for its type (sct.call_tree
    ``_value_keep``): a forward that computes only what the residuals need."""
    active = tuple(m if m == NO_ADJOINT else bool(m) for m in active)   # (sct/plans.py)
    if returns_self:
        keep = None
    key = ("vjp", id(fn.__code__), id(fn.__globals__), kinds, active, registry.rules_version(), returns_self,
           context_key())
    if keep is not None:
        key += (keep,)
    compiled = HELPERS.lookup(key, fn)
    if compiled is None:
        compiled = compile_function(fn, kinds, mode="vjp", active_mask=active, returns_self=returns_self,
                                    keep=keep)
        HELPERS.insert(key, compiled)
    return compiled


def _compiled_primal(fn, args: Sequence, active: Sequence[bool]) -> Compiled:
    """``fn`` compiled as dlfeval would run it, for a call from generated code that no sweep
    differentiates through (its arguments' writes are checked as a helper's)."""
    kinds = tuple(kind_of(a, traced=bool(m)) for a, m in zip(args, active))
    compiled = primal_for_kinds(fn, kinds, active)
    _refuse_joint_args(fn, compiled, args)
    note_function_state(fn)
    return compiled


def primal_for_kinds(fn, kinds: tuple, active: Sequence[bool]) -> Compiled:
    """The entry code of ``fn`` run for a call from generated code, for arguments of these kinds."""
    active = tuple(bool(m) for m in active)
    key = ("primal", id(fn.__code__), id(fn.__globals__), kinds, active, registry.rules_version(), context_key())
    compiled = HELPERS.lookup(key, fn)
    if compiled is None:
        compiled = compile_function(fn, kinds, mode="entry", active_mask=active, called=True)
        HELPERS.insert(key, compiled)
    return compiled


def primal_call(fn, active, args, kwargs):
    """``fn(*args, **kwargs)`` from generated code where no sweep needs its adjoint: a
    Python function runs as generated entry code (no pair, no residuals); anything else
    runs the forward of its pair."""
    fn = _unwrapped(fn)
    fn = registry.readable(fn)
    _refuse_forward_mode_entry(fn)
    if type(fn) is types.FunctionType and getattr(fn, "__sct_closure__", None) is None and \
            not getattr(fn, "__sct_generated__", False) and len(active) == len(args) and \
            registry.lookup(fn) is None and not registry.is_nondifferentiable(fn):
        return _compiled_primal(fn, args, active).entry(*args, **kwargs)
    fwd, _ = vjp_pair(fn, active, args, kwargs)
    return fwd(*args, **kwargs)[0]


def primal_method(obj, name, active, args, kwargs):
    """Like :func:`primal_call` for ``obj.name(*args[1:])`` (``args[0]`` is ``obj``)."""
    if not isinstance(obj, Closure) and len(active) == len(args):
        method = method_of(obj, name)
        if type(method) is types.MethodType and method.__self__ is obj and \
                type(method.__func__) is types.FunctionType and registry.lookup(method) is None:
            from .runtime.layers import uses_custom_backward
            if not uses_custom_backward(obj, name):
                return _compiled_primal(method.__func__, args, active).entry(*args, **kwargs)
    fwd, _ = vjp_method_pair(obj, name, active, args, kwargs, primal=True)
    return fwd(*args, **kwargs)[0]


def function_identity(fn) -> Tuple:
    """What, besides guarded names, decides a function's generated code (the function itself
    is checked by the guards of ``Compiled.valid(fn)``: see sct.cache)."""
    return function_key(fn)


def refuse_output_argument(fn, rule, args, kwargs):
    """An op known only when it runs (``f = np.sum; f(a, 0, None, z)``, ``op(a, out=z)`` in a helper
    given np.cumsum) with an output array: it writes the result into that array, which sct does not
    follow (was: the array's derivative silently zero).  Calls written with the op's own name are
    refused at compile time (sct/write_checks.py) or made new values (ufuncs' out=)."""
    parameters = list(rule.signature.parameters.values())
    names = [p.name for p in parameters if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
    out = kwargs.get("out")
    if out is None and "out" in names and names.index("out") < len(args):
        out = args[names.index("out")]
    name = getattr(fn, "__name__", None) or repr(fn)
    if out is not None and not (isinstance(out, tuple) and all(o is None for o in out)):
        raise EvaluationError(f"{name}() is given an output array (out) and writes its result into it in "
                              f"place, which sct does not follow; assign the result instead "
                              f"(`z = {name}(...)` without out)")
    if fn in (np.median, np.nanmedian, np.quantile, np.percentile, np.nanquantile, np.nanpercentile):
        position = 3 if fn in (np.median, np.nanmedian) else 4
        if kwargs["overwrite_input"] if "overwrite_input" in kwargs else \
                len(args) > position and args[position]:
            raise EvaluationError(f"{name}(..., overwrite_input=True) reorders the entries of its argument in "
                                  f"place, which sct does not follow; leave overwrite_input out (numpy then "
                                  f"works on a copy)")
    if fn is np.nan_to_num and not (kwargs["copy"] if "copy" in kwargs else args[1] if len(args) > 1 else True):
        raise EvaluationError("nan_to_num(..., copy=False) replaces the entries of its argument in place, "
                              "which sct does not follow; write `z = np.nan_to_num(z)` (a new array) instead")


def refuse_user_operands(fn, args, kwargs):
    """``fn`` an operator function (``operator.mul``) or a numpy function called with an argument
    known only now (``functools.reduce(operator.mul, [Pow(3), x])``): refuse an object of a user
    class whose own method (``__mul__``, ``__array_ufunc__``, ...) Python or numpy runs for it,
    whose derivative the rule's is not (as ``rt.array_operand`` for operators in generated code)."""
    from .operand_checks import _OPERATOR_FUNCTIONS, NUMPY_DUNDERS, _numpy_function
    from .runtime.support import array_operand
    try:
        found = _OPERATOR_FUNCTIONS.get(id(fn))
    except TypeError:
        return
    if found is not None:
        symbol, names = found[0], found[1:]
        if symbol == "[]":
            args = args[:1]
    else:
        symbol = _numpy_function(fn)
        if symbol is None:
            return
        names = NUMPY_DUNDERS
    for a in list(args) + list(kwargs.values()):
        array_operand(a, symbol, " ".join(names))


def _unwrapped(fn):
    """What a call of ``fn`` runs in differentiated code: an ``sct.accelerate``'d function's own
    function (over a staticmethod: its function; over a classmethod or a method, read from the
    class or an object: its function bound to it)."""
    if isinstance(fn, WrappedFunction):
        fn = fn.fn
        if isinstance(fn, staticmethod):
            fn = fn.__func__
    elif isinstance(fn, types.MethodType) and isinstance(fn.__func__, WrappedFunction):
        inner = fn.__func__.fn
        inner = inner.__func__ if isinstance(inner, (staticmethod, classmethod)) else inner
        fn = types.MethodType(inner, fn.__self__)
    return fn



def _exec_generated(source: str, label: str, module: str, names: dict, wanted, mark: bool = True) -> tuple:
    """The functions ``wanted`` of generated ``source``, run with ``names`` and ``rt`` as its globals
    under the file name ``<sct-generated {label} {digest}>`` (registered: tracebacks, and a later
    differentiation, read it); each marked ``__sct_generated__`` where ``mark``."""
    from .compiler import RT
    from .parse import register_source
    digest = hashlib.sha1(source.encode()).hexdigest()[:10]
    filename = f"<sct-generated {label} {digest}>"
    register_source(filename, source)
    namespace = dict(names, rt=RT, __name__=f"sct_generated.{module}")
    exec(compile(source, filename, "exec"), namespace)
    out = tuple(namespace[w] for w in wanted)
    if mark:
        for f in out:
            f.__sct_generated__ = True
    return out

def _takes_formats(fn) -> bool:
    """Is ``fn`` one of the runtime's deep-learning functions with a ``DataFormat`` option (softmax,
    crossentropy, l2loss, dlconv, lstm, ...)?"""
    if type(fn) is not types.FunctionType or getattr(fn, "__sct_keywords__", None) is not None or \
            not (fn.__module__ or "").startswith(registry.__name__.rsplit(".", 1)[0] + "."):
        return False
    code = fn.__code__
    return "DataFormat" in code.co_varnames[:code.co_argcount + code.co_kwonlyargcount]


def _given_format(fn, args, kwargs):
    """``(whether a call of fn like this one gives DataFormat, by keyword or by position; its value)``."""
    code = fn.__code__
    names = code.co_varnames[:code.co_argcount]
    position = names.index("DataFormat") if "DataFormat" in names else None
    if position is not None and len(args) > position:
        return True, args[position]
    return "DataFormat" in kwargs, kwargs.get("DataFormat")


def _format_site(fn, args, kwargs) -> bool:
    """May a call of ``fn`` like this one give ``DataFormat`` (by keyword or by position)?"""
    return _takes_formats(fn) and _given_format(fn, args, kwargs)[0]


def _formatted_call(fn, kwargs, args=()) -> bool:
    """A deep-learning function called through a value known only when the code runs (``act = softmax``,
    a dict's item, a default argument) with ``DataFormat=``: the compiler lowers such a call where it
    names the function (transposes around the default-layout op, sct/format_layout.py); here neither
    the op's rule (which reads the default layout: softmax's gradient along the wrong axis) nor the
    function's source (its formatted branch, ``run_formatted``, runs without a derivative: l2loss's
    gradient was zero) knows the format."""
    return _takes_formats(fn) and _given_format(fn, args, kwargs)[1] is not None


_FORMATTED_WRAPPERS: "OrderedDict[tuple, Any]" = OrderedDict()


def _literal(value) -> bool:
    """A value the compiler reads as a constant where it is written as a literal (an option)."""
    if value is None or isinstance(value, (bool, int, float, str)) and not isinstance(value, np.generic):
        return True
    return isinstance(value, (tuple, list)) and all(
        isinstance(v, (bool, int, float, str)) and not isinstance(v, np.generic) for v in value)


def _formatted_wrapper(fn, active, args, kwargs, by_keyword=()):
    """A function of the call's arguments that names ``fn`` and passes its options as literals
    (``DataFormat``, ``Reduction``, ...: what the compiler's format lowering reads), compiled as any
    helper: ``def dl_call(a0, a1, *, Mask): return l2loss(a0, a1, DataFormat='CB', Mask=Mask)``.
    ``by_keyword``: the names the last of ``args`` are passed to ``fn`` by (the adapter of a call giving
    a traced value by keyword, ``rt.keywords_method``: its first argument, the function, not passed)."""
    traced = _traced(active, args)
    baked_args = tuple((i, args[i]) for i in range(len(args)) if not traced[i] and _literal(args[i]))
    baked_kwargs = tuple((k, v) for k, v in kwargs.items() if _literal(v))
    key = (id(fn), len(args), tuple(kwargs), tuple(by_keyword), repr(baked_args), repr(baked_kwargs))
    with _WRAPPERS_LOCK:
        hit = _FORMATTED_WRAPPERS.get(key)
        if hit is not None and hit[0] is fn:
            _FORMATTED_WRAPPERS.move_to_end(key)
            return hit[1]
    literal_args = dict(baked_args)
    literal_kwargs = dict(baked_kwargs)
    params = [f"a{i}" for i in range(len(args))]
    kwonly = list(kwargs)
    first = len(args) - len(by_keyword)
    passed = [repr(literal_args[i]) if i in literal_args else f"a{i}" for i in range(1 if by_keyword else 0, first)]
    passed += [f"{k}={literal_args[i]!r}" if i in literal_args else f"{k}=a{i}"
               for i, k in zip(range(first, len(args)), by_keyword)]
    passed += [f"{k}={literal_kwargs[k]!r}" if k in literal_kwargs else f"{k}={k}" for k in kwonly]
    signature = ", ".join(params + (["*"] + kwonly if kwonly else []))
    name = fn.__name__
    source = f"def dl_call({signature}):\n    return {name}({', '.join(passed)})\n"
    # (not sct_generated's module: the compiler trusts that code and skips its format lowering)
    from .compiler import RT
    from .parse import register_source
    filename = f"<sct-generated call {name} {hashlib.sha1(source.encode()).hexdigest()[:10]}>"
    register_source(filename, source)
    namespace = {name: fn, "rt": RT, "__name__": "sct.formatted_calls"}
    exec(compile(source, filename, "exec"), namespace)
    wrapper = namespace["dl_call"]
    with _WRAPPERS_LOCK:
        _FORMATTED_WRAPPERS[key] = (fn, wrapper)
        while len(_FORMATTED_WRAPPERS) > _WRAPPERS_MAX:
            _FORMATTED_WRAPPERS.popitem(last=False)
    return wrapper


def _keywords_adapter_call(fn, args, kwargs):
    """``(function, its keyword names)`` where ``fn`` is ``rt.keywords_method``'s adapter of a deep-learning
    function (a traced value given by keyword) called with a ``DataFormat`` (by keyword there); else None."""
    held = getattr(fn, "__sct_keywords__", None)
    if held is None or kwargs:
        return None
    func, names = held
    if "DataFormat" not in names or not _takes_formats(func) or len(args) < len(names) + 1:
        return None
    value = args[len(args) - len(names) + names.index("DataFormat")]
    return (func, names) if value is not None else None


def vjp_pair(fn, active, args, kwargs):
    """The generated (forward, adjoint) functions of ``fn`` for arguments like ``args``.

    ``forward(*args)`` returns ``(value, residuals)``; ``adjoint(residuals, d_value)``
    returns one adjoint per positional argument.  Both are generated Python with
    source, so differentiated code that calls them can be differentiated again.
    """
    fn = _unwrapped(fn)
    fn = registry.readable(fn)
    if isinstance(fn, Closure):                # a nested function with its captured values
        return _closure_pair(fn, (False,) * len(fn), active, args, kwargs, receiver=False)
    if type(fn) is functools.partial:
        return _partial_pair(fn, tuple(active), args, kwargs)
    _refuse_forward_mode_entry(fn)
    _refuse_closure_wrapper(fn)
    _refuse_traced_bound_methods(args, active)
    if not isinstance(fn, (types.FunctionType, types.MethodType, type)) and \
            isinstance(getattr(type(fn), "__call__", None), types.FunctionType):
        # an object of a user class: its class's __call__ (what fn(...) runs, not an instance attribute)
        fn = types.MethodType(type(fn).__call__, fn)
    if isinstance(fn, types.MethodType) and isinstance(fn.__func__, types.FunctionType) and \
            registry.lookup(fn) is None:
        # (a bound method registered as an op, ``fn = scipy.stats.norm.logpdf`` then ``fn(x)``, is its
        # rule's op, as where the call names it: was compiled from the library's source and refused)
        compiled = _compiled_vjp(fn.__func__, (fn.__self__,) + tuple(args), (True,) + tuple(active))
        # (the object's adjoint is not given back: the leaves it reaches are noted, a gradient with
        # respect to one refused; was: ``ops = {"f": self.apply}`` called gave self.W a zero gradient)
        note_captured(fn, functools.partial(_described, fn))
        return _bound_pair(compiled.fwd, compiled.bwd, fn.__self__, len(args), tuple(kwargs))
    if isinstance(fn, type) and issubclass(fn, tuple) and hasattr(fn, "_fields"):
        return _record_pair(fn, len(args), tuple(kwargs), namedtuple=True)
    if _formatted_call(fn, kwargs, args):
        compiled = _compiled_vjp(_formatted_wrapper(fn, active, args, kwargs), args, active)
        return compiled.fwd, compiled.bwd
    adapted = _keywords_adapter_call(fn, args, kwargs)
    if adapted is not None:         # (a traced value by keyword: rt.keywords_method's adapter)
        compiled = _compiled_vjp(_formatted_wrapper(adapted[0], active, args, kwargs, adapted[1]), args, active)
        return compiled.fwd, compiled.bwd
    rule = registry.lookup(fn)
    if isinstance(fn, types.FunctionType) and rule is None and not registry.is_nondifferentiable(fn):
        # (a function with a rule, sct's or the user's @sct.defrule, passed as a value (an argument,
        # a dict's item, an attribute: act = sct.sigmoid) is its rule's op, as where the call names
        # it: its source differentiated instead gave sigmoid's derivative 0 at 0 (its |x|) and a
        # straight-through estimator's 0)
        compiled = _compiled_vjp(fn, args, active)
        return compiled.fwd, compiled.bwd
    if rule is None and isinstance(fn, type) and type(fn) is type and \
            isinstance(fn.__dict__.get("__init__") or getattr(fn, "__init__", None), types.FunctionType) and \
            fn.__new__ is object.__new__:
        # a class of the user's known only when it runs (``cls(w)`` in a classmethod): its
        # __init__ on a new object, as ``Box(w)`` is where the class is known
        return _constructor_pair(fn, active, args, kwargs)
    if rule is not None:
        refuse_user_operands(fn, args, kwargs)
        refuse_output_argument(fn, rule, args, kwargs)
        return _primitive_pair(fn, rule, len(args), tuple(kwargs))
    if registry.is_nondifferentiable(fn) or _string_method(fn):
        return _constant_pair(fn, len(args), tuple(kwargs), text=_string_method(fn))
    if _drawing_with_integers(fn, args, kwargs):
        return _constant_pair(fn, len(args), tuple(kwargs), draw=True)
    raise CompileError(f"no derivative rule for {getattr(fn, '__qualname__', fn)!r}, and it is not "
                       "a Python function sct can read; add a rule with @sct.defrule (see "
                       "help(sct.defrule)), use ops with rules, or extractdata to make its input a constant")


def vjp_method_pair(obj, name, active, args, kwargs, primal: bool = False):
    """Like :func:`vjp_pair` for ``obj.name(*args[1:])``: ``args[0]`` is ``obj``, and the
    functions take it first too."""
    _refuse_traced_bound_methods(args, active)
    if name == "__call__" and isinstance(obj, Closure):
        env_active = (bool(active[0]),) * len(obj) if active else (False,) * len(obj)
        return _closure_pair(obj, env_active, tuple(active[1:]), tuple(args[1:]), kwargs, receiver=True)
    if name == "__call__" and isinstance(obj, (types.FunctionType, types.MethodType, WrappedFunction)):
        fwd, bwd = vjp_pair(obj, tuple(active[1:]), tuple(args[1:]), kwargs)   # a function value
        # generated source (code calling it can be differentiated again); a closure's pair
        # inside refuses that itself (see _refuse_closure_wrapper)
        return _wrapped_pair(fwd, bwd, None, len(args) - 1, tuple(kwargs))
    if name == "__call__" and type(obj) is functools.partial and active and active[0]:
        # a partial sct/partials.py left as written (of an accelerated function, of a function taking
        # **kwargs, ...), made of traced values and called: its frozen values are traced too, so that
        # a dlgradient of the callee with respect to an argument of a y also reading them is checked
        # against the caller's links (``partial(acc_step, s=np.sum(w))(w)``: was the partial
        # derivative, s held constant); the derivative back into them is refused where it is made
        fwd, bwd = _partial_pair(obj, tuple(active[1:]), tuple(args[1:]), kwargs, frozen_active=True)
        return _wrapped_pair(fwd, bwd, None, len(args) - 1, tuple(kwargs))
    from .runtime.layers import apply_layer, uses_custom_backward
    custom = uses_custom_backward(obj, name)
    inputs = getattr(obj, "NumInputs", 1) if custom else 1
    if custom and (kwargs or len(args) - 1 != inputs):
        # the backward takes the layer's inputs, outputs and their derivatives only: options it does
        # not see would make its derivative wrong, and dropping the backward would not be the layer's
        # (was: the derivative of predict, or a TypeError from the op)
        passed = len(args) - 1 + len(kwargs)
        raise EvaluationError(
            f"{type(obj).__name__}.{name} has its own backward, which takes the layer's {inputs} input"
            f"{'s' if inputs != 1 else ''} (NumInputs = {inputs}) by position: it was given {passed} argument"
            f"{'s' if passed != 1 else ''}" + (f" ({', '.join(kwargs)} by keyword)" if kwargs else "") +
            ". Keep other settings as attributes of the layer (set in __init__), or set NumInputs")
    if custom and len(args) == 2:
        fwd0, bwd0 = _primitive_pair(apply_layer, registry.lookup(apply_layer), 3, ())
        source = (f"def op_fwd(receiver, x):\n"
                  f"    return op(receiver, x, {name!r})\n\n\n"
                  f"def op_bwd(residuals, grad):\n"
                  f"    grads = rule(residuals, grad)\n"
                  f"    return (grads[0], grads[1])\n")
        return _generated_pair("layer", fwd0, bwd0, source, (name,))
    if custom and len(args) > 2:
        # several inputs (MATLAB's NumInputs): the op takes them as one tuple, its rule the backward
        from .runtime.layers import apply_layer_inputs
        fwd0, bwd0 = _primitive_pair(apply_layer_inputs, registry.lookup(apply_layer_inputs), 3, ())
        xs = ", ".join(f"x{i}" for i in range(len(args) - 1))
        parts = ", ".join(f"rt.getitem_or_zero(grads[1], {i})" for i in range(len(args) - 1))
        source = (f"def op_fwd(receiver, {xs}):\n"
                  f"    return op(receiver, ({xs},), {name!r})\n\n\n"
                  f"def op_bwd(residuals, grad):\n"
                  f"    grads = rule(residuals, grad)\n"
                  f"    return (grads[0], {parts})\n")
        return _generated_pair("layer", fwd0, bwd0, source, (name, len(args) - 1))
    method = method_of(obj, name)
    if isinstance(method, types.MethodType) and method.__self__ is obj and \
            isinstance(method.__func__, types.FunctionType) and registry.lookup(method) is None:
        # (``d = scipy.stats.norm`` then ``d.logpdf(x)``: an op with a rule, its pair below)
        compiled = _compiled_vjp(method.__func__, tuple(args), tuple(active))   # args start with obj
        return compiled.fwd, compiled.bwd
    if name != "__call__" and _is_callable_object(method):
        if type(method) is functools.partial and active[0] and active[0] != NO_ADJOINT and not primal:
            # (the adjoint of its frozen values goes to obj's field `name`, not to obj itself: was
            # ``self.f = functools.partial(apply, self)`` giving self.W a zero gradient)
            _refuse_receiver_captured(obj, name, method)
        return _field_call_pair(obj, name, method, active, args, kwargs)
    if active[0] and isinstance(method, types.MethodType) and _is_callable_object(method.__self__, True) \
            and _holds_arrays(method.__self__):
        raise CompileError(f"{type(obj).__name__}.{name} is a method of another object "
                           f"({type(method.__self__).__name__}) stored as an attribute: sct cannot give "
                           "the gradient of that object's arrays to this one. Store the object itself "
                           f"(self.{name} = layer) and call it, or call its method through it")
    if active[0] and active[0] != NO_ADJOINT and not primal:
        _refuse_receiver_captured(obj, name, method)
    fwd, bwd = vjp_pair(method, tuple(active[1:]), tuple(args[1:]), kwargs)
    return _wrapped_pair(fwd, bwd, None, len(args) - 1, tuple(kwargs))   # a function held in a field


def _refuse_receiver_captured(obj, name, method) -> None:
    """``obj.name(...)`` whose adjoint the sweep wants for ``obj``, where ``obj.name`` is no method of its
    class but a function value (made by ``__getattr__`` or a property, set in ``__init__``: ``self.f =
    lambda x: x @ self.W``, a partial, a bound method kept in a field) that reaches ``obj`` or its leaves
    through what it captures: the pair is the function's of its arguments only, ``obj``'s adjoint zero
    (was: W's gradient silently zero, also for a value the function computed into obj's fields)."""
    if not isinstance(method, (types.FunctionType, types.MethodType, functools.partial)):
        return
    mine = {key for key, _ in captured_leaves(functools.partial(_no_function, obj))}
    reached = captured_leaves(method) if mine else []
    if not any(key in mine for key, _ in reached):
        return
    cls = type(obj).__name__
    raise CompileError(
        f"{cls}.{name} is not a method defined in {cls}'s class but {_described(method)}, reached through "
        f"the object (made by __getattr__ or a property, or stored in a field) and reading its arrays: sct runs "
        f"it as a function of the arguments it is given only, and the derivative through {cls}'s fields would be "
        f"lost. Define {name} as a method of the class (def {name}(self, x): ...), or call a function that "
        f"takes the object as an argument ({name}(obj, x))")


def _refuse_traced_bound_methods(values, active) -> None:
    """A method taken as a value (``fn = layer.forward``) of an object whose arrays carry a
    derivative: the derivative through ``self``'s fields would be lost (a bound method's pair
    differentiates the method's own arguments only), so it is refused."""
    for value, on in zip(values, active):
        if on and isinstance(value, types.MethodType) and isinstance(value.__func__, types.FunctionType) \
                and _is_callable_object(value.__self__, True) and _holds_arrays(value.__self__):
            owner = type(value.__self__).__name__
            raise CompileError(f"{owner}.{value.__func__.__name__} is a method taken as a value of an object "
                               f"holding traced arrays: sct cannot give the derivative through that "
                               f"object's fields to it. Call the method through its object "
                               f"(obj.{value.__func__.__name__}(...)), or pass the object and call it there")


def _is_callable_object(value, any_object: bool = False) -> bool:
    """An object of a user's class (not a function, method, class, module or builtin);
    unless ``any_object``, one that is callable."""
    if isinstance(value, (types.FunctionType, types.MethodType, types.BuiltinFunctionType,
                          types.BuiltinMethodType, types.ModuleType, type, WrappedFunction)) or \
            not hasattr(value, "__dict__") or isinstance(value, __import__("numpy").ufunc):
        return False
    if registry.lookup(value) is not None or registry.is_nondifferentiable(value):
        return False        # an op with a rule (np.sum, a dispatcher object): ``xp.sum(a)`` of a namespace
    return any_object or callable(value)


def _holds_arrays(obj) -> bool:
    from .runtime.support import _differentiable_leafy
    return any(_differentiable_leafy(v) for v in vars(obj).values())


def _field_call_pair(obj, name, layer, active, args, kwargs):
    """``obj.name(...)`` where the field ``obj.name`` is a callable object (a layer): its
    ``__call__`` with the layer as receiver; the layer's adjoint is ``obj``'s adjoint of
    that field."""
    fwd, bwd = vjp_method_pair(layer, "__call__", tuple(active), (layer,) + tuple(args[1:]), kwargs)
    return _wrapped_pair(fwd, bwd, name, len(args) - 1, tuple(kwargs))


_WRAPPERS: "OrderedDict[Any, tuple]" = OrderedDict()
_WRAPPERS_MAX = 256
_WRAPPERS_LOCK = threading.Lock()


def _wrapped_pair(fwd, bwd, field, count, keywords):
    """A pair taking the receiver first around ``fwd``/``bwd``, which take the layer
    ``receiver.<field>`` first (``field`` None: which do not take the receiver at all).
    Generated Python with source, so code calling it can be differentiated again: the
    layer's adjoint becomes the receiver's adjoint of the field."""
    key = (id(fwd), id(bwd), field, count, keywords)
    with _WRAPPERS_LOCK:
        hit = _WRAPPERS.get(key)
        if hit is not None and hit[0] is fwd and hit[1] is bwd:
            _WRAPPERS.move_to_end(key)
            return hit[2], hit[3]
    params = "".join(f", a{i}" for i in range(count))
    kwonly = (", *, " + ", ".join(keywords)) if keywords else ""
    passed = params + "".join(f", {k}={k}" for k in keywords)
    if field is None:
        grads = "".join(f", grads[{i}]" for i in range(count))
        source = (f"def field_call_fwd(receiver{params}{kwonly}):\n"
                  f"    return layer_fwd({passed[2:]})\n\n\n"
                  f"def field_call_bwd(residuals, grad):\n"
                  f"    grads = layer_bwd(residuals, grad)\n"
                  f"    return (rt.ZERO{grads},)\n")
    else:
        grads = "".join(f", grads[{i + 1}]" for i in range(count))
        source = (f"def field_call_fwd(receiver{params}{kwonly}):\n"
                  f"    layer = receiver.{field}\n"
                  f"    return layer_fwd(layer{passed})\n\n\n"
                  f"def field_call_bwd(residuals, grad):\n"
                  f"    grads = layer_bwd(residuals, grad)\n"
                  f"    return (rt.attribute_adjoint(grads[0], None, {field!r}){grads},)\n")
    pair = _exec_generated(source, f"call .{field or ''}", "field_call",      # same source, same name
                           {"layer_fwd": fwd, "layer_bwd": bwd}, ("field_call_fwd", "field_call_bwd"), mark=False)
    with _WRAPPERS_LOCK:
        _WRAPPERS[key] = (fwd, bwd) + pair
        while len(_WRAPPERS) > _WRAPPERS_MAX:
            _WRAPPERS.popitem(last=False)
    return pair


_BOUND: "OrderedDict[Any, tuple]" = OrderedDict()
_CONSTRUCTORS: "OrderedDict[Any, tuple]" = OrderedDict()


def _constructor_pair(cls, active, args, kwargs):
    """The pair of ``cls(*args)``: ``cls.__init__``'s pair on a new object made by each call.
    Generated Python with source, so code calling it can be differentiated again."""
    fwd, bwd = vjp_init_pair(cls, (False,) + tuple(active), (cls.__new__(cls),) + tuple(args), kwargs)
    return _first_argument_pair(_CONSTRUCTORS, cls, fwd, bwd, len(args), tuple(kwargs),
                                ("constructor", "init", "rt.new_object(cls)", "cls"), "constructor")


def _bound_pair(fwd, bwd, receiver, count, keywords):
    """The pair of a bound method: ``fwd``/``bwd`` (which take the receiver first) with the
    receiver put in.  Generated Python with source, so code calling it can be differentiated
    again."""
    return _first_argument_pair(_BOUND, receiver, fwd, bwd, count, keywords,
                                ("bound", "method", "receiver", "receiver"), "bound_method")


def _first_argument_pair(cache, owner, fwd, bwd, count, keywords, names, module):
    """``fwd``/``bwd`` (which take one more first argument) as a pair of ``count`` positional and
    ``keywords`` arguments, the first argument put in: ``names`` = (the pair's prefix, ``fwd``'s
    and ``bwd``'s prefix, the first argument's expression, the name ``owner`` has in it).  Cached
    per (fwd, bwd, owner, count, keywords) in ``cache``."""
    outer, inner, first, owner_name = names
    key = (id(fwd), id(bwd), id(owner), count, keywords)
    with _WRAPPERS_LOCK:
        hit = cache.get(key)
        if hit is not None and hit[0] is fwd and hit[1] is bwd and hit[2] is owner:
            cache.move_to_end(key)
            return hit[3], hit[4]
    params = ", ".join(f"a{i}" for i in range(count))
    kwonly = ((", *, " if params else "*, ") + ", ".join(keywords)) if keywords else ""
    passed = "".join([f", a{i}" for i in range(count)] + [f", {k}={k}" for k in keywords])
    grads = ", ".join(f"grads[{i + 1}]" for i in range(count)) + ("," if count == 1 else "")
    source = (f"def {outer}_fwd({params}{kwonly}):\n"
              f"    return {inner}_fwd({first}{passed})\n\n\n"
              f"def {outer}_bwd(residuals, grad):\n"
              f"    grads = {inner}_bwd(residuals, grad)\n"
              f"    return ({grads})\n")
    pair = _exec_generated(source, module.replace('_', ' '), module,
                           {f"{inner}_fwd": fwd, f"{inner}_bwd": bwd, owner_name: owner},
                           (f"{outer}_fwd", f"{outer}_bwd"))
    _reads_through(pair[1], bwd)
    pair[1].__sct_outside_roots__ = tuple(getattr(bwd, "__sct_outside_roots__", ())) + (("self", owner),)
    with _WRAPPERS_LOCK:
        cache[key] = (fwd, bwd, owner) + pair
        while len(cache) > _WRAPPERS_MAX:
            cache.popitem(last=False)
    return pair


def _refuse_forward_mode_entry(fn) -> None:
    """sct's forward-mode entry points compile and run their own function: called from code
    sct differentiates they would be read as helpers (and refused for their own code)."""
    name = FORWARD_ENTRIES.get(id(fn))
    if name is None:
        return
    raise CompileError(
        f"{name}() cannot be called inside a function sct differentiates (one dlfeval runs, or a "
        f"helper of it): it compiles and runs its function itself. Call {name}() outside dlfeval, "
        "or take the derivative inside with dlgradient (a Hessian-vector product: "
        "dlgradient(np.sum(dlgradient(y, x) * v), x))", None, None, f"{name}()")


def _refuse_closure_wrapper(fn) -> None:
    partial = getattr(fn, "__sct_partial__", None)
    if partial is not None:
        code = getattr(partial.func, "__code__", None)
        raise CompileError(
            f"higher derivatives through functools.partial({getattr(partial.func, '__name__', '?')}, ...) "
            f"called with the keyword {fn.__sct_keyword__}= (a name sct's generated code for the call "
            "uses) are not supported yet; pass that argument by position, or rename the parameter",
            code.co_filename if code else None, code.co_firstlineno if code else None, "functools.partial")
    closure = getattr(fn, "__sct_closure__", None)
    if closure is not None:
        code = getattr(closure.fn, "__code__", None)
        filename = closure.frame.filename if closure.frame else (code.co_filename if code else None)
        filename, line = _users_line(filename, closure.line)
        what = f"the nested function {getattr(closure.fn, '__name__', '?')}()"
        if closure.shown is not None and closure.shown[0]:
            what = closure.shown[0]          # the user's: "the lambda", "g = functools.partial(f, ...)"
        raise CompileError(
            f"higher derivatives through {what} "
            f"(line {line}) passed as a value and called with the keyword {fn.__sct_keyword__}= (a name "
            "sct's generated code for the call uses) are not supported yet; pass that argument by "
            "position, or rename the parameter", filename, line, "nested function")


def _users_line(filename, line):
    """(file, line) of the user's code that generated code's ``line`` of ``filename`` comes from
    (through code generated from generated code); as given where it is no generated file (was: a
    second derivative's refusal named the first derivative's generated file and line)."""
    from .parse import LINE_MAPS
    for _ in range(8):
        mapped = LINE_MAPS.get(filename)
        if mapped is None or not isinstance(line, int) or not (0 < line <= len(mapped[1])) or \
                mapped[1][line - 1] is None:
            break
        filename, line = mapped[0], mapped[1][line - 1]
    return filename, line


def _partial_pair(partial, active, args, kwargs, frozen_active: bool = False):
    """The pair of a ``functools.partial`` value that generated code calls (one made outside the
    function, or one sct/partials.py did not rewrite, made of constants: a partial of traced
    values made in the function is refused where it is made, as a call with no rule): its
    function with the frozen arguments in front and the frozen keywords under the call's, as
    Python binds them; the frozen values are constants (as a lambda's captured ones)."""
    import inspect
    fn = partial.func
    nfrozen, given = len(partial.args), len(args)
    every = partial.args + tuple(args)
    keywords = {**partial.keywords, **kwargs}
    layout: list = []       # the parameters after the arguments passed by keyword, by position
    target = _unwrapped(fn) if frozen_active else fn
    if isinstance(target, types.FunctionType) and keywords:
        # keywords of named parameters to their positions (the helper's kinds are positional)
        params = list(inspect.signature(target).parameters.values())
        plain = [p for p in params if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
        if len(every) <= len(plain):
            named = plain[len(every):]
            last = max((i for i, p in enumerate(named) if p.name in keywords and
                        p.kind == p.POSITIONAL_OR_KEYWORD), default=-1)
            layout = named[:last + 1]
            if any(p.name not in keywords and p.default is p.empty or
                   p.kind != p.POSITIONAL_OR_KEYWORD for p in layout):
                layout = []        # Python's TypeError, from the call as written

    def bound(call_args, call_kwargs):
        rest = {**partial.keywords, **call_kwargs}
        return partial.args + tuple(call_args) + tuple(
            rest.pop(p.name) if p.name in rest else p.default for p in layout), rest

    every, rest = bound(args, kwargs)
    if not frozen_active:
        # (its frozen values are constants of the pair: a gradient with respect to a leaf they reach is
        # refused; was: ``functools.partial(apply, model)`` passed or stored gave model's arrays zero)
        note_captured(functools.partial(_no_function, *partial.args, **partial.keywords),
                      functools.partial(_described, partial))
    mask = (frozen_active,) * nfrozen + tuple(active) + (frozen_active,) * len(layout)
    fwd, bwd = vjp_pair(fn, mask, every, rest)
    reads = _frozen_reads(partial, bwd)
    pair = None if frozen_active else _partial_source_pair(partial, fwd, bwd, given, tuple(kwargs), tuple(layout))
    if pair is not None:
        return pair[0], _reading(pair[1], reads)

    def forward_partial(*call_args, **call_kwargs):
        every_now, rest_now = bound(call_args, call_kwargs)
        return fwd(*every_now, **rest_now)

    def backward_partial(residuals, grad):
        return tuple(bwd(residuals, grad))[nfrozen:nfrozen + given]
    for f in (forward_partial, backward_partial):    # differentiating these again is refused
        f.__sct_partial__ = partial
        f.__sct_keyword__ = _clashing_keyword(kwargs)
    _reads_through(backward_partial, bwd)
    if reads:
        backward_partial.__sct_adjoint_reads__ = reads
    return forward_partial, backward_partial


def _reads_through(wrapper, bwd):
    """A backward ``wrapper`` that hands its residuals to ``bwd``: it reads what ``bwd`` reads (its globals, and
    its arguments' objects through the residuals: sct/stale_reads.py, rt.stale_kept's adjoints)."""
    for attr in ("__sct_adjoint_reads__", "__sct_residual_reads__", "__sct_outside_roots__"):
        if hasattr(bwd, attr):
            setattr(wrapper, attr, getattr(bwd, attr))
    return wrapper


def _frozen_reads(partial, bwd) -> tuple:
    """What the adjoint of a call of ``partial`` may read that code run between the call and the gradient may
    change in place: its function's (``__sct_adjoint_reads__``) and the plain arrays and lists frozen in it
    (``partial(part, w=W)``: ``W``), for the caller's check around such code (rt.stale_kept's adjoints; was: not
    checked, ``W[0] += 1`` between them gave [3, 2] where Python's derivative is [2, 2], red57a W1)."""
    from .runtime.dlarray import dlarray
    name = getattr(partial.func, "__name__", "?")
    frozen = [(f"functools.partial({name}, ...)'s argument {i}", v) for i, v in enumerate(partial.args)] + \
        [(f"functools.partial({name}, ...)'s {k}", v) for k, v in partial.keywords.items()]
    return tuple(getattr(bwd, "__sct_adjoint_reads__", ())) + tuple(
        (k, v) for k, v in frozen if type(v) is list or isinstance(v, np.ndarray) and not isinstance(v, dlarray))


def _reading(bwd, reads):
    """``bwd``, or a function of its code (the pair's generated source, shared by the partials of a function)
    that carries ``reads`` as its ``__sct_adjoint_reads__``."""
    if not reads:
        return bwd
    own = types.FunctionType(bwd.__code__, bwd.__globals__, bwd.__name__, bwd.__defaults__, bwd.__closure__)
    own.__dict__.update(vars(bwd))
    own.__qualname__, own.__module__ = bwd.__qualname__, bwd.__module__
    own.__sct_adjoint_reads__ = reads
    return own


_PARTIAL_PAIRS: "OrderedDict[Any, tuple]" = OrderedDict()


def _no_function(*args, **kwargs):
    """(a partial's frozen values, without its function: note_captured reads the function's own where it is compiled)"""


def _partial_source_pair(partial, fwd, bwd, given, keywords, layout):
    """The pair of a call of ``partial`` (``given`` positional arguments, these keywords) as
    generated source: ``fn_fwd``/``fn_bwd`` (the pair of its function) with the frozen arguments
    and keywords (constants) and the defaults of the ``layout`` parameters put in, as
    :func:`_partial_pair`'s ``bound`` binds them, so code calling it can be differentiated again.
    The generated forward takes the frozen arguments and keywords first; the pair's forward is it
    with those of ``partial`` put in, as a ``Closure`` (so that the code is shared by the partials
    of the same function and call: held by none, differentiated again once).  None where a keyword
    of the call takes a name the generated code uses."""
    if any(k in _CLOSURE_RESERVED or k in _PARTIAL_RESERVED or
           (k[:1] == "a" and k[1:].isdigit()) or not k.isidentifier() for k in keywords):
        return None
    merged = list(dict.fromkeys(list(partial.keywords) + list(keywords)))
    if any(not isinstance(k, str) or not k.isidentifier() for k in merged):
        return None
    nfrozen = len(partial.args)
    frozen_names = tuple(sorted(partial.keywords))
    key = (id(fwd), id(bwd), nfrozen, frozen_names, given, keywords, tuple(p.name for p in layout))
    with _WRAPPERS_LOCK:
        hit = _PARTIAL_PAIRS.get(key)
        if hit is not None and hit[0] is fwd and hit[1] is bwd:
            _PARTIAL_PAIRS.move_to_end(key)
            generated = hit[2:]
        else:
            generated = None
    if generated is None:
        params = ", ".join(["frozen", "frozen_keywords"] + [f"a{i}" for i in range(given)])
        kwonly = (", *, " + ", ".join(keywords)) if keywords else ""

        def named(name):
            return name if name in keywords else f"frozen_keywords[{name!r}]"
        passed = [f"frozen[{i}]" for i in range(nfrozen)] + [f"a{i}" for i in range(given)]
        defaults = []
        for p in layout:
            if p.name in keywords or p.name in partial.keywords:
                passed.append(named(p.name))
            else:
                passed.append(f"defaults[{len(defaults)}]")
                defaults.append(p.default)
        laid = {p.name for p in layout}
        passed += [f"{k}={named(k)}" for k in merged if k not in laid]
        grads = [f"grads[{nfrozen + i}]" for i in range(given)]
        source = (f"def partial_fwd({params}{kwonly}):\n"
                  f"    return fn_fwd({', '.join(passed)})\n\n\n"
                  f"def partial_bwd(residuals, grad):\n"
                  f"    grads = fn_bwd(residuals, grad)\n"
                  f"    return ({', '.join(grads)}{',' if given == 1 else ''})\n")
        generated = _exec_generated(source, "partial call", "partial_call",
                                    {"fn_fwd": fwd, "fn_bwd": bwd, "defaults": tuple(defaults)},
                                    ("partial_fwd", "partial_bwd"))
        _reads_through(generated[1], bwd)
        with _WRAPPERS_LOCK:
            _PARTIAL_PAIRS[key] = (fwd, bwd) + generated
            while len(_PARTIAL_PAIRS) > _WRAPPERS_MAX:
                _PARTIAL_PAIRS.popitem(last=False)
    forward = Closure(generated[0], (tuple(partial.args), dict(partial.keywords)), None, (), None, 0,
                      (f"functools.partial({getattr(partial.func, '__name__', '?')}, ...)",))
    return forward, generated[1]


def _closure_pair(closure, env_active, active, args, kwargs, receiver: bool):
    """The pair of a ``Closure``: its function with the captured values passed first; the
    adjoint of the closure (when it is the receiver) is the list of theirs.  Generated source
    (``_closure_source``) reading the captured values from the closure by item, so code calling
    it can be differentiated again and the adjoints reach the captured values at every order."""
    closure.check()
    count = len(closure)
    free, full, rest, used = closure.arguments(args, kwargs)
    nfree = len(free)
    given = len(args)
    # the arguments' marks, by position in ``full``: a default's is its captured value's (was: the
    # defaults' marks right after the call's positional arguments, so that a keyword naming an
    # earlier parameter, ``fn(v, scale=2.0)`` of ``def g(z, scale=1.0, bias=t)``, took bias's mark
    # and bias none: a zero derivative for t)
    marks = list(active[:given]) + [False] * (len(full) - min(given, len(active)))
    for position, j in used:
        marks[position] = env_active[j]
    mask = tuple(env_active[:nfree]) + tuple(marks)
    fwd, bwd = vjp_pair(closure.fn, mask, free + full, rest)
    late = tuple(sorted(closure.late or ()))
    layout = _closure_layout(closure, given, tuple(kwargs))
    if layout is not None:
        pair = _closure_source_pair(fwd, bwd, count, nfree, given, layout, tuple(kwargs),
                                    late, None if receiver else closure)
        if pair is not None:
            return pair

    def forward_closure(*call_args, **call_kwargs):
        if receiver:
            call_args = call_args[1:]
        closure.check()
        free_now, full_now, rest_now, _ = closure.arguments(call_args, call_kwargs)
        return fwd(*free_now, *full_now, **rest_now)

    def backward_closure(residuals, grad):
        adjoints = tuple(bwd(residuals, grad))
        mine = [ZERO if i in late else a for i, a in enumerate(adjoints[:nfree])] + [ZERO] * (count - nfree)
        for position, j in used:
            mine[j] = adjoints[nfree + position]
        outer = adjoints[nfree:nfree + given]
        if receiver:
            return (mine,) + outer
        return outer
    for f in (forward_closure, backward_closure):    # differentiating these again is refused
        f.__sct_closure__ = closure
        f.__sct_keyword__ = _clashing_keyword(kwargs)
    _reads_through(backward_closure, bwd)
    return forward_closure, backward_closure


def _closure_layout(closure, given: int, keywords: Tuple[str, ...]):
    """What ``Closure.arguments`` puts after the ``given`` positional arguments of a call with
    these keywords, as a tuple of ("keyword", name) (a keyword naming a positional parameter) and
    ("default", position in the closure) items; None where the call is not one it binds so."""
    nfree = len(closure) - closure.ndefaults
    code = getattr(closure.fn, "__code__", None)
    if code is None:
        return None
    params = code.co_varnames[nfree:code.co_argcount]
    first_default = len(params) - closure.ndefaults
    layout = []
    for i in range(given, len(params)):
        if params[i] in keywords:
            layout.append(("keyword", params[i]))
        elif i >= first_default:
            layout.append(("default", nfree + i - first_default))
        else:
            break
    return tuple(layout)


def _clashing_keyword(keywords) -> str:
    """The first keyword of a call that :func:`_closure_source_pair` / :func:`_partial_source_pair`
    cannot take (for the refusal of the fallback pair)."""
    return next((k for k in keywords if k in _CLOSURE_RESERVED or k in _PARTIAL_RESERVED or
                 (k[:1] == "a" and k[1:].isdigit()) or not k.isidentifier()), "?")


_CLOSURE_PAIRS: "OrderedDict[Any, tuple]" = OrderedDict()
_CLOSURE_RESERVED = {"receiver", "rt", "fn_fwd"}      # the names the forwards read
_PARTIAL_RESERVED = {"frozen", "frozen_keywords", "defaults"}


def _closure_source_pair(fwd, bwd, count, nfree, given, layout, keywords, late, closure):
    """The generated pair of a closure's call: ``fn_fwd``/``fn_bwd`` (the pair of its function,
    which takes the captured values first) with the captured values read from the closure by
    item.  ``closure`` None: the closure is the receiver (the forward takes it first, the
    adjoint gives it the list of the captured values' adjoints); else the closure called as a
    function (its captured values carry no adjoint, as ``vjp_pair`` passes them): the forward is
    the receiver's forward with ``closure`` put in, as a ``Closure`` (so that the generated code
    is shared by every closure of the same call: held by none, differentiated again once), and
    the adjoint drops the receiver's.  A captured name a loop rebound since (``late``) is read
    with ``rt.closure_late`` (a constant: an int, a string, ...), and the value the closure
    captured, which the call no longer reads, gets no adjoint (was: the late value's, so that
    ``s = w; fs = [lambda z: z * s]; s = 2.0; fs[0](x)`` gave w the derivative with respect to
    2.0).  None where a keyword of the
    call takes a name the generated code uses (the caller's fallback, not differentiated again)."""
    moved = {name for kind, name in layout if kind == "keyword"}
    if any(k in _CLOSURE_RESERVED or (k[:1] == "a" and k[1:].isdigit()) or not k.isidentifier()
           for k in keywords):
        return None
    key = (id(fwd), id(bwd), count, nfree, given, layout, keywords, late)
    with _WRAPPERS_LOCK:
        hit = _CLOSURE_PAIRS.get(key)
        if hit is not None and hit[0] is fwd and hit[1] is bwd:
            _CLOSURE_PAIRS.move_to_end(key)
            generated = hit[2:]
        else:
            generated = None
    if generated is None:
        params = ", ".join(["receiver"] + [f"a{i}" for i in range(given)])
        kwonly = (", *, " + ", ".join(keywords)) if keywords else ""
        passed = [f"rt.closure_late(receiver, {i})" if i in late else f"receiver[{i}]" for i in range(nfree)]
        passed += [f"a{i}" for i in range(given)]
        passed += [item if kind == "keyword" else f"receiver[{item}]" for kind, item in layout]
        passed += [f"{k}={k}" for k in keywords if k not in moved]
        outer = [f"grads[{nfree + i}]" for i in range(given)]
        mine = [f"grads[{i}]" if i not in late else "rt.ZERO" for i in range(nfree)] + ["rt.ZERO"] * (count - nfree)
        for position, (kind, item) in enumerate(layout):
            if kind == "default":
                mine[item] = f"grads[{nfree + given + position}]"
        with_receiver = ["[" + ", ".join(mine) + "]"] + outer
        source = (f"def closure_fwd({params}{kwonly}):\n"
                  f"    rt.closure_check(receiver)\n"
                  f"    return fn_fwd({', '.join(passed)})\n\n\n"
                  f"def closure_bwd(residuals, grad):\n"
                  f"    grads = fn_bwd(residuals, grad)\n"
                  f"    return ({', '.join(with_receiver)},)\n\n\n"
                  f"def closure_value_bwd(residuals, grad):\n"
                  f"    grads = fn_bwd(residuals, grad)\n"
                  f"    return ({', '.join(outer)}{',' if len(outer) == 1 else ''})\n")
        generated = _exec_generated(source, "closure call", "closure_call", {"fn_fwd": fwd, "fn_bwd": bwd},
                                    ("closure_fwd", "closure_bwd", "closure_value_bwd"))
        _reads_through(generated[1], bwd)
        _reads_through(generated[2], bwd)
        with _WRAPPERS_LOCK:
            _CLOSURE_PAIRS[key] = (fwd, bwd) + generated
            while len(_CLOSURE_PAIRS) > _WRAPPERS_MAX:
                _CLOSURE_PAIRS.popitem(last=False)
    if closure is None:
        return generated[0], generated[1]
    forward = Closure(generated[0], (closure,), None, (), closure.line, 0, closure.shown)
    return forward, generated[2]


def vjp_init_pair(cls, active, args, kwargs):
    """The pair for ``cls.__init__`` differentiated as a function returning the new object."""
    init = cls.__init__
    if _generated_dataclass_init(cls):
        if not hasattr(cls, "__post_init__"):
            return _record_pair(cls, len(args) - 1, tuple(kwargs), namedtuple=False)
        init = dataclass_post_init(cls)         # its fields set, then __post_init__ (sct/base_inits.py)
        if init is None:
            if any(active):
                raise CompileError(f"differentiating through the construction of the dataclass "
                                   f"{cls.__qualname__}, which has a __post_init__ and a default factory, an "
                                   "InitVar, keyword-only or frozen fields (or a __post_init__ other than a method of self alone: a "
                                   "classmethod, more parameters), is not supported: give it an "
                                   "ordinary __init__ (sct differentiates that), or build it before dlfeval")
            return _record_pair(cls, len(args) - 1, tuple(kwargs), namedtuple=False)
    compiled = _compiled_vjp(init, tuple(args), tuple(active), returns_self=True)
    return compiled.fwd, compiled.bwd


def _record_pair(cls, count, keywords, namedtuple: bool):
    """The pair of building a namedtuple or a dataclass (with the ``__init__`` that
    ``@dataclass`` wrote): the adjoint of each argument is the adjoint of its field.
    Generated source, so it can be differentiated again."""
    import inspect
    signature = inspect.signature(cls if namedtuple else cls.__init__)
    names = [p.name for p in signature.parameters.values()
             if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
    if not namedtuple:
        names = names[1:]                      # self
        import dataclasses
        fields = {f.name for f in dataclasses.fields(cls)}
    else:
        fields = set(cls._fields)
    params = ", ".join(([] if namedtuple else ["receiver"]) + [f"a{i}" for i in range(count)])
    kwonly = ((", *, " if params else "*, ") + ", ".join(keywords)) if keywords else ""
    passed = ", ".join([f"a{i}" for i in range(count)] + [f"{k}={k}" for k in keywords])
    grads = [] if namedtuple else ["rt.ZERO"]
    for i in range(count):
        name = names[i] if i < len(names) else None
        if name in fields:
            grads.append(f"rt.field_adjoint(grad, {name!r}, {i if namedtuple else None})")
        else:
            grads.append("rt.ZERO")
    result = ", ".join(grads) + ("," if len(grads) == 1 else "")
    source = (f"def op_fwd({params}{kwonly}):\n"
              f"    out = cls({passed})\n"
              f"    return out, None\n\n\n"
              f"def op_bwd(residuals, grad):\n"
              f"    return ({result})\n")
    return _generated_pair("record", cls, None, source, (count, keywords, namedtuple))


def _is_zero_tangent(t) -> bool:
    return t is None or t is ZERO or (type(t) is float and t == 0.0)


def jvp_call_impl(fn, args, tangents, kwargs):
    fn = _unwrapped(fn)
    fn = registry.readable(fn)
    if not isinstance(fn, (types.FunctionType, types.MethodType, type)) and \
            isinstance(getattr(type(fn), "__call__", None), types.FunctionType):
        fn = types.MethodType(type(fn).__call__, fn)        # (as vjp_pair)
    if isinstance(fn, Closure):
        fn.check()
        if any(np.issubdtype(np.result_type(v), np.inexact) for v in fn
               if isinstance(v, (np.ndarray, float, complex, np.generic)) or hasattr(v, "_data")):
            raise CompileError(f"forward mode does not follow the values the nested function "
                               f"{getattr(fn.fn, '__name__', '?')}() (line {fn.line}) captured when it is "
                               "passed as a value; call it directly in the function that defines it, "
                               "or use reverse mode (dlgradient)")
        free, full, rest, _ = fn.arguments(args, kwargs)
        dots = tuple(tangents) + (ZERO,) * (len(full) - len(tangents))
        return jvp_call_impl(fn.fn, free + full, (ZERO,) * len(free) + dots, rest)
    _refuse_closure_wrapper(fn)
    if isinstance(fn, types.MethodType):
        return jvp_call_impl(fn.__func__, (fn.__self__,) + tuple(args), (ZERO,) + tuple(tangents), kwargs)
    if _formatted_call(fn, kwargs, args):        # (as vjp_pair: softmax's tangent along the format's C axis)
        active = tuple(not _is_zero_tangent(t) for t in tangents)
        return jvp_call_impl(_formatted_wrapper(fn, active, args, kwargs), args, tangents, kwargs)
    adapted = _keywords_adapter_call(fn, args, kwargs)
    if adapted is not None:
        active = tuple(not _is_zero_tangent(t) for t in tangents)
        return jvp_call_impl(_formatted_wrapper(adapted[0], active, args, kwargs, adapted[1]), args, tangents,
                             kwargs)
    rule = registry.lookup(fn)
    if rule is not None:
        refuse_user_operands(fn, args, kwargs)
        refuse_output_argument(fn, rule, args, kwargs)
        out = fn(*args, **kwargs)
        return out, op_jvp_impl(fn, args, kwargs, tangents, {}, out)
    if not isinstance(fn, types.FunctionType):
        if registry.is_nondifferentiable(fn):
            from .runtime.support import zero_adjoint
            out = fn(*args, **kwargs)
            return out, zero_adjoint(out)
        raise CompileError(f"forward mode has no rule for {getattr(fn, '__qualname__', fn)!r}")
    active = tuple(not _is_zero_tangent(t) for t in tangents)
    kinds = tuple(kind_of(a, traced=m) for a, m in zip(args, active))
    key = ("jvp",) + function_key(fn) + (kinds, active, registry.rules_version(), context_key())
    compiled = HELPERS.lookup(key, fn)
    if compiled is None:
        compiled = compile_function(fn, kinds, mode="jvp", active_mask=active)
        HELPERS.insert(key, compiled)
    params = compiled.entry.__code__.co_argcount // 2
    values = list(args) + [None] * (params - len(args))
    dots = list(tangents) + [ZERO] * (params - len(tangents))
    if len(args) < params:                 # keywords naming a positional parameter, else its default
        defaults = fn.__defaults__ or ()
        kwargs = dict(kwargs)
        names = fn.__code__.co_varnames
        for i in range(len(args), params):
            if names[i] in kwargs:
                values[i] = kwargs.pop(names[i])
            else:
                values[i] = defaults[i - (params - len(defaults))]
    for name, default in (fn.__kwdefaults__ or {}).items():     # keyword-only defaults
        kwargs = kwargs if name in kwargs else {**kwargs, name: default}
    return compiled.entry(*values, *dots, **kwargs)


def _scalar_lists_as_arrays(op, args, kwargs, tangents, keyword_tangents):
    """A numpy function given a list or tuple of numbers with a list of their tangents (``np.var([a,
    b, c])``): both as the arrays numpy makes of them, which its rule reads (was: the rule's
    arithmetic on the lists, a TypeError while evaluating the tangent)."""
    if not registry.reads_lists_as_arrays(op):
        return args, kwargs, tangents, keyword_tangents

    def scalars(v):
        return isinstance(v, (list, tuple)) and len(v) > 0 and all(np.ndim(e) == 0 and not isinstance(e, str)
                                                                    for e in v)

    def pair(v, t):
        if not (scalars(v) and isinstance(t, (list, tuple)) and len(t) == len(v)):
            return v, t
        value = np.asarray(v)
        dtype = value.dtype if value.dtype.kind in "fc" else np.float64
        return value, np.array([0.0 if _is_zero_tangent(e) else e for e in t], dtype=dtype)
    if not any(scalars(v) for v in list(args) + list(kwargs.values())):
        return args, kwargs, tangents, keyword_tangents
    pairs = [pair(v, t) for v, t in zip(args, tangents)]
    args = tuple(v for v, _ in pairs) + tuple(args[len(pairs):])
    tangents = tuple(t for _, t in pairs) + tuple(tangents[len(pairs):])
    kwargs, keyword_tangents = dict(kwargs), dict(keyword_tangents)
    for k, t in list(keyword_tangents.items()):
        if k in kwargs:
            kwargs[k], keyword_tangents[k] = pair(kwargs[k], t)
    return args, kwargs, tangents, keyword_tangents


# a dict's tangent is a dict of its values' (an OrderedDict's too, rt.ordered_dict: was taken for another object, its
# zeros the float zero and d.values()'s tangent read through the rule by index, an IndexError in forward mode)
_DICTS = (dict, OrderedDict)


def op_jvp_impl(op, args, kwargs, tangents, keyword_tangents, ans):
    """J @ tangent for one op: the vjp of its rule with respect to g (rules are linear in g)."""
    from .runtime.support import zero_adjoint
    if isinstance(ans, (type({}.values()), type({}.items()), type({}.keys()))):
        ans = list(ans)                    # d.values() called as a method: the rule's list
    from .runtime.support import as_sequence, bit_or, dict_merged, dict_or, zero_tangent
    if op is as_sequence and args and isinstance(args[0], dict):
        return zero_tangent(ans)           # `for key in d`: the keys, constants
    from .runtime.support import dict_items, dict_values
    if op in (dict_items, dict_values) and len(args) == 1 and not kwargs and type(args[0]) in _DICTS:
        return _dict_view_tangent(op is dict_items, args[0], tangents[0] if tangents else None)
    if op in (dict_merged, dict_or, bit_or) and len(args) == 2 and not kwargs and \
            type(args[0]) in _DICTS and type(args[1]) in _DICTS:
        return _dict_merged_tangent(args, tangents, ans)      # {**a, **b}, a | b, d.update(...)
    rule = registry.lookup(op)
    args, kwargs, tangents, keyword_tangents = _scalar_lists_as_arrays(op, args, kwargs, tangents, keyword_tangents)
    dots: Dict[str, Any] = {}
    items: Dict[str, list] = {}
    for (name, item), t in zip(_positional_parameters(rule.signature, len(tangents)), tangents):
        if name is None:
            continue
        if item is not None:
            # the items a *name parameter collects: its cotangent is one per item, as the rule's
            # adjoint of it is (np.einsum's operands, max's args)
            items.setdefault(name, []).append(ZERO if _is_zero_tangent(t) else t)
        elif not _is_zero_tangent(t):
            dots[name] = t
    dots.update({name: tuple(ts) for name, ts in items.items() if any(t is not ZERO for t in ts)})
    dots.update({k: t for k, t in keyword_tangents.items() if not _is_zero_tangent(t)})
    wanted = [p for p in rule.wrt if p in dots]
    if not wanted:
        return zero_adjoint(ans)
    g0 = _zeros_like_output(ans)
    active = (True,) + (False,) * (1 + len(args))
    fwd, bwd = vjp_pair(rule.fn, active, (g0, ans) + tuple(args), kwargs)
    _, residuals = fwd(g0, ans, *args, **kwargs)
    if len(rule.wrt) == 1:
        cotangent = dots[rule.wrt[0]]
    else:
        cotangent = tuple(dots.get(p, ZERO) for p in rule.wrt)
    tangent = bwd(residuals, cotangent)[0]
    # (the marker where the rule's result does not depend on g, np.floor's: zeros of ans's shape)
    if _is_zero_tangent(tangent):
        return zero_adjoint(ans)
    # a real value's tangent is real (was: np.sum(np.abs(y), initial=c) of a complex c, whose value numpy
    # takes the real part of, kept c's complex tangent: np.imag of it gave a wrong jvp)
    from .runtime.support import real_if_real
    return _in_precision_of(real_if_real(tangent, ans), ans)


def _in_precision_of(tangent, ans):
    """The tangent in the precision of the op's value where both are real or both complex arrays (a
    tangent is in its value's dtype, as numpy computes the value): np.asarray(x, dtype=np.float64) of
    a float32 x had a float32 tangent, np.angle of a complex64 value a float64 one (red team N,
    dec 26).  Anything else as it is."""
    kind = getattr(getattr(ans, "dtype", None), "kind", None)
    if kind not in ("f", "c") or not isinstance(ans, (np.ndarray, np.generic)) or \
            not isinstance(tangent, (np.ndarray, np.generic)):
        return tangent
    if tangent.dtype.kind == kind and tangent.dtype != ans.dtype:
        return tangent.astype(ans.dtype)
    return tangent


def _zeros_like_output(ans):
    """The g at which op_jvp_impl differentiates a rule (linear in g): zeros of the output's shapes,
    never the zero marker (zero_adjoint gives the marker for a Python float and each item of a
    tuple, on which a rule takes its branch for 'no adjoint reached': a result constant in g, and
    a zero tangent for np.meshgrid's outputs, say)."""
    from .runtime.support import _is_namedtuple, zero_adjoint
    if isinstance(ans, tuple):
        zeros = tuple(_zeros_like_output(v) for v in ans)
        # np.linalg.eigh's EighResult, svd's SVDResult...: the same record of zeros
        return type(ans)(*zeros) if _is_namedtuple(ans) else zeros
    if isinstance(ans, list):
        return [_zeros_like_output(v) for v in ans]
    if type(ans) in _DICTS:
        # a dict's zeros item by item, so the rule's g has the kinds of its items (was: the float zero,
        # taken for real: the transposed rule of dict(...) took np.real of the dict of complex
        # tangents, a 0-d object array, and d.values()'s tangent was 0)
        return {k: _zeros_like_output(v) for k, v in ans.items()}
    if type(ans) is float:
        return np.float64(0.0)
    if type(ans) is complex:
        return np.complex128(0.0)
    return zero_adjoint(ans)


def _dict_view_tangent(items, mapping, dot):
    """The tangent of ``d.items()`` (a list of (key, value) pairs) or ``d.values()``: each value's
    tangent from ``dot``, the dict's tangent, and a constant key.  (The transposed rule gave the pair
    of a Python float's key the float zero itself rather than a pair, and the loop unpacking it
    raised "'float' object is not subscriptable", red team gen s42.)"""
    from .runtime.support import zero_tangent
    out = []
    for key, value in mapping.items():
        item = dot.get(key) if isinstance(dot, dict) else None
        t = zero_tangent(value) if _is_zero_tangent(item) else item
        out.append((zero_tangent(key), t) if items else t)
    return out


def _dict_merged_tangent(args, tangents, ans):
    """The tangent of ``{**a, **b}`` (``d.update(...)``, a dict display with ``**``): each key's
    tangent from the dict its value came from (b's where both have it), zeros for a constant
    dict.  (The transposed rule would add dicts to the float zero it starts its adjoint from.)"""
    from .runtime.support import zero_tangent
    a, b = args
    dots = tuple(tangents) + (None,) * (2 - len(tangents))
    out = {}
    for key, value in ans.items():
        source, dot = (b, dots[1]) if key in b else (a, dots[0])
        item = dot.get(key) if isinstance(dot, dict) else None
        out[key] = zero_tangent(value) if _is_zero_tangent(item) else item
    return out


def _primitive_pair(op, rule, count: int, keywords: Tuple[str, ...] = ()):
    """The pair of an op (a function with a rule) called with ``count`` positional arguments
    and these keywords: generated source calling the op and its rule, so code calling it can
    be differentiated again (an op held in a field or passed as an argument)."""
    params = ", ".join(f"a{i}" for i in range(count))
    kwonly = (", *, " + ", ".join(keywords)) if keywords else ""
    if not params and keywords:
        kwonly = "*, " + ", ".join(keywords)
    passed = ", ".join([f"a{i}" for i in range(count)] + [f"{k}={k}" for k in keywords])
    saved = [f"a{i}" for i in range(count)] + list(keywords)
    grads = []
    for name, item in _positional_parameters(rule.signature, count):
        if name in rule.wrt:
            result = "results" if len(rule.wrt) == 1 else f"results[{rule.wrt.index(name)}]"
            # an argument *args collects: the rule gives one adjoint per item of it (as the
            # direct call's adjoint reads it, sct/contributions.py: rule_pieces)
            grads.append(result if item is None else f"rt.getitem_or_zero({result}, {item})")
        else:
            grads.append("rt.ZERO")
    unpack = f"    ({', '.join(saved + ['out'])},) = residuals\n"
    source = (f"def op_fwd({params}{kwonly}):\n"
              f"    out = op({passed})\n"
              f"    return out, ({', '.join(saved + ['out'])},)\n\n\n"
              f"def op_bwd(residuals, grad):\n"
              + unpack +
              f"    results = rule({', '.join(['grad', 'out'] + [p for p in passed.split(', ') if p])})\n"
              f"    return ({', '.join(grads)}{',' if count == 1 else ''})\n")
    return _generated_pair("op", op, rule.fn, source, (count, keywords))


def _positional_parameters(signature, count: int) -> List[Tuple[Optional[str], Optional[int]]]:
    """The parameter each of ``count`` positional arguments binds to, as ``(name, None)``, or
    ``(name, j)`` for the j-th item that a ``*name`` parameter collects (np.einsum's operands,
    max's args); ``(None, None)`` for one no parameter takes."""
    out: List[Tuple[Optional[str], Optional[int]]] = []
    for p in signature.parameters.values():
        if len(out) == count:
            break
        if p.kind == p.VAR_POSITIONAL:
            out += [(p.name, j) for j in range(count - len(out))]
        elif p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD):
            out.append((p.name, None))
        else:
            break
    return out + [(None, None)] * (count - len(out))


def _string_method(fn) -> bool:
    """``"{:.3f}".format(loss)``, ``", ".join(...)``: a method of a str, whose result (a str,
    a bool, an index) carries no derivative."""
    return isinstance(fn, types.BuiltinMethodType) and isinstance(getattr(fn, "__self__", None), str)


def _constant_pair(fn, count: int, keywords: Tuple[str, ...] = (), draw: bool = False, text: bool = False):
    """The pair of a function without derivative (its adjoints are zero), generated like
    :func:`_primitive_pair`.  ``draw``: a draw without derivative (see :func:`_drawing_with_integers`),
    run through ``rt.effect``, logged once and replayed where a second derivative recomputes the
    code, as the draws the compiler sees are.  ``text``: a str's method (``"{}".format(v)``), given
    each value through ``rt.text_operand`` (a dlarray held in an argument's container shown as the numpy
    array or scalar it stands for, as Python shows it; was the dlarray's display)."""
    params = ", ".join(f"a{i}" for i in range(count))
    kwonly = (", *, " if params else "*, ") + ", ".join(keywords) if keywords else ""
    shown = (lambda v: f"rt.text_operand({v})") if text else (lambda v: v)
    passed = ", ".join([shown(f"a{i}") for i in range(count)] + [f"{k}={shown(k)}" for k in keywords])
    zeros = ", ".join(["rt.ZERO"] * count) + ("," if count == 1 else "")
    run = f"rt.effect(op{', ' + passed if passed else ''})" if draw else f"op({passed})"
    source = (f"def op_fwd({params}{kwonly}):\n"
              f"    return {run}, None\n\n\n"
              f"def op_bwd(residuals, grad):\n"
              f"    return ({zeros})\n")
    return _generated_pair("draw" if draw else "text" if text else "const", fn, None, source, (count, keywords))


def _integral(v) -> bool:
    """A value that carries no derivative whatever the compiler thought of it: an int, a bool, None,
    a str, or a tuple or list of those, or an array of integers or booleans (a shape, a count)."""
    import numpy as np
    if v is None or isinstance(v, (bool, int, str, np.integer, np.bool_)):
        return True
    if isinstance(v, (tuple, list)):
        return all(_integral(e) for e in v)
    return type(v) is np.ndarray and v.dtype.kind in "biu"


def _drawing_with_integers(fn, args, kwargs) -> bool:
    """``rs.randn(*m.shape)`` of a random generator (numpy's RandomState or Generator, numpy.random's
    or Python's random functions) whose arguments the compiler could not prove constant (``m`` the
    result of a helper) but are integers when it runs: a draw without derivative.  (Red team B, dec
    23: autograd's VAE example, ``rs.randn(*mean.shape)`` of a helper's result, was refused as "no
    derivative rule for 'RandomState.randn'"; ``np.random.randn(*m.shape)`` ran.)"""
    from .runtime.effects import _RANDOM_OWNERS, effectful
    owner = getattr(fn, "__self__", None)
    module = getattr(fn, "__module__", None) or ""
    drawing = isinstance(owner, _RANDOM_OWNERS) or module.startswith("numpy.random") or \
        (isinstance(owner, __import__("types").ModuleType) and owner.__name__ in ("numpy.random", "random"))
    return drawing and effectful(fn) and all(_integral(a) for a in args) and \
        all(_integral(v) for v in kwargs.values())


_OP_PAIRS: "OrderedDict[Any, tuple]" = OrderedDict()


def _generated_pair(tag, op, rule_fn, source, shape):
    key = (tag, id(op), id(rule_fn), shape, registry.rules_version())
    with _WRAPPERS_LOCK:
        hit = _OP_PAIRS.get(key)
        if hit is not None and hit[0] is op and hit[1] is rule_fn:
            _OP_PAIRS.move_to_end(key)
            return hit[2], hit[3]
    pair = _exec_generated(source, f"{tag} {getattr(op, '__name__', 'op')}", tag,
                           {"op": op, "cls": op, "rule": rule_fn}, ("op_fwd", "op_bwd"))
    with _WRAPPERS_LOCK:
        _OP_PAIRS[key] = (op, rule_fn) + pair
        while len(_OP_PAIRS) > _WRAPPERS_MAX:
            _OP_PAIRS.popitem(last=False)
    return pair


# --- call sites ------------------------------------------------------------------------------------
# Each call that generated code makes through rt.vjp/vjp_method/vjp_init/primal_call/primal_method
# gets a site object in the generated globals (``sct.call_sites.attach_sites``, run by the compiler on the
# generated functions): ``rt.vjp(helper, mask, *args)`` becomes ``rt.vjp_at(helper_site, helper, mask, *args)``.
# The site keeps the pairs it used with a matcher of the arguments' kinds (sct.kinds.make_matcher)
# and the code's guards; a call matching an entry runs the generated code without computing kinds
# or looking up the cache.  Any other call comes here: the general path, and an entry for next time.

def _add_entry(site, entry) -> None:
    from .runtime.support import CallSite
    site.entries = ((entry,) + site.entries)[:CallSite.MAX_ENTRIES]


def _traced(active, args) -> tuple:
    return tuple(bool(m) for m in active[:len(args)]) + (False,) * (len(args) - len(active))


def _always(fn) -> bool:
    return True


def site_miss(site, op, target, name, active, args, kwargs):
    """A call at ``site`` that none of its entries matched: the general path (``vjp_pair`` and
    the others), and, where the callee is a Python function compiled for these kinds, an entry
    so that the next such call runs its generated code directly."""
    from .runtime.support import CallSite
    site.misses += 1
    cacheable = site.misses <= CallSite.MAX_MISSES
    active = tuple(active)
    version = registry.rules_version()          # before compiling: an entry is as old as its rules
    if site.summarised is not None:     # (sct/call_tree.py Summarised)
        site.summarised.at_miss(op, target, name)
    frames = _MISSES.frames
    frames.append((site, args))     # (read by _refuse_joint_args, whichever path compiles the callee)
    try:
        if op in ("vjp", "primal_call"):
            return _function_miss(site, op, target, active, args, kwargs, cacheable, version)
        if op in ("vjp_method", "primal_method"):
            return _method_miss(site, op, target, name, active, args, kwargs, cacheable, version)
        if op == "vjp_init":
            return _init_miss(site, target, active, args, kwargs, cacheable, version)
        raise AssertionError(op)
    finally:
        frames.pop()


def _function_miss(site, op, fn, active, args, kwargs, cacheable, version):
    """``rt.vjp_at`` / ``rt.primal_call_at`` of a function."""
    if not cacheable or type(fn) is not types.FunctionType or \
            getattr(fn, "__sct_closure__", None) is not None or \
            registry.lookup(fn) is not None or registry.is_nondifferentiable(fn) or \
            any(isinstance(a, types.MethodType) for a in args) or \
            _format_site(fn, args, kwargs) or \
            getattr(fn, "__sct_keywords__", None) is not None:    # checked each time (vjp_pair: DataFormat's value)
        if op == "vjp":
            return vjp_pair(fn, active, args, kwargs)
        return primal_call(fn, active, args, kwargs)
    _refuse_forward_mode_entry(fn)
    if op == "vjp":
        _refuse_closure_wrapper(fn)
        compiled = _compiled_vjp(fn, args, active)
        first, second = compiled.fwd, compiled.bwd
    else:
        if getattr(fn, "__sct_generated__", False) or len(active) != len(args):
            return primal_call(fn, active, args, kwargs)
        compiled = _compiled_primal(fn, args, active)
        first, second = compiled.entry, None
    match = make_matcher(args, _traced(active, args))
    if match is not None:
        _add_entry(site, SiteEntry(fn, active, match, compiled.check, version, first, second, fn, ()))
    return (first, second) if op == "vjp" else first(*args, **kwargs)


def _method_miss(site, op, obj, name, active, args, kwargs, cacheable, version):
    """``rt.vjp_method_at`` / ``rt.primal_method_at``: ``obj.name(...)``."""
    general = (lambda: vjp_method_pair(obj, name, active, args, kwargs)) if op == "vjp_method" else \
        (lambda: primal_method(obj, name, active, args, kwargs))
    if not cacheable or isinstance(obj, Closure) or len(active) != len(args) or not args or \
            args[0] is not obj or any(isinstance(a, types.MethodType) for a in args):
        return general()
    method = method_of(obj, name)
    if not (type(method) is types.MethodType and method.__self__ is obj and
            type(method.__func__) is types.FunctionType):
        return general()
    from .runtime.layers import Layer, uses_custom_backward
    if uses_custom_backward(obj, name):
        return general()
    func = method.__func__
    if op == "vjp_method":
        compiled = _compiled_vjp(func, args, active)
        first, second = compiled.fwd, compiled.bwd
    else:
        compiled = _compiled_primal(func, args, active)
        first, second = compiled.entry, None
    match = make_matcher(args, _traced(active, args))
    if match is not None:
        check = compiled.check
        if isinstance(obj, Layer):        # a backward added to the class later takes over
            cls = type(obj)
            check = (lambda f, check=compiled.check: check(f) and
                     not callable(getattr(cls, "backward", None)))
        _add_entry(site, SiteEntry(type(obj), active, match, check, version, first, second, func, ()))
    return (first, second) if op == "vjp_method" else first(*args, **kwargs)


def _init_miss(site, cls, active, args, kwargs, cacheable, version):
    """``rt.vjp_init_at``: a class called (its ``__init__`` differentiated)."""
    pair = vjp_init_pair(cls, active, args, kwargs)
    if not cacheable or not isinstance(cls, type):
        return pair
    init = cls.__init__
    if _generated_dataclass_init(cls) and hasattr(cls, "__post_init__"):
        return pair             # (not cached at the site: vjp_init_pair's cache of the class)
    if _generated_dataclass_init(cls):
        count = len(args)
        match = lambda a: len(a) == count   # noqa: E731
        # a __post_init__ added to the class later: the general path (which refuses it)
        check = lambda f, cls=cls: not hasattr(cls, "__post_init__")   # noqa: E731
    elif type(init) is types.FunctionType:
        compiled = _compiled_vjp(init, tuple(args), active, returns_self=True)
        if (compiled.fwd, compiled.bwd) != tuple(pair):
            return pair
        match, check = make_matcher(args, _traced(active, args)), compiled.check
    else:
        return pair
    if match is not None:
        _add_entry(site, SiteEntry(cls, active, match, check, version, pair[0], pair[1], init,
                                   tuple(kwargs)))
    return pair


# Generated code reaches the functions above through the runtime's hooks: the compiler
# installs them, so the runtime never imports the compiler.
from .runtime import support as _support  # noqa: E402

_support.HOOKS.vjp_pair = vjp_pair
_support.HOOKS.vjp_method_pair = vjp_method_pair
_support.HOOKS.vjp_init_pair = vjp_init_pair
_support.HOOKS.jvp_call_impl = jvp_call_impl
_support.HOOKS.op_jvp_impl = op_jvp_impl
_support.HOOKS.primal_call = primal_call
_support.HOOKS.primal_method = primal_method
_support.HOOKS.site_miss = site_miss
_support.HOOKS.function_state = note_function_state


from .parse import user_line as _user_line  # noqa: E402

_support.LINES.user_line = _user_line
from .aliasing import changes_arguments as _changes_arguments  # noqa: E402

_support.HOOKS.changes_arguments = _changes_arguments


def _writes_outside(fn) -> bool:
    """Whether calling ``fn`` (the user's function, method, class or callable object) may write into
    an object of a global or closure value (sct/recompute_writes.py reads its source); True when unsure."""
    from .recompute_writes import written_objects_read
    key = getattr(fn, "__func__", fn)
    known = _WRITES_OUTSIDE.get(id(key))
    if known is not None and known[0] is key and (known[2] is None or known[2]()):
        return known[1]
    try:
        written, holds = written_objects_read(fn)
        found = bool(written)
    except Exception:
        found, holds = True, None
    if len(_WRITES_OUTSIDE) > 512:
        _WRITES_OUTSIDE.clear()
    _WRITES_OUTSIDE[id(key)] = (key, found, holds)
    return found


# id(function) -> (function, whether it writes outside objects, whether what that answer read holds:
# its code and its helpers' are still those read, recompute_writes.written_objects_read)
_WRITES_OUTSIDE: dict = {}


_support.HOOKS.writes_outside = _writes_outside


def _changing_hooks(cls) -> dict:
    """(runtime's rt.recompute_hooked: a class's implicit code that may change an object, sct/recompute_hooks.py)"""
    from .recompute_hooks import changing_hooks
    return changing_hooks({cls})


_support.HOOKS.changing_hooks = _changing_hooks


def _walk_changes(cls):
    """(runtime's walked_object: the label of a walk protocol method of the user's of ``cls`` that may change an
    object, ``Loader.__iter__``, else None; sct/recompute_hooks.py walk_changes)"""
    from .recompute_hooks import walk_changes
    return walk_changes(cls)


_support.HOOKS.walk_changes = _walk_changes


def _changes(fn) -> bool:
    """(runtime's recompute_hooked: may ``fn``, a function of the user's, change an object it does not make)"""
    from .recompute_hooks import _may_change
    return _may_change(fn)


_support.HOOKS.changes = _changes
