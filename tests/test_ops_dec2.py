"""Peer corpus (Dec 2): numpy functions autograd's / JAX's / PyTorch's test suites use, written the
way users write them (a small model function, a loop, dlfeval + dlgradient).  Values against plain
numpy, gradients against central differences (tests/gradcheck.py), second derivatives (sct.hvp)
against central differences of sct's gradient; float32 stays float32.  The rules themselves are
rows of the op table (tests/test_op_rules.py), checked there to first and second order and in
forward mode.
"""
from __future__ import annotations

import math

import numpy as np
import pytest

import sct
from sct import CompileError, EvaluationError, dlarray, dlfeval, dlgradient, extractdata
from gradcheck import assert_close, numerical_gradient

pytestmark = pytest.mark.filterwarnings("ignore::RuntimeWarning")

RNG = np.random.default_rng(20261202)
X34 = RNG.uniform(-1, 1, (3, 4))
X34[np.abs(X34) < 0.15] += 0.3                  # away from the thresholds the functions compare with
MASK = np.array([[True, False, True, True], [False, True, False, True], [True, True, False, False]])
NAN_AT = np.zeros((3, 4), dtype=bool)
NAN_AT[0, 1] = NAN_AT[2, 3] = NAN_AT[1, 0] = True


# --- the model functions ---------------------------------------------------------------------------

def where_indices(x):
    total = 0.0
    for k in range(2):
        idx = np.where(x > 0.05 + 0.1 * k)           # indices only: np.nonzero
        total = total + np.sum(x[idx] ** 2) * (k + 1)
        rows, cols = np.where(x < -0.05)
        total = total + np.sum(np.sin(x[rows, cols]))
    return total


def masked_reductions(x):
    total = 0.0
    for k in range(2):
        h = np.tanh(x * (k + 1))
        total = total + np.sum(h ** 2, where=MASK)
        total = total + np.sum(np.mean(h, axis=0, where=MASK))
        total = total + np.sum(np.prod(h + 1.5, axis=1, where=MASK, initial=2.0))
        total = total + np.max(h, initial=0.0) + np.sum(np.min(h, axis=1, where=MASK, initial=5.0))
        total = total + np.sum(h, axis=1, initial=1.0, keepdims=True)[1, 0]
        total = total + h.sum(where=MASK) * 0.5
    return total


def nan_family(x):
    y = np.where(NAN_AT, np.nan, x)                 # the NaN entries take no derivative
    total = 0.0
    for k in range(2):
        z = y * (1.0 + 0.5 * k)
        total = total + np.nanmax(z) - np.nanmin(z, axis=0).sum()
        total = total + np.sum(np.nanprod(z + 2.0, axis=1))
        total = total + np.sum(np.nanvar(z, axis=1, ddof=1)) + np.nanstd(z)
        total = total + np.sum(np.nancumsum(z, axis=1) ** 2) * 0.1
        total = total + np.nanmedian(z) + np.sum(np.nanmedian(z, axis=1))
        total = total + x[np.nanargmax(z, axis=0), np.arange(4)].sum() + np.ravel(x)[np.nanargmin(z)]
        total = total + np.nansum(z ** 2, where=MASK) + np.sum(np.nanmean(z, axis=0, where=MASK))
    return total


def statistics(x):
    total = 0.0
    for k in range(2):
        h = x * (1.0 + k)
        total = total + np.sum(np.cov(h) ** 2) + np.sum(np.cov(h, rowvar=False, bias=True))
        total = total + np.sum(np.cov(h[0], h[1], ddof=2))
        total = total + np.sum(np.corrcoef(h) * np.arange(9.0).reshape(3, 3))
        total = total + np.sum(np.corrcoef(h[0], h[2]))
        total = total + np.sum(np.trapezoid(h ** 2, axis=1)) + np.trapezoid(h[0], x=np.cumsum(np.exp(h[1])))
        total = total + np.trapezoid(h[2], dx=0.5 + h[1, 0] ** 2)
    return total


