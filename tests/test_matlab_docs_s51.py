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


# --- F4: state["TrainedMean"] = trainedMean in a model function ------------------------------------------

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
