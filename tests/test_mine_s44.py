"""Stop 44 (red team, mine44): the summaries of what a step returns (sct/call_tree.py
returns_holding, _KnownReturns) read by the checks of the calls after it, broken by changing what
a call runs after its caller was compiled."""
from __future__ import annotations

import functools
import inspect

import numpy as np
import pytest

import sct
from sct import CompileError, dlarray, dlfeval, dlgradient

from gradcheck import D

rng = np.random.default_rng(0)
W, E, X = rng.standard_normal(3), rng.standard_normal(3), rng.standard_normal(3)


def _loss(p, x):
    return np.sum(p["w"] * x) + np.sum(p["e"] * x)


def _jstep(p, x):
    """dlgradient with respect to p of a y that also reads x: where p["e"] is x itself, MATLAB's
    trace differentiates through x too (d/de = w + 2x, not x)."""
    g = dlgradient(_loss(p, x), p)
    # (``* 1.0``: a new value; returning p["e"] itself beside a w computed from it through g is refused
    # at the next call since stop 47: the next dlgradient with respect to p["e"] would miss the path
    # through w, zero here only because _loss is linear)
    return {"w": p["w"] - 0.1 * (g["w"] + g["e"]), "e": p["e"] * 1.0}


def _expected(linked):
    """w after the steps, p["e"] being x itself at the steps ``linked`` says."""
    w = W.copy()
    for is_x in linked:
        w = w - 0.1 * (X + (w + 2 * X if is_x else X))
    return w


def _refused_or_exact(fun, linked):
    try:
        out = dlfeval(fun, {"w": dlarray(W), "e": dlarray(E)}, dlarray(X))
    except CompileError:
        return
    np.testing.assert_allclose(D(out), _expected(linked), rtol=1e-12)


# --- a method's summary read for the link of a later call, the method replaced ----------------

class _TwoMethods:
    def a(self, p, x):
        return {"w": p["w"], "e": p["e"]}

    def b(self, p, x):
        return _jstep(p, x)

    def outer(self, p, x):
        for _ in range(3):
            p = self.a(p, x)
            p = self.b(p, x)
        return p["w"]


def test_method_replaced_on_the_class_between_runs_reaches_the_next_calls_check():
    """_TwoMethods.a replaced (a notebook cell) by one returning x: b's call, a hit, had been
    checked with the old a's summary (was: a partial derivative); the caller is compiled again."""
    t = _TwoMethods()
    out = dlfeval(t.outer, {"w": dlarray(W), "e": dlarray(E)}, dlarray(X))
    np.testing.assert_allclose(D(out), _expected([False] * 3), rtol=1e-12)
    old = _TwoMethods.a
    _TwoMethods.a = lambda self, p, x: {"w": p["w"], "e": x}
    try:
        _refused_or_exact(t.outer, [True] * 3)
    finally:
        _TwoMethods.a = old


def _a_evil(self, p, x):
    return {"w": p["w"], "e": x}


class _ReplacedInLoop:
    def a(self, p, x):
        return {"w": p["w"], "e": p["e"]}

    def outer(self, p, x):
        for _ in range(3):
            p = self.a(p, x)
            p = _jstep(p, x)
            _ReplacedInLoop.a = _a_evil
        return p["w"]


class _SetOnObjectInLoop:
    def a(self, p, x):
        return {"w": p["w"], "e": p["e"]}

    def outer(self, p, x):
        for _ in range(3):
            p = self.a(p, x)
            p = _jstep(p, x)
            self.a = lambda p, x: {"w": p["w"], "e": x}
        return p["w"]


def _joint_method(self, p, x):
    return _jstep(p, x)


class _Alternating:
    step = _joint_method

    def outer(self, p, x):
        for _ in range(3):
            p = self.step(p, x)
            _Alternating.step = _a_evil if _Alternating.step is _joint_method else _joint_method
        return p["w"]


@pytest.mark.parametrize("cls, linked", [(_ReplacedInLoop, [False, True, True]),
                                         (_SetOnObjectInLoop, [False, True, True])],
                         ids=["class", "object"])
def test_method_replaced_inside_the_loop(cls, linked):
    old = cls.__dict__.get("a")
    try:
        _refused_or_exact(cls().outer, linked)
    finally:
        cls.a = old


def test_method_alternating_inside_the_loop():
    """step joint, then one returning x (its own first run checked), then the joint one again: a
    hit of its old entry (was: a partial derivative)."""
    try:
        try:
            out = dlfeval(_Alternating().outer, {"w": dlarray(W), "e": dlarray(E)}, dlarray(X))
        except CompileError:
            return
        w = W - 0.1 * (X + X)
        w = w - 0.1 * (X + (w + 2 * X))
        np.testing.assert_allclose(D(out), w, rtol=1e-12)
    finally:
        _Alternating.step = _joint_method


# --- a helper of the step rebound: its summary read for the later call -------------------------

def _k(q, x):
    return q


def _k_evil(q, x):
    return {"w": q["w"], "e": x}


def _swap():
    global _k
    _k = _k_evil


def _fa(p, x):
    return _k({"w": p["w"], "e": p["e"]}, x)


def _outer_swapping(p, x):
    for _ in range(3):
        p = _fa(p, x)
        p = _jstep(p, x)
        _swap()
    return p["w"]


class _NestedHelper:
    def a(self, p, x):
        return _k({"w": p["w"], "e": p["e"]}, x)

    def outer(self, p, x):
        for _ in range(3):
            p = self.a(p, x)
            p = _jstep(p, x)
        return p["w"]


