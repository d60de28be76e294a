"""The kind of an argument: what compiled code is specialised on (the cache key).

A kind records type, dtype and rank of arrays (not their shape), and the
structure of containers, recursively.  Two calls whose arguments have the same
kinds run the same generated code.
"""
from __future__ import annotations

import dataclasses
import functools
import numbers
import types
from typing import Any, Dict, Optional, Tuple

import numpy as np

from .runtime.dlarray import dlarray
from .runtime.labels import LOST_KIND, LostLabels
from .runtime.origins import module_top
from .runtime.support import Closure, array_subclass_override, number_subclass_override, users_override, \
    number_subclass_refusal, service_object


_DTYPE_STR: dict = {}


def _dtype_str(dtype) -> str:
    """``dtype.str`` (a new string each time it is read: 3x a dict look-up), kept per dtype."""
    s = _DTYPE_STR.get(dtype)
    if s is None:
        s = dtype.str
        if len(_DTYPE_STR) < 512:
            _DTYPE_STR[dtype] = s
    return s




# what a list/tuple/dict subclass may override to change the items its code reads (generated code reads
# them as the base class's: ``p["w"]`` differentiated as a plain item, not as the override's code)
_CONTAINER_OVERRIDES = ("__getitem__", "get", "values", "items", "pop",
                        "popitem", "setdefault",
                        # (a dict's read of a missing key: was not asked, `p["Q"]` given by __missing__ as
                        # p["U"] got no derivative, opt54 W1)
                        "__missing__")


def _holds_traced(kind) -> bool:
    """Does the kind (of a container) have a value to differentiate (a ``"dl"`` kind) at any level?"""
    return isinstance(kind, tuple) and (kind[:1] == ("dl",) or
                                        any(_holds_traced(part) for part in kind if isinstance(part, tuple)))


def refuse_container_subclass(cls, kind) -> None:
    """A subclass of list, tuple or dict (a user's ``class Params(dict)``) holding values to
    differentiate, whose own ``__getitem__`` / ``get`` / ``values`` ... changes the items
    its code reads: generated code differentiates a plain item's read, whose derivative that would
    not be (a ``__getitem__`` doubling the item gave half the gradient).  Refused like an ndarray
    subclass's operators (``refuse_array_subclass``)."""
    found = _users_override(cls, _CONTAINER_OVERRIDES)
    if not found or not _holds_traced(kind):
        return
    _refuse_at_users_line(
        f"a value here is a {cls.__qualname__}, a subclass of {cls.__mro__[-2].__name__} with its own {found}, "
        f"holding values to differentiate; sct reads its items as a plain {cls.__mro__[-2].__name__}'s, so "
        f"derivatives would not be those of {found}'s code. Pass a plain {cls.__mro__[-2].__name__} "
        f"({cls.__mro__[-2].__name__}(value)) instead, or read the items through a method of your own")


def _users_override(cls, names) -> str:
    """``module.Class.name`` of the first of ``names`` a class of the user's in ``cls``'s MRO defines
    (not list's, tuple's, dict's, collections' or sct's own); "" where none does."""
    return users_override(cls, names, skip=lambda klass: klass in (list, tuple, dict) or
                          module_top(klass) in ("builtins", "collections", "sct"))


def refuse_walked_subclass(cls) -> None:
    """A subclass of list or tuple with its own ``__iter__`` or ``__len__``, met among the arguments: sct
    walks the arguments several times before and while the code runs (their kinds, the values to unwrap,
    the ties), each walk running that code, where Python runs it once per loop of the user's; code with
    an effect (``self.arr *= 2``) ran eight times (was: a value 128 times too large, redfix51b G1).
    Refused before the first walk, whatever it holds."""
    found = _users_override(cls, ("__iter__", "__len__", "__reversed__"))
    if found:
        _refuse_at_users_line(
            f"a value here is a {cls.__qualname__}, a subclass of {cls.__mro__[-2].__name__} with its own {found}; "
            f"sct walks the arguments more than once (Python walks them where the code loops), so that code "
            f"would run more often than the program says. Pass a plain {cls.__mro__[-2].__name__} "
            f"({cls.__mro__[-2].__name__}(value)) instead")


def _refuse_at_users_line(message: str) -> None:
    """Raise an EvaluationError at the user's line that passed the value (the first frame outside
    sct, its generated code, frozen modules and functools)."""
    import os
    import sys
    from . import runtime
    from .runtime.errors import EvaluationError
    own = tuple(os.path.dirname(os.path.abspath(m.__file__)) + os.sep for m in (sys.modules[__package__], runtime))
    frame = sys._getframe(1)
    while frame is not None and (frame.f_code.co_filename.startswith(own + ("<sct", "<frozen ")) or
                                 frame.f_code.co_filename.endswith(os.sep + "functools.py")):
        frame = frame.f_back
    raise EvaluationError(message, filename=frame.f_code.co_filename if frame is not None else None,
                          lineno=frame.f_lineno if frame is not None else None)


