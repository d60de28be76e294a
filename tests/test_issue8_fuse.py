"""Issue 8, item 7: the optional fused backend (numexpr) for chains of elementwise operations.

With ``sct.set_backend("numexpr")`` the generated code evaluates chains of elementwise numpy
operations as one numexpr call (sct/fuse.py, sct/runtime/fused.py).  Values and gradients must
be those of the unfused code (to 1e-12 relative in float64; float32 stays float32), first and
second derivatives, broadcasting and Python scalars included; without numexpr the option says
to install the extra.  The fused path is tested with every array fused (``min_size=0``).
"""
from __future__ import annotations

import importlib
import re
import sys
import textwrap
import warnings
from dataclasses import dataclass

import numpy as np
import pytest

import sct
from sct import dlarray, dlfeval, dlgradient
from sct.errors import EvaluationError, SctError
from sct.runtime import fused as rt_fused

try:
    from tests.gradcheck import assert_close, leaves, numerical_gradient
except ImportError:                      # run from inside tests/
    from gradcheck import assert_close, leaves, numerical_gradient


# --- the option -----------------------------------------------------------------------------------

def test_default_backend_is_numpy_and_fuses_nothing():
    assert sct.get_backend() == "numpy"
    assert "rt.fused" not in sct.source(chain, dlarray(np.ones(4)), dlarray(np.ones(4)))


def test_missing_numexpr_says_to_install_the_extra(monkeypatch):
    monkeypatch.setitem(sys.modules, "numexpr", None)      # import numexpr raises ImportError
    with pytest.raises(SctError, match=r'pip install "sct-autodiff\[fast\]"'):
        sct.set_backend("numexpr")
    assert sct.get_backend() == "numpy"


def test_unknown_backend_is_refused():
    with pytest.raises(SctError, match="unknown backend"):
        sct.set_backend("numba-please")


@pytest.fixture
def fused():
    pytest.importorskip("numexpr")
    old = rt_fused.min_size[0]
    sct.set_backend("numexpr", min_size=0, cost_model=False)     # every chain fused, numexpr wherever it can
    try:
        yield
    finally:
        sct.set_backend("numpy", min_size=old, cost_model=True)


@pytest.fixture
def count(monkeypatch):
    """How many fused calls numexpr evaluated (the rest went to numpy)."""
    seen = {"numexpr": 0, "numpy": 0}
    original = rt_fused.FusedExpression._try_numexpr

    def counted(self, args):
        out = original(self, args)
        seen["numexpr" if out is not None else "numpy"] += 1
        return out
    monkeypatch.setattr(rt_fused.FusedExpression, "_try_numexpr", counted)
    return seen


def both(fun, *args):
    """``dlfeval(fun, *args)`` unfused and fused (the caller's backend is numexpr)."""
    on = dlfeval(fun, *args)
    sct.set_backend("numpy")
    try:
        off = dlfeval(fun, *args)
    finally:
        sct.set_backend("numexpr")
    return on, off


def assert_same(on, off, rtol=1e-12):
    a, b = list(leaves(on)), list(leaves(off))
    assert len(a) == len(b)
    for u, v in zip(a, b):
        u, v = np.asarray(getattr(u, "data", u)), np.asarray(getattr(v, "data", v))
        assert u.dtype == v.dtype and u.shape == v.shape
        scale = max(float(np.max(np.abs(v), initial=0.0)), 1e-300)
        np.testing.assert_allclose(u, v, rtol=rtol, atol=rtol * scale, equal_nan=True)


# --- user-style programs ----------------------------------------------------------------------------

def chain(x, w):
    t = 2.0 * x - w * 0.5
    u = (t * t + 1.0) / (1.0 + w * w) - 3 * x
    y = np.sum(u * x - 1.5 * w)
    return y, dlgradient(y, x, w)


def test_chain_is_fused_and_readable(fused):
    src = sct.source(chain, dlarray(np.ones(4)), dlarray(np.ones(4)))
    assert "rt.fused('" in src
    # the user's names are in the fused text
    assert re.search(r"rt\.fused\('[^']*\bw \* w\b[^']*', w\)", src), src


