"""Objects of the user's classes where numpy, iteration and base classes meet traced values (Dec 3).

1. ``np.multiply(P, x)`` (np.add, np.dot, np.negative, ...) where ``P`` is an object of a user class
   with ``__mul__``/``__array_ufunc__``/``__array_function__``: numpy runs the object's code (on the
   items of an object array, or by dispatch); generated code differentiated numpy's multiply (a
   gradient of 1 for ``x ** 3``, silently).  Refused at the line (CompileError), or when it runs
   where the object comes from code sct does not see through (EvaluationError).  A subclass of
   ndarray with its own operators (np.matrix, a user's) is refused where it is passed.
2. Iterating an object whose ``__iter__`` gives its fields (``for p in params``, ``list(params)``,
   ``sum(params)``, ``zip``) gave an internal error: now its items' derivatives go back to the fields;
   an item ``__iter__`` computes, and unpacking it (``w, b = params``), are refused clearly.
3. ``functools.reduce(operator.mul, [Pow(3), x])`` (reverse mode and sct.hvp): refused at its line.
4. ``super().__init__(w * k, b)`` with traced values: read in place where the base ``__init__`` only
   sets attributes of ``self`` from its parameters; refused (naming super().__init__) otherwise.
5. A second derivative through ``net.l1.w.T.reshape(-1)[4]`` (progtest 47832049): the adjoint read
   from an adjoint record may be the zero marker; its rules are skipped then (was a reshape error).
Values against plain Python, gradients against central differences (tests/gradcheck.py).
"""
from __future__ import annotations

import dataclasses
import functools
import inspect
import operator

import numpy as np
import pytest

import sct
from sct import dlarray, dlfeval, dlgradient
from gradcheck import assert_close, numerical_gradient, sct_gradients


pytestmark = pytest.mark.usefixtures("fresh_cache")   # tests/conftest.py


X = np.array([0.37, 0.71, -0.43, 1.13])


def line_of(mark: str) -> int:
    lines, start = inspect.getsourcelines(__import__(__name__))
    return next(i + 1 for i, text in enumerate(lines) if text.rstrip().endswith(f"# MARK {mark}"))


# --- 1. numpy functions given an object of a user class ---------------------------------------------------
class Pow:
    def __init__(self, p):
        self.p = p

    def __mul__(self, x):
        return x ** self.p
    __rmul__ = __mul__

    def __add__(self, x):
        return x ** self.p
    __radd__ = __add__



class Neg:
    def __init__(self, v):
        self.v = v

    def __neg__(self):
        return self.v ** 2


class Ufunc:
    """numpy dispatches every ufunc to it."""
    def __array_ufunc__(self, ufunc, method, *inputs, **kwargs):
        return 7.0 * inputs[-1]


class Function:
    """numpy dispatches np.dot, np.sum, ... to it."""
    def __array_function__(self, func, types, args, kwargs):
        return np.sin(args[-1])


def make_pow(p):
    return Pow(p)


def np_multiply(x):
    P = Pow(3)
    return np.sum(np.multiply(P, x))              # MARK np_multiply


def np_add(x):
    return np.sum(np.add(x, Pow(2)))              # MARK np_add


def np_negative(x):
    return np.sum(np.negative(Neg(x)))            # MARK np_negative


def np_ufunc_dispatch(x):
    u = Ufunc()
    return np.sum(np.multiply(u, x))              # MARK np_ufunc_dispatch


def np_function_dispatch(x):
    f = Function()
    return np.sum(np.dot(f, x))                   # MARK np_function_dispatch


def np_matmul_from_a_list(x):
    ops = [Pow(2)]
    return np.sum(np.multiply(x, ops[0]))         # MARK np_matmul_from_a_list


def array_method(x):
    return np.sum(x.dot(Pow(3)))                  # MARK array_method


def np_power_of_an_argument(x, P):
    y = np.sum(np.power(x, P))                    # MARK np_power_of_an_argument
    return y, dlgradient(y, x)


def np_from_a_helper(x):
    P = make_pow(3)
    return np.sum(np.multiply(P, x))              # MARK np_from_a_helper


NUMPY_CASES = [(np_multiply, "np_multiply"), (np_add, "np_add"), (np_negative, "np_negative"),
               (np_ufunc_dispatch, "np_ufunc_dispatch"), (np_function_dispatch, "np_function_dispatch"),
               (np_matmul_from_a_list, "np_matmul_from_a_list"), (array_method, "array_method")]


