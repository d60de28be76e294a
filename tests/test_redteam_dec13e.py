"""Red team, Dec 13 (e): training loops ported from MATLAB (dicts, nested lists, dlnetwork tables with
batch-norm state, custom layers, dlfeval and dlaccelerate over many iterations with varying minibatches,
learning-rate schedules, hand-written clipping and weight decay, float32), each iteration's loss,
gradients, parameters and optimizer state checked against plain numpy.

Found: adamupdate and rmspropupdate took complex parameters and squared the gradient as ``g*g`` (not
``|g|^2`` nor per part): an imaginary gradient ``0.5i`` gave a negative "squared" average ``-0.25``, whose
square root is imaginary, so the step moved the REAL part of the parameter (silently wrong; now refused);
sgdmupdate cast a complex gradient of a real parameter to real (a ComplexWarning, the imaginary part lost;
now refused); an optimizer state given as a number for a structure of parameters failed with "'int'
object is not subscriptable" from inside the walk (now a clear TypeError).
"""
import sys
import os

import numpy as np
import pytest

sys.path.insert(0, os.path.dirname(__file__))
from gradcheck import assert_close, numerical_gradient  # noqa: E402

import sct  # noqa: E402
from sct import (adamupdate, batchNormalizationLayer, dlaccelerate, dlarray, dlfeval, dlgradient,  # noqa: E402
                 dlnetwork, dlupdate, extractdata, featureInputLayer, forward, fullyConnectedLayer,
                 reluLayer, rmspropupdate, sgdmupdate)


def _np(v):
    return np.asarray(extractdata(v)) if isinstance(v, dlarray) else np.asarray(v)


# --- complex parameters in Adam / RMSProp ------------------------------------------------------------


def test_adam_and_rmsprop_refuse_complex_parameters():
    p = {"w": dlarray(np.array([1 + 1j, 2.0]))}
    g = {"w": dlarray(np.array([0.5j, 1.0]))}
    with pytest.raises(TypeError, match="adamupdate: complex"):
        adamupdate(p, g, None, None, 1, 0.1)
    with pytest.raises(TypeError, match="rmspropupdate: complex"):
        rmspropupdate(p, g, None, 0.1)
    for plain in (np.array([1 + 1j, 2.0]), dlarray(np.array([1 + 1j, 2.0]))):      # the fast paths too
        for state in (None, dlarray(np.zeros(2, complex))):
            with pytest.raises(TypeError, match="complex"):
                adamupdate(plain, dlarray(np.array([0.5j, 1.0])), state, state, 2)


def test_adam_refuses_a_complex_gradient_of_a_real_parameter():
    with pytest.raises(TypeError, match="complex gradient for a real parameter"):
        adamupdate(np.array([1.0, 2.0]), np.array([1j, 1.0]), None, None, 1)
    with pytest.raises(TypeError, match="complex gradient for a real parameter"):
        sgdmupdate(np.array([1.0, 2.0]), np.array([1j, 1.0]), None, 0.1)


def test_sgdm_with_complex_parameters_moves_each_part_by_its_gradient():
    """sgdm is linear: with sct's convention (gradient dL/dRe + i dL/dIm) each part descends on its own."""
    z0 = np.array([1 + 1j, -0.5 + 2j])
    c = np.array([0.3 - 0.2j, 1.0 + 0.5j])

    def loss_fn(z):
        d = z - c
        loss = np.sum(np.real(d * np.conj(d)))
        return loss, dlgradient(loss, z)
    z, vel, Z, V = dlarray(z0), None, z0.copy(), np.zeros(2, complex)
    for it in range(1, 6):
        loss, g = dlfeval(loss_fn, z)
        G = 2 * (Z - c)
        assert_close(_np(g), G, 1e-12, 1e-12)
        z, vel = sgdmupdate(z, g, vel, 0.1, 0.5)
        V = 0.5 * V - 0.1 * G
        Z = Z + V
        assert_close(_np(z), Z, 1e-12, 1e-12)


@pytest.mark.parametrize("update", ["adam", "sgdm", "rms"])
def test_a_number_as_the_state_of_a_structure_is_a_clear_error(update):
    p = {"w": dlarray(np.array([1.0, 2.0, 3.0]))}
    g = {"w": dlarray(np.array([0.1, -0.2, 0.3]))}
    with pytest.raises(TypeError, match="start an optimizer state with None"):
        if update == "adam":
            adamupdate(p, g, 0, 0, 1)
        elif update == "sgdm":
            sgdmupdate(p, g, 0)
        else:
            rmspropupdate(p, g, 0)


