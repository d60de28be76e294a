"""Red team of Dec 21 (U): state that changes between calls of one compiled function.

Found: a formatted dlarray reached through an object outside the function that the compiler does not
follow (an attribute of an instance held by a global, ``data.X``; an item picked when the code runs,
``Xs[i]``; what ``list(Xs)``, ``getattr``, ``vars`` or a comprehension over an outside list give) was
taken as unformatted when the function was compiled, while the deep-learning functions ran by its
labels when the code ran: ``fullyconnect(data.X, w, b)`` gave the right loss and a gradient with
respect to ``w`` with its columns permuted (MATLAB's flattening of "BSC" not applied in the adjoint),
``softmax`` of such a value a wrong gradient, ``dims(data.X)`` the value ``""``.  Such an object also
changes in place without recompiling (``data.X = dlarray(A, "BSC")`` after a call with unformatted data).
Now each such read is checked when the code runs (``sct/outside_formats.py``,
``rt.unformatted_outside``) and a formatted dlarray there is refused at the user's line.

Values against plain Python, gradients against finite differences."""
from __future__ import annotations

import types

import numpy as np
import pytest

from gradcheck import check_grads, numerical_gradient
from sct import dims, dlarray, dlfeval, dlgradient, fullyconnect, softmax, stripdims
from sct.errors import EvaluationError

RNG = np.random.default_rng(21)
A = RNG.standard_normal((2, 3, 4))
W = RNG.standard_normal((5, 12))
B = RNG.standard_normal(5)
WEIGHTS = np.arange(24.0).reshape(2, 3, 4) / 10


class Data:
    """A user's holder of data, a module global (a notebook's ``data``)."""


DATA = Data()
DATA.X = dlarray(A.reshape(2, 12))
DATA.S = dlarray(A)
NS = types.SimpleNamespace(X=dlarray(A, "BSC"), sub=DATA)
XS = [DATA.X]


def _value(v):
    return float(np.asarray(v.data if isinstance(v, dlarray) else v))


def _with_gradient(loss):
    def f(w):
        L = loss(w)
        return L, dlgradient(L, w)
    return f


def _expected(loss, w):
    return _value(loss(w)), numerical_gradient(lambda v: _value(loss(v)), [w], 0)


def _assert_matches(loss, w=W):
    L, g = dlfeval(_with_gradient(loss), dlarray(w))
    value, grad = _expected(loss, w)
    np.testing.assert_allclose(_value(L), value, rtol=1e-12)
    np.testing.assert_allclose(np.asarray(g.data), grad, rtol=1e-5, atol=1e-5)


def fc_of_attribute(w):
    y = fullyconnect(DATA.X, w, B)
    return np.sum(stripdims(y) ** 3)


def fc_of_attribute_plain(w):          # no stripdims: the format pass has nothing to follow
    return np.sum(fullyconnect(DATA.X, w, B) ** 3)


def softmax_of_attribute(w):
    return np.sum(softmax(DATA.S * w[0, 0]) * WEIGHTS)


def dims_of_attribute(w):
    return np.sum(w) * (1.0 if dims(DATA.X) == "BSC" else 2.0)


def fc_of_nested_attribute(w):
    return np.sum(stripdims(fullyconnect(NS.sub.X, w, B)) ** 3)


def fc_of_item(w):
    i = 0
    return np.sum(stripdims(fullyconnect(XS[i], w, B)) ** 3)


def fc_of_list_copy(w):
    return np.sum(stripdims(fullyconnect(list(XS)[0], w, B)) ** 3)


def fc_of_comprehension(w):
    i = 0
    return np.sum(stripdims(fullyconnect([v for v in XS][i], w, B)) ** 3)


def fc_of_getattr(w):
    return np.sum(stripdims(fullyconnect(getattr(DATA, "X"), w, B)) ** 3)


def fc_of_loop_item(w):
    total = 0.0
    for v in XS:
        total = total + np.sum(fullyconnect(v, w, B) ** 2)
    return total


