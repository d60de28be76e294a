"""AcceleratedFunction: a function compiled and cached per kinds of arguments.

This is MATLAB's ``dlaccelerate``.  In sct every function that ``dlfeval`` runs
is already compiled this way; an AcceleratedFunction makes the cache visible
and usable outside ``dlfeval`` too.
"""
from __future__ import annotations

import functools
from typing import Callable, Tuple

from runtime import registry

from .cache import LRU
from .compiler import Compiled, compile_function
from .kinds import kind_of


class AcceleratedFunction:
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

    def __init__(self, fn: Callable, cache_size: int = 50):
        if isinstance(fn, AcceleratedFunction):
            fn = fn.fn
        self.fn = fn
        self._cache = LRU(cache_size, per_key=1)     # bounded and thread-safe; one fn: one entry a key
        self.enabled = True
        self._hits = 0
        self._misses = 0
        functools.update_wrapper(self, fn)

    @property
    def cache_size(self) -> int:
        """The most compiled entries kept (least recently used out first); settable."""
        return self._cache.maxsize

    @cache_size.setter
    def cache_size(self, size: int) -> None:
        self._cache.resize(size)

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
        self._hits = self._misses = 0

    # --- use -------------------------------------------------------------------------------
    def compiled(self, args: Tuple) -> Compiled:
        fn = self.fn
        kinds = tuple([kind_of(a) for a in args])
        key = (id(fn.__code__), id(fn.__globals__), kinds, registry.rules_version())
        entry = self._cache.lookup(key, fn)      # checks the guards (see sct.cache) against fn
        if entry is not None:
            self._hits += 1
            return entry
        self._misses += 1
        entry = compile_function(fn, kinds, mode="entry")
        self._cache.insert(key, entry)
        return entry

    def __call__(self, *args):
        if not self.enabled:
            return self.fn(*args)
        from .api import run_compiled
        return run_compiled(self.compiled(args), args)

    def source(self, *args) -> str:
        """The generated source for arguments like ``args``."""
        from .api import GeneratedSource
        return GeneratedSource(self.compiled(args).source)

    def __repr__(self) -> str:
        return (f"AcceleratedFunction({self.fn.__qualname__}, cache {len(self._cache)}/{self.cache_size}, "
                f"hit rate {self.hit_rate:.2f}, enabled={self.enabled})")


def dlaccelerate(fn: Callable, cache_size: int = 50) -> AcceleratedFunction:
    """Compile ``fn`` once per kinds of arguments and keep it (MATLAB's dlaccelerate)."""
    return AcceleratedFunction(fn, cache_size)


def accelerate(fn: Callable = None, *, cache_size: int = 50):
    """Decorator form of :func:`dlaccelerate`: ``@sct.accelerate`` or ``@sct.accelerate(cache_size=10)``."""
    if fn is None:
        return lambda f: AcceleratedFunction(f, cache_size)
    return AcceleratedFunction(fn, cache_size)
