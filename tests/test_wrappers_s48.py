"""Stop 48: common user code that was refused.

* A ``*args`` wrapper around the function taking dlgradient, run by dlfeval (a decorator
  ``def wrapper(*args): return f(*args)``, ``lambda *a: f(*a)``): the items of ``args``, passed on
  as they are, are linked as named parameters would be (sct/call_tree.py ``_forwarded_links``; was:
  every pair, refused as "x computed from W").  A wrapper computing one argument from another, a
  caller passing ``w, w * 3`` through it, loop-carried state through it: still refused.
* ``for layer in grads.values(): for k in layer: layer[k] = ...`` (gradient clipping of a dict of
  layers): walked by key, ``layer`` read as ``grads[key]`` (sct/normalize_loops.py
  ``_values_by_key``; was refused as a write into what the loop walks).  A write Python rejects
  (a new key into the dict walked) and one sct cannot follow (the inner dict also held by another
  name) stay refused.
"""
import copy
import functools

import numpy as np
import pytest

import sct
from sct import CompileError, dlarray, dlfeval, dlgradient

from gradcheck import D

W0 = np.array([[0.3, -0.2], [0.1, 0.4]])
X0 = np.array([[1.0, 0.5], [0.2, -0.7], [0.3, 0.9]])


def fd(f, x, h=1e-6):
    g = np.zeros_like(x)
    for i in np.ndindex(x.shape):
        e = np.zeros_like(x)
        e[i] = h
        g[i] = (f(x + e) - f(x - e)) / (2 * h)
    return g


def refused_here(fun, *args):
    with pytest.raises(CompileError) as info:
        dlfeval(fun, *args)
    text = str(info.value)
    assert __file__ in text and "dlgradient" in text
    assert "internal error" not in text
    return text


def loss_fn(W, x):
    loss = np.sum(np.tanh(x @ W))
    return loss, dlgradient(loss, W)


def plain(W, x):
    return np.sum(np.tanh(x @ W))


def logged(fn):
    def wrapper(*args):
        return fn(*args)
    return wrapper


def logged_kw(fn):
    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        out = fn(*args, **kwargs)
        return out
    return wrapper


def with_first(fn):
    def wrapper(W, *rest):
        return fn(W, *rest)
    return wrapper


WRAPPED = [logged(loss_fn), logged_kw(loss_fn), with_first(loss_fn), lambda *a: loss_fn(*a)]


@pytest.mark.parametrize("fun", WRAPPED, ids=["decorator", "wraps_kwargs", "named_first", "lambda"])
@pytest.mark.parametrize("traced_x", [False, True])
def test_star_wrapper_run_by_dlfeval(fun, traced_x):
    sct.clear_cache()
    loss, g = dlfeval(fun, dlarray(W0), dlarray(X0) if traced_x else X0)
    assert np.isclose(float(D(loss)), plain(W0, X0))
    np.testing.assert_allclose(D(g), fd(lambda W: plain(W, X0), W0), rtol=1e-6, atol=1e-8)


def test_star_wrapper_of_a_dict_of_parameters_and_a_loop():
    def loss_p(p, x):
        loss = np.sum(np.tanh(x @ p["W"] + p["b"]))
        return loss, dlgradient(loss, p)

    def twice(fn):
        def wrapper(*args):
            tot = 0
            for i in range(2):
                loss, g = fn(*args)
                tot = tot + loss
            return tot, g
        return wrapper
    b0 = np.array([0.1, -0.3])
    sct.clear_cache()
    tot, g = dlfeval(twice(loss_p), {"W": dlarray(W0), "b": dlarray(b0)}, X0)
    assert np.isclose(float(D(tot)), 2 * np.sum(np.tanh(X0 @ W0 + b0)))
    np.testing.assert_allclose(D(g["W"]), fd(lambda W: np.sum(np.tanh(X0 @ W + b0)), W0), rtol=1e-6, atol=1e-8)
    np.testing.assert_allclose(D(g["b"]), fd(lambda b: np.sum(np.tanh(X0 @ W0 + b)), b0), rtol=1e-6, atol=1e-8)


