"""Red team gen44: training loops whose step helpers take dlgradient inside them (scripts/fuzz9.py).

Each finding's program runs through sct and through plain Python with scripts/fuzz9.py's reference
reverse-mode AD (MATLAB's trace semantics); outer gradients against central differences of that
reference in float64.
"""
import os
import sys
import time

import numpy as np
import pytest

import sct
from sct import dlarray, dlfeval

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "scripts"))
import fuzz9  # noqa: E402
from fuzz9 import Var  # noqa: E402


def _load(tmp_path, src, name):
    path = str(tmp_path / f"{name}.py")
    with open(path, "w") as fh:
        fh.write(src)
    return fuzz9.load_src(src, path, False), fuzz9.load_src(src, path, True), path


def _data(seed=0):
    rng = np.random.default_rng(seed)
    return rng.standard_normal((3, 4)) * 0.6, rng.standard_normal(3) * 0.5, rng.standard_normal(4)


def _fd(fun, a, step=1e-6):
    g = np.zeros(a.size)
    for k in range(a.size):
        up, dn = a.copy(), a.copy()
        up.reshape(-1)[k] += step
        dn.reshape(-1)[k] -= step
        g[k] = (fun(up) - fun(dn)) / (2 * step)
    return g.reshape(a.shape)


HEADER = "import numpy as np\nfrom sct import dlarray\nfrom sct import dlgradient, dlupdate\n"

# finding 1: a plain array in a dict passed to dlfeval is a constant (zero gradient, README), also
# where the helper taking dlgradient is called in a loop (compiled on its own: it took every float
# array of its argument as traced, so z got a gradient and the training loop moved it)
PLAIN_LEAF = HEADER + '''
def loss(p, x):
    h = np.tanh(p["W"] @ p["z"] + p["b"])
    return np.sum(h ** 2) + np.sum(x * p["z"] ** 2)

def step(p, x):
    g = dlgradient(loss(p, x), p)
    return {k: p[k] - 0.2 * g[k] for k in p}, g

def f(p, x):
    for _ in range(3):
        p, g = step(p, x)
    return loss(p, x), p["z"], g["z"]

def f_inline(p, x):
    p, g = step(p, x)
    return loss(p, x), p["z"], g["z"]

def f_same(p, x):
    for _ in range(2):
        q, g = step(p, x)
    return loss(q, x), q["z"], g["z"]
'''


# (refused since stop 45, sct/plain_leaves.py: a helper compiled on its own, given such a structure, cannot
# tell the constant from a traced array; was the gradient of a variable, and the loop moved z)
@pytest.mark.parametrize("fname", ["f", "f_inline", "f_same"])
def test_plain_leaf_of_dlfeval_dict_in_step_loop(tmp_path, fname):
    mod, ref, path = _load(tmp_path, PLAIN_LEAF, "plain_leaf_" + fname)
    W, b, z = _data(1)
    x = np.linspace(-0.5, 0.5, 4)
    with pytest.raises(sct.SctError) as info:
        dlfeval(getattr(mod, fname), {"W": dlarray(W), "b": dlarray(b), "z": z.copy()}, dlarray(x))
    text = str(info.value)
    assert path in text and "line 10" in text and "dlgradient in step()" in text
    assert f"{fname}()'s argument 'p' holds a plain (not dlarray) float value at p['z']" in text


# finding 1b: the same through a dict made in the function from a plain argument, the helper in a loop
PLAIN_ARG = HEADER + '''
def loss(p, x):
    return np.sum(np.tanh(p["W"] @ p["z"] + p["b"]) ** 2)

def step(p, x):
    g = dlgradient(loss(p, x), p)
    return {k: p[k] - 0.3 * g[k] for k in p}

def f(p0, x):
    p = dict(p0)
    p["z"] = x
    for _ in range(2):
        p = step(p, x)
    return loss(p, x), p["z"]
'''


def test_plain_argument_item_in_step_loop(tmp_path):
    mod, ref, path = _load(tmp_path, PLAIN_ARG, "plain_arg")
    W, b, x = _data(2)
    with pytest.raises(sct.SctError) as info:
        dlfeval(mod.f, {"W": dlarray(W), "b": dlarray(b)}, x.copy())
    text = str(info.value)
    assert path in text and "dlgradient in step()" in text
    assert "f() puts the plain (not dlarray) float value 'x' beside traced values" in text


