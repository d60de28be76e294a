"""Issue 7 item 3 / issue 8 item 2: the call tree is transformed when the caller is compiled.

Each call of a helper, method, constructor or callable object whose callee and argument kinds
are known when its caller is compiled gets the callee's generated code then (recursively), kept
in its call site: the first run compiles nothing, and ``sct.source(..., callees=True)`` shows the
tree without running the function.  The sites still check, at run time, that the callee is the
same object, that its code's guards hold and that the arguments have the kinds it was made for;
a failed check takes the run-time path (compiled on that call, cached).
"""
from __future__ import annotations

import dataclasses
import sys

import numpy as np
import pytest

import sct
import sct.transform_calls as transform_calls
from sct import CompileError, dlarray, dlfeval, dlgradient, extractdata
from sct.api import _entry
from gradcheck import assert_close, numerical_gradient

THIS = sys.modules[__name__]


@pytest.fixture
def compilations(monkeypatch):
    """Helper compilations (pairs and entries of called functions), by function name, in order."""
    sct.clear_cache()
    names: list = []
    original = transform_calls.compile_function

    def counting(fn, *args, **kwargs):
        names.append(fn.__name__)
        return original(fn, *args, **kwargs)
    monkeypatch.setattr(transform_calls, "compile_function", counting)
    yield names
    sct.clear_cache()


def compiled_for(fn, *args):
    """Compile ``fn`` for ``args`` without running it (what dlfeval's first call does first)."""
    return _entry(fn, tuple(args))


def records(compiled):
    return {r.label: r for r in compiled.calls}


# --- three helpers, one in a loop ------------------------------------------------------------------
def scale(a, b):
    return a * b + np.sin(a)


def cube(a):
    return a ** 3


def shifted(a):
    return cube(a) + 1.0          # a helper calling a helper


def three_helpers(w, x):
    y = scale(w, x)
    for _ in range(3):
        y = y + shifted(w)
    z = np.sum(cube(w) * y)
    return z, dlgradient(z, w, x)


def three_plain(w, x):
    y = w * x + np.sin(w)
    for _ in range(3):
        y = y + (w ** 3 + 1.0)
    return np.sum(w ** 3 * y)


W = np.array([0.7, -0.4, 1.1])
X = np.array([0.3, 0.5, -0.2])


def test_pairs_are_made_when_the_caller_is_compiled(compilations):
    compiled = compiled_for(three_helpers, dlarray(W), dlarray(X))
    made = list(compilations)
    assert sorted(made) == ["cube", "scale", "shifted"]     # cube once: shifted's call finds it cached
    found = records(compiled)
    for name in ("scale", "shifted", "cube"):
        assert found[name].resolved and found[name].compiled is not None, found[name]
        assert found[name].site.entries and found[name].site.misses == 0
    inner = records(found["shifted"].compiled)["cube"]
    assert inner.resolved and inner.site.entries and inner.compiled is found["cube"].compiled
    value, (gw, gx) = dlfeval(three_helpers, dlarray(W), dlarray(X))
    assert compilations == made                     # the first run compiled nothing
    for r in (found["scale"], found["shifted"], found["cube"], inner):
        assert r.site.misses == 0                   # every call ran the code made at compile time
    assert_close(extractdata(value), three_plain(W, X))
    assert_close(extractdata(gw), numerical_gradient(three_plain, [W, X], 0))
    assert_close(extractdata(gx), numerical_gradient(three_plain, [W, X], 1))


def value_only(w, x):
    return np.sum(scale(w, x))          # no sweep differentiates through it: its entry code


def test_a_call_run_without_a_pair_gets_its_entry_code_at_compile_time(compilations):
    compiled = compiled_for(value_only, dlarray(W), dlarray(X))
    r = records(compiled)["scale"]
    assert r.resolved and r.op == "primal_call" and r.compiled.fwd is None
    made = list(compilations)
    value = dlfeval(value_only, dlarray(W), dlarray(X))
    assert compilations == made and r.site.misses == 0
    assert_close(extractdata(value), np.sum(W * X + np.sin(W)))


