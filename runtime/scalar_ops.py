"""Scalar forms of numpy's functions, for generated code specialised to real float64 scalars
(sct/scalars.py): numpy's own function on the Python float (Python's ``math`` only where it is
numpy's bit for bit: ``sqrt``, ``fabs``), so every value is numpy's.

``to_numpy(v)`` turns a specialised value back into what the unspecialised code held (a numpy
float64) where it leaves the specialised code; the zero marker and None pass unchanged.
These functions have no derivative rules: specialised code is never differentiated again
(sct/scalars.py leaves alone the code that is); code calling them would be refused.
"""
from __future__ import annotations

import math

import numpy as np

from .errors import EvaluationError
from .support import _UNSELECTED, ZERO, _is_zero, index_add, index_adjoint, project, seed

_float64 = np.float64


def to_numpy(v):
    """A specialised scalar as the unspecialised code had it: a numpy float64."""
    if type(v) is float and v is not ZERO:
        return _float64(v)
    return v


def to_numpy_bool(v):
    """A comparison of specialised scalars as numpy gives it: a numpy bool."""
    return np.bool_(v) if type(v) is bool else v


try:                  # numpy's floating-point error state (np.errstate): one object per state
    from numpy._core._ufunc_config import _extobj_contextvar as _ERRSTATE
except ImportError:   # pragma: no cover - another numpy: np.geterr() on every call
    _ERRSTATE = None
_errstate = _ERRSTATE.get if _ERRSTATE is not None else (lambda: None)
_QUIET = ("ignore", "warn")
# the last error state seen under which Python floats are numpy's values (never None: a state
# not known, the placeholder, is never ``_errstate()``)
_QUIET_STATE = [object()]


def _floats_allowed() -> bool:
    """Whether numpy's error state lets Python floats stand for numpy float64s: Python's float
    arithmetic neither warns nor raises on overflow, underflow or invalid results, so where the
    user asked numpy to raise (``np.errstate(over="raise")``) the values stay numpy scalars."""
    state = _errstate()
    if state is _QUIET_STATE[0]:
        return True
    err = np.geterr()
    ok = all(err[k] in _QUIET for k in ("over", "under", "invalid", "divide"))
    if ok and state is not None:
        _QUIET_STATE[0] = state
    return ok


def scalar_argument(x) -> float:
    """A real float64 scalar argument (a 0-d float64 array or a numpy float64) as a Python float
    (as a numpy float64 where numpy's error state asks to raise: the code then runs on numpy's
    scalars, which honour it)."""
    cls = type(x)
    if cls is np.ndarray or cls is _float64:
        if not _floats_allowed():
            return _float64(x)
        return float(x)
    raise EvaluationError(
        f"an argument of type {cls.__name__} (a 0-d float64 array of a subclass) reached code "
        "specialised for plain float64 scalars; pass np.asarray(value) or a dlarray, or set "
        "SCT_SCALARS=0 in the environment")


def scalar_seed(y):
    """``seed(y)`` (the adjoint that starts a sweep) for a specialised scalar ``y``."""
    if type(y) is float:
        _UNSELECTED.finite_y = y - y == 0.0          # finite (not inf, not NaN): project's NaN refusal
        if _UNSELECTED.sites:
            _UNSELECTED.sites.clear()
            _UNSELECTED.ops.clear()
        return 1.0
    return seed(y)


def scalar_project(grad, x):
    """``project(grad, x)`` (the gradient of ``x``) for a specialised scalar adjoint ``grad``
    of a real float64 scalar argument ``x``."""
    if type(grad) is float and grad != 0.0 and type(x) is np.ndarray and x.ndim == 0 and \
            x.dtype == np.float64 and grad == grad:
        return np.array(grad)
    return project(to_numpy(grad), x)


_ndarray = np.ndarray
_F64 = np.dtype(np.float64)


def scalar_elements(x):
    """``x`` where its elements may be read as Python floats (``x.item(i)``, sct/scalar_elements.py):
    an exact 1-d float64 ndarray under a quiet numpy error state; else None (``x[i]`` is read,
    numpy's float64, as by unspecialised code)."""
    if x.__class__ is _ndarray and x.ndim == 1 and (x.dtype is _F64 or x.dtype == _F64):
        if _errstate() is _QUIET_STATE[0] or _floats_allowed():
            return x
    return None


