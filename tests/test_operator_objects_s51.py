"""Fixes after red team red51 (family A, C1, M1): operators on an object of a user class with its own
operator methods, reached through a merge whose other value is a traced array.

- A: ``s = temp if temp is not None else x[0]; y = s * x`` (a conditional expression, ``m or x[0]``, an
  if/else, a loop rebinding) with a Temperature whose ``__mul__`` runs: ``s`` was taken for an array (one
  binding gives one, ``act.arrays``), so ``*`` was differentiated as numpy's: a zero gradient for the
  object's field, a wrong one for the input.  Now such a name is checked when it runs: the object
  refused at the user's line, the array's operation exact.
- C1: the same with the object built in the function crashed in the gradient code (AttributeError).
- A subclass of float with its own ``__mul__`` was differentiated as a number's product (an argument, a
  global): refused.
- M1: ``dlarray(np.ma.masked_array(...))`` dropped the mask silently: refused.
"""
from __future__ import annotations

import dataclasses

import numpy as np
import pytest

import sct
from sct import SctError, dlarray, dlfeval, dlgradient, extractdata

X = np.array([0.5, 1.2, 2.0])
T0 = 0.7


def _e(a):
    return np.asarray(extractdata(a), dtype=float)


def _fd(fun, v, h=1e-6):
    v = np.array(v, dtype=float)
    g = np.zeros_like(v)
    for i in np.ndindex(v.shape):
        e = np.zeros_like(v)
        e[i] = h
        g[i] = (fun(v + e) - fun(v - e)) / (2 * h)
    return g


class Temperature:
    def __init__(self, t):
        self.t = t

    def __mul__(self, o):
        return o * self.t

    def __rmul__(self, o):
        return o * self.t

    def __neg__(self):
        return -3.0 * self.t

    def __abs__(self):
        return 5.0 * self.t

    def __truediv__(self, o):
        return self.t / o

    def __matmul__(self, o):
        return np.sum(o) * self.t


class Gain:
    def __init__(self, g):
        self.g = g

    def __mul__(self, o):
        return np.tanh(o) * self.g

    __rmul__ = __mul__


@dataclasses.dataclass
class DGain:
    k: object

    def __mul__(self, o):
        return o * self.k ** 2

    __rmul__ = __mul__


# --- A: the merged forms, each refused at its line when the object reaches the operator -------------------

def a_ifexp(x, m):
    s = m if m is not None else x[0]
    L = np.sum((s * x) ** 2)
    return L


def a_or(x, m):
    s = m or x[0]
    L = np.sum((x * s) ** 2)
    return L


def a_if_true(x, m):
    s = m if True else x[0]
    L = np.sum((s * x) ** 2)
    return L


def a_if_stmt(x, m):
    if m is not None:
        s = m
    else:
        s = x[0]
    L = np.sum((s * x) ** 2)
    return L


def a_for(x, m):
    s = x[0]
    for i in range(2):
        s = m if i == 1 else s
    L = np.sum((s * x) ** 2)
    return L


def a_while(x, m):
    s = x[0]
    n = 0
    while n < 1:
        s = m
        n += 1
    L = np.sum((s * x) ** 2)
    return L


def a_copied(x, m):
    s = m if m is not None else x[0]
    u = s
    L = np.sum((u * x) ** 2)
    return L


def a_neg(x, m):
    s = m if m is not None else x
    L = np.sum(-s * x)
    return L


def a_abs(x, m):
    s = m if m is not None else x[0]
    L = np.sum(abs(s) * x)
    return L


def a_div(x, m):
    s = m if m is not None else x[0]
    L = np.sum(s / x)
    return L


def a_matmul(x, m):
    s = m if m is not None else x
    L = np.sum(s @ x)
    return L


def a_np_negative(x, m):
    s = m if m is not None else x
    L = np.sum(np.negative(s) * x)
    return L


FORMS = [a_ifexp, a_or, a_if_true, a_if_stmt, a_for, a_while, a_copied, a_neg, a_abs, a_div, a_matmul,
         a_np_negative]