def test_helper_of_the_step_rebound_inside_the_loop():
    global _k
    old = _k
    try:
        _refused_or_exact(_outer_swapping, [False, True, True])
    finally:
        _k = old


def test_helper_of_a_method_rebound_between_runs():
    """The method's own code unchanged, a helper it calls rebound: its site misses (the method's
    guards), the caller's check does not; refused at the miss, and compiled again after."""
    global _k
    t = _NestedHelper()
    out = dlfeval(t.outer, {"w": dlarray(W), "e": dlarray(E)}, dlarray(X))
    np.testing.assert_allclose(D(out), _expected([False] * 3), rtol=1e-12)
    old = _k
    _k = _k_evil
    try:
        _refused_or_exact(t.outer, [True] * 3)
        _refused_or_exact(t.outer, [True] * 3)
    finally:
        _k = old
    out = dlfeval(t.outer, {"w": dlarray(W), "e": dlarray(E)}, dlarray(X))
    np.testing.assert_allclose(D(out), _expected([False] * 3), rtol=1e-12)


# --- a helper's call bound by inspect.signature: functools.wraps's names, __signature__ --------

def _swapped(x, p):             # returns its second parameter
    return {"w": -(-x["w"]), "e": p}


@functools.wraps(_swapped)
def _wrapped(p, x):             # returns x, its second; inspect.signature says (x, p)
    return _swapped(p, x)


def _fresh(a, b):
    return {"w": -(-a["w"]), "e": -(-a["e"])}


@functools.wraps(_fresh)
def _wrapped_other_names(p, x):     # inspect.signature says (a, b): 'x' not among them
    return {"w": -(-p["w"]), "e": x}


def _with_signature(p, x):
    return {"w": -(-p["w"]), "e": x}


_with_signature.__signature__ = inspect.signature(lambda x, p: None)


@functools.wraps(_fresh)
def _wrapped_fresh(p, x):
    return {"w": -(-p["w"]), "e": -(-p["e"])}


def _loop_of(helper):
    def outer(p, x):
        for _ in range(3):
            p = helper(p, x)
            p = _jstep(p, x)
        return p["w"]
    return outer


@pytest.mark.parametrize("helper", [_wrapped, _wrapped_other_names, _with_signature],
                         ids=["wraps-swapped", "wraps-other-names", "__signature__"])
def test_helper_bound_by_its_own_code(helper):
    """(was: wraps-swapped and __signature__ a partial derivative; wraps-other-names an internal
    KeyError)"""
    try:
        out = dlfeval(_loop_of(helper), {"w": dlarray(W), "e": dlarray(E)}, dlarray(X))
    except CompileError as exc:
        assert "internal error" not in str(exc)
        return
    np.testing.assert_allclose(D(out), _expected([True] * 3), rtol=1e-12)


def test_wrapped_helper_returning_a_new_value_runs():
    out = dlfeval(_loop_of(_wrapped_fresh), {"w": dlarray(W), "e": dlarray(E)}, dlarray(X))
    np.testing.assert_allclose(D(out), _expected([False] * 3), rtol=1e-12)


# --- a def or lambda of the step rebinding one of its parameters ------------------------------

def _getx(q, z):
    return {"w": -(-q["w"]), "e": z}


def _step_def_rebinds(p, x, make=None):
    r = make(p, x)              # the function passed: returns x
    def make(q, z):             # noqa: E306
        return {"w": -(-q["w"]), "e": -(-q["e"])}
    return r


def _step_lambda_rebinds(p, x, make=None):
    r = make(p, x)
    make = lambda q, z: {"w": -(-q["w"]), "e": -(-q["e"])}     # noqa: E731
    return r


@pytest.mark.parametrize("step", [_step_def_rebinds, _step_lambda_rebinds], ids=["def", "lambda"])
def test_nested_function_rebinding_a_parameter(step):
    """The call before the def runs the function passed (was: read as the def's returns, the step
    summarised as holding nothing: a partial derivative)."""
    def outer(p, x):
        for _ in range(3):
            p = step(p, x, _getx)
            p = _jstep(p, x)
        return p["w"]
    try:
        out = dlfeval(outer, {"w": dlarray(W), "e": dlarray(E)}, dlarray(X))
    except CompileError as exc:
        assert "internal error" not in str(exc)
        return
    np.testing.assert_allclose(D(out), _expected([True] * 3), rtol=1e-12)


# --- a dict merged with | ---------------------------------------------------------------------

def _merge_literals(p, x):
    return {"w": -(-p["w"])} | {"e": x}


def _merge_call(p, x):
    return dict(w=-(-p["w"])) | {"e": x}


def _merge_fresh(p, x):
    return {"w": -(-p["w"])} | {"e": p["e"]}


@pytest.mark.parametrize("step", [_merge_literals, _merge_call], ids=["literals", "call"])
def test_step_returning_a_merged_dict_holding_x(step):
    """(was: summarised as holding nothing, a partial derivative at the next call)"""
    try:
        out = dlfeval(_loop_of(step), {"w": dlarray(W), "e": dlarray(E)}, dlarray(X))
    except CompileError as exc:
        assert "internal error" not in str(exc)
        return
    np.testing.assert_allclose(D(out), _expected([True] * 3), rtol=1e-12)


def test_step_returning_a_merged_dict_of_its_own_runs():
    out = dlfeval(_loop_of(_merge_fresh), {"w": dlarray(W), "e": dlarray(E)}, dlarray(X))
    np.testing.assert_allclose(D(out), _expected([False] * 3), rtol=1e-12)
