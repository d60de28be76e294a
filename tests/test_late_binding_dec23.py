"""Closures that read a name the enclosing function binds again before calling them (Python's late
binding) where the name never holds a traced value: the closures read the new value, as Python's do
(was: refused unless the values were ints, bools, strings or None).  Values against plain Python,
gradients against central differences."""
import numpy as np
import pytest

import sct
from sct import dlarray, dlfeval, dlgradient, extractdata
from gradcheck import numerical_gradient


def _check(plain):
    """plain(x) -> loss, run by dlfeval as ``y = plain(x); return y, dlgradient(y, x)``'s body."""
    def under_sct(x):
        y = plain(x)
        return y, dlgradient(y, x)
    return under_sct


def comprehension_lambdas(x):
    h = x * 1.0
    fs = [lambda u: u * w for w in (0.5, 0.7, 0.8)]      # every lambda reads the last w
    for f in fs:
        h = f(h) + 0.1
    return np.sum(h ** 2)


def appended_in_loop(x):
    fs = []
    for scale in [1.5, -0.5, 2.0]:
        def f(u):
            return np.sin(u) * scale
        fs.append(f)
    return sum(np.sum(f(x)) for f in fs) + np.sum(x ** 2)


def constant_array_rebound(x):
    w = 0.3
    f = lambda u: u * w * np.ones(2)
    fs = [f]
    w = np.array([2.0, 3.0])
    return np.sum(fs[0](x) ** 2)


def passed_to_helper(x):
    k = 2.0
    f = lambda u: np.tanh(u * k)
    k = 0.25
    return np.sum(apply_twice(f, x))


def apply_twice(fn, v):
    return fn(fn(v))


def scalar_from_range(x):
    fs = [lambda u: u ** p for p in range(1, 4)]
    return sum(np.sum(f(x)) for f in fs)


CASES = [comprehension_lambdas, appended_in_loop, constant_array_rebound, passed_to_helper, scalar_from_range]


@pytest.mark.parametrize("plain", CASES, ids=lambda f: f.__name__)
def test_late_binding_of_constants(plain):
    x = np.array([0.5, -1.2])
    y, g = dlfeval(_check(plain), dlarray(x))
    np.testing.assert_allclose(float(extractdata(y)), plain(x), rtol=1e-12)
    np.testing.assert_allclose(extractdata(g), numerical_gradient(plain, [x], 0), rtol=1e-6, atol=1e-8)


def test_late_binding_of_a_traced_value_is_still_refused():
    def g(x):
        h = x * 1.0
        w = h[0]
        fs = [lambda u: u * w]
        w = h[1]
        h = fs[0](h)
        y = np.sum(h ** 2)
        return y, dlgradient(y, x)
    with pytest.raises(sct.EvaluationError, match="is called after 'w'"):
        dlfeval(g, dlarray(np.array([0.5, -1.0])))


def name_traced_later(x):
    w = 0.5
    fs = [lambda u: u * w]
    w = 2.0
    h = fs[0](x)
    w = x[0]
    return np.sum(h ** 2) * w


def name_traced_in_a_loop(x):
    fs = []
    for w in (0.5, 2.0):
        fs.append(lambda u: u * w)
    h = fs[0](x) + fs[1](x)
    for w in (x[0], x[1]):
        h = h * w
    return np.sum(h ** 2)


@pytest.mark.parametrize("plain", [name_traced_later, name_traced_in_a_loop], ids=lambda f: f.__name__)
def test_a_name_traced_elsewhere(plain):
    """w holds a constant where the closures read it and a traced value elsewhere: right, or refused
    (never the traced value's derivative dropped)."""
    x = np.array([0.5, -1.2])
    try:
        y, g = dlfeval(_check(plain), dlarray(x))
    except sct.EvaluationError as error:
        assert "is called after 'w'" in str(error)
        return
    np.testing.assert_allclose(float(extractdata(y)), plain(x), rtol=1e-12)
    np.testing.assert_allclose(extractdata(g), numerical_gradient(plain, [x], 0), rtol=1e-6, atol=1e-8)
