"""Red team (Dec 10, R1): MATLAB documentation scenarios of the deep-learning functions as users
translate them (model functions with parameter dicts, formatted "SSCB"/"CB"/"CBT" data, the losses'
options, gradient penalties), values against numpy written from the reference pages, gradients
against central differences (tests/gradcheck.py).

Found and fixed (each was a silent zero gradient):

1. ``crossentropy(Y, T, weights)`` (and ``Mask=``): the rule differentiated only ``Y`` and the targets,
   and runtime ops were exempt from the check that refuses a traced argument the rule does not cover,
   so ``dlgradient(loss, weights)`` was 0 (learned class weights, a mask computed from the data).  The
   rule now gives the derivatives by ``weights`` and ``Mask`` (runtime/nn.py).
2. ``l2loss``/``l1loss``/``huber``/``crossentropy`` of *formatted* data with weights: the weights went
   through ``crossentropy_class_weights`` (a check that returns them as they are) declared
   nondifferentiable, so their gradient was 0 (``l2loss(dlarray(Y, "CB"), T, w)``; unformatted was right).
3. ``huber(Y, T, TransitionPoint=d)`` with a traced ``d``: 0 (no derivative by ``delta``).
4. ``dlconv(..., PaddingValue=p)`` with a traced ``p``: 0; now refused at the user's line (the functions
   ``sct`` exports are checked as the user's own rules are: sct/analysis.py ``_public_op``).

Found and fixed (a silent wrong value):

5. MATLAB's ``mean(X, finddim(X, "S"))`` as ``np.mean(X, axis=tuple(finddim(X, "S")))`` inside dlfeval: a
   reduction whose axis is not a literal was taken as giving an *unformatted* array (outside dlfeval it
   keeps "CB"), which ``fullyconnect`` then read in sct's default layout (batch first): a wrong loss
   whenever C and B have the same size (numpy's matmul error otherwise).  ``finddim``'s constant is now
   followed through ``tuple()``/``list()`` (sct/formats.py, sct/format_inference.py), and an axis not known
   when compiling gives a format not known, refused where a deep-learning function reads it.
6. ``np.cumsum``, ``np.sort``, ``np.round``, ``np.pad``, ``np.nan_to_num``, ... and the methods ``X.clip``,
   ``X.round``, ``X.cumsum``, ``X.conj`` of a formatted dlarray gave an *unformatted* array not marked as
   having lost its labels, so ``softmax``/``fullyconnect``/the losses read it in sct's default layout
   (softmax over the batch of a "CB" array: MATLAB's ``softmax(cumsum(X, 1))`` is over the channels),
   eagerly and in dlfeval alike.  Such results are now marked LOST (runtime/dlarray.py) and followed as
   LOST when compiling (sct/formats.py): refused, as the README promises for reshapes and transposes.

Found and fixed (a refusal a user hits):

7. ``X = dlarray(x); X.sum()`` (any array method of a dlarray made in the function) was refused with
   "no derivative rule for 'ndarray.sum'": ``sct.dlarray.__module__`` is ``"sct"``, which the test for the
   user's own classes (``startswith("sct.")``) missed, so X was taken for an object of the user's class.
8. ``sct.jvp`` (forward mode) of a function labelling a *constant* (``fullyconnect(dlarray(Z, "CB"), w,
   b)`` with the tangent along ``w``; ``dlconv(dlarray(X, "SSCB"), k, 0)`` along ``k``) was refused with
   "its input is unformatted because an operation ... dropped the labels": the forward code kept the
   dlarray object, which the format's transposes marked as lost (sct/tangent.py now writes its data, as
   the reverse-mode code does).
9. An output of dlfeval whose labels were lost (``X.T``, ``np.cumsum(X, 0)``, a reshape) or not known
   when compiling came back plainly unformatted, not marked as the same value made outside dlfeval is, so
   ``softmax(Y)`` of it *after* dlfeval read it in sct's default layout where plain Python refuses
   (sct/format_inference.py ``output_tree``, runtime/formats.py ``relabel``).
10. Outside dlfeval, the ufuncs' methods (``np.add.reduce``, ``np.add.accumulate``, ...) of a formatted
    dlarray gave an unformatted result not marked LOST (read by softmax in the default layout), and
    ``np.divmod``/``np.modf``/``np.frexp`` (elementwise, two outputs) dropped the labels of both outputs.
11. ``for xt in X`` of a formatted dlarray outside dlfeval gave unformatted rows (``X[t]`` of a "TCB" X is
    "CB"), so ``softmax(xt)`` took B for the channels: 40.64 where dlfeval (and MATLAB's X(t,:,:)) gives
    30.0 for the program below.  Iteration now gives ``X[i]`` (runtime/dlarray.py ``__iter__``).
12. Inside dlfeval, ``np.concatenate([X, Y])`` of arrays labelled differently ("CBT" and "BCT"), or with
    ``axis=None``, was taken as unformatted (outside: LOST, refused), so ``softmax`` read it in the default
    layout: a silent wrong value (sct/formats.py ``kept_labels``).
13. ``dropout(X, p)`` and ``attention(..., DropoutProbability=p)`` with a traced ``p``: the gradient by
    ``p`` was 0 (the scale 1/(1 - p) sits in the nondifferentiable mask; 24.49 for the program below);
    now differentiated: the mask is applied by an op whose rule gives sum(g * Y) / (1 - p) for p
    (runtime/nn.py ``apply_dropout_mask``; which entries are kept is piecewise constant in p).
"""
from __future__ import annotations

