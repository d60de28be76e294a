"""Forwarding (session 50): a PyTorch-style ``Module.__call__(self, *args, **kwargs)`` forwarding keywords to
``self.forward``, and ``f(*iterator)``; each program was refused (or crashed) before its fix; now its value is
plain Python's and its gradients (first and second order) central differences'."""
import numpy as np
import pytest

import sct
from sct import dlarray, dlfeval, dlgradient

from gradcheck import D, assert_close, numerical_gradient

RNG = np.random.default_rng(50)
W = RNG.standard_normal((3, 3)) * 0.5
U = RNG.standard_normal((3, 3)) * 0.5
X = RNG.standard_normal(3)
Y = RNG.standard_normal(3)


class Module:
    def __call__(self, *args, **kwargs):
        return self.forward(*args, **kwargs)


class Layer(Module):
    def __init__(self, W):
        self.W = W

    def forward(self, x, activation=np.tanh):
        return activation(x @ self.W)


class RNN(Module):
    def __init__(self, W, U):
        self.W = W
        self.U = U

    def forward(self, x, h=None, reset=False):
        if h is None or reset:
            h = np.zeros(3)
        return np.tanh(x @ self.W + h @ self.U)


class Seq(Module):
    def __init__(self, *layers):
        self.layers = list(layers)

    def __getitem__(self, i):
        return self.layers[i]

    def forward(self, x):
        for layer in self.layers:
            x = layer(x)
        return x


def _first(loss, make):
    sct.clear_cache()
    y, g = dlfeval(loss, make(dlarray(W.copy())), dlarray(X))
    return float(D(y)), g


def _second_plain(first_x, make):
    """z(w) = sum(dy/dx ** 2), dy/dx from sct's first order (itself checked against differences)."""
    return lambda w: float(np.sum(D(dlfeval(first_x, make(w), dlarray(X))[1]) ** 2))


# --- 1. keywords through Module.__call__(*args, **kwargs) to self.forward -----------------------------

def layer_loss(m, x):
    y = np.sum(m(x, activation=np.sin) ** 2) + np.sum(m(x) ** 2)
    return y, dlgradient(y, m)


def layer_second(m, x):
    y = np.sum(m(x, activation=np.sin) ** 2)
    gx = dlgradient(y, x, EnableHigherDerivatives=True)
    z = np.sum(gx ** 2)
    return z, dlgradient(z, m)


def layer_first_x(m, x):
    y = np.sum(m(x, activation=np.sin) ** 2)
    return y, dlgradient(y, x)


def test_a_keyword_through_module_call_first_order():
    plain = lambda w: float(np.sum(np.sin(X @ w) ** 2) + np.sum(np.tanh(X @ w) ** 2))
    y, g = _first(layer_loss, Layer)
    assert y == pytest.approx(plain(W), rel=1e-12)
    assert_close(D(g.W), numerical_gradient(plain, [W.copy()], 0), what="d/dW")


def test_a_keyword_through_module_call_second_order():
    sct.clear_cache()
    gx = D(dlfeval(layer_first_x, Layer(W.copy()), dlarray(X))[1])
    assert_close(gx, numerical_gradient(lambda x: float(np.sum(np.sin(x @ W) ** 2)), [X.copy()], 0), what="d/dx")
    z_of = _second_plain(layer_first_x, Layer)
    z, g = _first(layer_second, Layer)
    assert z == pytest.approx(z_of(W), rel=1e-10)
    assert_close(D(g.W), numerical_gradient(z_of, [W.copy()], 0, step=1e-5), rtol=1e-4, atol=1e-5,
                 what="second order")


def rnn_loss(m, x):
    h = m(x)
    y = np.sum(m(x, h, reset=True) ** 2) + np.sum(m(x, h, reset=False) ** 2) + np.sum(m(x, reset=True))
    return y, dlgradient(y, m)


def rnn_second(m, x):
    h = m(x)
    y = np.sum(m(x, h, reset=False) ** 2) + np.sum(m(x, reset=True) ** 2)
    gx = dlgradient(y, x, EnableHigherDerivatives=True)
    z = np.sum(gx ** 2)
    return z, dlgradient(z, m)


def rnn_first_x(m, x):
    h = m(x)
    y = np.sum(m(x, h, reset=False) ** 2) + np.sum(m(x, reset=True) ** 2)
    return y, dlgradient(y, x)


