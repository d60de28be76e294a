"""Red team, Dec 15 (N): stale results from sct's caches the way notebook users work: compile once,
CHANGE something (a helper redefined, a global rebound or mutated in place, defaults, closure cells,
methods, classes, argument kinds, notebook cells run again, a module reloaded), call again; values
against plain Python, gradients (first and second order, accelerated, jvp, hvp) against central
differences.

Found (a silently stale value and gradient):
- a function's attributes (``act.scale``) were not part of what its guard compared: a ``def`` run
  again (a hyper-parameter sweep in a notebook cell's loop, ``types.FunctionType(code, ...)``) made a
  function of the same code, globals, defaults and closure, taken by ``sct.cache.same_value`` for the
  one compiled with; the generated code runs with the function it was compiled with
  (``sct.compiler._namespace``), so it read the old function's ``scale``.  Now functions with
  different attributes are different (``same_value`` compares their ``__dict__``).
The other changes tried here were already followed; they are kept as regression tests.
"""
import functools
import importlib
import linecache
import os
import sys
import types

import numpy as np
import pytest

sys.path.insert(0, os.path.dirname(__file__))
from gradcheck import assert_close, numerical_gradient  # noqa: E402

import sct  # noqa: E402
from sct import dlarray, dlfeval, dlgradient, extractdata  # noqa: E402

X = np.array([0.3, -0.7, 1.1])


def _grad(f, x=X):
    return numerical_gradient(lambda a: f(a.copy()), [x.copy()], 0)


def _check_first(loss, plain, x=X, *args):
    """loss(x, *args) -> (y, dy/dx) against plain(x) and central differences."""
    y, g = dlfeval(loss, dlarray(x.copy()), *args)
    assert_close(extractdata(y), plain(x.copy()), rtol=1e-12, atol=1e-12, what="value")
    assert_close(extractdata(g), _grad(plain, x), what="gradient")


def _z_of(plain, x):
    """sum(g * g) of the gradient g of ``plain`` at ``x`` (central differences)."""
    g = _grad(plain, x)
    return np.sum(g * g)


# --- a function's attributes (the defect found) -----------------------------------------------------

def act(v):
    return np.sin(act.scale * v)


act.scale = 2.0


def loss_attr(x):
    y = np.sum(act(x) * x)
    return y, dlgradient(y, x)


def loss_attr_second(x):
    y = np.sum(act(x) * x)
    g = dlgradient(y, x, EnableHigherDerivatives=True)
    z = np.sum(g * g)
    return z, dlgradient(z, x)


@sct.accelerate
def acc_attr(x):
    return np.sum(act(x) * x)


def _attr_plain(scale):
    return lambda a: np.sum(np.sin(scale * a) * a)


def _second_plain(scale):
    def z(a):
        g = scale * np.cos(scale * a) * a + np.sin(scale * a)
        return np.sum(g * g)
    return z


@pytest.fixture
def restore_act():
    saved = globals()["act"]
    yield
    globals()["act"] = saved


def _same_code_new_attribute(scale):
    """``act`` made again from the same code (a def run again), with another attribute."""
    old = globals()["act"]
    new = types.FunctionType(old.__code__, old.__globals__, old.__name__, old.__defaults__, old.__closure__)
    new.scale = scale
    globals()["act"] = new
    return new


def test_a_function_made_again_with_another_attribute_recompiles(restore_act):
    _check_first(loss_attr, _attr_plain(act.scale))
    z, _ = dlfeval(loss_attr_second, dlarray(X))
    assert_close(extractdata(z), _second_plain(act.scale)(X), rtol=1e-10)
    for scale in (3.0, 5.0, 3.0):
        _same_code_new_attribute(scale)
        _check_first(loss_attr, _attr_plain(scale))
        z, gz = dlfeval(loss_attr_second, dlarray(X))
        assert_close(extractdata(z), _second_plain(scale)(X), rtol=1e-10, what="second-order value")
        assert_close(extractdata(gz), _grad(_second_plain(scale)), rtol=1e-4, atol=1e-5,
                     what="second-order gradient")
        assert_close(extractdata(acc_attr(X)), _attr_plain(scale)(X), rtol=1e-12, what="accelerated")
        hv = sct.hvp(lambda a: np.sum(act(a) * a), X, np.ones(3))
        hessian = np.array([(_grad(_attr_plain(scale), X + 1e-4 * e) - _grad(_attr_plain(scale), X - 1e-4 * e))
                            / 2e-4 for e in np.eye(3)])
        assert_close(extractdata(hv), hessian @ np.ones(3), rtol=1e-4, atol=1e-4, what="hvp")


