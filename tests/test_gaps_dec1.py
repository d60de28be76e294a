"""Gaps users hit (Dec 1): ops and constructs refused before, written the way users write them.

np.linalg.qr (reduced, square and tall, R alone), np.linalg.lstsq (with starred unpacking),
np.polyval (traced coefficients and x), np.median (axis / keepdims; the middle entry, or the
mean of the two middle ones), functools.reduce over a list of arrays (an op, operator, a lambda,
a helper), ``x, *rest = ...``.  Values equal numpy's, gradients and second derivatives match
central differences (tests/gradcheck.py), float32 stays float32.
"""
from __future__ import annotations

import functools
import operator
from functools import reduce

import numpy as np
import pytest

import sct
from sct import CompileError, EvaluationError, dlarray, dlfeval, dlgradient

from gradcheck import assert_close, check_grads, numerical_gradient

RNG = np.random.default_rng(2024)
A43 = RNG.uniform(-1, 1, (4, 3))
A34 = np.ascontiguousarray(A43.T)       # (gradcheck perturbs C-ordered copies: no transposed views)
A33 = RNG.uniform(-1, 1, (3, 3)) + 2 * np.eye(3)
A33T = np.ascontiguousarray(A33.T)
B4 = RNG.uniform(-1, 1, 4)
B42 = RNG.uniform(-1, 1, (4, 2))
C4 = RNG.uniform(-1, 1, 4)
X23 = RNG.uniform(-1, 1, (2, 3))
X23R = np.ascontiguousarray(X23[::-1])
M56 = RNG.uniform(-1, 1, (5, 6))
M346 = RNG.uniform(-1, 1, (3, 4, 6))


# --- user-style losses ------------------------------------------------------------------------------

def qr_loss(a):
    q, r = np.linalg.qr(a)
    return np.sum(q * np.sin(q[:, :1])) + np.sum(np.triu(r) ** 2) + np.sum(np.abs(np.diag(r)))


def qr_projection_loss(a):
    # the projector onto a's columns: Q Q^T (independent of signs), through a helper in a loop
    q = np.linalg.qr(a)[0]
    total = 0.0
    for k in range(q.shape[1]):
        total = total + project(q[:, k], np.arange(1.0, a.shape[0] + 1))
    return total


def project(v, w):
    return np.dot(v, w) ** 2


def qr_r_only_loss(a):
    r = np.linalg.qr(a, mode="r")
    return np.sum(r * r[0, 0])


def qr_method_chain_loss(a):
    res = np.linalg.qr(a @ a.T + np.eye(a.shape[0]))
    return np.sum(res.Q[:, 0] * res.R[0])


def lstsq_loss(a, b):
    x, *rest = np.linalg.lstsq(a, b, rcond=None)
    return np.sum(x ** 2) + np.sum(np.sin(x))


def lstsq_all_loss(a, b):
    x, residuals, rank, s = np.linalg.lstsq(a, b, rcond=None)
    return np.sum(x * x[0]) + np.sum(residuals) + np.sum(s ** 2) * (rank == 3)


def lstsq_tail_loss(a, b):
    x, *middle, s = np.linalg.lstsq(a, b, rcond=None)
    return np.sum(x) * np.sum(s) + np.sum(middle[0])


def polyval_loss(c, x):
    return np.sum(np.polyval(c, x) ** 2)


def polyval_list_loss(c, x):
    # coefficients written as a list, one of them traced
    return np.sum(np.tanh(np.polyval([c[0], 0.5, c[1] * c[2]], x)))


def median_loss(x):
    return np.sum(np.median(x, axis=0) ** 2) + np.median(x) * np.sum(np.median(x, axis=1, keepdims=True))


def median_tuple_axis_loss(x):
    return np.sum(np.exp(np.median(x, axis=(0, 2))))


def reduce_add_loss(x, y):
    xs = [x, y * 2, x * y]
    return np.sum(reduce(np.add, xs) ** 2)


def reduce_matmul_loss(a, b):
    mats = [a, b, a.T @ b, b]
    return np.sum(functools.reduce(lambda p, q: p @ q, mats))


