"""Operators of the user's classes and property setters, compiled as the calls Python makes
(sct/user_operators.py; sct/inline_helpers.py ``setter``).

Was: ``2.0 * v + w * v`` on objects of a class with ``__mul__``/``__rmul__``/``__add__`` refused ("an
operand of the operator * here may be an object of V, whose __mul__/__rmul__ runs for it"), and
``p.x = value`` through a property's setter refused ("runs the property P.x's setter, which sct
does not differentiate").  Where the compiler proves the classes, each is now the method's call,
following Python's operator protocol; the adversarial variants below are exact or refused.
"""
from __future__ import annotations

import dataclasses

import numpy as np
import pytest

import sct
from sct import EvaluationError, SctError, dlarray, dlfeval, dlgradient, extractdata
from gradcheck import assert_close, check_grads, numerical_gradient

RNG = np.random.default_rng(49)
X0 = RNG.standard_normal(3)
Y0 = RNG.standard_normal(3)


def D(v):
    return np.asarray(extractdata(v))


def _fd(plain, x0):
    return numerical_gradient(plain, [np.array(x0, dtype=float)], 0)


# --- the brief's example ---------------------------------------------------------------------------

class V:
    def __init__(self, a):
        self.a = a

    def __add__(self, o):
        return V(self.a + (o.a if isinstance(o, V) else o))

    def __mul__(self, o):
        return V(self.a * (o.a if isinstance(o, V) else o))

    __rmul__ = __mul__

    def __matmul__(self, o):
        return np.sum(self.a * o.a)

    def __neg__(self):
        return V(-self.a ** 3)

    def norm2(self):
        return self @ self


def brief_loss(x):
    v = V(x); w = V(x ** 2)                 # noqa: E702
    u = 2.0 * v + w * v
    y = u.norm2()
    return y, dlgradient(y, x)


def test_the_briefs_operators_are_differentiated():
    # was: refused at `u = 2.0 * v + w * v` ("whose __mul__/__rmul__ runs for it")
    value, grad = dlfeval(brief_loss, dlarray(X0))

    def plain(x):
        u = 2.0 * x + x ** 2 * x
        return np.sum(u * u)
    assert_close(D(value), plain(X0), 1e-12, 1e-12)
    assert_close(D(grad), _fd(plain, X0))


def augmented_and_negated(x):
    v = V(x)
    u = 2.0 * v + v * v
    u += v                                  # V has no __iadd__: u = u + v
    u = -u
    return u.norm2()


def test_augmented_assignment_without_iadd_and_unary_minus():
    check_grads(augmented_and_negated, X0)


# --- 1. a subclass on the right with its own __rmul__ goes first: refused ---------------------------

class VR(V):
    def __rmul__(self, o):
        return V(self.a * 10.0)


def subclass_on_the_right(x):
    v = V(x); s = VR(x ** 2)                # noqa: E702
    return (v * s).norm2()                  # Python: VR.__rmul__(s, v)


def test_a_subclass_on_the_right_with_its_own_rmul_is_refused():
    with pytest.raises(SctError, match=r"\*") as info:
        check_grads(subclass_on_the_right, X0)
    assert info.value.lineno == subclass_on_the_right.__code__.co_firstlineno + 2


class VPlain(V):                            # a subclass without an operator of its own
    pass


def subclass_without_its_own(x):
    v = V(x); s = VPlain(x ** 2)            # noqa: E702
    return (v * s + s * v).norm2()          # V.__mul__ both times (VPlain's is V's)


def test_a_subclass_on_the_right_without_its_own_rmul_runs_the_lefts():
    check_grads(subclass_without_its_own, X0)


# --- 2. __mul__ returning NotImplemented for some types ---------------------------------------------

class Picky:
    def __init__(self, a):
        self.a = a

    def __mul__(self, o):
        if isinstance(o, Picky):
            return NotImplemented
        return Picky(self.a * o)

    def total(self):
        return np.sum(self.a)


def picky_number(x):
    return (Picky(x) * 3.0).total()


def picky_same_class(x):
    return (Picky(x) * Picky(x)).total()


def test_notimplemented_for_another_type_is_refused_or_pythons_typeerror():
    check_grads(picky_number, X0)
    with pytest.raises(TypeError):                      # Python's own
        picky_same_class(X0)
    # (sct reads Picky.__mul__ for a Picky operand: its `self.a * o` on a Picky is refused there)
    with pytest.raises((TypeError, SctError), match="unsupported operand type|Picky"):
        check_grads(picky_same_class, X0)


class Choosy:
    def __init__(self, a):
        self.a = a

    def __mul__(self, o):
        return NotImplemented if isinstance(o, float) else Choosy(self.a * o.a)

    def total(self):
        return np.sum(self.a)


