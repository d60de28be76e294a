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

import contextlib
import functools
import io
import numbers
import random
import sys
import threading
import types
import weakref
from collections import deque

from .imported import np
from .origins import call_name, library_code, module_top


_LOCAL = threading.local()

EFFECT_MODULES = frozenset({"random", "time", "os", "sys", "io", "shutil", "subprocess", "logging",
                            "warnings", "socket", "secrets", "uuid", "datetime", "tempfile", "pathlib"})
_RANDOM_OWNERS = (np.random.Generator, np.random.RandomState, np.random.BitGenerator,
                  np.random.SeedSequence, random.Random, io.IOBase)


class _State:
    __slots__ = ("log", "cursors", "depth", "caught", "walked", "walks", "draws", "captured", "globals_seen")

    def __init__(self):
        self.log: list = []
        self.cursors: list = []
        self.depth = 0
        self.caught = None      # the warnings of this thread's run of generated code (sct.api), or None
        self.walked: dict = {}  # id -> the iterators (generators, iter(...), map, ...) a first run walked
        self.walks: dict = {}   # id -> (an object walked by its __iter__, the items of each first-run walk)
        self.draws: list = []   # the global random states where each replay began (see replay_end)
        # key -> (a leaf, what reads it): the leaves functions called as constants reached (support.note_captured)
        self.captured: dict = {}
        # (id(namespace), name) -> (namespace, name, value): the globals a function declaring ``global name``
        # read or wrote in this run, with the value it holds for them (global_value, set_global)
        self.globals_seen: dict = {}


def state() -> _State:
    s = getattr(_LOCAL, "state", None)
    if s is None:
        s = _LOCAL.state = _State()
    return s


def _builtin_effects():
    import builtins
    return {id(builtins.print), id(builtins.input), id(builtins.open), id(builtins.breakpoint)}


_BUILTIN_EFFECTS = _builtin_effects()


def _probe(fn, name: str, default):
    """``getattr(fn, name, default)`` for a callable object of the user's whose ``__getattr__`` may raise
    another error than AttributeError for a missing name (``return self._params[name]``: a KeyError,
    which reached the user as "KeyError ...: '__sct_effect__'")."""
    try:
        return getattr(fn, name, default)
    except Exception:
        return default


def effectful(fn) -> bool:
    """Does calling ``fn`` have an effect beyond its result (draws, I/O, time, ...)?"""
    if id(fn) in _BUILTIN_EFFECTS or _probe(fn, "__sct_effect__", False):
        return True
    module = _probe(fn, "__module__", None)
    if isinstance(module, str) and (module.startswith("numpy.random") or module.split(".")[0] in EFFECT_MODULES):
        return True
    owner = _probe(fn, "__self__", None)
    if owner is None or owner is fn:
        return False
    if isinstance(owner, _RANDOM_OWNERS):
        return True
    if isinstance(owner, types.ModuleType):
        return owner.__name__.startswith("numpy.random") or owner.__name__.split(".")[0] in EFFECT_MODULES
    if isinstance(owner, type):
        return owner.__module__.split(".")[0] in EFFECT_MODULES or issubclass(owner, _RANDOM_OWNERS)
    return False


def effect(fn, /, *args, **kwargs):
    """``fn(*args, **kwargs)``, run once: replayed from the log while recomputing.  The user's own
    code among them that may change its arguments (``sampler.fill(buf)`` of an object holding a
    random generator) sets the recomputed objects it is given as the first run's call left them
    (was: only its result replayed, the new buffer left as made: zeros, a zero gradient)."""
    if _user_code(fn) and _changeable(fn, args, kwargs) and _changes(fn):
        return _changing_call(fn, args, kwargs, rerun=False)
    if fn is print:
        # a dlarray held in an argument's container (an object's field, an item of one), which generated
        # code holds as the dlarray it is, printed as the numpy array or scalar it stands for, as Python
        # prints it (was: the dlarray's display)
        from .support import text_view
        args = tuple([text_view(a) for a in args])
    s = state()
    if s.cursors:
        i = s.cursors[-1]
        if i < len(s.log):
            s.cursors[-1] = i + 1
            entry = s.log[i]
            if type(entry) is _Into:      # G.random(None, np.float64, buf): the buffer given by position
                value, out = _snapshot(entry.value), args[entry.index] if entry.index < len(args) else None
            else:
                value = _snapshot(entry.value if type(entry) in (_Ran, _Aliased, _Changed) else entry)
                out = kwargs.get("out")
            if type(out) is np.ndarray:
                # G.random(out=buf): the draws go into the buffer the recomputation made, as in the first
                # run (was: only the value replayed, the buffer left as made: zeros, silently; red team W)
                if not (isinstance(value, np.ndarray) and value.shape == out.shape):
                    from .errors import SctError
                    raise SctError(f"{getattr(fn, '__qualname__', fn)!s}(..., out=...) recomputed for a second "
                                   f"derivative gave a value unlike its buffer; draw into a new array instead")
                np.copyto(out, value)
                return out
            return value
    value = fn(*args, **kwargs)
    into = next((k for k, a in enumerate(args) if a is value), None) if type(value) is np.ndarray else None
    s.log.append(_snapshot(value) if into is None else _Into(_snapshot(value), into))
    if s.cursors:
        s.cursors[-1] = len(s.log)
    return value


class _Into:
    """The log's entry for an effect whose result is the array it was given by position (a draw into a
    buffer): a replay copies the value into the recomputed call's buffer and returns that."""
    __slots__ = ("value", "index")

    def __init__(self, value, index):
        self.value = value
        self.index = index


def maybe_effect(fn, /, *args, **kwargs):
    """A call sct could not classify when compiling: an effect if ``fn`` turns out to be one,
    a call of the user's own code like :func:`user_call`."""
    if _user_code(fn) and not effectful(fn):
        return user_call(fn, *args, **kwargs)
    kwargs = _plain_kwargs(kwargs)
    if effectful(fn):
        return effect(fn, *args, **kwargs)
    changed = _changed_by(fn, args)
    if changed:
        return _builtin_change(fn, args, kwargs, changed)
    value = fn(*args, **kwargs)
    if type(value) not in _PLAIN_RESULTS and type(fn) is weakref.ref:
        _note_untraced(fn, value)       # (a weak reference to a layer: self.src().W, was a constant)
    return value


def unnamed_call(fn, /, *args, **kwargs):
    """:func:`maybe_effect` for a call of a function value (``b = bump; b()``, a callback, ``fns[0]()``):
    in a recomputation, the user's code it runs is refused where it may change an object from
    outside the recomputed code (see :func:`_unnamed_check`)."""
    if state().cursors and _user_code(fn) and not effectful(fn):
        _unnamed_check(fn, args, kwargs)
    return maybe_effect(fn, *args, **kwargs)


def _unnamed_check(fn, args, kwargs) -> None:
    """In a recomputation: a call of the user's code that sct could not name when compiling (``b =
    bump; b()``, a callback given to dlfeval, ``fns[0]()``, ``s = obj.step; s()``) is refused where it
    may change an object from outside the recomputed code: one of a global or closure value, or one
    it is given that the first run gave it too.  The recomputation reads such an object as the first
    run left it, and sct could not check (as it does for a call by name, sct/recompute_writes.py)
    that the function does not read it before (was: ``c = CNT["n"] + 1; b()`` gave 2 where Python's
    is 1: a gradient twice Python's)."""
    from .support import HOOKS
    s = state()
    i = s.cursors[-1]
    outside = False
    if i < len(s.log) and type(s.log[i]) is _Ran:
        entry = s.log[i]
        outside = any(a is b for a, b in zip(entry.objects, _changeable(fn, args, kwargs)))
    if not outside and HOOKS.writes_outside is not None:
        outside = HOOKS.writes_outside(fn)
    if outside:
        name = call_name(fn)
        raise RecomputedCallError(
            f"{name}() may change an object from outside the function (of a global, a closure value, or an "
            f"argument) and is called through a name sct cannot follow when compiling (a function or method "
            f"held in a variable, a list or an argument); a later dlgradient differentiates a gradient computed "
            f"from this code again, so sct recomputes it, on that object as the first run left it, and would "
            f"not compute Python's values. Call {name}() by its own name, or change the object after the gradients")


# methods of lists, dicts, sets, deques, bytearrays and arrays that change the object they are bound to
_CHANGING_METHODS = frozenset((
    "append", "extend", "insert", "pop", "remove", "clear", "update", "setdefault", "popitem", "add",
    "discard", "sort", "reverse", "fill", "resize", "itemset", "put", "appendleft", "extendleft",
    "popleft", "rotate", "difference_update", "intersection_update", "symmetric_difference_update",
    "__setitem__", "__delitem__", "__iadd__", "__imul__", "__ior__", "__iand__", "__isub__", "__ixor__"))
_CHANGING_FIRST: dict = {}


def _changing_first() -> dict:
    """Library functions that change their first argument (``heapq.heappush(H, v)``)."""
    if not _CHANGING_FIRST:
        import bisect
        import heapq
        import operator
        for f in (heapq.heappush, heapq.heappop, heapq.heapify, heapq.heapreplace, heapq.heappushpop,
                  bisect.insort, bisect.insort_left, bisect.insort_right, operator.setitem, operator.delitem,
                  operator.iadd, operator.isub, operator.imul, operator.iconcat, setattr, delattr, next):
            _CHANGING_FIRST[id(f)] = f
    return _CHANGING_FIRST


def _changed_by(fn, args) -> list:
    """The objects a call of library code that sct could not name when compiling changes
    (``log = LOG.append; log(v)``, ``fns[0](v)``, ``functools.partial(LOG.append)``, a callback
    ``cb(v)``, ``push = heapq.heappush; push(H, v)``): [] for other calls."""
    import functools
    if type(fn) is functools.partial:
        return _changed_by(fn.func, tuple(fn.args) + tuple(args))
    owner = getattr(fn, "__self__", None)
    if owner is not None and isinstance(fn, (types.BuiltinMethodType, types.MethodWrapperType)) and \
            isinstance(owner, (list, dict, set, bytearray, deque, np.ndarray)) and \
            getattr(fn, "__name__", "") in _CHANGING_METHODS:
        return [owner]
    if owner is not None and isinstance(fn, (types.BuiltinMethodType, types.MethodWrapperType)) and \
            getattr(fn, "__name__", "") in ("__next__", "send") and _iterator(owner):
        return [owner]          # it.__next__ held in a variable: it advances the iterator
    if args and _changing_first().get(id(fn)) is fn and not isinstance(args[0], _IMMUTABLE):
        return [args[0]]
    return []


