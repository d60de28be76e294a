"""Issue 8, items 3 and 5 (second part): adjoints no dlgradient target reads are not computed
(NO_ADJOINT in a helper pair's mask), a helper's forward keeps only the shape of values its adjoint
reads for their shape (rt.shape_proxy), and the Hessian-vector product computes only H v
(optimize.keep_outputs / prune_dead / reuse_temporaries on its forward-mode code).

Every rewrite is checked against central differences (tests/gradcheck.py) and against the
unoptimised code (SCT_OPTIMIZE=0) or reverse over reverse; float32 stays float32.
"""
import sys

import gast
import numpy as np
import pytest

import sct
from sct import dlarray, dlfeval, dlgradient, extractdata
from sct import optimize as opt
from sct.runtime import support

from gradcheck import assert_close, numerical_gradient

forward_module = sys.modules["sct.forward"]      # (sct.forward is also a function's name)


# --- helpers of the programs below, written as users write them ---------------------------------

def dense(W, b, x):
    return x @ W + b


def relu(x):
    return np.maximum(x, 0)


def mlp_loss(W1, b1, W2, b2, X, T):
    h = relu(dense(W1, b1, X))
    z = dense(W2, b2, h)
    return np.mean((z - T) ** 2)


def mlp_grad(W1, b1, W2, b2, X, T):
    loss = mlp_loss(W1, b1, W2, b2, X, T)
    return (loss,) + tuple(dlgradient(loss, W1, b1, W2, b2))


def conv_slices(X, K, b):
    Ho, Wo = X.shape[1] - 1, X.shape[2] - 1
    Z = b
    for i in range(2):
        for j in range(2):
            Z = Z + X[:, i:i + Ho, j:j + Wo, :] * K[i, j]
    return Z


def conv_loss(K, b, X):
    return np.sum(np.tanh(conv_slices(X, K, b)) ** 2)


def conv_grad(K, b, X):
    loss = conv_loss(K, b, X)
    gK, gb = dlgradient(loss, K, b)
    return loss, gK, gb


def conv_plain(K, b, X):
    Ho, Wo = X.shape[1] - 1, X.shape[2] - 1
    Z = b
    for i in range(2):
        for j in range(2):
            Z = Z + X[:, i:i + Ho, j:j + Wo, :] * K[i, j]
    return np.sum(np.tanh(Z) ** 2)


def scaled_with_own_gradient(w, x):
    """A helper that takes its own gradient with respect to its data argument."""
    u = np.tanh(w * x)
    ux = dlgradient(np.sum(u), x)
    return np.sum((ux - 2.0 * u) ** 2)


def outer_wrt_w(w, x):
    value = scaled_with_own_gradient(w, x)
    return value, dlgradient(value, w)


def residual_plain(w, x):
    u = np.tanh(w * x)
    ux = (1 - u ** 2) * w
    return np.sum((ux - 2.0 * u) ** 2)


def input_gradient(W, x):
    y = np.sum(np.tanh(dense(W, 0.5, x)) ** 2)
    return dlgradient(y, x)


def penalty(W, x):
    y = np.sum(np.tanh(dense(W, 0.5, x)) ** 2)
    g = dlgradient(y, x, EnableHigherDerivatives=True)
    p = np.sum(g ** 2)
    return p, dlgradient(p, W)


class Layer:
    def __init__(self, W):
        self.W = W

    def apply(self, x):
        return np.tanh(x @ self.W)


def layer_loss(layer, x, t):
    for _ in range(3):
        x = layer.apply(x)
    return np.sum((x - t) ** 2)


def layer_grad(layer, x, t):
    loss = layer_loss(layer, x, t)
    return loss, dlgradient(loss, layer.W)


def rosen(x):
    return np.sum(100 * (x[1:] - x[:-1] ** 2) ** 2 + (1 - x[:-1]) ** 2)


def looped(x):
    s = x[0] * 0
    for k in range(1, x.shape[0]):
        if k % 2:
            s = s + np.sin(x[k] * x[k - 1])
        else:
            s = s + (x[k] - 0.5 * x[k - 1]) ** 3
    return s


def broadcast_energy(x):
    A = x.reshape(4, -1)
    col = np.sum(A, axis=0)
    return np.sum(np.exp(-A * col) * (A + col) ** 2) + np.sum(np.tanh(x) ** 3)


def hvp_nested(fun, x, v):
    y = fun(x)
    g = dlgradient(y, x, EnableHigherDerivatives=True)
    return dlgradient(np.sum(g * v), x)


def rosen_nested(x, v):
    return hvp_nested(rosen, x, v)


def conv_nested(x, v):
    return hvp_nested(conv_energy, x, v)


