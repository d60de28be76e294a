"""Issue 8, item 4: scalar specialisation (sct/scalars.py).

Code on real float64 scalar inputs runs as Python floats with ``math``.  Every program here
is checked against plain numpy (values to 1 ulp where ``math`` and numpy may differ, exact
otherwise), against central differences (gradients), and against the same code with the
specialisation off (SCT_SCALARS=0): same values, dtypes and types.
"""
import os
import warnings

import numpy as np
import pytest

import sct
from sct import cache, dlarray, dlfeval, dlgradient, extractdata

from gradcheck import assert_close, numerical_gradient


# --- programs, written as users write them (each value function beside its gradient) -----------

def loop_value(x):
    y = x
    for i in range(200):
        if y > 0.5:
            y = y - 0.02*np.sin(3*y) - 0.01
        else:
            y = y + 0.02*np.cos(y) + 0.01*y*y
    return y


def loop_grad(x):
    y = x
    for i in range(200):
        if y > 0.5:
            y = y - 0.02*np.sin(3*y) - 0.01
        else:
            y = y + 0.02*np.cos(y) + 0.01*y*y
    return y, dlgradient(y, x)


def mixed_value(x, c, k):
    s = 0.0
    for i in range(k):
        t = np.exp(-x * c) / (1.0 + x * x) + np.tanh(x - i) ** 2
        s = s + t * np.sqrt(x * x + 1.0) - np.log(1.0 + np.abs(x)) / (i + 1)
    return s


def mixed_grad(x, c, k):
    s = 0.0
    for i in range(k):
        t = np.exp(-x * c) / (1.0 + x * x) + np.tanh(x - i) ** 2
        s = s + t * np.sqrt(x * x + 1.0) - np.log(1.0 + np.abs(x)) / (i + 1)
    return s, dlgradient(s, x)


def two_inputs_value(a, b):
    y = a * b
    n = 0
    while y < 10.0 and n < 50:
        y = y * 1.5 + np.arctan(b) - np.cosh(a) * 0.01
        n = n + 1
        if y > 8.0:
            break
    return y * y - a / b


def two_inputs_grad(a, b):
    y = a * b
    n = 0
    while y < 10.0 and n < 50:
        y = y * 1.5 + np.arctan(b) - np.cosh(a) * 0.01
        n = n + 1
        if y > 8.0:
            break
    z = y * y - a / b
    return z, dlgradient(z, a, b)


def const_input_grad(a, b):
    y = a * b
    for i in range(3):
        y = y * np.cos(b) + a / b
    return y, dlgradient(y, a)


def step(y, r):
    return r * y * (1.0 - y)


def helper_value(x):
    y = x
    for i in range(5):
        y = step(y, 3.2) + 0.1 * np.sin(y)
    return y


def helper_grad(x):
    y = x
    for i in range(5):
        y = step(y, 3.2) + 0.1 * np.sin(y)
    return y, dlgradient(y, x)


def mix_value(x, A):
    z = x * 2.0 + np.sin(x)
    return np.sum(z * A) + z


def mix_grad(x, A):
    z = x * 2.0 + np.sin(x)
    s = np.sum(z * A) + z
    return s, z, dlgradient(s, x, A)


def second_grad(x):
    y = x * np.sin(x) ** 2 + np.exp(0.5 * x)
    g = dlgradient(y, x, EnableHigherDerivatives=True)
    return y, g, dlgradient(g, x)


def untouched(x):
    y = x
    for i in range(0):
        y = y * 2.0
    return y, dlgradient(x * 3.0, x)


def domain_value(x):
    a = np.log(x)
    b = np.sqrt(x)
    c = np.exp(1000.0 * x)
    d = 1.0 / x
    e = x ** -1.0
    f = np.arcsin(x)
    return a, b, c, d, e, f


def domain_grad(x):
    a = np.log(x)
    b = np.sqrt(x)
    c = np.exp(1000.0 * x)
    d = 1.0 / x
    e = x ** -1.0
    f = np.arcsin(x)
    y = x * x
    return a, b, c, d, e, f, dlgradient(y, x)


def cond_value(x):
    big = x > 1.0
    return big, x * 2.0


def cond_grad(x):
    big = x > 1.0
    y = x * 2.0
    return big, y, dlgradient(y, x)


# --- helpers -----------------------------------------------------------------------------------

@pytest.fixture(autouse=True)
def _fresh_cache():
    cache.clear()
    yield
    cache.clear()


