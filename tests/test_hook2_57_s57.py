"""hook2_57: implicit user code in code a second derivative recomputes (red57c W3).

With ``dlgradient(..., EnableHigherDerivatives=True)`` sct recomputes the code before the inner dlgradient for the
outer one.  A property, ``__index__``, a class descriptor's ``__get__``, ``__bool__``, ``__len__``... ran a second
time there and the outer gradient differentiated its second answer (a counting ``lr``: z 38.25, dz/dx [9, 72], T 2
where Python gives 153, [36, 288], T 1; ``x[:CUT]`` with a counting ``__index__``: [6, 12, 0] where [6, 0, 0]).
Where such code changes an object it is refused at the line now, as the explicit write ``CNT["n"] += 1`` is;
such code that changes nothing runs as Python, and a first derivative is unchanged.
"""
import numpy as np
import pytest

from sct import dlarray, dlfeval, dlgradient
from sct.errors import EvaluationError
from gradcheck import D, assert_close

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


SCHED = Sched()


def _line_of(fn, text):
    import inspect
    lines, start = inspect.getsourcelines(fn)
    return start + next(i for i, s in enumerate(lines) if text in s)


def _second(y_of):
    """A second-order loss: z = sum(dy/dx ** 2), and dz/dx."""
    def loss(x):
        y = y_of(x)
        g = dlgradient(y, x, EnableHigherDerivatives=True)
        z = np.sum(g * g)
        return z, dlgradient(z, x)
    return loss


def loss_counting_property(x):
    y = np.sum(x ** 3) * SCHED.lr
    g = dlgradient(y, x, EnableHigherDerivatives=True)
    z = np.sum(g * g)
    return z, dlgradient(z, x)


def test_counting_property_refused_at_line():
    T[0] = 0
    with pytest.raises(EvaluationError) as e:
        dlfeval(loss_counting_property, dlarray(X))
    assert f"line {_line_of(loss_counting_property, 'SCHED.lr')}" in str(e.value)
    assert "Sched.lr" in str(e.value)


def loss_pure_property(x):
    y = np.sum(x ** 3) * SCHED.rate
    g = dlgradient(y, x, EnableHigherDerivatives=True)
    z = np.sum(g * g)
    return z, dlgradient(z, x)


def test_pure_property_exact():
    z, gz = dlfeval(loss_pure_property, dlarray(X))
    assert_close(D(z), np.sum(9 * X ** 4))          # g = 3x^2, z = sum(9x^4)
    assert_close(D(gz), 36 * X ** 3)


def test_counting_property_first_order_exact():
    def loss(x):
        y = np.sum(x ** 3) * SCHED.lr
        return y, dlgradient(y, x)
    T[0] = 0
    y, g = dlfeval(loss, dlarray(X))
    assert T == [1]
    assert_close(D(y), np.sum(X ** 3))
    assert_close(D(g), 3 * X ** 2)


class Cut:
    def __init__(self):
        self.n = 0

    def __index__(self):
        self.n += 1
        return self.n


CUT = Cut()
X3 = np.array([1.0, 2.0, 3.0])


def loss_counting_index(x):
    y = np.sum(x[:CUT] ** 3)
    g = dlgradient(y, x, EnableHigherDerivatives=True)
    z = np.sum(g)
    return z, dlgradient(z, x)


def test_counting_index_refused_at_line():
    CUT.n = 0
    with pytest.raises(EvaluationError) as e:
        dlfeval(loss_counting_index, dlarray(X3))
    assert f"line {_line_of(loss_counting_index, 'x[:CUT]')}" in str(e.value)
    assert "__index__" in str(e.value)


class Counter:
    def __init__(self):
        self.calls = 0

    def __get__(self, obj, owner):
        self.calls += 1
        return 1.0 / self.calls


class Holder:
    lr = Counter()


def loss_descriptor(x):
    y = np.sum(x ** 3) * Holder.lr
    g = dlgradient(y, x, EnableHigherDerivatives=True)
    z = np.sum(g * g)
    return z, dlgradient(z, x)


def test_counting_descriptor_refused_at_line():
    with pytest.raises(EvaluationError) as e:
        dlfeval(loss_descriptor, dlarray(X))
    assert f"line {_line_of(loss_descriptor, 'Holder.lr')}" in str(e.value)


class Flag:
    def __init__(self):
        self.n = 0

    def __bool__(self):
        self.n += 1
        return self.n == 1


FLAG = Flag()


