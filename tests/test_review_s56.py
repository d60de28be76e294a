"""Stop 56, found in review: heavy-ball momentum written in place over the caller's dicts (red2_56 F2:
``v[k] = 0.9 * v[k] + g[k]; p[k] = p[k] - lr * v[k]`` after dlgradient was refused when it ran, the item's type
``p[k]`` by a key known only when it runs not known, and the caller's ``v`` already half updated)."""
import numpy as np

import sct
from gradcheck import numerical_gradient
from sct import dlarray, dlfeval, dlgradient, extractdata, fullyconnect, mse

X = np.array([[1.0, 0.5, -0.3], [0.2, -1.0, 0.7], [0.4, 0.1, 0.9], [-0.6, 0.3, 0.2]])
T = np.array([[0.1, -0.2], [0.3, 0.0], [-0.1, 0.4], [0.2, 0.2]])


def _loss(p):
    return mse(fullyconnect(X, p["W"], p["b"]), T)


def _step(p, v, lr):
    loss = _loss(p)
    g = dlgradient(loss, p)
    for k in p:
        v[k] = 0.9 * v[k] + g[k]
        p[k] = p[k] - lr * v[k]
    return loss


def _plain_loss(W, b):
    return float(extractdata(mse(fullyconnect(X, dlarray(W), dlarray(b)), T)))


def test_momentum_in_place_over_the_callers_dicts_is_exact():
    W0, b0 = np.linspace(-0.5, 0.5, 6).reshape(2, 3), np.array([0.1, -0.1])
    p = {"W": dlarray(W0.copy()), "b": dlarray(b0.copy())}
    v = {"W": np.zeros((2, 3)), "b": np.zeros(2)}
    W, b, vW, vb = W0.copy(), b0.copy(), np.zeros((2, 3)), np.zeros(2)
    for _ in range(3):
        loss = dlfeval(_step, p, v, 0.1)
        assert abs(float(extractdata(loss)) - _plain_loss(W, b)) < 1e-12
        gW = numerical_gradient(lambda a: _plain_loss(a, b), [W.copy()], 0)
        gb = numerical_gradient(lambda a: _plain_loss(W, a), [b.copy()], 0)
        vW, vb = 0.9 * vW + gW, 0.9 * vb + gb
        W, b = W - 0.1 * vW, b - 0.1 * vb
        np.testing.assert_allclose(extractdata(p["W"]), W, rtol=1e-6, atol=1e-8)
        np.testing.assert_allclose(extractdata(p["b"]), b, rtol=1e-6, atol=1e-8)
        np.testing.assert_allclose(extractdata(v["W"]), vW, rtol=1e-6, atol=1e-8)
    # as in Python: an operation on a dlarray (the gradient) gives a dlarray
    assert all(type(a) is sct.dlarray for a in (*p.values(), *v.values()))


def test_no_module_defines_a_function_twice():
    """Two merges each added a ``_same_items`` to runtime/effects.py: the later one replaced the earlier, and a
    loop over an object's ``__iter__`` before a second-order dlgradient was refused (test_objs_dec3).  No module of
    sct/ or runtime/ defines a top-level name twice."""
    import ast
    import pathlib
    root = pathlib.Path(__file__).resolve().parent.parent
    twice = []
    for path in sorted([*root.joinpath("sct").glob("*.py"), *root.joinpath("runtime").glob("*.py")]):
        names = [n.name for n in ast.parse(path.read_text()).body
                 if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef))]
        twice += [f"{path.name}: {n}" for n in sorted({n for n in names if names.count(n) > 1})]
    assert not twice, twice
