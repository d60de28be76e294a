"""The dlarray type: a numpy array marked for differentiation at the dlfeval boundary.

Inside compiled code values are plain arrays; a dlarray only tells ``dlfeval``
which inputs are traced, and wraps what comes back.  Outside ``dlfeval`` it
behaves like the array it holds: operators and numpy functions compute values
and return dlarrays.
"""
from __future__ import annotations

import copy as _copy
import dataclasses
import types
import weakref
from typing import Any, List, Optional, Tuple

from .imported import np

_NUMBERS = (int, float, complex, np.number)      # (bool is an int)

from .labels import LABEL_KEEPING_ARGUMENT, LABEL_LOSING_OPS, LOST, LostLabels, align_data, formatted_data, matmul_message, reduced_format

_KEPT = (np.float32, np.float64, np.complex64, np.complex128, np.bool_)


def _as_data(data: Any) -> np.ndarray:
    if isinstance(data, dlarray):
        return data._data
    if isinstance(data, np.ma.MaskedArray) and np.ma.getmask(data) is not np.ma.nomask and \
            np.ma.getmaskarray(data).any():
        # (was: np.asarray kept the masked entries' data and dropped the mask, so np.sum(x ** 2) counted
        # what plain numpy leaves out, silently)
        from .errors import SctError
        raise SctError(
            "dlarray() is given a numpy masked array with masked entries: a dlarray holds a plain array, "
            "so the mask would be dropped and the masked entries' data counted, where numpy's masked "
            "operations leave them out. Pass the data without the mask, with the masked entries as you "
            "mean them (m.filled(0.0), or m.compressed() for the unmasked entries alone), or the mask as "
            "a second (plain) argument to use with np.where")
    arr = np.asarray(data)
    if arr.dtype.type not in _KEPT and arr.dtype.kind not in "fc":
        arr = arr.astype(np.float64)        # integers and others differentiate as float64
    return arr                              # every float and complex dtype is kept (float16 too)


def _unwrap(x):
    if type(x) is tuple:                     # the arguments themselves: no generator
        items = tuple(map(_unwrap, x))
        # (the same tuple where nothing in it changed: a caller's log list holding (step, loss) tuples was
        # copied, the function's appends lost, alog58)
        return x if all(a is b for a, b in zip(items, x)) else items
    if isinstance(x, dlarray):
        return x._data
    # a list or dict holding no dlarray is passed on as it is: a write into it (a log appended to, a
    # counter in a dict) is the caller's, as in Python; one holding dlarrays is a copy with their data
    if isinstance(x, (list, tuple)):
        items = [_unwrap(v) for v in x]
        if all(a is b for a, b in zip(items, x)):
            return x
        return type(x)(*items) if hasattr(type(x), "_fields") else \
            items if type(x) is list else rebuilt_like(x, items)
    if isinstance(x, dict):
        items = {k: _unwrap(v) for k, v in x.items()}
        if all(items[k] is v for k, v in x.items()):
            return x
        return items if type(x) is dict else rebuilt_like(x, items)
    return x


def rebuilt_like(x, items):
    """A container of ``x``'s own class holding ``items`` (a dict's ``{key: value}``, a list's or
    tuple's sequence): for a subclass of dict, list or tuple (a user's ``class Params(dict)``, an
    OrderedDict, a defaultdict with its factory) a shallow copy of ``x`` (its attributes kept) with
    its items replaced through the base class's methods (the subclass's own ``__init__`` and
    ``__setitem__`` are not run); a plain dict, list or tuple where that copy cannot be made.
    (Was: every subclass came back as a plain dict, list or tuple, the gradient of a ``Params``
    dict a ``dict``.)"""
    import copy
    cls = type(x)
    if isinstance(x, dict):
        if cls is dict:
            return dict(items)
        try:
            out = copy.copy(x)
            dict.clear(out)
            dict.update(out, items)
            return out
        except Exception:
            return dict(items)
    if isinstance(x, tuple):
        if hasattr(cls, "_fields"):
            return cls(*items)
        if cls is tuple:
            return tuple(items)
        try:
            out = tuple.__new__(cls, items)
            if hasattr(x, "__dict__"):
                out.__dict__.update(x.__dict__)
            return out
        except Exception:
            return tuple(items)
    if cls is list:
        return list(items)
    try:
        out = copy.copy(x)
        list.__setitem__(out, slice(None), items)
        return out
    except Exception:
        return list(items)


_new_dlarray = object.__new__

# Gradients with an object's structure that sct built (copies, by support.project): wrap_outputs
# gives their arrays back as dlarrays.
GRADIENT_OBJECTS: "weakref.WeakSet" = weakref.WeakSet()


def _wrap(x):
    if isinstance(x, np.ndarray) or isinstance(x, np.generic):
        return dlarray(x)
    return x


