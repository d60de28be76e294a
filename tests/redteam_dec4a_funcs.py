"""Red team (Dec 4a): a corpus of real-world functions (autograd/JAX examples, Tangent's corpus,
scientific code), written the way people write them.  Each takes float arrays and returns a real
scalar; tests/test_redteam_dec4a.py runs them through sct and compares values with plain Python and
gradients with central differences (and jvp/hvp)."""
from __future__ import annotations

import math

import numpy as np


# ---------------------------------------------------------------- reductions, softmax family
def logsumexp(x):
    m = np.max(x)
    return m + np.log(np.sum(np.exp(x - m)))


def logsumexp_axis(x):
    m = np.max(x, axis=1, keepdims=True)
    lse = m + np.log(np.sum(np.exp(x - m), axis=1, keepdims=True))
    return np.sum(lse ** 2)


def softmax_xent(logits):
    labels = np.array([0, 2, 1])
    z = logits - np.max(logits, axis=-1, keepdims=True)
    logp = z - np.log(np.sum(np.exp(z), axis=-1, keepdims=True))
    return -np.mean(logp[np.arange(logits.shape[0]), labels])


def attention_masked(q):
    k = q[::-1] * 0.5 + 0.1
    v = np.tanh(q)
    scores = q @ k.T / np.sqrt(q.shape[-1])
    n = scores.shape[0]
    mask = np.tril(np.ones((n, n), dtype=bool))
    scores = np.where(mask, scores, -1e9)
    scores = scores - scores.max(axis=-1, keepdims=True)
    w = np.exp(scores)
    w = w / w.sum(axis=-1, keepdims=True)
    out = w @ v
    return np.sum(out ** 2)


def layer_norm(x):
    gamma = np.linspace(0.5, 1.5, x.shape[-1])
    beta = np.linspace(-0.2, 0.2, x.shape[-1])
    mu = x.mean(axis=-1, keepdims=True)
    var = ((x - mu) ** 2).mean(axis=-1, keepdims=True)
    xhat = (x - mu) / np.sqrt(var + 1e-5)
    y = gamma * xhat + beta
    return np.sum(y * np.cos(y))


def np_var_std(x):
    return np.var(x) + np.std(x, axis=0, ddof=1).sum() + np.var(x, axis=1, keepdims=True).mean()


# ---------------------------------------------------------------- recurrent cells
def sigmoid(z):
    return 1.0 / (1.0 + np.exp(-z))


def gru_cell(W):
    n = 3
    h = np.zeros(n)
    xs = [np.array([0.5, -1.0]), np.array([0.3, 0.8]), np.array([-0.7, 0.2])]
    Wz, Wr, Wh = W[:, :n + 2], W[:, n + 2:2 * (n + 2)], W[:, 2 * (n + 2):]
    for x in xs:
        hx = np.concatenate([h, x])
        z = sigmoid(Wz @ hx)
        r = sigmoid(Wr @ hx)
        hc = np.tanh(Wh @ np.concatenate([r * h, x]))
        h = (1 - z) * h + z * hc
    return np.sum(h ** 2)


def lstm_cell(params):
    W, b = params["W"], params["b"]
    n = b.shape[0] // 4
    h = np.zeros(n)
    c = np.zeros(n)
    inputs = np.array([[0.1, 0.2], [-0.5, 0.4], [0.9, -0.3], [0.0, 1.0]])
    outs = []
    for t in range(inputs.shape[0]):
        gates = W @ np.hstack((h, inputs[t])) + b
        i, f, o, g = np.split(gates, 4)
        c = sigmoid(f) * c + sigmoid(i) * np.tanh(g)
        h = sigmoid(o) * np.tanh(c)
        outs.append(h)
    H = np.stack(outs)
    return np.sum(H * np.arange(1, H.shape[0] + 1)[:, None])


# ---------------------------------------------------------------- linear algebra
def gp_nll(params):
    X = np.linspace(-1, 1, 5)[:, None]
    y = np.sin(3 * X[:, 0])
    ls, sf, sn = np.exp(params[0]), np.exp(params[1]), np.exp(params[2])
    d = X - X.T
    K = sf ** 2 * np.exp(-0.5 * d ** 2 / ls ** 2) + (sn ** 2 + 1e-6) * np.eye(5)
    L = np.linalg.cholesky(K)
    alpha = np.linalg.solve(L.T, np.linalg.solve(L, y))
    return 0.5 * y @ alpha + np.sum(np.log(np.diag(L))) + 0.5 * 5 * np.log(2 * np.pi)


def gp_nll_slogdet(A):
    K = A @ A.T + 2.0 * np.eye(A.shape[0])
    y = np.arange(A.shape[0], dtype=float)
    sign, logdet = np.linalg.slogdet(K)
    return 0.5 * y @ np.linalg.solve(K, y) + 0.5 * logdet


