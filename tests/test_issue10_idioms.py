"""Issue 10: MATLAB idioms — callables in jvp/hvp, options fixed at compile time,
name-value pairs, nested dlfeval."""
import functools
import types

import numpy as np
import pytest

import sct
from sct import CompileError, dlarray, dlfeval, dlgradient, dljacobian, dldivergence, dllaplacian, extractdata
from gradcheck import assert_close, numerical_gradient

X = np.array([0.3, -0.7, 1.1])
V = np.array([1.0, 0.5, -2.0])


def numerical_jvp(f, x, v, step=1e-6):
    return (np.asarray(f(x + step * v)) - np.asarray(f(x - step * v))) / (2 * step)


# --- item 1: jvp / jvp_source / hvp take the callables dlfeval takes -----------------------------

class Model:
    def __init__(self, k):
        self.k = k

    def predict(self, x):
        return np.sin(self.k * x) * x

    def __call__(self, x):
        return np.sin(self.k * x) * x

    @staticmethod
    def fixed(x):
        return np.sin(2.0 * x) * x

    @classmethod
    def by_class(cls, x):
        return np.sin(2.0 * x) * x


def scaled(k, x, shift=0.0):
    return np.sin(k * x) * x + shift


def plain(x):
    return np.sin(2.0 * x) * x


CALLABLES = {
    "lambda": lambda x: np.sin(2.0 * x) * x,
    "bound method": Model(2.0).predict,
    "callable object": Model(2.0),
    "static method": Model.fixed,
    "class method": Model.by_class,
    "partial": functools.partial(scaled, 2.0),
    "partial with keywords": functools.partial(scaled, 2.0, shift=1.5),
}


@pytest.mark.parametrize("mode", ["forward", "transpose"])
@pytest.mark.parametrize("name", list(CALLABLES))
def test_jvp_of_callables(name, mode):
    fun = CALLABLES[name]
    y, jv = sct.jvp(fun, X, V, mode=mode)
    assert_close(extractdata(y), fun(X))
    assert_close(extractdata(jv), numerical_jvp(fun, X, V), rtol=1e-6, atol=1e-8)
    text = sct.jvp_source(fun, X, V, mode=mode)
    compile(str(text), "<jvp>", "exec")


@pytest.mark.parametrize("name", ["lambda", "bound method", "callable object", "partial"])
def test_hvp_of_callables(name):
    inner = CALLABLES[name]
    fun = {"lambda": lambda x: np.sum(np.sin(2.0 * x) * x),
           "bound method": SumModel(2.0).value,
           "callable object": SumModel(2.0),
           "partial": functools.partial(summed, 2.0)}[name]
    assert inner is not None
    hv = sct.hvp(fun, X, V)

    def grad(x):
        return numerical_gradient(lambda z: fun(z), [x], 0, step=1e-5)
    expected = (grad(X + 1e-4 * V) - grad(X - 1e-4 * V)) / 2e-4
    assert_close(extractdata(hv), expected, rtol=1e-4, atol=1e-5)


class SumModel:
    def __init__(self, k):
        self.k = k

    def value(self, x):
        return np.sum(np.sin(self.k * x) * x)

    def __call__(self, x):
        return np.sum(np.sin(self.k * x) * x)


def summed(k, x):
    return np.sum(np.sin(k * x) * x)


def test_jvp_refuses_a_builtin_with_advice():
    with pytest.raises(sct.SctError, match="Wrap it in one"):
        sct.jvp(np.sin, X, V)


# --- a call with *args before other arguments (the jvp kernels use it) -------------------------------

def three(a, b, x):
    return np.sum(a * b * x ** 2)


def starred_first(extra, x):
    y = three(*extra, x)
    return y, dlgradient(y, x)


def starred_first_passed(fun, extra, x):
    y = fun(*extra, x)
    return y, dlgradient(y, x)


@pytest.mark.parametrize("extra", [(), (2.0,), (1.5, 2.0)])
def test_adjoints_after_a_starred_argument_come_from_the_right_position(extra):
    def fun(*a):
        return np.sum(np.prod(a[:-1]) * a[-1] ** 2) if a[:-1] else np.sum(a[-1] ** 2)
    if len(extra) == 2:
        y, g = dlfeval(starred_first, extra, dlarray(X))
        assert_close(extractdata(y), three(*extra, X))
        assert_close(extractdata(g), numerical_gradient(lambda x: three(*extra, x), [X], 0))
    y, g = dlfeval(starred_first_passed, fun, extra, dlarray(X))
    assert_close(extractdata(g), numerical_gradient(lambda x: fun(*extra, x), [X], 0))


