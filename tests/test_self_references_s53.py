"""An object or container stored into its own field or item (``c.me = c``, ``c.kids = [c]``,
``q["me"] = q``) before a traced write into it, the write read back through that reference: refused at
the write (was: a gradient of zeros, or the old value read: red2st53 F2, F3); the cycle made by the
caller names the self-reference; everyday back-references and layer lists keep working."""
import numpy as np
import pytest

import sct
from sct import dlarray, dlfeval, dlgradient, extractdata, CompileError

W0 = np.array([[0.5, -1.0], [0.3, 0.8]])
X = np.array([[1.0, 2.0]])
T = np.tanh(X @ W0)
EXACT = X.T @ (2 * T * (1 - T ** 2))       # d/dW sum(tanh(x @ W) ** 2)


class Cell:
    def __init__(self, W):
        self.W = W


class Net:
    def __init__(self, W):
        self.W = W

    def step(self, x):
        self.h = np.tanh(x @ self.W)

    def register(self):
        self.root = self


def f_me(c, x):
    c.me = c
    c.h = np.tanh(x @ c.W)
    s = np.sum(c.me.h ** 2)
    return s, dlgradient(s, c.W)


def f_kids(c, x):
    c.kids = [c]
    c.h = np.tanh(x @ c.W)
    s = np.sum(c.kids[0].h ** 2)
    return s, dlgradient(s, c.W)


def f_dict_field(c, x):
    c.d = {"self": c}
    c.h = np.tanh(x @ c.W)
    s = np.sum(c.d["self"].h ** 2)
    return s, dlgradient(s, c.W)


def f_methods(c, x):
    c.register()
    c.step(x)
    s = np.sum(c.root.h ** 2)
    return s, dlgradient(s, c.W)


def f_local(W, x):
    c = Cell(W)
    c.me = c
    c.h = np.tanh(x @ W)
    s = np.sum(c.me.h ** 2)
    return s, dlgradient(s, W)


def f_qdict(W, x):
    q = {"W": W, "h": 0.0}
    q["me"] = q
    q["h"] = np.tanh(x @ W)
    s = np.sum(q["me"]["h"] ** 2) + np.sum(W)
    return s, dlgradient(s, W)


def f_qlist(W, x):
    q = [W, 0.0, None]
    q[2] = q
    q[1] = np.tanh(x @ W)
    s = np.sum(q[2][1] ** 2) + np.sum(W)
    return s, dlgradient(s, W)


def _line(f, text):
    import inspect
    lines, first = inspect.getsourcelines(f)
    return first + next(i for i, l in enumerate(lines) if text in l)


@pytest.mark.parametrize("f, make, line", [
    (f_me, lambda: Cell(dlarray(W0)), "c.h = np.tanh"),
    (f_kids, lambda: Cell(dlarray(W0)), "c.h = np.tanh"),
    (f_dict_field, lambda: Cell(dlarray(W0)), "c.h = np.tanh"),
    (f_local, lambda: dlarray(W0), "c.h = np.tanh"),
    (f_qdict, lambda: dlarray(W0), 'q["h"] = np.tanh'),
    (f_qlist, lambda: dlarray(W0), "q[1] = np.tanh"),
])
def test_write_into_self_holding_object_refused(f, make, line):
    sct.clear_cache()
    with pytest.raises(CompileError) as e:
        dlfeval(f, make(), X)
    msg = str(e.value)
    assert "holds itself" in msg and __file__ in msg and f"line {_line(f, line)}" in msg


def test_write_by_method_into_self_holding_object_refused():
    sct.clear_cache()
    with pytest.raises(CompileError) as e:
        dlfeval(f_methods, Net(dlarray(W0)), X)
    assert "holds itself" in str(e.value) and __file__ in str(e.value)


def f_me_after(c, x):
    c.h = np.tanh(x @ c.W)
    c.me = c                       # stored after the write: fine
    s = np.sum(c.me.h ** 2)
    return s, dlgradient(s, c.W)


class Layer:
    def __init__(self, W):
        self.W = W

    def forward(self, x):
        return np.tanh(x @ self.W)


class Model:
    def __init__(self, W1, W2):
        self.layers = [Layer(W1), Layer(W2)]
        for layer in self.layers:
            layer.parent = self        # back-references made by the caller, never written here


def f_layers(m, x):
    for layer in m.layers:
        x = layer.forward(x)
    s = np.sum(x ** 2)
    return s, dlgradient(s, m.layers[0].W)


def f_step(c, x):
    c.step(x)                      # a traced field set by a method, read back directly
    s = np.sum(c.h ** 2)
    return s, dlgradient(s, c.W)


def f_parent_link(c, x):
    n = Cell(None)
    n.parent = c                   # a link to an object never written after
    h = np.tanh(x @ n.parent.W)
    s = np.sum(h ** 2)
    return s, dlgradient(s, c.W)


def test_everyday_back_references_still_exact():
    sct.clear_cache()
    s, g = dlfeval(f_me_after, Cell(dlarray(W0)), X)
    assert np.isclose(float(extractdata(s)), np.sum(T ** 2))
    assert np.allclose(extractdata(g), EXACT)
    s, g = dlfeval(f_parent_link, Cell(dlarray(W0)), X)
    assert np.allclose(extractdata(g), EXACT)
    s, g = dlfeval(f_step, Net(dlarray(W0)), X)
    assert np.allclose(extractdata(g), EXACT)
    W2 = np.array([[0.2, 0.1], [-0.4, 0.6]])
    s, g = dlfeval(f_layers, Model(dlarray(W0), dlarray(W2)), X)
    eps, num = 1e-6, np.zeros_like(W0)
    for i in np.ndindex(W0.shape):
        Wp, Wm = W0.copy(), W0.copy()
        Wp[i] += eps
        Wm[i] -= eps
        num[i] = (np.sum(np.tanh(np.tanh(X @ Wp) @ W2) ** 2) - np.sum(np.tanh(np.tanh(X @ Wm) @ W2) ** 2)) / (2 * eps)
    assert np.allclose(extractdata(g), num, atol=1e-6)


def f_caller_cycle(c, x):
    c.h = np.tanh(x @ c.W)
    s = np.sum(c.me.h ** 2)
    return s, dlgradient(s, c.W)


def test_caller_made_cycle_names_the_self_reference():
    sct.clear_cache()
    c = Cell(dlarray(W0))
    c.me = c
    with pytest.raises(CompileError) as e:
        dlfeval(f_caller_cycle, c, X)
    msg = str(e.value)
    assert "c holds itself" in msg and "c.me" in msg and f"line {_line(f_caller_cycle, 'dlgradient(s')}" in msg
