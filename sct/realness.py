"""Is a value real?  The proof the complex handling of adjoints reads (sct/complex_adjoints.py,
sct/tangent.py): ``RealnessProof`` (mixed into ``sct.analysis.Activity``) computes
``maybe_complex``, the names some assignment of which is not proven real, from the function's
values, calls and kinds; a call of the user's code is proven real from its source (``_code_real``:
no complex constant, dtype or op; globals, closure values, defaults and class attributes real and
fixed; calls of numpy, math, Python, sct or code proven the same way), and what each proof read is
guarded (``_ProofCheck``) so that a rebinding to a complex value compiles the code again.
"""
from __future__ import annotations

import ast
import builtins
import functools
import inspect
import itertools
import types
import warnings
from typing import Any, Dict, List, Set

import gast
import numpy as np

from .runtime.origins import module_top
from .runtime import numpy_ops as _numpy_ops, registry
from .runtime import support as rt_support

from .cache import Guard, Unresolved, _MISSING
from .callables import WrappedFunction
from .ir import load
from .kinds import _children, _sct_or_numpy_class, child_kind, leaf_kind
from .plans import CallKind


#: the kinds ``("const", type)`` of values that hold no number (so none complex).  Not str: a string
#: may name a complex dtype (``x.astype(dt)`` with dt = "complex128"), and its kind holds not its value,
#: so code compiled for "float64" runs for "complex128" too (was: a string argument, an item or a field
#: of one, proven real: the gradient through ``np.imag(np.sqrt(x.astype(dt) - 1))`` was 0, red54c W4)
_NUMBERLESS = (bool, type(None), bytes, slice, range, types.FunctionType, types.BuiltinFunctionType,
               types.MethodType, np.ufunc)


def kind_real(kind) -> bool:
    """Is a value of this kind surely without complex numbers (every leaf real, or no number)?
    Unknown kinds (an object sct cannot read, a cycle) are not."""
    leaf = leaf_kind(kind)
    if leaf is not None:
        # (an object array's dtype says nothing of its items: one may be 1+1j, was proven real, red54c W2)
        return not leaf.complex and not (kind[0] in ("dl", "nd") and kind[1] == "|O")
    if isinstance(kind, tuple) and kind:
        if kind[0] == "obj" and len(kind) > 1 and isinstance(kind[1], type) and not _class_real(kind[1]):
            return False        # (a method code may run without naming the class makes complex values)
        if kind[0] in ("seq", "map", "obj"):
            return all(kind_real(k) for k in _children(kind).values())
        if kind[0] == "module":
            return True
        if kind[0] == "const" and len(kind) == 2 and isinstance(kind[1], type):
            return issubclass(kind[1], _NUMBERLESS)
        if kind[0] == "const" and len(kind) == 3 and isinstance(kind[1], type):
            # sct's slotted structures keyed on their shape (a network's graph): no data of the user's
            return (kind[1].__module__ or "").startswith("sct")
    return False


_COMPLEX_TYPES = (complex, np.complex128, np.complex64, np.clongdouble)


def _complex_dtype(node) -> bool:
    """Does the expression ``node`` name a complex dtype (``complex``, ``np.complex64``, "c16")?"""
    if isinstance(node, gast.Name):
        return node.id == "complex"
    if isinstance(node, gast.Attribute):
        return node.attr in ("complex64", "complex128", "complex256", "complex_", "cdouble", "csingle",
                             "clongdouble", "cfloat")
    if isinstance(node, gast.Constant) and isinstance(node.value, str):
        return node.value.startswith("complex") or node.value in ("c8", "c16", "c32", "D", "F", "G")
    return False


_REAL_CODE: Dict[Any, tuple] = {}      # (code, class) -> (proven, reads, globals, closure)
#: numpy's classes whose values hold complex numbers from real arguments (np.poly1d(c).roots)
_COMPLEX_NUMPY_TYPES = (np.poly1d,)
#: numpy's functions taking a dtype by position
_DTYPE_TAKERS = ("astype", "dtype", "array", "asarray", "asanyarray", "zeros", "ones", "empty", "full",
                 "zeros_like", "ones_like", "empty_like", "full_like", "eye", "identity", "arange", "linspace")
_NUMERIC_MODULES = ("builtins", "math", "numpy", "_operator", "operator", "functools", "itertools")


def _code_real(fn, cls=None, depth: int = 0) -> bool:
    """Is the user's function ``fn`` (a method of ``cls``) proven to return real values from
    real data: no complex constant, dtype or op in its source, every global value it reads
    real, and every call in it one of numpy's, math's, Python's, or of a function or method
    (of ``cls``) proven the same way, three levels deep?  Then a call of it is real where its
    arguments and its object are (``Activity.call_real``); a call of code it cannot see
    (a function passed in, a field's object) is not proven."""
    import ast
    import textwrap
    fn = getattr(fn, "__func__", fn)
    if isinstance(fn, WrappedFunction):
        fn = fn.fn
        fn = getattr(fn, "__func__", fn)
    code = getattr(fn, "__code__", None)
    if code is None or depth > 3:
        return False
    key = (code, cls)
    known = _REAL_CODE.get(key)
    if known is not None and (known[2] is not fn.__globals__ or known[3] is not fn.__closure__ or
                              not all(_read_holds(read) for read in known[1])):
        known = None                        # other globals (generated code), or one rebound since
    if known is None:
        if len(_REAL_CODE) > 4096:
            _REAL_CODE.clear()
        _REAL_CODE[key] = (True, (), fn.__globals__, fn.__closure__)   # (recursion: the others decide)
        _READS.append([])
        try:
            tree = ast.parse(textwrap.dedent(inspect.getsource(fn)))
            # (a default is the value a parameter not given holds: ``def rot(v, PH=PH)`` reads the
            # global complex PH through its parameter, not seen as a global in the source)
            for attr in ("__defaults__", "__kwdefaults__"):
                _READS[-1].append((fn, attr, getattr(fn, attr), True))
            defaults = list(fn.__defaults__ or ()) + list((fn.__kwdefaults__ or {}).values())
            found = all(_fixed_real(d) for d in defaults) and _tree_real(tree, fn, cls, depth) and \
                (cls is None or _class_real(cls, depth))
        except (OSError, TypeError, SyntaxError, IndentationError):
            found = False
        finally:
            reads = tuple(_READS.pop())
        known = _REAL_CODE[key] = (found, reads, fn.__globals__, fn.__closure__)
    if _READS:
        _READS[-1].extend(known[1])
    return known[0]


#: the global values (namespace, name, value) each ``_code_real`` being decided read: a caller whose
#: code relies on the proof guards them (``Activity.guard_reads``: rebinding one compiles it again)
_READS: List[list] = []


