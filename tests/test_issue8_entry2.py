"""Issue 8, per call (later): the gradient of a 1-d float64 argument whose elements are read at
constant indices is gathered by one ``rt.scalar_elements_gradient`` (one ``np.array`` of the
elements' adjoints where the argument has that many elements), and the entry returns its
specialised floats as they are (dlfeval wraps a Python float as it wraps a numpy float64).

Every program is checked against plain numpy (values), against the same code unspecialised
(SCT_SCALARS=0: same types, dtypes, shapes, writeability and values), against central
differences (tests/gradcheck.py), on the first call and on the repeated calls that take the
generated entry call (sct/api.py make_call).
"""
import os

import numpy as np
import pytest

import sct
from sct import cache, dlarray, dlfeval, dlgradient, extractdata

from gradcheck import assert_close, check_grads, numerical_gradient


# --- programs, as users write them -----------------------------------------------------------------

def rosen_value(x):
    return 100*(x[1] - x[0]**2)**2 + (1 - x[0])**2


def rosen_grad(x):
    y = 100*(x[1] - x[0]**2)**2 + (1 - x[0])**2
    return y, dlgradient(y, x)


def one_value(x):
    return 3.0 * x[0] ** 2 - np.sin(x[0])


def one_grad(x):
    y = 3.0 * x[0] ** 2 - np.sin(x[0])
    return y, dlgradient(y, x)


def tail_value(x):
    return x[-1] * x[-2] + np.exp(x[-3]) / (1.0 + x[-1] ** 2)


def tail_grad(x):
    y = x[-1] * x[-2] + np.exp(x[-3]) / (1.0 + x[-1] ** 2)
    return y, dlgradient(y, x)


def ends_value(x):
    return x[0] * x[-1] + x[0] ** 2


def ends_grad(x):
    y = x[0] * x[-1] + x[0] ** 2
    return y, dlgradient(y, x)


def gap_value(x):
    return x[0] * x[2] - x[2] ** 3


def gap_grad(x):
    y = x[0] * x[2] - x[2] ** 3
    return y, dlgradient(y, x)


def twice_value(x):
    a = x[0]
    b = x[1] * 2.0
    c = x[0]
    return a * b + np.cos(c)


def twice_grad(x):
    a = x[0]
    b = x[1] * 2.0
    c = x[0]
    y = a * b + np.cos(c)
    return y, dlgradient(y, x)


def pair_value(x, w):
    return (x[0] - w[1]) ** 2 + x[1] * w[0] * x[2]


def pair_grad(x, w):
    y = (x[0] - w[1]) ** 2 + x[1] * w[0] * x[2]
    gx, gw = dlgradient(y, x, w)
    return y, gx, gw


def same_twice_grad(x):
    y = x[0] * x[1]
    return y, y, dlgradient(y, x)


def written_grad(x):
    v = x.copy()
    a = x[0] * x[1]
    v[1] = 3.0 * a
    v[0] = v[0] - x[-1]
    y = a + v[1] * x[0] + v[0] * v[-1]
    return y, v, dlgradient(y, x)


def written_value(x):
    v = x.copy()
    a = x[0] * x[1]
    v[1] = 3.0 * a
    v[0] = v[0] - x[-1]
    return a + v[1] * x[0] + v[0] * v[-1]


def hessian_grad(x):
    y = x[0] ** 3 * x[1] + np.sin(x[1]) * x[0] + x[2] * x[0]
    g = dlgradient(y, x, EnableHigherDerivatives=True)
    z = g[0] * g[1] + g[2]
    return y, g, dlgradient(z, x)


def hessian_z(v):
    a, b, c = v[0], v[1], v[2]
    g0 = 3 * a ** 2 * b + np.sin(b) + c
    g1 = a ** 3 + np.cos(b) * a
    g2 = a
    return g0 * g1 + g2


def loop_grad(x):
    s = 0.0
    for i in range(2):
        s = s + x[i] * x[1 - i] ** 2
    return s, dlgradient(s, x)


def loop_value(x):
    s = 0.0
    for i in range(2):
        s = s + x[i] * x[1 - i] ** 2
    return s


# --- helpers -----------------------------------------------------------------------------------

@pytest.fixture(autouse=True)
def _fresh_cache():
    cache.clear()
    yield
    cache.clear()


