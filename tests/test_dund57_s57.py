"""dund57: user code Python runs implicitly, run by sct as Python runs it (red57a W2, W4, W5, W6, C1).

1. (W2) A property, ``__add__``/``__radd__``/``__mul__``/``__neg__``, a dict subclass's ``__missing__``, a metaclass
   property or ``range(IDX)``'s ``__index__`` that changes a global array an earlier differentiated operation read,
   on an object reached through a list, a local, a field, a dict item or a helper's local: the gradient used the
   changed numbers ([3, 2] where Python's derivative is [2, 2]).  Refused at the line that runs the code now
   (sct/implicit_hooks.py, rt.stale_kept_hooked); the same code that changes nothing runs as Python.
2. (W4) A class's descriptor or a metaclass property read through the class (``H.lr``) ran 6 times the first call
   and 9 the next: once per read now, value and gradient Python's.
3. (W5, C1) A parameter's object with ``__index__`` in ``x[:cut]``/``x[c]`` ran it 3 times (the gradient used
   another slice), and as np.roll's shift / np.take's index the gradient crashed: read once, exact now.
4. (W6) sct ran a user's ``__getattr__`` on an argument object (its probes for ``__sct_missing_attribute__`` and
   ``_data``), and left ``__sct_missing_attribute__`` on an object whose ``__getattr__`` fills in names.
"""
import numpy as np
import pytest

from sct import dlarray, dlfeval, dlgradient
from sct.errors import EvaluationError
from gradcheck import D, assert_close, numerical_gradient

A = np.array([2.0, 2.0])
X0 = np.array([1.0, 1.0])


def _bump():
    A[0] += 1.0


class Sched:
    @property
    def lr(self):
        _bump()
        return 0.1


class Plus:
    def __add__(self, o):
        _bump()
        return o

    def __radd__(self, o):
        _bump()
        return o

    def __mul__(self, o):
        _bump()
        return o

    def __neg__(self):
        _bump()
        return self


class Missing(dict):
    def __missing__(self, key):
        _bump()
        return 0.5


class Meta(type):
    @property
    def lr(cls):
        _bump()
        return 0.1


class MetaSched(metaclass=Meta):
    pass


class Idx:
    def __index__(self):
        _bump()
        return 2


class Holder:
    def __init__(self):
        self.plus = Plus()
        self.sched = Sched()

    def step(self, x):
        y = np.sum(x * A)
        z = self.plus + 1.0
        return y, dlgradient(y, x)


SCHEDS = [Sched()]
P = Plus()
MISSING = Missing()
IDX = Idx()
HOLDER = Holder()


def make():
    return Sched()


def via_list_walk(x):
    y = np.sum(x * A)
    for s in SCHEDS:
        lr = s.lr
    return y, dlgradient(y, x)


def via_local(x):
    y = np.sum(x * A)
    s = SCHEDS[0]
    lr = s.lr
    return y, dlgradient(y, x)


def via_made(x):
    y = np.sum(x * A)
    o = make()
    lr = o.lr
    return y, dlgradient(y, x)


def via_dict_literal(x):
    y = np.sum(x * A)
    lr = {"s": SCHEDS[0]}["s"].lr
    return y, dlgradient(y, x)


def via_add(x):
    y = np.sum(x * A)
    z = P + 1.0
    return y, dlgradient(y, x)


def via_radd(x):
    y = np.sum(x * A)
    z = 1.0 + P
    return y, dlgradient(y, x)


def via_mul(x):
    y = np.sum(x * A)
    z = P * 2.0
    return y, dlgradient(y, x)


def via_neg(x):
    y = np.sum(x * A)
    z = -P
    return y, dlgradient(y, x)


def via_missing(x):
    y = np.sum(x * A)
    z = MISSING["k"]
    return y, dlgradient(y, x)


def via_metaclass(x):
    y = np.sum(x * A)
    z = MetaSched.lr
    return y, dlgradient(y, x)


