"""Red team Q (Dec 16): MATLAB's documented scenarios (seeds 000-004 and the reference pages of the
functions they name) translated as a user would, checked against closed forms, plain numpy and
central differences.

Found (fixed): a custom layer's ``backward`` returning a derivative of another size than its input
or learnable was broadcast or summed into shape silently. Seed 001 says dLdX has the size of X and
dLdAlpha the size of Alpha; a dLdX summed over the observations (shape (H, W, C) for an X of
(B, H, W, C)) was broadcast back to every observation: a wrong gradient with no error. Now refused,
naming the layer, what the derivative is for and both shapes (runtime/layers.py: backward_results).
"""
import numpy as np
import pytest

import sct
from sct import (Layer, avgpool, convolution2dLayer, crossentropy, dims, dlaccelerate, dlarray, dlconv,
                 dlfeval, dlgradient, dljacobian, dlnetwork, dlupdate, extractdata, featureInputLayer,
                 finddim, forward, fullyConnectedLayer, fullyconnect, imageInputLayer, mse, predict, relu,
                 reluLayer, softmax, softmaxLayer, tanhLayer)
from gradcheck import assert_close, numerical_gradient

RNG = np.random.default_rng(16)


# --- seed 000/004: Rosenbrock ------------------------------------------------------------------

def rosenbrock_row(x):
    # MATLAB's x0 = dlarray([-1,2]) is a 1x2 row: x(1), x(2) are x[0, 0], x[0, 1]
    y = 100*(x[0, 1] - x[0, 0]**2)**2 + (1 - x[0, 0])**2
    dydx = dlgradient(y, x)
    return y, dydx


def test_rosenbrock_as_a_1x2_row():
    fval, gradval = dlfeval(rosenbrock_row, dlarray([[-1, 2]]))
    assert float(fval) == 104
    assert gradval.shape == (1, 2)
    np.testing.assert_array_equal(extractdata(gradval), [[396, 200]])


def rosenbrock2(x1, x2):
    y = 100*(x2 - x1**2)**2 + (1 - x1)**2
    dydx1, dydx2 = dlgradient(y, x1, x2)
    return y, dydx1, dydx2


def test_rosenbrock_quiver_loop_writes_into_dlarrays():
    # [X1 X2] = meshgrid(linspace(0,1,10)); X1 = dlarray(X1(:)); ...; Y(i), DYDX1(i), DYDX2(i) = ...
    G1, G2 = np.meshgrid(np.linspace(0, 1, 10), np.linspace(0, 1, 10))
    X1 = dlarray(G1.reshape(-1, 1, order="F"))
    X2 = dlarray(G2.reshape(-1, 1, order="F"))
    Y = dlarray(np.zeros(X1.shape))
    DYDX1 = dlarray(np.zeros(X1.shape))
    DYDX2 = dlarray(np.zeros(X1.shape))
    for i in range(0, len(X1), 3):
        Y[i], DYDX1[i], DYDX2[i] = dlfeval(rosenbrock2, X1[i], X2[i])
    a, b = extractdata(X1)[::3, 0], extractdata(X2)[::3, 0]
    assert_close(extractdata(Y)[::3, 0], 100 * (b - a**2)**2 + (1 - a)**2)
    assert_close(extractdata(DYDX1)[::3, 0], -400 * a * (b - a**2) - 2 * (1 - a))
    assert_close(extractdata(DYDX2)[::3, 0], 200 * (b - a**2))


# --- seed 004: complex -------------------------------------------------------------------------

def complexFun(x):
    y = (2+3j)*x
    return y


def gradFun(x):
    y = complexFun(x)
    y = np.real(y)
    grad = dlgradient(np.sum(y), x)
    return y, grad


def test_complex_example_on_the_documented_grids():
    functionRes = np.linspace(-2, 2, 100)
    x = functionRes + 1j * functionRes[:, None]
    y, grad = dlfeval(gradFun, dlarray(x))
    assert y.dtype == np.float64 and y.shape == (100, 100)
    assert_close(extractdata(y), np.real((2 + 3j) * x))
    assert grad.dtype == np.complex128
    gradientRes = np.linspace(-2, 2, 11)
    xGrad = gradientRes + 1j * gradientRes[:, None]
    _, gradPlot = dlfeval(gradFun, dlarray(xGrad))
    assert complex(extractdata(gradPlot)[0, 0]) == 2 - 3j
    np.testing.assert_allclose(extractdata(gradPlot), 2 - 3j)
    # steepest ascent: dL/dRe(x) + i dL/dIm(x), the shared checker's convention
    pts = xGrad[:2, :3].copy()
    num = numerical_gradient(lambda z: np.sum(np.real((2 + 3j) * z)), [pts], 0)
    assert_close(extractdata(dlfeval(gradFun, dlarray(pts))[1]), num)


