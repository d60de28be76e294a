"""The hand-written numpy gradients of benchmarks/cases_numpy.py (the baseline every
benchmark ratio divides by) against central differences, on small inputs."""
import os
import sys

import numpy as np
import pytest

from tests.gradcheck import assert_close, numerical_gradient

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "benchmarks"))
import cases_numpy  # noqa: E402


def _loss(fun, index):
    return lambda *args: float(fun(*args)[0])


def _check_all(fun, args, wrt, rtol=1e-6, atol=1e-7):
    _, grads = fun(*args)
    assert len(grads) == len(wrt)
    for g, i in zip(grads, wrt):
        expected = numerical_gradient(_loss(fun, i), args, i)
        assert g.shape == np.shape(args[i])
        assert_close(g, expected, rtol=rtol, atol=atol, what=f"{fun.__name__} argument {i}")


def _one_hot(rng, n, k):
    T = np.zeros((n, k))
    T[np.arange(n), rng.integers(0, k, n)] = 1
    return T


def test_mlp_f32_gradient_by_hand():
    # the same code runs in float64 here, so that central differences are exact enough
    rng = np.random.default_rng(0)
    X = rng.standard_normal((5, 7))
    args = [rng.standard_normal((7, 6)), rng.standard_normal(6), rng.standard_normal((6, 6)),
            rng.standard_normal(6), rng.standard_normal((6, 4)), rng.standard_normal(4), X,
            _one_hot(rng, 5, 4)]
    _check_all(cases_numpy.mlp_f32_grad, args, range(6))


def test_mlp_f32_keeps_float32():
    rng = np.random.default_rng(1)
    f = np.float32
    args = [a.astype(f) for a in (rng.standard_normal((7, 6)), rng.standard_normal(6),
                                  rng.standard_normal((6, 6)), rng.standard_normal(6),
                                  rng.standard_normal((6, 4)), rng.standard_normal(4),
                                  rng.standard_normal((5, 7)), _one_hot(rng, 5, 4))]
    loss, grads = cases_numpy.mlp_f32_grad(*args)
    assert loss.dtype == f and all(g.dtype == f for g in grads)


def test_rosenbrock_with_slices_gradient_by_hand():
    x = np.random.default_rng(2).uniform(-1.5, 1.5, 9)
    _check_all(cases_numpy.rosen_grad, [x], [0])
    # and the value is scipy's definition of the extended Rosenbrock
    y, _ = cases_numpy.rosen_grad(x)
    assert y == pytest.approx(sum(100*(x[i+1] - x[i]**2)**2 + (1 - x[i])**2 for i in range(8)))


def test_hessian_vector_product_by_hand():
    rng = np.random.default_rng(3)
    x, v = rng.uniform(-1.5, 1.5, 9), rng.standard_normal(9)
    _, (hv,) = cases_numpy.rosen_hvp(x, v)
    # central differences of the (checked) hand-written gradient along v
    h = 1e-6
    expected = (cases_numpy.rosen_grad(x + h*v)[1][0] - cases_numpy.rosen_grad(x - h*v)[1][0]) / (2*h)
    assert_close(hv, expected, rtol=1e-6, atol=1e-6, what="Hessian-vector product")
    # and against the full Hessian by second differences
    H = np.stack([numerical_gradient(lambda x: float(cases_numpy.rosen_grad(x)[1][0][k]), [x], 0)
                  for k in range(9)])
    assert_close(hv, H @ v, rtol=1e-5, atol=1e-5, what="H @ v")


def test_cnn_gradient_by_hand():
    rng = np.random.default_rng(4)
    X = rng.standard_normal((2, 6, 5, 1))
    args = [rng.standard_normal((3, 3, 1, 3)), rng.standard_normal(3), rng.standard_normal((3, 4)),
            rng.standard_normal(4), X, _one_hot(rng, 2, 4)]
    _check_all(cases_numpy.cnn_grad, args, range(4))


def test_cnn_forward_is_a_convolution():
    rng = np.random.default_rng(5)
    X = rng.standard_normal((1, 5, 4, 1))
    K = rng.standard_normal((3, 3, 1, 2))
    bk = np.zeros(2)
    Wd = np.eye(2)
    T = np.array([[1.0, 0.0]])
    # with identity dense weights the logits are the pooled relu of the convolution
    Z = np.zeros((1, 3, 2, 2))
    for r in range(3):
        for c in range(2):
            Z[0, r, c] = np.einsum("ij,ijo->o", X[0, r:r+3, c:c+3, 0], K[:, :, 0, :])
    P = np.maximum(Z, 0).mean(axis=(1, 2))[0]
    expected = -(P[0] - np.log(np.exp(P).sum()))
    loss, _ = cases_numpy.cnn_grad(K, bk, Wd, np.zeros(2), X, T)
    assert loss == pytest.approx(expected)