def reduce_operator_loss(x, y):
    total = functools.reduce(operator.mul, [x, y, x + 1.0], np.ones(x.shape))
    return np.sum(total)


def reduce_helper_loss(x, y):
    return np.sum(reduce(combine, [x, y, np.sin(x)]) ** 2)


def combine(acc, item):
    return acc * 0.5 + np.tanh(item)


# --- values --------------------------------------------------------------------------------------


def value_of(fun, *args):
    def run(*xs):
        return fun(*xs)
    out = dlfeval(run, *[dlarray(a) for a in args])
    return np.asarray(getattr(out, "data", out))


@pytest.mark.parametrize("fun, args", [
    (qr_loss, (A43,)), (qr_loss, (A33,)), (qr_r_only_loss, (A43,)), (qr_method_chain_loss, (A33,)),
    (lstsq_loss, (A43, B4)), (lstsq_loss, (A43, B42)), (lstsq_all_loss, (A43, B4)), (lstsq_tail_loss, (A43, B42)),
    (polyval_loss, (C4, X23)), (median_loss, (M56,)), (median_tuple_axis_loss, (M346,)),
    (reduce_add_loss, (X23, X23R)), (reduce_matmul_loss, (A33, A33T)), (reduce_operator_loss, (C4, B4)),
    (reduce_helper_loss, (C4, B4)),
], ids=lambda v: getattr(v, "__name__", ""))
def test_values_equal_plain_python(fun, args):
    assert_close(value_of(fun, *args), fun(*args), rtol=1e-12, atol=1e-12, what=fun.__name__)


def test_values_of_the_ops_equal_numpys():
    def f(a, b, c, x, m):
        q, r = np.linalg.qr(a)
        sol = np.linalg.lstsq(a, b, rcond=None)[0]
        return q, r, sol, np.polyval(c, x), np.median(m, axis=1), np.median(m[:4], axis=0, keepdims=True)
    got = dlfeval(f, *[dlarray(v) for v in (A43, B4, C4, X23, M56)])
    want = f(A43, B4, C4, X23, M56)
    for g, w in zip(got, want):
        assert_close(np.asarray(g.data), w, rtol=1e-13, atol=1e-13)


# --- gradients and second derivatives ---------------------------------------------------------------


GRADIENT_CASES = [
    (qr_loss, (A43,)), (qr_loss, (A33,)), (qr_projection_loss, (A43,)), (qr_r_only_loss, (A43,)),
    (qr_r_only_loss, (A33T,)), (qr_method_chain_loss, (A33,)),
    (lstsq_loss, (A43, B4)), (lstsq_loss, (A43, B42)), (lstsq_loss, (A34, B4[:3])),
    (lstsq_all_loss, (A43, B4)), (lstsq_tail_loss, (A43, B42)),
    (polyval_loss, (C4, X23)), (polyval_loss, (C4[:1], X23)), (polyval_list_loss, (C4[:3], X23)),
    (median_loss, (M56,)), (median_tuple_axis_loss, (M346,)),
    (reduce_add_loss, (X23, X23R)), (reduce_matmul_loss, (A33, A33T)), (reduce_operator_loss, (C4, B4)),
    (reduce_helper_loss, (C4, B4)),
]


@pytest.mark.parametrize("fun, args", GRADIENT_CASES, ids=lambda v: getattr(v, "__name__", ""))
def test_gradients_match_central_differences(fun, args):
    check_grads(fun, *args, rtol=1e-5, atol=1e-6)


def _gradient(fun, x, rest):
    y = fun(x, *rest)
    return dlgradient(y, x)


def _hessian_vector(fun, x, v, rest):
    g = dlgradient(fun(x, *rest), x)
    return dlgradient(np.sum(g * v), x)


def sct_gradient(fun, x, rest):
    return np.asarray(dlfeval(_gradient, fun, dlarray(x), rest).data)


def _x_first(x, c):
    return polyval_loss(c, x)


def _b_first(b, a):
    return lstsq_loss(a, b)


