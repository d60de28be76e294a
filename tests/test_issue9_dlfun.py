"""Issue 9: dltranspconv, maxpool's indices with maxunpool, and LSTM/GRU state in net.State.

Values against direct loops, gradients against central differences, second derivatives (gradient
penalties), float32, and use inside dlfeval with a dlnetwork."""
from __future__ import annotations

import numpy as np
import pytest

import sct
from sct import (dlarray, dlconv, dlfeval, dlgradient, dlnetwork, dltranspconv, extractdata, forward, maxpool,
                 maxunpool, predict)

try:
    from tests.gradcheck import assert_close, check_grads, numerical_gradient
except ImportError:                      # run as plain `pytest` from inside tests/
    from gradcheck import assert_close, check_grads, numerical_gradient

rng = np.random.default_rng(909)


# --- references -----------------------------------------------------------------------------------


def naive_transpconv(x, w, b, stride=(1, 1), crops=((0, 0), (0, 0)), dil=(1, 1)):
    """Scatter every input pixel times the filter into the output (MATLAB's definition), then crop."""
    grouped = w.ndim == 5
    if not grouped:
        w = w[..., None]
    kh, kw, fpg, cpg, groups = w.shape
    batch, height, width, channels = x.shape
    full_h = (height - 1) * stride[0] + (kh - 1) * dil[0] + 1
    full_w = (width - 1) * stride[1] + (kw - 1) * dil[1] + 1
    y = np.zeros((batch, full_h, full_w, fpg * groups))
    for n in range(batch):
        for i in range(height):
            for j in range(width):
                for g in range(groups):
                    for c in range(cpg):
                        v = x[n, i, j, g * cpg + c]
                        for p in range(kh):
                            for q in range(kw):
                                for f in range(fpg):
                                    y[n, i * stride[0] + p * dil[0], j * stride[1] + q * dil[1],
                                      g * fpg + f] += v * w[p, q, f, c, g]
    (t, bo), (l, r) = crops
    return y[:, t:full_h - bo, l:full_w - r, :] + b


def naive_maxpool_indices(x, pool, stride, pads=((0, 0), (0, 0))):
    (t, bo), (l, r) = pads
    batch, height, width, channels = x.shape
    ho = (height + t + bo - pool[0]) // stride[0] + 1
    wo = (width + l + r - pool[1]) // stride[1] + 1
    y = np.zeros((batch, ho, wo, channels))
    idx = np.zeros((batch, ho, wo, channels), dtype=int)
    for n in range(batch):
        for i in range(ho):
            for j in range(wo):
                for c in range(channels):
                    best, where = -np.inf, None
                    for p in range(pool[0]):
                        for q in range(pool[1]):
                            rr, cc = i * stride[0] + p - t, j * stride[1] + q - l
                            if 0 <= rr < height and 0 <= cc < width and x[n, rr, cc, c] > best:
                                best, where = x[n, rr, cc, c], (n, rr, cc, c)
                    y[n, i, j, c] = best
                    idx[n, i, j, c] = np.ravel_multi_index(where, x.shape)
    return y, idx


def _penalty_outer(fn, wrt_index, a0, a1, a2):
    loss = fn(a0, a1, a2)
    gx = dlgradient(loss, a0, EnableHigherDerivatives=True)
    pen = np.sum(gx ** 2)
    return pen, dlgradient(pen, a0, a1, a2)


def _first_order(fn, a0, a1, a2):
    return dlgradient(fn(a0, a1, a2), a0)


def penalty_check(fn, wrt_index, *args, rtol=1e-5, atol=1e-6):
    """d/d(args[wrt_index]) of sum(dlgradient(fn, args[0])**2) (a second derivative) against central
    differences of that penalty computed with first derivatives."""
    value, grads = dlfeval(_penalty_outer, fn, wrt_index, *[dlarray(v) for v in args])

    def penalty(*vals):
        gx = dlfeval(_first_order, fn, *[dlarray(v) for v in vals])
        return float(np.sum(gx.data ** 2))
    expected = numerical_gradient(penalty, list(args), wrt_index)
    assert_close(float(value), penalty(*args), 1e-9, 1e-9)
    assert_close(grads[wrt_index].data, expected, rtol, atol, what=f"penalty d/darg{wrt_index}")


