"""Red team, Dec 4 (d): wrong values or gradients from cached compilations (staleness).

The same function is called again and again while something it depends on changes between the
calls (globals, closure cells, defaults, class and object attributes, helpers redefined, partials,
lambdas, the kinds of the arguments, options of dlgradient, accelerated functions, jvp/hvp after
dlfeval); every call's value and gradient must be plain Python's and its central differences.

Bugs found (fixed in sct/parse.py):
* a def whose text is held in memory (a notebook cell, exec'd code registered in linecache) was
  read from the text held *now*: a tool that runs another (or an edited) cell under the same
  file name gave the first cell's function the second cell's code (a wrong value, silently);
* a lambda was found in its file by line and columns only: a file edited after import (``np.sin``
  -> ``np.cos``, same columns) or a cell's text replaced gave the new text's code.
Both are now compiled again from the text read and compared with the code that runs; a mismatch
is refused with a CompileError at the user's file and line.
"""
from __future__ import annotations

import functools
import importlib
import linecache
import sys
import textwrap
import uuid

import numpy as np
import pytest

import sct
from sct import CompileError, dlaccelerate, dlarray, dlfeval, extractdata

from gradcheck import assert_close, numerical_gradient

X = np.array([0.3, -0.7, 1.1])


@pytest.fixture
def modules(tmp_path, monkeypatch):
    """``make(text)`` writes a module with a fresh name into tmp_path and imports it."""
    monkeypatch.syspath_prepend(str(tmp_path))
    made = []

    def make(text: str):
        name = "sct_dec4d_" + uuid.uuid4().hex[:10]
        path = tmp_path / f"{name}.py"
        path.write_text(textwrap.dedent(text))
        importlib.invalidate_caches()
        module = importlib.import_module(name)
        made.append(name)
        return module

    yield make
    for name in made:
        sys.modules.pop(name, None)


def check(fn, args, plain, index=0):
    """dlfeval(fn, *args) returns (y, dy/d args[index]); they are plain(x) and its central differences."""
    y, g = dlfeval(fn, *args)
    x = args[index]
    x = np.asarray(extractdata(x) if isinstance(x, dlarray) else x, dtype=float)
    assert float(extractdata(y)) == pytest.approx(float(plain(x)), rel=1e-12, abs=1e-12)
    g = np.asarray(extractdata(g))
    assert g.shape == x.shape
    assert_close(g, numerical_gradient(plain, [x.copy()], 0))


def run_cell(namespace, filename, text):
    """Run ``text`` as a notebook does: its text held by linecache under ``filename``."""
    linecache.cache[filename] = (len(text), None, text.splitlines(True), filename)
    exec(compile(text, filename, "exec"), namespace)


# --- the bugs: source read from text that is not the code that runs -----------------------------

def test_cell_run_again_under_the_same_name_is_refused_not_compiled_from_the_new_text():
    filename = f"<sct-dec4d-cell-{uuid.uuid4().hex[:8]}>"
    ns = {"__name__": "__sct_dec4d_cell__", "np": np, "dlgradient": sct.dlgradient}
    try:
        run_cell(ns, filename, "def f(x):\n    y = np.sum(np.sin(x))\n    return y, dlgradient(y, x)\n")
        first = ns["f"]
        check(first, [dlarray(X)], lambda x: np.sum(np.sin(x)))          # before: accepted, right
        run_cell(ns, filename, "def f(x):\n    y = np.sum(np.cos(x))\n    return y, dlgradient(y, x)\n")
        check(ns["f"], [dlarray(X)], lambda x: np.sum(np.cos(x)))         # the new cell: right
        # the first function was compiled already: its entry is still right
        check(first, [dlarray(X)], lambda x: np.sum(np.sin(x)))
        sct.clear_cache()
        # compiled again now: the text held is the second cell's, not first's code -> refused
        with pytest.raises(CompileError) as info:
            dlfeval(first, dlarray(X))
        assert info.value.filename == filename and info.value.lineno == 1
        assert "was replaced" in str(info.value) and "Run the cell" in str(info.value)
    finally:
        linecache.cache.pop(filename, None)


