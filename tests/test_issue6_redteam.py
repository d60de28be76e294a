"""Issue 6, red-team findings: each a silent wrong result or a crash, now exact or refused.

1. effects (random draws, prints, writes to outer objects) run once where sweeps recompute;
2. second derivatives through a numpy op held in a field or passed as an argument;
3. run-time errors of sct located at the user's line;
4. gradients with the structure of plain objects come back as dlarrays;
5. a callable object built inside and passed to a helper (starred arguments);
6. dataclasses and namedtuples built inside differentiated code;
7. second derivatives through np.outer of a constant held in a dict;
8. jvp of functions with defaulted parameters;
9. comprehension variables do not leak into the function's scope.
"""
from __future__ import annotations

import dataclasses
import math
from collections import namedtuple
from dataclasses import dataclass

import numpy as np
import pytest

import sct
from sct import CompileError, EvaluationError, dlarray, dlfeval, dlgradient, extractdata
from tests.gradcheck import assert_close, numerical_gradient

X = np.array([0.3, -0.2, 0.5, 0.9, -0.7, 0.1])
W = np.array([1.0, 2.0, 0.5, -1.5, 0.7, 1.2])


def plain(a):
    return np.asarray(extractdata(a)) if isinstance(a, dlarray) else np.asarray(a)


# --- 1. effects run once ------------------------------------------------------------------

def penalty_rng(x, w, rng):
    m = rng.random(x.shape) > 0.5
    y = x * w * m
    gx = dlgradient(np.sum(y ** 3), x, EnableHigherDerivatives=True)
    return y, gx, dlgradient(np.sum(gx), w)


def penalty_rng_plain(x, w, rng):
    m = rng.random(x.shape) > 0.5
    y = x * w * m
    return y, 3 * y ** 2 * w * m, 9 * x ** 2 * w ** 2 * m


def test_generator_draws_once_under_nested_dlgradient():
    rng = np.random.default_rng(7)
    y, gx, gw = dlfeval(penalty_rng, dlarray(X), dlarray(W), rng)
    rng0 = np.random.default_rng(7)
    ey, egx, egw = penalty_rng_plain(X, W, rng0)
    assert_close(plain(y), ey)
    assert_close(plain(gx), egx)
    assert_close(plain(gw), egw)
    assert rng.bit_generator.state == rng0.bit_generator.state     # as many draws as Python


def penalty_inline(x, w):
    m = np.random.default_rng(3).random(x.shape) > 0.5
    y = x * w * m
    gx = dlgradient(np.sum(y ** 3), x)
    return y, gx, dlgradient(np.sum(gx), w)


def test_inline_default_rng():
    y, gx, gw = dlfeval(penalty_inline, dlarray(X), dlarray(W))
    ey, egx, egw = penalty_rng_plain(X, W, np.random.default_rng(3))
    assert_close(plain(y), ey)
    assert_close(plain(gx), egx)
    assert_close(plain(gw), egw)


def penalty_global(x, w):
    m = np.random.rand(*x.shape) > 0.5
    n = np.random.normal(0.0, 1.0, x.shape)
    y = x * w * m + n
    gx = dlgradient(np.sum(y ** 3), x)
    return y, gx, dlgradient(np.sum(gx), w)


def test_global_random_state_draws_once():
    np.random.seed(11)
    y, gx, gw = dlfeval(penalty_global, dlarray(X), dlarray(W))
    after = np.random.get_state()[1].copy(), np.random.get_state()[2]
    np.random.seed(11)
    m = np.random.rand(*X.shape) > 0.5
    n = np.random.normal(0.0, 1.0, X.shape)
    expected_after = np.random.get_state()[1].copy(), np.random.get_state()[2]
    ey = X * W * m + n
    assert_close(plain(y), ey)
    assert_close(plain(gx), 3 * ey ** 2 * W * m)
    assert_close(plain(gw), 6 * ey * (X * m) * W * m + 3 * ey ** 2 * m)
    assert np.array_equal(after[0], expected_after[0]) and after[1] == expected_after[1]


LOG = []


def penalty_prints(x, w):
    y = np.sum(np.sin(x * w))
    print("loss", float(y))
    LOG.append(1)
    g = dlgradient(y, x)
    return y, dlgradient(np.sum(g ** 2), w)


