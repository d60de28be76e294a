"""dllaplacian(u, x, dim) where a point of u depends on other points of x (a mean over the batch)
is refused: sct computes the Laplacian from the gradient of the sum of u, which for coupled points
adds the other points' second derivatives into each one (was: [16, 40] returned silently where each
point's own Laplacian is [17, 41]).  A weighted sum's gradient checks independence, as dljacobian
and dldivergence do.  Independent points keep their values, and a loss of the Laplacian is
differentiated exactly (finite differences)."""
import numpy as np
import pytest

from sct import dlarray, dlfeval, dlgradient, dllaplacian, EvaluationError


def laplacian_fd(u_point, x, h=1e-4):
    out = []
    for xb in x:
        total = 0.0
        for i in range(len(xb)):
            e = np.zeros(len(xb))
            e[i] = h
            total += (u_point(xb + e) - 2 * u_point(xb) + u_point(xb - e)) / h ** 2
        out.append(total)
    return np.array(out)


def test_coupled_points_are_refused():
    def f(x):
        u = np.sum(x ** 3, axis=1) - np.mean(x ** 2)
        return dllaplacian(u, x, 0)
    with pytest.raises(EvaluationError, match="not independent"):
        dlfeval(f, dlarray(np.array([[1.0, 2.0], [3.0, 4.0]])))


def test_coupled_through_a_batch_normalisation_is_refused():
    def f(x):
        z = (x - np.mean(x, axis=0)) / np.std(x, axis=0)
        u = np.sum(np.tanh(z), axis=1)
        return dllaplacian(u, x, 0)
    x = np.random.default_rng(1).standard_normal((5, 3))
    with pytest.raises(EvaluationError, match="not independent"):
        dlfeval(f, dlarray(x))


def test_independent_points_keep_their_values():
    def f(x):
        u = np.sum(x ** 3, axis=1) * np.sin(x[:, 0])
        return dllaplacian(u, x, 0)
    x = np.array([[1.0, 2.0], [3.0, 4.0], [0.5, -0.2]])
    got = dlfeval(f, dlarray(x))
    want = laplacian_fd(lambda xb: np.sum(xb ** 3) * np.sin(xb[0]), x)
    np.testing.assert_allclose(np.asarray(got.data).ravel(), want, rtol=1e-5)


def test_points_on_the_second_axis():
    def f(x):
        u = np.sum(np.exp(0.5 * x), axis=0)[None, :]
        return dllaplacian(u, x, 1)
    x = np.random.default_rng(2).standard_normal((3, 4))
    got = dlfeval(f, dlarray(x))
    want = laplacian_fd(lambda xb: np.sum(np.exp(0.5 * xb)), x.T)
    np.testing.assert_allclose(np.asarray(got.data).ravel(), want, rtol=1e-5)


def test_a_loss_of_the_laplacian_is_differentiated_exactly():
    rng = np.random.default_rng(3)
    x, W = rng.standard_normal((4, 2)), 0.5 * rng.standard_normal((2, 3))

    def loss(W, x):
        u = np.sum(np.tanh(x @ W), axis=1)
        L = np.mean(dllaplacian(u, x, 0) ** 2)
        return L, dlgradient(L, W)

    def plain(W):
        t = np.tanh(x @ W)
        lap = np.sum((W ** 2).sum(0) * (-2 * t * (1 - t ** 2)), axis=1)
        return np.mean(lap ** 2)
    L, g = dlfeval(loss, dlarray(W), dlarray(x))
    np.testing.assert_allclose(float(L), plain(W), rtol=1e-12)
    eps, num = 1e-6, np.zeros_like(W)
    for idx in np.ndindex(W.shape):
        E = np.zeros_like(W)
        E[idx] = eps
        num[idx] = (plain(W + E) - plain(W - E)) / (2 * eps)
    np.testing.assert_allclose(g.data, num, rtol=1e-6, atol=1e-9)
