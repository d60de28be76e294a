"""Issue 8, items 3 and 5: the optimiser over generated code (sct/optimize.py) and hvp by
forward over reverse.

Every program here runs with the optimiser on and off (SCT_OPTIMIZE=0): values and
gradients must be identical, bit for bit, and right (central differences).
"""
import dataclasses

import numpy as np
import pytest

import sct
from sct import cache, dlarray, dlfeval, dlgradient, extractdata
from sct.runtime import support

from gradcheck import assert_close, numerical_gradient


# --- programs written as users write them ------------------------------------------------------

def rosen(x):
    return np.sum(100*(x[1:] - x[:-1]**2)**2 + (1 - x[:-1])**2)


def rosen_grad(x):
    y = rosen(x)
    return y, dlgradient(y, x)


def elements(x):
    y = x[0]*x[1] + x[2]**2 - np.sin(x[0])
    return y, dlgradient(y, x)


def shifted_conv(X, K, b):
    Z = b
    for i in range(2):
        for j in range(2):
            Z = Z + X[:, i:i+3, j:j+3] * K[i, j]
    loss = np.sum(np.tanh(Z) ** 2)
    gK, gb = dlgradient(loss, K, b)
    return loss, gK, gb


def scalar_loop(x):
    y = x
    for i in range(30):
        if y > 0.5:
            y = y - 0.02*np.sin(3*y) - 0.01
        else:
            y = y + 0.02*np.cos(y) + 0.01*y*y
    return y, dlgradient(y, x)


def fancy_repeat(x):
    idx = np.array([0, 2, 2, 1, 0])
    y = np.sum(x[idx] ** 3) + np.sum(x[1:] * x[:-1])
    return y, dlgradient(y, x)


def two_sweeps(x, w):
    a = np.sum(x[1:] * w[:-1])
    b = np.sum(x[:-1] ** 2)
    ga = dlgradient(a, x)
    gb = dlgradient(b, x)
    return ga, gb, ga + gb


def params_dict(p, X):
    h = np.tanh(X @ p["W"] + p["b"])
    loss = np.sum(h[:, 1:] ** 2) + np.sum(h[:, :1])
    return loss, dlgradient(loss, p)


@dataclasses.dataclass
class Model:
    w: np.ndarray
    c: float


def model_loss(m, x):
    total = 0.0
    for k in range(3):
        total = total + m.c * np.sum(x[k:k+2] * m.w[k])
    return total, dlgradient(total, m.w)


def nested_second(x, v):
    y = rosen(x)
    g = dlgradient(y, x, EnableHigherDerivatives=True)
    return dlgradient(np.sum(g * v), x)


def reassigned(x):
    s = x[0]
    s = s * x[1]
    t = x[1:]
    t = t * s
    loss = np.sum(t) + s
    return loss, dlgradient(loss, x)


def float32_slices(x):
    y = np.sum(x[1:] * x[:-1]) + np.sum(x[::2])
    return y, dlgradient(y, x)


RNG = np.random.default_rng(0)
PROGRAMS = [
    (rosen_grad, (RNG.normal(size=7),)),
    (elements, (RNG.normal(size=3),)),
    (shifted_conv, (RNG.normal(size=(2, 4, 4)), RNG.normal(size=(2, 2)), RNG.normal(size=(3, 3)))),
    (scalar_loop, (np.array(0.3),)),
    (scalar_loop, (np.array(0.9),)),
    (fancy_repeat, (RNG.normal(size=4),)),
    (two_sweeps, (RNG.normal(size=5), RNG.normal(size=5))),
    (params_dict, ({"W": RNG.normal(size=(3, 4)), "b": RNG.normal(size=4)}, RNG.normal(size=(5, 3)))),
    (model_loss, (Model(RNG.normal(size=4), 1.5), RNG.normal(size=6))),
    (nested_second, (RNG.normal(size=6), RNG.normal(size=6))),
    (reassigned, (RNG.normal(size=4),)),
    (float32_slices, (RNG.normal(size=6).astype(np.float32),)),
]


def _data(out):
    if isinstance(out, (tuple, list)):
        return [_data(o) for o in out]
    if isinstance(out, dict):
        return {k: _data(v) for k, v in out.items()}
    return np.asarray(extractdata(out))