def inv_det(A):
    B = A + 3 * np.eye(3)
    return np.sum(np.linalg.inv(B)) + np.linalg.det(B) ** 2


def eigh_energy(A):
    S = 0.5 * (A + A.T)
    w, V = np.linalg.eigh(S)
    return np.sum(w * np.arange(1, 4)) + np.sum(V[:, 0] ** 4)


def norms(A):
    return (np.linalg.norm(A) + np.linalg.norm(A, ord=1) + np.linalg.norm(A, ord=np.inf)
            + np.linalg.norm(A, axis=1).sum() + np.linalg.norm(A, ord=2, axis=0).sum()
            + np.linalg.norm(A[0], ord=3) + np.linalg.norm(A, 'fro'))


def multidot_power(A):
    B = np.linalg.multi_dot([A, A.T, A])
    C = np.linalg.matrix_power(A * 0.5, 3)
    return np.sum(B) + np.trace(C)


def lstsq_pinv(A):
    b = np.array([1.0, -2.0, 0.5, 3.0])
    x = np.linalg.pinv(A) @ b
    return np.sum(x ** 2)


def solve_batched(A):
    M = A + 4 * np.eye(3)
    rhs = np.ones((2, 3, 1))
    X = np.linalg.solve(np.stack([M, M.T]), rhs)
    return np.sum(X ** 2)


def qr_r(A):
    Q, R = np.linalg.qr(A)
    return np.sum(np.abs(np.diag(R))) + np.sum(Q @ R)


def svd_vals(A):
    s = np.linalg.svd(A, compute_uv=False)
    return np.sum(s ** 3)


# ---------------------------------------------------------------- ODE integration
def rk4(y0):
    def f(t, y):
        return np.array([y[1], -np.sin(y[0]) - 0.1 * y[1]])
    y = y0
    t = 0.0
    h = 0.1
    for _ in range(10):
        k1 = f(t, y)
        k2 = f(t + h / 2, y + h / 2 * k1)
        k3 = f(t + h / 2, y + h / 2 * k2)
        k4 = f(t + h, y + h * k3)
        y = y + h / 6 * (k1 + 2 * k2 + 2 * k3 + k4)
        t += h
    return y[0] ** 2 + y[1]


def leapfrog(q):
    p = np.zeros_like(q)
    dt = 0.05

    def grad_u(q):
        return q ** 3 - q

    for i in range(20):
        p = p - 0.5 * dt * grad_u(q)
        q = q + dt * p
        p = p - 0.5 * dt * grad_u(q)
    return np.sum(0.5 * p ** 2 + 0.25 * q ** 4 - 0.5 * q ** 2)


def euler_while(y0):
    y = y0.copy()
    t = 0.0
    while t < 1.0:
        y = y + 0.125 * (-y ** 3 + np.roll(y, 1))
        t = t + 0.125
    return np.sum(y)


# ---------------------------------------------------------------- finance / special
def black_scholes(x):
    S, K, T, r, sigma = x[0], x[1], x[2], x[3], x[4]

    def ncdf(z):
        return 0.5 * (1.0 + math.erf(z / math.sqrt(2.0)))

    d1 = (math.log(S / K) + (r + 0.5 * sigma ** 2) * T) / (sigma * math.sqrt(T))
    d2 = d1 - sigma * math.sqrt(T)
    return S * ncdf(d1) - K * math.exp(-r * T) * ncdf(d2)


def black_scholes_np(S):
    K, T, r, sigma = 100.0, 0.5, 0.01, 0.25
    d1 = (np.log(S / K) + (r + sigma ** 2 / 2) * T) / (sigma * np.sqrt(T))
    d2 = d1 - sigma * np.sqrt(T)
    from scipy.special import ndtr
    return np.sum(S * ndtr(d1) - K * np.exp(-r * T) * ndtr(d2))


def horner(c):
    x = 1.3
    acc = 0.0
    for coef in c:
        acc = acc * x + coef
    return acc


def polyval_sum(c):
    xs = np.linspace(-1, 1, 7)
    return np.sum(np.polyval(c, xs) ** 2) + np.polyval(c[::-1], 0.3)


def interp_fn(y):
    xp = np.array([0.0, 1.0, 2.5, 4.0])
    x = np.array([-0.5, 0.3, 1.0, 2.0, 3.9, 5.0])
    return np.sum(np.interp(x, xp, y) ** 2)


def interp_x(x):
    xp = np.array([0.0, 1.0, 2.5, 4.0])
    fp = np.array([1.0, -1.0, 2.0, 0.5])
    return np.sum(np.interp(x, xp, fp) * x)