SECOND_CASES = [
    (qr_loss, A43, ()), (qr_loss, A33, ()), (qr_r_only_loss, A43, ()), (qr_projection_loss, A43, ()),
    (lstsq_loss, A43, (B4,)), (lstsq_all_loss, A43, (B4,)),
    (lstsq_loss, B4, (A43,)),
    (polyval_loss, C4, (X23,)), (_x_first, X23, (C4,)),
    (median_loss, M56, ()), (reduce_matmul_loss, A33, (A33T,)), (reduce_helper_loss, C4, (B4,)),
]


@pytest.mark.parametrize("fun, x, rest", SECOND_CASES, ids=lambda v: getattr(v, "__name__", ""))
def test_second_derivatives(fun, x, rest):
    if fun is lstsq_loss and x is B4:          # differentiate in b: lstsq_loss(a, b) with b first
        fun = _b_first
    v = np.random.default_rng(9).uniform(-1, 1, np.shape(x))
    expected = numerical_gradient(lambda xx: float(np.sum(sct_gradient(fun, xx, rest) * v)), [x], 0, step=1e-5)
    hv = np.asarray(dlfeval(_hessian_vector, fun, dlarray(x), v, rest).data)
    np.testing.assert_allclose(hv, expected, rtol=1e-4, atol=1e-5)



# --- float32 -----------------------------------------------------------------------------------------


@pytest.mark.parametrize("fun, args", [
    (qr_loss, (A43,)), (qr_r_only_loss, (A43,)), (lstsq_loss, (A43, B4)), (lstsq_all_loss, (A43, B4)),
    (polyval_loss, (C4, X23)), (median_loss, (M56,)), (reduce_matmul_loss, (A33, A33T)),
], ids=lambda v: getattr(v, "__name__", ""))
def test_float32_stays_float32(fun, args):
    def run(*xs):
        y = fun(*xs)
        return y, dlgradient(y, *xs)
    args32 = [a.astype(np.float32) for a in args]
    y, *grads = dlfeval(run, *[dlarray(a) for a in args32])
    y64, *grads64 = dlfeval(run, *[dlarray(a) for a in args])
    grads = grads[0] if len(args) > 1 else grads
    grads64 = grads64[0] if len(args) > 1 else grads64
    assert np.asarray(y.data).dtype == np.float32
    for g, g64 in zip(grads, grads64):
        assert np.asarray(g.data).dtype == np.float32, fun.__name__
        assert_close(np.asarray(g.data), np.asarray(g64.data), rtol=2e-3, atol=2e-3)


# --- median: the selection ---------------------------------------------------------------------------


def test_median_gradient_is_the_middle_entry_or_the_two_middles_halved():
    def f(x):
        y = np.median(x)
        return y, dlgradient(y, x)
    _, g = dlfeval(f, dlarray(np.array([3.0, -1.0, 2.0, 7.0, 0.5])))
    np.testing.assert_array_equal(g.data, [0.0, 0.0, 1.0, 0.0, 0.0])
    _, g = dlfeval(f, dlarray(np.array([3.0, -1.0, 2.0, 7.0])))
    np.testing.assert_array_equal(g.data, [0.5, 0.0, 0.5, 0.0])
    # ties: one of the equal entries (stable order), never a zero gradient
    _, g = dlfeval(f, dlarray(np.array([1.0, 1.0, 1.0])))
    assert float(np.sum(g.data)) == 1.0


def test_median_in_a_dict_of_params_and_a_loop():
    params = {"w": RNG.uniform(-1, 1, (5, 3)), "b": RNG.uniform(-1, 1, 3)}

    def loss(p):
        total = 0.0
        for k in range(2):
            total = total + np.sum(np.median(p["w"] * (k + 1) + p["b"], axis=0) ** 2)
        return total

    def f(p):
        y = loss(p)
        return y, dlgradient(y, p)
    y, g = dlfeval(f, {k: dlarray(v) for k, v in params.items()})
    assert_close(float(y.data), loss(params), rtol=1e-12)
    for key in params:
        expected = numerical_gradient(lambda v: loss({**params, key: v}), [params[key]], 0)
        assert_close(np.asarray(g[key].data), expected, rtol=1e-5, atol=1e-6, what=key)


