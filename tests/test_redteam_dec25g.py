"""Red team G (dec25): a corpus of functions written as scientific and ML code writes them.

Findings (each test below failed before its fix):

1. ``np.matrix`` reached the generated code as an ndarray.  An ``np.matrix`` held in a module global or a
   closure (``MAT * x``, ``np.dot(MAT, x)`` then ``y * y``, ``MAT + x``, ``M = MAT; M.dot(x)``), or made
   in the function (``np.asmatrix(A)``, ``np.matrix(A)``), or returned by a helper, is a matrix whose
   ``*`` is a matrix product and ``**`` a matrix power; sct differentiated ndarray's elementwise ``*``:
   the value was numpy's, the gradient silently wrong.  (An np.matrix argument was already refused.)
   A masked array (``np.ma.masked_less(A, 0)``, a global or made in the function) likewise: ``np.sum(M * x)``
   leaves the masked entries out, and their gradient came out as if it did not.  Now refused at the
   user's line (sct/operand_checks.py: an ndarray subclass with its own operators counts as a class
   defining every operation; runtime/support.py's ``array_operand`` at run time).  So are numpy's own
   classes with operators of their own: an ``np.poly1d``'s ``p + c`` adds ``c`` to the constant term
   only (sct's gradient gave every coefficient's), ``p * x`` is a polynomial product (an internal
   error in the gradient); ``np.polynomial.Polynomial`` likewise.  And numpy's index tricks under another
   name (``from numpy import r_`` then ``r_[x, y]``, ``R = np.r_``, one in a closure): read as indexing
   an array, every gradient through them was silently zero; now refused, ``np.r_[x, y]`` written so
   being differentiated (sct/normalize_exprs.py).
2. A ``scipy.sparse`` matrix's ``.dot`` (``L.dot(x)``, a global or a local bound to one, Laplacians in
   graph and physics code) was differentiated with ndarray.dot's rule: an internal ``IndexError`` in
   the gradient (tuple index out of range, in numpy's tensordot).  Now refused at the line, as
   ``L.T.dot(x)`` already was (sct/analysis.py ``_library_receiver``).
3. ``np.trapezoid(y, x) if hasattr(np, "trapezoid") else np.trapz(y, x)`` (the numpy 1/2 compatibility
   idiom) was refused: "np.trapz is not defined ... (Python raises NameError or AttributeError where
   this line runs)", which Python does not, the branch not being taken.  A callee missing when compiled
   is now left to raise where its branch runs (sct/contributions.py); an unconditional one is still
   refused when compiling.

The corpus (tests/redteam_dec25g_corpus.py: likelihoods, physics integrators and stencils, optimisation
test functions, attention, normalisation, a GP, a VAE, elementwise idioms, norms, einsum, structures)
is checked against plain numpy and central differences, in float64 and float32, at two sizes.
"""
import warnings

import numpy as np
import pytest
import scipy.sparse as sp
from numpy import c_, r_

import sct
from sct import CompileError, EvaluationError, dlarray, dlfeval, dlgradient, extractdata
from tests import redteam_dec25g_corpus as C
from tests.gradcheck import assert_close, numerical_gradient


def D(v):
    return np.asarray(extractdata(v)) if isinstance(v, sct.dlarray) else np.asarray(v)


def grad1(f, x, *consts):
    y = f(x, *consts)
    return y, dlgradient(y, x)


with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    MAT = np.matrix([[1.0, 2.0], [3.0, 4.0]])
WEIGHTS = np.array([[1.0, 5.0], [7.0, 11.0]])
X2 = np.random.default_rng(25).standard_normal((2, 2))
LAP = sp.diags([-1.0, 2.0, -1.0], [-1, 0, 1], shape=(5, 5)).tocsr()


# --- 1. np.matrix -------------------------------------------------------------------------------

def matrix_times(x):
    y = MAT * x                                    # a matrix product: MAT is an np.matrix
    return np.sum(np.asarray(y) * WEIGHTS)


def matrix_dot_then_times(x):
    y = np.dot(MAT, x)                             # an np.matrix again
    return np.sum(np.asarray(y * y) * WEIGHTS)


def matrix_plus(x):
    y = MAT + x
    return np.sum(np.asarray(y * y) * WEIGHTS)