def _aligned(values):
    """``values`` with each formatted dlarray whose labels are those of the widest formatted one in another
    order transposed into that order (MATLAB permutes every formatted dlarray into one order, so such
    operands line up label by label); the common format.  A format that is the trailing part of the widest
    one broadcasts as numpy does, label by label (``X - X[0]`` of a 'CBT' X: 'CBT' and 'BT').  Different
    labels raise."""
    fmts = [v._fmt for v in values if isinstance(v, dlarray) and v._fmt]
    if not fmts:
        return values, ""
    fmt = max(fmts, key=len)
    out = None
    for i, v in enumerate(values):
        if isinstance(v, dlarray) and v._fmt and v._fmt != fmt and not (
                len(v._fmt) < len(fmt) and fmt.endswith(v._fmt)):
            if out is None:
                out = list(values)
            out[i] = align_data(v._data, v._fmt, fmt)
    return (values if out is None else type(values)(out)), fmt


def _elementwise_result(result, fmt: str, sources=()):
    """``result`` wrapped, labelled ``fmt`` when it has as many dimensions (an elementwise op); unformatted
    results made from formatted or lost ``sources`` are marked ``LOST`` (``_mark_lost``)."""
    out = _wrap_result(result)
    if fmt and isinstance(out, dlarray) and out._data.ndim == len(fmt):
        out._fmt = fmt
    elif fmt and isinstance(out, tuple) and all(isinstance(o, dlarray) and o._data.ndim == len(fmt) for o in out):
        for o in out:                       # np.divmod, np.modf, np.frexp: each output elementwise
            o._fmt = fmt
    elif sources:
        _mark_lost(out, sources)
    return out


def _fancy(idx) -> bool:
    """Whether ``idx`` indexes by an array, a list, None or ``...`` (not only slices and integers)."""
    return any(not isinstance(i, (slice, int, np.integer)) for i in (idx if isinstance(idx, tuple) else (idx,)))


def _has_labels(values, elementwise: bool = False) -> bool:
    """Whether any of ``values`` (lists and tuples searched) is a formatted dlarray or one marked LOST
    (only the latter with ``elementwise``: an elementwise op keeps a format)."""
    for v in values:
        if isinstance(v, dlarray) and (isinstance(v._fmt, LostLabels) or (v._fmt and not elementwise)):
            return True
        if isinstance(v, (list, tuple)) and _has_labels(v, elementwise):
            return True
    return False


def _mark_lost(out, sources, elementwise: bool = False):
    """``out`` (unformatted results, in tuples and lists too) marked ``LOST`` when made from a formatted or
    lost dlarray: a deep-learning function reading a layout then refuses it (``formats.layout_labels``)."""
    if not _has_labels(sources, elementwise):
        return out
    for o in (out if isinstance(out, (tuple, list)) else (out,)):
        if isinstance(o, dlarray) and not o._fmt and o._data.ndim:
            o._fmt = LOST
    return out


def indexed_format(fmt: str, idx) -> str:
    """The labels of ``x[idx]`` for ``x`` labelled ``fmt``: indexing by slices and integers only (no
    arrays, None or ...), each slice keeps its dimension's label and each integer drops its dimension
    (MATLAB's X(:,:,end) of a 'CBT' array keeps the labels of the dimensions it keeps); "" otherwise."""
    items = idx if isinstance(idx, tuple) else (idx,)
    if not fmt or len(items) > len(fmt):
        return ""
    out = []
    for c, i in zip(fmt, items):
        if isinstance(i, slice):
            out.append(c)
        elif not (isinstance(i, (int, np.integer)) and not isinstance(i, (bool, np.bool_)) or
                  isinstance(i, np.ndarray) and i.ndim == 0 and i.dtype.kind in "iu"):
            return ""                       # (numpy indexes by a 0-d integer array as by its int)
    return "".join(out) + fmt[len(items):]


_ELEMENTWISE_FUNCTIONS = (np.where, np.clip, np.real, np.imag)

# Functions and array methods whose result keeps the labels of their argument (MATLAB: sum(X, 1), mean,
# max, min, prod, var, std of a formatted dlarray keep its format, the reduced dimensions singletons; in
# numpy they stay with keepdims=True and go without it, the other dimensions keeping their labels; cat of
# arrays of one format along any dimension keeps it; casts and copies keep it).
KEEPDIMS_REDUCTIONS = (np.sum, np.mean, np.max, np.min, np.amax, np.amin, np.prod, np.var, np.std,
                       np.nansum, np.nanmean, np.nanmax, np.nanmin)
REDUCING_METHODS = ("sum", "mean", "max", "min", "prod", "var", "std")
_LABEL_KEEPING_METHODS = ("astype", "copy") + REDUCING_METHODS


def _same_format(items) -> str:
    """The one format of ``items`` (a sequence of arrays) when every one is a dlarray with it, else ""."""
    fmts = {x._fmt if isinstance(x, dlarray) else "" for x in items}
    return fmts.pop() if len(fmts) == 1 else ""


