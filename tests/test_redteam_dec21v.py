"""Red team V (dec21): formatted dlarrays that lost their labels on the way to a deep-learning function.

sct follows data formats when it compiles the function dlfeval runs (sct/formats.py); inside the
generated code the values are plain arrays.  A formatted value that reached a layout-reading function
(softmax, fullyconnect, the losses, ...) through a construct the format pass did not follow arrived
unlabelled and was read in sct's default layout: a wrong value and a wrong gradient, silently.  Found:

* spread arguments: ``f(*xs)`` of a helper, ``sct.softmax(*xs)``, ``np.exp(*xs)`` (the pass read a
  ``Starred`` argument as unformatted);
* calls it does not follow that hand back what they are given: ``copy.copy(X)``, ``copy.deepcopy(X)``,
  ``dict(zip(keys, [X]))``, ``itertools.chain([X])``, ``xs.extend([X])``, ``xs.insert(0, X)``,
  ``d.update(a=X)``, ``a, *b, c = [...]``, ``[*xs, X]`` (their results were taken as unformatted);
* outside dlfeval, ``copy.deepcopy(X)`` of a formatted X dropped its labels (``__getattr__`` found the
  ndarray's ``__deepcopy__``);
* a ``with`` block's body, the expressions of an f-string and an assert's test were never seen by the
  format pass (``with np.errstate(...): softmax(X)``, ``f"{crossentropy(Y, T):.4f}"``,
  ``assert np.allclose(np.sum(softmax(X), 0), 1)`` raising where Python passes);
* a formatted dlarray held by an outside object's attribute, or given to a partial bound outside.

Beyond formats: ``with nullcontext(x * 2) as u`` / a user's context manager made from traced values
gave u as a constant, a zero gradient (now refused), and ``math.isclose`` in a condition made jvp and hvp
refuse, naming the generated code's file.

Now the spread is refused (a CompileError naming the line), a copy keeps the labels (as outside dlfeval),
``extend``/``update`` of known items are followed, and the rest is UNKNOWN: refused by the function that
would read the layout.  Every accepted case is checked against plain numpy values (MATLAB's softmax over
the "C" dimension) and finite differences.
"""
import copy
import itertools

import numpy as np
import pytest

import sct
from sct import CompileError, dims, dlarray, dlfeval, dlgradient, extractdata, softmax, stripdims
from gradcheck import numerical_gradient

Z = np.random.default_rng(21).standard_normal((4, 3))         # "CB": 4 channels, 3 observations
K = np.random.default_rng(22).standard_normal((4, 3))


def softmax_c(z):
    """MATLAB's softmax of "CB" data: over the C dimension (axis 0 here)."""
    e = np.exp(z - np.max(z, axis=0, keepdims=True))
    return e / np.sum(e, axis=0, keepdims=True)


def reference(z):
    return np.sum(softmax_c(z) * K)