def test_print_and_outer_append_run_once(capsys):
    del LOG[:]
    y, gw = dlfeval(penalty_prints, dlarray(X), dlarray(W))
    assert capsys.readouterr().out.count("loss") == 1
    assert len(LOG) == 1
    f = lambda w: float(np.sum((np.cos(X * w) * w) ** 2))
    assert_close(plain(gw), numerical_gradient(f, [W], 0), rtol=1e-5, atol=1e-6)


def noisy_model(x, rng):
    return np.tanh(x + 0.1 * rng.standard_normal(x.shape))


def penalty_helper(x, w, rng):
    u = noisy_model(x * w, rng)
    gx = dlgradient(np.sum(u ** 2), x)
    return u, dlgradient(np.sum(gx ** 2), w)


def test_draws_inside_helper_once():
    rng = np.random.default_rng(5)
    u, gw = dlfeval(penalty_helper, dlarray(X), dlarray(W), rng)
    rng0 = np.random.default_rng(5)
    noise = 0.1 * rng0.standard_normal(X.shape)
    assert_close(plain(u), np.tanh(X * W + noise))
    assert rng.bit_generator.state == rng0.bit_generator.state

    def loss(w):
        t = np.tanh(X * w + noise)
        gx = 2 * t * (1 - t ** 2) * w
        return float(np.sum(gx ** 2))
    assert_close(plain(gw), numerical_gradient(loss, [W], 0), rtol=1e-5, atol=1e-6)


RNG_HVP = np.random.default_rng(0)


def drawn_loss(x):
    m = RNG_HVP.random(x.shape) > 0.3
    return np.sum(np.sin(x) ** 2 * m)


def test_hvp_draws_once():
    global RNG_HVP
    RNG_HVP = np.random.default_rng(9)
    v = np.linspace(-1.0, 1.0, X.size)
    hv = sct.hvp(drawn_loss, X, v)
    rng0 = np.random.default_rng(9)
    m = rng0.random(X.shape) > 0.3
    assert RNG_HVP.bit_generator.state == rng0.bit_generator.state
    assert_close(plain(hv), 2 * np.cos(2 * X) * m * v)


def drawn_vector(x):
    m = RNG_HVP.random(x.shape) > 0.3
    return np.sin(x) * m


def test_jvp_draws_once_both_modes():
    global RNG_HVP
    v = np.linspace(-1.0, 1.0, X.size)
    for mode in ("forward", "transpose"):
        RNG_HVP = np.random.default_rng(4)
        y, jv = sct.jvp(drawn_vector, X, v, mode=mode)
        rng0 = np.random.default_rng(4)
        m = rng0.random(X.shape) > 0.3
        assert RNG_HVP.bit_generator.state == rng0.bit_generator.state, mode
        assert_close(plain(y), np.sin(X) * m)
        assert_close(plain(jv), np.cos(X) * m * v)


def jacobian_penalty(x, rng):
    m = rng.random(x.shape) > 0.5
    u = np.sin(x) * m
    J = dljacobian(u, x, 0)
    return u, dlgradient(np.sum(J), x)


from sct import dljacobian  # noqa: E402


def test_dljacobian_recompute_replays_draws():
    rng = np.random.default_rng(2)
    x = X.reshape(3, 2)
    u, g = dlfeval(jacobian_penalty, dlarray(x), rng)
    rng0 = np.random.default_rng(2)
    m = rng0.random(x.shape) > 0.5
    assert rng.bit_generator.state == rng0.bit_generator.state
    assert_close(plain(u), np.sin(x) * m)
    assert_close(plain(g), -np.sin(x) * m)


def shuffled_penalty(x, rng):
    idx = np.arange(x.shape[0])
    rng.shuffle(idx)
    y = np.sum(x[idx] * np.arange(x.shape[0]))
    g = dlgradient(y ** 2, x)
    return y, g, dlgradient(np.sum(g), x)


def test_shuffle_in_place_once():
    rng = np.random.default_rng(1)
    y, g, h = dlfeval(shuffled_penalty, dlarray(X), rng)
    rng0 = np.random.default_rng(1)
    idx = np.arange(X.size)
    rng0.shuffle(idx)
    c = np.zeros(X.size)
    c[idx] = np.arange(X.size)
    ey = np.sum(X * c)
    assert rng.bit_generator.state == rng0.bit_generator.state
    assert_close(plain(y), ey)
    assert_close(plain(g), 2 * ey * c)
    assert_close(plain(h), 2 * np.sum(c) * c)


