"""Rows of a preallocated array added to in a loop (``acc[t] += s``) without a copy of the whole
array per iteration (sct/optimize.py ``released_views``, ``owned_setitems``' ``add_index_grad_owned``,
``owned_zero_at``'s release): the row read first (``acc[t]``, a view that held ``acc``) is
released before the write, the adjoint adds the row's gradient into its own array, and the
adjoint's name that still held that array is deleted once read.  Values against plain Python,
gradients against finite differences, second order too; every place where something else holds
the array still copies (the same numbers)."""
import numpy as np
import pytest

import sct
from gradcheck import D, numerical_gradient
from sct import dlarray, dlfeval, dlgradient
from sct.runtime import support

T = 300             # T * n >= 2048 items: the row's view is released by a shape proxy


def accumulate(x, W):
    n = x.shape[0]
    acc = np.zeros((T, n))
    s = x
    for t in range(T):
        s = np.tanh(W @ s)
        acc[t] += s
        acc[t] += 0.5 * s * s
    return np.sum(acc ** 2) / T


def accumulate_grad(x, W):
    loss = accumulate(x, W)
    return loss, dlgradient(loss, x, W)


def inputs(n=8):
    rng = np.random.default_rng(0)
    return rng.standard_normal(n), rng.standard_normal((n, n)) * 0.4


def _assert_gradients_exact(plain, x, W, gx, gW):
    np.testing.assert_allclose(D(gx), numerical_gradient(plain, [x, W], 0), rtol=1e-6, atol=1e-9)
    np.testing.assert_allclose(D(gW), numerical_gradient(plain, [x, W], 1), rtol=1e-6, atol=1e-9)


def _check_against_plain(plain, x, W):
    """``plain(x, W)`` run by dlfeval with the gradients of both: its value against plain Python's,
    the gradients against finite differences."""
    def g(x, W):
        y = plain(x, W)
        return y, dlgradient(y, x, W)
    y, (gx, gW) = dlfeval(g, dlarray(x), dlarray(W))
    assert float(D(y)) == pytest.approx(plain(x, W), rel=1e-12)
    _assert_gradients_exact(plain, x, W, gx, gW)


def _counting(monkeypatch, name):
    calls = [0]
    original = getattr(support, name)

    def counted(*args):
        calls[0] += 1
        return original(*args)
    monkeypatch.setattr(support, name, counted)
    return calls


def test_rows_added_to_in_a_loop_are_exact_and_written_in_place(monkeypatch):
    x, W = inputs()
    y, (gx, gW) = dlfeval(accumulate_grad, dlarray(x), dlarray(W))
    assert float(D(y)) == accumulate(x, W)
    _assert_gradients_exact(accumulate, x, W, gx, gW)
    text = str(sct.source(accumulate_grad, dlarray(x), dlarray(W), callees=True))
    assert "acc_item = rt.shape_proxy(acc_item)" in text
    assert "rt.add_index_grad_owned(d_acc, " in text
    assert "del d_acc_out" in text
    # the fallbacks copy the whole array: none is taken once the function is compiled
    copies = [_counting(monkeypatch, name) for name in ("setitem", "add_index_grad", "zero_at")]
    y2, (gx2, gW2) = dlfeval(accumulate_grad, dlarray(x), dlarray(W))
    assert [c[0] for c in copies] == [0, 0, 0]
    assert float(D(y2)) == float(D(y))
    np.testing.assert_array_equal(D(gW2), D(gW))


def test_the_same_under_dlaccelerate_and_float32():
    x, W = inputs()
    fast = sct.dlaccelerate(accumulate_grad)
    for _ in range(2):
        y, (gx, gW) = dlfeval(fast, dlarray(x), dlarray(W))
        assert float(D(y)) == accumulate(x, W)
        np.testing.assert_allclose(D(gW), numerical_gradient(accumulate, [x, W], 1), rtol=1e-6, atol=1e-9)
    x32, W32 = x.astype(np.float32), W.astype(np.float32)
    y, (gx, gW) = dlfeval(accumulate_grad, dlarray(x32), dlarray(W32))
    assert D(gW).dtype == np.float32
    assert float(D(y)) == pytest.approx(float(accumulate(x32, W32)), rel=1e-6)
    np.testing.assert_allclose(D(gW), numerical_gradient(accumulate, [x, W], 1), rtol=2e-3, atol=1e-4)


