"""The examples ported from MATLAB's documentation (examples/, notebooks 04-07): each trains to a
stated outcome, and the derivatives inside their losses are checked against central differences."""
import numpy as np
import pytest

from sct import dlarray, dlfeval, dlgradient, extractdata, forward, predict
from tests.gradcheck import assert_close, numerical_gradient, numerical_gradients

threadpoolctl = pytest.importorskip("threadpoolctl")


@pytest.fixture(autouse=True)
def one_blas_thread():
    # the models are small: BLAS threads only contend (on the 2-core CI machine, 5x slower)
    with threadpoolctl.threadpool_limits(1):
        yield


# --- (a) image classifier: convolution, batch norm, pooling, dropout on the real digits ---------------

def test_image_classifier_learns_the_digits():
    from examples import image_classifier as ic
    net, history = ic.train(epochs=2)
    kinds = {type(layer).__name__ for layer in net.Layers}
    assert {"Convolution2DLayer", "BatchNormalizationLayer", "MaxPooling2DLayer", "DropoutLayer"} <= kinds
    assert np.mean(history["loss"][-5:]) < 0.1 * np.mean(history["loss"][:5])
    assert history["test_accuracy"][-1] > 0.9                 # chance 0.1; measured 0.96
    # the batch-norm running statistics were updated from their initial 0 and 1
    means = [extractdata(v) for layer, param, v in net.State if param == "TrainedMean"]
    assert means and all(np.abs(m).max() > 1e-3 for m in means)


def test_image_classifier_gradient_is_exact():
    from examples import image_classifier as ic
    XTrain, TTrain, _, _ = ic.digits()
    # dropout draws a new mask per call: the gradient is checked on the network without it
    net = ic.make_network(seed=0, dropout=False)
    X, T = dlarray(XTrain[:3]), dlarray(np.eye(10)[TTrain[:3]])
    loss, grads, state = dlfeval(ic.model_loss, net, X, T)
    values = [np.array(extractdata(v), dtype=np.float64) for v in net.Learnables.Value]

    def f(vals):
        return float(dlfeval(ic.model_loss, net.with_learnables([dlarray(v) for v in vals]), X, T)[0])
    # 10,000 weights: the gradient is checked along random directions (one per trial) by central
    # differences of the loss, and for the smaller tensors entry by entry
    rng = np.random.default_rng(0)
    g = [np.asarray(extractdata(v)) for v in grads.Value]
    for _ in range(3):
        v = [rng.standard_normal(w.shape) for w in values]
        h = 1e-5
        slope = (f([w + h * d for w, d in zip(values, v)]) - f([w - h * d for w, d in zip(values, v)])) / (2 * h)
        assert sum(np.sum(a * d) for a, d in zip(g, v)) == pytest.approx(slope, rel=1e-5)
    small = [k for k, w in enumerate(values) if w.size <= 16]
    expected = numerical_gradients(lambda vals: f([vals[small.index(k)] if k in small else w
                                                   for k, w in enumerate(values)]), [values[k] for k in small])
    for k, e in zip(small, expected):
        assert_close(g[k], e, rtol=1e-4, atol=1e-7, what=f"{grads.Layer[k]}.{grads.Parameter[k]}")


# --- (b) physics-informed network for Burgers' equation ------------------------------------------------

def test_burgers_exact_solution():
    from examples import burgers_pinn as bp
    x = np.linspace(-1, 1, 41)
    assert_close(bp.exact_solution(x, 1e-6), -np.sin(np.pi * x), atol=1e-3, what="u(x, 0)")
    # it solves the PDE: the residual by central differences is small against the terms
    xs, t, h, k = np.linspace(-0.9, 0.9, 19), 0.2, 1e-3, 1e-4
    u = bp.exact_solution(xs, t)
    ut = (bp.exact_solution(xs, t + k) - bp.exact_solution(xs, t - k)) / (2 * k)
    ux = (bp.exact_solution(xs + h, t) - bp.exact_solution(xs - h, t)) / (2 * h)
    uxx = (bp.exact_solution(xs + h, t) - 2 * u + bp.exact_solution(xs - h, t)) / h ** 2
    residual = ut + u * ux - bp.NU * uxx
    assert np.max(np.abs(residual)) < 1e-3 * np.max(np.abs(ut))


