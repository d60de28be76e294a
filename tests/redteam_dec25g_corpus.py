"""Red team G (dec25): a corpus of functions written as scientific and ML code writes them.

Each function is plain numpy/Python; tests/test_redteam_dec25g.py runs it under sct and compares
values with plain Python and gradients with central differences.
"""
import math
from dataclasses import dataclass

import numpy as np
import scipy.linalg
from scipy.special import gammaln, logsumexp


# ---------------------------------------------------------------- likelihoods

def gaussian_nll(mu, log_sigma, x):
    n = x.size
    sigma = np.exp(log_sigma)
    z = (x - mu) / sigma
    return 0.5 * np.sum(z ** 2) + n * log_sigma + 0.5 * n * np.log(2 * np.pi)


def gaussian_nll_vec(mu, log_sigma, x):
    # per-dimension mean and scale, data (n, d)
    var = np.exp(2 * log_sigma)
    ll = -0.5 * np.log(2 * np.pi * var) - (x - mu) ** 2 / (2 * var)
    return -np.sum(ll)


def poisson_nll(w, X, y):
    eta = X @ w
    rate = np.exp(eta)
    return np.sum(rate - y * eta + gammaln(y + 1))


def logistic_regression(w, b, X, y):
    z = X @ w + b
    return np.mean(np.logaddexp(0, z) - y * z)


def logistic_regression_pm1(w, X, y):
    # labels in {-1, +1}, L2 penalty
    margins = y * np.dot(X, w)
    return np.sum(np.log1p(np.exp(-margins))) + 0.01 * np.dot(w, w)


def softmax_xent_manual(W, b, X, labels):
    logits = X @ W + b
    m = np.max(logits, axis=1, keepdims=True)
    shifted = logits - m
    lse = np.log(np.sum(np.exp(shifted), axis=1, keepdims=True))
    logp = shifted - lse
    n = X.shape[0]
    return -np.mean(logp[np.arange(n), labels])


def softmax_xent_onehot(W, X, Y):
    logits = X.dot(W)
    logits = logits - logits.max(axis=-1, keepdims=True)
    p = np.exp(logits) / np.exp(logits).sum(axis=-1, keepdims=True)
    return -np.sum(Y * np.log(p + 1e-12)) / X.shape[0]


def gmm_loglik(means, log_vars, logits_pi, x):
    # 1-D mixture, x (n,), K components
    log_pi = logits_pi - logsumexp(logits_pi)
    var = np.exp(log_vars)
    comp = -0.5 * (x[:, None] - means[None, :]) ** 2 / var - 0.5 * np.log(2 * np.pi * var)
    return -np.sum(logsumexp(comp + log_pi, axis=1))


# ---------------------------------------------------------------- physics

def spring_mass_energy(x, v, k, m):
    kinetic = 0.5 * np.sum(m * v ** 2)
    stretch = np.diff(x) - 1.0
    potential = 0.5 * k * np.sum(stretch ** 2)
    return kinetic + potential


def nbody_potential(pos):
    n = pos.shape[0]
    diff = pos[:, None, :] - pos[None, :, :]
    r2 = np.sum(diff ** 2, axis=-1) + np.eye(n)
    r = np.sqrt(r2)
    iu = np.triu_indices(n, k=1)
    return -np.sum(1.0 / r[iu])


def lennard_jones(pos, eps=1.0, sigma=1.0):
    n = len(pos)
    energy = 0.0
    for i in range(n):
        for j in range(i + 1, n):
            r = np.linalg.norm(pos[i] - pos[j])
            sr6 = (sigma / r) ** 6
            energy += 4 * eps * (sr6 ** 2 - sr6)
    return energy


def _grad_U(q, k):
    return k * q


def leapfrog(q, p, k):
    dt = 0.1
    for _ in range(10):
        p = p - 0.5 * dt * _grad_U(q, k)
        q = q + dt * p
        p = p - 0.5 * dt * _grad_U(q, k)
    return np.sum(q ** 2) + 0.5 * np.sum(p ** 2)


def euler_decay(x0, k):
    dt = 0.05
    t = 0.0
    x = x0
    traj = []
    for i in range(20):
        x = x + dt * (-k * x + np.sin(t))
        t += dt
        traj.append(x)
    traj = np.array(traj)
    return np.sum(traj ** 2)