import numpy as np
import pytest

import sct
from sct import (dlarray, dlfeval, dlgradient, extractdata, dims, finddim, stripdims, dlconv, batchnorm, layernorm,
                 relu, leakyrelu, softmax, sigmoid, fullyconnect, crossentropy, l1loss, l2loss, huber, mse, dropout)
from gradcheck import assert_close, numerical_gradient

pytestmark = pytest.mark.usefixtures("fresh_cache")   # tests/conftest.py

RNG = np.random.default_rng(20261210)


def _softmax(z, axis):
    e = np.exp(z - z.max(axis, keepdims=True))
    return e / e.sum(axis, keepdims=True)


# --- 1. crossentropy's weights and Mask ------------------------------------------------------------

C, B = 4, 3
Z = RNG.standard_normal((C, B))
T = np.eye(C)[:, [0, 2, 3]]
WC = RNG.uniform(0.5, 2.0, C)
M = RNG.uniform(0.2, 1.0, (C, B))


def ce_weighted_cb(z, w, m):
    loss = crossentropy(softmax(dlarray(z, "CB")), T, w, Mask=m)
    return loss, dlgradient(loss, z, w, m)


def ce_weighted_bc(z, w, m):          # sct's default layout, unformatted
    loss = crossentropy(softmax(z), T.T, w, Mask=m)
    return loss, dlgradient(loss, z, w, m)


def _ce_ref(z, w, m):                 # MATLAB's page: -sum(w .* m .* T .* log(Y)) / N, (C, B) data
    return -np.sum(w[:, None] * m * T * np.log(_softmax(z, 0))) / B


def test_crossentropy_weights_and_mask_gradients_formatted():
    loss, (gz, gw, gm) = dlfeval(ce_weighted_cb, dlarray(Z), dlarray(WC), dlarray(M))
    assert_close(float(loss), _ce_ref(Z, WC, M), rtol=1e-12)
    for k, got in enumerate((gz, gw, gm)):
        expected = numerical_gradient(_ce_ref, [Z.copy(), WC.copy(), M.copy()], k)
        assert_close(extractdata(got), expected, what=f"d/darg{k}")
    assert np.any(extractdata(gw) != 0)                 # was exactly 0


