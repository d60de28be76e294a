"""The NaN refusal of a finite y reads a gradient in its own memory order (runtime.support.nan_total):
a weight read as ``W.T`` has a transposed (Fortran-ordered) gradient, which np.vdot copied first."""
import numpy as np
import pytest

from sct import EvaluationError, dlarray, dlfeval, dlgradient
from sct.runtime.support import nan_total
from gradcheck import check_grads, numerical_gradient


@pytest.mark.parametrize("make", [
    lambda a: a, lambda a: a.T, lambda a: a[:, ::-1], lambda a: a[::2, 1:],
    lambda a: a.astype(np.complex128).T, lambda a: a.astype(np.float32)[:, ::2]])
def test_nan_total_is_nan_when_an_entry_is(make):
    base = np.arange(1.0, 13.0).reshape(3, 4)
    clean = make(base.copy())
    assert nan_total(clean) == nan_total(clean)
    withinf = base.copy()
    withinf[2, 2] = np.inf
    view = make(withinf)
    total = nan_total(view)
    if view.dtype.kind == "f":
        assert total == total                 # inf is not NaN (complex: inf * conj(inf) may be; the
        #                                       refusal then reads the entries, runtime.support)
    for i, j in [(0, 0), (2, 3), (1, 2)]:
        dirty = base.copy()
        dirty[i, j] = np.nan
        view = make(dirty)
        total = nan_total(view)
        assert (total != total) == bool(np.isnan(view).any())


def linear(W, x):
    h = x @ W.T
    return np.sum(np.tanh(h) ** 2)


def loss_and_grad(W, x):
    y = linear(W, x)
    return y, dlgradient(y, W)


def masked_sqrt(W, x):
    h = np.sqrt(x @ W.T)               # negative entries: NaN there
    y = np.sum(np.where(np.isnan(h), 0.0, h))
    return y, dlgradient(y, W)


def test_transposed_weight_gradient_is_exact_and_its_nan_refused():
    rng = np.random.default_rng(1)
    W, x = rng.standard_normal((5, 3)), rng.standard_normal((4, 3))
    y, g = dlfeval(loss_and_grad, dlarray(W), x)
    assert np.isclose(float(y.data), linear(W, x))
    np.testing.assert_allclose(g.data, numerical_gradient(linear, [W, x], 0), rtol=1e-5, atol=1e-6)
    check_grads(linear, W, x)
    with np.errstate(all="ignore"), pytest.raises(EvaluationError, match="NaN"):
        dlfeval(masked_sqrt, dlarray(W), x)
