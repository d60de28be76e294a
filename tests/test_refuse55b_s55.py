"""Everyday code sct refused (or answered wrongly, or explained with its own names), s55.

1. ``functools.partial`` of a def written in the loss (its frozen values traced), and partials made
   in a loop or comprehension (their frozen values read where each is made: was a=0.2 for both of
   ``[partial(act, a=a) for a in (0.1, 0.2)]``, a wrong value).
2. Decorators whose wrapper takes ``*args, **kwargs`` on helpers called with keywords (regression).
3. Operator classes whose method tells its operand's class apart (``if isinstance(o, Vec2)``).
4. A helper of the user's called inside ``try: ... except ValueError:`` (and ``try/finally``).
5. Refusals that named sct's names (``t_t``, ``h0_3``) name the user's expressions.

Values are compared with plain Python, gradients with central differences.
"""
from __future__ import annotations

import dataclasses
import functools
import time
from functools import partial, wraps
from types import SimpleNamespace

import numpy as np
import pytest

from sct import CompileError, EvaluationError, SctError, dlarray, dlfeval, dlgradient, extractdata
from gradcheck import assert_close, numerical_gradient

RNG = np.random.default_rng(55)
W0 = RNG.standard_normal((3, 3))
B0 = RNG.standard_normal(3)
X0 = RNG.standard_normal((2, 3))


def D(v):
    return np.asarray(extractdata(v)) if type(v).__name__ == "dlarray" else np.asarray(v)


def check(loss):
    """loss(W, b, x) under dlfeval: value as plain Python, gradients in W and b by differences."""
    def model(W, b, x):
        y = loss(W, b, x)
        return y, dlgradient(y, W, b)
    y, (gW, gb) = dlfeval(model, dlarray(W0), dlarray(B0), X0)
    assert_close(D(y), loss(W0.copy(), B0.copy(), X0), 1e-12, 1e-12, what="value")
    assert_close(D(gW), numerical_gradient(lambda W: loss(W, B0.copy(), X0), [W0.copy()], 0), what="dW")
    assert_close(D(gb), numerical_gradient(lambda b: loss(W0.copy(), b, X0), [B0.copy()], 0), what="db")


# --- 1. functools.partial --------------------------------------------------------------------------

def leaky(z, a=0.01, scale=1.0):
    return scale * np.where(z > 0, z, a * z)


def leaky_of(z, a):
    return np.where(z > 0, z, a * z)


def dense(x, W, b):
    return x @ W + b


def partial_of_inner_def(W, b, x):
    def act(z, a):
        return np.where(z > 0, z, a * z)
    f = partial(act, a=0.1)
    return np.sum(f(x @ W + b) ** 2)


def partial_of_module_function_with_keywords(W, b, x):
    f = partial(leaky, a=0.2, scale=2.0)
    return np.sum(np.tanh(f(x @ W + b)))


def partial_of_inner_def_traced_positional(W, b, x):
    def lin(W, b, x):
        return x @ W + b
    f = functools.partial(lin, W, b)          # was refused: "no derivative rule for functools.partial"
    return np.sum(f(x) ** 2)


def partial_of_inner_def_traced_keywords(W, b, x):
    def lin(x, W, b=0.0):
        return x @ W + b
    f = partial(lin, W=W, b=b)
    return np.sum(f(x) ** 2) + np.sum(f(x, W=W * 2.0))


def partial_of_inner_def_traced_alpha(W, b, x):
    def act(z, a):
        return np.where(z > 0, z, a * z)
    alpha = np.sum(b) * 0.1
    f = partial(act, a=alpha)
    return np.sum(f(x @ W) ** 2)


def partial_of_closure(W, b, x):
    def lin(x):
        return x @ W + b
    return np.sum(partial(lin)(x) ** 2)


def partials_over_a_dict_of_params(W, b, x):
    def layer(h, p, act):
        return act(h @ p["W"] + p["b"])
    params = {"W": W, "b": b}
    h = x
    for f in [partial(layer, p=params, act=np.tanh), partial(layer, p=params, act=np.sin)]:
        h = f(h)
    return np.sum(h)


