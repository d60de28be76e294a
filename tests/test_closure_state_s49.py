"""Functions that generated code calls as constants while they read a traced value (s49).

A callable sct reaches when the code runs (made by ``__getattr__`` or a property, set in ``__init__``, a
bound method or a partial kept in a field, a closure, partial or bound method passed to dlfeval, the
function dlfeval runs closing over an argument) is compiled as a function of the arguments it is given:
what it captures is a constant there.  Where that reaches a value the dlfeval call differentiates
(``lambda x: x @ self.W`` with self passed to dlfeval) the gradient through it was silently zero; it is
now refused at the user's line, and the forms sct models (a method of the class, one called through
``getattr`` with a literal, a closure made in compiled code, a callable object kept in a field) stay
exact.  Values against plain numpy, gradients against central differences of plain numpy."""
import functools
import re

import numpy as np
import pytest

import sct
from sct import dlarray, dlfeval, dlgradient, extractdata

W0 = np.array([[1.0, 2.0], [3.0, -1.0]])
X0 = np.array([[0.1, 0.2]])
HERE = "test_closure_state_s49.py"


def _fd(f, a):
    g = np.zeros_like(a)
    for i in np.ndindex(a.shape):
        p, m = a.copy(), a.copy()
        p[i] += 1e-6
        m[i] -= 1e-6
        g[i] = (f(p) - f(m)) / 2e-6
    return g


def _ref(W, X):
    return np.sum(np.tanh(X @ W))


def _W():
    return dlarray(W0.copy())


def _x():
    return dlarray(X0.copy())


def _refused(build, *words):
    sct.clear_cache()
    with pytest.raises((sct.CompileError, sct.EvaluationError)) as info:
        build()
    text = str(info.value)
    assert re.search(HERE + r", line \d+", text), text
    for w in words:
        assert w in text, text
    return text


def _exact_w(build):
    sct.clear_cache()
    y, g = build()
    assert np.allclose(extractdata(y), _ref(W0, X0), rtol=1e-12)
    assert np.allclose(extractdata(g), _fd(lambda W: _ref(W, X0), W0), atol=1e-7)


def _exact_x(build):
    sct.clear_cache()
    y, g = build()
    assert np.allclose(extractdata(y), _ref(W0, X0), rtol=1e-12)
    assert np.allclose(extractdata(g), _fd(lambda X: _ref(W0, X), X0), atol=1e-7)


class Model:
    def __init__(self, W):
        self.W = W

    def forward(self, x):
        return np.tanh(x @ self.W)


def apply(m, x):
    return np.tanh(x @ m.W)


def loss_fwd(m, x):
    y = np.sum(m.fwd(x))
    return y, dlgradient(y, m.W)


def loss_f(m, x):
    y = np.sum(m.f(x))
    return y, dlgradient(y, m.W)


def loss_fwd_x(m, x):
    y = np.sum(m.fwd(x))
    return y, dlgradient(y, x)


# --- a function reached through the object, capturing it: refused at the call --------------------------

class ByGetattr:
    def __init__(self, W):
        self.W = W

    def __getattr__(self, name):
        if name == "fwd":
            return lambda x: np.tanh(x @ self.W)
        raise AttributeError(name)


class ByProperty:
    def __init__(self, W):
        self.W = W

    @property
    def fwd(self):
        def f(x):
            return np.tanh(x @ self.W)
        return f


class LambdaField:
    def __init__(self, W):
        self.W = W
        self.f = lambda x: np.tanh(x @ self.W)


class DefaultSelf:
    def __init__(self, W):
        self.W = W
        self.f = lambda x, s=self: np.tanh(x @ s.W)


class PartialField:
    def __init__(self, W):
        self.W = W
        self.f = functools.partial(apply, self)


class Computed:
    def __init__(self, W):
        self.W = W
        self.h = None

    def __getattr__(self, name):
        if name == "fwd":
            return lambda x: np.tanh(x @ self.h)
        raise AttributeError(name)


