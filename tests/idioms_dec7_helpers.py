"""Helpers of another module for tests/test_idioms_dec7.py: keyword-only parameters."""
import numpy as np

SHIFT = 0.25


def dense(x, *, w, b=SHIFT):
    return np.tanh(w * x + b)


def attention(q, k, v, *, mask=None, scale):
    s = q * k * scale
    if mask is not None:
        s = s + mask
    return np.exp(-s * s) * v
