"""Properties of the user's classes differentiated through their getters (sct/properties.py).

``obj.weight`` where ``weight`` is a ``property`` whose getter computes from traced fields was
refused ("sct does not differentiate through attribute getters").  Where the compiler knows the
object's class (an argument, an object built here), the read is now the getter's call, differentiated
like a method's: from the values the getter read when it ran.  What stays refused: a
``functools.cached_property``, ``__getattr__``, a write through a property's setter.
"""
from __future__ import annotations

import dataclasses
import functools

import numpy as np
import pytest

import sct
from sct import EvaluationError, SctError, dlarray, dlfeval, dlgradient, extractdata
from gradcheck import assert_close, check_grads, check_two_inputs, first, numerical_gradient

RNG = np.random.default_rng(12)
W0 = RNG.standard_normal((3, 2))
B0 = RNG.standard_normal(2)
X0 = RNG.standard_normal((4, 3))
V0 = RNG.standard_normal(3)
T0 = RNG.standard_normal(3)


def D(v):
    return np.asarray(extractdata(v))


# --- the brief's example: a property reading traced fields, used in __call__ ---------------------

class Lin:
    def __init__(self, W, b):
        self.W = W
        self.b = b

    @property
    def n_out(self):
        return self.W.shape[1]

    @property
    def weight(self):
        return self.W * 1.0

    def __call__(self, x):
        return x @ self.weight + self.b


def lin_loss(W, b, x):
    m = Lin(W, b)
    y = np.tanh(m(x))
    return np.sum(y ** 2) / m.n_out


def test_property_in_call_of_a_local_object():
    check_grads(lin_loss, W0, B0, X0)


def lin_loss_and_grads(W, b, x):
    loss = lin_loss(W, b, x)
    return loss, dlgradient(loss, W, b)


def test_property_in_call_value_and_gradient_match_python():
    loss, (gW, gb) = dlfeval(lin_loss_and_grads, dlarray(W0), dlarray(B0), dlarray(X0))
    assert_close(D(loss), lin_loss(W0, B0, X0), rtol=1e-12)
    assert_close(D(gW), numerical_gradient(lambda w: lin_loss(w, B0, X0), [W0.copy()], 0))
    assert_close(D(gb), numerical_gradient(lambda b: lin_loss(W0, b, X0), [B0.copy()], 0))


# --- read from the loss function: a local object and an object passed in -------------------------

class Scaled:
    def __init__(self, w, s):
        self.w = w
        self.s = s

    @property
    def weight(self):
        return np.sin(self.w) * self.s


def local_object_case(x, t):
    p = Scaled(x, t)
    return np.sum(p.weight ** 2) + np.sum(p.weight * x)


def test_property_of_a_local_object_first_and_second_order():
    check_two_inputs(local_object_case, V0.copy(), T0.copy())


def argument_object_loss(p, x):
    y = np.sum(np.exp(p.weight) * x)
    return y, dlgradient(y, p, x)


def argument_object_value(w, s, x):
    return np.sum(np.exp(np.sin(w) * s) * x)


def test_property_of_an_object_passed_as_an_argument():
    p = Scaled(dlarray(V0), dlarray(T0))
    y, (gp, gx) = dlfeval(argument_object_loss, p, dlarray(X0[0]))
    assert_close(D(y), argument_object_value(V0, T0, X0[0]), rtol=1e-12)
    assert_close(D(gp.w), numerical_gradient(lambda w: argument_object_value(w, T0, X0[0]), [V0.copy()], 0))
    assert_close(D(gp.s), numerical_gradient(lambda s: argument_object_value(V0, s, X0[0]), [T0.copy()], 0))
    assert_close(D(gx), np.exp(np.sin(V0) * T0))


def argument_object_second(p, x):
    y = np.sum(np.exp(p.weight) * x)
    gx = dlgradient(y, x, EnableHigherDerivatives=True)
    z = np.sum(gx ** 2)
    return z, dlgradient(z, p)


