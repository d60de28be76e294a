"""Red team, Dec 14 (g): a peer corpus of real functions (autograd's examples: fluid simulation, RNN,
neural net on a list of (W, b) tuples, GMM; JAX's MNIST loop; a GP marginal likelihood with
cholesky/solve, logistic regression with L2, neural ODE with RK4 steps, VAE ELBO, masked attention,
LSTM/GRU cells by hand, layer norm, Sinkhorn, Black-Scholes, a spring rollout written in place,
t-SNE, convolution with np.pad and slices, a Kalman filter on floats, an HMM forward pass, a running
batch norm object, tied weights), written with dicts, dataclasses, objects, layers calling layers,
helpers in loops, in-place writes and names reassigned; values against plain numpy, gradients against
central differences (tests/gradcheck.py), also under dlaccelerate, and a few at second order.

Found: a dlarray that dlfeval's arguments hold at two places (tied weights {"enc": W, "dec": W}, a
model whose decoder holds its encoder's array, dlfeval(f, x, x), a model holding its layers in a list
and in a dict by name) was differentiated as two independent variables: dlgradient with respect to
either gave the partial derivative through that place only, silently (zero for the layers read
through the dict; the same structure built inside the function gets the whole derivative).  Now
refused at the user's line (sct.runtime.support.ALIASED, noted by sct.api.run_entry; the entry's
fast call misses for such arguments); a gradient with respect to anything else is unchanged.

Found: np.add.at(K, idx, v) in a loop (finite-element assembly, scatter of messages) was refused with
"np.add.at() changes K in place, which sct models only for a K this function created and no other name
shares" for a K the function made and nothing shared: the points-to analysis read the ufunc's method
(which resolves to no Python function) as a user's call that may keep K, so the next iteration's call
saw K escaped.  A ufunc's method now counts as a call that keeps nothing (as np.copyto).
"""
import os
import sys
from dataclasses import dataclass

import numpy as np
import pytest

sys.path.insert(0, os.path.dirname(__file__))
from gradcheck import assert_close, numerical_gradient  # noqa: E402

import sct  # noqa: E402
from sct import dlarray, dlfeval, dlgradient, extractdata  # noqa: E402


# --- the tied-weights defect ---------------------------------------------------------------------

def tied_dict(p, x):
    y = np.sum(np.tanh(x @ p["enc"]) @ p["dec"].T)
    return y, dlgradient(y, p)


def same_twice(a, b):
    y = np.sum(np.sin(a) * b)
    return y, dlgradient(y, a)


class Dense:
    def __init__(self, W, b):
        self.W, self.b = W, b

    def __call__(self, x):
        return x @ self.W + self.b


class TiedAutoencoder:
    def __init__(self, enc):
        self.enc = enc
        self.dec_W = enc.W                  # the same array: tied weights

    def __call__(self, x):
        return np.tanh(self.enc(x)) @ self.dec_W.T


def tied_model(model, x):
    y = np.sum((model(x) - x) ** 2)
    return y, dlgradient(y, model.enc.W)


def tied_model_plain(W, b, x):
    return np.sum((np.tanh(x @ W + b) @ W.T - x) ** 2)


RS = np.random.RandomState(14)
W0 = RS.randn(3, 4)
B0 = RS.randn(4)
XT = RS.randn(5, 3)


@pytest.mark.parametrize("accelerated", [False, True])
def test_a_dlarray_held_at_two_places_of_the_arguments_is_refused(accelerated):
    W, x = dlarray(W0), dlarray(XT[0])
    run = (lambda f: sct.dlaccelerate(f)) if accelerated else (lambda f: f)
    # (the line of the dlgradient refused: was the line of the adjoint block above the sweep's return)
    cases = [(tied_dict, ({"enc": W, "dec": W}, XT), 2),
             (same_twice, (x, x), 2),
             (tied_model, (TiedAutoencoder(Dense(W, dlarray(B0))), XT), 2)]
    if not accelerated:
        # (since session 50 dlfeval sums the places' adjoints where the site's parameters hold them all,
        # tied_dict and tied_model run exactly: test_tied_forms_of_dec14_run_exactly below; same_twice's
        # dlgradient(y, a) leaves b's adjoint uncomputed, still refused)
        cases = cases[1:2]
    for fun, args, line in cases:
        f = run(fun)
        with pytest.raises(sct.EvaluationError) as info:
            dlfeval(f, *args)
        assert info.value.lineno == fun.__code__.co_firstlineno + line, fun.__name__
        assert "more than one place" in str(info.value) and "test_redteam_dec14g.py" in str(info.value)


class Tanh:
    def __init__(self, W):
        self.W = W

    def __call__(self, x):
        return np.tanh(x @ self.W)


