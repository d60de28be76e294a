"""Red team of stop 47's linked-items check (tests/test_links_s47.py): structures given to a helper
that takes dlgradient with respect to them, whose items are one traced value or computed from one
another, built in ways the check did not read (each gave the partial derivative before: 3w for 6w,
w for 2w), and two arrays passed beside each other that were read as loop-carried state.  Each is
refused now at the caller's line; fresh structures in training loops still run.
"""
import copy

import numpy as np
import pytest

import sct
from sct import CompileError, dlarray, dlfeval, dlgradient

from gradcheck import D, numerical_gradient

W0 = np.array([1.0, 2.0, 3.0])


def gl(hs):
    return dlgradient(np.sum(hs[0] * hs[1]), hs[0])


def gd(d):
    return dlgradient(np.sum(d["a"] * d["b"]), d["a"])


def g2(a, b):
    return dlgradient(np.sum(a * b), a, b)[0]


# --- a structure copied or extended by a builtin or the runtime's list and dict functions -------------

def via_list(w):
    t = 0
    for s in (3.0, 3.0):
        hs = [w, w]
        hs[1] = w * s
        t = t + gl(list(hs))
    return t / 2


def via_tuple(w):
    t = 0
    for s in (3.0, 3.0):
        hs = [w, w]
        hs[1] = w * s
        t = t + gl(tuple(hs))
    return t / 2


def via_copy(w):
    t = 0
    for s in (3.0, 3.0):
        hs = [w, w]
        hs[1] = w * s
        t = t + gl(copy.copy(hs))
    return t / 2


def via_map(w):
    t = 0
    for s in (3.0, 3.0):
        hs = list(map(lambda k: w * k, [1.0, s]))
        hs[0] = w
        t = t + gl(hs)
    return t / 2


def via_extend(w):
    t = 0
    for s in (3.0, 3.0):
        hs = [w]
        hs.extend([w * s])
        t = t + gl(hs)
    return t / 2


def via_iadd(w):
    t = 0
    for s in (3.0, 3.0):
        hs = []
        hs += [w]
        hs += [w * s]
        t = t + gl(hs)
    return t / 2


def via_insert(w):
    t = 0
    for s in (3.0, 3.0):
        hs = [w]
        hs.insert(1, hs[0] * s)
        t = t + gl(hs)
    return t / 2


def via_dict_or(w):
    t = 0
    for s in (3.0, 3.0):
        d = {"a": w} | {"b": w * s}
        t = t + gd(d)
    return t / 2


def via_dict_ior(w):
    t = 0
    for s in (3.0, 3.0):
        d = {"a": w}
        d |= {"b": w * s}
        t = t + gd(d)
    return t / 2


def _gen(w, s):
    yield w
    yield w * s


def via_generator(w):
    t = 0
    for s in (3.0, 3.0):
        t = t + gl(list(_gen(w, s)))
    return t / 2


# --- a helper's value unpacked, or held in a list or dict ---------------------------------------------

def _mk(w, s):
    return {"a": w, "b": w * s}


def _mk_pair(w, s):
    d = _mk(w, s)
    return d, 0


def result_unpacked(w):
    t = 0
    for s in (3.0, 3.0):
        d, z = _mk_pair(w, s)
        t = t + gd(d)
    return t / 2


def result_in_a_list(w):
    t = 0
    for s in (3.0, 3.0):
        ds = [_mk(w, s)]
        t = t + gd(ds[0])
    return t / 2


def result_in_a_dict(w):
    t = 0
    for s in (3.0, 3.0):
        ds = {"x": _mk(w, s)}
        d = ds["x"]
        t = t + gd(d)
    return t / 2


def _mk_shared(w, s):
    h = w * 1.0
    return {"a": h, "b": h * s}


def result_items_of_one_local(w):
    t = 0
    for s in (3.0, 3.0):
        t = t + gd(_mk_shared(w, s))
    return t / 2


# --- a helper passing a display of its parameters on ---------------------------------------------------

