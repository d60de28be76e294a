"""MATLAB's optimizer steps for custom training loops: sgdmupdate, adamupdate, rmspropupdate, dlupdate.

Each takes the parameters, their gradients (from ``dlgradient``) and the
optimizer state as any nested structure of arrays -- dict, list, tuple,
namedtuple, dataclass, or an object whose attributes hold arrays (a custom
layer, say) -- walked leaf by leaf, and returns the updated parameters and
state as MATLAB does::

    params, vel = sgdmupdate(params, grad, vel)               # vel = None at first (MATLAB's [])
    params, avgG, avgSqG = adamupdate(params, grad, avgG, avgSqG, iteration)

A state of ``None`` is MATLAB's ``[]``: zeros.  Parameters that were
dlarrays come back as dlarrays, and so does the state; the input structures
are not modified (new containers and, for objects, shallow copies).
These run outside ``dlfeval`` on values (MATLAB's updates are not
differentiated either).
"""
from __future__ import annotations

import collections
import copy
import dataclasses
import functools
from .imported import math
import numbers
import types
from typing import Any, Callable, List, Optional, Tuple

from .imported import np

from .dlarray import dlarray
from .layers import Layer
from .origins import module_top
from .support import _bound_values, class_held_dlarrays, self_holding_path, service_object
from .table import Table

__all__ = ["sgdmupdate", "adamupdate", "rmspropupdate", "dlupdate", "lbfgsupdate", "lbfgsState"]


# --- walking nested structures -------------------------------------------------------------------


def _is_leaf(x) -> bool:
    return _a_number(x) and not _integral(x)


def _a_number(x) -> bool:
    return isinstance(x, (dlarray, np.ndarray, np.generic, numbers.Number))


def _integral(x) -> bool:
    """An int, bool, numpy integer or np.bool_ among the parameters: a setting (``"n_layers": 2``, a flag), which
    has no gradient (dlgradient gives 0 there; PyTorch trains floating tensors only, MATLAB's learnables are single
    or double), passed through as it is, its states None (was: np.float64(2.0) after one step, so
    ``range(p["n_layers"])`` then failed, red3_55 W3)."""
    return isinstance(x, (numbers.Integral, np.bool_))


def _is_namedtuple(x) -> bool:
    return isinstance(x, tuple) and hasattr(type(x), "_fields")


def _array_attributes(obj):
    """The attributes of a plain object that hold parameters (arrays or containers of them).  A Python
    float field (``self.eps = 1e-5``, ``self.scale = 2.0``) is a setting, left as it is, as a custom
    layer's properties that are not learnables (``dlgradient`` gives its derivative all the same): a
    scalar to train is a dlarray or an array (``self.scale = dlarray(2.0)``)."""
    names = getattr(type(obj), "learnables", None)
    if names:
        return list(names)
    return [k for k, v in vars(obj).items() if _holds_arrays(v)]


def _holds_arrays(v) -> bool:
    if type(v) is str:                  # a table's layer and parameter names (what the tests below give)
        return False
    if isinstance(v, (dlarray, np.ndarray)):
        return np.issubdtype(np.asarray(v).dtype, np.inexact) or isinstance(v, dlarray)
    if isinstance(v, (list, tuple)):
        return any(_holds_arrays(e) for e in v)
    if isinstance(v, dict):
        return any(_holds_arrays(e) for e in v.values())
    if dataclasses.is_dataclass(v) and not isinstance(v, type):
        return True
    return _parameter_object(v)


def _parameter_object(v) -> bool:
    """An object whose attributes may hold parameters: not a function, class or module, nor a tool's
    callable object (numpy's, functools'), but an object of the user's classes, callable ones too: a
    layer (``sct.Layer``), an object whose class names its ``learnables``, a model or layer of the
    user's whose ``__call__`` runs it (was: skipped as callable, so a model object given to an optimizer
    was refused and its layers held by another object were silently never updated)."""
    if isinstance(v, _NOT_PARAMETER_OBJECTS) or not hasattr(v, "__dict__") or service_object(v):
        return False                     # (a logger, a lock: kept as they are)
    if isinstance(v, Layer) or getattr(type(v), "learnables", None):
        return True
    return not callable(v) or module_top(type(v)) not in _TOOL_MODULES


_NOT_PARAMETER_OBJECTS = (type, types.FunctionType, types.MethodType, types.BuiltinFunctionType,
                          types.ModuleType, np.ufunc)
_TOOL_MODULES = {"builtins", "functools", "numpy", "scipy", "sct", "typing"}


def _passed_through(x) -> bool:
    """A function or text among the parameters, which holds none: a function or numpy ufunc in a list of layers
    (``[layer1, np.tanh, layer2]``), a partial, a class, a layer's setting ("fc", True); returned as it is (was: "cannot update a ufunc"
    for a Sequential-style list of layers with an activation in it)."""
    if isinstance(x, (str, bytes)) or _integral(x):
        return True         # (a layer's settings, ``{"type": "fc", "W": W, ...}``, a flag: were "cannot update a
                            # str", red55u C1)
    if isinstance(x, _NOT_PARAMETER_OBJECTS + (functools.partial,)):
        if isinstance(x, (functools.partial, types.FunctionType)) and _holds_bound_arrays(x):
            # a partial or closure holding parameters (``partial(dense, W=W1)``): they would never be
            # updated; refused (see tree_map's TypeError)
            return False
        return True
    # a tool's callable object (np.vectorize(...)); not one of the user's classes without a __dict__ (a
    # __slots__ layer holding weights is refused, never passed over)
    return callable(x) and module_top(type(x)) in _TOOL_MODULES and not _parameter_object(x) \
        and not _is_leaf(x)


def _empty(x) -> bool:
    """MATLAB's ``[]`` as an optimizer state: None, an empty list or tuple, or an empty array."""
    if x is None or (type(x) in (list, tuple) and not x):
        return True
    if type(x) is dlarray:
        return x._data.size == 0        # (np.size of a dlarray dispatches through __array_function__)
    return isinstance(x, (np.ndarray, dlarray)) and np.size(x) == 0


def _part(tree, key, kind):
    """The part of a companion tree (gradient, state) at ``key``; None and ``[]`` (MATLAB's ``[]``)
    give None."""
    if _empty(tree):
        return None
    if _a_number(tree):
        # (was: TypeError "'int' object is not subscriptable" from inside the walk)
        raise TypeError(f"a gradient or optimizer state that is one {type(tree).__name__} where the parameters "
                        f"are a structure (with {'field' if kind == 'attr' else 'entry'} {key!r}): start an "
                        "optimizer state with None (MATLAB's []) and pass back the one the optimizer returned; "
                        "pass the gradients dlgradient returns for the parameters")
    if kind == "attr":
        if isinstance(tree, dict):
            return tree[key]
        if not hasattr(tree, key):
            raise TypeError(f"a gradient or optimizer state of type {type(tree).__name__} where the parameters "
                            f"have a field {key!r}: pass the same structure as the parameters (for a "
                            "dlnetwork, the table dlgradient(loss, net.Learnables) returns)")
        return getattr(tree, key)
    if isinstance(tree, dict) and key not in tree:
        # (was: a bare KeyError naming the key)
        raise KeyError(f"a gradient or optimizer state (a dict) has no entry {key!r} where the parameters have "
                       f"one: pass the gradients dlgradient returns for the whole structure of parameters (a "
                       f"frozen parameter: its gradient as zeros, or leave it out of the parameters given to the "
                       f"optimizer) and the state the optimizer returned (None at first)")
    return tree[key]