def fc_of_namespace(w):                # a namespace's attribute: read with its labels (guarded)
    return np.sum(stripdims(fullyconnect(NS.X, w, B)) ** 3)


READS = [fc_of_attribute, fc_of_attribute_plain, softmax_of_attribute, dims_of_attribute,
         fc_of_nested_attribute, fc_of_item, fc_of_list_copy, fc_of_comprehension, fc_of_getattr,
         fc_of_loop_item]


def _set(fmt):
    """Plain data (observations by features, as fullyconnect reads unformatted data), or the same
    numbers formatted "BSC" (MATLAB's flattening: another order of the 12 features)."""
    DATA.X = dlarray(A, fmt) if fmt else dlarray(A.reshape(2, 12))
    DATA.S = dlarray(A, "SCB") if fmt else dlarray(A)
    XS[0] = DATA.X


@pytest.fixture(autouse=True)
def _unformatted():
    _set(None)
    yield
    _set(None)


@pytest.mark.parametrize("loss", READS, ids=lambda f: f.__name__)
def test_unformatted_then_formatted_then_unformatted(loss):
    """Plain data first (right values and gradients), then the same object holds formatted data: the
    cached code refuses it at the user's line (was: the right loss, a wrong gradient or dims), then
    plain data again runs as before."""
    _assert_matches(loss)
    _set("BSC")
    with pytest.raises(EvaluationError, match="formatted dlarray") as info:
        dlfeval(_with_gradient(loss), dlarray(W))
    assert info.value.filename == __file__ and info.value.lineno is not None
    _set(None)
    _assert_matches(loss)


@pytest.mark.parametrize("loss", READS, ids=lambda f: f.__name__)
def test_formatted_on_the_first_call(loss):
    _set("BSC")
    with pytest.raises(EvaluationError, match="formatted dlarray"):
        dlfeval(_with_gradient(loss), dlarray(W))


def test_namespace_attribute_follows_its_labels():
    """Control: a namespace's attribute is read with its labels (guarded), MATLAB's flattening of
    "BSC" in the value and the gradient."""
    _assert_matches(fc_of_namespace)
    NS.X = dlarray(np.transpose(A, (0, 2, 1)), "BCS")       # the same data labelled in another order
    try:
        _assert_matches(fc_of_namespace)
    finally:
        NS.X = dlarray(A, "BSC")


class Model:
    def __init__(self, w, scale):
        self.w = w
        self.scale = scale


MODEL = Model(np.array([0.5, -1.0, 2.0]), 2.0)
PARAMS = {"w": np.array([1.0, 2.0, -1.0])}


def model_loss(x):
    h = np.tanh(x * MODEL.w) * MODEL.scale
    return np.sum(h * PARAMS["w"]) + np.sum(x ** 2) * len(PARAMS)


def test_unformatted_data_in_outside_objects_between_calls():
    """Control: plain arrays and numbers in a global object and dict, changed in place between calls,
    are read as they are on every call (values against Python, gradients against differences)."""
    x = np.array([0.3, -0.7, 1.1])
    check_grads(model_loss, x)
    MODEL.w = np.array([2.0, 0.1, -0.3])
    MODEL.scale = 0.5
    PARAMS["w"][1] = 5.0
    PARAMS["b"] = np.zeros(3)
    try:
        check_grads(model_loss, x)
    finally:
        MODEL.w = np.array([0.5, -1.0, 2.0])
        MODEL.scale = 2.0
        PARAMS["w"] = np.array([1.0, 2.0, -1.0])
        del PARAMS["b"]


# --- a default argument changed in place between calls ---------------------------------------------
# The code is compiled for the kind a default had (a parameter not given takes its default's kind), and
# ``__defaults__`` is checked by identity: a dict or object default changed in place since hit the old
# code (a complex array where a real one was: the gradient without conjugates, [0, -5.6, 11] for
# [1.2, -5.6, 28.6]; a formatted dlarray where a plain one was: fullyconnect's gradient permuted).

CFG = {"k": np.array([1.0, 2.0, 3.0])}
X3 = np.array([0.3, -0.7, 1.1])


