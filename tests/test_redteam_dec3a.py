"""Red team, Dec 3 (a): operators on objects of the user's classes.

``P * x`` where ``P`` is an object of a class with its own ``__mul__`` (``__rmul__``, ``__neg__``,
``__matmul__``, ``__getitem__`` with a traced index, ...) runs that method; generated code
differentiated it as numpy's operator: ``Pow(3) * x`` computing ``x ** 3`` got the gradient of a
product (1 instead of 3 x^2), silently, in reverse mode, forward mode and Hessian-vector products,
whether the object was built here, taken from a list, a dict or a field, passed in, or returned by
a helper.  Now refused at the operator's line where the class is known when compiling
(CompileError), checked when the code runs where the operand comes from code sct does not see
through (EvaluationError).  Values against plain Python, gradients against central differences."""
from __future__ import annotations

import inspect

import numpy as np
import pytest

import sct
from sct import dlarray, dlfeval, dlgradient
from gradcheck import assert_close, numerical_gradient, sct_gradients


pytestmark = pytest.mark.usefixtures("fresh_cache")   # tests/conftest.py


X = np.array([0.37, 0.71, -0.43, 1.13])


class Pow:
    """An operator object: ``P * x`` is ``x ** p``."""
    def __init__(self, p):
        self.p = p

    def __mul__(self, x):
        return x ** self.p
    __rmul__ = __mul__


class Shift:
    def __init__(self, s):
        self.s = s

    def __add__(self, x):
        return x * 2.0 + self.s
    __radd__ = __add__

    def __matmul__(self, x):
        return np.sin(x) * self.s


class Neg:
    def __init__(self, v):
        self.v = v

    def __neg__(self):
        return self.v ** 2


class Table:
    def __getitem__(self, x):
        return x ** 3


class Model:
    def __init__(self, p):
        self.op = Pow(p)

    def __call__(self, x):
        return self.op * x                        # MARK model_call


class Plain:
    """A parameter object with no operators of its own: its fields are ordinary arrays."""
    def __init__(self, w):
        self.w = w


def make_pow(p):
    return Pow(p)


def make_mask(n):
    return np.arange(n) % 2 * 1.0


OPS = [Pow(3)]


def built_here(x):
    P = Pow(3)
    return np.sum(P * x)                          # MARK built_here


def reflected(x):
    return np.sum(x * Pow(2))                     # MARK reflected


def from_a_list(x):
    ps = [Pow(2), Pow(3)]
    s = 0.0
    for p in ps:
        s = s + np.sum(p * x)                     # MARK from_a_list
    return s


def from_a_dict(x):
    d = {"op": Pow(3)}
    return np.sum(d["op"] * x)                    # MARK from_a_dict


def a_field_in_a_method(x):
    m = Model(3)
    return np.sum(m(x))


def from_a_global(x):
    return np.sum(OPS[0] * x)                     # MARK from_a_global


def unary(x):
    return np.sum(-Neg(x))                        # MARK unary


def matmul_and_add(x):
    s = Shift(1.5)
    return np.sum(s + x) + np.sum(s @ x)          # MARK matmul_and_add


def traced_index(x):
    t = Table()
    return np.sum(t[x])                           # MARK traced_index


def returned_by_a_helper(x):
    P = make_pow(3)
    return np.sum(P * x)                          # MARK returned_by_a_helper


def passed_in(x, P):
    y = np.sum(P * x)                             # MARK passed_in
    return y, dlgradient(y, x)


def line_of(mark: str) -> int:
    lines, start = inspect.getsourcelines(__import__(__name__))
    return next(i + 1 for i, text in enumerate(lines) if text.rstrip().endswith(f"# MARK {mark}"))


COMPILE_TIME = [(reflected, "reflected"), (from_a_list, "from_a_list"),
                (from_a_dict, "from_a_dict"), (a_field_in_a_method, "model_call"),
                (from_a_global, "from_a_global")]
