"""Issue 8 (per-call latency): a dlfeval or accelerated-function hit is one generated call per
compiled entry (``sct.api.make_call``): the checks of the arguments' kinds and of the code's
guards, the unwrapping, the run of the generated code (effects log, warnings and errors at the
user's line) and the wrapping of outputs, inline.  Every kind of change that must not hit misses
(and recompiles or finds the right entry); values and gradients are checked against plain numpy
and central differences (tests/gradcheck.py)."""
import sys
import types
import warnings

import numpy as np
import pytest

import sct
from sct import EvaluationError, accelerate, dlarray, dlfeval, dlgradient, extractdata
from sct.api import MISS, _ENTRY_SITES

from gradcheck import assert_close, check_grads, numerical_gradient

HERE = sys.modules[__name__]


def data(v):
    return np.asarray(extractdata(v))


@pytest.fixture
def compilations(monkeypatch):
    from sct import api, compiler, transform_calls
    sct.clear_cache()
    counts: dict = {}
    original = compiler.compile_function

    def counting(fn, *args, **kwargs):
        counts[fn.__qualname__] = counts.get(fn.__qualname__, 0) + 1
        return original(fn, *args, **kwargs)
    for module in (api, transform_calls, compiler, sys.modules["sct.accelerate"]):
        monkeypatch.setattr(module, "compile_function", counting)
    return counts


# --- user code -------------------------------------------------------------------------------------
WEIGHT = 3.0


class Config:
    power = 2.0


CONFIG = Config()


def rosen(x):
    y = 100*(x[1] - x[0]**2)**2 + (1 - x[0])**2
    return y, dlgradient(y, x)


def rosen_value(x):
    return 100*(x[1] - x[0]**2)**2 + (1 - x[0])**2


def weighted(x):
    y = np.sum(WEIGHT * x ** CONFIG.power)
    return y, dlgradient(y, x)


def two(x, w):
    y = np.sum(np.tanh(x * w)) + np.sum(w ** 2)
    return y, dlgradient(y, x, w)


def two_value(x, w):
    return np.sum(np.tanh(x * w)) + np.sum(w ** 2)


def summed(x):
    y = np.sum(x)
    return y, dlgradient(y, x)        # a broadcast of ones: a read-only view


def logged(x):
    y = np.sum(np.log(x))              # a warning for x <= 0
    return y, dlgradient(y, x)


def with_default(x, scale=2.0):
    y = np.sum(scale * x ** 2)
    return y, dlgradient(y, x)


def params_loss(p, x):
    y = np.sum((x @ p["w"] + p["b"]) ** 2)
    return y, dlgradient(y, p)


def plain_result(x):
    return x * 2.0, 1.5, np.float32(2.0)


def rosen_reference(x):
    a = x[1] - x[0]**2
    return 100*a**2 + (1 - x[0])**2, np.array([-400*a*x[0] - 2*(1 - x[0]), 200*a])


# --- hits: values, gradients and what comes back ----------------------------------------------------

def test_rosenbrock_hits_give_the_values_and_gradients_of_numpy():
    for v in ([-1.0, 2.0], [0.3, -0.7], [1.0, 1.0], [2.5, 6.0]):
        x = np.array(v)
        for _ in range(3):                                     # a miss, then hits
            y, g = dlfeval(rosen, dlarray(x))
            value, grad = rosen_reference(x)
            assert type(y) is dlarray and type(g) is dlarray
            assert data(y).shape == () and data(y).dtype == np.float64
            assert data(y) == value and np.array_equal(data(g), grad)
            assert_close(data(g), numerical_gradient(rosen_value, [x], 0))
    check_grads(rosen_value, np.array([0.3, -0.7]))
    check_grads(two_value, np.array([0.2, -0.4, 1.1]), np.array([0.5, 0.1, -0.3]))


def test_hits_through_the_call_are_one_call_per_entry():
    x = dlarray([0.5, 1.5])
    dlfeval(rosen, x)
    dlfeval(rosen, x)
    site = _ENTRY_SITES[id(rosen.__code__)]
    assert site[0] is rosen.__code__
    call = site[1][0]
    assert "ENTRY" in call.source and "return MISS" in call.source   # (the entry's body written in: sct/entry_inline.py)
    y, g = call(rosen, (x,))
    assert_close(data(g), rosen_reference(np.array([0.5, 1.5]))[1])
    assert call(rosen, (x, x)) is MISS
    assert call(rosen, (np.array([0.5, 1.5]),)) is MISS
    assert call(rosen, (dlarray(np.array([0.5, 1.5], np.float32)),)) is MISS
    assert call(weighted, (x,)) is MISS                       # another function's code


