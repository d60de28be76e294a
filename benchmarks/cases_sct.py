"""The benchmark cases written for sct: plain numpy code plus dlgradient.

sct reads the source of these functions, so they must live in a module file.
Each ``*_grad`` function is what a user passes to ``dlfeval``; it returns the
loss and the gradients with respect to the differentiated arguments.
"""
import numpy as np

import sct
from sct import (adamupdate, batchNormalizationLayer, convolution2dLayer, crossentropy, dlarray, dlconv, dlfeval,
                 dlgradient, dlnetwork, featureInputLayer, forward, fullyConnectedLayer, imageInputLayer,
                 maxPooling2dLayer, reluLayer, softmaxLayer)


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


# Shared helpers, as a user would factor them -------------------------------------------------------
def relu(x):
    return np.maximum(x, 0)


def dense(W, b, x):
    return x @ W + b


def softmax_cross_entropy(Z, T):
    Z = Z - np.max(Z, axis=1, keepdims=True)
    logp = Z - np.log(np.sum(np.exp(Z), axis=1, keepdims=True))
    return -np.sum(T * logp) / Z.shape[0]


# (6) float32 MLP 784-512-512-10 --------------------------------------------------------------------
def mlp_f32_model(W1, b1, W2, b2, W3, b3, X):
    H = relu(dense(W1, b1, X))
    H = relu(dense(W2, b2, H))
    return dense(W3, b3, H)


def mlp_f32_grad(W1, b1, W2, b2, W3, b3, X, T):
    loss = softmax_cross_entropy(mlp_f32_model(W1, b1, W2, b2, W3, b3, X), T)
    grads = dlgradient(loss, W1, b1, W2, b2, W3, b3)
    return (loss,) + tuple(grads)


# (7) extended Rosenbrock with slices ---------------------------------------------------------------
def rosen(x):
    return np.sum(100*(x[1:] - x[:-1]**2)**2 + (1 - x[:-1])**2)


def rosen_grad(x):
    y = rosen(x)
    return y, dlgradient(y, x)


# (8) Hessian-vector product: nested dlgradient (sct.hvp is used for the "hvp" case) ----------------
def rosen_hvp_nested(x, v):
    y = rosen(x)
    g = dlgradient(y, x, EnableHigherDerivatives=True)
    return dlgradient(np.sum(g * v), x)


# (9) CNN step ----------------------------------------------------------------------------------------
def conv3x3_slices(X, K, b):
    """'valid' 3x3 convolution as a sum of 9 shifted-slice products (channels last)."""
    Ho, Wo = X.shape[1] - 2, X.shape[2] - 2
    Z = b
    for i in range(3):
        for j in range(3):
            Z = Z + X[:, i:i+Ho, j:j+Wo, :] * K[i, j]
    return Z


def cnn_head_loss(Z, Wd, bd, T):
    P = np.mean(relu(Z), axis=(1, 2))
    return softmax_cross_entropy(dense(Wd, bd, P), T)


def cnn_slices_grad(K, bk, Wd, bd, X, T):
    loss = cnn_head_loss(conv3x3_slices(X, K, bk), Wd, bd, T)
    gK, gbk, gWd, gbd = dlgradient(loss, K, bk, Wd, bd)
    return loss, gK, gbk, gWd, gbd


def cnn_conv_grad(K, bk, Wd, bd, X, T):
    loss = cnn_head_loss(dlconv(X, K, bk), Wd, bd, T)
    gK, gbk, gWd, gbd = dlgradient(loss, K, bk, Wd, bd)
    return loss, gK, gbk, gWd, gbd


# (10) scalar loop of 1000 steps with a value-dependent branch --------------------------------------
def loop1000_grad(x):
    y = x
    for i in range(1000):
        if y > 0.5:
            y = y - 0.02*np.sin(3*y) - 0.01
        else:
            y = y + 0.02*np.cos(y) + 0.01*y*y
    return y, dlgradient(y, x)


# (11) training steps: a dlnetwork, MATLAB's modelLoss, adamupdate ------------------------------------
def model_loss(net, X, T):
    Y, state = forward(net, X)
    loss = crossentropy(Y, T)
    gradients = dlgradient(loss, net.Learnables)
    return loss, gradients, state


# The other implementations flatten the (7, 7, 16) feature maps row-major (channel fastest); MATLAB's layers,
# and so sct's fullyConnectedLayer, column-major (height fastest): the same weights, columns permuted.
TCNN_MAPS = (7, 7, 16)