def abs_sq_default(x, cfg=CFG):
    return np.sum(np.abs(x * cfg["k"]) ** 2)


def abs_sq_kwonly(x, *, cfg=CFG):
    return np.sum(np.abs(x * cfg["k"]) ** 2)


def calls_abs_sq_default(x):
    return abs_sq_default(x)


def calls_abs_sq_kwonly(x):
    return abs_sq_kwonly(x)


@pytest.mark.parametrize("loss", [abs_sq_default, calls_abs_sq_default, calls_abs_sq_kwonly],
                         ids=lambda f: f.__name__)
def test_default_dict_made_complex_between_calls(loss):
    try:
        check_grads(loss, X3)
        CFG["k"] = np.array([1.0 + 1j, 2.0, 3.0 - 2j])
        check_grads(loss, X3)
        CFG["k"] = np.array([1.0, 2.0, 3.0])
        check_grads(loss, X3)
    finally:
        CFG["k"] = np.array([1.0, 2.0, 3.0])


def fc_of_default(w, data=DATA):
    return np.sum(stripdims(fullyconnect(data.X, w, B)) ** 3)


def fc_of_kwonly_default(w, *, data=DATA):
    return np.sum(stripdims(fullyconnect(data.X, w, B)) ** 3)


def entry_with_default(w, data=DATA):
    L = np.sum(stripdims(fullyconnect(data.X, w, B)) ** 3)
    return L, dlgradient(L, w)


def test_default_object_given_formatted_data_between_calls():
    """A default's new kind compiles anew: its formatted data read by its labels (was: the plain code)."""
    _assert_matches(fc_of_default)
    _set("BSC")
    _assert_matches(fc_of_default)
    _set(None)
    _assert_matches(fc_of_default)


def test_kwonly_default_object_given_formatted_data_between_calls():
    """A keyword-only default is read by the code when it runs (its kind not followed): refused."""
    _assert_matches(fc_of_kwonly_default)
    _set("BSC")
    with pytest.raises(EvaluationError, match="formatted dlarray"):
        dlfeval(_with_gradient(fc_of_kwonly_default), dlarray(W))
    _set(None)
    _assert_matches(fc_of_kwonly_default)


def test_entry_default_object_given_formatted_data_between_calls():
    """The function dlfeval runs, its default changed in place: compiled again for the new kind."""
    for fmt in (None, "BSC", None):
        _set(fmt)
        L, g = dlfeval(entry_with_default, dlarray(W))
        value, grad = _expected(lambda w: fc_of_default(w), W)
        np.testing.assert_allclose(_value(L), value, rtol=1e-12)
        np.testing.assert_allclose(np.asarray(g.data), grad, rtol=1e-5, atol=1e-5)


# --- a class attribute read through an argument ---------------------------------------------------
# An argument's kind holds its own attributes, not its class's: ``m.X`` of a class attribute holding a
# formatted dlarray was taken as unformatted (fullyconnect's gradient permuted), and rebinding it on the
# class recompiled nothing.

class Holder:
    X = dlarray(A.reshape(2, 12))

    def __init__(self):
        self.b = B


def fc_of_class_attribute(w, m):
    return np.sum(stripdims(fullyconnect(m.X, w, m.b)) ** 3)


def test_class_attribute_through_an_argument():
    m = Holder()

    def loss(w):
        return fc_of_class_attribute(w, m)

    def f(w, m):
        L = fc_of_class_attribute(w, m)
        return L, dlgradient(L, w)

    L, g = dlfeval(f, dlarray(W), m)
    value, grad = _expected(loss, W)
    np.testing.assert_allclose(_value(L), value, rtol=1e-12)
    np.testing.assert_allclose(np.asarray(g.data), grad, rtol=1e-5, atol=1e-5)
    Holder.X = dlarray(A, "BSC")
    try:
        with pytest.raises(EvaluationError, match="formatted dlarray"):
            dlfeval(f, dlarray(W), m)
    finally:
        Holder.X = dlarray(A.reshape(2, 12))
    L, g = dlfeval(f, dlarray(W), m)
    np.testing.assert_allclose(np.asarray(g.data), grad, rtol=1e-5, atol=1e-5)


