"""Red team X (dec 22): silent wrong results in the code paths added last (helpers called directly
behind a guard, second derivatives without the random-state watch, matrix-product adjoints assigned,
optimizers reading the last step's flat arrays).  Each test compares values with plain Python and
derivatives with finite differences or closed forms.

Findings:
1. A user function reached by numpy through a value, not passed by name (``formatter={"float_kind": fmt}``,
   an alias ``k = fmt``, an item of a local list ``[fmt][0]``), ran uncompiled while sct took the caller
   for code running no user code (``Compiled.opaque`` False): the recomputation before a
   ``dlgradient(..., EnableHigherDerivatives=True)`` skipped the random-state watch and the second
   derivative was of another draw's program (6 c' x for 6 c x), silently.
"""
import numpy as np
import pytest

import sct
from sct import dlarray, dlfeval, dlgradient
from sct.errors import SctError


# --- 1. user functions reached through values: the watch is kept ------------------------------------

def _fmt(v):
    return "a" * int(1 + 50 * np.random.rand())


def _second_fmt_dict(x):
    c = len(np.array2string(np.ones(1), formatter={"float_kind": _fmt}))
    y = c * np.sum(x ** 3)
    g = dlgradient(y, x, EnableHigherDerivatives=True)
    return dlgradient(np.sum(g), x), c


def _second_fmt_alias(x):
    k = _fmt
    c = len(np.array2string(np.ones(1), formatter={"float_kind": k}))
    y = c * np.sum(x ** 3)
    g = dlgradient(y, x, EnableHigherDerivatives=True)
    return dlgradient(np.sum(g), x), c


def _second_fmt_list(x):
    fs = [_fmt]
    c = len(np.array2string(np.ones(1), formatter={"float_kind": fs[0]}))
    y = c * np.sum(x ** 3)
    g = dlgradient(y, x, EnableHigherDerivatives=True)
    return dlgradient(np.sum(g), x), c


@pytest.mark.parametrize("fun", [_second_fmt_dict, _second_fmt_alias, _second_fmt_list])
def test_user_function_given_through_a_value_keeps_the_watch(fun):
    x = np.array([0.3, 0.7])
    text = str(sct.source(fun, dlarray(x), callees=True))
    assert "replay_from(effects_start, False)" not in text
    np.random.seed(5)
    try:
        h, c = dlfeval(fun, dlarray(x))
    except SctError as e:               # the recomputation drew again: refused, not silently wrong
        assert "drew random numbers" in str(e)
        return
    np.testing.assert_allclose(np.asarray(h.data), 6 * c * x, rtol=1e-12)     # d2/dx2 of c x^3