def scalar_index_adjoint(grad, x, idx):
    """``index_adjoint(grad, x, idx)`` for a specialised scalar ``grad``: a float into a float64
    buffer shaped like ``x`` (the same numbers as the numpy float64 the plain code held)."""
    if type(grad) is float and type(x) is _ndarray and type(idx) is int and x.dtype == _F64:
        out = np.zeros(x.shape, _F64)
        out[idx] = grad
        return out
    return index_adjoint(to_numpy(grad), x, idx)


def scalar_index_add(total, grad, x, idx):
    """``index_add(total, grad, x, idx)`` (``total`` held by nothing else: added into in place)
    for a specialised scalar ``grad``."""
    if type(grad) is float and type(x) is _ndarray and type(idx) is int and x.dtype == _F64:
        if type(total) is _ndarray:
            if total.dtype == _F64 and total.shape == x.shape:
                if total.ndim == 1:
                    total[idx] = total.item(idx) + grad    # numpy's float64 sum: IEEE addition
                else:
                    total[idx] += grad
                return total
        elif _is_zero(total):
            out = np.zeros(x.shape, _F64)
            out[idx] = grad
            return out
    return index_add(total, to_numpy(grad), x, idx)


def scalar_index_add_own(total, grad, x, idx):
    """``scalar_index_add`` where ``total`` is the zero marker or was built only by
    ``scalar_index_adjoint``/``scalar_index_add_own`` on ``x`` (sct/scalar_elements.py): an exact
    ndarray ``total`` is then a float64 buffer of x's shape, added into without checking that."""
    if type(total) is _ndarray and type(grad) is float and type(idx) is int and total.ndim == 1:
        total[idx] = total.item(idx) + grad        # numpy's float64 sum: IEEE addition
        return total
    return scalar_index_add(total, grad, x, idx)


def scalar_elements_project(grad, x):
    """``project(grad, x)`` where ``grad`` is the zero marker or was built only by
    ``scalar_index_adjoint``/``scalar_index_add(_own)`` on ``x`` (sct/scalar_elements.py): for an exact
    float64 ndarray ``x``, a float64 buffer of x's shape already, returned as it is."""
    if type(grad) is _ndarray and type(x) is _ndarray and grad.dtype == _F64 and x.dtype == _F64:
        if _UNSELECTED.finite_y or _UNSELECTED.sites:
            return project(grad, x)        # (its NaN refusals)
        return grad
    return project(grad, x)


_array = np.array


def scalar_elements_gradient(x, first, elements):
    """The gradient of ``x`` built by ``scalar_index_adjoint``/``scalar_index_add_own`` steps
    (sct/scalar_elements.py): ``elements[i]`` (a tuple) is element ``first + i`` as those steps
    left it (``first`` 0 or ``-len(elements)``; each element written once, the others zero).  One
    ``np.array`` of them where ``x`` is an exact float64 vector of that many elements."""
    if x.__class__ is _ndarray and (x.dtype is _F64 or x.dtype == _F64) and x.ndim == 1:
        if len(x) == len(elements):
            out = _array(elements, _F64)
        else:
            out = np.zeros(x.shape, _F64)
            for i, e in enumerate(elements):
                out[first + i] = e
        total = sum(elements)               # NaN if an element is (or two infinities cancel)
        if total != total and (_UNSELECTED.sites or _UNSELECTED.finite_y):
            return project(out, x)         # (its NaN refusals: both refuse NaN entries only)
        return out
    total = ZERO
    for i, e in enumerate(elements):
        total = scalar_index_add(total, e, x, first + i)
    return scalar_elements_project(total, x)


_isfinite = math.isfinite


