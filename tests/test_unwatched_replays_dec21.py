"""A recomputation before a dlgradient that a later dlgradient differentiates again skips the capture of
the global random states where nothing sct did not compile can run (sct/recomputed.unwatched_replays):
``rt.replay_from(effects_start, False)``.  Known draws are still replayed from the log (the same noise
in both runs); where user code sct did not compile could draw, or an argument could hold a generator,
the check stays (an unseen draw is refused as before)."""
import numpy as np
import pytest

import sct
from sct import dlarray, dlfeval, dlgradient
from sct.errors import SctError


def model(p, X):
    h = np.tanh(X @ p["W1"] + p["b1"])
    return h @ p["W2"] + p["b2"]


def pinn_loss(p, X):
    U = model(p, X)
    gU = dlgradient(np.sum(U), X, EnableHigherDerivatives=True)
    f = gU[:, 1] + U[:, 0] * gU[:, 0]
    loss = np.mean(f ** 2)
    return loss, dlgradient(loss, p)


def noisy_second(x):
    noise = np.random.standard_normal(x.shape)          # a known draw: logged, replayed
    y = np.sum((x + noise) ** 3)
    g = dlgradient(y, x, EnableHigherDerivatives=True)
    return dlgradient(np.sum(g), x), noise


class Sampler:
    def draw(self, shape):
        return np.random.standard_normal(shape)


def opaque_second(x, sampler):
    y = np.sum((x + sampler.draw(x.shape)) ** 3)
    g = dlgradient(y, x, EnableHigherDerivatives=True)
    return dlgradient(np.sum(g), x)


def _params(rng):
    return {"W1": rng.standard_normal((2, 6)), "b1": np.zeros(6), "W2": rng.standard_normal((6, 1)),
            "b2": np.zeros(1)}


def test_plain_arguments_skip_the_watch_and_keep_the_numbers():
    rng = np.random.default_rng(0)
    p = _params(rng)
    X = rng.standard_normal((5, 2))
    text = str(sct.source(pinn_loss, {k: dlarray(v) for k, v in p.items()}, dlarray(X)))
    assert "replay_from(effects_start, False)" in text
    loss, grads = dlfeval(pinn_loss, {k: dlarray(v) for k, v in p.items()}, dlarray(X))

    def plain_loss(q):        # the same loss by central differences of X for the inner gradient
        def u(Xv):
            return np.tanh(Xv @ q["W1"] + q["b1"]) @ q["W2"] + q["b2"]
        h = np.tanh(X @ q["W1"] + q["b1"])
        dU = ((1 - h ** 2) * q["W2"][:, 0]) @ q["W1"].T        # d sum(U) / dX, exact
        f = dU[:, 1] + u(X)[:, 0] * dU[:, 0]
        return np.mean(f ** 2)

    np.testing.assert_allclose(float(loss.data), plain_loss(p), rtol=1e-12)
    eps = 1e-6
    for k in p:
        num = np.zeros_like(p[k])
        for i in np.ndindex(p[k].shape):
            up = {n: v.copy() for n, v in p.items()}
            dn = {n: v.copy() for n, v in p.items()}
            up[k][i] += eps
            dn[k][i] -= eps
            num[i] = (plain_loss(up) - plain_loss(dn)) / (2 * eps)
        np.testing.assert_allclose(grads[k].data, num, rtol=1e-5, atol=1e-7)


def test_known_draws_are_replayed():
    x = np.linspace(-1.0, 1.0, 4)
    assert "rt.replay_from(effects_start)" in str(sct.source(noisy_second, dlarray(x)))  # (rt.effect: watched)
    for seed in (1, 2):
        np.random.seed(seed)
        h, noise = dlfeval(noisy_second, dlarray(x))
        np.random.seed(seed)
        expected_noise = np.random.standard_normal(x.shape)
        after = np.random.standard_normal()
        np.testing.assert_array_equal(noise.data, expected_noise)
        np.testing.assert_allclose(h.data, 6 * (x + expected_noise), rtol=1e-12)
        np.random.seed(seed)
        dlfeval(noisy_second, dlarray(x))
        assert np.random.standard_normal() == after      # one draw in all: the recomputation replayed it


def test_user_objects_keep_the_watch():
    x = np.linspace(-1.0, 1.0, 4)
    text = str(sct.source(opaque_second, dlarray(x), Sampler()))
    assert "replay_from(effects_start, False)" not in text
    np.random.seed(0)
    try:
        h = dlfeval(opaque_second, dlarray(x), Sampler())
    except SctError:
        return                    # refused: the recomputation's draw was seen
    np.random.seed(0)
    noise = np.random.standard_normal(x.shape)
    np.testing.assert_allclose(h.data, 6 * (x + noise), rtol=1e-12)    # or replayed: the same noise



def test_a_library_call_keeps_the_watch():
    """scipy.stats' rvs draws from numpy's global generator (not a user function: the tree is not
    opaque); only calls of numpy, math, builtins and sct's own code drop the watch."""
    st = pytest.importorskip("scipy.stats")
    import sct.recomputed as recomputed

    def k(w):
        noise = st.norm.rvs(size=2)
        loss = np.sum(np.sin(w * (1 + noise)))
        g = dlgradient(loss, w)
        return g, dlgradient(np.sum(g ** 2), w)

    w = dlarray(np.array([0.3, -0.2]))
    assert "rt.replay_from(effects_start)" in str(sct.source(k, w))
    np.random.seed(0)
    with pytest.raises(SctError, match="drew random numbers"):
        dlfeval(k, w)
    assert recomputed._known_callee(np.sum) and recomputed._known_callee(np.exp)
    assert not recomputed._known_callee(np.random.standard_normal)
    assert not recomputed._known_callee(st.norm.rvs)
