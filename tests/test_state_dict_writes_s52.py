"""Writes into a dict dlfeval was given (MATLAB's "Train Network Using Model Function": the model function
stores batchnorm's statistics in its state, ``state["bn"]["TrainedMean"] = m``): each write is a new version
of the dict inside the generated code (its derivative followed as for a dict the function made) and is made
into the caller's dict too (rt.setitem_through), which then holds what plain Python leaves there (a dlarray
where Python has one); the dict returned is the caller's dict itself.

Each program is checked against plain Python: values, the caller's dict after each call (under dlfeval and
over three calls of a dlaccelerate'd function), and the gradient against central differences of the plain
program (redfix51b's F4 programs: writes under if/else, for and while, nested writes read back, which lost
the derivative through the item in mat51's version).  The forms sct cannot follow are refused."""
import copy
import types

import numpy as np
import pytest

import sct
from gradcheck import D
from sct import (batchnorm, dims, dlaccelerate, dlarray, dlfeval, dlgradient, extractdata, fullyconnect, relu)


def _plain(fn):
    """``fn`` run as plain Python, its dlgradient answering None."""
    return types.FunctionType(fn.__code__, {**fn.__globals__, "dlgradient": lambda *a, **k: None}, fn.__name__,
                              fn.__defaults__, fn.__closure__)


def _fd(f, x, h=1e-6):
    g = np.zeros_like(x)
    for i in range(x.size):
        e = np.zeros_like(x)
        e.flat[i] = h
        g.flat[i] = (f(x + e) - f(x - e)) / (2 * h)
    return g


def _same_dict(mine, python):
    """The caller's dict after sct's call holds what plain Python's holds: keys, types, values, formats."""
    assert set(mine) == set(python)
    for k, v in python.items():
        assert type(mine[k]) is type(v), (k, type(mine[k]), type(v))
        if isinstance(v, dict):
            _same_dict(mine[k], v)
        elif isinstance(v, dlarray):
            assert dims(mine[k]) == dims(v)
            np.testing.assert_allclose(D(mine[k]), D(v), rtol=1e-12, atol=1e-12)
        else:
            np.testing.assert_allclose(np.asarray(mine[k]), np.asarray(v), rtol=1e-12, atol=1e-12)


# --- MATLAB's model function: batchnorm's statistics stored in the state dict ---------------------------

def model(params, X, state):
    Y = fullyconnect(X, params["fc"]["Weights"], params["fc"]["Bias"])
    Y, m, v = batchnorm(Y, params["bn"]["Offset"], params["bn"]["Scale"], state["bn"]["TrainedMean"],
                        state["bn"]["TrainedVariance"])
    state["bn"]["TrainedMean"] = m
    state["bn"]["TrainedVariance"] = v
    return relu(Y), state


def loss_fn(params, X, T, state):
    Y, state = model(params, X, state)
    loss = np.sum((Y - T) ** 2)
    return loss, dlgradient(loss, params), state


def model_flagged(params, X, doTraining, state):      # MATLAB's example: a training flag, if/else
    Y = fullyconnect(X, params["fc"]["Weights"], params["fc"]["Bias"])
    if doTraining:
        Y, m, v = batchnorm(Y, params["bn"]["Offset"], params["bn"]["Scale"], state["bn"]["TrainedMean"],
                            state["bn"]["TrainedVariance"])
        state["bn"]["TrainedMean"] = m
        state["bn"]["TrainedVariance"] = v
    else:
        Y = batchnorm(Y, params["bn"]["Offset"], params["bn"]["Scale"], state["bn"]["TrainedMean"],
                      state["bn"]["TrainedVariance"])
    return relu(Y), state


def loss_flagged(params, X, T, state):
    Y, state = model_flagged(params, X, True, state)
    loss = np.sum((Y - T) ** 2)
    return loss, dlgradient(loss, params), state


def _reference(W, b, offset, scale, x, t, mean, var, formatted):
    """The loss and the new statistics in plain numpy (MATLAB's batchnorm: decay 0.1, unbiased variance)."""
    if formatted:           # X is C x B: Y = W X + b, statistics over the batch (second) axis
        Y = W @ x + b[:, None]
        axis, shape = 1, (-1, 1)
    else:                   # X is B x C (sct's unformatted layout): Y = X W' + b, statistics over axis 0
        Y = x @ W.T + b
        axis, shape = 0, (1, -1)
    mu = Y.mean(axis=axis)
    sig = ((Y - mu.reshape(shape)) ** 2).mean(axis=axis)
    Yn = scale.reshape(shape) * (Y - mu.reshape(shape)) / np.sqrt(sig.reshape(shape) + 1e-5) + offset.reshape(shape)
    loss = np.sum((np.maximum(Yn, 0) - t) ** 2)
    n = Y.shape[axis]
    return loss, 0.1 * mu + 0.9 * mean, 0.1 * n / (n - 1) * sig + 0.9 * var


