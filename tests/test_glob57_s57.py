"""glob57: a helper's adjoint reads a global array through any form (red57b W1), checked by what its residuals hold.

``def part(x): return np.sum(x * P.get("w"))`` with ``P = {"w": W}`` called by the loss, then ``renorm()`` doing
``W[0] += 1`` before dlgradient: the helper's adjoint read the changed W when the gradient ran, [3, 2] where
Python's derivative is [2, 2].  The same for ``W if c else 1.0``, ``dlarray(W)``, ``for k, v in P.items()``, a loop
over the rows of W, ``list(W)[0]``, ``np.split``, ``W.astype(copy=False)``, a getter ``get_w()`` (behind
``lru_cache`` too), a generator helper, a method returning ``self.w``.  Now the arrays among a helper call's
residuals that share memory with an array reachable from what its code reads by name (or its object's) are
kept and checked around such calls: refused at the call's line.  Where nothing the adjoint reads changes (another
array changes, a constant made from W, the change after the gradient), the gradient is the finite differences'.
"""
import functools

import numpy as np
import pytest

from sct import dlarray, dlfeval, dlgradient
from sct.errors import EvaluationError
from gradcheck import assert_close, numerical_gradient

W = np.array([2.0, 2.0])
P = {"w": W}
USE_W = True
M = np.array([[2.0, 2.0], [5.0, 5.0]])
OTHER = np.array([1.0, 1.0])


def get_w():
    return W


@functools.lru_cache(maxsize=None)
def get_w_cached():
    return W


def renorm():
    W[0] += 1.0
    M[0, 0] += 1.0


def bump_other():
    OTHER[0] += 1.0


def part_get(x):
    return np.sum(x * P.get("w"))


def part_ternary(x):
    return np.sum(x * (W if USE_W else 1.0))


def part_wrap(x):
    return np.sum(x * dlarray(W))


def part_items(x):
    out = 0.0
    for k, v in P.items():
        out = out + np.sum(x * v)
    return out


def part_astype(x):
    return np.sum(x * W.astype(np.float64, copy=False))


def part_rows(x):
    out = 0.0
    for r in M[:1]:
        out = out + np.sum(x * r)
    return out


def part_rows_gen(x):
    return sum(np.sum(x * r) for r in M[:1])


def part_list(x):
    return np.sum(x * list(M)[0])


def part_split(x):
    return np.sum(x * np.split(M, 2)[0])


def part_getter(x):
    return np.sum(x * get_w())


def part_cached(x):
    return np.sum(x * get_w_cached())


def _gen(x):
    for w in (W,):
        yield np.sum(x * w)


def part_gen(x):
    return next(_gen(x))


class Lin:
    def __init__(self):
        self.w = W

    def weight(self):
        return self.w

    def __call__(self, x):
        return np.sum(x * self.weight())


LIN = Lin()

FORMS = [part_get, part_ternary, part_wrap, part_items, part_astype, part_rows, part_rows_gen, part_list,
         part_split, part_getter, part_cached, part_gen, LIN]


def _reset():
    W[...] = 2.0
    M[...] = [[2.0, 2.0], [5.0, 5.0]]
    OTHER[...] = 1.0


def _loss_with(part, between):
    def loss(x):
        y = part(x)
        between()
        return y, dlgradient(y, x)
    return loss


@pytest.mark.parametrize("part", FORMS, ids=lambda f: getattr(f, "__name__", type(f).__name__))
def test_changed_before_gradient_refused_at_the_line(part):
    _reset()
    loss = _loss_with(part, renorm)
    with pytest.raises(EvaluationError) as info:
        dlfeval(loss, dlarray(np.array([1.0, 1.0])))
    message = str(info.value)
    assert "test_glob57_s57.py" in message and "in place" in message
    line = loss.__code__.co_firstlineno + 2         # (``between()``)
    assert f"line {line}" in message
    assert any(f"changed {name} in place" in message for name in ("W", "M", "P['w']", "self.w"))
    _reset()


@pytest.mark.parametrize("part", FORMS, ids=lambda f: getattr(f, "__name__", type(f).__name__))
def test_other_array_changed_exact(part):
    _reset()
    x0 = np.array([1.0, -0.5])
    y, g = dlfeval(_loss_with(part, bump_other), dlarray(x0))
    _reset()
    assert_close(np.asarray(y._data if hasattr(y, "_data") else y).item(), float(part(x0)))
    assert_close(np.asarray(g._data).ravel(), numerical_gradient(lambda v: float(part(v)), [x0], 0))
    assert OTHER[0] == 1.0


def constant_of_w(x):
    return np.sum(x * np.exp(W))


def test_constant_made_from_w_exact():
    """A constant the helper made from W (np.exp(W)) is its own: W changed afterwards, the gradient is Python's."""
    _reset()
    x0 = np.array([1.0, -0.5])
    want = numerical_gradient(lambda v: float(constant_of_w(v)), [x0], 0)
    y, g = dlfeval(_loss_with(constant_of_w, renorm), dlarray(x0))
    assert W[0] == 3.0
    _reset()
    assert_close(np.asarray(g._data).ravel(), want)


