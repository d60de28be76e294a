"""Functions the generated adjoint code calls (``rt.<name>`` in printed source).

Each is an op with its own rule (registered at the bottom of this file), so
generated code that calls them can be differentiated again.  New arrays are
made with ``np.*_like`` from an existing array where one is at hand, so they
follow that array's module (CuPy dispatches these through ``__array_function__``).
"""
from __future__ import annotations

import copy
import dataclasses
import functools
import itertools
import keyword
from .imported import math
import numbers
import operator
import sys
import threading
import enum
import types
import weakref
import collections
from typing import Any, NamedTuple

from .imported import np

from .registry import NONDIFF_ATTRIBUTES, alias, defrule, nondifferentiable
from .origins import call_name, library_code, module_name, module_top, name_top

ZERO = 0.0   # the adjoint of a value no contribution has reached yet


class _PartialUnset:
    """The default of a frozen keyword of a partial made in differentiated code (sct/partials.py):
    the call did not name it, so the frozen value is used."""
    __slots__ = ()

    def __repr__(self):
        return "<the partial's frozen value>"


PARTIAL_UNSET = _PartialUnset()

_LostAttributeAdjoint = [None]    # runtime/layers.py's class (set there: it imports this module)


from .errors import EvaluationError, SctError

SctRuntimeError = SctError      # the run-time errors raised from generated code are SctErrors


def _has_attribute(x, name: str) -> bool:
    """``hasattr(x, name)`` for an object of the user's, whose ``__getattr__`` may raise another error
    than AttributeError for a missing name (``return self._params[name]``: a KeyError): False then."""
    try:
        return hasattr(x, name)
    except Exception:
        return False


def _is_array(x) -> bool:
    # (not a class: numpy's scalar types have ``shape`` and ``dtype`` descriptors, so an object's
    # ``self.dtype = np.float32`` field was read as an array, an internal TypeError in its gradient)
    if isinstance(x, (np.ndarray, np.generic)):
        return True
    try:
        return hasattr(x, "shape") and hasattr(x, "dtype") and not isinstance(x, type)
    except Exception:
        # an object whose __getattr__ raises another error for a missing name (``class AttrDict(dict):
        # __getattr__ = dict.__getitem__`` raises KeyError: was sct's internal KeyError 'shape' at the
        # user's dlgradient line): not an array
        return False


def _is_zero(g) -> bool:
    return g is None or (type(g) is float and g == 0.0)


# --- broadcasting ------------------------------------------------------------

def unbroadcast(grad, like):
    """Sum ``grad`` down to the shape of ``like`` (the adjoint of broadcasting)."""
    gshape = getattr(grad, "shape", None)
    lshape = getattr(like, "shape", None)
    if gshape is not None and gshape == lshape:
        return grad                    # the common case, first and cheap
    if type(grad) is np.ndarray:
        plan = _UNBROADCAST_PLANS.get((gshape, lshape))
        if plan is not None:           # the sums below for shapes seen before, without working them out
            lead, axes = plan
            if lead:
                grad = _lead_total(grad, lead)
            if axes:
                grad = _add_reduce(grad, axes, None, None, True)
            return grad
    if _is_zero(grad):
        return grad
    if isinstance(grad, (list, tuple, dict)) and not isinstance(like, (np.ndarray, np.generic, numbers.Number)):
        return grad    # the adjoint of a list, tuple or closure stored whole (``d["k"] = [w, c]``,
        #                ``d["f"] = lambda t: t * w + c``): nothing was broadcast (np.shape of items of
        #                different shapes raised numpy's ValueError)
    shape = np.shape(like)
    gshape = np.shape(grad)
    if gshape == shape:
        if isinstance(grad, (list, tuple)) and type(like) is np.ndarray:
            return _listed_as_array(grad, like)
        return grad
    extra = len(gshape) - len(shape)
    if extra < 0 or any(g != n and n != 1 for g, n in zip(gshape[extra:], shape)):
        return _fit_zero_or_broadcast(grad, shape)
    ndarray = type(grad) is np.ndarray
    lead = tuple(range(extra))
    if extra > 0:
        grad = _lead_total(grad, lead) if ndarray else np.sum(grad, axis=lead)
    axes = tuple(i for i, n in enumerate(shape) if n == 1 and np.shape(grad)[i] != 1)
    if axes:
        grad = np.sum(grad, axis=axes, keepdims=True)
    if ndarray and type(lshape) is tuple and lshape == shape:
        if len(_UNBROADCAST_PLANS) > 1024:
            _UNBROADCAST_PLANS.clear()
        _UNBROADCAST_PLANS[(gshape, lshape)] = (lead, axes)
    return grad


# (grad's shape, like's shape) -> (leading axes summed away, axes summed keeping them) of unbroadcast,
# for an ndarray grad: np.sum of an ndarray is np.add.reduce with the same axes (the same numbers)
_UNBROADCAST_PLANS: dict = {}
_add_reduce = np.add.reduce
_ROW_TOTAL_DTYPES = (np.dtype(np.float32), np.dtype(np.float64))


def _lead_total(grad, lead):
    """``np.add.reduce(grad, lead)`` for the leading axes ``lead`` of an ndarray.  A C-contiguous
    float32/float64 array summed down to a short trailing part (a bias's adjoint: many rows of a few
    entries, where numpy's reduction runs one short inner loop per row) is one matrix-vector product
    with a vector of ones instead (several times faster; the same sum up to rounding)."""
    if grad.dtype in _ROW_TOTAL_DTYPES and grad.flags.c_contiguous and grad.ndim > len(lead):
        rows = 1
        for n in grad.shape[:len(lead)]:
            rows *= n
        if rows >= 64 and 0 < grad.size // rows <= 256:
            return (np.ones(rows, grad.dtype) @ grad.reshape(rows, -1)).reshape(grad.shape[len(lead):])
    return _add_reduce(grad, lead)


def _listed_as_array(grad, like):
    """The adjoint of the array ``like`` given as a list of its items' adjoints (a list's items
    written from an array, ``xs[1:3] = 2 * a[1:3]``): an array like ``like`` (was: the list, which
    the next rule multiplied as a list, ``d * 2`` repeating it)."""
    dtype = like.dtype if like.dtype.kind in "fc" else np.float64
    out = np.zeros(like.shape, dtype)
    for k, item in enumerate(grad):
        if not _is_zero(item):
            out[k] = item
    return out


def unbroadcast_product(a, b, like):
    """``unbroadcast(a * b, like)`` as one contraction where the product would be summed over
    broadcast axes (a slice times a kernel weight, summed to the weight's shape): no
    temporary of the product's full shape.  Other cases: the product and unbroadcast."""
    if type(a) is np.ndarray and type(b) is np.ndarray and a.shape == b.shape and \
            type(like) is np.ndarray and like.shape == a.shape:
        return a * b                    # nothing to sum (unbroadcast would return the product)
    if type(a) is np.ndarray and type(b) is np.ndarray and a.dtype == b.dtype and \
            a.dtype.kind in "fc" and a.ndim == b.ndim and a.ndim <= 26:
        shape = np.shape(like)
        key = (a.shape, b.shape, shape)
        spec = _CONTRACTIONS.get(key)
        if spec is None:
            spec = _contraction(a.shape, b.shape, shape)
            if len(_CONTRACTIONS) > 512:
                _CONTRACTIONS.clear()
            _CONTRACTIONS[key] = spec
        if spec:
            result = _einsum_pair(spec, a, b)
            return np.reshape(result, shape) if shape else result[()]
    return unbroadcast(a * b, like)


_CONTRACTIONS: dict = {}     # (a's shape, b's shape, like's shape) -> einsum spec, or "" (none)


def _contraction(ashape, bshape, shape) -> str:
    """The einsum spec of ``unbroadcast(a * b, like)`` for these shapes ("" where the product is
    not summed over broadcast axes)."""
    try:
        full = np.broadcast_shapes(ashape, bshape)
    except ValueError:
        return ""
    if len(shape) > len(full) or full == shape:
        return ""
    extra = len(full) - len(shape)
    target = (1,) * extra + tuple(shape)
    if not all(t == n or t == 1 for t, n in zip(target, full)):
        return ""
    letters = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
    la, lb, out = [], [], []
    for k, (n, t) in enumerate(zip(full, target)):
        shared, own = letters[k], letters[26 + k]
        # an axis of size 1 in one operand only: its own letter (a sum over one item)
        la.append(shared if ashape[k] == n else own)
        lb.append(shared if bshape[k] == n else own)
        if t == n and n != 1:
            out.append(shared)
    return "".join(la) + "," + "".join(lb) + "->" + "".join(out)


try:                    # numpy's own steps of np.einsum(spec, a, b, optimize=True), numpy >= 2.3
    from numpy._core.einsumfunc import bmm_einsum as _bmm_einsum, einsum_path as _einsum_path
except ImportError:     # pragma: no cover - older numpy: np.einsum each time
    _bmm_einsum = _einsum_path = None
_EINSUM_PLANS: dict = {}


def _einsum_pair(spec, a, b):
    """``np.einsum(spec, a, b, optimize=True)``: the same steps (the contraction numpy's path search
    picks for these shapes, then its pairwise product), with the path searched once per spec and
    shapes instead of on every call (it cost about as much as the product on a CNN's taps)."""
    if _bmm_einsum is None:
        return np.einsum(spec, a, b, optimize=True)
    key = (spec, a.shape, b.shape)
    plan = _EINSUM_PLANS.get(key)
    if plan is None:
        _, contractions = _einsum_path(spec, a, b, optimize=True, einsum_call=True)
        plan = contractions[0][:2] if len(contractions) == 1 and len(contractions[0][0]) == 2 else False
        if len(_EINSUM_PLANS) > 512:
            _EINSUM_PLANS.clear()
        _EINSUM_PLANS[key] = plan
    if plan is False:
        return np.einsum(spec, a, b, optimize=True)
    (i, j), eq = plan
    operands = [a, b]
    first = operands.pop(i)             # as np.einsum takes them: one after the other
    return _bmm_einsum(eq, first, operands.pop(j))


def _fit_zero_or_broadcast(grad, shape):
    # An adjoint computed from a zero adjoint can have a partial shape (0.0 * b has
    # b's shape); it is zero, so zeros of the right shape are its exact value.
    if not np.any(grad):
        return np.zeros(shape, dtype=np.result_type(grad))
    return np.broadcast_to(grad, shape)


def promoted_like(value, like):
    """``value`` in numpy's promotion of its dtype with ``like``'s, both floating or complex: the
    tangent of ``x32 + np.ones(4)`` is float64 as its value is (was float32, the constant's dtype
    lost); never a narrower dtype."""
    vdtype = getattr(value, "dtype", None)
    ldtype = getattr(like, "dtype", None)
    if vdtype is None or ldtype is None or vdtype == ldtype or vdtype.kind not in "fc" or ldtype.kind not in "fc":
        return value
    if vdtype.kind == "f" and ldtype.kind == "c":
        ldtype = np.finfo(ldtype).dtype         # the precision only: a real value stays real
    wide = np.promote_types(vdtype, ldtype)
    return value if wide == vdtype else value.astype(wide)


def _items_array(value):
    """A list or tuple of numbers and arrays (a list operand's tangent, with zero markers for its
    constant items) as one array."""
    if isinstance(value, (list, tuple)):
        return np.asarray([0.0 if _is_zero(v) else _items_array(v) for v in value])
    return value


def broadcast_like(value, like):
    """Broadcast ``value`` to the shape of ``like`` (the adjoint of unbroadcast)."""
    if _is_zero(value):
        return value
    if isinstance(value, (list, tuple, dict)) and not isinstance(like, (np.ndarray, np.generic, numbers.Number)):
        return value    # a list, tuple or record stored whole (as unbroadcast leaves it): nothing was broadcast
    if isinstance(value, (list, tuple)):
        # the tangent of a list operand an op reads as an array (np.maximum([a, 1.0], y) in
        # forward mode): an array, as the op's own value (was: passed on as a list, and the next
        # rule's np.result_type raised "Field elements must be 2- or 3-tuples")
        value = _items_array(value)
    try:
        shape = np.shape(like)
    except ValueError:
        return value    # a record of an array and numbers (a namedtuple stored whole): no shape, nothing
        #                 broadcast (was numpy's ValueError, in a second derivative through out[0] = S(...))
    value = promoted_like(value, like)
    if np.shape(value) == shape:
        return value
    try:
        return np.broadcast_to(value, shape)
    except ValueError:
        return _fit_zero_or_broadcast(value, shape)


# --- indexing ----------------------------------------------------------------

def _needs_add_at(idx) -> bool:
    """Whether ``x[idx]`` may name a position more than once (an advanced integer index), so
    that its adjoint must add with ``np.add.at`` and a write keeps only the last item.  Any
    item that is not a plain integer, slice, ``None``, ``...`` or boolean mask counts: a list,
    and also a tuple or range inside the index (``A[(0, 0), (2, 2)]``, ``y[(5, 5, 1),]`` are
    numpy's advanced indexes, as lists are; they used to be taken for single positions, so a
    repeated position got only the last gradient and a repeated write every item's)."""
    if type(idx) is int or type(idx) is slice:
        return False
    items = idx if isinstance(idx, tuple) else (idx,)
    for item in items:
        if item is None or item is Ellipsis or isinstance(item, (int, np.integer, np.bool_, slice)):
            continue
        if _is_array(item):
            if item.dtype != bool and item.ndim > 0:
                return True
            continue
        return True
    return False


def _refuse_array_items(x) -> None:
    """An array of dtype=object holding arrays (``arr = np.empty(2, dtype=object); arr[0] = x * 2.0``), read by
    position where a gradient flows: refused (was: a ValueError from inside the gradient, red2_56 C1)."""
    if any(isinstance(v, np.ndarray) and v.ndim for v in x.ravel().tolist()):
        raise EvaluationError("an array of dtype=object holding arrays, indexed in differentiated code: sct does "
                              "not differentiate through an array of arrays; keep the arrays in a list or a tuple "
                              "(arr = [x * 2.0, x ** 2]), or stack them (np.stack([...]))")


def index_adjoint(grad, x, idx):
    """The adjoint of ``x[idx]``: zeros shaped like ``x`` holding ``grad`` at ``idx``."""
    if _is_zero(x):
        # x the zero marker (an adjoint no contribution reached, read by getitem_or_zero or
        # item_adjoint, whose rules land here in a second derivative): nothing depends on it.
        # Was an IndexError ("array is 0-dimensional") through `for k, v in d.items()` with a
        # value whose adjoint stayed zero.  A float or None is never itself indexed.
        return ZERO
    if type(idx) is Splice:
        idx = idx.written
    if type(x) is np.ndarray and x.dtype.names is not None:
        _refuse_structured(x)
    if type(x) is np.ndarray and x.dtype.kind == "O":
        _refuse_array_items(x)
    if isinstance(x, (list, tuple)) and (type(idx) is tuple or isinstance(idx, (list, np.ndarray))):
        # a list read by numpy's index (np.sort(xs), np.take(xs, i) of a list xs of traced values:
        # numpy made it an array): an array adjoint, whose items the list's literal reads by position
        # (was: a TypeError while computing the gradient, 'list indices must be integers')
        x = np.asarray(x)
    if type(x) is np.ndarray and type(idx) is int and x.dtype.kind in "fc" and \
            getattr(grad, "dtype", None) == x.dtype:
        out = np.zeros(x.shape, x.dtype)     # the common case: one element or row (exact ndarray)
        out[idx] = grad
        return out
    if type(idx) is slice and type(x) is np.ndarray and type(grad) is np.ndarray and x.ndim and \
            grad.dtype == x.dtype and x.dtype.kind in "fc":
        out = _slice_adjoint(grad, x, idx)    # x[a:b]: only the rest zeroed, not the whole
        if out is not None:
            return out
    if isinstance(x, (list, tuple)):
        out = [ZERO] * len(x)
        if _is_zero(grad):
            pass
        elif isinstance(idx, slice):
            positions = range(*idx.indices(len(x)))
            if positions.step == 1 and (type(grad) is list or type(grad) is tuple):
                k = min(len(positions), len(grad))      # (what zip pairs: one list copy, not a loop)
                out[positions.start:positions.start + k] = grad[:k]
            else:
                for pos, g in zip(positions, grad):
                    out[pos] = g
        else:
            out[idx] = grad
        if hasattr(type(x), "_fields"):     # a namedtuple: its adjoint also reads by field name
            return type(x)(*out)
        return out if isinstance(x, list) else tuple(out)
    if isinstance(x, dict):
        return {idx: grad}
    if _is_table(x):               # t["fc1"], t[2], t["fc1", "Weights"] of a Table: its rows
        return unselect_table_item(grad, x, idx)
    if hasattr(x, "__dict__") and not _is_array(x) and not _is_zero(grad):
        # an object of a user's class read by its own __getitem__ (was: a TypeError from numpy,
        # "Cannot interpret ... as a data type", computing the derivative)
        raise SctRuntimeError(
            f"the derivative reaches `obj[{idx!r}]` of a {type(x).__name__} read by its __getitem__, which sct "
            f"does not differentiate (what it returns is not known to be one of the object's fields): read "
            f"the field by name (obj.field[{idx!r}]), or index the list of its items (list(obj)[{idx!r}], "
            f"which sct maps back to its fields)")
    xdtype = getattr(x, "dtype", None)
    gdtype = getattr(grad, "dtype", None)
    if xdtype is not None and xdtype == gdtype and xdtype.kind in "fc":
        dtype = xdtype
    else:
        if isinstance(x, np.flatiter):
            raise SctRuntimeError("`x.flat[i]` (numpy's flat iterator) is not differentiated: read through "
                                  "np.ravel(x)[i] (or x.reshape(-1)[i]) instead")
        dtype = np.result_type(x, grad) if not _is_zero(grad) else np.asarray(x).dtype
        if not np.issubdtype(dtype, np.inexact):
            dtype = np.float64
    out = np.zeros_like(x, dtype=dtype) if _is_array(x) else np.zeros(np.shape(x), dtype=dtype)
    if _is_zero(grad):
        return out
    if _needs_add_at(idx):
        np.add.at(out, idx, grad)
    else:
        out[idx] = grad
    return out


def _slice_adjoint(grad, x, idx):
    """``index_adjoint`` of ``x[a:b]`` (step 1, ``grad`` of the slice's exact shape): the slice
    copied into an uninitialised buffer and the items outside it set to zero (one pass over x's
    size instead of two).  None where the slice is of another kind."""
    start, stop, step = idx.indices(x.shape[0])
    if step != 1 or grad.shape != (max(stop - start, 0),) + x.shape[1:]:
        return None
    out = np.empty(x.shape, x.dtype)
    if stop > start:
        out[start:stop] = grad
        out[:start] = 0
        out[stop:] = 0
    else:
        out[...] = 0
    return out


def index_add(total, grad, x, idx):
    """``total + index_adjoint(grad, x, idx)``, adding into ``total`` in place where it is a
    buffer of x's shape and dtype (the optimiser, sct/optimize.py, emits this only for an
    adjoint that nothing else holds: one buffer per sweep instead of one per element or slice).
    Fancy indices, other dtypes and containers: the out-of-place sum, the same numbers."""
    if _is_zero(total):
        return index_adjoint(grad, x, idx)
    if type(total) is np.ndarray and type(x) is np.ndarray and total.shape == x.shape and \
            total.dtype == x.dtype and x.dtype.kind in "fc" and \
            getattr(grad, "dtype", None) == x.dtype and not _needs_add_at(idx):
        total[idx] += grad
        return total
    if isinstance(total, (list, tuple, dict)):      # (``+`` would concatenate a container's adjoints)
        return add_grad(total, index_adjoint(grad, x, idx))
    return total + index_adjoint(grad, x, idx)


def index_added(total, grad, x, idx):
    """``total + index_adjoint(grad, x, idx)`` into one new buffer (``total`` is not changed): where
    ``idx`` is a slice ``a:b`` of the first axis and ``total``, ``grad`` and ``x`` arrays of one real
    or complex dtype (``total`` of x's shape, ``grad`` of the slice's), ``total[a:b] + grad`` and,
    outside the slice, ``total + 0`` (IEEE: -0 becomes +0 as in the plain sum), each written straight
    into the new buffer: one pass instead of a zero buffer, a copy and a sum.  Else the plain
    expression, the same numbers.  ``total`` the zero adjoint (ZERO, 0.0: no contribution yet, as
    the first of several slices in second-level code) with the same slice: ``0.0 + grad`` written
    into the slice of the new buffer and zeros outside it (``0.0 + index_adjoint(grad, x, idx)``
    is that: +0 outside, ``0.0 + g`` inside, in x's dtype), one pass instead of two."""
    if type(idx) is slice and type(total) is float and total == 0.0 and type(grad) is np.ndarray and \
            type(x) is np.ndarray and x.ndim and x.dtype == grad.dtype and x.dtype.kind in "fc":
        start, stop, step = idx.indices(x.shape[0])
        if step == 1 and stop > start and grad.shape == (stop - start,) + x.shape[1:]:
            out = np.empty(x.shape, x.dtype)
            np.add(grad, total, out=out[start:stop])
            out[:start] = 0
            out[stop:] = 0
            return out
    if type(idx) is slice and type(total) is np.ndarray and type(grad) is np.ndarray and type(x) is np.ndarray and \
            x.ndim and total.shape == x.shape and total.dtype == x.dtype == grad.dtype and x.dtype.kind in "fc":
        start, stop, step = idx.indices(x.shape[0])
        if step == 1 and stop > start and grad.shape == (stop - start,) + x.shape[1:]:
            out = np.empty(x.shape, x.dtype)
            np.add(total[start:stop], grad, out=out[start:stop])
            if start:
                np.add(total[:start], 0, out=out[:start])
            if stop < x.shape[0]:
                np.add(total[stop:], 0, out=out[stop:])
            return out
    if isinstance(total, (list, tuple, dict)):      # (``+`` would concatenate a container's adjoints)
        return add_grad(total, index_adjoint(grad, x, idx))
    return total + index_adjoint(grad, x, idx)


class Splice:
    """The index of a list's slice write that changes its length (``xs[a:b] = value`` with another
    number of items than the slice has), as the adjoint of ``setitem`` reads it: the items at
    ``start`` are ``old`` many before and ``new`` many after, the list ``length`` long before.
    ``zero_at`` maps an adjoint of one layout to the other (told apart by its length), the
    value's adjoint is ``written``, the new items' positions."""
    __slots__ = ("start", "old", "new", "length", "written")

    def __init__(self, start, old, new, length):
        self.start, self.old, self.new, self.length = start, old, new, length
        self.written = slice(start, start + new)

    def zeroed(self, grad):
        """``grad`` (an adjoint of the list after the write or before it) in the other layout,
        zero at the items the write put or removed."""
        grad = list(grad)
        before, after = (self.old, self.new) if len(grad) == self.length else (self.new, self.old)
        return grad[:self.start] + [ZERO] * after + grad[self.start + before:]

    def __repr__(self):
        return f"Splice({self.start}, {self.old}, {self.new}, {self.length})"


def scalar_list_array(v):
    """``v`` as the array numpy makes of it where it is a list or tuple of numbers (what a numpy
    function's rule reads of a list of traced numbers it was given), anything else as it is."""
    if isinstance(v, (list, tuple)) and v and all(np.ndim(e) == 0 and not isinstance(e, str) for e in v):
        return np.asarray(v)
    return v


@defrule(scalar_list_array, wrt=("v",), linear="v")
def _scalar_list_array_rule(g, ans, v):
    return g            # (a list's adjoint may be an array: its literal reads the items by position)


class TableRows:
    """The rows of a Table a write selects (``t[idx] = value``: rows by mask, list, slice, layer name or
    number, or one value by (layer, parameter)), as the adjoint of ``setitem`` reads them: the table's
    adjoint is ``{"Value": [...]}`` (was: read as an array's, numpy's "inhomogeneous shape" ValueError)."""
    __slots__ = ("rows", "whole")

    def __init__(self, rows, value):
        self.rows = rows                    # as _table_rows gives: a list, ("row", i) or i
        self.whole = _is_table(value)       # the value written is a Table of those rows (else a Row or a value)

    def positions(self):
        return self.rows if isinstance(self.rows, list) else \
            [self.rows[1]] if isinstance(self.rows, tuple) else [self.rows]

    def zeroed(self, grad):
        values = _table_values(grad)
        if _is_zero(values):
            return ZERO
        out = list(values)
        for i in self.positions():
            out[i] = ZERO
        return {"Value": out}

    def part(self, grad):
        values = _table_values(grad)
        if _is_zero(values):
            return ZERO
        if self.whole:
            # a row written twice (t[[0, 0]] = rows) holds the last one written: an earlier one of the
            # value's rows is overwritten, a constant (was: each given the row's adjoint, counted twice)
            positions = self.positions()
            return {"Value": [ZERO if i in positions[k + 1:] else values[i] for k, i in enumerate(positions)]}
        if isinstance(self.rows, tuple):
            from .table import Row
            return Row(ZERO, ZERO, values[self.rows[1]])
        return values[self.rows]


def written_index(x, idx, value):
    """The index ``setitem(x, idx, value)``'s adjoint reads: ``idx``, or for a slice of a list
    given another number of items than it has (``xs[1:3] = [v]``: the list grows or shrinks,
    its later items move), a :class:`Splice` (was: the adjoint read as an array's, an IndexError
    or a gradient of the new list's length given for the old one); for a Table the
    :class:`TableRows` written."""
    if _is_table(x):
        return TableRows(_table_rows(x, idx), value)
    if type(x) is not list or type(idx) is not slice:
        return idx
    start, stop, step = idx.indices(len(x))
    if step != 1:
        return idx          # an extended slice takes exactly its number of items (Python's ValueError)
    try:
        new = len(value)
    except TypeError:
        return idx
    old = max(stop - start, 0)
    return idx if new == old else Splice(start, old, new, len(x))


def _refuse_structured(x) -> None:
    """A write into (or a derivative through a read of) an array of a structured dtype (fields, as
    ``np.zeros(3, [("a", float), ("b", float)])``) on the differentiated path: sct has no adjoint that
    holds one derivative per field (was: an internal DTypePromotionError while computing the gradient
    of ``st["a"] = x; L = np.dot(st["a"], c)``).  A CompileError at the user's line."""
    from .errors import CompileError
    where = _generated_line()
    filename, lineno = where if where is not None else (None, None)
    if where is not None and LINES.user_line is not None:
        filename, lineno = LINES.user_line(filename, lineno)
    raise CompileError(
        f"sct cannot differentiate through an array of a structured dtype ({x.dtype}): its fields share "
        "one array, and sct has no derivative holding one part per field. Keep each field in its own "
        "float array (a = np.zeros(3); b = np.zeros(3)), or a dict of them", filename, lineno)


def _structured(x) -> bool:
    """Is ``x`` an array of a structured dtype, a view of one (its field ``st["a"]``, whose write
    changes ``st``: was a silently wrong value, the write not followed into ``st``) or one's record?"""
    if type(x) is np.ndarray:
        return x.dtype.names is not None or (type(x.base) is np.ndarray and x.base.dtype.names is not None)
    return type(x) is np.void


def setitem(x, idx, value):
    """``x[idx] = value`` without mutating ``x`` (value semantics, as in MATLAB)."""
    if _structured(x):
        _refuse_structured(x if type(x) is np.void or x.dtype.names is not None else x.base)
    if isinstance(x, (tuple, str, bytes)):
        # Python's TypeError (was: a tuple copied into an array and written, t = (a, b); t[0] = v
        # running where Python raises; red team lang, dec 5)
        raise TypeError(f"'{type(x).__name__}' object does not support item assignment")
    if isinstance(x, list):
        out = list(x)
        out[idx] = value
        return out
    if isinstance(x, dict):
        # (an OrderedDict stays one, as Python's write into it: was a dict, so a state dict's type
        # changed at g["W"] = ... or Q = P.copy(); Q["W"] = ...)
        out = x.copy() if type(x) is collections.OrderedDict else dict(x)
        out[idx] = value
        return out
    if _is_table(x):
        # MATLAB's gradients(idx,:) = dlupdate(..., gradients(idx,:), ...) on a Table of parameters: a new
        # table with those rows (was: the table read as an array, "Cannot interpret ... as a data type")
        out = type(x)(x.Layer, x.Parameter, list(x.Value))
        out[idx] = value
        return out
    if not isinstance(x, (np.ndarray, _dlarray)) and hasattr(type(x), "__setitem__") and \
            module_top(type(x)) not in ("numpy", "builtins", "collections", "sct", "runtime"):
        # an object of a user class with its own __setitem__ (o[k] = v runs its code, which changes o in place):
        # refused, naming the line (was: the object read as an array, an internal TypeError)
        raise EvaluationError(f"{type(x).__name__}[...] = value runs {type(x).__name__}.__setitem__, which changes "
                              f"the object in place; sct does not differentiate that: call a method that returns "
                              f"the new value, or keep the values in a dict or list")
    if type(x) is np.ndarray or isinstance(x, _dlarray):
        dtype = x.dtype           # as numpy's own write: a float32, int or real array keeps its dtype
        #                           (a complex value into a real array: numpy's warning and real part;
        #                           a dlarray too, an object's field read as it is: was the result type
        #                           of both, so h[0] = np.cos(m.s) into a float32 h = m.b * 1.0 gave float64)
    else:
        # (a list or tuple of values, z[0:2] = [a, b], as an array: np.result_type reads a list
        # as a dtype's fields and raised TypeError)
        dtype = np.result_type(x, np.asarray(value) if isinstance(value, (list, tuple)) else value)
    out = np.array(x, dtype=dtype, copy=True)
    out[idx] = value
    return out


def setitem_owned(x, idx, value):
    """``setitem(x, idx, value)`` written into ``x`` itself where ``x`` is an array that owns its
    data and that nothing holds but the caller's name the assignment rebinds (``n =
    rt.setitem_owned(n, i, v)``, sct/optimize.py ``owned_setitems``): its reference count says no
    other name, view, container or tape entry can see the change.  numpy's write into ``x``'s
    dtype, as ``setitem`` makes into its copy: the same numbers.  Anything else: ``setitem``."""
    if type(x) is np.ndarray and x.flags.owndata and x.flags.writeable and _getrefcount(x) <= _OWNED_REFS \
            and x.dtype.names is None:
        x[idx] = value
        return x
    return setitem(x, idx, value)


def setitem_through(x, idx, value, python_type="", fmt=""):
    """``x[idx] = value`` into a dict dlfeval was given (sct.write_checks._argument_item_write): a new version
    of ``x``, as ``setitem`` (the versions an adjoint reads keep their items: the derivative through the item
    is followed as for a dict the function made), and the write made into the caller's dict that ``x`` stands
    for too (``ARGUMENT_DICTS``: dlfeval's copies of the dict arguments and every version made from them, each
    paired with the caller's dict), so that it changes as in Python.  The caller's dict gets the value as plain
    Python has it: ``python_type`` (sct/argument_writes.py) "dl", a dlarray (labelled ``fmt``); "plain", the
    value; "" (not known), a number or text as it is, an array refused (a dlarray or an ndarray in Python).
    (Was: refused at the write; then, in mat51's F4, written into one dict every version shared, whose
    derivative through the item was lost under a branch or a loop: redfix51b W1, W2.)"""
    pairs = ARGUMENT_DICTS.pairs
    found = pairs.get(id(x)) if pairs else None
    if found is None or found[0] is not x:
        raise EvaluationError("a write into an item of a dict the function was given reached a dict sct did not "
                              "pair with the caller's (one reached through a list, a global or another object); "
                              "sct follows such writes only along dict items from the argument. Build a new dict "
                              "and return it (`state = {**state, key: value}`)")
    caller = found[1]
    kept = _callers_value(caller, idx, value, python_type, fmt, pairs)
    out = setitem(x, idx, value)
    caller[idx] = kept
    pairs[id(out)] = (out, caller, dict(out))
    written = ARGUMENT_DICTS.written
    if written is not None:
        written.add((id(caller), idx))
    return out


def _callers_value(caller, idx, value, python_type, fmt, pairs):
    """What ``caller[idx] = value`` stores in plain Python (setitem_through)."""
    if type(value) is dict:
        held = pairs.get(id(value))
        if held is not None and held[0] is value and caller.get(idx, None) is held[1]:
            return held[1]          # (a nested write stored back: the caller's inner dict, already written)
        raise EvaluationError("storing a dict into an item of a dict the function was given: sct follows writes "
                              "into such a dict item by item (`state['bn']['TrainedMean'] = m`), not a dict "
                              "stored whole; write its items one by one, or build a new dict and return it "
                              "(`state = {**state, 'bn': {...}}`)")
    if python_type == "dl-kept":
        # (the caller's item itself, where no pass of a loop made a new one, or an op's dlarray: sct/argument_writes.py
        # kept_or_dl)
        if idx in caller and dict.__getitem__(caller, idx) is value:
            return value
        python_type = "dl"
    if python_type == "dl" and _dlarray_in_python(value):
        # (a comparison of a dlarray is a dlarray of bools in Python, `state["active"] = h > 0`: was refused,
        # red54u W2)
        return _as_dlarray(np.array(value, copy=True), value, fmt)      # (its own array: the code's may be reused)
    if _plain_scalars(value):
        return value                # (Python's numbers and text: no dlarray is one)
    if python_type == "plain" and type(value) is list and all(_plain_scalars(v) for v in value):
        return value                # (a list of Python's numbers, a log kept in the state: was refused, red54u F2)
    if isinstance(value, (np.ndarray, np.generic)) and value.dtype.kind in "biufc" and python_type == "plain":
        return value.copy() if isinstance(value, np.ndarray) else value
    raise EvaluationError(f"storing {type(value).__name__} {'values ' if python_type == 'dl' else ''}into an item "
                          "of a dict the function was given: sct stores there a dlarray where the value surely is "
                          "one in Python (an operation on a dlarray), a number or text as it is, and an array built "
                          "from constants; this value's type in Python (a dlarray or an ndarray) is not known here. "
                          "Store it after dlfeval returns, or build a new dict and return it (`state = {**state, "
                          "key: value}`)")


def _dlarray_in_python(value) -> bool:
    """Is ``value``, of an expression whose Python value is a dlarray (sct/argument_writes.py "dl"), one the
    code holds as its data: a float, complex or bool array or number?"""
    return type(value) in (float, complex, bool) or isinstance(value, (np.ndarray, np.generic)) and \
        value.dtype.kind in "fcb"


def _as_dlarray(data, value, fmt):
    """The dlarray of ``data`` (``value``'s array) labelled ``fmt``, a number's marked as wrap_outputs marks one."""
    from .dlarray import wrap_outputs
    from .formats import relabel
    out = wrap_outputs(data)
    if not isinstance(value, np.ndarray):
        out._scalar = True          # (a number: as wrap_outputs marks a numpy scalar)
    return relabel(out, fmt) if fmt else out


def field_as_python(value, python_type=""):
    """``o.f = value`` of a traced value stored into an object from outside (sct/dead_fields.py): what plain
    Python stores, a dlarray where ``python_type`` (sct/argument_writes.py) says the value surely is one (the
    code's value is its array: ``self.running_mean = 0.9 * self.running_mean + 0.1 * mean`` of a dlarray mean
    left an ndarray on the layer, a dlarray in Python; refuse55a); else the value.  Its derivative: the value's."""
    if python_type == "dl" and not isinstance(value, _dlarray) and _dlarray_in_python(value):
        return _as_dlarray(np.array(value, copy=True), value, "")    # (its own array: the code's may be reused)
    return value


def field_through(value, python_type="", fmt=""):
    """What ``obj.h = value`` stores on an object from outside the function dlfeval runs (an argument, an object
    it holds) whose field the function does not read again (sct.compiler._fields_through): a dlarray where
    ``python_type`` (sct/argument_writes.py) is "dl", over the code's own array (the object holds that array,
    as in Python; a write into it later is seen there too), as ``setitem_through`` gives a caller's dict;
    ``value`` as it is otherwise.  (Was: the code's ndarray or numpy's float64, where Python leaves a dlarray:
    red55r W1.)"""
    if python_type == "dl" and _dlarray_in_python(value):
        return _as_dlarray(np.asarray(value), value, fmt)
    return value


def _plain_scalars(value) -> bool:
    """A number, text or None of Python's, or a tuple of such (``x.shape``): stored as it is."""
    if value is None or type(value) in (bool, int, float, complex, str, bytes):
        return True
    return type(value) is tuple and all(_plain_scalars(v) for v in value)


class _ArgumentDicts(threading.local):
    pairs = None        # id(dict) -> (dict, the caller's dict, its items when made), while dlfeval runs an entry
    written = None      # (id(the caller's dict), key) setitem_through wrote, while it runs


ARGUMENT_DICTS = _ArgumentDicts()


def note_argument_dicts(args, unwrapped, positions) -> dict:
    """The pairs (``ARGUMENT_DICTS.pairs``) of the dict arguments ``args[i]`` for the positions ``positions``
    (those whose items the entry writes: sct.api.run_entry) and of the dicts their items hold (by dict items),
    each with a copy that the entry is given instead (``unwrapped[i]`` replaced): the caller's dicts change
    only by setitem_through, the entry's versions never."""
    pairs: dict = {}

    def copied(mine, theirs):
        out = dict(theirs)
        for k, v in dict.items(out):
            inner = dict.get(mine, k, None)
            if type(v) is dict and type(inner) is dict:
                out[k] = copied(inner, v)
        pairs[id(out)] = (out, mine, dict(out))
        return out
    for i in positions:
        if type(args[i]) is dict and type(unwrapped[i]) is dict:
            unwrapped[i] = copied(args[i], unwrapped[i])
    return pairs


def changes_kept(pairs, written) -> None:
    """After the entry ran: a change made in place to dlfeval's copy of a dict argument (or a version of it) by
    code sct runs as it is (a with statement's ``__enter__``, an iterator's ``__iter__``, a helper) made in the
    caller's dict too, as Python's one dict has it (was: lost, ``count`` 0 where Python leaves 1, red59a W3).
    Refused where sct's own writes (setitem_through) wrote the key too, or the value is an array (a dlarray or
    not in Python: not known here)."""
    changed: dict = {}
    for version, caller, items in pairs.values():
        if type(version) is not dict:
            continue
        for k in set(version) | set(items):
            now, was = dict.get(version, k, _NO_ITEM), items.get(k, _NO_ITEM)
            if now is was or type(now) is dict and pairs.get(id(now), (None,))[0] is now:
                continue
            key = (id(caller), k)
            if key in written or key in changed and changed[key][1] is not now or \
                    not (now is _NO_ITEM or _plain_scalars(now) or type(now) in (list, tuple) and
                         all(_plain_scalars(v) for v in now)):
                raise EvaluationError(
                    f"code the function runs as it is (an implicit method such as a with statement's __enter__ or an "
                    f"iterator's __iter__, or a helper) changed the item {k!r} of a dict dlfeval was given in place, "
                    f"beside the function's own writes into that dict, which sct makes into the caller's dict item "
                    f"by item: sct cannot tell which change Python's one dict would keep. Make the change in the "
                    f"function's own code (d[key] = value), or return the new values")
            changed[key] = (caller, now, k)
    for caller, now, k in changed.values():
        if now is _NO_ITEM:
            caller.pop(k, None)
        else:
            caller[k] = now


_NO_ITEM = object()


class CallersDict:
    """A dict the entry returns that stands for a caller's dict (``ARGUMENT_DICTS``): dlfeval returns the
    caller's dict itself, as Python returns the object it was given (sct.api.callers_dicts)."""
    __slots__ = ("value",)

    def __init__(self, value):
        self.value = value


def mark_callers_dicts(out, pairs):
    """``out`` (what the entry returned) with each dict paired with a caller's dict as its CallersDict (in
    tuples, lists and dicts the function made)."""
    cls = type(out)
    if cls is dict:
        found = pairs.get(id(out))
        if found is not None and found[0] is out:
            return CallersDict(found[1])
        return {k: mark_callers_dicts(v, pairs) for k, v in out.items()}
    if cls is tuple or cls is list:
        return cls(mark_callers_dicts(v, pairs) for v in out)
    return out


def callers_dicts(out):
    """``out`` with each CallersDict replaced by its dict (after wrap_outputs and apply_formats)."""
    cls = type(out)
    if cls is CallersDict:
        return out.value
    if cls is dict:
        return {k: callers_dicts(v) for k, v in out.items()}
    if cls is tuple or cls is list:
        return cls(callers_dicts(v) for v in out)
    return out


def _untraced(measure):
    """``measure()`` with this thread's trace and profile functions off.  A trace function that
    reads a frame's locals (``frame.f_locals``: a debugger stepping, pysnooper, a line tracer that
    shows variables) keeps a dict of that frame's locals, one more reference to each: a reference
    count measured under it is one or two higher than generated code sees once tracing is off, and
    an array a tape or a second name still held then looked free to write into (sct imported under
    such a tracer: wrong gradients).  Counted with nothing watching, a count seen under a tracer
    later is only higher (a copy is made, the same numbers)."""
    trace, profile = sys.gettrace(), sys.getprofile()
    if trace is None and profile is None:
        return measure()
    sys.settrace(None)
    sys.setprofile(None)
    try:
        return measure()
    finally:
        sys.setprofile(profile)
        sys.settrace(trace)


def _refs_of_a_rebound_name() -> int:
    """The reference count ``setitem_owned`` sees for an array held by one name of its caller
    only, in the call that rebinds that name (that name, its parameter, getrefcount's argument):
    measured in a call of the same form, not assumed (with no trace function watching)."""
    return _untraced(_measure_refs_of_a_rebound_name)


def _measure_refs_of_a_rebound_name() -> int:
    seen = []

    def probe(x, idx, value):
        seen.append(sys.getrefcount(x))
        return x

    def probe4(x, grad, like, idx):
        seen.append(sys.getrefcount(x))
        return x
    space = types.SimpleNamespace(setitem_owned=probe, add_index_grad_owned=probe4)

    def caller():
        t = np.zeros(4)
        t = space.setitem_owned(t, 0, 1.0)
        u = np.zeros(4)
        u = space.add_index_grad_owned(u, 1.0, t, 0)
        return t, u
    caller()
    # (a build without the GIL counts references differently: never written in place there; the
    # two call forms generated code uses must agree, else neither writes in place)
    if not getattr(sys, "_is_gil_enabled", lambda: True)() or seen[0] != seen[1]:
        return -1
    return seen[0]


_OWNED_REFS = _refs_of_a_rebound_name()


def add_index_grad_owned(total, grad, x, idx):
    """``add_index_grad(total, grad, x, idx)`` added into ``total``'s array itself (``total[idx] +=
    grad``) where it is an array owning its data that nothing holds but the caller's name the
    assignment rebinds (``d = rt.add_index_grad_owned(d, g, x, i)``, sct/optimize.py
    ``owned_setitems``; its reference count says so), ``x`` (read for its shape and dtype) has its
    shape and dtype, ``grad`` is an array of that dtype shaped like ``total[idx]``, and ``idx`` is
    basic indexing (an integer, a slice, or a tuple of them: no position twice) that selects a view
    (not one element, which numpy gives as a scalar: added to, it would not change ``total``).
    The same sums as the copy ``add_index_grad`` makes (a row's adjoint added per iteration of a
    loop no longer costs a whole array twice)."""
    if type(total) is np.ndarray and type(grad) is np.ndarray and type(x) is np.ndarray and \
            (type(idx) is int or type(idx) is slice or
             type(idx) is tuple and all(type(i) is int or type(i) is slice for i in idx)) and \
            total.flags.owndata and total.flags.writeable and _getrefcount(total) <= _OWNED_REFS and \
            total.shape == x.shape and total.dtype == x.dtype == grad.dtype and total.dtype.kind in "fc":
        part = total[idx]
        if type(part) is np.ndarray and part.base is total and part.shape == grad.shape:
            part += grad
            return total
    elif type(total) is list and type(idx) is int and (type(x) is list or type(x) is tuple) and \
            len(total) == len(x) and _getrefcount(total) <= _OWNED_REFS:
        # a list adjoint (a tape's in a second derivative, a list of activations') nothing else
        # holds: the item set in place, as add_index_grad sets it in its copy (the other items
        # as they are: an item no adjoint reached stays None or 0.0, which reads as zero, where
        # the copy would have made it the marker)
        total[idx] = _item_added(total[idx], ZERO if _is_zero(grad) else grad)
        return total
    return add_index_grad(total, grad, x, idx)


def last_writes(x, idx, value):
    """Mask (shaped like ``x[idx]``) of the items of ``x[idx] = value`` not overwritten by a
    later item of the same assignment (repeated advanced indices: numpy keeps the last one),
    or None when every item lands (no advanced index)."""
    if type(x) is np.ndarray and x.dtype.kind in "biu" and np.result_type(value).kind in "fc":
        return np.zeros(np.shape(x[idx]), dtype=bool)   # rounded into an integer array: constant
    if isinstance(x, (list, dict)) or _is_table(x) or not _needs_add_at(idx):
        return None
    x = np.asarray(x)
    selected = x[idx].shape
    order = np.arange(int(np.prod(selected)), dtype=np.intp).reshape(selected)
    marks = np.full(x.shape, -1, dtype=np.intp)
    marks[idx] = order
    won = marks[idx] == order
    if won.all():
        return None
    return won          # in the shape of x[idx]: the adjoint is masked before it is unbroadcast


def masked(grad, mask):
    """``grad`` where ``mask`` holds, zero elsewhere (``mask`` None: all of ``grad``)."""
    if mask is None or _is_zero(grad):
        return grad
    return grad * mask


def add_at(x, idx, value):
    """``np.add.at(x, idx, value)`` without mutating ``x``: every repeated index adds, in ``x``'s dtype
    (numpy casts each sum into the target: an integer array truncates, a float32 one rounds)."""
    out = np.array(x, copy=True)
    np.add.at(out, idx, value)
    return out


def subtract_at(x, idx, value):
    """``np.subtract.at(x, idx, value)`` without mutating ``x`` (in ``x``'s dtype, as add_at)."""
    out = np.array(x, copy=True)
    np.subtract.at(out, idx, value)
    return out


_UNPACKING_AFTER: dict = {}       # code object -> {offset of a call: the count an unpacking after it takes}


def unpacked_by_caller(depth: int):
    """The number of names the frame ``depth`` levels up (from this function's own) unpacks the result
    of the call it is making into (``a, b, c = f(...)``: 3), or None (the result kept whole, or anything else after the call).
    Read from the caller's bytecode: the first instruction after the call (CPython's inline caches
    skipped), an UNPACK_SEQUENCE."""
    import dis
    frame = sys._getframe(depth)
    code = frame.f_code
    table = _UNPACKING_AFTER.get(code)
    if table is None:
        table = {}
        instructions = list(dis.get_instructions(code))
        for k, ins in enumerate(instructions[:-1]):
            after = instructions[k + 1]
            if after.opname == "UNPACK_SEQUENCE":
                # (f_lasti is the call's offset, or on 3.11+ that of its last inline cache entry)
                for offset in range(ins.offset, after.offset, 2):
                    table[offset] = after.argval
        if len(_UNPACKING_AFTER) > 4096:
            _UNPACKING_AFTER.clear()
        _UNPACKING_AFTER[code] = table
    return table.get(frame.f_lasti)


def into(value, out, casting="same_kind"):
    """What ``np.copyto(out, value, casting=casting)`` / ``ufunc(..., out=out)`` leave in ``out``:
    ``value`` broadcast to ``out``'s shape and cast to its dtype (numpy's casting rule; same-kind by
    default, as numpy).  numpy's own copyto into a copy of ``out``: its errors, and its rules for a
    Python number (``np.copyto(int8s, 300)``: an OverflowError; was: the number read as an int64
    array, cast to 44)."""
    return into_where(value, out, True, casting)       # (numpy's default where=True: every entry)


def into_where(value, out, where, casting="same_kind"):
    """What ``np.copyto(out, value, casting=casting, where=where)`` leaves in ``out``: ``value`` (cast
    as ``into``) where the boolean ``where`` holds, ``out``'s own entries elsewhere."""
    new = _copied_out(out)
    np.copyto(new, _copied_value(value), casting=casting, where=where)
    return new


def where_mask(where, out):
    """The mask ``where=`` of ``ufunc(..., out=out, where=where)`` as numpy reads it: booleans
    broadcast to ``out``'s shape."""
    return np.broadcast_to(np.asarray(where, dtype=bool), np.shape(out))


_PY_NUMBERS = (bool, int, float, complex)


def where_selected(a, mask):
    """An argument of ``ufunc(..., out=z, where=mask)`` at the entries ``mask`` selects, in their
    order (broadcast to the mask's shape first); a number or a 0-d array as it is (numpy's dtype
    rules for it kept: ``np.divide(x32, 2.0, ...)`` stays float32).  A 0-d array under a 0-d mask
    (every argument 0-d): its selected entries, none where the mask is False (was: the 0-d value
    itself, computed where the program does not compute it: np.divide(s, z, where=z != 0) at a 0-d
    z = 0 gave NaN, a false "gradient is NaN" refusal, and numpy's warnings the program has not)."""
    if type(a) in (bool, int, float, complex) or np.ndim(a) == 0 and np.ndim(mask) != 0:
        return a
    return np.broadcast_to(a, np.shape(mask))[mask]


def where_selected_adjoint(grad, a, mask):
    """The adjoint of :func:`where_selected`: ``grad`` laid back on the selected entries, summed over
    what was broadcast."""
    if _is_zero(grad) or type(a) in (bool, int, float, complex) or np.ndim(a) == 0 and np.ndim(mask) != 0:
        return grad
    full = np.zeros(np.shape(mask), dtype=np.result_type(grad))
    full[mask] = grad
    return unbroadcast(full, a)


def into_selected(value, out, mask):
    """What ``ufunc(..., out=out, where=mask)`` leaves in ``out``, ``value`` being the ufunc's results
    at the entries ``mask`` selects (in their order): cast into out's dtype as numpy's default
    casting='same_kind' allows, out's own entries elsewhere."""
    new = _copied_out(out)
    v = np.asarray(value)
    if not np.can_cast(v.dtype, new.dtype, "same_kind"):
        raise TypeError(f"Cannot cast ufunc output from {v.dtype!r} to {new.dtype!r} with casting rule "
                        f"'same_kind'")
    new[mask] = v
    return new


def _copied_out(out):
    """A copy of the array ``out`` written into; numpy's TypeError for what is not an array (a list, a
    number: was a list converted and written, a value where Python raises)."""
    data = out._data if isinstance(out, _dlarray) else out      # (a dlarray: its data, as before)
    if not isinstance(data, np.ndarray):
        raise TypeError(f"copyto() argument 1 must be a numpy.ndarray, not {type(out).__name__}")
    return np.array(data, copy=True)


def _copied_value(value):
    """``value`` as np.copyto reads it: a Python number as itself (numpy's rules for Python numbers)."""
    return value if type(value) in (bool, int, float, complex) else np.asarray(value)


def sort_order(values):
    """The stable order ``list.sort()`` puts the items of ``values`` in."""
    return sorted(range(len(values)), key=values.__getitem__)


def require_method(z, method: str, types) -> None:
    """Before a lowered ``z.<method>(...)`` (sct/aliasing.py): ``z`` must be of one of ``types``,
    whose method it models; else Python's AttributeError (``a.reverse()`` of an array), raised
    by reading the method on ``z`` itself (was: ``a.reverse()`` of an array gave ``a[::-1]``)."""
    if not isinstance(z, types):
        getattr(z, method)
        raise TypeError(f"sct models {method}() of {' or '.join(t.__name__ for t in types)} only, "
                        f"not of {type(z).__name__}")


def sorted_value(z, axis=-1, kind=None):
    """What ``z.sort()`` leaves in ``z`` (an array along ``axis``, or a list)."""
    require_method(z, "sort", (list, np.ndarray, _dlarray))
    if isinstance(z, list):
        return [z[i] for i in sort_order(z)]
    return np.sort(z, axis=axis, kind=kind)


def sorted_array(z, axis=-1, kind=None):
    """What ``z.sort(axis=..., kind=...)`` leaves in the array ``z`` (a list's sort takes neither
    keyword: Python's TypeError)."""
    if not isinstance(z, (np.ndarray, _dlarray)):
        z.sort(**({"axis": axis} if kind is None else {"kind": kind}))
    return np.sort(z, axis=axis, kind=kind)


def unsort(grad, z, axis=-1):
    """The adjoint of :func:`sorted_value`: each item's adjoint back at its old place."""
    if _is_zero(grad):
        return grad
    if isinstance(z, list):
        out = [ZERO] * len(z)
        for k, i in enumerate(sort_order(z)):
            out[i] = grad[k]
        return out
    order = np.argsort(np.asarray(z), axis=axis, kind="stable")    # a dlarray's order: plain ints
    out = np.zeros_like(grad)
    np.put_along_axis(out, order, grad, axis=axis)
    return out


def resort(grad, z, axis=-1):
    """The adjoint of :func:`unsort` (sorting ``grad`` the way ``z`` sorts)."""
    if _is_zero(grad):
        return grad
    if isinstance(z, list):
        return [grad[i] for i in sort_order(z)]
    return np.take_along_axis(grad, np.argsort(np.asarray(z), axis=axis, kind="stable"), axis=axis)


def filled(z, value):
    """What ``z.fill(value)`` leaves in the array ``z``."""
    require_method(z, "fill", (np.ndarray, _dlarray))
    return np.full_like(z, value)


def reversed_value(z):
    """What ``z.reverse()`` leaves in the list ``z``."""
    require_method(z, "reverse", (list,))
    return z[::-1]


def reversed_adjoint(grad):
    """The adjoint of :func:`reversed_value`: the list adjoint ``grad`` reversed."""
    if _is_zero(grad):
        return grad
    return grad[::-1]


def extended(z, items):
    """What ``z.extend(items)`` leaves in the list ``z``."""
    require_method(z, "extend", (list,))
    return list(z) + list(items)


def inserted(z, index, value):
    """What ``z.insert(index, value)`` leaves in the list ``z``."""
    if not isinstance(z, list):
        z.insert                 # AttributeError as Python's, for what has no insert
    new = list(z)
    new.insert(index, value)
    return new


def pop_position(z, index):
    """Where ``z.pop(index)`` takes its item from the list ``z``: Python's errors for an index out of
    range, an empty list, an index that is no integer, and a value with no pop."""
    require_method(z, "pop", (list,))
    n = len(z)
    position = operator.index(index)
    if not n:
        raise IndexError("pop from empty list")
    if position < 0:
        position += n
    if not 0 <= position < n:
        raise IndexError("pop index out of range")
    return position


def without_position(z, position):
    """What ``z.pop(index)`` leaves in the list ``z``: its items but the one at ``position``
    (:func:`pop_position`)."""
    if _is_zero(z):
        return z
    return list(z[:position]) + list(z[position + 1:])


def zero_at_position(grad, position):
    """The adjoint of ``z`` in :func:`without_position`: ``grad`` with a zero where the item was."""
    if _is_zero(grad):
        return grad
    return list(grad[:position]) + [ZERO] + list(grad[position:])


def insert_position(z, index):
    """Where ``list.insert(index, ...)`` puts its item in a list of ``len(z)`` items."""
    n = len(z)
    index = operator.index(index)
    if index < 0:
        index = max(index + n, 0)
    return min(index, n)


def part_adjoint(grad, start, stop, like):
    """``grad[start:stop]`` of a list adjoint, shaped like ``like`` (a list or tuple)."""
    if _is_zero(grad):
        return grad
    part = list(grad[start:stop])
    if type(like) is np.ndarray:        # z.extend(a) of an array a: an array adjoint (was the list)
        return _listed_as_array(part, like)
    return tuple(part) if isinstance(like, tuple) else part


def zero_at(grad, idx):
    """``grad`` with the positions ``idx`` zeroed (the adjoint of overwriting them)."""
    if _is_zero(grad):
        return grad
    if type(idx) is Splice or type(idx) is TableRows:
        return idx.zeroed(grad)
    if isinstance(grad, (list, tuple)):
        out = list(grad)
        if isinstance(idx, slice):
            for pos in range(*idx.indices(len(out))):
                out[pos] = ZERO
        else:
            out[idx] = ZERO
        return out
    if isinstance(grad, dict):
        out = dict(grad)
        out.pop(idx, None)
        return out
    out = np.array(grad, copy=True)
    out[idx] = 0
    return out


def zero_at_owned(grad, idx):
    """``zero_at(grad, idx)`` written into ``grad``'s array itself where it owns its data and nothing
    but the caller's name (read nowhere after this call: sct/optimize.py ``owned_zero_at``) holds
    it, by its reference count; anything else: ``zero_at``.  The same numbers."""
    if type(grad) is np.ndarray and grad.flags.owndata and grad.flags.writeable and \
            _getrefcount(grad) <= _OWNED_REFS:
        grad[idx] = 0
        return grad
    return zero_at(grad, idx)


def getitem_or_zero_copy(grad, idx):
    """``getitem_or_zero(grad, idx)``, an array part that is a view of ``grad`` copied (its caller
    then zeroes those positions of ``grad`` in place: ``zero_at_owned``)."""
    part = getitem_or_zero(grad, idx)
    if type(part) is np.ndarray and part.base is not None:
        return part.copy()
    return part


def getitem_or_zero(grad, idx):
    """``grad[idx]`` where ``grad`` may still be the zero adjoint or a partial dict."""
    if _is_zero(grad):
        return ZERO
    if type(idx) is TableRows:
        return idx.part(grad)
    part = grad.get(idx, ZERO) if isinstance(grad, dict) else \
        grad[idx] if type(idx) is not Splice else grad[idx.written]
    # an item no adjoint reached (None, a plain 0.0) is the marker itself: generated code tests
    # ``is not rt.ZERO`` before running rules on it
    return ZERO if _is_zero(part) else part


def dict_entry_adjoint(grad, keys, j):
    """The adjoint of the ``j``-th value of a dict literal ``{keys[0]: v0, keys[1]: v1, ...}`` given
    the dict's adjoint ``grad``: its key's item, or zero where a later entry has an equal key
    (Python's dict keeps that entry's value: ``v_j`` is not in the dict)."""
    return ZERO if key_repeated_later(keys, j) else getitem_or_zero(grad, keys[j])


def key_repeated_later(keys, j) -> bool:
    """Is ``keys[j]`` a key of a dict made of ``keys[j+1:]`` (equal as dict keys: ``1``, ``1.0``, ``True``)?"""
    return keys[j] in dict.fromkeys(keys[j + 1:])


nondifferentiable(key_repeated_later)


def item_adjoint(grad, idx, like):
    """``grad[idx]``, or zeros shaped like ``like`` (the item's value) if no adjoint reached it."""
    part = getitem_or_zero(grad, idx)
    return zero_adjoint(like) if _is_zero(part) else part


# --- attributes of containers --------------------------------------------------

def array_receiver(obj, name):
    """Generated code reads ``obj.name(...)`` as numpy's method ``name`` of an array (``h.sum()``)
    where the compiler could not tell what ``obj`` holds: refuse an object whose class has its own
    method of that name, or a module (``xp.sum(a)``), whose derivative that would not be."""
    if not isinstance(obj, types.ModuleType) and (_is_array(obj) or
                                                  isinstance(obj, (numbers.Number, list, tuple, dict))):
        return
    if isinstance(obj, types.ModuleType) or isinstance(getattr(type(obj), name, None), types.FunctionType):
        what = f"the module {obj.__name__}" if isinstance(obj, types.ModuleType) else \
            f"an object of {type(obj).__name__}, whose method {name}() it is"
        raise SctRuntimeError(
            f"`.{name}(...)` is compiled as numpy's array method {name}, but its receiver is {what}: "
            f"its derivative would be lost. " + (
                f"Call {obj.__name__}'s functions by the module's name (np.{name}(...)), or import it "
                f"inside the function (import {obj.__name__} as ...)" if isinstance(obj, types.ModuleType) else
                f"Build the object in this function ({type(obj).__name__}(...)) or pass it in, so that sct "
                f"knows its class, or rename the method"))


def users_override(cls, names, stop=(), skip=None, with_module=True) -> str:
    """``module.Class.name`` (``Class.name`` without ``with_module``) of the first of ``names`` that a class
    in ``cls``'s MRO defines in its own namespace, walking up to (not into) a class of ``stop`` and passing
    the classes ``skip`` exempts; "" where none does.  The one walk behind "a user's class changes what
    this value does" (array and number subclasses here, the compiler's container subclasses)."""
    for klass in cls.__mro__:
        if klass in stop:
            break
        if skip is not None and skip(klass):
            continue
        found = [n for n in names if n in vars(klass)]
        if found:
            return f"{klass.__module__}.{klass.__qualname__}.{found[0]}" if with_module else \
                f"{klass.__qualname__}.{found[0]}"
    return ""


_ARRAY_OVERRIDES = ("__array_ufunc__", "__array_function__", "__getitem__", "__add__", "__radd__",
                    "__sub__", "__rsub__", "__mul__", "__rmul__", "__truediv__", "__rtruediv__", "__pow__",
                    "__rpow__", "__matmul__", "__rmatmul__", "__neg__", "__mod__", "__floordiv__")
_SUBCLASS_CHECKED: dict = {}


def array_subclass_override(cls) -> str:
    """For a subclass of numpy's ndarray that changes what its operators, indexing or numpy's functions
    compute (``np.matrix``: ``*`` is a matrix product; a masked array; a user's subclass with its own
    ``__mul__``), the first such method it defines (``numpy.matrix.__getitem__``); "" for ndarray itself,
    ``np.memmap`` and ``np.recarray`` (which only change where data lives) and any other class."""
    if not isinstance(cls, type) or not issubclass(cls, np.ndarray) or cls is np.ndarray:
        return ""
    # (kept with the sizes of the classes' own namespaces, checked on reuse: an operator set on the class
    # after a first call, MyArr.__mul__ = ..., is read again; was: the first answer, none, so the new
    # operator's result was differentiated as ndarray's *, where a fresh process refused it)
    held = _SUBCLASS_CHECKED.get(cls)
    sizes = tuple(len(vars(klass)) for klass in cls.__mro__)
    found = held[0] if held is not None and held[1] == sizes else None
    if found is None:
        found = ""
        if cls not in (np.memmap, np.recarray):
            found = users_override(cls, _ARRAY_OVERRIDES, stop=(np.ndarray,))
        if len(_SUBCLASS_CHECKED) < 256 or cls in _SUBCLASS_CHECKED:
            _SUBCLASS_CHECKED[cls] = (found, sizes)
    return found


_NUMBER_OVERRIDES = ("__add__", "__radd__", "__sub__", "__rsub__", "__mul__", "__rmul__", "__truediv__",
                     "__rtruediv__", "__pow__", "__rpow__", "__matmul__", "__rmatmul__", "__neg__", "__pos__",
                     "__abs__", "__mod__", "__rmod__", "__floordiv__", "__rfloordiv__", "__float__", "__complex__",
                     "__array_ufunc__", "__array_function__", "__array__")


def number_subclass_override(cls) -> str:
    """For a subclass of int, float or complex with operators of its own (``class F(float): def __mul__``),
    the first such method (``F.__mul__``): Python runs it where generated code differentiates a number's
    operation; "" for the numbers themselves, bool, enum's and a subclass that keeps the number's."""
    if not isinstance(cls, type) or cls in (int, float, complex, bool) or \
            not issubclass(cls, (int, float, complex, np.number)) or _numpy_scalar_type(cls):
        return ""                           # (np.float64, np.complex128: numpy's scalars, differentiated)
    # (a user's subclass of np.float64 / np.float32 / np.int64 with its own __mul__ is one: was exempt as an
    # np.generic, Python ran its __mul__ and generated code differentiated numpy's *)
    return users_override(cls, _NUMBER_OVERRIDES, stop=(int, float, complex), with_module=False,
                          skip=lambda klass: module_top(klass) in ("enum", "builtins")
                          or _numpy_scalar_type(klass))


def _numpy_scalar_type(cls) -> bool:
    """A scalar class of numpy's own (np.float64, np.floating, np.generic), or another library's dtype's
    own scalar type (its dtype's type is itself); a user's subclass of one is not."""
    if (getattr(cls, "__module__", "") or "").split(".")[0] == "numpy":
        return True
    try:
        return issubclass(cls, np.generic) and np.dtype(cls).type is cls
    except TypeError:
        return False


def number_subclass_refusal(cls, what="a value here") -> str:
    base = next(b.__name__ if b in (int, float, complex) else f"np.{b.__name__}"
                for b in cls.__mro__ if b in (int, float, complex) or _numpy_scalar_type(b))
    return (f"{what} is a {cls.__qualname__}, a subclass of {base} with its own "
            f"{number_subclass_override(cls)}: Python runs it for the value's operators, and sct "
            f"differentiates a number's operations, so values and derivatives would differ. Pass "
            f"{base}(value) (or a plain array) instead, or hold the number in an object of your own "
            f"class and call its methods")


_OPERATOR_DUNDERS = ("__add__", "__radd__", "__sub__", "__rsub__", "__mul__", "__rmul__", "__truediv__",
                     "__rtruediv__", "__pow__", "__rpow__", "__matmul__", "__rmatmul__", "__neg__", "__mod__",
                     "__floordiv__", "__getitem__", "__array__")


def numpy_operator_class(cls) -> bool:
    """Is ``cls`` a class of numpy's own, not an array or a scalar, with operators of its own
    (``np.poly1d``: ``p + c`` adds ``c`` to the constant term, ``p * x`` is a polynomial product;
    ``np.polynomial.Polynomial``)?  Generated code would differentiate numpy's elementwise operators."""
    if not isinstance(cls, type) or issubclass(cls, (np.ndarray, np.generic, np.dtype, type)) or \
            module_top(cls) != "numpy":
        return False
    return any(n in vars(klass) for klass in cls.__mro__ if klass is not object for n in _OPERATOR_DUNDERS)


def operation_words(symbol) -> str:
    """How a refusal names the operation ``symbol`` (``[]``, ``*``, ``np.dot``)."""
    return "indexing" if symbol == "[]" else symbol if symbol.startswith("np.") or symbol.endswith(")") \
        else f"the operator {symbol}"


def array_subclass_refusal(cls, symbol, where="") -> str:
    """Why an operation ``symbol`` on an ndarray subclass with its own operations (np.matrix, a
    masked array) is refused, and what to write; ``where``: " here" for a compile-time refusal."""
    extra = " (`*` of an np.matrix is a matrix product, `**` a matrix power)" if issubclass(cls, np.matrix) else ""
    return (f"{operation_words(symbol)}{where} is given a {cls.__module__}.{cls.__qualname__}, a subclass of "
            f"numpy's ndarray with its own {array_subclass_override(cls)}{extra}: what its operators, indexing "
            f"and numpy's functions compute differs from an ndarray's, and sct differentiates ndarray's "
            f"operations, so the value or the derivative would differ. Use a plain array instead "
            f"(np.asarray(M), and `@` for a matrix product)")


def numpy_operator_refusal(cls, symbol) -> str:
    """Why an operand of numpy_operator_class is refused, and what to write."""
    what = operation_words(symbol)
    name = f"{cls.__module__}.{cls.__qualname__}"
    if issubclass(cls, np.poly1d) or cls.__module__.startswith("numpy.polynomial"):
        return (f"{what} is given a {name}, whose own operators run for it (a polynomial's arithmetic, not "
                f"numpy's elementwise one): sct would differentiate numpy's elementwise operation, so the "
                f"derivative would differ. Work on its coefficients as an array (p.coeffs, or "
                f"np.polyval(p.coeffs, x) to evaluate it)")
    return (f"{what} is given a {name}, an object of numpy's whose own operators or indexing run for it, "
            f"not an array's: sct would differentiate an array's, so the derivative would differ. Use "
            f"numpy's functions by their names (np.r_[a, b] written so, np.concatenate, np.stack)")


def sparse_class(cls) -> bool:
    """Is ``cls`` one of scipy.sparse's matrices or arrays?"""
    return (getattr(cls, "__module__", "") or "").startswith("scipy.sparse")


def sparse_refusal(cls, symbol) -> str:
    """Why a scipy.sparse operand of a differentiated operation is refused, and what to write."""
    return (f"{operation_words(symbol)} is given a scipy.sparse {cls.__name__}: its products and operators are scipy's code, "
            f"which sct does not differentiate (numpy's rule would give another derivative, or none). Make "
            f"it a dense array once, outside the function (L.toarray()), or give the sparse product a "
            f"derivative rule (@sct.defrule over a function computing it, whose rule multiplies by L.T)")


def constant_key(key) -> None:
    """Before ``n[key] = v`` of a ``key`` computed from a traced value into what may be a dict
    (sct/key_checks.py): a key that can carry a derivative (a float, a complex, a float or complex array
    or dlarray, an object of a class of the user's, a tuple holding one) is refused; a dict's key
    read back is a constant to sct, so the part of the gradient through it would be lost.  (A list or
    an array refuses such an index too, with Python's own error: this one says more.)"""
    if type(key) is str or type(key) is int:
        return
    parts = list(key) if isinstance(key, (tuple, frozenset)) else [key]
    while parts:
        part = parts.pop()
        if isinstance(part, (tuple, frozenset)):
            parts.extend(part)
            continue
        data = getattr(part, "_data", part)
        if isinstance(data, (float, complex, np.floating, np.complexfloating)) or \
                isinstance(data, np.ndarray) and data.dtype.kind in "fc" or \
                not isinstance(data, (str, int, bytes, type(None), np.integer, np.bool_, type, enum.Enum,
                                      types.FunctionType, types.BuiltinFunctionType, np.ndarray)):
            # (an object as the key: its fields may hold the traced numbers)
            raise SctRuntimeError(
                "a value stored under a key computed from a traced value (a number that carries its "
                "derivative): sct does not follow a derivative through a dict's keys (a key read back, by "
                "d.items(), list(d) or a loop over d, is a constant to it, so the gradient would miss the "
                "part through the key). Key the dict by names, ints or strings and keep the traced numbers "
                "as its values")


nondifferentiable(constant_key)


_PLAIN_OPERANDS = frozenset((np.ndarray, float, int, complex, bool, np.float64, np.float32, np.complex128))


def array_operand(obj, symbol, names):
    """Generated code differentiates ``a * b`` (``-a``, ``a[i]``) as numpy's operator where the
    compiler could not tell what the operand ``obj`` holds (a helper's result, a field of an
    object): refuse an object whose class has its own method for it (``__mul__``, ``__rmul__``,
    ``__neg__``, ``__getitem__``, ...: ``names``, separated by spaces), whose derivative that would
    not be."""
    cls = type(obj)
    if cls in _PLAIN_OPERANDS:       # (the common case first: no lookups)
        return
    if isinstance(obj, np.ndarray) and cls is not np.ndarray:
        # np.matrix (``*`` a matrix product), a masked array: its operations are not ndarray's
        if array_subclass_override(cls):
            raise SctRuntimeError(array_subclass_refusal(cls, symbol))
        return
    if isinstance(obj, numbers.Number) and number_subclass_override(cls):
        # (was: passed as a number, so ``G * x`` of a global ``class F(float)`` with its own __mul__ was
        # differentiated as a product)
        raise SctRuntimeError(number_subclass_refusal(cls, f"an operand of {operation_words(symbol)}"))
    if (_is_array(obj) and not (getattr(cls, "__module__", "") or "").startswith("scipy.sparse")) or \
            isinstance(obj, (numbers.Number, list, tuple, dict)):
        return
    if numpy_operator_class(cls):
        raise SctRuntimeError(numpy_operator_refusal(cls, symbol))
    for klass in cls.__mro__:
        if klass is object or module_top(klass) in ("numpy", "sct", "builtins"):
            continue
        found = [n for n in names.split() if n in vars(klass)]
        if found and sparse_class(cls):
            raise SctRuntimeError(sparse_refusal(cls, symbol))
        if found and symbol.startswith("np."):
            raise SctRuntimeError(
                f"an argument of {symbol} is an object of {cls.__name__}, whose {found[0]} numpy runs "
                f"for it (dispatching to it, or on the items of an object array); sct differentiates "
                f"{symbol} of arrays, so its derivative would be lost. Pass arrays to {symbol}, or call a "
                f"method of the object instead ({cls.__name__}.{found[0]}(obj, ...) or one of your own), "
                f"which sct differentiates")
        if found:
            raise SctRuntimeError(
                f"an operand of {operation_words(symbol)} is an object of {cls.__name__}, whose {found[0]} runs for it; sct "
                f"differentiates {symbol} as numpy's operator, so its derivative would be lost. Call a "
                f"method of it instead ({cls.__name__}.{found[0]}(obj, ...) or one of your own), which sct "
                f"differentiates")


def computed_attribute(obj, name):
    """How ``obj.name`` is computed when a getter of its class computes it (a ``property``, a
    ``functools.cached_property``, ``__getattr__``), else None.  Its value then depends on
    ``obj``'s fields through code sct does not differentiate: a derivative reaching it must not
    be dropped as if it were a field nobody reads."""
    if obj is None or type(obj) in (dict, list, tuple) or _is_array(obj):
        return None                 # (a namedtuple or a dict subclass may have properties: looked up)
    cls = type(obj)
    key = (cls, name)
    entry = _COMPUTED.get(key)
    found = getattr(cls, name, _UNKNOWN)
    if entry is None or entry[0] is not found:        # (a class changed since: looked up again)
        entry = (found, _class_computed(cls, name))
        if len(_COMPUTED) < 4096:
            _COMPUTED[key] = entry
    how = entry[1]
    if how is _BY_INSTANCE:
        if name not in getattr(obj, "__dict__", {}):
            return f"{cls.__name__}.__getattr__({name!r})"
        return None
    if type(how) is tuple:          # a non-data descriptor: the instance's own attribute hides it
        own = getattr(obj, "__dict__", None)
        return None if type(own) is dict and name in own else how[0]
    return how


_COMPUTED: dict = {}          # (class, attribute name) -> (the class's attribute then, _class_computed's answer)
_UNKNOWN = object()
_BY_INSTANCE = object()


def _class_computed(cls, name):
    """``computed_attribute``'s answer from ``cls`` alone, or ``_BY_INSTANCE`` when it depends on the
    instance (no class defines ``name`` and the class has ``__getattr__``: computed unless the
    instance holds it)."""
    for klass in cls.__mro__:
        if isinstance(vars(klass).get("__getattribute__"), types.FunctionType) and \
                module_top(klass) not in _LIBRARY_DESCRIPTORS:
            # every read goes through the class's own __getattribute__ (``return v * 2.0`` for ``W``):
            # its value is what that code computes from the field (was: the field's derivative taken
            # for the value's, half the gradient of ``x @ self.W`` there)
            return f"{klass.__name__}.__getattribute__({name!r})"
    for klass in cls.__mro__:
        if name in vars(klass):
            attr = vars(klass)[name]
            if isinstance(attr, property):
                return f"the property {cls.__name__}.{name}"
            if isinstance(attr, functools.cached_property):
                return f"the cached_property {cls.__name__}.{name}"
            kind = type(attr)
            if isinstance(getattr(kind, "__get__", None), types.FunctionType) and \
                    module_top(kind) not in _LIBRARY_DESCRIPTORS:
                # a descriptor of the user's (``lengthscale = Softplus()`` whose __get__ computes from
                # ``obj._lengthscale``): its value is what its code computes from the fields (was: the
                # derivative reaching the read dropped, a zero gradient)
                how = f"the descriptor {cls.__name__}.{name} ({kind.__name__}.__get__)"
                if hasattr(kind, "__set__") or hasattr(kind, "__delete__"):
                    return how
                return (how,)
            return None
    if hasattr(cls, "__getattr__"):
        return _BY_INSTANCE
    return None


#: the modules whose descriptors (written in Python) give methods, enum members and sct's own fields, not
#: values computed from an object's fields that a derivative could reach (``functools.partialmethod``)
_LIBRARY_DESCRIPTORS = ("sct", "runtime", "numpy", "scipy", "functools", "enum", "types", "abc", "dataclasses",
                        "typing", "collections")


def plain_property(cls, name: str):
    """The ``property`` that ``cls().name`` reads through, where its getter is a plain function and
    nothing else of the class intervenes; else None."""
    if not isinstance(cls, type):
        return None
    if getattr(cls, "__getattribute__", None) is not object.__getattribute__:
        return None
    if any("__getattr__" in vars(klass) for klass in cls.__mro__):
        return None                         # (an AttributeError of the getter would go to __getattr__)
    return _plain_property_in(cls, name, "fget")


def _plain_property_in(cls, name: str, accessor: str):
    """The ``property`` named ``name`` that ``cls``'s MRO finds first, where its ``accessor`` (``fget`` or
    ``fset``) is a plain function; else None."""
    for klass in cls.__mro__:
        if name in vars(klass):
            attr = vars(klass)[name]
            found = getattr(attr, accessor, None) if type(attr) is property else None
            if type(found) is types.FunctionType and getattr(found, "__sct_closure__", None) is None:
                return attr
            return None
    return None


def property_read_here(obj, name, fget):
    """The check before a property read compiled as its getter's call (sct/properties.py): ``obj.name``
    still runs ``fget`` (an object of another class put in a field since the function began, or a
    class changed: refused rather than read another way)."""
    prop = plain_property(type(obj), name)
    if prop is None or prop.fget is not fget:
        raise SctRuntimeError(
            f"`.{name}` was compiled as the getter of the property {fget.__qualname__}, but the object "
            f"read now is of {type(obj).__name__}, whose `.{name}` runs other code (an object of another "
            f"class was put in its place since the function began): read it from an object that keeps "
            f"its class, or call a method instead")
    return None


nondifferentiable(property_read_here)


def plain_setter(cls, name: str):
    """The ``property`` that ``obj.name = v`` runs the setter of (``cls.name.fset(obj, v)``), where the
    setter is a plain function and the class has no ``__setattr__`` of its own; else None."""
    if not isinstance(cls, type) or getattr(cls, "__setattr__", None) is not object.__setattr__:
        return None
    return _plain_property_in(cls, name, "fset")


_SLOT = type(type("_Slotted", (), {"__slots__": ("a",)}).a)      # a __slots__ field: a plain field's write


def data_descriptor(cls, name: str):
    """The data descriptor ``obj.name = v`` runs for an object of ``cls`` (a ``property``, or any class
    attribute whose type has ``__set__``: not a ``__slots__`` field), else None."""
    for klass in getattr(cls, "__mro__", ()):
        if name in vars(klass):
            attr = vars(klass)[name]
            return attr if hasattr(type(attr), "__set__") and type(attr) is not _SLOT else None
    return None


_PLAIN_HOLDERS = (dict, list, tuple, np.ndarray, types.SimpleNamespace, types.ModuleType)


def attribute_write_here(obj, name, traced):
    """The check before ``obj.name = v`` on an object whose class the compiler did not prove
    (sct/properties.py): where the value is traced, refuse a write that runs a property's setter or a
    descriptor's ``__set__`` (sct takes the write for a field's)."""
    if not traced or type(obj) in _PLAIN_HOLDERS:
        return None
    found = data_descriptor(type(obj), name)
    if found is None:
        return None
    what = f"the property {type(obj).__name__}.{name}'s setter" if isinstance(found, property) else \
        f"the descriptor {type(obj).__name__}.{name}'s __set__"
    raise SctRuntimeError(
        f"setting .{name} to a traced value runs {what} (the object met now is of {type(obj).__name__}), "
        f"which sct does not differentiate here (the class of the object is not proven at this line): set "
        f"the fields it sets directly, call a method that sets them, or bind the name once to Cls(...)")


nondifferentiable(attribute_write_here)


def property_write_here(obj, name, filename, line, fname):
    """The check before ``obj.name = v`` read in place as its property's setter (sct/inline_helpers.py):
    the object met now still runs that setter for it."""
    prop = plain_setter(type(obj), name)
    code = getattr(getattr(prop, "fset", None), "__code__", None)
    if code is None or (code.co_filename, code.co_firstlineno, code.co_name) != (filename, line, fname):
        raise SctRuntimeError(
            f"`.{name} = ...` was read as the setter of the property {fname} (line {line}), but the object "
            f"written now is of {type(obj).__name__}, whose `.{name} = ...` runs other code (an object of "
            f"another class was put in its place since the function began): write to an object that keeps "
            f"its class, or call a method instead")
    return None


nondifferentiable(property_write_here)


def _operator_method(cls, name):
    """What Python's operator finds for ``name`` on ``cls`` (its MRO's first), else None."""
    if name is None:
        return None
    for klass in cls.__mro__:
        if name in vars(klass):
            return vars(klass)[name]
    return None


_PY_NUMBERS = (int, float, complex, bool)


def _defers_arrays(cls) -> bool:
    """Do numpy's arrays and scalars give ``cls`` the turn (its ``__array_ufunc__`` is None)?"""
    return any("__array_ufunc__" in vars(k) for k in cls.__mro__) and _operator_method(cls, "__array_ufunc__") is None


def user_operator_here(a, b, method, name, reflected_name, symbol, reflected, defer_arrays):
    """The check before an operator compiled as its method's call (sct/user_operators.py): ``a op b``
    (``-a``, ``a op= b``) still runs ``method`` first in Python, with the operands met now."""
    cls = type(b) if reflected else type(a)
    ok = _operator_method(cls, reflected_name if reflected else name) is method
    if ok and reflected:
        ok = type(a) in _PY_NUMBERS or defer_arrays and _defers_arrays(cls) and (
            type(a) is np.ndarray or type(a) is _dlarray or isinstance(a, np.generic) and
            (type(a).__module__ or "").split(".")[0] == "numpy")
    elif ok and reflected_name is not None and b is not None:
        right = type(b)
        ok = right is cls or not issubclass(right, cls) or \
            _operator_method(right, reflected_name) is _operator_method(cls, reflected_name)
    if not ok:
        raise SctRuntimeError(
            f"`{symbol}` was compiled as the call of {method.__qualname__}, but the operands met now are of "
            f"{type(a).__name__}" + (f" and {type(b).__name__}" if b is not None else "") +
            f", for which Python runs other code first (an object of another class than the compiler "
            f"read): call the method you mean instead")
    return type(a), (type(b) if b is not None else None)   # (for user_operator_result: the operands' classes)


nondifferentiable(user_operator_here)


def user_operator_result(result, classes, name, reflected_name, symbol, reflected):
    """After an operator compiled as its method's call: a ``NotImplemented`` returned is Python's
    TypeError where no other method has a turn, else refused (the turn it passes is not followed).
    ``classes``: the operands' classes, as :func:`user_operator_here` gave them before the call (was:
    the operands themselves, read after the call had rebound ``p`` in ``p = p * 2.0``)."""
    if result is not NotImplemented or classes is None or classes[1] is None:
        return None
    left, other = classes
    inplace = reflected_name is None
    if reflected or not inplace and (other is left or other in _PY_NUMBERS or
                                     _operator_method(other, reflected_name) is None):
        shown = "** or pow()" if symbol == "**" else symbol
        raise TypeError(f"unsupported operand type(s) for {shown}: '{left.__name__}' and "
                        f"'{other.__name__}'")
    raise SctRuntimeError(
        f"`{symbol}`: {left.__name__}.{name} returned NotImplemented, so Python passes the turn to "
        + (f"the operator `{symbol[:-1]}`" if inplace else f"{other.__name__}.{reflected_name}") +
        ", which sct does not follow here: call the method you mean instead")


nondifferentiable(user_operator_result)


def refuse_computed_attribute(obj, name, what):
    """Raise where a nonzero derivative reaches ``obj.name`` computed by a getter (see
    :func:`computed_attribute`) whose value can carry one (not an int, bool, str or None)."""
    how = computed_attribute(obj, name)
    if how is None:
        return
    try:
        value = getattr(obj, name)
    except Exception:
        value = None
    else:
        if isinstance(value, (bool, int, str, bytes, type(None))) or \
                (_is_array(value) and not np.issubdtype(value.dtype, np.inexact)):
            return                     # a count, a flag, a name: no derivative to lose
    own = module_top(type(obj)) in ("sct", "runtime")
    advice = ("read the values from its Learnables (or State) table instead" if own else
              f"make it a method and call it (`def {name}(self): ...`, then `obj.{name}()`), or read "
              f"the fields it uses")
    raise SctRuntimeError(
        f"the {what} reaches `.{name}`, which {how} computes from the object's fields; sct does not "
        f"differentiate through attribute getters (that derivative would be lost): {advice}")


def _fields_by_dict(grad, obj, name) -> bool:
    """Is ``grad``, the adjoint of ``obj.__dict__`` (``name``), a dict whose keys are fields of ``obj`` (its
    ``vars``): the adjoint of the object itself, field by field (was refused, refuse_instance_dict: ``for k, v
    in self.__dict__.items()`` in a parameter walk, an L2 penalty)?  An object's adjoint is a dict of its
    fields' adjoints (attribute_adjoint), so the dict's is the object's; the rule of attribute_adjoint
    reads it back whole."""
    return name == "__dict__" and isinstance(grad, dict) and not isinstance(obj, type) and \
        type(getattr(obj, "__dict__", None)) is dict and all(type(k) is str and k in obj.__dict__ for k in grad)


def refuse_instance_dict(name):
    """``obj.__dict__`` read where a derivative reaches it: its adjoint would be filed under a field
    named "__dict__", which no field is (the derivative was silently zero: `m.__dict__["w"]`,
    `for k, v in m.__dict__.items()`)."""
    if name == "__dict__":
        raise SctRuntimeError(
            "the derivative reaches `obj.__dict__`, which sct does not map back to the object's fields "
            "(that derivative would be lost): read the fields by name (obj.w), or keep the parameters "
            "in a dict and iterate that")


def attribute_adjoint(grad, obj, name):
    """The adjoint of ``obj.name``: a partial adjoint of ``obj`` (a dict of attributes; for a
    namedtuple, a namedtuple of adjoints, so that indexing it works too)."""
    if _is_zero(grad) and _is_array(obj):
        # a zero adjoint of an array's attribute (a library function's zero for its dtype= argument,
        # np.tri(n, dtype=x.dtype) compiled from numpy's source, a float 0.0 that is not rt.ZERO):
        # the array's zero, never a dict of attributes (was: {'dtype': 0.0} added to the array's
        # adjoint, a TypeError)
        return ZERO
    if not _is_zero(grad):
        if _is_array(obj) and name in NONDIFF_ATTRIBUTES:
            # an array's metadata (x.shape, x.size: numbers of its layout) read where the compiler
            # could not tell an array from an object of the user's class with a field of that
            # name (sct/analysis.py user_attribute): no derivative reaches the array
            return zero_adjoint(obj)
        if _fields_by_dict(grad, obj, name):
            return dict(grad)
        refuse_instance_dict(name)
        refuse_computed_attribute(obj, name, "derivative")
        if _is_array(obj):
            raise SctRuntimeError(f"`.{name}` of an array is not differentiated" + (
                " (numpy's flat iterator): read through np.ravel(x)[i] (or x.reshape(-1)[i]) instead"
                if name == "flat" else
                " (the array a view was taken from, or None): use that array by its own name instead "
                "(for `t[1:].base`, write `t`)" if name == "base" else ""))
    if isinstance(obj, tuple) and hasattr(type(obj), "_fields") and name in type(obj)._fields:
        return type(obj)(*[grad if f == name else ZERO for f in type(obj)._fields])
    return {name: grad}


def drop_attribute(grad, name):
    """An object's adjoint without the field ``name`` (after the field was overwritten)."""
    if isinstance(grad, dict) and name in grad:
        out = dict(grad)
        del out[name]
        return out
    return grad


def getattr_or_zero(grad, name):
    if _is_zero(grad) or (_is_array(grad) and name in NONDIFF_ATTRIBUTES):
        return ZERO                    # an array's metadata (see attribute_adjoint)
    if isinstance(grad, dict):
        if name == "__dict__":
            return grad        # (an object's adjoint, field by field, is its __dict__'s: _fields_by_dict)
        return grad.get(name, ZERO)
    if isinstance(grad, (list, tuple)) and not hasattr(type(grad), "_fields"):
        raise SctRuntimeError(
            f"the derivative reaches field {name!r} of an object through a way of iterating it (its "
            f"__iter__: zip, enumerate, max, a comprehension, ...) that sct does not map back to its "
            f"fields: iterate a list of its fields instead (for p in [obj.{name}, ...]), or walk it "
            f"with for p in obj, list(obj) or sum(obj)")
    return getattr(grad, name)


def dataclass_replaced(obj, changes):
    """``dataclasses.replace(obj, **changes)`` in differentiated code (sct/normalize_exprs.py), for a
    dataclass whose ``__init__`` is the one ``@dataclass`` wrote (it stores its arguments) with no
    ``__post_init__`` and no field left out of it: the new object's fields are the changes and the
    old object's other fields, so their derivatives go back there; other classes refused."""
    import dataclasses
    cls = type(obj)
    if not dataclasses.is_dataclass(obj) or isinstance(obj, type):
        return dataclasses.replace(obj, **changes)          # Python's TypeError
    init = getattr(cls.__init__, "__code__", None)
    if hasattr(cls, "__post_init__") or any(not f.init for f in dataclasses.fields(cls)) or \
            init is None or not init.co_filename.startswith("<"):
        raise EvaluationError(f"sct differentiates dataclasses.replace of a dataclass that stores its "
                              f"fields as given ({cls.__name__} has a __post_init__, its own __init__ or "
                              f"a field outside __init__): build the new instance with its class, e.g. "
                              f"{cls.__name__}(field=new_value, ...)")
    return dataclasses.replace(obj, **changes)


@defrule(dataclass_replaced, wrt=("obj", "changes"))
def _dataclass_replaced_rule(g, ans, obj, changes):
    return kept_fields_adjoint(g, obj, changes), changed_fields_adjoint(g, changes)


def kept_fields_adjoint(grad, obj, changes):
    """The adjoint of the fields of ``obj`` that ``dataclasses.replace(obj, **changes)`` kept."""
    import dataclasses
    if _is_zero(grad):
        return ZERO
    return {f.name: getattr_or_zero(grad, f.name) for f in dataclasses.fields(obj) if f.name not in changes}


def changed_fields_adjoint(grad, changes):
    """The adjoints of the values ``dataclasses.replace`` set, by field name."""
    if _is_zero(grad):
        return ZERO
    return {k: getattr_or_zero(grad, k) for k in changes}


# both are projections onto some fields (a dict of them): their own transposes
@defrule(kept_fields_adjoint, wrt=("grad",), linear=("grad",))
def _kept_fields_adjoint_rule(g, ans, grad, obj, changes):
    return kept_fields_adjoint(g, obj, changes)


@defrule(changed_fields_adjoint, wrt=("grad",), linear=("grad",))
def _changed_fields_adjoint_rule(g, ans, grad, changes):
    return changed_fields_adjoint(g, changes)


def namedtuple_replaced(obj, changes):
    """``obj._replace(**changes)`` of a namedtuple in differentiated code (sct/normalize_exprs.py): the
    new tuple's fields are the changes and ``obj``'s other fields, so their derivatives go back there;
    the ``_replace`` of an object of another class is refused (sct does not read what it does)."""
    if not _is_namedtuple(obj):
        raise EvaluationError(f"sct differentiates _replace(...) of a namedtuple only, not of a "
                              f"{type(obj).__name__}: call a method of your own that sct reads, or build "
                              f"the new object with its class")
    return obj._replace(**changes)


@defrule(namedtuple_replaced, wrt=("obj", "changes"))
def _namedtuple_replaced_rule(g, ans, obj, changes):
    return kept_record_fields(g, obj, changes), changed_record_fields(g, obj, changes)


def kept_record_fields(grad, obj, changes):
    """The adjoint of the namedtuple ``obj`` in ``obj._replace(**changes)``: ``grad``'s fields that
    were kept, zero in those changed (a namedtuple of ``obj``'s class)."""
    if _is_zero(grad):
        return ZERO
    fields = type(obj)._fields
    return type(obj)(*[ZERO if f in changes else field_adjoint(grad, f, i) for i, f in enumerate(fields)])


def changed_record_fields(grad, obj, changes):
    """The adjoints of the values ``obj._replace(**changes)`` set, by field name (a dict)."""
    if _is_zero(grad):
        return ZERO
    fields = type(obj)._fields
    return {k: field_adjoint(grad, k, fields.index(k) if k in fields else None) for k in changes}


def record_of_changes(grad, obj, changes):
    """The transpose of changed_record_fields: a namedtuple of ``obj``'s class with the changes'
    adjoints (a dict by field) in their fields, zero elsewhere."""
    if _is_zero(grad):
        return ZERO
    return type(obj)(*[field_adjoint(grad, f, None) if f in changes else ZERO for f in type(obj)._fields])


@defrule(kept_record_fields, wrt=("grad",), linear=("grad",))
def _kept_record_fields_rule(g, ans, grad, obj, changes):
    return kept_record_fields(g, obj, changes)


@defrule(changed_record_fields, wrt=("grad",), linear=("grad",))
def _changed_record_fields_rule(g, ans, grad, obj, changes):
    return record_of_changes(g, obj, changes)


@defrule(record_of_changes, wrt=("grad",), linear=("grad",))
def _record_of_changes_rule(g, ans, grad, obj, changes):
    return changed_record_fields(g, obj, changes)


def _number_part(obj, name) -> bool:
    """``obj.real`` / ``obj.imag`` of a Python number: the array's rule."""
    return name in ("real", "imag") and isinstance(obj, (int, float, complex)) and not isinstance(obj, bool)


def attribute_adjoint_any(grad, obj, name):
    """The adjoint of ``obj.name`` when ``obj`` may be an array (``x.T``), a number (``v.real`` of a
    Python float) or an object."""
    if _is_array(obj) or _number_part(obj, name):
        from .registry import ATTRIBUTES, lookup
        op = ATTRIBUTES[name]
        return lookup(op).fn(grad, getattr(obj, name), obj)
    if not _is_zero(grad):
        if _fields_by_dict(grad, obj, name):
            return dict(grad)
        refuse_instance_dict(name)
        refuse_computed_attribute(obj, name, "derivative")
    return {name: grad}


def attribute_adjoint_any_transpose(grad, obj, name):
    """The adjoint of attribute_adjoint_any (for higher derivatives)."""
    if _is_array(obj) or _number_part(obj, name):
        if name == "T":
            return np.transpose(grad)
        if name == "mT":       # (was grad as it is: a (1, 3) for a (3, 1), a second derivative of x.mT)
            return np.matrix_transpose(grad)
        if name == "imag":
            return np.imag(grad)
        return grad
    return getattr_or_zero(grad, name)


# --- lists -------------------------------------------------------------------------

def list_head(grad, head):
    """The adjoint of ``head`` in ``head + tail`` (list concatenation)."""
    if _is_zero(grad):
        return grad
    return list(grad[:len(head)])


def list_tail(grad, head):
    """The adjoint of ``tail`` in ``head + tail``."""
    if _is_zero(grad):
        return grad
    return list(grad[len(head):])


def as_dlarray_data(data, *args, **kwargs):
    """What ``dlarray(data)`` is inside compiled code: the plain array, as dlarray would keep it."""
    from .dlarray import _as_data
    fmt = args[0] if args else kwargs.get("fmt")
    if fmt is not None:                     # dlarray(x, "SSCB"): the labels are followed at compile time
        from .formats import formatted_data
        return formatted_data(_as_data(data), fmt)
    return _as_data(data)


def dlarray_of(data, fmt=None):
    """``dlarray(x, fmt)`` of a traced ``x`` as compiled code sees it (MATLAB: a copy of ``x``, traced,
    relabelled): the data, with trailing singletons for extra labels.  Its rule is the derivative
    of ``dlarray(x)`` (the call itself is emitted as ``as_dlarray_data``)."""
    return as_dlarray_data(data, fmt)


# --- accumulation ----------------------------------------------------------------

def add_grad(a, b):
    """``a + b`` for adjoints that may be zero, arrays, lists, tuples or dicts."""
    if _is_zero(a):
        return b
    if _is_zero(b):
        return a
    if isinstance(a, dict) and isinstance(b, dict):
        out = dict(a)
        for k, v in b.items():
            out[k] = add_grad(out[k], v) if k in out else v
        return out
    if isinstance(a, (list, tuple)) and isinstance(b, (list, tuple)):
        # the zero tests inline: a list adjoint from index_adjoint is zero but at one place
        out = [v if u is None or (type(u) is float and u == 0.0) else
               u if v is None or (type(v) is float and v == 0.0) else add_grad(u, v) for u, v in zip(a, b)]
        for c in (a, b):
            if hasattr(type(c), "_fields"):     # keep a namedtuple's adjoint readable by name
                return type(c)(*out)
        return out
    return a + b


def _item_added(cur, g):
    """What add_grad does with one item of two lists: the other where one is zero, else their sum."""
    return g if _is_zero(cur) else cur if _is_zero(g) else add_grad(cur, g)


def add_index_grad(total, grad, x, idx):
    """``add_grad(total, index_adjoint(grad, x, idx))`` in one call (sct/optimize.py emits it for
    that pair).  A list adjoint of a list or tuple read at one position (a network's list of
    activations, once per read): a copy of ``total`` with that one item added to, instead of a
    list of zeros built and added item by item.  Anything else: the two calls themselves."""
    if type(total) is list and (type(idx) is int or type(idx) is slice) and \
            (type(x) is list or type(x) is tuple) and len(total) == len(x):
        for u in total:                 # add_grad makes None and other zeros ZERO: the two calls below
            if u is None or (type(u) is float and u == 0.0 and u is not ZERO):
                return add_grad(total, index_adjoint(grad, x, idx))
        out = total.copy()
        if type(idx) is int:
            parts = ((idx, ZERO if _is_zero(grad) else grad),)
        else:
            parts = () if _is_zero(grad) else zip(range(*idx.indices(len(x))), grad)
        for pos, g in parts:
            out[pos] = _item_added(out[pos], g)
        return out
    return add_grad(total, index_adjoint(grad, x, idx))


# --- the boundary of a sweep ------------------------------------------------------

_REAL_SCALARS = {np.dtype(np.float64): np.float64(1.0), np.dtype(np.float32): np.float32(1.0)}


class _Unselected(threading.local):
    """Where this thread's current sweep ran np.where's adjoint with a branch NaN or infinite
    where it is not selected (numpy_ops.where_branch): (file, line) of the generated code."""
    def __init__(self):
        self.sites = []
        self.ops = {}           # site -> the op that left the entries out, where not np.where
        self.finite_y = False   # the y of this thread's current sweep is finite (seed): a NaN in its
        #                         gradient is then a 0 * inf of the rules, refused (project)


_UNSELECTED = _Unselected()
# [whether any thread ever noted a site in _UNSELECTED.sites]: until one did, a sweep's seed needs no
# read of this thread's (always empty) list (rt.scalar_seed: a thread-local read, ~30 ns, per sweep)
SITES_NOTED = [False]


class _Aliased(threading.local):
    """The data of the dlarrays that the running dlfeval's arguments hold at two or more places
    (one dlarray object twice: ``{"enc": W, "dec": W}``, ``dlfeval(f, x, x)``, a model whose two
    layers hold one array), by id: sct differentiates each place of an argument as a variable of
    its own, so a gradient with respect to one of them would leave out the uses through the others
    (project refuses it, or project_tied sums its places).  Empty for every other call."""
    ids = frozenset()
    # (split: those whose data another dlarray object holds too, aliased_dlarrays; not summed by project_tied)
    split = frozenset()


ALIASED = _Aliased()


def _sct_wrapper(v) -> bool:
    """An accelerated function (sct.callables' wrappers): it stands for its function, as its kind does
    (sct.kinds); its caches are sct's, not the user's data (was: walked, its entries' guards held the
    module's globals, so after acc(W, X) outside dlfeval, dlfeval(f, W, X, acc) of a module-level W found
    W held twice and refused its gradient as tied weights, and dlarray(x) of a module-level x as sharing
    x's memory with a plain array)."""
    return getattr(type(v), "__sct_wraps__", False) is True


def dlarray_memory_shared(args) -> bool:
    """Whether the data of a dlarray that ``args`` hold (lists, tuples, dicts, objects' attributes,
    nested) may share memory with a plain ndarray they hold elsewhere: ``f(dlarray(buf), buf)``.  A
    function writing into the ndarray in place would change the dlarray's data under sct's feet."""
    datas, plain = dlarray_data_and_arrays(args)
    if not datas or not plain:
        return False
    for d in datas:
        for a in plain:
            if a is d or np.may_share_memory(a, d):
                try:
                    if np.shares_memory(a, d, max_work=1000):
                        return True
                except np.exceptions.TooHardError:
                    return True
    return False


def dlarray_data_and_arrays(args) -> tuple:
    """(the ndarray data of the dlarrays, the plain ndarrays) that ``args`` hold (lists, tuples,
    dicts, objects' attributes, nested)."""
    datas: list = []
    plain: list = []
    seen: set = set()

    def visit(v, depth):
        if isinstance(v, _dlarray):
            if id(v) not in seen:
                seen.add(id(v))
                d = v._data
                if isinstance(d, np.ndarray):
                    datas.append(d)
            return
        if type(v) is np.ndarray:
            plain.append(v)
            return
        if depth > 20 or v is None or isinstance(v, (str, bytes, numbers.Number, np.generic, type,
                                                     types.ModuleType, types.FunctionType)):
            return
        if id(v) in seen:
            return
        seen.add(id(v))
        if isinstance(v, dict):
            parts = list(v.values())
        elif isinstance(v, (list, tuple)):
            parts = list(v)
        elif hasattr(type(v), "__sct_kind__") or not hasattr(v, "__dict__") or _sct_wrapper(v):
            return
        else:
            parts = list(vars(v).values())
        for part in parts:
            visit(part, depth + 1)

    for a in args:
        visit(a, 0)
    return datas, plain


# What the walks of tied dlarrays (aliased_dlarrays, _tied_totals: they must agree) do not look into. A bound
# method: vars() of it are its function's, an accelerated function's caches, whose entries held a dlarray of an
# earlier call (was: dlfeval(f, acc_method, dlarray(x)) refused as tied).
_TIE_LEAVES = (str, bytes, numbers.Number, np.generic, type, types.ModuleType, types.FunctionType, types.MethodType)


def aliased_dlarrays(args, split=None, opaque=None) -> frozenset:
    """The ids of the data of the dlarrays that ``args`` hold at more than one place (lists,
    tuples, dicts, dataclasses and objects' attributes, nested; sct's networks, whose learnables
    are their own, not read).  ``split``: a set given is filled with those of them whose data another
    dlarray object holds too (``dlarray(a)`` twice: two variables of one memory, which project_tied's
    walk, reading the data, cannot tell apart).  ``opaque``: a list given is filled with ``(what, holder)``
    for the holders the arguments' kinds do not follow, whose dlarrays the code reads as constants (a
    deque, a mapping proxy, a set, an object array, a dict's keys, a class attribute: note_opaque)."""
    counts: dict = {}               # id of a dlarray -> the places it is met at
    classes: set = set()
    found: list = []                # the dlarrays met, once each
    inside: dict = {}               # id of a container read -> the dlarrays it holds
    on_path: set = set()
    cut = [0]                       # on-path containers met (cycles cut) so far
    budget = [_TIED_BUDGET]

    plain: list = []                # the plain arrays met (split: may share a tied dlarray's memory)

    def visit(v, depth):
        if isinstance(v, _dlarray):
            if id(v) not in counts:
                found.append(v)
            counts[id(v)] = counts.get(id(v), 0) + 1
            return [v]
        if opaque is not None and type(v) is np.ndarray and v.dtype.kind == "O":
            opaque.append(("an object array", v))
        if type(v) is np.ndarray and split is not None:
            plain.append(v)
            return []
        if depth > 60 or v is None or isinstance(v, (np.ndarray,) + _TIE_LEAVES):
            return []
        key = id(v)
        if key in on_path:          # a cycle (a layer's owner): read once
            cut[0] += 1
            return []
        if key in inside:           # one container at two places: what it holds is held twice
            for a in inside[key]:
                counts[id(a)] += 1
            return inside[key]
        if opaque is not None and type(v) in _OPAQUE_HOLDERS:
            if not (type(v) is np.ndarray and v.dtype.kind != "O"):
                opaque.append((_OPAQUE_HOLDERS[type(v)], v))
            return []
        budget[0] -= 1
        if isinstance(v, dict):
            parts = list(v.values())
            if opaque is not None and not _NO_DLARRAY_ITEMS.issuperset(map(type, v)):
                opaque.append(("a dict's keys", list(v)))        # (layers as keys: for l in self.order)
        elif isinstance(v, (list, tuple)):
            parts = list(v)
        elif hasattr(type(v), "__sct_kind__") or _sct_wrapper(v):
            return []
        elif not hasattr(v, "__dict__"):
            # a @dataclass(slots=True) (kind_of follows its fields; was: P(W, W) differentiated as two
            # variables, a gradient without the other field's part, red team 49)
            if not dataclasses.is_dataclass(v) or isinstance(v, type):
                return []
            parts = [getattr(v, f.name, None) for f in dataclasses.fields(v)]
        else:
            try:
                parts = list(vars(v).values())
            except TypeError:
                return []
            if opaque is not None and type(v) not in classes:
                classes.add(type(v))
                _opaque_class_attributes(type(v), opaque)
        on_path.add(key)
        held = []
        before = cut[0]
        for part in parts:
            held.extend(visit(part, depth + 1))
        on_path.discard(key)
        if cut[0] == before or budget[0] < 0:
            # (not where its walk cut a cycle: what it holds then lacks the on-path object's arrays, which
            # another place reaching it holds; was: cached so, ``self.layers = [self.a, self.b]`` with
            # ``self.a.siblings = self.layers`` counted net.a.W at one place, a zero gradient by it)
            inside[key] = held
        return held

    visit(args, 0)
    if budget[0] < 0:               # (walked too long to count: every dlarray taken as tied, whose sum refuses)
        return frozenset(id(a._data) for a in found)
    ids = frozenset(id(a._data) for a in found if counts[id(a)] > 1)
    if split is not None and ids:
        owners: dict = {}
        for a in found:
            owners[id(a._data)] = owners.get(id(a._data), 0) + 1
        split.update(k for k in ids if owners[k] > 1)
        split.update(_sharing_memory(ids, found, plain))
    return ids


def _sharing_memory(ids, found, plain):
    """The ids in ``ids`` (of tied dlarrays' data) whose memory another array the arguments hold shares: a
    view (``W.T``, ``W[0]``, ``W.reshape(9)``), another dlarray of a view, a plain array that is the data
    (was: summed without the view's part, which plain Python moves with W; project_tied refuses these)."""
    groups: dict = {}              # the buffer an array's memory is in -> (its data's id, the data)
    for d in [a._data for a in found] + plain:
        if not isinstance(d, np.ndarray):
            continue
        root = d
        while isinstance(root, np.ndarray) and root.base is not None:
            root = root.base
        groups.setdefault(id(root), {})[id(d)] = d
    out = set()
    for members in groups.values():
        for k, d in members.items():
            if k in ids and (any(e is d for e in plain) or
                             any(j != k and _overlapping(d, e) for j, e in members.items())):
                out.add(k)
    return out


def _overlapping(a, b) -> bool:
    try:
        return bool(np.shares_memory(a, b, max_work=10000))
    except Exception:               # (too hard to tell: taken as sharing, refused)
        return True
_OPAQUE_HOLDERS = {collections.deque: "a deque", types.MappingProxyType: "a mapping proxy", set: "a set",
                   frozenset: "a frozenset"}


def _opaque_class_attributes(cls, opaque: list) -> None:
    """``(what, value)`` into ``opaque`` for the attributes of ``cls`` (its user classes') that may hold a dlarray
    (not methods, properties, numbers, strings): read through an object (``self.W``, ``type(self).W``) they are
    constants to the code (was: a class attribute tied to an argument's dlarray, a gradient without its use)."""
    for k in cls.__mro__[:-1]:
        if not _users_code(k):
            continue
        for name, a in list(vars(k).items()):
            if type(a) in _NO_DLARRAY_ITEMS or name.startswith("__") or hasattr(type(a), "__get__") or \
                    isinstance(a, (type, types.ModuleType)):
                continue
            opaque.append((f"the class attribute {k.__qualname__}.{name}", a, name))


def opaque_leaves(opaque, names=None) -> list:
    """``(what, dlarray)`` for the dlarrays that ``opaque`` (aliased_dlarrays') holders reach; a class attribute
    only where ``names`` (a function giving the names the code may read, None for all) has its name (was: a
    registry of instances, ``Model.instances``, that the code never reads refused every gradient)."""
    allowed = _NOT_FOUND
    out = []
    for entry in opaque:
        if len(entry) == 3:
            if allowed is _NOT_FOUND:
                allowed = names() if names is not None else None
            if allowed is not None and entry[2] not in allowed:
                continue
        out += [(entry[0], leaf) for leaf in _dlarrays_of(entry[1])]
    return out


def note_opaque(leaves) -> None:
    """Note for this run the dlarrays ``leaves`` (opaque_leaves): a gradient with respect to one is refused
    (project), its place there a constant to the code."""
    s = WALK_NOTES[0].state() if WALK_NOTES else None
    if s is None or s.depth <= 0:
        return
    held = s.captured
    for what, leaf in leaves:
        key = id(leaf._data)
        if key not in held:
            held[key] = (leaf, _Opaque(f"{what} held by the arguments of dlfeval"), None)
    _CAPTURED.held = held
    CAPTURED_NOTED[0] = True


_PLAIN_PARTS = (str, bytes, numbers.Number, np.ndarray, np.generic, type, types.ModuleType, types.FunctionType,
                types.BuiltinFunctionType, types.MethodType)
_LEAF_TYPES = frozenset({type(None), bool, int, float, complex, str, bytes, np.float64, np.float32,
                         np.int64, np.bool_, types.FunctionType, types.ModuleType})
# (np.ndarray and type are not leaves of written_reached_twice: an object array's items, a class's attributes
# may hold the written object: was ``oa[0].h``, ``M.instances[-1].h`` read as constants, red team 49)
# (the library's top-level modules, whose classes' attributes are not the user's objects; was named
# _LIBRARY_ROOTS, which a list of paths later in this module rebinds, so _class_parts took every class of an
# MRO, object's and the library's too, for the user's)
_LIBRARY_MODULES = frozenset({"builtins", "numpy", "sct", "collections", "abc", "typing", "enum", "dataclasses",
                              "functools", "weakref", "types", "logging", "threading", "multiprocessing", "queue",
                              "asyncio", "concurrent", "socket", "subprocess", "sqlite3"})


_WALKED_CLASSES: dict = {}     # class -> whether _parts_of reads its objects' attributes (kept per class)
_CLASS_PARTS: dict = {}        # class -> (its slots' attribute names, the user classes of its MRO) (per class)


def _walked_class(cls) -> bool:
    """Are objects of ``cls`` read by their attributes (not sct's networks and wrappers, the standard
    library's services, numbers, code, arrays)?"""
    known = _WALKED_CLASSES.get(cls)
    if known is None:
        known = not (issubclass(cls, _PLAIN_PARTS) or issubclass(cls, _dlarray) or hasattr(cls, "__sct_kind__") or
                     getattr(cls, "__sct_wraps__", False) is True or
                     module_top(cls) in _SERVICE_MODULES)
        if len(_WALKED_CLASSES) > 4096:
            _WALKED_CLASSES.clear()
        _WALKED_CLASSES[cls] = known
    return known


def _class_parts(cls) -> tuple:
    """(the attribute names of ``cls``'s slots, its MRO's classes that are the user's (not the library's,
    whose class attributes are not the user's objects)), kept per class."""
    known = _CLASS_PARTS.get(cls)
    if known is None:
        slots: list = []
        for k in cls.__mro__:
            declared = vars(k).get("__slots__", ())
            for name in ((declared,) if isinstance(declared, str) else declared):
                if not isinstance(name, str) or name in ("__dict__", "__weakref__"):
                    continue
                if name.startswith("__") and not name.endswith("__"):      # (a private name, mangled)
                    name = f"_{k.__name__.lstrip('_')}{name}"
                if name not in slots:
                    slots.append(name)
        users = tuple(k for k in cls.__mro__
                      if module_top(k) not in _LIBRARY_MODULES)
        known = (tuple(slots), users)
        if len(_CLASS_PARTS) > 4096:
            _CLASS_PARTS.clear()
        _CLASS_PARTS[cls] = known
    return known


def _parts_of(v):
    """The ``((kind, key), part)`` an object or container holds, as sct's kinds read them, and the ways code
    may reach further from it: an object's slots (a ``@dataclass(slots=True)``), its class (kind "class": its
    class attributes, ``type(m).last``), a class's attributes (its MRO's user classes), a deque's or set's items
    (kind "member"), an object array's items, a weakref's object (kind "ref")  (None: a leaf, or sct's networks
    and wrappers, the standard library's services, whose parts are not the user's).  Was: only dicts, lists,
    tuples and ``__dict__``: ``DCS(m).m.h``, ``deque([m])[0].h``, ``M.instances[-1].h`` read as constants."""
    if isinstance(v, dict):
        return [(("item", k), p) for k, p in dict.items(v)]
    if isinstance(v, (list, tuple)):
        return [(("item", j), p) for j, p in enumerate(v)]
    cls = type(v)
    if cls is np.ndarray:
        return [(("item", j), p) for j, p in enumerate(v.ravel().tolist())] if v.dtype.hasobject else None
    if isinstance(v, type):
        users = _class_parts(v)[1]
        if not users or issubclass(v, _dlarray) or hasattr(v, "__sct_kind__"):
            return None
        parts, seen = [], set()
        for k in users:
            for name, p in vars(k).items():
                if name not in seen and not (name.startswith("__") and name.endswith("__")):
                    seen.add(name)
                    parts.append((("attr", name), p))
        return parts
    if isinstance(v, weakref.ref):
        return [(("ref", None), v())]
    if isinstance(v, (collections.deque, set, frozenset, types.MappingProxyType)):
        return [(("member", None), p) for p in (v.values() if isinstance(v, types.MappingProxyType) else v)]
    if not _walked_class(cls):
        return None
    slots, users = _class_parts(cls)
    d = getattr(v, "__dict__", None)
    parts = [(("attr", k), p) for k, p in d.items()] if type(d) is dict else []
    for name in slots:
        p = getattr(v, name, _UNSET_SLOT)
        if p is not _UNSET_SLOT:
            parts.append((("attr", name), p))
    if users:
        parts.append((("class", None), cls))
    return parts


_UNSET_SLOT = object()

# what written_reached_twice walks besides _parts_of (was: a function's attributes and defaults, an iterator's
# items, a dict view's, an exception's args taken for leaves: ``loss.cell.h``, ``next(IT[0]).h`` of the
# written argument read as constants, a silently wrong gradient, red team 52 F6)
_MAY_REACH_ANY = object()       # (an object whose contents cannot be walked without running it: a generator)
_DICT_VIEWS = frozenset((type({}.keys()), type({}.values()), type({}.items())))
_DICT_ITERATORS = frozenset(type(i) for i in (iter({}), iter({}.values()), iter({}.items()), reversed({}),
                                               reversed({}.values()), reversed({}.items())))
_REDUCED_ITERATORS = frozenset(type(i) for i in (
    iter([]), iter(()), iter(set()), reversed([]), reversed(()), enumerate(()), zip(), filter(None, ()),
    iter(range(0)), iter("")))
_BOUND_BUILTINS = frozenset((types.BuiltinMethodType, types.MethodWrapperType))


def _reached_parts(v):
    """The parts ``v`` reaches that _parts_of does not read (a function's ``__dict__``, ``__defaults__`` and
    ``__kwdefaults__``, a mapping proxy's, a dict view's or a dict iterator's dict, a builtin method's object,
    a list, tuple or set iterator's, an enumerate's, zip's or filter's source (by its ``__reduce__``, which
    runs nothing), an exception's args), None for other objects,
    _MAY_REACH_ANY for one that yields what code it runs gives (a generator, a map of a Python function)."""
    cls = type(v)
    if cls is types.FunctionType:
        if not _users_code(v):          # (sct's, numpy's, the standard library's: not the user's objects)
            return []
        parts = [(("attr", k), p) for k, p in v.__dict__.items()]
        if v.__defaults__:
            parts.append((("attr", "__defaults__"), v.__defaults__))
        if v.__kwdefaults__:
            parts.append((("attr", "__kwdefaults__"), v.__kwdefaults__))
        # its closure's values and the globals its code names (was: a function given as an argument, or held, that
        # reads the written dict or object, ``rd = lambda x: np.sum(D["y"] * x)``, read it as a constant: a gradient
        # of x0 where 4 x0, redf4_52 W1/G2)
        for cell in v.__closure__ or ():
            try:
                parts.append((("attr", "__closure__"), cell.cell_contents))
            except ValueError:          # (an empty cell)
                pass
        names, g = _code_global_names(v.__code__), v.__globals__
        parts += [(("attr", n), g[n]) for n in names if n in g]
        return parts
    if isinstance(v, property):
        # (its accessors, walked as functions are: was a leaf, so a dict held in a property's closure of another
        # argument's class, ``o.d`` reading state["rnn"] written in the function, was not met twice, a gradient of
        # half, red2st53 F6)
        return [(("attr", k), getattr(v, k)) for k in ("fget", "fset", "fdel") if getattr(v, k) is not None]
    if isinstance(v, (staticmethod, classmethod)):
        return [(("attr", "__func__"), v.__func__)]
    if isinstance(v, functools.cached_property):
        return [(("attr", "func"), v.func)]
    if cls is types.MethodType:
        return [(("attr", "__self__"), v.__self__), (("attr", "__func__"), v.__func__)] if _users_code(v.__func__) \
            else [(("attr", "__self__"), v.__self__)]
    if isinstance(v, functools.partial):
        return [(("attr", "func"), v.func), (("attr", "args"), v.args), (("attr", "keywords"), v.keywords)]
    if cls is types.MappingProxyType or cls in _DICT_VIEWS or cls in _DICT_ITERATORS:
        # (the mapping it shows or walks, itself: was a view's and an iterator's items only, so a dict written
        # into and read through ``d.values()`` or ``iter(d.values())`` given too was not met twice, a gradient
        # of half, red2st53 F4)
        return [(("member", None), m) for m in __import__("gc").get_referents(v) if isinstance(m, dict)]
    if cls in _BOUND_BUILTINS:
        # (a builtin's or a slot's method bound to an object: ``d.get``, ``vars(c).get``, ``c.__getattribute__``
        # reach ``d``, ``c``'s fields, ``c``: was a leaf, red2st53 F4/F5)
        return [(("attr", "__self__"), v.__self__)]
    if cls in _REDUCED_ITERATORS or cls is map and isinstance(v.__reduce__()[1][0], types.BuiltinFunctionType) \
            or cls.__module__ == "itertools":
        try:
            reduced = v.__reduce__()
        except Exception:
            return _MAY_REACH_ANY
        if not (isinstance(reduced, tuple) and len(reduced) > 1 and isinstance(reduced[1], tuple)):
            return _MAY_REACH_ANY
        state = reduced[2:3] if len(reduced) > 2 and reduced[2] is not None else ()
        return [(("member", None), p) for p in reduced[1] + tuple(state)]
    if isinstance(v, BaseException):
        if v.__traceback__ is not None:
            return _MAY_REACH_ANY       # (its frames' locals)
        parts = list(_parts_of(v) or ()) + [(("attr", "args"), v.args)]
        return parts + [(("attr", k), getattr(v, k)) for k in ("__cause__", "__context__") if getattr(v, k)]
    if isinstance(v, (types.GeneratorType, types.AsyncGeneratorType, types.CoroutineType, map)) or \
            cls.__name__ == "callable_iterator":
        return _MAY_REACH_ANY
    return None


def _code_global_names(code) -> tuple:
    """The names a code object and the code nested in it may read as globals (co_names)."""
    names, stack = [], [code]
    while stack:
        c = stack.pop()
        names += c.co_names
        stack += [k for k in c.co_consts if isinstance(k, types.CodeType)]
    return tuple(dict.fromkeys(names))


_TWICE_LEAVES = _LEAF_TYPES - {types.FunctionType}


# names whose use in code may read any attribute of a class, by a name not written in the code
DYNAMIC_READS = frozenset({"getattr", "vars", "__dict__", "getmembers", "attrgetter", "__getattribute__", "dir",
                           "getattr_static", "methodcaller", "getmembers_static", "__mro__", "mro", "eval", "exec",
                           "locals", "compile"})
_CLASS_NAMES: dict = {}         # class -> the names its user classes' code names (None: it may read any), per class


def code_names(code):
    """The names ``code`` and its nested code name (``co_names``); None where it may read attributes by names
    it does not write (DYNAMIC_READS)."""
    names: set = set()
    todo = [code]
    while todo:
        c = todo.pop()
        if isinstance(c, types.CodeType):
            names.update(c.co_names)
            todo.extend(c.co_consts)
    return None if names & DYNAMIC_READS else frozenset(names)


CONSTRUCTORS = frozenset({"__init__", "__new__", "__init_subclass__", "__set_name__"})
# (names through which code may build an object of a class it does not name: then its constructors may run)
BUILDS_BY_TYPE = frozenset({"type", "__class__"})


def class_code_names(cls, constructors: bool = False):
    """The names (``co_names``) the code of ``cls``'s user classes names (methods, static and class methods,
    properties' accessors, their nested code; ``constructors``: __init__ and __new__ too, which run only where
    code builds an object of the class); None where that code may read attributes by names it does not
    write (getattr, vars, ``__dict__``: DYNAMIC_READS).  Kept per class."""
    key = (cls, constructors)
    if key in _CLASS_NAMES:
        return _CLASS_NAMES[key]
    names: set = set()
    for k in _class_parts(cls)[1]:
        for attr, v in vars(k).items():
            if attr in CONSTRUCTORS and not constructors:
                continue
            if isinstance(v, (staticmethod, classmethod)):
                v = v.__func__
            parts = (v.fget, v.fset, v.fdel) if isinstance(v, property) else (v,)
            for f in parts:
                code = getattr(f, "__code__", None)
                more = code_names(code) if isinstance(code, types.CodeType) else frozenset()
                if more is None:
                    names = None
                    break
                names |= more
            if names is None:
                break
        if names is None:
            break
    found = None if names is None else frozenset(names)
    if len(_CLASS_NAMES) > 4096:
        _CLASS_NAMES.clear()
    _CLASS_NAMES[key] = found
    return found


def _class_attributes(cls, allowed):
    """_parts_of of the class ``cls``, its attributes named in ``allowed`` only (None: all)."""
    parts = _parts_of(cls) or ()
    return parts if allowed is None else [(step, p) for step, p in parts if step[1] in allowed]


def written_reached_twice(args, positions, extra=(), names=None):
    """written_reached_twice_in's answer (its paths), where ``names`` (the names the code the function may
    run names, None: not known) says which class attributes code may read: a class's attributes are walked
    only where some code names them (or the code of a class met reads attributes by computed names).  Was:
    every class attribute walked, so a registry of instances (``class M: instances = []`` appended to in
    __init__) refused every traced write on an instance, read or not."""
    if names is None:
        return written_reached_twice_in(args, positions, extra)
    allowed = _allowed_names(args, extra, names)
    return written_reached_twice_in(args, positions, extra, allowed)


def _allowed_names(args, extra, names):
    """The attribute names code may read of the classes ``args`` and ``extra`` reach: ``names`` and the names
    the code of each class met names (its methods may run), grown to a fixed point (a class attribute walked
    may hold objects of further classes); None where any of that code reads by computed names."""
    allowed = set(names)
    met: set = set()
    done: set = set()
    stack = list(args) + [v for _, v in extra]
    classes: list = []
    while True:
        while stack:
            v = stack.pop()
            cls = type(v)
            if cls is types.MethodType or cls is functools.partial:
                v = getattr(v, "__func__", None) or getattr(v, "func", None)
                cls = type(v)
            if cls is types.FunctionType:
                # (a function an object holds, ``self.act = fn``, may run: the names its code names)
                more = code_names(v.__code__)
                if more is None:
                    return None
                allowed |= more
                if id(v) not in done:       # (its attributes and defaults)
                    done.add(id(v))
                    stack += [p for _, p in _reached_parts(v)]
                continue
            if cls in _LEAF_TYPES or cls is _dlarray or id(v) in done:
                continue
            done.add(id(v))
            if isinstance(v, type):
                classes.append(v)
                continue
            parts = _reached_parts(v)
            if parts is _MAY_REACH_ANY:
                continue
            parts = _parts_of(v) if parts is None else parts
            if parts:
                stack += [p for _, p in parts]
        grown = False
        builds = bool(allowed & BUILDS_BY_TYPE)
        for c in classes:
            if (c, builds) not in met:
                met.add((c, builds))
                more = class_code_names(c, builds) if _class_parts(c)[1] else frozenset()
                if more is None:
                    return None
                if not more <= allowed:
                    allowed |= more
                    grown = True
        for c in classes:
            for step, p in _class_attributes(c, allowed):
                key = (id(c), step[1])
                if key not in done:
                    done.add(key)
                    stack.append(p)
        if not stack and not grown:
            return frozenset(allowed)


def _met_twice(args, extra, want, allowed=None, refs=None, paths=False):
    """The first of the ids ``want`` that the walk from ``args`` and the values ``extra`` reaches twice:
    ``(key, first path, second path)`` (with ``paths``, else None for each: ``(index, (kind, key), ...)``, an
    index past the arguments one of ``extra``; a weakref or proxy in ``refs`` arrives as its object (its key: its
    object's id)); ``(_MAY_REACH_ANY, None, path)`` where a value's contents cannot be walked without running it (a
    generator: what it yields may be the object); None where each is reached at most once.  Walks a dict's,
    list's and tuple's items, an object array's, then _reached_parts (a function's closure and globals, a bound
    method's object, an iterator's source...) or _parts_of (a class's attributes named in ``allowed`` only,
    None: all), each value once; leaves (numbers, strings, arrays, dlarrays) are not walked.  The one walk
    behind written_reached_twice_in and inner_dicts_reached_twice (was: three copies of it, which drifted: an
    inner dict reached again through a closure was not seen by one of them)."""
    refs = refs or {}
    roots = list(args) + [v for _, v in extra]
    stack = [(v, (i,)) for i, v in enumerate(roots)][::-1] if paths else roots    # (paths: (value, path) pairs)
    leaves = _TWICE_LEAVES
    met: dict = {}
    done: set = set()
    path = None
    while stack:
        if paths:
            v, path = stack.pop()
        else:
            v = stack.pop()
        cls = type(v)
        if cls in leaves or cls is _dlarray:
            continue
        key = refs.get(id(v), id(v))
        if key in want:
            if paths and key != id(v) and isinstance(v, weakref.ref):
                path = path + (("ref", None),)          # (spelled ``ref()``; a proxy, by its name)
            if key in met:
                return key, met[key], path
            met[key] = path
        if key in done:
            continue
        done.add(key)
        if not paths and (cls is dict or cls is list or cls is tuple or cls is np.ndarray):
            if cls is not np.ndarray:
                stack += v.values() if cls is dict else v
            elif v.dtype.hasobject:
                stack += v.ravel().tolist()
            continue
        parts = _reached_parts(v)
        if parts is _MAY_REACH_ANY:
            return _MAY_REACH_ANY, None, path
        if parts is None:
            parts = _parts_of(v) if allowed is None or not isinstance(v, type) else _class_attributes(v, allowed)
        if parts:
            if paths:
                stack.extend((p, path + (step,)) for step, p in reversed(parts))
            else:
                stack += [p for _, p in parts]
    return None


def written_reached_twice_in(args, positions, extra=(), allowed=None):
    """``(position, first path, second path)`` where the object ``args[position]`` (for a position in
    ``positions``: an argument whose attributes the function sets, followed by its name) is also reached
    another way from ``args`` (another argument, an item of a list, tuple or dict, an object's attribute,
    nested, a cycle back to it) or from the values ``extra`` (the globals and closure values the function
    and the code it may call read: ``(name, value)``), each path ``(index, (kind, key), ...)`` (kind "item",
    "attr", "class", "member" or "ref"; an index past the arguments is one of ``extra``); None where each is
    reached only as its own argument.  A weakref or proxy of the object counts as reaching it.  Walks what
    _met_twice walks.  Run on each call of such a function (its entry's hit too): a first walk only tells
    whether it is so (no paths kept), a second finds the paths."""
    want = {id(args[i]): i for i in positions}
    refs = {}
    for i in positions:                 # (weakref.getweakrefs: those of the object, proxies too)
        for r in weakref.getweakrefs(args[i]):
            refs[id(r)] = id(args[i])
        # (its ``__dict__`` reached is the object reached: was ``vars(c).get`` or ``vars(c)`` given too, a read
        # of the written field through it lost: half the gradient, or a ValueError in the sweep, red2st53 F5)
        fields = getattr(args[i], "__dict__", None)
        if type(fields) is dict:
            refs[id(fields)] = id(args[i])
    if _met_twice(args, extra, want, allowed, refs) is None:
        return None
    found = _met_twice(args, extra, want, allowed, refs, paths=True)
    if found is None:
        return None
    key, first, second = found
    if key is _MAY_REACH_ANY:           # (spelled ``what IT[0] may yield``)
        return positions[0], (positions[0],), second + (("yields", None),)
    return want[key], first, second


def inner_dicts_reached_twice(args, positions, extra=()):
    """``(position, keys)`` where a dict held (by dict items, at any depth) inside the dict ``args[position]``
    (an argument whose items' dicts the function writes into: ``state["bn"]["TrainedMean"] = m``, followed
    along that one path) is also reached another way from ``args`` or the values ``extra`` (another argument,
    another item: ``dlfeval(f, params, state)`` with ``state["bn"] is params["bn"]``), ``keys`` its keys from
    the argument; None where each is reached once.  sct.api._refuse_aliased_writes refuses such a call (a read
    through the other path would be of the value the dict held at entry).  Walks what _met_twice walks."""
    want: dict = {}
    for i in positions:
        stack = [(args[i], ())]
        while stack:
            v, keys = stack.pop()
            for k, p in dict.items(v):
                if type(p) is dict and id(p) not in want:
                    want[id(p)] = (i, keys + (k,))
                    stack.append((p, keys + (k,)))
    if not want:
        return None
    found = _met_twice(args, extra, want)
    if found is None:
        return None
    return next(iter(want.values())) if found[0] is _MAY_REACH_ANY else want[found[0]]


# --- what a function called as a constant reaches -------------------------------------------------
# A callable that generated code calls as a function of its arguments only (sct/transform_calls.py: a
# Python closure made outside the code sct compiled, whose captured values are constants there; a bound
# method taken as a value, whose object is; a functools.partial's frozen arguments) may read a value the
# dlfeval call differentiates (``m.fwd`` made by ``__getattr__`` as ``lambda x: x @ self.W``): the
# derivative through that read is not in the sweep.  The call notes the differentiable leaves the
# callable reaches (note_captured) for the outermost run of generated code (effects' state, cleared as
# its log is); a gradient with respect to one of them is refused (project).  Was: silently zero.
CAPTURED_NOTED = [False]        # whether any thread ever noted one: until then project reads nothing more
# .held: this thread's effects state's dict of them (the same dict for the thread's life, cleared in place
# at the end of each outermost run), for project: which reads no effects state itself (sct.api._reaches_log:
# code whose gradients reached the log would keep it on every call)
_CAPTURED = threading.local()


def _captured_roots(fn) -> list:
    """What calling ``fn`` reads besides its arguments: a partial's frozen arguments, a bound method's
    object, a function's captured values and defaults, a callable object's fields."""
    roots: list = []
    for _ in range(8):
        if type(fn) is functools.partial:
            roots += list(fn.args) + list(fn.keywords.values())
            fn = fn.func
        elif isinstance(fn, types.MethodType):
            roots.append(fn.__self__)
            fn = fn.__func__
        else:
            break
    if type(fn) is types.FunctionType:
        for cell in fn.__closure__ or ():
            try:
                roots.append(cell.cell_contents)
            except ValueError:
                pass
        roots += list(fn.__defaults__ or ()) + list((fn.__kwdefaults__ or {}).values())
    elif not isinstance(fn, (type, types.ModuleType, types.BuiltinFunctionType, Closure)) and \
            hasattr(fn, "__dict__") and not _sct_wrapper(fn):
        roots.append(fn)
    return roots


def captured_leaves(fn) -> list:
    """``(key, leaf)`` for each differentiable leaf (a dlarray, keyed by its data as project reads it; a
    float array; a float or complex number) that calling ``fn`` reaches besides its arguments, through
    lists, tuples, dicts, objects' fields and nested functions' captured values."""
    found: list = []
    seen: set = set()
    todo = [(v, 0) for v in _captured_roots(fn)]
    while todo:
        v, depth = todo.pop()
        t = type(v)
        # (the usual leaves and containers by their exact type first: this runs at each call of a
        # closure dlfeval is given)
        if t is np.ndarray:
            if v.dtype.kind in "fc":
                found.append((id(v), v))
            continue
        if t is dict or t is list or t is tuple:
            if id(v) not in seen and depth <= 60:
                seen.add(id(v))
                todo.extend([(p, depth + 1) for p in (v.values() if t is dict else v)])
            continue
        if isinstance(v, _dlarray):
            found.append((id(v._data), v))
            continue
        if isinstance(v, (np.ndarray, np.generic)):
            if v.dtype.kind in "fc":
                found.append((id(v), v))
            continue
        if isinstance(v, (float, complex)):
            found.append((id(v), v))
            continue
        if v is None or depth > 60 or isinstance(v, (str, bytes, numbers.Number, np.generic, type,
                                                     types.ModuleType, types.BuiltinFunctionType)):
            continue
        if id(v) in seen:
            continue
        seen.add(id(v))
        if isinstance(v, dict):
            parts = list(v.values())
        elif isinstance(v, (list, tuple, set, frozenset)):
            parts = list(v)
        elif isinstance(v, (types.FunctionType, types.MethodType, functools.partial)):
            parts = _captured_roots(v)
        elif hasattr(v, "__dict__") and not _sct_wrapper(v) and not service_object(v):
            try:
                parts = list(vars(v).values())
            except TypeError:
                continue
        else:
            continue
        todo.extend((p, depth + 1) for p in parts)
    return found


def state_holds_values(fn, defaults: bool = True) -> bool:
    """May the values ``fn`` (a Python function) captured, or (where ``defaults``) its defaults, reach an
    array or an object (anything but a number, a string, None, a class, a module, a builtin, a function
    capturing nothing)?"""
    for cell in fn.__closure__ or ():
        try:
            if not _atomic(cell.cell_contents):
                return True
        except ValueError:
            pass
    return defaults and any(not _atomic(v) for v in fn.__defaults__ or ()) or \
        any(not _atomic(v) for v in (fn.__kwdefaults__ or {}).values())


_ATOMIC = (numbers.Number, str, bytes, type, types.ModuleType, types.BuiltinFunctionType, type(None))


def _atomic(v) -> bool:
    if type(v) is types.FunctionType:
        return v.__closure__ is None and v.__defaults__ is None and v.__kwdefaults__ is None
    return isinstance(v, _ATOMIC)


def note_captured(fn, what, called: bool = True) -> None:
    """Note the leaves calling ``fn`` reaches besides its arguments for this outermost run of generated
    code: a gradient with respect to one is refused (project).  ``what``: what ``fn`` is, for the
    refusal (a string, or a function giving it); ``called``: by generated code (its line is noted)."""
    if not WALK_NOTES:
        return
    s = WALK_NOTES[0].state()
    if s.depth <= 0:
        return                  # (not inside a run: nothing differentiates)
    # (dlarrays only: a plain array or number captured is a constant to the caller too, as a function
    # of its argument: ``jvp(lambda w: loss(dict(c, w=w)), c["w"], v)`` perturbs a new array, not the one
    # the lambda holds; was noted, and that jvp refused)
    found = [(key, leaf) for key, leaf in captured_leaves(fn) if isinstance(leaf, _dlarray)]
    if not found:
        return
    where = _generated_line() if called else None
    held = s.captured
    for key, leaf in found:
        if key not in held:
            held[key] = (leaf, what, where)
    _CAPTURED.held = held
    CAPTURED_NOTED[0] = True


def note_outside(holders) -> None:
    """Note the dlarrays reached by the values of globals (and captured names) that generated code reads
    by name, ``holders`` ``((label, value, filename, line), ...)`` made when it was compiled (sct/compiler.py
    _note_outside_reads: its values are those its guards hold): sct reads what such a value holds as
    constants, so a gradient with respect to one of these dlarrays (the same object passed to dlfeval too:
    ``dlfeval(loss, M, x)`` of a loss reading the global ``M.W`` and ``m.W``) would lose the derivative
    through that read; project refuses it (was: the read through the global gave a zero contribution).
    Each value is walked once per outermost run."""
    if not WALK_NOTES:
        return
    s = WALK_NOTES[0].state()
    if s.depth <= 0:
        return
    held = s.captured
    for holder in holders:
        for path in holder[4]:
            value = _along(holder[1], path)
            mark = ("outside", id(value))           # (a tuple: never a leaf's key)
            if mark in held:
                continue
            held[mark] = (value, None, None)
            for leaf in _dlarrays_of(value):
                key = id(leaf._data)
                if key not in held:
                    held[key] = (leaf, holder, None)
    _CAPTURED.held = held
    CAPTURED_NOTED[0] = True


def _along(value, path):
    """What the code reads from ``value`` along ``path`` (("attr", name) / ("item", key) steps), as far as
    it is an instance's own field, a dict's item or a list's or tuple's: a step that would run code (a
    property, ``__getitem__``) or is absent stops there, the value reached so far walked whole."""
    for step, key in path:
        if step == "attr" and isinstance(value, type):
            # a class's attribute (Config.model, Holder.items: was a class taken for no holder, a gradient
            # without the read through it); a method, property or other descriptor: the class walked whole
            found = next((k.__dict__[key] for k in value.__mro__ if key in k.__dict__), _NOT_FOUND)
            if found is _NOT_FOUND or hasattr(type(found), "__get__"):
                return value
            value = found
        elif step == "attr":
            fields = getattr(value, "__dict__", None)
            if type(fields) is not dict or key not in fields or \
                    hasattr(type(getattr(type(value), key, None)), "__set__"):
                return value
            value = fields[key]
        elif type(value) is dict:
            if key not in value:
                return value
            value = value[key]
        elif (type(value) is list or type(value) is tuple or type(value) is collections.deque) and type(key) is int \
                and -len(value) <= key < len(value):
            value = value[key]
        else:
            return value
    return value


def note_default(value, holder) -> None:
    """note_outside of a helper's parameter's default (``holder``), where the call left it out (``value`` is it)."""
    if value is holder[1]:
        note_outside((holder,))


# the item types of a container that hold no dlarray (a data set's list of plain arrays: one pass in C)
_NO_DLARRAY_ITEMS = frozenset({np.ndarray, float, int, bool, complex, str, bytes, type(None), np.float64,
                               np.float32, np.int64, np.int32, np.bool_})


def _dlarrays_of(value) -> list:
    """The dlarrays ``value`` reaches (note_outside): as captured_leaves, dlarrays only, and a list, tuple or
    dict whose items are all plain arrays, numbers or strings taken in one step (a global data set read by
    the code costs one pass over its items' types, not a walk of each)."""
    found: list = []
    seen: set = set()
    todo = [(value, 0)]
    no_dlarray = _NO_DLARRAY_ITEMS
    classes = _FIELD_CLASSES
    while todo:
        v, depth = todo.pop()
        t = type(v)
        if t in no_dlarray and (t is not np.ndarray or v.dtype.kind != "O"):
            continue
        if t is _dlarray:
            found.append(v)
            continue
        if depth > 60 or id(v) in seen:
            continue
        if t is dict or t is list or t is tuple:
            seen.add(id(v))
            if t is dict:
                if v is sys.modules:        # (sys.modules[__name__].MODEL: the user's modules' globals)
                    todo.extend([(m.__dict__, depth + 1) for m in list(v.values()) if _user_module(m)])
                    continue
                if not no_dlarray.issuperset(map(type, v)):
                    todo.extend([(p, depth + 1) for p in v])   # (layers as a dict's keys: was not walked)
            items = v.values() if t is dict else v
            if len(items) > 8 and no_dlarray.issuperset(map(type, items)):
                continue
            todo.extend([(p, depth + 1) for p in items])
            continue
        fields = classes.get(t)
        if fields is None:          # (once per class: an object of the user's whose fields are walked)
            fields = classes[t] = t is not _LRU_WRAPPER and not isinstance(v, (str, bytes, numbers.Number, np.ndarray, np.generic, type,
                                                     types.ModuleType, types.BuiltinFunctionType, dict, list,
                                                     tuple, set, frozenset, types.FunctionType, types.MethodType,
                                                     functools.partial, _dlarray)) and \
                hasattr(v, "__dict__") and not _sct_wrapper(v) and not service_object(v)
        seen.add(id(v))
        if fields:
            try:
                parts = list(vars(v).values())
            except TypeError:
                continue
        elif isinstance(v, _dlarray):
            found.append(v)
            continue
        elif isinstance(v, np.ndarray) and v.dtype.kind == "O":
            parts = list(v.flat)            # (an object array holding layers: was taken for a plain one)
        elif isinstance(v, type) and _users_code(v):
            # a user's class: its attributes other than methods and descriptors (Holder.items, Config.model)
            parts = [a for k in v.__mro__[:-1] if _users_code(k)
                     for a in list(vars(k).values()) if not hasattr(type(a), "__get__")]
        elif isinstance(v, (str, bytes, numbers.Number, np.ndarray, np.generic, type, types.ModuleType,
                            types.BuiltinFunctionType)):
            continue
        elif isinstance(v, (dict, types.MappingProxyType)):
            parts = list(v.values()) + list(v.keys())
        elif isinstance(v, (list, tuple, set, frozenset, collections.deque)):
            parts = list(v)
        elif type(v) is weakref.ref:
            parts = [v()]
        elif t is _LRU_WRAPPER:
            # (an lru_cache'd getter called by name, cached().W: what its cache holds is what the function
            # reads; was: a gradient without the read through it)
            parts = [r for _, r in _untraced_reads(v, getattr(v, "__qualname__", "the function"), False)]
        elif isinstance(v, (types.FunctionType, types.MethodType, functools.partial)):
            # (not a function's defaults: a call giving that argument does not read them, and sct compiles a
            # helper that does with its own note; was: predict(x, params) of def predict(x, params=PARAMS)
            # refused with PARAMS given to dlfeval)
            parts = [p for p in _captured_roots(v) if not _is_default_of(p, v)]
        else:
            continue
        todo.extend([(p, depth + 1) for p in parts])
    return found


def _is_default_of(value, fn) -> bool:
    """Whether ``value`` is one of the defaults of the function ``fn`` is, binds or wraps (and not held otherwise)."""
    for _ in range(8):
        if type(fn) is functools.partial:
            if any(value is a for a in fn.args) or any(value is a for a in fn.keywords.values()):
                return False
            fn = fn.func
        elif isinstance(fn, types.MethodType):
            if fn.__self__ is value:
                return False
            fn = fn.__func__
        else:
            break
    if type(fn) is not types.FunctionType:
        return False
    for cell in fn.__closure__ or ():
        try:
            if cell.cell_contents is value:
                return False
        except ValueError:
            pass
    return any(value is d for d in fn.__defaults__ or ()) or any(value is d for d in (fn.__kwdefaults__ or {}).values())


_FIELD_CLASSES: dict = {}       # class -> whether _dlarrays_of walks its objects' fields (their __dict__)
_NOT_FOUND = object()
_LRU_WRAPPER = type(functools.lru_cache()(lambda: None))
_NOT_USER_ROOTS = frozenset(getattr(sys, "stdlib_module_names", ())) | {"numpy", "scipy", "sct", "runtime", "gast",
                                                                      "pytest", "_pytest", "builtins"}


def _user_module(m) -> bool:
    """Whether ``m`` is a module of the user's (not the standard library's, numpy's, sct's or an installed
    package's): its globals may hold the user's model."""
    if not isinstance(m, types.ModuleType):
        return False
    name = getattr(m, "__name__", None)
    if not isinstance(name, str) or name_top(name) in _NOT_USER_ROOTS:
        return False
    file = getattr(m, "__file__", None) or ""
    return name == "__main__" or bool(file) and "-packages" not in file


def _users_code(k) -> bool:
    """A class or function of the user's: of a module of the user's, or of code whose origin is not known
    (exec'd in globals without ``__name__``: a class's ``__module__`` "builtins", a function's None; was
    taken for Python's own, the values it holds not followed, red52)."""
    module = getattr(k, "__module__", None)
    if module is None:
        return isinstance(k, (type, types.FunctionType))
    return _user_module(sys.modules.get(module)) or module_name(k) == ""


class _Untraced(str):
    """What note_untraced noted a dlarray for: the call sct ran without differentiating it (the refusal's text)."""


class _Opaque(str):
    """What note_opaque noted a dlarray for: the holder in the arguments sct does not follow (the refusal's text)."""


def note_untraced(fn, value) -> None:
    """A call of the user's code that generated code runs as it is (rt.user_call: no traced argument, its
    result a constant) whose result holds a dlarray: a getter returning a global model (``getm().W``, an
    lru_cache'd one), or a helper of another module computing from its module's global (``from mymodel
    import predict``; ``gmod2.term(x)`` reading gmod2.MODEL): the dlarrays the result and the globals the
    callee (and the functions it names) reads by name reach are noted for the run, and a gradient with
    respect to one of them refused (project).  Was: the read through the call a constant, the gradient
    without its part ([3, 4] where [5, 8])."""
    if type(value) in _NO_DLARRAY_ITEMS or not WALK_NOTES:
        return
    s = WALK_NOTES[0].state()
    if s.depth <= 0 or not _dlarrays_of(value):
        return
    name = call_name(fn)
    if type(fn) is weakref.ref:         # (self.src().W of a layer's weak reference to another)
        roots = [("the object a weak reference (weakref.ref) gives", value)]
    else:
        roots = [(f"the value {name}() returns", value)] + _untraced_reads(fn, name)
    where = _generated_line()
    held = s.captured
    for what, root in roots:
        for leaf in _dlarrays_of(root):
            key = id(leaf._data)
            if key not in held:
                held[key] = (leaf, _Untraced(what), where)
    _CAPTURED.held = held
    CAPTURED_NOTED[0] = True


def _untraced_reads(fn, name: str, named: bool = True) -> list:
    """``(label, value)`` for what ``fn`` (and the functions of the user's it names, a few calls deep) reads by
    name: its globals (a user module's attributes it names too), captured values and bound object."""
    out: list = []
    seen: set = set()
    todo = [(fn, 0)]
    words: set = set()          # the names and string constants of the code visited (the keys it may read)
    while todo:
        f, depth = todo.pop()
        if id(f) in seen or depth > 4:
            continue
        seen.add(id(f))
        for _ in range(8):
            if type(f) is functools.partial:
                out += [(f"an argument frozen in {name}", a) for a in list(f.args) + list(f.keywords.values())]
                f = f.func
            elif isinstance(f, types.MethodType):
                out.append((f"the object {name}() is bound to", f.__self__))
                f = f.__func__
            elif hasattr(f, "__wrapped__") and not isinstance(f, types.FunctionType):
                f = f.__wrapped__               # (a functools.lru_cache'd function)
            else:
                break
        if isinstance(f, type):
            if _users_code(f):
                todo += [(a, depth + 1) for k in f.__mro__[:-1] for a in vars(k).values()
                         if isinstance(a, types.FunctionType)]
            continue
        if type(f) is not types.FunctionType or not _users_code(f):
            continue
        for cell in f.__closure__ or ():
            try:
                out.append((f"a value {f.__qualname__}() captures", cell.cell_contents))
            except ValueError:
                pass
        names: set = set()
        codes = [f.__code__]
        while codes:
            c = codes.pop()
            names.update(c.co_names)
            words.update(k for k in c.co_consts if type(k) is str)
            codes += [k for k in c.co_consts if isinstance(k, types.CodeType)]
        words |= names
        g = f.__globals__
        for n in names:
            v = g.get(n, _NOT_FOUND)
            if v is _NOT_FOUND:
                continue
            if isinstance(v, types.ModuleType):
                if _user_module(v):         # (gmod.MODEL read by the helper)
                    for a in names:
                        w = v.__dict__.get(a, _NOT_FOUND)
                        if isinstance(w, (types.FunctionType, type)):
                            todo.append((w, depth + 1))
                        elif w is not _NOT_FOUND and not isinstance(w, types.ModuleType):
                            out.append((f"the global {v.__name__}.{a}, which {f.__qualname__}() reads", w))
            elif isinstance(v, (types.FunctionType, type, functools.partial)) or hasattr(v, "__wrapped__"):
                todo.append((v, depth + 1))
                if isinstance(v, type):
                    out.append((f"the class {v.__qualname__}, which {f.__qualname__}() reads", v))
            else:
                out.append((f"the global {g.get('__name__', '?')}.{n}, which {f.__qualname__}() reads", v))
    # a dict's items, an object's fields: those under the keys and names the code names only (CFG["lr"] of a
    # global also holding the model; was: the model noted, a gradient refused)
    return [(what, _named_parts(v, words)) for what, v in out] if named else out


def _named_parts(v, words):
    if type(v) is dict:
        return [p for k, p in v.items() if type(k) is not str or k in words]
    fields = getattr(v, "__dict__", None)
    if type(fields) is dict and not isinstance(v, (type, types.FunctionType)) and _FIELD_CLASSES.get(type(v), True):
        return [p for k, p in fields.items() if k in words]
    return v


def _generated_line():
    """(file, line) of the innermost generated code running now (mapped to the user's at a refusal), or None."""
    frame = sys._getframe(2)
    for _ in range(60):
        if frame is None:
            return None
        if frame.f_code.co_filename.startswith("<sct-generated"):
            return frame.f_code.co_filename, frame.f_lineno
        frame = frame.f_back
    return None


def _refuse_captured_target(x) -> None:
    marks = getattr(_CAPTURED, "held", None)
    if not marks:
        return
    held = marks.get(id(x._data if isinstance(x, _dlarray) else x))
    if held is None or not (held[0] is x or isinstance(held[0], _dlarray) and held[0]._data is x or
                            isinstance(x, _dlarray) and held[0] is x._data):
        return
    if type(held[1]) is tuple:          # a global read by name (note_outside)
        label, _, filename, line = held[1][:4]
        raise ValueError(
            f"dlgradient: the value to differentiate with respect to is also reached through {label}, which "
            f"the code reads by name ({filename}, line {line}): sct reads what a global (or a value a function "
            f"captures) holds as constants, only the arguments of dlfeval are traced, so the derivative through "
            f"that read would be lost. Read the value through the argument that holds it (m.W where the global's "
            f"M.W was read), or pass what the code reads there to the function as an argument")
    where = LINES.user_line(*held[2]) if held[2] is not None and LINES.user_line is not None else None
    if type(held[1]) is _Opaque:        # (note_opaque)
        raise ValueError(
            f"dlgradient: the value to differentiate with respect to is also reached through {held[1]}, which sct "
            f"does not follow as part of the arguments: what the code reads there is a constant, so the derivative "
            f"through that read would be lost. Hold the object in a field, a list, a tuple or a dict's values "
            f"(not a deque, a set, a mapping proxy, a dict's keys, an object array or a class attribute)")
    if type(held[1]) is _Untraced:      # (note_untraced)
        at = f" ({where[0]}, line {where[1]})" if where is not None else ""
        raise ValueError(
            f"dlgradient: the value to differentiate with respect to is also reached through {held[1]}, in a "
            f"call{at} that sct runs as it is, not differentiating it (none of its arguments is traced): what it "
            f"reads from a global (or the value it returns) is a constant there, so the derivative through that "
            f"read would be lost. Pass the model (or the value) to the function as an argument, or read it "
            f"through the argument of dlfeval that holds it")
    what = held[1]() if callable(held[1]) else held[1]
    if where is not None and not _own_source(where[0]):
        what = f"{what}, called at {where[0]}, line {where[1]}"
    raise ValueError(
        f"dlgradient: the value to differentiate with respect to is also read by {what}, which sct runs as "
        "a function of the arguments it is given only (what it captures, the object it is bound to or the "
        "arguments frozen in it are constants there): the derivative through that read would be lost. Pass "
        "the value (or the object holding it) to the function as an argument, or call a method defined in "
        "the object's class through the object (obj.method(x))")


def _refuse_aliased_target(key=None):
    if key is not None and key in ALIASED.split:
        raise ValueError(
            "dlgradient: the value to differentiate with respect to is a dlarray that the arguments of dlfeval "
            "hold at more than one place (tied weights), and another array they hold shares its memory (a view "
            "such as W.T, W[0] or W.reshape(...), another dlarray of the same data): sct cannot sum the uses "
            "through that array. Pass a copy (W.T.copy(), dlarray(np.array(W))) or read the view inside the "
            "function (W.T)")
    raise ValueError(
        "dlgradient: the value to differentiate with respect to is a dlarray that the arguments of "
        "dlfeval hold at more than one place (the same dlarray object twice: tied weights such as "
        "{'enc': W, 'dec': W}, two layers holding one array, dlfeval(f, x, x)). sct differentiates each "
        "place as a variable of its own, so this gradient would leave out the uses through the other "
        "places. Pass the array at one place and use it twice inside the function (dec_W = enc_W), "
        "or pass independent copies (dlarray(W) for each) if they are meant to be separate parameters")


def note_unselected_nonfinite(depth=0, op=None):
    """Note the generated line ``depth`` frames above the caller (np.where's adjoint there, or
    ``op``'s: a reduction that leaves entries out, numpy_ops.noted_skips)."""
    frame = sys._getframe(depth + 1)
    found = first = None
    for _ in range(60):             # the generated code's frame (where_branch may run in a helper, or in a
        #                             rule transposed for forward mode, several calls deep)
        if frame is None:
            break
        if frame.f_code.co_filename.startswith("<sct-generated"):
            first = first or frame
            # generated code made from sct's own rules (a rule transposed for forward mode, rt.op_jvp:
            # the rule's vjp) is passed over for the user's line that called it (was: jvp of
            # np.nanmax(x * data) refused naming runtime/numpy_ops.py, sct's file, not the user's)
            if LINES.user_line is None or not _own_source(LINES.user_line(frame.f_code.co_filename,
                                                                          frame.f_lineno)[0]):
                found = frame
                break
        frame = frame.f_back
    found = found or first or sys._getframe(depth + 1)
    site = (found.f_code.co_filename, found.f_lineno)
    if site not in _UNSELECTED.sites:
        SITES_NOTED[0] = True
        _UNSELECTED.sites.append(site)
        if op is not None:
            _UNSELECTED.ops[site] = op


def _own_source(filename) -> bool:
    """Is ``filename`` a source file of sct itself (its runtime or compiler)?"""
    if not filename:
        return False
    import os
    runtime_dir = os.path.dirname(os.path.abspath(__file__))
    own = (runtime_dir + os.sep, os.path.join(os.path.dirname(runtime_dir), "sct") + os.sep)
    return os.path.abspath(filename).startswith(own)


def _nan_data_hint(frame) -> str:
    """Where the generated code's values hold NaN (missing data stored as NaN, ``t`` below), what to say
    of it; "" where none does.  A NaN *value* (not a rule's factor at a singular point) is behind the
    NaN gradient then: its entries do not reach the finite y (a mask, np.where or an index left them
    out), but the chain rule multiplies their zero adjoint by the NaN partial (2 * (p - t) at t = nan)
    (was: hints of np.sqrt and np.log alone, where the data was NaN, red55h F1)."""
    found = None
    for _ in range(40):             # the outermost generated function's arguments: the user's (t, not the
        if frame is None:           # code's t_sub, nor np.sqrt's NaN of a negative, which the hints above tell of)
            break
        code = frame.f_code
        if code.co_filename.startswith("<sct-generated"):
            local = frame.f_locals
            found = next((name for name in code.co_varnames[:code.co_argcount]
                          if type(local.get(name)) is np.ndarray and local[name].dtype.kind == "f" and
                          np.isnan(local[name]).any()), None)
        frame = frame.f_back
    if found is None:
        return ""
    return (f"{found} holds NaN (missing data stored as NaN?): the entries a mask, np.where or an index leaves "
            f"out do not reach y, so their derivative is 0, but the chain rule multiplies their zero adjoint by a "
            f"NaN factor (2 * (p - {found}) at {found} = nan). Replace the NaN before computing with it, keeping "
            f"the mask: m = ~np.isnan({found}); np.sum(np.where(m, p - np.nan_to_num({found}), 0.0) ** 2), or "
            f"np.mean(((p - np.nan_to_num({found})) ** 2)[m]). ")


def _refuse_nan_through_unselected(grad):
    """A gradient with NaN entries from a sweep that met np.where with a branch NaN or infinite
    where not selected: refused, naming that np.where (its zero adjoint times the branch's
    derivative, not finite there, is the NaN; the program's derivative there is the selected
    branch's).  sct cannot tell that zero from one that multiplies an infinite factor and matters,
    so it refuses rather than return NaN or guess 0."""
    try:
        nan = bool(np.isnan(grad).any())
    except TypeError:
        return
    if not nan:
        return
    filename, lineno = _UNSELECTED.sites[0]
    op = _UNSELECTED.ops.get((filename, lineno))
    if LINES.user_line is not None:
        filename, lineno = LINES.user_line(filename, lineno)
    if op is not None:
        raise EvaluationError(
            f"the gradient is NaN through {op} here: it leaves out entries of its input that are NaN "
            f"or infinite (NaN entries, or entries its where= mask leaves out), their derivative there "
            f"is not finite either, and the chain rule multiplies their zero adjoint by it (0 * nan). "
            f"The program's derivative there is 0, but sct cannot tell this zero from one that matters, "
            f"so it refuses rather than return NaN. Leave those entries out before computing with them: "
            f"index with a mask (m = ~np.isnan(data); np.sum(w[m] * data[m])), or replace them first "
            f"(np.where(np.isnan(data), 0.0, data))", filename, lineno)
    raise EvaluationError(
        "the gradient is NaN through np.where here: a branch it is given is NaN or infinite where "
        "the condition does not select it (numpy computes both branches), its derivative there is not "
        "finite, and the chain rule multiplies the zero adjoint of those entries by it (0 * inf). "
        + _nan_data_hint(sys._getframe(1)) + "The "
        "program's derivative there is the selected branch's, but sct cannot tell this zero from one "
        "that matters, so it refuses rather than return NaN. Keep the unselected values finite by "
        "selecting the argument too (the 'double where'): np.where(c, f(np.where(c, x, 1.0)), g(x)) "
        "with 1.0 any value where f is finite", filename, lineno)


_vdot = np.vdot


def nan_total(grad):
    """A number that is NaN exactly when the float or complex ndarray ``grad`` has a NaN entry (inf *
    inf is inf): the sum of the squares, one BLAS pass over the data where it is contiguous in
    either order.  (np.vdot flattens in C order: on a transposed gradient, the usual one of a weight
    read as ``W.T``, it copied the array first, 60 times the pass on a 1000 x 300 float64 array; an
    array strided otherwise is read by np.min, which meets a NaN too, without a copy.)"""
    flags = grad.flags
    if flags.c_contiguous:
        return _vdot(grad, grad)
    if flags.f_contiguous:
        grad = grad.T
        return _vdot(grad, grad)
    if grad.dtype.kind == "c":
        return _vdot(grad, grad)
    return np.min(grad) if grad.size else 0.0


def _refuse_nan_of_finite_y(grad):
    """A gradient with NaN entries of a finite ``y`` (seed noted it): refused, naming the dlgradient.

    The program's derivative of a finite ``y`` is not NaN: the NaN is a rule's factor that is not
    finite (np.sqrt's 0.5 / sqrt(v) at v <= 0, np.log's 1 / v at 0, np.arcsin's at 1, a power's at 0)
    times a zero adjoint, where the entry does not reach ``y`` (indexing ``np.sqrt(v)[0]``, a mask, an
    overwrite ``y[m] = 0``, np.fmax, np.select, builtin max, the diagonal of pairwise distances), or
    two infinite contributions cancelling.  Where the entry does not reach ``y`` the derivative is 0;
    elsewhere it may not exist; sct cannot tell which, so it refuses rather than return NaN (was: a
    silent NaN gradient, all-NaN for pairwise distances through np.sqrt)."""
    if type(grad) is float:
        if grad == grad:
            return
    else:
        try:
            if grad.dtype.kind not in "fc":
                return
            # the sum of the squares (one BLAS pass, ~0.5 us on a small array): NaN only if an entry
            # is NaN for real data (inf * inf is inf); then the entries themselves, which decide
            total = nan_total(grad)
            if total == total or not np.isnan(grad).any():
                return
        except (TypeError, AttributeError):
            return
    frame = sys._getframe(1)
    found = None
    for _ in range(40):
        if frame is None:
            break
        if frame.f_code.co_filename.startswith("<sct-generated"):
            found = frame
            break
        frame = frame.f_back
    if found is not None:
        filename, lineno = found.f_code.co_filename, found.f_lineno
        if LINES.user_line is not None:
            filename, lineno = LINES.user_line(filename, lineno)
    else:               # (sct.hvp's product: the user's call)
        import os
        runtime_dir = os.path.dirname(os.path.abspath(__file__))
        own = (runtime_dir + os.sep, os.path.join(os.path.dirname(runtime_dir), "sct") + os.sep)
        own += tuple(os.path.dirname(os.path.abspath(m.__file__)) + os.sep for m in
                     (sys.modules.get("sct"),) if m is not None and getattr(m, "__file__", None))
        frame = sys._getframe(1)
        while frame is not None and (frame.f_code.co_filename.startswith(own + ("<",)) or
                                     frame.f_code.co_filename.endswith(os.sep + "functools.py")):
            frame = frame.f_back
        filename, lineno = (frame.f_code.co_filename, frame.f_lineno) if frame is not None else (None, None)
    raise EvaluationError(
        "the gradient of this dlgradient (dljacobian, dldivergence, jvp, hvp) is NaN at some entries while "
        "the value differentiated (y, u) is finite: the program's derivative of a finite value is not NaN "
        "there. " + _nan_data_hint(sys._getframe(1)) + "A derivative rule's factor that is not finite "
        "(np.sqrt or a fractional power at 0 or below, np.log of a negative, np.arcsin at 1) met a zero "
        "adjoint from an entry that does not reach y (np.sqrt(v)[0] with v < 0 elsewhere, a mask or "
        "an overwrite v[m] = 0 after np.sqrt, np.fmax, np.select, the diagonal of pairwise distances: "
        "0 * inf is NaN), or two infinite contributions cancelled. sct cannot tell a zero from a "
        "derivative that does not exist, so it refuses rather than return NaN. Keep those entries "
        "finite before the op: select the argument first (np.sqrt(np.where(m, v, 1.0))), or take "
        "the op of a value away from its singular point (np.sqrt(v + 1e-12))", filename, lineno)


def seed(y):
    """The adjoint that starts a sweep at ``y``: one, after checking ``y`` is a real scalar."""
    if _UNSELECTED.sites:
        _UNSELECTED.sites.clear()
        _UNSELECTED.ops.clear()
    one = _REAL_SCALARS.get(getattr(y, "dtype", None))
    if one is not None and getattr(y, "size", 0) == 1:
        _UNSELECTED.finite_y = math.isfinite(y.item())
        return one if y.ndim == 0 else np.ones_like(y)
    try:
        _UNSELECTED.finite_y = bool(np.isfinite(y).all()) and np.size(y) == 1
    except TypeError:
        _UNSELECTED.finite_y = False
    if not (_is_array(y) or isinstance(y, numbers.Number)):
        raise SctRuntimeError(
            f"dlgradient: y must be a real scalar array, got {type(y).__name__}")
    if np.size(y) != 1:
        raise SctRuntimeError(
            f"dlgradient: y must be a scalar, got an array of shape {np.shape(y)}; "
            "reduce it first, e.g. with np.sum(y) or np.mean(y)")
    if np.iscomplexobj(y):
        raise SctRuntimeError(
            "dlgradient: y must be real even when AllowComplex is true; "
            "take np.real(y) or np.abs(y) first")
    # a Python number's seed is numpy's float64 one, as a 0-d float64 array's: the adjoints made
    # from it stay numpy scalars.  A Python float 0.0 is the zero marker (getitem_or_zero reads an
    # item equal to it as "no adjoint reached"), so a sweep differentiated again lost the
    # dependence of an adjoint that was zero at this point: a, b = float(x[0]), float(x[1]);
    # lst = [a, b]; y = lst[0] * lst[1] had the Hessian's off-diagonal 0 wherever a or b was 0
    return np.ones_like(y, dtype=np.result_type(y, np.float32)) if _is_array(y) else _REAL_SCALARS[np.dtype(np.float64)]


def project(grad, x):
    """The adjoint ``grad`` as a gradient of ``x``: same structure, shape, dtype and realness."""
    unselected = _UNSELECTED
    if unselected.sites and _is_array(grad):
        _refuse_nan_through_unselected(grad)
    elif unselected.finite_y:
        if type(grad) is np.ndarray:        # (the usual gradient: one pass, no call before it)
            if grad.dtype.kind in "fc":
                total = nan_total(grad)
                if total != total:
                    _refuse_nan_of_finite_y(grad)
        elif type(grad) is float or _is_array(grad):
            _refuse_nan_of_finite_y(grad)
    if type(grad) is _LostAttributeAdjoint[0]:
        return grad.projected(x)          # a layer's attribute its custom backward gives nothing for
    cls = type(x)
    if ALIASED.ids and id(x._data if isinstance(x, _dlarray) else x) in ALIASED.ids:
        totals = _TIED.totals
        key = id(x._data if isinstance(x, _dlarray) else x)
        if totals is None or key not in totals:
            _refuse_aliased_target(key)
        grad = totals[key]              # (project_tied: the sum of the adjoints of every place)
    if CAPTURED_NOTED[0]:
        _refuse_captured_target(x)
    if cls is np.ndarray:
        return _project_leaf(grad, x)
    if cls is _dlarray and type(grad) is np.ndarray:
        data = x._data              # a network's Learnables: what _project_leaf gives, without its tests
        if type(data) is np.ndarray and grad.dtype == data.dtype and grad.shape == data.shape:
            return grad
    if cls is str:                  # a table's names
        return x
    if isinstance(x, (list, tuple)) and not _is_namedtuple(x):
        if isinstance(grad, (list, tuple)):
            parts = grad
        elif _is_zero(grad):
            parts = [ZERO] * len(x)
        else:
            # a numpy function applied to the list (np.sin(xs), np.sum(xs)) made its adjoint an
            # array: its items along the first axis are those of the list's items
            parts = _list_parts(grad, x)
        out = [project(g, v) for g, v in zip(parts, x)]
        if cls is list:
            return out
        return tuple(out) if cls is tuple else _rebuilt_like(x, out)   # a subclass: its own class
    if isinstance(x, dict):
        parts = grad if isinstance(grad, dict) else {}
        return _rebuilt_like(x, {k: project(parts.get(k, ZERO), v) for k, v in x.items()}) \
            if type(x) is not dict else {k: project(parts.get(k, ZERO), v) for k, v in x.items()}
    if _is_array(x) or isinstance(x, numbers.Number):
        return _project_leaf(grad, x)
    return _project_object(grad, x)


class _Tied(threading.local):
    """project_tied's sums while it projects: id of a dlarray's data -> the sum of its places' adjoints."""
    totals = None


_TIED = _Tied()
_TIED_BUDGET = 200000           # places read at most (an object reached many ways is read at each)


def project_tied(grad, x, roots):
    """``project(grad, x)`` where the arguments of dlfeval may hold one dlarray at two places or more (tied
    weights: ``self.layers = [self.a, self.b]``, ``head.W = embed.W``): the gradient of such a dlarray is the
    sum of the adjoints of all its places (each place is a variable of its own in the sweep), read from
    ``roots``, ``((adjoint, value), ...)`` of every parameter of the function dlfeval runs (sct/sweeps.py
    _tied_roots).  Where they do not account for every place ALIASED counted (a place reached only back
    through a cycle with a derivative, an adjoint not of the argument's form), the gradient stays refused."""
    if not ALIASED.ids:
        return project(grad, x)
    saved = _TIED.totals
    _TIED.totals = _tied_totals(roots)
    try:
        return project(grad, x)
    finally:
        _TIED.totals = saved


class _NotTied(Exception):
    pass


TIED_UNREAD = _Tied()           # the adjoint of a parameter the site does not differentiate by (not computed)


def _tied_totals(roots):
    """id of the data of each dlarray ALIASED names -> the sum of the adjoints of its places in ``roots``
    (walked as aliased_dlarrays walks the arguments); None where that is not every place."""
    sums: dict = {}
    counts: dict = {}
    on_path: set = set()
    budget = [_TIED_BUDGET]
    wanted = ALIASED.ids
    if wanted & ALIASED.split:
        return None

    def visit(g, v, depth):
        budget[0] -= 1
        if budget[0] < 0 or depth > 60:
            raise _NotTied
        if isinstance(v, (_dlarray, np.ndarray)):      # (a dlarray, or its data where unwrap took it out)
            k = id(v._data) if isinstance(v, _dlarray) else id(v)
            if k in wanted:
                if g is TIED_UNREAD:
                    raise _NotTied          # (a place whose adjoint is not computed: no sum)
                counts[k] = counts.get(k, 0) + 1
                sums[k] = add_grad(sums[k], g) if k in sums else g
            return
        if v is None or isinstance(v, _TIE_LEAVES):
            return
        key = id(v)
        if key in on_path:              # a cycle (a layer's owner): aliased_dlarrays reads it once
            if g is TIED_UNREAD or not _is_zero(g):
                raise _NotTied
            return
        if isinstance(v, dict):
            parts = [(k, p, True) for k, p in v.items()]
        elif isinstance(v, (list, tuple)):
            parts = [(j, p, True) for j, p in enumerate(v)]
        elif hasattr(type(v), "__sct_kind__") or _sct_wrapper(v):
            return
        elif not hasattr(v, "__dict__"):
            if not dataclasses.is_dataclass(v) or isinstance(v, type):
                return
            parts = [(f.name, getattr(v, f.name, None), False) for f in dataclasses.fields(v)]
        else:
            try:
                parts = [(k, p, False) for k, p in vars(v).items()]
            except TypeError:
                return
        on_path.add(key)
        for k, p, item in parts:
            part = g if g is TIED_UNREAD else ZERO if _is_zero(g) else \
                select_item(g, v, k) if item else getattr_or_zero(g, k)
            visit(part, p, depth + 1)
        on_path.discard(key)

    try:
        for g, v in roots:
            visit(g, v, 0)
    except (_NotTied, SctError, TypeError, KeyError, IndexError, AttributeError, ValueError):
        return None
    if frozenset(k for k, c in counts.items() if c > 1) != wanted:
        return None         # (not every place ALIASED counted: no sum)
    return sums


def project_tied_untraced(grad, x, roots, paths):
    """``project_tied`` where ``x`` holds plain float arrays or numbers too (``paths``): their gradients zeros
    (project_untraced) (was: refused, a tied dict beside a fixed table: ``{"embed": E, "head": E, "pe": PE}``)."""
    out = project_tied(grad, x, roots)
    for path in paths:
        out = _zeroed_at(out, x, path)
    return out


def project_untraced(grad, x, paths):
    """``project(grad, x)`` with zeros at ``paths`` (flattened ("item", key) / ("attr", name) steps): the
    plain float arrays and numbers among the leaves of a dlfeval argument, which are constants (their
    gradient is zero whether the function reads them by key or by a loop over the structure)."""
    out = project(grad, x)
    for path in paths:
        out = _zeroed_at(out, x, path)
    return out


def _zeroed_at(out, x, path):
    if not path:
        return _project_leaf(ZERO, x)
    step, key = path[0], path[1]
    try:
        inner_x = getattr(x, key) if step == "attr" else x[key]
        inner = getattr(out, key) if step == "attr" and not isinstance(out, dict) else out[key]
    except (AttributeError, KeyError, IndexError, TypeError):
        return out                      # not the structure the kind described: left as project gave it
    new = _zeroed_at(inner, inner_x, path[2:])
    if isinstance(out, dict):
        copied = copy.copy(out)
        copied[key] = new
        return copied
    if _is_namedtuple(out):
        return out._replace(**{key: new}) if step == "attr" else type(out)(*[new if i == key else v
                                                                             for i, v in enumerate(out)])
    if isinstance(out, list):
        copied = list(out)
        copied[key] = new
        return copied if type(out) is list else _rebuilt_like(out, copied)
    if isinstance(out, tuple):
        copied = tuple(new if i == key else v for i, v in enumerate(out))
        return copied if type(out) is tuple else _rebuilt_like(out, list(copied))
    copied = copy.copy(out)
    object.__setattr__(copied, key, new)
    try:
        if out in GRADIENT_OBJECTS:
            GRADIENT_OBJECTS.add(copied)    # (sct's own copy: its arrays come back as dlarrays)
    except TypeError:
        pass
    return copied


def _list_parts(grad, x):
    """The items of an array adjoint ``grad`` of the list or tuple ``x`` (numpy's conversion of a
    list into an array stacks its items along a new first axis)."""
    if not _is_array(grad) or np.ndim(grad) == 0 or len(grad) != len(x):
        raise ValueError(f"the adjoint of a list of {len(x)} items came as an array of shape "
                         f"{np.shape(grad)}; pass np.asarray(...) of the list to numpy functions")
    return list(grad)


def project_transpose(cot, grad):
    """The adjoint of ``project(grad, x)`` with respect to ``grad`` (``cot`` has x's structure,
    ``grad`` the adjoint's: lists, tuples, dicts of fields or leaves)."""
    if _is_zero(grad) or _is_zero(cot):
        return ZERO
    if type(grad) is _LostAttributeAdjoint[0]:
        return ZERO         # (an attribute a custom backward gives no derivative for: projected as zeros)
    if isinstance(grad, dict):
        return {k: project_transpose(_part(cot, k), v) for k, v in grad.items()}
    if isinstance(grad, (list, tuple)):
        # cot is a list, or an array when x is one and its adjoint came as a list over its first
        # axis (Python's max(x), sum(x), sorted(x), a loop over x's rows): its items line up
        if isinstance(cot, (list, tuple)) or (_is_array(cot) and np.ndim(cot) >= 1 and len(cot) == len(grad)):
            parts = list(cot)
        else:
            parts = [ZERO] * len(grad)
        out = [project_transpose(u, v) for u, v in zip(parts, grad)]
        if _is_namedtuple(grad):
            # a namedtuple's adjoint stays one, readable by field name (was a plain tuple: a second
            # derivative with respect to a NamedTuple of parameters was refused as "iterating it")
            return type(grad)(*out)
        return out if isinstance(grad, list) else tuple(out)
    if isinstance(cot, (list, tuple)) and _is_array(grad) and np.ndim(grad) >= 1 and len(cot) == len(grad):
        # the transpose of splitting an array adjoint into a list's items: stack them again
        return np.stack([np.zeros(np.shape(grad)[1:], dtype=np.result_type(grad)) if _is_zero(u)
                         else broadcast_like(u, grad[k]) for k, u in enumerate(cot)])
    return broadcast_like(cot, grad)


def _part(g, key):
    if isinstance(g, dict):
        return g.get(key, ZERO)
    if isinstance(key, str) and not isinstance(g, (list, tuple)) and hasattr(g, key):
        return getattr(g, key)
    return g[key]


# --- dlgradient with respect to a part of a structure ---------------------------------

def _basic_index(idx) -> bool:
    items = idx if isinstance(idx, tuple) else (idx,)
    for item in items:
        if item is None or item is Ellipsis or isinstance(item, (slice, numbers.Integral)):
            continue
        if _is_array(item) and (item.dtype == bool or (item.ndim == 0 and item.dtype.kind in "iu")):
            continue
        return False
    return True


def _is_table(x) -> bool:
    return getattr(type(x), "__sct_table__", False)


def _table_rows(base, idx):
    """What ``base[idx]`` of a Table selects, by row number: a list (a table of those rows), ("row", i)
    (a Row) or i (one value, ``t["fc1", "Weights"]``): the Table's own indexing, of row numbers."""
    probe = type(base)(base.Layer, base.Parameter, list(range(len(base.Value))))[idx]
    if _is_table(probe):
        return list(probe.Value)
    if isinstance(probe, tuple) and hasattr(type(probe), "_fields"):
        return ("row", probe.Value)
    return int(probe)


def _table_values(grad):
    if _is_zero(grad):
        return ZERO
    return grad.get("Value", ZERO) if isinstance(grad, dict) else getattr(grad, "Value", ZERO)


def select_table_item(grad, base, idx):
    """The adjoint of ``base[idx]`` of a Table ``base`` (rows by layer name, number, slice, list or mask,
    a Row, or one value by (layer, parameter)) from the adjoint ``grad`` of the table ({"Value": [...]})."""
    values = _table_values(grad)
    if _is_zero(values):
        return ZERO
    rows = _table_rows(base, idx)
    if isinstance(rows, list):
        return {"Value": [values[i] for i in rows]}
    if isinstance(rows, tuple):
        from .table import Row
        return Row(ZERO, ZERO, values[rows[1]])      # (read by field, as a Row's adjoint)
    return values[rows]


def unselect_table_item(cot, base, idx):
    """The adjoint of ``select_table_item`` with respect to ``grad``."""
    if _is_zero(cot):
        return ZERO
    rows = _table_rows(base, idx)
    out = [ZERO] * len(base.Value)
    if isinstance(rows, list):
        values = _table_values(cot)
        if _is_zero(values):
            return ZERO
        for i, v in zip(rows, values):
            out[i] = add_grad(out[i], v)
    elif isinstance(rows, tuple):
        out[rows[1]] = cot[2] if isinstance(cot, (list, tuple)) else getattr(cot, "Value", ZERO)
    else:
        out[rows] = cot
    return {"Value": out}


def getitem_of_adjoint(grad, x, idx):
    """``getitem_or_zero(grad, idx)``; for a Table ``x`` the adjoint of its rows ``x[idx]`` (the
    rule of ``index_adjoint``)."""
    if _is_table(x):
        return select_table_item(grad, x, idx)
    return getitem_or_zero(grad, idx)


def table_or(x, other):
    """``x`` if it is a Table, else ``other`` (the value ``getitem_of_adjoint``'s adjoint is shaped like)."""
    return x if _is_table(x) else other


def item_unselected(cot, base, idx):
    """The adjoint of ``select_item`` with respect to ``grad``."""
    if _is_table(base):
        return unselect_table_item(cot, base, idx)
    return index_adjoint(cot, base, idx)


def select_item(grad, base, idx):
    """The gradient of ``base[idx]`` given the adjoint ``grad`` of ``base`` (dlgradient(y, p["w"]))."""
    if _is_table(base):
        # net.Learnables["fc1"], net.Learnables[2], net.Learnables["fc1", "Bias"]: the table's rows, not a
        # key of its adjoint (was: the zero marker, a zero gradient)
        return select_table_item(grad, base, idx)
    if _is_array(base) and not _basic_index(idx):
        raise ValueError(
            "dlgradient with respect to x[index] needs an index of integers, slices or a boolean "
            "mask: an integer-array index may repeat a position, so its elements are not parts of x. "
            "Differentiate with respect to x and index the gradient instead")
    if _is_zero(grad):
        return ZERO
    if isinstance(grad, dict):
        if not isinstance(base, dict) and hasattr(base, "__dict__") and not _is_array(base):
            # an object of the user's class indexed by its own __getitem__: its adjoint is by field
            # (was: the zero marker, a zero gradient where the item is one of its fields)
            raise SctRuntimeError(
                f"dlgradient with respect to `obj[{idx!r}]` of a {type(base).__name__} read by its __getitem__, "
                f"which sct does not differentiate (what it returns is not known to be one of the object's "
                f"fields): name the field (dlgradient(y, obj.field[{idx!r}])), or differentiate with respect "
                f"to obj and index its gradient")
        return grad.get(idx, ZERO)
    return grad[idx]


def select_attribute(grad, base, name):
    """The gradient of ``base.name`` given the adjoint ``grad`` of ``base`` (dlgradient(y, net.W))."""
    if _is_array(base):
        if name != "T":
            raise ValueError(f"dlgradient with respect to x.{name} of an array: differentiate "
                             "with respect to x, or assign x.{name} to a name before computing y")
        return grad if _is_zero(grad) else np.transpose(grad)
    if not _is_zero(grad):
        # dlgradient(y, obj.weight) of a property / __getattr__: not a field of obj's adjoint (was the
        # zero marker, a zero gradient)
        refuse_computed_attribute(base, name, "gradient dlgradient asks for")
    return getattr_or_zero(grad, name)


def unselect_attribute(cot, base, name):
    """The adjoint of select_attribute with respect to ``grad``."""
    if _is_array(base):
        return cot if _is_zero(cot) else np.transpose(cot)
    return {name: cot}


def join_gradients(parts):
    """The results of ``dlgradient(y, a, *xs)``: every part's gradients in order, one value
    alone when there is only one."""
    out = []
    for part in parts:
        out.extend(part)
    return out[0] if len(out) == 1 else tuple(out)


def join_gradients_like(cot, parts):
    """join_gradients of ``cot`` (parts shaped like ``parts``, any of them maybe the zero
    adjoint): the adjoint of split_gradients."""
    if _is_zero(cot):
        cot = [ZERO] * len(parts)
    return join_gradients([[ZERO] * len(p) if _is_zero(c) else c for c, p in zip(cot, parts)])


def split_gradients(cot, parts):
    """The adjoint of join_gradients: ``cot`` cut back into the parts."""
    if _is_zero(cot):
        return [[ZERO] * len(p) for p in parts]
    items = [cot] if sum(len(p) for p in parts) == 1 else list(cot)
    out, start = [], 0
    for part in parts:
        chunk = items[start:start + len(part)]
        out.append(chunk if isinstance(part, list) else tuple(chunk))
        start += len(part)
    return out


def _project_leaf(grad, x):
    if type(grad) is np.ndarray and type(x) is np.ndarray and grad.dtype == x.dtype and \
            grad.shape == x.shape:
        return grad                    # already a gradient of x
    if type(x) is np.ndarray and type(grad) is x.dtype.type and x.ndim == 0 and x.dtype.kind in "fc":
        return np.asarray(grad)        # a numpy scalar of x's dtype, x 0-d: what the rest gives
    xdtype = np.asarray(x).dtype if not _is_array(x) else x.dtype
    if not np.issubdtype(xdtype, np.inexact):
        xdtype = np.dtype(np.float64)
    if _is_zero(grad):
        return np.zeros_like(x, dtype=xdtype) if _is_array(x) else np.zeros(np.shape(x), dtype=xdtype)
    if np.iscomplexobj(grad) and not np.issubdtype(xdtype, np.complexfloating):
        grad = np.real(grad)
    grad = unbroadcast(grad, x)
    if np.shape(grad) != np.shape(x):
        grad = np.broadcast_to(grad, np.shape(x))
    return np.asarray(grad, dtype=xdtype)


def _is_namedtuple(x) -> bool:
    return isinstance(x, tuple) and hasattr(type(x), "_fields")


def _project_object(grad, x):
    import dataclasses
    parts = grad if isinstance(grad, dict) else {}
    if _is_namedtuple(x):
        if isinstance(grad, (list, tuple)):
            parts = dict(zip(x._fields, grad))
        return type(x)(*[project(parts.get(f, ZERO), getattr(x, f)) for f in x._fields])
    if dataclasses.is_dataclass(x):
        # a shallow copy with each field's gradient set on it: not dataclasses.replace, which ran the
        # class's __post_init__ on the gradients (``self.W = self.W / norm(self.W)`` normalised the
        # gradient) and refused ``field(init=False)`` fields
        import copy
        projecting = _entered(x)
        try:
            out = copy.copy(x)
            names = set()
            for f in dataclasses.fields(x):
                names.add(f.name)
                if hasattr(x, f.name):
                    object.__setattr__(out, f.name, project(parts.get(f.name, ZERO), getattr(x, f.name)))
            # its own attributes that are not fields (``self.W`` set in __post_init__): as an object's
            # (was: the copy kept W's value where its gradient belongs); a back-reference among them
            # (``self.me = self``, a parent being projected) is kept as it is
            own = getattr(x, "__dict__", None)
            for k, v in (list(own.items()) if type(own) is dict else ()):
                if k not in names and not k.startswith("__") and id(v) not in projecting and \
                        (_differentiable_leafy(v) or _integral_leaf(v)):
                    object.__setattr__(out, k, project(parts.get(k, ZERO), v))
        finally:
            projecting.discard(id(x))
        return out
    if _has_attribute(x, "__sct_gradient__"):
        return x.__sct_gradient__(parts)
    if isinstance(x, (functools.partial, types.FunctionType)):
        _refuse_bound_dlarrays(x)
        return x
    if hasattr(x, "__dict__"):
        import copy
        _refuse_class_held_dlarrays(type(x))
        projecting = _entered(x)
        try:
            store = setattr
            if _answers_names(type(x)) or _answers_names(type(x), ("__setattr__",)):
                # (sct's copy, its fields set as the object holds them: not by the user's __setattr__, which
                # may file an array elsewhere, ``self._params[name] = value``, nor probed by its __getattr__)
                if _answers_names(type(x)):
                    _refuse_answered_parts(x, parts)
                out, store = _object_copied(x), object.__setattr__
            else:
                out = copy.copy(x)
            for k, v in vars(x).items():
                if _differentiable_leafy(v):
                    part = parts.get(k, ZERO)
                    store(out, k, part.projected(v, attribute=True) if type(part) is _LostAttributeAdjoint[0]
                          else project(part, v))
                elif _integral_leaf(v):
                    store(out, k, _project_leaf(ZERO, v))
        finally:
            projecting.discard(id(x))
        try:
            GRADIENT_OBJECTS.add(out)        # sct's own copy: its arrays may become dlarrays
        except TypeError:
            pass
        return out
    return x


def _answers_names(cls, methods=("__getattr__", "__getattribute__")) -> bool:
    """A class of the user's whose ``__getattr__`` (or ``__getattribute__``, or ``methods``) is its own."""
    return any(m in vars(k) for k in cls.__mro__[:-1] if not library_code(k) for m in methods)


def _refuse_answered_parts(x, parts) -> None:
    """A gradient part for a name the object answered by its ``__getattr__`` (``self.weight`` of a torch-style
    module holding its parameters in ``self._params``): the gradient object has no field of that name to hold
    it; refused (was refused by running the user's __getattr__ first; without that, the parameters' values
    were given as their gradient)."""
    own = object.__getattribute__(x, "__dict__")
    missing = sorted(k for k in parts if isinstance(k, str) and k not in own)
    if missing:
        raise EvaluationError(
            f"dlgradient with respect to an object of class {type(x).__name__}, whose {missing[0]} the code read "
            f"through {type(x).__name__}.__getattr__ (it is not one of the object's own attributes): the gradient "
            f"object has no attribute to hold its derivative. Keep the parameters as attributes of the object "
            f"(self.{missing[0]} = ...), or take the gradient with respect to them (dlgradient(loss, "
            f"model._params))")


def _object_copied(x):
    """``copy.copy(x)`` of an object whose class answers names by its ``__getattr__``, made from its ``__dict__``
    (copy.copy asks the new object for ``__setstate__`` before it holds its fields: a ``__getattr__`` reading
    ``self._params`` recursed without end, where sct used to run it first to refuse it, red57a W6)."""
    out = object.__new__(type(x))
    object.__getattribute__(out, "__dict__").update(object.__getattribute__(x, "__dict__"))
    return out


_PROJECTING = threading.local()      # .ids: the objects project is inside of, per thread (a cycle is refused)


def _bound_values(fn) -> list:
    """The values a function value holds for its calls: a partial's frozen arguments and keywords, a
    function's closure cells and defaults."""
    if isinstance(fn, functools.partial):
        return list(fn.args) + list(fn.keywords.values()) + _bound_values(fn.func)
    if not isinstance(fn, types.FunctionType):
        return []
    values = list(fn.__defaults__ or ()) + list((fn.__kwdefaults__ or {}).values())
    for cell in fn.__closure__ or ():
        try:
            values.append(cell.cell_contents)
        except ValueError:
            pass
    return values


def _refuse_bound_dlarrays(fn) -> None:
    """A function value among the values differentiated (``[partial(dense, W=W1), np.tanh, layer]``) that
    holds dlarrays for its calls: those are constants of the calls (as a lambda's captured values), so
    their gradient is not computed; refused (was: the function itself given as its gradient, holding
    the parameter's value, and an optimizer passing it over: the parameter silently never trained)."""
    for v in _bound_values(fn):
        if isinstance(v, _dlarray) or (isinstance(v, (list, tuple)) and any(isinstance(e, _dlarray) for e in v)):
            name = getattr(getattr(fn, "func", fn), "__name__", type(fn).__name__)
            raise EvaluationError(
                f"dlgradient with respect to values that include a function ({name}) holding a dlarray for its "
                "calls (a functools.partial's argument, a closure's captured value, a default): sct reads those "
                "as constants of the calls, so their gradient is not computed. Hold the parameter in an object "
                "whose __call__ reads it (self.W), or pass it as an argument")


def class_held_dlarrays(cls) -> list:
    """The names of ``cls``'s own class attributes (not its instances') that hold dlarrays: a dlarray, a
    layer object holding them (``class Model: l1 = Linear()``), or a list, tuple or dict of those."""
    def holds(v, depth):
        if isinstance(v, _dlarray):
            return True
        if depth > 2 or isinstance(v, (type, types.FunctionType, types.MethodType, types.ModuleType,
                                       staticmethod, classmethod, property, str, bytes, numbers.Number)):
            return False
        if isinstance(v, (list, tuple)):
            return any(holds(e, depth + 1) for e in v)
        if isinstance(v, dict):
            return any(holds(e, depth + 1) for e in v.values())
        d = getattr(v, "__dict__", None)
        return isinstance(d, dict) and any(holds(e, depth + 1) for e in d.values())
    names = []
    for klass in cls.__mro__:
        if klass is object or module_top(klass) in ("builtins", "sct", "numpy"):
            continue
        for name, value in vars(klass).items():
            if not name.startswith("__") and name not in names and holds(value, 0):
                names.append(name)
    return names


def _refuse_class_held_dlarrays(cls) -> None:
    """dlgradient with respect to an object whose class (not the object) holds dlarrays: those are shared by
    every instance and read as constants, so their gradient is not computed; refused (was: the gradient
    object read them through its class: the parameters' values given as their gradient, silently)."""
    names = class_held_dlarrays(cls)
    if names:
        raise EvaluationError(
            f"dlgradient with respect to an object of class {cls.__name__}, whose class attribute{'s' if len(names) > 1 else ''} "
            f"{', '.join(names)} hold{'' if len(names) > 1 else 's'} dlarrays: a class attribute is shared by every "
            "instance and read as a constant, so its gradient is not computed. Set it on the instance in "
            f"__init__ (self.{names[0]} = ...)")


def self_holding_path(value, where: str, sequences=(list, tuple), skip=(), depth_limit: int = 200):
    """Where ``value`` (a dict, one of ``sequences``, an object's attributes, nested) holds one of the
    containers or objects it sits in (``d['me'] = d``, ``l.append(l)``, a layer's ``self.owner``): the
    path from ``where`` as text, or None.  Objects of the types ``skip`` are not entered."""
    on_path: set = set()

    def visit(v, path, depth):
        if depth > depth_limit:
            return None
        if isinstance(v, dict):
            parts = [(f"{path}[{k!r}]", x) for k, x in v.items()]
        elif isinstance(v, sequences):
            parts = [(f"{path}[{i}]", x) for i, x in enumerate(v)]
        elif hasattr(v, "__dict__") and not isinstance(v, skip):
            parts = [(f"{path}.{k}", x) for k, x in vars(v).items()]
        else:
            return None
        if id(v) in on_path:
            return path
        on_path.add(id(v))
        for p, x in parts:
            found = visit(x, p, depth + 1)
            if found:
                return found
        on_path.discard(id(v))
        return None
    return visit(value, where, 0)


def _entered(x) -> set:
    """The ids of the objects project is inside of, ``x``'s added; an object already among them holds
    itself (``self.me = self``, a layer's ``owner`` above it, a dataclass's ``other`` field set to it):
    its gradient would be a structure without end, refused (was: a RecursionError from project, read
    as an internal error at the user's line)."""
    projecting = _PROJECTING.__dict__.setdefault("ids", set())
    if id(x) in projecting:
        raise EvaluationError(
            f"dlgradient with respect to an object of class {type(x).__name__} that holds itself (one of "
            "its fields, or a field of a field, is the object again: a cycle): its gradient, an object "
            "of the same structure, cannot be built. Take the gradient with respect to its arrays "
            "(dlgradient(loss, obj.W)), or a structure of them without the back-reference")
    projecting.add(id(x))
    return projecting


from .dlarray import GRADIENT_OBJECTS  # noqa: E402  (gradients with an object's structure)
from .dlarray import dlarray as _dlarray  # noqa: E402
from .dlarray import is_numpy_scalar  # noqa: E402
from .dlarray import rebuilt_like as _rebuilt_like  # noqa: E402


def _differentiable_leafy(v) -> bool:
    if _is_array(v):
        return np.issubdtype(v.dtype, np.inexact)
    if isinstance(v, (list, tuple, dict)):
        return True
    if isinstance(v, (float, complex, np.inexact)):
        # a plain Python float field (``self.scale = 2.0``): its gradient, the derivative the sweep gave
        # it (read through the object's ``__call__`` or a method it is a variable), or zeros (was: left
        # as the field's value in the gradient object, ``g.scale == 2.0``, silently)
        return True
    if not hasattr(v, "__dict__") or isinstance(v, (type, types.FunctionType, types.MethodType,
                                                    types.BuiltinFunctionType, types.ModuleType)) or \
            service_object(v):
        return False
    # objects of the user's classes, callable ones (layers) too; not tools that are callable
    return not callable(v) or module_top(type(v)) not in _TOOL_MODULES


_TOOL_MODULES = {"builtins", "functools", "numpy", "scipy", "sct", "typing"}


def _integral_leaf(v) -> bool:
    """An int or bool field of an object (a number, a numpy scalar, an int or bool array): a constant,
    whose gradient is zeros, as a dict's or a dataclass's such leaf (was: the field's own value,
    ``g.mask == [2, 0]``, which a user's own update loop ``l.m - lr * g.m`` moved)."""
    if _is_array(v):
        return v.dtype.kind in "biu"
    return isinstance(v, (int, np.integer, np.bool_))

# the standard library's services a model object may hold beside its parameters (``self.log =
# logging.getLogger(__name__)``, a lock, a queue): they hold no parameters, and a logger holds itself
# (its manager's table of loggers), so walking one as an object of the user's refused the gradient
# with respect to the model ("an object of class Logger that holds itself"), and the optimizers
_SERVICE_MODULES = frozenset({"logging", "threading", "multiprocessing", "queue", "asyncio", "concurrent",
                              "socket", "subprocess", "sqlite3"})


def service_object(v) -> bool:
    """An object of a class of the standard library's services (``logging.Logger``, ``threading.Lock``):
    never parameters, kept as it is (kinds: a constant of its class)."""
    module = type(v).__module__         # (None, set by the user: the user's class; was: AttributeError, redfix52 F13)
    return isinstance(module, str) and module.split(".")[0] in _SERVICE_MODULES


def zero_adjoint(x):
    """The zero adjoint of the value ``x``: zeros of its shape (containers: their structure)."""
    if x is None or isinstance(x, (str, bool, int)) or callable(x):
        return ZERO
    if _is_array(x):
        return np.zeros_like(x, dtype=x.dtype if np.issubdtype(x.dtype, np.inexact) else float)
    if isinstance(x, float):
        return 0.0
    if isinstance(x, complex):
        return 0j
    if isinstance(x, list):
        return [zero_adjoint(v) for v in x]
    if isinstance(x, tuple) and not _is_namedtuple(x):
        # the zero marker for each item (not zeros of its shape): a tuple is a bundle of values (a
        # helper's results, a sweep's residuals) whose adjoints generated code reads with
        # getitem_or_zero and tests with `is not rt.ZERO`; zeros would run the rules on them, and
        # a rule's factor that is not finite where nothing reached (arccosh' of a NaN residual in
        # a second sweep) made 0 * nan a NaN.  Gradients returned to users are made by project,
        # which gives zeros of each item's shape for a marker.
        return tuple(ZERO for _ in x)
    return ZERO


def is_zero_tangent(t) -> bool:
    """Is ``t`` the zero marker (a tangent no value reached: a constant's, a residual's)?"""
    return _is_zero(t)


nondifferentiable(is_zero_tangent)


def zero_tangent(x):
    """Forward mode's zero tangent of ``x``: ``zero_adjoint``'s, except that a dict keeps its keys
    (the generated tangent code reads and writes them: ``dot_d["k"]``)."""
    if isinstance(x, dict):
        return {k: zero_tangent(v) for k, v in x.items()}
    if isinstance(x, list):
        return [zero_tangent(v) for v in x]
    if isinstance(x, tuple) and not _is_namedtuple(x):
        return tuple(zero_tangent(v) for v in x)
    return zero_adjoint(x)


def adjoint_or_zeros(grad, like):
    """``grad``, or zeros shaped like ``like`` if no contribution reached it."""
    return zero_adjoint(like) if grad is ZERO else grad


def real_if_real(grad, x):
    """``grad`` as the adjoint of ``x``: its real part where ``x`` is a real number or array (a
    complex contribution reaching a value whose kind the compiler did not know), else ``grad``.  A
    dlarray ``grad`` too: an object's field read in generated code is the dlarray it holds, not its
    data as an argument's is (was: left complex, so a real ``r = 0.0; r = r + np.sum(abs(m.W) ** 2)``
    passed a complex cotangent into abs's rule: a silently wrong gradient of a complex ``m.W``)."""
    if type(grad) in (list, tuple) and type(x) in (list, tuple) and len(grad) == len(x):
        # a list's adjoint, item by item: each as real as its item (was: left as it was, so a real item's
        # adjoint read from it stayed complex: np.select([c > 0], [np.abs(y)], default=c), a wrong dL/dy)
        return type(grad)(real_if_real(g_item, x_item) for g_item, x_item in zip(grad, x))
    if not isinstance(grad, (np.ndarray, complex, np.complexfloating, _dlarray)) or not np.iscomplexobj(grad):
        return grad             # (the zero marker, a real value, or a container's adjoint record)
    if isinstance(x, (bool, int, float, np.integer, np.floating, np.bool_)) or \
            (_is_array(x) and not np.iscomplexobj(x)):
        return np.real(grad)
    return grad


def conj_of(x):
    """``np.conj(x)``, without a copy when ``x`` is real (for helpers that run as plain code)."""
    return np.conj(x) if np.iscomplexobj(x) else x


def numpy_view(value):
    """What a type test in code sct transforms sees of ``value``: a dlarray reads as its data, as the
    traced arguments do, which generated code holds as numpy arrays; a 0-d one as numpy's scalar where
    numpy made it so (an item, a reduction: ``is_numpy_scalar``), else as the 0-d array it holds (a field
    of the user's object, ``m.s = dlarray(0.5)``, however the code reaches it: bound to another name, given
    to a helper, put in a list; was numpy's scalar there, ``isinstance(s, np.ndarray)`` False where
    Python's is True); anything else as it is."""
    if type(value) is _dlarray:
        data = value._data
        return data[()] if data.ndim == 0 and is_numpy_scalar(value) else data
    return value


def _as_python(value, known: str):
    """What a type test in code sct transforms tests in place of ``value``, the value plain Python holds
    there: ``known`` is the compiler's word on it (sct/forward_code.py ``type_test``): ``"dl"`` a dlarray in
    Python (an op of a traced value: generated code holds its data, a numpy array or scalar), ``"plain"`` no
    dlarray, ``""`` not known.  A dlarray generated code holds is one in Python too (an argument's item, an
    object's field: tested as it is); so are numpy's float, complex and bool data of a ``"dl"`` value (a
    dlarray of it stands in: ``isinstance(h, np.ndarray)`` False, ``type(h)`` dlarray, as Python answers;
    ``"arrays"``: an item of a container holding dlarrays and Python's numbers, text or None: an array or numpy
    scalar is a dlarray's data, a number the number given;
    was numpy's answer, True, another branch taken with its value and gradient, red3_55 W2), not integer
    data (positions, counts: numpy's in Python too, runtime/dlarray.py _wrap_result)."""
    if type(value) is _dlarray:
        return numpy_view(value) if known == "plain" else value
    if known == "dl" and type(value) in (float, complex, bool) or \
            known in ("dl", "arrays") and isinstance(value, (np.ndarray, np.generic)) and value.dtype.kind in "fcb":
        return _dlarray(value)      # ("arrays": an item of a container of dlarrays and Python's numbers)
    return value


# the names by which code tests a value's type (``isinstance(v, np.ndarray)``, ``type(v) is ...``, ``v.__class__``,
# ``np.isscalar(v)``): a helper naming none of them (nor calling a function of the user's that does) answers alike
# for a dlarray and its data
_TYPE_TEST_NAMES = frozenset(("isinstance", "issubclass", "type", "isscalar", "__class__"))


def tests_types(fn, depth: int = 0) -> bool:
    """Does ``fn``, the user's function, method, partial, class or callable object that generated code runs as it
    is (runtime/effects.py user_call), or a function or class of the user's it names (a few calls deep), name a
    type test (``_TYPE_TEST_NAMES``)?  Code sct cannot read (a builtin's) is taken not to."""
    for _ in range(8):
        if type(fn) is functools.partial:
            fn = fn.func
        elif isinstance(fn, types.MethodType):
            fn = fn.__func__
        elif not isinstance(fn, (types.FunctionType, type)) and hasattr(fn, "__wrapped__"):
            fn = fn.__wrapped__
        elif not isinstance(fn, (types.FunctionType, type)) and isinstance(getattr(type(fn), "__call__", None),
                                                                            types.FunctionType):
            fn = type(fn).__call__
        else:
            break
    if depth > 4:
        return False
    if isinstance(fn, type):
        return _users_code(fn) and any(tests_types(a, depth + 1) for k in fn.__mro__[:-1]
                                       for a in vars(k).values() if isinstance(a, types.FunctionType))
    if type(fn) is not types.FunctionType or not (_users_code(fn) or fn.__globals__.get("__name__", "").startswith(
            "sct_generated.")):
        return False            # (a lambda or def of the user's, copied into generated code: map(f, xs)'s f)
    known = _TESTS_TYPES.get(fn)
    if known is not None and known[0] is fn.__code__:
        return known[1]
    found = _tests_types(fn, depth)
    if depth == 0:
        _TESTS_TYPES[fn] = (fn.__code__, found)
    return found


_TESTS_TYPES: "weakref.WeakKeyDictionary" = weakref.WeakKeyDictionary()    # function -> (its code, tests_types)


def _tests_types(fn, depth: int) -> bool:
    if fn.__code__.co_filename.startswith(("<string>", "<namedtuple")):
        return False            # (a dataclass's or namedtuple's own methods: frozen's type(self) is cls)
    names: set = set()
    codes = [fn.__code__]
    while codes:
        c = codes.pop()
        names.update(c.co_names)
        codes += [k for k in c.co_consts if isinstance(k, types.CodeType)]
    if names & _TYPE_TEST_NAMES:
        return True
    cells = []
    for cell in fn.__closure__ or ():
        try:
            cells.append(cell.cell_contents)
        except ValueError:
            pass
    called = [fn.__globals__.get(n) for n in names] + cells
    return any(tests_types(v, depth + 1) for v in called
               if isinstance(v, (types.FunctionType, type, functools.partial)))


def python_arguments(fn, args, kwargs, known=()):
    """The arguments of a call of the user's code that generated code runs as it is (runtime/effects.py
    user_call), as plain Python's run gives them where ``fn`` tests types (``tests_types``): ``known`` is the
    compiler's word on each (positional, then keyword, in order; sct/forward_code.py typed_arguments): a
    ``"dl"`` value (``h > 0`` of a traced h, whose data generated code holds) a dlarray of it, a dlarray held (an
    argument's item, an object's field) as it is, and a ``"?"`` value (computed from dlfeval's dlarrays, which
    the compiler could not tell) refused where it is (or holds) a float or bool array or numpy scalar, a dlarray's
    data or not (was numpy's answer: ``isinstance(m, np.ndarray)`` True where Python's is False, another branch
    with its value and gradient).  A helper testing no type is given the numpy array or scalar a dlarray stands for
    (``numpy_view``), as before."""
    words = list(known) + [""] * (len(args) + len(kwargs) - len(known))
    if not tests_types(fn):
        return tuple([numpy_view(a) for a in args]), {k: numpy_view(v) for k, v in kwargs.items()}

    def given(value, word):
        word = _resolved(word)
        if word == "?":
            _unknown_argument(fn, value)
        return _as_python(value, "dl" if word == "dl" else "")
    out = tuple([given(a, w) for a, w in zip(args, words)])
    return out, {k: given(v, w) for (k, v), w in zip(kwargs.items(), words[len(args):])}


def plain_call_check(fn, args, known) -> None:
    """Forward mode's code calling the user's ``fn`` as it is on ``args`` (``known``: the compiler's word on each,
    sct/forward_code.py typed_arguments, where forward mode cannot tell a dlarray of Python's run from a numpy
    array given to jvp): refused where ``fn`` tests types and an argument ``"dl"`` or ``"?"`` is or holds a
    float or bool array or numpy scalar (``python_arguments``)."""
    if any(known) and tests_types(fn):
        for value, word in zip(args, known):
            if _resolved(word) not in ("", "plain"):
                _unknown_argument(fn, value)


def _unknown_argument(fn, value) -> None:
    if _holds_data(value, 0):
        name = call_name(fn, "the function")
        given = f"a {type(value).__name__} computed from dlfeval's dlarrays that may be a dlarray in plain Python " \
            f"(sct holds its data, a numpy array" if _data_like(value) else \
            f"a {type(value).__name__} holding arrays that may be dlarrays in plain Python (sct holds their data, " \
            f"numpy arrays"
        raise EvaluationError(
            f"{name}(...) tests a value's type (isinstance, type, np.isscalar) and is given {given}, and could not "
            f"tell which it is here), where the test would answer otherwise; test isinstance(v, (np.ndarray, "
            f"sct.dlarray)) (True for both), or its shape or ndim, or decide outside the function (pass a flag)")


def _holds_data(value, depth: int) -> bool:
    """Is ``value`` (or an item of a list, tuple or dict it is, a few levels deep) what generated code may hold for
    a dlarray of Python's run (``_data_like``)?"""
    if _data_like(value):
        return True
    if depth > 3:
        return False
    items = value.values() if type(value) is dict else value if type(value) in (list, tuple) else ()
    return any(_holds_data(v, depth + 1) for v in list(items)[:1000])


def _data_like(value) -> bool:
    """Is ``value`` what generated code may hold for a dlarray of Python's run (a float, complex or bool array
    or numpy scalar; not Python's numbers, which ``float(h)``, ``h.item()`` or the user's constants give)?"""
    return isinstance(value, (np.ndarray, np.generic)) and value.dtype.kind in "fcb"


# Whether the helpers running now were given arguments whose kinds say what they are in plain Python: False
# while ``unsure_types`` holds (a helper given a list mixing a dlarray and a numpy array, both traced data to
# the helper; hvp's fun run on a dlarray of a numpy x): a type test whose answer the compiler took from its
# parameters' kinds (``"dl?"``, sct/forward_code.py tested_type) is then not known (red2_56 W2, W3)
_TYPES_SURE = [True]


def unsure_types():
    """The calls made until ``types_end`` (a helper's forward, hvp's run) are given values whose Python type
    their kinds do not tell (``_TYPES_SURE``)."""
    _TYPES_SURE.append(False)


def types_end():
    if len(_TYPES_SURE) > 1:
        _TYPES_SURE.pop()


nondifferentiable(unsure_types)
nondifferentiable(types_end)


def _resolved(known: str) -> str:
    """``known`` of a type test (``_as_python``), a word ending in "?" (``"dl?"``: what the helper's parameters'
    kinds say) as that word where they say what Python holds, else not known."""
    if len(known) > 1 and known.endswith("?"):
        return known[:-1] if _TYPES_SURE[-1] else "?"
    return known


def _unknown_type(value, known: str, construct: str, same) -> None:
    """Refuse a type test whose answer for ``value`` (an array or number the code computed from dlfeval's
    dlarrays, or a helper's float array, whose type in Python the compiler could not tell: ``known`` ``"?"``)
    differs between the data and the dlarray Python may hold there (``same(a, b)``: do the answers agree?)."""
    if known == "?" and type(value) is not _dlarray and _data_like(value) and \
            not same(value, _as_python(value, "dl")):
        raise EvaluationError(
            f"{construct} of a value sct holds as a {type(value).__name__} that may be a dlarray in plain Python "
            f"(computed from dlfeval's dlarrays, or given to a helper, which sct could not tell apart here), where "
            f"the test answers otherwise; test isinstance(v, (np.ndarray, sct.dlarray)) (True for both), or its "
            f"shape or ndim, or decide outside the function (pass a flag)")


def python_isinstance(value, classinfo, known=""):
    """``isinstance(value, classinfo)`` in code sct transforms, answered as plain Python's run answers
    (``_as_python``); refused where that is not known and the answer depends on it."""
    known = _resolved(known)
    _unknown_type(value, known, "isinstance(...)",
                  lambda a, b: isinstance(a, classinfo) == isinstance(b, classinfo))
    return isinstance(_as_python(value, known), classinfo)


def python_type(value, known=""):
    """``type(value)`` in code sct transforms, as plain Python's run answers (``python_isinstance``)."""
    known = _resolved(known)
    _unknown_type(value, known, "type(...)", lambda a, b: type(a) is type(b))
    return type(_as_python(value, known))


def python_isscalar(value, known=""):
    """``np.isscalar(value)`` in code sct transforms, as plain Python's run answers (``python_isinstance``:
    a 0-d dlarray, ``np.sum(h)``, is no scalar)."""
    known = _resolved(known)
    _unknown_type(value, known, "np.isscalar(...)", lambda a, b: np.isscalar(a) == np.isscalar(b))
    return np.isscalar(_as_python(value, known))


def python_hasattr(value, name, known=""):
    """``hasattr(value, name)`` in code sct transforms, as plain Python's run answers (``python_isinstance``: a
    dlarray's attributes, ``__len__`` of ``np.sum(W)`` too, not its data's)."""
    known = _resolved(known)
    _unknown_type(value, known, "hasattr(...)", lambda a, b: hasattr(a, name) == hasattr(b, name))
    return hasattr(_as_python(value, known), name)


# the methods of a dlarray its data lacks whose results are no arrays (``getattr(s, "__len__", None)`` of a 0-d
# value: Python's dlarray's, an int or TypeError where called): given as the dlarray's by ``python_getattr``
_DLARRAY_ONLY_METHODS = frozenset(("__len__", "finddim"))


def python_getattr(value, name, default, known=""):
    """``getattr(value, name, default)`` in code sct transforms (not carrying a derivative), as plain Python's run
    answers (``python_hasattr``): ``default`` where Python's value has no such attribute; the attribute of the value
    held where both have it; a dlarray's ``_DLARRAY_ONLY_METHODS`` or data attribute where only Python's has it; for
    another method only Python's has, a function refusing its call (sct would run the dlarray's method outside its
    trace), which tests (``is not None``, ``callable``) answer as Python's."""
    known = _resolved(known)
    if not python_hasattr(value, name, known):
        return default
    if hasattr(value, name):
        return getattr(value, name)
    found = getattr(_as_python(value, known), name)
    if callable(found) and name not in _DLARRAY_ONLY_METHODS:
        held = type(value).__name__

        def not_run(*args, **kwargs):
            raise EvaluationError(
                f"a call of the method {name} that getattr(..., {name!r}, ...) gave: the value is a dlarray in plain "
                f"Python, whose method sct does not run (it holds the value's data, a {held}, which has none); "
                f"call the operation the method stands for")
        return not_run
    return found


def python_dir(value, known=""):
    """``dir(value)`` in code sct transforms, as plain Python's run answers (``python_isinstance``: a dlarray's
    names, not its data's)."""
    known = _resolved(known)
    _unknown_type(value, known, "dir(...)", lambda a, b: dir(a) == dir(b))
    return dir(_as_python(value, known))


def sequence_type(value):
    """``type(value)`` of ``type(value)(... for ...)`` (sct/normalize_loops.py rebuild_same_type): list or
    tuple, which walk the generator once, whole, as the list sct builds from it; another class is refused."""
    if type(value) is list or type(value) is tuple:
        return type(value)
    raise EvaluationError(f"type(...)(... for ...) of a {type(value).__name__}: sct rebuilds a list or tuple "
                          f"from a generator (its items built whole, as a list), not another class, whose "
                          f"constructor may keep the generator or walk it more than once; write "
                          f"{type(value).__name__}([... for ...]) or build the new value by its fields")


nondifferentiable(sequence_type)


def text_view(value, _depth: int = 0):
    """What text of ``value`` shows in code sct transforms: ``numpy_view`` of a dlarray, and of each one in a
    list, tuple, namedtuple, dict or set (Python's str and repr show their items' repr: was the dlarray's
    display, ``'[1x1 dlarray  0.5000]'`` where Python gives ``'[array(0.5)]'``); anything else as it is."""
    cls = type(value)
    if cls is _dlarray:
        return numpy_view(value)
    if _depth > 20:
        return value
    if _dataclass_repr(cls) and type(getattr(value, "__dict__", None)) is dict:
        # a dataclass's own repr shows its fields' repr: a copy holding their text views shows Python's
        fields = {k: text_view(v, _depth + 1) for k, v in value.__dict__.items()}
        if all(fields[k] is v for k, v in value.__dict__.items()):
            return value
        shown = object.__new__(cls)
        shown.__dict__.update(fields)
        return shown
    if _dataclass_repr(cls) and "__slots__" in cls.__dict__:
        # @dataclass(slots=True): no __dict__, the fields are slots (was shown as it is, the dlarray's
        # display inside Python's repr)
        import dataclasses
        names = [f.name for f in dataclasses.fields(cls)]
        held = {k: getattr(value, k) for k in names if hasattr(value, k)}
        fields = {k: text_view(v, _depth + 1) for k, v in held.items()}
        if all(fields[k] is v for k, v in held.items()):
            return value
        shown = object.__new__(cls)
        for k, v in fields.items():
            object.__setattr__(shown, k, v)
        return shown
    if cls not in (list, tuple, dict, set, frozenset) and not (isinstance(value, tuple) and hasattr(cls, "_fields")):
        return value
    if isinstance(value, dict):
        items = {k: text_view(v, _depth + 1) for k, v in value.items()}
        return items if any(items[k] is not v for k, v in value.items()) else value
    items = [text_view(v, _depth + 1) for v in value]
    if all(a is b for a, b in zip(items, value)):
        return value
    if cls is list:
        return items
    if cls is tuple:
        return tuple(items)
    if cls in (set, frozenset):
        return value            # (a set's items hash as they are: shown as they are)
    return cls(*items)          # a namedtuple


def _dataclass_repr(cls) -> bool:
    """Is ``cls`` a dataclass whose str and repr are the ones ``@dataclass`` wrote (its fields' repr)?"""
    import dataclasses
    if not isinstance(cls, type) or not dataclasses.is_dataclass(cls) or cls.__str__ is not object.__str__:
        return False
    fn = getattr(cls.__repr__, "__wrapped__", cls.__repr__)
    code = getattr(fn, "__code__", None)
    return code is not None and code.co_filename == "<string>" and code.co_name == "__repr__"


def str_as_numpy(value):
    """``str(value)`` in code sct transforms: a dlarray (an object's field, or an item of one, which generated
    code holds as the dlarray it is) as the numpy array or scalar it stands for (was: the dlarray's display,
    ``'  1x1 dlarray\\n\\n    0.5410\\n'`` where Python gives ``'0.5409726942533929'``)."""
    return str(text_view(value))


def repr_as_numpy(value):
    """``repr(value)`` in code sct transforms (``str_as_numpy``)."""
    return repr(text_view(value))


def ascii_as_numpy(value):
    """``ascii(value)`` in code sct transforms (``str_as_numpy``)."""
    return ascii(text_view(value))


def format_as_numpy(value, spec=""):
    """``format(value, spec)`` in code sct transforms, and a value an f-string shows (``str_as_numpy``)."""
    return format(text_view(value), spec)


def text_operand(value):
    """A value shown by ``"%s" % v``, ``"{}".format(v)`` or ``print(v)`` in code sct transforms: a dlarray
    as the numpy array or scalar it stands for (``str_as_numpy``); a tuple of values (``"%s %s" % (a, b)``)
    each so."""
    if type(value) is tuple:
        return tuple([text_view(v) for v in value])
    return text_view(value)


# type tests answer with a type or a bool: no derivative passes through them (read as Python code, a
# second sweep or forward mode refused `type(x)` of a traced x as "no derivative rule for type");
# nor does text
nondifferentiable(python_type, python_isinstance, python_isscalar, python_hasattr, python_getattr, python_dir,
                  plain_call_check, text_view, str_as_numpy, repr_as_numpy, ascii_as_numpy, format_as_numpy,
                  text_operand, numpy_view)


def stop_gradient(x):
    """The value of ``x`` as a constant (what ``extractdata`` compiles to)."""
    return x


def data_receiver(x):
    """``x`` of ``x.data`` read as dlarray's data (the value of a traced array, a constant): an
    array or a number; an object of another class has its own ``.data``, which sct could not
    tell from dlarray's where it compiled the read."""
    if _is_array(x) or isinstance(x, (int, float, complex, np.generic)):
        return x
    raise SctRuntimeError(
        f"`.data` of a {type(x).__name__} object that carries a derivative: sct reads `v.data` of a traced "
        f"value as dlarray's data (a constant, as extractdata(v)), and could not tell where it compiled "
        f"this read that v is an object with its own field `data` (an object taken from a list or a loop, "
        f"or code that differentiates a gradient again); name the field otherwise (self.values, ...)")


# --- calls to functions the compiler transforms at run time ---------------------------

class CompilerHooks:
    """What generated code calls to get the generated code of a function it reaches at run
    time.  The compiler installs these when it is imported (sct.transform_calls): the runtime
    never imports the compiler."""
    vjp_pair = vjp_method_pair = vjp_init_pair = jvp_call_impl = op_jvp_impl = None
    primal_call = primal_method = None
    site_miss = None                  # a call site's first call, or one its entries do not match
    function_state = None             # a function called through a call site's entry: its captured values noted
    changes_arguments = None          # whether a user function may change its arguments in place
    writes_outside = None             # whether a user function may write into a global's or closure's object
    changing_hooks = None             # a class's implicit code that may change an object: name -> Class.name
    walk_changes = None               # a class's __iter__/__next__/__len__/__getitem__ that may change one: its label
    changes = None                    # whether a function of the user's may change an object it does not make


HOOKS = CompilerHooks()

# whether an object is a layer with its own backward (runtime/layers.py installs its test: it
# imports this module, so this one cannot import it)
CUSTOM_BACKWARD = [lambda obj: False]
CUSTOM_BACKWARD_CALL = [lambda obj, name: False]     # runtime/layers.py's uses_custom_backward


class LineMap:
    """(file, line) of generated code -> the user's file and line, lent by the compiler
    (sct.parse.user_line).  Apart from HOOKS because it runs no generated code and keeps no
    log: runtime code that reads it (project's NaN refusal) needs no effects log around it
    (sct.api._reaches_log looks for HOOKS)."""
    user_line = None


LINES = LineMap()


def vjp(fn, active, *args, **kwargs):
    """``(forward, adjoint)`` generated for ``fn`` and arguments like ``args`` (compiled once)."""
    return HOOKS.vjp_pair(fn, active, args, kwargs)


def vjp_method(obj, name, active, *args, **kwargs):
    """``(forward, adjoint)`` for ``obj.name(...)``; ``args`` and both functions start with ``obj``."""
    return HOOKS.vjp_method_pair(obj, name, active, args, kwargs)


def vjp_init(cls, active, *args, **kwargs):
    """``(forward, adjoint)`` for building ``cls(*args)`` into a new object given first."""
    return HOOKS.vjp_init_pair(cls, active, args, kwargs)


def primal_call(fn, active, *args, **kwargs):
    """``fn(*args, **kwargs)`` run as generated code (its dlgradient sites with their sweeps)
    where no sweep of the caller differentiates through the call: no pair, no residuals."""
    return HOOKS.primal_call(fn, active, args, kwargs)


def primal_method(obj, name, active, *args, **kwargs):
    """Like :func:`primal_call` for ``obj.name(*args[1:])`` (``args[0]`` is ``obj``)."""
    return HOOKS.primal_method(obj, name, active, args, kwargs)


# --- call sites: each call of generated code to a function fixed when it was compiled --------------

class CallSite:
    """One call in generated code (``rt.vjp_at(site, helper, ...)``): the pairs it used, each with
    a matcher of its arguments' kinds and the guards of the code, so a repeated call runs the
    generated code directly instead of computing kinds and looking up the cache.

    ``entries``: :class:`SiteEntry` tuples ``(callee, active, match(args), check(func), rules version,
    first, second, func, keywords)`` (a tuple replaced whole, so readers need no lock); a call that matches none
    goes to the compiler (``HOOKS.site_miss``), which adds one.  After ``MAX_MISSES`` misses a site
    stops adding (a call whose callee or kinds keep changing takes the general path)."""
    __slots__ = ("entries", "misses", "label", "linked", "forwards", "summarised", "__weakref__")
    MAX_ENTRIES = 16
    MAX_MISSES = 64

    def __init__(self, label: str = ""):
        self.entries = ()
        self.misses = 0
        self.label = label
        self.linked = None      # (pairs (i, j): argument j computed from argument i, file, line): sct/call_tree
        self.forwards = None    # in a helper: (its parameters each argument reads, its name, file, line): sct/call_tree
        self.summarised = None  # the callee's summary its caller's checks read (sct/call_tree.Summarised)

    def __repr__(self):
        return f"<sct call site {self.label}>"

    def __deepcopy__(self, memo):
        return self

    def __reduce__(self):
        return (CallSite, (self.label,))


from .registry import _version as _rules_version  # noqa: E402


class SiteEntry(NamedTuple):
    """One entry of a :class:`CallSite`: the code generated for a callee and arguments' kinds."""
    callee: Any             # the function, the receiver's class (methods) or the class (constructors)
    active: Any             # the call's activity mask
    match: Any              # match(args): the arguments have the kinds the code was made for
    check: Any              # check(func): the guards of the code hold for func
    version: int            # the rules version it was made under
    first: Any              # the forward (vjp ops) or the entry code (primal ops)
    second: Any             # the adjoint (vjp ops), else None
    func: Any               # the Python function compiled (the method, the __init__)
    keywords: tuple         # the keywords' names (constructors)


def _function_entry(site, fn, active, args):
    """The entry of ``site`` compiled for calling ``fn`` with arguments like ``args``, or None."""
    for e in site.entries:
        if e.callee is fn and e.active == active and e.match(args) and e.check(fn) and \
                e.version == _rules_version[0]:
            return e
    return None


def method_of(obj, name):
    """``obj.name`` as the generated call reads it: ``obj(...)`` (the method ``__call__``) runs
    the class's ``__call__``, as Python's call does, never a ``__call__`` stored in the instance."""
    if name == "__call__" and not isinstance(obj, type):
        cls = type(obj)
        func = getattr(cls, "__call__", None)
        if type(func) is types.FunctionType:
            return types.MethodType(func, obj)
        if isinstance(obj, (np.ufunc, types.BuiltinFunctionType, functools.partial)):
            # a numpy ufunc or builtin called as a value (``f(x)`` for ``f`` in ``[layer1, np.tanh,
            # layer2]``): the function itself, whose rule is looked up (was: its ``__call__`` wrapper,
            # refused as "no derivative rule for 'ufunc.__call__'")
            return obj
        from .registry import is_nondifferentiable, lookup
        if type(obj).__name__ == "_ArrayFunctionDispatcher" and \
                (lookup(obj) is not None or is_nondifferentiable(obj)):
            # numpy's functions called as a value (``f(x)`` for ``f`` in ``[..., np.tanh, np.sum]``,
            # PyTorch's nn.Sequential ported): the function, whose rule is looked up (was: refused as
            # "no derivative rule for '_ArrayFunctionDispatcher.__call__'"; red team B, dec 23)
            return obj
    method = getattr(obj, name)
    if type(method) is types.MethodType and getattr(type(method.__func__), "__sct_wraps__", False):
        method = types.MethodType(_unwrapped(method.__func__.fn), method.__self__)   # @sct.accelerate: its function
    elif getattr(type(method), "__sct_wraps__", False):       # an accelerated staticmethod: its function
        method = _unwrapped(method.fn)
    return method


def _unwrapped(fn):
    return fn.__func__ if isinstance(fn, (staticmethod, classmethod)) else fn


_CO_VARARGS = 0x04


def _check_keywords_call(func, receiver: bool, count: int, names, traced=()) -> None:
    """What Python refuses in ``func(<receiver>, <count values>, n=...)``, Python's TypeError; what
    sct cannot pass by position (keyword-only parameters with *args, one left to a default that is
    no literal before a later one the call names), refused here, at the user's call."""
    import inspect
    what = getattr(func, "__qualname__", "the function")
    params = list(inspect.signature(func).parameters.values())
    try:
        inspect.signature(func).bind(*([None] * (count + receiver)), **{n: None for n in names})
    except TypeError as exc:
        text = str(exc)
        raise TypeError(f"{func.__name__}() {'got ' + text if text.startswith('multiple') else text}") from None
    named = {p.name for p in params if p.kind != p.VAR_KEYWORD}
    var_keyword = [p.name for p in params if p.kind == p.VAR_KEYWORD]
    caught = [n for n in names if n not in named and n in traced]
    if caught and var_keyword:      # refused here, at the user's call (not at the adapter's line)
        fname = func.__name__
        raise EvaluationError(f"{', '.join(caught)} reach{'es' if len(caught) == 1 else ''} {fname}() through "
                              f"**{var_keyword[0]}: sct differentiates a helper's named parameters; name "
                              f"{'it' if len(caught) == 1 else 'them'} in its signature (def {fname}("
                              f"{', '.join(caught)}, **{var_keyword[0]})), or take one dict")
    kwonly = [p for p in params if p.kind == p.KEYWORD_ONLY]
    if not any(p.name in names for p in kwonly):
        return
    if any(p.kind == p.VAR_POSITIONAL for p in params):
        raise EvaluationError(f"a value passed by keyword to a keyword-only parameter of {what}, which also "
                              "takes *args: sct does not differentiate that yet; make the keyword-only "
                              "parameter an ordinary one, or drop *args")
    order = [p for p in params if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)][count + receiver:] + kwonly
    last = max(i for i, p in enumerate(order) if p.name in names)
    for p in order[:last]:
        if p.name not in names and p.default is not PARTIAL_UNSET and \
                not isinstance(p.default, (int, float, complex, str, bool, type(None))):
            raise EvaluationError(f"{p.name} of {what} is left to its default while a later parameter "
                                  f"({', '.join(n for n in names if n in [q.name for q in order[last:]])}) takes "
                                  f"a value by keyword: pass {p.name} too")
_ADAPTERS: dict = {}        # (id(func), count, names, receiver) -> (func, adapter): keywords_method's
_ADAPTER_COUNT = __import__("itertools").count()


def keywords_method(obj, name, count, names, traced=()):
    """``obj.name(a_1, ..., a_count, n_1=..., n_2=...)`` given a traced value by keyword, as a
    Python function of the receiver and the values by position: ``def name(receiver, a0, ...,
    n_1, n_2): return FUNC(receiver, a0, ..., n_1=n_1, n_2=n_2)`` (FUNC the method's function),
    whose code sct compiles as any helper's (the keywords then go to their parameters' positions
    there, where FUNC is known: sct/calls.py).  Made once per function, count and names."""
    import linecache
    if isinstance(obj, Closure):
        raise EvaluationError(f"a traced value passed by keyword ({', '.join(names)}) to a nested function "
                              "called as a value: sct does not differentiate that yet; pass it by position")
    if name is None and getattr(type(obj), "__sct_wraps__", False):     # @sct.accelerate: its function
        obj = _unwrapped(obj.fn)
    method = obj if name is None else method_of(obj, name)
    if type(method) is types.FunctionType:     # a function value, a staticmethod: no receiver
        func, receiver = method, False
    else:
        name = "__call__" if name is None else name
        method = method_of(obj, name)
        if not (type(method) is types.MethodType and method.__self__ is obj and
                type(method.__func__) is types.FunctionType):
            raise EvaluationError(f"{type(obj).__name__}.{name} is not a Python function or a method defined "
                                  f"by a def in its class: sct passes traced keyword arguments "
                                  f"({', '.join(names)}) only to those")
        if CUSTOM_BACKWARD_CALL[0](obj, name):
            raise EvaluationError(f"{type(obj).__name__}.{name} has its own backward: pass "
                                  f"{', '.join(names)} to it by position")
        func, receiver = method.__func__, True
    _check_keywords_call(func, receiver, count, names, traced)
    key = (id(func), count, tuple(names), receiver)
    held = _ADAPTERS.get(key)
    if held is not None and held[0] is func:
        return held[1]
    stem = func.__name__.strip("_<>")
    # a lambda's stem is the keyword `lambda`: not a name the adapter can use
    stem = stem if stem.isidentifier() and not keyword.iskeyword(stem) else "call"
    # the adapter is named after the function; the function is a global named after it (and its class)
    fname = f"{stem}_by_keywords"
    held_as = f"{type(obj).__name__}_{stem}" if receiver else stem
    held_as = held_as if held_as.isidentifier() else "FUNC"
    positional_names = [f"a{i}" for i in range(count)]
    while held_as in {"receiver", fname, *positional_names}:     # a function named `receiver` or `a0`
        held_as = "FUNC_" + held_as
    taken = set(positional_names) | {"receiver", held_as, fname}
    params = ["receiver"] + positional_names + [n if n not in taken else f"keyword_{n}" for n in names]
    passed = params[0 if receiver else 1:1 + count] + [f"{n}={p}" for n, p in zip(names, params[1 + count:])]
    source = (f"def {fname}({', '.join(params)}):\n"
              f"    return {held_as}({', '.join(passed)})\n")
    filename = f"<sct keywords {func.__qualname__} {next(_ADAPTER_COUNT)}>"
    linecache.cache[filename] = (len(source), None, source.splitlines(True), filename)
    namespace = {held_as: func, "__name__": getattr(func, "__module__", None)}
    exec(compile(source, filename, "exec"), namespace)
    adapter = namespace[fname]
    adapter.__qualname__ = func.__qualname__
    if not receiver:
        # (the function and the names it is given by keyword: a deep-learning function's DataFormat is read
        # there when the call runs, sct/transform_calls.py: _keywords_adapter_call)
        adapter.__sct_keywords__ = (func, tuple(names))
    if len(_ADAPTERS) >= 256:
        _ADAPTERS.clear()
    _ADAPTERS[key] = (func, adapter)
    return adapter


_POSITIONAL: dict = {}      # id(fn) -> (code, defaults, keyword defaults, derived, fn): positional's


def positional(fn):
    """``fn`` with its keyword-only parameters made positional, after its others (the same code,
    globals and closure): a call that passes a traced value to a keyword-only parameter
    (``layer(x, w=w)`` of ``def layer(x, *, w)``) reads ``rt.vjp(rt.positional(layer), mask, x, w)``,
    so that the value's adjoint comes back by position (sct/calls.py).  Its defaults: those of
    the trailing parameters that all have one, positional or keyword-only.  Made once per code
    and defaults (the same function each time: sites and caches know it by identity)."""
    if getattr(type(fn), "__sct_wraps__", False):      # @sct.accelerate: the function it runs
        fn = _unwrapped(fn.fn)
    if type(fn) is not types.FunctionType:
        # an op differentiated through its Python equivalent (itertools.accumulate(xs, initial=x0):
        # accumulate_items; was an internal TypeError naming the C type)
        from .registry import readable
        fn = readable(fn)
    if type(fn) is not types.FunctionType:
        raise TypeError(f"{fn!r} is not a Python function: sct passes traced keyword-only "
                        "arguments by position to Python functions only")
    code = fn.__code__
    if not code.co_kwonlyargcount:
        return fn
    if code.co_flags & _CO_VARARGS:
        raise TypeError(f"{fn.__qualname__} has *{code.co_varnames[code.co_argcount + code.co_kwonlyargcount]}: "
                        "sct passes traced keyword-only arguments by position only to functions without *args")
    kwdefaults = fn.__kwdefaults__ or {}
    held = _POSITIONAL.get(id(fn))
    if held is not None and held[4] is fn and held[0] is code and held[1] is fn.__defaults__ and \
            held[2].keys() == kwdefaults.keys() and all(held[2][k] is v for k, v in kwdefaults.items()):
        return held[3]
    count = code.co_argcount + code.co_kwonlyargcount
    names = code.co_varnames[:count]
    defaults = fn.__defaults__ or ()
    values = [(False, None)] * (code.co_argcount - len(defaults)) + [(True, d) for d in defaults] + \
        [(n in kwdefaults, kwdefaults.get(n)) for n in names[code.co_argcount:]]
    tail: list = []
    for has, value in reversed(values):
        if not has:
            break
        tail.insert(0, value)
    derived = types.FunctionType(code.replace(co_argcount=count, co_kwonlyargcount=0), fn.__globals__,
                                 fn.__name__, tuple(tail) or None, fn.__closure__)
    derived.__qualname__ = fn.__qualname__
    derived.__module__ = fn.__module__
    derived.__sct_positional_of__ = fn
    if len(_POSITIONAL) >= 1024:
        _POSITIONAL.clear()
    _POSITIONAL[id(fn)] = (code, fn.__defaults__, dict(kwdefaults), derived, fn)
    return derived


_CO_VARKEYWORDS = 0x08
_KEYWORDS_POSITIONAL: dict = {}


def keywords_positional(fn):
    """``fn`` (a Python function taking ``**kw``, without ``*args``) with its keyword-only parameters and
    then its ``**kw`` made positional, in that order, without defaults (the same code, globals and
    closure): ``dlfeval(f, x, c=3.0)`` of ``def f(x, **kw)`` runs it as ``f'(x, {"c": 3.0})``, the
    extra keywords one dict argument (its kind part of the cache's key, as any dict's).  Made once per
    code (sct/parse.py reads the tree of ``fn`` itself, the parameters moved the same way)."""
    code = fn.__code__
    if not code.co_flags & _CO_VARKEYWORDS:
        raise TypeError(f"{fn.__qualname__}: keywords_positional takes a function with **kwargs")
    held = _KEYWORDS_POSITIONAL.get(id(fn))
    if held is not None and held[0] is fn and held[1] is code:
        return held[2]
    # (a function taking *args too: its *args a tuple by position before the dict, ``f'(x, (a, b), {"w": W})``
    # of ``f(x, a, b, w=W)``, a helper's call (sct/normalize_exprs.py packed_keywords_call))
    count = code.co_argcount + code.co_kwonlyargcount + 1 + bool(code.co_flags & _CO_VARARGS)
    derived = types.FunctionType(code.replace(co_argcount=count, co_kwonlyargcount=0,
                                              co_flags=code.co_flags & ~_CO_VARKEYWORDS & ~_CO_VARARGS),
                                 fn.__globals__, fn.__name__, None, fn.__closure__)
    derived.__qualname__ = fn.__qualname__
    derived.__module__ = fn.__module__
    derived.__sct_positional_of__ = fn
    derived.__sct_keywords_positional__ = True
    if len(_KEYWORDS_POSITIONAL) >= 1024:
        _KEYWORDS_POSITIONAL.clear()
    _KEYWORDS_POSITIONAL[id(fn)] = (fn, code, derived)
    return derived


def parameter_default(fn, name):
    """The default of ``fn``'s parameter ``name`` as it is when the call runs (a call of
    ``keywords_positional(fn)`` passes every parameter: sct/normalize_exprs.py packed_keywords_call)."""
    kwdefaults = fn.__kwdefaults__ or {}
    if name in kwdefaults:
        return kwdefaults[name]
    code, defaults = fn.__code__, fn.__defaults__ or ()
    k = code.co_varnames.index(name) - (code.co_argcount - len(defaults))
    if name not in code.co_varnames[:code.co_argcount] or not 0 <= k < len(defaults):
        raise TypeError(f"{fn.__qualname__}() missing 1 required argument: {name!r}")
    return defaults[k]


nondifferentiable(positional, keywords_method, keywords_positional, parameter_default)      # they make functions (no value to differentiate)


def _method_entry(site, obj, name, active, args):
    """The entry of ``site`` compiled for ``obj.name(...)`` with arguments like ``args`` (the
    method still the one it was compiled from), or None."""
    cls = type(obj)
    for e in site.entries:
        if e.callee is cls and e.active == active and e.match(args) and e.version == _rules_version[0]:
            method = method_of(obj, name)
            if type(method) is types.MethodType and method.__func__ is e.func and \
                    method.__self__ is obj and e.check(e.func):
                return e
    return None


def vjp_at(site, fn, active, /, *args, **kwargs):
    """:func:`vjp` at a call site: ``(forward, adjoint)`` of ``fn`` for arguments like ``args``."""
    e = _function_entry(site, fn, active, args)
    if e is not None:
        if fn.__closure__ is not None or fn.__defaults__ is not None or fn.__kwdefaults__ is not None:
            HOOKS.function_state(fn)     # (its captured values are constants: noted, as at its first call)
        return e.first, e.second
    return HOOKS.site_miss(site, "vjp", fn, None, active, args, kwargs)


def vjp_method_at(site, obj, name, active, /, *args, **kwargs):
    """:func:`vjp_method` at a call site."""
    e = _method_entry(site, obj, name, active, args)
    if e is not None:
        return e.first, e.second
    return HOOKS.site_miss(site, "vjp_method", obj, name, active, args, kwargs)


def vjp_init_at(site, cls, active, /, *args, **kwargs):
    """:func:`vjp_init` at a call site."""
    for e in site.entries:
        if e.callee is cls and e.active == active and e.match(args) and e.version == _rules_version[0] and \
                cls.__init__ is e.func and e.check(e.func) and e.keywords == tuple(kwargs):
            return e.first, e.second
    return HOOKS.site_miss(site, "vjp_init", cls, None, active, args, kwargs)


def primal_call_at(site, fn, active, /, *args, **kwargs):
    """:func:`primal_call` at a call site: the value of ``fn(*args, **kwargs)``."""
    e = _function_entry(site, fn, active, args)
    if e is not None:
        if fn.__closure__ is not None or fn.__defaults__ is not None or fn.__kwdefaults__ is not None:
            HOOKS.function_state(fn)
        return e.first(*args, **kwargs)
    return HOOKS.site_miss(site, "primal_call", fn, None, active, args, kwargs)


def primal_method_at(site, obj, name, active, /, *args, **kwargs):
    """:func:`primal_method` at a call site."""
    e = _method_entry(site, obj, name, active, args)
    if e is not None:
        return e.first(*args, **kwargs)
    return HOOKS.site_miss(site, "primal_method", obj, name, active, args, kwargs)


def guard_holds(guard, /, *args):
    """Whether the code a call names (compiled with its caller: sct/call_tree.py) is right for
    these arguments: ``guard`` checks what the caller's own check does not cover."""
    return guard(*args)


def jvp_call(fn, args, tangents, **kwargs):
    """``(fn(*args), its tangent)``: ``fn`` forward-differentiated by generated code."""
    return HOOKS.jvp_call_impl(fn, args, tangents, kwargs)


def jvp_method(obj, name, args, tangents, **kwargs):
    """``(obj.name(...), its tangent)``; ``args`` and ``tangents`` start with ``obj``'s."""
    method = method_of(obj, name)
    if hasattr(method, "__func__") and getattr(method, "__self__", None) is obj:
        return jvp_call(method.__func__, args, tangents, **kwargs)
    return jvp_call(method, args[1:], tangents[1:], **kwargs)


def op_jvp(op, args, kwargs, tangents, keyword_tangents, ans):
    """The tangent of ``op(*args, **kwargs)`` from its rule, transposed (rules are linear in g)."""
    return HOOKS.op_jvp_impl(op, args, kwargs, tangents, keyword_tangents, ans)


def tangent_attribute(tangent, obj, name):
    """The tangent of ``obj.name`` given the tangent of ``obj`` (an object like it, or a dict)."""
    if _is_zero(tangent) or tangent is None or (_is_array(obj) and name in NONDIFF_ATTRIBUTES):
        return zero_tangent(getattr(obj, name))     # (an array's metadata: see attribute_adjoint)
    refuse_computed_attribute(obj, name, "tangent")
    if isinstance(getattr(type(obj), name, None), types.FunctionType) and \
            name not in getattr(obj, "__dict__", {}):
        raise SctRuntimeError(f"`.{name}` is a method of {type(obj).__name__} taken as a value, and the tangent "
                              f"of its object's fields would be lost; call the method through its object "
                              f"(obj.{name}(...))")
    if isinstance(tangent, dict):
        return tangent[name] if name in tangent else zero_adjoint(getattr(obj, name))
    return getattr(tangent, name)


def new_object(cls):
    """An instance of ``cls`` whose ``__init__`` has not run yet."""
    return cls.__new__(cls)


# --- per-point derivatives (dljacobian, dldivergence) -----------------------------------

def _batch_axis(dim, x, u) -> int:
    """The batch axis ``dim`` (negative counts from the end) of ``x``, which is also u's:
    the same axis for both whatever their ranks (MATLAB's dim names one axis of x and u)."""
    rank = np.ndim(x)
    if not -rank <= dim < rank or not dim % rank < np.ndim(u):
        raise ValueError(f"dim={dim} is not an axis of both x (shape {np.shape(x)}) and u "
                         f"(shape {np.shape(u)}): dim is their batch axis")
    if np.shape(u)[dim % rank] != np.shape(x)[dim % rank]:
        # (was: u's points paired with x's by a reshape, a silently wrong result or a reshape error)
        raise ValueError(f"dim={dim}: u (shape {np.shape(u)}) and x (shape {np.shape(x)}) have different "
                         f"numbers of points along it; dim is the batch axis of both (sct keeps numpy's "
                         f"order: arrange u and x with their points along the same axis)")
    return dim % rank


def batch_jacobian(sweep, values, u, x, dim):
    """Assemble the per-point Jacobian from a sweep run once per component of ``u``.

    ``sweep(values, seed)`` is the adjoint of u with cotangent ``seed``; points along
    the batch axis ``dim`` are independent, so one sweep serves all points at once.
    """
    _require_real_u(u, "dljacobian")
    sweeps_started(u)
    ub = xb = _batch_axis(dim, x, u)
    u_first = np.moveaxis(u, ub, 0)
    batch = np.shape(u_first)[0]
    u_rest = np.shape(u_first)[1:]
    x_rest = np.shape(np.moveaxis(x, xb, 0))[1:]
    count = int(np.prod(u_rest))
    # (the sizes written out, not -1: a batch of no points, x of shape (0, 3), could not be reshaped
    # to (0, -1), and a u of no components stacked no rows; numpy's ValueErrors reached the user)
    width = int(np.prod(x_rest))
    rows = []
    for i in range(count):
        seed = np.zeros((batch, count), dtype=u.dtype)
        seed[:, i] = 1
        seed_u = np.moveaxis(np.reshape(seed, (batch,) + u_rest), 0, ub)
        g = sweep(values, seed_u)
        rows.append(np.reshape(np.moveaxis(g, xb, 0), (batch, width)))
    require_independent_points(sweep, values, u, ub, rows, "dljacobian", dim)
    # (u of no components: the empty Jacobian, in the gradients' dtype, x's)
    stacked = np.stack(rows, axis=1) if rows else np.zeros((batch, 0, width), dtype=_jacobian_dtype(x))
    jac = np.reshape(stacked, (batch,) + u_rest + x_rest)
    # the batch axis of the result is at x's batch axis (dim=-1 of a 2-D x is dim=1)
    return np.moveaxis(jac, 0, xb)


def _jacobian_dtype(x):
    """The dtype of the gradients with respect to ``x`` (dlgradient's: x's float or complex dtype)."""
    dtype = np.result_type(x)
    return dtype if dtype.kind in "fc" else np.dtype(np.float64)


def batch_divergence(sweep, values, u, x, dim):
    """The per-point divergence (trace of the per-point Jacobian), one sweep per component."""
    _require_real_u(u, "dldivergence")
    sweeps_started(u)
    ub = xb = _batch_axis(dim, x, u)
    if np.shape(u) != np.shape(x):
        raise ValueError(f"dldivergence: u (shape {np.shape(u)}) and x (shape {np.shape(x)}) must have the "
                         f"same shape (component i of u is differentiated by component i of x)")
    u_first = np.moveaxis(u, ub, 0)
    batch = np.shape(u_first)[0]
    u_rest = np.shape(u_first)[1:]
    count = int(np.prod(u_rest))
    # in the gradients' dtype (x's), as dljacobian's rows and dlgradient's (was u's: a float64 u of a
    # float32 x, x @ W with a float64 W, gave a float64 divergence beside a float32 Jacobian)
    total_div = np.zeros(batch, dtype=np.result_type(x))
    rows = []
    for i in range(count):
        seed = np.zeros((batch, count), dtype=u.dtype)
        seed[:, i] = 1
        seed_u = np.moveaxis(np.reshape(seed, (batch,) + u_rest), 0, ub)
        g = sweep(values, seed_u)
        row = np.reshape(np.moveaxis(g, xb, 0), (batch, count))      # (not -1: a batch of no points)
        rows.append(row)
        total_div = total_div + row[:, i]
    require_independent_points(sweep, values, u, ub, rows, "dldivergence", dim)
    _note_term_scale(total_div, sum(np.abs(row[:, i]) for i, row in enumerate(rows)) if rows else None)
    return total_div


# The sizes of the terms each divergence summed (per point), by the divergence's array: its rounding
# is relative to them, not to the sum (sct's dllaplacian check of independent points reads them).
_TERM_SCALES: dict = {}


def _note_term_scale(total, scale):
    if scale is None or not isinstance(total, np.ndarray):
        return
    if len(_TERM_SCALES) > 64:
        _TERM_SCALES.clear()
    _TERM_SCALES[id(total)] = (total, scale)


def _term_scale(total):
    """The largest size of the terms the divergence ``total`` summed at a point, 0 if not known."""
    held = _TERM_SCALES.pop(id(total), None)
    if held is None or held[0] is not total:
        return 0.0
    return float(np.max(np.abs(held[1]), initial=0.0))


def _require_real_u(u, what):
    """Refuse a complex ``u`` of dljacobian / dldivergence, as dlgradient refuses a complex ``y``: each
    sweep seeded with a real one differentiates the real part of ``u`` only, so the Jacobian of
    ``x * (1 + 2j)`` came back as the identity and its divergence as 2 + 0j (silently, for (1 + 2j) I
    and 2 + 4j)."""
    if np.iscomplexobj(u):
        raise SctRuntimeError(
            f"{what}: u must be real (it is {np.result_type(u)}): the sweeps would give the derivatives "
            f"of its real part only; take {what} of np.real(u) and of np.imag(u) apart")


def sweeps_started(u):
    """Start the sweeps of a dljacobian / dldivergence (seeded by rt.batch_jacobian, not rt.seed): no
    np.where noted yet, and project's refusal of a NaN gradient set by whether ``u`` is finite (was:
    left as the last sweep left it, so a NaN Jacobian entry of a finite ``u`` -- du[b, 0]/dx[b, 1] of
    ``np.sqrt(x)[:, :1]`` with x[:, 1] < 0 -- came back NaN, the program's derivative 0)."""
    if _UNSELECTED.sites:
        _UNSELECTED.sites.clear()
        _UNSELECTED.ops.clear()
    try:
        _UNSELECTED.finite_y = bool(np.isfinite(u).all())
    except TypeError:
        _UNSELECTED.finite_y = False


def require_independent_points(sweep, values, u, axis, rows, what, dim):
    """Refuse a ``u`` whose points along the batch axis are not independent (``x - np.mean(x, 0)``,
    a batch normalisation, ``u[b]`` reading ``x[0]``).  The per-point Jacobian is assembled from one
    sweep per component of ``u`` seeded at every point at once, which adds the derivatives of the
    other points' ``u`` into each point's (silently: ``dljacobian(x - np.mean(x, 0), x, 0)`` gave 0,
    not (1 - 1/B) I).  One more sweep, seeded with fixed weights ``r`` that differ from point to
    point, must equal ``sum_i r[b, i] * rows[i][b]`` where the points are independent."""
    batch = len(rows[0]) if rows else 0
    count = len(rows)
    if batch < 2 or count == 0:
        return
    weights = _point_weights(batch * count).reshape(batch, count)
    seed_u = np.moveaxis(np.reshape(weights.astype(np.real(np.zeros((), dtype=np.result_type(u))).dtype),
                                    (batch,) + np.shape(np.moveaxis(u, axis, 0))[1:]), 0, axis)
    whole = np.reshape(np.moveaxis(sweep(values, seed_u), axis, 0), (batch, -1))
    predicted = 0.0
    for i in range(count):
        predicted = predicted + weights[:, i:i + 1] * rows[i]
    _require_same_points(whole, predicted, np.result_type(u, whole), what, dim)


def _point_weights(n):
    """Fixed weights in [0.5, 2.5] that differ from point to point (the independence checks)."""
    return np.cos(np.arange(n) * 0.7548776662466927 + 0.25) + 1.5


def _require_same_points(whole, predicted, dtype, what, dim, terms=0.0):
    """Refuse where the derivative of a weighted sum over the points (``whole``) is not the weighted
    sum of each point's own (``predicted``): a point of u depends on other points of x.  ``terms``:
    the size of the terms the two sides summed, whose rounding they carry (0: not known)."""
    scale = max(float(np.max(np.abs(whole), initial=0.0)), float(np.max(np.abs(predicted), initial=0.0)))
    wide = dtype in (np.float64, np.complex128)
    # (float16's rounding, about 1e-3 of a value, is as large as float32's tolerance: held to it, about
    # one in ten dllaplacians of float16 points was refused as coupled points)
    narrow = 0.0 if wide else float(np.finfo(np.result_type(dtype, np.float16)).eps)
    tolerance = max(1e-6 * scale, 1e-9 * terms) if wide else \
        max(max(1e-3, 32 * narrow) * scale, max(1e-4, 4 * narrow) * terms)
    if float(np.max(np.abs(whole - predicted), initial=0.0)) > tolerance:
        raise SctRuntimeError(f"{what}(u, x, {dim}): the points of u along the batch axis {dim} are not independent "
                              f"(a point of u depends on other points of x: a mean or a sum over the batch, a "
                              f"normalisation, an index into the batch), so the per-point derivative sct "
                              f"assembles from sweeps over all points at once would add the other points' "
                              f"derivatives into each one. Compute u of each point from that point alone, or use "
                              f"dlgradient of the quantity you need")


def total(x):
    """The sum of every element of ``x``."""
    return np.sum(x)


def point_total(u, x, dim):
    """``dllaplacian(u, x, dim)``'s sum of ``u`` (sct/compiler.py expand_laplacians), after checking that
    ``u`` has one value per point of ``x`` along its batch axis ``dim`` (was: any ``u`` summed, a
    Laplacian of the wrong quantity)."""
    rank = np.ndim(x)
    if not -rank <= dim < rank or np.size(u) != np.shape(x)[dim % rank]:
        raise ValueError(f"dllaplacian: u (shape {np.shape(u)}) must have one value per point of x (shape "
                         f"{np.shape(x)}) along its batch axis dim={dim}")
    _require_real_u(u, "dllaplacian")       # (was refused as dlgradient's complex y, naming dlgradient)
    if np.iscomplexobj(x):
        # (was refused further on as "dldivergence: u must be real (it is complex128)", naming another
        # function and a complex u the user never wrote: the divergence of u's complex gradient)
        raise SctRuntimeError(
            f"dllaplacian(u, x, {dim}): x is complex ({np.result_type(x)}); the Laplacian is not "
            f"differentiated with respect to a complex x: pass its real and imaginary parts as two real "
            f"arrays (x = a + 1j * b inside the function) and add dllaplacian(u, a, {dim}) + "
            f"dllaplacian(u, b, {dim})")
    return np.sum(u)


def point_weighted_total(u, x, dim):
    """``sum_b w[b] * u[b]`` over the points of ``u`` (one value per point of ``x`` along ``dim``),
    with the fixed weights of the independence checks: its gradient is ``w[b]`` times each point's
    own where the points are independent (sct/compiler.py expand_laplacians)."""
    return np.sum(np.reshape(_point_weights(np.size(u)), np.shape(u)) * u)


def independent_point_gradient(grad, weighted, x, dim):
    """Check ``grad`` (the gradient of ``point_total(u, x, dim)``) against ``weighted`` (that of
    ``point_weighted_total``): where a point of ``u`` depends on other points of ``x`` (a mean over
    the batch), the Laplacian of the sum is not each point's own (was: returned silently,
    ``dllaplacian(np.sum(x ** 3, 1) - np.mean(x ** 2), x, 0)`` gave [16, 40] for [17, 41]).  None:
    not differentiated (``after_check`` passes ``grad`` on; was an op linear in ``grad``, whose
    forward-mode tangent ran the check on the tangent against the value's weighted gradient, a
    refusal of independent points)."""
    axis = dim % np.ndim(x)
    own = np.moveaxis(np.asarray(grad), axis, 0)
    batch = own.shape[0]
    if batch >= 2 and not _is_zero(weighted) and not _is_zero(grad):
        whole = np.reshape(np.moveaxis(np.asarray(weighted), axis, 0), (batch, -1))
        predicted = _point_weights(batch)[:, None] * np.reshape(own, (batch, -1))
        # (the data's precision: the weights are float64, so result_type(whole, predicted) was float64
        # for float32 and float16 data too, held to float64's tolerance: every dllaplacian of float16
        # points was refused as coupled points, their rounding taken for a coupling)
        _require_same_points(whole, predicted, np.result_type(whole, own), "dllaplacian", dim)


def independent_point_laplacian(lap, weighted, x, dim):
    """Check ``lap`` (the divergence of the gradient of ``point_total(u, x, dim)``) against
    ``weighted`` (that of the gradient of ``point_weighted_total``): where a point of ``u`` depends on
    other points of ``x`` through second derivatives only (``np.mean(x ** 2)`` at x = 0, whose
    gradient there is zero: independent_point_gradient's check passes), the Laplacian of the sum
    adds their second derivatives into each point (was: returned silently, [-2, -2, -2] for each
    point's own -2/3).  None: not differentiated (``after_check`` passes ``lap`` on)."""
    # (the divergences' rounding is relative to the second derivatives they summed: a harmonic u,
    # np.exp(x0) * np.sin(x1), has a Laplacian of rounding errors only, both sides of the comparison
    # then differing in their rounding: refused as coupled points, its Laplacian about 1e-16)
    terms = max(_term_scale(lap) * float(np.max(_point_weights(max(np.size(lap), 1)))), _term_scale(weighted))
    own = np.reshape(np.asarray(lap), (-1,))
    batch = own.shape[0]
    if batch >= 2 and not _is_zero(weighted) and not _is_zero(lap):
        whole = np.reshape(np.asarray(weighted), (batch, 1))
        predicted = _point_weights(batch)[:, None] * own[:, None]
        _require_same_points(whole, predicted, np.result_type(whole, own), "dllaplacian", dim, terms)


nondifferentiable(independent_point_gradient, independent_point_laplacian)


_REVERSIBLE = (list, tuple, range, str, bytes, dict, type({}.keys()), type({}.values()), type({}.items()))


def reversible(x):
    """None where ``reversed(x)`` lists ``list(x)``'s items in reverse (how sct lowers ``a, b =
    reversed(x)`` and ``for v in reversed(x)``): an array, a list, tuple, range, string or dict (or its view).  Python's TypeError for
    what reversed() refuses (a set, an iterator); a refusal for an object of another class (its own
    __reversed__ or __getitem__ may give other items than its iteration)."""
    t = type(x)
    if isinstance(x, (np.ndarray, np.generic)) or _is_array(x):
        return None
    for base in _REVERSIBLE:
        if isinstance(x, base) and getattr(t, "__reversed__", None) is getattr(base, "__reversed__", None) \
                and t.__iter__ is base.__iter__ \
                and getattr(t, "__getitem__", None) is getattr(base, "__getitem__", None):
            return None
    if getattr(t, "__reversed__", None) is None and not (hasattr(t, "__len__") and hasattr(t, "__getitem__")):
        raise TypeError(f"'{t.__name__}' object is not reversible")
    raise SctRuntimeError(
        f"reversed(obj) of a {t.__name__}: sct reads it as list(obj)[::-1], which need not be what "
        f"its class's own __reversed__ / __getitem__ gives; write list(obj)[::-1] if that is what "
        f"it means")


nondifferentiable(reversible)


def zip_strict(strict, *sequences):
    """``zip(*sequences, strict=strict)``'s check, made before sct walks the sequences by position:
    Python's ValueError where their lengths differ (Python raises it when the walk reaches the end
    of the shortest; the items before are the same).  An iterator has no length to compare without
    walking it: refused."""
    if not strict:
        return None
    lengths = []
    for k, seq in enumerate(sequences):
        try:
            lengths.append(len(seq))
        except TypeError:
            raise SctRuntimeError(
                f"zip(..., strict=True): argument {k + 1} is a {type(seq).__name__}, which has no length "
                "to compare before it is walked; make it a list (list(...)) first") from None
    for k in range(1, len(lengths)):
        if lengths[k] != lengths[0]:
            which = "argument 1" if k == 1 else f"arguments 1-{k}"
            size = "shorter" if lengths[k] < lengths[0] else "longer"
            raise ValueError(f"zip() argument {k + 1} is {size} than {which}")
    return None


nondifferentiable(zip_strict)


def after_check(value, checked):
    """``value``, read after ``checked`` (a check's None) was computed: the check runs before the
    value is used, and a derivative passes through to ``value`` only (its tangent is the tangent's,
    the check not run on it)."""
    return value


# --- closures passed as values (sct/closures.py) -------------------------------------------

class ClosureFrame:
    """The closures one run of a function made, by the names they captured."""

    def __init__(self, filename):
        self.filename = filename
        self.live = {}
        self.made = {}           # a nested def's function -> the last closure bound of it (bind_closure)

    def __repr__(self):
        return "<sct closure frame>"


class Closure(tuple):
    """A nested function with the values it captured (late binding while they are not rebound).

    A tuple of the captured values, so it is differentiated like one; calling it calls the
    converted function with them first.  Once one of the captured names is rebound in the
    enclosing function the closure would read the new value, which sct cannot follow from
    here: it expires, and calling it raises.
    """

    def __new__(cls, fn, env, frame, names, line, ndefaults=0, shown=None):
        self = super().__new__(cls, env)
        self.fn = fn
        self.ndefaults = ndefaults           # the last values of env: the def's defaults
        self.frame = frame
        self.names = names
        self.line = line
        self.expired = None
        self.shown = shown                   # ("the lambda" or None, the user's names of names)
        self.late = None                     # {position in env: value} rebound since (see rebind)
        return self

    def rebind(self, name, value, constant: bool = False) -> bool:
        """The enclosing function rebound ``name``, which this closure reads: Python's closure reads
        the new value when called (late binding).  Followed where the old and new values are
        numbers without derivatives (ints, bools, strings, None: a loop's counter), or whatever they
        are where the compiler found that ``name`` never holds a traced value (``constant``: the
        floats of ``[lambda u: u * w for w in (0.5, 0.7)]``), each captured value in its own place;
        False (the closure expires) for anything else."""
        env = tuple(self)
        nfree = len(env) - self.ndefaults
        if len(self.names) != nfree or name not in self.names or \
                any(isinstance(v, Closure) for v in env[:nfree]):
            return False
        i = self.names.index(name)
        old = env[i] if self.late is None else self.late.get(i, env[i])
        if not constant and (type(old) not in _LATE_BOUND or type(value) not in _LATE_BOUND):
            return False
        if self.late is None:
            self.late = {}
        self.late[i] = value
        return True

    def __reduce__(self):
        return (tuple, (tuple(self),))

    # a nested function is equal to itself only, as Python's functions are: to the closures of the
    # same run of its def (``fn``), whatever values they hold (was: a tuple's equality and hash, by
    # the captured values: two functions reading the same values were equal, one dict key, one set
    # item, and ``fs.index(g)`` found f).  A Closure without a frame (a partial's or a bound
    # receiver's forward, sct/transform_calls.py) stays a tuple of its values.
    def __eq__(self, other):
        if self.frame is None:
            return tuple.__eq__(self, other)
        return type(other) is Closure and other.fn is self.fn

    def __ne__(self, other):
        return not self == other

    def __hash__(self):
        return tuple.__hash__(self) if self.frame is None else object.__hash__(self.fn)

    def check(self):
        if self.expired is not None:
            name, line = self.expired
            what = f"the nested function {getattr(self.fn, '__name__', '?')}()"
            if self.shown is not None:
                name = dict(zip(self.names, self.shown[1:])).get(name, name)
                what = self.shown[0] or what
            what += f" defined at line {self.line}"
            raise EvaluationError(
                f"{what} is called after {name!r}, "
                f"a value it reads from the enclosing function, was reassigned at line {line}; Python "
                f"reads {name!r} when the function is called, and sct only follows that for calls in "
                f"the enclosing function: pass {name!r} to it as an argument (or bind it as a default, "
                f"{name}={name}), or call it "
                "before the reassignment", self.frame.filename if self.frame else None, self.line)

    def arguments(self, args, kwargs, defaults=None):
        """(captured values, positional arguments with the defaults the call leaves out filled
        in, the remaining keywords, the positions of env used for them)."""
        env = tuple(self)
        nfree = len(env) - self.ndefaults
        defaults = env[nfree:] if defaults is None else defaults
        code = self.fn.__code__
        params = code.co_varnames[nfree:code.co_argcount]
        args = list(args)
        kwargs = dict(kwargs)
        used = []
        first_default = len(params) - self.ndefaults
        for i in range(len(args), len(params)):
            if params[i] in kwargs:
                args.append(kwargs.pop(params[i]))
            elif i >= first_default:
                args.append(defaults[i - first_default])
                used.append((len(args) - 1, nfree + i - first_default))
            else:
                break
        free = env[:nfree] if not self.late else \
            tuple(self.late.get(i, v) for i, v in enumerate(env[:nfree]))
        return free, tuple(args), kwargs, used

    def __call__(self, *args, **kwargs):
        self.check()
        free, args, kwargs, _ = self.arguments(args, kwargs)
        return self.fn(*free, *args, **kwargs)

    def __repr__(self):
        return f"<closure {getattr(self.fn, '__name__', '?')} of line {self.line}>"


def _keyword_signature(fn, explicit, dicts):
    """The parameters of ``fn`` a call ``fn(<positional>, k=v, **d)`` binds by keyword, checked as
    Python checks them (a key that is no parameter, given twice, or a string that is not one is
    Python's TypeError); one sct passes by position (sct/normalize_exprs.py ``splatted_call``)."""
    import inspect
    keys = list(explicit)
    for d in dicts:
        if not isinstance(d, dict):
            raise TypeError(f"argument after ** must be a mapping, not {type(d).__name__}")
        for k in d:
            if not isinstance(k, str):
                raise TypeError("keywords must be strings")
            if k in keys:
                raise TypeError(f"{getattr(fn, '__qualname__', fn)}() got multiple values for keyword "
                                f"argument {k!r}")
            keys.append(k)
    try:
        params = list(inspect.signature(fn).parameters.values())
    except (TypeError, ValueError):
        params = None
    if params is None or any(p.kind == p.VAR_KEYWORD for p in params) or \
            any(p.kind == p.KEYWORD_ONLY and p.name in keys for p in params):
        if isinstance(fn, Closure):      # a nested function (a partial made in the function): the user's name
            inner = getattr(fn.fn, "__name__", "?")
            shown = fn.shown[0] if fn.shown is not None and fn.shown[0] else f"the nested function {inner}()"
            name, what = inner, shown
            code = fn.fn.__code__
            params = [inspect.Parameter(n, inspect.Parameter.KEYWORD_ONLY)
                      for n in code.co_varnames[code.co_argcount:code.co_argcount + code.co_kwonlyargcount]]
        else:
            name = getattr(fn, "__qualname__", type(fn).__name__)
            what = f"{name}()"
            if "<locals>." in name:      # a def nested in the function (its qualname names generated code)
                name = getattr(fn, "__name__", name)
                what = f"the nested function {name}()"
        kwonly = [p.name for p in params or () if p.kind == p.KEYWORD_ONLY and p.name in keys]
        how = "has no signature sct can read" if params is None else \
            f"takes {', '.join(kwonly)} as {'' if len(kwonly) > 1 else 'a '}keyword-only parameter{'s' if len(kwonly) > 1 else ''}" if kwonly else \
            "takes them as **kwargs" if not isinstance(fn, Closure) else \
            "is made in the function: sct does not bind its parameters from ** yet"
        example = ", ".join(f"{k}=..." for k in keys)
        raise EvaluationError(f"sct passes the keywords of a call with ** by position, and {what} {how}: "
                              f"pass them by name ({name}(..., {example}))" +
                              ("" if isinstance(fn, Closure) else f", or give {name}() ordinary parameters"))
    return params, keys


def keyword_defaults(fn, npos, explicit, *dicts):
    """The defaults of the parameters between the ``npos`` positional arguments and the last one
    a keyword of the call names (Python binds the same values: the call's keywords win)."""
    import inspect
    params, keys = _keyword_signature(fn, explicit, dicts)
    try:
        inspect.signature(fn).bind(*([None] * npos), **{k: None for k in keys})
    except TypeError as exc:        # Python's TypeError, in Python's words
        text = str(exc)
        text = "got " + text if text.startswith("multiple values") else text
        raise TypeError(f"{getattr(fn, '__qualname__', type(fn).__name__)}() {text}") from None
    plain = [p for p in params if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)][npos:]
    last = max((i for i, p in enumerate(plain) if p.name in keys), default=-1)
    return {p.name: p.default for p in plain[:last + 1] if p.name not in keys}


def keyword_layout(fn, npos, merged):
    """The names of the parameters after the ``npos`` positional arguments, in order, up to the
    last one ``merged`` (the call's keywords and the defaults between) holds."""
    import inspect
    params = [p for p in inspect.signature(fn).parameters.values()
              if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)][npos:]
    last = max((i for i, p in enumerate(params) if p.name in merged), default=-1)
    return [p.name for p in params[:last + 1]]


nondifferentiable(keyword_defaults, keyword_layout)


def no_keywords_forwarded(kwargs):
    """``g(*args, **kwargs)`` forwarding the function's own ``**kwargs`` (a ``Module.__call__`` calling
    ``self.forward(*args, **kwargs)``, a decorator's wrapper): compiled as ``g(*args)``, which it is when
    no keyword reached ``kwargs``; a call that gave keywords is refused here (which parameters they
    reach is known only when it runs)."""
    if kwargs:
        raise EvaluationError(
            f"sct forwards **kwargs on to another call only when no keyword reaches them; this call passed "
            f"{', '.join(map(str, kwargs))}: pass them to the function that takes them by name, or give "
            f"that function's parameters explicitly (def __call__(self, x, mask=None): return "
            f"self.forward(x, mask=mask))")


nondifferentiable(no_keywords_forwarded)


_METHOD_FORWARDS: dict = {}     # code -> the method name its function only forwards to, or None


def _forwards_to_method(fn):
    """The name ``attr`` where ``fn`` is a bound method whose whole body is ``return self.attr(*args,
    **kwargs)`` (a ``Module.__call__``, its own parameters ``(self, *args, **kwargs)``), else None."""
    import ast
    import inspect
    func = getattr(fn, "__func__", None)
    if not isinstance(fn, types.MethodType) or type(func) is not types.FunctionType or \
            hasattr(func, "__wrapped__") or func.__closure__:
        return None
    code = func.__code__
    if code in _METHOD_FORWARDS:
        return _METHOD_FORWARDS[code]
    found = None
    if code.co_argcount == 1 and not code.co_kwonlyargcount and not code.co_posonlyargcount and \
            code.co_flags & inspect.CO_VARARGS and code.co_flags & inspect.CO_VARKEYWORDS:
        try:
            import textwrap
            tree = ast.parse(textwrap.dedent(inspect.getsource(func)))
        except Exception:       # noqa: BLE001  (no source: not followed)
            tree = None
        fdef = tree.body[0] if tree is not None and len(tree.body) == 1 else None
        if isinstance(fdef, ast.FunctionDef) and fdef.name == func.__name__ and not fdef.decorator_list:
            me, args, kw = fdef.args.args[0].arg, fdef.args.vararg.arg, fdef.args.kwarg.arg
            body = [st for st in fdef.body if not (isinstance(st, ast.Expr) and isinstance(st.value, ast.Constant)
                                                   and isinstance(st.value.value, str))]
            v = body[0].value if len(body) == 1 and isinstance(body[0], ast.Return) else None
            if isinstance(v, ast.Call) and isinstance(v.func, ast.Attribute) and \
                    isinstance(v.func.value, ast.Name) and v.func.value.id == me and len(v.args) == 1 and \
                    isinstance(v.args[0], ast.Starred) and isinstance(v.args[0].value, ast.Name) and \
                    v.args[0].value.id == args and len(v.keywords) == 1 and v.keywords[0].arg is None and \
                    isinstance(v.keywords[0].value, ast.Name) and v.keywords[0].value.id == kw:
                found = v.func.attr
    if len(_METHOD_FORWARDS) >= 256:
        _METHOD_FORWARDS.clear()
    _METHOD_FORWARDS[code] = found
    return found


def _forwarded_parameters(fn, npos, kwargs, depth=0):
    """The parameters a decorator's wrapper ``fn(*args, **kwargs)`` binds (sct/normalize_exprs.py
    forwarded_call): those of a plain Python function or method as it is written (not the function it
    wraps), checked as Python binds them; ``fn`` of another kind, or taking ``**kwargs`` or a keyword-only
    parameter that a keyword names, is refused where keywords reach it.  A method that only forwards to
    another of its object's, ``return self.forward(*args, **kwargs)``, binds as that one does (``super().__call__(
    *args, **kwargs)`` of a Module subclass's ``__call__``: was refused, the base's ``__call__`` taking
    ``**kwargs``)."""
    import inspect
    attr = _forwards_to_method(fn) if depth < 8 else None
    if attr is not None:
        return _forwarded_parameters(getattr(fn.__self__, attr), npos, kwargs, depth + 1)
    if isinstance(fn, (types.FunctionType, types.MethodType)) and not isinstance(fn, Closure):
        params = list(inspect.signature(fn, follow_wrapped=False).parameters.values())
        if not any(p.kind in (p.VAR_KEYWORD, p.KEYWORD_ONLY) for p in params):
            try:
                inspect.signature(fn, follow_wrapped=False).bind(*([None] * npos), **{k: None for k in kwargs})
            except TypeError as exc:        # Python's TypeError, in Python's words
                text = str(exc)
                text = "got " + text if text.startswith("multiple values") else text
                raise TypeError(f"{getattr(fn, '__qualname__', type(fn).__name__)}() {text}") from None
            plain = [p for p in params if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)][npos:]
            last = max((i for i, p in enumerate(plain) if p.name in kwargs), default=-1)
            return plain[:last + 1]
    no_keywords_forwarded(kwargs)
    return []


def _forwarded_callee(fn, npos, attr, receiver):
    """``fn`` (its attribute ``attr`` where given) and ``npos``; a class's function called with its object
    first (``Module.__call__(self, *args, **kwargs)``, what ``super().__call__(*args, **kwargs)`` compiles
    to: ``receiver`` is ``self``) that only forwards to another method of the object: bound to it, so that
    the method it forwards to is found."""
    fn = fn if attr is None else getattr(fn, attr)
    if receiver is not _NO_RECEIVER and type(fn) is types.FunctionType:
        bound = types.MethodType(fn, receiver)
        if _forwards_to_method(bound) is not None:
            return bound, npos - 1
    return fn, npos


_NO_RECEIVER = object()


def forwarded_defaults(fn, npos, kwargs, attr=None, receiver=_NO_RECEIVER):
    """The defaults of the parameters between the positional ones and the last one ``kwargs`` names (of
    ``fn``'s method ``attr`` where it is given: ``self.forward(*args, **kwargs)``)."""
    if not kwargs:
        return {}
    fn, npos = _forwarded_callee(fn, npos, attr, receiver)
    return {p.name: p.default for p in _forwarded_parameters(fn, npos, kwargs) if p.name not in kwargs}


def forwarded_layout(fn, npos, merged, attr=None, receiver=_NO_RECEIVER):
    """The names of the parameters ``merged`` (the keywords and the defaults between) fills, in order."""
    if not merged:
        return []
    fn, npos = _forwarded_callee(fn, npos, attr, receiver)
    return [p.name for p in _forwarded_parameters(fn, npos, merged)]


nondifferentiable(forwarded_defaults, forwarded_layout)


def closure_frame(filename):
    return ClosureFrame(filename)


def bind_closure(fn, env, frame, names, line, ndefaults=0, shown=None):
    """A nested function taking its captured values first, as a closure holding them.  Each use of
    the function's name binds one; the uses of one run of its def that hold the same values give one
    object (``g = f; h = f; g is h``, as Python; was a new object at every use)."""
    made = frame.made.get(fn) if frame is not None else None
    if made is not None and made.expired is None and not made.late and made.names == names and \
            made.ndefaults == ndefaults and len(made) == len(env) and all(a is b for a, b in zip(made, env)):
        return made
    closure = Closure(fn, env, frame, names, line, ndefaults, shown)
    for name in names:
        frame.live.setdefault(name, []).append(closure)
    if frame is not None:
        frame.made[fn] = closure
    return closure


def closure_check(closure):
    """Raise where ``closure`` has expired (the generated pair of a closure called as a value:
    sct/transform_calls.py ``_closure_pair``); None."""
    closure.check()


def closure_late(closure, i):
    """The captured value ``i`` of ``closure`` as it reads it now: the value a loop rebound since
    (an int, a bool, a string or None: ``Closure.rebind``), else the one it captured; a constant."""
    late = closure.late
    return late[i] if late and i in late else tuple.__getitem__(closure, i)


_LATE_BOUND = (int, bool, str, type(None))


def closure_rebound(frame, names, line, values=None, constant=False):
    """The enclosing function assigned ``names``: closures that captured them expire, or, where
    ``values`` (their new values) are given and the closure can follow them (``Closure.rebind``:
    a loop's counter; any value where ``constant``: names the compiler found never traced,
    sct/closures.py ``constant_rebinds``), read the new values from now on, as Python's closures do."""
    for i, name in enumerate(names):
        kept = []
        for closure in frame.live.pop(name, ()):
            if closure.expired is None:
                if values is not None and closure.rebind(name, values[i], constant):
                    kept.append(closure)
                else:
                    closure.expired = (name, line)
        if kept:
            frame.live[name] = kept


def closure_scope(frame, names):
    """A comprehension starts: its variables ``names`` are new ones (Python gives each run of a
    comprehension its own scope), so the closures made in an earlier run no longer see them change."""
    for name in names:
        frame.live.pop(name, None)


def field_adjoint(grad, name, index):
    """The adjoint of the field ``name`` (item ``index`` of a namedtuple) from the adjoint of
    the record: a dict of fields, a list of items or a gradient object."""
    if _is_zero(grad):
        return ZERO
    if isinstance(grad, dict):
        return grad.get(name, ZERO)
    if isinstance(grad, (list, tuple)) and not hasattr(type(grad), "_fields") and index is not None:
        return grad[index] if index < len(grad) else ZERO
    return getattr(grad, name, ZERO)


def field_adjoint_transpose(grad, record, name, index):
    """The record's adjoint with ``grad`` in the field ``name``, shaped like ``record``
    (the adjoint that :func:`field_adjoint` read)."""
    if isinstance(record, (list, tuple)) and not hasattr(type(record), "_fields") and index is not None:
        return [grad if i == index else ZERO for i in range(len(record))]
    if _is_namedtuple(record) and name in type(record)._fields:
        # a namedtuple's adjoint stays one, readable by position too (was a dict of the field: a
        # loop `for v in nt` read it by position, a silent zero second derivative)
        return type(record)(*[grad if f == name else ZERO for f in type(record)._fields])
    return {name: grad}


# --- rules of the functions above ----------------------------------------------------

@defrule(unbroadcast, wrt=("grad",), linear="grad")
def _unbroadcast_rule(g, ans, grad, like):
    return broadcast_like(g, grad)


@defrule(broadcast_like, wrt=("value",), linear="value")
def _broadcast_like_rule(g, ans, value, like):
    return unbroadcast(g, value)


def reshaped_like(value, like):
    """``value``'s numbers in the shape of ``like``: a reshape view ``w = h.reshape(-1)`` changed in
    place, written back into ``h`` (sct/copy_aliases.py: ``h[...] = rt.reshaped_like(w, h)``)."""
    if _is_zero(value):
        return value
    return np.reshape(value, np.shape(like))


@defrule(reshaped_like, wrt=("value",), linear="value")
def _reshaped_like_rule(g, ans, value, like):
    return reshaped_like(g, value)


def diagonal_indices(a):
    """The indices of the diagonal ``np.einsum("ii->i", a)`` views (its first axis's length: numpy
    raises there for a matrix that is not square), for writing that view back into ``a``
    (sct/copy_aliases.py)."""
    k = np.arange(np.shape(a)[0])
    return k, k


nondifferentiable(diagonal_indices)


def float64_tangent(t):
    """Forward mode: the tangent of an operand of a function whose value Python gives as a float (math's
    functions, ``float(x)``), in float64 as that value (the tangent of ``math.exp(x[0])`` of a float32
    ``x`` was float32 beside a float64 value, computed in float32; jvp gives each tangent its value's dtype
    at the end, sct/forward.py)."""
    if _is_zero(t):
        return t
    dtype = getattr(t, "dtype", None)
    if dtype is not None and dtype.kind == "f" and dtype.itemsize < 8:
        # (a numpy float64, not a Python float: its division by zero is numpy's inf, not a ZeroDivisionError)
        return np.float64(t) if np.ndim(t) == 0 else np.asarray(t, dtype=np.float64)
    return t


@defrule(float64_tangent, wrt=("t",), linear="t")
def _float64_tangent_rule(g, ans, t):
    return g


@defrule(index_adjoint, wrt=("grad",), linear="grad")
def _index_adjoint_rule(g, ans, grad, x, idx):
    return getitem_of_adjoint(g, x, idx)


@defrule(getitem_of_adjoint, wrt=("grad",), linear="grad")
def _getitem_of_adjoint_rule(g, ans, grad, x, idx):
    return index_adjoint(g, table_or(x, grad), idx)


@defrule(unbroadcast_product, wrt=("a", "b"))
def _unbroadcast_product_rule(g, ans, a, b, like):
    return unbroadcast(broadcast_like(g, a * b) * np.conj(b), a), \
        unbroadcast(broadcast_like(g, a * b) * np.conj(a), b)


@defrule(index_add, wrt=("total", "grad"), joint_linear=("total", "grad"))
def _index_add_rule(g, ans, total, grad, x, idx):
    return unbroadcast(g, total), getitem_of_adjoint(g, x, idx)


@defrule(getitem_or_zero, wrt=("grad",), linear="grad")
def _getitem_or_zero_rule(g, ans, grad, idx):
    return index_adjoint(g, grad, idx)


@defrule(dict_entry_adjoint, wrt=("grad",), linear="grad")
def _dict_entry_adjoint_rule(g, ans, grad, keys, j):
    return ZERO if key_repeated_later(keys, j) else index_adjoint(g, grad, keys[j])


@defrule(item_adjoint, wrt=("grad",), linear="grad")
def _item_adjoint_rule(g, ans, grad, idx, like):
    return index_adjoint(g, grad, idx)


@defrule(setitem, wrt=("x", "value"), joint_linear=("x", "value"))
def _setitem_rule(g, ans, x, idx, value):
    # repeated advanced indices: only the last item written to a position reaches it
    # (a list's slice given another number of items moves the items after it: written_index)
    return zero_at(g, written_index(x, idx, value)), \
        unbroadcast(masked(getitem_or_zero(g, written_index(x, idx, value)), last_writes(x, idx, value)), value)


@defrule(sorted_value)
def _sorted_value_rule(g, ans, z, axis=-1, kind=None):
    return unsort(g, z, axis)


@defrule(sorted_array)
def _sorted_array_rule(g, ans, z, axis=-1, kind=None):
    return unsort(g, z, axis)


@defrule(unsort, wrt=("grad",))
def _unsort_rule(g, ans, grad, z, axis=-1):
    return resort(g, z, axis)


@defrule(resort, wrt=("grad",))
def _resort_rule(g, ans, grad, z, axis=-1):
    return unsort(g, z, axis)


@defrule(filled, wrt=("value",))
def _filled_rule(g, ans, z, value):
    return unbroadcast(g, value)


@defrule(reversed_value)
def _reversed_value_rule(g, ans, z):
    return reversed_adjoint(g)


@defrule(reversed_adjoint, wrt=("grad",))
def _reversed_adjoint_rule(g, ans, grad):
    return reversed_adjoint(g)


@defrule(extended, wrt=("z", "items"))
def _extended_rule(g, ans, z, items):
    return part_adjoint(g, 0, len(z), z), part_adjoint(g, len(z), len(ans), items)


@defrule(without_position, wrt=("z",))
def _without_position_rule(g, ans, z, position):
    return zero_at_position(g, position)


@defrule(zero_at_position, wrt=("grad",))
def _zero_at_position_rule(g, ans, grad, position):
    return without_position(g, position)


@defrule(inserted, wrt=("z", "value"))
def _inserted_rule(g, ans, z, index, value):
    return removed_at(g, z, index), item_at(g, z, index)


def removed_at(grad, z, index):
    """The adjoint of the list ``z`` in ``inserted(z, index, value)``: ``grad`` without the item."""
    if _is_zero(grad):
        return grad
    position = insert_position(z, index)
    return list(grad[:position]) + list(grad[position + 1:])


def item_at(grad, z, index):
    """The adjoint of ``value`` in ``inserted(z, index, value)``: ``grad``'s item where it went."""
    if _is_zero(grad):
        return grad
    return grad[insert_position(z, index)]


@defrule(removed_at, wrt=("grad",))
def _removed_at_rule(g, ans, grad, z, index):
    return inserted(g, insert_position(z, index), ZERO)


@defrule(item_at, wrt=("grad",))
def _item_at_rule(g, ans, grad, z, index):
    return index_adjoint(g, grad, insert_position(z, index))


@defrule(part_adjoint, wrt=("grad",), linear="grad")
def _part_adjoint_rule(g, ans, grad, start, stop, like):
    return index_adjoint(g, grad, slice(start, stop))


@defrule(masked, wrt=("grad",))
def _masked_rule(g, ans, grad, mask):
    return masked(g, mask)


@defrule(into, wrt=("value",))
def _into_rule(g, ans, value, out, casting="same_kind"):
    return unbroadcast(cast_through(g, ans, value), value)


nondifferentiable(where_mask)


@defrule(where_selected, wrt=("a",), linear="a")
def _where_selected_rule(g, ans, a, mask):
    return where_selected_adjoint(g, a, mask)


@defrule(where_selected_adjoint, wrt=("grad",), linear="grad")
def _where_selected_adjoint_rule(g, ans, grad, a, mask):
    # (a 0-d array a under a 0-d mask: selected as where_selected selects it)
    return where_selected(g, mask) if np.ndim(a) or np.ndim(mask) == 0 and not isinstance(a, _PY_NUMBERS) else g


@defrule(into_selected, wrt=("value", "out"), joint_linear=("value", "out"))
def _into_selected_rule(g, ans, value, out, mask):
    return unbroadcast(cast_through(getitem_or_zero(g, mask), ans, value), value), \
        masked(g, np.logical_not(mask))


@defrule(into_where, wrt=("value", "out"))
def _into_where_rule(g, ans, value, out, where, casting="same_kind"):
    # (the mask as numpy reads it: where=None is False, nothing copied; was read as no mask)
    return unbroadcast(cast_through(masked(g, np.asarray(where, dtype=bool)), ans, value), value), \
        masked(g, np.logical_not(np.asarray(where, dtype=bool)))


def cast_through(grad, result, value):
    """The adjoint ``grad`` of ``result`` passed back to the ``value`` cast into it: zeros where it
    is an integer or bool array (``np.copyto(ints, floats, casting="unsafe")`` truncates: a constant;
    was: the gradient passed through as if nothing were cast)."""
    if np.issubdtype(np.asarray(result).dtype, np.inexact):
        return grad
    vtype = np.asarray(value).dtype
    return np.zeros(np.shape(grad), dtype=vtype if np.issubdtype(vtype, np.inexact) else np.float64)


@defrule(cast_through, wrt=("grad",), linear="grad")
def _cast_through_rule(g, ans, grad, result, value):
    return cast_through(g, result, value)


@defrule(zero_at, wrt=("grad",), linear="grad")
def _zero_at_rule(g, ans, grad, idx):
    return zero_at(g, idx)


def simple_namespace(names, *values):
    """``types.SimpleNamespace(name=value, ...)`` as generated code calls it (sct/namespaces.py): the
    names, then the values in their order (each value's derivative is that of its attribute)."""
    return types.SimpleNamespace(**dict(zip(names, values)))


def namespace_values(grad, names):
    """The adjoints of the values of ``simple_namespace(names, *values)`` from the namespace's adjoint
    (a dict of its attributes' adjoints, as ``attribute_adjoint`` makes, or an object of them)."""
    return [getattr_or_zero(grad, name) for name in names]


def namespace_fields(grads, names):
    """The adjoint of namespace_values: the values' adjoints as the namespace's (a dict by attribute)."""
    if _is_zero(grads):
        return ZERO
    return {name: g for name, g in zip(names, grads) if not _is_zero(g)}


@defrule(simple_namespace, wrt=("values",))
def _simple_namespace_rule(g, ans, names, *values):
    return namespace_values(g, names)


@defrule(namespace_values, wrt=("grad",))
def _namespace_values_rule(g, ans, grad, names):
    return namespace_fields(g, names)


@defrule(namespace_fields, wrt=("grads",))
def _namespace_fields_rule(g, ans, grads, names):
    return namespace_values(g, names)


@defrule(attribute_adjoint, wrt=("grad",))
def _attribute_adjoint_rule(g, ans, grad, obj, name):
    return getattr_or_zero(g, name)


@defrule(getattr_or_zero, wrt=("grad",))
def _getattr_or_zero_rule(g, ans, grad, name):
    return attribute_adjoint(g, grad, name)


@defrule(field_adjoint, wrt=("grad",))
def _field_adjoint_rule(g, ans, grad, name, index):
    return field_adjoint_transpose(g, grad, name, index)


@defrule(field_adjoint_transpose, wrt=("grad",))
def _field_adjoint_transpose_rule(g, ans, grad, record, name, index):
    return field_adjoint(g, name, index)


@defrule(attribute_adjoint_any, wrt=("grad",))
def _attribute_adjoint_any_rule(g, ans, grad, obj, name):
    return attribute_adjoint_any_transpose(g, obj, name)


@defrule(attribute_adjoint_any_transpose, wrt=("grad",))
def _attribute_adjoint_any_transpose_rule(g, ans, grad, obj, name):
    return attribute_adjoint_any(g, obj, name)


@defrule(drop_attribute, wrt=("grad",))
def _drop_attribute_rule(g, ans, grad, name):
    return drop_attribute(g, name)


@defrule(adjoint_or_zeros, wrt=("grad",), linear="grad")
def _adjoint_or_zeros_rule(g, ans, grad, like):
    return g


@defrule(total)
def _total_rule(g, ans, x):
    return broadcast_like(g, x)


@defrule(point_total, wrt=("u",))
def _point_total_rule(g, ans, u, x, dim):
    return broadcast_like(g, u)


@defrule(point_weighted_total, wrt=("u",))
def _point_weighted_total_rule(g, ans, u, x, dim):
    return g * np.reshape(_point_weights(np.size(u)), np.shape(u))


@defrule(after_check, wrt=("value",), linear="value")
def _after_check_rule(g, ans, value, checked):
    return g


@defrule(add_grad, wrt=("a", "b"), joint_linear=("a", "b"))
def _add_grad_rule(g, ans, a, b):
    return unless_marker(g, a), unless_marker(g, b)


def unless_marker(grad, like):
    """``grad``, or the zero marker where ``like`` is the marker: the adjoint of an operand of
    add_grad that is the marker (no contribution reached it) is nothing (was ``grad`` itself, which a
    later rule broadcast to the marker's shape: a ValueError in a second sweep through a dict item
    written in a loop)."""
    return ZERO if _is_zero(like) else grad


@defrule(unless_marker, wrt=("grad",), linear="grad")
def _unless_marker_rule(g, ans, grad, like):
    return unless_marker(g, like)


@defrule(add_index_grad, wrt=("total", "grad"), joint_linear=("total", "grad"))
def _add_index_grad_rule(g, ans, total, grad, x, idx):
    return g, getitem_of_adjoint(g, x, idx)


@defrule(project, wrt=("grad",), linear="grad")
def _project_rule(g, ans, grad, x):
    return project_transpose(g, grad)


@defrule(project_untraced, wrt=("grad",), linear="grad")
def _project_untraced_rule(g, ans, grad, x, paths):
    return project_transpose(unchecked_project(g, x, paths), grad)


@defrule(project_transpose, wrt=("cot",))
def _project_transpose_rule(g, ans, cot, grad):
    return unchecked_project(g, cot)


def unchecked_project(grad, x, paths=None):
    """``project(grad, x)`` (``project_untraced`` with ``paths``) of an adjoint inside a sweep (a
    rule's), not a gradient returned: its NaN entries are not refused here (the sweep's own gradient
    is, if they reach it)."""
    finite_y = nan_check_suspended()
    out = project(grad, x) if paths is None else project_untraced(grad, x, paths)
    nan_check_resumed(finite_y)
    return out


def nan_check_suspended():
    """Turn project's refusal of a NaN gradient of a finite y off (unchecked_project); the old state."""
    finite_y = _UNSELECTED.finite_y
    _UNSELECTED.finite_y = False
    return finite_y


def nan_check_resumed(finite_y):
    """Restore the state ``nan_check_suspended`` returned."""
    _UNSELECTED.finite_y = finite_y


nondifferentiable(nan_check_suspended, nan_check_resumed)


@defrule(select_item, wrt=("grad",))
def _select_item_rule(g, ans, grad, base, idx):
    return item_unselected(g, base, idx)


nondifferentiable(table_or)


@defrule(item_unselected, wrt=("cot",))
def _item_unselected_rule(g, ans, cot, base, idx):
    return select_item(g, base, idx)


@defrule(select_attribute, wrt=("grad",))
def _select_attribute_rule(g, ans, grad, base, name):
    return unselect_attribute(g, base, name)


@defrule(unselect_attribute, wrt=("cot",))
def _unselect_attribute_rule(g, ans, cot, base, name):
    return select_attribute(g, base, name)


@defrule(join_gradients, wrt=("parts",))
def _join_gradients_rule(g, ans, parts):
    return split_gradients(g, parts)


@defrule(split_gradients, wrt=("cot",))
def _split_gradients_rule(g, ans, cot, parts):
    return join_gradients_like(g, parts)


@defrule(join_gradients_like, wrt=("cot",))
def _join_gradients_like_rule(g, ans, cot, parts):
    return split_gradients(g, parts)


def sequence_adjoint(grad, iterable, given=None):
    """The adjoint of ``list(iterable)``: rows stacked back for an array, the list otherwise
    (``given``: the items the iteration gave, checked against what the object gives now)."""
    if _is_array(iterable):
        if _is_zero(grad):
            return zero_adjoint(iterable)
        rows = [zero_adjoint(row) if _is_zero(g) else g for g, row in zip(grad, iterable)]
        return np.stack(rows) if rows else zero_adjoint(iterable)
    if _iterated_object(iterable):
        return iterated_adjoint(grad, iterable, given)
    return grad if _is_zero(grad) else list(grad)


def as_sequence(items):
    """What a for loop walks by position: a list, tuple or array as it is; dict keys,
    views and other iterables as a list (walked with the checks ``walk_context`` set, if any)."""
    context = getattr(_WALK_CONTEXT, "value", None)
    if context is not None:
        _WALK_CONTEXT.value = None
    if isinstance(items, (list, tuple)) or _is_array(items):
        return items
    _refuse_endless(items)
    if context is not None and not isinstance(items, (dict, str, bytes, range)) and \
            type(items) not in (_DICT_KEYS, _DICT_VALUES, _DICT_ITEMS):
        checked = _checked_walk(items, context)
        if _iterated_object(items):
            source = iter(items)
            walked = _walked(items, checked(source), _quiet_iterator(source))
            for note in WALK_NOTES[:1]:
                note.walked_object(items, walked)
            return walked
        for note in WALK_NOTES[:1]:
            if note._iterator(items):
                note.walked_iterator(items)
        source = iter(items)
        return _walk_list(checked(source), items, _quiet_iterator(source))
    if _iterated_object(items):
        walked = _walked(items)
        for note in WALK_NOTES[:1]:     # (a recomputation walking it otherwise: refused)
            note.walked_object(items, walked)
        return walked
    for note in WALK_NOTES[:1]:         # (a recomputation would find an iterator used up: refused there)
        if note._iterator(items):
            note.walked_iterator(items)
    return _walk_list(items, items)     # (a dict, its views, a set, a range, a string: listed as they are)


_GROUPER = type(next(itertools.groupby((0,)))[1])      # (the class of groupby's groups)


WALK_LIMIT = 1_000_000     # items sct takes from an iterator of user code before it refuses the walk


def _refuse_endless(items) -> None:
    """Refuse a walk of an iterator that never ends (itertools.count(), cycle(), repeat(v) without a
    count): sct takes every item of a loop's iterator before its body runs, where Python's loop ends at
    the body's break (or at zip's shortest argument); the walk ran forever (was: dlfeval never returned
    on ``for i in itertools.count(): ... break``, a fixed-point iteration until it converges)."""
    kind = type(items)
    endless = kind is itertools.count or kind is itertools.cycle
    if kind is itertools.repeat:
        try:
            items.__length_hint__()
        except TypeError:
            endless = True
    if endless:
        raise SctRuntimeError(
            f"a loop (or zip, comprehension, unpacking) walking itertools.{kind.__name__}(...), which never "
            "ends: sct takes every item of an iterator before the loop's body runs, where Python's loop stops "
            "at a break or with zip's shortest argument. Write a while loop with a counter (`i = 0`, "
            "`while True: ... i += 1`), or walk a range or a list of the items the loop needs")


def _walk_list(source, iterable, quiet=False) -> list:
    """``list(source)``, the items of ``iterable`` as_sequence walks before the loop's body runs, where
    that gives each item as Python's loop would see it when it takes it: else refused.  Python's body
    sees an item as it is when the iterator gives it; sct's body sees it as the whole walk left it.  So
    refused: an item changed after it was given (a buffer a generator or an ``__iter__`` fills again and
    gives again, ``buf[:] = batch; yield buf``; a dict or object whose fields are set again), compared
    with a copy of each array item taken when it is given and with what a list, dict or object held then;
    and the groups of ``itertools.groupby`` (valid only until the next group is taken).  An item given
    again unchanged (one array or layer object twice) is taken.  Was: the body read the last state of a
    reused buffer (every batch the last one) and empty groupby groups, silently."""
    source = iter(source)
    if quiet or _quiet_iterator(source):
        return list(source)     # (no code of the user's runs while it gives its items: none changes)
    out = []
    given = []
    seen: dict = {}             # (what the walk noted already: an object held by every item, once)
    for item in source:
        out.append(item)
        if len(out) > WALK_LIMIT:
            # (an iterator of the user's class whose __next__ never raises StopIteration, walked by a
            # loop that Python's break ends: sct's walk ran forever)
            raise SctRuntimeError(
                f"a loop (or comprehension) walking an iterator of {type(iterable).__name__} that gave more "
                f"than {WALK_LIMIT:,} items: sct takes every item of an iterator before the loop's body runs, "
                "so an iterator that ends only at the body's break never ends there. Walk a range or a list "
                "of the items the loop needs (itertools.islice(it, n))")
        for part in (item if type(item) is tuple else (item,)):
            if type(part) is _GROUPER:
                raise SctRuntimeError(
                    "a for loop (or comprehension) over itertools.groupby(...): its groups are valid only until "
                    "the loop takes the next group, and sct takes every item of a loop over an iterator before "
                    "the body runs (the groups would be empty). Group into a dict of lists first (`groups = {}`, "
                    "`for v in data: groups.setdefault(key(v), []).append(v)`), or pass the groups in")
            state = _held_state(part, seen)
            if state is not None:
                given.append((part, state))
    for part, state in given:
        if not _same_held_state(part, state):
            raise SctRuntimeError(
                f"a for loop (or comprehension) over a {type(iterable).__name__} that changes a "
                f"{type(part).__name__} after giving it (a buffer filled again, `buf[:] = ...; yield buf`, or "
                f"what an object holds): Python's loop body sees each item as it is when given, but sct takes "
                f"every item before the body runs, so the body would see what the whole iteration left. Give a "
                f"new array or object each time (`yield buf.copy()`), or loop over a list built so")
    return out


_QUIET_ITERATORS = frozenset(type(iter(v)) for v in ([], (), {}, {}.values(), {}.items(), set(), "", b"",
                                                  range(1), bytearray(), reversed([])))


def _quiet_iterator(it, depth=0) -> bool:
    """Does taking the items of iterator ``it`` run no code of the user's (a list's, a tuple's, a
    dict's iterator, the ``iter(self.layers)`` an ``__iter__`` returns; a zip or enumerate of such)?"""
    cls = type(it)
    if cls in _QUIET_ITERATORS:
        return True
    if cls in (zip, enumerate) and depth < 4:
        try:
            parts = it.__reduce__()[1]
        except Exception:
            return False
        return all(_quiet_iterator(p, depth + 1) for p in (parts if cls is zip else parts[:1]))
    return False


def _held_state(part, seen=None):
    """What ``_walk_list`` compares an item with after the walk: a list of ``(object, its state)`` for
    the item and what it holds, down to a few levels (the arrays of a tuple inside a list, of a dict or
    of an object's fields, a ``__slots__`` object's values): an array's (or an ndarray subclass's, a
    bytearray's) copy, what a list, tuple, dict, set or object holds (by identity); None where the item
    holds nothing that can change (a number, a string, a function).  Was: the item itself only, so a
    buffer changed in place inside a list, dict or object given again (``yield [buf]``, ``d["x"][:] =
    ...; yield d``, ``h.a[:] = ...; yield h``), a ``__slots__`` object, a masked array or a bytearray
    filled again gave every item as the last one, silently."""
    found: list = []
    # (the iterable too where an item holds it, ``Sample(self, i)``: its fields set as it goes
    # would be read as the walk left them, ``s.ds.cur``)
    _held_parts(part, found, {} if seen is None else seen, 0, [0])
    return found or None


_HELD_DEPTH = 4          # how deep _held_parts looks into what an item holds
_HELD_MOST = 4096        # and how many new objects at most, per item
_OPAQUE_HELD = (type, types.ModuleType, types.FunctionType, types.MethodType, types.BuiltinFunctionType,
                types.BuiltinMethodType, functools.partial, types.CodeType, types.FrameType, types.GeneratorType)


def _slot_names(cls):
    for klass in cls.__mro__:
        slots = klass.__dict__.get("__slots__", ())
        for name in ((slots,) if isinstance(slots, str) else slots):
            if name not in ("__dict__", "__weakref__"):
                yield name


def _held_parts(part, found: list, seen: dict, depth: int, count: list) -> None:
    if depth > _HELD_DEPTH or count[0] >= _HELD_MOST or seen.get(id(part), (depth + 1,))[0] <= depth:
        return
    cls = type(part)
    if cls in (int, float, complex, bool, str, bytes, type(None)) or isinstance(part, _OPAQUE_HELD) or \
            module_top(cls) in ("sct", "runtime"):
        return                                     # (sct's own values: dlarrays, traced values)
    count[0] += 1
    seen[id(part)] = (depth, part)
    if isinstance(part, np.ndarray):
        if part.dtype.kind == "O":
            found.append((part, ("objects", part.shape, part.ravel().tolist())))
            for v in part.ravel().tolist():
                _held_parts(v, found, seen, depth + 1, count)
        elif part.dtype.kind in "biufcmMSUV":
            mask = np.ma.getmaskarray(part).copy() if isinstance(part, np.ma.MaskedArray) else None
            found.append((part, ("array", np.array(part, copy=True, subok=False), mask)))
        return
    if isinstance(part, np.generic):
        return
    if isinstance(part, (bytearray, memoryview)) or type(part).__name__ == "array" and \
            type(part).__module__ == "array":
        try:
            found.append((part, ("bytes", bytes(part))))
        except Exception:
            pass
        return
    children: list = []
    if isinstance(part, (list, tuple)) or type(part).__name__ == "deque":
        if not isinstance(part, tuple):
            found.append((part, ("items", list(part))))
        children.extend(part)
    elif isinstance(part, dict):
        found.append((part, ("dict", list(part.items()))))
        children.extend(part.values())
    elif isinstance(part, (set, frozenset)):
        if isinstance(part, set):
            found.append((part, ("set", list(part))))
        children.extend(part)
    try:
        fields = getattr(part, "__dict__", None)
    except Exception:               # (a __getattr__ of the user's that raises another error)
        fields = None
    if type(fields) is dict:
        found.append((part, ("fields", list(fields.items()))))
        children.extend(fields.values())
    slots = []
    for name in _slot_names(cls):
        try:
            value = getattr(part, name)
        except Exception:
            value = _NO_SLOT
        slots.append((name, value))
        if value is not _NO_SLOT:
            children.append(value)
    if slots:
        found.append((part, ("slots", slots)))
    for child in children:
        _held_parts(child, found, seen, depth + 1, count)


_NO_SLOT = object()


def _same_held_state(part, state) -> bool:
    """Does every object ``_held_state`` noted still hold what it held?"""
    for obj, (kind, *was) in state:
        if kind == "array":
            now = np.asarray(obj)
            old, mask = was
            if now.shape != old.shape or now.dtype != old.dtype or \
                    not np.array_equal(now, old, equal_nan=old.dtype.kind in "fc"):
                return False
            if mask is not None and not np.array_equal(np.ma.getmaskarray(obj), mask):
                return False
            continue
        again: list = []
        _held_parts(obj, again, {}, _HELD_DEPTH, [0])     # (its own state only: the depth reached)
        if not any(o is obj and s[0] == kind and _same_objects(kind, s[1:], was) for o, s in again):
            return False
    return True


def _same_objects(kind, now, was) -> bool:
    """Do ``now`` and ``was``, what ``_held_parts`` noted of one object, hold the same objects?
    Compared by identity: ``was`` keeps the objects it noted, so that none freed meanwhile gives its
    id to its replacement (a float field set again)."""
    if kind == "objects":
        return now[0] == was[0] and [id(v) for v in now[1]] == [id(v) for v in was[1]]
    if kind in ("items", "set"):
        ids_now, ids_was = [id(v) for v in now[0]], [id(v) for v in was[0]]
        return ids_now == ids_was if kind == "items" else sorted(ids_now) == sorted(ids_was)
    if kind in ("dict", "fields", "slots"):
        return len(now[0]) == len(was[0]) and all(
            k1 == k2 and v1 is v2 for (k1, v1), (k2, v2) in zip(now[0], was[0]))
    if kind == "bytes":
        return now[0] == was[0]
    return False


#: runtime/effects.py, once imported (it imports this module): what a loop walked, noted for a
#: recomputation to compare with
WALK_NOTES: list = []


def walks_by_position(items) -> None:
    """Refuses an iterable a named generator expression walks (``g = (E for t in items)`` read by
    ``next(g)``: sct/normalize_loops.lower_named_generators) whose iteration does not read it by position
    as it is when each item is taken: a dict, a set, a dict's view, an iterator or generator (Python reads
    them by their own iterators: a dict changed between two next() calls raises, a view sees new values);
    a 0-d array cannot be iterated (Python's TypeError, raised where the generator is made)."""
    if isinstance(items, (list, tuple, range, str)):
        return
    if _is_array(items):
        if np.ndim(items) == 0:
            raise TypeError("iteration over a 0-d array")
        return
    raise SctRuntimeError(
        f"a generator expression over a {type(items).__name__}, read one item at a time by next(): sct walks "
        f"its iterable by position, which is Python's order for a list, tuple, range or array only; iterate "
        f"over list(...) of it, or write the loop out")


nondifferentiable(walks_by_position)


class _Walked(list):
    """The items of an object walked by its ``__iter__`` (``for p in params``), with where the object
    held each of them then (``places``: ``(field, index)``, None for an item ``__iter__`` computed,
    or the refusal for one two fields hold), and its list fields' lengths then (``lengths``): the
    derivatives go back to those fields, whatever the object holds or its ``__iter__`` gives later."""
    __slots__ = ("places", "lengths")


def globals_kept(reads, why, lineno, only=None):
    """Where generated code has run code sct did not compile in the middle of its own (a ``with``
    block's context manager entered or left, a call of a function passed in, a for loop's iterable
    walked: sct/compiler.py _check_context_kept), each value the code holds from when it was compiled
    still holds.  ``reads``: ``(entries, same, missing, messages, filename)``, ``messages[why]`` what a
    refusal at ``lineno`` of ``filename`` says (a with block's, a call's, a walk's); each entry ``(namespace, name, value,
    holds)``: a global (``namespace`` a dict) or a function called as ``base.attr(...)`` (read with
    getattr) that must still be ``value`` or one that ``same(now, value)`` says can stand for it
    (``missing``: held absent); where ``holds`` is not None, a read of a proof of realness,
    ``holds()`` saying whether the proof still holds.  Generated code reads globals as they were when
    the call began, so a context manager setting one for its block (``global SCALE; SCALE = s``, then
    restoring it), or a callback setting one and setting it back later, left the code between
    computing with the old value, and the check after the run saw it restored: refused here.  ``only``:
    the names to check (after a write of them through the module object, a global written before and
    not read again may have changed)."""
    entries, same, missing, messages, filename = reads
    message = messages[why]
    for namespace, name, value, holds in entries:
        if only is not None and name not in only:
            continue
        if holds is not None:             # what a proof of realness read: one it holds for too
            if holds():
                continue
            raise EvaluationError(message.format(name), filename, lineno)
        now = namespace.get(name, missing) if type(namespace) is dict else getattr(namespace, name, missing)
        if now is value or now is not missing and value is not missing and same(now, value):
            continue
        raise EvaluationError(message.format(name), filename, lineno)


nondifferentiable(globals_kept)


_WALK_CONTEXT = threading.local()


def loop_left(held, n, k) -> None:
    """After a for loop left by a break (or return) at position ``k`` of its ``n`` items: refused
    where what it walked is an iterator the function holds (``it = iter(xs)``, a generator, a file):
    sct took all ``n`` items before the body ran, Python only ``k + 1``, leaving the rest for the
    function's next use of it (``list(it)``, ``next(it)``, another loop).  Was: the rest silently gone."""
    if k + 1 >= n:
        return
    for items in held:
        if hasattr(type(items), "__next__") and not isinstance(items, (list, tuple, dict)) and \
                not _is_array(items):
            raise SctRuntimeError(
                f"a for loop (or any()/all() of a generator) over the {type(items).__name__} iterator "
                f"leaves it early (a break or return after item {k + 1} of {n}): sct takes every item of "
                f"an iterator before the loop's body runs, so the items Python leaves in it for later "
                f"(list(it), next(it), another loop) would be gone. Loop over a list of its items "
                f"(items = list(it)) and index or slice that, or loop over the iterable itself")


nondifferentiable(loop_left)


def walk_size(items):
    """Before a for loop over a dict (or its keys, values or items view, live) or a set whose body may
    add or remove items: its size, which Python's iterator compares at each next(), and its keys (items)
    in order (None for anything else)."""
    if type(items) is set:
        return len(items), list(items)
    if not isinstance(items, _DICT_AND_VIEWS):
        return None
    return len(items), list(items if isinstance(items, dict) else items.mapping)


def walk_size_kept(items, size, check) -> None:
    """Python's ``RuntimeError`` where a for loop over a dict (a set) goes on (the next item, or its end)
    after the body changed its size: sct walks a list of its keys taken before the body runs, so the
    loop ran on (red team loop, dec 5: `for k in g: g[k + "_sq"] = g[k] ** 2`, `d.pop(k)`,
    `d.setdefault(...)` returned numbers where Python raises; s43: `for v in S: S.add(...)`).  A body
    that removed keys and added others, leaving the size as it was (`v = d.pop(k); d[k + "x"] = v`), is
    refused: Python's iterator then walks the added keys, or raises 'dictionary keys changed during
    iteration', where sct's list held the old keys (was: the old keys' values, a number where Python
    raises)."""
    if not (check and size is not None and (type(items) is set or isinstance(items, _DICT_AND_VIEWS))):
        return
    count, keys = size
    if len(items) != count:
        raise RuntimeError(("Set" if type(items) is set else "dictionary") + " changed size during iteration")
    now = items if isinstance(items, (dict, set)) else items.mapping
    if list(now) == keys:         # (a list's == compares by identity first: C speed, NaN keys equal)
        return
    raise SctRuntimeError(
        f"the body of a for loop over a {'set' if type(items) is set else 'dict'} removed items of it and "
        "added others (its size kept): Python's iterator then walks the added ones or raises RuntimeError "
        "('dictionary keys changed during iteration'), where sct walks the ones it held when the loop "
        "began; loop over a copy (for k in list(d)) or build a new one")


_DICT_AND_VIEWS = (dict, type({}.keys()), type({}.values()), type({}.items()))


nondifferentiable(walk_size)
nondifferentiable(walk_size_kept)


def walk_context(reads, lineno, watch):
    """Said by generated code just before a for loop's ``rt.as_sequence(items)`` (sct/compiler.py
    _check_walks_kept): an object walked by its ``__iter__``, an iterator or a generator is walked whole
    before the loop's body runs, where Python runs the body between its items.  So the walk must not
    change what the body reads: after each item, each value the code holds from when it was compiled
    (``reads``, as globals_kept) still holds, and, where the body reads the object (``watch``: True,
    or the names of the fields it reads), its fields are the objects they were (a loader setting ``self.step`` for each item, read as
    ``loader.step``: was the value the whole walk left); else refused at the loop's line."""
    _WALK_CONTEXT.value = (reads, lineno, watch)


nondifferentiable(walk_context)


def _checked_walk(items, context):
    """``items`` walked as as_sequence walks it, checked after each item as ``walk_context`` says."""
    reads, lineno, watch = context
    message, filename = reads[3]["walk"], reads[4]
    fields = getattr(items, "__dict__", None) if watch else None
    state = None
    if type(fields) is dict:            # (watch: True, every field; else the names of those the body reads)
        state = dict(fields) if watch is True else {k: fields.get(k, _WALK_CONTEXT) for k in watch}

    def changed_field():
        if watch is True and fields.keys() != state.keys():
            return next((k for k in fields if k not in state), next(iter(state), "a field"))
        return next((k for k, v in state.items() if fields.get(k, _WALK_CONTEXT) is not v), None)

    def checked(source):
        for item in source:
            if reads[0]:
                globals_kept(reads, "walk", lineno)
            changed = changed_field() if state is not None else None
            if changed is not None:
                raise EvaluationError(message.format(f"the fields of the {type(items).__name__} it walks (its "
                                                     f"{changed} changed)"), filename, lineno)
            yield item
        if reads[0]:
            globals_kept(reads, "walk", lineno)
    return checked


_DICT_KEYS, _DICT_VALUES, _DICT_ITEMS = type({}.keys()), type({}.values()), type({}.items())


def _walked(obj, source=None, quiet=False):
    out = _Walked(_walk_list(obj if source is None else source, obj, quiet))
    counts: dict = {}
    for item in out:
        counts[id(item)] = counts.get(id(item), 0) + 1
    seen: dict = {}
    places = []
    for item in out:
        n = seen.get(id(item), 0)
        seen[id(item)] = n + 1
        try:
            places.append(_field_of(obj, item, n, counts[id(item)]))
        except SctRuntimeError as refusal:
            places.append(refusal)
    out.places = places
    out.lengths = {k: len(v) for k, v in vars(obj).items()
                   if isinstance(v, (list, tuple)) and not hasattr(type(v), "_fields")}
    return out


def dict_items(mapping):
    """``mapping.items()`` as a list of (key, value) pairs."""
    return list(mapping.items())


def dict_values(mapping):
    """``mapping.values()`` as a list."""
    return list(mapping.values())


def pairs_to_dict(grad, mapping):
    """The adjoint of dict_items: the value adjoints back under their keys."""
    if _is_zero(grad):
        return grad
    keys = list(mapping)
    out = {}
    for i in range(len(keys)):
        out[keys[i]] = item_adjoint(grad[i], 1, mapping[keys[i]])
    return out


def values_to_dict(grad, mapping):
    """The adjoint of dict_values: each value adjoint back under its key."""
    if _is_zero(grad):
        return grad
    keys = list(mapping)
    out = {}
    for i in range(len(keys)):
        out[keys[i]] = grad[i]
    return out


def dict_get(mapping, key, default=None):
    """``mapping.get(key, default)``: the value under ``key``, or ``default`` where it is missing."""
    return mapping.get(key, default)


def dict_get_adjoint(grad, mapping, key):
    """The adjoint of dict_get for the mapping: ``grad`` under ``key`` where the key is there."""
    if _is_zero(grad) or key not in mapping:
        return ZERO
    return {key: grad}


def default_adjoint(grad, mapping, key):
    """The adjoint of dict_get for its default: ``grad`` where the key is missing."""
    return ZERO if key in mapping else grad


def vararg_adjoints(grad, items):
    """The adjoints of the items of a ``*args`` tuple, one per item (zeros where none arrived)."""
    return [item_adjoint(grad, i, items[i]) for i in range(len(items))]


def starred_mask(mask, starred, *values):
    """The activity mask of a call ``f(a, *xs)``: each starred value's flag once per item."""
    out = []
    for m, star, v in zip(mask, starred, values):
        if star:
            out.extend([m] * len(v))
        else:
            out.append(m)
    return tuple(out)


def starred_adjoint(grads, index, starred, *values):
    """The adjoint of argument ``index`` of a call ``f(a, *xs)`` from the adjoints of its
    positional arguments: a list for a starred value (one per item)."""
    offset = 0
    for i in range(index):
        offset += len(values[i]) if starred[i] else 1
    if starred[index]:
        return [grads[offset + j] for j in range(len(values[index]))]
    return grads[offset]


def copy_list(items):
    """A new list with the same items (so popping it leaves the original intact)."""
    return list(items)


@defrule(list, tuple, wrt=("iterable",))
def _list_rule(g, ans, iterable=()):
    return sequence_adjoint(g, iterable, ans)


@defrule(sequence_adjoint, wrt=("grad",))
def _sequence_adjoint_rule(g, ans, grad, iterable, given=None):
    return list_of_rows(g, iterable)


def _iterated_object(obj) -> bool:
    """An object of a user's class walked by its ``__iter__`` (``for p in params``, ``list(params)``),
    or by its ``__getitem__`` from 0 up (Python's iteration of a class without ``__iter__``; was: not
    one, so the derivative of ``list(obj)`` of such an object was silently zero)."""
    return not isinstance(obj, (list, tuple, dict, str, bytes, range)) and not _is_array(obj) and \
        hasattr(obj, "__dict__") and (hasattr(type(obj), "__iter__") or hasattr(type(obj), "__getitem__"))


def _field_of(obj, item, occurrence=0, occurrences=1):
    """Where the item ``item`` of ``iter(obj)`` is held in ``obj``: ``(field, None)`` for a field
    holding it, ``(field, i)`` for item i of a list or tuple field, else None (computed by
    ``__iter__``).  An object a list field holds at several places, given as often by ``__iter__``
    (``iter(self.layers)``): its ``occurrence``-th time is the ``occurrence``-th place; other
    objects held at two places are refused (which one's derivative it is is unknown)."""
    found = []
    for k, v in vars(obj).items():
        if v is item:
            found.append((k, None))
        elif isinstance(v, (list, tuple)) and not hasattr(type(v), "_fields"):
            found.extend((k, i) for i in range(len(v)) if v[i] is item)
    if len(found) > 1 and len(found) == occurrences and len({f for f, _ in found}) == 1 and \
            all(i is not None for _, i in found):
        return found[occurrence]
    if len(found) > 1:
        raise SctRuntimeError(
            f"the derivative of an item that iterating an object of {type(obj).__name__} gives (its "
            f"__iter__) reaches a value that {' and '.join(_place(f) for f in found[:2])} both hold: "
            f"sct cannot tell which field's derivative it is. Iterate a list of the fields instead "
            f"([obj.{found[0][0]}, ...])")
    return found[0] if found else None


def _given_places(obj, given, items):
    """Where the object holds each item the iteration gave (``given``; None where it holds it no
    more, or where ``given`` is unknown or of another length): checked against the items its
    ``__iter__`` gives when the derivative is computed."""
    if given is None or not isinstance(given, (list, tuple)) or len(given) != len(items) or \
            all(a is b for a, b in zip(given, items)):
        return None
    counts: dict = {}
    for item in given:
        counts[id(item)] = counts.get(id(item), 0) + 1
    seen: dict = {}
    out = []
    for item in given:
        n = seen.get(id(item), 0)
        seen[id(item)] = n + 1
        try:
            out.append(_field_of(obj, item, n, counts[id(item)]))
        except SctRuntimeError:
            out.append(None)
    return out


def _place(where) -> str:
    return f"field {where[0]}" if where[1] is None else f"item {where[1]} of field {where[0]}"


def iterated_adjoint(grad, obj, given=None):
    """The adjoint of the items of an object walked by its ``__iter__`` (a list, one per item),
    given back to the fields they are (``iter([self.w, self.b])``, ``yield self.w``,
    ``iter(self.layers)``): a record adjoint ``{field: adjoint}``, a list for a list field.
    An item ``__iter__`` computes (not a field) with a derivative reaching it is refused.
    ``given``: the items the iteration gave (where known); where one the object still holds is now
    at another place than the item ``__iter__`` gives there now (its order changed since), refused."""
    if _is_zero(grad) or not isinstance(grad, (list, tuple)) or hasattr(type(grad), "_fields"):
        return grad
    if isinstance(given, _Walked) and len(given) == len(grad):
        return _walked_adjoint(grad, obj, given)
    items = list(obj)
    if len(items) != len(grad):
        raise SctRuntimeError(
            f"iterating the object of {type(obj).__name__} gave {len(grad)} items, and {len(items)} "
            f"when its derivative was computed: iterate a list of its fields instead")
    out: dict = {}
    counts: dict = {}
    for item in items:
        counts[id(item)] = counts.get(id(item), 0) + 1
    seen: dict = {}
    given_at = _given_places(obj, given, items)
    for k, (item, g) in enumerate(zip(items, grad)):
        n = seen.get(id(item), 0)
        seen[id(item)] = n + 1
        if _is_zero(g):
            continue
        where = _field_of(obj, item, n, counts[id(item)])
        if given_at is not None and given_at[k] is not None and given_at[k] != where:
            raise SctRuntimeError(
                f"iterating the object of {type(obj).__name__} gave an item that "
                f"{_place(given_at[k])} holds, and where its derivative is computed its __iter__ gives "
                f"{'a value it computes' if where is None else _place(where)} at that place (the "
                f"object changed after it was iterated, and what __iter__ gives, or its order, "
                f"with it): iterate a list of its fields instead ([obj.{given_at[k][0]}, ...]), or "
                f"change the object before iterating it")
        if where is None:
            raise _computed_item(obj)
        _add_at(out, where, g, lambda field: len(vars(obj)[field]))
    return out


def _computed_item(obj) -> SctRuntimeError:
    """The refusal of a derivative reaching an item ``__iter__`` computed (none of obj's fields)."""
    return SctRuntimeError(
        f"a derivative reaches an item that iterating an object of {type(obj).__name__} gives "
        f"(its __iter__), and that item is none of its fields (__iter__ computed it): sct does "
        f"not differentiate __iter__. Make __iter__ give the fields themselves "
        f"(return iter([self.a, self.b]), or yield self.a), or iterate a list of values you "
        f"compute in the function")


def _add_at(out: dict, where, g, length) -> None:
    """Add the item adjoint ``g`` into the record adjoint ``out`` at ``where``: ``(field, None)``
    for a field holding the item, ``(field, i)`` for item i of a list field of ``length(field)``."""
    field, i = where
    if i is None:
        out[field] = add_grad(out.get(field, ZERO), g)
    else:
        held = out.get(field, ZERO)
        held = [ZERO] * length(field) if _is_zero(held) else list(held)
        held[i] = add_grad(held[i], g)
        out[field] = held


def _walked_adjoint(grad, obj, given):
    """iterated_adjoint with the places the items were held at when the object was walked."""
    out: dict = {}
    for where, g in zip(given.places, grad):
        if _is_zero(g):
            continue
        if isinstance(where, SctRuntimeError):
            raise where
        if where is None:
            raise _computed_item(obj)
        _add_at(out, where, g, given.lengths.__getitem__)
    return out


def iterated_items(grad, obj, given=None):
    """The adjoint of iterated_adjoint: a record adjoint read back as one adjoint per item."""
    if _is_zero(grad) or not isinstance(grad, dict):
        return grad
    if isinstance(given, _Walked):
        parts = []
        for where in given.places:
            part = ZERO if where is None or isinstance(where, SctRuntimeError) else getattr_or_zero(grad, where[0])
            if where is not None and not isinstance(where, SctRuntimeError) and where[1] is not None:
                part = getitem_or_zero(part, where[1])
            parts.append(part)
        return parts
    out = []
    items = list(obj)
    counts: dict = {}
    for item in items:
        counts[id(item)] = counts.get(id(item), 0) + 1
    seen: dict = {}
    for item in items:
        n = seen.get(id(item), 0)
        seen[id(item)] = n + 1
        where = _field_of(obj, item, n, counts[id(item)])
        part = ZERO if where is None else getattr_or_zero(grad, where[0])
        if where is not None and where[1] is not None:
            part = getitem_or_zero(part, where[1])
        out.append(part)
    return out


@defrule(iterated_adjoint, wrt=("grad",))
def _iterated_adjoint_rule(g, ans, grad, obj, given=None):
    return iterated_items(g, obj, given)


@defrule(iterated_items, wrt=("grad",))
def _iterated_items_rule(g, ans, grad, obj, given=None):
    return iterated_adjoint(g, obj, given)


def list_of_rows(grad, iterable):
    """The adjoint of sequence_adjoint: the array's rows (or the list) as a list."""
    if _is_zero(grad):
        return grad
    if isinstance(grad, dict) and _iterated_object(iterable):
        return iterated_items(grad, iterable)
    return [row for row in grad] if _is_array(grad) else list(grad)


@defrule(list_of_rows, wrt=("grad",))
def _list_of_rows_rule(g, ans, grad, iterable):
    return sequence_adjoint(g, iterable)


@defrule(as_sequence, wrt=("items",))
def _as_sequence_rule(g, ans, items):
    return sequence_source_adjoint(g, items, ans)


def sequence_source_adjoint(grad, items, given=None):
    """The adjoint of as_sequence: none for a dict's keys, the list of adjoints otherwise (an
    object walked by its ``__iter__``: its fields' adjoints, and back: its own transpose)."""
    if isinstance(items, dict):
        return ZERO
    if _iterated_object(items) and not _is_zero(grad):
        return iterated_items(grad, items, given) if isinstance(grad, dict) else \
            iterated_adjoint(grad, items, given)
    return grad


@defrule(sequence_source_adjoint, wrt=("grad",))
def _sequence_source_adjoint_rule(g, ans, grad, items, given=None):
    return sequence_source_adjoint(g, items, given)


@defrule(dict_items, wrt=("mapping",), method="items")
def _dict_items_rule(g, ans, mapping):
    return pairs_to_dict(g, mapping)


@defrule(dict_values, wrt=("mapping",), method="values")
def _dict_values_rule(g, ans, mapping):
    return values_to_dict(g, mapping)


@defrule(real_if_real, wrt=("grad",), linear="grad")
def _real_if_real_rule(g, ans, grad, x):
    return real_if_real(g, x)


@defrule(conj_of, linear="x")
def _conj_of_rule(g, ans, x):
    return conj_of(g)


@defrule(dict_get, wrt=("mapping", "default"), joint_linear=("mapping", "default"), method="get")
def _dict_get_rule(g, ans, mapping, key, default=None):
    return dict_get_adjoint(g, mapping, key), default_adjoint(g, mapping, key)


@defrule(dict_get_adjoint, wrt=("grad",), linear="grad")
def _dict_get_adjoint_rule(g, ans, grad, mapping, key):
    return getitem_or_zero(g, key)      # (a mapping's adjoint has no key the mapping lacks)


@defrule(default_adjoint, wrt=("grad",), linear="grad")
def _default_adjoint_rule(g, ans, grad, mapping, key):
    return default_adjoint(g, mapping, key)


@defrule(copy_list, wrt=("items",))
def _copy_list_rule(g, ans, items):
    return g


def copy_value(obj):
    """``obj.copy()`` and ``copy.copy(obj)``: a new array, list or dict with the same items
    (a tuple is itself)."""
    if isinstance(obj, np.ndarray):
        return obj.copy()
    if isinstance(obj, list):
        return list(obj)
    if isinstance(obj, tuple):
        return obj
    if isinstance(obj, dict):
        return obj.copy()
    import copy as _copy
    return _copy.copy(obj)


def deep_copy(obj):
    """``copy.deepcopy(obj)``."""
    import copy as _copy
    return _copy.deepcopy(obj)


def dict_source_adjoint(grad, mapping):
    """The adjoint of ``dict(mapping)``: the value adjoints under the mapping's keys (for a
    sequence of (key, value) pairs, a list of [0, value adjoint] pairs; a repeated key's
    adjoint goes to its last pair, the one the dict keeps)."""
    if _is_zero(grad):
        return grad
    if isinstance(mapping, dict):
        return {k: getitem_or_zero(grad, k) for k in mapping}
    items = list(mapping)
    last = {pair[0]: i for i, pair in enumerate(items)}
    return [[ZERO, getitem_or_zero(grad, pair[0]) if last[pair[0]] == i else ZERO]
            for i, pair in enumerate(items)]


def dict_source_transpose(cot, mapping):
    """The adjoint of dict_source_adjoint with respect to its ``grad``."""
    if _is_zero(cot):
        return cot
    if isinstance(mapping, dict):
        return {k: getitem_or_zero(cot, k) for k in mapping}
    items = list(mapping)
    out = {}
    for i, pair in enumerate(items):
        out[pair[0]] = getitem_or_zero(getitem_or_zero(cot, i), 1)
    return out


def dict_merged(a, b):
    """``{**a, **b}``: what ``a.update(b)`` leaves in ``a`` (sct/aliasing.py), an OrderedDict where ``a``
    is one (was a dict: a state dict's type changed at ``Q.update(...)``)."""
    if type(a) is collections.OrderedDict:
        out = a.copy()
        out.update(b)
        return out
    return {**a, **b}


def without_key(z, key):
    """What ``z.pop(key)`` leaves in the dict ``z`` (sct/aliasing.py): its other items, in order
    (Python's KeyError where ``key`` is not in ``z``)."""
    if type(z) is not dict:
        raise EvaluationError(f"sct models pop(key) of a dict or pop(index) of a list (here a "
                              f"{type(z).__name__})")
    if key not in z:
        raise KeyError(key)
    return {k: v for k, v in z.items() if k != key}


def dict_part(grad, keys, hidden):
    """The adjoints of the keys of ``keys`` that ``hidden`` does not override."""
    if _is_zero(grad):
        return grad
    return {k: getitem_or_zero(grad, k) for k in keys if k not in hidden}


def listed(items):
    """``[*items]``: a new list of the items."""
    return list(items)


def tupled(items):
    """``(*items,)``: a tuple of the items."""
    return tuple(items)


@defrule(copy_value, copy.copy, deep_copy, copy.deepcopy, method="copy")
def _copy_value_rule(g, ans, x):
    return g


@defrule(dict, wrt=("mapping",))
def _dict_rule(g, ans, mapping=()):
    return dict_source_adjoint(g, mapping)


def ordered_dict(mapping=()):
    """``collections.OrderedDict(mapping)`` in differentiated code (sct/ordered_dicts.py): differentiated
    as ``dict(mapping)``, Python's OrderedDict."""
    return collections.OrderedDict(mapping)


@defrule(ordered_dict, wrt=("mapping",))
def _ordered_dict_rule(g, ans, mapping=()):
    return dict_source_adjoint(g, mapping)


@defrule(dict_source_adjoint, wrt=("grad",))
def _dict_source_adjoint_rule(g, ans, grad, mapping):
    return dict_source_transpose(g, mapping)


@defrule(dict_source_transpose, wrt=("cot",))
def _dict_source_transpose_rule(g, ans, cot, mapping):
    return dict_source_adjoint(g, mapping)


def new_dict_key(z, key):
    """``key not in z`` before ``z.setdefault(key, d)`` (lowered by sct/aliasing.py): z must be a dict."""
    if type(z) is not dict:
        raise EvaluationError(f"sct models setdefault() of a dict (here a {type(z).__name__}): "
                              "write `if key not in d: d[key] = default`")
    return key not in z


nondifferentiable(new_dict_key, pop_position)


def dict_or(a, b):
    """``a | b`` where one side is written as a dict (sct/normalize_exprs.py): two dicts merged,
    later keys winning (Python's dict.__or__); other operands refused."""
    if type(a) is not dict or type(b) is not dict:
        raise EvaluationError(f"sct models `|` with a dict only between two dicts (here "
                              f"{type(a).__name__} | {type(b).__name__}): write {{**a, **b}}")
    return {**a, **b}


@defrule(dict_or, wrt=("a", "b"))
def _dict_or_rule(g, ans, a, b):
    return dict_part(g, a, b), dict_part(g, b, ())


def bit_or(a, b):
    """``a | b`` in differentiated code (sct/normalize_exprs.py): two dicts merged, with the
    derivatives of their items (Python's dict.__or__); anything else Python's ``|`` (bitwise or,
    set union: no derivative), an object of a class with its own ``__or__`` refused."""
    if type(a) is dict and type(b) is dict:
        return {**a, **b}
    array_operand(a, "|", "__or__ __ror__")
    array_operand(b, "|", "__or__ __ror__")
    return a | b


@defrule(bit_or, wrt=("a", "b"))
def _bit_or_rule(g, ans, a, b):
    return bit_or_left(g, a, b), bit_or_right(g, a, b)


def bit_or_left(grad, a, b):
    """The adjoint of ``a`` in ``a | b`` (two dicts: its items ``b`` does not override; else none)."""
    if type(a) is dict and type(b) is dict:
        return dict_part(grad, a, b)
    return ZERO


def bit_or_right(grad, a, b):
    """The adjoint of ``b`` in ``a | b`` (two dicts: its items; else none)."""
    if type(a) is dict and type(b) is dict:
        return dict_part(grad, b, ())
    return ZERO


@defrule(bit_or_left, wrt=("grad",), linear=("grad",))
def _bit_or_left_rule(g, ans, grad, a, b):
    return bit_or_left(g, a, b)


@defrule(bit_or_right, wrt=("grad",), linear=("grad",))
def _bit_or_right_rule(g, ans, grad, a, b):
    return bit_or_right(g, a, b)


# operator.or_ called by name (functools.reduce(operator.or_, dicts)) is `a | b`
alias(operator.or_, bit_or)


@defrule(dict_merged, wrt=("a", "b"))
def _dict_merged_rule(g, ans, a, b):
    return dict_part(g, a, b), dict_part(g, b, ())


@defrule(without_key, wrt=("z",))
def _without_key_rule(g, ans, z, key):
    return dict_part(g, z, ())


@defrule(dict_part, wrt=("grad",))
def _dict_part_rule(g, ans, grad, keys, hidden):
    return dict_part(g, keys, hidden)


@defrule(listed, tupled, wrt=("items",))
def _listed_rule(g, ans, items):
    return sequence_adjoint(g, items, ans)


def require_unpacked(items, count):
    """Before ``a, *rest, b = items``: Python's ValueError when there are fewer than ``count`` items."""
    if len(items) < count:
        raise ValueError(f"not enough values to unpack (expected at least {count}, got {len(items)})")


def require_unpacked_exactly(items, count):
    """Before ``a, b = obj`` of an object walked by its ``__iter__`` (sct/unpack_objects.py), and of a
    tuple, list or array read by position (``a = t[0]``, ``b = t[1]``): Python's ValueError when it has
    another number of items than ``count``.  (A dict or set unpacks its keys, in its order: refused; an
    object without ``len`` is left to its reading by position, which says what to write.)"""
    if isinstance(items, (dict, set, frozenset)):
        raise TypeError(f"unpacking a {type(items).__name__} gives its keys (items), which sct reads by position "
                        f"here: write a, b = list(d) (or d.values(), d.items() as a list)")
    if not hasattr(items, "__len__"):
        return
    if len(items) != count:
        raise ValueError(f"too many values to unpack (expected {count})" if len(items) > count else
                         f"not enough values to unpack (expected {count}, got {len(items)})")


def require_number(value, message, container=None):
    """Before ``d[k] += v`` (``o.a += v``) whose old item the compiler could not prove unshared:
    a number is rebound (exact); an array or list would change in place: refused, unless ``d`` is
    a numeric array (``y[mask] *= 0.1``: the item is part of y or a copy of its entries, and the
    write into y is what sct follows)."""
    if isinstance(value, (int, float, complex, np.generic, str, bytes, tuple)) or value is None:
        return None
    if is_numpy_scalar(value) or _callers_numpy_scalar(value, container):
        return None     # (a 0-d dlarray standing for numpy's scalar is rebound by +=, as np.float64 is)
    if type(container) is np.ndarray and container.dtype.kind in "biufc":
        return None
    if type(container) is _dlarray and container._data.dtype.kind in "biufc":
        return None     # (its item too: was refused, so ``h[0] -= self.b`` in a method, fuzz51 F5)
    raise EvaluationError(message)


def _callers_numpy_scalar(value, container) -> bool:
    """Is ``value`` (a 0-d float64 or complex128 ndarray read from ``container``, dlfeval's copy of a dict it was
    given) the data of a dlarray standing for numpy's scalar in the caller's dict (``st["s"] += L`` where an
    earlier call stored the loss there: was refused, red2_55 F2)?  (Those dtypes only: inplace_result keeps the
    old item's dtype, where Python's rebinding promotes.)"""
    if type(value) is not np.ndarray or value.ndim or value.dtype not in (np.float64, np.complex128):
        return False
    pairs = ARGUMENT_DICTS.pairs
    if not pairs:
        return False
    if container is None:           # (inplace_result: any of the caller's dicts)
        callers = [found[1] for found in pairs.values()]
    else:
        found = pairs.get(id(container)) if type(container) is dict else None
        if found is None or found[0] is not container:
            return False
        callers = [found[1]]
    return any(type(v) is _dlarray and v._data is value and is_numpy_scalar(v) for c in callers for v in c.values())


def require_none(value, message):
    """Before a call whose callee sct read with this parameter None, left to its default None where
    the calling code was compiled (sct/write_checks.py): another call of that code may give it."""
    if value is None:
        return None
    raise EvaluationError(message)


def require_array_value(value, message):
    """Before ``t.any()``, ``t.argmax()`` (a numpy method with no derivative) of a traced ``t`` the
    compiler could not prove an array: an array, a dlarray or a number has numpy's method, which
    changes nothing; an object of another class is refused with ``message`` (its ``{type}`` filled in)."""
    if isinstance(value, (np.ndarray, np.generic, _dlarray, int, float, complex)):
        return None
    raise EvaluationError(message.format(type=type(value).__name__))


def require_str(value, message):
    """Before ``k.startswith(...)`` on a name the compiler could not tell apart from values an adjoint
    reads (the key of ``for k, v in d.items()``, sct/write_checks.py _str_method_guarded): a str's
    method changes nothing; any other object (a str subclass too) is refused with ``message``.
    numpy's own ``np.str_`` (the keys of ``dict(zip(np.array(["a", "b"]), ...))``) has str's methods
    (was: refused, redfix52 F9)."""
    if type(value) is str or type(value) is np.str_:
        return None
    raise EvaluationError(message.format(type=type(value).__name__))


def require_unshared(array, message, *arguments):
    """Before ``G[...] = v`` of an untraced ``v`` into a global array ``G`` that no adjoint reads, where the
    arguments an adjoint reads (their arrays, a dlarray's data, what a dict, list, tuple or object holds) may
    share its memory (``dlfeval(f, dlarray(G))``): the write would change the numbers the derivative reads as
    they were; refused with ``message`` where one does (running statistics ``RV[:] = 0.9 * RV + ...``)."""
    seen: set = set()

    def arrays(v, depth):
        if id(v) in seen or depth > 4:
            return
        seen.add(id(v))
        if isinstance(v, _dlarray):
            v = v._data
        if isinstance(v, np.ndarray):
            yield v
        elif isinstance(v, dict):
            for item in list(v.values()):
                yield from arrays(item, depth + 1)
        elif isinstance(v, (list, tuple)):
            for item in v:
                yield from arrays(item, depth + 1)
        elif hasattr(v, "__dict__") and not isinstance(v, (type, types.ModuleType, types.FunctionType)):
            for item in list(vars(v).values()):
                yield from arrays(item, depth + 1)
    for a in arguments:
        for held in arrays(a, 0):
            if np.shares_memory(held, array):
                raise EvaluationError(message)


def require_logger(logger, message, *values):
    """Before ``log.info("%f", loss)`` given traced values (sct/write_checks.py _logging_call): ``logger``
    is logging's module or a ``logging.Logger`` of logging's own class, and the values are numbers or
    arrays.  An array may be changed in place by code that sees the record: a handler, formatter or
    filter of the user's (its errors swallowed by logging's handler), a record factory, a logger class of
    the user's: refused with ``message`` (``{part}`` filled in); logging's own code only formats it."""
    import logging
    if isinstance(logger, types.ModuleType) and logger is logging:
        logger = logging.getLogger()
    if type(logger) not in (logging.Logger, logging.RootLogger):
        raise EvaluationError(message.format(part=f"traced values, and its logger is of your class "
                                                  f"{type(logger).__name__}"))
    other = [v for v in values if not isinstance(v, (np.ndarray, _dlarray, np.generic, numbers.Number, str))]
    if other:
        raise EvaluationError(message.format(part=f"a {type(other[0]).__name__} holding traced values, whose "
                                                  f"text is made by code sct does not follow"))
    if not any(isinstance(v, (np.ndarray, _dlarray)) for v in values):
        return None         # (numbers cannot be changed in place)
    parts = [("the record factory", logging.getLogRecordFactory())]
    node = logger
    while node is not None:
        parts += [("a filter of the logger", f) for f in node.filters]
        for h in node.handlers:
            parts += [("the handler", h), ("the handler's formatter", h.formatter)]
            parts += [("a filter of the handler", f) for f in h.filters]
        node = node.parent if node.propagate else None
    if not any(node.handlers for node in _logger_chain(logger)):
        parts.append(("the last-resort handler", logging.lastResort))
    for part, obj in parts:
        if obj is not None and not _library_code(obj):
            name = getattr(obj, '__qualname__', type(obj).__qualname__)
            raise EvaluationError(message.format(part=f"an array, and {part} {name} on its way is your code"))
    return None


def _logger_chain(logger):
    while logger is not None:
        yield logger
        logger = logger.parent if logger.propagate else None


def _library_code(obj) -> bool:
    """Is ``obj`` (a function, or an object: its class) defined in a file of Python's standard library or
    of an installed package (not the user's, whose code may change what it is given)?"""
    import os
    import sysconfig
    fn = getattr(obj, "__func__", obj)
    owner = fn if isinstance(fn, (types.FunctionType, types.BuiltinFunctionType, type)) else type(fn)
    if module_name(owner) == "":
        return False        # (a class of exec'd code, "builtins" by name; a user's module named runtime)
    module = sys.modules.get(getattr(owner, "__module__", None) or "")
    filename = getattr(module, "__file__", None)
    if module is not None and filename is None:
        return getattr(module, "__name__", "") in sys.builtin_module_names
    if not isinstance(filename, str):
        return False
    if not _LIBRARY_ROOTS:
        _LIBRARY_ROOTS.extend(sorted({os.path.realpath(r) + os.sep for r in (sysconfig.get_paths().get(k) for k in
                                      ("stdlib", "platstdlib", "purelib", "platlib")) if r}))
    path = os.path.realpath(filename)
    return any(path.startswith(root) for root in _LIBRARY_ROOTS)


_LIBRARY_ROOTS: list = []


def require_array(value, message):
    """Before following a view ``w = z[1:]`` of ``z`` (sct/copy_aliases.py): ``z`` must be an
    array (a dlarray under dlfeval), whose basic slices are views of it; a list's slice is a new
    list (refused with ``message``)."""
    if type(value) is np.ndarray or type(value) is _dlarray:
        return None
    raise EvaluationError(message)


def _ndim_of(value):
    return np.ndim(value.data if type(value) is _dlarray else value)


def require_view_item(base, item, message):
    """Before writing ``item = base[1]``'s change back into ``base`` (sct/copy_aliases.py): base
    is an array with more dimensions than the index, so that the item is a view of it."""
    if (type(base) is np.ndarray or type(base) is _dlarray) and _ndim_of(item) >= 1:
        return None
    raise EvaluationError(message)


def item_is_view(base, item, message):
    """After a change of ``base`` in place, where ``item = base[1]`` (constant integers) holds:
    is the item a view of it (an array with more dimensions than the index), so that it changes
    too?  A number taken from an array keeps its value, and so does a tuple's item (a tuple is
    never changed in place).  A list's or dict's item is the object itself: a change of the list
    may replace it (``z[1] = v``: the item keeps its value) or change it in place (``z[1] += v``
    of an array: the item changes too), which the list does not tell: refused with ``message``,
    as is anything else."""
    if type(base) is np.ndarray or type(base) is _dlarray:
        return _ndim_of(item) >= 1
    if type(base) is tuple:
        return False
    raise EvaluationError(message)


def _integer_key(key) -> bool:
    """Is ``key`` basic indexing by integers (``3``, ``(1, 2)``): an array's item by it is a view
    of the array (or a number), a list's is the item itself?"""
    items = key if type(key) is tuple else (key,)
    return all(isinstance(k, (int, np.integer)) and not isinstance(k, (bool, np.bool_)) for k in items)


def item_is_held(base, key, item, message):
    """After a change in place of ``item``, where ``item = base[key]`` holds (sct/copy_aliases.py):
    is it the item ``base`` holds (a dict's value, a list's item: the object itself; an array's
    view by integers, with more dimensions than the key), so that ``base[key] = item`` follows
    the change?  False for what ``base`` does not see change: a copy (an array indexed by an
    index array or a mask) or a number.  A tuple's item (a tuple cannot be written) or any other
    object's is refused with ``message``."""
    kind = type(base)
    if kind is dict:
        _refuse_held_twice(base, key, message)
        return True
    if kind is list and type(key) is not tuple:
        if _integer_key(key):
            _refuse_held_twice(base, key, message)
            return True
        raise EvaluationError(message)
    if kind is np.ndarray or kind is _dlarray:
        return _integer_key(key) and _ndim_of(item) >= 1
    raise EvaluationError(message)


_HELD_KINDS = (dict, list, np.ndarray)


def _refuse_held_twice(base, key, message) -> None:
    """Refused where what ``base[key]`` held before the change (the dicts, lists and arrays inside it)
    is also held by another item of ``base`` (``d = {"a": {"l": L}, "b": {"l": L}}`` written through
    ``d["a"]["l"]["w"]``): sct sets the changed value back along the one path written, so a read
    through the other gave the old value (was: a wrong value and gradient, 5.25 where 47.25)."""
    try:
        old = base[key]
    except (KeyError, IndexError, TypeError):
        return
    if not isinstance(old, _HELD_KINDS):
        return
    inside = _held_ids(old)
    others = base.items() if type(base) is dict else enumerate(base)
    for k, v in others:
        if (k is key or k == key) and v is old:
            continue
        if isinstance(v, _HELD_KINDS + (tuple,)) and inside & _held_ids(v):
            raise EvaluationError(
                message.split(";")[0] + ", and a dict, list or array inside it is also held by another item of the "
                "same container (one object at two places); sct sets the change back along the path written "
                "only, so a read through the other place would miss it. Put a copy at each place (`.copy()`), "
                "or build a new value")


def _held_ids(value, depth: int = 0, seen=None) -> set:
    """The ids of the dicts, lists and arrays ``value`` is or holds (through dicts, lists and tuples)."""
    seen = set() if seen is None else seen
    if id(value) in seen or depth > 8:
        return seen
    if isinstance(value, _HELD_KINDS):
        seen.add(id(value))
    if isinstance(value, dict):
        for v in value.values():
            if isinstance(v, _HELD_KINDS + (tuple,)):
                _held_ids(v, depth + 1, seen)
    elif isinstance(value, (list, tuple)):
        for v in value:
            if isinstance(v, _HELD_KINDS + (tuple,)):
                _held_ids(v, depth + 1, seen)
    return seen


def _plain_attribute(base, attr) -> bool:
    """Does ``base`` keep ``attr`` in its ``__dict__`` and set it plainly (no ``__setattr__`` of its
    class, no property or other descriptor of that name, not a frozen dataclass)?"""
    kind = type(base)
    fields = getattr(base, "__dict__", None)
    if type(fields) is not dict or attr not in fields or kind.__setattr__ is not object.__setattr__:
        return False
    for klass in kind.__mro__:
        if attr in klass.__dict__:
            held = klass.__dict__[attr]
            return not (hasattr(held, "__set__") or hasattr(held, "__delete__"))
    return True


def attribute_is_held(base, attr, item, message):
    """After a change in place of ``item`` (``item[k] = v``, ``item.append(v)``), where ``item =
    base.attr`` holds and base is an object dlgradient built (sct/copy_aliases.py): True, so that
    ``base.attr = item`` follows the change; an attribute sct cannot set back plainly is refused
    with ``message``."""
    if _plain_attribute(base, attr):
        return True
    raise EvaluationError(message)


def attribute_changed_in_place(base, attr, item, message):
    """After ``item op= v`` where ``item = base.attr`` holds (base an object dlgradient built): did
    Python change the object in place (an array, a list, a dict), so that ``base.attr = item``
    follows it, or bind ``item`` to a new value (a number, a tuple, a string)?  Anything else is
    refused with ``message``."""
    if _plain_attribute(base, attr):
        changed = _changed_in_place(item)
        if changed is not None:
            return changed
    raise EvaluationError(message)


def item_changed_in_place(base, key, item, message):
    """After ``item op= v`` where ``item = base[key]`` holds: did Python change the item ``base``
    holds in place (an array, a list or a dict item of a dict or list, an array's view by
    integers), so that ``base[key] = item`` follows it, or bind ``item`` to a new value (a number,
    a tuple, a string; an array's copy)?  Anything else is refused with ``message``."""
    kind = type(base)
    if kind is np.ndarray or kind is _dlarray:
        return _integer_key(key) and _ndim_of(item) >= 1
    if kind is dict or kind is list and type(key) is not tuple and _integer_key(key):
        changed = _changed_in_place(item)
        if changed is not None:
            return changed
    raise EvaluationError(message)


def _changed_in_place(item):
    """After ``item op= v``: True where Python changed ``item`` in place (an array, a list, a dict), False
    where it bound a new value (a number, a tuple, a string, None), None for anything else."""
    value = item.data if type(item) is _dlarray else item
    if type(value) is np.ndarray and value.ndim > 0 or type(value) is list or type(value) is dict:
        return True
    if type(value) in (int, float, complex, bool, str, bytes, tuple, frozenset) or value is None or \
            isinstance(value, np.generic):
        return False
    return None


def entry_is_view(base, key, item):
    """After a change of the array ``base`` in place, where ``item = base[key]`` holds: is the item
    a view of it (integers, more dimensions than the key), so that it changes too?  A copy (an
    index array, a mask) or a number keeps its value."""
    return (type(base) is np.ndarray or type(base) is _dlarray) and _integer_key(key) and _ndim_of(item) >= 1


def walks_itself(walked, items) -> bool:
    """Is what a for loop walks (``rt.as_sequence(items)``) ``items`` itself (a list, a tuple, an
    array), so that a change of an item it walked is a change of ``items``?"""
    return walked is items


def array_item_is_view(base, item, message):
    """After ``item op= v`` where ``item = base[1]`` (constant integers): an item of an array with
    more dimensions than the index is a view of it (changed in place: written back), a number
    taken from an array is bound anew; anything else is refused with ``message``."""
    if type(base) is np.ndarray or type(base) is _dlarray:
        return _ndim_of(item) >= 1
    raise EvaluationError(message)


def updated_in_place(old, message):
    """After ``t op= v``, given the object ``t`` held before (``old``, which another name ``c``
    surely holds too: sct/copy_aliases.py): did Python change it in place (an array, a list, a
    dict: ``c`` is then bound to t's new value), or bind ``t`` to a new object (a number, a tuple,
    a string: ``c`` keeps its value)?  Any other object is refused with ``message``."""
    kind = type(old)
    if kind is _dlarray:            # (traced values under dlfeval): numpy's meaning for its data
        old = old.data
        kind = type(old)
    if kind is np.ndarray and old.ndim > 0 or kind is list or kind is dict:
        return True
    # (a 0-d array changes in place, but where sct computed one numpy may give a number: refused)
    if kind in (int, float, complex, bool, str, bytes, tuple, frozenset) or old is None or \
            isinstance(old, np.generic) and kind.__module__ == "numpy":
        return False
    raise EvaluationError(message.replace("{}", "0-d array" if kind is np.ndarray else kind.__name__))


def inplace_result(new, old):
    """The value ``t`` has after ``t op= v``, given ``new = t op v``: for an array ``t`` numpy
    changes it in place, so it keeps its shape (an ``old`` that ``v`` would broadcast to a
    larger shape raises, as numpy does) and its dtype (``new`` cast with same-kind casting:
    ``acc += x`` into a float32 ``acc`` stays float32, into an int array raises); numbers,
    tuples and lists are ``new`` itself.  An ``old`` dlarray (an object's field, which generated
    code reads as the dlarray it is: ``h = m.b * 1.0; h += c``) is an array too: its dtype and
    shape are kept the same way (was: ``new`` itself, so ``h += np.cos(m.s)`` of a float32 field
    gave float64 where Python's ``h`` stays float32).  Not a 0-d dlarray: that is how an item of
    such a field reads (``s = m.w[0]``), which Python gives as a numpy scalar, rebound by ``s += v``."""
    if type(old) is not np.ndarray:
        if not isinstance(old, _dlarray) or old.ndim == 0:
            return new
    if old.ndim == 0 and isinstance(new, np.generic) and _callers_numpy_scalar(old, None):
        return new          # (numpy's scalar in the caller's dict, read as its 0-d data: rebound, red2_55 F2)
        shape = np.shape(new)
        if shape != old.shape:
            raise ValueError(f"non-broadcastable output operand with shape {old.shape} doesn't match the "
                             f"broadcast shape {shape}")
        dtype = np.result_type(new)
        if dtype == old.dtype:
            return new
        if not np.can_cast(dtype, old.dtype, casting="same_kind"):
            raise TypeError(f"Cannot cast ufunc output from {dtype!r} to {old.dtype!r} with casting rule "
                            "'same_kind'")
        return new.astype(old.dtype) if isinstance(new, _dlarray) else np.asarray(new).astype(old.dtype)
    shape = np.shape(new)
    if shape != old.shape:
        raise ValueError(f"non-broadcastable output operand with shape {old.shape} doesn't match the "
                         f"broadcast shape {shape}")
    dtype = np.result_type(new)
    if dtype == old.dtype and type(new) is np.ndarray:
        return new
    if not np.can_cast(dtype, old.dtype, casting="same_kind"):
        raise TypeError(f"Cannot cast ufunc output from {dtype!r} to {old.dtype!r} with casting rule "
                        "'same_kind'")
    return np.asarray(new).astype(old.dtype)


@defrule(field_as_python, wrt=("value",))
def _field_as_python_rule(g, ans, value, python_type=""):
    return g


@defrule(inplace_result, wrt=("new",))
def _inplace_result_rule(g, ans, new, old):
    return g


def list_pad(grad, before, after):
    """``grad`` with ``before`` zero adjoints in front and ``after`` behind."""
    items = [ZERO] * len(grad) if _is_zero(grad) else list(grad)
    return [ZERO] * before + items + [ZERO] * after


def concat_operand(z, items):
    """The right operand of ``z += items`` (items a tuple written there, or a name) as ``z + ...``
    reads it: a list of the items where ``z`` is a list and ``items`` a tuple (a list extends by a
    tuple in place, where ``xs + (a, b)`` raises TypeError), ``items`` itself otherwise (a tuple's
    concatenation, an array's sum: ``xs += v`` of an ndarray v is numpy's ``xs + v``, its __radd__
    coming before the list's in-place concatenation)."""
    return list(items) if type(z) is list and type(items) is tuple else items


def concat_operand_adjoint(grad, items, ans):
    """The adjoint of ``items`` in ``concat_operand``: the list's as a tuple where it was one."""
    if ans is items or _is_zero(grad):
        return grad
    return tuple(grad)


@defrule(concat_operand, wrt=("items",), linear="items")
def _concat_operand_rule(g, ans, z, items):
    return concat_operand_adjoint(g, items, ans)


def _both_sequences(a, b) -> bool:
    return isinstance(a, (list, tuple)) and isinstance(b, (list, tuple))


def concat_head(grad, a, b):
    """The adjoint of ``a`` in ``a + b``: its part of a list adjoint when the operands are
    lists or tuples (concatenation), the sum adjoint otherwise."""
    if _both_sequences(a, b):
        return list_head(grad, a)
    return unbroadcast(grad, a)


def concat_tail(grad, a, b):
    """The adjoint of ``b`` in ``a + b`` (see concat_head)."""
    if _both_sequences(a, b):
        return list_tail(grad, a)
    return unbroadcast(grad, b)


def concat_head_transpose(cot, grad, a, b):
    """The adjoint of concat_head with respect to ``grad``."""
    if _both_sequences(a, b):
        return list_pad(cot, 0, len(b))
    return broadcast_like(cot, grad)


def concat_tail_transpose(cot, grad, a, b):
    """The adjoint of concat_tail with respect to ``grad``."""
    if _both_sequences(a, b):
        return list_pad(cot, len(a), 0)
    return broadcast_like(cot, grad)


def _repeats(seq, n) -> bool:
    """Is ``seq * n`` a repetition (a list or tuple times a count), not numpy's product (a list
    times an array is one: ``[a, b] * np.array([2, 3])`` is ``[2a, 3b]``)?"""
    return isinstance(seq, (list, tuple)) and not isinstance(n, np.ndarray)


def _count_of(seq, n) -> bool:
    """Is ``seq`` the count of a repetition ``n * seq`` (``n`` a list or tuple)?  Its adjoint is
    none: an int (was numpy's product of the list adjoint and the list, a TypeError in the sweep)."""
    return isinstance(n, (list, tuple)) and not isinstance(seq, np.ndarray)


def repeat_tangent(dot_a, dot_b, a, b):
    """The tangent of ``a * b`` where the compiler could not tell a list or tuple repeated (its
    tangent, a list or tuple of tangents, repeated: the count has none) from a product."""
    if _repeats(a, b):
        return dot_a * b
    if _repeats(b, a):
        return a * dot_b
    return dot_a * b + a * dot_b


def repeat_adjoint(grad, seq, n):
    """The adjoint of ``seq`` in ``seq * n`` (``n * seq``): for a list or tuple times a count, each
    item's adjoint summed over its ``n`` copies; else (an array or number, or a list times an array:
    numpy's product) ``grad * conj(n)`` summed to its shape.  (A list times an array was taken for a
    repetition: the adjoint without the factor, a silently wrong gradient.)"""
    if _count_of(seq, n):
        return ZERO
    if _repeats(seq, n):
        k = len(seq)
        if _is_zero(grad):
            return grad
        out = [ZERO] * k
        for i, part in enumerate(grad):
            out[i % k] = add_grad(out[i % k], part)
        return out
    # (an array times a complex factor: the conjugate, as the product's rule; was ``grad * n``, the
    # imaginary part of the gradient negated where the compiler could not tell the array from a list)
    return unbroadcast(grad * (np.conj(n) if np.iscomplexobj(n) else n), seq)


def repeat_adjoint_transpose(cot, grad, seq, n):
    """The adjoint of repeat_adjoint with respect to ``grad``."""
    if _count_of(seq, n):
        return ZERO
    if _repeats(seq, n):
        if _is_zero(cot):
            return cot
        return list(cot) * max(int(n), 0)
    return broadcast_like(cot * n, grad)


def repeat_count_adjoint(g, grad, seq, n):
    """The adjoint of ``n`` in ``repeat_adjoint(grad, seq, n)``: none for a list or tuple (``n`` a
    count, an int); for an array, that of the factor ``n`` in ``unbroadcast(grad * conj(n), seq)``
    (a product ``seq * n``), which a gradient of this gradient needs (was: taken for a constant, a
    silently wrong second derivative of ``v * v`` with ``v`` read from a dict holding a tuple at
    another call)."""
    if _repeats(seq, n) or _count_of(seq, n) or _is_zero(g) or _is_zero(grad):
        return ZERO
    gb = broadcast_like(g, grad * n)
    return unbroadcast(np.conj(gb) * grad if np.iscomplexobj(n) else gb * np.conj(grad), n)


@defrule(repeat_adjoint, wrt=("grad", "n"))
def _repeat_adjoint_rule(g, ans, grad, seq, n):
    return repeat_adjoint_transpose(g, grad, seq, n), repeat_count_adjoint(g, grad, seq, n)


@defrule(concat_head, wrt=("grad",))
def _concat_head_rule(g, ans, grad, a, b):
    return concat_head_transpose(g, grad, a, b)


@defrule(concat_tail, wrt=("grad",))
def _concat_tail_rule(g, ans, grad, a, b):
    return concat_tail_transpose(g, grad, a, b)


@defrule(concat_head_transpose, wrt=("cot",))
def _concat_head_transpose_rule(g, ans, cot, grad, a, b):
    return concat_head(g, a, b)


@defrule(concat_tail_transpose, wrt=("cot",))
def _concat_tail_transpose_rule(g, ans, cot, grad, a, b):
    return concat_tail(g, a, b)


@defrule(list_pad, wrt=("grad",))
def _list_pad_rule(g, ans, grad, before, after):
    return getitem_or_zero(g, slice(before, len(ans) - after))


@defrule(list_head, wrt=("grad",), linear="grad")
def _list_head_rule(g, ans, grad, head):
    return rows_like(list_pad(g, 0, len(grad) - len(head)), grad)


@defrule(list_tail, wrt=("grad",), linear="grad")
def _list_tail_rule(g, ans, grad, head):
    return rows_like(list_pad(g, len(head), 0), grad)


def rows_like(items, grad):
    """``items`` (one adjoint per row, ZERO for none) in the form of ``grad``: a list for a list, an
    array of its shape for an array (the adjoint of np.mean([L(h) for L in layers], axis=0) is one
    array that list_head splits into rows; its own adjoint, a list with ZERO items, was summed by
    reduction_sum as an array: "inhomogeneous shape" in a second derivative)."""
    if isinstance(grad, (list, tuple)) or np.ndim(grad) == 0:
        return items
    rows = [np.zeros(np.shape(grad)[1:], dtype=np.result_type(grad, 0.0)) if _is_zero(item) else
            np.broadcast_to(item, np.shape(grad)[1:]) for item in items]
    return np.stack(rows)


nondifferentiable(jvp_call, jvp_method, op_jvp, tangent_attribute, require_number, updated_in_place, require_array, require_view_item, item_is_view, array_item_is_view, item_is_held,
                  attribute_is_held, attribute_changed_in_place,
                  item_changed_in_place, entry_is_view, walks_itself, require_unpacked, require_unpacked_exactly, array_receiver,
                  array_operand)


def at_least_1d(a):
    """``np.atleast_1d`` of one value (a piece of ``np.r_[...]``): an array, never a list."""
    return np.atleast_1d(a)


@defrule(at_least_1d)
def _at_least_1d_rule(g, ans, a):
    return np.reshape(g, np.shape(a))


def r_dtype(*items):
    """The dtype ``np.r_[items]`` gives its result: numpy's result type of the items, a Python number
    as a weak scalar (``np.r_[x32, 0.5]`` is float32), any other item as the array it makes."""
    return np.result_type(*[v if type(v) in (bool, int, float, complex) else np.asarray(v) for v in items])


nondifferentiable(r_dtype)




@defrule(vararg_adjoints, wrt=("grad",))
def _vararg_adjoints_rule(g, ans, grad, items):
    # linear in grad and its own transpose: the item cotangents, zeros where none arrived
    return vararg_adjoints(g, items)


def index_slice(start, stop, step):
    """``slice(start, stop, step)`` as the index of an adjoint (``x[a:b]``'s): integers, so it
    carries no derivative, whatever the activity analysis of generated code says of them."""
    return slice(start, stop, step)


nondifferentiable(index_slice)


def slice_bound(value):
    """A slice's bound that is an object of the user's class with ``__index__`` (``x[:flag]``): its integer,
    read once in the forward code as Python's slice reads it (the adjoint indexes with the integer)."""
    import operator
    return operator.index(value)


nondifferentiable(slice_bound)


def item_index(container, value):
    """``x[c]`` where c is an object of the user's class with ``__index__``: its integer, read once as Python's
    index of an array, a list or a tuple reads it (the adjoint indexes with the integer; was: the adjoint ran
    __index__ again, red57a W5); c itself as another container's key (a dict's)."""
    import operator
    from .dlarray import dlarray
    return operator.index(value) if isinstance(container, (np.ndarray, dlarray, list, tuple)) else value


nondifferentiable(item_index)
nondifferentiable(insert_position)


def match_sequence(subject) -> bool:
    """Does a sequence pattern of ``match`` (``case [a, b]:``) apply to ``subject``: a
    collections.abc.Sequence other than str, bytes and bytearray, as Python's match asks."""
    import collections.abc
    return isinstance(subject, collections.abc.Sequence) and not isinstance(subject, (str, bytes, bytearray))


nondifferentiable(match_sequence)


#: Arrays at least this large are kept by their shape alone (below it a proxy saves nothing).
SHAPE_PROXY_SIZE = 2048


def shape_proxy(x):
    """What a helper's forward keeps of ``x`` for an adjoint that reads only its shape and dtype
    (``unbroadcast``'s ``like``, ``zero_adjoint``'s argument, ...; sct/optimize.py decides):
    for a large array, a read-only zero-stride array of the same shape and dtype, so the array
    itself is freed when the forward is done with it; the same for a view of a large array (a row
    ``acc[t]`` would keep all of ``acc``).  Anything else: ``x`` itself."""
    if type(x) is np.ndarray and (x.size >= SHAPE_PROXY_SIZE or
                                  type(x.base) is np.ndarray and x.base.size >= SHAPE_PROXY_SIZE):
        return _proxy_of(x.shape, x.dtype)
    return x


def _proxy_of(shape, dtype):
    """The read-only zero-stride array of zeros of ``shape`` and ``dtype`` (one per shape and dtype
    of a number kind: nothing can change it)."""
    key = (shape, dtype)
    proxy = _PROXIES.get(key)
    if proxy is None:
        if dtype.kind not in "biufc":
            return np.broadcast_to(np.zeros((), dtype), shape)
        proxy = _zero_stride(shape, dtype)
        if len(_PROXIES) > 256:
            _PROXIES.clear()
        _PROXIES[key] = proxy
    return proxy


#: One proxy per shape and dtype (read-only, zero strides, no data: nothing can change it), so a
#: proxy costs a dictionary look-up (np.broadcast_to costs 5-15 us, 20-30 times per call of
#: second-level code).
_PROXIES: dict = {}


def _zero_stride(shape, dtype):
    """A read-only array of zeros of ``shape`` and ``dtype`` with zero strides (one item of memory)."""
    zero = _TYPE_ZEROS.get(dtype)
    if zero is None:
        zero = np.zeros((), dtype)
        zero.flags.writeable = False
        _TYPE_ZEROS[dtype] = zero
    return np.ndarray(shape, dtype, buffer=zero, strides=(0,) * len(shape))


nondifferentiable(shape_proxy)


class _Length:
    """What ``length_proxy`` keeps of a list: its length, nothing else (no item, no index)."""
    __slots__ = ("_n",)

    def __init__(self, n: int):
        self._n = n

    def __len__(self) -> int:
        return self._n

    def __repr__(self) -> str:
        return f"<the length of a list: {self._n}>"


def round_number(x, *ndigits):
    """``round(x)`` / ``round(x, n)`` (Python's builtin): of a 0-d array, its item's, as ``round`` of a 0-d
    dlarray gives (numpy's 0-d arrays have no ``__round__``: was a TypeError where the function, run on
    dlarrays, rounds; red team 51).  Anything else: Python's ``round`` of it."""
    if type(x) is np.ndarray and x.ndim == 0:
        x = x[()]
    return round(x, *ndigits)


nondifferentiable(round_number)


def length_proxy(x):
    """What a forward keeps on its tape of a list or tuple ``x`` whose adjoint reads only its length
    (``list_head(g, x)``/``list_tail(g, x)`` of ``x + [v]``; sct/optimize.py decides): an object
    of that ``len``, so the list itself is not kept (``hs.append(h)`` in a loop kept every earlier
    version of ``hs``: quadratic memory, and the collector walked them all).  Anything else: ``x``."""
    if type(x) is list or type(x) is tuple:
        return _Length(len(x))
    return x


nondifferentiable(length_proxy)


_TYPE_OPS = {"add": operator.add, "sub": operator.sub, "mul": operator.mul, "div": operator.truediv,
             "pow": operator.pow, "neg": operator.neg, "pos": operator.pos, "sum": np.sum, "mean": np.mean}
_TYPE_NUMBERS = (int, float, complex, bool)
_TYPE_DTYPES: dict = {}     # (op, operand keys) -> the result's dtype
_TYPE_ZEROS: dict = {}      # dtype -> a read-only 0-d zero (the buffer of the stand-ins)


def _type_key(x):
    if type(x) is np.ndarray:
        return x.dtype
    if type(x) in _TYPE_NUMBERS or isinstance(x, np.generic):
        return (type(x), x)         # a Python number's value decides too (uint8 + 300 raises)
    return None


def _type_dtype(op, operands):
    """The dtype of ``op`` on arrays of the operands' dtypes (0-d stand-ins: numpy's result type
    depends on the operands' dtypes, and on a Python number's value, not on shapes)."""
    key = (op,) + tuple(_type_key(x) for x in operands)
    dtype = _TYPE_DTYPES.get(key)
    if dtype is None:
        stand = [np.ones((), x.dtype) if type(x) is np.ndarray else x for x in operands]
        with np.errstate(all="ignore"):
            dtype = np.result_type(_TYPE_OPS[op](*stand))
        if len(_TYPE_DTYPES) < 4096:
            _TYPE_DTYPES[key] = dtype
    return dtype


def type_only(op, a, b=None):
    """A stand-in for ``a <op> b`` (``op(a)`` for "neg", "pos", "sum", "mean") whose value nothing
    reads, only its type, dtype and shape (it ends in ``shape_proxy``s; sct/optimize.py's
    ``type_only_values`` decides).  Where an operand is an array of at least ``SHAPE_PROXY_SIZE``
    items, a read-only zero-stride array of the result's shape and dtype, as ``shape_proxy`` keeps
    of the result (numpy's result dtype depends on the operands' dtypes alone; a shape mismatch
    raises as the op would); a whole-array sum or mean: a zero of its dtype.  Anything else (small
    arrays, numbers, other types): the op itself, computed."""
    if op in _UNARY_TYPE_OPS:
        if type(a) is not np.ndarray or a.size < SHAPE_PROXY_SIZE:
            return _TYPE_OPS[op](a)         # (the common small case first: no tuple, no generator)
        if _type_key(a) is None:
            return _TYPE_OPS[op](a)
        if op in ("sum", "mean"):
            key = (op, a.dtype)
            total = _TYPE_TOTALS.get(key)
            if total is None:
                total = _TYPE_TOTALS[key] = _TYPE_OPS[op](np.zeros((1,), a.dtype))
            return total                    # (a numpy scalar: immutable, so one per op and dtype)
        return _proxy_of(a.shape, _type_dtype(op, (a,)))
    if (type(a) is not np.ndarray or a.size < SHAPE_PROXY_SIZE) and \
            (type(b) is not np.ndarray or b.size < SHAPE_PROXY_SIZE):
        return _TYPE_OPS[op](a, b)
    if _type_key(a) is None or _type_key(b) is None:
        return _TYPE_OPS[op](a, b)
    dtype = _type_dtype(op, (a, b))
    if type(a) is np.ndarray and (type(b) is not np.ndarray or b.shape == a.shape):
        shape = a.shape
    elif type(a) is not np.ndarray:
        shape = b.shape                 # (b is the array)
    else:
        shape = np.broadcast_shapes(a.shape, b.shape)
    return _proxy_of(shape, dtype)


_UNARY_TYPE_OPS = frozenset(("neg", "pos", "sum", "mean"))
_TYPE_TOTALS: dict = {}     # (op, dtype) -> the sum or mean of one zero of that dtype


nondifferentiable(type_only)


#: Temporaries at least this large are overwritten in place by ``into_temporary`` (below it the
#: checks cost more than the allocation saves).  Never below SHAPE_PROXY_SIZE: a smaller array's
#: ``shape_proxy`` is the array itself, which sct/optimize.py counts as a read of its shape only.
INTO_SIZE = max(2048, SHAPE_PROXY_SIZE)
_INTO_UFUNCS = {"add": (np.add, operator.add), "sub": (np.subtract, operator.sub),
                "mul": (np.multiply, operator.mul), "div": (np.true_divide, operator.truediv)}


def into_temporary(op, a, b, side):
    """``a <op> b`` (op: "add", "sub", "mul", "div"), written into the buffer of ``a`` (side 0) or
    ``b`` (side 1) where that operand is a temporary of generated code that nothing reads again
    (sct/optimize.py proves that; the reference count, checked here too, says no other name, view
    or container holds it) and the result has its shape and dtype; else ``a <op> b``.
    The same ufunc on the same operands: the same numbers."""
    ufunc, plain = _INTO_UFUNCS[op]
    t = b if side else a
    if type(t) is not np.ndarray or t.size < INTO_SIZE:
        return plain(a, b)              # small or not an array: the checks would cost more than they save
    other = a if side else b
    if t.flags.owndata and t.flags.writeable and _getrefcount(t) <= _INTO_REFS and \
            (type(other) is np.ndarray or type(other) in (float, int)) and \
            np.result_type(a, b) == t.dtype and (op != "div" or t.dtype.kind in "fc") and \
            (type(other) is not np.ndarray or other.shape == t.shape or
             np.broadcast_shapes(other.shape, t.shape) == t.shape):
        if op == "mul" and t.dtype.kind == "f" and type(other) is np.ndarray and other.dtype == t.dtype and \
                other.size and not any(other.strides) and other.flat[0] == 1:
            return t      # times a broadcast real one (a sum's adjoint): x * 1.0 is x, no pass
        return ufunc(a, b, out=t)
    return plain(a, b)


#: ``broadcast_mul``: products of at least this many items take the wide form (below it numpy's
#: short inner loops cost less than the repeat, the tile and the checks).
WIDE_PRODUCT_SIZE = 16384


def broadcast_mul(a, b):
    """``a * b``.  Where one operand is an array whose last axis has length 1 (a slice of a
    one-channel image, ``x[..., None]``) and the other a short vector along that axis (a kernel's
    channel weights, at most 64 of them, every other axis of length 1), both of one real or complex
    dtype, numpy's product runs one inner loop per item of the first operand, as long as the
    vector: most of its time.  Here the first operand's items are repeated along the vector's axis
    (``np.repeat``: copies) and the vector tiled along the axis before it, so that one multiply runs
    rows as long as those two axes together: every item is the product of the same two numbers, in
    the same order and dtype (the same roundings, NaNs and warnings), written into a new
    C-contiguous array of the product's shape.  A full array times such a vector repeated along
    the axis before (``wide_multiply``): that form.  Anything else: ``a * b``.  sct/optimize.py
    (``wide_products``) emits this for products of array views (slices, ``[..., None]``)."""
    if type(a) is not np.ndarray or type(b) is not np.ndarray or a.ndim < 2 and b.ndim < 2 or \
            a.size < 256 and b.size < 256:
        return a * b                    # (both forms need an operand of two or more axes, 256 items or more)
    if a.ndim >= 2 and a.shape[-1] == 1 and b.ndim and b.shape[-1] != 1:
        wide, small = a, b
    elif b.ndim >= 2 and b.shape[-1] == 1 and a.ndim and a.shape[-1] != 1:
        wide, small = b, a
    else:
        out = wide_multiply(a, b)       # a full array times a vector repeated along rows
        return a * b if out is None else out
    n = small.shape[-1]
    if small.size != n or n > 64 or small.ndim > wide.ndim or a.dtype != b.dtype or \
            a.dtype.kind not in "fc" or wide.size * n < WIDE_PRODUCT_SIZE or wide.shape[-2] * n < 128:
        return a * b
    span = wide.shape[-2] * n               # the length of one row of the wide form
    rows = wide.size // wide.shape[-2]
    repeated = np.repeat(wide.reshape(-1), n).reshape(rows, span)
    tiled = np.tile(small.reshape(-1), wide.shape[-2])
    out = np.empty(wide.shape[:-1] + (n,), a.dtype)
    if small is b:
        np.multiply(repeated, tiled, out=out.reshape(rows, span))
    else:
        np.multiply(tiled, repeated, out=out.reshape(rows, span))
    return out


def _repeated_rows(small, full):
    """For ``wide_multiply``: the distinct items of ``small`` (a view, its repeated axes cut to
    length one) where ``full`` is a large C-contiguous array of the product's shape with a short last
    axis and ``small`` a vector along that axis repeated along the axis before it; else None."""
    shape = full.shape
    if full.ndim < 2 or small.ndim < 1 or small.ndim > full.ndim or not full.flags.c_contiguous or \
            full.size < WIDE_PRODUCT_SIZE:
        return None
    n, span = shape[-1], shape[-2]
    if not 2 <= n <= 64 or span * n < 128:
        return None
    if small.ndim < full.ndim:
        small = small.reshape((1,) * (full.ndim - small.ndim) + small.shape)
    if small.shape[-1] != n or small.strides[-1] == 0 or not (small.shape[-2] == 1 or small.strides[-2] == 0) or \
            any(m != k and m != 1 for m, k in zip(small.shape, shape)):
        return None
    return small[tuple(slice(0, 1) if (m == 1 or st == 0) else slice(None)
                       for m, st in zip(small.shape, small.strides))]


def wide_multiply(a, b, dtype=None):
    """``np.multiply(a, b, dtype=dtype)`` with long inner loops, or None where this form does not
    apply.  It applies where one operand is a C-contiguous array of the product's shape (a mask, an
    activation) and the other a vector of at most 64 items along the last axis repeated along the
    axis before it (a broadcast view such as a mean's adjoint, ``dP[:, None, None, :]``): numpy's
    product would run one inner loop as short as the vector per row of the last two axes.  The
    repeating operand's distinct items are tiled along that axis (a small copy) and the product runs
    over rows as long as the last two axes together, into a new C-contiguous array: every item is
    the product of the same two numbers in the same order and dtype."""
    if type(a) is not np.ndarray or type(b) is not np.ndarray:
        return None
    for full, small in ((a, b), (b, a)):
        base = _repeated_rows(small, full)
        if base is not None:
            break
    else:
        return None
    shape = full.shape
    n, span = shape[-1], shape[-2]
    tiled = np.tile(base, (1,) * (base.ndim - 2) + (span, 1)).reshape(base.shape[:-2] + (span * n,))
    rows = full.reshape(shape[:-2] + (span * n,))
    if dtype is None:
        dtype = np.result_type(a, b)
    out = np.empty(shape, dtype)
    if small is a:
        np.multiply(tiled, rows, out=out.reshape(rows.shape), dtype=dtype)
    else:
        np.multiply(rows, tiled, out=out.reshape(rows.shape), dtype=dtype)
    return out


def negative_into(a):
    """``-a`` written into ``a``'s buffer where it is a temporary nothing reads again
    (``into_temporary``)."""
    if type(a) is np.ndarray and a.size >= INTO_SIZE and a.flags.owndata and a.flags.writeable and \
            a.dtype.kind in "fc" and _getrefcount(a) <= _INTO_REFS - 1:
        return np.negative(a, out=a)
    return -a


def _refs_of_a_temporary() -> int:
    """The reference count ``into_temporary`` sees for a temporary held by one name of its caller
    (that name, its parameter, its local, getrefcount's argument): measured, not assumed (with no
    trace function watching: ``_untraced``)."""
    return _untraced(_measure_refs_of_a_temporary)


def _measure_refs_of_a_temporary() -> int:
    seen = []

    def probe(op, a, b, side):
        t = b if side else a
        seen.append(_getrefcount(t))

    def caller():
        t = np.zeros(4)
        probe("add", t, 1.0, 0)
    caller()
    return seen[0]


_getrefcount = sys.getrefcount
_INTO_REFS = _refs_of_a_temporary()


def index_adjoint_op(op, a, b, x, idx):
    """``index_adjoint(a <op> b, x, idx)`` with the result of the op written straight into the
    new buffer of x's shape (the slice ``x[a:b]`` of the first axis; the rest set to zero): one
    pass fewer than computing ``a <op> b`` and copying it.  Other indices, dtypes and shapes: the
    op and ``index_adjoint``, the same numbers."""
    ufunc, plain = _INTO_UFUNCS[op]
    if type(idx) is slice and type(x) is np.ndarray and x.ndim and x.dtype.kind in "fc" and \
            (type(a) is np.ndarray or type(a) in (float, int)) and \
            (type(b) is np.ndarray or type(b) in (float, int)) and \
            (x.dtype == a.dtype == b.dtype if type(a) is np.ndarray and type(b) is np.ndarray
             else np.result_type(a, b) == x.dtype):
        start, stop, step = idx.indices(x.shape[0])
        shape = (max(stop - start, 0),) + x.shape[1:]
        sa, sb = np.shape(a), np.shape(b)       # (the broadcast shape of two equal or a scalar's: no call)
        if step == 1 and stop > start and \
                (sa if sa == sb or not sb else sb if not sa else np.broadcast_shapes(sa, sb)) == shape:
            out = np.empty(x.shape, x.dtype)
            ufunc(a, b, out=out[start:stop])
            out[:start] = 0
            out[stop:] = 0
            return out
    return index_adjoint(plain(a, b), x, idx)


# --- a sum's adjoint (a broadcast view) scaled on its distinct items ---------------------------------
# sct/optimize.py (fold_broadcast_factors) emits these where an operand may be a broadcast view
# (rt.reduction_broadcast); each gives the same numbers as the plain expression it stands for.

def _broadcast_base(a):
    """The distinct items of a broadcast view ``a`` (an ndarray with a zero stride along an axis
    longer than one): ``a`` with those axes cut to length one (a view, same ndim and dtype); None
    for any other value."""
    if type(a) is not np.ndarray or a.size < INTO_SIZE:
        return None                     # (small: the checks would cost more than they save)
    cut = None
    for k, (s, n) in enumerate(zip(a.strides, a.shape)):
        if s == 0 and n > 1:
            if cut is None:
                cut = [slice(None)] * a.ndim
            cut[k] = slice(0, 1)
    return None if cut is None else a[tuple(cut)]


def broadcast_op(op, a, b):
    """``a <op> b`` (op: "add", "sub", "mul", "div") where one operand is a Python int or float and
    the other may be a broadcast view (a sum's adjoint): the op on the view's distinct items,
    broadcast again (a read-only view): every item is the op of the same two numbers, in the same
    dtype (the items keep the view's ndim and dtype), without a pass over the full shape."""
    ufunc, plain = _INTO_UFUNCS[op]
    if type(b) in (int, float):
        base = _broadcast_base(a)
        if base is not None and base.dtype.kind in "fc":
            return np.broadcast_to(ufunc(base, b), a.shape)
    elif type(a) in (int, float):
        base = _broadcast_base(b)
        if base is not None and base.dtype.kind in "fc":
            return np.broadcast_to(ufunc(a, base), b.shape)
    return plain(a, b)


def broadcast_negative(a):
    """``-a``; a broadcast view negated on its distinct items (``broadcast_op``)."""
    base = _broadcast_base(a)
    if base is not None and base.dtype.kind in "fc":
        return np.broadcast_to(np.negative(base), a.shape)
    return -a


def _power_of_two(k) -> bool:
    if type(k) is int:
        k = abs(k)
        return k >= 1 and k & (k - 1) == 0
    return math.isfinite(k) and abs(k) >= 1 and math.frexp(abs(k))[0] == 0.5


def broadcast_product(g, k, t):
    """``g * (k * t)`` (``k`` a Python int or float: a rule's constant, ``2 * x`` of ``x ** 2``)
    in one pass where ``g`` is a broadcast view of real items ``c`` and ``t`` a real array of its
    shape and dtype, as ``(c * k) * t`` where that is exact: every ``c`` is 1 (then ``c * k`` is
    ``k`` as numpy casts it), or ``k`` is a power of two of magnitude >= 1 and every ``|c| * |k|``
    lies in [|k|, max] (``k * t`` and ``c * k`` are then exact, or ``k * t`` overflows and so does
    the product: one rounding of the same real number, the same infinities and warnings).
    Else the plain expression."""
    if type(t) is np.ndarray and type(k) in (int, float) and t.dtype.kind == "f":
        base = _broadcast_base(g)
        if base is not None and base.dtype == t.dtype and g.shape == t.shape:
            if (base == 1).all():
                return np.multiply(base, k) * t
            if _power_of_two(k):
                magnitude = np.abs(base)
                if (magnitude >= 1).all() and (magnitude <= np.finfo(t.dtype).max / abs(k)).all():
                    return np.multiply(base, k) * t
    return g * (k * t)


def unit_product(g, a, like, b):
    """``unbroadcast_product(g, a, like) * b``: where ``g`` is a broadcast view of ones (the adjoint
    of a sum seeded by one) and ``a``, ``b``, ``like`` real arrays of its shape and dtype, ``a * b``
    (``1 * a`` is ``a``): one pass fewer.  Else the plain expression."""
    if type(a) is np.ndarray and type(b) is np.ndarray and a.dtype.kind == "f":
        base = _broadcast_base(g)
        if base is not None and base.dtype == a.dtype and b.dtype == a.dtype and \
                g.shape == a.shape == b.shape == getattr(like, "shape", None) and (base == 1).all():
            return a * b
    return unbroadcast_product(g, a, like) * b


def unit_product_known(g, a, like, b, ab):
    """``unit_product(g, a, like, b)`` where the forward computed ``ab = a * b`` from these same
    arrays (sct/optimize.py's ``known_products`` proves that: single assignments, nothing that
    could write into them): where ``unit_product`` would compute ``a * b`` (``g`` a broadcast view
    of ones, ``a``, ``b`` real arrays of its shape and dtype), ``ab`` itself, the same numbers,
    without the pass.  Else ``unit_product``."""
    if type(a) is np.ndarray and type(b) is np.ndarray and type(ab) is np.ndarray and a.dtype.kind == "f" and \
            ab.dtype == a.dtype and ab.shape == a.shape:
        base = _broadcast_base(g)
        if base is not None and base.dtype == a.dtype and b.dtype == a.dtype and \
                g.shape == a.shape == b.shape == getattr(like, "shape", None) and (base == 1).all():
            return ab
    return unit_product(g, a, like, b)



def unit_scaled(g, a, like, k):
    """``unbroadcast_product(g, a, like) * k`` (``k`` a Python int or float): where ``a`` is a broadcast
    view of one real value ``c`` that is 1 or -1 (a sum's adjoint, negated or not), ``g`` a real array
    of its shape and dtype, ``like`` of that shape and ``k`` exact in that dtype, ``g * (c * k)`` in one
    pass: ``g * c`` is ``g`` or ``-g`` exactly, so ``(g * c) * k`` is ``g * k`` or ``-(g * k)``, as is
    ``g * (c * k)`` (the same roundings, infinities and warnings).  Else the plain expression."""
    if type(g) is np.ndarray and type(a) is np.ndarray and type(like) is np.ndarray and type(k) in (int, float) and \
            g.dtype.kind == "f" and a.dtype == g.dtype and g.shape == a.shape == like.shape:
        base = _broadcast_base(a)
        if base is not None and base.size == 1:
            c = base.reshape(-1)[0]
            kk = g.dtype.type(k)
            if (c == 1 or c == -1) and math.isfinite(k) and kk == k:
                return g * (c * kk)
        product = g * a         # (unbroadcast_product's own first case) a new array: scaled in place
        if g.size >= INTO_SIZE and product.dtype == g.dtype and np.result_type(product, k) == product.dtype:
            return np.multiply(product, k, out=product)
        return product * k      # (small: the same numbers without the checks)
    return unbroadcast_product(g, a, like) * k


def negated_unbroadcast(q, like):
    """``-unbroadcast(-q, like)``: ``q`` itself where nothing is summed (its shape is like's, so
    the two negations cancel bit for bit), else the plain expression (a sum of negated items is
    not always the negated sum: -0 + 0)."""
    if type(q) is np.ndarray and q.shape == getattr(like, "shape", None):
        return q
    return -unbroadcast(-q, like)


def index_trick(obj, index, name=None):
    """``obj[index]`` for numpy's index-trick objects (np.mgrid, np.ogrid, np.s_, np.r_ with
    directives, ...): a constant; the compiler refuses it when ``index`` is traced."""
    return obj[index]


nondifferentiable(index_trick)

def method_read_here(obj, name, filename, line, fname, message):
    """The check before a method read in place (sct/inline_helpers.py): ``obj.name`` still runs the
    function whose statements were read (an object of another class put in a field, or an
    instance attribute hiding the method, since the function began: refused with the reason)."""
    method = method_of(obj, name) if name == "__call__" else getattr(obj, name, None)
    code = getattr(getattr(method, "__func__", None), "__code__", None)
    if getattr(method, "__self__", None) is not obj or code is None or \
            (code.co_filename, code.co_firstlineno, code.co_name) != (filename, line, fname):
        raise SctRuntimeError(message)
    return None


nondifferentiable(method_read_here)

nondifferentiable(last_writes, written_index, sort_order, seed, stop_gradient, data_receiver, zero_adjoint, _is_zero, _is_array, as_dlarray_data, vjp, vjp_method, vjp_init, new_object,
                  vjp_at, vjp_method_at, vjp_init_at, guard_holds)


@defrule(dlarray_of, wrt=("data",), linear=("data",))
def _dlarray_of_rule(g, ans, data, fmt=None):
    return np.reshape(g, np.shape(data))


def flat_values(a):
    """``a.flat`` read for its values (sct/normalize.py ``FlatReads``: indexed, walked, given to ``sum``...):
    ``a.flatten()`` of an array or a number (the same items in the same order, new values, as flat's items
    and slices are), ``a.flat`` itself of anything else (an object of the user's with an attribute
    ``flat``)."""
    if isinstance(a, (np.ndarray, np.generic, float, int, complex)):
        return np.asarray(a).flatten()
    return a.flat


@defrule(flat_values, wrt=("a",), linear=("a",))
def _flat_values_rule(g, ans, a):
    return np.reshape(g, np.shape(a))


INDEX = np.s_      # ``INDEX[::4]`` is slice(None, None, 4): an index written in ``x.flat[...]`` as a value


def flat_index(a, index):
    """The index of ``a`` naming the elements ``a.flat[index]`` names (sct/normalize.py ``FlatReads``:
    ``a.flat[i] += v`` is written ``a[flat_index(a, i)] += v``): a tuple of integer arrays (or of
    integers, for one element), in flat's order (C order of a's indices, whatever its memory layout)."""
    shape = getattr(a, "shape", None)
    if not isinstance(shape, tuple) or isinstance(a, np.generic):
        raise SctError(f"sct writes `x.flat[...] = v` as an indexed write into x, and x is a "
                       f"{type(a).__name__}, not an array: write into it without .flat")
    return np.unravel_index(np.arange(int(np.prod(shape)))[index], shape)


def flat_assigned(v, a, index):
    """The values of ``a.flat[index] = v`` in the form the indexed write takes: one value as it is, as many
    values as elements flattened; numpy's flat assignment repeats or cuts other counts (refused)."""
    count = np.arange(int(np.prod(np.shape(a))))[index].size
    size = np.size(v)
    if size == 1 or (size == count and np.ndim(v) <= 1):
        return v
    if size == count:
        return np.ravel(v)
    raise SctError(f"`x.flat[...] = v` writes {count} element{'s' if count != 1 else ''} and v has {size}: numpy "
                   "repeats or cuts the values, which sct does not follow; give one value or one per element")


@defrule(flat_assigned, wrt=("v",), linear=("v",), nondiff=("a", "index"))
def _flat_assigned_rule(g, ans, v, a, index):
    return np.reshape(g, np.shape(v))


nondifferentiable(flat_index)


@defrule(bind_closure, wrt=("env",), many_outputs=True)
def _bind_closure_rule(g, ans, fn, env, frame, names, line, ndefaults=0, shown=None):
    return g


nondifferentiable(closure_frame, closure_rebound, closure_scope, closure_check, closure_late)


# --- try statements (sct/normalize_try.py) ---------------------------------------------------------

_TRY_PROBES: dict = {}        # the probe's source -> the function compiled from it
_PLAIN_SCALARS = (int, float, complex, bool, str, bytes, type(None), range, slice, type(Ellipsis))


def _probe_value_ok(v, depth: int = 0) -> bool:
    """Is ``v`` a value whose reads change nothing (so running a try's body first, to learn whether
    it raises, is the same as not): numbers, strings, numpy arrays and scalars, modules, numpy's and
    the builtins' functions and classes, and tuples, lists, dicts and sets of them (exactly those
    types: a defaultdict's read inserts)."""
    t = type(v)
    if t in _PLAIN_SCALARS or isinstance(v, (np.generic, np.dtype, types.ModuleType)) or t is np.ndarray or \
            t is _dlarray:
        return True
    if t in (tuple, list, set, frozenset) or isinstance(v, tuple) and hasattr(t, "_fields") and \
            t.__getitem__ is tuple.__getitem__ and t.__getattribute__ is tuple.__getattribute__:
        return depth > 8 or all(_probe_value_ok(e, depth + 1) for e in v)
    if t is dict:
        return depth > 8 or all(_probe_value_ok(k, depth + 1) and _probe_value_ok(e, depth + 1) for k, e in v.items())
    if isinstance(v, (np.ufunc, types.BuiltinFunctionType)):
        return True
    if isinstance(v, type):
        return module_top(v) in ("builtins", "numpy", "math", "scipy") or \
            issubclass(v, BaseException)
    if isinstance(v, types.FunctionType):
        module = getattr(v, "__module__", "") or ""
        return module.split(".")[0] in ("numpy", "scipy") and "random" not in module.split(".")
    return False


def _plain_object(v) -> bool:
    """An object of a user's class whose attributes are read plainly (no property or other data
    descriptor, no __getattr__/__getattribute__ of its own), each a value ``_probe_value_ok`` admits
    (a dataclass of arrays and numbers)."""
    cls = type(v)
    if module_top(cls) in ("builtins", "numpy", "sct") or not isinstance(getattr(v, "__dict__", None), dict):
        return False
    for klass in cls.__mro__[:-1]:
        for key, held in vars(klass).items():
            if key in ("__getattr__", "__getattribute__") or key != "__dict__" and key != "__weakref__" and \
                    (hasattr(type(held), "__set__") or hasattr(type(held), "__delete__")):
                return False
    return all(_probe_value_ok(e) for e in vars(v).values())


def _attribute_read_plainly(obj, name: str):
    """``obj.name`` where reading it changes nothing (an instance's own attribute or a slot: no
    property, no __getattribute__/__getattr__ of the class's own), else the marker _NOT_PLAIN."""
    cls = type(obj)
    if isinstance(obj, (types.ModuleType, np.ndarray, np.generic, _dlarray)) or cls in _PLAIN_SCALARS:
        return _NOT_PLAIN           # (numpy's attributes are pure, but a path on them is not an object's)
    if cls.__getattribute__ is not object.__getattribute__ or hasattr(cls, "__getattr__"):
        return _NOT_PLAIN
    import inspect
    held = inspect.getattr_static(cls, name, _NOT_PLAIN)
    if held is not _NOT_PLAIN and not isinstance(held, types.MemberDescriptorType) and \
            (hasattr(type(held), "__set__") or hasattr(type(held), "__delete__")):
        return _NOT_PLAIN            # a property (or another data descriptor): code runs on a read
    if isinstance(held, types.MemberDescriptorType):
        try:
            return held.__get__(obj, cls)
        except AttributeError:
            return _NOT_PLAIN
    found = getattr(obj, "__dict__", {})
    return found[name] if isinstance(found, dict) and name in found else _NOT_PLAIN


_NOT_PLAIN = object()


def _probe_reads_ok(v, paths) -> bool:
    """Are the attribute ``paths`` the body reads of ``v`` plain reads, ending at plain values?"""
    for path in paths:
        obj = v
        for i, name in enumerate(path):
            if _probe_value_ok(obj) and i:
                break                    # a plain value reached: its attributes are numpy's or Python's
            obj = _attribute_read_plainly(obj, name)
            if obj is _NOT_PLAIN:
                return False
        else:
            if not _probe_value_ok(obj):
                return False
    return True


def try_probe(source: str, *values):
    """Which branch of a ``try`` runs: its body, compiled from ``source`` (``def probe(names...)``
    with the body inside a ``try`` whose handlers return their number), run on ``values``, what the
    body's names hold.  0: nothing was raised (the body runs then, differentiated); k: the k-th
    handler caught what it raised (with the exception, ``(k, exc)``, where a handler names it); an
    exception no handler catches goes on, as in Python.  Warnings the body gives are shown by the
    differentiated body (as errors where the filters say so, caught here as Python would).
    ``reads`` in the source: the attribute paths the body reads of a name it reads only so;
    ``partial``: the statements (numbered from 1, with their lines) that bind names and may raise
    partway, for which the outcome (``(k, step, ...)``) says which statement raised."""
    compiled = _TRY_PROBES.get(source)
    if compiled is None:
        namespace = {"__builtins__": __builtins__}
        exec(compile(source, "<sct try body>", "exec"), namespace)
        probe = namespace["probe"]
        compiled = _TRY_PROBES[source] = (probe, probe.__code__.co_varnames[:probe.__code__.co_argcount],
                                          namespace.get("reads", {}), namespace.get("partial", {}),
                                          namespace.get("functions", {}), namespace.get("given", ()))
    probe, names, reads, partial, functions, given = compiled
    for name, v in zip(names, values):
        if name in functions and type(v) is types.FunctionType and v.__closure__ is None and \
                f"{v.__module__}.{v.__qualname__}" == functions[name]:
            continue                     # the user's function the compiler read: it only computes a value
        if name in given and _plain_object(v):
            continue                     # given only to such functions, which read its attributes
        if not _probe_value_ok(v) and not (name in reads and _probe_reads_ok(v, reads[name])):
            raise SctError(f"sct runs the body of a try first to learn whether it raises, so the body may read "
                           f"only arrays, numbers, strings, plain lists, tuples and dicts of them and the plain "
                           f"attributes of objects (no property); {name} is a {type(v).__module__}."
                           f"{type(v).__qualname__} object, whose reads there might change it. Read what the try "
                           "needs from it before the try statement")
    import warnings
    with warnings.catch_warnings(record=True):
        outcome = probe(*values)
    if partial and outcome[0] and outcome[1] in partial:
        raise SctError(f"the body of a try raised inside the loop or if block at line {partial[outcome[1]]}, "
                       "which had assigned names by then: Python's handler sees those values, and sct, which "
                       "runs the handler without the body, cannot replay part of that block. Compute the "
                       "block before the try statement, or assign its names only after what may raise")
    return outcome


nondifferentiable(try_probe)


def with_body_completed(done, filename, lineno):
    """After a ``with`` block (sct/normalize_stmts.py): refuse the run where the block's body did not
    run to its end, its context manager's ``__exit__`` having suppressed an exception the body raised
    (sct differentiates every statement of the body: a silent wrong gradient)."""
    if not done:
        raise EvaluationError("the context manager of this with statement suppressed an exception its body "
                              "raised (its __exit__ returned true), so the body stopped part way: sct "
                              "differentiates a with block whose body runs to its end; catch the exception "
                              "with try/except (which sct follows) instead", filename, lineno)


nondifferentiable(with_body_completed)
