"""The fused backend's cost model (sct/fuse.py, sct/runtime/fused.py): what goes to numexpr.

With ``sct.set_backend("numexpr")`` (the cost model on, the default) a chain is fused only where
it is likely to gain: after the plain backend's own rewrites, chains of three operations or more
on arrays, with no function that numpy computes faster (exp, log1p, sin, sqrt, abs... stay numpy
calls); at run time arrays under ``min_size`` go to numpy at once, and numexpr takes a chain over
only where its first calls on arrays of that size measured it faster.  Everywhere else the code is
the plain backend's.  Values and gradients are the plain backend's (to 1e-12 relative, numexpr's
rounding), first and second derivatives.
"""
from __future__ import annotations

import ast
import re

import numpy as np
import pytest

import sct
from sct import dlarray, dlfeval, dlgradient
from sct import fuse as sct_fuse
from sct.runtime import fused as rt_fused

try:
    from tests.gradcheck import D, assert_close, leaves, numerical_gradient
except ImportError:                      # run from inside tests/
    from gradcheck import D, assert_close, leaves, numerical_gradient

pytest.importorskip("numexpr")


# --- programs ---------------------------------------------------------------------------------------

def arithmetic(x, a, b, c):
    t = a * b + c * a - b / c                  # four operations on arrays, not differentiated
    y = np.sum(x * t)
    return y, dlgradient(y, x)


def transcendental(x, a, b, c):
    t = np.exp(a * b + c) * np.log1p(a * a) - np.sqrt(b * b + 1.0) / np.abs(c)
    y = np.sum(x * t + np.sin(x) * np.cos(a))
    return y, dlgradient(y, x)


def short_chains(x, w):
    y = np.sum(x * w + 1.0)                    # two operations: the plain backend's code
    return y, dlgradient(y, x, w)


def in_place(x, a, b, c):
    t = a * b + b                              # two operations: a temporary written in place
    y = np.sum(x * t)
    return y, dlgradient(y, x)


def tanh_layer(W, X):
    H = np.tanh(X @ W)
    y = np.sum(H * H)                          # the adjoint: d_H * (1 - H ** 2), three operations
    return y, dlgradient(y, W)


def scalar_loop(x):
    y = x
    for _ in range(5):
        if y > 1.0:
            y = 0.5 * y + 0.3 * np.sin(y) - y * y * 0.01
        else:
            y = y * y + 0.25 * np.cos(y) + 0.6 * y - 0.1
    return y, dlgradient(y, x)


def second_order(x):
    y = np.sum((x * x - 2.0 * x) * (1.0 + x) / (2.0 + x * x))
    return y


SLOW = ("exp", "log", "log1p", "sin", "cos", "tanh", "sqrt", "abs", "expm1", "arctan")


def fused_texts(src):
    return re.findall(r"rt\.fused\('([^']*)'", src)


def called_functions(text):
    return {n.func.id for n in ast.walk(ast.parse(text, mode="eval")) if isinstance(n, ast.Call)}


@pytest.fixture
def backend():
    """The numexpr backend with its cost model (the defaults), restored after the test."""
    old_size, old_measure = rt_fused.min_size[0], rt_fused.measure[0]
    sct.set_backend("numexpr", cost_model=True)
    try:
        yield
    finally:
        rt_fused.measure[0] = old_measure
        sct.set_backend("numpy", min_size=old_size, cost_model=True)


@pytest.fixture
def calls(monkeypatch):
    """The numexpr programs run (``program``) and the calls that reached the checks (``checked``)."""
    seen = {"program": 0, "checked": 0}
    run, check = rt_fused.FusedExpression._run, rt_fused.FusedExpression._try_numexpr

    def counted_run(self, *args):
        seen["program"] += 1
        return run(self, *args)

    def counted_check(self, args):
        seen["checked"] += 1
        return check(self, args)
    monkeypatch.setattr(rt_fused.FusedExpression, "_run", counted_run)
    monkeypatch.setattr(rt_fused.FusedExpression, "_try_numexpr", counted_check)
    return seen


def plain(fun, *args, **kw):
    """``fun``'s value (dlfeval) or Hessian-vector product with the plain backend."""
    sct.set_backend("numpy")
    try:
        return sct.hvp(fun, *args) if kw.get("hvp") else dlfeval(fun, *args)
    finally:
        sct.set_backend("numexpr")


def assert_same(on, off, rtol=1e-12):
    a, b = list(leaves(on)), list(leaves(off))
    assert len(a) == len(b)
    for u, v in zip(a, b):
        u, v = D(u), D(v)
        assert u.dtype == v.dtype and u.shape == v.shape
        scale = max(float(np.max(np.abs(v), initial=0.0)), 1e-300)
        np.testing.assert_allclose(u, v, rtol=rtol, atol=rtol * scale)


