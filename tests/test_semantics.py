"""SPEC.md's semantics 1-10 and the seed pages' examples."""
import numpy as np
import pytest

import sct
from sct import dlarray, dlfeval, dlgradient, extractdata, relu
from gradcheck import assert_close, check_grads


# 1. Rosenbrock (seed 004) ---------------------------------------------------------------

def rosenbrock(x):
    y = 100*(x[1] - x[0]**2)**2 + (1 - x[0])**2
    dydx = dlgradient(y, x)
    return y, dydx


def rosenbrock2(x1, x2):
    y = 100*(x2 - x1**2)**2 + (1 - x1)**2
    dydx1, dydx2 = dlgradient(y, x1, x2)
    return y, dydx1, dydx2


def test_rosenbrock_value_and_gradient():
    fval, gradval = dlfeval(rosenbrock, dlarray([-1, 2]))
    assert isinstance(fval, dlarray) and isinstance(gradval, dlarray)
    assert float(fval) == 104
    np.testing.assert_array_equal(extractdata(gradval), [396, 200])
    assert gradval.shape == (2,) and gradval.dtype == np.float64


def test_rosenbrock_two_arguments():
    fval, d1, d2 = dlfeval(rosenbrock2, dlarray(-1), dlarray(2))
    assert float(fval) == 104 and float(d1) == 396 and float(d2) == 200


def test_rosenbrock_quiver_grid_matches_closed_form():
    X1, X2 = np.meshgrid(np.linspace(0, 1, 10), np.linspace(0, 1, 10))
    for a, b in zip(X1.ravel()[::7], X2.ravel()[::7]):
        _, d1, d2 = dlfeval(rosenbrock2, dlarray(a), dlarray(b))
        assert np.isclose(float(d1), -400 * a * (b - a**2) - 2 * (1 - a))
        assert np.isclose(float(d2), 200 * (b - a**2))


# 2. Complex (seed 004) ------------------------------------------------------------------------

def complex_fun(x):
    y = (2+3j)*x
    return y


def grad_fun(x):
    y = complex_fun(x)
    y = np.real(y)
    grad = dlgradient(np.sum(y), x)
    return y, grad


def grad_fun_real_only(x):
    y = np.real((2+3j) * x)
    return dlgradient(np.sum(y), x, AllowComplex=False)


def test_complex_gradient_is_2_minus_3i_everywhere():
    res = np.linspace(-2, 2, 11)
    x = res + 1j * res[:, None]
    y, grad = dlfeval(grad_fun, dlarray(x))
    assert grad.dtype == np.complex128 and grad.shape == x.shape
    np.testing.assert_allclose(extractdata(grad), 2 - 3j)
    np.testing.assert_allclose(extractdata(y), np.real((2 + 3j) * x))


def test_allow_complex_false_real_input_gives_real_gradient():
    g = dlfeval(grad_fun_real_only, dlarray([1.0, -2.0]))
    assert g.dtype == np.float64
    np.testing.assert_allclose(extractdata(g), [2.0, 2.0])


def test_allow_complex_false_rejects_complex_x():
    with pytest.raises(sct.SctError, match="AllowComplex"):
        dlfeval(grad_fun_real_only, dlarray([1.0 + 1j]))


def complex_y(x):
    y = np.sum(x * 1j)
    return dlgradient(y, x)


def test_complex_y_is_an_error():
    with pytest.raises(sct.SctError, match="real"):
        dlfeval(complex_y, dlarray([1.0]))


# 3. y must be traced; parts of y are constants; untouched x gives zeros ----------------------

def untraced_y(x):
    y = np.sum(np.ones(3))
    return dlgradient(y, x)


def partly_constant(x, w):
    y = np.sum(x ** 2) + np.sum(np.ones(2) * 5)
    return dlgradient(y, x, w)


def test_untraced_y_is_an_error():
    with pytest.raises(sct.CompileError, match="does not depend on any traced input") as info:
        dlfeval(untraced_y, dlarray([1.0]))
    assert info.value.filename == __file__ and info.value.lineno is not None


def test_y_not_depending_on_x_gives_zeros():
    gx, gw = dlfeval(partly_constant, dlarray([1.0, 2.0]), dlarray([[1.0, 2.0]]))
    np.testing.assert_allclose(extractdata(gx), [2.0, 4.0])
    np.testing.assert_array_equal(extractdata(gw), np.zeros((1, 2)))


def nonscalar_y(x):
    return dlgradient(x * 2, x)


def test_non_scalar_y_is_an_error():
    with pytest.raises(sct.SctError, match="scalar"):
        dlfeval(nonscalar_y, dlarray([1.0, 2.0]))


def test_dlgradient_outside_dlfeval_is_an_error():
    with pytest.raises(sct.SctError, match="inside a function evaluated by dlfeval"):
        dlgradient(dlarray(1.0), dlarray(1.0))


# 4. x created inside the function --------------------------------------------------------------

def inner_dlarray(x):
    z = dlarray([1.0, 2.0])
    y = np.sum(x * z)
    return dlgradient(y, z)