def _h3(a, b):
    t = 0
    for k in range(2):
        t = t + gd({"a": a, "b": b})
    return t / 2


def display_of_parameters(w):
    t = 0
    for s in (3.0, 3.0):
        t = t + _h3(w, w * s)
    return t / 2


# --- filled in place: a nested structure, a helper, a field of an object ---------------------------------

def nested_write(w):
    t = 0
    for s in (3.0, 3.0):
        outer = {"d": {"a": w}}
        outer["d"]["b"] = w * s
        t = t + gd(outer["d"])
    return t / 2


def nested_append(w):
    t = 0
    for s in (3.0, 3.0):
        hs = [[w]]
        hs[0].append(w * s)
        t = t + gl(hs[0])
    return t / 2


def _fill(hs, w, s):
    hs.append(w)
    hs.append(w * s)


def filled_by_a_helper(w):
    t = 0
    for s in (3.0, 3.0):
        hs = []
        _fill(hs, w, s)
        t = t + gl(hs)
    return t / 2


class _Buf:
    def __init__(self):
        self.hs = []

    def add(self, v):
        self.hs = self.hs + [v]


def a_field_built_by_a_method(w):
    t = 0
    for s in (3.0, 3.0):
        b = _Buf()
        b.add(w)
        b.add(b.hs[0] * s)
        t = t + gl(b.hs)
    return t / 2


def _h3_once(a, b):
    return gd({"a": a, "b": b})


def display_of_parameters_inlined(w):
    t = 0
    for s in (3.0, 3.0):
        t = t + _h3_once(w, w * s)
    return t / 2


class _Pair:
    def __init__(self, a, b):
        self.a = a
        self.b = b

    def grad(self):
        t = 0
        for k in range(2):
            t = t + gd({"a": self.a, "b": self.b})
        return t / 2


def display_of_fields(w):
    t = 0
    for s in (3.0, 3.0):
        t = t + _Pair(w, w * s).grad()
    return t / 2


# --- 6w expected (3w before) -------------------------------------------------------------------------

SIX_W = [via_list, via_tuple, via_copy, via_map, via_extend, via_iadd, via_insert, via_dict_or, via_dict_ior,
         via_generator, result_unpacked, result_in_a_list, result_in_a_dict, display_of_parameters, nested_write,
         nested_append, filled_by_a_helper, a_field_built_by_a_method, result_items_of_one_local,
         display_of_parameters_inlined, display_of_fields]


# --- one traced value held twice (tied weights): 2w expected (w before) --------------------------------

def same_in_a_dict(w):
    t = 0
    for s in (3.0, 3.0):
        t = t + gd({"a": w, "b": w})
    return t / 2


def same_in_a_list(w):
    t = 0
    for s in (3.0, 3.0):
        W = w
        t = t + gl([W, W])
    return t / 2


def same_parameter_twice(w):
    t = 0
    for s in (3.0, 3.0):
        t = t + _h3(w, w)
    return t / 2


def _tied_loss(p, x):
    y = np.tanh(x @ p["enc"]) @ p["dec"].T
    L = np.sum((y - x) ** 2)
    return L, dlgradient(L, p)


def tied_autoencoder(w):
    x = np.ones((2, 3)) * 0.1
    W = w.reshape(3, 1)
    p = {"enc": W, "dec": W}
    tot = 0
    for i in range(2):
        L, g = _tied_loss(p, x)
        tot = tot + g["enc"].reshape(3) / 2
    return tot


def _mk_same(w):
    h = w * 1.0
    return [h, h]


def result_holding_one_local_twice(w):
    t = 0
    for s in (3.0, 3.0):
        t = t + gl(_mk_same(w))
    return t / 2


TWO_W = [result_holding_one_local_twice, same_in_a_dict, same_in_a_list, same_parameter_twice, tied_autoencoder]