def _same_length(tree, others, where) -> None:
    """A list or tuple of parameters: each companion list or tuple (gradients, states) as long (was: a bare
    IndexError for a shorter one, ``sgdmupdate([W, None], [g, None], [v])``; a longer one's extra entries passed
    over, the others paired with the parameters as they fell: redfix52 F16)."""
    for o in others:
        if isinstance(o, (list, tuple)) and not _empty(o) and len(o) != len(tree):
            raise ValueError(f"{where} is a {type(tree).__name__} of {len(tree)} entries but a gradient or optimizer "
                             f"state is a {type(o).__name__} of {len(o)}: pass the gradients dlgradient returns for "
                             f"these parameters (None where a parameter is None) and the state the optimizer "
                             f"returned (None at first; start it again with None after changing the parameters)")


def _rebuilt_dict(tree, keys, vals):
    """A dict like ``tree`` (its own class: an OrderedDict, a defaultdict with its factory) holding
    ``vals`` under ``keys``."""
    if type(tree) is dict:
        return dict(zip(keys, vals))
    new = copy.copy(tree)
    new.clear()
    new.update(zip(keys, vals))
    return new


def tree_map(fn, tree, *others, nout=1, where="params", memo=None):
    """Apply ``fn(leaf, *other_leaves)`` leaf by leaf over ``tree`` and companion trees of the same
    structure (a companion may be None, giving None leaves).  With ``nout > 1`` ``fn`` returns that
    many values and the result is a tuple of ``nout`` trees.

    One object at several places of ``tree`` (a tied weight: ``head.W = embed.W``, a layer also in a
    list, ``self.layers = [self.a, self.b]``) is mapped once and its one result put at every place, so
    the tie stays (was: each place rebuilt apart, the model untied after the first step and trained on
    with each place's own momentum); its companions (gradients, states) must agree at every place."""
    if tree is None and memo is not None:
        return _no_parameter(others, nout, where)
    if memo is None:
        memo = {}
    if _is_leaf(tree):
        return _mapped_leaf(fn, tree, others, where, memo)
    seen = memo.get(id(tree))
    result = _tree_map(fn, tree, others, nout, where, memo)
    if seen is not None:
        return seen[1]        # (walked again for its leaves' companions, checked there)
    memo[id(tree)] = (tree, result, where)
    return result


def _no_parameter(others, nout, where):
    """A None among the parameters (a layer without a bias, ``{"W": W, "b": None}``): no parameter, left as
    it is, its optimizer state None there too (``fn`` is not called; was: TypeError "cannot update a
    NoneType" for a dict or list, while an object's ``self.bias = None`` was passed over).  Its gradient
    (what ``dlgradient`` gives for it) and states are None, ``[]`` or absent; a value there is refused."""
    for o in others:
        if not _empty(o):
            raise ValueError(f"{where} is None (no parameter) but a gradient or optimizer state holds a "
                             f"{type(o).__name__} there: pass the gradients dlgradient returns for these "
                             "parameters (None where a parameter is None) and the state the optimizer returned "
                             "(None at first; start it again with None after changing the parameters)")
    return None if nout == 1 else (None,) * nout


def _mapped_leaf(fn, leaf, others, where, memo):
    """``fn(leaf, *others)``, once per array object (see tree_map)."""
    if type(leaf) is dlarray and leaf._fmt:
        others = _aligned(leaf, others, where)
    if not isinstance(leaf, (dlarray, np.ndarray)):
        return fn(leaf, *others)          # (a Python number: its identity means nothing)
    seen = memo.get(id(leaf))
    if seen is None:
        result = fn(leaf, *others)
        memo[id(leaf)] = (leaf, result, where, others)
        return result
    _, result, first, first_others = seen
    for a, b in zip(first_others, others):
        if not _same_companion(a, b):
            raise ValueError(f"{where} is the array at {first} (one parameter at two places, a tied weight, "
                             "updated once), but its gradient or optimizer state differs between the two "
                             "places: pass the gradients dlgradient returns for the parameters and the state "
                             "the optimizer returned (None at first)")
    return result


def _same_companion(a, b) -> bool:
    """Whether ``a`` and ``b``, a tied parameter's gradients or states at two places, are one value."""
    if a is b or (_empty(a) and _empty(b)):
        return True
    if a is None or b is None or type(a) is not type(b) or getattr(a, "_fmt", "") != getattr(b, "_fmt", ""):
        return False
    da, db = _data(a), _data(b)
    return da.shape == db.shape and da.dtype == db.dtype and bool(np.array_equal(da, db))


