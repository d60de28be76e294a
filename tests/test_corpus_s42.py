"""Red team (s42): a peer's corpus of real functions.

About 300 probes ported with the smallest changes from HIPS/autograd's examples (logistic
regression, neural_net, rnn, lstm, gaussian_process, black_box_svi, gmm, vae, hmm, ica, fluidsim,
tanh, sinusoid, fixed_points, rosenbrock with scipy.optimize), google/tangent's tests/functions.py,
JAX's examples (mnist_classifier_fromscratch, kernel_lsq, gaussian process regression), physics
classics (Lennard-Jones, springs, leapfrog, RK4 Van der Pol, Lotka-Volterra) and ~30 optimisation
test functions: values, gradients (central differences), hvp, nested dlgradient and accelerate all
agreed.  One false refusal: autograd's convnet example convolves with ``scipy.signal.convolve``
(the port a user makes from ``autograd.scipy.signal.convolve``), and sct refused every
``scipy.signal`` convolution as library code.  runtime/more_ops.py now registers rules for
``scipy.signal.convolve``, ``correlate``, ``fftconvolve`` (axes=None), ``convolve2d`` and
``correlate2d`` (boundary "fill", fillvalue 0) of real arrays; other boundaries, fill values,
``axes=`` and complex arrays are refused at the user's line.  Two more false refusals of the same
kind: ``scipy.stats.dirichlet.logpdf``/``pdf`` (now rules in x, K or K - 1 entries, and alpha), and a
registered bound method held as a value (``fn = scipy.stats.norm.logpdf; fn(x)``,
``getattr(scipy.stats.dirichlet, which)(...)``), which sct/transform_calls.py compiled from the
library's source before looking up its rule.
"""
import itertools

import numpy as np
import pytest

scipy_signal = pytest.importorskip("scipy.signal")

import sct
from sct import dlarray, dlfeval, dlgradient
from gradcheck import assert_close, numerical_gradient

convolve2d = scipy_signal.convolve2d


# in the style of autograd's examples/convnet.py (its conv layer, ported to scipy.signal)
def conv_layer(W, x):
    return np.array([convolve2d(x[i], W, mode="valid") for i in range(x.shape[0])])


def conv_loss(W, x):
    return np.sum(np.tanh(conv_layer(W, x)) ** 2)


def conv_loss_and_grad(W, x):
    y = conv_loss(W, x)
    return y, dlgradient(y, W)


def test_autograd_convnet_layer_with_scipy_signal_convolve2d():
    rs = np.random.RandomState(0)
    W, x = rs.randn(3, 3), rs.randn(2, 6, 6)
    y, g = dlfeval(conv_loss_and_grad, dlarray(W), x)
    assert_close(np.asarray(y.data), conv_loss(W, x), rtol=1e-12, atol=1e-12, what="value")
    assert_close(np.asarray(g.data), numerical_gradient(conv_loss, [W, x], 0), what="gradient")
    acc = sct.dlaccelerate(conv_loss_and_grad)
    for _ in range(2):
        ya, ga = dlfeval(acc, dlarray(W), x)
    assert_close(np.asarray(ga.data), np.asarray(g.data), rtol=1e-12, atol=1e-12, what="accelerate")


def _cases():
    shapes2 = [((5, 6), (3, 2)), ((2, 3), (4, 5)), ((4, 4), (2, 3))]
    shapes_nd = shapes2 + [((7,), (4,)), ((3,), (6,)), ((4, 3, 5), (2, 2, 3))]
    for name in ("convolve", "correlate", "fftconvolve", "convolve2d", "correlate2d"):
        for (s1, s2), mode in itertools.product(shapes2 if name.endswith("2d") else shapes_nd,
                                                ("full", "valid", "same")):
            yield name, s1, s2, mode


CASES = [c for c in _cases()
         if not (c[3] == "valid" and any(a > b for a, b in zip(c[1], c[2]))
                 and any(a < b for a, b in zip(c[1], c[2])))]


def two_inputs(a, b, name, mode, w):
    out = getattr(scipy_signal, name)(a, b, mode)
    return np.sum(out * w) + 0.1 * np.sum(out ** 2)


def grads_of_both(a, b, name, mode, w):
    y = two_inputs(a, b, name, mode, w)
    return y, dlgradient(y, a), dlgradient(y, b)


@pytest.mark.parametrize("name, s1, s2, mode", CASES)
def test_scipy_signal_convolutions_both_inputs_every_mode(name, s1, s2, mode):
    rs = np.random.RandomState(1)
    a, b = rs.randn(*s1), rs.randn(*s2)
    w = rs.randn(*getattr(scipy_signal, name)(a, b, mode).shape)
    y, ga, gb = dlfeval(grads_of_both, dlarray(a), dlarray(b), name, mode, w)
    assert_close(np.asarray(y.data), two_inputs(a, b, name, mode, w), rtol=1e-12, atol=1e-12, what="value")
    assert_close(np.asarray(ga.data), numerical_gradient(two_inputs, [a, b, name, mode, w], 0), what="in1")
    assert_close(np.asarray(gb.data), numerical_gradient(two_inputs, [a, b, name, mode, w], 1), what="in2")


def smooth_image(x):
    return np.sum(scipy_signal.correlate2d(x, np.array([[0.5, 1.0], [-1.0, 0.25]]), "same") ** 3)


