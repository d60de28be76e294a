"""Issue 9, item 1 (follow-up): MATLAB's custom-training-loop pattern with formatted data.

``forward``/``predict`` of a dlnetwork take formatted inputs (arranged by their labels into the layout of the
network's input layer; the outputs labelled in sct's order), and two formatted operands with the same labels
in another order are aligned by label (MATLAB keeps every formatted dlarray in one order), eagerly and
inside dlfeval, with values and gradients checked against plain batch-first code and central differences."""
import dataclasses

import numpy as np
import pytest

import sct
from sct import (CompileError, batchNormalizationLayer, convolution2dLayer, crossentropy, dims, dlarray, dlfeval,
                 dlgradient, dlnetwork, featureInputLayer, forward, fullyConnectedLayer, huber, imageInputLayer,
                 l1loss, l2loss, lstmLayer, mse, predict, reluLayer, sequenceInputLayer, softmaxLayer, stripdims)
from sct.kinds import kind_of

from gradcheck import assert_close, numerical_gradient

RNG = np.random.default_rng(11)


def image_net(size=8, seed=0):
    return dlnetwork([imageInputLayer((size, size, 1), Normalization="none"),
                      convolution2dLayer(3, 4, Padding="same"), batchNormalizationLayer(), reluLayer(),
                      fullyConnectedLayer(3), softmaxLayer()], Seed=seed)


def onehot_cb(labels, k=3):
    return np.eye(k)[:, labels]                     # (C, B), MATLAB's layout of targets


# --- the MATLAB pattern ----------------------------------------------------------------------------------

def modelLoss(net, X, T):
    Y, state = forward(net, X)
    loss = crossentropy(Y, T)
    return loss, dlgradient(loss, net.Learnables), state


def modelLoss_plain(net, X, T):                     # sct's batch-first layout, no formats
    Y, state = forward(net, X)
    loss = crossentropy(Y, T)
    return loss, dlgradient(loss, net.Learnables), state


def test_eager_predict_and_forward_of_sscb_data_equal_the_batch_first_network():
    net = image_net()
    x = RNG.standard_normal((8, 8, 1, 5))           # H, W, C, B
    Y = predict(net, dlarray(x, "SSCB"))
    Yp = predict(net, np.transpose(x, (3, 0, 1, 2)))
    assert dims(Y) == "BC" and Y.shape == (5, 3)
    assert np.array_equal(np.asarray(Y.data), np.asarray(Yp))
    Yf, state = forward(net, dlarray(x, "SSCB"))
    Yfp, statep = forward(net, np.transpose(x, (3, 0, 1, 2)))
    assert dims(Yf) == "BC" and np.array_equal(np.asarray(Yf.data), np.asarray(sct.extractdata(Yfp)))
    for a, b in zip(state.Value, statep.Value):
        assert np.array_equal(np.asarray(sct.extractdata(a)), np.asarray(sct.extractdata(b)))
    # any order of the same labels is the same data
    Yb = predict(net, dlarray(np.transpose(x, (3, 2, 0, 1)), "BCSS"))
    assert dims(Yb) == "BC" and np.array_equal(np.asarray(Yb.data), np.asarray(Yp))
    # the unformatted path is unchanged: plain in, plain out
    assert type(predict(net, np.transpose(x, (3, 0, 1, 2)))) is np.ndarray


def test_matlab_pattern_in_dlfeval_loss_gradients_and_state():
    net = image_net()
    x = RNG.standard_normal((8, 8, 1, 6))
    labels = RNG.integers(0, 3, 6)
    loss, grads, state = dlfeval(modelLoss, net, dlarray(x, "SSCB"), dlarray(onehot_cb(labels), "CB"))
    ref_loss, ref_grads, ref_state = dlfeval(modelLoss_plain, net, dlarray(np.transpose(x, (3, 0, 1, 2))),
                                             onehot_cb(labels).T)
    assert dims(loss) == "" and loss.shape == ()
    assert_close(loss.data, ref_loss.data, rtol=1e-12, atol=1e-14)
    assert grads.Parameter == net.Learnables.Parameter and grads.Layer == net.Learnables.Layer
    for g, r in zip(grads.Value, ref_grads.Value):
        assert_close(g.data, r.data, rtol=1e-12, atol=1e-14)
    for s, r in zip(state.Value, ref_state.Value):
        assert_close(s.data, r.data, rtol=1e-12, atol=1e-14)
    assert not np.allclose(state.Value[0].data, net.State.Value[0].data)   # the running mean moved
    # the loss is MATLAB's: mean over the batch of -log p(true class)
    Y = predict(net, np.transpose(x, (3, 0, 1, 2)))
    Yf, _ = forward(net, np.transpose(x, (3, 0, 1, 2)))
    assert_close(float(loss), -np.mean(np.log(sct.extractdata(Yf)[np.arange(6), labels])))
    assert Y.shape == (6, 3)


