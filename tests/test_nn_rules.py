"""The deep-learning ops of runtime.nn: values, closed forms, and every rule against finite differences."""
from __future__ import annotations

import inspect
import textwrap
import warnings

import gast
import numpy as np
import pytest

import sct  # noqa: F401  (registers the numpy rules)
import sct.runtime.nn as nn
from sct.runtime.registry import is_nondifferentiable, lookup
try:
    from tests.gradcheck import assert_close, check_rule
except ImportError:                      # run as plain `pytest` from inside tests/
    from gradcheck import assert_close, check_rule

rng = np.random.default_rng(1234)


def away_from_zero(*shape, margin=0.1):
    """Random values with |x| >= margin, so finite differences never straddle a kink."""
    x = rng.standard_normal(shape)
    return np.where(x >= 0, x + margin, x - margin)


def probabilities(*shape, axis=-1):
    return nn.softmax(rng.standard_normal(shape), axis=axis)


def one_hot(labels, classes):
    return np.eye(classes)[labels]


def rule_of(op):
    rule = lookup(op)
    assert rule is not None, f"{op.__name__} has no rule"
    return rule


def check(op, args, wrt, **kwargs):
    check_rule(op, rule_of(op).fn, args, wrt, kwargs)


# --- the rules are well formed ------------------------------------------------------------

ALL_OPS = [nn.relu, nn.leakyrelu, nn.sigmoid, nn.softmax, nn.fullyconnect, nn.crossentropy, nn.mse]
HELPERS = [nn.fullyconnect_weights_adjoint, nn.crossentropy_adjoint_scale, nn.crossentropy_factor,
           nn.crossentropy_slope_y, nn.crossentropy_slope_t, nn.matrix_weights, nn.crossentropy_values,
           nn.crossentropy_value_scale, nn.crossentropy_weights_adjoint, nn.crossentropy_mask_adjoint]
WRT = {
    nn.relu: ("x",), nn.leakyrelu: ("x", "scale"), nn.sigmoid: ("x",), nn.softmax: ("x",),
    nn.fullyconnect: ("x", "weights", "bias"), nn.crossentropy: ("y_pred", "targets", "weights", "Mask"),
    nn.mse: ("y", "targets"),
}


# differentiated as ordinary code (no rule of their own): tests/test_recurrent.py
COMPOSITE = {"lstm", "gru", "embed", "attention"}


def test_exports():
    assert sorted(set(nn.__all__) - COMPOSITE) == sorted(op.__name__ for op in ALL_OPS)
    for name in set(nn.__all__) - COMPOSITE:
        assert getattr(nn, name) in ALL_OPS


@pytest.mark.parametrize("op", ALL_OPS, ids=lambda op: op.__name__)
def test_rule_is_single_return_over_op_signature(op):
    rule = rule_of(op)
    assert rule.wrt == WRT[op]
    assert set(rule.templates()) == set(rule.wrt)
    # the rule's parameters after (g, ans) are the op's, with the same defaults
    assert list(rule.signature.parameters) == list(inspect.signature(op).parameters)
    for name, p in inspect.signature(op).parameters.items():
        assert rule.signature.parameters[name].default == p.default
        assert name not in ("g", "ans")


def _called(fn, tree):
    """The functions ``tree`` calls, resolved in ``fn``'s module."""
    out = []
    for node in gast.walk(tree):
        if not isinstance(node, gast.Call):
            continue
        f = node.func
        if isinstance(f, gast.Name):
            out.append(fn.__globals__[f.id] if f.id in fn.__globals__ else __builtins__[f.id]
                       if isinstance(__builtins__, dict) else getattr(__builtins__, f.id))
        elif isinstance(f, gast.Attribute) and isinstance(f.value, gast.Name) and f.value.id == "np":
            out.append(getattr(np, f.attr))
        else:
            raise AssertionError(f"unexpected call {gast.dump(f)} in {fn.__name__}")
    return out


def _differentiable_or_helper(f):
    return lookup(f) is not None or is_nondifferentiable(f) or f in HELPERS or \
        (isinstance(f, type) and issubclass(f, Exception))      # raise ValueError(...) in a helper


@pytest.mark.parametrize("op", ALL_OPS, ids=lambda op: op.__name__)
def test_rules_call_only_registered_ops(op):
    rule = rule_of(op)
    for expr in rule.templates().values():
        for f in _called(rule.fn, expr):
            assert _differentiable_or_helper(f), f"{rule.fn.__name__} calls unregistered {f}"


