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


# (6) float32 MLP 784-512-512-10, relu, softmax cross-entropy -----------------------------------
def mlp_f32_grad(W1, b1, W2, b2, W3, b3, X, T):
    n = X.shape[0]
    A1 = X @ W1 + b1
    H1 = np.maximum(A1, 0)
    A2 = H1 @ W2 + b2
    H2 = np.maximum(A2, 0)
    Z = H2 @ W3 + b3
    Z = Z - Z.max(axis=1, keepdims=True)
    E = np.exp(Z)
    S = E.sum(axis=1, keepdims=True)
    loss = -np.sum(T * (Z - np.log(S))) / n
    dZ = (E / S * T.sum(axis=1, keepdims=True) - T) / n
    gW3 = H2.T @ dZ
    gb3 = dZ.sum(axis=0)
    dA2 = dZ @ W3.T
    dA2 *= A2 > 0
    gW2 = H1.T @ dA2
    gb2 = dA2.sum(axis=0)
    dA1 = dA2 @ W2.T
    dA1 *= A1 > 0
    gW1 = X.T @ dA1
    gb1 = dA1.sum(axis=0)
    return loss, [gW1, gb1, gW2, gb2, gW3, gb3]


# (7) extended Rosenbrock with slices, N = 1e6 --------------------------------------------------
def rosen_grad(x):
    u = x[:-1]
    a = x[1:] - u*u
    b = 1 - u
    y = np.sum(100*a*a + b*b)
    g = np.empty_like(x)
    g[:-1] = -400*a*u - 2*b
    g[-1] = 0
    g[1:] += 200*a
    return y, [g]


# (8) Hessian-vector product of the extended Rosenbrock (the same for both hvp cases) -----------
def rosen_hvp(x, v):
    # d/dt grad f(x + t v): a = x[1:] - x[:-1]**2, da = v[1:] - 2 x[:-1] v[:-1]
    u, vu = x[:-1], v[:-1]
    a = x[1:] - u*u
    da = v[1:] - 2*u*vu
    hv = np.empty_like(x)
    hv[:-1] = -400*(da*u + a*vu) + 2*vu
    hv[-1] = 0
    hv[1:] += 200*da
    return None, [hv]


# (9) CNN step: 3x3 convolution written with shifted slices, relu, mean-pool, dense -------------
def cnn_grad(K, bk, Wd, bd, X, T):
    n, kh, kw = X.shape[0], K.shape[0], K.shape[1]
    Ho, Wo = X.shape[1] - kh + 1, X.shape[2] - kw + 1
    Z = np.empty((n, Ho, Wo, K.shape[3]))
    Z[...] = bk
    for i in range(kh):
        for j in range(kw):
            Z += X[:, i:i+Ho, j:j+Wo, :] * K[i, j]
    H = np.maximum(Z, 0)
    P = H.mean(axis=(1, 2))
    L = P @ Wd + bd
    L = L - L.max(axis=1, keepdims=True)
    E = np.exp(L)
    S = E.sum(axis=1, keepdims=True)
    loss = -np.sum(T * (L - np.log(S))) / n
    dL = (E / S * T.sum(axis=1, keepdims=True) - T) / n
    gWd = P.T @ dL
    gbd = dL.sum(axis=0)
    dP = (dL @ Wd.T) / (Ho * Wo)
    dZ = (Z > 0) * dP[:, None, None, :]
    gbk = dZ.sum(axis=(0, 1, 2))
    gK = np.empty_like(K)
    dZ2 = dZ.reshape(-1, K.shape[3])
    for i in range(kh):
        for j in range(kw):
            gK[i, j] = X[:, i:i+Ho, j:j+Wo, :].reshape(-1, K.shape[2]).T @ dZ2
    return loss, [gK, gbk, gWd, gbd]


# (10) scalar loop of 1000 steps with a value-dependent branch (forward mode by hand) -----------
def loop1000_grad(x):
    y = float(x)
    dy = 1.0
    for i in range(1000):
        if y > 0.5:
            y, dy = y - 0.02*np.sin(3*y) - 0.01, (1 - 0.06*np.cos(3*y))*dy
        else:
            y, dy = y + 0.02*np.cos(y) + 0.01*y*y, (1 - 0.02*np.sin(y) + 0.02*y)*dy
    return y, [np.array(dy)]


