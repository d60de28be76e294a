"""Scenarios from MATLAB's documentation, third round: lstm/gru on formatted "CBT" data, PaddingValue of
dlconv/maxpool/avgpool, 1-D convolution and pooling ("SCB"), forward/predict with Outputs=, and the
attention options.  Values against numpy written here by hand; gradients against central differences
(tests/gradcheck.py)."""
import numpy as np
import pytest

import sct
from sct import dims, dlarray, dlfeval, dlgradient, extractdata, gru, lstm, stripdims
from tests.gradcheck import assert_close, numerical_gradient

rng = np.random.default_rng(11)


def sig(z):
    return 1 / (1 + np.exp(-z))


# --- lstm / gru: MATLAB's layout, by hand ---------------------------------------------------------------


def ref_lstm(x, h0, c0, W, R, b):
    """MATLAB's lstm on x (C, B, T); h0, c0 (H, B) or (H, 1); gates i, f, g, o stacked in W, R, b."""
    H = R.shape[1]
    h = np.broadcast_to(h0, (H, x.shape[1])) if np.ndim(h0) == 2 else np.broadcast_to(h0[:, None], (H, x.shape[1]))
    c = np.broadcast_to(c0, (H, x.shape[1])) if np.ndim(c0) == 2 else np.broadcast_to(c0[:, None], (H, x.shape[1]))
    ys = []
    for t in range(x.shape[2]):
        z = W @ x[:, :, t] + R @ h + b[:, None]
        i, f, g, o = sig(z[:H]), sig(z[H:2 * H]), np.tanh(z[2 * H:3 * H]), sig(z[3 * H:])
        c = f * c + i * g
        h = o * np.tanh(c)
        ys.append(h)
    return np.stack(ys, axis=2), h, c


def ref_gru(x, h0, W, R, b):
    """MATLAB's gru (reset gate after the recurrent multiplication) on x (C, B, T), h0 (H, B) or (H, 1)."""
    H = R.shape[1]
    h = np.broadcast_to(h0, (H, x.shape[1]))
    ys = []
    for t in range(x.shape[2]):
        zx = W @ x[:, :, t] + b[:, None]
        zh = R @ h
        r = sig(zx[:H] + zh[:H])
        u = sig(zx[H:2 * H] + zh[H:2 * H])
        n = np.tanh(zx[2 * H:] + r * zh[2 * H:])
        h = (1 - u) * n + u * h
        ys.append(h)
    return np.stack(ys, axis=2), h


C, B, T, H = 4, 3, 5, 2
X_CBT = rng.standard_normal((C, B, T))
W4 = rng.standard_normal((4 * H, C)) * 0.5
R4 = rng.standard_normal((4 * H, H)) * 0.5
B4 = rng.standard_normal(4 * H) * 0.5
W3, R3, B3 = W4[:3 * H], R4[:3 * H], B4[:3 * H]
H0 = rng.standard_normal((H, 1)) * 0.3
C0 = rng.standard_normal((H, 1)) * 0.3


def test_lstm_doc_example_cbt():
    # MATLAB: X = dlarray(randn(numFeatures,numObservations,sequenceLength),"CBT"); H0 = zeros(numHiddenUnits,1);
    #         weights = dlarray(randn(4*numHiddenUnits,numFeatures),"CU"); ... [Y,hiddenState,cellState] = lstm(...)
    x = rng.standard_normal((10, 32, 64))
    X = dlarray(x, "CBT")
    h0 = np.zeros((3, 1))
    c0 = np.zeros((3, 1))
    w = rng.standard_normal((12, 10))
    r = rng.standard_normal((12, 3))
    b = rng.standard_normal((12, 1))[:, 0]
    Y, hiddenState, cellState = lstm(X, h0, c0, dlarray(w, "CU"), dlarray(r, "CU"), dlarray(b, "C"))
    assert Y.shape == (3, 32, 64) and dims(Y) == "CBT"
    assert hiddenState.shape == (3, 32) and cellState.shape == (3, 32)
    y_ref, h_ref, c_ref = ref_lstm(x, h0, c0, w, r, b)
    assert_close(extractdata(Y), y_ref, rtol=1e-10, atol=1e-12)
    assert_close(extractdata(hiddenState), h_ref, rtol=1e-10, atol=1e-12)
    assert_close(extractdata(cellState), c_ref, rtol=1e-10, atol=1e-12)


def lstm_model(X, H0, C0, W, R, b):
    Y, h, c = lstm(X, H0, C0, W, R, b)
    loss = np.sum(Y * Y) + np.sum(h * c)
    return Y, h, loss, dlgradient(loss, X, H0, C0, W)


def ref_lstm_loss(x, h0, c0, w, r, b):
    y, h, c = ref_lstm(x, h0, c0, w, r, b)
    return np.sum(y * y) + np.sum(h * c)


