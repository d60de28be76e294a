"""Red team zerod (s41): values read from an argument's container (a dataclass's or object's field, an item
of one), which generated code holds as the dlarray it is where Python sees a numpy array or scalar, tested
the way users write them: type tests and text of such values, in the function dlfeval runs and in a helper
whose result is differentiated.  Each test compares the value with plain Python's (the same function on the
numpy structure) and the gradient with central differences.
"""
from dataclasses import dataclass

import numpy as np

from gradcheck import assert_close, numerical_gradient
from sct import dlarray, dlfeval, dlgradient, extractdata


@dataclass
class Params:
    b: np.ndarray
    w: np.ndarray


class Layer:
    def __init__(self, b, w):
        self.b = b
        self.w = w


def _inputs():
    rng = np.random.default_rng(41)
    return rng.standard_normal(3), rng.standard_normal(3) * 0.5 + 0.3, rng.standard_normal(3)


def _check(fun, wrapper, cls=Params, types=False):
    """wrapper(x, p) -> (fun's outputs, (d/dx, d/dp)); fun(x, p)[0] is the scalar differentiated.  ``types``:
    the other outputs are type tests, answered as Python's run of ``fun`` on the same dlarrays answers (isi56:
    were numpy's answers, as for numpy's arrays)."""
    x, b, w = _inputs()
    out, (gx, gp) = dlfeval(wrapper, dlarray(x.copy()), cls(dlarray(b.copy()), dlarray(w.copy())))
    expected = fun(x.copy(), cls(b.copy(), w.copy()))
    assert_close(out[0].data, expected[0], rtol=1e-12, atol=1e-12, what="value")
    if types:
        expected = fun(dlarray(x.copy()), cls(dlarray(b.copy()), dlarray(w.copy())))
    for got, want in zip(out[1:], expected[1:]):
        assert type(got) is type(want) and got == want, f"{got!r} != Python's {want!r}"
    assert_close(gx.data, numerical_gradient(lambda v: fun(v, cls(b.copy(), w.copy()))[0], [x.copy()], 0),
                 what="d/dx")
    assert_close(gp.b.data, numerical_gradient(lambda v: fun(x.copy(), cls(v, w.copy()))[0], [b.copy()], 0),
                 what="d/db")


# --- 1. type(v) in a helper whose result is differentiated ----------------------------------------------
# Refused: "no derivative rule for type": the helper's pair differentiates through its result tuple, and
# `type` (one argument: a class; no derivative) had no entry among the nondifferentiable builtins, as
# isinstance has (runtime/numpy_ops.py).  The function dlfeval runs itself took it (type_as_numpy).

def typed_helper(x, p):
    s = p.b[0]
    n = type(s).__name__
    k = type(p.b[1:]).__name__
    y = np.sum(x) * s
    return y, n, k


def typed_helper_caller(x, p):
    out = typed_helper(x, p)
    return out, dlgradient(out[0], x, p)


def test_type_of_field_item_in_a_differentiated_helper():
    _check(typed_helper, typed_helper_caller, types=True)


# --- 2. np.isscalar in a helper whose result is differentiated ------------------------------------------
# Crash: "NameError: name 'isscalar_bwd' is not defined".  np.isscalar is a Python function of numpy's, so
# the helper's pair got a vjp call for it, while the forward code ran it as rt.isscalar_as_numpy and never
# defined the pair the reverse code called.  np.isscalar is now nondifferentiable (runtime/numpy_ops.py).

def isscalar_helper(x, p):
    s = p.b[0]
    r = np.isscalar(s)
    q = np.isscalar(p.w)
    y = np.sum(x * p.w) * s
    return y, r, q


def isscalar_helper_caller(x, p):
    out = isscalar_helper(x, p)
    return out, dlgradient(out[0], x, p)


def test_isscalar_of_field_item_in_a_differentiated_helper():
    _check(isscalar_helper, isscalar_helper_caller, types=True)


