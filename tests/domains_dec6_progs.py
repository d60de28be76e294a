"""Red team (Dec 6, domains): numeric code the way practitioners write it in finance, signal processing,
control, robotics, graphics, chemistry/physics, probabilistic programming and optimisation (helpers,
dicts/dataclasses/classes of parameters, loops with in-place index writes, np.triu_indices, np.add.at,
boolean masks, axis/keepdims reductions).  Written here for sct's tests; differentiated by
tests/test_domains_dec6.py.
"""
import functools
import math
from dataclasses import dataclass, field, replace
from typing import NamedTuple

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from sct import dlgradient

# ================================================================ dom_funcs.py

# ---------------- finance
def _ncdf(x):
    return 0.5 * (1.0 + math.erf(x / math.sqrt(2.0)))

def bs_call(S, K, T, r, sigma):
    d1 = (math.log(S / K) + (r + 0.5 * sigma ** 2) * T) / (sigma * math.sqrt(T))
    d2 = d1 - sigma * math.sqrt(T)
    return S * _ncdf(d1) - K * math.exp(-r * T) * _ncdf(d2)

def bs_call_np(S, K, T, r, sigma):
    d1 = (np.log(S / K) + (r + 0.5 * sigma ** 2) * T) / (sigma * np.sqrt(T))
    d2 = d1 - sigma * np.sqrt(T)
    n1 = 0.5 * (1 + np.vectorize(math.erf)(d1 / np.sqrt(2))) if False else 0.5 * (1 + np.tanh(0.7978845608 * (d1 / 1.0) * (1 + 0.044715 * d1 ** 2)))
    n2 = 0.5 * (1 + np.tanh(0.7978845608 * d2 * (1 + 0.044715 * d2 ** 2)))
    return np.sum(S * n1 - K * np.exp(-r * T) * n2)

def portfolio_obj(w, S, mu):
    var = w @ S @ w
    ret = mu @ w
    pen = 100.0 * (np.sum(w) - 1.0) ** 2 + 100.0 * np.sum(np.minimum(w, 0.0) ** 2)
    return var - 0.5 * ret + pen

def cvar(w, R, alpha=0.9):
    losses = -(R @ w)
    s = np.sort(losses)
    k = int(math.ceil(alpha * len(s)))
    return np.mean(s[k:])

def var_quantile(w, R):
    losses = -(R @ w)
    return np.quantile(losses, 0.9)

def garch_ll(theta, r):
    omega, alpha, beta = theta[0], theta[1], theta[2]
    n = r.shape[0]
    sig2 = np.zeros(n)
    sig2[0] = np.var(r)
    for t in range(1, n):
        sig2[t] = omega + alpha * r[t - 1] ** 2 + beta * sig2[t - 1]
    return -0.5 * np.sum(np.log(2 * np.pi * sig2) + r ** 2 / sig2)

def garch_ll_list(theta, r):
    omega, alpha, beta = theta
    s = [float(np.var(r))]
    ll = 0.0
    for t in range(1, len(r)):
        s.append(omega + alpha * r[t - 1] ** 2 + beta * s[-1])
        ll = ll - 0.5 * (np.log(s[-1]) + r[t] ** 2 / s[-1])
    return ll

# ---------------- signal processing
def fir(x, h):
    n, m = len(x), len(h)
    y = np.zeros(n)
    for i in range(n):
        for j in range(m):
            if i - j >= 0:
                y[i] += h[j] * x[i - j]
    return np.sum(y ** 2)

def iir(x, a):
    y = np.zeros_like(x)
    y[0] = x[0]
    for n in range(1, len(x)):
        y[n] = x[n] - a[0] * y[n - 1]
        if n >= 2:
            y[n] -= a[1] * y[n - 2]
    return np.sum(y * np.arange(len(x)))

def conv_loss(x, h):
    y = np.convolve(x, h, mode="same")
    return np.sum(y ** 2)

def conv_valid(x, h):
    return np.sum(np.sin(np.convolve(x, h, mode="valid")))

def power_spectrum(x):
    w = np.hanning(len(x))
    X = np.fft.rfft(x * w)
    p = np.abs(X) ** 2 / len(x)
    return np.sum(p[1:5]) / np.sum(p)

def autocorr(x):
    x = x - x.mean()
    n = len(x)
    ac = np.array([np.sum(x[: n - k] * x[k:]) for k in range(4)])
    return np.sum(ac[1:] / ac[0])

