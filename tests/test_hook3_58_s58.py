"""hook3_58: implicit user code in code a second derivative recomputes, checked on the actual objects (red57c W3).

With ``dlgradient(..., EnableHigherDerivatives=True)`` sct recomputes the code before the inner dlgradient.  A
property, ``__index__``, ``__bool__``... that changes an object ran a second time there (a counting ``lr`` read
through a list's item or a loop variable: the outer gradient differentiated its second answer).  hook2_57 refused
such code statically, for every class within reach of any object whose class the compiler did not know, and
counted ``__call__``, operators and iteration (which sct replays): 101 tests of everyday code refused.  Now each
statement that may run such code is checked in the recomputation only, on the classes of its actual objects.
Values are compared with plain Python, gradients with closed forms and central differences.
"""
import functools

import numpy as np
import pytest

import sct
from sct import dlarray, dlfeval, dlgradient
from sct.errors import EvaluationError
from gradcheck import D, assert_close, numerical_gradient

X = np.array([1.0, 2.0])
T = [0]


class Sched:
    @property
    def lr(self):
        T[0] += 1
        return 1.0 / T[0]

    @property
    def rate(self):
        return 0.5 * 2.0


class Flag:
    def __init__(self):
        self.n = 0

    def __bool__(self):
        self.n += 1
        return self.n == 1


SCHEDS = [Sched()]
FLAG = Flag()


def _line_of(fn, text):
    import inspect
    lines, start = inspect.getsourcelines(fn)
    return start + next(i for i, s in enumerate(lines) if text in s)


def _z_of_cubes(x, scale=1.0):
    """Python's z = sum((3 x^2 scale)^2) and its gradient 36 x^3 scale^2 (y = scale * sum(x^3))."""
    return np.sum((3 * x ** 2 * scale) ** 2), 36 * x ** 3 * scale ** 2


# --- still refused: the actual object's class changes an object, the compiler could not name its class ---

def loss_item_property(x):
    s = SCHEDS[0]
    y = np.sum(x ** 3) * s.lr
    g = dlgradient(y, x, EnableHigherDerivatives=True)
    z = np.sum(g * g)
    return z, dlgradient(z, x)


def test_counting_property_of_an_item_refused_at_line():
    T[0] = 0
    with pytest.raises(EvaluationError) as e:
        dlfeval(loss_item_property, dlarray(X))
    assert f"line {_line_of(loss_item_property, 's.lr')}" in str(e.value)
    assert "Sched.lr" in str(e.value)


def loss_loop_property(x):
    y = np.sum(x ** 2) * 0.0
    for s in SCHEDS:
        y = y + np.sum(x ** 3) * s.lr
    g = dlgradient(y, x, EnableHigherDerivatives=True)
    z = np.sum(g * g)
    return z, dlgradient(z, x)


def test_counting_property_of_a_loop_variable_refused_at_line():
    T[0] = 0
    with pytest.raises(EvaluationError) as e:
        dlfeval(loss_loop_property, dlarray(X))
    assert f"line {_line_of(loss_loop_property, 's.lr')}" in str(e.value)


def loss_item_truth(x, flags):
    f = flags[0]
    y = np.sum(x ** 3) if f else np.sum(x ** 2)
    g = dlgradient(y, x, EnableHigherDerivatives=True)
    z = np.sum(g * g)
    return z, dlgradient(z, x)


def test_counting_bool_of_an_item_refused_at_line():
    with pytest.raises(EvaluationError) as e:
        dlfeval(loss_item_truth, dlarray(X), [Flag()])
    assert f"line {_line_of(loss_item_truth, 'if f else')}" in str(e.value)
    assert "Flag.__bool__" in str(e.value)


# --- everyday code with such classes in the module: as Python (hook2_57 refused each of these) ---

CALLS = []


class Block:
    def __init__(self, w):
        self.w = w

    def __call__(self, x):
        CALLS.append(1)         # (an explicit call: replayed where recomputed, it runs once)
        return x * self.w


class Cfg:
    def __init__(self):
        self.values = {"scale": 2.0}

    def __getattr__(self, name):
        if name in self.values:
            return self.values[name]
        raise AttributeError(name)


CFG = Cfg()