def matrix_alias_method(x):
    M = MAT
    y = M.dot(x)
    return np.sum(np.asarray(y * y) * WEIGHTS)


def matrix_made(x, A):
    M = np.asmatrix(A)
    y = M + x
    return np.sum(np.asarray(y ** 2) * WEIGHTS)


def matrix_made_class(x, A):
    M = np.matrix(A)
    return np.sum(np.asarray(M * x) * WEIGHTS)


def matrix_transposed(x):
    return np.sum(np.asarray(MAT.T * x) * WEIGHTS)


def _the_matrix():
    return MAT


def matrix_from_helper(x):
    M = _the_matrix()
    return np.sum(np.asarray(M * x) * WEIGHTS)


@pytest.mark.parametrize("fun", [matrix_times, matrix_dot_then_times, matrix_plus, matrix_alias_method,
                                 matrix_transposed], ids=lambda f: f.__name__)
def test_np_matrix_global_is_refused_at_the_line(fun):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with pytest.raises(CompileError, match=r"test_redteam_dec25g.py, line \d+: .*numpy.matrix.*np.asarray"):
            dlfeval(grad1, fun, dlarray(X2))


@pytest.mark.parametrize("fun", [matrix_made, matrix_made_class], ids=lambda f: f.__name__)
def test_np_matrix_made_in_the_function_is_refused(fun):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with pytest.raises(CompileError, match=r"test_redteam_dec25g.py, line \d+: .*numpy.matrix"):
            dlfeval(grad1, fun, dlarray(X2), X2 + 1.0)


def test_np_matrix_from_a_helper_is_refused_when_it_runs():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with pytest.raises(EvaluationError, match=r"test_redteam_dec25g.py, line \d+: .*numpy.matrix"):
            dlfeval(grad1, matrix_from_helper, dlarray(X2))


def test_np_matrix_program_derivative_is_the_matrix_products():
    # what sct must not give: the derivative of sum((MAT @ x) * W) is MAT.T @ W (sct gave that of
    # the elementwise product, W @ MAT here, silently)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        expected = numerical_gradient(lambda a: matrix_times(a), [X2.copy()], 0)
    assert_close(expected, np.asarray(MAT).T @ WEIGHTS, rtol=1e-6)


def plain_matrix_product(x):
    # the same program with a plain array and @ is accepted and exact
    M = np.asarray(MAT)
    return np.sum((M @ x) * (M @ x) * WEIGHTS)


def test_plain_array_instead_of_np_matrix_is_exact():
    y, g = dlfeval(grad1, plain_matrix_product, dlarray(X2))
    assert_close(D(y), plain_matrix_product(X2), rtol=1e-12)
    assert_close(D(g), numerical_gradient(plain_matrix_product, [X2.copy()], 0))


MASK_SOURCE = np.array([1.0, -2.0, 3.0, -4.0])
MASKED = np.ma.masked_less(MASK_SOURCE, 0)


def masked_global(x):
    return np.sum(MASKED * x)                      # the masked entries are left out of the sum


def masked_made(x):
    M = np.ma.masked_less(MASK_SOURCE, 0)
    return np.sum(M * x ** 2)


@pytest.mark.parametrize("fun", [masked_global, masked_made], ids=lambda f: f.__name__)
def test_masked_array_is_refused_at_the_line(fun):
    # was: the gradient [1, 1, 3, 1] of masked_global where numpy's program has [1, 0, 3, 0]
    x = np.random.default_rng(4).standard_normal(4)
    expected = numerical_gradient(fun, [x.copy()], 0)
    assert_close(expected[[1, 3]], np.zeros(2))
    with pytest.raises(CompileError, match=r"test_redteam_dec25g.py, line \d+: .*numpy.ma.MaskedArray"):
        dlfeval(grad1, fun, dlarray(x))


POLY = np.poly1d([1.0, -2.0, 3.0])


def poly1d_plus_scalar(x):
    q = POLY + x[0]                                # np.poly1d: adds x[0] to the constant term only
    return np.sum(np.asarray(q) * np.array([1.0, 10.0, 100.0]))


def poly1d_times(x):
    return np.sum(np.asarray(POLY * x) ** 2)       # a polynomial product


def polynomial_plus(x):
    from numpy.polynomial import Polynomial
    q = Polynomial([1.0, -2.0, 3.0]) + x
    return np.sum(q.coef * np.array([1.0, 10.0, 100.0]))


