"""Red team (wt-S): scipy.special / scipy.stats / scipy.linalg rules and gradient dicts edited in
the loss, written as users write them.  Values are compared with plain scipy (bit-equal), gradients
with central differences (tests/gradcheck.py)."""
from __future__ import annotations

import math

import numpy as np
import pytest

scipy = pytest.importorskip("scipy")
import scipy.linalg as sla            # noqa: E402
import scipy.special as sp            # noqa: E402
import scipy.stats as st              # noqa: E402
from scipy.stats import norm          # noqa: E402

import sct                            # noqa: E402
from sct import CompileError, EvaluationError, dlarray, dlfeval, dlgradient, extractdata   # noqa: E402

from gradcheck import assert_close, check_two_inputs, numerical_gradient   # noqa: E402

X3 = np.array([0.3, -0.2, 1.1])
T3 = np.array([0.1, 0.4, 0.7])
RNG = np.random.default_rng(10)
A_STACK = RNG.uniform(-1, 1, (2, 3, 3)) + 3 * np.eye(3)
Z3 = np.array([0.3 + 0.2j, -0.2 + 0.5j, 1.1 - 0.4j])


def _first(f, x):
    y = f(x)
    return y, dlgradient(y, x)


def value_and_gradient(f, x):
    y, g = dlfeval(_first, f, dlarray(x))
    return np.asarray(extractdata(y)), np.asarray(extractdata(g))


def check_one(f, x, rtol=1e-5, atol=1e-6):
    """sct's value (bit-equal to plain Python) and gradient (central differences) of f at x."""
    y, g = value_and_gradient(f, x)
    expected = f(x.copy())
    np.testing.assert_array_equal(y, expected)
    assert_close(g, numerical_gradient(lambda a: np.real(f(a)), [x.copy()], 0), rtol, atol, what=f.__name__)
    return g


# --- found: batched scipy.linalg (scipy >= 1.15 solves stacks of matrices) --------------------------

def batched_triangular_transposed(x, t):
    """Was silently wrong: the adjoint of a for trans=1 transposed all axes of the stack."""
    a = np.reshape(x, (2, 3, 3))
    r = sla.solve_triangular(a, np.reshape(t, (2, 3, 1)), trans=1, lower=True)
    s = sla.solve_triangular(a, t[:3], trans="T")
    return np.sum(r * np.arange(6.0).reshape(2, 3, 1)) + np.sum(s * np.array([[1.0, -2.0, 0.5]]))


def batched_symmetric_solve(x, t):
    a = np.reshape(x, (2, 3, 3))
    s = a @ np.swapaxes(a, -1, -2)
    return np.sum(sla.solve(s, np.reshape(t, (2, 3, 1)), assume_a="sym") * np.arange(6.0).reshape(2, 3, 1)) \
        + np.sum(sla.solve(s, np.reshape(t, (2, 3, 1)), assume_a="pos", lower=True) ** 2)


def batched_cho_solve(x, t):
    a = np.reshape(x, (2, 3, 3))
    s = a @ np.swapaxes(a, -1, -2)
    c = sla.cho_factor(s)
    cl = sla.cho_factor(s, lower=True)
    return np.sum(sla.cho_solve(c, np.reshape(t, (2, 3, 1))) * np.arange(6.0).reshape(2, 3, 1)) \
        + np.sum(sla.cho_solve(cl, t[:3]) * np.array([1.0, 2.0, -1.0]))


@pytest.mark.parametrize("case", [batched_triangular_transposed, batched_symmetric_solve, batched_cho_solve])
def test_stacks_of_matrices_in_scipy_linalg(case):
    check_two_inputs(case, A_STACK.reshape(-1).copy(), RNG.uniform(-1, 1, 6), order=1)


def test_batched_triangular_transposed_second_order():
    check_two_inputs(batched_triangular_transposed, A_STACK.reshape(-1).copy(), RNG.uniform(-1, 1, 6))


# --- found: complex arguments --------------------------------------------------------------------

def complex_exp1(z):
    return np.sum(np.abs(sp.exp1(z + 1)) ** 2)