def test_dict_of_functions_and_array_locals_exact():
    ops = {"cube": lambda v: v ** 3}

    def loss(x):
        w = np.ones(2)
        w *= 2.0
        y = np.sum(ops["cube"](x) * w)
        g = dlgradient(y, x, EnableHigherDerivatives=True)
        z = np.sum(g * g)
        return z, dlgradient(z, x)
    z, gz = dlfeval(loss, dlarray(X))
    want, grad = _z_of_cubes(X, 2.0)
    assert_close(D(z), want)
    assert_close(D(gz), grad)


def test_counting_call_of_a_layer_in_a_loop_exact():
    block = Block(2.0)

    def loss(x, layers):
        h = x
        for layer in layers:
            h = layer(h)
        y = np.sum(h ** 3)
        g = dlgradient(y, x, EnableHigherDerivatives=True)
        z = np.sum(g * g)
        return z, dlgradient(z, x)
    CALLS.clear()
    z, gz = dlfeval(loss, dlarray(X), [block])
    assert CALLS == [1]
    want, grad = _z_of_cubes(X, 8.0)      # (2x)^3 = 8 x^3
    assert_close(D(z), want)
    assert_close(D(gz), grad)


def test_getattr_raising_attribute_error_exact():
    def loss(x):
        y = np.sum(x ** 3) * CFG.scale
        g = dlgradient(y, x, EnableHigherDerivatives=True)
        z = np.sum(g * g)
        return z, dlgradient(z, x)
    z, gz = dlfeval(loss, dlarray(X))
    want, grad = _z_of_cubes(X, 2.0)
    assert_close(D(z), want)
    assert_close(D(gz), grad)


def test_pure_property_of_an_item_exact():
    def loss(x):
        s = SCHEDS[0]
        y = np.sum(x ** 3) * s.rate
        g = dlgradient(y, x, EnableHigherDerivatives=True)
        z = np.sum(g * g)
        return z, dlgradient(z, x)
    T[0] = 0
    z, gz = dlfeval(loss, dlarray(X))
    assert T == [0]
    want, grad = _z_of_cubes(X)
    assert_close(D(z), want)
    assert_close(D(gz), grad)


def test_counting_property_after_the_inner_gradient_exact():
    # (read after the inner dlgradient: not recomputed, it runs once as in Python)
    def loss(x):
        y = np.sum(x ** 3)
        g = dlgradient(y, x, EnableHigherDerivatives=True)
        z = np.sum(g * g) * SCHEDS[0].lr
        return z, dlgradient(z, x)
    T[0] = 0
    z, gz = dlfeval(loss, dlarray(X))
    assert T == [1]
    want, grad = _z_of_cubes(X)
    assert_close(D(z), want)
    assert_close(D(gz), grad)


def test_loop_over_arrays_with_counting_classes_in_module_exact():
    def loss(x, params):
        y = np.sum(x * 0.0)
        for p in params:
            y = y + np.sum(p * x ** 3)
        g = dlgradient(y, x, EnableHigherDerivatives=True)
        z = np.sum(g * g)
        return z, dlgradient(z, x)
    params = [np.array([1.0, 0.5]), np.array([0.5, 0.5])]
    z, gz = dlfeval(loss, dlarray(X), params)
    w = params[0] + params[1]

    def python_z(v):
        return float(np.sum((3 * v ** 2 * w) ** 2))
    assert_close(D(z), python_z(X))
    assert_close(D(gz), numerical_gradient(python_z, [X.copy()], 0))


def test_untaken_branch_with_counting_property_exact():
    # (the statement that reads it is not reached: nothing runs it twice)
    def loss(x, use):
        y = np.sum(x ** 3)
        if use:
            y = y * SCHEDS[0].lr
        g = dlgradient(y, x, EnableHigherDerivatives=True)
        z = np.sum(g * g)
        return z, dlgradient(z, x)
    T[0] = 0
    z, gz = dlfeval(loss, dlarray(X), False)
    assert T == [0]
    want, grad = _z_of_cubes(X)
    assert_close(D(z), want)
    assert_close(D(gz), grad)


def test_counting_property_first_order_exact():
    def loss(x):
        s = SCHEDS[0]
        y = np.sum(x ** 3) * s.lr
        return y, dlgradient(y, x)
    T[0] = 0
    y, g = dlfeval(loss, dlarray(X))
    assert T == [1]
    assert_close(D(y), np.sum(X ** 3))
    assert_close(D(g), 3 * X ** 2)


