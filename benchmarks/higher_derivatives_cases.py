"""The model loss measured by higher_derivatives_cost.py (sct reads source, so it lives in a file)."""
import numpy as np

from sct import dlgradient


def loss_higher_true(w1, w2, x, t):
    h = np.tanh(w1 @ x)
    y = w2 @ h
    loss = np.mean((y - t) ** 2)
    g1, g2 = dlgradient(loss, w1, w2, EnableHigherDerivatives=True)
    return loss, g1, g2


def loss_higher_false(w1, w2, x, t):
    h = np.tanh(w1 @ x)
    y = w2 @ h
    loss = np.mean((y - t) ** 2)
    g1, g2 = dlgradient(loss, w1, w2, EnableHigherDerivatives=False)
    return loss, g1, g2
