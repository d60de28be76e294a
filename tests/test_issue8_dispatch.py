"""Issue 8 item 2 / issue 7 item 3: helper calls from generated code go through call sites.

Each ``rt.vjp``-like call in generated code has its own site object (``rt.vjp_at(helper_site,
helper, ...)``) that keeps the generated pairs it used, each with a generated matcher of its
arguments' kinds (``sct.kinds.make_matcher``) and the guards of the code.  These tests check that
the results stay exact, that the code is compiled once per kinds, and that a change of kinds, of a
network, of a helper, of a global a helper reads or of a method recompiles instead of running stale
code.  (No timings here: see benchmarks/.)
"""
from __future__ import annotations

import itertools
import types

import numpy as np
import pytest

import sct
import sct.transform_calls as transform_calls
from sct import (dlarray, dlfeval, dlgradient, dlnetwork, extractdata, featureInputLayer, forward,
                 fullyConnectedLayer, predict, reluLayer, softmaxLayer, tanhLayer, crossentropy)
from sct.kinds import kind_of, make_matcher
from sct.runtime.support import CallSite
from gradcheck import assert_close, numerical_gradient


@pytest.fixture
def compilations(monkeypatch):
    """Counts of helper compilations, by function name."""
    sct.clear_cache()
    counts: dict = {}
    original = transform_calls.compile_function

    def counting(fn, *args, **kwargs):
        counts[fn.__name__] = counts.get(fn.__name__, 0) + 1
        return original(fn, *args, **kwargs)
    monkeypatch.setattr(transform_calls, "compile_function", counting)
    return counts


def sites_of(fn, *args):
    """The call sites in the generated globals of ``fn`` compiled for ``args``."""
    from sct.api import _entry
    compiled = _entry(fn, args)
    return {k: v for k, v in compiled.entry.__globals__.items() if isinstance(v, CallSite)}


# --- helpers in loops -------------------------------------------------------------------------------
SHIFT = 1.0


def step(x, w):
    return x * w + SHIFT


def loop_model(w, n):
    x = w
    for _ in range(n):
        x = np.tanh(step(x, w)) * 0.5
    return np.sum(x), dlgradient(np.sum(x), w)


def loop_plain(w, n):
    x = w
    for _ in range(n):
        x = np.tanh(x * w + SHIFT) * 0.5
    return np.sum(x)


def test_helper_in_a_loop_is_exact_and_compiled_once(compilations):
    w = np.array([0.3, -0.2, 0.1])
    value, grad = dlfeval(loop_model, dlarray(w), 50)
    assert_close(extractdata(value), loop_plain(w, 50))
    assert_close(extractdata(grad), numerical_gradient(lambda v: loop_plain(v, 50), [w], 0), rtol=1e-5)
    first = dict(compilations)
    assert first.get("step") == 1
    for _ in range(3):
        dlfeval(loop_model, dlarray(w), 50)
    assert compilations == first               # no compilation on later calls
    site = [s for s in sites_of(loop_model, dlarray(w), 50).values() if s.label == "step"]
    # made when loop_model was compiled (sct/call_tree.py): the site never missed
    assert len(site) == 1 and len(site[0].entries) == 1 and site[0].misses == 0


def test_kinds_changing_at_one_site_recompile_and_stay_exact(compilations):
    for w in (np.array([0.3, -0.2]), np.array([[0.3], [-0.2]]), np.array([0.3, -0.2], np.float32),
              np.array([0.3, -0.2])):
        value, grad = dlfeval(loop_model, dlarray(w), 5)
        assert extractdata(grad).dtype == w.dtype and extractdata(grad).shape == w.shape
        w64 = w.astype(np.float64)
        tol = 1e-4 if w.dtype == np.float32 else 1e-6
        assert_close(extractdata(value), loop_plain(w64, 5), rtol=tol)
        assert_close(extractdata(grad), numerical_gradient(lambda v: loop_plain(v, 5), [w64], 0),
                     rtol=max(tol, 1e-5), atol=tol)
    assert compilations["step"] == 3              # float64 1-d, float64 2-d, float32 1-d


