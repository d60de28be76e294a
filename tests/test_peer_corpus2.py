"""Red team (peer corpus 2): functions written the way autograd's, tangent's and JAX's test suites
write them, run through dlfeval/dlgradient.  Values against plain numpy, gradients against
central differences (tests/gradcheck.py)."""
from __future__ import annotations

import numpy as np
import pytest

import sct
from sct import CompileError, EvaluationError, dlarray, dlfeval, dlgradient, extractdata
from gradcheck import assert_close, numerical_gradient

X = np.array([0.5, -1.0, 2.0])


# --- writes into an array made by np.zeros/np.ones after storing an argument into it -------------
# (`y[0] = x` copies x's numbers: a later `y[1] += x` changes only y; it used to be refused
# with "x is an argument ... and would change too")

def rows_then_augmented(x):
    y = np.zeros((3, 3))
    y[0] = x
    y[1] += x
    y[2] -= x * 2
    return np.sum(y ** 3) + np.sum(y * x)


def slice_then_strided_scale(x):
    y = np.ones(6)
    y[1:4] = x
    y[::2] *= 2.0
    return np.sum(y * y)


def like_then_product(x):
    y = np.zeros_like(x)
    y[1:] = x[:2]
    y[1:] *= x[1:]
    return np.sum(y) * x[0]


@pytest.mark.parametrize("f", [rows_then_augmented, slice_then_strided_scale, like_then_product])
def test_augmented_write_into_a_fresh_array_holding_an_argument(f):
    x = X.copy()
    y, g = dlfeval(grad_of_row_writes, f, dlarray(x))
    assert_close(extractdata(y), f(X.copy()))
    assert_close(extractdata(g), numerical_gradient(lambda v: f(v.copy()), [X.copy()], 0), 1e-5, 1e-6)
    assert np.array_equal(x, X)                  # the argument is unchanged, as in Python


def grad_of_row_writes(f, x):
    y = f(x)
    return y, dlgradient(y, x)


def object_array_store(x):
    y = np.zeros(3, dtype=object)
    y[0] = x
    y[0] += 1.0                                  # changes x itself in Python: still refused
    s = np.sum(x)
    return s, dlgradient(s, x)


def test_an_object_array_holding_an_argument_is_still_refused():
    # (red team Y, dec 22: an object array's item is no number for the alias analysis now, so the
    # write is refused when it runs, the item found to be an array, at the same line)
    with pytest.raises((CompileError, EvaluationError)) as info:
        dlfeval(object_array_store, dlarray(X))
    assert info.value.lineno == object_array_store.__code__.co_firstlineno + 3


# --- a call that does not match the op's signature names the user's line (it said line 0) ------

def sum_where(x):
    s = np.sum(x,
               wher=x > 0)                      # misspelt (where= itself is differentiated now)
    return s, dlgradient(s, x)


def test_signature_mismatch_names_the_users_line():
    with pytest.raises(CompileError) as info:
        dlfeval(sum_where, dlarray(X))
    assert info.value.lineno == sum_where.__code__.co_firstlineno + 1
    assert "wher" in str(info.value)


# --- dlgradient with respect to a second name of a value (it gave zeros) ----------------------

def second_name(x):
    x0 = x
    y = np.sum(x ** 2)
    return y, dlgradient(y, x0)


def second_name_then_rebind(x):
    x_in = x
    x = x * 3.0
    y = np.sum(x ** 2) + np.sum(np.sin(x_in))
    return y, dlgradient(y, x_in)


def second_name_after_use(x):
    y = np.sum(np.exp(x))
    x0 = x
    return y, dlgradient(y, x0)


def chain_of_names(x):
    a = x
    b = a
    y = np.sum(x ** 2) + np.sum(b * a)
    return y, dlgradient(y, b)


def second_name_of_a_dict(p):
    q = p
    y = np.sum(p["w"] ** 2)
    return y, dlgradient(y, q)