def _refuse_at_generated_line(message: str) -> None:
    """Raise an EvaluationError at the user's line of the generated code that is running (the call
    whose arguments are read), else as ``_refuse_at_users_line``."""
    import sys
    from .runtime import support
    from .runtime.errors import EvaluationError
    frame = sys._getframe(1)
    while frame is not None and not frame.f_code.co_filename.startswith("<sct-generated"):
        frame = frame.f_back
    if frame is not None and support.LINES.user_line is not None:
        filename, lineno = support.LINES.user_line(frame.f_code.co_filename, frame.f_lineno)
        if filename and not filename.startswith("<sct"):
            raise EvaluationError(message, filename=filename, lineno=lineno)
    _refuse_at_users_line(message)


_CONSTANT_ITEMS = (str, bytes, bool, int, type(None), np.integer, np.bool_, np.str_, np.bytes_)


def refuse_object_array_traced(x) -> None:
    """An array of ``dtype=object`` (MATLAB's cell array ported) that may hold values to differentiate,
    given to code sct compiles on its own (a helper or method called with it, or the sweep of a first
    derivative differentiated again, whose saved values hold it): sct's kinds take an object array for
    a constant there, so the derivative through its items was lost (the second derivative of a helper
    building ``np.array([x[0], x[1]], dtype=object)`` was silently 0; a helper given one raised a
    reshape error).  Refused where an item is not a str, bytes, bool, int or None."""
    for item in x.flat:
        if not isinstance(item, _CONSTANT_ITEMS):
            _refuse_at_generated_line(
                "an array of dtype=object holding numbers or arrays (here a "
                f"{type(item).__name__}) that may depend on the values to differentiate reaches code sct "
                "compiles on its own (a helper or method it is passed to, or the gradient of a "
                "dlgradient differentiated again, whose saved values hold it); sct follows derivatives "
                "through object arrays only in the code that builds and reads them. Keep such values "
                "in a list or a tuple, or in a float array (np.array(..., dtype=float))")


def refuse_array_subclass(cls) -> None:
    """A subclass of numpy's ndarray that changes what its operators, indexing or numpy's functions
    compute (array_subclass_override): generated code differentiates ndarray's operations, whose
    derivative that would not be.  Refused."""
    found = array_subclass_override(cls)
    if found:
        _refuse_at_users_line(
            f"a value here is a {cls.__qualname__}, a subclass of numpy's ndarray with its own {found} "
            f"(what its operators, indexing or numpy's functions compute differs from an ndarray's); sct "
            f"differentiates ndarray's operations, so values and derivatives would differ. Pass "
            f"np.asarray(value) (or dlarray(value) for an input to differentiate) instead")


def refuse_number_subclass(cls) -> None:
    """A subclass of int, float or complex of the user's with its own operators (``class F(float): def
    __mul__(...)``): Python runs its methods, generated code differentiates a number's operations (was: kind
    ("num", ...), so ``m * x`` of such an m was differentiated as a product, a wrong gradient).  Refused."""
    if number_subclass_override(cls):
        _refuse_at_users_line(number_subclass_refusal(cls))


def kind_of(x: Any, traced: bool = False, _memo: Any = None) -> Tuple:
    """``traced``: count float arrays as traced (calls inside compiled code).

    A container or object met again inside one call (residuals of generated code share
    their parts: a tree of millions of nodes over a few thousand objects at third order)
    is read once: ``_memo`` maps its id to ``(the object, its kind)`` (the object held, so
    its id is not reused while the call runs)."""
    cls = type(x)
    if cls is dlarray:
        data = x._data
        if x._fmt:                      # a formatted dlarray: its labels are part of the kind
            return ("dl", _dtype_str(data.dtype), data.ndim, x._fmt)
        if x._fmt.__class__ is LostLabels:      # labels an op dropped (labels.LOST): refused by layout functions
            return ("dl", _dtype_str(data.dtype), data.ndim, LOST_KIND)
        return ("dl", _dtype_str(data.dtype), data.ndim)
    if cls is np.ndarray:
        if traced and x.dtype.kind == "O":
            refuse_object_array_traced(x)
        return ("dl" if traced and x.dtype.kind in "fc" else "nd", _dtype_str(x.dtype), x.ndim)
    if isinstance(x, dlarray):
        return ("dl", x.dtype.str, x.ndim) + ((x._fmt,) if x._fmt else (LOST_KIND,) if
                                              x._fmt.__class__ is LostLabels else ())
    if isinstance(x, np.ndarray):
        refuse_array_subclass(cls)
        return ("dl" if traced and x.dtype.kind in "fc" else "nd", x.dtype.str, x.ndim)
    if isinstance(x, (bool, np.bool_)):
        return ("const", bool)
    if isinstance(x, np.generic):
        if cls not in _NUMPY_SCALAR_TYPES:
            refuse_number_subclass(cls)     # (was: none, a user's np.float64 subclass with its own __mul__)
        return ("dl" if traced and x.dtype.kind in "fc" else "nd", x.dtype.str, 0)
    if isinstance(x, numbers.Number):
        if cls not in (int, float, complex):
            refuse_number_subclass(cls)
        if traced and isinstance(x, (float, complex)):
            return ("dl", np.dtype(type(x)).str, 0)
        return ("num", np.dtype(type(x)).str if isinstance(x, (int, float, complex)) else None, type(x))
    if _memo is None:
        _memo = {-1: 0}
    else:
        seen = _memo.get(id(x))
        if seen is not None and seen[0] is x:
            if seen[1] is None:         # met again while its own parts are read: a cycle (a layer's
                return ("back", _memo[-1] - seen[2])     # owner): how many levels up it points
            return seen[1]
    depth = _memo[-1]                   # (-1: the depth of the reading; ids are never negative)
    _memo[id(x)] = (x, None, depth)
    _memo[-1] = depth + 1
    try:
        kind = _container_kind(x, traced, _memo)
    finally:
        _memo[-1] = depth
    _memo[id(x)] = (x, kind)
    return kind


