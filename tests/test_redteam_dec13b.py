"""Red-team of Python semantics under dlfeval (dec13b): the wrong results found, each checked against
plain Python and central differences (or refused with a message naming the user's line)."""
from __future__ import annotations

import numpy as np
import pytest

from gradcheck import check_two_inputs
from sct import EvaluationError, dlarray, dlfeval, dlgradient

RNG = np.random.default_rng(1313)
X0 = RNG.standard_normal(4)
T0 = RNG.standard_normal(4)


# --- a nested def that appends to a list it is given (an argument, or its default) -----------------
# (its code is copied into the generated code and compiled from there, where every function skipped
# the recomputation guard: in the second derivative's recomputation `out.append(1)` was replayed, not
# run, on the list the recomputed code made anew, so len(out) was 0: value and gradient 0)

def nested_appends_to_its_default(x):
    def acc(v, out=[]):
        out.append(1)
        return v * len(out)
    return np.sum(acc(x) * acc(x))


def nested_appends_to_its_argument(x):
    def acc(v, out):
        out.append(1)
        return v * len(out)
    o = []
    return np.sum(acc(x, o) * acc(x, o))


def _second_order(f):
    def run(x):
        y = f(x)
        gx = dlgradient(y, x, EnableHigherDerivatives=True)
        z = np.sum(gx * gx)
        return z, dlgradient(z, x)
    return run


@pytest.mark.parametrize("f", [nested_appends_to_its_default, nested_appends_to_its_argument])
def test_nested_def_changing_its_list_is_refused_at_second_order(f):
    x = X0.copy()
    y, g = dlfeval(lambda a: (f(a), dlgradient(f(a), a)), dlarray(x))     # first order: as Python
    np.testing.assert_allclose(np.asarray(y.data), f(x.copy()))
    np.testing.assert_allclose(np.asarray(g.data), 4 * x)
    with pytest.raises(EvaluationError) as info:
        dlfeval(_second_order(f), dlarray(x))
    message = str(info.value)
    line = f.__code__.co_firstlineno + 2            # out.append(1)
    assert __file__ in message and "acc() changes out" in message and f"(line {line})" in message, message