@pytest.mark.parametrize("fmt,order", [("CBT", (0, 1, 2)), ("TCB", (2, 0, 1)), ("BTC", (1, 2, 0))])
def test_lstm_formatted_compiled_values_and_gradients(fmt, order):
    x = np.transpose(X_CBT, order)                    # the data in the order of its labels
    if fmt == "BTC":                                  # batch first: the states are (batch, hidden)
        h0, c0 = H0.T, C0.T
    else:
        h0, c0 = H0, C0
    Y, h, loss, (gx, gh, gc, gw) = dlfeval(lstm_model, dlarray(x, fmt), dlarray(h0), dlarray(c0), dlarray(W4),
                                           R4, B4)
    y_ref, h_ref, _ = ref_lstm(X_CBT, H0, C0, W4, R4, B4)
    assert dims(Y) == fmt and dims(gx) == fmt
    assert_close(extractdata(Y), np.transpose(y_ref, order), rtol=1e-10, atol=1e-12)
    assert_close(extractdata(h), h_ref if fmt != "BTC" else h_ref.T, rtol=1e-10, atol=1e-12)
    assert_close(loss, ref_lstm_loss(X_CBT, H0, C0, W4, R4, B4), rtol=1e-10)
    args = [X_CBT, H0, C0, W4, R4, B4]
    assert_close(extractdata(gx), np.transpose(numerical_gradient(ref_lstm_loss, args, 0), order), rtol=1e-5,
                 atol=1e-7)
    for got, k in ((gh, 1), (gc, 2)):
        want = numerical_gradient(ref_lstm_loss, args, k)
        assert_close(extractdata(got), want if fmt != "BTC" else want.T, rtol=1e-5, atol=1e-7)
    assert_close(extractdata(gw), numerical_gradient(ref_lstm_loss, args, 3), rtol=1e-5, atol=1e-7)
    # the same call outside dlfeval
    Ye, he, _ = lstm(dlarray(x, fmt), h0, c0, W4, R4, B4)
    assert dims(Ye) == fmt and dims(he) == ""
    assert_close(extractdata(Ye), np.transpose(y_ref, order), rtol=1e-10, atol=1e-12)


def test_lstm_formatted_states_and_float32():
    x32 = X_CBT.astype(np.float32)

    def model(X, H0, C0, W):
        Y, h, c = lstm(X, H0, C0, W, R4.astype(np.float32), B4.astype(np.float32))
        loss = np.sum(Y) + np.sum(c)
        return h, c, loss, dlgradient(loss, X, H0, W)
    H0B = np.repeat(H0, B, axis=1)                     # (H, B), labelled "CB"; C0 labelled "C"
    h, c, loss, (gx, gh, gw) = dlfeval(model, dlarray(x32, "CBT"), dlarray(H0B.astype(np.float32), "CB"),
                                       dlarray(C0[:, 0].astype(np.float32), "C"), dlarray(W4.astype(np.float32)))
    assert dims(h) == "CB" and dims(c) == "CB" and h.shape == (H, B)
    assert all(a.dtype == np.float32 for a in (h, c, loss, gx, gh, gw))
    assert dims(gx) == "CBT" and dims(gh) == "CB" and gh.shape == (H, B)

    def ref(x, h0, w):
        y, _, c = ref_lstm(x, h0, C0, w, R4, B4)
        return np.sum(y) + np.sum(c)
    assert_close(loss, ref(X_CBT, H0B, W4), rtol=1e-5)
    assert_close(extractdata(gx), numerical_gradient(ref, [X_CBT, H0B, W4], 0), rtol=2e-3, atol=1e-5)
    assert_close(extractdata(gh), numerical_gradient(ref, [X_CBT, H0B, W4], 1), rtol=2e-3, atol=1e-5)
    # eagerly: a formatted H0 gives a formatted state ("CB" in X's order of C and B)
    Ye, he, ce = lstm(dlarray(X_CBT, "CBT"), dlarray(H0B.T, "BC"), C0, W4, R4, B4)
    assert dims(he) == "CB" and dims(ce) == "" and he.shape == (H, B)
    assert_close(extractdata(he), ref_lstm(X_CBT, H0B, C0, W4, R4, B4)[1], rtol=1e-10)


def lstm_dataformat(x, h0, c0, w, r, b):
    Y, h, c = lstm(x, h0, c0, w, r, b, DataFormat="CBT")
    loss = np.sum(Y ** 2)
    return Y, loss, dlgradient(loss, x, w)


def test_lstm_dataformat_unformatted():
    Y, loss, (gx, gw) = dlfeval(lstm_dataformat, dlarray(X_CBT), H0, C0, dlarray(W4), R4, B4)
    assert dims(Y) == "" and dims(gx) == "" and Y.shape == (H, B, T)
    y_ref = ref_lstm(X_CBT, H0, C0, W4, R4, B4)[0]
    assert_close(extractdata(Y), y_ref, rtol=1e-10, atol=1e-12)

    def ref(x, w):
        return np.sum(ref_lstm(x, H0, C0, w, R4, B4)[0] ** 2)
    assert_close(extractdata(gx), numerical_gradient(ref, [X_CBT, W4], 0), rtol=1e-5, atol=1e-7)
    assert_close(extractdata(gw), numerical_gradient(ref, [X_CBT, W4], 1), rtol=1e-5, atol=1e-7)
    Ye = lstm(X_CBT, H0, C0, W4, R4, B4, DataFormat="CBT", nargout=3)[0]
    assert type(Ye) is np.ndarray
    assert_close(Ye, y_ref, rtol=1e-10, atol=1e-12)