# --- dltranspconv ---------------------------------------------------------------------------------


@pytest.mark.parametrize("stride,crop,dil", [
    (1, 0, 1), (2, 0, 1), ((2, 3), 1, 1), (2, [1, 0], 1), (1, [[0, 1], [2, 0]], 1), (2, 0, 2), (3, 1, (1, 2))])
def test_dltranspconv_values_against_loops(stride, crop, dil):
    x = rng.standard_normal((2, 3, 4, 3))
    w = rng.standard_normal((3, 2, 4, 3))            # (kh, kw, numFilters, numChannels)
    b = rng.standard_normal(4)
    s = (stride, stride) if np.isscalar(stride) else stride
    d = (dil, dil) if np.isscalar(dil) else dil
    c = np.asarray(crop)
    crops = ((int(c), int(c)), (int(c), int(c))) if c.ndim == 0 else \
        ((int(c[0]), int(c[0])), (int(c[1]), int(c[1]))) if c.shape == (2,) else \
        ((int(c[0, 0]), int(c[1, 0])), (int(c[0, 1]), int(c[1, 1])))
    got = dltranspconv(x, w, b, Stride=stride, Cropping=crop, DilationFactor=dil)
    assert_close(got, naive_transpconv(x, w, b, s, crops, d), 1e-12, 1e-12)


def test_dltranspconv_same_cropping_and_groups():
    x = rng.standard_normal((1, 3, 4, 4))
    w = rng.standard_normal((5, 5, 2, 4))
    y = dltranspconv(x, w, 0, Stride=2, Cropping="same")
    assert y.shape == (1, 6, 8, 2)                                  # output = input .* Stride
    # total cropping 5 - 2 = 3 per axis: 1 at the top/left, 2 at the bottom/right
    assert_close(y, naive_transpconv(x, w, 0, (2, 2), ((1, 2), (1, 2))), 1e-12, 1e-12)
    y = dltranspconv(x, rng.standard_normal((4, 4, 3, 4)), 0, Stride=4, Cropping="same")
    assert y.shape == (1, 12, 16, 3)
    wg = rng.standard_normal((2, 3, 3, 2, 2))                        # 2 groups: 2 channels -> 3 filters each
    assert_close(dltranspconv(x, wg, 0.5, Stride=(1, 2)), naive_transpconv(x, wg, 0.5, (1, 2)), 1e-12, 1e-12)


def test_dltranspconv_is_the_adjoint_of_dlconv():
    """<dlconv(u, W), v> == <u, dltranspconv(v, W)> with the same weights array and options."""
    w = rng.standard_normal((3, 3, 2, 5))
    for stride, pad, size in ((1, 0, (9, 12)), (2, 1, (9, 11)), (2, "same", (8, 12)), (3, "same", (9, 12)),
                              (2, [[0, 1], [1, 0]], (8, 9))):
        v = rng.standard_normal((2,) + size + (5,))
        t = dltranspconv(v, w, 0, Stride=stride, Cropping=pad)
        u = rng.standard_normal(t.shape[:3] + (2,))
        cv = dlconv(u, w, 0, Stride=stride, Padding=pad)
        assert cv.shape == v.shape
        assert np.isclose(np.sum(cv * v), np.sum(u * t), rtol=1e-10)


def test_dltranspconv_refusals():
    x = np.ones((1, 3, 3, 2))
    with pytest.raises(ValueError, match="channels"):
        dltranspconv(x, np.ones((3, 3, 4, 5)), 0)
    with pytest.raises(ValueError, match="Cropping"):
        dltranspconv(x, np.ones((2, 2, 1, 2)), 0, Cropping=5)
    with pytest.raises(TypeError, match="complex"):
        dltranspconv(x + 1j, np.ones((2, 2, 1, 2)), 0)


