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


# --- 5. losses that read the phases of complex eigen/singular vectors: silently wrong gradients ------

def eigh_phase_loss(Z):
    H = Z + Z.conj().T
    return np.sum(np.real(np.linalg.eigh(H)[1]))


def svd_phase_loss(Z):
    return np.sum(np.real(np.linalg.svd(Z)[0]))


def eig_phase_loss(Z):
    return np.sum(np.real(np.linalg.eig(Z)[1]))


def eigh_invariant_loss(Z):
    w, V = np.linalg.eigh(Z + Z.conj().T)
    return np.sum(np.abs(V) ** 4) + np.abs(np.vdot(V[:, 0], np.arange(3.0) + 1j)) ** 2 + w[1]


def svd_invariant_loss(Z):
    u, s, vh = np.linalg.svd(Z)
    return np.sum(np.abs(u[:, :1] @ vh[:1]) ** 2 * np.arange(9).reshape(3, 3)) + np.sum(np.abs(vh) ** 3) + s[0]


def eig_invariant_loss(Z):
    w, V = np.linalg.eig(Z)
    return np.sum(np.abs(V) ** 3) + np.sum(np.abs(w))


def eigh_phase_loss_run(Z):
    y = eigh_phase_loss(Z)
    return y, dlgradient(y, Z)


def svd_phase_loss_run(Z):
    y = svd_phase_loss(Z)
    return y, dlgradient(y, Z)


def eig_phase_loss_run(Z):
    y = eig_phase_loss(Z)
    return y, dlgradient(y, Z)


def eigh_invariant_loss_run(Z):
    y = eigh_invariant_loss(Z)
    return y, dlgradient(y, Z)


def svd_invariant_loss_run(Z):
    y = svd_invariant_loss(Z)
    return y, dlgradient(y, Z)


def eig_invariant_loss_run(Z):
    y = eig_invariant_loss(Z)
    return y, dlgradient(y, Z)


def eigenvectors_of(Z):
    return np.linalg.eigh(Z + Z.conj().T)[1]


def eigenvector_sizes_of(Z):
    return np.abs(np.linalg.eigh(Z + Z.conj().T)[1])


def _complex_matrix(seed):
    rng = np.random.default_rng(seed)
    return rng.standard_normal((3, 3)) + 1j * rng.standard_normal((3, 3))


@pytest.mark.parametrize("run", [eigh_phase_loss_run, svd_phase_loss_run, eig_phase_loss_run])
def test_loss_reading_complex_vector_phases_is_refused(run):
    # numpy (LAPACK) fixes each complex vector's phase by a convention of its own (eigh: the first
    # row real; svd: vh's first column; eig: the largest entry); the rules give the derivative in
    # the gauge Im diag(V^H dV) = 0, which differs from the program's: sct returned gradients far
    # from central differences (PyTorch refuses these losses).  Now refused at the user's line.
    with pytest.raises(sct.SctError, match="phases"):
        dlfeval(run, dlarray(_complex_matrix(5)))


@pytest.mark.parametrize("run,f", [(eigh_invariant_loss_run, eigh_invariant_loss),
                                   (svd_invariant_loss_run, svd_invariant_loss),
                                   (eig_invariant_loss_run, eig_invariant_loss)])
def test_loss_independent_of_vector_phases_is_still_differentiated(run, f):
    Z = _complex_matrix(6)
    y, g = dlfeval(run, dlarray(Z.copy()))
    assert_close(D(y), f(Z), rtol=1e-12, atol=1e-12)
    assert_close(D(g), numerical_gradient(f, [Z.copy()], 0), rtol=1e-5, atol=1e-6)
    # and in complex64, where the check's tolerance is float32's
    y, g = dlfeval(run, dlarray(Z.astype(np.complex64)))
    assert D(g).dtype == np.complex64


def test_jvp_of_complex_eigenvectors_is_refused_and_of_their_sizes_is_not():
    # jvp (transposed reverse code: eigh returns several arrays) seeded its inner sweep with zeros,
    # which every cotangent check passes: the tangent of numpy's eigenvectors came back in another
    # phase convention (not their derivative).  Now seeded with fixed nonzero weights (J v is the
    # same for any seed): refused; a function of |V| is differentiated as before.
    Z, dZ = _complex_matrix(7), _complex_matrix(8)
    with pytest.raises(sct.SctError, match="phases"):
        sct.jvp(eigenvectors_of, (Z.copy(),), (dZ.copy(),))
    y, t = sct.jvp(eigenvector_sizes_of, (Z.copy(),), (dZ.copy(),))
    expected = (eigenvector_sizes_of(Z + 1e-6 * dZ) - eigenvector_sizes_of(Z - 1e-6 * dZ)) / 2e-6
    assert_close(D(y), eigenvector_sizes_of(Z), rtol=1e-12, atol=1e-12)
    assert_close(D(t), expected, rtol=1e-5, atol=1e-6)


