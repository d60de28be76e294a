"""Formatted dlarrays passed to the user's own helpers (MATLAB's ``Y = model(parameters, X)`` in
``modelLoss``): the helpers of the same file are read in place (sct/inline_helpers.py), so the
labels, the values and the gradients are those of the same code run eagerly; a helper redefined
between calls is used anew; one of another file is still refused clearly."""
import numpy as np
import pytest

import sct
from sct import (CompileError, avgpool, batchnorm, crossentropy, dims, dlarray, dlconv, dlfeval,
                 dlgradient, extractdata, fullyconnect, maxpool, relu, softmax, stripdims)
from gradcheck import assert_close, numerical_gradient


def model(parameters, X):
    Y = fullyconnect(X, parameters["fc1"]["Weights"], parameters["fc1"]["Bias"])
    Y = relu(Y)
    Y = fullyconnect(Y, parameters["fc2"]["Weights"], parameters["fc2"]["Bias"])
    return softmax(Y)


def model_loss(parameters, X, T):
    Y = model(parameters, X)
    loss = crossentropy(Y, T)
    gradients = dlgradient(loss, parameters)
    return loss, gradients, Y


def conv_block(X, w, b, scale, offset):
    Y = dlconv(X, w, b, Padding="same")
    Y = batchnorm(Y, offset, scale)
    return relu(Y)


def conv_model(p, X):
    Y = conv_block(X, p["w1"], p["b1"], p["s1"], p["o1"])
    Y = maxpool(Y, 2, Stride=2)
    Y = avgpool(Y, 2, Stride=2)
    Y = fullyconnect(Y, p["fw"], p["fb"])
    return softmax(Y)


def conv_loss(p, X, T):
    Y = conv_model(p, X)
    loss = crossentropy(Y, T)
    return loss, dlgradient(loss, p), dims(Y)


def scaled(X, k=2.0, square=False):
    if square:
        return X * X * k
    return X * k


def branchy_loss(w, X):
    Y = fullyconnect(X, w, np.zeros((2, 1)))
    Z = scaled(Y, square=True) + scaled(Y, 0.5)
    loss = np.sum(stripdims(Z))
    return loss, dlgradient(loss, w)


RNG = np.random.default_rng(0)
P = {"fc1": {"Weights": RNG.standard_normal((4, 3)), "Bias": RNG.standard_normal((4, 1))},
     "fc2": {"Weights": RNG.standard_normal((2, 4)), "Bias": RNG.standard_normal((2, 1))}}
XD = RNG.random((3, 5))
TD = np.eye(2)[:, [0, 1, 0, 1, 1]]


def _dl(tree):
    return {k: _dl(v) for k, v in tree.items()} if isinstance(tree, dict) else dlarray(tree)


def _eager_loss(p, X, T, fmt):
    Y = model(_dl(p), dlarray(X, fmt))
    return float(extractdata(crossentropy(Y, dlarray(T, fmt))))


@pytest.mark.parametrize("fmt", ["CB", "BC"])
def test_model_function_with_formatted_data(fmt):
    X, T = (XD, TD) if fmt == "CB" else (XD.T, TD.T)
    loss, grads, Y = dlfeval(model_loss, _dl(P), dlarray(X, fmt), dlarray(T, fmt))
    assert float(extractdata(loss)) == pytest.approx(_eager_loss(P, X, T, fmt), rel=1e-12)
    assert dims(Y) == dims(model(_dl(P), dlarray(X, fmt)))
    for layer in ("fc1", "fc2"):
        for name in ("Weights", "Bias"):
            def f(v, layer=layer, name=name):
                q = {k: dict(v2) for k, v2 in P.items()}
                q[layer][name] = v
                return _eager_loss(q, X, T, fmt)
            expected = numerical_gradient(f, [P[layer][name]], 0)
            assert_close(np.asarray(extractdata(grads[layer][name])), expected, 1e-5, 1e-7)


def test_conv_model_through_two_helper_levels():
    rng = np.random.default_rng(1)
    p = {"w1": rng.standard_normal((3, 3, 2, 4)) * 0.5, "b1": np.zeros(4), "s1": np.ones(4), "o1": np.zeros(4),
         "fw": rng.standard_normal((3, 16)) * 0.3, "fb": np.zeros(3)}
    X = rng.random((8, 8, 2, 2))
    T = np.eye(3)[:, [0, 2]]
    loss, g, fmt = dlfeval(conv_loss, _dl(p), dlarray(X, "SSCB"), dlarray(T, "CB"))
    assert fmt == "CB"

    def eager(q):
        Y = conv_model(_dl(q), dlarray(X, "SSCB"))
        return float(extractdata(crossentropy(Y, dlarray(T, "CB"))))
    assert float(extractdata(loss)) == pytest.approx(eager(p), rel=1e-10)
    for name in ("w1", "fw", "s1"):
        def f(v, name=name):
            q = dict(p)
            q[name] = v
            return eager(q)
        assert_close(np.asarray(extractdata(g[name])), numerical_gradient(f, [p[name]], 0), 1e-4, 1e-6)


def test_defaults_keywords_and_branches_of_the_helper():
    w = np.random.default_rng(2).standard_normal((2, 3))
    X = dlarray(np.random.default_rng(3).random((3, 4)), "CB")
    loss, g = dlfeval(branchy_loss, dlarray(w), X)

    def f(v):
        Y = fullyconnect(X, dlarray(v), np.zeros((2, 1)))
        Z = Y * Y * 2.0 + Y * 0.5
        return float(np.sum(extractdata(Z)))
    assert float(extractdata(loss)) == pytest.approx(f(w), rel=1e-12)
    assert_close(np.asarray(extractdata(g)), numerical_gradient(f, [w], 0), 1e-5, 1e-7)


