"""Refusal messages that named the wrong thing, and a write through ``out=`` checked.

``v = h[1:]; v.sort()`` on an array view was refused as "sort() on a list or dict", advising
``sorted(v)`` (a list): the message now names arrays too and the array's way (np.sort, assigning
into the base).  ``np.add(x, x, out=out)`` / ``np.multiply(..., out=out)`` into an array the
function made: value and gradient against plain Python and central differences."""
import os
import sys

import numpy as np
import pytest

sys.path.insert(0, os.path.dirname(__file__))
from gradcheck import assert_close, numerical_gradient  # noqa: E402

import sct  # noqa: E402
from sct import dlarray, dlfeval, dlgradient, extractdata  # noqa: E402


def sort_a_view(x):
    h = x * 2
    v = h[1:]
    v.sort()
    y = np.sum(h * h)
    return y, dlgradient(y, x)


def test_sort_of_an_array_view_is_refused_naming_arrays():
    with pytest.raises(sct.CompileError) as info:
        dlfeval(sort_a_view, dlarray(np.array([0.5, 0.3, 0.1])))
    text = str(info.value)
    assert "v.sort" in text and "array" in text and "np.sort(v)" in text, text


def _out_product(x):
    out = np.zeros(3)
    np.multiply(x, x, out=out)
    return np.sum(out * x)


def out_product(x):
    y = _out_product(x)
    return y, dlgradient(y, x)


def test_a_ufunc_writing_into_out():
    x = np.array([0.5, 0.3, 0.1])
    y, g = dlfeval(out_product, dlarray(x.copy()))
    assert_close(extractdata(y), _out_product(x.copy()), rtol=1e-12, what="value")
    assert_close(extractdata(g), numerical_gradient(_out_product, [x.copy()], 0), what="gradient")


def _scaled_sin(x, c=1.0):
    return np.sum(np.sin(x) * c)


_ACCELERATED_PARTIAL = sct.dlaccelerate(__import__("functools").partial(_scaled_sin, c=2.0))


def calls_a_global_partial(x):
    y = _ACCELERATED_PARTIAL(x)
    return y, dlgradient(y, x)


def test_a_partial_made_outside_runs():
    """Was "no derivative rule for _ACCELERATED_PARTIAL: it is not a Python function sct can read", then a
    refusal naming the partial; now (tests/test_peer_s41.py) called as a partial passed in as an argument:
    its function with the frozen values constant."""
    x = np.array([0.5, 0.3])
    y, g = dlfeval(calls_a_global_partial, dlarray(x))
    np.testing.assert_allclose(np.asarray(y.data), np.sum(np.sin(x) * 2.0), rtol=1e-12)
    np.testing.assert_allclose(np.asarray(g.data), 2.0 * np.cos(x), rtol=1e-12)
