"""Red team dec6b, MATLAB fidelity of formatted dlarrays: the labels that MATLAB keeps through cat, reductions
over a labelled dimension (sum(X, 1), mean(X, [1 2]), max, ...), casts and copies.  sct dropped them, and
the unformatted result then went into softmax / crossentropy in sct's default layout (channels last):
MATLAB's

    Y = cat(2, X1, X2);  loss = crossentropy(softmax(Y), T)      % X1, X2 'CB'

gave 5.7713 in sct (eagerly and under dlfeval) where MATLAB (and the same data labelled 'CB') gives 1.0408.
And X(:,:,t) / X(:,:,end) of a 'CBT' sequence (Python X[:, :, t], X[:, :, -1]) lost its labels, so
fullyconnect read the (C, B) step in sct's (B, C) layout: with C == B silently wrong (274.28 vs 319.30 in
test_sequence_steps_keep_their_labels_in_dlfeval).  Now integer indexing drops the indexed dimension's label
only, a reduction without keepdims the reduced ones, and an operand whose format is the trailing part of the
other's broadcasts label by label (X - X[0] of 'CBT': 'CBT' and 'BT').  Values against numpy by hand; gradients against central differences (tests/gradcheck.py)."""
import numpy as np
import pytest

import sct
from sct import dims, dlarray, dlfeval, dlgradient, extractdata
from tests.gradcheck import assert_close, numerical_gradient

rng = np.random.default_rng(61)


def _softmax_ce_cb(y, t):
    """MATLAB's crossentropy(softmax(Y), T) of 'CB' data, by hand: channels down the rows."""
    e = np.exp(y - y.max(axis=0, keepdims=True))
    p = e / e.sum(axis=0, keepdims=True)
    return -np.sum(t * np.log(p)) / y.shape[1]


A0 = rng.standard_normal((3, 4))
B0 = rng.standard_normal((3, 4))
T8 = np.eye(3)[:, rng.integers(0, 3, 8)]


# --- cat along a labelled dimension keeps the format -----------------------------------------------------


def test_cat_of_cb_arrays_keeps_the_format_eagerly():
    Y = np.concatenate([dlarray(A0, "CB"), dlarray(B0, "CB")], axis=1)
    assert dims(Y) == "CB" and Y.shape == (3, 8)
    expected = _softmax_ce_cb(np.concatenate([A0, B0], axis=1), T8)
    assert_close(float(sct.crossentropy(sct.softmax(Y), T8)), expected)     # was 5.7713 vs 1.0408
    assert dims(np.concatenate((dlarray(A0, "CB"), dlarray(B0, "CB")), axis=0)) == "CB"
    # one operand unformatted, other labels, or a flattening cat: unformatted as before
    assert dims(np.concatenate([dlarray(A0, "CB"), dlarray(B0)], axis=1)) == ""
    assert dims(np.concatenate([dlarray(A0, "CB"), dlarray(B0, "BC")], axis=1)) == ""
    assert dims(np.concatenate([dlarray(A0, "CB"), dlarray(B0, "CB")], axis=None)) == ""


def cat_loss(a, b):
    y = np.concatenate([a, b], axis=1)
    loss = sct.crossentropy(sct.softmax(y), T8)
    return loss, dlgradient(loss, a, b), dims(y)


def test_cat_of_cb_arrays_keeps_the_format_in_dlfeval():
    loss, (ga, gb), d = dlfeval(cat_loss, dlarray(A0, "CB"), dlarray(B0, "CB"))
    assert d == "CB"

    def f(a, b):
        return _softmax_ce_cb(np.concatenate([a, b], axis=1), T8)
    assert_close(float(loss), f(A0, B0))
    assert_close(extractdata(ga), numerical_gradient(f, [A0, B0], 0))
    assert_close(extractdata(gb), numerical_gradient(f, [A0, B0], 1))


def cat_hvp(a, b):
    y = np.concatenate([a, b], axis=1)
    loss = sct.crossentropy(sct.softmax(y), T8)
    g = dlgradient(loss, a)
    return dlgradient(np.sum(g * g), a)


