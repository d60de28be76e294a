"""A forward's tape entries that every sweep reads only for shape and dtype are kept as
``rt.shape_proxy`` (sct/optimize.py, ``shape_only_tapes``): a preallocated trajectory filled row
by row in a loop (``traj[t] = s``) no longer keeps one whole copy of ``traj`` per iteration for
the adjoint (quadratic memory and time), and what a sweep reads for values is still kept whole.
Values against plain Python, gradients against finite differences, second order too."""
import tracemalloc

import gast
import numpy as np
import pytest

import sct
from gradcheck import D, numerical_gradient
from sct import dlarray, dlfeval, dlgradient
from sct.optimize import _popped_read_shape_only, _shape_reads

T = 600             # T * n >= 2048 items: rt.shape_proxy keeps a stand-in, not the array


def rollout(x, W):
    n = x.shape[0]
    traj = np.zeros((T, n))
    s = x
    for t in range(T):
        s = np.tanh(W @ s)
        traj[t] = s
    return np.sum(traj ** 2) / T


def rollout_grad(x, W):
    loss = rollout(x, W)
    return loss, dlgradient(loss, x, W)


def inputs():
    rng = np.random.default_rng(0)
    return rng.standard_normal(4), rng.standard_normal((4, 4)) * 0.6


def test_trajectory_rows_keep_shape_only_and_gradients_exact():
    x, W = inputs()
    y, (gx, gW) = dlfeval(rollout_grad, dlarray(x), dlarray(W))
    assert float(D(y)) == rollout(x, W)
    np.testing.assert_allclose(D(gx), numerical_gradient(rollout, [x, W], 0), rtol=1e-6, atol=1e-9)
    np.testing.assert_allclose(D(gW), numerical_gradient(rollout, [x, W], 1), rtol=1e-6, atol=1e-9)
    text = str(sct.source(rollout_grad, dlarray(x), dlarray(W), callees=True))
    assert "tape.append(rt.shape_proxy(traj))" in text


def test_trajectory_tape_memory_is_not_quadratic():
    x, W = dlarray(inputs()[0]), dlarray(inputs()[1])
    dlfeval(rollout_grad, x, W)                   # compiled
    tracemalloc.start()
    try:
        dlfeval(rollout_grad, x, W)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    one = T * 4 * 8
    assert peak < 40 * one, f"peak {peak} bytes: the tape keeps copies of the trajectory ({one} bytes each)"


def rollout_values(x, W, w):
    """The loop reads the trajectory's values (traj * w): the adjoint needs each version whole."""
    n = x.shape[0]
    traj = np.zeros((T, n))
    s = x
    acc = 0.0
    for t in range(T):
        s = np.tanh(W @ s)
        traj[t] = s
        if t % 150 == 0:
            acc = acc + np.sum(traj * w)
    return acc / T + np.sum(traj[-1] ** 2)


def rollout_values_grad(x, W, w):
    loss = rollout_values(x, W, w)
    return loss, dlgradient(loss, x, W, w)


def test_values_read_in_the_loop_are_kept_whole():
    x, W = inputs()
    w = np.linspace(-1, 1, T * 4).reshape(T, 4)
    y, (gx, gW, gw) = dlfeval(rollout_values_grad, dlarray(x), dlarray(W), dlarray(w))
    assert float(D(y)) == rollout_values(x, W, w)
    np.testing.assert_allclose(D(gx), numerical_gradient(rollout_values, [x, W, w], 0), rtol=1e-6, atol=1e-9)
    np.testing.assert_allclose(D(gW), numerical_gradient(rollout_values, [x, W, w], 1), rtol=1e-6, atol=1e-9)
    # d/dw: the sum of the trajectories at the reading steps
    expected = np.zeros((T, 4))
    n, s, traj = 4, x, np.zeros((T, 4))
    for t in range(T):
        s = np.tanh(W @ s)
        traj[t] = s
        if t % 150 == 0:
            expected += traj / T
    np.testing.assert_allclose(D(gw), expected, rtol=1e-12, atol=1e-15)
    text = str(sct.source(rollout_values_grad, dlarray(x), dlarray(W), dlarray(w), callees=True))
    assert "tape.append(traj)" in text and "shape_proxy(traj)" not in text