def poly1d_evaluated_by_coefficients(x):
    return np.sum(np.polyval(POLY.coeffs, x) ** 2)


def test_poly1d_plus_scalar_derivative_is_the_constant_terms():
    # what sct gave silently: [111, 0] (every coefficient), where numpy's program has [100, 0]
    x = np.array([0.3, -0.2])
    assert_close(numerical_gradient(poly1d_plus_scalar, [x.copy()], 0), np.array([100.0, 0.0]), rtol=1e-6)


@pytest.mark.parametrize("fun", [poly1d_plus_scalar, poly1d_times, polynomial_plus], ids=lambda f: f.__name__)
def test_numpy_polynomial_operators_are_refused_at_the_line(fun):
    x = np.random.default_rng(6).standard_normal(3 if fun is not poly1d_plus_scalar else 2)
    with pytest.raises(CompileError, match=r"test_redteam_dec25g.py, line \d+: .*(poly1d|Polynomial).*coeff"):
        dlfeval(grad1, fun, dlarray(x))


def test_poly1d_coefficients_as_an_array_are_exact():
    x = np.random.default_rng(7).standard_normal(4)
    y, g = dlfeval(grad1, poly1d_evaluated_by_coefficients, dlarray(x))
    assert_close(D(y), poly1d_evaluated_by_coefficients(x), rtol=1e-12)
    assert_close(D(g), numerical_gradient(poly1d_evaluated_by_coefficients, [x.copy()], 0))


R_ALIAS = np.r_


def r_imported(x, y):
    z = r_[x, y]                                   # from numpy import r_
    return np.sum(z ** 3)


def c_imported(x, y):
    z = c_[x, x * 2]
    return np.sum(z ** 3) + np.sum(y)


def r_global_alias(x, y):
    z = R_ALIAS[x, y]
    return np.sum(z ** 3)


def _r_closure():
    R = np.r_

    def f(x, y):
        z = R[x, y]
        return np.sum(z ** 3)
    return f


def r_spelled_out(x, y):
    z = np.r_[x, y]
    return np.sum(z ** 3)


def r_untraced_index(x, y):
    k = r_[0:3, 5]
    return np.sum(x * k[:2]) + np.sum(y * k[3])


def grad_xy(f, x, y):
    v = f(x, y)
    return v, dlgradient(v, x, y)


@pytest.mark.parametrize("fun", [r_imported, c_imported, r_global_alias, _r_closure()],
                         ids=["r_imported", "c_imported", "r_global_alias", "r_closure"])
def test_index_trick_under_another_name_is_refused_not_zero(fun):
    # was: the value numpy's, every gradient silently zero (read as indexing an array)
    x, y = np.array([1.0, 2.0]), np.array([3.0])
    with pytest.raises(CompileError, match=r"test_redteam_dec25g.py, line \d+: .*np.r_\[a, b\]"):
        dlfeval(grad_xy, fun, dlarray(x), dlarray(y))


@pytest.mark.parametrize("fun", [r_spelled_out, r_untraced_index], ids=lambda f: f.__name__)
def test_index_trick_spelled_out_or_untraced_is_exact(fun):
    x, y = np.array([1.0, 2.0]), np.array([3.0])
    v, (gx, gy) = dlfeval(grad_xy, fun, dlarray(x), dlarray(y))
    assert_close(D(v), fun(x, y), rtol=1e-12)
    assert_close(D(gx), numerical_gradient(fun, [x.copy(), y], 0))
    assert_close(D(gy), numerical_gradient(fun, [x, y.copy()], 1))


# --- 2. scipy.sparse .dot ---------------------------------------------------------------------

def sparse_dot(x):
    return np.sum(LAP.dot(x) ** 2)


def sparse_dot_alias(x):
    L = LAP
    y = L.dot(x)
    return np.sum(y * np.arange(5.0))


@pytest.mark.parametrize("fun", [sparse_dot, sparse_dot_alias], ids=lambda f: f.__name__)
@pytest.mark.parametrize("shape", [(5,), (5, 3)])
def test_sparse_dot_is_refused_at_the_line_not_an_internal_error(fun, shape):
    x = np.random.default_rng(1).standard_normal(shape)
    with pytest.raises(CompileError, match=r"test_redteam_dec25g.py, line \d+: .*(library code|csr_matrix)"):
        dlfeval(grad1, fun, dlarray(x))