def test_cell_never_compiled_before_its_text_was_replaced_is_refused():
    filename = f"<sct-dec4d-cell-{uuid.uuid4().hex[:8]}>"
    ns = {"__name__": "__sct_dec4d_cell__", "np": np, "dlgradient": sct.dlgradient}
    try:
        run_cell(ns, filename, "def g(x):\n    y = np.sum(np.sin(x) * 2.0)\n    return y, dlgradient(y, x)\n")
        first = ns["g"]
        run_cell(ns, filename, "def g(x):\n    y = np.sum(np.sin(x) * 3.0)\n    return y, dlgradient(y, x)\n")
        with pytest.raises(CompileError) as info:
            dlfeval(first, dlarray(X))          # was: the value of 3.0 * sum(sin(x)), silently
        assert info.value.filename == filename
        check(ns["g"], [dlarray(X)], lambda x: np.sum(np.sin(x) * 3.0))
    finally:
        linecache.cache.pop(filename, None)


def test_cell_lambda_whose_text_was_replaced_is_refused(modules):
    user = modules('''
        import numpy as np
        from sct import dlgradient

        def apply(f, x):
            y = np.sum(f(x))
            return y, dlgradient(y, x)
    ''')
    filename = f"<sct-dec4d-cell-{uuid.uuid4().hex[:8]}>"
    ns = {"np": np}
    try:
        run_cell(ns, filename, "act = lambda v: np.sin(v)\n")
        first = ns["act"]
        run_cell(ns, filename, "act = lambda v: np.cos(v)\n")
        check(user.apply, [ns["act"], dlarray(X)], lambda x: np.sum(np.cos(x)), index=1)
        with pytest.raises(CompileError) as info:
            dlfeval(user.apply, first, dlarray(X))      # was: cos's value and gradient
        assert info.value.filename == filename and info.value.lineno == 1
    finally:
        linecache.cache.pop(filename, None)


def test_lambda_of_a_file_edited_after_import_is_refused(modules):
    user = modules('''
        import numpy as np
        from sct import dlgradient

        def apply(f, x):
            y = np.sum(f(x))
            return y, dlgradient(y, x)

        act = lambda v: np.sin(v)
    ''')
    path = user.__file__
    with open(path) as fh:
        text = fh.read()
    with open(path, "w") as fh:
        fh.write(text.replace("np.sin(v)", "np.cos(v)"))      # same line, same columns
    linecache.checkcache(path)
    with pytest.raises(CompileError) as info:
        dlfeval(user.apply, user.act, dlarray(X))             # was: cos's value and gradient
    assert info.value.filename == path and info.value.lineno == 9
    assert "Reload its module" in str(info.value)


def test_lambdas_whose_text_is_unchanged_are_accepted(modules):
    user = modules('''
        import numpy as np
        from sct import dlgradient

        def apply(f, x):
            y = np.sum(f(x))
            return y, dlgradient(y, x)

        act = lambda v: np.sin(v) * 2.0

        def make(c):
            return lambda v: np.tanh(v * c) + c

        class Holder:
            k = 3.0
            fun = staticmethod(lambda v: v ** 3)
    ''')
    check(user.apply, [user.act, dlarray(X)], lambda x: np.sum(np.sin(x) * 2.0), index=1)
    for c in (1.0, 2.5):
        check(user.apply, [user.make(c), dlarray(X)], lambda x: np.sum(np.tanh(x * c) + c), index=1)
    check(user.apply, [user.Holder.fun, dlarray(X)], lambda x: np.sum(x ** 3), index=1)
    filename = f"<sct-dec4d-cell-{uuid.uuid4().hex[:8]}>"
    ns = {"np": np}
    try:
        run_cell(ns, filename, "from __future__ import annotations\nk = 2.0\nact = lambda v: np.exp(v * k)\n")
        check(user.apply, [ns["act"], dlarray(X)], lambda x: np.sum(np.exp(x * 2.0)), index=1)
    finally:
        linecache.cache.pop(filename, None)


# --- what changes between calls: every call right -------------------------------------------------

