"""Stop 47: a helper taking dlgradient with respect to a list or dict it is given, where the
caller passes one whose items were computed from one another (each was a wrong gradient before:
the helper, compiled on its own, differentiates each item as a value of its own; MATLAB's trace
follows the paths between them).  Refused now at the caller's line; fresh structures still run.
"""
import numpy as np
import pytest

import sct
from sct import CompileError, dlarray, dlfeval, dlgradient

from gradcheck import D, numerical_gradient

W0 = np.array([1.0, 2.0, 3.0])


def refused_here(fun, *args):
    """dlfeval(fun, *args) is refused with a CompileError naming this file and dlgradient, and no
    internal error."""
    with pytest.raises(CompileError) as info:
        dlfeval(fun, *args)
    text = str(info.value)
    assert __file__ in text and "dlgradient" in text
    assert "internal error" not in text


def g3(d):
    y = np.sum(d["a"] * d["b"])
    return dlgradient(y, d["a"])


def gl(hs):
    y = sum(np.sum(h ** 2) for h in hs)
    return dlgradient(y, hs)


# --- 1. a name bound to another value in one branch (comprehension with an if-expression) ---------

def comp_alias_inline(w):
    d = {k: (w if k == "a" else w * 3) for k in ("a", "b")}
    return g3(d)


def comp_alias_loop(w):
    tot = 0
    for s in (2.0, 3.0):
        d = {k: (w if k == "a" else w * s) for k in ("a", "b")}
        tot = tot + g3(d)
    return tot


def item_alias_branch_loop(w):
    tot = 0
    for s in (2.0, 3.0):
        d = {}
        d["a"] = w if s > 0 else w * 2
        d["b"] = w * s
        tot = tot + g3(d)
    return tot


def name_alias_branch_loop(w):
    tot = 0
    for s in (2.0, 3.0):
        a = w
        if s < 0:
            a = w * 2
        tot = tot + g3({"a": a, "b": w * s})
    return tot


# --- 2. a dict a helper returned (a factory) ---------------------------------------------------------

def mk(w, s):
    return {k: (w if k == "a" else w * s) for k in ("a", "b")}


def mk_loop(w, s):
    out = {}
    for k in ("a", "b"):
        if k == "a":
            v = w
        else:
            v = w * s
        out[k] = v
    return out


def mk_display(w, s):
    return {"a": w, "b": w * s}


def factory_loop(w):
    tot = 0
    for s in (2.0, 3.0):
        tot = tot + g3(mk(w, s))
    return tot


def factory_built_in_loop(w):
    tot = 0
    for s in (2.0, 3.0):
        tot = tot + g3(mk_loop(w, s))
    return tot


def factory_display(w):
    tot = 0
    for s in (2.0, 3.0):
        d = mk_display(w, s)
        tot = tot + g3(d)
    return tot


# --- 3. a list of an RNN's states (each computed from the one before) ---------------------------------

def rnn_states(w):
    hs = []
    h = w
    for t in range(3):
        h = np.tanh(h * 0.5)
        hs.append(h)
    return gl(hs)[0]


def rnn_states_twice(w):
    hs = []
    h = w
    for t in range(3):
        h = np.tanh(h * 0.5)
        hs.append(h)
    tot = 0
    for k in range(2):
        tot = tot + gl(hs)[0]
    return tot / 2


def rnn_states_read_back(w):
    hs = [w]
    for t in range(3):
        hs.append(np.tanh(hs[-1] * 0.5))
    return gl(hs[1:])[0]


def rnn_state_in_a_dict(w):
    hs = []
    state = {"h": w}
    for t in range(3):
        h = np.tanh(state["h"] * 0.5)
        state = {"h": h}
        hs.append(h)
    return gl(hs)[0]


WRONG_BEFORE = [comp_alias_inline, comp_alias_loop, item_alias_branch_loop, name_alias_branch_loop,
                factory_loop, factory_built_in_loop, factory_display, rnn_states, rnn_states_twice,
                rnn_states_read_back, rnn_state_in_a_dict]