def allow_complex_false_with_complex_intermediates(x):
    z = x * np.exp(1j * x)
    y = np.sum(np.abs(z) ** 2 + np.real(z))
    return dlgradient(y, x, AllowComplex=False)


def test_allow_complex_false_intermediate_values_may_be_complex():
    x = np.array([0.4, -1.1, 2.0])
    g = dlfeval(allow_complex_false_with_complex_intermediates, dlarray(x))
    assert g.dtype == np.float64
    ref = numerical_gradient(lambda v: np.sum(np.abs(v * np.exp(1j * v)) ** 2 + np.real(v * np.exp(1j * v))),
                             [x.copy()], 0)
    assert_close(extractdata(g), ref)


def complex_hvp(x, v):
    y = np.sum(np.abs(np.sin(x)) ** 2)
    g = dlgradient(y, x)
    return dlgradient(np.real(np.sum(np.conj(g) * v)), x)


def complex_grad(x):
    return dlgradient(np.sum(np.abs(np.sin(x)) ** 2), x)


def test_complex_gradient_of_a_gradient():
    z = np.array([1 + 2j, -0.5 + 0.3j])
    v = np.array([0.3 - 0.2j, 1.0 + 0.5j])
    h = dlfeval(complex_hvp, dlarray(z), v)
    ref = numerical_gradient(
        lambda w: np.real(np.sum(np.conj(extractdata(dlfeval(complex_grad, dlarray(w)))) * v)), [z.copy()], 0)
    assert_close(extractdata(h), ref, rtol=1e-5, atol=1e-5)


def complex_y_with_zero_imaginary_part(x):
    return dlgradient(np.sum(x * np.conj(x)), x)


def test_y_of_complex_dtype_is_refused_even_with_zero_imaginary_part():
    with pytest.raises(sct.SctError, match="real"):
        dlfeval(complex_y_with_zero_imaginary_part, dlarray(np.array([1 + 2j])))


# --- seed 002: tracing rules --------------------------------------------------------------------

def untraced_portion(x1):
    x2 = dlarray(0.0)
    y = x1 + x2
    dy1 = dlgradient(y, x1)          # no error even though y has an untraced portion
    return dy1


def untraced_x2(x1):
    x2 = dlarray(0.0)
    y = x1 + x2
    dy = dlgradient(y, x2)           # error: x2 is untraced
    dy1 = dlgradient(y, x1)
    return dy, dy1


def test_untraced_portion_and_untraced_x():
    assert float(dlfeval(untraced_portion, dlarray(1.5))) == 1.0
    with pytest.raises(sct.CompileError, match="'x2'") as info:
        dlfeval(untraced_x2, dlarray(1.5))
    assert info.value.lineno == untraced_x2.__code__.co_firstlineno + 3


def test_anonymous_function_examples():
    fun = lambda x: dlgradient(x + np.arctan(extractdata(x)), x)     # noqa: E731
    assert float(dlfeval(fun, dlarray(2.5))) == 1.0
    slope = lambda t: dlgradient(relu(t), t)                          # noqa: E731
    assert float(dlfeval(slope, dlarray(0.0))) == 0.0
    assert float(dlfeval(slope, dlarray(np.finfo(float).eps))) == 1.0


def model(net, dlX, T):
    y = forward(net, dlX, nargout=1)
    f = mse(y, T)
    g = dlgradient(f, net.Learnables)
    return f, g


def test_high_level_training_loop_with_dlupdate():
    net = dlnetwork([featureInputLayer(2), fullyConnectedLayer(3), tanhLayer(), fullyConnectedLayer(1)], Seed=1)
    X = dlarray(RNG.standard_normal((8, 2)))
    t = np.sum(extractdata(X), axis=1, keepdims=True)
    n, nmax, losses = 1, 30, []
    while n < nmax:
        f, g = dlfeval(model, net, X, t)
        net = dlupdate(lambda p, gg: p - 0.1 * gg, net, g)
        losses.append(float(f))
        n += 1
    assert losses[-1] < 0.5 * losses[0]


