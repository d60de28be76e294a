"""Helpers whose arguments are other helpers' values are compiled with their caller (issue 8, item 2).

``relu(dense(W2, b2, relu(dense(W1, b1, X))))``: each helper's argument kinds follow from the kind of
the value the previous one returns (sct.call_tree._value_kind: binary ufuncs such as np.maximum with
a Python number, reductions with axis/keepdims), over as many rounds as there are calls, so the
generated code calls every helper's generated code directly (``rt.guard_holds`` checks the predicted
kinds at run time) instead of looking it up on each call (``rt.vjp_at``, "compiled on first call").
Values against plain Python, gradients against finite differences, dtypes kept (float32).
"""
import numpy as np
import pytest

import sct
from sct import dlarray, dlfeval, dlgradient

from gradcheck import assert_close, check_grads, numerical_gradient


def relu(x):
    return np.maximum(x, 0)


def dense(W, b, x):
    return x @ W + b


def softmax_ce(Z, T):
    Z = Z - np.max(Z, axis=1, keepdims=True)
    logp = Z - np.log(np.sum(np.exp(Z), axis=1, keepdims=True))
    return -np.sum(T * logp) / Z.shape[0]


def model(W1, b1, W2, b2, W3, b3, X):
    H = relu(dense(W1, b1, X))
    H = relu(dense(W2, b2, H))
    return dense(W3, b3, H)


def loss_fn(W1, b1, W2, b2, W3, b3, X, T):
    return softmax_ce(model(W1, b1, W2, b2, W3, b3, X), T)


def loss_and_grads(W1, b1, W2, b2, W3, b3, X, T):
    loss = loss_fn(W1, b1, W2, b2, W3, b3, X, T)
    return (loss,) + tuple(dlgradient(loss, W1, b1, W2, b2, W3, b3))


def row_norms(h):
    return np.sqrt(np.sum(h * h, axis=1))


def scale_rows(h, s):
    return h / np.maximum(s, 1e-3)[:, None]


def chain_of_reductions(x):
    h = np.tanh(x)
    s = row_norms(h)                 # a reduction with axis: rank 1
    u = scale_rows(h, s)
    return np.sum(np.minimum(u, 0.5) ** 2)


def chain_of_reductions_grad(x):
    y = chain_of_reductions(x)
    return y, dlgradient(y, x)


def _net(dtype, seed=0):
    rng = np.random.default_rng(seed)
    shapes = [(6, 5), (5,), (5, 4), (4,), (4, 3), (3,)]
    params = [(0.5 * rng.standard_normal(s)).astype(dtype) for s in shapes]
    X = rng.standard_normal((7, 6)).astype(dtype)
    T = np.eye(3, dtype=dtype)[rng.integers(0, 3, 7)]
    return params, X, T


def test_chained_helpers_are_called_directly():
    params, X, T = _net(np.float64)
    text = str(sct.source(loss_and_grads, *[dlarray(p) for p in params], X, T, callees=True))
    assert "run time only" not in text
    assert "rt.vjp_at(" not in text.replace("else rt.vjp_at(", "")   # only as the guard's fallback


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_chained_helpers_values_and_gradients(dtype):
    params, X, T = _net(dtype)
    out = dlfeval(loss_and_grads, *[dlarray(p) for p in params], X, T)
    expected = loss_fn(*params, X, T)
    tol = 1e-5 if dtype == np.float32 else 1e-12
    np.testing.assert_allclose(float(out[0].data), expected, rtol=tol)
    for g, p in zip(out[1:], params):
        assert g.data.dtype == p.dtype
    if dtype == np.float64:
        f = lambda W1, b1, W2, b2, W3, b3: loss_fn(W1, b1, W2, b2, W3, b3, X, T)   # noqa: E731
        for i, g in enumerate(out[1:]):
            assert_close(g.data, numerical_gradient(f, params, i), 1e-5, 1e-6, what=f"d/dparam{i}")
    else:           # the float32 gradients are the float64 ones, rounded
        ref = dlfeval(loss_and_grads, *[dlarray(p.astype(np.float64)) for p in params],
                      X.astype(np.float64), T.astype(np.float64))
        for g, r in zip(out[1:], ref[1:]):
            np.testing.assert_allclose(g.data, r.data, rtol=2e-4, atol=2e-5)


def test_second_call_with_other_kinds_falls_back():
    """The predicted kinds are checked on each call: float32 after float64 (the same compiled caller
    sees other kinds only through a new cache entry, but a helper's guard must still hold)."""
    for dtype in (np.float64, np.float32, np.float64):
        params, X, T = _net(dtype, seed=3)
        out = dlfeval(loss_and_grads, *[dlarray(p) for p in params], X, T)
        np.testing.assert_allclose(float(out[0].data), loss_fn(*params, X, T),
                                   rtol=1e-5 if dtype == np.float32 else 1e-12)