STATE = '''
import functools
import numpy as np
from dataclasses import dataclass
from sct import dlgradient, dljacobian

G = 2.0
A = np.array([1.0, 2.0, 3.0])
FLAG = True
HIGHER = True
CONFIG = {"scale": 2.0, "use_sin": True}
LAYERS = [1.0, 2.0]
ACT = np.sin


class Cfg:
    pass


cfg = Cfg()
cfg.scale = 2.0
cfg.flag = True


def act(v):
    return np.sin(v)


def g_global(x):
    if FLAG:
        y = np.sum(np.sin(x * G) * A) + np.sum(ACT(x))
    else:
        y = np.sum(x ** 3 * G)
    return y, dlgradient(y, x)


def g_mutables(x):
    if CONFIG["use_sin"]:
        y = np.sum(np.sin(x * CONFIG["scale"]))
    else:
        y = np.sum(x ** 2) * CONFIG["scale"]
    for w in LAYERS:
        y = y + np.sum(x * w) ** 2
    return y, dlgradient(y, x)


def helper_obj(v):
    if cfg.flag:
        return np.sum(np.sin(v * cfg.scale))
    return np.sum(v ** 2) * cfg.scale


def g_helper(x):
    y = helper_obj(x) + np.sum(act(x))
    return y, dlgradient(y, x)


def make_nonlocal():
    c = 1.0

    def f(x):
        y = np.sum(np.sin(x * c))
        return y, dlgradient(y, x)

    def set_c(v):
        nonlocal c
        c = v
    return f, set_c


def g_default(x, c=2.0):
    y = np.sum(np.sin(x * c))
    return y, dlgradient(y, x)


class Model:
    scale = 2.0

    def __init__(self, w, layers):
        self.w = w
        self.flag = True
        self.layers = layers

    def act(self, v):
        return np.sin(v)

    def loss(self, x):
        if self.flag:
            y = np.sum(self.act(x) * self.scale * self.w)
        else:
            y = np.sum(x ** 3)
        for w in self.layers:
            y = y + np.sum(np.tanh(x * w))
        return y

    def step(self, x):
        y = self.loss(x)
        return y, dlgradient(y, x)


def g_args(x, p, k, items, cfg_arg, b=None):
    y = np.sum(x ** k * p)
    for v in items:
        y = y + np.sum(np.sin(x * v))
    if cfg_arg.kind == "a":
        y = y + np.sum(x ** cfg_arg.n) * cfg_arg.s
    else:
        y = y + np.sum(np.cos(x)) * cfg_arg.s
    if b is not None:
        y = y + np.sum(x * b)
    return y, dlgradient(y, x)


@dataclass
class DC:
    kind: str = "a"
    n: int = 2
    s: float = 1.0


def g_loops(x, n):
    y = x
    for i in range(n):
        y = np.sin(y)
    z = 0.0
    for i in range(x.shape[0]):
        z = z + y[i] ** (i + 1)
    return z, dlgradient(z, x)


def rec(v, n):
    if n == 0:
        return v
    return rec(np.sin(v), n - 1)


def g_rec(x, n):
    y = np.sum(rec(x, n))
    return y, dlgradient(y, x)


def g_higher(x):
    y = np.sum(x ** 3)
    g = dlgradient(y, x, EnableHigherDerivatives=HIGHER)
    z = np.sum(g * g) + np.sum(x)
    return z, dlgradient(z, x)


def loss(x):
    if FLAG:
        return np.sum(np.sin(x) * G) + np.sum(x ** 3)
    return np.sum(np.cos(x) * G)


def g_loss(x):
    y = loss(x)
    return y, dlgradient(y, x)
'''


