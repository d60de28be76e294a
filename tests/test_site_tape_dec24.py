"""A dlgradient in a loop whose own target a later statement's adjoint reads: the forward pushes the
target's old value before the site's call, so the sweep (given the tape with it on top) pops it first
(sct/sweeps.py reverse_before_site).  Was: not popped, every later pop one entry off: an internal
TypeError/IndexError while computing the gradient, or wrong residuals."""
import numpy as np

from sct import dlarray, dlfeval, dlgradient
from gradcheck import numerical_gradient


def loss(p, A):
    return np.sum((A @ p["w"] + p["b"] - 1.0) ** 2)


def descend(p, A):
    for _ in range(3):
        g = dlgradient(loss(p, A), p)
        p = {"w": p["w"] - 0.05 * g["w"], "b": p["b"] - 0.05 * g["b"]}
    return p["w"], p["b"]


def descend_plain(w, b, A):
    for _ in range(3):
        r = A @ w + b - 1.0
        w, b = w - 0.05 * 2 * A.T @ r, b - 0.05 * 2 * np.sum(r)
    return w, b


def test_gradient_descent_on_a_dict_in_a_loop():
    rng = np.random.default_rng(2)
    A, w, b = rng.standard_normal((3, 2)), rng.standard_normal(2), np.array(0.3)
    got_w, got_b = dlfeval(descend, {"w": dlarray(w), "b": dlarray(b)}, A)
    want_w, want_b = descend_plain(w, b, A)
    np.testing.assert_allclose(got_w.data, want_w, rtol=1e-12)
    np.testing.assert_allclose(np.asarray(got_b.data), want_b, rtol=1e-12)


def constant_factor(w):
    h = w * 1.0
    g = np.ones(2)
    gs = []
    for _ in range(3):
        h = np.tanh(h * w * g)
        g = dlgradient(np.sum(h), w, EnableHigherDerivatives=False)
        gs.append(g)
    return gs


def test_a_constant_gradient_read_by_the_next_iteration():
    w0 = np.array([0.7, -0.4])
    got = dlfeval(constant_factor, dlarray(w0))
    gs = [np.ones(2)]
    for k in range(3):
        consts = list(gs)

        def plain(w, k=k, consts=consts):
            h = w * 1.0
            for i in range(k + 1):
                h = np.tanh(h * w * consts[i])
            return np.sum(h)
        want = numerical_gradient(plain, [w0], 0)
        np.testing.assert_allclose(got[k].data.ravel(), want, rtol=1e-6, atol=1e-9)
        gs.append(got[k].data.ravel())


def two_gradients(w, b, A):
    gw, gb = np.zeros(2), 0.0
    for _ in range(3):
        w = w - 0.1 * gw
        b = b - 0.1 * gb
        gw, gb = dlgradient(np.sum((A @ w + b) ** 2), w, b)
    return w, b


def test_two_gradients_read_by_the_next_iteration():
    rng = np.random.default_rng(3)
    A, w, b = rng.standard_normal((4, 2)), rng.standard_normal(2), 0.2
    got_w, got_b = dlfeval(two_gradients, dlarray(w), dlarray(b), A)
    gw, gb = np.zeros(2), 0.0
    for _ in range(3):
        w, b = w - 0.1 * gw, b - 0.1 * gb
        r = A @ w + b
        gw, gb = 2 * A.T @ r, 2 * np.sum(r)
    np.testing.assert_allclose(got_w.data, w, rtol=1e-12)
    np.testing.assert_allclose(float(got_b.data), b, rtol=1e-12)
