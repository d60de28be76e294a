"""AcceleratedFunction, the dljacobian family and forward mode (issue 3, items 3-5)."""
import numpy as np
import pytest

import sct
from sct import (accelerate, dlaccelerate, dlarray, dldivergence, dlfeval, dlgradient, dljacobian,
                 dllaplacian, extractdata)
from gradcheck import assert_close, numerical_gradient

rng = np.random.default_rng(3)


# --- AcceleratedFunction --------------------------------------------------------------------

def model_loss(w, x):
    y = np.sum(np.tanh(w @ x) ** 2)
    return y, dlgradient(y, w)


@accelerate
def decorated_loss(w, x):
    y = np.sum(np.sin(w * x))
    return y, dlgradient(y, w)


def plain_model(w, x):
    return np.tanh(w @ x)


def test_accelerated_function_gives_the_same_results_inside_and_outside_dlfeval():
    w, x = dlarray(rng.standard_normal((3, 2))), rng.standard_normal(2)
    acc = dlaccelerate(model_loss)
    a_y, a_g = dlfeval(acc, w, x)
    p_y, p_g = dlfeval(model_loss, w, x)
    np.testing.assert_allclose(extractdata(a_g), extractdata(p_g))
    fast_model = dlaccelerate(plain_model)
    np.testing.assert_allclose(extractdata(fast_model(w, x)), plain_model(extractdata(w), x))


def test_cache_statistics_and_keys():
    acc = dlaccelerate(model_loss)
    w2, x2 = dlarray(rng.standard_normal((3, 2))), rng.standard_normal(2)
    acc(w2, x2)
    assert acc.hit_rate == 0.0 and acc.occupancy == 1 / acc.cache_size
    acc(dlarray(rng.standard_normal((3, 2))), rng.standard_normal(2))     # same kinds: hit
    acc(dlarray(rng.standard_normal((5, 4))), rng.standard_normal(4))     # new shapes, same rank: hit
    assert acc.hit_rate == pytest.approx(2 / 3)
    acc(dlarray(rng.standard_normal((3, 2)).astype(np.float32)), x2)      # new dtype: miss
    acc(dlarray(rng.standard_normal((1, 3, 2))), x2)                      # new rank: miss
    acc((w2,)[0], [x2][0].tolist())                                       # list instead of array: miss
    assert len(acc._cache) == 4 and acc.hit_rate == pytest.approx(2 / 6)
    acc.clear_cache()
    assert acc.occupancy == 0 and acc.hit_rate == 0.0


def test_enabled_switch_and_source():
    w, x = dlarray(np.ones((2, 2))), np.ones(2)
    assert isinstance(decorated_loss, sct.AcceleratedFunction)
    y1, g1 = dlfeval(decorated_loss, w, x)
    text = decorated_loss.source(w, x)
    assert "def decorated_loss(w, x):" in text and "dlgradient" in text
    fast = dlaccelerate(plain_model)
    fast.enabled = False
    np.testing.assert_allclose(np.asarray(fast(np.eye(2), np.ones(2))), np.tanh(np.ones(2)))
    assert fast.occupancy == 0


def uses_accelerated_helper(w, x):
    y = np.sum(fast_helper(w, x))
    return dlgradient(y, w)


fast_helper = dlaccelerate(plain_model)


def test_accelerated_helper_is_differentiated_inside_dlfeval():
    w, x = rng.standard_normal((3, 2)), rng.standard_normal(2)
    g = dlfeval(uses_accelerated_helper, dlarray(w), x)
    expected = numerical_gradient(lambda w: np.sum(np.tanh(w @ x)), [w], 0)
    assert_close(extractdata(g), expected)


# --- dljacobian, dldivergence, dllaplacian ------------------------------------------------------

def linear_jacobian(x, A):
    u = x @ A.T
    return dljacobian(u, x, 0)


def batch_last_jacobian(x, A):
    u = A @ x
    return dljacobian(u, x, -1)


def divergence_of_square(x):
    return dldivergence(x ** 2, x, 0)


def laplacian_of_cube(x):
    u = np.sum(x ** 3, axis=1)
    return dllaplacian(u, x, 0)


