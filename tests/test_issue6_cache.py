"""Issue 6, items 7, 10 and 15: compiled code is never stale, caches are bounded and thread-safe.

* item 7: the guards cover everything generated code took from the function: attributes it
  calls (``helpers.act``), ``__code__``, ``__defaults__``/``__kwdefaults__``, builtins shadowed
  later by a global, and the source file must be the source of the code that runs;
* item 10: the caches of dlfeval, of helpers and of AcceleratedFunction are bounded LRUs that
  threads can share; the line maps and linecache entries of generated code go with it; a
  fresh closure of the same code with the same captured values is not compiled again;
* item 15: defaults and closure values are part of the guard (functions made in a loop).
"""
from __future__ import annotations

import gc
import importlib
import linecache
import os
import sys
import textwrap
import threading
import uuid

import numpy as np
import pytest

import sct
from sct import CompileError, dlaccelerate, dlarray, dlfeval, dlgradient, extractdata
from sct import cache as sct_cache
from sct.parse import LINE_MAPS

from gradcheck import assert_close, numerical_gradient


# --- helpers: user code lives in real module files (sct reads source) ---------------------------

@pytest.fixture
def modules(tmp_path, monkeypatch):
    """``make(text)`` writes a module with a fresh name into tmp_path and imports it."""
    monkeypatch.syspath_prepend(str(tmp_path))
    made = []

    def make(text: str, name: str = None):
        name = name or "sct_issue6_" + uuid.uuid4().hex[:10]
        path = tmp_path / f"{name}.py"
        path.write_text(textwrap.dedent(text))
        importlib.invalidate_caches()
        module = importlib.import_module(name)
        made.append(name)
        return module

    yield make
    for name in made:
        sys.modules.pop(name, None)


@pytest.fixture
def compilations(monkeypatch):
    """Counts calls of compile_function, by qualified name of the compiled function."""
    from sct import api, compiler, transform_calls
    counts = {}
    original = compiler.compile_function

    def counting(fn, *args, **kwargs):
        name = fn.__qualname__
        counts[name] = counts.get(name, 0) + 1
        return original(fn, *args, **kwargs)
    for module in (api, transform_calls, compiler):
        monkeypatch.setattr(module, "compile_function", counting)
    monkeypatch.setattr(sys.modules["sct.accelerate"], "compile_function", counting)
    return counts


def value_and_grad(fn, *args):
    y, g = dlfeval(fn, *args)
    return float(extractdata(y)), np.asarray(extractdata(g))


def check_against_python(fn, plain, x):
    """dlfeval(fn, x) gives plain(x) and its central-difference gradient."""
    y, g = value_and_grad(fn, dlarray(x))
    assert y == pytest.approx(float(plain(x)), rel=1e-13, abs=1e-13)
    assert_close(g, numerical_gradient(plain, [x], 0))


X = np.array([0.3, -0.7, 1.1])


# --- item 7: stale generated code ----------------------------------------------------------------

HELPERS = """
import numpy as np
act = np.sin

def cube(v):
    return v ** 3
"""

USER = """
import numpy as np
from sct import dlgradient
import {helpers} as helpers


def f(x):
    y = np.sum(helpers.act(x))
    return y, dlgradient(y, x)


def inner(x):
    return helpers.act(x) * 2.0


def via_helper(x):
    y = np.sum(inner(x))
    return y, dlgradient(y, x)


def imports_inside(x):
    from {helpers} import act
    y = np.sum(act(x))
    return y, dlgradient(y, x)


class Ops:
    act = staticmethod(np.sin)


def via_class(x):
    y = np.sum(Ops.act(x))
    return y, dlgradient(y, x)
"""


def test_rebinding_a_module_attribute_the_code_calls_recompiles(modules):
    helpers = modules(HELPERS)
    user = modules(USER.format(helpers=helpers.__name__))
    for fn, scale in ((user.f, 1.0), (user.via_helper, 2.0), (user.imports_inside, 1.0)):
        helpers.act = np.sin
        check_against_python(fn, lambda x: scale * np.sum(np.sin(x)), X)
        helpers.act = np.cos          # the forward calls cos: the adjoint must differentiate cos
        check_against_python(fn, lambda x: scale * np.sum(np.cos(x)), X)
        helpers.act = np.tanh
        check_against_python(fn, lambda x: scale * np.sum(np.tanh(x)), X)
        helpers.act = helpers.cube              # a Python function: transformed
        check_against_python(fn, lambda x: scale * np.sum(x ** 3), X)