def inputs(n, seed=0):
    rng = np.random.default_rng(seed)
    return [dlarray(rng.standard_normal(n))] + [rng.uniform(0.5, 1.5, n) for _ in range(3)]


# --- what is fused --------------------------------------------------------------------------------------

def test_transcendental_functions_stay_numpy_calls(backend):
    src = sct.source(transcendental, *inputs(8))
    texts = fused_texts(src)
    assert texts, src                         # the arithmetic around them is still fused
    for text in texts:
        assert not called_functions(text) & set(SLOW), text
    for name in ("exp", "log1p", "sqrt", "abs", "sin", "cos"):
        assert f"np.{name}(" in src


def test_long_arithmetic_chain_is_fused_after_the_plain_rewrites(backend):
    src = sct.source(arithmetic, *inputs(8))
    assert fused_texts(src) == ["a * b + c * a - b / c"], src
    assert "del " not in src.split("def arithmetic_dlgradient")[0]   # the releases went with the names


def test_short_chains_are_the_plain_backends_code(backend):
    args = (dlarray(np.ones(5)), dlarray(np.ones(5)))
    fused_src = sct.source(short_chains, *args)
    sct.set_backend("numpy")
    try:
        plain_src = sct.source(short_chains, *args)
    finally:
        sct.set_backend("numexpr")
    assert "rt.fused" not in fused_src
    assert fused_src == plain_src


def test_plain_rewrites_run_with_the_cost_model(backend):
    """Temporaries overwritten in place (sct/optimize.py) are kept where nothing is fused; without
    the cost model they are off, as before."""
    args = inputs(8)
    src = sct.source(in_place, *args)
    assert "rt.into_temporary('add', t_mul, b, 0)" in src and "del t_mul" in src and "rt.fused" not in src
    assert_same(dlfeval(in_place, *args), plain(in_place, *args))
    sct.set_backend("numexpr", cost_model=False)
    src = sct.source(arithmetic, *inputs(8))
    assert "rt.into_temporary(" not in src and "rt.fused(" in src


def test_scalar_code_is_not_fused(backend):
    src = sct.source(scalar_loop, dlarray(1.3))
    assert "rt.fused" not in src
    value, grad = dlfeval(scalar_loop, dlarray(1.3))
    ref_value, ref_grad = plain(scalar_loop, dlarray(1.3))
    assert float(D(value)) == float(D(ref_value)) and float(D(grad)) == float(D(ref_grad))


# --- at run time ----------------------------------------------------------------------------------------

def test_small_arrays_never_reach_numexpr(backend, calls):
    assert rt_fused.min_size[0] == 32768
    args = inputs(1000)
    assert fused_texts(sct.source(arithmetic, *args))
    on = dlfeval(arithmetic, *args)
    assert calls == {"program": 0, "checked": 0}
    assert_same(on, plain(arithmetic, *args))
    rng = np.random.default_rng(3)
    W, X = dlarray(rng.standard_normal((16, 8))), rng.standard_normal((32, 16))
    assert fused_texts(sct.source(tanh_layer, W, X)) == ["d_H * (1 - H ** 2)"]
    assert_same(dlfeval(tanh_layer, W, X), plain(tanh_layer, W, X))
    assert calls == {"program": 0, "checked": 0}


def fake_times(monkeypatch, numpy_time):
    """numexpr takes 1 s, numpy ``numpy_time`` s, by the clock the measuring reads."""
    timed = rt_fused.FusedExpression._timed

    def fake(label, f):
        out, _ = timed(label, f)
        return out, 1.0 if label == "numexpr" else numpy_time
    monkeypatch.setattr(rt_fused.FusedExpression, "_timed", staticmethod(fake))


def test_large_arrays_go_to_numexpr_where_it_measures_faster(backend, calls, monkeypatch):
    """The first TRIALS + 1 calls run both and time them; a faster numexpr is kept, a slower one is
    not run again."""
    trials = rt_fused.TRIALS + 1
    for numpy_time, chosen in ((10.0, True), (1.0, False)):
        rt_fused._CACHE.clear()
        fake_times(monkeypatch, numpy_time)
        calls["program"] = 0
        args = inputs(40000, seed=1)
        off = plain(arithmetic, *args)
        for k in range(trials + 3):
            assert_same(dlfeval(arithmetic, *args), off)
        entry = rt_fused._CACHE["a * b + c * a - b / c"]
        assert entry.choice == {(np.dtype(np.float64), (40000).bit_length()): chosen}
        assert calls["program"] == (trials + 3 if chosen else trials)