def hessian_vector(x, W, v):
    loss = rollout(x, W)
    g = dlgradient(loss, x, EnableHigherDerivatives=True)
    return dlgradient(np.sum(g * v), x)


def test_second_order_through_the_trajectory():
    x, W = inputs()
    v = np.array([0.3, -0.2, 0.5, 0.1])
    f = lambda x: rollout(x, W)

    def grad(z):
        return numerical_gradient(f, [z], 0, step=1e-5)
    eps = 1e-4
    expected = (grad(x + eps * v) - grad(x - eps * v)) / (2 * eps)
    got = dlfeval(hessian_vector, dlarray(x), dlarray(W), dlarray(v))
    np.testing.assert_allclose(D(got), expected, rtol=2e-4, atol=1e-6)
    np.testing.assert_allclose(D(sct.hvp(f, x, v)), expected, rtol=2e-4, atol=1e-6)
    value, tangent = sct.jvp(f, x, v)
    assert float(D(value)) == f(x)
    np.testing.assert_allclose(float(D(tangent)), float(numerical_gradient(f, [x], 0) @ v), rtol=1e-6)


# --- the flow of "may hold a popped value" through a sweep's blocks --------------------------------

def _sweep(src):
    fn = gast.parse(src).body[0]
    pops = {}
    for node in gast.walk(fn):
        if isinstance(node, gast.Assign) and isinstance(node.value, gast.Call) and \
                isinstance(node.value.func, gast.Attribute) and node.value.func.attr == "pop":
            pops[id(node)] = node.targets[0].id
    return fn, pops


@pytest.mark.parametrize("src, shape_only", [
    # the popped value read whole after the loop
    ("def s(a, tape):\n for _ in range(3):\n  a = tape.pop()\n return a * 2\n", False),
    # read for its shape only, in the loop and after it
    ("def s(a, tape):\n for _ in range(3):\n  g = rt.unbroadcast(g, a)\n  a = tape.pop()\n"
     " return rt.zero_adjoint(a)\n", True),
    # the value before the loop is the parameter's: read whole there, shape only after pops
    ("def s(a, tape):\n b = a * 2\n for _ in range(3):\n  g = rt.unbroadcast(g, a)\n  a = tape.pop()\n"
     " return b\n", True),
    # the loop's second turn reads the value popped in the first: the head joins the body's end
    ("def s(a, tape):\n for _ in range(3):\n  g = g * a\n  a = tape.pop()\n return g\n", False),
    # popped, then stored again before the read
    ("def s(a, tape):\n a = tape.pop()\n a = 1.0\n return a * 2\n", True),
    # stored again on one branch only
    ("def s(a, tape, c):\n a = tape.pop()\n if c:\n  a = 1.0\n return a * 2\n", False),
    # popped on one branch only
    ("def s(a, tape, c):\n if c:\n  a = tape.pop()\n return a * 2\n", False),
    # a compound statement the flow does not follow holds the pop
    ("def s(a, tape):\n try:\n  a = tape.pop()\n except E:\n  pass\n return rt.zero_adjoint(a)\n", False),
    # a while loop's test reads the popped value
    ("def s(a, tape):\n while a.sum() > 0:\n  a = tape.pop()\n return 0\n", False),
])
def test_popped_reads_followed_through_blocks(src, shape_only):
    fn, pops = _sweep(src)
    assert _popped_read_shape_only(fn.body, "a", pops, _shape_reads(fn, "rt")) is shape_only


def inline_two_sites(x, W):
    """The loop in the function that takes the gradients: the tape goes to both sweeps."""
    n = x.shape[0]
    traj = np.zeros((T, n))
    s = x
    for t in range(T):
        s = np.tanh(W @ s)
        traj[t] = s
    loss = np.sum(traj ** 2) / T
    gx = dlgradient(loss, x)
    loss2 = np.sum(traj[::7] * traj[3]) + loss
    gW = dlgradient(loss2, W)
    return loss, loss2, gx, gW