@pytest.mark.parametrize("fun", [cases_numpy.loop1000_grad, cases_numpy.branchy_grad])
def test_scalar_loops_by_hand(fun):
    # at the benchmark's point 0.3 (the branches are discontinuous: no difference step may
    # flip one, which happens at other points)
    y, (dy,) = fun(np.array(0.3))
    h = 1e-6
    expected = (fun(np.array(0.3 + h))[0] - fun(np.array(0.3 - h))[0]) / (2*h)
    assert dy == pytest.approx(expected, rel=1e-5)


def test_loop1000_gradient_has_not_vanished():
    # so that the benchmark's check of the gradient (relative tolerance) means something
    y, (dy,) = cases_numpy.loop1000_grad(np.array(0.3))
    assert 0.1 < abs(dy) < 10


# --- the training steps (train_cnn, train_mlp): the hand-written gradients and the Adam step ---------

def test_training_cnn_gradient_by_hand():
    # float64 and a small batch, so that central differences are exact enough; 'same' 3x3
    # convolutions, batch norm, relu, 2x2 max-pooling twice, dense
    rng = np.random.default_rng(6)
    X = rng.standard_normal((3, 4, 4, 1))
    args = [rng.standard_normal((3, 3, 1, 2)), rng.standard_normal(2), rng.standard_normal(2),
            1 + 0.1 * rng.standard_normal(2), rng.standard_normal((3, 3, 2, 3)), rng.standard_normal(3),
            rng.standard_normal(3), 1 + 0.1 * rng.standard_normal(3), rng.standard_normal((4, 3)),
            rng.standard_normal(4), X, _one_hot(rng, 3, 4)]
    fun = cases_numpy.cnn_train_grad
    loss, grads, stats = fun(*args)
    for i, g in enumerate(grads):
        expected = numerical_gradient(lambda *a: float(fun(*a)[0]), args, i)
        assert_close(g, expected, rtol=1e-5, atol=1e-7, what=f"cnn_train_grad argument {i}")


def test_training_cnn_agrees_with_sct():
    # the same network and loss written with sct's dlnetwork (the benchmark's sct side), float64
    import cases_data
    import cases_sct
    from sct import dlarray, dlfeval
    inputs = cases_data.make_inputs("train_cnn")
    inputs = type(inputs)((k, v.astype(np.float64)) for k, v in inputs.items())
    loss, grads, _ = cases_numpy.cnn_train_grad(*inputs.values())
    net = cases_sct.training_network("train_cnn", inputs)
    sloss, sgrads, state = dlfeval(cases_sct.model_loss, net, dlarray(inputs["X"]), dlarray(inputs["T"]))
    assert float(sloss) == pytest.approx(loss, rel=1e-10)
    for g, s in zip(grads, cases_sct.training_gradients("train_cnn", [np.asarray(v.data) for v in sgrads.Value])):
        assert_close(s, g, rtol=1e-8, atol=1e-10)


def test_training_mlp_gradient_by_hand():
    rng = np.random.default_rng(7)
    args = [rng.standard_normal((6, 7)), rng.standard_normal(6), rng.standard_normal((6, 6)),
            rng.standard_normal(6), rng.standard_normal((4, 6)), rng.standard_normal(4),
            rng.standard_normal((5, 7)), _one_hot(rng, 5, 4)]
    _check_all(cases_numpy.mlp_train_grad, args, range(6))


def test_adam_step_by_hand_is_matlabs_adamupdate():
    from sct import adamupdate
    rng = np.random.default_rng(8)
    params = [rng.standard_normal((3, 2)).astype(np.float32), rng.standard_normal(2).astype(np.float32)]
    ours = [p.copy() for p in params]
    m = [np.zeros_like(p) for p in params]
    v = [np.zeros_like(p) for p in params]
    theirs, avg, avg_sq = params, None, None
    for t in range(1, 4):
        grads = [rng.standard_normal(p.shape).astype(np.float32) for p in params]
        cases_numpy.adam_step(ours, grads, m, v, t)
        theirs, avg, avg_sq = adamupdate(theirs, grads, avg, avg_sq, t)
    for a, b in zip(ours, theirs):
        assert a.dtype == np.float32
        assert_close(a, np.asarray(b), rtol=1e-6, atol=1e-7)