def test_untraced_x_is_an_error_naming_variable_and_line():
    with pytest.raises(sct.CompileError) as info:
        dlfeval(inner_dlarray, dlarray([1.0, 2.0]))
    message = str(info.value)
    assert "'z'" in message and "line" in message
    assert info.value.lineno == inner_dlarray.__code__.co_firstlineno + 3


# 5. extractdata breaks the trace -------------------------------------------------------------

def breaks_trace(x):
    y = x + np.arctan(extractdata(x))
    return dlgradient(y, x)


def test_extractdata_breaks_the_trace():
    assert float(dlfeval(breaks_trace, dlarray(0.7))) == 1.0


# 6. relu at 0 and eps --------------------------------------------------------------------------

def relu_grad(x):
    return dlgradient(np.sum(relu(x)), x)


def test_relu_derivative_at_zero_and_eps():
    g = dlfeval(relu_grad, dlarray([0.0, np.finfo(float).eps, -1.0, 2.0]))
    np.testing.assert_array_equal(extractdata(g), [0.0, 1.0, 0.0, 1.0])


# 7. RetainData / EnableHigherDerivatives --------------------------------------------------------

def two_sites(x, retain):
    y = np.sum(np.sin(x))
    if retain:
        g1 = dlgradient(y, x, RetainData=True)
    else:
        g1 = dlgradient(y, x, retain_data=False)
    g2 = dlgradient(y, x)
    return g1, g2


def test_retain_data_never_changes_results():
    x = dlarray([0.1, 0.2])
    a1, a2 = dlfeval(two_sites, x, True)
    b1, b2 = dlfeval(two_sites, x, False)
    for g in (a1, a2, b1, b2):
        np.testing.assert_allclose(extractdata(g), np.cos([0.1, 0.2]))


def second_derivative(x, higher):
    y = np.sum(np.sin(x))
    if higher:
        g = dlgradient(y, x, EnableHigherDerivatives=True)
    else:
        g = dlgradient(y, x, enable_higher_derivatives=False)
    z = np.sum(g) + np.sum(x)
    return dlgradient(z, x)


def test_enable_higher_derivatives_true_differentiates_the_gradient():
    g = dlfeval(second_derivative, dlarray([0.3, -0.4]), True)
    np.testing.assert_allclose(extractdata(g), -np.sin([0.3, -0.4]) + 1)


def test_enable_higher_derivatives_false_makes_the_gradient_constant():
    g = dlfeval(second_derivative, dlarray([0.3, -0.4]), False)
    np.testing.assert_allclose(extractdata(g), [1.0, 1.0])


# 9. control flow and helpers (more in test_constructs.py) ---------------------------------------

def piecewise(x):
    s = np.sum(x)
    if s > 0:
        return s ** 2
    return -3 * s


def test_control_flow_on_values():
    check_grads(piecewise, np.array([0.5, 0.2]))
    check_grads(piecewise, np.array([-0.5, 0.2]))


# integer input never gives silent zero gradients --------------------------------------------------

def square_sum(x):
    y = np.sum(x * x)
    return dlgradient(y, x)


def test_integer_data_becomes_float64():
    x = dlarray([-1, 2])
    assert x.dtype == np.float64
    np.testing.assert_array_equal(extractdata(dlfeval(square_sum, x)), [-2.0, 4.0])


def test_gradient_dtype_follows_x_float32():
    g = dlfeval(square_sum, dlarray(np.array([1.0, 2.0], dtype=np.float32)))
    assert g.dtype == np.float32


def _loss_option_true(w, x):
    loss = np.sum(np.tanh(w @ x) ** 2)
    g = dlgradient(loss, w, EnableHigherDerivatives=True)
    return loss, g


def _loss_option_false(w, x):
    loss = np.sum(np.tanh(w @ x) ** 2)
    g = dlgradient(loss, w, EnableHigherDerivatives=False)
    return loss, g


def test_enable_higher_derivatives_costs_nothing_when_unused():
    # No later dlgradient differentiates g, so the compiler writes the same code either way.
    import re
    args = (dlarray(np.ones((3, 2))), np.ones(2))
    texts = [sct.source(f, *args) for f in (_loss_option_true, _loss_option_false)]
    normal = [re.sub(r"line\d+|line \d+|EnableHigherDerivatives=\w+|_loss_option_\w+", "", t) for t in texts]
    assert normal[0] == normal[1]


def data_breaks_the_trace(x):
    y = x + np.arctan(x.data)
    return dlgradient(np.sum(y), x)


def test_dot_data_inside_dlfeval_is_extractdata():
    np.testing.assert_array_equal(extractdata(dlfeval(data_breaks_the_trace, dlarray([0.3, 0.4]))), [1.0, 1.0])


def test_one_element_dlarray_converts_to_float():
    assert float(dlarray([2.5])) == 2.5


def loss_with_options(x, scale=1.0, power=2):
    y = scale * np.sum(x ** power)
    return dlgradient(y, x)


def test_dlfeval_accepts_keyword_arguments():
    g = dlfeval(loss_with_options, dlarray([1.0, 2.0]), power=3, scale=dlarray(2.0))
    np.testing.assert_allclose(extractdata(g), [6.0, 24.0])
