"""Stop 44 (peer44): autograd's examples and tests as their authors wrote them (numpy for
autograd.numpy), run through dlfeval/dlgradient and dlaccelerate, values against plain Python and
gradients against central differences."""
from __future__ import annotations

import numpy as np
import pytest

import sct
from sct import CompileError, dlarray, dlfeval, dlgradient

from gradcheck import D, numerical_gradient
import peer_s44_mod as M


# --- 1. a method or nested def with a multi-line docstring was refused as 'the file was changed' ------
# sct reads a nested def's or method's text dedented; the dedent took the margin off the docstring's
# later lines, so the check that the text is the running code (parse._same_code) saw another constant
# and refused autograd's convnet (``predictions`` of make_nn_funs, the layers' methods) and every class
# whose method has a multi-line docstring.

def _convnet_setup():
    N, predictions, loss = M.make_nn_funs((2, 3), [M.tanh_layer(4), M.tanh_layer(3)], 0.5)
    rs = np.random.RandomState(0)
    return N, loss, rs.randn(N) * 0.3, rs.randn(5, 2, 3), np.eye(3)[[0, 1, 2, 1, 0]]


def _value_and_grad(loss, W, X, T):
    v = loss(W, X, T)
    return v, dlgradient(v, W)


@pytest.mark.parametrize("accelerated", [False, True])
def test_docstring_nested_def_and_methods(accelerated):
    N, loss, W, X, T = _convnet_setup()
    fun = sct.dlaccelerate(loss) if accelerated else loss
    v, g = dlfeval(_value_and_grad, fun, dlarray(W), X, T)
    assert float(D(v)) == loss(W, X, T)
    np.testing.assert_allclose(D(g), numerical_gradient(lambda w: loss(w, X, T), [W], 0),
                               rtol=1e-6, atol=1e-7)


def test_multiline_string_used_by_code_still_refused():
    # a multi-line string the code reads (not a docstring) would lose its margin in the text sct
    # compiles: a key that is no longer the user's.  It stays refused.
    inner = M.make_keyed()

    def f(x):
        y = inner(x)
        return y, dlgradient(y, x)
    assert inner(np.arange(3.0)) == 5.0
    with pytest.raises(CompileError, match="not the code that runs"):
        dlfeval(f, dlarray(np.arange(3.0)))
