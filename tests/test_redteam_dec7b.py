"""Red team dec7b: ops and numerics against numpy and central differences, and MATLAB's dlarray fidelity.

Found and fixed (the op table below found no wrong first derivative or value):

1. ``W @ X`` (``np.matmul``, ``np.dot``, ``X.dot``) of a formatted dlarray gave an unformatted product, which
   ``softmax``/``fullyconnect``/``crossentropy`` then read in sct's default layout (batch first, channels
   last): MATLAB's ``crossentropy(softmax(W*X), T)`` of a 'CB' X — an error in MATLAB, whose mtimes takes a
   formatted dlarray only with an unformatted scalar — gave 2.4904 in sct (the softmax over the
   observations) where the labels ask for 1.4658.  Now refused, eagerly and in dlfeval at the user's line.
2. A reshape, transpose (``.T``), ``np.stack``, fancy indexing... of a formatted dlarray gives an unformatted
   one (MATLAB's reshape too), and the layout functions read it in sct's default layout, silently, where
   MATLAB refuses unformatted input: ``softmax(X.T)`` of a 'BC' X was the softmax over the observations.
   Such a value is now marked (eager: ``labels.LOST``; compiled: ``format_inference.LOST``) and a layout
   function given it without ``DataFormat=`` refuses it, naming the way out (label it, DataFormat=,
   stripdims).  Unformatted data that never had labels still run in the default layout.
3. layernorm of a 1-D image ('SCB') with OperationDimension="spatial-channel" normalised over C alone (4.5405
   for 11.3123): the default-layout function reads a 3-D array as (batch, time, channels).
4. In dlfeval, in-place writes into a formatted array (z[i] = v, +=, np.add.at, out=, z.sort(), z.fill),
   abs(x) / pow(x, 2), reductions with ddof= / where=, and formatted items of lists and dicts (append,
   sum(xs), d["k"] = v) lost their labels where Python keeps them, so softmax read them in the default
   layout: values other than Python's (0.8858 for 1.7465, 1.2623 for 1.7578, 0.6448 for 3.6323).
5. |x| and np.linalg.norm(x, 1 / inf) had second derivative 1 at 0 (Hessian of sum(w |x|) at 0 was w); 0 now.

Op table: reductions with axis tuples / keepdims / where= / initial=, sort / median / quantile, linalg
(norm ord/axis, inv, solve, det, slogdet, eigh, svd, cholesky, qr, pinv, lstsq), einsum traces and
ellipses, tensordot, kron, cumsum/cumprod, diff, convolve, correlate, polyval, interp, trapezoid, cross,
roll, flip, repeat, pad modes, take / take_along_axis, repeated fancy reads and writes, negative-step
slices, reshape/ravel order='F', swapaxes/moveaxis, stack/concatenate on negative axes; overflow-safe user
code (logsumexp, softmax, sigmoid at |x| = 1000); integer powers of negative bases, x**0, 0**y; Python and
integer and bool operands; complex inputs (MATLAB's convention); float32 end to end (value dtype as plain
numpy, gradient dtype float32).  Conventions at kinks (runtime/numpy_ops.py): max/min ties split the
adjoint equally, clip gives half of it at its bounds (since dec23, as maximum's ties), abs and sign have
derivative 0 at 0.
"""
import math

import numpy as np
import pytest

import sct
from sct import dims, dlarray, dlfeval, dlgradient, extractdata, stripdims
from tests.gradcheck import assert_close, check_grads, numerical_gradient

R = np.random.default_rng(7)

# --- the op table ---------------------------------------------------------------------------

A = R.standard_normal((3, 4)); B = R.standard_normal((4, 3)); V = R.standard_normal(5)
SQ = R.standard_normal((3, 3)); SPD = SQ @ SQ.T + 3 * np.eye(3)
T3 = R.standard_normal((2, 3, 4))
TIE = np.array([1.0, 3.0, 3.0, -2.0, 3.0]); TIE2 = np.array([[1.0, 2.0, 2.0], [0.5, 0.5, -1.0]])
Z = np.array([0.0, 1.5, -0.0, -2.0, 0.0])

def sum_axis_tuple(x): return np.sum(np.sum(x ** 2, axis=(0, -1), keepdims=True) * 1.5)
def sum_where(x): return np.sum(x ** 2, where=x > 0)
def sum_initial(x): return np.sum(x ** 2, initial=3.0)
def max_initial(x): return np.sum(np.max(x, axis=0, initial=0.5))
def max_where(x): return np.max(x, where=x < 1.0, initial=-10.0)
def mean_where(x): return np.mean(x ** 2, where=x > 0)
def prod_axis_neg(x): return np.sum(np.prod(x, axis=-2))
def max_ties_axis(x): return np.sum(np.max(x, axis=1) ** 2)
def min_ties_kd(x): return np.sum(np.min(x, axis=-1, keepdims=True) * x)
def amax_method(x): return x.max(axis=0).sum()
def sort_ties(x): return np.sum(np.sort(x) * np.arange(5.0))
def sort_axis0(x): return np.sum(np.sort(x, axis=0) * np.arange(6.0).reshape(2, 3))
def median_even(x): return np.median(x) ** 2
def median_odd(x): return np.median(x[:5]) * 3.0
def median_axis(x): return np.sum(np.median(x, axis=1) ** 2)
def percentile_lin(x): return np.percentile(x, 30.0)
def quantile_arr(x): return np.sum(np.quantile(x, [0.1, 0.5, 0.9]) ** 2)
def quantile_axis(x): return np.sum(np.quantile(x, 0.25, axis=0))
def abs_at0(x): return np.sum(np.abs(x) * np.arange(1.0, 6.0))
def maximum_ties(x): return np.sum(np.maximum(x, x[::-1]) * np.arange(1.0, 6.0))
def minimum_ties(x): return np.sum(np.minimum(x, 0.0) * np.arange(1.0, 6.0))
def norm_fro(x): return np.linalg.norm(x)
def norm_ord1(x): return np.linalg.norm(x, ord=1)
def norm_ordinf(x): return np.linalg.norm(x, ord=np.inf)
def norm_ord2(x): return np.linalg.norm(x, ord=2)
def norm_nuc(x): return np.linalg.norm(x, ord="nuc")
def norm_axis(x): return np.sum(np.linalg.norm(x, axis=0) ** 3)
def norm_axis_kd(x): return np.sum(x / np.linalg.norm(x, axis=1, keepdims=True))
def norm_vec3(x): return np.linalg.norm(x, 3)
def norm_vec_neginf(x): return np.linalg.norm(x, -np.inf)
def inv_(x): return np.sum(np.linalg.inv(x) * SQ)
def solve_(x): return np.sum(np.linalg.solve(x, np.arange(3.0)) ** 2)
def solve_mat(x): return np.sum(np.linalg.solve(x, SQ) ** 2)
def det_(x): return np.linalg.det(x)
def slogdet_(x): s, l = np.linalg.slogdet(x); return s * l
def eigh_(x): w, v = np.linalg.eigh(x + x.T); return np.sum(w ** 3)
def eigvalsh_(x): return np.sum(np.linalg.eigvalsh(x + x.T) * np.arange(3.0))
def svd_vals(x): return np.sum(np.linalg.svd(x, compute_uv=False) ** 3)
def cholesky_(x): return np.sum(np.linalg.cholesky(x @ x.T + 3 * np.eye(3)) * SQ)
def qr_(x): q, r = np.linalg.qr(x); return np.sum(r * np.triu(SQ[:, :3])) + np.sum(q[:, 0] ** 3)
def pinv_(x): return np.sum(np.linalg.pinv(x) * B)
def lstsq_(x): return np.sum(np.linalg.lstsq(x.T, np.arange(4.0), rcond=None)[0] ** 2)
def matrix_power_(x): return np.sum(np.linalg.matrix_power(x, 3))
def trace_(x): return np.trace(x @ x) + np.trace(x, offset=1)
def einsum_trace(x): return np.einsum("ii", x) * 2
def einsum_diag(x): return np.sum(np.einsum("ii->i", x) ** 2)
def einsum_ellipsis(x): return np.sum(np.einsum("...ij,jk->...ik", x, B) ** 2)
def einsum_outer_rep(x): return np.einsum("ij,ij->", x, x)
def einsum_batch(x): return np.sum(np.einsum("bij,bkj->bik", x, x))
def tensordot_(x): return np.sum(np.tensordot(x, B, axes=([1], [0])) ** 2)
def tensordot_int(x): return np.sum(np.tensordot(x, x, axes=2))
def kron_(x): return np.sum(np.kron(x, SQ[:2, :2]) ** 2)
def outer_(x): return np.sum(np.outer(x, x[:3]) ** 2)
def cumsum_axis(x): return np.sum(np.cumsum(x, axis=0) ** 2)
def cumsum_flat(x): return np.sum(np.cumsum(x) ** 2)
def cumprod_axis(x): return np.sum(np.cumprod(x, axis=-1))
def cumprod_zero(x): return np.sum(np.cumprod(x * np.array([1.0, 0.0, 1.0, 1.0, 1.0])))
def diff_n2(x): return np.sum(np.diff(x, n=2) ** 2)
def diff_axis0(x): return np.sum(np.diff(x, axis=0) ** 3)
def convolve_full(x): return np.sum(np.convolve(x, np.array([1.0, -2.0, 0.5])) ** 2)
def convolve_same(x): return np.sum(np.convolve(x, x[:3], mode="same") ** 2)
def convolve_valid(x): return np.sum(np.convolve(x[:3], x, mode="valid") ** 2)
def correlate_(x): return np.sum(np.correlate(x, x[1:4], mode="full") ** 2)
def polyval_(x): return np.sum(np.polyval(x[:3], V) ** 2)
def polyval_x(x): return np.sum(np.polyval(np.array([1.0, -2.0, 3.0]), x) ** 2)
def interp_(x): return np.sum(np.interp(np.array([0.5, 1.5, 3.2]), np.arange(5.0), x) ** 2)
def interp_at(x): return np.sum(np.interp(x, np.arange(-3.0, 3.0), np.arange(6.0) ** 2))
def trapezoid_dx(x): return np.sum(np.trapezoid(x ** 2, dx=0.5, axis=0))
def trapezoid_x(x): return np.trapezoid(x ** 2, x=np.array([0.0, 0.5, 1.5, 2.0, 4.0]))
def cross_(x): return np.sum(np.cross(x[:3], np.array([1.0, 2.0, 3.0])) ** 2)
def cross_rows(x): return np.sum(np.cross(x, x[::-1]) ** 2)
def roll_(x): return np.sum(np.roll(x, 2) * np.arange(5.0))
def roll_axis(x): return np.sum(np.roll(x, -1, axis=1) * A)
def roll_tuple(x): return np.sum(np.roll(x, (1, 2), axis=(0, 1)) * A)
def flip_(x): return np.sum(np.flip(x, axis=-1) * A)
def flip_all(x): return np.sum(np.flip(x) * A)
def repeat_(x): return np.sum(np.repeat(x, 3) * np.arange(15.0))
def repeat_arr(x): return np.sum(np.repeat(x, [1, 0, 2], axis=0) ** 2)
def pad_const(x): return np.sum(np.pad(x, ((1, 0), (2, 1)), constant_values=2.0) ** 2)
def pad_reflect(x): return np.sum(np.pad(x, 2, mode="reflect") * np.arange(9.0))
def pad_edge(x): return np.sum(np.pad(x, (1, 3), mode="edge") * np.arange(9.0))
def pad_wrap(x): return np.sum(np.pad(x, (2, 2), mode="wrap") * np.arange(9.0))
def pad_symmetric(x): return np.sum(np.pad(x, (2, 1), mode="symmetric") * np.arange(8.0))
def take_dup(x): return np.sum(np.take(x, [0, 2, 2, 4, 0]) * np.arange(5.0))
def take_axis(x): return np.sum(np.take(x, [1, 1, 0], axis=1) ** 2)
def take_along(x): return np.sum(np.take_along_axis(x, np.array([[0, 0, 3], [1, 1, 1], [2, 3, 0]]), axis=1) ** 2)
def where_bcast(x): return np.sum(np.where(x > 0, x, x[0] * 2.0) ** 2)
def where_scalar(x): return np.sum(np.where(x > 0.3, 1.0, x) ** 2)
def fancy_read_dup(x): return np.sum(x[np.array([0, 0, 3, 1])] * np.arange(4.0))
def bool_read(x): return np.sum(x[x > 0] ** 2)
def fancy_write_dup(x):
    y = np.zeros(5); y[np.array([1, 1, 3])] += x[:3]; return np.sum(y * np.arange(5.0))
