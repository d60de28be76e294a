"""Issue 8 item 2 (per-call latency, third pass): what a dlfeval / accelerated-function hit still
did per call beyond the generated code, and what replaced it.

- Warnings: the hook on ``warnings._showwarnmsg`` warns a warning of generated code again at the
  user's line at once (sct.api._install_warning_hook); a run keeps no list of its warnings.
- The effects log (depth, log, cursors): kept by the entry's call only where the generated code
  can reach it (sct.api._uses_effects, decided once per entry); run_generated always keeps it.
- dlfeval tries the site of its last hit before the dict of sites; the call unpacks the
  arguments and the outputs at once; an AcceleratedFunction keeps no fast entries unless enabled
  with CheckMode "none" (so a hit tests neither).

Checked: outputs are dlarrays of the right dtype, shape and format on first calls and hits alike;
a change of kind misses and recompiles; an error inside the user's code leaves the effects state
clean and the next call right; warnings name the user's line; the structure of the calls (which
steps they hold); values and gradients against plain numpy and central differences."""
import sys
import threading
import time
import warnings

import numpy as np
import pytest

import sct
from sct import EvaluationError, accelerate, dlarray, dlfeval, dlgradient, extractdata
from sct import api
from sct.api import MISS, _ENTRY_SITES
from sct.runtime.effects import state as effects_state

from gradcheck import assert_close, check_grads, numerical_gradient

HERE = sys.modules[__name__]


def data(v):
    return np.asarray(extractdata(v))


def clean_effects():
    s = effects_state()
    return s.depth == 0 and not s.log and not s.cursors


def site_call(fun):
    site = _ENTRY_SITES[id(fun.__code__)]
    assert site[0] is fun.__code__
    return site[1][0]


# --- user code -------------------------------------------------------------------------------------

def rosen(x):
    y = 100*(x[1] - x[0]**2)**2 + (1 - x[0])**2
    return y, dlgradient(y, x)


def rosen_value(x):
    return 100*(x[1] - x[0]**2)**2 + (1 - x[0])**2


def rosen_grad(x):
    a = x[1] - x[0]**2
    return np.array([-400*a*x[0] - 2*(1 - x[0]), 200*a])


def squares(x):
    y = np.sum(x ** 2)
    return y, dlgradient(y, x)


def logged(x):
    y = np.sum(np.log(x))
    return y, dlgradient(y, x)


def log_helper(v):
    return np.log(v)


def logged_through_helper(x):
    y = np.sum(log_helper(x) * 2.0)
    return y, dlgradient(y, x)


RNG = np.random.default_rng(0)


def noisy(x, i):
    n = RNG.standard_normal(x.shape)
    y = np.sum((x + n) ** 2) + x[i]
    return y, dlgradient(y, x)


def indexed(x, i):
    y = np.sum(x[i] ** 2)
    return y, dlgradient(y, x)


def noisy_second(x, i):
    n = RNG.standard_normal(x.shape)
    y = np.sum((x + n) ** 3)
    g = dlgradient(y, x, EnableHigherDerivatives=True)
    z = np.sum(g ** 2) + g[i]
    return z, dlgradient(z, x)


def varying(x):
    y = np.sum(x ** 2)
    g = dlgradient(y, x)
    if y > 10.0:
        return y, g, g * 2.0
    return y, g


def cubic(x):
    y = np.sum(x ** 3)
    return y, dlgradient(y, x)


# --- outputs: dlarrays of the right dtype, shape and format, on first calls and hits --------------

@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_outputs_are_fresh_dlarrays_of_the_inputs_dtype(dtype):
    sct.clear_cache()
    point = np.array([-1.2, 1.0], dtype)
    seen = []
    for _ in range(4):                                  # the first call, then hits
        x = dlarray(point.copy())
        y, g = dlfeval(rosen, x)
        assert type(y) is dlarray and type(g) is dlarray
        assert type(y._data) is np.ndarray and y._data.shape == () and y._data.dtype == dtype
        assert type(g._data) is np.ndarray and g._data.shape == (2,) and g._data.dtype == dtype
        assert y._fmt == "" and g._fmt == ""
        assert g._data.flags.writeable and y._data.flags.writeable
        assert_close(data(y), rosen_value(point.astype(np.float64)), rtol=1e-5)
        assert_close(data(g), rosen_grad(point.astype(np.float64)), rtol=1e-5)
        assert g._data is not x._data
        seen.append(g._data)
    assert len({id(a) for a in seen}) == len(seen)      # a new gradient array per call
    check_grads(rosen_value, np.array([-1.2, 1.0]))


