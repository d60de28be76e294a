"""Red team 48: state changed by a call that a second derivative's recomputation replays (a method of
the object, a helper rebinding a global or a closure variable) and read in between by a call that
the recomputation runs again (``n(x)``, ``n.forward(x)``, ``M.apply(x)``, a helper reading the
global) was read as the first run left it at the end: value, first and second gradients wrong
(``n.set(False); y = sum(n(x)**2); n.set(True)``: g = 8x for Python's 18x).  Each form is refused
now at the line of the change, naming the reading line (sct/recompute_writes.py, sct/rebinds.py);
the forms where the recomputation reads what Python read (no change after the read) stay exact."""
import sys
import types

import numpy as np
import pytest

import sct
from sct import EvaluationError, dlarray, dlfeval, dlgradient, extractdata

# the programs, in a module of their own (pytest rewrites this one: its functions would not be the
# user's code sct reads as a plain module's)
PROGRAMS = r'''
import sys
import types

import numpy as np

import sct
from sct import dlgradient


class Net:
    def __init__(self):
        self.training = True

    def set(self, v):
        self.training = v

    def eval(self):
        self.training = False

    def train(self):
        self.training = True

    def __call__(self, t):
        return t * (2.0 if self.training else 3.0)

    def forward(self, t):
        return t * (2.0 if self.training else 3.0)


def toggled_call(x, n):
    n.set(False)
    y = np.sum(n(x) ** 2)
    n.set(True)
    g = dlgradient(y, x)
    return g, dlgradient(np.sum(g ** 2), x)


def toggled_forward(x, n):
    n.eval()
    y = np.sum(n.forward(x) ** 2)
    n.train()
    g = dlgradient(y, x)
    return g, dlgradient(np.sum(g ** 2), x)


NET = Net()


def toggled_global(x):
    NET.eval()
    y = np.sum(NET(x) ** 2)
    NET.train()
    g = dlgradient(y, x)
    return g, dlgradient(np.sum(g ** 2), x)


class M:
    scale = 2.0

    @classmethod
    def set(cls, v):
        cls.scale = v

    @classmethod
    def apply(cls, t):
        return t * cls.scale


def toggled_classmethod(x):
    M.set(3.0)
    y = np.sum(M.apply(x) ** 2)
    M.set(2.0)
    g = dlgradient(y, x)
    return g, dlgradient(np.sum(g ** 2), x)


def toggled_laplacian(x, n):
    n.set(False)
    u = np.sum(n(x) ** 3, axis=1)
    n.set(True)
    return sct.dllaplacian(u, x, 0), sct.dljacobian(u, x, 0)


class Critic:
    def __init__(self, W):
        self.W = W
        self.training = True

    def eval(self):
        self.training = False

    def train(self):
        self.training = True

    def __call__(self, x):
        h = np.tanh(x @ self.W)
        if self.training:
            h = h * 0.5
        return np.sum(h)


def gp_loss(critic, x):
    critic.eval()
    d = critic(x)
    critic.train()
    gx = dlgradient(d, x)
    penalty = np.sum(gx ** 2)
    return penalty, dlgradient(penalty, critic.W)


def gp_loss_train_first(critic, x):
    critic.train()
    d = critic(x)
    gx = dlgradient(d, x)
    penalty = np.sum(gx ** 2)
    return penalty, dlgradient(penalty, critic.W)


SCALE = 2.0


def set_scale(v):
    global SCALE
    SCALE = v


def set_scale_dict(v):
    globals()["SCALE"] = v


def set_scale_module(v):
    setattr(sys.modules[__name__], "SCALE", v)


def layer(t):
    return t * SCALE


def _toggling(setter):
    def f(x):
        setter(3.0)
        y = np.sum(layer(x) ** 2)
        setter(2.0)
        g = dlgradient(y, x)
        return g, dlgradient(np.sum(g ** 2), x)
    return f


def _make_cell():
    s = 2.0

    def setter(v):
        nonlocal s
        s = v

    def read(t):
        return t * s
    return setter, read


CELL_SET, CELL_READ = _make_cell()


def toggled_cell(x):
    CELL_SET(3.0)
    y = np.sum(CELL_READ(x) ** 2)
    CELL_SET(2.0)
    g = dlgradient(y, x)
    return g, dlgradient(np.sum(g ** 2), x)


OTHER = types.ModuleType("sct_s48_other")
exec("SCALE = 2.0\ndef set_scale(v):\n    global SCALE\n    SCALE = v\n", OTHER.__dict__)
sys.modules[OTHER.__name__] = OTHER


def layer_other(t):
    return t * OTHER.SCALE


def toggled_other_module(x):
    OTHER.set_scale(3.0)
    y = np.sum(layer_other(x) ** 2)
    OTHER.set_scale(2.0)
    g = dlgradient(y, x)
    return g, dlgradient(np.sum(g ** 2), x)


def step2(w, x):
    set_scale(3.0)
    loss = np.sum(layer(w * x) ** 2)
    set_scale(2.0)
    g = dlgradient(loss, w)
    return w - 0.1 * g


def unrolled(w, x):
    v = step2(step2(w, x), x)
    L = np.sum(v ** 2)
    return L, dlgradient(L, w)


def first_order_toggle(x, n):
    n.set(False)
    y = np.sum(n(x) ** 2)
    n.set(True)
    return y, dlgradient(y, x)


def set_then_read(x, n):
    n.set(False)
    y = np.sum(n(x) ** 2)
    g = dlgradient(y, x)
    return g, dlgradient(np.sum(g ** 2), x)


def toggle_then_read(x, n):
    n.eval()
    n.train()
    y = np.sum(n.forward(x) ** 2)
    g = dlgradient(y, x)
    return g, dlgradient(np.sum(g ** 2), x)


def set_back_after_site(x, n):
    n.set(False)
    y = np.sum(n(x) ** 2)
    g = dlgradient(y, x)
    n.set(True)
    return g, dlgradient(np.sum(g ** 2), x)


def global_set_then_read(x):
    set_scale(3.0)
    y = np.sum(layer(x) ** 2)
    g = dlgradient(y, x)
    return g, dlgradient(np.sum(g ** 2), x)


LOG = []


def log(v):
    LOG.append(v)


def logged(x, n):
    log("start")
    y = np.sum(n(x) ** 2)
    log("loss")
    g = dlgradient(y, x)
    return g, dlgradient(np.sum(g ** 2), x)



# --- more forms: a library's method reads, a read before the change, an argument's method rebinding

CFG = {"s": 2.0}


def set_c(v):
    CFG["s"] = v


def dict_get_toggled(x):
    set_c(3.0)
    y = np.sum((x * CFG.get("s")) ** 2)
    set_c(2.0)
    g = dlgradient(y, x)
    return g, dlgradient(np.sum(g ** 2), x)


def read_then_eval(x, n):
    y = np.sum(n(x) ** 2)
    n.eval()
    g = dlgradient(y, x)
    return g, dlgradient(np.sum(g ** 2), x)


class Setter:
    def set_scale(self, v):
        global SCALE
        SCALE = v


class Scaled:
    def __call__(self, t):
        return t * SCALE


def method_rebinds_global(x, c, n):
    c.set_scale(3.0)
    y = np.sum(n(x) ** 2)
    c.set_scale(2.0)
    g = dlgradient(y, x)
    return g, dlgradient(np.sum(g ** 2), x)


class Sched:
    def __init__(self):
        self.t = 0

    def step(self):
        self.t += 1

    def lr(self):
        return 2.0 + self.t


SCHED = Sched()


def sched_read_then_step(x):
    k = SCHED.lr()
    y = np.sum((k * x) ** 2)
    SCHED.step()
    g = dlgradient(y, x)
    return g, dlgradient(np.sum(g ** 2), x)


def global_train_at_top(x):
    NET.train()
    y = np.sum(NET(x) ** 2)
    g = dlgradient(y, x)
    return g, dlgradient(np.sum(g ** 2), x)


STEP = 0


def tick():
    global STEP
    STEP += 1


def ticks_around(x, n):
    tick()
    y = np.sum(n(x) ** 2)
    tick()
    g = dlgradient(y, x)
    return g, dlgradient(np.sum(g ** 2), x)


class Scale:
    scale = 2.0

    @classmethod
    def set(cls, v):
        cls.scale = v

    def apply(self, t):
        return t * self.scale


SCALER = Scale()


def layer_instance(t):
    return t * SCALER.scale


def class_toggled_instance_read(x):
    Scale.set(3.0)
    y = np.sum(layer_instance(x) ** 2)
    Scale.set(2.0)
    g = dlgradient(y, x)
    return g, dlgradient(np.sum(g ** 2), x)


def class_toggled_method_of_argument(x, m):
    Scale.set(3.0)
    y = np.sum(m.apply(x) ** 2)
    Scale.set(2.0)
    g = dlgradient(y, x)
    return g, dlgradient(np.sum(g ** 2), x)


def class_set_then_instance_read(x):
    Scale.set(3.0)
    y = np.sum(SCALER.apply(x) ** 2)
    g = dlgradient(y, x)
    return g, dlgradient(np.sum(g ** 2), x)


NETS = [Net()]
NET_BY_NAME = {"n": Net()}


def list_item_toggled(x):
    NETS[0].eval()
    y = np.sum(NETS[0](x) ** 2)
    NETS[0].train()
    g = dlgradient(y, x)
    return g, dlgradient(np.sum(g ** 2), x)


def dict_item_toggled(x):
    NET_BY_NAME["n"].eval()
    y = np.sum(NET_BY_NAME["n"].forward(x) ** 2)
    NET_BY_NAME["n"].train()
    g = dlgradient(y, x)
    return g, dlgradient(np.sum(g ** 2), x)
'''


