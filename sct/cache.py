"""The caches of compiled code: bounded, thread-safe, and keyed on what the code baked in.

Compiled code is looked up in two steps:

* a **key**: the function's code object and globals, the kinds of its arguments
  and the rule set (``function_key(fn) + (...)``), never the function object
  itself, so a fresh closure of the same ``def`` (made on every call of its
  enclosing function, or in a loop) finds the code compiled for an earlier one;
* a **guard** (``Compiled.valid(fn)``): everything else the generated code took
  from the function when it was compiled: its ``__code__``, ``__defaults__`` and
  ``__kwdefaults__``, the closure cells and globals it reads, the builtins (and
  that no global shadows them), and the module/class attributes it resolved
  (``helpers.act``).  Values are compared by identity, or by value for immutable
  scalars (so a closure over ``n = 3`` made twice shares one entry).

One key holds a few entries (closures of one ``def`` with different captured
values); the cache holds at most ``maxsize`` entries and forgets the least
recently used (approximately: the "clock" algorithm).  The line maps and
``linecache`` entries of generated code go when its functions are collected
(``acquire_generated``/``release_generated``).

Sizes: ``ENTRIES`` (functions run by dlfeval), ``HELPERS`` (functions called
from differentiated code); ``configure(entries=..., helpers=...)`` changes them.
"""
from __future__ import annotations

import builtins
import dataclasses
import linecache
import operator
import struct
import threading
import types
import weakref
from collections import OrderedDict
from typing import Any, Callable, Hashable, Iterable, List, Optional

import numpy as np

_MISSING = object()


class Unresolved:
    """A name the function reads that is bound at run time only (a local)."""


@dataclasses.dataclass
class Guard:
    """``namespace[name] is value`` must still hold for compiled code to be reused."""
    namespace: Any           # a dict (globals/builtins) or a closure cell
    name: str
    value: Any

    def holds(self) -> bool:
        return self.value_now() is self.value

    def value_now(self):
        """What the name holds now (``_MISSING``: nothing)."""
        if type(self.namespace) is dict:
            return self.namespace.get(self.name, _MISSING)
        try:
            return self.namespace.cell_contents
        except ValueError:
            return _MISSING

#: Entries one key may hold (closures of one def with different captured values).
PER_KEY = 8


class _Bucket(list):
    """The entries of one key, newest first; ``used``: looked up since the last eviction pass."""
    __slots__ = ("used",)


class LRU:
    """A bounded map ``key -> [compiled entries]``; thread-safe.

    Eviction is the "clock" approximation of least-recently-used: a hit only marks its
    key used (no reordering, no second hash of the key), and eviction gives a used key
    at the old end one more round before dropping it.
    """

    def __init__(self, maxsize: int, per_key: int = PER_KEY):
        if maxsize < 1:
            raise ValueError("a cache holds at least one entry")
        self.maxsize = maxsize
        self.per_key = per_key
        self._data: "OrderedDict[Hashable, _Bucket]" = OrderedDict()
        self._count = 0
        self._lock = threading.Lock()

    def lookup(self, key: Hashable, fn) -> Optional[Any]:
        """The newest entry under ``key`` whose guards hold for ``fn``, or None.

        The hit path takes no lock: writers hold it, and each step here is one atomic
        operation of a dict or list (an entry evicted meanwhile is still right to run)."""
        bucket = self._data.get(key)
        if bucket is None:
            return None
        try:
            entry = bucket[0]
        except IndexError:
            return None
        if entry.check(fn):                  # the usual case: the newest one
            bucket.used = True
            return entry
        with self._lock:
            bucket = self._data.get(key)
            if bucket is None:
                return None
            for i in range(len(bucket)):
                entry = bucket[i]
                if entry.check(fn):
                    bucket.used = True
                    bucket.insert(0, bucket.pop(i))
                    return entry
            return None

    def insert(self, key: Hashable, entry) -> None:
        with self._lock:
            bucket = self._data.get(key)
            if bucket is None:
                bucket = self._data[key] = _Bucket()
            else:
                self._data.move_to_end(key)
            bucket.used = False
            bucket.insert(0, entry)
            self._count += 1
            while len(bucket) > min(self.per_key, self.maxsize):
                bucket.pop()
                self._count -= 1
            self._shrink()

    def _shrink(self) -> None:
        # popitem is one atomic step (lookups without the lock only set flags meanwhile)
        chances = len(self._data)
        while self._count > self.maxsize and len(self._data) > 1:
            key, bucket = self._data.popitem(last=False)
            if bucket.used and chances > 0:      # used since the last pass: once more round
                bucket.used = False
                chances -= 1
                self._data[key] = bucket
                continue
            self._count -= len(bucket)
        if self._count > self.maxsize:           # one key left (after resize): its newest entries
            bucket = list(self._data.values())[0]
            del bucket[self.maxsize:]
            self._count = len(bucket)

    def resize(self, maxsize: int) -> None:
        if maxsize < 1:
            raise ValueError("a cache holds at least one entry")
        with self._lock:
            self.maxsize = maxsize
            self._shrink()

    def clear(self) -> None:
        with self._lock:
            self._data.clear()
            self._count = 0

    def entries(self) -> List[Any]:
        with self._lock:
            return [e for bucket in self._data.values() for e in bucket]

    def __len__(self) -> int:
        return self._count


