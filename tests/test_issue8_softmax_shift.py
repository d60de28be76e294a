"""issue 8: the adjoint of a softmax's max shift (``Z - np.max(Z, axis, keepdims=True)``) is left out
where everything computed from the shifted values is shift-invariant (log-softmax, softmax):
``rt.shift_free_max`` (runtime/numpy_ops.py), written by sct/optimize.py's
``shift_invariant_maxima``.  Gradients against central differences, the general form where the
pattern does not hold, NaN / infinities / huge adjoints as the general form gives them, and
second derivatives through the code read back."""
import numpy as np
import pytest

import sct
import sct.emit
from sct import dlarray, dlfeval, dlgradient
from sct.runtime import numpy_ops

from gradcheck import assert_close, check_grads, numerical_gradient


def log_softmax_loss(W, X, T):
    Z = X @ W
    Z = Z - np.max(Z, axis=1, keepdims=True)
    logp = Z - np.log(np.sum(np.exp(Z), axis=1, keepdims=True))
    return -np.sum(T * logp) / X.shape[0]


def cross_entropy(Z, T):
    Z = Z - np.max(Z, axis=1, keepdims=True)
    logp = Z - np.log(np.sum(np.exp(Z), axis=1, keepdims=True))
    return -np.sum(T * logp) / Z.shape[0]


def helper_loss(W, X, T):
    return cross_entropy(np.tanh(X @ W), T)


def softmax_loss(W, X, T):
    Z = X @ W
    E = np.exp(Z - np.max(Z, axis=-1, keepdims=True))
    P = E / np.sum(E, axis=-1, keepdims=True)
    return np.sum((P - T) ** 2)


def columns_loss(W, X, T):
    Z = (X @ W).T
    Z = Z - np.max(Z, axis=0, keepdims=True)
    logp = Z - np.log(np.sum(np.exp(Z), axis=0, keepdims=True))
    return -np.sum(T.T * logp)


def other_axis_loss(W, X, T):          # the sum runs along another axis: not shift-invariant
    Z = X @ W
    Z = Z - np.max(Z, axis=1, keepdims=True)
    logp = Z - np.log(np.sum(np.exp(Z), axis=0, keepdims=True))
    return -np.sum(T * logp)


def shifted_read_loss(W, X, T):        # the shifted values read elsewhere too
    Z = X @ W
    Z = Z - np.max(Z, axis=1, keepdims=True)
    logp = Z - np.log(np.sum(np.exp(Z), axis=1, keepdims=True))
    return -np.sum(T * logp) + np.sum(Z ** 2)


def max_read_loss(W, X, T):            # the max read elsewhere too
    Z = X @ W
    M = np.max(Z, axis=1, keepdims=True)
    Z1 = Z - M
    logp = Z1 - np.log(np.sum(np.exp(Z1), axis=1, keepdims=True))
    return -np.sum(T * logp) + np.sum(M)


def logsumexp_loss(W, X, T):           # the max added back: its adjoint is not zero
    Z = X @ W
    M = np.max(Z, axis=1, keepdims=True)
    lse = M + np.log(np.sum(np.exp(Z - M), axis=1, keepdims=True))
    return np.sum(lse * T[:, :1])


def exp_read_loss(W, X, T):            # exp of the shifted values read by something else
    Z = X @ W
    Z = Z - np.max(Z, axis=1, keepdims=True)
    E = np.exp(Z)
    P = E / np.sum(E, axis=1, keepdims=True)
    return np.sum(P * T) + np.sum(E)


def _data():
    r = np.random.default_rng(7)
    return r.standard_normal((5, 4)), r.standard_normal((8, 5)), r.random((8, 4))


def _grad_fun(loss):
    def fun(W, X, T):
        y = loss(W, X, T)
        return y, dlgradient(y, W)
    fun.__name__ = loss.__name__ + "_grad"
    return fun


def log_softmax_grad(W, X, T):
    y = log_softmax_loss(W, X, T)
    return y, dlgradient(y, W)


def softmax_grad(W, X, T):
    y = softmax_loss(W, X, T)
    return y, dlgradient(y, W)


def inline_grad(W, X, T):
    Z = X @ W
    Z = Z - np.max(Z, axis=1, keepdims=True)
    logp = Z - np.log(np.sum(np.exp(Z), axis=1, keepdims=True))
    y = -np.sum(T * logp) / X.shape[0]
    return y, dlgradient(y, W)


def inline_softmax_grad(W, X, T):
    Z = X @ W
    E = np.exp(Z - np.max(Z, axis=-1, keepdims=True))
    P = E / np.sum(E, axis=-1, keepdims=True)
    y = np.sum((P - T) ** 2)
    return y, dlgradient(y, W)