# --- 6. dlarray(z) ** 2 outside dlfeval: another last bit than numpy's z ** 2 ---------------------------

def squares(z):
    return z ** 2, z ** -1, z ** 0.5, z ** 3


@pytest.mark.parametrize("dtype", [np.complex64, np.complex128, np.float32, np.float64])
def test_power_of_dlarray_outside_dlfeval_is_numpys(dtype):
    # dlarray's ** went through the mixin's np.power(x, 2), which for complex data rounds otherwise
    # than ndarray's ** (its fast paths np.square, np.reciprocal, np.sqrt): about a quarter of the
    # entries differed in the last bit from z ** 2, and from the same function run by dlfeval
    rng = np.random.default_rng(6)
    z = rng.standard_normal(500) + (1j * rng.standard_normal(500) if np.dtype(dtype).kind == "c" else 0)
    z = np.abs(z).astype(dtype) if np.dtype(dtype).kind == "f" else z.astype(dtype)
    expected = squares(z.copy())
    outside = squares(dlarray(z.copy()))
    inside = dlfeval(squares, dlarray(z.copy()))
    for e, o, i in zip(expected, outside, inside):
        assert D(o).dtype == e.dtype and D(o).tobytes() == e.tobytes()
        assert D(i).dtype == e.dtype and D(i).tobytes() == e.tobytes()
    w = dlarray(z.copy())
    w **= 2                                  # in place, as ndarray's
    assert D(w).tobytes() == (z ** 2).tobytes()


# --- 7. np.linalg.qr of a rank-deficient matrix: a silently wrong gradient ------------------------------

W_QR = np.array([0.4, -1.3, 0.8])


def qr_of_rank_one(u):
    return np.sum(np.sin(np.linalg.qr(np.outer(u, W_QR))[0]))


def qr_r_of_rank_one(u):
    return np.sum(np.linalg.qr(np.outer(u, W_QR))[1] ** 2)      # |R|^2 = |A|^2: smooth


def qr_of_rank_one_run(u):
    y = qr_of_rank_one(u)
    return y, dlgradient(y, u)


def qr_r_of_rank_one_run(u):
    y = qr_r_of_rank_one(u)
    return y, dlgradient(y, u)


def test_qr_past_the_rank_is_refused():
    # Q's columns past the rank of a rank-one matrix are not unique (central differences: about 1e6);
    # the adjoint's solve with the nearly singular R returned numbers of order 1, silently.  Refused
    # now; a loss that reads only R's rows up to the rank (and R's rounding past it) is differentiated.
    u = np.array([0.7, -0.2, 1.1])
    with pytest.raises(sct.SctError, match="rank deficient"):
        dlfeval(qr_of_rank_one_run, dlarray(u.copy()))
    y, g = dlfeval(qr_r_of_rank_one_run, dlarray(u.copy()))
    assert_close(D(y), qr_r_of_rank_one(u), rtol=1e-12, atol=1e-12)
    assert_close(D(g), 2 * u * np.sum(W_QR ** 2), rtol=1e-6, atol=1e-8)


# --- 8. np.einsum(..., dtype=...): refused as a keyword einsum's rule did not take ----------------------

def einsum_complex_loss(A):
    return np.sum(np.abs(np.einsum('ij,j->i', A, np.arange(3.0), dtype=complex) * (1 + 2j)) ** 2) + \
        np.einsum('ij,ji->', A, A, dtype=np.float64, casting='same_kind')


def einsum_complex_loss_run(A):
    y = einsum_complex_loss(A)
    return y, dlgradient(y, A)


def einsum_float32_run(A):
    y = np.sum(np.einsum('ij,jk->ik', A, A, dtype=np.float32) ** 2)
    return y, dlgradient(y, A)


def test_einsum_with_dtype():
    A = np.random.default_rng(8).standard_normal((3, 3))
    y, g = dlfeval(einsum_complex_loss_run, dlarray(A.copy()))
    assert_close(D(y), einsum_complex_loss(A), rtol=1e-12, atol=1e-12)
    assert_close(D(g), numerical_gradient(einsum_complex_loss, [A.copy()], 0), rtol=1e-5, atol=1e-6)
    assert D(g).dtype == np.float64
    A32 = A.astype(np.float32)
    y, g = dlfeval(einsum_float32_run, dlarray(A32.copy()))
    assert D(y).dtype == np.float32 and D(y) == np.sum(np.einsum('ij,jk->ik', A32, A32, dtype=np.float32) ** 2)
    P = A32 @ A32
    assert D(g).dtype == np.float32
    assert_close(D(g), 2 * P @ A32.T + A32.T @ (2 * P), rtol=1e-5, atol=1e-5)
    with pytest.raises(TypeError):      # numpy's own refusal of float64 -> float32 under casting='safe'
        dlfeval(einsum_float32_run, dlarray(A.copy()))
