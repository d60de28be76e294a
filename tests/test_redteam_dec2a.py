"""Red team, Dec 2 (a): common subexpressions across in-place writes, ..."""
from __future__ import annotations

import sys
from collections import namedtuple
from typing import NamedTuple

import numpy as np
import pytest

import sct
from sct import dlarray, dlfeval, dlgradient, extractdata
from gradcheck import assert_close, check_grads, numerical_gradient, sct_gradients


pytestmark = pytest.mark.usefixtures("fresh_cache")   # tests/conftest.py


X = np.array([0.3, 0.7, -0.4, 1.2])


# --- CSE (sct/cse.py): an expression recomputed after an in-place write through another name ---------------
def write_through_base(x):
    z = np.ones(4)
    v = z[:2]                     # a view of z
    a = v * 2.0
    z[0] = 5.0                    # changes v too
    b = v * 2.0                   # was read from a: 2 instead of 10
    return np.sum(x[:2] * a) + np.sum(x[:2] * b)


def write_through_view(x):
    z = np.ones(4)
    a = z * 2.0
    b = z * 2.0                   # was b = a: the write below changed both
    u = a[:2]
    u[0] = 9.0
    return np.sum(x * a) + np.sum(x * b)


def write_through_transpose(x):
    z = np.ones((2, 2))
    a = z * 2.0
    b = z * 2.0
    u = a.T
    u[0, 1] = 9.0
    return np.sum(x.reshape(2, 2) * a) + np.sum(x.reshape(2, 2) * b)


def fill_diagonal(x):
    z = np.ones((2, 2))
    a = z * 2.0
    np.fill_diagonal(z, 5.0)      # numpy writing into its argument
    b = z * 2.0
    return np.sum(x.reshape(2, 2) * a) + np.sum(x.reshape(2, 2) * b)


def put(x):
    z = np.ones(4)
    a = z * 2.0
    np.put(z, [0, 2], [5.0, 6.0])
    b = z * 2.0
    return np.sum(x * a) + np.sum(x * b)


def putmask(x):
    z = np.ones(4)
    a = z * 2.0
    np.putmask(z, z > 0, 3.0)
    b = z * 2.0
    return np.sum(x * a) + np.sum(x * b)


def copyto_view(x):
    z = np.ones(4)
    v = z[1:]
    a = v * 2.0
    np.copyto(z, np.arange(4.0))
    b = v * 2.0
    return np.sum(x[1:] * a) + np.sum(x[1:] * b)


def fill_view(x):
    z = np.ones(4)
    v = z[1:]
    a = v * 2.0
    z.fill(3.0)
    b = v * 2.0
    return np.sum(x[1:] * a) + np.sum(x[1:] * b)


def reshape_view(x):
    z = np.ones(4)
    v = np.reshape(z, (2, 2))
    a = v * 3.0
    w = [z]
    w[0][1] = 4.0                 # through a list holding z
    b = v * 3.0
    return np.sum(x.reshape(2, 2) * a * b)


def write_into_transpose(x):
    z = np.ones((2, 2))
    a = z * 2.0
    z.T[0, 1] = 5.0               # a view of z written into
    b = z * 2.0
    return np.sum(x.reshape(2, 2) * a) + np.sum(x.reshape(2, 2) * b)


def write_into_list_item(x):
    z = [np.ones(4), np.ones(4)]
    w = z[0]
    c = w * 2.0
    z[0][1] = 5.0                 # the array w names
    b = w * 2.0
    return np.sum(x * b) + np.sum(x * c)


@pytest.mark.parametrize("fun", [write_through_base, write_through_view, write_through_transpose, fill_diagonal,
                                 put, putmask, copyto_view, fill_view, reshape_view, write_into_transpose,
                                 write_into_list_item])
def test_expression_after_an_in_place_write_through_another_name(fun):
    """An untraced array written in place (numpy's in-place behaviour kept) through a view, an alias
    or a numpy function writing into its argument: the same expression of the same names after it is
    a new value; CSE read it from the first (or made the two names one object)."""
    check_grads(fun, X)


# --- a namedtuple built with keywords from traced values --------------------------------------------------------
Pair = namedtuple("Pair", "a b")
Triple = namedtuple("Triple", "a b c", defaults=[0.5])


class Typed(NamedTuple):
    w: np.ndarray
    b: float = 0.25


def namedtuples_by_keyword(x):
    p = Pair(a=x, b=x * 2)
    q = Pair(np.sin(x), b=x)
    r = Triple(b=x, a=np.cos(x))
    s = Typed(w=x * 3.0)
    t = Typed(b=np.sum(x), w=x)
    return np.sum(p.a * p.b) + np.sum(q.a * q.b) + np.sum(r.a * r.b * r.c) + np.sum(s.w * s.b) + np.sum(t.w) * t.b


def test_namedtuple_built_with_keywords():
    """Pair(a=x, b=...) with a traced value was refused as not matching object.__init__ (a
    namedtuple's signature is its __new__'s: the fields, with their defaults)."""
    check_grads(namedtuples_by_keyword, X)


def namedtuple_second_order(x):
    p = Pair(b=x ** 3, a=x)
    y = np.sum(p.a * p.b)
    g = dlgradient(y, x)
    return dlgradient(np.sum(g * g), x)


def test_namedtuple_by_keyword_second_order():
    got = extractdata(dlfeval(namedtuple_second_order, dlarray(X)))
    assert_close(got, numerical_gradient(lambda x: np.sum((4 * x ** 3) ** 2), [X], 0), rtol=1e-5)


