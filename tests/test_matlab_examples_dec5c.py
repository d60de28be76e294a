"""MATLAB's documented deep-learning examples ported line for line (red team dec5c, "mdoc")."""
import numpy as np

from gradcheck import numerical_gradient
from sct import dlarray, dlfeval, dlgradient, dims, finddim


def _penalty_norm(X):
    # WGAN-GP: gradientsHatNorm = sqrt(sum(gradientsHat.^2, finddim(gradientsHat, "C")) + 1e-10)
    n = np.sqrt(np.sum(X ** 2, axis=finddim(X, "C")[0]) + 1e-10)
    return n, dlgradient(np.sum((n - 1) ** 2), X)


def _reductions(X):
    c = finddim(X, "C")
    return np.sum(X ** 2, axis=c[0]), np.mean(X, axis=finddim(X, "T")[-1]), X.sum(axis=finddim(X, "C")[0])


def test_reduction_over_a_finddim_item_keeps_the_labels_left():
    # was: inside dlfeval np.sum(X, axis=finddim(X, "C")[0]) came back unformatted ("" instead of "B")
    rng = np.random.default_rng(0)
    xn = rng.standard_normal((4, 3))
    n, g = dlfeval(_penalty_norm, dlarray(xn, "CB"))
    assert dims(n) == "B" and n.shape == (3,)
    assert dims(g) == "CB"
    np.testing.assert_allclose(np.asarray(n), np.sqrt(np.sum(xn ** 2, 0) + 1e-10), rtol=1e-14)
    fd = numerical_gradient(lambda x: np.sum((np.sqrt(np.sum(x ** 2, 0) + 1e-10) - 1) ** 2), [xn], 0)
    np.testing.assert_allclose(np.asarray(g), fd, atol=1e-7)
    X = dlarray(np.arange(24.0).reshape(2, 3, 4), "CBT")
    eager = _reductions(X)
    compiled = dlfeval(_reductions, X)
    assert [dims(v) for v in compiled] == [dims(v) for v in eager] == ["BT", "CB", "BT"]
    for a, b in zip(compiled, eager):
        np.testing.assert_allclose(np.asarray(a), np.asarray(b))