@pytest.mark.parametrize("f, plain", [
    (second_name, lambda x: np.sum(x ** 2)),
    (second_name_then_rebind, lambda x: np.sum((3 * x) ** 2) + np.sum(np.sin(x))),
    (second_name_after_use, lambda x: np.sum(np.exp(x))),
    (chain_of_names, lambda x: 2 * np.sum(x ** 2)),
])
def test_gradient_with_respect_to_a_second_name(f, plain):
    y, g = dlfeval(f, dlarray(X))
    assert_close(extractdata(y), plain(X))
    assert_close(extractdata(g), numerical_gradient(plain, [X.copy()], 0), 1e-5, 1e-6)


def test_gradient_with_respect_to_a_second_name_of_a_dict():
    y, g = dlfeval(second_name_of_a_dict, {"w": dlarray(X)})
    assert_close(extractdata(g["w"]), 2 * X)


def scalar_second_name(a):
    a0 = a
    return np.sin(a) * a, dlgradient(np.sin(a) * a, a0)


def test_second_name_of_a_scalar_and_second_derivative():
    y, g = dlfeval(scalar_second_name, dlarray(0.7))
    assert_close(extractdata(g), np.cos(0.7) * 0.7 + np.sin(0.7))
    v = np.array([1.0, -2.0, 0.5])
    assert_close(extractdata(dlfeval(second_name_hessian, dlarray(X), v)), 6 * X * v)


def second_name_hessian(x, v):
    x0 = x
    y = np.sum(x ** 3)
    g = dlgradient(y, x0)                      # 3 x^2
    return dlgradient(np.sum(g * v), x0)       # 6 x v


def second_name_of_a_rebound_name(x):
    x0 = x
    for _ in range(3):
        x = x * 1.5
    y = np.sum(x ** 2)
    return y, dlgradient(y, x0)


def test_second_name_of_a_rebound_name():
    """x0 holds x's value at the call (dec23: was refused; tests/test_entry_copy_dec23.py): y = 1.5^6 |x|^2."""
    y, g = dlfeval(second_name_of_a_rebound_name, dlarray(X))
    assert_close(extractdata(g), 2 * 1.5 ** 6 * X)


# --- for a, b in zip(*seqs) (autograd's GMM example): it said "no derivative rule for zip" -------

def logsumexp(x, axis=None):
    m = np.max(x, axis=axis, keepdims=True)
    return np.squeeze(m + np.log(np.sum(np.exp(x - m), axis=axis, keepdims=True)), axis=axis)


def unpack_gmm_params(params):
    normalized_log_proportions = params["log proportions"] - logsumexp(params["log proportions"])
    return normalized_log_proportions, params["means"], params["lower triangles"]


def mvn_logpdf(X, mean, cov_sqrt):
    cov = np.dot(cov_sqrt.T, cov_sqrt)
    diff = X - mean
    sol = np.linalg.solve(cov, diff.T).T
    return -0.5 * np.sum(diff * sol, axis=1) - 0.5 * np.linalg.slogdet(cov)[1]


def gmm_log_likelihood(params, data):
    cluster_lls = []
    for log_proportion, mean, cov_sqrt in zip(*unpack_gmm_params(params)):
        cluster_lls.append(log_proportion + mvn_logpdf(data, mean, cov_sqrt))
    return np.sum(logsumexp(np.vstack(cluster_lls), axis=0))


def gmm_model(params, data):
    y = gmm_log_likelihood(params, data)
    return y, dlgradient(y, params)


def test_zip_of_a_starred_tuple_in_a_for_loop():
    rs = np.random.RandomState(0)
    params = {"log proportions": rs.randn(2), "means": rs.randn(2, 2),
              "lower triangles": np.stack([np.eye(2) + 0.1 * rs.randn(2, 2)] * 2)}
    data = rs.randn(5, 2)
    y, g = dlfeval(gmm_model, {k: dlarray(v) for k, v in params.items()}, data)
    assert_close(extractdata(y), gmm_log_likelihood(params, data))
    names = list(params)
    for k, name in enumerate(names):
        def plain(*vs):
            return gmm_log_likelihood(dict(zip(names, vs)), data)
        expected = numerical_gradient(plain, [params[n].copy() for n in names], k)
        assert_close(extractdata(g[name]), expected, 1e-5, 1e-6, what=name)


def zip_star_columns(x):
    s = 0.0
    for a, b in zip(*x.reshape(2, 3)):
        s = s + np.sin(a) * b
    return s, dlgradient(s, x)


