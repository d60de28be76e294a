"""Red team (Dec 3f): iterating an object of a user's class whose ``__iter__`` order depends on state
that changes after the iteration.

The adjoint of ``for p in params`` (list(params), [*params], zip, enumerate, comprehensions) gave each
item's derivative back to the field that ``__iter__`` gives at that place *when the derivative is
computed*, reading the object then: where ``__iter__`` depends on other state of the object
(``self.names``, a flag) changed after the loop, the derivatives went to the wrong fields (dy/dw and
dy/db swapped, silently).  Now a for loop (comprehension, zip, enumerate) records where the object
held each item when it was walked (rt.as_sequence), and the derivatives go back there; list(obj),
tuple(obj) and [*obj] check the items they gave against the fields the object holds, and refuse at
their line where one moved.  Values against plain Python, gradients against central differences.
"""
from __future__ import annotations

import dataclasses
import inspect

import numpy as np
import pytest

import sct
from gradcheck import assert_close, numerical_gradient, sct_gradients


pytestmark = pytest.mark.usefixtures("fresh_cache")   # tests/conftest.py


W0 = np.array([0.3, -0.8, 1.1])
B0 = np.array([0.5, 0.2, -0.6])


def line_of(mark: str) -> int:
    lines, start = inspect.getsourcelines(__import__(__name__))
    return next(i + 1 for i, text in enumerate(lines) if text.rstrip().endswith(f"# MARK {mark}"))


class Named:
    def __init__(self, w, b):
        self.w = w
        self.b = b
        self.names = ["w", "b"]

    def __iter__(self):
        return iter([getattr(self, n) for n in self.names])


class Flip:
    def __init__(self, w, b):
        self.w = w
        self.b = b
        self.flip = False

    def __iter__(self):
        if self.flip:
            return iter([self.b, self.w])
        return iter([self.w, self.b])


class Yielding:
    def __init__(self, w, b):
        self.w = w
        self.b = b

    def __iter__(self):
        yield self.w
        yield self.b


class Rev:
    def __init__(self, w, b):
        self.w = w
        self.b = b

    def __iter__(self):
        return iter([self.b, self.w, self.b])


def named_for(w, b):
    params = Named(w, b)
    s = 0.0
    k = 1.0
    for p in params:                                              # MARK named_for
        s = s + k * np.sum(p ** 2)
        k = k + 2.0
    params.names = ["b", "w"]
    return s


def flip_for(w, b):
    params = Flip(w, b)
    s = 0.0
    k = 1.0
    for p in params:                                              # MARK flip_for
        s = s + k * np.sum(p ** 2)
        k = k + 2.0
    params.flip = True
    return s


def named_zip(w, b):
    params = Named(w, b)
    s = 0.0
    for p, k in zip(params, [1.0, 5.0]):                          # MARK named_zip
        s = s + k * np.sum(p ** 2)
    params.names = ["b", "w"]
    return s


def named_comprehension(w, b):
    params = Named(w, b)
    s = [np.sum(p ** 2) * (k + 1.0) for k, p in enumerate(params)]   # MARK named_comprehension
    params.names = ["b", "w"]
    return s[0] + s[1]


def named_star(w, b):
    params = Named(w, b)
    t = np.stack([*params])                                       # MARK named_star
    params.names = ["b", "w"]
    return np.sum(t[0] ** 2) + 3.0 * np.sum(t[1] ** 3)


def named_reversed(w, b):
    params = Named(w, b)
    s = 0.0
    k = 1.0
    for p in reversed(list(params)):                              # MARK named_reversed
        s = s + k * np.sum(p ** 2)
        k = k + 3.0
    params.names = ["b", "w"]
    return s


def named_in_a_loop(w, b):
    params = Named(w, b)
    s = 0.0
    for i in range(2):
        k = 1.0
        for p in params:                                          # MARK named_in_a_loop
            s = s + k * np.sum(p ** 2)
            k = k + 3.0
        params.names = ["b", "w"]
    return s


def flip_and_reassign(w, b):
    params = Flip(w, b)
    s = 0.0
    k = 1.0
    for p in params:
        s = s + k * np.sum(p ** 2)
        k = k + 2.0
    params.flip = True
    params.w = params.w * 1.0
    params.b = params.b * 1.0
    return s


WALKED = [named_for, flip_for, named_zip, named_comprehension, named_in_a_loop, flip_and_reassign]


@pytest.mark.parametrize("fun", WALKED, ids=[f.__name__ for f in WALKED])
def test_a_loop_over_an_object_whose_order_changed_afterwards_differentiates(fun):
    value, (gw, gb) = sct_gradients(fun, W0, B0)
    assert_close(value, fun(W0.copy(), B0.copy()), rtol=1e-12, atol=0)
    assert_close(gw, numerical_gradient(fun, [W0, B0], 0), rtol=1e-6, atol=1e-8)
    assert_close(gb, numerical_gradient(fun, [W0, B0], 1), rtol=1e-6, atol=1e-8)


