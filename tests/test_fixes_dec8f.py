"""Fixes (Dec 8f).

1. An int exponent is not differentiated.  ``z ** i`` with ``i`` an int (a ``range`` counter, an
   int computed from one, ``len(...)``, an int array) differentiated twice (sct.hvp, a nested
   dlgradient, a transposed jvp): the first-order generated code takes ``i`` back off its tape
   (or its residuals), where the code differentiating it again sees it as differentiable, so the
   power rule's exponent adjoint ``g * z ** i * log(z)`` was computed (and discarded): NaN and a
   RuntimeWarning for ``z < 0``, an EvaluationError under ``np.errstate(invalid="raise")`` or
   ``warnings.simplefilter("error")``; the same for a float constant ``k = 3.0``.  Now the generated
   partial reads an exponent made of constants through ``rt.stop_gradient`` (``k * x **
   rt.stop_gradient(k - 1 + (k == 0))``), so no adjoint is computed for it at any order; and
   ``rt.exponent_log(a, b)`` (the rule's log(a)) is 0 for an int/bool ``b`` (one the compiler
   did not know constant), which has no derivative; a float exponent keeps its derivative.  (A
   first attempt at the latter was reverted: the tangent code's guard that keeps ``0 * log(x)`` from being
   NaN where the exponent's tangent is the zero marker looked for ``np.log`` in the rule and did
   not see ``exponent_log``, so sct.hvp of ``x ** k`` with a float ``k`` gave NaN at x < 0.)

2. MATLAB format labels: ``np.flip`` / ``np.roll`` of a formatted dlarray keep its labels.
"""
from __future__ import annotations

import warnings

import numpy as np
import pytest

import sct
from sct import dlarray, dlfeval, dlgradient, extractdata
from gradcheck import D, assert_close, numerical_gradient


pytestmark = pytest.mark.usefixtures("fresh_cache")   # tests/conftest.py


class strict:
    """Every numpy warning an error, every floating-point problem raised."""

    def __enter__(self):
        self.w = warnings.catch_warnings()
        self.w.__enter__()
        warnings.simplefilter("error")
        self.e = np.errstate(all="raise")
        self.e.__enter__()

    def __exit__(self, *exc):
        self.e.__exit__(*exc)
        self.w.__exit__(*exc)


# ---- 1. int exponents ----

def powers(z):
    y = 0.0
    for i in range(4):
        y = y + z ** i
    return np.sum(y)


def powers_np(z):
    y = 0.0
    for i in range(4):
        y = y + np.power(z, i) * np.sqrt(i) + np.log(i + 1) * z * z
    return np.sum(y)


def powers_computed(z):
    y = 0.0
    for i in range(3):
        k = 2 * i + 1
        y = y + z ** k + z ** len(z.shape) + z ** (z.shape[0] - 2)
    return np.sum(y)


def powers_enumerate(z):
    ws = [0.5, -1.0, 2.0]
    y = 0.0
    for k, w in enumerate(ws):
        y = y + w * np.sum(z ** k) + np.sum(z ** len(ws))
    return y


def powers_array(z):
    return np.sum(z[:, None] ** np.arange(4)) + np.sum(z ** np.array([2, 0, 3]))


def power_then_float(z):
    y = 0.0
    for i in range(3):
        y = y + z ** i * 0.5 + z ** 2.0
    return np.sum(y)


def float_constant_exponents(z):
    # float constants (integral values: z ** k is real at z < 0): taken back off the residuals in second
    # order as well, where the exponent's adjoint z ** k * log(z) was NaN (an EvaluationError when strict)
    k = 3.0
    y = np.sum(z ** k)
    for p in [2.0, 4.0]:
        y = y + np.sum(z ** p)
    return y + np.sum(z ** float(len(z.shape) + 1)) + np.sum(np.power(z, k - 1.0))


CASES = [powers, powers_np, powers_computed, powers_enumerate, powers_array, power_then_float,
         float_constant_exponents]
POINTS = {"positive": np.array([0.5, 1.5, 2.0]), "negative": np.array([-1.5, -0.5, -2.0]),
          "mixed": np.array([-1.5, 0.75, 2.0])}


def _grad(f, z):
    y = f(z)
    return y, dlgradient(y, z)


def _nested(f, z):
    y = f(z)
    g = dlgradient(y, z, EnableHigherDerivatives=True)
    s = np.sum(g * g)
    return s, dlgradient(s, z)


