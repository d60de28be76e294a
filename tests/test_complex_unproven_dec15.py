"""Values sct cannot prove real (Dec 15): a result of code it reads apart or not at all (a function
passed in, a lambda, a loop over functions, a field holding a function, cmath, a helper given a
function), a global, a field, a class attribute or a property holding a complex number, a complex
value appended to a list, map/reduce over lambdas.

Before, a value not known to be complex was taken for real: a rule's conjugate was dropped and the
adjoint of a real operand not projected on the reals, giving silently wrong gradients at first order
(``w = fn(x)`` with ``fn = lambda v: v * (2 - 1j)``: all six ways of reaching the function), and at
second order wherever the first-level code calls through rt.vjp_at (a method making complex values,
a global complex array).  Now analysis keeps ``maybe_complex``: every name some assignment of which is
not proven real (``Activity.value_real``: a user function's code is read for that, ``_code_real``);
for those a rule's conjugate is ``rt.conj_of`` and the projection ``rt.real_if_real``, decided when
the code runs.  Values proven real (the usual case: real arguments, helpers whose code makes no
complex value) generate the same code as before (scripts/source_snapshot.py: the benchmarks'
sources are unchanged).

Checked: value against plain Python, gradient and a gradient of the gradient against central
differences (first-level and accelerated), jvp and hvp against differences of the function.
"""
import os
import sys

import numpy as np
import pytest

sys.path.insert(0, os.path.dirname(__file__))
from gradcheck import assert_close  # noqa: E402
from test_redteam_dec14i import check  # noqa: E402

import sct  # noqa: E402
from sct import dlarray, extractdata  # noqa: E402

import cmath  # noqa: E402
import functools  # noqa: E402

C = np.exp(1j * np.array([0.3, 0.7]))
CS = 1 + 2j
D = {"c": np.exp(0.5j)}


def rot(v):
    return v * (2 - 1j)


def apply_fn(x, fn=rot):
    w = fn(x)
    return np.real(np.sum(w * w * x))


def via_param(x):
    return apply_fn(x, rot)


def via_local(x):
    g = rot if x.shape[0] > 1 else np.sin
    w = g(x)
    return np.real(np.sum(w * w * x))


def via_lambda(x):
    g = lambda v: v * (2 - 1j)
    w = g(x)
    return np.real(np.sum(w * w * x))


def via_dict(x):
    fs = {"a": rot}
    w = fs["a"](x)
    return np.real(np.sum(w * w * x))


class Holder:
    def __init__(self):
        self.f = rot

    def run(self, x):
        w = self.f(x)
        return np.real(np.sum(w * w * x))


def via_attr(x):
    return Holder().run(x)


def via_list(x):
    t = 0
    for f in [rot, rot]:
        w = f(x)
        t = t + np.real(np.sum(w * w * x))
    return t


def glob_arr(x):
    w = C * x
    return np.real(np.sum(w * w * x))


def cmath_const(x):
    c = cmath.rect(1.0, 0.4)
    w = c * x
    return np.real(np.sum(w * w))


def _ph(t):
    return cmath.rect(1.0, t)


def helper_const(x):
    c = _ph(0.4)
    w = c * x
    return np.real(np.sum(w * w))


class Cfg:
    def __init__(self):
        self.c = np.exp(0.5j)


CFG = Cfg()


def attr_const(x):
    w = CFG.c * x
    return np.real(np.sum(w * w))


def dict_const(x):
    w = D["c"] * x
    return np.real(np.sum(w * w))


class Rotation:
    def __init__(self, a):
        self.a = a

    def apply(self, v):
        return v * np.exp(1j * self.a)

    def __call__(self, v):
        return v * (2 - 1j)


def method_complex(x):
    r = Rotation(0.3)
    z = r.apply(x)
    return np.real(np.sum(z * z * x))


def call_of_object(x):
    r = Rotation(0.3)
    w = r(x)
    return np.real(np.sum(w * w * x))


