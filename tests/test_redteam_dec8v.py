"""Red team of the writes followed through a second name or a view (sct/copy_aliases.py).

Found: a generator expression (or map()) bound to a name reads its items when it is walked, so a
change in place made between its binding and its walk shows in Python's items.  sct builds the
items where the generator is made; check_generators_used_once refused such a change only by the
very name the generator reads, and only for ``z[i] = v``, ``z.method()`` and ``z = ...``.  A
change through another name of the object (``c = z``, ``w = z[1:]``) or by ``np.copyto(z, v)``,
``out=z``, ``np.add.at(z, ...)`` gave the old items: a wrong value.  Now refused at its line.

The rest of the programs sct accepts here agree with Python (values) and central differences
(first and second order, tests/gradcheck.check_two_inputs), and sct.jvp / sct.hvp too.
"""
import inspect

import numpy as np
import pytest

import sct
from gradcheck import assert_close, check_two_inputs, numerical_gradient


X = np.array([0.3, -0.7, 1.1, 0.5])
T = np.array([0.9, 1.3, -0.4, 0.2])
V = np.array([0.2, -0.5, 0.7, 1.1])


# --- wrong values before: a generator's items changed in place through another name --------------

def genexp_alias(x, t):
    z = x * t
    c = z
    g = (v * 2.0 for v in c)
    z[0] = x[1] * 5.0          # Python: g yields the new z[0]
    return sum(g) + np.sum(z)


def genexp_view(x, t):
    z = x * t
    w = z[1:]
    g = (v * 2.0 for v in w)
    z[1] = x[1] * 5.0
    return sum(g) + np.sum(z)


def genexp_view_written(x, t):
    z = x * t
    w = z[1:]
    g = (v * 2.0 for v in z)
    w[0] = x[1] * 5.0
    return sum(g) + np.sum(w)


def map_view(x, t):
    z = x * t
    w = z[1:]
    mp = map(np.sin, w)
    z[1] = x[1] * 5.0
    return sum(mp)


def map_alias(x, t):
    z = x * t
    c = z
    mp = map(np.sin, c)
    z[0] = x[1] * 5.0
    return sum(mp)


def genexp_alias_augmented(x, t):
    z = x * t
    c = z
    g = (v * 2.0 for v in c)
    z += x
    return sum(g) + np.sum(z)


def genexp_copyto(x, t):
    z = x * t
    g = (v * 2.0 for v in z)
    np.copyto(z, x * x)
    return sum(g)


def genexp_out(x, t):
    z = x * t
    g = (v * 2.0 for v in z)
    np.multiply(z, x, out=z)
    return sum(g)


REFUSED = {
    "genexp_alias": "z[...]", "genexp_view": "z[...]", "genexp_view_written": "w[...]",
    "map_view": "z[...]", "map_alias": "z[...]", "genexp_alias_augmented": "z +=",
    "genexp_copyto": "copyto", "genexp_out": "multiply",
}
# sct's value before the fix and Python's, at (X, T)
WAS = {"genexp_alias": (-6.71, -14.25), "genexp_view": (-6.07, -11.25), "genexp_view_written": (-5.8, -10.98),
       "map_view": (-1.11561, 0.024677), "map_alias": (-0.848878, -0.764827),
       "genexp_alias_augmented": (-1.74, 0.66), "genexp_copyto": (-1.96, 4.08), "genexp_out": (-1.96, 0.568)}


@pytest.mark.parametrize("name", sorted(REFUSED))
def test_generator_changed_through_another_name_is_refused(name):
    f = globals()[name]
    assert abs(f(X.copy(), T.copy()) - WAS[name][1]) < 1e-5      # Python's value
    with pytest.raises(sct.CompileError) as info:
        check_two_inputs(f, X.copy(), T.copy(), order=1)
    err = info.value
    assert "a change to what a generator reads" in str(err), str(err)
    lines, start = inspect.getsourcelines(f)
    assert err.filename == __file__ and start <= err.lineno < start + len(lines)


# --- still accepted: the generator walked before the change, or reading something else -----------

def genexp_walked_before(x, t):
    z = x * t
    c = z
    g = (v * 2.0 for v in c)
    s = sum(g)
    z[0] = x[1] * 5.0
    return s + np.sum(c * x)


def genexp_of_other(x, t):
    z = x * t
    y = x * 2.0
    c = z
    g = (v * 2.0 for v in y)
    z[0] = x[1] * 5.0
    return sum(g) + np.sum(c * x)


# --- accepted and exact (values, first and second order, jvp, hvp) --------------------------------