def _laplacian(n):
    return sp.diags([-1.0, 2.0, -1.0], [-1, 0, 1], shape=(n, n)).tocsr()


def sparse_from_helper(x):
    L = _laplacian(len(x))
    return np.sum(L.dot(x) ** 2)


def sparse_argument_matmul(x, L):
    return np.sum((L @ x) ** 2)


def test_sparse_operand_refusals_say_what_to_write():
    x = np.random.default_rng(5).standard_normal(5)
    with pytest.raises(EvaluationError, match=r"line \d+: .*scipy.sparse csr_matrix.*toarray"):
        dlfeval(grad1, sparse_from_helper, dlarray(x))
    with pytest.raises(CompileError, match=r"line \d+: .*scipy.sparse csr_matrix.*toarray"):
        dlfeval(grad1, sparse_argument_matmul, dlarray(x), _laplacian(5))


def sparse_as_dense(x):
    return np.sum((LAP.toarray() @ x) ** 2)


def test_sparse_made_dense_is_exact():
    x = np.random.default_rng(2).standard_normal(5)
    y, g = dlfeval(grad1, sparse_as_dense, dlarray(x))
    assert_close(D(y), sparse_as_dense(x), rtol=1e-12)
    assert_close(D(g), numerical_gradient(sparse_as_dense, [x.copy()], 0))


# --- 3. a callee missing in a branch not taken -------------------------------------------------

def trapz_compat(y, x):
    return np.trapezoid(y ** 2, x) if hasattr(np, "trapezoid") else np.trapz(y ** 2, x)


def trapz_compat_if(y, x):
    if hasattr(np, "trapz_not_in_numpy"):
        area = np.trapz_not_in_numpy(y ** 2, x)
    else:
        area = np.sum((y[1:] ** 2 + y[:-1] ** 2) * np.diff(x)) / 2
    return area


def missing_when_large(y, x):
    if np.sum(y) > 100:
        return helper_defined_nowhere_dec25g(y)        # noqa: F821 (the point of the test)
    return np.sum(y * x)


def missing_always(y, x):
    return np.trapz_not_in_numpy(y ** 2, x)


def grad2(f, y, x):
    v = f(y, x)
    return v, dlgradient(v, y, x)


@pytest.mark.parametrize("fun", [trapz_compat, trapz_compat_if, missing_when_large], ids=lambda f: f.__name__)
def test_callee_missing_in_a_branch_not_taken_is_exact(fun):
    rng = np.random.default_rng(3)
    y, x = rng.standard_normal(6), np.cumsum(rng.random(6))
    v, (gy, gx) = dlfeval(grad2, fun, dlarray(y), dlarray(x))
    assert_close(D(v), fun(y, x), rtol=1e-12)
    assert_close(D(gy), numerical_gradient(fun, [y.copy(), x], 0))
    assert_close(D(gx), numerical_gradient(fun, [y, x.copy()], 1))


def test_callee_missing_in_the_branch_taken_raises_as_python():
    y, x = np.full(3, 50.0), np.arange(3.0)
    with pytest.raises(EvaluationError, match=r"line \d+: NameError .*helper_defined_nowhere_dec25g"):
        dlfeval(grad2, missing_when_large, dlarray(y), dlarray(x))


def test_callee_missing_unconditionally_is_refused_when_compiling():
    with pytest.raises(CompileError, match=r"np.trapz_not_in_numpy is not defined"):
        dlfeval(grad2, missing_always, dlarray(np.ones(3)), dlarray(np.arange(3.0)))


# --- the corpus ------------------------------------------------------------------------------

A = np.array


