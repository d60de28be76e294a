"""sct's deep-learning functions without a rule of their own (layernorm, batchnorm, maxpool, l2loss, lstm, ...)
return new arrays: declared once in the runtime (``runtime/registry.py`` ``new_results``, next to the
functions) and read by the aliasing analysis, so a write into such a result in place is accepted as Python
runs it (red team red54o F1: ``loss = l2loss(y, t); loss += reg`` and ``h = layernorm(x, o, s); h += x``
were refused, "t is an argument ... and would change too", though Python changes nothing but the result).

Each declared function is checked here over its argument forms (formatted data, nargout, edge cases: dropout
with p=0 or not training, maxpool with pool size 1, embed of one index, recurrent layers over no time step):
no result shares memory with an argument or with another result -- a wrong declaration would make a silent
wrong value and gradient.  Each program once refused gives Python's value and the finite-difference
gradient, and leaves the caller's arrays as they were.
"""
import itertools
import types

import numpy as np
import pytest

import sct
from sct import (attention, batchnorm, dlarray, dlfeval, dlgradient, dlmtimes, dropout, embed, groupnorm, gru, huber,
                 indexcrossentropy, instancenorm, l1loss, l2loss, layernorm, lstm, maxpool, pagemtimes, softmax)
from sct.runtime import dlfun, nn, registry

from gradcheck import numerical_gradient

DECLARED = {"maxpool", "batchnorm", "layernorm", "instancenorm", "groupnorm", "dropout", "l1loss", "l2loss", "huber",
            "indexcrossentropy", "pagemtimes", "dlmtimes", "lstm", "gru", "embed", "attention"}
# ops with a rule of their own declared new too (red55u F1: a loss helper ``return mse(fullyconnect(x, p["W"],
# p["b"]), t)`` read as holding nothing of p): checked over their forms below like the others
RULED = {"relu", "sigmoid", "softmax", "fullyconnect", "mse", "crossentropy"}


def test_declared_functions():
    """The public deep-learning functions declared new are these (each checked below), none with a rule."""
    found = {n for m in (dlfun, nn) for n in m.__all__ if registry.has_new_results(getattr(m, n))}
    assert found == DECLARED | RULED
    assert not any(registry.lookup(getattr(dlfun, n, None) or getattr(nn, n)) for n in DECLARED)


# --- the runtime fact: no result shares memory with an argument or with another result ------------------

_r = np.random.default_rng(0)


def U(*shape):
    return _r.uniform(-1, 1, shape)


def _arrays(v, out):
    if isinstance(v, dlarray):
        out.append(v._data)
    elif isinstance(v, np.ndarray):
        out.append(v)
    elif isinstance(v, (tuple, list)):
        for i in v:
            _arrays(i, out)
    elif isinstance(v, dict):
        for i in v.values():
            _arrays(i, out)
    return out


def _objects(v, out):
    out.append(v)
    if isinstance(v, (tuple, list)):
        for i in v:
            _objects(i, out)
    return out


def _shared(fn, args, kwargs):
    """What the result of ``fn(*args, **kwargs)`` shares with its arguments, between its items, or with the
    result of a second call (a cache handing the same array out)."""
    given = _arrays([args, kwargs], [])
    given_objects = [o for o in _objects(list(args) + list(kwargs.values()), [])
                     if not isinstance(o, (int, float, str, bool, type(None)))]
    result = fn(*args, **kwargs)
    outs = _arrays(result, [])
    found = []
    for o in _objects(result, []):
        if not isinstance(o, (int, float, str, bool, type(None))) and any(o is g for g in given_objects):
            found.append("an argument itself")
    for i, o in enumerate(outs):
        found += [f"result {i} shares an argument" for g in given if np.shares_memory(o, g)]
        found += [f"results {j} and {i} share" for j in range(i) if o.size and np.shares_memory(o, outs[j])]
    again = _arrays(fn(*args, **kwargs), [])
    found += ["two calls share" for o in outs for o2 in again if o.size and np.shares_memory(o, o2)]
    return found