def test_second_order_through_rows_added_to():
    x, W = inputs(4)

    def gradnorm(x, W):
        loss = accumulate(x, W)
        g = dlgradient(loss, W, EnableHigherDerivatives=True)
        return np.sum(g ** 2)

    def second(x, W):
        h = gradnorm(x, W)
        return h, dlgradient(h, x)

    def plain_gradnorm(x):
        return float(D(dlfeval(gradnorm, dlarray(x), dlarray(W))))
    h, gx = dlfeval(second, dlarray(x), dlarray(W))
    np.testing.assert_allclose(D(gx), numerical_gradient(plain_gradnorm, [x], 0), rtol=1e-5, atol=1e-8)


def test_a_view_of_the_row_kept_by_the_user_and_read_after_the_write_is_exact():
    """``row = acc[t]`` kept and read after the write (numpy's view shows the new values): was refused at
    the user's line; since the item write-backs of wt-w (1a045be) followed: values and gradients as plain
    Python's and finite differences."""
    def f(x):
        acc = np.zeros((T, x.shape[0]))
        total = 0.0
        for t in range(T):
            row = acc[t]
            acc[t] += x * t / T
            total = total + np.sum(row * x)
        return total + np.sum(acc)

    def g(x):
        y = f(x)
        return y, dlgradient(y, x)
    x = inputs()[0]
    y, gx = dlfeval(g, dlarray(x))
    assert float(D(y)) == pytest.approx(float(f(x)), rel=1e-12)
    np.testing.assert_allclose(D(gx), numerical_gradient(f, [x], 0), rtol=1e-6, atol=1e-7)


@pytest.mark.parametrize("form", ["slice_rows", "earlier_row", "column", "returned", "helper_row"])
def test_other_forms_of_row_accumulation_are_exact(form):
    def f(x, W):
        n = x.shape[0]
        acc = np.zeros((T, n))
        s = x
        for t in range(1, T - 1):
            s = np.tanh(W @ s)
            if form == "slice_rows":
                acc[t:t + 2] += np.stack([s, 2 * s])
            elif form == "earlier_row":
                acc[t] += s + 0.5 * acc[t - 1]
            elif form == "column":
                acc[:, t % n] += 0.01 * s[0]
            elif form == "returned":
                acc[t] += s
            else:
                acc[t] += _bump(s, acc[t - 1])
        return acc if form == "returned" else np.sum(acc ** 2) / T

    def loss(x, W):
        out = f(x, W)
        return np.sum(np.sin(out)) if form == "returned" else out

    _check_against_plain(loss, *inputs())


def _bump(s, prev):
    return s * 0.5 + prev * 0.25