# (an object built here, or passed in, of a known class: its operator is its method's call now,
# sct/user_operators.py; was refused here too)
AS_METHODS = [built_here, unary, matmul_and_add, traced_index]


@pytest.mark.parametrize("fun, mark", COMPILE_TIME, ids=[f.__name__ for f, _ in COMPILE_TIME])
def test_operator_of_a_user_class_is_refused_at_its_line(fun, mark):
    fun(X.copy())                                  # plain Python runs it
    with pytest.raises(sct.CompileError) as caught:
        sct_gradients(fun, X)
    assert caught.value.filename == __file__ and caught.value.lineno == line_of(mark), caught.value
    assert "may be an object of" in str(caught.value)


@pytest.mark.parametrize("fun, mark", COMPILE_TIME[:2], ids=["reflected", "from_a_list"])
def test_forward_mode_and_hvp_refuse_it_too(fun, mark):
    with pytest.raises(sct.SctError):
        sct.jvp(fun, (X,), (np.ones(4),))
    with pytest.raises(sct.SctError):
        sct.hvp(fun, X, np.ones(4))


@pytest.mark.parametrize("fun", AS_METHODS, ids=[f.__name__ for f in AS_METHODS])
def test_operator_of_a_known_class_is_its_methods_call(fun):
    value, (grad,) = sct_gradients(fun, X)
    assert_close(np.asarray(value.data), fun(X.copy()), 1e-12, 1e-12)
    assert_close(grad, numerical_gradient(fun, [X.copy()], 0))
    _, tangent = sct.jvp(fun, (X,), (np.ones(4),))
    assert_close(np.asarray(getattr(tangent, "data", tangent)), grad.sum())
    h = 1e-5
    hv = sct.hvp(fun, X, np.ones(4))
    expected = (numerical_gradient(fun, [X + h], 0) - numerical_gradient(fun, [X - h], 0)) / (2 * h)
    assert_close(np.asarray(getattr(hv, "data", hv)), expected, 1e-4, 1e-4)


def test_an_argument_of_such_a_class_runs_its_method():
    # was refused; Pow.__mul__(P, x) = x ** 3 now, differentiated as the method's code
    value, grad = dlfeval(passed_in, dlarray(X), Pow(3))
    assert_close(np.asarray(value.data), np.sum(X ** 3), 1e-12, 1e-12)
    assert_close(np.asarray(grad.data), 3 * X ** 2)


def test_an_object_returned_by_a_helper_is_refused():
    # (at compile time: the helper's ``return Pow(...)`` names the class; else when it runs)
    with pytest.raises((sct.CompileError, sct.EvaluationError)) as caught:
        sct_gradients(returned_by_a_helper, X)
    assert caught.value.lineno == line_of("returned_by_a_helper")
    assert "Pow" in str(caught.value) and "__mul__" in str(caught.value)


# --- what still differentiates ------------------------------------------------------------------------------
def method_spelled_out(x):
    P = Pow(3)
    return np.sum(P.__mul__(x)) + np.sum(Pow.__mul__(Pow(2), x))


def helper_returning_an_array(x):
    m = make_mask(x.shape[0])
    return np.sum(x * m) + np.sum(-x * m) * 0.5 + np.sum(x ** 2 * m)


def fields_of_a_plain_object(x):
    p = Plain(x * 2.0)
    q = Plain(3.0)
    return np.sum(p.w * x) + np.sum(-p.w) * q.w


@pytest.mark.parametrize("fun", [method_spelled_out, helper_returning_an_array, fields_of_a_plain_object])
def test_methods_and_plain_objects_still_differentiate(fun):
    value, (g,) = sct_gradients(fun, X)
    assert_close(value, fun(X.copy()), rtol=1e-12, atol=0)
    assert_close(g, numerical_gradient(fun, [X], 0), rtol=1e-6, atol=1e-8)
    y, jv = sct.jvp(fun, (X,), (np.linspace(0.3, 1.1, 4),))
    h = 1e-6
    v = np.linspace(0.3, 1.1, 4)
    assert_close(np.asarray(jv), (fun(X + h * v) - fun(X - h * v)) / (2 * h), rtol=1e-6, atol=1e-8)


