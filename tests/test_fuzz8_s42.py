"""Red team gen (s42): programs from scripts/fuzz8.py, a generator of the idioms users write
(configuration dicts passed with **, keyword-only helpers, partials, dataclasses, namedtuples,
class hierarchies, generators, comprehensions over p.items(), hand-written gradient descent on
copies, try/except, logging).  One test per finding; each failed before its fix."""
import numpy as np

import sct
from sct import dlarray, dlfeval, dlgradient
from gradcheck import assert_close, numerical_gradient

X = np.array([0.3, -0.2, 0.5, 1.0])
V = np.array([1.0, -0.5, 0.25, 2.0])


def _params():
    rng = np.random.default_rng(7)
    return {"W": rng.standard_normal((3, 4)), "b": rng.standard_normal(3), "s": 0.5}


# --- finding 1: forward mode through a comprehension over p.items() of a dict holding a float ----
# sct.jvp(lambda z: f(z, p), ...) where f reads `{k: 0.5 * v for k, v in p.items() if k != "s"}`:
# the tangent of d.items() came from the transposed rule, which gave the pair ("s", 0.5) the float
# zero itself instead of a pair of zeros; the loop unpacking it raised an internal
# "TypeError: 'float' object is not subscriptable" (fuzz8 seeds 58, 59).  Fixed: the tangent of
# d.items() / d.values() is built from the dict's tangent key by key (sct/transform_calls.py).
def _items_f(x, p):
    scaled = {key: 0.5 * val for key, val in p.items() if key != "s"}
    c = sum([np.mean(val) for val in scaled.values()])
    t = sum(np.sum(np.tanh(val) * p["s"]) for key, val in sorted(p.items()) if key in ("b", "W"))
    return c * np.sum(x ** 2) + t + np.sum(np.sin(p["W"] @ x))


def _items_only(x, p):
    scaled = {key: 0.5 * val for key, val in p.items() if key != "s"}
    return sum([np.mean(val) for val in scaled.values()]) * np.sum(x ** 2)


def test_jvp_through_items_of_a_dict_holding_a_float():
    p = _params()
    for fn in (_items_only, _items_f):
        y, t = sct.jvp(lambda z: fn(z, p), (X.copy(),), (V,))
        assert_close(np.asarray(getattr(y, "data", y)), fn(X, p), rtol=1e-12)
        fd = numerical_gradient(lambda z: fn(z, p), [X.copy()], 0)
        assert_close(float(np.asarray(getattr(t, "data", t))), float(np.sum(fd * V)), rtol=1e-6, atol=1e-8)



def test_jvp_through_items_along_a_parameter_in_the_dict():
    # the tangent of p["W"] must flow through p.items() and p.values()
    p = _params()
    dW = np.linspace(-1.0, 1.0, 12).reshape(3, 4)

    def g(W):
        return _items_f(X, {"W": W, "b": p["b"], "s": p["s"]})
    y, t = sct.jvp(g, (p["W"].copy(),), (dW,))
    assert_close(np.asarray(getattr(y, "data", y)), g(p["W"]), rtol=1e-12)
    fd = numerical_gradient(g, [p["W"].copy()], 0)
    assert_close(float(np.asarray(getattr(t, "data", t))), float(np.sum(fd * dW)), rtol=1e-6, atol=1e-8)


def test_gradient_through_items_of_a_dict_holding_a_float():
    p = _params()

    def fg(x, P):
        loss = _items_f(x, P)
        return loss, dlgradient(loss, x, P)
    y, (gx, gp) = dlfeval(fg, dlarray(X.copy()), {k: (dlarray(v) if isinstance(v, np.ndarray) else v)
                                                 for k, v in p.items()})
    assert_close(np.asarray(y.data), _items_f(X, p), rtol=1e-12)
    assert_close(np.asarray(gx.data), numerical_gradient(lambda z: _items_f(z, p), [X.copy()], 0))
    assert_close(np.asarray(gp["W"].data), numerical_gradient(
        lambda W: _items_f(X, {"W": W, "b": p["b"], "s": p["s"]}), [p["W"].copy()], 0))


def _loop_items(x, p):
    out = 0.0
    # (isi56: isinstance(v, (np.ndarray, sct.dlarray)), True for both: forward mode's code, compiled for
    # numpy's arrays and dlarrays alike, refuses isinstance(v, np.ndarray) of such an item)
    for k, v in p.items():
        if isinstance(v, (np.ndarray, sct.dlarray)):
            out = out + np.sum(np.tanh(v)) * np.sum(x ** 2)
        elif isinstance(v, float):
            out = out + v * x[0]
    keys = [k for k, v in p.items() if isinstance(v, (np.ndarray, sct.dlarray))]
    return out + sum(np.sum(p[k] ** 2) for k in keys) * np.sum(x)


def test_jvp_and_hvp_through_a_loop_over_items_with_floats_ints_and_strings():
    p = {"w": np.array([0.5, -1.0, 0.25, 2.0]), "s": 0.7, "n": 3, "name": "net"}
    y, t = sct.jvp(lambda z: _loop_items(z, p), (X.copy(),), (V,))
    assert_close(np.asarray(getattr(y, "data", y)), _loop_items(X, p), rtol=1e-12)
    fd = numerical_gradient(lambda z: _loop_items(z, p), [X.copy()], 0)
    assert_close(float(np.asarray(getattr(t, "data", t))), float(np.sum(fd * V)), rtol=1e-6, atol=1e-8)

    def fg(x):
        loss = _loop_items(x, p)
        return loss, dlgradient(loss, x)
    hv = sct.hvp(lambda z: _loop_items(z, p), X.copy(), V.copy())
    h = 1e-5
    want = (dlfeval(fg, dlarray(X + h * V))[1].data - dlfeval(fg, dlarray(X - h * V))[1].data) / (2 * h)
    assert_close(np.asarray(getattr(hv, "data", hv)), want, rtol=1e-5, atol=1e-6)
    assert_close(np.asarray(dlfeval(fg, dlarray(X.copy()))[1].data), fd)
