"""types56: the types Python gives (red3_55 W1, W3, and what an earlier try at them broke).

W3: int, numpy integer and np.bool_ parameter leaves pass through the optimizers unchanged (were np.float64 after
one step, so ``range(p["n_layers"])`` failed at the next); a number given as the optimizer state of a structure is
still a clear error (test_redteam_dec13e).
W1: method forms of reductions and conversions of argmax results (``c.mean()``, ``p.astype(float)``,
``np.eye(k)[p]``), with labels a local or a numeric module global, are numpy's types as in Python (were dlarrays).
Lists: a list made plain and then grown with dlarrays (``hs = []; hs.append(h)``, ``ys[0] = W * 3``) is not plain:
``np.stack(hs)`` is a dlarray in Python (was numpy's array; in a helper, its loss numpy's float64).
Values against plain Python on the same dlarray arguments, gradients against finite differences."""
import numpy as np
import pytest

import sct
from sct import dlarray, dlfeval, dlgradient

from gradcheck import assert_close, numerical_gradient


def _same(got, want):
    assert len(got) == len(want)
    for a, b in zip(got, want):
        assert type(a) is type(b), (type(a), type(b))
        np.testing.assert_allclose(np.asarray(getattr(a, "data", a), dtype=float),
                                   np.asarray(getattr(b, "data", b), dtype=float), rtol=1e-12)


# --- W3: non-float leaves through the optimizers ---------------------------------------------------------------

def _loss_with_settings(p):
    h = p["W"]
    for _ in range(p["n_layers"]):
        h = np.tanh(h)
    l = np.sum(h ** 2) * (2.0 if p["use_bias"] else 1.0) + p["k"] * 0.0
    return l, dlgradient(l, p)


def _settings_loss_plain(W):
    return float(np.sum(np.tanh(np.tanh(W)) ** 2) * 2.0)


STEPS = {"sgdm": lambda p, g: sct.sgdmupdate(p, g, None, 0.1),
         "adam": lambda p, g: sct.adamupdate(p, g, None, None, 1),
         "rmsprop": lambda p, g: sct.rmspropupdate(p, g, None),
         "dlupdate": lambda p, g: (sct.dlupdate(lambda a, b: a - 0.1 * b, p, g),)}


@pytest.mark.parametrize("update", sorted(STEPS))
def test_integral_leaves_pass_through_optimizers(update):
    W0 = np.array([1.0, 2.0])
    p = {"W": dlarray(W0), "n_layers": 2, "use_bias": np.bool_(True), "k": np.int64(3), "act": True,
         "layers": [{"units": 4, "W": dlarray(W0 * 0.5)}]}
    l, g = dlfeval(_loss_with_settings, p)
    out = STEPS[update](p, g)
    p2 = out[0]
    for key in ("n_layers", "use_bias", "k", "act"):
        assert type(p2[key]) is type(p[key]) and p2[key] == p[key], (key, p2[key])
    assert type(p2["layers"][0]["units"]) is int and p2["layers"][0]["units"] == 4
    for state in out[1:]:
        assert state["n_layers"] is None and state["use_bias"] is None and state["k"] is None
    assert_close(np.asarray(g["W"].data), numerical_gradient(_settings_loss_plain, [W0], 0), 1e-6, 1e-8)
    assert type(p2["W"]) is dlarray and not np.allclose(np.asarray(p2["W"].data), W0)
    l2, g2 = dlfeval(_loss_with_settings, p2)        # the next step runs (was: range(2.0), a TypeError)
    W1 = np.asarray(p2["W"].data)
    assert_close(float(np.asarray(l2.data)), _settings_loss_plain(W1))
    out2 = STEPS[update](p2, g2, *()) if update == "dlupdate" else \
        {"sgdm": lambda: sct.sgdmupdate(p2, g2, out[1], 0.1), "adam": lambda: sct.adamupdate(p2, g2, out[1], out[2], 2),
         "rmsprop": lambda: sct.rmspropupdate(p2, g2, out[1])}[update]()
    assert type(out2[0]["n_layers"]) is int and out2[0]["n_layers"] == 2        # (the returned state taken back)


def test_a_number_as_the_state_still_a_clear_error():
    p = {"w": dlarray(np.array([1.0, 2.0])), "n": 2}
    g = {"w": dlarray(np.array([0.1, -0.2])), "n": dlarray(0.0)}
    for state in (0, 1, np.int64(0), True):
        with pytest.raises(TypeError, match="start an optimizer state with None"):
            sct.sgdmupdate(p, g, state, 0.1)


def test_a_nonzero_gradient_for_an_int_leaf_is_refused():
    """An int leaf is left as it is: a gradient that would move it (one made by hand) is refused, never dropped."""
    p = {"w": dlarray(np.array([1.0, 2.0])), "b": 0}
    g = {"w": dlarray(np.array([0.1, -0.2])), "b": 1.5}
    with pytest.raises(TypeError, match=r"params\['b'\].*make it a float"):
        sct.sgdmupdate(p, g, None, 0.1)


# --- W1: method forms of argmax results, labels local or a module global ------------------------------------------

LABELS = np.array([1, 0, 1])
XS = np.arange(6.0).reshape(3, 2)


def _metrics(w, labels):
    pred = np.argmax(XS * w, axis=1)
    c = pred == labels
    return (c.mean(), c.std(), c.any(), c.all(), pred.var(), pred.astype(float), np.eye(2)[pred], c.mean(axis=0),
            c.astype(float).mean(), pred.astype(np.float32), pred.mean(), c.sum())