#: the methods of a class of the user's that code proven real may run without naming its class:
#: an operator's, numpy's protocol's, and those named as an array's or a container's
#: (``p.dot(v)``, ``d.get(k)`` in a helper given the object are taken for an array's, a dict's)
_IMPLICIT_METHODS = ("__add__", "__radd__", "__sub__", "__rsub__", "__mul__", "__rmul__", "__matmul__",
                     "__rmatmul__", "__truediv__", "__rtruediv__", "__floordiv__", "__rfloordiv__",
                     "__pow__", "__rpow__", "__neg__", "__pos__", "__abs__", "__getitem__", "__iter__",
                     "__next__", "__array__", "__array_ufunc__", "__array_function__", "__complex__",
                     "__float__", "__getattr__", "__getattribute__")


def _implicit_method(name: str) -> bool:
    return name in _IMPLICIT_METHODS or name in _CONTAINER_METHODS or \
        (not name.startswith("_") and hasattr(np.ndarray, name))


def _class_real(cls, depth: int = 0) -> bool:
    """Are a class's data attributes real, and its properties' code proven real, and that of the
    methods code may run without naming the class (``_IMPLICIT_METHODS``)?"""
    for c in cls.__mro__:
        if c is object or module_top(c) in ("sct", "numpy", "builtins"):
            continue            # (sct.Table's module is "sct")
        for k, v in vars(c).items():
            if isinstance(v, (types.FunctionType, staticmethod, classmethod)) and _implicit_method(k):
                if not _code_real(getattr(v, "__func__", v), cls, depth + 1):
                    return False
                continue
            if k.startswith("__") or isinstance(v, (types.FunctionType, staticmethod, classmethod)):
                continue
            if _READS:
                _READS[-1].append((cls, k, getattr(cls, k, _MISSING), True))
            if isinstance(v, property):
                if v.fget is not None and not _code_real(v.fget, cls, depth + 1):
                    return False
            elif not _fixed_real(v):
                return False
    return True


def _read_holds(read) -> bool:
    """Is a value a proof of realness read (a global, a closure's value, a default, a class
    attribute) the same, or one the proof holds for too: a number, an array, a function proven
    real (``act = np.sin`` rebound during a call, a class's counter incremented)?"""
    base, name, value, attribute = read
    now = getattr(base, name, _MISSING) if attribute else Guard(base, name, value).value_now()
    if now is value:
        return True
    if attribute and name in ("__defaults__", "__kwdefaults__"):
        return all(_fixed_real(d) for d in ((now or {}).values() if name == "__kwdefaults__" else now or ()))
    if callable(now) and not isinstance(now, (np.ndarray, type)):
        return _callable_real(now)
    return not callable(now) and _fixed_real(now)


class _ProofCheck:
    """The namespace of the guard on what proofs of realness read: ``cell_contents`` (what
    sct.cache.make_check compares with True) says whether every value read still holds."""
    __slots__ = ("proof_reads",)

    def __init__(self, reads):
        self.proof_reads = tuple(reads)

    holds = staticmethod(lambda read: _read_holds(read))

    @property
    def cell_contents(self) -> bool:
        for read in self.proof_reads:       # (each call: the same objects, the common case, first)
            base, name, value, attribute = read
            if attribute:
                now = getattr(base, name, _MISSING)
            elif type(base) is dict:
                now = base.get(name, _MISSING)
            else:
                try:
                    now = base.cell_contents
                except ValueError:
                    return False
            if now is not value and not _read_holds(read):
                return False
        return True


def _integral(exponent) -> bool:
    """An integral exponent written with numbers (``x ** 2``, ``x ** -1``, ``x ** 2.0``, the power
    rule's ``x ** (2 - (2 != 0))``)."""
    if isinstance(exponent, (gast.UnaryOp, ast.UnaryOp)) and isinstance(exponent.op, (gast.USub, gast.UAdd,
                                                                                        ast.USub, ast.UAdd)):
        return _integral(exponent.operand)
    if isinstance(exponent, (gast.Call, ast.Call)) and \
            getattr(exponent.func, "attr", getattr(exponent.func, "id", None)) == "zero_power_fix":
        return True                     # (0 or 1: the power rules' exponent fix, runtime/numpy_ops.py)
    if isinstance(exponent, (gast.UnaryOp, ast.UnaryOp)) and isinstance(exponent.op, (gast.Invert, ast.Invert)):
        return True                     # (~ of a bool or an int: the power rule's ~(np.abs(a) > 0))
    if isinstance(exponent, (gast.BinOp, ast.BinOp)) and isinstance(exponent.op, (gast.Add, gast.Sub, gast.Mult,
                                                                                    ast.Add, ast.Sub, ast.Mult)):
        return _integral(exponent.left) and _integral(exponent.right)
    if isinstance(exponent, (gast.BinOp, ast.BinOp)) and isinstance(exponent.op, (gast.BitOr, gast.BitAnd,
                                                                                    ast.BitOr, ast.BitAnd)):
        return True                     # (| or & of bools or ints: the power rule's (a == 0) | (a != a))
    if isinstance(exponent, (gast.Compare, ast.Compare)):
        return True                     # (a bool: the power rule's b - (b != 0))
    return isinstance(exponent, (gast.Constant, ast.Constant)) and isinstance(exponent.value, (int, float)) and \
        not isinstance(exponent.value, bool) and float(exponent.value).is_integer()


def _numpy_result(fn) -> bool:
    """Does calling ``fn`` give a numpy array or numpy scalar (whose ``**`` is numpy's: nan for a
    negative base and a fractional exponent, never complex)?  Not np.shape/ndim/size (Python ints)."""
    return (isinstance(fn, np.ufunc) or module_top(fn) == "numpy") and \
        not any(fn is f for f in (np.shape, np.ndim, np.size))


