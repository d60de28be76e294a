"""A module defining its own ``filter`` (tests/test_redteam_dec23d.py): sct's rewrite of the builtin
filter(f, xs) into a generator expression must not apply to it."""
import numpy as np

from sct import dlgradient


def filter(f, xs):                 # noqa: A001  (the module's own filter: f applied to each item)
    return [f(v) for v in xs]


def applied(x):
    vals = list(filter(lambda v: v * 2.0, [x[0], x[1]]))
    y = vals[0] * vals[1]
    return y, dlgradient(y, x)


def applied_nested(x):
    def inner(u):
        return list(filter(lambda v: v * 2.0, [u[0], u[1]]))
    vals = inner(x)
    y = vals[0] * vals[1]
    return y, dlgradient(y, x)