def _builtin_change(fn, args, kwargs, changed):
    """A call of library code that changes ``changed`` (objects it is bound to or given first): where
    generated code recomputes, on new objects (recomputed) it runs again, as on the first run's; on
    the very objects of the first run (a global list) it is refused (was: run again, ``LOG``
    appended to twice; a ``len(LOG)`` read before it in the recomputation saw the first run's
    final list: a gradient twice Python's)."""
    s = state()
    if s.cursors:
        i = s.cursors[-1]
        if i < len(s.log) and type(s.log[i]) is _Changed:
            entry = s.log[i]
            s.cursors[-1] = i + 1
            if any(a is b for a, b in zip(entry.objects, changed)):
                # an object from outside the code recomputed (a global list, one given to dlfeval),
                # changed through a name sct could not follow when compiling: the recomputation reads
                # it as the first run left it, after this change (was: c = len(LOG) read before
                # log(v) gave 2 where Python's is 1: g twice Python's)
                name = call_name(fn)
                raise RecomputedCallError(
                    f"{name}() changes an object from outside the function ({type(changed[0]).__name__}: a "
                    f"global, a closure value or an argument) through a name sct cannot follow when compiling "
                    f"(a function or bound method held in a variable, a list or a partial); a later dlgradient "
                    f"differentiates a gradient computed from this code again, so sct recomputes it, on that "
                    f"object as the first run left it, and would not compute Python's values. Call the method "
                    f"on the object by its name (LOG.append(v)), or change the object after the gradients")
        elif i < len(s.log):
            return fn(*args, **kwargs)
        return fn(*args, **kwargs)
    value = fn(*args, **kwargs)
    s.log.append(_Changed(_snapshot(value) if not isinstance(value, np.ndarray) else value.copy(), changed))
    if s.cursors:
        s.cursors[-1] = len(s.log)
    return value


class _Changed:
    """The log's entry for a call of library code that changed ``objects`` (held for their identity)."""
    __slots__ = ("value", "objects")

    def __init__(self, value, objects):
        self.value = value
        self.objects = objects


def user_call(fn, /, *args, **kwargs):
    """A call of the user's own function, method or class that is not differentiated where it
    stands (its result is a constant, or not used).  Python runs it once: where generated code
    recomputes, its result is replayed from the log (a copy of the objects it made, as they
    were when it returned), so the prints, appends to globals and random draws inside it happen
    once.  A callee that may change its arguments in place runs again instead (the recomputed
    objects it changes are new ones); one given a random generator is always replayed."""
    given = list(args) + list(kwargs.values())
    args, kwargs = _python_arguments(fn, args, kwargs)
    value = _plain_run(fn, args, kwargs)
    if type(value) is not np.ndarray and any(a is not b for a, b in zip(list(args) + list(kwargs.values()), given)):
        # (a dlarray the helper made from the dlarrays it was given for ops of traced values: generated code
        # holds such a value's data, as it holds theirs)
        from .dlarray import dlarray
        if type(value) is dlarray and not any(value is a for a in given):
            from .support import numpy_view
            return numpy_view(value)
    return value


def _plain_run(fn, args, kwargs):
    """(user_call, its arguments as plain Python gives them)"""
    if effectful(fn):
        return effect(fn, *args, **kwargs)
    draws = _draws(fn, args, kwargs)
    if not _replayable(fn, args, kwargs) or (draws and _changes(fn)):
        # (one that draws from a generator it is given or holds is never run again: it would draw
        # other numbers; was: replayed, and the new objects it fills left as they were made, a
        # buffer of zeros: a zero gradient)
        return _changing_call(fn, args, kwargs, rerun=not draws)
    s = state()
    if s.cursors:
        i = s.cursors[-1]
        if i < len(s.log):
            s.cursors[-1] = i + 1
            entry = s.log[i]
            if type(entry) is _Aliased:
                return _replayed(entry, _roots(fn, args, kwargs), fn)
            return _snapshot(entry.value if type(entry) in (_Ran, _Aliased, _Changed) else entry)
    value = fn(*args, **kwargs)
    if type(value) not in _PLAIN_RESULTS:
        _note_untraced(fn, value)       # (a result holding a dlarray: support.note_untraced)
    recipe = _alias_of(value, _roots(fn, args, kwargs)) if not _iterator(value) else ("iterator",)
    s.log.append(_snapshot(value) if recipe is None else _Aliased(_snapshot(value), recipe))
    if s.cursors:
        s.cursors[-1] = len(s.log)
    return value


_PLAIN_RESULTS = frozenset((float, int, bool, type(None), str, np.ndarray, np.float64, np.float32))


def _note_untraced(fn, value) -> None:
    from .support import note_untraced
    note_untraced(fn, value)


# the keyword by which generated code tells user_call what each argument is in plain Python (sct/forward_code.py
# typed_arguments; support.python_arguments)
TYPES_KEYWORD = "__sct_types__"


def _python_arguments(fn, args, kwargs):
    """The arguments of a call of the user's code that sct runs as it is, as plain Python gives them where the code
    tests types, as the numpy arrays or scalars dlarrays stand for elsewhere (support.python_arguments; was each
    dlarray given as its data, and each op of a traced value, ``h > 0``, as its data, which generated code holds:
    ``isinstance(m, np.ndarray)`` True in the helper where Python's is False)."""
    from .dlarray import dlarray
    known = kwargs.pop(TYPES_KEYWORD, ()) if TYPES_KEYWORD in kwargs else ()
    if not known and not any(type(a) is dlarray for a in args) and \
            not any(type(a) is dlarray for a in kwargs.values()):
        return args, kwargs
    from .support import python_arguments
    return python_arguments(fn, args, kwargs, known)


def _plain_kwargs(kwargs):
    """``kwargs`` without the compiler's word on the arguments (TYPES_KEYWORD), for a call that is no user code."""
    if TYPES_KEYWORD in kwargs:
        kwargs = dict(kwargs)
        del kwargs[TYPES_KEYWORD]
    return kwargs


def _user_code(fn) -> bool:
    if isinstance(fn, (types.FunctionType, types.MethodType)):
        module = getattr(fn, "__module__", None) or ""
        return not module.split(".")[0] in ("numpy", "sct")
    if isinstance(fn, type):
        return isinstance(getattr(fn, "__init__", None), types.FunctionType) and \
            module_top(fn) not in ("numpy", "sct", "builtins")
    return isinstance(getattr(type(fn), "__call__", None), types.FunctionType) and \
        _fields(fn) is not None and module_top(type(fn)) not in ("numpy", "sct")


class _Ran:
    """The log's entry for a call of the user's code that may change its arguments: its result, the
    objects it was given (held for their identity), each as the call left it (``after``: a copy of
    an array, a ``_snapshot`` of anything else), which of them the result is (``returned``: an index,
    or -1), how the result is reached from the call's arguments (``recipe``, see :func:`_alias_of`)
    and which objects a replay may set to ``after`` (``plain``, see :func:`_plain`)."""
    __slots__ = ("value", "objects", "after", "returned", "recipe", "plain")

    def __init__(self, value, objects, after=(), returned=-1, recipe=None, plain=()):
        self.value = value
        self.objects = objects
        self.after = after
        self.returned = returned
        self.recipe = recipe
        self.plain = plain


class _Aliased:
    """The log's entry for a call of the user's code whose result is (or holds, or is a view of) an
    object it was given: ``v = first(buf)`` returning ``buf`` or ``buf[:2]``; a replay gives the
    recomputed call's own object (or the same view of it), so a later write through the result
    reaches it as in Python (was: a copy, the write lost: a second derivative computed from other
    values than Python's)."""
    __slots__ = ("value", "recipe")

    def __init__(self, value, recipe):
        self.value = value
        self.recipe = recipe


_IMMUTABLE = (int, float, complex, str, bytes, bool, type(None), np.generic, np.ufunc, types.FunctionType,
              types.BuiltinFunctionType, types.ModuleType, type)


def _changeable(fn, args, kwargs) -> list:
    """The objects a call could change: its receiver and arguments that are not immutable values."""
    owner = getattr(fn, "__self__", None)
    parts = ([owner] if owner is not None and not isinstance(owner, types.ModuleType) else []) + \
        list(args) + list(kwargs.values())
    return [p for p in parts if not isinstance(p, _IMMUTABLE) and
            not (type(p) is tuple and all(isinstance(e, _IMMUTABLE) for e in p))]


def _changing_call(fn, args, kwargs, rerun: bool = True):
    """A call of the user's code that may change its arguments in place.  Where generated code
    recomputes, it is given either the very objects the first run gave it (a global list, a
    schedule object given to dlfeval: ``sched.step()``), which Python changed once and the first run
    did: its result is replayed (was: run again, the object stepped twice); or new objects,
    recomputed as the first run's were before the call: those are set to what the call left in the
    first run's (arrays: ``fill_noise(buf)`` drawing into a new buffer drew again: other numbers
    than Python's; lists, dicts and objects of the user's classes where what the call left in them
    is its own new data: numbers, strings, arrays it made, containers of those), and the result
    replayed (the recomputed object, or the same view of it, where it is one of them: see
    :func:`_alias_of`); a call given other new objects (holding objects from before the call)
    runs again on them, checked."""
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
                    return _replayed(entry, _roots(fn, args, kwargs), fn)
                if _restore(entry, objects):
                    return _replayed(entry, _roots(fn, args, kwargs), fn)
                if not rerun:
                    raise _drawing_again(fn)
                return _checked_again(fn, args, kwargs, entry, objects)
            if not rerun:
                raise _drawing_again(fn)
            return fn(*args, **kwargs)
        if i < len(s.log):
            if not rerun:
                raise _drawing_again(fn)
            return fn(*args, **kwargs)           # (not this call's entry: as before, run again)
    before = _inside_ids(objects)
    value = fn(*args, **kwargs)
    if type(value) not in _PLAIN_RESULTS:
        _note_untraced(fn, value)
    after = [_snapshot(o) if type(o) is not np.ndarray else o.copy() for o in objects]
    returned = next((k for k, o in enumerate(objects) if o is value), -1)
    roots = _roots(fn, args, kwargs)
    plain = [type(o) is np.ndarray or _plain(o, before, roots) for o in objects]
    recipe = _alias_of(value, roots) if not _iterator(value) else ("iterator",)
    s.log.append(_Ran(_snapshot(value), objects, after, returned, recipe, plain))
    if s.cursors:
        s.cursors[-1] = len(s.log)
    return value


