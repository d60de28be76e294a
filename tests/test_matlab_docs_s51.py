"""MATLAB's documentation against sct (red team mat51): the model-function pattern writing batchnorm's
statistics into the state dict (F4), MATLAB's one-output lstm/gru/attention (F1), embed's weights laid out
as MATLAB's embeddingDimension-by-numWords (F2)."""
import inspect

import numpy as np
import pytest

import sct
from gradcheck import D, numerical_gradient
from sct import (batchnorm, crossentropy, dlaccelerate, dlarray, dlfeval, dlgradient, extractdata, fullyconnect,
                 softmax)


# --- F4: state["TrainedMean"] = trainedMean in a model function: runs, as Python (f4fix52) -------------
# mat51 made these run by writing into the caller's dict; a red team (redfix51b) then found the write's
# derivative lost where it sits under a branch or loop (`if flag: d["y"] = x * 2` then reading d["y"]: 2x
# where 4x) and for nested writes (`s["bn"]["m"] = x * 3`: 3x where 6x), and it was reverted. Now each write
# is a new version of the dict (followed as a dict the function made) made into the caller's dict too
# (rt.setitem_through): values, the caller's dict and gradients as plain Python's (more in
# tests/test_state_dict_writes_s52.py).

def _bn(x, offset, scale, mean, var, decay=0.1):
    """batchnorm's training form on (C, B) data, by its documented formula, and the new running statistics."""
    mu = x.mean(axis=1)
    s2 = x.var(axis=1)
    y = scale[:, None] * (x - mu[:, None]) / np.sqrt(s2[:, None] + 1e-5) + offset[:, None]
    m = x.shape[1]
    return y, decay * mu + (1 - decay) * mean, decay * m / (m - 1) * s2 + (1 - decay) * var


def _plain_loss(W, b, offset, scale, x, t, mean, var):
    y, _, _ = _bn(x, offset, scale, mean, var)
    z = W @ y + b[:, None]
    z = np.exp(z - z.max(axis=0))
    p = z / z.sum(axis=0)
    return -np.sum(t * np.log(p)) / x.shape[1]


def model_flat(parameters, X, state):
    Y, trainedMean, trainedVariance = batchnorm(X, parameters["Offset"], parameters["Scale"],
                                                state["TrainedMean"], state["TrainedVariance"])
    state["TrainedMean"] = trainedMean
    state["TrainedVariance"] = trainedVariance
    Y = softmax(fullyconnect(Y, parameters["W"], parameters["b"]))
    return Y, state


def loss_flat(parameters, X, T, state):
    Y, state = model_flat(parameters, X, state)
    loss = crossentropy(Y, T)
    return loss, dlgradient(loss, parameters), state


def model_nested(parameters, X, state):
    Y, trainedMean, trainedVariance = batchnorm(X, parameters["bn"]["Offset"], parameters["bn"]["Scale"],
                                                state["bn"]["TrainedMean"], state["bn"]["TrainedVariance"])
    state["bn"]["TrainedMean"] = trainedMean
    state["bn"]["TrainedVariance"] = trainedVariance
    Y = softmax(fullyconnect(Y, parameters["W"], parameters["b"]))
    return Y, state


def loss_nested(parameters, X, T, state):
    Y, state = model_nested(parameters, X, state)
    loss = crossentropy(Y, T)
    return loss, dlgradient(loss, parameters), state


def model_literal(parameters, X, state):     # MATLAB's [Y,state.bn.TrainedMean,state.bn.TrainedVariance] = batchnorm(...)
    Y, state["bn"]["TrainedMean"], state["bn"]["TrainedVariance"] = batchnorm(
        X, parameters["bn"]["Offset"], parameters["bn"]["Scale"], state["bn"]["TrainedMean"],
        state["bn"]["TrainedVariance"])
    Y = softmax(fullyconnect(Y, parameters["W"], parameters["b"]))
    return Y, state


def loss_literal(parameters, X, T, state):
    Y, state = model_literal(parameters, X, state)
    loss = crossentropy(Y, T)
    return loss, dlgradient(loss, parameters), state