def conv_energy(x):
    X = x.reshape(2, 5, 5, 1)
    K = np.arange(4.0).reshape(2, 2, 1, 1) / 10 + 0.3
    return np.sum(np.sin(conv_slices(X, K, 0.1)) ** 2)


# --- 1. the adjoint of data no target reaches is not computed ------------------------------------

def _rng():
    return np.random.default_rng(8)


def _mlp_args(dtype=np.float64):
    r = _rng()
    shapes = [(5, 4), (4,), (4, 3), (3,), (6, 5), (6, 3)]
    return [r.standard_normal(s).astype(dtype) for s in shapes]


def test_data_argument_gets_no_adjoint_and_gradients_are_exact():
    args = _mlp_args()
    text = str(sct.source(mlp_grad, *map(dlarray, args), callees=True))
    # X and T: traced, no adjoint asked for: the mask of a call looked up when it runs, or (the helper
    # compiled with its caller and called directly) no adjoint of them computed at all
    assert "'no_adjoint'" in text or ("d_X" not in text and "d_T" not in text and "return d_W, d_b, 0.0" in text)
    out = dlfeval(mlp_grad, *map(dlarray, args))
    assert_close(extractdata(out[0]), mlp_loss(*args))
    for k in range(4):
        expected = numerical_gradient(lambda *a: mlp_loss(*a), args, k)
        assert_close(extractdata(out[1 + k]), expected, rtol=1e-5, what=f"gradient {k}")


def test_data_argument_float32_stays_float32():
    args = _mlp_args(np.float32)
    out = dlfeval(mlp_grad, *map(dlarray, args))
    args64 = [a.astype(np.float64) for a in args]
    for k in range(4):
        g = extractdata(out[1 + k])
        assert g.dtype == np.float32
        assert_close(g, numerical_gradient(mlp_loss, args64, k), rtol=2e-3, atol=2e-4)


def test_helper_taking_its_own_gradient_of_the_data_still_traces_it():
    w, x = np.array([0.7, -0.4, 1.1]), np.array([0.3, 0.9, -0.5])
    value, grad = dlfeval(outer_wrt_w, dlarray(w), dlarray(x))
    assert_close(extractdata(value), residual_plain(w, x))
    assert_close(extractdata(grad), numerical_gradient(lambda a: residual_plain(a, x), [w], 0), rtol=1e-5)


def test_second_derivative_through_a_helper_keeps_every_adjoint():
    r = _rng()
    W, x = r.standard_normal((3, 2)), r.standard_normal(3)

    def plain(Wa):
        y = np.tanh(x @ Wa + 0.5)
        g = (2 * y * (1 - y ** 2)) @ Wa.T
        return np.sum(g ** 2)
    p, grad = dlfeval(penalty, dlarray(W), dlarray(x))
    assert_close(extractdata(p), plain(W))
    assert_close(extractdata(grad), numerical_gradient(plain, [W], 0), rtol=1e-5)
    assert_close(extractdata(dlfeval(input_gradient, dlarray(W), dlarray(x))),
                 numerical_gradient(lambda xa: np.sum(np.tanh(xa @ W + 0.5) ** 2), [x], 0))


def test_method_in_a_loop_with_data_argument():
    r = _rng()
    W, x, t = r.standard_normal((3, 3)), r.standard_normal((4, 3)), r.standard_normal((4, 3))

    def plain(Wa):
        h = x
        for _ in range(3):
            h = np.tanh(h @ Wa)
        return np.sum((h - t) ** 2)
    loss, grad = dlfeval(layer_grad, Layer(dlarray(W)), dlarray(x), dlarray(t))
    assert_close(extractdata(loss), plain(W))
    assert_close(extractdata(grad), numerical_gradient(plain, [W], 0), rtol=1e-5)


def test_no_adjoint_helper_adjoint_returns_no_data_adjoint():
    from sct.transform_calls import vjp_pair
    r = _rng()
    W, b, x = r.standard_normal((3, 2)), r.standard_normal(2), r.standard_normal((4, 3))
    fwd, bwd = vjp_pair(dense, (True, True, "no_adjoint"), (W, b, x), {})
    y, residuals = fwd(W, b, x)
    gW, gb, gx = bwd(residuals, np.ones_like(y))
    assert support._is_zero(gx)                 # the zero marker: no array computed
    assert_close(gW, x.T @ np.ones_like(y))
    assert_close(gb, np.full(2, 4.0))


# --- 2. residuals kept by their shape ------------------------------------------------------------

def _conv_args(dtype=np.float64):
    r = _rng()
    return (r.standard_normal((2, 2, 1, 3)).astype(dtype), r.standard_normal(3).astype(dtype),
            r.standard_normal((2, 40, 40, 1)).astype(dtype))


