"""MATLAB's ``[Y, mu, sigmaSq] = batchnorm(...)`` and ``[Y, indx, inputSize] = maxpool(...)`` ported as
``Y, mu, sigmaSq = batchnorm(...)``: three names unpacking the call ask for the three outputs (MATLAB's
nargout), outside sct (runtime.dlfun ``_asked_outputs``: the caller's bytecode) and in compiled code
(sct/normalize_stmts.py ``ask_outputs`` gives ``nargout=3``).  Was: one output always, so the three
names took Y's first three rows: an error, or for data of three rows (three channels in MATLAB's
"CB" layout) silently wrong numbers.  Values against ``nargout=3``, gradients against finite
differences."""
import numpy as np
import pytest

import sct
from sct import batchnorm, dlarray, dlfeval, dlgradient, maxpool, softmax, crossentropy, fullyconnect, relu
from gradcheck import check_grads


def test_batchnorm_outside_sct_three_rows():
    X = np.random.default_rng(0).normal(size=(3, 3))          # three rows: unpacked silently before
    Y, mu, var = batchnorm(X, np.zeros(3), np.ones(3), np.zeros(3), np.ones(3))
    Y3, mu3, var3 = batchnorm(X, np.zeros(3), np.ones(3), np.zeros(3), np.ones(3), nargout=3)
    np.testing.assert_array_equal(Y, Y3)
    np.testing.assert_array_equal(mu, mu3)
    np.testing.assert_array_equal(var, var3)
    kept = batchnorm(X, np.zeros(3), np.ones(3), np.zeros(3), np.ones(3))   # one name: inference form
    assert kept.shape == (3, 3)
    np.testing.assert_allclose(kept, X / np.sqrt(1 + 1e-5))


def test_maxpool_outside_sct():
    X = np.arange(16.0).reshape(1, 4, 4, 1)
    Y, indx, size = maxpool(X, 2, Stride=2)
    assert size == (1, 4, 4, 1)
    np.testing.assert_array_equal(indx[0, :, :, 0], [[5, 7], [13, 15]])
    np.testing.assert_array_equal(Y, maxpool(X, 2, Stride=2))


def model(W, X, train, tm, tv):
    Y = fullyconnect(X, W, 0.0)
    if train:
        Y, tm, tv = batchnorm(Y, 0.0, 1.0, tm, tv)
    else:
        Y = batchnorm(Y, 0.0, 1.0, tm, tv)
    return softmax(relu(Y)), tm, tv


def loss_unpacked(W, X, T, tm, tv):
    Y, tm, tv = model(W, X, True, tm, tv)
    loss = crossentropy(Y, T)
    return loss, dlgradient(loss, W), tm, tv


def loss_nargout(W, X, T, tm, tv):
    Y = fullyconnect(X, W, 0.0)
    Y, tm, tv = sct.batchnorm(Y, 0.0, 1.0, tm, tv, nargout=3)
    loss = crossentropy(softmax(relu(Y)), T)
    return loss, dlgradient(loss, W), tm, tv


def test_batchnorm_in_dlfeval_as_nargout_3():
    rng = np.random.default_rng(1)
    X = dlarray(rng.normal(size=(3, 8)), "CB")
    T = dlarray(np.eye(4)[:, rng.integers(0, 4, 8)], "CB")
    W = dlarray(rng.normal(size=(4, 3)))
    got = dlfeval(loss_unpacked, W, X, T, np.zeros((4, 1)), np.ones((4, 1)))
    want = dlfeval(loss_nargout, W, X, T, np.zeros((4, 1)), np.ones((4, 1)))
    for a, b in zip(got, want):
        np.testing.assert_allclose(np.asarray(getattr(a, "data", a)), np.asarray(getattr(b, "data", b)), rtol=1e-12)
    # the running statistics moved from their initial values
    assert not np.allclose(np.asarray(getattr(got[2], "data", got[2])), 0.0)


def pooled_three_rows(x):
    # three channels of a (3, 2, 2, 1) batch, pooled with three outputs: Y is (3, 1, 1, 1)
    X = x.reshape(3, 2, 2, 1)
    Y, indx, size = maxpool(X * X, 2)
    return np.sum(Y * np.arange(1.0, 4.0).reshape(3, 1, 1, 1)) + 0.0 * indx.size + 0.0 * size[0]


def normalised_three(x):
    X = x.reshape(3, 3)
    Y, mu, var = batchnorm(X, np.zeros(3), np.ones(3), np.zeros(3), np.ones(3))
    return np.sum(Y * np.arange(9.0).reshape(3, 3)) + np.sum(mu ** 2) + np.sum(var)


@pytest.mark.parametrize("fun, n", [(pooled_three_rows, 12), (normalised_three, 9)])
def test_values_and_gradients(fun, n):
    x = np.random.default_rng(2).normal(size=n)
    check_grads(fun, x)