def grids_and_blocks(x):
    total = 0.0
    for k in range(2):
        a, b = np.meshgrid(x[0], x[1, :3])
        total = total + np.sum(a * b ** 2) * (k + 1)
        u, v = np.meshgrid(x[2], x[0], indexing="ij", sparse=True)
        total = total + np.sum(np.sin(u + v))
        m = np.block([[x[:2, :2], x[:2, 2:]], [x[2:, :3], np.ones((1, 1))]])
        total = total + np.sum(m ** 3)
        total = total + np.sum(np.diagflat(x[1], k=1) @ np.ones(5)) + np.sum(np.diagflat(x[:2, :2]) ** 2)
    return total


def linalg_spellings(x):
    a = x[:, :3]
    sq = a + 3.0 * np.eye(3)
    total = 0.0
    for k in range(2):
        total = total + np.sum(np.linalg.matmul(a, x) ** 2) + np.linalg.trace(sq * (k + 1))
        total = total + np.sum(np.linalg.cross(a, x[:, 1:]) ** 2)
        total = total + np.sum(np.linalg.tensordot(a, sq, axes=1))
        total = total + np.sum(np.linalg.multi_dot([x[0], x.T, a, x[1, :3]]))
        total = total + np.sum(np.vecdot(x, x[0])) + np.sum(np.linalg.vecdot(a, sq, axis=0))
        total = total + np.sum(np.matvec(sq, x[1, :3]) ** 2) + np.sum(np.vecmat(x[2, :3], sq))
        total = total + np.linalg.cond(sq) + 0.1 * np.linalg.cond(sq, -2)
    return total


def elementwise_and_casts(x):
    total = 0.0
    for k in range(2):
        total = total + np.sum(np.cumulative_sum(x, axis=1, include_initial=True) ** 2)
        total = total + np.sum(np.cumulative_prod(x + 1.5, axis=0))
        total = total + np.sum(np.cumulative_sum(x[0] ** 2))
        total = total + np.sum(np.copysign(x, x[0]) ** 3) + np.sum(np.ldexp(x, np.array([1, -1, 2, 0])))
        total = total + np.float64(x[0, 0] * x[1, 1]) + np.float64(np.sum(x ** 2)) * 0.5
        z = complex(x[0, 0], x[1, 2] * (k + 1))
        total = total + abs(z * z) + (z * z).real
        total = total + pow(x[2, 2] + 2.0, 3) + pow(1.5, x[0, 3]) + math.fmod(x[1, 3] + 2.0, 0.7)
    return total


FUNCTIONS = [where_indices, masked_reductions, nan_family, statistics, grids_and_blocks, linalg_spellings,
             elementwise_and_casts]


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


def test_nan_entries_get_zero_gradient():
    g = _sct_grad(nan_family, X34.copy())
    nanned = g[NAN_AT] - numerical_gradient(nan_family, [X34.copy()], 0)[NAN_AT]
    assert np.all(nanned == 0) or np.allclose(nanned, 0)
    # through the nan reductions only (nan_family also indexes x directly): exactly zero there
    def only_nan(x):
        y = np.where(NAN_AT, np.nan, x)
        return np.nanmax(y) + np.nansum(y ** 2) + np.nanvar(y) + np.nanmedian(y) + np.sum(np.nanprod(y, axis=0))
    g = _sct_grad(only_nan, X34.copy())
    assert np.all(g[NAN_AT] == 0) and np.all(np.isfinite(g))


def float32_model(x):
    total = np.float32(0.0)
    for k in range(2):
        total = total + np.sum(x ** 2, where=MASK) + np.nanmax(x) + np.sum(np.cov(x))
        total = total + np.trapezoid(x[0]) + np.sum(np.vecdot(x, x)) + np.sum(np.cumulative_sum(x, axis=0))
        total = total + np.sum(np.copysign(x, -1.0)) + np.float32(np.sum(x)) + np.prod(x[0], initial=2.0)
    return total


