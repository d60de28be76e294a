"""Issue 8 (mlp3): the MLP cases' small-array runtime calls, without changing a number.

1. ``rt.unbroadcast`` remembers, per (gradient shape, target shape), which axes it sums (the
   bias adjoints of an MLP: one plan look-up and ``np.add.reduce`` with the same axes as
   ``np.sum``, instead of working the axes out on every call).
2. ``rt.extremum_weights`` (the adjoint of ``np.max``/``np.min`` over an axis, softmax's shift):
   where every line has exactly one hit the weights are the 0/1 hits themselves (``hits / 1``),
   without the float count, maximum and division; ties and NaN lines take the general path.
3. The max/min rule emits ``rt.extremum_scaled(g, a, ans, axis, keepdims)`` for
   ``rt.reduction_broadcast(g, ...) * rt.extremum_weights(a, ans, ...)``: one call, the product
   with the 0/1 hits where nothing ties; its own rule (linear in g) for higher derivatives.

Each is checked against the general formula it replaces (same values, same dtype, same shape)
and through generated code against central differences (tests/gradcheck.py), in float64 and
float32, with parameters in dicts and dataclasses, layers calling layers, and second derivatives.
"""
from __future__ import annotations

import dataclasses
import warnings

import numpy as np
import pytest

import sct
from sct import dlarray, dlfeval, dlgradient
from sct.runtime import numpy_ops as nops
from sct.runtime import support

try:
    from tests.gradcheck import assert_close, check_grads, numerical_gradient
except ImportError:                      # run as plain `pytest` from inside tests/
    from gradcheck import assert_close, check_grads, numerical_gradient


# --- the general formulas the fast paths replace (the code before this change) ----------------------

def _unbroadcast_reference(grad, like):
    shape = np.shape(like)
    gshape = np.shape(grad)
    if gshape == shape:
        return grad
    extra = len(gshape) - len(shape)
    if extra > 0:
        grad = np.sum(grad, axis=tuple(range(extra)))
    axes = tuple(i for i, n in enumerate(shape) if n == 1 and np.shape(grad)[i] != 1)
    if axes:
        grad = np.sum(grad, axis=axes, keepdims=True)
    return grad


def _extremum_weights_reference(a, ans, axis=None, keepdims=False):
    extremum = ans if keepdims or axis is None else np.expand_dims(ans, axis)
    hits = np.asarray(a == extremum, dtype=nops.weight_dtype(a))
    return hits / np.maximum(np.sum(hits, axis=axis, keepdims=True), 1)


def _same(x, y):
    assert type(x) is type(y), (type(x), type(y))
    assert np.shape(x) == np.shape(y)
    assert np.asarray(x).dtype == np.asarray(y).dtype
    assert np.array_equal(x, y, equal_nan=True)


RNG = np.random.default_rng(8)


# --- 1. unbroadcast's remembered plans ------------------------------------------------------------

@pytest.mark.parametrize("dtype", [np.float64, np.float32, np.complex128, np.int64])
@pytest.mark.parametrize("gshape,lshape", [((256, 10), (10,)), ((5, 4), (1, 4)), ((5, 4), (5, 1)),
                                            ((2, 3, 4), (3, 1)), ((2, 3, 4), (1, 1, 4)), ((3, 4), ()),
                                            ((6,), (1,)), ((0, 3), (3,)), ((2, 1, 4), (1, 4))])