def test_property_of_an_argument_second_order():
    p = Scaled(dlarray(V0), dlarray(T0))
    z, gp = dlfeval(argument_object_second, p, dlarray(X0[0]))
    zf = lambda w, s: np.sum(np.exp(np.sin(w) * s) ** 2)        # noqa: E731  (gx = exp(sin(w) s))
    assert_close(D(z), zf(V0, T0), rtol=1e-12)
    assert_close(D(gp.w), numerical_gradient(lambda w: zf(w, T0), [V0.copy()], 0), rtol=1e-4)
    assert_close(D(gp.s), numerical_gradient(lambda s: zf(V0, s), [T0.copy()], 0), rtol=1e-4)


# --- a dataclass with a property ------------------------------------------------------------------

@dataclasses.dataclass
class Affine:
    a: object
    b: object

    @property
    def slope(self):
        return self.a * self.a + 0.5

    def apply(self, u):
        return self.slope * u + self.b


def dataclass_case(x, t):
    f = Affine(x, t)
    return np.sum(np.cos(f.apply(t))) + np.sum(f.slope)


def test_dataclass_with_a_property():
    check_two_inputs(dataclass_case, V0.copy(), T0.copy())


# --- a property calling another property; a property of a base class ----------------------------

class Chain:
    def __init__(self, w, t):
        self.w = w
        self.t = t

    @property
    def inner(self):
        return self.w * self.t

    @property
    def outer(self):
        return np.tanh(self.inner) + self.inner ** 2


def chained_case(x, t):
    c = Chain(x, t)
    return np.sum(c.outer)


def test_a_property_calling_another_property():
    check_two_inputs(chained_case, V0.copy(), T0.copy())


class Base:
    def __init__(self, w, t):
        self.w = w
        self.t = t

    @property
    def energy(self):
        return np.sum(self.w ** 2 * self.t)


class Derived(Base):
    def total(self):
        return self.energy + np.sum(self.w)


def base_class_case(x, t):
    d = Derived(x, t)
    return d.total() + d.energy * 0.5


def test_a_property_of_a_base_class():
    check_two_inputs(base_class_case, V0.copy(), T0.copy())


class Overriding(Base):
    @property
    def energy(self):
        return np.sum(np.sin(self.w) * self.t)


def overriding_case(x, t):
    d = Overriding(x, t)
    return d.energy


def test_a_property_overridden_in_a_subclass_runs_the_subclass_getter():
    check_two_inputs(overriding_case, V0.copy(), T0.copy())


# --- properties returning tuples and dicts of arrays ----------------------------------------------

class Parts:
    def __init__(self, w, t):
        self.w = w
        self.t = t

    @property
    def pair(self):
        return self.w * 2.0, np.exp(self.t)

    @property
    def table(self):
        return {"sum": self.w + self.t, "prod": self.w * self.t}


def tuple_dict_case(x, t):
    p = Parts(x, t)
    a, b = p.pair
    d = p.table
    return np.sum(a * b) + np.sum(d["sum"] ** 2) + np.sum(np.sin(d["prod"]))


def test_properties_returning_a_tuple_and_a_dict():
    check_two_inputs(tuple_dict_case, V0.copy(), T0.copy())


# --- a field written after the property was read: the derivative follows the value read ---------

def mutated_after_read(x, t):
    p = Scaled(x, t)
    a = np.sum(p.weight ** 2)    # sin(x) * t, read now
    p.w = x * 3.0                # changes what p.weight gives from here on
    p.s = t * t
    return a + np.sum(np.cos(p.weight))


def test_a_field_mutated_after_the_read():
    check_two_inputs(mutated_after_read, V0.copy(), T0.copy())


def mutated_in_a_loop(x, t):
    p = Scaled(x, t)
    total = 0.0
    for k in range(3):
        total = total + np.sum(p.weight ** 2) * (k + 1)
        p.w = p.w * 1.5 + t
    return total


def test_a_field_mutated_in_a_loop_between_reads():
    check_two_inputs(mutated_in_a_loop, V0.copy(), T0.copy())


def kept_across_a_write(x, t):
    p = Scaled(x, t)
    w = p.weight
    p.w = x * 3.0
    y = np.sum(w ** 2) + np.sum(p.weight)
    return y, dlgradient(y, x, t)