def _kept_format(func, args, kwargs) -> str:
    """The format of ``func(*args, **kwargs)`` (MATLAB's cat and reductions keep labels; ``reduced_format``)."""
    if func is np.concatenate and args and isinstance(args[0], (list, tuple)) and \
            kwargs.get("axis", args[1] if len(args) > 1 else 0) is not None:
        return _same_format(args[0])
    if func in (np.hstack, np.vstack) and args and isinstance(args[0], (list, tuple)):
        fmt = _same_format(args[0])         # MATLAB's [A, B] and [A; B]: (np.vstack of 1-D arrays stacks)
        return fmt if func is np.hstack or len(fmt) >= 2 else ""
    if any(func is f for f in KEEPDIMS_REDUCTIONS) and args and isinstance(args[0], dlarray) and args[0]._fmt \
            and len(args) <= 2:
        return reduced_format(args[0]._fmt, kwargs.get("axis", args[1] if len(args) > 1 else None),
                              kwargs.get("keepdims", False))
    if func is np.copy and args and isinstance(args[0], dlarray):
        return args[0]._fmt
    if func in _SAME_DIMS_FUNCTIONS:           # MATLAB's flip, circshift: the dimensions in the same order
        x = _same_dims_argument(func, args, kwargs)
        return x._fmt if isinstance(x, dlarray) and not isinstance(x._fmt, LostLabels) else ""
    return ""


# numpy's functions whose result has the dimensions of their array argument in the same order (the values
# moved along them): they keep its labels (labels.LABEL_KEEPING_OPS)
_SAME_DIMS_FUNCTIONS = (np.flip, np.fliplr, np.flipud, np.roll)


def _same_dims_argument(func, args, kwargs):
    """The array argument of one of ``_SAME_DIMS_FUNCTIONS`` (given by position or by name)."""
    return args[0] if args else kwargs.get(LABEL_KEEPING_ARGUMENT[func.__name__])


def _method_format(fmt: str, name: str, a, k) -> str:
    """The format of ``x.name(*a, **k)`` for ``x`` labelled ``fmt`` (one of ``_LABEL_KEEPING_METHODS``)."""
    if name in ("astype", "copy"):
        return fmt
    if len(a) > 1:
        return ""
    return reduced_format(fmt, k.get("axis", a[0] if a else None), k.get("keepdims", False))


def _refuse_formatted_product(what: str, operands) -> None:
    """``a @ b``, ``np.dot``, ``np.matmul`` with a formatted dlarray and an operand that is not a scalar:
    refused, as MATLAB's mtimes refuses it (``labels.matmul_message``)."""
    fmts = [v._fmt for v in operands if isinstance(v, dlarray) and v._fmt]
    if fmts and not any(np.ndim(v) == 0 for v in operands):
        raise ValueError(matmul_message(what, fmts[0]))


