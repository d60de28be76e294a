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

    def masked(y, t, m):      # a Mask (in Y's order) is arranged as Y is (tests/test_redteam_dec4b.py)
        return crossentropy(y, t, Mask=m)
    m = (np.arange(12).reshape(3, 4) % 3 != 0).astype(float)
    assert_close(dlfeval(masked, y, t, m), -np.sum(m * T.T * np.log(P.T)) / 4, rtol=1e-12)

    def elementwise(y, t, w):
        return crossentropy(y, t, w)
    with pytest.raises(sct.EvaluationError, match="elementwise weights"):
        dlfeval(elementwise, y, t, np.ones((3, 4)))
    assert_close(crossentropy(y, t, Mask=m), -np.sum(m * T.T * np.log(P.T)) / 4, rtol=1e-12)
    with pytest.raises(ValueError, match="elementwise weights"):
        crossentropy(y, t, np.ones((3, 4)))


# --- mse, l1loss, l2loss, huber on formatted data (MATLAB's examples label the data "SSCB", "CB") ------------

from sct import dims, huber, l1loss, l2loss, mse, stripdims  # noqa: E402


def test_mse_doc_example_sscb():
    # MATLAB: Y = dlarray(rand(6,6,1,1),'SSCB'); targets = ones(6,6,1,1); loss = mse(Y,targets)
    y = rng.random((6, 6, 1, 1))
    Y = dlarray(y, "SSCB")
    expected = np.sum((y - 1) ** 2) / 2            # half the sum over N = 1 observation
    loss = mse(Y, np.ones((6, 6, 1, 1)))
    assert dims(loss) == "" and loss.shape == ()
    assert_close(loss, expected, rtol=1e-12)
    assert_close(mse(y, np.ones((6, 6, 1, 1)), DataFormat="SSCB"), expected, rtol=1e-12)

    def model(Y, T):
        loss = mse(Y, T)
        return loss, dlgradient(loss, Y)
    loss, grad = dlfeval(model, Y, np.ones((6, 6, 1, 1)))
    assert_close(loss, expected, rtol=1e-12)
    assert dims(grad) == "SSCB" and grad.shape == (6, 6, 1, 1)
    assert_close(extractdata(grad), y - 1, rtol=1e-12)


def regression_losses(Y, T, w):
    return (mse(Y, T), l1loss(Y, T), l2loss(Y, T, w), huber(Y, T, TransitionPoint=0.5),
            l2loss(Y, T, NormalizationFactor="all-elements"))


def regression_total(Y, T, w):        # formats are followed in this function, not into helpers (README)
    total = mse(Y, T) + l1loss(Y, T) + l2loss(Y, T, w) + huber(Y, T, TransitionPoint=0.5) \
        + l2loss(Y, T, NormalizationFactor="all-elements")
    return total, dlgradient(total, Y)


def plain_losses(y, t, w):                          # y, t: (B, C)
    d = y - t
    a = np.abs(d)
    hub = np.where(a <= 0.5, 0.5 * d * d, 0.5 * a - 0.125)
    n = y.shape[0]
    return (np.sum(d * d) / (2 * n), np.sum(a) / n, np.sum(w * d * d) / n, np.sum(hub) / n, np.sum(d * d) / d.size)


@pytest.mark.parametrize("fmt", ["CB", "BC"])
def test_regression_losses_cb_eager_and_compiled(fmt):
    y = rng.standard_normal((5, 3))                 # (B, C)
    t = rng.standard_normal((5, 3))
    w = np.array([0.5, 1.0, 2.0])                   # per channel
    Y = dlarray(y.T if fmt == "CB" else y, fmt)
    Tt = t.T if fmt == "CB" else t                  # unformatted targets take Y's format (MATLAB)
    ref = plain_losses(y, t, w)
    for out in (regression_losses(Y, Tt, w), dlfeval(regression_losses, Y, Tt, w)):
        for got, want in zip(out, ref):
            assert dims(got) == "" and got.shape == ()
            assert_close(got, want, rtol=1e-12)
    total, grad = dlfeval(regression_total, Y, Tt, w)
    assert dims(grad) == fmt

    def plain(y):
        return sum(plain_losses(y, t, w))
    expected = numerical_gradient(plain, [y], 0)
    assert_close(extractdata(grad), expected.T if fmt == "CB" else expected, rtol=1e-5, atol=1e-7)


def test_regression_losses_formatted_targets_and_mask_align():
    y = rng.standard_normal((2, 3, 4))              # B T C
    t = rng.standard_normal((2, 3, 4))
    m = (rng.random((2, 3, 4)) > 0.3).astype(float)

    def masked(Y, T, M):
        loss = l1loss(Y, T, Mask=M, NormalizationFactor="mask-included")
        return loss, dlgradient(loss, Y)
    Y = dlarray(np.transpose(y, (2, 0, 1)), "CBT")
    T = dlarray(np.transpose(t, (1, 2, 0)), "TCB")
    M = dlarray(np.transpose(m, (2, 1, 0)), "CTB")
    counts = np.maximum(m.sum(axis=(1, 2), keepdims=True), 1)
    expected = np.sum(m * np.abs(y - t) / counts)
    for loss in (l1loss(Y, T, Mask=M, NormalizationFactor="mask-included"), dlfeval(masked, Y, T, M)[0]):
        assert_close(loss, expected, rtol=1e-12)
    grad = dlfeval(masked, Y, T, M)[1]
    assert dims(grad) == "CBT"
    assert_close(extractdata(grad), np.transpose(m * np.sign(y - t) / counts, (2, 0, 1)), rtol=1e-12)


