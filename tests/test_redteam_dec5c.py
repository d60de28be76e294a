"""Red team (Dec 5c): the documented examples of MATLAB's reference pages (dljacobian, dldivergence,
dllaplacian, stripdims, forward, ...) ported to sct's Python API the way SPEC.md maps them.  Values
against numpy written from the pages' formulas, gradients against central differences
(tests/gradcheck.py), documented errors as errors.
"""
from __future__ import annotations

import numpy as np
import pytest

import sct
from sct import (avgpool, batchnorm, dims, dlarray, dlconv, dldivergence, dlfeval, dlgradient, dljacobian,
                 dllaplacian, dlnetwork, dltranspconv, dlupdate, extractdata, featureInputLayer, forward,
                 fullyConnectedLayer, fullyconnect, groupnorm, instancenorm, l1loss, layernorm, maxpool, stripdims,
                 tanhLayer)
from gradcheck import assert_close, numerical_gradient


pytestmark = pytest.mark.usefixtures("fresh_cache")   # tests/conftest.py


def _tanh_net(channels_in, channels_out, seed=0):
    return dlnetwork([featureInputLayer(channels_in), fullyConnectedLayer(channels_out), tanhLayer()], Seed=seed)


def _fc_params(net):
    return extractdata(net.Learnables.Value[0]), extractdata(net.Learnables.Value[1])


# --- stripdims keeps the trace (MATLAB: X = stripdims(X); dljacobian(Y, X, 1)) -----------------------

def grad_through_stripdims(x):
    y = np.sum(np.sin(x) * x)
    x = stripdims(x)
    return dlgradient(y, x)


def grad_through_stripdims_copy(x):
    y = np.sum(np.sin(x) * x)
    xs = stripdims(x)
    g = dlgradient(y, xs)
    return g, dims(xs)


@pytest.mark.parametrize("fmt", ["CB", None])
def test_dlgradient_with_respect_to_stripdims_of_x_is_with_respect_to_x(fmt):
    # was: zeros (stripdims(x) a new value that y does not read)
    data = np.random.default_rng(1).standard_normal((3, 4))
    x = dlarray(data, fmt) if fmt else dlarray(data)
    want = np.sin(data) + data * np.cos(data)
    assert_close(extractdata(dlfeval(grad_through_stripdims, x)), want)
    g, d = dlfeval(grad_through_stripdims_copy, x)
    assert_close(extractdata(g), want)
    assert d == "" and dims(g) == ""


def stripdims_second_order(x):
    y = np.sum(x ** 3)
    xs = stripdims(x)
    g = dlgradient(y, xs)
    return dlgradient(np.sum(g * g), x)


def test_stripdims_trace_second_derivative():
    data = np.array([[0.5, -1.0], [2.0, 0.25]])
    got = dlfeval(stripdims_second_order, dlarray(data, "CB"))
    # d/dx sum((3x^2)^2) = 36 x^3
    assert_close(extractdata(got), 36 * data ** 3)


# --- dllaplacian page: featureInputLayer(3), fullyConnectedLayer(1), tanhLayer; X "CB" ------------------

def laplacian_model_loss(net, X, T):
    Y, _ = forward(net, X)
    loss = l1loss(Y, T)
    X = stripdims(X)
    Y = stripdims(Y)
    lap = dllaplacian(Y, X, 1)           # X is (3, 128): its points along axis 1
    gradients = dlgradient(loss, net.Learnables)
    return loss, gradients, lap


def test_dllaplacian_doc_example():
    rng = np.random.default_rng(2)
    net = _tanh_net(3, 1)
    X = dlarray(rng.random((3, 16)), "CB")
    T = dlarray(rng.random((1, 16)), "CB")
    loss, gradients, lap = dlfeval(laplacian_model_loss, net, X, T)
    W, b = _fc_params(net)
    u = np.tanh(W @ extractdata(X) + b[:, None])[0]
    # d2/dx_i2 tanh(w.x + b) = -2 u (1 - u^2) w_i^2
    assert_close(extractdata(lap), -2 * u * (1 - u ** 2) * np.sum(W ** 2))
    assert lap.shape == (16,)
    assert_close(float(loss), np.mean(np.abs(u - extractdata(T)[0])) * 1, rtol=1e-10)
    assert gradients.Parameter == net.Learnables.Parameter


# --- dldivergence page: featureInputLayer(3), fullyConnectedLayer(3), tanhLayer ------------------------

def divergence_model_loss(net, X, T):
    Y, _ = forward(net, X)
    loss = l1loss(Y, T)
    X = stripdims(X)
    Y = stripdims(Y, "CB")               # sct's forward gives "BC": arrange it as X
    div = dldivergence(Y, X, 1)
    gradients = dlgradient(loss, net.Learnables)
    return loss, gradients, div


def test_dldivergence_doc_example():
    rng = np.random.default_rng(3)
    net = _tanh_net(3, 3)
    X = dlarray(rng.random((3, 12)), "CB")
    T = dlarray(rng.random((3, 12)), "CB")
    loss, gradients, div = dlfeval(divergence_model_loss, net, X, T)
    W, b = _fc_params(net)
    u = np.tanh(W @ extractdata(X) + b[:, None])           # (3, 12)
    want = np.sum((1 - u ** 2) * np.diag(W)[:, None], axis=0)
    assert_close(extractdata(div), want)
    assert div.shape == (12,)


def divergence_penalty(net, X):
    Y, _ = forward(net, X)
    X = stripdims(X)
    Y = stripdims(Y, "CB")
    div = dldivergence(Y, X, 1)
    penalty = np.sum(div ** 2)
    return penalty, dlgradient(penalty, net.Learnables)