def _with_target(f, target):
    if target == "x":
        def loss(x, m):
            L = f(x, m)
            return L, dlgradient(L, x)
    elif target == "object":
        def loss(x, m):
            L = f(x, m)
            return L, dlgradient(L, m)
    else:
        def loss(x, m):
            L = f(x, m)
            return L, dlgradient(L, m.t)
    return loss


@pytest.mark.parametrize("target", ["x", "object", "field"])
@pytest.mark.parametrize("f", FORMS, ids=lambda f: f.__name__)
def test_a_object_through_a_merge_is_refused(f, target):
    # was: the value right, the gradient numpy's operator's (zero for the field; an AttributeError of the
    # gradient code for dlgradient(L, m.t))
    sct.clear_cache()
    with pytest.raises(SctError) as e:
        dlfeval(_with_target(f, target), dlarray(X), Temperature(dlarray(T0)))
    msg = str(e.value)
    assert "is an object of Temperature" in msg or "may be an object of Temperature" in msg, msg
    assert "test_operator_objects_s51.py" in msg and "AttributeError" not in msg


@pytest.mark.parametrize("f", FORMS, ids=lambda f: f.__name__)
def test_a_the_array_branch_stays_exact(f):
    # the same code given None (the array branch: numpy's operator) keeps its exact gradient
    if f in (a_while, a_if_true, a_for):
        pytest.skip("binds the object whatever it is (Python's own TypeError for None)")
    sct.clear_cache()
    L, g = dlfeval(_with_target(f, "x"), dlarray(X), None)
    assert np.isclose(float(_e(L)), f(X, None))
    assert np.allclose(_e(g), _fd(lambda v: f(v, None), X), rtol=1e-5, atol=1e-7)


def test_a_input_gradient_of_a_gain_through_if_else_refused():
    # mini W2: the adjoint computed d_y * s, which ran Gain's __rmul__ on the adjoint: a wrong dL/dx
    def loss(x, gain):
        if gain is not None:
            s = gain
        else:
            s = x[0]
        y = s * x
        L = np.sum(y ** 2)
        return L, dlgradient(L, x)
    with pytest.raises(SctError, match=r"line \d+: at `y = s \* x`: an operand of the operator \* is an object of Gain"):
        dlfeval(loss, dlarray(X), Gain(0.7))


def test_a_dataclass_through_a_merge_refused():
    def loss(x, m, flag):
        s = m if flag else x[0]
        L = np.sum((s * x) ** 2)
        return L, dlgradient(L, m.k)
    with pytest.raises(SctError, match="is an object of DGain"):
        dlfeval(loss, dlarray(X), DGain(dlarray(T0)), True)
    L, g = dlfeval(loss, dlarray(X), DGain(dlarray(T0)), False)      # (the array branch: exact, m.k unused)
    assert np.isclose(float(_e(L)), np.sum((X[0] * X) ** 2)) and np.allclose(_e(g), 0.0)


class Scale:
    def __init__(self, k):
        self.k = k

    def __mul__(self, o):
        return o * self.k ** 2

    __rmul__ = __mul__


def test_c1_object_built_in_a_branch_refused_not_a_crash():
    # mini C1: "AttributeError while computing the gradient of `self.k = k`"
    def loss(x, use_scale):
        s = Scale(x[0]) if use_scale else x[0]
        y = s * x
        L = np.sum(y ** 2)
        return L, dlgradient(L, x)
    with pytest.raises(SctError) as e:
        dlfeval(loss, dlarray(X), True)
    assert "object of Scale" in str(e.value) and "AttributeError" not in str(e.value)
    sct.clear_cache()
    L, g = dlfeval(loss, dlarray(X), False)
    want = 2 * X * X[0] ** 2
    want[0] += 2 * X[0] * np.sum(X ** 2)
    assert np.allclose(_e(g), want)


# --- the everyday exact forms ---------------------------------------------------------------------------