# --- item 2: options fixed at compile time ------------------------------------------------------------

DIM = 0
HIGHER = False
OPTION = "EnableHigherDerivatives"
Config = types.SimpleNamespace(dim=0)
B = np.array([[0.3, -0.7], [1.1, 0.4], [0.2, 0.9]])


def per_point(x):
    return np.sum(x ** 3, axis=1)


def laplacian_reference(x):
    return np.sum(6 * x, axis=1)


def jac_global(x):
    u = x ** 2
    return dljacobian(u, x, DIM)


def jac_local(x):
    d = 0
    u = x ** 2
    return dljacobian(u, x, d)


def jac_attribute(x):
    u = x ** 2
    return dljacobian(u, x, Config.dim)


def jac_expression(x):
    u = x ** 2
    return dljacobian(u, x, DIM + 1 - 1)


def div_default(x, dim=0):
    return dldivergence(x ** 2, x, dim)


def lap_global(x):
    u = np.sum(x ** 3, axis=1)
    return dllaplacian(u, x, DIM)


def make_closure(dim):
    def lap_closure(x):
        u = np.sum(x ** 3, axis=1)
        return dllaplacian(u, x, dim)
    return lap_closure


@pytest.mark.parametrize("fun", [jac_global, jac_local, jac_attribute, jac_expression])
def test_dim_of_dljacobian_from_constants(fun):
    jac = extractdata(dlfeval(fun, dlarray(B)))
    expected = np.stack([np.diag(2 * row) for row in B])
    assert jac.shape == (3, 2, 2)
    assert_close(jac, expected)


def test_dim_default_closure_and_global_of_divergence_and_laplacian():
    assert_close(extractdata(dlfeval(div_default, dlarray(B))), np.sum(2 * B, axis=1))
    assert_close(extractdata(dlfeval(lap_global, dlarray(B))), laplacian_reference(B))
    assert_close(extractdata(dlfeval(make_closure(0), dlarray(B))), laplacian_reference(B))
    assert_close(extractdata(dlfeval(make_closure(-2), dlarray(B))), laplacian_reference(B))


def test_a_changed_module_constant_recompiles():
    global DIM
    first = extractdata(dlfeval(jac_global, dlarray(B)))
    try:
        DIM = 1            # points along axis 1 now: u[:, j] depends on x[:, j]
        second = extractdata(dlfeval(jac_global, dlarray(B)))
    finally:
        DIM = 0
    assert first.shape == (3, 2, 2) and second.shape == (3, 2, 3)     # batch axis at position 1
    assert_close(second, np.stack([np.diag(2 * B[:, j]) for j in range(2)], axis=1))


def lap_from_data(x):
    d = int(np.sum(x) > 100)
    u = np.sum(x ** 3, axis=1)
    return dllaplacian(u, x, d)


def jac_from_argument(x, dim):
    return dljacobian(x ** 2, x, dim)


def test_dim_that_changes_with_the_data_is_refused_naming_the_function():
    with pytest.raises(CompileError) as info:
        dlfeval(lap_from_data, dlarray(B))
    err = info.value
    assert "dllaplacian" in str(err) and "dldivergence" not in str(err)
    assert "'d'" in str(err) and err.filename == __file__
    assert err.lineno == lap_from_data.__code__.co_firstlineno + 3
    with pytest.raises(CompileError, match="dljacobian: dim must be fixed.*argument of jac_from_argument"):
        dlfeval(jac_from_argument, dlarray(B), 0)


def grad_options_from_constants(x):
    y = np.sum(x ** 3)
    g = dlgradient(y, x, EnableHigherDerivatives=HIGHER)
    return dlgradient(np.sum(g * x), x)


def test_enable_higher_derivatives_from_a_module_constant():
    # HIGHER is False: g is a constant, so the result is g = 3x^2 (not 9x^2)
    assert_close(extractdata(dlfeval(grad_options_from_constants, dlarray(X))), 3 * X ** 2)


def grad_options_local(x):
    higher = True
    y = np.sum(x ** 3)
    g = dlgradient(y, x, EnableHigherDerivatives=higher)
    return dlgradient(np.sum(g * x), x)


def test_enable_higher_derivatives_from_a_local_constant():
    # d/dx sum(3x^2 * x) = 9 x^2
    assert_close(extractdata(dlfeval(grad_options_local, dlarray(X))), 9 * X ** 2)


def grad_option_from_data(x):
    y = np.sum(x ** 3)
    return dlgradient(y, x, RetainData=bool(np.sum(x) > 0))