def test_each_size_class_is_measured_on_its_own(backend, monkeypatch):
    rt_fused._CACHE.clear()
    fake_times(monkeypatch, 10.0)
    for n in (40000, 70000, 300000):
        args = inputs(n, seed=2)
        for k in range(rt_fused.TRIALS + 1):
            dlfeval(arithmetic, *args)
    entry = rt_fused._CACHE["a * b + c * a - b / c"]
    assert entry.choice == {(np.dtype(np.float64), n.bit_length()): True for n in (40000, 70000, 300000)}


# --- values and gradients -------------------------------------------------------------------------------

@pytest.mark.parametrize("fun", [arithmetic, transcendental])
def test_values_and_gradients_with_numexpr_forced(backend, calls, fun):
    rt_fused.measure[0] = False
    sct.set_backend("numexpr", min_size=0)
    args = inputs(50, seed=4)
    on = dlfeval(fun, *args)
    assert calls["program"] > 0
    assert_same(on, plain(fun, *args))
    x, rest = D(args[0]), args[1:]

    def f(x):
        return float(D(plain(fun, dlarray(x), *rest)[0]))
    assert_close(D(on[1]), numerical_gradient(f, [x], 0), rtol=1e-6, atol=1e-7)


def test_tanh_adjoint_values(backend, calls):
    rt_fused.measure[0] = False
    sct.set_backend("numexpr", min_size=0)
    rng = np.random.default_rng(5)
    W, X = dlarray(rng.standard_normal((16, 8)) * 0.3), rng.standard_normal((32, 16))
    on = dlfeval(tanh_layer, W, X)
    assert calls["program"] > 0
    assert_same(on, plain(tanh_layer, W, X))

    def f(w):
        return float(np.sum(np.tanh(X @ w) ** 2))
    assert_close(D(on[1]), numerical_gradient(f, [D(W)], 0), rtol=1e-6, atol=1e-7)


def test_second_derivatives_read_back_fused_and_in_place_code(backend):
    rt_fused.measure[0] = False
    sct.set_backend("numexpr", min_size=0)
    rng = np.random.default_rng(6)
    x, v = rng.uniform(-1, 1, 30), rng.uniform(-1, 1, 30)
    on = sct.hvp(second_order, dlarray(x), dlarray(v))
    assert_same(on, plain(second_order, dlarray(x), dlarray(v), hvp=True), rtol=1e-11)


def test_set_backend_cost_model_switch_recompiles(backend):
    args = inputs(8)
    with_model = sct.source(arithmetic, *args)
    sct.set_backend("numexpr", cost_model=False)
    without = sct.source(arithmetic, *args)
    assert with_model != without
    assert sct_fuse.plain_rewrites() is False and rt_fused.measure[0] is False
    sct.set_backend("numexpr", cost_model=True)
    assert sct.source(arithmetic, *args) == with_model and rt_fused.measure[0] is True


# --- numpy's form for large arrays: the plain backend's in-place operations ----------------------------

@pytest.mark.parametrize("text", ["a * b + c * a - b / c", "-(a * b) - 1.5 * a ** 2 + c",
                                  "unbroadcast(a, b) / (1 + b) * c", "a - b * (2 * c)",
                                  "(a - b * b) ** 2 * 100 + (1 - a) ** 2", "square(a - b) / (c * c + 1)"])
def test_in_place_numpy_form_is_numpys_and_leaves_the_arguments(text):
    rng = np.random.default_rng(7)
    shapes = [((50000,), (50000,), (50000,)), ((500, 100), (100,), (500, 100)), ((50000,), (50000,), ())]
    for dtype in (np.float64, np.float32):
        for sa, sb, sc in shapes:
            if text.startswith("unbroadcast") and sa != sb:
                continue
            a, b = rng.uniform(0.5, 1.5, sa).astype(dtype), rng.uniform(0.5, 1.5, sb).astype(dtype)
            c = rng.uniform(0.5, 1.5, sc).astype(dtype)
            c = c if sc else c[()]                      # a numpy scalar
            entry = rt_fused.FusedExpression(text)
            args = [{"a": a, "b": b, "c": c}[n] for n in entry.names]
            copies = [np.copy(v) for v in args]
            out = entry.numpy_in_place(*args)
            ref = entry.numpy(*copies)
            assert out.dtype == ref.dtype and out.shape == ref.shape and np.array_equal(out, ref)
            for v, w in zip(args, copies):
                assert np.array_equal(v, w)             # no argument written into
            for python in (2.5, 3):                     # Python numbers
                assert np.array_equal(entry.numpy_in_place(*[python if v is c else v for v in args]),
                                      entry.numpy(*[python if v is c else v for v in args]))


def test_in_place_numpy_form_of_python_numbers_is_pythons():
    entry = rt_fused.FusedExpression("a / b * c + a")
    with pytest.raises(ZeroDivisionError):
        entry.numpy_in_place(1.0, 0.0, 2.0)
    assert entry.numpy_in_place(1.0, 4.0, 2.0) == 1.0 / 4.0 * 2.0 + 1.0