def test_float32_arguments_keep_their_kinds(compilations):
    w, x = W.astype(np.float32), X.astype(np.float32)
    compiled_for(three_helpers, dlarray(w), dlarray(x))
    made = list(compilations)
    value, (gw, gx) = dlfeval(three_helpers, dlarray(w), dlarray(x))
    assert compilations == made
    assert extractdata(gw).dtype == np.float32
    assert_close(extractdata(gw), numerical_gradient(three_plain, [W, X], 0), rtol=1e-3, atol=1e-3)


# --- guards: a callee rebound after compile --------------------------------------------------------
def act(x):
    return np.sin(x)


def act_new(x):
    return np.cos(x) * x


def uses_act(w):
    y = np.sum(act(w) ** 2)
    return y, dlgradient(y, w)


def applies_act(w):
    return np.sum(act(w) ** 2)


def via_helper(w):                  # act is read by the helper, not by the caller
    y = np.sum(applies_act(w) * w)
    return y, dlgradient(y, w)


def test_rebinding_the_callee_after_compile_differentiates_the_new_function(compilations, monkeypatch):
    compiled_for(uses_act, dlarray(W))
    monkeypatch.setattr(THIS, "act", act_new)
    value, grad = dlfeval(uses_act, dlarray(W))
    plain = lambda w: np.sum((np.cos(w) * w) ** 2)     # noqa: E731
    assert_close(extractdata(value), plain(W))
    assert_close(extractdata(grad), numerical_gradient(plain, [W], 0))


def test_rebinding_a_callee_of_a_callee_fails_the_site_guard(compilations, monkeypatch):
    original = act
    compiled = compiled_for(via_helper, dlarray(W))
    site = records(compiled)["applies_act"].site
    before = site.entries
    assert before and site.misses == 0
    assert records(compiled)["applies_act"].names and compiled.check(via_helper)   # called by name
    monkeypatch.setattr(THIS, "act", act_new)     # applies_act's code read act: its guard fails,
    assert not compiled.check(via_helper)          # and so the caller's (its check folded in)
    value, grad = dlfeval(via_helper, dlarray(W))
    assert _entry(via_helper, (dlarray(W),)) is not compiled     # compiled again, with the new act
    plain = lambda w: np.sum(np.sum((np.cos(w) * w) ** 2) * w)     # noqa: E731
    assert_close(extractdata(value), plain(W))
    assert_close(extractdata(grad), numerical_gradient(plain, [W], 0))
    monkeypatch.setattr(THIS, "act", original)     # back: the entry made at compile time holds again
    value, grad = dlfeval(via_helper, dlarray(W))
    plain = lambda w: np.sum(np.sum(np.sin(w) ** 2) * w)     # noqa: E731
    assert_close(extractdata(grad), numerical_gradient(plain, [W], 0))


def widen(w, h):
    return np.outer(h, w)               # a vector becomes a matrix: the kinds change on the 2nd call


def changing_kinds(w):
    h = w
    total = 0.0
    for _ in range(2):
        h = widen(w, h)
        total = total + np.sum(h)
    return total, dlgradient(total, w)


def changing_plain(w):
    h1 = np.outer(w, w)
    h2 = np.einsum("i,jk->jki", w, h1)
    return np.sum(h1) + np.sum(h2)


def test_kinds_predicted_wrong_take_the_run_time_path(compilations):
    compiled = compiled_for(changing_kinds, dlarray(W))
    site = records(compiled)["widen"].site
    value, grad = dlfeval(changing_kinds, dlarray(W))
    assert site.misses == 1                         # the first call matched, the second did not
    assert_close(extractdata(value), changing_plain(W))
    assert_close(extractdata(grad), numerical_gradient(changing_plain, [W], 0))


# --- methods, objects, dataclasses, closures -------------------------------------------------------
class Affine:
    def __init__(self, w, b):
        self.w = w
        self.b = b

    def apply(self, x):
        return np.tanh(self.w * x + self.b)

    def __call__(self, x):
        return cube(self.apply(x))


