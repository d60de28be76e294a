"""Plain (not dlarray) leaves of dlfeval's arguments: constants whatever path reads them (red49 #5, #6).

An object of plain arrays only is a constant, as a plain array is (README, ``dlgradient``): a frozen
layer in a list of layers got its full derivative where the layers were walked by a loop
(``for l in ls: x = l(x)``, ``d.values()``, ``self.layers``) and zeros where called as
``ls[1](ls[0](x))``, so adamupdate trained the layer the user froze.  An int or bool field of an
object had its own value as its "gradient" (``g.m == [2, 0]``) where a dict's or a dataclass's such
leaf has zeros.
"""
import dataclasses

import numpy as np
import pytest

import sct
from sct import adamupdate, dlarray, dlfeval, dlgradient, extractdata, sgdmupdate


class Lin:
    def __init__(self, W, b=None):
        self.W = W
        self.b = b

    def __call__(self, x):
        y = x @ self.W
        if self.b is not None:
            y = y + self.b
        return np.tanh(y)


class Net:
    def __init__(self, layers):
        self.layers = layers

    def __call__(self, x):
        for layer in self.layers:
            x = layer(x)
        return x


class DictNet:
    def __init__(self, layers):
        self.blocks = {"a": layers[0], "b": layers[1]}

    def __call__(self, x):
        for block in self.blocks.values():
            x = block(x)
        return x


class Model:
    def __init__(self, layers):
        self.enc, self.head = layers

    def __call__(self, x):
        return self.head(self.enc(x))


W0 = np.array([[0.8, -0.3], [0.4, 1.1]])
W1 = np.array([[0.5, 0.2], [-0.7, 0.9]])
X = np.array([[0.3, -1.2], [0.9, 0.4]])


def layers():
    return [Lin(dlarray(W0.copy())), Lin(W1.copy())]     # the second layer frozen: plain arrays only


def plain_loss(w0):
    return np.sum(np.tanh(np.tanh(X @ w0) @ W1))


def fd_gradient(fun, w, h=1e-6):
    g = np.zeros_like(w)
    for i in np.ndindex(w.shape):
        e = np.zeros_like(w)
        e[i] = h
        g[i] = (fun(w + e) - fun(w - e)) / (2 * h)
    return g


def by_field(ls, x):
    return dlgradient(np.sum(np.tanh(np.tanh(x @ ls[0].W) @ ls[1].W)), ls)


def by_call(ls, x):
    return dlgradient(np.sum(ls[1](ls[0](x))), ls)


def by_loop(ls, x):
    for layer in ls:
        x = layer(x)
    return dlgradient(np.sum(x), ls)


def by_enumerate(ls, x):
    for _, layer in enumerate(ls):
        x = layer(x)
    return dlgradient(np.sum(x), ls)


def walk(ls, x):
    for layer in ls:
        x = layer(x)
    return x


def by_walking_helper(ls, x):
    return dlgradient(np.sum(walk(ls, x)), ls)


def by_display(ls, x):
    for layer in ls:
        x = layer(x)
    return dlgradient(np.sum(x), [ls[0], ls[1]])


def by_values(d, x):
    for layer in d.values():
        x = layer(x)
    return dlgradient(np.sum(x), d)


def by_model(m, x):
    return dlgradient(np.sum(m(x)), m)


def by_model_fields(m, x):
    return dlgradient(np.sum(m.head(m.enc(x))), m)


def trained_and_frozen(name, g):
    if name in ("dict",):
        return g["a"].W, g["b"].W
    if name == "Net":
        return g.layers[0].W, g.layers[1].W
    if name == "DictNet":
        return g.blocks["a"].W, g.blocks["b"].W
    if name == "Model":
        return g.enc.W, g.head.W
    return g[0].W, g[1].W


CASES = [
    ("list", by_field), ("list", by_call), ("list", by_loop), ("list", by_enumerate),
    ("list", by_walking_helper), ("list", by_display), ("tuple", by_loop), ("dict", by_values),
    ("Net", by_model), ("DictNet", by_model), ("Model", by_model), ("Model", by_model_fields),
]


def argument(name):
    ls = layers()
    return {"list": ls, "tuple": tuple(ls), "dict": {"a": ls[0], "b": ls[1]}, "Net": Net(ls),
            "DictNet": DictNet(ls), "Model": Model(ls)}[name]