def test_globals_flags_functions_and_mutated_containers(modules):
    u = modules(STATE)

    def plain(x):
        if u.FLAG:
            return np.sum(np.sin(x * u.G) * u.A) + np.sum(u.ACT(x))
        return np.sum(x ** 3 * u.G)
    x = dlarray(X)
    for change in (lambda: None, lambda: setattr(u, "G", 3.0), lambda: setattr(u, "G", 5),
                   lambda: setattr(u, "G", np.float32(1.5)), lambda: setattr(u, "A", np.array(2.0)),
                   lambda: setattr(u, "A", np.array([4.0, 5.0, 6.0])), lambda: u.A.__setitem__(0, -1.0),
                   lambda: setattr(u, "ACT", np.cos), lambda: setattr(u, "ACT", lambda v: v ** 2),
                   lambda: setattr(u, "FLAG", False), lambda: setattr(u, "FLAG", True),
                   lambda: setattr(u, "A", np.array([[1.0], [2.0]]))):
        change()
        check(u.g_global, [x], plain)

    def plain_m(x):
        y = (np.sum(np.sin(x * u.CONFIG["scale"])) if u.CONFIG["use_sin"] else
             np.sum(x ** 2) * u.CONFIG["scale"])
        return y + sum(np.sum(x * w) ** 2 for w in u.LAYERS)
    for change in (lambda: None, lambda: u.CONFIG.__setitem__("scale", 3.0),
                   lambda: u.CONFIG.__setitem__("use_sin", False), lambda: u.LAYERS.append(3.0),
                   lambda: u.LAYERS.__setitem__(0, -1.0),
                   lambda: u.CONFIG.update(use_sin=True, scale=np.array([[1.0], [2.0]])),
                   lambda: u.LAYERS.__setitem__(1, np.array([1.0, 0.5, 2.0]))):
        change()
        check(u.g_mutables, [x], plain_m)


def test_helpers_objects_and_redefinitions(modules):
    u = modules(STATE)

    def plain(x):
        h = np.sum(np.sin(x * u.cfg.scale)) if u.cfg.flag else np.sum(x ** 2) * u.cfg.scale
        return h + np.sum(u.act(x))
    x = dlarray(X)
    for change in (lambda: None, lambda: setattr(u.cfg, "scale", 5.0), lambda: setattr(u.cfg, "flag", False),
                   lambda: setattr(u, "cfg", u.Cfg()) or setattr(u.cfg, "scale", 1.5) or setattr(u.cfg, "flag", True),
                   lambda: setattr(u, "act", np.cos), lambda: setattr(u.cfg, "scale", np.array([[1.0], [2.0]]))):
        change()
        check(u.g_helper, [x], plain)
        assert float(u.helper_obj(X)) == pytest.approx(float(plain(X) - np.sum(u.act(X))))


def test_closures_defaults_partials_and_lambdas(modules):
    u = modules(STATE)
    x = dlarray(X)
    f, set_c = u.make_nonlocal()
    for c in (1.0, 2.0, 3, np.array([1.0, 0.0, 2.0]), np.array([[1.0], [2.0]])):
        set_c(c)
        check(f, [x], lambda v: np.sum(np.sin(v * c)))
    check(u.g_default, [x], lambda v: np.sum(np.sin(v * 2.0)))
    u.g_default.__defaults__ = (5.0,)
    check(u.g_default, [x], lambda v: np.sum(np.sin(v * 5.0)))
    check(u.g_default, [x, 7.0], lambda v: np.sum(np.sin(v * 7.0)))
    check(functools.partial(u.g_default, c=0.5), [x], lambda v: np.sum(np.sin(v * 0.5)))
    check(functools.partial(u.g_default, c=1.5), [x], lambda v: np.sum(np.sin(v * 1.5)))
    y, g = dlfeval(u.g_default, x, c=2.5)
    assert_close(np.asarray(extractdata(g)), 2.5 * np.cos(2.5 * X))


def test_methods_instances_and_class_attributes(modules):
    u = modules(STATE)
    x = dlarray(X)
    m1, m2 = u.Model(1.5, [1.0]), u.Model(2.0, [1.0, 2.0, 3.0])

    def plain(m):
        def f(v):
            y = np.sum(m.act(v) * m.scale * m.w) if m.flag else np.sum(v ** 3)
            return y + sum(np.sum(np.tanh(v * w)) for w in m.layers)
        return f
    for change in (lambda: None, lambda: setattr(m1, "w", 3.0), lambda: setattr(m1, "flag", False),
                   lambda: setattr(u.Model, "scale", 4.0), lambda: m2.layers.append(-1.0),
                   lambda: setattr(m1, "flag", True) or setattr(m1, "act", np.cos),
                   lambda: setattr(u.Model, "act", lambda self, v: v ** 2),
                   lambda: setattr(m1, "w", np.array([[1.0], [2.0]]))):
        change()
        for m in (m1, m2):
            check(m.step, [x], plain(m))