def test_dldivergence_penalty_gradient_matches_central_differences():
    rng = np.random.default_rng(4)
    net = _tanh_net(3, 3)
    X = dlarray(rng.random((3, 5)), "CB")
    penalty, grads = dlfeval(divergence_penalty, net, X)
    W, b = _fc_params(net)
    x = extractdata(X)

    def reference(W, b):
        u = np.tanh(W @ x + b[:, None])
        return np.sum(np.sum((1 - u ** 2) * np.diag(W)[:, None], axis=0) ** 2)

    assert_close(float(penalty), reference(W, b), rtol=1e-10)
    assert_close(extractdata(grads.Value[0]), numerical_gradient(reference, [W, b], 0), rtol=1e-5, atol=1e-7)
    assert_close(extractdata(grads.Value[1]), numerical_gradient(reference, [W, b], 1), rtol=1e-5, atol=1e-7)


# --- dljacobian page: the network's Jacobian with respect to its input data ---------------------------

def jacobian_model_loss(net, X, T):
    Y, _ = forward(net, X)
    loss = l1loss(Y, T)
    X = stripdims(X)                     # "BC": points along axis 0, as Y's
    Y = stripdims(Y)
    jac = dljacobian(Y, X, 0)
    gradients = dlgradient(loss, net.Learnables)
    return loss, gradients, jac


def test_dljacobian_doc_example_batch_first():
    rng = np.random.default_rng(5)
    net = _tanh_net(4, 2)
    X = dlarray(rng.random((6, 4)), "BC")
    T = dlarray(rng.random((6, 2)), "BC")
    loss, gradients, jac = dlfeval(jacobian_model_loss, net, X, T)
    W, b = _fc_params(net)
    u = np.tanh(extractdata(X) @ W.T + b)                  # (6, 2)
    want = (1 - u ** 2)[:, :, None] * W[None, :, :]        # jac[b, i, j] = du_i/dx_j
    assert jac.shape == (6, 2, 4)
    assert_close(extractdata(jac), want)


# --- the per-point operations refuse u and x whose points do not line up (were silently wrong) --------

def div_mismatch(x):
    return dldivergence(np.sin(x).T, x, 0)


def div_fewer_points(x):
    return dldivergence(np.sin(x[:2]), x, 0)


def lap_mismatch(x):
    return dllaplacian(np.sum(x ** 3, axis=0), x, 0)


def lap_vector_u(x):
    return dllaplacian(np.sin(x), x, 1)


def jac_mismatch(x):
    return dljacobian(np.sin(x).T, x, 0)


@pytest.mark.parametrize("fun", [div_mismatch, div_fewer_points, lap_mismatch, lap_vector_u, jac_mismatch])
def test_per_point_operations_refuse_mismatched_points(fun):
    x = dlarray(np.random.default_rng(6).random((3, 6)))
    with pytest.raises(sct.EvaluationError) as info:
        dlfeval(fun, x)
    assert info.value.filename == __file__
    assert "point" in str(info.value) or "same shape" in str(info.value)


def lap_points_along_axis1(x):
    return dllaplacian(np.sum(x ** 3, axis=0), x, 1)


def test_dllaplacian_points_along_axis_1_still_right():
    data = np.random.default_rng(7).random((3, 6))
    assert_close(extractdata(dlfeval(lap_points_along_axis1, dlarray(data))), np.sum(6 * data, axis=0))


# --- MATLAB's Y = forward(net, X) is Y, state = forward(net, X) in sct: a clear error, not a misleading one

def forward_pair_loss(net, X, T):
    Y = forward(net, X)
    return l1loss(Y, T)


@pytest.mark.parametrize("formatted", [True, False])
def test_loss_of_forward_pair_says_what_to_write(formatted):
    rng = np.random.default_rng(8)
    net = _tanh_net(3, 1)
    if formatted:
        X, T = dlarray(rng.random((3, 4)), "CB"), dlarray(rng.random((1, 4)), "CB")
    else:
        X, T = rng.random((4, 3)), rng.random((4, 1))
    with pytest.raises(sct.SctError) as info:
        dlfeval(forward_pair_loss, net, X, T)
    assert "Y, state = forward(net, X)" in str(info.value)
    assert info.value.filename == __file__
    with pytest.raises(TypeError, match="forward returns"):
        l1loss(forward(net, X), T)


# --- stripdims page: "fmt must be a superset of a permutation of dims(X)"; "If fmt is empty or X is an
# --- unformatted dlarray object, then Y is equal to X" (both were refused) ---------------------------

def test_stripdims_page_example_and_superset_format_eagerly():
    data = np.random.default_rng(9).standard_normal((3, 2, 1, 2))
    dlX = dlarray(data, "SSTU")
    y = stripdims(dlX)
    assert dims(dlX) == "SSTU" and dims(y) == "" and y.shape == (3, 2, 1, 2)
    assert_close(extractdata(y), data)
    X = dlarray(np.arange(6.0).reshape(3, 2), "CB")
    assert stripdims(X, "SCB").shape == (1, 3, 2)
    assert stripdims(X, "BSC").shape == (2, 1, 3)
    assert_close(extractdata(stripdims(X, "BSC"))[:, 0, :], np.arange(6.0).reshape(3, 2).T)
    assert stripdims(X, "CBT").shape == (3, 2, 1)
    assert_close(extractdata(stripdims(X, "")), extractdata(X))
    assert dims(stripdims(X, "")) == ""
    plain = dlarray(np.ones((2, 3)))
    assert stripdims(plain, "SCB").shape == (2, 3) and dims(stripdims(plain, "SCB")) == ""
    with pytest.raises(ValueError, match="different labels"):
        stripdims(X, "TS")


