"""A nested comprehension over a dict of dicts given to the function (a pytree update,
``{k: {kk: p[k][kk] - lr * g[k][kk] for kk in p[k]} for k in p}``): the inner keys are the caller's,
constants, as the outer ones are (was refused: "a value stored in a dict under a key computed from a
traced value")."""
import numpy as np
import pytest

from sct import dlarray, dlfeval, dlgradient
from sct.errors import SctError


def params():
    return {"a": {"W": np.array([1.0, 2.0]), "b": np.array([0.3])},
            "c": {"W": np.array([0.5, 0.1]), "b": np.array([-0.2])}}


def loss_of(p, x):
    h = np.tanh(x * p["a"]["W"] + p["a"]["b"])
    return np.sum(h * p["c"]["W"] + p["c"]["b"])


def sgd_step(p, x):
    l = loss_of(p, x)
    g = dlgradient(l, p)
    q = {k: {kk: p[k][kk] - 0.5 * g[k][kk] for kk in p[k]} for k in p}
    return l, q


def doubled(p, x):
    q = {k: {kk: p[k][kk] * 2.0 for kk in p[k]} for k in p}
    y = loss_of(q, x)
    return y, dlgradient(y, p)


def test_nested_comprehension_update_is_plain_sgd():
    x = np.array([1.0, -0.5])
    p = params()
    l, q = dlfeval(sgd_step, {k: {kk: dlarray(v) for kk, v in d.items()} for k, d in p.items()}, x)
    eps = 1e-6
    for k in p:
        for kk in p[k]:
            g = np.zeros_like(p[k][kk])
            for i in range(g.size):
                hi, lo = params(), params()
                hi[k][kk][i] += eps
                lo[k][kk][i] -= eps
                g[i] = (loss_of(hi, x) - loss_of(lo, x)) / (2 * eps)
            np.testing.assert_allclose(np.asarray(q[k][kk]), p[k][kk] - 0.5 * g, rtol=1e-6, atol=1e-8)


def test_nested_comprehension_differentiated_through():
    x = np.array([1.0, -0.5])
    p = params()
    y, g = dlfeval(doubled, {k: {kk: dlarray(v) for kk, v in d.items()} for k, d in p.items()}, x)
    h = np.tanh(x * 2 * p["a"]["W"] + 2 * p["a"]["b"])
    dh = 2 * p["c"]["W"] * (1 - h ** 2)
    np.testing.assert_allclose(np.asarray(g["a"]["W"]), 2 * dh * x, rtol=1e-10)
    np.testing.assert_allclose(np.asarray(g["c"]["W"]), 2 * h, rtol=1e-10)
    np.testing.assert_allclose(np.asarray(g["c"]["b"]), [4.0], rtol=1e-10)


def int_keys(p, x):
    q = {k: {kk: p[k][kk] * kk for kk in p[k]} for k in p}
    y = sum(np.sum(v * x) for d in q.values() for v in d.values())
    return y, dlgradient(y, x)


def test_int_inner_keys_read_back_as_numbers():
    p = {0: {1: np.array([1.0, 2.0]), 2: np.array([3.0, 1.0])}, 5: {3: np.array([0.5, 0.5])}}
    y, g = dlfeval(int_keys, p, dlarray(np.array([0.3, 0.7])))
    np.testing.assert_allclose(np.asarray(g), [1 + 6 + 1.5, 2 + 2 + 1.5])


def traced_inner_key(p, x):
    inner = p[0]
    q = dict(inner)
    q[x[0]] = 1.0
    y = np.sum(x) + sum(k * v for k, v in q.items())
    return y, dlgradient(y, x)


def test_a_traced_key_stored_into_the_inner_dict_is_still_refused():
    p = {0: {1: 2.0}}
    with pytest.raises(SctError, match="key computed from a traced value"):
        dlfeval(traced_inner_key, p, dlarray(np.array([0.3, 0.7])))