def test_second_derivative_through_the_method():
    def first(x):
        return 3 * x ** 2 + 2 * x
    hv = sct.hvp(method_spelled_out, X, np.ones(4))
    assert_close(np.asarray(hv), 6 * X + 2, rtol=1e-10, atol=1e-12)
    assert_close(first(X), numerical_gradient(method_spelled_out, [X], 0), rtol=1e-6, atol=1e-8)


def through_kwargs(x, **kw):
    return np.sum(kw["op"] * x)                   # MARK through_kwargs


def through_keyword_only(x, *, op=2.0):
    return np.sum(op * x)                         # MARK through_keyword_only


def calls_with_keywords(x):
    return through_kwargs(x, op=Pow(3)) + through_keyword_only(x, op=Pow(2))


def calls_with_numbers(x):
    return through_kwargs(x, op=3.0) + through_keyword_only(x, op=2.0) + through_keyword_only(x)


def test_objects_passed_by_keyword_are_refused_when_it_runs():
    # (a keyword into **kw now passes one dict by position, its kinds known: refused when compiling, s51)
    with pytest.raises((sct.CompileError, sct.EvaluationError)) as caught:
        sct_gradients(calls_with_keywords, X)
    assert caught.value.lineno == line_of("through_kwargs")
    value, (g,) = sct_gradients(calls_with_numbers, X)
    assert_close(value, calls_with_numbers(X.copy()), rtol=1e-12, atol=0)
    assert_close(g, numerical_gradient(calls_with_numbers, [X], 0), rtol=1e-6, atol=1e-8)


# --- the operator module's functions are the operators ------------------------------------------------------
import operator  # noqa: E402


def operator_mul(x):
    return np.sum(operator.mul(Pow(3), x))        # MARK operator_mul


def operator_neg(x):
    return np.sum(operator.neg(Neg(x)))           # MARK operator_neg


def operator_functions_of_arrays(x):
    return np.sum(operator.mul(x, x)) + np.sum(operator.neg(x)) + operator.getitem(x, 1) * 2


@pytest.mark.parametrize("fun, mark", [(operator_mul, "operator_mul"), (operator_neg, "operator_neg")])
def test_operator_functions_on_a_user_class_are_refused(fun, mark):
    fun(X.copy())
    with pytest.raises(sct.CompileError) as caught:
        sct_gradients(fun, X)
    assert caught.value.lineno == line_of(mark)


def test_operator_functions_of_arrays_still_differentiate():
    fun = operator_functions_of_arrays
    value, (g,) = sct_gradients(fun, X)
    assert_close(value, fun(X.copy()), rtol=1e-12, atol=0)
    assert_close(g, numerical_gradient(fun, [X], 0), rtol=1e-6, atol=1e-8)


def second_order_through_a_checked_operand(x):
    m = make_mask(x.shape[0])
    y = np.sum(x ** 3 * m)
    g = dlgradient(y, x)
    return dlgradient(np.sum(g * g), x)


def second_order_through_an_object(x):
    P = make_pow(3)
    y = np.sum(P * x)                             # MARK second_order_object
    g = dlgradient(y, x)
    return dlgradient(np.sum(g * g), x)


def test_second_order_with_checked_operands():
    m = make_mask(4)
    got = dlfeval(second_order_through_a_checked_operand, dlarray(X))
    assert_close(np.asarray(got.data), 36 * X ** 3 * m ** 2, rtol=1e-12, atol=1e-14)
    with pytest.raises((sct.CompileError, sct.EvaluationError)) as caught:
        dlfeval(second_order_through_an_object, dlarray(X))
    assert caught.value.lineno == line_of("second_order_object")
