"""Stop 44 (mine): fixes found by my own probes, each with its program."""
from __future__ import annotations

import numpy as np
import pytest

import sct
from sct import CompileError, dlarray, dlfeval, dlgradient

from gradcheck import D, numerical_gradient
# (the loss, its hand-written numpy steps and the data of stop 43's loop tests)
from test_fixes_s43 import data as _data, loss_fn as _loss, np_outer as _np_outer, np_step as _np_step


# --- a training step called in a loop, with dlarray data: defaults, keywords, methods -----------
# ``p = step(p, x, y)`` with dlgradient inside ``step`` was refused ("passes for 'x' a value
# computed from the one it passes for 'p'") as soon as ``step`` had a parameter with a default
# (``lr=0.1``), a keyword-only parameter or a keyword argument at the call, or was a method
# (``self.step(p, x, y)``): what the helper returns was read off its code only for plain
# positional calls of functions, and taken to hold every argument otherwise.



def step_default(p, x, y, lr=0.1):
    g = dlgradient(_loss(p, x, y), p)
    return {k: p[k] - lr * g[k] for k in p}


def step_kwonly(p, x, y, *, lr=0.1):
    g = dlgradient(_loss(p, x, y), p)
    return {k: p[k] - lr * g[k] for k in p}


def outer_default(p0, x, y):
    p = p0
    for _ in range(3):
        p = step_default(p, x, y)
    final = _loss(p, x, y)
    return final, dlgradient(final, p0, x)


def outer_keyword(p0, x, y):
    p = p0
    for _ in range(3):
        p = step_default(p, x, y, lr=0.1)
    final = _loss(p, x, y)
    return final, dlgradient(final, p0, x)


def outer_kwonly(p0, x, y):
    p = p0
    for _ in range(3):
        p = step_kwonly(p, x, lr=0.1, y=y)
    final = _loss(p, x, y)
    return final, dlgradient(final, p0, x)


class Trainer:
    def __init__(self, lr):
        self.lr = lr

    def step(self, p, x, y):
        g = dlgradient(_loss(p, x, y), p)
        return {k: p[k] - self.lr * g[k] for k in p}

    def outer(self, p0, x, y):
        p = p0
        for _ in range(3):
            p = self.step(p, x, y)
        final = _loss(p, x, y)
        return final, dlgradient(final, p0, x)


@pytest.mark.parametrize("accelerated", [False, True])
@pytest.mark.parametrize("outer", [outer_default, outer_keyword, outer_kwonly, Trainer(0.1).outer],
                         ids=["default", "keyword", "kwonly", "method"])
def test_step_loop_with_defaults_keywords_and_methods(outer, accelerated):
    w, b, x, y = _data()
    fun = sct.accelerate(outer) if accelerated else outer
    val, (gp, gx) = dlfeval(fun, {"w": dlarray(w), "b": dlarray(b)}, dlarray(x), y)
    assert abs(float(D(val)) - _np_outer(w, b, x, y)) < 1e-12
    for got, index in ((gp["w"], 0), (gp["b"], 1), (gx, 2)):
        np.testing.assert_allclose(D(got), numerical_gradient(_np_outer, [w, b, x, y], index), atol=1e-7)


# ... and what still holds ``x`` is refused ---------------------------------------------------

def step_extra(p, x, y, *, extra=None):
    g = dlgradient(_loss(p, x, y), p)
    return {"w": p["w"] - 0.1 * g["w"], "b": p["b"] - 0.1 * g["b"], "e": extra}


def loop_extra(p, x, y):
    for _ in range(3):
        p = step_extra(p, x, y, extra=x)
        p = {"w": p["w"] + 0.0 * p["e"][0, :2], "b": p["b"]}
    return _loss(p, x, y)


def step_cfg(p, x, y, cfg={"keep": []}):       # a default that is not a number: not summarised
    g = dlgradient(_loss(p, x, y), p)
    return {"w": p["w"] - 0.1 * g["w"], "b": p["b"] - 0.1 * g["b"], "cfg": cfg}


def loop_cfg(p, x, y):
    for _ in range(3):
        p = step_cfg(p, x, y)
        p = {"w": p["w"], "b": p["b"]}
    return _loss(p, x, y)


def _shadow(p, x, y):
    g = dlgradient(_loss(p, x, y), p)
    return {"w": p["w"] + x[0, :2] - 0.1 * g["w"], "b": p["b"]}


