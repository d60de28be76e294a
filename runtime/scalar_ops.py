"""Scalar forms of numpy's functions, for generated code specialised to real float64 scalars
(sct/scalars.py): Python's ``math`` where it gives numpy's result bit for bit (sqrt, fabs: exact in
IEEE 754), numpy itself elsewhere (its exp, log, tanh, ... are not libm's) and where ``math``
would raise (a domain error, an overflow, a division by zero), so every value is numpy's.

``to_numpy(v)`` turns a specialised value back into what the unspecialised code held (a numpy
float64) where it leaves the specialised code; the zero marker and None pass unchanged.
These functions have no derivative rules: specialised code is never differentiated again
(sct/scalars.py leaves alone the code that is); code calling them would be refused.
"""
from __future__ import annotations

from .imported import math
import warnings as _warnings

from .imported import np

from .errors import EvaluationError
from .support import _UNSELECTED, SITES_NOTED, ZERO, _is_zero, index_add, index_adjoint, project, seed

_float64 = np.float64
_RuntimeWarning = RuntimeWarning


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


def _warnings_raise() -> bool:
    """Whether a RuntimeWarning may be raised as an exception (``warnings.simplefilter("error")``,
    ``python -W error``, pytest's ``filterwarnings = error``): numpy's "warn" state then raises
    where Python's float arithmetic (an overflow, ``inf - inf``) gives inf or nan silently.  The
    answer for the filters as they were last read is kept (``_WARNINGS_READ``): the warnings module
    changes them by inserting at the front, appending at the end, or binding a new list
    (``catch_warnings``), each seen by the list, its length, its first and last entries (held, so no
    other object can take their place) and the default action."""
    filters, read = _warnings.filters, _WARNINGS_READ
    n = len(filters)
    if filters is read[0] and n == read[1] and _warnings.defaultaction is read[4] and \
            (not n or filters[0] is read[2] and filters[-1] is read[3]):
        return read[5]
    answer = _filters_raise(filters)
    read[:] = [filters, n, filters[0] if n else None, filters[-1] if n else None, _warnings.defaultaction, answer]
    return answer


_WARNINGS_READ: list = [None, -1, None, None, None, False]


def _filters_raise(filters) -> bool:
    """_warnings_raise's answer for ``filters``, read in order."""
    for action, message, category, module, _ in filters:
        if issubclass(_RuntimeWarning, category):
            if action == "error":
                return True
            if message is None and module is None:
                return False
    return _warnings.defaultaction == "error"


def _floats_allowed() -> bool:
    """Whether numpy's error state lets Python floats stand for numpy float64s: Python's float
    arithmetic neither warns nor raises on overflow, underflow or invalid results, so where the
    user asked numpy to raise (``np.errstate(over="raise")``), or Python to raise numpy's warnings
    (``warnings.simplefilter("error")``), the values stay numpy scalars.  The state last found to
    allow them is kept as ``_ALLOWED[0]`` (see _state_key); the hot callers (scalar_elements,
    scalar_argument) compare it inline and call this only where it differs."""
    filters = _warnings.filters
    if (_errstate(), filters, _warnings.defaultaction) == _ALLOWED[0]:
        return True
    if _warnings_raise():
        return False
    state = _errstate()
    if state is _QUIET_STATE[0]:
        ok = True
    else:
        err = np.geterr()
        ok = all(err[k] in _QUIET for k in ("over", "under", "invalid", "divide"))
    if ok and state is not None:
        _QUIET_STATE[0] = state
        if filters is _warnings.filters:
            # the filters read in full before the key is kept: _warnings_raise's kept answer sees a
            # change at the list's ends only, the key sees one anywhere
            if _filters_raise(filters):
                return False
            _ALLOWED[0] = _state_key(state, filters)
    return ok


def _state_key(state, filters) -> tuple:
    """What the fast test of _floats_allowed compares: numpy's error state object, a copy of the
    warnings filters and the default action.  One tuple comparison: the filters list (however it
    was changed: at the front, at the end, in the middle, or a new list bound) equal to the copy
    item by item (the same filter tuples: identity, no tuple compared), the error state the same
    object (numpy makes one per state).  ~70 ns less per call than the error state test and
    _warnings_raise's reads, and it sees every change of the list, not only its ends."""
    return (state, list(filters), _warnings.defaultaction)


