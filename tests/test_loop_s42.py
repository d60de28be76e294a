"""Red team loop (s42): custom training loops and notebook workflows -- parameters in nested
structures, optimizers over many steps, functions and classes changed between calls.  One test per
finding; each failed before its fix."""
import hashlib
import linecache
import textwrap
import types

import numpy as np
import pytest

import sct
from sct import (Layer, dlarray, dlfeval, dlgradient, dlnetwork, featureInputLayer, forward,
                 fullyConnectedLayer, predict)
from gradcheck import assert_close, numerical_gradient

RNG = np.random.default_rng(42)


def notebook(name):
    """A kernel's namespace and ``cell(src)``: the source registered in linecache under a cell's file
    name (as ipykernel does), then run in that namespace."""
    module = types.ModuleType(name)
    ns = module.__dict__
    ns.update(np=np, sct=sct, dlarray=dlarray, dlfeval=dlfeval, dlgradient=dlgradient, Layer=Layer,
              dlnetwork=dlnetwork, featureInputLayer=featureInputLayer,
              fullyConnectedLayer=fullyConnectedLayer, forward=forward, predict=predict)

    def cell(src):
        src = textwrap.dedent(src)
        fname = f"/tmp/ipykernel_s42/{hashlib.md5(src.encode()).hexdigest()[:10]}.py"
        linecache.cache[fname] = (len(src), None, src.splitlines(True), fname)
        exec(compile(src, fname, "exec"), ns)
        return fname
    return ns, cell


# --- finding 1: a forward method given to a custom layer's class after the network was built -------
# The network's plan recorded, when it was initialized, whether each layer had a forward of its own;
# a forward added to the class later (monkeypatched, or IPython's autoreload adding the method written
# into the module to the class in place) was never called: forward(net, X) ran predict, inside dlfeval
# (value and gradient) and outside it.

@pytest.mark.parametrize("unroll", [True, False])
def test_forward_added_to_a_layer_class_later_is_used(unroll, monkeypatch):
    if not unroll:
        import sct.runtime.network as network
        monkeypatch.setattr(network, "UNROLL_MAX_LAYERS", 1)      # run_network_loop
    ns, cell = notebook(f"__nb_s42_fwd_{unroll}__")
    cell("""
    class Scale(Layer):
        learnables = ("W",)
        def __init__(self, Name="scale"):
            self.Name = Name
            self.W = np.array([1.0, 2.0, 3.0])
        def predict(self, X):
            return np.tanh(X * self.W)

    def loss(net, X):
        Y, state = forward(net, X)
        y = np.sum(Y ** 2)
        return y, dlgradient(y, net.Learnables)

    net = dlnetwork([featureInputLayer(4), fullyConnectedLayer(3), Scale()], Seed=0)
    """)
    net = ns["net"]
    X = RNG.standard_normal((3, 4))
    values = [np.array(v.data) for v in net.Learnables.Value]

    def ref(vals, act):
        W1, b1, a = vals
        return np.sum(act((X @ W1.T + b1) * a) ** 2)

    def check(act):
        y, g = dlfeval(ns["loss"], net, dlarray(X))
        assert_close(y.data, ref(values, act), what="value")
        for k in range(3):
            expected = numerical_gradient(lambda v: ref(values[:k] + [v] + values[k + 1:], act), [values[k]], 0)
            assert_close(g.Value[k].data, expected, what=f"gradient {k}")

    check(np.tanh)
    cell("""
    def forward_(self, X):
        return np.sin(X * self.W)
    Scale.forward = forward_
    """)
    check(np.sin)                                                  # was tanh: predict's
    W1, b1, a = values
    assert_close(forward(net, X)[0].data, np.sin((X @ W1.T + b1) * a))
    assert_close(predict(net, X).data, np.tanh((X @ W1.T + b1) * a))
    del ns["Scale"].forward
    check(np.tanh)