def test_learnables_gradients_against_central_differences_small_net():
    net = image_net(size=4, seed=3)
    x = RNG.standard_normal((4, 4, 1, 3))
    labels = np.array([0, 2, 1])
    loss, grads, _ = dlfeval(modelLoss, net, dlarray(x, "SSCB"), dlarray(onehot_cb(labels), "CB"))
    values = [np.array(v.data) for v in net.Learnables.Value]
    xb = np.transpose(x, (3, 0, 1, 2))

    def plain(*vals):                               # plain Python: the batch-first network, no formats
        Y, _ = forward(net.with_learnables([dlarray(v) for v in vals]), xb)
        Y = np.asarray(sct.extractdata(Y))
        return -np.mean(np.log(Y[np.arange(3), labels]))
    assert_close(float(loss), plain(*values), rtol=1e-12)
    for i, g in enumerate(grads.Value):
        assert_close(g.data, numerical_gradient(plain, values, i), rtol=1e-5, atol=1e-7,
                     what=f"{grads.Layer[i]}/{grads.Parameter[i]}")


def test_predict_inside_dlfeval_and_float32():
    net = image_net()

    def infer(net, X):
        Y = predict(net, X)
        return Y, dims(Y), np.sum(Y * Y)
    x = RNG.standard_normal((8, 8, 1, 2)).astype(np.float32)
    Y, d, s = dlfeval(infer, net, dlarray(x, "SSCB"))
    assert d == "BC" and dims(Y) == "BC" and Y.shape == (2, 3)
    ref = predict(net, np.transpose(x, (3, 0, 1, 2)))
    assert_close(Y.data, np.asarray(ref), rtol=1e-5)
    assert Y.dtype == ref.dtype


# --- featureInputLayer with "CB" --------------------------------------------------------------------------

def mlp_loss(net, X, T):
    Y, state = forward(net, X)
    loss = crossentropy(Y, T)
    return loss, dlgradient(loss, net.Learnables, X), Y


def test_feature_input_cb():
    net = dlnetwork([featureInputLayer(4), fullyConnectedLayer(5), reluLayer(), fullyConnectedLayer(3),
                     softmaxLayer()], Seed=1)
    x = RNG.standard_normal((4, 7))                  # (C, B)
    labels = RNG.integers(0, 3, 7)
    loss, (g_learn, g_x), Y = dlfeval(mlp_loss, net, dlarray(x, "CB"), dlarray(onehot_cb(labels), "CB"))
    assert dims(Y) == "BC" and Y.shape == (7, 3) and dims(g_x) == "CB" and g_x.shape == (4, 7)
    values = [np.array(v.data) for v in net.Learnables.Value]

    def plain(xcb, *vals):
        Yp = predict(net.with_learnables([dlarray(v) for v in vals]), xcb.T)
        return -np.mean(np.log(np.asarray(Yp)[np.arange(7), labels]))
    assert_close(float(loss), plain(x, *values), rtol=1e-12)
    assert_close(g_x.data, numerical_gradient(plain, [x] + values, 0), rtol=1e-5, atol=1e-8)
    for i, g in enumerate(g_learn.Value):
        assert_close(g.data, numerical_gradient(plain, [x] + values, i + 1), rtol=1e-5, atol=1e-8)
    # eager too
    assert dims(predict(net, dlarray(x, "CB"))) == "BC"
    assert_close(predict(net, dlarray(x, "CB")).data, predict(net, x.T))


# --- sequenceInputLayer + lstmLayer with "CBT" ------------------------------------------------------------

def seq_loss(net, X, T):
    Y, state = forward(net, X)
    loss = mse(Y, T)
    return loss, dlgradient(loss, net.Learnables), Y, state