def run(fn, *args, scalars=True, calls=3):
    """``dlfeval(fn, *args)`` ``calls`` times (the first run, then the entry call), the results of
    every call the same; the last one returned."""
    old = os.environ.get("SCT_SCALARS")
    os.environ["SCT_SCALARS"] = "1" if scalars else "0"
    cache.clear()
    try:
        outs = [dlfeval(fn, *args) for _ in range(calls)]
    finally:
        if old is None:
            os.environ.pop("SCT_SCALARS", None)
        else:
            os.environ["SCT_SCALARS"] = old
        cache.clear()
    for o in outs[1:]:
        same(o, outs[0])
    return outs[-1]


def data(v):
    return extractdata(v) if isinstance(v, sct.dlarray) else v


def same(a, b, exact=True):
    """The same type, dtype, shape, writeability (and values where ``exact``) in both results."""
    assert type(a) is type(b), (type(a), type(b))
    if isinstance(a, (tuple, list)):
        assert len(a) == len(b)
        for u, v in zip(a, b):
            same(u, v, exact)
        return
    if isinstance(a, sct.dlarray):
        da, db = data(a), data(b)
        assert type(da) is type(db) is np.ndarray and da.dtype == db.dtype and da.shape == db.shape, (da, db)
        assert da.flags.writeable and db.flags.writeable
        assert a._fmt == b._fmt
        if exact:
            np.testing.assert_array_equal(da, db)
            assert np.signbit(da).tolist() == np.signbit(db).tolist()
        else:
            np.testing.assert_allclose(da, db, rtol=1e-13, atol=1e-300)
    else:
        assert a == b


def source(fn, *args):
    cache.clear()
    return str(sct.source(fn, *args))


# --- the generated code --------------------------------------------------------------------------

def test_rosenbrock_gathers_and_returns_the_float():
    text = source(rosen_grad, dlarray(np.array([-1.2, 1.0])))
    fwd, _, sweep = text.partition("_dlgradient_line")
    assert "d_x = rt.scalar_elements_gradient(x, 0, (d_x0, (0.0 + d_x1)))" in sweep
    assert "scalar_index_add" not in sweep and "scalar_index_adjoint" not in sweep
    assert "rt.to_numpy(y)" not in fwd


@pytest.mark.parametrize("x0", [[-1.2, 1.0], [0.0, -0.0], [-0.0, 0.0], [1e-300, -3.5], [2.0, 4.0], [1.0, 1.0]])
def test_rosenbrock_exact_against_unspecialised(x0):
    x = np.array(x0)
    y, g = run(rosen_grad, dlarray(x))
    same((y, g), run(rosen_grad, dlarray(x), scalars=False))
    assert data(y) == rosen_value(x) and data(y).shape == () and data(y).dtype == np.float64
    assert data(g).shape == (2,) and data(g).dtype == np.float64
    assert_close(data(g), numerical_gradient(rosen_value, [x], 0), rtol=1e-6, atol=1e-6)


def test_outputs_are_arrays_of_their_own():
    x = dlarray(np.array([0.5, -2.0]))
    for _ in range(3):
        a, b, g = dlfeval(same_twice_grad, x)
        assert data(a) is not data(b) and data(a).shape == () and data(a).dtype == np.float64
        data(a)[()] = 7.0
        assert data(b) == -1.0
        np.testing.assert_array_equal(data(g), [-2.0, 0.5])
    same(dlfeval(same_twice_grad, x), run(same_twice_grad, x, scalars=False))


def test_length_one_and_longer_arrays_share_one_entry():
    # the kind is the rank: one compiled entry serves every length (np.array where x has one
    # element, the zero-filled buffer otherwise)
    text = source(one_grad, dlarray(np.array([0.3])))
    assert "rt.scalar_elements_gradient(x, 0, (d_x0,))" in text
    cache.clear()
    for x in (np.array([0.3]), np.array([0.3, 5.0, -1.0]), np.array([-2.0]), np.array([1.5, 0.0])):
        y, g = dlfeval(one_grad, dlarray(x))
        y0, g0 = run(one_grad, dlarray(x), scalars=False)
        same((y, g), (y0, g0), exact=False)
        assert data(g).shape == x.shape
        np.testing.assert_allclose(data(y), one_value(x), rtol=1e-15)
        assert_close(data(g), numerical_gradient(one_value, [x], 0), rtol=1e-6, atol=1e-7)
        assert np.all(data(g)[1:] == 0)