class ByName:
    """A model holding its layers in a list and in a dict by name (each layer at two places)."""
    def __init__(self, layers):
        self.layers = layers
        self.by_name = {f"l{i}": layer for i, layer in enumerate(layers)}

    def __call__(self, x):
        return self.by_name["l1"](self.by_name["l0"](x))


def by_name_loss(model, x):
    y = np.sum(model(x) ** 2)
    return y, dlgradient(y, model.layers[0].W)


def test_layers_held_in_a_list_and_a_dict_by_name_run_exactly():
    # was a zero gradient: the forward reads the layers through by_name, the gradient was of the
    # list's place only; then refused; since session 50 the sum of both places' adjoints
    V0, V1 = RS.randn(3, 3), RS.randn(3, 2)
    model = ByName([Tanh(dlarray(V0)), Tanh(dlarray(V1))])
    plain = lambda v: float(np.sum(np.tanh(np.tanh(XT @ v) @ V1) ** 2))      # noqa: E731
    for _ in range(2):
        y, g = dlfeval(by_name_loss, model, XT)
        assert_close(extractdata(y), plain(V0))
        assert_close(extractdata(g), numerical_gradient(plain, [V0], 0), atol=1e-6)


def test_tied_forms_of_dec14_run_exactly():
    W = dlarray(W0)
    y, g = dlfeval(tied_dict, {"enc": W, "dec": W}, XT)
    plain = lambda w: float(np.sum(np.tanh(XT @ w) @ w.T))      # noqa: E731
    assert_close(extractdata(y), plain(W0))
    for part in (g["enc"], g["dec"]):
        assert_close(extractdata(part), numerical_gradient(plain, [W0], 0), atol=1e-6)
    y, g = dlfeval(tied_model, TiedAutoencoder(Dense(W, dlarray(B0))), XT)
    plain = lambda w: float(tied_model_plain(w, B0, XT))       # noqa: E731
    assert_close(extractdata(y), plain(W0))
    assert_close(extractdata(g), numerical_gradient(plain, [W0], 0), atol=1e-6)


def test_the_refusal_after_a_call_of_the_same_kinds_without_aliases():
    # the first call leaves a fast entry call behind: the aliased call must miss it
    x, z = dlarray(XT[0]), dlarray(XT[1])
    acc = sct.dlaccelerate(same_twice)
    for f in (same_twice, acc):
        for _ in range(2):
            _, g = dlfeval(f, x, z)
            assert_close(extractdata(g), np.cos(XT[0]) * XT[1])
            with pytest.raises(sct.EvaluationError):
                dlfeval(f, x, x)


def autoencoder(p, X, T):
    y = np.sum((np.tanh(X @ p["W"] + p["b"]) @ p["W"].T - T) ** 2)
    return y, dlgradient(y, p)


def test_a_gradient_of_other_arguments_with_one_array_at_two_places_is_unchanged():
    # dlfeval(loss, params, X, X): X is input and target; the gradient is of params only
    X = dlarray(XT)
    p = {"W": dlarray(W0), "b": dlarray(B0)}
    for _ in range(2):
        y, g = dlfeval(autoencoder, p, X, X)
        assert_close(extractdata(y), tied_model_plain(W0, B0, XT))
        assert_close(extractdata(g["W"]), numerical_gradient(lambda W: tied_model_plain(W, B0, XT), [W0.copy()], 0))
        assert_close(extractdata(g["b"]), numerical_gradient(lambda b: tied_model_plain(W0, b, XT), [B0.copy()], 0))


def tied_inside(W, b, x):
    model = TiedAutoencoder(Dense(W, b))
    y = np.sum((model(x) - x) ** 2)
    return y, dlgradient(y, W), dlgradient(y, {"enc": W, "dec": W})


def test_tied_weights_made_inside_the_function_get_the_whole_derivative():
    y, g, gd = dlfeval(tied_inside, dlarray(W0), dlarray(B0), XT)
    expected = numerical_gradient(lambda W: tied_model_plain(W, B0, XT), [W0.copy()], 0)
    assert_close(extractdata(y), tied_model_plain(W0, B0, XT))
    assert_close(extractdata(g), expected)
    assert_close(extractdata(gd["enc"]), expected)
    assert_close(extractdata(gd["dec"]), expected)


# --- np.add.at in a loop (FEM assembly, message passing): it was refused as "K ... no other name
# shares" of a K nothing shared (points-to read the ufunc's method as a user's call that may keep K) --