def _forms():
    X4, X3, X2 = U(2, 4, 4, 3), U(2, 5, 3), U(4, 3)
    o3, s3 = U(3), U(3) + 2
    yield maxpool, (dlarray(U(1, 1, 1, 1)), 1), {}
    for X in (X4, dlarray(X4), X4.astype(np.float32), U(2, 5, 5, 3)):
        for pool, kw in ((2, {}), (1, {}), ((1, 1), {"Stride": (1, 1)}), (3, {}), (2, {"Stride": 2}), (2, {"Padding": 1}),
                         (3, {"Padding": "same"}), ("global", {}), (4, {"Stride": 4})):
            for n in (1, 3):
                yield maxpool, (X, pool), dict(kw, nargout=n)
    for X in (X3, dlarray(X3)):
        yield maxpool, (X, 1), {}
        yield maxpool, (X, 2), {"nargout": 3}
    yield maxpool, (dlarray(U(4, 4, 3, 2), "SSCB"), 1), {}
    yield maxpool, (dlarray(U(4, 4, 3, 2), "SSCB"), 2), {"nargout": 3}
    yield maxpool, (U(4, 4, 3, 2), 1), {"DataFormat": "SSCB"}
    yield maxpool, (dlarray(U(3, 2, 6), "CBT"), 1), {"PoolFormat": "T"}
    yield maxpool, (dlarray(U(3, 2, 6), "CBT"), 2), {"PoolFormat": "T", "nargout": 3}
    for X in (X2, dlarray(X2), X4, X2.astype(np.float32), U(4, 1), U(1, 3)):
        c = X.shape[-1]
        o, s = U(c), U(c) + 2
        for args in ((o, s), (np.zeros(c), np.ones(c)), (dlarray(o), dlarray(s)), (o.reshape(c, 1), s.reshape(c, 1)),
                     (o, s, U(c), U(c) ** 2 + 1), (o, s, U(c).reshape(c, 1), (U(c) ** 2 + 1).reshape(c, 1)),
                     (o, s, U(c).astype(np.float32), (U(c) ** 2 + 1).astype(np.float32))):
            for n in (1, 3):
                yield batchnorm, (X,) + args, {"nargout": n}
    yield batchnorm, (dlarray(U(3, 4), "CB"), o3, s3), {"nargout": 3}
    yield batchnorm, (dlarray(U(3, 4), "CB"), o3, s3, U(3), U(3) + 2), {"nargout": 3}
    yield batchnorm, (U(3, 4), o3, s3), {"DataFormat": "CB", "nargout": 3}
    yield batchnorm, (dlarray(U(4, 4, 3, 2), "SSCB"), o3, s3), {"nargout": 3}
    for fn in (layernorm, instancenorm):
        for X in (X2, dlarray(X2), X4, dlarray(X4), X3, U(2, 1, 3)):
            if fn is instancenorm and X.ndim < 3:
                continue
            for args in ((o3, s3), (np.zeros(3), np.ones(3)), (0.0, 1.0), (dlarray(o3), dlarray(s3))):
                yield fn, (X,) + args, {}
                if fn is layernorm:
                    for d in ("channel-only", "spatial-channel", "batch-excluded"):
                        yield fn, (X,) + args, {"OperationDimension": d}
        yield fn, (dlarray(U(3, 2, 5), "CBT"), o3, s3), {}
        yield fn, (dlarray(U(4, 4, 3, 2), "SSCB"), o3, s3), {}
        yield fn, (U(4, 4, 3, 2), o3, s3), {"DataFormat": "SSCB"}
    X6 = U(2, 3, 3, 6)
    for g in (1, 2, 6, "all-channels", "channel-wise"):
        for X in (X6, dlarray(X6)):
            yield groupnorm, (X, g, np.zeros(6), np.ones(6)), {}
    yield groupnorm, (dlarray(U(3, 3, 6, 2), "SSCB"), 2, U(6), U(6)), {}
    for X in (X2, dlarray(X2), X2.astype(np.float16), np.arange(6).reshape(2, 3), np.array(2.0), np.float64(2.0),
              dlarray(U(3, 4), "CB"), U(0, 3)):
        for p, training in itertools.product((0, 0.0, 0.5), (True, False)):
            yield dropout, (X, p, training), {"rng": 0}
            yield dropout, (X,), {"Probability": p, "Training": training}
    Y2, T2 = U(5, 3), U(5, 3)
    for fn in (l1loss, l2loss, huber):
        for Y, T in ((Y2, T2), (dlarray(Y2), T2), (dlarray(Y2), dlarray(T2)), (U(5), U(5)), (Y2, Y2),
                     (np.float64(1.0), np.float64(0.5))):
            for kw in ({}, {"Reduction": "none"}, {"Reduction": "none", "NormalizationFactor": "none"},
                       {"Mask": np.ones(np.shape(Y)), "Reduction": "none"}, {"NormalizationFactor": "all-elements"}):
                yield fn, (Y, T), kw
        yield fn, (Y2, T2), {"weights": U(3), "Reduction": "none"}
        yield fn, (Y2, T2), {"weights": U(5, 3), "Reduction": "none"}
        yield fn, (Y2, T2), {"weights": U(5), "WeightsFormat": "B", "Reduction": "none"}
        yield fn, (dlarray(U(3, 5), "CB"), U(3, 5)), {}
        yield fn, (dlarray(U(3, 5), "CB"), dlarray(U(5, 3), "BC")), {}
        yield fn, (U(3, 5), U(3, 5)), {"DataFormat": "CB"}
    P = np.abs(U(5, 3)) + 0.1
    P /= P.sum(-1, keepdims=True)
    targets = np.array([0, 1, 2, 0, 1])
    for Y in (P, dlarray(P)):
        for kw in ({}, {"Reduction": "none"}, {"weights": U(3), "Reduction": "none"},
                   {"weights": U(5), "Reduction": "none"}, {"MaskIndex": 2, "Reduction": "none"}):
            yield indexcrossentropy, (Y, targets), kw
    yield indexcrossentropy, (P[0], np.array(1)), {"Reduction": "none"}
    A3, B3 = U(3, 4, 2), U(4, 5, 2)
    for fn in (pagemtimes, dlmtimes):
        for a, b in ((A3, B3), (dlarray(A3), dlarray(B3)), (U(3, 4), U(4, 5)), (U(3, 4), B3), (U(4), U(4, 5)),
                     (U(4), U(4)), (np.eye(3), np.eye(3)), (U(1, 1), U(1, 1)), (U(3, 4, 0), U(4, 5, 0))):
            yield fn, (a, b), {}
    yield dlmtimes, (2.0, A3), {}
    yield dlmtimes, (dlarray(A3), 1.0), {}
    for tx, ty in itertools.product(("none", "transpose", "ctranspose"), repeat=2):
        yield pagemtimes, (U(3, 4, 2) if tx == "none" else U(4, 3, 2), tx, U(4, 5, 2) if ty == "none" else U(5, 4, 2),
                           ty), {}
    W = U(2, 5)
    for X in (2, np.array(2), 2.0, np.array([1, 2]), np.array([[0, 4], [1, -1]]), np.array(-1), np.nan,
              np.array([], dtype=int), np.array(4, dtype=np.int8)):
        for w in (W, dlarray(W)):
            yield embed, (X, w), {}
    yield embed, (0, U(3, 1)), {}
    yield embed, (dlarray(np.array([[1.0, 2.0]]), "CB"), W), {}
    yield embed, (np.array([[1.0, 2.0]]), dlarray(W)), {"DataFormat": "BT"}
    for steps in (0, 1, 3):
        x = U(2, steps, 3)
        for h0 in (U(2, 4), U(4), U(1, 4)):
            for mode in ("sequence", "last") if steps else ("last",):
                for n in (1, 2, 3):
                    yield lstm, (x, h0, h0, U(16, 3), U(16, 4), U(16)), {"OutputMode": mode, "nargout": n}
                    yield lstm, (dlarray(x), dlarray(h0), dlarray(h0.copy()), U(16, 3), U(16, 4), U(16)), \
                        {"OutputMode": mode, "nargout": n}
                    if n < 3:
                        yield gru, (x, h0, U(12, 3), U(12, 4), U(12)), {"OutputMode": mode, "nargout": n}
                        yield gru, (x, h0, U(12, 3), U(12, 4), U(12)), {"OutputMode": mode, "nargout": n,
                                                                       "ResetGateMode": "before-multiplication"}
        for mode in ("sequence", "last") if steps else ("last",):
            xc = dlarray(U(3, 2, steps), "CBT")
            for n in (1, 2, 3):
                yield lstm, (xc, U(4, 2), U(4, 2), U(16, 3), U(16, 4), U(16)), {"OutputMode": mode, "nargout": n}
                yield lstm, (xc, dlarray(U(4, 2), "CB"), dlarray(U(4, 2), "CB"), U(16, 3), U(16, 4), U(16)), \
                    {"OutputMode": mode, "nargout": n}
                if n < 3:
                    yield gru, (xc, U(4, 2), U(12, 3), U(12, 4), U(12)), {"OutputMode": mode, "nargout": n}
                    yield gru, (U(3, 2, steps), U(4, 2), U(12, 3), U(12, 4), U(12)), \
                        {"OutputMode": mode, "nargout": n, "DataFormat": "CBT"}
    q, k, v = U(2, 3, 4), U(2, 5, 4), U(2, 5, 6)
    for args in ((q, k, v), (q, q, q), (dlarray(q), dlarray(k), dlarray(v))):
        for n in (1, 2):
            for kw in ({}, {"Scale": 1.0}, {"AttentionMask": "causal"}, {"DropoutProbability": 0.5},
                       {"PaddingMask": np.ones(np.shape(args[1])[:2])}):
                for heads in (1, 2):
                    yield attention, args + (heads,), dict(kw, nargout=n)
    for n in (1, 2):
        yield attention, (dlarray(U(4, 2, 3), "CBT"), dlarray(U(4, 2, 5), "CBT"), dlarray(U(4, 2, 5), "CBT"), 2), \
            {"nargout": n}

    for X in (U(4, 3), U(2000), dlarray(U(4, 3)), U(4, 3).astype(np.float32), dlarray(U(4, 3, 2), "BCT"), U(5),
              np.float64(0.5), dlarray(U(3, 4), "CB")):
        yield nn.relu, (X,), {}
        yield nn.sigmoid, (X,), {}
        if np.ndim(X):
            yield nn.softmax, (X,), {}
    yield nn.softmax, (U(4, 3),), {"axis": 0}
    for X, W, b in ((U(4, 3), U(2, 3), U(2)), (U(3), U(2, 3), U(2)), (dlarray(U(4, 3)), dlarray(U(2, 3)), 0.0),
                    (U(5, 4, 3), U(2, 3), U(2, 1)), (dlarray(U(3, 4), "CB"), U(2, 3), U(2)), (U(4, 3), U(2, 3), U(2)[0]),
                    (U(4, 3).astype(np.float32), U(2, 3).astype(np.float32), U(2).astype(np.float32)),
                    (dlarray(U(2, 2, 3, 4), "SSCB"), U(5, 2, 2, 3), U(5))):
        yield nn.fullyconnect, (X, W, b), {}
    for Y, T in ((U(4, 2), U(4, 2)), (U(4), U(4)), (dlarray(U(4, 2)), U(2)), (U(4, 2), 0.0), (np.float64(0.3), 1.0),
                 (dlarray(U(2, 4), "CB"), dlarray(U(2, 4), "CB")), (U(4, 2).astype(np.float32), U(4, 2)),
                 (U(3, 2, 2), U(3, 2, 2))):
        yield nn.mse, (Y, T), {}
    P = np.abs(U(4, 3)) + 0.1
    P = P / P.sum(1, keepdims=True)
    L = np.eye(3)[[0, 2, 1, 0]]
    for args, kw in (((P, L), {}), ((dlarray(P), L), {}), ((P, L, np.ones(3)), {}), ((P, L), {"Reduction": "none"}),
                     ((P[0], L[0]), {}), ((dlarray(P.T, "CB"), dlarray(L.T, "CB")), {}),
                     ((P.astype(np.float32), L), {}), ((P, L), {"Reduction": "none", "Mask": np.ones((4, 3))})):
        yield nn.crossentropy, args, kw


