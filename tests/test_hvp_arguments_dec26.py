"""sct.hvp takes one array x and calls fun(x).  A tuple of arrays for an f(a, b) was stacked into one
array and passed as fun's only argument: a TypeError located in sct/forward.py.  Now refused with
what to write; a list of numbers is still one array, and the advised forms give the exact product."""
import numpy as np
import pytest

import sct
from sct import SctError


def f(a, b):
    return np.sum(a ** 2 * b) + np.sum(np.sin(b))


def test_tuple_of_arrays_is_refused_with_advice():
    x, z = np.array([0.3, 0.4]), np.array([1.0, 2.0])
    with pytest.raises(SctError, match="hvp takes one array x"):
        sct.hvp(f, (x, z), (x, z))


def test_fixing_the_other_argument_gives_the_product():
    a, b, v = np.array([0.3, 0.4]), np.array([1.0, 2.0]), np.array([1.0, -2.0])
    got = sct.hvp(lambda t: f(t, b), a, v)
    np.testing.assert_allclose(np.asarray(getattr(got, "data", got)), 2 * b * v, rtol=1e-12)


def test_a_list_of_numbers_is_one_array():
    got = sct.hvp(lambda t: np.sum(t ** 3), [1.0, 2.0], [1.0, 0.0])
    np.testing.assert_allclose(np.asarray(getattr(got, "data", got)), [6.0, 0.0], rtol=1e-12)