def test_lstm_one_sequence_ct_and_spatial_channels():
    # "CT": one observation (no B); the states are (H, 1) and Y is "CT"
    x = X_CBT[:, 0, :]
    Y, h, c = lstm(dlarray(x, "CT"), H0, C0, W4, R4, B4)
    y_ref, h_ref, _ = ref_lstm(x[:, None, :], H0, C0, W4, R4, B4)
    assert dims(Y) == "CT" and Y.shape == (H, T) and h.shape == (H, 1)
    assert_close(extractdata(Y), y_ref[:, 0, :], rtol=1e-10, atol=1e-12)
    assert_close(extractdata(h), h_ref, rtol=1e-10, atol=1e-12)
    # "SCBT": the S axis flattened into the channels as MATLAB's X(:, :, :), column-major (s fastest;
    # tests/test_redteam_dec14h.py, was row-major here)
    xs = rng.standard_normal((2, 2, B, T))           # S=2, C=2: 4 features
    Ys = lstm(dlarray(xs, "SCBT"), H0, C0, W4, R4, B4, nargout=3)[0]
    assert dims(Ys) == "CBT"
    assert_close(extractdata(Ys), ref_lstm(xs.reshape(4, B, T, order="F"), H0, C0, W4, R4, B4)[0], rtol=1e-10,
                 atol=1e-12)

    def model(X):
        Y, h, c = lstm(X, H0, C0, W4, R4, B4)
        loss = np.sum(Y * Y)
        return Y, loss, dlgradient(loss, X)
    Yc, loss, g = dlfeval(model, dlarray(x, "CT"))
    assert dims(Yc) == "CT" and dims(g) == "CT"

    def ref(x):
        return np.sum(ref_lstm(x[:, None, :], H0, C0, W4, R4, B4)[0] ** 2)
    assert_close(extractdata(g), numerical_gradient(ref, [x], 0), rtol=1e-5, atol=1e-7)


def test_lstm_cbt_second_derivative():
    v = rng.standard_normal(X_CBT.shape)

    def first(X):
        Y, h, c = lstm(X, H0, C0, W4, R4, B4)
        return dlgradient(np.sum(Y * Y), X)

    def hvp(X):
        Y, h, c = lstm(X, H0, C0, W4, R4, B4)
        g = dlgradient(np.sum(Y * Y), X)
        return dlgradient(np.sum(g * v), X)
    got = dlfeval(hvp, dlarray(X_CBT, "CBT"))
    assert dims(got) == "CBT"

    def gv(x):                                        # <grad, v> with sct's (checked) first derivative
        return float(np.sum(extractdata(dlfeval(first, dlarray(x, "CBT"))) * v))
    assert_close(extractdata(got), numerical_gradient(gv, [X_CBT], 0, step=1e-5), rtol=1e-4, atol=1e-6)


def gru_model(X, H0, W):
    Y, h = gru(X, H0, W, R3, B3)
    loss = np.sum(Y * Y) + np.sum(h)
    return Y, h, loss, dlgradient(loss, X, H0, W)


def test_gru_cbt_eager_and_compiled():
    Y, h = gru(dlarray(X_CBT, "CBT"), H0, W3, R3, B3)
    y_ref, h_ref = ref_gru(X_CBT, H0, W3, R3, B3)
    assert dims(Y) == "CBT" and Y.shape == (H, B, T) and h.shape == (H, B)
    assert_close(extractdata(Y), y_ref, rtol=1e-10, atol=1e-12)
    assert_close(extractdata(h), h_ref, rtol=1e-10, atol=1e-12)
    Yc, hc, loss, (gx, gh, gw) = dlfeval(gru_model, dlarray(X_CBT, "CBT"), dlarray(H0), dlarray(W3))
    assert dims(Yc) == "CBT" and dims(gx) == "CBT" and gh.shape == (H, 1)
    assert_close(extractdata(Yc), y_ref, rtol=1e-10, atol=1e-12)

    def ref(x, h0, w):
        y, h = ref_gru(x, h0, w, R3, B3)
        return np.sum(y * y) + np.sum(h)
    args = [X_CBT, H0, W3]
    assert_close(loss, ref(*args), rtol=1e-10)
    for got, k in ((gx, 0), (gh, 1), (gw, 2)):
        assert_close(extractdata(got), numerical_gradient(ref, args, k), rtol=1e-5, atol=1e-7)
    Yd = gru(X_CBT, H0, W3, R3, B3, DataFormat="CBT", nargout=2)[0]
    assert_close(Yd, y_ref, rtol=1e-10, atol=1e-12)


def test_recurrent_format_refusals():
    with pytest.raises(ValueError, match="'U' dimension"):
        lstm(dlarray(np.ones((3, 2, 4, 1)), "CBTU"), H0, C0, np.zeros((8, 3)), np.zeros((8, 2)), np.zeros(8))
    with pytest.raises(ValueError, match="no channel dimension"):
        gru(dlarray(np.ones((2, 4)), "BT"), H0, np.zeros((6, 1)), np.zeros((6, 2)), np.zeros(6))
    with pytest.raises(ValueError, match="'CU'"):
        lstm(dlarray(X_CBT, "CBT"), H0, C0, dlarray(W4.T, "UC"), R4, B4)

    with pytest.raises(ValueError, match="X is unformatted"):
        gru(X_CBT, dlarray(H0, "CB"), W3, R3, B3)

    def bad_state(X, h0):
        return gru(X, h0, W3, R3, B3)
    with pytest.raises(sct.CompileError, match="H0 must be labelled"):
        dlfeval(bad_state, dlarray(X_CBT, "CBT"), dlarray(np.zeros((2, 5)), "CT"))

    def unformatted_x(X, h0):
        return gru(X, h0, W3, R3, B3)
    with pytest.raises(sct.CompileError, match="format of X"):
        dlfeval(unformatted_x, dlarray(X_CBT), dlarray(H0, "CB"))


# --- PaddingValue (dlconv: a number or a mode; avgpool: 0 or "mean"; maxpool: none) ----------------------------

from sct import avgpool, dlconv, maxpool  # noqa: E402

MODES = {"replicate": "edge", "symmetric-include-edge": "symmetric", "symmetric-exclude-edge": "reflect"}


