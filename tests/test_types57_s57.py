"""types57: red57a W8, F4, R1, R2.

W8: values not computed from dlfeval's dlarrays come back as Python has them (floats), not as dlarrays:
``0.5 * len(x)`` (in the loss and in a helper), ``dict(n=2.0 * 3)["n"]``, ``St(y, 1.5)._replace(scale=2.5).scale``.
Values against plain Python on the same dlarray arguments, gradients against the closed form 2x."""
from collections import namedtuple

import numpy as np
import pytest

import sct
from sct import dlarray, dlfeval, dlgradient

from gradcheck import assert_close, numerical_gradient

X = np.array([1.0, 2.0, 3.0])


def _grad_ok(g):
    assert type(g) is dlarray
    assert_close(np.asarray(g.data), numerical_gradient(lambda v: np.sum(v ** 2), [X.copy()], 0))


# --- W8: len ----------------------------------------------------------------------------------------------------

def _pyscale(x):
    return 0.5 * len(x)


def _loss_len(x):
    y = np.sum(x ** 2)
    n = 0.5 * len(x)
    s = _pyscale(x)
    return y, dlgradient(y, x), n, s


def test_len_times_float_is_python_float():
    x = dlarray(X.copy())
    y, g, n, s = dlfeval(_loss_len, x)
    assert type(n) is type(0.5 * len(x)) is float and n == 0.5 * len(x)
    assert type(s) is type(_pyscale(x)) is float and s == _pyscale(x)
    _grad_ok(g)
    assert type(y) is dlarray


def _loss_len_traced(x):
    y = np.sum(x ** 2)
    z = y * len(x)                   # traced: a dlarray in Python
    return z, dlgradient(y, x)


def test_len_times_traced_is_dlarray():
    z, g = dlfeval(_loss_len_traced, dlarray(X.copy()))
    assert type(z) is dlarray and float(z.data) == pytest.approx(3 * 14.0)
    _grad_ok(g)


# --- W8: dict(...) --------------------------------------------------------------------------------------------

def _loss_dict_call(x):
    y = np.sum(x ** 2)
    return y, dlgradient(y, x), dict(n=2.0 * 3, m=y)


def test_dict_call_items_as_python():
    x = dlarray(X.copy())
    y, g, d = dlfeval(_loss_dict_call, x)
    assert type(d) is dict and type(d["n"]) is float and d["n"] == 2.0 * 3
    assert type(d["m"]) is dlarray and float(d["m"].data) == pytest.approx(14.0)
    _grad_ok(g)


def _fill(d, y):
    d["n"] = y


def _loss_dict_filled(x):
    y = np.sum(x ** 2)
    d = dict(n=2.0)
    d["k"] = 1.5
    _fill(d, y * 2.0)                 # a helper puts a dlarray under n
    return y, dlgradient(y, x), d


def test_dict_call_filled_by_helper_keeps_dlarray():
    x = dlarray(X.copy())
    try:
        y, g, d = dlfeval(_loss_dict_filled, x)
    except sct.SctError as e:        # (refused is right too; a number of the wrong type is not)
        assert "line" in str(e)
        return
    assert type(d["n"]) is dlarray and float(d["n"].data) == pytest.approx(28.0)
    _grad_ok(g)


# --- W8: _replace of a namedtuple the function built ----------------------------------------------------------

St = namedtuple("St", "loss scale")


def _loss_replace(x):
    y = np.sum(x ** 2)
    t = St(y, 1.5)._replace(scale=2.5)
    u = St(y * 2.0, 0.5)._replace(loss=y)
    return t, u, dlgradient(y, x)


def test_namedtuple_replace_of_local_as_python():
    x = dlarray(X.copy())
    t, u, g = dlfeval(_loss_replace, x)
    assert type(t) is St and type(t.scale) is float and t.scale == 2.5
    assert type(t.loss) is dlarray and float(t.loss.data) == pytest.approx(14.0)
    assert type(u.scale) is float and u.scale == 0.5 and type(u.loss) is dlarray
    _grad_ok(g)


