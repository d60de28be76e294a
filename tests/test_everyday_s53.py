"""Everyday false refusals (session 53, fr53): writes through reshape / ravel views and einsum's diagonal
view of an array the function made.  Each program was refused before its fix; now its value is plain
numpy's, its gradient (reverse, jvp, hvp, second order) the central differences of the plain program;
the copies numpy makes (a reshape of an array sct cannot tell C-contiguous) stay exact or refused."""
import collections
from collections import OrderedDict
from dataclasses import dataclass

import numpy as np
import pytest

import sct
from sct import dlarray, dlfeval, dlgradient, extractdata
from sct.errors import SctError

RNG = np.random.default_rng(53)


def D(v):
    return np.asarray(extractdata(v)) if isinstance(v, dlarray) else np.asarray(v)


def _line(fn, k):
    return fn.__code__.co_firstlineno + k


def fd(f, p, h=1e-6):
    p = np.array(p, dtype=np.float64)
    g = np.zeros_like(p)
    for j in range(p.size):
        a = p.copy()
        a.flat[j] += h
        b = p.copy()
        b.flat[j] -= h
        g.flat[j] = (f(a) - f(b)) / (2 * h)
    return g


def exact(loss, p, *data, dtype=np.float64, second=True):
    """sct's value and gradient of loss(p, *data) against plain numpy and central differences (float64
    differences for float32 runs); jvp, hvp and the second-order gradient of L + |g|^2 too."""
    p = np.asarray(p, dtype=dtype)
    data = [np.asarray(d, dtype=dtype) if isinstance(d, np.ndarray) and d.dtype.kind == "f" else d for d in data]

    def drv(q, *ds):
        L = loss(q, *ds)
        return L, dlgradient(L, q)
    L, g = dlfeval(drv, dlarray(p.copy()), *data)
    plain = loss(p.copy(), *data)
    tol = 1e-7 if dtype == np.float64 else 2e-3
    np.testing.assert_allclose(D(L), plain, rtol=tol, atol=tol)
    assert D(L).dtype == np.asarray(plain).dtype
    data64 = [np.asarray(d, dtype=np.float64) if isinstance(d, np.ndarray) and d.dtype.kind == "f" else d
              for d in data]
    want = fd(lambda q: loss(q, *data64), p)
    np.testing.assert_allclose(D(g), want, rtol=tol * 10, atol=tol * 10)
    assert D(g).dtype == p.dtype
    if not second or dtype != np.float64:
        return D(g)
    v = RNG.standard_normal(p.shape)
    _, tangent = sct.jvp(lambda q: loss(q, *data), (dlarray(p.copy()),), (v,))
    np.testing.assert_allclose(D(tangent), np.sum(want * v), rtol=1e-6, atol=1e-6)

    def grad_of(q):
        return D(dlfeval(drv, dlarray(q), *data)[1])
    hv_fd = (grad_of(p + 1e-5 * v) - grad_of(p - 1e-5 * v)) / 2e-5
    hv = sct.hvp(lambda q: loss(q, *data), dlarray(p.copy()), v)
    np.testing.assert_allclose(D(hv), hv_fd, rtol=1e-5, atol=1e-5 * (1 + np.abs(hv_fd).max()))

    def so(q, *ds):
        L = loss(q, *ds)
        gg = dlgradient(L, q, EnableHigherDerivatives=True)
        R = L + np.sum(gg ** 2)
        return dlgradient(R, q)
    g2 = dlfeval(so, dlarray(p.copy()), *data)
    n = float(np.linalg.norm(want)) or 1.0
    hg = (grad_of(p + 1e-5 * want / n) - grad_of(p - 1e-5 * want / n)) / 2e-5 * n
    np.testing.assert_allclose(D(g2), want + 2 * hg, rtol=1e-5, atol=1e-5 * (1 + np.abs(want + 2 * hg).max()))
    return D(g)


def refused(loss, p, *data, match=None, k=1):
    def drv(q, *ds):
        L = loss(q, *ds)
        return L, dlgradient(L, q)
    with pytest.raises(SctError) as info:
        dlfeval(drv, dlarray(np.array(p, dtype=float)), *data)
    assert f"line {_line(loss, k)}:" in str(info.value) and __file__ in str(info.value)
    if match:
        assert match in str(info.value)
    return str(info.value)