def test_formatted_inputs_keep_their_format_on_hits():
    x = dlarray(np.arange(6.0, dtype=np.float32).reshape(3, 2) + 1.0, "CB")
    results = [dlfeval(squares, x) for _ in range(3)]
    for y, g in results:
        assert g._fmt == "CB" and y._fmt == ""
        assert g._data.dtype == np.float32 and y._data.dtype == np.float32
        assert_close(data(g), 2 * data(x))
    assert not results[1][1]._data is results[2][1]._data


def test_an_output_laid_out_otherwise_is_wrapped_in_full():
    small, large = np.array([1.0, 2.0]), np.array([3.0, 4.0])
    for point in (small, small, large, large, small):
        out = dlfeval(varying, dlarray(point))
        expected = 3 if np.sum(point ** 2) > 10 else 2
        assert type(out) is tuple and len(out) == expected
        assert all(type(o) is dlarray for o in out)
        assert_close(data(out[1]), 2 * point)
        if expected == 3:
            assert_close(data(out[2]), 4 * point)
            assert out[1]._data is not out[2]._data


def test_the_returned_sum_gradient_is_an_array_of_its_own():
    x = dlarray(np.array([1.0, 2.0, 3.0]))

    def total(x):
        y = np.sum(x)
        return y, dlgradient(y, x)
    outs = [dlfeval(total, x) for _ in range(3)]
    for y, g in outs:
        assert g._data.flags.writeable
        g._data[0] = 99.0                     # changing one result changes no other
    assert [float(data(g)[1]) for _, g in outs] == [1.0, 1.0, 1.0]


# --- kinds: a change misses and recompiles ---------------------------------------------------------

def test_a_change_of_kind_misses_and_recompiles():
    sct.clear_cache()
    x64 = dlarray(np.array([0.5, 1.5]))
    dlfeval(cubic, x64)
    call = site_call(cubic)
    assert call(cubic, (x64,)) is not MISS
    for other in (dlarray(np.array([0.5, 1.5], np.float32)),     # dtype
                  dlarray(np.array([[0.5, 1.5]])),                # rank
                  dlarray(np.array([0.5, 1.5]), "CB")):           # format
        assert call(cubic, (other,)) is MISS
        y, g = dlfeval(cubic, other)
        assert g._data.dtype == other._data.dtype and g._fmt == other._fmt
        assert_close(data(g), 3 * data(other).astype(np.float64) ** 2, rtol=1e-5)
    assert call(cubic, (np.array([0.5, 1.5]),)) is MISS           # not a dlarray
    assert call(cubic, (x64, x64)) is MISS and call(cubic, ()) is MISS
    assert call(squares, (x64,)) is MISS                  # another function's code
    assert len(_ENTRY_SITES[id(cubic.__code__)][1]) >= 4


def test_the_last_site_follows_the_function_called():
    a, b = dlarray(np.array([0.3, -0.2])), dlarray(np.array([1.0, 2.0, 3.0]))
    for _ in range(3):                        # alternating functions and kinds
        assert_close(data(dlfeval(rosen, a)[1]), rosen_grad(np.array([0.3, -0.2])))
        assert_close(data(dlfeval(cubic, b)[1]), 3 * np.array([1.0, 2.0, 3.0]) ** 2)
        assert_close(data(dlfeval(cubic, a)[1]), 3 * np.array([0.3, -0.2]) ** 2)
    sct.clear_cache()
    assert api._LAST_SITE is api._NO_SITE
    assert_close(data(dlfeval(cubic, b)[1]), 3 * np.array([1.0, 2.0, 3.0]) ** 2)


def test_a_function_given_new_code_is_recompiled():
    def f(x):
        y = np.sum(x ** 2)
        return y, dlgradient(y, x)

    def h(x):
        y = np.sum(x ** 3)
        return y, dlgradient(y, x)
    x = dlarray(np.array([1.0, 2.0]))
    assert_close(data(dlfeval(f, x)[1]), [2.0, 4.0])
    assert_close(data(dlfeval(f, x)[1]), [2.0, 4.0])
    f.__code__ = h.__code__
    assert_close(data(dlfeval(f, x)[1]), [3.0, 12.0])
    assert_close(data(dlfeval(f, x)[1]), [3.0, 12.0])


# --- errors: the effects state is clean after them, and the next call is right -----------------------

def test_an_error_in_code_with_effects_leaves_the_log_clean():
    global RNG
    x = np.array([1.0, 2.0])
    assert "e.depth" in (dlfeval(noisy, dlarray(x), 0) and site_call(noisy).source)
    for i in (1, 5, 0, 7, 1):
        RNG = np.random.default_rng(i)
        expected_noise = np.random.default_rng(i).standard_normal(2)
        if i >= 2:
            with pytest.raises(EvaluationError) as info:
                dlfeval(noisy, dlarray(x), i)
            assert info.value.filename == __file__
            assert info.value.lineno == noisy.__code__.co_firstlineno + 2
        else:
            y, g = dlfeval(noisy, dlarray(x), i)
            one_hot = np.eye(2)[i]
            assert_close(data(y), np.sum((x + expected_noise) ** 2) + x[i])
            assert_close(data(g), 2 * (x + expected_noise) + one_hot)
        assert clean_effects()