def strip_superset(x):
    y = stripdims(x, "BSC")
    loss = np.sum(y ** 3 * np.arange(1.0, 4.0))
    return loss, dlgradient(loss, x), y.shape, dims(y)


def strip_superset_second(x):
    g = dlgradient(np.sum(stripdims(x, "SBTC") ** 3), x)
    return dlgradient(np.sum(g * g), x)


def strip_empty(x):
    y = stripdims(x, "")
    return dlgradient(np.sum(y ** 3), y)


def strip_unformatted(x):
    y = stripdims(x, "CB")
    return dlgradient(np.sum(y ** 3), x), dims(y)


def test_stripdims_superset_and_empty_format_in_dlfeval():
    data = np.random.default_rng(10).standard_normal((3, 2))
    X = dlarray(data, "CB")
    loss, g, shape, d = dlfeval(strip_superset, X)
    assert shape == (2, 1, 3) and d == ""
    assert_close(float(loss), np.sum(data.T ** 3 * np.arange(1.0, 4.0)), rtol=1e-12)
    assert_close(extractdata(g), 3 * data ** 2 * np.arange(1.0, 4.0)[:, None])
    assert dims(g) == "CB"
    assert_close(extractdata(dlfeval(strip_superset_second, X)), 36 * data ** 3)
    assert_close(extractdata(dlfeval(strip_empty, X)), 3 * data ** 2)
    g, d = dlfeval(strip_unformatted, dlarray(data))
    assert_close(extractdata(g), 3 * data ** 2)
    assert d == ""


# --- fullyconnect page: X "SSCB", weights (outputSize, h*w*c), bias = rand(outputSize, 1) --------------
# (a column bias was refused: "shape mismatch"; for as many observations as outputs it would broadcast)

def _fc_reference(x, W, b):
    # S, C flattened as MATLAB's X(:, :), column-major (tests/test_redteam_dec14h.py; was row-major here)
    return W @ np.reshape(x, (-1, x.shape[-1]), order="F") + np.reshape(b, (-1, 1))


def fc_loss(X, W, b):
    Y = fullyconnect(X, W, b)
    loss = np.sum(Y ** 2 * np.arange(1.0, 4.0)[:, None])
    return loss, dlgradient(loss, W, b), dims(Y)


def test_fullyconnect_doc_example_column_bias():
    rng = np.random.default_rng(11)
    x = rng.random((4, 4, 1, 3))
    W, b = rng.standard_normal((3, 16)), rng.standard_normal((3, 1))
    X = dlarray(x, "SSCB")
    Y = fullyconnect(X, W, b)
    assert dims(Y) == "CB" and Y.shape == (3, 3)
    assert_close(extractdata(Y), _fc_reference(x, W, b))
    loss, (gW, gb), d = dlfeval(fc_loss, X, dlarray(W), dlarray(b))
    assert d == "CB" and gb.shape == (3, 1)

    def reference(W, b):
        return np.sum(_fc_reference(x, W, b) ** 2 * np.arange(1.0, 4.0)[:, None])

    assert_close(float(loss), reference(W, b), rtol=1e-12)
    assert_close(extractdata(gW), numerical_gradient(reference, [W, b], 0))
    assert_close(extractdata(gb), numerical_gradient(reference, [W, b], 1))


def fc_column_bias_unformatted(x, W, b):
    y = fullyconnect(x, W, b)
    g = dlgradient(np.sum(np.sin(y)), b)
    return np.sum(y), g, dlgradient(np.sum(g ** 2), b)


def test_fullyconnect_column_bias_unformatted_second_order():
    # three observations and three outputs: a (3, 1) column must not broadcast down the batch
    rng = np.random.default_rng(12)
    x, W, b = rng.standard_normal((3, 2)), rng.standard_normal((3, 2)), rng.standard_normal((3, 1))
    total, g, h = dlfeval(fc_column_bias_unformatted, dlarray(x), dlarray(W), dlarray(b))
    z = x @ W.T + b.T
    assert_close(float(total), np.sum(z), rtol=1e-12)
    assert g.shape == (3, 1)
    assert_close(extractdata(g), np.sum(np.cos(z), axis=0)[:, None])

    def gsq(b):
        return np.sum(np.sum(np.cos(x @ W.T + b.T), axis=0) ** 2)

    assert_close(extractdata(h), numerical_gradient(gsq, [b], 0))


# --- dlupdate page: L1 regularization of the gradients of dlconv on one image, dlarray(rand(.,.,3), "SSC")
# (an "SSC" input, without B, was refused; a (numFilters, 1) bias too) ---------------------------------

def convGradients(dlX, params):
    dlY = dlconv(dlX, params["Weights"], params["Bias"])
    dlY = np.sum(dlY)
    gradients = dlgradient(dlY, params)
    return gradients


