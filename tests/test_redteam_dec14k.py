"""Red team of the in-place writes decided by reference counts (sct/optimize.py ``owned_setitems``,
``released_views``, ``owned_zero_at``, ``shape_only_arguments``; runtime ``setitem_owned``,
``zero_at_owned``, ``add_index_grad_owned``): rows of a preallocated array read, multiplied,
added to, overwritten, in loops and branches, real, float32 and complex, large (the shape-proxy
path) and small; first order in a helper and in the function dlfeval runs, second order,
dlaccelerate, jvp and hvp; a gradient taken inside the loop while the forward keeps writing; the
arrays returned to the user changed by the user before the next call.  Values against plain
Python, gradients against finite differences.  Where something else sees the array (a view kept
in a list, a dict, a tuple or a name read later, a transpose, a reshape, np.asarray), sct refuses
at the user's line: checked too."""
import numpy as np
import pytest

import sct
from gradcheck import D, numerical_gradient
from sct import dlarray, dlfeval, dlgradient

T = 300             # T * 8 >= 2048 items: the row's view is released by a shape proxy
SMALL = 6


def _rows(x, W, op, steps, dtype=np.float64):
    acc = np.ones((steps, x.shape[0]), dtype=dtype) * 0.3
    s = x
    z = 0.0
    for t in range(1, steps - 1):
        s = np.tanh(W @ s)
        if op == "mul":
            acc[t] *= s
            acc[t] += s
        elif op == "self_mul_add":
            acc[t] += acc[t] * s
        elif op == "read_after":
            acc[t] += s
            z = z + np.sum(acc[t] * s)
        elif op == "where":
            acc[t] += s
            acc[t] = np.where(acc[t] > 0, acc[t], 0.1 * acc[t])
        elif op == "named_row":
            r = acc[t]
            acc[t] += s
            acc[t] *= s
        elif op == "prev_row":
            acc[t] += s + 0.1 * acc[t - 1]
            acc[t - 1] *= 0.5
        elif op == "slices":
            acc[t:t + 2] += 0.5
            acc[t:t + 2] *= s
        elif op == "parts":
            acc[t, 1:] += s[1:]
            acc[t, :3] *= s[:3]
        elif op == "whole_read":
            acc[t] += s
            z = z + 0.001 * np.sum(acc * acc)
        elif op == "transpose_read":
            acc[t] += s
            B = acc.T
            z = z + np.sum(B[:, t] ** 2)
        elif op == "branch":
            if t % 3 == 0:
                acc[t] *= s
            else:
                acc[t] = acc[t - 1] * 0.5 + s
        elif op == "shift":
            acc[1:] = acc[:-1]
            acc[0] = s
        elif op == "fancy":
            acc[t, np.array([1, 3, 1])] = s[:3]
            acc[t, np.array([1, 3, 1])] += s[3:6]
    return np.sum(np.abs(acc) ** 2) / steps + np.real(z)


OPS = ["mul", "self_mul_add", "read_after", "where", "named_row", "prev_row", "slices", "parts",
       "whole_read", "transpose_read", "branch", "shift", "fancy"]


def _inputs(n=8):
    rng = np.random.default_rng(0)
    return rng.standard_normal(n), rng.standard_normal((n, n)) * 0.4


def _check(plain, y, gx, gW, x, W):
    assert float(D(y)) == pytest.approx(plain(x, W), rel=1e-12)
    np.testing.assert_allclose(D(gx), numerical_gradient(plain, [x, W], 0), rtol=1e-5, atol=1e-8)
    np.testing.assert_allclose(D(gW), numerical_gradient(plain, [x, W], 1), rtol=1e-5, atol=1e-8)


@pytest.mark.parametrize("steps", [T, SMALL])
@pytest.mark.parametrize("op", OPS)
def test_rows_written_in_a_helper(op, steps):
    def plain(x, W):
        return _rows(x, W, op, steps)

    def g(x, W):
        y = _rows(x, W, op, steps)
        return y, dlgradient(y, x, W)
    x, W = _inputs()
    y, (gx, gW) = dlfeval(g, dlarray(x), dlarray(W))
    _check(plain, y, gx, gW, x, W)


def _top_mul(x, W):
    acc = np.ones((T, x.shape[0])) * 0.3
    s = x
    for t in range(1, T - 1):
        s = np.tanh(W @ s)
        acc[t] *= s
        acc[t] += s
    loss = np.sum(acc ** 2) / T
    return loss, dlgradient(loss, x, W)


