"""Issue 9, item 1: dlarray data formats (labels S, C, B, T, U), dims/finddim/stripdims,
DataFormat= on deep-learning functions, and labels followed through dlfeval at compile time."""
import numpy as np
import pytest

import sct
from sct import (CompileError, extractdata, avgpool, batchnorm, crossentropy, dims, dlarray, dlconv, dlfeval, dlgradient,
                 finddim, fullyconnect, groupnorm, instancenorm, layernorm, maxpool, relu, softmax, stripdims)
from sct.runtime.formats import run_formatted

from gradcheck import assert_close, numerical_gradient

RNG = np.random.default_rng(7)
X_SSCB = RNG.standard_normal((5, 4, 3, 2))          # H, W, C, B (MATLAB's order)
W_CONV = RNG.standard_normal((3, 3, 3, 4)) * 0.5
B_CONV = RNG.standard_normal(4)
W_FC = RNG.standard_normal((6, 60)) * 0.2
COEF = RNG.standard_normal((5, 4, 4, 2))             # a cotangent for dlconv's "same" output


# --- the array type ----------------------------------------------------------------------------

def test_format_labels_dims_finddim_stripdims_repr():
    X = dlarray(X_SSCB.astype(np.float32), "SSCB")
    assert dims(X) == "SSCB" and X.shape == (5, 4, 3, 2)       # numpy's order is kept
    assert finddim(X, "S") == [0, 1] and finddim(X, "C") == [2] and finddim(X, "T") == []
    assert repr(X).splitlines()[0].strip() == "5(S) x 4(S) x 3(C) x 2(B) single dlarray"
    Y = stripdims(X)
    assert dims(Y) == "" and np.shares_memory(Y.data, X.data) and dims(X) == "SSCB"
    assert dims(dlarray(np.ones((2, 3)))) == "" and finddim(dlarray(np.ones(2)), "C") == []
    assert dlarray(np.ones(3), "CB").shape == (3, 1)          # trailing singleton labels
    assert dims(dlarray(np.ones((4, 3)), "BC")) == "BC" and dims(dlarray(np.ones(2), "U")) == "U"
    assert dims(dlarray(np.ones((2, 2)), "UU")) == "UU" and dims(dlarray(X)) == "SSCB"
    assert np.array_equal(sct.extractdata(X), X.data) and type(sct.extractdata(X)) is np.ndarray


@pytest.mark.parametrize("fmt, message", [("SSCCB", "more than one 'C'"), ("SBB", "more than one 'B'"),
                                          ("TTC", "more than one 'T'"), ("SXB", "invalid dimension label"),
                                          ("SB", "2 labels but the data has 3")])
def test_invalid_formats(fmt, message):
    with pytest.raises(ValueError, match=message):
        dlarray(np.zeros((2, 2, 2)), fmt)


def test_invalid_format_type():
    with pytest.raises(TypeError):
        dlarray(np.zeros(2), 3)


def test_elementwise_ops_keep_the_format_and_others_drop_it():
    X = dlarray(np.ones((3, 2)), "CB")
    for Y in (X + 1, 2 * X, -X, np.exp(X), relu(X), sct.sigmoid(X), X > 0, np.where(X > 0, X, 0), X[0:2, :]):
        assert dims(Y) == "CB"
    for Y in (X.T, X.reshape(6)):
        assert dims(Y) == ""
    with pytest.raises(ValueError, match="MATLAB's mtimes"):     # as MATLAB's (tests/test_redteam_dec7b.py)
        X @ np.ones((2, 2))
    # MATLAB's sum(X, 1) keeps the format: the dimensions a reduction or an integer index keeps keep
    # their labels (tests/test_redteam_dec6b.py)
    assert dims(np.sum(X, axis=0)) == "B" and dims(X[0]) == "B" and dims(np.sum(X, axis=0, keepdims=True)) == "CB"
    with pytest.raises(ValueError, match="formats 'CB' and 'CU' have different labels"):
        X + dlarray(np.ones((3, 2)), "CU")
    # the same labels in another order are aligned by label (MATLAB's one order): tests/test_issue9_formats2.py
    assert dims(X + dlarray(np.ones((2, 3)), "BC")) == "CB"