class ReturnsX(Trainer):
    def step(self, p, x, y):
        g = dlgradient(_loss(p, x, y), p)
        return {"w": p["w"] - 0.1 * g["w"], "b": p["b"], "x": x}

    def outer(self, p, x, y):
        for _ in range(3):
            p = self.step(p, x, y)
            p = {"w": p["w"] + 0.0 * p["x"][0, :2], "b": p["b"]}
        return _loss(p, x, y)


class KeepsX(Trainer):
    def step(self, p, x, y):
        self.keep = x
        g = dlgradient(_loss(p, x, y), p)
        return {"w": p["w"] - 0.1 * g["w"], "b": p["b"], "k": self.keep}

    def outer(self, p, x, y):
        for _ in range(3):
            p = self.step(p, x, y)
            p = {"w": p["w"] + 0.0 * p["k"][0, :2], "b": p["b"]}
        return _loss(p, x, y)


class Static(Trainer):
    @staticmethod
    def step(p, x, y):
        return _shadow(p, x, y)


class Redirects(Trainer):
    def __getattribute__(self, name):
        return _shadow if name == "step" else object.__getattribute__(self, name)


def _shadowed():
    t = Trainer(0.1)
    t.step = _shadow             # the object's own attribute, not the class's method
    return t


@pytest.mark.parametrize("fun", [loop_extra, loop_cfg, ReturnsX(0.1).outer, KeepsX(0.1).outer,
                                 Static(0.1).outer, Redirects(0.1).outer, _shadowed().outer],
                         ids=["keyword-x", "object-default", "method-returns-x", "method-keeps-x",
                              "staticmethod", "getattribute", "instance-attribute"])
def test_step_loop_holding_x_is_refused(fun):
    w, b, x, y = _data()
    with pytest.raises(CompileError, match="computed from the one it passes|second name|holds too"):
        dlfeval(fun, {"w": dlarray(w), "b": dlarray(b)}, dlarray(x), y)


# --- the step's value computed by other helpers of the user's: read through them ---------------
# ``return new_p, L`` with ``L = loss_fn(p, x, y)`` was taken to hold ``x`` (a call of the
# user's code may return its arguments), so ``p, L = step(p, x, y)`` was refused.

def step_tuple(p, x, y):
    L = _loss(p, x, y)
    g = dlgradient(L, p)
    return {k: p[k] - 0.1 * g[k] for k in p}, L


def outer_tuple(p0, x, y):
    p, losses = p0, []
    for _ in range(3):
        p, L = step_tuple(p, x, y)
        losses.append(L)
    final = _loss(p, x, y)
    return final, dlgradient(final, p0, x), losses


def _keep(q, x):
    return q


def step_through(p, x, y):
    g = dlgradient(_loss(p, x, y), p)
    return _keep({k: p[k] - 0.1 * g[k] for k in p}, x)


def outer_through(p0, x, y):
    p = p0
    for _ in range(3):
        p = step_through(p, x, y)
    final = _loss(p, x, y)
    return final, dlgradient(final, p0, x), []


@pytest.mark.parametrize("outer", [outer_tuple, outer_through])
def test_step_value_read_through_helpers(outer):
    w, b, x, y = _data()
    val, (gp, gx), losses = dlfeval(outer, {"w": dlarray(w), "b": dlarray(b)}, dlarray(x), y)
    assert abs(float(D(val)) - _np_outer(w, b, x, y)) < 1e-12
    for got, index in ((gp["w"], 0), (gp["b"], 1), (gx, 2)):
        np.testing.assert_allclose(D(got), numerical_gradient(_np_outer, [w, b, x, y], index), atol=1e-7)
    w1, b1 = w, b
    for L in losses:
        assert abs(float(D(L)) - np.mean((np.tanh(x @ w1 + b1) - y) ** 2)) < 1e-12
        w1, b1 = _np_step(w1, b1, x, y)


def test_helper_of_the_step_rebound_to_keep_x_is_refused():
    """The summary of ``step`` reads ``_keep``'s code: rebinding ``_keep`` (a notebook cell) to
    one storing ``x`` into its result is refused at the next call, not run with the old summary."""
    global _keep
    w, b, x, y = _data()
    dlfeval(outer_through, {"w": dlarray(w), "b": dlarray(b)}, dlarray(x), y)
    old = _keep

    def _keep(q, x):
        q["x"] = x
        return q
    try:
        with pytest.raises(CompileError, match="computed from the one it passes"):
            dlfeval(outer_through, {"w": dlarray(w), "b": dlarray(b)}, dlarray(x), y)
    finally:
        _keep = old