def _top_read_after(x, W):
    acc = np.ones((T, x.shape[0])) * 0.3
    s = x
    z = 0.0
    for t in range(1, T - 1):
        s = np.tanh(W @ s)
        acc[t] += s
        z = z + np.sum(acc[t] * s)
    loss = np.sum(acc ** 2) / T + z
    return loss, dlgradient(loss, x, W)


@pytest.mark.parametrize("top, op", [(_top_mul, "mul"), (_top_read_after, "read_after")])
def test_rows_written_in_the_function_dlfeval_runs(top, op):
    x, W = _inputs()
    y, (gx, gW) = dlfeval(top, dlarray(x), dlarray(W))
    _check(lambda x, W: _rows(x, W, op, T), y, gx, gW, x, W)
    text = str(sct.source(top, dlarray(x), dlarray(W)))      # the in-place forms are what ran
    assert "rt.setitem_owned(acc, " in text and "rt.zero_at_owned(" in text and "rt.add_index_grad_owned(" in text
    if op == "read_after":
        assert "acc_item = rt.shape_proxy(acc_item)" in text


@pytest.mark.parametrize("op", ["mul", "where", "parts", "branch"])
def test_float32_and_complex_rows(op):
    x, W = _inputs()

    def g32(x, W):
        y = _rows(x, W, op, T, np.float32)
        return y, dlgradient(y, x, W)

    def g64(x, W):
        y = _rows(x, W, op, T)
        return y, dlgradient(y, x, W)
    y, (gx, gW) = dlfeval(g32, dlarray(x), dlarray(W))
    y64, (gx64, gW64) = dlfeval(g64, dlarray(x), dlarray(W))
    assert float(D(y)) == pytest.approx(float(_rows(x, W, op, T, np.float32)), rel=1e-6)
    np.testing.assert_allclose(D(gW), D(gW64), rtol=1e-3, atol=1e-4 * np.max(np.abs(D(gW64))))

    def gc(x, W):
        y = _rows(x, W, op, T, complex)
        return y, dlgradient(y, x, W)
    y, (gx, gW) = dlfeval(gc, dlarray(x), dlarray(W))
    _check(lambda x, W: _rows(x, W, op, T, complex), y, gx, gW, x, W)


@pytest.mark.parametrize("op", ["mul", "read_after", "parts"])
@pytest.mark.heavy      # (CI skips it: tests/conftest.py; 10-50 s)
def test_second_order_accelerated(op):
    x, W = _inputs(4)
    steps = 520                     # 520 * 4 >= 2048

    def second(x, W):
        g = dlgradient(_rows(x, W, op, steps), W, EnableHigherDerivatives=True)
        h = np.sum(g ** 2)
        return h, dlgradient(h, x)

    def first(x, W):
        return np.sum(dlgradient(_rows(x, W, op, steps), W) ** 2)
    fast = sct.dlaccelerate(second)
    numeric = numerical_gradient(lambda x: float(D(dlfeval(first, dlarray(x), dlarray(W)))), [x], 0, step=1e-5)
    for _ in range(2):
        h, gx = dlfeval(fast, dlarray(x), dlarray(W))
        np.testing.assert_allclose(D(gx), numeric, rtol=1e-4, atol=1e-7)


def _rows_of_x(x):
    return _rows(x, _inputs()[1], "mul", T)


def _rows_of_x_grad(x):
    return dlgradient(_rows_of_x(x), x)


def test_jvp_and_hvp_through_rows_written():
    x = _inputs()[0]
    v = np.random.default_rng(3).standard_normal(x.shape)
    y, jv = sct.jvp(_rows_of_x, (x,), (v,))
    eps = 1e-6
    assert float(D(y)) == pytest.approx(_rows_of_x(x), rel=1e-12)
    assert float(D(jv)) == pytest.approx((_rows_of_x(x + eps * v) - _rows_of_x(x - eps * v)) / (2 * eps), rel=1e-6)
    hv = D(sct.hvp(_rows_of_x, x, v))
    eps = 1e-5
    fd = (D(dlfeval(_rows_of_x_grad, dlarray(x + eps * v))) - D(dlfeval(_rows_of_x_grad, dlarray(x - eps * v)))) / (2 * eps)
    np.testing.assert_allclose(hv, fd, rtol=1e-4, atol=1e-6 * np.max(np.abs(fd)))