@pytest.mark.parametrize("name,fn", CASES, ids=[f"{n}-{f.__name__}" for n, f in CASES])
def test_frozen_layer_zero_and_trained_layer_exact(name, fn):
    g = dlfeval(fn, argument(name), X)
    trained, frozen = trained_and_frozen(name, g)
    # was: by_loop, by_enumerate, by_walking_helper, by_display, dict values, Net, DictNet, Model:
    # the frozen layer's W had its derivative (0.13...), while by_field and by_call gave zeros
    np.testing.assert_array_equal(np.asarray(extractdata(frozen)), np.zeros((2, 2)))
    np.testing.assert_allclose(np.asarray(extractdata(trained)), fd_gradient(plain_loss, W0), rtol=1e-6, atol=1e-8)


def test_frozen_leaf_selected_after_a_loop():
    def f(ls, x):
        for layer in ls:
            x = layer(x)
        return dlgradient(np.sum(x), ls[0].W, ls[1].W, ls[1])
    g0, g1, gl = dlfeval(f, layers(), X)
    np.testing.assert_allclose(np.asarray(extractdata(g0)), fd_gradient(plain_loss, W0), rtol=1e-6, atol=1e-8)
    np.testing.assert_array_equal(np.asarray(extractdata(g1)), np.zeros((2, 2)))     # was 0.13...
    np.testing.assert_array_equal(np.asarray(extractdata(gl.W)), np.zeros((2, 2)))


def test_accelerated_loop_twice():
    acc = sct.dlaccelerate(by_loop)
    for _ in range(2):
        g = dlfeval(acc, layers(), X)
        np.testing.assert_array_equal(np.asarray(extractdata(g[1].W)), np.zeros((2, 2)))
        np.testing.assert_allclose(np.asarray(extractdata(g[0].W)), fd_gradient(plain_loss, W0), rtol=1e-6,
                                   atol=1e-8)


def test_helper_taking_the_gradient_refused():
    # a helper compiled on its own cannot tell the frozen layer's arrays from traced ones: refused, as
    # for a dict's plain leaf (was: its derivative came back)
    def inner(ls, x):
        for layer in ls:
            x = layer(x)
        return dlgradient(np.sum(x), ls)

    def f(ls, x):
        return inner(ls, x)
    with pytest.raises(sct.CompileError, match=r"plain \(not dlarray\) float value at ls\[1\]\.W") as info:
        dlfeval(f, layers(), X)
    assert info.value.lineno == inner.__code__.co_firstlineno + 3


def loop_loss(ls, x):
    for layer in ls:
        x = layer(x)
    L = np.sum(x)
    return L, dlgradient(L, ls)


def test_optimizers_leave_the_frozen_layer():
    ls = layers()
    _, g = dlfeval(loop_loss, ls, X)
    new, _ = sgdmupdate(ls, g, None, 0.5, 0.0)
    np.testing.assert_array_equal(np.asarray(extractdata(new[1].W)), W1)      # was moved (0.934...)
    new, _, _ = adamupdate(ls, g, None, None, 1, 0.5)
    np.testing.assert_array_equal(np.asarray(extractdata(new[1].W)), W1)      # was moved by 0.5
    assert not np.allclose(np.asarray(extractdata(new[0].W)), W0)


def test_mixed_object_keeps_its_plain_array_a_variable():
    # an object holding a dlarray: its plain arrays are its variables (README), by call and by loop
    b0 = np.array([0.1, -0.2])

    def loss_b(b):
        return np.sum(np.tanh(np.tanh(X @ W0 + b) @ W1))
    for fn in (by_call, by_loop):
        g = dlfeval(fn, [Lin(dlarray(W0.copy()), b0.copy()), Lin(W1.copy())], X)
        np.testing.assert_allclose(np.asarray(extractdata(g[0].b)), fd_gradient(loss_b, b0), rtol=1e-6, atol=1e-8)
        np.testing.assert_array_equal(np.asarray(extractdata(g[1].W)), np.zeros((2, 2)))


class Mask:
    def __init__(self, m):
        self.m = m
        self.n = 3
        self.flag = True
        self.name = "mask"

    def __call__(self, x):
        return x * self.m


def mask_call(ls, x):
    return dlgradient(np.sum(ls[1](ls[0](x))), ls)


@pytest.mark.parametrize("m", [np.array([2, 0]), np.array([True, False]), np.array([2.0, 0.5])],
                         ids=["int", "bool", "float"])
@pytest.mark.parametrize("fn", [mask_call, by_loop])
def test_int_bool_and_plain_fields_zero(fn, m):
    g = dlfeval(fn, [Lin(dlarray(W0.copy())), Mask(m)], X)
    gm = g[1].m
    # was: [2 0] (int), [True False] (bool), and [0.76 0.76] for the float mask walked by the loop
    assert np.asarray(extractdata(gm) if isinstance(gm, dlarray) else gm).dtype.kind == "f"
    np.testing.assert_array_equal(np.asarray(extractdata(gm) if isinstance(gm, dlarray) else gm), np.zeros(2))
    for v in (g[1].n, g[1].flag):          # Python int and bool fields: zeros, as a dataclass's
        assert float(np.asarray(extractdata(v) if isinstance(v, dlarray) else v)) == 0.0
    assert g[1].name == "mask"