def test_the_adjoint_held_elsewhere_is_not_written_into():
    """The loss reads the accumulated array twice (two adjoint contributions meet in one name):
    the row gradients still land where they belong."""
    def f(x, W):
        acc = np.zeros((T, x.shape[0]))
        s = x
        for t in range(T):
            s = np.tanh(W @ s)
            acc[t] += s
        return np.sum(acc ** 2) + np.sum(acc[::3] * 0.5) + np.sum(acc[T // 2])

    def g(x, W):
        y = f(x, W)
        return y, dlgradient(y, W)
    x, W = inputs()
    y, gW = dlfeval(g, dlarray(x), dlarray(W))
    assert float(D(y)) == pytest.approx(f(x, W), rel=1e-12)
    np.testing.assert_allclose(D(gW), numerical_gradient(f, [x, W], 1), rtol=1e-6, atol=1e-9)


def test_add_index_grad_owned_matches_add_index_grad_and_copies_where_held():
    rng = np.random.default_rng(1)
    like = np.zeros((5, 3))
    for idx in (2, -1, slice(1, 4), slice(None, None, 2)):
        total = rng.standard_normal((5, 3))
        grad = rng.standard_normal(np.shape(like[idx]))
        expected = support.add_index_grad(total.copy(), grad, like, idx)
        held = total                                    # a second name: not written into
        out = support.add_index_grad_owned(total, grad, like, idx)
        np.testing.assert_array_equal(out, expected)
        assert out is not held and not np.shares_memory(out, held)
    # a broadcast gradient, another dtype, an index array (a position twice): the plain call
    total = np.zeros((5, 3))
    out = support.add_index_grad_owned(total, np.ones(3, np.float32), like, 1)
    np.testing.assert_array_equal(out[1], np.ones(3))
    idx = np.array([1, 1])
    np.testing.assert_array_equal(support.add_index_grad_owned(np.zeros((5, 3)), np.ones((2, 3)), like, idx),
                                  support.add_index_grad(np.zeros((5, 3)), np.ones((2, 3)), like, idx))


def _named_row(x, W):
    acc = np.zeros((T, x.shape[0]))
    s = x
    for t in range(T):
        s = np.tanh(W @ s)
        row = acc[t]
        acc[t] = row + s
    return np.sum(acc ** 2) / T


def _row_copy_read_next_turn(x, W):
    acc = np.zeros((T, x.shape[0]))
    s = x
    z = 0.0
    row = np.zeros(x.shape[0])
    for t in range(T):
        s = np.tanh(W @ s)
        z = z + np.sum(row * s)         # the previous turn's row: a copy was taken
        row = acc[t].copy()
        acc[t] = row + s
    return np.sum(acc ** 2) / T + z


def _row_value_kept(x, W):
    acc = np.zeros((T, x.shape[0]))
    s = x
    z = 0.0
    for t in range(T):
        s = np.tanh(W @ s)
        kept = acc[t] + s
        acc[t] = kept
        z = z + np.sum(kept ** 2)
    return np.sum(acc ** 2) / T + z


def _two_arrays(x, W):
    acc = np.zeros((T, x.shape[0]))
    other = np.ones((T, x.shape[0]))
    s = x
    for t in range(T):
        s = np.tanh(W @ s)
        r = other[t]
        acc[t] += r * s
        other[t] = s
    return np.sum(acc ** 2) / T + np.sum(other * acc)


def _row_in_branch(x, W):
    acc = np.zeros((T, x.shape[0]))
    s = x
    for t in range(T):
        s = np.tanh(W @ s)
        if t % 3 == 0:
            acc[t] += s
        else:
            acc[t] = acc[t - 1] * 0.5 + s
    return np.sum(acc ** 2) / T


def _part_of_row(x, W):
    acc = np.zeros((T, x.shape[0]))
    s = x
    for t in range(T):
        s = np.tanh(W @ s)
        part = acc[t, 1:]
        acc[t, 1:] = part + s[1:]
        acc[t, 0] += s[0]
    return np.sum(acc ** 2) / T


@pytest.mark.parametrize("f", [_named_row, _row_copy_read_next_turn, _row_value_kept, _two_arrays,
                               _row_in_branch, _part_of_row], ids=lambda f: f.__name__)
def test_rows_the_user_names_are_exact(f):
    _check_against_plain(f, *inputs())


def _top_level_grad(x, W):
    acc = np.zeros((T, x.shape[0]))
    s = x
    for t in range(T):
        s = np.tanh(W @ s)
        acc[t] += s
    loss = np.sum(acc ** 2) / T
    return loss, dlgradient(loss, x, W)


def test_rows_added_to_in_the_function_dlfeval_runs_are_written_in_place(monkeypatch):
    """The same loop in the function given to dlfeval: its sweep reads the last row's view only for
    its shape, so the forward passes it as ``rt.shape_proxy(acc_item)`` and releases it."""
    def plain(x, W):
        acc = np.zeros((T, x.shape[0]))
        s = x
        for t in range(T):
            s = np.tanh(W @ s)
            acc[t] += s
        return np.sum(acc ** 2) / T
    x, W = inputs()
    y, (gx, gW) = dlfeval(_top_level_grad, dlarray(x), dlarray(W))
    assert float(D(y)) == plain(x, W)
    _assert_gradients_exact(plain, x, W, gx, gW)
    text = str(sct.source(_top_level_grad, dlarray(x), dlarray(W)))
    assert "rt.shape_proxy(acc_item), " in text and "acc_item = rt.shape_proxy(acc_item)" in text
    copies = [_counting(monkeypatch, name) for name in ("setitem", "add_index_grad", "zero_at")]
    dlfeval(_top_level_grad, dlarray(x), dlarray(W))
    assert [c[0] for c in copies] == [0, 0, 0]


def test_second_order_of_rows_added_to_in_the_function_dlfeval_runs():
    def second(x, W):
        acc = np.zeros((T, x.shape[0]))
        s = x
        for t in range(T):
            s = np.tanh(W @ s)
            acc[t] += s
        loss = np.sum(acc ** 2) / T
        g = dlgradient(loss, W, EnableHigherDerivatives=True)
        h = np.sum(g ** 2)
        return h, dlgradient(h, x)

    def first(x, W):
        acc = np.zeros((T, x.shape[0]))
        s = x
        for t in range(T):
            s = np.tanh(W @ s)
            acc[t] += s
        loss = np.sum(acc ** 2) / T
        return np.sum(dlgradient(loss, W) ** 2)

    x, W = inputs(4)
    h, gx = dlfeval(second, dlarray(x), dlarray(W))
    assert float(D(h)) == pytest.approx(float(D(dlfeval(first, dlarray(x), dlarray(W)))), rel=1e-12)
    numeric = numerical_gradient(lambda x: float(D(dlfeval(first, dlarray(x), dlarray(W)))), [x], 0)
    np.testing.assert_allclose(D(gx), numeric, rtol=1e-5, atol=1e-8)


def _one_name_add(total, grad, like, idx):
    # the call form generated code uses (one name rebound): written in place where it may be
    total = support.add_index_grad_owned(total, grad, like, idx)
    return total


@pytest.mark.parametrize("shape, idx, grad_shape", [
    ((3,), 1, ()),                      # one element: numpy gives a scalar, not a view
    ((3, 4), (1, 2), ()),
    ((3, 4), 2, (4,)),
    ((3, 4), (slice(None), 1), (3,)),
    ((3, 4), (slice(0, 2), slice(1, 3)), (2, 2)),
    ((2, 3, 4), (1, slice(None), 2), (3,)),
    ((3, 4), -1, (4,)),
])
def test_add_index_grad_owned_adds_every_index_form(shape, idx, grad_shape):
    """Was: a 0-d gradient added at one element of a vector (``total[1]`` is a numpy scalar, not a
    view) left ``total`` unchanged, silently."""
    rng = np.random.default_rng(2)
    like = np.zeros(shape)
    total = rng.standard_normal(shape)
    grad = np.asarray(rng.standard_normal(grad_shape))
    expected = support.add_index_grad(total.copy(), grad, like, idx)
    np.testing.assert_array_equal(_one_name_add(total, grad, like, idx), expected)


def test_index_adjoint_of_a_list_slice_matches_the_item_loop():
    """index_adjoint of ``x[a:b]`` for a list or tuple x copies the slice's adjoint in one step
    (was a Python loop over it: the adjoint of every pop ``t = t[:-1]`` of a tape in a second
    derivative through a loop, quadratic in the steps); the same items in every case."""
    zero = support.ZERO
    for n in range(0, 6):
        for idx in (slice(start, stop, step) for start in (None, -3, 0, 2, 7) for stop in (None, -1, 0, 3, 9)
                    for step in (None, 1, 2, -1)):
            for m in range(0, 7):
                grad = [object() for _ in range(m)]
                for g in (grad, tuple(grad)):
                    for x in (list(range(n)), tuple(range(n))):
                        expected = [zero] * n
                        for pos, item in zip(range(*idx.indices(n)), g):
                            expected[pos] = item
                        got = support.index_adjoint(g, x, idx)
                        assert type(got) is type(x) and len(got) == n
                        assert all(a is b for a, b in zip(got, expected)), (n, idx, m)


def test_add_index_grad_owned_sets_an_item_of_a_list_adjoint_nothing_else_holds():
    like = [np.zeros(2), np.zeros(2), 3.0]
    for cur, grad in ((support.ZERO, np.ones(2)), (np.full(2, 2.0), np.ones(2)), (np.full(2, 2.0), support.ZERO),
                      (None, np.ones(2)), (np.full(2, 2.0), None)):
        expected = support.add_index_grad([np.ones(2), cur, None], grad, like, 1)
        held = [np.ones(2), cur, None]
        out = _one_name_add(held, grad, like, 1)            # held: a second name, so a copy
        assert out is not held
        got = _one_name_add([np.ones(2), cur, None], grad, like, 1)
        for a, b in zip(got, expected):
            assert support._is_zero(a) and support._is_zero(b) or np.array_equal(a, b)
        assert support._is_zero(got[1]) == support._is_zero(expected[1])


def test_second_order_through_a_long_loop_is_exact():
    """A second derivative through a loop of many steps (its tape popped as ``t = t[:-1]`` in the
    code differentiated again, whose adjoints are list adjoints set in place)."""
    def first(x, W):
        s = x
        for t in range(300):
            s = np.tanh(W @ s) * 0.9 + 0.1 * s
        y = np.sum(s ** 2)
        return np.sum(dlgradient(y, W) ** 2)

    def second(x, W):
        s = x
        for t in range(300):
            s = np.tanh(W @ s) * 0.9 + 0.1 * s
        y = np.sum(s ** 2)
        g = dlgradient(y, W, EnableHigherDerivatives=True)
        z = np.sum(g ** 2)
        return z, dlgradient(z, x)
    x, W = inputs(4)
    z, gx = dlfeval(second, dlarray(x), dlarray(W))
    assert float(D(z)) == pytest.approx(float(D(dlfeval(first, dlarray(x), dlarray(W)))), rel=1e-12)
    numeric = numerical_gradient(lambda x: float(D(dlfeval(first, dlarray(x), dlarray(W)))), [x], 0)
    np.testing.assert_allclose(D(gx), numeric, rtol=1e-5, atol=1e-8)


def _divergence_on_c(X):
    return sct.dldivergence(X ** 2, X, 0)


def _divergence_on_b(X):
    return sct.dldivergence(X ** 2, X, 1)


def test_a_matlab_operation_dimension_given_as_dim_of_a_labelled_x_is_refused():
    """MATLAB's dldivergence(Y, X, 1) of a "CB" X sums over C (its dim is the operation dimension);
    sct's dim is the batch axis (SPEC): for an x labelled with "B", a dim on another label is
    refused at the user's line, naming the axis to pass (was another result, silently)."""
    X = np.arange(6.0).reshape(3, 2)
    with pytest.raises(sct.CompileError, match=r'line \d+: dldivergence\(u, x, 0\): x is labelled "CB", .*'
                                                r'pass dldivergence\(u, x, 1\)'):
        dlfeval(_divergence_on_c, dlarray(X, "CB"))
    out = dlfeval(_divergence_on_b, dlarray(X, "CB"))
    np.testing.assert_allclose(D(out), np.sum(2 * X, axis=0))
    np.testing.assert_allclose(D(dlfeval(_divergence_on_c, dlarray(X))), np.sum(2 * X, axis=1))