# --- DataFormat= against formatted input: values, formats, gradients --------------------------------

CASES = {
    "dlconv": (lambda x, d: dlconv(x, W_CONV, B_CONV, Padding="same", DataFormat=d), "SSCB", "SSCB"),
    "maxpool": (lambda x, d: maxpool(x, 2, Stride=2, DataFormat=d), "SSCB", "SSCB"),
    "avgpool": (lambda x, d: avgpool(x, 2, Stride=1, Padding=1, DataFormat=d), "SSCB", "SSCB"),
    "batchnorm": (lambda x, d: batchnorm(x, np.arange(3.0), np.ones(3) * 2, DataFormat=d), "SSCB", "SSCB"),
    "layernorm": (lambda x, d: layernorm(x, np.zeros(3), np.ones(3), DataFormat=d), "SSCB", "SSCB"),
    "instancenorm": (lambda x, d: instancenorm(x, np.zeros(3), np.ones(3), DataFormat=d), "SSCB", "SSCB"),
    "groupnorm": (lambda x, d: groupnorm(x, 3, np.zeros(3), np.ones(3), DataFormat=d), "SSCB", "SSCB"),
    "fullyconnect": (lambda x, d: fullyconnect(x, W_FC, 0.5, DataFormat=d), "SSCB", "CB"),
}


def _eager(name, x, fmt):
    fun = CASES[name][0]
    return fun(dlarray(x, fmt), None) if fmt else fun(x, "SSCB")


@pytest.mark.parametrize("name", sorted(CASES))
def test_formatted_input_and_dataformat_agree_eagerly(name):
    _, fmt, out = CASES[name]
    labelled = _eager(name, X_SSCB, fmt)
    plain = _eager(name, X_SSCB, None)
    assert dims(labelled) == out and type(plain) is np.ndarray
    assert_close(labelled.data, plain)
    # and against sct's batch-first layout
    if name != "fullyconnect":
        native = CASES[name][0](np.transpose(X_SSCB, (3, 0, 1, 2)), None)
        assert_close(np.transpose(np.asarray(native), (1, 2, 3, 0)), plain)


def loss_dlconv_formatted(x, w, b, c):
    y = dlconv(x, w, b, Padding="same")
    loss = np.sum(relu(y) * c)
    return loss, dlgradient(loss, x, w, b), y


def loss_dlconv_dataformat(x, w, b, c):
    y = dlconv(x, w, b, Padding="same", DataFormat="SSCB")
    loss = np.sum(relu(y) * c)
    return loss, dlgradient(loss, x, w, b), y


def test_dlconv_gradients_formatted_vs_dataformat_vs_central_differences():
    x = X_SSCB
    lf, gf, yf = dlfeval(loss_dlconv_formatted, dlarray(x, "SSCB"), dlarray(W_CONV), dlarray(B_CONV), COEF)
    ld, gd, yd = dlfeval(loss_dlconv_dataformat, dlarray(x), dlarray(W_CONV), dlarray(B_CONV), COEF)
    assert dims(yf) == "SSCB" and dims(yd) == "" and dims(gf[0]) == "SSCB"
    assert float(lf) == float(ld)
    for a, b in zip(gf, gd):
        assert np.array_equal(a.data, b.data)

    def plain(x, w, b):
        return float(np.sum(np.maximum(dlconv(x, w, b, Padding="same", DataFormat="SSCB"), 0) * COEF))
    for i, g in enumerate(gf):
        assert_close(g.data, numerical_gradient(plain, [x, W_CONV, B_CONV], i), rtol=1e-5, atol=1e-6)


def pool_norm_loss(x, c):
    y = maxpool(x, 2, Stride=1)
    z = avgpool(y, 2, Stride=1, Padding="same")
    u = batchnorm(z, np.arange(3.0) * 0.1, np.ones(3) * 1.5)
    loss = np.sum(u * c)
    return loss, dlgradient(loss, x), u


