"""Stop 43 (mine): fixes found by my own probes, each with its program."""
from __future__ import annotations

import numpy as np
import pytest

import sct
from sct import CompileError, dlarray, dlfeval, dlgradient

from gradcheck import D, numerical_gradient

LR = 0.1
STEP = None          # rebound by a test: the helper the loop calls
GL = []


def loss_fn(p, x, y):
    pred = np.tanh(x @ p["w"] + p["b"])
    return np.mean((pred - y) ** 2)


def step(p, x, y):
    loss = loss_fn(p, x, y)
    g = dlgradient(loss, p)
    return {k: p[k] - LR * g[k] for k in p}


def np_step(w, b, x, y):
    pred = np.tanh(x @ w + b)
    dz = 2 * (pred - y) / pred.size * (1 - pred ** 2)
    return w - LR * (x.T @ dz), b - LR * dz.sum(0)


def np_outer(w, b, x, y):
    for _ in range(3):
        w, b = np_step(w, b, x, y)
    return np.mean((np.tanh(x @ w + b) - y) ** 2)


def data():
    rng = np.random.default_rng(0)
    return (rng.standard_normal((3, 2)), rng.standard_normal(2), rng.standard_normal((5, 3)),
            rng.standard_normal((5, 2)))


def outer_through_steps(p0, x, y):
    p = p0
    for _ in range(3):
        p = step(p, x, y)
    final = loss_fn(p, x, y)
    return final, dlgradient(final, p0, x)


def training_steps(p, x, y):
    for _ in range(3):
        p = step(p, x, y)
    return loss_fn(p, x, y), p


@pytest.mark.parametrize("accelerated", [False, True])
def test_helper_step_loop_with_dlarray_data(accelerated):
    """README's ``p = step(p, x, y)`` (dlgradient inside ``step``) in a loop with ``x`` a dlarray was
    refused ("passes for 'x' a value computed from the one it passes for 'p'"): a call of the
    user's code was taken to return all its arguments as they are, so ``p`` held ``x``.  What
    ``step`` returns is read off its code now (a new value from ``p`` and its gradient)."""
    w, b, x, y = data()
    fun = sct.accelerate(outer_through_steps) if accelerated else outer_through_steps
    val, (gp, gx) = dlfeval(fun, {"w": dlarray(w), "b": dlarray(b)}, dlarray(x), y)
    assert abs(float(D(val)) - np_outer(w, b, x, y)) < 1e-12
    for got, index in ((gp["w"], 0), (gp["b"], 1), (gx, 2)):
        np.testing.assert_allclose(D(got), numerical_gradient(np_outer, [w, b, x, y], index), atol=1e-7)


def test_training_steps_in_helper_value():
    w, b, x, y = data()
    loss, p = dlfeval(training_steps, {"w": dlarray(w), "b": dlarray(b)}, dlarray(x), y)
    assert abs(float(D(loss)) - np_outer(w, b, x, y)) < 1e-12
    w3, b3 = w, b
    for _ in range(3):
        w3, b3 = np_step(w3, b3, x, y)
    np.testing.assert_allclose(D(p["w"]), w3, rtol=1e-12)
    np.testing.assert_allclose(D(p["b"]), b3, rtol=1e-12)


def s_holdx(p, x, y):
    g = dlgradient(loss_fn(p, x, y), p)
    return {"w": p["w"] - LR * g["w"], "b": p["b"] - LR * g["b"], "x": x}


def s_mut(p, x, y):
    g = dlgradient(loss_fn(p, x, y), p)
    q = {k: p[k] - LR * g[k] for k in p}
    q["x"] = x
    return q


def s_alias(p, x, y):
    g = dlgradient(loss_fn(p, x, y), p)
    z = x
    return {"w": p["w"] - LR * g["w"], "b": p["b"] - LR * g["b"], "z": z}


def s_dict(p, x, y):
    g = dlgradient(loss_fn(p, x, y), p)
    return dict(w=p["w"] - LR * g["w"], b=p["b"] - LR * g["b"], z=x)


def s_list(p, x, y):
    g = dlgradient(loss_fn(p, x, y), p)
    out = []
    out.append(x)
    return {"w": p["w"] - LR * g["w"], "b": p["b"] - LR * g["b"], "z": out}


def s_walrus(p, x, y):
    g = dlgradient(loss_fn(p, x, y), p)
    return {"w": p["w"] - LR * g["w"], "b": p["b"] - LR * g["b"], "z": (z := x), "zz": z}


def s_global(p, x, y):
    g = dlgradient(loss_fn(p, x, y), p)
    return {"w": p["w"] - LR * g["w"], "b": p["b"] - LR * g["b"], "z": GL}


def s_tuple(p, x, y):
    g = dlgradient(loss_fn(p, x, y), p)
    return {k: p[k] - LR * g[k] for k in p}, x


def loop_of_step(p0, x, y):
    p = p0
    for _ in range(2):
        p = STEP(p, x, y)
    v = loss_fn({"w": p["w"], "b": p["b"]}, x, y)
    return v, dlgradient(v, p0["w"], x)


def loop_of_tuple_step(p0, x, y):
    p, x2 = s_tuple(p0, x, y)
    p, x3 = s_tuple(p, x2, y)
    v = loss_fn(p, x3, y)
    return v, dlgradient(v, p0["w"], x)


@pytest.mark.parametrize("helper", [s_holdx, s_mut, s_alias, s_dict, s_list, s_walrus, s_global, None],
                         ids=lambda h: getattr(h, "__name__", "tuple"))
def test_helper_returning_its_data_still_refused(helper):
    """A helper whose value may hold ``x`` as it is (in a dict, through an alias, a written item, a
    list, ``:=``, a global container, a tuple unpacked) still makes the next call's ``p`` hold ``x``:
    refused, as MATLAB's trace would differentiate through that ``x`` too."""
    global STEP
    w, b, x, y = data()
    if helper is s_global:
        GL[:] = [x]
    STEP = helper
    fun = loop_of_step if helper is not None else loop_of_tuple_step
    with pytest.raises(CompileError, match="passes for 'x' a value computed from the one it passes for 'p'"):
        dlfeval(fun, {"w": dlarray(w), "b": dlarray(b)}, dlarray(x), y)


def test_helper_rebound_to_one_holding_data_is_refused():
    """The summary is of the helper the caller's guards fix: a notebook rebinding ``STEP`` to a
    helper that returns ``x`` compiles the caller again, and that is refused."""
    global STEP
    w, b, x, y = data()
    p = {"w": dlarray(w), "b": dlarray(b)}
    STEP = step
    v, (gw, gx) = dlfeval(loop_of_step, p, dlarray(x), y)

    def two_steps(w_, x_):
        b_ = b
        for _ in range(2):
            w_, b_ = np_step(w_, b_, x_, y)
        return np.mean((np.tanh(x_ @ w_ + b_) - y) ** 2)
    np.testing.assert_allclose(D(gw), numerical_gradient(two_steps, [w, x], 0), atol=1e-7)
    np.testing.assert_allclose(D(gx), numerical_gradient(two_steps, [w, x], 1), atol=1e-7)
    STEP = s_holdx
    with pytest.raises(CompileError, match="passes for 'x'"):
        dlfeval(loop_of_step, p, dlarray(x), y)