@pytest.mark.parametrize("fun", WRONG_BEFORE, ids=[f.__name__ for f in WRONG_BEFORE])
def test_linked_items_given_to_a_dlgradient_helper_are_refused(fun):
    sct.clear_cache()
    refused_here(fun, dlarray(W0))


def test_the_states_differentiated_in_the_function_itself_stay_exact():
    """The same list differentiated where it is built: MATLAB's answer (through later states)."""
    def f(w):
        h1 = np.tanh(w * 0.5)
        h2 = np.tanh(h1 * 0.5)
        h3 = np.tanh(h2 * 0.5)
        hs = [h1, h2, h3]
        y = np.sum(h1 ** 2) + np.sum(h2 ** 2) + np.sum(h3 ** 2)
        return dlgradient(y, hs)[0]

    def expected(w):
        h1 = np.tanh(w * 0.5)
        h2 = np.tanh(h1 * 0.5)
        h3 = np.tanh(h2 * 0.5)
        d3 = 2 * h3
        d2 = 2 * h2 + d3 * (1 - h3 ** 2) * 0.5
        return 2 * h1 + d2 * (1 - h2 ** 2) * 0.5
    np.testing.assert_allclose(D(dlfeval(f, dlarray(W0))), expected(W0), rtol=1e-12)


# --- fresh structures a helper returns still run (training steps inside dlfeval) ---------------------

def _loss(p, x):
    return np.sum(np.tanh(p["W"] * x + p["b"]) ** 2)


def sgd_step(p, x):
    g = dlgradient(_loss(p, x), p)
    return {k: p[k] - 0.1 * g[k] for k in p}


def sgd_step_lambda(p, x):
    upd = lambda w, gw: w - 0.1 * gw        # noqa: E731
    g = dlgradient(_loss(p, x), p)
    return {k: upd(p[k], g[k]) for k in p}


def sgd_step_dlupdate(p, x):
    g = dlgradient(_loss(p, x), p)
    return sct.dlupdate(lambda w, gw: w - 0.1 * gw, p, g)


def sgd_step_keyword_dict(p, x):
    g = dlgradient(_loss(p, x), p)
    return dict(W=p["W"] - 0.1 * g["W"], b=p["b"] - 0.1 * g["b"])


def _keep(q, x):
    return q


def sgd_step_kept(p, x):
    g = dlgradient(_loss(p, x), p)
    return _keep({k: p[k] - 0.1 * g[k] for k in p}, x)


def sgd_step_delegated(p, x):
    return sgd_step(p, x)


STEPS = [sgd_step, sgd_step_lambda, sgd_step_dlupdate, sgd_step_keyword_dict, sgd_step_kept, sgd_step_delegated]


def _plain_steps(W, b, x, n=3):
    for _ in range(n):
        a = np.tanh(W * x + b)
        gz = 2 * a * (1 - a ** 2)
        W, b = W - 0.1 * gz * x, b - 0.1 * gz
    return np.sum(W ** 2) + np.sum(b ** 2)


@pytest.mark.parametrize("step", STEPS, ids=[s.__name__ for s in STEPS])
def test_training_steps_returning_new_values_run_and_match_finite_differences(step):
    def outer(p0, x):
        p = p0
        for _ in range(3):
            p = step(p, x)
        L = np.sum(p["W"] ** 2) + np.sum(p["b"] ** 2)
        return L, dlgradient(L, p0["W"])

    rng = np.random.default_rng(3)
    W, b, x = rng.standard_normal(4) * 0.5, rng.standard_normal(4) * 0.5, rng.standard_normal(4)
    sct.clear_cache()
    L, gW = dlfeval(outer, {"W": dlarray(W), "b": dlarray(b)}, dlarray(x))
    assert abs(float(D(L)) - _plain_steps(W, b, x)) < 1e-12
    np.testing.assert_allclose(D(gW), numerical_gradient(_plain_steps, [W, b, x], 0), rtol=1e-6, atol=1e-8)


def train_state_step(state, x):
    g = dlgradient(_loss(state["params"], x), state["params"])
    p = {k: v - state["lr"] * g[k] for k, v in state["params"].items()}
    return {"params": p, "lr": state["lr"], "step": state["step"] + 1}