def test_crossentropy_weights_and_mask_gradients_unformatted():
    loss, (gz, gw, gm) = dlfeval(ce_weighted_bc, dlarray(Z.T), dlarray(WC), dlarray(M.T))
    assert_close(float(loss), _ce_ref(Z, WC, M), rtol=1e-12)
    assert_close(extractdata(gz), numerical_gradient(_ce_ref, [Z.copy(), WC.copy(), M.copy()], 0).T)
    assert_close(extractdata(gw), numerical_gradient(_ce_ref, [Z.copy(), WC.copy(), M.copy()], 1))
    assert_close(extractdata(gm), numerical_gradient(_ce_ref, [Z.copy(), WC.copy(), M.copy()], 2).T)


def ce_options(z, w, m):
    y = sigmoid(dlarray(z, "CB"))
    loss = crossentropy(y, T, w, Mask=m, ClassificationMode="multilabel", NormalizationFactor="all-elements")
    return loss, dlgradient(loss, w, m)


def ce_observation_weights(z, w):
    loss = crossentropy(softmax(dlarray(z, "CB")), T, w, WeightsFormat="B")
    return loss, dlgradient(loss, w)


def test_crossentropy_weight_gradients_with_options():
    def ref(w, m):
        s = 1 / (1 + np.exp(-Z))
        return -np.sum(w[:, None] * m * (T * np.log(s) + (1 - T) * np.log(1 - s))) / (B * C)
    loss, (gw, gm) = dlfeval(ce_options, dlarray(Z), dlarray(WC), dlarray(M))
    assert_close(float(loss), ref(WC, M), rtol=1e-12)
    assert_close(extractdata(gw), numerical_gradient(ref, [WC.copy(), M.copy()], 0))
    assert_close(extractdata(gm), numerical_gradient(ref, [WC.copy(), M.copy()], 1))
    wb = RNG.uniform(0.5, 2.0, B)

    def ref_b(w):
        return -np.sum(w[None, :] * T * np.log(_softmax(Z, 0))) / B
    loss, gw = dlfeval(ce_observation_weights, dlarray(Z), dlarray(wb))
    assert_close(float(loss), ref_b(wb), rtol=1e-12)
    assert_close(extractdata(gw), numerical_gradient(ref_b, [wb.copy()], 0))


def ce_first(z, w, m):
    loss = crossentropy(softmax(dlarray(z, "CB")), T, w, Mask=m)
    return loss, dlgradient(loss, z, w, m)


def ce_second(z, w, m):
    loss = crossentropy(softmax(dlarray(z, "CB")), T, w, Mask=m)
    gz, gw, gm = dlgradient(loss, z, w, m, EnableHigherDerivatives=True)
    s = np.sum(gz ** 2) + np.sum(np.sin(gw)) + np.sum(gm * gm)
    return s, dlgradient(s, z, w, m)


def test_crossentropy_weight_gradients_second_order():
    def s_of(z, w, m):
        _, (gz, gw, gm) = dlfeval(ce_first, dlarray(z), dlarray(w), dlarray(m))
        gz, gw, gm = extractdata(gz), extractdata(gw), extractdata(gm)
        return np.sum(gz ** 2) + np.sum(np.sin(gw)) + np.sum(gm * gm)
    s, grads = dlfeval(ce_second, dlarray(Z), dlarray(WC), dlarray(M))
    assert_close(float(s), s_of(Z, WC, M), rtol=1e-12)
    for k, got in enumerate(grads):
        expected = numerical_gradient(s_of, [Z.copy(), WC.copy(), M.copy()], k, step=1e-5)
        assert_close(extractdata(got), expected, rtol=1e-4, atol=1e-6, what=f"d2/darg{k}")


def ce_weights_only(w):
    return crossentropy(softmax(Z.T), T.T, w)