def loss_computed(m, x):
    m.h = m.W * 1.0
    y = np.sum(m.fwd(x))
    return y, dlgradient(y, m.W)


def test_getattr_lambda_refused():      # the task's program (was: a zero gradient)
    _refused(lambda: dlfeval(loss_fwd, ByGetattr(_W()), _x()), "ByGetattr.fwd is not a method", "the lambda")


def test_property_returning_a_closure_refused():
    _refused(lambda: dlfeval(loss_fwd, ByProperty(_W()), _x()), "ByProperty.fwd is not a method", "f()")


def test_lambda_set_in_init_refused():
    _refused(lambda: dlfeval(loss_f, LambdaField(_W()), _x()), "LambdaField.f is not a method")


def test_lambda_default_self_refused():
    _refused(lambda: dlfeval(loss_f, DefaultSelf(_W()), _x()), "DefaultSelf.f is not a method")


def test_partial_of_self_in_a_field_refused():
    _refused(lambda: dlfeval(loss_f, PartialField(_W()), _x()), "functools.partial(apply")


def test_value_computed_into_a_field_refused():
    # (the gradient with respect to W goes through m.h, which the lambda reads through self)
    _refused(lambda: dlfeval(loss_computed, Computed(_W()), _x()), "Computed.fwd is not a method")


def test_getattr_lambda_gradient_of_x_still_exact():
    _exact_x(lambda: dlfeval(loss_fwd_x, ByGetattr(_W()), _x()))


# --- bound methods kept in containers, callables passed to dlfeval: refused at the gradient -------------

class OpsDict:
    def __init__(self, W):
        self.W = W
        self.ops = {"f": self.apply}

    def apply(self, x):
        return np.tanh(x @ self.W)


class OpsList:
    def __init__(self, W):
        self.W = W
        self.ops = [self.apply]

    def apply(self, x):
        return np.tanh(x @ self.W)


class Holder:
    def __init__(self, f):
        self.f = f

    def __call__(self, x):
        return self.f(x)


class HoldsClosure:
    def __init__(self, W):
        self.W = W
        self.h = Holder(lambda x: np.tanh(x @ self.W))


def loss_ops_dict(m, x):
    y = np.sum(m.ops["f"](x))
    return y, dlgradient(y, m.W)


def loss_ops_list(m, x):
    y = np.sum(m.ops[0](x))
    return y, dlgradient(y, m.W)


def loss_ops_dict_x(m, x):
    y = np.sum(m.ops["f"](x))
    return y, dlgradient(y, x)


def loss_holder(m, x):
    y = np.sum(m.h(x))
    return y, dlgradient(y, m.W)


def loss_given(f, m, x):
    y = np.sum(f(x))
    return y, dlgradient(y, m.W)


def loss_given_array(f, W, x):
    y = np.sum(f(x))
    return y, dlgradient(y, W)


def loss_given_x(f, m, x):
    y = np.sum(f(x))
    return y, dlgradient(y, x)


def make(m):
    return lambda x: np.tanh(x @ m.W)


def test_bound_method_in_a_dict_refused():
    _refused(lambda: dlfeval(loss_ops_dict, OpsDict(_W()), _x()), "OpsDict.apply taken as a value")


def test_bound_method_in_a_list_refused():
    _refused(lambda: dlfeval(loss_ops_list, OpsList(_W()), _x()), "OpsList.apply taken as a value")


def test_callable_object_holding_a_closure_refused():
    _refused(lambda: dlfeval(loss_holder, HoldsClosure(_W()), _x()), "the lambda")


def test_closure_passed_beside_its_object_refused_every_call():
    m = Model(_W())
    f = make(m)
    sct.clear_cache()
    for _ in range(2):      # (the second call runs the call site's entry: still noted)
        with pytest.raises(sct.EvaluationError, match="also read by the lambda"):
            dlfeval(loss_given, f, m, _x())


def test_closure_over_a_dlarray_passed_refused():
    W = _W()
    _refused(lambda: dlfeval(loss_given_array, lambda x: np.tanh(x @ W), W, _x()), "the lambda")


