"""Issue 7 item 4 / issue 8 item 6: the reverse pass writes the code once where it can.

``Transformer.build`` writes the sweeps once under a plan that assumes every primal value is
read, recording each question asked of it (``plans.AskedPlan``); where the real plan answers
every question the same, the forward code follows at once; where only pops differ, they are
dropped (``reverse.drop_pops``); otherwise the sweeps are written again under the real plan
(what every build did before).  The two roads must write the same
code: each function below is compiled both ways and the generated sources compared.  Also:
the records the passes hand on are frozen, a sweep's dependence fixed point
(``analysis.Dependence``) finds what a whole ``Activity`` from the same seeds finds, and the
activity found before aliasing is used again only where the rewrites changed nothing.
"""
import dataclasses

import numpy as np
import pytest

import sct
from sct import analysis, compiler, dlfeval, dlgradient, plans, reverse, sites
from sct.runtime.dlarray import dlarray

from gradcheck import assert_close, numerical_gradient


def straight(x, w):
    h = np.tanh(w @ x) * 0.5 + x
    y = np.sum(h ** 2) + np.mean(x[::-1] * h)
    return y, dlgradient(y, x, w)


def loops_and_branches(x, w):
    h = x
    acc = 0.0
    for i in range(3):
        t = np.sin(h) * (i + 1)
        h = np.tanh(w @ t)
        if np.sum(h) > 0:
            h = h * 2
        acc = acc + np.sum(h * t)
    k = 0
    while k < 2:
        acc = acc * 1.5
        k += 1
    return acc, dlgradient(acc, x, w)


def _helper(a, b, data):
    return np.sum((a * b - data) ** 2)


def with_helpers(x, w):
    data = np.ones(3)
    y = 0.0
    for j in range(2):
        y = y + _helper(x, w, data * j)
    z = _helper(w, x, data) + y
    return z, dlgradient(z, x)


def helpers_straight(x, w):
    data = np.ones(3)
    z = _helper(x, w, data) + _helper(w, x, data)
    return z, dlgradient(z, x)


def selections(p):
    y = np.sum(p["w"] ** 2) + np.sum(p["b"] * p["w"])
    g = dlgradient(y, p["w"], *[p["b"]])
    return y, g


def second_order(x):
    y = np.sum(np.sin(x) ** 3)
    g = dlgradient(y, x, EnableHigherDerivatives=True)
    z = np.sum(g * x)
    return z, dlgradient(z, x)


CASES = [
    (straight, lambda: (dlarray(np.array([0.3, -0.2, 0.5])), dlarray(np.eye(3) * 0.7 + 0.1))),
    (loops_and_branches, lambda: (dlarray(np.array([0.3, -0.2, 0.5])), dlarray(np.eye(3) * 0.7 + 0.1))),
    (with_helpers, lambda: (dlarray(np.array([0.3, -0.2, 0.5])), dlarray(np.array([1.0, 2.0, -0.5])))),
    (helpers_straight, lambda: (dlarray(np.array([0.3, -0.2, 0.5])), dlarray(np.array([1.0, 2.0, -0.5])))),
    (selections, lambda: ({"w": dlarray(np.array([0.3, -0.2])), "b": dlarray(np.array([1.5, 0.5]))},)),
    (second_order, lambda: (dlarray(np.array([0.3, -0.2, 0.5])),)),
]


def _sources(fn, args):
    sct.clear_cache()
    return str(sct.source(fn, *args, callees=True))


@pytest.mark.parametrize("fn,make", CASES, ids=lambda c: getattr(c, "__name__", ""))
def test_one_generation_writes_what_two_generations_write(fn, make, monkeypatch):
    counts = {"sweeps": 0}
    original = reverse.EmitPasses.sweep_functions

    def counting(self, found):
        counts["sweeps"] += 1
        return original(self, found)
    monkeypatch.setattr(reverse.EmitPasses, "sweep_functions", counting)
    once = _sources(fn, make())
    made_once = counts["sweeps"]
    monkeypatch.setattr(plans.AskedPlan, "dropped", lambda self, needed: None)
    counts["sweeps"] = 0
    twice = _sources(fn, make())
    assert counts["sweeps"] >= made_once        # forced: every build writes its sweeps twice
    assert once == twice
    sct.clear_cache()


def test_straight_line_code_is_written_once(monkeypatch):
    calls = []
    original = reverse.EmitPasses.sweep_functions
    monkeypatch.setattr(reverse.EmitPasses, "sweep_functions",
                        lambda self, found: calls.append(1) or original(self, found))
    sct.clear_cache()
    x0, w0 = np.array([0.3, -0.2, 0.5]), np.eye(3) * 0.7 + 0.1
    y, (gx, gw) = dlfeval(straight, dlarray(x0), dlarray(w0))
    assert len(calls) == 1

    def plain(x, w):
        h = np.tanh(w @ x) * 0.5 + x
        return np.sum(h ** 2) + np.mean(x[::-1] * h)
    assert_close(float(np.asarray(y.data if hasattr(y, "data") else y)), plain(x0, w0))
    assert_close(np.asarray(gx.data), numerical_gradient(plain, [x0, w0], 0))
    assert_close(np.asarray(gw.data), numerical_gradient(plain, [x0, w0], 1))