@pytest.mark.parametrize("mode, tfmt", [("last", "CB"), ("sequence", "CBT")])
def test_sequence_input_lstm_cbt(mode, tfmt):
    net = dlnetwork([sequenceInputLayer(3), lstmLayer(4, OutputMode=mode)], Seed=2)
    x = RNG.standard_normal((3, 2, 5))               # (C, B, T), MATLAB's layout
    t = RNG.standard_normal((4, 2) if mode == "last" else (4, 2, 5))
    loss, grads, Y, state = dlfeval(seq_loss, net, dlarray(x, "CBT"), dlarray(t, tfmt))
    out = "BC" if mode == "last" else "BTC"
    assert dims(Y) == out
    xb = np.transpose(x, (1, 2, 0))                  # (B, T, C)
    tb = t.T if mode == "last" else np.transpose(t, (1, 2, 0))
    Yp, statep = forward(net, xb)
    assert_close(Y.data, np.asarray(sct.extractdata(Yp)), rtol=1e-12)
    for s, r in zip(state.Value, statep.Value):
        assert_close(s.data, np.asarray(sct.extractdata(r)), rtol=1e-12)
    values = [np.array(v.data) for v in net.Learnables.Value]

    def plain(*vals):
        Yq, _ = forward(net.with_learnables([dlarray(v) for v in vals]), xb)
        d = np.asarray(sct.extractdata(Yq)) - tb
        return np.sum(d * d) / (2 * 2)                # MATLAB's mse: half the sum over N = 2 observations
    assert_close(float(loss), plain(*values), rtol=1e-12)
    for i, g in enumerate(grads.Value):
        assert_close(g.data, numerical_gradient(plain, values, i), rtol=1e-5, atol=1e-8)


# --- losses and operators align the second operand by its labels ------------------------------------------

def losses(Y, T):
    d = Y - T
    s = T + Y
    return (crossentropy(Y, T), mse(Y, T), l2loss(Y, T), huber(Y, T, TransitionPoint=0.5), l1loss(Y, T),
            np.sum(d * d) + np.sum(s), d, np.maximum(Y, T))


def loss_sum(Y, T):
    d = Y - T
    s = T + Y
    total = crossentropy(Y, T) + mse(Y, T) + l2loss(Y, T) + huber(Y, T, TransitionPoint=0.5) + l1loss(Y, T)
    total = total + np.sum(d * d) + np.sum(s) + np.sum(np.maximum(Y, T))
    return total, dlgradient(total, Y, T)


def reference(y, t):                                   # y (B, C), t (B, C): batch-first, plain numpy
    d = y - t
    a = np.abs(d)
    hub = np.where(a <= 0.5, 0.5 * d * d, 0.5 * a - 0.125)
    B = y.shape[0]
    return (-np.sum(t * np.log(y)) / B, np.sum(d * d) / (2 * B), np.sum(d * d) / B, np.sum(hub) / B,
            np.sum(a) / B, np.sum(d * d) + np.sum(t + y), d, np.maximum(y, t))


def test_losses_and_operators_align_targets_eagerly_and_in_dlfeval():
    y = RNG.uniform(0.1, 0.9, (4, 3))                 # (B, C)
    t = RNG.uniform(0.0, 1.0, (4, 3))
    Y, T = dlarray(y, "BC"), dlarray(t.T, "CB")
    ref = reference(y, t)
    for out in (losses(Y, T), dlfeval(losses, Y, T)):
        for k in range(6):
            assert dims(out[k]) == "" and out[k].shape == ()
            assert_close(float(out[k]), ref[k], rtol=1e-12, atol=1e-14)
        assert dims(out[6]) == "BC" and dims(out[7]) == "BC"
        assert_close(out[6].data, ref[6])
        assert_close(out[7].data, ref[7])
    total, (gy, gt) = dlfeval(loss_sum, Y, T)
    assert dims(gy) == "BC" and dims(gt) == "CB" and gt.shape == (3, 4)

    def plain(y, tcb):
        a, b, c, d, e, f, _, m = reference(y, tcb.T)
        return a + b + c + d + e + f + np.sum(m)
    tcb = np.ascontiguousarray(t.T)
    assert_close(float(total), plain(y, tcb), rtol=1e-12)
    assert_close(gy.data, numerical_gradient(plain, [y, tcb], 0), rtol=1e-5, atol=1e-7)
    assert_close(gt.data, numerical_gradient(plain, [y, tcb], 1), rtol=1e-5, atol=1e-7)