# --- a stateful custom layer whose forward forgot its state ----------------------------------------


class _MeanNorm(sct.Layer):
    learnables = ("G",)
    state = ("Mean",)

    def __init__(self, n, Name="norm"):
        self.G = np.linspace(0.5, 1.5, n)
        self.Mean = np.zeros(n)
        self.Name = Name

    def predict(self, X):
        return self.G * (X - self.Mean), self.Mean

    def forward(self, X):
        mu = np.mean(X, axis=0)
        return self.G * (X - mu), 0.9 * self.Mean + 0.1 * extractdata(mu)


class _ForgotState(_MeanNorm):
    def forward(self, X):                        # MATLAB's [Z, state] = forward(...) ported without state
        mu = np.mean(X, axis=0)
        return self.G * (X - mu)


class _PredictForgotState(_MeanNorm):
    def predict(self, X):
        return self.G * (X - self.Mean)


def _net_loss(net, X):
    Y, state = forward(net, X)
    loss = np.sum(Y ** 2)
    return loss, dlgradient(loss, net.Learnables), state


def test_a_stateful_layers_forward_returning_one_array_is_refused():
    """Was: with a batch of 2 the array was read as (Z, state): Z's first row went on (a loss of one
    output for two observations) and its second row became the state, silently."""
    net = dlnetwork([featureInputLayer(3), fullyConnectedLayer(2), _ForgotState(2), fullyConnectedLayer(1)],
                    Seed=0)
    X = np.random.default_rng(0).standard_normal((2, 3))
    for fn in (_net_loss, dlaccelerate(_net_loss)):
        with pytest.raises(Exception, match=r"_ForgotState.forward .*returned one value.*\(Z, Mean\)"):
            dlfeval(fn, net, X)
    with pytest.raises(TypeError, match=r"_ForgotState.forward .*returned one value"):
        forward(net, X)
    with pytest.raises(TypeError, match=r"_PredictForgotState.predict .*returned one value"):
        dlnetwork([featureInputLayer(3), fullyConnectedLayer(2), _PredictForgotState(2),
                   fullyConnectedLayer(1)], Seed=0)


def test_training_a_network_with_a_stateful_custom_layer_matches_numpy():
    """sgdm over iterations of minibatches of varying size; loss, gradients (finite differences), the
    state assigned back and the parameters checked against plain numpy at every iteration."""
    rng = np.random.default_rng(10)

    def model_loss(net, X, T, it):
        Y, state = forward(net, X)
        loss = np.sum((Y - T) ** 2) / X.shape[0]
        if it > 3:
            loss = loss * 2
        return loss, dlgradient(loss, net.Learnables), state
    for accelerated in (False, True):
        net = dlnetwork([featureInputLayer(3), fullyConnectedLayer(2), _MeanNorm(2), fullyConnectedLayer(1)],
                        Seed=0)
        P = [np.array(extractdata(v), float) for v in net.Learnables.Value]
        mean, vel, V = np.zeros(2), None, [0 * p for p in P]
        fn = dlaccelerate(model_loss) if accelerated else model_loss
        for it in range(1, 7):
            n = [3, 7, 2][it % 3]
            X, T = rng.standard_normal((n, 3)), rng.standard_normal((n, 1))

            def ref(P):
                W1, b1, G, W2, b2 = P
                z = X @ W1.T + b1
                mu = z.mean(0)
                y = (G * (z - mu)) @ W2.T + b2
                return np.sum((y - T) ** 2) / n * (2 if it > 3 else 1), mu
            loss, g, state = dlfeval(fn, net, X, T, it)
            L, mu = ref(P)
            assert_close(float(extractdata(loss)), L, 1e-10, 1e-12)
            for i in range(len(P)):
                G = numerical_gradient(lambda q: ref(P[:i] + [q] + P[i + 1:])[0], [P[i]], 0)
                assert_close(_np(g.Value[i]), G, 1e-5, 1e-7, f"iteration {it}, parameter {i}")
            mean = 0.9 * mean + 0.1 * mu
            net.State = state
            assert_close(_np(net.State.Value[0]), mean, 1e-12, 1e-14)
            net, vel = sgdmupdate(net, g, vel, 0.05)
            for i in range(len(P)):
                V[i] = 0.9 * V[i] - 0.05 * _np(g.Value[i])
                P[i] = P[i] + V[i]
                assert_close(_np(net.Learnables.Value[i]), P[i], 1e-12, 1e-14)


