"""red55r W1, F1, F2.

W1: a traced value stored on a field of a caller's object (a SimpleNamespace, a plain class, a dataclass) came
back as the code's ndarray / numpy's float64 where plain Python leaves a dlarray (a dict item was right); now the
dlarray, with its labels.  F1: a write into one of the new arrays a helper returns as a tuple (``s, p = two(x,
2 * x); s[0] = 0``) was refused as a change of x.  F2: one view of an argument in a dict or list written out made
an in-place update of another entry fail when run (``acc = {"sum": np.zeros(2), "first": x[0]}; acc["sum"] +=
...``).  Values against plain Python, gradients against finite differences; the aliasing that is real stays
refused."""
import dataclasses
from types import SimpleNamespace

import numpy as np
import pytest

from sct import CompileError, EvaluationError, dims, dlarray, dlfeval, dlgradient
from tests.gradcheck import assert_close, numerical_gradient

X2 = np.array([[1.0, 2.0], [3.0, 4.0]])


class _Log:
    pass


@dataclasses.dataclass
class _Rec:
    h: object = None


def _stores(x, log, ns, rec, d):
    log.h = np.tanh(x)
    ns.s = np.sum(x)
    rec.h = x * 2.0
    d["h"] = np.tanh(x)
    y = np.sum(x ** 2)
    return y, dlgradient(y, x)


def _plain_stores(x, log, ns, rec, d):
    log.h = np.tanh(x)
    ns.s = np.sum(x)
    rec.h = x * 2.0
    d["h"] = np.tanh(x)


@pytest.mark.parametrize("call", [0, 1])
def test_w1_fields_of_callers_objects_hold_dlarrays(call):
    x0 = np.array([0.5, -1.0]) + call
    mine, theirs = (_Log(), SimpleNamespace(), _Rec(), {}), (_Log(), SimpleNamespace(), _Rec(), {})
    y, g = dlfeval(_stores, dlarray(x0), *mine)
    _plain_stores(dlarray(x0), *theirs)
    for a, b in [(mine[0].h, theirs[0].h), (mine[1].s, theirs[1].s), (mine[2].h, theirs[2].h),
                 (mine[3]["h"], theirs[3]["h"])]:
        assert type(a) is type(b) is dlarray
        assert_close(np.asarray(a._data), np.asarray(b._data))
    assert_close(np.asarray(g._data), 2 * x0)


def _stored_formatted(x, log):
    log.h = np.tanh(x)
    y = np.sum(x ** 2)
    return y, dlgradient(y, x)


def test_w1_a_formatted_value_keeps_its_labels():
    x = dlarray(X2, "CB")
    log = SimpleNamespace()
    dlfeval(_stored_formatted, x, log)
    expected = np.tanh(x)
    assert type(log.h) is dlarray and dims(log.h) == dims(expected) == "CB"
    assert_close(np.asarray(log.h._data), np.asarray(expected._data))


def _numbers(x, ns):
    y = np.sum(x ** 2)
    ns.n = float(y)
    ns.i = 3
    setattr(ns, "h", np.tanh(x))
    for k in range(3):
        ns.last = x * k
    return y


def test_w1_numbers_stay_numbers_setattr_and_loops():
    x0 = np.array([0.5, -1.0])
    for _ in range(2):
        ns = SimpleNamespace()
        dlfeval(_numbers, dlarray(x0), ns)
        assert type(ns.n) is float and ns.n == pytest.approx(float(np.sum(x0 ** 2)))
        assert type(ns.i) is int
        assert type(ns.h) is dlarray and type(ns.last) is dlarray
        assert_close(np.asarray(ns.h._data), np.tanh(x0))
        assert_close(np.asarray(ns.last._data), x0 * 2)


def _stored_read(x, m):
    m.h = np.tanh(x)
    y = np.sum(m.h * x)
    return y, dlgradient(y, x)


def test_w1_a_field_read_again_is_exact():
    x0 = np.array([0.5, -1.0])
    m = SimpleNamespace()
    y, g = dlfeval(_stored_read, dlarray(x0), m)
    assert_close(float(y), float(np.sum(np.tanh(x0) * x0)))
    assert_close(np.asarray(g._data), numerical_gradient(lambda z: np.sum(np.tanh(z) * z), [x0], 0))
    assert_close(np.asarray(getattr(m.h, "_data", m.h)), np.tanh(x0))


def _two(a, b):
    return a + b, a * b


