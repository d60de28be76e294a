"""Red team dec9a: custom training loops as MATLAB-dlarray / PyTorch users write them (parameters in
dicts, lists of dicts, dataclasses, objects; layers calling layers; optimisers; formats; in-place
updates), checked by value against plain Python and by gradient against finite differences.

Found: a custom layer with its own ``backward`` (``sct.Layer``) holding a traced value in an attribute
that is not one of its ``learnables`` (``layer = Scaled(p["W"], p["s"] * 2.0)``, ``self.s`` used in
``predict``): the backward gives derivatives for the input and the learnables only, and the
attribute's derivative was taken as zero: d/dp["s"] was 0 where finite differences give 336.7.
Now that derivative is refused (an EvaluationError at the line that builds the layer); a constant
attribute still gives zeros, and an attribute that only reaches nothing traced is fine.
"""
import numpy as np
import pytest

import sct
from gradcheck import assert_close, numerical_gradient
from sct import Layer, dlarray, dlfeval, dlgradient, extractdata


RNG = np.random.default_rng(8)
X = RNG.standard_normal((5, 3))
W0 = RNG.standard_normal((2, 3))


class Scaled(Layer):
    learnables = ("W",)

    def __init__(self, W, s):
        self.W = W
        self.s = s

    def predict(self, X):
        return self.s * np.tanh(X @ self.W.T)


class ScaledB(Scaled):
    def backward(self, X, Z, dLdZ, memory):
        d = self.s * dLdZ * (1 - np.tanh(X @ self.W.T) ** 2)
        return d @ self.W, d.T @ X


def built_from_traced(W, s, x):
    layer = ScaledB(W, s * 2.0)                     # self.s: traced, not a learnable
    loss = np.sum(layer(x) ** 2)
    return loss, dlgradient(loss, W, s)


def stored_directly(p, x):
    layer = ScaledB(p["W"], p["s"])
    loss = np.sum(layer.predict(x) ** 2)
    return loss, dlgradient(loss, p)


def attribute_argument(layer, x):
    loss = np.sum(layer(x) ** 2)
    return loss, dlgradient(loss, layer)


@pytest.mark.parametrize("case", ["built_from_traced", "stored_directly", "attribute_argument"])
def test_custom_backward_refuses_a_traced_non_learnable_attribute(case):
    with pytest.raises(sct.EvaluationError, match="custom backward gives derivatives"):
        if case == "built_from_traced":         # d/ds was 0 (finite differences: 336.7)
            dlfeval(built_from_traced, dlarray(W0), dlarray(1.7), X)
        elif case == "stored_directly":
            dlfeval(stored_directly, {"W": dlarray(W0), "s": dlarray(3.4)}, X)
        else:
            dlfeval(attribute_argument, ScaledB(dlarray(W0), dlarray(1.7)), X)


def derived_reference(W, s, x):
    return np.sum((s * np.tanh(x @ W.T)) ** 2)


def constant_attribute(W, x):
    layer = ScaledB(W, 3.0)
    l1 = np.sum(layer(x) ** 2)
    l2 = np.sum(layer.predict(x * 2) ** 3)          # the layer used twice: its adjoints add up
    return l1 + l2, dlgradient(l1 + l2, W)


def test_custom_backward_with_a_constant_attribute_is_exact():
    _, g = dlfeval(constant_attribute, dlarray(W0), X)
    f = lambda W: derived_reference(W, 3.0, X) + np.sum((3.0 * np.tanh(2 * X @ W.T)) ** 3)
    assert_close(extractdata(g), numerical_gradient(f, [W0.copy()], 0), rtol=1e-5, what="d/dW")
    # a layer argument with a constant (plain array) attribute: its gradient is zeros, W's exact
    _, gl = dlfeval(attribute_argument, ScaledB(dlarray(W0), np.array(1.7)), X)
    assert_close(extractdata(gl.W), numerical_gradient(lambda W: derived_reference(W, 1.7, X), [W0.copy()], 0),
                 rtol=1e-5, what="layer.W")
    assert np.all(np.asarray(extractdata(gl.s)) == 0)


def second_order_constant(layer, x):
    loss = np.sum(layer(x) ** 2)
    g = dlgradient(loss, layer)
    z = np.sum(g.W ** 2)
    return z, dlgradient(z, layer)


def test_custom_backward_second_order_with_a_constant_attribute():
    z, g = dlfeval(second_order_constant, ScaledB(dlarray(W0), 1.7), X)
    zd, gd = dlfeval(second_order_constant, Scaled(dlarray(W0), 1.7), X)
    assert_close(extractdata(z), extractdata(zd), 1e-12, 1e-12, "value")
    assert_close(extractdata(g.W), extractdata(gd.W), 1e-9, 1e-9, "d2/dW")