def _problem(seed=0):
    rng = np.random.default_rng(seed)
    W, b = rng.standard_normal((3, 4)), rng.standard_normal(3) * 0.1
    offset, scale = rng.standard_normal(4) * 0.1, 1.0 + rng.standard_normal(4) * 0.1
    x = rng.standard_normal((4, 8))
    t = np.eye(3)[:, rng.integers(0, 3, 8)]
    return W, b, offset, scale, x, t


def _check(loss, g, W, b, offset, scale, x, t, mean, var, grads):
    args = [W, b, offset, scale, x, t, mean, var]
    np.testing.assert_allclose(D(loss), _plain_loss(*args), rtol=1e-12)
    for k, name in enumerate(("W", "b", "Offset", "Scale")):
        np.testing.assert_allclose(D(grads[name]), numerical_gradient(_plain_loss, args, k), atol=1e-7)


@pytest.mark.parametrize("accelerated", [False, True])
def test_state_dict_written_in_the_model_function_runs_and_changes_the_callers_dict(accelerated):
    # was: CompileError "writing into state[...] in place changes a traced value, and state is an argument of
    # modelLoss() and would change too" (a SimpleNamespace ran)
    W, b, offset, scale, x, t = _problem()
    params = {"Offset": dlarray(offset), "Scale": dlarray(scale), "W": dlarray(W), "b": dlarray(b)}
    mean, var = np.zeros(4), np.ones(4)
    state = {"TrainedMean": mean.copy(), "TrainedVariance": var.copy()}
    run = dlaccelerate(loss_flat) if accelerated else (lambda *a: dlfeval(loss_flat, *a))
    for step in range(3):           # from the second step on, the state holds dlarrays (dlfeval's outputs)
        before_mean, before_var = D(state["TrainedMean"]).copy(), D(state["TrainedVariance"]).copy()
        caller = state
        loss, g, state = run(params, dlarray(x, "CB"), dlarray(t, "CB"), state)
        _, m, v = _bn(x, offset, scale, before_mean, before_var)
        np.testing.assert_allclose(D(state["TrainedMean"]), m, rtol=1e-12)
        np.testing.assert_allclose(D(state["TrainedVariance"]), v, rtol=1e-12)
        # Python's dict argument changes for the caller
        np.testing.assert_allclose(D(caller["TrainedMean"]), m, rtol=1e-12)
        np.testing.assert_allclose(D(caller["TrainedVariance"]), v, rtol=1e-12)
        grads = {k: g[k] for k in ("W", "b", "Offset", "Scale")}
        _check(loss, g, W, b, offset, scale, x, t, before_mean, before_var, grads)


@pytest.mark.parametrize("loss_fn", [loss_nested, loss_literal])
def test_nested_state_dict_written_in_the_model_function(loss_fn):
    # state["bn"]["TrainedMean"] = m, and MATLAB's literal tuple target: were refused the same way
    W, b, offset, scale, x, t = _problem(1)
    params = {"bn": {"Offset": dlarray(offset), "Scale": dlarray(scale)}, "W": dlarray(W), "b": dlarray(b)}
    state = {"bn": {"TrainedMean": np.zeros(4), "TrainedVariance": np.ones(4)}}
    inner = state["bn"]
    for step in range(2):
        before_mean, before_var = D(state["bn"]["TrainedMean"]).copy(), D(state["bn"]["TrainedVariance"]).copy()
        caller = state
        loss, g, state = dlfeval(loss_fn, params, dlarray(x, "CB"), dlarray(t, "CB"), state)
        _, m, v = _bn(x, offset, scale, before_mean, before_var)
        np.testing.assert_allclose(D(state["bn"]["TrainedMean"]), m, rtol=1e-12)
        np.testing.assert_allclose(D(caller["bn"]["TrainedVariance"]), v, rtol=1e-12)
        assert caller["bn"] is (inner if step == 0 else caller["bn"])
        grads = {"W": g["W"], "b": g["b"], "Offset": g["bn"]["Offset"], "Scale": g["bn"]["Scale"]}
        _check(loss, g, W, b, offset, scale, x, t, before_mean, before_var, grads)


