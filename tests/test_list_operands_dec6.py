"""A list or tuple operand of np.power, np.float_power, np.arctan2 and np.fmin: the value ran, but the
derivative crashed with an internal TypeError (``b - 1`` of a list in power's rule, ``x1 ** 2`` in
arctan2's, ``-x1`` in fmin's)."""
import numpy as np
import pytest

from gradcheck import check_grads, check_second_order

X = np.array([0.3, -1.2, 2.0, 0.7])
P = [1.5, 2.0, 0.5, 3.0]

CASES = {
    "power_list_exponent": lambda x: np.sum(np.power(np.abs(x) + 1, P) ** 2),
    "power_tuple_exponent": lambda x: np.sum(np.power(np.abs(x) + 1, tuple(P))),
    "power_traced_list_exponent": lambda x: np.sum(np.power(np.abs(x[:2]) + 1, [x[2], 2.0])),
    "power_int_list_exponent": lambda x: np.sum(np.power(x, [1, 2, 3, 2])),
    "power_list_base": lambda x: np.sum(np.power(P, x)),
    "float_power_list_exponent": lambda x: np.sum(np.float_power(np.abs(x) + 1, P)),
    "arctan2_list_first": lambda x: np.sum(np.arctan2(P, x + 3)),
    "arctan2_list_second": lambda x: np.sum(np.arctan2(x, P)),
    "arctan2_traced_list": lambda x: np.sum(np.arctan2([x[0], x[1]], x[2:] + 3)),
    "fmin_list": lambda x: np.sum(np.fmin(x, P) ** 2) + np.sum(np.fmin(tuple(P), x) ** 3),
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_first_and_second_derivatives(name):
    check_grads(CASES[name], X.copy())
    check_second_order(CASES[name], X.copy())