# --- seed 003: the forward/reverse mode example f(x) = x1 exp(-(x1^2 + x2^2)/2) at (2, 1/2) --------

def u_graph(x1, x2):
    u_m1 = x1
    u0 = x2
    u1 = u_m1 ** 2
    u2 = u0 ** 2
    u3 = u1 + u2
    u4 = u3 / 2
    u5 = np.exp(-u4)
    u6 = u5 * u_m1
    return u6, dlgradient(u6, x1, x2)


def test_background_example_reverse_and_forward():
    e = np.exp(-0.5 * (2.0**2 + 0.5**2))
    u, (d1, d2) = dlfeval(u_graph, dlarray(2.0), dlarray(0.5))
    assert np.isclose(float(u), 2 * e)
    assert np.isclose(float(d1), e * (1 - 2.0**2)) and np.isclose(float(d2), -2.0 * 0.5 * e)

    def f(x):
        return x[0] * np.exp(-0.5 * (x[0]**2 + x[1]**2))
    for tangent, expected in (([1.0, 0.0], e * (1 - 4.0)), ([0.0, 1.0], -e)):
        for mode in ("forward", "transpose"):
            _, jv = sct.jvp(f, np.array([2.0, 0.5]), np.array(tangent), mode=mode)
            assert np.isclose(float(jv), expected)


# --- options: name-value pairs, unknown names, several sites ------------------------------------

def name_value_pairs(x):
    y = np.sum(x ** 3)
    g = dlgradient(y, x, "EnableHigherDerivatives", True, "RetainData", True)
    return dlgradient(np.sum(g), x, "retaindata", 1)


def higher_off_by_zero(x):
    g = dlgradient(np.sum(x ** 3), x, EnableHigherDerivatives=0)
    return dlgradient(np.sum(g) + np.sum(x), x)


def contact_keyword(x):
    return dlgradient(np.sum(x ** 2), x, Contact=True)


def contact_pair(x):
    return dlgradient(np.sum(x ** 2), x, "Contact", True)


def test_option_spellings():
    x = np.array([0.3, -0.7])
    assert_close(extractdata(dlfeval(name_value_pairs, dlarray(x))), 6 * x)
    assert_close(extractdata(dlfeval(higher_off_by_zero, dlarray(x))), np.ones(2))
    for fn in (contact_keyword, contact_pair):
        with pytest.raises(sct.CompileError, match="no option 'Contact'"):
            dlfeval(fn, dlarray(x))


def sum_of_gradients(x):
    y = np.sum(np.exp(x))
    g1 = dlgradient(y, x, RetainData=True)
    g2 = dlgradient(np.sum(g1 * x), x)            # exp(x) (1 + x)
    g3 = dlgradient(np.sum(g1) + np.sum(g2), x)   # exp(x) (3 + x)
    return g1, g2, g3


def constant_in_the_middle(x):
    g = dlgradient(np.sum(x ** 4), x)                                  # 4 x^3, traced
    h = dlgradient(np.sum(g), x, EnableHigherDerivatives=False)        # 12 x^2, a constant
    return dlgradient(np.sum(h * x) + np.sum(g), x)                    # h + 12 x^2


def mixed_partials(x, w):
    gx = dlgradient(np.sum(np.sin(x * w) * x), x)
    return dlgradient(np.sum(gx ** 2), w)


def grad_x_only(x, w):
    return dlgradient(np.sum(np.sin(x * w) * x), x)


def test_gradients_of_gradients():
    x = np.array([0.3, -0.7, 1.1])
    g1, g2, g3 = dlfeval(sum_of_gradients, dlarray(x))
    assert_close(extractdata(g1), np.exp(x))
    assert_close(extractdata(g2), np.exp(x) * (1 + x))
    assert_close(extractdata(g3), np.exp(x) * (3 + x))
    assert_close(extractdata(dlfeval(constant_in_the_middle, dlarray(x))), 24 * x ** 2)
    w = np.array([0.5, 1.5, -0.2])
    ref = numerical_gradient(
        lambda v: np.sum(extractdata(dlfeval(grad_x_only, dlarray(x), dlarray(v))) ** 2), [w.copy()], 0)
    assert_close(extractdata(dlfeval(mixed_partials, dlarray(x), dlarray(w))), ref)