def traced_item_read_back(d, x):
    d["y"] = x * 2
    loss = np.sum(d["y"] ** 3 * np.array([1.0, 2.0, 3.0]))
    return loss, dlgradient(loss, x)


def item_read_through_second_name(p, x):
    q = p
    p["w"] = p["w"] * 2
    loss = np.sum(q["w"] ** 2 * x)
    return loss, dlgradient(loss, x)


def test_traced_value_written_into_a_dict_argument_is_differentiated_through_it():
    x0 = np.array([0.5, -1.0, 2.0])
    d = {"y": 0.0}
    loss, g = dlfeval(traced_item_read_back, d, dlarray(x0))
    plain = lambda x: np.sum((2 * x) ** 3 * np.array([1.0, 2.0, 3.0]))
    np.testing.assert_allclose(D(loss), plain(x0), rtol=1e-14)
    np.testing.assert_allclose(D(g), numerical_gradient(plain, [x0], 0), rtol=1e-7)
    np.testing.assert_allclose(D(d["y"]), 2 * x0)
    w0 = np.array([1.0, 2.0, 3.0])
    p = {"w": dlarray(w0)}
    loss, g = dlfeval(item_read_through_second_name, p, dlarray(np.ones(3)))
    np.testing.assert_allclose(D(loss), np.sum(4 * w0 ** 2), rtol=1e-14)
    np.testing.assert_allclose(D(g), numerical_gradient(lambda x: np.sum((2 * w0) ** 2 * x), [np.ones(3)], 0),
                               rtol=1e-7)
    np.testing.assert_allclose(D(p["w"]), 2 * w0)          # the caller's dict, as in Python


def overwritten_then_differentiated(p, x):
    p["w"] = p["w"] * 2
    loss = np.sum(p["w"] ** 2 * x)
    return loss, dlgradient(loss, p)


def two_names_for_one_dict(d, e, x):
    d["y"] = x * 2
    loss = np.sum(e["y"] ** 2) + np.sum(d["y"])
    return loss, dlgradient(loss, x)


def _line_of(f, text):
    lines, start = inspect.getsourcelines(f)
    return start + next(i for i, line in enumerate(lines) if text in line)


def test_writes_that_would_make_a_gradient_wrong_stay_refused():
    # a traced parameter overwritten in place, then differentiated with respect to: refused at its line
    with pytest.raises(sct.CompileError) as info:
        dlfeval(overwritten_then_differentiated, {"w": dlarray(np.ones(3))}, dlarray(np.ones(3)))
    assert info.value.lineno == _line_of(overwritten_then_differentiated, "dlgradient(loss, p)")
    assert "p" in str(info.value)
    # one dict passed twice: a read through the other argument would lose the write's derivative
    d = {"y": 0.0}
    with pytest.raises(sct.EvaluationError) as info:
        dlfeval(two_names_for_one_dict, d, d, dlarray(np.ones(3)))
    assert info.value.lineno == _line_of(two_names_for_one_dict, 'd["y"] = x * 2')
    assert "one object" in str(info.value)
    # an inner dict the write changes, also held by another argument
    W, b, offset, scale, x, t = _problem(2)
    shared = {"TrainedMean": np.zeros(4), "TrainedVariance": np.ones(4), "Offset": dlarray(offset),
              "Scale": dlarray(scale)}
    params = {"bn": shared, "W": dlarray(W), "b": dlarray(b)}
    with pytest.raises(sct.EvaluationError) as info:
        dlfeval(loss_nested, params, dlarray(x, "CB"), dlarray(t, "CB"), {"bn": shared})
    assert "state['bn']" in str(info.value) and "reached another way" in str(info.value)
    assert info.value.lineno == _line_of(model_nested, 'state["bn"]["TrainedMean"] = trainedMean')


def written_then_second_derivative(d, x):
    d["y"] = x * 2
    y = np.sum(d["y"] ** 3)
    g = dlgradient(y, x, EnableHigherDerivatives=True)
    return dlgradient(np.sum(g), x)


