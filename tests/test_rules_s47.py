"""s47: false refusals red teams found, ops sct refused for want of a derivative rule (or of one
argument): np.modf, np.resize, np.polyadd / polysub / polymul / polyder / polyint, np.i0, np.float16
as a cast, np.power's dtype=, operator.itemgetter called on traced containers.

Each is run as a user writes it (parameters in a dict, dlfeval on dlarrays, dlgradient): the value
equals numpy's, the gradient central differences (tests/gradcheck.py), float32 inputs keep float32
gradients, and second derivatives and forward mode agree with differences of sct's own gradient.
(np.polyval worked before: checked here for float32 and second order beside the others.)
"""
import operator
from operator import itemgetter

import numpy as np
import pytest

import sct
from sct import dlarray, dlfeval, dlgradient, jvp
from gradcheck import D, assert_close, check_grads, check_second_order, check_tangent, numerical_gradient

pytestmark = pytest.mark.filterwarnings("ignore::numpy.exceptions.ComplexWarning")

RNG = np.random.default_rng(47)
X = np.array([0.3, -1.7, 2.5, -0.2, 4.6, -3.35])


def _loss_and_grad(f):
    """A user's model-gradients function: f of the dict's "x" and its gradient."""
    def model_loss(p):
        y = f(p["x"])
        return y, dlgradient(y, p)
    return model_loss


def user_style(f, x, rtol=1e-6, atol=1e-7):
    """dlfeval of ``f`` on a dict of dlarrays: the value numpy's, the gradient central differences."""
    y, grads = dlfeval(_loss_and_grad(f), {"x": dlarray(x)})
    expected = f(x.copy())
    np.testing.assert_array_equal(np.asarray(y.data), expected)
    assert np.asarray(y.data).dtype == np.asarray(expected).dtype
    assert_close(grads["x"].data, numerical_gradient(f, [x.copy()], 0), rtol, atol, what=f.__name__)
    return grads["x"].data


def keeps_float32(f, x):
    """A float32 input: numpy's float32 value (or whatever numpy makes of it), a float32 gradient."""
    x32 = x.astype(np.float32)
    y, grads = dlfeval(_loss_and_grad(f), {"x": dlarray(x32)})
    expected = f(x32.copy())
    assert np.asarray(y.data).dtype == np.asarray(expected).dtype
    np.testing.assert_allclose(np.asarray(y.data), expected, rtol=1e-6)
    assert grads["x"].data.dtype == np.float32
    return grads["x"].data


def all_orders(f, x):
    user_style(f, x)
    keeps_float32(f, x)
    check_second_order(f, x)
    check_tangent(f, x, RNG.standard_normal(x.shape))


# --- 1. np.modf --------------------------------------------------------------------------------------

def modf_loss(x):
    frac, whole = np.modf(x)
    return np.sum(frac * frac * x) + np.sum(whole * x)


def test_modf_all_orders():
    # was: CompileError "no derivative rule for np.modf"
    all_orders(modf_loss, X)
    g = user_style(modf_loss, X)
    frac, whole = np.modf(X)
    assert_close(g, 2 * frac * X + frac * frac + whole, 1e-12, 1e-12)     # d frac = 1, d whole = 0


def test_modf_each_part_alone():
    user_style(lambda x: np.sum(np.modf(x)[0] ** 2), X)
    g = user_style(lambda x: np.sum(np.modf(x)[1] * 3.0), X)
    assert not np.any(g)


# --- 2. np.resize ------------------------------------------------------------------------------------

@pytest.mark.parametrize("shape", [(3, 4), 9, (2, 2), (1,), (0, 3), [5, 2]], ids=str)
def test_resize_all_orders(shape):
    # was: CompileError "no derivative rule for np.resize"
    w = RNG.standard_normal(np.resize(X, shape).shape)

    def resize_loss(x):
        return np.sum(np.resize(x, shape) ** 2 * w) + np.sum(np.resize(x.reshape(2, 3), shape) * w)
    all_orders(resize_loss, X)


