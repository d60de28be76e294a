"""Red team K (dec25): ``np.add.reduce(x, axis=1)`` inside dlfeval gave another last bit than numpy.

sct reads np.add.reduce as ``add_reduce`` (runtime/more_ops.py), which called
``np.sum(..., initial=None)``; but numpy's initial=None is not initial= left out: for float64 rows
numpy sums ``np.add.reduce(x, axis=1)`` pairwise, and with initial=None from the first item in
another order, so ``np.sum(np.add.reduce(x, axis=1) ** 2)`` of a (3, 4) array gave
11.368138813031907 where numpy gives 11.368138813031905.  Now initial is passed on only where the
program gives it.

Second: ``np.logaddexp.reduce`` / ``.accumulate`` (and subtract, divide, hypot, ...) with dtype=
folded in the items' own type and cast the result after, where numpy casts the items to dtype and
computes in it: ``np.sum(np.logaddexp.reduce(x.astype(np.float32), axis=1, dtype=np.float64) ** 2)``
gave 21.840621450019043 where numpy gives 21.84062134054736.  Now the items are cast first.

Values are compared bit for bit with plain numpy, gradients with central
differences.
"""
import numpy as np
import pytest

from gradcheck import numerical_gradient, sct_gradients


def add_reduce_rows(x):
    return np.sum(np.add.reduce(x, axis=1) ** 2)


def add_reduce_rows_keepdims(x):
    return np.sum(np.add.reduce(x, axis=1, keepdims=True) * x)


def add_reduce_initial_none(x):
    return np.sum(np.add.reduce(x, axis=1, initial=None) ** 2)


def add_reduce_initial(x):
    return np.sum(np.add.reduce(x, axis=1, initial=0.5) ** 2)


def multiply_reduce_rows(x):
    return np.sum(np.multiply.reduce(x, axis=1) ** 2)


def multiply_reduce_initial_none(x):
    return np.sum(np.multiply.reduce(x, axis=0, initial=None) ** 2)


CASES = [add_reduce_rows, add_reduce_rows_keepdims, add_reduce_initial_none, add_reduce_initial,
         multiply_reduce_rows, multiply_reduce_initial_none]


@pytest.mark.parametrize("fun", CASES, ids=lambda f: f.__name__)
@pytest.mark.parametrize("shape,seed", [((3, 4), 0), ((50, 300), 1), ((7, 33), 2)])
def test_ufunc_reduce_value_bit_for_bit_and_gradient(fun, shape, seed):
    x = np.random.default_rng(seed).standard_normal(shape)
    if fun in (multiply_reduce_rows, multiply_reduce_initial_none):
        x = 1.0 + 0.01 * x                       # products of many items stay finite
    want = fun(x.copy())
    value, (grad,) = sct_gradients(fun, x.copy())
    assert np.asarray(value.data).tobytes() == np.asarray(want).tobytes(), (float(value.data), float(want))
    if x.size <= 200:
        np.testing.assert_allclose(grad, numerical_gradient(fun, [x.copy()], 0), rtol=1e-5, atol=1e-6)


def test_add_reduce_rows_the_reported_value():
    x = np.random.default_rng(0).standard_normal((3, 4))
    value, _ = sct_gradients(add_reduce_rows, x.copy())
    assert float(value.data) == float(add_reduce_rows(x)) == 11.368138813031905


def logaddexp_reduce_to64(x):
    return np.sum(np.logaddexp.reduce(x.astype(np.float32), axis=1, dtype=np.float64) ** 2)


def logaddexp_accumulate_to64(x):
    return np.sum(np.logaddexp.accumulate(x.astype(np.float32), axis=1, dtype=np.float64) ** 2)


def subtract_reduce_to64(x):
    return np.sum(np.subtract.reduce(x.astype(np.float32), axis=0, dtype=np.float64) ** 2)


def divide_accumulate_to64(x):
    return np.sum(np.divide.accumulate(x.astype(np.float32) + 3, axis=0, dtype=np.float64) ** 2)


def hypot_reduce_to64(x):
    return np.sum(np.hypot.reduce(x.astype(np.float32), axis=1, dtype=np.float64) ** 2)


def subtract_reduce_to32(x):
    return np.sum(np.subtract.reduce(x, axis=1, dtype=np.float32).astype(np.float64) ** 2)


def logaddexp_reduce_to32(x):
    return np.sum(np.logaddexp.reduce(x, axis=1, dtype=np.float32).astype(np.float64) ** 2)


def logaddexp_reduce_initial_to64(x):
    return np.sum(np.logaddexp.reduce(x.astype(np.float32), axis=0, dtype=np.float64, initial=0.3) ** 2)


DTYPE_CASES = [logaddexp_reduce_to64, logaddexp_accumulate_to64, subtract_reduce_to64, divide_accumulate_to64,
               hypot_reduce_to64, subtract_reduce_to32, logaddexp_reduce_to32, logaddexp_reduce_initial_to64]


@pytest.mark.parametrize("fun", DTYPE_CASES, ids=lambda f: f.__name__)
def test_ufunc_reduce_accumulate_dtype_computes_in_dtype(fun):
    x = np.random.default_rng(0).standard_normal((5, 7))
    want = fun(x.copy())
    value, (grad,) = sct_gradients(fun, x.copy())
    assert np.asarray(value.data).tobytes() == np.asarray(want).tobytes(), (float(value.data), float(want))
    # float32 rounding inside: central differences with a step float32 resolves
    expected = numerical_gradient(fun, [x.copy()], 0, step=1e-2)
    np.testing.assert_allclose(grad, expected, rtol=1e-3, atol=1e-3 * (1 + np.abs(expected).max()))


