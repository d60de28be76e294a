"""Lists and in-place writes: values as plain Python computes them, gradients as finite differences.

- ``L.insert / L.extend / L.reverse / L.sort`` on a list holding an array (lowered to a new list,
  ``L = rt.extended(L, ...)``) kept holding it for the alias analysis: a later write into the array
  (``a[0] = 5``), or into the list's item (``L[1][1] = 0``), was made on a copy and the other name
  kept its old value (was: silently wrong value and gradient; now refused as after ``L.append(a)``).
- ``a.reverse()`` / ``a.extend()`` / ``a.insert()`` of an array, ``L.fill()`` of a list,
  ``L.sort(axis=0)`` of a list: Python's AttributeError / TypeError (was: a value).
- ``z[0:2] = [a, b]`` (a list written into an array): a TypeError from np.result_type reached the
  user; now numpy's value and the exact derivative.
"""
import numpy as np
import pytest

import sct
from sct import dlarray, dlfeval, dlgradient, extractdata
from sct.errors import SctError

from gradcheck import assert_close, numerical_gradient

X = np.array([0.3, 0.5, -0.7])


def _value_and_gradient(wrapper, f, x=X):
    y, g = dlfeval(wrapper, dlarray(x))
    assert_close(extractdata(y), f(x.copy()), what="value")
    assert_close(extractdata(g), numerical_gradient(lambda a: float(f(a)), [x.copy()], 0), rtol=1e-5,
                 what="gradient")


# --- a list that holds an array, changed by insert / extend / reverse, then the array written ---

def held_after_extend(x):
    a = x * 1.0
    L = []
    L.extend([a, x])
    a[0] = 5.0
    return np.sum(L[0] * x)


def held_after_insert(x):
    a = x * 1.0
    L = [a]
    L.insert(0, x)
    a[0] = 5.0
    return np.sum(L[1] * L[0])


def held_after_reverse(x):
    a = x * 1.0
    L = [a, x]
    L.reverse()
    a[0] = 5.0
    return np.sum(L[1] * x)


def item_written_after_reverse(x):
    a = x * 1.0
    L = [a, x * 2]
    L.reverse()
    L[1][1] = 0.0
    return np.sum(a * x)


def item_written_after_insert(x):
    a = x * 1.0
    L = [a]
    L.insert(0, x * 2)
    L[1][1] = 0.0
    return np.sum(a * x)


@pytest.mark.parametrize("f", [held_after_extend, held_after_insert, held_after_reverse,
                               item_written_after_reverse, item_written_after_insert])
def test_a_list_changed_in_place_still_holds_its_arrays(f):
    # plain Python: the write is seen through the list (or through a); sct gave the old value
    def wrapper(x):
        y = f(x)
        return y, dlgradient(y, x)
    try:
        y, g = dlfeval(wrapper, dlarray(X))
    except SctError as e:
        assert "in place" in str(e) and "test_redteam_dec18w.py" in str(e)
        return
    assert_close(extractdata(y), f(X.copy()))
    assert_close(extractdata(g), numerical_gradient(lambda a: float(f(a)), [X.copy()], 0), rtol=1e-5)


def list_methods(x):
    L = [x[0] * x[1], x[2], x[1] ** 2]
    L.reverse()
    M = [x[0] * x[1], x[2]]
    M.insert(1, x[1] ** 2)
    M.extend([x[0] ** 3])
    N = [x[0] * x[1], x[2], x[1] ** 2]
    N.sort()
    return L[0] * L[1] ** 2 + L[2] * 3 + M[0] * M[1] ** 2 + M[2] * M[3] + N[0] * N[1] ** 2 + N[2] * 3


def list_methods_value(x):
    y = list_methods(x)
    return y, dlgradient(y, x)


def test_list_methods_of_lists_of_numbers_are_exact():
    _value_and_gradient(list_methods_value, list_methods)


# --- methods a value does not have: Python's error ---

def array_reverse(x):
    a = x * 2
    a.reverse()
    return np.sum(a)


def array_extend(x):
    a = x * 2
    a.extend([1.0])
    return np.sum(a)


def array_insert(x):
    a = x * 2
    a.insert(0, 1.0)
    return np.sum(a)


def list_fill(x):
    a = [x[0], x[1]]
    a.fill(0.0)
    return a[0]


def dict_reverse(x):
    d = {"a": x}
    d.reverse()
    return np.sum(d["a"])


def list_sort_axis(x):
    a = [3.0, 1.0]
    a.sort(axis=0)
    return np.sum(x) * a[0]


@pytest.mark.parametrize("f,error", [(array_reverse, AttributeError), (array_extend, AttributeError),
                                     (array_insert, AttributeError), (list_fill, AttributeError),
                                     (dict_reverse, AttributeError), (list_sort_axis, TypeError)])
def test_a_method_the_value_lacks_raises_as_python(f, error):
    with pytest.raises(error):
        f(X.copy())
    with pytest.raises(Exception, match=error.__name__):
        dlfeval(f, dlarray(X))


def array_sort_axis(x):
    a = np.stack([x, x[::-1] * 2])
    a.sort(axis=0)
    return np.sum(a * np.array([[1.0], [3.0]]))


def array_sort_axis_value(x):
    y = array_sort_axis(x)
    return y, dlgradient(y, x)


def test_an_array_sort_with_axis_still_works():
    _value_and_gradient(array_sort_axis_value, array_sort_axis)


# --- a list written into an array ---

def list_into_slice(x):
    z = np.zeros(3)
    z[0:2] = [x[0] * x[1], x[2] ** 2]
    return np.sum(z * z * x)


def list_into_slice_value(x):
    y = list_into_slice(x)
    return y, dlgradient(y, x)


def list_into_slice_second(x):
    y = list_into_slice(x)
    g = dlgradient(y, x)
    return dlgradient(np.sum(g * g), x)


def list_into_slice_gradient(x):
    return dlgradient(list_into_slice(x), x)


def test_a_list_written_into_an_array_slice():
    _value_and_gradient(list_into_slice_value, list_into_slice)

    def h(a):
        return float(np.sum(extractdata(dlfeval(list_into_slice_gradient, dlarray(a))) ** 2))
    assert_close(extractdata(dlfeval(list_into_slice_second, dlarray(X))),
                 numerical_gradient(h, [X.copy()], 0), rtol=1e-5)
    v = np.array([0.2, -0.4, 0.9])
    g = lambda a: np.asarray(extractdata(dlfeval(list_into_slice_gradient, dlarray(a))))
    assert_close(extractdata(sct.hvp(list_into_slice, X, v)), (g(X + 1e-6 * v) - g(X - 1e-6 * v)) / 2e-6,
                 rtol=1e-5)