def zip_star_wrong_count(x):
    parts = [x[:2], x[2:4], x[4:]]
    s = 0.0
    for a, b in zip(*parts):
        s = s + a * b
    return s, dlgradient(s, x)


def test_zip_of_a_starred_array_and_a_wrong_count():
    x = np.arange(1.0, 7.0)
    y, g = dlfeval(zip_star_columns, dlarray(x))

    def plain(v):
        return sum(np.sin(a) * b for a, b in zip(*v.reshape(2, 3)))
    assert_close(extractdata(y), plain(x))
    assert_close(extractdata(g), numerical_gradient(plain, [x], 0), 1e-5, 1e-6)
    with pytest.raises(sct.EvaluationError) as info:     # Python: too many values to unpack
        dlfeval(zip_star_wrong_count, dlarray(x))
    assert info.value.lineno == zip_star_wrong_count.__code__.co_firstlineno + 3


# --- dict.get (tangent's and many training scripts' `params.get("b", 0.0)`): it was refused -----

def dict_get_model(x):
    d = {"a": x[0], "b": x[1]}
    y = d.get("a", 0.0) * d.get("c", 2.0) + d.get("b") ** 2
    return y, dlgradient(y, x)


def dict_get_default_traced(x):
    d = {"a": x[0] ** 2}
    y = d.get("z", x[1]) * d.get("a", x[2])
    return y, dlgradient(y, x)


def dict_get_params(p, x):
    w = p.get("w")
    b = p.get("b", 0.0)
    y = np.sum(np.tanh(x @ w + b))
    return y, dlgradient(y, p)


def dict_get_second(x):
    d = {"a": x[0], "b": x[1]}
    y = d.get("a", 1.0) ** 3 * d.get("q", x[1])
    g = dlgradient(y, x)
    return dlgradient(np.sum(g), x)


def test_dict_get():
    y, g = dlfeval(dict_get_model, dlarray(X))
    assert_close(extractdata(y), X[0] * 2 + X[1] ** 2)
    assert_close(extractdata(g), [2.0, 2 * X[1], 0.0])
    y, g = dlfeval(dict_get_default_traced, dlarray(X))
    assert_close(extractdata(y), X[1] * X[0] ** 2)
    assert_close(extractdata(g), [2 * X[0] * X[1], X[0] ** 2, 0.0])
    w = np.random.default_rng(1).standard_normal((3, 2))
    y, g = dlfeval(dict_get_params, {"w": dlarray(w)}, X)
    assert_close(extractdata(g["w"]), numerical_gradient(lambda v: np.sum(np.tanh(X @ v)), [w], 0), 1e-5, 1e-6)
    # y = x0^3 x1: the gradient's sum is 3 x0^2 x1 + x0^3, differentiated again
    h = dlfeval(dict_get_second, dlarray(X))
    assert_close(extractdata(h), [6 * X[0] * X[1] + 3 * X[0] ** 2, 3 * X[0] ** 2, 0.0])


def dict_get_plain(x):
    d = {"a": x[0], "b": x[1]}
    return d.get("a", 0.0) * d.get("c", 2.0) + d.get("b") ** 2 * x[2]


def test_dict_get_forward_mode():
    v = np.array([1.0, 0.5, -2.0])
    value, tangent = sct.jvp(dict_get_plain, (X,), (v,))
    assert_close(extractdata(value), dict_get_plain(X))
    e = 1e-6
    assert_close(extractdata(tangent), (dict_get_plain(X + e * v) - dict_get_plain(X - e * v)) / (2 * e),
                 1e-5, 1e-6)


# --- dlgradient with respect to an item or attribute taken on an earlier line (it gave zeros) -----

def item_taken_earlier(p):
    w = p["w"]
    y = np.sum(p["w"] ** 2) + np.sum(w)
    return y, dlgradient(y, w)


class Holder:
    def __init__(self, w):
        self.w = w


def attribute_taken_earlier(h):
    w = h.w
    y = np.sum(np.tanh(h.w) * 2.0)
    return y, dlgradient(y, w)


def row_taken_earlier(x):
    w = x[0]
    y = np.sum(x ** 2)
    return y, dlgradient(y, w)    # w is a new value (MATLAB: x(1,:) is a new dlarray); y never reads it