def test_float32_stays_float32():
    x = X34.astype(np.float32)
    y, g = dlfeval(_value_and_grad, float32_model, dlarray(x))
    assert np.asarray(extractdata(g)).dtype == np.float32
    assert_close(extractdata(y), float32_model(x.copy()), 1e-5, 1e-5)
    # against sct's float64 gradient, itself against central differences of the same model
    # without the cast (np.float32(...) has slope 1; differences of it would see float32 rounding)
    exact = _sct_grad(float32_model, X34.copy())
    assert_close(extractdata(g), exact, 1e-4, 1e-4)
    assert_close(exact, numerical_gradient(float32_model_uncast, [X34.copy()], 0), 1e-5, 1e-6)


def float32_model_uncast(x):
    total = 0.0
    for k in range(2):
        total = total + np.sum(x ** 2, where=MASK) + np.nanmax(x) + np.sum(np.cov(x))
        total = total + np.trapezoid(x[0]) + np.sum(np.vecdot(x, x)) + np.sum(np.cumulative_sum(x, axis=0))
        total = total + np.sum(np.copysign(x, -1.0)) + np.sum(x) + np.prod(x[0], initial=2.0)
    return total


@pytest.mark.parametrize("shape_fun", ["sum", "mean", "max"])
def test_where_matches_numpy_on_a_broadcast_mask(shape_fun):
    row_mask = np.array([True, False, True, True])

    def model(x):
        op = getattr(np, shape_fun)
        if shape_fun == "max":
            return np.sum(op(x ** 2, axis=1, where=row_mask, initial=-1.0))
        return np.sum(op(x ** 2, axis=1, where=row_mask))
    y, g = dlfeval(_value_and_grad, model, dlarray(X34.copy()))
    assert_close(extractdata(y), model(X34.copy()), 1e-12, 1e-12)
    assert_close(extractdata(g), numerical_gradient(model, [X34.copy()], 0), 1e-5, 1e-6)
    assert np.all(np.asarray(extractdata(g))[:, 1] == 0)


def test_complex_vecdot_and_cov():
    z = X34 + 0.5j * np.roll(X34, 1)

    def model(w):
        return np.real(np.sum(np.vecdot(w, w[0]) ** 2)) + np.real(np.sum(np.cov(w) * np.conj(np.cov(w))))
    y, g = dlfeval(_value_and_grad, model, dlarray(z))
    assert_close(extractdata(y), model(z), 1e-12, 1e-12)
    expected = numerical_gradient(model, [z], 0)
    assert_close(extractdata(g), expected, 1e-5, 1e-6)


# --- refusals: a CompileError / EvaluationError naming the line and what to write instead ----------

def flat_read(x):
    y = x.flat[2] ** 2
    return y, dlgradient(y, x)


def flat_through_dict(x):
    p = {"w": x}
    y = p["w"].flat[1] ** 2
    return y, dlgradient(y, x)


def cond_other_norm(x):
    y = np.linalg.cond(x[:, :3] + 3 * np.eye(3), 1)
    return y, dlgradient(y, x)


def test_flat_reads_are_differentiated():
    """``x.flat[i]`` reads ``x.flatten()[i]`` since dec23 (was refused; tests/test_flat_dec23.py)."""
    for fun, i in ((flat_read, 2), (flat_through_dict, 1)):
        y, g = dlfeval(fun, dlarray(X34.copy()))
        expected = np.zeros_like(X34)
        expected.flat[i] = 2 * X34.flat[i]
        assert_close(extractdata(g), expected, 1e-12, 1e-12)


@pytest.mark.parametrize("fun, error, words, line", [
    (cond_other_norm, EvaluationError, "2-norm", 1),
], ids=["cond-p1"])       # np.cov's aweights=: differentiated now (tests/test_ops_dec3.py)
def test_refusals_name_the_line_and_the_alternative(fun, error, words, line):
    with pytest.raises(error) as info:
        dlfeval(fun, dlarray(X34.copy()))
    assert info.value.lineno == fun.__code__.co_firstlineno + line
    assert info.value.filename.endswith("test_ops_dec2.py")
    assert words in str(info.value)
