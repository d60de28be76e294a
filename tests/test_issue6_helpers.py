"""Issue 6, items 2, 3, 12 and 14: helpers, methods and callable objects called from
differentiated code.

2. A helper call that rebinds a name it reads (``y = h(y, c)``) inside a loop or branch.
3. Nested callable objects (layers calling layers), gradients with respect to the object.
12. Method calls on attribute chains (``self.a.sum()``, ``w.T.reshape(-1)``).
14. A constructor argument stored on ``self`` and never read.

Values are checked against plain Python, gradients against central differences.
"""
from __future__ import annotations

import types
from dataclasses import dataclass

import numpy as np
import pytest

import sct
from sct import dlarray, dlfeval, dlgradient

try:
    from tests.gradcheck import assert_close, check_grads, numerical_gradient
except ImportError:                      # run as plain `pytest` from inside tests/
    from gradcheck import assert_close, check_grads, numerical_gradient

rng = np.random.default_rng(6)
A = rng.standard_normal(3) * 0.5
B = rng.standard_normal(3) * 0.5


# --- item 2: helpers that rebind a name they read, in loops and branches -------------------------

def h(a, b):
    return a * b


def h2(y, z):
    return y * z, y + np.sin(z)


def f_for(a):
    y = a
    for i in range(3):
        y = h(y, 3.0)
    return np.sum(y ** 2)


def f_while(a):
    y = a
    i = 0
    while i < 3:
        y = h(y, 1.5)
        i += 1
    return np.sum(np.sin(y))


def f_tuple(a, b):
    y, z = a, b
    for i in range(3):
        y, z = h2(y, z)
    return np.sum(y * z)


def f_same(a):
    y = a
    for i in range(2):
        y = h(y, y)
    return np.sum(y)


def f_both(a, b):
    y = a
    for i in range(2):
        y = h(y, b) + y
        y = h(b, y)
    return np.sum(y)


class Stepper:
    def __init__(self, c):
        self.c = c

    def step(self, y):
        return np.tanh(y * self.c) + y

    def run(self, y):
        for i in range(3):
            y = self.step(y)
        return y


def f_method(a):
    s = Stepper(0.7)
    y = a
    for i in range(3):
        y = s.step(y)
    return np.sum(y)


def f_method_inner(a):
    return np.sum(Stepper(0.7).run(a))


def f_branch(a):
    y = a
    for i in range(4):
        if i % 2 == 0:
            y = h(y, 2.0)
        else:
            y = np.cos(y)
    return np.sum(y)


def f_if_only(a):
    y = a
    if np.sum(a) < 10:
        y = h(y, 3.0)
    return np.sum(y)


def f_nested(a):
    y = a
    for i in range(2):
        j = 0
        while j < 2:
            y = h(y, 0.9) + 0.1 * y * y
            j += 1
    return np.sum(y)


def f_acc(a):
    y = a
    t = 0.0
    for i in range(3):
        t = t + h(y, t + 1.0)
        y = h(y, 0.5)
    return np.sum(t) + np.sum(y)


def f_recv(a, b):
    y = a
    for i in range(2):
        y = h(b, y)
        b = h(b, y)
    return np.sum(y * b)


def g_param_rebind(y, n):
    for i in range(n):
        y = h(y, 2.0)
    return y


def f_helper_with_loop(a):
    y = a
    for k in range(2):
        y = g_param_rebind(y, 2)
    return np.sum(np.sin(y))


REBINDING = [f_for, f_while, f_tuple, f_same, f_both, f_method, f_method_inner, f_branch, f_if_only,
             f_nested, f_acc, f_recv, f_helper_with_loop]


@pytest.mark.parametrize("fun", REBINDING, ids=lambda f: f.__name__)
def test_helper_rebinding_its_argument(fun):
    check_grads(fun, *[A, B][:fun.__code__.co_argcount])


def test_issue_example_gives_nine():
    def f(a):
        y = a
        for i in range(2):
            y = h(y, 3.0)
        return y, dlgradient(y, a)
    value, grad = dlfeval(f, dlarray(2.0))
    assert float(value.data) == 18.0
    assert float(grad.data) == 9.0


