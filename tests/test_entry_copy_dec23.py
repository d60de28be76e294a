"""dlgradient with respect to a copy of an argument taken before the argument is bound again
(``x0 = x; for ...: x = x - 0.1 * np.sin(x); dlgradient(loss, x0)``): the gradient with respect to
the argument's value at the call, through every name and every later value (was: refused, "it holds the
value 'x' had on line ...").  Values against plain Python, gradients against central differences."""
import numpy as np
import pytest

import sct
from sct import dlarray, dlfeval, dlgradient, extractdata
from gradcheck import numerical_gradient


def _check(fun_sct, fun_plain, *args, wrt=None, rtol=1e-6, atol=1e-8):
    """fun_sct(*args) -> (loss, grads...) under dlfeval, against fun_plain(*args) -> loss and its central
    differences with respect to the arguments at ``wrt`` (all by default)."""
    arrays = [np.array(a, dtype=float) for a in args]
    out = dlfeval(fun_sct, *[dlarray(a) for a in arrays])
    loss, grads = out[0], out[1:]
    if len(grads) == 1 and isinstance(grads[0], (list, tuple, dict)):
        grads = list(grads[0].values()) if isinstance(grads[0], dict) else list(grads[0])
    np.testing.assert_allclose(float(extractdata(loss)), fun_plain(*arrays), rtol=1e-12, atol=1e-12)
    wrt = range(len(arrays)) if wrt is None else wrt
    assert len(grads) == len(wrt)
    for g, i in zip(grads, wrt):
        expected = numerical_gradient(fun_plain, arrays, i)
        np.testing.assert_allclose(np.asarray(extractdata(g)), expected, rtol=rtol, atol=atol)
    return grads


def unrolled(x):
    for i in range(3):
        x = x - 0.1 * np.sin(x)
    return np.sum(x ** 2)


def unrolled_sct(x):
    x0 = x
    for i in range(3):
        x = x - 0.1 * np.sin(x)
    loss = np.sum(x ** 2)
    return loss, dlgradient(loss, x0)


def test_copy_then_loop():
    _check(unrolled_sct, unrolled, [0.5, -1.0, 2.0])


def branch(x):
    if np.sum(x) > 0:
        x = x * 2 + np.cos(x)
    return np.sum(x ** 2 * np.arange(1.0, 1.0 + x.size))


def branch_sct(x):
    x_in = x
    if np.sum(x) > 0:
        x = x * 2 + np.cos(x)
    loss = np.sum(x ** 2 * np.arange(1.0, 1.0 + x.size))
    return loss, dlgradient(loss, x_in)


@pytest.mark.parametrize("x", [[0.5, 1.0], [-0.5, -1.0]])
def test_copy_then_branch_either_way(x):
    _check(branch_sct, branch, x)


def mixed(a, B, c):
    B = B + 1.0
    c = c * 0.5
    k = 0
    while not (c > 0.3) and k < 4:
        a = a * 0.5 + np.tanh(B[0])
        c = c + 0.2
        k += 1
    return np.sum(np.tanh(a) * B) + np.sum(np.sin(c)) + np.sum(a * c)


def mixed_sct(a, B, c):
    a_in, B_in, c_in = a, B, c
    B = B + 1.0
    c = c * 0.5
    k = 0
    while not (c > 0.3) and k < 4:
        a = a * 0.5 + np.tanh(B[0])
        c = c + 0.2
        k += 1
    y = np.sum(np.tanh(a) * B) + np.sum(np.sin(c)) + np.sum(a * c)
    return y, dlgradient(y, a_in, B_in, c_in)


@pytest.mark.parametrize("c", [-1.0, 0.1, 0.9])        # the loop runs 4, 1 and 0 times
def test_tuple_copies_while_loop(c):
    _check(mixed_sct, mixed, [0.3, -0.2, 0.8], [[0.1, 0.2, 0.3], [0.4, -0.5, 0.6]], c)


def uses_everywhere(x):
    first = np.sum(np.sin(x))          # the value at the call, read through x before the loop
    x0 = x
    for i in range(2):
        x = x * np.cos(x0)
    return first + np.sum(x) + np.sum(x0 ** 3)


def uses_everywhere_sct(x):
    first = np.sum(np.sin(x))
    x0 = x
    for i in range(2):
        x = x * np.cos(x0)
    loss = first + np.sum(x) + np.sum(x0 ** 3)
    return loss, dlgradient(loss, x0)


def test_uses_before_the_copy_through_the_copy_and_after():
    _check(uses_everywhere_sct, uses_everywhere, [0.4, -0.7, 1.3])


def test_copy_and_current_value_at_one_site():
    """dlgradient(loss, x0, x): x0 the value at the call, x the value the loop left (its own adjoint)."""
    def f(x):
        x0 = x
        for i in range(2):
            x = x * 2.0 + 1.0
        loss = np.sum(x ** 2) + np.sum(x0)
        return loss, dlgradient(loss, x0, x)
    x = np.array([0.5, -1.5])
    loss, (g0, g) = dlfeval(f, dlarray(x))
    final = (x * 2 + 1) * 2 + 1
    np.testing.assert_allclose(extractdata(g0), 2 * final * 4 + 1)
    np.testing.assert_allclose(extractdata(g), 2 * final)


