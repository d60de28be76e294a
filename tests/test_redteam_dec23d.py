"""Red team D (dec 23): the session's new features (dlgradient of a copy of an argument or of a name's
last value, late-bound closures of constants, dlfeval keywords into **kw, with-as, x.flat, filter)
attacked for silent wrong values or gradients.  Values against plain Python, gradients against central
differences (or a clear refusal at the user's line)."""
import numpy as np
import pytest

import sct
from sct import dlarray, dlfeval, dlgradient, extractdata
from gradcheck import numerical_gradient


def E(v):
    return np.asarray(extractdata(v)) if type(v).__name__ == "dlarray" else np.asarray(v)


# --- 1. a helper compiled on its own (called in a loop, or looping) taking dlgradient of a copy of its
# parameter: its own code holds the other parameters constant, which the checks of a dlgradient of the
# parameter itself refuse (sct/helper_sites.py); the copy x0 = x escaped them (zeros, partial derivatives)

def grad_of_copy(y, x):
    x0 = x
    x = x * 2
    return dlgradient(y, x0)


def caller_zero(x):
    out = 0
    for i in range(1):
        y = np.sum(x ** 3)
        out = out + grad_of_copy(y, x)
    return out


def test_helper_copy_of_parameter_y_from_caller_refused():
    # was: zeros (the helper's own code: y does not depend on x there), where 3 x**2 is the gradient
    with pytest.raises(sct.CompileError, match="grad_of_copy"):
        dlfeval(caller_zero, dlarray(np.array([0.5, 2.0])))


def joint_copy(z, y):
    z0 = z
    loss = np.sum(z * y)
    return loss, dlgradient(loss, z0)


def caller_joint(x):
    for i in range(1):
        r = joint_copy(x, x * 2)
    return r


def caller_joint_runtime(x):
    fs = [joint_copy]
    return fs[0](x, x * 2)


def looping_helper(z, y):
    z0 = z
    for i in range(2):
        z = z * np.cos(z) + y
    loss = np.sum(z ** 2)
    return loss, dlgradient(loss, z0)


def caller_looping(x):
    y = x * 2
    return looping_helper(x, y)


@pytest.mark.parametrize("fun", [caller_joint, caller_joint_runtime, caller_looping])
def test_helper_copy_of_parameter_joint_refused(fun):
    # was: the partial derivative through z alone (x, where 4 x is the gradient of sum(2 x**2))
    with pytest.raises(sct.CompileError, match="constant"):
        dlfeval(fun, dlarray(np.array([0.5, 2.0])))


def caller_own(x):
    for i in range(1):
        r = joint_copy(x, np.array([3.0, -1.0]))
    return r


def test_helper_copy_of_parameter_other_constant_runs():
    x = np.array([0.5, 2.0])
    loss, g = dlfeval(caller_own, dlarray(x))
    np.testing.assert_allclose(E(loss), np.sum(x * np.array([3.0, -1.0])))
    expected = numerical_gradient(lambda u: np.sum(u * np.array([3.0, -1.0])), [x], 0)
    np.testing.assert_allclose(E(g), expected, rtol=1e-6, atol=1e-8)
