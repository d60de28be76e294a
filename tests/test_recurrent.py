"""lstm, gru and embed: first and second derivatives (MATLAB has no second derivatives through them)."""
import numpy as np
import pytest

from sct import attention, dlarray, dlfeval, dlgradient, embed, extractdata, gru, lstm
from gradcheck import assert_close, check_grads, numerical_gradient

rng = np.random.default_rng(7)
B, T, C, H = 2, 3, 3, 2
X = rng.standard_normal((B, T, C)) * 0.5
H0 = rng.standard_normal((B, H)) * 0.3
C0 = rng.standard_normal((B, H)) * 0.3


def lstm_loss(weights, recurrent, bias):
    y, h, c = lstm(X, H0, C0, weights, recurrent, bias)
    return np.sum(y ** 2) + np.sum(h * c)


def gru_loss(weights, recurrent, bias):
    y, h = gru(X, H0, weights, recurrent, bias)
    return np.sum(y ** 2) + np.sum(h)


def embed_loss(weights):
    return np.sum(np.tanh(embed(np.array([[0, 2], [2, 1]]), weights)) ** 2)


def lstm_reference_step(x, h, c, w, r, b):
    z = x @ w.T + h @ r.T + b
    sig = lambda v: 1 / (1 + np.exp(-v))  # noqa: E731
    i, f, g, o = sig(z[:, :H]), sig(z[:, H:2 * H]), np.tanh(z[:, 2 * H:3 * H]), sig(z[:, 3 * H:])
    c = f * c + i * g
    return o * np.tanh(c), c


def test_lstm_matches_the_equations():
    w, r, b = (rng.standard_normal(s) * 0.4 for s in ((4 * H, C), (4 * H, H), (4 * H,)))
    y, h, c = lstm(X, H0, C0, w, r, b)
    hh, cc = H0, C0
    for t in range(T):
        hh, cc = lstm_reference_step(X[:, t], hh, cc, w, r, b)
        np.testing.assert_allclose(y[:, t], hh)
    np.testing.assert_allclose(h, hh)
    np.testing.assert_allclose(c, cc)


def test_first_derivatives():
    w, r, b = (rng.standard_normal(s) * 0.4 for s in ((4 * H, C), (4 * H, H), (4 * H,)))
    check_grads(lstm_loss, w, r, b, rtol=1e-4)
    w, r, b = (rng.standard_normal(s) * 0.4 for s in ((3 * H, C), (3 * H, H), (3 * H,)))
    check_grads(gru_loss, w, r, b, rtol=1e-4)
    check_grads(embed_loss, rng.standard_normal((3, 4)))


def hvp_lstm(w, r, b, v):
    loss = lstm_loss(w, r, b)
    g = dlgradient(loss, w)
    return dlgradient(np.sum(g * v), w)


def hvp_gru(w, r, b, v):
    loss = gru_loss(w, r, b)
    g = dlgradient(loss, w)
    return dlgradient(np.sum(g * v), w)


def hvp_embed(w, v):
    loss = embed_loss(w)
    g = dlgradient(loss, w)
    return dlgradient(np.sum(g * v), w)


@pytest.mark.parametrize("hvp, loss, gates", [(hvp_lstm, lstm_loss, 4), (hvp_gru, gru_loss, 3)])
def test_second_derivatives_through_recurrent_layers(hvp, loss, gates):
    w, r, b = (rng.standard_normal(s) * 0.4 for s in ((gates * H, C), (gates * H, H), (gates * H,)))
    v = rng.standard_normal(w.shape)
    got = extractdata(dlfeval(hvp, dlarray(w), r, b, v))

    def directional(w):
        return np.sum(numerical_gradient(lambda w: loss(w, r, b), [w], 0, step=1e-5) * v)
    assert_close(got, numerical_gradient(directional, [w], 0, step=1e-4), rtol=1e-3, atol=1e-5)


def test_second_derivative_through_embed():
    w = rng.standard_normal((4, 3))             # MATLAB's embeddingDimension-by-numWords: 3 words
    v = rng.standard_normal(w.shape)
    got = extractdata(dlfeval(hvp_embed, dlarray(w), v))

    def directional(w):
        return np.sum(numerical_gradient(embed_loss, [w], 0, step=1e-5) * v)
    assert_close(got, numerical_gradient(directional, [w], 0, step=1e-4), rtol=1e-3, atol=1e-5)


def attention_loss(q, k, v):
    out, weights = attention(q, k, v, 2)
    return np.sum(out ** 2) + np.sum(weights[:, 0] ** 2)


def test_attention_values_and_derivatives():
    from sct import attention as _  # noqa: F401  (exported)
    q, k, v = (rng.standard_normal((2, 3, 4)) * 0.5 for _ in range(3))
    out, weights = attention(q, k, v, 2)
    np.testing.assert_allclose(weights.sum(axis=-1), 1.0)
    scores = q[0, :, :2] @ k[0, :, :2].T / np.sqrt(2)
    expected = np.exp(scores) / np.exp(scores).sum(axis=1, keepdims=True) @ v[0, :, :2]
    np.testing.assert_allclose(out[0, :, :2], expected)
    check_grads(attention_loss, q, k, v, rtol=1e-4)


def hvp_attention(q, k, v, direction):
    loss = attention_loss(q, k, v)
    g = dlgradient(loss, q)
    return dlgradient(np.sum(g * direction), q)


def test_second_derivative_through_attention():
    q, k, v = (rng.standard_normal((1, 2, 4)) * 0.5 for _ in range(3))
    direction = rng.standard_normal(q.shape)
    got = extractdata(dlfeval(hvp_attention, dlarray(q), k, v, direction))

    def directional(q):
        return np.sum(numerical_gradient(lambda q: attention_loss(q, k, v), [q], 0, step=1e-5) * direction)
    assert_close(got, numerical_gradient(directional, [q], 0, step=1e-4), rtol=1e-3, atol=1e-5)
