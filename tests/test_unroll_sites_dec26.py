"""A gradient taken inside ``for i in range(n)`` and differentiated again (a few steps of gradient
descent differentiated through, as in meta-learning) runs: sct writes the loop out step by step
(sct/unroll.py) where it would refuse the site in a loop.  Values against plain Python, gradients
against finite differences of the hand-written unrolled descent; loops that cannot be written out
(a while loop, a break, a bound only known when the code runs, too many steps) keep the refusal."""
import numpy as np
import pytest

import sct
from sct import dlarray, dlfeval, dlgradient, CompileError

WEIGHTS = np.arange(1, 4)


def inner(w):
    return np.sum((w - 1.0) ** 2 * WEIGHTS) + np.sum(np.sin(w))


def inner_grad(w):
    return 2 * (w - 1.0) * WEIGHTS + np.cos(w)


def descent(w0, steps, rates):
    w = w0
    for r in rates[:steps]:
        w = w - r * inner_grad(w)
    return np.sum(w ** 2) + np.sum(w * w0)


def fd(f, x, eps=1e-6):
    return np.array([(f(x + eps * e) - f(x - eps * e)) / (2 * eps) for e in np.eye(len(x))])


W0 = np.array([0.2, -0.3, 0.5])


def maml(w0):
    w = w0 * 1.0
    for i in range(3):
        g = dlgradient(inner(w), w)
        w = w - 0.1 * g
    L = np.sum(w ** 2) + np.sum(w * w0)
    return L, dlgradient(L, w0)


def maml_same_value(w0):
    w = w0                              # (the first step's w is w0 itself: followed once written out)
    for i in range(3):
        g = dlgradient(inner(w), w)
        w = w - 0.1 * g
    L = np.sum(w ** 2) + np.sum(w * w0)
    return L, dlgradient(L, w0)


def schedule(w0):
    w = w0 * 1.0
    for i in range(1, 6, 2):            # i = 1, 3, 5: the rate read from the loop variable
        w = w - (0.3 / i) * dlgradient(inner(w), w)
    L = np.sum(w ** 2) + np.sum(w * w0)
    return L, dlgradient(L, w0)


def nested(w0):
    w = w0 * 1.0
    for epoch in range(2):
        for step in range(2):
            w = w - 0.05 * dlgradient(inner(w), w)
    L = np.sum(w ** 2) + np.sum(w * w0)
    return L, dlgradient(L, w0)


def in_a_dict(w0):
    p = {"w": w0 * 1.0}
    for k in range(3):
        g = dlgradient(inner(p["w"]), p["w"])
        p = {"w": p["w"] - 0.1 * g}
    L = np.sum(p["w"] ** 2) + np.sum(p["w"] * w0)
    return L, dlgradient(L, w0)


@pytest.mark.parametrize("fun, steps, rates", [
    (maml, 3, [0.1] * 3),
    (maml_same_value, 3, [0.1] * 3),
    (schedule, 3, [0.3, 0.1, 0.06]),
    (nested, 4, [0.05] * 4),
    (in_a_dict, 3, [0.1] * 3),
])
def test_descent_differentiated_through(fun, steps, rates):
    for w0 in (W0, W0 + 0.2):           # the cached entry too
        L, g = dlfeval(fun, dlarray(w0))
        np.testing.assert_allclose(float(L), descent(w0, steps, rates), rtol=1e-12)
        np.testing.assert_allclose(g.data, fd(lambda v: descent(v, steps, rates), w0), rtol=1e-6, atol=1e-8)


def test_loop_variable_after_the_loop():
    def f(w0):
        w = w0 * 1.0
        for i in range(3):
            w = w - 0.1 * dlgradient(inner(w), w)
        L = np.sum(w ** 2) * i
        return L, dlgradient(L, w0)
    L, g = dlfeval(f, dlarray(W0))
    np.testing.assert_allclose(float(L), 2 * np.sum(_w3(W0) ** 2), rtol=1e-12)         # i == 2 after it
    np.testing.assert_allclose(g.data, fd(lambda v: 2 * np.sum(_w3(v) ** 2), W0), rtol=1e-6, atol=1e-8)


def _w3(w):
    for _ in range(3):
        w = w - 0.1 * inner_grad(w)
    return w


def _refused(fun):
    with pytest.raises(CompileError, match="inside a loop cannot be differentiated again"):
        dlfeval(fun, dlarray(W0))


def test_a_break_keeps_the_refusal():
    def f(w0):
        w = w0 * 1.0
        for i in range(3):
            w = w - 0.1 * dlgradient(inner(w), w)
            if i == 1:
                break
        L = np.sum(w ** 2)
        return L, dlgradient(L, w0)
    _refused(f)


def test_a_bound_known_when_it_runs_keeps_the_refusal():
    # (an int argument as the bound is written out for its value since glob56: tests/test_glob56_s56.py;
    # a bound the function computes stays refused)
    def f(w0, m):
        w = w0 * 1.0
        n = int(m)
        for i in range(n):
            w = w - 0.1 * dlgradient(inner(w), w)
        L = np.sum(w ** 2)
        return L, dlgradient(L, w0)
    with pytest.raises(CompileError, match="inside a loop cannot be differentiated again"):
        dlfeval(f, dlarray(W0), 3)


def test_a_while_loop_keeps_the_refusal():
    def f(w0):
        w = w0 * 1.0
        i = 0
        while i < 3:
            w = w - 0.1 * dlgradient(inner(w), w)
            i += 1
        L = np.sum(w ** 2)
        return L, dlgradient(L, w0)
    _refused(f)


def test_too_many_steps_keep_the_refusal():
    def f(w0):
        w = w0 * 1.0
        for i in range(100):
            w = w - 0.001 * dlgradient(inner(w), w)
        L = np.sum(w ** 2)
        return L, dlgradient(L, w0)
    _refused(f)


def test_first_order_loops_are_not_written_out():
    def f(w0):
        w = w0 * 1.0
        for i in range(3):
            w = w - 0.1 * dlgradient(inner(w), w, EnableHigherDerivatives=False)
        return np.sum(w ** 2)
    dlfeval(f, dlarray(W0))
    assert "for i in range(3)" in sct.source(f, dlarray(W0))
