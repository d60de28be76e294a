"""Red team (Dec 2b): MATLAB-documentation scenarios and a peer corpus of numpy functions, each
differentiated in every mode sct offers.  Values against plain numpy, gradients against central
differences (tests/gradcheck.py), higher derivatives against closed forms."""
from __future__ import annotations

import math

import numpy as np
import pytest

import sct
from sct import dlarray, dlfeval, dlgradient, extractdata
from gradcheck import assert_close, numerical_gradient


# --- np.sinc: its derivative rule was np.where(x == 0, 0, (cos(pi x) - sinc(x)) / x), so every
# derivative from the second on was 0 at x == 0 (sinc''(0) = -pi^2/3, not 0) -------------------

def sinc_total(x):
    return np.sum(np.sinc(x))


def sinc_three_derivatives(x):
    y = np.sum(np.sinc(x))
    g = dlgradient(y, x)
    h = dlgradient(np.sum(g), x)
    return y, g, h, dlgradient(np.sum(h), x)


def _sinc_derivatives(x):
    """sinc and its first three derivatives, from the Taylor series at small |x|."""
    u = np.pi * x
    terms = range(0, 12)
    d0 = sum((-1) ** n * u ** (2 * n) / math.factorial(2 * n + 1) for n in terms)
    d1 = sum((-1) ** n * 2 * n * np.pi ** (2 * n) * x ** (2 * n - 1) / math.factorial(2 * n + 1)
             for n in range(1, 12))
    d2 = sum((-1) ** n * 2 * n * (2 * n - 1) * np.pi ** (2 * n) * x ** (2 * n - 2) / math.factorial(2 * n + 1)
             for n in range(1, 12))
    d3 = sum((-1) ** n * 2 * n * (2 * n - 1) * (2 * n - 2) * np.pi ** (2 * n) * x ** (2 * n - 3)
             / math.factorial(2 * n + 1) for n in range(2, 12))
    return d0, d1, d2, d3


def test_sinc_higher_derivatives_at_and_near_zero():
    x = np.array([0.0, 1e-3, 0.01, -0.049, 0.051, 0.3, -0.6])
    y, g, h, t = dlfeval(sinc_three_derivatives, dlarray(x))
    d0, d1, d2, d3 = _sinc_derivatives(x)
    assert_close(extractdata(y), np.sum(np.sinc(x)))
    assert_close(extractdata(g), d1, 1e-10, 1e-12)
    assert_close(extractdata(h), d2, 1e-9, 1e-10)
    assert extractdata(h)[0] == pytest.approx(-np.pi ** 2 / 3, rel=1e-12)
    assert_close(extractdata(t), d3, 1e-7, 1e-8)
    v = np.linspace(-1, 1, x.size)
    assert_close(extractdata(sct.hvp(sinc_total, x, v)), d2 * v, 1e-9, 1e-10)


def test_sinc_derivatives_away_from_zero_and_float32():
    x = np.array([0.7, -1.3, 2.5, 4.0])
    y, g, h, t = dlfeval(sinc_three_derivatives, dlarray(x))
    assert_close(extractdata(g), numerical_gradient(sinc_total, [x.copy()], 0), 1e-6, 1e-8)
    assert_close(extractdata(h), numerical_gradient(lambda z: np.sum(extractdata(
        dlfeval(sinc_three_derivatives, dlarray(z))[1])), [x.copy()], 0), 1e-5, 1e-6)
    x32 = np.array([0.0, 0.02, 0.5], dtype=np.float32)
    y, g, h, t = dlfeval(sinc_three_derivatives, dlarray(x32))
    assert extractdata(g).dtype == np.float32 and extractdata(h).dtype == np.float32
    assert_close(extractdata(h), _sinc_derivatives(x32.astype(np.float64))[2], 1e-5, 1e-5)
    value, tangent = sct.jvp(sinc_total, (np.array([0.0, 0.5]),), (np.array([1.0, 1.0]),))
    assert_close(extractdata(tangent), np.sum(_sinc_derivatives(np.array([0.0, 0.5]))[1]), 1e-10, 1e-12)


# --- np.linalg.det at a singular matrix: the rule was det(a) * inv(a)^H, so the gradient (the
# cofactor matrix, which exists everywhere) raised "Singular matrix" (JAX's and PyTorch's suites
# test the gradient of det at rank-deficient matrices) ------------------------------------------