def pendulum_rk4(theta0, omega0, g_over_l):
    def f(th, om):
        return om, -g_over_l * np.sin(th)
    h = 0.1
    th, om = theta0, omega0
    for _ in range(8):
        k1 = f(th, om)
        k2 = f(th + h / 2 * k1[0], om + h / 2 * k1[1])
        k3 = f(th + h / 2 * k2[0], om + h / 2 * k2[1])
        k4 = f(th + h * k3[0], om + h * k3[1])
        th = th + h / 6 * (k1[0] + 2 * k2[0] + 2 * k3[0] + k4[0])
        om = om + h / 6 * (k1[1] + 2 * k2[1] + 2 * k3[1] + k4[1])
    return np.sum(th ** 2 + om ** 2)


def heat_roll(u, alpha):
    for _ in range(5):
        u = u + alpha * (np.roll(u, 1) - 2 * u + np.roll(u, -1))
    return np.sum(u ** 2)


def heat_slices(u, alpha):
    for _ in range(5):
        un = u.copy()
        un[1:-1] = u[1:-1] + alpha * (u[2:] - 2 * u[1:-1] + u[:-2])
        u = un
    return np.sum(u ** 3)


def heat_2d(u, alpha):
    for _ in range(3):
        lap = (np.roll(u, 1, axis=0) + np.roll(u, -1, axis=0)
               + np.roll(u, 1, axis=1) + np.roll(u, -1, axis=1) - 4 * u)
        u = u + alpha * lap
    return np.sum(np.sin(u))


def heat_inplace(u, alpha):
    u = u.copy()
    for _ in range(4):
        lap = np.zeros_like(u)
        lap[1:-1] = u[2:] - 2 * u[1:-1] + u[:-2]
        u += alpha * lap
    return np.sum(u ** 2)


# ---------------------------------------------------------------- optimisation test functions

def ackley(x):
    a, b, c = 20.0, 0.2, 2 * np.pi
    d = len(x)
    s1 = np.sum(x ** 2)
    s2 = np.sum(np.cos(c * x))
    return -a * np.exp(-b * np.sqrt(s1 / d)) - np.exp(s2 / d) + a + np.exp(1)


def rastrigin(x):
    A = 10
    return A * len(x) + np.sum(x ** 2 - A * np.cos(2 * math.pi * x))


def beale(p):
    x, y = p[0], p[1]
    return (1.5 - x + x * y) ** 2 + (2.25 - x + x * y ** 2) ** 2 + (2.625 - x + x * y ** 3) ** 2


def himmelblau(p):
    x, y = p
    return (x ** 2 + y - 11) ** 2 + (x + y ** 2 - 7) ** 2


def styblinski_tang(x):
    return 0.5 * np.sum(x ** 4 - 16 * x ** 2 + 5 * x)


def rosenbrock_nd(x):
    return np.sum(100.0 * (x[1:] - x[:-1] ** 2) ** 2 + (1 - x[:-1]) ** 2)


# ---------------------------------------------------------------- attention / normalisation

def attention(Q, K, V, causal=True):
    d = Q.shape[-1]
    scores = Q @ K.T / np.sqrt(d)
    if causal:
        n = scores.shape[0]
        mask = np.tril(np.ones((n, n), dtype=bool))
        scores = np.where(mask, scores, -1e9)
    scores = scores - scores.max(axis=-1, keepdims=True)
    w = np.exp(scores)
    w = w / w.sum(axis=-1, keepdims=True)
    out = w @ V
    return np.sum(out ** 2)


def attention_batched(Q, K, V):
    d = Q.shape[-1]
    scores = np.einsum("bqd,bkd->bqk", Q, K) / math.sqrt(d)
    scores -= scores.max(-1, keepdims=True)
    w = np.exp(scores)
    w /= w.sum(-1, keepdims=True)
    out = np.einsum("bqk,bkd->bqd", w, V)
    return np.mean(out * out)


def layer_norm(x, gamma, beta, eps=1e-5):
    mu = x.mean(axis=-1, keepdims=True)
    var = ((x - mu) ** 2).mean(axis=-1, keepdims=True)
    xhat = (x - mu) / np.sqrt(var + eps)
    y = gamma * xhat + beta
    return np.sum(y * np.cos(y))


