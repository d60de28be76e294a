"""Red team fuzz5 (dec 27): model-shaped random programs (scripts/fuzz5.py), and one test per finding.

The generator draws models: params as flat or nested dicts, lists of arrays, of dicts or of (w, b)
tuples; module-level helpers with keyword arguments and defaults called in loops and comprehensions;
layers by @ / np.dot / np.matmul / fullyconnect with broadcasting biases, shape ops, in-place writes into
copies, hand-written softmax/logsumexp losses.  Each program is checked against plain Python (values)
and central differences (gradients), again with new values, in float32, through dlaccelerate, with
frozen leaves, an update inside the function, the data's gradient, and (every third) a Hessian-vector
product.
"""
import importlib.util
import os
import sys

import numpy as np
import pytest

import sct
from sct import dlgradient

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from gradcheck import numerical_gradient  # noqa: E402
from ci_mode import ON_CI

_SCRIPT = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "scripts", "fuzz5.py")


def _fuzz5():
    spec = importlib.util.spec_from_file_location("fuzz5_script", _SCRIPT)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_generator_short_run(tmp_path):
    """30 programs (6 under CI=true, for its time), fixed seeds: none wrong, none crashing (refusals
    allowed)."""
    fuzz5 = _fuzz5()
    sys.path.insert(0, str(tmp_path))
    bad = []
    statuses = []
    count = 6 if ON_CI else 30
    try:
        for seed in range(count):
            status, kind, msg, _ = fuzz5.run_one(seed, str(tmp_path))
            statuses.append(status)
            if status in ("WRONG", "CRASH"):
                bad.append((seed, status, kind, msg.splitlines()[0] if msg else ""))
    finally:
        sys.path.remove(str(tmp_path))
    assert not bad, bad
    assert statuses.count("OK") >= 2 * count // 3, statuses     # the programs run (not all refused or skipped)


# --- finding 1: a keyword-only parameter was resolved as a module global of the same name ---------
# ``def layer(h, *, w, act=np.tanh)`` called ``layer(x, w=W)`` with W a constant (no traced keyword:
# the call is compiled when it runs, for its positional arguments' kinds): the compiler's local names
# were the positional parameters only, so ``act`` inside was the module's global ``act`` (np.sin): the
# value came from Python's run (tanh) and the gradient from sin's rule; with no such global, the call
# was refused as "act is not defined".

act = np.sin        # a global named like the helper's keyword-only parameter
scale = 3.0


def _layer_kw(h, *, w, act=np.tanh):
    return act(h @ w)


def _layer_kw_scaled(h, *, w, scale=1.0, act=np.tanh):
    return act(h @ w) * scale


def _loss_kw_default(W, x):
    h = _layer_kw(x, w=W)
    loss = np.sum(h ** 2)
    return loss, dlgradient(loss, x)


def _loss_kw_given(W, x):
    h = _layer_kw_scaled(x, w=W, act=np.cos, scale=0.5)
    loss = np.sum(h ** 2)
    return loss, dlgradient(loss, x)


def _loss_kw_hvp(W, x, v):
    h = _layer_kw(x, w=W)
    loss = np.sum(h ** 2)
    g = dlgradient(loss, x)
    return dlgradient(np.sum(g * v), x)


def _data():
    rng = np.random.default_rng(0)
    return rng.standard_normal((4, 3)), rng.standard_normal((5, 4))


@pytest.mark.parametrize("fun", [_loss_kw_default, _loss_kw_given])
def test_keyword_only_parameter_is_not_the_global(fun):
    W, x = _data()
    y, g = sct.dlfeval(fun, W, sct.dlarray(x))          # W constant: no traced keyword
    plain = float(np.sum((_layer_kw(x, w=W) if fun is _loss_kw_default
                          else _layer_kw_scaled(x, w=W, act=np.cos, scale=0.5)) ** 2))
    assert float(y) == plain
    f = (lambda xx: float(np.sum(_layer_kw(xx, w=W) ** 2))) if fun is _loss_kw_default else \
        (lambda xx: float(np.sum(_layer_kw_scaled(xx, w=W, act=np.cos, scale=0.5) ** 2)))
    np.testing.assert_allclose(np.asarray(g), numerical_gradient(f, [x], 0), rtol=1e-6, atol=1e-8)