# --- functions and lambdas the step defines --------------------------------------------------
# ``def inner(q): ...`` inside the step, or ``dlupdate(lambda w, g: w - lr * g, p, g)`` (MATLAB's
# SGD idiom), left the step unsummarised, so the loop was refused with dlarray data.  They are read
# as if written in place: parameters bound to the arguments of each call, the name holding what its
# closure reads; one handed on (to dlupdate, map) must write nothing.

def step_nested(p, x, y):
    def inner(q):
        return np.mean((np.tanh(x @ q["w"] + q["b"]) - y) ** 2)
    g = dlgradient(inner(p), p)
    return {k: p[k] - 0.1 * g[k] for k in p}


def step_dlupdate(p, x, y):
    g = dlgradient(_loss(p, x, y), p)
    return sct.dlupdate(lambda w, gw: w - 0.1 * gw, p, g)


def step_named_lambda(p, x, y):
    sgd = lambda w, gw, lr=0.1: w - lr * gw     # noqa: E731
    g = dlgradient(_loss(p, x, y), p)
    return {k: sgd(p[k], g[k]) for k in p}


def _outer_of(step):
    def outer(p0, x, y):
        p = p0
        for _ in range(3):
            p = step(p, x, y)
        final = _loss(p, x, y)
        return final, dlgradient(final, p0, x)
    return outer


def test_step_with_dlupdate_lambda_runs():
    """(dlupdate itself has no derivative: a gradient through the updated values is refused.)"""
    w, b, x, y = _data()

    def steps(p, x, y):
        for _ in range(3):
            p = step_dlupdate(p, x, y)
        return _loss(p, x, y), p
    loss, p = dlfeval(steps, {"w": dlarray(w), "b": dlarray(b)}, dlarray(x), y)
    assert abs(float(D(loss)) - _np_outer(w, b, x, y)) < 1e-12
    for _ in range(3):
        w, b = _np_step(w, b, x, y)
    np.testing.assert_allclose(D(p["w"]), w, rtol=1e-12)
    np.testing.assert_allclose(D(p["b"]), b, rtol=1e-12)


@pytest.mark.parametrize("step", [step_nested, step_named_lambda])
def test_step_defining_functions(step):
    w, b, x, y = _data()
    val, (gp, gx) = dlfeval(_outer_of(step), {"w": dlarray(w), "b": dlarray(b)}, dlarray(x), y)
    assert abs(float(D(val)) - _np_outer(w, b, x, y)) < 1e-12
    for got, index in ((gp["w"], 0), (gp["b"], 1), (gx, 2)):
        np.testing.assert_allclose(D(got), numerical_gradient(_np_outer, [w, b, x, y], index), atol=1e-7)


def _steps_holding_x():
    def returns_param(p, x, y):
        def ident(q):
            return q
        g = dlgradient(_loss(p, x, y), p)
        return {"w": p["w"] - 0.1 * g["w"], "b": p["b"], "x": ident(x)}

    def closure_value(p, x, y):
        def getx():
            return x
        g = dlgradient(_loss(p, x, y), p)
        return {"w": p["w"] - 0.1 * g["w"], "b": p["b"], "x": getx()}

    def closure_returned(p, x, y):
        def getx():
            return x
        g = dlgradient(_loss(p, x, y), p)
        return {"w": p["w"] - 0.1 * g["w"], "b": p["b"], "x": getx}

    def writes_x(p, x, y):
        def put(q):
            q["x"] = x
        g = dlgradient(_loss(p, x, y), p)
        new = {"w": p["w"] - 0.1 * g["w"], "b": p["b"]}
        put(new)
        return new

    def default_x(p, x, y):
        def pick(q, s=x):
            return s
        g = dlgradient(_loss(p, x, y), p)
        return {"w": p["w"] - 0.1 * g["w"], "b": p["b"], "x": pick(p)}

    def keyword_x(p, x, y):
        def pick(q):
            return q
        g = dlgradient(_loss(p, x, y), p)
        return {"w": p["w"] - 0.1 * g["w"], "b": p["b"], "x": pick(q=x)}

    def lambda_of_x(p, x, y):
        g = dlgradient(_loss(p, x, y), p)
        return sct.dlupdate(lambda w, gw: w - 0.1 * gw + 0.0 * x[0, :w.size].reshape(w.shape) if w.ndim else x, p, g)

    def lambda_writes(p, x, y):
        g = dlgradient(_loss(p, x, y), p)
        new = {"w": p["w"] - 0.1 * g["w"], "b": p["b"]}
        list(map(lambda k: new.__setitem__(k, x), ["x"]))
        return new

    return [returns_param, closure_value, closure_returned, writes_x, default_x, keyword_x, lambda_of_x,
            lambda_writes]