def test_shape_proxies_in_residuals_and_tape_exact():
    K, b, X = _conv_args()
    from sct.transform_calls import vjp_pair
    fwd, _ = vjp_pair(conv_slices, (False, True, True), (X, K, b), {})
    text = sct.runtime.support.__name__ and str(sct.source(conv_grad, dlarray(K), dlarray(b), dlarray(X)))
    assert text
    from sct.cache import HELPERS
    assert any("rt.shape_proxy(Z)" in c.source for c in HELPERS.entries())
    loss, gK, gb = dlfeval(conv_grad, dlarray(K), dlarray(b), dlarray(X))
    assert_close(extractdata(loss), conv_plain(K, b, X))
    assert_close(extractdata(gK), numerical_gradient(conv_plain, [K, b, X], 0), rtol=1e-5)
    assert_close(extractdata(gb), numerical_gradient(conv_plain, [K, b, X], 1), rtol=1e-5)


def test_shape_proxies_same_numbers_as_unoptimised(monkeypatch):
    K, b, X = _conv_args(np.float32)
    on = [np.asarray(extractdata(o)) for o in dlfeval(conv_grad, dlarray(K), dlarray(b), dlarray(X))]
    sct.cache.clear()
    monkeypatch.setenv("SCT_OPTIMIZE", "0")
    off = [np.asarray(extractdata(o)) for o in dlfeval(conv_grad, dlarray(K), dlarray(b), dlarray(X))]
    sct.cache.clear()
    for a, c in zip(on, off):
        assert a.dtype == np.float32 == c.dtype
        assert_close(a, c, rtol=1e-5, atol=1e-5)


def test_shape_proxy_is_the_shape_alone():
    big = np.arange(5000.0, dtype=np.float32).reshape(50, 100)
    p = support.shape_proxy(big)
    assert p.shape == big.shape and p.dtype == big.dtype and type(p) is np.ndarray
    z = support.zero_adjoint(p)
    assert z.flags.writeable and z.shape == big.shape and z.dtype == np.float32 and not z.any()
    small = np.ones(3)
    assert support.shape_proxy(small) is small
    assert support.shape_proxy([1.0, 2.0]) == [1.0, 2.0]


# --- 3. the Hessian-vector product computes only H v ---------------------------------------------

def _hvp_reference(fun, x, v, step=1e-5):
    def grad(a):
        return np.asarray(extractdata(dlfeval(lambda y: dlgradient(fun(y), y), dlarray(a))))
    return (grad(x + step * v) - grad(x - step * v)) / (2 * step)


@pytest.mark.parametrize("fun, n", [(rosen, 7), (looped, 6), (broadcast_energy, 12), (conv_energy, 50)])
def test_hvp_pruned_matches_differences_and_reverse_over_reverse(fun, n):
    r = _rng()
    x, v = r.uniform(-1, 1, n), r.standard_normal(n)
    for _ in range(3):                      # the first call learns what the adjoint code reads
        got = np.asarray(extractdata(sct.hvp(fun, x, v)))
    assert_close(got, _hvp_reference(fun, x, v), rtol=1e-5, atol=1e-6, what="H v")
    nested = np.asarray(extractdata(dlfeval(hvp_nested, fun, dlarray(x), dlarray(v))))
    assert_close(got, nested, rtol=1e-9, atol=1e-10, what="forward over reverse vs reverse over reverse")


def test_hvp_pruned_code_reads_only_what_it_needs():
    x, v = np.linspace(-1, 1, 9), np.ones(9)
    for _ in range(3):
        sct.hvp(rosen, x, v)
    from sct.cache import HELPERS
    kept = [c.source for c in HELPERS.entries() if "rosen_bwd_jvp" in c.source]
    assert kept and any("return None, dot_retval" in s for s in kept)      # the gradient itself: not computed
    forward = [c.source for c in HELPERS.entries() if "rosen_fwd_jvp" in c.source]
    assert any("dot_out_t = None, None" in s for s in forward)             # unread residual tangents


def test_hvp_float32_and_same_as_unoptimised(monkeypatch):
    r = _rng()
    x, v = r.uniform(-1, 1, 3000).astype(np.float32), r.standard_normal(3000).astype(np.float32)
    for _ in range(2):
        on = np.asarray(extractdata(sct.hvp(rosen, x, v)))
    assert on.dtype == np.float32
    sct.cache.clear()
    monkeypatch.setenv("SCT_OPTIMIZE", "0")
    off = np.asarray(extractdata(sct.hvp(rosen, x, v)))
    sct.cache.clear()
    assert off.dtype == np.float32
    assert_close(on, off, rtol=1e-5, atol=1e-3)
    x64, v64 = x.astype(np.float64), v.astype(np.float64)
    assert_close(on, np.asarray(extractdata(sct.hvp(rosen, x64, v64))), rtol=1e-4, atol=1e-2)


