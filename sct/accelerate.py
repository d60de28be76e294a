"""AcceleratedFunction: a function compiled and cached per kinds of arguments.

This is MATLAB's ``dlaccelerate``.  In sct every function that ``dlfeval`` runs
is already compiled this way; an AcceleratedFunction makes the cache visible
and usable outside ``dlfeval`` too.
"""
from __future__ import annotations

import types

import functools
from typing import Any, Callable, Tuple

import numpy as np

from .runtime import registry
from .runtime.dlarray import unwrap, wrap_outputs
from .runtime.formats import apply_formats
from .runtime.support import _TYPES_SURE

from .api import (MISS, GeneratedSource, _hit_parts, _outside_reads, _positional_call, _read_values_kept, dlfeval,
                  make_call_from, run_compiled, run_entry, run_generated, user_error)
from .cache import LRU
from .callables import WrappedFunction, as_function
from .errors import SctError
from .compiler import Compiled, compile_function
from .kinds import kind_of
from .unroll import compile_entry, entry_values, values_key


class AcceleratedFunction(WrappedFunction):
    """The compiled, cached form of ``fn`` (``sct.dlaccelerate(fn)`` or ``@sct.accelerate``).

    >>> @accelerate
    ... def model(w, x):
    ...     return np.tanh(w @ x)
    >>> y = model(w, x)                         # doctest: +SKIP
    >>> model.hit_rate, model.occupancy          # doctest: +SKIP

    The cache is keyed on what the generated code depends on: the function's
    code and the globals and closure values it reads (a change recompiles),
    and the *kinds* of the arguments: type, dtype and rank of each array
    (not its shape), numbers' types, and the structure of containers.  Calls
    with new shapes of the same rank and dtype hit; a new dtype, rank or
    container structure misses.
    """

    def __init__(self, fn: Callable, cache_size: int = 50, CheckMode: str = "none",
                 CheckTolerance: float = 1e-4) -> None:
        if isinstance(fn, AcceleratedFunction):
            fn = fn.fn
        elif isinstance(fn, types.MethodType) and isinstance(fn.__func__, AcceleratedFunction):
            # dlaccelerate(m.f) of a method decorated with @sct.accelerate: m.f is the accelerated
            # function bound to m (its __get__); accelerated again, the plain method bound to m (was:
            # a TypeError, m left out of the call)
            inner = fn.__func__.fn
            fn = types.MethodType(inner.__func__ if isinstance(inner, (classmethod, staticmethod)) else inner,
                                  fn.__self__)
        # @sct.accelerate over @staticmethod: the function itself (a staticmethod object is not one sct
        # reads: "no derivative rule for 'K.h'"), read through the class or an instance unbound (__get__)
        self._static = isinstance(fn, staticmethod)
        if self._static:
            fn = fn.__func__
        self.fn = fn
        self._cache = LRU(cache_size, per_key=1)     # bounded and thread-safe; one fn: one entry a key
        self._enabled = True
        self.CheckMode = CheckMode
        self.CheckTolerance = CheckTolerance
        self._hits = 0
        self._misses = 0
        # ((call, compiled, bucket), ...): cached entries (sct.api.make_call); none unless enabled
        # with CheckMode "none", so __call__ tests neither
        self._fast = ()
        functools.update_wrapper(self, fn)

    @property
    def enabled(self) -> bool:
        """Whether calls use the cache (False: compiled on every call, as under dlfeval); settable."""
        return self._enabled

    @enabled.setter
    def enabled(self, value: bool) -> None:
        self._enabled = value
        self._fast = ()

    @property
    def cache_size(self) -> int:
        """The most compiled entries kept (least recently used out first); settable."""
        return self._cache.maxsize

    @cache_size.setter
    def cache_size(self, size: int) -> None:
        self._cache.resize(size)
        self._fast = ()

    # --- statistics ----------------------------------------------------------------------
    @property
    def occupancy(self) -> float:
        """The fraction of the cache in use (0 to 1)."""
        return len(self._cache) / self.cache_size

    @property
    def hit_rate(self) -> float:
        """The fraction of calls that found their compiled code in the cache (0 to 1)."""
        calls = self._hits + self._misses
        return self._hits / calls if calls else 0.0

    def clear_cache(self) -> None:
        self._cache.clear()
        self._fast = ()
        self._hits = self._misses = 0

    # --- MATLAB's property names (HitRate and Occupancy in MATLAB's units: percent, 0 to 100) ------
    @property
    def Function(self) -> Callable:
        """MATLAB's ``accfun.Function``: the function accelerated."""
        return self.fn

    @property
    def Enabled(self) -> bool:
        """MATLAB's ``accfun.Enabled`` (``enabled``); settable."""
        return self.enabled

    @Enabled.setter
    def Enabled(self, value: bool) -> None:
        self.enabled = bool(value)

    @property
    def CacheSize(self) -> int:
        """MATLAB's ``accfun.CacheSize`` (``cache_size``); settable."""
        return self.cache_size

    @CacheSize.setter
    def CacheSize(self, size: int) -> None:
        self.cache_size = size

    @property
    def HitRate(self) -> float:
        """MATLAB's ``accfun.HitRate``: the percentage (0 to 100) of calls that found their code cached
        (``hit_rate`` is the fraction)."""
        return 100.0 * self.hit_rate

    @property
    def Occupancy(self) -> float:
        """MATLAB's ``accfun.Occupancy``: the percentage (0 to 100) of the cache in use (``occupancy``
        is the fraction)."""
        return 100.0 * self.occupancy

    def clearCache(self) -> None:
        """MATLAB's ``clearCache(accfun)`` (``clear_cache``)."""
        self.clear_cache()

    @property
    def CheckMode(self) -> str:
        """MATLAB's check of the cache: ``"none"`` (default) or ``"tolerance"``: every call
        also runs freshly compiled code and raises if any output differs from the cached
        code's by more than ``CheckTolerance`` (relative to the largest value)."""
        return self._check_mode

    @CheckMode.setter
    def CheckMode(self, mode: str) -> None:
        if str(mode).lower() not in ("none", "tolerance"):
            raise SctError(f'CheckMode must be "none" or "tolerance", not {mode!r}')
        self._check_mode = str(mode).lower()
        self._fast = ()

    # --- use -------------------------------------------------------------------------------
    def compiled(self, args: Tuple) -> Compiled:
        fn, args, _ = as_function(self.fn, args, {})
        return self.compiled_for(fn, args)

    def compiled_for(self, fn: Callable, args: Tuple, pending: list = None) -> Compiled:
        """The entry for ``fn(*args)``; where ``pending`` is given and the entry is not among
        those ``__call__`` tries first, ``(key, entry, checks)`` is appended to it, for _remember
        once the entry has run (its checks are written for ``args`` as they are before the run)."""
        kinds = tuple([kind_of(a) for a in args])
        key = (id(fn.__code__), id(fn.__globals__), kinds, registry.rules_version()) + values_key(entry_values(fn, args))
        entry = self._cache.lookup(key, fn)      # checks the guards (see sct.cache) against fn
        if entry is not None:
            self._hits += 1
            if fn is self.fn and pending is not None and not any(e[1] is entry for e in self._fast):
                if entry.written_args:
                    _outside_reads(fn, args, entry)
                pending.append((key, entry, _hit_parts(args, entry)))   # (forgotten by a resize)
            return entry
        self._misses += 1
        entry, values = compile_entry(fn, args, lambda: compile_function(fn, kinds, mode="entry"))
        key = (id(fn.__code__), id(fn.__globals__), kinds, registry.rules_version()) + values_key(values)
        self._cache.insert(key, entry)
        if fn is self.fn and pending is not None:
            if entry.written_args:                # (before _hit_parts: its hits read those globals again,
                _outside_reads(fn, args, entry)   # was: a helper's global rebound unseen, red team 49)
            pending.append((key, entry, _hit_parts(args, entry)))
        return entry

    def _remember(self, key, entry, parts, out) -> None:
        """Add ``entry`` to the calls tried first by ``__call__`` (at most 8, newest first; its
        call written for outputs like ``out``, see sct.api.make_call); the others kept are those
        still in the cache (an evicted entry is not run again)."""
        if not self._enabled or self._check_mode != "none":
            return
        call = None if parts is None else make_call_from(parts, entry, out)
        kept = self._cache.entries()
        old = tuple(e for e in self._fast if any(e[1] is k for k in kept))
        bucket = self._cache._data.get(key)
        if call is None or bucket is None:
            self._fast = old
            return
        self._fast = ((call, entry, bucket),) + old[:7]

    def __get__(self, obj, objtype=None):
        """A method decorated with ``@sct.accelerate``: read through an instance, bound to it
        (as the plain function would be)."""
        if self._static:
            return self
        if isinstance(self.fn, classmethod):
            return types.MethodType(self, objtype if objtype is not None else type(obj))
        if obj is None:
            return self
        return types.MethodType(self, obj)

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        depth = len(_TYPES_SURE)        # (a helper's unsure_types left by an error: ended here, as dlfeval does)
        try:
            if not kwargs:
                fn = self.fn                       # a hit: checked, unwrapped, run and wrapped at once
                for call, compiled, bucket in self._fast:    # () unless enabled with CheckMode "none"
                    out = call(fn, args)
                    if out is not MISS:
                        self._hits += 1
                        bucket.used = True         # as LRU.lookup marks a hit
                        return out
            return self._call(args, kwargs)
        except SctError as error:
            raise user_error(error, self.fn)
        finally:
            del _TYPES_SURE[depth:]

    def _call(self, args, kwargs):
        if not self.enabled:                 # no cache, but still differentiated (as under dlfeval)
            return dlfeval(self.fn, *args, **kwargs)
        fn, args, kwargs = as_function(self.fn, args, kwargs)
        if kwargs:
            fn, args = _positional_call(fn, args, kwargs)
            if fn is self.fn and self._check_mode == "none":
                for call, compiled, bucket in self._fast:    # a hit, as in __call__
                    out = call(fn, args)
                    if out is not MISS:
                        self._hits += 1
                        bucket.used = True
                        return out
        pending: list = []
        compiled = self.compiled_for(fn, args, pending)
        from .api import _refuse_aliased_writes, _refuse_shared_memory, _shared_memory
        _refuse_aliased_writes(fn, args, compiled)
        shared = _shared_memory(fn, args, compiled)
        before = _copied_for_check(fn, args) if self._check_mode == "tolerance" else None
        draws = _draw_states(fn) if before is not None else None
        raw = run_entry(compiled.entry, args, dicts=compiled.dict_written_args)
        _refuse_shared_memory(fn, shared)
        if pending:
            self._remember(*pending[0], raw)
        result = wrap_outputs(raw)
        if compiled.recheck:                 # as dlfeval (and the calls tried first) check it
            _read_values_kept(compiled, fn)
        if compiled.formats is not None:
            result = apply_formats(result, compiled.formats)
        if compiled.dict_written_args:       # (the caller's dicts it was given and returns: sct.api.run_entry)
            from .runtime.support import callers_dicts
            result = callers_dicts(result)
        if compiled.output_types is not None:   # (outputs Python gives as no dlarray: sct.api.kept_outputs)
            from .api import kept_outputs
            result = kept_outputs(result, raw, compiled.output_types, args)
        if self._check_mode == "tolerance":
            after = _draw_states(fn)
            _set_draw_states(draws)          # the fresh run draws the numbers the cached run drew
            try:
                fresh = run_compiled(compile_function(fn, tuple([kind_of(a) for a in before]), mode="entry"), before)
            finally:
                _set_draw_states(after)      # and the generators are left where one run leaves them
            _check_close(result, fresh, self.CheckTolerance, getattr(fn, "__qualname__", fn))
        return result

    def source(self, *args: Any) -> str:
        """The generated source for arguments like ``args``."""
        fn, bound, _ = as_function(self.fn, args, {})
        try:
            import inspect
            inspect.signature(fn).bind(*bound)
        except TypeError as exc:
            # (a method decorated with @sct.accelerate read through its object, ``model.fwd.source(x)``:
            # Python hands the object to the call but not to ``.source``, which then compiled for
            # ``self=x`` and showed code that never runs)
            name = getattr(fn, "__qualname__", repr(fn))
            method = "." in name and "<locals>" not in name.rsplit(".", 1)[0]
            raise SctError(f"source(): the arguments do not match {name}: {exc}" +
                           (f". For a method, pass its object first: {name}.source(obj, ...)" if method else ""))
        return GeneratedSource(self.compiled(args).source)

    def __repr__(self) -> str:
        name = getattr(self.fn, "__qualname__", repr(self.fn))
        return (f"AcceleratedFunction({name}, cache {len(self._cache)}/{self.cache_size}, "
                f"hit rate {self.hit_rate:.2f}, enabled={self.enabled})")