def test_rebinding_a_class_attribute_the_code_calls_recompiles(modules):
    helpers = modules(HELPERS)
    user = modules(USER.format(helpers=helpers.__name__))
    check_against_python(user.via_class, lambda x: np.sum(np.sin(x)), X)
    user.Ops.act = staticmethod(np.exp)
    check_against_python(user.via_class, lambda x: np.sum(np.exp(x)), X)


def test_a_global_defined_later_over_a_builtin_recompiles(modules):
    user = modules("""
        import numpy as np
        from sct import dlgradient

        def f(x):
            y = np.sum(abs(x))
            return y, dlgradient(y, x)

        def square(v):
            return v * v
        """)
    check_against_python(user.f, lambda x: np.sum(np.abs(x)), X)
    user.abs = user.square                # the module's own abs now shadows the builtin
    check_against_python(user.f, lambda x: np.sum(x * x), X)
    del user.abs
    check_against_python(user.f, lambda x: np.sum(np.abs(x)), X)


def test_replacing_code_and_defaults_recompiles(modules):
    user = modules("""
        import numpy as np
        from sct import dlgradient

        def f(x, k=2.0):
            y = np.sum(x ** 2) * k
            return y, dlgradient(y, x)

        def g(x, k=2.0):
            y = np.sum(np.sin(x)) * k
            return y, dlgradient(y, x)

        def scaled(a, *, k=2.0):
            return a * k

        def calls_scaled(x):
            y = np.sum(scaled(x))
            return y, dlgradient(y, x)
        """)
    check_against_python(user.f, lambda x: np.sum(x ** 2) * 2.0, X)
    user.f.__defaults__ = (5.0,)
    check_against_python(user.f, lambda x: np.sum(x ** 2) * 5.0, X)
    user.f.__code__ = user.g.__code__           # what IPython's autoreload does
    check_against_python(user.f, lambda x: np.sum(np.sin(x)) * 5.0, X)
    check_against_python(user.calls_scaled, lambda x: np.sum(x) * 2.0, X)
    user.scaled.__kwdefaults__ = {"k": -3.0}
    check_against_python(user.calls_scaled, lambda x: np.sum(x) * -3.0, X)


def _rewrite(path, text):
    before = os.stat(path).st_mtime
    path.write_text(textwrap.dedent(text))
    os.utime(path, (before + 5, before + 5))        # an edit a clock tick later


EDITABLE = """
import numpy as np
from sct import dlgradient


def f(x):
    y = np.sum(x ** 2)
    return y, dlgradient(y, x)


def helper(a):
    return a * 3.0


def uses_helper(x):
    y = np.sum(helper(x))
    return y, dlgradient(y, x)
"""


def test_a_source_file_edited_after_import_is_refused(modules, tmp_path):
    user = modules(EDITABLE)
    path = tmp_path / f"{user.__name__}.py"
    check_against_python(user.f, lambda x: np.sum(x ** 2), X)
    _rewrite(path, EDITABLE.replace("x ** 2", "x ** 3").replace("a * 3.0", "a * 4.0"))
    sct.clear_cache()
    with pytest.raises(CompileError) as info:
        dlfeval(user.f, dlarray(X))
    assert info.value.filename == str(path) and info.value.lineno == 6
    assert "reload" in str(info.value)
    with pytest.raises(CompileError) as info:           # a helper, compiled while running
        dlfeval(user.uses_helper, dlarray(X))
    assert info.value.filename == str(path) and info.value.lineno == 11
    importlib.reload(user)                               # the module and its file agree again
    check_against_python(user.f, lambda x: np.sum(x ** 3), X)
    check_against_python(user.uses_helper, lambda x: np.sum(x * 4.0), X)


def test_code_compiled_before_an_edit_stays_right(modules, tmp_path):
    user = modules(EDITABLE)
    path = tmp_path / f"{user.__name__}.py"
    check_against_python(user.f, lambda x: np.sum(x ** 2), X)
    _rewrite(path, EDITABLE.replace("x ** 2", "x ** 3"))
    check_against_python(user.f, lambda x: np.sum(x ** 2), X)     # the code that runs: x ** 2


