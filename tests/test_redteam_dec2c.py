"""Red team, Dec 2 (c): what landed with the in-place temporaries, slice adjoints written directly,
type-only stand-ins, the generated entry call, batchnorm's training path and cse's sharing groups.

Programs live in tests/redteam_dec2c_progs.py (sct reads their source); values against plain
Python, gradients against central differences (tests/gradcheck.py)."""
from __future__ import annotations

import numpy as np
import pytest

import sct
from sct import dlarray, dlfeval, dlgradient, extractdata
from gradcheck import assert_close, check_grads, numerical_gradient, sct_gradients

import redteam_dec2c_progs as P


pytestmark = pytest.mark.usefixtures("fresh_cache")   # tests/conftest.py


X = np.array([0.3, 0.7, -0.4, 1.2])


# --- cse: a container built by + / * / | holds the operands' arrays -------------------------------------------
@pytest.mark.parametrize("fun", [P.cse_list_repeat, P.cse_list_concat, P.cse_tuple_concat, P.cse_repeat_name,
                                 P.cse_dict_or, P.cse_list_readd, P.cse_list_add_names, P.cse_list_augadd,
                                 P.cse_list_extend, P.cse_star_list, P.cse_dict_merge, P.cse_dict_ior,
                                 P.cse_list_slice_store, P.cse_item_store])
def test_write_through_a_container_built_by_arithmetic(fun):
    """``w = [z] * 2; w[0][1] = 5.0`` changes z; ``z * 2.0`` after it was read from before it (cse's
    sharing groups took every BinOp for a new array: a list's repetition or concatenation and a
    dicts' union hold the same objects).  Wrong value and gradient before the fix."""
    value, (g,) = sct_gradients(fun, X)
    assert_close(value, fun(X.copy()), rtol=1e-12, atol=0)
    assert_close(g, numerical_gradient(fun, [X], 0), rtol=1e-6, atol=1e-8)


# --- np.mean's adjoint of an empty array ---------------------------------------------------------------------
def test_mean_of_empty_rows_gradient():
    """np.mean(e, axis=1) of e (0, 3): an empty mean (numpy: no warning); its adjoint divided by
    size(a) / size(ans) = 0 / 0: ZeroDivisionError instead of the empty gradient."""
    x = np.array([0.5, 1.0])
    e = np.zeros((0, 3))
    value, (gx, ge) = sct_gradients(P.m_empty_axis, x, e)
    assert_close(value, P.m_empty_axis(x, e), rtol=1e-12, atol=0)
    assert_close(gx, 2 * x, rtol=1e-12, atol=0)
    assert ge.shape == (0, 3)


def test_mean_of_empty_columns_no_division_warning():
    """np.mean(e, axis=1) of e (3, 0): NaN (numpy warns 'Mean of empty slice'); the adjoint divided
    g by 0 / 3 before broadcasting it to the empty shape: a 'divide by zero' warning (an error under
    np.errstate(divide='raise')) that plain Python never gives."""
    import warnings
    x = np.array([0.5, 1.0])
    e = np.zeros((3, 0))
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        value, (gx, ge) = sct_gradients(P.m_empty_axis, x, e)
    assert not any("divide by zero" in str(w.message) for w in caught), [str(w.message) for w in caught]
    assert np.isnan(value) and ge.shape == (3, 0)
    with warnings.catch_warnings(record=True):
        warnings.simplefilter("always")
        value, (gx, ge) = sct_gradients(P.m_empty_all, x, np.zeros(0))
    assert_close(gx, 2 * x, rtol=1e-12, atol=0)
    assert ge.shape == (0,)


def mean_second_order(x):
    y = np.mean(x ** 3) + np.sum(np.mean(x.reshape(2, 2), axis=0) ** 2)
    g = dlgradient(y, x, EnableHigherDerivatives=True)
    return dlgradient(np.sum(g * g), x)


def test_mean_rule_second_order():
    def first(x):
        return 3 * x ** 2 / 4 + np.tile(np.mean(x.reshape(2, 2), axis=0), 2)
    got = extractdata(dlfeval(mean_second_order, dlarray(X)))
    assert_close(got, numerical_gradient(lambda x: np.sum(first(x) ** 2), [X], 0), rtol=1e-6, atol=1e-8)


# --- second derivatives: library functions changing an outside object ---------------------------------------
def _reset_state():
    import itertools
    P.IT = itertools.count(1)
    P.HEAP.clear()


@pytest.mark.parametrize("fun", [P.r_hess_next, P.r_hess_heap, P.r_hess_plain_push])
def test_recomputed_library_call_changing_outside_state_is_refused(fun):
    """``k = next(IT)`` of a global iterator, ``heapq.heappush(HEAP, 1)`` then ``len(HEAP)`` (directly
    or in a plain helper): the recomputation for the second dlgradient ran them again on the state the
    first run left (k = 2, len 2): a Hessian 16 times Python's (8x), silently.  Now refused, at the line."""
    _reset_state()
    with pytest.raises(sct.EvaluationError) as info:
        dlfeval(fun, dlarray(X))
    assert info.value.filename.endswith("redteam_dec2c_progs.py") and info.value.lineno
    _reset_state()