def transp_loss(x, w, b):
    return np.sum(np.tanh(dltranspconv(x, w, b, Stride=2, Cropping=1)) ** 2)


def test_dltranspconv_gradients():
    x = rng.standard_normal((2, 3, 3, 2))
    w = rng.standard_normal((3, 3, 3, 2)) * 0.5
    b = rng.standard_normal(3)
    check_grads(transp_loss, x, w, b)

    def grouped(x, w, b):
        return np.sum(np.sin(dltranspconv(x, w, b, Stride=(2, 1), Cropping="same", DilationFactor=2)))
    check_grads(grouped, rng.standard_normal((1, 3, 4, 4)), rng.standard_normal((2, 3, 1, 2, 2)),
                rng.standard_normal(2))


def test_dltranspconv_second_derivatives():
    x = rng.standard_normal((1, 3, 3, 2))
    w = rng.standard_normal((3, 3, 2, 2)) * 0.5
    b = rng.standard_normal(2)
    for k in (0, 1, 2):
        penalty_check(transp_loss, k, x, w, b)


def test_dltranspconv_float32_and_dlarray():
    x = rng.standard_normal((1, 3, 3, 2)).astype(np.float32)
    w = rng.standard_normal((3, 3, 2, 2)).astype(np.float32)
    assert dltranspconv(x, w, 0).dtype == np.float32
    assert dltranspconv(x, w, np.zeros(2, np.float32), Stride=2).dtype == np.float32
    y = dltranspconv(dlarray(x), w, 0.5)
    assert isinstance(y, dlarray) and y.dtype == np.float32

    def f(x, w):
        y = np.sum(dltranspconv(x, w, 0.5, Stride=2) ** 2)
        return y, dlgradient(y, x, w)
    _, (gx, gw) = dlfeval(f, dlarray(x), dlarray(w))
    assert gx.dtype == np.float32 and gw.dtype == np.float32


def test_transposed_conv_layer_in_dlnetwork():
    layers = [sct.imageInputLayer((4, 4, 3), Normalization="none"),
              sct.transposedConv2dLayer(3, 5, Stride=2, Cropping="same", Name="up"),
              sct.reluLayer(), sct.transposedConv2dLayer((2, 3), 2, Name="up2")]
    net = dlnetwork(layers, Seed=1)
    assert net.Learnables["up", "Weights"].shape == (3, 3, 5, 3)     # (kh, kw, numFilters, numChannels)
    assert net.Learnables["up", "Bias"].shape == (5,)
    x = rng.standard_normal((2, 4, 4, 3))
    w1, b1 = extractdata(net.Learnables["up", "Weights"]), extractdata(net.Learnables["up", "Bias"])
    w2, b2 = extractdata(net.Learnables["up2", "Weights"]), extractdata(net.Learnables["up2", "Bias"])
    expected = dltranspconv(np.maximum(dltranspconv(x, w1, b1, Stride=2, Cropping="same"), 0), w2, b2)
    assert_close(extractdata(predict(net, x)), expected, 1e-12, 1e-12)
    assert predict(net, x).shape == (2, 9, 10, 2)

    def model_loss(net, X):
        Y, state = forward(net, X)
        loss = np.sum(Y ** 2)
        return loss, dlgradient(loss, net.Learnables)
    loss, grads = dlfeval(model_loss, net, dlarray(x))

    def loss_of_w(w):
        return float(np.sum(dltranspconv(np.maximum(dltranspconv(x, w, b1, Stride=2, Cropping="same"), 0),
                                         w2, b2) ** 2))
    assert_close(extractdata(grads["up", "Weights"]), numerical_gradient(loss_of_w, [w1], 0), 1e-5, 1e-6)