def _guarded(math_fn, np_fn, errors=(ValueError, OverflowError)):
    """``np_fn`` of a real float64 scalar, computed by numpy (a Python float where it is finite).

    ``math_fn`` is used only where it is numpy's function bit for bit (``math.sqrt``: both round
    correctly).  ``math.tanh``, ``math.exp``, ``math.log10``, ``math.atan``... differ from numpy's
    in the last bit for many arguments (tanh for about a third of them), and a program that iterates
    (a map run for 60 steps, a value compared with a threshold) carries that ulp into another value
    than plain Python's (red team H, dec 25: 0.173107 where Python gives 0.173088)."""
    if math_fn is None:
        def scalar(x):
            r = np_fn(x)
            if type(x) is float and _isfinite(r):
                return float(r)
            return r              # a numpy float64 (its error state honoured), numpy's nan/inf
    else:
        def scalar(x):
            if type(x) is not float:
                return np_fn(x)       # a numpy float64: numpy's error state is to be honoured
            try:
                return math_fn(x)
            except errors:
                return np_fn(x)       # numpy's nan/inf (and its warning)
    scalar.__name__ = scalar.__qualname__ = "scalar_" + np_fn.__name__
    scalar.__module__ = __name__
    scalar.__doc__ = f"``np.{np_fn.__name__}`` of a real float64 scalar, numpy's value bit for bit."
    return scalar


scalar_sin = _guarded(None, np.sin)
scalar_cos = _guarded(None, np.cos)
scalar_tan = _guarded(None, np.tan)
scalar_exp = _guarded(None, np.exp)
scalar_expm1 = _guarded(None, np.expm1)
scalar_log = _guarded(None, np.log)
scalar_log1p = _guarded(None, np.log1p)
scalar_log2 = _guarded(None, np.log2)
scalar_log10 = _guarded(None, np.log10)
scalar_sqrt = _guarded(math.sqrt, np.sqrt)
scalar_sinh = _guarded(None, np.sinh)
scalar_cosh = _guarded(None, np.cosh)
scalar_arcsin = _guarded(None, np.arcsin)
scalar_arccos = _guarded(None, np.arccos)


def scalar_divide(a, b):
    """``a / b`` of real scalars with numpy's result where ``b`` is zero (inf or nan, a warning)."""
    if b:
        return a / b
    return np.divide(_float64(a), b)


def scalar_power(a, b):
    """``a ** b`` of real scalars with numpy's result where Python's would overflow, divide by
    zero or be complex."""
    try:
        r = a ** b
    except (OverflowError, ZeroDivisionError):
        return np.power(_float64(a), b)
    if type(r) is complex:
        return np.power(_float64(a), b)
    return r


def scalar_power_of(x, a, b):
    """``a ** b`` where the base ``a`` may be (the float of) the argument ``x`` itself (``x`` is
    None where it is not): numpy computes ``x ** 0.5`` of a 0-d array by ``np.sqrt`` (nan at
    -inf, -0.0 at -0.0), of a numpy float64 by ``pow`` (inf, 0.0), so the array decides."""
    if type(x) is np.ndarray:
        r = x ** b
        return float(r) if type(a) is float else r
    return scalar_power(a, b)


def _exact(math_fn, np_fn):
    if math_fn is None:               # numpy's value (see _guarded), a Python float
        def scalar(x):
            return float(np_fn(x)) if type(x) is float else np_fn(x)
    else:
        def scalar(x):
            return math_fn(x) if type(x) is float else np_fn(x)
    scalar.__name__ = scalar.__qualname__ = "math_" + np_fn.__name__
    scalar.__module__ = __name__
    return scalar


# The functions that never raise for a float (numpy's for a numpy float64: see scalar_argument);
# math.fabs is numpy's bit for bit, math.tanh and math.atan are not (see _guarded).
EXPORTS = {"math_tanh": _exact(None, np.tanh), "math_arctan": _exact(None, np.arctan),
           "math_fabs": _exact(math.fabs, np.fabs)}

# numpy function name -> what specialised code calls instead (an ``rt`` attribute)
FUNCTIONS = {"sin": "scalar_sin", "cos": "scalar_cos", "tan": "scalar_tan", "exp": "scalar_exp",
             "expm1": "scalar_expm1", "log": "scalar_log", "log1p": "scalar_log1p",
             "log2": "scalar_log2", "log10": "scalar_log10", "sqrt": "scalar_sqrt",
             "sinh": "scalar_sinh", "cosh": "scalar_cosh", "arcsin": "scalar_arcsin",
             "arccos": "scalar_arccos", "tanh": "math_tanh", "arctan": "math_arctan"}