_FORMS = list(_forms())


@pytest.mark.parametrize("name", sorted(DECLARED | RULED))
def test_results_share_nothing(name):
    """Every form of a declared function gives results sharing no memory with its arguments or with each
    other (was: lstm's and gru's states after no time step, OutputMode "last", were H0 and C0 themselves)."""
    forms = [(fn, a, k) for fn, a, k in _FORMS if fn.__name__ == name]
    assert len(forms) >= 8
    bad = [(fn.__name__, [np.shape(x) for x in a], k, found) for fn, a, k in forms
           for found in [_shared(fn, a, k)] if found]
    assert not bad, bad[:4]


@pytest.mark.parametrize("name", sorted(DECLARED | RULED))
def test_arguments_not_kept(name):
    """No form of a declared function keeps an argument (or an array it holds) past the call: sct reads a call of
    one as keeping nothing (sct/callee_effects.py _call_keeps), so a helper ``return mse(fullyconnect(x, p["W"],
    p["b"]), t)`` lets p go (red55u F1).  Checked by reference counts before and after the call."""
    import sys
    forms = [(fn, a, k) for fn, a, k in _FORMS if fn.__name__ == name]
    bad = []
    for fn, a, k in forms:
        held = _arrays(list(a) + list(k.values()), [])     # (arrays; a tuple of ints kept in a cache changes nothing)
        held += [v for v in list(a) + list(k.values()) if isinstance(v, (dlarray, list, dict))]
        before = [sys.getrefcount(v) for v in held]
        out = fn(*a, **k)
        del out
        after = [sys.getrefcount(v) for v in held]
        if before != after:
            bad.append((name, [np.shape(x) for x in a], k))
    assert not bad, bad[:4]