def complex_expi(z):
    return np.sum(np.abs(sp.expi(z + 1)) ** 2 + np.real(sp.expi(z * 0.5)))


@pytest.mark.parametrize("f", [complex_exp1, complex_expi])
def test_exp1_expi_at_complex_arguments(f):
    """Were silently wrong: the rules lacked the conjugate of the derivative."""
    check_one(f, Z3.copy())


def complex_norm_logpdf(z):
    return np.sum(np.abs(norm.logpdf(z)) ** 2)


def complex_cauchy(z):
    return np.real(np.sum(st.cauchy.logpdf(z, 0.5)))


def complex_t_loc(z):
    return np.sum(np.abs(st.t.logpdf(1.0, 3.0, loc=z)) ** 2)


def complex_mvn(z):
    return np.abs(st.multivariate_normal.logpdf(z, np.zeros(3), np.eye(3))) ** 2


@pytest.mark.filterwarnings("ignore::numpy.exceptions.ComplexWarning")
@pytest.mark.parametrize("f", [complex_norm_logpdf, complex_cauchy, complex_t_loc, complex_mvn])
def test_complex_arguments_of_distributions_are_refused(f):
    """Were silently wrong (scipy computes something at complex numbers; the rules are real)."""
    with pytest.raises(EvaluationError, match="complex numbers are not differentiated") as info:
        value_and_gradient(f, Z3.copy())
    assert "test_redteam_dec10s.py" in str(info.value)


# --- found: the edges of the supports --------------------------------------------------------------

def gamma_at_zero(a):
    """gamma with shape 1 (an exponential) at x = loc: scipy's density is 1/scale there."""
    return np.sum(st.gamma.logpdf(np.array([0.0, 1.0]), 1.0, scale=1 + a[0] ** 2)) \
        + np.sum(st.gamma.pdf(np.array([0.0, 0.5]), 1.0, loc=0.5 * a[1] - a[1] / 2, scale=2.0 + a[2]))


def beta_at_edges(a):
    return np.sum(st.beta.logpdf(np.array([0.0, 0.5]), 1.0, 2 + a[0] ** 2)) \
        + np.sum(st.beta.logpdf(np.array([1.0, 0.3]), 2 + a[1] ** 2, 1.0)) \
        + np.sum(st.beta.pdf(np.array([0.0, 1.0]), 1.0, 1.0, scale=1 + a[2] ** 2))


@pytest.mark.parametrize("f", [gamma_at_zero, beta_at_edges])
def test_edges_of_the_support(f):
    """Were silently 0: gamma and beta at the edge of the support, where scipy's density is finite."""
    check_one(f, np.array([0.3, 0.2, 1.1]))


def incomplete_gamma_at_zero(x):
    return np.sum(sp.gammainc(1.0, x) * np.array([1.0, 2.0])) + np.sum(sp.gammaincc(1.0, x) * 0.5) \
        + np.sum(sp.gammainc(np.array([2.0, 1.5]), x))


def test_incomplete_gamma_at_zero():
    """Was nan: 0 * log 0 in x^(a-1) for a = 1 at x = 0 (the derivative there is 1; central
    differences cross into x < 0, where scipy gives nan: compared with the closed form)."""
    x = np.array([0.0, 0.5])
    y, g = value_and_gradient(incomplete_gamma_at_zero, x)
    np.testing.assert_array_equal(y, incomplete_gamma_at_zero(x))
    a = np.array([2.0, 1.5])
    expected = np.exp(-x) * (np.array([1.0, 2.0]) - 0.5) + x ** (a - 1) * np.exp(-x) / sp.gamma(a)
    assert_close(g, expected, rtol=1e-12, atol=1e-14)


def test_gamma_shape_derivative_at_zero_is_minus_infinity():
    def f(a):
        return st.gamma.logpdf(0.0, a[0] ** 2)
    _, g = value_and_gradient(f, np.array([1.0]))
    assert g[0] == -np.inf                          # d/da (a - 1) log z at z = 0: log 0


# --- user-style programs: values bit-equal, first and second derivatives ----------------------------

