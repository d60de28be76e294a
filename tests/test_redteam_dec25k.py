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
