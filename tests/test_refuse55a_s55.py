"""Everyday training code sct refused (refuse55a): each program is run under dlfeval for a few steps and checked
against plain Python (the function run with dlgradient answering None): the value, each gradient against central
differences of the plain program, and the caller's objects (types and values) after each step.

1. a batch-norm layer ``model.bn`` keeping ``self.running_mean = 0.9 * self.running_mean + 0.1 * mean`` of traced
   values (sct/dead_fields.py);
2. ``state.update(h=...)``, ``state.update({"h": ...})`` (sct/aliasing.py), ``del state[k]`` (sct/argument_deletes.py),
   ``state.setdefault``, ``state.pop(k, None)`` on the caller's dict;
3. ``log.losses.append(float(L))``, ``self.history.append(float(loss))`` of a dataclass (sct/logged_values.py);
4. an RNN's hidden state read from the state, carried through a loop and written back (sct/argument_writes.py
   kept_or_dl).
Where a program cannot be modelled, the refusal names the line and what to write instead."""
import copy
import types
from dataclasses import dataclass, field

import numpy as np
import pytest

from gradcheck import D, assert_close, numerical_gradient
from sct import dlarray, dlfeval, dlgradient, extractdata
from sct.errors import CompileError

RNG = np.random.default_rng(55)


def _plain(fn):
    """``fn`` run as plain Python, its dlgradient answering None."""
    return types.FunctionType(fn.__code__, {**fn.__globals__, "dlgradient": lambda *a, **k: None}, fn.__name__,
                              fn.__defaults__, fn.__closure__)


def _same(mine, python, path="obj"):
    """sct's caller object holds what plain Python's holds: types, keys, values."""
    assert type(mine) is type(python), (path, type(mine), type(python))
    if isinstance(python, dict):
        assert list(mine) == list(python), (path, list(mine), list(python))
        for k in python:
            _same(mine[k], python[k], f"{path}[{k!r}]")
    elif isinstance(python, (list, tuple)):
        assert len(mine) == len(python), path
        for i, (a, b) in enumerate(zip(mine, python)):
            _same(a, b, f"{path}[{i}]")
    elif isinstance(python, (dlarray, np.ndarray, np.generic, int, float)):
        assert_close(D(mine), D(python), rtol=1e-12, atol=1e-12, what=path)
    elif hasattr(python, "__dict__"):
        _same(vars(mine), vars(python), path + ".__dict__")
    else:
        assert mine == python, path


def _run(fn, make, inputs, wrt, steps=3):
    """Steps of ``fn(obj, *inputs(rng))`` (returning ``L, dlgradient(L, *inputs[wrt])``) under dlfeval and as plain
    Python on two objects ``make()`` builds: the same values, the gradients of the plain program, the same objects."""
    mine, python = make(), make()
    rng = np.random.default_rng(0)
    for _ in range(steps):
        values = [f(rng) for f in inputs]
        before = copy.deepcopy(python)
        L, g = dlfeval(fn, mine, *[dlarray(v) for v in values])
        expected = _plain(fn)(python, *[dlarray(v) for v in values])[0]
        assert_close(float(D(L)), float(D(expected)), rtol=1e-12, what="value")
        for got, k in zip(g if isinstance(g, tuple) else (g,), wrt):
            def plain_loss(*vs):
                return float(D(_plain(fn)(copy.deepcopy(before), *[dlarray(v) for v in vs])[0]))
            assert_close(D(got), numerical_gradient(plain_loss, values, k), rtol=1e-5, atol=1e-6, what=f"grad {k}")
        _same(mine, python)
    return mine


def _refused(fn, obj, *args, line: int, construct: str):
    with pytest.raises(CompileError) as info:
        dlfeval(fn, obj, *args)
    assert info.value.lineno == fn.__code__.co_firstlineno + line, str(info.value)
    assert construct in str(info.value), str(info.value)
    return str(info.value)


# --- 1. a batch-norm layer keeping running statistics of traced values -----------------------------------------

