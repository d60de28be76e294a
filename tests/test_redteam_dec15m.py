"""Red team M (training loops): plain (not dlarray) float arrays and numbers among the leaves of a
structure of parameters are constants whether the model-loss function reads them by key or by a loop
over the structure (was: a loop ``for w in p.values()`` differentiated them as variables while
``p["W"]`` read them as constants, so a gradient held only a part of their uses); the optimizers'
trajectories match numpy references of MATLAB's formulas over many iterations."""
import numpy as np
import pytest

from sct import (adamupdate, dlarray, dlfeval, dlgradient, extractdata, rmspropupdate, sgdmupdate)

from gradcheck import assert_close, numerical_gradient

rng = np.random.default_rng(15)
W_PLAIN = rng.standard_normal((2, 3))
W_DL = rng.standard_normal((2, 3))
B0 = rng.standard_normal(2)
X = rng.standard_normal(3)


def D(v):
    return np.asarray(extractdata(v)) if isinstance(v, dlarray) else np.asarray(v)


def loss_loop_values(P, x):
    y = P["W"] @ x + P["b"]
    L = np.sum(y ** 2)
    for w in P.values():                    # an L2 penalty over all parameters
        L = L + 0.1 * np.sum(w ** 2)
    return L, dlgradient(L, P)


def loss_loop_items(P, x):
    y = P["W"] @ x + P["b"]
    L = np.sum(y ** 2)
    for name, w in P.items():
        L = L + 0.1 * np.sum(w ** 2)
    return L, dlgradient(L, P)


def loss_loop_keys(P, x):
    y = P["W"] @ x + P["b"]
    L = np.sum(y ** 2)
    for k in P:
        L = L + 0.1 * np.sum(P[k] ** 2)
    return L, dlgradient(L, P)


def loss_direct(P, x):
    y = P["W"] @ x + P["b"]
    L = np.sum(y ** 2) + 0.1 * np.sum(P["W"] ** 2) + 0.1 * np.sum(P["b"] ** 2)
    return L, dlgradient(L, P)


def loss_list(P, x):
    y = P[0] @ x + P[1]
    L = np.sum(y ** 2)
    for w in P:
        L = L + 0.1 * np.sum(w ** 2)
    return L, dlgradient(L, P)


def _numpy_loss(W, b):
    y = W @ X + b
    return np.sum(y ** 2) + 0.1 * np.sum(W ** 2) + 0.1 * np.sum(b ** 2)


@pytest.mark.parametrize("fun", [loss_loop_values, loss_loop_items, loss_loop_keys, loss_direct])
def test_plain_array_leaf_is_a_constant_however_read(fun):
    # W a plain ndarray (a constant, as numpy arrays passed to dlfeval are), b a dlarray
    L, G = dlfeval(fun, {"W": W_PLAIN, "b": dlarray(B0)}, X)
    assert_close(D(L), _numpy_loss(W_PLAIN, B0), rtol=1e-12)
    assert_close(D(G["W"]), np.zeros_like(W_PLAIN), atol=0, what="a plain array's gradient")
    assert_close(D(G["b"]), numerical_gradient(_numpy_loss, [W_PLAIN, B0], 1), rtol=1e-6, atol=1e-7)


@pytest.mark.parametrize("fun", [loss_loop_values, loss_loop_items, loss_loop_keys, loss_direct])
def test_dlarray_leaves_get_their_whole_gradient(fun):
    L, G = dlfeval(fun, {"W": dlarray(W_DL), "b": dlarray(B0)}, X)
    assert_close(D(G["W"]), numerical_gradient(_numpy_loss, [W_DL, B0], 0), rtol=1e-6, atol=1e-7)
    assert_close(D(G["b"]), numerical_gradient(_numpy_loss, [W_DL, B0], 1), rtol=1e-6, atol=1e-7)


@pytest.mark.parametrize("container", [list, tuple])
def test_plain_array_in_a_list_is_a_constant(container):
    L, G = dlfeval(loss_list, container([W_PLAIN, dlarray(B0)]), X)
    assert type(G) is container
    assert_close(D(G[0]), np.zeros_like(W_PLAIN), atol=0)
    assert_close(D(G[1]), numerical_gradient(_numpy_loss, [W_PLAIN, B0], 1), rtol=1e-6, atol=1e-7)


def loss_scale(P, x):
    L = np.sum(P["b"] * x[:2]) * P["s"]
    for v in P.values():
        L = L + np.sum(v * v)
    return L, dlgradient(L, P)


@pytest.mark.parametrize("s", [0.5, np.float64(0.5)])
def test_plain_number_leaf_is_a_constant(s):
    L, G = dlfeval(loss_scale, {"s": s, "b": dlarray(B0)}, X)
    assert float(D(G["s"])) == 0.0
    assert_close(D(G["b"]), X[:2] * s + 2 * B0, rtol=1e-12)