def test_no_time_step_states_new():
    """lstm and gru over no time step (OutputMode "last"): the states returned are new arrays of H0's and
    C0's values (were H0 and C0 themselves, so ``Y, h, c = lstm(...); h *= 2`` changed the caller's H0)."""
    h0, c0 = U(2, 4), U(2, 4)
    Y, h, c = lstm(U(2, 0, 3), h0, c0, U(16, 3), U(16, 4), U(16), OutputMode="last", nargout=3)
    assert h is not h0 and c is not c0 and not np.shares_memory(h, h0) and not np.shares_memory(c, c0)
    np.testing.assert_array_equal(h, h0)
    np.testing.assert_array_equal(c, c0)
    Y, h = gru(U(2, 0, 3), h0[0], U(12, 3), U(12, 4), U(12), OutputMode="last", nargout=2)
    assert not np.shares_memory(h, h0)
    np.testing.assert_array_equal(h, h0[:1])


# --- the programs refused before: Python's values and exact gradients ---------------------------------


def norm_block(x, o, s):
    return layernorm(x, o, s)


def param_block(x, p):
    return layernorm(x, p["o"], p["s"])


def l2_add(w, x, t):
    y = x @ w.T
    loss = l2loss(y, t)
    loss += 0.01 * np.sum(w ** 2)          # weight decay added in place (red54o fr2.py)
    return loss, dlgradient(loss, w)