def test_results_are_fresh_writeable_arrays_on_hits():
    for call in (lambda x: dlfeval(summed, x), accelerate(summed)):
        x = dlarray(np.arange(3.0))
        outs = [call(x) for _ in range(3)]
        for y, g in outs:
            assert data(g).flags.writeable and np.array_equal(data(g), np.ones(3))
        outs[1][1].data[0] = 7.0                               # one result changed in place
        assert data(outs[2][1])[0] == 1.0 and data(outs[0][1])[0] == 1.0


def test_dicts_of_parameters_and_other_outputs_on_hits():
    rng = np.random.default_rng(1)
    p = {"w": dlarray(rng.standard_normal((3, 2))), "b": dlarray(rng.standard_normal(2))}
    x = rng.standard_normal((4, 3))
    for _ in range(3):
        y, g = dlfeval(params_loss, p, x)
        assert set(g) == {"w", "b"} and all(type(v) is dlarray for v in g.values())
        r = x @ data(p["w"]) + data(p["b"])
        assert_close(data(y), np.sum(r ** 2))
        assert_close(data(g["w"]), 2 * x.T @ r)
        assert_close(data(g["b"]), 2 * r.sum(axis=0))
    for _ in range(3):                     # outputs that are not (value, gradient): wrapped as before
        a, b, c = dlfeval(plain_result, dlarray([1.0, 2.0]))
        assert np.array_equal(data(a), [2.0, 4.0]) and data(b) == 1.5 and data(b).dtype == np.float64
        assert data(c).dtype == np.float32


# --- every change that must not hit -----------------------------------------------------------------

def test_argument_kinds_miss(compilations):
    x = np.array([0.3, -0.7])
    variants = [dlarray(x), dlarray(x.astype(np.float32)), dlarray(x[None, :]), dlarray(x, "CB"),
                dlarray(x), dlarray(x.astype(np.float32)), dlarray(1.5), dlarray(np.float32(1.5))]
    for v in variants:
        raw = np.asarray(extractdata(v))
        for _ in range(2):
            y, g = dlfeval(weighted, v)
            assert type(g) is dlarray and data(g).dtype == raw.dtype and data(g).shape == raw.shape
            rtol = 1e-6 if raw.dtype == np.float32 else 1e-12
            assert_close(data(y), np.sum(WEIGHT * raw.astype(np.float64) ** 2), rtol=rtol)
            assert_close(data(g), 2 * WEIGHT * raw.astype(np.float64), rtol=rtol)
    assert compilations["weighted"] == 6         # float64/float32 vectors, 2-d, "CB", 0-d float64/float32
    # plain data in place of a dlarray is a constant: never the dlarray's entry
    for v in (x, 1.5, np.float64(1.5), [0.3, -0.7], x.astype(np.float32)):
        with pytest.raises(sct.CompileError):
            dlfeval(weighted, v)
        y, g = dlfeval(weighted, dlarray(x))
        assert_close(data(g), 2 * WEIGHT * x)

    def value_only(x):
        return np.sum(WEIGHT * x ** 2)
    for v in (dlarray(x), x, 1.5, dlarray(1.5), x, dlarray(x)):
        y = dlfeval(value_only, v)
        # (the type plain Python gives: a dlarray of a dlarray, numpy's float64 of plain data, since s55's
        # returned types; was a dlarray for every input)
        assert type(y) is (dlarray if isinstance(v, dlarray) else type(value_only(v)))
        assert_close(data(y), value_only(np.asarray(extractdata(v))))


