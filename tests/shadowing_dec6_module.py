"""A module that defines its own `len` (test_call_sequences_dec6): sct's generated loops must still call
Python's len, and the module's own zip / enumerate / map / getattr must be called as they are."""
import builtins as _b

import numpy as np

from sct import dlgradient


def len(x):                 # noqa: A001  (the module's own len, which its functions never call)
    return 1


def zip(a, b):              # noqa: A001  (pairs each item with the first of the other)
    return [(u, b[0]) for u in a]


def enumerate(xs):          # noqa: A001  (counts from 10)
    return [(10 + i, xs[i]) for i in _b.range(xs.shape[0])]


def map(f, xs):             # noqa: A001  (applies f to the first item only)
    return [f(xs[0])]


def getattr(obj, name):     # noqa: A001  (always np.cos)
    return np.cos




def squares(x):
    s = 0.0
    for v in x:
        s = s + v * v
    return s, dlgradient(s, x)


def zipped(x):
    s = 0.0
    for a, b in zip(x, x[::-1]):
        s = s + a * b
    return s, dlgradient(s, x)


def enumerated(x):
    s = 0.0
    for i, v in enumerate(x):
        s = s + v * i
    return s, dlgradient(s, x)


def mapped(x):
    s = sum(map(lambda v: v * 3.0, x))
    return s, dlgradient(s, x)


def got_attr(x):
    s = np.sum(getattr(np, "sin")(x))
    return s, dlgradient(s, x)


def reads_own_len(x):
    s = 0.0 * len(x)          # the module's len (1), read by the function itself
    for v in x:               # and a loop, for which sct's code calls Python's len
        s = s + v * v
    return s, dlgradient(s, x)
