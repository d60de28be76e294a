"""Issue 7 item 3 / issue 8 item 2: helper calls are direct calls of generated code.

Where the caller's compilation resolves a call (sct/call_tree.py), the generated code calls the
callee's generated pair by name (bound in the generated module's globals, shown by
``sct.source(..., callees=True)``) instead of looking it up through its call site on every call.
The guards the site checked move to the caller's entry check where that is sound, or stay at the
call (a guarded call falls back to the site).  Never a stale pair: the callee rebound between
calls, an attribute holding the callee changed, a global the callee reads rebound during the call,
kinds that change in a loop, must all give the new function's value and gradient.
"""
from __future__ import annotations

import sys

import numpy as np
import pytest

import sct
from sct import dlarray, dlfeval, dlgradient, extractdata
from sct.api import _entry
from gradcheck import assert_close, numerical_gradient

THIS = sys.modules[__name__]

W = np.array([[0.5, -0.3, 0.2], [0.1, 0.4, -0.6], [0.7, 0.2, 0.3]])
X = np.array([0.3, -0.2, 0.5])


pytestmark = pytest.mark.usefixtures("fresh_cache")   # tests/conftest.py


def check(fn, plain, args, wrt=(0,), rtol=1e-5, atol=1e-6):
    """dlfeval(fn) against plain Python and central differences: fn returns (L, grads...)."""
    out = dlfeval(fn, *[dlarray(a) for a in args])
    value, grads = out[0], out[1:]
    if len(grads) == 1 and isinstance(grads[0], (tuple, list)):
        grads = tuple(grads[0])
    assert_close(extractdata(value), plain(*args), rtol=rtol, atol=atol)
    for g, i in zip(grads, wrt):
        assert_close(extractdata(g), numerical_gradient(plain, list(args), i), rtol=rtol, atol=atol)
    return out


def layer(W, x):
    return np.tanh(W @ x)


def other(W, x):
    return np.sin(W @ x) * 2.0


def two_layers(W, x):
    y = layer(W, x)
    y = layer(W, y)
    L = np.sum(y ** 2)
    return L, dlgradient(L, W)


def two_plain(W, x, f=None):
    f = f or (lambda W, x: np.tanh(W @ x))
    return np.sum(f(W, f(W, x)) ** 2)


def test_source_calls_the_pairs_by_name():
    text = str(sct.source(two_layers, dlarray(W), dlarray(X), callees=True))
    assert "compiled on first call" not in text, text          # both calls known when compiling
    assert "rt.vjp_at(" not in text.split("# ---- generated")[0].replace("else rt.vjp_at(", ""), text
    first = [line for line in text.splitlines() if "= layer_fwd_" in line]
    assert first and "(y, y_residuals) = layer_fwd_" in first[0], text
    assert "def layer_fwd(" in text
    check(two_layers, two_plain, [W, X])


def test_rebinding_the_helper_between_calls(monkeypatch):
    check(two_layers, two_plain, [W, X])
    monkeypatch.setattr(THIS, "layer", other)
    check(two_layers, lambda W, x: two_plain(W, x, lambda W, x: np.sin(W @ x) * 2.0), [W, X])
    monkeypatch.undo()
    check(two_layers, two_plain, [W, X])


# --- a global the helper reads, rebound by a function called before it -----------------------------
act = np.tanh


def set_act():
    global act
    act = np.sin


def uses_act(W, x):
    return act(W @ x)


def loss_setter(W, x):
    set_act()
    y = uses_act(W, x)
    L = np.sum(y ** 2)
    return L, dlgradient(L, W)


def test_a_global_rebound_during_the_call_before_the_helper(monkeypatch):
    for _ in range(2):
        monkeypatch.setattr(THIS, "act", np.tanh)
        check(loss_setter, lambda W, x: np.sum(np.sin(W @ x) ** 2), [W, X])
        assert THIS.act is np.sin


def loss_act(W, x):
    L = np.sum(uses_act(W, x) ** 2)
    return L, dlgradient(L, W)


def test_a_global_of_the_helper_rebound_between_calls(monkeypatch):
    monkeypatch.setattr(THIS, "act", np.tanh)
    check(loss_act, lambda W, x: np.sum(np.tanh(W @ x) ** 2), [W, X])
    monkeypatch.setattr(THIS, "act", np.sin)
    check(loss_act, lambda W, x: np.sum(np.sin(W @ x) ** 2), [W, X])


