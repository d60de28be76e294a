"""Issue 8, training steps (fourth round): batchnorm's training form as ``batchnorm_train_apply`` (the
statistics computed once in the forward; the closed-form input adjoint from the shared batch totals,
``batchnorm_stats_input_adjoint``), every call two contributions of one rule make made once
(``share_common_calls``), and unbroadcast's sum over leading axes as one matrix-vector product.
Gradients against central differences (tests/gradcheck.py), first and second order, float32 kept."""
from __future__ import annotations

import numpy as np
import pytest

import sct
from sct import batchnorm, dlarray, dlfeval, dlgradient, extractdata
from sct.runtime import dlfun, support

try:
    from tests.gradcheck import assert_close, numerical_gradient
except ImportError:                      # run as plain `pytest` from inside tests/
    from gradcheck import assert_close, numerical_gradient


# --- batchnorm's training form, Epsilon traced too ------------------------------------------------------


def bn_eps_loss(x, offset, scale, eps):
    y = batchnorm(x, offset, scale, Epsilon=eps)
    return np.sum(np.sin(y) * y * np.arange(1.0, y.shape[-1] + 1))


def _bn_eps_grad(x, offset, scale, eps):
    loss = bn_eps_loss(x, offset, scale, eps)
    return loss, *dlgradient(loss, x, offset, scale, eps)


def bn_eps_curvature(x, offset, scale, eps):
    gx, gs, ge = dlgradient(bn_eps_loss(x, offset, scale, eps), x, scale, eps, EnableHigherDerivatives=True)
    return np.sum(gx * gx) + np.sum(gs * np.cos(gs)) + ge * ge


def _bn_eps_curv_grad(x, offset, scale, eps):
    c = bn_eps_curvature(x, offset, scale, eps)
    return c, *dlgradient(c, x, offset, scale, eps)


@pytest.mark.parametrize("shape", [(4, 3), (3, 2, 4, 3), (2, 3, 5)])
def test_batchnorm_training_form_first_and_second_order_with_epsilon(shape):
    rng = np.random.default_rng(41)
    c = shape[-1]
    args = [rng.standard_normal(shape) * 1.3 + 0.4, rng.standard_normal(c), rng.standard_normal(c), 0.3]
    assert dlfun.fused_batchnorm_applies(args[0], args[1], args[2])
    _, *grads = dlfeval(_bn_eps_grad, *[dlarray(a) for a in args])
    for k, got in enumerate(grads):
        assert_close(extractdata(got), numerical_gradient(bn_eps_loss, args, k), 1e-5, 1e-7, f"d/darg{k}")

    def plain(*a):
        return float(np.asarray(extractdata(dlfeval(bn_eps_curvature, *[dlarray(v) for v in a]))))
    _, *grads = dlfeval(_bn_eps_curv_grad, *[dlarray(a) for a in args])
    for k, got in enumerate(grads):
        assert_close(extractdata(got), numerical_gradient(plain, args, k), 1e-4, 1e-6, f"second order d/darg{k}")


def test_batchnorm_stats_input_adjoint_is_the_closed_form_and_keeps_float32():
    rng = np.random.default_rng(5)
    for dtype in (np.float32, np.float64):
        x = (rng.standard_normal((6, 5, 4, 3)) * 2 + 1).astype(dtype)
        g = rng.standard_normal(x.shape).astype(dtype)
        scale = rng.standard_normal(3).astype(dtype)
        mu, var = dlfun.batch_mean(x), dlfun.batch_variance(x)
        got = dlfun.batchnorm_stats_input_adjoint(g, x, mu, var, scale, 1e-5, dlfun.batch_total(g),
                                                  dlfun.centered_total(g, x, mu))
        want = dlfun.batchnorm_input_adjoint(g, x, scale, 1e-5)
        assert got.dtype == dtype and got.shape == x.shape
        tol = 1e-4 if dtype == np.float32 else 1e-11
        assert_close(got, want, tol, tol * np.abs(want).max())


def test_batchnorm_training_form_float32_gradients_stay_float32():
    rng = np.random.default_rng(9)
    x = rng.standard_normal((4, 3, 3, 2)).astype(np.float32)
    o, s = np.zeros(2, np.float32), np.ones(2, np.float32)
    _, *grads = dlfeval(_bn_plain_grad, dlarray(x), dlarray(o), dlarray(s))
    for got in grads:
        assert extractdata(got).dtype == np.float32
    grads64 = dlfeval(_bn_plain_grad, *[dlarray(np.asarray(a, np.float64)) for a in (x, o, s)])[1:]
    for got, want in zip(grads, grads64):
        assert_close(extractdata(got), extractdata(want), 1e-3, 1e-4)


# --- share_common_calls: each shared call once -------------------------------------------------------------


def bn_plain_loss(x, offset, scale):
    return np.sum(batchnorm(x, offset, scale) ** 3)


def _bn_plain_grad(x, offset, scale):
    loss = bn_plain_loss(x, offset, scale)
    return loss, *dlgradient(loss, x, offset, scale)