@pytest.mark.parametrize("fun, mark", NUMPY_CASES, ids=[m for _, m in NUMPY_CASES])
def test_numpy_function_of_a_user_object_is_refused_at_its_line(fun, mark):
    with pytest.raises(sct.CompileError) as caught:
        sct_gradients(fun, X)
    assert caught.value.filename == __file__ and caught.value.lineno == line_of(mark), caught.value
    assert "an argument of np." in str(caught.value) and "Pass arrays" in str(caught.value)
    fun(X.copy())                                  # plain Python runs it


def test_the_silent_wrong_gradient_is_gone():
    # plain Python: np.multiply(Pow(3), x) is x ** 3 item by item, whose gradient is 3 x^2
    assert_close(np.asarray(np_multiply(X.copy()), dtype=float), np.sum(X ** 3), rtol=1e-12, atol=0)
    with pytest.raises(sct.SctError):
        sct_gradients(np_multiply, X)
    with pytest.raises(sct.SctError):
        sct.hvp(np_multiply, X, np.ones(4))
    with pytest.raises(sct.SctError):
        sct.jvp(np_multiply, (X,), (np.ones(4),))


def test_an_argument_of_such_a_class_is_refused():
    with pytest.raises(sct.CompileError) as caught:
        dlfeval(np_power_of_an_argument, dlarray(X), Pow(2))
    assert caught.value.lineno == line_of("np_power_of_an_argument")
    y, g = dlfeval(np_power_of_an_argument, dlarray(X), 3.0)      # a number: numpy's power
    assert_close(np.asarray(g.data), 3 * X ** 2, rtol=1e-12, atol=0)


def test_an_object_from_a_helper_is_refused():
    # (at compile time: the helper's ``return Pow(...)`` names the class; else when it runs)
    with pytest.raises((sct.CompileError, sct.EvaluationError)) as caught:
        sct_gradients(np_from_a_helper, X)
    assert caught.value.filename == __file__ and caught.value.lineno == line_of("np_from_a_helper")
    assert "np.multiply" in str(caught.value) and "Pow" in str(caught.value)


def numpy_of_arrays_and_fields(x):
    p = Plain(x * 2.0)
    return np.sum(np.multiply(p.w, x)) + np.sum(np.dot(x, x)) + np.sum(np.power(x, 2) * np.add(x, 1.0))


class Plain:
    def __init__(self, w):
        self.w = w


def test_numpy_functions_of_arrays_still_differentiate():
    value, (g,) = sct_gradients(numpy_of_arrays_and_fields, X)
    assert_close(value, numpy_of_arrays_and_fields(X.copy()), rtol=1e-12, atol=0)
    assert_close(g, numerical_gradient(numpy_of_arrays_and_fields, [X], 0), rtol=1e-6, atol=1e-8)


class Overriding(np.ndarray):
    def __mul__(self, other):
        return np.asarray(other) ** 2 * np.asarray(self)
    __rmul__ = __mul__


class Quiet(np.ndarray):
    """A subclass that changes nothing numpy computes."""


def times_constant(x, M):
    y = np.sum(x * M) + np.sum(np.multiply(x, M))
    return y, dlgradient(y, x)


@pytest.mark.parametrize("make", [lambda a: np.matrix(a), lambda a: a.view(Overriding)],
                         ids=["matrix", "user_subclass"])
def test_an_ndarray_subclass_with_its_own_operators_is_refused(make):
    A = np.array([[1.0, 2.0], [3.0, 4.0]])
    with pytest.raises(sct.EvaluationError) as caught:
        dlfeval(times_constant, dlarray(A), make(A))  # MARK subclass_call
    assert caught.value.filename == __file__ and caught.value.lineno == line_of("subclass_call")
    assert "subclass of numpy's ndarray" in str(caught.value) and "np.asarray" in str(caught.value)


def test_a_quiet_ndarray_subclass_still_differentiates():
    A = np.array([[1.0, 2.0], [3.0, 4.0]])
    y, g = dlfeval(times_constant, dlarray(A), A.view(Quiet))
    assert_close(np.asarray(y.data), 2 * np.sum(A * A), rtol=1e-12, atol=0)
    assert_close(np.asarray(g.data), 2 * A, rtol=1e-12, atol=0)


