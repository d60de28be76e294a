"""Red team (Dec 1, h): programs written the way users write them, values against plain Python and
gradients against central differences."""
from __future__ import annotations

import numpy as np
import pytest

import sct
from sct import SctError, dlarray, dlfeval, dlgradient, extractdata
from gradcheck import assert_close, numerical_gradient

W = np.array([1.0, -2.0, 0.5])
X = np.array([[0.37, -1.21, 0.74], [1.13, 0.48, -0.66]])


# --- 1. sorted(..., key=lambda ...): the sweep calls the key, a nested def of the forward code ----
# (was: NameError 's_lambda' is not defined while computing the gradient)

def sorted_by_key(x):
    rows = [x[0], x[1] * 2.0, x[0] - x[1]]
    s = sorted(rows, key=lambda r: float(np.sum(r * W)))
    return np.sum(s[0] ** 2) + np.sum(s[-1] * W)


def sorted_by_key_grad(x):
    rows = [x[0], x[1] * 2.0, x[0] - x[1]]
    s = sorted(rows, key=lambda r: float(np.sum(r * W)))
    y = np.sum(s[0] ** 2) + np.sum(s[-1] * W)
    return y, dlgradient(y, x)


def sorted_in_loop(x):
    total = 0.0
    for i in range(3):
        rows = [x[0] * (i + 1.0), x[1], x[0] - x[1]]
        s = sorted(rows, key=lambda r: float(np.sum(r * W)), reverse=(i == 1))
        total = total + np.sum(s[0] ** 2) + np.sum(s[-1] * W)
    return total


def sorted_in_loop_grad(x):
    total = 0.0
    for i in range(3):
        rows = [x[0] * (i + 1.0), x[1], x[0] - x[1]]
        s = sorted(rows, key=lambda r: float(np.sum(r * W)), reverse=(i == 1))
        total = total + np.sum(s[0] ** 2) + np.sum(s[-1] * W)
    return total, dlgradient(total, x)


def sorted_by_def_key_grad(x):
    def key(r):
        return float(np.sum(r))
    rows = [x[0], x[1] * 2.0]
    s = sorted(rows, key=key)
    y = np.sum(s[-1] ** 2) + np.sum(min(rows, key=key) * W)
    return y, dlgradient(y, x)


def sorted_by_def_key(x):
    def key(r):
        return float(np.sum(r))
    rows = [x[0], x[1] * 2.0]
    s = sorted(rows, key=key)
    return np.sum(s[-1] ** 2) + np.sum(min(rows, key=key) * W)


def sorted_through_helper_grad(x):
    y = sorted_in_loop(x)
    return y, dlgradient(y, x)


@pytest.mark.parametrize("plain, graded", [(sorted_by_key, sorted_by_key_grad),
                                           (sorted_in_loop, sorted_in_loop_grad),
                                           (sorted_by_def_key, sorted_by_def_key_grad),
                                           (sorted_in_loop, sorted_through_helper_grad)])
def test_sorted_with_a_lambda_key(plain, graded):
    for _ in range(2):
        y, g = dlfeval(graded, dlarray(X))
        assert_close(extractdata(y), plain(X), what="value")
        assert_close(extractdata(g), numerical_gradient(plain, [X], 0), rtol=1e-5, atol=1e-6, what="gradient")


def sorted_key_second(x):
    c = x[1]
    rows = [x[0], x[1] * 2.0, x[0] * 0.5]
    s = sorted(rows, key=lambda r: float(np.sum((r - c) ** 2)))
    y = np.sum(s[0] * s[1] ** 2)
    g = dlgradient(y, x, EnableHigherDerivatives=True)
    z = np.sum(g * g)
    return z, dlgradient(z, x)


def test_sorted_with_a_lambda_key_second_order():
    def plain(v):
        rows, c = [v[0], v[1] * 2.0, v[0] * 0.5], v[1]
        s = sorted(rows, key=lambda r: float(np.sum((r - c) ** 2)))
        return np.sum(s[0] * s[1] ** 2)

    def first(v):
        return numerical_gradient(plain, [v], 0, 1e-5)
    z, g = dlfeval(sorted_key_second, dlarray(X))
    assert_close(extractdata(z), np.sum(first(X) ** 2), rtol=1e-4, atol=1e-4)
    assert_close(extractdata(g), numerical_gradient(lambda v: np.sum(first(v) ** 2), [X], 0, 1e-4),
                 rtol=1e-3, atol=1e-3)