def _tree_real(tree, fn, cls, depth: int) -> bool:
    import ast
    namespace = getattr(fn, "__globals__", {})
    cells = dict(zip(fn.__code__.co_freevars, fn.__closure__ or ()))
    local = {n.id for n in ast.walk(tree) if isinstance(n, ast.Name) and isinstance(n.ctx, (ast.Store, ast.Del))}
    local |= {a.arg for n in ast.walk(tree) if isinstance(n, (ast.FunctionDef, ast.Lambda))
              for a in n.args.posonlyargs + n.args.args + n.args.kwonlyargs + [n.args.vararg, n.args.kwarg] if a}
    local |= {n.name for n in ast.walk(tree) if isinstance(n, ast.FunctionDef)}
    params = fn.__code__.co_varnames[:fn.__code__.co_argcount]
    receiver = params[0] if cls is not None and params else None
    code = fn.__code__
    stored = {n.id for n in ast.walk(tree) if isinstance(n, ast.Name) and isinstance(n.ctx, (ast.Store, ast.Del))}
    params_kept = set(code.co_varnames[:code.co_argcount + code.co_kwonlyargcount +
                                       bool(code.co_flags & inspect.CO_VARARGS) +
                                       bool(code.co_flags & inspect.CO_VARKEYWORDS)]) - stored

    def resolve(node):
        if isinstance(node, ast.Name):
            if node.id in local:
                return _MISSING
            if node.id in cells:
                try:
                    value = cells[node.id].cell_contents
                except ValueError:
                    return _MISSING
                if not isinstance(value, types.ModuleType):
                    _READS[-1].append((cells[node.id], node.id, value, False))
                return value
            if node.id in namespace:
                value = namespace[node.id]
                if not isinstance(value, types.ModuleType):
                    _READS[-1].append((namespace, node.id, value, False))
                return value
            return getattr(builtins, node.id, _MISSING)
        if isinstance(node, ast.Attribute):
            base = resolve(node.value)
            if isinstance(base, (types.ModuleType, type)):
                return getattr(base, node.attr, _MISSING)
        return _MISSING

    def numpy_call(node):
        # np.sum(v), np.sqrt(v) ...: surely numpy's value (its ** is numpy's: nan, never complex)
        if not isinstance(node, ast.Call):
            return False
        return _numpy_result(resolve(node.func))

    for node in ast.walk(tree):
        if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Pow) and not _integral(node.right) and \
                not (isinstance(node.left, ast.Constant) and isinstance(node.left.value, (int, float)) and
                     node.left.value >= 0) and not numpy_call(node.left) and not numpy_call(node.right):
            return False                # v ** 0.5 of a negative Python float: complex (numpy's: nan)
        if isinstance(node, ast.Call) and len(node.args) >= 2 and not _integral(node.args[1]) and \
                resolve(node.func) is builtins.pow:
            return False
        if isinstance(node, ast.Constant) and (isinstance(node.value, complex) or
                                               (isinstance(node.value, str) and len(node.value) > 1 and
                                                _complex_dtype_value(node.value))):
            return False                # (was: "cdouble", "<c16" not seen)
        if isinstance(node, ast.Attribute) and _complex_dtype(
                gast.Attribute(value=gast.Name(id="_", ctx=gast.Load(), annotation=None, type_comment=None),
                               attr=node.attr, ctx=gast.Load())):
            return False
        if isinstance(node, ast.Attribute) and node.attr in ("fft", "eig", "eigvals", "emath", "scimath"):
            return False
        if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Load) and node.id not in local:
            value = resolve(node)
            if value is _MISSING:
                continue
            if callable(value) and not isinstance(value, np.ndarray):
                if not _callable_real(value, depth):
                    return False
            elif not _fixed_real(value):
                return False            # a global complex array or number
        if isinstance(node, ast.Call):
            func = node.func
            name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
            dtypes = [k.value for k in node.keywords if k.arg == "dtype"] + \
                (node.args if name in _DTYPE_TAKERS else [])
            if any(isinstance(a, ast.Constant) and a.value in ("D", "F", "G") for a in dtypes):
                return False            # a complex dtype's code (np.asarray(v, "D"))
            callee = resolve(func)
            position = _dtype_position(callee if callee is not _MISSING else None, name)
            if not all(_seen_dtype(a, local, params_kept) for a in
                       [k.value for k in node.keywords if k.arg in ("dtype", "signature", "sig", None)] +
                       [a for i, a in enumerate(node.args) if i == position or isinstance(a, ast.Starred)]):
                return False            # a dtype made here (x.astype(f"c{n}")): was proven real, red54c W4
            if any(callee is h for h in _HIGHER_ORDER) and \
                    any(isinstance(a, ast.Name) and a.id in local for a in _function_arguments(callee, node)):
                return False            # map(fn, xs), sorted(xs, key=fn) with fn passed in: not seen
            if isinstance(func, ast.Name):
                if func.id in local:
                    return False        # a function passed in or made here: not seen
                continue                # (a global: checked as a name above)
            if isinstance(func, ast.Attribute):
                base = resolve(func.value)
                if base is not _MISSING:
                    if not isinstance(base, (types.ModuleType, type)):
                        return False
                    value = getattr(base, func.attr, _MISSING)
                    if value is _MISSING or not _callable_real(value, depth):
                        return False
                    continue
                if isinstance(func.value, ast.Name) and func.value.id == receiver:
                    method = inspect.getattr_static(cls, func.attr, None)
                    if isinstance(method, (staticmethod, classmethod)):
                        method = method.__func__
                    if not isinstance(method, types.FunctionType) or not _code_real(method, cls, depth + 1):
                        return False    # a field's callable, a property: not seen
                    continue
                if hasattr(np.ndarray, func.attr) or func.attr in _CONTAINER_METHODS:
                    continue            # an array's or a container's method (x.sum(), xs.append(v))
                return False
            return False                # a call of a call's result, of an item: not seen
    return True


def _seen_dtype(node, local, params) -> bool:
    """Is a dtype given in a helper's code one whose realness the proof sees: a literal read exactly,
    a global (checked as one), a parameter the helper does not rebind or a field or item of one (the
    caller's argument, proven real or not there)?  Not a string made in the helper."""
    if isinstance(node, ast.Constant):
        return _constant_dtype_real(node.value)
    while isinstance(node, (ast.Attribute, ast.Subscript, ast.Starred)):
        node = node.value
    return isinstance(node, ast.Name) and (node.id not in local or node.id in params)


def _callable_real(value, depth: int = 0) -> bool:
    """Is the code run by calling (or passing) ``value`` proven to make no complex value from real ones?"""
    if isinstance(value, types.ModuleType):
        return True
    if registry.lookup(value) is not None:                # an op (sct's, numpy's, the user's)
        return not registry.facts_of(value).complex_output
    if _sct_function(value):
        return True
    if isinstance(value, (types.FunctionType, types.MethodType, WrappedFunction)) and \
            module_top(value) != "numpy":
        return _code_real(value, None, depth + 1)
    if isinstance(value, type):
        if module_top(value) in ("builtins", "numpy"):
            return value is not complex and value not in _COMPLEX_NUMPY_TYPES and \
                not issubclass(value, np.complexfloating) and not value.__module__.startswith("numpy.polynomial")
        if _sct_or_numpy_class(value) or value in _COMPLEX_NUMPY_TYPES:
            return value not in _COMPLEX_NUMPY_TYPES
        init = value.__dict__.get("__init__") or getattr(value, "__init__", None)
        return (not isinstance(init, types.FunctionType) or _code_real(init, value, depth + 1)) and \
            _class_real(value, depth + 1)
    module = getattr(value, "__module__", None) or ""
    if isinstance(value, np.ufunc) or module.split(".")[0] in _NUMERIC_MODULES:
        return not _numpy_complex_from_real(value)
    return False


def _fixed_real(value) -> bool:
    """Is a value read when compiling (a global, a closure's value, a default, a class attribute)
    real for as long as it stays the same object: a number, a string, an array (its dtype is
    fixed), a tuple of such, a function, a class, a module?  Not a list, a dict or an object,
    which can change in place without a guard seeing it (a global config's field set complex)."""
    if isinstance(value, tuple):
        return all(_fixed_real(v) for v in value)
    if _complex_dtype_value(value):
        return False                # complex, np.complex128, "c16": a dtype making complex arrays
    if isinstance(value, (bool, int, float, str, bytes, type(None), types.ModuleType, types.FunctionType,
                          types.BuiltinFunctionType, type, np.ufunc, np.ndarray, np.generic, slice, range,
                          frozenset, WrappedFunction)) or value is rt_support.ZERO or \
            value is rt_support.PARTIAL_UNSET:
        return _value_real(value) if isinstance(value, (np.ndarray, np.generic, frozenset)) else True
    if isinstance(value, types.MethodType):
        return _fixed_real(value.__self__)
    return False