# --- attributes holding the callee, methods, objects in dicts -------------------------------------
class Block:
    def __init__(self, W, act):
        self.W = W
        self.act = act

    def forward(self, x):
        return self.act(self.W @ x)


def block_loss(block, x):
    L = np.sum(block.forward(x) ** 2)
    return L, dlgradient(L, block.W)


def test_an_attribute_holding_the_activation_changed_between_calls():
    block = Block(dlarray(W), np.tanh)
    L, g = dlfeval(block_loss, block, dlarray(X))
    plain = lambda W: np.sum(np.tanh(W @ X) ** 2)       # noqa: E731
    assert_close(extractdata(g), numerical_gradient(plain, [W], 0))
    block.act = np.sin
    L, g = dlfeval(block_loss, block, dlarray(X))
    plain = lambda W: np.sum(np.sin(W @ X) ** 2)        # noqa: E731
    assert_close(extractdata(L), plain(W))
    assert_close(extractdata(g), numerical_gradient(plain, [W], 0))


class Cube(Block):
    def forward(self, x):
        return (self.W @ x) ** 3


def dict_loss(models, x):
    y = models["a"].forward(x)
    for _ in range(2):
        y = models["b"].forward(y)
    L = np.sum(y ** 2)
    return L, dlgradient(L, models["a"].W, models["b"].W)


def test_methods_of_objects_in_a_dict_whose_class_changes():
    V = W[::-1].copy() * 0.5
    models = {"a": Block(dlarray(W), np.tanh), "b": Block(dlarray(V), np.tanh)}

    def plain(W, V, fb=lambda V, y: np.tanh(V @ y)):
        y = np.tanh(W @ X)
        for _ in range(2):
            y = fb(V, y)
        return np.sum(y ** 2)
    L, (ga, gb) = dlfeval(dict_loss, models, dlarray(X))
    assert_close(extractdata(ga), numerical_gradient(plain, [W, V], 0))
    models["b"] = Cube(dlarray(V), None)
    L, (ga, gb) = dlfeval(dict_loss, models, dlarray(X))
    cube = lambda W, V: plain(W, V, lambda V, y: (V @ y) ** 3)     # noqa: E731
    assert_close(extractdata(L), cube(W, V))
    assert_close(extractdata(gb), numerical_gradient(cube, [W, V], 1), rtol=1e-4)


def test_a_method_replaced_on_the_class_between_calls(monkeypatch):
    block = Block(dlarray(W), np.tanh)
    dlfeval(block_loss, block, dlarray(X))
    monkeypatch.setattr(Block, "forward", lambda self, x: np.cos(self.W @ x))
    L, g = dlfeval(block_loss, block, dlarray(X))
    plain = lambda W: np.sum(np.cos(W @ X) ** 2)        # noqa: E731
    assert_close(extractdata(g), numerical_gradient(plain, [W], 0))


class Scaled:
    def __init__(self, w, x):
        self.y = w * x


def build_loss(w, x):
    s = Scaled(w, x)
    L = np.sum(s.y ** 2)
    return L, dlgradient(L, w)


def test_an_init_replaced_between_calls(monkeypatch):
    check(build_loss, lambda w, x: np.sum((w * x) ** 2), [X, X[::-1].copy()])

    def init(self, w, x):
        self.y = w + x
    monkeypatch.setattr(Scaled, "__init__", init)
    check(build_loss, lambda w, x: np.sum((w + x) ** 2), [X, X[::-1].copy()])


# --- closures ---------------------------------------------------------------------------------------
def make_closure_loss():
    def helper(W, x):
        return np.tanh(W @ x)

    def swap():
        nonlocal helper

        def helper(W, x):            # noqa: F811
            return np.sin(W @ x)

    def loss(W, x):
        L = np.sum(helper(W, x) ** 2)
        return L, dlgradient(L, W)
    return loss, swap


def test_a_helper_in_a_closure_cell_rebound_between_calls():
    loss, swap = make_closure_loss()
    check(loss, lambda W, x: np.sum(np.tanh(W @ x) ** 2), [W, X])
    swap()
    check(loss, lambda W, x: np.sum(np.sin(W @ x) ** 2), [W, X])


# --- kinds: loops that change them, float32 and float64 to one helper -------------------------------
def affine(W, x):
    return W @ x + 0.5


def loop_loss(W, x):
    h = x
    for _ in range(4):
        h = np.tanh(affine(W, h))
    L = np.sum(h ** 2)
    return L, dlgradient(L, W)


