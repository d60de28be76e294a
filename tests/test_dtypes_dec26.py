"""Red team N, Dec 26: dtypes as users meet them.

Found: an integer array or numpy integer returned by the function given to ``dlfeval`` (an
``np.argmax`` index, ``np.argsort``'s order, labels, a count as ``np.int64``) came back as a dlarray
of float64: a dtype plain Python never gives, which no array accepts as an index
(``classes[pred]`` raised IndexError) and which rounds integers beyond 2**53 (2**62 + 1 came back
as 2**62).  Outside dlfeval, a numpy function's integer result on dlarrays already stayed numpy's
(runtime/dlarray.py ``_wrap_result``); now ``wrap_outputs`` (the dlfeval, dlaccelerate and jvp
boundary) leaves integer arrays and numpy integers as numpy's too.

Checked: values and dtypes against plain Python running the same function on numpy arrays;
gradients against central differences (float64 differences of the same function for float32).
"""
import os
import sys

import numpy as np
import pytest

sys.path.insert(0, os.path.dirname(__file__))
from gradcheck import assert_close, numerical_gradient  # noqa: E402

import sct  # noqa: E402
from sct import dlaccelerate, dlarray, dlfeval, dlgradient  # noqa: E402


def D(v):
    return np.asarray(v.data) if isinstance(v, dlarray) else np.asarray(v)


def plain_scores(x):
    s = np.sum(np.tanh(x) ** 2)
    return s, np.argmax(x), np.argsort(x), x.astype(np.int32), np.int64(2 ** 62 + 1), np.array([2 ** 62 + 1])


def scores(x):
    s = np.sum(np.tanh(x) ** 2)
    return (s, dlgradient(s, x), np.argmax(x), np.argsort(x), x.astype(np.int32), np.int64(2 ** 62 + 1),
            np.array([2 ** 62 + 1]))


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("how", ["dlfeval", "accelerate"])
def test_integer_results_come_back_as_numpy_gives_them(dtype, how):
    x = np.array([0.3, -1.2, 2.5, 0.7], dtype=dtype)
    run = dlaccelerate(scores) if how == "accelerate" else (lambda a: dlfeval(scores, a))
    for _ in range(2):                  # the first call and a cache hit
        s, g, *ints = run(dlarray(x.copy()))
        ref = plain_scores(x.copy())
        assert D(s).dtype == ref[0].dtype
        assert_close(D(s), ref[0], rtol=1e-6)
        assert D(g).dtype == dtype
        assert_close(D(g), numerical_gradient(lambda a: np.sum(np.tanh(a) ** 2), [x.astype(np.float64)], 0),
                     rtol=1e-4, atol=1e-5)
        for got, want in zip(ints, ref[1:]):
            assert type(got) is type(want), (type(got), type(want))
            assert np.asarray(got).dtype == np.asarray(want).dtype
            np.testing.assert_array_equal(got, want)
        classes = np.array(["a", "b", "c", "d"])
        assert classes[ints[0]] == "c"                          # an index, as in numpy
        assert int(ints[4][0]) == 2 ** 62 + 1                   # not rounded through float64


def pick(x, labels):
    t = x[labels]
    return np.sum(t ** 2), labels, labels * 2


def test_an_integer_argument_returned_keeps_its_dtype():
    labels = np.array([2, 0, 2])
    x = np.array([1.0, 2.0, 3.0], dtype=np.float32)
    y, lab, lab2 = dlfeval(pick, dlarray(x), labels)
    assert D(y).dtype == np.float32 and float(D(y)) == pytest.approx(19.0)
    assert type(lab) is np.ndarray and lab.dtype == labels.dtype
    np.testing.assert_array_equal(lab, labels)
    assert type(lab2) is np.ndarray and lab2.dtype == labels.dtype
    np.testing.assert_array_equal(lab2, labels * 2)


# --- found: dljacobian / dldivergence of a complex u gave the derivatives of its real part only ------
# (dljacobian(x * (1 + 2j), x, 0) was the identity, dldivergence 2 + 0j, for (1 + 2j) I and 2 + 4j);
# now refused as dlgradient refuses a complex y.  A real u of a complex x keeps MATLAB's convention.

def jac_of_complex(x):
    u = x * (1 + 2j)
    return dljacobian(u, x, 0)


def div_of_complex(x):
    u = np.exp(1j * x)
    return dldivergence(u, x, 0)