@pytest.mark.parametrize("fun", SIX_W + TWO_W, ids=[f.__name__ for f in SIX_W + TWO_W])
def test_linked_structures_given_to_a_dlgradient_helper_are_refused(fun):
    """Each is refused at the caller's line (the helper, compiled on its own, gave the partial
    derivative: 3w where the same code in the function dlfeval runs gives 6w, w for 2w)."""
    sct.clear_cache()
    with pytest.raises(CompileError) as info:
        dlfeval(fun, dlarray(W0))
    text = str(info.value)
    assert __file__ in text and "dlgradient" in text
    assert "internal error" not in text


def _list_once(w):
    return gl([w, w * 3.0])


def _same_once(w):
    return gd({"a": w, "b": w})


@pytest.mark.parametrize("fun,factor", [(_list_once, 6), (_same_once, 2)], ids=["list", "same"])
def test_the_same_code_called_once_is_exact(fun, factor):
    """The reference: the helper's call inlined (one call, not in a loop) follows the links."""
    sct.clear_cache()
    np.testing.assert_allclose(D(dlfeval(fun, dlarray(W0))), factor * W0, rtol=1e-12)


# --- two arrays beside each other: one computed from the other at the call ------------------------------

def scaled_by_a_loop_float(w):
    t = 0
    for s in (3.0, 3.0):
        t = t + g2(w, w * s)        # (``w * s``, s's kind not known: was read as a list repeated)
    return t / 2


def rebound_later_in_the_loop(w):
    t = 0
    for i in range(2):
        v = w * 3
        t = t + g2(w, v)
        w = v * 0.5                 # (w computed from v after the call: was read as loop-carried state)
    return t


def bound_in_a_branch_then_rebound(w):
    t = 0
    for i in range(2):
        if i >= 0:
            v = w * 3
        else:
            v = w * 2
        t = t + g2(w, v)
        w = v * 0.5
    return t


def linked_before_the_loop(w):
    t = 0
    v = w * 3
    for i in range(2):
        t = t + g2(w, v)
        w = v * 0.5
        v = w * 3
    return t


AT_THE_CALL = [scaled_by_a_loop_float, rebound_later_in_the_loop, bound_in_a_branch_then_rebound,
               linked_before_the_loop]


@pytest.mark.parametrize("fun", AT_THE_CALL, ids=[f.__name__ for f in AT_THE_CALL])
def test_an_argument_computed_from_another_at_the_call_is_refused(fun):
    sct.clear_cache()
    with pytest.raises(CompileError) as info:
        dlfeval(fun, dlarray(W0))
    assert __file__ in str(info.value) and "internal error" not in str(info.value)


def _step(W, z, x):
    g = dlgradient(np.sum(np.tanh(W * x + z) ** 2), W, z)
    return W - 0.1 * g[0], z - 0.1 * g[1]


def test_state_rebound_from_one_step_still_runs():
    """``W, z = step(W, z, x)``: both rebound from one step's results, neither computed from the
    other at the call (read both ways by name): runs, exact."""
    def f(W_in, z, x):
        W = W_in
        for i in range(3):
            W, z = _step(W, z, x)
        return dlgradient(np.sum(W ** 2 + z ** 2), W_in)

    def plain(W, z, x):
        for i in range(3):
            a = np.tanh(W * x + z)
            gz = 2 * a * (1 - a ** 2)
            W, z = W - 0.1 * gz * x, z - 0.1 * gz
        return np.sum(W ** 2 + z ** 2)
    args = [W0 * 0.3, W0 * 0.1, np.array([0.3, -0.2, 0.5])]
    sct.clear_cache()
    g = dlfeval(f, *[dlarray(a) for a in args])
    np.testing.assert_allclose(D(g), numerical_gradient(plain, args, 0), rtol=1e-6, atol=1e-8)


