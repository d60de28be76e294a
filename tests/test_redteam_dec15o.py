"""Red team, Dec 15 (O): scientific code with complex intermediate values, written the way engineers
write it (helpers, classes, loops, dict and dataclass parameters): FFT convolution and filtering, spectral
derivatives, a split-step Fourier propagator, phasor circuits, a qubit evolved by a truncated exponential
series, beamforming, complex-valued layers, losses on |z|**2, angle(z), Re(z conj(w)); real and complex
dlarray inputs.  Checked: value against plain Python, gradient and a gradient of the gradient against
central differences (first level and accelerated), jvp and hvp for a few.

Found (silently wrong gradients, all zero where they were not):
- a complex dtype given by position or through a name was not seen as making complex values, so the
  result was proven real and the conjugates / real projections of the rules using it were dropped:
  ``np.zeros(n, complex) - x``, ``(-x).astype(np.complex128)`` (the dtype a name in the generated
  code), ``np.zeros(n, CT)`` with a global ``CT = complex``, a helper ``_mk(n, complex)``, a class
  attribute or dict item holding ``complex``, ``dt = "complex128"; np.asarray(v, dtype=dt)``.  Now a
  complex type, a complex np.dtype and a string naming one (``"c16"``, ``"D"``) are not proven real
  (sct/analysis.py ``_complex_dtype_value``, used by ``_fixed_real`` and ``Activity.value_real``).
"""
import math
import os
import sys
from dataclasses import dataclass

import numpy as np
import pytest

sys.path.insert(0, os.path.dirname(__file__))
from gradcheck import assert_close, numerical_gradient  # noqa: E402
from test_redteam_dec14i import check  # noqa: E402

import sct  # noqa: E402
from sct import dlarray, dlfeval, dlgradient, extractdata  # noqa: E402


# --- real parameters, complex intermediate values ---------------------------------------------------

# 1 FFT convolution
def fft_conv(x):
    k = np.array([0.5, 0.25, 0.125, 0.0625])
    n = x.shape[0]
    X = np.fft.fft(x, n)
    K = np.fft.fft(k, n)
    y = np.real(np.fft.ifft(X * K))
    return np.sum(y ** 2) + np.sum(np.sin(y))

# 2 rfft filter
def rfft_lowpass(x):
    X = np.fft.rfft(x)
    mask = np.zeros(X.shape[0]); mask[:2] = 1.0
    y = np.fft.irfft(X * mask, n=x.shape[0])
    return np.sum((y - x) ** 2 * x)

# 3 power spectrum loss
def power_spectrum(x):
    X = np.fft.fft(x)
    P = np.abs(X) ** 2
    P = np.fft.fftshift(P)
    return np.sum(P * np.arange(P.shape[0])) / x.shape[0]

# 4 spectral derivative
def spectral_deriv(u):
    n = u.shape[0]
    k = np.fft.fftfreq(n, d=1.0 / n)
    du = np.real(np.fft.ifft(1j * k * np.fft.fft(u)))
    return np.sum(du ** 2) + np.sum(u * du ** 3)

# 5 split step
def split_step(x):
    n = x.shape[0]
    k = 2 * np.pi * np.fft.fftfreq(n)
    psi = x * np.exp(1j * x)
    dt = 0.1
    for step in range(3):
        psi = psi * np.exp(-1j * dt * np.abs(psi) ** 2)
        psi = np.fft.ifft(np.exp(-0.5j * dt * k ** 2) * np.fft.fft(psi))
    return np.sum(np.abs(psi) ** 2 * np.arange(n))

# 6 phasor circuit, dict params
def _impedance(p, w):
    zr = p["R"]
    zl = 1j * w * p["L"]
    zc = 1.0 / (1j * w * p["C"])
    return zr + zl + zc

def rlc_circuit(x):
    p = {"R": x[0], "L": x[1], "C": x[2]}
    total = 0.0
    for w in [0.5, 1.0, 2.0]:
        Z = _impedance(p, w)
        I = 1.0 / Z
        total = total + np.abs(I) ** 2 + np.angle(I)
    return total

# 7 quantum evolution
def _hermitian(th):
    n = 2
    H = np.zeros((n, n), dtype=complex)
    H[0, 0] = th[0]
    H[1, 1] = -th[0]
    H[0, 1] = th[1] - 1j * th[2]
    H[1, 0] = th[1] + 1j * th[2]
    return H

