"""Findings of stop 41 (mine): each test fails before its fix."""
import numpy as np
import pytest

import sct
from sct import dlarray, dlfeval, dlgradient


def _bound_list(x):
    list = [x[0], x[1]]             # a local named like the builtin sct's code calls
    y = 0.0
    for i in range(2):
        y = y + list[i] * x[2]
    return y, dlgradient(y, x)


def _parameter_list(x, list=None):
    s = 0.0
    for i in range(3):
        s = s + x[i] ** 2
    return s, dlgradient(s, x)


@pytest.mark.parametrize("fun", [_bound_list, _parameter_list])
def test_local_named_list_is_refused_at_the_function(fun):
    # was: "TypeError while evaluating `return y, dlgradient(y, x)`: 'list' object is not callable",
    # the generated list(tape) calling the user's list
    with pytest.raises(sct.CompileError, match="binds a variable named 'list'.*Rename yours"):
        dlfeval(fun, dlarray(np.array([0.5, -1.2, 2.0])))


def _helper_binding_list(x):
    list = [x[0], x[1]]
    s = 0.0
    for v in list:
        s = s + v * v
    return s


def _calls_helper(x):
    s = _helper_binding_list(x) + _helper_binding_list(x * 2.0)
    return s, dlgradient(s, x)


def _sum_as_a_name(x):
    sum = 0.0
    for v in x:
        sum = sum + v * v
    return sum, dlgradient(sum, x)


@pytest.mark.parametrize("fun", [_calls_helper, _sum_as_a_name])
def test_names_of_builtins_the_code_does_not_call_still_run(fun):
    x = np.array([0.5, -1.2, 2.0])
    y, g = dlfeval(fun, dlarray(x))
    plain = fun.__code__.co_name
    expected = {"_calls_helper": 5 * (x[0] ** 2 + x[1] ** 2), "_sum_as_a_name": np.sum(x ** 2)}[plain]
    grad = {"_calls_helper": np.array([10 * x[0], 10 * x[1], 0.0]), "_sum_as_a_name": 2 * x}[plain]
    np.testing.assert_allclose(np.asarray(y), expected, rtol=1e-12)
    np.testing.assert_allclose(np.asarray(g), grad, rtol=1e-12)