def _complex_dtype_value(value) -> bool:
    """Is ``value`` a complex type or dtype, or a string naming one (``complex``, ``np.complex64``,
    ``np.dtype("D")``, ``"complex128"``, ``"c16"``)?  Passed as a dtype (``np.zeros(n, complex)``,
    ``v.astype(t)``, a helper's ``dtype`` parameter) it makes complex values from real ones."""
    if isinstance(value, type):
        return issubclass(value, (complex, np.complexfloating))
    if isinstance(value, np.dtype):
        return value.kind == "c"
    if isinstance(value, str) and 0 < len(value) <= 16:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            try:
                return np.dtype(value).kind == "c"
            except Exception:
                return False
    return False


def _value_real(value, depth: int = 0) -> bool:
    """Does a value known when compiling (a global, a closure's value) hold no complex number?"""
    from .kinds import kind_of
    if value is rt_support.ZERO or value is rt_support.PARTIAL_UNSET:
        return True
    if isinstance(value, (bool, int, float, str, type(None), types.ModuleType, types.FunctionType,
                          types.BuiltinFunctionType, type, np.ufunc)):
        return True
    if isinstance(value, (np.ndarray, np.generic)):
        return value.dtype.kind not in "cO"         # (an object array's items may be complex: red54c W2)
    if isinstance(value, complex):
        return False
    try:
        return kind_real(kind_of(value))
    except Exception:
        return False


def _sct_function(fn) -> bool:
    """Is ``fn`` a function of sct's runtime (not generated code)?"""
    return isinstance(fn, types.FunctionType) and (getattr(fn, "__module__", None) or "").startswith("sct.runtime")


def _kind_may_call(kind) -> bool:
    """May an argument of this kind be, or hold, code of the user's (a function, a callable
    object)?"""
    if not isinstance(kind, tuple) or not kind:
        return True
    if leaf_kind(kind) is not None or kind[0] == "module":
        return False
    if kind[0] == "const":
        return len(kind) < 2 or not isinstance(kind[1], type) or \
            issubclass(kind[1], (types.FunctionType, types.MethodType, WrappedFunction, type)) or \
            isinstance(getattr(kind[1], "__call__", None), types.FunctionType)
    if kind[0] in ("seq", "map", "obj"):
        return (kind[0] == "obj" and isinstance(kind[1], type) and
                isinstance(getattr(kind[1], "__call__", None), types.FunctionType)) or \
            any(_kind_may_call(k) for k in _children(kind).values())
    return True


def _user_callable(value) -> bool:
    """Is ``value`` code of the user's that a call could run (a Python function, method, class,
    an object with a ``__call__``), not a value or one of numpy's or Python's functions?"""
    if isinstance(value, (types.FunctionType, types.MethodType, WrappedFunction)):
        return not (getattr(value, "__module__", "") or "").startswith("sct.")
    if isinstance(value, type):
        return module_top(value) not in ("builtins", "numpy")
    return isinstance(getattr(type(value), "__call__", None), types.FunctionType)


#: methods of lists and dicts (of a container proven real: an item of it is)
_CONTAINER_METHODS = ("pop", "copy", "get", "items", "values", "keys", "index", "count", "append", "extend",
                      "insert")


def _function_arguments(fn, node) -> list:
    """The arguments of a call of ``fn`` whose code its result may come from: all but the
    ``key=`` of sorted, min and max (its results are only compared: the result is an item)."""
    return list(node.args) + [k.value for k in node.keywords
                              if not (k.arg == "key" and any(fn is f for f in (sorted, min, max)))]


def _numpy_complex_from_real(fn) -> bool:
    """Is numpy's ``fn`` one whose result is complex from real arguments, under any name it is
    imported as: np.fft's, np.linalg.eig, np.lib.scimath's, np.roots, numpy.polynomial's?"""
    module = getattr(fn, "__module__", None) or ""
    name = getattr(fn, "__name__", "")
    return (name in ("fft", "ifft", "fft2", "ifft2", "fftn", "ifftn", "rfft", "eig", "eigvals", "hfft") and
            ("fft" in module or "linalg" in module)) or "emath" in module or "scimath" in module or \
        (module.startswith("numpy") and name in ("roots", "polyroots", "poly1d")) or \
        module.startswith("numpy.polynomial")


def _calls_arguments(fn) -> bool:
    """May Python's, numpy's or sct's ``fn`` call a function given as an argument (map(f, xs),
    rt.user_call(f, x), rt.vjp_at(site, f, ...))?"""
    return fn in _HIGHER_ORDER or (getattr(fn, "__module__", None) or "").startswith("sct")


_HIGHER_ORDER = (map, filter, sorted, min, max, functools.reduce, itertools.starmap, itertools.accumulate,
                 np.vectorize, np.frompyfunc, np.apply_along_axis, np.apply_over_axes, np.piecewise,
                 np.fromfunction)


#: Python's functions that make a string (or run one): their result, a dtype's name, may be complex
_STRING_MAKERS = (chr, format, repr, ascii, eval, exec)


def _reads_numbers_only(fn) -> bool:
    """Is ``fn`` (a call sct runs as it is) one whose result is complex only where an argument
    is: Python's builtins, ``math``, numpy's functions, sct's runtime?  Not ``cmath.rect`` or
    code of other libraries."""
    if isinstance(fn, type):
        return module_top(fn) == "builtins" and fn not in (complex, str, bytes)
    if isinstance(fn, np.ufunc):
        return True
    if any(fn is f for f in _STRING_MAKERS):
        return False            # a string may name a complex dtype ("c" + str(n)), red54c W4
    return module_top(fn) in ("builtins", "math", "_operator", "operator", "itertools", "functools", "sct",
                              "numpy") or getattr(fn, "__self__", None) is builtins


def mean_keyword(node: gast.Call) -> bool:
    """Does a call of a real-valued op (np.var, np.std) pass ``mean=`` (or ``**kwargs`` that may)?  numpy's
    variance of a real ``a`` about a complex mean is mean((a - m) ** 2): complex."""
    return any(k.arg in ("mean", None) for k in node.keywords)


def _makes_complex(node: gast.Call, info) -> bool:
    """Is the call's result complex whatever its arguments: a complex type called (``complex(0, 1)``,
    also how generated code spells a complex constant), a complex ``dtype=``, ``.astype(complex)``?"""
    if any(info.obj is t for t in _COMPLEX_TYPES):
        return True
    if any(k.arg == "dtype" and _complex_dtype(k.value) for k in node.keywords):
        return True
    return info.kind == CallKind.METHOD and info.method == "astype" and bool(node.args) and \
        _complex_dtype(node.args[0])


#: ndarray's methods taking a dtype by position (``x.astype(dt)``, ``x.view(dt)``: a float64 array viewed as
#: "c16" is complex; ``x.sum(0, dt)``)
_METHOD_DTYPE_POSITIONS = {"astype": 0, "view": 0, "getfield": 0, "sum": 1, "mean": 1, "prod": 1,
                           "cumsum": 1, "cumprod": 1, "std": 1, "var": 1, "trace": 3}
