"""Ops of the Dec 3 release note, written the way users write them: np.nancumprod; where= / mean= /
correction= of np.var / np.std (and x.var / x.std); np.cov with fweights= / aweights=; a traced
initial= of np.max / np.min / np.sum / np.prod (its value and its derivative).  Values against plain
numpy, gradients against central differences (tests/gradcheck.py), second derivatives (sct.hvp)
against central differences of sct's gradient; float32 stays float32.  The rules are rows of the op
table (tests/test_op_rules.py), checked there to first and second order and in forward mode.
"""
from __future__ import annotations

import numpy as np
import pytest

import sct
from sct import CompileError, EvaluationError, dlarray, dlfeval, dlgradient, extractdata
from gradcheck import assert_close, numerical_gradient

pytestmark = pytest.mark.filterwarnings("ignore::RuntimeWarning")

RNG = np.random.default_rng(20261203)
X34 = RNG.uniform(-1, 1, (3, 4))
X34[np.abs(X34) < 0.15] += 0.3
MASK = np.array([[True, False, True, True], [False, True, True, True], [True, True, False, True]])
NAN_AT = np.zeros((3, 4), dtype=bool)
NAN_AT[0, 1] = NAN_AT[2, 3] = True
FW = np.array([1, 2, 1, 3])
AW = np.array([0.5, 1.0, 2.0, 0.25])


# --- the model functions ---------------------------------------------------------------------------

def nan_cumulative_products(x):
    y = np.where(NAN_AT, np.nan, x)
    total = 0.0
    for k in range(2):
        z = y * (1.0 + 0.5 * k)
        total = total + np.sum(np.nancumprod(z + 1.5, axis=1) ** 2) * 0.1
        total = total + np.sum(np.nancumprod(z, axis=0)) + np.sum(np.nancumprod(z[1]))
    return total


def variance_options(x):
    total = 0.0
    for k in range(2):
        h = np.tanh(x * (k + 1))
        total = total + h.var(where=MASK) + np.sum(np.std(h, axis=1, where=MASK, ddof=1))
        total = total + np.sum(np.var(h, axis=0, correction=1)) + np.std(h, correction=1.5)
        m = np.mean(h, axis=1, keepdims=True)
        total = total + np.sum(h.var(axis=1, mean=m)) + np.sum(np.std(h, axis=1, mean=m * 0.5, keepdims=True))
        total = total + np.sum(np.var(h, axis=1, mean=m, where=MASK, ddof=1))
    return total


def weighted_covariance(x):
    total = 0.0
    for k in range(2):
        h = x * (1.0 + k)
        total = total + np.sum(np.cov(h, fweights=FW) ** 2) + np.sum(np.cov(h, aweights=AW))
        total = total + np.sum(np.cov(h, fweights=FW, aweights=AW, ddof=2) * np.arange(9.0).reshape(3, 3))
        total = total + np.sum(np.cov(h.T, rowvar=False, aweights=AW, bias=True))
        total = total + np.sum(np.cov(h[0], h[1], fweights=FW))
    return total


def traced_initial(x):
    total = 0.0
    for k in range(2):
        h = x * (k + 1)
        # the start value wins in some rows (row 0's entries are all below it), not in others
        total = total + np.sum(np.max(h, axis=1, initial=h[0, 0] + 2.5 * (k == 0)))
        total = total + np.min(h, initial=np.sin(h[1, 1]) - 3.0) + np.sum(np.min(h, axis=0, initial=h[2, 2]))
        total = total + np.sum(np.sum(h ** 2, axis=1, initial=h[0, 3] * 2))
        total = total + np.sum(np.prod(h + 1.5, axis=0, initial=h[1, 0] + 2.0))
        total = total + h.sum(initial=h[2, 1] ** 2) + h[0].prod(initial=h[1, 3])
        total = total + np.max(h, initial=h[0, 2] + 5.0)            # the start value wins
    return total


FUNCTIONS = [nan_cumulative_products, variance_options, weighted_covariance, traced_initial]


def _value_and_grad(fun, x):
    y = fun(x)
    return y, dlgradient(y, x)


def _sct_grad(fun, x):
    return np.asarray(extractdata(dlfeval(_value_and_grad, fun, dlarray(x))[1]))