def test_an_attribute_set_in_place_is_read_when_the_code_runs(restore_act):
    _same_code_new_attribute(2.0)
    for scale in (2.0, 4.0):
        act.scale = scale
        _check_first(loss_attr, _attr_plain(scale))


class Net:
    pass


Net.act = act


def loss_class_attr(x):
    y = np.sum(Net.act(x) * x)
    return y, dlgradient(y, x)


def test_a_class_attribute_rebound_to_a_function_made_again(restore_act):
    Net.act = act
    _check_first(loss_class_attr, _attr_plain(act.scale))
    try:
        Net.act = _same_code_new_attribute(7.0)
        _check_first(loss_class_attr, _attr_plain(7.0))
    finally:
        Net.act = globals()["act"]


_cell_count = [0]


def _cell(source, namespace):
    """Run ``source`` as a notebook cell does: its text held in linecache under a cell's file name."""
    _cell_count[0] += 1
    filename = f"<sct-test-cell-dec15n-{_cell_count[0]}>"
    linecache.cache[filename] = (len(source), None, source.splitlines(True), filename)
    exec(compile(source, filename, "exec"), namespace)


def test_a_sweep_redefining_a_helper_in_a_cell_loop():
    namespace = {"__name__": "cell_dec15n", "np": np, "dlfeval": dlfeval, "dlgradient": dlgradient,
                 "dlarray": dlarray, "extractdata": extractdata, "X": X}
    _cell("def loss(x):\n"
          "    y = np.sum(act(x) * x)\n"
          "    return y, dlgradient(y, x)\n", namespace)
    _cell("results = []\n"
          "for s in [1.0, 2.0, 3.0]:\n"
          "    def act(v):\n"
          "        return np.tanh(act.slope * v)\n"
          "    act.slope = s\n"
          "    y, g = dlfeval(loss, dlarray(X))\n"
          "    results.append((s, extractdata(y), extractdata(g)))\n", namespace)
    for s, y, g in namespace["results"]:
        plain = lambda a, s=s: np.sum(np.tanh(s * a) * a)   # noqa: E731
        assert_close(y, plain(X), rtol=1e-12, what=f"value at slope {s}")
        assert_close(g, _grad(plain), what=f"gradient at slope {s}")


def make_scaled(c):
    def inner(v):
        return np.sin(c * v)

    def set_c(new):
        nonlocal c
        c = new
    return inner, set_c


def test_functions_compared_by_value_still_share_code():
    # the same code, defaults, closure values and (no) attributes: one compiled entry
    first, _ = make_scaled(2.0)
    second, _ = make_scaled(2.0)
    assert sct.cache.same_value(first, second)
    second.tag = "other"
    assert not sct.cache.same_value(first, second)
    first.tag = "other"
    assert sct.cache.same_value(first, second)


# --- changes that were followed (regression tests) ------------------------------------------------

def helper(v, c=2.0):
    return np.sin(v) * c


def loss_helper(x):
    y = np.sum(helper(x) * x)
    return y, dlgradient(y, x)


