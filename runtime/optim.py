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

import copy
import dataclasses
import numbers
from typing import Any, Callable, Tuple

import numpy as np

from .dlarray import dlarray

__all__ = ["sgdmupdate", "adamupdate", "rmspropupdate", "dlupdate"]


# --- walking nested structures -------------------------------------------------------------------


def _is_leaf(x) -> bool:
    return isinstance(x, (dlarray, np.ndarray, np.generic, numbers.Number)) and not isinstance(x, bool)


def _is_namedtuple(x) -> bool:
    return isinstance(x, tuple) and hasattr(type(x), "_fields")


def _array_attributes(obj):
    """The attributes of a plain object that hold parameters (arrays or containers of them)."""
    names = getattr(type(obj), "learnables", None)
    if names:
        return list(names)
    return [k for k, v in vars(obj).items() if _holds_arrays(v)]


def _holds_arrays(v) -> bool:
    if isinstance(v, (dlarray, np.ndarray)):
        return np.issubdtype(np.asarray(v).dtype, np.inexact) or isinstance(v, dlarray)
    if isinstance(v, (list, tuple)):
        return any(_holds_arrays(e) for e in v)
    if isinstance(v, dict):
        return any(_holds_arrays(e) for e in v.values())
    if dataclasses.is_dataclass(v) and not isinstance(v, type):
        return True
    return hasattr(v, "__dict__") and not callable(v) and not isinstance(v, type)


def _part(tree, key, kind):
    """The part of a companion tree (gradient, state) at ``key``; None stays None (MATLAB's [])."""
    if tree is None:
        return None
    if kind == "attr":
        return getattr(tree, key) if not isinstance(tree, dict) else tree[key]
    return tree[key]


def tree_map(fn, tree, *others, nout=1, where="params"):
    """Apply ``fn(leaf, *other_leaves)`` leaf by leaf over ``tree`` and companion trees of the same
    structure (a companion may be None, giving None leaves).  With ``nout > 1`` ``fn`` returns that
    many values and the result is a tuple of ``nout`` trees."""
    def split(results_list, rebuild):
        if nout == 1:
            return rebuild(results_list)
        return tuple(rebuild([r[i] for r in results_list]) for i in range(nout))

    if _is_leaf(tree):
        return fn(tree, *others)
    if getattr(type(tree), "__sct_network__", False):
        # a dlnetwork: its Learnables are updated (the companions are tables or networks);
        # the parameters come back as a network, the optimizer state as tables (as MATLAB's)
        results = tree_map(fn, tree.Learnables, *[_learnables_of(o) for o in others], nout=nout,
                           where=f"{where}.Learnables")
        if nout == 1:
            return tree.with_learnables(results)
        return (tree.with_learnables(results[0]),) + tuple(results[1:])
    if isinstance(tree, dict):
        keys = list(tree)
        results = [tree_map(fn, tree[k], *[_part(o, k, "item") for o in others], nout=nout,
                            where=f"{where}[{k!r}]") for k in keys]
        return split(results, lambda vals: type(tree)(zip(keys, vals)) if type(tree) is not dict
                     else dict(zip(keys, vals)))
    if isinstance(tree, (list, tuple)):
        results = [tree_map(fn, v, *[_part(o, i, "item") for o in others], nout=nout, where=f"{where}[{i}]")
                   for i, v in enumerate(tree)]
        if _is_namedtuple(tree):
            return split(results, lambda vals: type(tree)(*vals))
        return split(results, lambda vals: type(tree)(vals))
    if dataclasses.is_dataclass(tree) and not isinstance(tree, type):
        names = [f.name for f in dataclasses.fields(tree) if f.init and _holds_arrays(getattr(tree, f.name))]
        results = [tree_map(fn, getattr(tree, n), *[_part(o, n, "attr") for o in others], nout=nout,
                            where=f"{where}.{n}") for n in names]
        return split(results, lambda vals: dataclasses.replace(tree, **dict(zip(names, vals))))
    if hasattr(tree, "__dict__") and not callable(tree):
        names = _array_attributes(tree)
        results = [tree_map(fn, getattr(tree, n), *[_part(o, n, "attr") for o in others], nout=nout,
                            where=f"{where}.{n}") for n in names]

        def rebuild(vals):
            out = copy.copy(tree)
            for n, v in zip(names, vals):
                setattr(out, n, v)
            return out
        return split(results, rebuild)
    raise TypeError(f"{where}: cannot update a {type(tree).__name__}; parameters must be arrays "
                    "(or dlarrays) in dicts, lists, tuples, dataclasses or objects' attributes")


def _learnables_of(x):
    """A companion of a network's parameters: its Learnables when it is a network itself."""
    if getattr(type(x), "__sct_network__", False):
        return x.Learnables
    return x


def _data(x):
    if x is None:
        return None
    if isinstance(x, dlarray):
        return x.data
    return np.asarray(x)


def _like(value, param):
    """``value`` as a dlarray when the parameter was one, else a plain array (0-d for numbers)."""
    if isinstance(param, dlarray):
        return dlarray(value)
    return value


def _float(x):
    """The parameter's values as a float array (integers become float64)."""
    arr = _data(x)
    return arr if np.issubdtype(arr.dtype, np.inexact) else arr.astype(np.float64)


def _state(state, param):
    """The state's values, zeros like the parameter when the state is None (MATLAB's [])."""
    if state is None:
        return np.zeros_like(param)
    return _data(state)


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
    def step(p, g, v):
        pd = _float(p)
        new_v = momentum * _state(v, pd) - learnRate * _data(g)
        return _like(pd + new_v, p), _like(new_v, p)
    return tree_map(step, params, grad, vel, nout=2)


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

    >>> p, m, v = adamupdate(np.array([1.0, 2.0]), np.array([1.0, -1.0]), None, None, 1, 0.1)
    >>> np.round(p, 4)
    array([0.9, 2.1])
    """
    t = int(iteration)
    if t < 1 or t != iteration:
        raise ValueError(f"adamupdate: iteration must be a positive integer, got {iteration!r}")
    rate = learnRate * np.sqrt(1 - sqGradDecay ** t) / (1 - gradDecay ** t)

    def step(p, g, m, v):
        pd = _float(p)
        gd = _data(g)
        new_m = gradDecay * _state(m, pd) + (1 - gradDecay) * gd
        new_v = sqGradDecay * _state(v, pd) + (1 - sqGradDecay) * gd * gd
        new_p = pd - rate * new_m / (np.sqrt(new_v) + epsilon)
        return _like(new_p, p), _like(new_m, p), _like(new_v, p)
    return tree_map(step, params, grad, averageGrad, averageSqGrad, nout=3)


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
    def step(p, g, v):
        pd = _float(p)
        gd = _data(g)
        new_v = sqGradDecay * _state(v, pd) + (1 - sqGradDecay) * gd * gd
        new_p = pd - learnRate * gd / (np.sqrt(new_v) + epsilon)
        return _like(new_p, p), _like(new_v, p)
    return tree_map(step, params, grad, averageSqGrad, nout=2)


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
    out = tree_map(collect, params, *more)
    if results and isinstance(results[0], tuple):
        pending = iter(results)          # the same leaves in the same order: regroup the outputs
        return tree_map(lambda p, *rest: next(pending), params, *more, nout=len(results[0]))
    return out