def test_an_error_in_a_second_derivative_with_effects_leaves_the_log_clean():
    global RNG
    x = np.array([0.5, -1.0])
    for i in (0, 9, 1, 9, 0):
        RNG = np.random.default_rng(3)
        n = np.random.default_rng(3).standard_normal(2)
        if i == 9:
            with pytest.raises(EvaluationError):
                dlfeval(noisy_second, dlarray(x), i)
        else:
            z, g = dlfeval(noisy_second, dlarray(x), i)
            first = 3 * (x + n) ** 2
            assert_close(data(z), np.sum(first ** 2) + first[i])
            # d/dx [sum(9 (x+n)^4) + 3 (x_i+n_i)^2] = 36 (x+n)^3 + 6 (x_i+n_i) e_i
            assert_close(data(g), 36 * (x + n) ** 3 + 6 * (x + n) * np.eye(2)[i])
        assert clean_effects()


def test_an_error_in_code_without_effects_is_located_and_the_entry_still_works():
    x = dlarray(np.array([1.0, 2.0]))
    dlfeval(indexed, x, 1)
    assert "e.depth" not in site_call(indexed).source
    for i, ok in ((1, True), (4, False), (0, True), (-9, False), (1, True)):
        if ok:
            assert_close(data(dlfeval(indexed, x, i)[1]), 2 * np.array([1.0, 2.0]) * np.eye(2)[i])
        else:
            with pytest.raises(EvaluationError) as info:
                dlfeval(indexed, x, i)
            assert info.value.filename == __file__ and info.value.lineno == indexed.__code__.co_firstlineno + 1
        assert clean_effects()


def test_a_run_without_effects_inside_a_run_with_effects_keeps_the_outer_log():
    global RNG
    acc = accelerate(rosen)
    point = np.array([0.2, 0.7])
    acc(dlarray(point))

    def outer(x):
        n = RNG.standard_normal(x.shape)
        y = np.sum((x + n) ** 2)
        g = dlgradient(y, x, EnableHigherDerivatives=True)
        z = np.sum(g ** 2)
        return z, dlgradient(z, x)
    RNG = np.random.default_rng(11)
    n = np.random.default_rng(11).standard_normal(2)
    z, g = dlfeval(outer, dlarray(point))
    assert_close(data(z), np.sum((2 * (point + n)) ** 2))
    assert_close(data(g), 8 * (point + n))
    assert clean_effects()
    assert_close(data(acc(dlarray(point))[1]), rosen_grad(point))
    assert clean_effects()


# --- warnings: at the user's line ------------------------------------------------------------------

def test_warnings_of_hits_name_the_users_line():
    bad = dlarray(np.array([-1.0, 2.0]))
    for _ in range(3):
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            y, g = dlfeval(logged, bad)
        assert np.isnan(data(y))
        assert caught and all(w.filename == __file__ for w in caught), [(w.filename, w.lineno) for w in caught]
        assert {w.lineno for w in caught} == {logged.__code__.co_firstlineno + 1}


def test_warnings_of_a_helper_name_the_helpers_line():
    bad = dlarray(np.array([-1.0, 2.0]))
    for _ in range(3):
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            dlfeval(logged_through_helper, bad)
        assert caught and all(w.filename == __file__ for w in caught), [(w.filename, w.lineno) for w in caught]
        assert log_helper.__code__.co_firstlineno + 1 in {w.lineno for w in caught}


def test_warnings_are_shown_once_per_line_under_the_default_filter():
    bad = dlarray(np.array([-1.0, 2.0]))
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("default")
        for _ in range(4):
            dlfeval(logged, bad)
    lines = [(w.filename, w.lineno) for w in caught]
    assert lines and len(lines) == len(set(lines)), lines
    assert all(f == __file__ for f, _ in lines)


def test_warnings_raised_as_errors_name_the_users_line():
    bad = dlarray(np.array([-1.0, 2.0]))
    dlfeval(logged, dlarray(np.array([1.0, 2.0])))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with np.errstate(all="warn"), pytest.raises(EvaluationError) as info:
            dlfeval(logged, bad)
    assert info.value.filename == __file__ and info.value.lineno == logged.__code__.co_firstlineno + 1
    assert clean_effects()