def cumsum_diff_convolve(x):
    c = np.cumsum(x)
    d = np.diff(x, n=2)
    k = np.convolve(x, np.array([0.25, 0.5, 0.25]), mode='same')
    v = np.convolve(x, x[:3], mode='valid')
    return np.sum(c * c) + np.sum(d ** 2) + np.sum(k * x) + np.sum(v)


def cumprod_fn(x):
    return np.sum(np.cumprod(x, axis=0)) + np.sum(np.cumsum(x[::-1], axis=1) ** 2)


def trapz_fn(y):
    t = np.linspace(0, 1, y.shape[0])
    dt = t[1] - t[0]
    return np.sum((y[1:] + y[:-1]) * 0.5 * dt) ** 2


# ---------------------------------------------------------------- sort-based statistics
def median_stats(x):
    return np.median(x) + np.median(x[:4]) + np.percentile(x, 30) + np.quantile(x, 0.75)


def sort_trim_mean(x):
    s = np.sort(x)
    return np.mean(s[1:-1]) + np.sum(np.sort(x)[::-1] * np.arange(x.size))


def partition_fn(x):
    p = np.partition(x, 2)
    return np.sum(p[:2] ** 2) + p[2]


def argsort_fn(x):
    idx = np.argsort(x)
    return np.sum(x[idx] * np.arange(x.size)) + x[np.argmax(x)] - x[np.argmin(x)]


def median_axis(X):
    return np.sum(np.median(X, axis=0) ** 2) + np.sum(np.percentile(X, [25, 75], axis=1))


# ---------------------------------------------------------------- piecewise
def clip_chain(x):
    y = np.clip(x, -0.5, 0.8)
    z = np.maximum(y, 0.1 * x)
    w = np.where(x > 0, np.minimum(z, x ** 2), -np.abs(x) ** 1.5)
    return np.sum(w * x) + np.sum(np.fmax(x, 0.0)) + np.sum(np.sign(x) * x ** 2)


def huber_loss(r):
    delta = 1.0
    a = np.abs(r)
    return np.sum(np.where(a <= delta, 0.5 * r ** 2, delta * (a - 0.5 * delta)))


def softplus_stable(x):
    return np.sum(np.logaddexp(0, x)) + np.sum(np.log1p(np.exp(-np.abs(x))) + np.maximum(x, 0))


# ---------------------------------------------------------------- einsum / tensor products
def einsum_mix(A):
    tr = np.einsum('ii->', A)
    d = np.einsum('ii->i', A)
    B = np.einsum('ij,jk->ik', A, A)
    e = np.einsum('...i,...i->...', A, A)
    f = np.einsum('ij,ij', A, A.T)
    return tr + d @ d + np.sum(B) + np.sum(e) + f


def einsum_batched(X):
    W = np.arange(6.0).reshape(3, 2) / 5.0
    Y = np.einsum('bij,jk->bik', X, W)
    G = np.einsum('bik,bjk->bij', Y, Y)
    return np.einsum('bii', G).sum()


def kron_outer_tensordot(x):
    A = x.reshape(2, 2)
    K = np.kron(A, np.eye(2) + A)
    O = np.outer(x, x[::-1])
    T = np.tensordot(A, O.reshape(2, 2, 4), axes=([0, 1], [0, 1]))
    T2 = np.tensordot(A, A, axes=1)
    return np.sum(K ** 2) + np.sum(O) + np.sum(T) + np.sum(T2 * A) + np.inner(x, x) + np.vdot(x, x)


def trace_diag(A):
    return np.trace(A @ A) + np.sum(np.diag(A, k=1)) + np.sum(np.diagonal(A, offset=-1)) + np.sum(np.triu(A) * np.tril(A.T))


# ---------------------------------------------------------------- complex
def complex_abs(z):
    w = z * np.conj(z[::-1]) + 1j * z
    return np.sum(np.abs(w)) + np.sum(w.real ** 2) - np.sum(np.imag(w))


def complex_from_real(x):
    z = x[0] + 1j * x[1:]
    e = np.exp(1j * x)
    return np.sum(np.abs(z) ** 2) + np.real(np.sum(e * np.conj(e[::-1]))) + np.angle(z).sum()


def fft_power(x):
    F = np.fft.fft(x)
    return np.sum(np.abs(F) ** 2) + np.sum(np.real(np.fft.ifft(F * F)))


def rfft_fn(x):
    F = np.fft.rfft(x)
    return np.sum(np.abs(F)) + np.sum(np.fft.irfft(F * np.conj(F), n=x.size))


# ---------------------------------------------------------------- indexing
def neg_repeat_index(x):
    idx = np.array([0, -1, 2, 2, -3])
    return np.sum(x[idx] ** 2) + x[-1] * x[-2] + np.sum(x[[1, 1, 1]])