def test_change_after_gradient_exact():
    _reset()

    def loss(x):
        y = part_get(x)
        g = dlgradient(y, x)
        renorm()
        return y, g
    x0 = np.array([1.0, -0.5])
    want = numerical_gradient(lambda v: float(part_get(v)), [x0], 0)
    y, g = dlfeval(loss, dlarray(x0))
    assert W[0] == 3.0
    _reset()
    assert_close(np.asarray(g._data).ravel(), want)


# -- W2: user code Python runs implicitly (str's __str__, ``in``'s __eq__, a defaultdict's factory) --
import collections     # noqa: E402

A = np.array([[2.0, 2.0]])
RUNS = [0]


def bump_a():
    A[0, 0] += 1.0
    RUNS[0] += 1


class Mut:
    def __str__(self):
        bump_a()
        return "m"

    def __eq__(self, other):
        bump_a()
        return False

    __hash__ = object.__hash__


class Probe:
    def __getattr__(self, name):     # (code of the user's that Python does not run for isinstance)
        bump_a()
        return 1

    def __call__(self):
        return 0


MUT = Mut()
PROBE = Probe()
DD = collections.defaultdict(lambda: (bump_a(), 0)[1])
PLAIN_DD = collections.defaultdict(list)


def layer_a(x):
    return np.sum(x @ A.T)


def w2_str(x):
    y = layer_a(x)
    s = str(MUT)
    return y, dlgradient(y, x)


def w2_str_inline(x):
    y = np.sum(x @ A.T)
    s = str(MUT)
    return y, dlgradient(y, x)


def w2_in(x):
    y = layer_a(x)
    b = 3 in [MUT]
    return y, dlgradient(y, x)


def w2_in_inline(x):
    y = np.sum(x @ A.T)
    b = 3 in [MUT]
    return y, dlgradient(y, x)


def w2_dd(x):
    y = layer_a(x)
    a = DD[len(DD)]
    return y, dlgradient(y, x)


def w2_dd_inline(x):
    y = np.sum(x * A)
    a = DD[len(DD)]
    return y, dlgradient(y, x)


@pytest.mark.parametrize("loss", [w2_str, w2_str_inline, w2_in, w2_in_inline, w2_dd, w2_dd_inline],
                         ids=lambda f: f.__name__)
def test_implicit_user_code_changing_a_read_array_refused(loss):
    A[...] = 2.0
    with pytest.raises(EvaluationError) as info:
        dlfeval(loss, dlarray(np.array([[1.0, 1.0]])))
    message = str(info.value)
    assert f"line {loss.__code__.co_firstlineno + 2}" in message and "test_glob57_s57.py" in message
    assert "changed A" in message and "in place" in message
    A[...] = 2.0


def w2_plain(x):
    y = layer_a(x) + np.sum(x * A)
    s = str(3.0) + str([1, 2])
    b = 3 in [1, 2]
    c = PLAIN_DD["k"]
    t = isinstance(PROBE, Mut)
    return y, dlgradient(y, x)


def test_plain_uses_exact_and_compiling_runs_no_user_getattr():
    """str of numbers, ``in`` a list of numbers, a defaultdict(list), isinstance of an object with a __getattr__:
    accepted, the gradient the finite differences', and sct runs no __getattr__ Python does not (was: compiling
    read ``__sct_generated__`` of PROBE through its __getattr__, changing A: [3, 2] where [2, 2])."""
    A[...] = 2.0
    RUNS[0] = 0
    x0 = np.array([[1.0, -0.5]])
    y, g = dlfeval(w2_plain, dlarray(x0))
    assert RUNS[0] == 0 and A[0, 0] == 2.0
    want = numerical_gradient(lambda v: float(layer_a(v) + np.sum(v * A)), [x0], 0)
    assert_close(np.asarray(g._data), want)


# -- arrays reached through what the call passes the helper (a dict of params, a dataclass with a getter) --
class Params:
    def __init__(self, w):
        self.w = w

    def get(self):
        return self.w


def model_dict(x, p):
    return np.sum(x * p.get("w"))


def model_items(x, p):
    out = 0.0
    for k, v in p.items():
        out = out + np.sum(x * v)
    return out


def model_obj(x, c):
    return np.sum(x * c.get())


@pytest.mark.parametrize("model, arg", [(model_dict, P), (model_items, P), (model_obj, Params(W))],
                         ids=["dict_get", "dict_items", "object_getter"])
def test_passed_holder_changed_refused(model, arg):
    _reset()

    def loss(x):
        y = model(x, arg)
        renorm()
        return y, dlgradient(y, x)
    with pytest.raises(EvaluationError) as info:
        dlfeval(loss, dlarray(np.array([1.0, 1.0])))
    assert f"line {loss.__code__.co_firstlineno + 2}" in str(info.value) and "in place" in str(info.value)
    _reset()


def test_helper_in_a_loop_exact_where_nothing_changes():
    _reset()

    def loss(x):
        y = 0.0
        for i in range(3):
            y = y + model_dict(x, P) * (i + 1)
            bump_other()
        return y, dlgradient(y, x)
    x0 = np.array([1.0, -0.5])
    y, g = dlfeval(loss, dlarray(x0))
    _reset()
    assert_close(np.asarray(g._data).ravel(), numerical_gradient(lambda v: 6.0 * float(model_dict(v, P)), [x0], 0))
