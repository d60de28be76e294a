"""The benchmark cases for PyTorch (eager): leaf tensors with requires_grad, backward().

float64 tensors, one intra-op thread (torch.set_num_threads(1)).
"""
import numpy as np
import torch

torch.set_num_threads(1)


def rosenbrock(x):
    return 100*(x[1] - x[0]**2)**2 + (1 - x[0])**2


def mlp_loss(W1, b1, W2, b2, X, T):
    H = torch.tanh(X @ W1 + b1)
    Z = H @ W2 + b2
    Z = Z - torch.max(Z, dim=1, keepdim=True).values
    logp = Z - torch.log(torch.sum(torch.exp(Z), dim=1, keepdim=True))
    return -torch.sum(T * logp) / X.shape[0]


def elementwise(x):
    return torch.sum(torch.sin(x)*torch.exp(-x**2) + torch.log1p(x**2))


def rnn_loss(W, U, xs, h0):
    h = h0
    for t in range(xs.shape[0]):
        h = torch.tanh(W @ h + U @ xs[t])
    return torch.sum(h**2)


def branchy(x):
    y = x
    for i in range(40):
        if y > 1.0:
            y = 0.5*y + 0.3*torch.sin(y)
        else:
            y = y*y + 0.25*torch.cos(y) + 0.6
    return y


# case -> (function, indices of the differentiated arguments)
FUNCTIONS = {
    "rosenbrock": (rosenbrock, (0,)),
    "mlp": (mlp_loss, (0, 1, 2, 3)),
    "elementwise": (elementwise, (0,)),
    "rnn": (rnn_loss, (0, 1)),
    "branchy": (branchy, (0,)),
}


def make(case, inputs):
    fun, wrt = FUNCTIONS[case]
    args = [torch.tensor(v, dtype=torch.float64, requires_grad=(i in wrt))
            for i, v in enumerate(inputs.values())]
    params = [args[i] for i in wrt]

    def call():
        for p in params:
            p.grad = None
        loss = fun(*args)
        loss.backward()
        return loss.detach(), [p.grad for p in params]

    def result(out):
        value, grads = out
        return float(value), [g.numpy() for g in grads]

    return call, result