def _tree_map(fn, tree, others, nout, where, memo):
    def split(results_list, rebuild):
        if nout == 1:
            return rebuild(results_list)
        return tuple(rebuild([r[i] for r in results_list]) for i in range(nout))

    if getattr(type(tree), "__sct_network__", False):
        # a dlnetwork: its Learnables are updated (the companions are tables or networks);
        # the parameters come back as a network, the optimizer state as tables (as MATLAB's)
        results = tree_map(fn, tree.Learnables, *[_learnables_of(o) for o in others], nout=nout,
                           where=f"{where}.Learnables", memo=memo)
        if nout == 1:
            return tree.with_learnables(results)
        return (tree.with_learnables(results[0]),) + tuple(results[1:])
    if isinstance(tree, dict):
        keys = list(tree)
        # (a None parameter's gradient and states may be absent: ``_no_parameter``)
        results = [tree_map(fn, tree[k], *[_part(o, k, "item") if tree[k] is not None or not isinstance(o, dict)
                                           else o.get(k) for o in others], nout=nout,
                            where=f"{where}[{k!r}]", memo=memo) for k in keys]
        return split(results, lambda vals: _rebuilt_dict(tree, keys, vals))
    if type(tree) is list and all(o is None or (type(o) is list and len(o) == len(tree)) for o in others):
        # the common case (a network's Learnables.Value, a list of parameters): leaves passed to ``fn``
        # directly, as the general walk below does, without its per-element look-ups
        results = [_mapped_leaf(fn, v, [None if o is None else o[i] for o in others], f"{where}[{i}]", memo)
                   if _is_leaf(v)
                   else tree_map(fn, v, *[None if o is None else o[i] for o in others], nout=nout,
                                 where=f"{where}[{i}]", memo=memo)
                   for i, v in enumerate(tree)]
        return split(results, lambda vals: list(vals))
    if isinstance(tree, (list, tuple)):
        _same_length(tree, others, where)
        results = [tree_map(fn, v, *[_part(o, i, "item") for o in others], nout=nout, where=f"{where}[{i}]", memo=memo)
                   for i, v in enumerate(tree)]
        if _is_namedtuple(tree):
            return split(results, lambda vals: type(tree)(*vals))
        return split(results, lambda vals: type(tree)(vals))
    if isinstance(tree, Table) and any(isinstance(o, Table) for o in others):
        others = tuple(_rows_like(o, tree, where, i) for i, o in enumerate(others))
    if type(tree) is Table and type(tree.Value) is list and tree.Value and \
            all([type(v) is dlarray for v in tree.Value]) and \
            all([type(n) is str for n in tree.Layer + tree.Parameter]):
        # a table of dlarrays (a network's Learnables): what the dataclass walk below does, whose only
        # field holding arrays is Value (the names are strings), without its per-field look-ups
        results = [tree_map(fn, tree.Value, *[_part(o, "Value", "attr") for o in others], nout=nout,
                            where=f"{where}.Value", memo=memo)]

        def rebuild_table(vals):
            out = copy.copy(tree)
            object.__setattr__(out, "Value", vals[0])
            return out
        return split(results, rebuild_table)
    if dataclasses.is_dataclass(tree) and not isinstance(tree, type):
        # every field holding arrays, ``field(init=False)`` ones too, set on a shallow copy: neither
        # skipped nor reset by ``__post_init__`` (was: dataclasses.replace, which ran __post_init__ and
        # could not pass init=False fields: ``b = field(init=False)`` set there came back as its
        # initial value, never updated)
        names = [f.name for f in dataclasses.fields(tree) if hasattr(tree, f.name) and
                 _holds_arrays(getattr(tree, f.name))]
        # and its own attributes that are not fields (``self.W`` set in __post_init__), as an object's
        # (were skipped: never updated)
        fields = {f.name for f in dataclasses.fields(tree)}
        own = getattr(tree, "__dict__", None)
        names += sorted(k for k, v in (own.items() if type(own) is dict else ())
                        if k not in fields and not k.startswith("__") and
                        isinstance(v, (dlarray, np.ndarray, list, tuple, dict)) and _holds_arrays(v))
        results = [tree_map(fn, getattr(tree, n), *[_part(o, n, "attr") for o in others], nout=nout,
                            where=f"{where}.{n}", memo=memo) for n in names]

        def rebuild_dataclass(vals):
            out = copy.copy(tree)
            for n, v in zip(names, vals):
                object.__setattr__(out, n, v)       # (a frozen dataclass too)
            return out
        return split(results, rebuild_dataclass)
    if _parameter_object(tree):
        shared = class_held_dlarrays(type(tree))
        if shared:
            # (was: skipped, as not among the instance's attributes: never updated, silently)
            raise TypeError(f"{where}: the class {type(tree).__name__} holds dlarrays in its class attribute "
                            f"{', '.join(shared)} (shared by every instance), which the optimizers cannot update "
                            f"on one object: set it on the instance in __init__ (self.{shared[0]} = ...)")
        names = _array_attributes(tree)
        results = [tree_map(fn, getattr(tree, n), *[_part(o, n, "attr") for o in others], nout=nout,
                            where=f"{where}.{n}", memo=memo) for n in names]

        def rebuild(vals):
            out = copy.copy(tree)
            for n, v in zip(names, vals):
                setattr(out, n, v)
            return out
        return split(results, rebuild)
    if isinstance(tree, (str, bytes)):
        # (its gradient is the text itself, as dlgradient gives it back; its states None)
        other = next((o for o in others if not _empty(o) and not (type(o) is type(tree) and o == tree)), None)
        if other is not None:
            raise TypeError(f"{where} is the text {tree!r}, a setting the optimizers leave as it is, but the gradient "
                            f"or optimizer state holds a {type(other).__name__} there: cannot update a str; pass the "
                            "gradients dlgradient returns for these parameters and the state the optimizer returned "
                            "(None at first)")
    if _integral(tree):
        # (its gradient from dlgradient is 0; a number there that is not would not be applied)
        other = next((o for o in others if _a_number(o) and np.any(_data(o) != 0)), None)
        if other is not None:
            raise TypeError(f"{where} is the {type(tree).__name__} {tree!r}, a setting the optimizers leave as it "
                            "is, but its gradient or optimizer state is not zero there: to train it, make it a "
                            f"float ({float(tree)!r}) or a dlarray")
    if _passed_through(tree):
        return tree if nout == 1 else (tree,) + (None,) * (nout - 1)
    if isinstance(tree, (functools.partial, types.FunctionType)):
        raise TypeError(f"{where}: cannot update the dlarrays a {type(tree).__name__} holds for its calls (a "
                        "partial's arguments, a closure's captured values): hold them in an object whose "
                        "__call__ reads them (self.W), which the optimizers update")
    raise TypeError(f"{where}: cannot update a {type(tree).__name__}; parameters must be arrays "
                    "(or dlarrays) in dicts, lists, tuples, dataclasses or objects' attributes")


def _holds_bound_arrays(fn) -> bool:
    """Whether a partial's frozen arguments or a function's closure cells or defaults hold dlarrays."""
    return any(_holds_dlarrays(v) for v in _bound_values(fn))


def _holds_dlarrays(v) -> bool:
    if isinstance(v, dlarray):
        return True
    if isinstance(v, (list, tuple)):
        return any(isinstance(e, dlarray) for e in v)
    if isinstance(v, dict):
        return any(isinstance(e, dlarray) for e in v.values())
    return False


def _walked(name, walk, *trees):
    """``walk()`` (a ``tree_map`` over ``trees``), with a structure that holds itself (a dict in itself,
    ``self.me = self``) refused by name (was: a RecursionError, or a TypeError from inside the walk)."""
    try:
        return walk()
    except RecursionError:
        for position, tree in enumerate(trees):
            path = self_holding_path(tree, ("params", "the gradients", "the first state", "the second state")[min(position, 3)],
                                     skip=_NOT_PARAMETER_OBJECTS, depth_limit=400)
            if path:
                raise ValueError(f"{name}: {path} is a structure it sits in (it holds itself: a cycle); the "
                                 "optimizers walk the parameters and cannot follow a cycle. Pass a structure "
                                 "of the parameters without the back-reference") from None
        raise


def _aligned(param, others, where):
    """The companions of a labelled parameter (gradients, optimizer states) with their dimensions in the
    parameter's order: a dlarray labelled in another order (``'BC'`` for a ``'CB'`` parameter) is permuted
    (MATLAB keeps labels in one order, so these are the same array there); labels that are not the
    parameter's are refused (was: combined position by position, silently wrong for square shapes)."""
    fmt = param._fmt
    out = []
    for o in others:
        if type(o) is dlarray and o._fmt and o._fmt != fmt:
            if sorted(o._fmt) != sorted(fmt):
                raise ValueError(f"{where}: a gradient or state labelled {o._fmt!r} for a parameter labelled "
                                 f"{fmt!r}; label it as the parameter (or pass plain arrays of its shape)")
            rest = list(range(len(o._fmt)))
            order = []
            for label in fmt:                       # equal labels keep their relative order
                k = next(i for i in rest if o._fmt[i] == label)
                rest.remove(k)
                order.append(k)
            o = _wrapped(np.transpose(o._data, order), fmt)
        out.append(o)
    return out