@pytest.mark.parametrize("helper", HELPERS, ids=lambda f: f.__name__)
def test_helpers_call_only_registered_ops(helper):
    tree = gast.parse(textwrap.dedent(inspect.getsource(helper)))
    for f in _called(helper, tree):
        assert _differentiable_or_helper(f), f"{helper.__name__} calls unregistered {f}"


# --- relu / leakyrelu -----------------------------------------------------------------------


def test_relu_values_and_closed_form_derivative():
    x = np.array([-2.0, -0.0, 0.0, 1e-300, 3.5])
    assert_close(nn.relu(x), np.maximum(x, 0))
    rule = rule_of(nn.relu).fn
    eps = np.finfo(float).eps
    pts = np.array([0.0, eps, -eps])
    assert_close(rule(np.ones(3), nn.relu(pts), pts), [0.0, 1.0, 0.0])
    assert rule(1.0, 0.0, np.float64(0.0)) == 0
    assert rule(1.0, eps, np.float64(eps)) == 1
    assert nn.relu(np.ones(2, np.float32)).dtype == np.float32


@pytest.mark.parametrize("shape", [(5,), (4, 3), (2, 3, 4)])
def test_relu_rule(shape):
    check(nn.relu, [away_from_zero(*shape)], [0])


def test_leakyrelu_values_and_derivative_at_zero():
    x = np.array([-2.0, 0.0, 3.0])
    assert_close(nn.leakyrelu(x), [-0.02, 0.0, 3.0])
    assert_close(nn.leakyrelu(x, 0.2), [-0.4, 0.0, 3.0])
    gx, gs = rule_of(nn.leakyrelu).fn(np.ones(3), nn.leakyrelu(x, 0.2), x, 0.2)
    assert_close(gx, [0.2, 0.2, 1.0])
    assert_close(gs, -2.0)
    gx, _ = rule_of(nn.leakyrelu).fn(np.ones(3), nn.leakyrelu(x), x)
    assert_close(gx, [0.01, 0.01, 1.0])
    assert nn.leakyrelu(np.ones(2, np.float32)).dtype == np.float32


@pytest.mark.parametrize("shape", [(5,), (4, 3)])
def test_leakyrelu_rule_scalar_scale(shape):
    check(nn.leakyrelu, [away_from_zero(*shape), 0.3], [0, 1])
    check(nn.leakyrelu, [away_from_zero(*shape)], [0])


def test_leakyrelu_rule_per_channel_scale():
    check(nn.leakyrelu, [away_from_zero(4, 3), np.array([0.1, 0.2, 0.3])], [0, 1])


# --- sigmoid ----------------------------------------------------------------------------------


def test_sigmoid_values():
    assert nn.sigmoid(np.float64(0.0)) == 0.5
    assert_close(nn.sigmoid(np.zeros(3)), [0.5, 0.5, 0.5])
    x = rng.standard_normal((4, 3)) * 5
    assert_close(nn.sigmoid(x), 1 / (1 + np.exp(-x)), rtol=1e-12)
    for dtype in (np.float32, np.float64):
        big = np.array([-1e4, -800.0, 800.0, 1e4], dtype=dtype)
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            with np.errstate(over="raise", invalid="raise", divide="raise"):
                y = nn.sigmoid(big)
        assert y.dtype == dtype
        assert_close(y, [0.0, 0.0, 1.0, 1.0])


@pytest.mark.parametrize("shape", [(), (5,), (4, 3)])
def test_sigmoid_rule(shape):
    check(nn.sigmoid, [rng.standard_normal(shape) * 3], [0])


# --- softmax ----------------------------------------------------------------------------------


def naive_softmax(x, axis):
    e = np.exp(x)
    return e / np.sum(e, axis=axis, keepdims=True)


@pytest.mark.parametrize("shape,axis", [((5,), -1), ((4, 3), -1), ((4, 3), 0), ((2, 3, 4), 1)])
def test_softmax_values(shape, axis):
    x = rng.standard_normal(shape)
    y = nn.softmax(x, axis=axis)
    assert_close(y, naive_softmax(x, axis), rtol=1e-12)
    assert_close(np.sum(y, axis=axis), np.ones(np.delete(np.array(shape, dtype=int), axis)), rtol=1e-12)
    assert_close(nn.softmax(x + 1000.0, axis=axis), y, rtol=1e-9)    # no overflow