def test_chain_values_and_gradients(fused, count):
    rng = np.random.default_rng(0)
    x, w = dlarray(rng.standard_normal(50)), dlarray(rng.standard_normal(50))
    on, off = both(chain, x, w)
    assert_same(on, off)
    assert count["numexpr"] > 0
    f = lambda x, w: float(np.sum(((2.0 * x - w * 0.5) ** 2 + 1.0) / (1.0 + w * w) * x - 3 * x * x - 1.5 * w))
    assert_close(on[1][0].data, numerical_gradient(f, [x.data, w.data], 0), rtol=1e-6, atol=1e-7)
    assert_close(on[1][1].data, numerical_gradient(f, [x.data, w.data], 1), rtol=1e-6, atol=1e-7)


# every numpy function the fused text can hold, in a chain around it
DOMAIN = {"arcsin": "0.3 * t", "arccos": "0.3 * t", "arctanh": "0.3 * t",
          "log": "1.5 + t * t", "log10": "1.5 + t * t", "sqrt": "1.5 + t * t", "arccosh": "1.5 + t * t",
          "reciprocal": "1.5 + t * t", "log1p": "0.5 + t * t"}
UNARY = sorted(n for n, (arity, _) in rt_fused.FUNCTIONS.items() if arity == 1)


@pytest.fixture(scope="module")
def op_programs(tmp_path_factory):
    lines = ["import numpy as np", "from sct import dlgradient", ""]
    for name in UNARY:
        arg = DOMAIN.get(name, "t")
        lines += [f"def f_{name}(x, w):",
                  "    t = 2.0 * x - w * 0.5",
                  f"    u = np.{name}({arg}) * w + t * t",
                  "    y = np.sum(u * x - 1.5 * w)",
                  "    return y, dlgradient(y, x, w)", "",
                  f"def h_{name}(x):",
                  "    t = 2.0 * x - 0.25",
                  f"    u = np.{name}({arg}) * x + t * t",
                  "    return np.sum(u * x)", ""]
    lines += ["def f_arctan2(x, w):",
              "    u = np.arctan2(x * 2.0 + 0.1, w * w + 0.5) * w - x / 3.0",
              "    y = np.sum(u * x)",
              "    return y, dlgradient(y, x, w)", ""]
    path = tmp_path_factory.mktemp("fuse_ops") / "fuse_op_programs.py"
    path.write_text("\n".join(lines))
    sys.path.insert(0, str(path.parent))
    try:
        module = importlib.import_module("fuse_op_programs")
    finally:
        sys.path.remove(str(path.parent))
    return module


@pytest.mark.parametrize("name", UNARY + ["arctan2"])
def test_each_function_first_derivatives(fused, count, op_programs, name):
    rng = np.random.default_rng(1)
    x, w = dlarray(rng.uniform(-1, 1, 40)), dlarray(rng.uniform(-1, 1, 40))
    fun = getattr(op_programs, "f_" + name)
    with warnings.catch_warnings():
        warnings.simplefilter("error")           # no warning either way on these domains
        on, off = both(fun, x, w)
    assert_same(on, off)
    assert count["numexpr"] > 0
    assert "rt.fused('" in sct.source(fun, x, w)


@pytest.mark.parametrize("name", UNARY)
def test_each_function_second_derivatives(fused, op_programs, name):
    """sct.hvp differentiates the generated (fused) code again: its fused calls are read back
    as the numpy expressions they stand for."""
    rng = np.random.default_rng(2)
    x, v = rng.uniform(-1, 1, 12), rng.uniform(-1, 1, 12)
    fun = getattr(op_programs, "h_" + name)
    on = sct.hvp(fun, dlarray(x), dlarray(v))
    sct.set_backend("numpy")
    try:
        off = sct.hvp(fun, dlarray(x), dlarray(v))
    finally:
        sct.set_backend("numexpr")
    assert_same(on, off, rtol=1e-11)