def test_second_derivative_recomputing_a_dict_write_is_refused():
    with pytest.raises(sct.EvaluationError) as info:
        dlfeval(written_then_second_derivative, {"y": 0.0}, dlarray(np.array([1.0, 2.0])))
    assert info.value.lineno == _line_of(written_then_second_derivative, 'd["y"] = x * 2')
    assert "recomputes" in str(info.value)


# --- F1: Y = lstm(...), Y = gru(...), Y = attention(...): MATLAB's one output ---------------------------

def _sig(z):
    return 1 / (1 + np.exp(-z))


def _ref_lstm(x, h, c, W, R, b):
    """MATLAB's lstm (gates i, f, g, o) on (C, B, T) data; (Y (H, B, T), h, c)."""
    H = R.shape[1]
    ys = []
    for t in range(x.shape[2]):
        z = W @ x[:, :, t] + R @ h + b[:, None]
        i, f, g, o = _sig(z[:H]), _sig(z[H:2 * H]), np.tanh(z[2 * H:3 * H]), _sig(z[3 * H:])
        c = f * c + i * g
        h = o * np.tanh(c)
        ys.append(h)
    return np.stack(ys, axis=2), h, c


def _ref_gru(x, h, W, R, b):
    """MATLAB's gru (reset gate after the multiplication) on (C, B, T) data; (Y, h)."""
    H = R.shape[1]
    ys = []
    for t in range(x.shape[2]):
        zx, zh = W @ x[:, :, t] + b[:, None], R @ h
        r, u = _sig(zx[:H] + zh[:H]), _sig(zx[H:2 * H] + zh[H:2 * H])
        n = np.tanh(zx[2 * H:] + r * zh[2 * H:])
        h = (1 - u) * n + u * h
        ys.append(h)
    return np.stack(ys, axis=2), h


def _ref_attention(q, k, v, heads):
    """MATLAB's attention on (C, B, T) queries, keys and values; (Y (C, B, T), weights per (b, head))."""
    C, B, T = q.shape
    d = C // heads
    y = np.zeros((v.shape[0], B, T))
    A = np.zeros((B, heads, T, k.shape[2]))
    for bb in range(B):
        for hh in range(heads):
            s = q[hh * d:(hh + 1) * d, bb, :].T @ k[hh * d:(hh + 1) * d, bb, :] / np.sqrt(d)
            w = np.exp(s - s.max(axis=1, keepdims=True))
            w /= w.sum(axis=1, keepdims=True)
            A[bb, hh] = w
            dv = v.shape[0] // heads
            y[hh * dv:(hh + 1) * dv, bb, :] = (w @ v[hh * dv:(hh + 1) * dv, bb, :].T).T
    return y, A


_RNG = np.random.default_rng(51)
_X = _RNG.standard_normal((3, 2, 4))          # C=3, B=2, T=4
_W4, _R4, _B4 = _RNG.standard_normal((8, 3)), _RNG.standard_normal((8, 2)), _RNG.standard_normal(8)
_W3, _R3, _B3 = _RNG.standard_normal((6, 3)), _RNG.standard_normal((6, 2)), _RNG.standard_normal(6)
_H0 = np.zeros((2, 1))
_Q = _RNG.standard_normal((4, 2, 3))          # C=4 (2 heads), B=2, T=3
_K = _RNG.standard_normal((4, 2, 5))
_V = _RNG.standard_normal((4, 2, 5))
_WY = _RNG.standard_normal((2, 2, 4))


def lstm_one_output(X, W):
    Y = sct.lstm(X, _H0, _H0, W, _R4, _B4)
    loss = np.sum(Y * Y * _WY)
    return Y, loss, dlgradient(loss, W)


def lstm_two_outputs(X, W):
    Y, h = sct.lstm(X, _H0, _H0, W, _R4, _B4)
    loss = np.sum(Y * _WY) + np.sum(h ** 3)
    return Y, h, loss, dlgradient(loss, W)


def gru_one_output(X, W):
    Y = sct.gru(X, _H0, W, _R3, _B3)
    loss = np.sum(Y * Y * _WY)
    return Y, loss, dlgradient(loss, W)


def attention_one_output(Q, K):
    Y = sct.attention(Q, K, dlarray(_V, "CBT"), 2)
    loss = np.sum(Y ** 2 * np.arange(1.0, 4.0))
    return Y, loss, dlgradient(loss, K)


