"""dljacobian / dldivergence / dllaplacian with x an element or attribute of an argument
(``dljacobian(u, p["x"], 0)``, ``p.x``, ``net.l.x``, ``ps[1]``): the derivative with respect to the
value it holds, as dlgradient's x (sct/sites.py make_site).  Was: refused as "a new value made in the
call itself", whose advice ("pass an element or attribute") was the very form refused."""
import types

import numpy as np

from gradcheck import numerical_gradient
from sct import dlarray, dldivergence, dlfeval, dlgradient, dljacobian, dllaplacian

RNG = np.random.default_rng(0)
W = RNG.standard_normal((3, 3))
X = RNG.standard_normal((4, 3))


def per_point_jacobian(X, w=W):
    """u = tanh(x @ w) * x for each row x: its 3x3 Jacobian, by hand."""
    out = []
    for x in X:
        h = np.tanh(x @ w)
        out.append((1 - h ** 2)[:, None] * w.T * x[:, None] + np.diag(h))
    return np.array(out)


def item(p):
    u = np.tanh(p["x"] @ W) * p["x"]
    return dljacobian(u, p["x"], 0)


def attribute(p):
    u = np.tanh(p.x @ W) * p.x
    return dljacobian(u, p.x, 0)


def nested(p):
    u = np.tanh(p["a"]["x"] @ W) * p["a"]["x"]
    return dljacobian(u, p["a"]["x"], 0)


def listed(ps):
    u = np.tanh(ps[1] @ W) * ps[1] + ps[0]
    return dljacobian(u, ps[1], 0)


def attribute_chain(n):
    u = np.tanh(n.l.x @ W) * n.l.x
    return dljacobian(u, n.l.x, 0)


def second_name(p):
    z = p["x"]
    u = np.tanh(z @ W) * p["x"]
    return dljacobian(u, p["x"], 0)


def divergence(p):
    u = np.tanh(p["x"] @ W) * p["x"]
    return dldivergence(u, p["x"], 0)


def laplacian(p):
    u = np.sum(np.tanh(p["x"] @ W) * p["x"], axis=1)
    return dllaplacian(u, p["x"], 0)


def laplacian_of_a_name(x):
    u = np.sum(np.tanh(x @ W) * x, axis=1)
    return dllaplacian(u, x, 0)


def rebound(p):
    u = np.tanh(p["x"] @ W) * p["x"]
    p = {"x": p["x"] * 2.0}            # a new value, which u does not depend on
    return dljacobian(u, p["x"], 0)


def test_items_and_attributes():
    want = per_point_jacobian(X)
    NS = types.SimpleNamespace
    cases = [(item, {"x": dlarray(X)}), (attribute, NS(x=dlarray(X))), (nested, {"a": {"x": dlarray(X)}}),
             (listed, [dlarray(X * 0), dlarray(X)]), (attribute_chain, NS(l=NS(x=dlarray(X)))),
             (second_name, {"x": dlarray(X)})]
    for fun, arg in cases:
        for _ in range(2):
            got = np.asarray(dlfeval(fun, arg).data)
            np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-14, err_msg=fun.__name__)


def test_divergence_and_laplacian_of_an_item():
    np.testing.assert_allclose(np.asarray(dlfeval(divergence, {"x": dlarray(X)}).data),
                               np.trace(per_point_jacobian(X), axis1=1, axis2=2), rtol=1e-12)
    np.testing.assert_allclose(np.asarray(dlfeval(laplacian, {"x": dlarray(X)}).data),
                               np.asarray(dlfeval(laplacian_of_a_name, dlarray(X)).data), rtol=1e-12)


def test_an_item_rebound_to_a_new_value():
    np.testing.assert_array_equal(np.asarray(dlfeval(rebound, {"x": dlarray(X)}).data), np.zeros((4, 3, 3)))


def pinn(p):
    u = np.tanh(p["x"] @ p["w"]) * p["x"]
    J = dljacobian(u, p["x"], 0)
    loss = np.sum(J ** 2)
    return loss, dlgradient(loss, p["w"])


def test_differentiated_again():
    loss, g = dlfeval(pinn, {"x": dlarray(X), "w": dlarray(W)})
    objective = lambda w: float(np.sum(per_point_jacobian(X, w) ** 2))     # noqa: E731
    np.testing.assert_allclose(float(loss), objective(W), rtol=1e-12)
    np.testing.assert_allclose(g.data, numerical_gradient(objective, [W], 0), rtol=1e-6, atol=1e-7)
