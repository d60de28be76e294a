"""adamupdate of a dlnetwork in a training loop reads the parameters and states the last step returned
(views of one flat array each) without copying them (runtime/optim._joined), with the same numbers as
leaf by leaf, and never writes into what it was given (a network kept from an earlier step keeps its
values)."""
import numpy as np

import sct.runtime.optim as optim
from sct import adamupdate, dlarray, dlfeval, dlgradient, dlnetwork, featureInputLayer, forward, \
    fullyConnectedLayer, reluLayer, softmaxLayer, crossentropy


def model_loss(net, X, T):
    Y, _ = forward(net, X)
    loss = crossentropy(Y, T)
    return loss, dlgradient(loss, net.Learnables)


def _setup(dtype=np.float32):
    rng = np.random.default_rng(0)
    net = dlnetwork([featureInputLayer(6), fullyConnectedLayer(5), reluLayer(), fullyConnectedLayer(3),
                     softmaxLayer()], Seed=0)
    net = net.with_learnables([dlarray(np.asarray(v.data, dtype)) for v in net.Learnables.Value])
    X = dlarray(rng.standard_normal((8, 6)).astype(dtype))
    T = dlarray(np.eye(3, dtype=dtype)[rng.integers(0, 3, 8)])
    return net, X, T


def _reference(values, grads_seq, lr=0.001, b1=0.9, b2=0.999, eps=1e-8):
    """Adam leaf by leaf in numpy, the operations of adamupdate in its order."""
    p = [v.copy() for v in values]
    m = [np.zeros_like(v) for v in values]
    s = [np.zeros_like(v) for v in values]
    for t, grads in enumerate(grads_seq, 1):
        rate = float(lr * np.sqrt(1 - b2 ** t) / (1 - b1 ** t))
        for k, g in enumerate(grads):
            m[k] = b1 * m[k] + (1 - b1) * g
            s[k] = b2 * s[k] + (1 - b2) * (g * g)
            p[k] = p[k] - rate * m[k] / (np.sqrt(s[k]) + eps)
    return p


def test_flat_steps_match_leaf_by_leaf_and_keep_old_networks():
    net, X, T = _setup()
    first = [v.data.copy() for v in net.Learnables.Value]
    kept = net
    avg = avg_sq = None
    joined = []
    original = optim._joined

    def spy(leaves):
        out = original(leaves)
        joined.append(any(out is leaf.base for leaf in leaves[:1]))
        return out

    grads_seq = []
    optim._joined = spy
    try:
        for it in range(1, 5):
            loss, grads = dlfeval(model_loss, net, X, T)
            grads_seq.append([np.asarray(g.data).copy() for g in grads.Value])
            net, avg, avg_sq = adamupdate(net, grads, avg, avg_sq, it)
    finally:
        optim._joined = original
    assert any(joined)                 # the later steps read the last step's arrays without a copy
    for a, b in zip(kept.Learnables.Value, first):
        np.testing.assert_array_equal(a.data, b)      # the network given to the first step is unchanged
    for got, want in zip(net.Learnables.Value, _reference(first, grads_seq)):
        assert got.data.dtype == np.float32
        np.testing.assert_allclose(got.data, want, rtol=1e-6, atol=1e-7)


def test_a_parameter_changed_in_place_between_steps_is_read():
    net, X, T = _setup(np.float64)
    avg = avg_sq = None
    for it in (1, 2):
        loss, grads = dlfeval(model_loss, net, X, T)
        net, avg, avg_sq = adamupdate(net, grads, avg, avg_sq, it)
    net.Learnables.Value[0].data[...] = 0.25          # a view of the flat array the step returned
    before = [v.data.copy() for v in net.Learnables.Value]
    m_before = [v.data.copy() for v in avg.Value]
    s_before = [v.data.copy() for v in avg_sq.Value]
    loss, grads = dlfeval(model_loss, net, X, T)
    new, avg2, avg_sq2 = adamupdate(net, grads, avg, avg_sq, 3)
    rate = float(0.001 * np.sqrt(1 - 0.999 ** 3) / (1 - 0.9 ** 3))
    for k, g in enumerate(grads.Value):
        g = np.asarray(g.data)
        m = 0.9 * m_before[k] + 0.1 * g
        s = 0.999 * s_before[k] + (1 - 0.999) * (g * g)
        np.testing.assert_allclose(new.Learnables.Value[k].data, before[k] - rate * m / (np.sqrt(s) + 1e-8),
                                   rtol=1e-12, atol=1e-15)
        np.testing.assert_array_equal(net.Learnables.Value[k].data, before[k])   # not written into
        np.testing.assert_array_equal(avg.Value[k].data, m_before[k])