def attention_unformatted_one_output(Q, K):
    Y = sct.attention(Q, K, np.transpose(_V, (1, 2, 0)), 2)        # sct's (batch, time, channels)
    loss = np.sum(Y ** 2 * np.arange(1.0, 5.0))
    return Y, loss, dlgradient(loss, K)


def _run(f, args, mode):
    if mode == "dlfeval":
        return dlfeval(f, *args)
    if mode == "dlaccelerate":
        acc = dlaccelerate(f)
        acc(*args)
        return acc(*args)
    return f(*args)


@pytest.mark.parametrize("mode", ["dlfeval", "dlaccelerate"])
def test_one_output_lstm_gru_attention_inside_dlfeval(mode):
    # was: Y a tuple, "unsupported operand type(s) for ** or pow(): 'tuple' and 'int'"
    X = dlarray(_X, "CBT")
    Y, loss, g = _run(lstm_one_output, (X, dlarray(_W4)), mode)
    ref = lambda w: np.sum(_ref_lstm(_X, np.zeros((2, 2)), np.zeros((2, 2)), w, _R4, _B4)[0] ** 2 * _WY)
    np.testing.assert_allclose(D(Y), _ref_lstm(_X, np.zeros((2, 2)), np.zeros((2, 2)), _W4, _R4, _B4)[0], rtol=1e-12)
    assert sct.dims(Y) == "CBT"
    np.testing.assert_allclose(D(loss), ref(_W4), rtol=1e-12)
    np.testing.assert_allclose(D(g), numerical_gradient(ref, [_W4], 0), atol=1e-7)
    Y, h, loss, g = _run(lstm_two_outputs, (X, dlarray(_W4)), mode)
    y_ref, h_ref, _ = _ref_lstm(_X, np.zeros((2, 2)), np.zeros((2, 2)), _W4, _R4, _B4)
    np.testing.assert_allclose(D(h), h_ref, rtol=1e-12)
    ref2 = lambda w: (lambda out: np.sum(out[0] * _WY) + np.sum(out[1] ** 3))(
        _ref_lstm(_X, np.zeros((2, 2)), np.zeros((2, 2)), w, _R4, _B4))
    np.testing.assert_allclose(D(g), numerical_gradient(ref2, [_W4], 0), atol=1e-7)
    Y, loss, g = _run(gru_one_output, (X, dlarray(_W3)), mode)
    ref = lambda w: np.sum(_ref_gru(_X, np.zeros((2, 2)), w, _R3, _B3)[0] ** 2 * _WY)
    np.testing.assert_allclose(D(Y), _ref_gru(_X, np.zeros((2, 2)), _W3, _R3, _B3)[0], rtol=1e-12)
    np.testing.assert_allclose(D(g), numerical_gradient(ref, [_W3], 0), atol=1e-7)
    Y, loss, g = _run(attention_one_output, (dlarray(_Q, "CBT"), dlarray(_K, "CBT")), mode)
    ref = lambda k: np.sum(np.transpose(_ref_attention(_Q, k, _V, 2)[0], (0, 1, 2)) ** 2 * np.arange(1.0, 4.0))
    np.testing.assert_allclose(D(Y), _ref_attention(_Q, _K, _V, 2)[0], rtol=1e-12)
    np.testing.assert_allclose(D(g), numerical_gradient(ref, [_K], 0), atol=1e-7)
    q, k = np.transpose(_Q, (1, 2, 0)), np.transpose(_K, (1, 2, 0))
    Y, loss, g = _run(attention_unformatted_one_output, (dlarray(q), dlarray(k)), mode)
    ref = lambda kk: np.sum(np.transpose(_ref_attention(_Q, np.transpose(kk, (2, 0, 1)), _V, 2)[0], (1, 2, 0)) ** 2
                            * np.arange(1.0, 5.0))
    np.testing.assert_allclose(D(Y), np.transpose(_ref_attention(_Q, _K, _V, 2)[0], (1, 2, 0)), rtol=1e-12)
    np.testing.assert_allclose(D(g), numerical_gradient(ref, [k], 0), atol=1e-7)