def _run(fun, args, optimize, monkeypatch):
    monkeypatch.setenv("SCT_OPTIMIZE", "1" if optimize else "0")
    cache.clear()
    wrapped = [dlarray(a) if isinstance(a, np.ndarray) else a for a in args]
    if isinstance(args[0], Model):
        wrapped[0] = Model(dlarray(args[0].w), args[0].c)
    if isinstance(args[0], dict):
        wrapped[0] = {k: dlarray(v) for k, v in args[0].items()}
    out = dlfeval(fun, *wrapped)
    text = sct.source(fun, *wrapped, callees=True)
    cache.clear()
    return _data(out), text


def _identical(a, b, exact=True):
    if isinstance(a, list):
        assert len(a) == len(b)
        for u, v in zip(a, b):
            _identical(u, v, exact)
    elif isinstance(a, dict):
        assert a.keys() == b.keys()
        for k in a:
            _identical(a[k], b[k], exact)
    else:
        assert a.dtype == b.dtype and a.shape == b.shape
        if exact:
            assert np.array_equal(a, b), (a, b)
        else:
            np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize("fun, args", PROGRAMS, ids=[f.__name__ for f, _ in PROGRAMS])
def test_optimised_and_plain_code_give_identical_results(fun, args, monkeypatch):
    on, text_on = _run(fun, args, True, monkeypatch)
    off, text_off = _run(fun, args, False, monkeypatch)
    # a product summed over broadcast axes becomes one contraction (einsum): the same
    # sum in another order, so equal to rounding; everything else is bit for bit
    _identical(on, off, exact=fun is not shifted_conv)
    if fun in (rosen_grad, shifted_conv, scalar_loop, fancy_repeat, float32_slices, model_loss):
        assert text_on != text_off, "the optimiser changed nothing"


