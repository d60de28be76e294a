"""A global or closure variable rebound during the call by code reached through a wrapper sct emits
as it is (functools.partial, functools.cache/lru_cache, np.vectorize, np.frompyfunc), or by the
function itself through its own module object (``THIS.Q = 5.0``), is refused naming the line (was:
read stale, red54c W3/W5); a custom layer's backward deleted after compiling recompiles (red54c C1).
Everyday code (module constants, pure partials and caches, a write after the last read) still runs,
checked against plain numpy and central differences."""
import importlib
import sys
import textwrap
import uuid

import numpy as np
import pytest

import sct
from sct import CompileError, EvaluationError, Layer, dlarray, dlfeval, dlgradient
from gradcheck import assert_close, numerical_gradient

X = np.array([0.3, 0.7])


@pytest.fixture
def modules(tmp_path, monkeypatch):
    monkeypatch.syspath_prepend(str(tmp_path))
    made = []

    def make(text: str):
        name = "user_s54_" + uuid.uuid4().hex[:10]
        (tmp_path / f"{name}.py").write_text(textwrap.dedent(text))
        importlib.invalidate_caches()
        made.append(name)
        return importlib.import_module(name)

    yield make
    for name in made:
        sys.modules.pop(name, None)


def _line(module, marker: str) -> int:
    """The line of ``module``'s source holding ``marker``."""
    with open(module.__file__) as f:
        return next(i for i, text in enumerate(f, 1) if marker in text)


def _refused(module, name, marker, what):
    """Calling ``module.name`` is refused (at compile or run time) naming the user's file and the line
    holding ``marker``, and the message names ``what``."""
    with pytest.raises((CompileError, EvaluationError)) as info:
        dlfeval(getattr(module, name), dlarray(X))
    err = info.value
    assert err.filename == module.__file__, str(err)
    assert err.lineno == _line(module, marker), str(err)
    assert any(w in str(err) for w in ((what,) if isinstance(what, str) else what)), str(err)


# --- W3: the function rebinds its own module's global through the module object --------------------

OWN = """
import sys
import numpy as np
from sct import dlgradient
THIS = sys.modules[__name__]
Q = 1.0

def f_attr(x):
    a = np.sum(Q * x**2)
    THIS.Q = 5.0                     # W-attr
    y = a + np.sum(Q * x)
    return y, dlgradient(y, x)

def f_setattr(x):
    a = np.sum(Q * x**2)
    setattr(THIS, "Q", 5.0)          # W-setattr
    y = a + np.sum(Q * x)
    return y, dlgradient(y, x)

def f_sysmod(x):
    a = np.sum(Q * x**2)
    sys.modules[__name__].Q = 5.0    # W-sysmod
    y = a + np.sum(Q * x)
    return y, dlgradient(y, x)

def f_method(x):
    a = np.sum(Q * x**2)
    THIS.__setattr__("Q", 5.0)       # W-method
    y = a + np.sum(Q * x)
    return y, dlgradient(y, x)

def f_loop(x):
    y = 0.0
    for i in range(2):
        y = y + np.sum(Q * x)
        THIS.Q = 5.0                 # W-loop
    return y, dlgradient(y, x)

def f_alias(x):
    m = THIS
    a = np.sum(Q * x**2)
    m.Q = 5.0                        # W-alias
    y = a + np.sum(Q * x)
    return y, dlgradient(y, x)

def f_alias_setattr(x):
    m = sys.modules[__name__]
    a = np.sum(Q * x**2)
    setattr(m, "Q", 5.0)             # W-alias-setattr
    y = a + np.sum(Q * x)
    return y, dlgradient(y, x)

def f_alias_loop(x):
    a = np.sum(Q * x**2)
    for m in [THIS]:
        m.Q = 5.0                    # W-alias-loop
    y = a + np.sum(Q * x)
    return y, dlgradient(y, x)
"""


@pytest.mark.parametrize("name, marker", [("f_attr", "W-attr"), ("f_setattr", "W-setattr"),
                                          ("f_sysmod", "W-sysmod"), ("f_method", "W-method"),
                                          ("f_loop", "W-loop"), ("f_alias", "W-alias"),
                                          ("f_alias_setattr", "W-alias-setattr"),
                                          ("f_alias_loop", "W-alias-loop")])