def choosy_number(x):
    return (Choosy(x) * 2.0).total()            # float.__rmul__ declines too: TypeError


def test_notimplemented_then_no_turn_is_pythons_typeerror():
    with pytest.raises(TypeError):
        choosy_number(X0)
    with pytest.raises((TypeError, EvaluationError), match="unsupported operand type"):
        check_grads(choosy_number, X0)


def picky_array(x):
    return (Picky(x) * x).total()            # Picky.__mul__ runs (no NotImplemented for an array)


def test_notimplemented_branch_not_taken_is_exact():
    check_grads(picky_array, X0)


# --- 3. __iadd__: one changing self in place while another name holds it; one returning anew --------

class Acc:
    def __init__(self, a):
        self.a = a

    def __iadd__(self, o):
        self.a = self.a + 3.0 * o.a
        return self


def iadd_in_place(x):
    u = Acc(x); w = u                       # noqa: E702
    u += Acc(x ** 2)
    return np.sum(u.a * w.a)


def test_an_iadd_changing_self_is_refused_not_differentiated_as_plus():
    # was: a TypeError ("unsupported operand type(s) for +") where Python runs __iadd__
    with pytest.raises(SctError, match="self.a"):
        check_grads(iadd_in_place, X0)


class Fresh:
    def __init__(self, a):
        self.a = a

    def __iadd__(self, o):
        return Fresh(self.a + 3.0 * o.a)

    def __add__(self, o):
        return Fresh(self.a + o.a)          # not what += runs


def iadd_returning_anew(x):
    u = Fresh(x); w = u                     # noqa: E702
    u += Fresh(x ** 2)
    return np.sum(u.a * w.a)                # w: the old object


def test_an_iadd_returning_a_new_object_is_what_plus_equals_runs():
    check_grads(iadd_returning_anew, X0)


# --- 4. an array on the left, the object on the right -----------------------------------------------

class NoUfunc:                              # numpy's * would run over an object array
    def __init__(self, a):
        self.a = a

    def __rmul__(self, o):
        return NoUfunc(self.a * o)

    def total(self):
        return np.sum(self.a)


def array_times_object(x):
    return (x * NoUfunc(x ** 2)).total()


def test_an_array_times_an_object_numpy_would_walk_is_refused():
    with pytest.raises(SctError, match=r"\*"):
        check_grads(array_times_object, X0)


class Deferring(NoUfunc):
    __array_ufunc__ = None                  # numpy returns NotImplemented: __rmul__ runs

    def __rmul__(self, o):
        return Deferring(self.a * o)


def array_times_deferring(x):
    y = np.sin(x)
    return (y * Deferring(x ** 2)).total() + (x * Deferring(x)).total()


def test_an_array_times_an_object_with_array_ufunc_none_runs_rmul():
    assert isinstance(np.ones(2) * Deferring(np.ones(2)), Deferring)
    check_grads(array_times_deferring, X0)


# --- 5. operators in a loop and in a helper; a dataclass ------------------------------------------

def in_a_loop(x):
    u = V(x)
    v = V(np.cos(x))
    for _ in range(3):
        u = u * v + 0.5
    return u.norm2()


def test_operators_in_a_loop():
    check_grads(in_a_loop, X0)


def combine(a, b):
    return a * b + a


def in_a_helper(x):
    return combine(V(x), V(x ** 2)).norm2()


def test_operators_in_a_helper():
    check_grads(in_a_helper, X0)


@dataclasses.dataclass
class DC:
    a: np.ndarray

    def __add__(self, o):
        return DC(self.a + o.a)

    def __mul__(self, o):
        return DC(self.a * o)

    def total(self):
        return np.sum(self.a ** 2)


def dataclass_operators(x):
    d = DC(x) + DC(np.exp(x))
    return (d * 2.0).total()


def test_a_dataclass_with_operators():
    check_grads(dataclass_operators, X0)


# --- 6. what is not proven stays refused: an operator's result of another class -------------------

class Typed:
    def __init__(self, a):
        self.a = a

    def __mul__(self, o):
        return type(self)(self.a * o)       # the class is read when it runs

    def __add__(self, o):
        return Typed(self.a + o)


def unproven_result(x):
    t = Typed(x) * 2.0
    u = t + 1.0                             # t's class is not proven: refused
    return np.sum(u.a)


def test_an_operand_of_an_unproven_class_is_still_refused():
    with pytest.raises(SctError, match=r"\+") as info:
        check_grads(unproven_result, X0)
    assert info.value.lineno == unproven_result.__code__.co_firstlineno + 2


# --- property setters ----------------------------------------------------------------------------