# ---------------------------------------------------------------- 1. writes through reshape / ravel views

def flat_write(p, d):
    h = p @ d
    r = h.reshape(-1)
    r[0] = p[0, 0] * 2.0
    return np.sum(np.tanh(h)) + np.sum(r ** 2)


def ravel_scale(p, d):
    h = np.tanh(p @ d)
    f = h.ravel()
    f *= 3.0
    f[2] += p[1, 1]
    return np.sum(h ** 2) + np.sum(np.sin(f))


def unnamed_reshape_write(p, d):
    h = p @ d
    h.reshape(2, 6)[0] += p[1, 0]
    return np.sum(h ** 3)


def function_reshape(p, d):
    h = (p @ d) * 2.0
    v = np.reshape(h, (4, 3))
    v[1:] -= v[0]
    return np.sum(np.sin(h))


def base_written_view_read(p, d):
    h = p.copy()
    r = h.reshape(-1)
    h[0] = np.cos(h[1])
    h *= 2.0
    return np.sum(r * np.arange(6.0))


def function_ravel_of_copy(p, d):
    t = p.copy()
    w = np.ravel(t)
    w[0] = 0.5
    return np.sum(np.tanh(t))


def after_augmented(p, d):
    h = p @ d
    h += 1.0
    r = h.reshape((3, 2, 2))
    r[:, 0] = np.exp(h[:, :2])
    return np.sum(h ** 2)


def into_zeros(p, d):
    h = np.zeros((3, 4))
    r = h.reshape(-1)
    r[:3] = p[:, 0] * 2.0
    r[5:8] += p[:, 1]
    return np.sum((h @ d.T) ** 2)


def elementwise_chain(p, d):
    a = p @ d
    h = np.maximum(np.tanh(a) * 2.0 - 0.5, -0.2 * a)
    g = h.ravel()
    g[g > 0] *= 0.5
    return np.sum(h * a)


def times_a_number_in_a_loop(p, d):
    h = np.ones((3, 4)) * p[0, 0]
    for i in range(3):
        h.reshape(-1)[i * 2] += p[i, 1]
        r = h.ravel()
        r[i] *= 2.0
    return np.sum(h ** 2)


def two_reshapes(p, d):
    h = p @ d
    r = h.reshape(-1)
    s = h.reshape(3, 4)
    r[0] = p[1, 1]
    s[1] += 3 * p[0, 0]
    return np.sum(h ** 2) + np.sum(r) + np.sum(s ** 3)


def view_read_after_rebinding(p, d):
    h = p @ d
    r = h.reshape(-1)
    h = h * 2
    r[0] = p[0, 0]
    return np.sum(h) + np.sum(r)


@pytest.mark.parametrize("loss", [flat_write, ravel_scale, unnamed_reshape_write, function_reshape,
                                  base_written_view_read, function_ravel_of_copy, after_augmented, into_zeros,
                                  elementwise_chain, times_a_number_in_a_loop, two_reshapes,
                                  view_read_after_rebinding])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_write_through_reshape_view_of_a_new_array(loss, dtype):
    exact(loss, RNG.standard_normal((3, 2)), RNG.standard_normal((2, 4)), dtype=dtype)


def test_fuzz52_mini_reshape():
    def f_reshape(x):
        t = x.copy()
        w = t.reshape(-1)
        w[0] = 0.5
        L = np.sum(np.tanh(t))
        return L, dlgradient(L, x)
    x0 = np.array([[0.3, -0.5, 0.7], [0.2, 0.4, -0.6]])
    L, g = dlfeval(f_reshape, dlarray(x0))
    t = x0.copy()
    t.reshape(-1)[0] = 0.5
    want = 1 - np.tanh(t) ** 2
    want[0, 0] = 0
    assert float(D(L)) == np.sum(np.tanh(t))
    np.testing.assert_allclose(D(g), want, rtol=1e-12)