# --- 3. functools.reduce with the operator module's functions -----------------------------------------------
def reduce_with_an_object(x):
    return np.sum(functools.reduce(operator.mul, [Pow(3), x]))     # MARK reduce_with_an_object


def reduce_of_arrays(x):
    return np.sum(functools.reduce(operator.mul, [x, x, 2.0])) + np.sum(functools.reduce(operator.add, [x, x ** 2]))


def test_reduce_over_an_object_is_refused_at_its_line():
    assert_close(reduce_with_an_object(X.copy()), np.sum(X ** 3), rtol=1e-12, atol=0)
    with pytest.raises(sct.EvaluationError) as caught:
        sct_gradients(reduce_with_an_object, X)
    assert caught.value.filename == __file__ and caught.value.lineno == line_of("reduce_with_an_object")
    assert "Pow" in str(caught.value) and "__mul__" in str(caught.value)
    with pytest.raises(sct.EvaluationError) as caught:
        sct.hvp(reduce_with_an_object, X, np.ones(4))
    assert caught.value.lineno == line_of("reduce_with_an_object")
    with pytest.raises(sct.SctError):
        sct.jvp(reduce_with_an_object, (X,), (np.ones(4),))


def test_reduce_over_arrays_still_differentiates():
    value, (g,) = sct_gradients(reduce_of_arrays, X)
    assert_close(value, reduce_of_arrays(X.copy()), rtol=1e-12, atol=0)
    assert_close(g, numerical_gradient(reduce_of_arrays, [X], 0), rtol=1e-6, atol=1e-8)
    hv = sct.hvp(reduce_of_arrays, X, np.ones(4))
    assert_close(np.asarray(hv), np.full(4, 6.0), rtol=1e-10, atol=1e-12)


# --- 2. iterating an object whose __iter__ gives its fields ---------------------------------------------------
class Params:
    def __init__(self, w, b):
        self.w = w
        self.b = b

    def __iter__(self):
        return iter([self.w, self.b])

    def norm(self):
        t = 0.0
        for p in self:
            t = t + np.sum(p * p)
        return t


class Yielding:
    def __init__(self, w, b):
        self.w = w
        self.b = b

    def __iter__(self):
        yield self.w
        yield self.b


class Stack:
    def __init__(self, layers):
        self.layers = layers

    def __iter__(self):
        return iter(self.layers)


class Computed:
    def __init__(self, w, b):
        self.w = w
        self.b = b

    def __iter__(self):
        yield self.w * 2.0
        yield self.b


def walk_for(w, b):
    params = Params(w, b)
    s = 0.0
    for p in params:
        s = s + np.sum(np.sin(p) * p)
    return s


def walk_for_generator(w, b):
    params = Yielding(w, b)
    s = 0.0
    for p in params:
        s = s + np.sum(np.sin(p) * p)
    return s


def walk_list(w, b):
    ps = list(Params(w, b))
    return np.sum(ps[0] ** 2 * ps[1]) + np.sum(ps[1])


def walk_list_generator(w, b):
    ps = list(Yielding(w, b))
    return np.sum(ps[0] ** 2 * ps[1]) + np.sum(ps[1])


def walk_sum(w, b):
    params = Params(w, b)
    return np.sum(sum(list(params)) ** 2)


def walk_sum_generator(w, b):
    return np.sum(sum(list(Yielding(w, b))) ** 2)


def sum_of_the_object(w, b):
    params = Params(w, b)
    return np.sum(sum(params) ** 2)                  # MARK sum_of_the_object


def test_sum_of_an_iterated_object_is_refused():
    # its derivative would walk the object again (``__iter__`` may give other items by then):
    # refused at the line, saying to write sum(list(obj)), which keeps the walk's items
    with pytest.raises(sct.EvaluationError, match=r"sum\(list\(obj\)\)") as caught:
        sct_gradients(sum_of_the_object, W0, B0)
    assert caught.value.filename == __file__ and caught.value.lineno == line_of("sum_of_the_object")


def walk_zip(w, b):
    params = Params(w, b)
    s = 0.0
    for p, k in zip(params, [1.0, 3.0]):
        s = s + k * np.sum(np.tanh(p))
    return s


def walk_comprehension(w, b):
    params = Yielding(w, b)
    return sum([np.sum(p ** 3) for p in params])


def walk_in_a_method(w, b):
    return Params(w, b).norm()


