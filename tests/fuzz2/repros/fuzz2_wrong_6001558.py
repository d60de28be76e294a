# fuzz2 repro: WRONG (gradient2)
# hvp: got [nan  0. nan] expected [0. 0. 0.]
"""fuzz2 program 6001558 (driver hvp, dtype float64, c shape (3, 1))."""
import math

import numpy as np

import sct
from sct import dlarray, dlfeval, dlgradient


def h0(u, w, z):
    if np.sum(np.subtract(z, u)) > 1.24:
        k1 = 0
        while -1.45 < w < 1.5 and k1 < 3:
            v2 = (np.clip((lambda t: t * t + 0.1)(k1), -0.6, 0.8)) / (0.5 + np.abs(abs(np.floor((z)[1:]))))
            k1 += 1
    elif np.all(np.tile(z, (2, 1)) < 1.0):
        if np.nanmean(z) <= (w) / (1.3 + (w) ** 2):
            w = w * 0.5 + (abs(w)) if (abs(w)) > 0.1 else -0.5 * (abs(w))
        m3 = np.less_equal(np.log2(2.0 + np.sin(u)), -0.63)
    return (u) % 1.3


def f(a, B, c, k):
    k = (B).sum()
    a = np.arccosh(1.5 + -a ** 2)
    if float(np.fmax(k, k)) < -0.83:
        return np.nanmean(np.array([[0.32, -0.34, 0.56], [-0.2, -0.24, 0.15], [-0.88, 0.91, -0.96]]))
    lam4 = lambda t: k
    if not ((np.atleast_2d(a).T).prod() > 0.3):
        v5 = a
    elif np.sum(a) > 0.74:
        a = np.max(B, axis=0)
        for e7 in np.exp(a - np.max(a)):
            e7 = e7 * 0.5 + np.ceil((1.1 + (k) ** 2) ** (0.5 * np.tanh(min(k, k))))
    return np.sum((np.array([[-0.38], [-0.2], [-0.65]])) * ((a)[None, :])) + -0.3 * np.sum(np.sin(k)) + -0.3 * np.sum(np.sin(B))


def g(a, B, c, k):
    y = f(a, B, c, k)
    return y, dlgradient(y, a)


def fa(a):
    return f(a, B0, C0, K0)


def make_args(variant=0):
    rng = np.random.default_rng(6001558 + 1000 * variant)
    dt = np.float64
    a = rng.uniform(-1.2, 1.2, 3).astype(dt)
    B = rng.uniform(-1.2, 1.2, (2, 3)).astype(dt)
    c = np.asarray(rng.uniform(-1.2, 1.2, (3, 1))).astype(dt)
    k = 0.337
    return a, B, c, k


DRIVER = 'hvp'
WRT = ('a', 'B')
DTYPE = 'float64'
SEED = 6001558
W = np.array([0.3, -0.7, 1.1])