_DICT_VIEWS = (type({}.values()), type({}.items()))


def _container_kind(x: Any, traced: bool, memo: dict) -> Tuple:
    if isinstance(x, (list, tuple)):
        if hasattr(type(x), "_fields"):
            return ("obj", type(x), tuple((f, kind_of(getattr(x, f), traced, memo)) for f in x._fields))
        if type(x) not in (list, tuple):
            refuse_walked_subclass(type(x))
        kind = ("seq", type(x), tuple([kind_of(v, traced, memo) for v in x]))
        if type(x) not in (list, tuple):
            refuse_container_subclass(type(x), kind)
        return kind
    if isinstance(x, dict):
        try:
            items = tuple((k, kind_of(v, traced, memo)) for k, v in dict.items(x))
        except TypeError:
            return ("const", type(x))
        if type(x) is not dict:
            refuse_container_subclass(type(x), ("map", type(x), items))
        if any(type(k) not in (str, int) for k, _ in items):
            # keys equal across types (1 == 1.0 == True, the same hash): their types told apart, so code
            # compiled for {1: x} is not run for {True: x} (was: its dict(p), dlupdate(f, p) rebuilt with
            # the key 1, a value plain Python never gives)
            return ("map", type(x), items, tuple([type(k) for k, _ in items]))
        return ("map", type(x), items)
    if type(x) in _DICT_VIEWS:
        # p.values() / p.items() passed to a helper: a sequence of the dict's values (or pairs),
        # whose adjoint the caller maps back to the dict (was a constant: a zero gradient)
        return ("seq", type(x), tuple([kind_of(v, traced, memo) for v in x]))
    if dataclasses.is_dataclass(x) and not isinstance(x, type):
        fields = dataclasses.fields(x)
        kind = tuple((f.name, kind_of(getattr(x, f.name, None), traced, memo))
                     for f in fields)                                 # (None: not built yet)
        # and its own attributes that are not fields (set in __post_init__ or later), as an object's
        # (was: left out, so ``self.W`` set in __post_init__ was a constant and the gradient with
        # respect to the dataclass held W's value)
        extra = dataclass_extras(x)
        if extra:
            kind += tuple((k, kind_of(v, traced, memo)) for k, v in extra)
        return ("obj", type(x), kind)
    if x is None or isinstance(x, (str, bytes, type, slice, range, types.FunctionType,
                                   types.BuiltinFunctionType, types.MethodType, np.ufunc)):
        return ("const", type(x) if not isinstance(x, type) else x)
    if isinstance(x, types.ModuleType):         # a module passed as a value (xp=np): the module itself,
        return ("module", x)                    # not its attributes (numpy's reach each other: no end)
    if getattr(type(x), "__sct_wraps__", False):
        # an accelerated function (sct.callables.WrappedFunction) stands for its function, whose
        # kind is its type (was: its caches read as an object's attributes, a kind that grew with
        # each call it compiled)
        return ("const", type(x))
    if type(x) is functools.partial and (traced or _partial_of_closure(x)):
        # a partial of a nested function or lambda, made in generated code (sct/partials.py leaves
        # it as written), or one given to a helper as a traced value (made of the caller's traced
        # values): its frozen values are the code's, traced where they are (was: an object of
        # no fields, a constant, so a helper given it, ``grad_of(partial(loss, s=np.sum(w)), w)``,
        # held ``s`` constant, and its dlgradient with respect to w gave the partial derivative)
        return ("obj", functools.partial, (("args", kind_of(x.args, traced, memo)),
                                           ("func", kind_of(x.func, traced, memo)),
                                           ("keywords", kind_of(x.keywords, traced, memo))))
    if hasattr(x, "__dict__"):
        if service_object(x):           # a logger, a lock: no parameters, its state not the code's kind (a
            return ("const", type(x))   # logger's manager holds every logger of the process)
        kind = ("obj", type(x), tuple((k, kind_of(v, traced, memo)) for k, v in sorted(vars(x).items())
                                      if not k.startswith("__")))
        if _declared_slots(type(x)):
            # a class declaring __slots__ under a base without them: its objects have a __dict__ too,
            # and the slots' values were left out of the kind (the gradient with respect to the object
            # held the slot's value itself, the parameter, where its derivative belonged)
            refuse_slotted_traced(x, traced, memo)
        return kind
    # sct's slotted objects keyed on their structure (a network's; a property of the class: an object of
    # the user's is not asked, whose __getattr__ may raise a KeyError for the name)
    key = getattr(x, "__sct_kind__", None) if hasattr(type(x), "__sct_kind__") else None
    if key is not None:
        return ("const", type(x), key)
    refuse_slotted_traced(x, traced, memo)
    return ("const", type(x))