def walk_in_a_loop(w, b):
    total = 0.0
    for k in range(3):
        params = Params(w * (k + 1.0), b)
        for p in params:
            total = total + np.sum(p * np.exp(-p * p))
    return total


def walk_a_list_field(w, b):
    net = Stack([w, b * 2.0, w])
    s = 0.0
    for layer in net:
        s = s + np.sum(np.cos(layer) * layer)
    return s


def walk_enumerate_reversed_tuple(w, b):
    params = Params(w, b)
    s = 0.0
    for i, p in enumerate(reversed(list(params))):
        s = s * 0.5 + (i + 1.0) * np.sum(p ** 2)
    t = tuple(params)
    return s + np.sum(t[0] * t[1]) + np.sum(np.stack([*params]) ** 3)


W0 = np.array([0.3, -0.8, 1.1])
B0 = np.array([0.5, 0.2, -0.6])
WALKS = [walk_for, walk_for_generator, walk_list, walk_list_generator, walk_sum, walk_sum_generator,
         walk_zip, walk_comprehension, walk_in_a_method, walk_in_a_loop, walk_a_list_field,
         walk_enumerate_reversed_tuple]


@pytest.mark.parametrize("fun", WALKS, ids=[f.__name__ for f in WALKS])
def test_iterating_an_object_differentiates(fun):
    value, (gw, gb) = sct_gradients(fun, W0, B0)
    assert_close(value, fun(W0.copy(), B0.copy()), rtol=1e-12, atol=0)
    assert_close(gw, numerical_gradient(fun, [W0, B0], 0), rtol=1e-6, atol=1e-8)
    assert_close(gb, numerical_gradient(fun, [W0, B0], 1), rtol=1e-6, atol=1e-8)


def params_passed_in(params):
    s = 0.0
    for p in params:
        s = s + np.sum(p ** 3)
    g = dlgradient(s, params.w, EnableHigherDerivatives=True)
    z = np.sum(g * g) + s
    return z, dlgradient(z, params.w), dlgradient(s, params)


def test_an_iterated_argument_first_and_second_derivatives():
    z, gz, gs = dlfeval(params_passed_in, Params(dlarray(W0), dlarray(B0)))
    s = np.sum(W0 ** 3) + np.sum(B0 ** 3)
    assert_close(np.asarray(z.data), np.sum((3 * W0 ** 2) ** 2) + s, rtol=1e-12, atol=0)
    assert_close(np.asarray(gz.data), 36 * W0 ** 3 + 3 * W0 ** 2, rtol=1e-10, atol=1e-12)
    assert_close(np.asarray(gs.w.data), 3 * W0 ** 2, rtol=1e-12, atol=0)
    assert_close(np.asarray(gs.b.data), 3 * B0 ** 2, rtol=1e-12, atol=0)


def test_hvp_through_iteration():
    def f(w):
        return walk_for(w, B0.copy())
    hv = np.asarray(sct.hvp(f, W0, np.ones(3)))
    h = 1e-5
    g = lambda w: numerical_gradient(f, [w], 0)             # noqa: E731
    assert_close(hv, (g(W0 + h) - g(W0 - h)) / (2 * h), rtol=1e-4, atol=1e-6)


def walk_computed(w, b):
    params = Computed(w, b)
    s = 0.0
    for p in params:                              # MARK walk_computed
        s = s + np.sum(p ** 2)
    return s


def unpack_params(w, b):
    params = Params(w, b)
    u, v = params                                 # MARK unpack_params
    return np.sum(u * v)


def test_an_item_iter_computes_is_refused_when_its_derivative_is():
    with pytest.raises(sct.EvaluationError) as caught:
        sct_gradients(walk_computed, W0, B0)
    assert caught.value.filename == __file__ and caught.value.lineno == line_of("walk_computed")
    assert "__iter__" in str(caught.value) and "none of its fields" in str(caught.value)


def test_unpacking_an_iterable_object_differentiates():
    # (was refused; sct/unpack_objects.py now unpacks it as Python does, by its __iter__)
    value, (gw, gb) = sct_gradients(unpack_params, W0, B0)
    assert_close(value, unpack_params(W0, B0), rtol=1e-12, atol=0)
    assert_close(gw, B0, rtol=1e-12, atol=0)
    assert_close(gb, W0, rtol=1e-12, atol=0)


