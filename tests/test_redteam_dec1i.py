"""Red team (Dec 1, i): programs written the way users write them, values against plain Python and
gradients against central differences (tests/gradcheck.py)."""
from __future__ import annotations

import functools
import inspect

import numpy as np
import pytest

import sct
from sct import dlarray, dldivergence, dlfeval, dlgradient, dljacobian, dllaplacian, extractdata
from gradcheck import assert_close, numerical_gradient

P = np.array([[0.3, -0.7], [1.2, 0.4]])
V = np.array([0.3, -0.7, 1.2])


def point_jacobian(f, x, b):
    """Central-difference Jacobian of point b of f (points along axis 0, f(x)[b] a vector)."""
    def row(r, i):
        xs = np.array(x, dtype=float)
        xs[b] = r
        return f(xs)[b][i]
    return np.array([numerical_gradient(lambda r: row(r, i), [x[b].copy()], 0) for i in range(x.shape[1])])


# --- 1. dljacobian / dldivergence / dllaplacian of values computed in a loop -----------------------
# (was: IndexError "pop from empty list": the sweep runs once per component of u on the same
# values, and every run popped the one tape list)

def loop_value(x):
    h = x
    for i in range(3):
        h = np.sin(h) * x
    return h


def divergence_of_loop(x):
    h = x
    for i in range(3):
        h = np.sin(h) * x
    return dldivergence(h, x, 0)


def jacobian_of_while(x):
    h = x
    k = 0
    while k < 3:
        h = h + np.cos(h)
        k += 1
        if np.sum(h) > 100.0:
            break
    return dljacobian(h, x, 0)


def while_value(x):
    h = x
    for k in range(3):
        h = h + np.cos(h)
    return h


def laplacian_of_branch_in_loop(x):
    h = x
    for i in range(3):
        if i == 1:
            h = h * (x[:, 0:1] * 3.0)
    u = np.sum(h ** 2, axis=1, keepdims=True)
    return dllaplacian(u, x, 0)


def test_batch_derivatives_of_values_computed_in_loops():
    for _ in range(2):
        div = extractdata(dlfeval(divergence_of_loop, dlarray(P)))
        assert_close(np.ravel(div), [np.trace(point_jacobian(loop_value, P, b)) for b in range(2)])
        jac = extractdata(dlfeval(jacobian_of_while, dlarray(P)))
        assert_close(jac, np.stack([point_jacobian(while_value, P, b) for b in range(2)]))
        lap = extractdata(dlfeval(laplacian_of_branch_in_loop, dlarray(P)))
        # u = sum((3 x0 x)^2) = 9 x0^4 + 9 x0^2 x1^2: its Laplacian per point is 126 x0^2 + 18 x1^2
        x0, x1 = P[:, 0], P[:, 1]
        assert_close(np.ravel(lap), 126 * x0 ** 2 + 18 * x1 ** 2)


def divergences_in_a_loop(x):
    h = x
    outs = []
    for i in range(3):
        if i == 1:
            h = np.sin(h) * x
        else:
            h = h * 0.5 + np.cos(x)
        outs.append(dldivergence(h, x, 0))
    return outs[0], outs[1], outs[2]


def loop_prefix(x, n):
    h = x
    for i in range(n):
        if i == 1:
            h = np.sin(h) * x
        else:
            h = h * 0.5 + np.cos(x)
    return h


def test_batch_derivative_sites_inside_a_loop():
    for _ in range(2):
        got = dlfeval(divergences_in_a_loop, dlarray(P))
        for k in range(3):
            expected = [np.trace(point_jacobian(lambda x: loop_prefix(x, k + 1), P, b)) for b in range(2)]
            assert_close(np.ravel(extractdata(got[k])), expected)


# --- 2. dljacobian family with respect to a name bound in a branch or a loop ---------------------
# (was: the adjoint the sweep left after undoing the name's binding, projected on an older value:
# an AxisError, or IndexError pop from empty list)