def test_star_wrapper_nested_dlgradient():
    def loss_nested(W, x):
        loss = np.sum(np.tanh(x @ W))
        g = dlgradient(loss, W, EnableHigherDerivatives=True)
        r = np.sum(g ** 2)
        return r, dlgradient(r, W)

    def plain_n(W):
        t = np.tanh(X0 @ W)
        return np.sum((X0.T @ (1 - t ** 2)) ** 2)
    sct.clear_cache()
    r, g = dlfeval(logged(loss_nested), dlarray(W0), X0)
    assert np.isclose(float(D(r)), plain_n(W0))
    np.testing.assert_allclose(D(g), fd(plain_n, W0), rtol=1e-5, atol=1e-7)


def test_star_wrapper_accelerated():
    acc = sct.dlaccelerate(logged(loss_fn))
    for _ in range(2):
        loss, g = dlfeval(acc, dlarray(W0), X0)
        np.testing.assert_allclose(D(g), fd(lambda W: plain(W, X0), W0), rtol=1e-6, atol=1e-8)


# --- still refused: x computed from W, here or by a caller -------------------------------------------

def computes_x(fn):
    def wrapper(*args):
        x = args[0] * 2
        return fn(args[0], x)
    return wrapper


def rebinds_args(fn):
    def wrapper(*args):
        args = (args[0], args[0] * 3)
        return fn(*args)
    return wrapper


def star_of_display(fn):
    def wrapper(*args):
        return fn(*(args[0], args[0] * 3))
    return wrapper


def named_then_star(fn):
    def wrapper(W, *rest):
        x = W * 3
        return fn(W, x, *rest)
    return wrapper


def loss3(W, x, c):
    loss = np.sum(np.tanh(x @ W)) * c
    return loss, dlgradient(loss, W)


WL = logged(loss_fn)


def caller_links(W):
    return WL(W, W * 3)


def loop_carried(W, h):
    tot = 0
    for t in range(3):
        loss, g = WL(W, h)
        tot = tot + np.sum(g)
        h = np.tanh(h @ W)
    return tot


@pytest.mark.parametrize("fun, args", [
    (computes_x(loss_fn), (W0, X0)), (rebinds_args(loss_fn), (W0, X0)), (star_of_display(loss_fn), (W0, X0)),
    (named_then_star(loss3), (W0, 2.0)), (caller_links, (W0,)), (loop_carried, (W0, X0))],
    ids=["computes_x", "rebinds_args", "star_of_display", "named_then_star", "caller_links", "loop_carried"])
def test_links_through_a_star_wrapper_stay_refused(fun, args):
    sct.clear_cache()
    refused_here(fun, dlarray(args[0]), *args[1:])


# --- writes into the items of a dict's values while walking them --------------------------------------

def clipped(p, x):
    loss = np.sum(np.tanh(x @ p["fc1"]["W"] + p["fc1"]["b"]) @ p["fc2"]["W"])
    grads = dlgradient(loss, p)
    for layer in grads.values():
        for k in layer:
            layer[k] = np.clip(layer[k], -1.0, 1.0)
    return loss, grads


def test_gradient_clipping_over_values_runs():
    rng = np.random.default_rng(1)
    P = {"fc1": {"W": rng.standard_normal((2, 2)), "b": rng.standard_normal(2)},
         "fc2": {"W": rng.standard_normal((2, 2))}}
    X = rng.standard_normal((3, 2))

    def f(q):
        return np.sum(np.tanh(X @ q["fc1"]["W"] + q["fc1"]["b"]) @ q["fc2"]["W"])
    sct.clear_cache()
    loss, g = dlfeval(clipped, {n: {k: dlarray(v) for k, v in P[n].items()} for n in P}, X)
    assert np.isclose(float(D(loss)), f(P))
    for n in P:
        for k in P[n]:
            def fk(v, n=n, k=k):
                q = copy.deepcopy(P)
                q[n][k] = v
                return f(q)
            np.testing.assert_allclose(D(g[n][k]), np.clip(fd(fk, P[n][k]), -1, 1), rtol=1e-6, atol=1e-8)


x3 = np.array([0.5, -1.0, 2.0])


def items_form(x):
    d = {"a": {"w": x * 1.0}, "b": {"w": x * 2.0}}
    for name, layer in d.items():
        for k in layer:
            layer[k] = np.clip(layer[k], -1, 1) if name == "a" else layer[k] * 2
    return d["a"]["w"], d["b"]["w"]