# finding 2: dlgradient with respect to a dict made in the function whose item was written from a
# plain array (not traced) gave that item a gradient (a constant's); {"z": x} is refused, and a dict
# passed to dlfeval gets zeros: refused here at the user's line
@pytest.mark.parametrize("value", ["x", "np.ones(4)"])
def test_filled_plain_item_refused(tmp_path, value):
    src = HEADER + f'''
def f(p0, x):
    p = dict(p0)
    p["z"] = {value}
    y = np.sum(p["W"] @ p["z"] + p["b"])
    return dlgradient(y, p)
'''
    mod, _, path = _load(tmp_path, src, "filled_" + str(len(value)))
    W, b, x = _data(3)
    with pytest.raises(sct.SctError) as info:
        dlfeval(mod.f, {"W": dlarray(W), "b": dlarray(b)}, x)
    assert os.path.basename(path) in str(info.value) and "line 9" in str(info.value)
    assert "plain array" in str(info.value) or "plain (not dlarray) float value" in str(info.value)


def test_filled_traced_item_still_runs(tmp_path):
    src = HEADER + '''
def f(p0, x):
    p = dict(p0)
    p["z"] = x * 2.0
    y = np.sum(np.tanh(p["W"] @ p["z"] + p["b"]))
    return y, dlgradient(y, p)
'''
    mod, _, _ = _load(tmp_path, src, "filled_traced")
    W, b, x = _data(4)
    y, g = dlfeval(mod.f, {"W": dlarray(W), "b": dlarray(b)}, dlarray(x))
    fy = lambda W_: float(np.sum(np.tanh(W_ @ (2 * x) + b)))  # noqa: E731
    np.testing.assert_allclose(np.asarray(g["W"]), _fd(fy, W), rtol=1e-6, atol=1e-8)
    fz = lambda z: float(np.sum(np.tanh(W @ z + b)))  # noqa: E731
    np.testing.assert_allclose(np.asarray(g["z"]), _fd(fz, 2 * x), rtol=1e-6, atol=1e-8)


# finding 3 (false refusal): ``for k in g: q[k] = q[k] - lr * g[k]`` over the gradient dict was refused
# as "a value stored in a dict under a key computed from a traced value" (g's keys are p's)
KEYS = HEADER + '''
STYLE = 'dict'
XDL = True
OUTER = True
HASZ = False

def loss(p, x, y):
    h = np.tanh(p["W"] @ x + p["b"])
    return np.sum((h - y) ** 2)

def step(p, x, y, lr):
    g = dlgradient(loss(p, x, y), p)
    q = dict(p)
    for k in g:
        q[k] = q[k] - lr * g[k]
    return q

def f_g(p0, x, y):
    p = p0
    for _ in range(3):
        p = step(p, x, y, 0.2)
    L = loss(p, x, y)
    gr = dlgradient(L, p0, x)
    return L, [p["W"], p["b"]], gr
'''


def test_loop_over_gradient_keys(tmp_path):
    r = fuzz9.check_src(KEYS, 5)
    assert r.status == "OK", (r.status, r.kind, r.msg)


def test_loop_over_gradient_keys_top_level(tmp_path):
    src = HEADER + '''
def loss(p, x):
    return np.sum(np.tanh(p["W"] @ x + p["b"]) ** 2)

def f(p, x):
    g = dlgradient(loss(p, x), p)
    q = dict(p)
    for k in g:
        q[k] = q[k] - 0.1 * g[k]
    return loss(q, x)
'''
    mod, ref, _ = _load(tmp_path, src, "keys_top")
    W, b, x = _data(6)
    want = ref.f({"W": Var(W), "b": Var(b)}, x.copy())
    got = dlfeval(mod.f, {"W": dlarray(W), "b": dlarray(b)}, x.copy())
    np.testing.assert_allclose(float(np.asarray(got)), float(want.data), rtol=1e-12)


def test_reference_ad_against_differences():
    """The oracle itself: R_dlgradient of a small program against central differences."""
    W, b, x = _data(7)

    def L(Wv):
        h = np.tanh(Wv @ x + b)
        return np.sum(np.where(h > 0, h, 0.3 * h) ** 2) + np.mean(np.log1p((Wv[:, 1:] * 2.0) ** 2))
    Wv = Var(W)
    g = fuzz9.R_dlgradient(L(Wv), Wv)
    np.testing.assert_allclose(g.data, _fd(lambda a: float(L(a)), W), rtol=1e-6, atol=1e-8)


def test_fuzz9_fixed_seeds():
    """A short fixed-seed run of the generator: no wrong value or gradient, no internal error."""
    t0 = time.time()
    counts, reasons, bad = fuzz9.run(16, 28)
    assert not bad, [(s, r.status, r.kind, r.msg[:300]) for s, r in bad]
    assert counts["OK"] >= 5, dict(counts)
    assert time.time() - t0 < 60