def test_dlupdate_doc_example_l1_regularization():
    rng = np.random.default_rng(13)
    x = rng.random((9, 8, 3))
    dlX = dlarray(x, "SSC")
    params = {"Weights": dlarray(rng.random((3, 3, 3, 5))), "Bias": dlarray(rng.random((5, 1)))}
    gradients = dlfeval(convGradients, dlX, params)
    assert gradients["Weights"].shape == (3, 3, 3, 5) and gradients["Bias"].shape == (5, 1)
    # d sum(Y) / dW[i, j, c, f] = the sum of the inputs that weight meets (7 x 6 valid positions)
    want = np.zeros((3, 3, 3, 5))
    for i in range(3):
        for j in range(3):
            want[i, j] = x[i:i + 7, j:j + 6].sum(axis=(0, 1))[:, None]
    assert_close(extractdata(gradients["Weights"]), want)
    assert_close(extractdata(gradients["Bias"]), np.full((5, 1), 42.0))
    L1Factor = 0.001
    L1Regularizer = lambda grad, param: grad + L1Factor * np.sign(param)     # noqa: E731
    regularized = dlupdate(L1Regularizer, gradients, params)
    for k in ("Weights", "Bias"):
        assert_close(extractdata(regularized[k]),
                     extractdata(gradients[k]) + L1Factor * np.sign(extractdata(params[k])))
    Y = dlconv(dlX, params["Weights"], params["Bias"])
    assert dims(Y) == "SSC" and Y.shape == (7, 6, 5)


def conv_ssc_loss(x, w, b):
    Y = dlconv(dlarray(x, "CSS"), w, b, Padding="same", Stride=2)
    return np.sum(np.tanh(Y) * np.arange(1.0, 3.0)[:, None, None]), dims(Y)


def _conv_ssc_reference(x, w, b):      # x (C, H, W) labelled "CSS"; "same" with stride 2 on 5x4, 3x3 filters
    # (MATLAB's "same": 2 rows of padding, 1 each side; 1 column, on the right)
    img = np.pad(np.transpose(x, (1, 2, 0)), ((1, 1), (0, 1), (0, 0)))
    out = np.zeros((3, 2, 2))
    for i in range(3):
        for j in range(2):
            out[i, j] = np.einsum("abc,abcf->f", img[2 * i:2 * i + 3, 2 * j:2 * j + 3], w) + np.ravel(b)
    return np.sum(np.tanh(np.transpose(out, (2, 0, 1))) * np.arange(1.0, 3.0)[:, None, None])


def test_dlconv_without_batch_label_values_and_gradients():
    rng = np.random.default_rng(14)
    x, w, b = rng.standard_normal((3, 5, 4)), rng.standard_normal((3, 3, 3, 2)), rng.standard_normal((2, 1))

    def with_grads(x, w, b):
        loss, d = conv_ssc_loss(x, w, b)
        return loss, dlgradient(loss, x, w, b), d

    loss, grads, d = dlfeval(with_grads, dlarray(x), dlarray(w), dlarray(b))
    assert d == "CSS"
    assert_close(float(loss), _conv_ssc_reference(x, w, b), rtol=1e-12)
    for k, g in enumerate(grads):
        assert_close(extractdata(g), numerical_gradient(_conv_ssc_reference, [x, w, b], k), rtol=1e-5, atol=1e-7)
    Y = dlconv(dlarray(x, "CSS"), w, b, Padding="same", Stride=2)
    assert dims(Y) == "CSS" and Y.shape == (2, 3, 2)
    batched = dlconv(dlarray(x[..., None], "CSSB"), w, b, Padding="same", Stride=2)     # one observation
    assert_close(extractdata(Y), extractdata(batched)[..., 0])


# --- batchnorm/layernorm/instancenorm/groupnorm pages: offset = zeros(numChannels, 1), scaleFactor =
# --- ones(numChannels, 1), trained statistics numChannels-by-1 (a column was a shape error, or with as many
# --- observations as channels broadcast along the wrong axis: a wrong value) ------------------------------

def test_batchnorm_doc_example_column_parameters():
    rng = np.random.default_rng(15)
    x = rng.random((4, 4, 3, 6))
    X = dlarray(x, "SSCB")
    offset, scale = np.zeros((3, 1)), np.ones((3, 1))
    Y, mu, sigmaSq = batchnorm(X, offset, scale, nargout=3)
    m, v = x.mean(axis=(0, 1, 3)), x.var(axis=(0, 1, 3))
    assert dims(Y) == "SSCB"
    assert_close(extractdata(Y), (x - m[:, None]) / np.sqrt(v[:, None] + 1e-5))
    assert_close(np.ravel(extractdata(mu)), m)
    assert_close(np.ravel(extractdata(sigmaSq)), v)
    # the trained statistics as MATLAB's columns, the updated ones returned as columns
    rm, rv = rng.random((3, 1)), rng.random((3, 1)) + 0.5
    Y2, newMean, newVar = batchnorm(X, offset, scale, rm, rv, nargout=3)
    assert newMean.shape == (3, 1) and newVar.shape == (3, 1)
    assert_close(extractdata(newMean), 0.1 * m[:, None] + 0.9 * rm)
    assert_close(extractdata(newVar), 0.1 * v[:, None] * 96 / 95 + 0.9 * rv)
    for fmt_fn, ref in ((lambda: layernorm(X, offset, scale), None), (lambda: instancenorm(X, offset, scale), None),
                        (lambda: groupnorm(X, 3, offset, scale), None)):
        out = fmt_fn()
        assert dims(out) == "SSCB" and out.shape == x.shape
    assert_close(extractdata(instancenorm(X, offset, scale)),
                 (x - x.mean(axis=(0, 1), keepdims=True)) / np.sqrt(x.var(axis=(0, 1), keepdims=True) + 1e-5))


def bn_inference(x, offset, scale, rm, rv):
    y = batchnorm(x, offset, scale, rm, rv)
    loss = np.sum(y ** 2 * np.arange(1.0, 4.0))
    g = dlgradient(loss, offset, scale, x)
    return loss, g


