"""Red team (attributes computed by code sct does not read, methods taken as values).

* ``obj.weight`` where ``weight`` is a ``property`` (or a ``functools.cached_property``, or
  answered by ``__getattr__``): the read was taken for a field, its adjoint ``{"weight": g}``
  was dropped by the constructor's adjoint (nobody stores ``weight``), and the gradient was
  silently zero, in reverse and forward mode; ``net.Layers[i].Weights`` inside ``dlfeval``
  the same.  Now refused at the line, unless the getter's value is an int, bool, str or None
  (a count such as ``self.w.shape[0]`` has no derivative to lose).
* ``fn = layer.forward; fn(x)`` (or ``apply(layer.forward, x)``, a list of bound methods)
  with ``layer`` holding traced arrays: the bound method's pair differentiates its arguments
  only, so the derivative through ``self``'s fields was dropped.  Now refused at the line;
  a bound method of an object whose arrays carry no derivative still runs.
"""
from __future__ import annotations

import functools

import numpy as np
import pytest

import sct
from sct import EvaluationError, SctError, dlarray, dlfeval, dlgradient, extractdata
from gradcheck import assert_close, numerical_gradient

X = np.array([1.0, -2.0, 0.5])


class WithProperty:
    def __init__(self, w):
        self.w = w

    @property
    def weight(self):
        return self.w * 2.0

    @property
    def n(self):
        return self.w.shape[0]


class WithCachedProperty:
    def __init__(self, w):
        self.w = w

    @functools.cached_property
    def weight(self):
        return self.w * 2.0


class WithGetattr:
    def __init__(self, w):
        self.params = {"weight": w}

    def __getattr__(self, name):
        params = self.__dict__.get("params", {})
        if name in params:
            return params[name] * 2.0
        raise AttributeError(name)


def property_model(x):
    layer = WithProperty(x)
    y = np.sum(layer.weight ** 2)
    return y, dlgradient(y, x)


def cached_property_model(x):
    layer = WithCachedProperty(x)
    y = np.sum(layer.weight ** 2)
    return y, dlgradient(y, x)


def getattr_model(x):
    layer = WithGetattr(x)
    y = np.sum(layer.weight ** 2)
    return y, dlgradient(y, x)


def property_of_argument(layer):
    y = np.sum(layer.weight ** 2)
    return y, dlgradient(y, layer)


def property_plain(x):
    return np.sum(WithProperty(x).weight ** 2)


PROPERTY_LINES = {cached_property_model: 2, getattr_model: 2}


@pytest.mark.parametrize("model", list(PROPERTY_LINES), ids=lambda f: f.__name__)
def test_a_derivative_through_a_getter_is_refused_at_its_line(model):
    # was: value 21, gradient [0, 0, 0] (right: 8 x)
    arg = WithProperty(dlarray(X)) if model is property_of_argument else dlarray(X)
    with pytest.raises(EvaluationError) as info:
        dlfeval(model, arg)
    assert info.value.lineno == model.__code__.co_firstlineno + PROPERTY_LINES[model]
    assert "weight" in str(info.value) and "method" in str(info.value)


def test_a_derivative_through_a_property_goes_through_its_getter():
    # was: gradient [0, 0, 0], then refused; now the getter's call (sct/properties.py,
    # tests/test_properties_dec12.py)
    for model, arg in ((property_model, dlarray(X)), (property_of_argument, WithProperty(dlarray(X)))):
        y, g = dlfeval(model, arg)
        assert_close(extractdata(y), np.sum((2 * X) ** 2))
        assert_close(extractdata(g if model is property_model else g.w), 8 * X)


def test_forward_mode_through_a_property():
    # was: tangent 0 (right: sum(8 x v)), then refused
    y, dy = sct.jvp(property_plain, (X,), (np.ones(3),))
    assert_close(extractdata(dy), np.sum(8 * X))


def count_model(x):
    layer = WithProperty(x)
    y = np.sum(layer.w ** 2) / layer.n
    return y, dlgradient(y, x)


def test_an_integer_property_is_a_constant():
    y, g = dlfeval(count_model, dlarray(X))
    assert_close(extractdata(y), np.sum(X ** 2) / 3)
    assert_close(extractdata(g), 2 * X / 3)


