"""``any(... for ...)`` and ``all(... for ...)`` stop at the first true (false) item, as Python's do: the
items after it are never computed (was: every item computed first, as a list, so an item Python never
reaches raised: a division by zero, an index out of range)."""
import numpy as np
import pytest

import sct
from sct import dlarray, dlfeval, dlgradient
from gradcheck import check_grads, check_two_inputs


def any_before_zero(x):
    xs = [x[0], x[1], 0.0]
    ok = any(1.0 / v > 0 for v in xs)              # stops at x[0]: 1 / 0.0 is never computed
    return np.sum(x ** 2) * (2.0 if ok else 1.0)


def all_before_out_of_range(x):
    ok = all(x[i] > 5 for i in [0, 1, 10])         # stops at x[0] > 5 (False): x[10] never read
    return np.sum(np.sin(x)) * (3.0 if ok else 1.0)


def any_nested_generators(x):
    ok = any(x[i] * x[j] > 1.2 for i in range(3) for j in range(i, 3))
    hit = [(i, j) for i in range(3) for j in range(i, 3) if x[i] * x[j] > 1.2]
    return np.sum(x) * (1.5 if ok else 0.5) + len(hit) * x[0]


def all_with_condition(x):
    ok = all(v < 2.0 for v in x if v > 0.7)
    return np.prod(x[:3]) * (2.0 if ok else 1.0)


def none_found(x):
    ok = any(v > 100 for v in x)
    fine = all(v < 100 for v in x)
    return np.sum(x ** 3) * (2.0 if ok else 1.0) * (3.0 if fine else 1.0)


def helper_check(v):
    return any(np.abs(v[k]) > 10 for k in range(len(v)))


def in_a_helper(x):
    return np.sum(np.tanh(x)) if not helper_check(x) else 0.0


def empty(x):
    return np.sum(x) * (2.0 if any(v > 0 for v in []) else 1.0) * (3.0 if all(v > 0 for v in []) else 1.0)


@pytest.mark.parametrize("case", [any_before_zero, all_before_out_of_range, any_nested_generators,
                                  all_with_condition, none_found, in_a_helper, empty])
def test_short_circuit_as_python(case):
    check_grads(case, np.array([0.9, 1.3, 0.6, 1.1]))


def test_second_order_through_a_short_circuit():
    def case(x, t):
        ok = any(v > 1.0 for v in x)
        return np.sum(x ** 3 * t) * (2.0 if ok else 1.0)
    check_two_inputs(case, np.array([0.9, 1.3, 0.6]), np.array([0.5, -0.2, 0.3]))


def test_the_variable_stays_in_the_generator():
    def f(x):
        v = x[0] * 2.0
        ok = any(v > 0 for v in x)
        y = v * (2.0 if ok else 1.0)                 # the v bound before, not the generator's
        return y, dlgradient(y, x)
    y, g = dlfeval(f, dlarray(np.array([1.0, 2.0])))
    assert float(y) == 4.0 and np.allclose(g.data, [4.0, 0.0])


def test_a_shadowing_any_is_not_taken_for_the_builtin():
    def f(x):
        any = lambda items: sum(1 for _ in items) > 2      # noqa: E731  (the user's own any)
        y = np.sum(x) * (2.0 if any(v > 0 for v in x) else 1.0)
        return y, dlgradient(y, x)
    # (the user's function is given the generator: refused as any helper walking one, not run as any())
    with pytest.raises(sct.CompileError, match="generator expression passed to a function"):
        dlfeval(f, dlarray(np.array([1.0, 2.0])))


def test_the_error_python_raises_still_raises():
    def f(x):
        ok = any(1.0 / v > 5 for v in [1.0, 0.0])        # 1/1 > 5 is False: 1/0.0 is computed, as in Python
        y = np.sum(x) * ok
        return y, dlgradient(y, x)
    with pytest.raises(ZeroDivisionError):
        dlfeval(f, dlarray(np.array([1.0])))
    with pytest.raises(sct.EvaluationError):
        dlfeval(f, dlarray(np.array([1.0])))
