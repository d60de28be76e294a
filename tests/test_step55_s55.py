"""Training-loop steps inside the differentiated function (red team red55u F1): a PyTorch-style in-place
step after dlgradient when the loss comes from a helper, and a field assigned after the function's last
dlgradient.  Values, gradients and the caller's parameters after several steps as plain Python computes them."""
import numpy as np
import pytest

from sct import accelerate, crossentropy, dlarray, dlfeval, dlgradient, fullyconnect, mse, relu, softmax
from sct.errors import CompileError
from tests.gradcheck import D, assert_close, numerical_gradient

rng = np.random.default_rng(55)
X = rng.standard_normal((4, 3))
T = rng.standard_normal((4, 2))
LAB = np.eye(2)[[0, 1, 1, 0]]
W0 = rng.standard_normal((2, 3))
B0 = rng.standard_normal(2)


def loss_mse(p):
    return mse(fullyconnect(X, p["W"], p["b"]), T)


def loss_ce(p):
    return crossentropy(softmax(relu(fullyconnect(X, p["W"], p["b"]))), LAB)


def plain_steps(lossf, n, lr=0.1):
    """The parameters after n steps of plain Python: gradients by central differences."""
    W, b = W0.copy(), B0.copy()
    for _ in range(n):
        def f(W_, b_):
            return float(D(lossf({"W": dlarray(W_), "b": dlarray(b_)})))
        gW, gb = numerical_gradient(f, [W, b], 0), numerical_gradient(f, [W, b], 1)
        W, b = W - lr * gW, b - lr * gb
    return W, b


def make_step(lossf):
    def step(p, lr):
        loss = lossf(p)
        g = dlgradient(loss, p)
        for k in p:
            p[k] = p[k] - lr * g[k]
        return loss
    return step


@pytest.mark.parametrize("lossf", [loss_mse, loss_ce])
@pytest.mark.parametrize("acc", [False, True])
def test_in_place_step_after_helper_loss(lossf, acc):
    step = make_step(lossf)
    fn = accelerate(step) if acc else step
    p = {"W": dlarray(W0.copy()), "b": dlarray(B0.copy())}
    caller = p
    losses = [float(D(dlfeval(fn, p, 0.1))) for _ in range(3)]
    W, b = plain_steps(lossf, 3)
    assert p is caller and set(p) == {"W", "b"}
    assert_close(D(p["W"]), W, rtol=1e-6, atol=1e-8)
    assert_close(D(p["b"]), b, rtol=1e-6, atol=1e-8)
    W1, b1 = plain_steps(lossf, 2)
    assert losses[2] == pytest.approx(float(D(lossf({"W": dlarray(W1), "b": dlarray(b1)}))), rel=1e-9)


def test_helper_returning_its_argument_still_refused():
    def same(p):
        return p

    def step(p, lr):
        q = same(p)
        loss = mse(fullyconnect(X, q["W"], q["b"]), T)
        g = dlgradient(loss, p)
        for k in p:
            p[k] = p[k] - lr * g[k]
        return loss, q["W"]
    with pytest.raises(CompileError, match=r"line \d+.*p\[\.\.\.\]"):
        dlfeval(step, {"W": dlarray(W0.copy()), "b": dlarray(B0.copy())}, 0.1)


class Model:
    pass


def model():
    m = Model()
    m.W, m.b = dlarray(W0.copy()), dlarray(B0.copy())
    return m


def step_fields(m, lr):
    loss = mse(fullyconnect(X, m.W, m.b), T)
    gW, gb = dlgradient(loss, m.W, m.b)
    m.W = m.W - lr * gW
    m.b = m.b - lr * gb
    return loss


def step_whole(m, lr):
    loss = mse(fullyconnect(X, m.W, m.b), T)
    g = dlgradient(loss, m)
    m.W = m.W - lr * g.W
    m.b = m.b - lr * g.b
    return loss, m.W


