"""dict57 (red57a W7, F1, F2, F3): writes into a caller's dict and into outside counters and logs.

W7: a dict argument whose item writes sct makes into the caller's dict as new values (rt.setitem_through, on a
copy) and that is changed in place another way too (``lr = cfg.pop("lr")``, ``cfg.setdefault`` used as a
value, a helper popping it): the change reached the copy only, so the caller's dict differed from Python's.
Refused at the change now.  F1: ``METRICS["n"] += 1`` / ``cnt[0] += 1`` after a differentiated operation ran
in place as Python runs it (was refused).  F2: a logging helper and ``METRICS["loss"].append(float(L))`` are
logs (were refused).  F3: an Adam step counting in ``st["t"]`` (was refused when it ran, half written).
Values are checked against plain Python, gradients against central differences or closed forms.
"""
import copy
import inspect

import numpy as np
import pytest

import sct
from sct import dlarray, dlfeval, dlgradient

from gradcheck import assert_close, numerical_gradient


def _d(v):
    return np.asarray(v._data if isinstance(v, sct.dlarray) else v, dtype=float)


def _line(fn, marker: str) -> int:
    lines, start = inspect.getsourcelines(fn)
    return start + next(i for i, text in enumerate(lines) if marker in text)


def _refused(fn, marker: str, construct: str, *args):
    with pytest.raises(sct.CompileError) as info:
        dlfeval(fn, *args)
    message = str(info.value)
    assert f"{__file__}, line {_line(fn, marker)}" in message, message
    assert construct in message, message
    return message


# --- W7: a caller's dict changed in place beside writes sct makes through ---------------------------------------

def _sd_loss(w, cfg):
    lr = cfg.setdefault("lr", 0.1)      # W7 setdefault
    y = np.sum(w ** 2) * lr
    cfg["last"] = 1.0
    return y, dlgradient(y, w)


def _pop_loss(w, cfg):
    lr = cfg.pop("lr")                  # W7 pop
    y = np.sum(w ** 2) * lr
    cfg["last"] = 1.0
    return y, dlgradient(y, w)


def _take_lr(c):
    return c.pop("lr")


def _helper_pop_loss(w, cfg):
    lr = _take_lr(cfg)                  # W7 helper
    y = np.sum(w ** 2) * lr
    cfg["last"] = 1.0
    return y, dlgradient(y, w)


@pytest.mark.parametrize("fn, start, marker, construct", [
    (_sd_loss, {}, "W7 setdefault", "cfg.setdefault(...)"),
    (_pop_loss, {"lr": 0.2}, "W7 pop", "cfg.pop(...)"),
    (_helper_pop_loss, {"lr": 0.2}, "W7 helper", "_take_lr(...)"),
], ids=["setdefault", "pop", "helper"])
def test_changes_beside_writes_through_are_refused_at_their_line(fn, start, marker, construct):
    cfg = dict(start)
    message = _refused(fn, marker, construct, dlarray(np.array([1.0, 2.0])), cfg)
    assert "caller's dict would miss it" in message
    assert cfg == start                 # (refused before the run: nothing written)


def test_setdefault_statement_and_reads_still_agree_with_python():
    def loss(w, cfg):
        cfg.setdefault("zz", 0.1)
        lr = cfg["lr"]
        y = np.sum(w ** 2) * lr
        cfg["last"] = y * 0.0 + 1.0
        return y, dlgradient(y, w)
    cfg = {"lr": 0.2}
    y, g = dlfeval(loss, dlarray(np.array([1.0, 2.0])), cfg)
    assert list(cfg) == ["lr", "zz", "last"] and cfg["zz"] == 0.1
    assert_close(_d(cfg["last"]), 1.0)
    assert_close(_d(y), 0.2 * 5.0)
    assert_close(_d(g), 0.2 * 2 * np.array([1.0, 2.0]))


# --- F1: counters bumped after a differentiated operation ----------------------------------------------------------

METRICS = {"n": 0, "loss": []}
CFG = {"lr": 0.5}
W = np.array([1.0, 3.0])
LOG = []
ARR = {"a": np.array([1.0, 1.0])}


def _counted(x):
    y = np.sum(x ** 2 * W) * CFG["lr"]
    METRICS["n"] += 1
    return y, dlgradient(y, x)


def _make_closure():
    cnt = [0]

    def loss(x):
        y = np.sum(x ** 2)
        cnt[0] += 1
        return y, dlgradient(y, x)
    return loss, cnt


