"""Issue 8 (mlp4): the MLP cases' remaining small runtime calls, without changing a bit.

1. ``optimize.direct_matmul_adjoints``: generated code calls ``rt.matmul_adjoint_2d_a`` /
   ``rt.matmul_adjoint_2d_b``: ``g @ b.T`` / ``a.T @ g`` where the run finds ``a`` and ``b`` real
   2-D ndarrays (the general form's own expression without its rank tests, swapaxes and
   conjugate), else the general ``matmul_adjoint_a``/``_b``.
2. ``optimize.fold_broadcast_factors``: ``n = rt.reduction_broadcast(g, a, axis, keepdims)`` read once
   as ``n * t`` or ``rt.unbroadcast_product(n, t, like)`` becomes ``rt.reduction_times(g, a, axis,
   keepdims, t)`` / ``rt.reduction_times_like(..., t, like)``: ``g * t`` without the broadcast view
   where that is the same array (same dtype, shape and layout), else the general form.

Both are read back as the general calls when generated code is differentiated again
(``optimize.expand_in_place``), so second-level code is what it was.  Checked against the forms they
replace (bits, dtype, shape, layout), through generated code against ``SCT_OPTIMIZE=0`` (the same
bits) and central differences (tests/gradcheck.py), float32 and float64, dicts, dataclasses, loops,
second derivatives.
"""
from __future__ import annotations

import dataclasses

import numpy as np
import pytest

import sct
from sct import dlarray, dlfeval, dlgradient
from sct.runtime import numpy_ops as nops

try:
    from tests.gradcheck import assert_close, numerical_gradient
except ImportError:                      # run as plain `pytest` from inside tests/
    from gradcheck import assert_close, numerical_gradient

RNG = np.random.default_rng(84)


def _bits_equal(a, b):
    """Same type, dtype, shape and bits (signed zeros included; a NaN matches a NaN)."""
    assert type(a) is type(b), (type(a), type(b))
    a, b = np.asarray(a), np.asarray(b)
    assert a.dtype == b.dtype and a.shape == b.shape, (a.dtype, b.dtype, a.shape, b.shape)
    nan = np.isnan(a) if a.dtype.kind in "fc" else np.zeros(a.shape, bool)
    np.testing.assert_array_equal(nan, np.isnan(b) if b.dtype.kind in "fc" else nan)
    assert np.where(nan, 0, a).tobytes() == np.where(nan, 0, b).tobytes()


# --- 1. the 2-D matmul adjoints -------------------------------------------------------------------------

_MATMUL = [((5, 3), (3, 4)), ((1, 3), (3, 1)), ((4, 3), (3,)), ((3,), (3, 4)), ((3,), (3,)),
           ((2, 5, 3), (3, 4)), ((5, 3), (2, 3, 4)), ((0, 3), (3, 2)), ((0, 3), (3,)), ((4, 0), (0,))]


@pytest.mark.parametrize("ashape,bshape", _MATMUL)
@pytest.mark.parametrize("dtype", [np.float64, np.float32, np.complex128, np.int64])
def test_matmul_2d_adjoints_are_the_general_adjoints(ashape, bshape, dtype):
    a = (RNG.standard_normal(ashape) * 4).astype(dtype)
    b = (RNG.standard_normal(bshape) * 4).astype(dtype)
    if np.iscomplexobj(a):
        a = a + 1j * RNG.standard_normal(ashape)
        b = b - 1j * RNG.standard_normal(bshape)
    out = a @ b
    for gdtype in (out.dtype, np.float32, np.float64):
        g = np.asarray(RNG.standard_normal(np.shape(out)) * 3).astype(gdtype)
        _bits_equal(nops.matmul_adjoint_2d_a(g, a, b), nops.matmul_adjoint_a(g, a, b))
        _bits_equal(nops.matmul_adjoint_2d_b(g, a, b), nops.matmul_adjoint_b(g, a, b))
    # a transposed (F-ordered) operand, a broadcast adjoint: the same expression either way
    if len(ashape) == 2 and len(bshape) == 2:
        aT = np.asfortranarray(a)
        g = np.broadcast_to(np.asarray(1.5, out.dtype), out.shape)
        _bits_equal(nops.matmul_adjoint_2d_a(g, aT, b), nops.matmul_adjoint_a(g, aT, b))
        _bits_equal(nops.matmul_adjoint_2d_b(g, aT, b), nops.matmul_adjoint_b(g, aT, b))


