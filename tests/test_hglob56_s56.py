"""hglob56: a helper's adjoint reads a global array or list by name; the caller changes it in place before the gradient.

``def part(x): return np.sum(x * W)`` with ``W`` a module global, called by the loss, then ``bump()`` doing
``W[0] += 1`` before dlgradient: the helper's adjoint read ``W`` when the gradient ran and saw the new numbers
([3, 2] where Python's derivative is [2, 2], lists and arrays alike).  Each compiled helper now reports the plain
arrays and lists its adjoint reads by name, its own helpers' included (Compiled.adjoint_reads); its caller keeps
and checks them around its calls sct cannot look into as it does its own reads: refused at the caller's line.
"""
import numpy as np
import pytest

import sct
from sct import dlarray, dlfeval, dlgradient
from sct.errors import CompileError, EvaluationError
from gradcheck import assert_close, numerical_gradient

W = [2.0, 2.0]
A = np.array([2.0, 2.0])


def _bump():
    W[0] += 1.0
    A[0] += 1.0


def _bump_global():
    global A
    A += 1.0


def _part(x):
    return np.sum(x * W) + np.sum(x * A)


def _inner(x):
    return np.sum(x * A) * 2.0


def _outer(x):
    return _inner(np.sin(x)) + np.sum(x * W)


class _Model:
    def __init__(self):
        self.k = 1.5

    def f(self, x):
        return np.sum(x * A) * self.k


def _make():
    def closure(x):
        return np.sum(x * W)
    return closure


_closure = _make()


def _make_cell():
    w = np.array([2.0, 2.0])

    def closure(x):
        return np.sum(x * w)

    def bump():
        w[0] += 1.0
    return closure, bump, w


_cell, _bump_cell, _cell_w = _make_cell()


def _loss(x):
    y = _part(x)
    _bump()
    return y, dlgradient(y, x)


def _loss_global_statement(x):
    y = _part(x)
    _bump_global()
    return y, dlgradient(y, x)


def _loss_helper_of_helper(x):
    y = _outer(x)
    _bump()
    return y, dlgradient(y, x)


def _loss_method(x, m):
    y = m.f(x)
    _bump()
    return y, dlgradient(y, x)


def _loss_closure(x):
    y = _closure(x)
    _bump()
    return y, dlgradient(y, x)


def _loss_cell(x):
    y = _cell(x)
    _bump_cell()
    return y, dlgradient(y, x)


def _loss_loop(x):
    y = 0.0
    for i in range(3):
        y = y + _part(x) * i
        _bump()
    return y, dlgradient(y, x)


def _loss_branch(x, c):
    if c > 0:
        y = _part(x)
    else:
        y = np.sum(x)
    _bump()
    return y, dlgradient(y, x)


def _loss_second(x):
    y = _part(x * x)
    _bump()
    g = dlgradient(y, x, EnableHigherDerivatives=True)
    return y, dlgradient(np.sum(g), x)


def _helper_bumping(x):
    y = _part(x)         # (the helper's own call: the check is in the helper)
    _bump()
    return y * 1.0


def _loss_in_a_helper(x):
    y = _helper_bumping(x)
    return y, dlgradient(y, x)


def _reset():
    W[:] = [2.0, 2.0]
    A[:] = 2.0
    _cell_w[:] = 2.0


CASES = [(_loss, (), 2, "W"), (_loss_global_statement, (), 2, "A"), (_loss_helper_of_helper, (), 2, "W"),
         (_loss_method, (_Model(),), 2, "A"), (_loss_closure, (), 2, "W"), (_loss_cell, (), 2, "w"),
         (_loss_loop, (), 4, "W"), (_loss_branch, (1.0,), 5, "W"), (_loss_second, (), 2, "W"),
         (_helper_bumping, None, 2, "W")]


@pytest.mark.parametrize("fun, extra, line, name", CASES, ids=[c[0].__name__.strip("_") for c in CASES])
def test_a_global_a_helpers_adjoint_reads_changed_by_a_call_is_refused(fun, extra, line, name):
    """(was: the changed numbers as the gradient, e.g. [7, 4] where Python's derivative of _part is [4, 4])"""
    _reset()
    call = (_loss_in_a_helper, ()) if extra is None else (fun, extra)
    with pytest.raises(EvaluationError) as info:
        dlfeval(call[0], dlarray(np.ones(2)), *call[1])
    msg = str(info.value)
    assert "test_hglob56_s56.py" in msg and f"line {fun.__code__.co_firstlineno + line}:" in msg
    assert "changed W in place" in msg or "changed A in place" in msg if name in "WA" else f"changed {name} in place" in msg


def test_accelerated_twice_is_refused_each_time():
    fast = sct.accelerate(_loss)
    for _ in range(2):
        _reset()
        with pytest.raises(EvaluationError, match="changed [WA] in place"):
            dlfeval(fast, dlarray(np.ones(2)))


def _unchanged(x):
    y = _outer(x)
    print(end="")           # (a call sct cannot look into that changes nothing)
    return y, dlgradient(y, x)


def _after_the_gradient(x):
    y = _outer(x)
    g = dlgradient(y, x)
    _bump()
    return y, g


@pytest.mark.parametrize("fun", [_unchanged, _after_the_gradient])
def test_unchanged_or_changed_after_the_gradient_stays_exact(fun):
    _reset()
    x0 = np.array([0.3, -0.7])
    y, g = dlfeval(fun, dlarray(x0))
    _reset()
    plain = lambda v: float(np.sum(np.sin(v) * A) * 2.0 + np.sum(v * np.array(W)))
    assert_close(float(y), plain(x0))
    assert_close(np.asarray(g._data).ravel(), numerical_gradient(plain, [x0], 0))


