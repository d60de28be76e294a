"""Globals that are the same object as a dlfeval argument, and closures over traced values in forward
mode (s50).

sct traces the arguments of dlfeval; a global (or a value a helper captures) read by name is a constant
there.  Where it is the same object as an argument (``M = Model(); dlfeval(loss, M, x)`` of a loss reading
the global ``M.W`` and ``m.W``), the read through the global gave the gradient with respect to ``m.W`` no
contribution (a wrong gradient); it is now refused, naming the global and the line reading it.  Globals
that hold no traced argument (hyperparameters, a plain-array data set, a layer not passed) still run, with
exact gradients.  Gradients against central differences of plain numpy."""
import functools
import re

import numpy as np
import pytest

import sct
from sct import dlarray, dlfeval, dlgradient

HERE = "test_global_alias_s50.py"
W0 = np.array([1.0, 2.0, 3.0])
X0 = np.array([0.5, -1.0, 2.0])


class Model:
    def __init__(self, w=W0):
        self.W = dlarray(np.array(w, dtype=float))

    def fwd(self, x):
        return self.W * x


M = Model()
PARAMS = {"W": M.W}
LAYERS = [M]
G = M.fwd


def _make(m):
    def f(x):
        return m.W * x
    return f


F = _make(M)
HYPER = {"scale": 2.0, "depth": 3}
DATA = np.array([0.25, 0.5, -0.75])
OTHER = Model([0.3, -0.2, 0.1])       # a layer never passed to dlfeval
P = functools.partial(lambda m, x: m.W * x, M)


def _helper(x):
    return np.sum(M.W * x)


def l_direct(m, x):
    y = np.sum(M.W * x) + np.sum(m.W ** 2)
    return y, dlgradient(y, m.W)


def l_closure(m, x):
    y = np.sum(F(x)) + np.sum(m.W ** 2)
    return y, dlgradient(y, m.W)


def l_dict(params, x):
    y = np.sum(PARAMS["W"] * x) + np.sum(params["W"] ** 2)
    return y, dlgradient(y, params["W"])


def l_helper(m, x):
    y = _helper(x) + np.sum(m.W ** 2)
    return y, dlgradient(y, m.W)


def l_layers(layers, x):
    y = 0.0
    for layer in LAYERS:
        y = y + np.sum(layer.W * x)
    y = y + np.sum(layers[0].W ** 2)
    return y, dlgradient(y, layers[0].W)


def l_method(m, x):
    y = np.sum(M.fwd(x)) + np.sum(m.W ** 2)
    return y, dlgradient(y, m.W)


def l_bound(m, x):
    y = np.sum(G(x)) + np.sum(m.W ** 2)
    return y, dlgradient(y, m.W)


def l_partial(m, x):
    y = np.sum(P(x)) + np.sum(m.W ** 2)
    return y, dlgradient(y, m.W)


def l_whole(m, x):
    y = np.sum(M.W * x) + np.sum(m.W ** 2)
    return y, dlgradient(y, m)


def _expected():
    return X0 + 2 * W0          # d/dW of sum(W * x) + sum(W ** 2)


@pytest.mark.parametrize("loss, first, global_name", [
    (l_direct, lambda: M, "the global M"), (l_closure, lambda: M, "captures"),
    (l_dict, lambda: PARAMS, "the global PARAMS"), (l_helper, lambda: M, "the global M"),
    (l_layers, lambda: LAYERS, "the global LAYERS"), (l_method, lambda: M, "the global M"),
    (l_bound, lambda: M, "G"), (l_partial, lambda: M, "P"), (l_whole, lambda: M, "the global M")])
def test_global_same_as_argument_refused(loss, first, global_name):
    # was: the gradient 2 * W (the read through the global a constant), where x + 2 * W is exact
    sct.clear_cache()
    with pytest.raises((sct.CompileError, sct.EvaluationError)) as info:
        dlfeval(loss, first(), dlarray(X0))
    text = str(info.value)
    assert re.search(HERE + r", line \d+", text), text
    assert global_name in text, text


def test_refusal_names_the_line_of_the_read():
    sct.clear_cache()
    with pytest.raises(sct.EvaluationError) as info:
        dlfeval(l_helper, M, dlarray(X0))
    line = _helper.__code__.co_firstlineno + 1
    assert f"{HERE}, line {line}" in str(info.value), str(info.value)


def test_refused_again_on_later_calls():
    sct.clear_cache()
    for _ in range(3):
        with pytest.raises(sct.EvaluationError):
            dlfeval(l_direct, M, dlarray(X0))


def _fd(f, a):
    g = np.zeros_like(a)
    for i in np.ndindex(a.shape):
        p, q = a.copy(), a.copy()
        p[i] += 1e-6
        q[i] -= 1e-6
        g[i] = (f(p) - f(q)) / 2e-6
    return g


def l_hyper_data_other(m, x):
    y = HYPER["scale"] * np.sum(m.W * DATA * x) + np.sum(OTHER.W * m.W) + HYPER["depth"] * np.sum(OTHER.fwd(x))
    return y, dlgradient(y, m.W)


