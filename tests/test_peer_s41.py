"""Red team (peer test suites, s41): functions of autograd's, tangent's and JAX's tests and examples
run through dlfeval/dlgradient.  Values against plain numpy, gradients against central differences
(tests/gradcheck.py)."""
from __future__ import annotations

import numpy as np
import pytest
from numpy.polynomial import polynomial as P

import sct
from sct import CompileError, dlarray, dlfeval, dlgradient, extractdata
from gradcheck import assert_close, numerical_gradient


# --- a dlgradient in a loop that differentiates its own result of the pass before ------------------
# (autograd's examples/tanh.py: egrad(egrad(...(tanh))) written as a loop (four orders here; six take minutes to compile).  The pass after the first
# was not seen as differentiating the site's result (only sites written later were), so no second-order
# record was kept and every derivative after the first was a silent zero.)

def tanh(x):
    return (1.0 - np.exp(-x)) / (1.0 + np.exp(-x))


def egrad_loop(x):
    outs = []
    g = tanh(x)
    for k in range(4):
        g = dlgradient(np.sum(g), x, EnableHigherDerivatives=True)
        outs.append(g)
    return outs


def tanh_derivatives(x, n):
    """The first n derivatives of tanh(x / 2), as polynomials in t = tanh(x / 2)."""
    p, out = np.array([0.0, 1.0]), []
    for _ in range(n):
        p = P.polymul(P.polyder(p), np.array([0.5, 0.0, -0.5]))
        out.append(P.polyval(np.tanh(x / 2), p))
    return out


def test_nth_derivatives_by_a_gradient_in_a_loop():
    x = np.linspace(-3.0, 3.0, 7)
    got = dlfeval(egrad_loop, dlarray(x))
    for k, (g, expected) in enumerate(zip(got, tanh_derivatives(x, 4))):
        assert_close(extractdata(g), expected, rtol=1e-8, atol=1e-10, what=f"derivative {k + 1}")


def second_by_loop(x):
    g = np.sin(x) * x
    for k in range(2):
        g = dlgradient(np.sum(g), x, EnableHigherDerivatives=True)
    return np.sum(g * g)


def second_plain(x):
    d2 = 2 * np.cos(x) - x * np.sin(x)          # d2/dx2 of x sin x
    return np.sum(d2 * d2)


def test_a_loop_of_gradients_value_jvp_and_gradient():
    x, v = np.array([0.4, 1.1, -0.7]), np.array([1.0, -0.5, 0.3])
    assert_close(extractdata(dlfeval(second_by_loop, dlarray(x))), second_plain(x), rtol=1e-12, atol=1e-12)
    y, t = sct.jvp(second_by_loop, (x.copy(),), (v,))
    fd = numerical_gradient(second_plain, [x.copy()], 0)
    assert_close(np.asarray(y), second_plain(x), rtol=1e-12, atol=1e-12)
    assert_close(np.asarray(t), fd @ v, rtol=1e-6, atol=1e-7)
    _, g = dlfeval(lambda a: _value_and_gradient(second_by_loop, a), dlarray(x))
    assert_close(extractdata(g), fd, rtol=1e-5, atol=1e-6)


def _value_and_gradient(f, a):
    y = f(a)
    return y, dlgradient(y, a)


def alternating(x):
    g = np.sum(x ** 4)
    outs = []
    for k in range(2):
        h = dlgradient(np.sum(g), x, EnableHigherDerivatives=True)
        g = dlgradient(np.sum(h * x), x, EnableHigherDerivatives=True)
        outs.append(g)
    return outs


def test_two_sites_in_a_loop_feeding_each_other():
    x = np.array([1.0, 2.0])
    g1, g2 = dlfeval(alternating, dlarray(x))
    assert_close(extractdata(g1), 16 * x ** 3)
    assert_close(extractdata(g2), 144 * x ** 2)


def while_nth(x):
    g = x ** 3
    k = 0
    while k < 2:
        g = dlgradient(np.sum(g), x, EnableHigherDerivatives=True)
        k += 1
    return g


def range_n_nth(x, n):
    g = x ** 3
    for k in range(n):
        g = dlgradient(np.sum(g), x, EnableHigherDerivatives=True)
    return g


def test_a_loop_of_gradients_that_cannot_be_written_out_is_refused():
    x = dlarray(np.array([1.0, 2.0]))
    with pytest.raises(CompileError, match="inside a loop cannot be differentiated again"):
        dlfeval(while_nth, x)                   # was: zeros where 6x is
    with pytest.raises(CompileError, match="inside a loop cannot be differentiated again"):
        dlfeval(range_n_nth, x, 2)


def loss(w):
    return np.sum(np.sin(w) * w)


def train_while(w):
    i = 0
    while i < 3:
        y = loss(w)
        g = dlgradient(y, w)
        w = w - 0.1 * g
        i += 1
    return w


def train_range(w, n):
    for i in range(n):
        g = dlgradient(loss(w), w)
        w = w - 0.1 * g
    return w


def train_plain(w, n=3):
    for i in range(n):
        w = w - 0.1 * (np.cos(w) * w + np.sin(w))
    return w


def test_gradient_descent_in_a_loop_still_runs():
    # the next pass's gradient is with respect to the new w, bound from g: not a derivative of g
    x = np.array([0.3, 0.7])
    assert_close(extractdata(dlfeval(train_while, dlarray(x))), train_plain(x), rtol=1e-12, atol=1e-12)
    assert_close(extractdata(dlfeval(train_range, dlarray(x), 3)), train_plain(x), rtol=1e-12, atol=1e-12)