def test_counter_in_global_dict_after_operation_runs_in_place():
    METRICS["n"] = 0
    x0 = np.array([1.0, 2.0])
    for k in range(2):
        y, g = dlfeval(_counted, dlarray(x0))
        assert METRICS["n"] == k + 1 and type(METRICS["n"]) is int
        assert_close(_d(y), np.sum(x0 ** 2 * W) * 0.5)
        assert_close(_d(g), numerical_gradient(lambda v: np.sum(v ** 2 * W) * 0.5, [x0], 0))


def test_counter_in_closure_list_after_operation_runs_in_place():
    loss, cnt = _make_closure()
    x0 = np.array([1.0, -2.0])
    y, g = dlfeval(loss, dlarray(x0))
    assert cnt == [1]
    assert_close(_d(y), 5.0)
    assert_close(_d(g), 2 * x0)


def test_an_array_item_read_then_changed_in_place_is_still_refused():
    def loss(x):
        y = np.sum(x * ARR["a"])
        ARR["a"] += 1.0                 # F1 array
        return y, dlgradient(y, x)
    _refused(loss, "F1 array", "ARR", dlarray(np.array([1.0, 2.0])))
    assert_close(ARR["a"], [1.0, 1.0])


# --- F2: logs of the loss ------------------------------------------------------------------------------------------

def _log(v):
    LOG.append(float(v))


def test_logging_helper_is_read_in_place():
    def loss(x):
        y = np.sum(x ** 2)
        _log(y)
        return y, dlgradient(y, x)
    LOG.clear()
    y, g = dlfeval(loss, dlarray(np.array([1.0, 2.0])))
    assert LOG == [5.0] and type(LOG[0]) is float
    assert_close(_d(g), [2.0, 4.0])


def test_log_then_counter_and_log_into_a_dict_item():
    def both(x):
        l = np.sum(x ** 2)
        LOG.append(float(l))
        METRICS["n"] += 1
        return l, dlgradient(l, x)

    def item(x):
        l = np.sum(x ** 3)
        METRICS["loss"].append(float(l))
        return l, dlgradient(l, x)
    LOG.clear()
    METRICS.update(n=0, loss=[])
    x0 = np.array([1.0, 2.0])
    _, g = dlfeval(both, dlarray(x0))
    assert LOG == [5.0] and METRICS["n"] == 1
    assert_close(_d(g), 2 * x0)
    _, g = dlfeval(item, dlarray(x0))
    assert METRICS["loss"] == [9.0] and type(METRICS["loss"][0]) is float
    assert_close(_d(g), 3 * x0 ** 2)


def test_log_read_back_is_still_refused():
    def loss(x):
        y = np.sum(x ** 2)
        METRICS["loss"].append(float(y))        # F2 read back
        v = METRICS["loss"][-1]
        z = y * v
        return z, dlgradient(z, x)
    METRICS["loss"] = []
    _refused(loss, "F2 read back", "METRICS['loss'].append", dlarray(np.array([1.0, 2.0])))


# --- F3: an Adam step inside the loss, counting in the caller's state ----------------------------------------------

def _adam_step(p, x, st, m):
    loss = np.sum((x @ p["w"]) ** 2)
    g = dlgradient(loss, p)
    st["t"] += 1
    t = st["t"]
    for k in p:
        m[k] = 0.9 * m[k] + g[k]
        mh = m[k] / (1 - 0.9 ** t)
        p[k] = p[k] - 0.1 * mh
    return loss


def test_adam_step_with_step_count_read_into_a_name():
    x = np.array([[1.0, 2.0]])
    p, st, m = {"w": dlarray(np.array([0.5, -0.2]))}, {"t": 0}, {"w": np.zeros(2)}
    w, mm = np.array([0.5, -0.2]), np.zeros(2)
    for t in range(1, 4):
        loss = dlfeval(_adam_step, p, x, st, m)
        assert_close(_d(loss), np.sum((x @ w) ** 2))
        g = numerical_gradient(lambda v: float(np.sum((x @ v) ** 2)), [w], 0)
        mm = 0.9 * mm + g
        w = w - 0.1 * mm / (1 - 0.9 ** t)
        assert st == {"t": t} and type(st["t"]) is int
        assert type(p["w"]) is sct.dlarray and type(m["w"]) is sct.dlarray     # (as in Python)
        assert_close(_d(p["w"]), w, rtol=1e-5)
        assert_close(_d(m["w"]), mm, rtol=1e-5)
