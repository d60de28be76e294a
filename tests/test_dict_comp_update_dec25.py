"""Gradient descent written with a dict comprehension inside dlfeval (``p = {k: v - lr * g[k] for
k, v in p.items()}`` in a loop) is accepted and right: the new dict's string keys are not items of
the old p (sct/copy_checks.py ``_held_part``), numbers' and arrays' arithmetic makes new values, and
the normalizer's ``p_new = rt.setitem(p_new, key, v)`` is not a second name of p_new's value
(``_fills_itself``).  Was: refused with a message naming the internal ``p_new``.  The forms where a
second name of a value y reads does exist stay refused or give the full derivative."""
import numpy as np

from sct import dlarray, dlfeval, dlgradient
from sct.errors import CompileError
from gradcheck import numerical_gradient


def loss(p, A):
    return np.sum((A @ p["w"] + p["b"] - 1.0) ** 2)


def descend(p, A):
    for _ in range(3):
        g = dlgradient(loss(p, A), p)
        p = {k: v - 0.05 * g[k] for k, v in p.items()}
    return loss(p, A), p


def descend_plain(w, b, A):
    for _ in range(3):
        r = A @ w + b - 1.0
        w, b = w - 0.05 * 2 * A.T @ r, b - 0.05 * 2 * np.sum(r)
    return np.sum((A @ w + b - 1.0) ** 2), w, b


def test_dict_comprehension_descent_in_a_loop():
    rng = np.random.default_rng(3)
    A, w, b = rng.standard_normal((3, 2)), rng.standard_normal(2), np.array(0.3)
    for _ in range(2):                                    # the cached entry too
        value, p = dlfeval(descend, {"w": dlarray(w), "b": dlarray(b)}, A)
        want = descend_plain(w, b, A)
        np.testing.assert_allclose(float(value), want[0], rtol=1e-12)
        np.testing.assert_allclose(p["w"].data, want[1], rtol=1e-12)
        np.testing.assert_allclose(np.asarray(p["b"].data), want[2], rtol=1e-12)
        w = w + 0.1


def descend_then_grad(p, A):
    for _ in range(2):
        g = dlgradient(loss(p, A), p, EnableHigherDerivatives=False)
        p = {k: v - 0.1 * g[k] for k, v in p.items()}
    y = loss(p, A)
    return y, dlgradient(y, p)


def test_gradient_after_comprehension_updates():
    rng = np.random.default_rng(4)
    A, w, b = rng.standard_normal((3, 2)), rng.standard_normal(2), np.array(-0.2)
    y, g = dlfeval(descend_then_grad, {"w": dlarray(w), "b": dlarray(b)}, A)
    _, w2, b2 = descend_plain_n(w, b, A, 2, 0.1)
    want_w = numerical_gradient(lambda w_: float(np.sum((A @ w_ + b2 - 1.0) ** 2)), [w2], 0)
    want_b = numerical_gradient(lambda b_: float(np.sum((A @ w2 + b_ - 1.0) ** 2)), [b2], 0)
    np.testing.assert_allclose(g["w"].data, want_w, rtol=1e-6, atol=1e-8)
    np.testing.assert_allclose(np.asarray(g["b"].data), want_b, rtol=1e-6, atol=1e-8)


def descend_plain_n(w, b, A, n, lr):
    for _ in range(n):
        r = A @ w + b - 1.0
        w, b = w - lr * 2 * A.T @ r, b - lr * 2 * np.sum(r)
    return None, w, b


def test_through_the_gradient_of_the_updates():
    # the final loss as a function of the starting parameters, through two comprehension updates
    def run(p, A):
        q = p
        for _ in range(2):
            g = dlgradient(loss(q, A), q)
            q = {k: v - 0.1 * g[k] for k, v in q.items()}
        return loss(q, A)

    def outer(p, A):
        y = run(p, A)
        return y, dlgradient(y, p)

    rng = np.random.default_rng(5)
    A, w, b = rng.standard_normal((3, 2)), rng.standard_normal(2), np.array(0.1)
    try:
        y, g = dlfeval(outer, {"w": dlarray(w), "b": dlarray(b)}, A)
    except CompileError as e:                          # refusing is allowed; a wrong number is not
        assert "p_new" not in str(e)
        return
    f = lambda w_, b_: descend_plain_n(w_, b_, A, 2, 0.1)   # noqa: E731
    want_w = numerical_gradient(lambda w_: float(np.sum((A @ f(w_, b)[1] + f(w_, b)[2] - 1.0) ** 2)), [w], 0)
    np.testing.assert_allclose(g["w"].data, want_w, rtol=1e-5, atol=1e-7)


def keeps_items(p, x):
    q = {k: v for k, v in p.items()}          # q's items are p's arrays
    y = np.sum(q["w"] * x) + np.sum(p["w"] ** 2)
    return dlgradient(y, q)


def keeps_items_scaled(p, x):
    q = {k: v * 1.0 for k, v in p.items()}     # new arrays
    y = np.sum(q["w"] * x) + np.sum(p["w"] ** 2)
    return dlgradient(y, q)


def test_a_comprehension_holding_the_same_arrays_is_not_a_new_value():
    w, x = np.array([0.5, -1.5]), np.array([2.0, 3.0])
    try:
        g = dlfeval(keeps_items, {"w": dlarray(w)}, x)
    except CompileError:
        pass
    else:                                     # q["w"] is p["w"]: both uses count
        np.testing.assert_allclose(g["w"].data, x + 2 * w, rtol=1e-12)
    g = dlfeval(keeps_items_scaled, {"w": dlarray(w)}, x)
    np.testing.assert_allclose(g["w"].data, x, rtol=1e-12)


def alias_in_loop(p, x):
    for _ in range(2):
        old = p
        y = np.sum(p["w"] * x) + np.sum(old["w"] ** 2)
        g = dlgradient(y, p)
        p = {k: v - 0.1 * g[k] for k, v in p.items()}
    return p["w"]


def alias_in_loop_plain(w, x):
    for _ in range(2):
        g = x + 2 * w
        w = w - 0.1 * g
    return w


def test_a_second_name_read_by_y_in_the_loop():
    w, x = np.array([0.5, -1.5]), np.array([2.0, 3.0])
    try:
        got = dlfeval(alias_in_loop, {"w": dlarray(w)}, x)
    except CompileError:
        return
    np.testing.assert_allclose(got.data, alias_in_loop_plain(w, x), rtol=1e-12)


def list_comp_descent(ws, x):
    for _ in range(2):
        y = sum(np.sum(w * x) ** 2 for w in ws)
        g = dlgradient(y, ws)
        ws = [w - 0.1 * gi for w, gi in zip(ws, g)]
    return ws


def test_list_comprehension_descent():
    x = np.array([0.3, -0.7])
    ws = [np.array([1.0, 2.0]), np.array([-0.5, 0.25])]
    try:
        got = dlfeval(list_comp_descent, [dlarray(w) for w in ws], x)
    except CompileError as e:
        assert "_new" not in str(e)
        return
    want = [w.copy() for w in ws]
    for _ in range(2):
        g = [2 * np.sum(w * x) * x for w in want]
        want = [w - 0.1 * gi for w, gi in zip(want, g)]
    for a, b in zip(got, want):
        np.testing.assert_allclose(a.data, b, rtol=1e-12)