class Slotted:
    """An argument whose kind is its class alone (``__slots__``): its attributes are not followed."""
    __slots__ = ("X", "b")

    def __init__(self, X):
        self.X = X
        self.b = B


def test_slotted_argument_holding_formatted_data():
    def f(w, m):
        L = np.sum(stripdims(fullyconnect(m.X, w, m.b)) ** 3)
        return L, dlgradient(L, w)

    plain = np.asarray(A.reshape(2, 12))
    L, g = dlfeval(f, dlarray(W), Slotted(plain))
    value, grad = _expected(lambda w: np.sum(stripdims(fullyconnect(dlarray(plain), w, B)) ** 3), W)
    np.testing.assert_allclose(_value(L), value, rtol=1e-12)
    np.testing.assert_allclose(np.asarray(g.data), grad, rtol=1e-5, atol=1e-5)
    with pytest.raises(EvaluationError, match="formatted dlarray"):      # was: a permuted gradient
        dlfeval(f, dlarray(W), Slotted(dlarray(A, "BSC")))


def test_accelerated_function_default_made_complex_between_calls():
    from sct import dlaccelerate

    def loss(x, cfg=CFG):
        y = np.sum(np.abs(x * cfg["k"]) ** 2)
        return y, dlgradient(y, x)
    acc = dlaccelerate(loss)
    try:
        for k in (np.array([1.0, 2.0, 3.0]), np.array([1.0 + 1j, 2.0, 3.0 - 2j])):
            CFG["k"] = k
            y, g = dlfeval(acc, dlarray(X3))
            np.testing.assert_allclose(_value(y), abs_sq_default(X3), rtol=1e-12)
            expected = numerical_gradient(abs_sq_default, [X3], 0)
            np.testing.assert_allclose(np.asarray(g.data), expected, rtol=1e-5, atol=1e-6)
    finally:
        CFG["k"] = np.array([1.0, 2.0, 3.0])


# --- a formatted dlarray in an attribute of an argument's object ----------------------------------
# Objects are not unwrapped when the code runs (a dict's or list's dlarrays are): ``data.X`` reached the
# code as the dlarray itself, so ``stripdims(data.X)``, compiled away, left its labels to ``softmax``,
# which read them ("SCB": the softmax over axis 1 where the code's derivative was over the last axis):
# 94.29 for 70.60, and a wrong gradient; ``fullyconnect(data.X, w, b)`` was refused as lost labels.
# Now such a read gives the code the dlarray's data (rt.dlarray_of, differentiable).

TW = np.arange(24.0).reshape(2, 3, 4) / 7


class Batch:
    pass


def softmax_of_stripped(X):
    return np.sum(stripdims(softmax(stripdims(X) * 1.5)) * TW) + np.sum(stripdims(softmax(X)) * TW)


def _batch(fmt, a=A):
    b = Batch()
    b.X = dlarray(a, fmt)
    return b


def _fd_of_data(fmt):
    return numerical_gradient(lambda a: _value(softmax_of_stripped(dlarray(a, fmt))), [A], 0)


@pytest.mark.parametrize("fmt", ["SCB", "BSC", "CBS"])
def test_object_argument_formatted_attribute(fmt):
    def wrt_object(b):
        L = softmax_of_stripped(b.X)
        return L, dlgradient(L, b)

    def wrt_attribute(b):
        X = b.X
        L = softmax_of_stripped(X)
        return L, dlgradient(L, X)

    def constant_data(w, b):
        L = np.sum(stripdims(softmax(stripdims(b.X) * w)) * TW)
        return L, dlgradient(L, w)

    expected = _value(softmax_of_stripped(dlarray(A, fmt)))
    grad = _fd_of_data(fmt)
    L, g = dlfeval(wrt_object, _batch(fmt))
    np.testing.assert_allclose(_value(L), expected, rtol=1e-12)
    np.testing.assert_allclose(np.asarray(g.X.data), grad, rtol=1e-5, atol=1e-6)
    L, g = dlfeval(wrt_attribute, _batch(fmt))
    np.testing.assert_allclose(_value(L), expected, rtol=1e-12)
    np.testing.assert_allclose(np.asarray(g.data), grad, rtol=1e-5, atol=1e-6)
    w = np.array(1.3)
    L, g = dlfeval(constant_data, dlarray(w), _batch(fmt))
    f = lambda v: _value(np.sum(stripdims(softmax(stripdims(dlarray(A, fmt)) * v)) * TW))
    np.testing.assert_allclose(_value(L), f(w), rtol=1e-12)
    np.testing.assert_allclose(np.asarray(g.data), numerical_gradient(f, [w], 0), rtol=1e-5, atol=1e-6)