def test_lines_moved_by_an_edit_are_refused_and_edits_elsewhere_are_not(modules, tmp_path):
    user = modules(EDITABLE)
    path = tmp_path / f"{user.__name__}.py"
    _rewrite(path, EDITABLE + "\n\ndef added_later(x):\n    return x\n")
    check_against_python(user.f, lambda x: np.sum(x ** 2), X)     # f's text is unchanged
    sct.clear_cache()
    _rewrite(path, "# a new first line\n" + EDITABLE)
    with pytest.raises(CompileError) as info:
        dlfeval(user.f, dlarray(X))
    assert info.value.filename == str(path)


def test_source_held_in_memory_is_accepted_as_it_is():
    """Notebook cells and exec'd code: linecache holds their text (it cannot be edited)."""
    src = ("import numpy as np\nfrom sct import dlgradient\n\n"
           "def f(x):\n    y = np.sum(np.tanh(x) * 3.0)\n    return y, dlgradient(y, x)\n")
    name = f"<sct-test-cell-{uuid.uuid4().hex[:8]}>"
    linecache.cache[name] = (len(src), None, src.splitlines(True), name)
    try:
        namespace = {"__name__": "__sct_cell__"}
        exec(compile(src, name, "exec"), namespace)
        check_against_python(namespace["f"], lambda x: np.sum(np.tanh(x) * 3.0), X)
    finally:
        linecache.cache.pop(name, None)


def test_the_source_check_accepts_what_python_writes(modules):
    """Closures, methods with private names and super(), decorators, comprehensions,
    future annotations, imports used as `module.function(...)`: the check must not refuse."""
    user = modules('''
        from __future__ import annotations
        import functools
        import numpy as np
        from sct import dlgradient

        def deco(fn):
            @functools.wraps(fn)
            def wrapped(*args):
                return fn(*args)
            wrapped.__wrapped_fn__ = fn
            return wrapped

        class Base:
            def scale(self, x: np.ndarray) -> np.ndarray:
                return x * 2.0

        class Model(Base):
            __k = 3.0

            def scale(self, x: np.ndarray) -> np.ndarray:
                return super().scale(x) * self._k

            _k = 3.0

            def private(self):          # (name mangling: checked, not differentiated here)
                return self.__k

            def loss(self, x):
                y = np.sum(self.scale(x)) + sum([v for v in (1.0, 2.0)])
                return y, dlgradient(y, x)

        def outer(model, x):
            y = np.sum(model.scale(x))
            return y, dlgradient(y, x)

        def make(c):
            @deco
            def f(x):
                def sq(v: float) -> float:
                    return v * v
                y = np.sum(sq(x) * c)
                return y, dlgradient(y, x)
            return f.__wrapped_fn__
        ''')
    model = user.Model()
    y, g = value_and_grad(user.outer, model, dlarray(X))
    assert y == pytest.approx(np.sum(X * 6.0)) and np.allclose(g, 6.0)
    f = user.make(1.5)
    check_against_python(f, lambda x: np.sum(x * x * 1.5), X)
    from sct.parse import check_source_matches
    import inspect
    for fn in (user.Model.scale, user.Model.loss, user.Model.private, user.Base.scale, f, user.deco):
        lines, start = inspect.getsourcelines(fn)
        check_source_matches(fn, textwrap.dedent("".join(lines)), start, fn.__code__.co_filename)


# --- item 15: defaults and closure values baked in -----------------------------------------------

LOOPS = """
import numpy as np
from sct import dlgradient

linspaces = []
for n in (1, 3):
    def g(x, n=n):
        return np.sum(np.linspace(x, 2.0, n))
    linspaces.append(g)

powers = []
for n in (1, 2, 3):
    def p(x, n=n):
        y = np.sum(x ** n)
        return y, dlgradient(y, x)
    powers.append(p)

helpers = []
for n in (1, 2, 3):
    def h(x, n=n):
        return np.sum(x ** n)
    helpers.append(h)

def make_closure(k):
    def c(x):
        return np.sum(np.sin(x) * k)
    return c

def calls(x, fn):
    y = fn(x)
    return y, dlgradient(y, x)
"""