def test_a_global_the_helper_reads_changing_recompiles_the_helper():
    global SHIFT
    w = np.array([0.3, -0.2])
    try:
        dlfeval(loop_model, dlarray(w), 4)
        SHIFT = -0.7                     # the helper's guard: its site must not run the old code
        value, grad = dlfeval(loop_model, dlarray(w), 4)
        assert_close(extractdata(value), loop_plain(w, 4))
        assert_close(extractdata(grad), numerical_gradient(lambda v: loop_plain(v, 4), [w], 0), rtol=1e-5)
    finally:
        SHIFT = 1.0


def poly(x):
    return x * x


def mixed(w):
    total = 0.0
    for i in range(6):
        if i % 2 == 0:
            total = total + poly(w[0])          # a 0-d value
        else:
            total = total + np.sum(poly(w))      # a 1-d value: another entry of the same site
    return total, dlgradient(total, w)


def test_one_site_with_several_kinds_in_a_loop():
    w = np.array([0.5, 2.0])
    value, grad = dlfeval(mixed, dlarray(w))
    assert_close(extractdata(value), 3 * w[0] ** 2 + 3 * np.sum(w ** 2))
    assert_close(extractdata(grad), np.array([12 * w[0], 6 * w[1]]))
    value, grad = dlfeval(mixed, dlarray(w))
    assert_close(extractdata(grad), np.array([12 * w[0], 6 * w[1]]))


def helper_a(x):
    return np.sin(x)


def helper_b(x):
    return np.cos(x)


def helper_c(x):
    return np.exp(x)


HELPER = helper_a


def calls_global_helper(x):
    y = np.sum(HELPER(x) * x)
    return y, dlgradient(y, x)


def test_a_helper_rebound_or_its_code_replaced_is_followed():
    global HELPER
    x = np.array([0.4, 1.1])
    try:
        _, g = dlfeval(calls_global_helper, dlarray(x))
        assert_close(extractdata(g), np.sin(x) + x * np.cos(x))
        HELPER = helper_b
        _, g = dlfeval(calls_global_helper, dlarray(x))
        assert_close(extractdata(g), np.cos(x) - x * np.sin(x))
        HELPER = helper_a
        saved = helper_a.__code__
        helper_a.__code__ = helper_c.__code__     # the same function object, new code
        try:
            _, g = dlfeval(calls_global_helper, dlarray(x))
            assert_close(extractdata(g), np.exp(x) + x * np.exp(x))
        finally:
            helper_a.__code__ = saved
        _, g = dlfeval(calls_global_helper, dlarray(x))
        assert_close(extractdata(g), np.sin(x) + x * np.cos(x))
    finally:
        HELPER = helper_a


class Scaler:
    def __init__(self, a):
        self.a = a

    def apply(self, x):
        return self.a * x


def method_loop(s, x):
    y = x
    for _ in range(3):
        y = s.apply(y)
    total = np.sum(y)
    return total, dlgradient(total, x), dlgradient(total, s.a)


def test_methods_follow_a_redefined_method_and_new_objects():
    x = np.array([1.0, 2.0])
    _, gx, ga = dlfeval(method_loop, Scaler(dlarray(np.array(2.0))), dlarray(x))
    assert_close(extractdata(gx), np.full(2, 8.0))
    assert_close(extractdata(ga), np.array(3 * 4.0 * 3.0))
    saved = Scaler.apply
    Scaler.apply = lambda self, x: self.a + x
    try:
        _, gx, ga = dlfeval(method_loop, Scaler(dlarray(np.array(2.0))), dlarray(x))
        assert_close(extractdata(gx), np.ones(2))
        assert_close(extractdata(ga), np.array(6.0))
    finally:
        Scaler.apply = saved
    _, gx, _ = dlfeval(method_loop, Scaler(dlarray(np.array(3.0))), dlarray(x))
    assert_close(extractdata(gx), np.full(2, 27.0))