def nested(x):
    y = np.sum((x * x - 2.0 * x) * (1.0 + x) / (2.0 + x * x))
    g = dlgradient(y, x, EnableHigherDerivatives=True)
    z = np.sum(g * g * 0.5 - g)
    return z, dlgradient(z, x)


def test_nested_dlgradient_second_order(fused, count):
    x = dlarray(np.linspace(-1.0, 1.5, 30))
    on, off = both(nested, x)
    assert_same(on, off)
    assert count["numexpr"] > 0

    def z(x):
        y, g = None, None
        h = 1e-6
        grad = np.array([(np.sum(((x + h * e) ** 2 - 2 * (x + h * e)) * (1 + x + h * e) / (2 + (x + h * e) ** 2)) -
                          np.sum(((x - h * e) ** 2 - 2 * (x - h * e)) * (1 + x - h * e) / (2 + (x - h * e) ** 2)))
                         / (2 * h) for e in np.eye(x.size)])
        return float(np.sum(grad * grad * 0.5 - grad))
    assert_close(on[1].data, numerical_gradient(z, [x.data], 0, step=1e-4), rtol=1e-4, atol=1e-5)


def test_float32_stays_float32(fused, count):
    rng = np.random.default_rng(3)
    x = dlarray(rng.standard_normal(64).astype(np.float32))
    w = dlarray(rng.standard_normal(64).astype(np.float32))
    on, off = both(chain, x, w)
    assert count["numexpr"] > 0
    for a in leaves(on):
        assert np.asarray(a.data).dtype == np.float32
    assert_same(on, off, rtol=1e-6)


def bias(X, b, s):
    Z = (X * b + s) ** 2 - X / (1.0 + b * b)
    y = np.sum(Z * 0.5 + s * X)
    return y, dlgradient(y, X, b)


def test_broadcasting_and_python_scalars(fused):
    rng = np.random.default_rng(4)
    X, b = dlarray(rng.standard_normal((6, 5))), dlarray(rng.standard_normal(5))
    on, off = both(bias, X, b, 0.75)
    assert_same(on, off)
    assert on[1][1].data.shape == (5,)
    on, off = both(bias, X, b, 2)              # an int scalar
    assert_same(on, off)


def step(h, p):
    return np.tanh(h * p["a"] + p["b"]) * 0.5 + h * (1.0 - p["c"])


def loop_model(p, x):
    h = x
    for _ in range(3):
        h = step(h, p)
    loss = np.sum((h - 0.3) ** 2 / 2.0)
    return loss, dlgradient(loss, p)


def test_params_in_dict_helper_in_loop(fused, count):
    rng = np.random.default_rng(5)
    p = {k: dlarray(rng.uniform(0.1, 0.9, 16)) for k in "abc"}
    on, off = both(loop_model, p, dlarray(rng.standard_normal(16)))
    assert_same(on, off)
    assert count["numexpr"] > 0


@dataclass
class Quad:
    a: float
    b: float

    def energy(self, x):
        return np.sum(self.a * x * x - self.b * x + 1.0 / (2.0 + x * x))


def obj_loss(q, x):
    e = q.energy(x)
    return e, dlgradient(e, x)


def test_method_of_a_dataclass(fused):
    on, off = both(obj_loss, Quad(0.5, 2.0), dlarray(np.linspace(-2, 2, 25)))
    assert_same(on, off)


def reassigned(x):
    y = x * 2.0 + 1.0
    y = y * y - x
    y = y / (1.0 + x * x)
    s = np.sum(y)
    return s, dlgradient(s, x)


def test_reassigned_names(fused):
    on, off = both(reassigned, dlarray(np.linspace(-1, 1, 9)))
    assert_same(on, off)


def divides(x):
    y = np.sum(x * (1.0 / (x - x)) + x)
    return y


def test_division_by_zero_keeps_numpy_values_and_warning(fused):
    x = dlarray(np.linspace(1.0, 2.0, 8))
    with pytest.warns(RuntimeWarning, match="divide by zero"):
        on = dlfeval(divides, x)
    sct.set_backend("numpy")
    try:
        with pytest.warns(RuntimeWarning, match="divide by zero"):
            off = dlfeval(divides, x)
    finally:
        sct.set_backend("numexpr")
    assert np.isinf(float(on)) and float(on) == float(off)