def test_crossentropy_weights_forward_mode():
    v = RNG.standard_normal(C)

    def ref(w):
        return -np.sum(w[None, :] * T.T * np.log(_softmax(Z.T, 1))) / B
    y, jv = sct.jvp(ce_weights_only, (WC,), (v,))
    assert_close(float(np.asarray(getattr(jv, "data", jv))), (ref(WC + 1e-6 * v) - ref(WC - 1e-6 * v)) / 2e-6,
                 rtol=1e-6)


# --- 2. the other losses' weights of formatted data ---------------------------------------------

Y2 = RNG.standard_normal((C, B))
T2 = RNG.standard_normal((C, B))


def l2_cb(y, w):
    loss = l2loss(dlarray(y, "CB"), T2, w)
    return loss, dlgradient(loss, y, w)


def l1_cb_observations(y, w):
    loss = l1loss(dlarray(y, "CB"), T2, w, WeightsFormat="B")
    return loss, dlgradient(loss, y, w)


def huber_bc(y, w):
    loss = huber(dlarray(y, "BC"), T2.T, w, TransitionPoint=0.5)
    return loss, dlgradient(loss, y, w)


def test_formatted_loss_weight_gradients():
    def l2(y, w):
        return np.sum(w[:, None] * (y - T2) ** 2) / B

    def l1(y, w):
        return np.sum(w[None, :] * np.abs(y - T2)) / B

    def hb(y, w):
        d = np.abs(y - T2)
        return np.sum(w[:, None] * np.where(d <= 0.5, 0.5 * d * d, 0.5 * (d - 0.25))) / B
    wb = RNG.uniform(0.5, 2.0, B)
    for fun, ref, w, order in ((l2_cb, l2, WC, False), (l1_cb_observations, l1, wb, False),
                               (huber_bc, hb, WC, True)):
        y = Y2.T.copy() if order else Y2.copy()
        loss, (gy, gw) = dlfeval(fun, dlarray(y), dlarray(w))
        assert_close(float(loss), ref(Y2, w), rtol=1e-12, what=fun.__name__)
        ey = numerical_gradient(ref, [Y2.copy(), w.copy()], 0)
        assert_close(extractdata(gy), ey.T if order else ey, what=fun.__name__)
        assert_close(extractdata(gw), numerical_gradient(ref, [Y2.copy(), w.copy()], 1), what=fun.__name__)


# --- 3. huber's TransitionPoint ----------------------------------------------------------------

def huber_delta(y, d):
    loss = huber(y, T2.T, TransitionPoint=d)
    return loss, dlgradient(loss, y, d)


def huber_delta_value(d):
    return huber(Y2.T, T2.T, TransitionPoint=d)


def _huber_ref(y, d):
    a = np.abs(y - T2.T)
    return np.sum(np.where(a <= d, 0.5 * a * a, d * a - 0.5 * d * d)) / B


def test_huber_transition_point_gradient():
    loss, (gy, gd) = dlfeval(huber_delta, dlarray(Y2.T), dlarray(0.8))
    assert_close(float(loss), _huber_ref(Y2.T, 0.8), rtol=1e-12)
    assert_close(extractdata(gy), numerical_gradient(_huber_ref, [Y2.T.copy(), np.array(0.8)], 0))
    assert_close(extractdata(gd), numerical_gradient(_huber_ref, [Y2.T.copy(), np.array(0.8)], 1))
    assert float(gd) != 0                                 # was 0
    _, jv = sct.jvp(huber_delta_value, (np.array(0.8),), (np.array(1.0),))
    assert_close(float(np.asarray(getattr(jv, "data", jv))),
                 numerical_gradient(lambda d: _huber_ref(Y2.T, d), [np.array(0.8)], 0))


# --- 4. dlconv's PaddingValue --------------------------------------------------------------------

XC = RNG.standard_normal((1, 4, 4, 2))
WK = RNG.standard_normal((3, 3, 2, 2))