@pytest.mark.parametrize("x", [np.array([0.4, -1.5, 2.0]), np.array([9.0, 0.4, -1.5, 2.0]),
                               np.array([1.0, 2.0, 0.4, -1.5, 2.0])])
def test_negative_indices(x):
    text = source(tail_grad, dlarray(x))
    # x[-1] read twice: its adjoints added in the steps' order, the first step's element assigned
    assert "d_x = rt.scalar_elements_gradient(x, (-3), ((0.0 + d_x_item_2), (0.0 + d_x_item_1), " \
        "(d_x_item_3 + d_x_item)))" in text
    out = run(tail_grad, dlarray(x))
    same(out, run(tail_grad, dlarray(x), scalars=False), exact=False)
    np.testing.assert_allclose(data(out[0]), tail_value(x), rtol=1e-14)
    assert_close(data(out[1]), numerical_gradient(tail_value, [x], 0), rtol=1e-6, atol=1e-7)
    assert np.all(data(out[1])[:-3] == 0)


@pytest.mark.parametrize("x", [np.array([0.7]), np.array([0.7, -1.2]), np.array([0.7, 3.0, -1.2])])
def test_first_and_last_not_gathered(x):
    # x[0] and x[-1] are one element where x has one: left to the buffer, which adds them
    assert "scalar_elements_gradient" not in source(ends_grad, dlarray(x))
    out = run(ends_grad, dlarray(x))
    same(out, run(ends_grad, dlarray(x), scalars=False))
    assert_close(data(out[1]), numerical_gradient(ends_value, [x], 0), rtol=1e-6, atol=1e-7)


def test_gap_not_gathered_and_repeated_reads_added():
    x = np.array([0.5, 9.0, -1.25])
    assert "scalar_elements_gradient" not in source(gap_grad, dlarray(x))
    out = run(gap_grad, dlarray(x))
    same(out, run(gap_grad, dlarray(x), scalars=False))
    np.testing.assert_array_equal(data(out[1]), [-1.25, 0.0, 0.5 - 3 * 1.25 ** 2])
    x = np.array([0.5, -1.25])
    # x[0] read twice: both adjoints added, in the steps' order
    assert "rt.scalar_elements_gradient(x, 0, ((d_c + d_a), (0.0 + d_x1)))" in source(twice_grad, dlarray(x))
    out = run(twice_grad, dlarray(x))
    same(out, run(twice_grad, dlarray(x), scalars=False), exact=False)
    assert_close(data(out[1]), numerical_gradient(twice_value, [x], 0), rtol=1e-6, atol=1e-7)


def test_two_vectors_both_gathered():
    x, w = np.array([0.5, -2.0, 1.5]), np.array([0.25, 3.0])
    text = source(pair_grad, dlarray(x), dlarray(w))
    assert "rt.scalar_elements_gradient(x, 0," in text and "rt.scalar_elements_gradient(w, 0," in text
    out = run(pair_grad, dlarray(x), dlarray(w))
    same(out, run(pair_grad, dlarray(x), dlarray(w), scalars=False))
    assert_close(data(out[1]), numerical_gradient(pair_value, [x, w], 0), rtol=1e-6, atol=1e-7)
    assert_close(data(out[2]), numerical_gradient(pair_value, [x, w], 1), rtol=1e-6, atol=1e-7)
    check_grads(pair_value, x, w)


def test_variable_indices_in_a_loop():
    x = np.array([0.5, -2.0])
    assert "scalar_elements_gradient" not in source(loop_grad, dlarray(x))
    out = run(loop_grad, dlarray(x))
    same(out, run(loop_grad, dlarray(x), scalars=False))
    assert_close(data(out[1]), numerical_gradient(loop_value, [x], 0), rtol=1e-6, atol=1e-7)


