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


# --- finding 2: editing the gradients of part of the parameters per key was refused ------------------
# `g = dlgradient(loss, params["dec"])` then `for k in g: g[k] = g[k] + wd * params["dec"][k]` (weight
# decay on the layers being trained, the README's idiom) was refused as "writing into g[...] while a
# for loop walks g": the compiler knew the gradients of a whole dict argument are a dict, not those of
# an item of one, so it took the loop's sequence for g itself.  The same edit of `dlgradient(loss,
# params)` ran.

def _mlp(p, x):
    h = np.tanh(x @ p["enc"]["w"].T + p["enc"]["b"])
    return h @ p["dec"]["w"].T + p["dec"]["b"]


def _decay_item(p, x, t, wd):
    loss = np.mean((_mlp(p, x) - t) ** 2)
    g = dlgradient(loss, p["dec"])
    for k in g:
        g[k] = g[k] + wd * p["dec"][k]
    return loss, g


def _decay_name(p, x, t, wd):
    dec = p["dec"]
    loss = np.mean((_mlp(p, x) - t) ** 2)
    g = dlgradient(loss, dec)
    for k in g:
        g[k] = np.clip(g[k], -0.1, 0.1) + wd * dec[k]
    return loss, g


def _decay_nested(p, x, t, wd):
    loss = np.mean((x @ p["layers"][1]["w"].T - t) ** 2)
    g = dlgradient(loss, p["layers"][1])
    for k in g:
        g[k] = g[k] * 2 + wd
    return loss, g


@pytest.mark.parametrize("fun", [_decay_item, _decay_name])
def test_gradients_of_an_item_edited_per_key_in_a_training_loop(fun):
    x = RNG.standard_normal((6, 3))
    t = RNG.standard_normal((6, 2))
    P = {"enc": {"w": RNG.standard_normal((4, 3)), "b": RNG.standard_normal(4)},
         "dec": {"w": RNG.standard_normal((2, 4)), "b": RNG.standard_normal(2)}}
    p = {l: {k: dlarray(v.copy()) for k, v in d.items()} for l, d in P.items()}
    q = {l: dict(d) for l, d in P.items()}
    clip = fun is _decay_name
    for it in range(4):
        wd = 0.01 * (it + 1)
        loss, g = dlfeval(fun, p, x, t, wd)
        assert list(g) == ["w", "b"]
        assert_close(loss.data, np.mean((_mlp(q, x) - t) ** 2), what="loss")
        expected = {}
        for k in ("w", "b"):
            def plain(v, k=k):
                return np.mean((_mlp({"enc": q["enc"], "dec": dict(q["dec"], **{k: v})}, x) - t) ** 2)
            e = numerical_gradient(plain, [q["dec"][k]], 0)
            expected[k] = (np.clip(e, -0.1, 0.1) if clip else e) + wd * q["dec"][k]
            assert_close(g[k].data, expected[k], what=f"gradient {k}, step {it}")
        for k in ("w", "b"):
            p["dec"][k] = p["dec"][k] - 0.5 * g[k]
            q["dec"][k] = q["dec"][k] - 0.5 * expected[k]


def test_gradients_of_a_nested_item_edited_per_key():
    x = RNG.standard_normal((5, 3))
    t = RNG.standard_normal((5, 2))
    w = RNG.standard_normal((2, 3))
    p = {"layers": [{"w": dlarray(RNG.standard_normal((2, 3)))}, {"w": dlarray(w.copy())}]}
    loss, g = dlfeval(_decay_nested, p, x, t, 0.25)
    expected = numerical_gradient(lambda v: np.mean((x @ v.T - t) ** 2), [w], 0)
    assert_close(g["w"].data, expected * 2 + 0.25)