# --- maxpool indices and maxunpool ----------------------------------------------------------------------


@pytest.mark.parametrize("pool,stride,pad", [(2, 2, 0), ((3, 2), (2, 1), 1), (3, 1, "same"), (2, 3, 0)])
def test_maxpool_indices_against_loops(pool, stride, pad):
    x = rng.standard_normal((2, 6, 5, 3))
    geometry = sct.runtime.dlfun.pool_geometry(x.shape, pool, stride, pad)
    y, idx, size = maxpool(x, pool, Stride=stride, Padding=pad, nargout=3)
    ey, eidx = naive_maxpool_indices(x, geometry[0], geometry[1], geometry[2])
    assert_close(y, ey, 0, 0)
    assert np.array_equal(idx, eidx) and np.issubdtype(idx.dtype, np.integer)
    assert size == x.shape
    assert_close(x.ravel()[idx], y, 0, 0)                # the indices point at the maxima
    assert_close(maxpool(x, pool, Stride=stride, Padding=pad), y, 0, 0)


def test_maxunpool_values():
    x = rng.standard_normal((2, 4, 6, 2))
    y, idx, size = maxpool(x, 2, Stride=2, nargout=3)
    u = maxunpool(y, idx, size)
    expected = np.zeros(x.shape)
    for n, i, j, c in np.ndindex(y.shape):
        expected[np.unravel_index(idx[n, i, j, c], x.shape)] += y[n, i, j, c]
    assert_close(u, expected, 0, 0)
    assert_close(u, np.where(u != 0, x, 0), 0, 0)        # the maxima in place, zeros elsewhere
    # overlapping windows: a shared maximum receives the sum
    y, idx, size = maxpool(x, 3, Stride=1, nargout=3)
    expected = np.zeros(x.size)
    np.add.at(expected, idx.ravel(), y.ravel())
    assert_close(maxunpool(y, idx, size), expected.reshape(x.shape), 1e-12, 1e-12)
    with pytest.raises(ValueError, match="indx"):
        maxunpool(y, idx[:, :1], size)
    with pytest.raises(ValueError, match="nargout"):
        maxpool(x, 2, nargout=2)


def test_maxunpool_gradients_and_second_derivatives():
    x = rng.standard_normal((1, 4, 4, 2))
    y0, idx, size = maxpool(x, 2, Stride=2, nargout=3)

    def unpool_loss(y):
        return np.sum(np.sin(maxunpool(y * y, idx, size)) * np.arange(32.0).reshape(1, 4, 4, 2))
    check_grads(unpool_loss, y0)

    def round_trip(x, w, b):                          # pool, unpool, pool again: the SegNet pattern
        z, ind, sz = maxpool(x, 2, Stride=2, nargout=3)
        return np.sum(np.tanh(maxunpool(z * w[0, 0, 0, 0], ind, sz) + b) ** 2)
    w = rng.standard_normal((1, 1, 1, 1))
    check_grads(round_trip, x, w, np.zeros(2) + 0.3)
    for k in (0, 1, 2):
        penalty_check(round_trip, k, x, w, np.zeros(2) + 0.3)


def test_maxunpool_float32_inside_dlfeval():
    x = rng.standard_normal((2, 4, 4, 3)).astype(np.float32)

    def f(x):
        y, idx, size = maxpool(x, 2, Stride=2, nargout=3)
        z = maxunpool(y * 2, idx, size)
        loss = np.sum(z * z)
        return loss, dlgradient(loss, x), z
    loss, g, z = dlfeval(f, dlarray(x))
    assert g.dtype == np.float32 and z.dtype == np.float32
    y, idx, size = maxpool(x, 2, Stride=2, nargout=3)
    expected = np.zeros(x.size, np.float32)
    expected[idx.ravel()] = 8 * y.ravel()
    assert_close(extractdata(g), expected.reshape(x.shape), 1e-6, 1e-6)