def autocorr_correlate(x):
    x = x - np.mean(x)
    c = np.correlate(x, x, mode="full")
    c = c[c.size // 2:]
    return c[1] / c[0]

def ema(x, alpha):
    s = x[0]
    out = []
    for v in x[1:]:
        s = alpha * v + (1 - alpha) * s
        out.append(s)
    return np.sum(np.stack(out) ** 2)

def moving_avg_cumsum(x):
    c = np.cumsum(np.insert(x, 0, 0.0))
    ma = (c[3:] - c[:-3]) / 3
    return np.sum(ma ** 2)

# ---------------- control
def lqr_cost(u, A, B, x0):
    x = x0.copy()
    J = 0.0
    T = u.shape[0]
    for t in range(T):
        J = J + x @ x + 0.1 * u[t] @ u[t]
        x = A @ x + B @ u[t]
    return J + 10.0 * x @ x

def lqr_traj_inplace(u, A, B, x0):
    T = u.shape[0]
    X = np.zeros((T + 1, x0.shape[0]))
    X[0] = x0
    for t in range(T):
        X[t + 1] = A @ X[t] + B @ u[t]
    return np.sum(X ** 2) + 0.1 * np.sum(u ** 2)

def mpc_penalty(u, A, B, x0):
    x = x0
    cost = 0.0
    for t in range(u.shape[0]):
        x = A @ x + B @ u[t]
        cost += np.sum(np.maximum(np.abs(u[t]) - 0.5, 0) ** 2) * 50
        cost += np.sum((x - 1.0) ** 2)
    return cost

# ---------------- robotics
def fk2(q, L):
    th = np.cumsum(q)
    x = np.sum(L * np.cos(th))
    y = np.sum(L * np.sin(th))
    return (x - 1.0) ** 2 + (y - 0.5) ** 2

def fk3_points(q, L):
    th = np.cumsum(q)
    pts = np.zeros((len(q) + 1, 2))
    for i in range(len(q)):
        pts[i + 1, 0] = pts[i, 0] + L[i] * np.cos(th[i])
        pts[i + 1, 1] = pts[i, 1] + L[i] * np.sin(th[i])
    return np.sum(pts[-1] ** 2) + 0.1 * np.sum(pts[:, 1])

def ik_jt_loss(q, L):
    th = np.cumsum(q)
    p = np.array([np.sum(L * np.cos(th)), np.sum(L * np.sin(th))])
    e = np.array([0.5, 1.0]) - p
    J = np.zeros((2, len(q)))
    for i in range(len(q)):
        J[0, i] = -np.sum(L[i:] * np.sin(th[i:]))
        J[1, i] = np.sum(L[i:] * np.cos(th[i:]))
    dq = J.T @ e
    return np.sum(dq ** 2)

def fk_homog(q, L):
    T = np.eye(3)
    for i in range(len(q)):
        c, s = np.cos(q[i]), np.sin(q[i])
        R = np.array([[c, -s, L[i] * c], [s, c, L[i] * s], [0.0, 0.0, 1.0]])
        T = T @ R
    return T[0, 2] ** 2 + T[1, 2]

# ---------------- graphics
def ray_sphere(c, r, o, d):
    oc = o - c
    b = np.sum(oc * d, axis=1)
    cc = np.sum(oc * oc, axis=1) - r ** 2
    disc = b * b - cc
    hit = disc > 0
    t = np.where(hit, -b - np.sqrt(np.where(hit, disc, 1.0)), 0.0)
    return np.sum(t)

def barycentric(p, tri):
    a, b, c = tri[0], tri[1], tri[2]
    v0, v1, v2 = b - a, c - a, p - a
    d00 = v0 @ v0; d01 = v0 @ v1; d11 = v1 @ v1
    d20 = v2 @ v0; d21 = v2 @ v1
    den = d00 * d11 - d01 * d01
    v = (d11 * d20 - d01 * d21) / den
    w = (d00 * d21 - d01 * d20) / den
    u = 1.0 - v - w
    return u * 1 + v * 2 + w * 3

def soft_raster(verts, pix, sigma=0.05):
    # edge functions of a triangle, sigmoid coverage
    cov = np.ones(pix.shape[0])
    for i in range(3):
        a = verts[i]; b = verts[(i + 1) % 3]
        e = (pix[:, 0] - a[0]) * (b[1] - a[1]) - (pix[:, 1] - a[1]) * (b[0] - a[0])
        cov = cov * (1 / (1 + np.exp(e / sigma)))
    return np.mean(cov)

# ---------------- chemistry / physics
def lj(pos, rc=2.5):
    n = pos.shape[0]
    i, j = np.triu_indices(n, k=1)
    d = pos[i] - pos[j]
    r2 = np.sum(d ** 2, axis=1)
    mask = r2 < rc ** 2
    inv6 = (1.0 / r2[mask]) ** 3
    return np.sum(4 * (inv6 ** 2 - inv6))

def lj_where(pos, rc=1.5):
    diff = pos[:, None, :] - pos[None, :, :]
    r2 = (diff ** 2).sum(-1)
    n = pos.shape[0]
    r2 = r2 + np.eye(n)
    inv6 = 1.0 / r2 ** 3
    e = 4 * (inv6 ** 2 - inv6)
    e = np.where((r2 < rc ** 2) & ~np.eye(n, dtype=bool), e, 0.0)
    return 0.5 * e.sum()

def morse(pos, D=1.0, a=1.5, r0=1.0):
    E = 0.0
    n = len(pos)
    for i in range(n):
        for j in range(i + 1, n):
            r = np.linalg.norm(pos[i] - pos[j])
            E += D * (1 - np.exp(-a * (r - r0))) ** 2
    return E

def harmonic_bonds(pos, bonds, k=10.0, r0=1.0):
    d = pos[bonds[:, 0]] - pos[bonds[:, 1]]
    r = np.sqrt((d * d).sum(axis=1))
    return 0.5 * k * np.sum((r - r0) ** 2)

def coulomb(pos, q):
    i, j = np.triu_indices(len(q), 1)
    r = np.linalg.norm(pos[i] - pos[j], axis=-1)
    return np.sum(q[i] * q[j] / r)

def forces_add_at(pos, bonds):
    d = pos[bonds[:, 0]] - pos[bonds[:, 1]]
    f = np.zeros_like(pos)
    np.add.at(f, bonds[:, 0], -d)
    np.add.at(f, bonds[:, 1], d)
    return np.sum(f ** 2)

def angle_energy(pos, triples):
    a = pos[triples[:, 0]] - pos[triples[:, 1]]
    b = pos[triples[:, 2]] - pos[triples[:, 1]]
    cos = np.sum(a * b, axis=1) / (np.linalg.norm(a, axis=1) * np.linalg.norm(b, axis=1))
    cos = np.clip(cos, -1.0, 1.0)
    th = np.arccos(cos)
    return np.sum((th - 1.9) ** 2)

def verlet(x, v, steps=5, dt=0.05):
    for _ in range(steps):
        a = -x ** 3
        v = v + 0.5 * dt * a
        x = x + dt * v
        a = -x ** 3
        v = v + 0.5 * dt * a
    return np.sum(x ** 2) + np.sum(v)

# ---------------- probabilistic programming
def log_normal(x, mu, s):
    return -0.5 * np.log(2 * np.pi) - np.log(s) - 0.5 * ((x - mu) / s) ** 2

def hier_logjoint(params, y, g):
    mu = params["mu"]; tau = np.exp(params["log_tau"]); th = params["theta"]
    lp = log_normal(mu, 0.0, 5.0)
    lp = lp + np.sum(log_normal(th, mu, tau))
    lp = lp + np.sum(log_normal(y, th[g], 1.0))
    return lp

def elbo(params, y):
    rng = np.random.default_rng(0)
    eps = rng.standard_normal((8, params["m"].shape[0]))
    s = np.exp(params["log_s"])
    z = params["m"] + s * eps
    lp = -0.5 * np.sum((y[None, :] - z) ** 2, axis=1) - 0.5 * np.sum(z ** 2, axis=1)
    ent = np.sum(params["log_s"])
    return np.mean(lp) + ent

def _lse(a, axis):
    m = np.max(a, axis=axis, keepdims=True)
    return np.squeeze(m, axis) + np.log(np.sum(np.exp(a - m), axis=axis))

def mixture_ll(logits, mus, x):
    logw = logits - _lse(logits, 0)
    comp = -0.5 * (x[:, None] - mus[None, :]) ** 2 - 0.5 * np.log(2 * np.pi)
    return np.sum(_lse(comp + logw[None, :], 1))

def logsumexp_manual(a):
    m = a.max(axis=1, keepdims=True)
    return np.sum(m[:, 0] + np.log(np.exp(a - m).sum(axis=1)))

@dataclass
class LinReg:
    w: np.ndarray
    b: float

def dataclass_loss(w, b, X, y):
    m = LinReg(w, b)
    pred = X @ m.w + m.b
    return np.mean((pred - y) ** 2)

class Model:
    def __init__(self, w1, w2):
        self.w1 = w1; self.w2 = w2
    def __call__(self, x):
        h = np.tanh(x @ self.w1)
        return h @ self.w2

def class_loss(w1, w2, X):
    m = Model(w1, w2)
    return np.sum(m(X) ** 2)

# ---------------- optimisation
def projected_gd(x0, A, b):
    x = x0
    for _ in range(5):
        g = A.T @ (A @ x - b)
        x = np.clip(x - 0.1 * g, 0.0, 1.0)
    return np.sum((A @ x - b) ** 2)

def attention_pool(q, K, V):
    s = K @ q / np.sqrt(q.shape[0])
    s = s - s.max()
    w = np.exp(s) / np.exp(s).sum()
    return np.sum((w[:, None] * V).sum(axis=0) ** 2)

def sinkhorn(C, a, b, eps=0.5, iters=20):
    K = np.exp(-C / eps)
    u = np.ones_like(a)
    for _ in range(iters):
        v = b / (K.T @ u)
        u = a / (K @ v)
    P = u[:, None] * K * v[None, :]
    return np.sum(P * C)

def sinkhorn_log(C, a, b, eps=0.5):
    f = np.zeros(len(a)); g = np.zeros(len(b))
    for _ in range(15):
        f = -eps * _lse((g[None, :] - C) / eps, 1) + eps * np.log(a)
        g = -eps * _lse((f[:, None] - C) / eps, 0) + eps * np.log(b)
    return np.sum(f * a) + np.sum(g * b)

def huber_irls(w, X, y, delta=1.0):
    r = X @ w - y
    a = np.abs(r)
    l = np.where(a <= delta, 0.5 * r ** 2, delta * (a - 0.5 * delta))
    return l.sum()

def kmeans_soft(C, X, beta=3.0):
    d = ((X[:, None, :] - C[None, :, :]) ** 2).sum(axis=2)
    w = np.exp(-beta * d)
    w /= w.sum(axis=1, keepdims=True)
    return np.sum(w * d)

def newton_sqrt(a):
    x = a.copy()
    for _ in range(6):
        x = 0.5 * (x + a / x)
    return np.sum(x)

def while_converge(a):
    x = 1.0
    it = 0
    while it < 30:
        xn = math.cos(a * x)
        if abs(xn - x) < 1e-12:
            break
        x = xn
        it += 1
    return x

def triu_cov(L_flat, n=3):
    L = np.zeros((n, n))
    L[np.tril_indices(n)] = L_flat
    S = L @ L.T
    return np.log(np.linalg.det(S)) + np.trace(S)

def median_loss(x):
    return np.median(x ** 2) + np.percentile(x, 25)

def bool_mask_update(x):
    y = x.copy()
    y[y < 0] = 0.1 * y[y < 0]
    return np.sum(y ** 3)

def argsort_rank(x, w):
    idx = np.argsort(x)
    return np.sum(w[idx] * np.arange(len(x)) * x[idx])

def dict_accum(params, X):
    out = {}
    for k in ("a", "b"):
        out[k] = np.sum(np.sin(params[k] * X))
    return sum(out.values())

def kalman_ll(q, y):
    x, P = 0.0, 1.0
    ll = 0.0
    for t in range(len(y)):
        P = P + q
        S = P + 0.5
        K = P / S
        ll += -0.5 * (np.log(2 * np.pi * S) + (y[t] - x) ** 2 / S)
        x = x + K * (y[t] - x)
        P = (1 - K) * P
    return ll

def einsum_bilinear(W, X):
    return np.sum(np.einsum("ij,bi,bj->b", W, X, X) ** 2)

def rk4(k, y0):
    def f(y):
        return -k * y + np.sin(y)
    y = y0
    h = 0.1
    for _ in range(5):
        k1 = f(y); k2 = f(y + h / 2 * k1); k3 = f(y + h / 2 * k2); k4 = f(y + h * k3)
        y = y + h / 6 * (k1 + 2 * k2 + 2 * k3 + k4)
    return np.sum(y)

# ================================================================ dom_funcs2.py

def max_drawdown(r):
    wealth = np.cumprod(1 + r)
    peak = np.maximum.accumulate(wealth)
    dd = (peak - wealth) / peak
    return np.max(dd)

def sortino(r):
    down = np.minimum(r, 0.0)
    return np.mean(r) / np.sqrt(np.mean(down ** 2))

def sharpe_std(r):
    return np.mean(r) / np.std(r, ddof=1)

def markowitz_solve(S, mu):
    w = np.linalg.solve(S, mu)
    w = w / w.sum()
    return w @ S @ w

def cov_corr(X):
    C = np.cov(X, rowvar=False)
    R = np.corrcoef(X.T)
    return np.sum(C ** 2) + np.sum(R[np.triu_indices(3, 1)])

def vol_interp(v, k):
    strikes = np.array([80., 90., 100., 110., 120.])
    return np.sum(np.interp(k, strikes, v) ** 2)

def minimum_image(pos, L=3.0):
    i, j = np.triu_indices(pos.shape[0], 1)
    d = pos[i] - pos[j]
    d = d - L * np.round(d / L)
    r2 = np.sum(d * d, axis=-1)
    return np.sum(np.exp(-r2))

def periodic_roll(u):
    lap = np.roll(u, 1) + np.roll(u, -1) - 2 * u
    return np.sum(lap ** 2) + np.sum(np.diff(u) ** 2)

def bincount_w(x, idx):
    s = np.bincount(idx, weights=x, minlength=4)
    return np.sum(s ** 2)

def take_along(x):
    idx = np.argmax(x, axis=1)[:, None]
    return np.sum(np.take_along_axis(x, idx, axis=1) ** 2)

def cholesky_nll(Lflat, y):
    n = 3
    L = np.zeros((n, n))
    L[np.tril_indices(n)] = Lflat
    S = L @ L.T + 0.1 * np.eye(n)
    Lc = np.linalg.cholesky(S)
    z = np.linalg.solve(Lc, y)
    return 0.5 * z @ z + np.sum(np.log(np.diag(Lc)))

def slogdet_loss(A):
    sign, ld = np.linalg.slogdet(A)
    return ld + np.trace(np.linalg.inv(A))

def lstsq_fit(X, y):
    w, *_ = np.linalg.lstsq(X, y, rcond=None)
    return np.sum(w ** 2)

def fft_lowpass(x):
    X = np.fft.rfft(x)
    X[4:] = 0
    y = np.fft.irfft(X, n=len(x))
    return np.sum((y - x) ** 2)

def complex_phase(x):
    z = np.exp(1j * x) * (1 + 0.5j)
    return np.sum(np.angle(z) ** 2) + np.sum(np.real(z * np.conj(z[::-1])))

def polyval_fit(c, x):
    return np.sum(np.polyval(c, x) ** 2)

def reduceat_seg(x):
    s = np.add.reduceat(x, [0, 2, 5])
    return np.sum(s ** 2)

def partition_topk(x):
    p = np.partition(x, 3)
    return np.sum(p[:3])

def np_std_axis(X):
    m = X.mean(axis=0, keepdims=True)
    s = X.std(axis=0, keepdims=True) + 1e-3
    Z = (X - m) / s
    return np.sum(Z[:, 0] * Z[:, 1])

def lerp_inplace_views(x):
    y = x.copy()
    v = y[1:4]
    v *= 2.0
    y[::2] += 1.0
    return np.sum(y ** 2)

def outer_hessian_newton(w, X, y):
    p = 1 / (1 + np.exp(-(X @ w)))
    g = X.T @ (p - y)
    H = X.T @ (X * (p * (1 - p))[:, None]) + np.eye(len(w))
    w2 = w - np.linalg.solve(H, g)
    p2 = 1 / (1 + np.exp(-(X @ w2)))
    return -np.sum(y * np.log(p2) + (1 - y) * np.log(1 - p2))

def mat_power_loop(A):
    M = np.eye(A.shape[0])
    for _ in range(4):
        M = M @ A
    return np.trace(M)

def expm_taylor(A):
    E = np.eye(2); term = np.eye(2)
    for k in range(1, 10):
        term = term @ A / k
        E = E + term
    return np.sum(E)

def ode_euler_state_list(p):
    s = [np.array([1.0, 0.0])]
    for t in range(8):
        x, v = s[-1]
        s.append(np.array([x + 0.1 * v, v - 0.1 * (p[0] * x + p[1] * v)]))
    traj = np.stack(s)
    return np.sum(traj[:, 0] ** 2)

def tuple_swap_loop(a, b):
    for _ in range(4):
        a, b = b, a + 0.5 * b
    return np.sum(a * b)

def frompyfunc_erf(x):
    erf = np.vectorize(math.erf)
    return np.sum(erf(x))

def mean_nan(x):
    y = np.where(x > 1.0, np.nan, x)
    return np.nanmean(y ** 2) + np.nansum(y)

def ptp_range(x):
    return np.ptp(x) + np.sum(np.abs(np.diff(np.sort(x))))

def gae(rew, vals, gamma=0.99, lam=0.95):
    T = len(rew)
    adv = np.zeros(T)
    last = 0.0
    for t in reversed(range(T)):
        nv = vals[t + 1] if t + 1 < T else 0.0
        delta = rew[t] + gamma * nv - vals[t]
        last = delta + gamma * lam * last
        adv[t] = last
    return np.sum(adv ** 2)

def discounted_returns(r, gamma=0.9):
    G = np.zeros_like(r)
    run = 0.0
    for t in range(len(r) - 1, -1, -1):
        run = r[t] + gamma * run
        G[t] = run
    return np.sum(G * np.linspace(0, 1, len(r)))

def logits_ce_int(W, X, y):
    z = X @ W
    z = z - z.max(axis=1, keepdims=True)
    lp = z - np.log(np.exp(z).sum(axis=1, keepdims=True))
    return -lp[np.arange(len(y)), y].mean()

def gauss_kernel_gp(ls, X, y):
    d2 = np.sum((X[:, None] - X[None]) ** 2, -1)
    K = np.exp(-0.5 * d2 / ls[0] ** 2) + 0.1 * np.eye(len(y))
    L = np.linalg.cholesky(K)
    a = np.linalg.solve(L.T, np.linalg.solve(L, y))
    return 0.5 * y @ a + np.log(np.diag(L)).sum()

def arm_cumsum_axis(q):
    th = np.cumsum(q, axis=1)
    x = np.cos(th).sum(axis=1)
    y = np.sin(th).sum(axis=1)
    return np.sum((x - 1) ** 2 + y ** 2)

def float_loop_scalar_accum(x):
    total = 0
    for i, xi in enumerate(x):
        total += (i + 1) * xi ** 2
    return total

def zip_pairs(x, w):
    return sum(a * b for a, b in zip(x, w))

def max_pairs(x):
    return max(x[0] * x[1], x[2]) + min(abs(x[0]), x[1])

def stacked_dict_params(params, X):
    h = X
    for i in range(2):
        h = np.tanh(h @ params[f"W{i}"] + params[f"b{i}"])
    return np.sum(h ** 2)

def triangle_area_signed(P):
    x, y = P[:, 0], P[:, 1]
    return 0.5 * np.abs(np.sum(x * np.roll(y, -1) - np.roll(x, -1) * y))

def np_linalg_norm_ord(A):
    return np.linalg.norm(A, "fro") + np.linalg.norm(A[0], 1) + np.linalg.norm(A[1], np.inf)

def hanning_welch(x):
    n = 8
    w = np.hanning(n)
    segs = [x[i:i + n] * w for i in range(0, len(x) - n + 1, 4)]
    P = np.mean([np.abs(np.fft.rfft(s)) ** 2 for s in segs], axis=0)
    return np.sum(P[1:3]) / np.sum(P)

# ================================================================ dom_funcs3.py

def kabsch_rmsd(P, Q):
    Pc = P - P.mean(axis=0)
    Qc = Q - Q.mean(axis=0)
    H = Pc.T @ Qc
    U, S, Vt = np.linalg.svd(H)
    d = np.sign(np.linalg.det(Vt.T @ U.T))
    D = np.diag([1.0, 1.0, d])
    Rm = Vt.T @ D @ U.T
    diff = Pc @ Rm.T - Qc
    return np.sqrt(np.mean(np.sum(diff ** 2, axis=1)))

def normal_modes(k):
    n = 3
    K = np.zeros((n, n))
    for i in range(n - 1):
        K[i, i] += k[i]; K[i + 1, i + 1] += k[i]
        K[i, i + 1] -= k[i]; K[i + 1, i] -= k[i]
    K[0, 0] += 1.0
    w = np.linalg.eigh(K)[0]
    return np.sum(np.sqrt(np.abs(w)))

def fill_diag_gp(ls, X):
    d2 = np.sum((X[:, None] - X[None]) ** 2, -1)
    K = np.exp(-d2 / ls[0])
    np.fill_diagonal(K, 1.5)
    return np.linalg.slogdet(K)[1]

def diag_indices_jitter(ls, X):
    d2 = np.sum((X[:, None] - X[None]) ** 2, -1)
    K = np.exp(-d2 / ls[0])
    K[np.diag_indices(len(X))] += 0.1
    return np.linalg.slogdet(K)[1]

def atan2_ik(p):
    x, y = p[0], p[1]
    L1, L2 = 1.0, 0.8
    c2 = (x * x + y * y - L1 ** 2 - L2 ** 2) / (2 * L1 * L2)
    q2 = math.acos(c2)
    q1 = math.atan2(y, x) - math.atan2(L2 * math.sin(q2), L1 + L2 * math.cos(q2))
    return q1 ** 2 + q2

def np_atan2_hypot(P):
    return np.sum(np.arctan2(P[:, 1], P[:, 0]) * np.hypot(P[:, 0], P[:, 1]))

def cross_torque(r, F):
    tau = np.cross(r, F)
    return np.sum(tau ** 2)

def quat_rotate(q, v):
    q = q / np.linalg.norm(q)
    w, x, y, z = q
    Rm = np.array([[1 - 2 * (y * y + z * z), 2 * (x * y - z * w), 2 * (x * z + y * w)],
                   [2 * (x * y + z * w), 1 - 2 * (x * x + z * z), 2 * (y * z - x * w)],
                   [2 * (x * z - y * w), 2 * (y * z + x * w), 1 - 2 * (x * x + y * y)]])
    return np.sum((Rm @ v) * np.array([1.0, 2.0, 3.0]))

def alias_copy_write(x):
    z = x.copy()
    y = z
    y[0] = 0.0
    return np.sum(z ** 2) + np.sum(y)

def ravel_view_write(X):
    Y = X.copy()
    v = Y.ravel()
    v[0] = v[0] * 3.0
    return np.sum(Y ** 2)

def reshape_view_write(X):
    Y = X * 1.0
    v = Y.reshape(-1)
    v[1:3] = 0.0
    return np.sum(Y ** 2)

def transpose_view_write(X):
    Y = X + 0.0
    Yt = Y.T
    Yt[0, :] = 1.0
    return np.sum(Y * X)

def row_view_inplace(X):
    Y = X.copy()
    row = Y[1]
    row *= 2.0
    row += Y[0]
    return np.sum(Y ** 2)

def out_kw(a, b):
    c = np.empty_like(a)
    np.multiply(a, b, out=c)
    np.add(c, a, out=c)
    return np.sum(c ** 2)

def sort_inplace(x):
    y = x.copy()
    y.sort()
    return np.sum(y * np.arange(len(y)))

def mutate_arg_center(x):
    x -= x.mean()
    return np.sum(x ** 3)

def normalize_rows_inplace(X):
    Y = X.copy()
    Y /= np.linalg.norm(Y, axis=1, keepdims=True)
    return np.sum(Y[:, 0])

def matmul_inplace(A, B):
    C = A.copy()
    C @= B
    return np.sum(C ** 2)

def tensordot_loss(A, B):
    return np.sum(np.tensordot(A, B, axes=([1, 2], [0, 1])) ** 2)

def state_class_rollout(k):
    class Spring:
        def __init__(self, k):
            self.k = k
            self.x = 1.0
            self.v = 0.0
        def step(self, dt):
            a = -self.k * self.x
            self.v = self.v + dt * a
            self.x = self.x + dt * self.v
    s = Spring(k)
    xs = []
    for _ in range(10):
        s.step(0.1)
        xs.append(s.x)
    return sum(x ** 2 for x in xs)

def pca_var(X):
    Xc = X - X.mean(0)
    C = Xc.T @ Xc / (len(X) - 1)
    w, V = np.linalg.eigh(C)
    return w[-1] / np.sum(w)

def bezier(P, t):
    out = 0.0
    for tt in t:
        pts = [P[i] for i in range(len(P))]
        while len(pts) > 1:
            pts = [(1 - tt) * pts[i] + tt * pts[i + 1] for i in range(len(pts) - 1)]
        out = out + np.sum(pts[0] ** 2)
    return out

def catmull_arc_length(P):
    seg = np.diff(P, axis=0)
    return np.sum(np.linalg.norm(seg, axis=1))

def shading_lambert(n, l):
    n = n / np.linalg.norm(n, axis=-1, keepdims=True)
    d = np.maximum(np.einsum("ij,j->i", n, l), 0.0)
    return np.sum(d ** 2.2)

def gamma_correct(c):
    return np.sum(np.where(c <= 0.0031308, 12.92 * c, 1.055 * np.power(np.abs(c), 1 / 2.4) - 0.055))

def fma_bond_list(pos, pairs):
    E = 0.0
    for i, j in pairs:
        r = np.sqrt(np.sum((pos[i] - pos[j]) ** 2))
        E += (r - 1.0) ** 2
    return E

def neighbor_list_cutoff(pos):
    n = len(pos)
    E = 0.0
    for i in range(n):
        d = pos - pos[i]
        r = np.sqrt(np.sum(d * d, axis=1))
        m = (r > 0) & (r < 2.0)
        E = E + np.sum(np.exp(-r[m]))
    return E / 2

def heat_explicit(u0, alpha):
    u = u0.copy()
    for _ in range(10):
        un = u.copy()
        u[1:-1] = un[1:-1] + alpha[0] * (un[2:] - 2 * un[1:-1] + un[:-2])
    return np.sum(u ** 2)

def wave_2d(u0):
    u = u0.copy(); up = u0.copy()
    for _ in range(3):
        lap = np.zeros_like(u)
        lap[1:-1, 1:-1] = u[2:, 1:-1] + u[:-2, 1:-1] + u[1:-1, 2:] + u[1:-1, :-2] - 4 * u[1:-1, 1:-1]
        un = 2 * u - up + 0.1 * lap
        up, u = u, un
    return np.sum(u ** 2)

def loglik_poisson(beta, X, y):
    eta = X @ beta
    return np.sum(y * eta - np.exp(eta)) - np.sum([math.lgamma(v + 1) for v in y])

def student_t_ll(params, x):
    mu, log_s, log_nu = params["mu"], params["log_s"], params["log_nu"]
    s, nu = np.exp(log_s), np.exp(log_nu)
    z = (x - mu) / s
    from math import lgamma
    c = lgamma((float(nu) + 1) / 2) - lgamma(float(nu) / 2)
    return np.sum(-(nu + 1) / 2 * np.log1p(z ** 2 / nu) - np.log(s) - 0.5 * np.log(nu * np.pi))


# ================================================================ dom_funcs4.py

def binomial_american(S0, sigma, K=100.0, r=0.03, T=1.0, N=8):
    dt = T / N
    u = np.exp(sigma * np.sqrt(dt)); d = 1 / u
    p = (np.exp(r * dt) - d) / (u - d)
    disc = np.exp(-r * dt)
    j = np.arange(N + 1)
    S = S0 * u ** (N - j) * d ** j
    V = np.maximum(K - S, 0.0)
    for i in range(N - 1, -1, -1):
        S = S0 * u ** (i - np.arange(i + 1)) * d ** np.arange(i + 1)
        V = np.maximum(disc * (p * V[:-1] + (1 - p) * V[1:]), K - S)
    return V[0]

def binomial_inplace(S0, sigma, K=100.0, N=6):
    dt = 1.0 / N
    u = np.exp(sigma * np.sqrt(dt)); d = 1 / u
    p = (1 - d) / (u - d)
    V = np.zeros(N + 1)
    for j in range(N + 1):
        V[j] = max(S0 * u ** (N - j) * d ** j - K, 0.0)
    for i in range(N - 1, -1, -1):
        V[:i + 1] = p * V[:i + 1] + (1 - p) * V[1:i + 2]
    return V[0]

def mc_call(S0, sigma):
    rng = np.random.default_rng(42)
    z = rng.standard_normal(2000)
    z = np.concatenate([z, -z])
    ST = S0 * np.exp(-0.5 * sigma ** 2 + sigma * z)
    return np.mean(np.maximum(ST - 100.0, 0.0))

def asian_barrier(S0, sigma):
    rng = np.random.default_rng(1)
    z = rng.standard_normal((200, 12))
    dt = 1 / 12
    paths = S0 * np.exp(np.cumsum((-0.5 * sigma ** 2) * dt + sigma * np.sqrt(dt) * z, axis=1))
    alive = ~np.any(paths > 140.0, axis=1)
    payoff = np.maximum(paths.mean(axis=1) - 100.0, 0.0) * alive
    return payoff.mean()

def implied_vol_newton(price, S=100.0, K=100.0):
    sig = 0.2
    for _ in range(20):
        d1 = (math.log(S / K) + 0.5 * sig * sig) / sig
        d2 = d1 - sig
        c = S * 0.5 * (1 + math.erf(d1 / math.sqrt(2))) - K * 0.5 * (1 + math.erf(d2 / math.sqrt(2)))
        vega = S * math.exp(-0.5 * d1 * d1) / math.sqrt(2 * math.pi)
        sig = sig - (c - price) / vega
    return sig

def bond_price(y, cfs=(5.0, 5.0, 5.0, 105.0)):
    price = 0.0
    for t, cf in enumerate(cfs, start=1):
        price += cf / (1 + y) ** t
    return price

def piecewise_tax(x):
    return np.sum(np.select([x < 1, x < 3], [0.1 * x, 0.1 + 0.3 * (x - 1)], 0.7 + 0.5 * (x - 3)))

def np_piecewise(x):
    return np.sum(np.piecewise(x, [x < 0, x >= 0], [lambda t: t ** 2, lambda t: np.sin(t)]))

def sliding_window(x, w):
    win = sliding_window_view(x, 3)
    return np.sum((win @ w) ** 2)

def apply_along(X):
    return np.sum(np.apply_along_axis(lambda r: np.sum(r ** 2), 1, X))

def meshgrid_image(c):
    xs = np.linspace(-1, 1, 6)
    Xg, Yg = np.meshgrid(xs, xs)
    img = np.exp(-((Xg - c[0]) ** 2 + (Yg - c[1]) ** 2) / 0.2)
    return np.sum(img * Xg)

def linspace_endpoint(a):
    t = np.linspace(0.0, a[0], 5)
    return np.sum(np.sin(t))

def logaddexp_red(a):
    return np.logaddexp.reduce(a) + np.sum(np.logaddexp(a, 0.5))


def np_gradient_energy(u):
    du = np.gradient(u, 0.1)
    return np.sum(du ** 2)

def outer_kron(a, b):
    return np.sum(np.outer(a, b) ** 2) + np.sum(np.kron(a, b))

def block_aug(A, B):
    M = np.block([[A, B], [np.zeros((1, 2)), np.eye(1)]])
    return np.sum(np.linalg.matrix_power(M, 3))

def pad_conv(x, h):
    xp = np.pad(x, (1, 1), mode="edge")
    y = np.array([np.dot(xp[i:i + 3], h) for i in range(len(x))])
    return np.sum(y ** 2)

def pad_reflect(x):
    xp = np.pad(x, 2, mode="reflect")
    return np.sum(xp * np.arange(len(xp)))

def unique_group(x, labels):
    u, inv = np.unique(labels, return_inverse=True)
    s = np.bincount(inv, weights=x)
    return np.sum(s ** 2)

def methods_chain(X):
    return X.clip(min=0).sum(axis=-1).max() + X.prod() + X.T.dot(X).trace()

def reversed_cumsum(r):
    return np.sum(np.cumsum(r[::-1])[::-1] ** 2)

def heaviside(x):
    return np.sum(np.heaviside(x, 0.5) * x ** 2)


def goertzel(x):
    k = 2; N = len(x)
    w = 2 * math.pi * k / N
    coeff = 2 * math.cos(w)
    s1 = s2 = 0.0
    for n in range(N):
        s0 = x[n] + coeff * s1 - s2
        s2 = s1
        s1 = s0
    return s1 ** 2 + s2 ** 2 - coeff * s1 * s2

def biquad_state(x, b):
    z1 = z2 = 0.0
    y = np.empty_like(x)
    for n, xn in enumerate(x):
        out = b[0] * xn + z1
        z1 = b[1] * xn - 0.3 * out + z2
        z2 = b[2] * xn - 0.1 * out
        y[n] = out
    return np.sum(y ** 2)

def dft_matrix(x):
    N = len(x)
    n = np.arange(N)
    Wm = np.exp(-2j * np.pi * np.outer(n, n) / N)
    X = Wm @ x
    return np.sum(np.abs(X[:N // 2]) ** 2)

def zero_crossings_energy(x):
    s = np.sign(x)
    zc = np.sum(s[1:] != s[:-1])
    return zc * np.sum(x ** 2)

def spring_mass_matrix(k, m):
    K = np.diag(k[:-1] + k[1:]) - np.diag(k[1:-1], 1) - np.diag(k[1:-1], -1)
    Minv = np.diag(1 / m)
    w2 = np.linalg.eigvalsh(np.sqrt(Minv) @ K @ np.sqrt(Minv))
    return np.sum(np.sqrt(w2))

# ================================================================ dom_funcs5.py

def float_scale(x):
    scale = float(np.max(np.abs(x)))
    return np.sum(x / scale)

def item_scale(x):
    m = x.mean().item()
    return np.sum((x - m) ** 2)

def tolist_rebuild(x):
    y = np.array(x.tolist())
    return np.sum(y ** 3)

def builtin_sum2d(X):
    return np.sum(sum(X) ** 2) + max(X[0]) + abs(X[1]).sum() + pow(X[2, 0], 2)

def astype32(x):
    return np.sum(x.astype(np.float32) ** 2)

def asarray_float(x):
    return np.sum(np.asarray(x, dtype=float) ** 2) + np.sum(np.copy(x)) + np.sum(np.array(x, copy=True) * 2)

def where1(x):
    idx = np.where(x > 0)
    return np.sum(x[idx] ** 2) + np.sum(x[np.flatnonzero(x < 0)])

def nonzero2d(X):
    r, c = np.nonzero(X > 0)
    return np.sum(X[r, c] ** 2)

def newaxis_ellipsis(X):
    return np.sum(X[np.newaxis] * X[..., None, :]) + np.sum(X[..., 0])

def subtract_outer(x):
    d = np.subtract.outer(x, x)
    return np.sum(np.exp(-d ** 2)) + np.sum(np.multiply.outer(x, x)) + np.sum(np.minimum.outer(x, x))

def maximum_reduce(X):
    return np.sum(np.maximum.reduce(X, axis=0)) + np.sum(np.add.reduce(X ** 2, axis=1))

def sum_where(x):
    return np.sum(x ** 2, where=x > 0) + x.max(initial=-10.0)

def safe_sqrt(x):
    return np.sum(np.sqrt(x, where=x > 0, out=np.zeros_like(x)))

def safe_div(a, b):
    return np.sum(np.divide(a, b, out=np.zeros_like(a), where=b != 0))

def vdot_inner(a, b):
    return np.vdot(a, b) + np.inner(a, b) ** 2 + np.dot(a, b)

def batched_matmul(A, x):
    return np.sum(np.matmul(A, x[..., None]) ** 2)

def isfinite_guard(x):
    y = np.log(x)
    y = np.where(np.isfinite(y), y, 0.0)
    return np.sum(y)

def round_trick(x):
    # straight-through? no: plain python derivative of round is zero
    return np.sum(np.round(x * 4) / 4 * x)

def int_index_from_value(x):
    k = int(np.argmax(x))
    return x[k] ** 2 + x[(k + 1) % len(x)]

def divmod_py(a):
    q, r = divmod(a, 1.0)
    return q + r ** 2

def math_fsum(x):
    return math.fsum([x[0], x[1] ** 2, x[2] * 3])

def norm_keepdims(X):
    n = np.linalg.norm(X, axis=1, keepdims=True)
    return np.sum(X / n * np.arange(X.shape[1]))

def cumsum_dtype(x):
    return np.sum(np.cumsum(x, dtype=np.float64) ** 2)

def ddof_var(X):
    return np.sum(np.var(X, axis=0, ddof=1)) + np.sum(X.std(axis=1))

def average_weights(x, w):
    return np.average(x, weights=w) ** 2

def clip_method_array_bounds(x, lo):
    return np.sum(np.clip(x, lo, lo + 1.0) ** 2)

def minmax_normalize(x):
    return np.sum((x - x.min()) / (x.max() - x.min()) * np.arange(len(x)))

def softplus_stable(x):
    return np.sum(np.maximum(x, 0) + np.log1p(np.exp(-np.abs(x))))

def expm1_log1p(x):
    return np.sum(np.log1p(np.expm1(x) ** 2))

def complex_abs_grad(z_re, z_im):
    z = z_re + 1j * z_im
    return np.sum(np.abs(z) ** 3) + np.sum(np.real(z ** 2))

def string_dispatch(x, kind):
    if kind == "l1":
        return np.sum(np.abs(x))
    elif kind == "l2":
        return np.sum(x ** 2)
    return np.max(x)

def kwargs_helper(x, **kw):
    return np.sum(kw.get("scale", 1.0) * x ** 2)

def call_kwargs(x):
    opts = {"scale": 3.0}
    return kwargs_helper(x, **opts)

def star_args_helper(*xs):
    return sum(np.sum(v ** 2) for v in xs)

def call_star(x, y):
    return star_args_helper(x, y, x * y)

def global_cache(x):
    c = _CACHE.setdefault("w", np.array([1.0, 2.0, 3.0]))
    return np.sum(c * x ** 2)
_CACHE = {}

def lambda_map(x):
    f = lambda t: t ** 2 + 1
    return np.sum(np.array(list(map(f, x))))

def sorted_key(x):
    s = sorted(x, key=lambda v: float(v))
    return s[0] * 2 + s[-1] ** 2

def reversed_enum(x):
    acc = 0.0
    for i, v in reversed(list(enumerate(x))):
        acc = acc * 0.5 + i * v
    return acc

# ================================================================ dom_funcs6.py

class Base:
    def energy(self, x):
        return np.sum(self.k * x ** 2)
    def total(self, x):
        return self.energy(x) + self.extra(x)
    def extra(self, x):
        return 0.0

class Anharm(Base):
    def __init__(self, k, g):
        self.k = k; self.g = g
    def extra(self, x):
        return self.g * np.sum(x ** 4)

def inherit_loss(x):
    m = Anharm(1.5, 0.2)
    return m.total(x)

@dataclass
class Cfg:
    lr: float = 0.1
    steps: int = 3
    decay: float = 0.9

def dc_replace_loss(x):
    c = replace(Cfg(), steps=4)
    for _ in range(c.steps):
        x = x - c.lr * (x ** 3 - x)
        c = replace(c, lr=c.lr * c.decay)
    return np.sum(x ** 2)

class Params(NamedTuple):
    w: np.ndarray
    b: float

def nt_loss(w, X):
    p = Params(w=w, b=0.5)
    return np.sum(np.tanh(X @ p.w + p.b) ** 2)

def _mse(pred, y, scale):
    return scale * np.mean((pred - y) ** 2)

def partial_loss(w, X, y):
    f = functools.partial(_mse, y=y, scale=2.0)
    return f(X @ w)

def reduce_loss(mats):
    M = functools.reduce(lambda a, b: a @ b, [mats[0], mats[1], mats[0]])
    return np.sum(M ** 2)

def make_loss(X, y):
    def loss(w):
        return np.mean((X @ w - y) ** 2)
    return loss

_X = np.linspace(0, 1, 12).reshape(4, 3); _y = np.array([1.0, 0.0, 2.0, 1.0])
closure_loss = make_loss(_X, _y)

@functools.lru_cache(maxsize=None)
def _coeffs(n):
    return tuple(1.0 / (k + 1) for k in range(n))

def lru_loss(x):
    c = _coeffs(len(x))
    return sum(ci * xi ** 2 for ci, xi in zip(c, x))

def _gen_terms(x):
    for i in range(len(x)):
        yield x[i] * (i + 1)

def gen_loss(x):
    return sum(t ** 2 for t in _gen_terms(x))

def fk_tree(q, node=0):
    # recursive kinematic tree: children of node
    children = {0: [1, 2], 1: [3], 2: [], 3: []}
    s = np.cos(q[node])
    for c in children[node]:
        s = s + 0.5 * fk_tree(q, c) * np.sin(q[node])
    return s

def try_except_loss(x):
    try:
        L = np.linalg.cholesky(np.outer(x, x) + np.eye(len(x)))
    except np.linalg.LinAlgError:
        return np.sum(x ** 2)
    return np.sum(np.log(np.diag(L)))

def assert_loss(x):
    assert x.ndim == 1, "need a vector"
    assert np.all(np.isfinite(x))
    return np.sum(np.exp(x))

def errstate_loss(x):
    with np.errstate(divide="ignore", invalid="ignore"):
        r = np.where(x != 0, np.sin(x) / x, 1.0)
    return np.sum(r)

_STEP = 0
def global_counter_loss(x):
    global _STEP
    _STEP += 1
    return np.sum(x ** 2) * (1.0 + 0.0 * _STEP)

def nonlocal_loss(x):
    total = 0.0
    def add(v):
        nonlocal total
        total = total + v
    for i in range(len(x)):
        add(x[i] ** 2)
    return total

def print_loss(x):
    y = np.sum(x ** 2)
    print(f"debug loss={float(y):.3f}", end="\r")
    return y

@dataclass
class Track:
    hist: list = field(default_factory=list)
    def log(self, v):
        self.hist.append(v)

def logging_list_loss(x):
    t = Track()
    y = 0.0
    for i in range(3):
        y = y + np.sum(np.sin(x * i))
        t.log(y)
    return t.hist[-1] + 0.1 * t.hist[0]

def staticmethod_cls(x):
    return Geo.area(x) + Geo().perim(x)

class Geo:
    @staticmethod
    def area(p):
        return 0.5 * np.abs(np.sum(p[:, 0] * np.roll(p[:, 1], -1) - np.roll(p[:, 0], -1) * p[:, 1]))
    @classmethod
    def make(cls):
        return cls()
    def perim(self, p):
        return np.sum(np.linalg.norm(p - np.roll(p, 1, axis=0), axis=1))

@dataclass
class Arm:
    lengths: np.ndarray
    def fk(self, q):
        th = np.cumsum(q)
        return np.array([self.lengths @ np.cos(th), self.lengths @ np.sin(th)])
    @property
    def reach(self):
        return self.lengths.sum()

def arm_property(q, L):
    a = Arm(L)
    p = a.fk(q)
    return np.sum((p - 0.5 * a.reach) ** 2)

def dict_comp_update(params):
    grads = {k: 2 * v for k, v in params.items()}
    new = {k: params[k] - 0.1 * grads[k] for k in params}
    return sum(np.sum(v ** 3) for v in new.values())

def setattr_loop(w):
    m = Anharm(1.0, 0.0)
    for i in range(3):
        m.k = m.k * w[i]
    return m.total(w)

# ================================================================ dom_funcs7.py

def dup_iadd(pos, bonds):
    d = pos[bonds[:, 0]] - pos[bonds[:, 1]]
    f = np.zeros_like(pos)
    f[bonds[:, 0]] += d          # buffered: duplicates keep only the last
    f[bonds[:, 1]] -= d
    return np.sum(f ** 2 * np.arange(1, 4))

def dup_assign(x, v):
    y = x.copy()
    y[np.array([1, 3, 1])] = v
    return np.sum(y ** 2 * np.arange(len(y)))

def dup_imul(x, v):
    y = x.copy()
    y[np.array([0, 2, 0])] *= v
    return np.sum(y * np.arange(1, len(y) + 1))

def mask_imul(x):
    y = x.copy()
    y[y > 0] *= 2.0
    y[y < -0.5] -= y[y < -0.5] ** 2
    return np.sum(y ** 3)

def row_col_fancy(X, v):
    Y = X.copy()
    Y[1, np.array([0, 2])] -= v
    Y[np.array([0, 2]), 1] = v * 2
    return np.sum(Y ** 2 * np.arange(9).reshape(3, 3))

def put_take(x, v):
    y = x.copy()
    np.put(y, [0, 3], v)
    return np.sum(np.take(y, [3, 1, 3]) ** 2) + np.sum(y)

def scatter_grid(pts, w):
    grid = np.zeros(6)
    idx = np.floor(pts).astype(int)
    frac = pts - idx
    np.add.at(grid, idx, w * (1 - frac))
    np.add.at(grid, idx + 1, w * frac)
    return np.sum(grid ** 2 * np.arange(6))

def chained_index_write(X):
    Y = X.copy()
    Y[0][1] = Y[1][2] * 3
    Y[:, 0][1:] = 5.0   # view of a view write
    return np.sum(Y ** 2)

def bool2d_assign(X):
    Y = X.copy()
    m = np.abs(Y) > 1.0
    Y[m] = np.sign(Y[m])
    return np.sum(Y ** 3)

def ellipsis_write(X):
    Y = np.zeros((2,) + X.shape)
    Y[0, ...] = X
    Y[1, ..., 0] = X[..., 1] ** 2
    return np.sum(Y * np.arange(Y.size).reshape(Y.shape))

def negative_step_write(x):
    y = np.zeros_like(x)
    y[::-1] = np.cumsum(x)
    y[-2::-2] += x[:len(y[-2::-2])]
    return np.sum(y ** 2 * np.arange(len(y)))

def loop_swap_rows(X):
    Y = X.copy()
    for i in range(Y.shape[0] - 1):
        Y[[i, i + 1]] = Y[[i + 1, i]]
    return np.sum(Y * np.arange(Y.size).reshape(Y.shape))

def gauss_elim(A, b):
    A = A.copy(); b = b.copy()
    n = len(b)
    for k in range(n):
        for i in range(k + 1, n):
            f = A[i, k] / A[k, k]
            A[i, k:] -= f * A[k, k:]
            b[i] -= f * b[k]
    x = np.zeros(n)
    for i in range(n - 1, -1, -1):
        x[i] = (b[i] - A[i, i + 1:] @ x[i + 1:]) / A[i, i]
    return np.sum(x ** 2)

def thomas(a, b, c, d):
    n = len(d)
    cp = np.zeros(n); dp = np.zeros(n)
    cp[0] = c[0] / b[0]; dp[0] = d[0] / b[0]
    for i in range(1, n):
        m = b[i] - a[i] * cp[i - 1]
        cp[i] = c[i] / m if i < n - 1 else 0.0
        dp[i] = (d[i] - a[i] * dp[i - 1]) / m
    x = np.zeros(n)
    x[-1] = dp[-1]
    for i in range(n - 2, -1, -1):
        x[i] = dp[i] - cp[i] * x[i + 1]
    return np.sum(x * np.arange(1, n + 1))

def cholesky_manual(A):
    n = A.shape[0]
    L = np.zeros_like(A)
    for j in range(n):
        s = A[j, j] - np.sum(L[j, :j] ** 2)
        L[j, j] = np.sqrt(s)
        for i in range(j + 1, n):
            L[i, j] = (A[i, j] - np.sum(L[i, :j] * L[j, :j])) / L[j, j]
    return np.sum(np.log(np.diag(L))) + L[2, 0]

def viterbi_soft(logA, logB):
    T = logB.shape[0]
    alpha = logB[0].copy()
    for t in range(1, T):
        m = alpha[:, None] + logA
        mx = m.max(axis=0)
        alpha = mx + np.log(np.exp(m - mx).sum(axis=0)) + logB[t]
    mx = alpha.max()
    return mx + np.log(np.sum(np.exp(alpha - mx)))

def ctc_like_dp(logp):
    T, S = logp.shape
    D = np.full((T, S), -1e9)
    D[0, 0] = logp[0, 0]
    for t in range(1, T):
        for s in range(S):
            prev = D[t - 1, s]
            if s > 0:
                prev = np.logaddexp(prev, D[t - 1, s - 1])
            D[t, s] = prev + logp[t, s]
    return D[-1, -1]

def dtw_soft(x, y, gamma=0.5):
    n, m = len(x), len(y)
    R = np.full((n + 1, m + 1), np.inf)
    R[0, 0] = 0.0
    for i in range(1, n + 1):
        for j in range(1, m + 1):
            c = (x[i - 1] - y[j - 1]) ** 2
            r = np.array([R[i - 1, j], R[i, j - 1], R[i - 1, j - 1]])
            mn = np.min(r)
            R[i, j] = c + mn - gamma * np.log(np.sum(np.exp(-(r - mn) / gamma)))
    return R[n, m]

# ================================================================ dom_funcs8.py

def ac_circuit(p, w):
    R, L, C = p[0], p[1], p[2]
    Z = R + 1j * w * L + 1 / (1j * w * C)
    I = 1.0 / Z
    return np.sum(np.abs(I) ** 2) + np.sum(np.angle(Z))

def analytic_signal(x):
    N = len(x)
    X = np.fft.fft(x)
    h = np.zeros(N); h[0] = 1; h[1:N // 2] = 2; h[N // 2] = 1
    z = np.fft.ifft(X * h)
    env = np.abs(z)
    return np.sum(env ** 2 * np.arange(N))

def fft_ortho_shift(x):
    X = np.fft.fftshift(np.fft.fft(x, norm="ortho"))
    f = np.fft.fftshift(np.fft.fftfreq(len(x), d=0.1))
    return np.sum(np.abs(X) ** 2 * f ** 2)

def fft2_blur(img, k):
    K = np.fft.rfft2(k, s=img.shape)
    out = np.fft.irfft2(np.fft.rfft2(img) * K, s=img.shape)
    return np.sum(out ** 2 * np.arange(img.size).reshape(img.shape))

def spectrogram(x):
    n = 8; hop = 4
    w = np.hanning(n)
    frames = np.stack([x[i:i + n] * w for i in range(0, len(x) - n + 1, hop)])
    S = np.abs(np.fft.rfft(frames, axis=1)) ** 2
    logS = np.log(S + 1e-6)
    return np.mean(logS[:, 1:3])

def phasor_sum(amp, ph):
    z = np.sum(amp * np.exp(1j * ph))
    return np.abs(z) ** 2 + np.real(z)

def transfer_fn_mag(b, a):
    w = np.linspace(0.1, 3.0, 8)
    zinv = np.exp(-1j * w)
    num = b[0] + b[1] * zinv + b[2] * zinv ** 2
    den = 1 + a[0] * zinv + a[1] * zinv ** 2
    H = num / den
    return np.sum(20 * np.log10(np.abs(H)))

def complex_matrix_solve(p):
    A = np.array([[2 + 1j * p[0], 1.0], [1.0, 3 - 1j * p[1]]])
    b = np.array([1.0, 1j])
    x = np.linalg.solve(A, b)
    return np.sum(np.abs(x) ** 2)

def conj_inner(x, y):
    z = x + 1j * y
    return np.real(np.vdot(z, z * np.arange(1, len(z) + 1))) + np.sum(np.imag(z ** 3))

# ================================================================ dom_funcs9.py

def chained_assign(x):
    a = b = np.zeros(3)
    a[0] = x[0]
    b[1] = x[1] ** 2
    return np.sum(a * np.array([1., 2, 3])) + np.sum(b)

def list_repeat_alias(x):
    base = np.zeros(2)
    hist = [base] * 3
    hist[0][0] = x[0]
    return sum(np.sum(h) for h in hist) * x[1]

def unpack_rows_iadd(X):
    Y = X.copy()
    a, b = Y
    a += 1.0
    b *= X[0]
    return np.sum(Y ** 2)

def for_row_imul(X):
    Y = X.copy()
    for row in Y:
        row *= 2.0
    return np.sum(Y ** 2 * np.arange(Y.size).reshape(Y.shape))

def overlap_reverse(x):
    y = x.copy()
    y[:] = y[::-1]
    return np.sum(y * np.arange(len(y)))

def overlap_shift(x):
    y = x * 1.0
    y[1:] = y[:-1]
    y[:-1] += y[1:]
    return np.sum(y ** 2 * np.arange(len(y)))

def copyto_where(x, z):
    y = x.copy()
    np.copyto(y, z, where=x > 0)
    return np.sum(y ** 2 * np.arange(len(y)))

def alias_iadd(x):
    buf = np.zeros(3)
    y = buf
    y += x
    buf *= 2
    return np.sum(y * buf)

def view_across_iters(x):
    X = np.zeros((4, 2))
    X[0] = x
    for t in range(3):
        prev = X[t]
        X[t + 1] = np.tanh(prev) + 0.5 * prev[::-1]
    return np.sum(X ** 2)

def dict_of_arrays_inplace(x):
    st = {"pos": np.zeros(2), "vel": x.copy()}
    for _ in range(3):
        st["pos"] += 0.1 * st["vel"]
        st["vel"] -= 0.1 * st["pos"] ** 3
    return np.sum(st["pos"] ** 2) + np.sum(st["vel"])

def object_state_inplace(x):
    class_ = _Particle(x)
    for _ in range(3):
        class_.step()
    return np.sum(class_.pos ** 2)

class _Particle:
    def __init__(self, v):
        self.pos = np.zeros_like(v)
        self.vel = v.copy()
    def step(self):
        self.pos += 0.1 * self.vel
        self.vel *= 0.9

# ================================================================ dom_funcs10.py

def half_shape(x):
    h = x.shape[0] // 2
    return np.sum(x[:h] ** 2) - np.sum(x[h:])

def ternary_abs(x):
    a = x[0] if x[0] > 0 else -x[0]
    return a ** 3 + (x[1] if 0 < x[1] < 1 else 2 * x[1])

def builtin_min_sorted(x):
    return min(x) ** 2 + sorted(x)[len(x) // 2] + max(abs(v) for v in x)

def any_gen(x):
    if any(v > 2 for v in x):
        return np.sum(x)
    return np.sum(x ** 2)

def round_index(x):
    i = int(round(float(x[0]) * 2)) % 3
    return x[i + 1] ** 2 * round(float(x[2]), 1)

def bool_branch(x):
    if bool(x[0] > 0) and x[1] < 0.5:
        return x[0] * x[1]
    return x[0] + x[1]

def math_on_elems(x):
    return math.sqrt(x[0] ** 2 + 1) + math.log(1 + x[1] ** 2) + math.atan(x[2]) + math.hypot(x[0], x[1])

def pow_frac_scalar(x):
    return abs(x[0]) ** 0.5 + x[1] ** 2.0 + 2 ** x[2] + math.pow(abs(x[0]) + 1, x[1])

def int_power_loop(x):
    p = 1.0
    for k in range(1, 5):
        p = p * x[k % len(x)] ** k
    return p

def while_with_else(x):
    i = 0
    s = 0.0
    while i < len(x):
        if x[i] > 1.5:
            break
        s = s + x[i] ** 2
        i += 1
    else:
        s = s * 2
    return s

def for_else_continue(x):
    s = 0.0
    for v in x:
        if v < -1:
            continue
        s += np.exp(v)
    else:
        s += 1.0
    return s

def nested_func_default(x, scale=2.0):
    def g(t, k=scale):
        return k * t ** 2
    return np.sum(g(x)) + np.sum(g(x, 1.0))

def walrus(x):
    if (m := np.max(x)) > 0:
        return m * np.sum(x)
    return np.sum(x)

def starred_unpack(x):
    first, *mid, last = x
    return first * last + sum(v ** 2 for v in mid)

def slice_obj(x):
    s = slice(1, None, 2)
    return np.sum(x[s] ** 2) + np.sum(x[::-2])

def matrix_from_list_comp(q):
    M = np.array([[np.cos(a), -np.sin(a)] for a in q])
    return np.sum(M @ M.T)

def fstring_key_dict(x):
    d = {f"c{i}": x[i] ** 2 for i in range(3)}
    return d["c0"] + 2 * d["c1"] + 3 * d["c2"]

def enumerate_start_zip_strict(x, w):
    tot = 0.0
    for i, (a, b) in enumerate(zip(x, w), 1):
        tot += i * a * b
    return tot


# ================================================================ wrappers: y and its gradient w.r.t. the first k
def w_1_1(fun, a0):
    y = fun(a0)
    return y, dlgradient(y, a0)


def w_2_1(fun, a0, a1):
    y = fun(a0, a1)
    return y, dlgradient(y, a0)


def w_2_2(fun, a0, a1):
    y = fun(a0, a1)
    return y, dlgradient(y, a0, a1)


def w_3_1(fun, a0, a1, a2):
    y = fun(a0, a1, a2)
    return y, dlgradient(y, a0)


def w_3_2(fun, a0, a1, a2):
    y = fun(a0, a1, a2)
    return y, dlgradient(y, a0, a1)


def w_3_3(fun, a0, a1, a2):
    y = fun(a0, a1, a2)
    return y, dlgradient(y, a0, a1, a2)


def w_4_1(fun, a0, a1, a2, a3):
    y = fun(a0, a1, a2, a3)
    return y, dlgradient(y, a0)


def w_4_2(fun, a0, a1, a2, a3):
    y = fun(a0, a1, a2, a3)
    return y, dlgradient(y, a0, a1)


def w_4_3(fun, a0, a1, a2, a3):
    y = fun(a0, a1, a2, a3)
    return y, dlgradient(y, a0, a1, a2)


def w_4_4(fun, a0, a1, a2, a3):
    y = fun(a0, a1, a2, a3)
    return y, dlgradient(y, a0, a1, a2, a3)


def w_5_1(fun, a0, a1, a2, a3, a4):
    y = fun(a0, a1, a2, a3, a4)
    return y, dlgradient(y, a0)


def w_5_2(fun, a0, a1, a2, a3, a4):
    y = fun(a0, a1, a2, a3, a4)
    return y, dlgradient(y, a0, a1)


def w_5_3(fun, a0, a1, a2, a3, a4):
    y = fun(a0, a1, a2, a3, a4)
    return y, dlgradient(y, a0, a1, a2)


def w_5_4(fun, a0, a1, a2, a3, a4):
    y = fun(a0, a1, a2, a3, a4)
    return y, dlgradient(y, a0, a1, a2, a3)


def w_5_5(fun, a0, a1, a2, a3, a4):
    y = fun(a0, a1, a2, a3, a4)
    return y, dlgradient(y, a0, a1, a2, a3, a4)


def w_6_1(fun, a0, a1, a2, a3, a4, a5):
    y = fun(a0, a1, a2, a3, a4, a5)
    return y, dlgradient(y, a0)


def w_6_2(fun, a0, a1, a2, a3, a4, a5):
    y = fun(a0, a1, a2, a3, a4, a5)
    return y, dlgradient(y, a0, a1)


def w_6_3(fun, a0, a1, a2, a3, a4, a5):
    y = fun(a0, a1, a2, a3, a4, a5)
    return y, dlgradient(y, a0, a1, a2)


def w_6_4(fun, a0, a1, a2, a3, a4, a5):
    y = fun(a0, a1, a2, a3, a4, a5)
    return y, dlgradient(y, a0, a1, a2, a3)


def w_6_5(fun, a0, a1, a2, a3, a4, a5):
    y = fun(a0, a1, a2, a3, a4, a5)
    return y, dlgradient(y, a0, a1, a2, a3, a4)


def w_6_6(fun, a0, a1, a2, a3, a4, a5):
    y = fun(a0, a1, a2, a3, a4, a5)
    return y, dlgradient(y, a0, a1, a2, a3, a4, a5)


