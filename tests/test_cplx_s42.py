"""Red team s42 (rt-cplx): dtypes, complex numbers and linear algebra as scientific users write them.

Each test is one finding: it failed before its fix and passes after.  Values are checked against
plain Python running the same function on numpy arrays, gradients against central differences
(tests/gradcheck.py).
"""
import os
import sys
import warnings

import numpy as np
import pytest

sys.path.insert(0, os.path.dirname(__file__))
from gradcheck import assert_close, numerical_gradient  # noqa: E402

import sct  # noqa: E402
from sct import dlarray, dlfeval, dlgradient  # noqa: E402


def D(v):
    return np.asarray(v.data) if isinstance(v, dlarray) else np.asarray(v)


# --- 1. a rule's `rcond is not None` given the call's literal: a SyntaxWarning at the user's line ---

def pinv_loss(M):
    y = np.sum(np.linalg.pinv(M, rcond=1e-10) * np.arange(12).reshape(3, 4))
    return y, dlgradient(y, M)


def test_pinv_literal_rcond_gives_no_syntax_warning():
    # np.linalg.pinv's rule reads `rcond if rcond is not None else rtol`; with the call's literal put
    # in, the generated code read `(1e-10 if (1e-10 is not None) else None)` and Python's compiler
    # showed `SyntaxWarning: "is not" with a literal` at the user's line, about code they never wrote
    M = np.random.default_rng(0).standard_normal((4, 3))
    with warnings.catch_warnings():
        warnings.simplefilter("error", SyntaxWarning)
        y, g = dlfeval(pinv_loss, dlarray(M.copy()))
    f = lambda a: np.sum(np.linalg.pinv(a, rcond=1e-10) * np.arange(12).reshape(3, 4))
    assert_close(D(y), f(M), rtol=1e-12, atol=1e-12)
    assert_close(D(g), numerical_gradient(f, [M.copy()], 0), rtol=1e-5, atol=1e-6)


# --- 2. dllaplacian of float16 points: refused as coupled points (float64's tolerance) --------------

def laplacian_of(X):
    u = np.tanh(X[:, 0] * X[:, 1] + X[:, 2]) * np.sum(X ** 2, axis=1)
    return sct.dllaplacian(u, X, 0)


def coupled_laplacian(X):
    u = np.sum(X ** 3, axis=1) - np.mean(X ** 2)
    return sct.dllaplacian(u, X, 0)


def test_dllaplacian_of_float16_points_is_not_refused():
    # the independence checks of dllaplacian compared float64 weights times the float16 Laplacian
    # with float64's tolerance (np.result_type(whole, predicted), float64 whatever the data): every
    # dllaplacian of float16 points was refused as "points not independent"; dljacobian and
    # dldivergence already used the data's precision.  Float32 and float64 unchanged, and a coupled u
    # is still refused in every precision.
    for seed in range(20):
        X = np.random.default_rng(seed).standard_normal((32, 3)) * 2
        lap = D(dlfeval(laplacian_of, dlarray(X.astype(np.float16))))
        assert lap.dtype == np.float16
        exact = D(dlfeval(laplacian_of, dlarray(X.astype(np.float16).astype(np.float64))))
        np.testing.assert_allclose(lap.astype(np.float64), exact, rtol=0.05, atol=0.05 * np.max(np.abs(exact)))
    for dtype in (np.float64, np.float32, np.float16):
        with pytest.raises(sct.SctError, match="not independent"):
            dlfeval(coupled_laplacian, dlarray(np.random.default_rng(0).standard_normal((8, 2)).astype(dtype)))


# --- 3. dllaplacian with respect to a complex x: refused naming dldivergence and a complex u ------------

def complex_laplacian(Z):
    u = np.abs(Z) ** 2
    return sct.dllaplacian(u, Z, 0)


def parts_laplacian(a, b):
    z = a + 1j * b
    u = np.abs(z) ** 2 + np.real(z ** 3)
    return sct.dllaplacian(u, a, 0) + sct.dllaplacian(u, b, 0)


def test_dllaplacian_of_complex_x_is_refused_naming_dllaplacian():
    # u = |z|**2 is real; the refusal read "dldivergence: u must be real (it is complex128)": another
    # function than the user's and a u they never wrote (the divergence of u's complex gradient)
    Z = np.array([1 + 2j, -0.5 + 1j, 0.3 - 0.2j])
    with pytest.raises(sct.SctError) as info:
        dlfeval(complex_laplacian, dlarray(Z))
    message = str(info.value)
    assert "dllaplacian" in message and "x is complex" in message and "dldivergence" not in message
    # the way the message gives: the parts as real arrays (|z|^2 + Re z^3 has Laplacian 4)
    a, b = np.real(Z).copy(), np.imag(Z).copy()
    assert_close(D(dlfeval(parts_laplacian, dlarray(a), dlarray(b))), np.full(3, 4.0), rtol=1e-12, atol=1e-12)


# --- 4. np.linalg.matrix_rank in a loss: refused as an op with no derivative rule ---------------------

def ranked_loss(A):
    y = np.linalg.matrix_rank(A) * np.sum(A ** 2) + np.linalg.matrix_rank(A @ A.T, hermitian=True)
    return y, dlgradient(y, A)


def test_matrix_rank_is_a_constant():
    # an integer of its argument (as np.count_nonzero or np.argsort): no derivative, not a refusal
    A = np.random.default_rng(4).standard_normal((3, 3))
    y, g = dlfeval(ranked_loss, dlarray(A.copy()))
    f = lambda a: np.linalg.matrix_rank(a) * np.sum(a ** 2) + np.linalg.matrix_rank(a @ a.T, hermitian=True)
    assert_close(D(y), f(A), rtol=1e-12, atol=1e-12)
    assert_close(D(g), numerical_gradient(f, [A.copy()], 0), rtol=1e-6, atol=1e-6)
