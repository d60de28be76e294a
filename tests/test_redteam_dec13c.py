"""Red team (dec13c): MATLAB's formatted-dlarray semantics inside dlfeval where a formatted value comes
from outside the arguments.

MATLAB keeps every formatted dlarray in one order and lines operands up label by label, so a model
function that reads formatted data captured by a nested or anonymous function (a global, a closure's
value, a namespace's attribute) computes with aligned operands.  sct follows labels when it compiles
the function; values from outside the arguments were taken as unformatted there, so ``X - T`` of a "CB"
argument and a "BC" global was computed unaligned: another value and another gradient (square data: no
error at all).  Now such values are read by their labels (or refused where they can change unseen),
and a call sct does not read in place that returns a formatted dlarray is refused when it runs.
Values are checked against numpy, gradients against central differences (tests/gradcheck.py).
"""
import functools
import types

import numpy as np
import pytest

import sct
from sct import crossentropy, dims, dlarray, dlfeval, dlgradient, extractdata, finddim, softmax, stripdims
from tests.gradcheck import assert_close, numerical_gradient

rng = np.random.default_rng(1313)
x = rng.standard_normal((3, 3))          # square: unaligned operands raise no broadcasting error
t = rng.standard_normal((3, 3))
W = np.arange(9.0).reshape(3, 3)


def plain(a):                             # numpy: X "CB" is a, T "BC" is t, so T in X's order is t.T
    return np.sum((a - t.T) ** 2 * W)


EXPECTED = plain(x)
EXPECTED_GRAD = numerical_gradient(plain, [x.copy()], 0)

T_GLOBAL = dlarray(t, "BC")
NS = types.SimpleNamespace(T=dlarray(t, "BC"))
D_GLOBAL = {"T": dlarray(t, "BC")}


def from_global(X):
    y = np.sum((X - T_GLOBAL) ** 2 * W)
    return y, dlgradient(y, X)


def from_namespace(X):
    y = np.sum((X - NS.T) ** 2 * W)
    return y, dlgradient(y, X)


def make_closure():
    T = dlarray(t, "BC")

    def from_closure(X):
        y = np.sum((X - T) ** 2 * W)
        return y, dlgradient(y, X)
    return from_closure


def lambda_reading_global(X):
    shift = lambda z: z - T_GLOBAL             # noqa: E731  (MATLAB's @(z) z - T)
    y = np.sum(shift(X) ** 2 * W)
    return y, dlgradient(y, X)


@pytest.mark.parametrize("fun", [from_global, from_namespace, make_closure(), lambda_reading_global],
                         ids=["global", "namespace attribute", "closure", "lambda"])
def test_outside_formatted_operand_is_aligned(fun):
    X = dlarray(x, "CB")
    y, g = dlfeval(fun, X)
    assert_close(extractdata(y), EXPECTED, rtol=1e-12, what="value")
    assert dims(g) == "CB"
    assert_close(extractdata(g), EXPECTED_GRAD, what="gradient")
    # the same function outside dlfeval (no dlgradient there): MATLAB's aligned value
    assert_close(extractdata(np.sum(stripdims(X - T_GLOBAL) ** 2 * W)), EXPECTED, rtol=1e-12)


def test_rebinding_the_global_recompiles():
    global T_GLOBAL
    X = dlarray(x, "CB")
    saved = T_GLOBAL
    try:
        y1, _ = dlfeval(from_global, X)
        T_GLOBAL = dlarray(t.T.copy(), "CB")      # the same values in the other order
        y2, g2 = dlfeval(from_global, X)
        T_GLOBAL = dlarray(2 * t, "BC")           # other values, the first order: read when it runs
        y3, _ = dlfeval(from_global, X)
    finally:
        T_GLOBAL = saved
    assert_close(extractdata(y1), EXPECTED, rtol=1e-12)
    assert_close(extractdata(y2), EXPECTED, rtol=1e-12)
    assert_close(extractdata(g2), EXPECTED_GRAD)
    assert_close(extractdata(y3), np.sum((x - 2 * t.T) ** 2 * W), rtol=1e-12)


TARGETS = dlarray(np.eye(4)[rng.integers(0, 4, 3)], "BC")      # one-hot, held in the other order


def loss_with_global_targets(Y):
    loss = crossentropy(softmax(Y), TARGETS)
    return loss, dlgradient(loss, Y)


def test_crossentropy_with_global_targets_in_the_other_order():
    y = rng.standard_normal((4, 3))                                # "CB"
    tt = extractdata(TARGETS).T

    def ref(a):
        e = np.exp(a - a.max(0))
        return -np.sum(tt * np.log(e / e.sum(0))) / 3
    loss, g = dlfeval(loss_with_global_targets, dlarray(y, "CB"))
    assert_close(extractdata(loss), ref(y), rtol=1e-12)
    assert_close(extractdata(g), numerical_gradient(ref, [y.copy()], 0))


def global_dict_item(X):
    y = np.sum((X - D_GLOBAL["T"]) ** 2 * W)
    return y, dlgradient(y, X)