# --- formats: "SSCB" and "CB" ---------------------------------------------------------------------

def conv_loss(X, W, b):
    Y = avgpool(relu(dlconv(X, W, b)), 2)
    loss = np.sum(Y ** 2)
    return loss, dlgradient(loss, X, W, b), Y


def fc_loss(X, W, b, T):
    Y = softmax(fullyconnect(X, W, b))
    loss = crossentropy(Y, T)
    return loss, dlgradient(loss, X), Y


def test_formatted_gradients_keep_format_and_precision():
    X = dlarray(RNG.standard_normal((4, 4, 3, 2)).astype(np.float32), "SSCB")
    W = dlarray(RNG.standard_normal((3, 3, 3, 5)).astype(np.float32))
    b = dlarray(np.zeros(5, np.float32))
    loss, (gX, gW, gb), Y = dlfeval(conv_loss, X, W, b)
    assert dims(gX) == "SSCB" and gX.dtype == np.float32 and gX.shape == X.shape
    assert dims(Y) == "SSCB" and Y.shape == (1, 1, 5, 2) and loss.dtype == np.float32
    W64, b64 = extractdata(W).astype(np.float64), extractdata(b).astype(np.float64)

    def ref(Xd):
        return float(np.sum(extractdata(avgpool(relu(dlconv(dlarray(Xd, "SSCB"), W64, b64)), 2)) ** 2))
    assert_close(extractdata(gX), numerical_gradient(ref, [extractdata(X).astype(np.float64)], 0),
                 rtol=1e-4, atol=1e-4)

    Xc = dlarray(RNG.standard_normal((3, 5)), "CB")
    Wc, bc = RNG.standard_normal((2, 3)), np.zeros(2)
    T = dlarray(np.eye(2)[:, [0, 1, 1, 0, 1]], "CB")
    loss, gX, Y = dlfeval(fc_loss, Xc, dlarray(Wc), dlarray(bc), T)
    assert dims(gX) == "CB" and dims(Y) == "CB"

    def ref2(Xd):
        Z = Wc @ Xd + bc[:, None]
        P = np.exp(Z) / np.exp(Z).sum(0)
        return -np.sum(extractdata(T) * np.log(P)) / 5
    assert np.isclose(float(loss), ref2(extractdata(Xc)))
    assert_close(extractdata(gX), numerical_gradient(ref2, [extractdata(Xc).copy()], 0))


# --- seed 001: the PReLU layer with its backward --------------------------------------------------

class preluLayer(Layer):
    learnables = ("Alpha",)

    def __init__(self, Name=""):
        self.Name = Name
        self.Description = "PReLU"
        self.Alpha = None

    def initialize(self, layout):
        if self.Alpha is not None:
            return self
        sz = layout.Size
        idx = finddim(layout, "C")[0]
        szAlpha = [1] * len(sz)
        szAlpha[idx] = sz[idx]
        self.Alpha = np.random.default_rng(0).random(tuple(szAlpha[1:]))     # without the batch axis
        return self

    def predict(self, X):
        return np.maximum(X, 0) + self.Alpha * np.minimum(0, X)


class preluLayerWithBackward(preluLayer):
    def backward(self, X, _Z, dLdZ, _memory):
        dLdX = self.Alpha * dLdZ
        dLdX[X > 0] = dLdZ[X > 0]
        dLdAlpha = np.minimum(0, X) * dLdZ
        dLdAlpha = np.sum(dLdAlpha, axis=(1, 2), keepdims=True)      # MATLAB's sum(dLdAlpha,[1 2])
        dLdAlpha = np.sum(dLdAlpha, axis=0)                          # sum over the mini-batch
        return dLdX, dLdAlpha


def modelLoss(net, X, T):
    Y, state = forward(net, X)
    loss = crossentropy(Y, T)
    gradients = dlgradient(loss, net.Learnables)
    return loss, gradients, state