def _grad_value(f, z):
    return D(dlfeval(_grad, f, dlarray(z))[1])


def _grad_fn(f):
    def gradient_of(z):
        return dlgradient(f(z), z)
    return gradient_of


@pytest.mark.parametrize("point", list(POINTS))
@pytest.mark.parametrize("f", CASES, ids=lambda f: f.__name__)
def test_int_exponent_first_order(f, point):
    z = POINTS[point]
    with strict():
        y, g = dlfeval(_grad, f, dlarray(z))
    assert_close(D(y), f(z.copy()), rtol=1e-13, atol=1e-13)
    assert_close(D(g), numerical_gradient(f, [z.copy()], 0), what="gradient")


@pytest.mark.parametrize("point", list(POINTS))
@pytest.mark.parametrize("f", CASES, ids=lambda f: f.__name__)
def test_int_exponent_nested_dlgradient(f, point):
    z = POINTS[point]
    with strict():
        s, h = dlfeval(_nested, f, dlarray(z))
    g = _grad_value(f, z)
    assert_close(D(s), np.sum(g * g), rtol=1e-12, atol=1e-12)
    expected = numerical_gradient(lambda a: np.sum(_grad_value(f, a) ** 2), [z.copy()], 0)
    assert_close(D(h), expected, rtol=1e-5, atol=1e-5, what="second order")


@pytest.mark.parametrize("point", list(POINTS))
@pytest.mark.parametrize("f", CASES, ids=lambda f: f.__name__)
def test_int_exponent_hvp_and_jvp(f, point):
    z = POINTS[point]
    v = np.array([1.0, -0.5, 2.0])
    e = 1e-6
    with strict():
        hv = sct.hvp(f, z, v)
        jvs = {mode: sct.jvp(f, (z,), (v,), mode=mode) for mode in ("forward", "transpose")}
    expected = (_grad_value(f, z + e * v) - _grad_value(f, z - e * v)) / (2 * e)
    assert_close(D(hv), expected, rtol=1e-5, atol=1e-5, what="hvp")
    for mode, (y, jv) in jvs.items():
        assert_close(D(y), f(z.copy()), rtol=1e-13, atol=1e-13, what=mode)
        assert_close(D(jv), (f(z + e * v) - f(z - e * v)) / (2 * e), rtol=1e-5, atol=1e-5, what=mode)


@pytest.mark.parametrize("point", list(POINTS))
@pytest.mark.parametrize("f", [powers, powers_enumerate, powers_computed, float_constant_exponents],
                         ids=lambda f: f.__name__)
def test_jvp_of_a_gradient_function(f, point):
    z = POINTS[point]
    v = np.array([1.0, -0.5, 2.0])
    e = 1e-6
    for mode in ("forward", "transpose"):
        with strict():
            g, jv = sct.jvp(_grad_fn(f), (z,), (v,), mode=mode)
        assert_close(D(g), _grad_value(f, z), rtol=1e-12, atol=1e-12, what=mode)
        expected = (_grad_value(f, z + e * v) - _grad_value(f, z - e * v)) / (2 * e)
        assert_close(D(jv), expected, rtol=1e-5, atol=1e-5, what=mode)


def _exact_second(z):
    y = 0.0
    for i in range(3):
        y = y + np.sum(z ** i)
    g = dlgradient(y, z, EnableHigherDerivatives=True)
    return y, g, dlgradient(np.sum(g), z)


@pytest.mark.parametrize("z", [np.array([-1.5, 0.0, 2.0]), np.array([-2.0, -0.5]), np.array([0.0, 0.0])],
                         ids=["mixed", "negative", "zero"])
def test_int_exponent_second_order_exact_at_zero(z):
    with strict():
        y, g, h = dlfeval(_exact_second, dlarray(z))
        hv = sct.hvp(powers, np.resize(z, 3), np.ones(3))
    assert float(D(y)) == float(np.sum(1 + z + z ** 2))
    np.testing.assert_array_equal(D(g), 1 + 2 * z)
    np.testing.assert_array_equal(D(h), 2 * np.ones_like(z))
    np.testing.assert_array_equal(D(hv), 2 + 6 * np.resize(z, 3))


def _float_power(x, p):
    y = np.sum(x ** p)
    gx, gp = dlgradient(y, x, p, EnableHigherDerivatives=True)
    return y, gx, gp, dlgradient(gp, p), dlgradient(np.sum(gx), p)