def test_cat_second_derivative():
    g2 = dlfeval(cat_hvp, dlarray(A0, "CB"), dlarray(B0, "CB"))

    def f(a):
        return np.sum(extractdata(dlfeval(lambda x, b: dlgradient(
            sct.crossentropy(sct.softmax(np.concatenate([x, b], axis=1)), T8), x),
            dlarray(a, "CB"), dlarray(B0, "CB"))) ** 2)
    assert_close(extractdata(g2), numerical_gradient(f, [A0], 0), rtol=1e-4, atol=1e-6)


# --- reductions over a labelled dimension keep it as a singleton (keepdims=True) -----------------------------

X0 = rng.standard_normal((4, 5, 3, 2))


def test_reductions_with_keepdims_keep_the_format_eagerly():
    X = dlarray(X0, "SSCB")
    for r in (np.sum(X, axis=(0, 1), keepdims=True), np.mean(X, axis=(0, 1), keepdims=True),
              np.max(X, axis=0, keepdims=True), np.min(X, axis=1, keepdims=True),
              X.sum(axis=(0, 1), keepdims=True), X.mean(axis=0, keepdims=True), X.var(axis=0, keepdims=True),
              X.astype(np.float32), X.copy(), np.copy(X)):
        assert dims(r) == "SSCB", r
    # without keepdims the dimensions left keep their labels; a reduction over every dimension: unformatted
    assert dims(np.sum(X, axis=(0, 1))) == "CB" and dims(X.mean(axis=0)) == "SCB" and dims(np.max(X, -1)) == "SSC"
    assert dims(X.mean()) == "" and dims(np.sum(X)) == ""
    assert X.astype(np.float32).dtype == np.float32


FC_W = rng.standard_normal((6, 3))
FC_B = rng.standard_normal(6)


def gap_fc_loss(x):
    # MATLAB: Y = mean(X, [1 2]); Y = fullyconnect(Y, W, b); loss = sum(Y.^2, 'all')  (global average pooling)
    y = np.mean(x, axis=(0, 1), keepdims=True)
    z = sct.fullyconnect(y, FC_W, FC_B)
    loss = np.sum(z ** 2)
    return loss, dlgradient(loss, x), dims(y), dims(z)


def test_global_average_then_fullyconnect_in_dlfeval():
    loss, g, dy, dz = dlfeval(gap_fc_loss, dlarray(X0, "SSCB"))
    assert dy == "SSCB" and dz == "CB"

    def f(x):
        m = x.mean(axis=(0, 1))                # (C, B)
        return np.sum((FC_W @ m + FC_B[:, None]) ** 2)
    assert_close(float(loss), f(X0))
    assert_close(extractdata(g), numerical_gradient(f, [X0], 0))
    # eagerly the same
    y = np.mean(dlarray(X0, "SSCB"), axis=(0, 1), keepdims=True)
    assert_close(float(np.sum(extractdata(sct.fullyconnect(y, FC_W, FC_B)) ** 2)), f(X0))


def method_forms(x):
    a = x.sum(axis=0, keepdims=True)
    b = x.astype(np.float64)
    c = x.copy()
    d = np.max(x, axis=1, keepdims=True)
    loss = np.sum(a) + np.sum(b * c) + np.sum(d)
    return loss, dlgradient(loss, x), dims(a), dims(b), dims(c), dims(d)


def test_method_forms_keep_the_format_in_dlfeval():
    out = dlfeval(method_forms, dlarray(X0, "SSCB"))
    assert out[2:] == ("SSCB",) * 4
    expected = np.ones_like(X0) + 2 * X0 + (X0 == X0.max(axis=1, keepdims=True))
    assert_close(extractdata(out[1]), expected)


def test_mean_over_spatial_without_keepdims_then_fullyconnect():
    def gap(x):
        y = np.mean(x, axis=(0, 1))                    # MATLAB mean(X, [1 2]): 'CB' here
        z = sct.fullyconnect(y, FC_W, FC_B)
        loss = np.sum(z ** 2)
        return loss, dlgradient(loss, x), dims(y)
    loss, g, d = dlfeval(gap, dlarray(X0, "SSCB"))
    assert d == "CB"

    def f(x):
        return np.sum((FC_W @ x.mean(axis=(0, 1)) + FC_B[:, None]) ** 2)
    assert_close(float(loss), f(X0))
    assert_close(extractdata(g), numerical_gradient(f, [X0], 0))