def via_range(x):
    y = np.sum(x * A)
    for i in range(IDX):
        pass
    return y, dlgradient(y, x)


def via_field(x):
    return HOLDER.step(x)


def _helper_reads(x):
    s = SCHEDS[0]
    return s.lr


def via_helper_local(x):
    y = np.sum(x * A)
    lr = _helper_reads(x)
    return y, dlgradient(y, x)


def via_sum_of_a_list(x):
    y = np.sum(x * A)
    z = sum([P])        # (0 + P: Plus.__radd__, on an object held by a list)
    return y, dlgradient(y, x)


IMPLICIT = [via_sum_of_a_list, via_list_walk, via_local, via_made, via_dict_literal, via_add, via_radd, via_mul, via_neg, via_missing,
            via_metaclass, via_range, via_field, via_helper_local]


@pytest.mark.parametrize("fun", IMPLICIT, ids=lambda f: f.__name__)
def test_implicit_code_changing_a_read_array_is_refused_at_its_line(fun):
    A[:] = 2.0
    try:
        with pytest.raises(EvaluationError) as e:
            dlfeval(fun, dlarray(X0))
    finally:
        A[:] = 2.0
    message = str(e.value)
    assert "changed A in place" in message and __file__ in message and "line " in message


# the same code where the implicit call changes nothing: exact (no false refusal)
class QuietSched:
    @property
    def lr(self):
        return 0.5


class QuietPlus:
    def __add__(self, o):
        return o + 1.0


QUIET = [QuietSched()]
QP = QuietPlus()


def quiet(x):
    y = np.sum(x * A)
    for s in QUIET:
        lr = s.lr
    z = QP + 1.0
    return y * lr * z, dlgradient(y * lr * z, x)


def test_implicit_code_that_changes_nothing_runs_as_python():
    A[:] = 2.0
    x = np.array([1.0, 3.0])
    y, g = dlfeval(quiet, dlarray(x))
    assert_close(D(y), np.sum(x * A) * 0.5 * 2.0)
    assert_close(D(g), numerical_gradient(lambda v: np.sum(v * A) * 0.5 * 2.0, [x], 0))


# --- 2. a class's descriptor / a metaclass property read through the class: once per read -------------------

class Counter:
    def __init__(self):
        self.step = 0

    def __get__(self, obj, cls):
        self.step += 1
        return 1.0 / self.step


class H:
    lr = Counter()


class CountingMeta(type):
    reads = 0

    @property
    def lr(cls):
        CountingMeta.reads += 1
        return 1.0 / CountingMeta.reads


class MH(metaclass=CountingMeta):
    pass


def class_descriptor(x):
    y = np.sum(x ** 2) * H.lr
    return y, dlgradient(y, x)


def metaclass_property(x):
    y = np.sum(x ** 2) * MH.lr
    return y, dlgradient(y, x)


@pytest.mark.parametrize("fun, reads", [(class_descriptor, lambda: vars(H)["lr"].step),
                                        (metaclass_property, lambda: CountingMeta.reads)],
                         ids=["descriptor", "metaclass"])
def test_a_class_field_with_user_getter_runs_once_per_read(fun, reads):
    vars(H)["lr"].step = 0
    CountingMeta.reads = 0
    x = np.array([1.0, 2.0])
    for call in (1, 2):
        y, g = dlfeval(fun, dlarray(x))
        assert reads() == call
        assert_close(D(y), np.sum(x ** 2) / call)
        assert_close(D(g), 2 * x / call)


# --- 3. a parameter's __index__: once; np.roll / np.take ------------------------------------------------------

class Cut:
    def __init__(self):
        self.k = 0

    def __index__(self):
        self.k += 1
        return self.k


def sliced(x, cut):
    y = np.sum(x[:cut] ** 2)
    return y, dlgradient(y, x)


def indexed(x, c):
    y = x[c] ** 2
    return y, dlgradient(y, x)