def corpus(rng, v):
    """(name, function, arguments, positions differentiated); v: a size variant."""
    n, d = 5 + 2 * v, 3 + v
    r = rng.standard_normal
    X = r((n, d))
    yb = (rng.random(n) > 0.5).astype(float)
    return [
        ("gaussian_nll", C.gaussian_nll, [A(r()), A(0.3 * r()), r(n)], (0, 1, 2)),
        ("gaussian_nll_vec", C.gaussian_nll_vec, [r(d), 0.3 * r(d), X], (0, 1, 2)),
        ("poisson_nll", C.poisson_nll, [0.3 * r(d), X, rng.poisson(2.0, n).astype(float)], (0, 1)),
        ("logistic_regression", C.logistic_regression, [r(d), A(r()), X, yb], (0, 1, 2)),
        ("logistic_regression_pm1", C.logistic_regression_pm1, [r(d), X, 2 * yb - 1], (0, 1)),
        ("softmax_xent_manual", C.softmax_xent_manual, [r((d, 4)), r(4), X, rng.integers(0, 4, n)], (0, 1, 2)),
        ("softmax_xent_onehot", C.softmax_xent_onehot, [r((d, 4)), X, np.eye(4)[rng.integers(0, 4, n)]], (0, 1)),
        ("gmm_loglik", C.gmm_loglik, [r(3), 0.3 * r(3), r(3), r(n)], (0, 1, 2, 3)),
        ("spring_mass_energy", C.spring_mass_energy,
         [np.cumsum(1 + 0.2 * r(n)), r(n), A(1.5 + 0.1 * r()), 1 + rng.random(n)], (0, 1, 2, 3)),
        ("nbody_potential", C.nbody_potential, [3 * r((n, 3))], (0,)),
        ("lennard_jones", C.lennard_jones, [np.cumsum(1.1 + 0.05 * r((4 + v, 2)), axis=0)], (0,)),
        ("leapfrog", C.leapfrog, [r(d), r(d), A(1.0 + 0.1 * r())], (0, 1, 2)),
        ("euler_decay", C.euler_decay, [r(d), A(0.5 + 0.1 * r())], (0, 1)),
        ("pendulum_rk4", C.pendulum_rk4, [r(d), r(d), A(9.8 + r())], (0, 1, 2)),
        ("heat_roll", C.heat_roll, [r(n), A(0.2)], (0, 1)),
        ("heat_slices", C.heat_slices, [r(n), A(0.2)], (0, 1)),
        ("heat_2d", C.heat_2d, [r((n, d)), A(0.1)], (0, 1)),
        ("heat_inplace", C.heat_inplace, [r(n), A(0.2)], (0, 1)),
        ("ackley", C.ackley, [r(d)], (0,)),
        ("rastrigin", C.rastrigin, [r(d)], (0,)),
        ("beale", C.beale, [r(2)], (0,)),
        ("himmelblau", C.himmelblau, [r(2)], (0,)),
        ("styblinski_tang", C.styblinski_tang, [r(d)], (0,)),
        ("rosenbrock_nd", C.rosenbrock_nd, [r(d)], (0,)),
        ("attention", C.attention, [r((n, d)), r((n, d)), r((n, 2))], (0, 1, 2)),
        ("attention_batched", C.attention_batched, [r((2, n, d)), r((2, n, d)), r((2, n, d))], (0, 1, 2)),
        ("layer_norm", C.layer_norm, [X, 1 + 0.1 * r(d), 0.1 * r(d)], (0, 1, 2)),
        ("batch_norm", C.batch_norm, [X, 1 + 0.1 * r(d), 0.1 * r(d)], (0, 1, 2)),
        ("gp_nlml", C.gp_nlml, [0.2 * r(3), X, r(n)], (0, 1, 2)),
        ("gp_nlml_solve", C.gp_nlml_solve, [0.2 * r(3), X, r(n)], (0, 1, 2)),
        ("vae_loss", C.vae_loss, [{"enc_W": 0.5 * r((d, 4)), "enc_b": 0.1 * r(4), "mu_W": 0.5 * r((4, 2)),
                                   "lv_W": 0.3 * r((4, 2)), "dec_W": 0.5 * r((2, d))},
                                  (rng.random((n, d)) > 0.5).astype(float), r((n, 2))], (0,)),
        ("huber", C.huber, [2 * r(n), r(n)], (0, 1)),
        ("piecewise_scalar_hi", C.piecewise_scalar, [np.abs(r(d)) + 0.5], (0,)),
        ("piecewise_scalar_lo", C.piecewise_scalar, [-np.abs(r(d)) - 0.5], (0,)),
        ("piecewise_scalar_mid", C.piecewise_scalar, [0.1 * r(d)], (0,)),
        ("stable_sigmoid_loss", C.stable_sigmoid_loss, [3 * r(n)], (0,)),
        ("stable_softplus", C.stable_softplus, [3 * r(n)], (0,)),
        ("horner", C.horner, [r(4), r(n)], (0, 1)),
        ("horner_scalar_list", C.horner_scalar_list, [r(4), r(n)], (0, 1)),
        ("cumsum_loss", C.cumsum_loss, [r(n)], (0,)),
        ("argmax_select", C.argmax_select, [r(n), r(n)], (0, 1)),
        ("argmax_rows", C.argmax_rows, [r((n, d))], (0,)),
        ("norms", C.norms, [r((n, d)), r(d)], (0, 1)),
        ("einsums", C.einsums, [r((d, d)), r((d, d)), r(d)], (0, 1, 2)),
        ("mlp_dataclass", C.mlp_dataclass, [C.MLPParams(r((d, 5)), r(5), r((5, 1)), r(1)), X, r(n)], (0, 1)),
        ("mlp_layers", C.mlp_layers, [[{"W": r((d, 5)), "b": r(5)}, {"W": r((5, 4)), "b": r(4)},
                                       {"W": r((4, 1)), "b": r(1)}], X, r(n)], (0, 1)),
        ("rnn", C.rnn, [{"Wh": 0.5 * r((4, 4)), "Wx": 0.5 * r((4, d)), "b": 0.1 * r(4)}, r((n, d))], (0, 1)),
        ("hinge_svm", C.hinge_svm, [r(d), A(0.1), X, 2 * yb - 1], (0, 1, 2)),
        ("total_variation", C.total_variation, [r((n, d))], (0,)),
        ("infonce", C.infonce, [r((n, d)), r((n, d))], (0, 1)),
        ("cosine_similarity", C.cosine_similarity, [r(d), r(d)], (0, 1)),
        ("kernel_ridge", C.kernel_ridge, [A(0.1), X, r(n)], (0, 1, 2)),
        ("inv_quadform", C.inv_quadform, [r((d, d)), r(d)], (0, 1)),
        ("trimmed_mean", C.trimmed_mean, [r(10 + v)], (0,)),
        ("median_loss", C.median_loss, [r(n)], (0,)),
        ("focal_loss", C.focal_loss, [2 * r(n), yb], (0,)),
        ("kl_categorical", C.kl_categorical, [r(d), r(d)], (0, 1)),
        ("welford_var", C.welford_var, [r(n)], (0,)),
        ("newton_sqrt", C.newton_sqrt, [1 + rng.random(n)], (0,)),
        ("prod_loss", C.prod_loss, [r(6 + 2 * v)], (0,)),
        ("max_axis", C.max_axis, [r((n, d))], (0,)),
        ("std_ddof", C.std_ddof, [r(n)], (0,)),
        ("polyval_loss", C.polyval_loss, [r(4), r(n)], (0, 1)),
        ("trapz_loss", C.trapz_loss, [r(n), np.cumsum(rng.random(n))], (0, 1)),
        ("outer_kron", C.outer_kron, [r(d), r(3)], (0, 1)),
        ("tril_mask", C.tril_mask, [r((d, d))], (0,)),
        ("eigh_loss", C.eigh_loss, [r((d, d))], (0,)),
        ("clip_grad_style", C.clip_grad_style, [r(d)], (0,)),
        ("float_scalar_mix", C.float_scalar_mix, [r(d)], (0,)),
        ("augmented_loop", C.augmented_loop, [r(n)], (0,)),
        ("log_det_chol", C.log_det_chol, [r((d, d))], (0,)),
        ("matrix_power_loss", C.matrix_power_loss, [0.5 * r((d, d))], (0,)),
        ("softmax_temperature", C.softmax_temperature, [r(d), A(0.7 + 0.1 * r())], (0, 1)),
        ("where_nan_guard", C.where_nan_guard, [r(n)], (0,)),
        ("hypot_sum", C.hypot_sum, [r(n), r(n)], (0, 1)),
        # second batch
        ("l2_generator", C.l2_generator, [{"w": r(d), "b": r(1)}, X, r(n)], (0, 1)),
        ("rotation", C.rotation, [A(r()), r((n, 2))], (0, 1)),
        ("rotation_scalar_index", C.rotation_scalar_index, [r(2), r((n, 2))], (0, 1)),
        ("discounted_returns", C.discounted_returns, [r(n), A(0.9)], (0, 1)),
        ("fill_loop", C.fill_loop, [r(n)], (0,)),
        ("list_to_array", C.list_to_array, [r(d)], (0,)),
        ("subtract_outer", C.subtract_outer, [r(n)], (0,)),
        ("logaddexp_reduce", C.logaddexp_reduce, [r(n)], (0,)),
        ("convolve_same", C.convolve_same, [r(n), r(3)], (0, 1)),
        ("fft_energy", C.fft_energy, [r(n)], (0,)),
        ("fft_filter", C.fft_filter, [r(n)], (0,)),
        ("cross_angular", C.cross_angular, [r((n, 3)), r((n, 3))], (0, 1)),
        ("mask_index", C.mask_index, [r(n)], (0,)),
        ("sum_where", C.sum_where, [r(n)], (0,)),
        ("nan_reductions", C.nan_reductions, [r(n)], (0,)),
        ("builtin_max_abs", C.builtin_max_abs, [r(n)], (0,)),
        ("sorted_builtin", C.sorted_builtin, [r(n)], (0,)),
        ("pad_stencil", C.pad_stencil, [r(n)], (0,)),
        ("pad_wrap", C.pad_wrap, [r(n)], (0,)),
        ("concat_stack", C.concat_stack, [r(n), r(n)], (0, 1)),
        ("split_tile", C.split_tile, [r(2 * n)], (0,)),
        ("argsort_gather", C.argsort_gather, [r(n), r(n)], (0, 1)),
        ("linspace_traced", C.linspace_traced, [A(r()), A(2 + r())], (0, 1)),
        ("meshgrid_field", C.meshgrid_field, [A([0.1 * r(), 0.1 * r(), 1 + 0.1 * r()])], (0,)),
        ("pow_variants", C.pow_variants, [0.5 + rng.random(n)], (0,)),
        ("neg_base_pow", C.neg_base_pow, [r(n)], (0,)),
        ("methods", C.methods, [0.5 + rng.random((n, d))], (0,)),
        ("reshape_order", C.reshape_order, [r((n, d))], (0,)),
        ("swap_expand", C.swap_expand, [r((n, d))], (0,)),
        ("einsum_ellipsis", C.einsum_ellipsis, [r((2, n, d)), r((2, d, 3))], (0, 1)),
        ("tensordot_loss", C.tensordot_loss, [r((2, 3, 4)), r((3, 4, 2))], (0, 1)),
        ("linalg_misc", C.linalg_misc, [r((d, d))], (0,)),
        ("lstsq_loss", C.lstsq_loss, [r((n, d)), r(n)], (0, 1)),
        ("norms_more", C.norms_more, [r((n, d)), r(d)], (0, 1)),
        ("dtype_eps", C.dtype_eps, [r(n)], (0,)),
        ("float32_constant", C.float32_constant, [r(n)], (0,)),
        ("reduce_helper", C.reduce_helper, [[A(r()), A(r()), A(r())]], (0,)),
        ("clip_array_bounds", C.clip_array_bounds, [2 * r(n), -0.5 + 0.1 * r(n), 0.5 + 0.1 * r(n)], (0, 1, 2)),
        ("special_elementwise", C.special_elementwise, [np.clip(r(n), -1.5, 2.5)], (0,)),
        ("periodic_bc", C.periodic_bc, [r(n)], (0,)),
        ("searchsorted_interp", C.searchsorted_interp, [r(n), r(5)], (0, 1)),
        ("interp_loss", C.interp_loss, [r(n), r(5)], (0, 1)),
        ("block_matrix", C.block_matrix, [r(d), r(2)], (0, 1)),
        ("item_scalar", C.item_scalar, [r(n)], (0,)),
        ("atleast", C.atleast, [r(n)], (0,)),
        ("weighted_quantile_like", C.weighted_quantile_like, [r(n)], (0,)),
        ("walrus_loop", C.walrus_loop, [r(n)], (0,)),
        ("cumsum_axis", C.cumsum_axis, [r((n, d))], (0,)),
        ("maximum_accumulate", C.maximum_accumulate, [r(n)], (0,)),
        ("nonzero_idx", C.nonzero_idx, [r(n)], (0,)),
        ("dict_params_loop", C.dict_params_loop, [{"b": r(d), "a": r(d), "c": r(d)}, r(d)], (0, 1)),
        ("matvec_1d", C.matvec_1d, [r((d, d)), r(d)], (0, 1)),
    ]