def image_mse(Y, T, M):
    return mse(Y, T), l2loss(Y, T, Mask=M), Y * T


def test_repeated_labels_keep_their_order_and_masks_align():
    y = RNG.standard_normal((2, 3, 4, 5))             # B S S C
    t = RNG.standard_normal((2, 3, 4, 5))
    m = (RNG.uniform(size=(2, 3, 4, 5)) > 0.3).astype(float)
    tt = np.transpose(t, (1, 2, 3, 0))                # S S C B: the S axes in the same order
    mm = np.transpose(m, (3, 1, 0, 2))                # C S B S
    for out in (image_mse(dlarray(y, "BSSC"), dlarray(tt, "SSCB"), dlarray(mm, "CSBS")),
                dlfeval(image_mse, dlarray(y, "BSSC"), dlarray(tt, "SSCB"), dlarray(mm, "CSBS"))):
        assert_close(float(out[0]), np.sum((y - t) ** 2) / 4, rtol=1e-12)
        assert_close(float(out[1]), np.sum(m * (y - t) ** 2) / 2, rtol=1e-12)
        assert dims(out[2]) == "BSSC"
        assert_close(out[2].data, y * t)


# --- the cache: another network structure compiles anew ---------------------------------------------------

def outputs(net, X):
    Y = predict(net, X)
    return Y, dims(Y)


def test_another_network_structure_compiles_anew():
    seq = dlnetwork([sequenceInputLayer(3), lstmLayer(4)], Seed=0)
    last = dlnetwork([sequenceInputLayer(3), lstmLayer(4, OutputMode="last")], Seed=0)
    assert kind_of(seq.Learnables) == kind_of(last.Learnables)        # the same learnables...
    assert kind_of(seq) != kind_of(last)                              # ...but not the same kind
    assert kind_of(seq) == kind_of(dlnetwork([sequenceInputLayer(3), lstmLayer(4)], Seed=5))
    x = dlarray(RNG.standard_normal((3, 2, 5)), "CBT")
    Y1, d1 = dlfeval(outputs, seq, x)
    Y2, d2 = dlfeval(outputs, last, x)
    assert (d1, dims(Y1), Y1.shape) == ("BTC", "BTC", (2, 5, 4))
    assert (d2, dims(Y2), Y2.shape) == ("BC", "BC", (2, 4))
    assert_close(Y2.data, Y1.data[:, -1, :], rtol=1e-12)
    Y3, d3 = dlfeval(outputs, seq, x)                                 # and back
    assert d3 == "BTC" and np.array_equal(Y3.data, Y1.data)


# --- refusals --------------------------------------------------------------------------------------------

def mix(a, b):
    return a + b


def made_inside(X):
    net = dlnetwork([featureInputLayer(2), fullyConnectedLayer(2)], Seed=0)
    return predict(net, X)


def two_inputs(net, a, b):
    return predict(net, a, b)


def unformatted_predictions(y, t):
    return crossentropy(y, t)


