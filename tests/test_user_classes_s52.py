"""Whose a class is, decided by identity, not by the name of its ``__module__`` (red52 W1, W2, C1, FR3, t29).

Classes defined by code exec'd in globals without ``"__name__"`` are named "builtins"; a user's module may be
named ``runtime`` (sct's runtime installs as ``sct.runtime``).  Was: each taken for Python's or sct's own by
that name: the user's ``__mul__`` differentiated as numpy's ``*`` (wrong gradient), the global holder of a
model from the user's ``runtime.py`` not followed (a gradient without its part), a crash in the gradient
code, false refusals.  Each case is exact (against central differences) or refused naming the user's line.
"""
import builtins
import importlib
import linecache
import sys
import types

import numpy as np
import pytest

import sct
from sct import dlarray, dlfeval, dlgradient
from sct.runtime.origins import in_package, module_name, module_top

X0 = np.array([0.3, -0.7, 1.1])
W0 = np.array([0.5, -1.0, 2.0])


def fd(f, w, h=1e-6):
    return np.array([(f(w + h * e) - f(w - h * e)) / (2 * h) for e in np.eye(w.size)])


def D(v):
    return np.asarray(v.data if isinstance(v, dlarray) else v, dtype=float)


def cell(src, name="<cell-s52>", **ns):
    """``src`` exec'd as a notebook front end without ``__name__`` does (a loader, a harness)."""
    linecache.cache[name] = (len(src), None, src.splitlines(True), name)
    ns = {"np": np, "dlgradient": dlgradient, **ns}
    exec(compile(src, name, "exec"), ns)
    return ns


W1_SRC = """
class Gain:
    def __init__(self, g): self.g = g
    def __mul__(self, o): return np.tanh(o) * self.g
    __rmul__ = __mul__
class Lin:
    def __init__(self, W): self.W = W
    def __call__(self, x): return np.sin(self.W * x)
def loss(m, gain, x):
    h = m(x)
    y = gain * h
    L = np.sum(y ** 2)
    return L, dlgradient(L, m.W), dlgradient(L, x), dlgradient(L, gain.g)
"""


def test_operator_methods_of_a_class_exec_without_name():
    """W1: was dL/dW = [0.2348, -0.8726, -1.0774] (numpy's * differentiated), dL/dg a crash."""
    ns = cell(W1_SRC)
    assert ns["Gain"].__module__ == "builtins" and module_top(ns["Gain"]) == ""
    g0 = 1.7

    def plain(W, x, g):
        return np.sum((np.tanh(np.sin(W * x)) * g) ** 2)
    L, gW, gx, gg = dlfeval(ns["loss"], ns["Lin"](dlarray(W0)), ns["Gain"](dlarray(g0)), dlarray(X0))
    assert np.isclose(float(L), plain(W0, X0, g0))
    assert np.allclose(D(gW), fd(lambda w: plain(w, X0, g0), W0), atol=1e-6)
    assert np.allclose(D(gx), fd(lambda x: plain(W0, x, g0), X0), atol=1e-6)
    assert np.allclose(D(gg), fd(lambda g: plain(W0, X0, g[0]), np.array([g0])), atol=1e-6)


def test_neg_and_matmul_of_a_class_exec_without_name():
    """C1: was an EvaluationError (AttributeError: 'numpy.float64' object has no attribute 'W')."""
    ns = cell("""
class Neg:
    def __init__(self, W): self.W = W
    def __neg__(self): return Neg(np.exp(self.W))
    def __matmul__(self, o): return np.sum(self.W * o)
def f(W, x):
    n = -Neg(W)
    L = n @ x
    return L, dlgradient(L, W)
""", name="<cell-s52-neg>")
    L, g = dlfeval(ns["f"], dlarray(W0), dlarray(X0))
    assert np.isclose(float(L), np.sum(np.exp(W0) * X0))
    assert np.allclose(D(g), np.exp(W0) * X0)