# --- X(:,:,t) of a 'CBT' sequence keeps the labels of the dimensions it keeps ----------------------------

CS, BS, TS = 3, 3, 4                          # C == B: the step read as (B, C) was silently wrong
WS = rng.standard_normal((4, CS))
BSB = rng.standard_normal(4)
S0 = rng.standard_normal((CS, BS, TS))


def sequence_steps(x):
    s = 0
    for t in range(x.shape[2]):
        xt = x[:, :, t]
        s = s + np.sum(sct.fullyconnect(xt, WS, BSB) ** 2)
    last = x[:, :, -1]
    y = sct.fullyconnect(last, WS, BSB)
    loss = s + np.sum(y ** 3)
    return loss, dlgradient(loss, x), dims(last), dims(y)


def _sequence_steps_ref(x):
    s = sum(np.sum((WS @ x[:, :, t] + BSB[:, None]) ** 2) for t in range(TS))
    return s + np.sum((WS @ x[:, :, -1] + BSB[:, None]) ** 3)


def test_sequence_steps_keep_their_labels_in_dlfeval():
    loss, g, dlast, dy = dlfeval(sequence_steps, dlarray(S0, "CBT"))
    assert (dlast, dy) == ("CB", "CB")
    assert_close(float(loss), _sequence_steps_ref(S0))                 # was 274.28 vs 319.30
    assert_close(extractdata(g), numerical_gradient(_sequence_steps_ref, [S0], 0))


def test_sequence_steps_keep_their_labels_eagerly():
    X = dlarray(S0, "CBT")
    assert dims(X[:, :, -1]) == "CB" and dims(X[0]) == "BT" and dims(X[:, 1]) == "CT"
    assert dims(X[np.int64(1)]) == "BT" and dims(X[:, :, 1:3]) == "CBT"
    assert dims(X[..., 0]) == "" and dims(X[:, :, [0]]) == "" and dims(X[None]) == ""
    y = sct.fullyconnect(X[:, :, -1], WS, BSB)
    assert_close(extractdata(y), WS @ S0[:, :, -1] + BSB[:, None])
    assert dims(X - X[0]) == "CBT" and dims(X[0] * X) == "CBT"
    assert_close(extractdata(X - X[0]), S0 - S0[0])
    with pytest.raises(ValueError, match="different labels"):
        X[:, :, 0] + X[:, 0]                            # 'CB' and 'CT'


def trailing_broadcast(x):
    centred = x - np.mean(x, axis=0)                    # 'CBT' minus 'BT'
    first = x[0]
    z = centred * first
    loss = np.sum(z ** 2)
    return loss, dlgradient(loss, x), dims(centred), dims(z)


def test_trailing_labels_broadcast_in_dlfeval():
    loss, g, dc, dz = dlfeval(trailing_broadcast, dlarray(S0, "CBT"))
    assert (dc, dz) == ("CBT", "CBT")

    def f(x):
        return np.sum(((x - x.mean(axis=0)) * x[0]) ** 2)
    assert_close(float(loss), f(S0))
    assert_close(extractdata(g), numerical_gradient(f, [S0], 0))


def mismatched_steps(x):
    return np.sum(x[:, :, 0] + x[:, 0])


def test_different_labels_after_indexing_refused_at_the_line():
    with pytest.raises(sct.CompileError, match="different labels") as info:
        dlfeval(mismatched_steps, dlarray(S0, "CBT"))
    assert info.value.lineno == mismatched_steps.__code__.co_firstlineno + 1


# --- real(X), imag(X) of a formatted dlarray keep the format; reductions with dtype= too -------------------

Z0 = rng.standard_normal((3, 4)) + 1j * rng.standard_normal((3, 4))


def real_parts(z):
    a = np.real(z)
    b = z.imag
    c = np.sum(a * b, axis=1, dtype=np.float64)
    loss = np.sum(c ** 2)
    return loss, dlgradient(loss, z), dims(a), dims(b), dims(c)