def _hvp(fun, a, v):
    y = fun(a)
    g = dlgradient(y, a)
    return dlgradient(np.sum(g * v), a)


def _grad(fun, a):
    y = fun(a)
    return dlgradient(y, a)


def check_hvp(fun, a, seed=0, step=1e-5):
    """Second derivatives: sct's Hessian-vector product against differences of its gradient."""
    v = np.random.default_rng(seed).standard_normal(np.shape(a))
    got = np.asarray(dlfeval(_hvp, fun, dlarray(a), v).data)
    up = np.asarray(dlfeval(_grad, fun, dlarray(a + step * v)).data)
    down = np.asarray(dlfeval(_grad, fun, dlarray(a - step * v)).data)
    assert_close(got, (up - down) / (2 * step), rtol=1e-4, atol=1e-6, what=fun.__name__)


@pytest.mark.parametrize("fun", [f for f in REBINDING if f.__code__.co_argcount == 1],
                         ids=lambda f: f.__name__)
def test_helper_rebinding_second_derivative(fun):
    check_hvp(fun, A)


# --- item 3: nested callable objects --------------------------------------------------------------

class Lin:
    def __init__(self, w, b):
        self.w = w
        self.b = b

    def __call__(self, x):
        return np.tanh(self.w @ x + self.b)


class Net:
    def __init__(self, l1, l2):
        self.l1 = l1
        self.l2 = l2

    def __call__(self, x):
        return self.l2(self.l1(x))


class NetForward:
    def __init__(self, l1, l2):
        self.l1 = l1
        self.l2 = l2

    def forward(self, x):
        h = self.l1(x)
        return self.l2(h)


@dataclass
class DLin:
    w: np.ndarray
    b: np.ndarray

    def __call__(self, x):
        return np.tanh(self.w @ x + self.b)


@dataclass
class DNet:
    l1: DLin
    l2: DLin

    def __call__(self, x):
        return self.l2(self.l1(x))


class Seq:
    def __init__(self, layers):
        self.layers = layers

    def __call__(self, x):
        for layer in self.layers:
            x = layer(x)
        return x


class Outer:
    def __init__(self, inner, head):
        self.inner = inner
        self.head = head

    def __call__(self, x):
        return self.head(self.inner(x))


def my_tanh(z):
    return np.tanh(z)


class ActLin:
    def __init__(self, w, act):
        self.w = w
        self.act = act                   # a function held in a field

    def __call__(self, x):
        return self.act(self.w @ x)


class ForwardLin:
    def __init__(self, w):
        self.w = w

    def forward(self, x):
        return np.sin(self.w @ x)

    def __call__(self, x):
        return self.forward(x)


class Holder:
    def __init__(self, a, blocks):
        self.a = a
        self.blocks = blocks

    def __call__(self, x):
        h = self.a(x)
        return self.blocks["b"](h)


def loss_l1(net, x):
    return np.sum(net.l1(x))


def loss_net(net, x):
    return np.sum(net(x) ** 2)


def loss_forward(net, x):
    return np.sum(net.forward(x) ** 2)


def loss_loop(net, x):
    for layer in net.layers:
        x = layer(x)
    return np.sum(x ** 2)


def loss_index(net, x):
    h = net.layers[0](x)
    return np.sum(net.layers[1](h) ** 2)


def loss_twice(net, x):
    y = net.l1(x)
    z = net.l1(y[:2] * 0.5)              # the same layer twice
    return np.sum(z) + np.sum(net.l2(y) ** 2)


def _gradient_wrt_object(loss, net, x):
    y = loss(net, x)
    return y, dlgradient(y, net)