@dataclasses.dataclass
class Pair:
    w: np.ndarray
    b: np.ndarray


def with_objects(layer, p, x):
    made = Affine(p.w, p.b)             # a class with its own __init__
    twin = Pair(p.w, p.b)              # a dataclass
    y = np.sum(layer.apply(x)) + np.sum(layer(x)) + np.sum(twin.w * twin.b) + np.sum(made.w)
    return y, dlgradient(y, p.w, p.b, layer.w)


def objects_plain(w, b, x, v, c):
    a = np.tanh(v * x + c)
    return np.sum(a) + np.sum(a ** 3) + np.sum(w * b) + np.sum(w)


def test_methods_classes_and_dataclasses(compilations):
    b, v = X[::-1].copy(), W[::-1].copy()
    p = Pair(dlarray(W), dlarray(b))
    c = np.array([0.2, -0.1, 0.4])
    layer = Affine(dlarray(v), dlarray(c))
    compiled = compiled_for(with_objects, layer, p, dlarray(X))
    found = records(compiled)
    assert found["Affine"].resolved and found["Pair"].resolved
    assert found["apply"].resolved and found["call"].resolved
    assert records(found["call"].compiled)["apply"].resolved      # a method calling a method
    made = list(compilations)
    inner = records(found["call"].compiled)["cube"]     # cube(self.apply(x)): a value made there,
    assert inner.resolved and inner.guarded             # its kind predicted, checked at the call
    value, (gw, gb, gv) = dlfeval(with_objects, layer, p, dlarray(X))
    assert compilations == made
    for r in found.values():
        assert r.site.misses == 0
    args = [W, b, X, v, c]
    assert_close(extractdata(value), objects_plain(*args))
    assert_close(extractdata(gw), numerical_gradient(objects_plain, args, 0))
    assert_close(extractdata(gb), numerical_gradient(objects_plain, args, 1))
    assert_close(extractdata(gv), numerical_gradient(objects_plain, args, 3))


def calls_the_layer(layer, x):
    y = np.sum(layer(x))
    return y, dlgradient(y, layer.w)


def test_a_method_replaced_on_the_class_after_compile(compilations, monkeypatch):
    layer = Affine(dlarray(W), dlarray(X))
    compiled = compiled_for(calls_the_layer, layer, dlarray(X))
    site = records(compiled)["call"].site
    monkeypatch.setattr(Affine, "__call__", lambda self, x: np.sin(self.w * x))
    value, grad = dlfeval(calls_the_layer, layer, dlarray(X))
    assert site.misses == 1
    plain = lambda w: np.sum(np.sin(w * X))      # noqa: E731
    assert_close(extractdata(value), plain(W))
    assert_close(extractdata(grad), numerical_gradient(plain, [W], 0))


def make_loss(factor):
    def helper(x):
        return factor * np.sin(x) * x

    def loss(w):
        y = np.sum(helper(w))          # helper: a closure cell of loss
        return y, dlgradient(y, w)
    return loss


def test_a_helper_in_a_closure_cell(compilations):
    loss = make_loss(3.0)
    compiled = compiled_for(loss, dlarray(W))
    assert records(compiled)["helper"].resolved
    made = list(compilations)
    value, grad = dlfeval(loss, dlarray(W))
    assert compilations == made
    plain = lambda w: np.sum(3.0 * np.sin(w) * w)     # noqa: E731
    assert_close(extractdata(grad), numerical_gradient(plain, [W], 0))
    other = make_loss(-2.0)             # the same code, another cell value: its own code
    value, grad = dlfeval(other, dlarray(W))
    plain = lambda w: np.sum(-2.0 * np.sin(w) * w)     # noqa: E731
    assert_close(extractdata(grad), numerical_gradient(plain, [W], 0))


def with_params_dict(params, x):
    y = np.sum(scale(params["w"], x) * params["v"])
    return y, dlgradient(y, params["w"], params["v"])