def _partial_of_closure(x) -> bool:
    """Is ``x`` (a functools.partial) one of a nested function or lambda of generated code (a
    ``Closure``, or a function sct generated), or a partial of such a partial?"""
    for _ in range(16):
        x = x.func
        if isinstance(x, Closure) or isinstance(x, types.FunctionType) and \
                str(x.__code__.co_filename).startswith("<sct-generated"):
            return True
        if type(x) is not functools.partial:
            return False
    return False


def dataclass_extras(x) -> list:
    """``(name, value)`` of a dataclass instance's own attributes that are not its fields, by name."""
    own = getattr(x, "__dict__", None)
    if type(own) is not dict or not own:
        return []
    names = {f.name for f in dataclasses.fields(x)}
    return sorted((k, v) for k, v in own.items() if k not in names and not k.startswith("__"))


_DECLARED_SLOTS: dict = {}


def _declared_slots(cls) -> bool:
    """Does a class of ``cls``'s MRO (but object) declare slots other than ``__dict__``/``__weakref__``?"""
    held = _DECLARED_SLOTS.get(cls)
    if held is None:
        held = _DECLARED_SLOTS[cls] = bool(_slot_names(cls)) if any("__slots__" in vars(k) for k in cls.__mro__[:-1]) \
            else False
        if len(_DECLARED_SLOTS) > 4096:
            _DECLARED_SLOTS.clear()
    return held


def _slot_names(cls) -> list:
    names = []
    for klass in cls.__mro__:
        slots = vars(klass).get("__slots__", ())
        for name in ((slots,) if isinstance(slots, str) else slots):
            if name not in ("__dict__", "__weakref__") and name not in names:
                names.append(name)
    return names


def refuse_nested_slotted(args, active) -> None:
    """``refuse_slotted_traced`` for a user function's arguments at any depth (a ``__slots__`` object
    in a dict or list given to a helper: ``h({"s": s}, x)`` gave a zero gradient too).  Not for
    generated functions, whose residual tuples keep such objects."""
    seen = set()

    def walk(value, traced, depth):
        if depth > 6 or id(value) in seen or isinstance(value, (np.ndarray, dlarray, str, bytes, numbers.Number)):
            return
        seen.add(id(value))
        if isinstance(value, dict):
            for v in list(value.values()):
                walk(v, traced, depth + 1)
        elif isinstance(value, (list, tuple)):
            for v in value:
                walk(v, traced, depth + 1)
        elif dataclasses.is_dataclass(value) and not isinstance(value, type):
            for f in dataclasses.fields(value):       # (kind_of follows a dataclass's fields, slots or not)
                walk(getattr(value, f.name, None), traced, depth + 1)
        elif hasattr(value, "__dict__") and not isinstance(value, (type, types.ModuleType, types.FunctionType)):
            if depth > 0 and _declared_slots(type(value)):
                refuse_slotted_traced(value, traced, {-1: 1})     # (slots beside a __dict__: kind_of)
            for v in list(vars(value).values()):
                walk(v, traced, depth + 1)
        elif depth > 0:
            refuse_slotted_traced(value, traced, {-1: 1})
    for a, m in zip(args, active):
        walk(a, bool(m), 0)


def refuse_slotted_traced(x, traced: bool, memo) -> None:
    """An object of the user's class with ``__slots__`` (no ``__dict__``) whose slots hold values to
    differentiate: sct follows an object's attributes through its ``__dict__``, so such an object
    was a constant, and the derivative through its attributes silently zero (a method of a
    ``__slots__`` layer built from traced weights gave a zero gradient).  Refused at the user's line
    where such an object is itself an argument (a method's ``self``, a helper's or dlfeval's argument)."""
    cls = type(x)
    if memo.get(-1, 1) > 1:
        return          # inside a container: a residual tuple of generated code keeps such objects (its
        #                 attributes' derivatives are followed where they are read); not checked there
    if module_top(cls) in ("builtins", "numpy", "sct", "collections", "functools") or \
            not any("__slots__" in vars(k) for k in cls.__mro__[:-1]):
        return
    held = []
    for name in _slot_names(cls):
        try:
            value = getattr(x, name)
        except AttributeError:
            continue
        if _holds_traced(kind_of(value, traced, memo)):
            held.append(name)
    if not held:
        return
    where = ""
    try:
        import inspect
        where = f" (defined at {inspect.getsourcefile(cls)}, line {inspect.getsourcelines(cls)[1]})"
    except (TypeError, OSError):
        pass
    message = (f"a value here is a {cls.__qualname__}{where}, whose class declares __slots__, holding values to "
               f"differentiate ({', '.join(held)}); sct follows an object's attributes through its __dict__, "
               f"so derivatives through them would be lost. Remove __slots__ from {cls.__qualname__} (or "
               f"pass the arrays themselves)")
    import sys
    frame = sys._getframe(1)
    while frame is not None:
        if frame.f_code.co_filename.startswith("<sct-generated"):
            from .runtime.errors import SctError       # from generated code: reported at its user's line
            raise SctError(message)
        frame = frame.f_back
    _refuse_at_users_line(message)