@pytest.mark.parametrize("cls", [preluLayer, preluLayerWithBackward])
def test_prelu_after_a_convolution(cls):
    net = dlnetwork([imageInputLayer([6, 6, 2], Normalization="none"), convolution2dLayer(3, 4, Padding="same"),
                     cls(Name="prelu"), fullyConnectedLayer(3), softmaxLayer()], Seed=0)
    assert np.shape(net.Learnables.Value[2]) == (1, 1, 4)
    X = RNG.standard_normal((3, 6, 6, 2))
    T = np.eye(3)[[0, 2, 1]]
    loss, g, _ = dlfeval(modelLoss, net, dlarray(X), T)
    values = [np.array(extractdata(v)) for v in net.Learnables.Value]

    def ref(*vs):
        n2 = net.with_learnables([dlarray(v) for v in vs])
        return float(extractdata(crossentropy(predict(n2, X), T)))
    assert np.isclose(float(loss), ref(*values))
    for k in (0, 2, 3):
        assert np.shape(g.Value[k]) == np.shape(values[k])
        assert_close(extractdata(g.Value[k]), numerical_gradient(ref, values, k), what=g.Parameter[k])
    # MATLAB's layout: the same loss from an "SSCB" dlarray
    loss2, g2, _ = dlfeval(modelLoss, net, dlarray(np.transpose(X, (1, 2, 3, 0)), "SSCB"), T)
    assert np.isclose(float(loss2), float(loss))
    for a, b in zip(g.Value, g2.Value):
        assert_close(extractdata(a), extractdata(b))


class PReLU(Layer):
    learnables = ("Alpha",)

    def __init__(self, alpha):
        self.Alpha = alpha

    def predict(self, X):
        return np.maximum(X, 0) + self.Alpha * np.minimum(0, X)


class AlphaAsVector(PReLU):
    def backward(self, X, Z, dLdZ, memory):          # (C,) for an Alpha of (1, 1, C): the same numbers
        return np.where(X > 0, dLdZ, self.Alpha * dLdZ), np.sum(np.minimum(0, X) * dLdZ, axis=(0, 1, 2))


class InputSummedOverBatch(PReLU):
    def backward(self, X, Z, dLdZ, memory):          # dLdX of (H, W, C) for an X of (B, H, W, C)
        dLdX = np.where(X > 0, dLdZ, self.Alpha * dLdZ)
        return np.sum(dLdX, axis=0), np.sum(np.minimum(0, X) * dLdZ, axis=(0, 1, 2), keepdims=True)[0]


class AlphaNotSummed(PReLU):
    def backward(self, X, Z, dLdZ, memory):          # dLdAlpha of (H, W, C) for an Alpha of (1, 1, C)
        return np.where(X > 0, dLdZ, self.Alpha * dLdZ), np.sum(np.minimum(0, X) * dLdZ, axis=0)


class MatlabAxesKept(PReLU):
    def backward(self, X, Z, dLdZ, memory):          # sum(dLdAlpha,[1 2]) then sum(..,4) ported as is,
        dLdX = np.where(X > 0, dLdZ, self.Alpha * dLdZ)     # on sct's batch-first X: the wrong axes
        dLdAlpha = np.sum(np.minimum(0, X) * dLdZ, axis=(0, 1), keepdims=True)
        return dLdX, np.sum(dLdAlpha, axis=3)[0]


class VararginBackward(PReLU):
    def backward(self, *args):                       # MATLAB's varargin / varargout
        X, Z, dLdZ, memory = args
        dLdX = self.Alpha * dLdZ
        dLdX[X > 0] = dLdZ[X > 0]
        return [dLdX, np.sum(np.minimum(0, X) * dLdZ, axis=(0, 1, 2), keepdims=True)[0]]


def through_layer(layer, X):
    Z = layer(X)
    loss = np.sum(Z ** 2)
    return dlgradient(loss, X, layer)


X4 = RNG.standard_normal((2, 3, 3, 4))
A4 = RNG.uniform(0.1, 0.5, (1, 1, 4))


def test_custom_backward_results_of_the_right_size_are_used():
    gx_ref, gl_ref = dlfeval(through_layer, PReLU(dlarray(A4)), dlarray(X4))
    for cls in (AlphaAsVector, VararginBackward):
        gx, gl = dlfeval(through_layer, cls(dlarray(A4)), dlarray(X4))
        assert gx.shape == X4.shape and gl.Alpha.shape == A4.shape
        assert_close(extractdata(gx), extractdata(gx_ref))
        assert_close(extractdata(gl.Alpha), extractdata(gl_ref.Alpha))


