"""A value logged for replay (runtime/effects: a constant call of the user's code, a random draw)
is kept apart from what the program does to it next.  Recomputation for a gradient that is
differentiated again replays such calls from the log; the log held the very list, dict, object or
array the program then changed in place, so the replay saw the change and the program's write was
applied twice: silent wrong first and second derivatives (and a wrong returned list)."""
import random

import numpy as np

from gradcheck import assert_close
from sct import dlarray, dlfeval, dlgradient

X = np.array([0.3, -0.45, 0.8])


def _make_list():
    return [1.0, 2.0]


def _make_dict():
    return {"a": 1.0}


class _Holder:
    def __init__(self):
        self.vals = [1.0, 2.0]
        self.arr = np.array([1.0, 2.0])


def _make_holder():
    return _Holder()


def _make_pair():
    return np.array([1.0, 2.0]), [1.0]


def _check(f, k):
    y, g, h = dlfeval(f, dlarray(X))
    assert_close(float(y), k * np.sum(X ** 2))
    assert_close(np.asarray(g.data), 2 * k * X)
    assert_close(np.asarray(h.data), np.full(3, 2 * k))


def _list_appended(x):
    lst = _make_list()
    lst.append(3.0)                     # was applied again in the replay: k 9 for 6
    y = sum(lst) * np.sum(x ** 2)
    g = dlgradient(y, x, EnableHigherDerivatives=True)
    return y, g, dlgradient(np.sum(g), x)


def _dict_given_a_key(x):
    d = _make_dict()
    d["b"] = 5.0
    y = (len(d) + sum(d.values())) * np.sum(x ** 2)
    g = dlgradient(y, x, EnableHigherDerivatives=True)
    return y, g, dlgradient(np.sum(g), x)


def _object_changed_inside(x):
    c = _make_holder()
    c.vals.append(3.0)                  # the shallow copy shared vals: 9 for 6
    c.arr[0] = 5.0
    y = (sum(c.vals) + np.sum(c.arr)) * np.sum(x ** 2)
    g = dlgradient(y, x, EnableHigherDerivatives=True)
    return y, g, dlgradient(np.sum(g), x)


def _pair_written(x):
    t = _make_pair()
    t[0][1] = 7.0
    t[1].append(2.0)
    y = (np.sum(t[0]) + sum(t[1])) * np.sum(x ** 2)
    g = dlgradient(y, x, EnableHigherDerivatives=True)
    return y, g, dlgradient(np.sum(g), x)


def _array_written(x):
    v = _make_pair()[0]
    v[...] -= 0.5
    y = np.sum(v) * np.sum(x ** 2)
    g = dlgradient(y, x, EnableHigherDerivatives=True)
    return y, g, dlgradient(np.sum(g), x)


def test_list_returned_by_a_helper_then_appended():
    _check(_list_appended, 6.0)


def test_dict_returned_by_a_helper_then_given_a_key():
    _check(_dict_given_a_key, 8.0)


def test_object_returned_by_a_helper_then_changed_inside():
    _check(_object_changed_inside, 13.0)


def test_tuple_of_array_and_list_returned_by_a_helper_then_written():
    _check(_pair_written, 11.0)


def test_array_returned_by_a_helper_then_written():
    _check(_array_written, 2.0)


def test_random_sample_list_then_appended_keeps_python_s_value():
    def f(x):
        lst = random.sample([1.0, 2.0, 4.0], 2)
        lst.append(3.0)
        y = sum(lst) * np.sum(x ** 2)
        g = dlgradient(y, x, EnableHigherDerivatives=True)
        return y, g, dlgradient(np.sum(g), x), lst
    random.seed(0)
    drawn = random.sample([1.0, 2.0, 4.0], 2)
    random.seed(0)
    y, g, h, lst = dlfeval(f, dlarray(X))
    k = sum(drawn) + 3.0
    assert [float(np.asarray(getattr(v, "data", v))) for v in lst] == drawn + [3.0]   # was [.., 3, 3]
    assert_close(float(y), k * np.sum(X ** 2))
    assert_close(np.asarray(g.data), 2 * k * X)
    assert_close(np.asarray(h.data), np.full(3, 2 * k))