def test_float32_not_specialised():
    x = np.array([-1.2, 1.0], dtype=np.float32)
    text = source(rosen_grad, dlarray(x))
    assert ".item(" not in text and "scalar_elements_gradient" not in text and "rt.to_numpy" not in text
    y, g = run(rosen_grad, dlarray(x))
    same((y, g), run(rosen_grad, dlarray(x), scalars=False))
    assert data(y).dtype == np.float32 and data(g).dtype == np.float32
    assert data(y) == rosen_value(x)
    x64 = x.astype(np.float64)
    assert_close(data(g), numerical_gradient(rosen_value, [x64], 0), rtol=1e-4, atol=1e-4)


def test_elements_written_in_place():
    for v in ([0.5, -2.0], [1.5, 0.25, 4.0]):
        x = np.array(v)
        arg = dlarray(x.copy())
        out = run(written_grad, arg)
        same(out, run(written_grad, dlarray(x.copy()), scalars=False))
        np.testing.assert_array_equal(data(arg), x)        # the caller's array is not written
        np.testing.assert_allclose(data(out[0]), written_value(x), rtol=1e-15)
        assert_close(data(out[2]), numerical_gradient(written_value, [x], 0), rtol=1e-6, atol=1e-6)
        check_grads(written_value, x)


@pytest.mark.parametrize("x", [np.array([0.3, -0.4, 2.0]), np.array([1.5, 2.5, -0.1])])
def test_second_derivatives(x):
    y, g, h = run(hessian_grad, dlarray(x))
    same((y, g, h), run(hessian_grad, dlarray(x), scalars=False), exact=False)
    assert_close(data(h), numerical_gradient(hessian_z, [x], 0), rtol=1e-6, atol=1e-6)

    def first(v):            # the gathered gradient, differentiated by central differences
        return dlfeval(rosen_grad, dlarray(v))[1]
    for k in range(2):
        num = numerical_gradient(lambda v: float(data(first(v))[k]), [np.array([-1.2, 1.0])], 0)
        a, b = -1.2, 1.0
        want = [[1200 * a ** 2 - 400 * b + 2, -400 * a], [-400 * a, 200.0]][k]
        assert_close(num, want, rtol=1e-5, atol=1e-4)


def test_errstate_raise_and_quiet():
    x = np.array([1e200, 1.0])
    with np.errstate(over="raise"):
        with pytest.raises(Exception):
            run(rosen_grad, dlarray(x), calls=1)
    with np.errstate(all="ignore"):
        y, g = run(rosen_grad, dlarray(x))
        y0, g0 = run(rosen_grad, dlarray(x), scalars=False)
        same((y, g), (y0, g0))
        assert data(y) == np.inf


def test_overflow_warns_on_the_entry_call():
    x = dlarray(np.array([1e200, 1.0]))
    dlfeval(rosen_grad, dlarray(np.array([1.0, 2.0])))          # the entry call made
    for _ in range(2):
        with pytest.warns(RuntimeWarning, match="overflow"):
            y, g = dlfeval(rosen_grad, x)
        assert data(y) == np.inf and data(y).dtype == np.float64 and data(y).shape == ()
        assert data(g).dtype == np.float64 and data(g).shape == (2,)


def test_gradcheck():
    check_grads(rosen_value, np.array([-1.2, 1.0]))
    check_grads(one_value, np.array([0.8]))
    check_grads(tail_value, np.array([0.3, 1.0, -0.7]))
    check_grads(pair_value, np.array([0.1, 0.2, 0.3]), np.array([-1.0, 2.0]))


# --- the runtime function, against the steps it stands for --------------------------------------------

def test_runtime_gathered_gradient_matches_the_buffer():
    # the steps the generated code made before (scalar_index_adjoint, then scalar_index_add_own),
    # against one call given each element as the steps leave it
    from sct.runtime import scalar_ops as so
    for x in (np.array([1.0, 2.0]), np.array([1.0, 2.0, 3.0, 4.0]), np.array([5.0]), np.array([7.0, 8.0, 9.0])):
        for steps in ([(0, 1.5)], [(0, -0.0)], [(1, -0.0), (0, 1.5)], [(0, np.float64(-2.25)), (1, 0.5)],
                      [(2, 0.0), (0, -0.0), (1, 3.0), (2, -1.0)], [(0, -0.0), (0, -0.0)]):
            n = len({k for k, _ in steps})
            for first in (0, -n):
                if n > len(x):
                    continue
                total = so.scalar_index_adjoint(steps[0][1], x, steps[0][0] + first)
                for k, g in steps[1:]:
                    total = so.scalar_index_add_own(total, g, x, k + first)
                want = so.scalar_elements_project(total, x)
                elements = []
                for k in range(n):
                    e = None if k == steps[0][0] else 0.0
                    for kk, g in steps:
                        if kk == k:
                            e = g if e is None else e + g
                    elements.append(e)
                got = so.scalar_elements_gradient(x, first, tuple(elements))
                assert type(got) is np.ndarray and got.dtype == np.float64 and got.shape == x.shape
                assert got.flags.writeable and got.flags.c_contiguous
                np.testing.assert_array_equal(got, want)
                assert np.signbit(got).tolist() == np.signbit(want).tolist(), (x, steps, first)


