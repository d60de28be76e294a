"""Side effects of user code happen once, even where generated code recomputes.

A gradient that a later ``dlgradient`` differentiates again gets a sweep that
recomputes, from the function's arguments, what precedes it (so the later sweep
can differentiate it as ordinary code).  Python runs each statement once: a
random draw, a ``print``, a write to a file or to an object of the caller must
not happen again, and the recomputed values must be the ones Python computed.

So generated code calls such functions through :func:`effect`: while running
normally it calls them and keeps their results in a per-thread log; while a
recomputation replays (between :func:`replay_from` and :func:`replay_end`) it
returns the logged results in order instead of calling again.  Recomputation
runs the same statements in the same order as the original run, so the
positions line up; nested recomputations keep their own cursor.  The log lives
for one outermost run of generated code (see ``sct.api.run_generated``).
"""
from __future__ import annotations

import io
import random
import threading
import types

import numpy as np

_LOCAL = threading.local()

EFFECT_MODULES = frozenset({"random", "time", "os", "sys", "io", "shutil", "subprocess", "logging",
                            "warnings", "socket", "secrets", "uuid", "datetime", "tempfile", "pathlib"})
_RANDOM_OWNERS = (np.random.Generator, np.random.RandomState, np.random.BitGenerator,
                  np.random.SeedSequence, random.Random, io.IOBase)


class _State:
    __slots__ = ("log", "cursors", "depth", "caught")

    def __init__(self):
        self.log: list = []
        self.cursors: list = []
        self.depth = 0
        self.caught = None      # the warnings of this thread's run of generated code (sct.api), or None


def state() -> _State:
    s = getattr(_LOCAL, "state", None)
    if s is None:
        s = _LOCAL.state = _State()
    return s


def _builtin_effects():
    import builtins
    return {id(builtins.print), id(builtins.input), id(builtins.open), id(builtins.breakpoint)}


_BUILTIN_EFFECTS = _builtin_effects()


def effectful(fn) -> bool:
    """Does calling ``fn`` have an effect beyond its result (draws, I/O, time, ...)?"""
    if id(fn) in _BUILTIN_EFFECTS or getattr(fn, "__sct_effect__", False):
        return True
    module = getattr(fn, "__module__", None)
    if isinstance(module, str) and (module.startswith("numpy.random") or module.split(".")[0] in EFFECT_MODULES):
        return True
    owner = getattr(fn, "__self__", None)
    if owner is None or owner is fn:
        return False
    if isinstance(owner, _RANDOM_OWNERS):
        return True
    if isinstance(owner, types.ModuleType):
        return owner.__name__.startswith("numpy.random") or owner.__name__.split(".")[0] in EFFECT_MODULES
    if isinstance(owner, type):
        return owner.__module__.split(".")[0] in EFFECT_MODULES or issubclass(owner, _RANDOM_OWNERS)
    return False


def effect(fn, *args, **kwargs):
    """``fn(*args, **kwargs)``, run once: replayed from the log while recomputing."""
    s = state()
    if s.cursors:
        i = s.cursors[-1]
        if i < len(s.log):
            s.cursors[-1] = i + 1
            entry = s.log[i]
            return _snapshot(entry.value if type(entry) is _Ran else entry)
    value = fn(*args, **kwargs)
    s.log.append(_snapshot(value))
    if s.cursors:
        s.cursors[-1] = len(s.log)
    return value


def maybe_effect(fn, *args, **kwargs):
    """A call sct could not classify when compiling: an effect if ``fn`` turns out to be one,
    a call of the user's own code like :func:`user_call`."""
    if effectful(fn):
        return effect(fn, *args, **kwargs)
    if _user_code(fn):
        return user_call(fn, *args, **kwargs)
    return fn(*args, **kwargs)


