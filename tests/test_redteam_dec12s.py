"""Red team of the Dec 12 changes (wt-S2): object arrays made without ``dtype=object`` written
(np.full(n, None), np.array([None, None]), dtype=np.dtype('O'), a dtype held in a name,
np.empty_like/zeros_like of an object array) hold the state a row write stores: `state *= ...`
afterwards changes the stored item too (was: taken as a numeric array's copy, silently wrong)."""
import numpy as np
import pytest

from gradcheck import check_grads, numerical_gradient
from sct import CompileError, dlarray, dlfeval, dlgradient


def _full_none(a, b):
    box = np.full(2, None)
    b = b * 1.0
    box[0] = b
    b *= 3.0
    return np.sum(box[0] * a)


def _array_of_nones(a, b):
    box = np.array([None, None])
    b = b * 1.0
    box[0] = b
    b *= 3.0
    return np.sum(box[0] * a)


def _dtype_object_call(a, b):
    box = np.empty(2, dtype=np.dtype("O"))
    b = b * 1.0
    box[0] = b
    b *= 3.0
    return np.sum(box[0] * a)


def _dtype_in_a_name(a, b):
    dt = object
    box = np.empty(2, dtype=dt)
    b = b * 1.0
    box[0] = b
    b *= 3.0
    return np.sum(box[0] * a)


def _empty_like_objects(a, b):
    proto = np.empty(2, dtype=object)
    box = np.empty_like(proto)
    b = b * 1.0
    box[0] = b
    b *= 3.0
    return np.sum(box[0] * a)


def _zeros_like_objects(a, b):
    proto = np.full(2, None)
    box = np.zeros_like(proto)
    b = b * 1.0
    box[0] = b
    b *= 3.0
    return np.sum(box[0] * a)


def _gradient_of(case):
    def wrapper(a, b):
        y = case(a, b)
        return y, dlgradient(y, a)
    return wrapper


@pytest.mark.parametrize("case", [_full_none, _array_of_nones, _dtype_object_call, _dtype_in_a_name,
                                  _empty_like_objects, _zeros_like_objects])
def test_object_arrays_made_without_dtype_object_hold_the_state(case):
    a, b = np.array([1.0, 2.0]), np.array([1.0, 1.0])
    expected = case(a.copy(), b.copy())          # 9.0: box[0] is b, tripled
    try:
        y, g = dlfeval(_gradient_of(case), dlarray(a), dlarray(b))
    except CompileError as e:
        assert "test_redteam_dec12s.py" in str(e)
        return
    assert float(y.data) == expected
    np.testing.assert_allclose(g.data, numerical_gradient(lambda x: case(x, b.copy()), [a.copy()], 0), rtol=1e-6)


def _numeric_dtypes_still_copy(k, x0):
    traj = np.zeros((3, 2), dtype=np.float64)
    buf = np.empty_like(traj)
    s = x0 * 1.0
    for t in range(3):
        traj[t] = s
        buf[t] = s * k
        s += 0.1 * k * s
    return np.sum(traj ** 2) + np.sum(buf) + np.sum(s)


def test_numeric_arrays_with_written_dtypes_still_accepted():
    check_grads(_numeric_dtypes_still_copy, np.array(2.0), np.array([1.0, 0.5]))
