"""Custom layers with a custom backward (seed 001, PReLU): used instead of the derived one."""
import numpy as np
import pytest

import sct
from sct import Layer, dlarray, dlfeval, dlgradient, extractdata
from gradcheck import assert_close


class PReLUDerived(Layer):
    learnables = ("Alpha",)

    def __init__(self, alpha):
        self.Alpha = alpha

    def predict(self, X):
        return np.maximum(X, 0) + self.Alpha * np.minimum(0, X)


class PReLU(PReLUDerived):
    def backward(self, X, Z, dLdZ, memory):
        dLdX = self.Alpha * dLdZ
        dLdX[X > 0] = dLdZ[X > 0]
        dLdAlpha = np.minimum(0, X) * dLdZ
        dLdAlpha = np.sum(dLdAlpha, axis=0)          # sum over the observations (batch first)
        return dLdX, dLdAlpha


class PReLUTwice(PReLUDerived):
    """A backward that is deliberately twice the true one: shows which backward runs."""

    def backward(self, X, Z, dLdZ, memory):
        dLdX = 2 * (self.Alpha * dLdZ)
        dLdX[X > 0] = 2 * dLdZ[X > 0]
        return dLdX, 2 * np.sum(np.minimum(0, X) * dLdZ, axis=0)


def loss_through_layer(layer, X):
    Z = layer.predict(X)
    loss = np.sum(Z ** 2)
    return loss, dlgradient(loss, X, layer)


def loss_through_call(layer, X):
    loss = np.sum(layer(X) ** 2)
    return dlgradient(loss, X)


rng = np.random.default_rng(1)
X = rng.standard_normal((4, 3))
ALPHA = rng.uniform(0.1, 0.5, 3)


def test_custom_backward_matches_the_derived_gradient():
    _, (gx_custom, gl_custom) = dlfeval(loss_through_layer, PReLU(dlarray(ALPHA)), dlarray(X))
    _, (gx_derived, gl_derived) = dlfeval(loss_through_layer, PReLUDerived(dlarray(ALPHA)), dlarray(X))
    assert_close(extractdata(gx_custom), extractdata(gx_derived))
    assert isinstance(gl_custom, PReLU)
    assert_close(extractdata(gl_custom.Alpha), extractdata(gl_derived.Alpha))


def test_custom_backward_is_the_one_used():
    _, (gx, gl) = dlfeval(loss_through_layer, PReLUTwice(dlarray(ALPHA)), dlarray(X))
    _, (gx_true, gl_true) = dlfeval(loss_through_layer, PReLUDerived(dlarray(ALPHA)), dlarray(X))
    assert_close(extractdata(gx), 2 * extractdata(gx_true))
    assert_close(extractdata(gl.Alpha), 2 * extractdata(gl_true.Alpha))
    # calling the layer (forward = predict) uses it too
    assert_close(extractdata(dlfeval(loss_through_call, PReLUTwice(dlarray(ALPHA)), dlarray(X))),
                 2 * extractdata(gx_true))


def hvp_through_custom_backward(layer, X, V):
    Z = layer.predict(X)
    loss = np.sum(Z ** 3)
    g = dlgradient(loss, X)
    return dlgradient(np.sum(g * V), X)


def test_second_derivative_through_a_custom_backward():
    # MATLAB cannot differentiate a custom backward again; sct transforms it like any code
    V = rng.standard_normal(X.shape)
    custom = extractdata(dlfeval(hvp_through_custom_backward, PReLU(dlarray(ALPHA)), dlarray(X), V))
    derived = extractdata(dlfeval(hvp_through_custom_backward, PReLUDerived(dlarray(ALPHA)), dlarray(X), V))
    assert_close(custom, derived)
