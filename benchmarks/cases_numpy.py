"""Hand-written numpy gradients: the reference for correctness and for speed.

Each function returns ``(value, [gradients])`` for the differentiated arguments
listed in cases_data.CASES, written the way a person would derive them by hand.
"""
import numpy as np


# (1) Rosenbrock ---------------------------------------------------------------------------
def rosenbrock_grad(x):
    a = x[1] - x[0]**2
    y = 100*a**2 + (1 - x[0])**2
    g = np.array([-400*a*x[0] - 2*(1 - x[0]), 200*a])
    return y, [g]


# (2) MLP with softmax cross-entropy -----------------------------------------------------------
def mlp_grad(W1, b1, W2, b2, X, T):
    n = X.shape[0]
    H = np.tanh(X @ W1 + b1)
    Z = H @ W2 + b2
    Z = Z - Z.max(axis=1, keepdims=True)
    E = np.exp(Z)
    S = E.sum(axis=1, keepdims=True)
    loss = -np.sum(T * (Z - np.log(S))) / n
    dZ = (E / S * T.sum(axis=1, keepdims=True) - T) / n
    gW2 = H.T @ dZ
    gb2 = dZ.sum(axis=0)
    dA = (dZ @ W2.T) * (1 - H**2)
    gW1 = X.T @ dA
    gb1 = dA.sum(axis=0)
    return loss, [gW1, gb1, gW2, gb2]


# (3) Large elementwise chain ------------------------------------------------------------------
def elementwise_grad(x):
    s = np.sin(x)
    x2 = x*x
    e = np.exp(-x2)
    y = np.sum(s*e + np.log1p(x2))
    g = e*(np.cos(x) - 2*x*s) + 2*x/(1 + x2)
    return y, [g]


# (4) RNN-style loop ---------------------------------------------------------------------------
def rnn_grad(W, U, xs, h0):
    hs = [h0]
    h = h0
    for t in range(xs.shape[0]):
        h = np.tanh(W @ h + U @ xs[t])
        hs.append(h)
    loss = np.sum(h**2)
    gW = np.zeros_like(W)
    gU = np.zeros_like(U)
    dh = 2*h
    for t in range(xs.shape[0] - 1, -1, -1):
        da = dh * (1 - hs[t + 1]**2)
        gW += np.outer(da, hs[t])
        gU += np.outer(da, xs[t])
        dh = W.T @ da
    return loss, [gW, gU]


# (5) Scalar loop with a value-dependent branch (forward-mode by hand) -------------------------
def branchy_grad(x):
    y = float(x)
    dy = 1.0
    for i in range(40):
        if y > 1.0:
            y, dy = 0.5*y + 0.3*np.sin(y), (0.5 + 0.3*np.cos(y))*dy
        else:
            y, dy = y*y + 0.25*np.cos(y) + 0.6, (2*y - 0.25*np.sin(y))*dy
    return y, [np.array(dy)]


FUNCTIONS = {
    "rosenbrock": rosenbrock_grad,
    "mlp": mlp_grad,
    "elementwise": elementwise_grad,
    "rnn": rnn_grad,
    "branchy": branchy_grad,
}


def make(case, inputs):
    fun = FUNCTIONS[case]
    args = list(inputs.values())

    def call():
        return fun(*args)

    def result(out):
        value, grads = out
        return float(value), [np.asarray(g) for g in grads]

    return call, result