NAMES = [case[0] for case in corpus(np.random.default_rng(0), 0)]


def _g1(fun, a, *rest):
    y = fun(a, *rest)
    return y, [dlgradient(y, a)]


def _g2(fun, a, b, *rest):
    y = fun(a, b, *rest)
    return y, list(dlgradient(y, a, b))


def _g3(fun, a, b, c, *rest):
    y = fun(a, b, c, *rest)
    return y, list(dlgradient(y, a, b, c))


def _g4(fun, a, b, c, d):
    y = fun(a, b, c, d)
    return y, list(dlgradient(y, a, b, c, d))


GRADIENT_OF_FIRST = {1: _g1, 2: _g2, 3: _g3, 4: _g4}      # the differentiated arguments come first


def _leaves(v, path=()):
    if isinstance(v, dict):
        for k in v:
            yield from _leaves(v[k], path + (k,))
    elif isinstance(v, (list, tuple)):
        for i, e in enumerate(v):
            yield from _leaves(e, path + (i,))
    elif hasattr(v, "__dataclass_fields__"):
        for k in v.__dataclass_fields__:
            yield from _leaves(getattr(v, k), path + (k,))
    else:
        yield path, v


def _get(v, path):
    for p in path:
        v = getattr(v, p) if hasattr(v, "__dataclass_fields__") else v[p]
    return v