def _leaves(obj, path=()):
    if isinstance(obj, (np.ndarray, sct.dlarray)):
        yield path
    elif isinstance(obj, (list, tuple)):
        for i, v in enumerate(obj):
            yield from _leaves(v, path + (i,))
    elif isinstance(obj, dict):
        for k, v in obj.items():
            yield from _leaves(v, path + (k,))
    elif hasattr(obj, "__dict__") and not isinstance(obj, (types.FunctionType, types.MethodType, type)):
        for k, v in vars(obj).items():
            yield from _leaves(v, path + (k,))


def _get(obj, path):
    for p in path:
        obj = obj[p] if isinstance(obj, (list, tuple, dict)) else getattr(obj, p)
    return obj


def _set(obj, path, value):
    parent = _get(obj, path[:-1])
    if isinstance(parent, (list, dict)):
        parent[path[-1]] = value
    else:
        setattr(parent, path[-1], value)


def _traced(net):
    """A deep copy of ``net`` whose arrays are dlarrays (what a user passes to dlfeval)."""
    import copy
    out = copy.deepcopy(net)
    for path in list(_leaves(out)):
        _set(out, path, dlarray(_get(out, path)))
    return out


def check_object_gradient(loss, net, x):
    """sct's value and gradient with respect to every array of ``net`` (plain numpy arrays)
    against plain Python and central differences."""
    value, grad = dlfeval(_gradient_wrt_object, loss, _traced(net), x)
    assert float(value.data) == loss(net, x)
    paths = list(_leaves(net))
    assert paths
    for path in paths:
        array = _get(net, path)

        def along(a, path=path, original=array):
            _set(net, path, a)
            try:
                return loss(net, x)
            finally:
                _set(net, path, original)
        expected = numerical_gradient(along, [array.copy()], 0)
        got = np.asarray(_get(grad, path))
        assert_close(got, expected, rtol=1e-5, atol=1e-7, what=f"d/d{'.'.join(map(str, path))}")


def _lin(r, n_out, n_in):
    return Lin(r.standard_normal((n_out, n_in)), r.standard_normal(n_out))


def _dlin(r, n_out, n_in):
    return DLin(r.standard_normal((n_out, n_in)), r.standard_normal(n_out))


NETS = {
    "field_layer": (loss_l1, lambda r: Net(_lin(r, 3, 2), _lin(r, 2, 3))),
    "layers_calling_layers": (loss_net, lambda r: Net(_lin(r, 3, 2), _lin(r, 2, 3))),
    "forward_method": (loss_forward, lambda r: NetForward(_lin(r, 3, 2), _lin(r, 2, 3))),
    "dataclass_layers": (loss_net, lambda r: DNet(_dlin(r, 3, 2), _dlin(r, 2, 3))),
    "dataclass_field_layer": (loss_l1, lambda r: DNet(_dlin(r, 3, 2), _dlin(r, 2, 3))),
    "list_of_layers_loop": (loss_loop, lambda r: Seq([_lin(r, 3, 2), _lin(r, 4, 3), _lin(r, 2, 4)])),
    "tuple_of_layers_call": (loss_net, lambda r: Seq((_lin(r, 3, 2), _lin(r, 2, 3)))),
    "dataclass_list_loop": (loss_loop, lambda r: Seq([_dlin(r, 3, 2), _dlin(r, 2, 3)])),
    "indexed_layers": (loss_index, lambda r: Seq([_lin(r, 3, 2), _lin(r, 2, 3)])),
    "same_layer_twice": (loss_twice, lambda r: Net(_lin(r, 3, 2), _lin(r, 2, 3))),
    "three_levels": (loss_net, lambda r: Outer(Net(_lin(r, 3, 2), _lin(r, 2, 3)), _lin(r, 1, 2))),
    "function_field_and_dict": (loss_net, lambda r: Holder(ActLin(r.standard_normal((3, 2)), my_tanh),
                                                           {"b": ForwardLin(r.standard_normal((2, 3)))})),
    "ufunc_field": (loss_net, lambda r: Holder(ActLin(r.standard_normal((3, 2)), np.tanh),
                                               {"b": ForwardLin(r.standard_normal((2, 3)))})),
}