def test_one_output_lstm_gru_attention_outside_dlfeval():
    X = dlarray(_X, "CBT")
    y_ref, h_ref, c_ref = _ref_lstm(_X, np.zeros((2, 2)), np.zeros((2, 2)), _W4, _R4, _B4)
    Y = sct.lstm(X, _H0, _H0, _W4, _R4, _B4)               # the doc's call
    assert isinstance(Y, dlarray) and sct.dims(Y) == "CBT"
    np.testing.assert_allclose(D(Y), y_ref, rtol=1e-12)
    Y, h = sct.lstm(X, _H0, _H0, _W4, _R4, _B4)
    np.testing.assert_allclose(D(h), h_ref, rtol=1e-12)
    Y, h, c = sct.lstm(X, _H0, _H0, _W4, _R4, _B4)
    np.testing.assert_allclose(D(c), c_ref, rtol=1e-12)
    x = np.transpose(_X, (1, 2, 0))                        # unformatted: sct's (batch, time, channels)
    Y = sct.lstm(x, np.zeros(2), np.zeros(2), _W4, _R4, _B4)
    np.testing.assert_allclose(Y, np.transpose(y_ref, (1, 2, 0)), rtol=1e-12)
    assert len(sct.lstm(x, np.zeros(2), np.zeros(2), _W4, _R4, _B4, nargout=3)) == 3
    Y = sct.gru(X, _H0, _W3, _R3, _B3)
    np.testing.assert_allclose(D(Y), _ref_gru(_X, np.zeros((2, 2)), _W3, _R3, _B3)[0], rtol=1e-12)
    Y, h = sct.gru(X, _H0, _W3, _R3, _B3)
    np.testing.assert_allclose(D(h), _ref_gru(_X, np.zeros((2, 2)), _W3, _R3, _B3)[1], rtol=1e-12)
    y_ref, a_ref = _ref_attention(_Q, _K, _V, 2)
    Y = sct.attention(dlarray(_Q, "CBT"), dlarray(_K, "CBT"), dlarray(_V, "CBT"), 2)
    np.testing.assert_allclose(D(Y), y_ref, rtol=1e-12)
    Y, A = sct.attention(dlarray(_Q, "CBT"), dlarray(_K, "CBT"), dlarray(_V, "CBT"), 2)
    np.testing.assert_allclose(D(A), a_ref, rtol=1e-12)
    # the attention doc's multiheadSelfAttention: A = attention(...); Y = pagemtimes(weightsO, A)
    A = sct.attention(_Q, _K, _V, 2, DataFormat="CBT")
    np.testing.assert_allclose(np.asarray(A), y_ref, rtol=1e-12)
    with pytest.raises(ValueError, match="nargout must be 1 or 2"):
        sct.gru(X, _H0, _W3, _R3, _B3, nargout=3)



def _recurrent_through(fn):
    def one(x, w):
        Y = fn(x, np.zeros(2), w, _R3, _B3)
        loss = np.sum(Y ** 2)
        return loss, dlgradient(loss, w)

    def two(x, w):
        Y, h = fn(x, np.zeros(2), w, _R3, _B3)
        loss = np.sum(Y ** 2) + np.sum(h)
        return loss, dlgradient(loss, w)
    return one, two


def gru_through_parameter(x, w, fn):
    Y, h = fn(x, np.zeros(2), w, _R3, _B3)
    loss = np.sum(Y ** 2) + np.sum(h)
    return loss, dlgradient(loss, w)


