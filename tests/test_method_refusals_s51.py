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


# --- F3: `st.acc += v` on a dataclass made in a method --------------------------------------------

from dataclasses import dataclass  # noqa: E402


@dataclass
class _St:
    h: object
    acc: object

    def push(self, x):
        self.acc = self.acc + np.sum(x * x)
        self.h = self.h * 0.9 + x * 0.1


@dataclass
class _ScaledSt:
    h: object
    scale = np.ones(2)          # a class attribute every instance reads


class _StateModel:
    def __init__(self, W):
        self.W = W

    def loss(self, X):
        h = X @ self.W
        st = _St(h, 0.0)
        st.push(np.tanh(h))
        st.acc += np.sum(st.h)
        return st.acc

    def aliased(self, X):       # h is st.h: the in-place add changes h in Python
        h = X @ self.W
        st = _St(h, 0.0)
        st.h += 1.0
        return np.sum(h * h) + np.sum(st.h)

    def class_attribute(self, X):       # changes _ScaledSt.scale, which every instance reads
        h = X @ self.W
        st = _ScaledSt(h)
        st.scale *= 2.0
        return np.sum(h * st.scale)


_X3 = np.array([[0.5, -1.0], [1.5, 0.3], [0.2, 0.2]])


def _state_loss(m, X):
    L = m.loss(X)
    return L, dlgradient(L, m.W)


def _state_aliased(m, X):
    L = m.aliased(X)
    return L, dlgradient(L, m.W)


def _state_class_attribute(m, X):
    L = m.class_attribute(X)
    return L, dlgradient(L, m.W)


def test_dataclass_state_augassign_in_method():
    def plain(W):
        h = _X3 @ W
        t = np.tanh(h)
        return np.sum(t * t) + np.sum(h * 0.9 + t * 0.1)
    L, g = sct.dlfeval(_state_loss, _StateModel(dlarray(_W0)), _X3)
    assert_close(np.asarray(extractdata(L)), plain(_W0), rtol=1e-12, atol=1e-12)
    assert_close(np.asarray(extractdata(g)), numerical_gradient(plain, [_W0.copy()], 0))


@pytest.mark.parametrize("driver, text", [(_state_aliased, "st.h += 1.0"),
                                          (_state_class_attribute, "st.scale *= 2.0")])
def test_dataclass_state_shared_augassign_still_refused(driver, text):
    with pytest.raises(sct.SctError) as e:
        sct.dlfeval(driver, _StateModel(dlarray(_W0)), _X3)
    assert f"line {_line(_StateModel, text)}" in str(e.value)
    assert np.all(_ScaledSt.scale == 1.0)


# --- F4: a chained method returning self on an object the function built ---------------------------

class _Buf:
    def __init__(self, x):
        self.x = x

    def bump(self, v):
        self.x = self.x + v
        return self


class _StarBuf:
    def __init__(self, x):
        self.x = x

    def bump(self, *v):             # (*args: not read in place, left a call)
        self.x = self.x + v[0]
        return self


def _chained(W, b, X):
    bf = _Buf(X @ W)
    bf.bump(b).bump(0.1)
    L = np.sum(np.tanh(bf.x))
    return L, dlgradient(L, W, b)


def _named_then_chained(W, b, X):
    bf = _Buf(X @ W)
    c = bf.bump(b)
    c.bump(0.1)
    L = np.sum(np.tanh(bf.x))
    return L, dlgradient(L, W, b)


def _set_through_second_name(W, b, X):
    bf = _Buf(X @ W)
    c = bf.bump(b)
    c.x = c.x * 2.0
    L = np.sum(np.tanh(bf.x))
    return L, dlgradient(L, W, b)


def _star_chained(W, b, X):
    bf = _StarBuf(X @ W)
    bf.bump(b).bump(0.1)
    L = np.sum(np.tanh(bf.x))
    return L, dlgradient(L, W, b)


_b0 = np.array([0.2, -0.1])
_X2 = np.array([[0.5, -1.0], [1.5, 0.3]])


@pytest.mark.parametrize("driver", [_chained, _named_then_chained])
def test_chained_method_returning_self(driver):
    def plain(W, b):
        return np.sum(np.tanh(_X2 @ W + b + 0.1))
    L, (gW, gb) = sct.dlfeval(driver, dlarray(_W0), dlarray(_b0), _X2)
    assert_close(np.asarray(extractdata(L)), plain(_W0, _b0), rtol=1e-12, atol=1e-12)
    assert_close(np.asarray(extractdata(gW)), numerical_gradient(plain, [_W0.copy(), _b0], 0))
    assert_close(np.asarray(extractdata(gb)), numerical_gradient(plain, [_W0, _b0.copy()], 1))


