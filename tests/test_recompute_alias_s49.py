"""Red team 49: state changed by a call that a second derivative's recomputation replays, through
ANOTHER outside value than the one read (``trainer.set_training(False); y = model(x);
trainer.set_training(True)`` with ``trainer.model is model``; a global trainer, a parent's ``eval()``
reaching a child passed too, a closure toggle held in a global, a holder of a list also passed, the same
object passed twice, a global config read by the model's method): the recomputation read the model in
the state the first run left at the end (g = [4, -8], h = [64, -128] where Python's are [9, -18],
[324, -648]).  Each is refused now at the line of the change, naming the reading line
(sct/recompute_writes.py: alias_pairs, method_reads; runtime/effects.py: recompute_alias_guard, which
compares the objects the two values reach when the recomputation runs); the forms whose values reach
nothing in common stay exact."""
import sys

import numpy as np
import pytest

import sct
from sct import EvaluationError, dlarray, dlfeval, extractdata

PROGRAMS = r'''
import collections
import dataclasses
import functools
import logging

import numpy as np

import sct
from sct import dlgradient


class Layer:
    def __init__(self):
        self.training = True
        self.out = logging.getLogger("sct_s49")

    def __call__(self, t):
        return t * (2.0 if self.training else 3.0)


class Trainer:
    def __init__(self, model):
        self.model = model

    def set_training(self, v):
        self.model.training = v


def with_trainer(x, model, trainer):
    trainer.set_training(False)
    y = np.sum(model(x) ** 2)
    trainer.set_training(True)
    g = dlgradient(y, x)
    return g, dlgradient(np.sum(g ** 2), x)


def first_order(x, model, trainer):
    trainer.set_training(False)
    y = np.sum(model(x) ** 2)
    trainer.set_training(True)
    return y, dlgradient(y, x)


def set_before_the_read(x, model, trainer):
    trainer.set_training(False)
    y = np.sum(model(x) ** 2)
    g = dlgradient(y, x)
    return g, dlgradient(np.sum(g ** 2), x)


GM = Layer()
TR = Trainer(GM)


def with_global_trainer(x, model):
    TR.set_training(False)
    y = np.sum(model(x) ** 2)
    TR.set_training(True)
    g = dlgradient(y, x)
    return g, dlgradient(np.sum(g ** 2), x)


def both_globals(x):
    TR.set_training(False)
    y = np.sum(GM(x) ** 2)
    TR.set_training(True)
    g = dlgradient(y, x)
    return g, dlgradient(np.sum(g ** 2), x)


def predict(t):
    return GM(t)


def helper_reads_the_global(x):
    TR.set_training(False)
    y = np.sum(predict(x) ** 2)
    TR.set_training(True)
    g = dlgradient(y, x)
    return g, dlgradient(np.sum(g ** 2), x)


class Net:
    def __init__(self, bn):
        self.bn = bn

    def eval(self):
        self.bn.training = False

    def train(self):
        self.bn.training = True


def parent_eval(x, net, bn):
    net.eval()
    y = np.sum(bn(x) ** 2)
    net.train()
    g = dlgradient(y, x)
    return g, dlgradient(np.sum(g ** 2), x)


def make_toggle(m):
    def t(v):
        m.training = v
    return t


TM = Layer()
TOG = make_toggle(TM)


def closure_toggle(x, m):
    TOG(False)
    y = np.sum(m(x) ** 2)
    TOG(True)
    g = dlgradient(y, x)
    return g, dlgradient(np.sum(g ** 2), x)


class Holder:
    def __init__(self, layers):
        self.layers = layers

    def eval(self):
        for l in self.layers:
            l.training = False

    def train(self):
        for l in self.layers:
            l.training = True


def holder_of_the_list(x, layers, h):
    h.eval()
    y = np.sum(layers[0](x) ** 2)
    h.train()
    g = dlgradient(y, x)
    return g, dlgradient(np.sum(g ** 2), x)


def holder_of_a_list_with_m(x, m, h):
    h.eval()
    y = np.sum(m(x) ** 2)
    h.train()
    g = dlgradient(y, x)
    return g, dlgradient(np.sum(g ** 2), x)


def laplacian(x, m, tr):
    tr.set_training(False)
    u = np.sum(m(x) ** 3, axis=1)
    tr.set_training(True)
    return sct.dllaplacian(u, x, 0)


class Critic:
    def __init__(self, W):
        self.W = W
        self.training = True

    def __call__(self, t):
        return np.tanh(t @ self.W) * (1.0 if self.training else 0.5)


CRITIC = [None]
CTR = Trainer(None)


def gradient_penalty(x, critic):
    CTR.set_training(False)
    d = np.sum(critic(x))
    CTR.set_training(True)
    gx = dlgradient(d, x)
    pen = np.sum(gx ** 2)
    return pen, dlgradient(pen, critic.W)


class Switch:
    def __init__(self):
        self.training = True

    def set(self, v):
        self.training = v

    def __call__(self, t):
        return t * (2.0 if self.training else 3.0)


def switched(x, m, ctl):
    ctl.set(False)
    y = np.sum(m(x) ** 2)
    ctl.set(True)
    g = dlgradient(y, x)
    return g, dlgradient(np.sum(g ** 2), x)


class Config:
    def __init__(self):
        self.training = True

    def set(self, v):
        self.training = v


CFG = Config()


class ConfiguredLayer:
    def __call__(self, t):
        return t * (2.0 if CFG.training else 3.0)


class HoldsConfig:
    def __init__(self, cfg):
        self.cfg = cfg

    def __call__(self, t):
        return t * (2.0 if self.cfg.training else 3.0)


def global_config(x, m):
    CFG.set(False)
    y = np.sum(m(x) ** 2)
    CFG.set(True)
    g = dlgradient(y, x)
    return g, dlgradient(np.sum(g ** 2), x)


def config_argument(x, m, cfg):
    cfg.set(False)
    y = np.sum(m(x) ** 2)
    cfg.set(True)
    g = dlgradient(y, x)
    return g, dlgradient(np.sum(g ** 2), x)


REG = [Layer()]


class RegistrySwitch:
    def set(self, v):
        REG[0].training = v


def registry_switch(x, m, c):
    c.set(False)
    y = np.sum(m(x) ** 2)
    c.set(True)
    g = dlgradient(y, x)
    return g, dlgradient(np.sum(g ** 2), x)


class Logger:
    def __init__(self):
        self.hist = []
        self.out = logging.getLogger("sct_s49")

    def log(self, v):
        self.hist.append(v)


def step(w, x, model, tr):
    tr.set_training(False)
    loss = np.sum(model(w * x) ** 2)
    tr.set_training(True)
    g = dlgradient(loss, w)
    return w - 0.1 * g


def unrolled(w, x, model, tr):
    v = step(step(w, x, model, tr), x, model, tr)
    L = np.sum(v ** 2)
    return L, dlgradient(L, w)


BM = Layer()
SET = Trainer(BM).set_training


def set_mode(model, v):
    model.training = v


PM = Layer()
PSET = functools.partial(set_mode, PM)


def bound_method_toggle(x, m):
    SET(False)
    y = np.sum(m(x) ** 2)
    SET(True)
    g = dlgradient(y, x)
    return g, dlgradient(np.sum(g ** 2), x)


def partial_toggle(x, m):
    PSET(False)
    y = np.sum(m(x) ** 2)
    PSET(True)
    g = dlgradient(y, x)
    return g, dlgradient(np.sum(g ** 2), x)


@dataclasses.dataclass(slots=True)
class SlotsTrainer:
    model: object

    def set_training(self, v):
        self.model.training = v


class QueueTrainer:
    def __init__(self, q):
        self.q = q

    def set_training(self, v):
        self.q[0].set_training(v)


def logged(x, m, lg):
    lg.log("start")
    y = np.sum(m(x) ** 2)
    lg.log("loss")
    g = dlgradient(y, x)
    return g, dlgradient(np.sum(g ** 2), x)
'''


