"""Red team (deep-learning functions, dec 7): MATLAB custom-training-loop idioms checked against
plain numpy and central differences.

1. A deep-learning function called through a value known only when the code runs (``act = softmax``,
   a dict of losses, a default argument ``lf=l2loss``, a layer function in a list) with
   ``DataFormat=`` gave wrong gradients with the right value: the op's rule read the default layout
   (softmax's adjoint along the last axis, not the format's C) and a function compiled from its source
   took its formatted branch (``run_formatted``) as having no derivative (l2loss, layernorm, batchnorm:
   zero gradients); forward mode (``jvp``) the same.  Such a call is now lowered as where the call names
   the function (sct/transform_calls.py: ``_formatted_wrapper``).
2. A ``Mask`` given by position to a loss with formatted data (``l1loss(Y, T, None, M,
   DataFormat="CB")``) was passed on in the data's order inside dlfeval: refused as not broadcasting
   where plain Python gives the loss (sct/format_layout.py).
"""
import functools

import numpy as np
import pytest

import sct
from sct import (batchnorm, crossentropy, dlarray, dlconv, dlfeval, dlgradient, huber, l1loss, l2loss, layernorm, lstm,
                 maxpool, mse, softmax)

from gradcheck import D, assert_close, numerical_gradient

RNG = np.random.default_rng(7)
W0 = RNG.standard_normal((5, 3))
X0 = RNG.standard_normal((4, 3))
T0 = np.eye(5)[[0, 1, 2, 3]]
M0 = (RNG.random((5, 4)) > 0.3).astype(float)
V0 = RNG.standard_normal(W0.shape)


def _softmax_cb(z):
    e = np.exp(z - z.max(0, keepdims=True))
    return e / e.sum(0, keepdims=True)


# plain numpy references (MATLAB's definitions, data "CB": channels on axis 0, observations on axis 1)
def ref_softmax_alias(W, x):
    return np.sum(_softmax_cb((x @ W.T).T) * T0.T)


def ref_l2_none(W, x):
    return np.sum(((np.tanh(x @ W.T).T - T0.T) ** 2) ** 2)


def ref_ce_mask(W, x):
    y = _softmax_cb((x @ W.T).T)
    per = -np.sum(M0 * T0.T * np.log(y), axis=0) / np.maximum(M0.sum(0) / 5, 1)
    return np.sum(per)


def ref_layernorm(W, x):
    y = np.tanh(x @ W.T).T
    mu = y.mean(0, keepdims=True)
    return np.sum((y - mu) / np.sqrt(y.var(0, keepdims=True) + 1e-5) * T0.T)


def ref_batchnorm(W, x):
    y = np.tanh(x @ W.T).T
    mu = y.mean(1, keepdims=True)
    return np.sum((y - mu) / np.sqrt(y.var(1, keepdims=True) + 1e-5) * T0.T)


def ref_mse(W, x):
    return np.sum((np.tanh(x @ W.T) - T0) ** 2) / (2 * 4)


def softmax_alias(W, x):
    act = softmax
    return np.sum(act((x @ W.T).T, DataFormat="CB") * T0.T)


def l2_dict_item(W, x):
    losses = {"l2": l2loss}
    return np.sum(losses["l2"](np.tanh((x @ W.T).T), T0.T, DataFormat="CB", Reduction="none") ** 2)


def ce_dict_item_mask(W, x):
    losses = {"ce": crossentropy}
    return losses["ce"](softmax((x @ W.T).T, DataFormat="CB"), T0.T, DataFormat="CB", Mask=M0,
                        NormalizationFactor="mask-included")


def ce_dict_item(W, x):
    losses = {"ce": crossentropy}
    return losses["ce"](softmax((x @ W.T).T, DataFormat="CB"), T0.T, DataFormat="CB")


def ref_ce(W, x):
    return -np.sum(T0.T * np.log(_softmax_cb((x @ W.T).T))) / 4


def layernorm_default_argument(W, x, norm=layernorm):
    return np.sum(norm(np.tanh(x @ W.T).T, 0.0, 1.0, DataFormat="CB") * T0.T)