# the copies: numpy's reshape of an array that is not C-contiguous copies it (a write into the copy
# leaves the array alone); sct cannot tell the layout of these, so they stay refused, or exact

def reshape_of_transpose(p, d):
    h = (p @ d).T
    r = h.reshape(-1)
    r[0] = 0.0
    return np.sum(h ** 2) + np.sum(r)


def reshape_of_elementwise_of_transpose(p, d):
    h = np.tanh(p.T) * 1.0
    r = h.ravel()
    r *= 2.0
    return np.sum(h ** 2) + np.sum(r)


def reshape_of_argument(p, d):
    r = p.reshape(-1)
    r[0] = 0.0
    return np.sum(p ** 2)


def reshape_of_slice(p, d):
    h = (p @ d)[:, ::2]
    r = h.reshape(-1)
    r[0] = 0.0
    return np.sum(h ** 2)


def reshape_on_one_path(p, d):
    h = p @ d
    if p[0, 0] > 0:
        r = h.reshape(-1)
    else:
        r = h.copy().reshape(-1)
    r[0] = p[0, 0]
    return np.sum(h)


def view_of_reshape_view(p, d):
    h = p @ d
    r = h.reshape(-1)
    v = r[2:]
    v[0] = p[1, 0] * 7
    return np.sum(h * np.arange(12.0).reshape(3, 4))


def reshape_of_reshape_view(p, d):
    h = p @ d
    r = h.reshape(-1)
    q = r.reshape(3, 4)
    q[0] = p[0, 1]
    return np.sum(h * np.arange(12.0).reshape(3, 4))


def linspace_of_arrays(p, d):
    h = np.linspace(p[0], p[1], 3)
    r = h.reshape(-1)
    r[0] = 1.0
    return np.sum(h ** 2)


@pytest.mark.parametrize("loss,k", [(reshape_of_transpose, 3), (reshape_of_elementwise_of_transpose, 3),
                                    (reshape_of_argument, 2), (reshape_of_slice, 3), (reshape_on_one_path, 6),
                                    (view_of_reshape_view, 4), (reshape_of_reshape_view, 4),
                                    (linspace_of_arrays, 3)])
def test_reshape_sct_cannot_tell_a_view_stays_refused(loss, k):
    p, d = RNG.standard_normal((3, 2)), RNG.standard_normal((2, 4))
    plain = loss(p.copy(), d)
    assert np.isfinite(plain)
    refused(loss, p, d, k=k)


def flatten_copy(p, d):
    h = p @ d
    r = h.flatten()
    r[0] = 5.0
    return np.sum(h ** 2) + np.sum(np.sin(r))


def reshape_then_copy(p, d):
    h = p @ d
    r = h.reshape(-1).copy()
    r[1] = 5.0
    r *= 2.0
    return np.sum(h ** 2) + np.sum(np.sin(r))


def reshape_of_a_number(p, d):
    s = np.tanh(np.zeros(()))
    r = s.reshape(-1)
    r[0] = p[0, 0]
    return np.sum(r ** 2) + p[1, 1] * s


@pytest.mark.parametrize("loss", [flatten_copy, reshape_then_copy])
def test_copies_stay_exact(loss):
    exact(loss, RNG.standard_normal((3, 2)), RNG.standard_normal((2, 4)))


def test_reshape_of_numpy_scalar_is_refused_when_it_runs():
    # np.tanh of a 0-d array is numpy's scalar: its reshape is a new array, not a view of it
    p, d = RNG.standard_normal((3, 2)), RNG.standard_normal((2, 4))
    assert np.isfinite(reshape_of_a_number(p.copy(), d))
    message = refused(reshape_of_a_number, p, d, k=3)
    assert "r is a view of s where s is an array, and a new array where it is a number" in message


# ---------------------------------------------------------------- 4. einsum's writable diagonal view

def einsum_diagonal(p, d):
    A = np.outer(p, p)
    np.einsum("ii->i", A)[:] += 1.0
    return np.sum(np.linalg.inv(A) * d)


