"""Red team C (Dec 23): single numpy operations with the argument combinations real code passes,
against plain numpy (values) and central differences (gradients, second derivatives).  The random
generator is tests/redteam_dec23c_gen.py (``python tests/redteam_dec23c_gen.py --n 2000 --seed S``);
these are the reproducers of what it found, and a sample of its cases kept as regression tests.

1. A complex input to a nonlinear reduction given a real ``dtype=`` (np.prod(z, dtype=np.float64),
   np.cumprod, np.var / np.std, the nan* forms, the methods, np.multiply.reduce): numpy casts the
   input, dropping its imaginary part (a ComplexWarning), and var / std subtract the real mean.  The
   rules read the complex input as it was: the gradient was silently wrong (its imaginary part, and
   for prod the real part too).  Now the rules read the input as numpy does (numpy_ops.input_as).
2. np.average(..., returned=True) with traced weights: a ValueError / TypeError inside the rule;
   now the same clear refusal as for traced ``a``.
"""
from __future__ import annotations

import os
import sys
import warnings

import numpy as np
import pytest

from gradcheck import numerical_gradient
import sct
from sct import dlarray, dlfeval, dlgradient, extractdata
from sct.errors import SctError

pytestmark = pytest.mark.usefixtures("fresh_cache")

RNG = np.random.default_rng(23)
Z = RNG.standard_normal((3, 4)) + 1j * RNG.standard_normal((3, 4))
W = RNG.standard_normal((3, 4))
V = RNG.standard_normal((3, 4))


def _d(v):
    return np.asarray(extractdata(v))


# --- 1. complex input, real dtype= ---------------------------------------------------------------

def p_prod(x):
    return np.sum(W[:, 0] * np.prod(x, axis=1, dtype=np.float64))


def p_prod_none(x):
    return np.sum(np.prod(x, dtype=np.float64))


def p_prod_keep(x):
    return np.sum(W[:1] * np.prod(x, axis=0, keepdims=True, dtype=np.float64))


def p_cumprod(x):
    return np.sum(W * np.cumprod(x, axis=1, dtype=np.float64))


def p_cumprod_flat(x):
    return np.sum(W.ravel() * np.cumprod(x, dtype=np.float64))


def p_var(x):
    return np.sum(W[:, 0] * np.var(x, axis=1, dtype=np.float64))


def p_var_ddof(x):
    return np.sum(W[0] * np.var(x, axis=0, ddof=1, dtype=np.float64))


def p_std(x):
    return np.sum(W[:, 0] * np.std(x, axis=-1, dtype=np.float64))


def p_std_all(x):
    return np.std(x, dtype=np.float64)


def p_nanprod(x):
    return np.sum(W[:, 0] * np.nanprod(x, axis=1, dtype=np.float64))


def p_nancumprod(x):
    return np.sum(W * np.nancumprod(x, axis=1, dtype=np.float64))


def p_nanvar(x):
    return np.sum(W[:, 0] * np.nanvar(x, axis=1, dtype=np.float64))


def p_nanstd(x):
    return np.sum(W[0] * np.nanstd(x, axis=0, ddof=1, dtype=np.float64))


def p_method_prod(x):
    return np.sum(W[:, 0] * x.prod(axis=1, dtype=np.float64))


def p_method_cumprod(x):
    return np.sum(W * x.cumprod(axis=1, dtype=np.float64))


def p_method_var(x):
    return np.sum(W[:, 0] * x.var(axis=1, dtype=np.float64))


def p_multiply_reduce(x):
    return np.sum(W[0] * np.multiply.reduce(x, axis=0, dtype=np.float64))


def p_multiply_accumulate(x):
    return np.sum(W * np.multiply.accumulate(x, axis=0, dtype=np.float64))


def p_prod_initial(x):
    return np.sum(W[:, 0] * np.prod(x, axis=1, dtype=np.float64, initial=1.5))