def test_a_value_kept_across_a_write_into_its_object_is_refused_as_for_a_method():
    # sct's aliasing analysis cannot tell that w holds no part of p (the same for a method or a
    # helper function returning a value computed from p): refused at the write, never a wrong value
    with pytest.raises(SctError, match="setting p.w") as info:
        dlfeval(kept_across_a_write, dlarray(V0), dlarray(T0))
    assert info.value.lineno == kept_across_a_write.__code__.co_firstlineno + 3


class Tally:
    def __init__(self, w):
        self.w = w
        self.count = 0

    @property
    def next_weight(self):
        self.count += 1
        return self.w * self.count


def getter_with_effects(x, t):
    q = Tally(x)
    a = q.next_weight            # w * 1
    b = q.next_weight            # w * 2
    return np.sum(a * t) + np.sum(b ** 2) + q.count


def test_a_getter_that_changes_its_object_is_refused_at_its_line():
    # compiled as a call of the getter, whose write into its object (the caller's) sct does not follow
    with pytest.raises(SctError, match="count") as info:
        dlfeval(first, getter_with_effects, dlarray(V0), dlarray(T0))
    assert info.value.lineno == Tally.next_weight.fget.__code__.co_firstlineno + 2


# --- writes through a property ---------------------------------------------------------------------

class WithSetter:
    def __init__(self, w):
        self._w = w

    @property
    def w(self):
        return self._w

    @w.setter
    def w(self, value):
        self._w = value * 2.0


def writes_through_setter(x):
    o = WithSetter(x)
    o.w = x * 3.0
    y = np.sum(o.w ** 2)
    return y, dlgradient(y, x)


def test_a_write_through_a_setter_runs_the_setter():
    # was: refused ("runs the property's setter, which sct does not differentiate"); the setter is
    # read in place now (sct/inline_helpers.py setter): o._w = 6 x, y = sum(36 x^2)
    value, grad = dlfeval(writes_through_setter, dlarray(V0))
    assert_close(D(value), np.sum(36 * V0 ** 2), 1e-12, 1e-12)
    assert_close(D(grad), 72 * V0)


class SetInInit(WithSetter):
    def __init__(self, w):
        self.w = w               # runs the setter: self._w = w * 2.0


def setter_in_init(x):
    o = SetInInit(x)
    y = np.sum(o._w ** 2)
    return y, dlgradient(y, x)


def test_a_setter_run_by_init_is_differentiated():
    # was: value 4 sum(x^2), gradient 0 (right: 8 x): the write was taken for a field w's; then
    # refused; now the setter is read in place in __init__
    value, grad = dlfeval(setter_in_init, dlarray(V0))
    assert_close(D(value), np.sum(4 * V0 ** 2), 1e-12, 1e-12)
    assert_close(D(grad), 8 * V0)


class Config:
    def __init__(self):
        self._scale = 1.0

    @property
    def scale(self):
        return self._scale

    @scale.setter
    def scale(self, value):
        self._scale = float(value) * 2.0


def untraced_setter(x, cfg):
    cfg.scale = 3.0              # no traced value: Python's setter runs
    y = np.sum(x ** 2) * cfg.scale
    return y, dlgradient(y, x)


def test_a_setter_of_an_untraced_object_runs():
    cfg = Config()
    y, g = dlfeval(untraced_setter, dlarray(V0), cfg)
    assert cfg.scale == 6.0
    assert_close(D(y), 6.0 * np.sum(V0 ** 2), rtol=1e-12)
    assert_close(D(g), 12.0 * V0)


def reads_setter_property(x):
    o = WithSetter(x)
    y = np.sum(np.sin(o.w) ** 2)
    return y, dlgradient(y, x)


def test_reading_a_property_that_has_a_setter():
    y, g = dlfeval(reads_setter_property, dlarray(V0))
    assert_close(D(y), np.sum(np.sin(V0) ** 2), rtol=1e-12)
    assert_close(D(g), 2 * np.sin(V0) * np.cos(V0))


# --- still refused ----------------------------------------------------------------------------------

