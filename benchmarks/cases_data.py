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
    ("mlp_f32", ("float32 MLP 784-512-512-10, batch 256, relu, softmax cross-entropy; grad wrt W1..b3",
                 ("W1", "b1", "W2", "b2", "W3", "b3"))),
    ("rosen_1e6", ("extended Rosenbrock written with slices, sum(100*(x[1:]-x[:-1]**2)**2 + (1-x[:-1])**2), "
                   "N = 1e6", ("x",))),
    ("hvp", ("Hessian-vector product of the extended Rosenbrock, N = 1e5 (sct.hvp; peers forward-over-reverse "
             "where they have it)", ("x",))),
    ("hvp_nested", ("the same Hessian-vector product as a gradient of <gradient, v> (nested dlgradient; "
                    "peers reverse-over-reverse)", ("x",))),
    ("cnn_slices", ("CNN step, batch 32, 28x28x1: 3x3 conv to 16 channels as a sum of 9 shifted-slice "
                    "products, relu, mean-pool, dense 16->10, softmax cross-entropy", ("K", "bk", "Wd", "bd"))),
    ("cnn_conv", ("the same CNN step with the library's convolution (sct.dlconv, torch conv2d, "
                  "lax.conv_general_dilated)", ("K", "bk", "Wd", "bd"))),
    ("loop1000", ("scalar loop of 1000 steps with a value-dependent if/else", ("x",))),
    ("train_cnn", ("float32 CNN training step, batch 32, 28x28x1: [conv 3x3 'same' (8, then 16 filters), batch "
                   "norm, relu, max-pool 2] x2, dense 784->10, softmax cross-entropy, Adam update",
                   ("W1", "b1", "offset1", "scale1", "W2", "b2", "offset2", "scale2", "Wf", "bf"))),
    ("train_mlp", ("float32 MLP training step, 784-512-512-10, batch 256, relu, softmax cross-entropy, "
                   "Adam update", ("W1", "b1", "W2", "b2", "W3", "b3"))),
])

# the training steps: every call is one step (forward, backward, Adam update) continuing from the last;
# the value and gradients checked are those of the first step
TRAINING_CASES = ("train_cnn", "train_mlp")
ADAM_LEARN_RATE = 1e-3

# case -> (rtol, atol relative to the largest gradient entry) for the check against numpy
TOLERANCES = {"mlp_f32": (2e-4, 2e-5), "train_cnn": (2e-3, 2e-4), "train_mlp": (2e-4, 2e-5)}
DEFAULT_TOLERANCE = (1e-7, 1e-12)

# the targets (issue 8), as t_sct / t_numpy
TARGETS = {"rosenbrock": "≤ 2×", "mlp": "≤ 1.1×", "elementwise": "≤ 1.1×", "mlp_f32": "≤ 1.1×",
           "rosen_1e6": "≤ 1.1×", "hvp": "≤ 3×", "hvp_nested": "≤ 3×", "cnn_slices": "≤ 1.5×",
           "branchy": "≤ 1×", "loop1000": "≤ 1×", "train_cnn": "≤ 1.1×", "train_mlp": "≤ 1.1×"}

MLP_BATCH, MLP_IN, MLP_HIDDEN, MLP_OUT = 256, 64, 128, 10
ELEMENTWISE_N = 1_000_000
RNN_T, RNN_HIDDEN, RNN_INPUT = 50, 32, 16
BRANCHY_STEPS = 40
F32_BATCH, F32_IN, F32_HIDDEN, F32_OUT = 256, 784, 512, 10
ROSEN_N = 1_000_000
HVP_N = 100_000
CNN_BATCH, CNN_SIDE, CNN_FILTERS, CNN_CLASSES = 32, 28, 16, 10
LOOP_STEPS = 1000
TCNN_BATCH, TCNN_SIDE, TCNN_F1, TCNN_F2, TCNN_CLASSES = 32, 28, 8, 16, 10