class RecomputedCallError(RuntimeError):
    """A call of the user's code, run again where generated code recomputes, left other values than
    its first run (it draws random numbers, or reads something that changed)."""


def _drawing_again(fn) -> RecomputedCallError:
    name = call_name(fn)
    return RecomputedCallError(
        f"{name}() draws from a random generator and changes objects it is given, which the function makes "
        f"anew, in a way sct cannot set again where it recomputes this code for a second derivative (run "
        f"again, it would draw other numbers than Python's single run); make the values it writes outside "
        f"the differentiated function and pass them in, or return them from {name}() instead of writing them "
        f"into its arguments")


def _checked_again(fn, args, kwargs, entry: _Ran, objects):
    """Run ``fn`` again on the recomputed new objects (lists, dicts, objects of the user's classes):
    right where it does what it did in the first run, which is checked -- the objects as it leaves
    them and its result the same as the first run's -- else refused: a call that draws random
    numbers into them would give other numbers than Python's single run."""
    value = fn(*args, **kwargs)
    if all(_same(o, after) for o, after in zip(objects, entry.after)) and \
            (entry.returned >= 0 or _same(value, entry.value)):
        return value
    name = call_name(fn)
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
    if (_closure(a) or _closure(b)) and isinstance(a, tuple) and isinstance(b, tuple):
        # a closure and its snapshot (the values it captured); two closures: of the same def too
        if _closure(a) and _closure(b) and getattr(a.fn, "__code__", None) is not getattr(b.fn, "__code__", None):
            return False
        return len(a) == len(b) and all(_same(x, y, depth + 1) for x, y in zip(a, b))
    if type(a) is not type(b):
        return False
    if isinstance(a, (list, tuple)):
        return len(a) == len(b) and all(_same(x, y, depth + 1) for x, y in zip(a, b))
    if isinstance(a, dict):
        return a.keys() == b.keys() and all(_same(a[k], b[k], depth + 1) for k in a)
    if isinstance(a, (set, frozenset, bytearray)):
        return a == b
    if _fields(a) is not None and not isinstance(a, (types.FunctionType, types.MethodType, types.ModuleType,
                                                     type) + _RANDOM_OWNERS):
        return _same(vars(a), vars(b), depth + 1)
    return False


def _closure(value) -> bool:
    """An sct closure (runtime.support.Closure: a tuple of the values a nested function captured)."""
    t = type(value)
    return t.__name__ == "Closure" and t.__module__.endswith("runtime.support")


def _restore(entry: _Ran, objects) -> bool:
    """Set the new ``objects`` to what the first run's call left in its counterparts (an array to
    its values, a list, dict or set, or the attributes of an object of the user's class, to a copy
    of what it held where that is plain data the call made: ``_Ran.plain``); the very objects of
    the first run are left as they are (Python changed them once: the first run did).  False
    (nothing set) where one cannot be."""
    if len(entry.after) != len(objects) or len(entry.plain) != len(objects):
        return False
    for new, old, after, plain in zip(objects, entry.objects, entry.after, entry.plain):
        if new is old:
            continue
        if not plain or type(new) is not type(old):
            return False
        if type(new) is np.ndarray:
            if type(after) is not np.ndarray or new.shape != after.shape or new.dtype != after.dtype or \
                    not new.flags.writeable:
                return False
        elif type(new) in (list, dict, set, bytearray):
            if type(after) is not type(new):
                return False
        elif not _settable_object(new) or type(after) is not type(new):
            return False
    for new, old, after in zip(objects, entry.objects, entry.after):
        if new is old:
            continue
        if type(new) is np.ndarray:
            new[...] = after
        elif type(new) is list:
            new[:] = _snapshot(after)
        elif type(new) in (dict, set, bytearray):
            new.clear()
            new.update(_snapshot(after)) if type(new) is not bytearray else new.extend(after)
        else:
            held = vars(new)
            held.clear()
            held.update(_snapshot(vars(after)))
    return True


def _fields(o):
    """``o.__dict__`` (None where it has none), read without running a ``__getattr__`` of the user's (was: an
    object whose __getattr__ answers any name ran it for sct's probes, its side effects too, red57a W6)."""
    try:
        return object.__getattribute__(o, "__dict__")
    except AttributeError:
        return None


_DATA_CLASSES: dict = {}


def _holds_data(o) -> bool:
    """A dlarray (an object with a ``_data`` of its own or its class's), asked of its class and its ``__dict__``,
    not of its ``__getattr__``."""
    own = _fields(o)
    if type(own) is dict and "_data" in own:
        return True
    t = type(o)
    found = _DATA_CLASSES.get(t)
    if found is None:
        found = any("_data" in vars(k) for k in t.__mro__)
        if len(_DATA_CLASSES) < 4096:
            _DATA_CLASSES[t] = found
    return found


def _data_of(o):
    return o._data if _holds_data(o) else o


def _settable_object(o) -> bool:
    """An object of the user's class whose state is its ``__dict__`` (no slots, no own
    ``__setattr__``)."""
    t = type(o)
    return isinstance(_fields(o), dict) and not hasattr(t, "__slots__") and \
        t.__setattr__ is object.__setattr__ and not isinstance(o, _OPAQUE + _RANDOM_OWNERS) and \
        not _holds_data(o) and module_top(t) not in ("numpy", "sct", "builtins")


_OPAQUE = (types.FunctionType, types.MethodType, types.ModuleType, type, types.BuiltinFunctionType)
_LIMIT = 256            # objects a search below goes through (a call's arguments, its result)


def _roots(fn, args, kwargs) -> list:
    """What a call is given: its receiver (a bound method's object), then its arguments."""
    owner = getattr(fn, "__self__", None)
    return [owner if owner is not None and not isinstance(owner, types.ModuleType) else None] + \
        list(args) + [kwargs[k] for k in sorted(kwargs)]


def _children(node):
    """(step, item) of what ``node`` holds: list and tuple items, dict values, the attributes of an
    object of the user's class."""
    t = type(node)
    if t is list or t is tuple:
        return [(("i", k), v) for k, v in enumerate(node)]
    if t is dict:
        return [(("k", k), v) for k, v in node.items()]
    if isinstance(node, (list, tuple, dict)) or isinstance(node, _OPAQUE + _RANDOM_OWNERS) or \
            isinstance(node, np.ndarray) or _holds_data(node):
        return []
    held = _fields(node)
    return [(("a", k), v) for k, v in held.items()] if type(held) is dict else []


def _mutable(node) -> bool:
    """Is ``node`` data a program may change in place, or hold such data (an array, a list, dict or
    set, a tuple, an object of a class with attributes): what a copy would not alias."""
    t = type(node)
    if t in (np.ndarray, list, dict, set, bytearray):
        return True
    if t is tuple:
        return bool(node)
    return isinstance(_fields(node), dict) and not isinstance(node, _OPAQUE + _RANDOM_OWNERS) \
        and not _holds_data(node) and module_top(t) not in ("numpy", "builtins")


def _nodes(roots) -> list:
    """(path, object) for each object reachable from ``roots`` (``path``: the root's index, then
    steps), breadth first, each once, at most _LIMIT of them."""
    out, seen = [], set()
    todo = deque(((k,), r) for k, r in enumerate(roots))
    while todo and len(out) < _LIMIT:
        path, node = todo.popleft()
        if id(node) in seen:
            continue
        if type(node) is np.ndarray:
            seen.add(id(node))
            out.append((path, node))
            continue
        if not _mutable(node):
            continue
        seen.add(id(node))
        out.append((path, node))
        if len(path) < 6:
            for step, v in _children(node):
                if type(v) is np.ndarray or _mutable(v):
                    todo.append((path + (step,), v))
    return out


def _inside_ids(objects) -> set:
    """The ids of the objects held in ``objects`` (before a call that may change them)."""
    return {id(n) for _, n in _nodes(objects) if all(n is not o for o in objects)}


def _plain(o, before: set, roots) -> bool:
    """Is what ``o`` (a list, dict, set or object of the user's class a call changed) holds after the
    call plain data the call made: numbers, strings, arrays owning their memory and containers of
    those, none of them held there before the call or reachable from its other arguments (a copy
    of it is then what Python's object holds: see :func:`_restore`)."""
    if type(o) in (set, bytearray):
        return True
    if type(o) not in (list, dict) and not _settable_object(o):
        return False
    inside = _nodes([o])
    if len(inside) >= _LIMIT:
        return False
    outside = [n for r in roots if r is not o for _, n in _nodes([r])]
    outside_ids = {id(n) for n in outside}
    arrays = [n for n in outside if type(n) is np.ndarray]
    for _, node in inside[1:]:
        if id(node) in before or id(node) in outside_ids:
            return False
        if type(node) is np.ndarray:
            if node.base is not None or _sharing(node, [(None, a) for a in arrays]) is not None:
                return False
        elif type(node) not in (list, tuple, dict):
            return False
    return True


