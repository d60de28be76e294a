"""MATLAB's optimizer steps (runtime.optim): each formula on hand-computed values, every kind of
nested structure, dlarray in -> dlarray out, and a small training loop whose loss falls."""
from __future__ import annotations

import dataclasses
from collections import namedtuple

import numpy as np
import pytest

import sct
from sct import (adamupdate, dlarray, dlfeval, dlgradient, dlupdate, fullyconnect, l2loss, relu,
                 rmspropupdate, sgdmupdate)
from sct.runtime import optim

try:
    from tests.gradcheck import assert_close
except ImportError:                      # run as plain `pytest` from inside tests/
    from gradcheck import assert_close


def test_sgdmupdate_formula_and_defaults():
    p = dlarray([1.0, -2.0])
    g = dlarray([0.5, 1.0])
    p1, v1 = sgdmupdate(p, g, None)                 # vel = [] -> zeros; learnRate 0.01, momentum 0.9
    assert isinstance(p1, dlarray) and isinstance(v1, dlarray)
    assert_close(v1.data, [-0.005, -0.01], 1e-15, 1e-15)
    assert_close(p1.data, [0.995, -2.01], 1e-15, 1e-15)
    p2, v2 = sgdmupdate(p1, g, v1)
    assert_close(v2.data, [0.9 * -0.005 - 0.005, 0.9 * -0.01 - 0.01], 1e-15, 1e-15)
    assert_close(p2.data, p1.data + v2.data, 1e-15, 1e-15)
    p3, v3 = sgdmupdate(p, g, None, 0.1, 0.5)
    assert_close(v3.data, [-0.05, -0.1], 1e-15, 1e-15)
    p4, v4 = sgdmupdate(p, g, dlarray([1.0, 1.0]), learnRate=0.1, momentum=0.5)
    assert_close(v4.data, [0.45, 0.4], 1e-15, 1e-15)
    assert_close(p4.data, [1.45, -1.6], 1e-15, 1e-15)


def test_adamupdate_formula_and_defaults():
    p = np.array([1.0, -2.0, 0.5])
    g = np.array([0.1, -0.3, 2.0])
    p1, m1, v1 = adamupdate(p, g, None, None, 1)
    m = 0.1 * g
    v = 0.001 * g ** 2
    rate = 0.001 * np.sqrt(1 - 0.999) / (1 - 0.9)
    assert_close(m1, m, 1e-13, 1e-16)
    assert_close(v1, v, 1e-13, 1e-16)
    assert_close(p1, p - rate * m / (np.sqrt(v) + 1e-8), 1e-14, 1e-16)
    assert not isinstance(p1, dlarray)                  # plain arrays stay plain
    # second step, all options positional (MATLAB's order)
    g2 = np.array([0.2, 0.1, -1.0])
    p2, m2, v2 = adamupdate(p1, g2, m1, v1, 2, 0.01, 0.8, 0.99, 1e-6)
    m_ = 0.8 * m1 + 0.2 * g2
    v_ = 0.99 * v1 + 0.01 * g2 ** 2
    rate = 0.01 * np.sqrt(1 - 0.99 ** 2) / (1 - 0.8 ** 2)
    assert_close(m2, m_, 1e-13, 1e-16)
    assert_close(v2, v_, 1e-13, 1e-16)
    assert_close(p2, p1 - rate * m_ / (np.sqrt(v_) + 1e-6), 1e-14, 1e-16)
    # The first Adam step moves each parameter by about learnRate, against its gradient's sign.
    assert_close(p - p1, 0.001 * np.sign(g), 1e-4, 1e-9)
    with pytest.raises(ValueError):
        adamupdate(p, g, None, None, 0)


def test_rmspropupdate_formula_and_defaults():
    p = dlarray([[1.0, 2.0]])
    g = dlarray([[0.4, -0.2]])
    p1, s1 = rmspropupdate(p, g, None)
    s = 0.1 * g.data ** 2
    assert_close(s1.data, s, 1e-13, 1e-16)
    assert_close(p1.data, p.data - 0.001 * g.data / (np.sqrt(s) + 1e-8), 1e-14, 1e-16)
    p2, s2 = rmspropupdate(p1, g, s1, 0.01, 0.5, 1e-4)
    s_ = 0.5 * s1.data + 0.5 * g.data ** 2
    assert_close(s2.data, s_, 1e-13, 1e-16)
    assert_close(p2.data, p1.data - 0.01 * g.data / (np.sqrt(s_) + 1e-4), 1e-14, 1e-16)
    assert isinstance(p2, dlarray) and isinstance(s2, dlarray)