def fem_assembly(p, f):
    n = len(p["k"])
    K = np.zeros((n + 1, n + 1))
    for e in range(n):
        idx = np.array([e, e + 1])
        np.add.at(K, (idx[:, None], idx[None, :]), p["k"][e] * np.array([[1.0, -1.0], [-1.0, 1.0]]))
    u = np.linalg.solve(K[1:, 1:], f)
    return u @ f


def scatter_in_loop(p, f):
    K = np.zeros(3)
    K2 = K                                  # a second name: it sees the writes, as in numpy
    s = 0.0
    for e in range(3):
        np.add.at(K, np.array([e % 3, (e + 1) % 3, (e + 1) % 3]), p["k"][e] * K[e] + p["k"][e] * np.arange(1.0, 4.0))
        s = s + np.sum(K ** 2)
    return s + np.sum(K2 * f)


def scatter_into_a_listed_array(p, f):
    K = np.zeros(3)
    keep = [K]
    for e in range(2):
        np.add.at(K, np.array([e, e + 1]), p["k"][e] * np.array([1.0, 2.0]))
    return np.sum(keep[0] * f)


@pytest.mark.parametrize("f", [fem_assembly, scatter_in_loop])
@pytest.mark.parametrize("accelerated", [False, True])
def test_add_at_in_a_loop(f, accelerated):
    k, rhs = np.array([0.9, 1.4, 0.7]), np.array([0.5, -1.0, 2.0])
    run = sct.dlaccelerate(gradient_of) if accelerated else gradient_of
    y, g = dlfeval(run, f, {"k": dlarray(k)}, rhs)
    assert_close(extractdata(y), f({"k": k.copy()}, rhs.copy()))
    assert_close(extractdata(g["k"]), numerical_gradient(lambda v: f({"k": v}, rhs.copy()), [k.copy()], 0), 1e-5, 1e-6)
    v = np.array([1.0, -0.5, 0.3])
    e = 1e-5
    grad = lambda u: np.asarray(extractdata(dlfeval(gradient_of, f, {"k": dlarray(u)}, rhs)[1]["k"]))
    assert_close(extractdata(sct.hvp(lambda u: f({"k": u}, rhs), k, v)), (grad(k + e * v) - grad(k - e * v)) / (2 * e),
                 1e-4, 1e-6, "hvp")


def test_add_at_into_an_array_a_list_holds_is_still_refused():
    with pytest.raises(sct.CompileError) as info:
        dlfeval(gradient_of, scatter_into_a_listed_array, {"k": dlarray(np.array([0.9, 1.4]))}, np.ones(3))
    assert info.value.lineno == scatter_into_a_listed_array.__code__.co_firstlineno + 4


# --- refusals that named generated names or gave advice that does not work -------------------------

def copyto_into_a_slice(p, x):
    h = p["a"] * x
    np.copyto(h[:2], x[2:] ** 2)            # numpy writes into h through the view
    return np.sum(h ** 2)


def write_through_flat(p, x):
    H = np.outer(p["a"], x).copy()
    H.flat[5] = 1.0
    return np.sum(H ** 2)


def write_by_unravelled_index(p, x):
    H = np.outer(p["a"], x)
    H[np.unravel_index(5, H.shape)] = 1.0
    return np.sum(H ** 2)


def test_refusals_name_the_users_spelling_and_advise_what_works():
    a, x = np.array([0.5, -1.0, 2.0, 0.3]), np.array([1.0, 2.0, -0.5, 0.7])
    with pytest.raises(sct.CompileError) as info:
        dlfeval(gradient_of, copyto_into_a_slice, {"a": dlarray(a)}, x)
    text = str(info.value)
    assert "h_item" not in text and "`h[:2] = value` instead of `np.copyto(h[:2], value)`" in text, text
    # `H.flat[5] = 1.0` now runs, as `H[np.unravel_index(5, H.shape)] = 1.0` (red team corpus7, dec 6:
    # sct/normalize.py FlatReads writes it so); it was refused with that advice
    y, g = dlfeval(gradient_of, write_through_flat, {"a": dlarray(a)}, x)
    assert_close(extractdata(y), write_through_flat({"a": a.copy()}, x))
    assert_close(extractdata(g["a"]), numerical_gradient(lambda v: write_through_flat({"a": v}, x), [a.copy()], 0))
    y, g = dlfeval(gradient_of, write_by_unravelled_index, {"a": dlarray(a)}, x)   # the advice works
    assert_close(extractdata(y), write_by_unravelled_index({"a": a.copy()}, x))
    assert_close(extractdata(g["a"]), numerical_gradient(lambda v: write_by_unravelled_index({"a": v}, x), [a.copy()], 0))


def nested_layer_with_kwargs(p, x):
    def layer(x, **kw):
        return np.tanh(x @ kw["W"] + kw.get("b", 0.0))
    return np.sum(layer(x, **p))