# --- recurrent layers keep their state in net.State ---------------------------------------------------


def _lstm_values(net, name="lstm"):
    return [extractdata(net.Learnables[name, p]) for p in ("InputWeights", "RecurrentWeights", "Bias")]


def test_lstm_state_rows_forward_predict_and_reset():
    net = dlnetwork([sct.sequenceInputLayer(3), sct.lstmLayer(4, Name="lstm"), sct.fullyConnectedLayer(2)],
                    Seed=5)
    assert net.State.Layer == ("lstm", "lstm") and net.State.Parameter == ("HiddenState", "CellState")
    assert_close(extractdata(net.State["lstm", "HiddenState"]), np.zeros((1, 4)), 0, 0)
    w, r, b = _lstm_values(net)
    X1, X2 = rng.standard_normal((2, 5, 3)), rng.standard_normal((2, 4, 3))
    zeros = np.zeros((2, 4))
    y_all, h_all, c_all = sct.lstm(np.concatenate([X1, X2], axis=1), zeros, zeros, w, r, b)
    y1, h1, c1 = sct.lstm(X1, zeros, zeros, w, r, b)
    _, state = forward(net, X1)
    assert_close(extractdata(state["lstm", "HiddenState"]), h1, 1e-12, 1e-12)
    assert_close(extractdata(state["lstm", "CellState"]), c1, 1e-12, 1e-12)
    assert_close(extractdata(net.State["lstm", "CellState"]), np.zeros((1, 4)), 0, 0)  # net itself unchanged
    Y, state_p = predict(net, X1, nargout=2)
    assert_close(extractdata(state_p["lstm", "HiddenState"]), h1, 1e-12, 1e-12)
    # stateful prediction: continuing from the stored state is the same as running the whole sequence
    net.State = state
    W, B = extractdata(net.Learnables["fc", "Weights"]), extractdata(net.Learnables["fc", "Bias"])
    assert_close(extractdata(predict(net, X2)), y_all[:, 5:] @ W.T + B, 1e-12, 1e-12)
    _, state2 = forward(net, X2)
    assert_close(extractdata(state2["lstm", "HiddenState"]), h_all, 1e-12, 1e-12)
    assert_close(extractdata(state2["lstm", "CellState"]), c_all, 1e-12, 1e-12)
    # resetState: back to the initial (zero) states
    fresh = sct.resetState(net)
    assert_close(extractdata(fresh.State["lstm", "HiddenState"]), np.zeros((1, 4)), 0, 0)
    assert_close(extractdata(predict(fresh, X2)), sct.lstm(X2, zeros, zeros, w, r, b, nargout=3)[0] @ W.T + B, 1e-12, 1e-12)
    # a stored state of another batch size is refused
    with pytest.raises(ValueError, match="resetState"):
        predict(net, rng.standard_normal((3, 2, 3)))


def test_given_initial_states_and_gru():
    h0, c0 = rng.standard_normal(3), rng.standard_normal(3)
    net = dlnetwork([sct.sequenceInputLayer(2), sct.lstmLayer(3, Name="lstm", OutputMode="last",
                                                               HiddenState=h0, CellState=c0)], Seed=1)
    w, r, b = _lstm_values(net)
    X = rng.standard_normal((4, 6, 2))
    hb, cb = np.tile(h0, (4, 1)), np.tile(c0, (4, 1))
    assert_close(extractdata(predict(net, X)), sct.lstm(X, hb, cb, w, r, b, nargout=3)[1], 1e-12, 1e-12)
    _, state = forward(net, X)
    net.State = state
    net = sct.resetState(net)
    assert_close(extractdata(net.State["lstm", "HiddenState"]), h0[None], 0, 0)   # the given initial value
    assert_close(extractdata(net.State["lstm", "CellState"]), c0[None], 0, 0)

    g = dlnetwork([sct.sequenceInputLayer(2), sct.gruLayer(3, Name="gru")], Seed=2)
    assert g.State.Parameter == ("HiddenState",)
    wg, rg, bg = _lstm_values(g, "gru")
    y_all, h_all = sct.gru(np.concatenate([X, X], axis=1), np.zeros((4, 3)), wg, rg, bg)
    _, state = forward(g, X)
    g.State = state
    Y, state = predict(g, X, nargout=2)
    assert_close(extractdata(Y), y_all[:, 6:], 1e-12, 1e-12)
    assert_close(extractdata(state["gru", "HiddenState"]), h_all, 1e-12, 1e-12)