@pytest.mark.parametrize("name", sorted(NETS))
def test_gradient_of_nested_callable_objects(name):
    loss, make = NETS[name]
    r = np.random.default_rng(3)
    check_object_gradient(loss, make(r), r.standard_normal(2))


def test_issue_example_layer_gradient_is_not_the_weight():
    r = np.random.default_rng(0)
    net = Net(_lin(r, 3, 2), _lin(r, 2, 3))
    x = r.standard_normal(2)
    _, grad = dlfeval(_gradient_wrt_object, loss_l1, _traced(net), x)
    d = 1 - np.tanh(net.l1.w @ x + net.l1.b) ** 2
    assert_close(np.asarray(grad.l1.w), np.outer(d, x), what="l1.w")
    assert_close(np.asarray(grad.l1.b), d, what="l1.b")
    assert_close(np.asarray(grad.l2.w), np.zeros((2, 3)), what="l2.w")


def _input_gradient(net, x):
    return dlgradient(loss_net(net, x), x)


def _input_hvp(net, x, v):
    g = dlgradient(loss_net(net, x), x)
    return dlgradient(np.sum(g * v), x)


def _penalty(net, x):
    g = dlgradient(loss_net(net, x), x)
    p = np.sum(g ** 2)
    return p, dlgradient(p, net)


@pytest.mark.parametrize("name", ["layers_calling_layers", "dataclass_layers", "list_of_layers_loop",
                                  "three_levels", "function_field_and_dict"])
def test_second_derivatives_through_nested_objects(name):
    _, make = NETS[name]
    r = np.random.default_rng(4)
    net = _traced(make(r))
    x, v = r.standard_normal(2), r.standard_normal(2)
    step = 1e-5
    got = np.asarray(dlfeval(_input_hvp, net, dlarray(x), v).data)
    up = np.asarray(dlfeval(_input_gradient, net, dlarray(x + step * v)).data)
    down = np.asarray(dlfeval(_input_gradient, net, dlarray(x - step * v)).data)
    assert_close(got, (up - down) / (2 * step), rtol=1e-4, atol=1e-6, what="Hessian-vector product")
    # a gradient penalty: d/dnet |d loss/dx|^2, against differences of sct's own input gradient
    _, grad = dlfeval(_penalty, net, dlarray(x))
    for path in _leaves(make(np.random.default_rng(4))):
        array = np.asarray(_get(net, path).data).copy()

        def penalty(a, path=path, original=_get(net, path)):
            _set(net, path, dlarray(a))
            try:
                return float(np.sum(np.asarray(dlfeval(_input_gradient, net, dlarray(x)).data) ** 2))
            finally:
                _set(net, path, original)
        expected = numerical_gradient(penalty, [array], 0, step=1e-5)
        assert_close(np.asarray(_get(grad, path)), expected, rtol=1e-4, atol=1e-6,
                     what=f"penalty d/d{'.'.join(map(str, path))}")


def _train_step(net, x, t):
    y = net(x)
    loss = np.sum((y - t) ** 2)
    return loss, dlgradient(loss, net)


@pytest.mark.parametrize("make", [lambda r: Net(_lin(r, 4, 2), _lin(r, 1, 4)),
                                  lambda r: DNet(_dlin(r, 4, 2), _dlin(r, 1, 4)),
                                  lambda r: Seq([_lin(r, 4, 2), _lin(r, 4, 4), _lin(r, 1, 4)])],
                         ids=["objects", "dataclasses", "list_of_layers"])
def test_small_network_of_objects_learns(make):
    r = np.random.default_rng(5)
    net = _traced(make(r))
    x = r.standard_normal(2)
    t = np.array([0.5])
    losses = []
    for _ in range(30):
        loss, grad = dlfeval(_train_step, net, x, t)
        losses.append(float(loss.data))
        for path in list(_leaves(net)):
            _set(net, path, _get(net, path) - 0.1 * np.asarray(_get(grad, path)))
    assert losses[-1] < 0.05 * losses[0], losses