def test_regression_losses_formatted_refusals():
    Y = dlarray(np.ones((3, 2)), "CB")
    with pytest.raises(ValueError, match="no batch dimension"):
        mse(dlarray(np.ones((3, 2)), "SC"), np.zeros((3, 2)))
    # Reduction="none" on formatted data: MATLAB's unreduced loss, unformatted, Y's size (was refused here;
    # tests/test_redteam_dec18v.py checks its values and gradients)
    unreduced = l2loss(Y, np.zeros((3, 2)), Reduction="none")
    assert dims(unreduced) == "" and unreduced.shape == (3, 2)
    assert_close(extractdata(unreduced), np.ones((3, 2)))
    with pytest.raises(ValueError, match="predictions are unformatted"):
        mse(np.ones((2, 3)), dlarray(np.ones((3, 2)), "CB"))

    def none_reduction(Y, T):
        return huber(Y, T, Reduction="none")
    unreduced = dlfeval(none_reduction, Y, np.zeros((3, 2)))
    assert dims(unreduced) == "" and unreduced.shape == (3, 2)
    assert_close(extractdata(unreduced), 0.5 * np.ones((3, 2)))

    def elementwise(Y, T, w):
        return l2loss(Y, T, w)
    with pytest.raises(sct.EvaluationError, match="elementwise weights"):
        dlfeval(elementwise, Y, np.zeros((3, 2)), np.ones((3, 2)))


# --- minibatchqueue: MiniBatchFormat, OutputCast, OutputEnvironment ---------------------------------------

from sct import (dlnetwork, featureInputLayer, forward, fullyConnectedLayer, hasdata,  # noqa: E402
                 imageInputLayer, minibatchqueue, onehotencode, softmaxLayer)


def test_minibatchqueue_formats_and_casts_like_matlab():
    X = rng.standard_normal((10, 4, 4, 1))          # observations first (sct's layout)
    labels = rng.integers(0, 3, 10)
    mbq = minibatchqueue(X, labels, MiniBatchSize=4, MiniBatchFormat=["SSCB", ""], OutputCast=["single", "double"],
                         MiniBatchFcn=lambda X, T: (X, onehotencode(T, 3)), OutputEnvironment="cpu")
    Xb, Tb = next(mbq)
    assert dims(Xb) == "SSCB" and Xb.shape == (4, 4, 1, 4) and Xb.dtype == np.float32
    assert_close(extractdata(Xb), np.moveaxis(X[:4], 0, 3).astype(np.float32))
    assert dims(Tb) == "" and Tb.dtype == np.float64 and Tb.shape == (4, 3)
    # the MATLAB pattern: a formatted mini-batch into a network
    net = dlnetwork([imageInputLayer([4, 4, 1], Normalization="none"), fullyConnectedLayer(3), softmaxLayer()],
                    Seed=0)
    Y, _ = forward(net, Xb)
    assert dims(Y) == "BC" and Y.shape == (4, 3)
    mbq2 = minibatchqueue(rng.standard_normal((5, 3)), MiniBatchSize=2, MiniBatchFormat="CB", OutputCast="single")
    batches = []
    while hasdata(mbq2):
        batches.append(next(mbq2))
    assert [b.shape for b in batches] == [(3, 2), (3, 2), (3, 1)] and all(dims(b) == "CB" for b in batches)
    assert all(b.dtype == np.float32 for b in batches)
    with pytest.raises(ValueError, match="OutputCast"):
        minibatchqueue(X, OutputCast="float")
    with pytest.raises(ValueError, match="OutputEnvironment"):
        minibatchqueue(X, OutputEnvironment="gpu")
    with pytest.raises(ValueError, match="minibatchqueue"):
        minibatchqueue(X, MiniBatchFormat="SXB")


# --- optimizers: MATLAB's [] as the initial state -----------------------------------------------------------


def test_optimizer_state_empty_list_is_matlab_empty():
    p = {"W": dlarray(np.array([1.0, 2.0], np.float32)), "b": dlarray(np.array([0.5], np.float32))}
    g = {"W": dlarray(np.array([0.5, -1.0], np.float32)), "b": dlarray(np.array([2.0], np.float32))}
    for empty in ([], None, ()):
        new, vel = sgdmupdate(p, g, empty)
        assert_close(extractdata(new["W"]), np.array([0.995, 2.01]), rtol=1e-6)
        assert new["W"].dtype == np.float32 and vel["b"].dtype == np.float32
        new, avg, avg_sq = adamupdate(p, g, empty, empty, 1)
        assert_close(extractdata(new["W"]), np.array([0.999, 2.001]), rtol=1e-6)   # lr 0.001, bias-corrected
        new, avg_sq = rmspropupdate(p, g, empty)
        assert_close(extractdata(new["b"]), np.array([0.5 - 0.001 * 2 / (np.sqrt(0.1 * 4) + 1e-8)]), rtol=1e-6)


