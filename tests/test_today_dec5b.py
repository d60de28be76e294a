"""Red team of the changes of Dec 5 (rt-today): a loop over an iterator whose items hold something
changed after they are given (a buffer inside a list, tuple, dict or object, a __slots__ object, a
masked array, a bytearray) is refused as the item itself changed is (was: every item read as the last);
an error the user's code raises keeps its own attributes and args (was: clobbered by sct's location,
lost for OSError/UnicodeError/__slots__ exceptions, not picklable)."""
import copy
import json
import pickle

import numpy as np
import pytest

import sct
from sct import dlarray, dlfeval, dlgradient
from gradcheck import check_grads


# --- a loop over an iterator: what an item holds, changed after it is given -------------------------

class ListOfBuffer:
    def __iter__(self):
        buf = np.zeros(2)
        held = [buf]
        for i in range(3):
            buf[:] = i
            yield held


class TupleInList:
    def __iter__(self):
        buf = np.zeros(2)
        for i in range(3):
            buf[:] = i
            yield [(i, buf)]


class DictOfBuffer:
    def __iter__(self):
        d = {"x": np.zeros(2)}
        for i in range(3):
            d["x"][:] = i
            yield d


class Holder:
    pass


class ObjectOfBuffer:
    def __iter__(self):
        h = Holder()
        h.a = np.zeros(2)
        for i in range(3):
            h.a[:] = i
            yield h


class Slotted:
    __slots__ = ("v",)


class SlottedLoader:
    def __iter__(self):
        s = Slotted()
        for i in range(3):
            s.v = float(i)
            yield s


class MaskedLoader:
    def __iter__(self):
        buf = np.ma.zeros(2)
        for i in range(3):
            buf[:] = i
            yield buf


class BytesLoader:
    def __iter__(self):
        ba = bytearray(2)
        for i in range(3):
            ba[0] = i
            yield ba


def list_of_buffer(x):
    return sum(np.sum(x * it[0]) for it in ListOfBuffer())


def tuple_in_list(x):
    t = 0.0
    for it in TupleInList():
        t = t + np.sum(x * it[0][1])
    return t


def dict_of_buffer(x):
    t = 0.0
    for it in DictOfBuffer():
        t = t + np.sum(x * it["x"])
    return t


def object_of_buffer(x):
    t = 0.0
    for it in ObjectOfBuffer():
        t = t + np.sum(x * it.a)
    return t


def slotted(x):
    t = 0.0
    for it in SlottedLoader():
        t = t + x[0] * it.v
    return t


def masked(x):
    t = 0.0
    for b in MaskedLoader():
        t = t + np.sum(x * np.asarray(b))
    return t


def bytes_items(x):
    t = 0.0
    for b in BytesLoader():
        t = t + x[0] * b[0]
    return t


def _grad(case):
    def run(x):
        y = case(x)
        return y, dlgradient(y, x)
    return run


@pytest.mark.parametrize("case", [list_of_buffer, tuple_in_list, dict_of_buffer, object_of_buffer, slotted,
                                  masked, bytes_items])
def test_item_holding_a_changed_buffer_refused(case):
    with pytest.raises(sct.EvaluationError, match="after giving it"):
        dlfeval(_grad(case), dlarray(np.array([0.3, 0.7])))


class Layer:
    def __init__(self, parent):
        self.W = np.eye(2) * 0.5
        self.b = np.array([0.1, -0.2])
        self.parent = parent


class Net:
    def __init__(self):
        self.layers = [Layer(self), Layer(self)]

    def __iter__(self):
        return iter(self.layers)


class Batches:
    def __init__(self):
        self.data = np.arange(12.0).reshape(6, 2)

    def __iter__(self):
        for i in range(0, 6, 2):
            yield {"x": self.data[i:i + 2], "y": (self.data[i:i + 2].sum(1), [self.data[i]])}


NET, BATCHES = Net(), Batches()


def layers_holding_their_net(x):
    h = x
    for layer in NET:
        h = np.tanh(layer.W @ h + layer.b)
    return np.sum(h)


def nested_fresh_batches(x):
    t = 0.0
    for b in BATCHES:
        t = t + np.sum((b["x"] @ x - b["y"][0]) ** 2) + np.sum(b["y"][1][0] * x)
    return t