def batch_norm(x, gamma, beta):
    mu = np.mean(x, axis=0)
    var = np.var(x, axis=0)
    xhat = (x - mu) / np.sqrt(var + 1e-5)
    out = gamma * xhat + beta
    return np.sum(np.tanh(out) * np.arange(out.shape[1]))


# ---------------------------------------------------------------- GP, VAE

def rbf(X1, X2, ls, sf):
    sq = np.sum(X1 ** 2, 1)[:, None] + np.sum(X2 ** 2, 1)[None, :] - 2 * X1 @ X2.T
    return sf ** 2 * np.exp(-0.5 * sq / ls ** 2)


def gp_nlml(log_params, X, y):
    ls, sf, sn = np.exp(log_params[0]), np.exp(log_params[1]), np.exp(log_params[2])
    n = X.shape[0]
    K = rbf(X, X, ls, sf) + sn ** 2 * np.eye(n)
    L = np.linalg.cholesky(K)
    alpha = scipy.linalg.solve_triangular(L.T, scipy.linalg.solve_triangular(L, y, lower=True), lower=False)
    return 0.5 * y @ alpha + np.sum(np.log(np.diag(L))) + 0.5 * n * np.log(2 * np.pi)


def gp_nlml_solve(log_params, X, y):
    ls, sf, sn = np.exp(log_params)
    n = len(y)
    K = rbf(X, X, ls, sf) + (sn ** 2 + 1e-6) * np.eye(n)
    sign, logdet = np.linalg.slogdet(K)
    return 0.5 * y @ np.linalg.solve(K, y) + 0.5 * logdet


def vae_loss(params, x, eps):
    h = np.tanh(x @ params["enc_W"] + params["enc_b"])
    mu = h @ params["mu_W"]
    logvar = h @ params["lv_W"]
    z = mu + np.exp(0.5 * logvar) * eps
    x_logits = z @ params["dec_W"]
    recon = np.sum(np.logaddexp(0, x_logits) - x * x_logits)
    kl = -0.5 * np.sum(1 + logvar - mu ** 2 - np.exp(logvar))
    return (recon + kl) / x.shape[0]


# ---------------------------------------------------------------- elementwise idioms

def huber(pred, target, delta=1.0):
    r = pred - target
    a = np.abs(r)
    loss = np.where(a <= delta, 0.5 * r ** 2, delta * (a - 0.5 * delta))
    return np.mean(loss)


def piecewise_scalar(x):
    s = np.sum(x)
    if s > 1.0:
        y = s ** 2
    elif s < -1.0:
        y = -s
    else:
        y = np.sin(s)
    return y * np.sum(x ** 2)


def stable_sigmoid(x):
    return np.where(x >= 0, 1 / (1 + np.exp(-x)), np.exp(x) / (1 + np.exp(x)))


def stable_sigmoid_loss(x):
    return np.sum(stable_sigmoid(x) * x)


def stable_softplus(x):
    return np.sum(np.maximum(x, 0) + np.log1p(np.exp(-np.abs(x))))


def horner(coeffs, x):
    result = np.zeros_like(x)
    for c in coeffs:
        result = result * x + c
    return np.sum(result)


def horner_scalar_list(coeffs, x):
    # coeffs indexed as a Python sequence, highest power first
    y = 0.0
    for i in range(len(coeffs)):
        y = y * x + coeffs[i]
    return np.sum(np.sin(y))


def cumsum_loss(x):
    c = np.cumsum(x)
    return np.sum(c ** 2) + np.sum(np.cumprod(x[:4]))


def argmax_select(x, w):
    i = np.argmax(x)
    j = int(np.argmin(w))
    return x[i] ** 2 + w[j] * x[j % len(x)]


def argmax_rows(S):
    idx = np.argmax(S, axis=1)
    best = S[np.arange(S.shape[0]), idx]
    return np.sum(best ** 2)


def norms(W, x):
    a = np.linalg.norm(W, axis=1)
    b = np.linalg.norm(W, "fro")
    c = np.linalg.norm(x, ord=1)
    d = np.linalg.norm(x, np.inf)
    e = np.linalg.norm(W, ord=2)
    f = np.linalg.norm(x)
    g = np.linalg.norm(W, axis=0, keepdims=True)
    return np.sum(a ** 2) + b + c + d + e + f * np.sum(g)