def test_resize_sums_the_copies_back():
    g = user_style(lambda x: np.sum(np.resize(x, 14)), X)
    assert_close(g, np.array([3, 3, 2, 2, 2, 2.0]), 1e-12, 1e-12)


def test_resize_of_an_empty_array_is_zeros():
    def f(p):
        y = np.sum(np.resize(p["x"][:0], (2, 3))) + np.sum(p["x"])
        return y, dlgradient(y, p)
    y, g = dlfeval(f, {"x": dlarray(X)})
    assert y.data == np.sum(X) and np.all(g["x"].data == 1)


# --- 3. np.polyadd, polysub, polymul, polyder, polyint (and polyval) ----------------------------------

A, B = X[:4], X[4:]
W = RNG.standard_normal(8)

POLY = {
    "polyadd_longer_first": lambda x: np.sum(np.polyadd(x[:4], x[4:]) * W[:4]),
    "polyadd_shorter_first": lambda x: np.sum(np.polyadd(x[4:], x[:4]) ** 2),
    "polyadd_equal": lambda x: np.sum(np.polyadd(x[:3], x[3:]) ** 2),
    "polyadd_scalar": lambda x: np.sum(np.polyadd(x[0], x[1:]) ** 2),
    "polysub_both_ways": lambda x: np.sum(np.polysub(x[4:], x[:4]) ** 3) + np.sum(np.polysub(x[:4], x[4:]) ** 2),
    "polymul": lambda x: np.sum(np.polymul(x[:4], x[4:]) ** 2),
    "polymul_constant_leading_zero": lambda x: np.sum(np.polymul(np.array([0.0, 0.0, 1.5, -1.0]), x[4:]) * W[:3]),
    "polyder": lambda x: np.sum(np.polyder(x) ** 2) + np.sum(np.polyder(x, 2) * W[:4]),
    "polyder_past_the_degree": lambda x: np.sum(np.polyder(x[:3], 4)) + np.sum(np.polyder(x, 0) ** 2),
    "polyint": lambda x: np.sum(np.polyint(x[:4]) ** 2) + np.sum(np.polyint(x[:4], 2, x[4:]) ** 2),
    "polyint_one_constant": lambda x: np.sum(np.polyint(x[:4], 3, x[5]) ** 2),
    "polyint_constants_given": lambda x: np.sum(np.polyint(x[:4], 2, [1.0, -2.0]) ** 2),
    "polyval": lambda x: np.sum(np.polyval(x[:4], x[4:]) ** 2),
    "polyval_of_polyder": lambda x: np.sum(np.polyval(np.polyder(np.polymul(x[:3], x[3:])), x[1:3]) ** 2),
}


@pytest.mark.parametrize("name", list(POLY))
def test_poly_all_orders(name):
    # was: CompileError "no derivative rule for np.polyadd" (polysub, polymul, polyder, polyint)
    all_orders(POLY[name], X)


def test_poly_values_and_dtypes_are_numpys():
    """numpy's own values, dtypes and shapes: polyder and polyint of float32 make float64 (their int
    aranges), polyadd keeps float32; a leading zero is dropped by polymul, kept by polyadd."""
    def f(p):
        a, b = p["a"], p["b"]
        return (np.polyadd(a, b), np.polysub(b, a), np.polymul(a, b), np.polyder(a), np.polyint(a),
                np.polymul(np.concatenate([np.zeros(1, a.dtype), a]), b),
                np.polyadd(np.concatenate([np.zeros(1, a.dtype), a]), b))
    for dtype in (np.float64, np.float32):
        a, b = A.astype(dtype), B.astype(dtype)
        got = dlfeval(f, {"a": dlarray(a), "b": dlarray(b)})
        for g, e in zip(got, f({"a": a, "b": b})):
            np.testing.assert_array_equal(g.data, e)
            assert g.data.dtype == e.dtype and g.data.shape == e.shape