def _load():
    import importlib.util
    import tempfile
    folder = tempfile.mkdtemp(prefix="sct_s48_")
    path = f"{folder}/recompute_state_s48_progs.py"
    with open(path, "w") as out:
        out.write(PROGRAMS)
    spec = importlib.util.spec_from_file_location("recompute_state_s48_progs", path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


P = _load()
X = np.array([0.5, -1.0])


def _second(f, *extra):
    g, h = dlfeval(f, dlarray(X.copy()), *extra)
    return np.asarray(extractdata(g)), np.asarray(extractdata(h))


def _refused(f, line_of, *extra, reads=None):
    with pytest.raises(EvaluationError) as e:
        _second(f, *extra)
    text = str(e.value)
    assert f"line {line_of}" in text.split(":")[0] + text.split(":")[1], text
    assert "dlgradient" in text and "recomputes" in text
    if reads is not None:
        assert f"the call on line {reads} reads it" in text, text


def _line(fn, needle: str) -> int:
    import inspect
    lines, start = inspect.getsourcelines(fn)
    return start + next(k for k, t in enumerate(lines) if needle in t)

@pytest.mark.parametrize("f,args", [(P.toggled_call, (P.Net,)), (P.toggled_forward, (P.Net,)), (P.toggled_global, ()),
                                    (P.toggled_classmethod, ())], ids=lambda v: getattr(v, "__name__", ""))
def test_method_change_read_by_a_call_is_refused(f, args):
    P.NET.train()
    P.M.scale = 2.0
    back = _line(f, ".set(2.0)" if f is P.toggled_classmethod else ".set(True)" if f is P.toggled_call else ".train()")
    _refused(f, back, *[a() for a in args], reads=back - 1)
    P.NET.train()
    P.M.scale = 2.0


def test_method_change_before_a_laplacian_is_refused():
    n = P.Net()
    with pytest.raises(EvaluationError) as e:
        dlfeval(P.toggled_laplacian, dlarray(np.array([[0.5, -1.0], [1.5, 2.0]])), n)
    assert f"line {_line(P.toggled_laplacian, 'n.set(True)')}" in str(e.value)


RNG = np.random.default_rng(0)
W0 = RNG.standard_normal((2, 2))
XC = RNG.standard_normal((3, 2))


def _penalty(W, half):
    t = np.tanh(XC @ W)
    gx = ((1 - t ** 2) * (0.5 if half else 1.0)) @ W.T
    return np.sum(gx ** 2)


def _fd(fun, W, e=1e-6):
    out = np.zeros_like(W)
    for k in np.ndindex(W.shape):
        d = np.zeros_like(W)
        d[k] = e
        out[k] = (fun(W + d) - fun(W - d)) / (2 * e)
    return out


def test_wgan_gp_critic_eval_train_around_the_read_is_refused():
    c = P.Critic(dlarray(W0))
    with pytest.raises(EvaluationError) as e:
        dlfeval(P.gp_loss, c, dlarray(XC))
    back = _line(P.gp_loss, "critic.train()")
    assert f"line {back}:" in str(e.value) and f"the call on line {back - 1} reads it" in str(e.value)
    assert c.training


def test_wgan_gp_critic_set_before_the_read_stays_exact():
    c = P.Critic(dlarray(W0))
    c.eval()
    p, gW = dlfeval(P.gp_loss_train_first, c, dlarray(XC))
    assert np.isclose(float(extractdata(p)), _penalty(W0, True))
    np.testing.assert_allclose(extractdata(gW), _fd(lambda W: _penalty(W, True), W0), rtol=1e-6, atol=1e-7)
    assert c.training


# --- finding 2: a helper rebinds a global (or a closure variable) another helper reads -------------

@pytest.mark.parametrize("setter", [P.set_scale, P.set_scale_dict, P.set_scale_module], ids=lambda s: s.__name__)
def test_global_rebound_by_a_helper_read_by_another_is_refused(setter):
    f = P._toggling(setter)
    back = _line(f, "setter(2.0)")
    try:
        _refused(f, back, reads=back - 1)
    finally:
        P.set_scale(2.0)
    assert P.SCALE == 2.0


def test_closure_variable_rebound_by_a_sibling_is_refused():
    try:
        back = _line(P.toggled_cell, "CELL_SET(2.0)")
        _refused(P.toggled_cell, back, reads=back - 1)
    finally:
        P.CELL_SET(2.0)


def test_other_modules_global_rebound_by_its_setter_is_refused():
    try:
        back = _line(P.toggled_other_module, "OTHER.set_scale(2.0)")
        _refused(P.toggled_other_module, back, reads=back - 1)
    finally:
        P.OTHER.set_scale(2.0)


def test_helper_step_with_a_global_toggle_is_refused():
    with pytest.raises(EvaluationError) as e:
        dlfeval(P.unrolled, dlarray(np.array([0.3, -0.6, 1.2])), np.array([1.0, 0.5, -0.8]))
    P.set_scale(2.0)
    assert f"line {_line(P.step2, 'set_scale(2.0)')}" in str(e.value)


# --- the forms that stay exact ------------------------------------------------------------------

def test_first_order_toggle_is_exact():
    n = P.Net()
    y, g = dlfeval(P.first_order_toggle, dlarray(X.copy()), n)
    assert np.isclose(float(extractdata(y)), 9 * np.sum(X ** 2))
    np.testing.assert_allclose(extractdata(g), 18 * X)
    assert n.training


@pytest.mark.parametrize("f,k,end", [(P.set_then_read, 3.0, False), (P.toggle_then_read, 2.0, True),
                                     (P.set_back_after_site, 3.0, True), (P.logged, 2.0, True)],
                         ids=lambda v: getattr(v, "__name__", str(v)))
def test_change_before_every_read_stays_exact(f, k, end):
    n = P.Net()
    g, h = _second(f, n)
    # y = k^2 sum(x^2): g = 2 k^2 x, sum(g^2) = 4 k^4 sum(x^2), h = 8 k^4 x
    np.testing.assert_allclose(g, 2 * k ** 2 * X)
    np.testing.assert_allclose(h, 8 * k ** 4 * X)
    assert n.training is end


def test_log_helper_runs_once():
    P.LOG.clear()
    _second(P.logged, P.Net())
    assert P.LOG == ["start", "loss"]


def test_global_set_then_read_stays_exact():
    try:
        g, h = _second(P.global_set_then_read)
        np.testing.assert_allclose(g, 18 * X)
        np.testing.assert_allclose(h, 8 * 81 * X)
        assert P.SCALE == 3.0
    finally:
        P.set_scale(2.0)


def fd_check():
    """The right values of the toggled programs (what the refusals stand for): Python's, by central
    differences of the plain function."""
    def plain(x):
        return np.sum((x * 3.0) ** 2)
    e = 1e-6
    return np.array([(plain(X + e * d) - plain(X - e * d)) / (2 * e) for d in np.eye(2)])


def test_reference_of_the_toggled_programs():
    np.testing.assert_allclose(fd_check(), 18 * X, rtol=1e-6)


def test_library_method_read_of_a_toggled_dict_is_refused():
    try:
        back = _line(P.dict_get_toggled, "set_c(2.0)")
        _refused(P.dict_get_toggled, back, reads=back - 1)
    finally:
        P.set_c(2.0)


def test_call_read_before_a_method_change_is_refused():
    back = _line(P.read_then_eval, "n.eval()")
    _refused(P.read_then_eval, back, P.Net(), reads=back - 1)


def test_arguments_method_rebinding_a_global_is_refused():
    try:
        back = _line(P.method_rebinds_global, "c.set_scale(2.0)")
        _refused(P.method_rebinds_global, back, P.Setter(), P.Scaled(), reads=back - 1)
    finally:
        P.set_scale(2.0)


def test_scheduler_read_then_stepped_stays_exact():
    P.SCHED.t = 0
    g, h = _second(P.sched_read_then_step)
    np.testing.assert_allclose(g, 8 * X)
    np.testing.assert_allclose(h, 128 * X)
    assert P.SCHED.t == 1


def test_global_model_trained_at_the_top_stays_exact():
    P.NET.eval()
    g, h = _second(P.global_train_at_top)
    np.testing.assert_allclose(g, 8 * X)
    np.testing.assert_allclose(h, 128 * X)
    assert P.NET.training


def test_global_counter_ticked_around_a_read_that_does_not_read_it_stays_exact():
    P.STEP = 0
    g, h = _second(P.ticks_around, P.Net())
    np.testing.assert_allclose(g, 8 * X)
    np.testing.assert_allclose(h, 128 * X)
    assert P.STEP == 2


@pytest.mark.parametrize("name", ["class_toggled_instance_read", "class_toggled_method_of_argument"])
def test_class_attribute_toggled_read_through_an_instance_is_refused(name):
    f = getattr(P, name)
    extra = (P.Scale(),) if name.endswith("argument") else ()
    try:
        back = _line(f, "Scale.set(2.0)")
        _refused(f, back, *extra, reads=back - 1)
    finally:
        P.Scale.scale = 2.0


def test_class_attribute_set_before_the_instance_read_stays_exact():
    try:
        g, h = _second(P.class_set_then_instance_read)
        np.testing.assert_allclose(g, 18 * X)
        np.testing.assert_allclose(h, 8 * 81 * X)
    finally:
        P.Scale.scale = 2.0


@pytest.mark.parametrize("name,shown", [("list_item_toggled", "NETS[0]"), ("dict_item_toggled", "NET_BY_NAME['n']")])
def test_item_object_toggled_around_a_call_is_refused(name, shown):
    f = getattr(P, name)
    back = _line(f, ".train()")
    _refused(f, back, reads=back - 1)
    with pytest.raises(EvaluationError) as e:
        _second(f)
    assert f"changes {shown}" in str(e.value)