# --- R1: the nested optimiser-state refusal's advice, followed, updates the caller's state ----------------------

def _adam_nested(p, st):
    loss = np.sum(p["w"] ** 2 + p["b"])
    g = dlgradient(loss, p)
    st["t"] += 1
    t = st["t"]
    for k in p:
        st["m"][k] = 0.9 * st["m"][k] + 0.1 * g[k]
        mh = st["m"][k] / (1 - 0.9 ** t)
        p[k] = p[k] - 0.1 * mh
    return loss


def _adam_as_advised(p, st):
    loss = np.sum(p["w"] ** 2 + p["b"])
    g = dlgradient(loss, p)
    item = st["m"].copy()
    for k in p:
        item[k] = 0.9 * item[k] + 0.1 * g[k]
    return loss, item


def test_nested_state_advice_keeps_the_callers_state():
    p = {"w": dlarray(np.array([1.0, 2.0])), "b": dlarray(np.array([1.0, 2.0]))}
    st = {"t": 0, "m": {"w": np.zeros(2), "b": np.zeros(2)}}
    given = {"t": 0, "m": {"w": np.zeros(2), "b": np.zeros(2)}}
    try:
        dlfeval(_adam_nested, dict(p), given)
    except sct.SctError as info:
        text = str(info)
        assert "line" in text and "st['m']" in text
        assert "{**st, 'm': item}" not in text                # (would leave the caller's st as it was)
        assert "return ..., item" in text and "st['m'] = item` after dlfeval" in text
    else:                                                     # (accepted: Python's state, 0.1 * 2w)
        assert given["t"] == 1
        assert_close(np.asarray(getattr(given["m"]["w"], "data", given["m"]["w"])), 0.2 * np.array([1.0, 2.0]))
    # followed: the caller's state holds Python's moments (the gradient of sum(w**2 + b) is 2w, 1)
    for _ in range(2):
        loss, item = dlfeval(_adam_as_advised, p, st)
        st["m"] = item
    assert_close(np.asarray(st["m"]["w"].data), 0.19 * 2 * np.array([1.0, 2.0]))
    assert_close(np.asarray(st["m"]["b"].data), 0.19 * np.ones(2))


# --- F4: a step-counting property read through a config dict, a list or self.sched -----------------------------

import inspect


def _line_of(fn, text):
    lines, start = inspect.getsourcelines(fn)
    return start + next(i for i, l in enumerate(lines) if text in l)


class _Sched:
    def __init__(self, lr0):
        self.t = 0
        self.lr0 = lr0

    @property
    def lr(self):
        self.t += 1
        return self.lr0 / self.t


def _loss_cfg_sched(x, cfg):
    y = np.sum(x ** 2)
    lr = cfg["sched"].lr
    return y, dlgradient(y, x), lr


def _loss_cfg_sched_before(x, cfg):
    lr = cfg["sched"].lr
    y = np.sum(x ** 2)
    return y, dlgradient(y, x), lr


class _Trainer:
    def __init__(self):
        self.sched = _Sched(0.1)

    def loss(self, x):
        y = np.sum(x ** 2)
        lr = self.sched.lr
        return y, dlgradient(y, x), lr


def _exact_or_refused_at(run, fn, text, spelled, check):
    try:
        out = run()
    except sct.SctError as e:
        msg = str(e)
        assert f"line {_line_of(fn, text)}" in msg and f"{spelled}.lr" in msg, msg
        assert "__sct" not in msg, msg                 # (never sct's internal name of the getter)
        return
    check(out)


@pytest.mark.parametrize("how", ["dict", "self"])
def test_property_through_config_or_self_names_the_property(how):
    x = dlarray(X.copy())
    if how == "dict":
        cfg = {"sched": _Sched(0.1)}
        run, fn, text, spelled, sched = (lambda: dlfeval(_loss_cfg_sched, x, cfg)), _loss_cfg_sched, \
            'lr = cfg["sched"].lr', "cfg['sched']", cfg["sched"]
    else:
        tr = _Trainer()
        run, fn, text, spelled, sched = (lambda: dlfeval(tr.loss, x)), _Trainer.loss, "lr = self.sched.lr", \
            "self.sched", tr.sched

    def check(out):
        y, g, lr = out
        assert sched.t == 1 and type(lr) is float and lr == pytest.approx(0.1)
        _grad_ok(g)
    _exact_or_refused_at(run, fn, text, spelled, check)