@pytest.mark.parametrize("formatted", [True, False], ids=["CB", "unformatted"])
@pytest.mark.parametrize("fn", [loss_fn, loss_flagged])
@pytest.mark.parametrize("runner", ["dlfeval", "dlaccelerate"])
def test_matlab_model_function_three_training_steps(fn, formatted, runner):
    rng = np.random.default_rng(3)
    W, b = rng.standard_normal((4, 3)), rng.standard_normal(4) * 0.1
    offset, scale = rng.standard_normal(4) * 0.1, 1.0 + rng.standard_normal(4) * 0.1
    params = {"fc": {"Weights": dlarray(W), "Bias": dlarray(b)},
              "bn": {"Offset": dlarray(offset), "Scale": dlarray(scale)}}
    state = {"bn": {"TrainedMean": np.zeros(4), "TrainedVariance": np.ones(4)}}
    inner = state["bn"]
    mean, var = np.zeros(4), np.ones(4)
    call = dlaccelerate(fn) if runner == "dlaccelerate" else (lambda *a: dlfeval(fn, *a))
    for step in range(3):
        x = rng.standard_normal((3, 6) if formatted else (6, 3))
        t = rng.standard_normal((4, 6) if formatted else (6, 4))
        X = dlarray(x, "CB") if formatted else dlarray(x)
        loss, grads, out = call(params, X, t, state)
        ref, new_mean, new_var = _reference(W, b, offset, scale, x, t, mean, var, formatted)
        np.testing.assert_allclose(float(D(loss)), ref, rtol=1e-10)
        for name, value, at in (("Weights", W, ("fc", "Weights")), ("Bias", b, ("fc", "Bias")),
                                ("Offset", offset, ("bn", "Offset")), ("Scale", scale, ("bn", "Scale"))):
            def f(v, name=name):
                args = dict(W=W, b=b, offset=offset, scale=scale)
                args[{"Weights": "W", "Bias": "b", "Offset": "offset", "Scale": "scale"}[name]] = v
                return _reference(args["W"], args["b"], args["offset"], args["scale"], x, t, mean, var,
                                  formatted)[0]
            np.testing.assert_allclose(D(grads[at[0]][at[1]]), _fd(f, value.copy()), rtol=1e-5, atol=1e-6)
        # the caller's dict itself changed, as in Python: returned, its inner dict kept, dlarrays in it
        assert out is state and state["bn"] is inner
        for key, want in (("TrainedMean", new_mean), ("TrainedVariance", new_var)):
            assert type(state["bn"][key]) is dlarray and dims(state["bn"][key]) == ""
            np.testing.assert_allclose(D(state["bn"][key]), want, rtol=1e-12)
        mean, var = new_mean, new_var
        W, b = W - 0.1 * D(grads["fc"]["Weights"]), b - 0.1 * D(grads["fc"]["Bias"])     # an SGD step
        params["fc"] = {"Weights": dlarray(W), "Bias": dlarray(b)}


def test_matlab_model_function_state_as_plain_python_leaves_it():
    rng = np.random.default_rng(0)
    params = {"fc": {"Weights": dlarray(rng.standard_normal((4, 3))), "Bias": dlarray(np.zeros(4))},
              "bn": {"Offset": dlarray(np.zeros(4)), "Scale": dlarray(np.ones(4))}}
    x, t = rng.standard_normal((3, 5)), rng.standard_normal((4, 5))
    mine = {"bn": {"TrainedMean": np.zeros(4), "TrainedVariance": np.ones(4)}}
    python = copy.deepcopy(mine)
    dlfeval(loss_fn, params, dlarray(x, "CB"), t, mine)
    _plain(loss_fn)(params, dlarray(x, "CB"), t, python)
    _same_dict(mine, python)


# --- redfix51b's F4 programs (and more forms): exact, under dlfeval and dlaccelerate --------------------

def branch(d, x, flag):
    if flag:
        d["y"] = x * 2
    loss = np.sum(d["y"] * x)
    return loss, dlgradient(loss, x)