def test_batchnorm_trained_column_statistics_square_batch_values_and_gradients():
    rng = np.random.default_rng(16)
    x = rng.standard_normal((3, 3))                 # 3 observations, 3 channels
    offset, scale = rng.standard_normal((3, 1)), rng.standard_normal((3, 1))
    rm, rv = rng.standard_normal((3, 1)), rng.random((3, 1)) + 0.5

    def reference(x, offset, scale):
        y = scale.T * (x - rm.T) / np.sqrt(rv.T + 1e-5) + offset.T
        return np.sum(y ** 2 * np.arange(1.0, 4.0))

    loss, (go, gs, gx) = dlfeval(bn_inference, dlarray(x), dlarray(offset), dlarray(scale), rm, rv)
    assert_close(float(loss), reference(x, offset, scale), rtol=1e-12)
    assert go.shape == (3, 1) and gs.shape == (3, 1)
    for k, g in enumerate((gx, go, gs)):
        assert_close(extractdata(g), numerical_gradient(reference, [x, offset, scale], k))


def norm_column_second_order(x, offset, scale):
    y = layernorm(x, offset, scale) + groupnorm(x, 1, offset, scale) + batchnorm(x, offset, scale)
    g = dlgradient(np.sum(np.sin(y)), scale)
    return dlgradient(np.sum(g * g), offset)


def test_normalization_column_parameters_second_order():
    rng = np.random.default_rng(17)
    x, offset, scale = rng.standard_normal((4, 3)), rng.standard_normal((3, 1)), rng.standard_normal((3, 1))

    def first(offset, scale):
        def norm(z, axes):
            return (z - z.mean(axis=axes, keepdims=True)) / np.sqrt(z.var(axis=axes, keepdims=True) + 1e-5)
        y = (scale.T * norm(x, 1) + offset.T) * 2 + scale.T * norm(x, 0) + offset.T
        return y

    def gsq(offset, scale):
        def loss(s):
            return np.sum(np.sin(first(offset, s)))
        g = numerical_gradient(loss, [scale], 0, step=1e-5)
        return np.sum(g * g)

    got = dlfeval(norm_column_second_order, dlarray(x), dlarray(offset), dlarray(scale))
    assert got.shape == (3, 1)
    assert_close(extractdata(got), numerical_gradient(gsq, [offset, scale], 0, step=1e-4), rtol=1e-4, atol=1e-6)


# --- dlaccelerate / clearCache pages: MATLAB's property names (HitRate, Occupancy: percent) ------------

def accel_loss(w, x):
    y = np.sum(np.tanh(x @ w) ** 2)
    return y, dlgradient(y, w)


def test_accelerated_function_matlab_properties_and_clearcache():
    accfun = sct.dlaccelerate(accel_loss)
    sct.clearCache(accfun)
    assert accfun.Function is accel_loss and accfun.Enabled is True and accfun.CacheSize == 50
    assert accfun.HitRate == 0 and accfun.Occupancy == 0 and accfun.CheckMode == "none"
    rng = np.random.default_rng(18)
    w = dlarray(rng.standard_normal((3, 2)))
    for i in range(4):
        x = rng.standard_normal((5, 3))
        loss, g = dlfeval(accfun, w, x)
        z = np.tanh(x @ extractdata(w))
        assert_close(extractdata(g), x.T @ (2 * z * (1 - z ** 2)))
    assert accfun.HitRate == pytest.approx(75.0) and accfun.hit_rate == pytest.approx(0.75)
    assert accfun.Occupancy == pytest.approx(2.0) and accfun.occupancy == pytest.approx(0.02)
    accfun.CacheSize = 10
    assert accfun.cache_size == 10 and accfun.Occupancy == pytest.approx(10.0)
    sct.clearCache(accfun)
    assert accfun.Occupancy == 0 and accfun.HitRate == 0
    accfun.Enabled = False
    assert accfun.enabled is False
    loss2, g2 = dlfeval(accfun, w, x)
    assert_close(extractdata(g2), extractdata(g))
    accfun.clearCache()
    with pytest.raises(sct.SctError, match="AcceleratedFunction"):
        sct.clearCache(accel_loss)


# --- "Train Network Using Custom Training Loop" / trainingProgressMonitor pages: the documented loop ------

def model_loss_monitor(net, X, T):
    Y, state = forward(net, X)
    loss = sct.crossentropy(Y, T)
    gradients = dlgradient(loss, net.Learnables)
    return loss, gradients, state


def test_custom_training_loop_with_training_progress_monitor():
    rng = np.random.default_rng(19)
    x = rng.standard_normal((4, 64))
    labels = (x[0] + x[1] > 0).astype(int)
    X = dlarray(x, "CB")
    T = dlarray(np.eye(2)[labels].T, "CB")
    net = dlnetwork([featureInputLayer(4), fullyConnectedLayer(8), sct.reluLayer(), fullyConnectedLayer(2),
                     sct.softmaxLayer()], Seed=0)
    numEpochs, numIterations = 30, 30
    monitor = sct.trainingProgressMonitor(Metrics="Loss", Info=["Epoch", "LearningRate"], XLabel="Iteration")
    sct.yscale(monitor, "Loss", "log")
    averageGrad = averageSqGrad = None
    epoch = iteration = 0
    while epoch < numEpochs and not monitor.Stop:
        epoch += 1
        iteration += 1
        loss, gradients, state = dlfeval(model_loss_monitor, net, X, T)
        net.State = state
        net, averageGrad, averageSqGrad = sct.adamupdate(net, gradients, averageGrad, averageSqGrad, iteration, 0.05)
        sct.recordMetrics(monitor, iteration, Loss=loss)
        sct.updateInfo(monitor, Epoch=f"{epoch} of {numEpochs}", LearningRate=0.05)
        monitor.Progress = 100 * iteration / numIterations
        if iteration == 25:
            monitor.Stop = True               # MATLAB's Stop button
    data = monitor.MetricData["Loss"]
    assert data.shape == (25, 2) and data[:, 0].tolist() == list(range(1, 26))
    assert data[-1, 1] < 0.5 * data[0, 1]
    assert monitor.InfoData["Epoch"][-1] == "25 of 30" and monitor.Progress == pytest.approx(100 * 25 / 30)
    assert monitor.YScales == {"Loss": "log"} and monitor.XLabel == "Iteration"
    with pytest.raises(ValueError, match="not a metric"):
        sct.recordMetrics(monitor, 26, Accuracy=0.5)
    with pytest.raises(ValueError, match="0 to 100"):
        monitor.Progress = 120