# --- np.median / np.quantile / np.percentile with overwrite_input=True ------------------------------
# numpy reorders the argument in place; the rule and later reads of the argument saw it reordered:
# np.sum(np.quantile(x, 0.3, axis=1, overwrite_input=True) ** 2) had a gradient 1.09 off (its
# entries at the partitioned positions), and `np.median(x, axis=1, overwrite_input=True);
# return np.sum(x * W)` gave W, not W reordered.  Now refused, naming the line.

from sct import dlarray, dlfeval, dlgradient  # noqa: E402
from sct.errors import CompileError, EvaluationError  # noqa: E402

W = np.arange(35.0).reshape(5, 7)


def quantile_overwrite(x):
    y = np.sum(np.quantile(x, 0.3, axis=1, overwrite_input=True) ** 2)
    return y, dlgradient(y, x)


def median_overwrite_then_read(x):
    np.median(x, axis=1, overwrite_input=True)
    y = np.sum(x * W)
    return y, dlgradient(y, x)


def percentile_overwrite_by_position(x):
    y = np.sum(np.percentile(x * 1.0, 30, 1, None, True) ** 2)
    return y, dlgradient(y, x)


def nanmedian_overwrite(x):
    y = np.sum(np.nanmedian(x, axis=0, overwrite_input=True) ** 2)
    return y, dlgradient(y, x)


def call_given(op, x):
    return op(x, 0.3, axis=1, overwrite_input=True)


def quantile_overwrite_through_a_helper(x):
    y = np.sum(call_given(np.quantile, x) ** 2)
    return y, dlgradient(y, x)


@pytest.mark.parametrize("fun", [quantile_overwrite, median_overwrite_then_read, percentile_overwrite_by_position,
                                 nanmedian_overwrite, quantile_overwrite_through_a_helper],
                         ids=lambda f: f.__name__)
def test_overwrite_input_refused(fun):
    x = np.random.default_rng(0).standard_normal((5, 7))
    with pytest.raises((CompileError, EvaluationError), match="overwrite_input") as info:
        dlfeval(fun, dlarray(x))
    assert "test_redteam_dec25k.py" in str(info.value)


def quantile_no_overwrite(x):
    return np.sum(np.quantile(x, 0.3, axis=1, overwrite_input=False) ** 2) + \
        np.sum(np.median(x, 0, None, False) ** 2)


def test_overwrite_input_false_still_right():
    x = np.random.default_rng(0).standard_normal((5, 7))
    value, (grad,) = sct_gradients(quantile_no_overwrite, x.copy())
    assert float(value.data) == quantile_no_overwrite(x.copy())
    np.testing.assert_allclose(grad, numerical_gradient(quantile_no_overwrite, [x.copy()], 0), rtol=1e-5, atol=1e-6)


# --- np.linalg.pinv(a, rcond / rtol) and np.linalg.lstsq(a, b, rcond) that drop singular values ---
# Their value is that of a truncated a; the rules differentiated the pseudo-inverse of a itself:
# np.sum(np.linalg.pinv(x, rcond=0.5) * W) had a gradient 4.4 off, lstsq's 23 off.  Refused now
# where a dropped singular value is not zero to rounding; the default cutoffs stay right.

R = np.random.default_rng(0).standard_normal((4, 4))          # singular values 3.03 1.69 1.16 0.32
W4 = np.arange(16.0).reshape(4, 4)


def pinv_rcond(x):
    y = np.sum(np.linalg.pinv(x, rcond=0.5) * W4)
    return y, dlgradient(y, x)


def pinv_rtol(x):
    y = np.sum(np.linalg.pinv(x, rtol=0.5) * W4)
    return y, dlgradient(y, x)


def lstsq_rcond_a(x):
    y = np.sum(np.linalg.lstsq(x, W4[:, 0], rcond=0.5)[0] ** 2)
    return y, dlgradient(y, x)


def lstsq_rcond_b(b):
    y = np.sum(np.linalg.lstsq(R, b, rcond=0.5)[0] ** 2)
    return y, dlgradient(y, b)


@pytest.mark.parametrize("fun,arg", [(pinv_rcond, R), (pinv_rtol, R), (lstsq_rcond_a, R), (lstsq_rcond_b, W4[:, 1])],
                         ids=["pinv_rcond", "pinv_rtol", "lstsq_a", "lstsq_b"])
def test_truncating_pseudo_inverse_refused(fun, arg):
    with pytest.raises(EvaluationError, match="drops singular values") as info:
        dlfeval(fun, dlarray(arg.copy()))
    assert "test_redteam_dec25k.py" in str(info.value)


def pinv_small_rcond(x):
    return np.sum(np.linalg.pinv(x, 1e-12) * W4) + np.sum(np.linalg.pinv(x, rtol=None) ** 2)


def lstsq_small_rcond(x):
    return np.sum(np.linalg.lstsq(x, W4[:, 0], rcond=1e-12)[0] ** 2) + np.sum(np.linalg.lstsq(x, W4[:, 2])[0] ** 2)


def pinv_rank_deficient(x):
    # rank 3: its smallest singular value is zero to rounding, which rcond drops as the default does
    return np.sum(np.linalg.pinv(x[:, :3] @ x[:3, :], rcond=1e-10) * W4)


@pytest.mark.parametrize("fun", [pinv_small_rcond, lstsq_small_rcond, pinv_rank_deficient], ids=lambda f: f.__name__)
def test_pseudo_inverse_cutoffs_that_drop_nothing_still_right(fun):
    value, (grad,) = sct_gradients(fun, R.copy())
    assert float(value.data) == fun(R.copy())
    np.testing.assert_allclose(grad, numerical_gradient(fun, [R.copy()], 0), rtol=1e-5, atol=1e-6)