def norm_keywords_broadcast(x, t):
    return np.sum(norm.logpdf(x[:, None], loc=t, scale=1.5 + t ** 2)) + np.sum(st.norm.cdf(x, t[0], 2.0)) \
        + np.sum(st.norm.sf(x, scale=t[1] + 2)) + np.sum(st.norm.logcdf(x * 20 - 5, loc=t[0])) \
        + np.sum(st.norm.logsf(x * 3, t[1]))


def imports_inside(x, t):
    from scipy.stats import norm as N
    import scipy.special as S
    total = 0.0
    for k in range(len(x)):
        total = total + N.ppf(0.5 + 0.4 * np.tanh(x[k]), loc=t[0], scale=1 + t[1] ** 2)
    return total + np.sum(N.pdf(x, t[0])) + np.sum(S.gammaln(x + 2) * S.digamma(t[:, None] + 1))


def special_mix(x, t):
    p = sp.expit(x)
    return np.sum(sp.logit(p) * t[0] + sp.log_expit(x) + sp.softplus(x * t[1]) + sp.ndtr(x) + sp.log_ndtr(x)
                  + sp.ndtri(p) + sp.erfinv(p - 0.5) + sp.erfcinv(p) + sp.erfcx(x)) \
        + np.sum(sp.xlogy(x, 1 + t) + sp.xlog1py(t[0], x ** 2) + sp.entr(1 + x ** 2) + sp.rel_entr(1 + x ** 2, 1 + t)
                 + sp.kl_div(1 + x ** 2, 2 + t)) \
        + np.sum(sp.i0(x) + sp.i1(x) + sp.i0e(x) + sp.i1e(x) + sp.exp1(1 + x ** 2) + sp.expi(1 + x ** 2)) \
        + np.sum(sp.gammainc(2.5, 1 + x ** 2) + sp.gammaincc(1.5, 1 + t ** 2) + sp.zeta(3.0, 1 + t ** 2)) \
        + sp.multigammaln(3 + t[0], 2) + math.lgamma(2 + x[0]) * math.gamma(1.5 + t[0]) \
        + np.sum(sp.betaln(x + 2, t[:, None] + 1) + sp.beta(x + 2, 2.0) + sp.polygamma(2, x + 2) + sp.psi(t + 3))


def distributions_mix(x, t):
    k = np.array([0.0, 2.0, 5.0])
    return np.sum(st.t.logpdf(x, 3 + t[0], loc=t[1], scale=1 + t[2] ** 2) + st.t.pdf(x, df=4.0 + t[0])
                  + st.gamma.logpdf(x + 2, a=2 + t[0], scale=1 + t[1] ** 2) + st.gamma.pdf(x + 2, 2.5, loc=t[1])
                  + st.beta.logpdf(sp.expit(x), 2 + t[0], b=3 + t[1]) + st.beta.pdf(sp.expit(x), a=2.0, b=3.0)
                  + st.expon.logpdf(x + 2, loc=t[0], scale=1 + t[1] ** 2) + st.expon.pdf(x + 2, scale=2.0)
                  + st.laplace.logpdf(x, t[0], 1 + t[1] ** 2) + st.cauchy.logpdf(x, loc=t[0], scale=1 + t[2] ** 2)
                  + st.logistic.logpdf(x, t[0], 1 + t[1] ** 2)
                  + st.poisson.logpmf(k, 1 + x ** 2) + st.poisson.pmf(k, mu=2 + t ** 2))


def mvn_and_linalg(x, t):
    c = np.array([[2.0, 0.3, 0.1], [0.3, 1.5, 0.2], [0.1, 0.2, 1.0]]) + t[0] ** 2 * np.eye(3)
    rows = np.stack([x, x ** 2])
    a = np.outer(x, t) + 3 * np.eye(3)
    s = a @ a.T
    r = sla.solve(a, t) + sla.solve(s, t, assume_a="pos") + sla.solve_triangular(a, t, trans=2, unit_diagonal=True)
    return np.sum(st.multivariate_normal.logpdf(rows, mean=t, cov=c)) + st.multivariate_normal.pdf(x, t, c) \
        + np.sum(r) + sla.det(a) + np.sum(sla.inv(s, assume_a="pos", lower=True) * np.arange(9.0).reshape(3, 3)) \
        + np.sum(sla.expm(0.3 * a)) + np.sum(sla.cholesky(s, lower=True) * np.arange(9.0).reshape(3, 3))


