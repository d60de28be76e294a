"""The benchmark cases for autograd (HIPS): autograd.numpy + value_and_grad."""
import autograd.numpy as anp
import numpy as np
from autograd import grad, hessian_vector_product, value_and_grad


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


def relu(x):
    return anp.maximum(x, 0)


def softmax_cross_entropy(Z, T):
    Z = Z - anp.max(Z, axis=1, keepdims=True)
    logp = Z - anp.log(anp.sum(anp.exp(Z), axis=1, keepdims=True))
    return -anp.sum(T * logp) / Z.shape[0]


def mlp_f32_loss(W1, b1, W2, b2, W3, b3, X, T):
    H = relu(X @ W1 + b1)
    H = relu(H @ W2 + b2)
    return softmax_cross_entropy(H @ W3 + b3, T)


def rosen(x):
    return anp.sum(100*(x[1:] - x[:-1]**2)**2 + (1 - x[:-1])**2)


def cnn_slices_loss(K, bk, Wd, bd, X, T):
    Ho, Wo = X.shape[1] - 2, X.shape[2] - 2
    Z = bk
    for i in range(3):
        for j in range(3):
            Z = Z + X[:, i:i+Ho, j:j+Wo, :] * K[i, j]
    P = anp.mean(relu(Z), axis=(1, 2))
    return softmax_cross_entropy(P @ Wd + bd, T)


def loop1000(x):
    y = x
    for i in range(1000):
        if y > 0.5:
            y = y - 0.02*anp.sin(3*y) - 0.01
        else:
            y = y + 0.02*anp.cos(y) + 0.01*y*y
    return y


# case -> (function, argnums of the differentiated arguments)
FUNCTIONS = {
    "rosenbrock": (rosenbrock, 0),
    "mlp": (mlp_loss, (0, 1, 2, 3)),
    "elementwise": (elementwise, 0),
    "rnn": (rnn_loss, (0, 1)),
    "branchy": (branchy, 0),
    "mlp_f32": (mlp_f32_loss, (0, 1, 2, 3, 4, 5)),
    "rosen_1e6": (rosen, 0),
    "cnn_slices": (cnn_slices_loss, (0, 1, 2, 3)),
    "loop1000": (loop1000, 0),
}


def make(case, inputs):
    if case in ("train_cnn", "train_mlp"):
        raise NotImplementedError("the training steps are measured for numpy, sct and torch")
    if case in ("hvp", "hvp_nested"):
        # autograd has reverse mode only: both cases are reverse over reverse
        hvp = hessian_vector_product(rosen) if case == "hvp" else \
            grad(lambda x, v: anp.sum(grad(rosen)(x) * v))
        x, v = inputs.values()

        def call():
            return hvp(x, v)

        return call, lambda out: (None, [np.asarray(out)])
    if case not in FUNCTIONS:
        raise NotImplementedError("no convolution in autograd.numpy")
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
