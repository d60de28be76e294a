"""Red-team findings (dec 1): wrong gradients/values found by user-style programs, with their fixes."""
import numpy as np
import pytest

import sct
from sct import dlarray, dlfeval, dlgradient, extractdata

from gradcheck import assert_close, numerical_gradient

Z = np.array([1.0 + 2.0j, -0.3 + 0.4j])


# --- a real-valued op (builtin abs, a user's real_output op) of a complex x times a complex number ------
# The adjoint of the real result must be projected onto the reals; for builtin abs and a user's op it was
# not (only numpy's functions were known to return arrays), so the gradient was wrong.

def loss_builtin_abs(x):
    return np.real(np.sum(abs(x) * (0.5 - 1.0j)))


def loss_builtin_abs_imag(x):
    return np.real(np.sum(abs(x) * 1j))          # identically zero


def mag2(z):
    return np.real(z * np.conj(z))


@sct.defrule(mag2, real_output=True, elementwise=True)
def _mag2_rule(g, ans, z):
    return 2 * g * z


def loss_user_real_output(x):
    return np.real(np.sum(mag2(x) * (0.5 - 1.0j)))


@pytest.mark.parametrize("loss", [loss_builtin_abs, loss_builtin_abs_imag, loss_user_real_output])
def test_real_valued_op_of_complex_times_complex(loss):
    def f(x):
        y = loss(x)
        return y, dlgradient(y, x)
    y, g = dlfeval(f, dlarray(Z))
    assert_close(float(y), loss(Z))
    assert_close(g.data, numerical_gradient(loss, [Z], 0), rtol=1e-6, atol=1e-8)


def abs_times(x, y):
    return abs(x) * y


@pytest.mark.parametrize("mode", ["forward", "transpose"])
def test_jvp_of_builtin_abs_of_complex(mode):
    y = np.array([0.5 - 1.0j, 2.0 + 0.1j])
    vx = np.array([0.3 - 1.0j, 1.0 + 0.5j])
    vy = np.array([0.2 + 0.1j, -1.0 + 0.0j])
    _, jv = sct.jvp(abs_times, (dlarray(Z), dlarray(y)), (vx, vy), mode=mode)
    h = 1e-6
    expected = (abs_times(Z + h * vx, y + h * vy) - abs_times(Z - h * vx, y - h * vy)) / (2 * h)
    assert_close(jv.data, expected, rtol=1e-6, atol=1e-8)


# --- a run-time error inside a loop body names the line that failed (it named the `for` line, or the
# line of an `if` before it: the generated loop bodies had no line comments) ---------------------------

def error_in_loop_body(x):
    s = 0.0
    for i in range(3):
        y = x[i] * 2.0
        if np.sum(y) > 100:
            y = y * 0.5
        z = y @ np.ones((5, 2))          # the failing line: x[i] has 4 entries
        s = s + np.sum(z)
    return s, dlgradient(s, x)


def error_in_loop_body_plain(x):
    s = 0.0
    for i in range(3):
        y = x[i] * 2.0
        z = y @ np.ones((5, 2))          # the failing line
        s = s + np.sum(z)
    return s


@pytest.mark.parametrize("fun, offset", [(error_in_loop_body, 6), (error_in_loop_body_plain, 4)])
def test_run_time_error_in_a_loop_body_names_its_line(fun, offset):
    with pytest.raises(sct.EvaluationError, match="while evaluating `z = y @ np.ones") as info:
        dlfeval(fun, dlarray(np.ones((3, 4))))
    assert info.value.lineno == fun.__code__.co_firstlineno + offset


def augmented_slice_in_loop(x):
    out = np.zeros((3, 4))
    for i in range(3):
        out[i] = x[i] * 2.0
        out[i, 1:] += out[i, :-1] * 0.5
    loss = np.sum(out ** 2)
    return loss, dlgradient(loss, x)


def augmented_slice_of_argument_in_loop(x):
    out = x[0]
    for i in range(3):
        out[1:] += x[i, :-1] * 0.5
    loss = np.sum(out ** 2)
    return loss, dlgradient(loss, x)


def test_refusal_in_a_loop_body_names_its_line():
    # (refused as in straight-line code; the refusal must name the `+=` line, not the `for` line)
    with pytest.raises(sct.SctError, match="out\\[...\\]") as info:
        dlfeval(augmented_slice_of_argument_in_loop, dlarray(np.ones((3, 4))))
    assert info.value.lineno == augmented_slice_of_argument_in_loop.__code__.co_firstlineno + 3


def test_augmented_slice_of_a_fresh_array_in_loop():
    # out = np.zeros(...) holds numbers: `out[i] = x[i] * 2; out[i, 1:] += ...` changes only out
    # (this was refused, as if out[i] could be x's row)
    x = np.random.default_rng(0).standard_normal((3, 4))

    def plain(v):
        out = np.zeros((3, 4))
        for i in range(3):
            out[i] = v[i] * 2.0
            out[i, 1:] += out[i, :-1] * 0.5
        return np.sum(out ** 2)
    loss, g = dlfeval(augmented_slice_in_loop, dlarray(x))
    assert np.isclose(float(loss), plain(x))
    np.testing.assert_allclose(extractdata(g), numerical_gradient(plain, [x], 0), rtol=1e-5, atol=1e-6)


def recurrent_loss(net, X, T):
    Y, state = sct.forward(net, X)
    loss = sct.mse(Y, T)
    return loss, dlgradient(loss, net.Learnables), state


@pytest.mark.parametrize("layer", [sct.lstmLayer, sct.gruLayer])
def test_a_float32_recurrent_network_stays_float32(layer):
    # the stored initial state is float64; float32 data and learnables keep the network float32
    net = sct.dlnetwork([sct.sequenceInputLayer(3), layer(4, OutputMode="last"), sct.fullyConnectedLayer(2)],
                        Seed=0)
    net = sct.dlupdate(lambda p: p.astype(np.float32), net)
    X = dlarray(np.random.default_rng(0).standard_normal((5, 6, 3)).astype(np.float32))
    assert sct.predict(net, X).dtype == np.float32
    loss, grads, state = dlfeval(recurrent_loss, net, X, np.zeros((5, 2), np.float32))
    assert loss.dtype == np.float32
    assert all(v.dtype == np.float32 for v in grads.Value)
    assert all(v.dtype == np.float32 for v in state.Value)