def test_a_state_with_a_plain_setting_read_by_its_new_params_runs():
    """``lr`` is both an item of the new state and read by its params: a link only where it is
    traced; a plain float carries none."""
    def outer(p0, x):
        state = {"params": p0, "lr": 0.1, "step": 0}
        for _ in range(3):
            state = train_state_step(state, x)
        p = state["params"]
        L = np.sum(p["W"] ** 2) + np.sum(p["b"] ** 2)
        return L, dlgradient(L, p0["W"])

    rng = np.random.default_rng(4)
    W, b, x = rng.standard_normal(4) * 0.5, rng.standard_normal(4) * 0.5, rng.standard_normal(4)
    L, gW = dlfeval(outer, {"W": dlarray(W), "b": dlarray(b)}, dlarray(x))
    assert abs(float(D(L)) - _plain_steps(W, b, x)) < 1e-12
    np.testing.assert_allclose(D(gW), numerical_gradient(_plain_steps, [W, b, x], 0), rtol=1e-6, atol=1e-8)


def test_a_state_whose_traced_setting_its_params_read_is_refused():
    """The same step with a traced ``lr``: the new params are computed from the ``lr`` item the new
    state holds, and a helper differentiating with respect to the state would miss that path."""
    def lr_step(state, x):
        g = dlgradient(_loss(state["params"], x) + state["lr"] ** 2, state)
        p = {k: v - state["lr"] * g["params"][k] for k, v in state["params"].items()}
        return {"params": p, "lr": state["lr"]}

    def outer(p0, lr, x):
        state = {"params": p0, "lr": lr}
        for _ in range(2):
            state = lr_step(state, x)
        return np.sum(state["params"]["W"] ** 2)

    refused_here(outer, {"W": dlarray(W0), "b": dlarray(W0 * 0.1)}, dlarray(np.array(0.1)), dlarray(W0))


# --- objects built in the loop and handed to such a helper -------------------------------------------

from collections import namedtuple          # noqa: E402
from dataclasses import dataclass           # noqa: E402


@dataclass
class Params:
    W: object
    b: object


PairNT = namedtuple("PairNT", "W b")


class Holder:
    def __init__(self, W, b):
        self.W = W
        self.b = b


@dataclass
class Scaled:
    W: object
    b: object

    def __post_init__(self):
        self.b = self.b * 1.0


def _obj_loss(p, x):
    return np.sum(np.tanh(p.W * x + p.b) ** 2)


def obj_grad(p, x):
    return dlgradient(_obj_loss(p, x), p)


def _built_in_loop(make, linked):
    def f_linked(W, b, x):
        tot = 0
        for _ in range(2):
            p = make(W, W * 3)
            g = obj_grad(p, x)
            tot = tot + np.sum(g.W)
        return tot

    def f_new(W, b, x):
        tot = 0
        for _ in range(2):
            p = make(W * 2, b + 1)
            g = obj_grad(p, x)
            tot = tot + np.sum(g.W)
        return tot
    return f_linked if linked else f_new


@pytest.mark.parametrize("make", [Params, PairNT, Holder], ids=["dataclass", "namedtuple", "class"])
def test_objects_of_new_values_built_in_a_loop_run(make):
    W, b, x = np.array([0.1, 0.2]), np.array([0.3, -0.2]), np.array([1.0, 2.0])
    out = dlfeval(_built_in_loop(make, False), dlarray(W), dlarray(b), dlarray(x))
    a = np.tanh(2 * W * x + b + 1)
    np.testing.assert_allclose(float(D(out)), 2 * np.sum(2 * a * (1 - a ** 2) * x), rtol=1e-12)


@pytest.mark.parametrize("make", [Params, PairNT, Holder, Scaled],
                         ids=["dataclass", "namedtuple", "class", "post-init"])
def test_objects_of_linked_values_built_in_a_loop_are_refused(make):
    """P(W, W * 3): the helper's gradient for p.W misses the path through p.b (was: the partial
    derivative, 3.86 where MATLAB's trace gives 11.6)."""
    W, b, x = np.array([0.1, 0.2]), np.array([0.3, -0.2]), np.array([1.0, 2.0])
    refused_here(_built_in_loop(make, True), dlarray(W), dlarray(b), dlarray(x))