@pytest.mark.parametrize("cls, what", [(InputSummedOverBatch, r"shape \(3, 3, 4\) for its input of shape "
                                                              r"\(2, 3, 3, 4\)"),
                                       (AlphaNotSummed, r"shape \(3, 3, 4\) for its learnable 'Alpha' of "
                                                        r"shape \(1, 1, 4\)"),
                                       (MatlabAxesKept, r"shape \(1, 3\) for its learnable 'Alpha' of "
                                                        r"shape \(1, 1, 4\)")])
def test_custom_backward_result_of_another_size_is_refused(cls, what):
    # before: InputSummedOverBatch's dLdX was broadcast to every observation (a wrong gradient)
    with pytest.raises(sct.EvaluationError, match=what) as info:
        dlfeval(through_layer, cls(dlarray(A4)), dlarray(X4))
    assert info.value.lineno == through_layer.__code__.co_firstlineno + 1


def hvp_in_network(net, X, V):
    Y = predict(net, X)
    gX = dlgradient(np.sum(np.sin(Y) * X), X)
    return dlgradient(np.sum(gX * V), net.Learnables)


class PReLU2(PReLU):
    def __init__(self, alpha, Name="prelu"):
        self.Alpha = alpha
        self.Name = Name

    def backward(self, X, Z, dLdZ, memory):
        dLdX = self.Alpha * dLdZ
        dLdX[X > 0] = dLdZ[X > 0]
        return dLdX, np.sum(np.minimum(0, X) * dLdZ, axis=0)


def input_gradient(x, a):
    return dlgradient(np.sum(np.sin(np.maximum(x, 0) + a * np.minimum(0, x)) * x), x)


def test_second_derivative_through_a_network_with_a_custom_backward():
    # MATLAB's limitation list: not supported there; sct differentiates the backward again
    X = RNG.standard_normal((6, 3))
    V = RNG.standard_normal((6, 3))
    A = RNG.uniform(0.1, 0.5, 3)
    net = dlnetwork([featureInputLayer(3), PReLU2(dlarray(A))])
    g = dlfeval(hvp_in_network, net, dlarray(X), V)
    ref = numerical_gradient(
        lambda a: np.sum(extractdata(dlfeval(input_gradient, dlarray(X), dlarray(a))) * V), [A.copy()], 0)
    assert_close(extractdata(g.Value[0]), ref)


# --- dljacobian of a network, dlaccelerate with value-dependent control flow -----------------------

def jacobian_of_network(net, X):
    Y = forward(net, X, nargout=1)
    return Y, dljacobian(Y, X, 0)


def test_dljacobian_of_a_network():
    net = dlnetwork([imageInputLayer([4, 4, 3]), convolution2dLayer(3, 4), reluLayer(), fullyConnectedLayer(5),
                     softmaxLayer()], Seed=0)
    X = RNG.random((2, 4, 4, 3))
    Y, jac = dlfeval(jacobian_of_network, net, dlarray(X))
    assert jac.shape == (2, 5, 4, 4, 3)
    for b, i in ((0, 2), (1, 4)):
        ref = numerical_gradient(lambda xb: float(extractdata(predict(net, xb[None]))[0, i]), [X[b].copy()], 0)
        assert_close(extractdata(jac)[b, i], ref)


def modelGradients(x, n, flag):
    y = x
    for i in range(n):
        y = np.sin(y)
    if flag:
        y = y * 2
    loss = np.sum(y)
    return loss, dlgradient(loss, x)


def test_accelerated_function_follows_numeric_arguments():
    acc = dlaccelerate(modelGradients)
    x = np.array([0.3, -0.5])
    for n, flag in ((1, False), (3, True), (0, True), (2, 0), (2, 1.0)):
        loss, g = dlfeval(acc, dlarray(x), n, flag)
        y, d = x.copy(), np.ones(2)
        for _ in range(n):
            d, y = d * np.cos(y), np.sin(y)
        scale = 2 if flag else 1
        assert np.isclose(float(loss), scale * np.sum(y))
        assert_close(extractdata(g), scale * d)


# --- found (message): dlgradient reached at run time inside dlfeval said "it was called directly" ----

def through_a_local_name(x):
    g = sct.dlgradient
    return g(np.sum(x ** 2), x)