def test_refusals():
    with pytest.raises(ValueError, match="'CB' and 'CU' have different labels"):
        dlarray(np.ones((3, 2)), "CB") - dlarray(np.ones((3, 2)), "CU")
    with pytest.raises(CompileError, match="'CB' and 'CU' have different labels") as info:
        dlfeval(mix, dlarray(np.ones((3, 2)), "CB"), dlarray(np.ones((3, 2)), "CU"))
    assert info.value.lineno == mix.__code__.co_firstlineno + 1
    with pytest.raises(ValueError, match="'CB' and 'CT' have different labels"):
        crossentropy(dlarray(np.full((3, 2), 0.5), "CB"), dlarray(np.ones((3, 2)), "CT"))
    # labels that are not the input layer's
    net = image_net()
    with pytest.raises(ValueError, match="takes data with the labels 'BSSC'"):
        predict(net, dlarray(np.ones((8, 8, 1)), "SSC"))
    with pytest.raises(CompileError, match="takes data with the labels 'BSSC'"):
        dlfeval(outputs, net, dlarray(np.ones((8, 8, 2)), "SCB"))
    # a network made inside the function: its layers are not part of the compiled function's kind
    with pytest.raises(CompileError, match="pass the initialized dlnetwork as an argument") as info:
        dlfeval(made_inside, dlarray(np.ones((2, 3)), "CB"))
    assert info.value.lineno == made_inside.__code__.co_firstlineno + 2
    # some inputs formatted, some not
    two = dlnetwork([featureInputLayer(2, Name="a"), featureInputLayer(2, Name="b"), sct.additionLayer(2, Name="add")],
                    Connections=[("a", "add/in1"), ("b", "add/in2")], Seed=0)
    with pytest.raises(ValueError, match="some inputs are formatted"):
        predict(two, dlarray(np.ones((2, 3)), "CB"), np.ones((3, 2)))
    with pytest.raises(CompileError, match="some inputs are formatted"):
        dlfeval(two_inputs, two, dlarray(np.ones((2, 3)), "CB"), dlarray(np.ones((3, 2))))
    Y = predict(two, dlarray(np.ones((2, 3)), "CB"), dlarray(2 * np.ones((3, 2)), "BC"))
    assert dims(Y) == "BC" and np.array_equal(Y.data, 3 * np.ones((3, 2)))
    # formatted targets for unformatted predictions: which axis is which is not known
    with pytest.raises(ValueError, match="predictions are unformatted"):
        crossentropy(np.full((2, 3), 0.5), dlarray(np.ones((3, 2)), "CB"))
    with pytest.raises(CompileError, match="predictions are unformatted"):
        dlfeval(unformatted_predictions, dlarray(np.full((2, 3), 0.5)), dlarray(np.ones((3, 2)), "CB"))
    # the regression losses divide by the batch size, the size of B (MATLAB's "CB" data: 2 observations)
    assert float(l1loss(dlarray(np.ones((3, 2)), "CB"), dlarray(np.zeros((3, 2)), "CB"))) == 3.0


def custom_net_loss(net, X):
    Y = predict(net, X)
    return Y


class Scale(sct.Layer):
    def __init__(self, Name="scale"):
        self.Name = Name

    def predict(self, X):
        return 2 * X


def test_custom_layers_give_unformatted_outputs():
    # (dec 27: a custom layer of one output gives its output its input's format, as MATLAB does for a layer
    # that is not Formattable, so the fully connected layer after it gives "BC"; was unformatted)
    net = dlnetwork([featureInputLayer(3), Scale(), fullyConnectedLayer(2)], Seed=0)
    x = RNG.standard_normal((3, 4))
    Y = predict(net, dlarray(x, "CB"))
    Z = dlfeval(custom_net_loss, net, dlarray(x, "CB"))
    assert dims(Y) == "BC" and dims(Z) == "BC"
    assert_close(Y.data, np.asarray(predict(net, x.T)))
    assert_close(Z.data, Y.data)


def stripped(net, X):
    return predict(net, stripdims(X))


def test_stripdims_input_is_the_unformatted_path():
    net = dlnetwork([featureInputLayer(3), fullyConnectedLayer(2)], Seed=0)
    x = RNG.standard_normal((4, 3))
    Y = dlfeval(stripped, net, dlarray(x, "BC"))
    assert dims(Y) == ""
    assert_close(Y.data, np.asarray(predict(net, x)))


# --- the network reached through containers, loops, in-place updates, second derivatives ------------------

@dataclasses.dataclass
class Model:
    net: object
    scale: float


def loss_from_dict(p, X, T):
    Y = predict(p["net"], X)
    loss = np.sum((Y - T) ** 2)
    return loss, dlgradient(loss, p["net"].Learnables)


def loss_from_dataclass(m, X, T):
    Y = predict(m.net, X)
    loss = m.scale * np.sum((Y - T) ** 2)
    return loss, dlgradient(loss, m.net.Learnables)


def loss_in_loop(net, X, T):
    loss = 0.0
    for _ in range(2):
        Y = predict(net, X)
        D = Y - T
        D += T                      # in place: keeps D's labels, T aligned
        D -= T
        loss = loss + np.sum(D * D) / 2
    return loss, dlgradient(loss, net.Learnables)