def batchnorm_default_argument(W, x, norm=batchnorm):
    return np.sum(norm(np.tanh(x @ W.T).T, np.zeros(5), np.ones(5), DataFormat="CB") * T0.T)


def mse_in_list(W, x):
    total = 0.0
    for loss in [mse]:
        total = total + loss(np.tanh(x @ W.T).T, T0.T, DataFormat="CB")
    return total


CASES = [(softmax_alias, ref_softmax_alias), (l2_dict_item, ref_l2_none), (ce_dict_item_mask, ref_ce_mask), (ce_dict_item, ref_ce),
         (layernorm_default_argument, ref_layernorm), (batchnorm_default_argument, ref_batchnorm),
         (mse_in_list, ref_mse)]


def _gradient(fun):
    def model_loss(W, x):
        loss = fun(W, x)
        return loss, dlgradient(loss, W)
    return model_loss


@pytest.mark.parametrize("fun, ref", CASES, ids=[c[0].__name__ for c in CASES])
def test_function_value_with_data_format(fun, ref):
    loss, g = dlfeval(_gradient(fun), dlarray(W0), X0)
    assert_close(D(loss), ref(W0, X0), rtol=1e-12, atol=1e-12, what="value")
    assert_close(D(g), numerical_gradient(lambda w: ref(w, X0), [W0.copy()], 0), what="gradient")
    # forward mode: the tangent along V0
    y, t = sct.jvp(lambda w: fun(w, X0), (W0.copy(),), (V0,))
    step = 1e-6
    expected = (ref(W0 + step * V0, X0) - ref(W0 - step * V0, X0)) / (2 * step)
    assert_close(np.asarray(t), expected, rtol=1e-5, atol=1e-7, what="tangent")


def test_function_value_with_data_format_second_order():
    def penalty(W, x):
        loss = ce_dict_item_mask(W, x)
        g = dlgradient(loss, W, EnableHigherDerivatives=True)
        z = np.sum(g * g)
        return z, dlgradient(z, W)

    def z_of(w):
        return float(np.sum(D(dlfeval(_gradient(ce_dict_item_mask), dlarray(w), X0)[1]) ** 2))
    z, h = dlfeval(penalty, dlarray(W0), X0)
    assert_close(D(z), z_of(W0.copy()), rtol=1e-12, atol=1e-12, what="z")
    assert_close(D(h), numerical_gradient(z_of, [W0.copy()], 0, 1e-5), rtol=1e-4, atol=1e-6, what="d2")


def test_lstm_default_argument_with_data_format():
    X = RNG.standard_normal((3, 2, 4))           # "CBT": C=3, B=2, T=4

    def sig(z):
        return 1 / (1 + np.exp(-z))

    def ref(W, x):
        h = np.zeros((2, 1))
        c = np.zeros((2, 1))
        out = 0.0
        for t in range(4):
            z = X[:, :, t].T @ W[:4].T + h * 0.3
            i, f, g, o = sig(z[:, 0:1]), sig(z[:, 1:2]), np.tanh(z[:, 2:3]), sig(z[:, 3:4])
            c = f * c + i * g
            h = o * np.tanh(c)
            out = out + np.sum(h ** 2)
        return out + np.sum(h * c)

    def fun(W, x, rnn=lstm):
        Y, h, c = rnn(X, np.zeros((1, 2)), np.zeros((1, 2)), W[:4], np.ones((4, 1)) * 0.3, np.zeros(4),
                      DataFormat="CBT")
        return np.sum(Y ** 2) + np.sum(h * c)
    loss, g = dlfeval(_gradient(fun), dlarray(W0), X0)
    assert_close(D(loss), ref(W0, X0), rtol=1e-12, atol=1e-12, what="value")
    assert_close(D(g), numerical_gradient(lambda w: ref(w, X0), [W0.copy()], 0), what="gradient")