@pytest.mark.parametrize("case", [norm_keywords_broadcast, imports_inside, special_mix, distributions_mix,
                                  mvn_and_linalg])
def test_user_programs_first_and_second_order(case):
    check_two_inputs(case, X3.copy(), T3.copy())


def gammaln_f32(a):
    return np.sum(sp.gammaln(a + 2) + sp.digamma(a + 2) + norm.logpdf(a, 0.1, 2.0) + st.t.logpdf(a, 3.0)
                  + sp.gammainc(2.0, a + 2) + st.gamma.logpdf(a + 2, 2.0) + sp.log_ndtr(a))


def test_float32_values_and_gradients():
    x = X3.astype(np.float32)
    y, g = value_and_gradient(gammaln_f32, x)
    expected = gammaln_f32(x.copy())
    np.testing.assert_array_equal(y, expected)
    assert y.dtype == np.asarray(expected).dtype and g.dtype == np.float32
    assert_close(g, numerical_gradient(gammaln_f32, [X3.copy()], 0), rtol=1e-3, atol=1e-4)


def forward_case(a):
    m = np.reshape(np.concatenate([a, a ** 2, a[::-1]]), (3, 3)) + 3 * np.eye(3)
    s = m @ m.T
    return np.sum(norm.logcdf(a, loc=0.2, scale=1 + a[0] ** 2) + sp.i1e(a) + st.t.logpdf(a, 3 + a[1] ** 2)) \
        + np.sum(sla.solve_triangular(m, a, trans=1, lower=True)) + np.sum(sla.cho_solve(sla.cho_factor(s), a)) \
        + st.multivariate_normal.logpdf(a, np.zeros(3), s) + np.sum(sp.gammainc(2.0, a ** 2 + 0.5))


def test_jvp_and_hvp():
    v = np.array([0.7, -0.4, 0.25])
    y, t = sct.jvp(forward_case, X3.copy(), v)
    assert float(np.asarray(extractdata(y) if hasattr(y, "data") else y)) == forward_case(X3.copy())
    fd = numerical_gradient(lambda s: forward_case(X3 + s[0] * v), [np.array([0.0])], 0)[0]
    assert_close(np.asarray(extractdata(t) if hasattr(t, "data") else t), fd)
    h = sct.hvp(forward_case, X3.copy(), v)
    expected = numerical_gradient(lambda a: float(np.sum(value_and_gradient(forward_case, a)[1] * v)),
                                  [X3.copy()], 0)
    assert_close(np.asarray(extractdata(h) if hasattr(h, "data") else h), expected)


# --- gradient dicts edited in the loss --------------------------------------------------------------

def dict_loss(p):
    return np.sum(norm.logpdf(p["w"], loc=p["b"], scale=1.5)) + np.sum(sp.gammaln(p["w"] ** 2 + 1))


def edited_gradients(p):
    loss = dict_loss(p)
    g = dlgradient(loss, p, EnableHigherDerivatives=True)
    for k in g:
        g[k] = g[k] ** 2 + p[k]
    h = g
    h["b"] = np.clip(h["b"], -0.5, 0.5)
    z = np.sum(g["w"] * p["w"]) + np.sum(g["b"])
    return z, g, dlgradient(z, p)


P = {"w": np.array([0.3, -0.2, 1.1]), "b": np.array([0.1])}


def _plain_gradients(p):
    return dlgradient(dict_loss(p), p)


