"""Red team (dec5d): stale or wrong results from the caches and guards.  The same function is
called many times while what its generated code read at compile time changes between calls
(globals and module constants read by it or its helpers, closure cells, defaults, monkeypatched
helpers and methods, the objects an attribute, a list or a dict holds, argument kinds and
shapes, the numpy error state, rules redefined).  Every call is checked against plain Python and
central differences.  Plus the wrong results found on the way (see each test)."""
import functools
from dataclasses import dataclass

import numpy as np
import pytest

import sct
from sct import dlarray, dlfeval, dlgradient, extractdata

from gradcheck import assert_close, numerical_gradient

X3 = np.array([0.3, -0.7, 1.1])


def _np(a):
    return np.asarray(extractdata(a))


def _fd(f, x=X3):
    return numerical_gradient(f, [np.array(x, dtype=float)], 0)


# --- module state the generated code read, changed between calls -----------------------------------

K = 2.0
SCALE = [1.0, 2.0]


def _scaled(z):
    return z * K


def uses_helper_reading_global(x):
    y = np.sum(_scaled(x) ** 2) + np.sum(x * SCALE[0]) * SCALE[-1]
    return y, dlgradient(y, x)


def test_globals_read_by_a_helper_and_list_items_changed_in_place():
    global K
    old = K, list(SCALE)
    acc = sct.dlaccelerate(uses_helper_reading_global)
    try:
        for k, scale in [(2.0, [1.0, 2.0]), (3.0, [1.0, 2.0]), (3, [2.0]),
                         (np.array([1.0, 2.0, 3.0]), [np.array([0.5, 1.0, 2.0]), 3.0]), (2.0, [2, 3])]:
            K = k
            SCALE[:] = scale

            def plain(z):
                return np.sum((z * k) ** 2) + np.sum(z * scale[0]) * scale[-1]
            for f in (uses_helper_reading_global, acc):
                y, g = dlfeval(f, dlarray(X3))
                assert_close(_np(y), plain(X3), 1e-12, 1e-12)
                assert_close(_np(g), _fd(plain), 1e-6, 1e-7)
    finally:
        K = old[0]
        SCALE[:] = old[1]


class _Tanh:
    def __init__(self, w):
        self.w = w

    def forward(self, z):
        return np.tanh(z * self.w)


class _Square:
    def __init__(self, w):
        self.w = w

    def forward(self, z):
        return z ** 2 * self.w


LAYERS = [_Tanh(2.0), _Square(0.5)]


class _Holder:
    pass


HOLDER = _Holder()
HOLDER.sub = _Tanh(1.0)


def through_global_layers(x):
    z = x
    for layer in LAYERS:
        z = layer.forward(z)
    z = HOLDER.sub.forward(z)
    y = np.sum(z)
    return y, dlgradient(y, x)


def test_the_objects_a_global_list_and_a_global_object_hold_replaced_in_place():
    old = list(LAYERS), HOLDER.sub
    try:
        for layers in ([_Tanh(2.0), _Square(0.5)], [_Square(0.5), _Tanh(2.0)], [_Square(1.5)],
                       [_Tanh(np.array([1.0, 2.0, 3.0]))]):
            LAYERS[:] = layers
            HOLDER.sub = layers[-1]

            def plain(z):
                for layer in layers + [layers[-1]]:
                    z = layer.forward(z)
                return np.sum(z)
            y, g = dlfeval(through_global_layers, dlarray(X3))
            assert_close(_np(g), _fd(plain), 1e-6, 1e-7)
    finally:
        LAYERS[:] = old[0]
        HOLDER.sub = old[1]


@dataclass
class _Cfg:
    scale: float


def through_an_attribute_outside_the_fields(x, cfg):
    y = np.sum(cfg.layer.forward(x) * cfg.scale)
    return y, dlgradient(y, x)


class _Slotted:
    __slots__ = ("layer",)


def through_a_slot(x, s):
    y = np.sum(s.layer.forward(x))
    return y, dlgradient(y, x)


