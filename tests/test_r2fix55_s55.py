"""Second-round red team on the 55 fixes (red2_55).

W1: sct's own function replaced after compiling (``sct.relu = my_relu``): a cache hit ran the
replacement and differentiated relu (y of the replacement, g = relu's rule).  sct's functions the code
reads are now checked on a hit with numpy's (sct.compiler._unguarded), so the code compiles again and
the replacement is differentiated like any user function."""
import numpy as np
import pytest

import sct
from sct import dlarray, dlfeval, dlgradient, extractdata, accelerate
from gradcheck import numerical_gradient, assert_close


X = np.array([0.3, -0.6, 0.9])
RELU = sct.relu


def _loss_attr(x):
    y = np.sum(sct.relu(x))
    return y, dlgradient(y, x)


def _loss_import_inside(x):
    from sct import sigmoid
    y = np.sum(sigmoid(x))
    return y, dlgradient(y, x)


def _loss_helper_in_loop(p, x):
    h = x
    for _ in range(2):
        h = sct.relu(p["w"] * h)
    y = np.sum(h)
    return y, dlgradient(y, p["w"])


@pytest.fixture
def restore_sct():
    held = {n: getattr(sct, n) for n in ("relu", "sigmoid")}
    yield
    for n, v in held.items():
        setattr(sct, n, v)


def _replacement(v):
    return v * 3.0 + v * v


def _plain(v):
    return np.sum(v * 3.0 + v * v)


@pytest.mark.parametrize("wrap", [lambda f: f, accelerate])
def test_sct_relu_replaced_after_compiling(restore_sct, wrap):
    f = wrap(_loss_attr)
    dlfeval(f, dlarray(X))                 # compiled with relu
    sct.relu = _replacement
    y, g = dlfeval(f, dlarray(X))
    assert_close(extractdata(y), _plain(X))
    assert_close(extractdata(g), numerical_gradient(_plain, [X], 0))
    sct.relu = RELU
    y, g = dlfeval(f, dlarray(X))          # restored: relu's value and gradient again
    assert_close(extractdata(y), np.sum(np.maximum(X, 0)))
    assert_close(extractdata(g), (X > 0).astype(float))


def test_sct_function_imported_inside_replaced(restore_sct):
    dlfeval(_loss_import_inside, dlarray(X))
    sct.sigmoid = _replacement
    y, g = dlfeval(_loss_import_inside, dlarray(X))
    assert_close(extractdata(y), _plain(X))
    assert_close(extractdata(g), numerical_gradient(_plain, [X], 0))


def test_sct_relu_replaced_in_loop_over_dict_params(restore_sct):
    p = {"w": dlarray(np.array([0.5, 1.5, -2.0]))}
    dlfeval(_loss_helper_in_loop, p, dlarray(X))
    sct.relu = _replacement

    def plain(w):
        h = X
        for _ in range(2):
            h = _replacement(w * h)
        return np.sum(h)
    y, g = dlfeval(_loss_helper_in_loop, p, dlarray(X))
    w = extractdata(p["w"])
    assert_close(extractdata(y), plain(w))
    assert_close(extractdata(g), numerical_gradient(plain, [w], 0))