def conv_padding_value(x, p):
    loss = np.sum(dlconv(x, WK, 0.0, Padding=1, PaddingValue=p) ** 2)
    return loss, dlgradient(loss, p)


def conv_padding_value_formatted(x, p):
    loss = np.sum(dlconv(dlarray(x, "SSCB"), WK, 0.0, Padding=1, PaddingValue=p) ** 2)
    return loss, dlgradient(loss, x, p)


def conv_padding_value_constant(x, p):
    loss = np.sum(dlconv(x, WK, 0.0, Padding=1, PaddingValue=extractdata(p)) ** 2)
    return loss, dlgradient(loss, x)


@pytest.mark.parametrize("fun", [conv_padding_value, conv_padding_value_formatted])
def test_traced_padding_value_is_refused(fun):
    with pytest.raises(sct.CompileError, match="PaddingValue") as info:
        dlfeval(fun, dlarray(XC), dlarray(0.7))
    assert info.value.filename == __file__


def test_constant_padding_value_still_differentiates_x():
    def ref(x):
        xp = np.pad(x, ((0, 0), (1, 1), (1, 1), (0, 0)), constant_values=0.7)
        y = np.zeros((1, 4, 4, 2))
        for i in range(4):
            for j in range(4):
                y[0, i, j] = np.einsum("abc,abcf->f", xp[0, i:i + 3, j:j + 3], WK)
        return np.sum(y ** 2)
    loss, g = dlfeval(conv_padding_value_constant, dlarray(XC), dlarray(0.7))
    assert_close(float(loss), ref(XC), rtol=1e-12)
    assert_close(extractdata(g), numerical_gradient(ref, [XC.copy()], 0))


# --- 5. reductions over finddim's dimensions ---------------------------------------------------------

XR = RNG.standard_normal((3, 3, 4, 2))           # "CBSS" with as many channels as observations
WR = RNG.standard_normal((2, 3))
BR = RNG.standard_normal(2)


def pooled_fc(x, w, b):
    X = dlarray(x, "CBSS")
    Y = np.mean(X, axis=tuple(finddim(X, "S")))    # MATLAB's mean(X, finddim(X, "S"))
    Z = fullyconnect(Y, w, b)
    loss = np.sum(np.sin(Z) * np.arange(1.0, 4.0))
    return loss, dlgradient(loss, x, w, b), dims(Y), dims(Z)


def pooled_fc_list(x, w, b):
    X = dlarray(x, "CBSS")
    s = list(finddim(X, "S"))
    Z = fullyconnect(np.sum(X, axis=tuple(s)) / 8, w, b)
    loss = np.sum(np.sin(Z) * np.arange(1.0, 4.0))
    return loss, dlgradient(loss, x, w, b), dims(Z)


def _pooled_ref(x, w, b):
    z = w @ x.mean(axis=(2, 3)) + b[:, None]          # (C, B) as MATLAB's
    return np.sum(np.sin(z) * np.arange(1.0, 4.0))


def test_reduction_over_finddim_keeps_the_labels_in_dlfeval():
    X = dlarray(XR, "CBSS")
    eager = fullyconnect(np.mean(X, axis=tuple(finddim(X, "S"))), WR, BR)
    assert dims(eager) == "CB"
    loss, grads, dy, dz = dlfeval(pooled_fc, dlarray(XR), dlarray(WR), dlarray(BR))
    assert (dy, dz) == ("CB", "CB")
    assert_close(float(loss), _pooled_ref(XR, WR, BR), rtol=1e-12)       # was 4.4795 for 2.4028-like values
    for k, g in enumerate(grads):
        assert_close(extractdata(g), numerical_gradient(_pooled_ref, [XR.copy(), WR.copy(), BR.copy()], k))
    loss, grads, dz = dlfeval(pooled_fc_list, dlarray(XR), dlarray(WR), dlarray(BR))
    assert dz == "CB"
    assert_close(float(loss), _pooled_ref(XR, WR, BR), rtol=1e-12)