def _loss_metrics(w):
    l = np.sum(XS * w)
    return (l, dlgradient(l, w)) + _metrics(w, np.array([1, 0, 1]))


def _metrics_global(w):
    pred = np.argmax(XS * w, axis=1)
    c = pred == LABELS
    return c.mean(), c.any(), pred.astype(float), np.eye(2)[pred], np.mean(pred == LABELS)


def _loss_metrics_global(w):
    l = np.sum(XS * w)
    return (l, dlgradient(l, w)) + _metrics_global(w)


def _loss_metrics_inline(w):
    l = np.sum(XS * w)
    pred = np.argmax(XS * w, axis=1)
    c = pred == LABELS
    return l, dlgradient(l, w), c.mean(), c.std(), c.all(), pred.astype(float), np.eye(2)[pred], c.mean(axis=0)


def _plain_inline(w):
    pred = np.argmax(XS * w, axis=1)
    c = pred == LABELS
    return c.mean(), c.std(), c.all(), pred.astype(float), np.eye(2)[pred], c.mean(axis=0)


@pytest.mark.parametrize("accelerated", [False, True])
def test_argmax_method_forms_are_numpy_types(accelerated):
    w = dlarray(np.array([1.0, 1.5]))
    run = (lambda f: dlfeval(sct.accelerate(f), w)) if accelerated else (lambda f: dlfeval(f, w))
    got = run(_loss_metrics)
    _same(got[2:], _metrics(w, np.array([1, 0, 1])))
    assert_close(np.asarray(got[1].data), np.sum(XS, axis=0))
    _same(run(_loss_metrics_global)[2:], _metrics_global(w))
    _same(run(_loss_metrics_inline)[2:], _plain_inline(w))


def test_a_global_rebound_to_a_dlarray_gives_pythons_type():
    global LABELS
    w = dlarray(np.array([1.0, 1.5]))
    saved = LABELS
    try:
        _same(dlfeval(_loss_metrics_global, w)[2:], _metrics_global(w))
        LABELS = dlarray(np.array([1.0, 0.0, 1.0]))
        _same(dlfeval(_loss_metrics_global, w)[2:], _metrics_global(w))
        LABELS = np.array([0, 0, 1])
        _same(dlfeval(_loss_metrics_global, w)[2:], _metrics_global(w))
    finally:
        LABELS = saved


# --- lists grown with dlarrays: not plain -----------------------------------------------------------------------

W0 = np.array([[0.5, -0.2, 0.1], [0.3, 0.4, -0.6], [0.0, 0.2, 0.7]])
X0 = np.array([[1.0, 0.5, -0.3], [0.2, -1.0, 0.4], [0.7, 0.1, 0.9], [-0.5, 0.3, 0.2]])


def _stacked(W, xs):
    h = np.zeros(3)
    hs = []
    for t in range(xs.shape[0]):
        h = np.tanh(W @ h + xs[t])
        hs.append(h)
    H = np.stack(hs)
    return np.sum(H ** 2)


def _stacked_grad(W, xs):
    loss = _stacked(W, xs)
    return loss, dlgradient(loss, W)


def _grown(W, xs):
    hs = []
    for t in range(xs.shape[0]):
        hs.append(np.tanh(W @ xs[t]))
    ys = [0.0, 1.0]
    ys[0] = np.sum(W) * 3
    alias = []
    other = alias
    other.append(W[0])
    nested = [[0.0]]
    for row in nested:
        row[0] = W[1, 1]
    ext = [1.0]
    ext.extend([W[2, 2]])
    plain = []
    plain.append(2.5)
    plain.append(float(np.sum(W)))
    return (np.stack(hs), np.mean(np.stack(hs)), np.sum(ys), np.sum(alias), np.sum(nested), np.sum(ext),
            np.mean(plain), np.stack(hs)[2])


def _grown_grad(W, xs):
    out = _grown(W, xs)
    loss = out[1] + out[2]
    return (loss, dlgradient(loss, W)) + out


def _append_to(lst, v):
    lst.append(v)


def _handed(W):
    hs = []
    _append_to(hs, W * 2.0)
    loss = np.sum(np.stack(hs))
    return loss, dlgradient(loss, W), np.stack(hs)


@pytest.mark.parametrize("accelerated", [False, True])
def test_lists_grown_with_dlarrays_are_not_plain(accelerated):
    W, xs = dlarray(W0), dlarray(X0)
    wrap = sct.accelerate if accelerated else (lambda f: f)
    loss, g = dlfeval(wrap(_stacked_grad), W, xs)
    assert type(loss) is type(_stacked(W, xs)) is dlarray
    assert_close(float(loss.data), float(_stacked(W, xs).data))
    assert_close(np.asarray(g.data), numerical_gradient(lambda a: float(_stacked(a, X0)), [W0], 0), 1e-5, 1e-7)
    got = dlfeval(wrap(_grown_grad), W, xs)
    _same(got[2:], _grown(W, xs))
    assert_close(np.asarray(got[1].data),
                 numerical_gradient(lambda a: float(np.mean(np.stack([np.tanh(a @ x) for x in X0])) + 3 * np.sum(a)
                                                    + 1.0), [W0], 0), 1e-5, 1e-7)
    got = dlfeval(wrap(_handed), W)
    assert type(got[0]) is dlarray and type(got[2]) is dlarray
    assert_close(np.asarray(got[1].data), np.full((3, 3), 2.0))