def mismatch(x, z):
    y = np.sum(x * 2.0 + z * 3.0 - x)
    return y, dlgradient(y, x)


def test_shape_error_at_the_users_line(fused):
    with pytest.raises(EvaluationError) as info:
        dlfeval(mismatch, dlarray(np.ones(3)), dlarray(np.ones(4)))
    assert info.value.lineno == mismatch.__code__.co_firstlineno + 1
    assert info.value.filename == __file__


def test_integer_and_complex_data_go_to_numpy(fused, count):
    def run(x):
        return rt_fused.fused("x * 2 + x * x - 1", x)
    for x in (np.arange(6), np.arange(6) * (1 + 2j), np.arange(6, dtype=np.float16)):
        out = run(x)
        ref = x * 2 + x * x - 1
        assert out.dtype == ref.dtype and np.array_equal(out, ref)
    assert count["numexpr"] == 0
    out = run(np.arange(6.0))
    assert count["numexpr"] == 1 and np.array_equal(out, np.arange(6.0) * 2 + np.arange(6.0) ** 2 - 1)


def test_mixed_dtypes_go_to_numpy(fused, count):
    a, b = np.ones(5, np.float32), np.ones(5)
    out = rt_fused.fused("a * b + a", a, b)
    assert out.dtype == (a * b + a).dtype and count["numexpr"] == 0


def test_powers_keep_numpy_results(fused):
    x = np.linspace(0.1, 3.0, 50)
    for p in (2, 0.5, -1, 0, 1):
        assert np.array_equal(rt_fused.fused(f"x ** {p} * 1.0 + 0.0", x), x ** p * 1.0 + 0.0)
    for p in (3, -2, 2.5, 7):
        assert_close(rt_fused.fused(f"x ** {p} * 1.0 + 0.0", x), x ** p, rtol=1e-14, atol=0)
    x32 = x.astype(np.float32)
    for p in (3, 2.5, -1, 0.5):
        out = rt_fused.fused(f"x ** {p} * 1.0 + 0.0", x32)
        assert out.dtype == np.float32


def test_errstate_raise_is_numpys(fused):
    x = np.linspace(0.0, 1.0, 5)
    with np.errstate(divide="raise"):
        with pytest.raises(FloatingPointError):
            rt_fused.fused("x * 1.0 / (x * 0.0)", x)


def test_small_arrays_stay_numpy(count):
    pytest.importorskip("numexpr")
    old = rt_fused.min_size[0]
    sct.set_backend("numexpr", min_size=1000, cost_model=False)
    try:
        rng = np.random.default_rng(6)
        small = (dlarray(rng.standard_normal(10)), dlarray(rng.standard_normal(10)))
        dlfeval(chain, *small)
        assert count["numexpr"] == 0          # (no array of min_size elements: numpy at once)
        large = (dlarray(rng.standard_normal(2000)), dlarray(rng.standard_normal(2000)))
        on, off = both(chain, *large)
        assert count["numexpr"] > 0
        assert_same(on, off)
    finally:
        sct.set_backend("numpy", min_size=old, cost_model=True)


def test_switching_backend_recompiles(fused):
    args = (dlarray(np.ones(3)), dlarray(np.ones(3)))
    assert "rt.fused" in sct.source(chain, *args)
    sct.set_backend("numpy")
    try:
        assert "rt.fused" not in sct.source(chain, *args)
    finally:
        sct.set_backend("numexpr")


def test_environment_variable_switches_it_on(tmp_path):
    pytest.importorskip("numexpr")
    import subprocess
    import os
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    code = "import sct; from sct.runtime import fused; print(sct.get_backend(), fused.min_size[0])"
    out = subprocess.run([sys.executable, "-c", code], cwd=root, capture_output=True, text=True,
                         env=dict(os.environ, SCT_BACKEND="numexpr", SCT_FUSE_MIN_SIZE="7"), timeout=120)
    assert out.stdout.split() == ["numexpr", "7"], out.stderr