def test_a_keyword_after_a_default_through_module_call_first_and_second_order():
    def plain(w):
        m = RNN(w, U)
        h = m(X)
        return float(np.sum(m(X, h, reset=True) ** 2) + np.sum(m(X, h, reset=False) ** 2) + np.sum(m(X, reset=True)))
    make = lambda w: RNN(w, dlarray(U))         # noqa: E731
    y, g = _first(rnn_loss, make)
    assert y == pytest.approx(plain(W), rel=1e-12)
    assert_close(D(g.W), numerical_gradient(plain, [W.copy()], 0), what="d/dW")
    z_of = _second_plain(rnn_first_x, lambda w: RNN(w, U))
    z, g = _first(rnn_second, make)
    assert z == pytest.approx(z_of(W), rel=1e-10)
    assert_close(D(g.W), numerical_gradient(z_of, [W.copy()], 0, step=1e-5), rtol=1e-4, atol=1e-5,
                 what="second order")


def test_a_keyword_the_forward_does_not_take_is_pythons_type_error():
    def bad(m, x):
        y = np.sum(m(x, act=np.sin))
        return y, dlgradient(y, m)
    with pytest.raises(TypeError, match="act"):
        dlfeval(bad, Layer(dlarray(W.copy())), dlarray(X))


# --- 1b. a Sequential indexed and called, the gradient with respect to it ------------------------------

def seq_loss(s, x):
    y = np.sum(s(x) ** 2) + np.sum(s[0](x, activation=np.sin))
    return y, dlgradient(y, s)


def seq_second(s, x):
    y = np.sum(s[1](s[0](x, activation=np.sin)) ** 2) + np.sum(s(x))
    gx = dlgradient(y, x, EnableHigherDerivatives=True)
    z = np.sum(gx ** 2)
    return z, dlgradient(z, s)


def seq_first_x(s, x):
    y = np.sum(s[1](s[0](x, activation=np.sin)) ** 2) + np.sum(s(x))
    return y, dlgradient(y, x)


def test_a_sequential_indexed_and_called_first_and_second_order():
    def plain(w):
        s = Seq(Layer(w), Layer(U))
        return float(np.sum(s(X) ** 2) + np.sum(s[0](X, activation=np.sin)))
    make = lambda w: Seq(Layer(w), Layer(dlarray(U)))       # noqa: E731
    y, g = _first(seq_loss, make)
    assert y == pytest.approx(plain(W), rel=1e-12)
    assert_close(D(g.layers[0].W), numerical_gradient(plain, [W.copy()], 0), what="d/dW")
    z_of = _second_plain(seq_first_x, lambda w: Seq(Layer(w), Layer(U)))
    z, g = _first(seq_second, make)
    assert z == pytest.approx(z_of(W), rel=1e-10)
    assert_close(D(g.layers[0].W), numerical_gradient(z_of, [W.copy()], 0, step=1e-5), rtol=1e-4, atol=1e-5,
                 what="second order")


# --- 2. f(*iterator): the items taken once -------------------------------------------------------------

def core(a, b):
    return np.sum(a * np.sin(b))


def entry(*args):
    return core(*reversed(args))


def star_reversed(x, y):
    v = entry(x, y) + core(*reversed([x, y]))
    return v, dlgradient(v, x)


def star_iterators(x, y):
    d = {"a": y, "b": x}
    v = core(*zip((y, x), (x, y))) + core(*(t for t in (y, x))) + core(*d.values()) + core(*map(np.cos, [x, y]))
    return v, dlgradient(v, x)


def star_second(x, y):
    d = {"a": y, "b": x}
    v = entry(x, y) + core(*d.values())
    g = dlgradient(v, x, EnableHigherDerivatives=True)
    z = np.sum(g ** 2)
    return z, dlgradient(z, x)


def _star_first(x, y):
    d = {"a": y, "b": x}
    v = entry(x, y) + core(*d.values())
    return v, dlgradient(v, x)


@pytest.mark.parametrize("fun, plain", [
    (star_reversed, lambda x: float(2 * core(Y, x))),
    (star_iterators, lambda x: float(core(*zip((Y, x), (x, Y))) + 2 * core(Y, x) + core(np.cos(x), np.cos(Y)))),
])
def test_a_starred_iterator_is_taken_once(fun, plain):
    sct.clear_cache()
    v, g = dlfeval(fun, dlarray(X), dlarray(Y))
    assert float(D(v)) == pytest.approx(plain(X), rel=1e-12)
    assert_close(D(g), numerical_gradient(plain, [X.copy()], 0), what="d/dx")


