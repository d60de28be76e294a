"""red54c W4, W2, R1, R4: realness read from dtypes and object arrays; options and formats from constants.

W4: a complex dtype given as a string (an argument, an item or a field of one, a default, a string made in
the function or in a helper, ``y.dtype`` of a complex ``y``) was proven real, so the adjoint of
``np.imag(np.sqrt(x.astype(dt) - 1))`` was projected on the reals: gradient 0.  A string's kind holds not
its value ("float64" and "complex128" share one compiled entry), so realness assumes nothing of one; a
literal is read exactly (``np.dtype(s).kind``).
W2: an object array holding a complex number was proven real by its dtype: gradient 0.
R1: ``EnableHigherDerivatives=np.True_`` was refused (numpy 2's bool class is named ``bool``).
R4: ``dlarray(x, FMT)`` with ``FMT`` a module constant was refused (options take module constants).
"""
import types

import numpy as np
import pytest

import sct
from sct import dlarray, dlfeval, dlgradient, softmax
from gradcheck import D, assert_close, numerical_gradient

X = np.array([0.3, 0.7])


def imag_root(v):
    """Im sqrt(v - 1) of a complex v: sqrt(1 - v) for real v < 1 (numpy's, as plain Python runs it)."""
    return np.sum(np.imag(np.sqrt(v - 1.0)))


def check(fn, expected_of, *args, x=X):
    """sct's value and gradient of ``fn(x, *args)`` (it returns y, dlgradient(y, x)) against
    ``expected_of(x)`` (plain numpy) and its central differences."""
    y, g = dlfeval(fn, dlarray(x.copy()), *args)
    assert_close(D(y), expected_of(x.copy()), rtol=1e-10, atol=1e-12, what="value")
    expected = numerical_gradient(expected_of, [x.copy()], 0)
    assert np.all(expected != 0)
    assert_close(D(g), expected, rtol=1e-5, atol=1e-7, what="gradient")


def complex_root(x):
    return imag_root(np.asarray(x).astype(np.complex128))


# --- W4: a string naming a complex dtype -----------------------------------------------------------

def by_argument(x, dt):
    y = np.sum(np.imag(np.sqrt(x.astype(dt) - 1.0)))
    return y, dlgradient(y, x)


def by_asarray_item(x, cfg):
    y = np.sum(np.imag(np.sqrt(np.asarray(x, dtype=cfg["dtype"]) - 1.0)))
    return y, dlgradient(y, x)


def by_field(x, o):
    y = np.sum(np.imag(np.sqrt(x.astype(o.dtype) - 1.0)))
    return y, dlgradient(y, x)


def by_tuple(x, t):
    y = np.sum(np.imag(np.sqrt(x.astype(t[0]) - 1.0)))
    return y, dlgradient(y, x)


def by_default(x, dt="complex128"):
    y = np.sum(np.imag(np.sqrt(x.astype(dt) - 1.0)))
    return y, dlgradient(y, x)


def by_fstring(x, n):
    y = np.sum(np.imag(np.sqrt(x.astype(f"c{n}") - 1.0)))
    return y, dlgradient(y, x)


def by_concat(x, n):
    y = np.sum(np.imag(np.sqrt(x.astype("c" + str(n)) - 1.0)))
    return y, dlgradient(y, x)


def by_chr(x, n):
    dt = chr(99) + str(n)
    y = np.sum(np.imag(np.sqrt(np.zeros(2, dt) + x - 1.0)))
    return y, dlgradient(y, x)


def by_kwargs(x, n):
    opts = {"dtype": f"c{n}"}
    y = np.sum(np.imag(np.sqrt(np.asarray(x, **opts) - 1.0)))
    return y, dlgradient(y, x)


def by_dtype_of(x, w):
    y = np.sum(np.imag(np.sqrt(x.astype(w.dtype) - 1.0)))     # (w complex: was taken for real)
    return y, dlgradient(y, x)


def by_np_dtype(x, t):
    y = np.sum(np.imag(np.sqrt(x.astype(t) - 1.0)))
    return y, dlgradient(y, x)


@pytest.mark.parametrize("fn, args", [
    (by_argument, ("complex128",)), (by_argument, ("c16",)), (by_argument, ("D",)),
    (by_asarray_item, ({"dtype": "c16"},)), (by_field, (types.SimpleNamespace(dtype="complex128"),)),
    (by_tuple, (("complex128",),)), (by_default, ()), (by_fstring, (16,)), (by_concat, (16,)),
    (by_chr, (16,)), (by_kwargs, (16,)), (by_dtype_of, (np.array([1j]),)), (by_np_dtype, (np.dtype("c16"),)),
], ids=lambda v: getattr(v, "__name__", None) or repr(v)[:20])
def test_string_dtype_not_proven_real(fn, args):
    check(fn, complex_root, *args)


