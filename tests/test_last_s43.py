"""Red team of stop 43 against the last stop's changes (539b32f..44df60c): each test fails before its fix."""
import numpy as np
import pytest

import sct
from sct import dlarray, dlfeval, dlgradient

from gradcheck import check_grads, numerical_gradient


# --- a for loop over a dict whose body removes keys and adds others (its size kept) -----------------

def _pop_and_rename(x):
    d = {"a": x[0], "b": x[1]}
    for k in d:
        v = d.pop(k)
        d[k + "x"] = v * 2
    return sum(d.values())


def _pop_later_add_new(x):
    d = {"a": x[0], "b": x[1]}
    for k in d.keys():
        if k == "a":
            d.pop("b")
            d["c"] = x[1] * 3
    return sum(d.values())


def _pop_and_readd(x):
    d = {"a": x[0], "b": x[1]}
    for k in d:
        d[k] = d.pop(k) * 2
    return d["a"]


def _with_gradient(loss):
    def fun(x):
        y = loss(x)
        return y, dlgradient(y, x)
    return fun


@pytest.mark.parametrize("loss, python", [(_pop_and_rename, "keys changed"), (_pop_later_add_new, None),
                                          (_pop_and_readd, "keys changed")])
def test_dict_walk_whose_keys_change_at_the_same_size_is_refused(loss, python):
    # Python raises RuntimeError('dictionary keys changed during iteration') (the first and third) or walks
    # the added key 'c' (the second: 0.3 + 1.5); sct walked the keys the dict held at the start and returned
    # a number (1.6, 2.0, 0.6)
    x = np.array([0.3, 0.5])
    if python:
        with pytest.raises(RuntimeError, match=python):
            loss(x)
    else:
        assert loss(x) == pytest.approx(1.8)
    for run in (lambda: dlfeval(_with_gradient(loss), dlarray(x)), lambda: dlfeval(loss, dlarray(x)),
                lambda: sct.jvp(loss, x, np.ones(2))):
        with pytest.raises(sct.SctError, match="removed keys of the dict and added others"):
            run()


def _value_updates_in_walk(x):
    d = {"a": x[0], "b": x[1]}
    for k, v in d.items():
        d[k] = v * 3
    for k in d:
        d.update({k: d[k] * 2})
    y = d["a"] * d["b"]
    return y, dlgradient(y, x)


def test_dict_walk_that_only_updates_values_runs():
    # (the update form was refused as 'a dict key computed from a traced value': d.update({k: ...}) was not
    # known to leave d a dict, so the keys walked from it were taken for traced values)
    x = np.array([0.3, 0.5])
    v, g = dlfeval(_value_updates_in_walk, dlarray(x))
    np.testing.assert_allclose(np.asarray(v), 36 * 0.3 * 0.5, rtol=1e-12)
    np.testing.assert_allclose(np.asarray(g), [36 * 0.5, 36 * 0.3], rtol=1e-12)


# --- scipy.signal of 0-d inputs ------------------------------------------------------------------------

def _convolve_0d(x):
    import scipy.signal as ss
    return np.sum(ss.convolve(x[0], x[1]) ** 2) + ss.correlate(x[0] * 1.0, x[1] + 1.0, mode="same") * x[0]


def test_scipy_signal_of_0d_inputs_is_differentiated():
    # was: "TypeError while computing the gradient ...: `pad_width` must be of integral type" (np.pad of g
    # with the empty list of widths of a 0-d output)
    check_grads(_convolve_0d, np.array([0.3, -0.7]))


# --- a dlarray with no derivative given to the user's helper that sct runs as it is ---------------------

class _Holder:
    def __init__(self, s):
        self.s = s


def _kind(v):
    return (1.0 if isinstance(v, np.ndarray) else 0.0) + (2.0 if np.isscalar(v) else 0.0) + \
        (4.0 if type(v) is np.ndarray else 0.0) + (8.0 if isinstance(v, np.generic) else 0.0)


def _kind_of_field(x, m):
    y = np.sum(x ** 2) * _kind(m.s)
    return y, dlgradient(y, x)


def _kind_of_returned(x):
    y = np.sum(x)
    return y, y > 0


@pytest.mark.parametrize("value", [np.array([True, False]), np.array(True)])
def test_a_bool_dlarray_field_given_to_a_helper_is_the_numpy_array(value):
    # was 0.0 (the helper, run as it is since a bool carries no derivative, got the dlarray itself:
    # isinstance(v, np.ndarray) False) where Python's is 5.0
    x = np.array([0.3, 0.5])
    expected = np.sum(x ** 2) * _kind(value)
    assert _kind(value) == 5.0
    for run in (lambda m: dlfeval(_kind_of_field, dlarray(x), m)[0],
                lambda m: sct.accelerate(_kind_of_field)(dlarray(x), m)[0]):
        np.testing.assert_allclose(np.asarray(run(_Holder(dlarray(value)))), expected, rtol=1e-12)
    # a bool dlfeval returned (np.bool_ in Python: numpy's scalar) set as a field for the next call
    _, positive = dlfeval(_kind_of_returned, dlarray(x))
    v, g = dlfeval(_kind_of_field, dlarray(x), _Holder(positive))
    np.testing.assert_allclose(np.asarray(v), np.sum(x ** 2) * _kind(np.True_), rtol=1e-12)
    np.testing.assert_allclose(np.asarray(g), 2 * x * _kind(np.True_), rtol=1e-12)