def test_real_and_imag_keep_the_format():
    Z = dlarray(Z0, "CB")
    assert dims(np.real(Z)) == "CB" and dims(Z.real) == "CB" and dims(np.imag(Z)) == "CB" and dims(Z.imag) == "CB"
    loss, g, da, db, dc = dlfeval(real_parts, Z)
    assert (da, db, dc) == ("CB", "CB", "C")

    def f(z):
        return np.sum(np.sum(z.real * z.imag, axis=1) ** 2)
    assert_close(float(loss), f(Z0))
    assert_close(extractdata(g), numerical_gradient(f, [Z0], 0))


# --- sequence-to-one: lstm, then Y(:,:,end), fullyconnect, softmax, crossentropy (the lstm page's data) ----

HL = 6
LSTM_P = {"W": rng.standard_normal((4 * HL, CS)) * 0.3, "R": rng.standard_normal((4 * HL, HL)) * 0.3,
          "b": rng.standard_normal(4 * HL) * 0.1, "Wf": rng.standard_normal((2, HL)), "bf": rng.standard_normal(2)}
SEQ0 = rng.standard_normal((CS, 4, TS))
T2 = np.eye(2)[:, rng.integers(0, 2, 4)]


def sequence_to_one(x, p):
    h0 = np.zeros((HL, 4))
    c0 = np.zeros((HL, 4))
    Y, h, c = sct.lstm(x, h0, c0, p["W"], p["R"], p["b"])
    last = Y[:, :, -1]                                  # MATLAB: Y(:,:,end), 'CB'
    loss = sct.crossentropy(sct.softmax(sct.fullyconnect(last, p["Wf"], p["bf"])), T2)
    return loss, dlgradient(loss, p), dims(last)


def sequence_to_one_by_state(x, p):
    h0 = np.zeros((HL, 4))
    c0 = np.zeros((HL, 4))
    Y, h, c = sct.lstm(x, h0, c0, p["W"], p["R"], p["b"])
    z = sct.fullyconnect(h, p["Wf"], p["bf"], DataFormat="CB")
    return sct.crossentropy(sct.softmax(z, DataFormat="CB"), T2, DataFormat="CB")


def test_sequence_to_one_lstm_last_step():
    # was an EvaluationError (matmul: size 6 is different from 4): Y[:, :, -1] read as (B, C)
    params = {k: dlarray(v) for k, v in LSTM_P.items()}
    loss, g, d = dlfeval(sequence_to_one, dlarray(SEQ0, "CBT"), params)
    assert d == "CB"
    assert_close(float(loss), float(dlfeval(sequence_to_one_by_state, dlarray(SEQ0, "CBT"), params)))

    def f(wf, w):
        q = dict(LSTM_P, Wf=wf, W=w)
        return float(dlfeval(sequence_to_one_by_state, dlarray(SEQ0, "CBT"), {k: dlarray(v) for k, v in q.items()}))
    assert_close(extractdata(g["Wf"]), numerical_gradient(f, [LSTM_P["Wf"], LSTM_P["W"]], 0))
    assert_close(extractdata(g["W"]), numerical_gradient(f, [LSTM_P["Wf"], LSTM_P["W"]], 1), rtol=1e-4, atol=1e-6)


class _Scaler:
    def __init__(self, k):
        self.k = k

    def scale(self, v):
        return v * self.k


def element_to_helper(x, s):
    v = x[0, 1]                       # every labelled dimension indexed: an unformatted scalar
    w = s.scale(v)
    loss = w * np.sum(x)
    return loss, dlgradient(loss, x)


def test_an_element_of_a_formatted_array_passes_to_a_helper():
    loss, g = dlfeval(element_to_helper, dlarray(A0, "CB"), _Scaler(2.0))
    assert_close(float(loss), 2 * A0[0, 1] * A0.sum())
    expected = np.full_like(A0, 2 * A0[0, 1])
    expected[0, 1] += 2 * A0.sum()
    assert_close(extractdata(g), expected)


# --- fullyconnect with MATLAB's outputSize-by-height-by-width-by-channels weights (the fullyconnect page) ------