def test_batchnorm_adjoint_makes_each_shared_total_once():
    rng = np.random.default_rng(2)
    args = [dlarray(rng.standard_normal((5, 4, 3))), dlarray(rng.standard_normal(3)),
            dlarray(rng.standard_normal(3))]
    text = str(sct.source(_bn_plain_grad, *args, callees=True))
    adjoint = text[text.index("Y = batchnorm_train_apply"):]
    adjoint = adjoint[adjoint.index("if d_Y is not rt.ZERO:"):]
    adjoint = adjoint[:adjoint.index("# adjoint of line")]     # (the block's end: its `d_Y = rt.ZERO`, dead, is
                                                                # removed since dead54)
    assert adjoint.count("rt.batch_total(d_Y)") == 1, adjoint
    assert adjoint.count("rt.centered_total(d_Y, X, mu)") == 1, adjoint
    assert adjoint.count("rt.batchnorm_stats_input_adjoint(") == 1, adjoint
    _, *grads = dlfeval(_bn_plain_grad, *args)
    plain_args = [extractdata(a) for a in args]
    for k, got in enumerate(grads):
        assert_close(extractdata(got), numerical_gradient(bn_plain_loss, plain_args, k), 1e-5, 1e-7, f"d/darg{k}")


def shared_parts(x, w):
    # np.dot's rule: both adjoints read the other operand; tanh's twice below (a call in two contributions)
    return np.sum(np.tanh(x @ w) * np.cos(x @ w))


def _shared_parts_grad(x, w):
    y = shared_parts(x, w)
    return y, *dlgradient(y, x, w)


def test_shared_calls_give_the_same_gradients():
    rng = np.random.default_rng(3)
    args = [rng.standard_normal((4, 3)), rng.standard_normal((3, 2))]
    _, *grads = dlfeval(_shared_parts_grad, *[dlarray(a) for a in args])
    for k, got in enumerate(grads):
        assert_close(extractdata(got), numerical_gradient(shared_parts, args, k), 1e-6, 1e-8, f"d/darg{k}")


# --- unbroadcast over leading axes as a matrix-vector product ------------------------------------------------


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("shape, like", [((32, 26, 26, 16), (16,)), ((70, 5), (5,)), ((3, 70, 4), (70, 4)),
                                         ((128, 300), (300,)), ((10, 4), (4,)), ((65, 2, 1), (2, 1)),
                                         ((80, 3, 4), (1, 4))])
def test_unbroadcast_leading_total_matches_numpys_sum(dtype, shape, like):
    rng = np.random.default_rng(11)
    g = rng.standard_normal(shape).astype(dtype)
    like_arr = np.zeros(like, dtype)
    extra = len(shape) - len(like)
    want = np.sum(g, axis=tuple(range(extra)))
    keep = tuple(i for i, n in enumerate(like) if n == 1 and want.shape[i] != 1)
    if keep:
        want = np.sum(want, axis=keep, keepdims=True)
    for _ in range(2):                      # the first call works the plan out, the second uses it
        got = support.unbroadcast(g, like_arr)
        assert got.shape == like and got.dtype == dtype
        tol = 1e-4 if dtype == np.float32 else 1e-12
        assert_close(got, want, tol, tol * np.abs(want).max())
    # a transposed (not C-contiguous) gradient and an integer one: numpy's sum itself
    gt = np.ascontiguousarray(g.T).T
    assert_close(support.unbroadcast(gt, like_arr), want, tol, tol * np.abs(want).max())
    gi = (g * 10).astype(np.int64)
    assert np.array_equal(support.unbroadcast(gi, np.zeros(like, np.int64)),
                          np.sum(np.sum(gi, axis=tuple(range(extra))), axis=keep, keepdims=True) if keep
                          else np.sum(gi, axis=tuple(range(extra))))


def bias_loss(X, W, b):
    Z = X @ W + b
    return np.sum(np.tanh(Z) ** 2)


def _bias_grad(X, W, b):
    y = bias_loss(X, W, b)
    return y, *dlgradient(y, W, b)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_bias_gradient_over_many_rows(dtype):
    rng = np.random.default_rng(4)
    args = [rng.standard_normal((200, 6)).astype(dtype), (rng.standard_normal((6, 5)) / 3).astype(dtype),
            rng.standard_normal(5).astype(dtype)]
    _, gW, gb = dlfeval(_bias_grad, *[dlarray(a) for a in args])
    assert extractdata(gb).dtype == dtype and extractdata(gW).dtype == dtype
    args64 = [np.asarray(a, np.float64) for a in args]
    tol = 1e-3 if dtype == np.float32 else 1e-6
    assert_close(extractdata(gb), numerical_gradient(bias_loss, args64, 2), tol, tol)
    assert_close(extractdata(gW), numerical_gradient(bias_loss, args64, 1), tol, tol)


# --- forward mode: the statistics carry no tangent of their own, the rule's X tangent is the total one ----


def bn_forward_mode(x):
    y = batchnorm(x, np.array([0.1, -0.2, 0.3]), np.array([1.5, 0.7, -1.1]))
    return np.sum(np.sin(y) * y)


def _bn_forward_mode_grad(x):
    y = bn_forward_mode(x)
    return y, dlgradient(y, x)


def test_batchnorm_training_form_jvp_and_hvp():
    rng = np.random.default_rng(13)
    x = rng.standard_normal((4, 3, 3))
    v = rng.standard_normal(x.shape)
    h = 1e-6
    _, tangent = sct.jvp(bn_forward_mode, (dlarray(x),), (dlarray(v),))
    want = (bn_forward_mode(x + h * v) - bn_forward_mode(x - h * v)) / (2 * h)
    assert_close(np.asarray(extractdata(tangent)), want, 1e-6, 1e-8, "jvp")

    def grad(a):
        return extractdata(dlfeval(_bn_forward_mode_grad, dlarray(a))[1])
    hv = sct.hvp(bn_forward_mode, dlarray(x), dlarray(v))
    assert_close(extractdata(hv), (grad(x + h * v) - grad(x - h * v)) / (2 * h), 1e-5, 1e-6, "hvp")