def unpack_through_list(w, b):
    u, v = list(Params(w, b))
    return np.sum(u * v ** 2)


def test_unpacking_through_list_differentiates():
    value, (gw, gb) = sct_gradients(unpack_through_list, W0, B0)
    assert_close(value, unpack_through_list(W0, B0), rtol=1e-12, atol=0)
    assert_close(gw, B0 ** 2, rtol=1e-12, atol=0)
    assert_close(gb, 2 * W0 * B0, rtol=1e-12, atol=0)


# --- 4. super().__init__ with traced values -----------------------------------------------------------------
class Base:
    def __init__(self, w, b, scale=1.0):
        """A layer: y = tanh(W x + b)."""
        self.w = w
        self.b = b * scale

    def __call__(self, x):
        return np.tanh(self.w @ x + self.b)


class Scaled(Base):
    def __init__(self, w, b, k):
        super().__init__(w * k, b)
        self.k = k


class Explicit(Base):
    def __init__(self, w, b):
        Base.__init__(self, w, b=b, scale=2.0)
        self.extra = np.sum(w)


class Middle(Base):
    def __init__(self, w, b):
        super().__init__(w, b + 1.0)


class Leaf(Middle):
    def __init__(self, w, b, k=0.5):
        super().__init__(w * k, b)


@dataclasses.dataclass
class DataBase:
    w: np.ndarray
    b: np.ndarray
    scale: float = 0.5


class FromData(DataBase):
    def __init__(self, w, b):
        super().__init__(w * 2.0, b)
        self.c = 3.0

    def __call__(self, x):
        return np.sin(self.w @ x) * self.b * self.scale + self.c


@dataclasses.dataclass
class Posted:
    w: np.ndarray

    def __post_init__(self):
        self.w = self.w * 2.0


class FromPosted(Posted):
    def __init__(self, w):
        super().__init__(w)                       # MARK from_posted


class Counting:
    made = []

    def __init__(self, w):
        self.w = w
        Counting.made.append(1)


class Counted(Counting):
    def __init__(self, w):
        super().__init__(w)                       # MARK counted_super


XV = np.array([0.4, -0.9])
WM = np.array([[0.3, -0.5], [0.8, 0.1], [-0.2, 0.6]])
BV = np.array([0.1, -0.3, 0.7])


def scaled_loss(w, b):
    return np.sum(Scaled(w, b, 2.0)(XV))


def explicit_loss(w, b):
    layer = Explicit(w, b)
    return np.sum(layer(XV)) + layer.extra


def chain_loss(w, b):
    total = 0.0
    for k in (0.5, 1.5):
        total = total + np.sum(Leaf(w, b, k)(XV) ** 2)
    return total


def chain_loss32(w, b):
    return np.sum(Leaf(w, b)(XV.astype(np.float32)))


def dataclass_base_loss(w, b):
    return np.sum(FromData(w, b)(XV) ** 2)


@pytest.mark.parametrize("fun", [scaled_loss, explicit_loss, chain_loss, dataclass_base_loss],
                         ids=lambda f: f.__name__)
def test_base_init_with_traced_values_differentiates(fun):
    value, (gw, gb) = sct_gradients(fun, WM, BV)
    assert_close(value, fun(WM.copy(), BV.copy()), rtol=1e-12, atol=0)
    assert_close(gw, numerical_gradient(fun, [WM, BV], 0), rtol=1e-6, atol=1e-8)
    assert_close(gb, numerical_gradient(fun, [WM, BV], 1), rtol=1e-6, atol=1e-8)
    v = np.linspace(0.2, 0.9, 6).reshape(3, 2)
    y, jv = sct.jvp(fun, (WM, BV), (v, np.zeros(3)))
    h = 1e-6
    assert_close(np.asarray(jv), (fun(WM + h * v, BV) - fun(WM - h * v, BV)) / (2 * h), rtol=1e-6, atol=1e-8)


def test_base_init_float32_and_second_derivative():
    def entry(w, b):
        y = chain_loss32(w, b)
        return y, dlgradient(y, w, b)
    y, (gw, gb) = dlfeval(entry, dlarray(WM.astype(np.float32)), dlarray(BV.astype(np.float32)))
    assert gw.data.dtype == np.float32
    expected = numerical_gradient(chain_loss32, [WM, BV], 1)
    assert_close(np.asarray(gb.data, dtype=float), expected, rtol=1e-4, atol=1e-5)

    def f(b):
        return scaled_loss(WM.copy(), b)
    hv = np.asarray(sct.hvp(f, BV, np.ones(3)))
    h = 1e-5
    g = lambda b: numerical_gradient(f, [b], 0)             # noqa: E731
    assert_close(hv, (g(BV + h) - g(BV - h)) / (2 * h), rtol=1e-4, atol=1e-6)