def einsums(A, B, x):
    t = np.einsum("ij,jk->ik", A, B)
    tr = np.einsum("ii->", t)
    q = np.einsum("i,ij,j", x, t, x)
    o = np.einsum("i,j->ij", x, x)
    return tr + q + np.einsum("ij,ij", o, t)


# ---------------------------------------------------------------- structures, helpers

@dataclass
class MLPParams:
    W1: np.ndarray
    b1: np.ndarray
    W2: np.ndarray
    b2: np.ndarray


def mlp_dataclass(p, X, y):
    h = np.maximum(0, X @ p.W1 + p.b1)
    out = h @ p.W2 + p.b2
    return np.mean((out.ravel() - y) ** 2)


def _dense(x, layer, act):
    z = x @ layer["W"] + layer["b"]
    return act(z)


def _forward(layers, x):
    for i, layer in enumerate(layers):
        act = np.tanh if i < len(layers) - 1 else (lambda z: z)
        x = _dense(x, layer, act)
    return x


def mlp_layers(layers, X, y):
    out = _forward(layers, X)
    return 0.5 * np.sum((out[:, 0] - y) ** 2)


def rnn(params, xs):
    Wh, Wx, b = params["Wh"], params["Wx"], params["b"]
    h = np.zeros(Wh.shape[0])
    hs = []
    for t in range(xs.shape[0]):
        h = np.tanh(Wh @ h + Wx @ xs[t] + b)
        hs.append(h)
    H = np.stack(hs)
    return np.sum(H[-1] ** 2) + 0.1 * np.sum(H)


def hinge_svm(w, b, X, y, lam=0.1):
    margins = 1 - y * (X @ w + b)
    return np.mean(np.maximum(0, margins)) + lam * np.sum(w ** 2)


def total_variation(img):
    dx = img[1:, :-1] - img[:-1, :-1]
    dy = img[:-1, 1:] - img[:-1, :-1]
    return np.sum(np.sqrt(dx ** 2 + dy ** 2 + 1e-6))


def infonce(za, zb, temp=0.5):
    za = za / np.linalg.norm(za, axis=1, keepdims=True)
    zb = zb / np.linalg.norm(zb, axis=1, keepdims=True)
    sim = za @ zb.T / temp
    lse = logsumexp(sim, axis=1)
    return np.mean(lse - np.diag(sim))


def cosine_similarity(a, b):
    return np.dot(a, b) / (np.linalg.norm(a) * np.linalg.norm(b))


def kernel_ridge(alpha_log, X, y):
    lam = np.exp(alpha_log)
    K = X @ X.T
    c = np.linalg.solve(K + lam * np.eye(len(y)), y)
    pred = K @ c
    return np.sum((pred - y) ** 2)


def inv_quadform(A, x):
    M = A @ A.T + np.eye(A.shape[0])
    return x @ np.linalg.inv(M) @ x + np.log(np.linalg.det(M))


def trimmed_mean(x):
    s = np.sort(x)
    k = len(x) // 5
    return np.mean(s[k:len(x) - k] ** 2)


def median_loss(x):
    return np.median(x) ** 2 + np.percentile(x, 75)


def focal_loss(logits, y, gamma=2.0):
    p = 1 / (1 + np.exp(-logits))
    pt = np.where(y == 1, p, 1 - p)
    return -np.mean((1 - pt) ** gamma * np.log(np.clip(pt, 1e-7, 1 - 1e-7)))


def kl_categorical(logits_p, logits_q):
    p = np.exp(logits_p - logsumexp(logits_p))
    q = np.exp(logits_q - logsumexp(logits_q))
    p = np.clip(p, 1e-10, 1.0)
    return np.sum(p * (np.log(p) - np.log(q)))


def welford_var(x):
    mean = 0.0
    m2 = 0.0
    for n in range(len(x)):
        delta = x[n] - mean
        mean += delta / (n + 1)
        m2 += delta * (x[n] - mean)
    return m2 / (len(x) - 1)


def newton_sqrt(a):
    x = a.copy()
    it = 0
    while it < 30 and np.max(np.abs(x * x - a)) > 1e-12:
        x = 0.5 * (x + a / x)
        it += 1
    return np.sum(x)