# (11) training steps: forward, backward and an Adam update, written by hand ---------------------
def _conv3x3_same(X, W, b):
    """'same' 3x3 convolution, channels last, as im2col + one matmul; returns Z and the columns."""
    n, h, w, c = X.shape
    P = np.zeros((n, h + 2, w + 2, c), X.dtype)
    P[:, 1:-1, 1:-1, :] = X
    cols = np.concatenate([P[:, i:i + h, j:j + w, :] for i in range(3) for j in range(3)], axis=3)
    cols = cols.reshape(n * h * w, 9 * c)
    Z = cols @ W.reshape(9 * c, -1) + b
    return Z.reshape(n, h, w, -1), cols


def _conv3x3_same_input_adjoint(dZ, W, x_shape):
    n, h, w, c = x_shape
    dcols = (dZ.reshape(n * h * w, -1) @ W.reshape(9 * c, -1).T).reshape(n, h, w, 9, c)
    dP = np.zeros((n, h + 2, w + 2, c), dZ.dtype)
    for i in range(3):
        for j in range(3):
            dP[:, i:i + h, j:j + w, :] += dcols[:, :, :, 3 * i + j, :]
    return dP[:, 1:-1, 1:-1, :]


def _batchnorm_train(Z, offset, scale, eps=1e-5):
    mu = Z.mean(axis=(0, 1, 2))
    centered = Z - mu
    var = (centered * centered).mean(axis=(0, 1, 2))
    inv = 1 / np.sqrt(var + eps)
    xhat = centered * inv
    return scale * xhat + offset, (xhat, inv, mu, var)


def _batchnorm_adjoint(dY, scale, saved):
    xhat, inv, _, _ = saved
    doffset = dY.sum(axis=(0, 1, 2))
    dscale = (dY * xhat).sum(axis=(0, 1, 2))
    m = dY.size // dY.shape[-1]
    dZ = (scale * inv / m) * (m * dY - doffset - xhat * dscale)
    return dZ, doffset, dscale


