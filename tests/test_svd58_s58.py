"""np.linalg.svd with numpy's default full_matrices=True of a non-square matrix (red58b F1): what reads only the
unique singular vectors (vh of a tall matrix, as PCA does; u of a wide one; the first min(m, n) of the others) is
differentiated as the thin factors are; what reads the extra vectors (a basis of a complement, not unique) is
refused at the user's line."""
import numpy as np
import pytest

import sct
from sct import EvaluationError, dlarray, dlfeval, dlgradient
from gradcheck import assert_close, numerical_gradient

RNG = np.random.default_rng(58)
TALL = RNG.standard_normal((6, 3))
WIDE = RNG.standard_normal((3, 5))


def pca_loss(X):
    Xc = X - X.mean(axis=0)
    U, S, Vt = np.linalg.svd(Xc)
    P = Vt[:2].T @ Vt[:2]
    return np.sum((Xc - Xc @ P) ** 2)


def first_vectors(X):
    U, S, Vt = np.linalg.svd(X)
    k = min(X.shape)
    return np.sum(U[:, :k] * np.arange(1.0, k + 1) * S) + np.sum(Vt[:k] ** 3)


def wide_u_whole(X):
    U, S, Vt = np.linalg.svd(X)
    return np.sum(Vt[:3] ** 3) + np.sum(U * S)


def with_gradient(f):
    def loss(X):
        y = f(X)
        return y, dlgradient(y, X)
    return loss


@pytest.mark.parametrize("f, X", [(pca_loss, TALL), (first_vectors, TALL), (first_vectors, WIDE),
                                  (wide_u_whole, WIDE)])
@pytest.mark.parametrize("accelerated", [False, True])
def test_unique_singular_vectors_of_full_factors_are_differentiated(f, X, accelerated):
    loss = with_gradient(f)
    run = sct.accelerate(loss) if accelerated else loss
    for scale in (1.0, 1.5):
        y, g = dlfeval(run, dlarray(X * scale))
        assert float(sct.extractdata(y)) == pytest.approx(f(X * scale), rel=1e-12)
        assert_close(sct.extractdata(g), numerical_gradient(f, [X * scale], 0), rtol=1e-5, atol=1e-7)


def pca_second_order(X):
    U, S, Vt = np.linalg.svd(X)
    y = np.sum(Vt[:2] ** 3 * S[:2, None])
    g = dlgradient(y, X, EnableHigherDerivatives=True)
    z = np.sum(g ** 2)
    return z, dlgradient(z, X)


def test_second_order_of_full_factors():
    z, gz = dlfeval(pca_second_order, dlarray(TALL))
    assert_close(sct.extractdata(gz),
                 numerical_gradient(lambda X: float(sct.extractdata(dlfeval(pca_second_order, dlarray(X))[0])),
                                    [TALL], 0), rtol=1e-5, atol=1e-6)


def test_jvp_of_full_factors():
    V = RNG.standard_normal(TALL.shape)
    y, t = sct.jvp(pca_loss, (dlarray(TALL),), (V,))
    fd = (pca_loss(TALL + 1e-6 * V) - pca_loss(TALL - 1e-6 * V)) / 2e-6
    assert float(sct.extractdata(t)) == pytest.approx(fd, rel=1e-6)


def extra_column(X):
    U, S, Vt = np.linalg.svd(X)
    y = np.sum(U[:, 4] ** 3)
    return y, dlgradient(y, X)


def extra_row(X):
    U, S, Vt = np.linalg.svd(X)
    y = np.sum(Vt ** 3)
    return y, dlgradient(y, X)


@pytest.mark.parametrize("f, X", [(extra_column, TALL), (extra_row, WIDE)])
def test_extra_singular_vectors_are_refused_at_the_line(f, X):
    with pytest.raises(EvaluationError, match="full_matrices=False") as info:
        dlfeval(f, dlarray(X))
    assert info.value.lineno == f.__code__.co_firstlineno + 1
    assert "np.linalg.svd(X)" in str(info.value)