def test_float_exponent_still_differentiated_twice():
    x, p = np.array([0.5, 1.5, 2.0]), 1.7
    y, gx, gp, gpp, gxp = dlfeval(_float_power, dlarray(x), dlarray(p))
    np.testing.assert_allclose(D(gx), p * x ** (p - 1), rtol=1e-12)
    np.testing.assert_allclose(float(D(gp)), np.sum(x ** p * np.log(x)), rtol=1e-12)
    np.testing.assert_allclose(float(D(gpp)), np.sum(x ** p * np.log(x) ** 2), rtol=1e-12)
    np.testing.assert_allclose(float(D(gxp)), np.sum(x ** (p - 1) * (1 + p * np.log(x))), rtol=1e-12)


def cube_by_name(x):
    k = 3.0
    return np.sum(x ** k)


def cube_int(x):
    k = 3
    return np.sum(x ** k)


def _nested_sum(f, z):
    y = f(z)
    g = dlgradient(y, z, EnableHigherDerivatives=True)
    return dlgradient(np.sum(g), z)


@pytest.mark.parametrize("f", [cube_by_name, cube_int])
def test_a_constant_power_at_negative_points_no_nan(f):
    # the case that made the first attempt be reverted: x ** k, k a constant the adjoint reads
    # from its residuals, forward over reverse at x < 0 (0 * log(x) must not be computed); and
    # reverse over reverse, a transposed jvp (the exponent's adjoint must not be computed)
    x, v = np.array([-1.0, 0.5, -2.0]), np.array([1.0, -0.5, 2.0])
    with strict():
        hv = sct.hvp(f, x, v)
        h = dlfeval(_nested_sum, f, dlarray(x))
        _, jv = sct.jvp(f, (x,), (v,), mode="transpose")
    np.testing.assert_allclose(D(hv), 6 * x * v, rtol=1e-14)
    np.testing.assert_allclose(D(h), 6 * x, rtol=1e-14)
    np.testing.assert_allclose(float(D(jv)), np.sum(3 * x ** 2 * v), rtol=1e-14)


def _power_model(x, p):
    y = np.sum(x ** p)
    gx = dlgradient(y, x, EnableHigherDerivatives=True)
    return y, gx, dlgradient(np.sum(gx), p)


def test_traced_exponent_keeps_its_mixed_derivative():
    # the exponent is read through rt.stop_gradient only where it is a constant: a traced p (whose
    # adjoint the first gradient does not ask for) keeps d/dp of the gradient in x
    x, p = np.array([0.5, 1.5, 2.0]), 1.7
    y, gx, gxp = dlfeval(_power_model, dlarray(x), dlarray(p))
    np.testing.assert_allclose(D(gx), p * x ** (p - 1), rtol=1e-12)
    np.testing.assert_allclose(float(D(gxp)), np.sum(x ** (p - 1) * (1 + p * np.log(x))), rtol=1e-12)


def _shown(z):
    y = 0.0
    for i in range(3):
        y = y + z ** i
    y = np.sum(y)
    return y, dlgradient(y, z)


def test_generated_code_reads_a_constant_exponent_through_stop_gradient():
    text = str(sct.source(_shown, dlarray(np.array([1.0, 2.0])), callees=True))
    # (the exponent i - 1 + (i == 0), b - (b != 0) as numpy takes it for a bool b: red team lang, dec 5;
    # kept 0 only where the base is 0 or NaN since edge43, so that its derivative in a traced b is exact:
    # rt.zero_power_fix since s43, in the base's precision)
    assert "(z ** rt.stop_gradient(rt.into_temporary('add', (i - 1), rt.zero_power_fix(z, i), 0)))" \
        in text, text


# ---- 2. np.flip / np.roll keep a formatted dlarray's labels (MATLAB's flip / circshift) ----

from sct import dims  # noqa: E402

FR = np.random.default_rng(8)
XI = FR.standard_normal((4, 3, 5, 2))           # 'SSCB': 4x3 images, 5 channels, 2 observations
XCB = FR.standard_normal((5, 3))                # 'CB'
W_I = FR.standard_normal((4, 3, 5, 2))
W_CB = FR.standard_normal((5, 3))