def test_formatted_item_of_an_outside_dict_refused():
    with pytest.raises(sct.CompileError, match="item of a list or dict outside the function") as info:
        dlfeval(global_dict_item, dlarray(x, "CB"))
    assert info.value.lineno == global_dict_item.__code__.co_firstlineno + 1


def differentiate_a_global(X):
    z = np.sum(X * T_GLOBAL)
    return dlgradient(z, T_GLOBAL)


def test_gradient_with_respect_to_a_global_names_it():
    with pytest.raises(sct.CompileError, match="'T_GLOBAL': it is a value from outside"):
        dlfeval(differentiate_a_global, dlarray(x, "CB"))


def item_picked_at_run_time(X, ts, i):
    T = ts[i]
    y = np.sum((X - T) ** 2 * W)
    return y, dlgradient(y, X)


def test_item_of_differently_formatted_list_refused_not_unaligned():
    ts = [dlarray(t, "BC"), dlarray(t.T.copy(), "CB")]
    for i in (0, 1):
        with pytest.raises(sct.CompileError, match="labels of an operand of this elementwise operation"):
            dlfeval(item_picked_at_run_time, dlarray(x, "CB"), ts, i)
    # items of one format: aligned by it
    y, g = dlfeval(item_picked_at_run_time, dlarray(x, "CB"), [dlarray(t, "BC"), dlarray(t, "BC")], 1)
    assert_close(extractdata(y), EXPECTED, rtol=1e-12)
    assert_close(extractdata(g), EXPECTED_GRAD)


def first_of(X, ts):
    T = next(iter(ts))
    y = np.sum((X - T) ** 2 * W)
    return y, dlgradient(y, X)


def test_next_of_iter_keeps_the_items_format():
    y, g = dlfeval(first_of, dlarray(x, "CB"), [dlarray(t, "BC")])
    assert_close(extractdata(y), EXPECTED, rtol=1e-12)
    assert_close(extractdata(g), EXPECTED_GRAD)


make_targets = lambda a: dlarray(a, "BC")            # noqa: E731
partial_targets = functools.partial(dlarray, fmt="BC")


class Box:
    def __init__(self, a):
        self.a = a

    def get(self):
        return dlarray(self.a, "BC")


def from_lambda(X, a):
    T = make_targets(a)
    y = np.sum((X - T) ** 2 * W)
    return y, dlgradient(y, X)


def from_partial(X, a):
    T = partial_targets(a)
    y = np.sum((X - T) ** 2 * W)
    return y, dlgradient(y, X)


def from_method(X, box):
    T = box.get()
    y = np.sum((X - T) ** 2 * W)
    return y, dlgradient(y, X)


make_nested = lambda a: [{"T": dlarray(a, "BC")}]     # noqa: E731


def from_nested(X, a):
    items = make_nested(a)
    y = np.sum((X - items[0]["T"]) ** 2 * W)
    return y, dlgradient(y, X)


@pytest.mark.parametrize("fun, arg", [(from_lambda, t), (from_partial, t), (from_method, Box(t)), (from_nested, t)],
                         ids=["lambda", "partial", "method", "nested containers"])
def test_formatted_result_of_a_call_not_read_in_place_refused(fun, arg):
    with pytest.raises(sct.EvaluationError, match=r"returned a formatted dlarray \('BC'\)") as info:
        dlfeval(fun, dlarray(x, "CB"), arg)
    assert info.value.lineno == fun.__code__.co_firstlineno + 1


def unformatted_from_lambda(X, a):
    T = make_plain(a)
    y = np.sum((X - T) ** 2 * W)
    return y, dlgradient(y, X)


make_plain = lambda a: a.T                           # noqa: E731


def test_unformatted_result_of_such_a_call_still_runs():
    y, g = dlfeval(unformatted_from_lambda, dlarray(x, "CB"), t)
    assert_close(extractdata(y), EXPECTED, rtol=1e-12)
    assert_close(extractdata(g), EXPECTED_GRAD)


def accumulate(X):
    acc = 0.0
    for k in range(3):
        acc = acc + X[:, :, k]
    y = np.sum(stripdims(softmax(acc)) * W)
    return y, dlgradient(y, X)


def test_accumulating_loop_still_follows_the_format():
    x3 = rng.standard_normal((3, 3, 3))            # "CBT"

    def ref(a):
        s = a.sum(axis=2)
        e = np.exp(s - s.max(0))
        return np.sum(e / e.sum(0) * W)
    y, g = dlfeval(accumulate, dlarray(x3, "CBT"))
    assert_close(extractdata(y), ref(x3), rtol=1e-12)
    assert_close(extractdata(g), numerical_gradient(ref, [x3.copy()], 0))


# --- formats of values built in the function: lists, dicts, attributes, comprehensions -----------------


class Holder:
    pass


def attribute_written_then_read(X, h, T):
    h.T = T
    y = np.sum((X - h.T) ** 2 * W)
    return y, dlgradient(y, X)


def appended_then_read(X, T):
    xs = []
    xs.append(T)
    y = np.sum((X - xs[0]) ** 2 * W)
    return y, dlgradient(y, X)