# --- forward mode ------------------------------------------------------------------------------------


@pytest.mark.parametrize("fun, args", [(polyval_loss, (C4, X23)), (median_loss, (M56,)),
                                       (reduce_add_loss, (X23, X23R)), (reduce_helper_loss, (C4, B4)),
                                       (qr_loss, (A43,)), (qr_r_only_loss, (A43,)), (lstsq_loss, (A43, B4)),
                                       (lstsq_all_loss, (A43, B42))],
                         ids=lambda v: getattr(v, "__name__", ""))
def test_forward_mode(fun, args):
    rng = np.random.default_rng(5)
    dirs = tuple(rng.uniform(-1, 1, np.shape(a)) for a in args)
    value, tangent = sct.jvp(fun, args, dirs)
    assert_close(np.asarray(getattr(value, "data", value)), fun(*args), rtol=1e-12)
    expected = sum(np.sum(numerical_gradient(fun, list(args), k) * d) for k, d in enumerate(dirs))
    assert_close(float(np.asarray(getattr(tangent, "data", tangent))), expected, rtol=1e-6, atol=1e-8)


# --- refusals and Python's errors -------------------------------------------------------------------


def test_qr_raw_mode_is_refused():
    def f(a):
        h, tau = np.linalg.qr(a, mode="raw")
        y = np.sum(h)
        return y, dlgradient(y, a)
    with pytest.raises((EvaluationError, NotImplementedError), match="mode='raw'"):
        dlfeval(f, dlarray(A43))


def test_complete_qr_of_a_tall_matrix_refuses_the_extra_columns():
    def f(a):
        q, r = np.linalg.qr(a, mode="complete")
        y = np.sum(q[:, -1] ** 3) + np.sum(r)
        return y, dlgradient(y, a)
    with pytest.raises((EvaluationError, NotImplementedError), match="not unique"):
        dlfeval(f, dlarray(A43))

    def g(a):
        q, r = np.linalg.qr(a, mode="complete")
        return np.sum(q[:, :3] * a) + np.sum(r ** 2)
    check_grads(g, A43)


def test_starred_unpacking_keeps_pythons_semantics():
    def f(x):
        a, *rest, b = [x, x * 2, x * 3, x * 4]
        first, *others = (x, x + 1)
        *init, last = [x * 5]
        y = np.sum(a * b) + np.sum(rest[0] * rest[1]) + np.sum(others[0]) + np.sum(last) + len(init)
        assert isinstance(rest, list) and isinstance(init, list)
        return y, dlgradient(y, x)
    x = np.array([0.5, -1.5])
    y, g = dlfeval(f, dlarray(x))
    plain = lambda x: np.sum(x * x * 4) + np.sum(x * 2 * x * 3) + np.sum(x + 1) + np.sum(x * 5)
    assert_close(float(y.data), plain(x), rtol=1e-12)
    assert_close(np.asarray(g.data), numerical_gradient(plain, [x], 0), rtol=1e-6)

    def too_few(x):
        a, *rest, b, c = [x, x * 2]
        y = np.sum(a)
        return y, dlgradient(y, x)
    with pytest.raises(EvaluationError, match="not enough values to unpack") as info:
        dlfeval(too_few, dlarray(x))
    assert info.value.lineno == too_few.__code__.co_firstlineno + 1


def test_reduce_of_an_empty_list_raises_like_python():
    def f(x):
        y = np.sum(reduce(np.add, [])) + np.sum(x)
        return y, dlgradient(y, x)
    with pytest.raises(EvaluationError, match="reduce.. of empty iterable"):
        dlfeval(f, dlarray(C4))


