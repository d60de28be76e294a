"""Issue 8 item 5: Hessian-vector products without the dead forward.

sct.hvp (forward over reverse) computes, of the forward, only what the forward-mode adjoint reads:
values read only for their type, dtype and shape (the function's value, which only seeds the sweep;
residuals the adjoint does not read; what only feeds a shape proxy) become ``rt.type_only`` stand-ins
(sct/optimize.py ``type_only_values``).  Checked here: the stand-ins against numpy's own results
(dtype, shape, type, errors), Hessian-vector products and nested gradients against central
differences of the gradient (float64, float32, helpers, loops, branches, dict/tuple directions), and
that a value that is not a real scalar is still refused.
"""
import numpy as np
import pytest

import sct
from sct import dlarray, dlfeval, dlgradient, extractdata
from sct.runtime import support
from sct.cache import HELPERS

from gradcheck import assert_close, numerical_gradient

N = 3000          # above the size where stand-ins are used (support.SHAPE_PROXY_SIZE)


def rosen(x):
    return np.sum(100*(x[1:] - x[:-1]**2)**2 + (1 - x[:-1])**2)


def rosen_mean(x):
    return np.mean(100*(x[1:] - x[:-1]**2)**2 + (1 - x[:-1])**2) * 3.0


def quartic_sum(x):
    u = x * x
    w = u * u - 2 * u + 1
    return np.sum(w) + np.sum(np.sin(x)) / 2


def _term(a, b):
    return (a - b) ** 2 + 0.5 * a * b


def with_helper(x):
    return np.sum(_term(x[1:], x[:-1]))


def with_loop(x):
    s = 0.0
    for k in range(3):
        s = s + np.sum((x - k) ** 2 * x) / (k + 1)
    return s


def with_branch(x):
    if np.sum(x) > 0:
        return np.sum(x ** 3)
    return np.sum(np.exp(x) * x)


def vector_valued(x):
    return x[1:] - x[:-1] ** 2


def complex_valued(x):
    return np.sum(x * (1 + 2j))


def _grad_value(fun, x):
    y = fun(x)
    return dlgradient(y, x)


def grad_np(fun, x):
    return np.asarray(extractdata(dlfeval(_grad_value, fun, dlarray(x))))


def hvp_fd(fun, x, v, step=1e-6):
    """Central differences of the (sct, first-order) gradient along v."""
    return (grad_np(fun, x + step * v) - grad_np(fun, x - step * v)) / (2 * step)


def hvp_dense_fd(fun, x, v):
    """H v from the Hessian by central differences of the gradient's components <g, e_i>."""
    return numerical_gradient(lambda z: float(np.dot(grad_np(fun, z), v)), [x], 0)


def _inputs(n=N, seed=0, dtype=np.float64):
    rng = np.random.default_rng(seed)
    return rng.uniform(-1.2, 1.2, n).astype(dtype), rng.standard_normal(n).astype(dtype)


# --- rt.type_only: the dtype, shape and type numpy's op would give ------------------------------------

@pytest.mark.parametrize("dtype", [np.float64, np.float32, np.int64, np.complex128, np.int8])
@pytest.mark.parametrize("op", ["add", "sub", "mul", "div", "pow"])
def test_type_only_matches_numpy(dtype, op):
    a = np.ones(N, dtype)
    for b in (2, 2.5, 1j, np.ones(N, dtype), np.ones(N, np.float32), np.float32(2.0), np.ones((4, 1, 1), dtype)):
        try:
            expected = support._TYPE_OPS[op](a, b)
        except Exception as exc:
            with pytest.raises(type(exc)):
                support.type_only(op, a, b)
            continue
        for x, y in ((a, b), (b, a)):
            expected = support._TYPE_OPS[op](x, y)
            got = support.type_only(op, x, y)
            assert type(got) is type(expected) and got.dtype == expected.dtype and got.shape == expected.shape, \
                (op, dtype, type(y))
            assert not got.flags.writeable


@pytest.mark.parametrize("dtype", [np.float64, np.float32, np.int64, np.bool_])
def test_type_only_unary_and_reductions(dtype):
    a = np.ones(N, dtype)
    for op in ("neg", "pos", "sum", "mean"):
        try:
            expected = support._TYPE_OPS[op](a)
        except Exception as exc:
            with pytest.raises(type(exc)):
                support.type_only(op, a)
            continue
        got = support.type_only(op, a)
        assert np.result_type(got) == np.result_type(expected) and np.shape(got) == np.shape(expected), op