class dlarray(np.lib.mixins.NDArrayOperatorsMixin):
    """A deep-learning array: ``dlarray([-1.0, 2.0])``.

    Keeps float and complex data of every precision (float16 to float64 and
    wider) and bool data; any other data (integers) becomes float64, so
    gradients are never silently zero.

    >>> x = dlarray([-1, 2])
    >>> x.shape, x.dtype
    ((2,), dtype('float64'))
    """

    # _scalar: a 0-d dlarray made of numpy's scalar (an item, a reduction or an elementwise result of 0-d
    # operands: numpy gives np.float64 there, not an array; ``is_numpy_scalar``); unset where made otherwise
    __slots__ = ("_data", "_fmt", "_scalar")
    __array_priority__ = 20

    def __init__(self, data: Any, fmt: Optional[str] = None) -> None:
        self._data = _as_data(data)
        self._fmt = data._fmt if fmt is None and isinstance(data, dlarray) else ""
        if isinstance(data, np.generic) or isinstance(data, dlarray) and is_numpy_scalar(data):
            self._scalar = True
        if fmt is not None:                 # MATLAB: a formatted X gets fmt in place of its format
            self._data = formatted_data(self._data, fmt)
            self._fmt = fmt

    # --- array protocol ---------------------------------------------------------
    def __array__(self, dtype=None, copy=None):
        if dtype is None:
            return self._data
        return self._data.astype(dtype)

    def __array_ufunc__(self, ufunc, method, *inputs, **kwargs):
        if method == "__call__" and ufunc.signature is None:
            out = kwargs.get("out")
            if out is not None:             # t += v: aligned to t's labels, and labelled as t + v is
                out = out if isinstance(out, tuple) else (out,)
                inputs = _aligned(out[:1] + inputs)[0][1:]
            inputs, fmt = _aligned(inputs)
            out = _elementwise_result(ufunc(*_unwrap(inputs), **_unwrap(kwargs)), fmt)
            return out if fmt else _mark_lost(out, inputs, elementwise=True)
        if ufunc is np.matmul:
            _refuse_formatted_product("@", inputs)
        # np.add.reduce, np.add.accumulate, np.multiply.outer, ... of a formatted array: labels not kept,
        # marked LOST (was unformatted, read by the deep-learning functions in sct's default layout)
        return _mark_lost(_wrap_result(getattr(ufunc, method)(*_unwrap(inputs), **_unwrap(kwargs))),
                          tuple(inputs) + tuple(kwargs.values()))

    def __array_function__(self, func, types, args, kwargs):
        if func is np.dot or func is np.matmul:
            _refuse_formatted_product(f"np.{func.__name__}", args)
        if func in _ELEMENTWISE_FUNCTIONS:
            args, fmt = _aligned(args)
            out = _elementwise_result(func(*_unwrap(args), **_unwrap(kwargs)), fmt)
            return out if fmt else _mark_lost(out, args, elementwise=True)
        if func in _SAME_DIMS_FUNCTIONS:        # labels kept; a LOST argument gives a LOST result
            return _elementwise_result(func(*_unwrap(args), **_unwrap(kwargs)), _kept_format(func, args, kwargs),
                                       (_same_dims_argument(func, args, kwargs),))
        # any other function of a formatted (or lost) array gives an array whose labels are not known here
        # (np.cumsum, np.sort, np.round, np.pad, ...): marked LOST, so a deep-learning function refuses it
        # rather than read it in sct's default layout (was: unformatted, read as batch first, channels last)
        return _elementwise_result(func(*_unwrap(args), **_unwrap(kwargs)), _kept_format(func, args, kwargs),
                                   tuple(args) + tuple(kwargs.values()))

    # --- array-like attributes -------------------------------------------------------
    @property
    def data(self) -> np.ndarray:
        return self._data

    @property
    def shape(self) -> Tuple[int, ...]:
        return self._data.shape

    @property
    def ndim(self) -> int:
        return self._data.ndim

    @property
    def size(self) -> int:
        return self._data.size

    @property
    def dtype(self) -> np.dtype:
        return self._data.dtype

    @property
    def T(self) -> dlarray:
        return _mark_lost(dlarray(self._data.T), (self,))

    @property
    def real(self) -> dlarray:
        return _elementwise_result(self._data.real, self._fmt)      # MATLAB's real(X) keeps the format

    @property
    def imag(self) -> dlarray:
        return _elementwise_result(self._data.imag, self._fmt)

    # --- x ** p with a number p: numpy's operator, not np.power ------------------------------------
    # (ndarray's ** takes fast paths for the exponents 2, -1, 0.5 and 1 -- np.square, np.reciprocal,
    # np.sqrt -- that round differently from np.power for complex data: the mixin's np.power(x, 2)
    # gave dlarray(z) ** 2 another last bit than z ** 2, and than the same line under dlfeval)
    def __pow__(self, other):
        if not isinstance(other, _NUMBERS):
            return super().__pow__(other)
        inputs, fmt = _aligned((self, other))
        data, exponent = _unwrap(inputs)
        out = _elementwise_result(data ** exponent, fmt)
        return out if fmt else _mark_lost(out, inputs, elementwise=True)

    def __ipow__(self, other):
        if not isinstance(other, _NUMBERS):
            return super().__ipow__(other)
        data = self._data
        data **= other                      # in place, as ndarray's (the same fast paths)
        return self

    def __len__(self) -> int:
        return len(self._data)

    def __getitem__(self, idx):
        out = dlarray(self._data[_unwrap(idx)])
        fmt = indexed_format(self._fmt, idx)
        if fmt and out._data.ndim == len(fmt):
            out._fmt = fmt
        if out._fmt or not (isinstance(self._fmt, LostLabels) or (self._fmt and _fancy(idx))):
            return out
        return _mark_lost(out, (self,))

    def finddim(self, label: str) -> List[int]:
        """The (0-based) axes labelled ``label`` (MATLAB's ``finddim``; [] when unformatted)."""
        return [i for i, c in enumerate(self._fmt) if c == label]

    def __setitem__(self, idx, value):
        self._data[_unwrap(idx)] = _unwrap(value)

    def __iter__(self):
        if self._fmt or isinstance(self._fmt, LostLabels):   # X[i] for each i: a "TCB" array's items are "CB"
            return (self[i] for i in range(len(self._data)))   # (were unformatted rows: softmax read them as "BC")
        return (dlarray(row) for row in self._data)

    def __float__(self) -> float:
        return float(self._data.item()) if self._data.size == 1 else float(self._data)

    def __int__(self) -> int:
        # int(np.argmax(scores)) on a network's output, as numpy's int() of a one-element array
        return int(self._data.item()) if self._data.size == 1 else int(self._data)

    def __complex__(self) -> complex:
        return complex(self._data.item()) if self._data.size == 1 else complex(self._data)

    def __bool__(self) -> bool:
        return bool(self._data)

    def __round__(self, ndigits=None):
        # round() of an item (dc.a[0] is numpy's scalar in numpy, whose round() gives an int, or a float
        # with ndigits; was a TypeError); numpy's arrays have no round(), and neither has an array here
        if self._data.ndim:
            raise TypeError(f"type {type(self).__name__} doesn't define __round__ method for an array of "
                            f"shape {self._data.shape}; use np.round(x, decimals)")
        item = self._data[()]
        return _wrap_result(round(item) if ndigits is None else round(item, ndigits))

    def __getattr__(self, name):
        # Array methods (sum, reshape, mean, ...) compute on the data and wrap.
        if not self._fmt and not name.startswith("__") and is_numpy_scalar(self):
            # numpy's scalar (a loss dlfeval returned): its own methods, whose results numpy gives as scalars
            # too (loss.copy(), loss.astype(np.float32), loss.reshape(()): were 0-d arrays, so a later call's
            # type test of them, set as a field, answered isinstance(v, np.ndarray) where Python's is False)
            attr = getattr(self._data[()], name)
            if callable(attr):
                return lambda *a, **k: _wrap_result(attr(*_unwrap(a), **_unwrap(k)))
            return attr
        try:
            attr = getattr(self._data, name)
        except AttributeError:
            if self._data.ndim or name.startswith("__"):
                raise
            # an item's own methods (numpy's scalar's: (dc.a[0] * 4).is_integer(), .as_integer_ratio()),
            # which give Python's values
            return getattr(self._data[()], name)
        if callable(attr):
            if name == "dot" and self._fmt:
                return lambda b, *a, **k: (_refuse_formatted_product(".dot", (self, b)),
                                           _wrap_result(attr(*_unwrap((b,) + a), **_unwrap(k))))[1]
            if name in _LABEL_KEEPING_METHODS and self._fmt:
                fmt = self._fmt
                return lambda *a, **k: _elementwise_result(attr(*_unwrap(a), **_unwrap(k)),
                                                           _method_format(fmt, name, a, k), (self,))
            if isinstance(self._fmt, LostLabels) and name in ("astype", "copy", "conj", "conjugate"):
                return lambda *a, **k: _mark_lost(_wrap_result(attr(*_unwrap(a), **_unwrap(k))), (self,), True)
            if name in LABEL_LOSING_OPS or self._fmt:
                # (X.clip, X.round, X.cumsum, X.conj, ... of a formatted X: the labels are not kept, so marked
                # LOST as the functions' results are: was unformatted, read in sct's default layout)
                return lambda *a, **k: _mark_lost(_wrap_result(attr(*_unwrap(a), **_unwrap(k))), (self,))
            return lambda *a, **k: _wrap_result(attr(*_unwrap(a), **_unwrap(k)))
        return attr

    def __reduce__(self):
        return (dlarray, (self._data[()] if is_numpy_scalar(self) else self._data, self._fmt or None))

    def __deepcopy__(self, memo):
        # copy.deepcopy asks the object for __deepcopy__, which __getattr__ found on the ndarray: the copy came
        # back without the labels (copy.copy, which asks the class, kept them); both keep them now, as MATLAB's
        out = dlarray.__new__(dlarray)
        memo[id(self)] = out
        out._data = _copy.deepcopy(self._data, memo)
        out._fmt = self._fmt
        if is_numpy_scalar(self):
            out._scalar = True
        return out

    # --- display ----------------------------------------------------------------------
    def _size_text(self) -> str:
        shape = self._data.shape
        if self._fmt:
            return " x ".join(f"{n}({c})" for n, c in zip(shape, self._fmt))
        if len(shape) == 0:
            shape = (1, 1)
        elif len(shape) == 1:
            shape = (1, shape[0])
        return "x".join(str(n) for n in shape)

    def _class_text(self) -> str:
        """MATLAB's class in the display: none for double (real or complex: ``1x1 dlarray``, as
        MATLAB prints it), else ``single``, ``half``, ``logical``."""
        kind = {"float64": "", "float32": "single", "float16": "half", "complex128": "",
                "complex64": "single", "bool": "logical"}
        return kind.get(self._data.dtype.name, self._data.dtype.name)

    def _head(self) -> str:
        return " ".join(p for p in (self._size_text(), self._class_text(), "dlarray") if p)

    def _values_text(self, sep: str = "   ") -> str:
        """The values laid out as MATLAB prints them: rows, right-aligned, 4 decimals."""
        data = self._data
        if data.ndim > 2 or data.size > 400:
            return np.array2string(data, prefix="    ")
        rows = np.atleast_2d(data)
        real = np.concatenate([np.ravel(rows.real), np.ravel(rows.imag)]) if rows.dtype.kind == "c" \
            else np.ravel(rows).astype(float)
        finite = real[np.isfinite(real)]
        whole = rows.dtype.kind in "bf" and finite.size == real.size and np.all(finite == np.round(finite)) \
            and np.all(np.abs(finite) < 1e15)
        big = finite.size and (np.max(np.abs(finite)) >= 1e5 or
                               np.min(np.abs(finite[finite != 0]), initial=1.0) < 1e-3)

        def number(v) -> str:
            if whole:
                return str(int(v))
            return f"{v:.4e}" if big else f"{v:.4f}"

        def cell(v) -> str:
            if rows.dtype.kind == "c":
                sign = "-" if v.imag < 0 else "+"
                return f"{number(v.real)} {sign} {number(abs(v.imag))}i"
            return number(v)
        cells = [[cell(v) for v in row] for row in rows]
        width = max((len(c) for row in cells for c in row), default=0)
        return "\n    ".join(sep.join(c.rjust(width) for c in row) for row in cells)

    def _cells(self):
        """The values as rows of right-alignable strings (None for large or >2-d arrays)."""
        data = self._data
        if data.ndim > 2 or data.size > 400:
            return None
        return [line.split("\t") for line in self._values_text(sep="\t").split("\n    ")]

    def __repr__(self) -> str:
        # One line for scalars and short vectors, so a tuple of results reads compactly.
        if self._data.ndim <= 1 and self._data.size <= 10:
            values = "  ".join(c for row in self._cells() for c in row)
            return f"{self._head()}  {values}"
        return self.__str__()

    def __str__(self) -> str:
        return f"  {self._head()}\n\n    {self._values_text()}\n"

    def __format__(self, spec: str) -> str:
        """``f"{loss:.4f}"`` formats a one-element dlarray as its number; arrays format each value."""
        if not spec:
            return str(self)
        if self._data.size == 1:
            return format(self._data.item(), spec)
        return np.array2string(self._data, formatter={"all": lambda v: format(v, spec)})

    def _repr_html_(self) -> str:
        import html
        head = f"<b>{self._head()}</b>"
        rows = self._cells()
        if rows is None:
            return f"<div>{head}<pre>{html.escape(self._values_text())}</pre></div>"
        cell = '<td style="text-align:right;font-family:monospace;padding:0 0.8em">{}</td>'
        body = "".join("<tr>" + "".join(cell.format(html.escape(c.strip())) for c in row) + "</tr>"
                       for row in rows)
        return f'<div>{head}<table style="border-collapse:collapse">{body}</table></div>'


