"""Red team redfix51 W2: a user's subclass of a numpy scalar type (np.float64, np.float32, np.int64) with
its own operator methods was not refused: Python ran its ``__mul__`` for the value, generated code
differentiated numpy's ``*`` (``class Gain(np.float64): def __mul__(self, o): return o * float(self) * 10``
gave g = [80, 160] for [800, 1600]).  number_subclass_override exempted every np.generic subclass, and
kind_of never checked an np.generic's class.  Now only numpy's own scalar types are exempt, and such a
value is refused as an argument, an item of one, a global or a value made in the function."""
from __future__ import annotations

import enum

import numpy as np
import pytest

import sct
from sct import SctError, dlarray, dlfeval, dlgradient, extractdata
from sct.runtime.support import number_subclass_override

X = np.array([1.0, 2.0])


def _e(a):
    return np.asarray(extractdata(a), dtype=float)


class Gain(np.float64):
    def __mul__(self, o):
        return o * float(self) * 10.0

    __rmul__ = __mul__


class Gain32(np.float32):
    def __mul__(self, o):
        return o * float(self) * 10.0


class Count(np.int64):
    def __mul__(self, o):
        return o * int(self) * 10


class PlainF64(np.float64):
    pass


class Color(enum.IntEnum):
    RED = 2


GAIN = Gain(2.0)


def _arg(x, c):
    L = np.sum((c * x) ** 2)
    return L, dlgradient(L, x)


def _item(x, cs):
    L = np.sum((cs[0] * x) ** 2)
    return L, dlgradient(L, x)


def test_override_found_for_user_subclasses_of_numpy_scalars_only():
    assert number_subclass_override(Gain) == "Gain.__mul__"
    assert number_subclass_override(Gain32) == "Gain32.__mul__"
    assert number_subclass_override(Count) == "Count.__mul__"
    for cls in (np.float64, np.float32, np.int64, np.complex128, np.floating, np.generic, PlainF64, Color,
                np.str_):
        assert number_subclass_override(cls) == "", cls


@pytest.mark.parametrize("value", [Gain(2.0), Gain32(2.0), Count(2)])
def test_minimal_program_argument_refused_at_the_users_line(value):
    # was: L = 2000 (Gain's *), g = [80, 160] (numpy's *): the right g is [800, 1600]
    sct.clear_cache()
    with pytest.raises(SctError, match=r"test_scalar_subclass_s51\.py, line \d+: .*with its own "
                                       + type(value).__name__ + r"\.__mul__"):
        dlfeval(_arg, dlarray(X), value)


@pytest.mark.parametrize("box", [lambda c: [c], lambda c: (c,), lambda c: {0: c}])
def test_minimal_program_item_refused(box):
    sct.clear_cache()
    with pytest.raises(SctError, match=r"subclass of np\.float64 with its own Gain\.__mul__"):
        dlfeval(_item, dlarray(X), box(Gain(2.0)))


def test_global_refused_at_its_line():
    def loss(x):
        L = np.sum((GAIN * x) ** 2)
        return L, dlgradient(L, x)
    with pytest.raises(SctError, match=r"test_scalar_subclass_s51\.py, line \d+: .*object of Gain"):
        dlfeval(loss, dlarray(X))


def test_value_made_in_the_function_refused():
    def loss(x):
        c = Gain(2.0)
        L = np.sum((c * x) ** 2)
        return L, dlgradient(L, x)
    with pytest.raises(SctError, match=r"test_scalar_subclass_s51\.py, line \d+: .*object of Gain"):
        dlfeval(loss, dlarray(X))


def test_operator_set_on_the_class_after_a_first_call_refused():
    class Late(np.float64):
        pass
    L, g = dlfeval(_arg, dlarray(X), Late(2.0))
    assert np.allclose(_e(g), 8.0 * X)
    Late.__mul__ = lambda self, o: o * float(self) * 10.0
    Late.__rmul__ = Late.__mul__
    with pytest.raises(SctError, match=r"with its own .*Late\.__mul__"):
        dlfeval(_arg, dlarray(X), Late(2.0))


@pytest.mark.parametrize("value", [np.float64(2.0), np.float32(2.0), np.int64(2), PlainF64(2.0), Color.RED,
                                   2.0, 2])
def test_numpy_scalars_enums_and_plain_subclasses_stay_exact(value):
    sct.clear_cache()
    L, g = dlfeval(_arg, dlarray(X), value)
    assert np.isclose(float(_e(L)), np.sum((2.0 * X) ** 2))
    assert np.allclose(_e(g), 8.0 * X)
    L, g = dlfeval(_item, dlarray(X), [value])
    assert np.allclose(_e(g), 8.0 * X)