def test_functions_defined_in_a_loop_keep_their_defaults(modules):
    user = modules(LOOPS)
    for g, n in zip(user.linspaces, (1, 3)):
        assert float(extractdata(dlfeval(g, 0.5))) == pytest.approx(g(0.5)) == \
            pytest.approx(np.sum(np.linspace(0.5, 2.0, n)))
    for p, n in zip(user.powers, (1, 2, 3)):
        check_against_python(p, lambda x: np.sum(x ** n), X)
    for h, n in zip(user.helpers, (1, 2, 3)):                   # called from differentiated code
        y, g = value_and_grad(user.calls, dlarray(X), h)
        assert y == pytest.approx(np.sum(X ** n))
        assert_close(g, numerical_gradient(lambda x: np.sum(x ** n), [X], 0))
    for k in (1.0, -2.0, 0.5):                                    # closure cells
        c = user.make_closure(k)
        y, g = value_and_grad(user.calls, dlarray(X), c)
        assert y == pytest.approx(c(X))
        assert_close(g, np.cos(X) * k)
    for p, n in zip(user.powers, (1, 2, 3)):                      # accelerated, one cache
        acc = dlaccelerate(p)
        y, g = acc(dlarray(X))
        assert_close(extractdata(g), n * X ** (n - 1))


CLOSURES = """
import numpy as np
from sct import dlgradient

def make_loss(scale, offset=0.0):
    def act(v):
        return np.tanh(v) * scale
    def loss(w):
        y = np.sum(act(w) ** 2) + offset
        return y, dlgradient(y, w)
    return loss
"""


def test_a_fresh_closure_with_the_same_values_is_not_compiled_again(modules, compilations):
    user = modules(CLOSURES)
    w = dlarray(X)
    for i in range(25):                        # a training loop making its loss every step
        y, g = dlfeval(user.make_loss(2.0, 1.0), w)
        assert_close(extractdata(g), 2 * (np.tanh(X) * 2.0) * 2.0 * (1 - np.tanh(X) ** 2))
    assert compilations.get("make_loss.<locals>.loss") == 1
    assert compilations.get("make_loss.<locals>.act") == 1
    for scale in (1.0, 3.0, 1.0, 3.0):         # other values compile once each, then hit
        y, g = dlfeval(user.make_loss(scale), w)
        assert float(extractdata(y)) == pytest.approx(np.sum((np.tanh(X) * scale) ** 2))
    assert compilations["make_loss.<locals>.loss"] == 3


# --- item 10: bounded, thread-safe caches ----------------------------------------------------------

THREADED = """
import numpy as np
from sct import dlgradient

def helper(a, b):
    return np.sin(a) * b

def loss(w, data):
    y = np.sum(helper(w, 2.0) * data["scale"]) + np.sum(w[0] * data["shift"])
    return y, dlgradient(y, w)
"""


def _threaded_cases():
    rng = np.random.default_rng(0)
    cases = []
    for dtype in (np.float64, np.float32):
        for shape in ((3,), (2, 3)):
            for shift in (1.5, 2):
                w = rng.standard_normal(shape).astype(dtype)
                cases.append((w, {"scale": 0.5, "shift": shift}))
    return cases


def _threaded_expected(w, data):
    w64 = np.asarray(w, dtype=np.float64)
    g = 2.0 * np.cos(w64) * data["scale"]
    g[0] += data["shift"]
    return g


def _hammer(call, cases, threads=6, rounds=3):
    errors = []
    barrier = threading.Barrier(threads)

    def work(seed):
        order = np.random.default_rng(seed).permutation(len(cases) * rounds) % len(cases)
        barrier.wait()
        try:
            for i in order:
                w, data = cases[i]
                y, g = call(dlarray(w), data)
                tol = 1e-5 if w.dtype == np.float32 else 1e-12
                np.testing.assert_allclose(np.asarray(extractdata(g), dtype=np.float64),
                                           _threaded_expected(w, data), rtol=tol, atol=tol)
        except BaseException as exc:            # reported in the main thread
            errors.append(exc)
    pool = [threading.Thread(target=work, args=(s,)) for s in range(threads)]
    interval = sys.getswitchinterval()
    sys.setswitchinterval(1e-5)                 # switch threads often: races show
    try:
        for t in pool:
            t.start()
        for t in pool:
            t.join()
    finally:
        sys.setswitchinterval(interval)
    if errors:
        raise errors[0]


def test_an_accelerated_function_shared_by_threads_with_a_small_cache(modules):
    user = modules(THREADED)
    acc = dlaccelerate(user.loss, cache_size=2)
    _hammer(acc, _threaded_cases())
    assert len(acc._cache) <= 2
    _hammer(lambda w, data: dlfeval(acc, w, data), _threaded_cases(), rounds=1)


