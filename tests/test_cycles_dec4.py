"""A value holding itself (a dict or list containing itself) is refused with an error naming it, not
an internal RecursionError."""
import numpy as np
import pytest

import sct
from sct import EvaluationError, dlarray, dlfeval, dlgradient


def _loss(x, d):
    y = np.sum(x * d["w"])
    return y, dlgradient(y, x)


def _helper(x, d):
    return np.sum(x * d["w"])


CYCLIC = {"w": 2.0}
CYCLIC["me"] = CYCLIC


def test_dlfeval_argument_holding_itself():
    d = {"w": 2.0}
    d["me"] = d
    with pytest.raises(EvaluationError, match=r"argument 2 holds itself \(argument 2\['me'\]") as info:
        dlfeval(_loss, dlarray(np.ones(3)), d)
    assert info.value.filename == __file__
    assert not isinstance(info.value, RecursionError)


def test_list_holding_itself():
    l = [2.0]
    l.append(l)

    def loss(x, l):
        y = np.sum(x * l[0])
        return y, dlgradient(y, x)
    with pytest.raises(EvaluationError, match="holds itself"):
        dlfeval(loss, dlarray(np.ones(3)), l)


def test_hvp_of_a_function_reading_a_value_holding_itself():
    with pytest.raises(EvaluationError, match=r"CYCLIC holds itself"):
        sct.hvp(lambda x: _helper(x, CYCLIC), np.ones(3), np.ones(3))


def test_without_the_cycle_it_runs():
    y, g = dlfeval(_loss, dlarray(np.ones(3)), {"w": 2.0})
    assert float(y) == 6.0 and np.allclose(np.asarray(g), 2.0)
