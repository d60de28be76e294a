"""A parameter dict copied and written under a branch or loop (``if flag: d = dict(d); d["y"] = x * 2``), then
``d["y"]`` read: after functionalize the write is ``d = rt.setitem(d, "y", v)``, which analysis.written_keys did
not count, so the later read took the argument's item kind at entry (a plain array) and carried no derivative:
2x where 4x, a wrong gradient (found by f4fix52, s52)."""
import numpy as np
import pytest

import sct
from sct import dlarray, dlfeval, dlgradient

X0 = np.array([0.3, -1.2, 2.0])


def in_branch(d, x, flag):
    if flag:
        d = dict(d)
        d["y"] = x * 2
    loss = np.sum(d["y"] * x)
    return loss, dlgradient(loss, x)


def in_loop(d, x, n):
    for i in range(n):
        d = dict(d)
        d["y"] = x * (i + 2)
    loss = np.sum(d["y"] * x)
    return loss, dlgradient(loss, x)


def by_variable_key(d, x, k):
    if k:
        d = dict(d)
        d[k] = x * 2
    loss = np.sum(d["y"] * x)
    return loss, dlgradient(loss, x)


@pytest.mark.parametrize("fn, last, want", [(in_branch, True, 4 * X0), (in_loop, 2, 6 * X0),
                                            (by_variable_key, "y", 4 * X0)],
                         ids=["branch", "loop", "variable_key"])
def test_written_item_of_a_copied_parameter_is_differentiated(fn, last, want):
    sct.clear_cache()
    d = {"y": np.ones(3)}
    loss, g = dlfeval(fn, d, dlarray(X0.copy()), last)
    np.testing.assert_allclose(np.asarray(g.data), want, rtol=1e-12)
    np.testing.assert_allclose(float(np.asarray(loss.data)), float(np.sum(want / 2 * X0)), rtol=1e-12)
    assert type(d["y"]) is np.ndarray and np.all(d["y"] == 1.0)      # (the caller's dict is not changed)