def ref_pad(x, pads, value):
    """x (B, H, W, C) padded spatially by MATLAB's PaddingValue (modes as numpy's pad modes, checked below)."""
    width = ((0, 0), pads[0], pads[1], (0, 0))
    if isinstance(value, str):
        return np.pad(x, width, mode=MODES[value])
    return np.pad(x, width, constant_values=value)


def ref_conv(xp, w, b, stride):
    """Cross-correlation of the padded (B, H, W, C) input with (kh, kw, C, F) weights, by loops."""
    kh, kw, _, f = w.shape
    ho = (xp.shape[1] - kh) // stride + 1
    wo = (xp.shape[2] - kw) // stride + 1
    out = np.zeros((xp.shape[0], ho, wo, f))
    for i in range(ho):
        for j in range(wo):
            patch = xp[:, i * stride:i * stride + kh, j * stride:j * stride + kw, :]
            out[:, i, j, :] = np.tensordot(patch, w, axes=([1, 2, 3], [0, 1, 2])) + b
    return out


def test_padding_modes_are_matlabs():
    # MATLAB: "symmetric-include-edge" mirrors with the edge, "symmetric-exclude-edge" without it,
    # "replicate" repeats the edge: [1 2 3] padded by 2 on each side, written out by hand
    x = np.array([1.0, 2.0, 3.0]).reshape(1, 3, 1, 1)
    w = np.ones((1, 1, 1, 1))
    expected = {"symmetric-include-edge": [2, 1, 1, 2, 3, 3, 2], "symmetric-exclude-edge": [3, 2, 1, 2, 3, 2, 1],
                "replicate": [1, 1, 1, 2, 3, 3, 3], 7.5: [7.5, 7.5, 1, 2, 3, 7.5, 7.5]}
    for value, row in expected.items():
        y = dlconv(x, w, 0, Padding=[[2, 0], [2, 0]], PaddingValue=value)
        assert_close(y[0, :, 0, 0], np.array(row, float), rtol=0, atol=0)
        assert_close(ref_pad(x, ((2, 2), (0, 0)), value)[0, :, 0, 0], np.array(row, float), rtol=0, atol=0)


X_IMG = rng.standard_normal((2, 5, 4, 3))            # B H W C
W_IMG = rng.standard_normal((3, 3, 3, 2))


@pytest.mark.parametrize("value", [1.5, -2.0, "replicate", "symmetric-include-edge", "symmetric-exclude-edge"])
def test_dlconv_padding_value_values_gradients_second_order(value):
    y = dlconv(X_IMG, W_IMG, 0.5, Padding=1, PaddingValue=value)
    assert_close(y, ref_conv(ref_pad(X_IMG, ((1, 1), (1, 1)), value), W_IMG, 0.5, 1), rtol=1e-12, atol=1e-12)

    def ref_loss(x, w):
        return np.sum(ref_conv(ref_pad(x, ((1, 1), (1, 1)), value), w, 0.5, 1) ** 2)

    def model(x, w):
        l = np.sum(dlconv(x, w, 0.5, Padding=1, PaddingValue=value) ** 2)
        return l, dlgradient(l, x, w)
    l, (gx, gw) = dlfeval(model, dlarray(X_IMG), dlarray(W_IMG))
    assert_close(l, ref_loss(X_IMG, W_IMG), rtol=1e-12)
    assert_close(extractdata(gx), numerical_gradient(ref_loss, [X_IMG, W_IMG], 0), rtol=1e-5, atol=1e-6)
    assert_close(extractdata(gw), numerical_gradient(ref_loss, [X_IMG, W_IMG], 1), rtol=1e-5, atol=1e-6)
    # second order, Padding="same" with a stride: a gradient penalty
    v = rng.standard_normal(X_IMG.shape)
    vw = rng.standard_normal(W_IMG.shape)

    def first(x, w):
        y = dlconv(x, w, 0.5, Padding="same", Stride=2, PaddingValue=value)
        return dlgradient(np.sum(y ** 2), x, w)

    def second(x, w):
        y = dlconv(x, w, 0.5, Padding="same", Stride=2, PaddingValue=value)
        gx, gw = dlgradient(np.sum(y ** 2), x, w)
        return dlgradient(np.sum(gx * v) + np.sum(gw * vw), x, w)
    got = dlfeval(second, dlarray(X_IMG), dlarray(W_IMG))

    def directional(x, w):                            # <first derivative, (v, vw)>, the first derivative checked above
        a, b = dlfeval(first, dlarray(x), dlarray(w))
        return float(np.sum(extractdata(a) * v) + np.sum(extractdata(b) * vw))
    for k in range(2):
        assert_close(extractdata(got[k]), numerical_gradient(directional, [X_IMG, W_IMG], k, step=1e-5), rtol=1e-4,
                     atol=1e-6)