def det_and_gradient(a):
    d = np.linalg.det(a)
    return d, dlgradient(d, a)


def det_hessian_along(a, v):
    d = np.linalg.det(a)
    g = dlgradient(d, a)
    return dlgradient(np.sum(g * v), a)


def abs_det_squared(a):
    return np.abs(np.linalg.det(a)) ** 2


def abs_det_squared_gradient(a):
    y = np.abs(np.linalg.det(a)) ** 2
    return dlgradient(y, a)


def _cofactors(a):
    n = a.shape[-1]
    c = np.zeros_like(a)
    for i in range(n):
        for j in range(n):
            minor = np.delete(np.delete(a, i, axis=0), j, axis=1)
            c[i, j] = (-1) ** (i + j) * (np.linalg.det(minor) if n > 1 else 1.0)
    return c


@pytest.mark.parametrize("a", [
    np.array([[1.0, 2.0], [2.0, 4.0]]),                              # corank 1
    np.array([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0], [7.0, 8.0, 9.0]]),   # corank 1
    np.array([[1.0, 2.0, 3.0], [2.0, 4.0, 6.0], [-1.0, -2.0, -3.0]]),  # corank 2: gradient 0
    np.zeros((3, 3)),
    np.array([[0.0, 0.0], [0.0, 1.0]]),
    np.array([[2.5]]),
    np.array([[0.3, -1.2, 0.5], [2.0, 0.7, -0.4], [1.1, 0.2, 0.9]]),  # invertible: unchanged
])
def test_det_gradient_is_the_cofactor_matrix_also_at_singular_matrices(a):
    d, g = dlfeval(det_and_gradient, dlarray(a))
    assert_close(extractdata(d), np.linalg.det(a), 1e-10, 1e-12)
    assert_close(extractdata(g), _cofactors(a), 1e-9, 1e-12)
    assert_close(extractdata(g), numerical_gradient(np.linalg.det, [a.copy()], 0), 1e-6, 1e-7)


def test_det_gradient_batched_with_a_singular_member_float32_and_complex():
    a = np.stack([np.array([[1.0, 2.0], [2.0, 4.0]]), np.array([[1.0, -2.0], [0.5, 3.0]])])
    d, g = dlfeval(det_and_gradient_of_sum, dlarray(a))
    assert_close(extractdata(g), np.stack([_cofactors(m) for m in a]), 1e-10, 1e-12)
    d, g = dlfeval(det_and_gradient, dlarray(a[0].astype(np.float32)))
    assert extractdata(g).dtype == np.float32
    assert_close(extractdata(g), _cofactors(a[0]), 1e-6, 1e-6)
    z = np.array([[1.0, 2j], [1j, -2.0]])                             # det 0
    zc = np.array([[1.0 + 1j, 2j, 0.5], [1j, -2.0, 1.0], [0.3, 0.0, 1.0 - 1j]])
    for m in (z, zc):
        g = extractdata(dlfeval(abs_det_squared_gradient, dlarray(m)))
        assert_close(g, numerical_gradient(abs_det_squared, [m.copy()], 0), 1e-6, 1e-7)


def det_of(a):
    return np.linalg.det(a)


def det_and_gradient_of_sum(a):
    d = np.sum(np.linalg.det(a))
    return d, dlgradient(d, a)


def test_det_second_derivative_invertible_and_at_a_singular_matrix():
    rng = np.random.default_rng(1)
    a = rng.standard_normal((3, 3))
    v = rng.standard_normal((3, 3))
    expected = numerical_gradient(
        lambda q: np.sum(extractdata(dlfeval(det_and_gradient, dlarray(q))[1]) * v), [a.copy()], 0)
    assert_close(extractdata(dlfeval(det_hessian_along, dlarray(a), v)), expected, 1e-6, 1e-7)
    assert_close(extractdata(sct.hvp(det_of, a, v)), expected, 1e-6, 1e-7)
    # at a singular matrix (was refused 'Singular matrix'; sct.hvp raised numpy's LinAlgError): det is a
    # polynomial, its Hessian along V of [[a, b], [c, d]] is [[V_dd, -V_dc], [-V_db, V_da]]
    singular = np.array([[1.0, 2.0], [2.0, 4.0]])
    along = np.array([[1.0, 2.0], [3.0, 5.0]])
    exact = np.array([[5.0, -3.0], [-2.0, 1.0]])
    assert_close(extractdata(dlfeval(det_hessian_along, dlarray(singular), along)), exact, 1e-12, 1e-12)
    assert_close(extractdata(sct.hvp(det_of, singular, along)), exact, 1e-12, 1e-12)