def prod_loss(x):
    return np.prod(x) + np.prod(x.reshape(2, -1), axis=0).sum()


def max_axis(X):
    return np.sum(np.max(X, axis=0)) + np.sum(X.min(axis=1) ** 2) + np.amax(X)


def std_ddof(x):
    return np.std(x, ddof=1) + np.var(x, ddof=1) ** 2


def polyval_loss(p, x):
    return np.sum(np.polyval(p, x) ** 2)


def trapz_loss(y, x):
    return np.trapezoid(y ** 2, x) if hasattr(np, "trapezoid") else np.trapz(y ** 2, x)


def outer_kron(a, b):
    return np.sum(np.outer(a, b) ** 2) + np.sum(np.kron(a, b) * np.arange(a.size * b.size))


def tril_mask(A):
    L = np.tril(A, -1) + np.diag(np.exp(np.diag(A)))
    return np.sum(L @ L.T)


def eigh_loss(A):
    S = 0.5 * (A + A.T)
    w, v = np.linalg.eigh(S)
    return np.sum(w ** 2) + np.sum(np.abs(v[:, 0]) * np.arange(S.shape[0]))


def clip_grad_style(x):
    n = np.linalg.norm(x)
    scale = min(1.0, 2.0 / float(n))
    return np.sum((x * scale) ** 2) + n


def float_scalar_mix(x):
    total = 0
    for v in x:
        total = total + float(v) * v
    return total


def augmented_loop(x):
    acc = np.zeros(3)
    for i in range(len(x)):
        acc[i % 3] += x[i] ** 2
    return np.sum(acc * np.array([1.0, 2.0, 3.0]))


def log_det_chol(A):
    M = A @ A.T + 0.5 * np.eye(len(A))
    L = np.linalg.cholesky(M)
    return 2 * np.sum(np.log(np.diagonal(L)))


def matrix_power_loss(A):
    return np.sum(np.linalg.matrix_power(A, 3))


def softmax_temperature(x, T):
    z = x / T
    e = np.exp(z - np.max(z))
    p = e / e.sum()
    return -np.sum(p * np.log(p))


def where_nan_guard(x):
    # the double-where trick for sqrt at 0
    safe = np.where(x > 0, x, 1.0)
    return np.sum(np.where(x > 0, np.sqrt(safe), 0.0))


def hypot_sum(x, y):
    return np.sum(np.hypot(x, y)) + np.sum(np.arctan2(y, x))


# ---------------------------------------------------------------- second batch

def l2_generator(params, X, y):
    pred = X @ params["w"] + params["b"]
    reg = sum(np.sum(v ** 2) for v in params.values())
    return np.mean((pred - y) ** 2) + 1e-2 * reg


def rotation(theta, pts):
    R = np.array([[np.cos(theta), -np.sin(theta)], [np.sin(theta), np.cos(theta)]])
    moved = pts @ R.T
    return np.sum(moved[:, 0] ** 2) + np.sum(moved[:, 1])


def rotation_scalar_index(params, pts):
    t = params[0]
    s = params[1]
    R = s * np.array([[np.cos(t), -np.sin(t)], [np.sin(t), np.cos(t)]])
    return np.sum((pts @ R) ** 2)


def discounted_returns(r, gamma):
    T = len(r)
    returns = np.zeros(T)
    G = 0.0
    for t in reversed(range(T)):
        G = r[t] + gamma * G
        returns[t] = G
    return np.sum(returns ** 2)


def fill_loop(x):
    out = np.empty_like(x)
    for i in range(len(x)):
        out[i] = x[i] ** 2 if x[i] > 0 else -x[i]
    return out.sum()


def list_to_array(x):
    feats = [x ** k for k in range(1, 4)]
    F = np.array(feats)
    return np.sum(F * np.arange(F.size).reshape(F.shape))


def subtract_outer(x):
    D = np.subtract.outer(x, x)
    return np.sum(np.exp(-D ** 2))


def logaddexp_reduce(x):
    return np.logaddexp.reduce(x) + np.add.reduce(x ** 2)


def gradient_fd(u, dx):
    du = np.gradient(u, dx)
    return np.sum(du ** 2)