#: Compiled functions run by dlfeval (their entries with the dlgradient sweeps).
ENTRIES = LRU(256)
#: Forward/adjoint pairs of functions called from differentiated code, and forward-mode code.
HELPERS = LRU(1024)


def configure(entries: Optional[int] = None, helpers: Optional[int] = None) -> None:
    """Set the most compiled entries kept for dlfeval's functions and for the helpers they call."""
    if entries is not None:
        ENTRIES.resize(entries)
    if helpers is not None:
        HELPERS.resize(helpers)


#: What else keeps compiled code to clear with the caches (dlfeval's entry sites, call sites).
ON_CLEAR: List[Callable[[], None]] = []


def clear() -> None:
    ENTRIES.clear()
    HELPERS.clear()
    for forget in ON_CLEAR:
        forget()


def function_key(fn) -> tuple:
    """The part of a cache key that comes from the function: its code and its globals, by id
    (hashing a code object hashes its bytecode and constants; the entries' guards keep both
    objects alive, so the ids are not reused while the key is cached)."""
    return (id(fn.__code__), id(fn.__globals__))


# --- comparing the values code was compiled with ------------------------------------------------

_SCALARS = (int, bool, str, bytes, type(None), type(Ellipsis))


def same_value(a, b, depth: int = 0) -> bool:
    """``a`` can stand for ``b`` in generated code: the same object, or an equal immutable value
    (numbers of one type bit for bit, strings, tuples of such), or a function of the same code
    whose defaults and captured values are the same."""
    if a is b:
        return True
    t = type(a)
    if t is not type(b) or depth > 4:
        return False
    if t in _SCALARS:
        return a == b
    if t is float:
        return struct.pack("<d", a) == struct.pack("<d", b)
    if t is complex:
        return struct.pack("<dd", a.real, a.imag) == struct.pack("<dd", b.real, b.imag)
    if isinstance(a, np.generic):
        return a.dtype == b.dtype and a.tobytes() == b.tobytes() and not isinstance(a, np.void)
    if t is tuple or t is frozenset:
        if len(a) != len(b):
            return False
        if t is frozenset:
            a, b = sorted(a, key=repr), sorted(b, key=repr)
        return all(same_value(x, y, depth + 1) for x, y in zip(a, b))
    if t is types.FunctionType:
        if a.__code__ is not b.__code__ or a.__globals__ is not b.__globals__:
            return False
        if not same_value(a.__defaults__, b.__defaults__, depth + 1) or \
                not same_items(a.__kwdefaults__, b.__kwdefaults__, depth + 1):
            return False
        # its attributes (``act.scale = 2.0``): generated code runs with the function it was compiled
        # with (sct.compiler._namespace) and reads them there; a def run again (in a loop, a sweep)
        # with other attributes is another function
        if (a.__dict__ or b.__dict__) and not same_items(a.__dict__, b.__dict__, depth + 1):
            return False
        if a.__closure__ is None or b.__closure__ is None:
            return a.__closure__ is b.__closure__
        try:
            return all(same_value(x.cell_contents, y.cell_contents, depth + 1)
                       for x, y in zip(a.__closure__, b.__closure__))
        except ValueError:           # an empty cell
            return False
    if t is types.MethodType:
        return a.__self__ is b.__self__ and same_value(a.__func__, b.__func__, depth + 1)
    # a dict is compared by identity: the generated code runs with the one it was compiled with
    # (sct.compiler._namespace), so writes into an equal copy bound since would go to the old one
    return False