def p_prod_helper(x):
    return np.sum(W[:, 0] * _prod_f64(x))


def _prod_f64(x):
    return np.prod(x, axis=1, dtype=np.float64)


def p_prod_loop(x):
    y = 0.0
    for k in range(2):
        y = y + np.sum(W[:, 0] * np.prod(x * (k + 1), axis=1, dtype=np.float64))
    return y


# what stays as it was: complex dtype, no dtype, real input with dtype=
def p_prod_complex_dtype(x):
    return np.sum(np.real(W[:, 0] * np.prod(x, axis=1, dtype=np.complex128)))


def p_var_no_dtype(x):
    return np.sum(W[:, 0] * np.var(x, axis=1))


def p_cumprod_real_f32(x):
    return np.sum(W * np.cumprod(np.real(x), axis=1, dtype=np.float64) * np.imag(x))


CASES = [p_prod, p_prod_none, p_prod_keep, p_cumprod, p_cumprod_flat, p_var, p_var_ddof, p_std, p_std_all,
         p_nanprod, p_nancumprod, p_nanvar, p_nanstd, p_method_prod, p_method_cumprod, p_method_var,
         p_multiply_reduce, p_multiply_accumulate, p_prod_initial, p_prod_helper, p_prod_loop,
         p_prod_complex_dtype, p_var_no_dtype, p_cumprod_real_f32]


def _quiet(fun, *args):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return fun(*args)