# --- matchers: "would kind_of give these arguments the same kinds?", generated per call site -------

_SCALAR_TYPES = (bool, int, float, complex, str, bytes, type(None), slice, range, types.FunctionType,
                 types.BuiltinFunctionType, types.MethodType, np.ufunc, np.bool_, types.ModuleType)
_NUMPY_SCALAR_TYPES = (np.float64, np.float32, np.float16, np.complex128, np.complex64, np.int64, np.int32,
                       np.int16, np.int8, np.uint8, np.uint16, np.uint32, np.uint64)


def _plain_slots(cls) -> bool:
    """Instances of ``cls`` have no ``__dict__`` and read attributes the ordinary way."""
    return getattr(cls, "__dictoffset__", 1) == 0 and "__getattr__" not in dir(cls) and \
        cls.__getattribute__ is object.__getattribute__


class _MatcherWriter:
    """Writes one flat Python function ``match(args)`` that returns True only for arguments whose
    kinds ``kind_of`` computes equal to those of the example arguments: it checks every input
    ``kind_of`` reads (exact types, dtypes, ranks, formats, keys, fields) of the same structure;
    a part it cannot check that way is compared by ``kind_of`` itself.  Stricter than kind equality
    is allowed (a miss only takes the slow path), looser never."""

    def __init__(self, limit: int, fail: str = "False"):
        self.lines = []
        self.consts: dict = {"KIND_OF": kind_of, "DL": dlarray, "ND": np.ndarray}
        self.count = 0               # parts checked
        self.names = 0               # variables written
        self.limit = limit
        self.fail = fail             # what the function returns for other kinds
        self.data: dict = {}         # variable of a dlarray -> the variable of its data
        self.parts: dict = {}        # variable of a list, tuple or dict -> [(index or key, variable)]
        self.dlarrays: list = []     # (variable of a dlarray, its dtype and rank), in order read

    def const(self, value) -> str:
        name = f"C{len(self.consts)}"
        self.consts[name] = value
        return name

    def fail_unless(self, cond: str) -> None:
        self.lines.append(f"    if not ({cond}): return {self.fail}")

    def var(self, expr: str) -> str:
        name = f"v{self.names}"
        self.names += 1
        self.lines.append(f"    {name} = {expr}")
        return name

    def node(self, v: str, x: Any, traced: bool) -> None:
        self.count += 1
        if self.count > self.limit:
            raise OverflowError
        cls = type(x)
        exact = self._BY_TYPE.get(cls)
        if exact is not None:
            return exact(self, v, x, traced)
        if cls is functools.partial:    # kind_of reads a partial of a nested function's frozen values
            return self.generic(v, x, traced)
        if cls is types.ModuleType:     # kind_of: ("module", x), the module itself (xp=np, not cupy)
            self.fail_unless(f"{v} is {self.const(x)}")
            return
        if cls in _SCALAR_TYPES or (isinstance(x, np.generic) and cls in _NUMPY_SCALAR_TYPES):
            return                     # the type alone decides the kind (checked by the caller)
        if isinstance(x, np.generic) and (cls.__module__ or "").split(".")[0] != "numpy":
            return self.generic(v, x, traced)  # a user's subclass: kind_of, which refuses one given operators
        if isinstance(x, np.generic):   # another numpy scalar (np.datetime64's unit, a longdouble): its dtype
            self.fail_unless(f"{v}.dtype == {self.const(x.dtype)}")
            return
        if isinstance(x, (list, tuple, dict)):
            return self.namedtuple_node(v, x, traced)
        if isinstance(x, np.ndarray):
            # a subclass of ndarray: kind_of itself, which refuses one given an operator of its own since
            # (MyArr.__mul__ = ... after a first call: was matched by its attributes and ran, the new
            # operator's result differentiated as ndarray's *)
            return self.generic(v, x, traced)
        if dataclasses.is_dataclass(x):
            return self.dataclass_node(v, x, traced)
        if isinstance(x, type):
            return                     # compared by identity by the caller
        if isinstance(x, types.ModuleType):
            self.fail_unless(f"{v} is {self.const(x)}")
            return
        if getattr(cls, "__dictoffset__", 0) != 0 and cls.__getattribute__ is object.__getattribute__ and \
                type(getattr(x, "__dict__", None)) is dict and not _declared_slots(cls):
            return self.attributes_node(v, x, traced)
        if not hasattr(x, "__dict__") and _plain_slots(cls) and self.slotted_node(v, x, cls):
            return
        return self.generic(v, x, traced)

    def dlarray_node(self, v: str, x: Any, traced: bool) -> None:
        data = x._data
        if type(data) is not np.ndarray:
            return self.generic(v, x, traced)
        d = self.data[v] = self.var(f"{v}._data")
        self.dlarrays.append((v, (data.dtype, data.ndim)))
        self.fail_unless(f"type({d}) is ND and {d}.dtype is {self.const(data.dtype)} and "
                         f"{d}.ndim == {data.ndim}")
        if x._fmt:
            self.fail_unless(f"{v}._fmt == {self.const(x._fmt)}")
        elif x._fmt.__class__ is LostLabels:
            self.fail_unless(f"{v}._fmt.__class__ is {self.const(LostLabels)}")
        else:
            # (CPython's empty str is one object: a str subclass's empty value is not it)
            self.fail_unless(f"{v}._fmt is {self.const('')}")

    def ndarray_node(self, v: str, x: Any, traced: bool) -> None:
        self.fail_unless(f"{v}.dtype is {self.const(x.dtype)} and {v}.ndim == {x.ndim}")

    def sequence_node(self, v: str, x: Any, traced: bool) -> None:
        """A tuple, list or Closure: its length, then each item."""
        self.fail_unless(f"len({v}) == {len(x)}")
        items = self.parts[v] = []
        for i, item in enumerate(x):
            items.append((i, self.var(f"{v}[{i}]")))
            self.child(items[-1][1], item, traced)

    def dict_node(self, v: str, x: Any, traced: bool) -> None:
        """A dict of str or int keys: its keys in order, then each value."""
        keys = list(x)
        try:
            hash(tuple(keys))
        except TypeError:
            return self.generic(v, x, traced)
        if not all(type(k) in (str, int) for k in keys):
            return self.generic(v, x, traced)
        self.fail_unless(f"len({v}) == {len(keys)} and list({v}) == {self.const(keys)}")
        if any(type(k) is int for k in keys):
            # (True == 1 == 1.0: the keys' types too, as kind_of tells them apart)
            self.fail_unless(f"list(map(type, {v})) == {self.const([type(k) for k in keys])}")
        items = self.parts[v] = []
        for k in keys:
            items.append((k, self.var(f"{v}[{k!r}]")))
            self.child(items[-1][1], x[k], traced)

    def namedtuple_node(self, v: str, x: Any, traced: bool) -> None:
        """A subclass of list, tuple or dict: a namedtuple by its fields, anything else by kind_of."""
        cls = type(x)
        if isinstance(x, tuple) and hasattr(cls, "_fields") and cls.__getattribute__ is tuple.__getattribute__:
            for f in cls._fields:          # a namedtuple: its fields by name (as kind_of reads them)
                if not f.isidentifier():
                    return self.generic(v, x, traced)
            for f in cls._fields:
                self.child(self.var(f"{v}.{f}"), getattr(x, f), traced)
            return
        return self.generic(v, x, traced)

    def dataclass_node(self, v: str, x: Any, traced: bool) -> None:
        cls = type(x)
        if cls.__getattribute__ is not object.__getattribute__ or "__getattr__" in dir(cls):
            return self.generic(v, x, traced)
        for f in dataclasses.fields(x):
            if not f.name.isidentifier() or not hasattr(x, f.name):
                return self.generic(v, x, traced)
        own = getattr(x, "__dict__", None)
        extra = dataclass_extras(x)
        if type(own) is dict:           # its attributes that are not fields: the same names (kind_of)
            if not all(type(k) is str for k in own):
                return self.generic(v, x, traced)
            dv = self.var(f"{v}.__dict__")
            self.fail_unless(f"type({dv}) is dict and {dv}.keys() == {self.const(frozenset(own))}")
        for f in dataclasses.fields(x):
            self.child(self.var(f"{v}.{f.name}"), getattr(x, f.name), traced)
        for k, value in extra:
            self.child(self.var(f"{dv}[{k!r}]"), value, traced)

    def attributes_node(self, v: str, x: Any, traced: bool) -> None:
        """An object with a plain ``__dict__``: its attribute names, then each value."""
        d = vars(x)
        keys = [k for k in d if not k.startswith("__")]
        if len(keys) != len(d) or not all(type(k) is str and k.isidentifier() for k in keys):
            return self.generic(v, x, traced)
        dv = self.var(f"{v}.__dict__")
        self.fail_unless(f"{dv}.keys() == {self.const(frozenset(keys))}")
        for k in sorted(keys):
            self.child(self.var(f"{dv}[{k!r}]"), d[k], traced)

    def slotted_node(self, v: str, x: Any, cls) -> bool:
        """An object without ``__dict__``, keyed by its ``__sct_kind__``; False where that is not
        checkable here (the caller compares by kind_of)."""
        key = getattr(x, "__sct_kind__", None) if hasattr(cls, "__sct_kind__") else None
        if key is None and hasattr(cls, "__sct_kind__"):
            self.fail_unless(f"{v}.__sct_kind__ is None")
            return True
        if key is not None and type(key) in (int, str):
            self.fail_unless(f"{v}.__sct_kind__ == {self.const(key)}")
            return True
        return key is None and not hasattr(cls, "__sct_kind__")    # ("const", type): the type decides

    _BY_TYPE = {dlarray: dlarray_node, np.ndarray: ndarray_node, tuple: sequence_node, list: sequence_node,
                Closure: sequence_node, dict: dict_node}

    def child(self, v: str, x: Any, traced: bool) -> None:
        """Check the exact type of ``x`` (or identity of a class), then its parts."""
        if isinstance(x, type):
            self.fail_unless(f"{v} is {self.const(x)}")
            return
        if x is None:
            self.fail_unless(f"{v} is None")
            return
        self.fail_unless(f"type({v}) is {self.const(type(x))}")
        self.node(v, x, traced)

    def generic(self, v: str, x: Any, traced: bool) -> None:
        self.fail_unless(f"KIND_OF({v}, {bool(traced)}) == {self.const(kind_of(x, traced))}")


