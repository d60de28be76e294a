"""Nested functions that assign to the enclosing function's variables (``nonlocal``,
sct/closures.py ``_take_nonlocals``): such a def takes the names first and returns their new
values after its own, which each call assigns.  Values against plain Python, gradients against
finite differences, forward mode and second order; the uses that are refused."""
from __future__ import annotations

import numpy as np
import pytest

import sct
from gradcheck import D, check_grads, check_two_inputs, numerical_gradient
from sct import dlarray, dlfeval, dlgradient
from sct.errors import CompileError

V = np.array([0.5, -0.2, 0.9])


def accumulate(x):
    h = x * 1.0
    acc = h * 0.0

    def bump(u):
        nonlocal acc
        acc = acc + u
        return u * 0.5
    h = bump(h) + bump(V)
    h = h + acc * 0.3
    return np.sum(np.sin(h))


def mean_of_squares(x):
    total = 0.0
    count = 0

    def add(u):
        nonlocal total, count
        total = total + np.sum(u ** 2)
        count += 1
    for i in range(3):
        add(x * (i + 1))
    return total / count


def running_max(x):
    best = x[0]

    def see(v):
        nonlocal best
        if v > best:
            best = v
            return True
        return False
    flags = [see(v) for v in x]
    return best * 2 + sum(flags)


def no_return(x):
    acc = x * 0.0

    def bump(u):
        nonlocal acc
        acc = acc * 0.5 + u
    bump(x)
    bump(np.sin(x))
    return np.sum(acc ** 2)


def late_reader(x):
    acc = x * 1.0

    def reader():
        return acc * 2

    def bump(u):
        nonlocal acc
        acc = acc + u
    r1 = reader()
    bump(x)
    r2 = reader()
    return np.sum(r1 * r2)


def twice_in_one_line(x):
    acc = x * 1.0

    def bump(u):
        nonlocal acc
        acc = acc * u
        return acc
    y = np.sum(bump(x) * bump(np.cos(x)))
    return y + np.sum(acc)


def in_while_loop(x):
    s = x * 1.0
    steps = 0

    def step():
        nonlocal s, steps
        s = s * 0.7 + np.tanh(s) * 0.1
        steps = steps + 1
        return np.sum(np.abs(s))
    while step() > 0.3:
        pass
    return np.sum(s ** 2) * steps


def helper_with_nonlocal(u):
    acc = u * 0.0

    def push(v):
        nonlocal acc
        acc = acc + np.exp(-v)
    for k in range(2):
        push(u * (k + 1))
    return acc


def through_helper(x):
    return np.sum(helper_with_nonlocal(x) * x)


CASES = [accumulate, mean_of_squares, running_max, no_return, late_reader, twice_in_one_line, in_while_loop,
         through_helper]


@pytest.mark.parametrize("case", CASES, ids=lambda f: f.__name__)
@pytest.mark.parametrize("x", [np.array([0.3, -0.7, 1.1]), np.array([1.5, 0.2, -0.4])])
def test_nonlocal_gradients(case, x):
    check_grads(case, x)


def test_nonlocal_jvp_and_hvp():
    x, v = np.array([0.3, -0.7, 1.1]), np.array([1.0, -0.5, 2.0])
    for case in (accumulate, no_return, late_reader, through_helper):
        y, jv = sct.jvp(case, (x,), (v,))
        assert float(np.asarray(y)) == pytest.approx(case(x), rel=1e-12)
        assert float(np.asarray(jv)) == pytest.approx(numerical_gradient(case, [x], 0) @ v, rel=1e-6, abs=1e-8)
        hv = sct.hvp(case, x, v)
        eps = 1e-5
        grad = lambda a: numerical_gradient(case, [a], 0)
        np.testing.assert_allclose(D(hv), (grad(x + eps * v) - grad(x - eps * v)) / (2 * eps), rtol=1e-4, atol=1e-6)


def two_inputs(x, t):
    acc = t * 1.0

    def mix(u):
        nonlocal acc
        acc = np.tanh(acc * u)
        return np.sum(acc)
    s = mix(x) + mix(x[::-1])
    return s * np.sum(acc * t)


def test_nonlocal_second_order():
    check_two_inputs(two_inputs, np.array([0.3, -0.7, 1.1]), np.array([0.5, 0.2, -0.9]))


def passed_as_value(x):
    acc = 0.0

    def bump(u):
        nonlocal acc
        acc = acc + u
        return acc
    fs = [bump]
    return np.sum(fs[0](x))


def outer_scope(x):
    acc = x * 1.0

    def middle(u):
        def inner(w):
            nonlocal acc
            acc = acc + w
        inner(u)
        return u
    return np.sum(middle(x) * acc)


def recursive(x):
    acc = x * 0.0

    def walk(n):
        nonlocal acc
        acc = acc + x
        if n > 0:
            walk(n - 1)
    walk(2)
    return np.sum(acc)


def appends(x):
    acc = []

    def push(u):
        nonlocal acc
        acc.append(u)
    push(x)
    return np.sum(acc[0])


@pytest.mark.parametrize("case", [passed_as_value, outer_scope, recursive, appends], ids=lambda f: f.__name__)
def test_nonlocal_refusals(case):
    def g(x):
        y = case(x)
        return y, dlgradient(y, x)
    with pytest.raises(CompileError, match="nonlocal|enclosing|captured"):
        dlfeval(g, dlarray(np.array([0.3, -0.7, 1.1])))


def test_nonlocal_source_reads_as_written():
    text = str(sct.source(no_return, dlarray(np.array([0.3, -0.7]))))
    assert "def bump(acc, u):" in text and "return None, acc" in text


def parameter_rebound(x):
    def bump():
        nonlocal x
        x = x * 2
    bump()
    return np.sum(x ** 2)


def two_writers(x):
    acc = x * 1.0

    def a(u):
        nonlocal acc
        acc = acc + u

    def b(u):
        nonlocal acc
        acc = acc * u
    a(x)
    b(x)
    a(np.sin(x))
    return np.sum(acc)


def defined_in_loop(x):
    acc = x * 0.0
    r = x
    for k in range(3):
        def bump(u):
            nonlocal acc
            acc = acc + u * k
            return acc
        r = bump(x)
    return np.sum(acc * r)


def keywords_and_early_return(x):
    acc = x * 0.0

    def bump(u, scale=2.0):
        nonlocal acc
        for i in range(3):
            if i == 2:
                return u
            acc = acc + u * scale
        return None
    bump(x)
    bump(u=x, scale=0.5)
    return np.sum(acc ** 2)


@pytest.mark.parametrize("case", [parameter_rebound, two_writers, defined_in_loop, keywords_and_early_return],
                         ids=lambda f: f.__name__)
def test_nonlocal_more_shapes(case):
    check_grads(case, np.array([0.3, -0.7, 1.1]))
