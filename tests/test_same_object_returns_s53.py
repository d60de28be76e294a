"""Helpers returning the array they were given, not a new one (red team red3_53): ``d["c"].conj()`` of a real
array, ``np.array(a, copy=None)``, ``np.astype(a, t, copy=False)``, ``np.ma.filled(a)`` / ``np.ma.getdata(a)``
are ``a`` itself, so a write into the container after the call, or into the result, changes both.  Was: taken
for new arrays (ho53's ``returns_new_numbers``; the older callee_effects._fresh_call for ``copy=``): a wrong
value and gradient (L 3.58 where 4.9; 21.025 where 21.685).  Now refused at the write, naming its line."""
import numpy as np
import pytest

from sct import SctError, dlarray, dlfeval, dlgradient

X = np.array([0.3, -0.7, 1.1])


def h_conj(x, d):
    return d["c"].conj()


def h_copy_none(x, d):
    return np.array(d["c"], copy=None)


def h_astype_no_copy(x, d):
    return np.astype(d["c"], np.float64, copy=False)


def h_filled(x, d):
    return np.ma.filled(d["c"])


def h_getdata(x, d):
    return np.ma.getdata(d["c"])


HELPERS = [h_conj, h_copy_none, h_astype_no_copy, h_filled, h_getdata]


def container_written_after(h):
    def f(x):
        d = {"c": x * 2.0}
        y = h(x, d)
        d["c"][0] = 5.0                 # WRITE: y[0] is 5.0 too in Python
        L = np.sum(y * x)
        return L, dlgradient(L, x)
    return f


def result_written(h):
    def f(x):
        d = {"c": x * 2.0, "b": x * x}
        v = h(x, d)
        v[0] = v[0] * 3.0 + 1.0         # WRITE: d["c"][0] too in Python
        L = np.sum(d["c"] * x) + np.sum(v * v)
        return L, dlgradient(L, x)
    return f


def _line(f):
    import inspect
    lines, first = inspect.getsourcelines(f)
    return first + next(i for i, t in enumerate(lines) if "# WRITE" in t)


@pytest.mark.parametrize("make", [container_written_after, result_written], ids=lambda m: m.__name__)
@pytest.mark.parametrize("h", HELPERS, ids=lambda h: h.__name__)
def test_write_into_an_array_a_helper_returned_itself_is_refused(make, h):
    f = make(h)
    try:
        L, g = dlfeval(f, dlarray(X.copy()))
    except SctError as e:
        assert f"line {_line(make)}" in str(e) or "test_same_object_returns_s53.py" in str(e), str(e)
        return
    raise AssertionError(f"accepted (L = {L}): sct models the helper's result as a new array, which Python's "
                         "is not (the write changes both): expected a refusal at the write")


def test_a_real_copy_stays_exact():
    """``np.array(d["c"])`` (copy=True) and ``d["c"].copy()`` are new: accepted, exact."""
    def hc(x, d):
        return np.array(d["c"])

    def f(x):
        d = {"c": x * 2.0}
        y = hc(x, d)
        d["c"][0] = 5.0
        L = np.sum(y * x)
        return L, dlgradient(L, x)
    L, g = dlfeval(f, dlarray(X.copy()))
    assert np.isclose(float(np.asarray(L)), np.sum(2 * X * X))
    assert np.allclose(np.asarray(g), 4 * X)