def ifelse(d, x):
    if np.sum(x) > 0:
        d["y"] = x * 2
    else:
        d["y"] = x * 5
    loss = np.sum(d["y"] * x)
    return loss, dlgradient(loss, x)


def loop(d, x, n):
    for i in range(n):
        d["y"] = x * 2 + d["y"] * 0.5
    loss = np.sum(d["y"] * x)
    return loss, dlgradient(loss, x)


def loop_if(d, x):
    for i in range(3):
        if i == 1:
            d["y"] = x * 2
    loss = np.sum(d["y"] * x)
    return loss, dlgradient(loss, x)


def while_write(d, x):
    i = 0
    while i < 2:
        d["y"] = x * (i + 1)
        i += 1
    loss = np.sum(d["y"] * x)
    return loss, dlgradient(loss, x)


def nested_branch(s, x, flag):
    if flag:
        s["bn"]["m"] = x * 3
    loss = np.sum(s["bn"]["m"] * x)
    return loss, dlgradient(loss, x)


def nested_straight(s, x):
    s["bn"]["m"] = x * 3
    loss = np.sum(s["bn"]["m"] * x)
    return loss, dlgradient(loss, x)


def nested_read_by_name(s, x):
    s["bn"]["m"] = x * 3
    bn = s["bn"]
    loss = np.sum(bn["m"] * x)
    return loss, dlgradient(loss, x)


def nested_written_by_name(s, x):
    bn = s["bn"]
    bn["m"] = x * 3
    loss = np.sum(s["bn"]["m"] * x)
    return loss, dlgradient(loss, x)


def nested_key_name(s, x):
    k = "bn"
    s[k]["m"] = x * 3
    loss = np.sum(s["bn"]["m"] * x)
    return loss, dlgradient(loss, x)


def nested_key_loop(s, x):
    for k in ("bn", "bn2"):
        s[k]["m"] = x * 3
    loss = np.sum(s["bn"]["m"] * s["bn2"]["m"])
    return loss, dlgradient(loss, x)


def nested_twice(s, x):
    s["bn"]["m"] = x * 3
    s["bn"]["m"] = s["bn"]["m"] * x
    loss = np.sum(s["bn"]["m"])
    return loss, dlgradient(loss, x)


def loop_self(d, x):
    for i in range(3):
        d["y"] = d["y"] * x
    loss = np.sum(d["y"])
    return loss, dlgradient(loss, x)


def ifelse_self(d, x):
    if np.sum(x) > 0:
        d["y"] = d["y"] * x
    else:
        d["y"] = d["y"] * x * 3
    loss = np.sum(d["y"])
    return loss, dlgradient(loss, x)


def alias_read(d, x):
    e = d
    d["y"] = x * 2
    loss = np.sum(e["y"] * x)
    return loss, dlgradient(loss, x)


def key_loop(d, x):
    for k in d:
        d[k] = d[k] * x
    loss = np.sum(d["a"] + d["b"])
    return loss, dlgradient(loss, x)


def counter(d, x):
    d["n"] = d["n"] + 1
    d["y"] = x * d["n"]
    loss = np.sum(d["y"] * x)
    return loss, dlgradient(loss, x)


def helper_reads(d):
    return np.sum(d["y"])


def helper_reading(d, x):
    d["y"] = x * 2
    loss = helper_reads(d) * np.sum(x)
    return loss, dlgradient(loss, x)


def constants_stored(d, x):
    d["y"] = x * 2
    d["c"] = np.zeros(2)
    d["k"] = 3
    d["p"] = np.round(extractdata(x)) + d["q"]
    loss = np.sum(d["y"] * x)
    return loss, dlgradient(loss, x)


def model_step(p, x, state, training):
    if training:
        state["m"] = x * p["a"]
    return np.sum(state["m"] * x), state


def helper_with_flag(x, state):       # the write in a helper (read in place): redfix51b R2
    a = {"a": x * 1.0}
    L, state = model_step(a, x, state, True)
    return L, dlgradient(L, x)