def test_a_nested_def_taking_kwargs_is_named_as_the_user_wrote_it():
    # was: "kwargs_pass_fwd.<locals>.layer() takes them as **kwargs" (the generated function's name)
    with pytest.raises(sct.EvaluationError) as info:
        dlfeval(gradient_of, nested_layer_with_kwargs, {"W": dlarray(W0), "b": dlarray(B0)}, XT)
    text = str(info.value)
    assert info.value.lineno == nested_layer_with_kwargs.__code__.co_firstlineno + 3
    assert "<locals>" not in text and "_fwd" not in text and "the nested function layer()" in text, text


# --- the corpus ----------------------------------------------------------------------------------

def rbf(X1, X2, ls, var):
    d = np.sum(X1 ** 2, 1)[:, None] + np.sum(X2 ** 2, 1)[None, :] - 2 * X1 @ X2.T
    return var * np.exp(-0.5 * d / ls ** 2)


def gp_nll(p, X, y):
    ls, var, noise = np.exp(p["log_ls"]), np.exp(p["log_var"]), np.exp(p["log_noise"])
    K = rbf(X, X, ls, var) + noise * np.eye(X.shape[0])
    L = np.linalg.cholesky(K)
    alpha = np.linalg.solve(L.T, np.linalg.solve(L, y))
    return 0.5 * y @ alpha + np.sum(np.log(np.diag(L))) + 0.5 * len(y) * np.log(2 * np.pi)


def logreg(p, X, t):
    z = X @ p["w"] + p["b"]
    return -np.sum(t * z - np.logaddexp(0, z)) + 0.05 * np.dot(p["w"], p["w"])


def lse(a, axis, keepdims=False):
    m = np.max(a, axis=axis, keepdims=True)
    r = m + np.log(np.sum(np.exp(a - m), axis=axis, keepdims=True))
    return r if keepdims else np.squeeze(r, axis=axis)


def gmm(p, X):
    logw = p["logits"] - lse(p["logits"], 0)
    comps = []
    for k in range(len(p["logits"])):
        diff = (X - p["mu"][k]) / np.exp(p["logs"][k])
        comps.append(logw[k] - 0.5 * np.sum(diff ** 2, 1) - np.sum(p["logs"][k]))
    return -np.sum(lse(np.stack(comps, 1), 1))


def dyn(z, W1, W2):
    return np.tanh(z @ W1) @ W2


def rk4(p, z):
    h = 0.1
    for _ in range(4):
        k1 = dyn(z, p["W1"], p["W2"])
        k2 = dyn(z + h / 2 * k1, p["W1"], p["W2"])
        k3 = dyn(z + h / 2 * k2, p["W1"], p["W2"])
        k4 = dyn(z + h * k3, p["W1"], p["W2"])
        z = z + h / 6 * (k1 + 2 * k2 + 2 * k3 + k4)
    return np.sum(z ** 2)


def vae(p, x, eps):
    h = np.tanh(x @ p["We"])
    mu, logvar = h @ p["Wm"], h @ p["Wv"]
    z = mu + np.exp(0.5 * logvar) * eps
    xr = 1 / (1 + np.exp(-(z @ p["Wd"])))
    rec = np.sum(x * np.log(xr) + (1 - x) * np.log(1 - xr))
    kl = -0.5 * np.sum(1 + logvar - mu ** 2 - np.exp(logvar))
    return kl - rec


def softmax(a, axis=-1):
    e = np.exp(a - np.max(a, axis=axis, keepdims=True))
    return e / e.sum(axis=axis, keepdims=True)


def masked_attention(p, x):
    q, k, v = x @ p["Wq"], x @ p["Wk"], x @ p["Wv"]
    s = q @ k.T / np.sqrt(q.shape[-1])
    s = np.where(np.triu(np.ones((len(x), len(x))), 1).astype(bool), -1e9, s)
    return np.sum(softmax(s) @ v * x[:, :v.shape[1]])


def sig(x):
    return 1 / (1 + np.exp(-x))


def lstm_cell(p, x, h, c):
    g = x @ p["Wx"] + h @ p["Wh"] + p["b"]
    H = h.shape[-1]
    i, f, o, u = sig(g[..., :H]), sig(g[..., H:2 * H]), sig(g[..., 2 * H:3 * H]), np.tanh(g[..., 3 * H:])
    c = f * c + i * u
    return o * np.tanh(c), c


def lstm_loss(p, xs):
    h = np.zeros((xs.shape[1], 3))
    c = np.zeros_like(h)
    for t in range(xs.shape[0]):
        h, c = lstm_cell(p, xs[t], h, c)
    return np.sum(h ** 2)