# --- 2. dlgradient with respect to a name holding a value also reached through another name -----
# (was: the adjoint of that name alone: zeros for `x0 = x; x = x * 2; dlgradient(y, x0)`,
# zeros for a dict {"x": x, "w": w} built before x was reassigned)

V = np.array([0.37, -1.21, 0.74])
U = np.array([1.0, 2.0, -1.0])


def copy_of_argument(x):
    x0 = x
    x = x * 2.0
    y = np.sum(x ** 2)
    return dlgradient(y, x0), dlgradient(y, x)


def copy_used_both(x):
    x0 = x
    x = x * 2.0
    y = np.sum(x ** 2) + np.sum(x0)
    return dlgradient(y, x0)


def copy_of_local(x):
    a = x * 1.0
    a0 = a
    a = a * 2.0
    y = np.sum(a ** 2)
    return dlgradient(y, a0)


def item_of_argument(p):
    w0 = p["w"]
    p = {"w": p["w"] * 2.0}
    y = np.sum(p["w"] ** 2)
    return dlgradient(y, w0)


def dict_built_before(x, w):
    p = {"x": x, "w": w}
    x = x * w
    y = np.sum(x ** 2)
    return dlgradient(y, p)


def tuple_item_built_before(x, w):
    t = (x, w)
    a = t[0]
    y = np.sum(a * w ** 2) + np.sum(x)
    return dlgradient(y, a)


def unpacked(x, w):
    a, b = x, w
    y = np.sum(a * b ** 2) + np.sum(x)
    return dlgradient(y, a), dlgradient(y, b)


def test_gradient_with_respect_to_a_copy():
    g0, g = dlfeval(copy_of_argument, dlarray(V))
    assert_close(extractdata(g0), 8 * V)
    assert_close(extractdata(g), 4 * V)
    assert_close(extractdata(dlfeval(copy_used_both, dlarray(V))), 8 * V + 1)
    assert_close(extractdata(dlfeval(copy_of_local, dlarray(V))), 8 * V)
    assert_close(extractdata(dlfeval(item_of_argument, {"w": dlarray(V)})), 8 * V)
    g = dlfeval(dict_built_before, dlarray(V), dlarray(U))
    assert_close(extractdata(g["x"]), 2 * V * U ** 2)
    assert_close(extractdata(g["w"]), 2 * V ** 2 * U)
    assert_close(extractdata(dlfeval(tuple_item_built_before, dlarray(V), dlarray(U))), U ** 2 + 1)
    ga, gb = dlfeval(unpacked, dlarray(V), dlarray(U))
    assert_close(extractdata(ga), U ** 2 + 1)
    assert_close(extractdata(gb), 2 * V * U)


def copy_then_loop(x):
    orig = x
    for i in range(2):
        x = x * 2.0
    y = np.sum(x ** 2)
    return dlgradient(y, orig)


def test_copy_of_an_argument_assigned_again_in_a_loop():
    """orig holds x's value at the call (x bound again later): its gradient is that value's, through
    every name (dec23: was refused; tests/test_entry_copy_dec23.py).  x_final = 4 x: y = 16 |x|^2."""
    assert_close(extractdata(dlfeval(copy_then_loop, dlarray(V))), 32 * V)


def copy_of_local_then_loop(x):
    z = x * 1.5
    orig = z
    for i in range(2):
        z = z * 2.0
    y = np.sum(z ** 2)
    return dlgradient(y, orig)


def test_copy_of_a_local_assigned_again_in_a_loop_is_refused():
    with pytest.raises(sct.CompileError) as info:
        dlfeval(copy_of_local_then_loop, dlarray(V))
    assert info.value.lineno == copy_of_local_then_loop.__code__.co_firstlineno + 6
    assert "'orig'" in str(info.value) and "'z'" in str(info.value)


def copy_in_a_training_loop(p, x):
    total = 0.0
    for it in range(2):
        w = p["w"]
        y = np.sum(np.sin(w * x))
        g = dlgradient(y, w)
        total = total + np.sum(g)
        p = {"w": p["w"] - 0.1 * g}
    return total


def test_copy_inside_a_loop_still_works():
    w, xv = V.copy(), U.copy()
    expected = 0.0
    for it in range(2):
        g = np.cos(w * xv) * xv
        expected += np.sum(g)
        w = w - 0.1 * g
    assert_close(extractdata(dlfeval(copy_in_a_training_loop, {"w": dlarray(V)}, dlarray(U))), expected)


# --- 3. sorted(..., key=lambda ...) reading a name reassigned after the call -------------------
# (was refused at run time: the sweep called the key again, after the name changed; the
# order is now found in sorted's result by identity, the key runs once)