_SCALAR_SLOT = dlarray._scalar


def _rebinding(name: str):
    """``dlarray.__i<name>__``: in place, as ndarray's, except for a dlarray that stands for numpy's scalar
    (``is_numpy_scalar``: ``loss = np.sum(x * x)``, ``s = x[0]``), which is immutable as ``np.float64`` is:
    ``t += v`` binds ``t`` to ``t + v`` and leaves the object ``t`` held (and any other name holding it,
    ``l0 = loss; loss += r``) as it was (was: its 0-d data changed in place, so plain Python's ``l0``
    changed where numpy's, and sct's under dlfeval, does not)."""
    in_place = getattr(dlarray, f"__i{name}__")
    binary = getattr(dlarray, f"__{name}__")

    def method(self, other):
        if is_numpy_scalar(self):
            return binary(self, other)
        return in_place(self, other)
    method.__name__ = method.__qualname__ = f"__i{name}__"
    return method


for _name in ("add", "sub", "mul", "matmul", "truediv", "floordiv", "mod", "pow", "lshift", "rshift",
              "and", "xor", "or"):
    setattr(dlarray, f"__i{_name}__", _rebinding(_name))


def is_numpy_scalar(value) -> bool:
    """Whether the 0-d dlarray ``value`` stands for numpy's scalar (``np.float64``: an item of an array, a
    reduction, an elementwise result of 0-d operands, which numpy gives as a scalar) rather than a 0-d
    array (``np.array(0.5)``: what ``dlarray(0.5)`` holds, a field of the user's object).  A type test or
    text of a value in code sct transforms answers as that (support.numpy_view); False for anything else."""
    if not isinstance(value, dlarray) or value._data.ndim:
        return False
    try:
        return _SCALAR_SLOT.__get__(value)
    except AttributeError:
        return False


