"""Findings of the user-style random-program tester scripts/fuzz7.py (red team gen, dec 7).

Each test runs a short program (minimised from a generated one) through dlfeval with dlgradient
and compares the value with plain Python and every gradient with central differences.
"""
from dataclasses import dataclass

import numpy as np
import pytest

from gradcheck import assert_close, numerical_gradient
from sct import dlarray, dlfeval, dlgradient


@dataclass
class Params:
    W: np.ndarray
    b: np.ndarray
    w: np.ndarray


def _inputs():
    rng = np.random.default_rng(7)
    x = rng.standard_normal(4)
    arrs = {"W": rng.standard_normal((3, 4)), "b": rng.standard_normal(3), "w": rng.standard_normal(4)}
    return x, arrs


def _value_and_gradients(fun, x, p):
    y = fun(x, p)
    return y, dlgradient(y, x, p)


def check(fun, style="dict"):
    """fun(x, p): the value as plain Python's, d/dx and d/dp (each array) as central differences."""
    x, arrs = _inputs()

    def build(a, dl):
        vals = {k: (dlarray(v.copy()) if dl else v.copy()) for k, v in a.items()}
        return vals if style == "dict" else Params(vals["W"], vals["b"], vals["w"])

    y, (gx, gp) = dlfeval(_value_and_gradients, fun, dlarray(x.copy()), build(arrs, True))
    assert_close(np.asarray(y.data), fun(x.copy(), build(arrs, False)), rtol=1e-12, atol=1e-12, what="value")
    assert_close(gx.data, numerical_gradient(lambda v: fun(v, build(arrs, False)), [x.copy()], 0), what="d/dx")
    for key in arrs:
        def f_key(v, key=key):
            a = dict(arrs)
            a[key] = v
            return fun(x.copy(), build(a, False))
        got = gp[key] if style == "dict" else getattr(gp, key)
        assert got.data.dtype == np.float64 and got.data.shape == arrs[key].shape
        assert_close(got.data, numerical_gradient(f_key, [arrs[key].copy()], 0), what=f"d/d{key}")


# --- 1. a buffer made by np.zeros_like of a dict's (dataclass's) array, written item by item -------
# Refused: "`out[...] *= ...` changes the array (or list) out[...] holds in place, and out may hold
# the same object at another place too (as `[a] * 2` does)".  np.zeros_like(p["w"]) was not known to
# be a numeric array (an argument's item read through a name bound to it: sct/points_to.py
# _numeric_expr), so out[i] was taken for an item of a container.

def zeros_like_item_loop(x, p):
    out = np.zeros_like(p["w"])
    for i in range(4):
        out[i] *= x[0]
        out[i] += x[i] * p["w"][i]
    if x[1] < -5:
        out = x
    return np.sum(out * out)


def zeros_like_field_loop(x, p):
    out = np.zeros_like(p.w)
    for i in range(4):
        out[i] += x[i] * p.w[i]
        out[i] *= p.b[i % 3]
    if x[1] < -5:
        out = x
    return np.sum(out ** 2)


def test_zeros_like_of_dict_item_written_by_items():
    check(zeros_like_item_loop)


def test_zeros_like_of_dataclass_field_written_by_items():
    check(zeros_like_field_loop, style="dc")


# --- 2. an element of a matrix (or of a dict's array) as a starting value, then += -----------------
# Refused: "`t += ...` changes the array (or list) t holds in place, and t may be an object f() did
# not create (t is a view or an item of W)".  W[0, 1] of a 2-D array is a number (numpy scalar): +=
# rebinds it.  Only x[i] of a 1-D argument was known to be a number (sct/points_to.py is_scalar_item:
# now as many integer indices as the array's rank, the rank also of an item of a dict or dataclass
# argument that the function only reads).

def matrix_element_accumulated(x, p):
    W = p["W"]
    t = W[0, 1]
    for i in range(3):
        t += x[i]
    return t * np.sum(W) + np.sum(x)


def dict_item_element(x, p):
    t = p["b"][-1]
    t *= 2.0
    return t * np.sum(x)


def unpacked_element(x, p):
    t, u = p["W"][0, 1], x
    t += 1.0
    return t * np.sum(u)


def fresh_matrix_element(x, p):
    h = np.tanh(p["W"])
    t = h[0, 1]
    t += 1.0
    return t * np.sum(h)