def _expm_series(A, terms=12):
    out = np.eye(A.shape[0], dtype=complex)
    term = np.eye(A.shape[0], dtype=complex)
    for k in range(1, terms):
        term = term @ A / k
        out = out + term
    return out

def quantum(th):
    H = _hermitian(th)
    U = _expm_series(-1j * 0.7 * H)
    psi0 = np.array([1.0, 0.0], dtype=complex)
    psi = U @ psi0
    return np.abs(psi[1]) ** 2 + np.real(np.conj(psi[0]) * psi[1])

# 8 beamforming
def beamform(x):
    pos = np.arange(4) * 0.5
    k = 2 * np.pi
    steering = np.exp(1j * k * pos * np.sin(x[0]))
    w = x[1:5] * np.exp(1j * x[5:9])
    y = np.sum(np.conj(w) * steering)
    return np.abs(y) ** 2

# 9 complex layer
class ComplexDense:
    def __init__(self, wr, wi):
        self.w = wr + 1j * wi
    def __call__(self, z):
        return self.w @ z

def complex_layer(x):
    wr = x[:4].reshape(2, 2)
    wi = x[4:8].reshape(2, 2)
    layer = ComplexDense(wr, wi)
    z = np.array([1.0 + 0.5j, -0.3 + 0.2j])
    out = layer(z)
    h = np.tanh(np.real(out)) + 1j * np.tanh(np.imag(out))
    return np.sum(np.abs(h) ** 2) + np.sum(np.angle(h))

# 10 real of z*conj(w)
def real_inner(x):
    z = x[:3] + 1j * x[3:6]
    w = np.exp(1j * x[:3]) * x[3:6]
    return np.real(np.sum(z * np.conj(w))) + np.sum(np.imag(z * w) ** 2)

# 11 helper returning tuple complex & real
def _analyse(x):
    X = np.fft.fft(x)
    mag = np.abs(X)
    return X, mag

def tuple_helper(x):
    X, mag = _analyse(x)
    ph = np.angle(X[1:3])
    return np.sum(mag * x) + np.sum(ph ** 2) + np.real(X[0])

# 12 Filter class with complex coefficients
class Filter:
    def __init__(self, poles):
        self.poles = poles
    def response(self, w):
        z = np.exp(1j * w)
        h = 1.0
        for p in self.poles:
            h = h / (z - p)
        return h

def filter_class(x):
    f = Filter([0.5 * np.exp(1j * x[0]), 0.5 * np.exp(-1j * x[0]), x[1]])
    total = 0.0
    for w in np.linspace(0.1, 3.0, 5):
        total = total + np.abs(f.response(w)) ** 2
    return total

# 13 dataclass params
@dataclass
class Params:
    amp: object
    freq: object
    phase: object

def _signal(p, t):
    return p.amp * np.exp(1j * (p.freq * t + p.phase))

def dataclass_params(x):
    p = Params(x[0], x[1], x[2])
    t = np.linspace(0, 1, 6)
    s = _signal(p, t)
    target = np.cos(3 * t)
    return np.sum((np.real(s) - target) ** 2) + 0.1 * np.sum(np.imag(s) ** 2)

# 14 Filter with complex coefficient state from params (IIR, loop)
def iir_complex(x):
    a = 0.6 * np.exp(1j * 0.4)
    y = 0.0 + 0.0j
    out = []
    for k in range(x.shape[0]):
        y = a * y + x[k]
        out.append(y)
    ys = np.array(out)
    return np.sum(np.abs(ys) ** 2) + np.sum(np.real(ys) * np.imag(ys))

# 15 np.angle & unwrap-ish
def angle_loss(x):
    z = (x[0] + 1j * x[1]) * (x[2] - 0.5j)
    return np.angle(z) ** 2 + np.abs(z)

# 16 fft2
def fft2_loss(x):
    m = x.reshape(2, 3)
    F = np.fft.fft2(m)
    return np.sum(np.abs(F) ** 1.5) + np.real(np.sum(F * F))

# 17 DFT matrix built by hand
def dft_matrix(x):
    n = x.shape[0]
    j = np.arange(n)
    W = np.exp(-2j * np.pi * np.outer(j, j) / n)
    X = W @ x
    return np.sum(np.abs(X) ** 2 * np.cos(j)) + np.sum(np.real(X) ** 3)