class P:
    def __init__(self, x):
        self._x = x

    @property
    def x(self):
        return self._x

    @x.setter
    def x(self, v):
        self._x = v * 2


def setter_loss(x):
    p = P(x)
    p.x = x ** 2
    y = np.sum(p.x * x)
    return y, dlgradient(y, x)


def test_the_briefs_setter_is_differentiated():
    # was: "setting p.x runs the property P.x's setter, which sct does not differentiate"
    value, grad = dlfeval(setter_loss, dlarray(X0))
    assert_close(D(value), np.sum(2 * X0 ** 3), 1e-12, 1e-12)
    assert_close(D(grad), 6 * X0 ** 2)


class Two:
    def __init__(self, a):
        self._a = a
        self.other = a

    @property
    def a(self):
        return self._a ** 2                 # a getter that is not the plain field

    @a.setter
    def a(self, v):
        self.other = np.tanh(v) + self._a   # writes another field too
        self._a = v * 3.0


def setter_writing_another_field(x):
    t = Two(x)
    t.a = np.sin(x)
    t.a = t.other * x                       # the setter again, reading what it set
    return np.sum(t.a) + np.sum(t.other ** 2)


def test_a_setter_writing_two_fields_and_a_computed_getter():
    check_grads(setter_writing_another_field, X0)


class Checked:
    def __init__(self, v):
        self._v = v

    @property
    def v(self):
        return self._v

    @v.setter
    def v(self, value):
        if np.any(value < 0):
            raise ValueError("v must not be negative")
        self._v = np.sqrt(value)


def validating_setter(x):
    c = Checked(x)
    c.v = x * x + 1.0
    return np.sum(c.v * x)


def validating_setter_raises(x):
    c = Checked(x)
    c.v = x - 100.0
    return np.sum(c.v)


def test_a_validating_setter_runs_and_raises_as_in_python():
    check_grads(validating_setter, X0)
    with pytest.raises(ValueError, match="negative"):
        validating_setter_raises(X0)
    with pytest.raises((ValueError, EvaluationError), match="must not be negative"):
        check_grads(validating_setter_raises, X0)


class Sub(P):                               # the property found on the base class
    pass


class Override(P):
    @property
    def x(self):
        return self._x

    @x.setter
    def x(self, v):
        self._x = v + 1.0                   # the subclass's own setter


def setter_of_base_and_override(x):
    s = Sub(x)
    s.x = x ** 3
    o = Override(x)
    o.x = np.exp(x)
    return np.sum(s.x * o.x)


def test_setters_found_along_the_mro():
    check_grads(setter_of_base_and_override, X0)


def set_in_helper(p, v):
    p.x = v * v


def setter_in_a_loop_and_helper(x):
    p = P(x)
    for k in range(3):
        p.x = p.x * 0.5 + x
    set_in_helper(p, p.x)
    return np.sum(p.x)


def test_setters_in_a_loop_and_in_a_helper():
    check_grads(setter_in_a_loop_and_helper, X0)


def setter_on_an_argument(x, p):
    p.x = x * 3.0
    y = np.sum(p.x ** 2)
    return y, dlgradient(y, x)


def test_an_arguments_state_after_the_call_is_pythons():
    p = P(np.zeros(3))
    value, grad = dlfeval(setter_on_an_argument, dlarray(X0), p)
    assert_close(D(value), np.sum(36 * X0 ** 2), 1e-12, 1e-12)
    assert_close(D(grad), 72 * X0)
    q = P(np.zeros(3))
    q.x = X0 * 3.0
    assert_close(D(p._x), q._x, 1e-12, 1e-12)        # what Python's setter leaves


class Guarded:
    def __init__(self, x):
        object.__setattr__(self, "_x", x)

    def __setattr__(self, name, value):      # every write goes through it
        object.__setattr__(self, name, value * 10.0)

    @property
    def x(self):
        return self._x

    @x.setter
    def x(self, v):
        object.__setattr__(self, "_x", v)


def setter_behind_setattr(x):
    g = Guarded(x)
    g.x = x * 2.0
    return np.sum(g.x)


def test_a_class_with_its_own_setattr_is_not_read_as_the_setter():
    # its __setattr__ runs for `g.x = ...` (Python's value is 10 * 2 x, not 2 x): refused or exact
    try:
        value, grad = dlfeval(lambda t: (lambda y: (y, dlgradient(y, t)))(setter_behind_setattr(t)),
                              dlarray(X0))
    except SctError:
        return
    assert_close(D(value), setter_behind_setattr(X0))
    assert_close(D(grad), _fd(setter_behind_setattr, X0))


