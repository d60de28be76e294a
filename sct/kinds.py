"""The kind of an argument: what compiled code is specialised on (the cache key).

A kind records type, dtype and rank of arrays (not their shape), and the
structure of containers, recursively.  Two calls whose arguments have the same
kinds run the same generated code.
"""
from __future__ import annotations

import dataclasses
import numbers
import types
from typing import Any, Tuple

import numpy as np

from .runtime.dlarray import dlarray


_DTYPE_STR: dict = {}


def _dtype_str(dtype) -> str:
    """``dtype.str`` (a new string each time it is read: 3x a dict look-up), kept per dtype."""
    s = _DTYPE_STR.get(dtype)
    if s is None:
        s = dtype.str
        if len(_DTYPE_STR) < 512:
            _DTYPE_STR[dtype] = s
    return s


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
        return ("dl", _dtype_str(data.dtype), data.ndim)
    if cls is np.ndarray:
        return ("dl" if traced and x.dtype.kind in "fc" else "nd", _dtype_str(x.dtype), x.ndim)
    if isinstance(x, dlarray):
        return ("dl", x.dtype.str, x.ndim) + ((x._fmt,) if x._fmt else ())
    if isinstance(x, np.ndarray):
        return ("dl" if traced and x.dtype.kind in "fc" else "nd", x.dtype.str, x.ndim)
    if isinstance(x, (bool, np.bool_)):
        return ("const", bool)
    if isinstance(x, np.generic):
        return ("dl" if traced and x.dtype.kind in "fc" else "nd", x.dtype.str, 0)
    if isinstance(x, numbers.Number):
        if traced and isinstance(x, (float, complex)):
            return ("dl", np.dtype(type(x)).str, 0)
        return ("num", np.dtype(type(x)).str if isinstance(x, (int, float, complex)) else None, type(x))
    if _memo is None:
        _memo = {}
    else:
        seen = _memo.get(id(x))
        if seen is not None and seen[0] is x:
            return seen[1]
    kind = _container_kind(x, traced, _memo)
    _memo[id(x)] = (x, kind)
    return kind


def _container_kind(x: Any, traced: bool, memo: dict) -> Tuple:
    if isinstance(x, (list, tuple)):
        if hasattr(type(x), "_fields"):
            return ("obj", type(x), tuple((f, kind_of(getattr(x, f), traced, memo)) for f in x._fields))
        return ("seq", type(x), tuple([kind_of(v, traced, memo) for v in x]))
    if isinstance(x, dict):
        try:
            items = tuple((k, kind_of(v, traced, memo)) for k, v in x.items())
        except TypeError:
            return ("const", type(x))
        return ("map", type(x), items)
    if dataclasses.is_dataclass(x) and not isinstance(x, type):
        return ("obj", type(x), tuple((f.name, kind_of(getattr(x, f.name, None), traced, memo))
                                      for f in dataclasses.fields(x)))   # (None: not built yet)
    if x is None or isinstance(x, (str, bytes, type, slice, range, types.FunctionType,
                                   types.BuiltinFunctionType, types.MethodType, np.ufunc)):
        return ("const", type(x) if not isinstance(x, type) else x)
    if hasattr(x, "__dict__"):
        return ("obj", type(x), tuple((k, kind_of(v, traced, memo)) for k, v in sorted(vars(x).items())
                                      if not k.startswith("__")))
    key = getattr(x, "__sct_kind__", None)     # sct's slotted objects keyed on their structure (a network's)
    if key is not None:
        return ("const", type(x), key)
    return ("const", type(x))
