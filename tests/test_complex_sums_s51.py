"""fuzz51 F1 and F6: a real sum reaching a complex parameter held by an object, and the fft
transforms of no axis (a 0-d array, ``axes=()``).

F1: an object's field is read in generated code as the dlarray it holds (an argument and a list's
or dict's item as its data), and where sct does not know the kind of a ``+`` operand (it may
concatenate lists) the real value's adjoint is made real when the sweep runs (rt.real_if_real),
which left a dlarray alone: a complex cotangent flowed into ``abs(W) ** 2``'s rule, a silently
wrong gradient of a complex ``P.W`` (right value).
"""
import dataclasses

import numpy as np
import pytest

import sct
from sct import dlarray, dlgradient
from gradcheck import D, numerical_gradient


class Model:
    def __init__(self, W):
        self.W = W


@dataclasses.dataclass
class Params:
    W: object


W0 = np.array([0.3 + 0.2j, -0.2 + 0.1j])


def fd(loss, w):
    return numerical_gradient(loss, [w], 0)


# --- F1: the realness of a real accumulator's adjoint (fuzz51 mini/m05) -------------------------------


def l2_add(W):
    r = 0.0
    r = r + np.sum(np.abs(W) ** 2)
    return np.sum(np.abs(W + r) ** 2)


def l2_sub(W):
    r = 1.0
    r = np.sum(np.abs(W) ** 2) - r
    return np.sum(np.abs(r - W) ** 2)


def l2_iadd(W):
    r = 0.0
    r += np.sum(np.abs(W) ** 2)
    V = W * 1.0
    V += r
    return np.sum(np.abs(V) ** 2)


def l2_loop(W):
    r = 0.0
    for k in range(2):
        r = r + np.sum(np.abs(W * (k + 1)) ** 2)
    return np.sum(np.abs(W + r) ** 2)


def l2_list_sum(W):
    rs = [np.sum(np.abs(W) ** 2), np.sum(np.real(W))]
    r = sum(rs)
    return np.sum(np.abs(W + r) ** 2)


def l2_pow(W):
    r = 0
    r = r + np.sum(np.abs(W) ** 2)
    return np.sum(np.abs(W + r ** 2) ** 2)


def l2_elementwise(W):
    r = 0
    r = r + np.abs(W)
    return np.sum(np.abs(W + r) ** 2)


def by_attribute(P):
    W = P.W
    L = l2_add(W)
    return L, dlgradient(L, P)


def test_m05_object_field_real_accumulator():
    # was [1.272+1.128j, -0.528+0.144j]
    L, g = sct.dlfeval(by_attribute, Model(dlarray(W0)))
    assert np.isclose(float(D(L)), l2_add(W0))
    np.testing.assert_allclose(D(g.W), fd(l2_add, W0), rtol=1e-6, atol=1e-7)
    np.testing.assert_allclose(D(g.W), [1.512 + 0.768j, -0.408 + 0.384j], rtol=1e-9)


def f_attr(P):
    L = LOSS(P.W)
    return L, dlgradient(L, P.W)


def f_method(P):
    L = P.loss()
    return L, dlgradient(L, P)


def f_closure(P):
    W = P.W

    def inner():
        return LOSS(W)
    L = inner()
    return L, dlgradient(L, P)


class WithLoss:
    def __init__(self, W):
        self.W = W

    def loss(self):
        return LOSS(self.W)


LOSS = None


@pytest.mark.parametrize("loss", [l2_add, l2_sub, l2_iadd, l2_loop, l2_list_sum, l2_pow, l2_elementwise],
                         ids=lambda f: f.__name__)
@pytest.mark.parametrize("how", ["attr", "dataclass", "method", "closure"])
def test_real_accumulators_of_a_field(loss, how, monkeypatch):
    monkeypatch.setitem(globals(), "LOSS", loss)
    sct.clear_cache()
    if how == "attr":
        L, g = sct.dlfeval(f_attr, Model(dlarray(W0)))
    elif how == "dataclass":
        L, g = sct.dlfeval(f_attr, Params(dlarray(W0)))
    elif how == "method":
        L, g = sct.dlfeval(f_method, WithLoss(dlarray(W0)))
        g = g.W
    else:
        L, g = sct.dlfeval(f_closure, Model(dlarray(W0)))
        g = g.W
    assert np.isclose(float(D(L)), loss(W0))
    np.testing.assert_allclose(D(g), fd(loss, W0), rtol=1e-6, atol=1e-7)


def second_order(P):
    L = l2_add(P.W)
    g = dlgradient(L, P.W)
    R = L + 0.1 * np.sum(np.abs(g) ** 2)
    return R, dlgradient(R, P.W)