@dataclasses.dataclass
class Masked:
    W: object
    n: int = 3
    flag: bool = True
    idx: object = None

    def __call__(self, x):
        return np.tanh(x @ self.W)


def test_int_fields_zero_as_dict_and_dataclass():
    def f(p, x):
        return dlgradient(np.sum(x @ p["W"]) + np.sum(p["obj"](x)), p)
    p = {"W": dlarray(W0.copy()), "idx": np.array([1, 0]), "n": 2,
         "obj": Masked(dlarray(W1.copy()), idx=np.array([0, 1]))}
    g = dlfeval(f, p, X)
    for v in (g["idx"], g["n"], g["obj"].n, g["obj"].flag, g["obj"].idx):
        np.testing.assert_array_equal(np.asarray(extractdata(v) if isinstance(v, dlarray) else v), 0.0)


def test_user_update_loop_leaves_the_mask():
    ls = [Lin(dlarray(W0.copy())), Mask(np.array([2, 0]))]
    _, g = dlfeval(loop_loss, ls, X)
    new = ls[1].m - 0.1 * np.asarray(extractdata(g[1].m))     # was [1.8, 0]
    np.testing.assert_array_equal(new, [2, 0])
    out, _ = sgdmupdate(ls, g, None, 0.1, 0.0)
    np.testing.assert_array_equal(out[1].m, [2, 0])
    assert out[1].m.dtype.kind == "i"


def test_underscore_loop_index_not_clobbered_by_the_reversed_loop():
    # was: the reversed loop's own ``for _ in range(n)`` overwrote the user's ``_`` (the index taped for
    # the adjoint): each layer's gradient went to the other layer, also with both layers dlarrays
    def f(ls, x):
        for _, layer in enumerate(ls):
            x = layer(x)
        return dlgradient(np.sum(x), ls)

    def loss_w1(w1):
        return np.sum(np.tanh(np.tanh(X @ W0) @ w1))
    g = dlfeval(f, [Lin(dlarray(W0.copy())), Lin(dlarray(W1.copy()))], X)
    np.testing.assert_allclose(np.asarray(extractdata(g[0].W)), fd_gradient(plain_loss, W0), rtol=1e-6, atol=1e-8)
    np.testing.assert_allclose(np.asarray(extractdata(g[1].W)), fd_gradient(loss_w1, W1), rtol=1e-6, atol=1e-8)

    def h(w, x):
        total = 0.0
        for _ in range(3):
            for _, v in enumerate([w[0], w[1]]):
                total = total + v * x[_]
        return dlgradient(total, w)
    g = dlfeval(h, dlarray(np.array([1.0, 2.0])), np.array([3.0, 5.0]))
    np.testing.assert_allclose(np.asarray(extractdata(g)), [9.0, 15.0])


def test_second_order_through_the_loop():
    # the gradient's norm differentiated again: the frozen layer zero at both orders, by loop and by call
    def analytic_g0(w0):
        a = np.tanh(X @ w0)
        y = np.tanh(a @ W1)
        return X.T @ ((1 - y ** 2) @ W1.T * (1 - a ** 2))

    def by_loop2(ls, x):
        h = x
        for layer in ls:
            h = layer(h)
        g = dlgradient(np.sum(h), ls, EnableHigherDerivatives=True)
        return dlgradient(np.sum(g[0].W ** 2) + np.sum(g[1].W ** 2), ls)

    def by_call2(ls, x):
        g = dlgradient(np.sum(ls[1](ls[0](x))), ls, EnableHigherDerivatives=True)
        return dlgradient(np.sum(g[0].W ** 2) + np.sum(g[1].W ** 2), ls)
    np.testing.assert_allclose(analytic_g0(W0), fd_gradient(plain_loss, W0), rtol=1e-6, atol=1e-8)
    want = fd_gradient(lambda w: np.sum(analytic_g0(w) ** 2), W0)
    for fn in (by_loop2, by_call2):
        g = dlfeval(fn, layers(), X)
        np.testing.assert_array_equal(np.asarray(extractdata(g[1].W)), np.zeros((2, 2)))
        np.testing.assert_allclose(np.asarray(extractdata(g[0].W)), want, rtol=1e-5, atol=1e-7)