def given_as_argument(x, fn):
    return fn(np.sum(x ** 2), x)


def test_dlgradient_not_seen_when_compiling_says_so():
    for fn, args, line in ((through_a_local_name, (), 2), (given_as_argument, (sct.dlgradient,), 1)):
        with pytest.raises(sct.SctError, match="called while dlfeval runs") as info:
            dlfeval(fn, dlarray([0.5, -1.5]), *args)
        assert "called directly" not in str(info.value)
        assert info.value.lineno == fn.__code__.co_firstlineno + line
    with pytest.raises(sct.SctError, match="called directly"):
        sct.dlgradient(dlarray(1.0), dlarray(1.0))


def gradient_wrt_first(x, w):
    return dlgradient(np.sum(x * w), x)


def test_gradient_wrt_a_logical_dlarray_names_its_data_type():
    # it said "it is not a dlarray argument of dlfeval" of a dlarray argument of dlfeval
    with pytest.raises(sct.CompileError, match="dlarray of bool data") as info:
        dlfeval(gradient_wrt_first, dlarray(np.array([True, False])), dlarray([1.0, 2.0]))
    assert info.value.lineno == gradient_wrt_first.__code__.co_firstlineno + 1
    with pytest.raises(sct.CompileError, match="not a dlarray argument of dlfeval"):
        dlfeval(gradient_wrt_first, np.array([1.0, 2.0]), dlarray([1.0, 2.0]))


# --- found: a custom backward's None for dLdX was taken as zeros (a silent zero derivative for a traced
# input); an exact 0 crashed in the matmul adjoint before it (a ValueError about core dimensions); a
# dLdX of (3,) for an X of (1, 3) crashed there too. None is refused, 0 is zeros of X's shape, (3,) is
# reshaped to (1, 3), another shape ((3, 1)) is refused by name. ------------------------------------------------------------------

class NoneForInput(PReLU):
    def backward(self, X, Z, dLdZ, memory):
        return None, np.sum(np.minimum(0, X) * dLdZ, axis=0)


class ZeroForInput(PReLU):
    def backward(self, X, Z, dLdZ, memory):
        return 0, np.sum(np.minimum(0, X) * dLdZ, axis=0)


class FlatInput(PReLU):
    def backward(self, X, Z, dLdZ, memory):
        return np.where(X > 0, dLdZ, self.Alpha * dLdZ).ravel(), np.sum(np.minimum(0, X) * dLdZ, axis=0)


class TransposedInput(PReLU):
    def backward(self, X, Z, dLdZ, memory):
        return np.where(X > 0, dLdZ, self.Alpha * dLdZ).T, np.sum(np.minimum(0, X) * dLdZ, axis=0)


def through_matmul(layer, W, h):
    loss = np.sum(np.sin(layer(h @ W)))
    return dlgradient(loss, W, layer)


def test_custom_backward_none_zero_and_flat_input_derivatives():
    h = RNG.standard_normal((1, 4))
    W = RNG.standard_normal((4, 3))
    A = RNG.uniform(0.1, 0.5, 3)
    with pytest.raises(sct.EvaluationError, match="returned None for its input") as info:
        dlfeval(through_matmul, NoneForInput(dlarray(A)), dlarray(W), h)
    assert info.value.lineno == through_matmul.__code__.co_firstlineno + 1
    gW, layer = dlfeval(through_matmul, ZeroForInput(dlarray(A)), dlarray(W), h)
    np.testing.assert_array_equal(extractdata(gW), np.zeros((4, 3)))
    X = h @ W
    ref = numerical_gradient(lambda a: np.sum(np.sin(np.maximum(X, 0) + a * np.minimum(0, X))), [A.copy()], 0)
    assert_close(extractdata(layer.Alpha), ref)
    # (3,) for an X of (1, 3): the same numbers, reshaped (it crashed in the matmul adjoint)
    gW, _ = dlfeval(through_matmul, FlatInput(dlarray(A)), dlarray(W), h)
    ref = numerical_gradient(lambda w: np.sum(np.sin(np.maximum(h @ w, 0) + A * np.minimum(0, h @ w))), [W.copy()], 0)
    assert_close(extractdata(gW), ref)
    with pytest.raises(sct.EvaluationError, match=r"shape \(3, 1\) for its input of shape \(1, 3\)"):
        dlfeval(through_matmul, TransposedInput(dlarray(A)), dlarray(W), h)