def test_direct_binding_of_the_object_stays_exact():
    # ``s = temp; y = s * x``: Temperature's __mul__, differentiated as its code
    def loss(x, temp):
        s = temp
        y = s * x
        L = np.sum(y ** 2)
        return L, dlgradient(L, temp)
    L, g = dlfeval(loss, dlarray(X), Temperature(dlarray(T0)))
    assert np.isclose(float(_e(L)), np.sum((X * T0) ** 2))
    assert np.isclose(float(_e(g.t)), 2 * T0 * np.sum(X ** 2))


class Vec:
    def __init__(self, v):
        self.v = v

    def __mul__(self, o):
        return Vec(self.v * (o.v if isinstance(o, Vec) else o))


def test_isinstance_idiom_in_an_operator_method_stays_exact():
    # ``o.v if isinstance(o, Vec) else o`` merges an array and an object: checked when it runs (an array)
    def f(x):
        a = Vec(x)
        b = a * a
        c = b * 2.0
        return np.sum(c.v)

    def loss(x):
        L = f(x)
        return L, dlgradient(L, x)
    L, g = dlfeval(loss, dlarray(X))
    assert np.isclose(float(_e(L)), f(X))
    assert np.allclose(_e(g), 4.0 * X)


@pytest.mark.parametrize("kind", ["list", "tuple", "dict", "float"])
def test_containers_and_numbers_merged_with_arrays_stay_exact(kind):
    def loss(x, p):
        s = p if p is not None else x
        y = s[0] * x if kind != "float" else s * x
        L = np.sum(y ** 2)
        return L, dlgradient(L, x)
    w = np.array([0.3, -0.6, 1.1])
    p = {"list": [w, w], "tuple": (w, w), "dict": {0: w}, "float": 0.7}[kind]
    L, g = dlfeval(loss, dlarray(X), p)
    s0 = 0.7 if kind == "float" else w
    assert np.allclose(_e(g), 2 * X * s0 ** 2)
    L, g = dlfeval(loss, dlarray(X), None)
    plain = (lambda v: np.sum((v * v) ** 2)) if kind == "float" else (lambda v: np.sum((v[0] * v) ** 2))
    assert np.allclose(_e(g), _fd(plain, X))


# --- subclasses of float with their own operators ------------------------------------------------------

class F(float):
    def __mul__(self, o):
        return o * float(self) ** 2

    __rmul__ = __mul__


class NamedFloat(float):
    pass


G = F(0.7)


def test_float_subclass_with_operators_refused_as_an_argument():
    # was: kind ("num", ...), ``m * x`` differentiated as a product: dL/dx = 2 x m^2 for 2 x m^4
    def loss(x, m):
        L = np.sum((m * x) ** 2)
        return L, dlgradient(L, x)
    with pytest.raises(SctError, match="subclass of float with its own F.__mul__"):
        dlfeval(loss, dlarray(X), F(0.7))


def test_float_subclass_with_operators_refused_as_a_global():
    def loss(x):
        L = np.sum((G * x) ** 2)
        return L, dlgradient(L, x)
    with pytest.raises(SctError, match="may be an object of F"):
        dlfeval(loss, dlarray(X))


def test_float_subclass_without_operators_stays_exact():
    def loss(x, m):
        L = np.sum((m * x) ** 2)
        return L, dlgradient(L, x)
    L, g = dlfeval(loss, dlarray(X), NamedFloat(0.7))
    assert np.allclose(_e(g), 2 * X * 0.49)


# --- M1 -------------------------------------------------------------------------------------------------

def test_m1_dlarray_of_a_masked_array_with_masked_entries_refused():
    # was: 2510 (the masked outlier counted), where plain numpy gives 10
    d = np.ma.masked_array([1.0, 50.0, 3.0], mask=[False, True, False])
    with pytest.raises(SctError, match="masked array with masked entries"):
        dlarray(d)