def test_gradient_dict_edited_in_the_loss():
    z, g, gz = dlfeval(edited_gradients, {k: dlarray(v) for k, v in P.items()})

    def grads(p):
        r = dlfeval(_plain_gradients, {k: dlarray(v) for k, v in p.items()})
        return {k: np.asarray(extractdata(r[k])) for k in p}

    def z_of(p):
        gg = grads(p)
        return np.sum((gg["w"] ** 2 + p["w"]) * p["w"]) + np.sum(np.clip(gg["b"] ** 2 + p["b"], -0.5, 0.5))

    for k in P:                                       # the first gradients against differences
        expected = numerical_gradient(lambda a: dict_loss({**P, k: a}), [P[k].copy()], 0)
        assert_close(grads(P)[k], expected, what=k)
    g0 = grads(P)
    assert_close(extractdata(g["w"]), g0["w"] ** 2 + P["w"])
    assert_close(extractdata(g["b"]), np.clip(g0["b"] ** 2 + P["b"], -0.5, 0.5))
    assert_close(extractdata(z), z_of(P), rtol=1e-12)
    for k in P:
        expected = numerical_gradient(lambda a: z_of({**P, k: a}), [P[k].copy()], 0)
        assert_close(extractdata(gz[k]), expected, rtol=1e-5, atol=1e-6, what=f"d z / d {k}")


# --- refused clearly (not silently wrong) ------------------------------------------------------------

def frozen_traced(a):
    return np.sum(norm(a[0], 2.0).logpdf(a))


def frozen_keyword(a):
    return np.sum(st.norm(loc=a[0]).logpdf(1.0))


def traced_shape_of_gammainc(a):
    return np.sum(sp.gammainc(a + 2, 1.0))


def traced_order_of_zeta(a):
    return np.sum(sp.zeta(a + 2, 2.0))


def pdf_without_rule(a):
    return np.sum(st.laplace.pdf(a, scale=2.0 + a[0]))


@pytest.mark.parametrize("f", [frozen_traced, frozen_keyword, traced_shape_of_gammainc, traced_order_of_zeta,
                               pdf_without_rule])
def test_refused_at_compile_time(f):
    with pytest.raises(CompileError) as info:
        value_and_gradient(f, X3.copy())
    assert "test_redteam_dec10s.py" in str(info.value)


def mvn_singular(a):
    return st.multivariate_normal.logpdf(a, np.zeros(3), np.eye(3) * (1 + a[0] ** 2), allow_singular=True)


def mvn_vector_cov(a):
    return st.multivariate_normal.logpdf(a, np.zeros(3), 1 + a ** 2)


def mvn_number_cov(a):
    return st.multivariate_normal.logpdf(a[0], 0.0, 1 + a[1] ** 2)


def solve_banded_assumption(a):
    return np.sum(sla.solve(np.outer(a, a) + 3 * np.eye(3), a, assume_a="tridiagonal"))


def solve_transposed(a):
    return np.sum(sla.solve(np.outer(a, a) + 3 * np.eye(3), a, transposed=True))


@pytest.mark.parametrize("f, what", [(mvn_singular, "allow_singular"), (mvn_vector_cov, "2-D matrix"),
                                     (mvn_number_cov, "2-D matrix"), (solve_banded_assumption, "assume_a"),
                                     (solve_transposed, "transposed")])
def test_refused_when_differentiated(f, what):
    with pytest.raises(EvaluationError, match=what) as info:
        value_and_gradient(f, X3.copy())
    assert "test_redteam_dec10s.py" in str(info.value)


def poisson_at_zero_rate(mu):
    k = np.array([0.0, 0.0, 2.0])
    return np.sum(st.poisson.logpmf(k, mu * np.array([1.0, 1.0, 1.0]))) + np.sum(st.poisson.pmf(k[:2], mu[:2] ** 2))


def test_poisson_at_rate_zero():
    """Was nan: k / mu at k = mu = 0 (logpmf(0, mu) = -mu: the derivative is -1)."""
    mu = np.array([0.0, 0.0, 1.5])
    y, g = value_and_gradient(poisson_at_zero_rate, mu)
    np.testing.assert_array_equal(y, poisson_at_zero_rate(mu))
    expected = np.array([-1.0, -1.0, 2 / 1.5 - 1]) + np.array([0.0, 0.0, 0.0])   # pmf(0, m^2) = e^-m^2: 0 at 0
    assert_close(g, expected, rtol=1e-12, atol=1e-14)
    check_one(poisson_at_zero_rate, np.array([0.4, 0.7, 1.5]))