def test_softmax_default_axis_is_last():
    x = rng.standard_normal((4, 3))
    assert_close(np.sum(nn.softmax(x), axis=1), np.ones(4))
    x32 = np.array([[1e4, 0.0, -1e4]], dtype=np.float32)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        y = nn.softmax(x32)
    assert y.dtype == np.float32
    assert_close(y, [[1.0, 0.0, 0.0]])


@pytest.mark.parametrize("shape,axis", [((5,), -1), ((4, 3), -1), ((4, 3), 0), ((2, 3, 4), 1)])
def test_softmax_rule(shape, axis):
    check(nn.softmax, [rng.standard_normal(shape)], [0], axis=axis)


# --- fullyconnect ----------------------------------------------------------------------------------


@pytest.mark.parametrize("xshape", [(3,), (5, 3), (2, 4, 3)])
def test_fullyconnect_values_and_rule(xshape):
    x = rng.standard_normal(xshape)
    w = rng.standard_normal((2, 3))
    b = rng.standard_normal(2)
    y = nn.fullyconnect(x, w, b)
    assert y.shape == xshape[:-1] + (2,)
    assert_close(y, np.einsum("...i,oi->...o", x, w) + b, rtol=1e-12)
    check(nn.fullyconnect, [x, w, b], [0, 1, 2])


def test_fullyconnect_scalar_bias():
    x = rng.standard_normal((5, 3))
    w = rng.standard_normal((2, 3))
    assert_close(nn.fullyconnect(x, w, 0.0), x @ w.T)
    check(nn.fullyconnect, [x, w, 0.5], [0, 1, 2])


def test_fullyconnect_float32():
    x = rng.standard_normal((5, 3)).astype(np.float32)
    w = rng.standard_normal((2, 3)).astype(np.float32)
    b = np.zeros(2, np.float32)
    assert nn.fullyconnect(x, w, b).dtype == np.float32
    g = np.ones((5, 2), np.float32)
    for part in rule_of(nn.fullyconnect).fn(g, None, x, w, b):
        assert part.dtype == np.float32


# --- crossentropy -------------------------------------------------------------------------------------


def test_crossentropy_one_hot_is_mean_neg_log_true_class():
    p = probabilities(6, 4)
    labels = np.array([0, 3, 1, 1, 2, 0])
    t = one_hot(labels, 4)
    expected = -np.mean(np.log(p[np.arange(6), labels]))
    assert_close(nn.crossentropy(p, t), expected, rtol=1e-12)
    assert_close(nn.crossentropy(p, t, reduction="sum"), 6 * expected, rtol=1e-12)
    assert_close(nn.crossentropy(p, t, reduction="none"), -np.log(p[np.arange(6), labels]), rtol=1e-12)
    # classes along axis 0 (MATLAB's 'CB' layout): the same loss
    assert_close(nn.crossentropy(p.T, t.T, axis=0), expected, rtol=1e-12)


def test_crossentropy_soft_targets_and_shapes():
    p = probabilities(5, 3)
    t = probabilities(5, 3)
    assert_close(nn.crossentropy(p, t), -np.sum(t * np.log(p)) / 5, rtol=1e-12)
    v = probabilities(4)
    tv = one_hot(2, 4)
    assert_close(nn.crossentropy(v, tv), -np.log(v[2]), rtol=1e-12)      # 1-D: one observation
    # (batch, H, classes): summed over the spatial axis, divided by the batch size (MATLAB)
    p3 = probabilities(2, 3, 4)
    t3 = probabilities(2, 3, 4)
    assert_close(nn.crossentropy(p3, t3), -np.sum(t3 * np.log(p3)) / 2, rtol=1e-12)
    assert nn.crossentropy(p3, t3, reduction="none").shape == (2, 3)


def test_crossentropy_clips_log_input():
    p = np.array([[1.0, 0.0], [0.5, 0.5]])
    t = np.array([[1.0, 0.0], [0.0, 1.0]])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert_close(nn.crossentropy(p, t), np.log(2) / 2, rtol=1e-12)      # 0 * log(0) -> 0
        loss = nn.crossentropy(p, t[::-1])                                     # log(0) -> log(tiny)
        assert np.isfinite(loss)
        gy, gt, _, _ = rule_of(nn.crossentropy).fn(1.0, loss, p, t[::-1])
    assert np.all(np.isfinite(gy)) and np.all(np.isfinite(gt))
    assert gy[0, 1] == 0.0                                  # no derivative through the floor
    assert_close(gy[1], [-1.0, 0.0])                        # -t / (N p) = -1 / (2 * 0.5)