class Cached:
    def __init__(self, w):
        self.w = w

    @functools.cached_property
    def weight(self):
        return self.w * 2.0


def cached_model(x):
    c = Cached(x)
    y = np.sum(c.weight ** 2)
    return y, dlgradient(y, x)


def test_cached_property_is_still_refused_at_its_line():
    with pytest.raises(EvaluationError, match="cached_property") as info:
        dlfeval(cached_model, dlarray(V0))
    assert info.value.lineno == cached_model.__code__.co_firstlineno + 2
    assert info.value.filename == __file__


class GetattrToo(Scaled):
    def __getattr__(self, name):
        raise AttributeError(name)


def getattr_class_model(x):
    g = GetattrToo(x, 2.0)
    y = np.sum(g.weight ** 2)
    return y, dlgradient(y, x)


def test_a_property_of_a_class_with_getattr_is_still_refused():
    with pytest.raises(EvaluationError, match="weight"):
        dlfeval(getattr_class_model, dlarray(V0))


# --- forward mode ---------------------------------------------------------------------------------

def forward_case(x):
    return np.sum(Scaled(x, 2.0).weight ** 2)


def test_forward_mode_through_a_property():
    y, dy = sct.jvp(forward_case, (V0,), (T0,))
    assert_close(D(y), forward_case(V0), rtol=1e-12)
    expected = np.sum(8 * np.sin(V0) * np.cos(V0) * T0)
    assert_close(D(dy), expected)


def forward_argument_case(p, x):
    return np.sum(p.weight * x)


def test_forward_mode_through_a_property_of_an_argument():
    y, dy = sct.jvp(lambda w, x: forward_argument_case(Scaled(w, T0), x), (V0, X0[0]), (T0, V0))
    assert_close(D(y), np.sum(np.sin(V0) * T0 * X0[0]), rtol=1e-12)
    assert_close(D(dy), np.sum(np.cos(V0) * T0 * T0 * X0[0]) + np.sum(np.sin(V0) * T0 * V0))


# --- objects in fields, getters returning a field, classes changed --------------------------------

class Model:
    def __init__(self, lin, scale):
        self.lin = lin
        self.scale = scale

    @property
    def gain(self):
        return np.exp(self.scale)

    def __call__(self, x):
        return np.tanh(self.lin(x)) * self.gain + np.sum(self.lin.weight)


def nested_loss(model, x):
    y = np.sum(model(x) ** 2)
    return y, dlgradient(y, model)


def nested_value(W, b, s, x):
    return np.sum((np.tanh(x @ W + b) * np.exp(s) + np.sum(W)) ** 2)


def test_properties_of_an_object_in_a_field():
    s0 = np.array(0.3)
    model = Model(Lin(dlarray(W0), dlarray(B0)), dlarray(s0))
    y, g = dlfeval(nested_loss, model, X0)
    assert_close(D(y), nested_value(W0, B0, s0, X0), rtol=1e-12)
    assert_close(D(g.lin.W), numerical_gradient(lambda w: nested_value(w, B0, s0, X0), [W0.copy()], 0))
    assert_close(D(g.lin.b), numerical_gradient(lambda b: nested_value(W0, b, s0, X0), [B0.copy()], 0))
    assert_close(D(g.scale), numerical_gradient(lambda s: nested_value(W0, B0, s, X0), [s0.copy()], 0))


class Plain:
    def __init__(self, w):
        self._w = w

    @property
    def w(self):
        return self._w


def field_returned_case(x, t):
    p = Plain(x * t)
    a = np.sum(np.sin(p.w))
    p._w = p.w * t               # the getter returned the field itself; the field is rebound
    return a + np.sum(p.w ** 2)


def test_a_getter_returning_its_field():
    check_two_inputs(field_returned_case, V0.copy(), T0.copy())


def make_scaled(x, t):
    return Scaled(x, t)


def from_helper_model(x):
    p = make_scaled(x, 2.0)
    y = np.sum(p.weight ** 2)
    return y, dlgradient(y, x)