def run(fn, *args, scalars=True, fresh=True):
    # fresh=False: the code source() just compiled with the pass on (the default) is reused
    import os
    old = os.environ.get("SCT_SCALARS")
    os.environ["SCT_SCALARS"] = "1" if scalars else "0"
    if fresh:
        cache.clear()
    try:
        return dlfeval(fn, *args)
    finally:
        if old is None:
            os.environ.pop("SCT_SCALARS", None)
        else:
            os.environ["SCT_SCALARS"] = old
        cache.clear()


def data(v):
    return extractdata(v) if isinstance(v, sct.dlarray) else v


def same_kind(a, b):
    """The same type, dtype and shape (results of the specialised and unspecialised code)."""
    assert type(a) is type(b), (type(a), type(b))
    if isinstance(a, tuple):
        assert len(a) == len(b)
        for u, v in zip(a, b):
            same_kind(u, v)
        return
    if isinstance(a, sct.dlarray):
        da, db = data(a), data(b)
        assert type(da) is type(db) and da.dtype == db.dtype and da.shape == db.shape, (da, db)


def assert_ulps(actual, expected, ulps=4, what=""):
    actual, expected = np.asarray(actual, dtype=np.float64), np.asarray(expected, dtype=np.float64)
    both_nan = np.isnan(actual) & np.isnan(expected)
    with np.errstate(invalid="ignore"):
        diff = np.abs(actual - expected)
    limit = ulps * np.spacing(np.abs(expected))
    ok = both_nan | (actual == expected) | (diff <= limit)
    assert np.all(ok), f"{what}: {actual} != {expected}"


def source(fn, *args):
    cache.clear()
    return sct.source(fn, *args)


# --- the specialisation is applied ---------------------------------------------------------------

def test_loop_runs_on_python_floats():
    text = source(loop_grad, dlarray(0.3))
    fwd, _, sweep = text.partition("_dlgradient_line")
    assert "scalar_argument(x)" in fwd and "rt.scalar_sin" in fwd and "= np.sin" not in fwd
    assert "rt.unbroadcast" not in sweep and "rt.scalar_cos" in sweep
    assert "rt.scalar_project(d_x, x)" in sweep     # the gradient still gets its argument's type


@pytest.mark.parametrize("x0", [0.3, 0.49, 0.9, -0.7, 2.5])
def test_loop_values_and_gradient(x0):
    y, g = run(loop_grad, dlarray(x0))
    y0, g0 = run(loop_grad, dlarray(x0), scalars=False)
    same_kind((y, g), (y0, g0))
    assert_ulps(data(y), loop_value(np.float64(x0)), ulps=64, what="value")
    assert_ulps(data(g), data(g0), ulps=64, what="gradient vs unspecialised")
    num = numerical_gradient(lambda v: loop_value(v), [np.float64(x0)], 0)
    assert_close(data(g), num, rtol=1e-5, atol=1e-7)


@pytest.mark.parametrize("x0", [0.2, 1.3, -2.0])
def test_python_float_and_int_constants(x0):
    out = run(mixed_grad, dlarray(x0), 0.7, 4)
    ref = run(mixed_grad, dlarray(x0), 0.7, 4, scalars=False)
    same_kind(out, ref)
    assert_ulps(data(out[0]), mixed_value(np.float64(x0), 0.7, 4), ulps=8)
    num = numerical_gradient(lambda v: mixed_value(v, 0.7, 4), [np.float64(x0)], 0)
    assert_close(data(out[1]), num, rtol=1e-5, atol=1e-7)


@pytest.mark.parametrize("a0,b0", [(1.2, 0.8), (0.3, 2.0), (3.0, 4.0), (-0.5, 1.5)])
def test_while_break_two_inputs(a0, b0):
    z, (ga, gb) = run(two_inputs_grad, dlarray(a0), dlarray(b0))
    ref = run(two_inputs_grad, dlarray(a0), dlarray(b0), scalars=False)
    same_kind((z, (ga, gb)), ref)
    assert_ulps(data(z), two_inputs_value(np.float64(a0), np.float64(b0)), ulps=8)
    for k, g in enumerate((ga, gb)):
        num = numerical_gradient(two_inputs_value, [np.float64(a0), np.float64(b0)], k)
        assert_close(data(g), num, rtol=1e-5, atol=1e-6)