def test_unbroadcast_plan_gives_the_sums_of_the_first_call(dtype, gshape, lshape):
    grad = (RNG.standard_normal(gshape) * 10).astype(dtype)
    like = np.zeros(lshape, dtype)
    first = support.unbroadcast(grad.copy(), like)
    for _ in range(3):                  # the first call works the plan out, the next ones use it
        _same(support.unbroadcast(grad.copy(), like), first)
        want = _unbroadcast_reference(grad, like)
        if np.dtype(dtype) in (np.float32, np.float64) and len(gshape) > len(lshape) and gshape[0] >= 64:
            # a sum over many leading rows of a short trailing part: one matrix-vector product
            # (support._lead_total), numpy's sum up to rounding
            assert type(first) is type(want) and first.shape == want.shape and first.dtype == want.dtype
            tol = 1e-5 if np.dtype(dtype) == np.float32 else 1e-12
            np.testing.assert_allclose(first, want, rtol=tol, atol=tol * np.abs(want).max())
        else:
            _same(first, want)
        grad = (RNG.standard_normal(gshape) * 10).astype(dtype)
        first = support.unbroadcast(grad.copy(), like)


def test_unbroadcast_plan_is_per_shape_pair_and_leaves_other_kinds_alone():
    grad = RNG.standard_normal((4, 3))
    assert support.unbroadcast(grad, np.zeros(3)).shape == (3,)
    assert support.unbroadcast(grad, np.zeros((1, 3))).shape == (1, 3)     # same grad shape, other target
    assert support.unbroadcast(grad, np.zeros((4, 1))).shape == (4, 1)
    assert support.unbroadcast(grad, np.zeros((4, 3))) is grad
    assert support.unbroadcast(0.0, np.zeros(3)) == 0.0                    # a zero adjoint stays zero
    # a numpy scalar, a list "like" (no .shape): the general path, as before
    _same(support.unbroadcast(np.float64(2.5), np.zeros(())), np.float64(2.5))
    _same(support.unbroadcast(grad, [1.0, 2.0, 3.0]), _unbroadcast_reference(grad, [1.0, 2.0, 3.0]))
    # a shape proxy as the target: the plan stored for an array of the same shape gives the same sums
    proxy = support.shape_proxy(np.zeros((1, 3), np.float32))
    _same(support.unbroadcast(grad, proxy), _unbroadcast_reference(grad, np.zeros((1, 3))))


# --- 2. extremum weights where nothing ties --------------------------------------------------------

_EXTREMUM_INPUTS = [
    RNG.standard_normal((256, 10)),
    RNG.standard_normal((256, 10)).astype(np.float32),
    np.array([[1.0, 3.0, 3.0], [2.0, 0.5, 1.0]]),                     # a tie in one line
    np.array([[1.0, np.nan, 0.0], [2.0, 0.5, 1.0]]),                  # a NaN line: no hit there
    np.array([[-0.0, 0.0, -1.0], [4.0, 4.0, 4.0]]),                   # signed zeros tie
    RNG.standard_normal((3, 4, 5)),
    RNG.standard_normal((4, 1)),
    np.zeros((0, 3)),
    (RNG.standard_normal((3, 4)) + 1j * RNG.standard_normal((3, 4))),
]


@pytest.mark.parametrize("index", range(len(_EXTREMUM_INPUTS)))
@pytest.mark.parametrize("reduce", [np.max, np.min, np.nanmax])
def test_extremum_weights_match_the_general_formula(index, reduce):
    a = _EXTREMUM_INPUTS[index]
    for axis in [None] + list(range(-a.ndim, a.ndim)):
        if axis is not None and a.shape[axis] == 0 or (axis is None and a.size == 0):
            continue
        for keepdims in (False, True):
            if reduce is np.nanmax and np.iscomplexobj(a):
                continue
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", RuntimeWarning)      # an all-NaN line of nanmax
                ans = reduce(a, axis=axis, keepdims=keepdims)
            got = nops.extremum_weights(a, ans, axis, keepdims)
            _same(got, _extremum_weights_reference(a, ans, axis, keepdims))


# --- 3. extremum_scaled: the max/min adjoint in one call ------------------------------------------

def _extremum_scaled_reference(grad, a, top, axis, keepdims):
    return nops.reduction_broadcast(grad, a, axis, keepdims) * _extremum_weights_reference(a, top, axis, keepdims)