def test_crossentropy_float32():
    p = probabilities(3, 4).astype(np.float32)
    t = one_hot([0, 1, 2], 4).astype(np.float32)
    assert nn.crossentropy(p, t).dtype == np.float32


def test_crossentropy_bad_reduction():
    with pytest.raises(ValueError, match="reduction"):
        nn.crossentropy(probabilities(2, 3), one_hot([0, 1], 3), reduction="avg")


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
@pytest.mark.parametrize("shape,axis", [((4,), -1), ((5, 3), -1), ((3, 5), 0), ((2, 3, 4), -1)])
def test_crossentropy_rule(shape, axis, reduction):
    p = probabilities(*shape, axis=axis)
    t = probabilities(*shape, axis=axis)
    check(nn.crossentropy, [p, t], [0, 1], axis=axis, reduction=reduction)


def test_crossentropy_rule_one_hot_through_softmax_is_p_minus_t_over_n():
    z = rng.standard_normal((5, 3))
    t = one_hot([0, 2, 1, 1, 0], 3)
    p = nn.softmax(z)
    loss = nn.crossentropy(p, t)
    gp, _, _, _ = rule_of(nn.crossentropy).fn(1.0, loss, p, t)
    gz = rule_of(nn.softmax).fn(gp, p, z)
    assert_close(gz, (p - t) / 5, rtol=1e-10)


# --- mse ------------------------------------------------------------------------------------------------


def test_mse_values():
    y = rng.standard_normal((5, 3))
    t = rng.standard_normal((5, 3))
    assert_close(nn.mse(y, t), np.sum((y - t) ** 2) / (2 * 5), rtol=1e-12)
    v = rng.standard_normal(6)
    tv = rng.standard_normal(6)
    assert_close(nn.mse(v, tv), np.sum((v - tv) ** 2) / (2 * 6), rtol=1e-12)   # 1-D: N = numel
    assert_close(nn.mse(np.float64(3.0), 1.0), 2.0)                          # scalar: N = 1
    y4 = rng.standard_normal((2, 3, 3, 1))
    assert_close(nn.mse(y4, np.ones_like(y4)), np.sum((y4 - 1) ** 2) / 4, rtol=1e-12)
    assert nn.mse(y.astype(np.float32), t.astype(np.float32)).dtype == np.float32


@pytest.mark.parametrize("shape", [(), (6,), (5, 3), (2, 3, 4)])
def test_mse_rule(shape):
    check(nn.mse, [rng.standard_normal(shape), rng.standard_normal(shape)], [0, 1])


def test_mse_rule_broadcast_targets():
    check(nn.mse, [rng.standard_normal((5, 3)), rng.standard_normal(3)], [0, 1])


# --- complex input: not the purpose, but no crash, and the rules keep MATLAB's convention ----------------


def crandn(*shape):
    return rng.standard_normal(shape) + 1j * rng.standard_normal(shape)


def test_complex_does_not_crash():
    z = crandn(4, 3)
    for op in (nn.relu, nn.leakyrelu, nn.sigmoid, nn.softmax):
        assert op(z).shape == z.shape
    assert nn.fullyconnect(z, crandn(2, 3), crandn(2)).shape == (4, 2)
    assert np.shape(nn.mse(z, z)) == ()


def test_complex_rules():
    check(nn.sigmoid, [crandn(4, 3) * 0.5], [0])
    check(nn.softmax, [crandn(4, 3) * 0.5], [0])
    check(nn.fullyconnect, [crandn(4, 3), crandn(2, 3), crandn(2)], [0, 1, 2])


# --- dlarray outside dlfeval: values only ---------------------------------------------------------------


def test_dlarray_inputs_compute_values():
    from sct.runtime.dlarray import dlarray, extractdata
    x = rng.standard_normal((4, 3))
    w = rng.standard_normal((2, 3))
    b = rng.standard_normal(2)
    t = one_hot([0, 1, 1, 0], 2)
    y = nn.fullyconnect(dlarray(x), dlarray(w), dlarray(b))
    p = nn.softmax(nn.relu(y))
    loss = nn.crossentropy(p, t)
    expected = nn.crossentropy(nn.softmax(nn.relu(x @ w.T + b)), t)
    assert_close(extractdata(loss), expected, rtol=1e-12)
    assert_close(extractdata(nn.mse(nn.sigmoid(dlarray(x)), x)), nn.mse(nn.sigmoid(x), x), rtol=1e-12)