def test_numpy_float64_and_0d_array_inputs():
    for a in (np.float64(1.2), np.array(1.2)):
        out = run(const_input_grad, dlarray(0.9), a)
        ref = run(const_input_grad, dlarray(0.9), a, scalars=False)
        assert "scalar_cos" in source(const_input_grad, dlarray(0.9), a)
        assert_ulps(data(out[0]), data(ref[0]))
        assert_ulps(data(out[1]), data(ref[1]))
        same_kind(out, ref)


def test_helpers_called_with_scalars():
    y, g = run(helper_grad, dlarray(0.4))
    y0, g0 = run(helper_grad, dlarray(0.4), scalars=False)
    same_kind((y, g), (y0, g0))
    assert_ulps(data(y), helper_value(np.float64(0.4)), ulps=8)
    num = numerical_gradient(helper_value, [np.float64(0.4)], 0)
    assert_close(data(g), num, rtol=1e-5, atol=1e-7)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_scalar_times_array_stays_numpy(dtype):
    A = np.linspace(-1, 1, 5).astype(dtype)
    s, z, (gx, gA) = run(mix_grad, dlarray(0.6), dlarray(A))
    ref = run(mix_grad, dlarray(0.6), dlarray(A), scalars=False)
    same_kind((s, z, (gx, gA)), ref)
    plain = mix_value(np.array(0.6), A)
    assert data(s).dtype == np.asarray(plain).dtype and data(s).shape == np.shape(plain)
    assert_ulps(data(s), plain, ulps=8)
    assert data(gA).dtype == dtype and data(gx).dtype == np.float64
    assert_close(data(gx), numerical_gradient(lambda v: np.sum(mix_value(v, A)), [np.float64(0.6)], 0),
                 rtol=1e-4, atol=1e-5)


def test_second_derivative():
    def f(v):
        return v * np.sin(v) ** 2 + np.exp(0.5 * v)

    def df(v):
        return np.sin(v) ** 2 + 2 * v * np.sin(v) * np.cos(v) + 0.5 * np.exp(0.5 * v)

    y, g, h = run(second_grad, dlarray(0.8))
    ref = run(second_grad, dlarray(0.8), scalars=False)
    same_kind((y, g, h), ref)
    assert_ulps(data(y), f(np.float64(0.8)), ulps=4)
    assert_close(data(g), df(0.8), rtol=1e-12, atol=1e-12)
    assert_close(data(h), numerical_gradient(df, [np.float64(0.8)], 0), rtol=1e-6, atol=1e-7)


def test_zero_steps_returns_the_input_itself():
    x = dlarray(0.25)
    y, g = run(untouched, x)
    y0, g0 = run(untouched, x, scalars=False)
    same_kind((y, g), (y0, g0))
    assert data(y) == 0.25 and data(g) == 3.0


def test_float32_and_complex_not_specialised():
    text = source(loop_grad, dlarray(np.float32(0.3)))
    assert "scalar_" not in text and "scalar_argument(x)" not in text
    y, g = run(loop_grad, dlarray(np.float32(0.3)))
    y0, g0 = run(loop_grad, dlarray(np.float32(0.3)), scalars=False)
    same_kind((y, g), (y0, g0))
    assert data(y).dtype == np.float32 and data(g).dtype == np.float32
    assert data(y) == data(y0) and data(g) == data(g0)


def test_vectors_not_specialised():
    text = source(loop_grad, dlarray(np.array([0.3])))
    assert "scalar_" not in text


def test_comparison_results_keep_numpy_bool():
    out = run(cond_grad, dlarray(1.5))
    ref = run(cond_grad, dlarray(1.5), scalars=False)
    same_kind(out, ref)
    assert type(data(out[0])) is type(data(ref[0]))
    assert bool(data(out[0])) is True


@pytest.mark.parametrize("x0", [-1.0, 0.0, 2.0, np.inf, -np.inf, np.nan])
def test_domain_edges_match_numpy(x0):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        out = run(domain_grad, dlarray(x0))
        ref = run(domain_grad, dlarray(x0), scalars=False)
        plain = domain_value(np.array(x0))
    same_kind(out, ref)
    for k, (a, b) in enumerate(zip(out[:6], plain)):
        assert_ulps(data(a), b, ulps=2, what=f"result {k}")
    assert_ulps(data(out[6]), data(ref[6]), ulps=0, what="gradient")


def test_domain_error_warns_like_numpy():
    text = source(domain_grad, dlarray(-1.0))
    assert "rt.scalar_log" in text
    with pytest.warns(RuntimeWarning):
        run(domain_grad, dlarray(-1.0))