@pytest.mark.parametrize("index", range(len(_EXTREMUM_INPUTS)))
@pytest.mark.parametrize("gdtype", [None, np.float32, np.float64])
def test_extremum_scaled_is_the_broadcast_times_the_weights(index, gdtype):
    a = _EXTREMUM_INPUTS[index]
    for axis in [None] + list(range(-a.ndim, a.ndim)):
        if axis is not None and a.shape[axis] == 0 or (axis is None and a.size == 0):
            continue
        for keepdims in (False, True):
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", RuntimeWarning)
                top = np.max(a, axis=axis, keepdims=keepdims)
            shape = np.shape(top)
            grad = RNG.standard_normal(shape).astype(gdtype or a.real.dtype)
            if grad.ndim == 0:
                grad = grad[()]                     # a numpy scalar, as a full reduction's adjoint
            got = nops.extremum_scaled(grad, a, top, axis, keepdims)
            _same(got, _extremum_scaled_reference(grad, a, top, axis, keepdims))
    # a Python float adjoint and odd kinds: the general path
    a = _EXTREMUM_INPUTS[0]
    top = np.max(a, axis=1)
    _same(nops.extremum_scaled(1.5, a, np.max(a), None, False),
          _extremum_scaled_reference(1.5, a, np.max(a), None, False))
    _same(nops.extremum_scaled(np.ones(256), a, top, np.int64(1), False),
          _extremum_scaled_reference(np.ones(256), a, top, 1, False))


def softmax_shift_loss(Z):
    Z = Z - np.max(Z, axis=1, keepdims=True)
    return np.sum(np.exp(Z) * np.arange(Z.shape[1])) + np.sum(np.min(Z ** 2, axis=0))


def softmax_shift_grad(Z):
    loss = softmax_shift_loss(Z)
    return dlgradient(loss, Z, EnableHigherDerivatives=True)


def test_hessian_vector_product_through_max_and_min():
    # forward over reverse differentiates the generated adjoint (rt.extremum_scaled) in forward mode
    Z = np.random.default_rng(6).standard_normal((4, 3))
    v = np.random.default_rng(7).standard_normal((4, 3))
    got = np.asarray(getattr(sct.hvp(softmax_shift_loss, dlarray(Z), dlarray(v)), "data",
                             sct.hvp(softmax_shift_loss, dlarray(Z), dlarray(v))))

    def directional(Z_):
        return float(np.sum(np.asarray(dlfeval(softmax_shift_grad, dlarray(Z_)).data) * v))
    assert_close(got, numerical_gradient(directional, [Z], 0), 1e-4, 1e-6)


# --- through generated code: the MLP patterns, as users write them -------------------------------------

def mlp_loss(W1, b1, W2, b2, X, T):
    H = np.tanh(X @ W1 + b1)
    Z = H @ W2 + b2
    Z = Z - np.max(Z, axis=1, keepdims=True)
    logp = Z - np.log(np.sum(np.exp(Z), axis=1, keepdims=True))
    return -np.sum(T * logp) / X.shape[0]


def relu(x):
    return np.maximum(x, 0)


def dense(W, b, x):
    return x @ W + b


def softmax_cross_entropy(Z, T):
    Z = Z - np.max(Z, axis=1, keepdims=True)
    logp = Z - np.log(np.sum(np.exp(Z), axis=1, keepdims=True))
    return -np.sum(T * logp) / Z.shape[0]


def mlp_dict_loss(params, X, T):
    H = relu(dense(params["W1"], params["b1"], X))
    return softmax_cross_entropy(dense(params["W2"], params["b2"], H), T)


def mlp_dict_grad(params, X, T):
    loss = mlp_dict_loss(params, X, T)
    return loss, dlgradient(loss, params)


@dataclasses.dataclass
class Layer:
    W: object
    b: object

    def __call__(self, x):
        return dense(self.W, self.b, x)


def stack(layers, x):
    for layer in layers[:-1]:
        x = np.tanh(layer(x))
    return layers[-1](x)