def test_arguments_read_from_a_dict_of_parameters(compilations):
    params = {"w": dlarray(W), "v": dlarray(X)}
    compiled = compiled_for(with_params_dict, params, dlarray(X))
    assert records(compiled)["scale"].resolved
    made = list(compilations)
    value, (gw, gv) = dlfeval(with_params_dict, params, dlarray(X))
    assert compilations == made
    plain = lambda w, v: np.sum((w * X + np.sin(w)) * v)     # noqa: E731
    assert_close(extractdata(gw), numerical_gradient(plain, [W, X], 0))
    assert_close(extractdata(gv), numerical_gradient(plain, [W, X], 1))


# --- recursion and refusals ------------------------------------------------------------------------
def power(x, n):
    if n == 1:
        return x
    return x * power(x, n - 1)


def uses_power(w):
    y = np.sum(power(w, 4))
    return y, dlgradient(y, w)


def test_a_recursive_helper_keeps_the_run_time_path(compilations):
    compiled = compiled_for(uses_power, dlarray(W))
    top = records(compiled)["power"]
    assert top.resolved
    inner = records(top.compiled)["power"]
    assert not inner.resolved and "recursive" in inner.reason
    value, grad = dlfeval(uses_power, dlarray(W))
    assert_close(extractdata(grad), 4 * W ** 3)


def refused_inside(x):
    return np.sum(np.histogram(x)[0] * x)      # no derivative rule for np.histogram


def sometimes_refused(w, flag):
    if flag:
        y = refused_inside(w)
    else:
        y = np.sum(w ** 2)
    return y, dlgradient(y, w)


def test_a_callee_that_cannot_be_compiled_is_reported_at_its_call(compilations):
    compiled = compiled_for(sometimes_refused, dlarray(W), False)
    r = records(compiled)["refused_inside"]
    assert not r.resolved and "CompileError" in r.reason
    value, grad = dlfeval(sometimes_refused, dlarray(W), False)     # the call not made: fine
    assert_close(extractdata(grad), 2 * W)
    with pytest.raises(CompileError) as info:
        dlfeval(sometimes_refused, dlarray(W), True)
    assert info.value.filename == __file__
    assert info.value.lineno == refused_inside.__code__.co_firstlineno + 1
    assert "np.histogram" in str(info.value)


# --- second derivatives -----------------------------------------------------------------------------
def grad_norm(w, x):
    y = np.sum(np.tanh(w * x) ** 2)
    g = dlgradient(y, w, EnableHigherDerivatives=True)
    return np.sum(g ** 2)


def outer_of_grad_norm(w, x):
    z = grad_norm(w, x)
    return z, dlgradient(z, w)


def grad_norm_plain(w, x):
    t = np.tanh(w * x)
    g = 2 * t * (1 - t ** 2) * x
    return np.sum(g ** 2)


def test_second_derivative_through_a_helper_with_dlgradient_inside(compilations):
    compiled = compiled_for(outer_of_grad_norm, dlarray(W), dlarray(X))
    # a helper of the same file taking gradients is read in place (sct/inline_helpers.py): no call
    # (its site's sweep, differentiated again, is compiled at the first call; nothing after it)
    assert "grad_norm" not in records(compiled)
    dlfeval(outer_of_grad_norm, dlarray(W), dlarray(X))
    made = list(compilations)
    value, grad = dlfeval(outer_of_grad_norm, dlarray(W), dlarray(X))
    assert compilations == made
    assert_close(extractdata(value), grad_norm_plain(W, X))
    assert_close(extractdata(grad), numerical_gradient(grad_norm_plain, [W, X], 0), rtol=1e-5)


# --- sct.source(callees=True) does not run the function --------------------------------------------
RUNS = [0]


def bump():
    RUNS[0] += 1
    return 1.0


def counted(w, x):
    k = bump()
    y = scale(w, x)
    for _ in range(2):
        y = y + shifted(w)
    z = np.sum(cube(np.atleast_1d(y)) * k)
    return z, dlgradient(z, w)


