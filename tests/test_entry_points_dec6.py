"""Red team "modes" (dec 6): one program through every entry point sct offers (dlgradient, nested
dlgradient, hvp, jvp, dljacobian, dldivergence, dllaplacian, accelerate, source), each checked against
the others and against central differences."""
import numpy as np
import pytest

import sct
from sct import dlarray, dldivergence, dlfeval, dlgradient, dljacobian, dllaplacian, extractdata

from gradcheck import assert_close, numerical_gradient


def _d(v):
    return np.asarray(extractdata(v)) if isinstance(v, sct.dlarray) else np.asarray(v)


# --- dldivergence of a float32 x returned float64 where u was float64 -----------------------------

_W3 = np.array([[0.5, -0.2, 0.1], [0.3, 0.8, -0.6], [-0.1, 0.4, 0.9]])      # float64 weights
_X = np.array([[0.7, -1.3, 0.4], [1.1, -0.6, 0.25], [-0.8, 0.9, 1.6], [0.3, 0.55, -0.45]])


def _u_tanh(x):
    return np.tanh(x @ _W3 + 0.1)        # float64 for a float32 x (numpy promotes)


def _div_and_jac(x):
    u = _u_tanh(x)
    return dldivergence(u, x, 0), dljacobian(u, x, 0)


def test_divergence_has_the_gradients_dtype_as_the_jacobian():
    """A float32 x gave a float32 Jacobian but a float64 divergence (the trace of that Jacobian):
    rt.batch_divergence summed into zeros of u's dtype."""
    div, jac = dlfeval(_div_and_jac, dlarray(_X.astype(np.float32)))
    assert _d(jac).dtype == np.float32
    assert _d(div).dtype == np.float32
    assert_close(_d(div), np.trace(_d(jac), axis1=1, axis2=2), rtol=1e-6, atol=1e-6)
    # and the values, against differences of the float64 program per point
    ref = np.zeros(4)
    for b in range(4):
        for i in range(3):
            row = numerical_gradient(lambda xb: _u_tanh(np.concatenate([_X[:b], xb[None], _X[b + 1:]]))[b, i],
                                     [_X[b]], 0)
            ref[b] += row[i]
    assert_close(_d(div), ref, rtol=1e-3, atol=1e-3)
    div64, _ = dlfeval(_div_and_jac, dlarray(_X))
    assert _d(div64).dtype == np.float64
    assert_close(_d(div64), ref, rtol=1e-6, atol=1e-7)


# --- jvp of a helper returning a tuple holding an inactive tuple ----------------------------------

def _shape_info(x, k):
    r = np.ndim(x) + k
    return (r, ()), ()


def _helper_in_loop(x):
    s = 0.0
    for k in range(2):
        t = _shape_info(x, k)
        s = s + np.sum(x) * t[0][0]
    return s


class _Info:
    def shape_info(self, x):
        return (np.ndim(x), ()), ()


def _method(x):
    m = _Info()
    t = m.shape_info(x)
    return np.sum(x ** 2) * t[0][0]


def _function_value(x, fn=_shape_info):
    t = fn(x, 1)
    a, b = t[0]
    return np.sum(x ** 2) * a


def test_jvp_of_helper_returning_nested_inactive_tuple():
    """sct.jvp raised "TypeError while evaluating ...: 'float' object is not subscriptable": forward mode
    gave the zero tangent of a helper's inactive tuple result as zero_adjoint's markers (0.0 for the
    inner tuple (r, ())), which the caller's tangent code subscripted (dot_t[0][0]).  The same crash hit
    sct.jvp of a PINN loss with a dllaplacian and a dlgradient after it (rt.batch_divergence's compiled
    `_batch_axis` returns (ub, residuals))."""
    x, v = np.array([1.0, 2.0, -0.5]), np.array([0.3, -1.0, 2.0])
    for fun in (_helper_in_loop, _method, _function_value):
        y, t = sct.jvp(fun, x, v)
        assert_close(_d(y), fun(x), rtol=1e-12, atol=0)
        ref = np.sum(numerical_gradient(fun, [x], 0) * v)
        assert_close(_d(t), ref, rtol=1e-6, atol=1e-8)


# --- jvp(mode="transpose") refusals named sct/forward.py ----------------------------------------------

def _sqrt_times_zero(x):
    return np.sum(np.sqrt(x) * 0.0 + x)