def loop_plain(W, x):
    h = x
    for _ in range(4):
        h = np.tanh(W @ h + 0.5)
    return np.sum(h ** 2)


def test_a_helper_in_a_loop_whose_argument_kind_changes():
    # float32 x with a float64 W: h is float32 on the first call, float64 after
    out = dlfeval(loop_loss, dlarray(W), dlarray(X.astype(np.float32)))
    assert_close(extractdata(out[0]), loop_plain(W, X.astype(np.float32)), rtol=1e-6)
    assert_close(extractdata(out[1]), numerical_gradient(loop_plain, [W, X], 0), rtol=1e-5)
    assert extractdata(out[1]).dtype == np.float64


def mixed(W, x, W32, x32):
    a = np.sum(layer(W, x))
    b = np.sum(layer(W32, x32))
    L = a + b
    return L, dlgradient(L, W, W32)


def test_float32_and_float64_arguments_to_one_helper():
    W32, X32 = W.astype(np.float32), X.astype(np.float32)
    L, (g, g32) = dlfeval(mixed, dlarray(W), dlarray(X), dlarray(W32), dlarray(X32))
    assert extractdata(g).dtype == np.float64 and extractdata(g32).dtype == np.float32
    plain = lambda W: np.sum(np.tanh(W @ X))       # noqa: E731
    assert_close(extractdata(g), numerical_gradient(plain, [W], 0))
    assert_close(extractdata(g32), numerical_gradient(plain, [W], 0), rtol=1e-3, atol=1e-4)
    L, (g, g32) = dlfeval(mixed, dlarray(W32), dlarray(X32), dlarray(W), dlarray(X))   # swapped
    assert extractdata(g).dtype == np.float32 and extractdata(g32).dtype == np.float64


def hundred(W, x):
    h = x
    for _ in range(100):
        h = layer(W, h) * 0.9 + x
    L = np.sum(h)
    return L, dlgradient(L, W)


def hundred_plain(W, x):
    h = x
    for _ in range(100):
        h = np.tanh(W @ h) * 0.9 + x
    return np.sum(h)


def test_a_helper_called_a_hundred_times_in_a_loop():
    for _ in range(2):
        check(hundred, hundred_plain, [W * 0.5, X], rtol=1e-4, atol=1e-6)


# --- recursion and second derivatives ---------------------------------------------------------------
def power(x, n):
    if n == 1:
        return x
    return x * power(x, n - 1)


def uses_power(w):
    L = np.sum(power(w, 4))
    return L, dlgradient(L, w)


def test_recursion():
    check(uses_power, lambda w: np.sum(w ** 4), [X])


def grad_norm(W, x):
    L = np.sum(layer(W, x) ** 2)
    g = dlgradient(L, W, EnableHigherDerivatives=True)
    return np.sum(g ** 2)


def second(W, x):
    z = grad_norm(W, x)
    return z, dlgradient(z, W)


def grad_norm_plain(W, x):
    t = np.tanh(W @ x)
    g = np.outer(2 * t * (1 - t ** 2), x)
    return np.sum(g ** 2)


def test_second_derivative_through_helpers(monkeypatch):
    check(second, grad_norm_plain, [W, X], rtol=1e-4)
    monkeypatch.setattr(THIS, "layer", other)

    def plain(W, x):
        t = W @ x
        g = np.outer(2 * (2 * np.sin(t)) * 2 * np.cos(t), x)
        return np.sum(g ** 2)
    check(second, plain, [W, X], rtol=1e-4)


# --- keyword arguments and a value-only call --------------------------------------------------------
def scaled_layer(W, x, scale=1.0):
    return np.tanh(W @ x) * scale


def keyword_loss(W, x):
    L = np.sum(scaled_layer(W, x, scale=3.0)) + np.sum(scaled_layer(W, x))
    return L, dlgradient(L, W)


def test_keyword_arguments():
    check(keyword_loss, lambda W, x: 4 * np.sum(np.tanh(W @ x)), [W, X])


def value_only(W, x):
    return np.sum(layer(W, x))


def test_a_call_no_sweep_differentiates(monkeypatch):
    v = dlfeval(value_only, dlarray(W), dlarray(X))
    assert_close(extractdata(v), np.sum(np.tanh(W @ X)))
    monkeypatch.setattr(THIS, "layer", other)
    v = dlfeval(value_only, dlarray(W), dlarray(X))
    assert_close(extractdata(v), np.sum(2 * np.sin(W @ X)))