# --- 2. second derivatives through an op held as a value --------------------------------------

class Act:
    def __init__(self, fn):
        self.act = fn

    def __call__(self, v):
        return self.act(v)


def apply(fn, v):
    return fn(v)


def second_through_argument(x):
    y = np.sum(apply(np.sin, x) ** 2)
    g = dlgradient(y, x)
    return y, g, dlgradient(np.sum(g), x)


def second_through_field(x, net):
    y = np.sum(net(x) ** 2)
    g = dlgradient(y, x)
    return y, g, dlgradient(np.sum(g), x)


def second_through_field_inside(x):
    net = Act(np.tanh)
    y = np.sum(net(x) ** 2)
    g = dlgradient(y, x)
    return y, g, dlgradient(np.sum(g * x), x)


def test_second_derivative_op_as_argument():
    y, g, h = dlfeval(second_through_argument, dlarray(X))
    assert_close(plain(y), np.sum(np.sin(X) ** 2))
    assert_close(plain(g), np.sin(2 * X))
    assert_close(plain(h), 2 * np.cos(2 * X))


def test_second_derivative_op_in_field():
    y, g, h = dlfeval(second_through_field, dlarray(X), Act(np.tanh))
    t = np.tanh(X)
    assert_close(plain(g), 2 * t * (1 - t ** 2))
    assert_close(plain(h), numerical_gradient(lambda x: float(np.sum(2 * np.tanh(x) * (1 - np.tanh(x) ** 2))),
                                              [X], 0), rtol=1e-5, atol=1e-6)
    y, g, h = dlfeval(second_through_field_inside, dlarray(X))
    gf = lambda x: 2 * np.tanh(x) * (1 - np.tanh(x) ** 2)
    assert_close(plain(h), numerical_gradient(lambda x: float(np.sum(gf(x) * x)), [X], 0),
                 rtol=1e-5, atol=1e-6)


def hvp_through_field(x):
    return np.sum(Act(np.sin)(x) * apply(np.cos, x))


def test_hvp_through_ops_held_as_values():
    v = np.linspace(-1.0, 1.0, X.size)
    hv = sct.hvp(hvp_through_field, X, v)
    assert_close(plain(hv), -2 * np.sin(2 * X) * v)


# --- 3. run-time errors located at the user's line ---------------------------------------------

def no_rule_through_argument(x):
    y = np.sum(apply(math.ulp, x[0]) * x)      # (math.gamma has a rule now)
    return y, dlgradient(y, x)


class Holder:
    def __init__(self, fn):
        self.fn = fn


def no_rule_in_field(x, h):
    y = np.sum(h.fn(x))
    return y, dlgradient(y, x)


def test_runtime_errors_name_the_users_line():
    with pytest.raises(CompileError) as info:
        dlfeval(no_rule_through_argument, dlarray(X[:2]))
    assert info.value.filename == __file__
    assert info.value.lineno == apply.__code__.co_firstlineno + 1
    assert "ulp" in str(info.value)
    with pytest.raises(CompileError) as info:
        dlfeval(no_rule_in_field, dlarray(X[:2]), Holder(math.ulp))   # math.erf, math.lgamma have rules now
    assert info.value.filename == __file__
    assert info.value.lineno == no_rule_in_field.__code__.co_firstlineno + 1


# --- 4. gradients of plain objects are dlarrays ------------------------------------------------

class Lin:
    def __init__(self, w, b):
        self.w = w
        self.b = b
        self.name = "lin"


class Net2:
    def __init__(self, l1, s):
        self.l1 = l1
        self.s = s


@dataclass
class DNet:
    l1: Lin
    s: object


def object_loss(x, net):
    y = np.sum(np.tanh(x * net.l1.w + net.l1.b) * net.s)
    return y, dlgradient(y, net)