# --- stripdims(X) shares X's data (as plain Python runs it): a write into it changes X -----------------
# (was: differentiated as a new value, y = 14 where Python computes 38)

def write_into_stripdims(x):
    xs = stripdims(x)
    xs[0] = 5.0
    y = np.sum(x * x)
    return y, dlgradient(y, x)


def write_into_stripdims_fmt(x):
    xs = stripdims(x, "BC")
    xs[0, 0] = 5.0
    return np.sum(x * x)


def write_into_stripdims_of_fresh(x):
    xs = stripdims(x * 2.0)
    xs[0] = 0.0
    y = np.sum(xs * x)
    return y, dlgradient(y, x)


def test_write_into_stripdims_result_is_refused_or_right():
    x0 = np.array([1.0, 2.0, 3.0])
    plain = dlarray(x0.copy())
    xs = stripdims(plain)
    xs[0] = 5.0
    assert extractdata(plain)[0] == 5.0              # Python's meaning: the same data
    with pytest.raises(sct.CompileError) as info:
        dlfeval(write_into_stripdims, dlarray(x0.copy()))
    assert info.value.filename == __file__ and "copy()" in str(info.value)
    with pytest.raises(sct.CompileError):
        dlfeval(write_into_stripdims_fmt, dlarray(np.ones((2, 3)), "CB"))
    y, g = dlfeval(write_into_stripdims_of_fresh, dlarray(x0.copy()))
    assert_close(float(y), 2 * (4 + 9), rtol=1e-12)
    assert_close(extractdata(g), [0.0, 8.0, 12.0])


def pool_ssc(x):
    X = dlarray(x, "SSC")
    Y = maxpool(X, 2, Stride=2) * 2.0 + avgpool(X, 2, Stride=2)
    Z = dltranspconv(X, np.ones((2, 2, 2, 3)), 0.5, Stride=2)
    loss = np.sum(Y ** 2) + np.sum(np.sin(Z))
    return loss, dlgradient(loss, x), dims(Y), dims(Z), Z.shape


def test_pooling_and_transposed_convolution_without_batch_label():
    rng = np.random.default_rng(20)
    x = rng.standard_normal((4, 6, 3))

    def reference(x):
        b = x[None]                                   # one observation, batch first: (1, 4, 6, 3)
        Y = extractdata(maxpool(b, 2, Stride=2)) * 2.0 + extractdata(avgpool(b, 2, Stride=2))
        Z = extractdata(dltranspconv(b, np.ones((2, 2, 2, 3)), 0.5, Stride=2))
        return np.sum(Y ** 2) + np.sum(np.sin(Z))

    loss, g, dy, dz, zshape = dlfeval(pool_ssc, dlarray(x))
    assert (dy, dz, zshape) == ("SSC", "SSC", (8, 12, 2))
    assert_close(float(loss), reference(x), rtol=1e-12)
    assert_close(extractdata(g), numerical_gradient(reference, [x], 0), rtol=1e-5, atol=1e-7)
    Y = maxpool(dlarray(x, "SSC"), 2, Stride=2)
    assert dims(Y) == "SSC" and Y.shape == (2, 3, 3)


# --- seed 003 (automatic differentiation background): f(x) = x1 exp(-(x1^2 + x2^2)/2) at x1 = 2, x2 = 1/2,
# --- the gradient by reverse mode (one sweep) and by forward mode (one pass per input variable) ---------

def background_f(x):
    return x[0] * np.exp(-0.5 * (x[0] ** 2 + x[1] ** 2))


def background_grad(x):
    f = background_f(x)
    return f, dlgradient(f, x)


def background_f2(x1, x2):
    u = x1 * np.exp(-(x1 ** 2 + x2 ** 2) / 2)
    return u, dlgradient(u, x1, x2)


def test_seed_003_forward_and_reverse_mode_example():
    x = np.array([2.0, 0.5])
    e = np.exp(-0.5 * (4 + 0.25))
    want = np.array([e * (1 - 4), -2 * 0.5 * e])
    f, g = dlfeval(background_grad, dlarray(x))
    assert_close(float(f), 2 * e, rtol=1e-14)
    assert_close(extractdata(g), want, rtol=1e-13)
    f2, (g1, g2) = dlfeval(background_f2, dlarray(2.0), dlarray(0.5))
    assert_close([float(g1), float(g2)], want, rtol=1e-13)
    # forward mode: one traversal per independent variable, the derivative along each unit direction
    for k in range(2):
        value, tangent = sct.jvp(background_f, (x,), (np.eye(2)[k],))
        assert_close(float(np.asarray(value)), 2 * e, rtol=1e-14)
        assert_close(float(np.asarray(tangent)), want[k], rtol=1e-13)