# --- a helper's result of a user class, met by an operator (was a wrong gradient) ------------------

class Mul:
    def __init__(self, a):
        self.a = a

    def __add__(self, o):
        return Mul(self.a * o.a)              # "+" multiplies


def make_mul(a):
    c = Mul(a)
    return c                                 # (no `return Mul(...)`: its class is not read here)


def helpers_results_added(x):
    t = make_mul(x)
    s = make_mul(x ** 2)
    u = t + s
    return np.sum(u.a)


def test_an_operator_on_a_helpers_object_is_checked_when_it_runs():
    # was: differentiated as numpy's +: gradient 1 + 2 x where Python's is 3 x^2, silently
    with pytest.raises(SctError, match="__add__") as info:
        check_grads(helpers_results_added, X0)
    assert info.value.lineno == helpers_results_added.__code__.co_firstlineno + 3


# --- obj[i] of a class with its own __getitem__ ----------------------------------------------------

class Scaled:
    def __init__(self, a):
        self.a = a

    def __getitem__(self, i):
        return self.a[i] * 2.0 + self.a[0]    # computed, not a field

    def __len__(self):
        return len(self.a)


def items_computed(x):
    g = Scaled(np.sin(x))
    s = g[1] * g[2]
    for k in range(len(g)):
        s = s + g[k] ** 2
    return s


def test_getitem_computing_its_item_is_its_call():
    # was: "the derivative reaches `obj[2]` of a Scaled read by its __getitem__, which sct does not
    # differentiate"
    check_grads(items_computed, X0)


class Fields:
    def __init__(self, w, b):
        self.w = w
        self.b = b

    def __getitem__(self, k):
        return self.w if k == 0 else self.b


def items_are_fields(x):
    p = Fields(x * 2.0, np.exp(x))
    return np.sum(p[0] * p[1]) + np.sum(p[1])


def test_getitem_giving_fields_stays_exact():
    check_grads(items_are_fields, X0)


# --- setters that stay as Python runs them, or refused ------------------------------------------------

class ReadOnly:
    def __init__(self, x):
        self._x = x

    @property
    def x(self):
        return self._x


def write_read_only(x):
    r = ReadOnly(x)
    r.x = x * 2.0                           # Python: AttributeError (no setter)
    return np.sum(r.x)


def test_a_property_without_a_setter_raises_as_in_python():
    with pytest.raises(AttributeError):
        write_read_only(X0)
    with pytest.raises((AttributeError, SctError)):
        check_grads(write_read_only, X0)


class Defaulted:
    def __init__(self, x):
        self._x = x

    def _set(self, v, scale=3.0):
        self._x = v * scale

    x = property(lambda self: self._x, _set)


def setter_with_a_default(x):
    d = Defaulted(x)
    d.x = np.cos(x)
    return np.sum(d.x * x)


def test_a_setter_not_read_in_place_is_refused_or_exact():
    try:
        got = check_grads(setter_with_a_default, X0)
    except SctError as e:
        assert e.lineno == setter_with_a_default.__code__.co_firstlineno + 2
    else:
        assert_close(got[0], _fd(setter_with_a_default, X0))


# --- a number on the left: reflected, and `s += v` of a number -----------------------------------

class Acc2:
    def __init__(self, a):
        self.a = a

    def __radd__(self, o):
        return Acc2(o + self.a ** 2)

    def __rpow__(self, o):
        return Acc2(o ** self.a)


def number_plus_object(x):
    s = 1.5 + Acc2(x)                        # float's + declines: Acc2.__radd__(v, 1.5)
    t = 2.0 ** Acc2(np.cos(x))
    return np.sum(s.a * t.a)


def test_a_number_on_the_left_runs_the_reflected_method():
    check_grads(number_plus_object, X0)


def number_plus_equals_object(x):
    s = 1.5
    s += Acc2(x)                             # s: a number, then an Acc2 (not one class: not proven)
    return np.sum(s.a)


def test_a_name_rebound_from_a_number_to_an_object_is_refused():
    with pytest.raises(SctError, match=r"\+") as info:
        check_grads(number_plus_equals_object, X0)
    assert info.value.lineno == number_plus_equals_object.__code__.co_firstlineno + 2


def numpy_scalar_on_the_left(x):
    c = np.sum(x)                            # numpy's scalar: its + turns Acc2 into an object array
    return np.sum((c + Acc2(x)).a)


def test_a_numpy_scalar_on_the_left_of_an_object_without_array_ufunc_none_is_refused():
    with pytest.raises(SctError, match=r"\+") as info:
        check_grads(numpy_scalar_on_the_left, X0)
    assert info.value.lineno == numpy_scalar_on_the_left.__code__.co_firstlineno + 2
