"""Red team, Dec 1 (j): calls by name, new kernels, the printer."""
from __future__ import annotations

import numpy as np
import pytest

import sct
from sct import dlarray, dlfeval, dlgradient, extractdata
from gradcheck import assert_close, numerical_gradient

W = np.array([0.5, -0.3])
X = np.array([0.3, 0.7])


pytestmark = pytest.mark.usefixtures("fresh_cache")   # tests/conftest.py


class Dense:
    def __init__(self, W):
        self.W = W

    def __call__(self, x):
        return np.tanh(self.W * x)


def call_loss(layer, x):
    L = np.sum(layer(x) ** 2)
    return L, dlgradient(L, x)


def test_a_call_runs_the_class_call_not_one_stored_in_the_instance():
    """layer(x) runs type(layer).__call__ (Python's call); a __call__ put in the instance after
    the first call failed the call's guard and the site's run-time path ran the instance's."""
    layer = Dense(dlarray(W))
    plain = lambda x: np.sum(np.tanh(W * x) ** 2)        # noqa: E731
    for step in range(3):
        if step == 1:
            layer.__call__ = lambda x: x
        L, g = dlfeval(call_loss, layer, dlarray(X))
        assert_close(extractdata(L), plain(X))
        assert_close(extractdata(g), numerical_gradient(plain, [X], 0))


def conv_loss(x, w):
    y = sct.dlconv(x, w, np.zeros(4))
    L = np.sum(y * y)
    return L, dlgradient(L, w)


@pytest.mark.parametrize("fortran", [False, True])
def test_conv_of_an_input_whose_pixels_are_not_channel_runs(fortran):
    """dlconv's im2col copied kw*C entries per window row as one strided run assuming C-contiguous
    pixels: an SSCB dlarray viewing a (B, W, H, C) array (its BSSC layout a transposed view) read
    the wrong entries (and memory past them)."""
    rng = np.random.default_rng(3)
    base = rng.standard_normal((2, 5, 6, 9))                   # B W H C
    X = base.transpose(2, 1, 3, 0)                             # H W C B: a view
    if fortran:
        X = np.asfortranarray(X)
    Wt = rng.standard_normal((3, 3, 9, 4))
    ref = np.ascontiguousarray(X.transpose(3, 0, 1, 2))

    def plain(w):
        y = np.zeros((2, 4, 3, 4))
        for i in range(3):
            for j in range(3):
                y += ref[:, i:i + 4, j:j + 3, :] @ w[i, j]
        return np.sum(y * y)
    L, g = dlfeval(conv_loss, dlarray(X, "SSCB"), dlarray(Wt))
    assert_close(extractdata(L), plain(Wt))
    assert_close(extractdata(g), numerical_gradient(plain, [Wt], 0), rtol=1e-5)


def empty_conv_loss(x, w):
    y = sct.dlconv(x, w, 0.0, DilationFactor=2, Stride=2)
    L = np.sum(y * y)
    return L, dlgradient(L, w), dlgradient(L, x)


@pytest.mark.parametrize("channels", [3, 9])
def test_conv_adjoints_where_no_window_fits(channels):
    """A dilated filter taller than the input: no output rows, zero adjoints (the scatters' slice
    stops, r0 + stride * (ho - 1) + 1, wrapped around at ho == 0 and raised)."""
    rng = np.random.default_rng(3)
    x = rng.standard_normal((3, 6, channels, 2))
    w = rng.standard_normal((3, 3, channels, 4))
    L, gw, gx = dlfeval(empty_conv_loss, dlarray(x, "SSCB"), dlarray(w))
    assert float(extractdata(L)) == 0.0
    assert np.array_equal(extractdata(gw), np.zeros_like(w))
    assert np.array_equal(extractdata(gx), np.zeros_like(x))


# --- a global rebound during the call by code sct did not compile ---------------------------------------------
M = np.array([[0.5, -0.3, 0.2], [0.1, 0.4, -0.6], [0.7, 0.2, 0.3]])
V = np.array([0.3, -0.2, 0.5])


def _tanh_layer(W, x):
    return np.tanh(W @ x)


lay = _tanh_layer


def _to_cos():
    global lay
    lay = _cos_layer


def _cos_layer(W, x):
    return np.cos(W @ x)


def rebinding_hook_loss(W, x, hooks):
    a = lay(W, x)
    hooks["pre"]()                  # a function from a dict: sct cannot see what it rebinds
    b = lay(W, x)
    L = np.sum(a ** 2) + np.sum(b ** 3)
    return L, dlgradient(L, W)


def test_a_global_rebound_during_the_call_by_a_hook_is_refused_not_stale(monkeypatch):
    """Generated code reads a global once per call: ``lay`` rebound by a hook called through a dict
    between two calls gave the first function's value and gradient for both (Python runs the new
    one second).  Now an EvaluationError naming the function; without the hook it runs."""
    import sys
    this = sys.modules[__name__]
    for _ in range(2):
        monkeypatch.setattr(this, "lay", _tanh_layer)
        with pytest.raises(sct.EvaluationError) as info:
            dlfeval(rebinding_hook_loss, dlarray(M), dlarray(V), {"pre": _to_cos})
        assert info.value.filename == __file__ and "rebinds a global" in str(info.value)
    monkeypatch.setattr(this, "lay", _cos_layer)
    L, g = dlfeval(rebinding_hook_loss, dlarray(M), dlarray(V), {"pre": lambda: None})
    plain = lambda W: np.sum(np.cos(W @ V) ** 2) + np.sum(np.cos(W @ V) ** 3)     # noqa: E731
    assert_close(extractdata(L), plain(M))
    assert_close(extractdata(g), numerical_gradient(plain, [M], 0))


class Counter:
    n = 0


def counting_loss(x):
    L = np.sum(x * (Counter.n + 1))
    Counter.n = Counter.n + 1          # the function's own write, after its read: Python's values
    return L, dlgradient(L, x)


def test_an_attribute_the_function_assigns_itself_is_not_refused(monkeypatch):
    monkeypatch.setattr(Counter, "n", 0)
    for k in range(1, 4):
        L, g = dlfeval(counting_loss, dlarray(np.ones(2)))
        assert float(extractdata(L)) == 2.0 * k and Counter.n == k
        assert_close(extractdata(g), np.full(2, float(k)))