def convolve_same(x, k):
    y = np.convolve(x, k, mode="same")
    return np.sum(y ** 2)


def fft_energy(x):
    X = np.fft.rfft(x)
    return np.sum(np.abs(X) ** 2) / len(x)


def fft_filter(x):
    X = np.fft.fft(x)
    X[len(x) // 2:] = 0
    y = np.real(np.fft.ifft(X))
    return np.sum(y ** 2)


def cross_angular(r, v):
    L = np.cross(r, v)
    return np.sum(L ** 2)


def mask_index(x):
    return np.sum(x[x > 0] ** 2) - np.sum(x[x < 0])


def sum_where(x):
    return np.sum(x ** 2, where=x > 0) + np.mean(x, where=x < 0.5)


def nan_reductions(x):
    y = np.where(x > 1.0, np.nan, x)
    return np.nansum(y ** 2) + np.nanmean(y) + np.nanmax(y)


def builtin_max_abs(x):
    m = max(x)
    return m ** 2 + abs(x[0]) + min(x[1], x[2]) + sum(x)


def sorted_builtin(x):
    s = sorted(x)
    return s[0] * s[-1] + s[len(s) // 2]


def pad_stencil(u):
    up = np.pad(u, 1, mode="edge")
    return np.sum((up[2:] - 2 * up[1:-1] + up[:-2]) ** 2)


def pad_wrap(u):
    up = np.pad(u, (1, 2), mode="wrap")
    return np.sum(up * np.arange(up.size))


def concat_stack(x, y):
    z = np.concatenate([x, x * y, y ** 2])
    s = np.stack([x, y], axis=1)
    v = np.vstack([x, y])
    h = np.column_stack([x, y ** 3])
    return np.sum(z) + np.sum(s[:, 0] * s[:, 1]) + np.sum(v ** 2) + np.sum(h[:, 1])


def split_tile(x):
    a, b = np.split(x, 2)
    t = np.tile(a, 3)
    r = np.repeat(b, 2)
    return np.sum(t * np.arange(t.size)) + np.sum(r ** 3)


def argsort_gather(x, w):
    idx = np.argsort(x)
    return np.sum(x[idx] * w) + np.sum(np.take_along_axis(x, idx, axis=0) ** 2)


def linspace_traced(a, b):
    t = np.linspace(a, b, 7)
    return np.sum(np.sin(t))


def meshgrid_field(p):
    xs = np.linspace(-1, 1, 5)
    Xg, Yg = np.meshgrid(xs, xs)
    f = np.exp(-((Xg - p[0]) ** 2 + (Yg - p[1]) ** 2) / p[2] ** 2)
    return np.sum(f)


def pow_variants(x):
    return np.sum(x ** -1) + np.sum(np.power(x, 3)) + np.sum(np.square(x)) + np.sum(np.reciprocal(x)) + np.sum(pow(x, 0.5))


def neg_base_pow(x):
    return np.sum(x ** 3) + np.sum((-x) ** 2) + np.sum(np.cbrt(x))


def methods(X):
    return X.mean() + X.var() + X.std() + X.prod() + X.cumsum().sum() + X.max(axis=1).sum() + X.T.dot(X).trace()


def reshape_order(X):
    v = X.reshape(-1, order="F")
    w = X.ravel(order="F")
    return np.sum(v * np.arange(v.size)) + np.sum(w[:3] ** 2)


def swap_expand(X):
    Y = np.swapaxes(X[None, :, :], 0, 2)
    Z = np.expand_dims(X, -1) * np.moveaxis(Y, 0, -1)
    return np.sum(np.squeeze(Z) ** 2)


def einsum_ellipsis(A, B):
    return np.sum(np.einsum("...ij,...jk->...ik", A, B) ** 2)


def tensordot_loss(A, B):
    return np.sum(np.tensordot(A, B, axes=([1, 2], [0, 1])) ** 2) + np.vdot(A, A) + np.inner(A[0, 0], B[0, 0, :2].sum() * A[1, 1])


def linalg_misc(A):
    Q, R = np.linalg.qr(A)
    s = np.linalg.svd(A, compute_uv=False)
    P = np.linalg.pinv(A)
    return np.sum(np.abs(np.diag(R))) + np.sum(s) + np.sum(P ** 2) + np.trace(A @ A)


def lstsq_loss(A, b):
    x, *_ = np.linalg.lstsq(A, b, rcond=None)
    return np.sum(x ** 2)


def norms_more(W, x):
    return (np.linalg.norm(W, "nuc") + np.linalg.norm(x, ord=3) + np.linalg.norm(x, -np.inf)
            + np.sum(np.linalg.norm(W, ord=1, axis=0)) + np.linalg.norm(W, ord=np.inf) + np.linalg.norm(W, ord=1)
            + np.linalg.norm(x, 0.5))


def dtype_eps(x):
    eps = np.finfo(x.dtype).eps
    return np.sum(np.log(np.abs(x) + eps))


def astype_inside(x):
    y = x.astype(np.float32)
    return np.sum(y ** 2).astype(np.float64) + np.sum(x)


def float32_constant(x):
    return np.sum(np.float32(0.5) * x ** 2 + np.float64(0.25) * x)


def mixed_precision(w, X):
    h = X @ w
    return np.mean(np.tanh(h))


def reduce_helper(xs):
    import functools
    return functools.reduce(lambda a, b: a * b + 1, xs)


def clip_array_bounds(x, lo, hi):
    return np.sum(np.clip(x, lo, hi) ** 2) + np.sum(x.clip(min=0))


def special_elementwise(x):
    return np.sum(np.sinc(x) + np.log2(1 + x ** 2) + np.log10(2 + x) + np.arcsinh(x) + np.arctanh(x / 3)
                  + np.fmax(x, 0.1) + np.heaviside(x, 0.5) * x + np.expm1(x))


def periodic_bc(u):
    v = u.copy()
    for _ in range(3):
        w = v.copy()
        w[1:-1] = 0.5 * (v[:-2] + v[2:])
        w[0] = w[-2]
        w[-1] = w[1]
        v = w
    return np.sum(v ** 2 * np.arange(len(v)))


def searchsorted_interp(x, knots_y):
    knots_x = np.linspace(-3, 3, len(knots_y))
    i = np.clip(np.searchsorted(knots_x, x) - 1, 0, len(knots_x) - 2)
    t = (x - knots_x[i]) / (knots_x[i + 1] - knots_x[i])
    y = (1 - t) * knots_y[i] + t * knots_y[i + 1]
    return np.sum(y ** 2)


def interp_loss(x, fp):
    xp = np.linspace(-3, 3, len(fp))
    return np.sum(np.interp(x, xp, fp) ** 2)


def diff_variants(x):
    return np.sum(np.diff(x, n=2) ** 2) + np.sum(np.ediff1d(x)) + np.sum(np.diff(x.reshape(2, -1), axis=0) ** 2)


def block_matrix(a, b):
    M = np.block([[np.diag(a), np.outer(a, b)], [np.zeros((len(b), len(a))), np.diag(b)]])
    return np.sum(M @ M)


def item_scalar(x):
    s = x.sum().item()
    return np.sum(x * s)


def atleast(x):
    return np.sum(np.atleast_2d(x).T @ np.atleast_2d(x)) + np.sum(np.triu(np.outer(x, x), 1))


def weighted_quantile_like(x):
    order = np.argsort(x)
    cw = np.cumsum(np.ones_like(x)[order]) / len(x)
    return np.sum(x[order] * cw)


def walrus_loop(x):
    total = 0.0
    i = 0
    while (v := x[i]) < 10 and i < len(x) - 1:
        total = total + v ** 2
        i += 1
    return total


def cumsum_axis(X):
    return np.sum(np.cumsum(X, axis=1) ** 2) + np.sum(np.flip(np.cumsum(np.flip(X, 0), 0), 0)[0])


def maximum_accumulate(x):
    return np.sum(np.maximum.accumulate(x) ** 2)


def nonzero_idx(x):
    idx = np.nonzero(x > 0)[0]
    w = np.where(x < 0)
    return np.sum(x[idx] ** 2) + np.sum(x[w])


def dict_params_loop(params, x):
    h = x
    for name in sorted(params):
        h = np.tanh(h * params[name])
    return np.sum(h)


def matvec_1d(W, x):
    return np.sum(np.matmul(W, x) ** 2) + x @ x + np.dot(W, x) @ x