def test_second_order_of_a_field():
    def R(w):
        return l2_add(w) + 0.1 * np.sum(np.abs(fd(l2_add, w)) ** 2)
    out, g = sct.dlfeval(second_order, Model(dlarray(W0)))
    assert np.isclose(float(D(out)), R(W0), rtol=1e-6)
    np.testing.assert_allclose(D(g), numerical_gradient(R, [W0], 0, step=1e-4), rtol=1e-4, atol=1e-5)


# --- F6: np.fft.fftn / ifftn (fft2 / ifft2 with axes=()) transforming no axis ----------------------------


def fftn_0d(x):
    v = np.fft.fftn(x)
    L = np.real(v) * 2.0 + np.imag(v) * 3.0
    return v, L, dlgradient(L, x)


@pytest.mark.parametrize("x0", [np.array(0.7), np.array(0.7, np.float32), np.array(0.7 + 0.2j)],
                         ids=["f8", "f4", "c16"])
def test_fftn_of_0d(x0):
    # was: "TypeError while computing the gradient of v = np.fft.fftn(x): pad_width must be of integral type"
    v, L, g = sct.dlfeval(fftn_0d, dlarray(x0))
    expect = np.fft.fftn(x0)
    assert D(v).dtype == expect.dtype and D(v).shape == ()
    assert D(v) == expect
    assert D(g).dtype == x0.dtype
    assert np.isclose(D(g), 2.0 + 3.0j if x0.dtype.kind == "c" else 2.0)


def transforms_no_axis(x):
    a = np.fft.ifftn(x, axes=(), norm="ortho")
    b = np.fft.fft2(x, axes=())
    c = np.fft.ifftn(x * 2.0, s=())
    L = np.sum(np.real(a) * 2.0 + np.imag(a) * 3.0 + np.abs(b) ** 2 + np.abs(c))
    return L, dlgradient(L, x)


def plain_no_axis(x):
    a = np.fft.ifftn(x, axes=(), norm="ortho")
    b = np.fft.fft2(x, axes=())
    c = np.fft.ifftn(x * 2.0, s=())
    return np.sum(np.real(a) * 2.0 + np.imag(a) * 3.0 + np.abs(b) ** 2 + np.abs(c))


@pytest.mark.parametrize("x0", [np.arange(1.0, 7.0).reshape(2, 3), np.array(0.4),
                                np.arange(1.0, 7.0).reshape(2, 3) * (1 - 0.5j)], ids=["2d", "0d", "complex"])
def test_transforms_of_no_axis(x0):
    L, g = sct.dlfeval(transforms_no_axis, dlarray(x0))
    assert np.isclose(float(D(L)), plain_no_axis(x0.copy()))
    np.testing.assert_allclose(D(g), numerical_gradient(plain_no_axis, [x0], 0), rtol=1e-6, atol=1e-6)


def write_through_fftn_0d(x):
    v = np.fft.fftn(x)
    v[...] = 5.0
    L = np.sum(x * x)
    return L, dlgradient(L, x)


def test_write_into_fftn_of_0d_is_refused_at_its_line():
    # numpy's fftn of a 0-d z is z itself: the write changes x (plain L = 25, dL/dx = 0); was taken for a
    # new array: L = 0.49 and 1.4, a wrong value and gradient
    x = np.array(0.7)
    v = np.fft.fftn(x)
    assert v is x
    with pytest.raises(sct.SctError) as e:
        sct.dlfeval(write_through_fftn_0d, dlarray(np.array(0.7)))
    assert "test_complex_sums_s51.py, line 210" in str(e.value) and "v[...]" in str(e.value)


def write_into_spectrum(x):
    F = np.fft.fftn(x)
    F[0, 0] = 0.0
    G = np.fft.fftn(np.tanh(x), axes=(0,))
    G[0] *= 3.0
    H = np.fft.fft2(x)
    H[0, 1] = 0.0
    L = np.sum(np.abs(F) ** 2) + np.sum(np.abs(G) ** 2) + np.sum(np.abs(H))
    return L, dlgradient(L, x)


def plain_spectrum(x):
    F = np.fft.fftn(x)
    F[0, 0] = 0.0
    G = np.fft.fftn(np.tanh(x), axes=(0,))
    G[0] *= 3.0
    H = np.fft.fft2(x)
    H[0, 1] = 0.0
    return np.sum(np.abs(F) ** 2) + np.sum(np.abs(G) ** 2) + np.sum(np.abs(H))


def test_write_into_a_transform_of_some_axis_is_accepted():
    x0 = np.array([[0.3, -1.2, 0.5], [0.8, 0.1, -0.6]])     # (no zero in the spectra: |H| is smooth)
    L, g = sct.dlfeval(write_into_spectrum, dlarray(x0))
    assert np.isclose(float(D(L)), plain_spectrum(x0.copy()))
    np.testing.assert_allclose(D(g), numerical_gradient(plain_spectrum, [x0], 0), rtol=1e-6, atol=1e-6)
