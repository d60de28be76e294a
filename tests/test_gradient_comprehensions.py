"""``dlgradient(y, *[p[k] for k in ("W", "b")])``: a comprehension over written-out constants in
dlgradient's arguments is the display it builds (sct/normalize.py: unroll_gradient_comprehensions),
so its x are the items themselves; other comprehensions there stay refused (a new value)."""
import numpy as np
import pytest

from sct import CompileError, dlarray, dlfeval, dlgradient
from gradcheck import D, numerical_gradient

pytestmark = pytest.mark.usefixtures("fresh_cache")


def _params():
    r = np.random.default_rng(3)
    return {"W": dlarray(r.standard_normal((3, 2))), "b": dlarray(r.standard_normal(2)),
            "s": dlarray(np.array(0.7))}


def _loss_plain(W, b, s, X):
    return float(np.sum(np.tanh(X @ W + b) ** 2) * s)


X = np.random.default_rng(4).standard_normal((5, 3))


def _expected(p):
    W, b, s = (D(p[k]) for k in ("W", "b", "s"))
    return {"W": numerical_gradient(lambda w: _loss_plain(w, b, s, X), [W], 0),
            "b": numerical_gradient(lambda v: _loss_plain(W, v, s, X), [b], 0),
            "s": numerical_gradient(lambda t: _loss_plain(W, b, t, X), [s], 0)}


def starred_list(p, X):
    y = np.sum(np.tanh(X @ p["W"] + p["b"]) ** 2) * p["s"]
    return dlgradient(y, *[p[k] for k in ("W", "b")])


def starred_generator(p, X):
    y = np.sum(np.tanh(X @ p["W"] + p["b"]) ** 2) * p["s"]
    return dlgradient(y, *(p[k] for k in ["W", "s"]))


def list_arg(p, X):
    y = np.sum(np.tanh(X @ p["W"] + p["b"]) ** 2) * p["s"]
    return dlgradient(y, [p[k] for k in ("b", "s", "W")])


def dict_arg(p, X):
    y = np.sum(np.tanh(X @ p["W"] + p["b"]) ** 2) * p["s"]
    return dlgradient(y, {k: p[k] for k in ("W", "b")})


def by_position(p, X):
    ws = [p["W"], p["b"]]
    y = np.sum(np.tanh(X @ ws[0] + ws[1]) ** 2) * p["s"]
    return dlgradient(y, *[ws[i] for i in range(2)])


@pytest.mark.parametrize("fun, keys", [(starred_list, ("W", "b")), (starred_generator, ("W", "s")),
                                       (list_arg, ("b", "s", "W")), (by_position, ("W", "b"))])
def test_sequence_of_items(fun, keys):
    p = _params()
    got = dlfeval(fun, p, X)
    assert type(got) is (list if fun is list_arg else tuple) and len(got) == len(keys)
    want = _expected(p)
    for g, k in zip(got, keys):
        np.testing.assert_allclose(D(g), want[k], rtol=1e-6, atol=1e-8)


def test_dict_of_items():
    p = _params()
    got = dlfeval(dict_arg, p, X)
    assert list(got) == ["W", "b"]
    want = _expected(p)
    for k in got:
        np.testing.assert_allclose(D(got[k]), want[k], rtol=1e-6, atol=1e-8)


def computed_items(p, X):
    y = np.sum(np.tanh(X @ p["W"] + p["b"]) ** 2)
    return dlgradient(y, *[p[k] * 2 for k in ("W", "b")])


def filtered(p, X):
    y = np.sum(np.tanh(X @ p["W"] + p["b"]) ** 2)
    return dlgradient(y, *[p[k] for k in ("W", "b") if k != "s"])


def over_a_name(p, X):
    keys = ("W", "b")
    y = np.sum(np.tanh(X @ p["W"] + p["b"]) ** 2)
    return dlgradient(y, *[p[k] for k in keys])


@pytest.mark.parametrize("fun", [computed_items, filtered, over_a_name])
def test_other_comprehensions_still_refused(fun):
    # (a list filled from p by the comprehension's own loop on the site's line: refused as made in the
    # call, or as filled from p, whichever check meets it first)
    with pytest.raises(CompileError, match="new value made in the call itself|filled on line"):
        dlfeval(fun, _params(), X)