def _wrap_result(result):
    """A numpy function's or method's result on dlarrays, wrapped: float, complex and bool arrays become
    dlarrays; integer arrays (positions and counts: np.argsort, np.nonzero, np.where(cond), x.astype(int),
    np.unique's indices) stay numpy's, as no derivative flows through them and they index as in numpy
    (were dlarrays of float64, which no array accepts as an index)."""
    if isinstance(result, tuple):
        return tuple(_wrap_result(r) for r in result)
    if isinstance(result, list):
        return [_wrap_result(r) for r in result]
    if isinstance(result, (np.ndarray, np.generic)) and result.dtype.kind in "iu":
        return result
    return _wrap(result)


def extractdata(x: Any) -> np.ndarray:
    """The plain ``np.ndarray`` inside a dlarray (or ``x`` itself as an array).

    >>> extractdata(dlarray([1.0, 2.0]))
    array([1., 2.])
    """
    if isinstance(x, dlarray):
        return x._data
    return np.asarray(x)


def unwrap(x):
    """Replace every dlarray inside (nested) containers by its data."""
    return _unwrap(x)


_ND = np.ndarray


def _wrap_tuple(x):
    """``wrap_outputs`` of a tuple (the top level), its arrays and numpy scalars wrapped here,
    other parts by ``wrap_outputs`` with the arrays seen so far."""
    seen: dict = {}
    out = []
    for v in x:
        cls = type(v)
        if cls is _ND and v.dtype.type in _KEPT:
            if not v.flags.writeable or id(v) in seen:   # a broadcast view, or met before: a copy
                v = v.copy()
            seen[id(v)] = v
            d = _new_dlarray(dlarray)
            d._data = v
            d._fmt = ""
            out.append(d)
        elif cls in _KEPT:
            d = _new_dlarray(dlarray)
            d._data = np.asarray(v)
            d._fmt = ""
            d._scalar = True                # (numpy's scalar: is_numpy_scalar)
            out.append(d)
        else:
            out.append(wrap_outputs(v, seen))
    return tuple(out)