def einsum_diagonal_named(p, d):
    A = np.outer(p, np.tanh(p)) * 0.5
    g = np.einsum("ii->i", A)
    g *= p
    g[0] = 2.0
    A[1, 1] += np.cos(p[2])       # (a write into A: g taken again)
    return np.sum(A ** 2) + np.sum(g * d[0])


def einsum_diagonal_of_argument_copy(p, d):
    A = d.copy()
    np.einsum("ii->i", A)[...] = p ** 2
    return np.sum(np.tanh(A @ p))


@pytest.mark.parametrize("loss", [einsum_diagonal, einsum_diagonal_named, einsum_diagonal_of_argument_copy])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_write_through_einsum_diagonal_view(loss, dtype):
    exact(loss, RNG.standard_normal(3), RNG.standard_normal((3, 3)), dtype=dtype)


# ---------------------------------------------------------------- 4. np.nanquantile / np.nanpercentile

NAN_MASK = np.isnan(np.array([[1.0, np.nan, 3.0, 0.5, 2.0], [np.nan] * 5, [0.2, 0.1, np.nan, 5.0, 1.0]]))


def nan_quantiles(p, m):
    a = np.where(m, np.nan, p)
    rows = a[[0, 2]]
    return np.sum(np.nanquantile(rows, [0.3, 0.75], axis=1) ** 2) + np.nanpercentile(a, 40.0) + \
        np.sum(np.nanpercentile(rows, 60, axis=1, method="nearest")) + \
        np.sum(np.nanquantile(rows.T, 0.5, axis=0, keepdims=True, method="midpoint") * np.array([[1.0, -2.0]]))


def test_nanquantile_nanpercentile_rules():
    exact(nan_quantiles, RNG.standard_normal((3, 5)), NAN_MASK)


def test_nanquantile_of_a_lane_of_nan_only_is_nan():
    def f(p, m):
        q = np.nanquantile(np.where(m, np.nan, p), 0.5, axis=1)
        return q[1], dlgradient(np.nansum(q), p)
    with pytest.warns(RuntimeWarning):
        v, g = dlfeval(f, dlarray(RNG.standard_normal((3, 5))), NAN_MASK)
    assert np.isnan(D(v))
    assert np.all(D(g)[1] == 0) and np.all(D(g)[NAN_MASK] == 0)


# ---------------------------------------------------------------- 2. a class defined inside the function

def class_in_function(p, d):
    class MLP:
        def __init__(self, W):
            self.W = W

        def forward(self, x):
            return np.tanh(x @ self.W.T)
    return np.sum(MLP(p).forward(d.T) ** 2)


def dataclass_in_function(p, d):
    @dataclass
    class Layer:
        W: np.ndarray
        scale: float = 2.0

        def __call__(self, x):
            return np.tanh(x @ self.W.T) * self.scale
    layer = Layer(p)
    return np.sum(layer(d.T) * layer.scale) + np.sum(Layer(p * 2.0, 0.5)(d.T))


def subclass_in_function(p, d):
    class Base:
        def __init__(self, W):
            self.W = W

        def act(self, z):
            return np.tanh(z)

    class Net(Base):
        def act(self, z):
            return super().act(z) * 2.0 + np.sin(z)

        def __call__(self, x):
            return self.act(x @ self.W.T)
    return np.sum(Net(p)(d.T) ** 2)


@pytest.mark.parametrize("loss", [class_in_function, dataclass_in_function, subclass_in_function])
def test_class_defined_inside_runs(loss):
    exact(loss, RNG.standard_normal((3, 2)), RNG.standard_normal((2, 4)))


def test_class_inside_is_a_new_class_each_call():
    def f(p):
        class Twice:
            def __init__(self, v):
                self.v = v

            def value(self):
                return self.v * 2.0
        L = np.sum(Twice(p).value() ** 2)
        return L, dlgradient(L, p), Twice
    p = np.array([0.5, -1.0])
    made = []
    for _ in range(2):
        L, g, cls = dlfeval(f, dlarray(p))
        assert float(D(L)) == np.sum((p * 2) ** 2)
        np.testing.assert_allclose(D(g), 8 * p, rtol=1e-12)
        made.append(cls)
    assert made[0] is not made[1]       # (Python makes the class anew at each call)
    assert made[0].__qualname__ == "test_class_inside_is_a_new_class_each_call.<locals>.f.<locals>.Twice"
    assert made[0].__module__ == __name__