class Phased:
    phase = np.exp(0.7j)

    @property
    def turn(self):
        return 1j * 0.5

    def scale(self, v):
        return v * self.phase


def class_attribute(x):
    p = Phased()
    w = p.scale(x)
    return np.real(np.sum(w * w * x))


def property_value(x):
    p = Phased()
    w = x * p.turn
    return np.real(np.sum(w * w * x)) + np.sum(x * x)


def appended(x):
    xs = []
    xs.append(x * (1 + 1j))
    w = xs[0]
    return np.real(np.sum(w * w * x))


def mapped(x):
    ws = list(map(lambda v: v * (2 - 1j), [x[0], x[1]]))
    return np.real(ws[0] * ws[1] * x[0] + ws[1] * ws[1])


def reduced(x):
    w = functools.reduce(lambda a, b: a * b, [x, x * 1j, x])
    return np.real(np.sum(w * x))


def _twice(f, v):
    return f(f(v))


def helper_calls_param(x):
    w = _twice(rot, x)
    return np.real(np.sum(w * w * x))


def _real_layer(v, w):
    return np.tanh(v * w)


def real_helper_mixed(x):
    # a real helper's result times a complex value: both kinds in one program
    h = _real_layer(x, 0.5)
    z = h * (1 + 2j)
    return np.real(np.sum(z * z * h))


CASES = [via_param, via_local, via_lambda, via_dict, via_attr, via_list, glob_arr, cmath_const,
         helper_const, attr_const, dict_const, method_complex, call_of_object, class_attribute,
         property_value, appended, mapped, reduced, helper_calls_param, real_helper_mixed]


@pytest.mark.parametrize("f", CASES, ids=lambda f: f.__name__)
def test_gradients(f):
    check(f, [0.5, 0.3])


@pytest.mark.parametrize("f", CASES, ids=lambda f: f.__name__)
def test_accelerated(f):
    check(f, [0.5, 0.3], accelerate=True, order=1)


def _fd_gradient(f, x, h=1e-6):
    return np.array([(f(x + h * e) - f(x - h * e)) / (2 * h) for e in np.eye(len(x))])


@pytest.mark.parametrize("f", CASES, ids=lambda f: f.__name__)
def test_forward_mode(f):
    x, v = np.array([0.5, 0.3]), np.array([0.7, -0.4])
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


def _real_net(v, w):
    return np.tanh(v @ w)


class _Affine:
    def __init__(self, W, b):
        self.W, self.b = W, b

    def __call__(self, x):
        return np.tanh(x @ self.W + self.b)


def _loss_with_layers(W, b, x):
    layer = _Affine(W, b)
    y = layer(x)
    h = _real_net(y, W)
    return np.sum(h ** 2)


def test_real_programs_keep_their_code():
    """Helpers and layers whose code makes no complex value, given real values, are proven real:
    their callers' code has no run-time decisions (rt.conj_of, rt.real_if_real) added."""
    rng = np.random.default_rng(0)
    W, b, x = rng.standard_normal((3, 3)), rng.standard_normal(3), rng.standard_normal((2, 3))

    def loss_grad(W, b):
        loss = _loss_with_layers(W, b, x)
        return loss, sct.dlgradient(loss, W, b)
    text = str(sct.source(loss_grad, dlarray(W), dlarray(b)))
    assert "conj_of" not in text and "real_if_real" not in text and "np.real" not in text, text
    _, (gW, gb) = sct.dlfeval(loss_grad, dlarray(W), dlarray(b))
    from gradcheck import numerical_gradient
    assert_close(extractdata(gW), numerical_gradient(lambda a: _loss_with_layers(a, b, x), [W], 0),
                 what="layer: gradient")


class _Scaled:
    factor = 2.0

    def scale(self, v):
        return v * self.factor


def _scaled_loss(x):
    p = _Scaled()
    w = p.scale(x)
    return np.real(np.sum(w * w * x))