def test_attribute_set_through_the_returned_name_still_refused():
    with pytest.raises(sct.SctError) as e:
        sct.dlfeval(_set_through_second_name, dlarray(_W0), dlarray(_b0), _X2)
    assert f"line {_line(_set_through_second_name, 'c.x = c.x * 2.0')}" in str(e.value)


def test_chained_call_left_a_call_names_no_internal_name():
    with pytest.raises(sct.SctError) as e:
        sct.dlfeval(_star_chained, dlarray(_W0), dlarray(_b0), _X2)
    assert f"line {_line(_star_chained, '.bump(0.1)')}" in str(e.value)
    assert "out_" not in str(e.value) and "bf.bump(b).bump" in str(e.value)


# --- F5: `h[0] -= self.b` on a fresh copy of what a helper returned -------------------------------

def _scaled_pair(x, s):
    a = x * s
    return a, np.sum(a * x) * 0.1


def _scaled_rows(x, s):
    a = x * s
    return [a, a * 2.0], np.sum(a * x) * 0.1


class _RowModel:
    def __init__(self, W, b):
        self.W = W
        self.b = b

    def loss(self, X):
        h = X @ self.W
        h, t = _scaled_pair(h, 2.0)
        h = h + 0.05 * t
        h = h.copy()
        h[0] -= self.b
        return np.sum(h ** 2)

    def shallow(self, X):      # a list's shallow copy: its first array is g's too, changed in place
        h = X @ self.W
        h, t = _scaled_rows(h, 2.0)
        g = h
        h = h.copy()
        h[0] -= self.b
        return np.sum(h[0] ** 2) + np.sum(g[0] * t)


def _row_loss(P, X):
    L = P.loss(X)
    return L, dlgradient(L, P.W, P.b)


def _row_shallow(P, X):
    L = P.shallow(X)
    return L, dlgradient(L, P.W, P.b)


_W1 = np.array([[0.3, -0.2]])
_X1 = np.array([[0.5], [1.5]])


def test_row_augassign_on_copy_in_method():
    def plain(W, b):
        h = _X1 @ W * 2.0
        t = np.sum(h * (_X1 @ W)) * 0.1
        h = h + 0.05 * t
        h[0] -= b
        return np.sum(h ** 2)
    L, (gW, gb) = sct.dlfeval(_row_loss, _RowModel(dlarray(_W1), dlarray(_b0)), _X1)
    assert_close(np.asarray(extractdata(L)), plain(_W1, _b0), rtol=1e-12, atol=1e-12)
    assert_close(np.asarray(extractdata(gW)), numerical_gradient(plain, [_W1.copy(), _b0], 0))
    assert_close(np.asarray(extractdata(gb)), numerical_gradient(plain, [_W1, _b0.copy()], 1))


def test_row_augassign_on_shallow_list_copy_still_refused():
    with pytest.raises(sct.SctError) as e:
        sct.dlfeval(_row_shallow, _RowModel(dlarray(_W1), dlarray(_b0)), _X1)
    assert f"line {_line(_RowModel.shallow, 'h[0] -= self.b')}" in str(e.value)


# --- R2: a method setting an argument's attribute between two gradients: refused, saying why -----------

class _Stepped:
    def __init__(self, W):
        self.W = W

    def loss(self, X):
        return np.sum(np.tanh(X @ self.W) ** 2)

    def step(self, g, lr):
        self.W = self.W - lr * g
        return self


def _two_steps(m, X):
    L = m.loss(X)
    g = dlgradient(L, m.W)
    m.step(g, 0.1)
    L2 = m.loss(X)
    return L2, dlgradient(L2, m.W)


def test_step_method_on_argument_between_gradients_says_why():
    m = _Stepped(dlarray(_W0))
    with pytest.raises(sct.SctError) as e:
        sct.dlfeval(_two_steps, m, _X)
    text = str(e.value)
    assert f"line {_line(_two_steps, 'm.step(g, 0.1)')}" in text
    assert "m.step() sets attributes of m" in text and "more than one gradient" in text
    assert "return the new values" not in text
    assert np.array_equal(np.asarray(extractdata(m.W)), _W0)


# --- R1: a shallow copy of the parameters filled again: refused (sct follows neither the copy nor the
# loop's stores), with advice that works (was: "... * 1.0" of the dict) --------------------------------

def _dict_loss(P, X):
    return np.sum(np.tanh(X @ P["W"] + P["b"]) ** 2)