def mlp_dataclass_grad(layers, X, T):
    loss = softmax_cross_entropy(stack(layers, X), T)
    gW, gb = dlgradient(loss, layers[0].W, layers[1].b)
    return loss, gW, gb


def mlp_loss_min(W, b, X):
    Z = X @ W + b
    return np.sum(np.min(Z, axis=0) ** 2) + np.sum(np.max(Z, axis=-1))


def _data(shapes, dtype=np.float64, seed=0):
    rng = np.random.default_rng(seed)
    return [rng.standard_normal(s).astype(dtype) * 0.5 for s in shapes]


def _targets(n, k, dtype=np.float64):
    T = np.zeros((n, k), dtype)
    T[np.arange(n), np.arange(n) % k] = 1
    return T


def test_mlp_gradients_against_central_differences():
    W1, b1, W2, b2, X = _data([(6, 5), (5,), (5, 4), (4,), (8, 6)])
    T = _targets(8, 4)

    def loss(W1, b1, W2):
        return mlp_loss(W1, b1, W2, b2, X, T)

    def loss_b2(b2):
        return mlp_loss(W1, b1, W2, b2, X, T)
    check_grads(loss, W1, b1, W2)
    check_grads(loss_b2, b2)


def test_mlp_gradients_with_ties_in_the_max():
    # equal logits in a row: the max's adjoint shares its weight between them (the general path)
    W1, b1, X = _data([(3, 4), (4,), (5, 3)])
    W2 = np.zeros((4, 3))
    b2 = np.array([0.5, 0.5, -1.0])
    T = _targets(5, 3)

    def grad(W1, b1, W2, b2):
        loss = mlp_loss(W1, b1, W2, b2, X, T)
        return loss, dlgradient(loss, W1, b1, W2, b2)
    out = dlfeval(grad, *[dlarray(v) for v in (W1, b1, W2, b2)])
    for k, v in enumerate((W1, b1, W2, b2)):
        def f(*args, k=k):
            return mlp_loss(*args, X, T)
        assert_close(np.asarray(out[1][k].data), numerical_gradient(f, [W1, b1, W2, b2], k), 1e-5, 1e-6)


def test_max_and_min_reductions_over_axes():
    W, b, X = _data([(4, 3), (3,), (6, 4)], seed=3)

    def loss(W, b):
        return mlp_loss_min(W, b, X)
    check_grads(loss, W, b)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_mlp_dict_params_keep_their_dtype(dtype):
    W1, b1, W2, b2, X = _data([(6, 5), (5,), (5, 3), (3,), (7, 6)], dtype, seed=1)
    T = _targets(7, 3, dtype)
    params = {"W1": dlarray(W1), "b1": dlarray(b1), "W2": dlarray(W2), "b2": dlarray(b2)}
    loss, grads = dlfeval(mlp_dict_grad, params, dlarray(X), dlarray(T))
    assert np.asarray(loss.data).dtype == dtype
    values = {"W1": W1, "b1": b1, "W2": W2, "b2": b2}
    names = list(values)
    for k, name in enumerate(names):
        g = np.asarray(grads[name].data)
        assert g.dtype == dtype and g.shape == values[name].shape

        def f(*args):
            return mlp_dict_loss(dict(zip(names, args)), X.astype(np.float64), T.astype(np.float64))
        expected = numerical_gradient(f, [values[n].astype(np.float64) for n in names], k)
        tol = (2e-3, 1e-4) if dtype == np.float32 else (1e-5, 1e-6)
        assert_close(g.astype(np.float64), expected, *tol, what=name)