def key_reads_later_rebound(x):
    c = 1.0
    rows = [x[0], x[1], x[0] - x[1]]
    s = sorted(rows, key=lambda r: float(np.sum(r * W)) * c)
    c = -1.0
    return np.sum(s[0] * W) * c


def key_reads_later_rebound_grad(x):
    y = key_reads_later_rebound(x)
    return y, dlgradient(y, x)


def key_reads_loop_variable(x):
    total = 0.0
    for i in range(3):
        rows = [x[0], x[1], x[0] - x[1]]
        s = sorted(rows, key=lambda r: float(np.sum(r * W)) * (1.0 if i % 2 else -1.0))
        total = total + np.sum(s[0] * W) * (i + 1.0)
    return total


def key_reads_loop_variable_grad(x):
    y = key_reads_loop_variable(x)
    return y, dlgradient(y, x)


CALLS = []


def counting_key(r):
    CALLS.append(1)
    return float(np.sum(r))


def key_with_effect_grad(x):
    s = sorted([x[0], x[1] * 2.0], key=counting_key)
    y = np.sum(s[0] ** 2)
    return y, dlgradient(y, x)


@pytest.mark.parametrize("plain, graded", [(key_reads_later_rebound, key_reads_later_rebound_grad),
                                           (key_reads_loop_variable, key_reads_loop_variable_grad)])
def test_sorted_key_reading_a_name_reassigned_later(plain, graded):
    y, g = dlfeval(graded, dlarray(X))
    assert_close(extractdata(y), plain(X))
    assert_close(extractdata(g), numerical_gradient(plain, [X], 0))


def test_sorted_key_runs_once_per_item():
    CALLS.clear()
    y, g = dlfeval(key_with_effect_grad, dlarray(X))
    assert len(CALLS) == 2
    assert_close(extractdata(g), np.vstack([np.zeros(3), 8 * X[1]]) if np.sum(X[1] * 2) < np.sum(X[0])
                 else np.vstack([2 * X[0], np.zeros(3)]))


def test_sorted_rows_of_an_array_still_use_the_key():
    from sct.runtime.more_ops import sorted_order
    assert list(sorted_order(X, lambda r: float(np.sum(r)), False, sorted(X, key=lambda r: float(np.sum(r))))) == \
        list(np.argsort([np.sum(r) for r in X], kind="stable"))


def starred_list_built_before(x, w):
    xs = [x, w]
    y = np.sum(x * w ** 2)
    return dlgradient(y, *xs)


def test_starred_list_built_before_the_site():
    # (was: zeros for both)
    gx, gw = dlfeval(starred_list_built_before, dlarray(V), dlarray(U))
    assert_close(extractdata(gx), U ** 2)
    assert_close(extractdata(gw), 2 * V * U)


# --- 4. dlfeval with keywords (or a partial with keywords) of a function with a keyword-only
# parameter left at its default (was refused: "keyword-only arguments (p) cannot be passed yet")

def keyword_only_default(x, w, scale=1.0, *, p=2):
    y = np.sum((x * w) ** p) * scale
    return y, dlgradient(y, w)


def test_keyword_only_parameter_left_at_its_default():
    import functools
    for fun, kwargs in [(functools.partial(keyword_only_default, scale=3.0), {}),
                        (keyword_only_default, {"scale": 3.0}),
                        (keyword_only_default, {"w": dlarray(U), "scale": 3.0})]:
        args = (dlarray(V),) if "w" in kwargs else (dlarray(V), dlarray(U))
        for _ in range(2):
            y, g = dlfeval(fun, *args, **kwargs)
            assert_close(extractdata(y), 3.0 * np.sum((V * U) ** 2))
            assert_close(extractdata(g), 6.0 * V ** 2 * U)
    y, g = dlfeval(keyword_only_default, dlarray(V), dlarray(U), p=3)    # (dec 7: was refused)
    assert_close(extractdata(y), np.sum((V * U) ** 3))
    assert_close(extractdata(g), 3.0 * V ** 3 * U ** 2)


# --- 5. dljacobian / dldivergence / dllaplacian with respect to a copy (was zeros) ------------

def jacobian_of_copy(x):
    x0 = x
    x = x * 2.0
    return sct.dljacobian(np.tanh(x), x0, 0)


def divergence_of_copy(x):
    x0 = x
    x = x * 2.0
    return sct.dldivergence(np.tanh(x), x0, 0)


