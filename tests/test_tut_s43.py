"""Red team tut43 (s43): whole programs as tutorials and blog posts write them (attention, RNN/LSTM,
VAE, GMM, GP, PINN, neural ODE, REINFORCE, InfoNCE, soft k-means, flows), from scratch in numpy with
sct in place of autograd.  One test per finding; each failed before its fix."""
import numpy as np
import pytest

import sct
from sct import dlarray, dlfeval, dlgradient
from gradcheck import assert_close, numerical_gradient

RNG = np.random.default_rng(43)
HD = 3


def _sigmoid(z):
    return 1 / (1 + np.exp(-z))


# --- finding 1: a tuple target unpacking a generator expression was refused ------------------------
# ``i, f, o, g = (gates[:, k*H:(k+1)*H] for k in range(4))`` (an LSTM cell's gates, as tutorials split
# them) was refused as "a generator expression kept in a container or handed on".  Python's unpacking
# walks the generator once, whole, before it stores a target: the list sct builds is walked the same.

def lstm_gen_unpack(p, X, Y):
    B = X.shape[1]
    h = c = np.zeros((B, HD))
    total = 0
    for x_t, y_t in zip(X, Y):
        gates = np.hstack([x_t, h]) @ p["W"].T + p["b"]
        i, f, o, g = (gates[:, k * HD:(k + 1) * HD] for k in range(4))
        c = _sigmoid(f) * c + _sigmoid(i) * np.tanh(g)
        h = _sigmoid(o) * np.tanh(c)
        total = total + np.mean((h @ p["Wy"].T - y_t) ** 2)
    return total


def starred_gen_unpack(p, X, Y):
    a, *rest = (np.tanh(p["W"][k, :2] * X[0, 0]) for k in range(3))
    return np.sum(a) + sum(np.sum(r ** 2) for r in rest)


def short_gen_unpack(p, X, Y):
    a, b = (p["W"][k] for k in range(3))      # Python: too many values to unpack
    return np.sum(a * b)


def _lstm_model(loss):
    def model(p, X, Y):
        L = loss(p, X, Y)
        return L, dlgradient(L, p)
    return model


@pytest.mark.parametrize("loss", [lstm_gen_unpack, starred_gen_unpack])
@pytest.mark.parametrize("accelerate", [False, True])
def test_tuple_unpacking_of_a_generator_expression(loss, accelerate):
    p = {"W": RNG.standard_normal((4 * HD, 2 + HD)) * 0.4, "b": RNG.standard_normal(4 * HD) * 0.1,
         "Wy": RNG.standard_normal((2, HD)) * 0.5}
    X = RNG.standard_normal((4, 3, 2))
    Y = RNG.standard_normal((4, 3, 2))
    model = _lstm_model(loss)
    if accelerate:
        model = sct.accelerate(model)
    L, g = dlfeval(model, {k: dlarray(v) for k, v in p.items()}, X, Y)
    assert_close(L.data, loss(p, X, Y), rtol=1e-12)
    for k in p:
        def f(v, k=k):
            return loss(dict(p, **{k: v}), X, Y)
        assert_close(g[k].data, numerical_gradient(f, [p[k]], 0), rtol=1e-5, atol=1e-7, what=k)


def test_tuple_unpacking_of_a_too_long_generator_raises_as_python():
    p = {"W": RNG.standard_normal((4 * HD, 2 + HD))}
    with pytest.raises(ValueError, match="too many values to unpack"):
        short_gen_unpack(p, None, None)
    with pytest.raises(ValueError, match="too many values to unpack"):
        dlfeval(_lstm_model(short_gen_unpack), {"W": dlarray(p["W"])}, None, None)