def make_wrapper(example, limit: int = 8):
    """A function ``wrap(out)`` equal to ``wrap_outputs(out)``, written for outputs laid out as
    ``example``: a tuple of arrays and numpy scalars of sct's dtypes and of dicts of such arrays
    (what generated code returns for ``return y, dlgradient(y, x)`` or ``dlgradient(y, params)``),
    each checked by exact type and dtype, a repeated or read-only array copied as ``wrap_outputs``
    copies it; any other output goes to ``wrap_outputs``.  ``wrap_outputs`` itself where
    ``example`` is laid out otherwise or holds more than ``limit`` arrays at the top level."""
    parts = wrapper_lines(example, limit)
    if parts is None:
        return wrap_outputs
    lines, consts = parts
    text = "def wrap(o):\n" + "\n".join(lines) + "\n"
    exec(compile(text, "<sct-output-wrapper>", "exec"), consts)
    wrap = consts["wrap"]
    wrap.source = text
    return wrap


def wrapper_lines(example, limit: int = 8):
    """The body of ``make_wrapper``'s function (lines reading the outputs as ``o``, each return
    giving the wrapped outputs) and its constants; None where ``make_wrapper`` gives
    ``wrap_outputs`` itself.  The lines assign every variable they read (``v0``..., ``w0``...,
    ``seen``, ``k``, ``a``, ``w``) before reading it, so they can follow other lines."""
    if type(example) is not tuple or not example:
        return None
    consts = {"GENERIC": wrap_outputs, "NEW": _new_dlarray, "DL": dlarray, "ND": _ND, "ASARRAY": np.asarray,
              "KEPT": _KEPT}
    lines = ["    if type(o) is not tuple: return GENERIC(o)",
             "    try:",                 # a tuple of another length raises ValueError
             "        " + "".join(f"v{i}, " for i in range(len(example))) + "= o",
             "    except ValueError:",
             "        return GENERIC(o)"]
    dicts = any(type(v) is dict for v in example)
    if dicts:                   # the arrays met so far by id, as wrap_outputs keeps them
        lines.append("    seen = {}")
    arrays = []
    for i, v in enumerate(example):
        cls = type(v)
        if cls is _ND and v.dtype.type in _KEPT:
            consts[f"T{i}"] = v.dtype
            lines.append(f"    if type(v{i}) is not ND or v{i}.dtype is not T{i}: return GENERIC(o)")
            if dicts:
                lines.append(f"    if not v{i}.flags.writeable or id(v{i}) in seen: v{i} = v{i}.copy()")
                lines.append(f"    seen[id(v{i})] = v{i}")
            else:
                same = "".join(f" or v{i} is v{j}" for j in arrays)
                lines.append(f"    if not v{i}.flags.writeable{same}: v{i} = v{i}.copy()")
            arrays.append(i)
            lines.append(f"    w{i} = NEW(DL); w{i}._data = v{i}; w{i}._fmt = ''")
        elif cls in _KEPT or cls is float:      # a numpy scalar, or a Python float (a 0-d float64 array,
            consts[f"T{i}"] = cls              # as wrap_outputs gives it): an array of its own
            lines.append(f"    if type(v{i}) is not T{i}: return GENERIC(o)")
            lines.append(f"    w{i} = NEW(DL); w{i}._data = ASARRAY(v{i}); w{i}._fmt = ''; w{i}._scalar = True")
        elif cls is dict and all(type(a) is _ND and a.dtype.type in _KEPT for a in v.values()):
            lines += [f"    if type(v{i}) is not dict: return GENERIC(o)",
                      f"    w{i} = {{}}",
                      f"    for k, a in v{i}.items():",
                      "        if type(a) is not ND or a.dtype.type not in KEPT: return GENERIC(o)",
                      "        if not a.flags.writeable or id(a) in seen: a = a.copy()",
                      "        seen[id(a)] = a",
                      f"        w = NEW(DL); w._data = a; w._fmt = ''; w{i}[k] = w"]
        else:
            return None
    if len(arrays) > limit:
        return None
    lines.append("    return (" + "".join(f"w{i}, " for i in range(len(example))) + ")")
    return lines, consts


_TABLE_CLASS = [None]       # runtime.table.Table, set by that module (not imported here: no import circle)