def input_derivatives(parameters, X, T):
    from examples import burgers_pinn as bp
    U = bp.model(parameters, X, T)
    Ux, Ut = dlgradient(np.sum(U), X, T, EnableHigherDerivatives=True)
    Uxx = dlgradient(np.sum(Ux), X, EnableHigherDerivatives=True)
    return U, Ux, Ut, Uxx


def test_burgers_loss_derivatives_are_exact():
    from examples import burgers_pinn as bp
    parameters = bp.initialize_parameters(num_layers=2, num_neurons=4, seed=1)
    X, T, X0, T0, U0 = (dlarray(v) for v in bp.training_data(num_internal=6, num_boundary=2, num_initial=3))
    # the derivatives of the network with respect to its inputs
    _, Ux, Ut, Uxx = dlfeval(input_derivatives, parameters, X, T)

    def u(x, t):
        return extractdata(bp.model(parameters, x, t))
    x, t, h = extractdata(X), extractdata(T), 1e-4
    assert_close(extractdata(Ux), (u(x + h, t) - u(x - h, t)) / (2 * h), rtol=1e-5, atol=1e-7, what="Ux")
    assert_close(extractdata(Ut), (u(x, t + h) - u(x, t - h)) / (2 * h), rtol=1e-5, atol=1e-7, what="Ut")
    assert_close(extractdata(Uxx), (u(x + h, t) - 2 * u(x, t) + u(x - h, t)) / h ** 2, rtol=1e-3, atol=1e-5,
                 what="Uxx")
    # the gradient of the loss (third derivatives of the network) against central differences
    loss, grads = dlfeval(bp.model_loss, parameters, X, T, X0, T0, U0)
    names = list(parameters)

    def f(vals):
        p = {n: dlarray(v) for n, v in zip(names, vals)}
        return float(dlfeval(bp.model_loss, p, X, T, X0, T0, U0)[0])
    expected = numerical_gradients(f, [np.array(extractdata(parameters[n])) for n in names])
    for n, e in zip(names, expected):
        assert_close(extractdata(grads[n]), e, rtol=1e-5, atol=1e-8, what=n)


@pytest.mark.heavy
def test_burgers_pinn_trains_towards_the_solution():
    from examples import burgers_pinn as bp
    parameters, history = bp.train(iterations=200, data=bp.training_data(num_internal=200), num_layers=3)
    untrained = bp.relative_error(bp.initialize_parameters(num_layers=3), 0.25)
    assert history["loss"][-1] < history["loss"][0] / 4
    assert bp.relative_error(parameters, 0.25) < 0.7 < untrained          # measured 0.59 and 0.88


# --- (c) Wasserstein GAN with gradient penalty ---------------------------------------------------------

def critic_input_gradient(netD, XHat):
    YHat = forward(netD, XHat)[0]
    return dlgradient(np.sum(YHat), XHat)


def small_gan(seed=0):
    from examples import wgan_gp as wg
    rng = np.random.default_rng(seed)
    netG, netD = wg.make_generator(hidden=3, seed=seed), wg.make_critic(hidden=4, seed=seed + 1)
    X = dlarray(wg.ring_of_gaussians(5, rng))
    Z = dlarray(rng.standard_normal((5, 2)))
    epsilon = rng.uniform(size=(5, 1))
    return netG, netD, X, Z, epsilon


def test_wgan_critic_input_gradient_is_exact():
    netG, netD, X, Z, epsilon = small_gan()
    g = extractdata(dlfeval(critic_input_gradient, netD, X))
    x = np.array(extractdata(X))
    expected = numerical_gradient(lambda x: float(np.sum(extractdata(predict(netD, x)))), [x], 0)
    assert_close(g, expected, rtol=1e-6, atol=1e-8, what="dD/dXHat")


@pytest.mark.parametrize("lambda_", [10.0, 0.0])
def test_wgan_gradient_penalty_gradient_matches_numerical_gradients(lambda_):
    from examples import wgan_gp as wg
    netG, netD, X, Z, epsilon = small_gan()
    lossD, lossDUnregularized, grads = dlfeval(wg.model_loss_d, netD, netG, X, Z, epsilon, lambda_)
    values = [np.array(extractdata(v), dtype=np.float64) for v in netD.Learnables.Value]

    def f(vals):
        net = netD.with_learnables([dlarray(v) for v in vals])
        return float(dlfeval(wg.model_loss_d, net, netG, X, Z, epsilon, lambda_)[0])
    expected = numerical_gradients(f, values)
    for row, e in zip(grads, expected):
        assert_close(extractdata(row.Value), e, rtol=1e-5, atol=1e-7, what=f"{row.Layer}.{row.Parameter}")
    if lambda_:
        # the penalty is part of the loss: the gradients differ from those without it
        _, _, plain = dlfeval(wg.model_loss_d, netD, netG, X, Z, epsilon, 0.0)
        assert any(not np.allclose(extractdata(a), extractdata(b)) for a, b in zip(grads.Value, plain.Value))
    else:
        assert float(lossD) == pytest.approx(float(lossDUnregularized))