def test_maxpool_default_argument_with_data_format():
    def pooled(W, x):
        return np.reshape(np.tanh(x @ W.T), (4, 5, 1, 1))       # "SSCB": 4 x 5 image, 1 channel, 1 obs

    def ref(W, x):
        y = pooled(W, x)[:, :, 0, 0]
        windows = np.maximum(np.maximum(y[:-1, :-1], y[1:, :-1]), np.maximum(y[:-1, 1:], y[1:, 1:]))
        return np.sum(windows ** 2)

    def fun(W, x, pool=maxpool):
        return np.sum(pool(pooled(W, x), 2, Stride=1, DataFormat="SSCB") ** 2)
    loss, g = dlfeval(_gradient(fun), dlarray(W0), X0)
    assert_close(D(loss), ref(W0, X0), rtol=1e-12, atol=1e-12, what="value")
    assert_close(D(g), numerical_gradient(lambda w: ref(w, X0), [W0.copy()], 0), what="gradient")


@pytest.mark.parametrize("loss_fn", [l1loss, l2loss, huber], ids=["l1loss", "l2loss", "huber"])
def test_positional_mask_with_data_format(loss_fn):
    Y0 = RNG.standard_normal((5, 4))
    T1 = RNG.standard_normal((5, 4))
    values = {"l1loss": np.abs, "l2loss": np.square,
              "huber": lambda d: np.where(np.abs(d) <= 1, 0.5 * d * d, np.abs(d) - 0.5)}[loss_fn.__name__]

    def ref(Y):
        return np.sum(M0 * values(Y - T1)) / 4

    def by_position(Y):
        loss = loss_fn(Y, T1, None, M0, DataFormat="CB")
        return loss, dlgradient(loss, Y)

    def formatted(Y):
        loss = loss_fn(dlarray(Y, "CB"), T1, None, M0)
        return loss, dlgradient(loss, Y)
    for fun in (by_position, formatted):
        loss, g = dlfeval(fun, dlarray(Y0))
        assert_close(D(loss), ref(Y0), rtol=1e-12, atol=1e-12, what="value")
        assert_close(D(loss), loss_fn(Y0, T1, None, M0, DataFormat="CB"), rtol=1e-12, atol=1e-12, what="eager")
        assert_close(D(g), numerical_gradient(ref, [Y0.copy()], 0), what="gradient")


# 3. Options given by position (``softmax(Y, -1, "CB")``, ``l2loss(Y, T, None, None, "sum", "batch-size",
#    "CB")``) were not seen by the format lowering, which reads them by keyword: the right value (the
#    function ran its formatted branch) with the default-layout gradient (softmax's along the wrong axis,
#    l2loss's zero); a positional Reduction "none" (or Mask=None) raised numpy's "axes don't match array".
#    A functools.partial(l2loss, DataFormat="CB") passed in (its frozen DataFormat laid out by position)
#    gave a zero gradient.
Y1 = RNG.standard_normal((5, 4))
T1 = np.eye(5)[:, [0, 1, 2, 3]]
POSITIONAL = [
    ("softmax", lambda Y: np.sum(softmax(Y, -1, "CB") * T1 * np.arange(4.0)),
     lambda Y: np.sum(_softmax_cb(Y) * T1 * np.arange(4.0))),
    ("l2loss", lambda Y: l2loss(Y, T1, None, None, "sum", "batch-size", "CB"), lambda Y: np.sum((Y - T1) ** 2) / 4),
    ("l2loss_none", lambda Y: np.sum(l2loss(Y, T1, None, None, "none", DataFormat="CB") * np.arange(4.0)),
     lambda Y: np.sum((Y - T1) ** 2 * np.arange(4.0))),
    ("l1loss_mask_none", lambda Y: l1loss(Y, T1, Mask=None, DataFormat="CB"), lambda Y: np.sum(np.abs(Y - T1)) / 4),
    ("mse", lambda Y: mse(Y, T1, "CB"), lambda Y: np.sum((Y - T1) ** 2) / 8),
    ("crossentropy", lambda Y: crossentropy(softmax(Y, DataFormat="CB"), T1, None, -1, "mean", "CB"),
     lambda Y: -np.sum(T1 * np.log(_softmax_cb(Y))) / 4),
    ("layernorm", lambda Y: np.sum(layernorm(Y, 0.0, 1.0, 1e-5, "auto", "CB") * T1),
     lambda Y: np.sum((Y - Y.mean(0)) / np.sqrt(Y.var(0) + 1e-5) * T1)),
]