def test_argument_kinds_change_between_calls(modules):
    u = modules(STATE)
    calls = [
        (X, 2.0, 2, [1.0], u.DC(), None),
        (X, np.array(2.5), 3, [1.0, 2.0], u.DC("b"), None),
        (X, np.array([1.0, 2.0, 3.0]), 2.0, (1.0, 2.0, 3.0), u.DC("a", 3), np.array([1.0, 2.0, 3.0])),
        (X, np.float32(2.0), 2, [np.array([1.0, 0.5, 2.0])], u.DC("a", 3, 2.0), 2.0),
        (X.reshape(3, 1), np.array([1.0, 2.0]), 2, [1.0], u.DC("b", 1, 3.0), None),
        (X, True, 1, [], u.DC(), None),
        (X.astype(np.float32), 2.0, 2, [1.0], u.DC(), None),
    ]
    for xs, p, k, items, c, b in calls:
        def plain(v):
            y = np.sum(v ** k * p) + sum(np.sum(np.sin(v * w)) for w in items)
            y = y + (np.sum(v ** c.n) if c.kind == "a" else np.sum(np.cos(v))) * c.s
            return y + (np.sum(v * b) if b is not None else 0.0)
        y, g = dlfeval(u.g_args, dlarray(xs), p, k, items, c, b)
        tol = 1e-5 if xs.dtype == np.float32 else 1e-12
        assert float(extractdata(y)) == pytest.approx(float(plain(xs.astype(float))), rel=tol, abs=tol)
        g = np.asarray(extractdata(g))
        assert g.shape == xs.shape and g.dtype == xs.dtype
        assert_close(g.astype(float), numerical_gradient(plain, [xs.astype(float)], 0),
                     rtol=1e-4 if xs.dtype == np.float32 else 1e-6)


def test_loop_counts_shapes_and_recursion(modules):
    u = modules(STATE)

    def plain(n):
        def f(v):
            y = v
            for _ in range(n):
                y = np.sin(y)
            return sum(y[i] ** (i + 1) for i in range(v.shape[0]))
        return f
    for n, xs in ((1, X), (3, X), (0, X), (2, np.array([0.5, 0.2])), (2, np.array([0.1, 0.2, 0.3, 0.4]))):
        check(u.g_loops, [dlarray(xs), n], plain(n))

    def rec(v, n):
        return v if n == 0 else rec(np.sin(v), n - 1)
    for n in (0, 1, 3, 2):
        check(u.g_rec, [dlarray(X), n], lambda v: np.sum(rec(v, n)))


def test_dlgradient_option_from_a_global_and_forward_modes_after_dlfeval(modules):
    u = modules(STATE)
    for higher in (True, False, True):
        u.HIGHER = higher
        z, g = dlfeval(u.g_higher, dlarray(X))
        assert_close(np.asarray(extractdata(g)), 36 * X ** 3 + 1 if higher else np.ones(3))

    V = np.array([1.0, -2.0, 0.5])

    def plain(v):
        return np.sum(np.sin(v) * u.G) + np.sum(v ** 3) if u.FLAG else np.sum(np.cos(v) * u.G)
    for change in (lambda: None, lambda: setattr(u, "G", 3.0), lambda: setattr(u, "FLAG", False),
                   lambda: setattr(u, "FLAG", True)):
        change()
        check(u.g_loss, [dlarray(X)], plain)
        grad = numerical_gradient(plain, [X.copy()], 0)
        for mode in ("forward", "transpose"):
            y, jv = sct.jvp(u.loss, X, V, mode=mode)
            assert float(np.asarray(extractdata(y))) == pytest.approx(float(plain(X)))
            assert float(np.asarray(extractdata(jv))) == pytest.approx(float(grad @ V), rel=1e-6)
        hv = np.asarray(extractdata(sct.hvp(u.loss, X, V)))
        h = 1e-4
        hn = (numerical_gradient(plain, [X + h * V], 0) - numerical_gradient(plain, [X - h * V], 0)) / (2 * h)
        assert_close(hv, hn, rtol=1e-4, atol=1e-4)


