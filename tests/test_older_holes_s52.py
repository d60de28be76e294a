"""Two older wrong gradients (red team 52, redfix52 F5 and F6), each refused now naming the line.

F5: in a helper compiled on its own (called through rt.vjp_at), a user method run after ``np.sum(G * x**3)``
doubled the global G in place; the helper's adjoint reads G by name when the gradient runs (not through its
residuals), so the run-time stale checks of the helper were not made around the call: the gradient of the
doubled G.  F6: ``loss(c, xs)`` writing ``c.h`` read the object again through a function's attribute, a
function's defaults, an iterator, a generator, a dict view or an exception's args: sct's alias walk took those
for leaves, so the second read was of the value at entry (a constant)."""
import inspect

import numpy as np
import pytest

import sct
from sct import dlarray, dlfeval, dlgradient, extractdata
from sct.errors import EvaluationError


def _line(fn, text):
    lines, start = inspect.getsourcelines(fn)
    return start + next(i for i, t in enumerate(lines) if text in t)


# ---- F5 ----
G = np.array([0.5, 1.0, 2.0])


class Key:
    def check(self):
        G[...] *= 2.0
        return 1.0


def body(x, keys):
    L = np.sum(G * x ** 3)
    return L + np.sum(x ** 2) * [k.check() for k in keys][0]


def loss_f5(x, keys):
    L = body(x, keys)
    return L, dlgradient(L, x)


class Key2:
    def check(self):
        return 1.0


def test_helper_user_method_changing_a_global_read_before_refused():
    sct.clear_cache()
    G[...] = [0.5, 1.0, 2.0]
    with pytest.raises(EvaluationError) as e:
        dlfeval(loss_f5, dlarray(np.array([0.3, -0.7, 1.1])), [Key()])
    text = str(e.value)
    assert f"line {_line(body, 'return L + np.sum')}" in text and "changed G in place" in text, text


def test_helper_user_method_not_changing_it_runs_exact():
    sct.clear_cache()
    G[...] = [0.5, 1.0, 2.0]
    x0 = np.array([0.3, -0.7, 1.1])
    L, g = dlfeval(loss_f5, dlarray(x0), [Key2()])
    plain = lambda x: float(np.sum(G * x ** 3) + np.sum(x ** 2))
    e = 1e-6
    fd = np.array([(plain(x0 + e * np.eye(3)[i]) - plain(x0 - e * np.eye(3)[i])) / (2 * e) for i in range(3)])
    assert np.isclose(float(extractdata(L)), plain(x0))
    assert np.allclose(extractdata(g), fd, atol=1e-6)


# ---- F6 ----
class Cell:
    def __init__(self):
        self.W = dlarray(np.array([[0.3, -0.2], [0.1, 0.4]]))
        self.h = np.zeros(2)


XS = np.array([[0.5, -0.3], [0.2, 0.7]])
HOLD = [None]


def loss_attr(c, xs):
    for x in xs:
        c.h = np.tanh(c.W @ c.h + x)
    L = np.sum((c.h + loss_attr.cell.h) ** 2)
    return L, dlgradient(L, c.W)


def loss_next(c, xs):
    for x in xs:
        c.h = np.tanh(c.W @ c.h + x)
    L = np.sum((c.h + next(HOLD[0]).h) ** 2)
    return L, dlgradient(L, c.W)


def loss_pair(c, xs):
    for x in xs:
        c.h = np.tanh(c.W @ c.h + x)
    L = np.sum((c.h + next(HOLD[0])[1].h) ** 2)
    return L, dlgradient(L, c.W)


def loss_call(c, xs):
    for x in xs:
        c.h = np.tanh(c.W @ c.h + x)
    L = np.sum((c.h + HOLD[0]().h) ** 2)
    return L, dlgradient(L, c.W)


def loss_defaults(c, xs):
    for x in xs:
        c.h = np.tanh(c.W @ c.h + x)
    L = np.sum((c.h + HOLD[0].__defaults__[0].h) ** 2)
    return L, dlgradient(L, c.W)


def loss_args(c, xs):
    for x in xs:
        c.h = np.tanh(c.W @ c.h + x)
    L = np.sum((c.h + HOLD[0].args[0].h) ** 2)
    return L, dlgradient(L, c.W)


def loss_view(c, xs):
    for x in xs:
        c.h = np.tanh(c.W @ c.h + x)
    L = np.sum((c.h + list(HOLD[0])[0].h) ** 2)
    return L, dlgradient(L, c.W)


def _set_attr(c):
    loss_attr.cell = c


@pytest.mark.parametrize("fn,hold", [
    (loss_attr, None),
    (loss_next, lambda c: iter([c])),
    (loss_next, lambda c: map(lambda t: t[1], enumerate([c]))),
    (loss_pair, lambda c: enumerate([c])),
    (loss_pair, lambda c: zip([1], [c])),
    (loss_next, lambda c: (v for v in [c])),
    (loss_next, lambda c: iter(next(zip([c], [1])))),
    (loss_call, lambda c: (lambda cc=c: cc)),
    (loss_defaults, lambda c: (lambda a, b=c: a)),
    (loss_args, lambda c: ValueError(c)),
    (loss_view, lambda c: {"c": c}.values()),
], ids=["func_attr", "list_iter", "map_enumerate", "enumerate", "zip", "generator", "zip_tuple_iter", "lambda_default",
        "defaults", "exception_args", "dict_view"])
def test_written_argument_reached_another_way_refused(fn, hold):
    sct.clear_cache()
    c = Cell()
    if hold is None:
        _set_attr(c)
    else:
        HOLD[0] = hold(c)
    with pytest.raises(EvaluationError) as e:
        dlfeval(fn, c, XS)
    text = str(e.value)
    assert f"line {_line(fn, 'c.h = np.tanh')}" in text and "are one object" in text, text
    assert np.array_equal(c.h, np.zeros(2))        # (refused before the run)


@pytest.mark.parametrize("fn", [loss_next, loss_attr, loss_view, loss_defaults])
def test_written_argument_not_reached_runs_exact(fn):
    sct.clear_cache()
    c, other = Cell(), Cell()
    other.h = np.array([0.25, -0.5])
    HOLD[0] = {loss_next: lambda: iter([other]), loss_attr: lambda: None, loss_view: lambda: {"o": other}.values(),
               loss_defaults: lambda: (lambda a, b=other: a)}[fn]()
    loss_attr.cell = other
    L, g = dlfeval(fn, c, XS)
    W0 = np.array([[0.3, -0.2], [0.1, 0.4]])

    def plain(W):
        h = np.zeros(2)
        for x in XS:
            h = np.tanh(W @ h + x)
        return float(np.sum((h + other.h) ** 2))
    e = 1e-6
    fd = np.zeros(4)
    for i in range(4):
        d = np.zeros(4)
        d[i] = e
        fd[i] = (plain(W0 + d.reshape(2, 2)) - plain(W0 - d.reshape(2, 2))) / (2 * e)
    assert np.isclose(float(extractdata(L)), plain(W0))
    assert np.allclose(extractdata(g).ravel(), fd, atol=1e-6)
