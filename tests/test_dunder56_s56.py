"""dunder56: code of the user's that Python runs implicitly (red2_56 W4, W5) and object arrays of arrays (C1).

1. A global list (or array) an adjoint reads, changed by an implicit call between the read and the gradient (a
   property's getter, ``__getitem__``, ``__bool__``, ``__len__``, ``__eq__``, an f-string's ``__format__``,
   ``__getattr__``, ``__float__`` of a global object): the adjoint read the changed numbers, [3, 2] where Python's
   derivative is [2, 2].  Refused at that line now (sct/stale_reads.py: a global's or closure value's object whose
   class runs the user's code there is checked as a call is).  And compiling no longer runs a user's
   ``__getattr__`` (it asked the object for ``__sct_generated__``: a side effect Python's run has not).
2. ``if flag:`` ran Flag.__bool__ twice (the adjoint branch_global it again) and ``x[:flag]`` Flag.__index__ twice (the
   adjoint indexed again): each is run once now, and the adjoint follows the branch the forward took.
3. ``arr = np.empty(2, dtype=object); arr[0] = x * 2.0; ...``: a ValueError from inside the gradient; refused at
   the user's line now.
"""
import numpy as np
import pytest

from sct import dlarray, dlfeval, dlgradient
from sct.errors import EvaluationError
from gradcheck import D, assert_close


# --- 1. a list an adjoint reads, changed by an implicit call --------------------------------------------------

W = [2.0, 2.0]
WA = np.array([2.0, 2.0])


def _bump():
    W[0] += 1.0
    WA[0] += 1.0


class Schedule:
    def __init__(self):
        self.t = 0

    @property
    def lr(self):
        self.t += 1
        _bump()
        return 0.1


class Quiet:
    @property
    def lr(self):
        return 0.1


class G:
    def __getitem__(self, i):
        _bump()
        return 1.0

    def __bool__(self):
        _bump()
        return True

    def __len__(self):
        _bump()
        return 1

    def __eq__(self, o):
        _bump()
        return True

    def __hash__(self):
        return 1

    def __format__(self, spec):
        _bump()
        return "g"

    def __getattr__(self, n):
        _bump()
        return 1.0

    def __float__(self):
        _bump()
        return 1.0


SCHED = Schedule()
QUIET = Quiet()
OB = G()


def by_property(x):
    y = np.sum(x * W)
    lr = SCHED.lr
    return y, dlgradient(y, x)


def by_getitem(x):
    y = np.sum(x * W)
    z = OB[0]
    return y, dlgradient(y, x)


def by_bool(x):
    y = np.sum(x * W)
    if OB:
        pass
    return y, dlgradient(y, x)


def by_len(x):
    y = np.sum(x * W)
    n = len(OB)
    return y, dlgradient(y, x)


def by_eq(x):
    y = np.sum(x * W)
    z = (OB == 3)
    return y, dlgradient(y, x)


def by_format(x):
    y = np.sum(x * W)
    s = f"{OB}"
    return y, dlgradient(y, x)


def by_getattr(x):
    y = np.sum(x * W)
    s = OB.anything
    return y, dlgradient(y, x)


def by_float(x):
    y = np.sum(x * W)
    s = float(OB)
    return y, dlgradient(y, x)


def array_by_property(x):
    y = np.sum(x * WA)
    lr = SCHED.lr
    return y, dlgradient(y, x)


def _reset():
    W[:] = [2.0, 2.0]
    WA[:] = [2.0, 2.0]


@pytest.mark.parametrize("fun,text", [
    (by_property, "lr = SCHED.lr"), (by_getitem, "z = OB[0]"), (by_bool, "if OB:"), (by_len, "n = len(OB)"),
    (by_eq, "z = (OB == 3)"), (by_format, 's = f"{OB}"'), (by_getattr, "s = OB.anything"),
    (by_float, "s = float(OB)"), (array_by_property, "lr = SCHED.lr")])
def test_a_list_changed_by_an_implicit_call_is_refused(fun, text):
    _reset()
    line = fun.__code__.co_firstlineno + 2
    with pytest.raises(EvaluationError) as e:
        dlfeval(fun, dlarray(np.array([1.0, 1.0])))
    _reset()
    message = str(e.value)
    assert f"line {line}" in message and ("changed W in place" in message or "changed WA in place" in message)


class Holder:
    def __init__(self):
        self.sched = Schedule()


HOLDER = Holder()
SCHEDS = {"s": Schedule()}


def by_chain(x):
    y = np.sum(x * W)
    lr = HOLDER.sched.lr
    return y, dlgradient(y, x)


def by_item_property(x):
    y = np.sum(x * W)
    lr = SCHEDS["s"].lr
    return y, dlgradient(y, x)