def loss_nested(P, x):
    h = P["layers"][0]["W"] @ x + P["layers"][0]["b"]
    y = P["layers"][1]["W"] @ np.tanh(h) * P["scale"]
    L = np.sum(y ** 2)
    for layer in P["layers"]:
        for name, w in layer.items():
            L = L + 0.01 * np.sum(w ** 2)
    return L, dlgradient(L, P)


def test_nested_mixed_structure_training_step():
    W0, b0, W1 = rng.standard_normal((3, 3)), rng.standard_normal(3), rng.standard_normal((2, 3))
    s = np.array(0.7)

    def f(W0, b0, W1, s):
        y = W1 @ np.tanh(W0 @ X + b0) * s
        return np.sum(y ** 2) + 0.01 * (np.sum(W0 ** 2) + np.sum(b0 ** 2) + np.sum(W1 ** 2))
    args = [W0, b0, W1, s]
    # W1 plain: a constant (zero), the others traced (was: W1's gradient the penalty's part only)
    P = {"layers": [{"W": dlarray(W0), "b": dlarray(b0)}, {"W": W1}], "scale": dlarray(s)}
    L, G = dlfeval(loss_nested, P, X)
    assert_close(D(L), f(*args), rtol=1e-12)
    assert_close(D(G["layers"][0]["W"]), numerical_gradient(f, args, 0), rtol=1e-6, atol=1e-7)
    assert_close(D(G["layers"][0]["b"]), numerical_gradient(f, args, 1), rtol=1e-6, atol=1e-7)
    assert_close(D(G["layers"][1]["W"]), np.zeros_like(W1), atol=0)
    assert_close(D(G["scale"]), numerical_gradient(f, args, 3), rtol=1e-6, atol=1e-7)
    # all dlarrays: every gradient whole
    P = {"layers": [{"W": dlarray(W0), "b": dlarray(b0)}, {"W": dlarray(W1)}], "scale": dlarray(s)}
    L, G = dlfeval(loss_nested, P, X)
    assert_close(D(G["layers"][1]["W"]), numerical_gradient(f, args, 2), rtol=1e-6, atol=1e-7)


# --- optimizers against numpy references of MATLAB's formulas ---------------------------------------

def _ref_adam(p, g, m, v, t, lr, b1, b2, eps):
    m = b1 * m + (1 - b1) * g
    v = b2 * v + (1 - b2) * g * g
    return p - lr * np.sqrt(1 - b2 ** t) / (1 - b1 ** t) * m / (np.sqrt(v) + eps), m, v


def test_adam_trajectory_nested_structure_schedule_and_zero_gradients():
    r = np.random.default_rng(3)
    shapes = {"a": (3, 4), "b": (4,), "c": ()}
    P = {"l": [{k: dlarray(r.standard_normal(s)) for k, s in shapes.items()}], "t": (dlarray(r.standard_normal(2)),)}
    ref = {k: D(v).copy() for k, v in P["l"][0].items()}
    ref["t"] = D(P["t"][0]).copy()
    rm = {k: np.zeros_like(v) for k, v in ref.items()}
    rv = {k: np.zeros_like(v) for k, v in ref.items()}
    m = v = None
    for it in range(1, 80):
        lr = 0.01 / (1 + 0.1 * it)
        zero = it % 7 == 0
        G = {"l": [{k: r.standard_normal(s) * (0 if zero else 1) for k, s in shapes.items()}],
             "t": (r.standard_normal(2),)}
        P, m, v = adamupdate(P, G, m, v, it, lr, 0.8, 0.99, 1e-6)
        grads = dict(G["l"][0], t=G["t"][0])
        for k in ref:
            ref[k], rm[k], rv[k] = _ref_adam(ref[k], grads[k], rm[k], rv[k], it, lr, 0.8, 0.99, 1e-6)
    for k in shapes:
        assert_close(D(P["l"][0][k]), ref[k], rtol=1e-10, atol=0)
        assert_close(D(m["l"][0][k]), rm[k], rtol=1e-10, atol=0)
        assert_close(D(v["l"][0][k]), rv[k], rtol=1e-10, atol=0)
    assert type(P["t"]) is tuple and type(m["t"]) is tuple
    assert_close(D(P["t"][0]), ref["t"], rtol=1e-10, atol=0)


