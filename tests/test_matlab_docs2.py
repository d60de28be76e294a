"""Scenarios from MATLAB's documentation (crossentropy, mse/l1loss/l2loss/huber, the optimizers,
minibatchqueue, ...) written the way the README translates them; values checked against numpy by hand,
gradients against central differences (tests/gradcheck.py)."""
import numpy as np
import pytest

import sct
from sct import (adamupdate, crossentropy, dlarray, dlfeval, dlgradient, extractdata, indexcrossentropy,
                 rmspropupdate, sgdmupdate, softmax)
from tests.gradcheck import assert_close, check_grads, numerical_gradient

rng = np.random.default_rng(7)


def probabilities(n, c):
    z = rng.standard_normal((n, c))
    e = np.exp(z)
    return e / e.sum(axis=1, keepdims=True)


def one_hot(labels, c):
    return np.eye(c)[labels]


P = probabilities(4, 3)
T = one_hot([0, 2, 1, 2], 3)


# --- crossentropy: MATLAB's name-value options --------------------------------------------------


def test_crossentropy_multilabel_value_and_gradients():
    t = (rng.random((4, 3)) > 0.5).astype(float)
    expected = -np.sum(t * np.log(P) + (1 - t) * np.log(1 - P)) / 4
    assert_close(crossentropy(P, t, ClassificationMode="multilabel"), expected, rtol=1e-12)

    def loss(y, t):
        return crossentropy(y, t, ClassificationMode="multilabel")
    check_grads(loss, P, t)


def test_crossentropy_class_weights_positional_and_observation_weights():
    w = np.array([0.2, 1.0, 3.0])
    expected = -np.sum(w * T * np.log(P)) / 4
    assert_close(crossentropy(P, T, w), expected, rtol=1e-12)
    assert_close(crossentropy(P, T, w, WeightsFormat="C"), expected, rtol=1e-12)
    wb = np.array([1.0, 2.0, 0.5, 4.0])
    assert_close(crossentropy(P, T, wb, WeightsFormat="B"), -np.sum(wb[:, None] * T * np.log(P)) / 4, rtol=1e-12)

    def loss(y):
        return crossentropy(y, T, w)
    check_grads(loss, P)

    def loss_b(y):
        return crossentropy(y, T, wb, WeightsFormat="B")
    check_grads(loss_b, P)


def test_crossentropy_reduction_none_is_elementwise():
    got = crossentropy(P, T, Reduction="none")
    assert got.shape == P.shape
    assert_close(got, -T * np.log(P), rtol=1e-12)

    def loss(y):
        return np.sum(crossentropy(y, T, Reduction="none") ** 2)
    check_grads(loss, P)


@pytest.mark.parametrize("factor,divisor", [("batch-size", 4.0), ("all-elements", 4.0), ("none", 1.0)])
def test_crossentropy_normalization_factor(factor, divisor):
    assert_close(crossentropy(P, T, NormalizationFactor=factor), -np.sum(T * np.log(P)) / divisor, rtol=1e-12)
    multi = crossentropy(P, T, ClassificationMode="multilabel", NormalizationFactor=factor)
    full = -np.sum(T * np.log(P) + (1 - T) * np.log(1 - P))
    assert_close(multi, full / (12.0 if factor == "all-elements" else divisor), rtol=1e-12)


def test_crossentropy_mask_and_mask_included():
    mask = np.ones((4, 3))
    mask[1] = 0
    mask[3, :2] = 0
    values = -T * np.log(P) * mask
    assert_close(crossentropy(P, T, Mask=mask), np.sum(values) / 4, rtol=1e-12)
    counts = mask.sum(axis=1, keepdims=True) / 3
    expected = np.sum(values / np.maximum(counts, 1))
    assert_close(crossentropy(P, T, Mask=mask, NormalizationFactor="mask-included"), expected, rtol=1e-12)

    def loss(y):
        return crossentropy(y, T, Mask=mask, NormalizationFactor="mask-included")
    check_grads(loss, P)


def test_crossentropy_options_second_derivative():
    t = (rng.random((4, 3)) > 0.5).astype(float)
    w = np.array([0.5, 1.0, 2.0])

    def hess_diag(y):
        loss = crossentropy(y, t, w, ClassificationMode="multilabel")
        g = dlgradient(loss, y)
        return dlgradient(np.sum(g), y)
    got = extractdata(dlfeval(hess_diag, dlarray(P)))
    # d/dY sum_ij of w_j (-(t/Y) + (1-t)/(1-Y)) / N
    expected = w * (t / P ** 2 + (1 - t) / (1 - P) ** 2) / 4
    assert_close(got, expected, rtol=1e-9)


def test_crossentropy_options_formatted_and_float32():
    y = dlarray(P.T.astype(np.float32), "CB")
    t = dlarray(T.T.astype(np.float32), "CB")
    w = np.array([0.2, 1.0, 3.0], np.float32)

    def model(y, t):
        loss = crossentropy(y, t, w, ClassificationMode="multilabel")
        return loss, dlgradient(loss, y)
    loss, grad = dlfeval(model, y, t)
    expected = -np.sum(w * (T * np.log(P) + (1 - T) * np.log(1 - P))) / 4
    assert_close(loss, expected, rtol=1e-5)
    assert loss.dtype == np.float32 and grad.dtype == np.float32 and sct.dims(grad) == "CB"
    assert_close(extractdata(grad), (w * (-T / P + (1 - T) / (1 - P)) / 4).T, rtol=1e-4)
    # the same outside dlfeval
    assert_close(crossentropy(y, t, w, ClassificationMode="multilabel"), expected, rtol=1e-5)


def test_crossentropy_option_errors():
    with pytest.raises(ValueError, match="ClassificationMode"):
        crossentropy(P, T, ClassificationMode="multi")
    with pytest.raises(ValueError, match="Reduction"):
        crossentropy(P, T, Reduction="mean")
    with pytest.raises(ValueError, match="mask-included"):
        crossentropy(P, T, NormalizationFactor="mask-included")
    with pytest.raises(ValueError, match="not both"):
        crossentropy(P, T, reduction="sum", Reduction="sum")


def test_crossentropy_default_unchanged():
    assert_close(crossentropy(P, T), -np.sum(T * np.log(P)) / 4, rtol=1e-12)
    assert crossentropy(P, T, reduction="none").shape == (4,)


def test_crossentropy_formatted_refuses_what_it_cannot_arrange():
    y = dlarray(P.T, "CB")
    t = dlarray(T.T, "CB")

    def masked(y, t, m):
        return crossentropy(y, t, Mask=m)
    with pytest.raises(sct.CompileError, match="Mask"):
        dlfeval(masked, y, t, np.ones((3, 4)))

    def elementwise(y, t, w):
        return crossentropy(y, t, w)
    with pytest.raises(sct.EvaluationError, match="elementwise weights"):
        dlfeval(elementwise, y, t, np.ones((3, 4)))
    with pytest.raises(ValueError, match="Mask"):
        crossentropy(y, t, Mask=np.ones((3, 4)))
    with pytest.raises(ValueError, match="elementwise weights"):
        crossentropy(y, t, np.ones((3, 4)))
