"""Issue 10: errors met while compiling or running higher-order derivatives name the user's file
and line (never a generated file or a runtime module) and say what to do; the higher-order
programs around them that sct accepts give exact derivatives."""
import os

import numpy as np
import pytest

import sct
from sct import CompileError, EvaluationError, SctError, dlarray, dlfeval, dlgradient, hvp, jvp
from gradcheck import assert_close, numerical_gradient

HERE = os.path.abspath(__file__)
X = np.array([0.3, -0.7, 1.2, 0.4])


def line_of(fun, text):
    """The line of ``fun`` whose source contains ``text``."""
    import inspect
    lines, first = inspect.getsourcelines(fun)
    hits = [first + i for i, line in enumerate(lines) if text in line]
    assert len(hits) == 1, (text, hits)
    return hits[0]


def located(err, fun, text):
    assert err.filename == HERE, err.filename
    assert err.lineno == line_of(fun, text), (err.lineno, str(err))
    message = str(err)
    assert "<sct-generated" not in message and "runtime/" not in message and "_fwd(" not in message
    return message


# --- the programs -------------------------------------------------------------------------------

def gradfun(x):
    y = np.sum(np.sin(x) ** 3)
    return dlgradient(y, x, EnableHigherDerivatives=True)


def jvp_of_gradient_inside(x, v):
    return jvp(gradfun, (x,), (v,))


def hvp_inside(x, v):
    return hvp(lambda t: np.sum(t ** 3), x, v)


def option_changing_in_loop(x):
    total = 0.0
    for i in range(2):
        y = np.sum(np.tanh(x * (i + 1)) ** 2)
        g = dlgradient(y, x, EnableHigherDerivatives=(i == 0))
        total = total + np.sum(g)
    return dlgradient(total, x)


class Square(sct.Layer):
    def forward(self, X):
        return X ** 2

    def backward(self, X, Z, dLdZ):          # MATLAB's signature has a fifth argument, memory
        return dLdZ * 2 * X


class SquareOk(sct.Layer):
    def forward(self, X):
        return X ** 2

    def backward(self, X, Z, dLdZ, memory):
        return dLdZ * 2 * X


def layer_second(x, layer):
    y = np.sum(layer(x) * x)
    g = dlgradient(y, x, EnableHigherDerivatives=True)
    return dlgradient(np.sum(g ** 2), x)


def network_second(x, net):
    y = np.sum(sct.predict(net, x))
    g = dlgradient(y, x, EnableHigherDerivatives=True)
    return dlgradient(np.sum(g ** 2), x)


def network_first(x, net):
    return dlgradient(np.sum(sct.predict(net, x)), x)


def jacobian_bad_dim(x):
    u = np.sin(x)
    J = sct.dljacobian(u, x, 1, EnableHigherDerivatives=True)
    return dlgradient(np.sum(J ** 2), x)


def no_higher_then_again(x):
    y = np.sum(x ** 3)
    g = dlgradient(y, x, EnableHigherDerivatives=False)
    return dlgradient(np.sum(g), x)


def third_through_sort(x):
    y = np.sum(np.sort(x) ** 4)
    g = dlgradient(y, x, EnableHigherDerivatives=True)
    h = dlgradient(np.sum(g), x, EnableHigherDerivatives=True)
    return dlgradient(np.sum(h), x)


def lin(a):
    return 3.0 * a


@sct.defrule(lin)
def _lin_rule(g, ans, a):
    return g * 3.0


def third_through_defrule(x):
    y = np.sum(lin(x) ** 3)
    g = dlgradient(y, x, EnableHigherDerivatives=True)
    h = dlgradient(np.sum(g), x, EnableHigherDerivatives=True)
    return dlgradient(np.sum(h), x)


def softabs(a):
    return np.sqrt(a * a + 1e-3)


@sct.defrule(softabs)
def _softabs_rule(g, ans, a):
    return g * a / ans


def second_through_defrule_rule(x):
    y = np.sum(softabs(x))
    g = dlgradient(y, x, EnableHigherDerivatives=True)
    return dlgradient(np.sum(g), x)


# --- refusals: the user's line and what to do ----------------------------------------------------

@pytest.mark.parametrize("fun, name", [(jvp_of_gradient_inside, "jvp"), (hvp_inside, "hvp")])
def test_forward_mode_entry_inside_dlfeval(fun, name):
    with pytest.raises(CompileError) as info:
        dlfeval(fun, dlarray(X), dlarray(np.ones(4)))
    message = located(info.value, fun, f"return {name}(")
    assert f"{name}() cannot be called inside a function sct differentiates" in message
    assert "outside dlfeval" in message and "try/except" not in message