def field_element(x, p):
    t = p.W[1, 2]
    t *= 3.0
    return t * np.sum(x) + np.sum(p.W)


@pytest.mark.parametrize("fun", [matrix_element_accumulated, dict_item_element, unpacked_element,
                                 fresh_matrix_element])
def test_matrix_element_augmented(fun):
    check(fun)


def test_dataclass_field_element_augmented():
    check(field_element, style="dc")


# what must stay a view (or stay refused): a row of a matrix, an item the function replaced

def row_view_written(x, p):
    W = np.tanh(p["W"])
    t = W[0]
    t += x
    return np.sum(W * W)


def row_and_element(x, p):
    W = p["W"].copy()
    r = W[1]
    t = W[1, 2]
    r *= 2.0
    t += 1.0
    return np.sum(W ** 2) + t


def test_row_of_matrix_is_still_a_view():
    check(row_view_written)
    check(row_and_element)


def replaced_item(x, p):
    p["W"] = p["W"].reshape(2, 6)
    t = p["W"][0, 1]
    t += 1.0
    return t * np.sum(x) + np.sum(p["W"])


def test_replaced_item_is_not_read_by_its_kind():
    from sct import SctError
    with pytest.raises(SctError):
        check(replaced_item)


# --- 3. in-place writes into an array computed from an object's (dataclass's) float32 field ------
# WRONG dtype and value: `h = m.b * 1.0; h += np.cos(m.s) ** 2` gave a float64 loss where Python's
# is float32 (h keeps its dtype in place).  Generated code reads an object's field as the dlarray it
# is, and rt.inplace_result (the value after `t op= v`) and rt.setitem (`t[i] = v`) kept the dtype
# of a numpy array only (runtime/support.py).

class Holder:
    def __init__(self, W, b, s):
        self.W = W
        self.b = b
        self.s = s


@dataclass
class Fields:
    W: np.ndarray
    b: np.ndarray
    s: float


def aug_float64_scalar(x, m):
    h = m.b * 1.0
    h += np.cos(m.s) ** 2
    return np.sum(h * x[:3])


def item_float64_scalar(x, m):
    h = m.b * 1.0
    h[0] = np.cos(m.s)
    return np.sum(h * x[:3])


def slice_aug(x, m):
    h = m.b * 2.0
    h[1:] += np.float64(0.5) * m.s
    return np.sum(h * x[:3])


def column_mul(x, m):
    h = m.W * 1.0
    h[:, 1] *= np.float64(m.s)
    return np.sum(h @ x)


def zeros_like_field(x, m):
    h = np.zeros_like(m.b)
    for i in range(3):
        h[i] = np.float64(m.s) * i + x[i]
    return np.sum(h * h)


def accumulate(x, m):
    acc = m.b * 0.0
    for i in range(3):
        acc += np.cos(m.s) * x[i]
    return np.sum(acc * m.b)


def _object_gradients(fun, x, m):
    y = fun(x, m)
    return y, dlgradient(y, x, m)


@pytest.mark.parametrize("cls", [Holder, Fields])
@pytest.mark.parametrize("fun", [aug_float64_scalar, item_float64_scalar, slice_aug, column_mul,
                                 zeros_like_field, accumulate])
def test_float32_field_written_in_place_keeps_its_dtype(fun, cls):
    x = np.array([1.0, -2.0, 3.0, 0.5], dtype=np.float32)
    W = np.linspace(-1, 1, 12).reshape(3, 4).astype(np.float32)
    b = np.array([0.3, -0.2, 0.7], np.float32)
    expected = np.asarray(fun(x.copy(), cls(W.copy(), b.copy(), 0.9)))
    assert expected.dtype == np.float32
    y, (gx, gm) = dlfeval(_object_gradients, fun, dlarray(x), cls(dlarray(W), dlarray(b), 0.9))
    assert y.data.dtype == np.float32
    assert_close(y.data, expected, rtol=0, atol=0, what="value")
    assert dlfeval(fun, dlarray(x), cls(dlarray(W), dlarray(b), 0.9)).data.dtype == np.float32
    assert gx.data.dtype == np.float32 and gm.b.data.dtype == np.float32
    # the gradients of the same program in float64 against central differences
    x64, W64, b64 = x.astype(np.float64), W.astype(np.float64), b.astype(np.float64)
    _, (gx64, gm64) = dlfeval(_object_gradients, fun, dlarray(x64), cls(dlarray(W64), dlarray(b64), 0.9))
    assert_close(gx64.data, numerical_gradient(lambda v: fun(v, cls(W64, b64, 0.9)), [x64.copy()], 0), what="d/dx")
    assert_close(gm64.b.data, numerical_gradient(lambda v: fun(x64.copy(), cls(W64, v, 0.9)), [b64.copy()], 0),
                 what="d/db")
    assert_close(gm64.W.data, numerical_gradient(lambda v: fun(x64.copy(), cls(v, b64, 0.9)), [W64.copy()], 0),
                 what="d/dW")


