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
    Ye = lstm(X_CBT, H0, C0, W4, R4, B4, DataFormat="CBT")[0]
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
    # "SCBT": the S axis flattened into the channels (row-major in X's order: s-major, c-minor)
    xs = rng.standard_normal((2, 2, B, T))           # S=2, C=2: 4 features
    Ys = lstm(dlarray(xs, "SCBT"), H0, C0, W4, R4, B4)[0]
    assert dims(Ys) == "CBT"
    assert_close(extractdata(Ys), ref_lstm(xs.reshape(4, B, T), H0, C0, W4, R4, B4)[0], rtol=1e-10, atol=1e-12)

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
    Yd = gru(X_CBT, H0, W3, R3, B3, DataFormat="CBT")[0]
    assert_close(Yd, y_ref, rtol=1e-10, atol=1e-12)


def test_recurrent_format_refusals():
    with pytest.raises(ValueError, match="'U' dimension"):
        lstm(dlarray(np.ones((3, 2, 4, 1)), "CBTU"), H0, C0, np.zeros((8, 3)), np.zeros((8, 2)), np.zeros(8))
    with pytest.raises(ValueError, match="no channel dimension"):
        gru(dlarray(np.ones((2, 4)), "BT"), H0, np.zeros((6, 1)), np.zeros((6, 2)), np.zeros(6))
    with pytest.raises(ValueError, match="'CU'"):
        lstm(dlarray(X_CBT, "CBT"), H0, C0, dlarray(W4.T, "UC"), R4, B4)

    def bad_state(X, h0):
        return gru(X, h0, W3, R3, B3)
    with pytest.raises(sct.CompileError, match="H0 must be labelled"):
        dlfeval(bad_state, dlarray(X_CBT, "CBT"), dlarray(np.zeros((2, 5)), "CT"))

    def unformatted_x(X, h0):
        return gru(X, h0, W3, R3, B3)
    with pytest.raises(sct.CompileError, match="format of X"):
        dlfeval(unformatted_x, dlarray(X_CBT), dlarray(H0, "CB"))