def fancy_write_assign_dup(x):
    y = x.copy(); y[np.array([1, 1, 3])] = x[:3] * 2.0; return np.sum(y ** 2)
def add_at_dup(x):
    y = np.zeros(5); np.add.at(y, [1, 1, 3], x[:3]); return np.sum(y ** 2)
def neg_step(x): return np.sum(x[::-2] * np.arange(3.0)) + np.sum(x[3:0:-1] ** 2)
def newaxis_ellipsis(x): return np.sum(x[..., np.newaxis, 1:] * x[np.newaxis, :, None, :3])
def reshape_F2(x): return np.sum(np.reshape(x, (-1,), order="F") * np.arange(12.0))
def ravel_F(x): return np.sum(np.ravel(x, order="F") * np.arange(12.0))
def ravel_(x): return np.sum(x.ravel() ** 2 * np.arange(12.0))
def squeeze_(x): return np.sum(np.squeeze(x[:, None, :1], axis=(1, 2)) ** 3)
def swapaxes_(x): return np.sum(np.swapaxes(x, 0, -1) * np.arange(24.0).reshape(4, 3, 2))
def moveaxis_(x): return np.sum(np.moveaxis(x, 0, -1) * np.arange(24.0).reshape(3, 4, 2))
def moveaxis_multi(x): return np.sum(np.moveaxis(x, [0, 1], [-1, -2]) * np.arange(24.0).reshape(4, 3, 2))
def stack_neg(x): return np.sum(np.stack([x, x ** 2], axis=-1) * np.arange(2.0))
def concat_neg(x): return np.sum(np.concatenate([x, x ** 2], axis=-1) * np.arange(8.0))
def concat_none(x): return np.sum(np.concatenate([x, x ** 2], axis=None) * np.arange(24.0))
def expand_dims_tuple(x): return np.sum(np.expand_dims(x, (0, -1)) ** 2)
def broadcast_to_(x): return np.sum(np.broadcast_to(x, (2, 5)) * np.arange(10.0).reshape(2, 5))
def atleast2d(x): return np.sum(np.atleast_2d(x).T * np.arange(5.0)[:, None])
def triu_k(x): return np.sum(np.triu(x, k=-1) ** 2) + np.sum(np.tril(x, 1))
def diag_k(x): return np.sum(np.diag(x, k=1) ** 2) + np.sum(np.diagonal(x, offset=-1))
def diagflat_(x): return np.sum(np.diag(x[:3], k=-1) * np.arange(16.0).reshape(4, 4))

X5 = R.standard_normal(5); X6 = R.standard_normal((2, 3)); PERC = R.standard_normal(8)
A2 = R.standard_normal((3, 4))

BIG = np.array([800.0, -800.0, 0.5, 1000.0, -3.0])
NEG = np.array([-2.0, -0.5, 1.5, -3.0])
ZS = np.array([0.0, 0.5, 2.0])
def lse_user(x):
    m = np.max(x, axis=-1, keepdims=True)
    return np.sum(m + np.log(np.sum(np.exp(x - m), axis=-1, keepdims=True)))
def softmax_user(x):
    e = np.exp(x - np.max(x)); p = e / np.sum(e); return np.sum(p * np.arange(5.0))
