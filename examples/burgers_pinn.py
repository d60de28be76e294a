"""A physics-informed neural network for Burgers' equation (MATLAB's "Solve Partial Differential
Equations Using Deep Learning").

    u_t + u u_x - (0.01/pi) u_xx = 0,   x in [-1, 1], t in [0, 1],
    u(x, 0) = -sin(pi x),   u(-1, t) = u(1, t) = 0.

The network maps (x, t) to u; its parameters are a dict as MATLAB's example has them in a struct
(the example's first version; a ``dlnetwork`` works too, see tests/test_network.py, but is slower
to compile and run through third derivatives today).  ``model_loss`` is MATLAB's ``modelLoss``: the derivatives of the
network with respect to its inputs, ``dlgradient(sum(U), {X, T})`` and then a second
``dlgradient`` of ``Ux`` for ``Uxx`` (MATLAB needs ``EnableHigherDerivatives=true`` on the first;
it is sct's default), form the residual of the PDE inside the loss, and the gradient of that loss
with respect to the parameters differentiates them once more.  ``exact_solution`` is MATLAB's
``solveBurgers`` (the Cole-Hopf transform, integrated numerically).
"""
from __future__ import annotations

import numpy as np

from sct import adamupdate, dlarray, dlfeval, dlgradient, extractdata, fullyconnect, l2loss

from . import no_progress

NU = 0.01 / np.pi


def training_data(num_internal=1000, num_boundary=25, num_initial=50, seed=0):
    """Collocation points (X, T) inside the domain, and points (X0, T0) with known values U0 on the
    boundary x = -1, x = 1 and at t = 0 (each an (n, 1) column, as MATLAB's example has them)."""
    rng = np.random.default_rng(seed)
    t0_bc = np.linspace(0, 1, num_boundary)[:, None]
    x0_ic = np.linspace(-1, 1, num_initial)[:, None]
    X0 = np.concatenate([-np.ones_like(t0_bc), np.ones_like(t0_bc), x0_ic])
    T0 = np.concatenate([t0_bc, t0_bc, np.zeros_like(x0_ic)])
    U0 = np.concatenate([np.zeros_like(t0_bc), np.zeros_like(t0_bc), -np.sin(np.pi * x0_ic)])
    X = rng.uniform(-1, 1, (num_internal, 1))
    T = rng.uniform(0, 1, (num_internal, 1))
    return X, T, X0, T0, U0


def initialize_parameters(num_layers=4, num_neurons=20, seed=0):
    """MATLAB's parameters struct: ``fc1_Weights``, ``fc1_Bias``, ... of ``num_layers`` hidden fully
    connected layers of ``num_neurons`` and one output layer, Glorot-initialised weights (output x
    input) and zero biases (MATLAB's initializeGlorot and initializeZeros)."""
    rng = np.random.default_rng(seed)
    sizes = [2] + [num_neurons] * num_layers + [1]
    parameters = {}
    for i in range(1, len(sizes)):
        fan_in, fan_out = sizes[i - 1], sizes[i]
        bound = np.sqrt(6 / (fan_in + fan_out))
        parameters[f"fc{i}_Weights"] = dlarray(rng.uniform(-bound, bound, (fan_out, fan_in)))
        parameters[f"fc{i}_Bias"] = dlarray(np.zeros(fan_out))
    return parameters


def model(parameters, X, T):
    """MATLAB's model function: u at the points (X, T), fully connected layers with tanh between."""
    Z = np.concatenate([X, T], axis=1)
    num_layers = len(parameters) // 2
    for i in range(1, num_layers):
        Z = np.tanh(fullyconnect(Z, parameters[f"fc{i}_Weights"], parameters[f"fc{i}_Bias"]))
    return fullyconnect(Z, parameters[f"fc{num_layers}_Weights"], parameters[f"fc{num_layers}_Bias"])