def test_sgdm_and_rmsprop_trajectories():
    r = np.random.default_rng(4)
    p = {"w": dlarray(r.standard_normal(3))}
    q = {"w": dlarray(r.standard_normal(3))}
    rp, rq = D(p["w"]).copy(), D(q["w"]).copy()
    vel, sq = None, None
    rvel, rsq = np.zeros(3), np.zeros(3)
    for it in range(60):
        g = r.standard_normal(3)
        p, vel = sgdmupdate(p, {"w": g}, vel, 0.05, 0.8)
        rvel = 0.8 * rvel - 0.05 * g
        rp = rp + rvel
        q, sq = rmspropupdate(q, {"w": g}, sq, 0.01, 0.95, 1e-6)
        rsq = 0.95 * rsq + 0.05 * g * g
        rq = rq - 0.01 * g / (np.sqrt(rsq) + 1e-6)
    assert_close(D(p["w"]), rp, rtol=1e-10, atol=0)
    assert_close(D(vel["w"]), rvel, rtol=1e-10, atol=0)
    assert_close(D(q["w"]), rq, rtol=1e-10, atol=0)


def test_adam_keeps_float32():
    r = np.random.default_rng(5)
    p = dlarray(r.standard_normal(5).astype(np.float32))
    m = v = None
    for it in range(1, 4):
        p, m, v = adamupdate(p, r.standard_normal(5), m, v, it)
        assert D(p).dtype == D(m).dtype == D(v).dtype == np.float32


def l2_penalty(P):
    total = 0.0
    for w in P.values():
        total = total + np.sum(w ** 2)
    return total


def loss_penalty_helper(P, x):
    y = P["W"] @ x + P["b"]
    L = np.sum(y ** 2) + 0.1 * l2_penalty(P)
    return L, dlgradient(L, P)


def loss_alias(P, x):
    Q = P
    y = Q["W"] @ x + Q["b"]
    L = np.sum(y ** 2)
    for w in Q.values():
        L = L + 0.1 * np.sum(w ** 2)
    return L, dlgradient(L, Q)


@pytest.mark.parametrize("fun", [loss_penalty_helper, loss_alias])
def test_plain_leaf_constant_through_a_helper_or_a_copy(fun):
    L, G = dlfeval(fun, {"W": W_PLAIN, "b": dlarray(B0)}, X)
    assert_close(D(L), _numpy_loss(W_PLAIN, B0), rtol=1e-12)
    assert_close(D(G["W"]), np.zeros_like(W_PLAIN), atol=0)
    assert_close(D(G["b"]), numerical_gradient(_numpy_loss, [W_PLAIN, B0], 1), rtol=1e-6, atol=1e-7)
    L, G = dlfeval(fun, {"W": dlarray(W_DL), "b": dlarray(B0)}, X)
    assert_close(D(G["W"]), numerical_gradient(_numpy_loss, [W_DL, B0], 0), rtol=1e-6, atol=1e-7)


def test_plain_leaf_constant_under_dlaccelerate():
    from sct import dlaccelerate
    acc = dlaccelerate(loss_loop_values)
    for n in (3, 3, 3):
        L, G = dlfeval(acc, {"W": W_PLAIN, "b": dlarray(B0)}, X)
        assert_close(D(G["W"]), np.zeros_like(W_PLAIN), atol=0)
        assert_close(D(G["b"]), numerical_gradient(_numpy_loss, [W_PLAIN, B0], 1), rtol=1e-6, atol=1e-7)
    L, G = dlfeval(acc, {"W": dlarray(W_DL), "b": dlarray(B0)}, X)
    assert_close(D(G["W"]), numerical_gradient(_numpy_loss, [W_DL, B0], 0), rtol=1e-6, atol=1e-7)


def loss_subtree(P, x):
    L = np.sum(P["net"]["b"] * x[:2])
    for w in P["net"].values():
        L = L + np.sum(w ** 2)
    return L, dlgradient(L, P["net"])


def test_plain_leaf_constant_in_a_selected_part():
    L, G = dlfeval(loss_subtree, {"net": {"W": W_PLAIN, "b": dlarray(B0)}, "other": dlarray(B0)}, X)
    assert_close(D(G["W"]), np.zeros_like(W_PLAIN), atol=0)
    assert_close(D(G["b"]), X[:2] + 2 * B0, rtol=1e-12)


def loss_second_order(P):
    L = np.sum(P["b"] ** 3)
    for w in P.values():
        L = L + np.sum(w ** 2) * np.sum(P["b"])
    g = dlgradient(L, P, EnableHigherDerivatives=True)
    s = np.sum(g["b"] ** 2) + np.sum(g["W"])
    return L, dlgradient(s, P["b"])


