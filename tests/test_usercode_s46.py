"""Red team s46 ("wrong gradients in code written the way users write it"): one test per finding.

Each wrong-number finding is a helper compiled on its own (called in a loop, or from another helper)
taking ``dlgradient(y, w)`` of a ``y`` that also reads a value its caller computed from ``w`` and handed
it inside an object or a ``functools.partial``.  MATLAB's trace differentiates through the caller too
(the whole derivative); sct differentiates the helper's own code with that value held constant, so
it must refuse (sct/helper_sites.py) rather than return the partial derivative it gave before.
"""
from functools import partial

import numpy as np
import pytest

from gradcheck import assert_close, numerical_gradient
from sct import dlaccelerate, dlarray, dlfeval, dlgradient
from sct.errors import SctError

W0 = np.array([0.1, 0.2, 0.3])
X = np.array([1.0, 2.0, 3.0])


class Obj:
    def __init__(self, s, x):
        self.s = s
        self.x = x

    def loss(self, v):
        return np.sum(v * self.s * self.x)


def grad_obj(obj, w):
    return dlgradient(obj.loss(w), w)


def grad_of(fn, w):
    return dlgradient(fn(w), w)


# --- finding 1: an object built by its class (o = Obj(np.sum(w), x)) handed to such a helper ------
# The call was resolved when compiling with o's kind read as holding no traced value; its guard
# failed when it ran, the helper was compiled then for o's real kind (a y reading o and w), and
# the check of the caller's links was skipped for a call resolved when compiling: the helper held
# o.s constant and gave s * x, not s * x + sum(w * x).

def obj_in_loop(w, x):
    out = []
    for _ in range(2):
        o = Obj(np.sum(w), x)
        out.append(grad_obj(o, w))
    return out[0]


def obj_through_helper(w, x):
    o = Obj(np.sum(w), x)
    return forward_to(o, w)


def forward_to(o, w):
    for _ in range(1):
        g = grad_obj(o, w)
    return g


@pytest.mark.parametrize("fun", [obj_in_loop, obj_through_helper])
def test_object_built_from_w_given_to_gradient_helper_refused(fun):
    with pytest.raises(SctError, match="computed from the one it passes"):
        dlfeval(fun, dlarray(W0), X)


def obj_independent(w, u, x):
    out = []
    for _ in range(2):
        o = Obj(np.sum(u), x)
        out.append(grad_obj(o, w))
    return out[1]


def test_object_built_from_another_variable_still_runs():
    u = np.array([0.5, -1.0, 2.0])
    g = dlfeval(obj_independent, dlarray(W0), dlarray(u), X)
    expected = numerical_gradient(lambda w: np.sum(w * np.sum(u) * X), [W0.copy()], 0)
    assert_close(np.asarray(g.data), expected)


# --- finding 2: a functools.partial of a nested function (or a lambda, or a function taking **kw)
# made from w, handed to such a helper.  sct/partials.py leaves such a partial as written, and its
# kind was an object of no fields (a constant): the helper compiled for it held the frozen value
# constant and gave the partial derivative. --------------------------------------------------------

def partial_nested(w, x):
    def loss(v, s):
        return np.sum(v * s * x)
    out = []
    for _ in range(2):
        out.append(grad_of(partial(loss, s=np.sum(w)), w))
    return out[0]


def partial_lambda(w, x):
    out = []
    for _ in range(2):
        out.append(grad_of(partial(lambda v, s: np.sum(v * s), s=np.sum(w)), w))
    return out[0]


def scaled(v, s, **kw):
    return np.sum(v * s) * kw.get("k", 1.0)


def partial_kwargs(w, x):
    out = []
    for _ in range(2):
        out.append(grad_of(partial(scaled, s=np.sum(w), k=2.0), w))
    return out[0]


@pytest.mark.parametrize("fun", [partial_nested, partial_lambda, partial_kwargs])
def test_partial_of_w_given_to_gradient_helper_refused(fun):
    with pytest.raises(SctError, match="computed from the one it passes"):
        dlfeval(fun, dlarray(W0), X)


def partial_independent(w, u):
    def loss(v, s):
        return np.sum(np.sin(v) * s)
    p = partial(loss, s=np.sum(u))
    gs = [grad_of(p, w) for _ in range(2)]
    return gs[0] + gs[1]