def read_after(x):
    d = {"a": {"w": x * 1.0}, "b": {"w": x * 2.0}}
    for layer in d.values():
        layer["w"] = layer["w"] * 3.0
        layer["z"] = layer["w"] + 1.0       # a new key of the dict not walked
    return layer["w"], d["a"]["z"], d["b"]["w"]


@pytest.mark.parametrize("fun", [items_form, read_after])
def test_writes_into_values_match_python(fun):
    sct.clear_cache()
    got = dlfeval(fun, dlarray(x3))
    for a, b in zip(got, fun(x3)):
        np.testing.assert_allclose(D(a), b, rtol=1e-12)


def test_gradient_through_values_written_in_the_loop():
    def f(x):
        d = {"a": {"w": x * 1.0, "v": np.sin(x)}, "b": {"w": x * 2.0}}
        for layer in d.values():
            for k in layer:
                layer[k] = np.tanh(layer[k]) * 3.0
        y = np.sum(d["a"]["w"] * d["a"]["v"]) + np.sum(d["b"]["w"] ** 2)
        return y, dlgradient(y, x)

    def plain_f(z):
        return np.sum(np.tanh(z) * 3 * np.tanh(np.sin(z)) * 3) + np.sum((np.tanh(2 * z) * 3) ** 2)
    sct.clear_cache()
    y, g = dlfeval(f, dlarray(x3))
    assert np.isclose(float(D(y)), plain_f(x3))
    np.testing.assert_allclose(D(g), fd(plain_f, x3), rtol=1e-6, atol=1e-8)


def same_dict_twice(x):
    L = {"w": x * 1.0}
    d = {"a": L, "b": L}
    for layer in d.values():
        layer["w"] = np.sin(layer["w"])
    y = np.sum(L["w"] ** 2)
    return y, dlgradient(y, x)


def new_key_while_walking(x):
    d = {"a": {"w": x * 1.0}}
    for layer in d.values():
        for k in layer:
            layer[k + "2"] = layer[k] * 2      # Python: RuntimeError, dictionary changed size
    return d


def new_key_through_a_view(x):
    d = {"a": {"w": x * 1.0, "v": x * 2.0}}
    for layer in d.values():
        ks = layer.keys()
        for k in ks:
            layer[k + "3"] = layer[k] * 2      # Python: RuntimeError, dictionary changed size
    return d


def new_key_into_an_item_walked(x):
    d = {"a": {"l": {"w": x * 1.0}}}
    for layer in d.values():
        for k in layer:
            for j in layer[k]:
                layer[k][j + "4"] = layer[k][j] * 2      # Python: RuntimeError, dictionary changed size
    return d


@pytest.mark.parametrize("fun, line", [(same_dict_twice, "layer[\"w\"] = np.sin"),
                                       (new_key_while_walking, "layer[k + \"2\"]"),
                                       (new_key_through_a_view, "layer[k + \"3\"]"),
                                       (new_key_into_an_item_walked, "layer[k][j + \"4\"]")])
def test_writes_sct_cannot_follow_stay_refused(fun, line):
    sct.clear_cache()
    with pytest.raises(CompileError) as info:
        dlfeval(fun, dlarray(x3))
    assert __file__ in str(info.value)
    with open(__file__) as f:
        lines = f.read().splitlines()
    at = next(i + 1 for i, t in enumerate(lines) if line in t)
    assert f"line {at}:" in str(info.value)


def test_star_wrapper_called_as_a_helper_says_why():
    """Called from differentiated code, the wrapper's *args items come from its caller, which sct does
    not follow through the unpacking: refused, saying so (was: "passes for 'x' a value computed from
    the one it passes for 'W'", which the caller need not do)."""
    def independent(W, x):
        return WL(W, x)
    sct.clear_cache()
    text = refused_here(independent, dlarray(W0), dlarray(X0))
    assert "unpacked with *" in text and "passes for 'x' a value computed" not in text
    sct.clear_cache()
    text = refused_here(computes_x(loss_fn), dlarray(W0), dlarray(X0))
    assert "passes for 'x' a value computed from the one it passes for 'W'" in text