def _view_recipe(value: np.ndarray, path, node: np.ndarray):
    """``value`` as a view of ``node`` (C-contiguous, holding all of ``value``'s memory): the byte
    offset, strides and flags to make the same view of another array like ``node``; None if not."""
    if not node.flags.c_contiguous or node.size == 0 or value.size == 0:
        return None
    start = value.__array_interface__["data"][0] - node.__array_interface__["data"][0]
    low = start + sum(min(0, (n - 1) * st) for n, st in zip(value.shape, value.strides))
    high = start + sum(max(0, (n - 1) * st) for n, st in zip(value.shape, value.strides)) + value.itemsize
    if low < 0 or high > node.nbytes:
        return None
    return ("view", path, node.shape, node.dtype, start, value.shape, value.dtype, value.strides,
            bool(value.flags.writeable))


def _alias_of(value, roots):
    """How a call's result shares with what it was given: None where it shares nothing (a replay
    gives a copy of it), else a recipe :func:`_replayed` follows on the recomputed call's
    arguments: ``("is", path)`` (the object at ``path``), ``("view", path, ...)`` (a view of the
    array there), ``("items", type, recipes)`` (a tuple or list of such, or of unshared values), ``("held",
    copy, ((path, inner), ...))`` (a copy of an object holding some of them: those in its place),
    ``("opaque",)`` where it shares in another way."""
    if not _mutable(value):
        return None
    nodes = _nodes(roots)
    if type(value) not in (tuple, list) or any(node is value for _, node in nodes):
        return _locate(value, nodes)
    items = [_locate(v, nodes) if _mutable(v) else None for v in value]
    if all(r is None for r in items):
        return None
    if any(r is not None and r[0] == "opaque" for r in items):
        return ("opaque",)
    return ("items", type(value), tuple(items))


def _root_base(a):
    """The array whose memory ``a`` views (``a`` itself where it owns its memory)."""
    while isinstance(a.base, np.ndarray):
        a = a.base
    return a


def _sharing(value, arrays):
    """The first ``(path, array)`` of ``arrays`` whose memory the array ``value`` may share, or None
    (compared only where they view one array's memory)."""
    base = _root_base(value)
    for path, node in arrays:
        if (node is base or _root_base(node) is base) and np.may_share_memory(value, node):
            return path, node
    return None


def _locate(value, nodes):
    for path, node in nodes:
        if node is value:
            return ("is", path)
    arrays = [(path, n) for path, n in nodes if type(n) is np.ndarray]
    if type(value) is np.ndarray:
        found = _sharing(value, arrays)
        if found is not None:
            return _view_recipe(value, found[0], found[1]) or ("opaque",)
        return None
    where = {id(n): path for path, n in nodes}
    shared = []
    for _, inner in _nodes([value])[1:]:
        if id(inner) in where:
            shared.append((where[id(inner)], inner))
        elif type(inner) is np.ndarray and _sharing(inner, arrays) is not None:
            return ("opaque",)
    if not shared:
        return None
    # it holds objects it was given (a constructor keeping its argument: self.w = w): a copy of it
    # that holds the recomputed call's own objects in their place
    import copy
    memo: dict = {}
    try:
        made = copy.deepcopy(value, memo)
    except Exception:
        return ("opaque",)
    return ("held", made, tuple((path, memo[id(inner)]) for path, inner in shared if id(inner) in memo))


def _follow(roots, path):
    node = roots[path[0]]
    for kind, key in path[1:]:
        node = getattr(node, key) if kind == "a" else node[key]
    return node


def _replayed(entry, roots, fn):
    """The logged result of a call, for its replay on ``roots`` (the recomputed call's receiver and
    arguments): what it shares with them made of them again (``entry.recipe``), else a copy."""
    recipe = entry.recipe
    if recipe is None:
        return _snapshot(entry.value)
    try:
        return _made(recipe, roots, entry.value)
    except _NotIterable:
        name = call_name(fn)
        raise RecomputedCallError(
            f"{name}() returns a generator (or another iterator), which sct cannot replay where it recomputes "
            f"this code for a second derivative (it replays the call's result there, so that the call runs "
            f"once, and the iterator is already advanced): make a list of its values (list({name}(...))) and "
            f"iterate over that") from None
    except _NotMade:
        name = call_name(fn)
        raise RecomputedCallError(
            f"{name}() returns an object it was given, or a part or view of one, in a way sct cannot make "
            f"again where it recomputes this code for a second derivative (it replays the call's result "
            f"there, so that the call runs once); return a new value (a copy) from {name}() instead")


class _NotMade(Exception):
    pass


class _NotIterable(_NotMade):
    pass


def _iterator(value) -> bool:
    """A generator or another iterator without attributes to copy (``map``, ``zip``, a list's
    iterator): its state cannot be kept for a replay, which would give the first run's object,
    already advanced."""
    return hasattr(type(value), "__next__") and not isinstance(_fields(value), dict) and \
        not isinstance(value, (np.ndarray, np.generic, str, bytes)) and not _holds_data(value)


def _made(recipe, roots, value):
    kind = recipe[0]
    if kind == "iterator":
        raise _NotIterable
    if kind == "opaque":
        raise _NotMade
    if kind == "held":
        import copy
        memo = {}
        for path, inner in recipe[2]:
            try:
                memo[id(inner)] = _follow(roots, path)
            except Exception:
                raise _NotMade from None
        return copy.deepcopy(recipe[1], memo)
    if kind == "items":
        made = [(_made(r, roots, v) if r is not None else _snapshot(v)) for r, v in zip(recipe[2], value)]
        return recipe[1](made) if recipe[1] in (tuple, list) else made
    try:
        node = _follow(roots, recipe[1])
    except Exception:
        raise _NotMade from None
    if kind == "is":
        return node
    _, _, shape, dtype, start, vshape, vdtype, vstrides, writeable = recipe
    if type(node) is not np.ndarray or node.shape != shape or node.dtype != dtype or not node.flags.c_contiguous:
        raise _NotMade
    view = np.ndarray(vshape, vdtype, buffer=node, offset=start, strides=vstrides)
    if not writeable:
        view.flags.writeable = False
    return view


def _draws(fn, args, kwargs) -> bool:
    """Is the call given a random generator, or a method of an object holding one?"""
    if any(isinstance(a, _RANDOM_OWNERS) for a in args) or \
            any(isinstance(a, _RANDOM_OWNERS) for a in kwargs.values()):
        return True
    owner = getattr(fn, "__self__", None)
    return owner is not None and not isinstance(owner, type) and \
        any(isinstance(v, _RANDOM_OWNERS) for v in (_fields(owner) or {}).values())


def _changes(fn) -> bool:
    from .support import HOOKS
    return HOOKS.changes_arguments(fn)


def _replayable(fn, args, kwargs) -> bool:
    if any(isinstance(a, _RANDOM_OWNERS) for a in args) or \
            any(isinstance(a, _RANDOM_OWNERS) for a in kwargs.values()):
        return True
    owner = getattr(fn, "__self__", None)
    if owner is not None and not isinstance(owner, type) and \
            any(isinstance(v, _RANDOM_OWNERS) for v in (_fields(owner) or {}).values()):
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
    if _closure(value):
        # a nested function (a lambda, a partial) made in differentiated code: the values it captured
        # (was: deep-copied with its frame, its sentinels new objects, so that a recomputed helper given
        # one never left "the same values"; red team B, dec 23: partial(kernel, ls=0.7) given to a
        # gram-matrix helper refused every second derivative)
        return tuple(_snapshot(v) for v in value)
    if type(value) is dict:
        return {k: _snapshot(v) for k, v in value.items()}
    if type(value) in (set, bytearray):
        return type(value)(value)
    if isinstance(value, (types.FunctionType, types.MethodType, types.ModuleType, type) + _RANDOM_OWNERS) or \
            _fields(value) is None or _holds_data(value):
        return value
    if any("__getattr__" in vars(k) or "__getattribute__" in vars(k) for k in type(value).__mro__[:-1]
           if not library_code(k)):
        return _fields_copied(value)
    import copy
    try:                                # with what it holds: c.vals.append(...), c.w[0] = ...
        return copy.deepcopy(value)
    except Exception:
        try:
            return copy.copy(value)
        except Exception:
            return value


def _fields_copied(value):
    """An object whose class answers names by its ``__getattr__``, copied by its ``__dict__`` (copy.deepcopy asks
    the object for ``__deepcopy__`` and the copy for ``__setstate__``: the user's __getattr__ ran for them, its
    side effects too, red57a W6)."""
    try:
        new = object.__new__(type(value))
        object.__getattribute__(new, "__dict__").update({k: _snapshot(v) for k, v in _fields(value).items()})
        return new
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


def replay_from(position: int, watch: bool = True) -> None:
    """Effects from here on are read from the log, starting at ``position``.  ``watch``: check at
    ``replay_end`` that the global random generators (and the generators the sweep is given) are
    where they were, and refuse one-shot iterators the sweep is given; False where the compiler
    proved that no code it did not compile runs and no argument holds such things
    (sct/recomputed.unwatched_replays)."""
    s = state()
    if not watch:
        s.cursors.append(position)
        s.draws.append(None)
        return
    caller = sys._getframe(1)
    owners = []
    if caller.f_code.co_filename.startswith("<sct-generated"):
        _refuse_used_iterators(caller)
        owners = _generators_given(caller)
    s = state()
    s.cursors.append(position)
    s.draws.append((_global_draw_state(), [(g, _owner_state(g)) for g in owners]))


def _refuse_used_iterators(frame) -> None:
    """A generated sweep that recomputes the code before its site (called with the function's
    arguments that code reads) refuses an argument that is, or directly holds, a one-shot iterator
    (a generator, ``iter(...)``, ``map``, ``zip``...): the first run walked it, so it is used up and
    ``list(it)``, ``sum(it)`` or a loop over it would see nothing (a silently zero second derivative)."""
    code = frame.f_code
    count = code.co_argcount + code.co_kwonlyargcount
    for name in code.co_varnames[:count]:
        value = frame.f_locals.get(name)
        if _iterator(value) and _used_up(value, True):
            held = name
        else:
            held = None
            if isinstance(value, (list, tuple)):
                inner = list(enumerate(value))
            elif isinstance(value, dict):
                inner = list(value.items())
            elif isinstance(_fields(value), dict) and not isinstance(value, type):
                # (a field: only one the first run used up, as far as can be told: an object such as a
                # trainer may hold an iterator the code does not read)
                inner = [("." + k, v) for k, v in vars(value).items() if _iterator(v) and _used_up(v)]
            else:
                inner = []
            for key, item in inner:
                if _iterator(item) and _used_up(item, True):
                    held = f"{name}{key}" if isinstance(key, str) and key.startswith(".") else f"{name}[{key!r}]"
                    break
        if held is not None:
            from .errors import SctError
            raise SctError(
                f"{held} is a one-shot iterator ({type(_follow_name(value, held, name)).__name__}: a generator, "
                f"iter(...), map, zip, ...) read by the code before a dlgradient that a later dlgradient "
                f"differentiates again: sct recomputes that code, and there the first run has used the "
                f"iterator up (a loop over it would run zero times, list(...) of it would be empty). Pass a "
                f"list instead (list(...) of it, made before dlfeval)")