def partials_in_a_comprehension(W, b, x):
    fs = [partial(leaky_of, a=a) for a in (0.1, 0.2)]  # was: both called with a=0.2 (a wrong value)
    h = x @ W + b
    return np.sum((fs[0](h) + 3.0 * fs[1](h)) ** 2)


def inner_partials_in_a_comprehension(W, b, x):
    def act(z, a):
        return np.where(z > 0, z, a * z)
    fs = [partial(act, a=a) for a in (0.1, 0.2)]
    h = x @ W + b
    for f in fs:
        h = f(h) * 2.0
    return np.sum(h ** 2)


def partials_in_a_loop_traced(W, b, x):
    fs = []
    for k in range(2):
        Wk = W * (k + 1)
        fs.append(partial(dense, W=Wk, b=b))           # was refused naming out_partial_W, sct's name
    return np.sum(fs[0](x) ** 2) + np.sum(fs[1](x))


def partials_in_a_loop(W, b, x):
    fs = []
    for a in (0.1, 0.2):
        fs.append(partial(leaky, a=a, scale=a * 10.0))
    h = x @ W + b
    return np.sum((fs[0](h) + 3.0 * fs[1](h)) ** 2)


def partial_then_rebound(W, b, x):
    f = partial(dense, W=W, b=b)
    W = W * 3.0                                        # the partial keeps the W it was given
    return np.sum(f(x) ** 2) + np.sum(W)


@pytest.mark.parametrize("loss", [
    partial_of_inner_def, partial_of_module_function_with_keywords, partial_of_inner_def_traced_positional,
    partial_of_inner_def_traced_keywords, partial_of_inner_def_traced_alpha, partial_of_closure,
    partials_over_a_dict_of_params, partials_in_a_comprehension, inner_partials_in_a_comprehension,
    partials_in_a_loop_traced, partials_in_a_loop, partial_then_rebound])
def test_partials(loss):
    check(loss)


def partial_given_a_surplus_argument(W, b, x):
    def lin(W, b, x):
        return x @ W + b
    f = partial(lin, W, b)
    return np.sum(f(x, 1.0))


def test_partial_given_a_surplus_argument_raises_as_python():
    with pytest.raises(TypeError):
        partial_given_a_surplus_argument(W0, B0, X0)
    with pytest.raises(SctError, match="more positional arguments"):
        check(partial_given_a_surplus_argument)


# --- 2. decorators with *args, **kwargs wrappers ----------------------------------------------------

def passthrough(fn):
    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        return fn(*args, **kwargs)
    return wrapper


def timed(fn):
    @wraps(fn)
    def wrapper(*args, **kwargs):
        t0 = time.perf_counter()
        out = fn(*args, **kwargs)
        wrapper.elapsed = time.perf_counter() - t0
        return out
    return wrapper


def logged(fn):
    @wraps(fn)
    def wrapper(*args, **kwargs):
        print(f"calling {fn.__name__}")
        return fn(*args, **kwargs)
    return wrapper


@passthrough
def dense_p(x, W, b):
    return x @ W + b


@timed
def dense_t(x, W, b):
    return x @ W + b


@logged
def dense_l(x, W, b):
    return x @ W + b


def decorated_by_keyword(W, b, x):
    return np.sum(np.tanh(dense_p(x, W=W, b=b)))


def decorated_by_position(W, b, x):
    return np.sum(np.tanh(dense_p(x, W, b)))


def timed_helper(W, b, x):
    return np.sum(np.tanh(dense_t(x, W=W, b=b)))


def logged_helper(W, b, x):
    return np.sum(np.tanh(dense_l(x, W=W, b=b)))


@pytest.mark.parametrize("loss", [decorated_by_keyword, decorated_by_position, timed_helper, logged_helper])
def test_decorated_helpers(loss):
    check(loss)


# --- 3. operator classes ----------------------------------------------------------------------------

