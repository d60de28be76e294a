"""An operator on the result of a helper that returns an object of a user class with that
operator (``o = wrap(x); o * v``): refused at the operator's line at compile time (Python runs the
class's ``__mul__``; differentiating numpy's ``*`` would be wrong) — it was an AttributeError
while computing the gradient.  A helper returning a class without operators, or an array, is
differentiated as before."""
import numpy as np
import pytest

import sct
from sct import CompileError
from tests.gradcheck import assert_close, numerical_gradient


class Lin:
    def __init__(self, a):
        self.a = a

    def __mul__(self, other):
        return self.a * other * 3.0


class Box:
    def __init__(self, a):
        self.a = a


def wrap(x):
    return Lin(x)


def boxed(x):
    return Box(x)


def scaled(x):
    return x * 3.0


def uses_wrapped(x, v):
    o = wrap(x * v[2])
    y = np.sum(o * v[0])
    return y, sct.dlgradient(y, x)


def uses_boxed(x, v):
    o = boxed(x * v[2])
    y = np.sum(o.a * v[0])
    return y, sct.dlgradient(y, x)


def uses_array_helper(x, v):
    o = scaled(x * v[2])
    y = np.sum(o * v[0])
    return y, sct.dlgradient(y, x)


X = np.array([0.5, 1.5])
V = np.array([2.0, 3.0, 4.0])


def test_operator_on_a_helpers_object_is_refused_at_its_line():
    with pytest.raises(CompileError, match="Lin") as info:
        sct.dlfeval(uses_wrapped, sct.dlarray(X), sct.dlarray(V))
    assert info.value.filename.endswith("test_operand_helpers_dec3.py")
    assert info.value.lineno == uses_wrapped.__code__.co_firstlineno + 2


@pytest.mark.parametrize("fn, plain", [
    (uses_boxed, lambda x: np.sum(x * V[2] * V[0])),
    (uses_array_helper, lambda x: np.sum(x * V[2] * 3.0 * V[0])),
])
def test_helpers_without_operators_are_differentiated(fn, plain):
    y, g = sct.dlfeval(fn, sct.dlarray(X), sct.dlarray(V))
    assert_close(float(sct.extractdata(y)), plain(X))
    assert_close(np.asarray(sct.extractdata(g)), numerical_gradient(plain, [X], 0))