def test_partial_of_another_variable_still_runs():
    u = np.array([0.5, -1.0, 2.0])
    g = dlfeval(partial_independent, dlarray(W0), dlarray(u))
    expected = 2 * numerical_gradient(lambda w: np.sum(np.sin(w) * np.sum(u)), [W0.copy()], 0)
    assert_close(np.asarray(g.data), expected)


def test_partial_made_outside_still_constant():
    frozen = partial(scaled, s=np.array(3.0))

    def outside(w):
        return grad_of(frozen, w)
    g = dlfeval(outside, dlarray(W0))
    assert_close(np.asarray(g.data), 3.0 * np.ones(3))


# --- finding 3: a helper with *args taking dlgradient: its *args parameter was left out of the
# check, so g_star(w, np.sum(w), x) gave rest[0] constant (called from the function dlfeval runs
# too, not only in a loop), and dlgradient(y, args[0]) was not checked at all. --------------------

def g_star(w, *rest):
    return dlgradient(np.sum(w * rest[0] * rest[1]), w)


def g_items(*args):
    return dlgradient(np.sum(args[0] ** 2 * args[1]), args[1])


def star_rest_from_w(w, u, x):
    return g_star(w, np.sum(w), x)


def star_item_from_x(w, u, x):
    return g_items(u * 2, u)


@pytest.mark.parametrize("fun", [star_rest_from_w, star_item_from_x])
def test_star_args_helper_gradient_refused(fun):
    with pytest.raises(SctError, match="computed from the one it passes"):
        dlfeval(fun, dlarray(W0), dlarray(np.array([0.5, -1.0, 2.0])), X)


def star_independent(w, u, x):
    return g_star(w, np.sum(u), x) + g_items(w, u)


def test_star_args_helper_independent_still_runs():
    u = np.array([0.5, -1.0, 2.0])
    g = dlfeval(star_independent, dlarray(W0), dlarray(u), X)
    # d/dw sum(w * s * x) = s * x; d/du sum(w**2 * u) = w ** 2
    assert_close(np.asarray(g.data), np.sum(u) * X + W0 ** 2)


# --- finding 4: a helper compiled on its own taking dlgradient with respect to two parameters, or a
# dict, the caller passing one value computed from the other: the first's gradient missed the path
# through the second (6w where the same code in the function dlfeval runs gives 12w). --------------

def g_two(a, b):
    return dlgradient(np.sum(a * b * 2), a, b)


def g_dict(p):
    return dlgradient(np.sum(p["a"] * p["b"] * 2), p)


def two_in_loop(w):
    out = [g_two(w, w * 3) for _ in range(2)]
    return out[0]


def dict_in_loop(w):
    out = [g_dict({"a": w, "b": w * 3}) for _ in range(2)]
    return out[0]


def same_twice_in_loop(w):
    out = [g_two(w, w) for _ in range(2)]
    return out[0]


def dict_item_set_in_loop(w):
    p = {"a": w}
    p["b"] = w * 3
    return [g_dict(p) for _ in range(2)][0]


def dict_merge_in_loop(w):
    base = {"a": w}
    p = {**base, "b": w * 3}
    return [g_dict(p) for _ in range(2)][0]


def dict_update_in_loop(w):
    p = {"a": w, "b": None}
    p.update(b=w * 3)
    return [g_dict(p) for _ in range(2)][0]


@pytest.mark.parametrize("fun", [two_in_loop, dict_in_loop, same_twice_in_loop, dict_item_set_in_loop,
                                 dict_merge_in_loop, dict_update_in_loop])
def test_gradient_helper_given_linked_values_refused(fun):
    with pytest.raises(SctError, match="computed from"):
        dlfeval(fun, dlarray(W0))


def two_inline(w):
    b = w * 3
    return dlgradient(np.sum(w * b * 2), w, b)


def independent_in_loop(w, u):
    out = [g_two(w, u) for _ in range(2)] + [g_dict({"a": w, "b": u})]
    return out[0][0], out[2]["b"]