def same_items(a, b, depth: int = 0) -> bool:
    """A function's own dicts (``__kwdefaults__``, ``__dict__``: read through the function, never as
    dicts): the same keys, and values that can stand for each other (:func:`same_value`)."""
    if a is b:
        return True
    if type(a) is not dict or type(b) is not dict or depth > 4:
        return False
    return a.keys() == b.keys() and all(type(k) in _SCALARS for k in a) and \
        all(same_value(a[k], b[k], depth + 1) for k in a)


def same_attribute(a, b) -> bool:
    """An attribute read again: bound methods (``Cls.classmethod``) are made on every read."""
    if a is b:
        return True
    if type(a) is types.MethodType and type(b) is types.MethodType:
        return a.__self__ is b.__self__ and a.__func__ is b.__func__
    return same_value(a, b)


def targets_hold(targets) -> bool:
    """Whether every ``(base, attr, value)`` still reads ``value`` (Compiled.call_targets)."""
    for base, attribute, value in targets:
        now = getattr(base, attribute, _MISSING)
        if now is not value and not (same_items(now, value) if attribute == "__kwdefaults__" else
                                     same_attribute(now, value)):
            return False
    return True


def make_check(fn, name_guards: Iterable, attribute_guards: Iterable, default_kinds: bool = True) -> Callable:
    """``check(f)``: whether code compiled from ``fn`` with these guards is right for ``f``.

    ``name_guards`` are the resolver's ``Guard`` objects (namespace: a globals or
    builtins dict, or a closure cell of ``fn``); ``attribute_guards`` are
    ``(base, attribute, value)`` read with getattr.  The check is generated as one
    Python function (one comparison per guard, no loop) for speed.  ``default_kinds``: also the kinds of
    the defaults that can change in place (before a run; not after one, sct.api._read_values_kept: the
    function's own writes into its default, ``log.append(v)``, are no rebinding).
    """
    code = fn.__code__
    name_guards, attribute_guards = list(name_guards), list(attribute_guards)     # (each read twice)
    consts = {"CODE": code, "G": fn.__globals__, "M": _MISSING, "same": same_value,
              "same_attr": same_attribute, "same_items": same_items}
    lines = ["def check(f):",
             "    if f.__code__ is not CODE or f.__globals__ is not G: return False"]
    consts["D"] = fn.__defaults__
    lines.append("    d = f.__defaults__")
    lines.append("    if d is not D and not same(d, D): return False")
    if code.co_kwonlyargcount:         # (without keyword-only parameters no call reads them)
        consts["KD"] = fn.__kwdefaults__
        lines.append("    d = f.__kwdefaults__")
        lines.append("    if d is not KD and not same_items(d, KD): return False")
    if default_kinds:
        _default_kind_checks(fn, consts, lines)
    if getattr(fn, "__sct_positional_of__", None) is not None:
        # rt.positional(g): its defaults are g's when made; g's changed, rt.positional(g) is another
        # (rt.keywords_positional(g) for dlfeval's keywords into g's **kw: that one's maker)
        from .runtime.support import keywords_positional, positional
        consts["POS"] = keywords_positional if getattr(fn, "__sct_keywords_positional__", False) else positional
        lines.append("    o = getattr(f, '__sct_positional_of__', None)")
        lines.append("    if o is None or POS(o) is not f: return False")
    cell_lines, global_lines = _name_guard_checks(fn, name_guards, consts, lines)
    global_lines += _module_function_checks(attribute_guards, consts)
    if global_lines:                  # fn's globals by subscript (no method call): one gone, a miss
        lines.append("    try:")
        lines.extend(global_lines)
        lines.append("    except KeyError:")
        lines.append("        return False")
    for j, (base, attribute, value) in enumerate(attribute_guards):
        if _module_function(base, attribute, value):
            continue                  # (read with the others of its module: _module_function_checks)
        consts[f"A{j}"], consts[f"AV{j}"] = base, value
        lines.append(f"    v = getattr(A{j}, {attribute!r}, M)")
        # (a function's __kwdefaults__: the resolver keeps a copy of it, compared item by item)
        same = "same_items" if attribute == "__kwdefaults__" else "same_attr"
        lines.append(f"    if v is not AV{j} and not {same}(v, AV{j}): return False")
    if cell_lines:
        lines.append("    c = f.__closure__")
        lines.append("    try:")
        lines.extend(cell_lines)
        lines.append("    except (ValueError, TypeError, IndexError):")
        lines.append("        return False")
    _array_layout_checks(fn, name_guards, attribute_guards, default_kinds, consts, lines)
    lines.append("    return True")
    namespace = dict(consts)
    exec(compile("\n".join(lines) + "\n", "<sct-guard>", "exec"), namespace)
    check = namespace["check"]
    check.body = lines[1:-1]           # for sct.api.make_hit, which writes the checks inline
    check.consts = consts
    return check