@pytest.mark.parametrize("fun", FUNCTIONS, ids=lambda f: f.__name__)
def test_value_gradient_and_second_derivative(fun):
    x = X34.copy()
    y, g = dlfeval(_value_and_grad, fun, dlarray(x))
    assert_close(extractdata(y), fun(X34.copy()), 1e-12, 1e-12, what="value")
    expected = numerical_gradient(fun, [X34.copy()], 0)
    assert_close(extractdata(g), expected, 1e-5, 1e-6, what="gradient")
    v = np.random.default_rng(7).standard_normal(x.shape)
    hv = np.asarray(extractdata(sct.hvp(fun, x, v)))
    step = 1e-5
    fd = (_sct_grad(fun, x + step * v) - _sct_grad(fun, x - step * v)) / (2 * step)
    assert_close(hv, fd, 1e-4, 1e-5, what="Hessian-vector product")


def float32_model(x):
    total = np.float32(0.0)
    for k in range(2):
        total = total + np.sum(np.nancumprod(x + 1.5, axis=0)) + np.var(x, where=MASK) + np.std(x, correction=1)
        total = total + np.sum(np.cov(x, aweights=AW)) + np.max(x, initial=x[0, 0] + 2.0)
        total = total + np.sum(x, initial=x[1, 1]) + x.var(mean=np.mean(x, keepdims=True))
    return total


def test_float32_stays_float32():
    x = X34.astype(np.float32)
    y, g = dlfeval(_value_and_grad, float32_model, dlarray(x))
    assert np.asarray(extractdata(g)).dtype == np.float32
    assert_close(extractdata(y), float32_model(x.copy()), 1e-5, 1e-5)
    exact = _sct_grad(float32_model, X34.copy())
    assert_close(extractdata(g), exact, 1e-4, 1e-4)
    assert_close(exact, numerical_gradient(float32_model, [X34.copy()], 0), 1e-5, 1e-6)


def test_initial_takes_the_gradient_where_it_wins():
    def model(x):
        return np.sum(np.max(x, axis=1, initial=x[0, 0] + 0.5))
    x = np.array([[0.1, -0.2, 0.3], [0.2, 2.0, 0.1], [0.0, 0.05, 0.2]])
    g = np.asarray(extractdata(dlfeval(_value_and_grad, model, dlarray(x))[1]))
    # rows 0 and 2: the start value (x[0, 0] + 0.5 = 0.6) wins; row 1: x[1, 1]
    assert_close(g, np.array([[2.0, 0, 0], [0, 1.0, 0], [0, 0, 0]]), 0, 0)


def traced_weights(x):
    y = np.sum(np.cov(x, aweights=np.abs(x[0])))
    return y, dlgradient(y, x)


def test_traced_weights_are_refused_at_their_line():
    with pytest.raises(CompileError) as info:
        dlfeval(traced_weights, dlarray(X34.copy()))
    assert info.value.lineno == traced_weights.__code__.co_firstlineno + 1
    assert "aweights" in str(info.value)


# --- item 1: constructs that were refused with unclear messages ------------------------------------

def ufunc_out_tuple(x):
    total = 0.0
    for k in range(2):
        z = x * (k + 2.0)
        np.add(z, 1.0, out=(z,))
        r = np.multiply(z, x, out=(z,))
        total = total + np.sum(z ** 2) + np.sum(r)
    return total


def mask_augmented(x):
    y = x.copy()
    y[x > 0.3] *= 3
    return np.sum(y)


def mask_augmented_loop(x):
    total = 0.0
    for k in range(2):
        y = x.copy()
        y[x > 0.1 * k] += x[0, 0] ** 2
        y[:, 1:] -= y[:, :-1] * 0.5
        y[y < 0] **= 2
        total = total + np.sum(y * y)
    return total


class Box:
    def __init__(self, scale=1.0):
        self.scale = scale
        self.w = None


class Plain:
    pass


def make_box(x, s):
    b = Box(s)
    b.w = x * b.scale
    b.w = np.sin(b.w) + b.scale
    return b


def make_plain(x):
    p = Plain()
    p.w = x ** 2
    return p