def test_source_with_callees_does_not_run_the_function(compilations):
    RUNS[0] = 0
    dlfeval(counted, dlarray(W), dlarray(X))
    assert RUNS[0] == 1                      # running it runs bump
    sct.clear_cache()
    RUNS[0] = 0
    text = str(sct.source(counted, dlarray(W), dlarray(X), callees=True))
    assert RUNS[0] == 0
    assert "def counted(w, x):" in text
    for helper in ("scale", "shifted", "cube"):
        assert f"def {helper}_fwd(" in text and f"def {helper}_bwd(" in text
    line = counted.__code__.co_firstlineno + 5
    # cube(y): y is computed in counted, its kind known on the first call only
    assert f"# ---- cube() at line {line} in {__name__}.counted: compiled on first call" in text
    assert text.count("generated for a call made from it") == 3
    compile(text, "<generated>", "exec")
    assert RUNS[0] == 0


def cube_of_computed(w, x):
    y = np.atleast_1d(scale(w, x))
    z = np.sum(cube(y))             # y is made here: cube is compiled on its first call
    return z, dlgradient(z, w)


def test_source_after_a_run_also_shows_what_the_first_calls_made(compilations):
    before = str(sct.source(cube_of_computed, dlarray(W), dlarray(X), callees=True))
    line = cube_of_computed.__code__.co_firstlineno + 2
    assert f"# ---- cube() at line {line} in {__name__}.cube_of_computed: compiled on first call" in before
    assert "def cube_fwd(" not in before and "def scale_fwd(" in before
    value, grad = dlfeval(cube_of_computed, dlarray(W), dlarray(X))
    after = str(sct.source(cube_of_computed, dlarray(W), dlarray(X), callees=True))
    assert f"# ---- generated on a first call of cube() (line {line})" in after
    assert after.count("def cube_fwd(") == 1 and after.count("def scale_fwd(") == 1
    compile(after, "<generated>", "exec")
    plain = lambda w: np.sum((w * X + np.sin(w)) ** 3)      # noqa: E731
    assert_close(extractdata(grad), numerical_gradient(plain, [W], 0))


# --- kinds of values the caller computes with plain numpy ------------------------------------------
def computed_arguments(w, x, m):
    h = np.tanh(w * x + 1.0)
    v = m @ h                       # a matrix times a vector: a vector
    s = np.sum(h)                   # 0-d
    y = np.sum(cube(h)) + np.sum(scale(v, h)) + cube(s)
    return y, dlgradient(y, w, m)


def computed_plain(w, x, m):
    h = np.tanh(w * x + 1.0)
    v = m @ h
    s = np.sum(h)
    return np.sum(h ** 3) + np.sum(v * h + np.sin(v)) + s ** 3


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_arguments_computed_with_numpy_have_known_kinds(compilations, dtype):
    m = np.array([[0.2, -0.5, 0.1], [0.3, 0.4, -0.2], [0.0, 0.6, 0.5]])
    args = [W.astype(dtype), X.astype(dtype), m.astype(dtype)]
    compiled = compiled_for(computed_arguments, *[dlarray(a) for a in args])
    for r in compiled.calls:
        assert r.resolved, r
    made = list(compilations)
    value, (gw, gm) = dlfeval(computed_arguments, *[dlarray(a) for a in args])
    assert compilations == made
    for r in compiled.calls:
        assert r.site.misses == 0
    tol = dict(rtol=1e-5, atol=1e-6) if dtype == np.float64 else dict(rtol=2e-3, atol=2e-3)
    exact = [W, X, m]
    assert extractdata(gw).dtype == dtype and extractdata(gm).dtype == dtype
    assert_close(extractdata(value), computed_plain(*exact), **tol)
    assert_close(extractdata(gw), numerical_gradient(computed_plain, exact, 0), **tol)
    assert_close(extractdata(gm), numerical_gradient(computed_plain, exact, 2), **tol)