def test_inline_loop_two_gradient_sites():
    x, W = inputs()
    loss, loss2, gx, gW = dlfeval(inline_two_sites, dlarray(x), dlarray(W))

    def plain(x, W, which):
        n, s, traj = 4, x, np.zeros((T, 4))
        for t in range(T):
            s = np.tanh(W @ s)
            traj[t] = s
        first = np.sum(traj ** 2) / T
        return first if which == 0 else np.sum(traj[::7] * traj[3]) + first
    assert float(D(loss)) == plain(x, W, 0) and float(D(loss2)) == plain(x, W, 1)
    np.testing.assert_allclose(D(gx), numerical_gradient(lambda x, W: plain(x, W, 0), [x, W], 0),
                               rtol=1e-6, atol=1e-9)
    np.testing.assert_allclose(D(gW), numerical_gradient(lambda x, W: plain(x, W, 1), [x, W], 1),
                               rtol=1e-6, atol=1e-9)
    text = str(sct.source(inline_two_sites, dlarray(x), dlarray(W)))
    assert "tape.append(rt.shape_proxy(traj))" in text


# --- rows written into the array itself where nothing else holds it (rt.setitem_owned) --------------

def test_rows_written_in_place_where_nothing_else_holds_the_array(monkeypatch):
    import sct.runtime.support as support
    x, W = inputs()
    # compiled before the counters replace the runtime's functions (the optimiser reads them by
    # identity: compiled after, the rows were written as the general form, which this test then saw
    # when run alone)
    dlfeval(rollout_grad, dlarray(x), dlarray(W))
    copies = []
    plain_setitem = support.setitem
    monkeypatch.setattr(support, "setitem", lambda *a: copies.append(1) or plain_setitem(*a))
    zeroed = []
    plain_zero_at = support.zero_at
    monkeypatch.setattr(support, "zero_at", lambda *a: zeroed.append(1) or plain_zero_at(*a))
    y, (gx, gW) = dlfeval(rollout_grad, dlarray(x), dlarray(W))
    assert not copies, f"{len(copies)} of {T} row writes copied the trajectory"
    assert not zeroed, f"{len(zeroed)} of {T} row adjoints copied the trajectory's adjoint"
    assert float(D(y)) == rollout(x, W)
    np.testing.assert_allclose(D(gx), numerical_gradient(rollout, [x, W], 0), rtol=1e-6, atol=1e-9)


def rows_seen_by_others(x, W):
    """A view of the row before (alive while the next row is written), a copy of the whole array
    taken between the writes: each keeps the value Python gives it."""
    traj = np.zeros((T // 10, 4))
    s = x
    acc = 0.0
    snap = traj.copy()
    for t in range(T // 10):
        prev = traj[t - 1]
        s = np.tanh(W @ s)
        acc = acc + np.sum(prev ** 2)
        traj[t] = s + 0.5 * prev
        if t % 7 == 3:
            snap = traj.copy()
    return np.sum(traj ** 2) + acc + np.sum(snap ** 3)


def rows_seen_by_others_grad(x, W):
    loss = rows_seen_by_others(x, W)
    return loss, dlgradient(loss, x, W)


def test_views_and_copies_of_the_array_keep_their_values():
    x, W = inputs()
    y, (gx, gW) = dlfeval(rows_seen_by_others_grad, dlarray(x), dlarray(W))
    assert float(D(y)) == rows_seen_by_others(x.copy(), W.copy())
    np.testing.assert_allclose(D(gx), numerical_gradient(rows_seen_by_others, [x, W], 0), rtol=1e-6, atol=1e-9)
    np.testing.assert_allclose(D(gW), numerical_gradient(rows_seen_by_others, [x, W], 1), rtol=1e-6, atol=1e-9)