def item_of_a_rewritten_dict(x):
    d = {"w": x * 1.0}
    w = d["w"]
    d["w"] = w * 3.0
    y = np.sum(d["w"] ** 2)
    return y, dlgradient(y, w)


def test_gradient_with_respect_to_an_item_taken_earlier():
    w = np.array([[0.5, -1.0], [2.0, 1.0]])
    _, g = dlfeval(item_taken_earlier, {"w": dlarray(w)})
    assert_close(extractdata(g), 2 * w + 1)
    _, g = dlfeval(attribute_taken_earlier, Holder(dlarray(w)))
    assert_close(extractdata(g), 2 * (1 - np.tanh(w) ** 2))
    _, g = dlfeval(row_taken_earlier, dlarray(w))
    _, g_same_line = dlfeval(row_on_the_line, dlarray(w))
    assert_close(extractdata(g), 0 * w[0])       # the row of an array is a value of its own
    assert_close(extractdata(g_same_line), 2 * w[0])
    _, g = dlfeval(item_of_a_rewritten_dict, dlarray(w))
    assert_close(extractdata(g), 18 * w)


def row_on_the_line(x):
    y = np.sum(x ** 2)
    return y, dlgradient(y, x[0])


# --- complex(a, b) is complex: exp(complex(0, 1) * x) (and generated code, which spells a complex
# constant so, differentiated again through a helper) got real-valued derivative rules -----------

def exp_of_complex_call(x):
    z = np.exp(complex(0, 1) * x)
    y = np.sum(np.real(z) * np.array([1.0, 2.0, 3.0]) + np.imag(z))
    return y, dlgradient(y, x)


def phase_loss(x):
    z = x * np.exp(-1j * np.arange(3))
    return np.sum(np.abs(np.fft.ifft(z)) ** 2 * np.array([1.0, 2.0, 3.0]))


def phase_hessian(x, v):
    y = phase_loss(x)                         # a helper: its adjoint is differentiated again
    g = dlgradient(y, x)
    return dlgradient(np.sum(g * v), x)


def phase_gradient(x):
    y = phase_loss(x)
    return dlgradient(y, x)


def complex_buffer(x):
    buf = np.zeros(3, dtype=complex)
    buf[0] = x[0]
    buf[1:] = x[1:] * 2.0
    y = np.sum(np.real(buf * np.exp(1j * x)) ** 2)
    return y, dlgradient(y, x)


def test_complex_call_is_complex():
    y, g = dlfeval(exp_of_complex_call, dlarray(X))
    assert_close(extractdata(g), -np.sin(X) * [1.0, 2.0, 3.0] + np.cos(X))

    def plain(v):
        buf = np.zeros(3, dtype=complex)
        buf[0] = v[0]
        buf[1:] = v[1:] * 2.0
        return np.sum(np.real(buf * np.exp(1j * v)) ** 2)
    y, g = dlfeval(complex_buffer, dlarray(X))
    assert_close(extractdata(y), plain(X))
    assert_close(extractdata(g), numerical_gradient(plain, [X.copy()], 0), 1e-5, 1e-6)


def test_second_derivative_through_a_helper_with_a_complex_constant():
    v = np.array([1.0, 0.5, -1.0])

    def grad(u):
        return np.asarray(extractdata(dlfeval(phase_gradient, dlarray(u))))
    e = 1e-5
    expected = (grad(X + e * v) - grad(X - e * v)) / (2 * e)
    assert_close(grad(X), numerical_gradient(phase_loss, [X.copy()], 0), 1e-5, 1e-6)
    assert_close(extractdata(dlfeval(phase_hessian, dlarray(X), v)), expected, 1e-5, 1e-6)
    assert_close(extractdata(sct.hvp(phase_loss, X, v)), expected, 1e-5, 1e-6)


# --- np.fill_diagonal of a fresh array with traced values: refused until Dec 12 (the refusal said
# what to write instead); now compiled as a new value, the same as the np.where rewrite -------------

def fill_diagonal_model(x):
    m = np.zeros((3, 3))
    np.fill_diagonal(m, x)
    y = np.sum(m @ m)
    return y, dlgradient(y, x)


