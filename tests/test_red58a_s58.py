"""Findings of the red team red58a (random programs) fixed: np.std of entries equal up to rounding (its value
rounding noise, not 0) refused where its rule divided noise by noise (W2: a derivative of +-1 where the std is 0
for every s); an exact 0 and genuine spreads stay exact."""
import numpy as np
import pytest

import sct
from sct import EvaluationError, dlarray, dlfeval, dlgradient
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
