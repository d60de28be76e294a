"""A gradient with respect to one result of a helper, where y reads the helper's other results
(``h, out = helper(x); dlgradient(f(out), h)``): a helper of the same file is read in place
(sct/inline_helpers.py), so the derivative follows its statements, as MATLAB's trace and the same
code written inline do. Second names of a tuple or list (``r = t; h = r[0]``) are followed into
it (sct/sites.py ``_structure``), or refused where they cannot be (copy_checks ``built``): before,
``t = (a, 2 * a); r = t; dlgradient(sum(r[1]), r[0])`` gave 0 for 2."""
import numpy as np
import pytest

import sct
from sct import dlarray, dlfeval, dlgradient, extractdata

from gradcheck import assert_close

X = np.array([0.3, 0.5])
T = np.tanh(X)


def two(x):
    h = np.tanh(x)
    out = h * 2
    return h, out


def as_list(x):
    h = np.tanh(x)
    return [h, h * 2]


def itself(x):
    return x, x * 2


def branchy(x):
    h = np.tanh(x)
    if np.sum(x) > 0:
        return h, h * 2
    return h, h * 3


def through_helper(x):
    h, out = two(x)
    return dlgradient(np.sum(out), h)


def through_list_helper(x):
    h, out = as_list(x)
    return dlgradient(np.sum(out ** 2), h)


def argument_returned(x):
    h, out = itself(x)
    return dlgradient(np.sum(out), h)


def result_then_unpacked(x):
    r = two(x)
    h, out = r
    return dlgradient(np.sum(out * h), h)


def both_wrt(x):
    h, out = two(x)
    return dlgradient(np.sum(out * x), h, x)


def chained(x):
    h, out = two(x)
    h2, out2 = two(out)
    return dlgradient(np.sum(out2), h, h2)


def second_order(x):
    h, out = two(x)
    g = dlgradient(np.sum(out ** 2), h)
    return dlgradient(np.sum(g * x), x)


def second_name_of_tuple(x):
    a = np.tanh(x)
    t = (a, a * 2)
    u = t
    h = u[0]
    return dlgradient(np.sum(u[1]), h)


def second_name_then_rebound(x):
    a = np.tanh(x)
    t = (a, a * 2)
    u = t
    t = (x, x)
    h = u[0]
    return dlgradient(np.sum(u[1]) + np.sum(t[0]), h)


def second_name_unpacked(x):
    a = np.tanh(x)
    t = [a, a * 2]
    u = t
    h, out = u
    return dlgradient(np.sum(out), h)


def test_helper_results_follow_the_helper():
    x = dlarray(X)
    assert_close(extractdata(dlfeval(through_helper, x)), [2.0, 2.0])
    assert_close(extractdata(dlfeval(through_list_helper, x)), 8 * T)
    assert_close(extractdata(dlfeval(argument_returned, x)), [2.0, 2.0])
    assert_close(extractdata(dlfeval(result_then_unpacked, x)), 4 * T)
    gh, gx = dlfeval(both_wrt, x)
    assert_close(extractdata(gh), 2 * X)
    assert_close(extractdata(gx), 2 * T + 2 * X * (1 - T ** 2))      # out * x through x itself too
    gh, gh2 = dlfeval(chained, x)
    assert_close(extractdata(gh), 2 * (1 - np.tanh(2 * T) ** 2) * 2)
    assert_close(extractdata(gh2), [2.0, 2.0])
    # d/dx sum(8 tanh(x) x)
    assert_close(extractdata(dlfeval(second_order, x)), 8 * (1 - T ** 2) * X + 8 * T)


def test_helper_results_accelerated_and_by_finite_differences():
    from gradcheck import numerical_gradient
    fast = sct.accelerate(result_then_unpacked)
    assert_close(extractdata(dlfeval(fast, dlarray(X))), 4 * T)

    def via_h(h):          # y as a function of h, the helper's statements after h
        return np.sum(2 * h * h)
    assert_close(extractdata(dlfeval(result_then_unpacked, dlarray(X))), numerical_gradient(via_h, [T], 0),
                 rtol=1e-5)


def test_second_names_of_structures_are_followed():
    x = dlarray(X)
    assert_close(extractdata(dlfeval(second_name_of_tuple, x)), [2.0, 2.0])
    assert_close(extractdata(dlfeval(second_name_then_rebound, x)), [2.0, 2.0])
    assert_close(extractdata(dlfeval(second_name_unpacked, x)), [2.0, 2.0])


def helper_with_branches(x):
    h, out = branchy(x)
    return dlgradient(np.sum(out), h)


def in_a_loop(x):
    tot = 0.0
    for i in range(2):
        h, out = two(x * (i + 1))
        tot = tot + dlgradient(np.sum(out ** 2), h)
    return tot


def second_name_of_branch_tuple(x):
    h1 = np.tanh(x)
    if np.sum(x) > 0:
        t = (h1, h1 * 2)
    else:
        t = (h1, h1 * 3)
    r = t
    h = r[0]
    out = r[1]
    return dlgradient(np.sum(out), h)


def second_name_of_filled_list(x):
    a = np.tanh(x)
    t = [a, a * 2]
    t.append(a)
    u = t
    h = u[0]
    return dlgradient(np.sum(u[1]), h)


def test_in_a_loop_is_followed_once_written_out():
    # (refused until stop 37: the copy check's refusal of a site in a for-range loop now compiles the
    # loop again written out step by step, sct/unroll.py, where each step's h is followed)
    got = dlfeval(in_a_loop, dlarray(X))
    assert_close(extractdata(got), 8 * np.tanh(X) + 8 * np.tanh(2 * X))


def test_an_item_of_a_list_filled_in_place_is_followed_to_its_value():
    # (refused until s50: the list's versions are followed back to the item's store, sct/stored_items.py,
    # so h is a's value, reached through u[1] = a * 2)
    assert_close(extractdata(dlfeval(second_name_of_filled_list, dlarray(X))), 2 * np.ones_like(X))


@pytest.mark.parametrize("fn", [helper_with_branches, second_name_of_branch_tuple])
def test_what_cannot_be_followed_is_refused_not_zero(fn):
    # (each gave zeros, or would: the value h names is reached through the structure too)
    with pytest.raises(sct.CompileError) as info:
        dlfeval(fn, dlarray(X))
    assert info.value.filename == __file__
