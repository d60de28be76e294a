"""Findings of the third random-program tester (tests/fuzz3, scripts/fuzz3.py), one test each.

Values against plain Python, gradients through tests/gradcheck.py (central differences)."""
import math

import numpy as np
import pytest

from gradcheck import assert_close, numerical_gradient
from sct import CompileError, EvaluationError, dlarray, dlfeval, dlgradient


# -- a helper that counts with `steps += 1` or writes into an array it made itself changes nothing
#    its caller sees: sct called it like any helper (it refused: "may change its arguments")

def _settle(z, rate=0.72, limit=8):
    steps = 0
    while abs(z) > 0.03 and steps < limit:
        z = z * rate + 0.05 * math.sin(z)
        steps += 1
    return z + 0.01 * steps


def _counter_in_loop(x, s):
    acc = 0.0
    for _ in range(2):
        acc = acc - _settle(s)          # s: untraced, an argument (the check looked at the callee)
        acc = acc + np.where(x[0] > -0.5, x[0] * x[1], acc)
    return acc


def _recurrence(v, decay=0.6):
    out = np.zeros_like(v)
    out[0] = v[0]
    for i in range(1, len(v)):
        out[i] = out[i - 1] * decay + v[i]
    return out


def _recurrence_in_condition(x, s):
    v = np.tanh(x)
    if np.any(_recurrence(np.ones(3) * s, 0.7) > 5.0):
        v = v * 2.0
    return np.sum(v ** 2) + np.sum(_recurrence(x, decay=0.4) ** 2)


@pytest.mark.parametrize("fun", [_counter_in_loop, _recurrence_in_condition])
def test_helper_writing_only_its_own_objects_is_called(fun):
    def g(x, s):
        y = fun(x, s)
        return y, dlgradient(y, x)
    x = np.array([0.3, -0.2, 0.7])
    y, gx = dlfeval(g, dlarray(x), 0.5)
    np.testing.assert_allclose(np.asarray(y.data), fun(x, 0.5), rtol=1e-12)
    assert_close(np.asarray(gx.data), numerical_gradient(lambda v: fun(v, 0.5), [x], 0), 1e-6, 1e-8,
                 what=fun.__name__)


# ... but a helper that writes into what its caller gave it, through any local name, is still refused

def _adds_through_alias(v):
    out = v
    out += 1.0
    return 0.0


def _writes_through_asarray(v):
    out = np.asarray(v)
    out[0] = 0.0
    return 0.0


def _adds_into_list_item(v):
    out = [v]
    out[0] += 1.0
    return 0.0


@pytest.mark.parametrize("helper", [_adds_through_alias, _writes_through_asarray, _adds_into_list_item])
def test_helper_writing_its_argument_is_still_refused(helper):
    # buf is read by the adjoint of x * buf: a helper changing it in place would change the gradient
    def g(x):
        buf = np.ones(3) * 2.0
        z = np.sum(x * buf)
        t = helper(buf)
        z = z + t + np.sum(buf)
        return z, dlgradient(z, x)
    with pytest.raises(CompileError):
        dlfeval(g, dlarray(np.array([0.3, -0.2, 0.7])))


# -- an array given to a helper that keeps nothing may be written afterwards: sct refused ("y was
#    passed to a function or stored in an object that may keep it") where the helper only reads it

def _first_above(v, thr=0.2):
    for i in range(len(v)):
        if v[i] > thr:
            return v[i] * 2.0 + np.sum(v)
    return np.mean(v) - thr


def _summed(v, scale=2.0):
    parts = []
    for row in np.atleast_2d(v):
        parts.append(np.sum(row) * scale)
    return sum(parts) + len(v) + max(float(v[0]), 0.1)


def _passed_then_item(x):
    y = x * 1.0
    t = _first_above(y)
    y[0] = t
    return np.sum(y ** 2)


def _passed_then_augmented(x):
    y = np.tanh(x)
    t = _summed(y)
    y *= t
    y[1:] += y[:-1]
    return np.sum(y ** 2)


@pytest.mark.parametrize("fun", [_passed_then_item, _passed_then_augmented])
def test_array_given_to_a_helper_that_keeps_nothing_can_be_written(fun):
    def g(x):
        y = fun(x)
        return y, dlgradient(y, x)
    x = np.array([0.3, -0.45, 0.8])
    y, gx = dlfeval(g, dlarray(x))
    np.testing.assert_allclose(np.asarray(y.data), fun(x.copy()), rtol=1e-12)
    assert_close(np.asarray(gx.data), numerical_gradient(lambda v: fun(v.copy()), [x], 0), 1e-6, 1e-8,
                 what=fun.__name__)


_KEPT = []


class _Box:
    pass


def _keep_global(v):
    _KEPT.append(v)
    return 0.0


def _keep_attribute(v, box):
    box.v = v
    return 0.0


def _keep_in_default(v, store={}):   # noqa: B006 (the point: a default that outlives the call)
    store["v"] = v
    return 0.0


def _keep_through_call(v):
    return _keep_global(v) + 1.0


def _keep_in_closure(v):
    return lambda: v


def _kept_global(x):
    y = x * 1.0
    z = _keep_global(y)
    y[0] = 5.0
    return np.sum(_KEPT[-1] * x) + z


def _kept_attribute(x):
    box = _Box()
    y = x * 1.0
    z = _keep_attribute(y, box)
    y[0] = 5.0
    return np.sum(box.v * x) + z


def _kept_in_default(x):
    y = x * 1.0
    z = _keep_in_default(y)
    y[0] = 5.0
    return np.sum(_keep_in_default.__defaults__[0]["v"] * x) + z