def _copied_for_check(fn, args):
    """A copy of ``args`` as they are before the call, for CheckMode "tolerance"'s fresh run (was: the
    fresh run given the caller's own objects, so a layer's ``self.running_mean = ...`` or a counter
    ``self.n += 1`` ran twice per call, the objects left unlike Python's; and the fresh run started from
    the state the first had left)."""
    import copy
    try:
        return copy.deepcopy(args)
    except Exception as exc:
        name = getattr(fn, "__qualname__", repr(fn))
        raise SctError(f'CheckMode "tolerance" runs {name} again on a copy of its arguments, to check the '
                       f"cached code without changing the arguments twice; copying them failed ({exc}). "
                       f'Use CheckMode "none" for these arguments') from None


def _draw_states(fn) -> list:
    """Where the random generators ``fn`` may draw from are: numpy's and Python's global ones, and
    the generators its globals, closure and defaults hold (those in its arguments travel in
    _copied_for_check's copy).  CheckMode "tolerance" starts its fresh run from here, so that a
    function drawing random numbers is compared with itself, not with other draws (was: refused as
    "a stale cache entry" at every call; unlike MATLAB's traces, sct's code draws new numbers on
    each call, as Python does)."""
    import random
    from .runtime.effects import _owner_state
    from .runtime.support import _captured_roots
    held = _captured_roots(fn)
    while isinstance(fn, (functools.partial, types.MethodType)):
        fn = fn.func if isinstance(fn, functools.partial) else fn.__func__
    code, space = getattr(fn, "__code__", None), getattr(fn, "__globals__", {})
    held += [space[n] for n in getattr(code, "co_names", ()) if n in space]
    owners = [g for g in held if isinstance(g, (np.random.Generator, np.random.RandomState, random.Random))]
    return [(None, np.random.get_state()), (random, random.getstate())] + [(g, _owner_state(g)) for g in owners]