# --- second derivatives through eigh/eigvalsh/svd/eig at repeated eigen- or singular values: the
# 1 / (w[j] - w[i]) of the vectors' derivative was set to 0 (eigh: a silently wrong Hessian, e.g.
# 0 in place of 12 for sum(eigvalsh(A)**2) at A = diag(1, 1, 2)) or gave NaN (svd); now refused ---

def eigvalsh_squares_hessian(a, v):
    y = np.sum(np.linalg.eigvalsh(a) ** 2)
    g = dlgradient(y, a)
    return dlgradient(np.sum(g * v), a)


def singular_values_cubes_hessian(a, v):
    y = np.sum(np.linalg.svd(a, compute_uv=False) ** 3)
    g = dlgradient(y, a)
    return dlgradient(np.sum(g * v), a)


def eigvalsh_squares_gradient(a):
    y = np.sum(np.linalg.eigvalsh(a) ** 2)
    return y, dlgradient(y, a)


def eigenvector_loss_gradient(a):
    w, v = np.linalg.eigh(a)
    y = np.sum(v[:, 0] ** 4) + np.sum(w)
    return dlgradient(y, a)


V_LOWER = np.tril(np.arange(9.0).reshape(3, 3))


def test_eigvalsh_hessian_with_distinct_eigenvalues_is_exact():
    # sum(eigvalsh(A)^2) = sum_i A_ii^2 + 2 sum_{i>j} A_ij^2 (the lower triangle is read)
    expected = 2 * np.diag(np.diag(V_LOWER)) + 4 * np.tril(V_LOWER, -1)
    for a in (np.diag([1.0, 2.0, 3.0]), np.array([[2.0, 0.3, -0.1], [0.3, 1.0, 0.5], [-0.1, 0.5, -1.0]])):
        assert_close(extractdata(dlfeval(eigvalsh_squares_hessian, dlarray(a), V_LOWER)), expected, 1e-8, 1e-8)


@pytest.mark.parametrize("a", [np.eye(3), np.diag([1.0, 1.0, 2.0]), np.zeros((3, 3))])
def test_second_derivatives_at_repeated_eigenvalues_are_refused(a):
    with pytest.raises(sct.EvaluationError) as info:
        dlfeval(eigvalsh_squares_hessian, dlarray(a), V_LOWER)
    assert "repeated eigenvalues" in str(info.value) and info.value.lineno is not None
    with pytest.raises(sct.EvaluationError, match="repeated or zero singular values"):
        dlfeval(singular_values_cubes_hessian, dlarray(a), V_LOWER)
    with pytest.raises(sct.EvaluationError, match="repeated eigenvalues"):
        dlfeval(eigenvector_loss_gradient, dlarray(a))
    # first derivatives of functions of the eigenvalues alone stay exact at ties
    y, g = dlfeval(eigvalsh_squares_gradient, dlarray(a))
    assert_close(extractdata(g), 2 * np.diag(np.diag(a)) + 4 * np.tril(a, -1), 1e-10, 1e-12)


def test_singular_values_hessian_with_distinct_values_is_exact():
    a = np.array([[3.0, 0.2, 0.0], [0.1, -2.0, 0.4], [0.0, 0.3, 1.0]])
    expected = numerical_gradient(lambda q: np.sum(extractdata(dlfeval(
        singular_values_gradient, dlarray(q))) * V_LOWER), [a.copy()], 0)
    assert_close(extractdata(dlfeval(singular_values_cubes_hessian, dlarray(a), V_LOWER)), expected, 1e-5, 1e-6)


def singular_values_gradient(a):
    return dlgradient(np.sum(np.linalg.svd(a, compute_uv=False) ** 3), a)


