"""glist56: lists an adjoint reads, object arrays holding their object, OrderedDict in forward mode, numpy replaced.

1. A plain list an adjoint reads as an operand (``y = np.sum(x * W)`` of a global ``W = [2.0, 2.0]``), changed in
   place by a call sct cannot look into before the gradient: the adjoint read the changed numbers ([3, 2] where
   Python's derivative is [2, 2]; in a loop [15, 6] for [11, 6]).  Refused at the call now (rt.stale_kept keeps
   such a list's items, ``operands=(W,)``); sct's tape and log lists the adjoint does not read are never kept.
2. ``c.d = np.array([c], dtype=object)``: an internal error in the gradient; refused at the write naming it.
3. Forward mode of ``rt.ordered_dict`` (collections.OrderedDict): an IndexError; exact now.
4. A numpy/math function only a rule (or the adjoint sct writes from it) calls, replaced after compiling
   (``np.cos = np.sin`` with ``np.sinc`` differentiated): the cached code ran the replacement ([-0.165, 1.681]
   where the derivative is [-0.902, 1.365]); the runtime calls numpy as it imported it, and the adjoint's own
   reads are guarded: exact, or compiled again and refused.
"""
import collections
import math

import numpy as np
import pytest

import sct
from sct import dlarray, dlfeval, dlgradient, extractdata
from sct.errors import CompileError, EvaluationError
from sct.runtime import effects, support
from gradcheck import D, assert_close, numerical_gradient


# --- 1. a list an adjoint reads, changed by a call before the gradient --------------------------------------------

W = [2.0, 2.0]
NESTED = [[2.0, 2.0], [1.0, 1.0]]
PARAMS = {"w": [2.0, 2.0]}
LOG = []


def _bump():
    W[0] += 1.0


def _bump_nested():
    NESTED[0][0] += 1.0


def _bump_params():
    PARAMS["w"][0] += 1.0


def _log(v):
    LOG.append(v)


class _Model:
    def __init__(self):
        self.w = [2.0, 2.0]

    def bump(self):
        self.w[0] += 1.0


def _global(x):
    y = np.sum(x * W)
    _bump()
    return y, dlgradient(y, x)


def _in_loop(x):
    y = 0.0
    for i in range(3):
        y = y + np.sum(x * W) * i
        _bump()
    return y, dlgradient(y, x)


def _nested(x):
    y = np.sum(x * NESTED)
    _bump_nested()
    return y, dlgradient(y, x)


def _dict_of_params(x, p):
    y = np.sum(x * p["w"])
    _bump_params()
    return y, dlgradient(y, x)


def _method(x, m):
    y = np.sum(x * m.w)
    m.bump()
    return y, dlgradient(y, x)


def _reset():
    W[:] = [2.0, 2.0]
    NESTED[0][:] = [2.0, 2.0]
    PARAMS["w"][:] = [2.0, 2.0]


@pytest.mark.parametrize("fun, extra, line", [(_global, (), 2), (_in_loop, (), 4), (_nested, (), 2),
                                              (_dict_of_params, (PARAMS,), 2), (_method, (_Model(),), 2)],
                         ids=["global", "in_loop", "nested", "dict_of_params", "method"])
def test_a_list_the_adjoint_reads_changed_by_a_call_is_refused(fun, extra, line):
    """(was: the changed numbers as the gradient: [3, 2] where Python's is [2, 2]; [15, 6] for [11, 6] in the loop,
    [4, 3] for [3, 3] of the nested list)"""
    _reset()
    with pytest.raises(EvaluationError) as info:
        dlfeval(fun, dlarray(np.ones(2)), *extra)
    msg = str(info.value)
    assert "test_glist56_s56.py" in msg and f"line {fun.__code__.co_firstlineno + line}:" in msg
    assert "in place, a list the differentiated operation" in msg


def test_a_closure_list_changed_by_a_call_is_refused():
    def make():
        w = [2.0, 2.0]

        def bump():
            w[0] += 1.0

        def f(x):
            y = np.sum(x * w)
            bump()
            return y, dlgradient(y, x)
        return f
    f = make()
    with pytest.raises(EvaluationError, match="changed w in place, a list"):
        dlfeval(f, dlarray(np.ones(2)))


