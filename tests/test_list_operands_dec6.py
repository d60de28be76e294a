"""A list or tuple operand of np.power, np.float_power, np.arctan2 and np.fmin: the value ran, but the
derivative crashed with an internal TypeError (``b - 1`` of a list in power's rule, ``x1 ** 2`` in
arctan2's, ``-x1`` in fmin's)."""
import numpy as np
import pytest

from sct import dlarray, dlfeval, dlgradient

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


def numerical(fn, x, step=1e-6):
    return np.array([(fn(x + step * e) - fn(x - step * e)) / (2 * step) for e in np.eye(len(x))])


@pytest.mark.parametrize("name", sorted(CASES))
def test_first_and_second_derivatives(name):
    fn = CASES[name]

    def first(x):
        y = fn(x)
        return y, dlgradient(y, x)

    def second(x):
        y = fn(x)
        g = dlgradient(y, x, EnableHigherDerivatives=True)
        z = np.sum(g * g)
        return z, dlgradient(z, x)

    y, g = dlfeval(first, dlarray(X.copy()))
    np.testing.assert_allclose(float(y.data), fn(X.copy()), rtol=1e-14)
    np.testing.assert_allclose(np.asarray(g.data), numerical(fn, X.copy()), rtol=1e-6, atol=1e-7)

    def gradient(a):
        return np.asarray(dlfeval(first, dlarray(a))[1].data)
    _, h = dlfeval(second, dlarray(X.copy()))
    np.testing.assert_allclose(np.asarray(h.data), numerical(lambda a: np.sum(gradient(a) ** 2), X.copy(), 1e-5),
                               rtol=1e-5, atol=1e-4)