def test_independent_values_still_run():
    """The same helpers given values not computed from one another: the exact derivative."""
    def f(w, v):
        t = 0
        for s in (3.0, 3.0):
            t = t + _h3(w, v * s) + g2(w, v * s) + _h3_once(w, v * s)
        return t / 2
    v0 = np.array([0.5, -1.0, 2.0])
    sct.clear_cache()
    np.testing.assert_allclose(D(dlfeval(f, dlarray(W0), dlarray(v0))), 3 * 3.0 * v0, rtol=1e-12)


# --- fresh structures in training loops still run ------------------------------------------------------

def _loss(p, x):
    return np.sum(np.tanh(p["W"] * x + p["b"]) ** 2)


def _grad_of(p, x):
    return dlgradient(_loss(p, x), p)


def _grad_list(ps, x):
    return dlgradient(np.sum(np.tanh(ps[0] * x + ps[1]) ** 2), ps)


def sgd_names_display(p0, x):
    W, b = p0["W"], p0["b"]
    for _ in range(3):
        g = _grad_of({"W": W, "b": b}, x)
        W = W - 0.1 * g["W"]
        b = b - 0.1 * g["b"]
    L = np.sum(W ** 2) + np.sum(b ** 2)
    return L, dlgradient(L, p0["W"])


def sgd_list_state(p0, x):
    ps = [p0["W"], p0["b"]]
    for _ in range(3):
        g = _grad_of({"W": ps[0], "b": ps[1]}, x)
        ps = [ps[0] - 0.1 * g["W"], ps[1] - 0.1 * g["b"]]
    L = np.sum(ps[0] ** 2) + np.sum(ps[1] ** 2)
    return L, dlgradient(L, p0["W"])


def sgd_list_of_values(p0, x):
    ps = list(p0.values())
    for _ in range(3):
        g = _grad_list(ps, x)
        ps = [p - 0.1 * gp for p, gp in zip(ps, g)]
    L = np.sum(ps[0] ** 2) + np.sum(ps[1] ** 2)
    return L, dlgradient(L, p0["W"])


def sgd_tuple_generator(p0, x):
    ps = tuple(p0.values())
    for _ in range(3):
        g = _grad_list(ps, x)
        ps = tuple(p - 0.1 * gp for p, gp in zip(ps, g))
    L = np.sum(ps[0] ** 2) + np.sum(ps[1] ** 2)
    return L, dlgradient(L, p0["W"])


def _momentum_step(p, x, m):
    g = dlgradient(_loss(p, x), p)
    m = {k: 0.0 * m[k] + g[k] for k in p}
    return {k: p[k] - 0.1 * m[k] for k in p}, m


def sgd_pair_returned(p0, x):
    p = p0
    m = {"W": 0 * p0["W"], "b": 0 * p0["b"]}
    for _ in range(3):
        p, m = _momentum_step(p, x, m)
    L = np.sum(p["W"] ** 2) + np.sum(p["b"] ** 2)
    return L, dlgradient(L, p0["W"])


def _plain_steps(W, b, x, n=3):
    for _ in range(n):
        a = np.tanh(W * x + b)
        gz = 2 * a * (1 - a ** 2)
        W, b = W - 0.1 * gz * x, b - 0.1 * gz
    return np.sum(W ** 2) + np.sum(b ** 2)


STEPS = [sgd_names_display, sgd_list_state, sgd_list_of_values, sgd_tuple_generator, sgd_pair_returned]


@pytest.mark.parametrize("outer", STEPS, ids=[s.__name__ for s in STEPS])
def test_training_loops_with_fresh_structures_run(outer):
    rng = np.random.default_rng(5)
    W, b, x = rng.standard_normal(4) * 0.5, rng.standard_normal(4) * 0.5, rng.standard_normal(4)
    sct.clear_cache()
    L, gW = dlfeval(outer, {"W": dlarray(W), "b": dlarray(b)}, dlarray(x))
    assert abs(float(D(L)) - _plain_steps(W, b, x)) < 1e-12
    np.testing.assert_allclose(D(gW), numerical_gradient(_plain_steps, [W, b, x], 0), rtol=1e-6, atol=1e-8)