def network_weights_model(net, X):
    w = net.Layers[1].Weights
    y = np.sum(w ** 2) + np.sum(sct.predict(net, X))
    return y, dlgradient(y, net.Learnables)


def test_network_layers_property_read_inside_dlfeval_is_refused():
    # was: the gradient of sum(w ** 2) through net.Layers silently 0
    net = sct.dlnetwork([sct.featureInputLayer(3), sct.fullyConnectedLayer(2)], Seed=0)
    with pytest.raises(EvaluationError, match="Learnables") as info:
        dlfeval(network_weights_model, net, np.ones((4, 3)))
    assert info.value.lineno == network_weights_model.__code__.co_firstlineno + 1


# --- methods taken as values ----------------------------------------------------------------------

class Scale:
    def __init__(self, w):
        self.w = w

    def forward(self, u):
        return u * self.w


def apply(fn, u):
    return fn(u)


def method_value_model(x):
    layer = Scale(x)
    fn = layer.forward
    y = np.sum(fn(x))
    return y, dlgradient(y, x)


def method_passed_model(x):
    layer = Scale(x)
    y = np.sum(apply(layer.forward, x))
    return y, dlgradient(y, x)


def method_list_model(x):
    fns = [Scale(x).forward, Scale(x * 2.0).forward]
    y = 0.0
    for fn in fns:
        y = y + np.sum(fn(x))
    return y, dlgradient(y, x)


def method_of_argument_model(x, layer):
    fn = layer.forward
    y = np.sum(fn(x))
    return y, dlgradient(y, layer)


def method_value_plain(x):
    fn = Scale(x).forward
    return np.sum(fn(x))


METHOD_LINES = {method_value_model: 3, method_passed_model: 2, method_list_model: 4, method_of_argument_model: 2}


@pytest.mark.parametrize("model", list(METHOD_LINES), ids=lambda f: f.__name__)
def test_a_method_value_of_an_object_holding_traced_arrays_is_refused(model):
    # was: the gradient of sum(x * x) given as x (right: 2 x); with layer as x: 0 (right: x)
    args = (X, Scale(dlarray(X))) if model is method_of_argument_model else (dlarray(X),)
    with pytest.raises(SctError, match="forward") as info:
        dlfeval(model, *args)
    assert info.value.lineno == model.__code__.co_firstlineno + METHOD_LINES[model]
    with pytest.raises(SctError, match="forward"):       # the same call again: not a cached pass
        dlfeval(model, *args)


@pytest.mark.parametrize("mode", ["forward", "transpose"])
def test_forward_mode_through_a_method_value_is_refused(mode):
    # was: tangent sum(x v) (right: sum(2 x v))
    with pytest.raises(SctError, match="forward"):
        sct.jvp(method_value_plain, (X,), (np.ones(3),), mode=mode)


class Standardize:
    def __init__(self, mu, sd):
        self.mu = mu
        self.sd = sd

    def transform(self, u):
        return (u - self.mu) / self.sd


def run_transform(model, u):
    f = model.transform
    return f(u)


def constant_method_value_model(x, scaler):
    f = scaler.transform
    y = np.sum(f(x) ** 2) + np.sum(run_transform(scaler, x))
    return y, dlgradient(y, x)


def test_a_method_value_of_a_constant_object_is_differentiated():
    scaler = Standardize(np.array([0.5, 0.5, 0.5]), np.array([2.0, 4.0, 1.0]))

    def plain(x):
        return np.sum(((x - scaler.mu) / scaler.sd) ** 2) + np.sum((x - scaler.mu) / scaler.sd)
    y, g = dlfeval(constant_method_value_model, dlarray(X), scaler)
    assert_close(extractdata(y), plain(X))
    assert_close(extractdata(g), numerical_gradient(plain, [X], 0), atol=1e-5)


# --- writes into objects from outside the function, before a gradient differentiated again ------------
# The second derivative's sweep recomputes the code before the first dlgradient: a write there into a
# global's, a closure's or an argument's item or attribute ran twice (`COUNT[0] += 1` left COUNT at 2),
# and the recomputation read the changed object (z 612 and its gradient [144, 1152] where plain Python
# gives 153 and [36, 288]).  Now refused at the write's line; a helper doing the write runs once.

COUNT = [0]
ARR = np.zeros(2)