def gru_loss(p, xs):
    h = np.zeros(3)
    for x in xs:
        z = sig(p["Wz"] @ x + p["Uz"] @ h)
        r = sig(p["Wr"] @ x + p["Ur"] @ h)
        hh = np.tanh(p["Wh"] @ x + p["Uh"] @ (r * h))
        h = (1 - z) * h + z * hh
    return np.sum(np.sin(h))


def layer_norm(p, x):
    mu = x.mean(-1, keepdims=True)
    var = ((x - mu) ** 2).mean(-1, keepdims=True)
    return np.sum(((x - mu) / np.sqrt(var + 1e-5) * p["g"] + p["b"]) ** 3)


def sinkhorn(p, C):
    K = np.exp(-C / np.exp(p["logeps"]))
    a = np.ones(C.shape[0]) / C.shape[0]
    b = softmax(p["bl"])
    u = np.ones_like(a)
    for _ in range(8):
        v = b / (K.T @ u)
        u = a / (K @ v)
    return np.sum(u[:, None] * K * v[None, :] * C)


def conv2d(x, w):
    xp = np.pad(x, ((1, 1), (1, 1)))
    out = np.zeros(x.shape)
    for i in range(w.shape[0]):
        for j in range(w.shape[1]):
            out += w[i, j] * xp[i:i + x.shape[0], j:j + x.shape[1]]
    return out


def conv_net(p, x):
    return np.sum(conv2d(np.maximum(conv2d(x, p["k1"]), 0.0), p["k2"]) ** 2)


def black_scholes(p, K):
    S, sigma, r, T = p["S"], p["sigma"], p["r"], p["T"]
    d1 = (np.log(S / K) + (r + 0.5 * sigma ** 2) * T) / (sigma * np.sqrt(T))
    d2 = d1 - sigma * np.sqrt(T)
    N = lambda v: 0.5 * (1 + np.tanh(np.sqrt(2 / np.pi) * (v + 0.044715 * v ** 3)))
    return np.sum(S * N(d1) - K * np.exp(-r * T) * N(d2))


def spring_rollout(p, x0):
    x = x0.copy()
    v = np.zeros_like(x0)
    traj = np.zeros((8, len(x0)))
    for t in range(8):
        v += 0.1 * (-p["k"] * x - p["c"] * v)
        x += 0.1 * v
        traj[t] = x
    return np.sum(traj ** 2)


def tsne(p, P):
    Y = p["Y"]
    sq = np.sum(Y ** 2, 1)
    num = 1 / (1 + sq[:, None] + sq[None, :] - 2 * Y @ Y.T)
    np.fill_diagonal(num, 0.0)
    Q = np.maximum(num / np.sum(num), 1e-12)
    return np.sum(P * np.log(np.maximum(P, 1e-12) / Q))


def piecewise(p, x):
    a = p["a"]
    y = np.where(a > 0, a ** 2, -a ** 3) + np.clip(a, -0.5, 0.5) * x
    y = y + np.maximum(a, x) + np.minimum(a * 2, 0.3) + np.abs(a - x)
    r = a - x
    y = y + np.where(np.abs(r) < 0.5, 0.5 * r ** 2, 0.5 * (np.abs(r) - 0.25))
    return np.sum(y) + np.sum(np.log1p(np.exp(-np.abs(a))) + np.maximum(a, 0))


def sorting_cumsum(p, x):
    s = np.sort(p["a"] * x)
    c = np.cumsum(p["a"])
    return np.sum(s[1:-1] * np.arange(1, len(s) - 1)) + np.sum(c ** 2) + np.cumprod(p["a"])[-1] + \
        np.linalg.norm(p["a"]) + np.linalg.norm(p["a"], 1)


@dataclass
class Layer:
    W: object
    b: object

    def __call__(self, x):
        return x @ self.W + self.b


@dataclass
class MLP:
    layers: list

    def __call__(self, x):
        for i, layer in enumerate(self.layers):
            x = layer(x)
            if i < len(self.layers) - 1:
                x = np.tanh(x)
        return x


def mlp_loss(p, x):
    net = MLP([Layer(p["W1"], p["b1"]), Layer(p["W2"], p["b2"])])
    return np.mean((net(x) - 1.0) ** 2)


def project_flow(vx, vy):
    p = np.zeros(vx.shape)
    h = 1.0 / vx.shape[0]
    div = -0.5 * h * (np.roll(vx, -1, axis=0) - np.roll(vx, 1, axis=0)
                      + np.roll(vy, -1, axis=1) - np.roll(vy, 1, axis=1))
    for _ in range(3):
        p = (div + np.roll(p, 1, axis=0) + np.roll(p, -1, axis=0)
             + np.roll(p, 1, axis=1) + np.roll(p, -1, axis=1)) / 4.0
    vx = vx - 0.5 * (np.roll(p, -1, axis=0) - np.roll(p, 1, axis=0)) / h
    vy = vy - 0.5 * (np.roll(p, -1, axis=1) - np.roll(p, 1, axis=1)) / h
    return vx, vy