def lstm_model_loss(net, X):
    Y, state = forward(net, X)
    loss = np.sum(np.sin(Y))
    return loss, dlgradient(loss, net.Learnables), state


def test_lstm_gradients_from_a_stored_state_inside_dlfeval():
    net = dlnetwork([sct.sequenceInputLayer(2), sct.lstmLayer(3, Name="lstm"), sct.fullyConnectedLayer(1)],
                    Seed=4)
    X = rng.standard_normal((2, 4, 2))
    _, net.State = forward(net, rng.standard_normal((2, 3, 2)))      # a nonzero state to start from
    h, c = extractdata(net.State["lstm", "HiddenState"]), extractdata(net.State["lstm", "CellState"])
    loss, grads, state = dlfeval(lstm_model_loss, net, dlarray(X))
    W, B = extractdata(net.Learnables["fc", "Weights"]), extractdata(net.Learnables["fc", "Bias"])

    def loss_of(w, r, b):
        y = sct.lstm(X, h, c, w, r, b, nargout=3)[0]
        return float(np.sum(np.sin(y @ W.T + B)))
    args = _lstm_values(net)
    assert_close(float(loss), loss_of(*args), 1e-12, 1e-12)
    for k, name in enumerate(("InputWeights", "RecurrentWeights", "Bias")):
        assert_close(extractdata(grads["lstm", name]), numerical_gradient(loss_of, args, k), 1e-5, 1e-7)
    assert_close(extractdata(state["lstm", "HiddenState"]), sct.lstm(X, h, c, *args, nargout=3)[1], 1e-12, 1e-12)


def unpool_net_loss(net, X):
    Y = forward(net, X)[0]
    loss = np.sum(np.tanh(Y) ** 2)
    return loss, dlgradient(loss, net.Learnables)


def test_max_unpooling_layer_in_a_dlnetwork():
    layers = [sct.imageInputLayer((4, 6, 2), Normalization="none", Name="in"),
              sct.convolution2dLayer(3, 3, Padding="same", Name="conv"),
              sct.maxPooling2dLayer(2, Stride=2, HasUnpoolingOutputs=True, Name="pool"),
              sct.maxUnpooling2dLayer(Name="unpool"),
              sct.convolution2dLayer(1, 2, Name="conv2")]
    net = dlnetwork(layers, Connections=[("in", "conv"), ("conv", "pool"), ("pool/out", "unpool/in"),
                                         ("pool/indices", "unpool/indices"), ("pool/size", "unpool/size"),
                                         ("unpool", "conv2")], Seed=2)
    X = rng.standard_normal((2, 4, 6, 2))
    values = [extractdata(v) for v in net.Learnables.Value]

    def reference(w1, b1, w2, b2):
        z = dlconv(X, w1, b1, Padding="same")
        y, idx, size = maxpool(z, 2, Stride=2, nargout=3)
        return dlconv(maxunpool(y, idx, size), w2, b2)
    assert_close(extractdata(predict(net, X)), reference(*values), 1e-12, 1e-12)
    loss, grads = dlfeval(unpool_net_loss, net, dlarray(X))

    def loss_of(*vals):
        return float(np.sum(np.tanh(reference(*vals)) ** 2))
    for k in range(4):
        assert_close(extractdata(grads.Value[k]), numerical_gradient(loss_of, values, k), 1e-5, 1e-7)