def test_a_starred_iterator_second_order():
    sct.clear_cache()
    z_of = lambda x: float(np.sum(D(dlfeval(_star_first, dlarray(x), dlarray(Y))[1]) ** 2))    # noqa: E731
    plain_first = lambda x: float(2 * core(Y, x))        # noqa: E731
    assert_close(D(dlfeval(_star_first, dlarray(X), dlarray(Y))[1]),
                 numerical_gradient(plain_first, [X.copy()], 0), what="first order")
    z, g = dlfeval(star_second, dlarray(X), dlarray(Y))
    assert float(D(z)) == pytest.approx(z_of(X), rel=1e-10)
    assert_close(D(g), numerical_gradient(z_of, [X.copy()], 0, step=1e-5), rtol=1e-4, atol=1e-5, what="second")


# --- 3. sum() of objects of a user class ---------------------------------------------------------------

class V:
    def __init__(self, v):
        self.v = v

    def __add__(self, other):
        return V(self.v + other.v)

    def __radd__(self, other):
        return V(other + self.v)


def summed_objects(x, y):
    s = sum([V(x), V(y * x)])
    out = np.sum(np.sin(s.v) * x)
    return out, dlgradient(out, x)


def summed_objects_second(x, y):
    s = sum([V(x), V(y * x)], 1.0)
    out = np.sum(np.sin(s.v) * x)
    g = dlgradient(out, x, EnableHigherDerivatives=True)
    z = np.sum(g ** 2)
    return z, dlgradient(z, x)


def _summed_first(x, y):
    s = sum([V(x), V(y * x)], 1.0)
    out = np.sum(np.sin(s.v) * x)
    return out, dlgradient(out, x)


def summed_object_list(x, y):
    items = [V(x)]
    items.append(V(y))
    s = sum(items)
    out = np.sum(np.sin(s.v) * x)
    return out, dlgradient(out, x)


def test_sum_of_a_list_of_user_objects_runs_their_additions():
    sct.clear_cache()
    plain = lambda x: float(np.sum(np.sin(x + Y * x) * x))       # noqa: E731
    out, g = dlfeval(summed_objects, dlarray(X), dlarray(Y))
    assert float(D(out)) == pytest.approx(plain(X), rel=1e-12)
    assert_close(D(g), numerical_gradient(plain, [X.copy()], 0), what="d/dx")
    plain1 = lambda x: float(np.sum(np.sin(1.0 + x + Y * x) * x))       # noqa: E731
    assert_close(D(dlfeval(_summed_first, dlarray(X), dlarray(Y))[1]), numerical_gradient(plain1, [X.copy()], 0))
    z_of = lambda x: float(np.sum(D(dlfeval(_summed_first, dlarray(x), dlarray(Y))[1]) ** 2))    # noqa: E731
    z, g = dlfeval(summed_objects_second, dlarray(X), dlarray(Y))
    assert float(D(z)) == pytest.approx(z_of(X), rel=1e-10)
    assert_close(D(g), numerical_gradient(z_of, [X.copy()], 0, step=1e-5), rtol=1e-4, atol=1e-5, what="second")


def test_sum_of_user_objects_it_does_not_see_is_refused():
    sct.clear_cache()
    line = summed_object_list.__code__.co_firstlineno + 3           # s = sum(items)
    with pytest.raises(sct.SctError, match=f"line {line}\\b.*sum\\(\\) of V objects"):
        dlfeval(summed_object_list, dlarray(X), dlarray(Y))


# --- 3b. o[k] = v of an object with its own __setitem__ --------------------------------------------------

class Store:
    def __init__(self):
        self.d = {}

    def __setitem__(self, k, v):
        self.d[k] = v * 2.0

    def __getitem__(self, k):
        return self.d[k]


def stored_item(x, y):
    st = Store()
    st["a"] = x * y
    out = np.sum(st["a"] ** 2)
    return out, dlgradient(out, x)


def test_an_item_written_into_an_object_with_its_own_setitem_is_refused_naming_the_line():
    sct.clear_cache()
    line = stored_item.__code__.co_firstlineno + 2          # st["a"] = x * y
    with pytest.raises(sct.SctError, match=f"line {line}\\b.*Store.__setitem__"):
        dlfeval(stored_item, dlarray(X), dlarray(Y))