def field_items_accumulated(x, m):
    # s is a numpy float32 scalar in Python (an item of m.b): `s += np.sin(1.5)` rebinds it to a
    # float64 (kept: the fix above is for arrays, not for a field's item, a 0-d dlarray in sct)
    s = 0.0
    for i in range(3):
        s = s + m.b[i] * x[i]
    s += np.sin(1.5)
    return s


@pytest.mark.parametrize("cls", [Holder, Fields])
def test_float32_field_item_rebound_by_augmented_assignment(cls):
    x = np.array([1.0, -2.0, 3.0, 0.5], dtype=np.float32)
    W = np.linspace(-1, 1, 12).reshape(3, 4).astype(np.float32)
    b = np.array([0.3, -0.2, 0.7], np.float32)
    expected = np.asarray(field_items_accumulated(x.copy(), cls(W.copy(), b.copy(), 0.9)))
    assert expected.dtype == np.float64
    y, _ = dlfeval(_object_gradients, field_items_accumulated, dlarray(x), cls(dlarray(W), dlarray(b), 0.9))
    assert y.data.dtype == np.float64
    assert_close(y.data, expected, rtol=0, atol=0, what="value")


# --- 4. an array bound on one path to np.einsum(...) (or sum(acc, np.zeros(n))), then written by
# fancy indices in a loop ----------------------------------------------------------------------------
# Refused: "`h[...] *= ...` changes the array (or list) h[...] holds in place, and h may hold the same
# object at another place too (as `[a] * 2` does)".  Neither np.einsum of several operands nor
# Python's sum with an array start was known to give a numeric array (sct/points_to.py _op_call).

def einsum_on_a_path(x, p):
    h = np.zeros(4)
    if x[0] > 0.5:
        h = np.einsum("ij,i->j", p["W"], p["b"])
    for i in range(2):
        h[[0, 0, 2]] *= p["b"]
    return np.sum(h * h) + np.sum(x)


def sum_with_start(x, p):
    acc = [x * (i + 1.0) for i in range(3)]
    h = sum(acc, np.zeros(4))
    for i in range(2):
        h[[0, 1]] *= p["b"][:2]
    return np.sum(h * h)


@pytest.mark.parametrize("fun", [einsum_on_a_path, sum_with_start])
def test_new_arrays_written_by_fancy_indices_in_a_loop(fun):
    check(fun)


def sum_of_nothing_is_its_start(x, p):
    z = x * 2.0
    acc = []
    for i in range(3):
        if x[i] > 100:
            acc.append(x)
    h = sum(acc, z)          # h is z itself: a write into h changes z
    h[1] = 7.0 * x[0]
    return np.sum(z * z) + np.sum(h)


def test_sum_of_nothing_is_its_start_still_refused():
    from sct import SctError
    with pytest.raises(SctError, match="in place"):
        check(sum_of_nothing_is_its_start)


# --- 5. np.copy(...) written item by item in a loop --------------------------------------------------
# Refused: "`out[...] *= ...` ... out may hold the same object at another place too".  np.copy is
# named like copy.copy and was read as a copy of a container holding its argument's items
# (sct/points_to.py _container_call), never as a new numeric array.

def np_copy_items(x, p):
    out = np.copy(x * 2.0)
    for i in range(4):
        out[i] *= np.tanh(0.9)
        out[i] += p["w"][i]
    return np.sum(out * out)


def test_np_copy_written_by_items_in_a_loop():
    check(np_copy_items)


def np_copy_of_list_of_rows(x, p):
    W = p["W"] * 1.0
    rows = [W[0], W[1]]
    c = np.copy(rows)          # a new 2-D array of the rows' numbers
    for i in range(2):
        c[i] *= x[i]
    return np.sum(c * c) + np.sum(W)


def test_np_copy_of_rows_is_a_new_array():
    check(np_copy_of_list_of_rows)