# --- hyperparameters as MATLAB's 1-by-1 arrays -------------------------------------------------------


@pytest.mark.parametrize("rate", [np.array([0.1]), np.array([[0.1]]), dlarray(np.array([[0.1]]))])
def test_one_element_hyperparameters_are_scalars(rate):
    """Was: a (1, 1) learnRate (what scipy.io.loadmat gives for a MATLAB scalar) made each parameter of
    shape (3,) come back as (1, 3) from sgdmupdate and rmspropupdate, silently; adamupdate failed with
    numpy's "only 0-dimensional arrays can be converted to Python scalars"."""
    P = np.array([1.0, 2.0, 3.0], np.float32)
    G = np.array([0.1, -0.2, 0.3], np.float32)
    p, g = {"w": dlarray(P)}, {"w": dlarray(G)}
    P64, G64 = P.astype(float), G.astype(float)
    cases = [(sgdmupdate(p, g, None, rate, np.array([[0.9]]))[0], P64 - 0.1 * G64),
             (rmspropupdate(p, g, None, rate)[0], P64 - 0.1 * G64 / (np.sqrt(0.1 * G64 ** 2) + 1e-8)),
             (adamupdate(p, g, None, None, np.array([[1]]), rate)[0],
              P64 - 0.1 * np.sqrt(0.001) / 0.1 * (0.1 * G64) / (np.sqrt(0.001 * G64 ** 2) + 1e-8))]
    for out, ref in cases:
        got = _np(out["w"])
        assert got.shape == (3,) and got.dtype == np.float32
        assert_close(got, ref, 1e-5, 1e-6)
    with pytest.raises(ValueError, match="learnRate must be a scalar"):
        sgdmupdate(p, g, None, np.array([0.1, 0.2, 0.3]))


# --- whole training loops against numpy (these passed; kept as regression checks) ---------------------


def _mlp_loss(params, x, t, wd, clip, it):
    h = np.maximum(x @ params["w1"].T + params["b1"], 0)
    if it % 3 == 0:                                     # a branch on the iteration number
        h = h * 0.5
    y = h @ params["w2"].T + params["b2"]
    loss = np.sum((y - t) ** 2) / x.shape[0]
    reg = 0
    for k in params:
        if k.startswith("w"):
            reg = reg + np.sum(params[k] ** 2)
    loss = loss + 0.5 * wd * reg
    g = dlgradient(loss, params)
    norm = np.sqrt(sum([np.sum(v ** 2) for v in g.values()]))
    if norm > clip:                                     # clipping by the global norm, by hand
        g = {k: v * (clip / norm) for k, v in g.items()}
    return loss, g


