"""Red team, Dec 1 (j): calls by name, new kernels, the printer."""
from __future__ import annotations

import numpy as np
import pytest

import sct
from sct import dlarray, dlfeval, dlgradient, extractdata
from gradcheck import assert_close, numerical_gradient

W = np.array([0.5, -0.3])
X = np.array([0.3, 0.7])


@pytest.fixture(autouse=True)
def fresh():
    sct.clear_cache()
    yield
    sct.clear_cache()


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