def test_the_swapped_gradient_is_gone():
    # plain: s = |w|^2 + 3 |b|^2 (the loop ran w first): d/dw = 2 w, d/db = 6 b; sct gave them swapped
    value, (gw, gb) = sct_gradients(named_for, W0, B0)
    assert_close(gw, 2 * W0, rtol=1e-12, atol=0)
    assert_close(gb, 6 * B0, rtol=1e-12, atol=0)
    hv = np.asarray(sct.hvp(lambda w: flip_for(w, B0.copy()), W0, np.ones(3)))
    assert_close(hv, np.full(3, 2.0), rtol=1e-12, atol=0)
    hv = np.asarray(sct.hvp(lambda b: flip_for(W0.copy(), b), B0, np.ones(3)))
    assert_close(hv, np.full(3, 6.0), rtol=1e-12, atol=0)


MOVED = [(named_star, "named_star"), (named_reversed, "named_reversed")]


@pytest.mark.parametrize("fun, mark", MOVED, ids=[m for _, m in MOVED])
def test_an_iteration_whose_order_changed_afterwards_is_refused(fun, mark):
    fun(W0.copy(), B0.copy())                                     # plain Python runs it
    with pytest.raises(sct.EvaluationError) as caught:
        sct_gradients(fun, W0, B0)
    assert caught.value.filename == __file__ and caught.value.lineno == line_of(mark), caught.value
    assert "changed after it was iterated" in str(caught.value)


# --- what still differentiates: the order unchanged, fields reassigned after, items given twice --------------
def reassigned_after(w, b):
    params = Yielding(w, b)
    s = 0.0
    for p in params:
        s = s + np.sum(p ** 2)
    params.w = params.w * 2.0
    for p in params:
        s = s + np.sum(p ** 3)
    return s + np.sum(params.w)


def names_reassigned_same_order(w, b):
    params = Named(w, b)
    s = 0.0
    k = 1.0
    for p in params:
        s = s + k * np.sum(np.sin(p) * p)
        k = k + 2.0
    params.names = ["w", "b"]
    params.b = params.b * 3.0
    return s + np.sum(params.b ** 2)


def given_twice(w, b):
    s = 0.0
    k = 1.0
    for p in Rev(w, b):
        s = s + k * np.sum(np.sin(p) * p)
        k = k + 1.0
    return s


def zip_of_two(w, b):
    s = 0.0
    for p, q in zip(Yielding(w, b), Rev(w, b)):
        s = s + np.sum(p * q)
    return s + sum(np.sum(p ** 2) for p in Rev(w, b))


KEPT = [reassigned_after, names_reassigned_same_order, given_twice, zip_of_two]


@pytest.mark.parametrize("fun", KEPT, ids=[f.__name__ for f in KEPT])
def test_iterations_the_object_still_gives_differentiate(fun):
    value, (gw, gb) = sct_gradients(fun, W0, B0)
    assert_close(value, fun(W0.copy(), B0.copy()), rtol=1e-12, atol=0)
    assert_close(gw, numerical_gradient(fun, [W0, B0], 0), rtol=1e-6, atol=1e-8)
    assert_close(gb, numerical_gradient(fun, [W0, B0], 1), rtol=1e-6, atol=1e-8)


def test_second_derivative_where_the_order_is_kept():
    def f(w):
        return names_reassigned_same_order(w, B0.copy())
    hv = np.asarray(sct.hvp(f, W0, np.ones(3)))
    # d2/dw2 of sum(sin(w) * w) (w is the first item, k = 1): 2 cos w - w sin w, diagonal
    assert_close(hv, 2 * np.cos(W0) - W0 * np.sin(W0), rtol=1e-10, atol=1e-12)
    h = 1e-4
    g = lambda w: numerical_gradient(f, [w], 0, step=1e-4)  # noqa: E731
    assert_close(hv, (g(W0 + h) - g(W0 - h)) / (2 * h), rtol=1e-4, atol=1e-6)


# --- a dataclass base read in place: its fields not given to __init__ (init=False) ------------------------------
# The inlined dataclass __init__ set only the fields __init__ takes: a field(init=False,
# default_factory=...) was never set (AttributeError reading it, where plain Python has its value);
# a constant default is now set as the generated __init__ sets it, a factory leaves the base as it is.
@dataclasses.dataclass
class WithFactory:
    w: np.ndarray
    acc: float = dataclasses.field(init=False, default_factory=lambda: 10.0)


class FromFactory(WithFactory):
    def __init__(self, w):
        super().__init__(w * 2.0)                                 # MARK from_factory


@dataclasses.dataclass
class WithDefault:
    w: np.ndarray
    c: float = dataclasses.field(init=False, default=3.0)


class FromDefault(WithDefault):
    def __init__(self, w, b):
        super().__init__(w * 2.0)
        self.c = self.c * np.sum(b)