def class_reads_enclosing_local(p, d):
    k = 3.0

    class Scaled:
        def f(self, x):
            return x * k
    return np.sum(Scaled().f(p))


def class_reads_enclosing_parameter(p, d):
    class Shifted:
        def f(self, x):
            return x + d[0, 0]
    return np.sum(Shifted().f(p))


@pytest.mark.parametrize("loss,k", [(class_reads_enclosing_local, 3), (class_reads_enclosing_parameter, 1)])
def test_class_reading_the_functions_names_stays_refused(loss, k):
    message = refused(loss, RNG.standard_normal((3, 2)), RNG.standard_normal((2, 4)), k=k)
    assert "a class definition" in message and "reads none of the function's own names" in message


# ---------------------------------------------------------------- 3. collections.OrderedDict of parameters

def _state_dict():
    rng = np.random.default_rng(3)
    return OrderedDict([("W", dlarray(rng.standard_normal((3, 2)))), ("b", dlarray(rng.standard_normal(2)))])


X3 = np.random.default_rng(4).standard_normal((4, 3))


def _plain_loss(W, b, X, c=None):
    return np.sum(np.tanh(X @ W + b * (1.0 if c is None else c)))


def _fd_of(f, P):
    """Central differences of f(W, b) at P's values, as a dict."""
    W, b = np.asarray(extractdata(P["W"])), np.asarray(extractdata(P["b"]))
    return {"W": fd(lambda w: f(w, b), W), "b": fd(lambda v: f(W, v), b)}


def test_ordered_dict_argument_copy_written_stays_ordered():
    def f(P, X):
        Q = P.copy()
        Q["W"] = Q["W"] * 2.0
        L = np.sum(np.tanh(X @ Q["W"] + Q["b"]))
        return L, dlgradient(L, P), Q
    P = _state_dict()
    L, g, Q = dlfeval(f, P, X3)
    assert type(g) is OrderedDict and type(Q) is OrderedDict and list(Q) == ["W", "b"]
    want = _fd_of(lambda W, b: _plain_loss(2.0 * W, b, X3), P)
    for k in ("W", "b"):
        np.testing.assert_allclose(D(g[k]), want[k], rtol=1e-6, atol=1e-8)


def test_ordered_dict_gradient_written_stays_ordered():
    def f(P, X):
        L = np.sum(np.tanh(X @ P["W"] + P["b"]))
        g = dlgradient(L, P)
        g["W"] = g["W"] * 0.5
        return L, g
    P = _state_dict()
    L, g = dlfeval(f, P, X3)
    assert type(g) is OrderedDict and list(g) == ["W", "b"]
    want = _fd_of(lambda W, b: _plain_loss(W, b, X3), P)
    np.testing.assert_allclose(D(g["W"]), 0.5 * want["W"], rtol=1e-6, atol=1e-8)
    np.testing.assert_allclose(D(g["b"]), want["b"], rtol=1e-6, atol=1e-8)


def test_ordered_dict_updated_stays_ordered():
    def f(P, X):
        Q = P.copy()
        Q.update(c=P["b"] * 2.0)
        L = np.sum(np.tanh(X @ Q["W"] + Q["b"] * Q["c"]))
        return L, dlgradient(L, P), Q
    P = _state_dict()
    L, g, Q = dlfeval(f, P, X3)
    assert type(Q) is OrderedDict and list(Q) == ["W", "b", "c"] and type(g) is OrderedDict
    want = _fd_of(lambda W, b: np.sum(np.tanh(X3 @ W + b * b * 2.0)), P)
    for k in ("W", "b"):
        np.testing.assert_allclose(D(g[k]), want[k], rtol=1e-6, atol=1e-8)