def _load():
    import importlib.util
    import tempfile
    folder = tempfile.mkdtemp(prefix="sct_s49_")
    path = f"{folder}/recompute_alias_s49_progs.py"
    with open(path, "w") as out:
        out.write(PROGRAMS)
    spec = importlib.util.spec_from_file_location("recompute_alias_s49_progs", path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


P = _load()
X = np.array([0.5, -1.0])


def _line(fn, needle: str) -> int:
    import inspect
    lines, start = inspect.getsourcelines(fn)
    return start + next(k for k, t in enumerate(lines) if needle in t)


def _second(f, *extra):
    g, h = dlfeval(f, dlarray(X.copy()), *extra)
    return np.asarray(extractdata(g)), np.asarray(extractdata(h))


def _refused(f, back, *extra, reads=None):
    """Refused at the line ``back`` (the change after the read), naming the reading line; what Python
    computes there (the refusal stands for it): g = 18 x, h = 648 x (eval mode, 3.0)."""
    with pytest.raises(EvaluationError) as e:
        _second(f, *extra)
    text = str(e.value)
    assert f"line {back}:" in text, text
    assert "dlgradient" in text and "recomputes" in text, text
    assert f"the call on line {back - 1 if reads is None else reads} reads it" in text, text
    return text


def _fresh_trainer():
    m = P.Layer()
    return m, P.Trainer(m)


def test_trainer_holding_the_model_is_refused():
    m, tr = _fresh_trainer()
    text = _refused(P.with_trainer, _line(P.with_trainer, "set_training(True)"), m, tr)
    assert "trainer" in text and "model" in text
    assert m.training


def test_global_trainer_is_refused():
    P.GM.training = True
    _refused(P.with_global_trainer, _line(P.with_global_trainer, "set_training(True)"), P.GM)
    assert P.GM.training


def test_global_trainer_and_global_model_are_refused():
    P.GM.training = True
    _refused(P.both_globals, _line(P.both_globals, "set_training(True)"))
    # (a helper's read of a global is a read anywhere: refused at the first change, reading the next line)
    back = _line(P.helper_reads_the_global, "set_training(False)")
    _refused(P.helper_reads_the_global, back, reads=back + 1)


def test_parent_eval_with_the_child_passed_too_is_refused():
    bn = P.Layer()
    _refused(P.parent_eval, _line(P.parent_eval, "net.train()"), P.Net(bn), bn)


def test_closure_toggle_held_in_a_global_is_refused():
    P.TM.training = True
    _refused(P.closure_toggle, _line(P.closure_toggle, "TOG(True)"), P.TM)


def test_holder_of_a_list_also_passed_is_refused():
    ls = [P.Layer()]
    _refused(P.holder_of_the_list, _line(P.holder_of_the_list, "h.train()"), ls, P.Holder(ls))
    m = P.Layer()
    _refused(P.holder_of_a_list_with_m, _line(P.holder_of_a_list_with_m, "h.train()"), m, P.Holder([m]))


def test_same_object_passed_twice_is_refused():
    c = P.Switch()
    _refused(P.switched, _line(P.switched, "ctl.set(True)"), c, c)


def test_config_held_by_the_model_is_refused():
    cfg = P.Config()
    _refused(P.config_argument, _line(P.config_argument, "cfg.set(True)"), P.HoldsConfig(cfg), cfg)


def test_global_config_read_by_the_models_method_is_refused():
    P.CFG.training = True
    _refused(P.global_config, _line(P.global_config, "CFG.set(True)"), P.ConfiguredLayer())
    assert P.CFG.training


def test_arguments_method_writing_a_global_registry_is_refused():
    P.REG[0].training = True
    _refused(P.registry_switch, _line(P.registry_switch, "c.set(True)"), P.REG[0], P.RegistrySwitch())


def test_laplacian_after_a_trainer_toggle_is_refused():
    # (refused when it runs at the toggle's call, or, since the trainer's method is read in place (s50),
    # when compiling at the method's write into the trainer: either way before a wrong value)
    m, tr = _fresh_trainer()
    with pytest.raises(sct.SctError) as e:
        dlfeval(P.laplacian, dlarray(np.array([[0.5, -1.0], [1.0, 2.0]])), m, tr)
    lines = (_line(P.laplacian, 'set_training(True)'), _line(P.Trainer.set_training, 'self.model.training = v'))
    assert any(f"line {n}:" in str(e.value) for n in lines), str(e.value)


RNG = np.random.default_rng(49)
W0 = RNG.standard_normal((2, 2))
XC = RNG.standard_normal((3, 2))


def _penalty(W):
    a = np.tanh(XC @ W)
    gx = (0.5 * (1 - a ** 2)) @ W.T
    return np.sum(gx ** 2)


def test_wgan_gp_with_a_global_trainer_is_refused():
    c = P.Critic(dlarray(W0.copy()))
    P.CTR.model = c
    try:
        with pytest.raises(EvaluationError) as e:
            dlfeval(P.gradient_penalty, dlarray(XC), c)
        back = _line(P.gradient_penalty, "set_training(True)")
        assert f"line {back}:" in str(e.value) and f"the call on line {back - 1} reads it" in str(e.value)
        assert c.training
    finally:
        P.CTR.model = None


def test_wgan_gp_reference_by_finite_differences():
    # what the refusal stands for: the critic in eval mode (0.5) throughout
    e = 1e-6
    fd = np.array([(_penalty(W0 + e * d.reshape(2, 2)) - _penalty(W0 - e * d.reshape(2, 2))) / (2 * e)
                   for d in np.eye(4)]).reshape(2, 2)
    a = np.tanh(XC @ W0)
    assert np.isfinite(fd).all() and _penalty(W0) == pytest.approx(np.sum(((0.5 * (1 - a ** 2)) @ W0.T) ** 2))


# --- the forms that stay exact -------------------------------------------------------------------

def test_first_order_with_the_trainer_is_exact():
    m, tr = _fresh_trainer()
    y, g = dlfeval(P.first_order, dlarray(X.copy()), m, tr)
    assert np.isclose(float(extractdata(y)), 9 * np.sum(X ** 2))
    np.testing.assert_allclose(extractdata(g), 18 * X)
    assert m.training


def test_trainer_set_before_every_read_is_exact():
    m, tr = _fresh_trainer()
    g, h = _second(P.set_before_the_read, m, tr)
    np.testing.assert_allclose(g, 18 * X)
    np.testing.assert_allclose(h, 648 * X)
    assert not m.training


@pytest.mark.parametrize("f,make", [
    (P.switched, lambda: (P.Switch(), P.Switch())),
    (P.config_argument, lambda: (P.HoldsConfig(P.Config()), P.Config())),
    (P.registry_switch, lambda: (P.Layer(), P.RegistrySwitch())),
    (P.logged, lambda: (P.Layer(), P.Logger())),
    (P.with_trainer, lambda: (P.Layer(), P.Trainer(P.Layer()))),
], ids=["two_switches", "config_not_held", "registry_not_the_model", "logger", "trainer_of_another_model"])
def test_values_that_reach_nothing_in_common_stay_exact(f, make):
    m, other = make()
    g, h = _second(f, m, other)
    np.testing.assert_allclose(g, 8 * X)            # the model in training mode (2.0) throughout
    np.testing.assert_allclose(h, 128 * X)


def test_global_config_with_a_model_not_reading_it_stays_exact():
    P.CFG.training = True
    g, h = _second(P.global_config, P.Switch())
    np.testing.assert_allclose(g, 8 * X)
    np.testing.assert_allclose(h, 128 * X)
    assert P.CFG.training


def test_logger_keeps_its_entries_once():
    lg = P.Logger()
    _second(P.logged, P.Layer(), lg)
    assert lg.hist == ["start", "loss"]


W_U = np.array([0.3, -0.6])
X_U = np.array([1.0, 0.5])


def _unrolled_plain(w, k):
    for _ in range(2):
        w = w - 0.1 * 2 * k ** 2 * X_U ** 2 * w
    return np.sum(w ** 2)


def _unrolled_fd(k, e=1e-6):
    return np.array([(_unrolled_plain(W_U + e * d, k) - _unrolled_plain(W_U - e * d, k)) / (2 * e) for d in np.eye(2)])


def test_helper_step_with_a_trainer_is_refused():
    m, tr = _fresh_trainer()
    with pytest.raises(EvaluationError) as e:
        dlfeval(P.unrolled, dlarray(W_U.copy()), X_U, m, tr)
    back = _line(P.step, "set_training(True)")
    assert f"line {back}:" in str(e.value) and f"the call on line {back - 1} reads it" in str(e.value)


def test_helper_step_with_the_trainer_of_another_model_is_exact():
    L, g = dlfeval(P.unrolled, dlarray(W_U.copy()), X_U, P.Layer(), P.Trainer(P.Layer()))
    assert np.isclose(float(extractdata(L)), _unrolled_plain(W_U, 2.0))
    np.testing.assert_allclose(extractdata(g), _unrolled_fd(2.0), rtol=1e-6, atol=1e-9)


@pytest.mark.parametrize("name,needle,model", [("bound_method_toggle", "SET(True)", "BM"),
                                               ("partial_toggle", "PSET(True)", "PM")])
def test_global_bound_method_or_partial_toggle_is_refused(name, needle, model):
    f = getattr(P, name)
    m = getattr(P, model)
    m.training = True
    text = _refused(f, _line(f, needle), m)
    assert "is bound to" in text
    g, h = _second(f, P.Layer())                    # another model: exact
    np.testing.assert_allclose(g, 8 * X)
    np.testing.assert_allclose(h, 128 * X)


def test_trainer_in_a_slots_dataclass_or_a_deque_is_refused():
    import collections
    m = P.Layer()
    back = _line(P.with_trainer, "set_training(True)")
    _refused(P.with_trainer, back, m, P.SlotsTrainer(m))
    _refused(P.with_trainer, back, m, P.QueueTrainer(collections.deque([P.Trainer(m)])))
