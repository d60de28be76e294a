"""Findings of the red team red58a (random programs) fixed: np.std of entries equal up to rounding (its value
rounding noise, not 0) refused where its rule divided noise by noise (W2: a derivative of +-1 where the std is 0
for every s); an exact 0 and genuine spreads stay exact."""
import math

import numpy as np
import pytest

import sct
from sct import CompileError, EvaluationError, dlarray, dlfeval, dlgradient
from gradcheck import assert_close, numerical_gradient


def std_of_a_constant(s):
    loss = np.std(np.full((3, 4), s)) + s
    return loss, dlgradient(loss, s)


def test_std_of_entries_equal_up_to_rounding_is_refused_at_the_line():
    assert np.std(np.full((3, 4), 0.7)) != 0            # (rounding noise: the case itself)
    with pytest.raises(EvaluationError, match="np.std of entries equal up to rounding") as info:
        dlfeval(std_of_a_constant, dlarray(0.7))
    assert info.value.lineno == std_of_a_constant.__code__.co_firstlineno + 1


def std_of_rows(x):
    loss = np.sum(np.std(x, axis=1) * np.array([1.0, 2.0, 3.0]))
    return loss, dlgradient(loss, x)


def test_exact_zero_and_genuine_spreads_stay_exact():
    x = np.array([[0.5, 0.5, 0.5, 0.5], [1.0, 2.0, 4.0, 8.0], [1e8, 1e8 + 1.0, 1e8 - 2.0, 1e8]])
    loss, g = dlfeval(std_of_rows, dlarray(x))
    plain = lambda x: np.sum(np.std(x, axis=1) * np.array([1.0, 2.0, 3.0]))
    assert float(sct.extractdata(loss)) == pytest.approx(plain(x), rel=1e-12)
    row = numerical_gradient(lambda r: 2.0 * np.std(r), [x[1]], 0)     # (finite differences of row 1)
    assert_close(sct.extractdata(g)[0], np.zeros(4), rtol=0, atol=0)      # (row 0: the std's kink, taken as 0)
    assert_close(sct.extractdata(g)[1], row, rtol=1e-5, atol=1e-7)
    dev = x[2] - x[2].mean()
    assert_close(sct.extractdata(g)[2], 3.0 * dev / (4 * np.std(x[2])), rtol=1e-6)


def math_of_items(v):
    a = math.expm1(v[1])
    c = math.sin(v[0])
    acc = 0.0
    for i in range(2):
        acc = acc + float(np.sum(v)) * (i + 1)
    loss = np.sin(a) + c + np.sum(v ** 2) * acc
    return loss, dlgradient(loss, v), a, c, acc


def math_of_items_plain(v):
    a = math.expm1(v[1])
    c = math.sin(v[0])
    acc = 0.0
    for i in range(2):
        acc = acc + float(np.sum(v)) * (i + 1)
    return np.sin(a) + c + np.sum(v ** 2) * acc, a, c, acc


@pytest.mark.parametrize("accelerated", [False, True])
def test_math_results_and_float_accumulators_come_back_as_floats(accelerated):
    v = np.array([0.3, 0.5])
    run = sct.accelerate(math_of_items) if accelerated else math_of_items
    for scale in (1.0, 1.2):
        loss, g, a, c, acc = dlfeval(run, dlarray(v * scale))
        want = math_of_items_plain(v * scale)
        assert [type(t) for t in (a, c, acc)] == [float, float, float]
        assert (a, c, acc) == pytest.approx(want[1:], rel=1e-15)
        assert float(sct.extractdata(loss)) == pytest.approx(want[0], rel=1e-12)


def fancy_copy_then_write(X):
    Y = X * 1.0
    b = Y[[0, 1]]
    idx = [1, 0]
    c = Y[idx]
    Y[0] = 0.0
    loss = np.sum(b ** 2) + np.sum(Y) + np.sum(c * np.array([[1.0, 2.0], [3.0, 4.0]]))
    return loss, dlgradient(loss, X)


def test_a_list_index_copies_so_a_later_write_is_accepted():
    X = np.array([[0.5, -0.3], [0.2, 0.1]])

    def plain(X):
        Y = X * 1.0
        b = Y[[0, 1]].copy()
        c = Y[[1, 0]].copy()
        Y[0] = 0.0
        return np.sum(b ** 2) + np.sum(Y) + np.sum(c * np.array([[1.0, 2.0], [3.0, 4.0]]))
    loss, g = dlfeval(fancy_copy_then_write, dlarray(X))
    assert float(sct.extractdata(loss)) == pytest.approx(plain(X), rel=1e-12)
    assert_close(sct.extractdata(g), numerical_gradient(plain, [X], 0), rtol=1e-6, atol=1e-8)


def tuple_index_then_write(X):
    Y = X * 1.0
    t = (0,)
    r = Y[t]                   # (a tuple index is basic indexing: r is a view of Y's row 0)
    Y[0, 0] = 5.0
    loss = np.sum(r * np.array([1.0, 2.0])) + np.sum(Y)
    return loss, dlgradient(loss, X)


def test_a_tuple_index_is_still_a_view():
    with pytest.raises((CompileError, EvaluationError), match="view"):
        dlfeval(tuple_index_then_write, dlarray(np.array([[0.5, -0.3], [0.2, 0.1]])))