class BatchNorm:
    def __init__(self, n):
        self.gamma = dlarray(np.ones(n))
        self.beta = dlarray(np.zeros(n))
        self.running_mean = np.zeros(n)
        self.running_var = np.ones(n)
        self.num_batches = 0

    def __call__(self, x):
        mean = x.mean(axis=0)
        var = x.var(axis=0)
        self.running_mean = 0.9 * self.running_mean + 0.1 * mean
        self.running_var = 0.9 * self.running_var + 0.1 * var
        self.num_batches += 1
        return self.gamma * (x - mean) / np.sqrt(var + 1e-5) + self.beta


class ForwardNorm(BatchNorm):
    def forward(self, x):
        mean = np.mean(x, axis=0)
        self.running_mean = 0.9 * self.running_mean + 0.1 * mean
        self.num_batches = self.num_batches + 1
        return self.gamma * (x - mean)

    def __call__(self, x):
        return self.forward(x)


class Model:
    def __init__(self, norm=BatchNorm):
        self.W = RNG.standard_normal((3, 4))
        self.bn = norm(4)

    def forward(self, x):
        return self.bn(x @ self.W)


def model_loss(model, x, t):
    y = model.forward(x)
    loss = np.sum((y - t) ** 2)
    return loss, dlgradient(loss, x, t)


def two_passes_loss(model, x, t):
    y = x
    for _ in range(2):
        y = model.bn(y)
    loss = np.sum((y - t) ** 2)
    return loss, dlgradient(loss, x, t)


def read_back_loss(model, x, t):
    y = model.forward(x)
    loss = np.sum((y - t) ** 2) + np.sum(model.bn.running_mean)
    return loss, dlgradient(loss, x)


@pytest.mark.parametrize("norm", [BatchNorm, ForwardNorm])
def test_batch_norm_running_stats_of_a_layer_in_the_model(norm):
    model = Model(norm)
    made = _run(model_loss, lambda: copy.deepcopy(model), [lambda r: r.standard_normal((5, 3)),
                                                           lambda r: r.standard_normal((5, 4))], [0, 1])
    assert type(made.bn.running_mean) is dlarray and made.bn.num_batches == 3


def test_batch_norm_called_twice_in_a_loop():
    model = Model()
    _run(two_passes_loss, lambda: copy.deepcopy(model), [lambda r: r.standard_normal((5, 4)),
                                                         lambda r: r.standard_normal((5, 4))], [0, 1])


def layer_loss(bn, x, t):
    y = bn(x)
    loss = np.sum((y - t) ** 2) + np.sum(bn.running_mean * y) + bn.num_batches
    return loss, dlgradient(loss, x, t)


@pytest.mark.xfail(strict=True, reason="left open (s55 review): a field the function reads back keeps the code's "
    "value (an ndarray); made a dlarray before the store it lost its labels (test_redteam_dec13c) and refused a second "
    "derivative (test_redteam_dec1c)")
def test_batch_norm_given_itself_keeps_a_dlarray():
    # (the layer given to the function, its running mean read back: followed through the name, and stored as
    # Python stores it, a dlarray; was the code's ndarray)
    bn = _run(layer_loss, lambda: BatchNorm(4), [lambda r: r.standard_normal((5, 4)),
                                                 lambda r: r.standard_normal((5, 4))], [0, 1])
    assert type(bn.running_mean) is dlarray and type(bn.running_var) is dlarray


def test_batch_norm_running_mean_read_back_stays_refused():
    # (a read of the new running mean would lose its derivative: refused, naming the layer's line)
    text = _refused(read_back_loss, Model(), dlarray(RNG.standard_normal((5, 3))),
                    dlarray(RNG.standard_normal((5, 4))), line=-read_back_loss.__code__.co_firstlineno +
                    BatchNorm.__call__.__code__.co_firstlineno + 3, construct="running_mean")
    assert "Pass the state in and return it" in text


# --- 2. the caller's dict: update, setdefault, del, pop ------------------------------------------------------

def _state():
    return {"h": np.zeros(3), "tmp": 1.0, "c": np.ones(3)}