# 18 conj in helper, vdot
def vdot_loss(x):
    z = x[:3] * np.exp(1j * x[3:6])
    return np.real(np.vdot(z, z * (1 + 1j))) + np.abs(np.vdot(z, x[:3]))

# 19 complex sqrt / log
def complex_funcs(x):
    z = x[0] + 1j * x[1]
    return np.real(np.log(z) * np.sqrt(z)) + np.imag(np.exp(z) / (z + 2))

# 20 polynomial roots eval via horner complex
def _horner(coeffs, z):
    acc = 0.0
    for c in coeffs:
        acc = acc * z + c
    return acc

def horner_complex(x):
    z = np.exp(1j * np.linspace(0, np.pi, 4))
    h = _horner([x[0], x[1], x[2]], z)
    return np.sum(np.abs(h) ** 2)

# 21 complex in dict of params, loop over items
def dict_params(x):
    p = {"a": x[0] + 1j * x[1], "b": x[2] * np.exp(0.3j)}
    s = 0.0
    for name, v in p.items():
        s = s + np.abs(v * np.conj(v) + v) ** 2
    return s

# 22 mean power with np.mean and np.conj, cumsum complex
def cumsum_complex(x):
    z = np.exp(1j * np.cumsum(x))
    return np.abs(np.mean(z)) ** 2 + np.real(np.sum(np.cumsum(z) * np.conj(z)))

# 23 ifftshift + spectral window
def windowed(x):
    win = np.hanning(x.shape[0])
    X = np.fft.fftshift(np.fft.fft(x * win))
    X = np.fft.ifftshift(X * np.linspace(0.5, 1.5, x.shape[0]))
    y = np.fft.ifft(X)
    return np.sum(np.real(y) ** 2 - np.imag(y))

# 24 complex matmul with transpose and .T.conj()
def hermitian_form(x):
    A = x[:4].reshape(2, 2) + 1j * x[4:8].reshape(2, 2)
    H = A @ A.conj().T
    v = np.array([1.0, 1j])
    return np.real(v.conj() @ H @ v) + np.real(np.trace(H @ H))

# 25 solve complex linear system
def complex_solve(x):
    A = np.array([[2.0, 1j], [-1j, 3.0]]) + np.diag(x[:2])
    b = x[2:4] + 0.5j
    s = np.linalg.solve(A, b)
    return np.sum(np.abs(s) ** 2)

# 26 .real / .imag attributes
def attr_real_imag(x):
    z = np.fft.fft(x * x)
    return np.sum(z.real * z.imag) + np.sum(z.real ** 2)

# 27 complex accumulated in a python list via comprehension
def list_comp_phasors(x):
    ph = [a * np.exp(1j * b) for a, b in zip(x[:3], x[3:6])]
    tot = sum(ph)
    return abs(tot) ** 2 + np.angle(tot)

# 28 abs(z)**2 via z*z.conj()
def zzconj(x):
    z = np.fft.rfft(x)
    e = z * z.conj()
    return np.real(np.sum(e * np.arange(e.shape[0])))

# 29 method holding complex coefficients in an array attr, used via np.polyval
class FIR:
    def __init__(self, taps):
        self.taps = taps
    def apply(self, x):
        return np.convolve(x, self.taps, mode="same")

def fir_complex(x):
    f = FIR(np.array([0.5, 0.3j, -0.2]))
    y = f.apply(x)
    return np.sum(np.abs(y) ** 2) + np.sum(np.angle(y + 1.0))

# 30 matrix exponential of anti-Hermitian via scaling & squaring loop
def scaling_squaring(th):
    H = np.array([[th[0], th[1] + 1j * th[2]], [th[1] - 1j * th[2], -th[0]]])
    A = -1j * H / 8.0
    U = np.eye(2) + A + A @ A / 2 + A @ A @ A / 6
    for i in range(3):
        U = U @ U
    psi = U[:, 0]
    return np.abs(psi[1]) ** 2 + np.real(psi[0] * psi[1])


SIZES = {"rlc_circuit": 3, "quantum": 3, "beamform": 9, "complex_layer": 8, "real_inner": 6,
         "filter_class": 2, "dataclass_params": 3, "angle_loss": 3, "fft2_loss": 6, "vdot_loss": 6,
         "complex_funcs": 2, "horner_complex": 3, "dict_params": 3, "hermitian_form": 8, "complex_solve": 4,
         "list_comp_phasors": 6, "scaling_squaring": 3}