# --- lstm / gru pages: bias = randn(4*numHiddenUnits, 1) (3*numHiddenUnits for gru), unlabelled ---------

def lstm_column_bias(x, w, r, b):
    Y, h, c = sct.lstm(dlarray(x, "CBT"), np.zeros((3, 1)), np.zeros((3, 1)), w, r, b)
    loss = np.sum(Y ** 2) + np.sum(h * c)
    return loss, dlgradient(loss, b, w)


def gru_column_bias(x, w, r, b):
    Y, h = sct.gru(dlarray(x, "CBT"), np.zeros((3, 1)), w, r, b)
    loss = np.sum(np.sin(Y)) + np.sum(h ** 2)
    return loss, dlgradient(loss, b)


def test_recurrent_column_bias_values_and_gradients():
    rng = np.random.default_rng(21)
    x = rng.standard_normal((4, 2, 3))
    w, r, b = rng.standard_normal((12, 4)), rng.standard_normal((12, 3)), rng.standard_normal((12, 1))

    def ref(b, w):
        Y, h, c = sct.lstm(dlarray(x, "CBT"), np.zeros((3, 1)), np.zeros((3, 1)), w, r, b[:, 0])
        return float(np.sum(extractdata(Y) ** 2) + np.sum(extractdata(h) * extractdata(c)))

    loss, (gb, gw) = dlfeval(lstm_column_bias, x, dlarray(w), r, dlarray(b))
    assert gb.shape == (12, 1)
    assert_close(float(loss), ref(b, w), rtol=1e-12)
    assert_close(extractdata(gb), numerical_gradient(ref, [b, w], 0))
    assert_close(extractdata(gw), numerical_gradient(ref, [b, w], 1))
    wg, rg, bg = rng.standard_normal((9, 4)), rng.standard_normal((9, 3)), rng.standard_normal((9, 1))

    def gref(bg):
        Y, h = sct.gru(dlarray(x, "CBT"), np.zeros((3, 1)), wg, rg, bg[:, 0])
        return float(np.sum(np.sin(extractdata(Y))) + np.sum(extractdata(h) ** 2))

    loss, g = dlfeval(gru_column_bias, x, wg, rg, dlarray(bg))
    assert g.shape == (9, 1)
    assert_close(float(loss), gref(bg), rtol=1e-12)
    assert_close(extractdata(g), numerical_gradient(gref, [bg], 0))


# --- fullyConnectedLayer(Bias=...) with MATLAB's OutputSize-by-1 Bias: with as many observations as outputs
# --- the column broadcast along the batch (a wrong value, silently) --------------------------------------

def fc_layer_loss(net, X):
    Y, _ = forward(net, X)
    loss = np.sum(Y ** 2 * np.array([1.0, 3.0]))
    return loss, dlgradient(loss, net.Learnables)


def test_fully_connected_layer_column_bias_square_batch():
    rng = np.random.default_rng(22)
    W, b, x = rng.standard_normal((2, 3)), rng.standard_normal((2, 1)), rng.standard_normal((3, 2))
    net = dlnetwork([featureInputLayer(3), fullyConnectedLayer(2, Weights=W, Bias=b)])
    X = dlarray(x, "CB")
    Y = sct.predict(net, X)
    assert dims(Y) == "BC"
    assert_close(extractdata(Y), (W @ x + b).T)

    def reference(W, b):
        return np.sum((W @ x + b).T ** 2 * np.array([1.0, 3.0]))

    loss, grads = dlfeval(fc_layer_loss, net, X)
    assert_close(float(loss), reference(W, b), rtol=1e-12)
    assert grads.Value[1].shape == (2, 1)
    assert_close(extractdata(grads.Value[0]), numerical_gradient(reference, [W, b], 0))
    assert_close(extractdata(grads.Value[1]), numerical_gradient(reference, [W, b], 1))


# --- batchNormalizationLayer page: Offset, Scale, TrainedMean, TrainedVariance name-values (were refused) -

def test_batch_normalization_layer_given_parameters():
    rng = np.random.default_rng(23)
    off, sc, tm, tv = rng.random((3, 1)), rng.random((3, 1)) + 0.5, rng.random((3, 1)), rng.random((3, 1)) + 0.5
    net = dlnetwork([featureInputLayer(3), sct.batchNormalizationLayer(Offset=off, Scale=sc, TrainedMean=tm,
                                                                       TrainedVariance=tv)])
    x = rng.standard_normal((3, 3))
    Y = sct.predict(net, dlarray(x, "CB"))
    assert_close(extractdata(Y), (sc * (x - tm) / np.sqrt(tv + 1e-5) + off).T)
    Y2, state = forward(net, dlarray(x, "CB"))
    m, v = x.mean(axis=1, keepdims=True), x.var(axis=1, keepdims=True)
    assert_close(extractdata(Y2), (sc * (x - m) / np.sqrt(v + 1e-5) + off).T)
    assert_close(extractdata(state.Value[0]), 0.1 * m[:, 0] + 0.9 * tm[:, 0])
    with pytest.raises(ValueError, match="Offset has 2 entries"):
        dlnetwork([featureInputLayer(3), sct.batchNormalizationLayer(Offset=np.zeros(2))])


# --- lstmLayer / gruLayer pages: InputWeights, RecurrentWeights, Bias name-values (were refused) ----------