def advect(f, vx, vy):
    rows, cols = f.shape
    cell_ys, cell_xs = np.meshgrid(np.arange(rows), np.arange(cols))
    center_xs = (cell_xs - vx).ravel()
    center_ys = (cell_ys - vy).ravel()
    left_ix = np.floor(center_xs).astype(int)
    top_ix = np.floor(center_ys).astype(int)
    rw = center_xs - left_ix
    bw = center_ys - top_ix
    left_ix = np.mod(left_ix, rows)
    right_ix = np.mod(left_ix + 1, rows)
    top_ix = np.mod(top_ix, cols)
    bot_ix = np.mod(top_ix + 1, cols)
    flat_f = (1 - rw) * ((1 - bw) * f[left_ix, top_ix] + bw * f[left_ix, bot_ix]) \
        + rw * ((1 - bw) * f[right_ix, top_ix] + bw * f[right_ix, bot_ix])
    return np.reshape(flat_f, (rows, cols))


def fluid(p, smoke):
    vx, vy = p["vx"], p["vy"]
    for _ in range(2):
        vx, vy = project_flow(advect(vx, vx, vy), advect(vy, vx, vy))
        smoke = advect(smoke, vx, vy)
    return np.sum((smoke - 0.5) ** 2)


def concat_and_multiply(weights, *args):
    return np.dot(np.hstack(args + (np.ones((args[0].shape[0], 1)),)), weights)


def rnn_nll(params, inputs, targets):
    def update(x, hiddens):
        return np.tanh(concat_and_multiply(params["change"], x, hiddens))

    def log_probs(hiddens):
        output = concat_and_multiply(params["predict"], hiddens)
        return output - lse(output, axis=1, keepdims=True)
    hiddens = np.repeat(params["init hiddens"], inputs.shape[1], axis=0)
    outputs = [log_probs(hiddens)]
    for x in inputs:
        hiddens = update(x, hiddens)
        outputs.append(log_probs(hiddens))
    loglik = 0.0
    for t in range(inputs.shape[0]):
        loglik += np.sum(outputs[t] * targets[t])
    return -loglik / inputs.shape[0]


def hmm_nll(p, obs):
    log_A = p["A"] - lse(p["A"], 1, keepdims=True)
    log_B = p["B"] - lse(p["B"], 1, keepdims=True)
    alpha = p["pi"] - lse(p["pi"], 0) + log_B[:, obs[0]]
    for o in obs[1:]:
        alpha = lse(alpha[:, None] + log_A, 0) + log_B[:, o]
    return -lse(alpha, 0)


class RunningBatchNorm:
    def __init__(self, g, b):
        self.g, self.b = g, b
        self.rm, self.rv = np.zeros(3), np.ones(3)

    def __call__(self, x, train=True):
        if train:
            mu, var = x.mean(0), x.var(0)
            self.rm = 0.9 * self.rm + 0.1 * mu
            self.rv = 0.9 * self.rv + 0.1 * var
        else:
            mu, var = self.rm, self.rv
        return self.g * (x - mu) / np.sqrt(var + 1e-5) + self.b


def running_batchnorm(p, x):
    bn = RunningBatchNorm(p["g"], p["b"])
    return np.sum(bn(x) ** 2) + np.sum(bn(x * 2.0) * bn(x, train=False))


def kalman(p, ys):
    q, r = np.exp(p["lq"]), np.exp(p["lr"])
    m, P, ll = 0.0, 1.0, 0.0
    for y in ys:
        P = P + q
        S = P + r
        K = P / S
        ll += -0.5 * (np.log(2 * np.pi * S) + (y - m) ** 2 / S)
        m = m + K * (y - m)
        P = (1 - K) * P
    return -ll


def aliasing_swaps(p, x):
    A = np.outer(p["a"], x)[:3] * 1.0
    A[0], A[1] = A[1], A[0]                 # numpy's row-swap gotcha: both rows end as the old A[1]
    a = p["a"] * x
    a[1:] += a[:-1]                         # overlapping: numpy reads a copy
    B = np.outer(p["a"], x) * 1.0
    B += B.T
    return np.sum(A * np.arange(12.0).reshape(3, 4)) + np.sum(a ** 2) + np.sum(B * np.arange(16.0).reshape(4, 4))