def object_helpers(x):
    total = 0.0
    for k in range(3):
        b = make_box(x, 1.0 + k)
        total = total + np.sum(b.w * x) + np.sum(make_plain(x[k]).w)
    return total


@pytest.mark.parametrize("fun", [ufunc_out_tuple, mask_augmented, mask_augmented_loop, object_helpers],
                         ids=lambda f: f.__name__)
def test_now_differentiated(fun):
    test_value_gradient_and_second_derivative(fun)


def test_mask_augmented_gradient_is_three_where_the_mask_holds():
    g = _sct_grad(mask_augmented, X34.copy())
    assert_close(g, np.where(X34 > 0.3, 3.0, 1.0), 0, 0)


def test_jvp_transpose_of_a_tuple_returning_function():
    def two(x, w):
        return np.sin(x) * w[0], np.sum(x ** 2, axis=0) + w, [x[0, 0] * w[1]][0]
    x, w = X34.copy(), np.array([0.5, -1.2, 0.3, 2.0])
    vx, vw = np.random.default_rng(3).standard_normal(x.shape), np.ones(4)
    y_t, jv_t = sct.jvp(two, (x, w), (vx, vw), mode="transpose")
    y_f, jv_f = sct.jvp(two, (x, w), (vx, vw))
    assert isinstance(y_t, tuple) and isinstance(jv_t, tuple) and len(jv_t) == 3
    step = 1e-6
    for k in range(3):
        assert_close(extractdata(y_t[k]), two(x, w)[k], 1e-12, 1e-12)
        fd = (np.asarray(two(x + step * vx, w + step * vw)[k]) - np.asarray(two(x - step * vx, w - step * vw)[k])) \
            / (2 * step)
        assert np.shape(extractdata(jv_t[k])) == np.shape(fd)
        assert_close(extractdata(jv_t[k]), fd, 1e-6, 1e-7)
        assert_close(extractdata(jv_t[k]), extractdata(jv_f[k]), 1e-12, 1e-12)


def base_of_view(x):
    t = x * 2
    y = np.sum(t[1:].base ** 2)
    return y, dlgradient(y, x)


def helper_object_of_unknown_make(x):
    y = np.sum(_namespace_with(x).w)
    return y, dlgradient(y, x)


def _namespace_with(x):
    o = _Registered()
    o.w = x * 3
    return o


_REGISTERED = []


class _Registered:
    """An object whose __init__ passes self on (sct cannot prove it is new where it is set).
    (Was types.SimpleNamespace(), which sct now builds as a new object: see tests/test_fixes_dec4.py.)"""
    def __init__(self):
        _REGISTERED.append(self)


def test_base_is_refused_with_what_to_write():
    with pytest.raises(EvaluationError) as info:
        dlfeval(base_of_view, dlarray(X34.copy()))
    assert info.value.lineno == base_of_view.__code__.co_firstlineno + 2
    assert info.value.filename.endswith("test_ops_dec3.py")
    assert "`.base`" in str(info.value) and "write `t`" in str(info.value)


def test_attribute_of_an_unprovable_object_is_refused_without_blaming_the_caller():
    with pytest.raises(CompileError) as info:
        dlfeval(helper_object_of_unknown_make, dlarray(X34.copy()))
    assert info.value.lineno == _namespace_with.__code__.co_firstlineno + 2
    assert "caller passed in" not in str(info.value)
    assert "cannot prove is new" in str(info.value) and "o.w" in str(info.value)


# --- item 2: the warning of specialised scalar code names the user's line --------------------------

def scalar_overflow(x):
    y = x[0] ** 400.0
    z = np.log(x[1] * 0.0) + x[1]
    return y + z, dlgradient(y + z, x)


def test_scalar_code_warnings_name_the_users_line():
    import warnings
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        dlfeval(scalar_overflow, dlarray(np.array([10.0, 2.0])))
    first = scalar_overflow.__code__.co_firstlineno
    where = {(w.filename, w.lineno, str(w.message).split(" encountered")[0]) for w in caught}
    assert (__file__, first + 1, "overflow") in where, where
    assert (__file__, first + 2, "divide by zero") in where, where
    assert all(w.filename == __file__ for w in caught), where           # none names sct's runtime
