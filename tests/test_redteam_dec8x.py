"""Red team of the writes followed through a second name, a view or an item (sct/copy_aliases.py,
its newest commits: out= lowered after it, ``t op= v`` of a number), numbers and arrays at run
time, and the cache.

Found: the rank of a module's array (``z = G * x``: z is 1-D where G is, so ``a = z[1]`` is a
number that keeps its value after ``z[1] = v``) was read when the code was compiled and guarded
by G's binding only; ``G.shape = (4, 1)`` changes G's rank in place, the same binding: the old
code was run again, ``a`` kept the old row where Python's ``a`` is a view that follows the write
(23.16 where Python gives 45.0).  Now the rank is guarded too (a change recompiles).
"""
import numpy as np
import pytest

import sct
from gradcheck import assert_close, check_two_inputs, first, numerical_gradient
from sct import dlarray, dlfeval, extractdata


X = np.array([0.3, -0.7, 1.1, 0.5])
T = np.array([0.9, 1.3, -0.4, 0.2])
V = np.array([0.2, -0.5, 0.7, 1.1])

G = np.ones(4)


def module_array_item(x, t):
    z = G * x
    a = z[1]
    z[1] = 5.0 * t[0]
    return np.sum(a * t[1]) + np.sum(z)


def test_module_array_reshaped_in_place_recompiles():
    G.shape = (4,)
    try:
        y, _ = dlfeval(first, module_array_item, dlarray(X), dlarray(T))
        assert_close(extractdata(y), module_array_item(X.copy(), T.copy()), 1e-12, 1e-12, "1-D G")
        G.shape = (4, 1)
        expected = module_array_item(X.copy(), T.copy())          # 45.0: a is a row, a view of z
        assert abs(expected - 45.0) < 1e-9
        try:
            y, _ = dlfeval(first, module_array_item, dlarray(X), dlarray(T))
        except sct.CompileError:
            pass                                                    # refused: fine
        else:
            assert_close(extractdata(y), expected, 1e-12, 1e-12, "2-D G (was 23.16)")
    finally:
        G.shape = (4,)


# --- forward mode: x ** e with e from a piecewise-constant op (np.floor, np.round, np.sign) of a
# traced value, at a negative x: the tangent of e is an array of zeros (the rule's, not the zero
# marker), times the partial x ** e * log(x), NaN at x < 0: sct.jvp gave NaN where reverse mode
# and central differences give 0.8905 (round), 2.685 (floor), 3.46 (sign). ----------------------

def exponent_round(x, t):
    e = np.round(t[0] * 2.0)
    return np.sum(x ** e * t)


def exponent_floor(x, t):
    e = np.floor(t[0]) + 3.0
    return np.sum(x ** e)


def exponent_sign(x, t):
    e = np.sign(t[0]) * 2.0
    return np.sum(x ** e)


def exponent_floor_power(x, t):
    e = np.floor(t * 2.0)
    return np.sum(np.power(x, e) * t)


@pytest.mark.parametrize("case", [exponent_round, exponent_floor, exponent_sign, exponent_floor_power],
                         ids=lambda c: c.__name__)
def test_jvp_of_power_with_a_piecewise_constant_exponent(case):
    with np.errstate(invalid="ignore"):
        for dt in (0.3 * V, 0.0 * V):
            y, jv = sct.jvp(case, (X.copy(), T.copy()), (V, dt))
            fd = (case(X + 1e-6 * V, T + 1e-6 * dt) - case(X - 1e-6 * V, T - 1e-6 * dt)) / 2e-6
            assert_close(np.asarray(y.data), case(X.copy(), T.copy()), 1e-12, 1e-12, "jvp value")
            assert_close(np.asarray(jv.data), fd, 1e-5, 1e-6, "jvp")
        check_two_inputs(case, X.copy(), T.copy())


# --- accepted and exact: aliases with out= / np.copyto / np.add.at (lowered after copy_aliases),
# in loops and branches, and a name that holds a number on some runs and an array on others ------

def out_alias_loop(x, t):
    z = x * t
    c = z
    for i in range(3):
        np.multiply(z, x, out=z)
        c[i] = c[i] + t[i]
    return np.sum(c * x) + np.sum(z)


def out_alias_branch(x, t):
    z = x * t
    c = z
    if t[0] > 0:
        np.sin(z, out=z)
    else:
        np.cos(c, out=c)
    return np.sum(c * x) + np.sum(z * t)


def out_tuple_alias(x, t):
    z = x * t
    c = z
    np.add(z, x, out=(z,))
    return np.sum(c * t)


def copyto_alias_in_branch(x, t):
    z = x * t
    c = z
    if x[0] > 0:
        np.copyto(c, x * 2.0)
    return np.sum(z * t)


def copyto_base_of_view(x, t):
    m = np.outer(x, t)
    w = m[:, 1]
    np.copyto(m, np.outer(t, x))
    return np.sum(w * x)


def add_at_base_of_item(x, t):
    m = np.outer(x, t)
    a = m[2]
    np.add.at(m, ([0, 2, 2], [1, 1, 3]), x[:3])
    return np.sum(a * t)


def number_then_array_in_loop(x, t):
    z = np.sum(x)
    s = 0.0
    for i in range(3):
        c = z
        z *= x                 # a number the first time (c keeps it), then an array (c follows)
        s = s + np.sum(c * t)
    return s + np.sum(z)


def number_or_array_by_branch(x, t):
    z = np.sum(x)
    if t[0] > 0:
        z = x * t
    c = z
    z -= x[1]
    return np.sum(c * t) + np.sum(z * x)


ACCEPTED = [out_alias_loop, out_alias_branch, out_tuple_alias, copyto_alias_in_branch, copyto_base_of_view,
            add_at_base_of_item, number_then_array_in_loop, number_or_array_by_branch]


@pytest.mark.parametrize("case", ACCEPTED, ids=lambda c: c.__name__)
def test_accepted_first_second_order_and_jvp(case):
    check_two_inputs(case, X.copy(), T.copy())
    check_two_inputs(case, -X.copy(), -T.copy(), order=1)
    y, jv = sct.jvp(case, (X.copy(), T.copy()), (V, 0.3 * V))
    fd = (case(X + 1e-6 * V, T + 0.3e-6 * V) - case(X - 1e-6 * V, T - 0.3e-6 * V)) / 2e-6
    assert_close(np.asarray(jv.data), fd, 1e-5, 1e-6, "jvp")