def _fd_check(fun, x, out_index=1):
    """The gradient dlfeval gives (optimised code) against central differences of the value."""
    got = np.asarray(extractdata(dlfeval(fun, dlarray(x))[out_index]))
    value = lambda z: float(np.asarray(extractdata(dlfeval(fun, dlarray(z))[0])))
    assert_close(got, numerical_gradient(value, [x], 0), rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("fun, size", [(rosen_grad, 7), (elements, 3), (fancy_repeat, 4),
                                       (reassigned, 4)])
def test_optimised_gradients_match_central_differences(fun, size):
    _fd_check(fun, np.random.default_rng(3).normal(size=size))


def test_scalar_loop_gradient_matches_central_differences():
    for x0 in (0.3, 0.9):
        _fd_check(scalar_loop, np.array(x0))


# --- what the rewrites do to the printed code ------------------------------------------------------

def test_slice_adjoints_accumulate_into_one_buffer(monkeypatch):
    monkeypatch.setenv("SCT_OPTIMIZE", "1")
    cache.clear()
    text = sct.source(rosen_grad, dlarray(np.ones(5)), callees=True)
    assert "d_x = rt.index_add(d_x, d_x_item, x, rt.index_slice(1, None, None))" in text
    assert "d_x + rt.index_adjoint" not in text
    monkeypatch.setenv("SCT_OPTIMIZE", "0")
    cache.clear()
    plain = sct.source(rosen_grad, dlarray(np.ones(5)), callees=True)
    assert "d_x = d_x + rt.index_adjoint(d_x_item, x, rt.index_slice(1, None, None))" in plain
    cache.clear()


def test_first_contribution_assigned_and_known_checks_dropped(monkeypatch):
    monkeypatch.setenv("SCT_OPTIMIZE", "1")
    monkeypatch.setenv("SCT_SCALARS", "0")       # the optimiser's own rewrites (not sct/scalars.py's)
    cache.clear()
    text = sct.source(scalar_loop, dlarray(np.array(0.3)))
    # d_y_sub is rt.ZERO at every loop head: its first contribution is assigned
    assert "d_y_sub = d_y\n" in text and "d_y_sub = d_y_sub + d_y" not in text
    # after `d_y = rt.ZERO`, the contribution to d_y is assigned, not added to zero
    assert "d_y = rt.unbroadcast(d_y_sub, y)" in text
    # the adjoint of `y = x` at the end: d_x is rt.ZERO before it
    assert "d_x = d_x + d_y" not in text
    cache.clear()


def test_switch_off_restores_the_plain_code(monkeypatch):
    monkeypatch.setenv("SCT_OPTIMIZE", "0")
    cache.clear()
    text = sct.source(scalar_loop, dlarray(np.array(0.3)))
    assert "d_y_sub = d_y_sub + d_y" in text
    cache.clear()


# --- rt.index_add, the in-place accumulation ---------------------------------------------------------

def test_index_add_adds_in_place_into_a_buffer_of_the_same_dtype():
    x = np.zeros(6)
    total = support.index_adjoint(np.ones(2), x, slice(0, 2))
    out = support.index_add(total, np.full(3, 2.0), x, slice(1, 4))
    assert out is total
    np.testing.assert_array_equal(out, [1, 3, 2, 2, 0, 0])


def test_index_add_repeated_fancy_indices_are_summed_out_of_place():
    x = np.zeros(4)
    total = np.zeros(4)
    out = support.index_add(total, np.array([1.0, 2.0, 4.0]), x, (np.array([1, 1, 3]),))
    assert out is not total and not total.any()
    np.testing.assert_array_equal(out, [0, 3, 0, 4])


@pytest.mark.parametrize("grad", [np.ones(2, dtype=np.float32), 1.0, support.ZERO])
def test_index_add_other_dtypes_and_zeros_give_the_out_of_place_sum(grad):
    x = np.zeros(4)
    total = np.arange(4.0)
    before = total.copy()
    out = support.index_add(total, grad, x, slice(0, 2))
    expected = before + support.index_adjoint(grad, x, slice(0, 2))
    np.testing.assert_array_equal(out, expected)
    assert out.dtype == expected.dtype
    if out is not total:
        np.testing.assert_array_equal(total, before)


def test_index_add_into_the_zero_marker_is_a_new_index_adjoint():
    x = np.zeros((2, 3), dtype=np.float32)
    out = support.index_add(support.ZERO, np.ones(3, dtype=np.float32), x, 1)
    assert out.dtype == np.float32
    np.testing.assert_array_equal(out, [[0, 0, 0], [1, 1, 1]])


def test_gradient_buffers_of_two_sweeps_are_independent():
    x, w = np.arange(5.0), np.arange(5.0) + 1
    ga, gb, both = (np.asarray(extractdata(o)) for o in dlfeval(two_sweeps, dlarray(x), dlarray(w)))
    np.testing.assert_array_equal(ga, np.r_[0, w[:-1]])
    np.testing.assert_array_equal(gb, np.r_[2 * x[:-1], 0])
    np.testing.assert_array_equal(both, ga + gb)


def test_second_derivatives_through_optimised_slice_adjoints():
    """Reverse over reverse differentiates the optimised adjoint (rt.index_add) again."""
    rng = np.random.default_rng(5)
    x, v = rng.normal(size=6), rng.normal(size=6)
    got = np.asarray(extractdata(dlfeval(nested_second, dlarray(x), dlarray(v))))

    def grad_dot_v(z):
        return float(np.sum(np.asarray(extractdata(dlfeval(rosen_grad, dlarray(z))[1])) * v))
    assert_close(got, numerical_gradient(grad_dot_v, [x], 0), rtol=1e-5, atol=1e-5)


def test_forward_mode_through_optimised_slice_adjoints():
    """jvp of a gradient: forward mode over the optimised adjoint (rt.index_add's tangent)."""
    rng = np.random.default_rng(6)
    x, v = rng.normal(size=6), rng.normal(size=6)

    def grad_only(z):
        y = rosen(z)
        return dlgradient(y, z)
    g, jv = sct.jvp(grad_only, x, v)
    h = 1e-6
    fd = (np.asarray(extractdata(dlfeval(grad_only, dlarray(x + h * v)))) -
          np.asarray(extractdata(dlfeval(grad_only, dlarray(x - h * v))))) / (2 * h)
    assert_close(np.asarray(extractdata(jv)), fd, rtol=1e-5, atol=1e-5)


# --- item 5: hvp by forward over reverse --------------------------------------------------------------

def cubic_mix(x):
    return np.sum(x ** 3 * np.roll(x, 1)) + np.sum(np.sin(x[1:]) * x[:-1])


@pytest.mark.parametrize("fun", [rosen, cubic_mix])
def test_hvp_forward_over_reverse_matches_reverse_over_reverse_and_differences(fun):
    rng = np.random.default_rng(7)
    x, v = rng.normal(size=8), rng.normal(size=8)
    hv = np.asarray(extractdata(sct.hvp(fun, x, v)))
    from sct.forward import _hvp_kernel
    rr = np.asarray(extractdata(dlfeval(_hvp_kernel, fun, (), (), dlarray(x), v)))
    assert_close(hv, rr, rtol=1e-10, atol=1e-10)

    def gv(z):
        def g(u):
            y = fun(u)
            return dlgradient(y, u)
        return float(np.sum(np.asarray(extractdata(dlfeval(g, dlarray(z)))) * v))
    # d/dz <grad f(z), v> = H v (H symmetric)
    assert_close(hv, numerical_gradient(gv, [x], 0), rtol=1e-5, atol=1e-5)


def test_hvp_runs_the_forward_sweep_once(monkeypatch):
    calls = []

    def counted(x):
        calls.append(1)
        return rosen(x)
    x, v = np.linspace(0, 1, 5), np.ones(5)
    sct.hvp(counted, x, v)      # compiles (the append is a side effect of plain Python here)
    import sys
    import sct.transform_calls as tc
    from sct.transform_calls import jvp_call_impl
    forward_module = sys.modules["sct.forward"]      # (sct.forward is also a function's name)
    keeping = forward_module._jvp_keeping
    seen = []
    monkeypatch.setattr(tc, "jvp_call_impl", lambda *a: seen.append(a[0].__name__) or jvp_call_impl(*a))
    monkeypatch.setattr(forward_module, "_jvp_keeping",
                        lambda fn, *a, **k: seen.append(fn.__name__) or keeping(fn, *a, **k))
    sct.hvp(rosen, x, v)
    assert seen == ["rosen_fwd", "rosen_bwd"]


def test_hvp_float32_and_bound_method():
    class Quadratic:
        def __init__(self, A):
            self.A = A

        def energy(self, x):
            return 0.5 * np.sum(x * (self.A @ x))
    A = np.array([[2.0, 1.0], [1.0, 3.0]])
    q = Quadratic(A)
    v = np.array([1.0, -1.0])
    hv = np.asarray(extractdata(sct.hvp(q.energy, np.array([0.3, 0.1]), v)))
    np.testing.assert_allclose(hv, A @ v)
    hv32 = sct.hvp(rosen, np.linspace(0, 1, 4).astype(np.float32), np.ones(4, np.float32))
    assert np.asarray(extractdata(hv32)).dtype == np.float32


def test_hvp_refuses_a_direction_of_another_shape():
    with pytest.raises(sct.SctError if hasattr(sct, "SctError") else Exception, match="direction"):
        sct.hvp(rosen, np.ones(3), np.ones(4))


def unused_branch_value(x):
    v0 = x - np.cos(x)
    v2 = np.abs(x + np.cos(v0))
    if np.sum(v0) > -0.83:
        v3 = v2
    else:
        v3 = v0 - (-v0)
    v4 = v0
    for i in range(2):
        v4 = v0 * 0.5
    return np.sum(v4 ** 2)


def test_a_branch_left_with_only_comments_still_compiles():
    """Forward mode: the dead ``v3 = v2`` goes, its branch keeps a ``pass`` (it printed an empty
    ``if`` body, a syntax error, before)."""
    x, v = np.array([-0.16, 0.83, 0.036, 0.67]), np.array([0.71, -0.34, 0.046, 0.72])
    y, jv = sct.jvp(unused_branch_value, x, v)
    assert "pass" in sct.jvp_source(unused_branch_value, x, v)
    h = 1e-6
    fd = (unused_branch_value(x + h * v) - unused_branch_value(x - h * v)) / (2 * h)
    assert_close(np.asarray(extractdata(jv)), fd, rtol=1e-6, atol=1e-8)