# --- Python's min(x)/max(x)/max(x, key=...) over an array: the first derivative was right, but
# the adjoint of the list-to-array step (project_transpose) dropped an array cotangent, so every
# second derivative and every jvp through it was 0 (min(x)**2: hvp 0 in place of 2, jvp 0) -------

def builtin_min_squared(x):
    return min(x) ** 2 + 2 * max(x)


def builtin_min_hessian(x, v):
    y = min(x) ** 2 + 2 * max(x)
    g = dlgradient(y, x)
    return g, dlgradient(np.sum(g * v), x)


def builtin_max_row_by_key(x):
    r = max(x, key=lambda row: row[0])
    return np.sum(r ** 2) * r[1]


def test_builtin_min_max_of_an_array_second_derivative_and_jvp():
    x = np.array([0.3, -1.2, 2.0, 0.7])
    v = np.array([0.5, -1.5, 2.0, 1.0])
    g, hv = dlfeval(builtin_min_hessian, dlarray(x), v)
    assert_close(extractdata(g), np.array([0.0, 2 * -1.2, 2.0, 0.0]))
    assert_close(extractdata(hv), np.array([0.0, 2 * -1.5, 0.0, 0.0]))
    assert_close(extractdata(sct.hvp(builtin_min_squared, x, v)), np.array([0.0, -3.0, 0.0, 0.0]))
    value, tangent = sct.jvp(builtin_min_squared, (x,), (v,))
    assert_close(extractdata(value), builtin_min_squared(x))
    assert_close(extractdata(tangent), 2 * -1.2 * -1.5 + 2 * 2.0)


def test_builtin_max_with_a_key_over_rows_second_derivative_and_jvp():
    x = np.array([[0.3, -1.2, 2.0], [0.7, 1.1, -0.4]])
    v = np.array([[0.5, -1.5, 2.0], [1.0, 0.3, -0.7]])
    f = builtin_max_row_by_key
    expected = numerical_gradient(lambda q: np.sum(numerical_gradient(f, [q.copy()], 0, 1e-4) * v), [x.copy()], 0, 1e-4)
    assert_close(extractdata(sct.hvp(f, x, v)), expected, 1e-4, 1e-5)
    value, tangent = sct.jvp(f, (x,), (v,))
    assert_close(extractdata(tangent), np.sum(numerical_gradient(f, [x.copy()], 0) * v), 1e-6, 1e-7)


# --- a numpy function applied to a list (or tuple) of dlarrays that is dlgradient's x: its adjoint
# came as an array and project() replaced it by zeros -- a silent zero gradient ------------------

def elementwise_of_a_list(xs):
    y = np.sum(np.sin(xs)) + np.prod(xs)
    return y, dlgradient(y, xs)


def elementwise_of_a_list_second(xs):
    y = np.sum(np.sin(xs) ** 2)
    g = dlgradient(y, xs)
    return dlgradient(np.sum(np.array(g) ** 2), xs)


def _elementwise_of_a_list_plain(xs):
    return np.sum(np.sin(xs)) + np.prod(xs)


@pytest.mark.parametrize("make", [list, tuple])
def test_numpy_function_of_a_list_argument_gradient(make):
    scalars = np.array([0.5, -1.2, 2.0])
    y, g = dlfeval(elementwise_of_a_list, make(dlarray(v) for v in scalars))
    assert isinstance(g, make) and len(g) == 3
    assert_close(extractdata(y), _elementwise_of_a_list_plain(list(scalars)))
    assert_close(np.array([extractdata(v) for v in g]),
                 numerical_gradient(lambda q: _elementwise_of_a_list_plain(list(q)), [scalars.copy()], 0))
    rows = np.array([[0.5, -1.0], [1.5, 0.3]])
    y, g = dlfeval(elementwise_of_a_list, make(dlarray(r) for r in rows))
    assert_close(np.array([extractdata(v) for v in g]),
                 numerical_gradient(lambda q: _elementwise_of_a_list_plain(list(q)), [rows.copy()], 0))


def test_numpy_function_of_a_list_argument_second_derivative():
    x = np.array([0.5, -1.2, 2.0])
    h = dlfeval(elementwise_of_a_list_second, [dlarray(v) for v in x])
    assert_close(np.array([extractdata(v) for v in h]), 2 * np.sin(4 * x))