def wrap_outputs(x, _seen=None):
    """Wrap every array inside (nested) containers as a dlarray (the dlfeval boundary).

    Python floats and complex numbers (from ``math`` functions, say) come back as
    0-d dlarrays too; ints, bools and strings stay as they are, and so do integer numpy arrays
    and scalars (numpy's dtype and values, as plain Python returns them).  Two results never share
    one array (the gradients of ``x + y`` are computed as one object): a repeated array is
    copied, so changing one result in place cannot change another, as with MATLAB's values;
    a read-only view (the gradient of a sum is a broadcast) comes back as an array of its own."""
    cls = type(x)
    if cls is tuple and _seen is None:                  # what generated code returns: (value, grads...)
        return _wrap_tuple(x)
    if cls is np.ndarray and x.dtype.type in _KEPT:     # what _as_data keeps as it is
        if not x.flags.writeable:          # a broadcast view (the gradient of a sum): a real array
            x = x.copy()
        if _seen is not None:
            if id(x) in _seen:
                x = x.copy()
            else:
                _seen[id(x)] = x
        out = _new_dlarray(dlarray)
        out._data = x
        out._fmt = ""
        return out
    if _seen is None:
        _seen = {}
    if cls is tuple:
        return tuple([wrap_outputs(v, _seen) for v in x])
    if cls in _KEPT:                                    # a numpy scalar: a 0-d array, as _as_data
        out = _new_dlarray(dlarray)
        out._data = np.asarray(x)
        out._fmt = ""
        out._scalar = True                              # (which numpy made a scalar: is_numpy_scalar)
        return out
    if isinstance(x, (np.ndarray, np.generic)) and x.dtype.kind in "iu":
        # an integer array or numpy integer (np.argmax's index, labels, counts): numpy's, as plain
        # Python returns it and as _wrap_result leaves it outside dlfeval (was: a dlarray of float64,
        # which no array accepts as an index and which rounds integers beyond 2**53)
        if isinstance(x, np.ndarray):
            if not x.flags.writeable:
                x = x.copy()
            if _seen is None:
                _seen = {}
            if id(x) in _seen:
                x = x.copy()
            else:
                _seen[id(x)] = x
        return x
    if isinstance(x, (np.ndarray, np.generic)) and x.dtype.kind in "USV":
        return x                # text (onehotdecode's labels) or records: no dlarray holds them (was: "could
        #                         not convert string to float" raised inside sct)
    if isinstance(x, np.ndarray) and x.dtype.kind == "O":
        try:
            return dlarray(x)
        except (TypeError, ValueError):
            return x            # objects that are not numbers (text labels): as they are
    if isinstance(x, (np.ndarray, np.generic)) or type(x) in (float, complex):
        out = dlarray(x)
        if type(x) in (float, complex):
            out._scalar = True          # (Python's number: a type test in a later call answers as a scalar)
        return out
    if isinstance(x, list):
        if cls is not list:             # a subclass of list: its own class (rebuilt_like)
            return rebuilt_like(x, [wrap_outputs(v, _seen) for v in x])
        return [wrap_outputs(v, _seen) for v in x]
    if isinstance(x, tuple):
        if hasattr(type(x), "_fields"):
            return type(x)(*[wrap_outputs(v, _seen) for v in x])
        if cls is not tuple:
            return rebuilt_like(x, [wrap_outputs(v, _seen) for v in x])
        return tuple(wrap_outputs(v, _seen) for v in x)
    if isinstance(x, dict):
        if cls is not dict:
            return rebuilt_like(x, {k: wrap_outputs(v, _seen) for k, v in x.items()})
        return {k: wrap_outputs(v, _seen) for k, v in x.items()}
    if cls is _TABLE_CLASS[0] and type(x.Value) is list and type(x.Layer) is tuple and type(x.Parameter) is tuple and \
            all([type(s) is str for s in x.Layer + x.Parameter]):
        # a table of parameters (the gradients of net.Learnables): what the dataclass walk below does,
        # its Layer and Parameter columns (strings) kept as they are
        import copy
        out = copy.copy(x)
        object.__setattr__(out, "Layer", tuple(x.Layer))
        object.__setattr__(out, "Parameter", tuple(x.Parameter))
        object.__setattr__(out, "Value", [wrap_outputs(v, _seen) for v in x.Value])
        return out
    if dataclasses.is_dataclass(x) and not isinstance(x, type):
        # a shallow copy with its fields wrapped (dataclasses.replace would run __post_init__ again
        # on values it already ran on, and skip field(init=False) fields)
        import copy
        out = copy.copy(x)
        names = set()
        for f in dataclasses.fields(x):
            names.add(f.name)
            if hasattr(x, f.name):
                object.__setattr__(out, f.name, wrap_outputs(getattr(x, f.name), _seen))
        own = getattr(x, "__dict__", None)         # its attributes that are not fields: their arrays
        for k, v in (list(own.items()) if type(own) is dict else ()):
            if k not in names and not k.startswith("__") and type(v) in (_ND, list, tuple, dict):
                new = wrap_outputs(v, _seen)
                if new is not v:
                    object.__setattr__(out, k, new)
        return out
    if type(x) is types.SimpleNamespace:
        # (no weak references to it: not in GRADIENT_OBJECTS) a new namespace with its arrays as
        # dlarrays, as a dict's (was: a gradient of a SimpleNamespace held plain arrays)
        fields = {k: wrap_outputs(v, _seen) for k, v in vars(x).items()}
        if all(fields[k] is v for k, v in vars(x).items()):
            return x
        return types.SimpleNamespace(**fields)
    if hasattr(x, "__dict__") and not isinstance(x, type):
        try:
            mine = x in GRADIENT_OBJECTS
        except TypeError:
            mine = False
        if mine:             # a gradient sct built (a copy): its arrays come back as dlarrays
            fields = vars(x)
            for k, v in list(fields.items()):
                new = wrap_outputs(v, _seen)
                if new is not v:
                    fields[k] = new
    return x