@pytest.mark.parametrize("fun", [by_chain, by_item_property])
def test_a_list_changed_by_a_property_through_fields_and_items_is_refused_at_the_gradient(fun):
    _reset()
    line = fun.__code__.co_firstlineno + 3
    with pytest.raises(EvaluationError) as e:
        dlfeval(fun, dlarray(np.array([1.0, 1.0])))
    _reset()
    message = str(e.value)
    # (refused at the property's line now, dund57: the implicit call checked where it runs, not only at the sweep)
    assert f"line {line - 1}" in message and "changed W in place" in message and "line " + str(line - 2) in message


def quiet_property(x):
    y = np.sum(x * W)
    lr = QUIET.lr
    return y * lr, dlgradient(y * lr, x)


def test_an_implicit_call_that_changes_nothing_is_exact():
    _reset()
    x0 = np.array([1.0, 3.0])
    y, g = dlfeval(quiet_property, dlarray(x0))
    assert_close(D(y), np.sum(x0 * np.array(W)) * 0.1)
    assert_close(D(g), 0.1 * np.array(W))


class Counted:
    def __init__(self):
        self.calls = 0

    def __getattr__(self, name):
        self.calls += 1
        raise AttributeError(name)

    def __hash__(self):
        return 1


COUNTED = Counted()


def keyed(x):
    d = {COUNTED: 2.0}
    y = np.sum(x ** 2) * d[COUNTED]
    return y, dlgradient(y, x)


def test_compiling_runs_no_getattr_of_a_global_object():
    COUNTED.calls = 0
    x0 = np.array([1.0, 2.0])
    y, g = dlfeval(keyed, dlarray(x0))
    assert COUNTED.calls == 0       # (Python's run of keyed asks COUNTED for no attribute)
    assert_close(D(y), 2.0 * np.sum(x0 ** 2))
    assert_close(D(g), 4.0 * x0)


# --- 2. __bool__ and __index__ run once -----------------------------------------------------------------------

class Flag:
    """Its truth alternates, and it counts its calls."""
    def __init__(self):
        self.calls = 0

    def __bool__(self):
        self.calls += 1
        return self.calls % 2 == 1

    def __index__(self):
        self.calls += 1
        return 1


FLAG = Flag()


class Config:
    def __init__(self):
        self.flag = Flag()


CFG = Config()


def branch_global(x):
    y = np.sum(x ** 2)
    if FLAG:
        y = y * 3.0
    return y, dlgradient(y, x)


def branch_local(x):
    flag = CFG.flag
    y = np.sum(x ** 2)
    if flag:
        y = y * 3.0
    return y, dlgradient(y, x)


def sliced(x):
    y = np.sum(x[:FLAG] ** 2)
    return y, dlgradient(y, x)


def test_a_branch_on_an_object_runs_its_bool_once():
    x0 = np.array([1.0, 2.0])
    FLAG.calls = 0
    y, g = dlfeval(branch_global, dlarray(x0))
    assert FLAG.calls == 1
    assert_close(D(y), 3.0 * np.sum(x0 ** 2))       # (the first test is True)
    assert_close(D(g), 6.0 * x0)                    # (was: the adjoint's own test, False, gave 2x)


def test_a_branch_on_a_name_bound_to_an_object_runs_its_bool_once():
    x0 = np.array([1.0, 2.0])
    CFG.flag.calls = 0
    y, g = dlfeval(branch_local, dlarray(x0))
    assert CFG.flag.calls == 1
    assert_close(D(y), 3.0 * np.sum(x0 ** 2))
    assert_close(D(g), 6.0 * x0)


def test_a_slice_bound_object_runs_its_index_once():
    x0 = np.array([1.0, 2.0, 3.0])
    FLAG.calls = 0
    y, g = dlfeval(sliced, dlarray(x0))
    assert FLAG.calls == 1
    assert_close(D(y), 1.0)
    assert_close(D(g), np.array([2.0, 0.0, 0.0]))


# --- 3. an object array holding arrays ------------------------------------------------------------------------

def array_of_arrays(x):
    arr = np.empty(2, dtype=object)
    arr[0] = x * 2.0
    arr[1] = x ** 2
    y = np.sum(arr[0] * arr[1])
    return y, dlgradient(y, x)


def array_of_numbers(x):
    arr = np.array([x[0], x[1]], dtype=object)
    arr[0] = arr[0] * 5.0
    y = arr[0] + arr[1] * arr[1]
    return y, dlgradient(y, x)


def test_an_object_array_of_traced_arrays_is_refused_at_the_line():
    line = array_of_arrays.__code__.co_firstlineno + 4
    with pytest.raises(EvaluationError) as e:
        dlfeval(array_of_arrays, dlarray(np.array([1.0, 2.0])))
    message = str(e.value)
    assert f"line {line}" in message and "dtype=object" in message and "np.sum(arr[0] * arr[1])" in message


def test_an_object_array_of_traced_numbers_stays_exact():
    x0 = np.array([1.0, 2.0])
    y, g = dlfeval(array_of_numbers, dlarray(x0))
    assert_close(D(y), 5.0 * x0[0] + x0[1] ** 2)
    assert_close(D(g), np.array([5.0, 2.0 * x0[1]]))