def test_hvp_large_same_numbers_with_in_place_temporaries():
    r = _rng()
    x, v = r.uniform(-1, 1, 5000), r.standard_normal(5000)
    for _ in range(2):
        got = np.asarray(extractdata(sct.hvp(rosen, x, v)))
    u, vu = x[:-1], v[:-1]
    a, da = x[1:] - u * u, v[1:] - 2 * u * vu
    expected = np.zeros_like(x)
    expected[:-1] = -400 * (da * u + a * vu) + 2 * vu
    expected[1:] += 200 * da
    assert_close(got, expected, rtol=1e-10, atol=1e-8)
    assert_close(got, np.asarray(extractdata(dlfeval(rosen_nested, dlarray(x), dlarray(v)))), rtol=1e-10,
                 atol=1e-8)


def test_hvp_kinds_changing_reads_fall_back_exactly():
    """A plan learnt for one kind of argument is not used for another (float32 after float64)."""
    x, v = np.linspace(-1, 1, 6), np.ones(6)
    for dtype in (np.float64, np.float32, np.float64):
        got = np.asarray(extractdata(sct.hvp(rosen, x.astype(dtype), v.astype(dtype))))
        assert got.dtype == dtype
        assert_close(got, _hvp_reference(rosen, x, v), rtol=1e-3 if dtype == np.float32 else 1e-6, atol=1e-3)


def test_second_order_through_helper_with_shape_proxies():
    r = _rng()
    x, v = r.uniform(-1, 1, 50), r.standard_normal(50)
    got = np.asarray(extractdata(dlfeval(conv_nested, dlarray(x), dlarray(v))))
    assert_close(got, _hvp_reference(conv_energy, x, v), rtol=1e-5, atol=1e-6)


# --- 4. the rewrites on their own ---------------------------------------------------------------

def _fn(source):
    return gast.parse(source).body[0]


def _text(fn):
    from sct.emit import source_and_lines
    return source_and_lines([fn])[0]


def test_prune_dead_liveness_through_loops_and_index_add():
    fn = _fn("""
def f(x, n):
    a = x * 2
    b = x * 3
    buf = rt.zero_adjoint(x)
    for i in range(n):
        c = a + i
        a = c * 2
        unused = c - 1
    buf2 = rt.index_add(buf, a, x, 0)
    dead = rt.index_add(buf, b, x, 1)
    return None, buf2
""")
    opt.keep_outputs(fn, (False, True))
    opt.prune_dead(fn, {"rt"}, generated=None)     # (sct's own code: the user's arithmetic is kept, s53)
    text = _text(fn)
    assert "unused" not in text and "b = " not in text
    assert "a = c * 2" in text and "c = a + i" in text and "buf = rt.zero_adjoint(x)" in text


def test_prune_dead_keeps_effects_and_index_add_buffers_read_later():
    fn = _fn("""
def f(x, tape):
    buf = rt.zero_adjoint(x)
    t = rt.index_add(buf, x, x, 0)
    tape.append(x)
    y = user_function(x)
    return buf
""")
    opt.prune_dead(fn, {"rt"})
    text = _text(fn)
    assert "rt.index_add(buf" in text and "tape.append" in text and "user_function" in text


def test_keep_outputs_follows_tuples_assigned_once():
    fn = _fn("""
def f(x):
    a = x + 1
    b = x * 2
    t = a, b
    u = x, t
    return u
""")
    opt.keep_outputs(fn, (True, (False, True)))
    opt.prune_dead(fn, {"rt"}, generated=None)     # (sct's own code: the user's arithmetic is kept, s53)
    text = _text(fn)
    assert "t = None, b" in text and "a = " not in text


def test_into_same_numbers_and_falls_back():
    r = _rng()
    for dtype in (np.float64, np.float32):
        t = r.standard_normal((60, 50)).astype(dtype)
        b = r.standard_normal(50).astype(dtype)
        expected = t * b
        assert_close(support.into_temporary("mul", t.copy(), b, 0), expected, rtol=0, atol=0)
        assert support.into_temporary("mul", t.copy(), b, 0).dtype == dtype
        assert_close(support.into_temporary("sub", b, t.copy(), 1), b - t, rtol=0, atol=0)
        assert_close(support.negative_into(t.copy()), -t, rtol=0, atol=0)
    small = np.ones(5000, dtype=np.float32)
    out = support.into_temporary("add", small, np.ones(5000), 0)          # float64 result: not in place
    assert out.dtype == np.float64 and small[0] == 1.0
    grow = np.ones(3000)
    out = support.into_temporary("mul", grow, np.ones((2, 3000)), 0)      # the result is larger: not in place
    assert out.shape == (2, 3000) and grow.shape == (3000,)
    assert support.into_temporary("mul", 2.0, 3.0, 0) == 6.0