def test_recurrent_function_held_by_a_closure_or_a_parameter():
    # a name the compiler cannot resolve (a closure value, a parameter): the names unpacking the call are not
    # known where it runs: refused naming nargout=, never Y unpacked by its rows (a batch of 2 here)
    x = np.transpose(_X, (1, 2, 0))                                # sct's (batch, time, channels): batch 2
    one, two = _recurrent_through(sct.gru)
    for f in (one, two):
        with pytest.raises(sct.EvaluationError, match="give nargout="):
            dlfeval(f, dlarray(x), dlarray(_W3))
    with pytest.raises(sct.EvaluationError, match="give nargout=") as info:
        dlfeval(gru_through_parameter, dlarray(x), dlarray(_W3), sct.gru)
    assert info.value.lineno == _line_of(gru_through_parameter, "Y, h = fn(")
    # nargout given: runs, the value and gradient Python's
    def ref(w):
        y, h = _ref_gru(_X, np.zeros((2, 2)), w, _R3, _B3)
        return np.sum(y ** 2) + np.sum(h)
    loss, g = dlfeval(gru_given_nargout, dlarray(x), dlarray(_W3), sct.gru)
    np.testing.assert_allclose(D(loss), ref(_W3), rtol=1e-12)
    np.testing.assert_allclose(D(g), numerical_gradient(ref, [_W3], 0), atol=1e-7)


def gru_given_nargout(x, w, fn):
    Y, h = fn(x, np.zeros(2), w, _R3, _B3, nargout=2)
    loss = np.sum(Y ** 2) + np.sum(h)
    return loss, dlgradient(loss, w)

# --- F2: embed's weights are MATLAB's embeddingDimension-by-numWords; formatted indices ------------------

_EW = np.random.default_rng(7).random((10, 3))          # dimension 10, vocabularySize 2 + 1 (the last: out of vocabulary)


def _ref_embed(idx, w):
    """MATLAB's embed by its doc: column k of the weights for (0-based) index k, the last column for MATLAB's
    padding index 0 (here -1) and NaN, laid out (dimension,) + idx.shape."""
    idx = np.where(np.isnan(idx), -1, idx).astype(int)
    idx = np.where(idx == -1, w.shape[1] - 1, idx)
    out = np.zeros((w.shape[0],) + idx.shape)
    for pos in np.ndindex(idx.shape):
        out[(slice(None),) + pos] = w[:, idx[pos]]
    return out


def embed_loss(X, W):
    Y = sct.embed(X, W)
    loss = np.sum(np.sin(Y) * Y)
    return Y, loss, dlgradient(loss, W)


def embed_loss_format(X, W):
    Y = sct.embed(X, W, DataFormat="BT")
    loss = np.sum(np.sin(Y) * Y)
    return Y, loss, dlgradient(loss, W)


def test_embed_categorical_doc_example():
    # MATLAB: X = [2 1 2 1 1]' (here 0-based), dlX = dlarray(X,'BC'), dlY = embed(dlX, weights): 10(C) x 5(B)
    x = np.array([2, 1, 2, 1, 1]) - 1
    Y = sct.embed(dlarray(x[:, None].astype(float), "BC"), _EW)
    assert sct.dims(Y) == "BC" and Y.shape == (5, 10)           # C where X has it (sct keeps X's order)
    np.testing.assert_array_equal(D(Y).T, _ref_embed(x.astype(float), _EW))
    Y = sct.embed(dlarray(x[None, :].astype(float), "CB"), _EW)   # MATLAB's own order: 10(C) x 5(B)
    assert sct.dims(Y) == "CB" and Y.shape == (10, 5)
    np.testing.assert_array_equal(D(Y), _ref_embed(x.astype(float), _EW))
    # unformatted: sct's layout, the embedding dimension last
    np.testing.assert_array_equal(np.asarray(sct.embed(x, _EW)), _ref_embed(x.astype(float), _EW).T)


def test_embed_text_doc_example_padding_and_unknown_words():
    # MATLAB: X (2 x 11, 'BT') with padding 0 -> the out-of-vocabulary vector; here 0-based, padding -1, and NaN
    x = np.array([[-1, 0, 1, np.nan], [1, 1, 0, -1]])
    Y = sct.embed(dlarray(x, "BT"), _EW)
    assert sct.dims(Y) == "CBT" and Y.shape == (10, 2, 4)          # embeddingDimension x N x S, as MATLAB's
    ref = _ref_embed(x, _EW)
    np.testing.assert_array_equal(D(Y), ref)
    np.testing.assert_array_equal(D(Y)[:, 0, 0], _EW[:, -1])
    np.testing.assert_array_equal(np.asarray(sct.embed(x, _EW, DataFormat="BT")), ref)