def l2_mul(w, x, t):
    loss = l2loss(x @ w.T, t)
    loss *= 1.0 + 0.1 * np.sum(w ** 2)
    return loss, dlgradient(loss, w)


def l1_add(w, x, t):
    loss = l1loss(x @ w.T, t)
    loss += 0.01 * np.sum(w ** 2)
    return loss, dlgradient(loss, w)


def l1_mul(w, x, t):
    loss = l1loss(x @ w.T, t)
    loss *= 2.0
    return loss, dlgradient(loss, w)


def huber_add(w, x, t):
    loss = huber(x @ w.T, t)
    loss += 0.01 * np.sum(w ** 2)
    return loss, dlgradient(loss, w)


def huber_mul(w, x, t):
    loss = huber(x @ w.T, t, TransitionPoint=0.5)
    loss *= 1.0 + np.sum(w ** 2)
    return loss, dlgradient(loss, w)


def l2_none(w, x, t):
    v = l2loss(x @ w.T, t, Reduction="none")
    v *= 2.0
    v[0] += np.sum(w)
    L = np.sum(v)
    return L, dlgradient(L, w)


def ice_add(w, x, t):
    loss = indexcrossentropy(softmax(x @ w.T), np.argmax(t, axis=-1))
    loss += 0.01 * np.sum(w ** 2)
    return loss, dlgradient(loss, w)


def ice_mul(w, x, t):
    loss = indexcrossentropy(softmax(x @ w.T), np.argmax(t, axis=-1))
    loss *= 3.0
    return loss, dlgradient(loss, w)


def residual(x, o, s):
    h = layernorm(x, o, s)
    h += x                                   # residual connection written in place (red54o fr1.py)
    L = np.sum(h ** 2)
    return L, dlgradient(L, x, o, s)


def residual_helper(x, o, s):
    h = norm_block(x, o, s)
    h += x
    L = np.sum(h ** 2)
    return L, dlgradient(L, x, o, s)


def residual_params(x, o, s):
    p = {"o": o, "s": s}
    h = param_block(x, p)
    h += x
    L = np.sum(h ** 2) + np.sum(p["s"])
    return L, dlgradient(L, x, o, s)