def test_string_dtype_cache_entry_shared_by_float_and_complex():
    # compiled for "float64" first (its value is real: Im = 0), then "complex128" runs the same kinds
    sct.clear_cache()
    x1 = np.array([1.3, 1.7])
    y, g = dlfeval(by_argument, dlarray(x1), "float64")
    assert D(y) == 0 and np.all(D(g) == 0)
    check(by_argument, complex_root, "complex128")


def to_complex(v, dt):
    return v.astype(dt)


def to_cdouble(v):
    return v.astype("cdouble")


def to_made(v, n):
    dt = f"c{n}"
    return v.astype(dt)


def to_field(v, o):
    return np.zeros(2, o.dt) + v


def by_helper(x, dt):
    y = np.sum(np.imag(np.sqrt(to_complex(x, dt) - 1.0)))
    return y, dlgradient(y, x)


def by_helper_literal(x):
    y = np.sum(np.imag(np.sqrt(to_cdouble(x) - 1.0)))
    return y, dlgradient(y, x)


def by_helper_made(x, n):
    y = np.sum(np.imag(np.sqrt(to_made(x, n) - 1.0)))
    return y, dlgradient(y, x)


def by_helper_given_made(x, n):
    y = np.sum(np.imag(np.sqrt(to_complex(x, "c" + str(n)) - 1.0)))
    return y, dlgradient(y, x)


def by_helper_field(x, o):
    y = np.sum(np.imag(np.sqrt(to_field(x, o) - 1.0)))
    return y, dlgradient(y, x)


@pytest.mark.parametrize("fn, args", [
    (by_helper, ("complex128",)), (by_helper_literal, ()), (by_helper_made, (16,)),
    (by_helper_given_made, (16,)), (by_helper_field, (types.SimpleNamespace(dt="D"),)),
], ids=lambda v: getattr(v, "__name__", None) or repr(v)[:20])
def test_string_dtype_through_helper(fn, args):
    check(fn, complex_root, *args)


def real_dtype(x, dt):
    y = np.sum(np.sin(x.astype(dt)) * 2.0)
    return y, dlgradient(y, x)


@pytest.mark.parametrize("dt", ["float64", np.float64, np.dtype("float64")], ids=repr)
def test_real_dtype_still_right(dt):
    check(real_dtype, lambda x: np.sum(np.sin(x) * 2.0), dt)


# --- W2: an object array holding a complex number ---------------------------------------------------

B = np.array([1 + 1j, 1.0], dtype=object)


def object_global(x):
    y = np.sum(np.abs(x * B[0]) ** 2)
    return y, dlgradient(y, x)


def object_argument(x, b):
    y = np.sum(np.abs(x * b[0]) ** 2)
    return y, dlgradient(y, x)


def test_object_array_global():
    check(object_global, lambda x: np.sum(np.abs(x * (1 + 1j)) ** 2), x=np.array([1.0, 2.0]))


def test_object_array_argument():
    b = np.array([1 + 1j, 1.0], dtype=object)
    check(object_argument, lambda x: np.sum(np.abs(x * (1 + 1j)) ** 2), b, x=np.array([1.0, 2.0]))


def test_object_array_item_made_complex_after_compiling():
    b = np.array([2.0, 1.0], dtype=object)
    check(object_argument, lambda x: np.sum(np.abs(x * 2.0) ** 2), b, x=np.array([1.0, 2.0]))
    b[0] = 1 + 1j
    check(object_argument, lambda x: np.sum(np.abs(x * (1 + 1j)) ** 2), b, x=np.array([1.0, 2.0]))


# --- R1: numpy bools as option values ---------------------------------------------------------------

EHD = np.True_


def higher(x):
    g = dlgradient(np.sum(x ** 3), x, EnableHigherDerivatives=EHD)
    z = np.sum(g) + np.sum(x)
    return z, dlgradient(z, x)