def test_isscalar_of_argument_item_in_a_differentiated_helper():
    def helper(x):
        s = x[0]
        return np.sum(x) * s, np.isscalar(s)

    def caller(x):
        out = helper(x)
        return out, dlgradient(out[0], x)
    x, _, _ = _inputs()
    (y, flag), g = dlfeval(caller, dlarray(x.copy()))
    assert flag is helper(dlarray(x.copy()))[1] is False     # (Python's: x[0] of a dlarray is a 0-d dlarray)
    assert_close(y.data, helper(x.copy())[0], rtol=1e-12, atol=1e-12)
    assert_close(g.data, numerical_gradient(lambda v: helper(v)[0], [x.copy()], 0))


# --- 3. text of a field's item: str, repr, f-string, "%s", format() -------------------------------------
# WRONG value: the text was the dlarray's display ('  1x1 dlarray\n\n    0.5410\n') where Python gives numpy's
# ('0.5409726942533929'): a dataclass's (an object's) field is read as the dlarray it is, its item a 0-d
# dlarray.  (A dict's items are unwrapped at the entry: right there.)  str/repr/ascii/format of a value and
# the values an f-string or "..." % shows are now read as numpy's (rt.str_as_numpy, rt.text_operand), and
# so are those a str's method is given ("{}".format(v) of a traced v: its constant pair, transform_calls).

def texts(x, p):
    s = p.b[0]
    q = p.w[1]
    y = np.sum(x) * s + q
    return (y, f"{s}", str(s), repr(q), "%s|%s" % (s, q), format(s), f"{p.w}", str(p.b), "%s" % s, f"{s!r}",
            "{} {}".format(s, q))


def texts_caller(x, p):
    out = texts(x, p)
    return out, dlgradient(out[0], x, p)


def texts_entry(x, p):
    s = p.b[0]
    q = p.w[1]
    y = np.sum(x) * s + q
    return (y, f"{s}", str(s), repr(q), "%s|%s" % (s, q), format(s), f"{p.w}", str(p.b), "%s" % s,
            f"{s!r}", "{} {}".format(s, q)), dlgradient(y, x, p)


def test_text_of_dataclass_field_items():
    _check(texts, texts_entry)


def test_text_of_object_field_items():
    _check(texts, texts_entry, cls=Layer)


def test_text_of_field_items_in_a_differentiated_helper():
    _check(texts, texts_caller)


def test_text_of_float32_field_items():
    x, b, w = _inputs()
    x, b, w = x.astype(np.float32), b.astype(np.float32), w.astype(np.float32)
    out, _ = dlfeval(texts_entry, dlarray(x.copy()), Params(dlarray(b.copy()), dlarray(w.copy())))
    expected = texts(x.copy(), Params(b.copy(), w.copy()))
    assert out[0].data.dtype == np.float32
    assert out[1:] == expected[1:]


# --- 4. print of a field's item --------------------------------------------------------------------------
# WRONG output: print(p.b[0]) printed the dlarray's display where Python prints numpy's scalar.

def printing(x, p):
    s = p.b[0]
    print("s", s, p.w)
    y = np.sum(x) * s
    return y, dlgradient(y, x)


def test_print_of_field_item(capsys):
    x, b, w = _inputs()
    dlfeval(printing, dlarray(x.copy()), Params(dlarray(b.copy()), dlarray(w.copy())))
    got = capsys.readouterr().out
    print("s", b[0], w)
    assert got == capsys.readouterr().out


# --- 5. forward mode: type tests of a closure's object fields -------------------------------------------
# WRONG value and tangent: sct.jvp's code (sct/tangent.py) ran type(v) / isinstance / np.isscalar as
# written, where reverse mode runs rt.type_as_numpy & co.: `type(s) is np.float64` of s = m.W[0] +
# np.sin(1.5) (float32 item + numpy float64: float64 in Python) was False for the 0-d dlarray, another
# branch: 0.8985 where Python gives 14.376.  Forward mode now shares reverse mode's type tests and text.