def test_property_through_config_dict_is_exact():
    cfg, ref = {"sched": _Sched(0.1)}, _Sched(0.1)
    x = dlarray(X.copy())
    for _ in range(3):
        y, g, lr = dlfeval(_loss_cfg_sched, x, cfg)
        want = ref.lr
        assert type(lr) is type(want) is float and lr == want and cfg["sched"].t == ref.t
        _grad_ok(g)


def _setup(cfg):
    cfg["sched"].t = np.ones(3)             # (an array now: the getter's self.t += 1 changes it in place)


def _loss_cfg_sched_setup(x, cfg):
    _setup(cfg)
    y = np.sum(x * cfg["sched"].t)
    lr = cfg["sched"].lr
    return y, dlgradient(y, x), lr


def test_property_after_a_call_that_may_change_the_object_is_refused():
    cfg = {"sched": _Sched(0.1)}
    with pytest.raises(sct.SctError) as info:
        dlfeval(_loss_cfg_sched_setup, dlarray(X.copy()), cfg)
    msg = str(info.value)
    assert f"line {_line_of(_loss_cfg_sched_setup, 'lr = cfg[')}" in msg and "cfg['sched'].lr" in msg, msg
    assert "__sct" not in msg


def test_property_read_before_the_operation_as_advised():
    cfg = {"sched": _Sched(0.1)}
    y, g, lr = dlfeval(_loss_cfg_sched_before, dlarray(X.copy()), cfg)
    assert cfg["sched"].t == 1 and float(getattr(lr, "data", lr)) == pytest.approx(0.1)
    _grad_ok(g)


# --- R2: a property setter that changes an array an operation read: refused at the user's assignment ------------

W_LIST = [2.0, 2.0]


def _bump():
    W_LIST[0] += 1.0


class _Setter:
    @property
    def lr(self):
        return 0.1

    @lr.setter
    def lr(self, v):
        _bump()


SETTER = _Setter()


def _loss_setter(x):
    y = np.sum(x * W_LIST)
    SETTER.lr = 0.2
    return y, dlgradient(y, x)


def test_setter_refusal_names_the_assignment_line():
    W_LIST[:] = [2.0, 2.0]
    with pytest.raises(sct.SctError) as info:
        dlfeval(_loss_setter, dlarray(np.array([0.3, -0.7])))
    msg = str(info.value)
    assert f"line {_line_of(_loss_setter, 'SETTER.lr = 0.2')}:" in msg, msg
    assert "W_LIST" in msg
    W_LIST[:] = [2.0, 2.0]


# --- W8: a step-counting property's value read into a returned value -------------------------------------------

def _loss_sched(x, sched):
    y = np.sum(x ** 2)
    lr = sched.lr
    lr2 = sched.lr
    return y, dlgradient(y, x), lr, lr + lr2


def _loss_sched_traced(x, sched):
    y = np.sum(x ** 2)
    lr = sched.lr * y                 # traced: a dlarray in Python
    return y, dlgradient(y, x), lr


def test_property_value_is_python_float():
    s, ref = _Sched(0.1), _Sched(0.1)
    y, g, lr, both = dlfeval(_loss_sched, dlarray(X.copy()), s)
    want = ref.lr
    want_both = want + ref.lr
    assert type(lr) is type(want) is float and lr == want
    assert type(both) is float and both == pytest.approx(want_both)
    assert s.t == ref.t == 2
    _grad_ok(g)


def test_property_times_traced_is_dlarray():
    s = _Sched(0.1)
    y, g, lr = dlfeval(_loss_sched_traced, dlarray(X.copy()), s)
    assert type(lr) is dlarray and float(lr.data) == pytest.approx(0.1 * 14.0) and s.t == 1
    _grad_ok(g)