def _kept_through_call(x):
    y = x * 1.0
    z = _keep_through_call(y)
    y[0] = 5.0
    return np.sum(_KEPT[-1] * x) + z


def _kept_in_closure(x):
    y = x * 1.0
    get = _keep_in_closure(y)
    y[0] = 5.0
    return np.sum(get() * x)


@pytest.mark.parametrize("fun", [_kept_global, _kept_attribute, _kept_in_default, _kept_through_call,
                                 _kept_in_closure])
def test_array_kept_by_a_helper_is_refused_or_exact(fun):
    """A helper that keeps its argument sees the later write: sct refuses, or gets it right."""
    def g(x):
        y = fun(x)
        return y, dlgradient(y, x)
    x = np.array([0.3, -0.45, 0.8])
    try:
        y, gx = dlfeval(g, dlarray(x))
    except CompileError:
        return
    np.testing.assert_allclose(np.asarray(y.data), fun(x.copy()), rtol=1e-12)
    assert_close(np.asarray(gx.data), numerical_gradient(lambda v: fun(v.copy()), [x], 0), 1e-6, 1e-8,
                 what=fun.__name__)


# -- np.sort(x), np.append(x, v) are numpy functions, not methods changing `np`: with np.linalg.norm
#    (a read of `np`) in the same function, a second derivative refused ("f() changes np")

def _sorted_cubes(x):
    return np.sum(np.sort(x * 2.0) ** 3) + np.linalg.norm(x)


def _appended_cubes(x):
    y = np.append(x, 1.0)
    return np.sum(np.sort(y) ** 3) * np.pi + np.linalg.norm(x, 1)


def _gradient(fun, x):
    def g(x):
        y = fun(x)
        return dlgradient(y, x)
    return np.asarray(dlfeval(g, dlarray(x)).data)


@pytest.mark.parametrize("fun", [_sorted_cubes, _appended_cubes])
def test_second_derivative_through_numpy_functions_named_like_list_methods(fun):
    def g2(x, w):
        y = fun(x)
        gx = dlgradient(y, x, EnableHigherDerivatives=True)
        z = np.sum(gx * w)
        return z, dlgradient(z, x)
    x, w = np.array([0.3, -0.45, 0.8]), np.array([0.7, -0.2, 0.5])
    z, h = dlfeval(g2, dlarray(x), w)
    gx = _gradient(fun, x)
    assert_close(gx, numerical_gradient(fun, [x], 0), 1e-6, 1e-8, what="first order")
    np.testing.assert_allclose(np.asarray(z.data), np.sum(gx * w), rtol=1e-12)
    expected = numerical_gradient(lambda v: float(np.sum(_gradient(fun, v) * w)), [x], 0)
    assert_close(np.asarray(h.data), expected, 1e-5, 1e-7, what="second order")


_STACK = [1.0, 3.0, 2.0]


def _sorts_a_global(x):
    _STACK.sort()
    return np.sum(x ** 3) * _STACK[0]


def test_second_derivative_of_a_method_changing_a_global_is_still_refused():
    def g2(x, w):
        y = _sorts_a_global(x)
        gx = dlgradient(y, x, EnableHigherDerivatives=True)
        z = np.sum(gx * w)
        return z, dlgradient(z, x)
    with pytest.raises(EvaluationError, match="changes _STACK"):
        dlfeval(g2, dlarray(np.array([0.3, -0.45, 0.8])), np.ones(3))


# -- fuzz3 program 40005: a constant helper call's result is logged for replay (runtime/effects.user_call)
#    so that recomputation does not run the user's code twice; the log kept the array itself, and the
#    program's in-place write into it then showed in the replay (the write applied twice: jvp -2.35 for
#    Python's -0.85; a second-order dlfeval gave a gradient twice the right one).  The log keeps a copy.

def _centred(u, w):
    return u - np.mean(w)


_REST = (np.array([[-0.17, 0.47, -0.41], [1.11, -0.87, 0.01], [1.19, -0.68, 1.07]]), 0.798)


def _writes_into_helper_result(x, M, s):
    row = M[2]
    v = _centred(row, row)
    v[...] -= 0.5
    return np.sum(v) + np.sum(x)


def _through_star_args(x):
    return _writes_into_helper_result(x, *_REST)



def test_jvp_value_with_star_args_and_write_into_helper_result():
    from sct import jvp
    x = np.array([0.3, -0.45, 0.8])
    y, jv = jvp(_through_star_args, x, np.ones(3))
    np.testing.assert_allclose(np.asarray(getattr(y, "data", y)), _through_star_args(x.copy()), rtol=1e-12)


_M = np.array([[-0.17, 0.47, -0.41], [1.11, -0.87, 0.01], [1.19, -0.68, 1.07]])


def _second_order_after_write_into_helper_result(x):
    v = _centred(_M[2], _M[2])
    v[...] -= 0.5
    y = np.sum(v) * np.sum(x ** 2)
    g = dlgradient(y, x, EnableHigherDerivatives=True)
    return y, g, dlgradient(np.sum(g), x)


def test_second_order_after_write_into_helper_result_is_the_program_s():
    x = np.array([0.3, -0.45, 0.8])
    y, g, h = dlfeval(_second_order_after_write_into_helper_result, dlarray(x))
    k = np.sum(_M[2] - np.mean(_M[2]) - 0.5)          # -1.5
    np.testing.assert_allclose(float(y), k * np.sum(x ** 2), rtol=1e-12)
    np.testing.assert_allclose(np.asarray(g.data), 2 * k * x, rtol=1e-12)          # was 4 k x
    np.testing.assert_allclose(np.asarray(h.data), np.full(3, 2 * k), rtol=1e-12)  # was 4 k