def appended_through_a_second_name(X, T):
    xs = []
    ys = xs
    xs.append(T)
    y = np.sum((X - ys[0]) ** 2 * W)
    return y, dlgradient(y, X)


def test_values_kept_in_the_function_keep_their_labels():
    X, T = dlarray(x, "CB"), dlarray(t, "BC")
    for fun, args in ((attribute_written_then_read, (Holder(), T)), (appended_then_read, (T,)),
                      (appended_through_a_second_name, (T,))):
        y, g = dlfeval(fun, X, *args)
        assert_close(extractdata(y), EXPECTED, rtol=1e-12, what=fun.__name__)
        assert_close(extractdata(g), EXPECTED_GRAD, what=fun.__name__)


def appended_in_a_loop(X, T):
    xs = []
    for k in range(2):
        xs.append(T)
    y = np.sum((X - xs[-1]) ** 2 * W)
    return y, dlgradient(y, X)


def copied_by_a_comprehension(X, ts):
    zs = [z for z in ts]
    y = np.sum((X - zs[0]) ** 2 * W)
    return y, dlgradient(y, X)


def copied_by_a_dict_comprehension(X, d):
    e = {k: v for k, v in d.items()}
    y = np.sum((X - e["T"]) ** 2 * W)
    return y, dlgradient(y, X)


def labelled_by_branch(X, T, flag):
    if flag:
        Z = T
    else:
        Z = dlarray(stripdims(T).T, "CB")
    y = np.sum((X - Z) ** 2 * W)
    return y, dlgradient(y, X)


@pytest.mark.parametrize("fun, args", [
    (appended_in_a_loop, lambda T: (T,)),
    (copied_by_a_comprehension, lambda T: ([T],)),
    (copied_by_a_dict_comprehension, lambda T: ({"T": T},)),
    (labelled_by_branch, lambda T: (T, True)),
], ids=["list grown in a loop", "comprehension", "dict comprehension", "format differs by branch"])
def test_labels_not_known_when_compiled_refused_not_unaligned(fun, args):
    # each was computed unaligned before (another value, no error)
    with pytest.raises(sct.CompileError, match="labels of an operand of this elementwise operation are not known"):
        dlfeval(fun, dlarray(x, "CB"), *args(dlarray(t, "BC")))


def centred_by_a_computed_axis(X):
    c = finddim(X, "C")[0]
    Z = X - np.mean(X, axis=c, keepdims=True)
    return Z, dims(np.sum(X, axis=c, keepdims=True))


def test_keepdims_reduction_over_a_computed_axis_keeps_the_format():
    x4 = rng.standard_normal((3, 4, 2, 5))
    Z, d = dlfeval(centred_by_a_computed_axis, dlarray(x4, "SSCB"))
    assert d == "SSCB" and dims(Z) == "SSCB"         # as outside dlfeval (was unformatted inside)
    assert_close(extractdata(Z), x4 - x4.mean(axis=2, keepdims=True), rtol=1e-12)


# --- forward mode (jvp) and hvp of formatted primals ------------------------------------------------------

Wt = np.arange(12.0).reshape(3, 4)


def softmax_loss(X):
    return np.sum(stripdims(softmax(X)) * Wt)


def softmax_of(X):
    return softmax(X)


def plain_softmax(a):                     # "CB": over the first axis
    e = np.exp(a - a.max(0))
    return e / e.sum(0)


def test_jvp_follows_the_primals_labels():
    xc, v = rng.standard_normal((3, 4)), rng.standard_normal((3, 4))
    val, tan = sct.jvp(softmax_loss, (dlarray(xc, "CB"),), (v,))

    def plain(a):
        return np.sum(plain_softmax(a) * Wt)
    assert_close(extractdata(val), plain(xc), rtol=1e-12)          # was softmax over the last axis
    assert_close(extractdata(tan), (plain(xc + 1e-6 * v) - plain(xc - 1e-6 * v)) / 2e-6, rtol=1e-5)
    Y, dY = sct.jvp(softmax_of, (dlarray(xc, "CB"),), (v,))
    s = plain_softmax(xc)
    assert dims(Y) == "CB" and dims(dY) == "CB"
    assert_close(extractdata(Y), s, rtol=1e-12)
    assert_close(extractdata(dY), s * v - s * np.sum(s * v, axis=0), rtol=1e-10)


def test_hvp_and_transpose_mode_refuse_formatted_primals():
    xc, v = rng.standard_normal((3, 4)), rng.standard_normal((3, 4))
    with pytest.raises(sct.SctError, match=r"hvp: x is a formatted dlarray \('CB'\)"):
        sct.hvp(softmax_loss, dlarray(xc, "CB"), v)                # was another value
    with pytest.raises(sct.SctError, match="formatted dlarray"):
        sct.jvp(softmax_loss, (dlarray(xc, "CB"),), (v,), mode="transpose")
    assert_close(extractdata(sct.hvp(lambda a: np.sum(a ** 3), xc, v)), 6 * xc * v, rtol=1e-12)