def loss_truth(x):
    if FLAG:
        y = np.sum(x ** 3)
    else:
        y = np.sum(x ** 2)
    g = dlgradient(y, x, EnableHigherDerivatives=True)
    z = np.sum(g * g)
    return z, dlgradient(z, x)


def test_counting_bool_refused_at_line():
    FLAG.n = 0
    with pytest.raises(EvaluationError) as e:
        dlfeval(loss_truth, dlarray(X))
    assert f"line {_line_of(loss_truth, 'if FLAG')}" in str(e.value)


def test_counting_property_of_argument_exact():
    # (an argument's property is compiled as a helper, replayed where recomputed: it runs once)
    def loss(x, s):
        y = np.sum(x ** 3) * s.lr
        g = dlgradient(y, x, EnableHigherDerivatives=True)
        z = np.sum(g * g)
        return z, dlgradient(z, x)
    T[0] = 0
    z, gz = dlfeval(loss, dlarray(X), Sched())
    assert T == [1]
    assert_close(D(z), np.sum(9 * X ** 4))
    assert_close(D(gz), 36 * X ** 3)


def _read_lr():
    return SCHED.lr


def test_counting_property_in_helper_exact():
    # (the message's advice: the read in a helper function runs once)
    def loss(x):
        y = np.sum(x ** 3) * _read_lr()
        g = dlgradient(y, x, EnableHigherDerivatives=True)
        z = np.sum(g * g)
        return z, dlgradient(z, x)
    T[0] = 0
    z, gz = dlfeval(loss, dlarray(X))
    assert T == [1]
    assert_close(D(z), np.sum(9 * X ** 4))
    assert_close(D(gz), 36 * X ** 3)


class Meta(type):
    @property
    def lr(cls):
        T[0] += 1
        return 1.0 / T[0]


class ByMeta(metaclass=Meta):
    pass


def loss_metaclass(x):
    y = np.sum(x ** 3) * ByMeta.lr
    g = dlgradient(y, x, EnableHigherDerivatives=True)
    z = np.sum(g * g)
    return z, dlgradient(z, x)


def test_counting_metaclass_property_refused_at_line():
    # (was: z 38.25, dz/dx [9, 72], T 2 where Python gives 153, [36, 288], T 1)
    T[0] = 0
    with pytest.raises(EvaluationError) as e:
        dlfeval(loss_metaclass, dlarray(X))
    assert f"line {_line_of(loss_metaclass, 'ByMeta.lr')}" in str(e.value)
    assert "Meta.lr" in str(e.value)


class Num:
    def __init__(self):
        self.n = 0

    def __float__(self):
        self.n += 1
        return float(self.n)


NUM = Num()


def loss_float(x):
    y = np.sum(x ** 3) * float(NUM)
    g = dlgradient(y, x, EnableHigherDerivatives=True)
    z = np.sum(g * g)
    return z, dlgradient(z, x)


def test_counting_float_refused_at_line():
    # (was: 612, [144, 1152] where Python gives 153, [36, 288])
    NUM.n = 0
    with pytest.raises(EvaluationError) as e:
        dlfeval(loss_float, dlarray(X))
    assert f"line {_line_of(loss_float, 'float(NUM)')}" in str(e.value)
    assert "Num.__float__" in str(e.value)


def test_object_made_in_function_exact():
    # (a counting __float__ of an object the function makes: made anew where recomputed, Python's values)
    def loss(x):
        c = Num()
        y = np.sum(x ** 3) * float(c)
        g = dlgradient(y, x, EnableHigherDerivatives=True)
        z = np.sum(g * g)
        return z, dlgradient(z, x)
    z, gz = dlfeval(loss, dlarray(X))
    assert_close(D(z), np.sum(9 * X ** 4))
    assert_close(D(gz), 36 * X ** 3)


def test_params_dict_with_hooked_classes_in_module_exact():
    # (classes with counting hooks in the module, none used: a dict of params runs as Python)
    def loss(x):
        P = {"w": np.array([1.0, 2.0]), "b": 0.5}
        y = np.sum(x ** 3 * P["w"]) + P["b"]
        g = dlgradient(y, x, EnableHigherDerivatives=True)
        z = np.sum(g * g)
        return z, dlgradient(z, x)
    w = np.array([1.0, 2.0])
    z, gz = dlfeval(loss, dlarray(X))
    assert_close(D(z), np.sum(9 * X ** 4 * w ** 2))
    assert_close(D(gz), 36 * X ** 3 * w ** 2)
