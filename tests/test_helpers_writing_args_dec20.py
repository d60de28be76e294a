"""A helper of the file that writes into what a parameter holds (``traj[k] = v``, ``acc.append(v)``,
``st.w = v``, ``buf[i] += v``) is read in place (sct/inline_helpers.py ``_writes_into_parameters``): its
parameters read the caller's arguments, so its writes are the caller's own writes into its own arrays,
lists and objects, which sct follows (was: refused, "the caller's object would change too", the most
common refusal of preallocating programs).  Only where every written parameter is given a name the
caller binds itself: a call writing into the caller's argument, a global or a closure value stays a
call (refused at the helper's line where the write is of a traced value; run once where a second
derivative recomputes it, tests/test_redteam_dec8r.py, test_redteam_dec9b.py)."""
from __future__ import annotations

import numpy as np
import pytest

import sct
from gradcheck import check_grads
from sct import dlarray, dlfeval, dlgradient


def step(traj, k, s):
    traj[k] = s * 2.0
    return s * 0.9 + 0.05


def cost(traj):
    return np.mean(np.cos(traj))


def trajectory(x):
    s = x * 1.0
    A = np.zeros((5, 3))
    for i in range(5):
        s = step(A, i, s)
    return cost(A) + np.sum(s)


def fill(out, rows):
    for i, r in enumerate(rows):
        out[i] = r * (i + 1)


def filled(x):
    B = np.empty((2, 3))
    fill(B, [x, np.sin(x)])
    return np.sum(B ** 2)


def push(acc, v):
    acc.append(v * 2)


def pushed(x):
    acc = []
    for k in range(3):
        push(acc, x * k)
    return np.sum(np.stack(acc) ** 2)


class State:
    pass


def setw(st, v):
    st.w = v * 3


def attribute_set(x):
    st = State()
    setw(st, x)
    return np.sum(st.w ** 2)


def accum(buf, i, v):
    buf[i] += v


def accumulated(x):
    buf = np.zeros(3)
    for i in range(3):
        accum(buf, i, x[i] ** 2)
        accum(buf, 0, x[i])
    return np.sum(buf * np.arange(1, 4))


def through_alias(x):
    A = np.zeros((3, 3))
    B = A
    step(B, 1, x)
    return np.sum(A * A) + np.sum(B)


def into_a_view(x):
    A = np.zeros((3, 3))
    step(A[1:], 0, x)
    return np.sum(A ** 2)


def nested_helpers(x):
    A = np.zeros((4, 3))
    _fill_two(A, x)
    return np.sum(np.tanh(A))


def _fill_two(out, v):
    step(out, 0, v)
    step(out, 3, np.cos(v))


CASES = [trajectory, filled, pushed, attribute_set, accumulated, through_alias, into_a_view, nested_helpers]


@pytest.mark.parametrize("case", CASES, ids=lambda f: f.__name__)
def test_helper_writes_into_the_callers_arrays(case):
    check_grads(case, np.array([0.3, -0.7, 1.1]))


def test_helper_writes_second_order_and_jvp():
    x, v = np.array([0.3, -0.7, 1.1]), np.array([1.0, 0.5, -0.25])
    from gradcheck import D, numerical_gradient
    for case in (trajectory, accumulated):
        _, jv = sct.jvp(case, (x,), (v,))
        assert float(np.asarray(jv)) == pytest.approx(numerical_gradient(case, [x], 0) @ v, rel=1e-6, abs=1e-8)
        eps = 1e-4
        want = (numerical_gradient(case, [x + eps * v], 0) - numerical_gradient(case, [x - eps * v], 0)) / (2 * eps)
        np.testing.assert_allclose(D(sct.hvp(case, x, v)), want, rtol=1e-4, atol=1e-6)


def into_an_argument(x, buf):
    s = x * 1.0
    for i in range(2):
        s = step(buf, i, s)
    y = np.sum(buf ** 2) + np.sum(s)
    return y, dlgradient(y, x)


GLOBAL_BUFFER = np.zeros((2, 3))


def into_a_global(x):
    s = step(GLOBAL_BUFFER, 0, x * 1.0)
    y = np.sum(GLOBAL_BUFFER ** 2) + np.sum(s)
    return y, dlgradient(y, x)


def test_writes_into_outside_objects_stay_refused_at_the_helpers_line():
    import inspect
    line = inspect.getsourcelines(step)[1] + 1
    with pytest.raises(sct.CompileError) as info:
        dlfeval(into_an_argument, dlarray(np.array([0.3, -0.7, 1.1])), np.zeros((2, 3)))
    assert info.value.lineno == line and "traj" in str(info.value)       # (the helper's name for it)
    with pytest.raises(sct.CompileError) as info:
        dlfeval(into_a_global, dlarray(np.array([0.3, -0.7, 1.1])))
    assert info.value.lineno == line and "traj" in str(info.value)