def model_loss(parameters, X, T, X0, T0, U0):
    """MATLAB's modelLoss: the PDE residual at (X, T) and the misfit at the boundary/initial points."""
    U = model(parameters, X, T)
    # derivatives of U with respect to the network's inputs (MATLAB: dlgradient(sum(U,"all"),{X,T},
    # EnableHigherDerivatives=true))
    Ux, Ut = dlgradient(np.sum(U), X, T, EnableHigherDerivatives=True)
    Uxx = dlgradient(np.sum(Ux), X, EnableHigherDerivatives=True)
    f = Ut + U * Ux - NU * Uxx
    mseF = l2loss(f, np.zeros_like(f), NormalizationFactor="all-elements")
    U0Pred = model(parameters, X0, T0)
    mseU = l2loss(U0Pred, U0, NormalizationFactor="all-elements")
    loss = mseF + mseU
    gradients = dlgradient(loss, parameters)
    return loss, gradients


def exact_solution(x, t, nu=NU, points=4001):
    """u(x, t) of Burgers' equation with u(x, 0) = -sin(pi x) (MATLAB's solveBurgers): by the
    Cole-Hopf transform,
    u = -int sin(pi (x - e)) f(x - e) g(e) de / int f(x - e) g(e) de,
    f(y) = exp(-cos(pi y) / (2 pi nu)), g(e) = exp(-e^2 / (4 nu t)); the integrals by the trapezoidal
    rule over +-12 standard deviations of g (beyond it g < 1e-31), in log space to avoid overflow."""
    x = np.asarray(x, dtype=float)
    if t == 0:
        return -np.sin(np.pi * x)
    sigma = np.sqrt(2 * nu * t)
    eta = np.linspace(-12 * sigma, 12 * sigma, points)
    y = x[..., None] - eta
    log_w = -np.cos(np.pi * y) / (2 * np.pi * nu) - eta ** 2 / (4 * nu * t)
    w = np.exp(log_w - log_w.max(axis=-1, keepdims=True))
    u = -np.trapezoid(np.sin(np.pi * y) * w, eta, axis=-1) / np.trapezoid(w, eta, axis=-1)
    return np.where(np.abs(x) == 1, 0.0, u)


def predict_solution(parameters, x, t):
    """The network's u at the points ``x`` (a 1-D array) and time ``t``, as a plain array."""
    x = np.asarray(x, dtype=float)[:, None]
    return extractdata(model(parameters, x, np.full_like(x, t)))[:, 0]


def relative_error(parameters, t, num_points=201):
    """The relative 2-norm error of the network's u(., t) against ``exact_solution`` on a grid."""
    x = np.linspace(-1, 1, num_points)
    u = predict_solution(parameters, x, t)
    exact = exact_solution(x, t)
    return float(np.linalg.norm(u - exact) / np.linalg.norm(exact))


def train(iterations=1000, initial_learn_rate=0.01, decay_rate=0.005, seed=0, progress=no_progress,
          parameters=None, data=None, num_layers=4, num_neurons=20):
    """Adam on the full batch of collocation points with MATLAB's example's time-based decay of the
    learning rate, ``initial_learn_rate / (1 + decay_rate * iteration)``; returns the parameters and
    a history dict (``loss`` per iteration)."""
    X, T, X0, T0, U0 = data if data is not None else training_data(seed=seed)
    X, T, X0, T0, U0 = (dlarray(v) for v in (X, T, X0, T0, U0))
    parameters = initialize_parameters(num_layers, num_neurons, seed) if parameters is None else parameters
    average_grad = average_sq_grad = None
    history = {"loss": []}
    bar = progress(range(1, iterations + 1))
    for iteration in bar:
        learn_rate = initial_learn_rate / (1 + decay_rate * iteration)
        loss, gradients = dlfeval(model_loss, parameters, X, T, X0, T0, U0)
        parameters, average_grad, average_sq_grad = adamupdate(parameters, gradients, average_grad, average_sq_grad,
                                                        iteration, learn_rate)
        history["loss"].append(float(loss))
        if hasattr(bar, "set_postfix") and iteration % 50 == 0:
            bar.set_postfix(loss=f"{history['loss'][-1]:.2e}")
    return parameters, history
