"""Ops of the Dec 3 release note, written the way users write them: np.nancumprod; where= / mean= /
correction= of np.var / np.std (and x.var / x.std); np.cov with fweights= / aweights=; a traced
initial= of np.max / np.min / np.sum / np.prod (its value and its derivative).  Values against plain
numpy, gradients against central differences (tests/gradcheck.py), second derivatives (sct.hvp)
against central differences of sct's gradient; float32 stays float32.  The rules are rows of the op
table (tests/test_op_rules.py), checked there to first and second order and in forward mode.
"""
from __future__ import annotations

import numpy as np
import pytest

import sct
from sct import CompileError, EvaluationError, dlarray, dlfeval, dlgradient, extractdata
from gradcheck import assert_close, numerical_gradient

pytestmark = pytest.mark.filterwarnings("ignore::RuntimeWarning")

RNG = np.random.default_rng(20261203)
X34 = RNG.uniform(-1, 1, (3, 4))
X34[np.abs(X34) < 0.15] += 0.3
MASK = np.array([[True, False, True, True], [False, True, True, True], [True, True, False, True]])
NAN_AT = np.zeros((3, 4), dtype=bool)
NAN_AT[0, 1] = NAN_AT[2, 3] = True
FW = np.array([1, 2, 1, 3])
AW = np.array([0.5, 1.0, 2.0, 0.25])


# --- the model functions ---------------------------------------------------------------------------

def nan_cumulative_products(x):
    y = np.where(NAN_AT, np.nan, x)
    total = 0.0
    for k in range(2):
        z = y * (1.0 + 0.5 * k)
        total = total + np.sum(np.nancumprod(z + 1.5, axis=1) ** 2) * 0.1
        total = total + np.sum(np.nancumprod(z, axis=0)) + np.sum(np.nancumprod(z[1]))
    return total


def variance_options(x):
    total = 0.0
    for k in range(2):
        h = np.tanh(x * (k + 1))
        total = total + h.var(where=MASK) + np.sum(np.std(h, axis=1, where=MASK, ddof=1))
        total = total + np.sum(np.var(h, axis=0, correction=1)) + np.std(h, correction=1.5)
        m = np.mean(h, axis=1, keepdims=True)
        total = total + np.sum(h.var(axis=1, mean=m)) + np.sum(np.std(h, axis=1, mean=m * 0.5, keepdims=True))
        total = total + np.sum(np.var(h, axis=1, mean=m, where=MASK, ddof=1))
    return total


def weighted_covariance(x):
    total = 0.0
    for k in range(2):
        h = x * (1.0 + k)
        total = total + np.sum(np.cov(h, fweights=FW) ** 2) + np.sum(np.cov(h, aweights=AW))
        total = total + np.sum(np.cov(h, fweights=FW, aweights=AW, ddof=2) * np.arange(9.0).reshape(3, 3))
        total = total + np.sum(np.cov(h.T, rowvar=False, aweights=AW, bias=True))
        total = total + np.sum(np.cov(h[0], h[1], fweights=FW))
    return total


def traced_initial(x):
    total = 0.0
    for k in range(2):
        h = x * (k + 1)
        # the start value wins in some rows (row 0's entries are all below it), not in others
        total = total + np.sum(np.max(h, axis=1, initial=h[0, 0] + 2.5 * (k == 0)))
        total = total + np.min(h, initial=np.sin(h[1, 1]) - 3.0) + np.sum(np.min(h, axis=0, initial=h[2, 2]))
        total = total + np.sum(np.sum(h ** 2, axis=1, initial=h[0, 3] * 2))
        total = total + np.sum(np.prod(h + 1.5, axis=0, initial=h[1, 0] + 2.0))
        total = total + h.sum(initial=h[2, 1] ** 2) + h[0].prod(initial=h[1, 3])
        total = total + np.max(h, initial=h[0, 2] + 5.0)            # the start value wins
    return total


FUNCTIONS = [nan_cumulative_products, variance_options, weighted_covariance, traced_initial]


def _value_and_grad(fun, x):
    y = fun(x)
    return y, dlgradient(y, x)


def _sct_grad(fun, x):
    return np.asarray(extractdata(dlfeval(_value_and_grad, fun, dlarray(x))[1]))


@pytest.mark.parametrize("fun", FUNCTIONS, ids=lambda f: f.__name__)
def test_value_gradient_and_second_derivative(fun):
    x = X34.copy()
    y, g = dlfeval(_value_and_grad, fun, dlarray(x))
    assert_close(extractdata(y), fun(X34.copy()), 1e-12, 1e-12, what="value")
    expected = numerical_gradient(fun, [X34.copy()], 0)
    assert_close(extractdata(g), expected, 1e-5, 1e-6, what="gradient")
    v = np.random.default_rng(7).standard_normal(x.shape)
    hv = np.asarray(extractdata(sct.hvp(fun, x, v)))
    step = 1e-5
    fd = (_sct_grad(fun, x + step * v) - _sct_grad(fun, x - step * v)) / (2 * step)
    assert_close(hv, fd, 1e-4, 1e-5, what="Hessian-vector product")