@pytest.mark.parametrize("p", CASES, ids=lambda p: p.__name__)
def test_complex_input_real_dtype_first_order(p):
    f = FIRST[p.__name__]
    value, grad = _quiet(dlfeval, f, dlarray(Z.copy()))
    np.testing.assert_allclose(_d(value), _quiet(p, Z.copy()), rtol=1e-12, atol=1e-12)
    num = _quiet(numerical_gradient, lambda z: float(np.real(p(z))), [Z.copy()], 0)
    g = _d(grad)
    assert g.dtype == np.complex128
    np.testing.assert_allclose(g, num, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("p", CASES, ids=lambda p: p.__name__)
def test_complex_input_real_dtype_second_order(p):
    f, s = FIRST[p.__name__], SECOND[p.__name__]
    z, g2 = _quiet(dlfeval, s, dlarray(Z.copy()))
    _, g1 = _quiet(dlfeval, f, dlarray(Z.copy()))
    np.testing.assert_allclose(_d(z), np.sum(np.real(_d(g1) * V)), rtol=1e-10, atol=1e-12)

    def zfun(zv):
        _, g = _quiet(dlfeval, f, dlarray(zv))
        return float(np.sum(np.real(_d(g) * V)))
    num = numerical_gradient(zfun, [Z.copy()], 0, step=1e-5)
    np.testing.assert_allclose(_d(g2), num, rtol=1e-4, atol=1e-5)


# the first- and second-order functions sct compiles, one per case (sct reads their source)

def first_p_prod(x):
    y = p_prod(x)
    return y, dlgradient(y, x)


def second_p_prod(x):
    y = p_prod(x)
    g = dlgradient(y, x, EnableHigherDerivatives=True)
    z = np.sum(np.real(g * V))
    return z, dlgradient(z, x)


def first_p_prod_none(x):
    y = p_prod_none(x)
    return y, dlgradient(y, x)


def second_p_prod_none(x):
    y = p_prod_none(x)
    g = dlgradient(y, x, EnableHigherDerivatives=True)
    z = np.sum(np.real(g * V))
    return z, dlgradient(z, x)


def first_p_prod_keep(x):
    y = p_prod_keep(x)
    return y, dlgradient(y, x)


def second_p_prod_keep(x):
    y = p_prod_keep(x)
    g = dlgradient(y, x, EnableHigherDerivatives=True)
    z = np.sum(np.real(g * V))
    return z, dlgradient(z, x)


def first_p_cumprod(x):
    y = p_cumprod(x)
    return y, dlgradient(y, x)


def second_p_cumprod(x):
    y = p_cumprod(x)
    g = dlgradient(y, x, EnableHigherDerivatives=True)
    z = np.sum(np.real(g * V))
    return z, dlgradient(z, x)


def first_p_cumprod_flat(x):
    y = p_cumprod_flat(x)
    return y, dlgradient(y, x)


def second_p_cumprod_flat(x):
    y = p_cumprod_flat(x)
    g = dlgradient(y, x, EnableHigherDerivatives=True)
    z = np.sum(np.real(g * V))
    return z, dlgradient(z, x)


def first_p_var(x):
    y = p_var(x)
    return y, dlgradient(y, x)


def second_p_var(x):
    y = p_var(x)
    g = dlgradient(y, x, EnableHigherDerivatives=True)
    z = np.sum(np.real(g * V))
    return z, dlgradient(z, x)


def first_p_var_ddof(x):
    y = p_var_ddof(x)
    return y, dlgradient(y, x)


def second_p_var_ddof(x):
    y = p_var_ddof(x)
    g = dlgradient(y, x, EnableHigherDerivatives=True)
    z = np.sum(np.real(g * V))
    return z, dlgradient(z, x)


def first_p_std(x):
    y = p_std(x)
    return y, dlgradient(y, x)


def second_p_std(x):
    y = p_std(x)
    g = dlgradient(y, x, EnableHigherDerivatives=True)
    z = np.sum(np.real(g * V))
    return z, dlgradient(z, x)


def first_p_std_all(x):
    y = p_std_all(x)
    return y, dlgradient(y, x)


def second_p_std_all(x):
    y = p_std_all(x)
    g = dlgradient(y, x, EnableHigherDerivatives=True)
    z = np.sum(np.real(g * V))
    return z, dlgradient(z, x)


def first_p_nanprod(x):
    y = p_nanprod(x)
    return y, dlgradient(y, x)


def second_p_nanprod(x):
    y = p_nanprod(x)
    g = dlgradient(y, x, EnableHigherDerivatives=True)
    z = np.sum(np.real(g * V))
    return z, dlgradient(z, x)


def first_p_nancumprod(x):
    y = p_nancumprod(x)
    return y, dlgradient(y, x)


def second_p_nancumprod(x):
    y = p_nancumprod(x)
    g = dlgradient(y, x, EnableHigherDerivatives=True)
    z = np.sum(np.real(g * V))
    return z, dlgradient(z, x)


def first_p_nanvar(x):
    y = p_nanvar(x)
    return y, dlgradient(y, x)


def second_p_nanvar(x):
    y = p_nanvar(x)
    g = dlgradient(y, x, EnableHigherDerivatives=True)
    z = np.sum(np.real(g * V))
    return z, dlgradient(z, x)


def first_p_nanstd(x):
    y = p_nanstd(x)
    return y, dlgradient(y, x)


def second_p_nanstd(x):
    y = p_nanstd(x)
    g = dlgradient(y, x, EnableHigherDerivatives=True)
    z = np.sum(np.real(g * V))
    return z, dlgradient(z, x)


def first_p_method_prod(x):
    y = p_method_prod(x)
    return y, dlgradient(y, x)


def second_p_method_prod(x):
    y = p_method_prod(x)
    g = dlgradient(y, x, EnableHigherDerivatives=True)
    z = np.sum(np.real(g * V))
    return z, dlgradient(z, x)


def first_p_method_cumprod(x):
    y = p_method_cumprod(x)
    return y, dlgradient(y, x)


def second_p_method_cumprod(x):
    y = p_method_cumprod(x)
    g = dlgradient(y, x, EnableHigherDerivatives=True)
    z = np.sum(np.real(g * V))
    return z, dlgradient(z, x)


def first_p_method_var(x):
    y = p_method_var(x)
    return y, dlgradient(y, x)


def second_p_method_var(x):
    y = p_method_var(x)
    g = dlgradient(y, x, EnableHigherDerivatives=True)
    z = np.sum(np.real(g * V))
    return z, dlgradient(z, x)


def first_p_multiply_reduce(x):
    y = p_multiply_reduce(x)
    return y, dlgradient(y, x)


def second_p_multiply_reduce(x):
    y = p_multiply_reduce(x)
    g = dlgradient(y, x, EnableHigherDerivatives=True)
    z = np.sum(np.real(g * V))
    return z, dlgradient(z, x)


def first_p_multiply_accumulate(x):
    y = p_multiply_accumulate(x)
    return y, dlgradient(y, x)


def second_p_multiply_accumulate(x):
    y = p_multiply_accumulate(x)
    g = dlgradient(y, x, EnableHigherDerivatives=True)
    z = np.sum(np.real(g * V))
    return z, dlgradient(z, x)


def first_p_prod_initial(x):
    y = p_prod_initial(x)
    return y, dlgradient(y, x)


def second_p_prod_initial(x):
    y = p_prod_initial(x)
    g = dlgradient(y, x, EnableHigherDerivatives=True)
    z = np.sum(np.real(g * V))
    return z, dlgradient(z, x)


def first_p_prod_helper(x):
    y = p_prod_helper(x)
    return y, dlgradient(y, x)


def second_p_prod_helper(x):
    y = p_prod_helper(x)
    g = dlgradient(y, x, EnableHigherDerivatives=True)
    z = np.sum(np.real(g * V))
    return z, dlgradient(z, x)


def first_p_prod_loop(x):
    y = p_prod_loop(x)
    return y, dlgradient(y, x)


def second_p_prod_loop(x):
    y = p_prod_loop(x)
    g = dlgradient(y, x, EnableHigherDerivatives=True)
    z = np.sum(np.real(g * V))
    return z, dlgradient(z, x)


def first_p_prod_complex_dtype(x):
    y = p_prod_complex_dtype(x)
    return y, dlgradient(y, x)


def second_p_prod_complex_dtype(x):
    y = p_prod_complex_dtype(x)
    g = dlgradient(y, x, EnableHigherDerivatives=True)
    z = np.sum(np.real(g * V))
    return z, dlgradient(z, x)


def first_p_var_no_dtype(x):
    y = p_var_no_dtype(x)
    return y, dlgradient(y, x)


def second_p_var_no_dtype(x):
    y = p_var_no_dtype(x)
    g = dlgradient(y, x, EnableHigherDerivatives=True)
    z = np.sum(np.real(g * V))
    return z, dlgradient(z, x)


def first_p_cumprod_real_f32(x):
    y = p_cumprod_real_f32(x)
    return y, dlgradient(y, x)


def second_p_cumprod_real_f32(x):
    y = p_cumprod_real_f32(x)
    g = dlgradient(y, x, EnableHigherDerivatives=True)
    z = np.sum(np.real(g * V))
    return z, dlgradient(z, x)


FIRST = {p.__name__: globals()['first_' + p.__name__] for p in CASES}
SECOND = {p.__name__: globals()['second_' + p.__name__] for p in CASES}


@pytest.mark.parametrize("p", CASES, ids=lambda p: p.__name__)
def test_complex_input_real_dtype_jvp(p):
    t = RNG.standard_normal((3, 4)) + 1j * RNG.standard_normal((3, 4))
    h = 1e-6
    num = (np.real(_quiet(p, Z + h * t)) - np.real(_quiet(p, Z - h * t))) / (2 * h)
    for mode in ("forward", "transpose"):
        value, jv = _quiet(sct.jvp, p, Z.copy(), t, mode)
        np.testing.assert_allclose(_d(value), _quiet(p, Z.copy()), rtol=1e-12, atol=1e-12)
        np.testing.assert_allclose(np.real(_d(jv)), num, rtol=1e-5, atol=1e-6)


# --- 2. np.average(..., returned=True) -------------------------------------------------------------

A = RNG.standard_normal((3, 4))
WA = RNG.uniform(0.5, 2.0, (3, 4))


def avg_w_sum(w):
    return np.sum(W[0] * np.average(A, axis=0, weights=w * w + 0.5, returned=True)[1])


def avg_w_both(w):
    avg, total = np.average(A, axis=-1, weights=w * w + 0.5, returned=True)
    return np.sum(W[:, 0] * avg) + np.sum(W[:, 1] * total ** 2)


def avg_w_none(w):
    avg, total = np.average(A, weights=np.sin(w) + 1.5, returned=True)
    return avg * total + avg ** 2


def avg_w_1d(w):
    avg, total = np.average(A, axis=1, weights=w[0] ** 2 + 0.5, returned=True)
    return np.sum(W[:, 0] * avg) + np.sum(W[:, 1] * total)


def avg_w_keep(w):
    avg, total = np.average(A, axis=0, weights=w * w + 0.5, returned=True, keepdims=True)
    return np.sum(W[:1] * avg * total)


def avg_a_first(a):
    return np.sum(W[:, 0] * np.average(a, axis=1, weights=WA, returned=True)[0])


def avg_a_total_only(a):
    # the sum of weights does not depend on a: a zero gradient
    return np.sum(np.average(a, axis=1, weights=WA, returned=True)[1]) + np.sum(a[0])


def avg_a_noweights(a):
    avg, total = np.average(a ** 2, axis=0, returned=True)
    return np.sum(W[0] * avg * total)


def avg_both(a):
    avg, total = np.average(np.sin(a), axis=None, weights=np.exp(a), returned=True)
    return avg * total


AVERAGE_CASES = [avg_w_sum, avg_w_both, avg_w_none, avg_w_1d, avg_w_keep, avg_a_first, avg_a_total_only,
                 avg_a_noweights, avg_both]


def grad_of(p, x):
    y = p(x)
    return y, dlgradient(y, x)


def grad2_of(p, x):
    y = p(x)
    g = dlgradient(y, x, EnableHigherDerivatives=True)
    z = np.sum(g * V)
    return z, dlgradient(z, x)


@pytest.mark.parametrize("p", AVERAGE_CASES, ids=lambda p: p.__name__)
def test_average_returned(p):
    x = RNG.standard_normal((3, 4))
    value, grad = dlfeval(grad_of, p, dlarray(x))
    np.testing.assert_allclose(_d(value), p(x), rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(_d(grad), numerical_gradient(p, [x], 0), rtol=1e-5, atol=1e-6)
    z, g2 = dlfeval(grad2_of, p, dlarray(x))

    def zfun(xv):
        return float(np.sum(_d(dlfeval(grad_of, p, dlarray(xv))[1]) * V))
    np.testing.assert_allclose(_d(z), zfun(x), rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(_d(g2), numerical_gradient(zfun, [x], 0, step=1e-5), rtol=1e-4, atol=1e-5)


# --- 3. np.interp with xp not increasing: refused (numpy's result is 'nonsense' there) ----------------

XP_UNSORTED = np.array([0.3, -1.0, 0.8, 0.1])
XQ = np.array([-2.0, -0.5, 0.0, 0.7, 1.5])


def interp_fp(fp):
    return np.sum(np.interp(XQ, XP_UNSORTED, fp) * np.arange(5.0))


def interp_sorted_fp(fp):
    order = np.argsort(XP_UNSORTED)
    return np.sum(np.interp(XQ, XP_UNSORTED[order], fp[order]) * np.arange(5.0))


def test_interp_unsorted_xp_refused():
    fp = RNG.standard_normal(4)
    with pytest.raises(SctError, match="xp not increasing"):
        dlfeval(grad_of, interp_fp, dlarray(fp))


def test_interp_sorted_xp():
    fp = RNG.standard_normal(4)
    value, grad = dlfeval(grad_of, interp_sorted_fp, dlarray(fp))
    np.testing.assert_allclose(_d(value), interp_sorted_fp(fp), rtol=1e-12)
    np.testing.assert_allclose(_d(grad), numerical_gradient(interp_sorted_fp, [fp], 0), rtol=1e-5, atol=1e-6)


# --- 4. ufunc.reduce with initial= / where= (was: a TypeError while evaluating) ----------------------

MASK = np.array([[True, False, True, True], [True, True, False, True], [False, True, True, True]])


def ured_min_initial(x):
    return np.sum(np.sin(np.minimum.reduce(x, axis=0, initial=0.0)) * W[0])


def ured_max_initial_keep(x):
    return np.sum(np.sin(np.maximum.reduce(x, axis=1, initial=0.2, keepdims=True)) * W[:, :1])


def ured_add_where(x):
    return np.sum(np.sin(np.add.reduce(x, axis=1, initial=2.0, where=MASK)) * W[:, 0])


def ured_multiply_initial(x):
    return np.sum(np.multiply.reduce(x, axis=0, initial=1.5) * W[0])


def ured_logaddexp_initial(x):
    return np.sum(np.logaddexp.reduce(x, axis=0, initial=-1.0) * W[0])


def ured_subtract_initial(x):
    return np.sum(np.subtract.reduce(x, axis=1, initial=1.0) ** 2)


def ured_max_all_initial(x):
    return np.maximum.reduce(x ** 2, axis=None, initial=0.5)


UREDUCE_CASES = [ured_min_initial, ured_max_initial_keep, ured_add_where, ured_multiply_initial,
                 ured_logaddexp_initial, ured_subtract_initial, ured_max_all_initial]


@pytest.mark.parametrize("p", UREDUCE_CASES, ids=lambda p: p.__name__)
def test_ufunc_reduce_initial(p):
    x = RNG.standard_normal((3, 4))
    value, grad = dlfeval(grad_of, p, dlarray(x))
    np.testing.assert_allclose(_d(value), p(x), rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(_d(grad), numerical_gradient(p, [x], 0), rtol=1e-5, atol=1e-6)
    z, g2 = dlfeval(grad2_of, p, dlarray(x))

    def zfun(xv):
        return float(np.sum(_d(dlfeval(grad_of, p, dlarray(xv))[1]) * V))
    np.testing.assert_allclose(_d(g2), numerical_gradient(zfun, [x], 0, step=1e-5), rtol=1e-4, atol=1e-5)


def ured_max_where(x):
    return np.sum(np.maximum.reduce(x, axis=0, where=MASK, initial=-9.0))


def test_ufunc_reduce_where_refused():
    with pytest.raises(SctError, match="without where="):
        dlfeval(grad_of, ured_max_where, dlarray(RNG.standard_normal((3, 4))))


# --- 5. a sample of the generator's cases (tests/redteam_dec23c_gen.py) ------------------------------

def test_generator_sample():
    """Eighty generated single-op programs (direct, in a helper, a loop, a lambda; some second order):
    none gives a wrong value, gradient, gradient dtype or an internal error."""
    import tempfile
    import redteam_dec23c_gen as gen
    cases = gen.generate(80, 2312)
    mod = gen.build_module(cases, tempfile.mkdtemp(prefix="rt23c_") + "/rt23c_sample.py")
    outcomes = {}
    for case in cases:
        outcome, detail = _quiet(gen.run_case, mod, case)
        outcomes.setdefault(outcome, []).append((case.describe(), detail[:300]))
    bad = {k: v for k, v in outcomes.items() if k not in ("ok", "refused", "refused2", "skip")}
    assert not bad, bad
    assert len(outcomes.get("ok", ())) >= 60