def shifted_read_grad(W, X, T):
    Z = X @ W
    Z = Z - np.max(Z, axis=1, keepdims=True)
    logp = Z - np.log(np.sum(np.exp(Z), axis=1, keepdims=True))
    y = -np.sum(T * logp) + np.sum(Z ** 2)
    return y, dlgradient(y, W)


def max_read_grad(W, X, T):
    Z = X @ W
    M = np.max(Z, axis=1, keepdims=True)
    Z1 = Z - M
    logp = Z1 - np.log(np.sum(np.exp(Z1), axis=1, keepdims=True))
    y = -np.sum(T * logp) + np.sum(M)
    return y, dlgradient(y, W)


def other_axis_grad(W, X, T):
    Z = X @ W
    Z = Z - np.max(Z, axis=1, keepdims=True)
    logp = Z - np.log(np.sum(np.exp(Z), axis=0, keepdims=True))
    y = -np.sum(T * logp)
    return y, dlgradient(y, W)


def exp_read_grad(W, X, T):
    Z = X @ W
    Z = Z - np.max(Z, axis=1, keepdims=True)
    E = np.exp(Z)
    P = E / np.sum(E, axis=1, keepdims=True)
    y = np.sum(P * T) + np.sum(E)
    return y, dlgradient(y, W)


@pytest.mark.parametrize("loss", [log_softmax_loss, helper_loss, softmax_loss, columns_loss, other_axis_loss,
                                  shifted_read_loss, max_read_loss, logsumexp_loss, exp_read_loss])
def test_gradients_against_central_differences(loss):
    W, X, T = _data()
    check_grads(loss, W, X, T, rtol=1e-6, atol=1e-8)


@pytest.mark.parametrize("fun, dropped", [(inline_grad, True), (inline_softmax_grad, True),
                                          (shifted_read_grad, False), (max_read_grad, False),
                                          (other_axis_grad, False), (exp_read_grad, False)])
def test_generated_code_drops_the_shift_only_where_invariant(fun, dropped):
    W, X, T = _data()
    source = str(sct.source(fun, dlarray(W), dlarray(X), dlarray(T)))
    assert ("rt.shift_free_max(" in source) is dropped
    assert ("extremum_scaled" in source) is not dropped
    value, g = dlfeval(fun, dlarray(W), dlarray(X), dlarray(T))
    expected = numerical_gradient(lambda w: float(np.asarray(dlfeval(fun, dlarray(w), dlarray(X),
                                                                     dlarray(T))[0].data)), [W.copy()], 0)
    assert_close(np.asarray(g.data), expected, 1e-6, 1e-8)


def test_float32_keeps_its_dtype():
    W, X, T = (a.astype(np.float32) for a in _data())
    value, g = dlfeval(inline_grad, dlarray(W), dlarray(X), dlarray(T))
    assert np.asarray(g.data).dtype == np.float32
    ref = dlfeval(inline_grad, dlarray(W.astype(np.float64)), dlarray(X.astype(np.float64)),
                  dlarray(T.astype(np.float64)))[1]
    np.testing.assert_allclose(np.asarray(g.data), np.asarray(ref.data), rtol=1e-4, atol=1e-5)


def spied_cross_entropy(Z, T):         # used by the one test below only (compiled there)
    Z = Z - np.max(Z, axis=1, keepdims=True)
    logp = Z - np.log(np.sum(np.exp(Z), axis=1, keepdims=True))
    return -np.sum(T * logp) / Z.shape[0]


def spied_grad(W, X, T):
    y = spied_cross_entropy(X @ W, T) * 2.0
    return y, dlgradient(y, W) / 2.0


def test_helper_adjoint_drops_it():
    """The helper's adjoint (compiled on its first call, given Z and the max as residuals)."""
    import sct.optimize as optimize
    seen = []
    original = optimize._rewrite_shift

    def spy(fn, triples, rt_name, shared):
        original(fn, triples, rt_name, shared)
        seen.append((fn.name, triples, "shift_free_max" in sct.emit.to_source([fn])))

    optimize._rewrite_shift = spy
    try:
        W, X, T = _data()
        value, g = dlfeval(spied_grad, dlarray(W), dlarray(X), dlarray(T))
    finally:
        optimize._rewrite_shift = original
    assert ("spied_cross_entropy_bwd", [("Z", "Z_max", 1)], True) in seen
    expected = numerical_gradient(lambda w: float(spied_cross_entropy(X @ w, T)), [W.copy()], 0)
    assert_close(np.asarray(g.data), expected, 1e-6, 1e-8)


def _general(total, g, a, top, axis):
    return total + numpy_ops.extremum_scaled(numpy_ops.unbroadcast(-g, top), a, top, axis, True)