def update_keywords(state, x):
    h_new = np.tanh(x + state["h"])
    state.update(h=h_new)
    loss = np.sum(h_new ** 2)
    return loss, dlgradient(loss, x)


def update_dict(state, x):
    h_new = np.tanh(x + state["h"])
    state.update({"h": h_new})
    loss = np.sum(state["h"] ** 2)
    return loss, dlgradient(loss, x)


def update_two(state, x):
    state.update(h=np.tanh(x + state["h"]), c=state["c"] * x)
    loss = np.sum(state["h"] * state["c"])
    return loss, dlgradient(loss, x)


def update_in_loop(state, xs):
    for xt in xs:
        state.update({"h": np.tanh(xt + state["h"]), "tmp": state["tmp"] + 1})
    loss = np.sum(state["h"] ** 2)
    return loss, dlgradient(loss, xs)


def setdefault_step(state, x):
    state.setdefault("step", 0)
    state["step"] += 1
    loss = np.sum(x ** 2) * state["step"]
    return loss, dlgradient(loss, x)


def setdefault_and_traced(state, x):
    state.setdefault("step", 0)
    state.setdefault("h", x * 0.0)
    state["step"] = state["step"] + 1
    state["h"] = np.tanh(x + state["h"])
    loss = np.sum(state["h"] ** 2) * state["step"]
    return loss, dlgradient(loss, x)


def del_if_there(state, x):
    if "tmp" in state:
        del state["tmp"]
    loss = np.sum(np.sin(x) ** 2) + len(state)
    return loss, dlgradient(loss, x)


def pop_default(state, x):
    state.pop("tmp", None)
    loss = np.sum(np.sin(x) ** 2)
    return loss, dlgradient(loss, x)


def del_traced(state, x):
    state["tmp"] = x * 2
    loss = np.sum(state["tmp"] ** 2)
    del state["tmp"]
    return loss, dlgradient(loss, x)


def pop_traced(state, x):
    state["tmp"] = x * 2
    loss = np.sum(state["tmp"] ** 2)
    state.pop("tmp", None)
    return loss, dlgradient(loss, x)


@pytest.mark.parametrize("fn", [update_keywords, update_dict, update_two, setdefault_step, setdefault_and_traced,
                                del_if_there, pop_default], ids=lambda f: f.__name__)
def test_caller_dict_methods(fn):
    _run(fn, _state, [lambda r: r.standard_normal(3)], [0])


def test_update_in_a_loop():
    _run(update_in_loop, _state, [lambda r: r.standard_normal((4, 3))], [0])


@pytest.mark.parametrize("fn, line, construct", [(del_traced, 3, "del state[...]"),
                                                 (pop_traced, 3, "state.pop(...)")], ids=["del", "pop"])
def test_removing_a_traced_item_says_what_to_write(fn, line, construct):
    text = _refused(fn, _state(), dlarray(RNG.standard_normal(3)), line=line, construct=construct)
    assert "Keep the temporary value in a local name" in text and "after dlfeval returns" in text


# --- 3. a dataclass's list appended in the loss --------------------------------------------------------------

@dataclass
class Log:
    losses: list = field(default_factory=list)
    step: int = 0


@dataclass
class Net:
    W: np.ndarray = None
    history: list = field(default_factory=list)

    def loss(self, x):
        loss = np.sum((x @ self.W) ** 2)
        self.history.append(float(loss))
        return loss


def log_float(log, x):
    loss = np.sum(np.sin(x) ** 2)
    log.step += 1
    log.losses.append(float(loss))
    return loss, dlgradient(loss, x)


def log_float_then_count(log, x):
    loss = np.sum(np.sin(x) ** 2)
    log.losses.append(float(loss))
    log.step += 1
    return loss, dlgradient(loss, x)


def log_extracted(log, x):
    loss = np.sum(np.sin(x) ** 2)
    log.losses.append(extractdata(loss))
    return loss, dlgradient(loss, x)