def test_network_in_containers_loops_and_inplace_updates():
    net = dlnetwork([featureInputLayer(3), fullyConnectedLayer(4), reluLayer(), fullyConnectedLayer(3)], Seed=0)
    x = RNG.standard_normal((3, 3))                  # square: a misaligned T would not raise
    t = RNG.standard_normal((3, 3))                  # (C, B)
    X, T = dlarray(x, "CB"), dlarray(t, "CB")
    ref = float(np.sum((np.asarray(predict(net, x.T)) - t.T) ** 2))
    first = None
    for fun, arg in ((loss_from_dict, {"net": net}), (loss_from_dataclass, Model(net, 1.0)), (loss_in_loop, net)):
        loss, grads = dlfeval(fun, arg, X, T)
        assert_close(float(loss), ref, rtol=1e-12)
        first = first or grads
        for g, h in zip(grads.Value, first.Value):
            assert_close(g.data, h.data, rtol=1e-12)
    values = [np.array(v.data) for v in net.Learnables.Value]

    def plain(*vals):
        Y = np.asarray(predict(net.with_learnables([dlarray(v) for v in vals]), x.T))
        return np.sum((Y - t.T) ** 2)
    for i, g in enumerate(first.Value):
        assert_close(g.data, numerical_gradient(plain, values, i), rtol=1e-5, atol=1e-8)
    D = dlarray(t.T.copy(), "BC")                  # eagerly too
    D += T
    assert dims(D) == "BC"
    assert_close(D.data, 2 * t.T)


def input_gradient_penalty(net, X):
    Y = predict(net, X)
    g = dlgradient(np.sum(np.tanh(Y)), X)
    h = np.sum(g * g)
    return h, dlgradient(h, X), g


def test_second_derivatives_with_respect_to_a_formatted_network_input():
    net = dlnetwork([featureInputLayer(2), fullyConnectedLayer(5), sct.tanhLayer(), fullyConnectedLayer(2)],
                    Seed=4)
    x = RNG.standard_normal((2, 3))                  # (C, B)
    h, gh, g = dlfeval(input_gradient_penalty, net, dlarray(x, "CB"))
    assert dims(g) == "CB" and dims(gh) == "CB"
    h2, gh2, g2 = dlfeval(input_gradient_penalty, net, dlarray(np.ascontiguousarray(x.T), "BC"))
    assert_close(float(h), float(h2), rtol=1e-12)
    assert_close(gh.data, gh2.data.T, rtol=1e-12)

    def penalty(xcb):
        g = np.zeros_like(xcb)
        for k in range(xcb.size):
            e = np.zeros(xcb.size)
            e[k] = 1e-6
            e = e.reshape(xcb.shape)
            up = np.sum(np.tanh(np.asarray(predict(net, (xcb + e).T))))
            down = np.sum(np.tanh(np.asarray(predict(net, (xcb - e).T))))
            g.flat[k] = (up - down) / 2e-6
        return np.sum(g * g)
    assert_close(float(h), penalty(x), rtol=1e-6)
    assert_close(gh.data, numerical_gradient(penalty, [x], 0, step=1e-4), rtol=1e-3, atol=1e-5)


def test_non_square_images_keep_the_order_of_their_spatial_axes():
    net = dlnetwork([imageInputLayer((5, 4, 2), Normalization="none"), convolution2dLayer((3, 2), 3),
                     fullyConnectedLayer(2)], Seed=6)
    x = RNG.standard_normal((5, 4, 2, 3))            # H=5, W=4, C, B
    ref = np.asarray(predict(net, np.transpose(x, (3, 0, 1, 2))))
    for perm, fmt in (((0, 1, 2, 3), "SSCB"), ((3, 2, 0, 1), "BCSS"), ((2, 0, 3, 1), "CSBS")):
        Y = predict(net, dlarray(np.transpose(x, perm), fmt))
        assert dims(Y) == "BC"
        assert_close(Y.data, ref, rtol=1e-12)
        Z = dlfeval(outputs, net, dlarray(np.transpose(x, perm), fmt))[0]
        assert_close(Z.data, ref, rtol=1e-12)
    with pytest.raises(ValueError):                  # W and H swapped: the first S is the height
        predict(net, dlarray(np.transpose(x, (1, 0, 2, 3)), "SSCB"))