def bool_mask(x):
    m = x > 0.1
    return np.sum(x[m] ** 2) + np.sum(x[~m]) + np.mean(x[x < 0.5])


def fancy_assign(x):
    y = np.zeros(7)
    y[[0, 3, 3, 5]] = x[:4]
    y[1::2] += x[4:7]
    y[-1] = x[0] * x[1]
    z = x.copy()
    z[z < 0] = 0.0
    return np.sum(y ** 2) + np.sum(z * x)


def add_at_fn(x):
    out = np.zeros(3)
    np.add.at(out, [0, 1, 1, 2, 0], x[:5])
    return np.sum(out ** 2)


def index_2d(X):
    r = np.array([0, 2, 2])
    c = np.array([1, 0, -1])
    return np.sum(X[r, c] ** 2) + np.sum(X[1:, ::-1][:, 0]) + np.sum(X[:, [0, 0]] * X[:, -1:]) + X[-1, -1]


def ix_fn(X):
    sub = X[np.ix_([0, 2], [1, 2])]
    return np.sum(sub ** 3) + np.sum(X[..., 1]) + np.sum(X[None, :, 0])


def take_fn(X):
    return np.sum(np.take(X, [2, 0], axis=1) ** 2) + np.sum(np.take_along_axis(X, np.argsort(X, axis=1), axis=1) * np.arange(3))


# ---------------------------------------------------------------- shape manipulation
def stack_split(x):
    a, b, c = np.split(x, 3)
    parts = np.array_split(x, 4)
    S = np.stack([a, b * 2, c ** 2], axis=1)
    V = np.vstack([a, c])
    H = np.hstack([a, b])
    C = np.concatenate([S, S[::-1]], axis=0)
    return np.sum(C * np.arange(C.size).reshape(C.shape)) + np.sum(V) + np.sum(H ** 2) + sum(np.sum(p ** 2) for p in parts)


def reshape_order_f(x):
    A = x.reshape(3, -1)
    B = x.reshape((6, 2), order='F')
    C = np.reshape(A, -1, order='F')
    D = A.ravel(order='F')
    E = A.flatten()
    return np.sum(A @ B[:4]) + np.sum(C * np.arange(12)) + np.sum(D * E) + np.sum(np.reshape(x, (2, 2, -1), order='F')[:, 1] ** 2)


def transpose_moveaxis(X):
    Y = np.transpose(X, (2, 0, 1))
    Z = np.moveaxis(X, 0, -1)
    W = np.swapaxes(X, 0, 2)
    V = X.transpose(1, 2, 0)
    return np.sum(Y * np.arange(Y.size).reshape(Y.shape)) + np.sum(Z[..., 0] ** 2) + np.sum(W[0]) + np.sum(V.T)


def broadcast_outer(x):
    a = x[:, None]
    b = x[None, :3]
    D = (a - b) ** 2
    return np.sum(np.exp(-D)) + np.sum(np.sqrt(D + 1.0), axis=0, keepdims=True).sum() + np.sum(np.broadcast_to(a, (4, 5)))


def tile_repeat_pad(x):
    T = np.tile(x, 2)
    R = np.repeat(x, 2)
    P = np.pad(x, (1, 2), mode='constant')
    E = np.pad(x, 2, mode='edge')
    return np.sum(T * np.arange(T.size)) + np.sum(R ** 2) + np.sum(P * np.arange(P.size)) + np.sum(E ** 3)


def flip_roll(X):
    return np.sum(np.flip(X, axis=0) * X) + np.sum(np.roll(X, 1, axis=1) * X) + np.sum(np.fliplr(X)[:, 0]) + np.sum(np.rot90(X) ** 2)


def expand_squeeze(x):
    y = np.expand_dims(x, 0)
    z = np.squeeze(y)
    w = np.atleast_2d(x)
    return np.sum(y * z) + np.sum(w.T @ w)


# ---------------------------------------------------------------- structures and scalars
def mlp_dict(params, x=np.linspace(-1, 1, 6).reshape(2, 3)):
    h = np.tanh(x @ params["W1"] + params["b1"])
    out = h @ params["W2"] + params["b2"]
    return np.mean((out - 1.0) ** 2)


def mlp_list(layers):
    h = np.array([[0.1, -0.2], [0.3, 0.5]])
    for W, b in layers:
        h = np.maximum(0.0, h @ W + b) + 0.01 * (h @ W + b)
    return np.sum(h)


def scalar_args(x, alpha=0.5, n=3):
    s = 0.0
    for k in range(n):
        s += alpha ** k * np.sum(x ** (k + 1))
    return s


def returns_tuple(x):
    return np.sum(x ** 2), np.prod(x)


def tuple_loss(x):
    a, b = returns_tuple(x)
    return a + 2 * b