def _one_hot(rng, n, k, dtype=np.float64):
    T = np.zeros((n, k), dtype=dtype)
    T[np.arange(n), rng.integers(0, k, n)] = 1
    return T


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
    if case == "mlp_f32":
        f = np.float32
        X = rng.standard_normal((F32_BATCH, F32_IN)).astype(f)
        T = _one_hot(rng, F32_BATCH, F32_OUT, f)
        W1 = (rng.standard_normal((F32_IN, F32_HIDDEN)) * np.sqrt(2 / F32_IN)).astype(f)
        b1 = (0.1 * rng.standard_normal(F32_HIDDEN)).astype(f)
        W2 = (rng.standard_normal((F32_HIDDEN, F32_HIDDEN)) * np.sqrt(2 / F32_HIDDEN)).astype(f)
        b2 = (0.1 * rng.standard_normal(F32_HIDDEN)).astype(f)
        W3 = (rng.standard_normal((F32_HIDDEN, F32_OUT)) / np.sqrt(F32_HIDDEN)).astype(f)
        b3 = (0.1 * rng.standard_normal(F32_OUT)).astype(f)
        return OrderedDict(W1=W1, b1=b1, W2=W2, b2=b2, W3=W3, b3=b3, X=X, T=T)
    if case == "rosen_1e6":
        return OrderedDict(x=rng.uniform(-1.5, 1.5, ROSEN_N))
    if case in ("hvp", "hvp_nested"):
        return OrderedDict(x=rng.uniform(-1.5, 1.5, HVP_N), v=rng.standard_normal(HVP_N))
    if case in ("cnn_slices", "cnn_conv"):
        X = rng.standard_normal((CNN_BATCH, CNN_SIDE, CNN_SIDE, 1))
        K = rng.standard_normal((3, 3, 1, CNN_FILTERS)) / 3
        bk = 0.1 * rng.standard_normal(CNN_FILTERS)
        Wd = rng.standard_normal((CNN_FILTERS, CNN_CLASSES)) / 4
        bd = 0.1 * rng.standard_normal(CNN_CLASSES)
        return OrderedDict(K=K, bk=bk, Wd=Wd, bd=bd, X=X, T=_one_hot(rng, CNN_BATCH, CNN_CLASSES))
    if case == "loop1000":
        return OrderedDict(x=np.array(0.3))
    if case == "train_cnn":
        f = np.float32
        n, side, f1, f2, k = TCNN_BATCH, TCNN_SIDE, TCNN_F1, TCNN_F2, TCNN_CLASSES
        flat = (side // 4) ** 2 * f2
        return OrderedDict(
            W1=(rng.standard_normal((3, 3, 1, f1)) * np.sqrt(2 / 9)).astype(f), b1=np.zeros(f1, f),
            offset1=np.zeros(f1, f), scale1=np.ones(f1, f),
            W2=(rng.standard_normal((3, 3, f1, f2)) * np.sqrt(2 / (9 * f1))).astype(f), b2=np.zeros(f2, f),
            offset2=np.zeros(f2, f), scale2=np.ones(f2, f),
            Wf=(rng.standard_normal((k, flat)) / np.sqrt(flat)).astype(f), bf=np.zeros(k, f),
            X=rng.standard_normal((n, side, side, 1)).astype(f), T=_one_hot(rng, n, k, f))
    if case == "train_mlp":
        f = np.float32
        sizes = (F32_IN, F32_HIDDEN, F32_HIDDEN, F32_OUT)
        params = OrderedDict()
        for i in range(1, 4):
            params[f"W{i}"] = (rng.standard_normal((sizes[i], sizes[i - 1])) * np.sqrt(2 / sizes[i - 1])).astype(f)
            params[f"b{i}"] = (0.1 * rng.standard_normal(sizes[i])).astype(f)
        params["X"] = rng.standard_normal((F32_BATCH, F32_IN)).astype(f)
        params["T"] = _one_hot(rng, F32_BATCH, F32_OUT, f)
        return params
    raise KeyError(case)