FX0 = rng.random((4, 3, 2, 2))                       # 'SSCB'
FW4 = rng.standard_normal((5, 4, 3, 2))              # outputFeatures x height x width x channels
FB = np.ones((5, 1))


def _fc4_ref(x, w):
    return np.einsum("ohwc,hwcb->ob", w, x) + 1.0


def test_fullyconnect_page_example_four_d_weights_eagerly():
    # MATLAB: X = dlarray(rand(12,12,32,1),'SSCB'); weights = ones(10,12,12,32); bias = ones(10,1);
    # Y = fullyconnect(X,weights,bias) -> 10(C) x 1(B), every value 1 + sum(X(:))  (was a matmul error)
    X1 = rng.random((12, 12, 32, 1))
    Y = sct.fullyconnect(dlarray(X1, "SSCB"), np.ones((10, 12, 12, 32)), np.ones((10, 1)))
    assert dims(Y) == "CB" and Y.shape == (10, 1)
    assert_close(extractdata(Y), np.full((10, 1), X1.sum() + 1.0))
    Y = sct.fullyconnect(dlarray(FX0, "SSCB"), FW4, FB)
    assert_close(extractdata(Y), _fc4_ref(FX0, FW4))
    Y = sct.fullyconnect(np.transpose(FX0, (3, 0, 1, 2)), FW4, FB, DataFormat="BSSC")
    assert_close(extractdata(Y), _fc4_ref(FX0, FW4).T)
    with pytest.raises(ValueError, match="input features"):
        sct.fullyconnect(dlarray(FX0, "SSCB"), rng.standard_normal((5, 4, 3, 3)), FB)


def fc4_loss(x, w):
    y = sct.fullyconnect(x, w, FB)
    loss = np.sum(np.tanh(y) ** 2)
    gx, gw = dlgradient(loss, x, w)
    return loss, gx, gw, dims(y)


def fc4_second(x, w):
    y = sct.fullyconnect(x, w, FB)
    gw = dlgradient(np.sum(np.tanh(y) ** 2), w)
    return dlgradient(np.sum(gw * gw), x)


def test_fullyconnect_four_d_weights_in_dlfeval_first_and_second_order():
    loss, gx, gw, d = dlfeval(fc4_loss, dlarray(FX0, "SSCB"), dlarray(FW4))
    assert d == "CB" and gw.shape == FW4.shape

    def f(x, w):
        return np.sum(np.tanh(_fc4_ref(x, w)) ** 2)
    assert_close(float(loss), f(FX0, FW4))
    assert_close(extractdata(gx), numerical_gradient(f, [FX0, FW4], 0))
    assert_close(extractdata(gw), numerical_gradient(f, [FX0, FW4], 1))
    h = dlfeval(fc4_second, dlarray(FX0, "SSCB"), dlarray(FW4))

    def s(x):
        return np.sum(extractdata(dlfeval(lambda a, w: dlgradient(
            np.sum(np.tanh(sct.fullyconnect(a, w, FB)) ** 2), w), dlarray(x, "SSCB"), dlarray(FW4))) ** 2)
    assert_close(extractdata(h), numerical_gradient(s, [FX0], 0), rtol=1e-4, atol=1e-6)


def test_fullyconnect_four_d_weights_jvp():
    x0 = rng.random((2, 12))
    w0 = rng.standard_normal((5, 4, 3))
    vx = rng.standard_normal(x0.shape)
    vw = rng.standard_normal(w0.shape)

    def f(x, w):
        return np.tanh(sct.fullyconnect(x, w, 0.5))
    _, jv = sct.jvp(f, (x0, w0), (vx, vw))
    eps = 1e-6

    def plain(t):
        return np.tanh((x0 + t * vx) @ (w0 + t * vw).reshape(5, -1).T + 0.5)
    assert_close(np.asarray(jv), (plain(eps) - plain(-eps)) / (2 * eps), rtol=1e-6, atol=1e-8)


# --- the pages' printed values, with MATLAB's default random stream (rng default: Mersenne Twister seeded
# 5489, column-major fill; numpy's RandomState(5489) gives the same doubles) --------------------------------