def test_keyword_only_parameter_second_derivative():
    W, x = _data()
    v = np.random.default_rng(1).standard_normal(x.shape)
    hv = sct.dlfeval(_loss_kw_hvp, W, sct.dlarray(x), v)

    def grad(xx):
        _, g = sct.dlfeval(_loss_kw_default, W, sct.dlarray(xx))
        return np.asarray(g)
    eps = 1e-6
    fd = (grad(x + eps * v) - grad(x - eps * v)) / (2 * eps)
    np.testing.assert_allclose(np.asarray(hv), fd, rtol=1e-5, atol=1e-7)


# --- finding 2: a local def or lambda named like a same-file helper that takes gradients -----------
# sct/inline_helpers.py reads a same-file helper taking a dlgradient in place wherever it is called by
# name; the caller's own names it skipped were its assigned names only, so ``g = lambda z: ...`` (made a
# def by the normalizer) or ``def g(z): ...`` inside the function was taken for the module's helper
# ``g``: its body was read in place of the local function's call (values and gradients wrong).

def g(z, act=None):
    y = np.sum(z ** 3)
    return dlgradient(y, z)


def _local_lambda_named_g(W, x):
    g = lambda z: np.tanh(z)        # noqa: E731  (hides the module's g)
    y = np.sum(g(x @ W) ** 2)
    return y, dlgradient(y, x)


def _local_def_named_g(W, x):
    def g(z):
        return np.tanh(z)
    y = np.sum(g(x @ W) ** 2)
    return y, dlgradient(y, x)


def _helper_with_local_g(W, x):
    g = lambda z, act=np.tanh: act(z)       # noqa: E731
    return np.sum(g(x @ W) ** 2)


def _calls_helper_with_local_g(W, x):
    y = _helper_with_local_g(W, x)
    return y, dlgradient(y, x)


@pytest.mark.parametrize("fun", [_local_lambda_named_g, _local_def_named_g, _calls_helper_with_local_g])
def test_local_function_hides_same_file_gradient_helper(fun):
    W, x = _data()
    W = W[:, :3] @ np.ones((3, 4)) * 0.3
    y, gx = sct.dlfeval(fun, sct.dlarray(W), sct.dlarray(x))

    def plain(xx):
        return float(np.sum(np.tanh(xx @ W) ** 2))
    assert float(y) == plain(x)
    np.testing.assert_allclose(np.asarray(gx), numerical_gradient(plain, [x], 0), rtol=1e-6, atol=1e-8)


# --- finding 3 (a false refusal): ``Ws, bs = zip(*layers)`` -------------------------------------
# The columns of a list of (w, b) pairs, consumed at once (unpacked, or list(...)/tuple(...)), were
# refused ("no derivative rule for zip"); they are now the comprehension of their tuples.

def _unzip_layers(layers, x):
    Ws, bs = zip(*layers)
    h = x
    for W, b in zip(Ws, bs):
        h = np.tanh(h @ W + b)
    cols = list(zip(*[(W[0], b) for W, b in layers[::-1]]))
    y = np.sum(h ** 2) + np.sum(cols[0][0] * cols[1][1]) + len(tuple(zip(*layers[:0])))
    return y


def _unzip_layers_grad(layers, x):
    y = _unzip_layers(layers, x)
    return y, dlgradient(y, layers)


def test_unzip_of_layer_pairs():
    rng = np.random.default_rng(3)
    layers = [(rng.standard_normal((4, 4)) * 0.5, rng.standard_normal(4)) for _ in range(3)]
    x = rng.standard_normal((5, 4))
    y, g = sct.dlfeval(_unzip_layers_grad, [(sct.dlarray(W), sct.dlarray(b)) for W, b in layers], x)
    assert float(y) == float(_unzip_layers(layers, x))
    assert type(g) is list and all(type(t) is tuple for t in g)
    for i in range(3):
        for j in range(2):
            def f(v, i=i, j=j):
                ls = [list(t) for t in layers]
                ls[i][j] = v
                return float(_unzip_layers([tuple(t) for t in ls], x))
            np.testing.assert_allclose(np.asarray(g[i][j]), numerical_gradient(f, [layers[i][j]], 0),
                                       rtol=1e-6, atol=1e-8)