def math_scalar_loop(x):
    total = 0.0
    for i in range(x.shape[0]):
        xi = float(x[i])
        total += math.sin(xi) * math.exp(-xi ** 2) + math.hypot(xi, 1.0) + math.atan2(xi, 2.0)
    return total


def prod_ops(x):
    return np.prod(x) + np.prod(x.reshape(2, 3), axis=0).sum() + np.sum(np.sqrt(np.abs(x))) + np.sum(x ** -2)


def special_fns(x):
    return np.sum(np.arctan(x) + np.arcsinh(x) + np.sinc(x) + np.expm1(x) + np.log2(1 + x ** 2)
                  + np.hypot(x, 1.0) + np.cbrt(x) + np.tanh(x) ** 2 + np.arctan2(x, 1.5))


def scipy_special(x):
    from scipy.special import erf, gammaln, logsumexp as lse
    return np.sum(erf(x)) + np.sum(gammaln(x ** 2 + 1.0)) + lse(x) + lse(x.reshape(2, 3), axis=1).sum()


def rosenbrock_nd(x):
    return np.sum(100.0 * (x[1:] - x[:-1] ** 2) ** 2 + (1 - x[:-1]) ** 2)


def newton_sqrt(x):
    y = x.copy()
    for _ in range(6):
        y = 0.5 * (y + x / y)
    return np.sum(y)


def fixed_point_while(x):
    z = np.zeros_like(x)
    it = 0
    while it < 30:
        z_new = np.tanh(0.5 * z + x)
        if np.max(np.abs(z_new - z)) < 1e-12:
            z = z_new
            break
        z = z_new
        it += 1
    return np.sum(z ** 2)


def mixture_loglik(mu):
    data = np.array([-1.2, 0.3, 0.5, 2.2, 1.7])
    w = np.array([0.3, 0.7])
    diffs = data[:, None] - mu[None, :]
    logp = -0.5 * diffs ** 2 - 0.5 * np.log(2 * np.pi) + np.log(w)
    m = logp.max(axis=1, keepdims=True)
    return -np.sum(m.squeeze(1) + np.log(np.exp(logp - m).sum(axis=1)))


def conv2d_loops(K):
    img = np.arange(25.0).reshape(5, 5) / 25.0
    out = np.zeros((3, 3))
    for i in range(3):
        for j in range(3):
            out[i, j] = np.sum(img[i:i + 3, j:j + 3] * K)
    return np.sum(np.tanh(out))


def kmeans_soft(C):
    X = np.array([[0.0, 0.1], [1.0, 1.2], [0.9, 0.8], [-0.2, 0.3]])
    d2 = np.sum((X[:, None, :] - C[None, :, :]) ** 2, axis=-1)
    r = np.exp(-d2) / np.sum(np.exp(-d2), axis=1, keepdims=True)
    return np.sum(r * d2)


def float32_fn(x):
    y = x * np.float32(2.0) + np.sin(x)
    return np.sum(y ** 2) + np.mean(np.tanh(x) * x)


def mean_where(x):
    return np.mean(x, where=x > 0) + np.sum(x, where=x < 0.5) + np.nansum(x) + np.nanmean(x)


def max_axis_ties(X):
    return np.sum(np.max(X, axis=0)) + np.sum(np.amin(X, axis=1)) + np.ptp(X) + np.sum(np.sort(X, axis=0)[-1])


def allclose_branch(x):
    if np.all(x > -5) and np.any(x > 0):
        return np.sum(x ** 2)
    return np.sum(x)


def list_comprehension_sum(x):
    terms = [x[i] * x[j] for i in range(x.size) for j in range(i + 1, x.size)]
    return sum(terms) + np.sum(np.array([np.sin(v) for v in x]))


def dot_variants(x):
    A = x.reshape(2, 3)
    return np.dot(A, A.T).sum() + A.dot(x[:3]).sum() + np.matmul(A.T, A).trace() + (x @ x)


def triangular_solve(A):
    L = np.tril(A) + 3 * np.eye(3)
    b = np.array([1.0, 2.0, 3.0])
    import scipy.linalg as sla
    x = sla.solve_triangular(L, b, lower=True)
    return np.sum(x ** 2)


def cov_corr(X):
    C = np.cov(X)
    R = np.corrcoef(X)
    return np.sum(C ** 2) + np.sum(R[0, 1:])


def histogram_free_stats(x):
    z = (x - x.mean()) / x.std()
    return np.mean(z ** 3) + np.mean(z ** 4) - 3.0


def meshgrid_fn(x):
    X, Y = np.meshgrid(x, x[:3])
    return np.sum(np.sin(X) * Y)