def test_polymul_of_a_traced_leading_zero_is_refused():
    """numpy drops a leading zero: the product is shorter than at any nearby point, and the derivative
    in that coefficient depends on what reads the missing entries (np.polyval of the product: the
    differences below are not zero), so it is refused; a constant's leading zeros are fine."""
    x = np.array([0.0, 2.0, -1.0, 1.5, -1.0, 0.5])

    def f(v):
        return np.sum(np.polyval(np.polymul(v[:3], v[3:]), np.array([0.5, 2.0])))
    assert numerical_gradient(f, [x.copy()], 0)[0] != 0

    def model_loss(p):
        y = f(p["x"])
        return y, dlgradient(y, p)
    with pytest.raises(Exception, match="leading zero"):
        dlfeval(model_loss, {"x": dlarray(x)})
    user_style(lambda v: np.sum(np.polymul(np.array([0.0, 0.0, 1.0, 2.0]), v[3:]) ** 2), x)
    user_style(lambda v: np.sum(np.polymul(v[1:3], v[3:]) ** 2), x)
    with pytest.raises(Exception, match="leading zero"):
        jvp(f, (x.copy(),), (np.ones(6),))
    with pytest.raises(Exception, match="leading zero"):
        dlfeval(model_loss, {"x": dlarray(np.array([0.0, 0.0, 0.0, 1.5, -1.0, 0.5]))})


def test_poly1d_arguments_are_refused_with_advice():
    def f(p):
        y = np.sum(np.polyadd(np.poly1d([1.0, 2.0]), p["x"]).coeffs)
        return y, dlgradient(y, p)
    with pytest.raises(Exception, match="poly1d"):
        dlfeval(f, {"x": dlarray(X)})


# --- 4. np.i0 -----------------------------------------------------------------------------------------

def test_i0_gradient_elementwise_over_minus_20_to_20():
    # was: CompileError "no derivative rule for np.i0"; its derivative I1 (which numpy lacks) against
    # central differences of np.i0 itself, each point at its own scale
    x = np.concatenate([np.linspace(-20, 20, 161), [0.0, 8.0, -8.0, 1e-9, -1e-9]])
    y, g = dlfeval(_loss_and_grad(lambda v: np.sum(np.i0(v))), {"x": dlarray(x)})
    assert y.data == np.sum(np.i0(x))
    h = 1e-5 * np.maximum(1.0, np.abs(x))
    fd = (np.i0(x + h) - np.i0(x - h)) / (2 * h)
    assert_close(g["x"].data, fd, rtol=1e-8, atol=1e-9)


def test_i0_derivative_against_scipy():
    special = pytest.importorskip("scipy.special")
    x = np.concatenate([np.linspace(-30, 30, 1201), np.logspace(-12, np.log10(700), 300)])
    g = dlfeval(_loss_and_grad(lambda v: np.sum(np.i0(v))), {"x": dlarray(x)})[1]["x"].data
    assert_close(g, special.i1(x), rtol=5e-14, atol=0)


def test_i0_all_orders():
    all_orders(lambda x: np.sum(np.i0(x) * X), X)
    for point in (0.0, 1e-3, -2.0, 9.0, -15.0):       # (each alone: one scale per check)
        check_second_order(lambda x: np.sum(np.i0(x)), np.array([point]))


def test_i0_third_order():
    """d/dx of sum(d2 i0): I1' = I0 - I1/x (1/2 at 0), differentiated again through np.i0's and I1's rules."""
    def third(p):
        x = p["x"]
        g1 = dlgradient(np.sum(np.i0(x)), x, EnableHigherDerivatives=True)
        g2 = dlgradient(np.sum(g1), x, EnableHigherDerivatives=True)
        return g2, dlgradient(np.sum(g2), x)
    x = np.array([0.7, -2.0, 5.5, 12.0])
    g2, g3 = dlfeval(third, {"x": dlarray(x)})
    special = pytest.importorskip("scipy.special")
    assert_close(g2.data, special.i0(x) - special.i1(x) / x, rtol=1e-13, atol=0)
    assert_close(g3.data, special.i1(x) - (special.i0(x) - special.i1(x) / x) / x + special.i1(x) / x ** 2,
                 rtol=1e-12, atol=0)