def make_matcher(args: Tuple, traced: Tuple[bool, ...], limit: int = 400):
    """A function ``match(args)``: True only if ``kind_of`` gives each of ``args`` the kind it gives
    the example here (with ``traced`` per argument), by checks of the parts ``kind_of`` reads
    (about 40 ns each) instead of building the kinds; None where the arguments are too big
    (more than ``limit`` parts)."""
    writer = _MatcherWriter(limit)
    writer.lines.append(f"    if len(args) != {len(args)}: return False")
    try:
        for i, (x, t) in enumerate(zip(args, traced)):
            writer.child(writer.var(f"args[{i}]"), x, bool(t))
    except (OverflowError, RecursionError):
        return None
    source = "def match(args):\n" + "\n".join(writer.lines) + "\n    return True\n"
    namespace = dict(writer.consts)
    exec(compile(source, "<sct-kind-matcher>", "exec"), namespace)
    match = namespace["match"]
    match.source = source
    return match


def _holds_dlarray(x) -> bool:
    """Whether ``unwrap`` replaces anything inside ``x`` (else it passes ``x`` on as it is)."""
    if isinstance(x, dlarray):
        return True
    if isinstance(x, (list, tuple)):
        return any(_holds_dlarray(v) for v in x)
    if isinstance(x, dict):
        return any(_holds_dlarray(v) for v in x.values())
    return False