def _copied_and_filled(P, X):
    L = _dict_loss(P, X)
    g = dlgradient(L, P)
    Q = dict(P)
    for k in Q:
        Q[k] = Q[k] - 0.1 * g[k]
    L2 = _dict_loss(Q, X)
    return L2, dlgradient(L2, Q)


def _comprehension(P, X):
    L = _dict_loss(P, X)
    g = dlgradient(L, P)
    Q = {k: v - 0.1 * g[k] for k, v in P.items()}
    L2 = _dict_loss(Q, X)
    return L2, dlgradient(L2, Q)


def test_shallow_copy_filled_again_refused_with_working_advice():
    P = {"W": dlarray(_W0), "b": dlarray(_b0)}
    with pytest.raises(sct.SctError) as e:
        sct.dlfeval(_copied_and_filled, P, _X2)
    text = str(e.value)
    assert f"line {_line(_copied_and_filled, 'return L2, dlgradient(L2, Q)')}" in text
    assert "for k, v in P.items()" in text and "* 1.0" not in text

    def plain(W, b):            # the advice's program: L2 at the updated parameters, and its gradient
        t = np.tanh(_X2 @ W + b)
        d = 2 * t * (1 - t ** 2)
        W, b = W - 0.1 * _X2.T @ d, b - 0.1 * d.sum(0)
        return np.sum(np.tanh(_X2 @ W + b) ** 2)
    L2, g2 = sct.dlfeval(_comprehension, P, _X2)
    assert_close(np.asarray(extractdata(L2)), plain(_W0, _b0), rtol=1e-12, atol=1e-12)

    def at_update(W, b):
        return np.sum(np.tanh(_X2 @ W + b) ** 2)
    t = np.tanh(_X2 @ _W0 + _b0)
    d = 2 * t * (1 - t ** 2)
    W1, b1 = _W0 - 0.1 * _X2.T @ d, _b0 - 0.1 * d.sum(0)
    assert_close(np.asarray(extractdata(g2["W"])), numerical_gradient(at_update, [W1.copy(), b1], 0))
    assert_close(np.asarray(extractdata(g2["b"])), numerical_gradient(at_update, [W1, b1.copy()], 1))


# --- F4's `+=` form: `self.x += v` in a method of a plain class whose __init__ sets self.x = x ----------

class _AugBuf:
    def __init__(self, x):
        self.x = x

    def bump(self, v):
        self.x += v
        return self


_SHARED = np.ones(2)




class _GlobalBuf:
    def __init__(self, x):
        self.x = _SHARED       # not what it is given: an array every instance shares
        self.y = x

    def bump(self, v):
        self.x += v
        return self


def _aug_chained(W, b, X):
    bf = _AugBuf(X @ W * 1.0)
    bf.bump(b).bump(0.1)
    L = np.sum(np.tanh(bf.x))
    return L, dlgradient(L, W, b)


def _aug_aliased(W, b, X):
    h = X @ W * 1.0
    bf = _AugBuf(h)
    bf.bump(b)
    L = np.sum(np.tanh(bf.x)) + np.sum(h)
    return L, dlgradient(L, W, b)


def _aug_global(W, b, X):
    bf = _GlobalBuf(X @ W)
    bf.bump(b)
    L = np.sum(np.tanh(bf.x * bf.y))
    return L, dlgradient(L, W, b)


def test_augassign_method_of_plain_class_chained():
    def plain(W, b):
        return np.sum(np.tanh(_X2 @ W + b + 0.1))
    L, (gW, gb) = sct.dlfeval(_aug_chained, dlarray(_W0), dlarray(_b0), _X2)
    assert_close(np.asarray(extractdata(L)), plain(_W0, _b0), rtol=1e-12, atol=1e-12)
    assert_close(np.asarray(extractdata(gW)), numerical_gradient(plain, [_W0.copy(), _b0], 0))
    assert_close(np.asarray(extractdata(gb)), numerical_gradient(plain, [_W0, _b0.copy()], 1))


@pytest.mark.parametrize("driver, cls, why", [(_aug_aliased, _AugBuf, "h may be the same object as bf.x"),
                                              (_aug_global, _GlobalBuf, "may be an object _aug_global() did not create")])
def test_augassign_method_on_shared_array_still_refused(driver, cls, why):
    with pytest.raises(sct.SctError) as e:
        sct.dlfeval(driver, dlarray(_W0), dlarray(_b0), _X2)
    assert f"line {_line(cls, 'self.x += v')}" in str(e.value) and why in str(e.value)
    assert np.all(_SHARED == 1.0)