def test_object_gradients_are_dlarrays_and_user_objects_untouched():
    w, b, s = dlarray(W[:3]), dlarray(X[:3]), dlarray(np.array(2.0))
    for net in (Net2(Lin(w, b), s), DNet(Lin(w, b), s)):
        y, g = dlfeval(object_loss, dlarray(X[3:]), net)
        for leaf in (g.l1.w, g.l1.b, g.s):
            assert isinstance(leaf, dlarray)
        assert g.l1.name == "lin"
        assert net.l1.w is w and net.l1.b is b and net.s is s      # not mutated
        t = np.tanh(X[3:] * W[:3] + X[:3])
        assert_close(plain(g.l1.w), 2.0 * (1 - t ** 2) * X[3:])
        assert_close(plain(g.l1.b), 2.0 * (1 - t ** 2))
        assert_close(plain(g.s), np.sum(t))


# --- 5. a callable object built inside, passed to a helper --------------------------------------

class Bound:
    def __init__(self, fn, *env):
        self.fn = fn
        self.env = env

    def __call__(self, *a):
        return self.fn(*self.env, *a)


def gconv(w, b, t):
    return w * t + b


def built_callable(x, w):
    y = np.sum(apply(Bound(gconv, w, w * 3.0), x))
    return y, dlgradient(y, x, w)


def built_callable_second(x, w):
    y = np.sum(apply(Bound(gconv, w, w * 3.0), x) ** 2)
    gx, gw = dlgradient(y, x, w)
    return dlgradient(np.sum(gx) + np.sum(gw), w)


def test_callable_object_built_inside_passed_to_helper():
    y, (gx, gw) = dlfeval(built_callable, dlarray(X), dlarray(W))
    assert_close(plain(y), np.sum(W * X + 3 * W))
    assert_close(plain(gx), W)
    assert_close(plain(gw), X + 3.0)
    # differentiating a *args method's adjoint again (was refused; exact since the adjoint of
    # rt.vararg_adjoints has its rule): d/dw of 2 w^2 (x+3) + 2 w (x+3)^2
    h = dlfeval(built_callable_second, dlarray(X), dlarray(W))
    assert_close(plain(h), 4 * W * (X + 3.0) + 2 * (X + 3.0) ** 2)


def starred_helper(x, w):
    args = (w, x * 2.0)
    y = np.sum(gconv(*args, x))
    return y, dlgradient(y, x, w)


def test_starred_arguments_to_helper():
    y, (gx, gw) = dlfeval(starred_helper, dlarray(X), dlarray(W))
    assert_close(plain(y), np.sum(W * X + 2 * X))
    assert_close(plain(gx), W + 2.0)
    assert_close(plain(gw), X)


# --- 6. dataclasses and namedtuples built inside ------------------------------------------------

@dataclass
class P:
    w: object
    b: object


@dataclass(frozen=True)
class FP:
    w: object
    b: object = 1.0


NT = namedtuple("NT", "w b")


def build_dataclass(x, w):
    p = P(w, x * 0.3)
    y = np.sum(p.w * x + p.b ** 2)
    return y, dlgradient(y, x, w)


def build_frozen(x, w):
    p = FP(w, b=x * 0.3)
    y = np.sum(p.w * x + p.b ** 2)
    return y, dlgradient(y, x, w)


def build_namedtuple(x, w):
    p = NT(w, x * 0.3)
    a, b = p
    y = np.sum(p.w * x + p[1] ** 2 + a * b)
    return y, dlgradient(y, x, w)


def build_dataclass_second(x, w):
    p = P(w, x * 0.3)
    y = np.sum(p.w * x ** 2 + p.b ** 3)
    g = dlgradient(y, x)
    return dlgradient(np.sum(g), x, w)


def test_dataclass_built_inside():
    for f in (build_dataclass, build_frozen):
        y, (gx, gw) = dlfeval(f, dlarray(X), dlarray(W))
        assert_close(plain(y), np.sum(W * X + (0.3 * X) ** 2))
        assert_close(plain(gx), W + 0.18 * X)
        assert_close(plain(gw), X)


def test_namedtuple_built_inside():
    y, (gx, gw) = dlfeval(build_namedtuple, dlarray(X), dlarray(W))
    assert_close(plain(y), np.sum(W * X + (0.3 * X) ** 2 + 0.3 * W * X))
    assert_close(plain(gx), W + 0.18 * X + 0.3 * W)
    assert_close(plain(gw), X + 0.3 * X)