def test_globals_attributes_defaults_and_code_changes_miss(monkeypatch):
    x = dlarray([1.0, 2.0])
    raw = np.array([1.0, 2.0])
    for weight, power in ((3.0, 2.0), (3.0, 2.0), (5.0, 2.0), (5.0, 3.0), (3.0, 3.0), (3.0, 2.0)):
        monkeypatch.setattr(HERE, "WEIGHT", weight)
        monkeypatch.setattr(Config, "power", power)
        for call in (lambda: dlfeval(weighted, x), lambda: dlfeval(weighted, x)):
            y, g = call()
            assert_close(data(y), np.sum(weight * raw ** power))
            assert_close(data(g), weight * power * raw ** (power - 1))
    # defaults
    for scale in (2.0, 2.0, 4.0, 4.0):
        monkeypatch.setattr(with_default, "__defaults__", (scale,))
        y, g = dlfeval(with_default, x)
        assert_close(data(g), 2 * scale * raw)
    # the code replaced, and the function redefined under the same name
    monkeypatch.setattr(with_default, "__defaults__", (2.0,))
    dlfeval(with_default, x)

    def cubed(x, scale=2.0):
        y = np.sum(scale * x ** 3)
        return y, dlgradient(y, x)
    monkeypatch.setattr(with_default, "__code__", cubed.__code__)
    for _ in range(2):
        y, g = dlfeval(with_default, x)
        assert_close(data(g), 6.0 * raw ** 2)
    for make, k in ((redefined_1, 1.0), (redefined_2, 2.0), (redefined_1, 1.0), (redefined_2, 2.0)):
        f = make()                             # the same name, another def
        for _ in range(2):
            y, g = dlfeval(f, x)
            assert_close(data(g), 2 * k * raw)


def redefined_1():
    def f(x):
        y = np.sum(1.0 * x ** 2)
        return y, dlgradient(y, x)
    return f


def redefined_2():
    def f(x):
        y = np.sum(2.0 * x ** 2)
        return y, dlgradient(y, x)
    return f


def test_closures_and_rebound_module_globals_miss(tmp_path):
    x = dlarray([1.0, -2.0])
    raw = np.array([1.0, -2.0])

    def make(c):
        def f(x):
            y = np.sum(c * x ** 2)
            return y, dlgradient(y, x)
        return f
    for c in (1.0, 2.0, 2.0, -3.0):
        f = make(c)
        for _ in range(2):
            assert_close(data(dlfeval(f, x)[1]), 2 * c * raw)

    path = tmp_path / "percall_user.py"
    path.write_text("import numpy as np\nfrom sct import dlgradient\nK = 1.0\n\n\n"
                    "def g(x):\n    y = np.sum(K * np.sin(x))\n    return y, dlgradient(y, x)\n")
    sys.path.insert(0, str(tmp_path))
    try:
        import percall_user as module
    finally:
        sys.path.remove(str(tmp_path))
    for k in (1.0, 1.0, 3.0, 3.0):
        module.K = k
        assert_close(data(dlfeval(module.g, x)[1]), k * np.cos(raw))
    module.np = types.SimpleNamespace(sum=np.sum, sin=np.cos)          # a global rebound to another object
    for _ in range(2):
        assert_close(data(dlfeval(module.g, x)[1]), -3.0 * np.sin(raw))
    del sys.modules["percall_user"]


def test_keywords_and_argument_counts_miss_or_bind():
    x = np.array([0.5, 1.5])
    w = np.array([1.0, -1.0])
    for call in (lambda: dlfeval(two, dlarray(x), dlarray(w)), lambda: dlfeval(two, dlarray(x), w=dlarray(w)),
                 lambda: dlfeval(two, x=dlarray(x), w=dlarray(w))):
        for _ in range(2):
            y, (gx, gw) = call()
            assert_close(data(y), two_value(x, w))
            assert_close(data(gx), numerical_gradient(two_value, [x, w], 0))
            assert_close(data(gw), numerical_gradient(two_value, [x, w], 1))
    with pytest.raises(Exception):
        dlfeval(two, dlarray(x))


def test_arguments_changed_by_the_first_run_do_not_define_the_hit():
    def grow(p, x):
        y = np.sum(p["w"] * x)
        p["seen"] = 1.0                         # the caller's dict gains a key during the first run
        return y, dlgradient(y, x)
    for _ in range(3):
        p = {"w": np.array([2.0, 3.0])}
        y, g = dlfeval(grow, p, dlarray([1.0, 1.0]))
        assert_close(data(g), [2.0, 3.0]) and p["seen"] == 1.0


# --- the run: warnings, errors, rechecks, formats ----------------------------------------------------

def test_warnings_on_hits_point_at_the_users_line():
    for _ in range(3):
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            y, g = dlfeval(logged, dlarray([-1.0, 2.0]))
        assert np.isnan(data(y))
        assert caught and all(w.filename == __file__ for w in caught), [(w.filename, w.lineno) for w in caught]
        assert any(w.lineno == logged.__code__.co_firstlineno + 1 for w in caught)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        dlfeval(logged, dlarray([1.0, 2.0]))
    assert not caught