def test_a_redefined_helper_is_used_anew():
    global scaled
    old = scaled
    w = np.random.default_rng(2).standard_normal((2, 3))
    X = dlarray(np.random.default_rng(3).random((3, 4)), "CB")
    first, _ = dlfeval(branchy_loss, dlarray(w), X)

    def scaled(X, k=2.0, square=False):      # noqa: F811  (a notebook cell run again, changed)
        return X * k * 10.0
    try:
        second, _ = dlfeval(branchy_loss, dlarray(w), X)
    finally:
        scaled = old
    Y = extractdata(fullyconnect(X, dlarray(w), np.zeros((2, 1))))
    assert float(extractdata(second)) == pytest.approx(float(np.sum(Y * 20.0 + Y * 5.0)), rel=1e-12)
    assert float(extractdata(first)) != pytest.approx(float(extractdata(second)))


def test_a_helper_of_another_module_is_still_refused_clearly(tmp_path):
    source = "def other_model(X, w):\n    return fullyconnect(X, w, 0.0)\n"
    path = str(tmp_path / "other_models_dec5.py")
    with open(path, "w") as fh:
        fh.write("from sct import fullyconnect\n" + source)
    import importlib.util
    spec = importlib.util.spec_from_file_location("other_models_dec5", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    globals()["other_model"] = module.other_model
    try:
        with pytest.raises(CompileError) as info:
            dlfeval(uses_other, dlarray(np.ones((3, 2)), "CB"), dlarray(np.ones((2, 3))))
        assert "formatted dlarray is passed to other_model()" in str(info.value)
        assert info.value.filename == __file__
    finally:
        del globals()["other_model"]


def uses_other(X, w):
    Y = other_model(X, w)  # noqa: F821  (bound by the test)
    loss = np.sum(stripdims(Y))
    return loss, dlgradient(loss, w)


def net_model(net, X):
    Y, state = sct.forward(net, X)
    return Y


def net_loss(net, X, T):
    Y = net_model(net, X)
    loss = crossentropy(Y, T)
    return loss, dlgradient(loss, net.Learnables)


def net_loss_direct(net, X, T):
    Y, state = sct.forward(net, X)
    loss = crossentropy(Y, T)
    return loss, dlgradient(loss, net.Learnables)


def pinn_u(net, x):
    return sct.predict(net, x)


def pinn_loss(net, x):
    u = pinn_u(net, x)
    ux = dlgradient(np.sum(stripdims(u)), x, EnableHigherDerivatives=True)
    loss = np.mean(stripdims(ux) ** 2)
    return loss, dlgradient(loss, net.Learnables)


def pinn_loss_direct(net, x):
    u = sct.predict(net, x)
    ux = dlgradient(np.sum(stripdims(u)), x, EnableHigherDerivatives=True)
    loss = np.mean(stripdims(ux) ** 2)
    return loss, dlgradient(loss, net.Learnables)


def early(X, w):
    Y = fullyconnect(X, w, 0.0)
    for i in range(3):
        if np.sum(stripdims(Y)) > 100.0:
            return Y * 0.0
        Y = relu(Y) * 1.5
    return Y


def writes_param(X, buf):
    buf[0] = np.sum(stripdims(X))
    return X * 2.0


def loop_and_write_loss(X, w):
    total = 0.0
    buf = np.zeros(2)
    for k in range(3):
        Y = writes_param(early(X, w * (k + 1)), buf)
        total = total + np.sum(stripdims(Y)) + buf[0]
    return total, dlgradient(total, w)


@pytest.mark.parametrize("via, direct, args", [
    (net_loss, net_loss_direct, "classifier"),
    (pinn_loss, pinn_loss_direct, "pinn"),
])
def test_networks_in_helpers_match_the_same_code_in_place(via, direct, args):
    rng = np.random.default_rng(4)
    if args == "classifier":
        net = sct.dlnetwork([sct.featureInputLayer(3), sct.fullyConnectedLayer(4), sct.reluLayer(),
                             sct.fullyConnectedLayer(2), sct.softmaxLayer()])
        inputs = (dlarray(rng.random((3, 5)), "CB"), dlarray(TD, "CB"))
    else:
        net = sct.dlnetwork([sct.featureInputLayer(1), sct.fullyConnectedLayer(5), sct.tanhLayer(),
                             sct.fullyConnectedLayer(1)])
        inputs = (dlarray(rng.random((1, 4)), "CB"),)
    l1, g1 = dlfeval(via, net, *inputs)
    l2, g2 = dlfeval(direct, net, *inputs)
    assert float(extractdata(l1)) == float(extractdata(l2))
    for a, b in zip(g1.Value, g2.Value):
        assert np.array_equal(extractdata(a), extractdata(b))


def test_helpers_with_loops_early_returns_and_writes_into_arguments():
    rng = np.random.default_rng(5)
    X = dlarray(rng.random((3, 4)), "CB")
    w = rng.standard_normal((2, 3))
    total, g = dlfeval(loop_and_write_loss, X, dlarray(w))

    def eager(v):
        t, buf = 0.0, np.zeros(2)
        for k in range(3):
            Y = writes_param(early(X, dlarray(v * (k + 1))), buf)
            t = t + float(np.sum(extractdata(Y))) + buf[0]
        return t
    assert float(extractdata(total)) == pytest.approx(eager(w), rel=1e-12)
    assert_close(np.asarray(extractdata(g)), numerical_gradient(eager, [w], 0), 1e-5, 1e-7)
