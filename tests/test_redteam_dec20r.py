"""Red team dec20 (R): MATLAB documentation scenarios checked against numpy references written here;
gradients against central differences (tests/gradcheck.py)."""
import numpy as np
import pytest

from sct import attention, dlarray, dlfeval, dlgradient, dims, extractdata, stripdims
from tests.gradcheck import assert_close, numerical_gradient

rng = np.random.default_rng(2020)


def _softmax(z):
    e = np.exp(z - z.max(-1, keepdims=True))
    return e / e.sum(-1, keepdims=True)


def ref_attention(q, k, v, heads, scale=None, causal=False):
    """MATLAB's attention in sct's layout (batch, time, channels): the channels of the queries/keys and
    of the values split into ``heads`` contiguous blocks; the values may have their own channel count."""
    b, tq, ck = q.shape
    s = k.shape[1]
    dk, dv = ck // heads, v.shape[2] // heads
    y = np.zeros((b, tq, v.shape[2]))
    w = np.zeros((b, heads, tq, s))
    for h in range(heads):
        sc = q[:, :, h * dk:(h + 1) * dk] @ np.swapaxes(k[:, :, h * dk:(h + 1) * dk], 1, 2)
        sc = sc * (1 / np.sqrt(dk) if scale is None else scale)
        if causal:
            sc = np.where(np.tril(np.ones((tq, s))) > 0, sc, -np.inf)
        w[:, h] = _softmax(sc)
        y[:, :, h * dv:(h + 1) * dv] = w[:, h] @ v[:, :, h * dv:(h + 1) * dv]
    return y, w


Q = rng.standard_normal((2, 3, 4))
KEYS = rng.standard_normal((2, 5, 4))
VALUES = rng.standard_normal((2, 5, 6))          # 6 value channels, 4 query/key channels (MATLAB's NumValueChannels)
WY = rng.standard_normal((2, 3, 6))


def attention_loss(q, k, v):
    y, a = attention(q, k, v, 2)
    return np.sum(y * WY) + np.sum(a * a)


def ref_attention_loss(q, k, v):
    y, a = ref_attention(q, k, v, 2)
    return np.sum(y * WY) + np.sum(a * a)


def attention_first(q, k, v):
    loss = attention_loss(q, k, v)
    return loss, dlgradient(loss, q, k, v)


def attention_second(q, k, v, dirs):
    loss = attention_loss(q, k, v)
    gq, gk, gv = dlgradient(loss, q, k, v, EnableHigherDerivatives=True)
    z = np.sum(gq * dirs[0]) + np.sum(gk * dirs[1]) + np.sum(gv * dirs[2])
    return z, dlgradient(z, q, k, v)


def test_attention_values_with_their_own_channel_count_eager():
    # was: "cannot reshape array of size 60 into shape (2,5,2,2)"
    y, a = attention(Q, KEYS, VALUES, 2)
    y_ref, a_ref = ref_attention(Q, KEYS, VALUES, 2)
    assert_close(y, y_ref, rtol=1e-12, atol=1e-12, what="Y")
    assert_close(a, a_ref, rtol=1e-12, atol=1e-12, what="weights")
    y, _ = attention(Q, KEYS[:, :3], VALUES[:, :3], 2, AttentionMask="causal", Scale=0.3)
    assert_close(y, ref_attention(Q, KEYS[:, :3], VALUES[:, :3], 2, scale=0.3, causal=True)[0], rtol=1e-12,
                 atol=1e-12, what="Y causal")


def test_attention_values_with_their_own_channel_count_gradients():
    loss, grads = dlfeval(attention_first, dlarray(Q), dlarray(KEYS), dlarray(VALUES))
    assert_close(extractdata(loss), ref_attention_loss(Q, KEYS, VALUES), rtol=1e-12, what="loss")
    for i, g in enumerate(grads):
        expected = numerical_gradient(ref_attention_loss, [Q.copy(), KEYS.copy(), VALUES.copy()], i)
        assert_close(extractdata(g), expected, what=f"d/darg{i}")


def test_attention_values_with_their_own_channel_count_second_order():
    dirs = [rng.standard_normal(a.shape) for a in (Q, KEYS, VALUES)]
    _, grads = dlfeval(attention_second, dlarray(Q), dlarray(KEYS), dlarray(VALUES), dirs)

    def z_of(q, k, v):
        _, gs = dlfeval(attention_first, dlarray(q), dlarray(k), dlarray(v))
        return sum(np.sum(extractdata(g) * d) for g, d in zip(gs, dirs))
    for i, g in enumerate(grads):
        expected = numerical_gradient(z_of, [Q.copy(), KEYS.copy(), VALUES.copy()], i)
        assert_close(extractdata(g), expected, rtol=1e-4, atol=1e-5, what=f"d2/darg{i}")