def test_nan_propagates_through_loop():
    y, g = run(loop_grad, dlarray(np.nan))
    assert np.isnan(data(y)) and np.isnan(data(g))


def test_write_through_alias_not_stale():
    def f(x):
        y = x * 1.0
        z = y
        w = z * 2.0
        return w, dlgradient(w, x)

    out = run(f, dlarray(1.5))
    ref = run(f, dlarray(1.5), scalars=False)
    same_kind(out, ref)
    assert data(out[0]) == 3.0 and data(out[1]) == 2.0


def test_argument_used_elsewhere_is_exact():
    def f(x, A):
        y = x * 2.0
        B = A * x          # x as an array operand: read as it is
        s = np.sum(B) + y
        return s, dlgradient(s, x)

    A = np.arange(3, dtype=np.float32)
    out = run(f, dlarray(0.5), A)
    ref = run(f, dlarray(0.5), A, scalars=False)
    same_kind(out, ref)
    assert data(out[0]) == data(ref[0]) and data(out[1]) == data(ref[1])


def int_grad(x, n):
    y = x
    for i in range(n):
        y = y * 0.9 + np.sin(y) / (i + 1) + n * 0.01
    return y, dlgradient(y, x)


def test_ints():
    for x in (dlarray(2), dlarray(np.array(2))):            # integer data: a float64 dlarray
        out = run(int_grad, x, 3)
        ref = run(int_grad, x, 3, scalars=False)
        same_kind(out, ref)
        assert data(out[0]).dtype == np.float64
        assert_close(data(out[0]), data(ref[0]), rtol=1e-14, atol=0)
        assert_close(data(out[1]), data(ref[1]), rtol=1e-12, atol=0)
    assert "scalar_sin" in source(int_grad, dlarray(2.0), 3)


def test_python_float_input_stays_a_constant():
    def f(x, c):
        y = x * c + np.sin(c)
        return y, dlgradient(y, c)

    for scalars in (True, False):
        with pytest.raises(sct.CompileError):
            run(f, dlarray(1.0), 0.5, scalars=scalars)

    def g(c):
        y = c * 2.0 + np.sin(c)
        return y

    out, ref = run(g, 0.5), run(g, 0.5, scalars=False)
    same_kind(out, ref)
    assert data(out) == data(ref)


def test_switch_off(monkeypatch):
    monkeypatch.setenv("SCT_SCALARS", "0")
    text = source(loop_grad, dlarray(0.3))
    assert "scalar_" not in text


def test_scalar_ops_match_numpy():
    from sct.runtime import scalar_ops as so
    rng = np.random.default_rng(0)
    xs = np.concatenate([rng.standard_normal(200) * 3, [0.0, -0.0, 1.0, -1.0, 1e-300, 710.0, -710.0,
                                                         np.inf, -np.inf, np.nan, 2.0, 0.5]])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        for name, target in so.FUNCTIONS.items():
            fn = getattr(sct.compiler.RT, target)
            for x in xs:
                assert_ulps(fn(float(x)), getattr(np, name)(np.float64(x)), ulps=4, what=f"{name}({x})")
        for a in xs[:40]:
            for b in (0.0, -0.0, 2.0, -1.0, 0.5, 3, -2, np.inf, np.nan):
                assert_ulps(so.scalar_divide(float(a), b), np.float64(a) / b, ulps=0, what=f"{a}/{b}")
                assert_ulps(so.scalar_power(float(a), b), np.float64(a) ** b, ulps=1, what=f"{a}**{b}")
        assert so.scalar_power(0.0, -1.0) == np.inf and np.isnan(so.scalar_power(-8.0, 1 / 3))
        assert so.scalar_power(1e200, 2) == np.inf


# --- random scalar programs: specialised vs unspecialised vs plain numpy vs central differences ----

def _expr(rng, names, depth=0):
    if depth > 2 or rng.random() < 0.3:
        return rng.choice(names + [repr(round(rng.uniform(-2, 2), 2)), str(rng.randint(1, 3))])
    a, b = _expr(rng, names, depth + 1), _expr(rng, names, depth + 1)
    return rng.choice([f"({a} + {b})", f"({a} - {b})", f"({a} * {b})", f"({a} / (1.5 + {b} * {b}))",
                       f"np.sin({a})", f"np.cos({a}) * {b}", f"np.tanh({a})", f"np.exp(-{a} * {a})",
                       f"np.sqrt(1.0 + {a} * {a})", f"np.log(2.0 + np.cos({a}))", f"({a}) ** 2",
                       f"-{a}", f"np.abs({a}) * 0.5", f"np.arctan({a})", f"({a} / {b})"])