def divergence_wrt_branch_name(x):
    z = x * 1.0
    if np.sum(x) > 0:
        z = x * 2.0
    u = np.sin(z) * x
    return dldivergence(u, z, 0)


def divergence_wrt_loop_name(x):
    for i in range(2):
        z = x * (i + 1.0)
    u = np.sin(z) * x
    return dldivergence(u, z, 0)


def test_batch_derivatives_with_respect_to_a_name_bound_in_a_branch_or_loop():
    expected = np.sum(np.cos(2 * P) * P, axis=1)
    for fn in (divergence_wrt_branch_name, divergence_wrt_loop_name):
        for _ in range(2):
            assert_close(np.ravel(extractdata(dlfeval(fn, dlarray(P)))), expected)


# --- 3. dlgradient with respect to a copy sct cannot follow: refused -----------------------------
# (each was a wrong gradient: the adjoint of the copy alone, missing the uses of the value through
# the other name)

def copy_in_a_branch(x):
    z = x if np.sum(x) > 0 else x * 2.0
    y = np.sum(z * x)                  # z is x: the gradient is 2 x (was x)
    return dlgradient(y, z)


def copy_bound_twice(x):
    x0 = x * 1.0
    if np.sum(x) > 0:
        x0 = x
    y = np.sum(np.sin(x0)) + np.sum(x)   # x0 is x: cos(x) + 1 (was cos(x))
    return dlgradient(y, x0)


def copy_taken_in_a_loop(x):
    h = x
    for i in range(3):
        h0 = h
        h = np.sin(h) + x
    y = np.sum(h ** 2) + np.sum(h0)      # h depends on h0 (was: 1, the uses of h0 alone)
    return dlgradient(y, h0)


def last_of_loop(xs):
    for k in range(2):
        r = xs[k] * 1.0
        if k == 1:
            first = r
    y = np.sum(first ** 2) + np.sum(r)  # first is r: 2 r + 1 (was 2 r)
    return dlgradient(y, first)


def dldivergence_wrt_copy_in_branch(x):
    if np.sum(x) > 0:
        z = x
    else:
        z = x * 2.0
    u = np.sin(z) * x
    return dldivergence(u, z, 0)


@pytest.mark.parametrize("fn, arg", [(copy_in_a_branch, V), (copy_bound_twice, V), (copy_taken_in_a_loop, V),
                                     (dldivergence_wrt_copy_in_branch, P)])
def test_copy_bound_in_a_branch_or_loop_is_refused(fn, arg):
    with pytest.raises(sct.CompileError, match="holds too") as info:
        dlfeval(fn, dlarray(arg))
    assert info.value.filename == __file__
    assert info.value.lineno == fn.__code__.co_firstlineno + len(inspect.getsource(fn).splitlines()) - 1


def test_copy_of_a_loop_name_is_refused():
    with pytest.raises(sct.CompileError, match="'first'"):
        dlfeval(last_of_loop, [dlarray(V), dlarray(V + 1.0)])


# --- 4. dlgradient with respect to what a structure filled in place holds: refused ---------------

def item_of_filled_dict(x):
    p = {}
    p["w"] = x
    y = np.sum(p["w"] ** 2) + np.sum(x)     # p["w"] is x: 2 x + 1 (was 2 x)
    return dlgradient(y, p["w"])


def copy_of_item_of_filled_dict(x):
    p = {}
    p["w"] = x
    w = p["w"]
    y = np.sum(w ** 2) + np.sum(x)
    return dlgradient(y, w)


def item_of_appended_list(x, w):
    t = []
    t.append(x)
    t.append(w)
    a = t[0]
    y = np.sum(a * x)
    return dlgradient(y, a)


class Box:
    def __init__(self, v):
        self.v = v


def attribute_of_built_object(x):
    b = Box(x)
    y = np.sum(b.v ** 2) + np.sum(b.v * x)    # b.v is x: 4 x (was 3 x)
    return dlgradient(y, b.v)