def test_a_property_of_an_object_whose_class_is_known_at_run_time_only_is_refused():
    # (the helper's result: its class is not known when the function is compiled)
    with pytest.raises(EvaluationError, match="weight") as info:
        dlfeval(from_helper_model, dlarray(V0))
    assert info.value.lineno == from_helper_model.__code__.co_firstlineno + 2


class Swappable:
    def __init__(self, w):
        self.w = w

    @property
    def weight(self):
        return self.w * 2.0


def swappable_model(x):
    s = Swappable(x)
    y = np.sum(s.weight ** 2)
    return y, dlgradient(y, x)


def test_a_property_replaced_on_its_class_is_compiled_again():
    saved = Swappable.weight
    try:
        y, g = dlfeval(swappable_model, dlarray(V0))
        assert_close(D(g), 8 * V0)
        Swappable.weight = property(lambda self: self.w * 3.0)
        y, g = dlfeval(swappable_model, dlarray(V0))
        assert_close(D(y), 9 * np.sum(V0 ** 2), rtol=1e-12)
        assert_close(D(g), 18 * V0)
    finally:
        Swappable.weight = saved


class Holder:
    def __init__(self, inner):
        self.inner = inner


def swapped_field_model(h, x):
    h.inner = Overriding(x, x)           # another class put in the field before the read
    y = np.sum(h.inner.energy)
    return y, dlgradient(y, x)


def test_an_object_of_another_class_put_in_a_field_is_not_read_as_the_old_one():
    # compiled for the argument's kind (h.inner a Base), checked when it runs: refused, not Base's
    # getter run on an Overriding (which Python would not run)
    h = Holder(Base(dlarray(V0), dlarray(T0)))
    with pytest.raises(SctError, match="Overriding") as info:
        dlfeval(swapped_field_model, h, dlarray(V0))
    assert info.value.lineno == swapped_field_model.__code__.co_firstlineno + 2


def argument_mutated(p, x):
    a = np.sum(p.weight ** 2 * x)
    p.w = p.w * 3.0              # the argument's field, written after the read
    y = a + np.sum(p.weight * x)
    return y, dlgradient(y, x)


def argument_mutated_value(w, s, x):
    return np.sum((np.sin(w) * s) ** 2 * x) + np.sum(np.sin(3 * w) * s * x)


def test_an_argument_whose_field_is_written_between_two_reads():
    p = Scaled(dlarray(V0), dlarray(T0))
    y, gx = dlfeval(argument_mutated, p, dlarray(X0[1]))
    assert_close(D(y), argument_mutated_value(V0, T0, X0[1]), rtol=1e-12)
    assert_close(D(gx), numerical_gradient(lambda x: argument_mutated_value(V0, T0, x), [X0[1].copy()], 0))
    assert_close(D(p.w), 3 * V0)                 # Python's write happened


def test_hessian_vector_product_through_a_property():
    f = lambda x: np.sum(np.sin(Scaled(x, 2.0).weight) ** 2)          # noqa: E731
    grad = lambda x: 2 * np.sin(2 * np.sin(x)) * np.cos(2 * np.sin(x)) * 2 * np.cos(x)   # noqa: E731
    expected = numerical_gradient(lambda x: np.sum(grad(x) * T0), [V0.copy()], 0)
    assert_close(D(sct.hvp(f, V0, T0)), expected, rtol=1e-4, atol=1e-6)


class Shared(Base):
    pass


def shared_getter_model(x, t):
    a = Base(x, t)
    b = Shared(x * 2.0, t)
    y = a.energy + b.energy
    return y, dlgradient(y, x)


def test_a_subclass_overriding_a_property_later_is_compiled_again():
    y, g = dlfeval(shared_getter_model, dlarray(V0), dlarray(T0))
    assert_close(D(g), 2 * V0 * T0 + 8 * V0 * T0)
    Shared.energy = property(lambda self: np.sum(self.w * self.t))
    try:
        y, g = dlfeval(shared_getter_model, dlarray(V0), dlarray(T0))
        assert_close(D(y), np.sum(V0 ** 2 * T0) + np.sum(2 * V0 * T0), rtol=1e-12)
        assert_close(D(g), 2 * V0 * T0 + 2 * T0)
    finally:
        del Shared.energy
