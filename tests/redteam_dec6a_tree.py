"""Tree utilities for the Dec 6a red team: flatten/rebuild the structures users keep parameters in
(dict, list, tuple, namedtuple, dataclass (frozen or not), plain objects) so that a loss over a
structure can be checked leaf by leaf against central differences."""
from __future__ import annotations

import copy
import dataclasses

import numpy as np


def is_leaf(v):
    return isinstance(v, np.ndarray) and v.dtype.kind == "f" or isinstance(v, np.floating)


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
    if hasattr(tree, "__dict__") and not callable(tree) and not isinstance(tree, type):
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