SAME_DIMS = {          # name: (the op, valid for 2-D data too)
    "flip0": (lambda x: np.flip(x, 0), True),
    "flip_last": (lambda x: np.flip(x, axis=-1), True),
    "flip_all": (lambda x: np.flip(x), True),
    "flip_tuple": (lambda x: np.flip(x, axis=(0, 2)), False),
    "flip_keyword": (lambda x: np.flip(m=x, axis=1), True),
    "fliplr": (lambda x: np.fliplr(x), True),
    "flipud": (lambda x: np.flipud(x), True),
    "roll1": (lambda x: np.roll(x, 1, axis=1), True),
    "roll_neg_last": (lambda x: np.roll(x, -1, axis=-1), True),
    "roll_flat": (lambda x: np.roll(x, 3), True),
    "roll_tuple": (lambda x: np.roll(x, (1, 2), axis=(0, 1)), True),
    "roll_keyword": (lambda x: np.roll(a=x, shift=2, axis=0), True),
}


# the same ops written in the function dlfeval runs (sct follows formats there, not yet into callees)
def m_flip0(x, w):
    y = np.flip(x, 0)
    loss = np.sum(sct.softmax(y) * w)
    return loss, dlgradient(loss, x), dims(y)


def m_flip_last(x, w):
    y = np.flip(x, axis=-1)
    loss = np.sum(sct.softmax(y) * w)
    return loss, dlgradient(loss, x), dims(y)


def m_flip_all(x, w):
    y = np.flip(x)
    loss = np.sum(sct.softmax(y) * w)
    return loss, dlgradient(loss, x), dims(y)


def m_flip_tuple(x, w):
    y = np.flip(x, axis=(0, 2))
    loss = np.sum(sct.softmax(y) * w)
    return loss, dlgradient(loss, x), dims(y)


def m_flip_keyword(x, w):
    y = np.flip(m=x, axis=1)
    loss = np.sum(sct.softmax(y) * w)
    return loss, dlgradient(loss, x), dims(y)


def m_fliplr(x, w):
    y = np.fliplr(x)
    loss = np.sum(sct.softmax(y) * w)
    return loss, dlgradient(loss, x), dims(y)


def m_flipud(x, w):
    y = np.flipud(x)
    loss = np.sum(sct.softmax(y) * w)
    return loss, dlgradient(loss, x), dims(y)


def m_roll1(x, w):
    y = np.roll(x, 1, axis=1)
    loss = np.sum(sct.softmax(y) * w)
    return loss, dlgradient(loss, x), dims(y)


def m_roll_neg_last(x, w):
    y = np.roll(x, -1, axis=-1)
    loss = np.sum(sct.softmax(y) * w)
    return loss, dlgradient(loss, x), dims(y)


def m_roll_flat(x, w):
    y = np.roll(x, 3)
    loss = np.sum(sct.softmax(y) * w)
    return loss, dlgradient(loss, x), dims(y)


def m_roll_tuple(x, w):
    y = np.roll(x, (1, 2), axis=(0, 1))
    loss = np.sum(sct.softmax(y) * w)
    return loss, dlgradient(loss, x), dims(y)


def m_roll_keyword(x, w):
    y = np.roll(a=x, shift=2, axis=0)
    loss = np.sum(sct.softmax(y) * w)
    return loss, dlgradient(loss, x), dims(y)


DATA = {"SSCB": (XI, W_I), "CB": (XCB, W_CB)}
CASES2 = [(name, fmt) for name, (_, two_d) in SAME_DIMS.items() for fmt in DATA if two_d or fmt != "CB"]


def _by_labels(op, data, fmt, w):
    """The loss computed outside dlfeval, the result of ``op`` labelled explicitly (MATLAB's meaning)."""
    y = dlarray(op(data), fmt)
    return float(extractdata(np.sum(sct.softmax(y) * w)))


@pytest.mark.parametrize("name, fmt", CASES2)
def test_flip_roll_keep_labels_outside_dlfeval(name, fmt):
    op = SAME_DIMS[name][0]
    data, w = DATA[fmt]
    X = dlarray(data, fmt)
    y = op(X)
    assert dims(y) == fmt
    np.testing.assert_array_equal(extractdata(y), op(data))
    loss = np.sum(sct.softmax(op(X)) * w)           # softmax reads the layout from the labels
    assert float(extractdata(loss)) == pytest.approx(_by_labels(op, data, fmt, w), rel=1e-13)