def test_helper_rebound_between_calls_exec_without_name():
    """FR3: was refused at the second call ("... Change it before calling dlfeval, not while it runs")."""
    ns = cell("""
def act(z):
    return np.tanh(z)
class Layer:
    def __init__(self, W): self.W = W
    def __call__(self, x): return act(self.W * x)
def loss(m, x):
    L = np.sum(m(x) ** 2)
    return L, dlgradient(L, m.W)
""", name="<cell-s52-act>")
    for act in (np.tanh, np.cos, lambda z: np.sin(z) * 2.0):
        ns["act"] = act if act is not np.tanh else ns["act"]
        L, g = dlfeval(ns["loss"], ns["Layer"](dlarray(W0)), dlarray(X0))

        def plain(W):
            return np.sum(act(W * X0) ** 2)
        assert np.isclose(float(L), plain(W0))
        assert np.allclose(D(g), fd(plain, W0), atol=1e-6)


T29_SRC = """
class Empty: pass
class Prop:
    def __init__(self, W): self._W = W
    @property
    def W(self): return self._W * 2.0
class Item:
    def __init__(self, W): self.W = W
    def __getitem__(self, i): return self.W[i] ** 2
def f_prop(W, x):
    p = Prop(W); L = np.sum(np.tanh(p.W * x) ** 2); return L, dlgradient(L, W)
def f_item(W, x):
    it = Item(W); L = it[0] + it[2] * x[1]; return L, dlgradient(L, W)
def f_empty(W, x):
    e = Empty(); e.v = W * 2.0; L = np.sum(np.sin(e.v) * x); return L, dlgradient(L, W)
"""

T29_PLAIN = {
    "f_prop": lambda W: np.sum(np.tanh(W * 2.0 * X0) ** 2),
    "f_item": lambda W: W[0] ** 2 + W[2] ** 2 * X0[1],
    "f_empty": lambda W: np.sum(np.sin(W * 2.0) * X0),
}


@pytest.mark.parametrize("name", sorted(T29_PLAIN))
def test_property_getitem_empty_class_exec_without_name(name):
    """t29: each was refused without ``__name__`` in the globals (accepted with it)."""
    ns = cell(T29_SRC, name="<cell-s52-t29>")
    L, g = dlfeval(ns[name], dlarray(W0), dlarray(X0))
    assert np.isclose(float(L), T29_PLAIN[name](W0))
    assert np.allclose(D(g), fd(T29_PLAIN[name], W0), atol=1e-6)


MODEL_SRC = '''
import numpy as np
class Model:
    def __init__(self, W): self.W = W
    def forward(self, x): return np.tanh(self.W * x) * 2.0
class Holder:
    def __init__(self): self.m = None
class Gain:
    def __init__(self, g): self.g = g
    def __mul__(self, o): return np.tanh(o) * self.g
    __rmul__ = __mul__
'''


@pytest.fixture
def user_module(tmp_path):
    """Import the user's module of a given name (``runtime``) from tmp_path; sys.modules restored after."""
    saved = dict(sys.modules)
    sys.path.insert(0, str(tmp_path))

    def load(name):
        (tmp_path / (name + ".py")).write_text(MODEL_SRC)
        sys.modules.pop(name, None)
        importlib.invalidate_caches()
        return importlib.import_module(name)
    yield load
    sys.path.remove(str(tmp_path))
    for k in set(sys.modules) - set(saved):
        del sys.modules[k]
    sys.modules.update(saved)


HOLDER = None        # a global holder (a registry, a trainer) of the model


def _holder_loss(m, x):
    L = np.sum(m.forward(x) ** 2) + np.sum(HOLDER.m.W * x)
    return L, dlgradient(L, m.W)          # the line named


def test_global_holder_from_a_users_module_named_runtime(user_module):
    """W2: was dL/dW = [0.3494, -2.1483, 0.4115] (the read through the global HOLDER dropped); now refused, as
    for any other module's name ("also reached through the global HOLDER"), at the line of the dlgradient."""
    global HOLDER
    M = user_module("runtime")
    assert module_top(M.Model) == "" and module_name(M.Model) == ""
    m = M.Model(dlarray(W0))
    HOLDER = M.Holder()
    HOLDER.m = m
    try:
        with pytest.raises(sct.SctError) as err:
            dlfeval(_holder_loss, m, dlarray(X0))
    finally:
        HOLDER = None
    line = _holder_loss.__code__.co_firstlineno + 2
    assert f"line {line}" in str(err.value) and "also reached through the global HOLDER" in str(err.value)