def test_matmul_2d_adjoints_take_the_general_path_for_other_kinds():
    a, b = RNG.standard_normal((4, 3)), RNG.standard_normal((3, 2))
    g = RNG.standard_normal((4, 2))
    # lists (not ndarrays): the general form, which converts them
    _bits_equal(nops.matmul_adjoint_2d_a(g, a.tolist(), b.tolist()), nops.matmul_adjoint_a(g, a.tolist(), b.tolist()))
    _bits_equal(nops.matmul_adjoint_2d_b(g, a.tolist(), b.tolist()), nops.matmul_adjoint_b(g, a.tolist(), b.tolist()))
    # an adjoint of another shape than a @ b (summed to the operand's shape by the general form)
    g3 = RNG.standard_normal((2, 4, 2))
    _bits_equal(nops.matmul_adjoint_2d_b(g3, a, b), nops.matmul_adjoint_b(g3, a, b))


# --- 2. a reduction's broadcast adjoint times an array ---------------------------------------------------

_REDUCTIONS = [((256, 10), 1, True), ((256, 10), 1, False), ((256, 10), None, False), ((256, 10), 0, True),
               ((4, 5, 6), (0, 2), True), ((4, 5, 6), -1, False), ((3,), 0, False), ((7, 1, 5), 2, True),
               ((0, 4), 1, True)]


def _reduced_adjoint(shape, axis, keepdims, dtype, kind):
    g = np.sum(np.ones(shape), axis=axis, keepdims=keepdims)
    g = (RNG.standard_normal(np.shape(g)) * 2).astype(dtype)
    if kind == "scalar" and g.ndim == 0:
        return g[()]                           # a numpy scalar (a full sum's adjoint)
    if kind == "float" and g.ndim == 0:
        return g.item()                        # a Python float or complex: weak in numpy's promotion
    return g


@pytest.mark.parametrize("shape,axis,keepdims", _REDUCTIONS)
@pytest.mark.parametrize("gdtype,tdtype", [(np.float64, np.float64), (np.float32, np.float32),
                                           (np.float32, np.float64), (np.float64, np.float32),
                                           (np.complex128, np.float64)])
@pytest.mark.parametrize("kind", ["array", "scalar", "float"])
@pytest.mark.parametrize("order", ["C", "F", "strided"])
def test_reduction_times_is_the_view_times_the_array(shape, axis, keepdims, gdtype, tdtype, kind, order):
    g = _reduced_adjoint(shape, axis, keepdims, gdtype, kind)
    t = (RNG.standard_normal(shape) * 3).astype(tdtype)
    if order == "F":
        t = np.asfortranarray(t)
    elif order == "strided":
        t = np.repeat(t, 2, axis=-1)[..., ::2] if t.ndim else t
    a = np.zeros(shape, np.float32)
    view = nops.reduction_broadcast(g, a, axis, keepdims)
    expected = view * t
    got = nops.reduction_times(g, a, axis, keepdims, t)
    _bits_equal(got, expected)
    assert got.strides == expected.strides              # the same layout (later sums read it in order)
    like = np.zeros(shape)
    _bits_equal(nops.reduction_times_like(g, a, axis, keepdims, t, like), nops.unbroadcast_product(view, t, like))


def test_reduction_times_special_values_and_refusals():
    g = np.array([[np.inf], [-0.0], [np.nan], [0.0]])
    t = np.array([[0.0, -1.0], [2.0, -0.0], [1.0, np.inf], [-np.inf, 3.0]])
    with np.errstate(invalid="ignore"):
        _bits_equal(nops.reduction_times(g, t, 1, True, t), nops.reduction_broadcast(g, t, 1, True) * t)
    # an adjoint that does not broadcast to a's shape: the general form's error, not a product
    with pytest.raises(ValueError):
        nops.reduction_times(np.ones((4, 2)), np.zeros((4, 1)), 1, True, np.ones((4, 1)))
    # like of another shape (the product summed): unbroadcast_product
    g1, t1 = np.ones((4, 1)), RNG.standard_normal((4, 3))
    _bits_equal(nops.reduction_times_like(g1, t1, 1, True, t1, np.zeros(3)),
                nops.unbroadcast_product(nops.reduction_broadcast(g1, t1, 1, True), t1, np.zeros(3)))
    # t another shape than a (broadcast against the view): the general form
    t2 = RNG.standard_normal((3,))
    _bits_equal(nops.reduction_times(g1, t1, 1, True, t2), nops.reduction_broadcast(g1, t1, 1, True) * t2)


# --- through generated code -----------------------------------------------------------------------------

def mlp_grad(W1, b1, W2, b2, X, T):
    H = np.tanh(X @ W1 + b1)
    Z = H @ W2 + b2
    Z = Z - np.max(Z, axis=1, keepdims=True)
    logp = Z - np.log(np.sum(np.exp(Z), axis=1, keepdims=True))
    loss = -np.sum(T * logp) / X.shape[0]
    gW1, gb1, gW2, gb2 = dlgradient(loss, W1, b1, W2, b2)
    return loss, gW1, gb1, gW2, gb2