RS2 = np.random.RandomState(7)
_X6, _Y6 = RS2.randn(6, 2), RS2.randn(6)
_PM = RS2.rand(4, 4)
_PM = _PM + _PM.T
np.fill_diagonal(_PM, 0)
_PM /= _PM.sum()
CORPUS = [
    (gp_nll, {"log_ls": np.array(0.1), "log_var": np.array(-0.2), "log_noise": np.array(-1.0)}, (_X6, _Y6)),
    (logreg, {"w": RS2.randn(3), "b": np.array(0.3)}, (RS2.randn(8, 3), (RS2.rand(8) > .5) * 1.0)),
    (gmm, {"logits": RS2.randn(3), "mu": RS2.randn(3, 2), "logs": 0.1 * RS2.randn(3, 2)}, (_X6,)),
    (rk4, {"W1": 0.5 * RS2.randn(2, 4), "W2": 0.5 * RS2.randn(4, 2)}, (RS2.randn(3, 2),)),
    (vae, {"We": .3 * RS2.randn(5, 4), "Wm": .3 * RS2.randn(4, 2), "Wv": .3 * RS2.randn(4, 2),
           "Wd": .3 * RS2.randn(2, 5)}, ((RS2.rand(4, 5) > .5) * 1.0, RS2.randn(4, 2))),
    (masked_attention, {"Wq": RS2.randn(3, 2), "Wk": RS2.randn(3, 2), "Wv": RS2.randn(3, 2)}, (RS2.randn(4, 3),)),
    (lstm_loss, {"Wx": .5 * RS2.randn(2, 12), "Wh": .5 * RS2.randn(3, 12), "b": .1 * RS2.randn(12)},
     (RS2.randn(3, 2, 2),)),
    (gru_loss, {k: .5 * RS2.randn(3, 2 if k[0] == "W" else 3) for k in ["Wz", "Uz", "Wr", "Ur", "Wh", "Uh"]},
     (RS2.randn(4, 2),)),
    (layer_norm, {"g": RS2.randn(4), "b": RS2.randn(4)}, (RS2.randn(3, 4),)),
    (sinkhorn, {"logeps": np.array(0.0), "bl": RS2.randn(4)}, (RS2.rand(3, 4),)),
    (conv_net, {"k1": RS2.randn(3, 3), "k2": RS2.randn(3, 3)}, (RS2.randn(5, 4),)),
    (black_scholes, {"S": np.array(100.0), "sigma": np.array(0.2), "r": np.array(0.05), "T": np.array(1.0)},
     (np.array([90., 100., 110.]),)),
    (spring_rollout, {"k": np.array(1.3), "c": np.array(0.2)}, (RS2.randn(3),)),
    (tsne, {"Y": RS2.randn(4, 2)}, (_PM,)),
    (piecewise, {"a": np.array([0.9, -0.3, 0.45, -1.2, 0.05, 1.7])}, (np.array([0.1, 0.6, -0.2, 0.3, -1.0, 0.4]),)),
    (sorting_cumsum, {"a": RS2.randn(5)}, (RS2.randn(5),)),
    (mlp_loss, {"W1": RS2.randn(3, 4), "b1": RS2.randn(4), "W2": RS2.randn(4, 1), "b2": RS2.randn(1)},
     (RS2.randn(5, 3),)),
    (fluid, {"vx": 0.7 * RS2.randn(4, 4), "vy": 0.7 * RS2.randn(4, 4)}, (RS2.rand(4, 4),)),
    (rnn_nll, {"init hiddens": RS2.randn(1, 4), "change": 0.5 * RS2.randn(8, 4), "predict": 0.5 * RS2.randn(5, 3)},
     (RS2.randn(3, 2, 3), np.eye(3)[RS2.randint(0, 3, (3, 2))])),
    (hmm_nll, {"pi": RS2.randn(3), "A": RS2.randn(3, 3), "B": RS2.randn(3, 4)}, (np.array([0, 2, 1, 3, 3]),)),
    (running_batchnorm, {"g": RS2.randn(3), "b": RS2.randn(3)}, (RS2.randn(5, 3),)),
    (kalman, {"lq": np.array(-1.0), "lr": np.array(-0.5)}, (RS2.randn(6),)),
    (aliasing_swaps, {"a": RS2.randn(4)}, (RS2.randn(4),)),
]


def gradient_of(f, p, *data):
    y = f(p, *data)
    return y, dlgradient(y, p)


def _copy(data):
    return tuple(np.array(d) for d in data)