def test_m1_dlarray_of_a_masked_array_without_masked_entries_kept():
    d = np.ma.masked_array([1.0, 50.0, 3.0], mask=[False, False, False])

    def loss(x):
        L = np.sum(x ** 2)
        return L, dlgradient(L, x)
    L, g = dlfeval(loss, dlarray(d))
    assert np.isclose(float(_e(L)), 2510.0) and np.allclose(_e(g), [2.0, 100.0, 6.0])


# --- FR4: an operator of a user class whose other operand's class is not proven (a loop counter) ------------

class Vec4:
    def __init__(self, v):
        self.v = v

    def __add__(self, o):
        return Vec4(self.v + (o.v if isinstance(o, Vec4) else o))

    def __mul__(self, o):
        return Vec4(self.v * (o.v if isinstance(o, Vec4) else o))

    def norm2(self):
        return np.sum(self.v ** 2)


class Sub4(Vec4):
    def __rmul__(self, o):
        return Vec4(o.v * self.v * 10.0)


def test_fr4_operator_of_a_user_class_in_a_loop_exact():
    # was: refused ("an operand of the operator + here may be an object of Vec4"): k + 1's class unproven
    def loss(x):
        acc = Vec4(np.zeros(3))
        for k in range(3):
            acc = acc + Vec4(x) * (k + 1)
        L = acc.norm2()
        return L, dlgradient(L, x)
    L, g = dlfeval(loss, dlarray(X))
    assert np.isclose(float(_e(L)), np.sum((6 * X) ** 2))
    assert np.allclose(_e(g), 72.0 * X)


def test_fr4_a_subclass_with_its_own_reflected_method_still_refused_when_it_runs():
    # Python runs Sub4.__rmul__ first for ``acc * item`` of a Sub4 item: not the Vec4.__mul__ compiled
    def loss(x, items):
        acc = Vec4(x)
        for k in range(2):
            acc = acc * items[k]
        L = acc.norm2()
        return L, dlgradient(L, x)
    with pytest.raises(SctError, match="compiled as the call of Vec4.__mul__"):
        dlfeval(loss, dlarray(X), [Sub4(2.0), Sub4(3.0)])
    L, g = dlfeval(loss, dlarray(X), [Vec4(2.0), Vec4(3.0)])
    assert np.allclose(_e(g), 2 * 36.0 * X)


def test_numpy_scalars_and_enums_are_not_number_subclasses_with_operators():
    import enum
    from sct.runtime.support import number_subclass_override

    class Color(enum.IntEnum):
        RED = 1

    assert number_subclass_override(np.float64) == "" and number_subclass_override(np.complex128) == ""
    assert number_subclass_override(Color) == "" and number_subclass_override(NamedFloat) == ""
    assert number_subclass_override(F) == "F.__mul__"

    def loss(x, c):
        L = np.sum((c * x) ** 2) + np.sum(np.complex128(1.0).real * x)
        return L, dlgradient(L, x)
    L, g = dlfeval(loss, dlarray(X), np.float64(0.7))
    assert np.allclose(_e(g), 2 * X * 0.49 + 1.0)


GAIN = Gain(0.7)
USE_GAIN = [True]


def _gain_or_first(x):
    s = GAIN if USE_GAIN[0] else x[0]
    return np.sum((s * x) ** 2)


@pytest.mark.parametrize("how", ["jvp", "hvp"])
def test_a_forward_mode_and_hvp_refuse_the_merged_object(how):
    # was: jvp 1.6866 and hvp [0.55, 0.55, 0.55], numpy's product differentiated for Gain's tanh
    sct.clear_cache()
    USE_GAIN[0] = True
    with pytest.raises(SctError, match="is an object of Gain"):
        if how == "jvp":
            sct.jvp(_gain_or_first, X, np.ones(3))
        else:
            sct.hvp(_gain_or_first, X, np.ones(3))
    USE_GAIN[0] = False
    sct.clear_cache()
    try:
        y, t = sct.jvp(_gain_or_first, X, np.ones(3))
    finally:
        USE_GAIN[0] = True
    assert np.isclose(float(_e(t)), np.sum(2 * (X[0] * X) * (X + X[0])))