# --- finding 3: a dict whose size the loop walking it changes ran on -------------------------------
# Python's dict iterator raises RuntimeError("dictionary changed size during iteration") at the next
# item (or the loop's end) once the body adds or removes a key; sct walks a list of the keys taken
# before the body runs, so `for k in g: g[k + "_sq"] = g[k] ** 2` (a gradient dict) and `d.pop(k)`,
# `d.setdefault(...)`, `d.update(...)` returned numbers where the same function raises in Python.

_RESIZING_BODIES = {
    "new key": 'd[k + "_sq"] = d[k] ** 2',
    "new constant key": 'd["c"] = x * 3',
    "pop": "d.pop(k)",
    "setdefault": 'd.setdefault("z", x)',
    "update": 'd.update({"z": x})',
}


def _dict_loop(ns, cell, loop, body, rest=""):
    cell(f"""
    def f(x):
        d = {{"a": x, "b": x * 2}}
        {loop}
            {body}
            {rest}
        y = sum(np.sum(v) for v in d.values())
        return y, dlgradient(y, x)

    def plain(x):
        d = {{"a": x, "b": x * 2}}
        {loop}
            {body}
            {rest}
        return sum(np.sum(v) for v in d.values())
    """)
    return ns["f"], ns["plain"]


@pytest.mark.parametrize("body", sorted(_RESIZING_BODIES))
@pytest.mark.parametrize("loop", ["for k in d:", "for i, k in enumerate(d):"])
def test_a_dict_resized_while_a_loop_walks_it_raises_as_in_python(loop, body):
    ns, cell = notebook("__nb_s42_resize__")
    f, plain = _dict_loop(ns, cell, loop, _RESIZING_BODIES[body])
    x = np.array([0.3, -1.2, 2.0])
    with pytest.raises(RuntimeError, match="changed size during iteration"):
        plain(x)
    with pytest.raises(RuntimeError, match="changed size during iteration"):
        dlfeval(f, dlarray(x))


@pytest.mark.parametrize("body, rest", [
    ('d["a"] = d["a"] * d[k]', ""),                                      # an existing key: no change of size
    ('if k == "b":', '    d["new"] = x * 5\n            break'),           # left right after the change
    ("d[k] = np.sin(d[k])", ""),                                         # the loop's own key
])
def test_a_loop_that_keeps_the_dict_size_runs(body, rest):
    ns, cell = notebook("__nb_s42_resize_ok__")
    f, plain = _dict_loop(ns, cell, "for k in d:", body, rest)
    x = np.array([0.3, -1.2, 2.0])
    y, g = dlfeval(f, dlarray(x))
    assert_close(y.data, plain(x))
    assert_close(g.data, numerical_gradient(plain, [x], 0))


def test_a_dict_resized_through_a_second_name_while_walked_raises_as_in_python():
    def f(p):
        y = np.sum(p["a"] ** 2) + np.sum(np.sin(p["b"]))
        g = dlgradient(y, p)
        h = g
        for k in g:
            h[k + "_2"] = g[k] * 2
        return y, g
    x = np.array([0.3, -1.2, 2.0])
    with pytest.raises(RuntimeError, match="changed size during iteration"):
        dlfeval(f, {"a": dlarray(x), "b": dlarray(x)})


# --- finding 4: `for k in d.keys(): d[k] = ...` was refused where `for k in d:` ran ------------------
# d.keys() of a dict the function made was taken for a view holding d's values, so the loop's
# sequence was taken to hold d, and the write d[k] for a refusal (the gradients of dlgradient had
# their own rule; a dict built in the function had none).

def test_values_rewritten_per_key_over_keys_view():
    def f(x):
        d = {"a": x, "b": np.sin(x)}
        for k in d.keys():
            d[k] = d[k] * 3
        y = np.sum(d["a"] * d["b"])
        return y, dlgradient(y, x)

    def plain(x):
        return np.sum(9 * x * np.sin(x))
    x = np.array([0.3, -1.2, 2.0])
    y, g = dlfeval(f, dlarray(x))
    assert_close(y.data, plain(x))
    assert_close(g.data, numerical_gradient(plain, [x], 0))