def test_warnings_of_other_code_pass_through_unchanged():
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        warnings.warn("plain", UserWarning)
        np.log(np.array([-1.0]))
    assert [w.filename for w in caught] == [__file__, __file__]
    assert "plain" in str(caught[0].message)


def test_warnings_of_a_thread_name_the_users_line():
    bad = dlarray(np.array([-1.0, 2.0]))
    dlfeval(logged, bad)
    found = []

    def work():
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            dlfeval(logged, bad)
        found.extend((w.filename, w.lineno) for w in caught)
    t = threading.Thread(target=work)
    t.start()
    t.join()
    assert found and all(f == __file__ for f, _ in found), found


# --- structure: the steps the calls hold -----------------------------------------------------------

def test_a_call_without_effects_keeps_no_log_and_no_warning_list():
    x = dlarray(np.array([-1.0, 2.0]))
    dlfeval(rosen, x)
    text = site_call(rosen).source
    for removed in ("e.depth", "caught", "WARN(", "HOOK[0]", "len(args)", "len(o)"):
        assert removed not in text, removed
    assert "except Exception as exc" in text and "AT(exc, ENTRY)" in text     # errors still located
    assert "W._showwarnmsg is not HOOK" in text and "SLOW(ENTRY" in text      # the hook still checked
    assert "ASARRAY(v0)" in text and "flags.writeable" in text               # outputs still wrapped
    assert not api._uses_effects(site_call(rosen).compiled)


def test_a_call_with_effects_or_calls_left_to_run_time_keeps_the_log():
    x = dlarray(np.array([1.0, 2.0]))
    dlfeval(noisy, x, 0)
    assert api._uses_effects(site_call(noisy).compiled)
    text = site_call(noisy).source
    assert "e.depth = depth + 1" in text and "e.log.clear()" in text and "e.cursors.clear()" in text


def test_the_runtime_functions_that_reach_the_log_are_found():
    from sct.runtime import effects, support, scalar_ops, numpy_ops
    for f in (effects.effect, effects.user_call, effects.maybe_effect, effects.replay_from,
              effects.replay_end, effects.effect_position, effects.recompute_guard, effects.shuffled,
              effects.held, support.vjp_at, support.primal_call_at, support.vjp, support.jvp_call):
        assert api._reaches_log([f]), f
    for f in (scalar_ops.scalar_elements, scalar_ops.scalar_elements_gradient, scalar_ops.scalar_seed,
              support.unbroadcast):
        assert not api._reaches_log([f]), f


def test_opaque_code_keeps_the_log():
    class Opaque:
        opaque = True
    assert api._uses_effects(Opaque())


def test_run_generated_and_the_call_keep_the_same_steps():
    import inspect
    run = inspect.getsource(api.run_generated)
    for step in ("depth = effects.depth", "effects.depth = depth + 1", "effects.log.clear()",
                 "effects.cursors.clear()", "_at_user_line(exc, function)"):
        assert step in run
    assert "caught" not in run


def test_accelerated_hits_honour_enabled_and_check_mode():
    acc = accelerate(cubic)
    x = dlarray(np.array([1.0, -2.0]))
    for _ in range(3):
        assert_close(data(acc(x)[1]), [3.0, 12.0])
    assert acc._fast and acc.hit_rate > 0.3
    acc.enabled = False
    assert acc._fast == () and acc.enabled is False
    for _ in range(2):
        assert_close(data(acc(x)[1]), [3.0, 12.0])
    assert acc._fast == ()
    acc.enabled = True
    for _ in range(3):
        assert_close(data(acc(x)[1]), [3.0, 12.0])
    assert acc._fast
    acc.CheckMode = "tolerance"
    assert acc._fast == ()
    for _ in range(2):
        assert_close(data(acc(x)[1]), [3.0, 12.0])
    assert acc._fast == ()                    # every call runs the fresh code too
    acc.CheckMode = "none"
    hits = acc._hits
    for _ in range(3):
        acc(x)
    assert acc._fast and acc._hits >= hits + 2


def test_hits_do_not_cost_much_more_cpu_time_than_the_generated_code():
    """Generous: the boundary of a hit (checks, run, wrapping) under 10 us of CPU time."""
    x = dlarray(np.array([-1.2, 1.0]))
    dlfeval(rosen, x)
    entry = site_call(rosen).compiled.entry
    raw = x._data
    clock = time.thread_time

    def per_call(fn, n=2000):
        t0 = clock()
        for _ in range(n):
            fn()
        return (clock() - t0) / n
    hit, direct = [], []
    for _ in range(7):
        hit.append(per_call(lambda: dlfeval(rosen, x)))
        direct.append(per_call(lambda: entry(raw)))
    assert sorted(hit)[3] - sorted(direct)[3] < 10e-6
