"""Scenarios from MATLAB's documentation ported to Python (red team, dec 27): each test is a finding
(a wrong value, a crash, or a false refusal of a documented idiom) fixed in this round.  Values against
numpy by hand; gradients against central differences (tests/gradcheck.py)."""
import numpy as np
import pytest

import sct
from sct import dims, dlarray, dlfeval, dlgradient, extractdata, stripdims
from tests.gradcheck import assert_close, numerical_gradient

rng = np.random.default_rng(2712)


# --- dlarray(Y, dims(X)): MATLAB's idiom for giving a result the input's format (was refused inside
# dlfeval: "dlarray(x, fmt) inside dlfeval needs the format as a literal string", though dims(X) of a
# followed X is a constant when the function is compiled)


def relabel_like_input(x):
    y = stripdims(x) * 2.0
    y = dlarray(y, dims(x))
    loss = np.sum(y ** 3)
    return y, loss, dlgradient(loss, x)


def relabel_by_local_format(x):
    fmt = dims(x)
    y = dlarray(np.tanh(stripdims(x)), fmt)
    z = stripdims(y, "BC")                      # a transpose into "BC"
    loss = np.sum(z[0] * y[:, 0])
    return y, loss, dlgradient(loss, x)


def test_dlarray_with_dims_of_input_inside_dlfeval():
    x = rng.standard_normal((3, 4))
    y, loss, g = dlfeval(relabel_like_input, dlarray(x, "CB"))
    assert dims(y) == "CB" and dims(g) == "CB"
    assert_close(extractdata(y), 2 * x)
    assert_close(float(loss), np.sum((2 * x) ** 3))
    assert_close(extractdata(g), numerical_gradient(lambda v: np.sum((2 * v) ** 3), [x], 0))


def test_dlarray_with_format_in_a_local_inside_dlfeval():
    x = rng.standard_normal((3, 4))
    y, loss, g = dlfeval(relabel_by_local_format, dlarray(x, "CB"))
    assert dims(y) == "CB"
    ref = lambda v: np.sum(np.tanh(v)[:, 0] * np.tanh(v)[:, 0])
    assert_close(float(loss), ref(x))
    assert_close(extractdata(g), numerical_gradient(ref, [x], 0))