def test_lambda_reading_a_name_bound_later_exact():
    # (what a lambda reads is read when it is called: nothing is checked where it is made, no NameError)
    def loss(x):
        get = lambda: s.rate        # noqa: E731
        s = SCHEDS[0]
        y = np.sum(x ** 3) * get()
        g = dlgradient(y, x, EnableHigherDerivatives=True)
        z = np.sum(g * g)
        return z, dlgradient(z, x)
    z, gz = dlfeval(loss, dlarray(X))
    want, grad = _z_of_cubes(X)
    assert_close(D(z), want)
    assert_close(D(gz), grad)


class PureLr:
    @property
    def lr(self):
        return 1.0


def loss_argument_rebound(x, s):
    s = SCHEDS[0]
    y = np.sum(x ** 3) * s.lr
    g = dlgradient(y, x, EnableHigherDerivatives=True)
    z = np.sum(g * g)
    return z, dlgradient(z, x)


def test_argument_rebound_to_a_counting_object_refused_at_line():
    # (the argument's kind names a class whose lr changes nothing; the name then holds another object)
    T[0] = 0
    with pytest.raises(EvaluationError) as e:
        dlfeval(loss_argument_rebound, dlarray(X), PureLr())
    assert f"line {_line_of(loss_argument_rebound, 's.lr')}" in str(e.value)


def test_counting_property_of_another_module_refused_at_line(tmp_path, monkeypatch):
    # (a scheduler in a module of the user's, read as ``sched_mod.S.lr`` or through its function ``make()``:
    # was 38.25 and [9, 72] where Python gives 153 and [36, 288], the getter run twice)
    import importlib
    import sys
    (tmp_path / "sched_mod_s58.py").write_text(
        "T = [0]\n"
        "class Sched:\n"
        "    @property\n"
        "    def lr(self):\n"
        "        T[0] += 1\n"
        "        return 1.0 / T[0]\n"
        "S = Sched()\n"
        "def make():\n"
        "    return S\n")
    (tmp_path / "loss_mod_s58.py").write_text(
        "import numpy as np\n"
        "import sched_mod_s58\n"
        "from sched_mod_s58 import make\n"
        "from sct import dlgradient\n"
        "def by_module(x):\n"
        "    y = np.sum(x ** 3) * sched_mod_s58.S.lr\n"
        "    g = dlgradient(y, x, EnableHigherDerivatives=True)\n"
        "    z = np.sum(g * g)\n"
        "    return z, dlgradient(z, x)\n"
        "def by_function(x):\n"
        "    s = make()\n"
        "    y = np.sum(x ** 3) * s.lr\n"
        "    g = dlgradient(y, x, EnableHigherDerivatives=True)\n"
        "    z = np.sum(g * g)\n"
        "    return z, dlgradient(z, x)\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    for name in ("sched_mod_s58", "loss_mod_s58"):
        sys.modules.pop(name, None)
    mod = importlib.import_module("loss_mod_s58")
    for fn, line in ((mod.by_module, 6), (mod.by_function, 12)):
        with pytest.raises(EvaluationError) as e:
            dlfeval(fn, dlarray(X))
        assert f"line {line}" in str(e.value) and "Sched.lr" in str(e.value)


class _PartialProperty:
    """A property whose getter is a functools.partial (matplotlib's Figure.figure is one)."""

    def get(self, root=False):
        return 2.0 if root else 1.0

    value = property(functools.partial(get, root=True))


PARTIAL_HOLDER = _PartialProperty()


def squares_near_a_partial_property(x):
    y = np.sum(x ** 2) * 1.5
    return y, dlgradient(y, x)


def test_a_property_made_of_a_partial_within_reach():
    # (was: an internal error, 'functools.partial' object has no attribute '__code__', in every function of a
    # module or notebook holding such an object: a fresh clone's CI, notebook 01_rosenbrock with matplotlib's fig)
    x = np.array([1.0, -2.0])
    y, g = dlfeval(squares_near_a_partial_property, dlarray(x))
    assert float(sct.extractdata(y)) == pytest.approx(7.5)
    np.testing.assert_allclose(sct.extractdata(g), 3.0 * x)
    assert PARTIAL_HOLDER.value == 2.0