def user_call(fn, *args, **kwargs):
    """A call of the user's own function, method or class that is not differentiated where it
    stands (its result is a constant, or not used).  Python runs it once: where generated code
    recomputes, its result is replayed from the log (a copy of the objects it made, as they
    were when it returned), so the prints, appends to globals and random draws inside it happen
    once.  A callee that may change its arguments in place runs again instead (the recomputed
    objects it changes are new ones); one given a random generator is always replayed."""
    if effectful(fn):
        return effect(fn, *args, **kwargs)
    if not _replayable(fn, args, kwargs):
        return _changing_call(fn, args, kwargs)
    s = state()
    if s.cursors:
        i = s.cursors[-1]
        if i < len(s.log):
            s.cursors[-1] = i + 1
            entry = s.log[i]
            return _snapshot(entry.value if type(entry) is _Ran else entry)
    value = fn(*args, **kwargs)
    s.log.append(_snapshot(value))
    if s.cursors:
        s.cursors[-1] = len(s.log)
    return value


def _user_code(fn) -> bool:
    if isinstance(fn, (types.FunctionType, types.MethodType)):
        module = getattr(fn, "__module__", None) or ""
        return not module.split(".")[0] in ("numpy", "sct")
    if isinstance(fn, type):
        return isinstance(getattr(fn, "__init__", None), types.FunctionType) and \
            not fn.__module__.split(".")[0] in ("numpy", "sct", "builtins")
    return isinstance(getattr(type(fn), "__call__", None), types.FunctionType) and \
        hasattr(fn, "__dict__") and not type(fn).__module__.split(".")[0] in ("numpy", "sct")


class _Ran:
    """The log's entry for a call of the user's code that may change its arguments: its result, the
    objects it was given (held for their identity), each as the call left it (``after``: a copy of
    an array, a ``_snapshot`` of anything else) and which of them the result is (``returned``: an index, or -1)."""
    __slots__ = ("value", "objects", "after", "returned")

    def __init__(self, value, objects, after=(), returned=-1):
        self.value = value
        self.objects = objects
        self.after = after
        self.returned = returned


_IMMUTABLE = (int, float, complex, str, bytes, bool, type(None), np.generic, types.FunctionType,
              types.BuiltinFunctionType, types.ModuleType, type)


def _changeable(fn, args, kwargs) -> list:
    """The objects a call could change: its receiver and arguments that are not immutable values."""
    owner = getattr(fn, "__self__", None)
    parts = ([owner] if owner is not None and not isinstance(owner, types.ModuleType) else []) + \
        list(args) + list(kwargs.values())
    return [p for p in parts if not isinstance(p, _IMMUTABLE) and
            not (type(p) is tuple and all(isinstance(e, _IMMUTABLE) for e in p))]


def _changing_call(fn, args, kwargs):
    """A call of the user's code that may change its arguments in place.  Where generated code
    recomputes, it is given either the very objects the first run gave it (a global list, a
    schedule object given to dlfeval: ``sched.step()``), which Python changed once and the first run
    did: its result is replayed (was: run again, the object stepped twice); or new objects,
    recomputed as the first run's were before the call: arrays among them are set to what the call
    left in the first run's (``fill_noise(buf)`` drawing into a new buffer drew again: other numbers
    than Python's), and the result replayed; a call given other new objects (lists, dicts, objects
    of the user's classes) runs again on them."""
    s = state()
    objects = _changeable(fn, args, kwargs)
    if s.cursors:
        i = s.cursors[-1]
        if i < len(s.log) and type(s.log[i]) is _Ran:
            entry = s.log[i]
            s.cursors[-1] = i + 1
            if len(entry.objects) == len(objects):
                if all(a is b for a, b in zip(entry.objects, objects)):
                    # (none at all: numbers only, nothing of the caller's to change: replayed too)
                    return _snapshot(entry.value)
                if _restore(entry, objects):
                    return objects[entry.returned] if entry.returned >= 0 else _snapshot(entry.value)
                return _checked_again(fn, args, kwargs, entry, objects)
            return fn(*args, **kwargs)
        if i < len(s.log):
            return fn(*args, **kwargs)           # (not this call's entry: as before, run again)
    value = fn(*args, **kwargs)
    after = [_snapshot(o) if type(o) is not np.ndarray else o.copy() for o in objects]
    returned = next((k for k, o in enumerate(objects) if o is value), -1)
    s.log.append(_Ran(_snapshot(value), objects, after, returned))
    if s.cursors:
        s.cursors[-1] = len(s.log)
    return value