def _matlab_rand(stream, *shape):
    return stream.random_sample(int(np.prod(shape))).reshape(shape, order="F")


def test_loss_pages_printed_values_with_matlabs_default_stream():
    s = np.random.RandomState(5489)                      # mse page: Y = rand(6,6,1,1), targets = ones -> 5.2061
    assert round(float(sct.mse(dlarray(_matlab_rand(s, 6, 6, 1, 1), "SSCB"), np.ones((6, 6, 1, 1)))), 4) == 5.2061
    s = np.random.RandomState(5489)                      # l1loss / l2loss pages: 3.1679 and 1.4748
    Y, T = _matlab_rand(s, 10, 12), _matlab_rand(s, 10, 12)
    assert round(float(sct.l1loss(dlarray(Y, "CB"), T)), 4) == 3.1679
    assert round(float(sct.l2loss(dlarray(Y, "CB"), T)), 4) == 1.4748
    s = np.random.RandomState(5489)                      # crossentropy page: softmax(rand(10,12)), randi(10,1,12)
    X = _matlab_rand(s, 10, 12)
    idx = np.floor(s.random_sample(12) * 10).astype(int)
    targets = np.zeros((10, 12))
    targets[idx, np.arange(12)] = 1
    assert round(float(sct.crossentropy(sct.softmax(dlarray(X, "CB")), targets)), 4) == 2.3343
    s = np.random.RandomState(5489)                      # fullyconnect page: 1.0e+03 * 2.3266 (4-D weights)
    Y = sct.fullyconnect(dlarray(_matlab_rand(s, 12, 12, 32, 1), "SSCB"), np.ones((10, 12, 12, 32)), np.ones((10, 1)))
    assert np.all(np.round(extractdata(Y) / 1e3, 4) == 2.3266)


def hv_stacks(a, b):
    h = np.hstack([a, b])                              # MATLAB [A, B] of 'CB' arrays: 'CB'
    v = np.vstack((a, b))                              # MATLAB [A; B]: 'CB'
    loss = sct.crossentropy(sct.softmax(h), T8) + np.sum(sct.softmax(v) ** 2)
    return loss, dlgradient(loss, a), dims(h), dims(v)


def test_hstack_and_vstack_keep_the_format():
    assert dims(np.hstack([dlarray(A0, "CB"), dlarray(B0, "CB")])) == "CB"
    assert dims(np.vstack([dlarray(A0, "CB"), dlarray(B0, "CB")])) == "CB"
    assert dims(np.vstack([dlarray(A0[:, 0], "C"), dlarray(B0[:, 0], "C")])) == ""     # 1-D: stacked
    loss, g, dh, dv = dlfeval(hv_stacks, dlarray(A0, "CB"), dlarray(B0, "CB"))
    assert (dh, dv) == ("CB", "CB")

    def f(a):
        h = np.hstack([a, B0])
        v = np.vstack([a, B0])
        ev = np.exp(v - v.max(axis=0))
        return _softmax_ce_cb(h, T8) + np.sum((ev / ev.sum(axis=0)) ** 2)
    assert_close(float(loss), f(A0))
    assert_close(extractdata(g), numerical_gradient(f, [A0], 0))


def test_targets_of_another_rank_than_the_labels_say_so():
    # dlarray(x, 'CBU') of a 3x2 x: MATLAB ignores the trailing singleton U, sct keeps it (3, 2, 1); the
    # 3x2 targets then failed inside numpy ("axes don't match array")
    X = dlarray(A0[:, :2], "CBU")
    with pytest.raises(ValueError, match="targets have 2 dimensions where the data format 'CBU' has 3"):
        sct.crossentropy(sct.softmax(X), np.eye(3)[:, [0, 2]])
    assert_close(float(sct.crossentropy(sct.softmax(X), np.eye(3)[:, [0, 2], None])),
                 _softmax_ce_cb(A0[:, :2], np.eye(3)[:, [0, 2]]))


# --- inside dlfeval an index is followed as an int where it is one: t - 1, len(x) - 1, x.shape[2] - 1, int(...),
# an int argument; where sct cannot tell, the format is not known (refused where it is read), never a guess
# that would differ from the labels the same code gets outside dlfeval ------------------------------------------