def view_negative_step(x, t):
    z = x * t
    w = z[::-2]
    w[0] = x[1] * 3.0
    w *= t[0]
    return np.sum(z * x)


def view_negative_step_base_written(x, t):
    z = x * t
    w = z[-1:0:-1]
    z[1] = x[1] * x[2]
    return np.sum(w * t[:3])


def view_base_changed_in_loop(x, t):
    z = x * t
    w = z[1:]
    s = 0.0
    for i in range(3):
        z[i] = z[i + 1] * x[i]
        s = s + np.sum(w * t[:3])
    return s


def view_changed_in_loop(x, t):
    z = x * t
    w = z[1:]
    for i in range(3):
        w[i] = w[i] * z[0] + t[i]
    return np.sum(z * x)


def view_2d_row_and_base(x, t):
    m = np.outer(x, t)
    w = m[1, :]
    w[0] = x[2] * 3.0
    m[2, 1:] = x[:3] * 2
    return np.sum(m * m) + np.sum(w * t)


def view_2d_strided(x, t):
    m = np.outer(x, t)
    w = m[::2, ::-1]
    w[1, 0] = x[0] * 4.0
    m[0, 3] = t[1] * 2.0
    return np.sum(m * m) + np.sum(w)


def view_overlapping_self_write(x, t):
    z = x * t
    w = z[1:]
    z[:3] = z[1:] * 2.0
    return np.sum(w * t[1:]) + np.sum(z * x)


def view_augmented_negative(x, t):
    z = x * t
    w = z[::-1]
    w -= np.arange(4.0) * x
    return np.sum(z * x) + np.sum(w[:2])


def alias_out_and_add_at(x, t):
    z = x * t
    c = z
    np.multiply(z, x, out=z)
    np.add.at(z, [0, 0, 1], x[:3])
    return np.sum(c * x)


def alias_augmented_in_branches(x, t):
    z = x * t
    c = z
    if t[0] > 0:
        z += x
    else:
        z -= x
    return np.sum(c * t) + np.sum(z)


def alias_augmented_number(x, t):
    z = np.sum(x * t)
    c = z
    z *= 3.0
    return c * 2.0 + z * np.sum(x)


def alias_in_loop_body(x, t):
    z = x * t
    s = 0.0
    for i in range(3):
        c = z
        z[i] = c[i + 1] * x[i]
        s = s + np.sum(c * t)
    return s


def alias_walrus_tuple_write(x, t):
    z = x * t
    if (c := z) is not None:
        c[0], c[1] = x[1], x[0] * 2.0
    return np.sum(z * x)


ACCEPTED = [genexp_walked_before, genexp_of_other, view_negative_step, view_negative_step_base_written,
            view_base_changed_in_loop, view_changed_in_loop, view_2d_row_and_base, view_2d_strided,
            view_overlapping_self_write, view_augmented_negative, alias_out_and_add_at,
            alias_augmented_in_branches, alias_augmented_number, alias_in_loop_body, alias_walrus_tuple_write]


@pytest.mark.parametrize("case", ACCEPTED, ids=lambda c: c.__name__)
def test_accepted_first_and_second_order(case):
    check_two_inputs(case, X.copy(), T.copy())
    check_two_inputs(case, X.copy(), -T.copy(), order=1)


@pytest.mark.parametrize("case", [view_negative_step, view_changed_in_loop, alias_out_and_add_at,
                                  alias_augmented_in_branches, view_2d_strided], ids=lambda c: c.__name__)
def test_accepted_jvp_and_hvp(case):
    y, jv = sct.jvp(case, (X.copy(), T.copy()), (V, 0.3 * V))
    fd = (case(X + 1e-6 * V, T + 0.3e-6 * V) - case(X - 1e-6 * V, T - 0.3e-6 * V)) / 2e-6
    assert_close(np.asarray(y.data), case(X.copy(), T.copy()), 1e-12, 1e-12, "jvp value")
    assert_close(np.asarray(jv.data), fd, 1e-5, 1e-6, "jvp")

    def g(a):
        return numerical_gradient(lambda b: case(b, T.copy()), [a.copy()], 0, step=1e-5)
    hv = sct.hvp(lambda a: case(a, T.copy()), X.copy(), V)
    assert_close(np.asarray(getattr(hv, "data", hv)), (g(X + 1e-4 * V) - g(X - 1e-4 * V)) / 2e-4, 1e-3, 1e-4, "hvp")


# --- found here, fixed in tests/test_fixes_dec8.py: forward mode of a number written into an int or
# bool array (the tangent was kept: -7.21 and -7.0 where the derivative is 0) and the operator
# module's in-place functions on traced arrays (the change was lost; now refused) ------------------