def test_dlconv_padding_value_sscb_float32():
    # MATLAB: X = dlarray(X,"SSCB"); Y = dlconv(X,weights,bias,Padding="same",PaddingValue="replicate")
    xs = np.transpose(X_IMG, (1, 2, 3, 0)).astype(np.float32)
    w32 = W_IMG.astype(np.float32)

    def model(X, w):
        Y = dlconv(X, w, 0, Padding="same", PaddingValue="replicate")
        loss = np.sum(Y * Y)
        return Y, loss, dlgradient(loss, X, w)
    Y, loss, (gx, gw) = dlfeval(model, dlarray(xs, "SSCB"), dlarray(w32))
    want = ref_conv(ref_pad(X_IMG, ((1, 1), (1, 1)), "replicate"), W_IMG, 0, 1)
    assert dims(Y) == "SSCB" and Y.dtype == np.float32 and gx.dtype == np.float32 and gw.dtype == np.float32
    assert_close(extractdata(Y), np.transpose(want, (1, 2, 3, 0)), rtol=1e-4, atol=1e-4)
    Ye = dlconv(dlarray(xs, "SSCB"), w32, 0, Padding="same", PaddingValue="replicate")
    assert dims(Ye) == "SSCB" and Ye.dtype == np.float32
    assert_close(extractdata(Ye), extractdata(Y), rtol=1e-6)

    def ref_loss(x):
        return np.sum(ref_conv(ref_pad(x, ((1, 1), (1, 1)), "replicate"), W_IMG, 0, 1) ** 2)
    assert_close(extractdata(gx), np.transpose(numerical_gradient(ref_loss, [X_IMG], 0), (1, 2, 3, 0)), rtol=2e-3,
                 atol=2e-3)


def ref_avgpool_mean(x, k, pad):
    """Average over the entries of x in each k-by-k window (stride 1), the padding left out."""
    b, h, w, c = x.shape
    out = np.zeros((b, h + 2 * pad - k + 1, w + 2 * pad - k + 1, c))
    for i in range(out.shape[1]):
        for j in range(out.shape[2]):
            r0, r1 = max(i - pad, 0), min(i - pad + k, h)
            c0, c1 = max(j - pad, 0), min(j - pad + k, w)
            out[:, i, j, :] = x[:, r0:r1, c0:c1, :].mean(axis=(1, 2))
    return out


def test_avgpool_padding_value_mean():
    got = avgpool(X_IMG, 3, Padding=1, PaddingValue="mean")
    assert_close(got, ref_avgpool_mean(X_IMG, 3, 1), rtol=1e-12, atol=1e-12)
    assert_close(avgpool(X_IMG, 3, Padding=1, PaddingValue=0), avgpool(X_IMG, 3, Padding=1), rtol=0, atol=0)

    def model(x):
        y = avgpool(x, 3, Padding=1, PaddingValue="mean")
        loss = np.sum(y ** 3)
        g = dlgradient(loss, x)
        return loss, g, dlgradient(np.sum(g * g), x)
    loss, g, gg = dlfeval(model, dlarray(X_IMG))

    def ref_loss(x):
        return np.sum(ref_avgpool_mean(x, 3, 1) ** 3)
    assert_close(loss, ref_loss(X_IMG), rtol=1e-12)
    assert_close(extractdata(g), numerical_gradient(ref_loss, [X_IMG], 0), rtol=1e-5, atol=1e-7)

    def g2(x):
        return float(np.sum(extractdata(dlfeval(model, dlarray(x))[1]) ** 2))
    assert_close(extractdata(gg), numerical_gradient(g2, [X_IMG], 0, step=1e-5), rtol=1e-4, atol=1e-6)
    x32 = dlarray(np.transpose(X_IMG, (1, 2, 3, 0)).astype(np.float32), "SSCB")
    y32 = avgpool(x32, 3, Padding=1, PaddingValue="mean")
    assert y32.dtype == np.float32 and dims(y32) == "SSCB"
    assert_close(extractdata(y32), np.transpose(ref_avgpool_mean(X_IMG, 3, 1), (1, 2, 3, 0)), rtol=1e-5, atol=1e-6)


def test_padding_value_refusals():
    with pytest.raises(ValueError, match="PaddingValue must be"):
        dlconv(X_IMG, W_IMG, 0, Padding=1, PaddingValue="circular")
    with pytest.raises(ValueError, match="PaddingValue must be 0 or 'mean'"):
        avgpool(X_IMG, 2, Padding=1, PaddingValue=2.0)
    with pytest.raises(ValueError, match="maxpool takes no PaddingValue"):
        maxpool(X_IMG, 2, Padding=1, PaddingValue=0)


# --- 1-D convolution and pooling ("SCB") ------------------------------------------------------------------------


def ref_conv1d(x, w, b, stride, before, after, value=0.0):
    """x (B, L, C), w (k, C, F): the padded cross-correlation by loops."""
    xp = ref_pad(x[:, :, None, :], ((before, after), (0, 0)), value)[:, :, 0, :]
    k = w.shape[0]
    lo = (xp.shape[1] - k) // stride + 1
    return np.stack([np.tensordot(xp[:, i * stride:i * stride + k, :], w, axes=([1, 2], [0, 1])) + b
                     for i in range(lo)], axis=1)


X_SEQ = rng.standard_normal((7, 3, 2))                # MATLAB's "SCB": length 7, 3 channels, 2 observations
W_SEQ = rng.standard_normal((3, 3, 4))                # filterSize 3, 3 channels, 4 filters