def int_indices(x, j):
    s = 0
    for t in range(1, x.shape[2]):
        prev = x[:, :, t - 1]
        s = s + np.sum(sct.fullyconnect(prev, WS, BSB) ** 2)
    n = x.shape[2]
    last = x[:, :, n - 1]
    k = len(x) - 1
    first = x[k]
    m = int(j)
    yj = sct.fullyconnect(x[:, :, m], WS, BSB)
    y = sct.fullyconnect(last, WS, BSB)
    loss = s + np.sum(y ** 3) + np.sum(first) + np.sum(yj)
    return loss, dlgradient(loss, x), dims(last), dims(first)


def _int_indices_ref(x, j=1):
    s = sum(np.sum((WS @ x[:, :, t - 1] + BSB[:, None]) ** 2) for t in range(1, TS))
    return s + np.sum((WS @ x[:, :, -1] + BSB[:, None]) ** 3) + np.sum(x[-1]) + np.sum(WS @ x[:, :, j] + BSB[:, None])


def test_integer_indices_followed_in_dlfeval_as_outside():
    loss, g, dlast, dfirst = dlfeval(int_indices, dlarray(S0, "CBT"), 1)
    assert (dlast, dfirst) == ("CB", "BT")
    assert_close(float(loss), _int_indices_ref(S0))
    assert_close(extractdata(g), numerical_gradient(_int_indices_ref, [S0], 0))
    # the same function outside dlfeval (no dlgradient): the same labels and value
    X = dlarray(S0, "CBT")
    assert dims(X[:, :, TS - 1]) == "CB" and dims(X[len(X) - 1]) == "BT"


def index_from_argmax(x):
    i = np.argmax(extractdata(np.sum(x, axis=(0, 1))))      # an int at run time; sct cannot tell here
    return sct.fullyconnect(x[:, :, i], WS, BSB)


def index_array_argument(x, idx):
    return np.sum(x[:, :, idx] ** 2)


def test_an_index_sct_cannot_type_is_refused_where_a_layout_reads_it():
    with pytest.raises(sct.CompileError, match="format of its input is not known") as info:
        dlfeval(index_from_argmax, dlarray(S0, "CBT"))
    assert info.value.lineno == index_from_argmax.__code__.co_firstlineno + 2
    # outside dlfeval the same code reads the step's 'CB' labels
    i = np.argmax(S0.sum(axis=(0, 1)))
    assert_close(extractdata(index_from_argmax(dlarray(S0, "CBT"))), WS @ S0[:, :, i] + BSB[:, None])
    # an array argument as the index: fancy indexing, unformatted, as outside dlfeval
    assert_close(float(dlfeval(index_array_argument, dlarray(S0, "CBT"), np.array([0, 2]))),
                 np.sum(S0[:, :, [0, 2]] ** 2))


def counter_index(x):
    i = 0
    s = 0
    while i < x.shape[2]:
        s = s + np.sum(sct.fullyconnect(x[:, :, i], WS, BSB) ** 2)
        i += 1
    return s


def test_a_while_loop_counter_is_an_int_index():
    def ref(x):
        return sum(np.sum((WS @ x[:, :, t] + BSB[:, None]) ** 2) for t in range(TS))
    assert_close(float(dlfeval(counter_index, dlarray(S0, "CBT"))), ref(S0))
    assert_close(float(counter_index(dlarray(S0, "CBT"))), ref(S0))


def step_by_argument(x, t):
    return sct.fullyconnect(x[:, :, t], WS, BSB)


@pytest.mark.parametrize("t", [2, np.int64(2), np.array(2)], ids=["int", "int64", "0-d array"])
def test_an_integer_argument_as_the_index_in_dlfeval_and_outside(t):
    expected = WS @ S0[:, :, 2] + BSB[:, None]
    assert_close(extractdata(dlfeval(step_by_argument, dlarray(S0, "CBT"), t)), expected)
    assert_close(extractdata(step_by_argument(dlarray(S0, "CBT"), t)), expected)
