"""Red team K (dec25): ``np.add.reduce(x, axis=1)`` inside dlfeval gave another last bit than numpy.

sct reads np.add.reduce as ``add_reduce`` (runtime/more_ops.py), which called
``np.sum(..., initial=None)``; but numpy's initial=None is not initial= left out: for float64 rows
numpy sums ``np.add.reduce(x, axis=1)`` pairwise, and with initial=None from the first item in
another order, so ``np.sum(np.add.reduce(x, axis=1) ** 2)`` of a (3, 4) array gave
11.368138813031907 where numpy gives 11.368138813031905.  Now initial is passed on only where the
program gives it.  Values are compared bit for bit with plain numpy, gradients with central
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