def test_globals_holding_no_argument_still_run():
    sct.clear_cache()
    m = Model([0.7, -0.4, 1.3])
    for _ in range(2):
        y, g = dlfeval(l_hyper_data_other, m, dlarray(X0))

    def ref(w):
        return 2.0 * np.sum(w * DATA * X0) + np.sum(OTHER.W.data * w) + 3 * np.sum(OTHER.W.data * X0)
    np.testing.assert_allclose(float(y.data), ref(m.W.data), rtol=1e-12)
    np.testing.assert_allclose(np.asarray(g.data), _fd(ref, np.array(m.W.data)), rtol=1e-6, atol=1e-8)


def l_wrt_x(m, x):
    y = np.sum(M.W * x) + np.sum(m.W ** 2)
    return y, dlgradient(y, x)


def test_gradient_with_respect_to_another_argument_runs():
    # (M.W is m.W, but the gradient is taken with respect to x only: the read of M.W is a constant there)
    sct.clear_cache()
    y, g = dlfeval(l_wrt_x, M, dlarray(X0))
    np.testing.assert_allclose(np.asarray(g.data), W0)


def l_global_model_not_passed(params, x):
    y = np.sum(OTHER.fwd(x) * params["w"]) + np.sum(params["w"] ** 2)
    return y, dlgradient(y, params)


def test_global_layer_not_passed_runs():
    sct.clear_cache()
    w = np.array([0.2, 0.1, -0.3])
    y, g = dlfeval(l_global_model_not_passed, {"w": dlarray(w)}, dlarray(X0))
    np.testing.assert_allclose(np.asarray(g["w"].data), OTHER.W.data * X0 + 2 * w)


import tests.helper_module as _helper_module       # noqa: E402  (a user's module holding a model)


def l_module_attribute(m, x):
    y = np.sum(_helper_module.SHARED.W * x) + np.sum(m.W ** 2)
    return y, dlgradient(y, m.W)


def test_global_of_a_module_read_as_attribute_refused():
    sct.clear_cache()
    _helper_module.SHARED = M
    try:
        with pytest.raises(sct.EvaluationError) as info:
            dlfeval(l_module_attribute, M, dlarray(X0))
        assert "helper_module.SHARED" in str(info.value), str(info.value)
        assert re.search(HERE + r", line \d+", str(info.value))
    finally:
        del _helper_module.SHARED


BATCHES = [np.array([0.1 * i, 0.2, -0.3]) for i in range(50)]


def l_dataset_list(m, i):
    y = np.sum(BATCHES[i] * m.W) + HYPER["scale"] * np.sum(m.W ** 2)
    return y, dlgradient(y, m.W)


def test_global_list_of_plain_arrays_runs():
    sct.clear_cache()
    m = Model([0.7, -0.4, 1.3])
    y, g = dlfeval(l_dataset_list, m, 7)
    np.testing.assert_allclose(np.asarray(g.data), BATCHES[7] + 4.0 * m.W.data)


# --- a number read back from text made of a traced value, the text a dict's key ------------------------

def t_key_constant_value(w):
    d = {}
    d[str(float(w[0]))] = 1.0
    out = 0.0
    for k in d:
        out = out + float(k) * w[1]
    return out, dlgradient(out, w)


def t_key_sorted(w):
    d = {}
    d[str(float(w[0]))] = 1.0
    out = 0.0
    for k in sorted(d):
        out = out + np.float64(k) * w[1]
    return out, dlgradient(out, w)


@pytest.mark.parametrize("fun", [t_key_constant_value, t_key_sorted])
def test_text_key_read_back_refused(fun):
    # was: [0, 1.5] where the derivative of float(str(w0)) * w1 is [2, 1.5]
    sct.clear_cache()
    with pytest.raises(sct.CompileError) as info:
        dlfeval(fun, dlarray(np.array([1.5, 2.0])))
    assert re.search(HERE + r", line \d+", str(info.value)) and "read back from text" in str(info.value)


def t_key_label(w):
    d = {}
    d[str(float(w[0]))] = 1.0
    out = w[1] * 3.0
    for k in d:
        out = out + len(k) * w[1]
    return out, dlgradient(out, w)


def test_text_key_not_read_as_a_number_runs():
    sct.clear_cache()
    w = np.array([1.5, 2.0])
    y, g = dlfeval(t_key_label, dlarray(w))
    np.testing.assert_allclose(np.asarray(g.data), [0.0, 3.0 + len(str(1.5))])


# --- forward mode: closures over a traced value (exact; checked against central differences) ------------

def _apply(g, v):
    return g(v)


class _Holder:
    def __init__(self, w):
        self.w = w

    def __call__(self, x):
        return x * self.w


def _mul(a, x):
    return a * x


def j_lambda(w):
    g = lambda x: x * w      # noqa: E731
    return _apply(g, w)


def j_nested(w):
    f = lambda x: x * w      # noqa: E731
    f2 = lambda x: f(x) + w  # noqa: E731
    return _apply(functools.partial(_apply, f2), w)


def j_callable_object(w):
    return _apply(_Holder(np.cos(w)), w)


def j_partial(w):
    return _apply(functools.partial(_mul, w), np.sin(w))