def pooled_by_argument(x, axes):
    X = dlarray(x, "CBSS")
    Z = fullyconnect(np.mean(X, axis=axes), WR, BR)
    return np.sum(np.sin(Z))


def test_reduction_over_unknown_axes_then_fullyconnect_is_refused():
    with pytest.raises(sct.CompileError, match="fullyconnect") as info:
        dlfeval(pooled_by_argument, dlarray(XR), (2, 3))
    assert info.value.filename == __file__


# --- 6. results that lost their labels are refused, not read in the default layout ---------------------

XS = RNG.standard_normal((4, 3))                 # "CB": 4 channels, 3 observations


def softmax_of_cumsum(x):
    return np.sum(softmax(np.cumsum(dlarray(x, "CB"), axis=0)) ** 2)


def softmax_of_clip_method(x):
    return np.sum(softmax(dlarray(x, "CB").clip(-1, 1)) ** 2)


def softmax_of_round(x):
    X = dlarray(x, "CB")
    return np.sum(softmax(np.round(X, 1)) ** 2)


def fc_of_sorted(x):
    X = dlarray(x, "CB")
    return np.sum(fullyconnect(np.sort(X, axis=1), np.ones((2, 4)), np.zeros(2)))


@pytest.mark.parametrize("fun", [softmax_of_cumsum, softmax_of_clip_method, softmax_of_round, fc_of_sorted])
def test_lost_labels_of_other_numpy_functions_are_refused(fun):
    with pytest.raises(ValueError, match="unformatted because an operation"):
        fun(XS)                                  # eagerly (was: softmax over the batch axis)
    with pytest.raises(sct.SctError, match="unformatted because an operation"):
        dlfeval(fun, dlarray(XS))


def elementwise_and_kept(x):
    X = dlarray(x, "CB")
    Y = softmax(np.clip(X, -1, 1) + np.abs(X) + X.copy() + np.flip(X, 0))
    return np.sum(Y * np.arange(1.0, 4.0)), dims(Y)


def test_label_keeping_functions_still_keep_them():
    def ref(x):
        z = np.clip(x, -1, 1) + np.abs(x) + x + x[::-1]
        return np.sum(_softmax(z, 0) * np.arange(1.0, 4.0))
    assert_close(float(elementwise_and_kept(XS)[0]), ref(XS), rtol=1e-12)
    loss, d = dlfeval(elementwise_and_kept, dlarray(XS))
    assert d == "CB"
    assert_close(float(loss), ref(XS), rtol=1e-12)


# --- 7. array methods of a dlarray made in the function -------------------------------------------

def methods_of_created(x):
    X = dlarray(x, "CBSS")
    Y = X.mean(axis=(2, 3))                      # MATLAB's mean(X, [3 4]): "CB"
    Z = fullyconnect(Y, WR, BR)
    loss = X.sum() * 0.1 + np.sum(np.sin(Z)) + X.max(axis=3).min(axis=2).std()
    return loss, dlgradient(loss, x), dims(Y)


def test_methods_of_a_dlarray_made_in_the_function():
    def ref(x):
        z = WR @ x.mean(axis=(2, 3)) + BR[:, None]
        return x.sum() * 0.1 + np.sum(np.sin(z)) + x.max(axis=3).min(axis=2).std()
    loss, g, d = dlfeval(methods_of_created, dlarray(XR))
    assert d == "CB"
    assert_close(float(loss), ref(XR), rtol=1e-12)
    assert_close(extractdata(g), numerical_gradient(ref, [XR.copy()], 0))


# --- 8. forward mode with formatted constants ------------------------------------------------------

ZF = RNG.standard_normal((4, 3))
X4F = RNG.standard_normal((5, 5, 2, 3))


def fc_of_constant(w):
    return np.sum(np.sin(fullyconnect(dlarray(ZF, "CB"), w, np.array([0.5, -0.2]))))