def nonlinear_jacobian(x):
    u = np.stack([np.sin(x[:, 0]) * x[:, 1], x[:, 0] ** 2, np.exp(x[:, 1])], axis=1)
    return dljacobian(u, x, 0)


def test_jacobian_of_a_linear_map_is_the_matrix_at_every_point():
    A = rng.standard_normal((2, 3))
    x = rng.standard_normal((5, 3))
    J = dlfeval(linear_jacobian, dlarray(x), A)
    assert J.shape == (5, 2, 3)
    np.testing.assert_allclose(extractdata(J), np.broadcast_to(A, (5, 2, 3)))
    Jt = dlfeval(batch_last_jacobian, dlarray(x.T), A)       # points along the last axis
    # dim=-1 of a 2-D x is dim=1: the batch axis of the result at position 1 (as dim=1 gives)
    assert Jt.shape == (2, 5, 3)
    np.testing.assert_allclose(extractdata(Jt), np.broadcast_to(A[:, None, :], (2, 5, 3)))


def test_jacobian_of_a_nonlinear_map_matches_closed_form():
    x = rng.standard_normal((4, 2))
    J = extractdata(dlfeval(nonlinear_jacobian, dlarray(x)))
    for b in range(4):
        a, c = x[b]
        expected = [[np.cos(a) * c, np.sin(a)], [2 * a, 0.0], [0.0, np.exp(c)]]
        np.testing.assert_allclose(J[b], expected, atol=1e-12)


def test_divergence_of_x_squared_is_twice_the_sum():
    x = rng.standard_normal((6, 3))
    div = dlfeval(divergence_of_square, dlarray(x))
    assert div.shape == (6,)
    np.testing.assert_allclose(extractdata(div), 2 * x.sum(axis=1))


def test_laplacian_of_sum_of_cubes():
    x = rng.standard_normal((6, 3))
    lap = dlfeval(laplacian_of_cube, dlarray(x))
    np.testing.assert_allclose(extractdata(lap), 6 * x.sum(axis=1))


def jacobian_penalty(w, x):
    u = np.tanh(x @ w)
    J = dljacobian(u, x, 0)
    loss = np.sum(J ** 2)
    return dlgradient(loss, w)


def test_a_jacobian_can_be_differentiated_again():
    w = rng.standard_normal((2, 3)) * 0.5
    x = rng.standard_normal((4, 2))
    g = dlfeval(jacobian_penalty, dlarray(w), dlarray(x))

    def penalty(w):
        t = np.tanh(x @ w)
        return np.sum(((1 - t ** 2)[:, :, None] * w.T[None, :, :]) ** 2)
    assert_close(extractdata(g), numerical_gradient(penalty, [w], 0), rtol=1e-4)


def test_family_outside_dlfeval_is_an_error():
    for fn in (dljacobian, dldivergence, dllaplacian):
        with pytest.raises(sct.SctError, match="dlfeval"):
            fn(dlarray([1.0]), dlarray([1.0]), 0)


# --- forward mode ---------------------------------------------------------------------------------

def scaled_sine(x):
    return np.sin(x) * np.sum(x ** 2)


def two_inputs(x, w):
    return np.tanh(w @ x)


def looped(x):
    h = x
    for i in range(3):
        h = np.cos(h) * x
    return h


def quadratic(x):
    A = np.array([[1.0, 2.0], [0.5, 3.0]])
    return x @ A @ x


def _reverse_jacobian(fun, x):
    rows = []
    for i in range(np.size(fun(x))):
        rows.append(numerical_gradient(lambda z: fun(z).ravel()[i], [x], 0))
    return np.array(rows)


@pytest.mark.parametrize("fun", [scaled_sine, looped])
def test_jvp_matches_the_jacobian(fun):
    x = np.array([0.3, -0.7, 1.1])
    v = np.array([1.0, 0.5, -2.0])
    y, jv = sct.jvp(fun, x, v)
    np.testing.assert_allclose(extractdata(y), fun(x))
    assert_close(extractdata(jv), _reverse_jacobian(fun, x) @ v, rtol=1e-5)