def pool_norm_loss_df(x, c):
    y = maxpool(x, 2, Stride=1, DataFormat="SSCB")
    z = avgpool(y, 2, Stride=1, Padding="same", DataFormat="SSCB")
    u = batchnorm(z, np.arange(3.0) * 0.1, np.ones(3) * 1.5, DataFormat="SSCB")
    loss = np.sum(u * c)
    return loss, dlgradient(loss, x), u


def test_pooling_and_batchnorm_gradients():
    x = X_SSCB
    c = RNG.standard_normal((4, 3, 3, 2))
    lf, gf, uf = dlfeval(pool_norm_loss, dlarray(x, "SSCB"), c)
    ld, gd, ud = dlfeval(pool_norm_loss_df, dlarray(x), c)
    assert dims(uf) == "SSCB" and dims(gf) == "SSCB" and dims(ud) == ""
    assert_close(lf.data, ld.data) and assert_close(gf.data, gd.data)

    def plain(x):
        y = maxpool(x, 2, Stride=1, DataFormat="SSCB")
        z = avgpool(y, 2, Stride=1, Padding="same", DataFormat="SSCB")
        return float(np.sum(batchnorm(z, np.arange(3.0) * 0.1, np.ones(3) * 1.5, DataFormat="SSCB") * c))
    assert_close(gf.data, numerical_gradient(plain, [x], 0), rtol=1e-5, atol=1e-6)


def classifier_loss(x, w, t):
    p = softmax(fullyconnect(x, w, 0.1))
    loss = crossentropy(p, t)
    return loss, dlgradient(loss, x, w), p


def classifier_loss_df(x, w, t):
    h = fullyconnect(x, w, 0.1, DataFormat="SSCB")
    p = softmax(h, DataFormat="CB")
    loss = crossentropy(p, t, DataFormat="CB")
    return loss, dlgradient(loss, x, w), p


def test_fullyconnect_softmax_crossentropy_gradients():
    x = X_SSCB
    t = np.eye(6)[:, [1, 4]]                              # (C, B) one-hot targets
    lf, (gx, gw), pf = dlfeval(classifier_loss, dlarray(x, "SSCB"), dlarray(W_FC), t)
    ld, (dx, dw), pd = dlfeval(classifier_loss_df, dlarray(x), dlarray(W_FC), t)
    assert dims(pf) == "CB" and pf.shape == (6, 2) and dims(pd) == "" and dims(lf) == ""
    assert_close(pf.data.sum(axis=0), np.ones(2))
    assert_close(lf.data, ld.data) and assert_close(gx.data, dx.data) and assert_close(gw.data, dw.data)
    # the loss is MATLAB's: the mean over the batch of -log p(true class)
    assert_close(float(lf), -np.mean(np.log(pf.data[[1, 4], [0, 1]])))

    def plain(x, w):
        p = softmax(fullyconnect(x, w, 0.1, DataFormat="SSCB"), DataFormat="CB")
        return float(crossentropy(p, t, DataFormat="CB"))
    assert_close(gx.data, numerical_gradient(plain, [x, W_FC], 0), rtol=1e-5, atol=1e-7)
    assert_close(gw.data, numerical_gradient(plain, [x, W_FC], 1), rtol=1e-5, atol=1e-7)


# --- formats through dlfeval -------------------------------------------------------------------------

def passthrough(x):
    y = x * 2 + 1
    if np.sum(y) > 0:
        z = np.tanh(y)
    else:
        z = -y
    for _ in range(2):
        z = z * 0.5
    return z, stripdims(z), np.sum(z, axis=0), dims(x), finddim(x, "B"), {"a": z}


def test_formats_follow_values_through_dlfeval():
    out = dlfeval(passthrough, dlarray(np.ones((3, 2)), "CB"))
    assert [dims(o) if isinstance(o, dlarray) else o for o in out[:5]] == ["CB", "", "B", "CB", [1]]
    assert dims(out[5]["a"]) == "CB"
    out = dlfeval(passthrough, dlarray(np.ones((3, 2)), "BC"))       # a new format: compiled anew
    assert dims(out[0]) == "BC" and out[3] == "BC" and out[4] == [0]
    out = dlfeval(passthrough, dlarray(np.ones((3, 2))))             # unformatted: as before
    assert dims(out[0]) == "" and out[3] == "" and out[4] == []


