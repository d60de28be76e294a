"""MATLAB's documented deep-learning examples ported line for line (red team dec5c, "mdoc")."""
import numpy as np

from gradcheck import numerical_gradient
from sct import dlarray, dlfeval, dlgradient, dims, finddim


def _penalty_norm(X):
    # WGAN-GP: gradientsHatNorm = sqrt(sum(gradientsHat.^2, finddim(gradientsHat, "C")) + 1e-10)
    n = np.sqrt(np.sum(X ** 2, axis=finddim(X, "C")[0]) + 1e-10)
    return n, dlgradient(np.sum((n - 1) ** 2), X)


def _reductions(X):
    c = finddim(X, "C")
    return np.sum(X ** 2, axis=c[0]), np.mean(X, axis=finddim(X, "T")[-1]), X.sum(axis=finddim(X, "C")[0])


def test_reduction_over_a_finddim_item_keeps_the_labels_left():
    # was: inside dlfeval np.sum(X, axis=finddim(X, "C")[0]) came back unformatted ("" instead of "B")
    rng = np.random.default_rng(0)
    xn = rng.standard_normal((4, 3))
    n, g = dlfeval(_penalty_norm, dlarray(xn, "CB"))
    assert dims(n) == "B" and n.shape == (3,)
    assert dims(g) == "CB"
    np.testing.assert_allclose(np.asarray(n), np.sqrt(np.sum(xn ** 2, 0) + 1e-10), rtol=1e-14)
    fd = numerical_gradient(lambda x: np.sum((np.sqrt(np.sum(x ** 2, 0) + 1e-10) - 1) ** 2), [xn], 0)
    np.testing.assert_allclose(np.asarray(g), fd, atol=1e-7)
    X = dlarray(np.arange(24.0).reshape(2, 3, 4), "CBT")
    eager = _reductions(X)
    compiled = dlfeval(_reductions, X)
    assert [dims(v) for v in compiled] == [dims(v) for v in eager] == ["BT", "CB", "BT"]
    for a, b in zip(compiled, eager):
        np.testing.assert_allclose(np.asarray(a), np.asarray(b))


# --- writing into a network's output (MATLAB's GAN example: YReal(:,:,:,idx) = 1 - YReal(:,:,:,idx)) ---

from sct import (Layer, convolution2dLayer, dlnetwork, dropoutLayer, extractdata, featureInputLayer,  # noqa: E402
                 flattenLayer, forward, imageInputLayer, leakyReluLayer, predict, sigmoidLayer)


def _gan_discriminator_loss(netD, X, idx):
    YReal, _ = forward(netD, X)
    YReal[idx] = 1 - YReal[idx]
    lossD = -np.mean(np.log(YReal))
    return lossD, dlgradient(lossD, netD.Learnables)


def _gan_discriminator_loss_nargout1(netD, X, idx):
    YReal = predict(netD, X)
    YReal[idx] = 1 - YReal[idx]
    lossD = -np.mean(np.log(YReal))
    return lossD, dlgradient(lossD, netD.Learnables)


def test_writing_into_a_network_output_gan_label_flip():
    # was: CompileError "writing into YReal[...] ... net is an argument of modelLoss() and would change too"
    netD = dlnetwork([imageInputLayer([4, 4, 1], Normalization="none"), convolution2dLayer(3, 2, Padding="same"),
                      leakyReluLayer(0.2), convolution2dLayer(4, 1), sigmoidLayer()], Seed=2)
    rng = np.random.default_rng(3)
    X = dlarray(rng.uniform(-1, 1, (4, 4, 1, 3)), "SSCB")
    idx = np.array([True, False, True])

    def eager(values, fname):
        import copy
        n = copy.copy(netD)
        n.Learnables = netD.Learnables.with_values([dlarray(v) for v in values])
        Y = extractdata(forward(n, X, nargout=1) if fname == "forward" else predict(n, X))
        Y = np.array(Y)
        Y[idx] = 1 - Y[idx]
        return -np.mean(np.log(Y))

    vals = [np.asarray(v, dtype=float) for v in netD.Learnables.Value]
    for fun, fname in ((_gan_discriminator_loss, "forward"), (_gan_discriminator_loss_nargout1, "predict")):
        loss, g = dlfeval(fun, netD, X, idx)
        np.testing.assert_allclose(float(loss), eager(vals, fname), rtol=1e-13)
        for i in range(len(vals)):
            fd = numerical_gradient(lambda *v: eager(v, fname), vals, i)
            np.testing.assert_allclose(np.asarray(g.Value[i]), fd, atol=1e-7)


class _Identity(Layer):
    def predict(self, X):
        return X