def conv_of_constant(k):
    return np.sum(dlconv(dlarray(X4F, "SSCB"), k, 0.0, Padding="same") ** 2)


@pytest.mark.parametrize("fun, shape", [(fc_of_constant, (2, 4)), (conv_of_constant, (3, 3, 2, 2))])
def test_jvp_of_formatted_constants(fun, shape):
    p = RNG.standard_normal(shape)
    v = RNG.standard_normal(shape)
    for mode in ("forward", "transpose"):
        y, jv = sct.jvp(fun, (p,), (v,), mode=mode)
        assert_close(float(np.asarray(getattr(y, "data", y))), float(fun(p)), rtol=1e-12)
        expected = (float(fun(p + 1e-6 * v)) - float(fun(p - 1e-6 * v))) / 2e-6
        assert_close(float(np.asarray(getattr(jv, "data", jv))), expected, rtol=1e-6, what=mode)


# --- 9. outputs of dlfeval that lost their labels keep the mark -------------------------------------

def lost_outputs(x):
    X = dlarray(x, "CB")
    return X.T * 1.0, np.cumsum(X, axis=0), np.reshape(X, (3, 4)), X + 0


def test_outputs_that_lost_labels_are_refused_after_dlfeval_as_outside():
    plain = lost_outputs(XS)
    traced = dlfeval(lost_outputs, dlarray(XS))
    for p, t in zip(plain[:3], traced[:3]):
        assert_close(extractdata(t), extractdata(p), rtol=0, atol=0)
        with pytest.raises(ValueError, match="unformatted because an operation"):
            softmax(p)
        with pytest.raises(ValueError, match="unformatted because an operation"):
            softmax(t)                                # was: softmax over the last axis, no error
        assert_close(extractdata(softmax(stripdims(t))), extractdata(softmax(stripdims(p))), rtol=1e-15)
    assert dims(traced[3]) == dims(plain[3]) == "CB"


# --- 10. ufunc methods and two-output ufuncs outside dlfeval -------------------------------------

def test_ufunc_methods_mark_lost_and_two_output_ufuncs_keep_labels():
    X = dlarray(XS, "CB")
    for y in (np.add.accumulate(X, axis=0), np.add.reduce(X, axis=1, keepdims=True), np.maximum.reduce(X, 0)):
        with pytest.raises(ValueError, match="unformatted because an operation"):
            softmax(y)
    q, r = np.divmod(X, 0.5)
    assert dims(q) == dims(r) == "CB"
    assert_close(extractdata(softmax(r)), _softmax(np.divmod(XS, 0.5)[1], 0), rtol=1e-14)


# --- 11. iterating a formatted dlarray ---------------------------------------------------------------

XT = RNG.standard_normal((5, 4, 3))              # "TCB"


def softmax_per_step(x):
    X = dlarray(x, "TCB")
    total = 0.0
    for xt in X:                                 # MATLAB's X(t, :, :) for each t: "CB"
        total = total + np.sum(softmax(xt) * np.arange(1.0, 4.0))
    return total


def test_iterating_a_formatted_dlarray_gives_its_labelled_items():
    expected = np.sum(_softmax(XT, 1) * np.arange(1.0, 4.0))
    assert_close(float(softmax_per_step(XT)), expected, rtol=1e-12)          # was 40.64 for 30.0
    assert_close(float(dlfeval(softmax_per_step, dlarray(XT))), expected, rtol=1e-12)
    assert [dims(v) for v in dlarray(XT, "TCB")] == ["CB"] * 5
    lost = np.cumsum(dlarray(XT, "TCB"), axis=0)
    with pytest.raises(ValueError, match="unformatted because an operation"):
        softmax(next(iter(lost)))


# --- 12. concatenation of differently labelled arrays in dlfeval ------------------------------------

XC3 = RNG.standard_normal((3, 3, 2))


