"""A list, tuple or object argument handed back by the function is the caller's object itself, with
its Python numbers as they are (red55r W3: a new list/tuple/namespace came back, its floats as 1x1
dlarrays, where Python returns the object it was given).  Writes into such arguments are made into
the caller's object or refused, so the object handed back is the one the caller sees."""
from types import SimpleNamespace
from dataclasses import dataclass
from collections import namedtuple

import numpy as np
import pytest

from sct import dlarray, dlfeval, dlgradient
from gradcheck import D, assert_close

Pair = namedtuple("Pair", "v lr")


@dataclass
class Opt:
    v: object
    lr: float = 0.1


def _loss(x, s):
    y = np.sum(x * x)
    return y, dlgradient(y, x), s


def _loss_writes_field(x, s):
    s.lr = s.lr * 0.5
    y = np.sum(x * x)
    return y, dlgradient(y, x), s


def _loss_reads(x, s):
    y = np.sum(x * s.v)
    return y, dlgradient(y, x), s


MAKERS = {
    "list": lambda: [dlarray(np.ones(2)), 0.5],
    "tuple": lambda: (dlarray(np.ones(2)), 0.5, 3),
    "namespace": lambda: SimpleNamespace(v=dlarray(np.ones(2)), lr=0.1, n=2),
    "dataclass": lambda: Opt(dlarray(np.ones(2))),
    "namedtuple": lambda: Pair(dlarray(np.ones(2)), 0.25),
    "floats": lambda: [1.5, 2],
}


def _plain(fun, x, s):
    g = fun.__globals__
    saved = g["dlgradient"]
    g["dlgradient"] = lambda y, x: None
    try:
        return fun(x, s)
    finally:
        g["dlgradient"] = saved


@pytest.mark.parametrize("kind", sorted(MAKERS))
@pytest.mark.parametrize("fun", [_loss, _loss_writes_field, _loss_reads], ids=lambda f: f.__name__)
def test_an_argument_handed_back_is_the_callers_object(fun, kind):
    if fun is not _loss and kind in ("list", "tuple", "namedtuple", "floats"):
        pytest.skip("no fields")
    x = np.array([1.0, 2.0])
    s_plain, s = MAKERS[kind](), MAKERS[kind]()
    _, _, back_plain = _plain(fun, dlarray(x), s_plain)
    y, g, back = dlfeval(fun, dlarray(x), s)
    assert back is s and back_plain is s_plain
    fields = (lambda o: list(o)) if kind in ("list", "tuple", "namedtuple", "floats") else (lambda o: list(vars(o).values()))
    for got, want in zip(fields(back), fields(back_plain)):
        assert type(got) is type(want)
        assert_close(D(got), D(want))
    assert_close(D(g), np.ones(2) if fun is _loss_reads else 2 * x)    # d/dx sum(x * v), sum(x * x)
