"""Issue 7 item 3 / issue 8 item 2: calls of helpers from generated code.

A helper whose adjoint no sweep needs (the function dlfeval runs calls it, and no
dlgradient of that function differentiates through the call) runs as its own entry
code (``rt.primal_call``): no forward/adjoint pair, no residuals, no higher-order
forward of the dlgradient sites inside it.  A helper some sweep differentiates
through keeps its pair.  Kinds of shared residuals are read once per object.
"""
from __future__ import annotations

import numpy as np
import pytest

import sct
import sct.transform_calls as transform_calls
from sct import dlarray, dlfeval, dlgradient, extractdata
from sct.kinds import kind_of
from gradcheck import assert_close, numerical_gradient


SCALE = 2.0


def loss_with_gradient(w, x):
    """A loss whose own gradient is part of it (a physics-informed loss in small)."""
    u = np.tanh(w * x)
    ux = dlgradient(np.sum(u), x)
    residual = np.sum((ux - SCALE * u) ** 2)
    return residual, dlgradient(residual, w)


def wrapped(w, x):
    return loss_with_gradient(w, x)[0]


def wrapped_pair(w, x):
    value, grad = loss_with_gradient(w, x)
    return value, grad


def wrapped_differentiated(w, x):
    value = loss_with_gradient(w, x)[0]
    return value, dlgradient(value, w)


def residual_plain(w, x):
    u = np.tanh(w * x)
    ux = (1 - u ** 2) * w
    return np.sum((ux - SCALE * u) ** 2)


def layer(w, h):
    return np.tanh(w * h + 0.1)


def run_layers(w, x, n):
    h = x
    for _ in range(n):
        h = layer(w, h)
    return np.sum(h ** 2)


def model_no_site(w, x, n):
    h = x
    for _ in range(n):
        h = layer(w, h)
    return np.sum(h ** 2)


def model_site(w, x, n):
    h = x
    for _ in range(n):
        h = layer(w, h)
    loss = np.sum(h ** 2)
    return loss, dlgradient(loss, w)


W = np.array([0.7, -0.4, 1.1])
X = np.array([0.3, 0.5, -0.2])


def test_wrapped_loss_with_inner_gradient_is_the_direct_value():
    direct = dlfeval(loss_with_gradient, dlarray(W), dlarray(X))
    value = dlfeval(wrapped, dlarray(W), dlarray(X))
    assert_close(extractdata(value), extractdata(direct[0]))
    assert_close(extractdata(value), residual_plain(W, X))
    value, grad = dlfeval(wrapped_pair, dlarray(W), dlarray(X))
    assert_close(extractdata(grad), extractdata(direct[1]))
    assert_close(extractdata(grad), numerical_gradient(lambda w: residual_plain(w, X), [W], 0), rtol=1e-5)


def test_wrapped_call_runs_without_a_pair_and_source_shows_it():
    # a helper of the same file taking gradients is read in place (sct/inline_helpers.py): its
    # sites are the caller's, shown with the helper's lines
    text = str(sct.source(wrapped, dlarray(W), dlarray(X)))
    assert "loss_with_gradient_entry_" not in text and "# line 27: ux = dlgradient(np.sum(u), x)" in text
    value = dlfeval(wrapped, dlarray(W), dlarray(X))
    assert_close(extractdata(value), residual_plain(W, X))


def test_a_helper_a_sweep_differentiates_keeps_its_pair_and_is_exact():
    text = str(sct.source(wrapped_differentiated, dlarray(W), dlarray(X)))
    assert "loss_with_gradient_fwd_" not in text and "primal_call" not in text     # read in place
    value, grad = dlfeval(wrapped_differentiated, dlarray(W), dlarray(X))
    assert_close(extractdata(value), residual_plain(W, X))
    assert_close(extractdata(grad), numerical_gradient(lambda w: residual_plain(w, X), [W], 0), rtol=1e-5)


def test_loops_of_helper_calls_with_and_without_a_sweep():
    w, x = dlarray(np.array(0.5)), np.array(0.3)
    assert_close(extractdata(dlfeval(model_no_site, w, x, 7)), run_layers(0.5, 0.3, 7))
    assert "rt.primal_call_at(layer_site, layer" in str(sct.source(model_no_site, w, x, 3))
    loss, grad = dlfeval(model_site, w, x, 7)
    assert_close(extractdata(loss), run_layers(0.5, 0.3, 7))
    assert_close(extractdata(grad), numerical_gradient(lambda v: run_layers(v, 0.3, 7), [np.array(0.5)], 0),
                 rtol=1e-6)
    assert "primal_call" not in str(sct.source(model_site, w, x, 3))


