"""Type tests in helpers given containers mixing dlarrays and numpy arrays, and in hvp's fun (isi2_56; red2_56 W2,
W3, F6).

A helper compiled for a call sees every float array of a traced argument as traced data, a dlarray of the caller's
and a numpy array beside it in ``[W, M]`` alike: ``isinstance(v, dlarray)`` answered True for both (value 40 and
gradient [16, 32] where Python gives 65 and [26, 52]).  Where the caller cannot tell its items apart, the helper's
type test is refused at its line; where it can (all dlarrays), it answers as Python.  hvp of a numpy x runs fun on
a dlarray: its type tests answered the dlarray's way ([80, 0] where fun(x) on numpy has Hv = [8, 0]); refused
where the answer depends on it, as jvp's are.
"""
from dataclasses import dataclass

import numpy as np
import pytest

import sct
from sct import dlarray, dlfeval, dlgradient, extractdata
from gradcheck import assert_close, numerical_gradient

W0 = np.array([1.0, 2.0])
M = np.array([0.1, 0.2])


def gain(v):
    return 2.0 if isinstance(v, dlarray) else 3.0


def loss(W, vs):
    return sum(np.sum((W * gain(v)) ** 2) for v in vs)


def reg(p):
    s = 0.0
    for k, v in p.items():
        if isinstance(v, dlarray):
            s = s + np.sum(v ** 2)
    return s


def _refused_at(fn, line_of, *args):
    with pytest.raises(sct.EvaluationError) as info:
        dlfeval(fn, *args)
    text = str(info.value)
    assert "isinstance" in text and "test_isi2_56_s56.py" in text and f"line {line_of}" in text


def test_helper_given_a_list_of_a_dlarray_and_a_numpy_array_refused_at_its_line():
    def f(W):
        y = loss(W, [W, M])
        return y, dlgradient(y, W)
    _refused_at(f, gain.__code__.co_firstlineno + 1, dlarray(W0))       # (was 40 where Python gives 65)

    def g(W):
        vs = (W, M)
        y = loss(W, vs)
        return y, dlgradient(y, W)
    _refused_at(g, gain.__code__.co_firstlineno + 1, dlarray(W0))


def test_helper_given_a_list_of_dlarrays_is_pythons():
    def py(W):
        return loss(W, [W, W * 2])

    def f(W):
        y = loss(W, [W, W * 2])
        return y, dlgradient(y, W)
    y, gw = dlfeval(f, dlarray(W0))
    assert float(extractdata(y)) == pytest.approx(float(extractdata(py(dlarray(W0)))), rel=1e-12)
    assert_close(extractdata(gw), numerical_gradient(lambda w: float(extractdata(py(dlarray(w)))), [W0.copy()], 0))


def test_dict_with_a_numpy_buffer_refused_in_a_helper_and_inline():
    p = {"W": dlarray(W0), "mask": np.array([10.0, 10.0])}

    def f(p):
        y = reg(p)
        return y, dlgradient(y, p["W"])
    _refused_at(f, reg.__code__.co_firstlineno + 3, p)                  # (was 205 where Python gives 5)

    def g(p):
        s = 0.0
        for k, v in p.items():
            if isinstance(v, dlarray):
                s = s + np.sum(v ** 2)
        return s, dlgradient(s, p["W"])
    _refused_at(g, g.__code__.co_firstlineno + 3, p)
    # a dict of dlarrays: both forms answer as Python
    q = {"W": dlarray(W0), "b": dlarray(np.array([3.0]))}
    for fn in (f, g):
        y, gw = dlfeval(fn, q)
        assert float(extractdata(y)) == pytest.approx(float(extractdata(reg(q))), rel=1e-12)
        assert_close(extractdata(gw), 2 * W0)


def test_refusal_leaves_later_helpers_as_pythons():
    def f(W):
        y = loss(W, [W, M])
        return y, dlgradient(y, W)
    with pytest.raises(sct.EvaluationError):
        dlfeval(f, dlarray(W0))

    def helper(h):
        return 1.0 if isinstance(h, np.ndarray) else 10.0

    def g(W):
        h = W * 2
        y = np.sum(h) * helper(h)
        return y, dlgradient(y, W)
    y, gw = dlfeval(g, dlarray(W0))
    assert float(extractdata(y)) == pytest.approx(60.0)
    assert_close(extractdata(gw), np.full(2, 20.0))


def _typed(x):
    h = x * 2
    return np.sum(h ** 2) * (1.0 if isinstance(h, np.ndarray) else 10.0)


def _either(x):
    h = x * 2
    return np.sum(h ** 2) * (1.0 if isinstance(h, (np.ndarray, dlarray)) else 10.0)


def _hv(f, x, v, eps=1e-5):
    """H v of plain Python's f at x (x as given: numpy or dlarray) by central differences of its gradient."""
    def grad(a):
        wrap = (lambda b: dlarray(b)) if isinstance(x, dlarray) else (lambda b: b)
        return numerical_gradient(lambda b: float(extractdata(f(wrap(b)))), [a], 0)
    x0 = np.asarray(extractdata(x) if isinstance(x, dlarray) else x, dtype=float)
    return (grad(x0 + eps * v) - grad(x0 - eps * v)) / (2 * eps)