# --- 5. np.float16 as a cast --------------------------------------------------------------------------

@pytest.mark.parametrize("dtype", [np.float64, np.float32, np.float16])
@pytest.mark.parametrize("form", ["call", "astype", "scalar", "half"])
def test_float16_cast_keeps_the_input_dtype(dtype, form):
    # was: CompileError "no derivative rule for np.float16" (x.astype(np.float16) worked)
    f = {"call": lambda x: np.sum(np.float16(x) * x), "astype": lambda x: np.sum(x.astype(np.float16) * x),
         "scalar": lambda x: np.float16(x[1]) * x[0], "half": lambda x: np.sum(np.half(x) ** 2)}[form]
    x = X.astype(dtype)
    y, g = dlfeval(_loss_and_grad(f), {"x": dlarray(x)})
    # ("half": np.half(x) of a dlarray is numpy's ndarray in Python, so the loss is numpy's float16, as dlfeval gives
    # it back since red54u W1; the others are dlarrays)
    assert type(y) is (np.float16 if form == "half" else dlarray)
    np.testing.assert_array_equal(D(y), f(x))
    assert np.asarray(D(y)).dtype == f(x).dtype
    assert g["x"].data.dtype == dtype            # as float32 does: a gradient's dtype is its input's
    if form == "call":      # the cast's derivative is 1: d/dx (float16(x) * x) = x + float16(x)
        assert_close(g["x"].data.astype(np.float64), np.float16(x) + x.astype(np.float64), rtol=2e-3, atol=2e-3)


def test_float16_cast_forward_and_second_order():
    """(Differences cannot see through float16 rounding: the derivatives against their formulas.)"""
    v = RNG.standard_normal(6)
    y, t = jvp(lambda x: np.sum(np.float16(x).astype(np.float64) * x), (X.copy(),), (v,))
    x16 = np.float16(X).astype(np.float64)
    assert np.asarray(y) == np.sum(x16 * X)
    # (the tangent is cast as the value is: float16(v), as np.float32's is float32(v))
    assert_close(np.asarray(t), np.sum(np.float16(v) * X + x16 * v), rtol=1e-12, atol=1e-12)

    def second(p):
        x = p["x"]
        g = dlgradient(np.sum(np.float16(x) * x), x, EnableHigherDerivatives=True)   # x + float16(x)
        z = np.sum(g * g)
        return z, dlgradient(z, p)
    z, h = dlfeval(second, {"x": dlarray(X)})
    g = X + x16
    assert_close(h["x"].data, 2 * g * 2, rtol=1e-12, atol=1e-12)


# --- 6. np.power(..., dtype=) -------------------------------------------------------------------------

POWER = {
    "float64": lambda x: np.sum(np.power(np.abs(x), 1.5, dtype=np.float64)),
    "float64_exponent": lambda x: np.sum(np.power(1.5, x, dtype=np.float64)),
    "both": lambda x: np.sum(np.power(np.abs(x[:3]) + 0.5, x[3:], dtype=np.float64)),
    "complex_negative_base": lambda x: np.real(np.sum(np.power(x, 0.5, dtype=complex) * (1 + 2j))),
    "complex_abs": lambda x: np.sum(np.abs(np.power(x, 1.5, dtype=np.complex128)) ** 2),
    "complex_exponent": lambda x: np.real(np.sum(np.power(-1.5, x, dtype=complex))),
}


@pytest.mark.parametrize("name", list(POWER))
def test_power_dtype_keyword(name):
    # was: CompileError "the call to power does not match its signature power(a, b): got an
    # unexpected keyword argument 'dtype'"
    f = POWER[name]
    user_style(f, X)
    keeps_float32(f, X)
    check_second_order(f, X)
    check_tangent(f, X, RNG.standard_normal(6))