@pytest.mark.parametrize("accelerated", [False, True])
@pytest.mark.parametrize("f, params, data", CORPUS, ids=[c[0].__name__ for c in CORPUS])
def test_corpus_values_and_gradients(f, params, data, accelerated):
    run = sct.dlaccelerate(gradient_of) if accelerated else gradient_of
    y, g = dlfeval(run, f, {k: dlarray(v) for k, v in params.items()}, *_copy(data))
    assert_close(extractdata(y), f({k: v.copy() for k, v in params.items()}, *_copy(data)), 1e-10, 1e-10, "value")
    names = list(params)
    for k, name in enumerate(names):
        def plain(*vs):
            return f(dict(zip(names, vs)), *_copy(data))
        expected = numerical_gradient(plain, [np.array(params[n], dtype=float) for n in names], k)
        assert_close(extractdata(g[name]), expected, 1e-5, 1e-6, what=name)


def jax_predict(params, image):
    activations = image
    for w, b in params[:-1]:
        activations = np.maximum(0, np.dot(w, activations) + b)
    final_w, final_b = params[-1]
    logits = np.dot(final_w, activations) + final_b
    return logits - lse(logits, axis=0)


def jax_loss(params, images, targets):
    preds = np.stack([jax_predict(params, im) for im in images])
    return -np.mean(np.sum(preds * targets, axis=1))


def test_jax_mnist_loss_on_a_list_of_tuples():
    rs = np.random.RandomState(3)
    params = [(rs.randn(4, 3), rs.randn(4)), (rs.randn(4, 4), rs.randn(4)), (rs.randn(2, 4), rs.randn(2))]
    images, targets = rs.randn(5, 3), np.eye(2)[rs.randint(0, 2, 5)]
    y, g = dlfeval(gradient_of, jax_loss, [(dlarray(w), dlarray(b)) for w, b in params], images, targets)
    assert_close(extractdata(y), jax_loss(params, images, targets))
    flat = [a for wb in params for a in wb]
    for k in range(len(flat)):
        def plain(*vs):
            return jax_loss([(vs[2 * i], vs[2 * i + 1]) for i in range(3)], images, targets)
        assert_close(extractdata(g[k // 2][k % 2]), numerical_gradient(plain, [a.copy() for a in flat], k), 1e-5, 1e-6)


# --- second order --------------------------------------------------------------------------------

def grad_only(f, x):
    return dlgradient(f(x), x)


def gradient_norm(f, x):
    g = dlgradient(f(x), x, EnableHigherDerivatives=True)
    z = np.sum(g * g)
    return z, dlgradient(z, x)


def _g(f, x):
    return np.asarray(extractdata(dlfeval(grad_only, f, dlarray(x))))


def gp_flat(th):
    return gp_nll({"log_ls": th[0], "log_var": th[1], "log_noise": th[2]}, _X6, _Y6)


_Z0 = RS2.randn(3, 2)
_XS = RS2.randn(3, 2, 2)
_C34 = RS2.rand(3, 4)
_X34 = RS2.randn(3, 4)


def rk4_flat(th):
    return rk4({"W1": th[:8].reshape(2, 4), "W2": th[8:].reshape(4, 2)}, _Z0)


def lstm_flat(th):
    return lstm_loss({"Wx": th[:24].reshape(2, 12), "Wh": th[24:60].reshape(3, 12), "b": th[60:]}, _XS)


def sinkhorn_flat(th):
    return sinkhorn({"logeps": th[0], "bl": th[1:]}, _C34)


def layer_norm_flat(th):
    return layer_norm({"g": th[:4], "b": th[4:]}, _X34)


@pytest.mark.parametrize("f, x", [(gp_flat, np.array([0.1, -0.2, -1.0])), (rk4_flat, 0.5 * RS2.randn(16)),
                                  (lstm_flat, 0.5 * RS2.randn(72)), (sinkhorn_flat, RS2.randn(5)),
                                  (layer_norm_flat, RS2.randn(8))],
                         ids=["gp", "rk4", "lstm", "sinkhorn", "layer_norm"])
def test_second_order(f, x):
    v = np.random.RandomState(1).randn(x.size)
    e = 1e-5
    expected = (_g(f, x + e * v) - _g(f, x - e * v)) / (2 * e)
    assert_close(extractdata(sct.hvp(f, x, v)), expected, 1e-4, 1e-5, "hvp")
    z, gz = dlfeval(sct.dlaccelerate(gradient_norm), f, dlarray(x))
    assert_close(extractdata(z), np.sum(_g(f, x) ** 2), 1e-8, 1e-10, "gradient norm")
    d = np.random.RandomState(2).randn(x.size)
    along = (np.sum(_g(f, x + e * d) ** 2) - np.sum(_g(f, x - e * d) ** 2)) / (2 * e)
    assert_close(np.sum(extractdata(gz) * d), along, 1e-4, 1e-5, "gradient of the gradient norm")
