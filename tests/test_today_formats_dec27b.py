"""Red-team findings (dec 27b) on formats met with today's changes (dlarray(Y, dims(X)), a format held in
a local): a def nested in the function dlfeval runs.  Its own ``return`` was read as an early return of
the enclosing function (sct/normalize_jumps.py walked into the def), so every statement after the def
was guarded by a flag, and the format inference merged the returned values' formats with the flag's
initial None: the dlarray out of dlfeval came back unformatted (marked lost) where Python's has the
format.  Values against numpy, gradients against central differences."""
import numpy as np
import pytest

import sct
from sct import dims, dlarray, dlfeval, dlgradient, extractdata, stripdims
from gradcheck import assert_close, numerical_gradient

rng = np.random.default_rng(2727)


def labelled_in_nested_def(x):
    def inner(z):
        return dlarray(z * 2.0, "CB")
    y = inner(x)
    loss = np.sum(y ** 3)
    return y, loss, dlgradient(loss, x)


def labelled_after_nested_def(x):
    def double(z):
        return z * 2.0
    y = sct.softmax(dlarray(double(x), "BC"))
    loss = np.sum(stripdims(y) * np.arange(12.0).reshape(3, 4))
    return y, loss, dlgradient(loss, x)


def labelled_by_closure_format(x):
    fmt = dims(x)

    def inner(z):
        return dlarray(stripdims(z) * 2.0, fmt)
    y = inner(x)
    loss = np.sum(y ** 3)
    return y, loss, dlgradient(loss, x)


def _softmax_rows(v):
    e = np.exp(v - v.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


def test_format_returned_from_nested_def():
    x = rng.standard_normal((3, 4))
    y, loss, g = dlfeval(labelled_in_nested_def, dlarray(x))
    assert dims(y) == "CB"               # was: '' (lost)
    assert_close(extractdata(y), 2 * x)
    assert_close(float(loss), np.sum((2 * x) ** 3))
    assert_close(extractdata(g), numerical_gradient(lambda v: np.sum((2 * v) ** 3), [x], 0))
    # the result read by a deep-learning function outside dlfeval as the same value made outside
    assert_close(extractdata(sct.softmax(y)), extractdata(sct.softmax(dlarray(2 * x, "CB"))))


def test_format_after_nested_def():
    x = rng.standard_normal((3, 4))
    y, loss, g = dlfeval(labelled_after_nested_def, dlarray(x))
    assert dims(y) == "BC"               # was: ''
    w = np.arange(12.0).reshape(3, 4)
    ref = lambda v: np.sum(_softmax_rows(2 * v) * w)
    assert_close(float(loss), ref(x))
    assert_close(extractdata(g), numerical_gradient(ref, [x], 0))


@pytest.mark.parametrize("fmt", ["CB", "BC"])
def test_format_of_closure_local(fmt):
    x = rng.standard_normal((3, 4))
    y, loss, g = dlfeval(labelled_by_closure_format, dlarray(x, fmt))
    assert dims(y) == fmt
    ref = lambda v: np.sum((2 * v) ** 3)
    assert_close(float(loss), ref(x))
    assert_close(extractdata(g), numerical_gradient(ref, [x], 0))


# --- np.copyto(z, v, where=m) of a formatted z (today's rt.into_where): z keeps its labels, as rt.into's
# does and as outside dlfeval (was refused: "softmax: the format of its input is not known")

W12 = np.arange(12.0).reshape(3, 4)


def copyto_where_formatted(x):
    z = dlarray(np.zeros((3, 4)), "CB")
    np.copyto(z, x * 2.0, where=x > 0)
    y = sct.softmax(z)
    loss = np.sum(stripdims(y) * W12)
    return z, loss, dlgradient(loss, x)


def _copyto_where_eager(a):
    z = dlarray(np.zeros((3, 4)), "CB")
    np.copyto(z, a * 2.0, where=a > 0)
    return dims(z), float(np.sum(extractdata(stripdims(sct.softmax(z))) * W12))


def test_copyto_where_keeps_the_format():
    x = rng.standard_normal((3, 4))
    z, loss, g = dlfeval(copyto_where_formatted, dlarray(x))
    fmt, ref = _copyto_where_eager(x)
    assert dims(z) == fmt == "CB"
    assert_close(float(loss), ref)
    assert_close(extractdata(g), numerical_gradient(lambda v: _copyto_where_eager(v)[1], [x], 0))


# --- a layer's Padding [t b l r] (today's layer_padding): MATLAB's nonnegative integers (was: 1.5 read as 1,
# silently; -1 numpy's "index can't contain negative values" when the network was built)

@pytest.mark.parametrize("pad", [[1.5, 0, 2, 1], [-1, 0, 0, 0], [True, False, True, False]])
def test_layer_padding_four_elements_must_be_whole(pad):
    with pytest.raises(ValueError, match=r"Padding \[t b l r\] must be four nonnegative integers"):
        sct.convolution2dLayer(3, 1, Padding=pad)
    with pytest.raises(ValueError, match=r"Cropping \[t b l r\]"):
        sct.transposedConv2dLayer(3, 1, Cropping=pad)
    assert sct.maxPooling2dLayer(2, Padding=[1, 0, 2.0, 1]).Padding == ((1, 2), (0, 1))