def test_reduce_in_a_helper_called_in_a_loop_with_params_in_a_dict():
    params = {"layers": [RNG.uniform(-1, 1, (3, 3)) for _ in range(3)], "x": RNG.uniform(-1, 1, 3)}

    def chain(mats):
        return reduce(lambda p, q: np.tanh(p @ q), mats)

    def loss(p):
        total = 0.0
        for k in range(2):
            total = total + np.sum(chain(p["layers"][k:]) @ p["x"])
        return total

    def f(p):
        y = loss(p)
        return y, dlgradient(y, p)
    y, g = dlfeval(f, {"layers": [dlarray(m) for m in params["layers"]], "x": dlarray(params["x"])})
    assert_close(float(y.data), loss(params), rtol=1e-12)
    expected = numerical_gradient(lambda v: loss({**params, "x": v}), [params["x"]], 0)
    assert_close(np.asarray(g["x"].data), expected, rtol=1e-5, atol=1e-7)
    for k in range(3):
        def lk(m, k=k):
            layers = list(params["layers"])
            layers[k] = m
            return loss({**params, "layers": layers})
        expected = numerical_gradient(lk, [params["layers"][k]], 0)
        assert_close(np.asarray(g["layers"][k].data), expected, rtol=1e-5, atol=1e-7)


# --- lstm / gru options: OutputMode, ResetGateMode, "SCBT" input ------------------------------------

from sct import dims                                    # noqa: E402
from sct.runtime.nn import gru, lstm                    # noqa: E402

HID = 3
XS = RNG.uniform(-1, 1, (2, 4, 5))                     # (batch, time, channels)
WL, RL, BL = RNG.uniform(-0.5, 0.5, (4 * HID, 5)), RNG.uniform(-0.5, 0.5, (4 * HID, HID)), RNG.uniform(-0.5, 0.5, 4 * HID)
WG, RG = RNG.uniform(-0.5, 0.5, (3 * HID, 5)), RNG.uniform(-0.5, 0.5, (3 * HID, HID))
BG3, BG6 = RNG.uniform(-0.5, 0.5, 3 * HID), RNG.uniform(-0.5, 0.5, 6 * HID)
MODES = [("after-multiplication", BG3), ("before-multiplication", BG3), ("recurrent-bias-after-multiplication", BG6)]


def _sig(z):
    return 1 / (1 + np.exp(-z))


def reference_gru(x, h, w, r, b, mode):
    """MATLAB's GRU equations, gate by gate (reset r, update z, candidate), written out."""
    n = HID
    bw, br = (b[:3 * n], b[3 * n:]) if mode.startswith("recurrent-bias") else (b, np.zeros(3 * n))
    ys = []
    for t in range(x.shape[1]):
        xt = x[:, t]
        rg = _sig(xt @ w[:n].T + bw[:n] + h @ r[:n].T + br[:n])
        zg = _sig(xt @ w[n:2 * n].T + bw[n:2 * n] + h @ r[n:2 * n].T + br[n:2 * n])
        if mode == "before-multiplication":
            cand = np.tanh(xt @ w[2 * n:].T + bw[2 * n:] + (rg * h) @ r[2 * n:].T)
        else:
            cand = np.tanh(xt @ w[2 * n:].T + bw[2 * n:] + rg * (h @ r[2 * n:].T + br[2 * n:]))
        h = (1 - zg) * cand + zg * h
        ys.append(h)
    return np.stack(ys, axis=1), h


@pytest.mark.parametrize("mode, bias", MODES, ids=[m for m, _ in MODES])
def test_gru_reset_gate_modes_match_matlabs_equations(mode, bias):
    h0 = RNG.uniform(-1, 1, (2, HID))
    y, h = gru(XS, h0, WG, RG, bias, ResetGateMode=mode)
    y_ref, h_ref = reference_gru(XS, h0, WG, RG, bias, mode)
    assert_close(y, y_ref, rtol=1e-12, atol=1e-14)
    assert_close(h, h_ref, rtol=1e-12, atol=1e-14)
    y_last, h_last = gru(XS, h0, WG, RG, bias, ResetGateMode=mode, OutputMode="last")
    assert_close(y_last, y_ref[:, -1], rtol=1e-12, atol=1e-14)

    def loss(x, w, b):
        y, h = gru(x, np.zeros((2, HID)), w, RG, b, ResetGateMode=mode)
        return np.sum(y ** 2) + np.sum(np.sin(h))
    check_grads(loss, XS, WG, bias)


