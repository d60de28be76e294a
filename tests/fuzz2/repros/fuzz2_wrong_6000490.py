# fuzz2 repro: WRONG (gradient)
# accel call 1: d/da: got [nan nan nan] expected [ 0.000000000000e+00 -6.733493868039e-01 -7.971401316809e-08]
"""fuzz2 program 6000490 (driver accel, dtype float64, c shape (3, 1))."""
import math

import numpy as np

import sct
from sct import dlarray, dlfeval, dlgradient


def h0(u, w):
    k1 = 0
    while np.sum(w) > -0.02 and k1 < 2:
        k2 = 0
        while k2 < 1:
            u = np.deg2rad(u)
            w = w + (np.exp(((u) * (np.less_equal(u, -0.44)).astype(float)) - (w) - np.max(((u) * (np.less_equal(u, -0.44)).astype(float)) - (w))))
            k2 += 1
        k1 += 1
    m3 = ((w) > -0.3) & ((w) < 0.6)
    v4 = (math.acos(0.5 * math.tanh(math.log10(1.5 + u ** 2)))) / (0.5 + np.abs(np.true_divide(np.array([u, u]), 2.0 + np.cos(np.subtract((w)[1:], u)))))
    return np.float_power(1.3 + (math.log10(1.5 + u ** 2)) ** 2, np.cos(u))


def f(a, B, c, k):
    v5 = np.arccos(0.8 * np.sin(np.vstack([(a)[None, :], np.swapaxes(c, 0, 1)])))
    k6 = 0
    while k6 < 4:
        for e8 in [np.arctan2(np.tan(0.5 * np.tanh((a) % (2.0 + np.abs(k)))), 1.5 + (int(k6 > 0) * k) ** 2), np.fabs(np.add(a, a))]:
            v5[:, 1] = (np.where((np.tan(0.5 * np.tanh(k))) > ((e8)[:2]), np.tan(0.5 * np.tanh(k)), (e8)[:2])) % (2.0 + np.abs(k))
            v5[1] *= np.sinh(0.5 * e8)
            k += float(np.remainder(np.max((np.array([-0.15, 0.6, -0.58]))[[0, 2]]), 1.1))
        k6 += 1
    for e10 in [np.reciprocal(1.5 + a ** 2), ((np.fix(a)) * (np.logical_and((a) > -0.5, (-0.15) < 0.8))).conjugate()]:
        v5[0] = (np.arccosh(1.5 + np.fmax(k, e10) ** 2)) / (1.3 + (np.subtract(np.full(3, k), (e10) + np.arange(3))) ** 2)
    v5[1] *= np.log(1.5 + np.tanh(a))
    B = np.fmod(B, 0.9)
    for e12, e13 in zip(np.logaddexp2(np.maximum(a, (k) * (np.logical_not((k) > (-1.11)))), -0.4), (((np.array([0.24, 0.46, 0.19])) * ((a) > (a)).astype(float)) / (1.3 + (v5) ** 2)).T):
        k14 = 0
        while k > 0.81 and k14 < 4:
            a = 2.0 ** (a)
            k14 += 1
        k15 = 0
        while k15 < 4:
            B = B + (np.sin(np.atleast_2d(a)) if np.sum(np.atleast_2d(a)) > 0 else np.cos(np.atleast_2d(a)))
            v16 = np.round((np.fmod(e13, 0.9)).copy(), 1)
            k15 += 1
        e12 = np.square(np.max(np.where(np.logical_not((c) > (k)), np.einsum('i,j->ij', a, a), np.array([[-0.17, -0.74, 0.85], [-0.47, -0.42, 0.1], [-0.01, -0.54, 0.15]]))))
    return h0(w=np.expm1(0.2 * a), u=k) + -0.3 * np.sum(np.sin(v5))


def g(a, B, c, k):
    y = f(a, B, c, k)
    return y, dlgradient(y, B, a)


def make_args(variant=0):
    rng = np.random.default_rng(6000490 + 1000 * variant)
    dt = np.float64
    a = rng.uniform(-1.2, 1.2, 3).astype(dt)
    B = rng.uniform(-1.2, 1.2, (2, 3)).astype(dt)
    c = np.asarray(rng.uniform(-1.2, 1.2, (3, 1))).astype(dt)
    k = 0.651
    return a, B, c, k


DRIVER = 'accel'
WRT = ('B', 'a')
DTYPE = 'float64'
SEED = 6000490
W = np.array([0.3, -0.7, 1.1])