class OtherHolder:
    def __init__(self, layer):
        self.layer = layer
        self.run = layer.forward         # a bound method of another object: its arrays are traced

    def __call__(self, x):
        return self.run(x)


def _call_held_method(h, x):
    y = np.sum(h(x))
    return y, dlgradient(y, h)


def test_bound_method_of_other_object_in_a_field_is_refused():
    holder = OtherHolder(ForwardLin(dlarray(np.ones((2, 3)))))
    with pytest.raises(sct.SctError, match="method of another object"):
        dlfeval(_call_held_method, holder, dlarray(np.ones(3)))


# --- item 12: method calls on attribute chains ----------------------------------------------------

class Holds:
    def __init__(self, a):
        self.a = a

    def total(self):
        return self.a.sum()

    def total2(self, x):
        return (self.a * x).sum() + self.a.mean() + self.a.T.reshape(-1)[0]


def f_self_attr_method(a):
    return Holds(a).total()


def f_self_attr_method_arg(a, x):
    return Holds(a).total2(x)


def f_transpose_chain(w):
    return w.T.reshape(-1)[4] + np.sum(w.T.reshape(-1) ** 2)


def f_chain_dot(w):
    return np.sum(w.T.dot(w)) + w.T.sum() + np.sum(w.real.T.conj())


class _Config:
    scale = 2.0


CONFIG = _Config()


def f_module_chains(a):
    import numpy.linalg as la
    return np.linalg.norm(a) * CONFIG.scale + la.norm(a) + np.sum(np.random.default_rng(0).random(3) * a)


@pytest.mark.parametrize("fun,shapes", [(f_self_attr_method, [(3,)]), (f_self_attr_method_arg, [(2, 3), (3,)]),
                                        (f_transpose_chain, [(3, 2)]), (f_chain_dot, [(3, 2)]),
                                        (f_module_chains, [(3,)])],
                         ids=lambda v: getattr(v, "__name__", ""))
def test_method_calls_on_attribute_chains(fun, shapes):
    r = np.random.default_rng(12)
    check_grads(fun, *[r.standard_normal(s) for s in shapes])


class _Bag:
    pass


def _attribute_chain_of_argument(net, x):
    y = np.sum(net.l1.w * x) + np.sum(net.l1.w.T.sum(axis=0))
    return y, dlgradient(y, net)


def test_attribute_chain_on_argument_is_traced():
    net = _Bag()
    net.l1 = _Bag()
    net.l1.w = dlarray(np.arange(6.0).reshape(2, 3))
    x = np.array([1.0, 2.0, 3.0])
    _, grad = dlfeval(_attribute_chain_of_argument, net, x)
    assert_close(np.asarray(grad.l1.w), np.broadcast_to(x, (2, 3)) + 1.0, what="l1.w")


# --- item 14: constructor arguments stored and never read -----------------------------------------

class Keep:
    def __init__(self, w, b):
        self.w = w
        self.b = b                      # never read

    def __call__(self, x):
        return self.w @ x


def f_unread_field(w, v, x):
    b = w @ v
    m = Keep(w, b)
    return np.sum(m(x) ** 2)


def f_unread_field_loop(w, v, x):
    b = w @ v
    for i in range(2):
        m = Keep(w, b)
        b = m(x) + b
    return np.sum(m.w @ x)


def f_unread_inline_store(w, v, x):
    b = w @ v
    m = _Bag()
    m.w = w
    m.b = b
    return np.sum(m.w @ x)


def h_ignores(a, b):
    return a * 2.0


def f_ignored_argument(w, v):
    b = w @ v
    return np.sum(h_ignores(w, b))


@pytest.mark.parametrize("fun", [f_unread_field, f_unread_field_loop, f_unread_inline_store, f_ignored_argument],
                         ids=lambda f: f.__name__)
def test_unread_constructor_argument(fun):
    r = np.random.default_rng(14)
    shapes = [(2, 3), (3,), (3,)][:fun.__code__.co_argcount]
    got = check_grads(fun, *[r.standard_normal(s) for s in shapes])
    assert got[0].shape == (2, 3)