def test_ordered_dict_through_the_optimizers():
    def f(P, X):
        L = np.sum(np.tanh(X @ P["W"] + P["b"]))
        return L, dlgradient(L, P)
    P = _state_dict()
    L, g = dlfeval(f, P, X3)
    for out in (sct.adamupdate(P, g, None, None, 1), sct.sgdmupdate(P, g, None, 0.1),
                sct.rmspropupdate(P, g, None)):
        assert type(out[0]) is OrderedDict and list(out[0]) == ["W", "b"]
    new, avg, sq = sct.adamupdate(P, g, None, None, 1, 0.01)
    step = np.asarray(extractdata(P["W"])) - np.asarray(extractdata(new["W"]))
    np.testing.assert_allclose(np.abs(step), 0.01, rtol=1e-3)       # (Adam's first step: lr * sign)
    assert type(sct.dlupdate(lambda p, q: p - 0.1 * q, P, g)) is OrderedDict


def _built_keywords(W, b, X):
    Q = OrderedDict(W=W, b=b)
    return Q


def _built_pairs(W, b, X):
    return OrderedDict([("W", W * 1.5), ("b", b)])


def _built_from_items(W, b, X):
    P = {"W": W, "b": b}
    return collections.OrderedDict((k, v * 2.0) for k, v in P.items())


def _built_from_zip(W, b, X):
    Q = OrderedDict(zip(["W", "b"], [W * 1.5, b]))
    return OrderedDict(zip(Q.keys(), Q.values()))


@pytest.mark.parametrize("build,scale", [(_built_keywords, 1.0), (_built_pairs, 1.5), (_built_from_items, 2.0),
                                         (_built_from_zip, 1.5)])
def test_ordered_dict_built_inside(build, scale):
    def f(W, b, X):
        Q = build(W, b, X)
        h = X
        for k, v in Q.items():
            h = h @ v if k == "W" else np.tanh(h + v)
        L = np.sum(h ** 2)
        g = dlgradient(L, W, b)
        return L, g, Q, type(Q) is OrderedDict
    P = _state_dict()
    L, (gW, gb), Q, is_ordered = dlfeval(f, P["W"], P["b"], X3)
    bscale = 2.0 if build is _built_from_items else 1.0
    plain = lambda W, b: np.sum(np.tanh(X3 @ (W * scale) + b * bscale) ** 2)
    want = _fd_of(plain, P)
    assert is_ordered and type(Q) is OrderedDict and list(Q) == ["W", "b"]
    np.testing.assert_allclose(float(D(L)), plain(D(P["W"]), D(P["b"])), rtol=1e-12)
    np.testing.assert_allclose(D(gW), want["W"], rtol=1e-6, atol=1e-8)
    np.testing.assert_allclose(D(gb), want["b"], rtol=1e-6, atol=1e-8)


def test_gradient_by_an_ordered_dict_built_inside():
    def f(W, b, X):
        Q = OrderedDict(W=W, b=b)
        L = np.sum(np.tanh(X @ Q["W"] + Q["b"]) ** 2)
        return L, dlgradient(L, Q)
    P = _state_dict()
    L, g = dlfeval(f, P["W"], P["b"], X3)
    assert type(g) is OrderedDict and list(g) == ["W", "b"]
    want = _fd_of(lambda W, b: np.sum(np.tanh(X3 @ W + b) ** 2), P)
    for k in ("W", "b"):
        np.testing.assert_allclose(D(g[k]), want[k], rtol=1e-6, atol=1e-8)


def test_ordered_dict_shadowed_name_is_not_collections():
    def OrderedDict(**kw):          # (a function of the user's named so: not rewritten, read as written)
        return {"W": kw["W"] * 3.0, "b": kw["b"]}

    def f(W, b, X):
        Q = OrderedDict(W=W, b=b)
        L = np.sum(np.tanh(X @ Q["W"] + Q["b"]))
        return L, dlgradient(L, W), type(Q)
    P = _state_dict()
    L, g, t = dlfeval(f, P["W"], P["b"], X3)
    assert t is dict
    want = _fd_of(lambda W, b: np.sum(np.tanh(X3 @ (3.0 * W) + b)), P)
    np.testing.assert_allclose(D(g), want["W"], rtol=1e-6, atol=1e-8)