@dataclasses.dataclass
class Dense:
    W: np.ndarray
    b: np.ndarray
    name: str = "dense"


class Net:
    def __init__(self, layers, scale):
        self.layers = layers
        self.scale = scale
        self.label = "net"


Pair = namedtuple("Pair", ["w", "b"])


def _structures():
    a, b, c, d = (np.arange(3.0) + k for k in range(4))
    return {
        "dict": ({"w": a, "b": b}, {"w": c, "b": d}),
        "list": ([a, [b]], [c, [d]]),
        "tuple": ((a, b), (c, d)),
        "namedtuple": (Pair(a, b), Pair(c, d)),
        "dataclass": (Dense(a, b), Dense(c, d, name="grad")),
        "object": (Net([Dense(a, b)], c), Net([Dense(c, d)], a)),
    }


def _leaves(tree):
    out = []
    optim.tree_map(lambda x: out.append(np.asarray(getattr(x, "data", x))), tree)
    return out


@pytest.mark.parametrize("kind", list(_structures()))
def test_updates_walk_any_structure(kind):
    params, grads = _structures()[kind]
    new, vel = sgdmupdate(params, grads, None, 0.1, 0.9)
    assert type(new) is type(params) and type(vel) is type(params)
    for p, g, n, v in zip(_leaves(params), _leaves(grads), _leaves(new), _leaves(vel)):
        assert_close(v, -0.1 * g, 1e-15, 1e-15)
        assert_close(n, p - 0.1 * g, 1e-15, 1e-15)
    new2, m, s = adamupdate(new, grads, None, None, 1)
    assert len(_leaves(new2)) == len(_leaves(params)) == len(_leaves(m)) == len(_leaves(s))
    new3, s3 = rmspropupdate(new2, grads, None)
    assert len(_leaves(new3)) == len(_leaves(params))
    if kind == "dataclass":
        assert new.name == "dense"                     # non-array fields kept from the parameters
    if kind == "object":
        assert new is not params and new.label == "net" and isinstance(new.layers[0], Dense)
        assert params.layers[0].W[0] == 0.0            # the input is not modified


def test_dlupdate_one_and_several_outputs():
    params = {"w": dlarray([1.0, 2.0]), "b": [dlarray(3.0)]}
    grads = {"w": dlarray([0.5, 0.5]), "b": [dlarray(1.0)]}

    def l2reg(p, g):
        return g + 0.1 * p
    out = dlupdate(l2reg, params, grads)
    assert_close(out["w"].data, [0.6, 0.7], 1e-15, 1e-15)
    assert_close(out["b"][0].data, 1.3, 1e-15, 1e-15)
    assert isinstance(out["w"], dlarray)

    def sgd_with_state(p, g, count):
        count = 0 if count is None else count
        return p - 0.5 * g, count + 1
    newp, counts = dlupdate(sgd_with_state, params, grads, None)
    assert_close(newp["w"].data, [0.75, 1.75], 1e-15, 1e-15)
    assert counts == {"w": 1, "b": [1]}
    doubled = dlupdate(lambda p: 2 * p, params)
    assert_close(doubled["b"][0].data, 6.0)


def test_dlupdate_equals_sgd_step():
    params = [np.array([1.0, 2.0]), np.array([[3.0]])]
    grads = [np.array([0.1, 0.2]), np.array([[1.0]])]
    by_dlupdate = dlupdate(lambda p, g: p - 0.01 * g, params, grads)
    by_sgdm, _ = sgdmupdate(params, grads, None, 0.01, 0.0)
    for a, b in zip(by_dlupdate, by_sgdm):
        assert_close(a, b, 1e-15, 1e-15)


def test_state_none_with_mismatched_structures_is_refused_clearly():
    with pytest.raises(TypeError, match="cannot update"):
        sgdmupdate({"w": "not an array"}, {"w": "x"}, None)


