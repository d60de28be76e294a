"""The benchmark cases for JAX: jax.numpy + jax.value_and_grad, eager or jax.jit.

Run on the CPU in float64 (jax_enable_x64), so the numbers compare with the
float64 numpy reference.  Python control flow works in eager mode; under
jax.jit a branch on a traced value must be written with lax.cond, so the
"branchy" case has a second, jit-friendly version.
"""
import os

os.environ.setdefault("JAX_PLATFORMS", "cpu")

import jax  # noqa: E402
import jax.numpy as jnp  # noqa: E402
import numpy as np  # noqa: E402
from jax import lax  # noqa: E402

jax.config.update("jax_enable_x64", True)


def rosenbrock(x):
    return 100*(x[1] - x[0]**2)**2 + (1 - x[0])**2


def mlp_loss(W1, b1, W2, b2, X, T):
    H = jnp.tanh(X @ W1 + b1)
    Z = H @ W2 + b2
    Z = Z - jnp.max(Z, axis=1, keepdims=True)
    logp = Z - jnp.log(jnp.sum(jnp.exp(Z), axis=1, keepdims=True))
    return -jnp.sum(T * logp) / X.shape[0]


def elementwise(x):
    return jnp.sum(jnp.sin(x)*jnp.exp(-x**2) + jnp.log1p(x**2))


def rnn_loss(W, U, xs, h0):
    h = h0
    for t in range(xs.shape[0]):
        h = jnp.tanh(W @ h + U @ xs[t])
    return jnp.sum(h**2)


def branchy(x):
    y = x
    for i in range(40):
        if y > 1.0:
            y = 0.5*y + 0.3*jnp.sin(y)
        else:
            y = y*y + 0.25*jnp.cos(y) + 0.6
    return y


def branchy_jittable(x):
    y = x
    for i in range(40):
        y = lax.cond(y > 1.0,
                     lambda y: 0.5*y + 0.3*jnp.sin(y),
                     lambda y: y*y + 0.25*jnp.cos(y) + 0.6,
                     y)
    return y


def relu(x):
    return jnp.maximum(x, 0)


def softmax_cross_entropy(Z, T):
    Z = Z - jnp.max(Z, axis=1, keepdims=True)
    logp = Z - jnp.log(jnp.sum(jnp.exp(Z), axis=1, keepdims=True))
    return -jnp.sum(T * logp) / Z.shape[0]


def mlp_f32_loss(W1, b1, W2, b2, W3, b3, X, T):
    H = relu(X @ W1 + b1)
    H = relu(H @ W2 + b2)
    return softmax_cross_entropy(H @ W3 + b3, T)


def rosen(x):
    return jnp.sum(100*(x[1:] - x[:-1]**2)**2 + (1 - x[:-1])**2)


def cnn_head(Z, Wd, bd, T):
    P = jnp.mean(relu(Z), axis=(1, 2))
    return softmax_cross_entropy(P @ Wd + bd, T)


def cnn_slices_loss(K, bk, Wd, bd, X, T):
    Ho, Wo = X.shape[1] - 2, X.shape[2] - 2
    Z = bk
    for i in range(3):
        for j in range(3):
            Z = Z + X[:, i:i+Ho, j:j+Wo, :] * K[i, j]
    return cnn_head(Z, Wd, bd, T)


def cnn_conv_loss(K, bk, Wd, bd, X, T):
    Z = lax.conv_general_dilated(X, K, (1, 1), "VALID", dimension_numbers=("NHWC", "HWIO", "NHWC")) + bk
    return cnn_head(Z, Wd, bd, T)


def loop1000(x):
    y = x
    for i in range(1000):
        if y > 0.5:
            y = y - 0.02*jnp.sin(3*y) - 0.01
        else:
            y = y + 0.02*jnp.cos(y) + 0.01*y*y
    return y


def loop1000_jittable(x):
    def step(i, y):
        return lax.cond(y > 0.5,
                        lambda y: y - 0.02*jnp.sin(3*y) - 0.01,
                        lambda y: y + 0.02*jnp.cos(y) + 0.01*y*y,
                        y)
    return lax.fori_loop(0, 1000, step, x)


def hvp_forward_over_reverse(x, v):
    return jax.jvp(jax.grad(rosen), (x,), (v,))[1]


def hvp_reverse_over_reverse(x, v):
    return jax.grad(lambda x: jnp.vdot(jax.grad(rosen)(x), v))(x)


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
    "cnn_conv": (cnn_conv_loss, (0, 1, 2, 3)),
    "loop1000": (loop1000, 0),
}
JIT_FUNCTIONS = dict(FUNCTIONS, branchy=(branchy_jittable, 0), loop1000=(loop1000_jittable, 0))
HVP_FUNCTIONS = {"hvp": hvp_forward_over_reverse, "hvp_nested": hvp_reverse_over_reverse}


def make(case, inputs, jit=False):
    if case in ("train_cnn", "train_mlp"):
        raise NotImplementedError("the training steps are measured for numpy, sct and torch")
    if case in HVP_FUNCTIONS:
        hvp = jax.jit(HVP_FUNCTIONS[case]) if jit else HVP_FUNCTIONS[case]
        x, v = (jnp.asarray(a) for a in inputs.values())

        def call():
            return jax.block_until_ready(hvp(x, v))

        return call, lambda out: (None, [np.asarray(out)])
    fun, argnums = (JIT_FUNCTIONS if jit else FUNCTIONS)[case]
    vg = jax.value_and_grad(fun, argnums=argnums)
    if jit:
        vg = jax.jit(vg)
    args = [jnp.asarray(v) for v in inputs.values()]

    def call():
        return jax.block_until_ready(vg(*args))

    def result(out):
        value, grads = out
        if isinstance(argnums, int):
            grads = [grads]
        return float(value), [np.asarray(g) for g in grads]

    return call, result


def make_jit(case, inputs):
    return make(case, inputs, jit=True)