def test_structures_of_copies():
    def plain(x, w):
        for i in range(2):
            x = np.tanh(x * w)
        return np.sum(x) * np.sum(w)

    def as_list(x, w):
        x0 = x
        for i in range(2):
            x = np.tanh(x * w)
        loss = np.sum(x) * np.sum(w)
        return loss, dlgradient(loss, [x0, w])

    def as_dict(x, w):
        x0 = x
        for i in range(2):
            x = np.tanh(x * w)
        loss = np.sum(x) * np.sum(w)
        return loss, dlgradient(loss, {"x": x0, "w": w})
    for f in (as_list, as_dict):
        _check(f, plain, [0.2, 0.9], [1.1, -0.4])


def test_float32_keeps_its_dtype():
    x = np.array([0.5, -1.0, 2.0], dtype=np.float32)
    loss, g = dlfeval(unrolled_sct, dlarray(x))
    assert extractdata(g).dtype == np.float32
    expected = numerical_gradient(unrolled, [x.astype(float)], 0)
    np.testing.assert_allclose(extractdata(g), expected, rtol=1e-4, atol=1e-5)


def test_second_order_through_the_copy_is_refused():
    """A gradient differentiated again is recomputed from the arguments: an argument bound again before
    it is refused there (the older check), with or without the copy."""
    def f(x):
        x0 = x
        for i in range(2):
            x = x * 2.0
        loss = np.sum(x ** 2)
        g = dlgradient(loss, x0, EnableHigherDerivatives=True)
        z = np.sum(g ** 2)
        return z, g, dlgradient(z, x0)
    with pytest.raises(sct.CompileError, match="differentiated again"):
        dlfeval(f, dlarray(np.array([0.3, -0.8])))


def test_second_order_of_a_copy_whose_argument_stays():
    """x0 = x, x never bound again (followed as before): x_final = 4 x0, g = 32 x, dz/dx = 2048 x."""
    def f(x):
        x0 = x
        y = x0
        for i in range(2):
            y = y * 2.0
        loss = np.sum(y ** 2)
        g = dlgradient(loss, x0, EnableHigherDerivatives=True)
        z = np.sum(g ** 2)
        return z, g, dlgradient(z, x0)
    x = np.array([0.3, -0.8])
    z, g, gz = dlfeval(f, dlarray(x))
    np.testing.assert_allclose(extractdata(g), 32 * x)
    np.testing.assert_allclose(float(extractdata(z)), 1024 * np.sum(x ** 2))
    np.testing.assert_allclose(extractdata(gz), 2048 * x)


def test_accelerated_and_repeated_calls():
    f = sct.dlaccelerate(unrolled_sct) if hasattr(sct, "dlaccelerate") else unrolled_sct
    for x in ([0.1, 0.2, 0.3], [1.0, -2.0, 0.5]):
        _check(f, unrolled, x)


def test_copy_of_an_argument_bound_before_is_still_refused():
    """x0 = x after x was bound again: x0 is not the value at the call; the refusal stays."""
    def f(x):
        if np.sum(x) > 0:
            x = x * 2
        x0 = x
        for i in range(2):
            x = x + 1.0
        loss = np.sum(x ** 2)
        return loss, dlgradient(loss, x0)
    with pytest.raises(sct.CompileError, match="cannot differentiate with respect to 'x0'"):
        dlfeval(f, dlarray(np.array([0.5, 1.0])))


def test_copy_in_a_branch_is_still_refused():
    def f(x):
        x0 = x * 1.0
        if np.sum(x) > 0:
            x0 = x
        for i in range(2):
            x = x + 1.0
        loss = np.sum(x ** 2) + np.sum(x0)
        return loss, dlgradient(loss, x0)
    with pytest.raises(sct.CompileError):
        dlfeval(f, dlarray(np.array([0.5, 1.0])))


def test_site_in_a_loop_in_a_branch_and_two_sites():
    def in_loop(x):
        x0 = x
        gs = []
        for i in range(3):
            x = np.sin(x) * 1.5
            loss = np.sum(x ** 2)
            gs.append(dlgradient(loss, x0))
        return loss, gs[1]

    def in_loop_plain(x):
        for i in range(2):
            x = np.sin(x) * 1.5
        return np.sum(x ** 2)

    def in_branch(x):
        x0 = x
        for i in range(2):
            x = np.sin(x) * 1.5
        if np.sum(x) > -10:
            loss = np.sum(x ** 3)
            g = dlgradient(loss, x0)
        else:
            loss = np.sum(x)
            g = x * 0
        return loss, g

    def in_branch_plain(x):
        for i in range(2):
            x = np.sin(x) * 1.5
        return np.sum(x ** 3)

    def two_sites(x):
        x0 = x
        x = x * 3.0
        l1 = np.sum(x ** 2)
        g1 = dlgradient(l1, x0)
        for i in range(2):
            x = np.sin(x)
        l2 = np.sum(x)
        g2 = dlgradient(l2, x0)
        return l2, g1, g2

    x = np.array([0.3, -0.4])
    _, g = dlfeval(in_loop, dlarray(x))
    np.testing.assert_allclose(extractdata(g), numerical_gradient(in_loop_plain, [x], 0), rtol=1e-6)
    _check(in_branch, in_branch_plain, x)
    _, g1, g2 = dlfeval(two_sites, dlarray(x))
    np.testing.assert_allclose(extractdata(g1), 18 * x)
    np.testing.assert_allclose(extractdata(g2), numerical_gradient(lambda v: np.sum(np.sin(np.sin(3 * v))), [x], 0),
                               rtol=1e-6)


