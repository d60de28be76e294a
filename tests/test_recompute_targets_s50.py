"""A site differentiated again whose sweep recomputes only the part after its roots' bindings
(sct/regions.py ``recompute_start``) where that part reads a value made from a root before it starts:
``q["b"]`` resolved through ``q = {"b": q1["b"]}`` and ``q1 = {"b": b}`` to ``b``, the part replaying
``q1["b"]`` from the dict ``q1`` (was: the sweep never read its parameter ``b``, g2[1] zero, the outer
gradient missing that path)."""
import numpy as np
import pytest

import sct
from sct import dlarray, dlfeval, dlgradient

A0 = np.array([0.3, -0.8])
B0 = np.array([0.5, 1.1])


def L(q):
    return np.sum(q["a"] ** 2) + np.sum(q["b"] ** 3)


def _gL(q):     # plain numpy gradient of L
    return {"a": 2 * q["a"], "b": 3 * q["b"] ** 2}


def plain(p, nested="dict", sum_s=False):
    """The plain program: two gradient steps, then L (its value; the derivative by FD)."""
    g = _gL(p)
    q1 = {"a": p["a"] - 0.1 * g["a"], "b": p["b"] - 0.1 * g["b"]}
    q = {"a": q1["a"] * 1.0, "b": q1["b"]}
    g2 = _gL(q)
    r = {"a": q["a"] - 0.1 * g2["a"], "b": q["b"] - 0.1 * g2["b"]}
    return L(r)


def fd(fun):
    out = {}
    for k in ("a", "b"):
        grad = np.zeros(2)
        for i in range(2):
            h = 1e-6
            pp = {"a": A0.copy(), "b": B0.copy()}
            pm = {"a": A0.copy(), "b": B0.copy()}
            pp[k][i] += h
            pm[k][i] -= h
            grad[i] = (fun(pp) - fun(pm)) / (2 * h)
        out[k] = grad
    return out


def f5(p):
    g = dlgradient(L(p), p)
    q1 = {"a": p["a"] - 0.1 * g["a"], "b": p["b"] - 0.1 * g["b"]}
    q = {"a": q1["a"] * 1.0, "b": q1["b"]}
    g2 = dlgradient(L(q), q["a"], q["b"])
    r = {"a": q["a"] - 0.1 * g2[0], "b": q["b"] - 0.1 * g2[1]}
    return dlgradient(L(r), p)


def f5_dict(p):
    g = dlgradient(L(p), p)
    q1 = {"a": p["a"] - 0.1 * g["a"], "b": p["b"] - 0.1 * g["b"]}
    q = {"a": q1["a"] * 1.0, "b": q1["b"]}
    g2 = dlgradient(L(q), q)
    r = {"a": q["a"] - 0.1 * g2["a"], "b": q["b"] - 0.1 * g2["b"]}
    return dlgradient(L(r), p)


def Ll(q):
    return np.sum(q[0] ** 2) + np.sum(q[1] ** 3)


def f5_list(p):
    g = dlgradient(L(p), p)
    q1 = [p["a"] - 0.1 * g["a"], p["b"] - 0.1 * g["b"]]
    q = [q1[0] * 1.0, q1[1]]
    g2 = dlgradient(Ll(q), q[0], q[1])
    r = {"a": q[0] - 0.1 * g2[0], "b": q[1] - 0.1 * g2[1]}
    return dlgradient(L(r), p)


def build(q1):
    return {"a": q1["a"] * 1.0, "b": q1["b"]}


def f5_helper(p):
    g = dlgradient(L(p), p)
    q1 = {"a": p["a"] - 0.1 * g["a"], "b": p["b"] - 0.1 * g["b"]}
    q = build(q1)
    g2 = dlgradient(L(q), q["a"], q["b"])
    r = {"a": q["a"] - 0.1 * g2[0], "b": q["b"] - 0.1 * g2[1]}
    return dlgradient(L(r), p)


def f5_alias(p):
    # no resolution through an item: the part reads the dict q1 holding the root b
    g = dlgradient(L(p), p)
    b = p["b"] - 0.1 * g["b"]
    q1 = {"a": p["a"] - 0.1 * g["a"], "b": b}
    c = q1["a"] * 1.0
    g2 = dlgradient(np.sum(c ** 2) + np.sum(q1["b"] ** 3), c, b)
    r = {"a": c - 0.1 * g2[0], "b": b - 0.1 * g2[1]}
    return dlgradient(L(r), p)


def f5_derived(p):
    # the part reads s, computed from the root b before the other root c is bound
    g = dlgradient(L(p), p)
    b = p["b"] - 0.1 * g["b"]
    s = np.sum(b ** 3)
    c = (p["a"] - 0.1 * g["a"]) * 1.0
    g2 = dlgradient(np.sum(c ** 2) + s, c, b)
    r = {"a": c - 0.1 * g2[0], "b": b - 0.1 * g2[1]}
    return dlgradient(L(r), p)


@pytest.mark.parametrize("f", [f5, f5_dict, f5_list, f5_helper, f5_alias, f5_derived])
def test_second_order_through_held_root_matches_fd(f):
    sct.clear_cache()
    got = dlfeval(f, {"a": dlarray(A0), "b": dlarray(B0)})
    ref = fd(plain)
    np.testing.assert_allclose(np.asarray(got["a"]), ref["a"], rtol=1e-5, atol=1e-7)
    np.testing.assert_allclose(np.asarray(got["b"]), ref["b"], rtol=1e-5, atol=1e-7)


def first(p):
    g = dlgradient(L(p), p)
    q1 = {"a": p["a"] - 0.1 * g["a"], "b": p["b"] - 0.1 * g["b"]}
    q = {"a": q1["a"] * 1.0, "b": q1["b"]}
    g2 = dlgradient(L(q), q["a"], q["b"])
    return g2[0], g2[1]


def test_inner_gradient_value_exact():
    sct.clear_cache()
    ga, gb = dlfeval(first, {"a": dlarray(A0), "b": dlarray(B0)})
    q1b = B0 - 0.1 * 3 * B0 ** 2
    q1a = A0 - 0.1 * 2 * A0
    np.testing.assert_allclose(np.asarray(ga), 2 * q1a, rtol=1e-12)
    np.testing.assert_allclose(np.asarray(gb), 3 * q1b ** 2, rtol=1e-12)
