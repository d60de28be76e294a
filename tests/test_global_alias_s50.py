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