def laplacian_of_copy(x):
    x0 = x
    x = x * 2.0
    u = np.sum(x ** 3, axis=1, keepdims=True)
    return sct.dllaplacian(u, x0, 0)


def laplacian_of_copy_then_loop(x):
    x0 = x
    for _ in range(2):
        x = x * 2.0
    u = np.sum(x ** 3, axis=1, keepdims=True)
    return sct.dllaplacian(u, x0, 0)


def test_batch_derivatives_with_respect_to_a_copy():
    P = np.array([[0.37, -1.21], [0.74, 0.2]])
    d = 2 * (1 - np.tanh(2 * P) ** 2)
    J = extractdata(dlfeval(jacobian_of_copy, dlarray(P)))
    assert_close(J, np.stack([np.diag(r) for r in d]))
    assert_close(np.ravel(extractdata(dlfeval(divergence_of_copy, dlarray(P)))), np.sum(d, axis=1))
    assert_close(np.ravel(extractdata(dlfeval(laplacian_of_copy, dlarray(P)))), np.sum(48 * P, axis=1))
    with pytest.raises(sct.CompileError, match="cannot differentiate with respect to 'x0'"):
        dlfeval(laplacian_of_copy_then_loop, dlarray(P))


# a name bound once inside a loop holds a value per iteration: a copy of it taken on one iteration
# is not the name's last value

def first_of_loop(xs):
    for k in range(2):
        r = xs[k] * 1.0
        if k == 0:
            first = r
    y = np.sum(first ** 2) + np.sum(r)
    return dlgradient(y, first)


def kept_loop_target(xs):
    for r in xs:
        if np.sum(r) > 0:
            keep = r
    y = np.sum(keep ** 2) + np.sum(r * 3.0)
    return dlgradient(y, keep)


def last_after_loop(xs):
    for r in xs:
        h = r * 2.0
    last = r
    y = np.sum(last ** 2) + np.sum(r * 3.0) + np.sum(h)
    return dlgradient(y, last)


def test_copies_of_names_bound_in_loops():
    A, B = np.array([0.5, 1.0]), np.array([2.0, -3.0])
    # first_of_loop / kept_loop_target: the copy may be the value r holds after the loop (k == 1, or
    # both sums positive: the adjoint of the copy alone was then wrong, [4, 6] for [7, 9] with
    # B = [2, 3]); which one is decided at run time, so both are refused (tests/test_redteam_dec1i.py)
    for fn in (first_of_loop, kept_loop_target):
        with pytest.raises(sct.CompileError, match="holds too"):
            dlfeval(fn, [dlarray(A), dlarray(B)])
    assert_close(extractdata(dlfeval(last_after_loop, [dlarray(A), dlarray(B)])), 2 * B + 5)


def attribute_copy_with_a_field_set(model, x):
    w = model.w
    model.calls = model.calls + 1
    y = np.sum(np.sin(w * x))
    return dlgradient(y, w)


class _Model:
    def __init__(self, w):
        self.w = w
        self.calls = 0


def attribute_copy(model, x):
    w = model.w
    y = np.sum(x * w) + np.sum(model.w ** 2)
    return dlgradient(y, w)


def test_copies_of_attributes():
    m = _Model(dlarray(U))
    assert_close(extractdata(dlfeval(attribute_copy_with_a_field_set, m, V)), np.cos(U * V) * V)
    assert m.calls == 1
    assert_close(extractdata(dlfeval(attribute_copy, _Model(dlarray(U)), dlarray(V))), V + 2 * U)


# --- a complex value written into a real array: numpy keeps the array real (was: made it complex) ----

def _complex_into_real(x):
    h = np.zeros(3)
    h[0] = x[0] * np.exp(1j * x[1])          # numpy: ComplexWarning, the real part is kept
    h[1] = x[2] ** 2
    return np.sum(h * x)


def complex_into_real(x):
    y = _complex_into_real(x)
    return y, dlgradient(y, x)


def test_complex_value_into_a_real_array_keeps_numpys_real_part():
    import warnings
    x = np.array([0.7, 0.3, -1.2])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        expected = _complex_into_real(x)
        y, g = dlfeval(complex_into_real, dlarray(x))
        numeric = numerical_gradient(_complex_into_real, [x], 0)
    assert not np.iscomplexobj(np.asarray(y.data))
    np.testing.assert_allclose(float(np.asarray(y.data)), expected, rtol=1e-12)
    np.testing.assert_allclose(np.asarray(g.data), numeric, rtol=1e-6, atol=1e-8)
