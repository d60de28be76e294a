"""The hit path's checks after the Dec 22 speed-ups (issue 8): a function's globals read by
subscript inside one ``try`` (a global gone is a miss), keyword-only defaults compared only where the
code has keyword-only parameters, and a global the code reads that was defined nowhere when it was
compiled guarded as absent (was: the code compiled while the name was missing, which raises
NameError, was reused after a notebook cell defined it: NameError on every later call).  Also the
gathered gradient of a vector's elements (``rt.scalar_elements_gradient(x, first, (e_0, ...))``).

Values against plain Python, gradients against closed forms and finite differences."""
from __future__ import annotations

import importlib.util
import types

import numpy as np
import pytest

from gradcheck import check_grads
from sct import dlarray, dlfeval, dlgradient, source
from sct.errors import CompileError, EvaluationError
from sct.runtime import scalar_ops

pytestmark = pytest.mark.usefixtures("fresh_cache")

X = np.array([1.0, -2.0, 0.5])


_MODULES = [0]


def _module(text: str, tmp_path) -> types.ModuleType:
    """A module made from ``text`` in a file (its globals changed between calls, as a notebook's)."""
    _MODULES[0] += 1
    name = f"cell_dec22_{_MODULES[0]}"
    path = tmp_path / f"{name}.py"
    path.write_text("import numpy as np\nfrom sct import dlgradient\n" + text)
    spec = importlib.util.spec_from_file_location(name, path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


SCALED = """
def f(x):
    y = np.sum(SCALE * x ** 2)
    return y, dlgradient(y, x)
"""


def _grad(out):
    return np.asarray(out[1]._data)


def test_global_rebound_deleted_and_defined_again(tmp_path):
    mod = _module("SCALE = 2.0\n" + SCALED, tmp_path)
    np.testing.assert_allclose(_grad(dlfeval(mod.f, dlarray(X))), 4.0 * X)
    mod.SCALE = 3.0
    np.testing.assert_allclose(_grad(dlfeval(mod.f, dlarray(X))), 6.0 * X)
    del mod.SCALE
    with pytest.raises(EvaluationError, match="SCALE"):
        dlfeval(mod.f, dlarray(X))
    mod.SCALE = 0.5                      # defined again: compiled anew, not the NameError's code
    y, g = dlfeval(mod.f, dlarray(X))
    np.testing.assert_allclose(float(y._data), np.sum(0.5 * X ** 2))
    np.testing.assert_allclose(_grad((y, g)), X)


def test_global_missing_at_first_call_then_defined(tmp_path):
    mod = _module(SCALED, tmp_path)
    for _ in range(2):                   # the failing code is cached: each call still raises
        with pytest.raises(EvaluationError, match="SCALE"):
            dlfeval(mod.f, dlarray(X))
    mod.SCALE = -1.5
    y, g = dlfeval(mod.f, dlarray(X))
    np.testing.assert_allclose(float(y._data), np.sum(-1.5 * X ** 2))
    np.testing.assert_allclose(_grad((y, g)), -3.0 * X)
    mod.SCALE = 2.5                      # and rebound again
    np.testing.assert_allclose(_grad(dlfeval(mod.f, dlarray(X))), 5.0 * X)


def test_helper_missing_then_defined(tmp_path):
    mod = _module("""
def f(x):
    y = np.sum(helper(x))
    return y, dlgradient(y, x)

def later(x):
    return np.sin(x) * x
""", tmp_path)
    with pytest.raises(CompileError, match="helper is not defined"):
        dlfeval(mod.f, dlarray(X))
    mod.helper = mod.later
    y, g = dlfeval(mod.f, dlarray(X))
    np.testing.assert_allclose(float(y._data), np.sum(np.sin(X) * X))
    np.testing.assert_allclose(_grad((y, g)), np.cos(X) * X + np.sin(X))


def test_keyword_only_default_changed_in_place_and_positional_defaults(tmp_path):
    mod = _module("""
def g(x, *, k=3.0):
    y = np.sum(k * x ** 2)
    return y, dlgradient(y, x)

def h(x, k=3.0):
    y = np.sum(k * x ** 3)
    return y, dlgradient(y, x)
""", tmp_path)
    np.testing.assert_allclose(_grad(dlfeval(mod.g, dlarray(X))), 6.0 * X)
    mod.g.__kwdefaults__["k"] = 5.0
    np.testing.assert_allclose(_grad(dlfeval(mod.g, dlarray(X))), 10.0 * X)
    np.testing.assert_allclose(_grad(dlfeval(mod.h, dlarray(X))), 9.0 * X ** 2)
    mod.h.__defaults__ = (1.0,)
    np.testing.assert_allclose(_grad(dlfeval(mod.h, dlarray(X))), 3.0 * X ** 2)
    # keyword defaults set on a function without keyword-only parameters: no call reads them
    mod.h.__kwdefaults__ = {"k": 7.0}
    np.testing.assert_allclose(_grad(dlfeval(mod.h, dlarray(X))), 3.0 * X ** 2)


def rosen2(x):
    return 100 * (x[1] - x[0] ** 2) ** 2 + (1 - x[0]) ** 2


def rosen2_grad(x):
    y = 100 * (x[1] - x[0] ** 2) ** 2 + (1 - x[0]) ** 2
    return y, dlgradient(y, x)


def tail_sum(x):
    return x[-1] * x[-2] ** 2


def tail_grad(x):
    y = x[-1] * x[-2] ** 2
    return y, dlgradient(y, x)


@pytest.mark.parametrize("x", [np.array([-1.2, 1.0]), np.array([0.3, -0.7, 2.0, 5.0]), np.array([-0.0, 0.0])])
def test_gathered_elements_gradient(x):
    assert "rt.scalar_elements_gradient(x, 0, (d_x0, (0.0 + d_x1)))" in str(source(rosen2_grad, dlarray(x)))
    y, g = dlfeval(rosen2_grad, dlarray(x))
    assert float(y._data) == rosen2(x)
    a = x[1] - x[0] ** 2
    want = np.zeros_like(x)
    want[0], want[1] = -400 * a * x[0] - 2 * (1 - x[0]), 200 * a
    np.testing.assert_allclose(_grad((y, g)), want, rtol=1e-14, atol=0)
    assert g._data.shape == x.shape and g._data.dtype == np.float64
    check_grads(rosen2, x)


@pytest.mark.parametrize("x", [np.array([0.5, -1.5]), np.array([2.0, 0.5, -1.5])])
def test_gathered_negative_indices(x):
    y, g = dlfeval(tail_grad, dlarray(x))
    assert float(y._data) == tail_sum(x)
    want = np.zeros_like(x)
    want[-1], want[-2] = x[-2] ** 2, 2 * x[-1] * x[-2]
    np.testing.assert_allclose(_grad((y, g)), want, rtol=1e-14, atol=0)
    check_grads(tail_sum, x)


def test_scalar_elements_gradient_fallbacks():
    x = np.array([1.0, 2.0, 3.0])
    np.testing.assert_array_equal(scalar_ops.scalar_elements_gradient(x, 0, (4.0, 5.0, 6.0)), [4.0, 5.0, 6.0])
    np.testing.assert_array_equal(scalar_ops.scalar_elements_gradient(x, 0, (4.0, 5.0)), [4.0, 5.0, 0.0])
    np.testing.assert_array_equal(scalar_ops.scalar_elements_gradient(x, -2, (4.0, 5.0)), [0.0, 4.0, 5.0])
    f32 = x.astype(np.float32)
    got = scalar_ops.scalar_elements_gradient(f32, 0, (4.0, 5.0, 6.0))
    assert got.dtype == np.float32
    np.testing.assert_array_equal(got, [4.0, 5.0, 6.0])
    with np.errstate(over="raise"):           # numpy's error state asks to raise: no Python floats
        assert scalar_ops.scalar_elements(x) is None
    assert scalar_ops.scalar_elements(x) is x