def _used_up(it, unknown=False) -> bool:
    """Did the first run walk ``it`` (a loop of generated code), or is it known to be empty (or, for a
    generator, started)?  ``unknown``: the answer where that cannot be told (a ``map``, a ``zip``).  An
    iterator still whole is the sweep's own to walk (a helper whose result only the sweep needs is
    called by the sweep alone: sct/recomputed.py)."""
    import operator
    if state().walked.get(id(it)) is it:
        return True
    if isinstance(it, types.GeneratorType):
        import inspect
        return inspect.getgeneratorstate(it) != inspect.GEN_CREATED
    try:
        hint = operator.length_hint(it, -1)
    except Exception:
        return unknown
    return unknown if hint < 0 else hint == 0


def _follow_name(value, held, name):
    if held == name:
        return value
    if isinstance(value, (list, tuple, dict)):
        for key, item in (value.items() if isinstance(value, dict) else enumerate(value)):
            if _iterator(item):
                return item
    return next((v for v in vars(value).values() if _iterator(v)), value)


def replay_end() -> None:
    s = state()
    if s.cursors:
        s.cursors.pop()
    watched = s.draws.pop() if s.draws else None
    if watched is not None:
        before, owners = watched
        if not _same_draw_state(before, _global_draw_state()) or \
                any(not _same_owner_state(was, _owner_state(g)) for g, was in owners):
            from .errors import SctError
            raise SctError(
                "the code recomputed here drew random numbers (from numpy's or Python's global generator, "
                "or a generator it was given) through a call sct does not know draws (scipy.stats' rvs, a "
                "class's __getitem__ or __iter__, a functools.partial, another library's function): sct recomputes the code before a dlgradient that a "
                "later dlgradient differentiates again, and there it drew other numbers than Python's "
                "single run (the gradient would be another loss's). Draw them in the function itself "
                "(np.random..., random..., a Generator's methods, which sct replays), or before dlfeval "
                "and pass them in")


def _global_draw_state():
    """Where numpy's and Python's global random generators are (compared by :func:`replay_end`: a
    recomputation whose known draws are replayed from the log leaves them where they were)."""
    kind, keys, pos, has_gauss, gauss = np.random.get_state()
    return keys, pos, has_gauss, gauss, random.getstate()


def _same_draw_state(a, b) -> bool:
    return a[1:] == b[1:] and np.array_equal(a[0], b[0])


def _generators_given(frame) -> list:
    """The random generators a recomputing sweep is given: its arguments, and what they hold directly
    (items, fields, a functools.partial's arguments, a bound method's object)."""
    import functools
    code = frame.f_code
    found: list = []

    def add(v):
        if isinstance(v, _RANDOM_OWNERS) and not isinstance(v, io.IOBase) and all(v is not f for f in found):
            found.append(v)

    for name in code.co_varnames[:code.co_argcount + code.co_kwonlyargcount]:
        value = frame.f_locals.get(name)
        add(value)
        if isinstance(value, (list, tuple)):
            inner = list(value)
        elif isinstance(value, dict):
            inner = list(value.values())
        elif isinstance(value, functools.partial):
            inner = list(value.args) + list(value.keywords.values())
        elif isinstance(value, types.MethodType):
            inner = [value.__self__]
        elif isinstance(_fields(value), dict) and not isinstance(value, (type, types.ModuleType)):
            inner = list(vars(value).values())
        else:
            inner = []
        for v in inner:
            add(v)
    # globals and closure values the sweep reads (RNG = default_rng()), and those the code sct generated
    # for the helpers it calls by name reads, and theirs (a closure's generator: red team W)
    todo = [(code, frame.f_globals)]
    visited = set()
    while todo and len(visited) < 256:
        code, namespace = todo.pop()
        if id(code) in visited:
            continue
        visited.add(id(code))
        for name in code.co_names:
            value = namespace.get(name)
            if isinstance(value, _RANDOM_OWNERS):
                add(value)
            elif isinstance(value, types.FunctionType) and getattr(value, "__sct_generated__", False):
                todo.append((value.__code__, value.__globals__))
        for const in code.co_consts:    # (comprehensions and nested functions of the code)
            if isinstance(const, types.CodeType):
                todo.append((const, namespace))
    return found


def _owner_state(g):
    if isinstance(g, np.random.Generator):
        return g.bit_generator.state
    if isinstance(g, np.random.BitGenerator):
        return g.state
    if isinstance(g, np.random.RandomState):
        return g.get_state(legacy=False)
    if isinstance(g, random.Random):
        return g.getstate()
    return None


def set_owner_state(g, state) -> None:
    """Put the generator ``g`` back where ``_owner_state`` found it."""
    if isinstance(g, np.random.Generator):
        g.bit_generator.state = state
    elif isinstance(g, np.random.BitGenerator):
        g.state = state
    elif isinstance(g, np.random.RandomState):
        g.set_state(state)
    else:
        g.setstate(state)


def _same_owner_state(a, b) -> bool:
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(_same_owner_state(a[k], b[k]) for k in a)
    if isinstance(a, np.ndarray) or isinstance(b, np.ndarray):
        return np.array_equal(a, b)
    return a == b


def recompute_guard(message, filename, lineno):
    """At the start of code that changes an object from outside it and reads it
    (``sct/recompute_writes.py``): nothing in a first run; in a recomputation (effects replayed)
    that code would read the object as the first run left it: refused."""
    if state().cursors:
        from .errors import EvaluationError
        raise EvaluationError(message, filename, lineno)


def implicit_hook_message(shown: str) -> str:
    """The refusal of implicit code of the user's that changes an object, run again where a second derivative
    recomputes (``shown``: ``Sched.lr``, ``Cut.__index__``...; sct/recompute_hooks.py)."""
    return (f"this line may run code of the user's that Python runs implicitly ({shown}: a property, __index__, "
            f"__bool__, __len__, __float__, a descriptor, a with statement's __enter__/__exit__...) and that changes "
            f"an object; a later dlgradient "
            f"differentiates a gradient computed from this code again, so sct recomputes it, which would run that "
            f"code a second time (Python runs it once). Read the value once in a helper function (it runs once) or "
            f"before the function and pass it in, or make that code change nothing")


_CHANGING_HOOKS: dict = {}


_GENERATOR_CONTEXT = contextlib._GeneratorContextManagerBase


def recompute_hooked(filename, lineno, objects, hooks, shown=None):
    """Before a statement of code a second derivative may recompute that may run implicit code of the user's
    (a property, ``__index__``, ``__bool__``... of ``objects``; ``hooks``: for each, the names of the hooks the
    statement may run on it, space-separated): nothing in a first run; in a recomputation refused where the
    actual class of one of them (or the class itself and its metaclass, for a class) has such a hook that may
    change an object (it would run a second time; was: a counting property ``lr`` gave z 38.25, dz/dx [9, 72]
    where Python gives 153, [36, 288], red57c W3).  ``shown``: refused in a recomputation as it is (what the
    compiler could not name)."""
    if not state().cursors:
        return
    ran = [shown] if shown else []
    for obj, names in zip(objects, hooks):
        func = getattr(obj, "func", None) if isinstance(obj, _GENERATOR_CONTEXT) else None
        if func is not None and "__enter__" in names.split():
            # (``@contextlib.contextmanager``'s object: its generator's code runs at __enter__ and __exit__)
            from .support import HOOKS
            if HOOKS.changes is None or HOOKS.changes(func):
                ran.append(f"{getattr(func, '__name__', 'the context manager')}()")
            continue
        for cls in (type(obj), obj) if isinstance(obj, type) else (type(obj),):
            changing = _CHANGING_HOOKS.get(cls)
            if changing is None:
                from .support import HOOKS
                changing = HOOKS.changing_hooks(cls) if HOOKS.changing_hooks is not None else \
                    {h: f"{cls.__name__}.{h}" for h in class_hooks(cls)}
                if len(_CHANGING_HOOKS) < 4096:
                    _CHANGING_HOOKS[cls] = changing
            ran += [changing[h] for h in names.split() if h in changing and changing[h] not in ran]
    if ran:
        from .errors import EvaluationError
        raise EvaluationError(implicit_hook_message(", ".join(ran[:3])), filename, lineno)


def recompute_alias_guard(filename, pairs):
    """Before code a second derivative recomputes in which a call sct replays changes an object from
    outside the function (``trainer.set_training(False)``) and other code reads another outside value
    (``y = model(x)``), each pair ``(changed, read, line, message)``: in a recomputation, refused where
    ``read`` reaches an object ``changed`` reaches (``trainer.model is model``, two arguments holding one
    list, a global's closure holding the argument), so the recomputed read would see it as the first run
    left it (sct/recompute_writes.py; was: the change keyed on the receiver's name only, a wrong first
    and second gradient, red team 49).  Nothing in a first run."""
    if not state().cursors:
        return
    walked: dict = {}               # id -> what the value reaches (each value walked once per guard)
    for changed, read, line, message in pairs:
        mine, theirs = (walked[id(v)] if id(v) in walked else walked.setdefault(id(v), _reached(v))
                        for v in (changed, read))
        if mine is None or theirs is None or mine & theirs:
            from .errors import EvaluationError
            raise EvaluationError(message, filename, line)


_ATOMS = (type(None), bool, int, float, complex, str, bytes, range, np.generic, types.ModuleType, type,
          types.BuiltinFunctionType, np.ufunc, np.dtype)