def test_helper_defaults_and_code_replaced():
    saved = helper.__defaults__, helper.__code__
    try:
        _check_first(loss_helper, lambda a: np.sum(np.sin(a) * 2.0 * a))
        helper.__defaults__ = (3.0,)
        _check_first(loss_helper, lambda a: np.sum(np.sin(a) * 3.0 * a))

        def other(v, c=2.0):
            return np.cos(v) * c
        helper.__code__ = other.__code__
        _check_first(loss_helper, lambda a: np.sum(np.cos(a) * 3.0 * a))
    finally:
        helper.__defaults__, helper.__code__ = saved


COEFS = [1.0, 2.0]
CFG = {"act": np.sin, "p": 2}


def loss_mutated_globals(x):
    y = 0.0
    for c in COEFS:
        y = y + np.sum(c * CFG["act"](x) ** CFG["p"])
    return y, dlgradient(y, x)


def test_global_list_and_dict_mutated_in_place():
    def plain(a):
        return sum(np.sum(c * CFG["act"](a) ** CFG["p"]) for c in COEFS)
    saved = list(COEFS), dict(CFG)
    try:
        _check_first(loss_mutated_globals, plain)
        COEFS.append(4.0)
        _check_first(loss_mutated_globals, plain)
        CFG["act"] = np.cos
        CFG["p"] = 3
        _check_first(loss_mutated_globals, plain)
    finally:
        COEFS[:] = saved[0]
        CFG.clear()
        CFG.update(saved[1])


def test_closure_changed_by_nonlocal_from_outside():
    inner, set_c = make_scaled(2.0)

    def loss(x):
        y = np.sum(inner(x))
        return y, dlgradient(y, x)
    for c in (2.0, 3.0):
        set_c(c)
        _check_first(loss, lambda a, c=c: np.sum(np.sin(c * a)))


class Base:
    def apply(self, x):
        return np.sin(x)


class Sub(Base):
    pass


def loss_method(o, x):
    y = np.sum(o.apply(x))
    return y, dlgradient(y, x)


def test_methods_monkeypatched_on_the_class_and_its_base():
    o = Sub()
    saved = Base.apply
    try:
        y, g = dlfeval(loss_method, o, dlarray(X))
        assert_close(extractdata(g), np.cos(X))
        Sub.apply = lambda self, x: np.cos(x)
        y, g = dlfeval(loss_method, o, dlarray(X))
        assert_close(extractdata(g), -np.sin(X))
        del Sub.apply
        Base.apply = lambda self, x: np.tanh(x)
        y, g = dlfeval(loss_method, o, dlarray(X))
        assert_close(extractdata(g), 1 - np.tanh(X) ** 2)
    finally:
        Base.apply = saved
        if "apply" in Sub.__dict__:
            del Sub.apply


def test_class_redefined_in_a_cell_old_and_new_instances():
    namespace = {"__name__": "cell_dec15n_cls", "np": np}
    _cell("class P:\n"
          "    def __init__(self, w):\n"
          "        self.w = w\n"
          "    def apply(self, x):\n"
          "        return self.w * x\n", namespace)
    old = namespace["P"](2.0)
    _cell("class P:\n"
          "    def __init__(self, w):\n"
          "        self.w = w\n"
          "    def apply(self, x):\n"
          "        return self.w * x * x\n", namespace)
    new = namespace["P"](2.0)

    def loss(p, x):
        y = np.sum(np.sin(p.apply(x)))
        return y, dlgradient(y, x)
    for _ in range(2):
        _, g = dlfeval(loss, old, dlarray(X))
        assert_close(extractdata(g), 2 * np.cos(2 * X))
        _, g = dlfeval(loss, new, dlarray(X))
        assert_close(extractdata(g), 4 * X * np.cos(2 * X * X))