def test_dlconv_1d_scb_doc_pattern():
    # MATLAB: X = dlarray(X,"SCB"); Y = dlconv(X,weights,bias,Stride=2,Padding="same")
    X = dlarray(X_SEQ, "SCB")
    Y = dlconv(X, W_SEQ, 0.1, Stride=2, Padding="same")
    xb = np.transpose(X_SEQ, (2, 0, 1))               # (B, L, C)
    want = ref_conv1d(xb, W_SEQ, 0.1, 2, 1, 1)         # "same": ceil(7/2)=4 outputs, total padding 2
    assert dims(Y) == "SCB" and Y.shape == (4, 4, 2)
    assert_close(extractdata(Y), np.transpose(want, (1, 2, 0)), rtol=1e-12, atol=1e-12)
    assert_close(dlconv(xb, W_SEQ, 0.1, Stride=2, Padding="same"), want, rtol=1e-12, atol=1e-12)
    assert_close(dlconv(X_SEQ, W_SEQ, 0.1, Stride=2, Padding="same", DataFormat="SCB"),
                 np.transpose(want, (1, 2, 0)), rtol=1e-12, atol=1e-12)
    assert_close(dlconv(xb, W_SEQ, 0, Padding=[2, 0], PaddingValue="symmetric-exclude-edge"),
                 ref_conv1d(xb, W_SEQ, 0, 1, 2, 0, "symmetric-exclude-edge"), rtol=1e-12, atol=1e-12)

    def model(X, w):
        Y = dlconv(X, w, 0.1, Stride=2, Padding="same", PaddingValue="replicate")
        loss = np.sum(Y * Y)
        return Y, loss, dlgradient(loss, X, w)
    Yc, loss, (gx, gw) = dlfeval(model, X, dlarray(W_SEQ))
    assert dims(Yc) == "SCB" and dims(gx) == "SCB" and gw.shape == W_SEQ.shape

    def ref_loss(x, w):
        return np.sum(ref_conv1d(np.transpose(x, (2, 0, 1)), w, 0.1, 2, 1, 1, "replicate") ** 2)
    assert_close(loss, ref_loss(X_SEQ, W_SEQ), rtol=1e-12)
    assert_close(extractdata(gx), numerical_gradient(ref_loss, [X_SEQ, W_SEQ], 0), rtol=1e-5, atol=1e-6)
    assert_close(extractdata(gw), numerical_gradient(ref_loss, [X_SEQ, W_SEQ], 1), rtol=1e-5, atol=1e-6)


def ref_pool1d(x, k, stride, op):
    lo = (x.shape[1] - k) // stride + 1
    return np.stack([op(x[:, i * stride:i * stride + k, :], axis=1) for i in range(lo)], axis=1)


def test_pooling_1d_scb_values_gradients_second_order():
    X = dlarray(X_SEQ, "SCB")
    xb = np.transpose(X_SEQ, (2, 0, 1))
    for fn, op in ((maxpool, np.max), (avgpool, np.mean)):
        Y = fn(X, 3, Stride=2)
        assert dims(Y) == "SCB" and Y.shape == (3, 3, 2)
        assert_close(extractdata(Y), np.transpose(ref_pool1d(xb, 3, 2, op), (1, 2, 0)), rtol=1e-12, atol=1e-12)
    g = maxpool(X, "global")
    assert g.shape == (1, 3, 2) and dims(g) == "SCB"
    assert_close(extractdata(g)[0], X_SEQ.max(axis=0), rtol=0, atol=0)
    v = rng.standard_normal(X_SEQ.shape)

    def model(X):
        loss = np.sum(maxpool(X, 3, Stride=2) ** 2) + np.sum(avgpool(X, 2, Padding=1, PaddingValue="mean") ** 3)
        g = dlgradient(loss, X)
        return loss, g, dlgradient(np.sum(g * v), X)
    loss, g1, g2 = dlfeval(model, X)
    assert dims(g1) == "SCB" and dims(g2) == "SCB"

    def ref_loss(x):
        xb = np.transpose(x, (2, 0, 1))
        padded = np.pad(xb, ((0, 0), (1, 1), (0, 0)))
        counts = np.convolve(np.pad(np.ones(xb.shape[1]), 1), np.ones(2), "valid")[None, :, None]
        mean = ref_pool1d(padded, 2, 1, np.sum) / counts
        return np.sum(ref_pool1d(xb, 3, 2, np.max) ** 2) + np.sum(mean ** 3)
    assert_close(loss, ref_loss(X_SEQ), rtol=1e-12)
    assert_close(extractdata(g1), numerical_gradient(ref_loss, [X_SEQ], 0), rtol=1e-5, atol=1e-7)

    def gv(x):
        return float(np.sum(extractdata(dlfeval(model, dlarray(x, "SCB"))[1]) * v))
    assert_close(extractdata(g2), numerical_gradient(gv, [X_SEQ], 0, step=1e-5), rtol=1e-4, atol=1e-6)
    # float32 stays float32; indices of the 1-D maxpool index the (B, L, C) data
    y32 = maxpool(dlarray(X_SEQ.astype(np.float32), "SCB"), 2, Stride=2)
    assert y32.dtype == np.float32
    vals, idx, size = maxpool(xb, 2, Stride=2, nargout=3)
    assert size == xb.shape
    assert_close(np.reshape(xb, -1)[idx], vals, rtol=0, atol=0)


def test_conv_1d_refusals():
    with pytest.raises(ValueError, match="1-D convolution"):
        dlconv(np.transpose(X_SEQ, (2, 0, 1)), W_IMG, 0)
    with pytest.raises(ValueError, match="one positive integer"):
        maxpool(np.transpose(X_SEQ, (2, 0, 1)), [2, 2])
    with pytest.raises(ValueError, match="2-D or 1-D"):
        maxpool(dlarray(np.ones((2, 3)), "CB"), 2)


# --- forward / predict with Outputs= (MATLAB: [Y1,Y2] = forward(net,X,Outputs=["fc1","softmax"])) ---------------

from sct import (dlnetwork, featureInputLayer, forward, fullyConnectedLayer, predict,  # noqa: E402
                 reluLayer, softmaxLayer)


def small_net():
    return dlnetwork([featureInputLayer(3), fullyConnectedLayer(4, Name="fc1"), reluLayer(Name="relu"),
                      fullyConnectedLayer(2, Name="fc2"), softmaxLayer(Name="softmax")], Seed=0)