@pytest.mark.parametrize("mode, bias", MODES, ids=[m for m, _ in MODES])
def test_gru_reset_gate_modes_second_derivative(mode, bias):
    def loss(w):
        y, h = gru(XS[:, :3], np.zeros((2, HID)), w, RG, bias, ResetGateMode=mode, OutputMode="last")
        return np.sum(y ** 3)
    v = np.random.default_rng(4).uniform(-1, 1, WG.shape)
    expected = numerical_gradient(lambda w: float(np.sum(sct_gradient(loss, w, ()) * v)), [WG], 0, step=1e-5)
    hv = np.asarray(dlfeval(_hessian_vector, loss, dlarray(WG), v, ()).data)
    np.testing.assert_allclose(hv, expected, rtol=1e-4, atol=1e-6)


def test_lstm_output_mode_last():
    h0 = c0 = np.zeros((2, HID))
    y_seq, h, c = lstm(XS, h0, c0, WL, RL, BL)
    y_last, h2, c2 = lstm(XS, h0, c0, WL, RL, BL, OutputMode="last")
    assert y_last.shape == (2, HID)
    assert_close(y_last, y_seq[:, -1], rtol=0, atol=0)
    assert_close(h2, h, rtol=0, atol=0)

    def loss(x, w, b):
        y, h, c = lstm(x, np.zeros((2, HID)), np.zeros((2, HID)), w, RL, b, OutputMode="last")
        return np.sum(np.tanh(y) * np.arange(1.0, HID + 1)) + np.sum(c ** 2)
    check_grads(loss, XS, WL, BL)


def _lstm_last(X, w):
    y, h, c = lstm(X, np.zeros((HID, 1)), np.zeros((HID, 1)), w, RL, BL, OutputMode="last")
    loss = np.sum(y ** 2)
    return loss, dlgradient(loss, w), y


def _gru_last(X, w):
    y, h = gru(X, np.zeros((HID, 1)), w, RG, BG6, OutputMode="last", ResetGateMode="recurrent-bias-after-multiplication")
    loss = np.sum(y ** 2)
    return loss, dlgradient(loss, w), y


def test_output_mode_last_on_formatted_data_drops_the_time_label():
    X = dlarray(np.transpose(XS, (2, 0, 1)), "CBT")
    for f, w in ((_lstm_last, WL), (_gru_last, WG)):
        loss, g, y = dlfeval(f, X, dlarray(w))
        assert dims(y) == "CB" and y.shape == (HID, 2)

        def plain(v, f=f):
            if f is _lstm_last:
                return lstm(XS, np.zeros((2, HID)), np.zeros((2, HID)), v, RL, BL, nargout=3)[0][:, -1]
            return gru(XS, np.zeros((2, HID)), v, RG, BG6, ResetGateMode="recurrent-bias-after-multiplication", nargout=2)[0][:, -1]
        assert_close(np.asarray(y.data), plain(w).T, rtol=1e-12, atol=1e-14)
        assert_close(float(loss.data), float(np.sum(plain(w) ** 2)), rtol=1e-12)
        assert_close(np.asarray(g.data), numerical_gradient(lambda v: float(np.sum(plain(v) ** 2)), [w], 0),
                     rtol=1e-5, atol=1e-7)
    # eagerly (outside dlfeval) the same
    y, h, c = lstm(X, np.zeros((HID, 1)), np.zeros((HID, 1)), WL, RL, BL, OutputMode="last")
    assert dims(y) == "CB" and y.shape == (HID, 2)
    y, h = gru(X, np.zeros((HID, 1)), WG, RG, BG3, OutputMode="last")
    assert dims(y) == "CB"
    assert_close(np.asarray(y.data), np.asarray(gru(X, np.zeros((HID, 1)), WG, RG, BG3, nargout=2)[0].data)[:, :, -1],
                 rtol=0, atol=0)