# --- random programs reading elements at constant indices ----------------------------------------

def _random_program(rng, k, name):
    """Source of a function of a k-vector ``x`` reading each of its elements at constant indices
    (non-negative, negative or both; some twice), with arithmetic, numpy functions and a branch."""
    signs = rng.choice(["+", "-", "both"])

    def elem():
        i = int(rng.integers(0, k))
        return f"x[{i}]" if signs == "+" or signs == "both" and rng.random() < 0.5 else f"x[{i - k}]"

    def expr(depth):
        if depth == 0 or rng.random() < 0.25:
            return elem() if rng.random() < 0.8 else repr(float(rng.choice([0.5, 2.0, -1.5, 3.0])))
        op = rng.choice(["+", "-", "*", "/", "pow", "sin", "exp", "tanh"])
        if op == "pow":
            return f"({expr(depth - 1)}) ** {int(rng.choice([2, 3]))}"
        if op in ("sin", "exp", "tanh"):
            inner = expr(depth - 1)
            return f"np.{op}({inner} * 0.3)" if op == "exp" else f"np.{op}({inner})"
        if op == "/":
            return f"({expr(depth - 1)}) / (1.5 + ({expr(depth - 1)}) ** 2)"
        return f"({expr(depth - 1)} {op} {expr(depth - 1)})"
    lines = [f"def {name}(x):", f"    a = {expr(2)}", f"    b = {expr(2)}"]
    if rng.random() < 0.3:
        lines += ["    if a > b:", f"        c = a * {elem()}", "    else:", f"        c = b - {elem()}"]
    else:
        lines += [f"    c = a * b + {elem()}"]
    lines += ["    y = c + a * " + " + ".join(f"x[{i}]" if signs != "-" else f"x[{i - k}]" for i in range(k)),
              "    return y"]
    body = "\n".join(lines)
    grad = body.replace(f"def {name}(x):", f"def {name}_grad(x):").replace("    return y", "    return y, dlgradient(y, x)")
    return body + "\n\n\n" + grad + "\n"


@pytest.mark.heavy      # (CI skips it: tests/conftest.py; 10-50 s)
def test_random_element_programs(tmp_path, monkeypatch):
    import importlib
    rng = np.random.default_rng(8)
    sources = ["import numpy as np\nfrom sct import dlgradient\n\n"]
    specs = []
    for n in range(40):
        k = int(rng.integers(1, 5))
        sources.append(_random_program(rng, k, f"p{n}") + "\n\n")
        specs.append((f"p{n}", k))
    (tmp_path / "elem_programs.py").write_text("".join(sources))
    monkeypatch.syspath_prepend(str(tmp_path))
    mod = importlib.import_module("elem_programs")
    gathered = 0
    for name, k in specs:
        plain, grad = getattr(mod, name), getattr(mod, name + "_grad")
        for extra in (0, 2):                 # the vector the indices cover, and a longer one
            x = rng.uniform(-1.5, 1.5, k + extra)
            gathered += "scalar_elements_gradient" in source(grad, dlarray(x))
            with np.errstate(all="ignore"):
                out = run(grad, dlarray(x))
                same(out, run(grad, dlarray(x), scalars=False), exact=False)
                want = plain(x)
            np.testing.assert_allclose(data(out[0]), want, rtol=1e-13, atol=1e-13)
            assert_close(data(out[1]), numerical_gradient(plain, [x], 0), rtol=1e-5, atol=1e-6, what=name)
    assert gathered >= 25          # (a branch, or indices of both signs: the buffer's steps)