def with_keywords(x):
    y = keyword_helper(x, site=2.0, fn=3.0, active=4.0)
    return y, dlgradient(y, x)


def keyword_helper(x, site=1.0, fn=1.0, active=1.0):
    return np.sum(x) * site * fn * active


def test_keywords_named_like_the_sites_parameters():
    _, g = dlfeval(with_keywords, dlarray(np.array([1.0, 2.0])))
    assert_close(extractdata(g), np.full(2, 24.0))


# --- networks ---------------------------------------------------------------------------------------
def model_loss(net, X, T):
    Y, state = forward(net, X)
    loss = crossentropy(Y, T)
    return loss, dlgradient(loss, net.Learnables), state


def plain_mlp(values, X, T):
    W1, b1, W2, b2 = values
    h = np.maximum(X @ W1.T + b1, 0)
    z = h @ W2.T + b2
    e = np.exp(z - z.max(axis=1, keepdims=True))
    p = e / e.sum(axis=1, keepdims=True)
    return -np.sum(T * np.log(p)) / X.shape[0]


def small_net():
    return dlnetwork([featureInputLayer(3), fullyConnectedLayer(4), reluLayer(), fullyConnectedLayer(2),
                      softmaxLayer()], Seed=0)


def check_net(net, X, T):
    loss, grads, _ = dlfeval(model_loss, net, dlarray(X), dlarray(T))
    values = [np.asarray(extractdata(v), np.float64) for v in net.Learnables.Value]
    assert_close(extractdata(loss), plain_mlp(values, X, T), rtol=1e-4 if values[0].dtype == np.float32 else 1e-6)
    for i, g in enumerate(grads.Value):
        assert extractdata(g).dtype == np.asarray(extractdata(net.Learnables.Value[i])).dtype
        assert_close(extractdata(g), numerical_gradient(lambda *v: plain_mlp(list(v), X, T), values, i),
                     rtol=1e-4, atol=1e-6)


def test_a_network_mutated_in_place_or_replaced_is_followed(compilations):
    rng = np.random.default_rng(1)
    X, T = rng.standard_normal((5, 3)), np.eye(2)[rng.integers(0, 2, 5)]
    net = small_net()
    check_net(net, X, T)
    counts = dict(compilations)
    check_net(net, X, T)
    assert compilations == counts                          # warm: nothing compiled
    net.Learnables.Value[0] = dlarray(rng.standard_normal((4, 3)))   # new values, same kinds
    check_net(net, X, T)
    assert compilations == counts
    net.Learnables.Value[1] = dlarray(rng.standard_normal((1, 4)))   # a bias of another rank
    check_net(net, X, T)                                   # (broadcasts: the same values as numpy)
    assert compilations != counts                          # compiled for the new kinds
    counts = dict(compilations)
    net = small_net()
    net.Learnables = net.Learnables.with_values([dlarray(np.asarray(extractdata(v), np.float32))
                                                 for v in net.Learnables.Value])
    check_net(net, X.astype(np.float32), T.astype(np.float32))     # float32: compiled anew
    assert compilations != counts


def test_a_wider_network_reuses_the_code_and_a_longer_one_is_right():
    rng = np.random.default_rng(2)
    X, T = rng.standard_normal((4, 3)), np.eye(2)[rng.integers(0, 2, 4)]
    check_net(small_net(), X, T)
    wide = dlnetwork([featureInputLayer(3), fullyConnectedLayer(7), reluLayer(), fullyConnectedLayer(2),
                      softmaxLayer()], Seed=1)
    check_net(wide, X, T)
    deep = dlnetwork([featureInputLayer(3), fullyConnectedLayer(4), tanhLayer(), fullyConnectedLayer(4),
                      reluLayer(), fullyConnectedLayer(2), softmaxLayer()], Seed=0)
    loss, grads, _ = dlfeval(model_loss, deep, dlarray(X), dlarray(T))
    values = [np.asarray(extractdata(v)) for v in deep.Learnables.Value]

    def plain(*v):
        h = np.tanh(X @ v[0].T + v[1])
        h = np.maximum(h @ v[2].T + v[3], 0)
        z = h @ v[4].T + v[5]
        e = np.exp(z - z.max(axis=1, keepdims=True))
        return -np.sum(T * np.log(e / e.sum(axis=1, keepdims=True))) / 4
    assert_close(extractdata(loss), plain(*values))
    for i in range(6):
        assert_close(extractdata(grads.Value[i]), numerical_gradient(plain, values, i), rtol=1e-4, atol=1e-7)