def _phase_loss(x):
    w = _rotate_by_global(x)
    return np.real(np.sum(w * w * x))


PHASE = np.array([0.5, 0.25])


def _rotate_by_global(v):
    return v * PHASE


def test_a_global_or_class_attribute_rebound_to_a_complex_value():
    """A helper proven real because the global or the class attribute it reads is real: the code
    relying on that is guarded on it, so rebinding it to a complex value compiles it again (was: the
    first compile's code reused, a gradient without the conjugate)."""
    global PHASE
    saved, saved_factor = PHASE, _Scaled.factor
    try:
        check(_phase_loss, [0.5, 0.3])
        PHASE = np.array([0.5 + 1j, 0.25 - 0.5j])
        check(_phase_loss, [0.5, 0.3])
        check(_scaled_loss, [0.5, 0.3])
        _Scaled.factor = 0.5 + 1j
        check(_scaled_loss, [0.5, 0.3])
    finally:
        PHASE, _Scaled.factor = saved, saved_factor


class _Dense:
    def __init__(self, W, b):
        self.W, self.b = W, b

    def __call__(self, x):
        return np.tanh(x @ self.W + self.b)


class _Turn:
    def __call__(self, v):
        return v * (1 + 1j)


def _layers_loss(W, b, x):
    layers = [_Dense(W, b), _Dense(W, b)]
    h = x
    for layer in layers:
        h = layer(h)
    return np.sum(h ** 2)


def _layers_appended(W, b, x):
    layers = [_Dense(W, b), _Turn()]
    layers.append(_Dense(W, b))
    h = x
    for layer in layers:
        h = layer(h)
    return np.real(np.sum(h * h))


def test_a_list_of_layers():
    """``for layer in layers`` over a list of objects of known classes is proven real (no run-time
    decisions in a real program); a list changed in place (``layers.append``) is not (its items'
    classes are not all known): a complex layer appended gives the right gradient."""
    from gradcheck import numerical_gradient
    rng = np.random.default_rng(1)
    W, b, x = rng.standard_normal((3, 3)), rng.standard_normal(3), rng.standard_normal((2, 3))
    for loss, clean in ((_layers_loss, True), (_layers_appended, False)):
        def loss_grad(W, b):
            L = loss(W, b, x)
            return L, sct.dlgradient(L, W)
        text = str(sct.source(loss_grad, dlarray(W), dlarray(b), callees=True, run=True))
        assert ("conj_of" not in text) == clean, text
        L, g = sct.dlfeval(loss_grad, dlarray(W), dlarray(b))
        assert_close(extractdata(L), loss(W, b, x), rtol=1e-12, what=f"{loss.__name__}: value")
        assert_close(extractdata(g), numerical_gradient(lambda a: loss(a, b, x), [W], 0),
                     what=f"{loss.__name__}: gradient")


def _magnitude(z):
    return np.abs(z)


def magnitude_plus_unknown(x):
    g = lambda v: v * (2 - 1j)
    g2 = lambda v: v * (1 + 2j) + 0.3
    m = _magnitude(g2(x))
    v = m + g(x)
    return np.real(np.sum(v * np.conj(v)))


def magnitude_plus_unknown_inline(x):
    g = lambda v: v * (2 - 1j)
    m = np.abs(x * (1 + 2j) + 0.3)
    v = m + g(x)
    return np.real(np.sum(v * np.conj(v)))


@pytest.mark.parametrize("f", [magnitude_plus_unknown, magnitude_plus_unknown_inline], ids=lambda f: f.__name__)
def test_a_real_value_added_to_a_value_not_proven_real(f):
    """``v = m + w`` with ``m`` real and ``w`` possibly complex: ``v``'s adjoint was taken as real as
    ``m`` (each adjoint is as real as its value) and not projected for ``m``, so np.abs's rule got
    a complex cotangent: a silently wrong gradient.  An adjoint follows its operand's realness only
    where the statement keeps its operands apart or every other operand is proven real."""
    check(f, [0.5, 0.3])