#: numpy's functions that make a dtype of their arguments (``np.dtype(s)``, ``np.result_type(a, s)``)
_DTYPE_MAKERS = ("dtype", "result_type", "promote_types")


def _dtype_position(fn, name):
    """The position at which a call of numpy's ``fn`` (or ndarray's method ``name``) takes a dtype, or None."""
    if name in _METHOD_DTYPE_POSITIONS and not isinstance(fn, types.FunctionType):
        return _METHOD_DTYPE_POSITIONS[name]
    if fn is None or module_top(fn) != "numpy" or isinstance(fn, np.ufunc):
        return None
    known = _DTYPE_POSITIONS.get(id(fn))
    if known is not None and known[0] is fn:
        return known[1]
    position = None
    try:
        params = list(inspect.signature(fn).parameters.values())
    except (TypeError, ValueError):
        params = []
    for i, p in enumerate(params):
        if p.name == "dtype":
            position = i if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD) else None
            break
    _DTYPE_POSITIONS[id(fn)] = (fn, position)       # (numpy's functions: held, so their ids stay theirs)
    return position


_DTYPE_POSITIONS: Dict[int, tuple] = {}


def _dtype_arguments(node, info) -> list:
    """The arguments of a call that numpy reads as a dtype: ``dtype=`` (``signature=`` of a ufunc,
    ``**kwargs`` that may hold either), the positional one (``x.astype(dt)``, ``np.zeros(n, dt)``,
    ``np.asarray(v, dt)``), any ``*args`` that may reach it."""
    found = [k.value for k in node.keywords if k.arg in ("dtype", "signature", "sig", None)]
    func = node.func
    name = info.method or (func.attr if isinstance(func, gast.Attribute) else getattr(func, "id", None))
    obj = info.obj if info.kind != CallKind.METHOD or info.rule is None else None
    position = _dtype_position(obj, name)
    if position is not None and info.kind != CallKind.METHOD and module_top(info.obj) != "numpy":
        position = None
    if position is not None:
        found += [a for i, a in enumerate(node.args) if i == position or isinstance(a, gast.Starred)]
    return found


_REAL_SCALAR_TYPES = (np.floating, np.integer, np.bool_, float, int, bool)


def _kind_dtype_real(kind) -> bool:
    """Is a value of this kind, given as a dtype, surely one of real numbers?  A type's kind is the
    type itself (np.float64: yes, np.complex128: no), a np.dtype's its class; a string's kind holds
    not its value (np.dtype(s) may be "complex128"): no."""
    if isinstance(kind, tuple) and len(kind) == 2 and kind[0] == "const" and isinstance(kind[1], type):
        t = kind[1]
        if issubclass(t, (str, bytes)):
            return False
        if issubclass(t, np.dtype):
            t = getattr(t, "type", None)
            return isinstance(t, type) and issubclass(t, _REAL_SCALAR_TYPES)
        return issubclass(t, _REAL_SCALAR_TYPES) or issubclass(t, _NUMBERLESS)
    return kind_real(kind)


def _constant_dtype_real(value) -> bool:
    """Is a constant given as a dtype (a literal, a global's value) surely one of real numbers: read
    exactly (``np.dtype("cdouble")`` is complex, a structured "c16,f8" holds complex fields)?"""
    if value is None:
        return True
    if isinstance(value, tuple):
        return all(_constant_dtype_real(v) for v in value)
    if isinstance(value, (str, bytes, type, np.dtype)):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            try:
                return np.dtype(value).kind not in "cV"
            except Exception:
                return not isinstance(value, (str, bytes))   # (a ufunc's signature "D->D": no dtype)
    return _fixed_real(value)