def factory_loss(w, b):
    o = FromFactory(w)
    return np.sum(o.w ** 2) * o.acc + np.sum(b)


def default_loss(w, b):
    o = FromDefault(w, b)
    return np.sum(o.w ** 2) * o.c + float(vars(o)["c"] > 0.0)


def test_a_dataclass_base_with_a_factory_field_is_refused_at_super():
    assert_close(factory_loss(W0.copy(), B0.copy()), 40.0 * np.sum(W0 ** 2) + np.sum(B0), rtol=1e-12, atol=0)
    with pytest.raises(sct.CompileError) as caught:
        sct_gradients(factory_loss, W0, B0)
    assert caught.value.filename == __file__ and caught.value.lineno == line_of("from_factory")
    assert "super().__init__" in str(caught.value)


def test_a_dataclass_base_with_an_init_false_default_differentiates():
    value, (gw, gb) = sct_gradients(default_loss, W0, B0)
    assert_close(value, default_loss(W0.copy(), B0.copy()), rtol=1e-12, atol=0)
    assert_close(gw, numerical_gradient(default_loss, [W0, B0], 0), rtol=1e-6, atol=1e-8)
    assert_close(gb, numerical_gradient(default_loss, [W0, B0], 1), rtol=1e-6, atol=1e-8)


# --- a helper whose nested function returns an object of a user class with operators ---------------------------
# The operand check read every ``return Cls(...)`` in the helper's source, those of the functions and
# lambdas defined in it too: an operator on the helper's result (an array) was refused at compile time.
class Pow:
    def __init__(self, p):
        self.p = p

    def __mul__(self, x):
        return x ** self.p
    __rmul__ = __mul__


def helper_with_a_nested_def(x):
    def make():
        return Pow(3)
    unused = lambda: Pow(2)                                       # noqa: E731,F841
    return x * 2.0


def make_pow(p):
    return Pow(p)


def nested_def_loss(w, b):
    y = helper_with_a_nested_def(w)
    return np.sum(y * b)


def helper_pow_loss(w, b):
    return np.sum(make_pow(3) * w) + np.sum(b)                    # MARK helper_pow


def test_a_helper_whose_nested_function_returns_a_class_differentiates():
    value, (gw, gb) = sct_gradients(nested_def_loss, W0, B0)
    assert_close(value, nested_def_loss(W0.copy(), B0.copy()), rtol=1e-12, atol=0)
    assert_close(gw, 2.0 * B0, rtol=1e-12, atol=0)
    assert_close(gb, 2.0 * W0, rtol=1e-12, atol=0)


def test_a_helper_returning_the_class_is_still_refused():
    with pytest.raises(sct.CompileError) as caught:
        sct_gradients(helper_pow_loss, W0, B0)
    assert caught.value.lineno == line_of("helper_pow") and "Pow" in str(caught.value)


# --- max(obj) / min(obj) of an object with __iter__ ------------------------------------------------------------
# The adjoint of max/min gave a list of shares (one per item) as the object's adjoint: a TypeError
# while computing the gradient.  max/min/sum of the object itself are refused (their derivative would
# walk the object again, and __iter__ may give other items by then); of list(obj) they differentiate.
def extremum_of_an_object(w, b):
    params = Named(np.sum(w * w), np.sum(b * 2.0))
    return min(list(params)) ** 2 + max(list(params)) * 3.0 + max(list(params)) * np.sum(w)


def max_of_the_object(w, b):
    params = Named(np.sum(w * w), np.sum(b * 2.0))
    return max(params) * 3.0                                       # MARK max_of_the_object


def test_max_of_the_object_itself_is_refused():
    with pytest.raises(sct.EvaluationError, match=r"max/min\(list\(obj\)\)") as caught:
        sct_gradients(max_of_the_object, W0, B0)
    assert caught.value.lineno == line_of("max_of_the_object")


def test_max_and_min_of_an_iterated_object_differentiate():
    for w, b in [(W0, B0), (W0 * 0.1, B0 * 3.0)]:                 # max from either field
        value, (gw, gb) = sct_gradients(extremum_of_an_object, w, b)
        assert_close(value, extremum_of_an_object(w.copy(), b.copy()), rtol=1e-12, atol=0)
        assert_close(gw, numerical_gradient(extremum_of_an_object, [w, b], 0), rtol=1e-6, atol=1e-8)
        assert_close(gb, numerical_gradient(extremum_of_an_object, [w, b], 1), rtol=1e-6, atol=1e-8)
    f = lambda w: extremum_of_an_object(w, B0.copy())             # noqa: E731
    hv = np.asarray(sct.hvp(f, W0, np.ones(3)))
    g = lambda w: numerical_gradient(f, [w], 0, step=1e-4)        # noqa: E731
    assert_close(hv, (g(W0 + 1e-4) - g(W0 - 1e-4)) / 2e-4, rtol=1e-4, atol=1e-5)