def jac_of_complex_real_part(x):
    u = np.real(x * (1 + 2j) + np.exp(1j * x))
    return u, dljacobian(u, x, 0), dldivergence(u, x, 0)


def jac_wrt_complex(z):
    u = np.abs(z) ** 2 * np.array([1.0, 3.0])
    return u, dljacobian(u, z, 0)


from sct import dldivergence, dljacobian, dllaplacian  # noqa: E402


def lap_of_complex(x):
    u = np.sum(x * x, axis=1) * (1 + 2j)
    return dllaplacian(u, x, 0)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("f, what", [(jac_of_complex, "dljacobian"), (div_of_complex, "dldivergence"),
                                     (lap_of_complex, "dllaplacian")])
def test_complex_u_of_a_jacobian_is_refused(f, what, dtype):
    x = np.array([[0.3, -1.2], [2.5, 0.7]], dtype=dtype)
    with pytest.raises(sct.EvaluationError, match=f"test_dtypes_dec26.py, line .*{what}: u must be real"):
        dlfeval(f, dlarray(x))


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_real_u_through_complex_values_has_its_jacobian(dtype):
    x = np.array([[0.3, -1.2], [2.5, 0.7], [-0.4, 1.1]], dtype=dtype)
    u, J, div = dlfeval(jac_of_complex_real_part, dlarray(x))
    ref = np.real(x * (1 + 2j) + np.exp(1j * x))
    assert D(u).dtype == ref.dtype == dtype
    assert_close(D(u), ref, rtol=1e-6)
    # u[b, i] = x[b, i] + cos(x[b, i]): a diagonal Jacobian 1 - sin(x)
    want = np.zeros((3, 2, 2))
    for i in range(2):
        want[:, i, i] = 1 - np.sin(x[:, i].astype(np.float64))
    assert D(J).dtype == dtype and D(div).dtype == dtype
    assert_close(D(J), want, rtol=1e-5, atol=1e-6)
    assert_close(D(div), np.trace(want, axis1=1, axis2=2), rtol=1e-5, atol=1e-6)


def test_real_u_of_a_complex_x_follows_matlabs_convention():
    z = np.array([[0.3 + 1j, -1.2 + 0.5j], [2.5 - 1j, 0.7j]])
    u, J = dlfeval(jac_wrt_complex, dlarray(z))
    assert D(J).dtype == np.complex128
    want = np.zeros((2, 2, 2), dtype=complex)
    for i, w in enumerate([1.0, 3.0]):
        want[:, i, i] = 2 * w * z[:, i]         # dRe + i dIm of w |z|^2
    assert_close(D(J), want, rtol=1e-10, atol=1e-12)


# --- found: jvp(mode="transpose") (and forward mode's fallback to it) gave a complex64 output a
# complex128 tangent, and each output of a tuple the tangent dtype of all outputs together (a float32
# output's float64 beside a complex64 one); forward mode gives each its output's dtype --------------

TANGENT_CASES = [
    ("expj", lambda a: np.exp(1j * a), lambda a, v: (1j * np.exp(1j * a) * v,)),
    ("rfft", lambda a: np.fft.rfft(np.real(a * np.conj(a))), lambda a, v: (np.fft.rfft(2 * np.real(np.conj(a) * v)),)),
    ("pair32", lambda a: (a * 2.0, np.exp(1j * a)), lambda a, v: (2.0 * v, 1j * np.exp(1j * a) * v)),
    ("pair64", lambda a: (a * np.float64(2.0), a * (1 + 2j)), lambda a, v: (2.0 * v, (1 + 2j) * v)),
]


@pytest.mark.parametrize("mode", ["forward", "transpose"])
@pytest.mark.parametrize("name, f, want", TANGENT_CASES, ids=[c[0] for c in TANGENT_CASES])
@pytest.mark.parametrize("dtype", [np.float32, np.complex64])
def test_jvp_tangents_have_their_outputs_dtype(mode, name, f, want, dtype):
    x = np.array([0.3, -0.7, 1.2, 0.4], dtype=dtype)
    if dtype == np.complex64:
        x = x + np.array([0.5j, 0, -0.25j, 1j], dtype=dtype)
    v = np.array([1.0, 2.0, -0.5, 0.25], dtype=dtype)
    y, jv = sct.jvp(f, x, v, mode=mode)
    ys, jvs = (y, jv) if isinstance(y, tuple) else ((y,), (jv,))
    refs = f(x.copy())
    refs = refs if isinstance(refs, tuple) else (refs,)
    for got_y, got_t, ref, closed in zip(ys, jvs, refs, want(x.astype(np.complex128 if dtype == np.complex64
                                                                        else np.float64), v)):
        assert D(got_y).dtype == ref.dtype
        assert_close(D(got_y), ref, rtol=1e-6, atol=1e-6)
        assert D(got_t).dtype == ref.dtype, (D(got_t).dtype, ref.dtype)
        assert_close(D(got_t), closed, rtol=1e-5, atol=1e-5)