def _logged(x):
    y = 0.0
    for i in range(4):
        y = y + np.sum(x * W) * (i + 1)
        _log(float(i))          # a log list the adjoint never reads: runs as Python runs it
    return y, dlgradient(y, x)


def test_a_log_list_and_an_unchanged_list_are_not_refused():
    _reset()
    LOG.clear()
    x = np.array([0.5, -1.5])
    y, g = dlfeval(_logged, dlarray(x))
    assert LOG == [0.0, 1.0, 2.0, 3.0]
    assert_close(D(y), 10 * np.sum(x * np.array(W)))
    assert_close(D(g), numerical_gradient(lambda v: 10 * np.sum(v * np.array([2.0, 2.0])), [x], 0))


def test_only_an_operand_list_of_numbers_is_kept():
    """sct's tape (a list of arrays, tuples) and a list not named an operand are not copied (progtest seed 238: 23 GB
    when every list was); an operand's items are kept as references, not copied deep."""
    a = np.ones(3)
    tape, log, w = [a, None, (a, 2)], [1.0, 2.0], [1.0, [2.0, 3]]
    kept = effects.stale_kept(tape, log, w, operands=(tape, w))
    assert kept[0] is None and kept[1] is None
    assert kept[2][0] is w and kept[2][1] == (1.0, (2.0, 3))
    effects.stale_check(kept, ("tape", "log", "w"), (1, 1, 1), "this call", "f.py", 2)      # unchanged: passes
    w[1][0] = 5.0
    with pytest.raises(EvaluationError, match="changed w in place, a list"):
        effects.stale_check(kept, ("tape", "log", "w"), (1, 1, 1), "this call", "f.py", 2)


# --- 2. an object stored into its own field through an object array ------------------------------------------------

class _Cell:
    def __init__(self, W):
        self.W = W
        self.h = np.zeros((1, 2))


def _tail(c, other):
    L = np.sum(c.h ** 2) + np.sum(other ** 2)
    return L, dlgradient(L, c.W)


def _object_array(c, x):
    c.d = np.array([c], dtype=object)
    c.h = np.tanh(x @ c.W)
    return _tail(c, c.d[0].h)


def _object_array_dtype_name(c, x):
    t = [c, 1]
    c.d = np.array(t, dtype=np.object_)
    c.h = np.tanh(x @ c.W)
    return _tail(c, c.d[0].h)


_W0, _X = np.array([[0.5, -1.0], [0.3, 0.8]]), np.array([[1.0, 2.0]])


@pytest.mark.parametrize("fun, line", [(_object_array, 2), (_object_array_dtype_name, 3)],
                         ids=["dtype_object", "dtype_name"])
def test_an_object_stored_into_itself_through_an_object_array_is_refused(fun, line):
    """(was: ValueError "entry not a 2- or 3- tuple" while computing the gradient, an internal error)"""
    with pytest.raises(CompileError) as info:
        dlfeval(fun, _Cell(dlarray(_W0)), _X)
    msg = str(info.value)
    assert "holds itself" in msg and "test_glist56_s56.py" in msg
    assert f"line {fun.__code__.co_firstlineno + line}:" in msg


def _object_array_of_a_field(c, x):
    c.d = np.array([c.h * 1.0], dtype=object)       # the array holds c.h's numbers, not c
    c.h = np.tanh(x @ c.W)
    return _tail(c, c.d[0] + 0.5)


def test_an_object_array_of_numbers_stays_exact():
    def plain(W):
        c = _Cell(W.copy())
        c.d = np.array([c.h * 1.0], dtype=object)
        c.h = np.tanh(_X @ c.W)
        return float(np.sum(c.h ** 2) + np.sum(np.asarray(c.d[0] + 0.5, dtype=float) ** 2))
    L, g = dlfeval(_object_array_of_a_field, _Cell(dlarray(_W0)), _X)
    assert_close(float(extractdata(L)), plain(_W0))
    assert_close(extractdata(g), numerical_gradient(plain, [_W0], 0))