def _reached(value, limit: int = 1_000_000):
    """The ids of the mutable objects ``value`` reaches (itself, an item of a list, dict, set or deque, an
    object's attribute (``__dict__``, ``__slots__``), an array's base, a bound method's object, a closure
    cell's or a partial's value; dlarrays, numbers, strings, classes, modules, functions themselves and the
    standard library's services aside); None past ``limit`` objects (not checked: refused)."""
    import functools
    from .dlarray import dlarray
    from .support import service_object
    out: set = set()
    seen: set = set()
    stack = [value]
    while stack:
        v = stack.pop()
        if isinstance(v, types.BuiltinMethodType) and not isinstance(getattr(v, "__self__", None),
                                                                     (types.ModuleType, type(None))):
            stack.append(v.__self__)              # (a builtin's bound method: LOG.append)
            continue
        if isinstance(v, _ATOMS) or isinstance(v, dlarray) or id(v) in seen or service_object(v):
            continue                                # (a logger both hold: not the user's state)
        seen.add(id(v))
        if len(seen) > limit:
            return None
        if isinstance(v, types.FunctionType):
            stack += [c.cell_contents for c in v.__closure__ or () if _filled(c)]
            stack += list(v.__defaults__ or ()) + list((v.__kwdefaults__ or {}).values())
            continue
        if isinstance(v, types.MethodType):
            stack += [v.__self__, v.__func__]
            continue
        if isinstance(v, functools.partial):
            stack += [v.func, *v.args, *v.keywords.values()]
            continue
        if isinstance(v, (tuple, frozenset)):
            stack += v
            continue
        out.add(id(v))
        if isinstance(v, dict):
            stack += dict.values(v)
        elif isinstance(v, (list, set, deque)):
            stack += list(v)
        elif isinstance(v, np.ndarray):
            if v.dtype == object:
                stack += list(v.flat)
            if v.base is not None:
                stack.append(v.base)
        else:
            d = _fields(v)
            if isinstance(d, dict):
                stack += list(d.values())
            for cls in type(v).__mro__:
                slots = cls.__dict__.get("__slots__", ())
                for name in ((slots,) if isinstance(slots, str) else slots):
                    if name not in ("__dict__", "__weakref__"):
                        stack.append(getattr(v, name, None))
    return out


def _filled(cell) -> bool:
    try:
        cell.cell_contents
    except ValueError:
        return False
    return True


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


def _types_sure_reset() -> None:
    """An outermost run ends with no ``rt.unsure_types`` mark (runtime/support.py): a helper's run
    between ``rt.unsure_types()`` and ``rt.types_end()`` that raised (a refusal in jvp, a user's exception the
    function caught) left its mark set, and every later type test of the process was refused (30 tests of a
    fresh clone's CI, each passing alone)."""
    from .support import _TYPES_SURE
    del _TYPES_SURE[1:]


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
            _types_sure_reset()
            s.log.clear()
            s.cursors.clear()
            s.walked.clear()
            s.walks.clear()
            s.draws.clear()
            s.captured.clear()
            if s.globals_seen:
                if exc[0] is None:
                    globals_seen_kept()
                s.globals_seen.clear()
        return False


def walked_object(obj, items) -> None:
    """A loop of generated code walked ``obj``, an object of the user's class, by its ``__iter__`` (or
    ``__getitem__``), giving ``items``: a first run notes them; a recomputation (effects replayed) whose
    walk gives other items than every walk of the first run is refused (a data loader that shuffles, or
    advances an epoch counter, in ``__iter__``: the recomputed loss summed the batches in another order
    or other batches than Python's single run, a silently wrong gradient and second derivative)."""
    s = state()
    if not s.cursors:
        if s.depth > 0:
            s.walks.setdefault(id(obj), (obj, []))[1].append(tuple(items))
        return
    from .support import HOOKS
    changing = HOOKS.walk_changes(type(obj)) if HOOKS.walk_changes is not None else None
    if changing:
        from .errors import SctError
        raise SctError(
            f"iterating this {type(obj).__name__} runs {changing}, which changes an object, and sct recomputes "
            f"the loop before a dlgradient that a later dlgradient differentiates again: it ran a second time "
            f"(Python runs it once), and the recomputed values would not be Python's. Make the list of its items "
            f"before dlfeval (list(...) of it) and pass that, or make the walk change nothing")
    seen = s.walks.get(id(obj))
    if seen is None or seen[0] is not obj or any(_same_items(items, walk) for walk in seen[1]):
        return
    from .errors import SctError
    raise SctError(
        f"iterating this {type(obj).__name__} (its __iter__) gave other items where sct recomputes the code "
        f"before a dlgradient that a later dlgradient differentiates again than in the first run (it "
        f"shuffles, draws or keeps a position): the recomputed values would not be Python's. Make the list "
        f"of its items before dlfeval (list(...) of it) and pass that")


def _same_items(a, b) -> bool:
    if len(a) != len(b):
        return False
    for x, y in zip(a, b):
        if x is y:
            continue
        try:
            if type(x) is not type(y) or not bool(np.array_equal(np.asarray(_data_of(x)),
                                                                  np.asarray(_data_of(y)))):
                return False
        except Exception:
            return False
    return True


def walked_iterator(items) -> None:
    """A loop (or list, comprehension) of generated code walks ``items``, an iterator (a generator,
    ``iter(...)``, ``map``, a dict's item iterator): a first run notes it; a recomputation (effects
    replayed) that walks the same object again is refused, as Python's iterator is used up there (the
    recomputed loop ran zero times: a silently zero second derivative of a loss summed over
    ``for b in batches`` with ``batches`` a generator passed to dlfeval)."""
    s = state()
    if not s.cursors:
        if s.depth > 0:
            s.walked[id(items)] = items
        return
    if s.walked.get(id(items)) is items:
        from .errors import SctError
        raise SctError(
            f"this loop walks a {type(items).__name__} (a one-shot iterator: a generator, iter(...), map, "
            f"zip, ...) that the first run already used up: sct recomputes the code before a dlgradient "
            f"that a later dlgradient differentiates again, and there the iterator is empty (the loop "
            f"would run zero times). Pass a list instead (list(...) of it, made before dlfeval)")


def stale_kept(*values, operands=(), adjoints=()):
    """Before a call sct cannot look into (a helper taken as not writing, a method, ``next``, a ``with``
    block's ``__enter__``/``__exit__``) that runs after differentiated operations read the plain arrays
    ``values`` and before the gradient that reads them again (sct/stale_reads.py): each array and a copy
    of its numbers, for :func:`stale_check`.  A plain list of numbers (or of such lists) among ``operands``,
    those an adjoint reads as an operand (``y = np.sum(x * W)`` of a global ``W = [2.0, 2.0]``: ``d_y * W``), is
    kept too, as its items (was: a call's ``W[0] += 1`` between them gave the changed numbers as the gradient,
    [3, 2] where Python's derivative is [2, 2], red55h).  Not other lists: sct's tape (copied at each pass of a
    loop: 23 GB for progtest's seed 238), a log list the code appends to and reads only otherwise."""
    from .dlarray import dlarray
    if any(type(v) is FieldPath for v in values):
        values = tuple(v.value() if type(v) is FieldPath else v for v in values)
        operands = tuple(v.value() if type(v) is FieldPath else v for v in operands)
    kept = [(v, v.copy()) if isinstance(v, np.ndarray) and not isinstance(v, dlarray) else
            _list_kept(v) if type(v) is list and any(v is o for o in operands) else None for v in values]
    # ``adjoints``: ((backward, line), ...) of the helpers the caller's code compiled when it ran them (a method
    # of a global's object): what their adjoints read (sct/stale_reads.py), kept with its name and the call's line
    # (``(backward, line, residuals)``: and what its adjoint reads through the residuals of the call, its
    # ``__sct_residual_reads__``: ``self.w`` of a method, the helpers' it calls; sct/stale_reads.py)
    for entry in adjoints:
        line = entry[1]
        for name, v in _adjoint_reads_of(entry[0], entry[2] if len(entry) > 2 else None, 0):
            v = v.value() if type(v) is FieldPath else v
            held = (v, v.copy()) if isinstance(v, np.ndarray) and not isinstance(v, dlarray) else \
                _list_kept(v) if type(v) is list else None
            if held is not None:
                kept.append(held + (name, line))
        if len(entry) > 2:
            mine = {id(h[0]) for h in kept if h is not None}
            for name, v in _residual_outside(entry[0], entry[2], entry[3] if len(entry) > 3 else ()):
                if id(v) not in mine:
                    mine.add(id(v))
                    kept.append((v, v.copy(), name, line))
    return tuple(kept)


def _residual_outside(bwd, residuals, passed=()):
    """``(name, array)`` of the arrays among a helper call's ``residuals`` (its tapes, the residuals of the helpers
    it calls, a dlarray's numbers) that share memory with an array reachable from the globals and closure values
    its code reads (``bwd.__sct_outside_roots__``, sct/stale_reads.py; a method's object too) or the call passed it
    by name (``passed``, ``((name, value), ...)``: ``model(x, PARAMS)`` reading ``p.get("w")``): what its adjoint
    reads that code run before the gradient may change in place, whatever form the helper read it by
    (``P.get("w")``, ``W if c else 1.0``, ``dlarray(W)``, a row of a loop over ``W``, ``list(W)[0]``,
    ``np.split(W, 2)``, a getter ``get_w()``, a generator; was: not kept, ``W[0] += 1`` before the gradient gave
    [3, 2] where Python's derivative is [2, 2], red57b W1).  Kept by reference (a copy of those numbers only)."""
    from .dlarray import dlarray
    roots = list(getattr(bwd, "__sct_outside_roots__", ())) + list(passed)   # (and what the call was passed)
    found, budget, stack = {}, _WALK_BUDGET, [(residuals, 0)]
    while stack and budget > 0:
        v, depth = stack.pop()
        budget -= 1
        if isinstance(v, dlarray):
            v = getattr(v, "_data", None)
        if isinstance(v, np.ndarray):
            if v.dtype.kind != "O" and v.size:
                found.setdefault(id(_memory_owner(v)), []).append(v)
        elif type(v) in (tuple, list) and depth < 64:
            stack.extend((e, depth + 1) for e in v)
        elif callable(v) and hasattr(v, "__sct_outside_roots__"):
            roots.extend(v.__sct_outside_roots__)        # (a helper's backward among the residuals: its reads)
    if not found or not roots:
        return []
    named, few = _outside_arrays(roots, found)
    out = [(named[o], r) for o in named for r in found[o]]
    if few is not None:         # (memory shared otherwise than through one owner: a buffer's arrays)
        out += [(n, r) for o, rs in found.items() if o not in named for r in rs
                for n in [next((n for n, a in few if np.may_share_memory(r, a)), None)] if n is not None]
    return out