def make_unwrapper(args: Tuple, limit: int = 400):
    """``make_matcher`` for dlfeval's entries (nothing traced) that also unwraps: a function
    ``unwrapped(args)`` that returns ``sct.runtime.dlarray.unwrap(args)`` when ``kind_of`` gives
    ``args`` the kinds of the example ``args``, and None otherwise.  A dlarray's data is the
    variable the check read; a container is unwrapped by ``unwrap`` itself (a new one, as before).
    Returns ``(source lines, constants, result expression)`` for the caller to build its function
    around (sct.api adds the guards of the code), or None where the arguments are too big."""
    from .runtime.dlarray import unwrap
    from .runtime.support import aliased_dlarrays
    writer = _MatcherWriter(limit, fail="None")
    writer.consts["UNWRAP"] = unwrap
    names = [f"v{i}" for i in range(len(args))]     # the arguments' variables, written first
    writer.names = len(args)
    if args:                    # unpacked at once: a tuple of another length raises ValueError
        writer.lines += ["    try:", "        " + "".join(f"{v}, " for v in names) + "= args",
                         "    except ValueError:", "        return None"]
    else:
        writer.lines.append("    if len(args) != 0: return None")
    def unwrapped(v: str, x: Any) -> str:
        """The expression of ``unwrap(x)`` for ``x`` read as ``v`` (its exact type checked)."""
        cls = type(x)
        if cls is dlarray and v in writer.data:
            return writer.data[v]
        if x is None or isinstance(x, type) or not issubclass(cls, (dlarray, list, tuple, dict)):
            return v                    # unwrap returns it as it is
        items = writer.parts.get(v)
        if items is not None and not _holds_dlarray(x):
            return f"UNWRAP({v})"       # passed on as it is (a write into it is the caller's)
        if items is not None and cls is dict:        # its keys checked in order: a dict display
            return "{" + "".join(f"{k!r}: {unwrapped(u, x[k])}, " for k, u in items) + "}"
        if items is not None and cls in (list, tuple):
            inner = "".join(unwrapped(u, x[i]) + ", " for i, u in items)
            return f"[{inner}]" if cls is list else f"({inner})"
        return f"UNWRAP({v})"

    parts = []
    try:
        for v, x in zip(names, args):
            writer.child(v, x, False)
            parts.append(unwrapped(v, x))
    except (OverflowError, RecursionError):
        return None
    if aliased_dlarrays(args):
        return None                 # one dlarray at two places: the slow path, which notes it (ALIASED)
    # the same dlarray at two places of other arguments of these kinds: a miss, for the same reason
    groups: dict = {}
    for v, key in writer.dlarrays:
        groups.setdefault(key, []).append(v)
    for vs in groups.values():
        if 1 < len(vs) <= 4:
            writer.lines.append("    if " + " or ".join(f"{a} is {b}" for i, a in enumerate(vs)
                                                      for b in vs[i + 1:]) + ": return None")
        elif len(vs) > 4:
            writer.lines.append(f"    if len({{{', '.join(f'id({a})' for a in vs)}}}) != {len(vs)}: return None")
    result = "(" + "".join(p + ", " for p in parts) + ")"
    return writer.lines, writer.consts, result