def net_history(net, x):
    loss = net.loss(x)
    return loss, dlgradient(loss, x)


def log_read_back(log, x):
    loss = np.sum(np.sin(x) ** 2)
    log.losses.append(float(loss))
    total = loss + log.losses[-1]
    return total, dlgradient(total, x)


@pytest.mark.parametrize("fn", [log_float, log_extracted], ids=lambda f: f.__name__)
def test_dataclass_log_of_losses(fn):
    log = _run(fn, Log, [lambda r: r.standard_normal(3)], [0])
    assert len(log.losses) == 3 and all(type(v) is type(log.losses[0]) for v in log.losses)


def test_dataclass_method_keeping_history():
    net = _run(net_history, lambda: Net(W=np.arange(6.0).reshape(3, 2)), [lambda r: r.standard_normal(3)], [0])
    assert len(net.history) == 3 and all(type(v) is float for v in net.history)


def test_log_read_back_stays_refused():
    _refused(log_read_back, Log(), dlarray(RNG.standard_normal(3)), line=2, construct="log.losses")


def test_log_then_more_changes_run_as_python():
    # (float(loss) logged with a counter of the log changed after it: Python's number and count, no derivative
    # lost (sct/log_numbers.py, log57); was refused, advising extractdata)
    x = RNG.standard_normal(3)
    log = Log()
    loss, g = dlfeval(log_float_then_count, log, dlarray(x))
    assert log.step == 1 and len(log.losses) == 1 and type(log.losses[0]) is float
    assert np.isclose(log.losses[0], np.sum(np.sin(x) ** 2))
    assert np.allclose(np.asarray(g._data), 2 * np.sin(x) * np.cos(x))


# --- 4. an RNN's hidden state kept in the state --------------------------------------------------------------

W_IN = RNG.standard_normal((3, 3)) * 0.5
U_REC = RNG.standard_normal((3, 3)) * 0.5


def _rnn_state():
    return {"h": np.zeros(3), "t": 0}


def rnn_written_back(state, xs):
    h = state["h"]
    for xt in xs:
        h = np.tanh(xt @ W_IN + h @ U_REC)
        state["t"] += 1
    state["h"] = h
    loss = np.sum(h ** 2) + np.sum(xs)
    return loss, dlgradient(loss, xs)


def rnn_extracted(state, xs):
    h = state["h"]
    for xt in xs:
        h = np.tanh(xt @ W_IN + h @ U_REC)
    state["h"] = extractdata(h)
    state["t"] += 1
    loss = np.sum(h ** 2)
    return loss, dlgradient(loss, xs)


def cell(h, xt):
    return np.tanh(xt @ W_IN + h @ U_REC)


def rnn_by_items(state, x):
    for t in range(x.shape[0]):
        state["h"] = cell(state["h"], x[t])
        state["t"] += 1
    loss = np.sum(state["h"] ** 2)
    return loss, dlgradient(loss, x)


@pytest.mark.parametrize("fn", [rnn_written_back, rnn_extracted, rnn_by_items], ids=lambda f: f.__name__)
def test_rnn_state_carried_and_written_back(fn):
    state = _run(fn, _rnn_state, [lambda r: r.standard_normal((4, 3))], [0])
    assert state["t"] == 12 if fn is not rnn_extracted else state["t"] == 3


def test_rnn_no_step_keeps_the_callers_array():
    # no pass of the loop: Python stores the caller's array itself back
    state = _rnn_state()
    kept = state["h"]
    dlfeval(rnn_written_back, state, dlarray(np.zeros((0, 3))))
    assert state["h"] is kept
    _run(rnn_written_back, _rnn_state, [lambda r: np.zeros((0, 3))], [0], steps=1)


def test_setdefault_of_a_traced_value_where_the_key_is_missing():
    # (the first step sets "h" and "step" from the defaults, the later ones keep them)
    state = _run(setdefault_and_traced, lambda: {"tmp": 1.0}, [lambda r: r.standard_normal(3)], [0])
    assert state["step"] == 3 and type(state["h"]) is dlarray