@pytest.mark.parametrize("step", [step_fields, step_whole, accelerate(step_fields), accelerate(step_whole)])
def test_field_assigned_after_the_last_gradient(step):
    m = model()
    for _ in range(3):
        out = dlfeval(step, m, 0.1)
    W, b = plain_steps(loss_mse, 3)
    assert isinstance(m.W, dlarray)
    assert_close(D(m.W), W, rtol=1e-6, atol=1e-8)
    assert_close(D(m.b), b, rtol=1e-6, atol=1e-8)
    if isinstance(out, tuple):
        assert_close(D(out[1]), W, rtol=1e-6, atol=1e-8)


def test_field_assigned_before_a_later_gradient_still_refused():
    def two(m, lr):
        loss = mse(fullyconnect(X, m.W, m.b), T)
        gW, gb = dlgradient(loss, m.W, m.b)
        m.W = m.W - lr * gW
        loss2 = mse(fullyconnect(X, m.W, m.b), T)
        return loss2, dlgradient(loss2, m.W)
    with pytest.raises(CompileError, match=r"line \d+.*assigns an attribute"):
        dlfeval(two, model(), 0.1)


def test_field_assigned_in_the_loop_of_the_gradient_still_refused():
    def loop(m, lr):
        for _ in range(2):
            loss = mse(fullyconnect(X, m.W, m.b), T)
            gW, gb = dlgradient(loss, m.W, m.b)
            m.W = m.W - lr * gW
        return loss
    with pytest.raises(CompileError, match=r"line \d+.*assigns an attribute"):
        dlfeval(loop, model(), 0.1)


# --- red55u F3: MAML's inner steps counted by an int argument ------------------------------------------------
# An int argument is not known when sct compiles (a global's or a closure's value is, and guards the code), so
# the loop around the inner gradient cannot be written out step by step: refused, and the advice (loop over a
# global or closure int) keeps the program's meaning: exact for 0 to 3 inner steps, second order through them.



def maml_argument(p, nsteps):
    q = p
    for _ in range(nsteps):
        l = loss_mse(q)
        g = dlgradient(l, q)
        q = {k: q[k] - 0.1 * g[k] for k in q}
    lq = loss_mse(q)
    return lq, dlgradient(lq, p)


def test_inner_steps_of_an_argument_refused_with_the_loop_advice():
    with pytest.raises(CompileError) as info:
        dlfeval(maml_argument, {"W": dlarray(W0.copy()), "b": dlarray(B0.copy())}, 2)
    message = str(info.value)
    assert "test_step55_s55.py, line" in message
    assert "an int argument is not known" in message and "a global or a closure value" in message


NSTEPS = 2


def maml_global(p):
    q = p
    for _ in range(NSTEPS):
        l = loss_mse(q)
        g = dlgradient(l, q)
        q = {k: q[k] - 0.1 * g[k] for k in q}
    lq = loss_mse(q)
    return lq, dlgradient(lq, p)


def plain_outer(W, b, n):
    for _ in range(n):
        y = X @ W.T + b
        dy = (y - T) / len(X)
        W, b = W - 0.1 * dy.T @ X, b - 0.1 * dy.sum(0)
    return 0.5 * np.sum((X @ W.T + b - T) ** 2) / len(X)


@pytest.mark.parametrize("n", [0, 1, 2, 3])
def test_inner_steps_of_a_global_as_advised(n):
    global NSTEPS
    NSTEPS = n
    try:
        lq, g = dlfeval(maml_global, {"W": dlarray(W0.copy()), "b": dlarray(B0.copy())})
    finally:
        NSTEPS = 2
    assert float(D(lq)) == pytest.approx(plain_outer(W0, B0, n), rel=1e-12)
    assert_close(D(g["W"]), numerical_gradient(lambda W: plain_outer(W, B0, n), [W0], 0), rtol=1e-6, atol=1e-8)
    assert_close(D(g["b"]), numerical_gradient(lambda b: plain_outer(W0, b, n), [B0], 0), rtol=1e-6, atol=1e-8)