def _rows_like(other, table, where, position):
    """A companion table (gradients, an optimizer state) with its rows in the order of the parameter
    table ``table``'s: MATLAB pairs the rows by their Layer and Parameter, not by position (was: by
    position, so a gradient table of the same rows in another order silently updated each parameter
    with another one's gradient).  Refused where the two tables do not hold the same (Layer,
    Parameter) rows once each."""
    if not isinstance(other, Table):
        return other
    keys = list(zip(table.Layer, table.Parameter))
    theirs = list(zip(other.Layer, other.Parameter))
    if theirs == keys and len(other.Value) == len(table.Value):
        return other
    index: dict = {}
    for i, k in enumerate(theirs):
        index.setdefault(k, i)
    wanted = set(keys)
    missing = [k for k in keys if k not in index]
    extra = [k for k in index if k not in wanted]
    repeated = sorted({k for k in keys if keys.count(k) > 1} | {k for k in theirs if theirs.count(k) > 1})
    if missing or extra or repeated or len(other.Value) != len(theirs):
        def names(rows):
            return ", ".join(f"{layer}/{param}" for layer, param in rows[:8]) + (", ..." if len(rows) > 8 else "")
        problems = ([f"missing rows {names(missing)}"] if missing else []) + \
            ([f"extra rows {names(extra)}"] if extra else []) + \
            ([f"rows named more than once {names(repeated)}"] if repeated else []) + \
            ([f"{len(other.Value)} values for {len(theirs)} rows"] if len(other.Value) != len(theirs) else [])
        raise ValueError(
            f"{where}: the table passed {_ordinal(position + 1)} after the parameters (their gradients or an "
            f"optimizer state) does not have the parameters' rows: {'; '.join(problems)}. Its rows are "
            f"paired with the parameters' by Layer and Parameter (as MATLAB's), so it must hold the same "
            f"(Layer, Parameter) rows, each once, in any order")
    return other.rows([index[k] for k in keys])


def _ordinal(n: int) -> str:
    return {1: "first", 2: "second", 3: "third", 4: "fourth"}.get(n, f"{n}th")


def _learnables_of(x):
    """A companion of a network's parameters: its Learnables when it is a network itself."""
    if getattr(type(x), "__sct_network__", False):
        return x.Learnables
    return x


def _data(x):
    if type(x) is dlarray:
        return x._data
    if x is None:
        return None
    if isinstance(x, dlarray):
        return x.data
    return np.asarray(x)


def _wrapped(arr, fmt=""):
    """``dlarray(arr)`` for a float or complex ndarray (what the constructor makes of it: the array itself)
    labelled ``fmt`` (the parameter's labels, of as many dimensions), without the constructor's tests."""
    out = object.__new__(dlarray)
    out._data = arr
    out._fmt = fmt
    return out


def _like(value, param):
    """``value`` as a dlarray when the parameter was one (with its labels), else a plain array (0-d for
    numbers), in the parameter's floating dtype (a float32 parameter stays float32 whatever the rates' types)."""
    dtype = getattr(_data(param), "dtype", None)
    if dtype is not None and dtype.kind in "fc" and getattr(value, "dtype", dtype) != dtype:
        value = np.asarray(value).astype(dtype)
    if isinstance(param, dlarray):
        out = dlarray(value)
        if param._fmt and out._data.ndim == len(param._fmt):
            out._fmt = param._fmt          # a formatted parameter keeps its labels (MATLAB's)
        return out
    return value


def _float(x):
    """The parameter's values as a float array (integers become float64)."""
    arr = _data(x)
    return arr if arr.dtype.kind in "fc" else arr.astype(np.float64)


def _state(state, param):
    """The state's values, zeros like the parameter when the state is None or ``[]`` (MATLAB's [])."""
    if _empty(state):
        return np.zeros_like(param)
    return _fitting(_data(state), param, "an optimizer state")


def _fitting(value, param, what):
    """``value`` (a gradient or a state array) where it has the parameter's shape or broadcasts to it;
    else a ValueError: a state of another shape (a parameter replaced by one of another shape between
    steps) would give the parameter that other shape, or numpy's error from an in-place step."""
    shape, pshape = np.shape(value), np.shape(param)
    if shape != pshape:
        try:
            fits = np.broadcast_shapes(shape, pshape) == pshape
        except ValueError:
            fits = False
        if not fits:
            raise ValueError(f"{what} of shape {shape} for a parameter of shape {pshape}: the parameter "
                             "changed shape since the state was made (start the optimizer state again with "
                             "None) or the gradient is not the parameter's")
    return value


def _refuse_complex(name, pd, gd, linear=False):
    """A complex parameter or gradient where the step is not defined for it: a TypeError.  Adam's and
    RMSProp's squared gradient ``grad.^2`` of a complex gradient is complex (``(0.5i)^2 = -0.25``), so its
    square root mixes the real and imaginary parts (was: an imaginary gradient moved the real part of the
    parameter, silently); a complex gradient of a real parameter would lose its imaginary part in the cast
    back to the parameter's dtype (was: numpy's ComplexWarning, a real result).  ``linear`` steps (sgdm)
    accept complex parameters: there each part moves by its own gradient."""
    pc = getattr(pd, "dtype", None) is not None and pd.dtype.kind == "c"
    gc = np.iscomplexobj(gd) if gd is not None else False
    if (pc and not linear) or (gc and not linear) or (gc and not pc):
        what = "a complex gradient for a real parameter" if gc and not pc else "complex parameters or gradients"
        shape = np.shape(pd)
        raise TypeError(f"{name}: {what} (a parameter of shape {shape}, dtype {pd.dtype}): not supported, "
                        "the step is defined for real values (MATLAB's learnables are real). Train the real "
                        "and imaginary parts as two real parameters, or use sgdmupdate or dlupdate with your "
                        "own rule")


def _refuse_missing(name, g, pd) -> None:
    """A parameter without a gradient (None where the gradients have the parameters' structure): a
    ValueError naming it (was: numpy's "unsupported operand type(s) for *: 'float' and 'NoneType'")."""
    if g is None:
        raise ValueError(f"{name}: no gradient for a parameter of shape {np.shape(pd)} (the gradients hold None "
                         "there): pass the gradients dlgradient returns for the whole structure of parameters")


def _scalar(fn, name, value):
    """A hyperparameter (learnRate, momentum, decays, epsilon) as a scalar: a number or a 0-d array as
    it is, an array or dlarray of one element (MATLAB's 1-by-1, what scipy.io.loadmat gives) as its
    element.  (Was: a (1, 1) learnRate broadcast each parameter of shape (3,) to (1, 3), silently; adamupdate
    failed with numpy's "only 0-dimensional arrays can be converted".)  Other shapes are refused."""
    if isinstance(value, numbers.Number) or np.ndim(_data(value) if isinstance(value, dlarray) else value) == 0:
        return value
    arr = np.asarray(_data(value) if isinstance(value, dlarray) else value)
    if arr.size != 1:
        raise ValueError(f"{fn}: {name} must be a scalar, got an array of shape {arr.shape}")
    return arr.reshape(())[()]


# --- the optimizers ---------------------------------------------------------------------------


def sgdmupdate(params: Any, grad: Any, vel: Any, learnRate: float = 0.01,
               momentum: float = 0.9) -> Tuple[Any, Any]:
    """Stochastic gradient descent with momentum (MATLAB's sgdmupdate).

    ``vel = momentum * vel - learnRate * grad``; ``params = params + vel``.
    Defaults learnRate 0.01, momentum 0.9; ``vel=None`` starts from zeros.
    Returns ``(params, vel)``.

    >>> p, vel = sgdmupdate(np.array([1.0, 2.0]), np.array([1.0, -1.0]), None, 0.1)
    >>> p, vel
    (array([0.9, 2.1]), array([-0.1,  0.1]))
    """
    learnRate = _scalar("sgdmupdate", "learnRate", learnRate)
    momentum = _scalar("sgdmupdate", "momentum", momentum)

    def step(p, g, v):
        pd = _float(p)
        _refuse_missing("sgdmupdate", g, pd)
        _refuse_complex("sgdmupdate", pd, _data(g), linear=True)
        new_v = momentum * _state(v, pd) - learnRate * _fitting(_data(g), pd, "a gradient")
        return _like(pd + new_v, p), _like(new_v, p)
    return _walked("sgdmupdate", lambda: tree_map(step, params, grad, vel, nout=2), params, grad, vel)