def _loop_reading_x(step):
    def outer(p, x, y):
        for _ in range(3):
            p = step(p, x, y)
            p = {"w": p["w"] + (0.0 * p["x"][0, :2] if "x" in p and not callable(p["x"]) else 0.0),
                 "b": p["b"]}
        return _loss(p, x, y)
    return outer


@pytest.mark.parametrize("step", _steps_holding_x(), ids=lambda f: f.__name__)
def test_step_defining_functions_that_hold_x_is_refused(step):
    w, b, x, y = _data()
    with pytest.raises(CompileError):         # (two are refused by the checks of writes)
        dlfeval(_loop_reading_x(step), {"w": dlarray(w), "b": dlarray(b)}, dlarray(x), y)


def test_summaries_of_steps_defining_functions():
    """What the summary itself says (so the refusals above do not rest on other checks alone)."""
    from sct.call_tree import returns_holding
    for step in _steps_holding_x():
        held = returns_holding(step)
        assert held is None or "x" in held, step.__name__
    for step in (step_nested, step_dlupdate, step_named_lambda, step_tuple, step_through):
        assert returns_holding(step) == {"p"}, step.__name__
    assert returns_holding(step_default) == {"p", "lr"}
    assert returns_holding(Trainer.step) == {"p", "self"}


class Patched:
    def step(self, p, x, y):
        g = dlgradient(_loss(p, x, y), p)
        return {k: p[k] - 0.1 * g[k] for k in p}

    def outer(self, p, x, y):
        for _ in range(3):
            p = self.step(p, x, y)
        return sum(np.sum(v) for v in p.values())


def test_method_replaced_on_the_class_after_compiling_is_refused():
    """The method's summary is the class's function when the caller was compiled; replacing it on
    the class (a notebook cell) fails the call's guard, and the new one's first run is checked
    without the summary (was: run with the old summary, a partial derivative in the new step)."""
    w, b, x, y = _data()
    t = Patched()
    first = dlfeval(t.outer, {"w": dlarray(w), "b": dlarray(b)}, dlarray(x), y)
    w3, b3 = w, b
    for _ in range(3):
        w3, b3 = _np_step(w3, b3, x, y)
    assert abs(float(D(first)) - (w3.sum() + b3.sum())) < 1e-12
    old = Patched.step

    def keeps_x(self, p, x, y):
        g = dlgradient(_loss(p, x, y), p)
        q = {k: p[k] - 0.1 * g[k] for k in p}
        q.setdefault("x", x)
        return q
    Patched.step = keeps_x
    try:
        with pytest.raises(CompileError, match="computed from the one it passes"):
            dlfeval(t.outer, {"w": dlarray(w), "b": dlarray(b)}, dlarray(x), y)
    finally:
        Patched.step = old


# --- written-out loops of nested gradients: each step's gradient a function of its own step ------
# (sct/sweeps.py Sweeps.region) each step's self-contained sweep took the function's arguments and
# recomputed, and was differentiated again through, every step before it: compiling and running
# grew about 3x per step (MAML with 5 steps: 27 s of CPU to compile).

MAML_STEPS = 8


def _maml_loss(p, x, y):
    return np.mean((x @ p - y) ** 2)


def maml_written_out(w, x, y):
    p = w * 1.0
    for _ in range(MAML_STEPS):
        g = dlgradient(_maml_loss(p, x, y), p, EnableHigherDerivatives=True)
        p = p - 0.1 * g
    outer = _maml_loss(p, x, y)
    return outer, dlgradient(outer, w, x)


def _maml_plain(w, x, y, steps=MAML_STEPS):
    p = w
    for _ in range(steps):
        r = x @ p - y
        p = p - 0.1 * (2 * x.T @ r / r.size)
    return np.mean((x @ p - y) ** 2)