def test_a_sub_object_outside_the_kind_changes_class():
    cfg, slotted = _Cfg(2.0), _Slotted()
    for layer in (_Tanh(2.0), _Square(0.5), _Tanh(np.array([1.0, 2.0, 3.0])), _Square(2.0)):
        cfg.layer = layer                  # not a dataclass field: not in the argument's kind
        slotted.layer = layer              # a slot: not in the kind either
        y, g = dlfeval(through_an_attribute_outside_the_fields, dlarray(X3), cfg)
        assert_close(_np(g), _fd(lambda z: np.sum(layer.forward(z) * 2.0)), 1e-6, 1e-7)
        y, g = dlfeval(through_a_slot, dlarray(X3), slotted)
        assert_close(_np(g), _fd(lambda z: np.sum(layer.forward(z))), 1e-6, 1e-7)


def loss_with_keywords(x, a=1.0, b=0.0):
    y = np.sum(np.sin(x * a) + b * x)
    return y, dlgradient(y, x)


def test_a_partials_keywords_changed_in_place():
    p = functools.partial(loss_with_keywords, a=2.0, b=1.0)
    acc = sct.dlaccelerate(p)
    for a, b in [(2.0, 1.0), (3.0, 1.0), (3.0, np.array([1.0, 2.0, 3.0])), (2, 1)]:
        p.keywords["a"], p.keywords["b"] = a, b
        for run in (lambda: dlfeval(p, dlarray(X3)), lambda: dlfeval(acc, dlarray(X3)), lambda: acc(dlarray(X3))):
            y, g = run()
            assert_close(_np(g), np.cos(X3 * a) * a + b, 1e-12, 1e-12)


def log_twice(x):
    y = np.log(x) * 2.0
    return y, dlgradient(y, x)


def test_the_numpy_error_state_is_read_when_the_code_runs_not_when_it_was_compiled():
    sct.clear_cache()
    for state in ("ignore", "raise", "ignore", "raise"):
        with np.errstate(all=state):
            if state == "raise":
                with pytest.raises(Exception) as info:
                    dlfeval(log_twice, dlarray(-1.0))
                assert "FloatingPointError" in repr(info.value) + str(type(info.value).__mro__) or \
                    isinstance(info.value.__cause__, FloatingPointError)
            else:
                y, g = dlfeval(log_twice, dlarray(-1.0))
                assert np.isnan(_np(y)) and _np(g) == -2.0


def _cube(z):
    return z ** 3


def uses_cube(x):
    y = np.sum(_cube(x))
    return y, dlgradient(y, x)


def test_a_rule_registered_again_is_used_not_the_code_compiled_for_the_first():
    y, g = dlfeval(uses_cube, dlarray(X3))
    assert_close(_np(g), 3 * X3 ** 2, 1e-12, 1e-12)
    try:
        @sct.defrule(_cube)
        def first(g, ans, z):
            return g * 3.0 * z ** 2
        y, g = dlfeval(uses_cube, dlarray(X3))
        assert_close(_np(g), 3 * X3 ** 2, 1e-12, 1e-12)

        @sct.defrule(_cube)
        def second(g, ans, z):          # the user's rule (here a scaled one): it must be the one used
            return g * 7.0 * z ** 2
        y, g = dlfeval(uses_cube, dlarray(X3))
        assert_close(_np(g), 7 * X3 ** 2, 1e-12, 1e-12)
    finally:
        from sct.runtime import registry
        forget = getattr(registry, "unregister", None)
        if forget is not None:
            forget(_cube)


def outputs_by_count(x, n):
    y = np.sum(x ** 2)
    g = dlgradient(y, x)
    out = {"y": y}
    for i in range(n):
        out[f"g{i}"] = [g * (i + 1)] * (i + 1)
    return out


def test_the_outputs_laid_out_on_the_first_run_do_not_bind_later_runs_of_other_layouts():
    acc = sct.dlaccelerate(outputs_by_count)
    for n in (1, 3, 0, 2, 3, 1):
        for out in (dlfeval(outputs_by_count, dlarray(X3), n), acc(dlarray(X3), n)):
            assert list(out) == ["y"] + [f"g{i}" for i in range(n)]
            for i in range(n):
                items = out[f"g{i}"]
                assert len(items) == i + 1 and all(isinstance(a, sct.dlarray) for a in items)
                assert_close(_np(items[-1]), 2 * X3 * (i + 1), 1e-12, 1e-12)
                datas = [_np(a) for a in items]       # results never share one array
                assert not any(np.shares_memory(a, b) for j, a in enumerate(datas) for b in datas[j + 1:])