def test_object_argument_formatted_attribute_fullyconnect():
    """Was refused (its input taken for lost labels): MATLAB's flattening of "BSC", value and gradient."""
    def f(w, b):
        L = np.sum(stripdims(fullyconnect(b.X, w, B)) ** 3)
        return L, dlgradient(L, w)
    L, g = dlfeval(f, dlarray(W), _batch("BSC"))
    value, grad = _expected(lambda w: np.sum(stripdims(fullyconnect(dlarray(A, "BSC"), w, B)) ** 3), W)
    np.testing.assert_allclose(_value(L), value, rtol=1e-12)
    np.testing.assert_allclose(np.asarray(g.data), grad, rtol=1e-5, atol=1e-5)


def loop_over_attribute(w, data):
    acc = 0.0
    for X in data.xs:
        acc = acc + np.sum(stripdims(softmax(stripdims(X) * w)) * TW)
    return acc


def item_of_attribute(w, data):
    i = 0
    return np.sum(stripdims(softmax(stripdims(data.xs[i]) * w)) * TW)


def dict_item_of_attribute(w, data):
    return np.sum(stripdims(softmax(stripdims(data.d["X"]) * w)) * TW)


def unpacked_attribute(w, data):
    X, = data.xs
    return np.sum(stripdims(softmax(stripdims(X) * w)) * TW)


def nested_attribute(w, data):
    return np.sum(stripdims(softmax(stripdims(data.sub.X) * w)) * TW)


def _data_object():
    d = Batch()
    d.xs = [dlarray(A, "SCB")]
    d.d = {"X": dlarray(A, "SCB")}
    d.sub = Batch()
    d.sub.X = dlarray(A, "SCB")
    return d


def entry_item_of_attribute(w, data):
    L = item_of_attribute(w, data)
    return L, dlgradient(L, w)


def entry_dict_item_of_attribute(w, data):
    L = dict_item_of_attribute(w, data)
    return L, dlgradient(L, w)


def entry_unpacked_attribute(w, data):
    L = unpacked_attribute(w, data)
    return L, dlgradient(L, w)


def entry_nested_attribute(w, data):
    L = nested_attribute(w, data)
    return L, dlgradient(L, w)


def entry_loop_over_attribute(w, data):
    L = loop_over_attribute(w, data)
    return L, dlgradient(L, w)


@pytest.mark.parametrize("entry, loss", [(entry_item_of_attribute, item_of_attribute),
                                         (entry_dict_item_of_attribute, dict_item_of_attribute),
                                         (entry_unpacked_attribute, unpacked_attribute),
                                         (entry_nested_attribute, nested_attribute)],
                         ids=lambda f: f.__name__)
def test_parts_of_an_argument_object_formatted(entry, loss):
    """Were 13.55 for 10.15 (the labels left to softmax after stripdims)."""
    d = _data_object()
    w = np.array(1.3)
    L, g = dlfeval(entry, dlarray(w), d)
    ref = lambda v: _value(loss(v, d))
    np.testing.assert_allclose(_value(L), ref(w), rtol=1e-12)
    np.testing.assert_allclose(np.asarray(g.data), numerical_gradient(ref, [w], 0), rtol=1e-5, atol=1e-6)


