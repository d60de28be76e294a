"""Inputs shared by every implementation: the same arrays, float64, fixed seeds.

Each case is described once here: its inputs (in argument order), which of them
the gradient is taken with respect to, and a one-line description for the table.
"""
from __future__ import annotations

from collections import OrderedDict

import numpy as np

# name -> (description, names of the differentiated arguments)
CASES = OrderedDict([
    ("rosenbrock", ("Rosenbrock at a 2-element point (per-call overhead)", ("x",))),
    ("mlp", ("2-layer tanh MLP, batch 256, 64->128->10, softmax cross-entropy; grad wrt W1,b1,W2,b2",
             ("W1", "b1", "W2", "b2"))),
    ("elementwise", ("sum(sin(x)*exp(-x**2) + log1p(x**2)), x of 1e6 elements", ("x",))),
    ("rnn", ("RNN loop h = tanh(W@h + U@x[t]), T=50, hidden 32, input 16; grad wrt W,U", ("W", "U"))),
    ("branchy", ("scalar loop of 40 steps with a value-dependent if/else", ("x",))),
])

MLP_BATCH, MLP_IN, MLP_HIDDEN, MLP_OUT = 256, 64, 128, 10
ELEMENTWISE_N = 1_000_000
RNN_T, RNN_HIDDEN, RNN_INPUT = 50, 32, 16
BRANCHY_STEPS = 40


def make_inputs(case: str) -> "OrderedDict[str, np.ndarray]":
    """The inputs of ``case`` as plain float64 numpy arrays, in argument order."""
    rng = np.random.default_rng(20240601)
    if case == "rosenbrock":
        return OrderedDict(x=np.array([-1.0, 2.0]))
    if case == "mlp":
        X = rng.standard_normal((MLP_BATCH, MLP_IN))
        labels = rng.integers(0, MLP_OUT, MLP_BATCH)
        T = np.zeros((MLP_BATCH, MLP_OUT))
        T[np.arange(MLP_BATCH), labels] = 1.0
        W1 = rng.standard_normal((MLP_IN, MLP_HIDDEN)) / np.sqrt(MLP_IN)
        b1 = 0.1 * rng.standard_normal(MLP_HIDDEN)
        W2 = rng.standard_normal((MLP_HIDDEN, MLP_OUT)) / np.sqrt(MLP_HIDDEN)
        b2 = 0.1 * rng.standard_normal(MLP_OUT)
        return OrderedDict(W1=W1, b1=b1, W2=W2, b2=b2, X=X, T=T)
    if case == "elementwise":
        return OrderedDict(x=rng.standard_normal(ELEMENTWISE_N))
    if case == "rnn":
        W = rng.standard_normal((RNN_HIDDEN, RNN_HIDDEN)) / np.sqrt(RNN_HIDDEN)
        U = rng.standard_normal((RNN_HIDDEN, RNN_INPUT)) / np.sqrt(RNN_INPUT)
        xs = rng.standard_normal((RNN_T, RNN_INPUT))
        h0 = np.zeros(RNN_HIDDEN)
        return OrderedDict(W=W, U=U, xs=xs, h0=h0)
    if case == "branchy":
        return OrderedDict(x=np.array(0.3))
    raise KeyError(case)