def test_scipy_signal_hessian_vector_product():
    rs = np.random.RandomState(2)
    x, v = rs.randn(5, 4), rs.randn(5, 4)

    def grad(z):
        return dlfeval(lambda t: dlgradient(smooth_image(t), t), dlarray(z)).data

    expected = (grad(x + 1e-5 * v) - grad(x - 1e-5 * v)) / 2e-5
    assert_close(np.asarray(sct.hvp(smooth_image, x, v)), expected, rtol=1e-5, atol=1e-6, what="hvp")


def wrapped(x, k):
    y = np.sum(convolve2d(x, k, "same", boundary="wrap") ** 2)
    return y, dlgradient(y, x)


def complex_kernel(x, k):
    y = np.sum(np.abs(scipy_signal.convolve(x, k * 1j + 1.0)) ** 2)
    return y, dlgradient(y, x)


@pytest.mark.parametrize("fun, message", [(wrapped, "boundary='wrap'"), (complex_kernel, "complex")])
def test_scipy_signal_refusals_name_the_line(fun, message):
    rs = np.random.RandomState(3)
    with pytest.raises(sct.SctError, match=message) as info:
        dlfeval(fun, dlarray(rs.randn(4, 4) if fun is wrapped else rs.randn(4)),
                rs.randn(3, 3) if fun is wrapped else rs.randn(3))
    assert "test_corpus_s42.py" in str(info.value)


def big_fft_loss(x, k, w):
    return np.sum(scipy_signal.convolve(x, k, "same", method="fft") * w)


def big_fft_grad(x, k, w):
    y = big_fft_loss(x, k, w)
    return y, dlgradient(y, k)


def test_scipy_signal_fft_method_on_a_larger_image():
    # the offset of 'same' is found from test arrays convolved by the fft method, whose small entries
    # round: it must still be found (was compared with a relative tolerance only)
    rs = np.random.RandomState(4)
    x, k, w = rs.randn(90, 100), rs.randn(7, 6), rs.randn(90, 100)
    y, g = dlfeval(big_fft_grad, x, dlarray(k), w)
    assert_close(np.asarray(y.data), big_fft_loss(x, k, w), rtol=1e-12, atol=1e-12, what="value")
    assert_close(np.asarray(g.data), numerical_gradient(big_fft_loss, [x, k, w], 1), rtol=1e-6, atol=1e-6,
                 what="kernel")


# scipy.stats.dirichlet (a Dirichlet prior in a variational objective): was refused as library code
scipy_stats = pytest.importorskip("scipy.stats")

POINTS = np.array([[0.2, 0.3], [0.5, 0.1], [0.3, 0.6]])


def dirichlet_loss(log_alpha, x, which):
    if np.shape(x)[0] == 3:          # K entries: kept on the simplex (scipy refuses other points)
        x = x / np.sum(x, axis=0)
    density = getattr(scipy_stats.dirichlet, which)(x, np.exp(log_alpha))
    return np.sum(density * np.arange(1.0, np.size(density) + 1))


def dirichlet_grads(log_alpha, x, which):
    y = dirichlet_loss(log_alpha, x, which)
    return y, dlgradient(y, log_alpha), dlgradient(y, x)


@pytest.mark.parametrize("which", ["logpdf", "pdf"])
@pytest.mark.parametrize("x", [POINTS[:, 0], POINTS, POINTS[:2, 0], POINTS[:2]],
                         ids=["point", "points", "point K-1", "points K-1"])
def test_scipy_stats_dirichlet_in_alpha_and_x(which, x):
    # (getattr(scipy.stats.dirichlet, which) is a bound method held as a value: sct compiled the
    # library's method instead of using its rule; sct/transform_calls.py now looks the rule up first)
    log_alpha = np.array([0.3, -0.2, 0.5])
    y, ga, gx = dlfeval(dirichlet_grads, dlarray(log_alpha), dlarray(x), which)
    assert_close(np.asarray(y.data), dirichlet_loss(log_alpha, x, which), rtol=1e-12, atol=1e-12, what="value")
    assert_close(np.asarray(ga.data), numerical_gradient(dirichlet_loss, [log_alpha, x, which], 0), what="alpha")
    assert_close(np.asarray(gx.data), numerical_gradient(dirichlet_loss, [log_alpha, x, which], 1), what="x")


def bound_method_held(x):
    logpdf = scipy_stats.norm.logpdf
    y = np.sum(logpdf(x, 0.5, 2.0))
    return y, dlgradient(y, x)


def test_a_registered_bound_method_held_in_a_variable_uses_its_rule():
    x = np.array([0.1, -0.7, 1.3])
    y, g = dlfeval(bound_method_held, dlarray(x))
    assert_close(np.asarray(y.data), np.sum(scipy_stats.norm.logpdf(x, 0.5, 2.0)), rtol=1e-12, atol=1e-12)
    assert_close(np.asarray(g.data), -(x - 0.5) / 4.0, rtol=1e-12, atol=1e-12, what="gradient")


def test_scipy_stats_dirichlet_hvp():
    x = POINTS[:, 0]
    v = np.array([0.3, -1.0, 0.4])
    log_alpha = np.array([0.3, -0.2, 0.5])

    def grad(z):
        return dlfeval(lambda t: dlgradient(dirichlet_loss(t, x, "logpdf"), t), dlarray(z)).data

    expected = (grad(log_alpha + 1e-5 * v) - grad(log_alpha - 1e-5 * v)) / 2e-5
    assert_close(np.asarray(sct.hvp(lambda t: dirichlet_loss(t, x, "logpdf"), log_alpha, v)), expected,
                 rtol=1e-5, atol=1e-6, what="hvp")