CASES = [
    (branch, lambda: {"y": np.ones(3)}, (True,)),
    (branch, lambda: {"y": np.ones(3)}, (False,)),
    (branch, lambda: {"y": np.ones(3), "w": dlarray(np.ones(2))}, (True,)),      # a dict holding a dlarray
    (branch, lambda: {"y": 1.0}, (True,)),
    (ifelse, lambda: {"y": np.ones(3)}, ()),
    (loop, lambda: {"y": np.ones(3)}, (2,)),
    (loop, lambda: {"y": np.ones(3)}, (0,)),
    (loop_if, lambda: {"y": np.ones(3)}, ()),
    (while_write, lambda: {"y": np.ones(3)}, ()),
    (nested_branch, lambda: {"bn": {"m": np.ones(3)}}, (True,)),
    (nested_straight, lambda: {"bn": {"m": np.ones(3)}}, ()),
    (nested_read_by_name, lambda: {"bn": {"m": np.ones(3)}}, ()),
    (nested_written_by_name, lambda: {"bn": {"m": np.ones(3)}}, ()),
    (nested_key_name, lambda: {"bn": {"m": np.ones(3)}}, ()),
    (nested_key_loop, lambda: {"bn": {"m": np.ones(3)}, "bn2": {"m": np.ones(3)}}, ()),
    (nested_twice, lambda: {"bn": {"m": np.ones(3)}}, ()),
    (loop_self, lambda: {"y": np.ones(3)}, ()),
    (ifelse_self, lambda: {"y": np.ones(3)}, ()),
    (alias_read, lambda: {"y": np.ones(3)}, ()),
    (key_loop, lambda: {"a": np.ones(3), "b": 2 * np.ones(3)}, ()),
    (counter, lambda: {"n": 1, "y": 0.0}, ()),
    (helper_reading, lambda: {"y": np.ones(3)}, ()),
    (constants_stored, lambda: {"y": np.ones(3), "q": np.ones(3)}, ()),
]


@pytest.mark.parametrize("runner", ["dlfeval", "dlaccelerate"])
@pytest.mark.parametrize("fn, make, extra", CASES, ids=lambda v: getattr(v, "__name__", None) or str(v))
def test_writes_into_dict_arguments_exact(fn, make, extra, runner):
    x0 = np.array([0.5, -1.0, 2.0])
    plain = _plain(fn)
    mine = make()
    python = copy.deepcopy(mine)
    inner = {k: v for k, v in mine.items() if isinstance(v, dict)}
    call = dlaccelerate(fn) if runner == "dlaccelerate" else (lambda *a: dlfeval(fn, *a))
    for step in range(3 if runner == "dlaccelerate" else 1):
        before = copy.deepcopy(python)
        want = float(D(plain(copy.deepcopy(before), x0, *extra)[0]))
        want_g = _fd(lambda v: float(D(plain(copy.deepcopy(before), v, *extra)[0])), x0)
        plain(python, dlarray(x0), *extra)         # plain Python's dict after this call
        loss, g = call(mine, dlarray(x0), *extra)
        np.testing.assert_allclose(float(D(loss)), want, rtol=1e-12)
        np.testing.assert_allclose(D(g), want_g, rtol=1e-6, atol=1e-6)
        _same_dict(mine, python)
        assert all(mine[k] is v for k, v in inner.items())


def test_helper_with_training_flag_exact():
    x0 = np.array([0.5, -1.0, 2.0])
    state = {"m": np.ones(3)}
    loss, g = dlfeval(helper_with_flag, dlarray(x0), state)
    np.testing.assert_allclose(float(D(loss)), np.sum(x0 ** 3))
    np.testing.assert_allclose(D(g), 3 * x0 ** 2)
    assert type(state["m"]) is dlarray
    np.testing.assert_allclose(D(state["m"]), x0 ** 2)


def returns_it(d, x):
    d["y"] = x * 2
    d["c"] = np.zeros(2)
    return np.sum(x), d


@pytest.mark.parametrize("given", [{"y": 0.0}, {"y": 0.0, "w": dlarray(np.ones(2))}], ids=["plain", "holding"])
def test_caller_dict_types_and_identity(given):
    # redfix51b M1: the caller's dict holds Python's types (y a dlarray with x's labels, c an ndarray), and the
    # dict returned is the caller's own
    w = given.get("w")
    _, out = dlfeval(returns_it, given, dlarray(np.array([1.0, 2.0]), "CB"))
    assert out is given
    assert type(given["y"]) is dlarray and dims(given["y"]) == "CB"
    np.testing.assert_allclose(D(given["y"]), [[2.0], [4.0]])
    assert type(given["c"]) is np.ndarray
    assert given.get("w") is w


# --- a parameter's dict rebound in a branch: its item is the new value's (was a wrong gradient on main) ---

def copy_in_branch(d, x, flag):
    if flag:
        d = dict(d)
        d["y"] = x * 2
    loss = np.sum(d["y"] * x)
    return loss, dlgradient(loss, x)