def test_errors_on_hits_name_the_users_line():
    def bad(x, i):
        y = np.sum(x[i] ** 2)
        return y, dlgradient(y, x)
    x = dlarray([1.0, 2.0])
    assert_close(data(dlfeval(bad, x, 1)[1]), [0.0, 4.0])
    assert_close(data(dlfeval(bad, x, 1)[1]), [0.0, 4.0])
    with pytest.raises(EvaluationError) as info:
        dlfeval(bad, x, 5)
    assert info.value.filename == __file__ and info.value.lineno == bad.__code__.co_firstlineno + 1
    assert_close(data(dlfeval(bad, x, 0)[1]), [2.0, 0.0])      # the entry still works afterwards


def test_accelerated_hits_miss_as_dlfeval_does(monkeypatch, compilations):
    acc = accelerate(weighted)
    x = dlarray([1.0, 2.0])
    raw = np.array([1.0, 2.0])
    for weight in (3.0, 3.0, 7.0, 7.0):
        monkeypatch.setattr(HERE, "WEIGHT", weight)
        for call in (lambda: acc(x), lambda: dlfeval(acc, x), lambda: acc(x=x)):
            y, g = call()
            assert_close(data(g), 2 * weight * raw)
    y, g = acc(dlarray(raw.astype(np.float32)))
    assert data(g).dtype == np.float32
    assert acc.hit_rate > 0.5


def test_effects_are_logged_per_call_and_the_log_is_cleared():
    from sct.runtime.effects import state
    rng = np.random.default_rng(0)

    def noisy(x):
        n = rng.standard_normal(x.shape)
        y = np.sum((x + n) ** 2)
        return y, dlgradient(y, x)
    x = np.array([1.0, 2.0])
    for _ in range(3):
        y, g = dlfeval(noisy, dlarray(x))
        s = state()
        assert s.depth == 0 and not s.log and not s.cursors and s.caught is None
        assert np.all(np.isfinite(data(g)))


def test_nested_dlfeval_inside_a_hit():
    def inner(x):
        y = np.sum(x ** 3)
        return y, dlgradient(y, x)

    def outer(x):
        y, g = dlfeval(inner, x)
        z = np.sum(g * x)
        return z, dlgradient(z, x)
    x = np.array([1.0, -2.0])
    for _ in range(3):
        z, g = dlfeval(outer, dlarray(x))
        assert_close(data(z), np.sum(3 * x ** 3))
        assert_close(data(g), 9 * x ** 2)


def test_formatted_outputs_on_hits():
    def act(x):
        y = np.tanh(x)
        s = np.sum(y)
        return y, dlgradient(s, x)
    x = dlarray(np.arange(6.0).reshape(2, 3) / 10, "CB")
    for _ in range(3):
        y, g = dlfeval(act, x)
        assert sct.dims(y) == "CB" and sct.dims(g) == "CB"
        assert_close(data(y), np.tanh(data(x)))
        assert_close(data(g), 1 - np.tanh(data(x)) ** 2)


# --- the inline power of the scalar specialisation (sct/scalars.py: _inline_power) ------------------

def powers(x):
    y = x[0] ** 2 + x[1] ** 3 - (x[0] - x[1]) ** 2
    return y, dlgradient(y, x)


def powers_value(x):
    return x[0] ** 2 + x[1] ** 3 - (x[0] - x[1]) ** 2


def test_inline_powers_are_numpys_at_every_magnitude():
    values = [0.3, -0.7, 1e149, -1e149, 1e150, -1e150, 1e99, 1e100, -1e101, 1e200, -1e200, 1e-200,
              np.nan, np.inf, -np.inf, 0.0, -0.0, 5e-324, 1.7976931348623157e308]
    rng = np.random.default_rng(3)
    pairs = [(a, b) for a in values for b in values[::3]] + [tuple(rng.standard_normal(2) * 10 ** k)
                                                             for k in range(-3, 4) for _ in range(5)]
    assert "x0 ** 2" in sct.source(powers, dlarray([1.0, 2.0]))
    for a, b in pairs:
        x = np.array([a, b])
        with warnings.catch_warnings(record=True):
            warnings.simplefilter("always")
            expected = powers_value(x)
            y, g = dlfeval(powers, dlarray(x))
            dx0 = 2 * x[0] - 2 * (x[0] - x[1])
            dx1 = 3 * x[1] ** 2 + 2 * (x[0] - x[1])
        np.testing.assert_array_equal(data(y), expected)
        np.testing.assert_array_equal(data(g), np.array([dx0, dx1]))
    for x in (np.array([0.3, -0.7]), np.array([1.5, 2.0])):
        assert_close(data(dlfeval(powers, dlarray(x))[1]), numerical_gradient(powers_value, [x], 0))