def test_hvp_of_a_numpy_x_refuses_a_type_test_that_depends_on_it():
    x, v = np.array([1.0, 2.0]), np.array([1.0, 0.0])
    with pytest.raises(sct.EvaluationError) as info:
        sct.hvp(_typed, x, v)                           # (was [80, 0] where fun(x) on numpy gives [8, 0])
    assert "isinstance" in str(info.value) and f"line {_typed.__code__.co_firstlineno + 2}" in str(info.value)
    assert_close(extractdata(sct.hvp(_either, x, v)), _hv(_either, x, v), rtol=1e-4, atol=1e-4)
    # a dlarray x: fun is run on it as given, its type test answered as Python's
    assert_close(extractdata(sct.hvp(_typed, dlarray(x), v)), _hv(_typed, dlarray(x), v), rtol=1e-4, atol=1e-4)
    # and after the refusal, a helper's type test elsewhere answers as Python's again
    test_refusal_leaves_later_helpers_as_pythons()


def test_dict_of_a_dlarray_and_a_float_given_to_a_helper_is_pythons():
    # {"w": W, "lr": 0.5}: both traced data to the helper, whose kinds said "dlarray" of lr (was 7 where Python
    # gives 8.5)
    def scaled(x, p):
        reg = 0.0
        for k, v in p.items():
            if isinstance(v, float):
                reg = reg + v * np.sum(x)
        return np.sum(x * p["w"]) + reg

    def g(x, p):
        y = scaled(x, p)
        return y, dlgradient(y, x)
    x, p = np.array([1.0, 2.0]), {"w": dlarray(np.array([1.0, 3.0])), "lr": 0.5}
    y, gx = dlfeval(g, dlarray(x), p)
    assert float(extractdata(y)) == pytest.approx(float(extractdata(scaled(dlarray(x), p))), rel=1e-12)
    assert_close(extractdata(gx), numerical_gradient(lambda v: float(extractdata(scaled(dlarray(v), p))),
                                                     [x.copy()], 0))


def test_value_only_call_of_a_helper_given_a_mixed_list_refused():
    def f(W):
        y = np.sum(W ** 2)
        metric = loss(W, [W, M])            # (no gradient reads it)
        return y, dlgradient(y, W), metric
    with pytest.raises(sct.EvaluationError) as info:
        dlfeval(f, dlarray(W0))
    assert "isinstance" in str(info.value) and f"line {gain.__code__.co_firstlineno + 1}" in str(info.value)


def _has_len(W):
    s = np.sum(W)
    return s * (1.0 if hasattr(s, "__len__") else 10.0)


def _has_finddim(W):
    return np.sum(W) * (1.0 if hasattr(W, "finddim") else 10.0)


def _has_ceil(W):
    s = W.mean()
    return s * (1.0 if hasattr(s, "__ceil__") else 10.0)


@pytest.mark.parametrize("f", [_has_len, _has_finddim, _has_ceil])
def test_hasattr_of_traced_values_is_pythons(f):
    # np.sum of a dlarray is a dlarray, which has __len__ (was numpy's float64's answer: 30 where Python gives 3)
    def g(W):
        y = f(W)
        return y, dlgradient(y, W)
    y, gw = dlfeval(g, dlarray(W0))
    assert float(extractdata(y)) == pytest.approx(float(extractdata(f(dlarray(W0)))), rel=1e-12)
    assert_close(extractdata(gw), numerical_gradient(lambda w: float(extractdata(f(dlarray(w)))), [W0.copy()], 0))


def test_hasattr_of_a_numpy_value_and_of_a_mixed_list_item():
    def f(W, M):
        y = np.sum(W) * (1.0 if hasattr(np.sum(M), "__len__") else 10.0)    # numpy's float64: no __len__
        return y, dlgradient(y, W)
    y, _ = dlfeval(f, dlarray(W0), M)
    assert float(extractdata(y)) == pytest.approx(10.0 * np.sum(W0))

    def lens(v):
        return 2.0 if hasattr(v, "finddim") else 3.0

    def g(W):
        y = sum(np.sum(W * lens(v)) for v in [W, M])
        return y, dlgradient(y, W)
    with pytest.raises(sct.EvaluationError) as info:
        dlfeval(g, dlarray(W0))
    assert "hasattr" in str(info.value) and f"line {lens.__code__.co_firstlineno + 1}" in str(info.value)


def _layer(q, x):
    return np.sum(x * q["w"]) * (1.0 if isinstance(q["w"], dlarray) else 10.0)


def _model(x, p):
    return _layer(p["l1"], x) + _layer(p["l2"], x)


@dataclass
class _Holder:
    w: object
    m: object


def _uses_holder(x, p):
    return np.sum(x * p.w) * (1.0 if isinstance(p.m, np.ndarray) else 10.0)


def _walks(x, hs):
    return sum(np.sum(x * h) * (1.0 if isinstance(h, dlarray) else 5.0) for h in hs)


@pytest.mark.parametrize("f, given, line", [
    (_model, {"l1": {"w": dlarray(W0)}, "l2": {"w": W0 * 2}}, _layer.__code__.co_firstlineno + 1),
    (_uses_holder, _Holder(dlarray(W0), M), _uses_holder.__code__.co_firstlineno + 1),
    (_walks, [dlarray(W0), M], _walks.__code__.co_firstlineno + 1)])
def test_arguments_holding_dlarrays_and_numpy_arrays_refused_in_helpers(f, given, line):
    # (were 15 / 50 / 5.5 where Python gives 105 / 5 / 7.5)
    def g(x, p):
        y = f(x, p)
        return y, dlgradient(y, x)
    _refused_at(g, line, dlarray(W0), given)
    if f is _model:            # all dlarrays: as Python
        q = {"l1": {"w": dlarray(W0)}, "l2": {"w": dlarray(W0 * 2)}}
        y, gx = dlfeval(g, dlarray(W0), q)
        assert float(extractdata(y)) == pytest.approx(float(extractdata(_model(dlarray(W0), q))), rel=1e-12)
        assert_close(extractdata(gx), 3 * W0)