def _maxpool2(H):
    n, h, w, c = H.shape
    H6 = H.reshape(n, h // 2, 2, w // 2, 2, c)
    M = H6.max(axis=(2, 4))
    return M, H6


def _maxpool2_adjoint(dM, M, H6):
    # ties happen only between zeros of the relu before the pooling, whose derivative is zero anyway
    mask = H6 == M[:, :, None, :, None, :]
    return (mask * dM[:, :, None, :, None, :]).reshape(H6.shape[0], H6.shape[1] * 2, H6.shape[3] * 2, -1)


def cnn_train_grad(W1, b1, offset1, scale1, W2, b2, offset2, scale2, Wf, bf, X, T):
    """The CNN's loss, gradients and batch statistics (mean and biased variance per block)."""
    n = X.shape[0]
    Z1, cols1 = _conv3x3_same(X, W1, b1)
    Y1, bn1 = _batchnorm_train(Z1, offset1, scale1)
    H1 = np.maximum(Y1, 0)
    M1, H1_6 = _maxpool2(H1)
    Z2, cols2 = _conv3x3_same(M1, W2, b2)
    Y2, bn2 = _batchnorm_train(Z2, offset2, scale2)
    H2 = np.maximum(Y2, 0)
    M2, H2_6 = _maxpool2(H2)
    F = M2.reshape(n, -1)
    L = F @ Wf.T + bf
    L = L - L.max(axis=1, keepdims=True)
    E = np.exp(L)
    S = E.sum(axis=1, keepdims=True)
    loss = -np.sum(T * (L - np.log(S))) / n
    dL = (E / S * T.sum(axis=1, keepdims=True) - T) / n
    gWf = dL.T @ F
    gbf = dL.sum(axis=0)
    dM2 = (dL @ Wf).reshape(M2.shape)
    dY2 = _maxpool2_adjoint(dM2, M2, H2_6) * (Y2 > 0)
    dZ2, goffset2, gscale2 = _batchnorm_adjoint(dY2, scale2, bn2)
    dZ2m = dZ2.reshape(-1, dZ2.shape[-1])
    gW2 = (cols2.T @ dZ2m).reshape(W2.shape)
    gb2 = dZ2m.sum(axis=0)
    dM1 = _conv3x3_same_input_adjoint(dZ2, W2, M1.shape)
    dY1 = _maxpool2_adjoint(dM1, M1, H1_6) * (Y1 > 0)
    dZ1, goffset1, gscale1 = _batchnorm_adjoint(dY1, scale1, bn1)
    dZ1m = dZ1.reshape(-1, dZ1.shape[-1])
    gW1 = (cols1.T @ dZ1m).reshape(W1.shape)
    gb1 = dZ1m.sum(axis=0)
    stats = [(bn1[2], bn1[3], Z1[..., 0].size), (bn2[2], bn2[3], Z2[..., 0].size)]
    return loss, [gW1, gb1, goffset1, gscale1, gW2, gb2, goffset2, gscale2, gWf, gbf], stats


def mlp_train_grad(W1, b1, W2, b2, W3, b3, X, T):
    """784-512-512-10 relu MLP with (out, in) weights: loss and gradients."""
    n = X.shape[0]
    Z1 = X @ W1.T + b1
    H1 = np.maximum(Z1, 0)
    Z2 = H1 @ W2.T + b2
    H2 = np.maximum(Z2, 0)
    L = H2 @ W3.T + b3
    L = L - L.max(axis=1, keepdims=True)
    E = np.exp(L)
    S = E.sum(axis=1, keepdims=True)
    loss = -np.sum(T * (L - np.log(S))) / n
    dL = (E / S * T.sum(axis=1, keepdims=True) - T) / n
    gW3 = dL.T @ H2
    gb3 = dL.sum(axis=0)
    dZ2 = (dL @ W3) * (Z2 > 0)
    gW2 = dZ2.T @ H1
    gb2 = dZ2.sum(axis=0)
    dZ1 = (dZ2 @ W2) * (Z1 > 0)
    gW1 = dZ1.T @ X
    gb1 = dZ1.sum(axis=0)
    return loss, [gW1, gb1, gW2, gb2, gW3, gb3]


def adam_step(params, grads, m, v, t, lr=1e-3, beta1=0.9, beta2=0.999, eps=1e-8):
    """MATLAB's adamupdate (and torch.optim.Adam's formula), in place on the lists."""
    rate = float(lr * np.sqrt(1 - beta2 ** t) / (1 - beta1 ** t))   # a Python float keeps float32
    for k, (p, g) in enumerate(zip(params, grads)):
        m[k] *= beta1
        m[k] += (1 - beta1) * g
        v[k] *= beta2
        v[k] += (1 - beta2) * (g * g)
        p -= rate * m[k] / (np.sqrt(v[k]) + eps)


def make_train(case, inputs):
    """One training step per call: gradients, running statistics (CNN), Adam, continuing from the
    last call; returns the loss and the gradients of this step."""
    args = [np.array(a) for a in inputs.values()]
    params, X, T = args[:-2], args[-2], args[-1]
    m = [np.zeros_like(p) for p in params]
    v = [np.zeros_like(p) for p in params]
    running = [np.zeros(params[2].shape, X.dtype), np.ones(params[2].shape, X.dtype),
               np.zeros(params[6].shape, X.dtype), np.ones(params[6].shape, X.dtype)] if case == "train_cnn" else []
    step = [0]

    def call():
        if case == "train_cnn":
            loss, grads, stats = cnn_train_grad(*params, X, T)
            for k, (mu, var, count) in enumerate(stats):   # MATLAB's decay 0.1, unbiased variance
                running[2 * k] *= 0.9
                running[2 * k] += 0.1 * mu
                running[2 * k + 1] *= 0.9
                running[2 * k + 1] += (0.1 * count / (count - 1)) * var
        else:
            loss, grads = mlp_train_grad(*params, X, T)
        step[0] += 1
        adam_step(params, grads, m, v, step[0])
        return loss, grads

    def result(out):
        value, grads = out
        return float(value), [np.asarray(g) for g in grads]

    return call, result


FUNCTIONS = {
    "rosenbrock": rosenbrock_grad,
    "mlp": mlp_grad,
    "elementwise": elementwise_grad,
    "rnn": rnn_grad,
    "branchy": branchy_grad,
    "mlp_f32": mlp_f32_grad,
    "rosen_1e6": rosen_grad,
    "hvp": rosen_hvp,
    "hvp_nested": rosen_hvp,
    "cnn_slices": cnn_grad,
    "cnn_conv": cnn_grad,
    "loop1000": loop1000_grad,
}


def make(case, inputs):
    if case in ("train_cnn", "train_mlp"):
        return make_train(case, inputs)
    fun = FUNCTIONS[case]
    args = list(inputs.values())

    def call():
        return fun(*args)

    def result(out):
        value, grads = out
        return (None if value is None else float(value)), [np.asarray(g) for g in grads]

    return call, result