REAL = [fft_conv, rfft_lowpass, power_spectrum, spectral_deriv, split_step, rlc_circuit, quantum, beamform, complex_layer, real_inner, tuple_helper, filter_class, dataclass_params, iir_complex, angle_loss, fft2_loss, dft_matrix, vdot_loss, complex_funcs, horner_complex, dict_params, cumsum_complex, windowed, hermitian_form, complex_solve, attr_real_imag, list_comp_phasors, zzconj, fir_complex, scaling_squaring]


def _x(f, seed=1):
    return np.random.default_rng(seed).uniform(0.3, 1.2, SIZES.get(f.__name__, 6))


@pytest.mark.parametrize("f", REAL, ids=lambda f: f.__name__)
def test_real_parameters(f):
    check(f, _x(f))


@pytest.mark.parametrize("f", REAL, ids=lambda f: f.__name__)
def test_real_parameters_accelerated(f):
    check(f, _x(f), accelerate=True, order=1)


# --- complex dlarray inputs: gradient dL/dRe(z) + i dL/dIm(z) -------------------------------------------

def abs2_angle(z):
    return np.sum(np.abs(z) ** 2) + np.sum(np.angle(z) * np.arange(z.shape[0]))

def fft_filter_c(z):
    Z = np.fft.fft(z)
    H = 1.0 / (1.0 + 1j * np.fft.fftfreq(z.shape[0]))
    y = np.fft.ifft(Z * H)
    return np.sum(np.abs(y) ** 2 * np.arange(z.shape[0])) + np.real(np.sum(y * y))

def real_conj(z):
    w = np.exp(1j * np.real(z)) * z
    return np.real(np.sum(z * np.conj(w))) + np.sum(np.imag(z) ** 3)

def split_step_c(psi):
    n = psi.shape[0]
    k = 2 * np.pi * np.fft.fftfreq(n)
    for _ in range(3):
        psi = psi * np.exp(-0.1j * np.abs(psi) ** 2)
        psi = np.fft.ifft(np.exp(-0.05j * k ** 2) * np.fft.fft(psi))
    return np.sum(np.abs(psi) ** 2 * np.arange(n)) + np.real(psi[0] * psi[1])

class CLayer:
    def __init__(self, w, b):
        self.w, self.b = w, b
    def __call__(self, z):
        h = self.w * z + self.b
        return np.tanh(np.real(h)) + 1j * np.tanh(np.imag(h))

def clayer(z):
    layer = CLayer(z[:3], 0.2 - 0.1j)
    out = layer(z[3:])
    return np.sum(np.abs(out) ** 2) + np.sum(np.angle(out))

def _split(z):
    return np.real(z), np.imag(z), z * np.conj(z)

def helper_tuple(z):
    a, b, p = _split(z)
    return np.sum(a * b) + np.real(np.sum(p * a))

def conj_products(z):
    return np.real(np.sum(z * z * np.conj(z))) + np.abs(np.sum(z ** 3)) + np.real(np.vdot(z, z[::-1]))

def matmul_c(z):
    A = z[:4].reshape(2, 2)
    v = z[4:6]
    w = A @ v
    H = A.conj().T @ A
    return np.sum(np.abs(w) ** 2) + np.real(np.trace(H)) + np.real(np.sum(A.T @ v))

def solve_c(z):
    A = z[:4].reshape(2, 2) + 2 * np.eye(2)
    b = z[4:6]
    s = np.linalg.solve(A, b)
    return np.sum(np.abs(s) ** 2) + np.real(np.linalg.det(A))

def funcs_c(z):
    return np.real(np.sum(np.exp(z) * np.log(z) + np.sqrt(z) * np.sin(z))) + np.sum(np.imag(np.tanh(z)))

@dataclass
class Phasor:
    v: object
    i: object

def dataclass_c(z):
    p = Phasor(z[:3], z[3:])
    s = p.v * np.conj(p.i)
    return np.sum(np.real(s)) + 0.5 * np.sum(np.imag(s) ** 2)

def dict_c(z):
    p = {"a": z[:3], "b": z[3:]}
    tot = 0.0
    for k in p:
        tot = tot + np.sum(np.abs(p[k] * (1 + 2j)) ** 2)
    return tot + np.real(np.sum(p["a"] * p["b"]))

def real_attr(z):
    return np.sum(z.real ** 2 * z.imag) + np.sum((z * z).real)