def test_origins():
    """Python's own types and functions are "builtins"; a class a class statement made is not, whatever its
    name; sct's runtime is "sct"; a prefix matches whole dotted components."""
    assert module_top(int) == module_top(len) == module_top(type(None)) == module_top(types.FunctionType) == \
        "builtins"
    Fake = type("Fake", (), {"__module__": "builtins"})
    assert module_top(Fake) == "" and module_name(Fake) == ""
    assert module_top(dlarray) == "sct" and module_top(np.ndarray) == "numpy"
    assert module_top(getattr(builtins, "print")) == "builtins" and module_top(ExceptionGroup) == "builtins"
    assert in_package("numpy.linalg", "numpy") and not in_package("numpy_models", "numpy")
    assert not in_package("runtime_cfg", "runtime") and in_package("sct", "sct")


def test_list_subclass_with_iter_exec_without_name_refused():
    """A list subclass with its own __iter__ from exec'd code: was skipped as Python's own ("builtins") and
    walked several times, L = 0.3294 and half the gradient ([0.2866, ...] where [0.5732, ...]); now refused
    at the line passing it, as in a module."""
    ns = cell("""
class L2(list):
    def __iter__(self):
        for v in list.__iter__(self):
            yield v * 2.0
def f(ws, x):
    L = 0.0
    for w in ws:
        L = L + np.sum(np.sin(w * x))
    return L, dlgradient(L, ws[0])
""", name="<cell-s52-list>")
    with pytest.raises(sct.SctError) as err:
        dlfeval(ns["f"], ns["L2"]([dlarray(W0)]), dlarray(X0))
    line = sys._getframe().f_lineno - 1
    assert f"line {line}" in str(err.value) and "__iter__" in str(err.value)


def test_operator_class_of_a_users_module_named_numpy_models(user_module):
    """A user's module named numpy_models: its class's __mul__ was taken for numpy's (a prefix test), refused
    as "an object of numpy's"; now the user's operator, differentiated exactly."""
    M = user_module("numpy_models")
    assert module_top(M.Gain) == "numpy_models"

    def loss(W, gain, x):
        L = np.sum((gain * np.sin(W * x)) ** 2)
        return L, dlgradient(L, W)
    L, g = dlfeval(loss, dlarray(W0), M.Gain(1.7), dlarray(X0))

    def plain(W):
        return np.sum((np.tanh(np.sin(W * X0)) * 1.7) ** 2)
    assert np.isclose(float(L), plain(W0)) and np.allclose(D(g), fd(plain, W0), atol=1e-6)


HOLDER_SRC = """
class M:
    def __init__(self, W): self.W = W
def getm():
    return getm.model
class Reg:
    model = None
def loss_fn(m, x):
    L = np.sum(getm.model.W * x) + np.sum(np.sin(m.W * x))
    return L, dlgradient(L, m.W)
def loss_cls(m, x):
    L = np.sum(Reg.model.W * x) + np.sum(np.sin(m.W * x))
    return L, dlgradient(L, m.W)
"""


@pytest.mark.parametrize("name,line", [("loss_fn", 10), ("loss_cls", 13)])
def test_holder_function_or_class_exec_without_name_refused(name, line):
    """A function (``getm.model``) or class attribute (``Reg.model``) of exec'd code holding the argument's
    model: was a gradient without the part through the holder ([0.2966, -0.5354, -0.6474] where [0.5966,
    -1.2354, 0.4526]; the function's ``__module__`` None, the class's "builtins", taken for a library's);
    now refused as with ``__name__`` in the globals, at the dlgradient's line."""
    ns = cell(HOLDER_SRC, name="<cell-s52-holder>")
    m = ns["M"](dlarray(W0))
    ns["getm"].model = m
    ns["Reg"].model = m
    with pytest.raises(sct.SctError) as err:
        dlfeval(ns[name], m, dlarray(X0))
    assert f"<cell-s52-holder>, line {line}" in str(err.value) and "also" in str(err.value)