def test_partial_passed_beside_its_object_refused():
    m = Model(_W())
    _refused(lambda: dlfeval(loss_given, functools.partial(apply, m), m, _x()), "functools.partial(apply")


def test_bound_method_passed_beside_its_object_refused():
    m = Model(_W())
    _refused(lambda: dlfeval(loss_given, m.forward, m, _x()), "Model.forward taken as a value")


def test_entry_closure_over_an_argument_refused():
    def make_loss(m):
        def loss(mm, x):
            y = np.sum(np.tanh(x @ m.W))
            return y, dlgradient(y, mm.W)
        return loss
    m = Model(_W())
    _refused(lambda: dlfeval(make_loss(m), m, _x()), "the function dlfeval runs")


def test_gradients_of_other_values_stay_exact():
    m = Model(_W())
    _exact_x(lambda: dlfeval(loss_given_x, make(m), m, _x()))
    _exact_x(lambda: dlfeval(loss_given_x, m.forward, m, _x()))
    _exact_x(lambda: dlfeval(loss_given_x, functools.partial(apply, m), m, _x()))
    _exact_x(lambda: dlfeval(loss_ops_dict_x, OpsDict(_W()), _x()))
    C = W0.copy()
    _exact_x(lambda: dlfeval(loss_given_x, lambda x: np.tanh(x @ C), None, _x()))


def test_entry_closure_over_constants_stays_exact():
    scale = {"k": 1.0}

    def make_loss():
        def loss(m, x):
            y = np.sum(np.tanh(x @ m.W)) * scale["k"]
            return y, dlgradient(y, m.W)
        return loss
    _exact_w(lambda: dlfeval(make_loss(), Model(_W()), _x()))


# --- forms sct models: exact ------------------------------------------------------------------------

class MethodField:
    def __init__(self, W):
        self.W = W
        self.f = self.forward

    def forward(self, x):
        return np.tanh(x @ self.W)


class Lin:
    def __init__(self, W):
        self.W = W

    def __call__(self, x):
        return np.tanh(x @ self.W)


class Layers:
    def __init__(self, W):
        self.layers = {"a": Lin(W)}


class Getter:
    def __init__(self, W):
        self.W = W

    def get(self):
        return lambda x: np.tanh(x @ self.W)


def loss_getattr_literal(m, x):
    y = np.sum(getattr(m, "forward")(x))
    return y, dlgradient(y, m.W)


def loss_layers(m, x):
    y = np.sum(m.layers["a"](x))
    return y, dlgradient(y, m.layers["a"].W)


def loss_getter(m, x):
    y = np.sum(m.get()(x))
    return y, dlgradient(y, m.W)


def helper(m):
    return lambda x: np.tanh(x @ m.W)


def loss_helper(m, x):
    f = helper(m)
    y = np.sum(f(x))
    return y, dlgradient(y, m.W)


def test_modelled_forms_stay_exact():
    _exact_w(lambda: dlfeval(loss_f, MethodField(_W()), _x()))
    _exact_w(lambda: dlfeval(loss_getattr_literal, Model(_W()), _x()))
    _exact_w(lambda: dlfeval(loss_layers, Layers(_W()), _x()))
    _exact_w(lambda: dlfeval(loss_getter, Getter(_W()), _x()))
    _exact_w(lambda: dlfeval(loss_helper, Model(_W()), _x()))


def test_marks_do_not_outlive_the_run():
    # a refused run leaves nothing behind: the same arrays' gradient through a method is exact after it
    m = Model(_W())
    with pytest.raises(sct.EvaluationError):
        dlfeval(loss_given, m.forward, m, _x())

    def loss_method(m, x):
        y = np.sum(m.forward(x))
        return y, dlgradient(y, m.W)
    y, g = dlfeval(loss_method, m, _x())
    assert np.allclose(extractdata(g), _fd(lambda W: _ref(W, X0), W0), atol=1e-7)
