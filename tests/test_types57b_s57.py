"""types57b: red57b W3, W4, F2, F3, R2, R3.

W3/W4: values not computed from dlfeval's dlarrays come back as Python has them (floats), not as 1x1 dlarrays:
number fields of a dataclass argument combined (``cfg.lr * cfg.decay``, ``math.exp(-cfg.decay) * cfg.lr``,
``max(cfg.lr, 0.01)``), ``dict(n=2.0 * 3, m=y)["n"]``, ``St(y, 1.5)._replace(scale=2.5).scale``, a user ``__add__``
giving a float, ``s.t + s.lr`` and ``lr = s.lr; t = s.t`` of a step-counting property.  F2/F3: such a property read
through ``cfg["sched"]`` is accepted after a namedtuple is built, in a loop, and where its getter calls a counting
method.  R2/R3: refusals name the user's read.  Values against plain Python (the same function run with
``dlgradient`` left out), gradients against finite differences."""
import json
import math
from collections import namedtuple
from dataclasses import dataclass

import numpy as np
import pytest

from sct import dlarray, dlfeval, dlgradient
from sct.errors import SctError

from gradcheck import assert_close, numerical_gradient

X = np.array([1.0, 2.0])


def _python(f, *args):
    """``f(*args)`` as plain Python runs it, its dlgradient calls giving None."""
    saved = globals()["dlgradient"]
    globals()["dlgradient"] = lambda y, x, **kw: None
    try:
        return f(*args)
    finally:
        globals()["dlgradient"] = saved


def _same(got, want):
    assert type(got) is type(want), (got, want)
    assert got == pytest.approx(want)


def _grad_of_sum_squares(g, scale=1.0):
    assert type(g) is dlarray
    assert_close(np.asarray(g.data), scale * numerical_gradient(lambda v: np.sum(v ** 2), [X.copy()], 0))


# --- W3: number fields of a dataclass argument ------------------------------------------------------------------

@dataclass
class Cfg:
    lr: float = 0.1
    decay: float = 0.5


def _loss_cfg(x, cfg):
    y = np.sum(x ** 2)
    a = cfg.lr * cfg.decay
    c = math.exp(-cfg.decay) * cfg.lr
    d = max(cfg.lr, 0.01)
    e = abs(-cfg.lr)
    return y, dlgradient(y, x), a, c, d, e


def _cfg_helper(x, cfg):
    return cfg.lr * cfg.decay, x.shape[0] * 0.5


def _loss_cfg_helper(x, cfg):
    y = np.sum(x ** 2)
    a, b = _cfg_helper(x, cfg)
    return y, dlgradient(y, x), a, b


@pytest.mark.parametrize("f", [_loss_cfg, _loss_cfg_helper])
def test_dataclass_number_fields_are_python_floats(f):
    out = dlfeval(f, dlarray(X.copy()), Cfg())
    want = _python(f, dlarray(X.copy()), Cfg())
    for got, exp in zip(out[2:], want[2:]):
        _same(got, exp)
    _grad_of_sum_squares(out[1])
    assert json.dumps({"lr": out[2]}) == json.dumps({"lr": want[2]})


def _loss_cfg_traced(x, cfg):
    y = np.sum(x ** 2)
    a = cfg.lr * y                   # traced: a dlarray in Python
    b = max(cfg.lr, 0.01) * y
    return a + b, dlgradient(a + b, x), a, b


def test_dataclass_field_times_traced_stays_dlarray():
    s, g, a, b = dlfeval(_loss_cfg_traced, dlarray(X.copy()), Cfg())
    assert type(a) is dlarray and type(b) is dlarray
    assert float(a.data) == pytest.approx(0.1 * 5.0)
    _grad_of_sum_squares(g, 0.2)


# --- W3: an item of a dict built here, a field of a namedtuple built here ----------------------------------------

St = namedtuple("St", "loss scale")


def _loss_dict_item(x):
    y = np.sum(x ** 2)
    d = dict(n=2.0 * 3, m=y)
    return y, dlgradient(y, x), d["n"], d["m"]


def _loss_replaced(x):
    y = np.sum(x ** 2)
    t = St(y, 1.5)._replace(scale=2.5)
    return y, dlgradient(y, x), t.scale, t.loss


def _loss_built(x):
    y = np.sum(x ** 2)
    t = St(y, 1.5)
    z = t.loss * t.scale
    return y, dlgradient(y, x), t.scale, z


def _loss_replaced_again(x):
    y = np.sum(x ** 2)
    t = St(y, 1.5)
    t = t._replace(scale=t.scale * 2)
    return y, dlgradient(y, x), t.scale, t.loss


@pytest.mark.parametrize("f", [_loss_dict_item, _loss_replaced, _loss_built, _loss_replaced_again])
def test_built_number_is_python_float_traced_stays_dlarray(f):
    y, g, n, traced = dlfeval(f, dlarray(X.copy()))
    want = _python(f, dlarray(X.copy()))
    _same(n, want[2])
    assert type(traced) is dlarray and float(traced.data) == pytest.approx(float(want[3].data))
    _grad_of_sum_squares(g)


def _loss_dict_rewritten(x):
    y = np.sum(x ** 2)
    d = dict(n=2.0 * 3, m=y)
    d["n"] = y * 2.0                 # now a dlarray
    return y, dlgradient(y, x), d["n"]


def test_dict_item_written_traced_is_dlarray():
    y, g, n = dlfeval(_loss_dict_rewritten, dlarray(X.copy()))
    assert type(n) is dlarray and float(n.data) == pytest.approx(10.0)


# --- W3: a user's __add__ giving a float -------------------------------------------------------------------------

