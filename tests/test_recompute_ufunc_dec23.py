"""A gradient differentiated again recomputes the code before it; a call through a name sct cannot
follow (a closure a helper returned) given a numpy ufunc (np.sin) was refused as one that may change
an object from outside (the same np.sin in both runs), an internal refusal naming generated code.
Ufuncs are values nothing changes, as functions are (runtime/effects.py _IMMUTABLE)."""
import numpy as np

from sct import dlarray, dlfeval, dlgradient, extractdata


def composed(x, W):
    h = x * 1.0
    comp = lambda f, g: lambda u: f(g(u))      # noqa: E731
    h = comp(np.sin, lambda u: u * 2.0)(h)
    y = np.sum(np.sin(h)) + np.sum(h ** 2) * 0.5 + 0.3 * np.sum(np.sin(W))
    gr = dlgradient(y, W, EnableHigherDerivatives=True)
    z = np.sum(gr ** 2) + 0.5 * y
    return z, dlgradient(z, W)


def test_second_order_through_a_composed_closure_given_a_ufunc():
    x, W = np.array([0.5, -1.0]), np.array([0.2, 0.3])
    z, g = dlfeval(composed, dlarray(x), dlarray(W))
    h = np.sin(2 * x)
    y = np.sum(np.sin(h)) + np.sum(h ** 2) * 0.5 + 0.3 * np.sum(np.sin(W))
    np.testing.assert_allclose(float(extractdata(z)), np.sum((0.3 * np.cos(W)) ** 2) + 0.5 * y, rtol=1e-13)
    np.testing.assert_allclose(extractdata(g), -0.18 * np.cos(W) * np.sin(W) + 0.15 * np.cos(W), rtol=1e-12)
