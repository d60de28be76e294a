"""Red team, Dec 3 (d): values and gradients sct returned silently wrong, each fixed at its root.

1. ``__init__`` (differentiated as the function building its object) that changes an attribute it
   has not set yet: Python reads the *class's* attribute there, an object every instance shares
   (``pool = {}`` / ``hist = []`` / ``total = np.zeros(6)`` in the class body), and ``self.pool[k] =
   v``, ``self.hist.append(v)``, ``self.total += v`` change it in place for every instance.  sct took
   ``self``'s contents for objects of the new instance only and wrote a new value into the instance
   instead: ``s1.pool["w"]`` kept s1's value after ``s2 = Shared(...)`` (value and gradient wrong,
   silently; via a helper that builds the object, the new ``new_instance_class`` path, too).  Now
   the points-to state (sct/points_to.py ``unset_key``) says such an attribute may be the class's
   (an object sct did not create) until ``__init__`` sets it on every path, so the write is refused
   at its line; numbers (``self.count += 1``) are still rebound exactly, and an attribute set first
   is the instance's own (both differentiated as before).

Also kept: the repeated-index write ``y[[0, 0, 1]] += v`` (the last write wins: v[0] gets no
gradient) and dlconv's kept im2col matrix with a new input at a freed input's address.
"""
from __future__ import annotations

import numpy as np
import pytest

import sct
from sct import CompileError, EvaluationError, dlarray, dlfeval, dlgradient, extractdata

from gradcheck import assert_close, numerical_gradient
import redteam_dec3d_classes as classes

X = np.array([0.3, 0.7, -0.4, 1.2, 0.55, 0.9])
V = np.array([0.25, -0.3, 0.35])


@pytest.fixture(autouse=True)
def fresh():
    sct.clear_cache()
    _reset()
    yield
    sct.clear_cache()
    _reset()


def _reset():
    classes.Shared.pool.clear()
    classes.Shared.pool["w"] = 0.0
    classes.History.hist.clear()
    classes.Total.total[:] = 0.0


def _run(fun):
    def both(x, v):
        y = fun(x, v)
        return y, dlgradient(y, x, v)
    return dlfeval(both, dlarray(X.copy()), dlarray(V.copy()))


@pytest.mark.parametrize("fun, line", [
    (classes.shared_direct, "self.pool[\"w\"] = w"),
    (classes.shared_helper, "self.pool[\"w\"] = w"),
    (classes.history, "self.hist.append(w * 2.0)"),
    (classes.total, "self.total += w"),
])
def test_class_attribute_changed_in_init_is_refused(fun, line):
    with pytest.raises((CompileError, EvaluationError)) as info:
        _run(fun)
    error = info.value
    assert error.filename.endswith("redteam_dec3d_classes.py")
    with open(error.filename) as f:
        assert f.read().splitlines()[error.lineno - 1].split("#")[0].strip() == line
    assert "did not create" in str(error)
    # what Python computes differs from the value sct gave before (s1 sees s2's write)
    _reset()
    assert not np.isclose(fun(X.copy(), V.copy()), 0.0)


def test_numbers_and_own_attributes_still_differentiated():
    value, (gx, gv) = _run(classes.scale)
    classes.Scale.count = 0
    assert_close(float(extractdata(value)), classes.scale(X.copy(), V.copy()), rtol=1e-12, atol=1e-12)
    for k, g in enumerate((gx, gv)):
        assert_close(extractdata(g), numerical_gradient(classes.scale, [X.copy(), V.copy()], k),
                     rtol=1e-6, atol=1e-7, what=f"d/darg{k}")
    assert classes.Scale.scale == 2.0 and classes.Scale.count == 0     # the class's own untouched


# --- what held up, kept as regression tests ------------------------------------------------------

def test_repeated_index_add_last_write_wins():
    x = X + 0.01234                   # no item on the y < 0.5 edge
    value, (gx, gv) = dlfeval(lambda a, b: (classes.repeated_add(a, b), dlgradient(classes.repeated_add(a, b), a, b)),
                              dlarray(x.copy()), dlarray(V.copy()))
    assert_close(float(extractdata(value)), classes.repeated_add(x.copy(), V.copy()), rtol=1e-12, atol=1e-12)
    gv = extractdata(gv)
    assert gv[0] == 0.0               # v[0]'s write is overwritten by v[1]'s
    for k, g in enumerate((extractdata(gx), gv)):
        assert_close(g, numerical_gradient(classes.repeated_add, [x.copy(), V.copy()], k), rtol=1e-6, atol=1e-7)


def test_kept_im2col_not_reused_for_a_new_array_at_the_same_address():
    from sct.runtime import dlfun
    rng = np.random.default_rng(0)
    w = rng.standard_normal((3, 3, 3, 4))
    geometry = dlfun.conv_geometry((2, 6, 6, 3), w.shape, 1, 1, "same", 0)
    g = rng.standard_normal((2, 6, 6, 4))
    for _ in range(20):
        x1 = rng.standard_normal((2, 6, 6, 3))
        dlfun.conv_core(x1, w, geometry)
        del x1                        # its kept matrix goes with it; x2 often gets its id
        x2 = rng.standard_normal((2, 6, 6, 3))
        kept = dlfun.conv_filter_adjoint(x2, g, w.shape, geometry)
        dlfun._COLS.clear()
        assert np.array_equal(kept, dlfun.conv_filter_adjoint(x2, g, w.shape, geometry))