class Acc:
    def __init__(self):
        self.calls = 0

    def __add__(self, o):
        self.calls += 1
        return o + 1.0

    def __radd__(self, o):
        self.calls += 1
        return o + 2.0


def _loss_dunder(x, cfg):
    y = np.sum(x ** 2)
    a = cfg["acc"] + 1.0
    b = 1.0 + cfg["acc"]
    return y, dlgradient(y, x), a, b


def test_user_add_giving_float_is_python_float():
    cfg, cfg2 = {"acc": Acc()}, {"acc": Acc()}
    out = dlfeval(_loss_dunder, dlarray(X.copy()), cfg)
    want = _python(_loss_dunder, dlarray(X.copy()), cfg2)
    _same(out[2], want[2])
    _same(out[3], want[3])
    assert cfg["acc"].calls == cfg2["acc"].calls == 2
    _grad_of_sum_squares(out[1])


# --- W3, W4: a step-counting property and its counter ------------------------------------------------------------

class Sched:
    def __init__(self):
        self.t = 0
        self.lr0 = 0.1

    @property
    def lr(self):
        self.t += 1
        return self.lr0 / self.t

    def _bump(self):
        self.t += 1


class Sched2(Sched):
    @property
    def lr(self):
        self._bump()
        return self.lr0 / self.t


def _loss_after(x, s):
    y = np.sum(x ** 2)
    g = dlgradient(y, x)
    lr = s.lr
    t = s.t
    return y, g, lr, t


def _loss_after_cfg(x, cfg):
    y = np.sum(x ** 2)
    g = dlgradient(y, x)
    lr = cfg["sched"].lr
    t = cfg["sched"].t
    return y, g, lr, t


def _loss_sum_counter(x, s):
    y = np.sum(x ** 2)
    c = s.t + s.lr
    return y, dlgradient(y, x), c, s.t


def _loss_sum_counter_cfg(x, cfg):
    y = np.sum(x ** 2)
    c = cfg["sched"].t + cfg["sched"].lr
    return y, dlgradient(y, x), c, cfg["sched"].t


@pytest.mark.parametrize("f, wrap", [(_loss_after, lambda s: s), (_loss_after_cfg, lambda s: {"sched": s}),
                                     (_loss_sum_counter, lambda s: s),
                                     (_loss_sum_counter_cfg, lambda s: {"sched": s})])
def test_counting_property_and_counter_are_python_numbers(f, wrap):
    s, s2 = Sched(), Sched()
    for _ in range(2):
        out = dlfeval(f, dlarray(X.copy()), wrap(s))
        want = _python(f, dlarray(X.copy()), wrap(s2))
        _same(out[2], want[2])
        _same(out[3], want[3])
        assert s.t == s2.t
        _grad_of_sum_squares(out[1])


# --- F2: after a namedtuple is built; F3: in a loop, a getter calling a counting method -------------------------

def _loss_tuple_then_sched(x, cfg):
    y = np.sum(x ** 2)
    t = St(y, 1.5)._replace(scale=2.5)
    lr = cfg["sched"].lr
    z = y * lr * t.scale
    return z, dlgradient(z, x), lr


def _loss_loop(x, cfg):
    y = np.sum(x ** 2)
    z = 0.0
    for i in range(3):
        z = z + y * cfg["sched"].lr
    return z, dlgradient(z, x)


def _loss_comp(x, cfg):
    y = np.sum(x ** 2)
    z = sum([y * cfg["sched"].lr for _ in range(3)])
    return z, dlgradient(z, x)


def _loss_bump(x, cfg):
    y = np.sum(x ** 2)
    z = y * cfg["sched"].lr
    return z, dlgradient(z, x)


@pytest.mark.parametrize("f, cls", [(_loss_tuple_then_sched, Sched), (_loss_loop, Sched), (_loss_comp, Sched),
                                    (_loss_bump, Sched2)])
def test_counting_property_through_config_accepted(f, cls):
    s, s2 = cls(), cls()
    for _ in range(2):
        snapshot = cls()
        snapshot.t = s2.t
        out = dlfeval(f, dlarray(X.copy()), {"sched": s})
        want = _python(f, dlarray(X.copy()), {"sched": s2})
        assert s.t == s2.t
        assert float(out[0].data) == pytest.approx(float(want[0].data))

        def value(v):
            c = cls()
            c.t = snapshot.t
            return float(np.asarray(_python(f, dlarray(v), {"sched": c})[0].data))
        assert_close(np.asarray(out[1].data), numerical_gradient(value, [X.copy()], 0))
        if len(out) > 2:
            _same(out[2], want[2])


# --- R2, R3: messages naming the user's read ---------------------------------------------------------------------

def _loss_generator(x, scheds):
    y = np.sum(x ** 2)
    z = sum(y * s.lr for s in scheds)
    return z, dlgradient(z, x)


def test_generator_property_refusal_names_user_receiver():
    s = Sched()
    with pytest.raises(SctError) as info:
        dlfeval(_loss_generator, dlarray(X.copy()), [s, s])
    text = str(info.value)
    assert "reading s.lr" in text and "this line's expression" not in text
    assert "test_types57b_s57.py" in text and "line" in text


def _loss_second_order(x, cfg):
    lr = cfg["sched"].lr
    y = np.sum(x ** 3) * lr
    g = dlgradient(y, x, EnableHigherDerivatives=True)
    h = dlgradient(np.sum(g), x)
    return y, g, h, lr


def test_second_order_property_refusal_names_the_read():
    s = Sched()
    with pytest.raises(SctError) as info:
        dlfeval(_loss_second_order, dlarray(X.copy()), {"sched": s})
    text = str(info.value)
    assert "reading cfg['sched'].lr" in text and "stay made" in text
    assert "test_types57b_s57.py" in text