def test_module_reloaded_after_its_file_is_edited(tmp_path, monkeypatch):
    source = ("import numpy as np\n"
              "from sct import dlgradient\n"
              "K = 2.0\n"
              "def act(v):\n"
              "    return np.sin(K * v)\n"
              "def loss(x):\n"
              "    y = np.sum(act(x))\n"
              "    return y, dlgradient(y, x)\n")
    path = tmp_path / "dec15n_reloaded.py"
    path.write_text(source)
    monkeypatch.syspath_prepend(str(tmp_path))
    module = importlib.import_module("dec15n_reloaded")
    try:
        _check_first(module.loss, lambda a: np.sum(np.sin(2.0 * a)))
        path.write_text(source.replace("np.sin(K * v)", "np.cos(K * v)").replace("K = 2.0", "K = 3.0"))
        os.utime(path, (os.stat(path).st_atime, os.stat(path).st_mtime + 2))
        importlib.reload(module)
        _check_first(module.loss, lambda a: np.sum(np.cos(3.0 * a)))
    finally:
        sys.modules.pop("dec15n_reloaded", None)


def scaled(v, c=1.0):
    return np.sin(c * v)


def loss_fn_arg(fn, x):
    y = np.sum(fn(x))
    return y, dlgradient(y, x)


def total(v, c=1.0):
    return np.sum(np.sin(c * v))


def test_partials_and_lambdas_made_each_call_and_mutated():
    p = functools.partial(scaled, c=2.0)
    q = functools.partial(total, c=2.0)
    for c in (1.0, 2.0, 3.0):
        _, g = dlfeval(loss_fn_arg, functools.partial(scaled, c=c), dlarray(X))
        assert_close(extractdata(g), c * np.cos(c * X))
        _, g = dlfeval(loss_fn_arg, lambda v: np.sin(c * v), dlarray(X))
        assert_close(extractdata(g), c * np.cos(c * X))
        p.keywords["c"] = c
        q.keywords["c"] = c
        _, g = dlfeval(loss_fn_arg, p, dlarray(X))
        assert_close(extractdata(g), c * np.cos(c * X))
        assert_close(extractdata(sct.hvp(q, X, np.ones(3))), -c * c * np.sin(c * X))
        assert_close(extractdata(sct.jvp(p, (X,), (np.ones(3),))[1]), c * np.cos(c * X))


def loss_dtype(x, dt):
    z = np.sqrt(x.astype(dt))
    y = np.real(np.sum(z * z * z + z * x))
    return y, dlgradient(y, x)


def test_argument_dtype_given_as_a_value_changes():
    positive, negative = np.array([0.3, 0.7, 1.1]), np.array([-0.3, -0.7, 1.1])
    for dt, x in [(np.float64, positive), (np.complex128, negative), ("float64", positive),
                  ("complex128", negative), (complex, negative)]:
        def plain(a, dt=dt):
            z = np.sqrt(a.astype(dt))
            return np.real(np.sum(z * z * z + z * a))
        _check_first(loss_dtype, plain, x, dt)


# --- a global dict rebound to an equal copy (the second defect found) -------------------------------

COUNTS = {"calls": 0}


def loss_counting(x):
    COUNTS["calls"] += 1
    y = np.sum(np.sin(x))
    return y, dlgradient(y, x)


def test_writes_go_into_a_global_dict_rebound_to_an_equal_copy():
    # was: the copy equal to the dict compiled with passed the guard, and the generated code (which
    # runs with the dict it was compiled with) counted into the old one: {'calls': 1} after 2 calls
    global COUNTS
    saved = COUNTS
    try:
        COUNTS = {"calls": 0}
        _check_first(loss_counting, lambda a: np.sum(np.sin(a)))
        assert COUNTS == {"calls": 1}
        COUNTS = dict(COUNTS)
        _check_first(loss_counting, lambda a: np.sum(np.sin(a)))
        assert COUNTS == {"calls": 2}
        old = COUNTS
        COUNTS = {"calls": 2}
        _check_first(loss_counting, lambda a: np.sum(np.sin(a)))
        assert COUNTS == {"calls": 3} and old == {"calls": 2}
    finally:
        COUNTS = saved


def test_a_dict_is_the_same_value_only_as_itself():
    d = {"a": 1.0}
    assert sct.cache.same_value(d, d)
    assert not sct.cache.same_value(d, dict(d))
    assert sct.cache.same_items(d, dict(d)) and not sct.cache.same_items(d, {"a": 2.0})