def pinn_loss(net, X):
    U = predict(net, X)
    Ux = dlgradient(np.sum(U), X)
    loss = np.mean((Ux - U) ** 2)
    return loss, dlgradient(loss, net.Learnables)


def test_a_loss_with_an_input_gradient_through_a_network_is_exact():
    rng = np.random.default_rng(3)
    net = dlnetwork([featureInputLayer(1), fullyConnectedLayer(3), tanhLayer(), fullyConnectedLayer(1)], Seed=0)
    X = rng.uniform(-1, 1, (6, 1))
    for _ in range(2):
        loss, grads = dlfeval(pinn_loss, net, dlarray(X))
    values = [np.asarray(extractdata(v)) for v in net.Learnables.Value]

    def plain(W1, b1, W2, b2):
        a = np.tanh(X @ W1.T + b1)
        U = a @ W2.T + b2
        Ux = ((1 - a ** 2) * W2) @ W1       # dU/dx, one input
        return np.mean((Ux - U) ** 2)
    assert_close(extractdata(loss), plain(*values))
    for i in range(4):
        assert_close(extractdata(grads.Value[i]), numerical_gradient(plain, values, i), rtol=1e-4, atol=1e-7)


def test_source_with_callees_still_shows_the_helpers_after_the_sites_are_warm():
    w = dlarray(np.array([0.1, 0.2]))
    dlfeval(loop_model, w, 3)
    shown = str(sct.source(loop_model, w, 3, callees=True))
    assert "rt.vjp_at(step_site, step" in shown
    assert "def step_fwd(" in shown


# --- the matcher agrees with kind_of ----------------------------------------------------------------
class Holder:
    def __init__(self, **fields):
        self.__dict__.update(fields)


def examples():
    a = np.ones((2, 3))
    return [
        1.0, 2, True, np.float32(1.0), np.float64(2.0), 1j, None, "s", np.sin, np.add, int,
        a, a.astype(np.float32), np.ones(3), np.arange(3), dlarray(a), dlarray(np.ones(3)),
        dlarray(a.astype(np.float32)), dlarray(np.ones((2, 3)), "CB"), dlarray(np.ones((2, 3)), "BC"),
        [a, 1.0], [a, 2], (a,), (dlarray(a),), [], (), {"w": a, "b": 1.0}, {"b": 1.0, "w": a},
        {"w": a}, Holder(w=a, b=2.0), Holder(w=a), Holder(w=dlarray(a), b=2.0), Holder(w=a, c=2.0),
        small_net(), sct.runtime.table.Table(("l",), ("W",), [a]),
        sct.runtime.table.Table(("l",), ("W",), [np.ones(2)]), types.SimpleNamespace(x=1.0),
    ]


@pytest.mark.parametrize("traced", [False, True])
def test_a_matcher_accepts_only_arguments_of_the_same_kinds(traced):
    xs = examples()
    for a, b in itertools.product(xs, xs):
        match = make_matcher((a,), (traced,))
        assert match is not None
        if match((b,)):
            assert kind_of(a, traced) == kind_of(b, traced), (a, b)
        if a is b:
            assert match((b,))
    assert make_matcher((np.ones(2),), (True,))((np.ones(3),))           # shapes are not kinds
    assert not make_matcher((np.ones(2),), (True,))((np.ones(2), 1.0))   # nor is a longer call