# the state key (_state_key) of the last state found to let Python floats stand for numpy's
# float64s; None: none found yet (numpy without its error-state context variable never sets it)
_ALLOWED: list = [None]


def scalar_state_kept(*witnesses) -> None:
    """After code that may change numpy's error state or the warnings filters (sct/scalars.py
    _state_checks): where the specialised code computes with Python floats (a witness, the float of
    an argument or the vector whose elements are read as floats, says so) the state must still let
    them stand for numpy's float64s; else refused (numpy's scalars would raise, Python's floats not)."""
    for w in witnesses:
        if w.__class__ is float or w.__class__ is _ndarray:
            if not _floats_allowed():
                raise EvaluationError(
                    "the code run at this line changed numpy's error state (np.seterr) or the warnings "
                    "filters so that numpy's floating-point warnings raise; sct computes this function's "
                    "float64 scalars as Python floats, which would not raise: set the state before calling "
                    "dlfeval, or set SCT_SCALARS=0 in the environment")
            return


def scalar_argument(x) -> float:
    """A real float64 scalar argument (a 0-d float64 array or a numpy float64) as a Python float
    (as a numpy float64 where numpy's error state asks to raise: the code then runs on numpy's
    scalars, which honour it)."""
    cls = type(x)
    if cls is np.ndarray or cls is _float64:
        # (_floats_allowed's fast test, inline)
        if (_errstate(), _warnings.filters, _warnings.defaultaction) == _ALLOWED[0] or _floats_allowed():
            return float(x)
        return _float64(x)
    raise EvaluationError(
        f"an argument of type {cls.__name__} (a 0-d float64 array of a subclass) reached code "
        "specialised for plain float64 scalars; pass np.asarray(value) or a dlarray, or set "
        "SCT_SCALARS=0 in the environment")


def scalar_seed(y):
    """``seed(y)`` (the adjoint that starts a sweep) for a specialised scalar ``y``."""
    if type(y) is float:
        _UNSELECTED.finite_y = y - y == 0.0          # finite (not inf, not NaN): project's NaN refusal
        if SITES_NOTED[0] and _UNSELECTED.sites:
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
        # (_floats_allowed's fast test, inline)
        if (_errstate(), _warnings.filters, _warnings.defaultaction) == _ALLOWED[0] or _floats_allowed():
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
    if x.__class__ is _ndarray and x.dtype is _F64 and x.ndim == 1 and len(x) == len(elements):
        out = _array(elements)          # floats (or numpy float64s): float64 without a dtype's cost
        if out.dtype is _F64:
            total = sum(elements, 0.0)  # NaN if an element is (or two infinities cancel); a float start: no int path
            if total == total or not (_UNSELECTED.sites or _UNSELECTED.finite_y):
                return out
            return project(out, x)      # (its NaN refusals: both refuse NaN entries only)
    return _elements_gradient(x, first, elements)


def _elements_gradient(x, first, elements):
    """scalar_elements_gradient's general case."""
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


def _guarded(math_fn, np_fn, errors=(ValueError, OverflowError)):
    """``np_fn`` of a real float64 scalar by ``math_fn``: only for the functions that IEEE 754 rounds
    exactly (``sqrt``), where ``math``'s value is numpy's bit for bit; numpy's where ``math`` raises."""
    def scalar(x):
        if type(x) is not float:
            return np_fn(x)       # a numpy float64: numpy's error state is to be honoured
        try:
            return math_fn(x)
        except errors:
            return np_fn(x)       # numpy's nan/inf (and its warning)
    scalar.__name__ = scalar.__qualname__ = "scalar_" + np_fn.__name__
    scalar.__module__ = __name__
    scalar.__doc__ = f"``np.{np_fn.__name__}`` of a real float64 scalar, by ``math.{math_fn.__name__}``."
    return scalar


def _by_numpy(np_fn, prefix="scalar_"):
    """``np_fn`` of a real float64 scalar, as a Python float: numpy's own value bit for bit (its
    transcendental functions are not libm's: on a CPU with AVX-512 numpy's exp, log, tanh, ... differ
    from ``math``'s by an ulp), with numpy's inf/nan and warning where ``math`` would raise."""
    def scalar(x):
        if type(x) is not float:
            return np_fn(x)       # a numpy float64: numpy's error state is to be honoured
        return float(np_fn(x))
    scalar.__name__ = scalar.__qualname__ = prefix + np_fn.__name__
    scalar.__module__ = __name__
    scalar.__doc__ = f"``np.{np_fn.__name__}`` of a real float64 scalar, as a Python float."
    return scalar