def test_written_out_nested_gradients_read_their_own_step():
    rng = np.random.default_rng(5)
    w, x, y = rng.normal(size=3), rng.normal(size=(5, 3)), rng.normal(size=5)
    v, (gw, gx) = dlfeval(maml_written_out, dlarray(w), dlarray(x), y)
    assert abs(float(D(v)) - _maml_plain(w, x, y)) < 1e-12
    np.testing.assert_allclose(D(gw), numerical_gradient(_maml_plain, [w, x, y], 0), rtol=1e-6, atol=1e-9)
    np.testing.assert_allclose(D(gx), numerical_gradient(_maml_plain, [w, x, y], 1), rtol=1e-6, atol=1e-9)
    text = str(sct.source(maml_written_out, dlarray(w), dlarray(x), y))
    import re
    heads = re.findall(r"^def maml_written_out_dlgradient_line\d+(?:_\d+)?\((.*)\):", text, re.M)
    steps = [h for h in heads if "effects_region" in h]
    assert len(steps) == MAML_STEPS, heads
    assert all(not re.search(r"\bw\b", h) for h in steps), steps    # each reads its own p, not w


def _noisy_loss(p, x, y):
    # a draw in the part a step's gradient recomputes: replayed from where that part starts
    return np.mean((x @ p - y) ** 2) + 0.05 * np.sum(p * np.random.standard_normal(p.shape))


def maml_noisy(w, x, y):
    p = w * 1.0
    for _ in range(3):
        g = dlgradient(_noisy_loss(p, x, y), p, EnableHigherDerivatives=True)
        p = p - 0.1 * g
    outer = _noisy_loss(p, x, y)
    return outer, dlgradient(outer, w)


def _noisy_plain(w, x, y, seed=11):
    np.random.seed(seed)
    p = w
    for _ in range(3):
        n = np.random.standard_normal(p.shape)
        r = x @ p - y
        p = p - 0.1 * (2 * x.T @ r / r.size + 0.05 * n)
    n = np.random.standard_normal(p.shape)
    return np.mean((x @ p - y) ** 2) + 0.05 * np.sum(p * n)


def test_written_out_nested_gradients_replay_draws_of_their_own_step():
    rng = np.random.default_rng(6)
    w, x, y = rng.normal(size=3), rng.normal(size=(5, 3)), rng.normal(size=5)
    for accelerated in (False, True):
        np.random.seed(11)
        fun = sct.accelerate(maml_noisy) if accelerated else maml_noisy
        v, gw = dlfeval(fun, dlarray(w), x, y)
        assert abs(float(D(v)) - _noisy_plain(w, x, y)) < 1e-12
        np.testing.assert_allclose(D(gw), numerical_gradient(_noisy_plain, [w, x, y], 0), rtol=1e-6, atol=1e-9)


def _mlp_loss(p, x, y):
    return np.mean((np.tanh(x @ p["W1"] + p["b1"]) @ p["W2"] - y) ** 2)


def maml_dict(W1, b1, W2, x, y):
    # MATLAB's parameters in a struct: the update a dict comprehension, written out as a loop filling
    # a new dict (the step's root is that dict, written into rather than bound: 5 steps took 92 s)
    p = {"W1": W1 * 1.0, "b1": b1 * 1.0, "W2": W2 * 1.0}
    for _ in range(4):
        g = dlgradient(_mlp_loss(p, x, y), p, EnableHigherDerivatives=True)
        p = {k: p[k] - 0.1 * g[k] for k in p}
    out = _mlp_loss(p, x, y)
    return out, dlgradient(out, W1, b1, W2, x)


def _maml_dict_plain(W1, b1, W2, x, y):
    p = {"W1": W1, "b1": b1, "W2": W2}
    for _ in range(4):
        h = np.tanh(x @ p["W1"] + p["b1"])
        dz = 2 * (h @ p["W2"] - y) / y.size
        dh = np.outer(dz, p["W2"]) * (1 - h ** 2)
        g = {"W1": x.T @ dh, "b1": dh.sum(0), "W2": h.T @ dz}
        p = {k: p[k] - 0.1 * g[k] for k in p}
    return _mlp_loss(p, x, y)


@pytest.mark.heavy              # (~40 s: CI skips it, conftest.py)
def test_written_out_nested_gradients_of_a_dict_of_parameters():
    rng = np.random.default_rng(7)
    args = [rng.normal(size=(3, 4)), rng.normal(size=4), rng.normal(size=4), rng.normal(size=(5, 3)),
            rng.normal(size=5)]
    v, grads = dlfeval(maml_dict, *[dlarray(a) for a in args[:4]], args[4])
    assert abs(float(D(v)) - _maml_dict_plain(*args)) < 1e-12
    for i, got in enumerate(grads):
        np.testing.assert_allclose(D(got), numerical_gradient(_maml_dict_plain, args, i), rtol=1e-6, atol=1e-9)
    text = str(sct.source(maml_dict, *[dlarray(a) for a in args[:4]], args[4]))
    assert text.count("effects_region") >= 4 * 3, text       # every step from its own dict