# --- found: np.arcsin / np.arccos of complex values on their branch cuts (|x| > 1 on the real axis, a
# real array made complex: np.arccos(2 * x + 0j)) had the derivative of the other side of the cut:
# the rule's sqrt(1 - x**2) lost the sign of x's zero imaginary part that numpy's value follows
# (d/dx Im arccos(2x + 0j) at x = 0.7 was +2.04 for -2.04).  Now read from numpy's value. --------

def acos_cut(x):
    w = np.arccos(2 * x + 0j)
    return np.sum(np.imag(w) + np.real(w) * x)


def acos_cut_below(x):
    w = np.arccos(np.conj(2 * x + 0j))
    return np.sum(np.imag(w) + np.real(w) * x)


def asin_cut(x):
    w = np.arcsin(2 * x + 0j)
    return np.sum(np.imag(w) * x + np.real(w))


def asin_cut_below(x):
    return np.sum(np.imag(np.arcsin(np.conj(2 * x + 0j))) * x)


def asin_acos_complex(z):
    return np.sum(np.abs(np.arcsin(z)) ** 2 + np.real(np.arccos(z)) * np.imag(np.arccos(z)))


def _second_of(f):
    def run(x):
        y = f(x)
        g = dlgradient(y, x, EnableHigherDerivatives=True)
        z = np.sum(np.real(g * np.conj(g)))
        return y, g, z, dlgradient(z, x)
    return run


def _grad_of(f, a):
    return D(dlfeval(lambda x: dlgradient(f(x), x), dlarray(a)))