def t_infinite_df(x, t):
    df = np.array([np.inf, 3.0, np.inf])
    return np.sum(st.t.logpdf(x, df, loc=t[0], scale=1 + t[1] ** 2)) + np.sum(st.t.pdf(x * t[2], df=np.inf))


def test_student_t_with_infinite_df():
    """Was nan (inf / inf): scipy's t at df = inf is the normal density."""
    check_two_inputs(t_infinite_df, X3.copy(), T3.copy())


def one_matrix_stacked_right_sides(x, t):
    a = np.reshape(x, (3, 3))
    w = np.array([[[1.0], [-2.0], [0.5]], [[0.3], [0.7], [-1.1]]])
    return np.sum(sla.solve_triangular(a, np.reshape(t, (2, 3, 1)), trans=1) * w) \
        + np.sum(sla.solve_triangular(a, np.reshape(t, (2, 3, 1)), lower=True) * w)


def test_solve_triangular_one_matrix_stacked_right_sides():
    """Was an error: a's adjoint kept the stack's axis (now summed onto a)."""
    check_two_inputs(one_matrix_stacked_right_sides, A_STACK[0].reshape(-1).copy(), RNG.uniform(-1, 1, 6))


# --- found: writes into the items of a gradient dict were made on a copy --------------------------

def write_into_gradient_item(p):
    loss = np.sum(p["w"] ** 2) + np.sum(p["b"])
    g = dlgradient(loss, p)
    g["w"][0] = 100.0
    return g


def inplace_on_gradient_item(p):
    loss = np.sum(p["w"] ** 2) + np.sum(p["b"])
    g = dlgradient(loss, p)
    gw = g["w"]
    gw *= 3
    return g


def nested_gradient_dict(p):
    loss = np.sum(p["l1"]["w"] ** 2) + np.sum(p["l2"]["b"] * p["l1"]["w"])
    g = dlgradient(loss, p)
    g["l1"]["w"] = g["l1"]["w"] * 2
    return g


def rebinding_gradient_items(p):
    loss = np.sum(p["w"] ** 2) + np.sum(p["b"])
    g = dlgradient(loss, p)
    for k in g:
        g[k] *= 2
    g["b"] = g["b"] + g["w"][0]
    return g


@pytest.mark.parametrize("f, params, expected", [
    (write_into_gradient_item, {"w": np.array([0.3, -0.2]), "b": np.array([1.0])},
     {"w": [100.0, -0.4], "b": [1.0]}),
    (inplace_on_gradient_item, {"w": np.array([0.3, -0.2]), "b": np.array([1.0])},
     {"w": [1.8, -1.2], "b": [1.0]}),
    (nested_gradient_dict, {"l1": {"w": np.array([0.3, -0.2, 1.1])}, "l2": {"b": np.array([0.1])}},
     {"l1": {"w": [1.4, -0.6, 4.6]}, "l2": {"b": [1.2]}})])
def test_writes_into_items_of_a_gradient_dict(f, params, expected):
    """Were silently dropped (g kept its old items): the dict dlgradient returns held its items as
    nothing, so a write into one was differentiated as a new value of a temporary only.  Refused
    first; now followed (sct/copy_aliases.py writes the changed item back: ``g[k] = item``)."""
    def wrap(v):
        return {k: wrap(x) for k, x in v.items()} if isinstance(v, dict) else dlarray(v)

    def check(got, want):
        if isinstance(want, dict):
            assert set(got) == set(want)
            for k in want:
                check(got[k], want[k])
        else:
            np.testing.assert_allclose(extractdata(got), want)
    check(dlfeval(f, wrap(params)), expected)


def test_rebinding_items_of_a_gradient_dict_still_works():
    p = {"w": np.array([0.3, -0.2]), "b": np.array([1.0])}
    g = dlfeval(rebinding_gradient_items, {k: dlarray(v) for k, v in p.items()})
    np.testing.assert_allclose(extractdata(g["w"]), 4 * p["w"])
    np.testing.assert_allclose(extractdata(g["b"]), 2.0 + 4 * p["w"][0])