@pytest.mark.parametrize("case", [layers_holding_their_net, nested_fresh_batches])
def test_items_holding_unchanged_objects_run(case):
    check_grads(case, np.array([0.3, 0.7]))


# --- an error the user's code raises: its args and fields as Python's -------------------------------

class DataError(Exception):
    def __init__(self, filename, lineno):
        super().__init__(filename)
        self.filename = filename
        self.lineno = lineno


class SlotError(Exception):
    __slots__ = ("code",)

    def __init__(self, code):
        super().__init__(code)
        self.code = code


def _raises(x, mode):
    y = np.sum(x ** 2)
    if mode == "open":
        open("/nonexistent-sct-dir/data.csv")
    if mode == "decode":
        b"\xff".decode("utf-8")
    if mode == "json":
        json.loads("{bad")
    if mode == "data":
        raise DataError("data.csv", 42)
    if mode == "slots":
        raise SlotError(7)
    if mode == "key":
        y = y + {"a": 1.0}["b"]
    return y, dlgradient(y, x)


def _plain_and_sct(mode):
    try:
        _raises.__wrapped_plain__(mode)
    except Exception as e:
        plain = e
    with pytest.raises(type(plain)) as info:
        dlfeval(_raises, dlarray(np.array([0.5, 1.0])), mode)
    assert isinstance(info.value, sct.EvaluationError)
    return plain, info.value


def _plain_raise(mode):
    # _raises's own error, raised by plain Python (its body, before the dlgradient)
    if mode == "open":
        open("/nonexistent-sct-dir/data.csv")
    if mode == "decode":
        b"\xff".decode("utf-8")
    if mode == "json":
        json.loads("{bad")
    if mode == "data":
        raise DataError("data.csv", 42)
    if mode == "slots":
        raise SlotError(7)
    if mode == "key":
        return {"a": 1.0}["b"]


_raises.__wrapped_plain__ = _plain_raise


@pytest.mark.parametrize("mode, fields", [
    ("open", ("errno", "strerror", "filename")),
    ("decode", ("encoding", "object", "start", "end", "reason")),
    ("json", ("msg", "pos", "lineno", "colno")),
    ("data", ("filename", "lineno")),
    ("slots", ("code",)),
    ("key", ()),
])
def test_user_error_args_and_fields_as_python(mode, fields):
    plain, error = _plain_and_sct(mode)
    assert error.args == plain.args                    # (``except KeyError as e: e.args[0]``)
    for name in fields:
        assert getattr(error, name) == getattr(plain, name), name
    assert str(error).startswith(__file__) and error.sct_location[0] == __file__
    assert error.lineno == (plain.lineno if hasattr(plain, "lineno") else error.sct_location[1])


@pytest.mark.parametrize("mode", ["key", "open", "data"])
def test_user_error_pickles_and_copies(mode):
    _, error = _plain_and_sct(mode)
    for again in (pickle.loads(pickle.dumps(error)), copy.copy(error), copy.deepcopy(error)):
        assert type(again) is type(error) and again.args == error.args and str(again) == str(error)
        assert again.sct_location == error.sct_location


# --- any(... for ... if ...) / all(...): the generator's loop left by a flag, as a user's break -----

def any_with_condition(x):
    k = 2
    ok = any(x[i] > 0.1 * k for i in range(2) if i != k)          # (was: IndexError, pop from empty list)
    return x[0] * k * ok + np.sum(x ** 2)


def any_with_condition_in_a_loop(x):
    t = 0.0
    for k in range(3):
        ok = any(x[i] > 0.1 * k for i in range(2) if i != k)      # (was: a wrong gradient)
        t = t + x[0] * k * ok
    return t + np.sum(np.sin(x))


def any_as_loop_test(x):
    t = 0.0
    for k in range(3):
        if any(x[i] > 0.1 * k for i in range(2) if i != k):      # (was: TypeError in the adjoint)
            t = t + x[0] * k
    return t