class RecomputedCallError(RuntimeError):
    """A call of the user's code, run again where generated code recomputes, left other values than
    its first run (it draws random numbers, or reads something that changed)."""


def _checked_again(fn, args, kwargs, entry: _Ran, objects):
    """Run ``fn`` again on the recomputed new objects (lists, dicts, objects of the user's classes):
    right where it does what it did in the first run, which is checked -- the objects as it leaves
    them and its result the same as the first run's -- else refused: a call that draws random
    numbers into them would give other numbers than Python's single run."""
    value = fn(*args, **kwargs)
    if all(_same(o, after) for o, after in zip(objects, entry.after)) and \
            (entry.returned >= 0 or _same(value, entry.value)):
        return value
    name = getattr(fn, "__qualname__", None) or getattr(fn, "__name__", None) or "this call"
    raise RecomputedCallError(
        f"{name}() changes objects it is given, which the function makes anew, and sct runs it again where "
        f"it recomputes this code for a second derivative: it left other values than in its first run (it "
        f"draws random numbers or reads something that changed), so the recomputation would differ from "
        f"Python's run; make the values it writes outside the differentiated function and pass them in, "
        f"or return them from {name}() instead of writing them into its arguments")


def _same(a, b, depth: int = 0) -> bool:
    """Are ``a`` and ``b`` (one of them a ``_snapshot``) the same values: arrays, numbers, strings,
    lists, tuples, dicts, sets and objects' attributes compared by value, others by identity."""
    if a is b:
        return True
    if depth > 20:
        return False
    if isinstance(a, np.ndarray) or isinstance(b, np.ndarray):
        a, b = np.asarray(a), np.asarray(b)
        if a.shape != b.shape or a.dtype != b.dtype:
            return False
        try:
            return bool(np.array_equal(a, b, equal_nan=a.dtype.kind in "fc"))
        except Exception:
            return False
    if isinstance(a, (int, float, complex, np.generic, str, bytes, type(None))):
        if type(a) is not type(b):
            return False
        try:
            return bool(a == b) or (a != a and b != b)
        except Exception:
            return False
    if type(a) is not type(b):
        return False
    if isinstance(a, (list, tuple)):
        return len(a) == len(b) and all(_same(x, y, depth + 1) for x, y in zip(a, b))
    if isinstance(a, dict):
        return a.keys() == b.keys() and all(_same(a[k], b[k], depth + 1) for k in a)
    if isinstance(a, (set, frozenset, bytearray)):
        return a == b
    if hasattr(a, "__dict__") and not isinstance(a, (types.FunctionType, types.MethodType, types.ModuleType,
                                                     type) + _RANDOM_OWNERS):
        return _same(vars(a), vars(b), depth + 1)
    return False


def _restore(entry: _Ran, objects) -> bool:
    """Set the new ``objects`` (arrays only, each of its first-run counterpart's shape and dtype,
    writeable) to what the first run's call left in its objects; False (nothing set) where one
    cannot be."""
    if len(entry.after) != len(objects):
        return False
    for new, old, after in zip(objects, entry.objects, entry.after):
        if type(after) is not np.ndarray or type(new) is not np.ndarray or new.shape != after.shape or \
                new.dtype != after.dtype or not new.flags.writeable or new is old:
            return False
    for new, after in zip(objects, entry.after):
        new[...] = after
    return True


def _replayable(fn, args, kwargs) -> bool:
    if any(isinstance(a, _RANDOM_OWNERS) for a in args) or \
            any(isinstance(a, _RANDOM_OWNERS) for a in kwargs.values()):
        return True
    owner = getattr(fn, "__self__", None)
    if owner is not None and not isinstance(owner, type) and \
            any(isinstance(v, _RANDOM_OWNERS) for v in getattr(owner, "__dict__", {}).values()):
        # a method of an object holding a random generator (self.rng.normal(...): a dropout layer's
        # mask) draws from it: replayed, as a generator given as an argument (was: run again where
        # second-order code recomputes, for 'it changes self', drawing twice)
        return True
    from .support import HOOKS
    return not HOOKS.changes_arguments(fn)