def test_loop_gradient_is_the_derivative():
    x0, w0 = np.array([0.3, -0.2, 0.5]), np.eye(3) * 0.7 + 0.1

    def plain(x, w):
        h = x
        acc = 0.0
        for i in range(3):
            t = np.sin(h) * (i + 1)
            h = np.tanh(w @ t)
            if np.sum(h) > 0:
                h = h * 2
            acc = acc + np.sum(h * t)
        return acc * 1.5 ** 2
    sct.clear_cache()
    acc, (gx, gw) = dlfeval(loops_and_branches, dlarray(x0), dlarray(w0))
    assert_close(float(np.asarray(getattr(acc, "data", acc))), plain(x0, w0))
    assert_close(np.asarray(gx.data), numerical_gradient(plain, [x0, w0], 0))
    assert_close(np.asarray(gw.data), numerical_gradient(plain, [x0, w0], 1))


@pytest.mark.parametrize("cls", [plans.SweepRecords, reverse.SweptFunctions, sites.Selection],
                         ids=lambda c: c.__name__)
def test_records_between_passes_are_frozen(cls):
    assert dataclasses.is_dataclass(cls) and cls.__dataclass_params__.frozen


def test_asked_plan_keeps_questions_and_answers():
    asked = plans.AskedPlan(frozenset({"a", "b"}))
    assert "a" in asked and "c" not in asked
    assert asked.decide(lambda names: "b" in names)
    assert asked.same_answers(frozenset({"a", "b"}))
    assert not asked.same_answers(frozenset({"a"}))          # the decision differs
    assert not asked.same_answers(frozenset({"b"}))          # "a" differs


def test_dependence_finds_what_a_whole_activity_finds(monkeypatch):
    checked = []
    original = analysis.Dependence.__init__

    def both(self, fdef, act, seeds):
        original(self, fdef, act, seeds)
        whole = analysis.Activity(fdef, act.resolver, act.kinds, set(seeds), set(), act.filename)
        checked.append((set(whole.active), set(self.active)))
    monkeypatch.setattr(analysis.Dependence, "__init__", both)
    for fn, make in CASES:
        sct.clear_cache()
        dlfeval(fn, *make())
    assert checked and all(a == b for a, b in checked)
    sct.clear_cache()


def _writes_in_place(x):
    v = x * 1.0
    v[0] = v[1] * 3.0
    y = np.sum(v ** 2)
    return y, dlgradient(y, x)


def test_activity_reused_only_where_the_rewrites_changed_nothing(monkeypatch):
    reused = []
    original = compiler._activity

    def spy(fdef, resolver, sig, first, first_tree, *rest):
        out = original(fdef, resolver, sig, first, first_tree, *rest)
        reused.append(out[0] is first)
        return out
    monkeypatch.setattr(compiler, "_activity", spy)
    sct.clear_cache()
    dlfeval(straight, dlarray(np.array([0.3, -0.2, 0.5])), dlarray(np.eye(3)))
    assert reused == [True]
    reused.clear()
    x0 = np.array([0.5, -1.0, 2.0])
    y, g = dlfeval(_writes_in_place, dlarray(x0))
    assert reused == [False]            # the write became a new value: a new fixed point

    def plain(x):
        v = x * 1.0
        v[0] = v[1] * 3.0
        return np.sum(v ** 2)
    assert_close(np.asarray(g.data), numerical_gradient(plain, [x0], 0))
    sct.clear_cache()


def test_helper_masks_narrowed_in_one_generation(monkeypatch):
    calls = []
    original = reverse.EmitPasses.sweep_functions
    monkeypatch.setattr(reverse.EmitPasses, "sweep_functions",
                        lambda self, found: calls.append(1) or original(self, found))
    x0, w0 = np.array([0.3, -0.2, 0.5]), np.array([1.0, 2.0, -0.5])
    text = _sources(helpers_straight, (dlarray(x0), dlarray(w0)))
    assert calls[0:1] == [1] and "'no_adjoint'" in text      # w's adjoint is read by no sweep
    sct.clear_cache()
    z, g = dlfeval(helpers_straight, dlarray(x0), dlarray(w0))

    def plain(x, w):
        data = np.ones(3)
        return np.sum((x * w - data) ** 2) + np.sum((w * x - data) ** 2)
    assert_close(np.asarray(g.data), numerical_gradient(plain, [x0, w0], 0))
    sct.clear_cache()


def test_loop_pops_no_adjoint_reads_are_dropped_in_one_generation(monkeypatch):
    calls, pruned = [], []
    original, drop = reverse.EmitPasses.sweep_functions, reverse.drop_pops
    monkeypatch.setattr(reverse.EmitPasses, "sweep_functions",
                        lambda self, found: calls.append(1) or original(self, found))
    monkeypatch.setattr(reverse, "drop_pops", lambda *a: pruned.append(drop(*a)) or pruned[-1])
    text = _sources(loops_and_branches, (dlarray(np.array([0.3, -0.2, 0.5])), dlarray(np.eye(3))))
    assert calls == [1] and pruned == [True]
    assert "k_add = tape.pop()" not in text and "i = tape.pop()" not in text     # read by no adjoint
    assert "tape.pop()" in text                    # what the adjoints do read is still restored
    sct.clear_cache()