def test_jvp_with_two_primals_and_its_source():
    x, w = rng.standard_normal(3), rng.standard_normal((2, 3))
    v, vw = rng.standard_normal(3), rng.standard_normal((2, 3))
    _, jv = sct.jvp(two_inputs, (x, w), (v, vw))
    eps = 1e-6
    expected = (two_inputs(x + eps * v, w + eps * vw) - two_inputs(x - eps * v, w - eps * vw)) / (2 * eps)
    assert_close(extractdata(jv), expected, rtol=1e-5)
    text = sct.jvp_source(two_inputs, (x, w), (v, vw))       # forward mode: tangents beside values
    compile(text, "<jvp>", "exec")
    assert "def two_inputs_jvp(x, w, dot_x, dot_w):" in text and "dot_out_matmul" in text
    _, jv_transposed = sct.jvp(two_inputs, (x, w), (v, vw), mode="transpose")
    assert_close(extractdata(jv), extractdata(jv_transposed))
    assert "_jvp_kernel_2" in sct.jvp_source(two_inputs, (x, w), (v, vw), mode="transpose")


def test_hessian_vector_product_of_a_quadratic_form():
    A = np.array([[1.0, 2.0], [0.5, 3.0]])
    v = np.array([1.0, -1.0])
    hv = sct.hvp(quadratic, np.array([0.2, 0.4]), v)
    np.testing.assert_allclose(extractdata(hv), (A + A.T) @ v)


def quadratic_gradient(x):
    y = quadratic(x)
    return dlgradient(y, x)


def test_forward_over_reverse_hessian_vector_product():
    # the JVP of a generated gradient: tested against reverse-over-reverse (sct.hvp)
    A = np.array([[1.0, 2.0], [0.5, 3.0]])
    x, v = np.array([0.2, 0.4]), np.array([1.0, -1.0])
    _, hv = sct.jvp(quadratic_gradient, x, v)
    np.testing.assert_allclose(extractdata(hv), (A + A.T) @ v)
    np.testing.assert_allclose(extractdata(hv), extractdata(sct.hvp(quadratic, x, v)))


def pinn_loss(w, x):
    u = np.sum(np.tanh(x @ w), axis=1)
    lap = dllaplacian(u, x, 0)
    loss = np.mean(lap ** 2)
    return loss, dlgradient(loss, w)


def test_training_through_a_laplacian_third_order():
    x = rng.standard_normal((5, 3))
    w = rng.standard_normal((3, 4)) * 0.5

    def loss(w):
        t = np.tanh(x @ w)
        lap = np.sum(-2 * t * (1 - t ** 2) * np.sum(w ** 2, axis=0), axis=1)
        return np.mean(lap ** 2)
    value, g = dlfeval(pinn_loss, dlarray(w), dlarray(x))
    assert float(value) == pytest.approx(loss(w))
    assert_close(extractdata(g), numerical_gradient(loss, [w], 0), rtol=1e-4)


def branchy_helper(g, b):
    if np.ndim(b) == 1:
        r = g * b * b
    else:
        r = g * b
    return r


def third_through_a_branchy_helper(x):
    y = np.sum(branchy_helper(x, x))
    g1 = dlgradient(y, x)
    g2 = dlgradient(np.sum(g1), x)
    g3 = dlgradient(np.sum(g2), x)
    return g1, g2, g3


def test_third_derivative_through_a_helper_that_branches():
    x = np.array([1.0, 2.0])
    g1, g2, g3 = dlfeval(third_through_a_branchy_helper, dlarray(x))
    np.testing.assert_allclose(extractdata(g1), 3 * x ** 2)
    np.testing.assert_allclose(extractdata(g2), 6 * x)
    np.testing.assert_allclose(extractdata(g3), [6.0, 6.0])


class Scaled:
    def __init__(self, w):
        self.w = w

    def apply(self, x):
        return np.tanh(self.w * x)


def builds_an_object(x):
    return Scaled(x * 2).apply(x)


def test_jvp_falls_back_to_transposition_where_forward_mode_cannot_follow():
    x, v = np.array([0.3, -0.4]), np.array([1.0, 2.0])
    _, jv = sct.jvp(builds_an_object, x, v)
    eps = 1e-6
    expected = (builds_an_object(x + eps * v) - builds_an_object(x - eps * v)) / (2 * eps)
    assert_close(extractdata(jv), expected)