def _set_draw_states(states) -> None:
    from .runtime.effects import set_owner_state
    for owner, state in states:
        if owner is None:
            np.random.set_state(state)       # (numpy's global generator)
        else:
            set_owner_state(owner, state)    # (random's module-level functions: its setstate)


def _check_close(cached, fresh, tolerance: float, name) -> None:
    """MATLAB's CheckMode "tolerance": the cached outputs must match a fresh run's."""
    from .runtime.dlarray import unwrap
    a_leaves, b_leaves = _leaves(unwrap(cached)), _leaves(unwrap(fresh))
    for a, b in zip(a_leaves, b_leaves):
        a, b = np.asarray(a), np.asarray(b)
        scale = max(float(np.max(np.abs(b), initial=0.0)), 1.0)
        if a.shape != b.shape or np.max(np.abs(a - b), initial=0.0) > tolerance * scale:
            raise SctError(f"AcceleratedFunction {name}: the cached result differs from a fresh "
                           f"evaluation by more than CheckTolerance={tolerance}, both started from the same "
                           "arguments and random generators (a stale cache entry, or a function whose result "
                           "changes from run to run through something else, such as the time: call clear_cache(), "
                           "and report it if it happens again)")


def _leaves(x) -> list:
    if isinstance(x, dict):
        return [leaf for v in x.values() for leaf in _leaves(v)]
    if isinstance(x, (list, tuple)):
        return [leaf for v in x for leaf in _leaves(v)]
    if isinstance(x, (np.ndarray, np.generic, float, complex, int)):
        return [x]
    if hasattr(x, "__dict__"):
        return [leaf for v in vars(x).values() for leaf in _leaves(v)]
    return []