def fused_chain(x, w):
    y = np.sum(np.tanh(x * w + 1.0) * np.exp(-x * x) + x / (1.0 + w * w))
    return y, dlgradient(y, x, w)


def test_switching_the_backend_between_calls_recompiles():
    pytest.importorskip("numexpr")
    rng = np.random.default_rng(7)
    x, w = rng.standard_normal(6), rng.standard_normal(6)

    def plain(a, b):
        return np.sum(np.tanh(a * b + 1.0) * np.exp(-a * a) + a / (1.0 + b * b))
    acc = sct.dlaccelerate(fused_chain)
    try:
        for backend in ("numpy", "numexpr", "numpy", "numexpr"):
            sct.set_backend(backend, cost_model=False)      # (every chain fused)
            assert ("rt.fused(" in str(sct.source(fused_chain, dlarray(x), dlarray(w)))) == (backend == "numexpr")
            for f in (fused_chain, acc):
                for shape in ((6,), (1,)):
                    a, b = x[:shape[0]], w
                    y, (gx, gw) = dlfeval(f, dlarray(a), dlarray(b))
                    assert_close(_np(y), plain(a, b), 1e-12, 1e-12)
                    assert_close(_np(gx), numerical_gradient(plain, [a, b], 0), 1e-6, 1e-7)
                    assert_close(_np(gw), numerical_gradient(plain, [a, b], 1), 1e-6, 1e-7)
    finally:
        sct.set_backend("numpy", cost_model=True)


# --- wrong results found ---------------------------------------------------------------------------

def sum_over_axis(x):
    s = np.sum(x, axis=0)
    y = s * 2.0 + np.sum(x ** 2, axis=-1)
    return y, dlgradient(y, x)


def sum_over_axis_twice(x):
    y = np.sum(np.sin(x) * x, axis=0)
    g = dlgradient(y, x, EnableHigherDerivatives=True)
    s = np.sum(g ** 2, axis=-1)
    return s, dlgradient(s, x)


def test_sum_of_a_0d_array_over_axis_0_differentiates():
    """numpy sums a 0-d array over axis 0 (or -1) to itself; the adjoint expanded the gradient
    to 1-d and failed to broadcast it back ('cannot broadcast a non-scalar to a scalar array')."""
    x = np.array(0.4)
    y, g = dlfeval(sum_over_axis, dlarray(x))
    plain = lambda z: np.sum(z, axis=0) * 2.0 + np.sum(z ** 2, axis=-1)   # noqa: E731
    assert_close(_np(y), plain(x), 1e-12, 1e-12)
    assert_close(_np(g), _fd(plain, x), 1e-6, 1e-7)
    s, h = dlfeval(sum_over_axis_twice, dlarray(x))
    second = lambda z: (np.sin(z) + z * np.cos(z)) ** 2                 # noqa: E731
    assert_close(_np(s), second(x), 1e-12, 1e-12)
    assert_close(_np(h), _fd(second, x), 1e-5, 1e-6)
    for x in (np.array([0.4]), X3):                  # the same code for 1-d: unchanged
        y, g = dlfeval(sum_over_axis, dlarray(x))
        assert_close(_np(g), _fd(plain, x), 1e-6, 1e-7)


def _gradient_of(y, x):
    return dlgradient(y, x)


def gradient_taken_in_a_helper(x):
    y = np.sum(x ** 2)
    return y, _gradient_of(y, x)


def _partial_in_a_helper(x, z):
    y = np.sum(x * z)
    return dlgradient(y, x)


def helper_given_a_value_computed_from_x(x):
    return _partial_in_a_helper(x, x ** 2)


def gradient_taken_in_a_nested_function(x):
    def inner(y):
        return y, dlgradient(y, x)
    return inner(np.sum(x ** 2))


def gradient_taken_in_a_lambda(x):
    y = np.sum(x ** 2)
    grad = lambda: dlgradient(y, x)     # noqa: E731
    return grad()