def adamupdate(params: Any, grad: Any, averageGrad: Any, averageSqGrad: Any, iteration: int,
               learnRate: float = 0.001, gradDecay: float = 0.9, sqGradDecay: float = 0.999,
               epsilon: float = 1e-8) -> Tuple[Any, Any, Any]:
    """Adaptive moment estimation (MATLAB's adamupdate).

    ``averageGrad = gradDecay * averageGrad + (1 - gradDecay) * grad``;
    ``averageSqGrad = sqGradDecay * averageSqGrad + (1 - sqGradDecay) * grad^2``;
    ``params = params - lr_t * averageGrad / (sqrt(averageSqGrad) + epsilon)`` with the
    bias-corrected rate ``lr_t = learnRate * sqrt(1 - sqGradDecay^t) / (1 - gradDecay^t)``,
    t = ``iteration`` (a positive integer, counted from 1).  Defaults learnRate 0.001,
    gradDecay 0.9, sqGradDecay 0.999, epsilon 1e-8.  Returns ``(params, averageGrad, averageSqGrad)``.
    Complex parameters or gradients are refused (as by rmspropupdate; sgdmupdate takes them).

    >>> p, m, v = adamupdate(np.array([1.0, 2.0]), np.array([1.0, -1.0]), None, None, 1, 0.1)
    >>> np.round(p, 4)
    array([0.9, 2.1])
    """
    learnRate = _scalar("adamupdate", "learnRate", learnRate)
    gradDecay = _scalar("adamupdate", "gradDecay", gradDecay)
    sqGradDecay = _scalar("adamupdate", "sqGradDecay", sqGradDecay)
    epsilon = _scalar("adamupdate", "epsilon", epsilon)
    iteration = _scalar("adamupdate", "iteration", iteration)
    t = int(iteration)
    if t < 1 or t != iteration:
        raise ValueError(f"adamupdate: iteration must be a positive integer, got {iteration!r}")
    # a Python float: numpy's scalar would make float32 parameters float64 (NEP 50)
    rate = float(learnRate * np.sqrt(1 - sqGradDecay ** t) / (1 - gradDecay ** t))

    def in_place(pd, gd, ms, vs):
        # arrays of one shape and dtype: three new arrays (the results) and in-place passes into them
        new_m = gradDecay * ms
        step_ = (1 - gradDecay) * gd
        new_m += step_
        np.multiply(gd, gd, out=step_)
        step_ *= 1 - sqGradDecay
        new_v = sqGradDecay * vs
        new_v += step_
        np.sqrt(new_v, out=step_)
        step_ += epsilon
        np.divide(new_m, step_, out=step_)
        step_ *= -rate
        step_ += pd
        return step_, new_m, new_v

    def step(p, g, m, v):
        pd = _float(p)
        _refuse_missing("adamupdate", g, pd)
        gd = _data(g)
        _refuse_complex("adamupdate", pd, gd)
        if (type(p) is dlarray and type(pd) is np.ndarray and type(gd) is np.ndarray and pd.ndim
                and type(m) is type(v) is dlarray):
            ms, vs = m._data, v._data
            if (type(ms) is np.ndarray and type(vs) is np.ndarray and pd.dtype.kind in "fc"
                    and gd.shape == ms.shape == vs.shape == pd.shape and gd.dtype == ms.dtype == vs.dtype == pd.dtype):
                # the steady state of a training loop: dlarrays of one shape and dtype, the same operations
                # as below without the per-leaf look-ups (the results keep the dtype: ``_like`` is a wrap)
                step_, new_m, new_v = in_place(pd, gd, ms, vs)
                if step_.dtype == new_m.dtype == new_v.dtype == pd.dtype:
                    return _wrapped(step_, p._fmt), _wrapped(new_m, p._fmt), _wrapped(new_v, p._fmt)
                return _like(step_, p), _like(new_m, p), _like(new_v, p)
        gd = _fitting(gd, pd, "a gradient")
        if pd.ndim == 0 or np.ndim(gd) == 0:
            new_m = gradDecay * _state(m, pd) + (1 - gradDecay) * gd
            new_v = sqGradDecay * _state(v, pd) + (1 - sqGradDecay) * gd * gd
            new_p = pd - rate * new_m / (np.sqrt(new_v) + epsilon)
            return _like(new_p, p), _like(new_m, p), _like(new_v, p)
        ms, vs = _state(m, pd), _state(v, pd)
        if type(gd) is np.ndarray and all(type(a) is np.ndarray and a.shape == gd.shape and a.dtype == gd.dtype
                                          for a in (pd, ms, vs)):
            # three new arrays (the results), in-place passes into them, no other temporaries: the same
            # operations in the same order as below
            step_, new_m, new_v = in_place(pd, gd, ms, vs)
            return _like(step_, p), _like(new_m, p), _like(new_v, p)
        else:
            # a gradient or state that broadcasts to the parameter's shape (as sgdmupdate and rmspropupdate
            # take it): at that shape, so that the in-place passes below fit (was: numpy's "non-broadcastable
            # output operand" for a state or gradient of shape (1,) and a parameter of shape (3,))
            gd, ms, vs = [a if np.shape(a) == pd.shape else np.broadcast_to(a, pd.shape) for a in (gd, ms, vs)]
            new_m = gradDecay * ms                 # new arrays, updated in place: fewer temporaries
            new_m += (1 - gradDecay) * gd
            new_v = gd * gd
            new_v *= 1 - sqGradDecay
            new_v += sqGradDecay * vs
            step_ = np.sqrt(new_v)
        step_ += epsilon
        np.divide(new_m, step_, out=step_)
        step_ *= -rate
        step_ += pd
        return _like(step_, p), _like(new_m, p), _like(new_v, p)
    flat = _flat_update(in_place, params, grad, averageGrad, averageSqGrad)
    if flat is not None:
        return flat
    return _walked("adamupdate", lambda: tree_map(step, params, grad, averageGrad, averageSqGrad, nout=3),
                   params, grad, averageGrad, averageSqGrad)


def _flat_leaves(table, rows, shapes, dtype):
    """The arrays of ``table`` (a Table of the rows ``rows``) when each is an unlabelled dlarray of an
    ndarray of ``shapes``' shape and ``dtype``, else None."""
    if type(table) is not Table or (table.Layer, table.Parameter) != rows or len(table.Value) != len(shapes):
        return None
    out = []
    for v, shape in zip(table.Value, shapes):
        if type(v) is not dlarray or v._fmt:
            return None
        a = v._data
        if type(a) is not np.ndarray or a.shape != shape or a.dtype != dtype:
            return None
        out.append(a)
    return out