def test_numpy_bool_option():
    global EHD
    x = np.array([1.0, 2.0])
    for flag, expected in ((np.True_, 6 * x + 1), (np.False_, np.ones(2)), (np.True_, 6 * x + 1)):
        EHD = flag
        z, g = dlfeval(higher, dlarray(x))
        assert_close(D(z), np.sum(3 * x ** 2) + 3, what="value")
        assert_close(D(g), expected, what=f"gradient with {flag!r}")
    # (the second derivative against central differences of the first)
    EHD = np.True_
    assert_close(D(dlfeval(higher, dlarray(x))[1]),
                 numerical_gradient(lambda v: np.sum(3 * v ** 2) + np.sum(v), [x.copy()], 0), rtol=1e-6)


# --- R4: a module constant as a format --------------------------------------------------------------

FMT = "BC"
W = np.array([[1.0, 2.0, 3.0], [-1.0, 0.5, 2.0]])


def formatted(x):
    y = np.sum(softmax(dlarray(x, FMT)) * W)
    return y, dlgradient(y, x)


def plain_softmax(a, axis):
    e = np.exp(a - a.max(axis=axis, keepdims=True))
    return e / e.sum(axis=axis, keepdims=True)


def test_format_module_constant_guarded():
    global FMT
    x = np.array([[0.3, 0.7, -0.2], [1.1, -0.4, 0.5]])
    try:
        for fmt, axis in (("BC", 1), ("CB", 0), ("BC", 1)):
            FMT = fmt           # (rebinding it compiles again)
            check(formatted, lambda v: np.sum(plain_softmax(v, axis) * W), x=x)
    finally:
        FMT = "BC"


def format_argument(x, fmt):
    y = np.sum(softmax(dlarray(x, fmt)) * W)
    return y, dlgradient(y, x)


def test_format_argument_still_refused():
    with pytest.raises(sct.CompileError, match=r"test_realness_s54.py, line \d+.*literal string"):
        dlfeval(format_argument, dlarray(np.ones((2, 3))), "BC")


class Holder:
    def __init__(self, W, name, dt):
        self.W, self.name, self.dt = W, name, dt


def fields(x, o):
    y = np.sum(np.abs(x * o.W) ** 2) + np.sum(np.imag(np.sqrt(x.astype(o.dt) - 1.0)))
    return y, dlgradient(y, x)


@pytest.mark.parametrize("W", [np.array([2.0, 3.0]), np.array([2.0, 3.0j])], ids=["real W", "complex W"])
def test_object_with_string_fields(W):
    # a real field of an object holding strings (its name, a complex dtype's): the string field is not
    # proven real, the others by their own kinds
    o = Holder(W, "layer", "c16")
    check(fields, lambda x: np.sum(np.abs(x * W) ** 2) + complex_root(x), o)


def imag_root_of(x, dt):
    return np.sum(np.imag(np.sqrt(x.astype(dt) - 1.0)))


def gradient_norm(x, dt):
    g = dlgradient(imag_root_of(x, dt), x, EnableHigherDerivatives=True)
    z = np.sum(g * g)
    return z, dlgradient(z, x)


def test_string_dtype_second_order_and_jvp():
    import functools
    # z = sum(g * g), g = d/dx sum(sqrt(1 - x)) = -1 / (2 sqrt(1 - x)): z = sum(1 / (4 (1 - x)))
    z_of = lambda x: np.sum(0.25 / (1.0 - x))           # noqa: E731
    check(gradient_norm, z_of, "complex128")
    v = np.array([1.0, 0.5])
    expected = numerical_gradient(complex_root, [X.copy()], 0) @ v
    for mode in ("forward", "transpose"):
        _, t = sct.jvp(functools.partial(imag_root_of, dt="complex128"), (X.copy(),), (v,), mode=mode)
        assert_close(D(t), expected, rtol=1e-6, what=mode)


def zeros_of(x, dt):
    y = np.sum(np.imag(np.sqrt(np.zeros(2, dtype=dt) + x - 1.0)))
    return y, dlgradient(y, x)


def array_of(x, dt):
    y = np.sum(np.imag(np.sqrt(np.array(x, dtype=dt) - 1.0)))
    return y, dlgradient(y, x)


@pytest.mark.parametrize("fn", [zeros_of, array_of, by_argument], ids=lambda f: f.__name__)
@pytest.mark.parametrize("dt", ["complex64", "c16", "F", "cdouble"])
def test_string_dtype_creators(fn, dt):
    y, g = dlfeval(fn, dlarray(X.copy()), dt)
    assert_close(D(y), complex_root(X), rtol=1e-6, what="value")
    assert_close(D(g), numerical_gradient(complex_root, [X.copy()], 0), rtol=1e-5, atol=1e-6, what="gradient")