def test_the_cache_distinguishes_formats():
    sct.clear_cache()
    from sct.kinds import kind_of
    assert kind_of(dlarray(np.ones((2, 2)), "CB")) != kind_of(dlarray(np.ones((2, 2)), "BC"))
    assert kind_of(dlarray(np.ones((2, 2)))) == ("dl", "<f8", 2)
    x = RNG.standard_normal((4, 3))
    w = dlarray(RNG.standard_normal((5, 3)))
    a = dlfeval(classifier_loss, dlarray(x.T, "CB"), w, np.eye(5)[:, :4])
    b = dlfeval(classifier_loss, dlarray(x, "BC"), w, np.eye(5)[:4])
    assert dims(a[2]) == "CB" and dims(b[2]) == "BC" and a[2].shape == (5, 4) and b[2].shape == (4, 5)
    assert_close(a[0].data, b[0].data) and assert_close(a[1][0].data, b[1][0].data.T)
    assert_close(a[1][1].data, b[1][1].data) and len(sct.cache.ENTRIES) >= 2


def created_inside(x):
    X = dlarray(x, "SSCB")
    y = dlconv(X, W_CONV, 0, Padding="same")
    return np.sum(y * COEF), dims(y), y


def test_dlarray_with_a_format_inside_dlfeval():
    loss, d, y = dlfeval(created_inside, X_SSCB)
    assert d == "SSCB" and dims(y) == "SSCB"
    assert_close(loss.data, np.sum(dlconv(X_SSCB, W_CONV, 0, Padding="same", DataFormat="SSCB") * COEF))


def bad_mix(x, y):
    return x + y


def bad_branch(x, flag):
    if flag > 0:
        y = x
    else:
        y = stripdims(x)
    return dlconv(y, W_CONV, 0)


def helper(x):
    return relu(x)


def calls_helper(x):
    return helper(x)


def test_refusals_name_the_line():
    with pytest.raises(CompileError, match="formats 'CB' and 'CU' have different labels") as info:
        dlfeval(bad_mix, dlarray(np.ones((2, 2)), "CB"), dlarray(np.ones((2, 2)), "CU"))
    assert info.value.lineno == bad_mix.__code__.co_firstlineno + 1
    with pytest.raises(CompileError, match="not known when the function is compiled"):
        dlfeval(bad_branch, dlarray(X_SSCB, "SSCB"), 1.0)
    # (a formatted argument of a helper of the same file was refused here; it is read in place now:
    # tests/test_format_helpers_dec5.py)
    y = dlfeval(calls_helper, dlarray(np.array([[1.0, -2.0], [-3.0, 4.0]]), "CB"))
    assert dims(y) == "CB" and np.array_equal(extractdata(y), [[1.0, 0.0], [0.0, 4.0]])
    with pytest.raises(ValueError, match="2-D"):
        maxpool(dlarray(np.ones((2, 3)), "CB"), 2)
    with pytest.raises(ValueError, match="DataFormat is for unformatted"):
        dlconv(dlarray(X_SSCB, "SSCB"), W_CONV, 0, DataFormat="SSCB")
    with pytest.raises(ValueError, match="'U' dimension"):      # lstm reads C, B, T and S labels
        sct.lstm(dlarray(np.ones((3, 2, 4, 1)), "CBTU"), np.zeros((2, 1)), np.zeros((2, 1)), np.zeros((4, 3)),
                 np.zeros((4, 1)), np.zeros(4))


def test_unformatted_behaviour_is_unchanged():
    x = RNG.standard_normal((2, 5, 4, 3))                # batch-first, channels-last default
    assert type(dlconv(x, W_CONV, 0)) is np.ndarray
    out = dlfeval(classifier_loss, dlarray(x.reshape(2, 60)), dlarray(W_FC), np.eye(6)[[0, 3]])
    assert dims(out[2]) == "" and out[2].shape == (2, 6)
    assert run_formatted("softmax", softmax, (np.ones((3, 2)),), {}, "CB").shape == (3, 2)