def test_option_from_data_is_refused():
    with pytest.raises(CompileError, match="option RetainData must be fixed") as info:
        dlfeval(grad_option_from_data, dlarray(X))
    assert info.value.lineno == grad_option_from_data.__code__.co_firstlineno + 2


# --- item 3: name-value pairs -----------------------------------------------------------------------

def nv_retain(x):
    y = np.sum(x ** 3)
    return dlgradient(y, x, "RetainData", True)


def nv_two_xs_lowercase(x, w):
    y = np.sum(w * x ** 3)
    return dlgradient(y, x, w, "retaindata", True, "allowcomplex", False)


def nv_option_from_constant(x):
    y = np.sum(x ** 3)
    g = dlgradient(y, x, OPTION, True)
    return dlgradient(np.sum(g * x), x)


def nv_higher_false(x):
    y = np.sum(x ** 3)
    g = dlgradient(y, x, "EnableHigherDerivatives", False)
    return dlgradient(np.sum(g * x), x)


def nv_not_an_option(x):
    y = np.sum(x ** 3)
    return dlgradient(y, x, "RetainDat", True)


def nv_no_value(x):
    y = np.sum(x ** 3)
    return dlgradient(y, x, "RetainData")


def nv_jacobian(x):
    return dljacobian(x ** 2, x, 0, "EnableHigherDerivatives", False)


def nv_jacobian_wrong_option(x):
    return dljacobian(x ** 2, x, 0, "RetainData", True)


def test_name_value_pairs():
    g = dlfeval(nv_retain, dlarray(X))
    assert not isinstance(g, tuple)
    assert_close(extractdata(g), 3 * X ** 2)
    W = np.array([2.0, 1.0, -1.0])
    gx, gw = dlfeval(nv_two_xs_lowercase, dlarray(X), dlarray(W))
    assert_close(extractdata(gx), 3 * W * X ** 2)
    assert_close(extractdata(gw), X ** 3)
    assert_close(extractdata(dlfeval(nv_option_from_constant, dlarray(X))), 9 * X ** 2)
    assert_close(extractdata(dlfeval(nv_higher_false, dlarray(X))), 3 * X ** 2)   # g constant
    jac = extractdata(dlfeval(nv_jacobian, dlarray(B)))
    assert_close(jac, np.stack([np.diag(2 * row) for row in B]))


@pytest.mark.parametrize("fun, message", [
    (nv_not_an_option, "dlgradient has no option 'RetainDat'.*a string is never an x"),
    (nv_no_value, "the option 'RetainData' has no value"),
    (nv_jacobian_wrong_option, "no such option for dljacobian 'RetainData'"),
])
def test_name_value_mistakes_are_refused(fun, message):
    arg = dlarray(B) if "jacobian" in fun.__name__ else dlarray(X)
    with pytest.raises(CompileError, match=message) as info:
        dlfeval(fun, arg)
    assert info.value.filename == __file__
    assert info.value.lineno == fun.__code__.co_firstlineno + (1 if "jacobian" in fun.__name__ else 2)


# --- item 6: dlfeval inside a function dlfeval runs --------------------------------------------------

def nested_inner(x):
    y = np.sum(x ** 3)
    return dlgradient(y, x)


def nested_outer(x):
    g = dlfeval(nested_inner, x)
    return g, dlgradient(np.sum(g * g), x)


def nested_lambda(x):
    y, g = sct.dlfeval(lambda t: (np.sum(np.sin(t)), dlgradient(np.sum(np.sin(t)), t)), x)
    return y, g


def nested_plain(x, w):
    y = dlfeval(lambda a, b: np.sum(b * a ** 2), x, w)
    return y, dlgradient(y, x, w)


def test_nested_dlfeval_is_a_call_differentiated_with_the_outer():
    g, gg = dlfeval(nested_outer, dlarray(X))
    assert_close(extractdata(g), 3 * X ** 2)
    assert_close(extractdata(gg), numerical_gradient(lambda x: np.sum(9 * x ** 4), [X], 0))
    y, g = dlfeval(nested_lambda, dlarray(X))
    assert_close(extractdata(y), np.sum(np.sin(X)))
    assert_close(extractdata(g), np.cos(X))
    W = np.array([2.0, 1.0, -1.0])
    y, (gx, gw) = dlfeval(nested_plain, dlarray(X), dlarray(W))
    assert_close(extractdata(y), np.sum(W * X ** 2))
    assert_close(extractdata(gx), 2 * W * X)
    assert_close(extractdata(gw), X ** 2)