def model_loss(params, x, t):
    h = relu(fullyconnect(x, params["fc1"]["W"], params["fc1"]["b"]))
    y = fullyconnect(h, params["fc2"]["W"], params["fc2"]["b"])
    loss = l2loss(y, t)
    gradients = dlgradient(loss, params)
    return loss, gradients


@pytest.mark.parametrize("optimizer", ["sgdm", "adam", "rmsprop"])
def test_custom_training_loop_loss_falls(optimizer):
    rng = np.random.default_rng(5)
    x = rng.standard_normal((64, 3))
    t = np.stack([np.sin(x[:, 0]) + x[:, 1] * x[:, 2], np.cos(x[:, 1])], axis=1)
    params = {"fc1": {"W": dlarray(rng.standard_normal((16, 3)) * 0.5), "b": dlarray(np.zeros(16))},
              "fc2": {"W": dlarray(rng.standard_normal((2, 16)) * 0.3), "b": dlarray(np.zeros(2))}}
    state1 = state2 = None
    losses = []
    for iteration in range(1, 151):
        loss, gradients = dlfeval(model_loss, params, dlarray(x), t)
        losses.append(float(loss))
        if optimizer == "sgdm":
            params, state1 = sgdmupdate(params, gradients, state1, 0.01)
        elif optimizer == "adam":
            params, state1, state2 = adamupdate(params, gradients, state1, state2, iteration, 0.02)
        else:
            params, state1 = rmspropupdate(params, gradients, state1, 0.005)
    assert losses[-1] < 0.35 * losses[0], (losses[0], losses[-1])
    assert isinstance(params["fc1"]["W"], dlarray) and isinstance(state1["fc2"]["b"], dlarray)


def test_exported():
    for name in optim.__all__:
        assert getattr(sct, name) is getattr(optim, name)
        assert name in sct.__all__


def cnn_loss(params, state, x, t):
    y = sct.dlconv(x, params["conv"]["W"], params["conv"]["b"], Padding="same")
    y, mu, var = sct.batchnorm(y, params["bn"]["offset"], params["bn"]["scale"], state["mu"], state["var"],
                               nargout=3)
    y = sct.maxpool(relu(y), 2, Stride=2)
    y = sct.dropout(y, Probability=0.1, rng=state["seed"])
    y = np.reshape(y, (np.shape(y)[0], -1))
    p = sct.softmax(fullyconnect(y, params["fc"]["W"], params["fc"]["b"]))
    loss = sct.crossentropy(p, t)
    return loss, dlgradient(loss, params), {"mu": mu, "var": var, "seed": state["seed"] + 1}


def test_small_cnn_trains_with_adam():
    rng = np.random.default_rng(0)
    n = 32
    labels = rng.integers(0, 2, n)
    x = rng.standard_normal((n, 6, 6, 1)) * 0.3
    for i, lab in enumerate(labels):                  # class 0: a horizontal bar, class 1: a vertical bar
        k = rng.integers(1, 5)
        if lab:
            x[i, :, k, 0] += 1.5
        else:
            x[i, k, :, 0] += 1.5
    t = np.eye(2)[labels]
    params = {"conv": {"W": dlarray(rng.standard_normal((3, 3, 1, 4)) * 0.3), "b": dlarray(np.zeros(4))},
              "bn": {"offset": dlarray(np.zeros(4)), "scale": dlarray(np.ones(4))},
              "fc": {"W": dlarray(rng.standard_normal((2, 36)) * 0.1), "b": dlarray(np.zeros(2))}}
    state = {"mu": np.zeros(4), "var": np.ones(4), "seed": 0}
    avg = avg_sq = None
    losses = []
    for iteration in range(1, 41):
        loss, grads, state = dlfeval(cnn_loss, params, state, dlarray(x), t)
        params, avg, avg_sq = adamupdate(params, grads, avg, avg_sq, iteration, 0.05)
        losses.append(float(loss))
    assert losses[-1] < 0.3 * losses[0], (losses[0], losses[-1])
    assert not np.allclose(np.asarray(state["var"]), 1.0)      # running statistics were updated
