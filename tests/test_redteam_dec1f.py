"""Red team of the scalar specialisation (sct/scalars.py) and dlfeval's hit path (sct/api.py
make_hit, sct/kinds.py make_unwrapper): what a program computes with sct equals what plain
Python/numpy computes, with the specialisation on, off, and on repeated (hit) calls."""
import os
import warnings

import numpy as np
import pytest

import sct
from sct import cache, dlarray, dlfeval, dlgradient, extractdata

from gradcheck import assert_close, numerical_gradient


@pytest.fixture(autouse=True)
def _fresh_cache():
    cache.clear()
    yield
    cache.clear()


def run(fn, *args, scalars=True):
    old = os.environ.get("SCT_SCALARS")
    os.environ["SCT_SCALARS"] = "1" if scalars else "0"
    cache.clear()
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            return dlfeval(fn, *args)
    finally:
        if old is None:
            os.environ.pop("SCT_SCALARS", None)
        else:
            os.environ["SCT_SCALARS"] = old
        cache.clear()


def bits(v):
    v = extractdata(v) if isinstance(v, sct.dlarray) else v
    return np.asarray(v).dtype.str, np.asarray(v).tobytes()


# --- 1. x ** 0.5 of a 0-d array argument is numpy's sqrt, not pow ------------------------------

def half_power(x):
    return x ** 0.5


def half_power_alias(x):
    y = x
    for i in range(2):
        y = y ** 0.5
    return y


def half_power_grad(x):
    y = x ** 0.5 + x * 3.0
    return y, dlgradient(y, x)


@pytest.mark.parametrize("fn", [half_power, half_power_alias])
@pytest.mark.parametrize("v", [-np.inf, -0.0, 0.0, 2.0, np.inf])
@pytest.mark.parametrize("make", [lambda v: dlarray(np.array(v)), np.array, np.float64])
def test_half_power_of_the_argument_is_numpys(fn, v, make):
    with np.errstate(all="ignore"):
        plain = fn(np.asarray(make(v)) if isinstance(make(v), sct.dlarray) else make(v))
    out = run(fn, make(v))
    ref = run(fn, make(v), scalars=False)
    assert bits(out) == bits(ref) == bits(plain), (out, ref, plain)


@pytest.mark.parametrize("v", [-np.inf, -0.0, 0.5, 2.0])
def test_half_power_gradient(v):
    y, g = run(half_power_grad, dlarray(np.array(v)))
    y0, g0 = run(half_power_grad, dlarray(np.array(v)), scalars=False)
    assert bits(y) == bits(y0) and bits(g) == bits(g0)
    if v > 0:
        num = numerical_gradient(lambda t: t ** 0.5 + t * 3.0, [np.float64(v)], 0)
        assert_close(extractdata(g), num, rtol=1e-6)


# --- 2. a list or dict holding no dlarray reaches the code itself on a hit too ------------------

def count_calls(x, counter):
    counter["n"] = counter["n"] + 1
    return x * 2.0


def bump_first(x, acc):
    acc[0] = acc[0] + x
    return x * 2.0


def bump_nested(x, state):
    state["hist"][0] = state["hist"][0] + 1.0
    y = x * state["w"]
    return y, dlgradient(y, x)


def test_writes_into_a_dict_argument_are_the_callers_on_every_call():
    counter = {"n": 0}
    for _ in range(4):
        dlfeval(count_calls, dlarray(1.5), counter)
    assert counter == {"n": 4}


def test_writes_into_a_list_argument_are_the_callers_on_every_call():
    acc = [0.0, 7.0]
    for _ in range(3):
        dlfeval(bump_first, 1.5, acc)
    assert acc == [4.5, 7.0]


def test_nested_containers_without_dlarrays_and_with_them():
    state = {"hist": [0.0], "w": 3.0}
    for _ in range(3):
        y, g = dlfeval(bump_nested, dlarray(2.0), state)
    assert state["hist"] == [3.0]
    assert float(extractdata(g)) == 3.0 and float(extractdata(y)) == 6.0
    params = {"w": dlarray(np.array([1.0, 2.0])), "cnt": {"n": 0}}   # holds a dlarray: a copy, as unwrap

    def f(x, p):
        p["cnt"]["n"] = p["cnt"]["n"] + 1
        y = np.sum(p["w"] * x)
        return y, dlgradient(y, x)
    for _ in range(3):
        y, g = dlfeval(f, dlarray(2.0), params)
    assert float(extractdata(g)) == 3.0 and params["cnt"] == {"n": 3}


# --- 3. np.errstate(...="raise") around dlfeval is honoured by specialised code ------------------

def overflows(x):
    return x * 1e200 * 1e200


def invalid_after_tanh(x):
    y = np.tanh(x) * 1e308 * 10.0
    return y - y


def underflows_grad(x):
    y = x * 1e-200 * 1e-200 + np.sin(x)
    return y, dlgradient(y, x)


def quiet_grad(x):
    y = x * np.exp(x) / (1.0 + x * x) + np.tanh(x) ** 2
    return y, dlgradient(y, x)


@pytest.mark.parametrize("fn,err", [(overflows, "over"), (invalid_after_tanh, "over"),
                                    (underflows_grad, "under")])
@pytest.mark.parametrize("scalars", [True, False])
def test_errstate_raise_is_honoured(fn, err, scalars):
    old = os.environ.get("SCT_SCALARS")
    os.environ["SCT_SCALARS"] = "1" if scalars else "0"
    try:
        with np.errstate(**{err: "raise"}):
            with pytest.raises(sct.EvaluationError, match="FloatingPointError"):
                dlfeval(fn, dlarray(np.array(0.7)))
        with np.errstate(all="ignore"):          # the same compiled code, quiet again
            out = dlfeval(fn, dlarray(np.array(0.7)))
        first = out[0] if isinstance(out, tuple) else out
        assert np.isinf(extractdata(first)) or np.isnan(extractdata(first)) or extractdata(first) == np.sin(0.7)
    finally:
        if old is None:
            os.environ.pop("SCT_SCALARS", None)
        else:
            os.environ["SCT_SCALARS"] = old


@pytest.mark.parametrize("v", [0.3, -1.2])
def test_errstate_raise_without_errors_gives_the_same_values(v):
    with np.errstate(all="raise"):
        y, g = run(quiet_grad, dlarray(np.array(v)))
    y0, g0 = run(quiet_grad, dlarray(np.array(v)), scalars=False)
    y1, g1 = run(quiet_grad, dlarray(np.array(v)))
    assert bits(y) == bits(y0) and bits(g) == bits(g0)
    assert abs(float(extractdata(y1)) - float(extractdata(y))) <= 4 * np.spacing(abs(float(extractdata(y))))
    num = numerical_gradient(lambda t: t * np.exp(t) / (1.0 + t * t) + np.tanh(t) ** 2, [np.float64(v)], 0)
    assert_close(extractdata(g), num, rtol=1e-6)


def test_writes_into_a_dict_argument_through_accelerate():
    counter = {"n": 0}
    fast = sct.accelerate(count_calls)
    for _ in range(3):
        fast(dlarray(1.5), counter)
        dlfeval(count_calls, dlarray(1.5), counter)
    assert counter == {"n": 6}