@pytest.mark.parametrize("fun, used", [(sliced, lambda x: x[:1]), (indexed, lambda x: x[1:2])],
                         ids=["slice", "index"])
def test_a_parameters_index_runs_once(fun, used):
    x = np.array([1.0, 2.0, 3.0, 4.0])
    cut = Cut()
    y, g = dlfeval(fun, dlarray(x), cut)
    assert cut.k == 1
    assert_close(D(y), np.sum(used(x) ** 2))
    assert_close(D(g), numerical_gradient(lambda v: np.sum(used(v) ** 2), [x], 0))


class Shift:
    def __init__(self):
        self.n = 0

    def __index__(self):
        self.n += 1
        return 1


def rolled(x, s):
    y = np.sum(np.roll(x, s) * x)
    return y, dlgradient(y, x)


def taken(x, s):
    y = np.sum(np.take(x, s) * x)
    return y, dlgradient(y, x)


@pytest.mark.parametrize("fun, plain", [(rolled, lambda v: np.sum(np.roll(v, 1) * v)),
                                        (taken, lambda v: np.sum(np.take(v, 1) * v))], ids=["roll", "take"])
def test_index_object_as_roll_shift_or_take_index(fun, plain):
    x = np.array([1.0, 2.0, 3.0, 4.0])
    s = Shift()
    y, g = dlfeval(fun, dlarray(x), s)
    assert s.n == 1
    assert_close(D(y), plain(x))
    assert_close(D(g), numerical_gradient(plain, [x], 0))


# --- 4. no __getattr__ of the user's run by sct ----------------------------------------------------------------

class Forwarding:
    def __init__(self):
        self.t = 0
        self.asked = []

    def __getattr__(self, name):
        self.asked.append(name)
        self.t += 1
        return 1.0

    def rate(self):
        self.t += 1
        return 1.0 / self.t


class Filling:
    def __init__(self):
        self.lr = 0.5

    def __getattr__(self, name):
        setattr(self, name, 0.0)
        return 0.0


def scheduled(x, sched):
    y = np.sum(x ** 2) * sched.rate()
    return y, dlgradient(y, x)


def filled(x, cfg):
    y = np.sum(x ** 2) * cfg.lr
    return y, dlgradient(y, x)


def test_getattr_of_an_argument_is_not_run_by_sct():
    x = np.array([1.0, 2.0])
    s = Forwarding()
    y, g = dlfeval(scheduled, dlarray(x), s)
    assert s.asked == [] and s.t == 1
    assert_close(D(y), np.sum(x ** 2))
    assert_close(D(g), 2 * x)
    cfg = Filling()
    y, g = dlfeval(filled, dlarray(x), cfg)
    assert vars(cfg) == {"lr": 0.5}
    assert_close(D(g), x)


def test_a_property_of_a_class_in_another_users_module_is_checked():
    import dund57_far_loss
    import dund57_mod
    dund57_mod.B[:] = 2.0
    try:
        with pytest.raises(EvaluationError) as e:
            dlfeval(dund57_far_loss.far, dlarray(X0))
    finally:
        dund57_mod.B[:] = 2.0
    assert "changed dund57_mod.B in place" in str(e.value) and "dund57_far_loss.py, line 11" in str(e.value)


class Key:
    def __index__(self):
        return 0

    def __hash__(self):
        return 7

    def __eq__(self, other):
        return other is self


KEY = Key()
BY_KEY = {KEY: 3.0, 0: 5.0}


def keyed(x, k):
    y = np.sum(x) * BY_KEY[k] + x[k] ** 2
    return y, dlgradient(y, x)


def test_an_index_object_stays_a_dicts_key():
    x = np.array([1.0, 2.0])
    y, g = dlfeval(keyed, dlarray(x), KEY)
    assert_close(D(y), np.sum(x) * 3.0 + x[0] ** 2)
    assert_close(D(g), numerical_gradient(lambda v: np.sum(v) * 3.0 + v[0] ** 2, [x], 0))