def where_eye_model(x):
    m = np.zeros((3, 3))
    m = np.where(np.eye(*m.shape, dtype=bool), x, m)
    y = np.sum(m @ m)
    return y, dlgradient(y, x)


def test_fill_diagonal_of_a_fresh_array_is_the_where_rewrite():
    for model in (fill_diagonal_model, where_eye_model):
        y, g = dlfeval(model, dlarray(X))
        assert_close(extractdata(y), np.sum(X ** 2))
        assert_close(extractdata(g), 2 * X)


# --- std, var, norm, eigvalsh of a complex array are real: a complex adjoint reached them ---------

W4 = np.array([1.0, -2.0, 0.5, 0.3])
Z4 = np.array([0.3 + 0.2j, -1.1 - 0.4j, 0.7 + 0.1j, 1.5 - 0.3j])


def standardize(x):
    y = x - x.mean()
    y = y / y.std()
    return np.real(np.sum(y * W4))


def standardize_in_place(x):
    y = x.copy()
    y -= y.mean()
    y /= np.sqrt(np.var(y))
    return np.real(np.sum(y * W4))


def unit_vector(x):
    return np.real(np.sum(x / np.linalg.norm(x) * W4))


def grad_of(f, x):
    y = f(x)
    return y, dlgradient(y, x)


@pytest.mark.parametrize("f", [standardize, standardize_in_place, unit_vector])
def test_real_reductions_of_a_complex_array(f):
    y, g = dlfeval(grad_of, f, dlarray(Z4))
    assert_close(extractdata(y), f(Z4.copy()))
    assert_close(extractdata(g), numerical_gradient(lambda v: f(v.copy()), [Z4.copy()], 0), 1e-5, 1e-6)


# --- sct.hvp of x ** k (k a constant the adjoint reads from its residuals) at negative x: NaN ------
# (forward over reverse multiplied the exponent's zero tangent by log(x), NaN for x < 0)

def cube_by_name(x):
    k = 3.0
    return np.sum(x ** k)


def _power(t, k=2.0):
    return t ** k


def powers_by_default(x):
    f = lambda t, k=2.0: t ** k
    return np.sum(f(x) + f(x, 3.0) + _power(x))


@pytest.mark.parametrize("f, hessian_diagonal", [
    (cube_by_name, lambda x: 6 * x),
    (powers_by_default, lambda x: 2 + 6 * x + 2),
])
def test_hvp_of_a_power_at_negative_points(f, hessian_diagonal):
    v = np.array([1.0, -0.5, 2.0])
    assert_close(extractdata(sct.hvp(f, X, v)), hessian_diagonal(X) * v)
    value, tangent = sct.jvp(f, (X,), (v,))
    e = 1e-6
    assert_close(extractdata(tangent), (f(X + e * v) - f(X - e * v)) / (2 * e), 1e-5, 1e-6)


# --- `v = v / norm(v)` in a loop with complex v (power iteration): the rule read v's new value by
# another name that was not known complex, so its conj and the real projection were dropped ------

def power_iteration(x, n):
    A = np.outer(x, x) + np.diag(x ** 2 + 1)
    v = np.ones(3) / np.sqrt(3)
    for _ in range(n):
        v = A @ v
        v = v / np.linalg.norm(v)
    return np.real(v @ A @ v)


def rescaled_in_loop(x, n):
    v = np.ones(3)
    for _ in range(n):
        v = x * v
        v = v / np.abs(v[0])
    return np.real(np.sum(v * np.array([1.0, 2.0, 3.0])))


def loop_model(f, x, n):
    y = f(x, n)
    return y, dlgradient(y, x)


@pytest.mark.parametrize("f", [power_iteration, rescaled_in_loop])
@pytest.mark.parametrize("n", [1, 3])
def test_complex_value_rescaled_in_a_loop(f, n):
    z = np.array([0.4 + 0.2j, -0.8 - 0.1j, 0.6 + 0.3j])
    y, g = dlfeval(loop_model, f, dlarray(z), n)
    assert_close(extractdata(y), f(z, n))
    assert_close(extractdata(g), numerical_gradient(lambda v: f(v, n), [z.copy()], 0), 1e-5, 1e-6)