def formatted_attention_loss(q, k, v):
    y, _ = attention(q, k, v, 2)
    loss = np.sum(stripdims(y) * np.transpose(WY, (2, 0, 1)))
    return loss, dlgradient(loss, v), dims(y), y.shape


def test_attention_values_with_their_own_channel_count_formatted_cbt():
    t = lambda a: np.transpose(a, (2, 0, 1)).copy()          # (batch, time, C) -> MATLAB's (C, batch, time)
    y = attention(dlarray(t(Q), "CBT"), dlarray(t(KEYS), "CBT"), dlarray(t(VALUES), "CBT"), 2, nargout=2)[0]
    assert dims(y) == "CBT" and y.shape == (6, 2, 3)
    assert_close(extractdata(y), t(ref_attention(Q, KEYS, VALUES, 2)[0]), rtol=1e-12, atol=1e-12, what="Y CBT")
    loss, gv, fmt, shape = dlfeval(formatted_attention_loss, dlarray(t(Q), "CBT"), dlarray(t(KEYS), "CBT"),
                                   dlarray(t(VALUES), "CBT"))
    assert fmt == "CBT" and shape == (6, 2, 3)
    expected = numerical_gradient(lambda v: np.sum(ref_attention(Q, KEYS, np.transpose(v, (1, 2, 0)), 2)[0] * WY),
                                  [t(VALUES)], 0)
    assert_close(extractdata(gv), expected, what="d/dvalues CBT")


@pytest.mark.parametrize("q, k, v, heads, match", [
    (Q, KEYS[:, :, :2], VALUES, 2, "same number"),
    (Q, KEYS, VALUES[:, :4], 2, "one batch size"),
    (Q, KEYS, VALUES[:, :, :5], 2, "split evenly"),
    (Q, KEYS, VALUES, 3, "split evenly"),
])
def test_attention_sizes_refused_by_name(q, k, v, heads, match):
    with pytest.raises(ValueError, match=match):
        attention(q, k, v, heads)


# --- embeddingLayer with given Weights: MATLAB's (dimension, numWords) checked (sct's layout since red team mat51) ----

from sct import dlnetwork, embeddingLayer, embed, forward, predict, sequenceInputLayer  # noqa: E402


def test_embedding_layer_given_weights_in_the_transposed_layout_refused():
    # weights one row per word (numWords, dimension): refused, naming MATLAB's layout (was sct's layout)
    w_rows = np.arange(12.0).reshape(3, 4)             # 3 words, dimension 4: the transpose of MATLAB's
    with pytest.raises(ValueError, match=r"one row per word.*embeddingDimension-by-numWords.*Weights\.T"):
        dlnetwork([sequenceInputLayer(1), embeddingLayer(4, 3, Weights=w_rows)])
    with pytest.raises(ValueError, match=r"Weights has shape \(4, 5\), the input needs \(4, 3\)"):
        dlnetwork([sequenceInputLayer(1), embeddingLayer(4, 3, Weights=np.ones((4, 5)))])


def embedding_loss(net, idx):
    y, _ = forward(net, idx)
    loss = np.sum(np.sin(y))
    return loss, dlgradient(loss, net.Learnables)


def test_embedding_layer_given_weights_values_and_gradient():
    w = np.arange(12.0).reshape(4, 3) / 10.0            # MATLAB's (dimension 4, numWords 3)
    net = dlnetwork([sequenceInputLayer(1), embeddingLayer(4, 3, Weights=w)])
    idx = np.array([[0, 2, 2], [1, 0, 2]])
    assert_close(extractdata(predict(net, idx)), w.T[idx], rtol=1e-12, atol=1e-12, what="embedding values")
    _, grads = dlfeval(embedding_loss, net, idx)
    expected = numerical_gradient(lambda ww: np.sum(np.sin(ww.T[idx])), [w.copy()], 0)
    assert_close(extractdata(grads.Value[0]), expected, what="d/dWeights")
    assert_close(embed(idx, w), w.T[idx], rtol=1e-12, atol=1e-12, what="embed")