@pytest.mark.parametrize("name, fmt", CASES2)
def test_flip_roll_keep_labels_in_dlfeval_gradient(name, fmt):
    op = SAME_DIMS[name][0]
    data, w = DATA[fmt]
    loss, g, got_fmt = dlfeval(globals()["m_" + name], dlarray(data, fmt), w)
    assert got_fmt == fmt
    assert dims(g) == fmt
    assert float(extractdata(loss)) == pytest.approx(_by_labels(op, data, fmt, w), rel=1e-12)
    expected = numerical_gradient(lambda d: _by_labels(op, d, fmt, w), [data.copy()], 0)
    assert_close(extractdata(g), expected, what="gradient")


def _batchnorm_then_flip(x, offset, scale):
    y = sct.batchnorm(np.roll(np.flip(x, axis=1), 1, axis=0), offset, scale)
    loss = np.sum(y * W_I)
    g = dlgradient(loss, x, EnableHigherDerivatives=True)
    return loss, g, dlgradient(np.sum(g * g), x), dims(y)


def test_batchnorm_of_flipped_and_rolled_image_first_and_second_order():
    offset, scale = FR.standard_normal(5), 1 + FR.random(5)

    def eager(d):
        y = sct.batchnorm(dlarray(np.roll(np.flip(d, axis=1), 1, axis=0), "SSCB"), offset, scale)
        return float(extractdata(np.sum(y * W_I)))

    def grad(d):
        return extractdata(dlfeval(_batchnorm_then_flip, dlarray(d, "SSCB"), offset, scale)[1])

    loss, g, h, fmt = dlfeval(_batchnorm_then_flip, dlarray(XI, "SSCB"), offset, scale)
    assert fmt == "SSCB"
    assert float(extractdata(loss)) == pytest.approx(eager(XI), rel=1e-12, abs=1e-12)
    assert_close(extractdata(g), numerical_gradient(eager, [XI.copy()], 0), what="gradient")
    assert_close(extractdata(h), numerical_gradient(lambda d: np.sum(grad(d) ** 2), [XI.copy()], 0),
                 rtol=1e-4, atol=1e-5, what="second order")


def lost_then_flip(x):
    y = np.flip(x.T, 0)
    loss = np.sum(sct.softmax(y) ** 2)
    return loss, dlgradient(loss, x)


def lost_then_roll(x):
    y = np.roll(np.reshape(x, (3, 5)), 1)
    loss = np.sum(sct.softmax(y) ** 2)
    return loss, dlgradient(loss, x)


@pytest.mark.parametrize("f", [lost_then_flip, lost_then_roll])
def test_flip_roll_of_lost_labels_stay_lost(f):
    # (np.roll of a LOST array gave an unformatted one before, read in sct's default layout)
    with pytest.raises(ValueError, match="softmax: its input is unformatted because"):
        np.sum(sct.softmax(SAME_DIMS["roll1" if f is lost_then_roll else "flip0"][0](dlarray(XCB, "CB").T)))
    with pytest.raises(sct.CompileError, match="softmax: its input is unformatted because"):
        dlfeval(f, dlarray(XCB, "CB"))


def unformatted_flip_roll(x):
    y = np.sum(sct.softmax(np.roll(np.flip(x, 0), 1, axis=1)) ** 2)
    return y, dlgradient(y, x)


def test_flip_roll_of_unformatted_stay_unformatted():
    y, g = dlfeval(unformatted_flip_roll, dlarray(XCB))
    assert dims(g) == "" and dims(np.flip(dlarray(XCB))) == "" and dims(np.roll(dlarray(XCB), 1)) == ""
    f = lambda d: float(extractdata(np.sum(sct.softmax(dlarray(np.roll(np.flip(d, 0), 1, axis=1))) ** 2)))
    assert_close(extractdata(g), numerical_gradient(f, [XCB.copy()], 0))


# ---- 3. next() of a generator expression bound to a name: Python's generator, item by item ----

def gen_basic(x):
    ws = [1.0, 2.0, 3.0]
    g = (t * x for t in ws)
    a = next(g)
    b = next(g)
    return np.sum(a * b)


def gen_late_binding(x):
    # the element reads s when next() runs; the list is read as it is then (ws[1] changed)
    ws = [1.0, 2.0, 3.0]
    s = 1.0
    g = (t * s * x for t in ws)
    a = next(g)
    s = 2.0
    ws[1] = 5.0
    b = next(g)
    return np.sum(a * b)


