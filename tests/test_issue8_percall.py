"""Issue 8: per-call latency of small programs reading elements of a float64 vector.

``x[0]``, ``x[-1]``, ``x[i]`` of a 1-d float64 argument run as Python floats in the scalar
specialisation (sct/scalar_elements.py), and their adjoints are gathered into one float64 buffer
per sweep (``rt.scalar_index_adjoint`` / ``rt.scalar_index_add``).  Every program is checked
against plain numpy (values), against the same code unspecialised (SCT_SCALARS=0: same types,
dtypes, values and gradients), and against central differences (tests/gradcheck.py).
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


def loop_value(x, n):
    s = 0.0
    for i in range(n):
        s = s + np.sin(x[i]) * x[i] - x[-1] / (1.0 + x[i]**2)
    return s


def loop_grad(x, n):
    s = 0.0
    for i in range(n):
        s = s + np.sin(x[i]) * x[i] - x[-1] / (1.0 + x[i]**2)
    return s, dlgradient(s, x)


def two_value(x, w):
    return x[-1] * w[0] + np.exp(x[0]) / x[1] - np.tanh(w[1] * x[2])


def two_grad(x, w):
    y = x[-1] * w[0] + np.exp(x[0]) / x[1] - np.tanh(w[1] * x[2])
    return y, dlgradient(y, x, w)


def branch_value(x, k):
    a = x[k]
    if a > 0.5:
        y = a * x[0] + 3.0
    else:
        y = np.cos(a) - x[1] ** 3
    return y


def branch_grad(x, k):
    a = x[k]
    if a > 0.5:
        y = a * x[0] + 3.0
    else:
        y = np.cos(a) - x[1] ** 3
    return y, dlgradient(y, x)


def mixed_value(x):
    return np.sum(x[0] * x ** 2) + x[1]


def mixed_grad(x):
    y = np.sum(x[0] * x ** 2) + x[1]
    return y, dlgradient(y, x)


def rebound_grad(x):
    x = x * 2.0
    y = x[0] ** 2 + x[1]
    return y, dlgradient(y, x)


def element_out_grad(x):
    a = x[0]
    y = a * x[1]
    return a, y, dlgradient(y, x)


def helper(a, b):
    return a * np.sin(b)


def helper_grad(x):
    y = helper(x[0], x[1]) + x[0]
    return y, dlgradient(y, x)


def second_grad(x):
    y = x[0] ** 3 * x[1] + np.sin(x[1]) * x[0]
    g = dlgradient(y, x, EnableHigherDerivatives=True)
    z = g[0] * g[1] + g[0]
    return y, g, dlgradient(z, x)


def params_grad(p):
    y = (p["w"][0] - 1.0) ** 2 + p["w"][1] * p["b"]
    return y, dlgradient(y, p)


# --- helpers -----------------------------------------------------------------------------------

@pytest.fixture(autouse=True)
def _fresh_cache():
    cache.clear()
    yield
    cache.clear()


def run(fn, *args, scalars=True):
    old = os.environ.get("SCT_SCALARS")
    os.environ["SCT_SCALARS"] = "1" if scalars else "0"
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


def same(a, b, exact=True):
    """The same type, dtype, shape (and values where ``exact``) in both results."""
    assert type(a) is type(b), (type(a), type(b))
    if isinstance(a, (tuple, list)):
        assert len(a) == len(b)
        for u, v in zip(a, b):
            same(u, v, exact)
        return
    if isinstance(a, dict):
        assert a.keys() == b.keys()
        for k in a:
            same(a[k], b[k], exact)
        return
    if isinstance(a, sct.dlarray):
        da, db = data(a), data(b)
        assert type(da) is type(db) and da.dtype == db.dtype and da.shape == db.shape, (da, db)
        if exact:
            np.testing.assert_array_equal(da, db)
        else:
            np.testing.assert_allclose(da, db, rtol=1e-13, atol=1e-300)
    elif exact:
        assert a == b


def source(fn, *args):
    cache.clear()
    return str(sct.source(fn, *args, callees=True))


X3 = [np.array([-1.2, 1.0, 0.7]), np.array([0.3, -0.4, 2.0]), np.array([1.5, 2.5, -0.1])]


# --- the specialisation is applied ---------------------------------------------------------------

def test_rosenbrock_reads_floats_and_gathers_one_buffer():
    text = source(rosen_grad, dlarray(np.array([-1.2, 1.0])))
    fwd, _, sweep = text.partition("_dlgradient_line")
    assert "x_items_f.item(1)" in fwd and "x_items_f.item(0)" in fwd
    assert "rt.unbroadcast" not in text and "rt.seed" not in text
    # the elements' adjoints gathered into one array (issue 8, later: rt.scalar_elements_gradient)
    assert "d_x = rt.scalar_elements_gradient(x, 0, (d_x0, (0.0 + d_x1)))" in sweep
    assert "rt.scalar_index_adjoint" not in sweep and "rt.scalar_elements_project" not in sweep


@pytest.mark.parametrize("x0", [[-1.2, 1.0], [0.0, 0.0], [1e-300, -3.5], [2.0, 4.0]])
def test_rosenbrock_values_exact(x0):
    x = np.array(x0)
    y, g = run(rosen_grad, dlarray(x))
    y0, g0 = run(rosen_grad, dlarray(x), scalars=False)
    same((y, g), (y0, g0))
    plain = rosen_value(x)
    assert type(plain) is np.float64 and data(y).dtype == np.float64 and data(y).shape == ()
    assert data(y) == plain
    a = x[1] - x[0] ** 2
    np.testing.assert_allclose(data(g), [-400 * a * x[0] - 2 * (1 - x[0]), 200 * a], rtol=1e-14, atol=1e-300)
    num = numerical_gradient(rosen_value, [x], 0)
    assert_close(data(g), num, rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize("x", X3)
@pytest.mark.parametrize("n", [0, 1, 3])
def test_loop_over_elements(x, n):
    text = source(loop_grad, dlarray(x), n)
    assert "scalar_index_add_own" in text and ".item(i)" in text
    out = run(loop_grad, dlarray(x), n)
    ref = run(loop_grad, dlarray(x), n, scalars=False)
    same(out, ref, exact=False)       # math.sin vs np.sin: an ulp
    np.testing.assert_allclose(data(out[0]), loop_value(x, n), rtol=1e-14, atol=1e-300)
    num = numerical_gradient(lambda v: loop_value(v, n), [x], 0)
    assert_close(data(out[1]), num, rtol=1e-6, atol=1e-7)
    if n == 0:
        assert np.all(data(out[1]) == 0) and data(out[1]).shape == x.shape


@pytest.mark.parametrize("x", X3)
def test_two_vectors_negative_index(x):
    w = np.array([0.8, -1.3])
    out = run(two_grad, dlarray(x), dlarray(w))
    ref = run(two_grad, dlarray(x), dlarray(w), scalars=False)
    same(out, ref, exact=False)
    np.testing.assert_allclose(data(out[0]), two_value(x, w), rtol=1e-14)
    gx, gw = out[1]
    assert_close(data(gx), numerical_gradient(two_value, [x, w], 0), rtol=1e-6, atol=1e-7)
    assert_close(data(gw), numerical_gradient(two_value, [x, w], 1), rtol=1e-6, atol=1e-7)


@pytest.mark.parametrize("x", X3)
@pytest.mark.parametrize("k", [0, 1, -1])
def test_int_argument_index_and_branch(x, k):
    out = run(branch_grad, dlarray(x), k)
    ref = run(branch_grad, dlarray(x), k, scalars=False)
    same(out, ref, exact=False)
    np.testing.assert_allclose(data(out[0]), branch_value(x, k), rtol=1e-14)
    assert_close(data(out[1]), numerical_gradient(lambda v: branch_value(v, k), [x], 0), rtol=1e-6, atol=1e-7)


def test_element_times_vector_stays_numpy():
    x = np.array([0.5, -2.0, 3.0])
    out = run(mixed_grad, dlarray(x))
    same(out, run(mixed_grad, dlarray(x), scalars=False))
    assert data(out[0]) == mixed_value(x)
    assert_close(data(out[1]), numerical_gradient(mixed_value, [x], 0), rtol=1e-6, atol=1e-7)


def test_rebound_argument_not_read_as_floats():
    x = np.array([0.5, -2.0])
    assert ".item(" not in source(rebound_grad, dlarray(x))
    out = run(rebound_grad, dlarray(x))
    same(out, run(rebound_grad, dlarray(x), scalars=False))
    np.testing.assert_array_equal(data(out[1]), [2.0, 1.0])     # the gradient w.r.t. the rebound x


def test_element_returned_is_numpy_float64_as_plain():
    x = np.array([0.25, 4.0])
    out = run(element_out_grad, dlarray(x))
    same(out, run(element_out_grad, dlarray(x), scalars=False))
    assert data(out[0]) == x[0] and data(out[1]) == x[0] * x[1]
    np.testing.assert_array_equal(data(out[2]), [4.0, 0.25])


def test_helper_called_with_elements():
    x = np.array([0.7, -1.1])
    out = run(helper_grad, dlarray(x))
    same(out, run(helper_grad, dlarray(x), scalars=False), exact=False)
    check_grads(lambda v: helper(v[0], v[1]) + v[0], x)


def test_dict_of_vectors_not_specialised_but_exact():
    p = {"w": dlarray(np.array([0.3, 2.0])), "b": dlarray(np.array(1.5))}
    out = run(params_grad, p)
    same(out, run(params_grad, p, scalars=False))
    np.testing.assert_array_equal(data(out[1]["w"]), [2 * (0.3 - 1.0), 1.5])
    assert data(out[1]["b"]) == 2.0


def test_float32_vector_keeps_float32():
    x = np.array([-1.2, 1.0], dtype=np.float32)
    assert ".item(" not in source(rosen_grad, dlarray(x))
    y, g = run(rosen_grad, dlarray(x))
    y0, g0 = run(rosen_grad, dlarray(x), scalars=False)
    same((y, g), (y0, g0))
    assert data(y).dtype == np.float32 and data(g).dtype == np.float32
    assert data(y) == rosen_value(x)


def test_matrix_elements_not_specialised():
    def f(A):
        y = A[0] @ A[1] + A[1, 0] ** 2
        return y, dlgradient(y, A)
    A = np.array([[0.5, 1.5], [-2.0, 0.25]])
    out = run(f, dlarray(A))
    same(out, run(f, dlarray(A), scalars=False))


@pytest.mark.parametrize("x", X3[:2])
def test_second_derivative_through_element_reads(x):
    y, g, h = run(second_grad, dlarray(x))
    y0, g0, h0 = run(second_grad, dlarray(x), scalars=False)
    same((y, g, h), (y0, g0, h0), exact=False)

    def gz(v):
        a, b = v[0], v[1]
        g_0 = 3 * a ** 2 * b + np.sin(b)
        g_1 = a ** 3 + np.cos(b) * a
        return g_0 * g_1 + g_0
    assert_close(data(h), numerical_gradient(gz, [x], 0), rtol=1e-6, atol=1e-6)


def test_gradcheck_of_element_programs():
    check_grads(rosen_value, np.array([-1.2, 1.0]))
    check_grads(lambda v: loop_value(v, 3), np.array([0.3, -0.4, 2.0]))
    check_grads(two_value, np.array([0.3, -0.4, 2.0]), np.array([0.8, -1.3]))


def test_errstate_raise_reads_numpy_scalars():
    x = np.array([1e200, 1.0])
    with np.errstate(over="raise"):
        with pytest.raises(Exception) as plain:
            rosen_value(x)
        with pytest.raises(Exception) as got:
            run(rosen_grad, dlarray(x))
    assert isinstance(got.value, FloatingPointError) or isinstance(got.value.__cause__, FloatingPointError) or \
        "overflow" in str(got.value), (plain.value, got.value)
    with np.errstate(all="ignore"):       # quiet: numpy's inf, as plain numpy gives
        y, g = run(rosen_grad, dlarray(x))
        assert data(y) == rosen_value(x) == np.inf


def test_index_out_of_bounds_is_an_error():
    with pytest.raises(Exception) as got:
        run(rosen_grad, dlarray(np.array([1.0])))
    assert "out of bounds" in str(got.value)


def test_repeated_calls_fresh_buffers():
    x = dlarray(np.array([-1.2, 1.0]))
    _, g1 = dlfeval(rosen_grad, x)
    _, g2 = dlfeval(rosen_grad, x)
    assert data(g1) is not data(g2)
    np.testing.assert_array_equal(data(g1), data(g2))
    data(g1)[0] = 99.0
    np.testing.assert_array_equal(data(dlfeval(rosen_grad, x)[1]), data(g2))


# --- the runtime functions, against the ones they stand for -----------------------------------------

def test_runtime_element_adjoints_match_index_adjoint():
    from sct.runtime import scalar_ops as so, support as su
    for x in (np.array([1.0, 2.0, 3.0]), np.array([1.0, 2.0], dtype=np.float32), np.ones((2, 3))):
        for g in (1.5, np.float64(-2.25), su.ZERO):
            for idx in (0, -1, 1):
                want = su.index_adjoint(so.to_numpy(g), x, idx)
                got = so.scalar_index_adjoint(g, x, idx)
                assert type(got) is type(want) and got.dtype == want.dtype
                np.testing.assert_array_equal(got, want)
                for total in (su.ZERO, su.index_adjoint(np.float64(0.5), x, 0)):
                    want2 = su.index_add(total.copy() if isinstance(total, np.ndarray) else total,
                                         so.to_numpy(g), x, idx)
                    for fn in (so.scalar_index_add, so.scalar_index_add_own):
                        if fn is so.scalar_index_add_own and x.dtype != np.float64:
                            continue           # emitted only for buffers of float64 vectors
                        got2 = fn(total.copy() if isinstance(total, np.ndarray) else total, g, x, idx)
                        assert got2.dtype == want2.dtype and got2.shape == want2.shape
                        np.testing.assert_array_equal(got2, want2)
    x = np.array([1.0, 2.0])
    assert so.scalar_elements_project(su.ZERO, x).shape == (2,)
    buf = so.scalar_index_adjoint(2.0, x, 1)
    assert so.scalar_elements_project(buf, x) is buf
    assert so.scalar_elements(x) is x and so.scalar_elements(x.astype(np.float32)) is None
    with np.errstate(over="raise"):
        assert so.scalar_elements(x) is None


# --- the adjoint of a slice: the rest of the buffer zeroed, not the whole --------------------------

def slices_grad(x):
    y = np.sum(100*(x[1:] - x[:-1]**2)**2 + (1 - x[:-1])**2) + np.sum(x[2:4] * x[-3:-1])
    return y, dlgradient(y, x)


def slices_value2(x):
    return np.sum(100*(x[1:] - x[:-1]**2)**2 + (1 - x[:-1])**2) + np.sum(x[2:4] * x[-3:-1])


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_slice_adjoints_exact(dtype):
    x = np.linspace(-1.5, 2.0, 7).astype(dtype)
    y, g = dlfeval(slices_grad, dlarray(x))
    assert data(y) == slices_value2(x) and data(g).dtype == dtype
    ref = run(slices_grad, dlarray(x), scalars=False)
    same((y, g), ref)
    if dtype == np.float64:
        assert_close(data(g), numerical_gradient(slices_value2, [x], 0), rtol=1e-6, atol=1e-6)


def test_slice_adjoint_runtime_matches_zeros():
    from sct.runtime import support as su
    rng = np.random.default_rng(0)
    for shape in [(7,), (5, 3)]:
        x = rng.normal(size=shape)
        for sl in [slice(1, None), slice(None, -1), slice(2, 4), slice(4, 2), slice(None, None, 2),
                   slice(-3, None), slice(10, 20)]:
            for dt in (np.float64, np.float32, np.complex128):
                xs = x.astype(dt)
                g = rng.normal(size=xs[sl].shape).astype(dt)
                g.flat[:1] = np.nan if g.size else g.flat[:1]
                want = np.zeros_like(xs)
                want[sl] = g
                got = su.index_adjoint(g, xs, sl)
                assert got.dtype == want.dtype
                np.testing.assert_array_equal(got, want)


def test_slice_second_derivative():
    def f(x):
        y = np.sum(x[1:] ** 2 * x[:-1])
        g = dlgradient(y, x, EnableHigherDerivatives=True)
        z = np.sum(g[:-1] * g[1:])
        return z, dlgradient(z, x)

    def gz(x):
        g = np.zeros_like(x)
        g[1:] += 2 * x[1:] * x[:-1]
        g[:-1] += x[1:] ** 2
        return np.sum(g[:-1] * g[1:])
    x = np.array([0.3, -1.2, 0.8, 2.0])
    z, h = dlfeval(f, dlarray(x))
    np.testing.assert_allclose(data(z), gz(x), rtol=1e-14)
    assert_close(data(h), numerical_gradient(gz, [x], 0), rtol=1e-6, atol=1e-6)


# --- common subexpressions (sct/cse.py) --------------------------------------------------------------

def chain_value(x):
    return np.sum(np.sin(x)*np.exp(-x**2) + np.log1p(x**2))


def chain_grad(x):
    y = np.sum(np.sin(x)*np.exp(-x**2) + np.log1p(x**2))
    return y, dlgradient(y, x)


def run_optimize(fn, *args, on=True):
    old = os.environ.get("SCT_OPTIMIZE")
    os.environ["SCT_OPTIMIZE"] = "1" if on else "0"
    cache.clear()
    try:
        return dlfeval(fn, *args)
    finally:
        if old is None:
            os.environ.pop("SCT_OPTIMIZE", None)
        else:
            os.environ["SCT_OPTIMIZE"] = old
        cache.clear()


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_repeated_expressions_computed_once_same_numbers(dtype):
    x = np.linspace(-2.0, 3.0, 11).astype(dtype)
    text = source(chain_grad, dlarray(x))
    assert "y_pow_1 = y_pow" in text and text.count("= 2 * x") == 1 and "cse_t" in text
    out = run_optimize(chain_grad, dlarray(x))
    same(out, run_optimize(chain_grad, dlarray(x), on=False))       # bit for bit
    assert data(out[0]) == chain_value(x) and data(out[1]).dtype == dtype
    if dtype == np.float64:
        assert_close(data(out[1]), numerical_gradient(chain_value, [x], 0), rtol=1e-6, atol=1e-7)


def bump(buf):
    buf[0] = buf[0] + 1.0
    return 0.0


def mutated_between_grad(x, buf):
    a = buf * 2.0
    bump(buf)
    b = buf * 2.0
    y = np.sum(x * a) + np.sum(x * b)
    return y, dlgradient(y, x)


def mutated_between_value(x, buf):
    a = buf * 2.0
    bump(buf)
    b = buf * 2.0
    return np.sum(x * a) + np.sum(x * b)


def written_into_grad(x):
    a = x * 2.0
    a[0] = 5.0
    b = x * 2.0
    c = x * 3.0
    c += 1.0
    d = x * 3.0
    y = np.sum(a * b) + np.sum(c * d)
    return y, dlgradient(y, x)


def written_into_value(x):
    a = x * 2.0
    a[0] = 5.0
    b = x * 2.0
    c = x * 3.0
    c += 1.0
    d = x * 3.0
    return np.sum(a * b) + np.sum(c * d)


def test_no_expression_carried_across_writes():
    x = np.array([0.5, -1.0, 2.0])
    buf = np.array([1.0, 2.0, 3.0])
    try:
        y, g = dlfeval(mutated_between_grad, dlarray(x), buf.copy())
    except (sct.CompileError, sct.EvaluationError):
        pass                               # refused: also within the rule
    else:
        assert data(y) == mutated_between_value(x, buf.copy())
        np.testing.assert_array_equal(data(g), 2 * buf + 2 * (buf + [1.0, 0, 0]))
    y, g = dlfeval(written_into_grad, dlarray(x))
    assert data(y) == written_into_value(x)
    assert_close(data(g), numerical_gradient(written_into_value, [x], 0), rtol=1e-6, atol=1e-6)


def test_cse_second_derivative():
    def f(x):
        y = np.sum(np.sin(x**2) * x**2)
        g = dlgradient(y, x, EnableHigherDerivatives=True)
        z = np.sum(g * g)
        return z, dlgradient(z, x)

    def gz(x):
        g = 2 * x * np.cos(x**2) * x**2 + np.sin(x**2) * 2 * x
        return np.sum(g * g)
    x = np.array([0.3, -0.7, 1.1])
    z, h = dlfeval(f, dlarray(x))
    np.testing.assert_allclose(data(z), gz(x), rtol=1e-13)
    assert_close(data(h), numerical_gradient(gz, [x], 0), rtol=1e-6, atol=1e-6)