@pytest.mark.parametrize("axis", [1, -1, 0])
def test_runtime_finite_is_total_and_close_to_general(axis):
    r = np.random.default_rng(3)
    a = r.standard_normal((6, 5))
    top = np.max(a, axis=axis, keepdims=True)
    g = r.standard_normal((6, 5))
    g -= np.mean(g, axis=axis, keepdims=True)        # sums to ~0 along the axis (a shift-invariant adjoint)
    total = g.copy()
    out = numpy_ops.shift_free_max(total, g, a, top, axis)
    assert out is total
    np.testing.assert_allclose(out, _general(total, g, a, top, axis), rtol=0, atol=1e-14)


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf, 1e308, -1e308])
def test_runtime_nonfinite_or_huge_is_the_general_form(bad):
    r = np.random.default_rng(4)
    a = r.standard_normal((4, 3))
    a[1, 1] = a[1, 0] = 5.0                          # a tie
    top = np.max(a, axis=1, keepdims=True)
    g = r.standard_normal((4, 3))
    g[1, 2] = g[1, 0] = bad                          # (two huge values: their row's sum overflows)
    g[2, 0] = bad
    with np.errstate(all="ignore"):
        out = numpy_ops.shift_free_max(g.copy(), g, a, top, 1)
        expected = _general(g.copy(), g, a, top, 1)
    np.testing.assert_array_equal(out, expected)     # NaN where NaN, the same infinities
    assert not np.isfinite(out).all()


def test_runtime_other_types_are_the_general_form():
    a = np.array([[1.0, 3.0], [2.0, 2.0]])
    top = np.max(a, axis=1, keepdims=True)
    g = np.array([[0.5, -0.5], [1.0, -1.0]], dtype=np.float32)     # another dtype than a's
    out = numpy_ops.shift_free_max(g.astype(np.float64), g, a, top, 1)
    np.testing.assert_array_equal(out, _general(g.astype(np.float64), g, a, top, 1))


def logits_grad(Z, T):
    S = Z - np.max(Z, axis=1, keepdims=True)
    logp = S - np.log(np.sum(np.exp(S), axis=1, keepdims=True))
    y = -np.sum(T * logp)
    return y, dlgradient(y, Z)


def logits_general_grad(Z, T):         # the same code, compiled without the pass (below)
    S = Z - np.max(Z, axis=1, keepdims=True)
    logp = S - np.log(np.sum(np.exp(S), axis=1, keepdims=True))
    y = -np.sum(T * logp)
    return y, dlgradient(y, Z)


def test_nan_inf_ties_and_huge_adjoints_as_the_general_form(monkeypatch):
    """Rows of logits with NaN, +inf, -inf, ties, and targets whose adjoints overflow: the rows
    the general form makes non-finite are the same, bit for bit; finite rows agree to rounding."""
    import sct.compiler
    r = np.random.default_rng(6)
    Z = r.standard_normal((8, 5))
    T = r.random((8, 5))
    Z[1, 2] = np.nan
    Z[2, 3] = np.inf
    Z[3, 0] = -np.inf
    Z[4, 1] = Z[4, 4] = 9.0                        # a tie for the max
    T[5, :] = [1e308, 1e308, -1e308, 0.5, 1e308]   # the adjoint's row sum overflows
    T[6, 2] = np.inf
    assert "rt.shift_free_max(" in str(sct.source(logits_grad, dlarray(Z), dlarray(T)))
    with np.errstate(all="ignore"):
        got = np.asarray(dlfeval(logits_grad, dlarray(Z), dlarray(T))[1].data)
        monkeypatch.setattr(sct.compiler, "shift_invariant_maxima", lambda *args: None)
        assert "rt.shift_free_max(" not in str(sct.source(logits_general_grad, dlarray(Z), dlarray(T)))
        want = np.asarray(dlfeval(logits_general_grad, dlarray(Z), dlarray(T))[1].data)
    bad = ~np.isfinite(want).all(axis=1)
    assert bad[[1, 2, 5, 6]].all()
    np.testing.assert_array_equal(got[bad], want[bad])
    np.testing.assert_allclose(got[~bad], want[~bad], rtol=1e-12, atol=1e-15)


def hvp_loss(x):
    Z = np.reshape(x, (3, 4))
    Z = Z - np.max(Z, axis=1, keepdims=True)
    logp = Z - np.log(np.sum(np.exp(Z), axis=1, keepdims=True))
    return -np.sum(np.linspace(0.1, 1.2, 12).reshape(3, 4) * logp)


def hvp_grad(x):
    y = hvp_loss(x)
    return dlgradient(y, x)


def test_second_derivatives_through_the_read_back_code():
    r = np.random.default_rng(5)
    x = r.standard_normal(12)
    v = r.standard_normal(12)
    hv = np.asarray(sct.hvp(hvp_loss, dlarray(x), dlarray(v)).data)

    def directional(t):
        return np.asarray(dlfeval(hvp_grad, dlarray(x + t * v)).data)
    h = 1e-5
    expected = (directional(h) - directional(-h)) / (2 * h)
    assert_close(hv, expected, 1e-5, 1e-7)