# (the benchmark's tanh MLP loss and the relu/dense/softmax-cross-entropy helpers, as users write
# them: test_issue8_mlp3's)
from test_issue8_mlp3 import dense, mlp_loss, relu, softmax_cross_entropy  # noqa: E402


def mlp_dict_grad(params, X, T):
    H = X
    for k in range(1, 3):
        H = relu(dense(params["W%d" % k], params["b%d" % k], H))
    loss = softmax_cross_entropy(dense(params["W3"], params["b3"], H), T)
    return loss, dlgradient(loss, params)


@dataclasses.dataclass
class Layer:
    W: object
    b: object

    def __call__(self, x):
        return dense(self.W, self.b, x)


def mlp_layers_grad(layers, X, T):
    for layer in layers[:-1]:
        X = np.tanh(layer(X))
    logits = layers[-1](X)
    loss = softmax_cross_entropy(logits, T) + 0.1 * np.sum(logits.mean(axis=0) ** 2)
    return loss, dlgradient(loss, layers[0].W, layers[-1].b, X)


def vector_and_batched_grad(A, v, B, C):
    y = np.sum(np.exp(A @ v)) + np.sum(np.tanh(B @ C)) + np.sum(v @ A.T)
    return y, dlgradient(y, A, v, B, C)


def sum_times_grad(x, w):
    s = np.sum(x * w, axis=0)
    y = np.sum(s * np.sin(x))
    return y, dlgradient(y, x, w)


def _data(shapes, dtype=np.float64, seed=0):
    rng = np.random.default_rng(seed)
    return [(rng.standard_normal(s) * 0.5).astype(dtype) for s in shapes]


def _targets(n, k, dtype=np.float64):
    T = np.zeros((n, k), dtype)
    T[np.arange(n), np.arange(n) % k] = 1
    return T


def _leaves(x):
    if isinstance(x, dlarray):
        return [np.asarray(x.data)]
    if isinstance(x, dict):
        return [v for k in sorted(x) for v in _leaves(x[k])]
    if isinstance(x, (list, tuple)):
        return [v for item in x for v in _leaves(item)]
    if dataclasses.is_dataclass(x):
        return [v for f in dataclasses.fields(x) for v in _leaves(getattr(x, f.name))]
    return [np.asarray(x)]


def _unoptimised(monkeypatch, fun, *args):
    monkeypatch.setenv("SCT_OPTIMIZE", "0")
    sct.clear_cache()
    try:
        return _leaves(dlfeval(fun, *args))
    finally:
        monkeypatch.setenv("SCT_OPTIMIZE", "1")
        sct.clear_cache()


def _cases(dtype):
    W1, b1, W2, b2, X = _data([(6, 5), (5,), (5, 4), (4,), (8, 6)], dtype)
    T = _targets(8, 4, dtype)
    P = _data([(6, 5), (5,), (5, 5), (5,), (5, 3), (3,), (7, 6)], dtype, seed=1)
    params = {"W1": P[0], "b1": P[1], "W2": P[2], "b2": P[3], "W3": P[4], "b3": P[5]}
    L = _data([(4, 6), (6,), (6, 3), (3,), (5, 4)], dtype, seed=2)
    A, v, B, C = _data([(3, 4), (4,), (2, 3, 5), (5, 2)], dtype, seed=3)
    x, w = _data([(6, 3), (6, 3)], dtype, seed=4)
    return [
        (mlp_grad, [dlarray(a) for a in (W1, b1, W2, b2, X, T)]),
        (mlp_dict_grad, [{k: dlarray(v) for k, v in params.items()}, dlarray(P[6]), dlarray(_targets(7, 3, dtype))]),
        (mlp_layers_grad, [[Layer(dlarray(L[0]), dlarray(L[1])), Layer(dlarray(L[2]), dlarray(L[3]))],
                           dlarray(L[4]), dlarray(_targets(5, 3, dtype))]),
        (vector_and_batched_grad, [dlarray(a) for a in (A, v, B, C)]),
        (sum_times_grad, [dlarray(x), dlarray(w)]),
    ]


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("index", range(5))
def test_same_bits_as_unoptimised(monkeypatch, dtype, index):
    # (the softmax's max-shift adjoint, which sct.optimize.shift_invariant_maxima leaves out, differs
    # by its rounding residue: tests/test_issue8_softmax_shift.py; left in here)
    import sct.compiler
    monkeypatch.setattr(sct.compiler, "shift_invariant_maxima", lambda *args: None)
    fun, args = _cases(dtype)[index]
    sct.clear_cache()
    got = _leaves(dlfeval(fun, *args))
    expected = _unoptimised(monkeypatch, fun, *args)
    assert len(got) == len(expected)
    for g, e in zip(got, expected):
        _bits_equal(g, e)
        assert g.dtype == e.dtype
    if dtype == np.float32:            # float32 stays float32 (the value and every gradient)
        assert all(g.dtype == np.float32 for g in got)