def abs_builtin(z):
    s = 0.0
    for i in range(z.shape[0]):
        s = s + abs(z[i]) ** 3 + (z[i] * z[i]).real
    return s

def rfft_of_real_part(z):
    X = np.fft.rfft(np.real(z) * np.imag(z))
    return np.sum(np.abs(X) ** 2)

def irfft_c(z):
    y = np.fft.irfft(z[:4], n=6)
    return np.sum(y ** 2 * np.arange(6))

def cumsum_prod(z):
    return np.abs(np.prod(z)) + np.real(np.sum(np.cumsum(z) * np.cumprod(z / 2)))

def stack_concat(z):
    w = np.concatenate([z, np.conj(z)])
    m = np.stack([z, z * 1j])
    return np.real(np.sum(w ** 2)) + np.sum(np.abs(m[:, :2]) ** 2)

def where_max(z):
    m = np.abs(z)
    return np.max(m) + np.sum(np.where(m > 0.8, z, 0) * np.conj(z)).real

def power_int(z):
    return np.real(np.sum(z ** 3 + 1.0 / z)) + np.sum(np.abs(z ** -2))

def einsum_cc(z):
    A = z[:4].reshape(2, 2)
    return np.real(np.einsum('ij,jk,ki->', A, A, np.conj(A)))

def mean_abs(z):
    return np.abs(np.mean(z * z)) + np.real(np.mean(z) ** 2) + np.var(z)


COMPLEX = [abs2_angle, fft_filter_c, real_conj, split_step_c, clayer, helper_tuple, conj_products, matmul_c, solve_c, funcs_c, dataclass_c, dict_c, real_attr, abs_builtin, rfft_of_real_part, irfft_c, cumsum_prod, stack_concat, where_max, power_int, einsum_cc, mean_abs]


def _first(f, x):
    y = f(x)
    return y, dlgradient(y, x)


def _g_loss(g):
    return np.sum(np.real(g * np.conj(g))) + np.sum(np.sin(np.real(g)) * np.imag(g))


def _second(f, x):
    y = f(x)
    g = dlgradient(y, x, EnableHigherDerivatives=True)
    z = _g_loss(g)
    return z, dlgradient(z, x)


def check_complex(f, x, accelerate=False, order=2):
    """check() for a complex argument: value against plain Python, the complex gradient and that of a
    real function of it against central differences in the real and imaginary parts."""
    x = np.array(x, dtype=complex)
    run = sct.dlaccelerate(_first) if accelerate else (lambda *a: dlfeval(_first, *a))
    y, g = run(f, dlarray(x.copy()))
    assert_close(extractdata(y), f(x.copy()), rtol=1e-12, atol=1e-12, what=f"{f.__name__}: value")
    g = np.asarray(extractdata(g))
    assert g.dtype == x.dtype, f"{f.__name__}: gradient dtype {g.dtype}"
    assert_close(g, numerical_gradient(lambda a: f(a.copy()), [x.copy()], 0), what=f"{f.__name__}: gradient")
    if order < 2:
        return

    def z_of(a):
        _, ga = dlfeval(_first, f, dlarray(a.copy()))
        return _g_loss(np.asarray(extractdata(ga)))
    z, gz = dlfeval(_second, f, dlarray(x.copy()))
    assert_close(extractdata(z), z_of(x), rtol=1e-10, what=f"{f.__name__}: second-order value")
    assert_close(extractdata(gz), numerical_gradient(z_of, [x.copy()], 0), rtol=1e-4, atol=1e-5,
                 what=f"{f.__name__}: second-order gradient")


def _z(seed=2):
    rng = np.random.default_rng(seed)
    return rng.uniform(0.3, 1.2, 6) + 1j * rng.uniform(-0.8, 0.8, 6)


@pytest.mark.parametrize("f", COMPLEX, ids=lambda f: f.__name__)
def test_complex_inputs(f):
    check_complex(f, _z())


@pytest.mark.parametrize("f", COMPLEX, ids=lambda f: f.__name__)
def test_complex_inputs_accelerated(f):
    check_complex(f, _z(), accelerate=True, order=1)


# --- a complex dtype given by position, by a name, a helper's argument (was: gradient 0) ----------------

def zeros_pos_complex(x):
    z = np.zeros(x.shape[0], complex) - x
    s = np.sqrt(z)
    return np.real(np.sum(s * s * s * x)) + np.sum(np.imag(s * x) ** 2)

