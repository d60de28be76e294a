"""One statement's repeated field, item or operator of an object that may run code of the user's is read as
often as Python reads it (a property counting its reads, ``__getitem__``, ``__mul__``): sct's normalisation
computed ``s.lr * s.lr`` once and gave 5 where Python gives 10 (first order, no refusal).  Plain data of
parameters (arrays, numbers, dicts of arrays) is still read once: Rosenbrock's ``x[0]``."""
import numpy as np
import pytest

import sct
from sct import dlarray, dlfeval, dlgradient, extractdata

import memo59_mod
from gradcheck import check_grads


def _run(f, x, *rest):
    y, g = dlfeval(f, dlarray(x), *rest)
    return float(extractdata(y)), np.asarray(extractdata(g))


def global_twice(x):
    y = np.sum(x ** 2) * memo59_mod.S.lr * memo59_mod.S.lr
    return y, dlgradient(y, x)


def made_twice(x):
    s = memo59_mod.make()
    y = np.sum(x ** 2) * s.lr * s.lr
    return y, dlgradient(y, x)


def argument_twice(x, s):
    y = np.sum(x ** 2) * s.lr * s.lr
    return y, dlgradient(y, x)


def nested_twice(x, box):
    y = np.sum(x * box.s.lr) + np.sum(x * box.s.lr)
    return y, dlgradient(y, x)


class Counting:
    def __init__(self):
        self.t = 0

    def __getitem__(self, k):
        self.t += 1
        return float(self.t)


class Scale:
    def __init__(self):
        self.t = 0

    def __mul__(self, other):
        self.t += 1
        return other * self.t

    __rmul__ = __mul__


def items_twice(x, q):
    y = np.sum(x ** 2) * q[0] * q[0]
    return y, dlgradient(y, x)


def operator_twice(x, s):
    y = np.sum((s * x) + (s * x))
    return y, dlgradient(y, x)


class Box:
    def __init__(self):
        self.s = memo59_mod.Sched()


X = np.array([1.0, 2.0])


def test_property_of_a_global_from_another_module_read_twice():
    memo59_mod.S.t = 0
    y, g = _run(global_twice, X)
    assert y == pytest.approx(10.0) and memo59_mod.S.t == 2      # Python: 5 * 1 * 2
    np.testing.assert_allclose(g, 4.0 * X)
    memo59_mod.S.t = 0
    y, g = _run(global_twice, 3 * X)        # (a cache hit)
    assert y == pytest.approx(90.0)
    np.testing.assert_allclose(g, 12.0 * X)


def test_property_of_an_object_made_by_a_call_read_twice():
    y, g = _run(made_twice, X)
    assert y == pytest.approx(10.0)
    np.testing.assert_allclose(g, 4.0 * X)


def test_property_of_an_argument_and_of_a_field_read_twice():
    s = memo59_mod.Sched()
    y, g = _run(argument_twice, X, s)
    assert y == pytest.approx(10.0) and s.t == 2
    np.testing.assert_allclose(g, 4.0 * X)
    box = Box()
    y, g = _run(nested_twice, X, box)
    assert y == pytest.approx(9.0) and box.s.t == 2              # 3 * 1 + 3 * 2
    np.testing.assert_allclose(g, np.full(2, 3.0))


def test_item_and_operator_hooks_run_each_time():
    q = Counting()
    try:
        y, g = _run(items_twice, X, q)
    except sct.CompileError as error:       # (a __getitem__ changing its object, given traced values: refused)
        assert f"line {items_twice.__code__.co_firstlineno + 1}" in str(error)
    else:
        assert y == pytest.approx(10.0) and q.t == 2
        np.testing.assert_allclose(g, 4.0 * X)
    s = Scale()
    y, g = _run(operator_twice, X, s)
    assert y == pytest.approx(9.0) and s.t == 2                  # sum(1 x + 2 x)
    np.testing.assert_allclose(g, np.full(2, 3.0))


def test_accelerated_and_checked_against_finite_differences():
    acc = sct.accelerate(made_twice)
    for scale in (1.0, 2.0):
        y, g = acc(dlarray(scale * X))
        assert float(extractdata(y)) == pytest.approx(10.0 * scale ** 2)
    check_grads(made_loss, X)       # (value against plain Python, gradient against finite differences)


def made_loss(x):
    s = memo59_mod.make()
    return np.sum(np.sin(x) * x) * s.lr * s.lr + s.lr


def rosenbrock(x):
    y = 100 * (x[1] - x[0] ** 2) ** 2 + (1 - x[0]) ** 2
    return y, dlgradient(y, x)


def dict_twice(p, x):
    y = np.sum(p["w"] * x * p["w"])
    return y, dlgradient(y, p["w"])


def test_plain_data_of_parameters_still_read_once():
    x = dlarray(np.array([-1.0, 2.0]))
    text = sct.source(rosenbrock, x)
    assert sum(line.strip().startswith("x0 = ") for line in text.splitlines()) == 1 and "x0_1" not in text, text       # x[0] computed once, read by both terms
    y, g = dlfeval(rosenbrock, x)
    np.testing.assert_allclose(extractdata(g), [-400 * 1 * -1 - 2 * 2, 200 * 1])
    p = {"w": dlarray(np.array([1.0, 2.0]))}
    text = sct.source(dict_twice, p, np.array([3.0, 4.0]))
    body = text.split("def dict_twice_dlgradient")[0]
    assert "y_mul * p_item\n" in body, text     # p["w"] read once, the product reads it again
    y, g = dlfeval(dict_twice, p, np.array([3.0, 4.0]))
    assert float(extractdata(y)) == pytest.approx(3.0 + 16.0)
    np.testing.assert_allclose(extractdata(g), 2 * np.array([1.0, 2.0]) * np.array([3.0, 4.0]))


def squared_error(x, t):
    y = np.tanh(x)
    L = np.sum((y - t) * (y - t))
    return L, dlgradient(L, x)


def test_locals_of_numpys_results_still_read_once():
    x, t = np.array([0.3, -0.2, 0.5]), np.array([0.1, 0.0, -0.1])
    text = sct.source(squared_error, dlarray(x), t).split("def squared_error_dlgradient")[0]
    assert text.count("= y - t") == 1 and "L_sub_1" not in text, text      # y - t computed once
    L, g = dlfeval(squared_error, dlarray(x), t)
    assert float(extractdata(L)) == pytest.approx(np.sum((np.tanh(x) - t) ** 2))
    np.testing.assert_allclose(extractdata(g), 2 * (np.tanh(x) - t) * (1 - np.tanh(x) ** 2))