def test_reductions_with_axis_resolve():
    x = np.random.default_rng(1).standard_normal((4, 3))
    text = str(sct.source(chain_of_reductions_grad, dlarray(x), callees=True))
    assert "run time only" not in text
    y, g = dlfeval(chain_of_reductions_grad, dlarray(x))
    np.testing.assert_allclose(float(y.data), chain_of_reductions(x), rtol=1e-12)
    check_grads(chain_of_reductions, x)


# --- helpers called in a loop over a list of layers, and with a dict's entries -----------------------

def layer(h, W, b):
    return np.tanh(h @ W + b)


def head(h, W):
    return np.sum(h @ W, axis=1)


def looped_net(params, X):
    h = X
    for W, b in params[:-1]:
        h = layer(h, W, b)
    return head(h, params[-1])


def looped_grad(params, X):
    y = np.sum(looped_net(params, X) ** 2)
    return y, dlgradient(y, params)


def dict_net(p, X):
    h = layer(X, p["W1"], p["b1"])
    h = layer(h, p["W2"], p["b2"])
    return head(h, p["W3"])


def dict_grad(p, X):
    y = np.mean(dict_net(p, X) ** 2)
    return y, dlgradient(y, p)


def _layers(rng, sizes=(3, 5, 4)):
    params = [(0.7 * rng.standard_normal((a, b)), 0.1 * rng.standard_normal(b)) for a, b in zip(sizes, sizes[1:])]
    return params + [rng.standard_normal((sizes[-1], 1))]


def test_helpers_in_a_loop_over_layers_are_called_directly():
    rng = np.random.default_rng(5)
    params = _layers(rng)
    X = rng.standard_normal((6, 3))
    dl = [(dlarray(W), dlarray(b)) for W, b in params[:-1]] + [dlarray(params[-1])]
    text = str(sct.source(looped_grad, dl, X, callees=True))
    assert "run time only" not in text
    y, g = dlfeval(looped_grad, dl, X)
    np.testing.assert_allclose(float(y.data), np.sum(looped_net(params, X) ** 2), rtol=1e-12)
    flat = [a for W, b in params[:-1] for a in (W, b)] + [params[-1]]

    def f(*arrays):
        ps = [(arrays[2 * i], arrays[2 * i + 1]) for i in range(len(params) - 1)] + [arrays[-1]]
        return np.sum(looped_net(ps, X) ** 2)

    got = [a.data for W, b in g[:-1] for a in (W, b)] + [g[-1].data]
    for i, a in enumerate(got):
        assert_close(a, numerical_gradient(f, flat, i), 1e-5, 1e-6, what=f"d/dleaf{i}")


def test_layers_of_other_shapes_in_one_loop_still_agree():
    """Items of one kind (rank and dtype) but other shapes: the predicted kinds hold, each call's
    numbers are its own; then a list whose items differ in rank (guards fall back)."""
    rng = np.random.default_rng(6)
    for sizes in ((2, 7, 3), (4, 4, 4, 2)):
        params = _layers(rng, sizes)
        X = rng.standard_normal((5, sizes[0]))
        dl = [(dlarray(W), dlarray(b)) for W, b in params[:-1]] + [dlarray(params[-1])]
        y, g = dlfeval(looped_grad, dl, X)
        np.testing.assert_allclose(float(y.data), np.sum(looped_net(params, X) ** 2), rtol=1e-12)
    params = _layers(rng, (3, 3, 3))
    params[1] = (params[1][0], float(params[1][1][0]))      # a Python float bias in the second layer
    X = rng.standard_normal((4, 3))
    dl = [(dlarray(W), b if isinstance(b, float) else dlarray(b)) for W, b in params[:-1]] + [dlarray(params[-1])]
    y, g = dlfeval(looped_grad, dl, X)
    np.testing.assert_allclose(float(y.data), np.sum(looped_net(params, X) ** 2), rtol=1e-12)

    def f(W0):
        ps = [(W0, params[0][1])] + params[1:]
        return np.sum(looped_net(ps, X) ** 2)

    assert_close(g[0][0].data, numerical_gradient(f, [params[0][0]], 0), 1e-5, 1e-6, what="dW0")


def test_dict_entries_give_helpers_their_kinds():
    rng = np.random.default_rng(7)
    p = {"W1": rng.standard_normal((3, 5)), "b1": np.zeros(5), "W2": rng.standard_normal((5, 4)),
         "b2": 0.1 * np.ones(4), "W3": rng.standard_normal((4, 1))}
    X = rng.standard_normal((6, 3))
    dl = {k: dlarray(v) for k, v in p.items()}
    assert "run time only" not in str(sct.source(dict_grad, dl, X, callees=True))
    y, g = dlfeval(dict_grad, dl, X)
    np.testing.assert_allclose(float(y.data), np.mean(dict_net(p, X) ** 2), rtol=1e-12)
    keys = list(p)

    def f(*arrays):
        return np.mean(dict_net(dict(zip(keys, arrays)), X) ** 2)

    for i, k in enumerate(keys):
        assert_close(g[k].data, numerical_gradient(f, [p[k] for k in keys], i), 1e-5, 1e-6, what=f"d/d{k}")
