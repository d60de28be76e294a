"""np.complex128 / np.complex64 as casts and as complex(real, imag): values as numpy's, gradients
against central differences (real and complex inputs), second order, and float32 precision kept."""
import numpy as np
import pytest

from sct import dlarray, dlfeval, dlgradient
from gradcheck import assert_close, check_grads, numerical_gradient


def cast_scaled(x):
    z = np.complex128(x) * (2 + 3j)
    return np.sum(np.abs(z) ** 2)


def polar(x):
    z = np.complex128(x[0]) * np.exp(1j * x[1])
    return np.real(z * np.conj(z)) + np.imag(z) + np.angle(z + 1)


def two_args(x):
    z = np.complex128(x[0], x[1])
    return abs(z * z + 1)


def complex64_two_args(x):
    z = np.complex64(x[0], 2 * x[1])
    return np.abs(z) + np.real(z) ** 2


def of_complex(z):
    w = np.complex128(z) * (1 - 2j)
    return np.sum(np.abs(w))


@pytest.mark.parametrize("fun", [cast_scaled, polar, two_args])
def test_real_inputs(fun):
    check_grads(fun, np.array([0.7, -1.3]))


def test_complex64_two_args():
    x = np.array([0.7, -1.3])
    (value, grad) = dlfeval(lambda x: (complex64_two_args(x), dlgradient(complex64_two_args(x), x)), dlarray(x))
    assert float(np.asarray(value.data)) == pytest.approx(float(complex64_two_args(x)), rel=1e-6)
    # exact: |z| = sqrt(a^2 + 4b^2), Re(z)^2 = a^2 (complex64 rounds the inputs: float32 tolerance)
    a, b = x
    r = np.sqrt(a * a + 4 * b * b)
    assert_close(np.asarray(grad.data), [a / r + 2 * a, 4 * b / r], rtol=1e-5, atol=1e-6)


def test_complex_input_gradient():
    z = np.array([1.0 + 1j, 2.0 - 0.5j])
    (_, grad) = dlfeval(lambda z: (of_complex(z), dlgradient(of_complex(z), z)), dlarray(z))
    got = np.asarray(grad.data)
    # steepest-ascent convention: dL/dRe + i dL/dIm
    re = numerical_gradient(lambda r: of_complex(r + 1j * z.imag), [z.real], 0)
    im = numerical_gradient(lambda i: of_complex(z.real + 1j * i), [z.imag], 0)
    assert got.dtype == np.complex128
    assert_close(got, re + 1j * im)


def cast_second_order(x):
    z = np.complex128(x) * (2 + 3j)
    y = np.sum(np.abs(z) ** 2 * x)
    g = dlgradient(y, x, EnableHigherDerivatives=True)
    return np.sum(g * g), g


def test_second_order():
    x = np.array([0.5, -1.5, 2.0])
    # y = 13 sum(x^3): g = 39 x^2, d/dx sum(g^2) = 4 * 39^2 x^3
    def outer(x):
        s, g = cast_second_order(x)
        return s, g, dlgradient(s, x)
    s, g, h = dlfeval(outer, dlarray(x))
    assert_close(np.asarray(g.data), 39 * x ** 2)
    assert_close(np.asarray(h.data), 4 * 39 ** 2 * x ** 3, rtol=1e-10)


def test_float32_input_keeps_dtype():
    x = np.array([0.5, -1.5], dtype=np.float32)
    (_, grad) = dlfeval(lambda x: (cast_scaled(x), dlgradient(cast_scaled(x), x)), dlarray(x))
    assert np.asarray(grad.data).dtype == np.float32
    assert_close(np.asarray(grad.data), 26 * x, rtol=1e-6)