def copy_of_attribute_of_built_object(x):
    b = Box(x)
    v = b.v
    y = np.sum(v ** 2) + np.sum(b.v * x)
    return dlgradient(y, v)


@pytest.mark.parametrize("fn", [copy_of_item_of_filled_dict, attribute_of_built_object,
                                copy_of_attribute_of_built_object])
def test_item_of_a_structure_filled_here_is_refused(fn):
    with pytest.raises(sct.CompileError, match="cannot differentiate with respect to") as info:
        dlfeval(fn, dlarray(V))
    assert info.value.filename == __file__


def test_items_of_a_dict_or_list_filled_here_are_the_values_stored():
    # (refused until s50: the container's stores are followed back to the item's, sct/stored_items.py, so
    # p["w"] and t[0] are x, reached through x too)
    assert_close(extractdata(dlfeval(item_of_filled_dict, dlarray(V))), 2 * V + 1)
    assert_close(extractdata(dlfeval(item_of_appended_list, dlarray(V), dlarray(V + 1.0))), 2 * V)


def starred_rest_of_literal(x, w):
    a, *rest = [x, w, x * 2.0]
    y = np.sum(rest[0] ** 2) + np.sum(w)     # rest[0] is w: 2 w + 1 (was 2 w)
    return dlgradient(y, rest[0])


def starred_rest_of_argument(xs):
    a, *rest = xs
    y = np.sum(rest[0] ** 2) + np.sum(xs[1])  # rest[0] is xs[1]: 2 xs[1] + 1 (was 2 xs[1])
    return dlgradient(y, rest[0])


def test_starred_rest_holding_other_names_values_is_refused():
    with pytest.raises(sct.CompileError, match="'rest'"):
        dlfeval(starred_rest_of_literal, dlarray(V), dlarray(V + 1.0))
    with pytest.raises(sct.CompileError, match="'rest'"):
        dlfeval(starred_rest_of_argument, [dlarray(V), dlarray(V + 1.0), dlarray(V * 2.0)])


def last_item_of_a_dict(p):
    y = 0.0
    for k, v in p.items():
        y = y + np.sum(v ** 2)
    y = y + np.sum(p["b"])            # v is p["b"]: 2 b + 1 (was 2 b)
    return dlgradient(y, v)


def last_item_of_zip(xs, ws):
    y = 0.0
    for v, w in zip(xs, ws):
        y = y + np.sum(v * w)
    y = y + np.sum(xs[1] ** 2)        # v is xs[1]: ws[1] + 2 xs[1] (was ws[1])
    return dlgradient(y, v)


def last_item_only_through_the_loop(xs):
    y = 0.0
    for v in xs:
        y = y + np.sum(v ** 2)
    return dlgradient(y, v)


def test_loop_target_holding_an_item_read_elsewhere_is_refused():
    a, b = dlarray(V[:2]), dlarray(V[1:])
    # (s53: ``for k, v in p.items()``'s v is taken as the item p[k] where p is read only by its items (ho53):
    # exact, 2 b + 1, where it was refused)
    assert_close(extractdata(dlfeval(last_item_of_a_dict, {"a": a, "b": b})), 2 * V[1:] + 1)
    with pytest.raises(sct.CompileError, match="'xs' holds too"):
        dlfeval(last_item_of_zip, [a, b], [b, a])
    assert_close(extractdata(dlfeval(last_item_only_through_the_loop, [a, b])), 2 * V[1:])


# --- what still works: copies sct follows or that the site alone reads ------------------------------

def literal_dict_item(x, w):
    t = {"a": x, "b": w}
    y = np.sum(t["a"] * x) + np.sum(t["b"])
    return dlgradient(y, t["a"])


def training_loop_copy(p, x):
    total = 0.0
    for it in range(2):
        w = p["w"]
        y = np.sum(np.sin(w * x))
        g = dlgradient(y, w)
        total = total + np.sum(g)
        p = {"w": p["w"] - 0.1 * g}
    return total