@pytest.mark.parametrize("fun, ref", [c[1:] for c in POSITIONAL], ids=[c[0] for c in POSITIONAL])
def test_options_by_position(fun, ref):
    def model_loss(Y):
        loss = fun(Y)
        return loss, dlgradient(loss, Y)
    loss, g = dlfeval(model_loss, dlarray(Y1))
    assert_close(D(loss), ref(Y1), rtol=1e-12, atol=1e-12, what="value")
    assert_close(np.asarray(fun(Y1.copy())), ref(Y1), rtol=1e-12, atol=1e-12, what="eager")
    assert_close(D(g), numerical_gradient(ref, [Y1.copy()], 0), what="gradient")


@pytest.mark.parametrize("name", ["l2loss", "softmax"])
def test_partial_with_data_format_passed_in(name):
    fn = functools.partial(l2loss if name == "l2loss" else softmax, DataFormat="CB")

    def ref(W):
        y = np.tanh(X0 @ W.T).T
        return np.sum((y - T0.T) ** 2) / 4 if name == "l2loss" else np.sum(_softmax_cb(y) * T0.T)

    def fun(W, x, f):
        y = np.tanh(x @ W.T).T
        return f(y, T0.T) if name == "l2loss" else np.sum(f(y) * T0.T)

    def model_loss(W, x, f):
        loss = fun(W, x, f)
        return loss, dlgradient(loss, W)
    loss, g = dlfeval(model_loss, dlarray(W0), X0, fn)
    assert_close(D(loss), ref(W0), rtol=1e-12, atol=1e-12, what="value")
    assert_close(D(g), numerical_gradient(ref, [W0.copy()], 0), what="gradient")


# 4. A helper of the same file that labels its data (``Y = model(p, X)`` doing ``dlarray(X, "CBT")``) called
#    from a function that itself meets no data format (the loss and its targets unformatted) was compiled on
#    its own and refused as returning a formatted dlarray (a false refusal of MATLAB's model-function
#    idiom); it is now read in place, as where the caller meets formats (sct/inline_helpers.py).
XS = RNG.standard_normal((5, 2, 4))            # "CBT": 5 features, 2 observations, 4 time steps
TS = np.eye(3)[RNG.integers(0, 3, (2, 4))].transpose(2, 0, 1)
MS = np.ones((3, 2, 4))
MS[:, 1, 2:] = 0
PS = {"W": RNG.standard_normal((3, 5)), "b": RNG.standard_normal(3)}


def sequence_model(p, X):
    X = dlarray(X, "CBT")
    return softmax(sct.fullyconnect(X, p["W"], p["b"]))


def labelled_inside(X):
    return dlarray(X, "CBT")


def sequence_model_deep(p, X):
    return softmax(sct.fullyconnect(labelled_inside(X), p["W"], p["b"]))


def _reference_scores(p, X):
    z = np.einsum("cf,fbt->cbt", p["W"], X) + p["b"][:, None, None]
    e = np.exp(z - z.max(0, keepdims=True))
    return e / e.sum(0, keepdims=True)


def masked_loss(p, X):
    Y = sequence_model(p, X)
    loss = crossentropy(Y, TS, Mask=MS, NormalizationFactor="mask-included")
    return loss, dlgradient(loss, p)


def masked_loss_deep(p, X):
    Y = sequence_model_deep(p, X)
    loss = crossentropy(Y, TS, Mask=MS, NormalizationFactor="mask-included")
    return loss, dlgradient(loss, p)


@pytest.mark.parametrize("model_loss", [masked_loss, masked_loss_deep], ids=["labels", "helper_labels"])
def test_model_helper_labelling_its_data(model_loss):
    def ref(p):
        per = -np.sum(MS * TS * np.log(_reference_scores(p, XS)), axis=(0, 2)) / (MS.sum((0, 2)) / 3)
        return np.sum(per)
    loss, g = dlfeval(model_loss, {k: dlarray(v) for k, v in PS.items()}, XS)
    assert_close(D(loss), ref(PS), rtol=1e-12, atol=1e-12, what="value")
    for k in PS:
        expected = numerical_gradient(lambda a, k=k: ref(dict(PS, **{k: a})), [PS[k].copy()], 0)
        assert_close(D(g[k]), expected, what=f"d/d{k}")