def residual_module(x, o, s):
    h = sct.layernorm(x, o, s)
    h *= s
    L = np.sum(h ** 2)
    return L, dlgradient(L, x, o, s)


def bn(x, o, s):
    h = batchnorm(x, o, s)
    h *= 2.0
    L = np.sum(h ** 3)
    return L, dlgradient(L, x, o, s)


def bn_three(x, o, s):
    Y, mu, sigmaSq = batchnorm(x, o, s)
    Y *= 2.0
    mu += 1.0
    L = np.sum(Y ** 3) + np.sum(mu ** 2) + np.sum(sigmaSq * Y[0])
    return L, dlgradient(L, x, o, s)


def ln(x, o, s):
    h = layernorm(x, o, s)
    h *= 2.0
    L = np.sum(h ** 3)
    return L, dlgradient(L, x, o, s)


def inorm(x4, o, s):
    h = instancenorm(x4, o, s)
    h *= 2.0
    L = np.sum(h ** 3)
    return L, dlgradient(L, x4, o, s)


def gnorm(x4, o, s):
    h = groupnorm(x4, 1, o, s)
    h *= 2.0
    L = np.sum(h ** 3)
    return L, dlgradient(L, x4, o, s)


def mpool(x4):
    h = maxpool(x4, 2)
    h *= 2.0
    L = np.sum(h ** 3)
    return L, dlgradient(L, x4)


def mpool_one(x4):
    h = maxpool(x4, 1)                        # pool size 1: the values of x4, a new array
    h *= 2.0
    L = np.sum(h ** 3) + np.sum(x4)
    return L, dlgradient(L, x4)


def mpool_three(x4):
    Y, indx, size = maxpool(x4, 2, nargout=3)
    Y *= 2.0
    L = np.sum(Y ** 3) + np.sum(indx) * 0.0
    return L, dlgradient(L, x4)


def rnn_lstm(x3, h0, wl, rl, bl):
    h = lstm(x3, h0, h0, wl, rl, bl)
    h *= 2.0
    L = np.sum(h ** 3)
    return L, dlgradient(L, x3, h0, wl, rl, bl)


def rnn_lstm_three(x3, h0, wl, rl, bl):
    Y, h, c = lstm(x3, h0, h0, wl, rl, bl)
    h *= 2.0
    Y += 1.0
    L = np.sum(Y ** 3) + np.sum(h ** 2) + np.sum(c ** 2)
    return L, dlgradient(L, x3, h0, wl, rl, bl)


def rnn_gru(x3, h0, wg, rg, bg):
    h = gru(x3, h0, wg, rg, bg)
    h *= 2.0
    L = np.sum(h ** 3)
    return L, dlgradient(L, x3, h0, wg, rg, bg)


def att(x3):
    h = attention(x3, x3, x3, 1)
    h *= 2.0
    L = np.sum(h ** 3)
    return L, dlgradient(L, x3)


def att_two(x3):
    Y, A = attention(x3, x3, x3, 1)
    A *= 3.0
    L = np.sum(Y ** 3) + np.sum(A ** 2)
    return L, dlgradient(L, x3)


def emb(w):
    h = embed(np.array([0, 1, 1]), w)
    h *= 2.0
    L = np.sum(h ** 3)
    return L, dlgradient(L, w)


def emb_one(w):
    h = embed(1, w)                           # one index: a new vector, not a view of a column of w
    h *= 2.0
    L = np.sum(h ** 3) + np.sum(w ** 2)
    return L, dlgradient(L, w)


def pages(x3):
    h = pagemtimes(x3, x3.transpose(1, 0, 2))
    h *= 2.0
    L = np.sum(h ** 3)
    return L, dlgradient(L, x3)


def dlm(x3):
    h = dlmtimes(x3, x3.transpose(1, 0, 2))
    h += 1.0
    L = np.sum(h ** 3)
    return L, dlgradient(L, x3)


def drop_train(x):
    h = dropout(x, 0.5, rng=0)
    h *= 2.0
    L = np.sum(h ** 3) + np.sum(x ** 2)
    return L, dlgradient(L, x)


def drop_eval(x):
    h = dropout(x, 0.5, Training=False)       # the identity's values: a new array
    h *= 2.0
    L = np.sum(h ** 3) + np.sum(x ** 2)
    return L, dlgradient(L, x)