class Vec2:
    def __init__(self, a, b):
        self.a = a
        self.b = b

    def __add__(self, o):
        if isinstance(o, Vec2):
            return Vec2(self.a + o.a, self.b + o.b)
        return Vec2(self.a + o, self.b + o)

    def __radd__(self, o):
        return self.__add__(o)

    def __mul__(self, o):
        if isinstance(o, Vec2):
            return Vec2(self.a * o.a, self.b * o.b)
        return Vec2(self.a * o, self.b * o)       # (was refused for v * v: o may be a Vec2 here)

    __rmul__ = __mul__

    def norm2(self):
        return np.sum(self.a ** 2) + np.sum(self.b ** 2)


class Dual:
    def __init__(self, re, eps):
        self.re = re
        self.eps = eps

    def __add__(self, o):
        o = o if isinstance(o, Dual) else Dual(o, 0.0)
        return Dual(self.re + o.re, self.eps + o.eps)

    __radd__ = __add__

    def __mul__(self, o):
        o = o if isinstance(o, Dual) else Dual(o, 0.0)
        return Dual(self.re * o.re, self.re * o.eps + self.eps * o.re)

    __rmul__ = __mul__

    def __sub__(self, o):
        o = o if isinstance(o, Dual) else Dual(o, 0.0)
        return Dual(self.re - o.re, self.eps - o.eps)


class Affine:
    def __init__(self, W, b):
        self.W = W
        self.b = b

    def __matmul__(self, x):
        return x @ self.W + self.b


def vec2_loss(W, b, x):
    v = Vec2(x @ W, b)
    u = 2.0 * v + v * v + 1.0
    return (1.0 + u).norm2()


def dual_loss(W, b, x):
    d = Dual(x @ W, b)
    e = 1.0 + (d * d + 3.0 * d - 1.0)
    return np.sum(e.re ** 2) + np.sum(e.eps)


def affine_loss(W, b, x):
    A = Affine(W, b)
    return np.sum(np.tanh(A @ x) ** 2)


@pytest.mark.parametrize("loss", [vec2_loss, dual_loss, affine_loss])
def test_operator_classes(loss):
    check(loss)


class Checked:
    """__mul__ tests o's class but multiplies by o on both branches: numpy's * of a Checked object."""
    def __init__(self, a):
        self.a = a

    def __mul__(self, o):
        k = 2.0 if isinstance(o, Checked) else 1.0
        return Checked(k * self.a * o)

    def __rmul__(self, o):
        return Checked(self.a * o)


def checked_loss(W, b, x):
    return np.sum((Checked(x @ W) * Checked(b)).a.a)


def test_a_class_tested_operand_that_is_an_object_is_refused_when_it_runs():
    with pytest.raises(AttributeError):
        checked_loss(W0, B0, X0)             # Python: an object array of Checked
    with pytest.raises(EvaluationError) as e:
        check(checked_loss)
    assert "Checked" in str(e.value) and "k * self.a * o" in str(e.value), str(e.value)


# --- 4. helpers inside try ---------------------------------------------------------------------------

def checked_tanh(z):
    if z.shape[0] > 5:
        raise ValueError("too many rows")
    return np.tanh(z)


def scaled(z, p):
    return checked_tanh(z @ p["W"] + p["b"]) * 2.0


def noisy(z):
    print("noisy")
    return np.tanh(z)


def try_helper(W, b, x):
    try:
        h = checked_tanh(x @ W + b)
    except ValueError:
        h = x @ W
    return np.sum(h ** 2)


def try_helper_raises(W, b, x):
    try:
        h = checked_tanh(np.concatenate([x, x, x]) @ W + b)
    except ValueError:
        h = x @ W
    return np.sum(h ** 2)


def try_helper_else(W, b, x):
    try:
        h = checked_tanh(x @ W + b)
    except (ValueError, TypeError):
        h = x @ W
    else:
        h = h * 2.0
    return np.sum(h ** 2)