@pytest.mark.parametrize("f", [acos_cut, acos_cut_below, asin_cut, asin_cut_below])
def test_arcsin_arccos_on_their_cuts(f):
    x = np.array([-1.3, 0.7, -0.4, 2.0, 0.45])          # 2x: both cuts and inside [-1, 1]
    y, g, z, gz = dlfeval(_second_of(f), dlarray(x.copy()))
    assert_close(D(y), f(x.copy()), rtol=1e-12, atol=1e-12)
    assert D(g).dtype == np.float64
    assert_close(D(g), numerical_gradient(f, [x.copy()], 0), rtol=1e-5, atol=1e-6)
    assert_close(D(gz), numerical_gradient(lambda a: np.sum(_grad_of(f, a) ** 2), [x.copy()], 0),
                 rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("mode", ["forward", "transpose"])
@pytest.mark.parametrize("op", [np.arccos, np.arcsin])
def test_arcsin_arccos_tangents_on_their_cuts(op, mode):
    x = np.array([-1.3, 0.7, -0.4, 2.0])
    v = np.array([1.0, -0.5, 2.0, 0.25])
    y, jv = sct.jvp(lambda a: op(2 * a + 0j), x, v, mode=mode)
    h = 1e-6
    assert_close(D(y), op(2 * x + 0j), rtol=1e-12, atol=1e-12)
    assert_close(D(jv), (op(2 * (x + h * v) + 0j) - op(2 * (x - h * v) + 0j)) / (2 * h), rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("dtype", [np.complex128, np.complex64])
def test_arcsin_arccos_of_complex_inputs(dtype):
    z = np.array([0.3 + 1j, -0.7 + 0.2j, 1.5 - 0.5j, -2.0 + 0.1j], dtype=dtype)
    y, g = dlfeval(lambda a: (asin_acos_complex(a), dlgradient(asin_acos_complex(a), a)), dlarray(z.copy()))
    assert D(y).dtype == asin_acos_complex(z.copy()).dtype
    assert D(g).dtype == dtype
    lo = dtype == np.complex64
    assert_close(D(g), numerical_gradient(asin_acos_complex, [z.astype(np.complex128)], 0),
                 rtol=1e-2 if lo else 1e-5, atol=1e-2 if lo else 1e-6)


# np.arcsinh / np.arccosh the same: their cuts (the imaginary axis beyond +-i, the real axis below 1)
# reached with a zero part of either sign (-2j * x, -(2 * x + 0j), np.conj(2j * x)).

CUT_OPS = {"arcsin": np.arcsin, "arccos": np.arccos, "arcsinh": np.arcsinh, "arccosh": np.arccosh,
           "arctanh": np.arctanh, "arctan": np.arctan, "sqrt": np.sqrt, "log": np.log}
CUT_LINES = {"re+": lambda a: 2 * a + 0j, "re-": lambda a: np.conj(2 * a + 0j), "im+": lambda a: 2j * a,
             "im-": lambda a: np.conj(2j * a), "neg_re": lambda a: -(2 * a + 0j), "neg_im": lambda a: -2j * a}


@pytest.mark.parametrize("mode", ["forward", "transpose"])
@pytest.mark.parametrize("line", list(CUT_LINES))
@pytest.mark.parametrize("op", list(CUT_OPS))
def test_tangents_on_branch_cuts_follow_numpys_side(op, line, mode):
    x = np.array([-1.7, -1.3, -0.4, 0.45, 1.3, 2.0])
    v = np.ones_like(x)
    f = lambda a: CUT_OPS[op](CUT_LINES[line](a))          # noqa: E731
    y, jv = sct.jvp(f, x, v, mode=mode)
    assert_close(D(y), f(x), rtol=1e-12, atol=1e-12)
    h = 1e-7
    assert_close(D(jv), (f(x + h * v) - f(x - h * v)) / (2 * h), rtol=1e-5, atol=1e-5)


def asinh_cut(x):
    w = np.arcsinh(-2j * x)
    return np.sum(np.real(w) * x + np.imag(w))


def acosh_cut(x):
    w = np.arccosh(-(2 * x + 0j))
    return np.sum(np.real(w) + np.imag(w) * x)


@pytest.mark.parametrize("f", [asinh_cut, acosh_cut])
def test_arcsinh_arccosh_gradients_on_their_cuts(f):
    x = np.array([-1.3, 0.7, -0.4, 2.0, 0.45])
    y, g, z, gz = dlfeval(_second_of(f), dlarray(x.copy()))
    assert_close(D(y), f(x.copy()), rtol=1e-12, atol=1e-12)
    assert_close(D(g), numerical_gradient(f, [x.copy()], 0), rtol=1e-5, atol=1e-6)
    assert_close(D(gz), numerical_gradient(lambda a: np.sum(_grad_of(f, a) ** 2), [x.copy()], 0),
                 rtol=1e-4, atol=1e-4)


# --- found: forward-mode tangents of powers in another dtype than their values: 2.0 ** x (and
# np.power(2.0, x)) of a float32 x had a float64 tangent (complex128 for complex64: the log of the
# Python base was numpy's float64 scalar, which promotes), np.float_power's a float32 one for its
# float64 value (the rule was np.power's) ------------------------------------------------------------

POWER_CASES = {
    "rpow": lambda a: 2.0 ** a,
    "np_rpow": lambda a: np.power(2.0, a),
    "complex_base": lambda a: (1 + 1j) ** a,
    "scalar_rpow": lambda a: 2.0 ** a[0] * a,
    "float_power": lambda a: np.float_power(np.abs(a), 1.5),
    "float_power_base": lambda a: np.float_power(2.0, a),
}


@pytest.mark.parametrize("mode", ["forward", "transpose"])
@pytest.mark.parametrize("name", list(POWER_CASES))
@pytest.mark.parametrize("dtype", [np.float32, np.complex64, np.float64])
def test_power_tangents_have_their_values_dtype(name, dtype, mode):
    f = POWER_CASES[name]
    x = np.array([0.3, -0.7, 1.5], dtype=dtype)
    if dtype == np.complex64:
        x = x + np.array([0.2j, -0.5j, 0.1j], dtype=dtype)
    v = np.array([1.0, 0.5, -2.0], dtype=dtype)
    y, jv = sct.jvp(f, x, v, mode=mode)
    ref = f(x.copy())
    assert D(y).dtype == ref.dtype and D(jv).dtype == ref.dtype, (D(y).dtype, D(jv).dtype, ref.dtype)
    assert_close(D(y), ref, rtol=1e-6, atol=1e-6)
    wide = x.astype(np.complex128 if dtype == np.complex64 else np.float64)
    h = 1e-6
    want = (f(wide + h * v) - f(wide - h * v)) / (2 * h)
    lo = dtype != np.float64
    assert_close(D(jv), want, rtol=1e-4 if lo else 1e-6, atol=1e-4 if lo else 1e-6)


def powers(x):
    a = float(x[3])
    return np.sum(2.0 ** x) + np.sum(a ** x * x) + 3.0 ** x[0] + np.sum(np.float_power(2.0, x))


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_power_gradients_of_python_bases(dtype):
    x = np.array([0.3, -0.7, 1.5, 0.9], dtype=dtype)
    y, g, z, gz = dlfeval(_second_of(powers), dlarray(x.copy()))
    assert D(y).dtype == np.asarray(powers(x.copy())).dtype
    assert_close(D(y), powers(x.copy()), rtol=1e-6)
    assert D(g).dtype == dtype
    lo = dtype == np.float32
    x64 = x.astype(np.float64)
    assert_close(D(g), numerical_gradient(powers, [x64], 0), rtol=1e-4 if lo else 1e-6, atol=1e-4 if lo else 1e-6)
    assert_close(D(gz), numerical_gradient(lambda a: np.sum(_grad_of(powers, a) ** 2), [x64], 0),
                 rtol=1e-3 if lo else 1e-4, atol=1e-3 if lo else 1e-4)


# --- found: forward-mode tangents taken from an op's rule (rt.op_jvp) in another precision than the
# op's value: np.asarray(x, dtype=np.float64) / np.array(x, dtype=float) of a float32 x had float32
# tangents for float64 values, np.angle of a complex64 value a float64 tangent -------------------

OP_JVP_CASES = {
    "asarray64": (lambda a: np.asarray(a, dtype=np.float64) * 2.0, lambda a, v: 2.0 * v),
    "array64": (lambda a: np.array(a, dtype=float), lambda a, v: v),
    "angle": (lambda a: np.angle(a + 1j), lambda a, v: v * -1.0 / (a * a + 1.0)),
}


@pytest.mark.parametrize("mode", ["forward", "transpose"])
@pytest.mark.parametrize("name", list(OP_JVP_CASES))
def test_op_tangents_have_their_values_precision(name, mode):
    f, closed = OP_JVP_CASES[name]
    x = np.array([0.3, -0.7, 1.5], dtype=np.float32)
    v = np.array([1.0, 0.5, -2.0], dtype=np.float32)
    y, jv = sct.jvp(f, x, v, mode=mode)
    ref = f(x.copy())
    assert D(y).dtype == ref.dtype and D(jv).dtype == ref.dtype, (D(y).dtype, D(jv).dtype, ref.dtype)
    assert_close(D(y), ref, rtol=1e-6, atol=1e-6)
    assert_close(D(jv), closed(x.astype(np.float64), v.astype(np.float64)), rtol=1e-5, atol=1e-6)


# --- found: gelu (and its normal_cdf) of complex values: the rules were g * slope, not
# g * conj(slope), so the gradient of a real loss of gelu(z) had wrong imaginary parts (and jvp's
# tangents the conjugate slope) ---------------------------------------------------------------------

def gelu_loss(z):
    return np.sum(np.abs(sct.gelu(z)) ** 2 + np.real(sct.gelu(z, Approximation="tanh")) * np.arange(4))


@pytest.mark.parametrize("dtype", [np.complex128, np.complex64, np.float64, np.float32])
def test_gelu_of_complex_values(dtype):
    z = np.array([0.3 + 0.2j, -0.7 + 0.1j, 1.5 - 0.1j, 0.2 - 0.3j])
    z = (z if np.dtype(dtype).kind == "c" else z.real).astype(dtype)
    y, g, w, gw = dlfeval(_second_of(gelu_loss), dlarray(z.copy()))
    assert D(y).dtype == np.asarray(gelu_loss(z.copy())).dtype
    assert_close(D(y), gelu_loss(z.copy()), rtol=1e-6)
    assert D(g).dtype == dtype
    lo = dtype in (np.complex64, np.float32)
    wide = z.astype(np.complex128 if np.dtype(dtype).kind == "c" else np.float64)
    assert_close(D(g), numerical_gradient(gelu_loss, [wide], 0), rtol=1e-3 if lo else 1e-6, atol=1e-3 if lo else 1e-6)
    assert_close(D(gw), numerical_gradient(lambda a: np.sum(np.abs(_grad_of(gelu_loss, a)) ** 2), [wide], 0),
                 rtol=1e-2 if lo else 1e-4, atol=1e-2 if lo else 1e-4)


@pytest.mark.parametrize("mode", ["forward", "transpose"])
def test_gelu_tangents_of_complex_values(mode):
    z = np.array([0.3 + 0.2j, -0.7 + 0.1j, 1.5 - 0.1j])
    v = np.array([1.0, 0.5j, 0.2 + 0.2j])
    y, jv = sct.jvp(lambda a: sct.gelu(a), z, v, mode=mode)
    h = 1e-6
    assert_close(D(jv), (sct.gelu(z + h * v) - sct.gelu(z - h * v)) / (2 * h), rtol=1e-6, atol=1e-7)


# --- found: huber and crossentropy of complex predictions differentiated their real formulas (huber's
# d * d is not |d| ** 2): wrong gradients; now refused as MATLAB's real-only losses, at the user's line

def huber_of_complex(z):
    return np.real(sct.huber(z, np.zeros(np.shape(z))))


def crossentropy_of_complex(z):
    return np.real(sct.crossentropy(z, np.array([[1.0, 0.0, 0.0], [0.0, 1.0, 0.0]])))


def mse_of_complex(z):
    return np.real(sct.mse(z, np.zeros(np.shape(z))))


@pytest.mark.parametrize("f, what", [(huber_of_complex, "huber"), (crossentropy_of_complex, "crossentropy")])
def test_real_losses_refuse_complex_predictions(f, what):
    z = np.array([[0.3 + 0.2j, -0.7 + 0.1j, 1.5 - 0.1j], [0.4j, 0.2 - 0.3j, -1.0 + 0.5j]])
    run = lambda a: (f(a), dlgradient(f(a), a))            # noqa: E731
    with pytest.raises(sct.EvaluationError, match=f"test_dtypes_dec26.py, line .*{what}: complex predictions"):
        dlfeval(run, dlarray(z))
    with pytest.raises(TypeError, match=f"{what}: complex predictions"):
        f(z)


def test_mse_of_complex_predictions_keeps_its_gradient():
    z = np.array([[0.3 + 0.2j, -0.7 + 0.1j, 1.5 - 0.1j], [0.4j, 0.2 - 0.3j, -1.0 + 0.5j]])
    y, g = dlfeval(lambda a: (mse_of_complex(a), dlgradient(mse_of_complex(a), a)), dlarray(z.copy()))
    assert_close(D(y), mse_of_complex(z.copy()), rtol=1e-12)
    assert_close(D(g), numerical_gradient(mse_of_complex, [z.copy()], 0), rtol=1e-6, atol=1e-7)


# --- found: scipy.special.jv / yv / iv of a complex x: the rules did not conjugate the slope (wrong
# gradients of a real loss); ive (exp(-|Re x|) iv, not holomorphic) took the real formula with
# np.sign of a complex x.  Now conjugated, and ive's adjoint has both Wirtinger parts. --------------

sp = pytest.importorskip("scipy.special")

BESSEL = {
    "jv": lambda a: np.sum(np.abs(sp.jv(1.5, a)) ** 2),
    "yv": lambda a: np.sum(np.abs(sp.yv(1.0, a + 3)) ** 2),
    "iv": lambda a: np.sum(np.abs(sp.iv(0.5, a)) ** 2),
    "ive": lambda a: np.sum(np.abs(sp.ive(1.0, a)) ** 2) + np.sum(np.real(sp.ive(2.0, a)) * np.arange(3)),
}


@pytest.mark.parametrize("name", list(BESSEL))
@pytest.mark.parametrize("dtype", [np.complex128, np.float64])
def test_bessel_functions_of_complex_values(name, dtype):
    f = BESSEL[name]
    z = np.array([0.3 + 0.2j, 1.1 - 0.4j, 2.0 + 0.5j])
    if dtype == np.float64:
        z = z.real.copy()
    y, g, w, gw = dlfeval(_second_of(f), dlarray(z.copy()))
    assert_close(D(y), f(z.copy()), rtol=1e-10)
    assert D(g).dtype == dtype
    assert_close(D(g), numerical_gradient(f, [z.copy()], 0), rtol=1e-5, atol=1e-6)
    assert_close(D(gw), numerical_gradient(lambda a: np.sum(np.abs(_grad_of(f, a)) ** 2), [z.copy()], 0),
                 rtol=1e-4, atol=1e-4)