def _map(v, f):
    if isinstance(v, dict):
        return {k: _map(e, f) for k, e in v.items()}
    if isinstance(v, list):
        return [_map(e, f) for e in v]
    if hasattr(v, "__dataclass_fields__"):
        return type(v)(**{k: _map(getattr(v, k), f) for k in v.__dataclass_fields__})
    return f(v)


def _float(a):
    return isinstance(a, np.ndarray) and a.dtype.kind == "f"


def _replaced(v, path, x):
    v = _map(v, lambda a: a.copy() if isinstance(a, np.ndarray) else a)
    if not path:
        return x
    holder = _get(v, path[:-1])
    if hasattr(holder, "__dataclass_fields__"):
        setattr(holder, path[-1], x)
    else:
        holder[path[-1]] = x
    return v


def run_corpus_case(name, v, dtype, seed):
    case = next(c for c in corpus(np.random.default_rng(seed), v) if c[0] == name)
    _, fun, args, diff = case
    args = [_map(a, lambda x: x.astype(dtype) if _float(x) else x) for a in args]
    expected = fun(*args)
    traced = [_map(a, lambda x: dlarray(x) if _float(x) else x) if i in diff else a for i, a in enumerate(args)]
    assert tuple(diff) == tuple(range(len(diff)))
    y, grads = dlfeval(GRADIENT_OF_FIRST[len(diff)], fun, *traced)
    tol = 1e-10 if dtype == np.float64 else 1e-4
    assert_close(D(y), expected, rtol=tol, atol=tol, what=f"{name}: value")
    assert D(y).dtype == np.asarray(expected).dtype, f"{name}: value dtype"
    args64 = [_map(a, lambda x: x.astype(np.float64) if _float(x) else x) for a in args]
    for i, g in zip(diff, grads):
        for path, leaf in _leaves(args[i]):
            if not _float(leaf):
                continue
            got = D(_get(g, path))
            assert got.dtype == leaf.dtype and got.shape == leaf.shape, f"{name} arg{i}{path}: {got.dtype} {got.shape}"

            def f(x, i=i, path=path):
                return fun(*[_replaced(a, path, x) if k == i else a for k, a in enumerate(args64)])
            expected_g = numerical_gradient(f, [np.asarray(leaf, np.float64).copy()], 0)
            rtol, atol = (1e-5, 1e-6) if dtype == np.float64 else (2e-2, 2e-2)
            assert_close(got, expected_g, rtol=rtol, atol=atol, what=f"{name} d/darg{i}{path}")


@pytest.mark.parametrize("name", NAMES)
def test_corpus_float64_two_sizes(name):
    with np.errstate(all="ignore"):
        run_corpus_case(name, 0, np.float64, 0)
        run_corpus_case(name, 1, np.float64, 1)        # other shapes and values: the cached code


@pytest.mark.parametrize("name", NAMES)
def test_corpus_float32(name):
    with np.errstate(all="ignore"):
        run_corpus_case(name, 2, np.float32, 3)