@pytest.mark.parametrize("plain", [True, False])
def test_second_derivative_through_a_structure_with_plain_leaves(plain):
    W = np.array([[1.0, 2.0], [3.0, 4.0]])
    b = np.array([0.5, -0.5])

    def s_of_b(b):
        gb = 3 * b ** 2 + (np.sum(W ** 2) + np.sum(b ** 2)) + 2 * b * np.sum(b)
        gW = 0 * W if plain else 2 * W * np.sum(b)
        return np.sum(gb ** 2) + np.sum(gW)
    L, h = dlfeval(loss_second_order, {"W": W if plain else dlarray(W), "b": dlarray(b)})
    assert_close(D(h), numerical_gradient(s_of_b, [b], 0), rtol=1e-6, atol=1e-6)


# --- a gradient with respect to a shallow copy of a structure -------------------------------------

def grad_wrt_dict_copy(P):
    L = np.sum(P["b"]) + np.sum(P["W"])
    P2 = dict(P)
    L = L + np.sum(P2["W"] ** 2)
    return L, dlgradient(L, P2)


def grad_wrt_method_copy(P):
    L = np.sum(P["b"]) + np.sum(P["W"])
    P2 = P.copy()
    for w in P2.values():
        L = L + np.sum(w ** 2)
    return L, dlgradient(L, P2)


def grad_wrt_rebound_unpacked_copy(P):
    L = np.sum(P["b"]) + np.sum(P["W"])
    P = {**P}
    L = L + np.sum(P["W"] ** 2)
    return L, dlgradient(L, P)


def grad_wrt_rebound_dict_copy(P):
    L = np.sum(P["b"]) + np.sum(P["W"])
    P = dict(P)
    L = L + np.sum(P["W"] ** 2)
    return L, dlgradient(L, P)


@pytest.mark.parametrize("fun", [grad_wrt_dict_copy, grad_wrt_method_copy, grad_wrt_rebound_unpacked_copy,
                                 grad_wrt_rebound_dict_copy])
def test_gradient_wrt_a_shallow_copy_used_through_the_original_is_refused(fun):
    # the copy holds the same dlarrays (MATLAB: the same traced values), so its gradient has the uses
    # through P too (was: silently without them: b's gradient 0 or 2 for 1 or 3)
    import sct
    with pytest.raises(sct.CompileError, match="holds too"):
        dlfeval(fun, {"W": dlarray(W_DL), "b": dlarray(B0)})


def grad_wrt_copy_only(P):
    P2 = dict(P)
    L = np.sum(P2["b"]) + np.sum(P2["W"] ** 2)
    return L, dlgradient(L, P2)


def test_gradient_wrt_a_copy_used_alone_is_its_gradient():
    L, G = dlfeval(grad_wrt_copy_only, {"W": dlarray(W_DL), "b": dlarray(B0)})
    assert_close(D(G["W"]), 2 * W_DL, rtol=1e-12)
    assert_close(D(G["b"]), np.ones(2), rtol=1e-12)


def grad_wrt_comprehension_copy(xs):
    L = np.sum(xs[0])
    ys = [x for x in xs]
    L = L + np.sum(ys[0] ** 2)
    return L, dlgradient(L, ys)


def grad_wrt_list_copy(xs):
    L = np.sum(xs[0])
    ys = list(xs)
    L = L + np.sum(ys[0] ** 2)
    return L, dlgradient(L, ys)


@pytest.mark.parametrize("fun", [grad_wrt_comprehension_copy, grad_wrt_list_copy])
def test_gradient_wrt_a_list_copy_is_refused(fun):
    # ys holds xs's dlarrays: the gradient would leave out sum(xs[0]) (was: 2x for 1 + 2x)
    import sct
    with pytest.raises(sct.CompileError, match="xs"):
        dlfeval(fun, [dlarray(B0), dlarray(X)])


def grad_wrt_new_values(xs):
    ys = [x * 2.0 for x in xs]
    L = np.sum(xs[0]) + np.sum(ys[0] ** 2)
    return L, dlgradient(L, xs)


def test_gradient_through_a_comprehension_of_new_values():
    L, G = dlfeval(grad_wrt_new_values, [dlarray(B0), dlarray(X)])
    assert_close(D(G[0]), 1 + 8 * B0, rtol=1e-12)
    assert_close(D(G[1]), np.zeros_like(X), atol=0)


class _Params(__import__("typing").NamedTuple):
    W: object
    b: object


def loss_namedtuple(P):
    L = np.sum(P.b)
    for w in P:
        L = L + np.sum(w ** 2)
    return L, dlgradient(L, P)


def test_plain_leaf_constant_in_a_namedtuple():
    L, G = dlfeval(loss_namedtuple, _Params(W_PLAIN, dlarray(B0)))
    assert type(G) is _Params
    assert_close(D(G.W), np.zeros_like(W_PLAIN), atol=0)
    assert_close(D(G.b), 1 + 2 * B0, rtol=1e-12)