# --- MAML-style loops in the function dlfeval runs: a helper's gradient, then new values --------------

def _grad_of(p, x):
    return dlgradient(_loss(p, x), p)


def maml_dlupdate(p, x):
    for _ in range(2):
        g = _grad_of(p, x)
        p = sct.dlupdate(lambda w, d: w - 0.1 * d, p, g)
    L = _loss(p, x)
    return L, dlgradient(L, p["W"])


def maml_keyword_dict(p, x):
    q = dict(p)
    for _ in range(2):
        g = _grad_of(q, x)
        q = dict(W=q["W"] - 0.1 * g["W"], b=q["b"] - 0.1 * g["b"])
    L = _loss(q, x)
    return L, dlgradient(L, p["W"])         # (through both steps)


def maml_comprehension(p, x):
    for _ in range(2):
        g = _grad_of(p, x)
        p = {k: p[k] - 0.1 * g[k] for k in p}
    L = _loss(p, x)
    return L, dlgradient(L, p["W"])


@pytest.mark.parametrize("fun", [maml_dlupdate, maml_keyword_dict, maml_comprehension],
                         ids=["dlupdate", "dict-keywords", "comprehension"])
def test_inner_loops_rebuilding_the_parameters_run(fun):
    """(the first two were refused by a first version of the links of stop 47: the tape and the
    runtime's checks joined every value, and ``dict(p)`` held p as an item)"""
    W, b, x = np.array([0.1, 0.2]), np.array([0.3, -0.2]), np.array([1.0, 2.0])
    sct.clear_cache()
    L, gW = dlfeval(fun, {"W": dlarray(W), "b": dlarray(b)}, dlarray(x))
    Wn, bn = W.copy(), b.copy()
    for _ in range(2):
        a = np.tanh(Wn * x + bn)
        gz = 2 * a * (1 - a ** 2)
        Wn, bn = Wn - 0.1 * gz * x, bn - 0.1 * gz
    a = np.tanh(Wn * x + bn)
    assert abs(float(D(L)) - np.sum(a ** 2)) < 1e-12
    if fun is maml_keyword_dict:
        def plain(W, b, x):
            for _ in range(2):
                a = np.tanh(W * x + b)
                gz = 2 * a * (1 - a ** 2)
                W, b = W - 0.1 * gz * x, b - 0.1 * gz
            return np.sum(np.tanh(W * x + b) ** 2)
        np.testing.assert_allclose(D(gW), numerical_gradient(plain, [W, b, x], 0), rtol=1e-6, atol=1e-9)
    else:
        np.testing.assert_allclose(D(gW), 2 * a * (1 - a ** 2) * x, rtol=1e-10)


# --- lists of states built by any of Python's ways of filling a list --------------------------------

class _Record:
    def __init__(self):
        self.hs = []


def states_in_a_dict_list(w):
    st = {"hs": []}
    h = w
    for t in range(3):
        h = np.tanh(h * 0.5)
        st["hs"].append(h)
    return gl(st["hs"])[0]


def states_augmented(w):
    h, hs = w, []
    for t in range(3):
        h = np.tanh(h * 0.5)
        hs += [h]
    return gl(hs)[0]


def states_inserted(w):
    h, hs = w, []
    for t in range(3):
        h = np.tanh(h * 0.5)
        hs.insert(0, h)
    return gl(hs[::-1])[0]


def states_tuple(w):
    h, hs = w, ()
    for t in range(3):
        h = np.tanh(h * 0.5)
        hs = hs + (h,)
    return gl(list(hs))[0]


def states_extended(w):
    h, hs = w, []
    for t in range(3):
        h = np.tanh(h * 0.5)
        hs.extend([h])
    return gl(tuple(hs))[0]


FILLED = [states_in_a_dict_list, states_augmented, states_inserted, states_tuple, states_extended]


