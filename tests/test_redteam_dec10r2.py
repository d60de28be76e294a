"""Red team (dec 10, R2) of scientific numpy code as users write it (GP likelihoods, ODE
integrators, n-body, einsum, interpolation, buffers filled with ``out``): values and gradients as
plain Python and finite differences have them, or a clear refusal naming the line.

Found here:
* an output array given to a numpy function or ndarray method by position
  (``np.sum(a, 0, None, z)``, ``np.dot(a, b, z)``, ``t.cumsum(0, None, z)``) or as ``out=`` to an
  array method (``t.sum(out=z)``) was not seen: z held the right value and its derivative was
  silently zero.  Now refused (sct/write_checks.py), as ``np.sum(a, out=z)`` already was.
* the same through an op known only when it runs (``f = np.sum; f(a, 0, None, z)``, an op passed
  to a helper or taken from a list): refused when it runs (sct/transform_calls.py), in reverse
  and forward mode (was: a zero derivative, a wrong tangent).
* ``z.real = v`` on a complex array: the value right, the gradient with respect to the old real
  part kept (silently wrong); ``z.imag = v`` refused with a misleading message.  Both refused
  now with the new value to write (sct/write_checks.py).
* ``np.nan_to_num(z, copy=False)`` replaced z's NaN entries in place while their derivative
  was kept: a wrong gradient.  Now refused (sct/write_checks.py).
* ``np.interp`` with ``xp`` / ``fp`` given as Python lists: a TypeError in forward mode (sct.jvp)
  and when the list holds traced values (runtime/numpy_ops.py).
"""
import numpy as np
import pytest

import sct
from sct import CompileError, dlarray, dlfeval, dlgradient
from gradcheck import check_grads, check_two_inputs, numerical_gradient

pytestmark = pytest.mark.usefixtures("fresh_cache")

X = np.array([0.3, -0.5, 1.2, 0.9, 0.45, -1.1])
Y = np.array([0.7, 0.1, -0.4, 0.25, 1.3, 0.6])
W = np.arange(1.0, 7.0)


# --- output arrays given by position, or to an array method ----------------------------------------

def sum_out_by_position(x, y):
    z = np.zeros(())
    np.sum(x * y, 0, None, z)
    return z * 2.0 + np.sum(x)


def dot_out_by_position(x, y):
    z = np.zeros((2, 2))
    np.dot(x.reshape(2, 3), y.reshape(3, 2), z)
    return np.sum(z * np.arange(4.0).reshape(2, 2)) + np.sum(x)


def prod_out_by_position(x, y):
    z = np.zeros(())
    np.prod(x * y, 0, None, z)
    return z * 2.0 + np.sum(x)


def method_sum_out(x, y):
    z = np.zeros(())
    (x * y).sum(out=z)
    return z * 2.0 + np.sum(x)


def method_clip_out(x, y):
    z = np.zeros(6)
    (x * y).clip(-0.2, 0.2, out=z)
    return np.sum(z * W) + np.sum(x)


def method_cumsum_out_by_position(x, y):
    z = np.zeros(6)
    t = x * y
    t.cumsum(0, None, z)
    return np.sum(z * W) + np.sum(x ** 2)


def cumsum_into_buffer(a, buf):
    np.cumsum(a, 0, None, buf)
    return buf


def helper_out_by_position(x, y):
    buf = np.zeros(6)
    r = cumsum_into_buffer(x * y, buf)
    return np.sum(r * W)


def unbound_method_out_by_position(x, y):
    z = np.zeros(())
    np.ndarray.sum(x * y, 0, None, z)
    return z * 2.0 + np.sum(x)


def local_alias_out_by_position(x, y):
    f = np.sum
    z = np.zeros(())
    s = f(x * y, 0, None, z)
    return z * 2.0 + np.sum(x) + s


def apply_reduction(op, a, buf):
    return op(a, 0, None, buf)


def op_passed_to_helper_out_by_position(x, y):
    z = np.zeros(6)
    s = apply_reduction(np.cumsum, x * y, z)
    return np.sum(z * W) + np.sum(s)


def op_from_list_out_by_position(x, y):
    ops = [np.cumsum]
    z = np.zeros(6)
    s = ops[0](x * y, 0, None, z)
    return np.sum(z * W) + np.sum(x) + np.sum(s)


def local_alias_nan_to_num_in_place(x, y):
    f = np.nan_to_num
    z = np.log(x * y + 0.6)
    r = f(z, copy=False)
    return np.sum(z * W) + np.sum(r)


@pytest.mark.parametrize("fun", [local_alias_out_by_position, op_passed_to_helper_out_by_position,
                                 op_from_list_out_by_position, local_alias_nan_to_num_in_place])