# --- what the caller's code changes before the call: the callee's guards checked at the call ------
import types as _types                                      # noqa: E402

cfg = _types.SimpleNamespace(act=np.tanh)


def uses_cfg(W, x):
    return cfg.act(W @ x)


def loss_sets_attribute(W, x):
    cfg.act = np.sin                 # an attribute the helper reads, set before the call
    L = np.sum(uses_cfg(W, x) ** 2)
    return L, dlgradient(L, W)


class Holder:
    act = staticmethod(np.tanh)


def uses_holder(W, x):
    return Holder.act(W @ x)


def loss_sets_class_attribute(W, x):
    Holder.act = np.sin
    L = np.sum(uses_holder(W, x) ** 2)
    return L, dlgradient(L, W)


@pytest.mark.parametrize("loss, reset", [
    (loss_sets_attribute, lambda: setattr(cfg, "act", np.tanh)),
    (loss_sets_class_attribute, lambda: setattr(Holder, "act", staticmethod(np.tanh)))])
def test_an_attribute_the_helper_reads_set_before_the_call(loss, reset):
    try:
        for _ in range(2):
            reset()
            check(loss, lambda W, x: np.sum(np.sin(W @ x) ** 2), [W, X])
    finally:
        reset()


def make_swapping_loss():
    def helper(W, x):
        return np.tanh(W @ x)

    def swap():
        nonlocal helper

        def helper(W, x):            # noqa: F811
            return np.sin(W @ x)

    def loss(W, x):
        swap()                       # rebinds the cell loss reads helper from
        L = np.sum(helper(W, x) ** 2)
        return L, dlgradient(L, W)
    return loss


def test_a_closure_cell_rebound_during_the_call():
    # generated code reads the cell once per call (as it does a global): refused, never the stale helper
    loss = make_swapping_loss()
    with pytest.raises(sct.CompileError) as info:
        dlfeval(loss, dlarray(W), dlarray(X))
    assert info.value.filename == __file__
    assert info.value.lineno == loss.__code__.co_firstlineno + 2
    assert "nonlocal helper" in str(info.value)


def test_calls_by_name_are_checked_once_per_entry_where_sound():
    """The helper's guards join the caller's check: rebinding what the helper reads fails it."""
    compiled = _entry(two_layers, (dlarray(W), dlarray(X)))
    first, second = compiled.calls
    assert first.names and not first.guarded        # W, x: the caller's own arguments
    assert second.names and second.guarded          # y: computed in the caller, checked at the call
    assert not compiled.opaque
    assert compiled.check(two_layers)
    text = str(sct.source(two_layers, dlarray(W), dlarray(X)))
    assert f"(y, y_residuals) = {first.names[0]}(W, x)" in text


# --- forward over reverse through helpers called by name --------------------------------------------
def sum_sq(W, x):
    return np.sum(layer(W, x) ** 2) + np.sum(layer(W, layer(W, x)))


def test_hessian_vector_product_through_helpers(monkeypatch):
    x = X
    V = np.linspace(-1, 1, 9).reshape(3, 3)

    def plain(W, f=lambda W, x: np.tanh(W @ x)):
        return np.sum(f(W, x) ** 2) + np.sum(f(W, f(W, x)))

    def grad_plain(W, f=lambda W, x: np.tanh(W @ x)):
        return numerical_gradient(lambda W: plain(W, f), [W], 0, step=1e-5)
    for f in (None, lambda W, x: np.sin(W @ x) * 2.0):
        if f is not None:
            monkeypatch.setattr(THIS, "layer", other)
        kw = {} if f is None else {"f": f}
        got = sct.hvp(lambda W: sum_sq(W, x), W, V)
        h = 1e-4
        want = (grad_plain(W + h * V, **kw) - grad_plain(W - h * V, **kw)) / (2 * h)
        assert_close(extractdata(got) if hasattr(got, "data") else got, want, rtol=1e-3, atol=1e-4)


def test_source_names_the_callees_by_their_names():
    text = str(sct.source(two_layers, dlarray(W), dlarray(X), callees=True))
    compiled = _entry(two_layers, (dlarray(W), dlarray(X)))
    for r in compiled.calls:
        assert f"(called as {', '.join(r.names)})" in text
        assert r.names[0] in text.split("# ----")[0]          # the caller's code reads that name