def gen_lazy(x):
    # only the items taken are computed (log of the negative x[3] never taken); the condition of
    # the item passed over only (x[1] = 1.5)
    g = (np.log(x[k]) * x[0] for k in range(4) if float(x[k]) > 1.8)
    a = next(g)
    b = next(g)
    return a + b * 2.0


def gen_in_loop_with_default(x):
    g = (x[k] ** 2 for k in range(4))
    y = 0.0
    for j in range(3):
        v = next(g)
        y = y + v * j
    w = next(g, x[0] * 10.0)
    z = next(g, x[1] * 10.0)
    return y + w + z


def gen_zip_enumerate(x):
    ws = [0.5, 1.5, 2.5]
    g = (i * w * a for i, (w, a) in enumerate(zip(ws, x), 1))
    p = next(g)
    q = next(g)
    next(g)
    r = next(g, 0.0)
    return p * q + r


def gen_exhausted_for_good(x):
    ws = [1.0]
    g = (t * x[0] for t in ws)
    a = next(g)
    b = next(g, 0.0)
    ws.append(3.0)           # Python's exhausted iterator does not see it
    c = next(g, 0.0)
    return a + b + c


def gen_remade_in_loop(x):
    y = 0.0
    for j in range(3):
        g = (x[k] * (j + 1) for k in range(4) if k >= j)
        v = next(g)
        w = next(g, 1.0)
        y = y + v * w
    return y


def gen_shadowing(x):
    t = 7.0                  # the generator's t is its own
    g = (t * x[0] for t in [1.0, 2.0])
    a = next(g)
    return a * t


GENERATOR_CASES = [gen_basic, gen_late_binding, gen_lazy, gen_in_loop_with_default, gen_zip_enumerate,
                   gen_exhausted_for_good, gen_remade_in_loop, gen_shadowing]
XG = np.array([2.0, 1.5, 4.0, -3.0])


@pytest.mark.parametrize("f", GENERATOR_CASES, ids=lambda f: f.__name__)
def test_next_of_a_named_generator_as_python(f):
    with strict():
        expected = f(XG.copy())
        y, g = dlfeval(_grad, f, dlarray(XG))
    assert float(D(y)) == float(expected)
    plain = lambda v: float(f(v))
    assert_close(D(g), numerical_gradient(plain, [XG.copy()], 0), what="gradient")


def gen_exhausted(x):
    g = (x[k] for k in range(3) if k > 5)
    v = next(g)
    return v


def test_next_of_an_exhausted_named_generator_raises_stop_iteration():
    with pytest.raises(StopIteration):
        gen_exhausted(XG.copy())
    with pytest.raises((StopIteration, sct.EvaluationError)) as info:
        dlfeval(_grad, gen_exhausted, dlarray(XG))
    assert "StopIteration" in repr(info.value) or isinstance(info.value, StopIteration)


def gen_over_dict(x):
    d = {"a": 1.0, "b": 2.0}
    g = (d[k] * x[0] for k in d)
    u = next(g)
    return u


def test_named_generator_over_a_dict_refused_at_run_time():
    # Python reads a dict by its own iterator (a key added between two next() calls raises): refused
    with pytest.raises(sct.SctError, match="a generator expression over a dict"):
        dlfeval(_grad, gen_over_dict, dlarray(XG))


def gen_in_expression(x):
    g = (x[k] * 2.0 for k in range(3))
    a = next(g) * 2.0
    return a


def gen_also_looped(x):
    g = (x[k] * 2.0 for k in range(3))
    a = next(g)
    return a + sum(g)


@pytest.mark.parametrize("f", [gen_in_expression, gen_also_looped], ids=lambda f: f.__name__)
def test_other_reads_of_a_named_generator_still_refused(f):
    with pytest.raises(sct.CompileError, match="next\\(\\) of the generator g"):
        dlfeval(_grad, f, dlarray(XG))


def gen_unused(x):
    d = {"a": 1.0}
    g = (v for v in d)       # never read: left as it was (not refused for its dict)
    return np.sum(x * 2.0)


def test_a_named_generator_no_next_reads_is_left_as_it_was():
    y, g = dlfeval(_grad, gen_unused, dlarray(XG))
    assert float(D(y)) == float(gen_unused(XG.copy()))
    np.testing.assert_array_equal(D(g), 2.0 * np.ones(4))