def test_indexcrossentropy_float32_stays_float32():
    y = dlarray(P.astype(np.float32))

    def model(y):
        loss = indexcrossentropy(y, np.array([0, 2, 1, 2]))
        return loss, dlgradient(loss, y)
    loss, grad = dlfeval(model, y)
    assert loss.dtype == np.float32 and grad.dtype == np.float32
    assert_close(loss, -np.mean(np.log(P[np.arange(4), [0, 2, 1, 2]])), rtol=1e-6)


# --- dltranspconv reads data formats (it used to treat "SSCB" data as batch-first) ---------------------------

from sct import dltranspconv, embed  # noqa: E402


def transposed(X, W, b):
    Y = dltranspconv(X, W, b, Stride=2, Cropping="same")
    y = np.sum(Y * Y)
    return Y, y, dlgradient(y, X, W)


def test_dltranspconv_sscb_eager_and_compiled():
    x = rng.standard_normal((2, 4, 4, 3))              # B H W C
    w = rng.standard_normal((3, 3, 5, 3))              # MATLAB: kh kw numFilters numChannels
    xs = np.transpose(x, (1, 2, 3, 0))                 # MATLAB's SSCB
    plain = dltranspconv(x, w, 0.5, Stride=2)
    got = dltranspconv(dlarray(xs, "SSCB"), w, 0.5, Stride=2)
    assert dims(got) == "SSCB" and got.shape == (9, 9, 5, 2)
    assert_close(extractdata(got), np.transpose(plain, (1, 2, 3, 0)), rtol=1e-12)
    assert_close(dltranspconv(xs, w, 0.5, Stride=2, DataFormat="SSCB"), np.transpose(plain, (1, 2, 3, 0)),
                 rtol=1e-12)
    Y, y, (gx, gw) = dlfeval(transposed, dlarray(xs, "SSCB"), dlarray(w), 0.5)
    assert dims(Y) == "SSCB" and Y.shape == (8, 8, 5, 2) and dims(gx) == "SSCB"

    def loss(x, w):
        Y = dltranspconv(x, w, 0.5, Stride=2, Cropping="same")
        return np.sum(Y * Y)
    assert_close(y, loss(x, w), rtol=1e-12)
    assert_close(extractdata(gx), np.transpose(numerical_gradient(loss, [x, w], 0), (1, 2, 3, 0)), rtol=1e-5,
                 atol=1e-6)
    assert_close(extractdata(gw), numerical_gradient(loss, [x, w], 1), rtol=1e-5, atol=1e-6)


def test_embed_reads_formats_maxunpool_too():
    # embed reads formatted indices since red team mat51 (MATLAB's 'CB', weights embeddingDimension-by-numWords)
    w = rng.random((3, 4))
    y = embed(dlarray(np.array([[0.0, 3.0]]), "CB"), w)
    assert sct.dims(y) == "CB"
    assert_close(extractdata(y), w[:, [0, 3]], rtol=0, atol=0)
    # maxunpool now reads formatted data (MATLAB's doc example): tests/test_matlab_docs4.py


# --- arrayDatastore and combine feed minibatchqueue (MATLAB's custom training loop pattern) ----------------

from sct import arrayDatastore, combine, read, reset  # noqa: E402


def test_array_datastore_minibatchqueue_pattern():
    # MATLAB: dsX = arrayDatastore(XTrain, IterationDimension=4); dsT = arrayDatastore(TTrain);
    #         ds = combine(dsX, dsT); mbq = minibatchqueue(ds, MiniBatchSize=..., MiniBatchFormat=["SSCB", ""])
    X = rng.standard_normal((4, 4, 1, 6))              # H W C N, MATLAB's layout
    labels = np.arange(6) % 3
    dsX = arrayDatastore(X, IterationDimension=3)
    assert dsX.NumObservations == 6 and read(dsX).shape == (1, 4, 4, 1)
    reset(dsX)
    ds = combine(dsX, arrayDatastore(labels))
    first_x, first_t = read(ds)
    assert_close(first_x[0], X[..., 0]) and first_t.tolist() == [0]
    mbq = minibatchqueue(ds, MiniBatchSize=4, MiniBatchFormat=["SSCB", ""],
                         MiniBatchFcn=lambda X, T: (X, onehotencode(T, 3)))
    Xb, Tb = next(mbq)
    assert dims(Xb) == "SSCB" and Xb.shape == (4, 4, 1, 4)
    assert_close(extractdata(Xb), X[..., :4])
    assert_close(extractdata(Tb), np.eye(3)[labels[:4]])
    Xb, Tb = next(mbq)
    assert Xb.shape == (4, 4, 1, 2) and not hasdata(mbq)
    with pytest.raises(ValueError, match="IterationDimension"):
        arrayDatastore(X, IterationDimension=4)
    with pytest.raises(ValueError, match="different numbers"):
        combine(dsX, arrayDatastore(np.arange(5)))
