"""A helper taking dlgradient of its parameter of a y that also reads another parameter
(sct/helper_sites.py's joint sites), reached through a forwarding function: a lambda, a closure
from a factory, a partial, a method, a callable object, a dict of functions, a nested def.
sct differentiates the helper's own code, holding the other parameter constant; MATLAB's trace
differentiates through the call, so a call passing there a value computed from the first
argument is refused, whichever way it is reached (was: the partial derivative, silently)."""
import functools

import numpy as np
import pytest

from sct import CompileError, dlarray, dlfeval, dlgradient


def hj(z, y):
    return dlgradient(np.sum(z * y), z)


def make(c):
    return lambda z, y: hj(z, y) * c


class Scaled:
    def __init__(self, c):
        self.c = c

    def apply(self, z, y):
        return hj(z, y) * self.c

    def __call__(self, z, y):
        return hj(z, y) * self.c


FUNS = {"h": lambda z, y: hj(z, y)}


def wrap(z, y):
    return hj(z, y)


def via_lambda(x):
    g = lambda z, y: hj(z, y)      # noqa: E731
    return g(x, x * 2)


def via_lambda_closure(x):
    k = 2.0
    g = lambda z, y: hj(z, y) * k      # noqa: E731
    return g(x, x * 2)


def via_two_lambdas(x):
    h = lambda a, b: hj(a, b)      # noqa: E731
    g = lambda z, y: h(z, y)      # noqa: E731
    return g(x, x * 2)


def via_factory(x):
    g = make(2.0)
    return g(x, x * 2)


def via_partial(x):
    g = functools.partial(hj)
    return g(x, x * 2)


def via_method(x):
    return Scaled(2.0).apply(x, x * 2)


def via_callable_object(x):
    m = Scaled(2.0)
    return m(x, x * 2)


def via_dict(x):
    return FUNS["h"](x, x * 2)


def via_module_function(x):
    return wrap(x, x * 2)


def via_lambda_in_loop(x):
    out = 0
    for _ in range(2):
        g = lambda z, y: hj(z, y)      # noqa: E731
        out = out + g(x, x * 2)
    return out


def via_nested_defs(x):
    def outer(z, y):
        inner = lambda a, b: hj(a, b)      # noqa: E731
        return inner(z, y)
    return outer(x, x * 2)


def via_factory_differentiated(x):
    g = make(2.0)
    return dlgradient(np.sum(g(x, x * 2)), x)


LINKED = [via_lambda, via_lambda_closure, via_two_lambdas, via_factory, via_partial, via_method,
          via_callable_object, via_dict, via_module_function, via_lambda_in_loop, via_nested_defs,
          via_factory_differentiated]


@pytest.mark.parametrize("fun", LINKED, ids=lambda f: f.__name__)
def test_linked_call_through_a_forwarding_function_is_refused(fun):
    x = dlarray(np.array([1.0, 2.0]))
    with pytest.raises(CompileError, match="dlgradient") as info:
        dlfeval(fun, x)
    assert "test_joint_forwarded_dec24.py" in str(info.value)


def independent(x, y):
    g = lambda z, w: hj(z, w)      # noqa: E731
    return g(x, y)


def constant_second(x):
    g = make(3.0)
    return g(x, np.array([3.0, 4.0]))


def not_a_site(x):
    def outer(z, y):
        inner = lambda a, b: a * b      # noqa: E731
        return inner(z, y)
    return dlgradient(np.sum(outer(x, x * 2)), x)


def test_unlinked_and_siteless_calls_keep_their_exact_values():
    x = np.array([1.0, 2.0])
    y = np.array([5.0, 7.0])
    # d/dz sum(z * w) = w: the arguments are independent, so the helper's derivative is the whole one
    assert np.allclose(dlfeval(independent, dlarray(x), dlarray(y)).data.ravel(), y)
    assert np.allclose(dlfeval(constant_second, dlarray(x)).data.ravel(), 3.0 * np.array([3.0, 4.0]))
    # d/dx sum(x * 2x) = 4x, through two forwarding functions without a dlgradient of their own
    assert np.allclose(dlfeval(not_a_site, dlarray(x)).data.ravel(), 4 * x)