def replace_dataclass(x, w):
    p = P(w, x * 0.3)
    q = dataclasses.replace(p, w=p.w * 2.0)
    y = np.sum(q.w * x)
    return y, dlgradient(y, x)


def test_dataclasses_replace_is_differentiated():
    # Once refused (issue 6); dataclasses.replace is now followed (tests/test_idioms_dec6.py):
    # y = sum(2 w x), dy/dx = 2 w.
    y, gx = dlfeval(replace_dataclass, dlarray(X), dlarray(W))
    assert_close(plain(y), np.sum(2.0 * W * X))
    assert_close(plain(gx), 2.0 * W)


def test_dataclass_second_derivative():
    hx, hw = dlfeval(build_dataclass_second, dlarray(X), dlarray(W))
    g = lambda x, w: 2 * w * x + 3 * 0.3 * (0.3 * x) ** 2
    assert_close(plain(hx), numerical_gradient(lambda x: float(np.sum(g(x, W))), [X], 0), atol=1e-5)
    assert_close(plain(hw), numerical_gradient(lambda w: float(np.sum(g(X, w))), [W], 0), atol=1e-5)


# --- 7. np.outer of a constant held in a dict, twice differentiated -----------------------------

def outer_loss(x):
    Wc = np.array([1.0, -0.5, 0.25])
    p = {"w": Wc, "b": x * 0.5}
    return np.sum((np.tanh(x @ np.outer(p["w"], p["w"])) + p["b"]) ** 2)


def test_hvp_through_outer_of_constant_in_dict():
    x = X[:3]
    v = np.array([1.0, 2.0, 0.5])
    hv = sct.hvp(outer_loss, x, v)
    grad = lambda z: np.array(numerical_gradient(lambda q: float(outer_loss(q)), [z], 0))
    h = 1e-4
    expected = (grad(x + h * v) - grad(x - h * v)) / (2 * h)
    assert_close(plain(hv), expected, rtol=1e-4, atol=1e-4)


# --- 8. jvp with defaulted parameters -------------------------------------------------------------

def with_default(x, s=2.0):
    return np.sin(x) * s


def test_jvp_with_defaults():
    v = np.linspace(-1.0, 1.0, X.size)
    for mode in ("forward", "transpose"):
        y, jv = sct.jvp(with_default, X, v, mode=mode)
        assert_close(plain(y), 2.0 * np.sin(X))
        assert_close(plain(jv), 2.0 * np.cos(X) * v)


# --- 9. comprehension variables stay in the comprehension --------------------------------------

def comp_list(x):
    k = 2.0
    ys = [x * k for k in range(3)]
    return np.sum(ys[2]) * k


def comp_generator(x):
    i = x * 0.5
    s = sum(np.sum(x * i) for i in range(1, 3))
    return s + np.sum(i)


def comp_dict(x):
    k = 3
    d = {k: x * k for k in range(2)}
    return np.sum(d[1]) * k


def comp_nested(x):
    j = 5.0
    m = [[x[i] * j for j in range(2)] for i in range(2)]
    return m[1][1] * j + np.sum(x)


def comp_shadows_traced(x):
    ys = [x * 2.0 for x in range(3)]
    return np.sum(x) * ys[2]


def comp_two_generators(x):
    t = 1.0
    ys = [x * t for t in [2.0, 3.0] if t > 1.5]
    zs = [a * b for a in ys for b in [t, 2 * t]]
    return np.sum(zs[1]) + t


@pytest.mark.parametrize("fun", [comp_list, comp_generator, comp_dict, comp_nested,
                                 comp_shadows_traced, comp_two_generators])
def test_comprehension_scope(fun):
    def both(x):
        y = fun(x)
        return y, dlgradient(y, x)
    globals()["_COMP_FUN"] = fun
    y, g = dlfeval(_comp_wrapper, dlarray(X))
    assert_close(plain(y), fun(X))
    assert_close(plain(g), numerical_gradient(lambda z: float(fun(z)), [X], 0), rtol=1e-5, atol=1e-6)


_COMP_FUN = comp_list


def _comp_wrapper(x):
    y = _COMP_FUN(x)
    return y, dlgradient(y, x)