def astype_round_trip(x):
    y = x.astype(np.float64).copy()
    return np.sum(y * x) + np.sum(np.round(x, 2) * x) + np.sum(np.floor(x) * x) + np.sum(np.trunc(x) * np.rint(x) * x)


def power_fn(x):
    return np.sum(np.power(np.abs(x) + 1, x)) + np.sum(np.float_power(x ** 2 + 1, 0.5)) + np.sum(np.square(x)) + np.sum(np.reciprocal(x + 3))


def linspace_param(a):
    t = np.linspace(a[0], a[1], 5)
    return np.sum(np.sin(t) * t)


def outer_subtract(x):
    return np.sum(np.subtract.outer(x, x) ** 2) + np.sum(np.multiply.outer(x, x[:2])) + np.add.reduce(x ** 2)


# ---------------------------------------------------------------- batch 2: Tangent-style control flow, builtins
def tangent_if_loop(x):
    a = x
    for i in range(4):
        if i % 2:
            a = a * x
        else:
            a = a + np.sin(x)
    return np.sum(a)


def power_rec(x, n):
    if n == 0:
        return 1.0
    return x * power_rec(x, n - 1)


def recursion_fn(x):
    return np.sum(power_rec(x, 3)) + np.sum(power_rec(x[:2], 1))


def builtins_fn(x):
    xs = [x[i] for i in range(x.shape[0])]
    return sum(xs) * max(xs) - min(xs) + abs(x[0] - 0.1) + sum(v * v for v in x)


def reduce_fn(x):
    import functools
    return functools.reduce(lambda a, b: a * b + 0.5, list(x)) + functools.reduce(np.add, [x, x ** 2, x ** 3]).sum()


def array_methods(x):
    return (x.clip(-0.3, 0.4).sum() + x.cumsum().dot(x) + x.var() + x.std(ddof=1) + x.max() - x.min()
            + x.prod() + x.mean() + np.abs(x).sum() + x.reshape(2, -1).sum(axis=0).max() + np.ptp(x))


def sorted_key(x):
    pairs = [(x[i], float(i)) for i in range(x.shape[0])]
    pairs = sorted(pairs, key=lambda p: p[0])
    return sum(p[0] * (k + 1) for k, p in enumerate(pairs))


def zip_star(X):
    cols = list(zip(*X))
    return sum(c[0] * c[1] for c in cols) + sum(np.sum(np.array(r) ** 2) for r in zip(*cols))


def einsum_optimize(A):
    B = np.einsum('ij,jk,kl->il', A, A, A, optimize=True)
    return np.einsum('ii', B) + np.einsum('i,i->', A[0], A[1])


def lstsq_fn(A):
    b = np.array([1.0, 2.0, 0.0, -1.0])
    x = np.linalg.lstsq(A, b, rcond=None)[0]
    return np.sum(x ** 2)


def eigvals_fn(A):
    S = A @ A.T + np.eye(3)
    return np.sum(np.linalg.eigvalsh(S) ** 2) + np.linalg.cond(S) + np.log(np.linalg.det(S))


def scipy_expit(x):
    from scipy.special import expit, logit, xlogy, softmax, log_softmax
    p = expit(x)
    return np.sum(logit(p * 0.5 + 0.25)) + np.sum(xlogy(p, p)) + np.sum(softmax(x) * x) + np.sum(log_softmax(x) ** 2)


def select_piecewise(x):
    y = np.select([x < -0.3, x < 0.3], [x ** 2, np.sin(x)], default=np.exp(x))
    h = np.heaviside(x, 0.5) * x
    return np.sum(y) + np.sum(h ** 2)


def average_fn(x):
    w = np.array([1.0, 2.0, 3.0, 4.0])
    return np.average(x, weights=w) + np.average(x.reshape(2, 2), axis=0, weights=[0.3, 0.7]).sum()


def cross_fn(x):
    a = x[:3]
    b = x[3:]
    c = np.cross(a, b)
    return np.sum(c ** 2) + np.dot(c, a + 1.0)


def norm_ords(A):
    return (np.linalg.norm(A, 'nuc') + np.linalg.norm(A, -np.inf) + np.linalg.norm(A, 2)
            + np.linalg.norm(A[0], -np.inf) + np.linalg.norm(A[0], 0.5) + np.linalg.norm(A[:, 0], np.inf))


def vander_tri(x):
    V = np.vander(x, 3)
    T = np.tri(4) * np.outer(x, x)
    return np.sum(V ** 2) + np.sum(T)


def complex_unitary(theta):
    U = np.exp(1j * np.outer(theta, np.arange(3)))
    G = U @ U.conj().T
    H = G + G.conj().T
    w = np.linalg.eigvalsh(H)
    return np.sum(np.abs(G) ** 2) + np.sum(w) + np.abs(np.fft.fft2(U)).sum()