@pytest.mark.parametrize("mode", ["dlfeval", "dlaccelerate"])
def test_embed_inside_dlfeval_values_formats_and_gradients(mode):
    cases = [(np.array([[1.0], [0.0], [1.0], [-1.0], [2.0]]), "BC", (5, 10)),
             (np.array([[1.0, 0.0, 1.0, np.nan, 2.0]]), "CB", (10, 5)),
             (np.array([[-1.0, 0.0, 1.0], [2.0, 2.0, np.nan]]), "BT", (10, 2, 3)),
             (np.array([[[1.0, 0.0, 2.0]], [[2.0, 2.0, -1.0]]]), "BCT", (2, 10, 3))]
    for x, fmt, shape in cases:
        Y, loss, g = _run(embed_loss, (dlarray(x, fmt), dlarray(_EW)), mode)
        assert sct.dims(Y) == (fmt if "C" in fmt else "C" + fmt) and Y.shape == shape
        squeezed = x[:, 0] if fmt == "BC" else x[0] if fmt == "CB" else x[:, 0, :] if fmt == "BCT" else x
        ref = _ref_embed(squeezed, _EW)
        got = np.moveaxis(D(Y), fmt.index("C"), 0) if "C" in fmt else D(Y)
        np.testing.assert_array_equal(got, ref)
        plain = lambda w: np.sum(np.sin(_ref_embed(squeezed, w)) * _ref_embed(squeezed, w))
        np.testing.assert_allclose(D(loss), plain(_EW), rtol=1e-12)
        np.testing.assert_allclose(D(g), numerical_gradient(plain, [_EW], 0), atol=1e-7)
    x = np.array([[-1.0, 0.0, 1.0], [2.0, 2.0, 1.0]])
    Y, loss, g = _run(embed_loss_format, (dlarray(x), dlarray(_EW)), mode)
    assert sct.dims(Y) == "" and Y.shape == (10, 2, 3)
    plain = lambda w: np.sum(np.sin(_ref_embed(x, w)) * _ref_embed(x, w))
    np.testing.assert_allclose(D(g), numerical_gradient(plain, [_EW], 0), atol=1e-7)
    x = np.array([[0, 2, 2], [1, -1, 0]])                           # unformatted: the dimension last
    Y, loss, g = _run(embed_loss, (x, dlarray(_EW)), mode)
    np.testing.assert_array_equal(D(Y), np.moveaxis(_ref_embed(x.astype(float), _EW), 0, -1))
    plain = lambda w: np.sum(np.sin(_ref_embed(x.astype(float), w)) * _ref_embed(x.astype(float), w))
    np.testing.assert_allclose(D(g), numerical_gradient(plain, [_EW], 0), atol=1e-7)


def test_embed_refuses_indices_outside_the_words_never_wraps():
    # weights laid out the old way (numWords, dimension) with an index >= numWords of MATLAB's layout: refused
    w_rows = _EW.T                                                  # (3 words, 10): read as 10 dimensions, 3 words?
    with pytest.raises(ValueError, match=r"word index 5 is outside 0 \.\. 2.*embeddingDimension-by-numWords"):
        sct.embed(np.array([0, 5]), _EW)
    with pytest.raises(ValueError, match=r"word index 3 is outside 0 \.\. 2"):
        sct.embed(dlarray(np.array([[3.0, 1.0]]), "CB"), _EW)
    with pytest.raises(ValueError, match=r"word index -2 is outside"):
        sct.embed(np.array([-2]), _EW)
    with pytest.raises(ValueError, match=r"word index 3 is outside 0 \.\. 2"):
        sct.embed(np.array([3]), _EW)
    np.testing.assert_array_equal(np.asarray(sct.embed(np.array([2]), w_rows.T)), _EW.T[[2]])
    with pytest.raises(sct.SctError, match=r"word index 7 is outside 0 \.\. 2"):
        dlfeval(embed_loss, dlarray(np.array([[7.0]]), "BC"), dlarray(_EW))
    with pytest.raises(ValueError, match=r"'C' dimension has size 2"):
        sct.embed(dlarray(np.zeros((2, 3)), "CB"), _EW)