def _joined(leaves):
    """The arrays ``leaves`` as one flat array: where they are, in order, the whole of one contiguous
    1-D array (the views the last flat step returned for the parameters and the states), that array
    itself, not copied (an optimizer's in_place writes only into the arrays it makes); else their
    concatenation."""
    base = leaves[0].base
    if type(base) is np.ndarray and base.ndim == 1 and base.flags.c_contiguous and base.dtype == leaves[0].dtype:
        address = base.__array_interface__["data"][0]
        for a in leaves:
            if a.base is not base or not a.flags.c_contiguous or a.__array_interface__["data"][0] != address:
                break
            address += a.nbytes
        else:
            if address == base.__array_interface__["data"][0] + base.nbytes:
                return base
    return np.concatenate(leaves, axis=None)


def _flat_update(in_place, params, grad, m, v):
    """An optimizer step ``in_place(p, g, m, v) -> (new p, new m, new v)`` (elementwise) of a network's
    Learnables as one pass over all of its arrays at once (each result a view of one new array), in the
    steady state of a training loop: a network of unlabelled float dlarrays of one dtype, gradients and
    states tables of its rows holding arrays of the same shapes and dtype.  The same operations on the
    same numbers as leaf by leaf (what ``tree_map`` does); None where it does not apply."""
    if not getattr(type(params), "__sct_network__", False):
        return None
    table = params.Learnables
    if type(table) is not Table or not table.Value:
        return None
    first = table.Value[0]
    if type(first) is not dlarray or type(first._data) is not np.ndarray or first._data.dtype.kind != "f":
        return None
    dtype = first._data.dtype
    shapes = [getattr(getattr(x, "_data", None), "shape", None) for x in table.Value]
    if any(shape is None or not shape for shape in shapes):         # (0-d leaves take the leaf by leaf path)
        return None
    rows = (table.Layer, table.Parameter)
    arrays = [_flat_leaves(t, rows, shapes, dtype) for t in (table, _learnables_of(grad), m, v)]
    if any(a is None for a in arrays):
        return None
    flat = [_joined(leaves) for leaves in arrays]          # (each flattened)
    results = in_place(*flat)
    if any(type(r) is not np.ndarray or r.dtype != dtype for r in results):
        return None
    bounds = [0]
    for shape in shapes:
        bounds.append(bounds[-1] + math.prod(shape))
    outs = [[_wrapped(r[a:b].reshape(shape)) for a, b, shape in zip(bounds[:-1], bounds[1:], shapes)]
            for r in results]
    new_m = copy.copy(table)
    object.__setattr__(new_m, "Value", outs[1])
    new_v = copy.copy(table)
    object.__setattr__(new_v, "Value", outs[2])
    return params.with_learnables(outs[0]), new_m, new_v


def rmspropupdate(params: Any, grad: Any, averageSqGrad: Any, learnRate: float = 0.001,
                  sqGradDecay: float = 0.9, epsilon: float = 1e-8) -> Tuple[Any, Any]:
    """Root mean square propagation (MATLAB's rmspropupdate).

    ``averageSqGrad = sqGradDecay * averageSqGrad + (1 - sqGradDecay) * grad^2``;
    ``params = params - learnRate * grad / (sqrt(averageSqGrad) + epsilon)``.
    Defaults learnRate 0.001, sqGradDecay 0.9, epsilon 1e-8.  Returns ``(params, averageSqGrad)``.

    >>> p, v = rmspropupdate(np.array([1.0, 2.0]), np.array([1.0, -1.0]), None, 0.1)
    >>> np.round(p, 4), np.round(v, 4)
    (array([0.6838, 2.3162]), array([0.1, 0.1]))
    """
    learnRate = _scalar("rmspropupdate", "learnRate", learnRate)
    sqGradDecay = _scalar("rmspropupdate", "sqGradDecay", sqGradDecay)
    epsilon = _scalar("rmspropupdate", "epsilon", epsilon)

    def step(p, g, v):
        pd = _float(p)
        _refuse_missing("rmspropupdate", g, pd)
        gd = _fitting(_data(g), pd, "a gradient")
        _refuse_complex("rmspropupdate", pd, gd)
        new_v = sqGradDecay * _state(v, pd) + (1 - sqGradDecay) * gd * gd
        new_p = pd - learnRate * gd / (np.sqrt(new_v) + epsilon)
        return _like(new_p, p), _like(new_v, p)
    return _walked("rmspropupdate", lambda: tree_map(step, params, grad, averageSqGrad, nout=2),
                   params, grad, averageSqGrad)


def dlupdate(fun: Callable[..., Any], params: Any, *more: Any) -> Any:
    """Apply ``fun`` to every parameter (MATLAB's dlupdate): ``fun(p, a1, ..., an)`` leaf by leaf
    over ``params`` and the structures ``more`` (same structure, or None for MATLAB's []).

    ``fun`` receives the leaves as they are (dlarrays stay dlarrays) and may
    return one value or a tuple of several: ``dlupdate`` then returns as many
    structures (MATLAB's ``[params, X1, ..., Xm] = dlupdate(fun, params, A1, ...)``).

    >>> params = {"W": np.array([1.0, 2.0]), "b": np.array([0.5])}
    >>> grads = {"W": np.array([1.0, 1.0]), "b": np.array([1.0])}
    >>> new = dlupdate(lambda p, g: p - 0.1 * g, params, grads)
    >>> new["W"], new["b"]
    (array([0.9, 1.9]), array([0.4]))
    """
    results = []

    def collect(p, *rest):
        result = fun(p, *rest)
        results.append(result)
        return result
    out = _walked("dlupdate", lambda: tree_map(collect, params, *more), params, *more)
    if results and isinstance(results[0], tuple):
        pending = iter(results)          # the same leaves in the same order: regroup the outputs
        return tree_map(lambda p, *rest: next(pending), params, *more, nout=len(results[0]))
    return out


# --- L-BFGS (MATLAB's lbfgsupdate and lbfgsState) -----------------------------------------------------

_LINE_SEARCHES = ("weak-wolfe", "strong-wolfe", "backtracking")
_ARMIJO = 1e-4                       # sufficient-decrease constant c1
_CURVATURE = 0.9                     # curvature constant c2 (Wolfe conditions)