def test_layers_calling_layers_in_a_dataclass():
    W1, b1, W2, b2, X = _data([(4, 6), (6,), (6, 3), (3,), (5, 4)], seed=2)
    T = _targets(5, 3)
    layers = [Layer(dlarray(W1), dlarray(b1)), Layer(dlarray(W2), dlarray(b2))]
    loss, gW, gb = dlfeval(mlp_dataclass_grad, layers, dlarray(X), dlarray(T))

    def f(W1_, b2_):
        return softmax_cross_entropy(stack([Layer(W1_, b1), Layer(W2, b2_)], X), T)
    assert_close(np.asarray(gW.data), numerical_gradient(f, [W1, b2], 0), 1e-5, 1e-6)
    assert_close(np.asarray(gb.data), numerical_gradient(f, [W1, b2], 1), 1e-5, 1e-6)


def mlp_input_gradient_norm(W1, b1, W2, b2, X, T):
    loss = mlp_loss(W1, b1, W2, b2, X, T)
    gX = dlgradient(loss, X, EnableHigherDerivatives=True)
    return np.sum(gX ** 2)


def mlp_second_order(W1, b1, W2, b2, X, T):
    penalty = mlp_input_gradient_norm(W1, b1, W2, b2, X, T)
    return penalty, dlgradient(penalty, W1, b2)


def test_second_derivatives_through_matmul_unbroadcast_and_max():
    # d/dW1 of |dL/dX|^2: differentiates the generated adjoint (matmul adjoints, the bias sums,
    # the max's weights) again
    W1, b1, W2, b2, X = _data([(3, 4), (4,), (4, 3), (3,), (5, 3)], seed=4)
    T = _targets(5, 3)
    penalty, (gW1, gb2) = dlfeval(mlp_second_order, *[dlarray(v) for v in (W1, b1, W2, b2, X, T)])

    def f(W1_, b2_):
        return float(np.asarray(dlfeval(mlp_input_gradient_norm, *[dlarray(v) for v in
                                                                    (W1_, b1, W2, b2_, X, T)]).data))
    assert_close(np.asarray(gW1.data), numerical_gradient(f, [W1, b2], 0), 1e-4, 1e-6)
    assert_close(np.asarray(gb2.data), numerical_gradient(f, [W1, b2], 1), 1e-4, 1e-6)


def test_mlp_gradients_are_the_same_numbers_as_the_general_helpers(monkeypatch):
    # the whole MLP gradient run with the fast paths, then with the general formulas put in the
    # generated code's namespace in their place: the same numbers bit for bit, float32 and float64
    from sct.compiler import RT

    def grad(W1, b1, W2, b2, X, T):
        loss = mlp_loss(W1, b1, W2, b2, X, T)
        return loss, dlgradient(loss, W1, b1, W2, b2)
    for dtype in (np.float64, np.float32):
        W1, b1, W2, b2, X = _data([(6, 8), (8,), (8, 4), (4,), (16, 6)], dtype, seed=5)
        args = [dlarray(v) for v in (W1, b1, W2, b2, X, _targets(16, 4, dtype))]
        runs, calls = [], []
        for general in (False, True, False):
            with monkeypatch.context() as m:
                if general:
                    m.setattr(RT, "unbroadcast", _unbroadcast_reference)
                    m.setattr(RT, "extremum_weights", _extremum_weights_reference)
                    m.setattr(RT, "extremum_scaled", _extremum_scaled_reference)
                else:                   # the fast helper is what the generated code calls (the softmax's
                    # max shift: rt.shift_free_max, sct/optimize.py's shift_invariant_maxima)
                    m.setattr(RT, "extremum_scaled", lambda *a, _f=RT.extremum_scaled: calls.append(1) or _f(*a))
                    m.setattr(RT, "shift_free_max", lambda *a, _f=RT.shift_free_max: calls.append(1) or _f(*a))
                out = dlfeval(grad, *args)
            runs.append([np.asarray(out[0].data)] + [np.asarray(g.data) for g in out[1]])
        assert len(calls) == 2          # one per fast run
        for fast, general in zip(runs[0], runs[1]):
            _same(fast, general)
            assert fast.dtype == dtype
        for again, general in zip(runs[2], runs[1]):
            _same(again, general)