# --- outside state changed and read in code a second derivative recomputes ------------------------------------
class Counter:
    n = 0


class Cfg:
    scale = 1.0


LOG = []


def tick(x):
    Counter.n += 1                 # runs again in the recomputation, on the changed count
    return x * Counter.n


def loss_ticks(x):
    s = 0.0
    for i in range(3):
        s = s + np.sum(tick(x) ** 2)
    return s


def loss_inline_tick(x):
    Counter.n += 1
    return np.sum((x * Counter.n) ** 2)


def tick_list(x):
    LOG.append(1)                  # replayed in the recomputation: len(LOG) is the final one
    return x * len(LOG)


def loss_list(x):
    return np.sum(tick_list(x) ** 2) + np.sum(tick_list(x) ** 2)


def bump():
    Cfg.scale = Cfg.scale + 1.0


def loss_bumped(x):
    a = np.sum(x * Cfg.scale)
    bump()                         # replayed: the recomputed read before it sees 2.0
    b = np.sum(x * Cfg.scale)
    return (a + b) ** 2


def scaled(x):
    return x * Cfg.scale


def loss_helper_reads(x):
    a = np.sum(scaled(x))          # the helper reads Cfg.scale: again in the recomputation
    bump()
    b = np.sum(scaled(x))
    return (a + b) ** 2


class Acc:
    def __init__(self):
        self.k = 0

    def step(self, x):
        self.k += 1
        return x * self.k


ACC = Acc()


def loss_method_state(x):
    return np.sum(ACC.step(x) ** 2) + np.sum(ACC.step(x) ** 2)


def hvp_of(f):
    def hv(x, v):
        y = f(x)
        g = dlgradient(y, x)
        return dlgradient(np.sum(g * v), x)
    return hv


def _reset():
    Counter.n = 0
    Cfg.scale = 1.0
    LOG.clear()
    ACC.k = 0


@pytest.mark.parametrize("loss", [loss_ticks, loss_inline_tick, loss_list, loss_bumped, loss_method_state,
                                  loss_helper_reads])
def test_outside_state_changed_in_recomputed_code_is_refused(loss):
    """H v through code that changes a global's (a class's, self's) state and reads it: the
    recomputation of the first gradient read the state as the first run left it (Hessians of
    2 (4^2 + 5^2 + 6^2) instead of 2 (1 + 4 + 9)); now an EvaluationError naming the line."""
    v = np.array([1.0, -0.5, 0.25, 2.0])
    _reset()
    with pytest.raises(sct.EvaluationError, match="recomputes") as info:
        dlfeval(hvp_of(loss), dlarray(X), dlarray(v))
    assert info.value.filename == __file__
    _reset()                                     # a first derivative runs the code once: unaffected
    value, (grad,) = sct_gradients(loss, X)

    def plain(x):
        _reset()
        return loss(x)
    assert_close(extractdata(value), plain(X))
    assert_close(grad, numerical_gradient(plain, [X], 0))
    _reset()


class Cached:
    def __init__(self, w):
        self.w = w
        self.seen = None

    def forward(self, x):
        self.seen = np.shape(x)    # written again with the same value, read nowhere before
        return np.tanh(self.w * x)


HIST = []


def loss_cached(x, v):
    layer = Cached(np.array([0.5, -0.2, 0.9, 1.1]))
    y = np.sum(layer.forward(x) ** 2)
    HIST.append(float(extractdata(y)))          # replayed, never read
    g = dlgradient(y, x)
    return dlgradient(np.sum(g * v), x)


def test_state_written_but_not_read_back_still_differentiates():
    v = np.array([1.0, -0.5, 0.25, 2.0])
    HIST.clear()
    got = extractdata(dlfeval(loss_cached, dlarray(X), dlarray(v)))
    w = np.array([0.5, -0.2, 0.9, 1.1])
    grad = lambda x: numerical_gradient(lambda z: np.sum(np.tanh(w * z) ** 2), [x], 0)   # noqa: E731
    eps = 1e-4
    assert_close(got, (grad(X + eps * v) - grad(X - eps * v)) / (2 * eps), rtol=1e-4, atol=1e-5)
    assert len(HIST) == 1


# --- a global rebound during the call through globals() or as a module attribute -------------------------------
def act(z):
    return np.tanh(z)


def _via_globals():
    globals()["act"] = np.cos
    return 0


def _via_module():
    sys.modules[__name__].act = np.cos
    return 0


def _via_setattr():
    setattr(sys.modules[__name__], "act", np.cos)
    return 0


def loss_globals(x):
    a = np.sum(act(x))
    _via_globals()
    return a + 2.0 * np.sum(act(x))


def loss_module(x):
    a = np.sum(act(x))
    _via_module()
    return a + 2.0 * np.sum(act(x))


def loss_setattr(x):
    a = np.sum(act(x))
    _via_setattr()
    return a + 2.0 * np.sum(act(x))


@pytest.mark.parametrize("loss", [loss_globals, loss_module, loss_setattr])
def test_global_rebound_without_the_global_statement_is_refused(loss):
    """Generated code reads a global once per call: a helper rebinding it with
    ``globals()["act"] = ...`` or ``module.act = ...`` (not ``global act``) gave the old function's
    value and gradient for the second call; refused like ``global act``."""
    original = act
    try:
        with pytest.raises(sct.CompileError, match="act") as info:
            sct_gradients(loss, X)
        assert info.value.filename == __file__
    finally:
        globals()["act"] = original