def _gradients_inside_the_loop(x, W):
    acc = np.ones((T, x.shape[0]))
    s = x
    total = 0.0
    for t in range(T):
        s = np.tanh(W @ s)
        acc[t] *= s
        acc[t] += s
        if t % 100 == 99:
            g = dlgradient(np.sum(acc ** 2), W)     # the forward writes acc again after this
            total = total + np.sum(g * g)
    return total


def _gradient_at(x, W, k):
    acc = np.ones((T, x.shape[0]))
    s = x
    for t in range(k + 1):
        s = np.tanh(W @ s)
        acc[t] *= s
        acc[t] += s
    return np.sum(dlgradient(np.sum(acc ** 2), W) ** 2)


def test_gradients_taken_inside_the_loop_writing_the_rows():
    x, W = _inputs()
    got = float(D(dlfeval(_gradients_inside_the_loop, dlarray(x), dlarray(W))))
    expected = sum(float(D(dlfeval(_gradient_at, dlarray(x), dlarray(W), k))) for k in (99, 199, 299))
    assert got == pytest.approx(expected, rel=1e-12)


def _returns_the_rows(x, W):
    acc = np.zeros((T, x.shape[0]))
    s = x
    for t in range(T):
        s = np.tanh(W @ s)
        acc[t] += s
    loss = np.sum(acc ** 2) / T
    gx, gW = dlgradient(loss, x, W)
    return loss, acc, gx, gW, acc


@pytest.mark.parametrize("accelerated", [False, True])
def test_results_changed_by_the_user_do_not_change_the_next_call(accelerated):
    x, W = _inputs()
    f = sct.dlaccelerate(_returns_the_rows) if accelerated else _returns_the_rows
    xa, Wa = dlarray(x), dlarray(W)
    first = dlfeval(f, xa, Wa)
    kept = [D(o).copy() for o in first]
    for o in first:
        a = D(o)
        if a.ndim and a.flags.writeable:
            a[...] = 999.0
    again = dlfeval(f, xa, Wa)
    for o, k in zip(again, kept):
        np.testing.assert_array_equal(D(o), k)
    np.testing.assert_array_equal(D(xa), x)
    np.testing.assert_array_equal(D(Wa), W)


def _kept_in_list(x, W):
    acc = np.zeros((T, x.shape[0]))
    keep = []
    s = x
    for t in range(T):
        s = np.tanh(W @ s)
        keep.append(acc[t])
        acc[t] += s
    return np.sum(acc ** 2) / T + np.sum(keep[3] * x)


def _kept_in_tuple(x, W):
    acc = np.zeros((T, x.shape[0]))
    keep = (acc[5], acc)
    s = x
    for t in range(T):
        s = np.tanh(W @ s)
        acc[t] += s
    return np.sum(acc ** 2) / T + np.sum(keep[0] * x)


def _transposed(x, W):
    acc = np.zeros((T, x.shape[0]))
    B = acc.T
    s = x
    for t in range(T):
        s = np.tanh(W @ s)
        acc[t] += s
    return np.sum(acc ** 2) / T + np.sum(B[:, 3] * x)


def _reshaped(x, W):
    acc = np.zeros((T, x.shape[0]))
    B = acc.reshape(-1)
    s = x
    for t in range(T):
        s = np.tanh(W @ s)
        acc[t] += s
    return np.sum(acc ** 2) / T + np.sum(B[40:48] * x)


def _as_array(x, W):
    acc = np.zeros((T, x.shape[0]))
    B = np.asarray(acc)
    s = x
    for t in range(T):
        s = np.tanh(W @ s)
        acc[t] += s
    return np.sum(acc ** 2) / T + np.sum(B[5] * x)


def _view_carried_to_the_next_turn(x, W):
    acc = np.ones((T, x.shape[0]))
    s = x
    z = 0.0
    u = acc[0]
    for t in range(1, T):
        s = np.tanh(W @ s)
        z = z + np.sum(u * s)
        u = acc[t]
        acc[t] = s
    return z + np.sum(acc ** 2) / T


def _view_read_after_the_loop(x, W):
    acc = np.ones((T, x.shape[0]))
    s = x
    for t in range(T):
        s = np.tanh(W @ s)
        u = acc[t]
        acc[t] = s * 2
    return np.sum(u * x) + np.sum(acc ** 2) / T