class _ReturnsWeights(Layer):
    learnables = ("W",)

    def __init__(self):
        self.W = np.ones((2, 3))

    def predict(self, X):
        return self.W


def _write_into_prediction(net, X):
    Y = predict(net, X)
    Y[0] = 5 * Y[0]
    loss = np.sum(Y * X[0:2]) + np.sum(X ** 2)
    return loss, dlgradient(loss, X)


def test_network_outputs_are_new_arrays_never_the_input_or_a_learnable():
    # a network whose output would be its input (input layer only, an identity or dropout layer at predict,
    # a flatten layer's view) or a learnable: writing into the output changes neither, eagerly or compiled
    xn = np.arange(6.0).reshape(2, 3) / 7
    for layers in ([], [_Identity()], [dropoutLayer(0.5)], [flattenLayer()], [_ReturnsWeights()]):
        net = dlnetwork([featureInputLayer(3, Normalization="none")] + layers)
        before = [np.array(v) for v in net.Learnables.Value]
        X = dlarray(xn.copy())
        Y = predict(net, X)
        Y[0] = 5 * Y[0]
        np.testing.assert_array_equal(np.asarray(X), xn)
        for b, v in zip(before, net.Learnables.Value):
            np.testing.assert_array_equal(np.asarray(v), b)
        loss, gx = dlfeval(_write_into_prediction, net, dlarray(xn.copy()))

        def plain(x):
            y = np.array(np.asarray(predict(net, dlarray(x))))
            y[0] = 5 * y[0]
            return np.sum(y * x[0:2]) + np.sum(x ** 2)
        np.testing.assert_allclose(float(loss), plain(xn.copy()), rtol=1e-13)
        np.testing.assert_allclose(np.asarray(gx), numerical_gradient(plain, [xn.copy()], 0), atol=1e-7)
        np.testing.assert_array_equal(np.asarray(net.Learnables.Value[0]) if len(net.Learnables) else 0,
                                      before[0] if before else 0)


# --- dljacobian / dldivergence / dllaplacian of a network output labelled in another order than X ---

from sct import dldivergence, dljacobian, dllaplacian, fullyConnectedLayer, stripdims, tanhLayer  # noqa: E402


def _operators(net, X):
    U = forward(net, X, nargout=1)                 # "BC", X is "CB"
    div = dldivergence(U, X, 1)
    jac = dljacobian(U, X, 1)
    lap = dllaplacian(U[:, 0:1], X, 1)
    return div, jac, lap


def _divergence_loss(net, X):
    U = forward(net, X, nargout=1)
    div = dldivergence(U, X, 1)
    loss = np.sum(div ** 2)
    return loss, dlgradient(loss, net.Learnables)


def test_operator_of_a_network_output_in_another_label_order():
    # was: EvaluationError "the points of u along the batch axis 1 are not independent" (u's axis 1 is C)
    rng = np.random.default_rng(0)
    W = rng.standard_normal((2, 2)); b = rng.standard_normal(2)
    xn = rng.standard_normal((2, 3))                # 2 channels, 3 points

    def ref(W, b, full=False):
        t = np.tanh(W @ xn + b[:, None]); d1 = 1 - t ** 2; d2 = -2 * t * d1
        div = np.sum(np.diag(W)[:, None] * d1, 0)
        jac = np.einsum("cb,cj->bcj", d1, W)       # (points, u channels, x channels)
        lap = d2[0] * np.sum(W[0] ** 2)
        return (div, jac, lap) if full else np.sum(div ** 2)
    net = dlnetwork([featureInputLayer(2, Normalization="none"), fullyConnectedLayer(2, Weights=W, Bias=b), tanhLayer()])
    div, jac, lap = dlfeval(_operators, net, dlarray(xn, "CB"))
    loss, g = dlfeval(_divergence_loss, net, dlarray(xn, "CB"))
    rdiv, rjac, rlap = ref(W, b, True)
    np.testing.assert_allclose(np.asarray(div), rdiv, rtol=1e-12)
    np.testing.assert_allclose(np.asarray(lap).ravel(), rlap, rtol=1e-12)
    # u arranged as "CB" (2, 3), x "CB" (2, 3), dim=1: jac[c, b, j] = du[c, b]/dx[j, b]
    np.testing.assert_allclose(np.moveaxis(np.asarray(jac), 1, 0), rjac, rtol=1e-12)
    np.testing.assert_allclose(float(loss), ref(W, b), rtol=1e-12)
    for i, v in enumerate((W, b)):
        fd = numerical_gradient(ref, [W, b], i)
        np.testing.assert_allclose(np.asarray(g.Value[i]), fd, atol=1e-7)