_WALK_BUDGET = 200000


def _memory_owner(a):
    """The object owning the memory of the array ``a`` (the end of its ``.base`` chain: a view's array,
    ``as_strided``'s, a buffer)."""
    for _ in range(16):
        b = a.obj if isinstance(a, memoryview) else getattr(a, "base", None)
        if b is None:
            return a
        a = b
    return a


def _outside_arrays(roots, wanted):
    """Per owner of memory among ``wanted`` (ids), the name of the first array reachable from ``roots``
    ``((name, value), ...)`` that it owns, found without running code of the user's: items of dicts, lists,
    tuples and sets, an object's own fields, a class's own attributes, a function's closure values and the globals
    its code names (a getter ``def get_w(): return W``, behind ``lru_cache`` too), a partial's frozen values, a
    bound method's object; and ``[(name, array), ...]`` of all those reached where they are few, else None."""
    from .dlarray import dlarray
    named, every, seen, budget = {}, [], set(), 20000
    stack = [(v, (name,), 0) for name, v in roots]
    while stack and budget > 0 and len(named) < len(wanted):
        v, path, depth = stack.pop()
        budget -= 1
        if id(v) in seen or depth > 12 or isinstance(v, _SCALARS):
            continue
        seen.add(id(v))
        if isinstance(v, np.ndarray):
            if not isinstance(v, dlarray):
                owner = id(_memory_owner(v))
                if owner in wanted and owner not in named:
                    named[owner] = _path_text(path)
                if len(every) <= 64:
                    every.append((path, v))
            continue
        t = type(v)
        if isinstance(v, dict):
            stack.extend((e, (path, "[%r]" % (k,)), depth + 1) for k, e in list(dict.items(v)))
        elif isinstance(v, (list, tuple, set, frozenset, deque)):
            for k, e in enumerate(list.copy(v) if isinstance(v, list) else
                                  tuple.__iter__(v) if isinstance(v, tuple) else list(v)):
                if type(e) is np.ndarray:       # (a list of many arrays, a data set's: walked here, at once)
                    owner = id(e) if e.base is None else id(_memory_owner(e))
                    if owner in wanted and owner not in named:
                        named[owner] = _path_text((path, k))
                    if len(every) <= 64:
                        every.append(((path, k), e))
                elif not isinstance(e, _SCALARS):
                    stack.append((e, (path, k), depth + 1))
        elif isinstance(v, functools.partial):
            stack.extend([(v.func, path, depth + 1), (v.args, path, depth + 1), (v.keywords, path, depth + 1)])
        elif t is types.FunctionType:
            if module_top(v) in ("numpy", "sct", "sct_generated"):
                continue
            stack.extend((c.cell_contents, (c_name,), depth + 1) for c_name, c in
                         zip(v.__code__.co_freevars, v.__closure__ or ()) if _cell_full(c))
            g = v.__globals__
            stack.extend((g[n], (n,), depth + 1) for n in _code_names(v.__code__) if n in g)
            stack.extend((d, path, depth + 1) for d in (v.__defaults__ or ()))
        elif t is types.MethodType:
            stack.extend(((v.__self__, path, depth + 1), (v.__func__, path, depth + 1)))
        elif not isinstance(v, types.ModuleType) and module_top(t) not in ("numpy", "sct", "sct_generated") and \
                not (isinstance(v, type) and module_top(v) in ("numpy", "sct", "builtins", "sct_generated")):
            try:
                own = object.__getattribute__(v, "__dict__")
            except (AttributeError, TypeError):
                continue
            if type(own) is dict or isinstance(v, type):
                stack.extend((e, (path, "." + k) if k != "__wrapped__" else path, depth + 1)
                             for k, e in list(dict(own).items()))
    few = [(_path_text(p), a) for p, a in every] if len(every) <= 64 and len(named) < len(wanted) else None
    return named, few


def _path_text(path) -> str:
    """``P['w']``, ``L[0]``, ``CFG.w`` of a path ``((("P",), "['w']"))`` made while walking."""
    steps = []
    while len(path) == 2:
        path, step = path
        steps.append("[%d]" % step if type(step) is int else step)
    return path[0] + "".join(reversed(steps))


_SCALARS = (bool, int, float, complex, str, bytes, type(None), np.generic, range)


def _cell_full(cell) -> bool:
    try:
        cell.cell_contents
    except ValueError:
        return False
    return True


def _code_names(code):
    """The global names ``code`` (and the code of its nested functions, comprehensions) may read."""
    names = list(code.co_names)
    for c in code.co_consts:
        if isinstance(c, types.CodeType):
            names += _code_names(c)
    return names


def _adjoint_reads_of(bwd, residuals, depth):
    """``(name, value)`` of what the backward ``bwd`` reads when it runs: its globals, and (given the residuals of
    its call) the items of its residuals its ``__sct_residual_reads__`` names, those of the helpers it calls too."""
    out = list(getattr(bwd, "__sct_adjoint_reads__", ()))
    if type(residuals) is not tuple or depth > 32:
        return out
    for kind, k, name in getattr(bwd, "__sct_residual_reads__", ()):
        if kind == "value" and k < len(residuals):
            out.append((name, residuals[k]))
        elif kind == "pair" and max(k, name) < len(residuals):
            out += _adjoint_reads_of(residuals[k], residuals[name], depth + 1)
    return out


class FieldPath:
    """A field or an item of a global's object that a helper's adjoint reads (``np.sum(x * CFG.w)``,
    ``P["w"]`` in the helper: sct/stale_reads.py, Compiled.adjoint_reads), for its caller's :func:`stale_kept`:
    what the path holds when the caller keeps it, found where no code of the user's runs on the way (an
    instance's own field, a module's or a class's own attribute, a dict's, list's or tuple's item), else None."""
    __slots__ = ("root", "steps")
    VIEW = (None, None)     # a step giving a view of the array reached (a slice, ``reshape``, ``np.asarray``)

    def __init__(self, root, steps):
        self.root, self.steps = root, steps

    def value(self):
        v = self.root
        for attr, key in self.steps:
            if isinstance(v, np.ndarray):
                # the rest reads the array's memory (``W.T``, ``A[0]``, ``A.reshape(2)``: a view of it, or numbers
                # copied from it): the array is what may change, through itself or any view of it (red57a W1)
                return v if attr is not True or key in _VIEW_ATTRIBUTES else None
            if attr is None:
                return None
            if attr:
                own = _fields(v)
                if type(own) is not dict and not isinstance(v, type) or key not in vars(v) or \
                        type(v).__getattribute__ not in _PLAIN_GETATTRIBUTE or \
                        hasattr(type(getattr(type(v), key, None)), "__set__"):
                    return None
                v = vars(v)[key]
            elif type(v) is dict and key in v or \
                    type(v) in (list, tuple) and type(key) is int and -len(v) <= key < len(v):
                v = v[key]
            else:
                return None
        return v


_VIEW_ATTRIBUTES = frozenset(("T", "mT", "real", "imag", "flat", "base"))
_PLAIN_GETATTRIBUTE = (object.__getattribute__, type.__getattribute__, types.ModuleType.__getattribute__)


def list_kept(v):
    """A plain list of numbers (or of such lists) and its items, for :func:`stale_check` right before a
    gradient's sweep that reads it by name (sct/stale_reads.py ``_sweep_checks``); None for anything else."""
    return _list_kept(v) if type(v) is list else None


def _list_kept(v):
    items = _list_items(v)
    return None if items is None else (v, items)


_NUMBERS = numbers.Number


def _list_items(v):
    """The items of a list of numbers (nested lists as tuples of theirs; numbers are not changed in place, so
    the references are what the adjoint reads), else None (a list holding arrays or other objects)."""
    items = tuple(v)
    for e in items:
        if type(e) is list:
            return _list_items_nested(items)
        if not isinstance(e, _NUMBERS) or isinstance(e, np.ndarray):
            return None
    return items


def _list_items_nested(items):
    out = []
    for e in items:
        e = _list_items(e) if type(e) is list else e if isinstance(e, _NUMBERS) and \
            not isinstance(e, np.ndarray) else None
        if e is None:
            return None
        out.append(e)
    return tuple(out)


# what a for loop walks without running code of the user's (rt.as_sequence): no copy taken there
_QUIET_WALKS = (list, tuple, dict, str, bytes, range, set, frozenset, np.ndarray, type({}.keys()),
                type({}.values()), type({}.items()))


def stale_kept_walk(items, *values, operands=(), adjoints=()):
    """:func:`stale_kept` before ``rt.as_sequence(items)`` of a for loop, where walking ``items`` may run the
    user's code (an object's ``__iter__``, a generator): None where it is a list, tuple, dict, array..."""
    if type(items) in _QUIET_WALKS:    # (exact: a subclass's own __iter__ may run code; was isinstance, redfix51b G1)
        return None
    return stale_kept(*values, operands=operands, adjoints=adjoints)


def stale_kept_hooked(subjects, *values, operands=(), adjoints=()):
    """:func:`stale_kept` before a statement that uses ``subjects`` (the objects it reads a field of, indexes,
    adds, compares, passes...) where Python may run the user's code implicitly (a property, ``__add__``,
    ``__index__``, a dict subclass's ``__missing__``, a metaclass's property): None where none of them is of a
    class with such code (sct/implicit_hooks.py; was: ``for s in SCHEDS: s.lr`` or ``P + 1.0`` changing an array
    an earlier operation read gave the changed numbers as the gradient, red57a W2)."""
    for v in subjects:
        if runs_hooks(v):
            return stale_kept(*values, operands=operands, adjoints=adjoints)
    return None