# --- what a kind says (read by the compiler's analyses) ------------------------------------

@dataclasses.dataclass(frozen=True)
class Leaf:
    traced: bool
    complex: bool


def leaf_kind(kind) -> Optional[Leaf]:
    """The differentiability of an argument kind as computed by ``sct.kinds``."""
    if not isinstance(kind, tuple) or not kind:
        return None
    tag = kind[0]
    if tag in ("dl", "nd", "num"):
        dtype = np.dtype(kind[1]) if kind[1] is not None else np.dtype(float)
        return Leaf(traced=(tag == "dl") and dtype.kind in "fc", complex=dtype.kind == "c")
    return None


def has_own_methods(cls) -> bool:
    """Whether a namedtuple class defines methods of its own (``__call__``, or public functions):
    one used as an object (a layer), not only as a tuple of values."""
    import types
    for klass in cls.__mro__:
        if klass is tuple or klass is object:
            break
        for name, value in vars(klass).items():
            if isinstance(value, (types.FunctionType, property)) and \
                    (name == "__call__" or not name.startswith("_")):
                return True
    return False


def instance_field(kind, name: str) -> bool:
    """Does ``kind`` (an object's, kind_of's) hold a field ``name`` set on the instance, which Python reads
    before the class's attribute (``obj.predict = fn``, ``layer.backward = fn``)?"""
    return isinstance(kind, tuple) and len(kind) > 2 and kind[0] == "obj" and isinstance(kind[2], tuple) and \
        any(field == name for field, _ in kind[2])


def object_array_field(base_kind, kind) -> bool:
    """Is ``kind`` a plain float (or complex) array held in a field of an object of kind
    ``base_kind`` (a user's class, a dataclass, a namedtuple with methods of its own)?  The object's
    methods read such a field as one of their variables, and the gradient with respect to the object
    has its derivative there (sct.sweeps keeps it: not zeroed as a constant)."""
    if not (isinstance(base_kind, tuple) and base_kind and base_kind[0] == "obj"):
        return False
    cls = base_kind[1]
    if isinstance(cls, type) and issubclass(cls, tuple) and not has_own_methods(cls):
        return False
    if not kind_traced(base_kind):
        return False        # an object of plain arrays only is a constant, as a plain array is
    if not (isinstance(kind, tuple) and kind and kind[0] == "nd"):
        # (a Python number field, ``self.eps``, is a setting: read directly it stays a constant, so a
        # hyperparameter given to an op without a derivative in it, np.percentile(x, m.q) or
        # rng.normal(0, m.sigma), is not refused; its gradient is zero however read: sct.sweeps)
        return False
    try:
        return np.dtype(kind[1]).kind in "fc"
    except TypeError:
        return False


def kind_traced(kind) -> bool:
    leaf = leaf_kind(kind)
    if leaf is not None:
        return leaf.traced
    if isinstance(kind, tuple) and kind and kind[0] in ("seq", "map", "obj"):
        return any(kind_traced(k) for k in _children(kind).values())
    return kind == "unknown-active"


def kind_complex(kind) -> bool:
    leaf = leaf_kind(kind)
    if leaf is not None:
        return leaf.complex
    if isinstance(kind, tuple) and kind and kind[0] in ("seq", "map", "obj"):
        return any(kind_complex(k) for k in _children(kind).values())
    return False


def _children(kind) -> Dict[Any, Any]:
    if kind[0] == "seq":
        return dict(enumerate(kind[2]))
    return dict(kind[2])


def child_kind(kind, key):
    if isinstance(kind, tuple) and kind and kind[0] in ("seq", "map", "obj"):
        return _children(kind).get(key)
    return None


def _sct_or_numpy_class(cls) -> bool:
    """A class of sct's or numpy's, not the user's: ``sct.dlarray`` (its ``__module__`` is ``"sct"``, which
    ``startswith("sct.")`` missed: ``X = dlarray(x); X.sum()`` took X for an object of the user's class and
    refused numpy's method as "no derivative rule for 'ndarray.sum'")."""
    return module_top(cls) in ("sct", "numpy")      # (was startswith("numpy"): a user's numpy_models too)