def test_own_module_write_then_read_is_refused(modules, name, marker):
    user = modules(OWN)
    _refused(user, name, marker, ("'Q'", "(Q)"))


OWN_FINE = """
import sys
import numpy as np
from sct import dlgradient
THIS = sys.modules[__name__]
Q = 1.0
CALLS = 0

class Box:
    Q = 0.0

def f(x):
    y = np.sum(Q * x**2)
    THIS.CALLS = CALLS + 1           # a write after the last read: Python's value
    m = THIS
    m.Q = Q                          # (through an alias too)
    b = Box()
    b.Q = 3.0                        # an attribute named like the global, of another object
    b.inner = Box()
    b.inner.Q = Q                    # (through an attribute, an item)
    objs = [b]
    objs[0].Q = 3.0
    setattr(b, "Q", 3.0)
    y = y + np.sum(b.Q * x) + np.sum(b.inner.Q * Q * x)
    return y, dlgradient(y, x)
"""


def test_own_module_write_after_last_read_runs(modules):
    user = modules(OWN_FINE)
    ref = lambda v: np.sum(1.0 * v**2) + np.sum(3.0 * v) + np.sum(v)
    for calls in (1, 2):
        y, g = dlfeval(user.f, dlarray(X))
        assert_close(np.asarray(y), ref(X))
        assert_close(np.asarray(g), numerical_gradient(ref, [X.copy()], 0))
        assert user.CALLS == calls


# --- W5: a global / closure variable rebound through a wrapper ---------------------------------------

WRAPPED = """
import functools, sys
import numpy as np
from sct import dlgradient
THIS = sys.modules[__name__]
SCALE = 1.0
Q = 1.0

@functools.cache
def load_scale():
    global SCALE
    SCALE = 5.0
    return True

def setq(*a):
    global Q
    Q = 5.0
    return 0.0

ps = functools.partial(setq, 1)
pattr = functools.partial(setattr, THIS, "Q", 5.0)
lc = functools.lru_cache(maxsize=None)(setq)
vec = np.vectorize(setq)
fp = np.frompyfunc(setq, 1, 1)

def f_cache(x):
    load_scale()
    a = np.sum(x)
    y = np.sum(SCALE * x**2) + a     # R-cache
    return y, dlgradient(y, x)

def f_partial(x):
    a = np.sum(Q * x**2)             # R-partial
    ps()
    y = a + np.sum(Q * x)
    return y, dlgradient(y, x)

def f_pattr(x):
    a = np.sum(Q * x**2)             # R-pattr
    pattr()
    y = a + np.sum(Q * x)
    return y, dlgradient(y, x)

def f_lru(x):
    a = np.sum(Q * x**2)             # R-lru
    lc()
    y = a + np.sum(Q * x)
    return y, dlgradient(y, x)

def f_vec(x):
    a = np.sum(Q * x**2)             # R-vec
    vec(1.0)
    y = a + np.sum(Q * x)
    return y, dlgradient(y, x)

def f_frompy(x):
    a = np.sum(Q * x**2)
    fp(1.0)                          # R-frompy
    y = a + np.sum(Q * x)
    return y, dlgradient(y, x)
"""


@pytest.mark.parametrize("name, marker", [("f_cache", "R-cache"), ("f_partial", "R-partial"),
                                          ("f_pattr", "R-pattr"), ("f_lru", "R-lru"), ("f_vec", "R-vec"),
                                          ("f_frompy", "R-frompy")])
def test_global_rebound_through_a_wrapper_is_refused(modules, name, marker):
    user = modules(WRAPPED)
    _refused(user, name, marker, "Q" if name != "f_cache" else "SCALE")


CLOSURE = """
import functools, types
import numpy as np
from sct import dlgradient

def make():
    k = 1.0
    def setk(v):
        nonlocal k
        k = v
    reset = functools.partial(setk, 5.0)
    def f(x):
        a = np.sum(k * x**2)         # R-cell
        reset()
        y = a + np.sum(k * x)
        return y, dlgradient(y, x)
    return f

def act1(t):
    return t

def act2(t):
    return 5.0 * t

A = types.SimpleNamespace(act=act1)
pa = functools.partial(setattr, A, "act", act2)

def f_act(x):
    a = np.sum(A.act(x**2) * 1.0)
    pa()                             # R-act
    y = a + np.sum(A.act(x))
    return y, dlgradient(y, x)
"""