_FUNCTION_TYPES = (types.FunctionType, types.BuiltinFunctionType, np.ufunc, type(np.sum), type)


def _module_function(base, attribute: str, value) -> bool:
    """Is the guard ``base.attribute is value`` a function (or class) a module's dict holds (np.sin,
    np.sum, math.exp, helpers.act), compared by identity?"""
    return type(base) is types.ModuleType and type(value) in _FUNCTION_TYPES and \
        vars(base).get(attribute, _MISSING) is value


def _module_function_checks(attribute_guards, consts: dict) -> List[str]:
    """make_check's lines (inside its ``try: ... except KeyError``) for the functions read from modules:
    one ``operator.itemgetter`` of each module's dict, its tuple compared with the values the code was
    compiled with (items compared by identity first; a function's ``==`` is identity).  ~0.1 us a module
    (was: one getattr and test per function, ~0.1 us each; the functions of numpy, math and cmath were not
    checked at all: ``np.sin = np.cos`` after compiling ran the cached code, sct.replaced_functions)."""
    by_module: dict = {}
    for base, attribute, value in attribute_guards:
        if _module_function(base, attribute, value):
            by_module.setdefault(id(base), (base, {}))[1][attribute] = value
    lines = []
    for j, (base, held) in enumerate(by_module.values()):
        names = sorted(held)
        consts[f"MD{j}"], consts[f"MG{j}"] = vars(base), operator.itemgetter(*names)
        consts[f"MV{j}"] = tuple(held[n] for n in names) if len(names) > 1 else held[names[0]]
        compare = "!=" if len(names) > 1 else "is not"
        lines.append(f"        if MG{j}(MD{j}) {compare} MV{j}: return False")
    return lines


def _kind_may_change(value) -> bool:
    """Whether ``value``'s kind (sct.kinds.kind_of) can change while it stays the same object: a list,
    dict or set (its items), an object of a class (its attributes), a tuple holding such."""
    if isinstance(value, (types.FunctionType, types.BuiltinFunctionType, types.MethodType, types.ModuleType,
                          type, np.ndarray, np.generic) + _SCALARS + (float, complex)):
        return False
    if type(value) is tuple:
        return any(_kind_may_change(v) for v in value)
    return isinstance(value, (list, dict, set)) or hasattr(value, "__dict__")