def test_output_array_of_an_op_known_when_it_runs_is_refused(fun):
    # the op is known only when it runs: refused then, in reverse and forward mode (was: a silently
    # zero derivative through z, and a wrong tangent)
    def run(x, y):
        v = fun(x, y)
        return v, dlgradient(v, x, y)
    with pytest.raises(sct.EvaluationError) as info:
        dlfeval(run, dlarray(X), dlarray(Y))
    assert "test_redteam_dec10r2.py" in str(info.value) and "in place" in str(info.value)
    with pytest.raises(sct.SctError) as info:
        sct.jvp(fun, (X, Y), (np.ones(6), np.ones(6)))
    assert "in place" in str(info.value)


def nan_to_num_in_place(x, y):
    z = np.log(x * y + 0.6)
    np.nan_to_num(z, copy=False)
    return np.sum(z * W)


def nan_to_num_in_place_assigned(x, y):
    z = np.log(x * y + 0.6)
    r = np.nan_to_num(z, False)
    return np.sum(z * W) + np.sum(r)


@pytest.mark.parametrize("fun", [sum_out_by_position, dot_out_by_position, prod_out_by_position,
                                 unbound_method_out_by_position,
                                 method_sum_out, method_clip_out, method_cumsum_out_by_position,
                                 helper_out_by_position, nan_to_num_in_place, nan_to_num_in_place_assigned])
def test_output_array_written_in_place_is_refused(fun):
    # (was: the value right, the gradient through z silently zero)
    def run(x, y):
        v = fun(x, y)
        return v, dlgradient(v, x, y)
    with pytest.raises(CompileError) as info:
        dlfeval(run, dlarray(X), dlarray(Y))
    assert "test_redteam_dec10r2.py" in str(info.value) and "in place" in str(info.value)


def ufunc_out_keyword(x, y):
    z = np.empty(6)
    np.multiply(x, y, out=z)
    np.exp(z, out=z)
    return np.sum(z * W)


def nan_to_num_new_array(x, y):
    z = np.log(x * y + 0.6)
    return np.sum(np.nan_to_num(z, copy=True) * W) + np.sum(np.nan_to_num(z) * y)


def out_none_by_position(x, y):
    return np.sum(np.take(x * y, [0, 3, 3], 0, None) * W[:3]) + np.sum(np.cumsum(x, 0, None, None) * y)


@pytest.mark.parametrize("fun", [ufunc_out_keyword, out_none_by_position, nan_to_num_new_array])
def test_output_arrays_sct_follows(fun):
    check_grads(fun, X, Y)


# --- z.real = v / z.imag = v on an array ---------------------------------------------------------------

def set_real_part(x, y):
    z = x * (1 + 0j)
    z.real = y * 2
    return np.sum(np.abs(z) ** 2)


def set_imaginary_part(x, y):
    z = x.astype(complex)
    z.imag = y
    return np.sum(np.abs(z) ** 2)


def set_flat(x, y):
    z = x * 1.0
    z.flat = y[0]
    return np.sum(z * W) + np.sum(x)


@pytest.mark.parametrize("fun", [set_real_part, set_imaginary_part, set_flat])
def test_setting_real_or_imag_part_is_refused(fun):
    # (was for z.real: the value right, the gradient with respect to x the old real part's, not zero)
    def run(x, y):
        v = fun(x, y)
        return v, dlgradient(v, x, y)
    with pytest.raises(CompileError) as info:
        dlfeval(run, dlarray(X), dlarray(Y))
    message = str(info.value)
    assert "test_redteam_dec10r2.py" in message and "in place" in message and "new value" in message


def new_complex_value(x, y):
    z = x * (1 + 0j)
    z = y * 2 + 1j * z.imag
    w = x.astype(complex)
    w = w.real + 1j * y
    return np.sum(np.abs(z) ** 2) + np.sum(np.abs(w) ** 2)


def test_building_the_new_complex_value_instead():
    check_grads(new_complex_value, X, Y)


# --- np.interp with lists ------------------------------------------------------------------------------

def interp_list_constants(x, t):
    return np.sum(np.interp(x * t[0], [-2, 0, 1, 3], [1, 2, 0, 5]) ** 2)


def interp_list_traced(x, t):
    return np.sum(np.interp(x[1:], [x[0] - 3, 0, 1, 3], [1, t[0], 0, 5]) ** 2)


def interp_tuple_traced(x, t):
    return np.sum(np.interp(x[1:], (x[0] - 3, 0.0, 1.0, 3.0), (1.0, t[0], 0.0, t[1])) ** 2)


@pytest.mark.parametrize("fun", [interp_list_constants, interp_list_traced, interp_tuple_traced])
def test_interp_with_lists(fun):
    x = np.array([0.3, -0.5, 1.2, 0.5])
    t = np.array([0.7, 2.0])
    check_two_inputs(fun, x, t)          # value, gradients and second derivatives
    # forward mode (was: TypeError from index_adjoint of a list with an index array)
    vx, vt = np.array([0.2, -1.0, 0.5, 0.3]), np.array([1.0, -0.5])
    out, tangent = sct.jvp(fun, (x, t), (vx, vt))
    h = 1e-6
    expected = (fun(x + h * vx, t + h * vt) - fun(x - h * vx, t - h * vt)) / (2 * h)
    np.testing.assert_allclose(np.asarray(getattr(out, "data", out)), fun(x, t), rtol=1e-12)
    np.testing.assert_allclose(np.asarray(getattr(tangent, "data", tangent)), expected, rtol=1e-5, atol=1e-7)