@pytest.mark.parametrize("fun", FILLED, ids=[f.__name__ for f in FILLED])
def test_states_filled_any_way_given_to_a_dlgradient_helper_are_refused(fun):
    """(each gave the partial derivatives [0.92 1.52 1.81] where the states' own, through the later
    states, are [1.19 1.91 2.24])"""
    refused_here(fun, dlarray(W0))


def test_a_list_of_new_values_filled_in_a_loop_still_runs():
    def f(w):
        xs = []
        for t in range(3):
            xs.append(w * (t + 1.0))
        g = gl(xs)
        return g[0] + g[2]
    np.testing.assert_allclose(D(dlfeval(f, dlarray(W0))), 2 * W0 + 6 * W0, rtol=1e-12)


# --- states computed by a helper (a cell), a callable object, a method, or kept in a dict ------------

def _cell(h):
    return np.tanh(h * 0.5)


class _Cell:
    def __call__(self, h):
        return np.tanh(h * 0.5)

    def step(self, h):
        return np.tanh(h * 0.5)


def cell_states(w):
    h, hs = w, []
    for t in range(3):
        h = _cell(h)
        hs.append(h)
    return gl(hs)[0]


def callable_states(w):
    c = _Cell()
    h, hs = w, []
    for t in range(3):
        h = c(h)
        hs.append(h)
    return gl(hs)[0]


def method_states(w):
    c = _Cell()
    h, hs = w, []
    for t in range(3):
        h = c.step(h)
        hs.append(h)
    return gl(hs)[0]


def dict_states(w):
    hs = {0: w}
    for t in range(1, 4):
        hs[t] = _cell(hs[t - 1])
    return gl([hs[1], hs[2], hs[3]])[0]


CELLS = [cell_states, callable_states, method_states, dict_states]


@pytest.mark.parametrize("fun", CELLS, ids=[f.__name__ for f in CELLS])
def test_states_a_cell_computes_given_to_a_dlgradient_helper_are_refused(fun):
    refused_here(fun, dlarray(W0))


# --- what a step returns: a parameter's item beside a value computed from it through the gradient -----

def _nl_loss(p, x):
    return np.sum(np.tanh(p["w"] * p["e"]) * x) + np.sum(p["e"] ** 2 * x)


def _step_keeping_e(p, x):
    g = dlgradient(_nl_loss(p, x), p)
    return {"w": p["w"] - 0.1 * (g["w"] + g["e"]), "e": p["e"]}


def test_a_step_returning_an_item_its_other_items_are_computed_from_is_refused():
    """The next step's dlgradient with respect to p["e"] would miss the path through p["w"], computed
    from it through g (was: the partial derivative, the value of the loop silently MATLAB's only for a
    linear loss)."""
    def outer(p0, x):
        p = p0
        for _ in range(3):
            p = _step_keeping_e(p, x)
        return np.sum(p["w"] ** 2)

    rng = np.random.default_rng(0)
    refused_here(outer, {"w": dlarray(rng.standard_normal(3)), "e": dlarray(rng.standard_normal(3))},
                dlarray(rng.standard_normal(3)))


# --- steps building their result in a loop, or as an object of new values, still run ----------------

def step_list_loop(p, x):
    g = dlgradient(_list_loss(p, x), p)
    q = []
    for i in range(len(p)):
        q.append(p[i] - 0.1 * g[i])
    return q


def _list_loss(p, x):
    return np.sum(np.tanh(p[0] * x + p[1]) ** 2)


@pytest.mark.parametrize("step", [step_list_loop], ids=["appended"])
def test_steps_returning_new_values_built_in_a_loop_run(step):
    def outer(p0, x):
        p = p0
        for _ in range(3):
            p = step(p, x)
        return np.sum(p[0] ** 2) + np.sum(p[1] ** 2)

    rng = np.random.default_rng(5)
    W, b, x = rng.standard_normal(4) * 0.5, rng.standard_normal(4) * 0.5, rng.standard_normal(4)
    sct.clear_cache()
    L = dlfeval(outer, [dlarray(W), dlarray(b)], dlarray(x))
    assert abs(float(D(L)) - _plain_steps(W, b, x)) < 1e-12