# --- found: dlgradient with respect to one result of a call while y depends on its other results gave
# zeros. Grad-CAM (linked from seed 002): [featureMap, scores] = forward(net, X, Outputs=...);
# dlgradient(scores(classIdx), featureMap) came back all zeros (numerical: up to 0.06); a helper
# `h, out = helper(x)` with out computed from h gave 0 where the same code inline gives 2. Refused now,
# at the line, naming x and the call. ------------------------------------------------------------------

def gradcam(net, X, classIdx):
    (featureMap, scores), _ = forward(net, X, Outputs=["relu", "softmax"])
    classScore = scores[0, classIdx]
    dScoresdMap = dlgradient(classScore, featureMap)
    return featureMap, dScoresdMap


def two_results(x):
    h = np.tanh(x)
    out = h * 2
    return h, out


def through_helper(x):
    h, out = two_results(x)
    return dlgradient(np.sum(out), h)


def inline(x):
    h = np.tanh(x)
    out = h * 2
    return dlgradient(np.sum(out), h)


def first_result_only(x):
    h, out = two_results(x)
    return dlgradient(np.sum(h ** 2), h)


def state_unused(net, X):
    Y, state = forward(net, X)
    return dlgradient(np.sum(Y ** 2), Y), state


def test_gradient_with_respect_to_a_sibling_result_is_computed_or_refused_not_zero():
    net = dlnetwork([imageInputLayer([6, 6, 1], Normalization="none"), convolution2dLayer(3, 4, Padding="same"),
                     reluLayer(Name="relu"), fullyConnectedLayer(3), softmaxLayer(Name="softmax")], Seed=0)
    X = RNG.standard_normal((1, 6, 6, 1))
    # Grad-CAM is computed now (sct/network_outputs.py; checked against the network's tail in
    # tests/test_gradcam_dec17.py): the gradient is shaped like the feature map, and not zero
    fm, d = dlfeval(gradcam, net, dlarray(X), 1)
    assert extractdata(d).shape == extractdata(fm).shape and np.abs(extractdata(d)).max() > 1e-4
    # a helper of the same file is read in place (sct/inline_helpers.py: its result holds x), so the
    # derivative follows its statements: the same as the code written inline
    np.testing.assert_array_equal(extractdata(dlfeval(through_helper, dlarray([0.3, 0.5]))), [2.0, 2.0])
    np.testing.assert_array_equal(extractdata(dlfeval(inline, dlarray([0.3, 0.5]))), [2.0, 2.0])
    # y reading only x's own result, or the other results unused: not refused
    assert_close(extractdata(dlfeval(first_result_only, dlarray([0.3, 0.5]))), 2 * np.tanh([0.3, 0.5]))
    bn = dlnetwork([featureInputLayer(3), fullyConnectedLayer(4), sct.batchNormalizationLayer(),
                    fullyConnectedLayer(2)], Seed=0)
    Xb = RNG.standard_normal((5, 3))
    g, _ = dlfeval(state_unused, bn, dlarray(Xb))
    Y = forward(bn, Xb, nargout=1)
    assert_close(extractdata(g), 2 * extractdata(Y))


def dict_result(x):
    h = np.tanh(x)
    return {"h": h, "out": h * 2}


def part_of_a_result(x):
    d = dict_result(x)
    return dlgradient(np.sum(d["out"]), d["h"])


def item_of_a_result(x):
    res = two_results(x)
    return dlgradient(np.sum(res[1]), res[0])


def same_part_only(x):
    d = dict_result(x)
    h = d["h"]
    return dlgradient(np.sum(h ** 2) + np.sum(d["h"]), d["h"])


def test_gradient_with_respect_to_a_part_of_a_result_read_elsewhere_follows_the_helper():
    # (refused before the helpers were read in place; now the derivative through the helper's statements)
    h = np.tanh([0.3, 0.5])
    assert_close(extractdata(dlfeval(part_of_a_result, dlarray([0.3, 0.5]))), np.full(2, 2.0))
    assert_close(extractdata(dlfeval(item_of_a_result, dlarray([0.3, 0.5]))), np.full(2, 2.0))
    assert_close(extractdata(dlfeval(same_part_only, dlarray([0.3, 0.5]))), 2 * h + 1)