def float32_attention(q):
    k = q * np.float32(0.5)
    s = q @ k.T / np.float32(np.sqrt(q.shape[1]))
    s = s - s.max(axis=1, keepdims=True)
    w = np.exp(s)
    w = w / w.sum(axis=1, keepdims=True)
    return np.sum((w @ q) ** 2)


def while_break(x):
    s = np.zeros_like(x)
    k = 0
    while True:
        s = s + x ** k / math.factorial(k)
        k += 1
        if k > 6:
            break
    return np.sum(s)


def nested_closure(x):
    scale = np.sum(x)

    def f(z):
        return z * scale + np.cos(z)

    def g(z):
        return f(f(z))

    return np.sum(g(x))


def dict_update_loop(p):
    params = {"a": p[0], "b": p[1], "c": p[2:]}
    for k in ["a", "b"]:
        params[k] = params[k] * 2.0 + params["c"].sum()
    out = {k: v ** 2 for k, v in params.items()}
    return sum(np.sum(v) for v in out.values())


def list_of_arrays_update(x):
    ws = [x[:2], x[2:4]]
    for i in range(len(ws)):
        ws[i] = ws[i] - 0.1 * np.tanh(ws[i])
    ws.append(ws[0] * ws[1])
    return sum(np.sum(w ** 2) for w in ws)


def int_pow_negative(x):
    return np.sum(x ** 3 - 2 * x ** -1 + x ** 0.5 + 2.0 ** x + np.power(x, 2))


def string_format(x):
    label = f"{x.shape[0]}-dim"
    if label.startswith("4"):
        return np.sum(x ** 2)
    return np.sum(x)


def enumerate_weights(x):
    total = 0.0
    for i, v in enumerate(x):
        total = total + (i + 1) * v ** 2
    for a, b in zip(x[:-1], x[1:]):
        total += a * b
    return total


def conditional_expr(x):
    return np.sum(np.array([v if v > 0 else -2 * v for v in x]) ** 2) + (x[0] if x[1] > x[2] else x[3])


def gauss_newton_step(p):
    t = np.linspace(0, 1, 6)
    y = 2.0 * np.exp(-1.5 * t)
    r = p[0] * np.exp(p[1] * t) - y
    J = np.stack([np.exp(p[1] * t), p[0] * t * np.exp(p[1] * t)], axis=1)
    step = np.linalg.solve(J.T @ J + 1e-3 * np.eye(2), J.T @ r)
    p2 = p - step
    r2 = p2[0] * np.exp(p2[1] * t) - y
    return 0.5 * r2 @ r2


# ---------------------------------------------------------------- regressions (bugs found by this red team)
def mask_alias(x):
    m = x > 0
    n = m
    n &= x < 0.5                                                  # MARK mask_alias
    return np.sum(x[m] ** 2)


def fancy_copy_alias(x):
    idx = np.array([0, 1])
    y = x[idx]
    z = y
    z += 1.0                                                      # MARK fancy_copy_alias
    return np.sum(y * x[:2])


def fancy_copy_private(x):
    idx = np.array([0, 2, 2])
    y = x[idx]
    y += 1.0
    return np.sum(y * x[:3])


def mask_private(x):
    m = x > 0
    m &= x < 0.5
    return np.sum(x[m] ** 2) + np.sum(x[x > m.sum() - 1.0])


def float_time_loop(y):
    def f(t, y):
        return y * np.cos(t)
    t = 0.0
    h = 0.25
    for _ in range(4):
        y = y + h * f(t, y)
        t += h
    return np.sum(y) + t


def float_time_arg(y, t=0.0):
    def f(t, y):
        return y * np.cos(t) - t
    for _ in range(3):
        y = y + 0.1 * f(t, y)
        t += 0.1
    return np.sum(y ** 2)


from redteam_dec4a_deco import double, shifted  # noqa: E402


@double
def doubled_energy(x):
    return np.sum(x ** 2 * np.sin(x))


@shifted(0.5)
def shifted_energy(x):
    return np.sum(np.tanh(x) * x)


def calls_decorated(x):
    return doubled_energy(x) + shifted_energy(x * 2.0)


def array_namespace(*arrays):
    """The array module of the arguments (as scipy's and array-API code find it)."""
    return np


def namespace_fn(x):
    xp = array_namespace(x)
    y = xp.exp(x - xp.max(x, axis=0, keepdims=True))
    s = xp.sum(y, axis=0, keepdims=True)
    out = xp.squeeze(xp.log(s), axis=0) + xp.max(x, axis=0)
    return xp.sum(out * x[0], axis=None)


def namespace_method_name(x):
    xp = array_namespace(x)
    return np.sum(xp.exp(x) * xp.reshape(x, (-1,)))                # MARK namespace_method_name