def test_the_rewrites_are_in_the_generated_code():
    W1, b1, W2, b2, X = _data([(6, 5), (5,), (5, 4), (4,), (8, 6)])
    text = str(sct.source(mlp_grad, *[dlarray(a) for a in (W1, b1, W2, b2, X, _targets(8, 4))]))
    assert "rt.matmul_adjoint_2d_a(" in text and "rt.matmul_adjoint_2d_b(" in text
    assert "rt.matmul_adjoint_a(" not in text and "rt.matmul_adjoint_b(" not in text
    assert "rt.reduction_times(" in text and "rt.reduction_times_like(" in text
    assert "rt.reduction_broadcast(" not in text        # both views folded into their products


def test_mlp_gradients_against_central_differences():
    W1, b1, W2, b2, X = _data([(6, 5), (5,), (5, 4), (4,), (8, 6)], seed=5)
    T = _targets(8, 4)
    out = dlfeval(mlp_grad, *[dlarray(a) for a in (W1, b1, W2, b2, X, T)])
    for k in range(4):
        def f(*ps):
            return mlp_loss(*ps, X, T)
        assert_close(np.asarray(out[k + 1].data), numerical_gradient(f, [W1, b1, W2, b2], k), 1e-5, 1e-7)


def test_vector_and_batched_matmuls_against_central_differences():
    A, v, B, C = _data([(3, 4), (4,), (2, 3, 5), (5, 2)], seed=6)
    out = dlfeval(vector_and_batched_grad, *[dlarray(a) for a in (A, v, B, C)])

    def f(A, v, B, C):
        return np.sum(np.exp(A @ v)) + np.sum(np.tanh(B @ C)) + np.sum(v @ A.T)
    for k in range(4):
        assert_close(np.asarray(out[1][k].data), numerical_gradient(f, [A, v, B, C], k), 1e-5, 1e-7)


def mlp_input_gradient_norm(W1, b1, W2, b2, X, T):
    loss = mlp_loss(W1, b1, W2, b2, X, T)
    gW2 = dlgradient(loss, W2, EnableHigherDerivatives=True)
    return np.sum(gW2 ** 2)


def mlp_second_order(W1, b1, W2, b2, X, T):
    r = mlp_input_gradient_norm(W1, b1, W2, b2, X, T)
    return r, dlgradient(r, W1, b2)


def test_second_derivatives_through_the_rewritten_adjoints():
    # the first-level adjoint (rt.matmul_adjoint_2d_*, rt.reduction_times*) differentiated again
    W1, b1, W2, b2, X = _data([(4, 5), (5,), (5, 3), (3,), (6, 4)], seed=7)
    T = _targets(6, 3)
    r, (gW1, gb2) = dlfeval(mlp_second_order, *[dlarray(a) for a in (W1, b1, W2, b2, X, T)])

    def norm(W1_, b2_):
        out = dlfeval(mlp_input_gradient_norm, *[dlarray(a) for a in (W1_, b1, W2, b2_, X, T)])
        return float(np.asarray(out.data))
    assert_close(np.asarray(gW1.data), numerical_gradient(norm, [W1, b2], 0), 1e-4, 1e-6)
    assert_close(np.asarray(gb2.data), numerical_gradient(norm, [W1, b2], 1), 1e-4, 1e-6)


def test_hessian_vector_product_of_the_mlp_loss():
    W1, b1, W2, b2, X = _data([(4, 5), (5,), (5, 3), (3,), (6, 4)], seed=8)
    T = _targets(6, 3)
    v = np.random.default_rng(9).standard_normal(W2.shape)

    def loss_w2(W2_):
        return mlp_loss(W1, b1, W2_, b2, X, T)
    hv = sct.hvp(loss_w2, dlarray(W2), dlarray(v))
    hv = np.asarray(getattr(hv, "data", hv))

    def grad_w2(W2_):
        def inner(W):
            y = loss_w2(W)
            return dlgradient(y, W)
        return np.asarray(dlfeval(inner, dlarray(W2_)).data)

    def directional(W2_):
        return float(np.sum(grad_w2(W2_) * v))
    assert_close(hv, numerical_gradient(directional, [W2], 0), 1e-4, 1e-6)