def _snapshot(value):
    """``value`` as it is now, kept apart from what the program does next: the objects of user
    classes in it copied with what they hold, lists, dicts and sets new ones.
    A writeable array is copied: generated code may write into the callee's result in place
    (``v = helper(u); v[...] -= 1``), and the log must keep, and a replay give, the value as
    it was when the callee returned (not the written one, which would apply the write twice)."""
    if isinstance(value, np.ndarray):
        return value.copy() if value.size and value.flags.writeable else value
    if isinstance(value, (np.generic, int, float, complex, str, bytes, bool, type(None))):
        return value
    if type(value) is list:            # lists, dicts and sets are new ones too (lst.append(...))
        return [_snapshot(v) for v in value]
    if isinstance(value, tuple) and type(value) is tuple:
        items = tuple(_snapshot(v) for v in value)
        return items if any(a is not b for a, b in zip(items, value)) else value
    if type(value) is dict:
        return {k: _snapshot(v) for k, v in value.items()}
    if type(value) in (set, bytearray):
        return type(value)(value)
    if isinstance(value, (types.FunctionType, types.MethodType, types.ModuleType, type) + _RANDOM_OWNERS) or \
            not hasattr(value, "__dict__") or hasattr(value, "_data"):
        return value
    import copy
    try:                                # with what it holds: c.vals.append(...), c.w[0] = ...
        return copy.deepcopy(value)
    except Exception:
        try:
            return copy.copy(value)
        except Exception:
            return value


def shuffled(fn, a):
    """``fn(a)`` for a function that shuffles ``a`` in place (``rng.shuffle(a)``); returns ``a``
    (replayed: the array as it was shuffled)."""
    if effectful(fn):
        return effect(_shuffle, fn, a)
    fn(a)
    return a


def _shuffle(fn, a):
    fn(a)
    return a


def effect_position() -> int:
    """Where the next effect is (or will be) in the log."""
    s = state()
    return s.cursors[-1] if s.cursors else len(s.log)


def replay_from(position: int) -> None:
    """Effects from here on are read from the log, starting at ``position``."""
    state().cursors.append(position)


def replay_end() -> None:
    s = state()
    if s.cursors:
        s.cursors.pop()


def recompute_guard(message, filename, lineno):
    """At the start of code that changes an object from outside it and reads it
    (``sct/recompute_writes.py``): nothing in a first run; in a recomputation (effects replayed)
    that code would read the object as the first run left it: refused."""
    if state().cursors:
        from .errors import EvaluationError
        raise EvaluationError(message, filename, lineno)


def targets_kept(targets, message, filename, lineno):
    """At the end of a helper's generated forward that runs user code sct did not compile: each
    function it calls as ``base.attr(...)`` (``targets``: ``(base, attr, value)``, chosen when it was
    compiled, with its derivative) is still what ``base.attr`` holds; one rebound during the call
    would be differentiated as the old one: refused (sct/call_tree.py, sct.api for the entry)."""
    for base, attribute, value in targets:
        now = getattr(base, attribute, targets)
        if now is value or (type(now) is type(value) and hasattr(now, "__self__") and
                            getattr(now, "__func__", None) is not None and
                            now.__self__ is value.__self__ and now.__func__ is value.__func__):
            continue
        from .errors import EvaluationError
        name = getattr(base, "__name__", type(base).__name__)
        raise EvaluationError(message.format(f"{name}.{attribute}"), filename, lineno)


class held:
    """The log is kept while this is entered (an outermost run of generated code)."""

    def __enter__(self):
        state().depth += 1
        return self

    def __exit__(self, *exc):
        s = state()
        s.depth -= 1
        if s.depth <= 0:
            s.depth = 0
            s.log.clear()
            s.cursors.clear()
        return False


def _register():
    from .registry import nondifferentiable
    from . import dlfun, nn
    dlfun.dropout_mask.__sct_effect__ = True       # a random mask unless given a seed
    nn.attention_dropout_mask.__sct_effect__ = True
    nondifferentiable(effect, maybe_effect, user_call, shuffled, effect_position, replay_from, replay_end,
                      recompute_guard, targets_kept)


_register()