class Counter:
    def __init__(self):
        self.n = 0


STATS = Counter()


def global_item_twice(x):
    COUNT[0] += 1
    y = np.sum(x ** 3) * COUNT[0]
    g = dlgradient(y, x)
    z = np.sum(g ** 2)
    return z, dlgradient(z, x)


def global_attribute_twice(x):
    STATS.n = STATS.n + 1
    y = np.sum(x ** 3) * STATS.n
    g = dlgradient(y, x)
    z = np.sum(g ** 2)
    return z, dlgradient(z, x)


def argument_item_twice(x, d):
    d["n"] = d["n"] + 1
    y = np.sum(x ** 3) * d["n"]
    g = dlgradient(y, x)
    z = np.sum(g ** 2)
    return z, dlgradient(z, x)


def argument_attribute_twice(x, st):
    st.n += 1
    y = np.sum(x ** 3) * st.n
    g = dlgradient(y, x)
    z = np.sum(g ** 2)
    return z, dlgradient(z, x)


def global_add_at_twice(x):
    np.add.at(ARR, 0, 1.0)
    y = np.sum(x ** 3) * ARR[0]
    g = dlgradient(y, x)
    z = np.sum(g ** 2)
    return z, dlgradient(z, x)


def global_copyto_twice(x):
    np.copyto(ARR, ARR + 1.0)
    y = np.sum(x ** 3) * ARR[0]
    g = dlgradient(y, x)
    z = np.sum(g ** 2)
    return z, dlgradient(z, x)


def bump():
    COUNT[0] += 1
    return COUNT[0]


def helper_write_once(x):
    k = bump()
    y = np.sum(x ** 3) * k
    g = dlgradient(y, x)
    z = np.sum(g ** 2)
    return z, dlgradient(z, x)


def first_order_global_write(x):
    COUNT[0] += 1
    y = np.sum(x ** 3) * COUNT[0]
    return y, dlgradient(y, x)


def reset_state():
    COUNT[0] = 0
    ARR[:] = 0.0
    STATS.n = 0


@pytest.mark.parametrize("model, extra", [
    (global_item_twice, ()), (global_attribute_twice, ()), (argument_item_twice, ({"n": 0},)),
    (argument_attribute_twice, (Counter(),)), (global_add_at_twice, ()), (global_copyto_twice, ())],
    ids=lambda v: getattr(v, "__name__", ""))
def test_a_write_outside_before_a_gradient_differentiated_again_is_refused(model, extra):
    reset_state()
    with pytest.raises(sct.CompileError, match="twice") as info:
        dlfeval(model, dlarray(np.array([1.0, 2.0])), *extra)
    assert info.value.lineno == model.__code__.co_firstlineno + 1
    assert COUNT[0] == 0 and STATS.n == 0 and not ARR.any()      # refused before anything ran


def test_a_helper_writing_outside_runs_once_under_a_second_derivative():
    reset_state()
    x = np.array([1.0, 2.0])
    z, dz = dlfeval(helper_write_once, dlarray(x))
    assert COUNT[0] == 1
    assert_close(extractdata(z), np.sum((3 * x ** 2) ** 2))
    assert_close(extractdata(dz), 2 * 3 * x ** 2 * 6 * x)


def test_a_first_order_gradient_after_a_global_write_runs_it_once():
    reset_state()
    x = np.array([1.0, 2.0])
    y, g = dlfeval(first_order_global_write, dlarray(x))
    assert COUNT[0] == 1
    assert_close(extractdata(g), 3 * x ** 2)


# --- lists and dicts passed to dlfeval ---------------------------------------------------------------
# dlfeval copied every list and dict argument (to unwrap dlarrays), so a write into one inside the
# function (an untraced item, an append, a pop) never reached the caller's object: `buf` stayed
# [1.0, 2.0] where plain Python leaves [5.0, 2.0, 7].  One holding no dlarray is now passed as it is.

def writes_into_containers(x, buf, d, t):
    buf[0] = 5.0
    buf.append(7)
    d["k"] = 1
    d.pop("z")
    t[0][0] = 9.0
    y = np.sum(x ** 2) * len(buf)
    return y, dlgradient(y, x)