def test_a_transposed_view_of_an_array_written_in_a_loop_is_followed():
    # (s52, ops52: `B = acc.T` is followed as a view, taken again after acc's writes: was refused with the others)
    def g(x, W):
        y = _transposed(x, W)
        return y, dlgradient(y, x, W)
    x, W = _inputs()
    L, (gx, gW) = dlfeval(g, dlarray(x), dlarray(W))
    assert abs(float(np.asarray(L.data)) - _transposed(x, W)) < 1e-12
    e = 1e-6
    fdx = np.array([(_transposed(x + e * d, W) - _transposed(x - e * d, W)) / (2 * e) for d in np.eye(x.size)])
    np.testing.assert_allclose(np.asarray(gx.data), fdx, rtol=1e-6, atol=1e-8)
    fdW = np.zeros_like(W)
    for i in np.ndindex(W.shape):
        d = np.zeros_like(W)
        d[i] = e
        fdW[i] = (_transposed(x, W + d) - _transposed(x, W - d)) / (2 * e)
    np.testing.assert_allclose(np.asarray(gW.data), fdW, rtol=1e-6, atol=1e-8)


@pytest.mark.parametrize("f", [_kept_in_list, _kept_in_tuple, _as_array],
                         ids=lambda f: f.__name__)
def test_views_something_else_sees_are_refused_at_the_users_line(f):
    def g(x, W):
        y = f(x, W)
        return y, dlgradient(y, x, W)
    x, W = _inputs()
    with pytest.raises(sct.CompileError, match=r"test_redteam_dec14k.py, line \d+: writing into acc\[\.\.\.\] in place"):
        dlfeval(g, dlarray(x), dlarray(W))


@pytest.mark.parametrize("f", [_view_carried_to_the_next_turn, _view_read_after_the_loop, _reshaped],
                         ids=lambda f: f.__name__)
def test_a_view_read_after_its_row_is_written_is_exact(f):
    """``u = acc[t]`` read in the next turn or after the loop, after ``acc[t] = s`` wrote through it:
    was refused; since the item write-backs of wt-w (1a045be) followed, values and gradients as plain
    Python's.  ``B = acc.reshape(-1)`` of a new C-contiguous array read after its rows are written: refused
    until s53 (fr53's reshape views), now exact too."""
    x, W = _inputs()

    def g(x, W):
        y = f(x, W)
        return y, dlgradient(y, x, W)
    y, (gx, gW) = dlfeval(g, dlarray(x), dlarray(W))
    _check(f, y, gx, gW, x, W)


def _view_read_in_the_other_branch(x, W):
    acc = np.ones((T, x.shape[0]))
    s = x
    z = 0.0
    for t in range(T):
        s = np.tanh(W @ s)
        u = acc[t]
        if t % 2:
            acc[t] = s * 2
        else:
            z = z + np.sum(u * s)
    return z + np.sum(acc ** 2) / T


def _gradient_written_row_by_row(x, W):
    acc = np.zeros((T, x.shape[0]))
    s = x
    for t in range(T):
        s = np.tanh(W @ s)
        acc[t] += s
    loss = np.sum(acc ** 2) / T
    gW = dlgradient(loss, W)
    out = gW
    for k in range(x.shape[0]):
        gW[k] *= 2.0
    return loss, gW, out


def test_a_view_read_only_where_the_row_is_not_written_and_a_gradient_written_into():
    x, W = _inputs()

    def g(x, W):
        y = _view_read_in_the_other_branch(x, W)
        return y, dlgradient(y, x, W)
    y, (gx, gW) = dlfeval(g, dlarray(x), dlarray(W))
    _check(_view_read_in_the_other_branch, y, gx, gW, x, W)
    loss, gW2, out = dlfeval(_gradient_written_row_by_row, dlarray(x), dlarray(W))
    expected = 2 * numerical_gradient(lambda x, W: _rows_plain_sum(x, W), [x, W], 1)
    np.testing.assert_allclose(D(gW2), expected, rtol=1e-5, atol=1e-8)
    np.testing.assert_array_equal(D(out), D(gW2))       # `out = gW`: the same array, as in Python


def _rows_plain_sum(x, W):
    acc = np.zeros((T, x.shape[0]))
    s = x
    for t in range(T):
        s = np.tanh(W @ s)
        acc[t] += s
    return np.sum(acc ** 2) / T
