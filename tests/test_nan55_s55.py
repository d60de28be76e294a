"""nan55 (red team red55h): NaN data under a mask, logs and counters in helpers, a bool dlarray.

- F1: a loss masked over NaN (missing) targets, ``np.sum(((p - t) ** 2)[~np.isnan(t)])`` or its np.where
  form, stays refused (the adjoint multiplies the masked entries' zero by the NaN factor 2 * (p - t);
  sct does not return NaN nor guess the zero), but the message now says that the argument t holds NaN
  and what to write (np.nan_to_num under the mask), and that rewrite is exact.
- R1: a bool dlarray as dlgradient's only x is refused as bool data with no derivative (was: "y does not
  depend on any traced input").
"""
import numpy as np
import pytest

from sct import dlarray, dlfeval, dlgradient
from sct.errors import CompileError, EvaluationError
from gradcheck import D, assert_close, numerical_gradient

T = np.array([1.0, np.nan, 3.0, np.nan, -2.0])
P0 = np.array([0.5, 0.5, 0.5, -1.0, 0.25])


def _loss_index(p, t):
    err = (p - t) ** 2
    l = np.sum(err[~np.isnan(t)])
    return l, dlgradient(l, p)


def _loss_where(p, t):
    l = np.sum(np.where(np.isnan(t), 0.0, (p - t) ** 2))
    return l, dlgradient(l, p)


def _loss_mean(p, t):
    m = ~np.isnan(t)
    l = np.mean(((p - t) ** 2)[m])
    return l, dlgradient(l, p)


def _loss_dict(params, t):       # the way users write it: a dict of parameters, the prediction a product
    pred = params["w"] * 2.0
    l = np.sum(((pred - t) ** 2)[~np.isnan(t)])
    return l, dlgradient(l, params)


@pytest.mark.parametrize("loss, offset", [(_loss_index, 3), (_loss_where, 1), (_loss_mean, 3)])
def test_masked_nan_data_refused_naming_the_data(loss, offset):
    """Named: the dlgradient's line (the np.where's for the np.where form)."""
    with pytest.raises(EvaluationError) as info:
        dlfeval(loss, dlarray(P0), T)
    msg = str(info.value)
    assert "test_nan55_s55.py" in msg and f"line {loss.__code__.co_firstlineno + offset}:" in msg
    assert "t holds NaN" in msg and "np.nan_to_num(t)" in msg


def test_masked_nan_data_in_dict_refused_naming_the_data():
    with pytest.raises(EvaluationError) as info:
        dlfeval(_loss_dict, {"w": dlarray(P0)}, T)
    assert "t holds NaN" in str(info.value)


def test_nan_of_sqrt_not_called_data():
    def f(x):
        v = np.sqrt(x)
        y = np.sum(v[x > 0])
        return y, dlgradient(y, x)
    with np.errstate(invalid="ignore"), pytest.raises(EvaluationError) as info:
        dlfeval(f, dlarray([1.0, -1.0]))
    assert "holds NaN" not in str(info.value) and "np.sqrt" in str(info.value)


def _plain_masked(p, t):
    m = ~np.isnan(t)
    return float(np.sum(np.where(m, p - np.nan_to_num(t), 0.0) ** 2))


def test_the_advised_rewrite_is_exact():
    def loss(p, t):
        m = ~np.isnan(t)
        l = np.sum(np.where(m, p - np.nan_to_num(t), 0.0) ** 2)
        return l, dlgradient(l, p)

    def loss_mean(p, t):
        m = ~np.isnan(t)
        l = np.mean(((p - np.nan_to_num(t)) ** 2)[m])
        return l, dlgradient(l, p)
    with np.errstate(invalid="ignore"):
        l, g = dlfeval(loss, dlarray(P0), T)
        assert_close(D(l), _plain_masked(P0, T))
        m = ~np.isnan(T)
        assert_close(D(g), np.where(m, 2 * (P0 - np.nan_to_num(T)), 0.0))     # closed form
        assert_close(D(g), numerical_gradient(_plain_masked, [P0, T], 0))
        l, g = dlfeval(loss_mean, dlarray(P0), T)
        assert_close(D(l), np.mean(((P0 - T) ** 2)[m]))
        assert_close(D(g), np.where(m, 2 * (P0 - np.nan_to_num(T)), 0.0) / m.sum())


def test_bool_dlarray_only_argument_refused_as_bool():
    def f(m):
        y = np.sum(m * 2.0)
        return y, dlgradient(y, m)
    with pytest.raises(CompileError) as info:
        dlfeval(f, dlarray(np.array([True, False])))
    msg = str(info.value)
    assert "'m'" in msg and "bool data" in msg and "no derivative" in msg
    assert f"line {f.__code__.co_firstlineno + 2}" in msg

