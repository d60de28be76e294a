"""The benchmark cases written for sct: plain numpy code plus dlgradient.

sct reads the source of these functions, so they must live in a module file.
Each ``*_grad`` function is what a user passes to ``dlfeval``; it returns the
loss and the gradients with respect to the differentiated arguments.
"""
import numpy as np

from sct import dlarray, dlfeval, dlgradient


# (1) Rosenbrock ---------------------------------------------------------------------------
def rosenbrock_grad(x):
    y = 100*(x[1] - x[0]**2)**2 + (1 - x[0])**2
    return y, dlgradient(y, x)


# (2) MLP with softmax cross-entropy -----------------------------------------------------------
def mlp_grad(W1, b1, W2, b2, X, T):
    H = np.tanh(X @ W1 + b1)
    Z = H @ W2 + b2
    Z = Z - np.max(Z, axis=1, keepdims=True)
    logp = Z - np.log(np.sum(np.exp(Z), axis=1, keepdims=True))
    loss = -np.sum(T * logp) / X.shape[0]
    gW1, gb1, gW2, gb2 = dlgradient(loss, W1, b1, W2, b2)
    return loss, gW1, gb1, gW2, gb2


# (3) Large elementwise chain ------------------------------------------------------------------
def elementwise_grad(x):
    y = np.sum(np.sin(x)*np.exp(-x**2) + np.log1p(x**2))
    return y, dlgradient(y, x)


# (4) RNN-style loop ---------------------------------------------------------------------------
def rnn_grad(W, U, xs, h0):
    h = h0
    for t in range(xs.shape[0]):
        h = np.tanh(W @ h + U @ xs[t])
    loss = np.sum(h**2)
    gW, gU = dlgradient(loss, W, U)
    return loss, gW, gU


# (5) Scalar loop with a value-dependent branch -------------------------------------------------
def branchy_grad(x):
    y = x
    for i in range(40):
        if y > 1.0:
            y = 0.5*y + 0.3*np.sin(y)
        else:
            y = y*y + 0.25*np.cos(y) + 0.6
    return y, dlgradient(y, x)


FUNCTIONS = {
    "rosenbrock": rosenbrock_grad,
    "mlp": mlp_grad,
    "elementwise": elementwise_grad,
    "rnn": rnn_grad,
    "branchy": branchy_grad,
}


def make(case, inputs):
    """A zero-argument callable for ``case`` and a function turning its result
    into ``(value, [gradients as ndarrays])``.

    The arguments are wrapped as dlarray once, outside the timed call, as a user
    holding parameters would; dlfeval's own unwrapping and wrapping are timed.
    """
    fun = FUNCTIONS[case]
    args = [dlarray(v) for v in inputs.values()]

    def call():
        return dlfeval(fun, *args)

    def result(out):
        value, *grads = out
        return float(np.asarray(value.data)), [np.asarray(g.data) for g in grads]

    return call, result