def test_library_call_changing_outside_state_first_derivative_and_local_iterator_unaffected():
    _reset_state()
    for _ in range(2):
        _reset_state()
        got = extractdata(dlfeval(P.r_grad_next, dlarray(X)))
        assert_close(got, 2 * X, rtol=1e-12, atol=0)
    got = extractdata(dlfeval(P.r_hess, P.r_local_next, dlarray(X)))     # a local iterator: not outside
    assert_close(got, 8 * X, rtol=1e-12, atol=0)
    _reset_state()


# --- batchnorm of a float16 batch ------------------------------------------------------------------------------
def test_batchnorm_float16_batch_statistics_do_not_overflow():
    """The fused training form summed a float16 batch in float16: 4000 values near 100 overflowed
    (mean inf, Y all NaN) where np.mean (float32 accumulation, as the composite form uses) gives 100.
    float16 now takes the composite form."""
    rng = np.random.default_rng(0)
    X = (rng.standard_normal((4000, 3)) + 100).astype(np.float16)
    o, s = np.zeros(3, np.float16), np.ones(3, np.float16)
    Y, mu, var = sct.batchnorm(X, o, s, nargout=3)
    Yp, mup, varp = P.bn_plain(X, o, s)
    assert Y.dtype == np.float16 and np.isfinite(Y).all()
    np.testing.assert_array_equal(mu, mup)
    np.testing.assert_array_equal(var, varp)
    np.testing.assert_array_equal(Y, Yp)
    value, grads = sct_gradients(P.bn_loss16, X, o, s)
    assert_close(value, P.bn_loss16(X, o, s), rtol=1e-6, atol=0)
    assert all(np.isfinite(g).all() for g in grads)
    # float32 and float64 keep the fused form
    assert sct.runtime.dlfun.fused_batchnorm_applies(X.astype(np.float32), o, s)


@pytest.mark.parametrize("fun", [P.r_hess_pop, P.r_hess_dunder_next])
def test_recomputed_method_reading_what_it_changes_is_refused(fun):
    """``k = STACK.pop()`` of a global list, ``k = IT2.__next__()``: the receiver is the only read, so
    the call was taken for a write nothing reads; the recomputation popped again (k = 4, not 5):
    a wrong Hessian, silently.  Now refused."""
    P.STACK[:] = [1.0, 2.0, 3.0, 4.0, 5.0]
    P.IT2 = iter([1.0, 2.0, 3.0, 4.0])
    with pytest.raises(sct.EvaluationError) as info:
        dlfeval(fun, dlarray(X))
    assert info.value.filename.endswith("redteam_dec2c_progs.py") and info.value.lineno
    P.STACK[:] = [1.0, 2.0, 3.0, 4.0, 5.0]


def test_method_reading_what_it_changes_first_derivative_and_local():
    P.STACK[:] = [1.0, 2.0, 3.0, 4.0, 5.0]
    got = extractdata(dlfeval(P.r_grad_pop, dlarray(X)))
    assert_close(got, 2 * 25.0 * X, rtol=1e-12, atol=0)
    got = extractdata(dlfeval(P.r_hess, P.r_local_pop, dlarray(X)))
    assert_close(got, 8 * 16.0 * X, rtol=1e-12, atol=0)
    P.STACK[:] = [1.0, 2.0, 3.0, 4.0, 5.0]


def test_global_written_after_a_differentiated_helper_read_it_is_refused():
    """``a = scaled_by_cfg(x)`` (a helper reading Cfg3.scale) then ``Cfg3.scale = 5.0``: the
    recomputation for the second dlgradient ran the helper on scale 5 (Hessian 625 times Python's,
    silently): the helper's read was looked for only where a call wrote the global.  Now refused; the
    first derivative, and a plain call of constants reading it (run once, replayed), unaffected."""
    for fun in (P.r_hess_cfg_direct,):
        P.Cfg3.scale = 1.0
        with pytest.raises(sct.EvaluationError) as info:
            dlfeval(fun, dlarray(X))
        assert info.value.filename.endswith("redteam_dec2c_progs.py") and info.value.lineno
    P.Cfg3.scale = 1.0
    with pytest.raises(sct.EvaluationError):
        dlfeval(P.r_hess_cfg, P.r_write_after_diff_helper, dlarray(X))
    P.Cfg3.scale = 1.0
    got = extractdata(dlfeval(P.r_grad_cfg, dlarray(X)))
    assert_close(got, 2 * X, rtol=1e-12, atol=0)
    P.Cfg3.scale = 1.0
    got = extractdata(dlfeval(P.r_hess_cfg, P.r_write_after_helper, dlarray(X)))   # get_scale(): replayed
    assert_close(got, 8 * X, rtol=1e-12, atol=0)
    P.Cfg3.scale = 1.0


# --- a ufunc's outputs given by position ------------------------------------------------------------------------
@pytest.mark.parametrize("fun", [P.cse_divmod_out, P.cse_divmod_untraced])
def test_ufunc_outputs_by_position_are_refused(fun):
    """``np.divmod(x, 2.0, w, z)`` writes x % 2 into z in place: sct followed neither the write (the
    gradient missed d(x % 2)/dx) nor, in cse, the change of z (``z * 2.0`` after it read from
    before): wrong value and gradient.  Refused at the line (np.add(z, 1.0, z) already was, by its
    rule's signature)."""
    with pytest.raises(sct.CompileError) as info:
        sct_gradients(fun, X)
    assert info.value.filename.endswith("redteam_dec2c_progs.py") and info.value.lineno
    assert "by position" in str(info.value)