def clearCache(accfun: AcceleratedFunction) -> None:
    """MATLAB's ``clearCache(accfun)``: empty the cache of an AcceleratedFunction (its statistics too).

    >>> accfun = dlaccelerate(lambda x: x * 2)
    >>> _ = accfun(np.ones(2))
    >>> accfun.Occupancy > 0
    True
    >>> clearCache(accfun)
    >>> accfun.Occupancy, accfun.HitRate
    (0.0, 0.0)
    """
    if not isinstance(accfun, AcceleratedFunction):
        raise SctError(f"clearCache takes an AcceleratedFunction (from dlaccelerate), got {type(accfun).__name__}")
    accfun.clear_cache()


def dlaccelerate(fn: Callable, cache_size: int = 50, CheckMode: str = "none",
                 CheckTolerance: float = 1e-4) -> AcceleratedFunction:
    """Compile ``fn`` once per kinds of arguments and keep it (MATLAB's dlaccelerate).

    >>> accfun = dlaccelerate(model_loss, CheckMode="tolerance")   # doctest: +SKIP
    >>> loss, grads = dlfeval(accfun, params, x, t)                # doctest: +SKIP
    """
    return AcceleratedFunction(fn, cache_size, CheckMode, CheckTolerance)


def accelerate(fn: Callable = None, *, cache_size: int = 50, CheckMode: str = "none",
               CheckTolerance: float = 1e-4) -> Any:
    """Decorator form of :func:`dlaccelerate`: ``@sct.accelerate`` or ``@sct.accelerate(cache_size=10)``.

    >>> @accelerate
    ... def loss(x):
    ...     y = np.sum(x ** 2)
    ...     return y, dlgradient(y, x)
    ...
    >>> y, g = dlfeval(loss, dlarray([1.0, 2.0]))
    >>> float(y), g.data.tolist()
    (5.0, [2.0, 4.0])
    """
    if fn is None:
        return lambda f: AcceleratedFunction(f, cache_size, CheckMode, CheckTolerance)
    return AcceleratedFunction(fn, cache_size, CheckMode, CheckTolerance)