class Scaler:
    def __init__(self, k):
        self.k = k

    def apply(self, x):
        y = self.k * x
        return np.sum(y ** 2), dlgradient(np.sum(y ** 2), x)


def method_caller(s, x):
    value, grad = s.apply(x)
    return value + 1.0, grad


def test_a_method_no_sweep_differentiates_runs_as_entry_code():
    s, x = Scaler(3.0), dlarray(np.array([1.0, -2.0]))
    assert "rt.primal_method_at(apply_site, s, 'apply'" in str(sct.source(method_caller, s, x))
    value, grad = dlfeval(method_caller, s, x)
    assert_close(extractdata(value), 9.0 * 5.0 + 1.0)
    assert_close(extractdata(grad), 18.0 * np.array([1.0, -2.0]))


class Holder:
    pass


def sets_attribute(p, x):
    p.w = x * 2.0
    return np.sum(x) * 0.0


def attribute_caller(p, x):
    t = sets_attribute(p, x)
    y = np.sum(x ** 2)
    return y + t, dlgradient(y, x)


def test_a_helper_storing_a_traced_value_on_its_argument_runs_as_the_callers_own_write():
    # (was refused: compiled on its own, the caller's analysis did not follow p.w changing; since session 50
    # a helper setting fields of an object of a known class its caller gives it is read in place
    # (sct/inline_helpers.py), its write the caller's own, as dlfeval's function writing p.w itself)
    p = Holder()
    for _ in range(2):
        value, grad = dlfeval(attribute_caller, p, dlarray(np.array([1.0, 2.0])))
        assert_close(extractdata(value), 5.0)
        assert_close(extractdata(grad), np.array([2.0, 4.0]))
        assert_close(np.asarray(extractdata(p.w)), np.array([2.0, 4.0]))


def counting(monkeypatch):
    counts = {"primal": 0, "vjp": 0}
    original = transform_calls.compile_function

    def spy(fn, kinds, mode="entry", **kw):
        counts["primal" if mode == "entry" else "vjp"] += 1
        return original(fn, kinds, mode, **kw)
    monkeypatch.setattr(transform_calls, "compile_function", spy)
    return counts


def helper_a(x):
    return np.sum(x ** 3)


def calls_helper(x):
    return helper_a(x) * 2.0


def test_compiled_once_per_kinds_and_again_for_a_redefined_helper(monkeypatch):
    global helper_a
    sct.clear_cache()
    counts = counting(monkeypatch)
    x = dlarray(np.array([1.0, 2.0]))
    for _ in range(3):
        assert_close(extractdata(dlfeval(calls_helper, x)), 18.0)
    assert counts["primal"] == 1
    x32 = dlarray(np.array([1.0, 2.0], dtype=np.float32))
    out = dlfeval(calls_helper, x32)
    assert extractdata(out).dtype == np.float32
    assert counts["primal"] == 2                               # new kinds: compiled again
    old = helper_a
    try:
        def helper_a(x):                                       # redefined: guards see it
            return np.sum(x ** 2)
        assert_close(extractdata(dlfeval(calls_helper, x)), 10.0)
        assert counts["primal"] == 3
    finally:
        helper_a = old
    assert_close(extractdata(dlfeval(calls_helper, x)), 18.0)


def aux(x):
    return np.sin(x)


def grad_plus_aux(x):
    y = np.sum(x ** 3)
    z = aux(x)
    return dlgradient(y, x) + z


def test_forward_mode_of_entry_code_with_a_helper_nothing_differentiates():
    x, v = np.array([0.4, -1.3]), np.array([1.0, 0.5])
    _, tangent = sct.jvp(grad_plus_aux, x, v)
    expected = (6 * x + np.cos(x)) * v
    assert_close(extractdata(tangent), expected, rtol=1e-6)


def test_kinds_of_shared_parts_are_the_kinds_of_copies():
    a = np.ones((2, 3), dtype=np.float32)
    inner = (a, [a, 1.0], {"k": a})
    shared = (inner, inner, [inner, (inner,)])
    copied = ((a.copy(), [a.copy(), 1.0], {"k": a.copy()}),) * 0 + \
        tuple([(a.copy(), [a.copy(), 1.0], {"k": a.copy()}) for _ in range(2)]) + \
        ([(a.copy(), [a.copy(), 1.0], {"k": a.copy()}), ((a.copy(), [a.copy(), 1.0], {"k": a.copy()}),)],)
    for traced in (False, True):
        assert kind_of(shared, traced) == kind_of(copied, traced)
    deep = a
    for _ in range(40):                                     # 2**40 paths over 41 objects
        deep = (deep, deep)
    assert kind_of(deep, True)[0] == "seq"