def test_accelerated_functions_see_every_change(modules):
    u = modules(STATE + '''

from sct import dlaccelerate

acc_loss = dlaccelerate(loss)


@dlaccelerate
def acc_step(x):
    y = loss(x) + np.sum(x * CONFIG["scale"])
    return y, dlgradient(y, x)


def g_via_acc(x):
    y = acc_loss(x)
    return y, dlgradient(y, x)
''')

    def plain(v):
        y = np.sum(np.sin(v) * u.G) + np.sum(v ** 3) if u.FLAG else np.sum(np.cos(v) * u.G)
        return y
    for change in (lambda: None, lambda: setattr(u, "G", 3.0), lambda: u.CONFIG.__setitem__("scale", 4.0),
                   lambda: setattr(u, "FLAG", False), lambda: u.acc_step.clear_cache(),
                   lambda: setattr(u, "FLAG", True), lambda: sct.clear_cache()):
        change()
        check(u.acc_step, [dlarray(X)], lambda v: plain(v) + np.sum(v * u.CONFIG["scale"]))
        check(u.g_via_acc, [dlarray(X)], plain)
        assert float(np.asarray(extractdata(u.acc_loss(X)))) == pytest.approx(float(plain(X)))


def test_options_read_through_nested_attributes_follow_in_place_changes(modules):
    u = modules('''
        import numpy as np
        from sct import dlgradient


        class S:
            pass


        cfg = S()
        cfg.sub = S()
        cfg.sub.hi = True


        class C:
            class Inner:
                hi = True


        def f_nested(x):
            y = np.sum(x ** 3)
            g = dlgradient(y, x, EnableHigherDerivatives=cfg.sub.hi)
            z = np.sum(g * g) + np.sum(x)
            return z, dlgradient(z, x)


        def f_class(x):
            hi = C.Inner.hi
            y = np.sum(x ** 3)
            g = dlgradient(y, x, EnableHigherDerivatives=hi)
            z = np.sum(g * g) + np.sum(x)
            return z, dlgradient(z, x)


        def make():
            o = S()
            o.hi = True

            def f(x):
                y = np.sum(x ** 3)
                g = dlgradient(y, x, EnableHigherDerivatives=o.hi)
                z = np.sum(g * g) + np.sum(x)
                return z, dlgradient(z, x)
            return f, o
    ''')
    f_closure, o = u.make()
    for hi in (True, False, True):
        u.cfg.sub.hi = hi
        u.C.Inner.hi = hi
        o.hi = hi
        for f in (u.f_nested, u.f_class, f_closure):
            z, g = dlfeval(f, dlarray(X))
            assert_close(np.asarray(extractdata(g)), 36 * X ** 3 + 1 if hi else np.ones(3))


def test_functions_held_in_mutable_containers_through_every_entry_point(modules):
    u = modules('''
        import numpy as np
        from sct import dlgradient, dlaccelerate

        FUNCS = {"act": np.sin}
        FL = [np.sin]


        class H:
            pass


        h = H()
        h.act = np.sin


        def loss(x):
            return np.sum(FUNCS["act"](x)) + np.sum(FL[0](x) * 2) + np.sum(h.act(x) * 3)


        def g(x):
            y = loss(x)
            return y, dlgradient(y, x)


        ga = dlaccelerate(g)
    ''')
    V = np.array([1.0, 2.0, -1.0])
    for fns in ((np.sin, np.sin, np.sin), (np.cos, np.sin, np.sin), (np.cos, np.tanh, np.sin),
                (np.cos, np.tanh, np.exp), (lambda v: v ** 3, np.tanh, np.exp)):
        u.FUNCS["act"], u.FL[0], u.h.act = fns
        for f in (u.g, u.ga):
            check(f, [dlarray(X)], u.loss)
        grad = numerical_gradient(u.loss, [X.copy()], 0)
        y, jv = sct.jvp(u.loss, X, V)
        assert float(np.asarray(extractdata(jv))) == pytest.approx(float(grad @ V), rel=1e-6)
        hv = np.asarray(extractdata(sct.hvp(u.loss, X, V)))
        hn = (numerical_gradient(u.loss, [X + 1e-4 * V], 0) - numerical_gradient(u.loss, [X - 1e-4 * V], 0)) / 2e-4
        assert_close(hv, hn, rtol=1e-4, atol=1e-4)