@pytest.mark.filterwarnings("ignore::RuntimeWarning")
def test_transpose_jvp_refusal_names_the_users_function():
    """The NaN-gradient refusal of jvp's transpose mode (np.sqrt at 0, times 0) named
    "sct/forward.py, line 35" (the kernel's dlgradient), not the user's file; forward mode names
    the user's line.  Both must name this file."""
    x = np.array([0.0, 1.0])
    for mode in ("forward", "transpose"):
        with pytest.raises(sct.EvaluationError) as info:
            sct.jvp(_sqrt_times_zero, x, np.ones_like(x), mode=mode)
        assert info.value.filename == __file__, (mode, str(info.value)[:120])
        assert "forward.py" not in str(info.value).split(":")[0]


# --- x.data in forward mode: numpy's memoryview, where dlfeval reads dlarray's data --------------------

def _data_copy(x):
    c = x.data.copy()
    return np.sum(c * x)


def _data_mean(x):
    return np.sum(x - x.data.mean()) + np.sum(x ** 2)


def _data_type_test(x):
    d = x.data
    if isinstance(d, np.ndarray):
        return np.sum(d * x)
    return np.sum(x * x)


def test_dot_data_is_dlarrays_data_in_every_mode():
    """`x.data` of a traced value is dlarray's data, a constant (README), in dlfeval, hvp and
    jvp(mode="transpose"); forward-mode jvp read numpy's `.data` (a memoryview): `x.data.copy()` and
    `x.data.mean()` raised AttributeError, and a type test took the other branch, so jvp's two modes
    gave different tangents (2 x.v against x.v)."""
    x, v = np.array([0.7, -1.3, 0.4]), np.array([1.0, 0.5, -2.0])
    expected = {_data_copy: np.sum(x * v), _data_mean: np.sum(v) + np.sum(2 * x * v),
                _data_type_test: np.sum(x * v)}

    for fun, tangent in expected.items():
        def with_gradient(z):
            y = fun(z)
            return y, dlgradient(y, z)
        y, g = dlfeval(with_gradient, dlarray(x))
        assert_close(np.sum(_d(g) * v), tangent, rtol=1e-12, atol=1e-12)
        for primals, tangents in ((x, v), (dlarray(x), dlarray(v))):
            for mode in ("forward", "transpose"):
                value, t = sct.jvp(fun, primals, tangents, mode=mode)
                assert_close(_d(value), _d(y), rtol=1e-12, atol=0)
                assert_close(_d(t), tangent, rtol=1e-12, atol=1e-12)


# --- second derivatives through the attribute x.mT ------------------------------------------------------

_C = np.array([[1.0, 2.0], [-0.5, 3.0]])


def _mt_square(x):
    a = x.reshape(2, 2)
    return np.sum((a.mT @ _C) * a)


def _mt_stacked(x):
    a = x.reshape(2, 2, 2)
    return np.sum(np.sin(a.mT) * a * _C)


def _mt_row(x):
    return np.sum(x.reshape(1, 3).mT @ x.reshape(1, 3))


def _gradient(fun):
    def g(z):
        return dlgradient(fun(z), z)
    return g


def test_second_derivative_through_mT_attribute():
    """The transpose of `.mT`'s adjoint (rt.attribute_adjoint_any_transpose, read by a nested
    dlgradient) returned its argument untransposed: a silently wrong Hessian-vector product for a
    square `a.mT` (0.9, -2.23, ... against 1.18, -3.93, ...), a broadcast ValueError for a (1, 3) one.
    np.matrix_transpose(a) and a.T were right; hvp (forward over reverse) was right."""
    for fun, x in ((_mt_square, np.array([0.7, -1.3, 0.4, 2.0])), (_mt_stacked, np.linspace(-1, 1, 8)),
                   (_mt_row, np.array([0.7, -1.3, 0.4]))):
        v = np.linspace(0.5, -1.2, x.size)

        def nested(z):
            g = dlgradient(fun(z), z)
            return dlgradient(np.sum(g * v), z)
        h = 1e-5
        ref = (_d(dlfeval(_gradient(fun), dlarray(x + h * v))) -
               _d(dlfeval(_gradient(fun), dlarray(x - h * v)))) / (2 * h)
        assert_close(_d(dlfeval(nested, dlarray(x))), ref, rtol=1e-6, atol=1e-8)
        assert_close(_d(sct.hvp(fun, x, v)), ref, rtol=1e-6, atol=1e-8)
        # and the first derivative against differences of the plain function
        assert_close(_d(dlfeval(_gradient(fun), dlarray(x))), numerical_gradient(fun, [x], 0),
                     rtol=1e-6, atol=1e-8)
