"""Issue 9: lbfgsupdate and lbfgsState (MATLAB's L-BFGS): the two-loop direction against the explicit
BFGS inverse-Hessian recursion, convergence to high precision on Rosenbrock, least squares and logistic
regression, every structure of parameters, float32, and a dlnetwork regression with
``lossFcn = lambda net: dlfeval(modelLoss, net, X, T)`` as in MATLAB's example."""
from __future__ import annotations

import dataclasses

import numpy as np
import pytest

import sct
from sct import (dlarray, dlfeval, dlgradient, dlnetwork, extractdata, forward, lbfgsState, lbfgsupdate, l2loss,
                 predict)
from sct.runtime import optim

try:
    from tests.gradcheck import assert_close
except ImportError:                      # run as plain `pytest` from inside tests/
    from gradcheck import assert_close

rng = np.random.default_rng(99)


# --- the direction --------------------------------------------------------------------------------


def test_two_loop_matches_the_explicit_bfgs_inverse_hessian():
    n = 6
    steps = [rng.standard_normal(n) for _ in range(4)]
    a = rng.standard_normal((n, n))
    hess = a @ a.T + n * np.eye(n)                     # curvature pairs from an SPD matrix: s'y > 0
    diffs = [hess @ s for s in steps]
    g = rng.standard_normal(n)
    lam = 0.37
    h = lam * np.eye(n)
    for s, y in zip(steps, diffs):                     # oldest first: H <- V' H V + rho s s'
        rho = 1 / (y @ s)
        v = np.eye(n) - rho * np.outer(y, s)
        h = v.T @ h @ v + rho * np.outer(s, s)
    assert_close(optim._two_loop(g, steps, diffs, lam), -h @ g, 1e-12, 1e-12)


def test_first_step_is_scaled_steepest_descent_and_state_fields():
    calls = []

    def quad(p):
        calls.append(1)
        return 0.5 * float(p @ p) * 4, 4 * p            # f = 2|p|^2: the step 1 of -0.25 g is exact
    s0 = lbfgsState(HistorySize=3, InitialInverseHessianFactor=0.25)
    p1, s1 = lbfgsupdate(np.array([1.0, -2.0]), quad, s0)
    assert_close(p1, [0.0, 0.0], 0, 1e-15)
    assert s1.LineSearchStatus == "completed" and s1.Iteration == 1 and len(calls) == 2
    assert s1.StepNorm == pytest.approx(np.sqrt(5)) and s1.GradientsNorm == pytest.approx(0)
    assert s1.LineSearchMethod == "weak-wolfe" and s1.MaxNumLineSearchIterations == 20
    assert s1.InverseHessianFactor == pytest.approx(0.25)          # s'y / y'y of the quadratic
    assert len(s1.StepHistory) == 1 and s1.HistoryIndices == [1]
    assert s0.Iteration == 0 and s0.StepHistory == [] and s0.Loss is None   # the given state is untouched
    assert lbfgsState().HistorySize == 10 and lbfgsState().InitialInverseHessianFactor == 1


# --- convergence ----------------------------------------------------------------------------------


def rosenbrock(p):
    x, y = p[0], p[1]
    return (1 - x) ** 2 + 100 * (y - x * x) ** 2


def rosenbrock_loss(p):
    loss = rosenbrock(p)
    return loss, dlgradient(loss, p)


@pytest.mark.parametrize("method", ["weak-wolfe", "strong-wolfe", "backtracking"])
def test_rosenbrock_to_high_precision(method):
    p, state = dlarray(np.array([-1.2, 1.0])), None
    losses = []
    for _ in range(80):
        p, state = lbfgsupdate(p, lambda q: dlfeval(rosenbrock_loss, q), state, LineSearchMethod=method)
        losses.append(float(state.Loss))
        if state.GradientsNorm < 1e-10:
            break
    assert isinstance(p, dlarray)
    assert_close(p.data, [1.0, 1.0], 0, 1e-8)
    assert state.LineSearchStatus == "completed"
    assert all(b <= a for a, b in zip(losses, losses[1:]))           # every accepted step decreases
    assert len(losses) < 50
    assert len(state.StepHistory) <= 10


def test_least_squares_in_few_iterations():
    A = rng.standard_normal((30, 5))
    t = rng.standard_normal(30)
    exact = np.linalg.lstsq(np.c_[A, np.ones(30)], t, rcond=None)[0]

    def model_loss(params):
        r = A @ params["W"] + params["b"] - t
        loss = 0.5 * np.sum(r * r)
        return loss, dlgradient(loss, params)
    params = {"W": dlarray(np.zeros(5)), "b": dlarray(0.0)}
    state = lbfgsState()
    for it in range(30):
        params, state = lbfgsupdate(params, lambda p: dlfeval(model_loss, p), state)
        if state.GradientsNorm < 1e-9:
            break
    assert it < 20
    assert_close(params["W"].data, exact[:5], 1e-9, 1e-10)
    assert_close(params["b"].data, exact[5], 1e-9, 1e-10)