def test_linked_values_inline_and_independent_still_run():
    ga, gb = dlfeval(two_inline, dlarray(W0))
    assert_close(np.asarray(ga.data), 12 * W0)       # the whole derivative, through b = 3w
    assert_close(np.asarray(gb.data), 2 * W0)
    u = np.array([0.5, -1.0, 2.0])
    ga, gb = dlfeval(independent_in_loop, dlarray(W0), dlarray(u))
    assert_close(np.asarray(ga.data), 2 * u)
    assert_close(np.asarray(gb.data), 2 * W0)


# --- finding 5: a functools.partial sct/partials.py leaves as written (here of an accelerated
# function) made of traced values and called: its frozen values were held constant, so the callee's
# dlgradient with respect to its argument gave the partial derivative. ----------------------------

def g_three(w, s, x):
    return dlgradient(np.sum(w * s * x), w)


G_THREE = dlaccelerate(g_three)


def partial_accelerated(w, x):
    return partial(G_THREE, s=np.sum(w), x=x)(w)


def partial_accelerated_named(w, x):
    p = partial(G_THREE, s=np.sum(w), x=x)
    return [p(w) for _ in range(2)][0]


@pytest.mark.parametrize("fun", [partial_accelerated, partial_accelerated_named])
def test_called_partial_of_traced_values_refused(fun):
    with pytest.raises(SctError, match="computed from the one it passes"):
        dlfeval(fun, dlarray(W0), X)


def partial_accelerated_constant(w, x):
    return partial(G_THREE, s=2.0, x=x)(w)


def test_called_partial_of_constants_still_runs():
    g = dlfeval(partial_accelerated_constant, dlarray(W0), X)
    assert_close(np.asarray(g.data), 2.0 * X)


# --- finding 4b (the realistic form of finding 4): tied weights, autograd's list of (W, b) tuples
# with the second layer's weight W.T, given to a training step taking dlgradient(loss, params) in a
# loop: W's gradient missed the path through W.T (the step held it as a value of its own). ---------

def tied_net(params, x):
    for W, b in params:
        x = np.tanh(x @ W + b)
    return np.sum(x ** 2)


def tied_step(params, x):
    return dlgradient(tied_net(params, x), params)


def tied_in_loop(W, b, x):
    params = [(W, b), (W.T, b)]
    gs = [tied_step(params, x) for _ in range(2)]
    return gs[0][0][0]


def tied_inline(W, b, x):
    params = [(W, b), (W.T, b)]
    return tied_step(params, x)[0][0]


def test_tied_weights_step_in_loop_refused_inline_right():
    rng = np.random.default_rng(34)
    W, b, x = rng.standard_normal((3, 3)) * 0.5, rng.standard_normal(3) * 0.1, rng.standard_normal((4, 3))
    with pytest.raises(SctError, match="computed from another value it holds"):
        dlfeval(tied_in_loop, dlarray(W), dlarray(b), x)
    g = dlfeval(tied_inline, dlarray(W), dlarray(b), x)
    expected = numerical_gradient(lambda Wf: tied_net([(Wf, b), (Wf.T, b)], x), [W.copy()], 0)
    assert_close(np.asarray(g.data), expected)


# --- finding 4c: the same through a helper that passes its parameters on (compiled on its own):
# the x's-among-themselves check was not forwarded to its callers. --------------------------------

def pass_on(a, b):
    out = None
    for _ in range(1):
        out = g_two(a, b)
    return out


def pass_on_dict(p):
    out = None
    for _ in range(1):
        out = g_dict(p)
    return out


def forwarded_two(w):
    return pass_on(w, w * 3)[0]


def forwarded_dict(w):
    return pass_on_dict({"a": w, "b": w * 3})["a"]


@pytest.mark.parametrize("fun", [forwarded_two, forwarded_dict])
def test_forwarded_linked_values_refused(fun):
    with pytest.raises(SctError, match="computed from"):
        dlfeval(fun, dlarray(W0))


def forwarded_independent(w, u):
    return pass_on(w, u)[0] + pass_on_dict({"a": w, "b": u})["a"]


def test_forwarded_independent_still_runs():
    u = np.array([0.5, -1.0, 2.0])
    g = dlfeval(forwarded_independent, dlarray(W0), dlarray(u))
    assert_close(np.asarray(g.data), 4 * u)
