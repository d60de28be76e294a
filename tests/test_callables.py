"""What dlfeval accepts as fun: def, lambda, bound/static/class methods, partials, callable objects."""
import functools

import numpy as np
import pytest

import sct
from sct import CompileError, SctError, dlarray, dlfeval, dlgradient
from gradcheck import assert_close


class Model:
    def __init__(self, k):
        self.k = k

    def loss(self, x):
        y = np.sum(self.k * x ** 2)
        return y, dlgradient(y, x)

    def __call__(self, x):
        y = np.sum(self.k * x ** 3)
        return y, dlgradient(y, x)

    @staticmethod
    def plain(x):
        y = np.sum(x ** 2)
        return y, dlgradient(y, x)

    @classmethod
    def scaled(cls, x):
        y = np.sum(3.0 * x ** 2)
        return y, dlgradient(y, x)


def scaled_loss(x, k):
    y = np.sum(k * x ** 2)
    return y, dlgradient(y, x)


X = np.array([1.0, -2.0])


def test_the_seeds_anonymous_function():
    # MATLAB: dlfeval(@(x) dlgradient(relu(x), x), dlarray(0))
    assert float(dlfeval(lambda t: dlgradient(sct.relu(t), t), dlarray(0.0))) == 0.0
    assert float(dlfeval(lambda t: dlgradient(sct.relu(t), t), dlarray(np.finfo(float).eps))) == 1.0


def test_lambda_with_several_arguments_and_two_lambdas_on_one_line():
    f, g = (lambda a, b: dlgradient(np.sum(a * b), a, b)), (lambda a: dlgradient(np.sum(a ** 3), a))
    da, db = dlfeval(f, dlarray(X), dlarray([3.0, 4.0]))
    assert_close(da, [3.0, 4.0])
    assert_close(db, X)
    assert_close(dlfeval(g, dlarray(X)), 3 * X ** 2)


def test_source_of_a_lambda_reads_like_a_function():
    text = sct.source(lambda t: dlgradient(np.sum(np.sin(t)), t), dlarray(X))
    assert text.startswith("def lambda_line")
    assert "np.cos(t)" in text


@pytest.mark.parametrize("fun, k", [(Model(2.0).loss, 2.0), (Model.plain, 1.0), (Model.scaled, 3.0),
                                    (functools.partial(scaled_loss, k=5.0), 5.0)])
def test_methods_and_partials(fun, k):
    y, g = dlfeval(fun, dlarray(X))
    assert_close(y, k * np.sum(X ** 2))
    assert_close(g, 2 * k * X)


def test_callable_object():
    y, g = dlfeval(Model(2.0), dlarray(X))
    assert_close(y, 2.0 * np.sum(X ** 3))
    assert_close(g, 6.0 * X ** 2)


def test_bound_method_of_an_object_holding_traced_weights():
    class Net:
        def __init__(self):
            self.w = dlarray([0.5, -1.5])

        def loss(self, x):
            y = np.sum(np.tanh(self.w * x))
            return y, dlgradient(y, self.w)

    net = Net()
    y, g = dlfeval(net.loss, X)
    assert_close(g, X * (1 - np.tanh(net.w.data * X) ** 2))


def test_partial_of_a_bound_method_keeps_positions():
    fun = functools.partial(Model(4.0).loss)
    y, g = dlfeval(fun, x=dlarray(X))
    assert_close(g, 8.0 * X)


@pytest.mark.parametrize("fun", [np.sin, len, max])
def test_builtins_and_ufuncs_are_refused_with_advice(fun):
    with pytest.raises(SctError, match="Wrap it in one"):
        dlfeval(fun, dlarray(X))