class RealnessProof:
    """``Activity``'s proof of realness: ``maybe_complex`` and what it is computed from (the
    function's assignments, the classes its objects may be, the functions it may call)."""

    def visit_realness(self, node):
        """One statement's effect on ``maybe_complex`` (once the other sets are known)."""
        if isinstance(node, gast.Assign):
            target = node.targets[0]
            name = target.id if isinstance(target, gast.Name) else getattr(target.value, "id", None) \
                if isinstance(target, (gast.Subscript, gast.Attribute)) and isinstance(target.value, gast.Name) \
                else None
            if name is not None and name not in self.maybe_complex and not self.value_real(node.value):
                self.maybe_complex.add(name)
                return load(name)
            return None
        # a value put in a container or an object by its method (xs.append(z), d.update(...),
        # o.set(z)): it may hold complex values unless every argument is proven real
        call_node = node.value
        func = call_node.func
        if isinstance(func, gast.Attribute) and isinstance(func.value, gast.Name) and \
                func.value.id not in self.maybe_complex and \
                not all(self.value_real(a) for a in call_node.args + [k.value for k in call_node.keywords]):
            self.maybe_complex.add(func.value.id)
            return func.value
        return None

    # --- values proven real (``maybe_complex``) ------------------------------------------------
    def local_names(self) -> Dict[str, bool]:
        """The function's parameters and the names it binds: name -> is it proven real but for
        its assignments (a parameter: its kind; a name bound here: yes)."""
        names = self.__dict__.get("_local_names")
        if names is None:
            names = dict.fromkeys(self.bindings(), True)
            args = self.fdef.args
            for a in args.posonlyargs + args.args + args.kwonlyargs + [args.vararg, args.kwarg]:
                if isinstance(a, gast.Name):
                    names[a.id] = self.proven(lambda kind=self.kinds.get(a.id): kind_real(kind))
            self._local_names = names
        return names

    def param_names(self) -> Set[str]:
        args = self.fdef.args
        return {a.id for a in args.posonlyargs + args.args + args.kwonlyargs + [args.vararg, args.kwarg]
                if isinstance(a, gast.Name)}

    def name_real(self, name: str) -> bool:
        """Is the name's value proven real: a local no assignment of which may be complex, a
        parameter of a real kind, a global or closure value without complex numbers?"""
        if name in self.maybe_complex:
            return False
        local = self.local_names().get(name)
        if local is not None:
            return local
        value = self.resolver.resolve_name(name)
        if value is Unresolved or value is _MISSING:
            return True             # (a name the generation made: its facts are its value's)
        return _fixed_real(value)

    def value_real(self, value) -> bool:
        """Is ``value`` proven real (no complex number can be in it)?  Not: a call of the user's
        function or method (sct reads it apart, at run time), of code it cannot read (cmath.rect),
        an attribute or item of a value of unknown kind."""
        if isinstance(value, gast.Constant):
            return not isinstance(value.value, complex) and not _complex_dtype_value(value.value)
        if isinstance(value, gast.Name):
            return self.name_real(value.id)
        if isinstance(value, (gast.Compare, gast.Lambda)):
            return True
        if isinstance(value, gast.JoinedStr) or isinstance(value, gast.BinOp) and any(
                isinstance(v, gast.Constant) and isinstance(v.value, (str, bytes)) for v in (value.left, value.right)):
            return False        # a string made here may name a complex dtype (f"c{n}", "c" + s), red54c W4
        if isinstance(value, gast.BinOp):
            return self.value_real(value.left) and self.value_real(value.right) and \
                (not isinstance(value.op, gast.Pow) or self.power_real(value.left, value.right))
        if isinstance(value, gast.UnaryOp):
            return self.value_real(value.operand)
        if isinstance(value, gast.BoolOp):
            return all(self.value_real(v) for v in value.values)
        if isinstance(value, gast.IfExp):
            return self.value_real(value.body) and self.value_real(value.orelse)
        if isinstance(value, (gast.Tuple, gast.List, gast.Set)):
            return all(self.value_real(e) for e in value.elts)
        if isinstance(value, gast.Dict):
            return all(self.value_real(v) for v in value.values)
        if isinstance(value, gast.Starred):
            return self.value_real(value.value)
        if isinstance(value, gast.Slice):
            return True
        if isinstance(value, gast.Attribute):
            if value.attr in ("real", "imag", "strides", "flags") or (
                    value.attr in registry.NONDIFF_ATTRIBUTES and not self.user_attribute(value)):
                return True
            base = value.value
            if isinstance(base, gast.Name):
                if base.id in self.local_names():
                    # a field of a value proven real (every field of its kind, every value written
                    # to it); a property or class attribute of its class: that class's code
                    kind = self.kinds.get(base.id)
                    if not self.name_real(base.id):
                        # an argument's field of a real kind, in an object with a string elsewhere (a
                        # layer's Name: strings are not proven real, red54c W4): the field's own kind
                        field = self.value_kind(value)
                        return base.id in self.param_names() and base.id not in self.assigned_values() and \
                            base.id not in self.maybe_complex and field is not None and \
                            isinstance(kind, tuple) and len(kind) > 2 and kind[0] == "obj" and \
                            isinstance(kind[1], type) and value.attr in dict(kind[2]) and \
                            self.proven(lambda: kind_real(field) and _class_real(kind[1]))
                    if isinstance(kind, tuple) and len(kind) > 2 and kind[0] == "obj" and \
                            isinstance(kind[1], type) and value.attr not in dict(kind[2]):
                        return self.proven(lambda: _class_real(kind[1]))
                    return True
                found = self.resolver.resolve(value)          # np.pi, a module's constant, rt.ZERO
                return found is not Unresolved and found is not _MISSING and _fixed_real(found)
            return False
        if isinstance(value, gast.Subscript):
            base = value.value
            if isinstance(base, gast.Name) and base.id in self.param_names() and \
                    base.id not in self.assigned_values() and base.id not in self.maybe_complex:
                kind = self.value_kind(value)           # an item of an argument: its own kind
                if kind is not None:                    # (residuals[0] of a tuple holding functions too)
                    return self.proven(lambda: kind_real(kind))
            return self.value_real(base)
        if isinstance(value, gast.Call):
            return self.call_real(value)
        return False

    def call_real(self, value: gast.Call) -> bool:
        info = self.call_info(value)
        if _makes_complex(value, info) or _numpy_complex_from_real(info.obj):
            return False
        if not all(self.dtype_real(a) for a in _dtype_arguments(value, info)):
            return False            # (was: x.astype(dt) real for dt = f"c{n}", red54c W4)
        if (info.obj is builtins.pow or info.obj is _numpy_ops.base_power) and len(value.args) >= 2 and \
                not self.power_real(*value.args[:2]):
            return False            # (rt.base_power: ** in a power's adjoint on a Python number)
        facts = registry.facts_of(info.obj)
        if facts.real_output and not (mean_keyword(value) and not all(
                self.value_real(k.value) for k in value.keywords if k.arg in ("mean", None))):
            return True         # (np.var(a, mean=m) of a real a and a complex m is complex: was proven real)
        if info.kind == CallKind.OP and facts.complex_output:
            return False
        operands = all(self.value_real(a) for a in value.args) and \
            all(self.value_real(k.value) for k in value.keywords if k.arg != "order")   # (order="F")
        if info.kind in (CallKind.OP, CallKind.STOP, CallKind.CREATE, CallKind.SITE):
            return operands and (info.receiver is None or self.name_real(info.receiver))
        if info.kind == CallKind.METHOD:
            # an op's method, or an array's method without a rule (x.item(), x.tolist()) of a value
            # proven real; not a method of the user's (read apart, at run time)
            return operands and self.name_real(info.receiver) and \
                (info.rule is not None or ((hasattr(np.ndarray, info.method) or info.method in _CONTAINER_METHODS)
                                           and not self.user_receiver(info.receiver)))
        if info.kind in (CallKind.FUNCTION, CallKind.METHOD):
            return operands and self.user_call_real(value, info)
        if info.kind in (CallKind.PLAIN, CallKind.NONDIFF):
            # run as it is: real from real arguments where it calls no code of the user's
            # (map(f, xs), np.vectorize(f), rt.user_call(f, x) may return what f makes)
            return operands and _reads_numbers_only(info.obj) and \
                not (_calls_arguments(info.obj) and
                     any(self.may_be_function(a) for a in _function_arguments(info.obj, value)))
        return False                # the user's function, method, class: read apart, at run time

    def dtype_real(self, node, depth: int = 0) -> bool:
        """Is ``node``, given as a dtype, surely one of real numbers: a literal read exactly, a
        parameter whose kind says (a type; not a string: its kind holds not its value), a global, a
        local bound only to such, ``v.dtype`` of a real ``v``, ``np.dtype(d)`` of such?  A string
        made here (f"c{n}", "c" + str(n), a helper's result) is not."""
        if depth > 8:
            return False
        if isinstance(node, gast.Constant):
            return _constant_dtype_real(node.value)
        if isinstance(node, gast.Starred):
            return self.dtype_real(node.value, depth + 1)
        if isinstance(node, (gast.Tuple, gast.List)):
            return all(self.dtype_real(e, depth + 1) for e in node.elts)
        if isinstance(node, gast.Dict):
            return all(self.dtype_real(v, depth + 1) for v in node.values)
        if isinstance(node, gast.IfExp):
            return self.dtype_real(node.body, depth + 1) and self.dtype_real(node.orelse, depth + 1)
        if isinstance(node, gast.Name):
            if node.id in self.maybe_complex:
                return False
            if node.id in self.param_names() and node.id not in self.assigned_values():
                if self.bindings().get(node.id):
                    return False
                kind = self.kinds.get(node.id)
                return self.proven(lambda: _kind_dtype_real(kind))
            if node.id in self.local_names():
                values = self.assigned_values().get(node.id, ())
                return bool(values) and self.bindings().get(node.id) == len(values) and \
                    all(self.dtype_real(v, depth + 1) for v in values)
            found = self.resolver.resolve_name(node.id)
            return found is not Unresolved and found is not _MISSING and _constant_dtype_real(found)
        if isinstance(node, gast.Attribute):
            if node.attr == "dtype":
                return self.value_real(node.value)      # (y.dtype of a complex y: was taken for real)
            if isinstance(node.value, gast.Name) and node.value.id in self.local_names():
                kind = self.value_kind(node)
                return kind is not None and self.value_real(node) and self.proven(lambda: _kind_dtype_real(kind))
            found = self.resolver.resolve(node)
            return found is not Unresolved and found is not _MISSING and _constant_dtype_real(found)
        if isinstance(node, gast.Subscript):
            base = node.value
            if isinstance(base, gast.Name) and base.id in self.param_names() and \
                    base.id not in self.assigned_values() and base.id not in self.maybe_complex:
                kind = self.value_kind(node)
                return kind is not None and self.proven(lambda: _kind_dtype_real(kind))
            return self.dtype_real(base, depth + 1)
        if isinstance(node, gast.Call):
            fn = self.resolver.resolve(node.func)
            if module_top(fn) == "numpy" and getattr(fn, "__name__", None) in _DTYPE_MAKERS and not node.keywords:
                return all(self.dtype_real(a, depth + 1) for a in node.args)
        return False

    def power_real(self, base, exponent) -> bool:
        """Is ``base ** exponent`` of real operands real?  Python's ``**`` on a negative Python
        number and a fractional exponent makes a complex number (``math.cos(x) ** 1.5``), numpy's
        (on an array or a numpy scalar, either side) nan: real where the exponent is integral, the
        base a non-negative number, or either side surely numpy's."""
        if _integral(exponent) or isinstance(base, gast.Constant) and \
                isinstance(base.value, (int, float)) and base.value >= 0:
            return True
        return self.numpy_valued(base) or self.numpy_valued(exponent)

    def numpy_valued(self, value, depth: int = 0) -> bool:
        """Is ``value`` surely a numpy array or numpy scalar (never a Python number)?"""
        if depth > 8:
            return False
        if isinstance(value, gast.Name):
            if value.id in self.param_names():
                kind = self.kinds.get(value.id)
                # (a 0-d traced kind is also a helper's Python float: kinds.kind_of)
                return value.id not in self.assigned_values() and isinstance(kind, tuple) and \
                    kind[:1] in (("dl",), ("nd",)) and kind[1] != "|O" and kind[2] > 0
            values = self.assigned_values().get(value.id)
            return bool(values) and self.bindings().get(value.id) == len(values) and \
                all(self.numpy_valued(v, depth + 1) for v in values)
        if isinstance(value, gast.BinOp):
            return self.numpy_valued(value.left, depth + 1) or self.numpy_valued(value.right, depth + 1)
        if isinstance(value, gast.UnaryOp):
            return not isinstance(value.op, gast.Not) and self.numpy_valued(value.operand, depth + 1)
        if isinstance(value, gast.Attribute):
            return value.attr in ("T", "real", "imag") and self.numpy_valued(value.value, depth + 1)
        if isinstance(value, gast.Subscript):
            return isinstance(value.slice, (gast.Constant, gast.Name, gast.Slice, gast.UnaryOp)) and \
                self.numpy_valued(value.value, depth + 1)
        if isinstance(value, gast.Call):
            info = self.call_info(value)
            if info.kind == CallKind.METHOD:
                return info.method not in ("item", "tolist", "__float__", "__int__") and \
                    info.receiver is not None and self.numpy_valued(gast.Name(
                        id=info.receiver, ctx=gast.Load(), annotation=None, type_comment=None), depth + 1)
            return info.kind == CallKind.OP and _numpy_result(info.obj)
        return False

    def bindings(self) -> Dict[str, int]:
        """name -> how many times the function binds it (every store or delete)."""
        counts = self.__dict__.get("_bindings")
        if counts is None:
            from .ir import store_counts
            counts = self._bindings = store_counts(self.fdef)
        return counts

    def user_call_real(self, value: gast.Call, info) -> bool:
        """Is a call of the user's code (a function, a class, a callable object, a method) real
        where its arguments are: its code proven so (``_code_real``), and its object real?"""
        return self.proven(lambda: self.call_code_real(value, info))

    def proven(self, proof) -> bool:
        """``proof()``, and where it holds, guards on the global values and class attributes it
        read (``_READS``): the code made here relies on them (a helper's global or a class's
        attribute rebound to a complex value compiles it again)."""
        _READS.append([])
        try:
            found = proof()
        finally:
            reads = _READS.pop()
        if found:
            self.guard_reads(reads)
        return found

    def guard_reads(self, reads) -> None:
        # (one guard per read value for the whole compile: its analyses share the resolver)
        guarded = self.resolver.__dict__.setdefault("proof_reads", {})
        new = {}
        for r in reads:
            key = (id(r[0]), r[1])
            if not isinstance(r[2], types.ModuleType) and key not in guarded:
                new.setdefault(key, r)
        if new:
            guarded.update(new)
            key = f"__sct_proof_{len(self.resolver.guards)}"
            self.resolver.guards[key] = Guard(_ProofCheck(new.values()), key, True)

    def call_code_real(self, value: gast.Call, info) -> bool:
        obj = info.obj
        if _sct_function(obj):
            # sct's own code (maxpool, a network's forward): complex only from complex values, or
            # from a function of the user's it is given
            return not any(self.may_be_function(a) for a in value.args + [k.value for k in value.keywords])
        if info.kind == CallKind.METHOD:
            if not info.receiver or not self.name_real(info.receiver):
                return False
            classes = self.classes_of(info.receiver)
            method = info.method
        elif obj is not None:
            if isinstance(obj, type):
                init = getattr(obj, "__init__", None)
                if isinstance(init, types.FunctionType):
                    return _code_real(init, obj)
                return init is object.__init__ and obj.__new__ is object.__new__ and _class_real(obj)
            if isinstance(obj, (types.FunctionType, WrappedFunction)):
                return _code_real(obj)
            if isinstance(obj, types.MethodType):
                return _code_real(obj.__func__, type(obj.__self__)) and _fixed_real(obj.__self__)
            return _code_real(type(obj).__call__, type(obj)) and _fixed_real(obj)
        elif isinstance(value.func, gast.Name):
            if not self.name_real(value.func.id):
                return False
            classes = self.classes_of(value.func.id)
            method = "__call__"
        else:
            return False
        if not classes:
            return False
        for cls in classes:
            fn = inspect.getattr_static(cls, method, None)
            if isinstance(fn, (staticmethod, classmethod)):
                fn = fn.__func__
            if not isinstance(fn, types.FunctionType) or _sct_or_numpy_class(cls) or not _code_real(fn, cls):
                return False
        return True

    def classes_of(self, name: str, depth: int = 0) -> list:
        """The classes of the objects ``name`` may hold, where all are known: its kind's, or
        those of the classes every assignment of it calls (``r = Rot(a)``); else []."""
        kind = self.kinds.get(name)
        if name in self.param_names() or name not in self.local_names():
            if name in self.names_of_functions() or name not in self.param_names():
                return []
            if isinstance(kind, tuple) and len(kind) > 1 and kind[0] == "obj" and isinstance(kind[1], type):
                return [kind[1]]
            return []
        classes = []
        for value in self.assigned_values().get(name, ()):
            found = self.value_classes(value, depth)
            if not found:
                return []
            classes += found
        return classes

    def assigned_values(self) -> Dict[str, list]:
        """name -> the values the function's assignments bind it to."""
        values = self.__dict__.get("_assigned_values")
        if values is None:
            from .ir import walk_no_defs
            values = {}
            for node in walk_no_defs(self.fdef):
                if isinstance(node, gast.Assign) and isinstance(node.targets[0], gast.Name):
                    values.setdefault(node.targets[0].id, []).append(node.value)
            self._assigned_values = values
        return values

    def value_classes(self, value, depth: int) -> list:
        """The classes of the objects an assigned value may be, where all are known: a class
        called (``Dense(W, b)``), a name bound to such, an item of a list or tuple of such
        (``for layer in layers``); else []."""
        if depth > 8:
            return []
        if isinstance(value, gast.Call):
            cls = self.resolver.resolve(value.func)
            return [cls] if isinstance(cls, type) else []
        if isinstance(value, gast.Name):
            return self.classes_of(value.id, depth + 1)
        if isinstance(value, gast.Subscript):
            return self.item_classes(value.value, depth + 1)
        return []

    def item_classes(self, node, depth: int) -> list:
        """The classes of the items of a list or tuple none of whose items is replaced or added
        to here: a literal's items', an argument's kind's, through rt.as_sequence/list/tuple."""
        if isinstance(node, gast.Name) and node.id in self.changed_in_place() or \
                self.field_changed_in_place(node):
            return []
        kind = self.value_kind(node)
        if isinstance(kind, tuple) and kind[:1] == ("seq",):
            items = list(_children(kind).values())
            if items and all(isinstance(k, tuple) and len(k) > 1 and k[0] == "obj" and isinstance(k[1], type)
                             for k in items):
                return [k[1] for k in items]
            return []
        if not isinstance(node, gast.Name) or node.id in self.param_names() or \
                node.id in self.changed_in_place() or depth > 8:
            return []
        classes = []
        for value in self.assigned_values().get(node.id, ()):
            if isinstance(value, (gast.List, gast.Tuple)):
                found = [c for e in value.elts for c in self.value_classes(e, depth + 1)]
                if len(found) < len(value.elts):
                    return []
            elif isinstance(value, gast.Call) and len(value.args) == 1 and not value.keywords and \
                    self.resolver.resolve(value.func) in (rt_support.as_sequence, list, tuple):
                found = self.item_classes(value.args[0], depth + 1)
            elif isinstance(value, (gast.Name, gast.Attribute, gast.Subscript)):
                found = self.item_classes(value, depth + 1)
            else:
                return []
            if not found:
                return []
            classes += found
        return classes

    def field_changed_in_place(self, node) -> bool:
        """Is ``node`` (``o.f``, ``o["k"]``) a field some name here is bound to and changes in place
        (``fs = o.f; fs.append(...)``)?"""
        if not isinstance(node, (gast.Attribute, gast.Subscript)):
            return False
        key = node.attr if isinstance(node, gast.Attribute) else getattr(node.slice, "value", None)
        for name in self.changed_in_place():
            for value in self.assigned_values().get(name, ()):
                if isinstance(value, (gast.Attribute, gast.Subscript)) and \
                        (value.attr if isinstance(value, gast.Attribute) else getattr(value.slice, "value", None)) == key:
                    return True
        return False

    def changed_in_place(self) -> Set[str]:
        """The names whose object something here may change: a method called on it (``xs.append``),
        an item or field written, passed to a call (other than len, rt.as_sequence, list, tuple)."""
        names = self.__dict__.get("_changed_in_place")
        if names is None:
            from .ir import walk_no_defs
            readers = (len, rt_support.as_sequence, list, tuple, enumerate)
            names = set()
            for node in walk_no_defs(self.fdef):
                if isinstance(node, gast.Assign):
                    for t in node.targets:
                        if isinstance(t, (gast.Subscript, gast.Attribute)) and isinstance(t.value, gast.Name):
                            names.add(t.value.id)
                if isinstance(node, gast.Call):
                    if isinstance(node.func, gast.Attribute) and isinstance(node.func.value, gast.Name):
                        names.add(node.func.value.id)
                    if self.resolver.resolve(node.func) not in readers:
                        names |= {a.id for a in node.args + [k.value for k in node.keywords]
                                  if isinstance(a, gast.Name)}
            self._changed_in_place = names
        return names

    def value_may_call(self, value) -> bool:
        """May an assigned value be a function (a lambda, a name or field that holds one)?"""
        if isinstance(value, gast.Lambda):
            return True
        if isinstance(value, gast.IfExp):
            return self.value_may_call(value.body) or self.value_may_call(value.orelse)
        if isinstance(value, gast.Starred):
            return self.value_may_call(value.value)
        if isinstance(value, gast.Name):
            return self.may_be_function(value)
        if isinstance(value, (gast.Attribute, gast.Subscript)):
            kind = self.value_kind(value)
            if kind is None and isinstance(value.value, gast.Name):
                key = value.attr if isinstance(value, gast.Attribute) else \
                    value.slice.value if isinstance(value.slice, gast.Constant) else None
                kind = child_kind(self.kinds.get(value.value.id), key)
            return kind is None or _kind_may_call(kind)
        return False

    def may_be_function(self, node) -> bool:
        """May ``node`` be a function of the user's (a lambda, a name of one)?"""
        if isinstance(node, gast.Lambda):
            return True
        if isinstance(node, gast.Starred):
            return self.may_be_function(node.value)
        if isinstance(node, (gast.Tuple, gast.List)):
            return any(self.may_be_function(e) for e in node.elts)
        if isinstance(node, gast.Name):
            if node.id in self.names_of_functions():
                return True
            if node.id in self.local_names():
                # a parameter not known to be an array or a number; not a local bound to a call's
                # result or an operator's (a function there only where the call is not proven real)
                return node.id in self.param_names() and _kind_may_call(self.kinds.get(node.id))
            found = self.resolver.resolve_name(node.id)
            return _user_callable(found)
        if isinstance(node, gast.Attribute):
            found = self.resolver.resolve(node)
            return found is Unresolved or _user_callable(found)
        return False

    def names_of_functions(self) -> Set[str]:
        """The names the function binds to what may be a function: a lambda, a name, a field, an
        item (``f = fs[0]``), a def.  (A call's result is a function only where that call is not
        proven real: then the name is in ``maybe_complex`` anyway.)"""
        names = self.__dict__.get("_names_of_functions")
        if names is None:
            from .ir import walk_no_defs
            names = set()
            self._names_of_functions = names          # (a name bound to another: in turn, below)
            for n in walk_no_defs(self.fdef):
                if isinstance(n, gast.Assign) and isinstance(n.targets[0], gast.Name) and \
                        self.value_may_call(n.value):
                    names.add(n.targets[0].id)
                elif isinstance(n, gast.FunctionDef) and n is not self.fdef:
                    names.add(n.name)
        return names