def _f1(x):
    s, p = _two(x, 2.0 * x)
    s[0] = 0.0
    y = np.sum(s * p)
    return y, dlgradient(y, x)


def _p1(x):
    s, p = _two(x, 2.0 * x)
    s[0] = 0.0
    return np.sum(s * p)


def _cell(x, h, c):
    c2 = np.tanh(x * h) + c * 0.5
    h2 = np.tanh(c2) * 1.0
    return h2, c2


def _p_cell(x):
    h, c = x * 0.0 + 0.1, x * 0.0
    for _ in range(3):
        h, c = _cell(x, h, c)
        h[0] = 0.5
        c += h
    return np.sum(h * c)


def _f_cell(x):
    h, c = x * 0.0 + 0.1, x * 0.0
    for _ in range(3):
        h, c = _cell(x, h, c)
        h[0] = 0.5
        c += h
    y = np.sum(h * c)
    return y, dlgradient(y, x)


@pytest.mark.parametrize("f, p, x0", [(_f1, _p1, X2), (_f_cell, _p_cell, np.array([0.3, -0.7, 1.1]))])
def test_f1_writing_into_a_helpers_new_tuple_items(f, p, x0):
    for scale in (1.0, 0.5):
        y, g = dlfeval(f, dlarray(x0 * scale))
        assert_close(float(y), float(p(x0 * scale)))
        assert_close(np.asarray(g._data), numerical_gradient(p, [x0 * scale], 0), atol=1e-5)


def _same(a):
    u = a * 2.0
    v = u
    return u, v


def _f_same(x):
    s, p = _same(x)
    s[0] = 0.0
    y = np.sum(s * p)
    return y, dlgradient(y, x)


def _given_back(a, b):
    return a, a * b


def _f_given_back(x):
    s, p = _given_back(x, 2.0)
    s[0] = 0.0
    y = np.sum(s * p)
    return y, dlgradient(y, x)


@pytest.mark.parametrize("f", [_f_same, _f_given_back])
def test_f1_items_that_may_be_one_object_or_an_argument_stay_refused(f):
    with pytest.raises(CompileError) as info:
        dlfeval(f, dlarray(np.array([1.0, 2.0, 3.0])))
    assert "test_types55_s55.py" in str(info.value) and "writing into s[...]" in str(info.value)


def _p_acc(x):
    acc = {"sum": np.zeros(2), "first": x[0]}
    for r in x:
        acc["sum"] += r * r
    return np.sum(acc["sum"]) + np.sum(acc["first"])


def _f_acc(x):
    acc = {"sum": np.zeros(2), "first": x[0]}
    for r in x:
        acc["sum"] += r * r
    y = np.sum(acc["sum"]) + np.sum(acc["first"])
    return y, dlgradient(y, x)


def _p_parts(x):
    parts = [x[0] * 1.0, x[1]]
    parts[0] += parts[1]
    return np.sum(parts[0] * parts[1])


def _f_parts(x):
    parts = [x[0] * 1.0, x[1]]
    parts[0] += parts[1]
    y = np.sum(parts[0] * parts[1])
    return y, dlgradient(y, x)


@pytest.mark.parametrize("f, p", [(_f_acc, _p_acc), (_f_parts, _p_parts)])
def test_f2_an_entry_next_to_a_view_of_an_argument(f, p):
    for scale in (1.0, -0.5):
        x0 = X2 * scale
        y, g = dlfeval(f, dlarray(x0))
        assert_close(float(y), float(p(x0.copy())))
        assert_close(np.asarray(g._data), numerical_gradient(p, [x0], 0), atol=1e-5)


def _f_moved(x):
    acc = {"sum": np.zeros(2), "first": x[0]}
    acc["sum"] = acc["first"]
    acc["sum"] += x[1]
    y = np.sum(acc["sum"]) + np.sum(acc["first"] * x[0])
    return y, dlgradient(y, x)


def _f_view_updated(x):
    parts = [x[0] * 1.0, x[1]]
    parts[1] += parts[0]
    y = np.sum(parts[0] * parts[1]) + np.sum(x * x)
    return y, dlgradient(y, x)


@pytest.mark.parametrize("f, what", [(_f_moved, 'acc["sum"] += x[1]'), (_f_view_updated, "parts[1] += parts[0]")])
def test_f2_the_view_itself_updated_stays_refused(f, what):
    with pytest.raises((CompileError, EvaluationError)) as info:
        dlfeval(f, dlarray(X2))
    assert "test_types55_s55.py" in str(info.value) and what in str(info.value)
