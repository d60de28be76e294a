"""``x[np.argmax(x)]`` (and argmin, any/all of a whole array) indexes with a number: the item is a
number, so ``b = a; b += 1`` rebinds b (was refused as a possible in-place write); a row of a 2-D
array picked the same way is a view, and writing through it is still refused."""
import numpy as np
import pytest

from sct import CompileError, dlarray, dlfeval, dlgradient
from gradcheck import check_grads


def peak_plus_one(x):
    a = x[np.argmax(x)]
    b = a
    b += 1
    return a * b + np.sum(x)


def trough_doubled(x):
    a = x[x.argmin()]
    b = a
    b *= 2
    c = x[np.nanargmax(x)]
    c -= 0.5
    return a * b + c ** 2 + np.sum(x ** 2)


def row_view_written(X):
    r = X[np.argmax(np.sum(X, axis=1))]
    s = r
    s += 1
    y = np.sum(r * s)
    return y, dlgradient(y, X)


@pytest.mark.parametrize("fun", [peak_plus_one, trough_doubled])
def test_item_of_an_index_from_argmax_is_a_number(fun):
    x = np.array([1.0, 3.0, 2.0, -0.5])
    check_grads(fun, x)


def test_row_picked_by_argmax_is_a_view():
    with pytest.raises(CompileError) as info:
        dlfeval(row_view_written, dlarray(np.array([[1.0, 3.0], [2.0, 5.0]])))
    assert info.value.filename == __file__ and "s += " in str(info.value)