def test_writes_into_list_and_dict_arguments_reach_the_caller():
    x = np.array([1.0, 2.0])
    buf, d, t = [1.0, 2.0], {"z": 0}, ([1.0],)
    y, g = dlfeval(writes_into_containers, dlarray(x), buf, d, t)
    assert buf == [5.0, 2.0, 7] and d == {"k": 1} and t == ([9.0],)
    assert_close(extractdata(y), 3 * np.sum(x ** 2))
    assert_close(extractdata(g), 6 * x)


# --- methods named like numpy's array methods ---------------------------------------------------------
# `agg.sum(x)` with `agg` an object of the user's class that defines `sum` was compiled as numpy's
# array method `sum` with `agg` as the array and `x` as its axis: the value was right (the call ran
# the user's method) but the gradient was silently 0.  `xp = np; xp.sum(...)` the same.

class Aggregate:
    def __init__(self, k):
        self.k = k

    def sum(self, u):
        return np.sum(u ** 2) * self.k

    def mean(self, u):
        return np.mean(u ** 3)

    def reshape(self, u):
        return u * 5.0


def make_aggregate():
    return Aggregate(2.0)


def built_sum(x):
    agg = Aggregate(2.0)
    y = agg.sum(x)
    return y, dlgradient(y, x)


def argument_methods(x, agg):
    y = agg.mean(x) + np.sum(agg.reshape(x))
    return y, dlgradient(y, x)


def item_method(x, d):
    y = d["agg"].sum(x)
    return y, dlgradient(y, x)


def module_alias(x):
    xp = np
    y = xp.sum(xp.sin(x) ** 2)
    return y, dlgradient(y, x)


def module_attribute_alias(x):
    la = np.linalg
    y = la.norm(x) ** 2
    return y, dlgradient(y, x)


@pytest.mark.parametrize("model, extra, expected", [
    (built_sum, (), lambda x: 4 * x),
    (argument_methods, (Aggregate(2.0),), lambda x: x ** 2 + 5.0),
    (item_method, ({"agg": Aggregate(2.0)},), lambda x: 4 * x),
    (module_alias, (), lambda x: 2 * np.sin(x) * np.cos(x)),
    (module_attribute_alias, (), lambda x: 2 * x)], ids=lambda v: getattr(v, "__name__", ""))
def test_a_method_named_like_an_array_method_is_the_objects_own(model, extra, expected):
    y, g = dlfeval(model, dlarray(X), *extra)
    assert_close(extractdata(g), expected(X))


def unknown_receiver(x):
    agg = make_aggregate()          # what make_aggregate returns is known only when it runs
    y = agg.sum(x)
    return y, dlgradient(y, x)


def loop_receiver(x):
    y = 0.0
    for agg in [Aggregate(2.0)]:
        y = y + agg.sum(x)
    return y, dlgradient(y, x)


def get_module(x):
    return np


def unknown_module(x):
    xp = get_module(x)
    y = xp.sum(xp.sin(x) ** 2)
    return y, dlgradient(y, x)


@pytest.mark.parametrize("model, offset", [(unknown_receiver, 2), (loop_receiver, 3), (unknown_module, 2)],
                         ids=lambda v: getattr(v, "__name__", ""))
def test_an_unknown_receiver_with_its_own_method_is_refused(model, offset):
    with pytest.raises(EvaluationError, match="array method sum") as info:
        dlfeval(model, dlarray(X))
    assert info.value.lineno == model.__code__.co_firstlineno + offset


def unknown_receiver_plain(x):
    return make_aggregate().sum(x)


@pytest.mark.parametrize("mode", ["forward", "transpose"])
def test_forward_mode_with_an_unknown_receiver_is_refused(mode):
    # was (forward): tangent 0 (right: sum(4 x v))
    with pytest.raises(EvaluationError, match="array method sum"):
        sct.jvp(unknown_receiver_plain, (X,), (np.ones(3),), mode=mode)


def array_from_helper(x):
    a = apply(lambda u: u * 2.0, x)
    y = a.sum() + a.mean() * 3.0
    return y, dlgradient(y, x)


def test_an_array_of_unknown_kind_keeps_numpys_methods():
    y, g = dlfeval(array_from_helper, dlarray(X))
    assert_close(extractdata(y), np.sum(2 * X) + 3 * np.mean(2 * X))
    assert_close(extractdata(g), np.full(3, 2.0 + 2.0))