class lbfgsState:
    """State of the limited-memory BFGS solver (MATLAB's lbfgsState), updated by ``lbfgsupdate``.

    ``lbfgsState(HistorySize=10, InitialInverseHessianFactor=1)``.  Properties as MATLAB's:
    ``HistorySize``, ``InitialInverseHessianFactor``, ``InverseHessianFactor`` (the scalar
    lambda of the initial inverse Hessian ``lambda * I``, updated to ``s'y / y'y`` after each
    step), ``StepHistory`` and ``GradientsDifferenceHistory`` (the last ``HistorySize`` steps
    ``s`` and gradient differences ``y``, oldest first, each a flat vector of all the
    parameters), ``HistoryIndices``, ``Iteration``, ``Loss`` and ``Gradients`` (at the current
    parameters, as ``lossFcn`` returned them), ``AdditionalLossFunctionOutputs``, ``StepNorm``,
    ``GradientsNorm``, ``LineSearchStatus`` ("" before the first step, then "completed" or
    "failed"), ``LineSearchMethod`` and ``MaxNumLineSearchIterations`` (the options last used).

    >>> s = lbfgsState(HistorySize=5)
    >>> s.HistorySize, s.InverseHessianFactor, s.LineSearchStatus
    (5, 1.0, '')
    """

    def __init__(self, HistorySize: int = 10, InitialInverseHessianFactor: float = 1) -> None:
        if int(HistorySize) != HistorySize or HistorySize < 1:
            raise ValueError(f"lbfgsState: HistorySize must be a positive integer, got {HistorySize!r}")
        if not InitialInverseHessianFactor > 0:
            raise ValueError("lbfgsState: InitialInverseHessianFactor must be positive, got "
                             f"{InitialInverseHessianFactor!r}")
        self.HistorySize = int(HistorySize)
        self.InitialInverseHessianFactor = float(InitialInverseHessianFactor)
        self.InverseHessianFactor = float(InitialInverseHessianFactor)
        self.StepHistory = []
        self.GradientsDifferenceHistory = []
        self.Iteration = 0
        self.Loss = None
        self.Gradients = None
        self.AdditionalLossFunctionOutputs = ()
        self.StepNorm = None
        self.GradientsNorm = None
        self.LineSearchStatus = ""
        self.LineSearchMethod = "weak-wolfe"
        self.MaxNumLineSearchIterations = 20

    @property
    def HistoryIndices(self) -> List[int]:
        """The iteration numbers the stored history comes from (oldest first)."""
        n = len(self.StepHistory)
        return list(range(self.Iteration - n + 1, self.Iteration + 1))

    def __repr__(self):
        loss = None if self.Loss is None else float(np.real(_data(self.Loss)))
        return (f"lbfgsState(Iteration={self.Iteration}, Loss={loss}, StepNorm={self.StepNorm}, "
                f"GradientsNorm={self.GradientsNorm}, LineSearchStatus={self.LineSearchStatus!r}, "
                f"HistorySize={self.HistorySize}, stored={len(self.StepHistory)})")


def _leaves(params, grads=None):
    """The parameters' leaves (and the gradients' leaves in the same order)."""
    ps, gs = [], []

    def visit(p, *rest):
        ps.append(p)
        if rest:
            gs.append(rest[0])
        return p
    tree_map(visit, params, *(() if grads is None else (grads,)))
    return ps, gs


def _flat(leaves, what):
    parts = []
    for v in leaves:
        if v is None:
            raise ValueError(f"lbfgsupdate: the {what} are missing a value for some parameter")
        a = _data(v)
        if np.iscomplexobj(a):
            raise TypeError("lbfgsupdate: complex parameters are not supported (MATLAB's are real)")
        parts.append(np.ravel(a).astype(np.float64))
    return np.concatenate(parts) if parts else np.zeros(0)


def _rebuild(params, vector):
    """``params`` with its leaves taken from the flat ``vector`` (each leaf keeps its shape and dtype)."""
    offset = [0]

    def put(p):
        a = _float(p)
        n = a.size
        value = vector[offset[0]:offset[0] + n].reshape(a.shape).astype(a.dtype, copy=False)
        offset[0] += n
        return _like(value, p)
    return tree_map(put, params)


def _evaluate(lossFcn, params, nout):
    out = lossFcn(params)
    if not isinstance(out, tuple) or len(out) < 2:
        raise TypeError("lbfgsupdate: lossFcn must return (loss, gradients, ...) -- e.g. "
                        "lossFcn = lambda net: dlfeval(modelLoss, net, X, T) with modelLoss returning "
                        "loss, dlgradient(loss, net.Learnables)")
    if nout is not None and len(out) != nout:
        raise ValueError(f"lbfgsupdate: NumLossFunctionOutputs is {nout}, lossFcn returned {len(out)} values")
    loss = float(np.real(np.asarray(_data(out[0])).reshape(-1)[0])) if np.size(_data(out[0])) == 1 else None
    if loss is None:
        raise ValueError("lbfgsupdate: the loss (lossFcn's first output) must be a scalar")
    return loss, out[1], tuple(out[2:]), out[0]


def _two_loop(grad, steps, diffs, factor):
    """-H grad by the L-BFGS two-loop recursion with H0 = factor * I."""
    q = grad.copy()
    alphas = []
    for s, y in zip(reversed(steps), reversed(diffs)):
        rho = 1.0 / np.dot(y, s)
        a = rho * np.dot(s, q)
        q -= a * y
        alphas.append((a, rho))
    r = factor * q
    for (s, y), (a, rho) in zip(zip(steps, diffs), reversed(alphas)):
        b = rho * np.dot(y, r)
        r += s * (a - b)
    return -r


def lbfgsupdate(net: Any, lossFcn: Callable[..., Any], solverState: Optional["lbfgsState"] = None,
                LineSearchMethod: str = "weak-wolfe", MaxNumLineSearchIterations: int = 20,
                NumLossFunctionOutputs: Optional[int] = None) -> Tuple[Any, "lbfgsState"]:
    """One step of limited-memory BFGS (MATLAB's lbfgsupdate): ``net, solverState = lbfgsupdate(net,
    lossFcn, solverState)``.

    ``net`` is a ``dlnetwork`` (its Learnables are updated), a Learnables table, or any nested
    structure of arrays (dict, list, tuple, dataclass, object attributes), as for the other
    optimizers.  ``lossFcn(net)`` returns ``(loss, gradients, ...)``: the scalar loss, its
    gradients with respect to the parameters (same structure, or the Learnables table of a
    network), and any further outputs, kept in ``solverState.AdditionalLossFunctionOutputs``
    (``NumLossFunctionOutputs``, when given, is checked against their count).  As in MATLAB::

        lossFcn = lambda net: dlfeval(modelLoss, net, X, T)
        solverState = lbfgsState()                # or None (MATLAB's [])
        for i in range(maxIterations):
            net, solverState = lbfgsupdate(net, lossFcn, solverState)
            if solverState.GradientsNorm < 1e-5 or solverState.LineSearchStatus == "failed":
                break

    The direction is ``-H g`` from the two-loop recursion over the last ``HistorySize`` steps
    with ``H0 = InverseHessianFactor * I``; the step length, tried from 1, comes from the line
    search ``LineSearchMethod``: ``"weak-wolfe"`` (default; sufficient decrease ``c1 = 1e-4``
    and curvature ``g'p >= 0.9 g0'p``, by bracketing and bisection), ``"strong-wolfe"``
    (``|g'p| <= 0.9 |g0'p|``) or ``"backtracking"`` (sufficient decrease, halving), with at
    most ``MaxNumLineSearchIterations`` (default 20) evaluations of ``lossFcn``.  The loss and
    gradients at the new parameters are kept in the state, so each call evaluates ``lossFcn``
    only in its line search (and once more on the first call).  When no step satisfies the
    conditions, ``LineSearchStatus`` is ``"failed"``: the parameters move to the best step with
    sufficient decrease, or stay where they are (and the history is cleared).  A step along which
    the curvature ``s'y`` is not positive (possible when the curvature condition is not enforced)
    restarts the history from ``InitialInverseHessianFactor * I``.

    Parameters keep their dtypes (float32 stays float32; the solver's vectors are float64);
    dlarrays come back as dlarrays.  Runs on values, outside ``dlfeval``.

    >>> def rosenbrock(p):
    ...     x, y = p["x"], p["y"]
    ...     return (1 - x) ** 2 + 100 * (y - x * x) ** 2, {"x": -2 * (1 - x) - 400 * x * (y - x * x),
    ...                                               "y": 200 * (y - x * x)}
    >>> p, state = {"x": np.array(-1.2), "y": np.array(1.0)}, None
    >>> for _ in range(60):
    ...     p, state = lbfgsupdate(p, rosenbrock, state)
    >>> round(float(p["x"]), 6), round(float(p["y"]), 6), state.LineSearchStatus
    (1.0, 1.0, 'completed')
    """
    # over 60 lines only by its docstring (MATLAB's usage and a doctest); the steps are the helpers below
    state = _lbfgs_start(lossFcn, solverState, LineSearchMethod, MaxNumLineSearchIterations)
    x0, f0, g0 = _lbfgs_start_point(net, lossFcn, state, NumLossFunctionOutputs)
    p, d0 = _lbfgs_direction(g0, state)
    if d0 == 0:                                      # a stationary point: nothing to do
        state.LineSearchStatus = "completed"
        return _lbfgs_stay(net, state, g0, forget=False)

    found, best = _line_search(net, lossFcn, x0, f0, p, d0, LineSearchMethod,
                               state.MaxNumLineSearchIterations, NumLossFunctionOutputs)
    state.LineSearchStatus = "completed" if found is not None else "failed"
    if found is None:
        found = best
    if found is None:                                # no decrease at all: stay, and forget the history
        return _lbfgs_stay(net, state, g0, forget=True)
    return _lbfgs_step(state, found, g0, p)