def test_write_into_the_argument_after_the_copy_is_refused():
    def f(x):
        x0 = x
        x[0] = 5.0
        for i in range(2):
            x = x * 2
        loss = np.sum(x ** 2)
        return loss, dlgradient(loss, x0)
    with pytest.raises(sct.CompileError, match="in place"):
        dlfeval(f, dlarray(np.array([1.0, 2.0])))


# --- a copy of a name's last value: ``v = s`` after the loop binding s, s not bound again -------------

def _after_loop(x):
    s = x * 0.5
    for k in range(3):
        s = np.tanh(s * 0.4 + x)
    return s


def _tail(x, v):
    """What y computes from v (and, through s, the same value) once the loop is done."""
    t = v * 1.0
    t = t + np.sin(v) * x
    return np.log(1.0 + np.sum(t ** 2))


def copy_of_last_value(x):
    s = x * 0.5
    for k in range(3):
        s = np.tanh(s * 0.4 + x)
    v = s
    t = v * 1.0
    t = t + np.sin(s) * x
    y = np.log(1.0 + np.sum(t ** 2))
    return y, dlgradient(y, v)


def copy_of_branch_value(x):
    s = x * 0.5
    if np.sum(x) > 0:
        s = np.tanh(s * 0.4 + x)
    v = s
    t = v * 1.0
    t = t + np.sin(s) * x
    y = np.log(1.0 + np.sum(t ** 2))
    return y, dlgradient(y, [v, x])


def test_copy_of_a_loop_value_not_bound_again():
    x = np.array([0.3, -0.6])
    y, g = dlfeval(copy_of_last_value, dlarray(x))
    s = _after_loop(x)
    np.testing.assert_allclose(float(extractdata(y)), _tail(x, s), rtol=1e-13)
    np.testing.assert_allclose(extractdata(g), numerical_gradient(lambda v: _tail(x, v), [s], 0), rtol=1e-6)


@pytest.mark.parametrize("x", [[0.3, 0.6], [-0.3, -0.6]])
def test_copy_of_a_branch_value_with_a_second_x(x):
    x = np.array(x)
    y, (gv, gx) = dlfeval(copy_of_branch_value, dlarray(x))
    s = np.tanh(x * 0.5 * 0.4 + x) if np.sum(x) > 0 else x * 0.5
    np.testing.assert_allclose(extractdata(gv), numerical_gradient(lambda v: _tail(x, v), [s], 0), rtol=1e-6)

    def whole(x):
        s = np.tanh(x * 0.5 * 0.4 + x) if np.sum(x) > 0 else x * 0.5
        return _tail(x, s)
    np.testing.assert_allclose(extractdata(gx), numerical_gradient(whole, [x], 0), rtol=1e-6)


def test_copy_whose_source_is_bound_again_after_it():
    """s bound again after ``v = s`` (at the top, then in a loop): the normalizer gives the later values
    names of their own, so v is still the value s had, its uses through s's later values included."""
    def f(x):
        s = x * 0.5
        for k in range(2):
            s = np.tanh(s + x)
        v = s
        s = s * 2.0
        for k in range(2):
            s = s + np.sin(s)
        y = np.sum(v * s)
        return y, dlgradient(y, v)

    def tail(v):
        s = v * 2.0
        for k in range(2):
            s = s + np.sin(s)
        return np.sum(v * s)
    x = np.array([0.3, -0.6])
    s = x * 0.5
    for k in range(2):
        s = np.tanh(s + x)
    y, g = dlfeval(f, dlarray(x))
    np.testing.assert_allclose(float(extractdata(y)), tail(s), rtol=1e-13)
    np.testing.assert_allclose(extractdata(g), numerical_gradient(tail, [s], 0), rtol=1e-6)


def test_copy_whose_source_is_bound_again_in_a_later_loop_is_refused():
    def f(x):
        s = x * 0.5
        for k in range(2):
            s = np.tanh(s + x)
        v = s
        for k in range(2):
            s = s + np.sin(s)
        y = np.sum(v * s)
        return y, dlgradient(y, v)
    with pytest.raises(sct.CompileError, match="cannot differentiate with respect to 'v'"):
        dlfeval(f, dlarray(np.array([0.3, -0.6])))