def _program(rng, name):
    lines = ["y = x * 0.5 + c", "s = 0.0"]
    for _ in range(rng.randint(1, 3)):
        kind = rng.choice(["assign", "if", "for", "while"])
        names = ["x", "y", "s", "c"]
        if kind == "assign":
            lines.append(f"y = {_expr(rng, names)}")
        elif kind == "if":
            lines += [f"if {_expr(rng, names)} > {round(rng.uniform(-1, 1), 2)}:",
                      f"    y = {_expr(rng, names)}", "else:", f"    s = s + {_expr(rng, names)}"]
        elif kind == "for":
            lines += [f"for i in range({rng.randint(0, 4)}):", f"    y = 0.5 * y + 0.1 * {_expr(rng, names + ['i'])}",
                      "    s = s + 0.1 * y"]
        else:
            lines += ["n = 0", "while y < 2.0 and n < 3:", f"    y = y + 0.5 + 0.1 * np.tanh({_expr(rng, names)})",
                      "    n = n + 1"]
    lines.append("z = y + s * 0.5 + 0.01 * x")
    body = "\n".join("    " + l for l in lines)
    value = f"def {name}_value(x, c):\n{body}\n    return z\n"
    grad = f"def {name}_grad(x, c):\n{body}\n    return z, dlgradient(z, x)\n"
    return value + "\n\n" + grad


@pytest.mark.heavy      # (CI skips it: tests/conftest.py; 10-50 s)
def test_random_scalar_programs(tmp_path, monkeypatch):
    import importlib
    import random
    import sys
    rng = random.Random(int(os.environ.get("SCT_SCALAR_PROGRAMS_SEED", "8")))
    sources = ["import numpy as np\nfrom sct import dlgradient\n"]
    count = 40
    for k in range(count):
        sources.append(_program(rng, f"p{k}"))
    (tmp_path / "scalar_programs.py").write_text("\n\n".join(sources))
    monkeypatch.syspath_prepend(str(tmp_path))
    sys.modules.pop("scalar_programs", None)
    mod = importlib.import_module("scalar_programs")
    specialised = 0
    for k in range(count):
        value, grad = getattr(mod, f"p{k}_value"), getattr(mod, f"p{k}_grad")
        for x0 in (0.3, -1.1):
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", RuntimeWarning)
                text = source(grad, dlarray(x0), 0.7)        # compiled once: run(..., fresh=False) below reuses it
                specialised += "scalar_" in text or "scalar_argument(x)" in text
                try:
                    value(np.array(x0), 0.7)
                except ZeroDivisionError:           # a Python int divisor of 0: raised either way
                    for scalars in (True, False):
                        with pytest.raises(sct.EvaluationError, match="ZeroDivisionError"):
                            run(grad, dlarray(x0), 0.7, scalars=scalars)
                    continue
                out = run(grad, dlarray(x0), 0.7, fresh=False)
                ref = run(grad, dlarray(x0), 0.7, scalars=False)
                plain = value(np.array(x0), 0.7)
            same_kind(out, ref)
            # math's tanh and exp may differ from numpy's by an ulp; a loop or 1 - tanh**2 can
            # scale that up a little
            assert_close(data(out[0]), plain, rtol=1e-12, atol=1e-14, what=f"p{k}({x0}) value")
            assert_close(data(out[1]), data(ref[1]), rtol=1e-11, atol=1e-14, what=f"p{k}({x0}) gradient")
            if np.isfinite(data(out[1])):
                num = numerical_gradient(lambda v: value(v, 0.7), [np.float64(x0)], 0)
                assert_close(data(out[1]), num, rtol=1e-4, atol=1e-5, what=f"p{k}({x0}) gradient")
    assert specialised >= count           # most programs run on Python floats


def test_array_subclass_refused_not_miscomputed():
    # the kinds of a 0-d masked array are those of a 0-d array: the specialised code says so
    # rather than dropping the mask
    c = np.ma.masked_array(1.2, mask=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            out = run(const_input_grad, dlarray(0.9), c)
        except sct.EvaluationError as e:
            # refused where the masked array is passed (an ndarray subclass with its own operators),
            # or by the specialised scalar code
            assert "SCT_SCALARS=0" in str(e) or "MaskedArray, a subclass of numpy's ndarray" in str(e)
        else:
            ref = run(const_input_grad, dlarray(0.9), c, scalars=False)
            same_kind(out, ref)