def test_type_only_errors_and_small_values():
    with pytest.raises(ValueError):
        support.type_only("add", np.ones(N), np.ones(N + 1))       # shapes that do not broadcast
    with pytest.raises(OverflowError):
        support.type_only("mul", np.ones(N, np.uint8), 300)          # numpy 2: a Python int out of range
    small = np.arange(5.0)
    assert_close(support.type_only("mul", small, 3), small * 3)      # small arrays: the op itself
    assert support.type_only("add", 2, 3.5) == 5.5
    assert support.type_only("add", [1], [2]) == [1, 2]               # not numbers: the op itself


def test_into_temporary_times_broadcast_one_is_exact():
    t = np.array([np.nan, -0.0, np.inf, 1e-310, -3.0] * 1000)
    expected = t.copy()
    ones = np.broadcast_to(np.ones(()), t.shape)
    got = support.into_temporary("mul", ones, t, 1)
    assert got.tobytes() == expected.tobytes()
    twos = np.broadcast_to(np.full((), 2.0), t.shape)
    assert_close(support.into_temporary("mul", twos, t.copy(), 1), 2 * expected)
    with np.errstate(invalid="ignore"):
        c = np.full(5000, 1 + 1j) * np.inf                              # complex: computed, not skipped
        got = support.into_temporary("mul", np.broadcast_to(np.ones((), complex), c.shape), c.copy(), 1)
        assert got.tobytes() == (np.ones(c.shape, complex) * c).tobytes()


def test_unbroadcast_product_same_shapes():
    a, b = np.arange(6.0).reshape(2, 3), np.ones((2, 3)) * 2
    assert_close(support.unbroadcast_product(a, b, np.zeros((2, 3))), a * b)
    assert_close(support.unbroadcast_product(a, np.ones((1, 3)), np.zeros((1, 3))), a.sum(0, keepdims=True))


# --- sct.hvp ------------------------------------------------------------------------------------------

@pytest.mark.parametrize("fun", [rosen, rosen_mean, quartic_sum, with_helper, with_loop, with_branch])
def test_hvp_matches_differences(fun):
    x, v = _inputs()
    for _ in range(3):                          # the first call learns what the adjoint reads
        got = np.asarray(extractdata(sct.hvp(fun, x, v)))
        assert got.dtype == np.float64 and got.shape == x.shape
        assert_close(got, hvp_fd(fun, x, v), rtol=1e-5, atol=1e-5, what=fun.__name__)


def test_hvp_branch_both_ways_and_small_sizes():
    for n in (7, N):
        x, v = _inputs(n, seed=n)
        for sign in (1, -1):
            xs = np.abs(x) * sign
            got = np.asarray(extractdata(sct.hvp(with_branch, xs, v)))
            assert_close(got, hvp_fd(with_branch, xs, v), rtol=1e-5, atol=1e-5)


def test_hvp_against_dense_differences():
    x, v = _inputs(40, seed=3)
    got = np.asarray(extractdata(sct.hvp(rosen, x, v)))
    assert_close(got, hvp_dense_fd(rosen, x, v), rtol=1e-5, atol=1e-4)


def test_hvp_float32_keeps_dtype():
    x, v = _inputs(dtype=np.float32)
    got = np.asarray(extractdata(sct.hvp(rosen, x, v)))
    assert got.dtype == np.float32
    expected = np.asarray(extractdata(sct.hvp(rosen, x.astype(np.float64), v.astype(np.float64))))
    assert_close(got, expected, rtol=2e-3, atol=2e-2)


def test_hvp_forward_computes_no_dead_value():
    x, v = _inputs()
    HELPERS.clear()
    sct.hvp(rosen, x, v)
    sct.hvp(rosen, x, v)
    forwards = [e.source for key, bucket in HELPERS._data.items() if key[0] == "jvp-keep"
                for e in bucket if "rosen_fwd_jvp" in e.source.split("\n")[0]]
    assert forwards
    # the value (the sum) and the residual the adjoint never reads (1 - x[:-1]) are type stand-ins
    pruned = [s for s in forwards if "type_only('sub', 1, " in s]
    code = ["\n".join(line for line in s.split("\n") if not line.strip().startswith("#")) for s in forwards]
    assert pruned and all("type_only('sum', " in s and "np.sum(" not in s for s in code)


def test_hvp_still_refuses_what_is_not_a_real_scalar():
    x, v = _inputs()
    with pytest.raises(sct.SctError if hasattr(sct, "SctError") else Exception, match="real scalar"):
        sct.hvp(vector_valued, x, v)
    with pytest.raises(Exception, match="real"):
        sct.hvp(complex_valued, x, v)