def test_a_helper_read_in_place_is_refused_too():
    """(a formatted argument: the helpers of this file read in place, sct/inline_helpers.py; their reads are the
    caller's own, and so is _bump's write, refused where it stands)"""
    _reset()
    with pytest.raises((CompileError, EvaluationError)) as info:
        dlfeval(_loss, dlarray(np.ones((2, 1)), "CB"))
    msg = str(info.value)
    assert "test_hglob56_s56.py" in msg and "in place" in msg and \
        (f"line {_bump.__code__.co_firstlineno + 1}:" in msg or f"line {_loss.__code__.co_firstlineno + 2}:" in msg)


# --- a field or an item of a global's object that a helper's adjoint reads --------------------------------------

PARAMS = {"w": np.array([2.0, 2.0]), "layers": [{"b": [2.0, 2.0]}]}


class _Config:
    pass


CFG = _Config()
CFG.w = np.array([2.0, 2.0])


class _Counted:
    reads = 0

    def __init__(self):
        self._w = np.array([2.0, 2.0])

    @property
    def w(self):
        _Counted.reads += 1
        return self._w


COUNTED = _Counted()


def _bump_fields():
    PARAMS["w"][0] += 1.0
    CFG.w[0] += 1.0
    PARAMS["layers"][0]["b"][0] += 1.0


def _fields(x):
    return np.sum(x * PARAMS["w"])


def _attribute(x):
    return np.sum(x * CFG.w)


def _nested_item(x):
    return np.sum(x * PARAMS["layers"][0]["b"])


def _fields_of_a_helper(x):
    return _attribute(np.cos(x)) * 2.0


def _loss_item(x):
    y = _fields(x)
    _bump_fields()
    return y, dlgradient(y, x)


def _loss_attribute(x):
    y = _attribute(x)
    _bump_fields()
    return y, dlgradient(y, x)


def _loss_nested_item(x):
    y = _nested_item(x)
    _bump_fields()
    return y, dlgradient(y, x)


def _loss_fields_of_a_helper(x):
    y = _fields_of_a_helper(x)
    _bump_fields()
    return y, dlgradient(y, x)


def _reset_fields():
    PARAMS["w"][:] = 2.0
    CFG.w[:] = 2.0
    PARAMS["layers"][0]["b"][:] = [2.0, 2.0]


@pytest.mark.parametrize("fun, name", [(_loss_item, "PARAMS['w']"), (_loss_attribute, "CFG.w"),
                                       (_loss_nested_item, "PARAMS['layers'][0]['b']"),
                                       (_loss_fields_of_a_helper, "CFG.w")])
def test_a_global_objects_field_a_helpers_adjoint_reads_changed_by_a_call_is_refused(fun, name):
    """(was: [3, 2] where Python's derivative is [2, 2])"""
    _reset_fields()
    with pytest.raises(EvaluationError) as info:
        dlfeval(fun, dlarray(np.ones(2)))
    msg = str(info.value)
    assert f"line {fun.__code__.co_firstlineno + 2}:" in msg and f"changed {name} in place" in msg


def _counted(x):
    return np.sum(x * COUNTED.w)


def _loss_counted(x):
    y = _counted(x)
    print(end="")
    return y, dlgradient(y, x)


def test_a_property_is_not_run_again_by_the_checks():
    _Counted.reads = 0
    y, g = dlfeval(_loss_counted, dlarray(np.ones(2)))
    assert _Counted.reads == 1
    assert_close(np.asarray(g._data).ravel(), COUNTED._w)


# --- a method of a global's object, compiled when it first runs (its receiver's kinds known then only) ----------

class _Net:
    SCALE = np.array([2.0, 2.0])

    def by_class(self, x):
        return np.sum(x * _Net.SCALE)

    def by_global(self, x):
        return np.sum(x * A)


NET = _Net()


def _bump_class():
    _Net.SCALE[0] += 1.0
    A[0] += 1.0


def _loss_class_attribute(x):
    y = NET.by_class(x)
    _bump_class()
    return y, dlgradient(y, x)


def _loss_global_of_a_method(x):
    y = NET.by_global(x)
    _bump_class()
    return y, dlgradient(y, x)


@pytest.mark.parametrize("fun, name", [(_loss_class_attribute, "_Net.SCALE"), (_loss_global_of_a_method, "A")])
def test_a_method_compiled_at_run_time_reads_a_global_changed_by_a_call_is_refused(fun, name):
    """(was: [3, 2] where Python's derivative is [2, 2])"""
    for _ in range(2):          # (compiled on the first run; its code as found on the second)
        _Net.SCALE[:] = 2.0
        A[:] = 2.0
        with pytest.raises(EvaluationError) as info:
            dlfeval(fun, dlarray(np.ones(2)))
        msg = str(info.value)
        assert f"line {fun.__code__.co_firstlineno + 2}:" in msg and f"changed {name} in place" in msg


def _loss_method_unchanged(x):
    y = NET.by_class(x) + NET.by_global(x)
    print(end="")
    return y, dlgradient(y, x)


def test_a_method_compiled_at_run_time_stays_exact():
    _Net.SCALE[:] = 2.0
    A[:] = 2.0
    y, g = dlfeval(_loss_method_unchanged, dlarray(np.array([0.5, 1.5])))
    assert_close(float(y), float(np.sum(np.array([0.5, 1.5]) * (_Net.SCALE + A))))
    assert_close(np.asarray(g._data).ravel(), _Net.SCALE + A)