def test_loop_over_an_argument_objects_formatted_list():
    """The items of a for loop over an object's list, read by their labels (was: 13.55 for 10.15)."""
    d = _data_object()
    w = np.array(1.3)
    L, g = dlfeval(entry_loop_over_attribute, dlarray(w), d)
    ref = lambda v: _value(loop_over_attribute(v, d))
    np.testing.assert_allclose(_value(L), ref(w), rtol=1e-12)
    np.testing.assert_allclose(np.asarray(g.data), numerical_gradient(ref, [w], 0), rtol=1e-5, atol=1e-6)


def next_of_attribute(w, data):
    X = next(iter(data.xs))
    return np.sum(stripdims(softmax(stripdims(X) * w)) * TW)


def get_of_attribute(w, data):
    X = data.d.get("X")
    return np.sum(stripdims(softmax(stripdims(X) * w)) * TW)


def copy_of_attribute(w, data):
    X = data.xs.copy()[0]
    return np.sum(stripdims(softmax(stripdims(X) * w)) * TW)


def vars_of_argument(w, data):
    X = vars(data)["sub"].X
    return np.sum(stripdims(softmax(stripdims(X) * w)) * TW)


def entry_next_of_attribute(w, data):
    L = next_of_attribute(w, data)
    return L, dlgradient(L, w)


def entry_get_of_attribute(w, data):
    L = get_of_attribute(w, data)
    return L, dlgradient(L, w)


def entry_copy_of_attribute(w, data):
    L = copy_of_attribute(w, data)
    return L, dlgradient(L, w)


def entry_vars_of_argument(w, data):
    L = vars_of_argument(w, data)
    return L, dlgradient(L, w)


@pytest.mark.parametrize("entry", [entry_next_of_attribute, entry_get_of_attribute,
                                   entry_vars_of_argument], ids=lambda f: f.__name__)
def test_parts_not_followed_refused(entry):
    """Where the format pass does not follow a part of an argument's object (next(iter(...)), d.get, a
    copy, vars()), a formatted dlarray there is refused when the code runs (was: 13.55 for 10.15)."""
    with pytest.raises(EvaluationError, match="formatted dlarray"):
        dlfeval(entry, dlarray(np.array(1.3)), _data_object())


def test_copy_of_an_attributes_list_is_followed():
    """``data.xs.copy()[0]``: the copy keeps its items' labels (red team V's change, merged with this
    file's), so the item is read by its labels, as Python does: the value and gradient of plain Python
    (was refused here before the two met; 13.55 for 10.15 before either)."""
    w = 1.3
    L, g = dlfeval(entry_copy_of_attribute, dlarray(np.array(w)), _data_object())
    expected = float(copy_of_attribute(dlarray(np.array(w)), _data_object()).data)
    assert abs(float(L.data) - expected) < 1e-12 * max(1.0, abs(expected))
    eps = 1e-6
    num = (float(copy_of_attribute(dlarray(np.array(w + eps)), _data_object()).data) -
           float(copy_of_attribute(dlarray(np.array(w - eps)), _data_object()).data)) / (2 * eps)
    assert abs(float(g.data) - num) < 1e-6


HOOKS = {}


def _record(log, v):
    log.append(v)


def appends_to_its_default(x, log=[]):            # noqa: B006 (the pattern under test)
    y = np.sum(x ** 2)
    log.append(float(len(log)))
    HOOKS["record"](log, 1.0)                        # user code sct runs as it is: rechecked after the run
    return y, dlgradient(y, x)


def test_function_filling_its_default_list():
    """The check after a run does not take the function's own writes into its default for a rebinding
    (the kinds of defaults are checked before a run only); each call's values are Python's."""
    HOOKS["record"] = _record
    log = appends_to_its_default.__defaults__[0]
    log.clear()
    for i in range(3):
        y, g = dlfeval(appends_to_its_default, dlarray(X3))
        np.testing.assert_allclose(_value(y), np.sum(X3 ** 2), rtol=1e-12)
        np.testing.assert_allclose(np.asarray(g.data), 2 * X3, rtol=1e-12)
        assert len(log) == 2 * (i + 1)