# --- nested dlgradient (reverse over reverse) -------------------------------------------------------------

def nested_hvp(x, v):
    y = rosen(x)
    g = dlgradient(y, x, EnableHigherDerivatives=True)
    return dlgradient(np.sum(g * v), x)


def _inner_hvp(x, v):
    g = dlgradient(quartic_sum(x), x, EnableHigherDerivatives=True)
    return dlgradient(np.sum(g * v), x)


def nested_in_helper(x, v):
    h = _inner_hvp(x, v)
    return h


def nested_dict_direction(p, d):
    y = rosen(p["w"]) + np.sum(p["w"] * p["b"] ** 2)
    gw, gb = dlgradient(y, p["w"], p["b"], EnableHigherDerivatives=True)
    s = np.sum(gw * d["w"]) + np.sum(gb * d["b"])
    return dlgradient(s, p["w"], p["b"])


def nested_tuple_loop(x, vs):
    y = with_loop(x)
    g = dlgradient(y, x, EnableHigherDerivatives=True)
    s = 0.0
    for v in vs:
        s = s + np.sum(g * v)
    return y, dlgradient(s, x)


def test_nested_matches_hvp_and_differences():
    x, v = _inputs()
    got = np.asarray(extractdata(dlfeval(nested_hvp, dlarray(x), v)))
    assert_close(got, hvp_fd(rosen, x, v), rtol=1e-5, atol=1e-5)
    assert_close(got, np.asarray(extractdata(sct.hvp(rosen, x, v))), rtol=1e-10, atol=1e-8)


def test_nested_inside_helper():
    x, v = _inputs(seed=1)
    got = np.asarray(extractdata(dlfeval(nested_in_helper, dlarray(x), v)))
    assert_close(got, hvp_fd(quartic_sum, x, v), rtol=1e-5, atol=1e-5)


def _dict_loss(w, b):
    return rosen(w) + np.sum(w * b ** 2)


def test_nested_dict_direction():
    rng = np.random.default_rng(5)
    w, b = rng.uniform(-1, 1, 50), rng.uniform(-1, 1, 50)
    dw, db = rng.standard_normal(50), rng.standard_normal(50)
    hw, hb = dlfeval(nested_dict_direction, {"w": dlarray(w), "b": dlarray(b)}, {"w": dw, "b": db})

    def directional(w_, b_):                # <grad, d> at (w_, b_)
        gw, gb = dlfeval(lambda p: dlgradient(_dict_loss(p["w"], p["b"]), p["w"], p["b"]),
                         {"w": dlarray(w_), "b": dlarray(b_)})
        return float(np.dot(extractdata(gw), dw) + np.dot(extractdata(gb), db))
    assert_close(extractdata(hw), numerical_gradient(lambda z: directional(z, b), [w], 0), rtol=1e-5, atol=1e-4)
    assert_close(extractdata(hb), numerical_gradient(lambda z: directional(w, z), [b], 0), rtol=1e-5, atol=1e-4)


def test_nested_tuple_of_directions_in_loop():
    x, v = _inputs(60, seed=2)
    v2 = np.cos(np.arange(60.0))
    y, h = dlfeval(nested_tuple_loop, dlarray(x), (v, v2))
    assert_close(float(extractdata(y)), with_loop(x), rtol=1e-12)
    assert_close(extractdata(h), hvp_dense_fd(with_loop, x, v + v2), rtol=1e-5, atol=1e-4)


def test_nested_float32():
    x, v = _inputs(dtype=np.float32)
    got = np.asarray(extractdata(dlfeval(nested_hvp, dlarray(x), v)))
    assert got.dtype == np.float32
    expected = hvp_fd(rosen, x.astype(np.float64), v.astype(np.float64))
    assert_close(got, expected, rtol=2e-3, atol=2e-2)


def third_order(x):
    y = np.sum(x ** 4)
    g = dlgradient(y, x, EnableHigherDerivatives=True)
    h = dlgradient(np.sum(g * x), x, EnableHigherDerivatives=True)
    return dlgradient(np.sum(h), x)


def test_third_derivative_exact():
    x, _ = _inputs(30, seed=7)
    # y = sum x^4; g = 4x^3; <g, x> = 4 sum x^4 -> h = 16 x^3; sum h -> 48 x^2
    got = np.asarray(extractdata(dlfeval(third_order, dlarray(x))))
    assert_close(got, 48 * x ** 2, rtol=1e-10, atol=1e-10)