def _lstm_scbt(X, w):
    y = lstm(X, np.zeros((HID, 1)), np.zeros((HID, 1)), w, RL, BL, nargout=3)[0]
    loss = np.sum(y ** 2)
    return loss, dlgradient(loss, X, w), y


def _gru_scbt(X, w):
    y = gru(X, np.zeros((HID, 1)), w, RG, BG3, ResetGateMode="before-multiplication", nargout=2)[0]
    loss = np.sum(y ** 2)
    return loss, dlgradient(loss, X, w), y


def test_lstm_and_gru_on_scbt_input_flatten_s_into_the_channels():
    xs = RNG.uniform(-1, 1, (2, 3, 2, 4))            # S=2, C=3, B=2, T=4: 6 features

    def arranged(v):                                  # (B, T, S*C): S and C flattened as MATLAB's, S fastest
        return np.transpose(v, (2, 3, 1, 0)).reshape(2, 4, 6)     # (tests/test_redteam_dec14h.py)
    for f, w in ((_lstm_scbt, RNG.uniform(-0.5, 0.5, (4 * HID, 6))), (_gru_scbt, RNG.uniform(-0.5, 0.5, (3 * HID, 6)))):
        def plain(v, w, f=f):
            if f is _lstm_scbt:
                return lstm(arranged(v), np.zeros((2, HID)), np.zeros((2, HID)), w, RL, BL, nargout=3)[0]
            return gru(arranged(v), np.zeros((2, HID)), w, RG, BG3, ResetGateMode="before-multiplication", nargout=2)[0]
        loss, (gx, gw), y = dlfeval(f, dlarray(xs, "SCBT"), dlarray(w))
        assert dims(y) == "CBT"
        assert_close(np.asarray(y.data), np.transpose(plain(xs, w), (2, 0, 1)), rtol=1e-12, atol=1e-14)
        assert_close(np.asarray(gx.data), numerical_gradient(lambda v: float(np.sum(plain(v, w) ** 2)), [xs], 0),
                     rtol=1e-5, atol=1e-7)
        assert_close(np.asarray(gw.data), numerical_gradient(lambda v: float(np.sum(plain(xs, v) ** 2)), [w], 0),
                     rtol=1e-5, atol=1e-7)


def test_recurrent_options_are_checked():
    with pytest.raises(ValueError, match="OutputMode must be 'sequence' or 'last'"):
        lstm(XS, np.zeros((2, HID)), np.zeros((2, HID)), WL, RL, BL, OutputMode="final")
    with pytest.raises(ValueError, match="ResetGateMode must be"):
        gru(XS, np.zeros((2, HID)), WG, RG, BG3, ResetGateMode="after")
    with pytest.raises(ValueError, match="bias has 9 entries.*takes 18"):
        gru(XS, np.zeros((2, HID)), WG, RG, BG3, ResetGateMode="recurrent-bias-after-multiplication")

    def f(x):
        y, h = gru(x, np.zeros((2, HID)), WG, RG, BG3, ResetGateMode="recurrent-bias-after-multiplication")
        loss = np.sum(y)
        return loss, dlgradient(loss, x)
    with pytest.raises(EvaluationError, match="takes 18") as info:
        dlfeval(f, dlarray(XS))
    assert info.value.lineno == f.__code__.co_firstlineno + 1


# --- item 2: messages in the user's terms -----------------------------------------------------------