def matlab_fc_order(W):
    """The fully connected weights of the other implementations (columns (h*7 + w)*16 + c) in MATLAB's
    column order (c*49 + w*7 + h)."""
    return np.reshape(np.transpose(np.reshape(W, (W.shape[0],) + TCNN_MAPS), (0, 3, 2, 1)), (W.shape[0], -1))


def numpy_fc_order(W):
    """``matlab_fc_order``'s inverse (sct's gradient of those weights in the other implementations' order)."""
    return np.reshape(np.transpose(np.reshape(W, (W.shape[0],) + TCNN_MAPS[::-1]), (0, 3, 2, 1)), (W.shape[0], -1))


def training_gradients(case, values):
    """The gradients of ``training_network``'s learnables in the order of the case's inputs."""
    values = list(values)
    if case == "train_cnn":
        values[-2] = numpy_fc_order(values[-2])
    return values


def training_network(case, inputs):
    """The case's network as MATLAB code builds it, its learnables set to the case's (float32) values."""
    if case == "train_cnn":
        layers = [imageInputLayer([28, 28, 1], Normalization="none"),
                  convolution2dLayer(3, 8, Padding="same"), batchNormalizationLayer(), reluLayer(),
                  maxPooling2dLayer(2, Stride=2),
                  convolution2dLayer(3, 16, Padding="same"), batchNormalizationLayer(), reluLayer(),
                  maxPooling2dLayer(2, Stride=2),
                  fullyConnectedLayer(10), softmaxLayer()]
    else:
        layers = [featureInputLayer(784), fullyConnectedLayer(512), reluLayer(), fullyConnectedLayer(512),
                  reluLayer(), fullyConnectedLayer(10), softmaxLayer()]
    net = dlnetwork(layers, Seed=0)
    values = list(inputs.values())[:-2]
    assert [tuple(v.shape) for v in net.Learnables.Value] == [v.shape for v in values]
    if case == "train_cnn":
        values[-2] = matlab_fc_order(values[-2])
    net = net.with_learnables([dlarray(v) for v in values])
    dtype = values[0].dtype
    net.State = net.State.with_values([dlarray(np.asarray(v, dtype)) for v in net.State.Value])
    return net


def make_train(case, inputs):
    net = training_network(case, inputs)
    X, T = dlarray(inputs["X"]), dlarray(inputs["T"])
    state = {"net": net, "avg": None, "avg_sq": None, "iteration": 0}

    def call():
        net = state["net"]
        loss, gradients, net.State = dlfeval(model_loss, net, X, T)
        state["iteration"] += 1
        state["net"], state["avg"], state["avg_sq"] = adamupdate(net, gradients, state["avg"], state["avg_sq"],
                                                                 state["iteration"])
        return loss, gradients

    def result(out):
        loss, gradients = out
        return float(np.asarray(loss.data)), training_gradients(case, [np.asarray(g.data) for g in gradients.Value])

    return call, result


FUNCTIONS = {
    "rosenbrock": rosenbrock_grad,
    "mlp": mlp_grad,
    "elementwise": elementwise_grad,
    "rnn": rnn_grad,
    "branchy": branchy_grad,
    "mlp_f32": mlp_f32_grad,
    "rosen_1e6": rosen_grad,
    "hvp_nested": rosen_hvp_nested,
    "cnn_slices": cnn_slices_grad,
    "cnn_conv": cnn_conv_grad,
    "loop1000": loop1000_grad,
}


def make(case, inputs):
    """A zero-argument callable for ``case`` and a function turning its result
    into ``(value, [gradients as ndarrays])``.

    The arguments are wrapped as dlarray once, outside the timed call, as a user
    holding parameters would; dlfeval's own unwrapping and wrapping are timed.
    """
    if case in ("train_cnn", "train_mlp"):
        return make_train(case, inputs)
    args = [dlarray(v) for v in inputs.values()]
    if case == "hvp":
        x, v = args

        def call():
            return sct.hvp(rosen, x, v)

        def result(out):
            return None, [np.asarray(out.data)]

        return call, result
    fun = FUNCTIONS[case]

    def call():
        return dlfeval(fun, *args)

    def result(out):
        if case == "hvp_nested":
            return None, [np.asarray(out.data)]
        value, *grads = out
        return float(np.asarray(value.data)), [np.asarray(g.data) for g in grads]

    return call, result


def make_fused(case, inputs):
    """``make`` with sct's fused backend (numexpr) switched on: sct.set_backend("numexpr")."""
    sct.set_backend("numexpr")
    return make(case, inputs)