def counted_loss(w):
    return np.sum(Counted(w).w ** 2)


def posted_loss(w):
    return np.sum(FromPosted(w).w ** 2)


@pytest.mark.parametrize("fun, mark", [(counted_loss, "counted_super"), (posted_loss, "from_posted")],
                         ids=["side_effect", "post_init"])
def test_a_base_init_doing_more_is_refused_naming_super(fun, mark):
    fun(BV.copy())
    with pytest.raises(sct.CompileError) as caught:
        sct_gradients(fun, BV)
    assert caught.value.filename == __file__ and caught.value.lineno == line_of(mark)
    assert "super().__init__" in str(caught.value) and "out_super" not in str(caught.value)


# --- 5. a second derivative through an attribute's .T.reshape(-1)[k] -----------------------------------------
class Lin:
    def __init__(self, w, b):
        self.w = w
        self.b = b


class Net:
    def __init__(self, l1, l2):
        self.l1 = l1
        self.l2 = l2


def nested(x, net):
    h = x * net.l1.w.T.reshape(-1)[4]
    z_1 = h * 1.0
    z_1.sort()
    h = h + 0.5 * z_1 * z_1[::-1]
    y = np.sum(np.tanh(h)) + np.sum(np.sin(net.l2.b))
    gr = dlgradient(y, net.l2.b, EnableHigherDerivatives=True)
    z = np.sum(gr ** 2) + 0.5 * y
    return z, dlgradient(z, net.l2.b), dlgradient(z, net.l1.w)


def nested_plain(x, w1, b2):
    h = x * w1.T.reshape(-1)[4]
    z_1 = np.sort(h * 1.0)
    h = h + 0.5 * z_1 * z_1[::-1]
    y = np.sum(np.tanh(h)) + np.sum(np.sin(b2))
    return np.sum(np.cos(b2) ** 2) + 0.5 * y


def test_second_derivative_through_a_reshaped_transposed_field():
    rng = np.random.default_rng(47832049)
    x, w1, w2, b1, b2 = rng.uniform(-1, 1, 4), rng.uniform(-1, 1, (4, 4)), rng.uniform(-1, 1, (4, 4)), \
        rng.uniform(-1, 1, 4), rng.uniform(-1, 1, 4)
    net = Net(Lin(dlarray(w1), dlarray(b1)), Lin(dlarray(w2), dlarray(b2)))
    z, gb, gw = dlfeval(nested, dlarray(x), net)
    assert_close(np.asarray(z.data), nested_plain(x, w1, b2), rtol=1e-12, atol=1e-14)
    assert_close(np.asarray(gb.data), numerical_gradient(nested_plain, [x, w1, b2], 2), rtol=1e-6, atol=1e-8)
    assert_close(np.asarray(gw.data), numerical_gradient(nested_plain, [x, w1, b2], 1), rtol=1e-6, atol=1e-8)


@pytest.mark.parametrize("fun", WALKS, ids=[f.__name__ for f in WALKS])
def test_iterating_an_object_forward_mode(fun):
    v = np.array([0.7, -0.2, 0.4])
    y, jv = sct.jvp(fun, (W0, B0), (v, np.zeros(3)))
    h = 1e-6
    assert_close(np.asarray(jv), (fun(W0 + h * v, B0) - fun(W0 - h * v, B0)) / (2 * h), rtol=1e-6, atol=1e-8)


class Twice:
    def __init__(self, w):
        self.w = w
        self.w2 = w

    def __iter__(self):
        return iter([self.w, self.w2])


def walk_twice(w, b):
    s = 0.0
    for p in Twice(w):                            # MARK walk_twice
        s = s + np.sum(p ** 2)
    return s + np.sum(b)


def test_an_item_two_fields_hold_is_refused():
    with pytest.raises(sct.EvaluationError) as caught:
        sct_gradients(walk_twice, W0, B0)
    assert caught.value.lineno == line_of("walk_twice") and "both hold" in str(caught.value)
