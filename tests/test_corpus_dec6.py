"""Red team corpus7 (dec6): a peer's corpus of real functions.

About 1,000 probes of losses, layers, statistics, physics, optimisation and GP code found no wrong
value or gradient; the one change is a false refusal: the Hessian built row by row in a list
comprehension, ``H = np.stack([dlgradient(g[i], x) for i in range(3)])``, then differentiated again
(a Newton step inside the loss), was refused ("a gradient computed inside a loop cannot be
differentiated again") while the same rows written as ``for i in range(3): H[i] = dlgradient(g[i], x)``
ran.  sct/unroll.py now writes such a comprehension out as the list of its items, as it writes the
for loop out step by step.
"""
import numpy as np
import pytest

import sct
from sct import dlarray, dlfeval, dlgradient
from gradcheck import assert_close, numerical_gradient


def newton_plain(x):
    g = 4 * x ** 3
    g[0] += x[1] ** 2
    g[1] += 2 * x[0] * x[1]
    H = np.diag(12 * x ** 2)
    H[0, 1] += 2 * x[1]
    H[1, 0] += 2 * x[1]
    H[1, 1] += 2 * x[0]
    step = np.linalg.solve(H + np.eye(3), g)
    return np.sum((x - step) ** 2)


def newton_stack(x):
    f = np.sum(x ** 4) + x[0] * x[1] ** 2
    g = dlgradient(f, x)
    H = np.stack([dlgradient(g[i], x) for i in range(3)])
    step = np.linalg.solve(H + np.eye(3), g)
    val = np.sum((x - step) ** 2)
    return val, dlgradient(val, x)


def newton_array_of_rows(x):
    f = np.sum(x ** 4) + x[0] * x[1] ** 2
    g = dlgradient(f, x)
    rows = [dlgradient(g[k], x) for k in range(0, 3, 1)]
    H = np.array(rows)
    step = np.linalg.solve(H + np.eye(3), g)
    val = np.sum((x - step) ** 2)
    return val, dlgradient(val, x)


def hessian_trace_penalty(x):
    f = np.sum(np.sin(x) * x[::-1]) + np.prod(x[:2])
    g = dlgradient(f, x)
    diag = np.array([dlgradient(g[i], x)[i] for i in range(3)])
    val = f + 0.1 * np.sum(diag ** 2)
    return val, dlgradient(val, x)


def hessian_trace_plain(x):
    f = np.sum(np.sin(x) * x[::-1]) + np.prod(x[:2])
    # d2/dxi2 of sum_j sin(x_j) x_{2-j}: -sin(x_i) x_{2-i}, plus 2 cos(x_1) for the middle term
    diag = -np.sin(x) * x[::-1]
    diag[1] += 2 * np.cos(x[1])
    return f + 0.1 * np.sum(diag ** 2)


X = np.array([0.5, -0.7, 1.2])


@pytest.mark.parametrize("fun, plain", [(newton_stack, newton_plain),
                                        (newton_array_of_rows, newton_plain),
                                        (hessian_trace_penalty, hessian_trace_plain)])
def test_hessian_rows_in_a_comprehension_differentiated_again(fun, plain):
    val, grad = dlfeval(fun, dlarray(X.copy()))
    assert_close(np.asarray(val.data), plain(X.copy()), rtol=1e-12, atol=1e-12, what="value")
    assert_close(np.asarray(grad.data), numerical_gradient(plain, [X.copy()], 0), what="gradient")


def late_lambdas(x):
    f = np.sum(x ** 3)
    g = dlgradient(f, x)
    fs = [lambda: dlgradient(g[i], x) for i in range(3)]      # every lambda reads the last i
    H = np.stack([h() for h in fs])
    val = np.sum(H)
    return val, dlgradient(val, x)


def test_comprehension_with_late_binding_lambda_not_written_out():
    # Python: each lambda reads i == 2, so H's rows are all row 2 (6 x[2] e_2); not written out with
    # i = 0, 1, 2 (a different value): sct runs it as Python does or refuses
    try:
        val, grad = dlfeval(late_lambdas, dlarray(X.copy()))
    except sct.SctError:
        return
    assert_close(np.asarray(val.data), 3 * 6 * X[2], what="value")
    assert_close(np.asarray(grad.data), np.array([0.0, 0.0, 18.0]), what="gradient")


def rows_unknown_count(x, n):
    f = np.sum(x ** 4)
    g = dlgradient(f, x)
    H = np.stack([dlgradient(g[i], x) for i in range(n)])
    val = np.sum(H)
    return val, dlgradient(val, x)


def test_comprehension_over_a_range_of_an_int_argument():
    # (s56, glob56: an int argument's value is in the cache key, the comprehension written out; was refused)
    for n in (3, 2):
        val, grad = dlfeval(rows_unknown_count, dlarray(X.copy()), n)
        x = np.asarray(X, dtype=float)
        assert_close(np.asarray(val.data), 12 * np.sum(x[:n] ** 2), what="value")
        assert_close(np.asarray(grad.data), np.where(np.arange(x.size) < n, 24 * x, 0.0), what="gradient")