def branches_on_types(x, m):
    s = m.W[0]
    s = s + np.sin(1.5)
    a = 2.0 if type(s) is np.float64 else 1.0
    b = 2.0 if isinstance(m.w, np.ndarray) else 1.0
    c = 2.0 if np.isscalar(s) else 1.0
    d = 2.0 if type(m.b) is np.ndarray else 1.0
    return np.sum(x) * s * a * b * c * d


@dataclass
class Model:
    W: np.ndarray
    b: np.ndarray
    w: np.ndarray


def test_jvp_type_tests_of_closure_fields():
    from sct import jvp
    W = np.array([0.5, -0.3, 0.8], np.float32)
    m = Model(dlarray(W.copy()), dlarray(np.ones(3, np.float32)), dlarray(np.ones(3, np.float32)))
    plain = Model(W.copy(), np.ones(3, np.float32), np.ones(3, np.float32))
    # (isi56: Python's run on m's dlarrays, where each test answers as for a dlarray: factor 1, where numpy's
    # arrays give 16; f"{s}" dropped, the text of a dlarray being numpy's text in sct's code)
    py = lambda z: float(extractdata(branches_on_types(z, m)))     # noqa: E731
    x, v = np.array([0.1, 0.2, 0.3]), np.array([1.0, -0.5, 2.0])
    y, t = jvp(lambda z: branches_on_types(z, m), (x.copy(),), (v,))
    expected = py(x.copy())
    assert_close(np.asarray(y), expected, rtol=1e-6, atol=1e-7, what="value")
    step = 1e-6
    fd = (py(x + step * v) - py(x - step * v)) / (2 * step)
    assert_close(np.asarray(t), fd, rtol=1e-6, atol=1e-7, what="tangent")
    # and reverse mode, the same function
    y2, g = dlfeval(_grad_of_x, dlarray(x.copy()), m)
    assert_close(y2.data, expected, rtol=1e-6, atol=1e-7, what="reverse value")
    assert_close(g.data, numerical_gradient(py, [x.copy()], 0), what="d/dx")


def _grad_of_x(x, m):
    y = branches_on_types(x, m)
    return y, dlgradient(y, x)


# --- 6. an element of a list argument's array, then += ----------------------------------------------------
# False refusal: "`s += ...` changes the array (or list) s holds in place, and s may be an object f() did
# not create (s is a view or an item of p[1])": s = p[1][0] of a list [W, b, w] of arrays is a number in
# Python (+= rebinds it), as p["b"][0] of a dict is (sct/points_to.py item_rank: the rank of a list or
# tuple argument's item, where the function reads the argument only by constant index).

def list_item_element(x, p):
    s = p[1][0]
    s += np.sum(x)
    t = p[0][1, 2]
    t *= 2.0
    a, b, c = p[1]
    a += 1.0
    return s * t + a * b + c + np.sum(p[2] * x)


def list_item_element_grads(x, p):
    y = list_item_element(x, p)
    return y, dlgradient(y, x, p)


def test_element_of_list_argument_item_augmented():
    rng = np.random.default_rng(5)
    x, arrs = rng.standard_normal(4), [rng.standard_normal((3, 4)), rng.standard_normal(3), rng.standard_normal(4)]
    y, (gx, gp) = dlfeval(list_item_element_grads, dlarray(x.copy()), [dlarray(a.copy()) for a in arrs])
    assert_close(y.data, list_item_element(x.copy(), [a.copy() for a in arrs]), rtol=1e-12, atol=1e-12)
    assert_close(gx.data, numerical_gradient(lambda v: list_item_element(v, [a.copy() for a in arrs]),
                                             [x.copy()], 0), what="d/dx")
    for k in range(3):
        def f_k(v, k=k):
            items = [a.copy() for a in arrs]
            items[k] = v
            return list_item_element(x.copy(), items)
        assert_close(gp[k].data, numerical_gradient(f_k, [arrs[k].copy()], 0), what=f"d/dp[{k}]")
    # the caller's arrays are unchanged, as in Python (+= rebinds the numbers)
    p = [dlarray(a.copy()) for a in arrs]
    dlfeval(list_item_element_grads, dlarray(x.copy()), p)
    for a, d in zip(arrs, p):
        assert np.array_equal(d.data, a)