def test_a_helper_taking_the_gradient_of_a_y_its_caller_computed_is_refused():
    """A helper's dlgradient differentiated the helper's own code: y computed by the caller from x
    gave a zero gradient where MATLAB's trace gives 2x.  A nested function or lambda doing so is
    refused at its dlgradient; a helper of the same file is read in place (sct/inline_helpers.py)
    and gives MATLAB's 2x."""
    for fun in (gradient_taken_in_a_nested_function, gradient_taken_in_a_lambda):
        with pytest.raises(sct.CompileError) as info:
            dlfeval(fun, dlarray(X3))
        assert info.value.filename == __file__ and info.value.lineno is not None
        assert "is not computed in" in str(info.value) and "zero gradient" in str(info.value)
    y, g = dlfeval(gradient_taken_in_a_helper, dlarray(X3))
    assert_close(_np(g), 2 * X3, 1e-12, 1e-12)


def _tanh_model(p, x):
    return np.sum(np.tanh(x * p["w"]) * p["b"])


def _residual(p, x):
    u = _tanh_model(p, x)
    return dlgradient(u, x, EnableHigherDerivatives=True)


def pinn_like(p, x):
    ux = _residual(p, x)
    loss = np.sum(ux ** 2)
    return loss, dlgradient(loss, p)


def _own_gradient(z):
    y = np.sum(z ** 3)
    return dlgradient(y, z)


def nested_own_gradient(x, w):
    def inner(z):
        y = np.sum(z ** 3 * w)
        return dlgradient(y, z)
    return _own_gradient(x) + inner(x)


def test_helpers_taking_gradients_of_what_they_compute_are_not_refused():
    p = {"w": np.array([0.5, 1.0, 2.0]), "b": np.array([1.0, -0.5, 0.3])}
    loss, g = dlfeval(pinn_like, {k: dlarray(v) for k, v in p.items()}, dlarray(X3))

    def plain(w, b):
        ux = (1 - np.tanh(X3 * w) ** 2) * w * b
        return np.sum(ux ** 2)
    assert_close(_np(loss), plain(p["w"], p["b"]), 1e-12, 1e-12)
    assert_close(_np(g["w"]), numerical_gradient(plain, [p["w"], p["b"]], 0), 1e-6, 1e-7)
    assert_close(_np(g["b"]), numerical_gradient(plain, [p["w"], p["b"]], 1), 1e-6, 1e-7)
    w = np.array([2.0, 1.0, -1.0])
    out = dlfeval(nested_own_gradient, dlarray(X3), dlarray(w))
    assert_close(_np(out), 3 * X3 ** 2 + 3 * X3 ** 2 * w, 1e-12, 1e-12)


def test_a_helper_whose_other_argument_depends_on_x():
    """h(x, z) takes dlgradient(sum(x * z), x): called as h(x, x ** 2) sct gave x ** 2 (z held
    constant), MATLAB's trace 3 x ** 2.  A helper of the same file taking gradients is read in place
    now (sct/inline_helpers.py): MATLAB's value; one chosen at run time is refused (below)."""
    g = dlfeval(helper_given_a_value_computed_from_x, dlarray(X3))
    assert_close(_np(g), 3 * X3 ** 2, 1e-12, 1e-12)
    g = dlfeval(helper_given_an_independent_value, dlarray(X3), dlarray(X3 ** 2))
    assert_close(_np(g), X3 ** 2, 1e-12, 1e-12)


PARTIALS = {"h": _partial_in_a_helper}


def helper_chosen_at_run_time(x):
    return PARTIALS["h"](x, x ** 2)


def helper_given_an_independent_value(x, z):
    return _partial_in_a_helper(x, z)


def test_a_helper_chosen_at_run_time_whose_other_argument_depends_on_x_is_refused():
    """As above, for a helper found when the call runs (from a dict): the caller's compile keeps
    the call's links on its site, checked when the helper is compiled."""
    with pytest.raises(sct.CompileError) as info:
        dlfeval(helper_chosen_at_run_time, dlarray(X3))
    assert info.value.filename == __file__
    assert info.value.lineno == helper_chosen_at_run_time.__code__.co_firstlineno + 1
    assert "'z'" in str(info.value) and "computed from" in str(info.value)
    g = dlfeval(helper_chosen_at_run_time_independent, dlarray(X3), dlarray(X3 ** 2))
    assert_close(_np(g), X3 ** 2, 1e-12, 1e-12)


def helper_chosen_at_run_time_independent(x, z):
    return PARTIALS["h"](x, z)