def test_logistic_regression_matches_newton():
    X = rng.standard_normal((80, 3))
    y = (X @ [1.5, -2.0, 0.5] + 0.3 * rng.standard_normal(80) > 0).astype(float)
    lam = 0.1

    def model_loss(w, b):
        z = X @ w + b
        loss = np.mean(np.logaddexp(0, z) - y * z) + 0.5 * lam * np.sum(w * w)
        return loss, dlgradient(loss, w, b)

    w_ref, b_ref = np.zeros(3), 0.0                    # the reference: Newton's method on the same loss
    for _ in range(50):
        z = X @ w_ref + b_ref
        s = 1 / (1 + np.exp(-z))
        grad = np.r_[X.T @ (s - y) / 80 + lam * w_ref, np.mean(s - y)]
        xa = np.c_[X, np.ones(80)]
        hess = xa.T @ (xa * (s * (1 - s))[:, None]) / 80 + np.diag([lam] * 3 + [0])
        step = np.linalg.solve(hess, grad)
        w_ref, b_ref = w_ref - step[:3], b_ref - step[3]

    params = [np.zeros(3), np.array(0.0)]               # a plain list of numpy arrays
    state = None
    for it in range(60):
        params, state = lbfgsupdate(params, lambda p: (lambda l, g: (l, list(g)))(
            *dlfeval(model_loss, dlarray(p[0]), dlarray(p[1]))), state)
        if state.GradientsNorm < 1e-12:
            break
    assert it < 40
    assert isinstance(params, list) and isinstance(params[0], np.ndarray)
    assert_close(params[0], w_ref, 1e-8, 1e-9)
    assert_close(params[1], b_ref, 1e-8, 1e-9)


@dataclasses.dataclass
class Quadratic:
    W: np.ndarray
    c: np.ndarray


def test_dataclass_float32_and_extra_outputs():
    target = np.array([[1.0, -2.0], [0.5, 3.0]], dtype=np.float32)

    def loss_fn(q):
        d = q.W.astype(np.float64) - target
        loss = float(np.sum(d ** 2) + np.sum((q.c - 2.0) ** 2))
        return loss, Quadratic(W=(2 * d).astype(np.float32), c=2 * (q.c - 2.0)), "aux", 7
    q = Quadratic(W=np.zeros((2, 2), np.float32), c=np.zeros(3))
    state = None
    for _ in range(10):
        q, state = lbfgsupdate(q, loss_fn, state, NumLossFunctionOutputs=4)
    assert isinstance(q, Quadratic) and q.W.dtype == np.float32 and q.c.dtype == np.float64
    assert_close(q.W, target, 1e-6, 1e-6)
    assert_close(q.c, [2.0, 2.0, 2.0], 1e-10, 1e-10)
    assert state.AdditionalLossFunctionOutputs == ("aux", 7)
    with pytest.raises(ValueError, match="NumLossFunctionOutputs"):
        lbfgsupdate(q, loss_fn, None, NumLossFunctionOutputs=2)


def test_failed_line_search_leaves_the_parameters():
    def wrong(p):                                        # the gradient's sign is wrong: no step decreases
        return float(np.sum(p * p)), -2 * p
    p0 = np.array([1.0, 2.0])
    p, state = lbfgsupdate(p0, wrong, None, MaxNumLineSearchIterations=5)
    assert state.LineSearchStatus == "failed" and state.StepNorm == 0
    assert_close(p, p0, 0, 0)


def test_refusals():
    with pytest.raises(ValueError, match="LineSearchMethod"):
        lbfgsupdate(np.ones(2), lambda p: (1.0, p), None, LineSearchMethod="exact")
    with pytest.raises(TypeError, match="lossFcn must return"):
        lbfgsupdate(np.ones(2), lambda p: float(np.sum(p)), None)
    with pytest.raises(ValueError, match="HistorySize"):
        lbfgsState(HistorySize=0)
    with pytest.raises(TypeError, match="solverState"):
        lbfgsupdate(np.ones(2), lambda p: (1.0, p), {"not": "a state"})


# --- a dlnetwork, as MATLAB's example ------------------------------------------------------------------


def model_loss(net, X, T):
    Y = forward(net, X)[0]
    loss = l2loss(Y, T)
    gradients = dlgradient(loss, net.Learnables)
    return loss, gradients


def test_dlnetwork_regression_with_lbfgs():
    X = np.linspace(-2, 2, 40).reshape(-1, 1)
    T = np.sin(2 * X) + 0.5 * X
    net = dlnetwork([sct.featureInputLayer(1), sct.fullyConnectedLayer(12), sct.tanhLayer(),
                     sct.fullyConnectedLayer(1)], Seed=3)
    X, T = dlarray(X), dlarray(T)
    lossFcn = lambda net: dlfeval(model_loss, net, X, T)      # noqa: E731  (MATLAB's anonymous function)
    first = float(lossFcn(net)[0])
    solverState = lbfgsState()
    for _ in range(150):
        net, solverState = lbfgsupdate(net, lossFcn, solverState)
        if solverState.GradientsNorm < 1e-6 or solverState.LineSearchStatus == "failed":
            break
    assert isinstance(net, dlnetwork)
    final = float(solverState.Loss)
    assert final < first / 200, (first, final)
    assert_close(float(l2loss(extractdata(predict(net, X)), T.data)), final, 1e-9, 1e-12)
    assert isinstance(solverState.Gradients, sct.Table)

    # the Learnables table itself as the parameters
    table = net.Learnables

    def table_loss(t):
        return dlfeval(model_loss, net.with_learnables(t), X, T)
    t2, s2 = lbfgsupdate(table, table_loss, None)
    assert isinstance(t2, sct.Table) and t2.Parameter == table.Parameter
    assert float(s2.Loss) <= final
