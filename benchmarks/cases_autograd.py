"""The benchmark cases for autograd (HIPS): autograd.numpy + value_and_grad."""
import autograd.numpy as anp
import numpy as np
from autograd import value_and_grad


def rosenbrock(x):
    return 100*(x[1] - x[0]**2)**2 + (1 - x[0])**2


def mlp_loss(W1, b1, W2, b2, X, T):
    H = anp.tanh(X @ W1 + b1)
    Z = H @ W2 + b2
    Z = Z - anp.max(Z, axis=1, keepdims=True)
    logp = Z - anp.log(anp.sum(anp.exp(Z), axis=1, keepdims=True))
    return -anp.sum(T * logp) / X.shape[0]


def elementwise(x):
    return anp.sum(anp.sin(x)*anp.exp(-x**2) + anp.log1p(x**2))


def rnn_loss(W, U, xs, h0):
    h = h0
    for t in range(xs.shape[0]):
        h = anp.tanh(W @ h + U @ xs[t])
    return anp.sum(h**2)


def branchy(x):
    y = x
    for i in range(40):
        if y > 1.0:
            y = 0.5*y + 0.3*anp.sin(y)
        else:
            y = y*y + 0.25*anp.cos(y) + 0.6
    return y


# case -> (function, argnums of the differentiated arguments)
FUNCTIONS = {
    "rosenbrock": (rosenbrock, 0),
    "mlp": (mlp_loss, (0, 1, 2, 3)),
    "elementwise": (elementwise, 0),
    "rnn": (rnn_loss, (0, 1)),
    "branchy": (branchy, 0),
}


def make(case, inputs):
    fun, argnum = FUNCTIONS[case]
    vg = value_and_grad(fun, argnum)
    args = list(inputs.values())

    def call():
        return vg(*args)

    def result(out):
        value, grads = out
        if isinstance(argnum, int):
            grads = [grads]
        return float(value), [np.asarray(g) for g in grads]

    return call, result