def dtype_call(x):
    z = np.zeros(x.shape[0], dtype=np.dtype(complex)) - x
    s = np.sqrt(z)
    return np.real(np.sum(s * s * s * x)) + np.sum(np.imag(s * x) ** 2)

def dtype_D(x):
    z = np.asarray(x, np.dtype("D"))
    s = np.sqrt(-z)
    return np.real(np.sum(s * s * s * x)) + np.sum(np.imag(s * x) ** 2)

def astype_pos(x):
    z = (-x).astype(np.complex128)
    s = np.sqrt(z)
    return np.real(np.sum(s * s * s * x)) + np.sum(np.imag(s * x) ** 2)

CT = complex
def global_type(x):
    z = np.zeros(x.shape[0], dtype=CT) - x
    s = np.sqrt(z)
    return np.real(np.sum(s * s * s * x)) + np.sum(np.imag(s * x) ** 2)

def _mk(n, dt):
    return np.zeros(n, dtype=dt)

def helper_dtype(x):
    z = _mk(x.shape[0], complex) - x
    s = np.sqrt(z)
    return np.real(np.sum(s * s * s * x)) + np.sum(np.imag(s * x) ** 2)

def _neg_sqrt(v):
    return np.sqrt(v.astype(complex) * -1)

def helper_astype(x):
    s = _neg_sqrt(x)
    return np.real(np.sum(s * s * s * x)) + np.sum(np.imag(s * x) ** 2)

def like_dtype(x):
    z = np.zeros_like(x, complex) - x
    s = np.sqrt(z)
    return np.real(np.sum(s * s * s * x))

def full_c(x):
    z = np.full(x.shape[0], -1, dtype=np.cdouble) * x
    s = np.sqrt(z)
    return np.real(np.sum(s * s * s * x))

def array_c(x):
    z = np.array(-x, np.complex128)
    s = np.sqrt(z)
    return np.real(np.sum(s * s * s * x))

def ones_c_str(x):
    z = -np.ones(x.shape[0], "complex128") * x
    s = np.sqrt(z)
    return np.real(np.sum(s * s * s * x))

def result_type_dt(x):
    dt = np.result_type(np.complex64, x)
    z = np.zeros(x.shape[0], dt) - x
    s = np.sqrt(z)
    return np.real(np.sum(s * s * s * x))

def power_frac_complex(x):
    z = np.zeros(x.shape[0], complex) - x
    s = z ** 0.5
    return np.real(np.sum(s * s * s * x))


class DtypeCfg:
    dtype = complex


def class_attr_dtype(x):
    z = np.zeros(x.shape[0], DtypeCfg.dtype) - x
    return np.sum(np.imag(np.sqrt(z)))


def dict_dtype(x):
    cfg = {"dtype": np.complex128}
    z = np.zeros(x.shape[0], cfg["dtype"]) - x
    return np.sum(np.imag(np.sqrt(z)))


def _mk_default(n, dt=complex):
    return np.zeros(n, dt)


def default_dtype(x):
    z = _mk_default(x.shape[0]) - x
    return np.sum(np.imag(np.sqrt(z)))


def dtype_kw_name(x):
    dt = "complex128"
    z = np.asarray(-x, dtype=dt)
    return np.sum(np.imag(np.sqrt(z)) * x)


DTYPES = [zeros_pos_complex, dtype_call, dtype_D, astype_pos, global_type, helper_dtype, helper_astype, like_dtype, full_c, array_c, ones_c_str, result_type_dt, power_frac_complex, class_attr_dtype, dict_dtype, default_dtype, dtype_kw_name]


@pytest.mark.parametrize("f", DTYPES, ids=lambda f: f.__name__)
def test_complex_dtype_makes_complex_values(f):
    check(f, np.random.default_rng(3).uniform(0.3, 1.2, 5))


@pytest.mark.parametrize("f", DTYPES, ids=lambda f: f.__name__)
def test_complex_dtype_accelerated(f):
    check(f, np.random.default_rng(3).uniform(0.3, 1.2, 5), accelerate=True, order=1)


def test_the_minimal_programs():
    def run(f, x):
        return dlfeval(_first, f, dlarray(x))[1]
    x = np.array([1.0, 4.0])
    # d/dx sum(imag(sqrt(-x))) = 1 / (2 sqrt(x))
    for f in (zeros_pos_complex_min, astype_pos_min):
        assert_close(extractdata(run(f, x)), 0.5 / np.sqrt(x), what=f.__name__)