def test_item_of_a_parameter_rebound_in_a_branch():
    # the kinds of a parameter's items held after functionalize's d = rt.setitem(d, "y", v) (written_keys did
    # not count it): d["y"] read as the argument's plain array, no derivative through it (2x where 4x)
    x0 = np.array([0.5, -1.0, 2.0])
    d = {"y": np.ones(3)}
    loss, g = dlfeval(copy_in_branch, d, dlarray(x0), True)
    np.testing.assert_allclose(D(g), 4 * x0)
    np.testing.assert_array_equal(d["y"], np.ones(3))


# --- refused: what sct cannot follow, at the user's line ----------------------------------------------

def _line(fn, text):
    import inspect
    lines, first = inspect.getsourcelines(fn)
    return first + next(i for i, line in enumerate(lines) if text in line)


def second_order(d, x):
    d["y"] = x * 2
    loss = np.sum(d["y"] * x * x)
    g = dlgradient(loss, x, EnableHigherDerivatives=True)
    L2 = np.sum(g * g)
    return L2, dlgradient(L2, x)


def stores_a_dict(d, x):
    d["bn"] = {"m": x * 2}
    loss = np.sum(d["bn"]["m"] * x)
    return loss, dlgradient(loss, x)


def stores_unknown(d, x):
    d["y"] = x * 2
    # (np.where(x > 0, 1.0, 0.0) alone is a dlarray in Python, stored as one since red54u W2; an ndarray here)
    d["c"] = np.where(x > 0, 1.0, 0.0) if x.shape[0] > 5 else np.ones(3)
    loss = np.sum(x * 2)
    return loss, dlgradient(loss, x)


GLOBAL_STATE = {"y": np.ones(3)}


def through_a_global(d, x):
    d["y"] = x * 2
    loss = np.sum(GLOBAL_STATE["y"] * x)
    return loss, dlgradient(loss, x)


def in_a_list(s, x):
    s["l"][0]["m"] = x * 2
    loss = np.sum(s["l"][0]["m"] * x)
    return loss, dlgradient(loss, x)


def twice_held(s, p, x):
    s["bn"]["m"] = x * 2
    loss = np.sum(p["bn"]["m"] * x)
    return loss, dlgradient(loss, x)


def stored_then_changed(s, x):
    h = x * 2
    s["h"] = h
    h[0] = 5.0
    loss = np.sum(h * x)
    return loss, dlgradient(loss, x)


def untraced_stored_then_changed(s, x):        # (no traced write: in place, as Python)
    h = np.zeros(3)
    s["h"] = h
    h[0] = 5.0
    return np.sum(x), dlgradient(np.sum(x), x)


def test_untraced_write_kept_in_place():
    s = {"h": 0.0}
    dlfeval(untraced_stored_then_changed, s, dlarray(np.array([0.5, -1.0, 2.0])))
    np.testing.assert_array_equal(s["h"], [5.0, 0.0, 0.0])


@pytest.mark.parametrize("fn, args, text, match", [
    (stored_then_changed, lambda: ({"h": 0.0},), "h[0] = 5.0", "in place"),
    (second_order, lambda: ({"y": np.ones(3)},), 'd["y"] = x * 2', "differentiates a gradient"),
    (stores_a_dict, lambda: ({"bn": {"m": np.ones(3)}},), 'd["bn"] = {', "not a dict stored whole"),
    (stores_unknown, lambda: ({"c": np.ones(3), "y": 0.0},), 'd["c"] = np.where', "not known here"),
    (through_a_global, lambda: (GLOBAL_STATE,), 'd["y"] = x * 2', "one object"),
    (in_a_list, lambda: ({"l": [{"m": np.ones(3)}]},), 's["l"][0]["m"]', "did not create"),
    (twice_held, lambda: ({"bn": {"m": np.ones(3)}},), 's["bn"]["m"] = x * 2', "did not create"),
], ids=lambda v: getattr(v, "__name__", None) or "")
def test_refused_at_the_line(fn, args, text, match):
    given = args()
    if fn is twice_held:
        given = (given[0], given[0])
    before = copy.deepcopy(given)
    with pytest.raises(sct.SctError, match=rf"line {_line(fn, text)}:.*{match}"):
        dlfeval(fn, *given, dlarray(np.array([0.5, -1.0, 2.0])))
    if fn in (through_a_global, in_a_list, twice_held):       # refused before any write
        assert all(np.array_equal(np.asarray(D(a["y"] if "y" in a else 0)), np.asarray(D(b["y"] if "y" in b else 0)))
                   for a, b in zip(given, before))
