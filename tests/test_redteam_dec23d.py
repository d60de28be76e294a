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


# --- 4. with <manager> as name: the name a second name of the manager, or of an object of the module's

class SelfManager:
    def __init__(self):
        self.v = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False


STORE = SelfManager()
LOG = [np.array([1.0, 1.0])]


class ModuleList:
    def __enter__(self):
        return LOG

    def __exit__(self, *exc):
        return False


def written_through_entered(x):
    m = SelfManager()
    with m as s:
        s.v = x * 2
        y = np.sum(m.v * x)
    return y, dlgradient(y, x)


def module_manager(x):
    with STORE as s:
        s.v = x * 2
        y = np.sum(STORE.v * x)
    return y, dlgradient(y, x)


def appended_to_entered(x):
    with ModuleList() as s:
        pass
    s.append(x * 2)
    y = np.sum(LOG[-1] * x)
    return y, dlgradient(y, x)


@pytest.mark.parametrize("fun", [written_through_entered, module_manager, appended_to_entered])
def test_entered_second_name_refused(fun):
    # was: 2 x (m.v, STORE.v read as constants: half the gradient 4 x of sum(2 x**2)); the last also a wrong
    # value (the module's list not appended to: sum([1, 1] * x))
    with pytest.raises(sct.CompileError) as info:
        dlfeval(fun, dlarray(np.array([0.5, 2.0])))
    assert info.value.filename == __file__
    assert len(LOG) == 1


def entered_constant(x, path):
    with open(path, "a") as fh:
        fh.write("a\n")
    with SelfManager() as s:
        y = np.sum(np.sin(x) * 2.0)
    return y, dlgradient(y, x)


def test_entered_constant_runs(tmp_path):
    x = np.array([0.5, 2.0])
    y, g = dlfeval(entered_constant, dlarray(x), str(tmp_path / "log"))
    np.testing.assert_allclose(E(y), np.sum(np.sin(x) * 2.0), rtol=1e-14)
    np.testing.assert_allclose(E(g), numerical_gradient(lambda u: np.sum(np.sin(u) * 2.0), [x], 0),
                               rtol=1e-6, atol=1e-8)


# --- 6. a module's own function named filter is not the builtin filter

@pytest.mark.parametrize("name", ["applied", "applied_nested"])
def test_module_filter_is_called(name):
    import redteam_dec23d_filter as mod
    x = np.array([0.5, 2.0])
    y, g = dlfeval(getattr(mod, name), dlarray(x))
    # was: 1.0 (the builtin filter's items x[0], x[1]: 0.5 * 2.0) and gradient [2, 0.5]
    np.testing.assert_allclose(E(y), (2 * x[0]) * (2 * x[1]), rtol=1e-14)
    np.testing.assert_allclose(E(g), numerical_gradient(lambda u: (2 * u[0]) * (2 * u[1]), [x], 0),
                               rtol=1e-6, atol=1e-8)


def builtin_filter(x):
    vals = list(filter(lambda v: v > 0, [x[0], x[1], x[2]]))
    y = sum(vals) ** 2
    return y, dlgradient(y, x)


def test_builtin_filter_still_rewritten():
    x = np.array([0.5, -2.0, 3.0])
    y, g = dlfeval(builtin_filter, dlarray(x))
    np.testing.assert_allclose(E(y), 3.5 ** 2, rtol=1e-14)
    np.testing.assert_allclose(E(g), [7.0, 0.0, 7.0], rtol=1e-12)


# --- 2. a function made inside a nested function, reading a name of the enclosing function that is
# bound again after it is made: Python's reads the new value (the cell), sct's held the old one

def inner_returned(x):
    w = 1.0

    def outer():
        def inner(u):
            return u * w
        return inner
    g = outer()
    w = 3.0
    loss = np.sum(g(x) ** 2)
    return loss, dlgradient(loss, x)


def inner_lambda_returned(x):
    w = 1
    def outer():
        return lambda v: v * w
    g = outer()
    w = 3
    loss = np.sum(g(x) ** 2)
    return loss, dlgradient(loss, x)


def inner_in_loop(x):
    fs = []
    for k in range(3):
        def make():
            return lambda t: t * k
        fs.append(make())
    loss = np.sum(fs[0](x) * x)
    return loss, dlgradient(loss, x)


@pytest.mark.parametrize("fun", [inner_returned, inner_lambda_returned, inner_in_loop])
def test_inner_function_reading_a_rebound_name_refused(fun):
    # was: the old value (sum(x**2) = 4.25 where Python gives sum((3 x)**2) = 38.25; sum(0 * x * x))
    with pytest.raises(sct.CompileError, match="nested function") as info:
        dlfeval(fun, dlarray(np.array([0.5, 2.0])))
    assert info.value.filename == __file__


def inner_called_in_place(x):
    w = 1.0

    def outer(u):
        def inner(v):
            return v * w
        return inner(u) + (lambda v: v * w)(u)
    w = 3.0
    loss = np.sum(outer(x) ** 2)
    return loss, dlgradient(loss, x)


def test_inner_function_called_where_made_runs():
    x = np.array([0.5, 2.0])
    loss, g = dlfeval(inner_called_in_place, dlarray(x))
    np.testing.assert_allclose(E(loss), np.sum((6 * x) ** 2), rtol=1e-14)
    np.testing.assert_allclose(E(g), numerical_gradient(lambda u: np.sum((6 * u) ** 2), [x], 0),
                               rtol=1e-6, atol=1e-6)


# --- 1b. a helper's dlgradient with respect to an item of its parameter (p["w"]), called with a dict
# holding the caller's x beside a value computed from x: the helper holds the second constant

def grad_of_item(p, y):
    loss = np.sum(p["w"] * y)
    return loss, dlgradient(loss, p["w"])


def grad_of_item_copy(p, y):
    p0 = p
    loss = np.sum(p["w"] * y)
    return loss, dlgradient(loss, p0["w"])


def caller_item(x):
    for i in range(1):
        r = grad_of_item({"w": x}, x * 2)
    return r


def caller_item_same(x):
    for i in range(1):
        r = grad_of_item({"w": x}, x)
    return r


def caller_item_copy(x):
    for i in range(1):
        r = grad_of_item_copy({"w": x}, x * 2)
    return r


@pytest.mark.parametrize("fun", [caller_item, caller_item_same, caller_item_copy])
def test_helper_item_of_parameter_joint_refused(fun):
    # was: x (the helper's y held constant) where sum(2 x**2) has 4 x, sum(x**2) 2 x
    with pytest.raises(sct.CompileError, match="constant"):
        dlfeval(fun, dlarray(np.array([0.5, 2.0])))


def caller_item_constant(x):
    for i in range(1):
        r = grad_of_item({"w": x}, np.array([3.0, -1.0]))
    return r


def test_helper_item_of_parameter_other_constant_runs():
    x = np.array([0.5, 2.0])
    loss, g = dlfeval(caller_item_constant, dlarray(x))
    np.testing.assert_allclose(E(loss), np.sum(x * np.array([3.0, -1.0])), rtol=1e-14)
    np.testing.assert_allclose(E(g), [3.0, -1.0], rtol=1e-12)