def net_ref(x, w1, b1, w2, b2):
    """(fc1, softmax) of the network by hand, x (B, 3)."""
    fc1 = x @ w1.T + b1
    z = np.maximum(fc1, 0) @ w2.T + b2
    e = np.exp(z - z.max(axis=1, keepdims=True))
    return fc1, e / e.sum(axis=1, keepdims=True)


X_NET = rng.standard_normal((5, 3))
WEIGHTS = rng.standard_normal(2)


def outputs_loss(net, X):
    (Y1, Y2), state = forward(net, X, Outputs=["fc1", "softmax"])
    loss = np.sum(Y1 * Y1) + np.sum(Y2 * WEIGHTS)
    return Y1, Y2, loss, dlgradient(loss, net.Learnables)


def predict_outputs(net, X):
    Y2, Y1 = predict(net, X, Outputs=["softmax", "fc1"])
    return Y1, Y2


@pytest.mark.parametrize("formatted", [False, True])
def test_forward_outputs_values_and_gradients(formatted):
    net = small_net()
    p = [extractdata(net.Learnables[name, param]) for name, param in
         (("fc1", "Weights"), ("fc1", "Bias"), ("fc2", "Weights"), ("fc2", "Bias"))]
    fc1, soft = net_ref(X_NET, *p)
    X = dlarray(X_NET.T, "CB") if formatted else dlarray(X_NET)
    # eagerly
    (Y1, Y2), _ = forward(net, X, Outputs=["fc1", "softmax"])
    assert_close(extractdata(Y1), fc1, rtol=1e-12) and assert_close(extractdata(Y2), soft, rtol=1e-12)
    P1, P2 = predict(net, X, Outputs=["fc1", "softmax"])
    assert_close(extractdata(P1), fc1, rtol=1e-12)
    assert_close(extractdata(predict(net, X, Outputs="fc2")), np.maximum(fc1, 0) @ p[2].T + p[3], rtol=1e-12)
    # compiled
    Y1, Y2, loss, grads = dlfeval(outputs_loss, net, X)
    assert dims(Y1) == ("BC" if formatted else "") and dims(Y2) == dims(Y1)
    assert_close(extractdata(Y1), fc1, rtol=1e-12)
    assert_close(extractdata(Y2), soft, rtol=1e-12)

    def ref_loss(w1, b1, w2, b2):
        a, b = net_ref(X_NET, w1, b1, w2, b2)
        return np.sum(a * a) + np.sum(b * WEIGHTS)
    assert_close(loss, ref_loss(*p), rtol=1e-12)
    for k, key in enumerate((("fc1", "Weights"), ("fc1", "Bias"), ("fc2", "Weights"), ("fc2", "Bias"))):
        assert_close(extractdata(grads[key]), numerical_gradient(ref_loss, p, k), rtol=1e-5, atol=1e-7)
    Q1, Q2 = dlfeval(predict_outputs, net, X)
    assert_close(extractdata(Q1), fc1, rtol=1e-12)
    assert_close(extractdata(Q2), soft, rtol=1e-12)


def test_outputs_refusals():
    net = small_net()
    with pytest.raises(ValueError, match="no layer 'fc3'"):
        predict(net, X_NET, Outputs=["fc3"])
    with pytest.raises(ValueError, match="no output 'out2'"):
        predict(net, X_NET, Outputs=["fc1/out2"])

    def computed_names(net, X, names):
        return predict(net, X, Outputs=names)
    with pytest.raises(sct.CompileError, match="Outputs must be literal layer names"):
        dlfeval(computed_names, net, dlarray(X_NET.T, "CB"), ["fc1"])


# --- attention: Scale, PaddingMask, AttentionMask, DropoutProbability ------------------------------------------

from sct import attention  # noqa: E402

Q_ATT = rng.standard_normal((2, 4, 6))                # (batch, target, features)
K_ATT = rng.standard_normal((2, 5, 6))                # (batch, source, features)
V_ATT = rng.standard_normal((2, 5, 6))
PAD = np.ones((2, 5, 3))                              # shaped like keys' (batch, source) + channels
PAD[1, 3:, 0] = 0                                     # the last two keys of observation 2 are padding (channel 1)


def ref_attention(q, k, v, heads, scale=None, allowed=None, keep=None):
    """By hand, one head and one observation at a time; ``allowed`` (B, Nq, Nk) booleans."""
    b, nq, f = q.shape
    d = f // heads
    out = np.zeros_like(q)
    weights = np.zeros((b, heads, nq, k.shape[1]))
    for i in range(b):
        for h in range(heads):
            cols = slice(h * d, (h + 1) * d)
            s = q[i, :, cols] @ k[i, :, cols].T * (1 / np.sqrt(d) if scale is None else scale)
            if allowed is not None:
                s = np.where(allowed[i], s, -np.inf)
            e = np.exp(s - s.max(axis=1, keepdims=True))
            a = e / e.sum(axis=1, keepdims=True)
            if keep is not None:
                a = a * keep[i, h]
            weights[i, h] = a
            out[i, :, cols] = a @ v[i, :, cols]
    return out, weights


def masks():
    causal = np.arange(5)[None, :] <= np.arange(4)[:, None]          # query m sees keys n <= m
    padding = PAD[:, :, 0] != 0
    return causal[None] & padding[:, None, :]