def test_writing_into_a_dict_while_walking_its_items_names_the_loop_not_a_temporary():
    # (`for key, value in d.items(): d[key] = ...` itself runs since stop 37, and walked by enumerate
    # since stop 38: each write rebinds the key the loop is at, which no later item reads)
    def f(x):
        d = {"a": x, "b": x * 3}
        for i, (key, value) in enumerate(d.items()):
            d[key] = value * 2
        y = np.sum(d["a"] * d["b"])
        return y, dlgradient(y, x)
    y, g = dlfeval(f, dlarray(np.array([1.0, 2.0])))
    np.testing.assert_allclose(float(y), 60.0)                      # sum(2x * 6x)
    np.testing.assert_allclose(np.asarray(g.data), [24.0, 48.0])

    def writes_a_later_key(x):
        d = {"a": x, "b": x * 3}
        acc = 0.0
        for i, (key, value) in enumerate(d.items()):
            acc = acc + np.sum(value)
            d["b"] = value * 5                 # read later by the loop: Python's view sees the new value
        y = acc + np.sum(d["b"])
        return y, dlgradient(y, x)
    with pytest.raises(CompileError) as info:
        dlfeval(writes_a_later_key, dlarray(np.array([1.0, 2.0])))
    message = str(info.value)
    assert "seq_as_sequence" not in message and "as_sequence" not in message
    assert "for loop" in message and "d" in message
    assert info.value.filename.endswith("test_gaps_dec1.py")

    def advised(x):                     # what the message advises: exact, and differentiated
        d = {"a": x, "b": x * 3}
        for key in d:
            d[key] = d[key] * 2
        y = np.sum(d["a"] * d["b"])
        return y
    check_grads(advised, np.array([1.0, 2.0]))

    def comprehension(x):
        d = {"a": x, "b": x * 3}
        d = {key: value * 2 for key, value in d.items()}
        return np.sum(d["a"] * d["b"])
    check_grads(comprehension, np.array([1.0, 2.0]))


def scaled_by_keyword(**kw):
    return kw["a"] * 2


def scaled_named(a, **kw):
    return a * 2 + kw.get("shift", 0.0)


def scaled_dict(kw):
    return kw["a"] * 2


def test_a_traced_value_into_a_kwargs_helper_names_the_helper_and_the_way_out():
    # (was refused, "a reaches scaled_by_keyword() through **kw"; since s51 the keywords reaching **kw are
    # passed as one dict by position, its items differentiated)
    check_grads(lambda x: np.sum(scaled_by_keyword(a=x) ** 2), np.array([1.0, 2.0]))

    # both ways out it named work
    check_grads(lambda x: np.sum(scaled_named(a=x, shift=1.0) ** 2), np.array([1.0, 2.0]))
    check_grads(lambda x: np.sum(scaled_dict({"a": x}) ** 2), np.array([1.0, 2.0]))


# --- variations written the way users write code ---------------------------------------------------


class Holder:
    def __init__(self, w):
        self.w = w


def median_of_a_list(x):
    return np.median([x[0] * 2, x[1], np.sin(x[2])]) ** 2


def reduce_with_traced_initial(x):
    return np.sum(functools.reduce(lambda a, b: a * b + 1.0, [x, x * 2], x ** 2))


def starred_in_a_for_target(x):
    total = 0.0
    for a, *rest in [(x, x * 2, x * 3), (x + 1, x, x)]:
        total = total + np.sum(a * rest[1])
    return total


def starred_with_a_nested_target(x):
    (a, b), *rest = [(x, x * 2), x * 3, x * 4]
    return np.sum(a * b * rest[1])


def qr_of_an_object_field(w):
    p = Holder(w)
    q, r = np.linalg.qr(p.w @ p.w.T + np.eye(3))
    return np.sum(r) + np.sum(q[:, 0] ** 2 * np.arange(3.0))


def qr_complex(a):
    q, r = np.linalg.qr(a)
    return np.real(np.sum(np.abs(r) ** 2)) + np.real(np.sum(q * np.conj(q) * np.arange(3.0)))


def median_centered(x):
    return np.sum((x - np.median(x, axis=-1, keepdims=True)) ** 2)


@pytest.mark.parametrize("fun, args", [
    (median_of_a_list, (C4[:3],)), (reduce_with_traced_initial, (C4[:3],)), (starred_in_a_for_target, (C4[:3],)),
    (starred_with_a_nested_target, (C4[:3],)), (qr_of_an_object_field, (A33,)),
    (qr_complex, (A43 + 1j * np.ascontiguousarray(A43[::-1]),)), (median_centered, (M56[:3, :4],)),
], ids=lambda v: getattr(v, "__name__", ""))
def test_variations(fun, args):
    check_grads(fun, *args)
