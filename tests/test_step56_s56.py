"""Training-loop steps inside the differentiated function (red team red55u F1, redone after the revert of
step55, whose reading of every helper's new result as holding nothing broke two guards: test_redteam_dec23b's
generator and test_properties_dec12's value kept across a write): a PyTorch-style in-place step after dlgradient
when the loss comes from a helper returning a call of sct's declared-new functions (mse, fullyconnect, ...), and a
field assigned after the function's last dlgradient.  Values, gradients and the caller's parameters after
several steps as plain Python computes them; the writes before a later gradient still refused."""
import numpy as np
import pytest

from sct import accelerate, crossentropy, dlarray, dlfeval, dlgradient, fullyconnect, mse, relu, softmax
from sct.errors import CompileError
from tests.gradcheck import D, assert_close, numerical_gradient

rng = np.random.default_rng(56)
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


def lossf_nested(p):
    return mse(fullyconnect(X, p["l1"]["W"], p["l1"]["b"]), T)


def step_nested(p, lr):
    W = p["l1"]["W"]                      # the old array, kept past the write (Python leaves it as it was)
    loss = lossf_nested(p)
    g = dlgradient(loss, p)
    p["l1"]["W"] = p["l1"]["W"] - lr * g["l1"]["W"]
    p["l1"]["b"] = p["l1"]["b"] - lr * g["l1"]["b"]
    return loss, W * 2.0, p["l1"]["W"] * 1.0


@pytest.mark.parametrize("acc", [False, True])
def test_nested_dict_step_after_helper_loss(acc):
    fn = accelerate(step_nested) if acc else step_nested
    p = {"l1": {"W": dlarray(W0.copy()), "b": dlarray(B0.copy())}}
    inner, old = p["l1"], p["l1"]["W"]
    loss, W2, Wn = dlfeval(fn, p, 0.1)
    W, b = plain_steps(loss_mse, 1)
    assert p["l1"] is inner and D(old).tolist() == W0.tolist()
    assert_close(D(p["l1"]["W"]), W, rtol=1e-6, atol=1e-8)
    assert_close(D(p["l1"]["b"]), b, rtol=1e-6, atol=1e-8)
    assert_close(D(W2), 2.0 * W0, rtol=1e-15, atol=0)
    assert_close(D(Wn), W, rtol=1e-6, atol=1e-8)
    assert float(D(loss)) == pytest.approx(float(D(loss_mse({"W": W0, "b": B0}))), rel=1e-12)


def twice(p):
    loss = loss_mse(p)
    p["W"] = p["W"] * 2.0                 # before the gradient: a new version of p, the helper's loss keeps the old
    loss2 = loss_mse(p)
    return loss + loss2, dlgradient(loss + loss2, p)


def test_helper_loss_then_a_write_then_the_gradient_refused():
    # (the write before the gradient: never a gradient through only one version of p)
    with pytest.raises(CompileError, match=r"test_step56_s56.py, line \d+: dlgradient.*'p'"):
        dlfeval(twice, {"W": dlarray(W0.copy()), "b": dlarray(B0.copy())})


def step_read_after(m, lr):
    h = m.W * 2.0
    loss = mse(fullyconnect(X, m.W, m.b), T)
    gW, gb = dlgradient(loss, m.W, m.b)
    m.W = m.W - lr * gW
    m.b = m.b - lr * gb
    return loss, h, mse(fullyconnect(X, m.W, m.b), T)


def test_values_read_after_the_field_write():
    m = model()
    loss, h, loss2 = dlfeval(step_read_after, m, 0.1)
    W, b = plain_steps(loss_mse, 1)
    assert_close(D(m.W), W, rtol=1e-6, atol=1e-8)
    assert_close(D(h), 2.0 * W0, rtol=1e-15, atol=0)
    assert float(D(loss)) == pytest.approx(float(D(loss_mse({"W": W0, "b": B0}))), rel=1e-12)
    assert float(D(loss2)) == pytest.approx(float(D(loss_mse({"W": W, "b": b}))), rel=1e-9)


def step_second_order(m, lr):
    loss = mse(fullyconnect(X, m.W, m.b), T)
    gW, gb = dlgradient(loss, m.W, m.b, EnableHigherDerivatives=True)
    pen = np.sum(gW ** 2)
    m.W = m.W - lr * dlgradient(pen, m.W)      # the write after the second (last) gradient
    return pen


def test_field_assigned_after_a_second_order_gradient():
    m = model()
    pen = dlfeval(step_second_order, m, 0.1)
    G = (X @ W0.T + B0 - T).T @ X / len(X)            # mse's gradient in W; pen = sum(G**2)
    dpen = 2.0 * G @ (X.T @ X) / len(X)               # its derivative in W, closed form
    assert float(D(pen)) == pytest.approx(float(np.sum(G ** 2)), rel=1e-12)
    assert_close(D(m.W), W0 - 0.1 * dpen, rtol=1e-10, atol=1e-12)
    assert D(m.b).tolist() == B0.tolist()


def step_list(ps, lr):
    loss = mse(fullyconnect(X, ps[0], ps[1]), T)
    gs = dlgradient(loss, ps)
    for i, w in enumerate(ps):
        ps[i] = w - lr * gs[i]
    return loss


def step_list_as_advised(ps, lr):
    loss = mse(fullyconnect(X, ps[0], ps[1]), T)
    gs = dlgradient(loss, ps)
    return loss, [w - lr * g for w, g in zip(ps, gs)]


def test_list_step_refused_with_advice_that_keeps_the_callers_list():
    ps = [dlarray(W0.copy()), dlarray(B0.copy())]
    with pytest.raises(CompileError) as info:
        dlfeval(step_list, ps, 0.1)
    message = str(info.value)
    assert f"test_step56_s56.py, line {step_list.__code__.co_firstlineno + 4}: writing into ps[...]" in message
    assert "ps[:] = new" in message and "ps = ps.copy()" not in message
    caller = ps
    for _ in range(3):                                    # the advice, followed: the caller's list changes
        loss, new = dlfeval(step_list_as_advised, ps, 0.1)
        ps[:] = new
    W, b = plain_steps(loss_mse, 3)
    assert ps is caller
    assert_close(D(ps[0]), W, rtol=1e-6, atol=1e-8)
    assert_close(D(ps[1]), b, rtol=1e-6, atol=1e-8)
