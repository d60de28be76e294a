"""Tree utilities for the Dec 6a red team: flatten/rebuild the structures users keep parameters in
(dict, list, tuple, namedtuple, dataclass (frozen or not), plain objects) so that a loss over a
structure can be checked leaf by leaf against central differences."""
from __future__ import annotations

import copy
import functools
import types
import dataclasses

import numpy as np


def is_leaf(v):
    return isinstance(v, np.ndarray) and v.dtype.kind == "f" or isinstance(v, np.floating)


_OPAQUE = (type, types.FunctionType, types.BuiltinFunctionType, types.MethodType, types.ModuleType, np.ufunc,
           functools.partial)


def tmap(fn, tree):
    """A new tree with every float leaf replaced by fn(leaf); other values kept."""
    if is_leaf(tree) or type(tree).__name__ == "dlarray":
        return fn(tree)
    if isinstance(tree, dict):
        return type(tree)((k, tmap(fn, v)) for k, v in tree.items())
    if isinstance(tree, tuple) and hasattr(tree, "_fields"):
        return type(tree)(*[tmap(fn, v) for v in tree])
    if isinstance(tree, (list, tuple)):
        return type(tree)(tmap(fn, v) for v in tree)
    if dataclasses.is_dataclass(tree) and not isinstance(tree, type):
        new = copy.copy(tree)
        for f in dataclasses.fields(tree):
            object.__setattr__(new, f.name, tmap(fn, getattr(tree, f.name)))
        return new
    if hasattr(tree, "__dict__") and not isinstance(tree, _OPAQUE):
        new = copy.copy(tree)
        for k, v in vars(tree).items():
            object.__setattr__(new, k, tmap(fn, v))
        return new
    return tree


def leaves(tree):
    out = []

    def grab(v):
        out.append(v)
        return v
    tmap(grab, tree)
    return out


def replace_leaves(tree, new):
    it = iter(new)
    return tmap(lambda _: next(it), tree)


def paired_leaves(params, grads):
    """The items of ``grads`` at the float leaves of ``params`` (walked in parallel)."""
    out = []

    def walk(p, g):
        if is_leaf(p) or type(p).__name__ == "dlarray":
            out.append(g)
        elif isinstance(p, dict):
            for k in p:
                walk(p[k], g[k])
        elif isinstance(p, (list, tuple)):
            for a, b in zip(p, g):
                walk(a, b)
        elif hasattr(p, "__dict__") and not isinstance(p, _OPAQUE):
            for k in vars(p):
                walk(vars(p)[k], getattr(g, k))
    walk(params, grads)
    return out


def mirror(params, vs):
    """``params``' structure for redteam_dec6a_progs.vdot: the arrays ``vs`` at the float leaves,
    None elsewhere, objects as dicts of their fields."""
    it = iter(vs)

    def walk(p):
        if is_leaf(p) or type(p).__name__ == "dlarray":
            return next(it)
        if isinstance(p, dict):
            return {k: walk(v) for k, v in p.items()}
        if isinstance(p, (list, tuple)):
            return [walk(v) for v in p]
        if hasattr(p, "__dict__") and not isinstance(p, _OPAQUE):
            return {k: walk(v) for k, v in vars(p).items()}
        return None
    return walk(params)