def test_wgan_generator_gradient_is_exact():
    from examples import wgan_gp as wg
    netG, netD, X, Z, epsilon = small_gan(seed=2)
    _, grads = dlfeval(wg.model_loss_g, netG, netD, Z)
    values = [np.array(extractdata(v), dtype=np.float64) for v in netG.Learnables.Value]

    def f(vals):
        return float(dlfeval(wg.model_loss_g, netG.with_learnables([dlarray(v) for v in vals]), netD, Z)[0])
    for row, e in zip(grads, numerical_gradients(f, values)):
        assert_close(extractdata(row.Value), e, rtol=1e-5, atol=1e-7, what=f"{row.Layer}.{row.Parameter}")


@pytest.mark.heavy
def test_wgan_generator_moves_towards_the_data():
    from examples import wgan_gp as wg
    netG, netD, history = wg.train(iterations=100)
    rng = np.random.default_rng(1)
    before = wg.distance_to_modes(wg.generate(wg.make_generator(), 1000, rng))
    after = wg.distance_to_modes(wg.generate(netG, 1000, rng))
    assert np.all(np.isfinite(history["loss_d"])) and np.all(np.isfinite(history["loss_g"]))
    assert after < 0.8 * before                                          # measured 1.74 -> 0.94 in 100


# --- (d) sequence classification with an LSTM ---------------------------------------------------------

def test_lstm_sequence_classifier_learns():
    from examples import sequence_lstm as sl
    net, history = sl.train(epochs=6)
    assert any(type(layer).__name__ == "LSTMLayer" for layer in net.Layers)
    assert np.mean(history["loss"][-5:]) < np.mean(history["loss"][:5]) / 5
    assert history["test_accuracy"][-1] > 0.9                            # chance 1/3


def test_lstm_classifier_gradient_is_exact():
    from examples import sequence_lstm as sl
    rng = np.random.default_rng(3)
    X, labels = sl.make_data(3, rng, steps=5)
    X, T = dlarray(X), dlarray(np.eye(3)[labels])
    net = sl.make_network(num_hidden=3, seed=1)
    _, grads = dlfeval(sl.model_loss, net, X, T)
    values = [np.array(extractdata(v), dtype=np.float64) for v in net.Learnables.Value]

    def f(vals):
        return float(dlfeval(sl.model_loss, net.with_learnables([dlarray(v) for v in vals]), X, T)[0])
    for row, e in zip(grads, numerical_gradients(f, values)):
        assert_close(extractdata(row.Value), e, rtol=1e-5, atol=1e-7, what=f"{row.Layer}.{row.Parameter}")


# --- found while benchmarking the training steps: adamupdate kept float32 parameters float32? -----------

def test_adamupdate_keeps_float32_parameters():
    from sct import adamupdate
    p = {"W": dlarray(np.ones((2, 3), np.float32)), "b": np.zeros(3, np.float32)}
    g = {"W": np.full((2, 3), 0.5, np.float32), "b": np.ones(3, np.float32)}
    m = v = None
    for t in (1, 2, 3):
        p, m, v = adamupdate(p, g, m, v, t, np.float64(0.1))
    for tree in (p, m, v):
        assert all(np.asarray(getattr(x, "data", x)).dtype == np.float32 for x in tree.values())
    # the values are MATLAB's formula (in float64: the same to float32 precision)
    w, mm, vv = 1.0, 0.0, 0.0
    for t in (1, 2, 3):
        mm, vv = 0.9 * mm + 0.1 * 0.5, 0.999 * vv + 0.001 * 0.25
        w -= 0.1 * np.sqrt(1 - 0.999 ** t) / (1 - 0.9 ** t) * mm / (np.sqrt(vv) + 1e-8)
    assert_close(extractdata(p["W"]), np.full((2, 3), w), rtol=1e-6)