def all_nested_with_conditions(x):
    t = 0.0
    for k in range(3):
        if all(x[i] * x[j] < 0.3 * k for i in range(3) if i != k for j in range(i, 3) if j != i):
            t = t + x[1] * k
    return t + np.prod(x)


@pytest.mark.parametrize("case", [any_with_condition, any_with_condition_in_a_loop, any_as_loop_test,
                                  all_nested_with_conditions])
def test_any_all_with_conditions(case):
    check_grads(case, np.array([0.3, 0.7, 0.5]))


class FloatFieldLoader:            # one object, a float field set again (ids of freed floats reused)
    def __iter__(self):
        b = Holder()
        for i in range(4):
            b.lr = 0.5 * i
            yield b


def float_field(x):
    t = 0.0
    for b in FloatFieldLoader():
        t = t + x[0] * b.lr
    return t


def test_float_field_set_again_refused():
    for _ in range(3):
        with pytest.raises(sct.EvaluationError, match="after giving it"):
            dlfeval(_grad(float_field), dlarray(np.array([0.3, 0.7])))


def test_list_iterator_items_not_copied(monkeypatch):
    # an __iter__ returning iter(self.layers) runs no code of the user's while it gives its items:
    # nothing is compared (was to be: a copy of every layer's weights, reached through .parent, per call)
    from sct.runtime import support

    def no_copy(*args, **kwargs):
        raise AssertionError("items of a list's iterator compared")
    monkeypatch.setattr(support, "_held_parts", no_copy)
    check_grads(layers_holding_their_net, np.array([0.3, 0.7]))


# --- code after a raise or return (no instructions): still the function's source ------------------

def _stops_early(x, mode):
    y = np.sum(np.sin(x) ** 2)
    if mode:
        raise ValueError("stop here")
        y = y + undefined_name          # noqa: F821  (never runs)
    return y, dlgradient(y, x)
    print("after the return", y, other_name)    # noqa: F821


def test_dead_code_after_raise_and_return_not_refused():
    X = np.array([0.5, -1.0, 2.0])
    y, g = dlfeval(_stops_early, dlarray(X), False)          # (was: CompileError 'the file was changed')
    np.testing.assert_allclose(np.asarray(g.data), 2 * np.sin(X) * np.cos(X), rtol=1e-12)
    with pytest.raises(ValueError, match="stop here"):
        dlfeval(_stops_early, dlarray(X), True)


# --- a loop that leaves an iterator the function holds early: refused (was: the rest gone) --------

class Batches5:
    def __init__(self):
        self.data = np.arange(10.0).reshape(5, 2)

    def __iter__(self):
        for i in range(5):
            yield self.data[i] * 1.0


B5 = Batches5()


def break_then_rest(x):
    it = iter(B5)
    t = 0.0
    for i, b in enumerate(it):
        t = t + np.sum(x * b)
        if i == 1:
            break
    rest = [np.sum(b2) for b2 in it]                  # Python: the 3 batches left
    return t + x[0] * len(rest)


def any_then_rest(x):
    it = iter([0.1, 0.9, 0.2, 0.8])
    first = any(v > 0.5 for v in it)                  # Python stops at 0.9: 2 left
    return np.sum(x) * len(list(it)) * (2.0 if first else 1.0)


def next_then_rest(x):
    it = iter([0.1, 0.9, 0.2, 0.8])
    first = next(v for v in it if v > 0.5)
    return np.sum(x) * (len(list(it)) + first)


@pytest.mark.parametrize("case", [break_then_rest, any_then_rest, next_then_rest])
def test_iterator_left_early_refused(case):
    with pytest.raises(sct.EvaluationError, match="leaves it early"):
        dlfeval(_grad(case), dlarray(np.array([0.3, 0.7])))


def first_batches(x):
    t = 0.0
    for i, b in enumerate(B5):                        # an iterable, or a temporary: nothing left to use
        if i == 2:
            break
        t = t + np.sum(x * b)
    for b in iter(B5):
        t = t + np.sum(x * b) * 0.5
        break
    xs = [x[0], x[1]]
    for v in xs:                                      # a list: walked again from its start in Python too
        if v > 0.5:
            break
    return t + v


def test_loops_left_early_over_iterables_run():
    check_grads(first_batches, np.array([0.3, 0.7]))
