"""A late-binding closure called after its captured name was rebound to a traced value is refused with the user's
names (the lambda, the nested def, the comprehension variable), not the compiler's made-up ones;
the fix the message suggests (a default, ``i=i``) then gives Python's value and gradient."""
import numpy as np
import pytest

from sct import EvaluationError, dlarray, dlfeval, dlgradient
from gradcheck import assert_close


def lambdas_in_loop(x):
    fs = []
    for i in range(3):
        fs.append(lambda t: t * i)
    y = 0.0
    for g in fs:
        y = y + np.sum(g(x))
    return y, dlgradient(y, x)


def lambdas_in_comprehension(x):
    fs = [lambda t: t * i for i in range(3)]
    y = sum(np.sum(g(x)) for g in fs)
    return y, dlgradient(y, x)


def defs_in_loop(x):
    fs = []
    for i in range(3):
        def scale(t):
            return t * i
        fs.append(scale)
    y = 0.0
    for g in fs:
        y = y + np.sum(g(x))
    return y, dlgradient(y, x)


def traced_lambdas_in_loop(x):
    fs = []
    for i in (x, 2.0 * x):              # traced values rebound: not followed (refused)
        fs.append(lambda t: t * i)
    y = 0.0
    for g in fs:
        y = y + np.sum(g(x))
    return y, dlgradient(y, x)


def traced_lambdas_in_comprehension(x):
    fs = [lambda t: t * i for i in (x, 2.0 * x)]
    y = sum(np.sum(g(x)) for g in fs)
    return y, dlgradient(y, x)


def traced_defs_in_loop(x):
    fs = []
    for i in (x, 2.0 * x):
        def scale(t):
            return t * i
        fs.append(scale)
    y = 0.0
    for g in fs:
        y = y + np.sum(g(x))
    return y, dlgradient(y, x)


def bound_as_default(x):
    fs = [lambda t, i=i: t * i ** 2 for i in range(3)]
    y = sum(np.sum(g(x) ** 2) for g in fs)
    return y, dlgradient(y, x)


@pytest.mark.parametrize("fun", [lambdas_in_loop, lambdas_in_comprehension, defs_in_loop])
def test_late_binding_of_a_loop_counter_is_pythons(fun):
    """(dec 7: were refused) every closure reads i's last value, 2, as Python's do:
    y = 3 * sum(2 x), dy/dx = 6."""
    x = np.array([1.0, 2.0])
    y, g = dlfeval(fun, dlarray(x))
    assert float(y.data) == pytest.approx(6 * np.sum(x))
    assert_close(np.asarray(g.data), np.full(2, 6.0))


@pytest.mark.parametrize("fun, what", [(traced_lambdas_in_loop, "the lambda defined at line"),
                                       (traced_lambdas_in_comprehension, "the lambda defined at line"),
                                       (traced_defs_in_loop, "the nested function scale() defined at line")])
def test_refusal_names_the_users_constructs(fun, what):
    with pytest.raises(EvaluationError) as info:
        dlfeval(fun, dlarray(np.array([1.0, 2.0])))
    message = str(info.value)
    assert what in message and "'i'" in message and "i=i" in message
    assert "i_1" not in message and "_lambda" not in message and "_def" not in message
    assert info.value.filename == __file__


def test_the_suggested_default_is_exact():
    x = np.array([1.0, -2.0, 0.5])
    y, g = dlfeval(bound_as_default, dlarray(x))
    # sum over i of sum((i^2 x)^2) = (0 + 1 + 16) sum(x^2)
    assert float(y.data) == pytest.approx(17 * np.sum(x ** 2))
    assert_close(np.asarray(g.data), 34 * x)