def _lbfgs_start_point(net, lossFcn, state: "lbfgsState", nout):
    """The parameters, the loss and the gradients where the step starts, flat (the loss and
    gradients kept in ``state``, evaluated on the first call)."""
    leaves, _ = _leaves(net)
    x0 = _flat(leaves, "parameters")
    if state.Loss is None or state.Gradients is None:
        f0, grads0, extra0, loss_out = _evaluate(lossFcn, net, nout)
        state.Loss, state.Gradients, state.AdditionalLossFunctionOutputs = loss_out, grads0, extra0
    else:
        f0 = float(np.real(np.asarray(_data(state.Loss)).reshape(-1)[0]))
    g0 = _flat(_leaves(net, state.Gradients)[1], "gradients")
    if g0.shape != x0.shape:
        raise ValueError("lbfgsupdate: the gradients do not match the parameters")
    return x0, f0, g0


def _lbfgs_stay(net, state: "lbfgsState", g0, forget: bool):
    """No step: the parameters stay (``forget``: and the history is cleared)."""
    if forget:
        state.StepHistory, state.GradientsDifferenceHistory = [], []
        state.InverseHessianFactor = state.InitialInverseHessianFactor
    state.StepNorm = 0.0
    state.GradientsNorm = float(np.linalg.norm(g0))
    return net, state


def _lbfgs_start(lossFcn, solverState, LineSearchMethod, MaxNumLineSearchIterations) -> "lbfgsState":
    """lbfgsupdate's arguments checked, and the state it updates (a copy of ``solverState``)."""
    if LineSearchMethod not in _LINE_SEARCHES:
        raise ValueError(f"lbfgsupdate: LineSearchMethod must be one of {_LINE_SEARCHES}, got {LineSearchMethod!r}")
    if int(MaxNumLineSearchIterations) != MaxNumLineSearchIterations or MaxNumLineSearchIterations < 1:
        raise ValueError("lbfgsupdate: MaxNumLineSearchIterations must be a positive integer, got "
                         f"{MaxNumLineSearchIterations!r}")
    if not callable(lossFcn):
        raise TypeError("lbfgsupdate: lossFcn must be a function of the parameters returning (loss, gradients)")
    state = lbfgsState() if solverState is None else copy.copy(solverState)
    if not isinstance(state, lbfgsState):
        raise TypeError(f"lbfgsupdate: solverState must be an lbfgsState or None, got {type(solverState).__name__}")
    state.StepHistory = list(state.StepHistory)
    state.GradientsDifferenceHistory = list(state.GradientsDifferenceHistory)
    state.LineSearchMethod = LineSearchMethod
    state.MaxNumLineSearchIterations = int(MaxNumLineSearchIterations)
    return state


def _lbfgs_direction(g0, state: "lbfgsState"):
    """The search direction ``p`` and the slope ``g0'p`` along it (steepest descent, with the
    history cleared, where the two-loop direction is not a descent direction)."""
    p = _two_loop(g0, state.StepHistory, state.GradientsDifferenceHistory, state.InverseHessianFactor)
    d0 = float(np.dot(g0, p))
    if not d0 < 0:                                   # not a descent direction: steepest descent
        state.StepHistory, state.GradientsDifferenceHistory = [], []
        p = -state.InverseHessianFactor * g0
        d0 = float(np.dot(g0, p))
    return p, d0


_Trial = collections.namedtuple("_Trial", "step loss gradients extra loss_out params")


def _line_search(net, lossFcn, x0, f0, p, d0, method, iterations, nout):
    """(the step that satisfies ``method``'s conditions, the best step with sufficient decrease),
    each a ``_Trial`` or None."""
    lo, hi, a = 0.0, np.inf, 1.0
    best = None
    for _ in range(iterations):
        trial = _rebuild(net, x0 + a * p)
        f, grads, extra, loss_out = _evaluate(lossFcn, trial, nout)
        here = _Trial(a, f, grads, extra, loss_out, trial)
        armijo = np.isfinite(f) and f <= f0 + _ARMIJO * a * d0
        if armijo and (best is None or f < best.loss):
            best = here
        if method == "backtracking":
            if armijo:
                return here, best
            a *= 0.5
            continue
        if not armijo:
            hi = a
        else:
            slope = float(np.dot(_flat(_leaves(trial, grads)[1], "gradients"), p))
            if method == "strong-wolfe" and slope > -_CURVATURE * d0:
                hi = a
            elif slope < _CURVATURE * d0:
                lo = a
            else:
                return here, best
        a = 0.5 * (lo + hi) if np.isfinite(hi) else 2.0 * lo
    return None, best


def _lbfgs_step(state: "lbfgsState", found: _Trial, g0, p):
    """Take the step ``found``: the history gets its step and gradient difference (restarted where
    the curvature along it is not positive); the state its loss, gradients and norms."""
    g1 = _flat(_leaves(found.params, found.gradients)[1], "gradients")
    s = found.step * p
    y = g1 - g0
    sy = float(np.dot(s, y))
    if sy > np.finfo(np.float64).eps * float(np.dot(y, y)) and sy > 0:
        state.StepHistory.append(s)
        state.GradientsDifferenceHistory.append(y)
        if len(state.StepHistory) > state.HistorySize:
            del state.StepHistory[0], state.GradientsDifferenceHistory[0]
        state.InverseHessianFactor = sy / float(np.dot(y, y))
    else:                                            # no positive curvature along the step (possible
        state.StepHistory, state.GradientsDifferenceHistory = [], []   # without the Wolfe curvature
        state.InverseHessianFactor = state.InitialInverseHessianFactor  # condition): restart
    state.Iteration += 1
    state.Loss, state.Gradients, state.AdditionalLossFunctionOutputs = found.loss_out, found.gradients, found.extra
    state.StepNorm = float(np.linalg.norm(s))
    state.GradientsNorm = float(np.linalg.norm(g1))
    return found.params, state


# Inside a model-gradients function (after its dlgradient) the updates run as they are; a derivative
# through one is refused (sct/analysis.py classify_call)
from .registry import run_as_is  # noqa: E402

run_as_is(sgdmupdate, adamupdate, rmspropupdate, dlupdate)