def sigmoid_stable(x): return np.sum(np.where(x >= 0, 1 / (1 + np.exp(-np.abs(x))), np.exp(-np.abs(x)) / (1 + np.exp(-np.abs(x)))) * np.arange(5.0))
def logaddexp_(x): return np.sum(np.logaddexp(x, -x) * np.arange(5.0))
def logaddexp2_(x): return np.sum(np.logaddexp2(x, 0.0))
def softplus_(x): return np.sum(np.log1p(np.exp(-np.abs(x))) + np.maximum(x, 0.0))
def int_pow_neg(x): return np.sum(x ** 3) + np.sum(x ** 2)
def int_pow_neg_np(x): return np.sum(np.power(x, 3)) + np.sum(np.power(x, -2))
def pow_int_array(x): return np.sum(x ** np.array([1, 2, 3, 4]))
def pow_zero(x): return np.sum(x ** 0) + np.sum(x ** 0.0 * x)
def zero_pow_y(x): return np.sum(np.zeros(3) ** (x + 1.0))
def zero_base_pow(x): return np.sum(x ** 2.0)
def float_pow_neg_base_int_float(x): return np.sum(x ** 2.0 + x ** 3.0)
def sqrt_at_pos(x): return np.sum(np.sqrt(x + 1.0))
def cbrt_(x): return np.sum(np.cbrt(x))
def hypot_(x): return np.sum(np.hypot(x, 2.0 * x + 1.0))
def arctan2_(x): return np.sum(np.arctan2(x, x[::-1] + 3.0))
def py_int_mix(x): return np.sum(x * 3 + 2) ** 2 + int(2) * np.sum(x)
def bool_mix(x): return np.sum(x * (x > 0)) + np.sum(x * np.array([True, False, True, True, False]))
def int_array_mix(x): return np.sum(x * np.arange(5) + np.arange(5) // 2)
def true_div_int(x): return np.sum(np.arange(1, 6) / (x ** 2 + 1))
def floor_div(x): return np.sum(x // 0.7 + x)
def mod_(x): return np.sum(np.mod(x, 0.7) ** 2)
def fmod_(x): return np.sum(np.fmod(x, 0.7) ** 2)
def remainder_op(x): return np.sum((x % 0.7) * x)
def scalar_0d(x): return x * 2.0 + np.sum(np.float64(3.0) * x)
def float_item(x): return float(x[0]) * x[1] + x[2].item() ** 2
def math_fns(x): return math.exp(float(x[0])) + math.sin(x[1]) + math.hypot(float(x[2]), 2.0)
def expm1_log1p(x): return np.sum(np.expm1(x) * np.log1p(x ** 2))
def sinc_(x): return np.sum(np.sinc(x))
def tanh_big(x): return np.sum(np.tanh(x) * np.arange(5.0))
def exp_underflow(x): return np.sum(np.exp(-x ** 2))
def arcsinh_(x): return np.sum(np.arcsinh(x) * 2.0)
def nan_to_num_(x): return np.sum(np.nan_to_num(x) ** 2)
def real_if_complex(x): return np.sum(np.real(x) ** 2)
def heaviside_(x): return np.sum(np.heaviside(x, 0.5) * x ** 2)
def copysign_(x): return np.sum(np.copysign(x, -1.0) * np.arange(5.0))
def deg2rad_(x): return np.sum(np.sin(np.deg2rad(x * 30.0)))
def square_recip(x): return np.sum(np.square(x) + np.reciprocal(x ** 2 + 1))
def var_ddof(x): return np.var(x, ddof=1) + np.std(x, axis=0, ddof=1).sum()
def ptp_(x): return np.ptp(x * np.arange(5.0))
def average_w(x): return np.average(x, weights=np.arange(1.0, 6.0)) ** 2
def average_axis(x): return np.sum(np.average(x, axis=1, weights=np.arange(1.0, 5.0)) ** 2)
def dot_1d(x): return np.dot(x, x) + np.vdot(x, np.arange(5.0)) + np.inner(x, x)
def matmul_vec(x): return np.sum(np.matmul(x, np.ones((4, 2))) ** 2) + np.sum(x @ np.arange(4.0))
def logsumexp_axis0(x):
    m = np.max(x, axis=0)
    return np.sum(m + np.log(np.sum(np.exp(x - m), axis=0)))

C5 = R.standard_normal(5) + 1j * R.standard_normal(5)
CM = R.standard_normal((3, 3)) + 1j * R.standard_normal((3, 3))
def abs2(x): return np.sum(np.abs(x) ** 2)
def abs_(x): return np.sum(np.abs(x))
def real_imag(x): return np.sum(np.real(x) * np.imag(x) ** 2)
def conj_mul(x): return np.real(np.sum(x * np.conj(x) * np.arange(5.0)))
def exp_c(x): return np.real(np.sum(np.exp(x))) + np.imag(np.sum(np.log(x)))
def angle_(x): return np.sum(np.angle(x) ** 2)
def vdot_c(x): return np.real(np.vdot(x, x * 2j + 1))
def matmul_c(x): return np.sum(np.abs(x @ x) ** 2)
def inv_c(x): return np.real(np.trace(np.linalg.inv(x + 3 * np.eye(3))))
def det_c(x): return np.abs(np.linalg.det(x))
def fft_(x): return np.sum(np.abs(np.fft.fft(x)) ** 2 * np.arange(5.0))
def ifft_real(x): return np.sum(np.real(np.fft.ifft(x)) * np.arange(5.0))
def sqrt_c(x): return np.sum(np.abs(np.sqrt(x)) ** 3)
def pow_c(x): return np.real(np.sum(x ** 3)) + np.imag(np.sum(x ** 2.5))
def sign_c(x): return np.real(np.sum(np.sign(x) * np.arange(5.0)))
def norm_c(x): return np.linalg.norm(x)
def einsum_c(x): return np.real(np.einsum("ij,ji->", x, np.conj(x)))
def cumsum_c(x): return np.sum(np.abs(np.cumsum(x)) ** 2)
def x_dot_T(x): return np.real(np.sum(x.T * x.conj()))
def reciprocal_c(x): return np.real(np.sum(1.0 / x))
def sinh_c(x): return np.imag(np.sum(np.sinh(x) * np.cos(x)))
def abs_sq_mean(x): return np.mean(np.abs(x - np.mean(x)) ** 2)

OPS = [("sum_axis_tuple", T3), ("sum_where", A), ("sum_initial", A), ("max_initial", A), ("max_where", A),
 ("mean_where", A), ("prod_axis_neg", T3), ("max_ties_axis", TIE2), ("min_ties_kd", TIE2),
 ("amax_method", TIE2), ("sort_ties", X5), ("sort_axis0", X6), ("median_even", PERC), ("median_odd", PERC),
 ("median_axis", A), ("percentile_lin", PERC), ("quantile_arr", PERC), ("quantile_axis", A), ("abs_at0", Z),
 ("maximum_ties", TIE), ("minimum_ties", Z), ("norm_fro", A), ("norm_ord1", A), ("norm_ordinf", A), ("norm_ord2", A), ("norm_nuc", A), ("norm_axis", A),
 ("norm_axis_kd", A), ("norm_vec3", X5), ("norm_vec_neginf", X5), ("inv_", SPD), ("solve_", SPD), ("solve_mat", SPD),
 ("det_", SQ), ("slogdet_", SQ), ("eigh_", SQ), ("eigvalsh_", SQ), ("svd_vals", A), ("cholesky_", SQ), ("qr_", B),
 ("pinv_", A), ("lstsq_", A), ("matrix_power_", SQ), ("trace_", SQ), ("einsum_trace", SQ), ("einsum_diag", SQ),
 ("einsum_ellipsis", T3), ("einsum_outer_rep", A), ("einsum_batch", T3), ("tensordot_", A), ("tensordot_int", A),
 ("kron_", X6), ("outer_", X5), ("cumsum_axis", A), ("cumsum_flat", A), ("cumprod_axis", A), ("cumprod_zero", X5),
 ("diff_n2", X5), ("diff_axis0", A), ("convolve_full", X5), ("convolve_same", X5), ("convolve_valid", X5),
 ("correlate_", X5), ("polyval_", X5), ("polyval_x", X5), ("interp_", X5), ("interp_at", X5 * 2), ("trapezoid_dx", A),
 ("trapezoid_x", X5), ("cross_", X5), ("cross_rows", SQ), ("roll_", X5), ("roll_axis", A), ("roll_tuple", A),
 ("flip_", A), ("flip_all", A), ("repeat_", X5), ("repeat_arr", SQ), ("pad_const", A), ("pad_reflect", X5),
 ("pad_edge", X5), ("pad_wrap", X5), ("pad_symmetric", X5), ("take_dup", X5), ("take_axis", A), ("take_along", SQ.repeat(2, 1)[:, :4]),
 ("where_bcast", A), ("where_scalar", A), ("fancy_read_dup", X5), ("bool_read", A),
 ("fancy_write_dup", X5), ("fancy_write_assign_dup", X5), ("add_at_dup", X5), ("neg_step", X5),
 ("newaxis_ellipsis", A), ("reshape_F2", A), ("ravel_F", A), ("ravel_", A), ("squeeze_", A),
 ("swapaxes_", T3), ("moveaxis_", T3), ("moveaxis_multi", T3), ("stack_neg", A), ("concat_neg", A), ("concat_none", A),
 ("expand_dims_tuple", A), ("broadcast_to_", X5), ("atleast2d", X5), ("triu_k", SQ), ("diag_k", SQ), ("diagflat_", X5)]

NUMERICS = [("lse_user", BIG.reshape(1, 5)), ("softmax_user", BIG), ("sigmoid_stable", BIG), ("logaddexp_", BIG),
 ("logaddexp2_", BIG), ("softplus_", BIG), ("int_pow_neg", NEG),
 ("int_pow_neg_np", NEG), ("pow_int_array", NEG), ("pow_zero", np.array([0.0, -1.0, 2.0])), ("zero_pow_y", ZS),
 ("zero_base_pow", ZS), ("float_pow_neg_base_int_float", NEG), ("sqrt_at_pos", ZS), ("cbrt_", NEG),
 ("hypot_", X5), ("arctan2_", X5), ("py_int_mix", X5), ("bool_mix", X5), ("int_array_mix", X5), ("true_div_int", X5),
 ("floor_div", X5), ("mod_", X5), ("fmod_", X5), ("remainder_op", X5), ("scalar_0d", np.array(0.7)),
 ("float_item", X5), ("math_fns", X5), ("expm1_log1p", X5), ("sinc_", X5), ("tanh_big", BIG), ("exp_underflow", BIG),
 ("arcsinh_", X5), ("nan_to_num_", X5), ("heaviside_", X5), ("copysign_", X5), ("deg2rad_", X5),
 ("square_recip", X5), ("var_ddof", A2), ("ptp_", X5), ("average_w", X5), ("average_axis", A2), ("dot_1d", X5),
 ("matmul_vec", A), ("logsumexp_axis0", np.array([[700.0, -5.0], [699.0, 3.0]]))]

COMPLEX = [(n, C5) for n in ("abs2", "abs_", "real_imag", "conj_mul", "exp_c", "angle_", "vdot_c", "fft_", "ifft_real",
                              "sqrt_c", "pow_c", "sign_c", "norm_c", "cumsum_c", "reciprocal_c", "sinh_c", "abs_sq_mean")] + \
    [(n, CM) for n in ("matmul_c", "inv_c", "det_c", "einsum_c", "x_dot_T")]


A3 = R.standard_normal((3, 4)); T33 = R.standard_normal((2, 3, 4)); X53 = R.standard_normal(5); SQ3 = R.standard_normal((3, 3))
NANV = np.array([1.0, np.nan, -2.0, 0.5, np.nan])
def norm_axis_tuple(x): return np.sum(np.linalg.norm(x, axis=(1, 2)) ** 2) + np.sum(np.linalg.norm(x, ord=1, axis=(-2, -1)))
def norm_axis_tuple_nuc(x): return np.sum(np.linalg.norm(x, ord="nuc", axis=(0, 2)))
def matrix_norm_(x): return np.sum(np.linalg.matrix_norm(x)) + np.sum(np.linalg.vector_norm(x, ord=3, axis=-1))
def vector_norm_all(x): return np.linalg.vector_norm(x, ord=np.inf) + np.linalg.vector_norm(x, keepdims=True).sum()
def mean_dtype(x): return np.mean(x * x, dtype=np.float64)
def max_axis_tuple(x): return np.sum(np.max(x, axis=(0, 2)) ** 2) + np.sum(np.min(x, axis=(-1, 0), keepdims=True))
def gather_argmax(x): return np.sum(np.take_along_axis(x, np.argmax(x, axis=1)[:, None], axis=1) ** 2)
def sort_desc(x): return np.sum(np.sort(x)[::-1] * np.arange(5.0))
def partition_(x): return np.sum(np.partition(x, 2)[:2] ** 2)
def nanstd_(x): return np.nanstd(x) + np.nanvar(x)
def gradient_(x): return np.sum(np.gradient(x) ** 2) + np.sum(np.gradient(x, 0.5) * np.arange(5.0))
def gradient2d(x): return np.sum(np.gradient(x, axis=1) ** 2)
def multi_dot_(x): return np.sum(np.linalg.multi_dot([x, x.T, x]) ** 2)
def vecdot_(x): return np.sum(np.vecdot(x, x[::-1]) ** 2)
def cumulative_sum_(x): return np.sum(np.cumulative_sum(x, axis=1, include_initial=True) ** 2)
def trace_axes(x): return np.sum(np.trace(x, axis1=1, axis2=2) ** 2) + np.sum(np.trace(x, offset=-1, axis1=0, axis2=2))
def einsum_opt(x): return np.einsum("ij,jk,kl->", x, x.T, x, optimize=True)
def einsum_rep_operand(x): return np.einsum("i,i,i->", x, x, x)
def round_(x): return np.sum(np.round(x, 1) * x) + np.sum(np.floor(x) + np.ceil(x) * x)
def methods_(x): return x.clip(-0.5, 0.5).sum() + (x.cumsum(axis=1) ** 2).sum() + x.prod(axis=0).sum()
def methods_sq(x): return x.trace() + (x.diagonal(1) ** 2).sum() + x.T.dot(x).sum() + x.max(axis=1, keepdims=True).mean()
def rot90_(x): return np.sum(np.rot90(x, k=3) * np.arange(12.0).reshape(4, 3)) + np.sum(np.fliplr(x) * A3)
def select_(x): return np.sum(np.select([x < -0.5, x > 0.5], [x ** 2, 2 * x], default=x ** 3))
def piecewise_(x): return np.sum(np.piecewise(x, [x < 0, x >= 0], [lambda t: t ** 2, lambda t: np.sin(t)]))
def where_one_chain(x): return np.sum(x[np.where(x > 0)] ** 2)
def meshgrid_(x): a, b = np.meshgrid(x[:3], x[3:]); return np.sum(a * b ** 2)
def atleast3(x): return np.sum(np.atleast_3d(x) * 2.0) + np.sum(np.block([[x, x], [x, x]]) ** 2)
def split_(x): a, b = np.split(x, [2], axis=1); return np.sum(a ** 2) + np.sum(np.array_split(b, 3, axis=0)[1] ** 3)
def hsplit_(x): return sum(np.sum(p ** 2) * (i + 1) for i, p in enumerate(np.hsplit(x, 2)))
def append_insert(x): return np.sum(np.append(x, x[:2] * 2) ** 2) + np.sum(np.insert(x, 1, 5.0) * np.arange(6.0))
def delete_(x): return np.sum(np.delete(x, [0, 2]) ** 2)
def unique_vals(x): return np.sum(np.unique(np.round(x, 0)) * 1.0) + np.sum(x)
def triu_indices(x): return np.sum(x[np.triu_indices(3, 1)] ** 2)
def ix_(x): return np.sum(x[np.ix_([0, 2], [1, 1, 3])] ** 2)
def float_power(x): return np.sum(np.float_power(np.abs(x) + 1, 1.5)) + np.sum(np.power(2.0, x))
def exp2_log2(x): return np.sum(np.exp2(x) + np.log2(x ** 2 + 1) + np.log10(x ** 2 + 2))
def fmax_nan(x): return np.sum(np.fmax(x, np.array([np.nan, 0.0, np.nan, -1.0, 2.0])))
def ldexp_(x): return np.sum(np.ldexp(x, 3))
def corrcoef_(x): return np.sum(np.corrcoef(x) ** 2)
def cov_(x): return np.sum(np.cov(x) * np.arange(9.0).reshape(3, 3)) + np.sum(np.cov(x, rowvar=False, ddof=0))
def logical_mask_write(x):
    y = x.copy(); y[y < 0] = 0.0; y[..., 1] *= 2.0; return np.sum(y ** 2)
def neg_index_write(x):
    y = np.zeros((3, 4)); y[::-1, ::2] = x[:, :2]; y[-1] += 1.0; return np.sum(y * A3)
def dup_add_2d(x):
    y = np.zeros((3, 4)); y[[0, 0, 2], [1, 1, 3]] += x[0, :3]; return np.sum(y * A3)
def dup_sub_2d(x):
    y = x.copy(); y[[1, 1], :] -= x[0]; return np.sum(y ** 2)
def dup_mul(x):
    y = x.copy(); y[[0, 0, 1]] *= 3.0; return np.sum(y * A3)
def dup_assign_last_wins(x):
    y = np.zeros(4); y[[1, 1, 2]] = x[[0, 3, 4]]; return np.sum(y * np.arange(4.0))


MORE = [("norm_axis_tuple", T33), ("norm_axis_tuple_nuc", T33), ("matrix_norm_", T33), ("vector_norm_all", A3),
 ("mean_dtype", T33), ("max_axis_tuple", T33), ("gather_argmax", A3), ("sort_desc", X53),
 ("partition_", X53), ("nanstd_", NANV), ("gradient_", X53), ("gradient2d", A3),
 ("multi_dot_", A3), ("vecdot_", A3), ("cumulative_sum_", A3), ("trace_axes", R.standard_normal((3, 3, 3))),
 ("einsum_opt", A3), ("einsum_rep_operand", X53), ("round_", A3), ("methods_", A3), ("methods_sq", SQ3), ("rot90_", A3),
 ("select_", A3), ("piecewise_", X53), ("where_one_chain", A3), ("meshgrid_", X53), ("atleast3", A3),
 ("split_", R.standard_normal((3, 4))), ("hsplit_", A3), ("append_insert", X53), ("delete_", X53), ("unique_vals", X53),
 ("triu_indices", SQ3), ("ix_", A3), ("float_power", X53), ("exp2_log2", X53), ("fmax_nan", X53),
 ("ldexp_", X53), ("corrcoef_", A3), ("cov_", A3), ("logical_mask_write", A3), ("neg_index_write", A3), ("dup_add_2d", A3), ("dup_sub_2d", A3),
 ("dup_mul", A3), ("dup_assign_last_wins", X53)]


# batched linear algebra and products
BM = R.standard_normal((2, 3, 3)) + 3 * np.eye(3); BV = R.standard_normal((2, 3)); B4 = R.standard_normal((2, 3, 4))
def binv(x): return np.sum(np.linalg.inv(x) ** 2)
def bdet(x): return np.sum(np.linalg.det(x) ** 2)
def bslogdet(x): s, l = np.linalg.slogdet(x); return np.sum(s * l)
def bsolve_vec(x): return np.sum(np.linalg.solve(x, BV[..., None])[..., 0] ** 2)
def bsolve_mat(x): return np.sum(np.linalg.solve(x, B4) ** 2)
def beigh(x): return np.sum(np.linalg.eigvalsh(x + np.swapaxes(x, -1, -2)) ** 3)
def bsvd(x): return np.sum(np.linalg.svd(x, compute_uv=False) ** 2)
def bchol(x): return np.sum(np.linalg.cholesky(x @ np.swapaxes(x, -1, -2)) ** 2)
def bqr(x): q, r = np.linalg.qr(x); return np.sum(r ** 2) + np.sum(np.abs(np.diagonal(r, axis1=-2, axis2=-1)))
def bpinv(x): return np.sum(np.linalg.pinv(x) ** 2)
def bmatmul_bcast(x): return np.sum((x @ BV[:, :, None]) ** 2) + np.sum(np.matmul(BV[0], x) ** 2)
def bmatmul_1d(x): return np.sum((x @ np.arange(3.0)) ** 2) + np.sum(np.arange(3.0) @ x)
def beinsum_ell(x): return np.sum(np.einsum("...ij,...jk->...ik", x, x) ** 2)
def beinsum_bcast(x): return np.sum(np.einsum("bij,j->bi", x, np.arange(3.0)) ** 2)
def bnorm_batch(x): return np.sum(np.linalg.norm(x, axis=(-2, -1)) ** 3)
def bmatrix_power(x): return np.sum(np.linalg.matrix_power(x, 2) ** 2)
def bmatrix_power_neg(x): return np.sum(np.linalg.matrix_power(x, -1))
def btrace(x): return np.sum(np.trace(x, axis1=-2, axis2=-1) ** 2)
def bdiagonal(x): return np.sum(np.diagonal(x, axis1=1, axis2=2) ** 3)
def bsolve_triangular_like(x): return np.sum(np.linalg.solve(np.triu(x), BV[..., None]) ** 2)
def bdet_singular(x): return np.linalg.det(x * np.array([1.0, 1.0, 0.0])[None, :])
def bouter_batched(x): return np.sum(np.einsum("bi,bj->bij", x[:, :, 0], x[:, 0, :]) ** 2)
def bkron(x): return np.sum(np.kron(x[0], np.eye(2)) ** 2)
def btensordot(x): return np.sum(np.tensordot(x, x, axes=([1, 2], [1, 2])) ** 2)
def binner(x): return np.sum(np.inner(x[0], x[1]) ** 2)
def bvdot(x): return np.vdot(x, x[::-1])


BATCHED = [(n, BM) for n in ("binv", "bdet", "bslogdet", "bsolve_vec", "bsolve_mat", "beigh", "bsvd", "bchol", "bqr", "bpinv",
         "bmatmul_bcast", "bmatmul_1d", "beinsum_ell", "beinsum_bcast", "bnorm_batch", "bmatrix_power", "bmatrix_power_neg",
         "btrace", "bdiagonal", "bsolve_triangular_like", "bouter_batched", "bkron", "btensordot", "binner", "bvdot")] + \
        [("bdet_singular", R.standard_normal((3, 3)))]


def _ids(table):
    return [n for n, _ in table]


@pytest.mark.parametrize("name, x", OPS + NUMERICS + COMPLEX + MORE + BATCHED,
                         ids=_ids(OPS + NUMERICS + COMPLEX + MORE + BATCHED))
def test_op_value_and_gradient_match_numpy_and_differences(name, x):
    with np.errstate(over="ignore", under="ignore"):
        check_grads(globals()[name], x)


F32 = ["sum_axis_tuple", "sum_where", "max_initial", "median_even", "quantile_arr", "norm_ord2", "inv_", "slogdet_",
       "eigh_", "svd_vals", "einsum_ellipsis", "cumprod_axis", "convolve_same", "interp_", "pad_reflect",
       "fancy_write_dup", "reshape_F2", "lse_user", "softmax_user", "sigmoid_stable", "int_pow_neg_np",
       "pow_int_array", "int_array_mix", "true_div_int", "average_w", "var_ddof"]


def _value_and_gradient(f, x):
    y = f(x)
    return y, dlgradient(y, x)


@pytest.mark.parametrize("name", F32)
def test_float32_end_to_end(name):
    """float32 in: the value in the dtype plain numpy gives, the gradient float32 and close to float64's."""
    f = globals()[name]
    x = dict(OPS + NUMERICS)[name]
    x32 = np.asarray(x, np.float32)
    with np.errstate(over="ignore", under="ignore"):
        y, g = dlfeval(_value_and_gradient, f, dlarray(x32))
        _, g64 = dlfeval(_value_and_gradient, f, dlarray(x32.astype(np.float64)))
        plain = f(x32)
    assert extractdata(g).dtype == np.float32
    assert np.asarray(extractdata(y)).dtype == np.asarray(plain).dtype
    assert_close(extractdata(y), plain, rtol=1e-5, atol=1e-5)
    assert_close(extractdata(g), extractdata(g64), rtol=2e-3, atol=2e-3)


# --- conventions at kinks (runtime/numpy_ops.py's docstring), against closed forms ----------------------

def max_of(x):
    return np.max(x) * 2.0


def max_rows(x):
    return np.sum(np.max(x, axis=1) ** 2)


def clip_weighted(x):
    return np.sum(np.clip(x, -0.0, 1.5) * np.arange(1.0, 6.0))


def abs_sign_weighted(x):
    return np.sum(np.abs(x) * np.arange(1.0, 6.0)) + np.sum(np.sign(x) * x ** 2)


def test_ties_and_kinks_follow_the_documented_conventions():
    tie = np.array([1.0, 3.0, 3.0, -2.0, 3.0])
    _, g = dlfeval(_value_and_gradient, max_of, dlarray(tie))
    assert_close(extractdata(g), 2.0 * (tie == 3.0) / 3)            # the adjoint split over the ties
    tie2 = np.array([[1.0, 2.0, 2.0], [0.5, 0.5, -1.0]])
    _, g = dlfeval(_value_and_gradient, max_rows, dlarray(tie2))
    assert_close(extractdata(g), np.array([[0, 2.0, 2.0], [0.5, 0.5, 0]]))
    c = np.array([0.0, 1.5, -0.5, 1.5, 0.7])
    _, g = dlfeval(_value_and_gradient, clip_weighted, dlarray(c))
    assert_close(extractdata(g), np.array([0.5, 1.0, 0.0, 2.0, 5.0]))    # half at a bound (dec23), as maximum
    z = np.array([0.0, 1.5, -0.0, -2.0, 0.0])
    _, g = dlfeval(_value_and_gradient, abs_sign_weighted, dlarray(z))
    assert_close(extractdata(g), np.sign(z) * np.arange(1.0, 6.0) + 2 * np.abs(z))   # 0 at 0


def put_along(x):
    y = x.copy()
    np.put_along_axis(y, np.array([[0], [2], [1]]), 7.0, axis=1)
    return np.sum(y * x)


def frexp_(x):
    # (was divmod, which has a rule since Dec 12: tests/test_refusals_dec12.py; then modf, which has
    # one since stop 47: tests/test_rules_s47.py)
    m, e = np.frexp(x)
    return np.sum(m ** 2 + e)


@pytest.mark.parametrize("fun, construct", [(put_along, "put_along_axis"), (frexp_, "frexp")])
def test_unmodelled_ops_are_refused_at_the_line(fun, construct):
    with pytest.raises(sct.CompileError, match=construct) as info:
        dlfeval(_value_and_gradient, fun, dlarray(np.eye(3)))
    assert info.value.filename == __file__


# --- formats: @ of a formatted dlarray (MATLAB's mtimes refuses it) ---------------------------------------

FR = np.random.default_rng(71)
XF = FR.standard_normal((3, 4))                     # 'CB': 3 channels, 4 observations
WF = FR.standard_normal((3, 3))
TF = np.eye(3)[:, FR.integers(0, 3, 4)]             # one-hot, 'CB'


def _ce_cb(z, t):
    """MATLAB's crossentropy(softmax(Z), T) of 'CB' data, by hand."""
    e = np.exp(z - z.max(axis=0, keepdims=True))
    return -np.sum(t * np.log(e / e.sum(axis=0, keepdims=True))) / z.shape[1]


def matmul_loss(x):
    z = WF @ x
    loss = sct.crossentropy(sct.softmax(z), TF)
    return loss, dlgradient(loss, x)


def np_matmul_loss(x):
    z = np.matmul(WF, x)
    return np.sum(sct.softmax(z) ** 2)


def np_dot_loss(x):
    z = np.dot(WF, x)
    return np.sum(z)


def dot_method_loss(x):
    z = x.dot(np.ones((4, 2)))
    return np.sum(z)


def matmul_stripped(x):
    z = dlarray(WF @ stripdims(x), "CB")             # the way out: strip, multiply, label
    loss = sct.crossentropy(sct.softmax(z), TF)
    return loss, dlgradient(loss, x)


@pytest.mark.parametrize("fun, what", [(matmul_loss, "@"), (np_matmul_loss, "np.matmul"), (np_dot_loss, "np.dot"),
                                       (dot_method_loss, ".dot")])
def test_matmul_of_formatted_is_refused_in_dlfeval(fun, what):
    with pytest.raises(sct.CompileError, match="MATLAB's mtimes") as info:
        dlfeval(fun, dlarray(XF, "CB"))
    assert info.value.filename == __file__ and what in str(info.value)


def test_matmul_of_formatted_is_refused_eagerly():
    X = dlarray(XF, "CB")
    for f in (lambda: WF @ X, lambda: X @ np.ones((4, 2)), lambda: np.matmul(WF, X), lambda: np.dot(WF, X),
              lambda: X.dot(np.ones((4, 2))), lambda: dlarray(WF) @ X):
        with pytest.raises(ValueError, match="MATLAB's mtimes"):
            f()
    # before: crossentropy(softmax(W @ X), T) read the (C, B) product as (B, C): 2.4904 for 1.4658
    assert_close(float(np.dot(X, 2.0).sum()), 2 * XF.sum())          # a scalar operand is MATLAB's too
    assert dims(dlarray(WF) @ dlarray(XF)) == "" and dims(np.dot(WF, stripdims(X))) == ""


def test_matmul_after_stripdims_and_relabel_is_exact():
    loss, g = dlfeval(matmul_stripped, dlarray(XF, "CB"))
    assert_close(float(loss), _ce_cb(WF @ XF, TF))
    assert_close(extractdata(g), numerical_gradient(lambda x: _ce_cb(WF @ x, TF), [XF], 0))
    Y = dlarray(WF @ stripdims(dlarray(XF, "CB")), "CB")
    assert_close(float(sct.crossentropy(sct.softmax(Y), TF)), _ce_cb(WF @ XF, TF))


# --- formats: labels lost by reshape / transpose / stack / fancy indexing, then read by a layout function ---

XB = FR.standard_normal((4, 3))                       # 'BC': 4 observations, 3 channels
XS = FR.standard_normal((5, 5, 2, 3))                 # 'SSCB'
WC = FR.standard_normal((2, 2, 2, 4))
FCW = FR.standard_normal((2, 3))
FCB = FR.standard_normal(2)


def lost_transpose(x):
    loss = np.sum(sct.softmax(x.T) ** 2)
    return loss, dlgradient(loss, x)


def lost_np_transpose(x):
    y = np.transpose(x)
    loss = np.sum(sct.softmax(y) ** 2)
    return loss, dlgradient(loss, x)


def lost_reshape(x):
    y = np.reshape(x, (3, 4))
    loss = np.sum(sct.fullyconnect(y, np.ones((2, 4)), FCB) ** 2)
    return loss, dlgradient(loss, x)


def lost_reshape_method(x):
    y = x.reshape(-1, 3)
    loss = sct.crossentropy(sct.softmax(y), np.eye(3)[[0, 1, 2, 0]])
    return loss, dlgradient(loss, x)


def lost_stack(x):
    y = np.stack([x, x], axis=0)[0]
    loss = np.sum(sct.softmax(y) ** 2)
    return loss, dlgradient(loss, x)


def lost_fancy(x):
    y = x[[3, 2, 1, 0]]
    loss = np.sum(sct.softmax(y) ** 2)
    return loss, dlgradient(loss, x)


def lost_then_elementwise(x):
    y = np.exp(x.T) * 2.0 + 1.0
    z = -y
    loss = np.sum(sct.softmax(z) ** 2)
    return loss, dlgradient(loss, x)


def lost_swapaxes(x):
    y = np.swapaxes(x, 0, 1)
    loss = sct.mse(y, np.zeros((3, 4)))
    return loss, dlgradient(loss, x)


def lost_image(x):
    y = np.moveaxis(x, -1, 0)                       # 'SSCB' arranged as sct's BSSC, but unlabelled
    loss = np.sum(sct.dlconv(y, WC, 0.0) ** 2)
    return loss, dlgradient(loss, x)


def lost_lstm(x):
    y = np.transpose(x)
    out = sct.lstm(y, np.zeros(2), np.zeros(2), np.ones((8, 4)), np.ones((8, 2)), np.zeros(8), nargout=3)
    loss = np.sum(out[0] ** 2)
    return loss, dlgradient(loss, x)


LOST_CASES = [(lost_transpose, XB, "BC", "softmax"), (lost_np_transpose, XB, "BC", "softmax"),
              (lost_reshape, XB, "BC", "fullyconnect"), (lost_reshape_method, XB, "BC", "softmax"),
              (lost_stack, XB, "BC", "softmax"), (lost_fancy, XB, "BC", "softmax"),
              (lost_then_elementwise, XB, "BC", "softmax"), (lost_swapaxes, XB, "BC", "mse"),
              (lost_image, XS, "SSCB", "dlconv"), (lost_lstm, XF, "CB", "lstm")]


@pytest.mark.parametrize("fun, x, fmt, fname", LOST_CASES, ids=[c[0].__name__ for c in LOST_CASES])
def test_lost_labels_are_refused_in_dlfeval(fun, x, fmt, fname):
    with pytest.raises(sct.CompileError, match=f"{fname}: (its input is unformatted because|the format of its input "
                       "is not known)") as info:          # (x[[3, 2, 1, 0]]: an index sct does not type)
        dlfeval(fun, dlarray(x, fmt))
    assert info.value.filename == __file__


@pytest.mark.parametrize("fun, x, fmt, fname", LOST_CASES, ids=[c[0].__name__ for c in LOST_CASES])
def test_lost_labels_are_refused_eagerly(fun, x, fmt, fname):
    with pytest.raises(ValueError, match=f"{fname}: its input is unformatted because"):
        fun(dlarray(x, fmt))


def test_lost_labels_silently_wrong_before():
    """softmax(X.T) of a 'BC' X: the unformatted (C, B) transpose read as (B, C) was the softmax over the
    observations; by its labels (MATLAB) it is over the channels."""
    e = np.exp(XB.T - XB.T.max(axis=1, keepdims=True))
    read_as_default = e / e.sum(axis=1, keepdims=True)             # what sct computed before
    e = np.exp(XB.T - XB.T.max(axis=0, keepdims=True))
    by_labels = e / e.sum(axis=0, keepdims=True)
    assert not np.allclose(read_as_default, by_labels)
    Y = sct.softmax(dlarray(np.transpose(stripdims(dlarray(XB, "BC"))), "CB"))   # the way out: relabel
    assert dims(Y) == "CB"
    assert_close(extractdata(Y), by_labels)


# the ways out, and what stays allowed
def ok_relabel(x):
    y = dlarray(x.T, "CB")
    loss = np.sum(sct.softmax(y) ** 3)
    return loss, dlgradient(loss, x)


def ok_dataformat(x):
    y = x.T
    loss = np.sum(sct.softmax(y, DataFormat="CB") ** 3)
    return loss, dlgradient(loss, x)


def ok_stripdims(x):
    y = stripdims(x.T)                                # read in the default layout, on purpose
    loss = np.sum(sct.softmax(y) ** 3)
    return loss, dlgradient(loss, x)


def ok_scalar_from_formatted(x):
    s = x[0, 0]
    y = np.ones((4, 3)) * s + np.zeros(x.shape)
    loss = np.sum(sct.softmax(y * x[1, 1]) ** 3)
    return loss, dlgradient(loss, x)


def ok_kept(x):
    y = np.concatenate([x, x * 2.0], axis=0)            # cat keeps 'BC'
    z = np.sum(y, axis=0, keepdims=True) + y[1:3, :]
    loss = np.sum(sct.softmax(z) ** 3)
    return loss, dlgradient(loss, x)


def ok_never_formatted(x):
    y = stripdims(x).reshape(4, 3)
    loss = np.sum(sct.softmax(y) ** 3)
    return loss, dlgradient(loss, x)


def _sm_rows(z):
    e = np.exp(z - z.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


OK_CASES = [(ok_relabel, lambda x: np.sum(_sm_rows(x) ** 3)),
            (ok_dataformat, lambda x: np.sum(_sm_rows(x) ** 3)),
            (ok_stripdims, lambda x: np.sum(_sm_rows(x.T) ** 3)),
            (ok_scalar_from_formatted, lambda x: np.sum(_sm_rows(np.ones((4, 3)) * x[0, 0] * x[1, 1]) ** 3)),
            (ok_kept, lambda x: np.sum(_sm_rows(np.concatenate([x, 2 * x]).sum(0, keepdims=True)
                                                + np.concatenate([x, 2 * x])[1:3]) ** 3)),
            (ok_never_formatted, lambda x: np.sum(_sm_rows(x) ** 3))]


@pytest.mark.parametrize("fun, ref", OK_CASES, ids=[c[0].__name__ for c in OK_CASES])
def test_ways_out_and_kept_labels_are_exact(fun, ref):
    y, g = dlfeval(fun, dlarray(XB, "BC"))
    assert_close(float(y), ref(XB))
    assert_close(extractdata(g), numerical_gradient(ref, [XB], 0))


def test_lost_mark_is_invisible_elsewhere():
    X = dlarray(XB, "BC")
    Y = X.T
    assert dims(Y) == "" and sct.finddim(Y, "C") == [] and Y.shape == (3, 4)
    assert_close(extractdata(Y + 1.0), XB.T + 1.0)
    assert dims(dlarray(Y, "CB")) == "CB" and dims(stripdims(Y)) == ""
    assert dims(np.sum(Y)) == "" and float(np.sum(Y)) == pytest.approx(XB.sum())
    # unformatted data that never had labels: the default layout, as before
    assert_close(extractdata(sct.softmax(dlarray(XB).T)), _sm_rows(XB.T))


# --- no rule: refused at the line, never a zero derivative ---------------------------------------------

def no_rule_unwrap(x):
    return np.sum(np.unwrap(x * 3.0))


def no_rule_trim_zeros(x):
    # (bincount's weights and np.extract have rules since Dec 12: tests/test_refusals_dec12.py)
    return np.sum(np.trim_zeros(x) ** 2)


def no_rule_spacing(x):
    return np.sum(np.spacing(x) * x)


@pytest.mark.parametrize("fun, op", [(no_rule_unwrap, "unwrap"), (no_rule_trim_zeros, "trim_zeros"),   # (resize, i0:
                                     # rules since stop 47, tests/test_rules_s47.py)
                                     (no_rule_spacing, "spacing")])
def test_ops_without_a_rule_are_refused(fun, op):
    with pytest.raises(sct.CompileError, match=f"no derivative rule for np.{op}") as info:
        dlfeval(_value_and_gradient, fun, dlarray(np.array([0.3, -1.2, 2.0, 0.5, -0.1])))
    assert info.value.filename == __file__


# --- MATLAB's definitions of the losses on formatted data: N is the size of B ----------------------------

LR = np.random.default_rng(3)
LY, LT = LR.random((3, 5)), LR.random((3, 5))
LY3 = LR.random((3, 2, 4))
LP3 = np.exp(LY3) / np.exp(LY3).sum(0)
LT3 = np.eye(3)[:, LR.integers(0, 3, (2, 4))]
LX4, LT4 = LR.random((2, 2, 3, 4)), LR.random((2, 2, 3, 4))
LOSSES = [
    ("mse CB", lambda: sct.mse(dlarray(LY, "CB"), LT), np.sum((LY - LT) ** 2) / (2 * 5)),
    ("mse BC", lambda: sct.mse(dlarray(LY.T, "BC"), LT.T), np.sum((LY - LT) ** 2) / (2 * 5)),
    ("mse targets BC", lambda: sct.mse(dlarray(LY, "CB"), dlarray(LT.T, "BC")), np.sum((LY - LT) ** 2) / (2 * 5)),
    ("l2loss", lambda: sct.l2loss(dlarray(LY, "CB"), LT), np.sum((LY - LT) ** 2) / 5),
    ("l1loss", lambda: sct.l1loss(dlarray(LY, "CB"), LT), np.sum(np.abs(LY - LT)) / 5),
    ("huber", lambda: sct.huber(dlarray(3 * LY, "CB"), LT),
     np.sum(np.where(np.abs(3 * LY - LT) <= 1, 0.5 * (3 * LY - LT) ** 2, np.abs(3 * LY - LT) - 0.5)) / 5),
    ("crossentropy CBT", lambda: sct.crossentropy(dlarray(LP3, "CBT"), LT3), -np.sum(LT3 * np.log(LP3)) / 2),
    ("mse CBT", lambda: sct.mse(dlarray(LY3, "CBT"), LP3), np.sum((LY3 - LP3) ** 2) / (2 * 2)),
    ("mse SSCB", lambda: sct.mse(dlarray(LX4, "SSCB"), LT4), np.sum((LX4 - LT4) ** 2) / (2 * 4)),
    ("multilabel", lambda: sct.crossentropy(dlarray(LY[:1], "CB"), (LT[:1] > 0.5) * 1.0, ClassificationMode="multilabel"),
     -np.sum(np.where(LT[:1] > 0.5, np.log(LY[:1]), np.log(1 - LY[:1]))) / 5),
]


@pytest.mark.parametrize("name, loss, expected", LOSSES, ids=[c[0] for c in LOSSES])
def test_losses_of_formatted_data_follow_matlab(name, loss, expected):
    assert_close(float(loss()), expected, rtol=1e-12, atol=1e-12)


# --- a LOST array made before dlfeval: its kind says so, and the compiled code refuses it too -------------

def softmax_of_argument(y):
    loss = np.sum(sct.softmax(y) ** 2)
    return loss, dlgradient(loss, y)


def softmax_of_item(ys):
    return np.sum(sct.softmax(ys[0]) ** 2)


def test_lost_argument_is_refused_in_dlfeval_and_the_unformatted_one_is_not_matched_to_it():
    X = dlarray(XB, "BC")
    ref = float(np.sum(_sm_rows(XB.T) ** 2))
    loss, _ = dlfeval(softmax_of_argument, stripdims(X.T))          # compiled for unformatted first
    assert_close(float(loss), ref)
    with pytest.raises(sct.CompileError, match="softmax: its input is unformatted because") as info:
        dlfeval(softmax_of_argument, X.T)                             # a new kind, not the entry above
    assert info.value.filename == __file__
    with pytest.raises(sct.CompileError, match="softmax: its input is unformatted because"):
        dlfeval(softmax_of_item, [X.T])
    loss, g = dlfeval(softmax_of_argument, stripdims(X.T))          # and the first entry still runs
    assert_close(float(loss), ref)
    assert_close(extractdata(g), numerical_gradient(lambda y: np.sum(_sm_rows(y) ** 2), [XB.T], 0))


# --- layernorm of a 1-D image ('SCB'), OperationDimension="spatial-channel": over S and C ----------------
# Bug (fixed): the plan passed "spatial-channel" to the default-layout function, which reads a 3-D array as
# (batch, time, channels) and so normalised over the channels alone (the loss of ln_scb_spatial_channel below:
# 4.5405 for 11.3123).  "auto" on a 1-D image is the channels alone (MATLAB: feature, sequence, 1-D image
# and spatio-temporal data over the channels), as before; 2-D and 3-D images over S and C.

LNX = FR.standard_normal((5, 3, 4))
LNX5 = FR.standard_normal((2, 3, 2, 3, 2))
LN_OFF, LN_SC = FR.standard_normal(3), 1 + FR.random(3)
LN_W = FR.standard_normal((5, 3, 4))


def _ln_ref(x, axes, ci):
    shape = [1] * x.ndim
    shape[ci] = -1
    y = (x - x.mean(axes, keepdims=True)) / np.sqrt(x.var(axes, keepdims=True) + 1e-5)
    return y * LN_SC.reshape(shape) + LN_OFF.reshape(shape)


def ln_scb_spatial_channel(x):
    y = sct.layernorm(x, LN_OFF, LN_SC, OperationDimension="spatial-channel")
    loss = np.sum(y * LN_W)
    return loss, dlgradient(loss, x), dims(y)


def ln_scb_auto(x):
    y = sct.layernorm(x, LN_OFF, LN_SC)
    loss = np.sum(y * LN_W)
    return loss, dlgradient(loss, x), dims(y)


def ln_scb_batch_excluded(x):
    y = sct.layernorm(x, LN_OFF, LN_SC, OperationDimension="batch-excluded")
    loss = np.sum(y * LN_W)
    return loss, dlgradient(loss, x), dims(y)


@pytest.mark.parametrize("fun, axes", [(ln_scb_spatial_channel, (0, 1)), (ln_scb_auto, (1,)),
                                       (ln_scb_batch_excluded, (0, 1))])
def test_layernorm_of_a_1d_image(fun, axes):
    def ref(x):
        return np.sum(_ln_ref(x, axes, 1) * LN_W)
    loss, g, d = dlfeval(fun, dlarray(LNX, "SCB"))
    assert d == "SCB"
    assert_close(float(loss), ref(LNX))                       # spatial-channel was 4.5405 for 11.3123
    assert_close(extractdata(g), numerical_gradient(ref, [LNX], 0))


def test_layernorm_of_a_1d_image_eagerly_and_with_dataformat():
    for which, axes in (("spatial-channel", (0, 1)), ("auto", (1,)), ("channel-only", (1,)),
                        ("batch-excluded", (0, 1))):
        y = sct.layernorm(dlarray(LNX, "SCB"), LN_OFF, LN_SC, OperationDimension=which)
        assert dims(y) == "SCB"
        assert_close(extractdata(y), _ln_ref(LNX, axes, 1), what=which)
        y = sct.layernorm(dlarray(LNX), LN_OFF, LN_SC, OperationDimension=which, DataFormat="SCB")
        assert_close(extractdata(y), _ln_ref(LNX, axes, 1), what=which)
    # a 3-D image: S, S, S and C for "auto" and "spatial-channel"
    for which in ("auto", "spatial-channel"):
        y = sct.layernorm(dlarray(LNX5, "SSSCB"), LN_OFF, LN_SC, OperationDimension=which)
        assert_close(extractdata(y), _ln_ref(LNX5, (0, 1, 2, 3), 3), what=which)


# --- |x|'s second derivative at 0 --------------------------------------------------------------------------
# Bug (fixed): abs's rule g * x / where(|x| == 0, 1, |x|) is 0 at 0 (the documented convention), but its own
# derivative there is 1: the Hessian of sum(w * |x|) at x = 0 came out w (a Hessian-vector product
# [-0.05, 0, 4.92, 0, -5.5] for the program below where every second derivative is 0, as sign's derivative
# is, as JAX's).  The rule is now g * where(|x| == 0, 0, x / where(|x| == 0, 1, |x|)): the same values.

KINK = np.array([0.0, 1.5, -0.0, -2.0, 0.0])
KINK_V = np.array([-0.05, 0.7, 1.64, 0.3, -1.1])


def abs_weighted(x):
    return np.sum(np.abs(x) * np.arange(1.0, 6.0))


def abs_weighted_hvp(x, v):
    y = abs_weighted(x)
    g = dlgradient(y, x)
    return dlgradient(np.sum(g * v), x), g


def abs_complex_hvp(z, v):
    y = np.sum(np.abs(z) ** 3 * np.arange(1.0, 4.0))
    g = dlgradient(y, z)
    return dlgradient(np.real(np.sum(np.conj(g) * v)), z)


def test_abs_second_derivative_is_zero_at_the_kink():
    h, g = dlfeval(abs_weighted_hvp, dlarray(KINK), KINK_V)
    assert_close(extractdata(g), np.sign(KINK) * np.arange(1.0, 6.0))
    assert_close(extractdata(h), np.zeros(5), atol=0)                     # was [-0.05, 0, 4.92, 0, -5.5]
    assert_close(extractdata(sct.hvp(abs_weighted, KINK, KINK_V)), np.zeros(5), atol=0)


def test_abs_second_derivative_of_complex_values_is_kept():
    z = np.array([0.3 - 1.2j, -0.7 + 0.4j, 1.1 + 0.0j])
    v = np.array([0.2 + 0.5j, -1.0 + 0.3j, 0.4 - 0.8j])
    h = extractdata(dlfeval(abs_complex_hvp, dlarray(z), v))

    def first(zz):
        def grad_fun(t):
            y = np.sum(np.abs(t) ** 3 * np.arange(1.0, 4.0))
            return dlgradient(y, t)
        return float(np.real(np.sum(np.conj(extractdata(dlfeval(grad_fun, dlarray(zz)))) * v)))
    assert_close(h, numerical_gradient(first, [z], 0, step=1e-5), rtol=1e-4, atol=1e-5)


# np.linalg.norm's ord=1 / inf (vector and matrix) had the same rule, unit = x / where(|x| == 0, 1, |x|):
# the Hessian of norm(x, 1) at x with zeros was v at the zeros ([-0.05, 0, 1.64, 0, -1.1] below)

def norm_one(x):
    return np.linalg.norm(x, 1)


def matrix_norm_one(x):
    return np.linalg.norm(x, 1) + np.linalg.norm(x, np.inf)


def test_norm_second_derivative_is_zero_at_zero_entries():
    assert_close(extractdata(sct.hvp(norm_one, KINK, KINK_V)), np.zeros(5), atol=0)
    m = np.array([[0.0, 1.0], [-2.0, 0.0]])
    assert_close(extractdata(sct.hvp(matrix_norm_one, m, np.array([[0.3, -0.2], [0.5, 1.1]]))), np.zeros((2, 2)),
                 atol=0)


# --- an in-place write into a formatted array keeps its labels in dlfeval, as outside ------------------------
# Bug (fixed): sct.aliasing writes z[i] = v, z[i] += v, np.add.at, z.fill, z.sort(), np.copyto and out= as new
# values (rt.setitem(z, i, v), ...), and the format pass gave those unformatted results: in dlfeval
#     acc = x.copy(); acc[0] = 0.0; loss = np.sum(softmax(acc) ** 2)        # x 'CB'
# read acc in the default layout, 0.8858, where Python (the dlarray keeps its labels) gives 1.7465.

WX = FR.standard_normal((3, 4))


def _sm_cols(z):
    e = np.exp(z - z.max(axis=0, keepdims=True))
    return e / e.sum(axis=0, keepdims=True)


def write_setitem(x):
    acc = x.copy()
    acc[0] = 0.0
    loss = np.sum(sct.softmax(acc) ** 2)
    return loss, dlgradient(loss, x), dims(acc)


def write_augmented(x):
    acc = x * 1.0
    acc[:, 1] += 3.0 * x[:, 0]
    loss = np.sum(sct.softmax(acc) ** 2)
    return loss, dlgradient(loss, x), dims(acc)


def write_add_at(x):
    acc = x * 2.0
    np.add.at(acc, ([0, 0, 2], [1, 1, 3]), x[1, :3])
    loss = np.sum(sct.softmax(acc) ** 2)
    return loss, dlgradient(loss, x), dims(acc)


def write_copyto(x):
    acc = x.copy()
    np.copyto(acc, np.sin(x))
    loss = np.sum(sct.softmax(acc) ** 2)
    return loss, dlgradient(loss, x), dims(acc)


def write_out(x):
    acc = x.copy()
    np.exp(x * 0.5, out=acc)
    loss = np.sum(sct.softmax(acc) ** 2)
    return loss, dlgradient(loss, x), dims(acc)


def write_sort(x):
    acc = x * 1.0
    acc.sort(axis=1)
    loss = np.sum(sct.softmax(acc) ** 2)
    return loss, dlgradient(loss, x), dims(acc)


def _w_setitem(x):
    a = x.copy()
    a[0] = 0.0
    return a


def _w_augmented(x):
    a = x * 1.0
    a[:, 1] += 3.0 * x[:, 0]
    return a


def _w_add_at(x):
    a = x * 2.0
    np.add.at(a, ([0, 0, 2], [1, 1, 3]), x[1, :3])
    return a


def _w_sort(x):
    a = x * 1.0
    a.sort(axis=1)
    return a


WRITES = [(write_setitem, _w_setitem), (write_augmented, _w_augmented), (write_add_at, _w_add_at),
          (write_copyto, np.sin), (write_out, lambda x: np.exp(x * 0.5)), (write_sort, _w_sort)]


@pytest.mark.parametrize("fun, ref", WRITES, ids=[w[0].__name__ for w in WRITES])
def test_inplace_write_keeps_the_labels_in_dlfeval(fun, ref):
    def f(x):
        return np.sum(_sm_cols(ref(x)) ** 2)                 # by the labels: channels down the columns
    loss, g, d = dlfeval(fun, dlarray(WX, "CB"))
    assert d == "CB"
    assert_close(float(loss), f(WX))
    assert_close(extractdata(g), numerical_gradient(f, [WX], 0))


def test_inplace_write_eagerly_gives_the_same():
    acc = dlarray(WX, "CB").copy()
    acc[0] = 0.0
    assert dims(acc) == "CB"
    assert_close(float(np.sum(sct.softmax(acc) ** 2)), np.sum(_sm_cols(_w_setitem(WX)) ** 2))


def write_formatted_into_plain(x):
    acc = np.zeros((3, 4))
    acc[0] = x[0]
    return np.sum(sct.softmax(acc))


def write_into_zeros_like(x):
    acc = np.zeros_like(x)
    acc[:, 1:] = x[:, 1:] * 2.0
    return np.sum(sct.softmax(acc))


@pytest.mark.parametrize("fun", [write_formatted_into_plain, write_into_zeros_like])
def test_formatted_values_written_into_an_unformatted_array_are_refused(fun):
    with pytest.raises(sct.CompileError, match="softmax: its input is unformatted because"):
        dlfeval(fun, dlarray(WX, "CB"))


# --- builtins abs / pow and reductions with ddof= / where= keep the labels in dlfeval, as outside ------------
# Bug (fixed): abs(x) and pow(x, 2) (x.__abs__, x.__pow__: formatted outside dlfeval) and np.var/np.std with
# ddof=, np.sum with where= (the labels of the dimensions kept, outside) were unformatted in dlfeval, so a
# layout function read them in the default layout: np.sum(softmax(abs(x)) ** 2) of the 'CB' WX gave
# 1.2623 where Python gives 1.7578.

def builtin_abs(x):
    y = abs(x)
    loss = np.sum(sct.softmax(y) ** 2)
    return loss, dlgradient(loss, x), dims(y)


def builtin_pow(x):
    y = pow(x, 2)
    loss = np.sum(sct.softmax(y) ** 2)
    return loss, dlgradient(loss, x), dims(y)


WX3 = FR.standard_normal((5, 3, 4))                         # 'SCB'


def fmt_var_ddof(x):
    y = np.var(x, axis=0, ddof=1)                               # 'CB'
    loss = np.sum(sct.softmax(y) ** 2)
    return loss, dlgradient(loss, x), dims(y)


def fmt_std_ddof(x):
    y = x.std(axis=0, ddof=1)
    loss = np.sum(sct.softmax(y) ** 2)
    return loss, dlgradient(loss, x), dims(y)


def fmt_sum_where(x):
    y = np.sum(x, axis=0, where=x > 0)
    loss = np.sum(sct.softmax(y) ** 2)
    return loss, dlgradient(loss, x), dims(y)


KEPT = [(builtin_abs, np.abs, WX, "CB"), (builtin_pow, np.square, WX, "CB"),
        (fmt_var_ddof, lambda x: np.var(x, axis=0, ddof=1), WX3, "SCB"),
        (fmt_std_ddof, lambda x: x.std(axis=0, ddof=1), WX3, "SCB"),
        (fmt_sum_where, lambda x: np.sum(x, axis=0, where=x > 0), WX3, "SCB")]


@pytest.mark.parametrize("fun, ref, x, fmt", KEPT, ids=[k[0].__name__ for k in KEPT])
def test_builtins_and_reduction_keywords_keep_the_labels(fun, ref, x, fmt):
    def f(z):
        return np.sum(_sm_cols(ref(z)) ** 2)                    # 'CB': channels down the columns
    loss, g, d = dlfeval(fun, dlarray(x, fmt))
    assert d == "CB"
    assert_close(float(loss), f(x))
    assert_close(extractdata(g), numerical_gradient(f, [x], 0))
    assert dims(ref(dlarray(x, fmt))) == "CB"                   # outside dlfeval: the same labels
    assert_close(float(np.sum(sct.softmax(ref(dlarray(x, fmt))) ** 2)), f(x))


# --- formatted values in lists and dicts built in the function -------------------------------------------
# Bug (fixed): xs.append(v) (xs = xs + [v] after sct.normalize), [..] + [..], sum(xs), max(xs, key=...) and
# d["k"] = v dropped the items' labels in dlfeval, where Python keeps them: the MATLAB pattern
#     hs = []; for t ...: hs.append(X[:, :, t]);  Y = np.concatenate(hs, axis=1)   # 'CBT' X: Y is 'CB'
# then softmax(Y) read Y in the default layout (list_in_loop below: 0.6448 where Python gives 3.6323).  Straight-line
# lists, sum/max/min and dict items now keep their labels; a list grown in a loop (its length differs by
# iteration) is refused where a layout function reads it, naming the line.

SEQ = FR.standard_normal((3, 2, 4))                  # 'CBT'


def list_in_loop(x):
    hs = []
    for t in range(x.shape[2]):
        hs.append(x[:, :, t])
    y = np.concatenate(hs, axis=1)
    return np.sum(sct.softmax(y) ** 2)


def list_straight(x):
    hs = [x[:, :, 0]]
    hs = hs + [x[:, :, 1] * 2.0]
    y = np.concatenate(hs, axis=1)
    loss = np.sum(sct.softmax(y) ** 2)
    return loss, dlgradient(loss, x), dims(y)


def sum_of_list(x):
    y = sum([x[:, :, 0], x[:, :, 1]])
    loss = np.sum(sct.softmax(y) ** 2)
    return loss, dlgradient(loss, x), dims(y)


def dict_items(x):
    d = {}
    d["a"] = x[:, :, 0]
    d["b"] = d["a"] * 3.0
    loss = np.sum(sct.softmax(d["b"]) ** 2)
    return loss, dlgradient(loss, x), dims(d["b"])


def test_list_grown_in_a_loop_is_refused_not_misread():
    with pytest.raises(sct.CompileError, match="softmax: the format of its input is not known") as info:
        dlfeval(list_in_loop, dlarray(SEQ, "CBT"))
    assert info.value.filename == __file__
    # outside dlfeval the labels are kept and read
    assert_close(float(list_in_loop(dlarray(SEQ, "CBT"))),
                 np.sum(_sm_cols(np.concatenate([SEQ[:, :, t] for t in range(4)], axis=1)) ** 2))


CONTAINERS = [(list_straight, lambda x: np.concatenate([x[:, :, 0], 2 * x[:, :, 1]], axis=1)),
              (sum_of_list, lambda x: x[:, :, 0] + x[:, :, 1]),
              (dict_items, lambda x: 3.0 * x[:, :, 0])]


@pytest.mark.parametrize("fun, ref", CONTAINERS, ids=[c[0].__name__ for c in CONTAINERS])
def test_containers_keep_the_labels_of_their_items(fun, ref):
    def f(x):
        return np.sum(_sm_cols(ref(x)) ** 2)
    loss, g, d = dlfeval(fun, dlarray(SEQ, "CBT"))
    assert d == "CB"
    assert_close(float(loss), f(SEQ))
    assert_close(extractdata(g), numerical_gradient(f, [SEQ], 0))


def dropout_then_softmax(x):
    np.random.seed(3)
    y = sct.dropout(x, 0.5)
    loss = np.sum(sct.softmax(y) ** 2)
    return loss, dlgradient(loss, x), dims(y)


def test_dropout_keeps_the_labels_in_dlfeval():
    """dropout of a formatted dlarray was refused in dlfeval (read as a helper sct compiles) while it keeps the
    labels outside: now elementwise there too, with the same draws (numpy's global generator)."""
    loss, g, d = dlfeval(dropout_then_softmax, dlarray(WX, "CB"))
    assert d == "CB"
    np.random.seed(3)
    y = sct.dropout(dlarray(WX, "CB"), 0.5)
    assert dims(y) == "CB"
    assert_close(float(loss), float(np.sum(sct.softmax(y) ** 2)))
    mask = extractdata(y) != 0
    p = _sm_cols(extractdata(y))
    # d/dx of sum(p**2) through the softmax over the columns, times dropout's mask and scale 2
    gp = 2 * p
    expected = p * (gp - np.sum(gp * p, axis=0, keepdims=True)) * mask * 2.0
    assert_close(extractdata(g), expected)