def check_value_and_gradient(result):
    y, g = result
    np.testing.assert_allclose(extractdata(y), reference(Z), rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(extractdata(g), numerical_gradient(reference, [Z.copy()], 0), rtol=1e-5, atol=1e-7)


# --- spread arguments: refused ------------------------------------------------------------------

def helper_softmax(z):
    return softmax(z)


def spread_into_helper(*xs):
    return helper_softmax(*xs)


def spread_local_into_helper(z):
    xs = (z,)
    return helper_softmax(*xs)


def spread_into_softmax(*xs):
    return softmax(*xs)


def spread_list_into_softmax(z):
    xs = [z]
    return softmax(*xs)


def spread_into_numpy(*xs):
    return np.exp(*xs) * 2


@pytest.mark.parametrize("fun", [spread_into_helper, spread_local_into_helper, spread_into_softmax,
                                 spread_list_into_softmax, spread_into_numpy])
def test_formatted_items_spread_into_a_call_are_refused(fun):
    # was: softmax of the last axis (the default layout), [0.27, 0.73] rows for MATLAB's columns
    with pytest.raises(CompileError) as info:
        dlfeval(fun, dlarray(Z, "CB"))
    assert "through *args or **kwargs" in str(info.value)
    assert info.value.filename == __file__ and info.value.lineno is not None


def test_unformatted_items_spread_still_run():
    y = dlfeval(spread_into_softmax, dlarray(Z))
    e = np.exp(Z - Z.max(axis=1, keepdims=True))
    np.testing.assert_allclose(extractdata(y), e / e.sum(axis=1, keepdims=True), rtol=1e-12)


# --- copies keep the labels ---------------------------------------------------------------------

def through_copy(z):
    y = np.sum(stripdims(softmax(copy.copy(z))) * K)
    return y, dlgradient(y, z)


def through_deepcopy(z):
    y = np.sum(stripdims(softmax(copy.deepcopy(z))) * K)
    return y, dlgradient(y, z)


def through_extend(z):
    xs = []
    xs.extend([z])
    y = np.sum(stripdims(softmax(xs[0])) * K)
    return y, dlgradient(y, z)


def through_update(z):
    d = {}
    d.update(a=z)
    y = np.sum(stripdims(softmax(d["a"])) * K)
    return y, dlgradient(y, z)


def through_star_target(z, w):
    a, *b, c = [w, w, z, w]
    y = np.sum(stripdims(softmax(b[1])) * K)
    return y, dlgradient(y, z)


@pytest.mark.parametrize("fun", [through_copy, through_deepcopy, through_extend, through_update])
def test_copies_and_known_items_keep_the_labels(fun):
    check_value_and_gradient(dlfeval(fun, dlarray(Z, "CB")))


def test_starred_target_picks_the_right_item():
    check_value_and_gradient(dlfeval(through_star_target, dlarray(Z, "CB"), dlarray(np.zeros((4, 3)))))


def test_deepcopy_outside_dlfeval_keeps_the_labels():
    x = dlarray(Z, "CB")
    assert dims(copy.deepcopy(x)) == "CB"
    assert dims(copy.deepcopy([x])[0]) == "CB"
    assert dims(copy.copy(x)) == "CB"
    np.testing.assert_array_equal(extractdata(copy.deepcopy(x)), Z)


# --- not followed: refused where a layout is read -------------------------------------------------

def through_dict_zip(z):
    d = dict(zip(["a"], [z]))
    return softmax(d["a"])


def through_chain(z):
    return softmax(list(itertools.chain([z]))[0])


def through_insert(z):
    xs = [1.0]
    xs.insert(0, z)
    return softmax(xs[0])


def through_display_of_unknown_length(z, w):
    xs = [w for _ in range(2)]
    ys = [*xs, z]
    return softmax(ys[2])


def through_extend_of_unknown_length(z, w, n):
    xs = [w] * n
    xs.extend([z])
    return softmax(xs[2])


@pytest.mark.parametrize("fun, extra", [(through_dict_zip, ()), (through_chain, ()), (through_insert, ()),
                                        (through_display_of_unknown_length, (dlarray(Z),)),
                                        (through_extend_of_unknown_length, (dlarray(Z), 2))])
def test_values_not_followed_are_refused_where_a_layout_is_read(fun, extra):
    # each was: the default layout's softmax (over the last axis), silently
    with pytest.raises(CompileError) as info:
        dlfeval(fun, dlarray(Z, "CB"), *extra)
    # (itertools.chain, now read through its Python equivalent, is refused where the formatted value
    # is given to it)
    assert "format of its input is not known" in str(info.value) or \
        "a formatted dlarray is passed to itertools.chain()" in str(info.value)
    assert info.value.filename == __file__


def test_outside_dlfeval_values_agree():
    """The reference the accepted cases are held to: what the same calls give outside dlfeval."""
    x = dlarray(Z, "CB")
    for v in (copy.copy(x), copy.deepcopy(x), dict(zip(["a"], [x]))["a"], list(itertools.chain([x]))[0]):
        np.testing.assert_allclose(extractdata(sct.softmax(v)), softmax_c(Z), rtol=1e-12)


# --- a callable run as it is (a partial bound outside) given formatted data: refused ---------------

import functools  # noqa: E402

SOFTMAX_PARTIAL = functools.partial(softmax)


def through_partial(z):
    return SOFTMAX_PARTIAL(z)


def test_formatted_data_given_to_a_partial_is_refused():
    # was: the partial ran on the plain array: softmax over the last axis, silently
    with pytest.raises(CompileError) as info:
        dlfeval(through_partial, dlarray(Z, "CB"))
    # (a partial made outside the function is now called as one passed in, tests/test_peer_s41.py: refused
    # as a formatted value passed to a helper; was "a callable sct runs as it is")
    assert "a formatted dlarray is passed to SOFTMAX_PARTIAL()" in str(info.value) and info.value.filename == __file__
    y = dlfeval(through_partial, dlarray(Z))            # unformatted: runs, as outside dlfeval
    np.testing.assert_allclose(extractdata(y), extractdata(SOFTMAX_PARTIAL(dlarray(Z))), rtol=1e-12)


# --- a formatted dlarray held by an object outside the function: refused ---------------------------

class _Holder:
    pass


HOLDER = _Holder()
HOLDER.T = dlarray(np.eye(3) + np.arange(9.0).reshape(3, 3) / 7, "BC")       # square: no shape error to warn


def minus_held(z):
    return z - HOLDER.T


def mse_of_held(z):
    return sct.mse(z, HOLDER.T)


@pytest.mark.parametrize("fun", [minus_held, mse_of_held])
def test_formatted_attribute_of_an_outside_object_is_refused(fun):
    # was: read as it is inside the generated code, met by the plain "CB" data unaligned (outside dlfeval
    # z - HOLDER.T aligns the labels): another value, silently
    z = dlarray(np.arange(9.0).reshape(3, 3) / 5, "CB")
    with pytest.raises(CompileError) as info:
        dlfeval(fun, z)
    assert "attribute of an object outside the function" in str(info.value) and info.value.filename == __file__


def test_unformatted_attribute_of_an_outside_object_still_runs():
    holder = _Holder()
    holder.T = np.ones((3, 3))

    def loss(z):
        y = np.sum((z - holder.T) ** 2)
        return y, dlgradient(y, z)
    z = np.arange(9.0).reshape(3, 3)
    y, g = dlfeval(loss, dlarray(z, "CB"))
    np.testing.assert_allclose(extractdata(y), np.sum((z - 1) ** 2))
    np.testing.assert_allclose(extractdata(g), 2 * (z - 1))


# --- a with block: its body is followed -----------------------------------------------------------

import contextlib  # noqa: E402


def softmax_in_errstate(z):
    with np.errstate(all="ignore"):
        y = np.sum(stripdims(softmax(z)) * K)
    return y, dlgradient(y, z)


def softmax_in_nested_with(z):
    with contextlib.nullcontext():
        with np.errstate(divide="ignore"):
            s = softmax(z)
        y = np.sum(stripdims(s) * K)
    return y, dlgradient(y, z)


def softmax_of_entered_value(z):
    with contextlib.nullcontext(z) as u:
        return softmax(u)


@pytest.mark.parametrize("fun", [softmax_in_errstate, softmax_in_nested_with])
def test_deep_learning_calls_in_a_with_block_read_the_labels(fun):
    # was: the format pass did not walk a with block's body: softmax of "CB" data over the last axis
    check_value_and_gradient(dlfeval(fun, dlarray(Z, "CB")))


def test_value_a_context_manager_gives_is_refused():
    with pytest.raises(CompileError) as info:
        dlfeval(softmax_of_entered_value, dlarray(Z, "CB"))
    # (since dec23 the as-name check runs once activity is known: the format pass, before it, refuses
    # softmax of the entered value first, its format not known; either refusal names this file's line)
    assert ("with ... as name" in str(info.value) or "format of its input is not known" in str(info.value)) \
        and info.value.filename == __file__


# --- with ... as u of the function's values: u was a constant (a zero gradient, silently) ------------

class _Scaled:
    def __init__(self, v):
        self.v = v

    def __enter__(self):
        return self.v * 3

    def __exit__(self, *exc):
        return False


def entered_nullcontext(x):
    with contextlib.nullcontext(x * 2) as u:
        y = np.sum(u ** 2)
    return y, dlgradient(y, x)


def entered_user_manager(x):
    with _Scaled(x) as u:
        y = np.sum(np.sin(u))
    return y, dlgradient(y, x)


def entered_constant_manager(x):
    with contextlib.nullcontext(3.0) as k:
        y = np.sum(x ** 2) * k
    return y, dlgradient(y, x)


@pytest.mark.parametrize("fun", [entered_nullcontext, entered_user_manager])
def test_with_as_of_the_functions_values_is_refused(fun):
    # was: the gradient through u was zeros (values right)
    with pytest.raises(CompileError) as info:
        dlfeval(fun, dlarray(np.array([0.5, -1.0, 2.0])))
    # (since dec23 the as-name check runs once activity is known: the format pass, before it, refuses
    # softmax of the entered value first, its format not known; either refusal names this file's line)
    assert ("with ... as name" in str(info.value) or "format of its input is not known" in str(info.value)) \
        and info.value.filename == __file__


def test_with_as_of_a_constant_manager_still_runs():
    x0 = np.array([0.5, -1.0, 2.0])
    y, g = dlfeval(entered_constant_manager, dlarray(x0))
    np.testing.assert_allclose(extractdata(y), 3.0 * np.sum(x0 ** 2), rtol=1e-14)
    np.testing.assert_allclose(extractdata(g), 6.0 * x0, rtol=1e-14)


# --- the expressions of an f-string are followed (a loss printed in the function) -------------------

import math  # noqa: E402

from sct import crossentropy  # noqa: E402

LOG = []


def loss_logged_in_fstring(z):
    y = np.sum(stripdims(softmax(z)) * K)
    LOG.append(f"loss {np.sum(stripdims(softmax(z)) * K):.12f} of {crossentropy(softmax(z), np.eye(4)[:, :3]):.12f}")
    return y, dlgradient(y, z)


def test_fstring_expressions_read_the_labels():
    # was: the calls inside the f-string were left there, unseen by the format pass: the logged loss
    # was the default layout's (another number), while the returned one was right
    LOG.clear()
    check_value_and_gradient(dlfeval(loss_logged_in_fstring, dlarray(Z, "CB")))
    expected = -np.sum(np.eye(4)[:, :3] * np.log(softmax_c(Z))) / 3
    assert LOG == [f"loss {reference(Z):.12f} of {expected:.12f}"]


def fstring_of_traced_scalar(x):
    s = f"{np.sum(x ** 2):.3f}|{x[0]!r:>8}"
    y = np.sum(np.sin(x)) * len(s)
    return y, dlgradient(y, x), s


def test_fstring_of_traced_values_keeps_python_text_and_gradient():
    x0 = np.array([0.25, -1.5, 2.0])
    y, g, s = dlfeval(fstring_of_traced_scalar, dlarray(x0))
    text = f"{np.sum(x0 ** 2):.3f}|{x0[0]!r:>8}"
    assert s == text
    np.testing.assert_allclose(extractdata(y), np.sum(np.sin(x0)) * len(text), rtol=1e-14)
    np.testing.assert_allclose(extractdata(g), np.cos(x0) * len(text), rtol=1e-14)


# --- math.isclose in a test: no derivative needed, in forward mode too -----------------------------

def picked_by_isclose(x):
    return x[0] * (2.0 if math.isclose(x[1], 0.5) else 3.0) + x[1] ** 3


@pytest.mark.parametrize("x1, factor", [(0.5, 2.0), (0.7, 3.0)])
def test_isclose_in_a_condition_in_jvp_and_hvp(x1, factor):
    # was: jvp and hvp refused with 'no derivative rule for math.isclose', naming the generated code's file
    x = np.array([0.3, x1])
    v = np.array([1.0, -2.0])
    y, jv = sct.jvp(picked_by_isclose, x, v)
    np.testing.assert_allclose(extractdata(y), 0.3 * factor + x1 ** 3, rtol=1e-14)
    np.testing.assert_allclose(extractdata(jv), factor * 1.0 + 3 * x1 ** 2 * -2.0, rtol=1e-12)
    hv = sct.hvp(picked_by_isclose, x, v)
    np.testing.assert_allclose(extractdata(hv), [0.0, 6 * x1 * -2.0], rtol=1e-12, atol=1e-14)


# --- an assert's test is followed ------------------------------------------------------------------

def asserts_softmax_columns(z):
    assert np.allclose(np.sum(stripdims(softmax(z)), axis=0), 1.0), "softmax columns"
    y = np.sum(stripdims(softmax(z)) * K)
    return y, dlgradient(y, z)


def asserts_false(z):
    assert np.sum(stripdims(softmax(z))) < 0, f"sum {np.sum(z):.3f}"
    return z


def test_assert_test_reads_the_labels():
    # was: the assert kept as written, its softmax read in the default layout: an AssertionError inside
    # dlfeval where plain Python passes
    check_value_and_gradient(dlfeval(asserts_softmax_columns, dlarray(Z, "CB")))


def test_failing_assert_still_raises_with_its_message():
    with pytest.raises(sct.SctError) as info:
        dlfeval(asserts_false, dlarray(Z, "CB"))
    assert "AssertionError" in str(info.value) and f"sum {np.sum(Z):.3f}" in str(info.value)


# --- contextlib.suppress: refused (an exception suppressed part way broke the recorded values) -------

def suppressed_part_way(x):
    y = x * 2
    with contextlib.suppress(IndexError):
        w = x[10]
        y = y * 3
    return np.sum(y), dlgradient(np.sum(y), x)


def same_with_try(x):
    y = x * 2
    try:
        w = x[10]
        y = y * 3
    except IndexError:
        pass
    return np.sum(y), dlgradient(np.sum(y), x)


def test_suppress_is_refused_and_try_except_differentiates():
    # was: 'IndexError while computing the gradient of `y = y * 3`: pop from empty list'
    x0 = np.array([0.5, -1.0, 2.0])
    with pytest.raises(CompileError) as info:
        dlfeval(suppressed_part_way, dlarray(x0))
    assert "suppress" in str(info.value) and info.value.filename == __file__
    y, g = dlfeval(same_with_try, dlarray(x0))
    np.testing.assert_allclose(extractdata(y), np.sum(2 * x0), rtol=1e-14)
    np.testing.assert_allclose(extractdata(g), 2 * np.ones(3), rtol=1e-14)