def test_dlfeval_and_helpers_shared_by_threads_with_small_caches(modules):
    user = modules(THREADED)
    old = sct_cache.ENTRIES.maxsize, sct_cache.HELPERS.maxsize
    sct_cache.configure(entries=2, helpers=2)
    try:
        _hammer(lambda w, data: dlfeval(user.loss, w, data), _threaded_cases())
        assert len(sct_cache.ENTRIES) <= 2 and len(sct_cache.HELPERS) <= 2
    finally:
        sct_cache.configure(entries=old[0], helpers=old[1])


def test_caches_line_maps_and_linecache_stay_bounded(modules, compilations):
    user = modules("""
        import numpy as np
        from sct import dlgradient

        def make(k):
            def helper(v):
                return np.sin(v) * k
            def loss(w):
                y = np.sum(helper(w))
                return y, dlgradient(y, w)
            return loss
        """)
    old = sct_cache.ENTRIES.maxsize, sct_cache.HELPERS.maxsize
    sct.clear_cache()
    sct_cache.configure(entries=8, helpers=8)
    gc.collect()
    baseline = sct_cache.generated_files()      # generated wrappers other tests left (bounded elsewhere)
    try:
        w = dlarray(X)
        for k in range(60):                    # 60 different closures: 120 compilations
            y, g = dlfeval(user.make(float(k)), w)
            assert_close(extractdata(g), np.cos(X) * k)
        assert compilations["make.<locals>.loss"] == 60
        assert len(sct_cache.ENTRIES) <= 8 and len(sct_cache.HELPERS) <= 8
        gc.collect()
        assert sct_cache.generated_files() <= baseline + 2 * 8 + 4
        generated_maps = [name for name in LINE_MAPS if user.__name__ in name]
        generated_lines = [name for name in linecache.cache if user.__name__ in name]
        assert len(generated_maps) <= 16 and len(generated_lines) <= 16
    finally:
        sct_cache.configure(entries=old[0], helpers=old[1])


def test_a_training_loop_does_not_grow_memory(modules):
    import tracemalloc
    user = modules(CLOSURES)
    w = dlarray(X)

    def step():
        for _ in range(50):
            dlfeval(user.make_loss(2.0), w)      # a fresh closure and helper every call
    step()
    gc.collect()
    tracemalloc.start()
    try:
        before = tracemalloc.take_snapshot()
        step()
        step()
        gc.collect()
        after = tracemalloc.take_snapshot()
    finally:
        tracemalloc.stop()
    growth = sum(s.size_diff for s in after.compare_to(before, "filename"))
    assert growth < 64 * 1024, f"{growth} bytes more after 100 calls"


def test_source_of_callees_after_runs(modules):
    user = modules(THREADED)
    w, data = _threaded_cases()[0]
    for _ in range(20):
        dlfeval(user.loss, dlarray(w), data)
    text = sct.source(user.loss, dlarray(w), data, callees=True)
    assert "generated for a call made from it" in text and "helper" in text


def test_lru_order_and_sizes():
    class Entry:
        def __init__(self, ok):
            self.ok = ok

        def check(self, fn):
            return self.ok

    lru = sct_cache.LRU(3, per_key=2)
    a, b, c, d = Entry(True), Entry(True), Entry(True), Entry(True)
    lru.insert("a", a)
    lru.insert("b", b)
    lru.insert("c", c)
    assert lru.lookup("a", None) is a          # a is now the most recent
    lru.insert("d", d)                          # b goes
    assert lru.lookup("b", None) is None and len(lru) == 3
    stale, fresh = Entry(False), Entry(True)
    lru.insert("a", stale)
    assert lru.lookup("a", None) is a           # the newest whose guards hold
    lru.insert("a", fresh)
    assert len(lru.entries()) <= 3 and lru.lookup("a", None) is fresh
    lru.resize(1)
    assert len(lru) == 1
    with pytest.raises(ValueError):
        sct_cache.LRU(0)


def test_same_value_is_strict_about_what_it_calls_equal():
    same = sct_cache.same_value
    assert same(3, 3) and same(2.5, float("2.5")) and same((1, "a", 2.0), (1, "a", 2.0))
    assert not same(1, 1.0) and not same(True, 1) and not same(0.0, -0.0)
    assert same(float("nan"), float("nan"))
    assert not same(np.ones(2), np.ones(2))                   # mutable: identity only
    assert same(np.float32(1.5), np.float32(1.5)) and not same(np.float32(1.5), np.float64(1.5))

    def make(k):
        def f(x):
            return x * k
        return f
    assert same(make(2.0), make(2.0)) and not same(make(2.0), make(3.0))
    assert not same(make([1]), make([1]))