def _mlp_reference(P, x, t, wd, clip, it):
    z1 = x @ P["w1"].T + P["b1"]
    s = 0.5 if it % 3 == 0 else 1.0
    h = np.maximum(z1, 0) * s
    y = h @ P["w2"].T + P["b2"]
    n = x.shape[0]
    loss = np.sum((y - t) ** 2) / n + 0.5 * wd * (np.sum(P["w1"] ** 2) + np.sum(P["w2"] ** 2))
    dy = 2 * (y - t) / n
    G = {"w2": dy.T @ h + wd * P["w2"], "b2": dy.sum(0)}
    dh = (dy @ P["w2"]) * s * (z1 > 0)
    G["w1"] = dh.T @ x + wd * P["w1"]
    G["b1"] = dh.sum(0)
    norm = np.sqrt(sum(np.sum(v ** 2) for v in G.values()))
    if norm > clip:
        G = {k: v * (clip / norm) for k, v in G.items()}
    return loss, G


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("accelerated", [False, True])
def test_adam_training_loop_of_a_dict_mlp_matches_numpy(dtype, accelerated):
    rng = np.random.default_rng(0)
    P0 = {"w1": rng.standard_normal((5, 3)).astype(dtype), "b1": np.full(5, 0.1, dtype),
          "w2": rng.standard_normal((2, 5)).astype(dtype), "b2": np.zeros(2, dtype)}
    params = {k: dlarray(v.copy()) for k, v in P0.items()}
    P = {k: v.astype(np.float64) for k, v in P0.items()}
    M = {k: 0 * v for k, v in P.items()}
    V = {k: 0 * v for k, v in P.items()}
    fn = dlaccelerate(_mlp_loss) if accelerated else _mlp_loss
    avg = avg_sq = None
    tol = 1e-3 if dtype == np.float32 else 1e-9
    for it in range(1, 11):
        n = [4, 7, 1, 9][it % 4]                        # minibatches of varying size
        x = rng.standard_normal((n, 3)).astype(dtype)
        t = rng.standard_normal((n, 2)).astype(dtype)
        lr = 0.05 * 0.9 ** (it // 4)                    # a step schedule
        loss, g = dlfeval(fn, params, x, t, 1e-2, 1.0, it)
        L, G = _mlp_reference(P, x.astype(float), t.astype(float), 1e-2, 1.0, it)
        assert _np(loss).dtype == dtype and abs(float(_np(loss)) - L) < tol * (1 + abs(L))
        for k in P:
            assert _np(g[k]).dtype == dtype
            assert_close(_np(g[k]), G[k], tol, tol, f"iteration {it}: d/d{k}")
        params, avg, avg_sq = adamupdate(params, g, avg, avg_sq, it, lr)
        for k in P:
            M[k] = 0.9 * M[k] + 0.1 * G[k]
            V[k] = 0.999 * V[k] + 0.001 * G[k] ** 2
            P[k] = P[k] - lr * np.sqrt(1 - 0.999 ** it) / (1 - 0.9 ** it) * M[k] / (np.sqrt(V[k]) + 1e-8)
            assert _np(params[k]).dtype == dtype
            assert_close(_np(params[k]), P[k], tol, tol, f"iteration {it}: {k}")
            assert_close(_np(avg[k]), M[k], tol, tol)
            assert_close(_np(avg_sq[k]), V[k], tol, tol)


def test_adam_takes_a_broadcastable_gradient_or_state_as_sgdm_and_rmsprop_do():
    """Was: numpy's "non-broadcastable output operand with shape (1,)" from adamupdate's in-place step,
    where sgdmupdate and rmspropupdate take a gradient or state that broadcasts to the parameter."""
    p = np.array([1.0, 2.0, 3.0])
    for g, m in ((np.array([0.5]), None), (np.array([0.1, 0.2, 0.3]), np.array([0.1]))):
        G = np.broadcast_to(g, 3)
        M = np.zeros(3) if m is None else np.broadcast_to(m, 3)
        new_p, new_m, new_v = adamupdate(p, g, m, m, 2, 0.1)
        ref_m, ref_v = 0.9 * M + 0.1 * G, 0.999 * M + 0.001 * G * G
        ref_p = p - 0.1 * np.sqrt(1 - 0.999 ** 2) / (1 - 0.9 ** 2) * ref_m / (np.sqrt(ref_v) + 1e-8)
        for got, ref in ((new_p, ref_p), (new_m, ref_m), (new_v, ref_v)):
            assert_close(got, ref, 1e-12, 1e-14)


def test_gradients_missing_a_parameters_entry_is_a_clear_error():
    """Gradients taken for part of the parameters (a frozen one left out): was a bare KeyError 'b'."""
    params = {"a": np.ones(2), "b": np.ones(2)}
    with pytest.raises(KeyError, match="no entry 'b' where the parameters have one"):
        adamupdate(params, {"a": np.ones(2)}, None, None, 1)
    with pytest.raises(KeyError, match="no entry 'b'"):
        sgdmupdate(params, {"a": np.ones(2), "b": np.ones(2)}, {"a": np.ones(2)})


def test_a_stateful_layers_forward_returning_one_array_is_refused_in_a_deep_network():
    """The same in a network run by the loop (more layers than the unrolled runner takes)."""
    from sct.runtime import network
    tanhs = [sct.tanhLayer() for _ in range(network.UNROLL_MAX_LAYERS + 2)]
    for i, layer in enumerate(tanhs):
        layer.Name = f"t{i}"
    net = dlnetwork([featureInputLayer(3), fullyConnectedLayer(2)] + tanhs + [_ForgotState(2), fullyConnectedLayer(1)],
                    Seed=0)
    X = np.random.default_rng(0).standard_normal((2, 3))
    for fn in (_net_loss, dlaccelerate(_net_loss)):
        with pytest.raises(Exception, match=r"_ForgotState.forward .*returned one value"):
            dlfeval(fn, net, X)