def test_closure_variable_rebound_through_a_partial_is_refused(modules):
    user = modules(CLOSURE)
    user.f = user.make()
    _refused(user, "f", "R-cell", "'k'")


def test_called_attribute_rebound_through_a_partial_is_refused(modules):
    user = modules(CLOSURE)
    _refused(user, "f_act", "R-act", "act")


FINE = """
import functools
import numpy as np
from sct import dlgradient
K = 2.0

def scale(v, p=2):
    return K * v ** p

@functools.lru_cache(maxsize=None)
def weights(n):
    return tuple(0.5 * (i + 1) for i in range(n))

sq = functools.partial(scale, p=2)
three = functools.partial(max, 3.0)
vcount = np.vectorize(lambda t: t + 1.0)

def f(x):
    w = weights(2)
    c = three(1.0)
    d = float(vcount(1.0))
    y = np.sum(sq(x)) + np.sum(np.array(w) * x) * c + d * np.sum(x)
    return y, dlgradient(y, x)
"""


def test_everyday_wrappers_still_run(modules):
    user = modules(FINE)
    ref = lambda v: np.sum(2.0 * v ** 2) + np.sum(np.array([0.5, 1.0]) * v) * 3.0 + 2.0 * np.sum(v)
    for _ in range(2):
        y, g = dlfeval(user.f, dlarray(X))
        assert_close(np.asarray(y), ref(X))
        assert_close(np.asarray(g), numerical_gradient(ref, [X.copy()], 0))


# --- C1: a custom layer's backward deleted after compiling -------------------------------------------

class _Scale(Layer):
    learnables = ("A",)

    def __init__(self, a):
        self.A = a

    def predict(self, X):
        return self.A * X

    def backward(self, X, Z, dLdZ, memory):
        return 2 * self.A * dLdZ, np.sum(X * dLdZ, axis=0)      # twice the derivative: shows which runs


def _layer_loss(layer, X):
    y = np.sum(layer.predict(X) ** 2)
    return y, dlgradient(y, X)


def _through_helper(layer, X):
    y = _layer_sum(layer, X)
    return y, dlgradient(y, X)


def _layer_sum(layer, X):
    return np.sum(layer.predict(X) ** 2)


@pytest.mark.parametrize("loss", [_layer_loss, _through_helper])
def test_deleted_backward_recompiles(loss):
    saved = _Scale.backward
    layer, X0 = _Scale(dlarray(np.array([2.0, 3.0]))), np.array([[1.0, 1.0]])
    a = np.array([2.0, 3.0])
    derived = numerical_gradient(lambda v: np.sum((a * v) ** 2), [X0.copy()], 0)     # [[8, 18]]
    try:
        assert_close(np.asarray(dlfeval(loss, layer, dlarray(X0))[1]), 2 * derived)   # the custom one
        del _Scale.backward
        assert_close(np.asarray(dlfeval(loss, layer, dlarray(X0))[1]), derived)
    finally:
        _Scale.backward = saved
    assert_close(np.asarray(dlfeval(loss, layer, dlarray(X0))[1]), 2 * derived)


SECOND = """
import functools
import numpy as np
from sct import dlgradient

@functools.lru_cache(maxsize=None)
def coeffs(n):
    return tuple(np.arange(1.0, n + 1))

P = functools.partial(coeffs, 2)
vq = np.vectorize(lambda t: t * 2.0)

def f(x):
    c = np.array(P())
    d = float(vq(1.5))
    y = np.sum(c * x**3) * d
    g = dlgradient(y, x, EnableHigherDerivatives=True)
    z = np.sum(g**2)
    return z, dlgradient(z, x)
"""


def test_pure_wrappers_in_second_order_code(modules):
    """A pure partial, cache or vectorize called with constants is now run as a call of the user's code
    (replayed where the code is recomputed): second derivatives as Python's."""
    user = modules(SECOND)
    c = np.array([1.0, 2.0])
    ref = lambda v: np.sum((3 * c * v**2 * 3.0) ** 2)
    for _ in range(2):
        z, g = dlfeval(user.f, dlarray(X))
        assert_close(np.asarray(z), ref(X))
        assert_close(np.asarray(g), numerical_gradient(ref, [X.copy()], 0))