def has_default_kinds(fn) -> bool:
    """Whether make_check checks the kinds of some of ``fn``'s defaults."""
    values = list(fn.__defaults__ or ()) + list((fn.__kwdefaults__ or {}).values())
    return any(_kind_may_change(v) for v in values)


def _default_kind_checks(fn, consts: dict, lines: List[str]) -> None:
    """make_check's lines for the defaults whose kind can change in place: the code was compiled for
    the kind a default had then (sct.compiler._signature: a parameter not given takes its default's
    kind), and a list, dict or object changed since (``cfg["k"]`` made a complex array, ``data.X`` a
    formatted dlarray) is the same object, so ``__defaults__`` still holds (was: the old kind's code
    run on it, a wrong gradient)."""
    from .kinds import kind_of
    values = list(enumerate(fn.__defaults__ or ()))
    values += [(f"kw_{name}", v) for name, v in (fn.__kwdefaults__ or {}).items() if name.isidentifier()]
    for key, value in values:
        if not _kind_may_change(value):
            continue
        try:
            kind = kind_of(value)
        except Exception:
            continue
        consts["DEFAULT_KIND_OF"] = kind_of
        consts[f"DV_{key}"], consts[f"DK_{key}"] = value, kind
        lines.append(f"    if DEFAULT_KIND_OF(DV_{key}) != DK_{key}: return False")


def _arrays_in(value, out: list, depth: int = 0) -> None:
    """The numpy arrays ``value`` is or holds where a guard compares it by identity (itself, the
    items of a tuple), appended to ``out``."""
    if isinstance(value, np.ndarray):
        out.append(value)
    elif type(value) is tuple and depth < 4:
        for v in value:
            _arrays_in(v, out, depth + 1)


def _array_layout_checks(fn, name_guards, attribute_guards, default_kinds: bool, consts: dict,
                         lines: List[str]) -> None:
    """make_check's lines for the arrays the code was compiled with (the values of globals, closure
    cells, class and module attributes, what proofs of realness read, the defaults): each still of
    the dtype and rank it had.  The guards compare them by identity, and an array changes both in
    place (``G.dtype = np.complex128``, ``G.shape = (4, 1)``, ``G.resize(...)``) while staying the
    same object: the code compiled for a real array (no conjugates) or for its old rank (``a = z[1]``
    a number, a default's kind) ran on it (was: a stale real-only gradient, a wrong value)."""
    arrays: list = []
    for guard in name_guards:
        reads = getattr(guard.namespace, "proof_reads", None)
        if reads is not None:
            for read in reads:
                _arrays_in(read[2], arrays)
        else:
            _arrays_in(guard.value, arrays)
    for _, _, value in attribute_guards:
        _arrays_in(value, arrays)
    if default_kinds:
        for value in list(fn.__defaults__ or ()) + list((fn.__kwdefaults__ or {}).values()):
            _arrays_in(value, arrays)
    seen = set()
    for a in arrays:
        if id(a) in seen:
            continue
        seen.add(id(a))
        j = len(seen)
        consts[f"LA{j}"], consts[f"LD{j}"] = a, a.dtype
        lines.append(f"    if LA{j}.ndim != {a.ndim} or LA{j}.dtype is not LD{j} and LA{j}.dtype != LD{j}: "
                     "return False")


def _cell_value(cell):
    try:
        return cell.cell_contents
    except ValueError:
        return _MISSING