# --- scientific programs that are right (kept as guards) ---------------------------------------------

def kernel(x1, x2, params):
    d = x1[:, None] - x2[None, :]
    return params["amp"] ** 2 * np.exp(-0.5 * d ** 2 / params["ls"] ** 2)


def gp_negative_log_likelihood(x, y):
    params = {"amp": 1.3, "ls": 0.7}
    K = kernel(x, x, params) + 0.1 * np.eye(x.shape[0])
    L = np.linalg.cholesky(K)
    alpha = np.linalg.solve(L.T, np.linalg.solve(L, y))
    sign, logdet = np.linalg.slogdet(K)
    return 0.5 * y @ alpha + np.sum(np.log(np.diag(L))) + 0.25 * logdet + 0.5 * len(x) * np.log(2 * np.pi)


def rk4_step(f, s, dt, k):
    k1 = f(s, k)
    k2 = f(s + dt / 2 * k1, k)
    k3 = f(s + dt / 2 * k2, k)
    k4 = f(s + dt * k3, k)
    return s + dt / 6 * (k1 + 2 * k2 + 2 * k3 + k4)


def damped_oscillator(s, k):
    return np.array([s[1], -k[0] * s[0] - k[1] * s[1]])


def rk4_trajectory(x, k):
    s = x
    history = [s]
    for i in range(8):
        s = rk4_step(damped_oscillator, s, 0.1, k)
        history.append(s)
    H = np.stack(history, axis=1)
    return np.sum(H[0] ** 2) + np.sum(H[1, -3:])


def nbody_steps(x, m):
    pos = x.reshape(3, 2).copy()
    vel = np.zeros_like(pos)
    for _ in range(4):
        diff = pos[np.newaxis, :, :] - pos[:, np.newaxis, :]
        r3 = (np.sum(diff ** 2, axis=2) + 0.1) ** 1.5
        acc = np.sum(m[None, :, None] * diff / r3[:, :, None], axis=1)
        vel += 0.01 * acc
        pos += 0.01 * vel
    i, j = np.triu_indices(3, k=1)
    return np.sum(pos ** 2) + np.sum(vel) - np.sum(m[i] * m[j] / np.sqrt(np.sum(diff ** 2, axis=2)[i, j] + 0.01))


def heat_in_place(x, y):
    u = x.copy()
    for _ in range(4):
        u[1:-1] = u[1:-1] + 0.2 * (u[2:] - 2 * u[1:-1] + u[:-2]) * y[0]
        u[0] = u[1]
        u[-1] = 0.5 * u[-2]
    return np.sum(u ** 2)


def gauss_seidel(x, y):
    A = np.diag(np.full(6, 4.0)) - np.eye(6, k=1) - np.eye(6, k=-1) + np.diag(y ** 2) * 0.1
    u = np.zeros(6)
    for sweep in range(2):
        for i in range(6):
            s = A[i] @ u - A[i, i] * u[i]
            u[i] = (x[i] - s) / A[i, i]
    return np.sum(u * np.arange(1, 7))


def einsum_tensordot_kron(x, y):
    A = x.reshape(2, 3)
    B = y.reshape(3, 2)
    return (np.sum(np.einsum('ba,ac', A, B) ** 2) + np.einsum('ji', A)[1, 0] + np.tensordot(A, B.T, axes=2)
            + np.sum(np.kron(x[:2], y[:3]) ** 2) + np.sum(np.einsum('...ij,...jk->...ik', A[None], B)))


@pytest.mark.parametrize("fun, x, y", [
    (gp_negative_log_likelihood, X[:4], Y[:4]),
    (rk4_trajectory, np.array([1.0, 0.2]), np.array([2.0, 0.3])),
    (nbody_steps, np.array([0., 0., 1., 0.2, -0.3, 0.8]), np.array([1.0, 2.0, 0.5])),
    (heat_in_place, X, Y),
    (gauss_seidel, X, Y),
    (einsum_tensordot_kron, X, Y),
])
def test_scientific_programs(fun, x, y):
    check_two_inputs(fun, x.copy(), y.copy())


def test_float32_values_bit_for_bit():
    x, y = X.astype(np.float32), Y.astype(np.float32)

    def run(x, y):
        v = einsum_tensordot_kron(x, y)
        return v, dlgradient(v, x, y)
    v, (gx, gy) = dlfeval(run, dlarray(x), dlarray(y))
    expected = einsum_tensordot_kron(x.copy(), y.copy())
    assert np.asarray(v.data).dtype == expected.dtype == np.float32
    assert np.array_equal(np.asarray(v.data), expected)
    assert gx.data.dtype == gy.data.dtype == np.float32
    np.testing.assert_allclose(gx.data, numerical_gradient(einsum_tensordot_kron, [X, Y], 0), rtol=1e-3, atol=1e-4)
