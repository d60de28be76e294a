"""Fixes (Dec 20).

1. A lambda given a name (``f.__name__ = "abs2"``, as a dict of test functions or a decorator does) was
   read as a def: its source line parsed as garbage, an internal error.  A lambda is known by its code
   (``co_name``).
"""
from __future__ import annotations

import numpy as np
import pytest

from gradcheck import check_grads

NAMED = {"abs2": lambda a: np.sum(np.abs(a) ** 2), "sin": lambda a: np.sum(np.sin(a) * a)}


@pytest.mark.parametrize("name", sorted(NAMED))
def test_renamed_lambda(name):
    f = NAMED[name]
    f.__name__ = f.__qualname__ = name
    check_grads(f, np.array([0.3, -0.5, 1.2]))


# 2. Today's constructs together (a generator, a nonlocal writer, try/except) through every way of
#    differentiating: dlfeval, dlaccelerate, jvp (forward and transposed), hvp, a second derivative.

import sct  # noqa: E402
from gradcheck import D, numerical_gradient  # noqa: E402
from sct import dlaccelerate, dlarray, dlfeval, dlgradient  # noqa: E402


def _scaled(u, n=3):
    for i in range(n):
        yield u * (i + 1) * 0.3


def combined(x):
    acc = x * 0.0

    def bump(u):
        nonlocal acc
        acc = acc + np.sin(u)
        return u * 0.5
    h = bump(x)
    for g in _scaled(h):
        h = h + bump(g)
    try:
        z = np.linalg.solve(np.eye(3) * 2 + np.outer(h, h) * 0.1, h)
    except np.linalg.LinAlgError:
        z = h
    return np.sum(z ** 2) + np.sum(acc * h)


def _combined_gradient(x):
    y = combined(x)
    return y, dlgradient(y, x)


def _combined_second(x):
    y = combined(x)
    gx = dlgradient(y, x, EnableHigherDerivatives=True)
    z = np.sum(gx ** 2)
    return z, dlgradient(z, x)


def test_combined_constructs_every_mode():
    x0, v = np.array([0.3, -0.7, 1.1]), np.array([1.0, 0.5, -0.2])
    fd = numerical_gradient(combined, [x0], 0)
    y, g = dlfeval(_combined_gradient, dlarray(x0))
    assert float(D(y)) == pytest.approx(combined(x0), rel=1e-12)
    np.testing.assert_allclose(D(g), fd, rtol=1e-6, atol=1e-8)
    accelerated = dlaccelerate(_combined_gradient)
    for shift in (0.0, 0.01, 0.0):
        y, g = accelerated(dlarray(x0 + shift))
        np.testing.assert_allclose(D(g), numerical_gradient(combined, [x0 + shift], 0), rtol=1e-6, atol=1e-8)
    for mode in ("forward", "transpose"):
        _, jv = sct.jvp(combined, (x0,), (v,), mode=mode)
        assert float(np.asarray(jv)) == pytest.approx(fd @ v, rel=1e-6, abs=1e-8)
    eps = 1e-4
    want = (numerical_gradient(combined, [x0 + eps * v], 0) - numerical_gradient(combined, [x0 - eps * v], 0)) / (2 * eps)
    np.testing.assert_allclose(D(sct.hvp(combined, x0, v)), want, rtol=1e-4, atol=1e-5)
    z, gz = dlfeval(_combined_second, dlarray(x0))
    zf = lambda x: float(np.sum(D(dlfeval(_combined_gradient, dlarray(x))[1]) ** 2))
    assert float(D(z)) == pytest.approx(zf(x0), rel=1e-10)
    np.testing.assert_allclose(D(gz), numerical_gradient(zf, [x0], 0), rtol=1e-5, atol=1e-7)


# 3. A generator expression given to any(), all() or zip() that calls a function with effects: Python
#    runs it only for the items taken (any() stops at the first True), sct built it whole, so a nonlocal
#    writer ran for every item (acc 0.7 where Python's is 0.3: a wrong value) and a helper drawing
#    random numbers drew for every item (the next draw differed). Refused now; pure helpers still run.

def _nonlocal_writer_in_any(x):
    acc = x[0] * 0.0

    def bump(v):
        nonlocal acc
        acc = acc + v
        return v > 0
    m = any(bump(v) for v in x)
    return acc * (2.0 if m else 1.0)


def _noisy(v, rng):
    return v + rng.normal() * 0.01


def _drawing_helper_in_any(x, rng):
    m = any(_noisy(v, rng) > 0 for v in x)
    return np.sum(x) * (2.0 if m else 1.0) + rng.normal()


def _pure_check(v):
    return np.tanh(v) > 0.1


def _pure_helpers_in_partial_consumers(x):
    def small(v):
        return v * 2 > 0.5
    a = 2.0 if any(_pure_check(v) for v in x) else 1.0
    b = 3.0 if all(small(v) for v in x) else 1.0
    return np.sum(x ** 2) * a * b + sum(p * q for p, q in zip((_pure_check(v) * v for v in x), x))


def test_effects_in_a_generator_taken_in_part_are_refused():
    import sct as _sct

    def g1(x):
        y = _nonlocal_writer_in_any(x)
        return y, dlgradient(y, x)

    def g2(x, rng):
        y = _drawing_helper_in_any(x, rng)
        return y, dlgradient(y, x)
    with pytest.raises(_sct.CompileError, match="calling a function with effects"):
        dlfeval(g1, dlarray(np.array([0.3, -0.7, 1.1])))
    with pytest.raises(_sct.CompileError, match="calling a function with effects"):
        dlfeval(g2, dlarray(np.array([0.3, -0.7, 1.1])), np.random.default_rng(5))
    check_grads(_pure_helpers_in_partial_consumers, np.array([0.3, -0.7, 1.1]))