def test_recurrent_layers_given_weights():
    rng = np.random.default_rng(24)
    w, r, b = rng.standard_normal((8, 3)), rng.standard_normal((8, 2)), rng.standard_normal((8, 1))
    net = dlnetwork([sct.sequenceInputLayer(3), sct.lstmLayer(2, OutputMode="last", InputWeights=w,
                                                              RecurrentWeights=r, Bias=b)])
    x = rng.standard_normal((4, 5, 3))                            # batch, time, channels
    Y = sct.predict(net, x)
    _, h, _ = sct.lstm(x, np.zeros(2), np.zeros(2), w, r, b[:, 0])
    assert_close(extractdata(Y), extractdata(h))
    wg, rg, bg = rng.standard_normal((6, 3)), rng.standard_normal((6, 2)), rng.standard_normal((6, 1))
    net = dlnetwork([sct.sequenceInputLayer(3), sct.gruLayer(2, InputWeights=wg, RecurrentWeights=rg, Bias=bg)])
    Yg, _ = sct.gru(x, np.zeros(2), wg, rg, bg[:, 0])
    assert_close(extractdata(sct.predict(net, x)), extractdata(Yg))
    with pytest.raises(ValueError, match="InputWeights has shape"):
        dlnetwork([sct.sequenceInputLayer(4), sct.lstmLayer(2, InputWeights=w)])


def gru_vector_state(x, h0, w, r, b):
    Y, h = sct.gru(x, h0, w, r, b)
    loss = np.sum(Y ** 2) + np.sum(np.sin(h))
    return loss, dlgradient(loss, h0)


def test_gru_vector_initial_state_values_and_gradient():
    # a (hidden,) H0, as lstm takes (was: an IndexError inside gru)
    rng = np.random.default_rng(25)
    x, h0 = rng.standard_normal((2, 3, 4)), rng.standard_normal(3)
    w, r, b = rng.standard_normal((9, 4)), rng.standard_normal((9, 3)), rng.standard_normal(9)

    def ref(h0):
        Y, h = sct.gru(x, np.reshape(h0, (1, 3)), w, r, b)
        return float(np.sum(extractdata(Y) ** 2) + np.sum(np.sin(extractdata(h))))

    loss, g = dlfeval(gru_vector_state, x, dlarray(h0), w, r, b)
    assert g.shape == (3,)
    assert_close(float(loss), ref(h0), rtol=1e-12)
    assert_close(extractdata(g), numerical_gradient(ref, [h0], 0))


def forward_y_only(net, X, T):
    Y = forward(net, X, nargout=1)              # MATLAB's Y = forward(net, X)
    loss = l1loss(Y, T)
    return loss, dlgradient(loss, net.Learnables), dims(Y)


def test_forward_nargout_1_is_matlabs_y_only():
    rng = np.random.default_rng(26)
    net = _tanh_net(3, 1)
    X, T = dlarray(rng.random((3, 4)), "CB"), dlarray(rng.random((1, 4)), "CB")
    Y = forward(net, X, nargout=1)
    assert dims(Y) == "BC" and Y.shape == (4, 1)
    W, b = _fc_params(net)
    assert_close(extractdata(Y), np.tanh(W @ extractdata(X) + b[:, None]).T)
    loss, grads, d = dlfeval(forward_y_only, net, X, T)
    loss2, grads2 = dlfeval(laplacian_model_loss, net, X, T)[:2]
    assert d == "BC"
    assert_close(float(loss), float(loss2), rtol=1e-14)
    assert_close(extractdata(grads.Value[0]), extractdata(grads2.Value[0]), rtol=1e-12)
    with pytest.raises(ValueError, match="nargout"):
        forward(net, X, nargout=3)


def test_groupnorm_and_layernorm_doc_examples_column_parameters():
    # groupnorm page: numGroups = 2, offset = zeros(numChannels, 1), scaleFactor = ones(numChannels, 1)
    rng = np.random.default_rng(27)
    x = rng.standard_normal((3, 3, 4, 2))                 # "SSCB", 4 channels in 2 groups
    X = dlarray(x, "SSCB")
    off, sc = rng.standard_normal((4, 1)), rng.random((4, 1)) + 0.5
    Y = groupnorm(X, 2, off, sc)
    g = x.reshape(3, 3, 2, 2, 2)                          # (S, S, group, channel in group, B)
    m, v = g.mean(axis=(0, 1, 3), keepdims=True), g.var(axis=(0, 1, 3), keepdims=True)
    want = ((g - m) / np.sqrt(v + 1e-5)).reshape(3, 3, 4, 2) * sc[:, 0][:, None] + off[:, 0][:, None]
    assert dims(Y) == "SSCB"
    assert_close(extractdata(Y), want)
    # layernorm page: "CB" data, offset and scale numChannels-by-1
    xf = rng.standard_normal((4, 3))
    Yl = layernorm(dlarray(xf, "CB"), off, sc)
    wl = (xf - xf.mean(axis=0)) / np.sqrt(xf.var(axis=0) + 1e-5) * sc + off
    assert dims(Yl) == "CB"
    assert_close(extractdata(Yl), wl)


def test_vector_bias_rule_against_central_differences():
    from gradcheck import check_rule
    from sct.runtime.nn import _vector_bias_rule, vector_bias
    def op(b):
        return vector_bias(b, 4)

    def rule(g, ans, b):
        return _vector_bias_rule(g, ans, b, 4)

    for b in (np.random.default_rng(28).standard_normal((4, 1)), np.random.default_rng(29).standard_normal(4)):
        check_rule(op, rule, [b], wrt=[0])
    assert vector_bias(np.ones((4, 1)), 4).shape == (4,) and vector_bias(np.ones((1, 4)), 4).shape == (1, 4)
