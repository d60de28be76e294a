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


# case -> (function, argnums of the differentiated arguments)
FUNCTIONS = {
    "rosenbrock": (rosenbrock, 0),
    "mlp": (mlp_loss, (0, 1, 2, 3)),
    "elementwise": (elementwise, 0),
    "rnn": (rnn_loss, (0, 1)),
    "branchy": (branchy, 0),
}
JIT_FUNCTIONS = dict(FUNCTIONS, branchy=(branchy_jittable, 0))


def make(case, inputs, jit=False):
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