def try_helper_finally(W, b, x):
    try:
        h = checked_tanh(x @ W + b)
    finally:
        n = 2.0
    return np.sum(h ** 2) * n


def try_nested_helpers(W, b, x):
    p = {"W": W, "b": b}
    try:
        h = scaled(x, p)
    except ValueError as e:
        h = x @ p["W"] * len(str(e))
    return np.sum(h ** 2)


def try_in_a_loop(W, b, x):
    h = x @ W + b
    for k in range(3):
        try:
            h = checked_tanh(h if k < 2 else np.concatenate([h] * 3))
        except ValueError:
            h = h * 2.0
    return np.sum(h ** 2)


@dataclasses.dataclass
class Params:
    W: object
    b: object


def forward(p, x):
    return checked_tanh(x @ p.W + p.b)


def try_helper_given_a_dataclass(W, b, x):
    p = Params(W, b)
    try:
        h = forward(p, x)
    except ValueError:
        h = x @ W
    return np.sum(h ** 2)


@pytest.mark.parametrize("loss", [try_helper, try_helper_raises, try_helper_else, try_helper_finally,
                                  try_nested_helpers, try_in_a_loop, try_helper_given_a_dataclass])
def test_helpers_inside_try(loss):
    check(loss)


class Counting:
    reads = 0

    def __init__(self, W, b):
        self._W, self.b = W, b

    @property
    def W(self):
        Counting.reads += 1
        return self._W


def try_helper_given_a_property(W, b, x):
    p = Counting(W, b)
    try:
        h = forward(p, x)
    except ValueError:
        h = x @ W
    return np.sum(h ** 2)


def test_a_helper_given_an_object_with_a_property_inside_try_is_refused():
    # (the probe would run the property's code once more)
    with pytest.raises(EvaluationError) as e:
        check(try_helper_given_a_property)
    assert "property" in str(e.value) and e.value.lineno == try_helper_given_a_property.__code__.co_firstlineno + 2


def try_noisy(W, b, x):
    try:
        h = noisy(x @ W)
    except ValueError:
        h = x @ W
    return np.sum(h)


def test_a_helper_that_prints_inside_try_is_refused_naming_it():
    # (the probe would run it twice: two lines printed where Python prints one)
    with pytest.raises(CompileError) as e:
        check(try_noisy)
    assert "noisy(...)" in str(e.value) and e.value.lineno == try_noisy.__code__.co_firstlineno + 2


# --- 5. messages name the user's expressions --------------------------------------------------------

XS = dlarray(np.arange(1.0, 7.0).reshape(2, 3))
MADE = ("t_t", "h0_3", "_listed", "listed(", "simple_namespace", "rt.")


def write_into_list_of_rows(x):
    u = x * 2
    list(u)[0][1] = 5.0
    y = np.sum(u * x)
    return dlgradient(y, x)


def write_into_namespace_field(x):
    u = x * 2
    SimpleNamespace(a=u).a[0] = 5.0
    y = np.sum(u * x)
    return dlgradient(y, x)


def write_while_walking_an_item(x):
    h = [x * 2, x * 3]
    for row in h[0]:
        h[0][1] = row * 3
    y = np.sum(h[0])
    return dlgradient(y, x)


def write_into_rows_a_loop_walks(x):
    u = np.exp(x) * 14
    for r in [u[0], u[1]]:
        r[0] = r[1] * 2
    y = np.sum(u * x)
    return dlgradient(y, x)


@pytest.mark.parametrize("fun, text", [(write_into_list_of_rows, "list(u)[0]"),
                                       (write_into_rows_a_loop_walks, "walks [u[0], u[1]]"),
                                       (write_into_namespace_field, "SimpleNamespace(a=u).a"),
                                       (write_while_walking_an_item, "h[0]")])
def test_refusals_name_the_users_expressions(fun, text):
    with pytest.raises(CompileError) as e:
        dlfeval(fun, XS)
    message = str(e.value)
    assert text in message, message
    assert not any(m in message for m in MADE), message