def softmax_of_mixed_concatenation(x, y):
    X = dlarray(x, "CBT")
    Yb = dlarray(np.transpose(y, (1, 0, 2)), "BCT")
    return np.sum(np.sin(softmax(np.concatenate([X, Yb], axis=0))))


def softmax_of_flat_concatenation(x, y):
    X = dlarray(x, "CBT")
    return np.sum(np.sin(softmax(np.concatenate([X, X], axis=None))))


@pytest.mark.parametrize("fun", [softmax_of_mixed_concatenation, softmax_of_flat_concatenation])
def test_concatenation_that_loses_labels_is_refused_in_dlfeval_as_outside(fun):
    with pytest.raises(ValueError, match="unformatted because an operation"):
        fun(XC3, XC3)
    with pytest.raises(sct.SctError, match="unformatted because an operation"):
        dlfeval(fun, dlarray(XC3), dlarray(XC3))     # was 5.0955, softmax over the last axis


def remainder_softmax(x):
    X = dlarray(x, "CB")
    q, r = divmod(X, 0.5)
    f, i = np.modf(X)
    return np.sum(softmax(r) * np.arange(1.0, 4.0)) + np.sum(softmax(f) ** 2), dims(r), dims(f)


def test_two_output_elementwise_functions_keep_labels_in_dlfeval_as_outside():
    plain = remainder_softmax(XS)
    traced = dlfeval(remainder_softmax, dlarray(XS))
    assert plain[1:] == traced[1:] == ("CB", "CB")
    expected = np.sum(_softmax(np.mod(XS, 0.5), 0) * np.arange(1.0, 4.0)) + np.sum(_softmax(np.modf(XS)[0], 0) ** 2)
    assert_close(float(plain[0]), expected, rtol=1e-12)
    assert_close(float(traced[0]), expected, rtol=1e-12)


# --- 13. a traced dropout probability ----------------------------------------------------------

def dropout_by_rate(x, p):
    np.random.seed(0)
    loss = np.sum(dropout(x, p))
    return loss, dlgradient(loss, p)


def attention_dropout_by_rate(q, p):
    np.random.seed(0)
    Y, _ = sct.attention(q, q, q, 2, DropoutProbability=p)
    loss = np.sum(Y)
    return loss, dlgradient(loss, p)


def dropout_constant_rate(x):
    np.random.seed(0)
    loss = np.sum(dropout(x, 0.3) * x)
    return loss, dlgradient(loss, x)


def test_traced_dropout_probability_is_differentiated():
    """The same mask for the same seed, and the exact derivative in p of X * keep / (1 - p)."""
    x = np.ones((3, 4))
    loss, g = dlfeval(dropout_by_rate, dlarray(x), dlarray(0.3))
    np.random.seed(0)
    keep = np.random.random_sample(x.shape) >= 0.3
    assert_close(float(loss), np.sum(keep * x / 0.7), rtol=1e-12)
    assert_close(float(extractdata(g)), np.sum(keep * x) / 0.7 ** 2, rtol=1e-12)
    q = RNG.standard_normal((2, 3, 4))
    loss, g = dlfeval(attention_dropout_by_rate, dlarray(q), dlarray(0.3))
    np.random.seed(0)
    Y, _ = sct.attention(q, q, q, 2, DropoutProbability=0.3)
    assert_close(float(loss), np.sum(Y), rtol=1e-12)
    assert_close(float(extractdata(g)), np.sum(Y) / 0.7, rtol=1e-10)      # Y is linear in the mask
    x = RNG.standard_normal((3, 4))
    loss, g = dlfeval(dropout_constant_rate, dlarray(x))
    np.random.seed(0)
    keep = np.random.random_sample(x.shape) >= 0.3
    assert_close(float(loss), np.sum(keep * x * x / 0.7), rtol=1e-12)
    assert_close(extractdata(g), 2 * keep * x / 0.7, rtol=1e-12)