# --- writes through `.flat` --------------------------------------------------------------------------
# GP code adds jitter to a kernel's diagonal with `K.flat[::n + 1] += jitter` (and fills buffers with
# `out.flat[i] = v`); sct refused every write through `.flat` of a traced array ("write into K by its
# indices instead").  sct/normalize.py FlatReads now writes `x.flat[i] op= v` as `x[rt.flat_index(x, i)]
# op= v` (the same elements, in flat's C order), and `x.flat[i] = v` with v given one value or one per
# element (numpy repeats other counts: refused).

def gp_flat_jitter(theta, X, y):
    ls = np.exp(theta[0])
    d2 = np.sum((X[:, None, :] - X[None, :, :]) ** 2, axis=-1)
    K = np.exp(-0.5 * d2 / ls ** 2)
    K.flat[:: K.shape[0] + 1] += np.exp(theta[1])
    alpha = np.linalg.solve(K, y)
    return 0.5 * y @ alpha + 0.5 * np.linalg.slogdet(K)[1]


def flat_set_values(x):
    K = np.outer(x, x)
    K.flat[::4] = x ** 2 + 1          # one value per element written
    K.flat[1] = 10 * x[2]             # one element
    K.flat[-1] += x[0]
    return np.sum(K * np.arange(9).reshape(3, 3))


def flat_fill_buffer(x):
    out = np.zeros((2, 3))
    for i in range(6):
        out.flat[i] = x[i % 3] ** 2 * (i + 1)
    return np.sum(out @ np.ones(3))


def flat_of_a_view(x):
    A = np.outer(x, x)
    K = A[:2]                         # a view: the writes reach A
    K.flat[1:4] *= 3.0
    return np.sum(A * np.arange(9).reshape(3, 3))


def flat_of_a_transpose(x):
    K = np.outer(x, np.arange(1.0, 4.0)).T     # flat walks K's C order, not its memory's
    K.flat[1:3] = x[:2] * 5
    return np.sum(K * np.arange(9).reshape(3, 3))


def flat_duplicates(x):
    K = np.outer(x, x)
    K.flat[[1, 1, 2]] += x            # buffered as numpy's: the repeated element takes the last value
    return np.sum(K * np.arange(9).reshape(3, 3))


RNG = np.random.default_rng(6)
XG, YG = RNG.standard_normal((5, 2)), RNG.standard_normal(5)


def _gradient_of(f, x, *data):
    y = f(x, *data)
    return y, dlgradient(y, x)


def _second(f, x, v, *data):
    y = f(x, *data)
    g = dlgradient(y, x)
    z = np.sum(g * v)
    return z, dlgradient(z, x)


@pytest.mark.parametrize("fun, x, data", [
    (gp_flat_jitter, np.array([0.2, -1.0]), (XG, YG)),
    (flat_set_values, np.array([0.5, -1.2, 0.8]), ()),
    (flat_fill_buffer, np.array([0.5, -1.2, 0.8]), ()),
    (flat_of_a_view, np.array([0.5, -1.2, 0.8]), ()),
    (flat_of_a_transpose, np.array([0.5, -1.2, 0.8]), ()),
    (flat_duplicates, np.array([0.5, -1.2, 0.8]), ()),
], ids=lambda v: getattr(v, "__name__", ""))
def test_writes_through_flat(fun, x, data):
    y, g = dlfeval(_gradient_of, fun, dlarray(x.copy()), *data)
    assert_close(np.asarray(y.data), fun(x.copy(), *data), rtol=1e-12, atol=1e-12, what="value")
    plain = lambda v: fun(v, *data)
    assert_close(np.asarray(g.data), numerical_gradient(plain, [x.copy()], 0), what="gradient")
    # second order (the written-out index is a constant of the sweep) and float32
    v = np.linspace(-1.0, 1.0, x.size)
    _, hv = dlfeval(_second, fun, dlarray(x.copy()), v, *data)
    h = 1e-5
    gp = np.asarray(dlfeval(_gradient_of, fun, dlarray(x + h * v), *data)[1].data)
    gm = np.asarray(dlfeval(_gradient_of, fun, dlarray(x - h * v), *data)[1].data)
    assert_close(np.asarray(hv.data), (gp - gm) / (2 * h), rtol=1e-4, atol=1e-5, what="Hessian-vector product")
    y32, g32 = dlfeval(_gradient_of, fun, dlarray(x.astype(np.float32)), *data)
    assert g32.data.dtype == np.float32
    assert np.asarray(y32.data).dtype == np.asarray(fun(x.astype(np.float32), *data)).dtype


def flat_repeated_values(x):
    K = np.outer(x, x)
    K.flat[::4] = x[:2]               # numpy repeats the 2 values over the 3 elements
    return np.sum(K)


def test_flat_write_numpy_would_repeat_is_refused():
    with pytest.raises(sct.EvaluationError, match="repeats or cuts"):
        dlfeval(_gradient_of, flat_repeated_values, dlarray(np.array([0.5, -1.2, 0.8])))