def j_rebound(w):
    acc = [w]

    def f(x):
        return x * acc[0]
    acc[0] = np.sin(w)
    return _apply(f, w)


@pytest.mark.parametrize("fun", [j_lambda, j_nested, j_callable_object, j_partial, j_rebound])
@pytest.mark.parametrize("mode", ["forward", "transpose"])
def test_jvp_of_closures_over_traced_values(fun, mode):
    sct.clear_cache()
    w, v = np.array([0.7, -1.2, 0.4]), np.array([0.3, 0.5, -1.0])
    y, t = sct.jvp(fun, (w,), (v,), mode=mode)
    fd = (fun(w + 1e-6 * v) - fun(w - 1e-6 * v)) / 2e-6
    np.testing.assert_allclose(np.asarray(getattr(y, "data", y)), fun(w), rtol=1e-12)
    np.testing.assert_allclose(np.asarray(getattr(t, "data", t)), fd, rtol=1e-6, atol=1e-8)


# --- only what the code reads from the global counts: a config holding the model too still runs ----------

class _Trainer:
    def __init__(self, model):
        self.model = model
        self.lr = 0.5


CFG = {"lr": 0.5, "model": M}
TRAINER = _Trainer(M)


def l_cfg_item(m, x):
    y = CFG["lr"] * np.sum(m.W * x)
    return y, dlgradient(y, m.W)


def l_trainer_field(m, x):
    y = TRAINER.lr * np.sum(m.W * x)
    return y, dlgradient(y, m.W)


@pytest.mark.parametrize("loss", [l_cfg_item, l_trainer_field])
def test_global_holding_the_argument_read_for_a_number_runs(loss):
    sct.clear_cache()
    y, g = dlfeval(loss, M, dlarray(X0))
    np.testing.assert_allclose(np.asarray(g.data), 0.5 * X0)


def l_trainer_model(m, x):
    y = np.sum(TRAINER.model.W * x) + np.sum(m.W ** 2)
    return y, dlgradient(y, m.W)


def test_global_holding_the_argument_read_through_a_field_refused():
    sct.clear_cache()
    with pytest.raises(sct.EvaluationError) as info:
        dlfeval(l_trainer_model, M, dlarray(X0))
    assert "the global TRAINER" in str(info.value) and re.search(HERE + r", line \d+", str(info.value))


def _keyed_by_text(w, v):
    d = {}
    d[str(float(w[0]))] = v
    return d


def t_key_from_helper(w):
    v = w[1] * 2.0
    d = _keyed_by_text(w, v)
    out = 0.0
    for k in d:
        out = out + float(k) * v
    return out, dlgradient(out, w)


def test_text_key_made_in_a_helper_refused():
    # was: [0, 3] where the derivative of 2 * w0 * w1 is [4, 3]
    sct.clear_cache()
    with pytest.raises(sct.CompileError) as info:
        dlfeval(t_key_from_helper, dlarray(np.array([1.5, 2.0])))
    assert re.search(HERE + r", line \d+", str(info.value)) and "read back from text" in str(info.value)


def _keyed_by_name(w):
    return {"first": w[0], "second": w[1]}


def t_named_keys_from_helper(w):
    d = _keyed_by_name(w)
    out = 0.0
    for k in d:
        out = out + len(k) * d[k]
    return out, dlgradient(out, w)


def test_named_keys_from_a_helper_run():
    sct.clear_cache()
    y, g = dlfeval(t_named_keys_from_helper, dlarray(np.array([1.5, 2.0])))
    np.testing.assert_allclose(np.asarray(g.data), [5.0, 6.0])


def _make_loss(mm):
    def loss(m, x):
        y = np.sum(mm.W * x) + np.sum(m.W ** 2)
        return y, dlgradient(y, m.W)
    return loss


def test_closure_over_the_argument_given_keywords_refused():
    # was: with x passed by keyword (dlfeval's adapting path), the gradient 2 * W without mm.W * x
    sct.clear_cache()
    with pytest.raises(sct.EvaluationError) as info:
        dlfeval(_make_loss(M), M, x=dlarray(X0))
    assert re.search(HERE + r", line \d+", str(info.value)), str(info.value)


def _predict(x, m=M):
    return np.sum(m.W * x)


def l_default_used(m, x):
    y = _predict(x) + np.sum(m.W ** 2)
    return y, dlgradient(y, m.W)


def l_default_given(m, x):
    y = _predict(x, m) + np.sum(m.W ** 2)
    return y, dlgradient(y, m.W)


def test_helper_default_holding_the_argument_refused_where_used():
    # was: _predict(x) read its default M as a constant: the gradient 2 * W where x + 2 * W is exact
    sct.clear_cache()
    with pytest.raises(sct.EvaluationError) as info:
        dlfeval(l_default_used, M, dlarray(X0))
    assert "the default of m" in str(info.value) and re.search(HERE + r", line \d+", str(info.value))


def test_helper_default_not_used_runs():
    sct.clear_cache()
    y, g = dlfeval(l_default_given, M, dlarray(X0))
    np.testing.assert_allclose(np.asarray(g.data), _expected())