def test_attention_options_values():
    y, a = attention(Q_ATT, K_ATT, V_ATT, 2, Scale=0.7, PaddingMask=PAD, AttentionMask="causal")
    y_ref, a_ref = ref_attention(Q_ATT, K_ATT, V_ATT, 2, 0.7, masks())
    assert_close(y, y_ref, rtol=1e-12, atol=1e-12)
    assert_close(a, a_ref, rtol=1e-12, atol=1e-12)
    assert np.all(a[1, :, :, 3:] == 0) and np.all(a[:, :, 0, 1:] == 0)
    custom = rng.random((4, 5)) > 0.3
    custom[:, 0] = True
    y2, _ = attention(Q_ATT, K_ATT, V_ATT, 3, AttentionMask=custom.astype(float))
    assert_close(y2, ref_attention(Q_ATT, K_ATT, V_ATT, 3, None, np.broadcast_to(custom, (2, 4, 5)))[0], rtol=1e-12,
                 atol=1e-12)
    per_obs = np.stack([custom, np.ones((4, 5), bool)])
    y3, _ = attention(Q_ATT, K_ATT, V_ATT, 3, AttentionMask=per_obs, PaddingMask=PAD[:, :, 0])
    assert_close(y3, ref_attention(Q_ATT, K_ATT, V_ATT, 3, None, per_obs & (PAD[:, None, :, 0] != 0))[0],
                 rtol=1e-12, atol=1e-12)
    assert_close(attention(Q_ATT, K_ATT, V_ATT, 2, Scale="auto", nargout=2)[0], attention(Q_ATT, K_ATT, V_ATT, 2, nargout=2)[0], rtol=0,
                 atol=0)


def test_attention_options_gradients_second_order_float32():
    def model(q, k, v, s):
        y, a = attention(q, k, v, 2, Scale=s, PaddingMask=PAD, AttentionMask="causal")
        loss = np.sum(y * y) + np.sum(a[:, 0] * a[:, 1])
        return loss, dlgradient(loss, q, k, v, s)
    loss, grads = dlfeval(model, dlarray(Q_ATT), dlarray(K_ATT), dlarray(V_ATT), dlarray(0.7))

    def ref_loss(q, k, v, s):
        y, a = ref_attention(q, k, v, 2, s, masks())
        return np.sum(y * y) + np.sum(a[:, 0] * a[:, 1])
    args = [Q_ATT, K_ATT, V_ATT, np.array(0.7)]
    assert_close(loss, ref_loss(*args), rtol=1e-12)
    for i, g in enumerate(grads):
        assert_close(extractdata(g), numerical_gradient(ref_loss, args, i), rtol=1e-5, atol=1e-7)
    u = rng.standard_normal(Q_ATT.shape)

    def first(q):
        y, a = attention(q, K_ATT, V_ATT, 2, PaddingMask=PAD, AttentionMask="causal")
        return dlgradient(np.sum(y * y), q)

    def second(q):
        y, a = attention(q, K_ATT, V_ATT, 2, PaddingMask=PAD, AttentionMask="causal")
        g = dlgradient(np.sum(y * y), q)
        return dlgradient(np.sum(g * u), q)
    got = dlfeval(second, dlarray(Q_ATT))

    def gu(q):
        return float(np.sum(extractdata(dlfeval(first, dlarray(q))) * u))
    assert_close(extractdata(got), numerical_gradient(gu, [Q_ATT], 0, step=1e-5), rtol=1e-4, atol=1e-6)
    y32, a32 = attention(Q_ATT.astype(np.float32), K_ATT.astype(np.float32), V_ATT.astype(np.float32), 2,
                         PaddingMask=PAD, AttentionMask="causal")
    assert y32.dtype == np.float32 and a32.dtype == np.float32
    g32 = dlfeval(first, dlarray(Q_ATT.astype(np.float32)))
    assert g32.dtype == np.float32


def test_attention_dropout_repeats_under_seed():
    def model(q):
        y, a = attention(q, K_ATT, V_ATT, 2, DropoutProbability=0.25)
        loss = np.sum(y * y)
        return y, loss, dlgradient(loss, q)
    np.random.seed(5)
    keep = (np.random.random_sample((2, 2, 4, 5)) >= 0.25) / 0.75     # the mask numpy's generator draws
    y_ref = ref_attention(Q_ATT, K_ATT, V_ATT, 2, keep=keep)[0]
    np.random.seed(5)
    y, loss, g = dlfeval(model, dlarray(Q_ATT))
    assert_close(extractdata(y), y_ref, rtol=1e-12, atol=1e-12)
    np.random.seed(5)
    assert_close(attention(Q_ATT, K_ATT, V_ATT, 2, DropoutProbability=0.25, nargout=2)[0], y_ref, rtol=1e-12, atol=1e-12)

    def ref_loss(q):
        return np.sum(ref_attention(q, K_ATT, V_ATT, 2, keep=keep)[0] ** 2)
    assert_close(extractdata(g), numerical_gradient(ref_loss, [Q_ATT], 0), rtol=1e-5, atol=1e-7)


def test_attention_option_errors():
    with pytest.raises(ValueError, match="Scale must be"):
        attention(Q_ATT, K_ATT, V_ATT, 2, Scale="none")
    with pytest.raises(ValueError, match="AttentionMask must be"):
        attention(Q_ATT, K_ATT, V_ATT, 2, AttentionMask="upper")
    with pytest.raises(ValueError, match="AttentionMask must be"):
        attention(Q_ATT, K_ATT, V_ATT, 2, AttentionMask=np.ones((5, 4)))
    with pytest.raises(ValueError, match="PaddingMask must be"):
        attention(Q_ATT, K_ATT, V_ATT, 2, PaddingMask=np.ones((2, 4)))