def _name_guard_checks(fn, name_guards: Iterable, consts: dict, lines: List[str]) -> tuple:
    """make_check's lines for the name guards: those of other dict namespaces appended to ``lines``;
    those of ``fn``'s closure cells and those of its globals returned (each kind runs inside one
    ``try``); constants into ``consts``."""
    freevars = fn.__code__.co_freevars
    cell_lines: List[str] = []
    global_lines: List[str] = []
    bdict = builtins.__dict__
    for i, guard in enumerate(name_guards):
        value_name = f"V{i}"
        consts[value_name] = guard.value
        namespace = guard.namespace
        reads = getattr(namespace, "proof_reads", None)
        if reads is not None:
            # what a proof of realness read (sct.realness._ProofCheck): each the same object, as
            # the other guards, else still one the proof holds for (``holds(read)``)
            consts["HOLDS"] = namespace.holds
            for j, read in enumerate(reads):
                base, name, value, attribute = read
                b, v, r = f"P{i}_{j}", f"PV{i}_{j}", f"PR{i}_{j}"
                consts[b], consts[v], consts[r] = base, value, read
                if attribute:
                    lines.append(f"    v = getattr({b}, {name!r}, M)")
                elif type(base) is dict:
                    lines.append(f"    v = {b}.get({name!r}, M)")
                else:
                    consts["CELL"] = _cell_value
                    lines.append(f"    v = CELL({b})")
                lines.append(f"    if v is not {v} and not HOLDS({r}): return False")
            continue
        if type(namespace) is dict:
            if namespace is bdict:
                consts["B"] = bdict
                lines.append(f"    if {guard.name!r} in G: return False")
                lines.append(f"    v = B.get({guard.name!r}, M)")
            elif namespace is fn.__globals__ and guard.value is not _MISSING:
                global_lines.append(f"        v = G[{guard.name!r}]")
                global_lines.append(f"        if v is not {value_name} and not same(v, {value_name}): return False")
                continue
            elif namespace is fn.__globals__:         # (held absent: a global defined later misses)
                lines.append(f"    v = G.get({guard.name!r}, M)")
            else:                                     # some other dict: guarded as it is
                consts[f"N{i}"] = namespace
                lines.append(f"    v = N{i}.get({guard.name!r}, M)")
            lines.append(f"    if v is not {value_name} and not same(v, {value_name}): return False")
        elif guard.name in freevars:
            index = freevars.index(guard.name)
            cell_lines.append(f"        v = c[{index}].cell_contents")
            cell_lines.append(f"        if v is not {value_name} and not same(v, {value_name}): return False")
        else:                                          # a cell not of fn (should not happen): by identity
            consts[f"N{i}"] = namespace
            cell_lines.append(f"        if N{i}.cell_contents is not {value_name}: return False")
    return cell_lines, global_lines


# --- generated source: visible to inspect and tracebacks while its functions live ---------------

_GENERATED_LOCK = threading.RLock()
_GENERATED_COUNT: dict = {}
_PENDING: list = []      # files whose functions were collected (finalizers only append: they
                         # may run in any thread at any allocation, even inside the lock)


def acquire_generated(filename: str) -> None:
    """Count one more compilation of ``filename`` (before its source is registered)."""
    with _GENERATED_LOCK:
        _drain()
        _GENERATED_COUNT[filename] = _GENERATED_COUNT.get(filename, 0) + 1


def release_generated(filename: str, function=None) -> None:
    """Forget ``filename``'s source and line map once ``function`` is collected (at once
    without a function).  One file name can come from several compilations (the name holds a
    digest of the source): its entries go with the last of them."""
    if function is None:
        _PENDING.append(filename)
        with _GENERATED_LOCK:
            _drain()
    else:
        weakref.finalize(function, _PENDING.append, filename)


def _drain() -> None:
    from .parse import LINE_MAPS
    while _PENDING:
        filename = _PENDING.pop()
        left = _GENERATED_COUNT.get(filename, 0) - 1
        if left > 0:
            _GENERATED_COUNT[filename] = left
            continue
        _GENERATED_COUNT.pop(filename, None)
        LINE_MAPS.pop(filename, None)
        linecache.cache.pop(filename, None)


def generated_files() -> int:
    """How many generated files have their source registered now (for tests of boundedness)."""
    with _GENERATED_LOCK:
        _drain()
        return len(_GENERATED_COUNT)
