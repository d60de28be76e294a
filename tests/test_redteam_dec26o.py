"""Red team O (Dec 26): wrong values found in today's changes.

dllaplacian(u, x, dim) with points of u coupled only through second derivatives: the independence
check compared first derivatives, so a coupling term whose gradient vanishes at the points (a mean
of x ** 2 over the batch, at x = 0) passed it, and the Laplacian of the sum of u came back silently
for each point's own ([-2, -2, -2] where each point's Laplacian is -2/3).  The check now compares
the weighted sum's Laplacian with each point's too.  Values against finite differences of each
point's u, refusals where points are coupled."""
import numpy as np
import pytest

from sct import dlarray, dlfeval, dlgradient, dllaplacian, EvaluationError


def laplacian_fd(u_of, x, h=1e-4):
    """Each point's own Laplacian: u_of(x) with only that point moved."""
    out = np.zeros(len(x))
    for b in range(len(x)):
        for i in range(x.shape[1]):
            e = np.zeros_like(x)
            e[b, i] = h
            out[b] += (u_of(x + e)[b] - 2 * u_of(x)[b] + u_of(x - e)[b]) / h ** 2
    return out


def coupled_second_order(x):
    return np.sum(x ** 3, axis=1) - np.mean(x ** 2)


def coupled_cos(x):
    return np.sum(np.sin(x), axis=1) + np.mean(np.cos(x))


@pytest.mark.parametrize("u_of, x", [
    (coupled_second_order, np.zeros((3, 2))),
    (coupled_cos, np.zeros((4, 2))),
    (coupled_cos, np.full((3, 3), np.pi)),
])
def test_coupling_of_second_derivatives_is_refused(u_of, x):
    def f(x):
        return dllaplacian(u_of(x), x, 0)
    # (the first derivatives of the coupling term are zero at these points: the gradient check passed)
    assert np.abs(laplacian_fd(u_of, x) - laplacian_fd(lambda z: np.array([np.sum(u_of(z))] * len(z)), x)).max() > 0.1
    with pytest.raises(EvaluationError, match="not independent"):
        dlfeval(f, dlarray(x))


def independent(x):
    return np.sum(x ** 3, axis=1) * np.sin(x[:, 0]) + np.exp(-np.sum(x ** 2, axis=1))


@pytest.mark.parametrize("x", [np.zeros((3, 2)), np.array([[1.0, 2.0], [3.0, 4.0], [0.5, -0.2]])])
def test_independent_points_keep_their_values(x):
    got = dlfeval(lambda x: dllaplacian(independent(x), x, 0), dlarray(x))
    np.testing.assert_allclose(np.asarray(got.data).ravel(), laplacian_fd(independent, x), rtol=1e-5, atol=1e-6)


def test_pinn_loss_differentiated_again():
    def loss(w, x):
        u = np.tanh(x @ w[:, None])[:, 0] + np.sum(x ** 2, axis=1) * w[0]
        lap = dllaplacian(u, x, 0, EnableHigherDerivatives=True)
        return np.sum(lap ** 2)

    def f(w, x):
        L = loss(w, x)
        return L, dlgradient(L, w)

    def plain(w, x):
        def u_of(z):
            return np.tanh(z @ w[:, None])[:, 0] + np.sum(z ** 2, axis=1) * w[0]
        # closed form of each point's Laplacian: |w|^2 tanh''(x.w) + 2 d w0
        t = np.tanh(x @ w)
        return np.sum((np.sum(w ** 2) * (-2 * t * (1 - t ** 2)) + 2 * x.shape[1] * w[0]) ** 2)

    w = np.array([0.3, -0.8])
    x = np.array([[0.2, 0.5], [-1.0, 0.4], [0.7, 0.1]])
    L, g = dlfeval(f, dlarray(w), dlarray(x))
    np.testing.assert_allclose(float(L), plain(w, x), rtol=1e-10)
    eps = 1e-6
    num = [(plain(w + eps * e, x) - plain(w - eps * e, x)) / (2 * eps) for e in np.eye(2)]
    np.testing.assert_allclose(np.asarray(g.data), num, rtol=1e-6, atol=1e-8)