def _libm_is_numpys(math_fn, np_fn) -> bool:
    """Whether numpy's ``np_fn`` of float64 is libm's (``math_fn``) here, bit for bit: numpy calls libm
    for float64 sin and cos on most builds (so math's value is numpy's, and ~5x faster to call), but
    not on all (a SIMD loop of its own, as for exp and log on AVX-512).  A loop of its own rounds
    differently from libm on a share of the inputs (an ulp on 0.1%..25% of them for the functions
    above), which these 16384 arguments show; a length-1 (scalar) call runs either libm or that loop."""
    rng = np.random.default_rng(20251205)
    xs = np.concatenate([rng.uniform(-10.0, 10.0, 8192), rng.uniform(-1e4, 1e4, 4096),
                         rng.standard_normal(2048) * 1e-3, rng.uniform(-1.6, 1.6, 2048)])
    with np.errstate(all="ignore"):
        ys = np_fn(xs).tolist()
        scalars = [float(np_fn(_float64(x))) for x in xs[:512].tolist()]
    xs = xs.tolist()
    return all(math_fn(x) == y for x, y in zip(xs, ys)) and \
        all(math_fn(x) == y for x, y in zip(xs, scalars))


scalar_sin = _guarded(math.sin, np.sin) if _libm_is_numpys(math.sin, np.sin) else _by_numpy(np.sin)
scalar_cos = _guarded(math.cos, np.cos) if _libm_is_numpys(math.cos, np.cos) else _by_numpy(np.cos)
scalar_tan = _by_numpy(np.tan)
scalar_exp = _by_numpy(np.exp)
scalar_expm1 = _by_numpy(np.expm1)
scalar_log = _by_numpy(np.log)
scalar_log1p = _by_numpy(np.log1p)
scalar_log2 = _by_numpy(np.log2)
scalar_log10 = _by_numpy(np.log10)
scalar_sqrt = _guarded(math.sqrt, np.sqrt)      # correctly rounded by both
scalar_sinh = _by_numpy(np.sinh)
scalar_cosh = _by_numpy(np.cosh)
scalar_arcsin = _by_numpy(np.arcsin)
scalar_arccos = _by_numpy(np.arccos)


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


def scalar_power_to(x, a, b):
    """``a ** b`` where the exponent ``b`` may be (the float of) the argument ``x`` itself (``x`` is
    None where it is not): numpy computes ``1.7 ** x`` of a 0-d array by its power ufunc, whose value
    is not ``pow``'s everywhere (an ulp on an AVX-512 CPU), of a numpy float64 by ``pow``, so the
    array decides."""
    if type(x) is np.ndarray:
        r = a ** x
        return float(r) if type(b) is float else r
    return scalar_power(a, b)


def _exact(math_fn, np_fn):
    def scalar(x):
        return math_fn(x) if type(x) is float else np_fn(x)
    scalar.__name__ = scalar.__qualname__ = "math_" + np_fn.__name__
    scalar.__module__ = __name__
    return scalar


# The math functions that never raise for a float (numpy's for a numpy float64: see scalar_argument).
# tanh and arctan by numpy itself (math's differ by an ulp where numpy's are not libm's), fabs by math
# (exact); the names are kept.
EXPORTS = {"math_tanh": _by_numpy(np.tanh, "math_"), "math_arctan": _by_numpy(np.arctan, "math_"),
           "math_fabs": _exact(math.fabs, np.fabs)}

# numpy function name -> what specialised code calls instead (an ``rt`` attribute)
FUNCTIONS = {"sin": "scalar_sin", "cos": "scalar_cos", "tan": "scalar_tan", "exp": "scalar_exp",
             "expm1": "scalar_expm1", "log": "scalar_log", "log1p": "scalar_log1p",
             "log2": "scalar_log2", "log10": "scalar_log10", "sqrt": "scalar_sqrt",
             "sinh": "scalar_sinh", "cosh": "scalar_cosh", "arcsin": "scalar_arcsin",
             "arccos": "scalar_arccos", "tanh": "math_tanh", "arctan": "math_arctan"}