# 5. functools.partial(dlconv, Padding="same") made in the function (sct/partials.py: a nested def passing
#    every parameter on, DataFormat=DataFormat among them) was refused as "DataFormat inside dlfeval must be
#    a literal string" though no format was given; a parameter defaulting to None is now read as no format,
#    checked None when the code runs (a DataFormat given to the partial's call then is refused, not misread).
XC = RNG.standard_normal((2, 5, 5, 2))
WC = RNG.standard_normal((3, 3, 2, 3)) * 0.5


def _conv_same(x, w):
    xp = np.pad(x, ((0, 0), (1, 1), (1, 1), (0, 0)))
    out = np.zeros(x.shape[:3] + (w.shape[3],))
    for i in range(x.shape[1]):
        for j in range(x.shape[2]):
            out[:, i, j] = np.einsum("bhwc,hwcf->bf", xp[:, i:i + 3, j:j + 3], w)
    return out


def partial_conv_loss(W):
    conv = functools.partial(dlconv, Padding="same")
    loss = np.sum(np.sin(conv(XC, W, 0.0)))
    return loss, dlgradient(loss, W)


def partial_conv_loss_formatted(W):
    conv = functools.partial(dlconv, Padding="same")
    loss = np.sum(np.sin(conv(np.transpose(XC, (1, 2, 3, 0)), W, 0.0, DataFormat="SSCB")))
    return loss, dlgradient(loss, W)


def test_partial_of_dlconv_made_in_the_function():
    def ref(w):
        return np.sum(np.sin(_conv_same(XC, w)))
    loss, g = dlfeval(partial_conv_loss, dlarray(WC))
    assert_close(D(loss), ref(WC), rtol=1e-12, atol=1e-12, what="value")
    assert_close(D(g), numerical_gradient(ref, [WC.copy()], 0), what="gradient")
    # a DataFormat given to the partial's call (was refused: the partial's def is now read in place, its
    # frozen keywords literal defaults, so the call's DataFormat is a literal there; test_today_s41.py)
    def ref_formatted(w):
        return np.sum(np.sin(np.transpose(_conv_same(XC, w), (1, 2, 3, 0))))
    loss, g = dlfeval(partial_conv_loss_formatted, dlarray(WC))
    assert_close(D(loss), ref_formatted(WC), rtol=1e-12, atol=1e-12, what="value")
    assert_close(D(g), numerical_gradient(ref_formatted, [WC.copy()], 0), what="gradient")


# 6. A traced value given by keyword to a deep-learning function called through a value with DataFormat=
#    (``losses["l2"](Y, T, weights=w, DataFormat="CB")``: rt.keywords_method's adapter, compiled in the
#    runtime's module, passes DataFormat on as a name) had a zero gradient.
YK = RNG.standard_normal((5, 4))
TK = RNG.standard_normal((5, 4))
WK = RNG.random(5) + 0.5


def keyword_weights_loss(w, Y):
    losses = {"l2": l2loss}
    loss = losses["l2"](Y, TK, weights=w, DataFormat="CB")
    return loss, dlgradient(loss, w, Y)


def test_traced_keyword_to_function_value_with_data_format():
    def ref(w, Y):
        return np.sum(w[:, None] * (Y - TK) ** 2) / 4
    loss, (gw, gY) = dlfeval(keyword_weights_loss, dlarray(WK), dlarray(YK))
    assert_close(D(loss), ref(WK, YK), rtol=1e-12, atol=1e-12, what="value")
    assert_close(D(gw), numerical_gradient(lambda w: ref(w, YK), [WK.copy()], 0), what="d/dweights")
    assert_close(D(gY), numerical_gradient(lambda Y: ref(WK, Y), [YK.copy()], 0), what="d/dY")
    losses = {"l2": l2loss}
    y, t = sct.jvp(lambda w: losses["l2"](YK, TK, weights=w, DataFormat="CB"), (WK.copy(),), (np.ones(5),))
    assert_close(np.asarray(t), np.sum((YK - TK) ** 2) / 4, rtol=1e-10, atol=1e-12, what="tangent")