def list_method_called(x, p):
    p.reverse()
    s = p[1][0]
    s += np.sum(x)
    return s


def test_list_argument_whose_method_is_called_is_not_read_by_rank():
    # p.reverse() changes what p[1] is: no rank is read for it (refused as before, or right)
    rng = np.random.default_rng(6)
    x = rng.standard_normal(3)
    arrs = [rng.standard_normal(3), rng.standard_normal((2, 3)), rng.standard_normal(3)]

    def run(x, p):
        y = list_method_called(x, p)
        return y, dlgradient(y, x)
    import sct
    try:
        y, g = dlfeval(run, dlarray(x.copy()), [dlarray(a.copy()) for a in arrs])
    except sct.SctError:
        return
    expected = list_method_called(x.copy(), [a.copy() for a in arrs])
    assert_close(y.data, expected, rtol=1e-12, atol=1e-12)


# --- 7. type tests of a 0-d dlarray field -------------------------------------------------------------------
# WRONG value: isinstance(m.s, np.ndarray) of a dataclass's 0-d field dlarray(0.5) was False (rt.isinstance_as_
# numpy reads every 0-d dlarray as numpy's scalar, as an item or a reduction of an array is), where Python's
# object holds a 0-d array: True, the other branch (0.3 where Python gives 0.6).  A type test of a name bound
# to an object argument's field, never set in the function, reads the field's data as it is
# (rt.isinstance_of_field & co.; forward_code._object_field).

@dataclass
class Scaled:
    s: np.ndarray
    w: np.ndarray


def zero_d_field_types(x, m):
    k = 2.0 if isinstance(m.s, np.ndarray) else 1.0
    j = 3.0 if type(m.s) is np.ndarray else 1.0
    i = 5.0 if np.isscalar(m.s) else 1.0
    t = m.w[0]
    n = 7.0 if isinstance(t, np.ndarray) else 1.0    # an item: numpy's scalar, as before
    return np.sum(x * m.w) * k * j * i * n * m.s


def zero_d_field_types_grads(x, m):
    y = zero_d_field_types(x, m)
    return y, dlgradient(y, x, m)


def test_type_tests_of_zero_d_field():
    x, w = np.array([0.1, 0.2, 0.3]), np.array([0.5, -1.0, 2.0])
    for dt in (np.float64, np.float32):
        y, (gx, gm) = dlfeval(zero_d_field_types_grads, dlarray(x.astype(dt)),
                              Scaled(dlarray(np.array(0.5, dt)), dlarray(w.astype(dt))))
        # (isi56: Python's run on the same dlarrays: each test answers as for a dlarray, factor 1)
        expected = extractdata(zero_d_field_types(dlarray(x.astype(dt)), Scaled(dlarray(np.array(0.5, dt)),
                                                                                 dlarray(w.astype(dt)))))
        assert y.data.dtype == np.asarray(expected).dtype
        assert_close(y.data, expected, rtol=1e-6, atol=1e-6, what="value")
    f_s = lambda s: float(extractdata(zero_d_field_types(dlarray(x.copy()), Scaled(dlarray(s),  # noqa: E731
                                                                                    dlarray(w.copy())))))
    y, (gx, gm) = dlfeval(zero_d_field_types_grads, dlarray(x.copy()), Scaled(dlarray(np.array(0.5)), dlarray(w.copy())))
    assert_close(gm.s.data, numerical_gradient(f_s, [np.array(0.5)], 0), what="d/ds")
    assert_close(gx.data, numerical_gradient(lambda v: float(extractdata(zero_d_field_types(
        dlarray(v), Scaled(dlarray(np.array(0.5)), dlarray(w.copy()))))), [x.copy()], 0), what="d/dx")
