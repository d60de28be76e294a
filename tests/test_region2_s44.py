"""Findings of red-team stop 44 (second pass) on 224ddff/f22ea27 (``Sweeps.region``: a self-contained
sweep recomputes from the last statement binding or writing into its roots): each test fails before
its fix."""
import numpy as np
import pytest

import sct
from sct import dlarray, dlfeval, dlgradient
from gradcheck import D, numerical_gradient

_rng = np.random.default_rng(0)
W0, B0, X0, Y0 = _rng.normal(size=(3, 2)), _rng.normal(size=2), _rng.normal(size=(5, 3)), _rng.normal(size=(5, 2))
V0 = _rng.normal(size=(3, 2))


def _loss(p, x, y):
    return np.mean((np.tanh(x @ p["W"] + p["b"]) - y) ** 2)


def maml_inplace(W):
    p = {"W": W * 1.0, "b": W[0] * 0.0 + B0}
    for _ in range(2):
        g = dlgradient(_loss(p, X0, Y0), p, EnableHigherDerivatives=True)
        p["W"] = p["W"] - 0.1 * g["W"]
        p["b"] = p["b"] - 0.1 * g["b"]
    return _loss(p, X0, Y0)


def grad_inplace(W):
    return dlgradient(maml_inplace(W), W, EnableHigherDerivatives=True)


def grad_comprehension(W):
    p = {"W": W * 1.0, "b": W[0] * 0.0 + B0}
    for _ in range(2):
        g = dlgradient(_loss(p, X0, Y0), p, EnableHigherDerivatives=True)
        p = {k: p[k] - 0.1 * g[k] for k in p}
    return dlgradient(_loss(p, X0, Y0), W, EnableHigherDerivatives=True)


def _plain(W):
    b = W[0] * 0.0 + B0
    for _ in range(2):
        h = np.tanh(X0 @ W + b)
        dz = 2 * (h - Y0) / Y0.size * (1 - h ** 2)
        W, b = W - 0.1 * (X0.T @ dz), b - 0.1 * dz.sum(0)
    return np.mean((np.tanh(X0 @ W + b) - Y0) ** 2)


def _hv(e=1e-4):
    return (numerical_gradient(_plain, [W0 + e * V0], 0) - numerical_gradient(_plain, [W0 - e * V0], 0)) / (2 * e)


@pytest.mark.heavy                                          # (~45 s: CI skips it, conftest.py)
@pytest.mark.parametrize("fn", [grad_comprehension])      # (the in-place update: test_hvp_... below; CI time)
def test_jvp_of_written_out_maml_over_a_dict(fn):
    # was: forward over reverse (sct.jvp's default mode) gave a wrong product: each step's sweep took
    # the step's dict p as a parameter (Sweeps.region) and its adjoint, a closure, read p from there;
    # forward mode gives a closure a zero tangent, so the product missed what goes through p
    sct.clear_cache()
    np.testing.assert_allclose(D(dlfeval(fn, dlarray(W0))), numerical_gradient(_plain, [W0], 0),
                               rtol=1e-6, atol=1e-9)
    value, tangent = sct.jvp(fn, (dlarray(W0),), (V0,))
    np.testing.assert_allclose(D(tangent), _hv(), rtol=1e-4, atol=1e-5)


@pytest.mark.heavy                                          # (~20 s: CI skips it, conftest.py)
def test_hvp_of_written_out_maml_over_a_dict():
    sct.clear_cache()
    np.testing.assert_allclose(D(sct.hvp(maml_inplace, W0, V0)), _hv(), rtol=1e-4, atol=1e-5)
