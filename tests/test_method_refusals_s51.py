"""False refusals of methods and objects found by fuzz51 (/work/fuzz51_report.md F2-F5, R1, R2): each
program runs exactly (values as Python's, gradients as central differences), and a nearby program sct
cannot model is still refused, naming the user's line."""
import numpy as np
import pytest

import sct
from sct import dlarray, dlgradient, extractdata
from tests.gradcheck import assert_close, numerical_gradient


def _line(fn, text):
    """The file line of the first source line of ``fn`` that contains ``text``."""
    import inspect
    lines, start = inspect.getsourcelines(fn)
    return start + next(i for i, l in enumerate(lines) if text in l)


# --- F2: second order through a method applying a helper-made closure to a local name ----------------

def _make(w):
    def g(x):
        return x * w
    return g


class _ClosureModel:
    def __init__(self, W, s):
        self.W = W
        self.s = s

    def loss(self, X):
        h = X @ self.W
        g = _make(self.s)
        h = g(h)
        return np.sum(h ** 2)


def _second_order(P, X):
    L = P.loss(X)
    gW = dlgradient(L, P.W)
    R = L + np.sum(gW ** 2)
    return R, dlgradient(R, P.W)


_X = np.array([[0.5, -1.0], [1.5, 0.3]])
_W0 = np.array([[0.3, -0.2], [0.1, 0.4]])


def test_closure_made_by_helper_in_method_second_order():
    s0 = 0.7

    def plain(W):
        gW = 2 * s0 ** 2 * _X.T @ (_X @ W)
        return np.sum((s0 * _X @ W) ** 2) + np.sum(gW ** 2)
    R, g = sct.dlfeval(_second_order, _ClosureModel(dlarray(_W0), dlarray(np.array(s0))), _X)
    assert_close(np.asarray(extractdata(R)), plain(_W0), rtol=1e-12, atol=1e-12)
    assert_close(np.asarray(extractdata(g)), numerical_gradient(plain, [_W0.copy()], 0))


class _Count:
    def __init__(self):
        self.n = 1.0

    def bump(self):
        self.n = self.n + 1.0


def _make_counting(w, k):
    def g(x):
        k.bump()
        return x * w * k.n
    return g


class _CountingModel(_ClosureModel):
    def __init__(self, W, s):
        super().__init__(W, s)
        self.k = _Count()

    def loss(self, X):
        h = X @ self.W
        g = _make_counting(self.s, self.k)
        h = g(h)
        return np.sum(h ** 2)


def test_closure_changing_state_in_method_second_order_still_refused():
    # the closure changes an object of the model each call: a recomputation would read it changed
    with pytest.raises(sct.SctError) as e:
        sct.dlfeval(_second_order, _CountingModel(dlarray(_W0), dlarray(np.array(0.7))), _X)
    assert f"line {_line(_make_counting, 'k.bump()')}" in str(e.value)
