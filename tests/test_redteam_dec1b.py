"""Red-team findings (Dec 1, second round) on the optimiser, primal helper calls, hvp,
the numexpr backend and gradients of gradients through helpers: each a regression test."""
import numpy as np
import pytest

from sct import CompileError, dlarray, dlfeval, dlgradient, extractdata

from gradcheck import assert_close, numerical_gradient


def _data(v):
    return np.asarray(extractdata(v))


# --- a recursive helper no sweep differentiates through (rt.primal_call) -------------------------
# Its entry code keeps the user's name; the recursive call inside it read that generated
# function instead of the user's, and compiling a pair of generated code failed
# ("internal error: code with rt.primal_call is being differentiated").

def power_rec(n, x):
    if n <= 1:
        return x
    return x * power_rec(n - 1, x)


def fib_like(n, x):
    if n <= 1:
        return x
    return fib_like(n - 1, x) + np.sin(fib_like(n - 2, x))


def loss_and_recursive_extra(x):
    y = np.sum(x ** 2)
    g = dlgradient(y, x)
    return y, g, power_rec(3, x), fib_like(3, x)


def recursive_in_both(x):
    y = np.sum(fib_like(4, x))
    g = dlgradient(y, x)
    return y, g, fib_like(3, x)


def test_recursive_helper_called_outside_any_sweep():
    x = np.array([0.5, -1.2, 2.0])
    y, g, p, q = dlfeval(loss_and_recursive_extra, dlarray(x))
    assert_close(_data(g), 2 * x)
    assert_close(_data(p), x ** 3)
    assert_close(_data(q), fib_like(3, x))


def test_recursive_helper_differentiated_and_called_plainly():
    x = np.array([0.5, -1.2, 2.0])
    y, g, q = dlfeval(recursive_in_both, dlarray(x))
    assert_close(_data(q), fib_like(3, x))
    assert_close(_data(y), np.sum(fib_like(4, x)))
    assert_close(_data(g), numerical_gradient(lambda z: float(np.sum(fib_like(4, z))), [x], 0))


# --- a gradient of a gradient a helper computed with EnableHigherDerivatives=False ---------------
# Written inline sct refuses it at compile time; through a helper the result was [0, 0].

def grad_helper(x):
    y = np.sum(x ** 3)
    return dlgradient(y, x, EnableHigherDerivatives=False)


def grad_helper_scaled(x):
    g = grad_helper(x)
    return 2.0 * g


def grad_helper_higher(x):
    y = np.sum(x ** 3)
    return dlgradient(y, x)


def through_helper(x):
    g = grad_helper(x)
    return dlgradient(np.sum(g), x)


def through_helper_then_ops(x):
    g = grad_helper(x)
    h = g * 2.0
    for i in range(2):
        h = h + 1.0
    s = np.sum(h ** 2)
    return dlgradient(s, x)


def through_two_helpers(x):
    g = grad_helper_scaled(x)
    return dlgradient(np.sum(g ** 2), x)


def helper_plus_direct(x):
    g = grad_helper(x)
    return dlgradient(np.sum(g * x), x)


def helper_higher(x):
    g = grad_helper_higher(x)
    return dlgradient(np.sum(g ** 2), x)


@pytest.mark.parametrize("fun, line", [(through_helper, "g = grad_helper(x)"),
                                       (through_helper_then_ops, "s = np.sum(h ** 2)"),
                                       (through_two_helpers, "g = grad_helper_scaled(x)")])
def test_gradient_through_a_helpers_constant_gradient_is_refused(fun, line):
    with pytest.raises(CompileError) as info:
        dlfeval(fun, dlarray(np.array([0.3, -0.7])))
    err = info.value
    assert err.filename == __file__
    assert "EnableHigherDerivatives=False" in str(err) and "constant" in str(err)
    import inspect
    lines, start = inspect.getsourcelines(fun)
    assert err.lineno == start + len(lines) - 1          # the dlgradient line of the caller


def test_helper_gradient_used_beside_the_input_is_a_constant_as_in_matlab():
    x = np.array([0.3, -0.7])
    got = _data(dlfeval(helper_plus_direct, dlarray(x)))
    assert_close(got, 3 * x ** 2)                        # g treated as a constant: d(g.x)/dx = g