def drop_zero(x):
    h = dropout(x, 0.0)
    h += x
    L = np.sum(h ** 3) + np.sum(x ** 2)
    return L, dlgradient(L, x)


# writes through other names the result has in the function: still Python's values
def alias_name(x, o, s):
    h = layernorm(x, o, s)
    g = h
    h += x
    L = np.sum(g ** 3)
    return L, dlgradient(L, x)


def alias_view(x, o, s):
    h = layernorm(x, o, s)
    v = h[0]
    v *= 3.0
    L = np.sum(h ** 3)
    return L, dlgradient(L, x)


def alias_list(x, o, s):
    hs = [layernorm(x, o, s)]
    hs[0] += x
    L = np.sum(hs[0] ** 3)
    return L, dlgradient(L, x)


_W, _X, _T = U(3, 4), U(5, 4), np.eye(3)[[0, 1, 2, 0, 1]]
_x, _o, _s, _x4, _x3 = U(4, 3), U(3), U(3) + 2, U(2, 4, 4, 3), U(3, 3, 3)
_LOSS = ((_W, _X, _T), (0,))
_NORM = ((_x, _o, _s), (0, 1, 2))
_PROGRAMS = {
    l2_add: _LOSS, l2_mul: _LOSS, l1_add: _LOSS, l1_mul: _LOSS, huber_add: _LOSS, huber_mul: _LOSS, l2_none: _LOSS,
    ice_add: _LOSS, ice_mul: _LOSS,
    residual: _NORM, residual_helper: _NORM, residual_params: _NORM, residual_module: _NORM, bn: _NORM,
    bn_three: _NORM, ln: _NORM, inorm: ((_x4, _o, _s), (0, 1, 2)), gnorm: ((_x4, _o, _s), (0, 1, 2)),
    mpool: ((_x4,), (0,)), mpool_one: ((_x4,), (0,)), mpool_three: ((_x4,), (0,)),
    rnn_lstm: ((_x3, U(3, 2), U(8, 3), U(8, 2), U(8)), (0, 1, 2, 3, 4)),
    rnn_lstm_three: ((_x3, U(3, 2), U(8, 3), U(8, 2), U(8)), (0, 1, 2, 3, 4)),
    rnn_gru: ((_x3, U(3, 2), U(6, 3), U(6, 2), U(6)), (0, 1, 2, 3, 4)),
    att: ((_x3,), (0,)), att_two: ((_x3,), (0,)), emb: ((U(2, 3),), (0,)), emb_one: ((U(2, 3),), (0,)),
    pages: ((_x3,), (0,)), dlm: ((_x3,), (0,)), drop_train: ((_x,), (0,)), drop_eval: ((_x,), (0,)),
    drop_zero: ((_x,), (0,)),
    alias_name: (_NORM[0], (0,)), alias_view: (_NORM[0], (0,)), alias_list: (_NORM[0], (0,)),
}


def _plain(f):
    """``f`` run as plain Python on arrays (its dlgradient left out): the value Python gives."""
    namespace = dict(f.__globals__)
    namespace["dlgradient"] = lambda L, *wrt: None
    return types.FunctionType(f.__code__, namespace)


@pytest.mark.parametrize("f", list(_PROGRAMS), ids=lambda f: f.__name__)
def test_program(f):
    """Accepted (was refused: "... is an argument ... and would change too"), Python's value, the gradients of
    central differences, and the caller's arrays as they were (the write changes the result only)."""
    args, traced = _PROGRAMS[f]
    before = [np.array(a, copy=True) for a in args]
    plain = _plain(f)
    expected = plain(*[np.array(a, copy=True) for a in args])[0]
    given = [dlarray(a) if i in traced else a for i, a in enumerate(args)]
    value, grads = dlfeval(f, *given)
    for a, b in zip(args, before):
        np.testing.assert_array_equal(a, b)             # nothing the caller holds changed
    np.testing.assert_allclose(np.asarray(value.data), expected, rtol=1e-12, atol=1e-12)
    grads = grads if isinstance(grads, tuple) else (grads,)
    assert len(grads) == len(traced)
    for position, g in zip(traced, grads):
        numeric = numerical_gradient(lambda *a: float(plain(*a)[0]), [np.array(a, dtype=float) for a in args],
                                     position)
        np.testing.assert_allclose(np.asarray(g.data), numeric, rtol=1e-5, atol=1e-6,
                                   err_msg=f"{f.__name__} d/d argument {position}")