def test_power_float32_dtype_of_float64_input():
    f = lambda x: np.sum(np.power(x, 3.0, dtype=np.float32))     # noqa: E731
    y, g = dlfeval(_loss_and_grad(f), {"x": dlarray(X)})
    assert y.data == f(X) and y.data.dtype == np.float32 and g["x"].data.dtype == np.float64
    assert_close(g["x"].data, 3 * X ** 2, rtol=1e-6)


def test_power_without_dtype_generates_the_same_code():
    text = sct.source(lambda x: dlgradient(np.sum(np.power(x, 2.5)), x), dlarray(np.abs(X)))
    assert "ufunc_operand" not in text


# --- 7. operator.itemgetter ---------------------------------------------------------------------------

def _two(f):
    def model_loss(p):
        y = f(p)
        return y, dlgradient(y, p)
    return model_loss


def _params():
    return {"a": X[:3].copy(), "b": X[3:].copy()}


ITEMGETTER = {
    "dict_two_keys": lambda p: np.sum(itemgetter("a", "b")(p)[0] * operator.itemgetter("a", "b")(p)[1]),
    "dict_one_key": lambda p: np.sum(itemgetter("b")(p) ** 2),
    "array_items": lambda p: itemgetter(0, 2)(p["a"])[0] * itemgetter(0, 2)(p["a"])[1] + np.sum(p["b"]),
    "slice": lambda p: np.sum(itemgetter(slice(1, 3))(p["a"]) * p["b"][:2]),
    "list": lambda p: np.sum(itemgetter(1, 0)([p["a"], p["b"]])[0] * p["a"] ** 2),
}


def _unpacked(p):
    a, b = operator.itemgetter("a", "b")(p)
    return np.sum(a * b * b)


def _sorted_by_key(p):
    pairs = [(p["a"][i], p["b"][i]) for i in range(3)]
    ordered = sorted(pairs, key=itemgetter(0))
    return ordered[0][1] * 3 + ordered[-1][0] ** 2


def _max_by_key(p):
    pairs = [(p["a"][i], p["b"][i]) for i in range(3)]
    return max(pairs, key=operator.itemgetter(0))[1] * 2 + min(pairs, key=itemgetter(1))[0]


def _mapped(p):
    pairs = [(p["a"][i], p["b"][i]) for i in range(3)]
    seconds = list(map(itemgetter(1), pairs))
    return seconds[0] * seconds[2] * p["a"][1]


ITEMGETTER.update(unpacked=_unpacked, sorted_by_key=_sorted_by_key, max_by_key=_max_by_key, mapped=_mapped)


@pytest.mark.parametrize("name", list(ITEMGETTER))
def test_itemgetter(name):
    # was: CompileError "no derivative rule for operator.itemgetter('a', 'b')"
    f = ITEMGETTER[name]
    p = _params()
    y, g = dlfeval(_two(f), {k: dlarray(v) for k, v in p.items()})
    assert y.data == f(p)
    for k in p:
        expected = numerical_gradient(lambda v: f({**p, k: v}), [p[k]], 0)
        assert_close(g[k].data, expected, 1e-6, 1e-8, what=f"{name} d/d{k}")
    y32, g32 = dlfeval(_two(f), {k: dlarray(v.astype(np.float32)) for k, v in p.items()})
    assert all(g32[k].data.dtype == np.float32 for k in p)
    flat = lambda x: f({"a": x[:3], "b": x[3:]})      # noqa: E731
    check_second_order(flat, X)
    check_tangent(flat, X, RNG.standard_normal(6))


def test_itemgetter_value_is_the_tuple():
    def f(p):
        got = itemgetter("b", "a", "b")(p)
        return got, dlgradient(np.sum(got[0]) + np.sum(got[2] * got[1][:3]), p)
    got, g = dlfeval(f, {"a": dlarray(X[:3]), "b": dlarray(X[3:])})
    assert isinstance(got, tuple) and len(got) == 3
    assert_close(g["b"].data, 1 + X[:3], 1e-12, 1e-12)
    assert_close(g["a"].data, X[3:], 1e-12, 1e-12)