_HOOKED: dict = {}
# methods Python does not run implicitly where code uses an object (they run where the code calls them by name)
_NOT_HOOKS = frozenset(("__init__", "__new__", "__del__", "__init_subclass__", "__post_init__", "__set_name__",
                        "__reduce__", "__reduce_ex__", "__getstate__", "__setstate__", "__copy__", "__deepcopy__",
                        "__subclasshook__", "__enter__", "__exit__"))


def runs_hooks(value, depth: int = 0) -> bool:
    """Whether using ``value`` (reading its fields, an operator, an index, a builtin's protocol) may run code of
    the user's that Python calls implicitly: its class's (or, for a class, its own and its metaclass's)
    properties, descriptors with a ``__get__`` of the user's, and special methods written by the user; for a
    list, tuple, set or dict, those of what it holds (``sum([P])``: P.__radd__; ``sorted(objs)``: __lt__)."""
    cls = type(value)
    if cls in _HELD:
        items = list(value.items()) if cls is dict else value
        if depth >= 2 or len(items) > 256:
            return True         # (deep or long: taken as such, kept and checked)
        return any(runs_hooks(v, depth + 1) for item in items
                   for v in (item if cls is dict else (item,)))
    if hooked_class(cls):
        return True
    return isinstance(value, type) and hooked_class(value)


_HELD = (list, tuple, set, frozenset, dict)


def hooked_class(cls) -> bool:
    """Whether ``cls`` (or a class it derives from, not Python's, numpy's or sct's) has a property, a descriptor
    of the user's or a special method written by the user."""
    return bool(class_hooks(cls))


def class_hooks(cls) -> frozenset:
    """The names of those (a property's, a descriptor's field name; ``__add__``, ``__getattr__``...), cached per
    class: what uses of an object of ``cls`` may run code of the user's (sct/implicit_hooks.py)."""
    found = _HOOKED.get(cls)
    if found is None:
        found = frozenset(n for k in getattr(cls, "__mro__", ()) if not library_code(k) for n in _hooks_in(k))
        if len(_HOOKED) < 4096:
            _HOOKED[cls] = found
    return found

_ABSENT = object()


def class_read_runs_code(base, attr: str) -> bool:
    """Whether reading ``base.attr`` of a class ``base`` runs code of the user's: a property (or a descriptor)
    of its metaclass, a descriptor of the class whose ``__get__`` is the user's (``lr = Counter()``).  sct does
    not read such a field while compiling, nor guard on it (was: ``H.lr`` ran Counter.__get__ six times the
    first call, nine the next, a step schedule's value and gradient wrong, red57a W4)."""
    if not isinstance(base, type):
        return False
    for k in type(base).__mro__[:-1]:
        v = vars(k).get(attr, _ABSENT)
        if v is not _ABSENT:
            if isinstance(v, property) or _user_get(v):
                return True
            break
    for k in base.__mro__:
        v = vars(k).get(attr, _ABSENT)
        if v is not _ABSENT:
            return _user_get(v)
    return False


def _user_get(v) -> bool:
    get = getattr(type(v), "__get__", None)
    return isinstance(get, types.FunctionType) and not library_code(get)




def _hooks_in(k) -> list:
    out = []
    for name, v in vars(k).items():
        if isinstance(v, (staticmethod, classmethod)):
            v = v.__func__
        if isinstance(v, property) or name in ("__getattr__", "__getattribute__") and callable(v):
            out.append(name)
        elif isinstance(v, types.FunctionType):
            if name.startswith("__") and name.endswith("__") and name not in _NOT_HOOKS and not library_code(v) and \
                    v.__code__.co_filename != "<string>":      # (a dataclass's generated __eq__ changes nothing)
                out.append(name)
        elif isinstance(getattr(type(v), "__get__", None), types.FunctionType):
            out.append(name)        # (a descriptor whose __get__ is the user's: ``lr = Counter()``)
    return out

def _same_numbers(a, b) -> bool:
    if type(b) is tuple:             # (a list's items as stale_kept found them)
        return _same_list_items(a, b)
    if a.shape != b.shape or a.dtype != b.dtype:
        return False
    if a.dtype.kind == "O":
        return all(p is q for p, q in zip(a.ravel().tolist(), b.ravel().tolist()))
    return bool(np.array_equal(a, b, equal_nan=a.dtype.kind in "fc"))


def _same_list_items(now, was) -> bool:
    if type(now) is not list or len(now) != len(was):
        return False
    for p, q in zip(now, was):
        if p is q:
            continue
        if type(q) is tuple:
            if not _same_list_items(p, q):
                return False
        elif type(p) is not type(q) or not (p == q or p != p and q != q):
            return False
    return True


def stale_check(kept, names, lines, what, filename, lineno):
    """After that call: refused where it changed one of the arrays in place (was: the adjoint read the
    changed array, a silently wrong gradient; red team 50, C: ``y = x * st["w"]; reweight(st)``)."""
    if kept is None:
        return
    for k, held in enumerate(kept):
        name, line = (names[k], lines[k]) if k < len(names) else held[2:]
        if held is not None and not _same_numbers(held[0], held[1]):
            from .errors import EvaluationError
            kind, copy = ("a list", f"np.array({name})") if type(held[0]) is list else ("an array", f"{name}.copy()")
            raise EvaluationError(
                f"{what} changed {name} in place, {kind} the differentiated operation at line {line} read; "
                f"sct computes that operation's derivative from {name} as it is when the gradient runs, "
                f"so it would use the changed numbers where Python's derivative uses those the operation "
                f"read. Give the operation a copy ({copy}), or change {name} after the gradients",
                filename, lineno)


_GLOBAL_SCALARS = (bool, int, float, complex, str, bytes, type(None), np.generic)


def _plain_global(value) -> bool:
    """A value the rewritten ``global`` statement may hold (sct/global_statements.py): an immutable number,
    string or None (or a tuple of them), which no one can change in place behind the copy."""
    if type(value) is tuple:
        return all(_plain_global(v) for v in value)
    return isinstance(value, _GLOBAL_SCALARS) and not isinstance(value, np.ndarray)


def _seen_kept(namespace, name, line) -> None:
    """Refuse a run in which code the function called rebound a global it declares (``global name`` on
    ``line``) since it read or wrote it (a method of an argument's object doing ``global STEP; STEP += 1``):
    the function's copy is stale there."""
    seen = state().globals_seen.get((id(namespace), name, line))
    now = namespace.get(name, _GONE)
    if seen is not None and now is not seen[3] and not (type(now) is type(seen[3]) and now == seen[3]):
        from .errors import EvaluationError
        raise EvaluationError(f"the global {name!r}, which the function declares here (global {name}), was rebound "
                              f"during the call by code it calls: sct reads such a global where the function starts "
                              f"and follows its own assignments only. Rebind it in one function only (or pass it in "
                              f"and return the new value)", namespace.get("__file__"), line)


_GONE = object()


def globals_seen_kept() -> None:
    """At the end of an outermost run: each global a function declared still holds what it left there."""
    seen = state().globals_seen
    try:
        for namespace, name, line, _ in list(seen.values()):
            _seen_kept(namespace, name, line)
    finally:
        seen.clear()


def global_value(namespace, name, line=None):
    """The value of the module global ``name`` (``namespace``: the module's globals), read by a function
    declaring ``global name`` on ``line`` (sct/global_statements.py); an effect, so a recomputation reads what the first
    run read.  A global holding anything but a number, a string or None is refused (``global`` of a list or
    an array is a name sct cannot follow)."""
    if name not in namespace:
        raise NameError(f"name {name!r} is not defined")
    _seen_kept(namespace, name, line)
    value = namespace[name]
    state().globals_seen[(id(namespace), name, line)] = (namespace, name, line, value)
    if not _plain_global(value):
        from .errors import SctError
        raise SctError(f"the global {name!r} (declared `global {name}`) holds a {type(value).__name__}: sct follows "
                       f"a global that the function rebinds only where it holds a number, a string or None. Pass the "
                       f"value in and return the new one")
    return value


def set_global(namespace, name, value, line=None, traced=False):
    """``namespace[name] = value`` where a function declaring ``global name`` assigns it (an effect: done
    once, not again by a recomputation).  ``traced``: the value depends on the traced inputs, which
    Python holds as a dlarray unless it is a Python number (``float(loss)``): anything else is refused."""
    if traced and type(value) not in (bool, int, float, complex):
        from .errors import SctError
        raise SctError(f"the global {name!r} (declared `global {name}`) is assigned a traced value: Python would "
                       f"store the dlarray, sct's code holds its numbers. Store float(...) of it, or return it")
    if not _plain_global(value):
        from .errors import SctError
        raise SctError(f"the global {name!r} (declared `global {name}`) is assigned a {type(value).__name__}: sct "
                       f"follows a global that the function rebinds only where it holds a number, a string or "
                       f"None. Return the value instead")
    _seen_kept(namespace, name, line)
    namespace[name] = value
    state().globals_seen[(id(namespace), name, line)] = (namespace, name, line, value)


global_value.__sct_effect__ = True
set_global.__sct_effect__ = True


def _register():
    from .registry import nondifferentiable
    from .support import WALK_NOTES
    WALK_NOTES[:] = [sys.modules[__name__]]      # (support's loops note their walks here)
    from . import dlfun, nn
    dlfun.dropout_mask.__sct_effect__ = True       # a random mask unless given a seed
    nn.attention_dropout_mask.__sct_effect__ = True
    nondifferentiable(effect, maybe_effect, unnamed_call, user_call, shuffled, effect_position, replay_from,
                      replay_end, recompute_guard, recompute_hooked, recompute_alias_guard, targets_kept, walked_iterator, walked_object,
                      stale_kept, stale_check, stale_kept_walk, stale_kept_hooked, list_kept, global_value, set_global,
                      globals_seen_kept)


_register()
