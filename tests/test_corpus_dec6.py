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


def test_comprehension_over_a_range_not_constant_still_refused():
    with pytest.raises(sct.CompileError, match="inside a loop"):
        dlfeval(rows_unknown_count, dlarray(X.copy()), 3)