def test_helper_gradient_with_higher_derivatives_is_differentiated():
    x = np.array([0.3, -0.7])
    got = _data(dlfeval(helper_higher, dlarray(x)))
    assert_close(got, numerical_gradient(lambda z: float(np.sum((3 * z ** 2) ** 2)), [x], 0))


# --- the numexpr backend: operations on Python numbers alone are Python's or numpy's ---------------

import warnings  # noqa: E402

import sct  # noqa: E402


def sqrt_of_number(x, c):
    y = np.sqrt(c) / x + x
    return y, dlgradient(np.sum(y), x)


def number_ratio(x, c, d):
    y = (c / d) * x + x
    return np.sum(y)


def opposite_infinities(x):
    return x * 2.0 + 1.0


@pytest.fixture
def numexpr_backend():
    pytest.importorskip("numexpr")
    sct.set_backend("numexpr", min_size=0, cost_model=False)     # every chain fused
    yield
    sct.set_backend("numpy", cost_model=True)


def test_numpy_function_of_a_number_promotes_float32_as_numpy_does(numexpr_backend):
    x = np.linspace(1.0, 2.0, 6).astype(np.float32)
    y, g = dlfeval(sqrt_of_number, dlarray(x), 2.0)
    expected = np.sqrt(2.0) / x + x                        # np.float64 scalar: a float64 result
    assert _data(y).dtype == expected.dtype == np.float64
    assert_close(_data(y), expected, rtol=1e-12)
    assert _data(g).dtype == np.float32                    # the gradient has x's type
    assert_close(_data(g), 1 - np.sqrt(2.0) / x.astype(np.float64) ** 2, rtol=1e-6)


def test_python_division_by_zero_raises_with_errors_ignored(numexpr_backend):
    x = np.ones(5)
    with np.errstate(all="ignore"):
        with pytest.raises(ZeroDivisionError):
            number_ratio(x, 1.0, 0.0)
        with pytest.raises(Exception) as info:
            dlfeval(number_ratio, dlarray(x), 1.0, 0.0)
    assert "division by zero" in str(info.value)


def test_no_extra_warning_from_the_finiteness_test(numexpr_backend):
    x = np.array([np.inf, -np.inf, 1.0, 2.0])
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        value = dlfeval(opposite_infinities, dlarray(x))
    assert_close(_data(value), x * 2.0 + 1.0)
    assert [str(w.message) for w in caught] == []          # numpy itself warns of nothing here


def grads_of_a_sum(x, y):
    z = np.sum(x + y)
    return z, dlgradient(z, x, y)


def grads_of_a_dict(p):
    z = np.sum(p["w"] + p["b"])
    return z, dlgradient(z, p)


def test_results_never_share_an_array():
    # the adjoints of x + y are one object inside the generated code; the results are separate
    # arrays (changing one in place, as a user clipping a gradient does, leaves the other alone)
    z, (gx, gy) = sct.dlfeval(grads_of_a_sum, sct.dlarray(np.ones(3)), sct.dlarray(np.ones(3)))
    assert not np.shares_memory(gx.data, gy.data)
    gx *= 0.5
    np.testing.assert_array_equal(gy.data, np.ones(3))
    np.testing.assert_array_equal(gx.data, 0.5 * np.ones(3))
    z, g = sct.dlfeval(grads_of_a_dict, {"w": sct.dlarray(np.ones(3)), "b": sct.dlarray(np.ones(3))})
    assert not np.shares_memory(g["w"].data, g["b"].data)
    g["w"] -= 1.0
    np.testing.assert_array_equal(g["b"].data, np.ones(3))


def test_hvp_of_a_structure_says_what_to_do():
    with pytest.raises(sct.SctError, match="x must be one array, got a dict"):
        sct.hvp(lambda p: np.sum(p["w"] ** 3), {"w": np.ones(2)}, {"w": np.ones(2)})


def test_hvp_of_a_list_of_numbers_is_an_array():
    out = sct.hvp(lambda x: np.sum(x ** 3), [1.0, 2.0], [1.0, 0.0])
    np.testing.assert_allclose(extractdata(out), [6.0, 0.0])
    with pytest.raises(sct.SctError, match="x must be one array, got a list"):
        sct.hvp(lambda p: np.sum(p[0] ** 3), [np.ones(2), np.ones(3)], [np.ones(2), np.ones(3)])