def test_jvp_of_a_gradient_outside_dlfeval_is_the_hessian_vector_product():
    x, v = X[:2], np.array([1.0, -0.5])
    _, tangent = jvp(gradfun, (dlarray(x),), (dlarray(v),))
    exact = (6 * np.sin(x) * np.cos(x) ** 2 - 3 * np.sin(x) ** 3) * v
    assert_close(np.asarray(tangent.data), exact, rtol=1e-10, atol=1e-12)


def test_option_from_an_expression_names_the_expression_not_a_compiler_name():
    with pytest.raises(CompileError) as info:
        dlfeval(option_changing_in_loop, dlarray(X))
    message = located(info.value, option_changing_in_loop, "EnableHigherDerivatives=(i == 0)")
    assert "`(i == 0)`" in message and "'cond'" not in message
    assert "must be fixed when the function is compiled" in message


def test_custom_layer_backward_with_the_wrong_signature():
    with pytest.raises(EvaluationError) as info:
        dlfeval(layer_second, dlarray(X), Square())
    message = located(info.value, layer_second, "y = np.sum(layer(x) * x)")
    assert "backward() takes" in message and "backward(self, X, Z, dLdZ, memory)" in message


def test_custom_layer_second_derivative_is_exact():
    # y = sum(x^3) with the layer's backward giving 2x: g = 3x^2, result d/dx sum(9x^4) = 36x^3
    g2 = dlfeval(layer_second, dlarray(X), SquareOk())
    assert_close(np.asarray(g2.data), 36 * X ** 3, rtol=1e-10)


def test_error_inside_a_network_names_the_users_line_not_the_runtime():
    net = sct.dlnetwork([sct.featureInputLayer(4), sct.fullyConnectedLayer(3), sct.tanhLayer(),
                         sct.fullyConnectedLayer(1)], Seed=0)
    with pytest.raises(EvaluationError) as info:
        dlfeval(network_second, dlarray(np.full((4, 2), 0.3)), net)     # 2 features, not 4
    message = located(info.value, network_second, "y = np.sum(sct.predict(net, x))")
    assert "layer_types" not in message


def test_network_second_derivative_matches_differences():
    net = sct.dlnetwork([sct.featureInputLayer(4), sct.fullyConnectedLayer(3), sct.tanhLayer(),
                         sct.fullyConnectedLayer(1)], Seed=0)
    x0 = np.linspace(-0.5, 0.5, 8).reshape(2, 4)

    def first(xv):
        return dlfeval(network_first, dlarray(xv), net)
    got = np.asarray(dlfeval(network_second, dlarray(x0), net).data)
    expected = numerical_gradient(lambda xv: float(np.sum(np.asarray(first(xv).data) ** 2)), [x0], 0)
    assert_close(got, expected, rtol=1e-5, atol=1e-7)


def test_runtime_check_in_a_higher_derivative_names_the_users_file():
    with pytest.raises(EvaluationError) as info:
        dlfeval(jacobian_bad_dim, dlarray(X))
    err = info.value
    assert err.filename == HERE
    assert line_of(jacobian_bad_dim, "u = np.sin") <= err.lineno <= line_of(jacobian_bad_dim, "return")
    assert "dim=1 is not an axis" in str(err) and "support.py" not in str(err)


def test_second_derivative_through_a_constant_gradient_is_refused():
    with pytest.raises(CompileError) as info:
        dlfeval(no_higher_then_again, dlarray(X))
    message = located(info.value, no_higher_then_again, "return dlgradient(np.sum(g), x)")
    assert "EnableHigherDerivatives=False" in message and "Remove" in message


# --- what sct accepts is exact --------------------------------------------------------------------

def test_third_derivative_through_sort():
    got = dlfeval(third_through_sort, dlarray(X))
    assert_close(np.asarray(got.data), 24 * X, rtol=1e-10)


def test_third_derivative_through_a_defrule_op():
    got = dlfeval(third_through_defrule, dlarray(X))
    assert_close(np.asarray(got.data), np.full(4, 162.0), rtol=1e-10)


def test_second_derivative_through_a_defrule_rule():
    got = dlfeval(second_through_defrule_rule, dlarray(X))
    assert_close(np.asarray(got.data), 1e-3 / (X ** 2 + 1e-3) ** 1.5, rtol=1e-8)


def test_errors_are_sct_errors():
    assert issubclass(CompileError, SctError) and issubclass(EvaluationError, SctError)