def zeros_pos_complex_min(x):
    z = np.zeros(2, complex) - x
    return np.sum(np.imag(np.sqrt(z)))


def astype_pos_min(x):
    z = (-x).astype(np.complex128)
    return np.sum(np.imag(np.sqrt(z)))


# --- forward mode ---------------------------------------------------------------------------------------

def _fd_gradient(f, x, h=1e-6):
    return np.array([(f(x + h * e) - f(x - h * e)) / (2 * h) for e in np.eye(len(x))])


@pytest.mark.parametrize("f", [fft_conv, spectral_deriv, split_step, rlc_circuit, quantum, beamform,
                               filter_class, zeros_pos_complex, helper_dtype],
                         ids=lambda f: f.__name__)
def test_forward_mode(f):
    x = _x(f)
    v = np.random.default_rng(4).standard_normal(x.shape)
    y, t = sct.jvp(f, dlarray(x), dlarray(v))
    h = 1e-6
    assert_close(extractdata(y), f(x.copy()), rtol=1e-12, what=f"{f.__name__}: jvp value")
    assert_close(extractdata(t), (f(x + h * v) - f(x - h * v)) / (2 * h), rtol=1e-5, atol=1e-6,
                 what=f"{f.__name__}: jvp")
    hv = sct.hvp(f, dlarray(x), dlarray(v))
    hv = hv[-1] if isinstance(hv, tuple) else hv
    h = 1e-4
    expected = (_fd_gradient(f, x + h * v) - _fd_gradient(f, x - h * v)) / (2 * h)
    assert_close(extractdata(hv), expected, rtol=1e-3, atol=1e-4, what=f"{f.__name__}: hvp")


def complex_autocorrelation(z):
    w = np.fft.fft(z * np.conj(z[::-1]))
    return np.sum(np.abs(w) ** 2) + np.real(np.sum(z ** 3))


def test_forward_mode_complex_input():
    f = complex_autocorrelation
    z = np.array([0.5 + 0.2j, 0.3 - 0.4j, 0.9 + 0.1j])
    v = np.array([0.3 - 0.1j, 0.2 + 0.5j, -0.4 + 0.2j])
    y, t = sct.jvp(f, dlarray(z), dlarray(v))
    h = 1e-6
    assert_close(extractdata(y), f(z), rtol=1e-12, what="jvp value")
    assert_close(extractdata(t), (f(z + h * v) - f(z - h * v)) / (2 * h), rtol=1e-5, atol=1e-6, what="jvp")
    h = 1e-4
    g = lambda a: numerical_gradient(f, [a], 0)  # noqa: E731
    assert_close(extractdata(sct.hvp(f, dlarray(z), dlarray(v))), (g(z + h * v) - g(z - h * v)) / (2 * h),
                 rtol=1e-4, atol=1e-5, what="hvp (MATLAB's convention)")


# --- not fixed: Python's ``**`` of a negative Python float is complex ----------------------------------
# ``math.cos``, ``float()``, ``.item()`` give Python floats; ``v ** 1.5`` of a negative one is complex in
# Python (numpy's float64 gives nan), but ``**`` and ``pow`` of real operands are proven real: the rules'
# conjugates are dropped (a helper ``_root``: the gradient's sign flipped; ``pow``: 0), or the gradient
# raises a TypeError (``float(v) ** 0.5`` then ``.imag``).

def _root(v):
    return v ** 1.5


def python_float_pow_in_helper(x):
    w = _root(math.cos(x[0]))
    return np.imag(w) * x[1]


def python_float_builtin_pow(x):
    v = float(x[0] - 1.0)
    w = pow(v, 0.5)
    return (w * w * w).imag


@pytest.mark.filterwarnings("ignore:Casting complex values")
@pytest.mark.parametrize("f", [python_float_pow_in_helper, python_float_builtin_pow], ids=lambda f: f.__name__)
def test_python_float_power_is_complex(f):
    x = np.array([2.5, 0.7]) if f is python_float_pow_in_helper else np.array([0.5, 0.7])
    _, g = dlfeval(_first, f, dlarray(x.copy()))
    assert_close(extractdata(g), numerical_gradient(lambda a: f(a.copy()), [x.copy()], 0), what=f.__name__)