def namespace_ufuncs(x):
    xp = array_namespace(x)
    y = xp.exp(x)
    return np.sum(xp.tanh(y) * xp.log(y + 2.0))


def max_rows_by_key(x):
    rows = [x[:2], x[2:]]
    best = max(rows, key=lambda v: np.sum(v))
    return np.sum(best * np.array([1.0, 3.0]))


def min_max_pairs(x):
    pairs = [(x[i] ** 2, float(i)) for i in range(x.shape[0])]
    best = min(pairs)
    worst = max(pairs, key=lambda p: p[0])
    return best[0] + worst[0] * 2 + worst[1] * best[0]


def sum_of_tuples(x):
    t = sum([(x[0],), (x[1], x[2])], ())                          # MARK sum_of_tuples
    return t[0] * t[1] + t[2]


# ---------------------------------------------------------------- numerical methods (loops, in-place writes)
def simpson(y):
    h = 0.1
    return h / 3 * (y[0] + y[-1] + 4 * np.sum(y[1:-1:2]) + 2 * np.sum(y[2:-1:2]))
def laplacian(u):
    h = 0.25
    L = np.zeros_like(u)
    L[1:-1] = (u[2:] - 2 * u[1:-1] + u[:-2]) / h ** 2
    L[0] = L[1]
    L[-1] = L[-2]
    return np.sum(L * u)
def expm_taylor(a):
    A = a.reshape(2, 2)
    E = np.eye(2)
    term = np.eye(2)
    for k in range(1, 12):
        term = term @ A / k
        E = E + term
    return np.sum(E ** 2)
def power_iter(a):
    A = a.reshape(3, 3)
    S = A @ A.T
    v = np.ones(3) / np.sqrt(3)
    for _ in range(30):
        w = S @ v
        v = w / np.linalg.norm(w)
    return v @ S @ v
def gram_schmidt(a):
    A = a.reshape(3, 3) + 2 * np.eye(3)
    Q = np.zeros((3, 3))
    for j in range(3):
        v = A[:, j].copy()
        for i in range(j):
            v = v - (Q[:, i] @ A[:, j]) * Q[:, i]
        Q[:, j] = v / np.linalg.norm(v)
    return np.sum(Q * np.arange(9).reshape(3, 3))
def manual_cholesky(a):
    B = a.reshape(3, 3)
    A = B @ B.T + 3 * np.eye(3)
    n = 3
    L = np.zeros((n, n))
    for i in range(n):
        for j in range(i + 1):
            s = np.sum(L[i, :j] * L[j, :j])
            if i == j:
                L[i, j] = np.sqrt(A[i, i] - s)
            else:
                L[i, j] = (A[i, j] - s) / L[j, j]
    return np.sum(L * np.arange(1, 10).reshape(3, 3))
def jacobi(b):
    A = np.array([[4.0, 1.0, 0.0], [1.0, 5.0, 2.0], [0.0, 2.0, 6.0]])
    x = np.zeros(3)
    D = np.diag(A)
    R = A - np.diagflat(D)
    for _ in range(25):
        x = (b - R @ x) / D
    return np.sum(x ** 2)
def newton_solve(p):
    x = np.array([1.0, 1.0])
    it = 0
    while it < 20:
        F = np.array([x[0] ** 2 + x[1] ** 2 - p[0], x[0] - x[1] * p[1]])
        J = np.array([[2 * x[0], 2 * x[1]], [1.0, -p[1]]])
        dx = np.linalg.solve(J, -F)
        x = x + dx
        if np.linalg.norm(dx) < 1e-13:
            break
        it += 1
    return x[0] * 2 + x[1]
def student_t(x):
    nu = 3.0
    return np.sum(math.lgamma((nu + 1) / 2) - math.lgamma(nu / 2) - 0.5 * np.log(nu * np.pi) - (nu + 1) / 2 * np.log1p(x ** 2 / nu))
def softmax_temp(x, T=0.5):
    z = x / T
    z = z - z.max()
    p = np.exp(z) / np.exp(z).sum()
    return p @ x


# ---------------------------------------------------------------- classes known only when called
class Affine:
    def __init__(self, w, b=0.0):
        self.w = w
        self.b = b

    def __call__(self, x):
        return x * self.w + self.b

    @classmethod
    def make(cls, w, b=0.0):
        return cls(w, b)


class Square(Affine):
    def __call__(self, x):
        return x ** 2 * self.w + self.b


def build(klass, w):
    return klass(w)


def classmethod_fn(x):
    m = Square.make(x[0], x[2] ** 2)
    return np.sum(m(x)) + np.sum(Affine.make(x[1])(x))


def class_factory_fn(x):
    m1 = build(Affine, x[0] * 2.0)
    m2 = build(Square, x[1])
    return np.sum(m1(x) + m2(x))
