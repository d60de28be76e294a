"""Red team (Dec 6a): programs as users write them (see tests/test_redteam_dec6a.py).

CASES maps a name to (loss, build, options): ``loss(params, *consts)`` returns a real scalar,
``build()`` returns ``(params, consts)``; the gradient is taken with respect to ``params`` (any
structure of float arrays).  Options: second=False (no Hessian check), refused=(fn, text on the
refused line)."""
import dataclasses
import functools
import math
from collections import namedtuple
from typing import NamedTuple

import numpy as np

CASES = {}


def case(build, **opts):
    def register(f):
        CASES[f.__name__] = (f, build, opts)
        return f
    return register


def flat(t):
    if isinstance(t, dict):
        out = []
        for v in t.values():
            out = out + flat(v)
        return out
    if isinstance(t, (list, tuple)):
        out = []
        for v in t:
            out = out + flat(v)
        return out
    if hasattr(t, "__dict__"):
        out = []
        for v in t.__dict__.values():
            out = out + flat(v)
        return out
    return [t]


def R(seed, *shape, lo=-1.0, hi=1.0):
    return np.random.default_rng(seed).uniform(lo, hi, shape)


def S(v):
    return np.float64(v)


# ---------------------------------------------------------------------------------------- dicts
def _mlp_build():
    return {"W1": R(1, 3, 4), "b1": R(2, 4), "W2": R(3, 4, 2), "b2": R(4, 2)}, (R(5, 5, 3),)


@case(_mlp_build)
def dict_mlp(p, x):
    h = np.tanh(x @ p["W1"] + p["b1"])
    return np.sum((h @ p["W2"] + p["b2"]) ** 2)


@case(_mlp_build)
def dict_mlp_items_loop(p, x):
    reg = 0.0
    for k, v in p.items():
        if k.startswith("W"):
            reg = reg + 0.1 * np.sum(v * v)
    h = np.tanh(x @ p["W1"] + p["b1"])
    return np.sum(h @ p["W2"] + p["b2"]) + reg