# --- 3. forward mode of an OrderedDict ----------------------------------------------------------------------------

_B = np.array([1.0, 2.0])


def _flat(parts):
    return np.concatenate([np.ravel(p) for p in parts])


def _ordered_pairs(a):
    return _flat(list(support.ordered_dict([("u", _B * a), ("v", np.sin(a))]).values()))


def _ordered_items(a):
    d = collections.OrderedDict([("u", _B * a), ("v", np.sin(a))])
    s = 0.0
    for k, w in d.items():
        s = s + np.sum(w ** 2)
    return s


@pytest.mark.parametrize("fun", [_ordered_pairs, _ordered_items], ids=lambda f: f.__name__)
@pytest.mark.parametrize("mode", ["forward", "transpose"])
def test_forward_mode_of_an_ordered_dict(fun, mode):
    """(was: IndexError in the rule of d.values(), forward mode)"""
    a, v = np.array([0.3, 0.5]), np.array([1.0, -1.0])
    y, jv = sct.jvp(fun, a, v, mode=mode)
    assert_close(np.asarray(extractdata(y)), fun(a))
    step = 1e-6
    assert_close(np.asarray(extractdata(jv)), (fun(a + step * v) - fun(a - step * v)) / (2 * step), rtol=1e-6)


# --- 4. a function only a rule calls, replaced after compiling ---------------------------------------------------

X0 = np.array([0.3, -0.7])


def _uses_sinc(x):
    y = np.sum(np.sinc(x))           # its rule computes np.sin and np.cos (rt.sinc_slope)
    return y, dlgradient(y, x)


def _uses_math_sin(x):
    y = math.sin(x[0]) * np.sum(x)   # its adjoint, written from the rule, reads np.cos
    return y, dlgradient(y, x)


def _uses_cos(x):
    y = np.sum(np.cos(x))            # its adjoint reads np.sin
    return y, dlgradient(y, x)


PLAIN = {_uses_sinc: lambda v: np.sum(np.sinc(v)), _uses_math_sin: lambda v: math.sin(v[0]) * np.sum(v),
         _uses_cos: lambda v: np.sum(np.cos(v))}


@pytest.mark.parametrize("fun, name, other", [(_uses_sinc, "cos", np.sin), (_uses_sinc, "sin", np.cos),
                                              (_uses_math_sin, "cos", np.sin), (_uses_cos, "sin", np.cos)],
                         ids=["sinc-cos", "sinc-sin", "math_sin-cos", "cos-sin"])
def test_a_function_only_a_rule_calls_replaced_after_compiling(monkeypatch, fun, name, other):
    """The value and gradient stay those of the original functions (the rule's), or the call is refused saying which
    was replaced (was: the cached code ran the replacement: np.sinc's gradient [-0.165, 1.681] for [-0.902, 1.365],
    math.sin's [0.177, 0.296] for [-0.087, 0.296], np.cos's -cos(x) for -sin(x))."""
    expected = numerical_gradient(PLAIN[fun], [X0.copy()], 0)
    y, g = dlfeval(fun, dlarray(X0))            # compiled and cached
    assert_close(D(g), expected)
    monkeypatch.setattr(np, name, other)
    try:
        y, g = dlfeval(fun, dlarray(X0))
    except CompileError as e:
        assert f"np.{name} was replaced" in str(e) and "test_glist56_s56.py" in str(e)
        return
    monkeypatch.undo()
    assert_close(D(y), PLAIN[fun](X0))
    assert_close(D(g), expected)


def test_the_runtime_reads_numpy_as_it_imported_it(monkeypatch):
    """A rule run directly (np.cos's, given numbers) computes with numpy's own np.sin after ``np.sin = np.cos``."""
    from sct.runtime import numpy_ops
    from sct.runtime.registry import lookup
    monkeypatch.setattr(np, "sin", np.cos)
    g = lookup(np.cos).fn(np.ones(2), np.cos(X0), X0)
    monkeypatch.undo()
    assert_close(g, -np.sin(X0))
    assert numpy_ops.np.sin is np.sin and numpy_ops.np is not np