def copy_of_copy(x):
    a = x
    b = a
    c = b
    y = np.sum(np.exp(c)) + np.sum(a * x)
    return dlgradient(y, c)


class _Layer:
    def __init__(self, b):
        self.b = b


class _Net:
    def __init__(self, l2):
        self.l2 = l2


def field_copied_in_a_branch(x, net):
    v = x * 1.0
    if np.sum(v) > -0.94:
        v = net.l2.b                 # the field is read only here (and in the other branch)
    else:
        v = v * net.l2.b
    y = np.sum(np.sin(v)) + np.sum(x)
    return dlgradient(y, v)


def test_copies_that_are_followed_or_read_only_by_the_site():
    for sign in (1.0, -3.0):
        b = V[::-1] * 0.5
        expected = np.cos(b) if np.sum(sign * V) > -0.94 else np.cos(sign * V * b)
        got = dlfeval(field_copied_in_a_branch, dlarray(sign * V), _Net(_Layer(dlarray(b))))
        assert_close(extractdata(got), expected)
    assert_close(extractdata(dlfeval(literal_dict_item, dlarray(V), dlarray(V + 1))), 2 * V)
    assert_close(extractdata(dlfeval(copy_of_copy, dlarray(V))), np.exp(V) + 2 * V)
    w, xv = V.copy(), V[::-1].copy()
    expected = 0.0
    for it in range(2):
        g = np.cos(w * xv) * xv
        expected += np.sum(g)
        w = w - 0.1 * g
    assert_close(extractdata(dlfeval(training_loop_copy, {"w": dlarray(V)}, dlarray(V[::-1].copy()))), expected)


# --- 5. the new ops with awkward shapes (held: values and gradients) ---------------------------------

def qr_wide(x):
    q, r = np.linalg.qr(x)
    return np.sum(q * np.arange(q.size).reshape(q.shape)) + np.sum(np.sin(r))


def qr_complete_wide(x):
    q, r = np.linalg.qr(x, mode="complete")
    return np.sum(q * 1.5) + np.sum(r)


def lstsq_wide(x):
    sol, res, rk, sv = np.linalg.lstsq(x, np.ones((3, 2)), rcond=None)
    return np.sum(sol ** 2) + np.sum(sv)


def median_tuple_axes(x):
    return np.sum(np.median(x, axis=(0, 2)) ** 2)


def polyval_list(x):
    return np.sum(np.polyval([x[0, 0], x[0, 1], 2.0], x[1]))


def reduce_matmul(x):
    return np.sum(functools.reduce(lambda a, b: a @ b, [x, x.T, x]))


def starred_for(x):
    tot = 0.0
    for a, *rest in [(x[0], x[1], x[2]), (x[2], x[0], x[1])]:
        tot = tot + np.sum(a * rest[0]) + np.sum(rest[-1] ** 2)
    return tot


_rng = np.random.default_rng(3)


@pytest.mark.parametrize("fn, arg", [(qr_wide, _rng.standard_normal((3, 5))),
                                     (qr_complete_wide, _rng.standard_normal((3, 5))),
                                     (lstsq_wide, _rng.standard_normal((3, 5))),
                                     (median_tuple_axes, _rng.standard_normal((2, 4, 3))),
                                     (polyval_list, _rng.standard_normal((2, 3))),
                                     (reduce_matmul, _rng.standard_normal((4, 3))),
                                     (starred_for, _rng.standard_normal((3, 2)))])
def test_new_ops_awkward_shapes(fn, arg):
    def graded(x):
        y = fn(x)
        return y, dlgradient(y, x)
    for _ in range(2):
        y, g = dlfeval(graded, dlarray(arg))
        assert_close(extractdata(y), fn(arg), what="value")
        assert_close(extractdata(g), numerical_gradient(fn, [arg], 0), rtol=1e-5, atol=1e-6, what="gradient")
