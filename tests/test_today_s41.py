"""Red team of what landed on main on dec 5 (stop 41; files ending _s41): each test fails before its fix.

1. A local named like a builtin sct's generated code calls (``def range(n)``, ``list = ...``) that the
   user's code also calls: the reverse pass's ``for _ in range(n)`` called the user's ``range``; the
   check counting such calls (``_bound_builtin_calls``) missed a call written ``rt.unnamed_call(range, 3)``
   or dropped as dead: wrong gradients.  The local is now renamed before sct writes its own calls.
2. A module's own ``range`` read by a loop: the reverse pass's loop read it too (checked before the
   reverse pass was written): a wrong gradient; now refused.
3. ``return <value>`` in a differentiated ``__init__`` (Python: TypeError) ran: refused.
4. A dataclass whose ``__post_init__`` is a classmethod: its ``cls`` read as ``self``: refused.
"""
import builtins
from dataclasses import dataclass

import numpy as np
import pytest

import sct
from sct import dlarray, dlfeval, dlgradient

from gradcheck import check_grads

_X = np.array([0.3, -0.7, 1.1, 0.2, 0.5])


def _one_short(n):
    return list(builtins.range(n - 1))


def _dead_call(x):
    def range(n):
        return list(builtins.range(n - 1))
    unused = range(10)                          # noqa: F841  (a call sct drops: its value is not used)
    s = 0.0
    for i in range(4):
        s = s + x[i] ** 2 * (i + 1)
    return s


def _unnamed_call(x):
    def range(n):
        return list(builtins.range(n - 1))
    s = 0.0
    for i in range(4):
        s = s + x[i] ** 2 * (i + 1)
    return s * len(range(3))                    # written rt.unnamed_call(range, 3)


def _alias_call(x):
    range = _one_short
    s = 0.0
    for i in range(4):
        s = s + x[i] ** 2 * (i + 1)
    return s * len(range(3))


def _helper(x):
    def range(n):
        return list(builtins.range(n - 1))
    s = 0.0
    for i in range(4):
        s = s + x[i] ** 2 * (i + 1)
    return s * len(range(3))


def _calls_helper(x):
    return _helper(x) * 2.0


def _len_lambda_loop(x):
    len = lambda v: 2                           # noqa: E731
    s = 0.0
    ys = [x[0], x[1], x[2]]
    for v in ys:
        s = s + v ** 3
    return s * len(ys)


def _closure_reads_len(x):
    len = 3

    def inner(y):
        s = 0.0
        for i in builtins.range(len):
            s = s + y[i] ** 2
        return s
    return inner(x)


@pytest.mark.parametrize("fun", [_dead_call, _unnamed_call, _alias_call, _calls_helper, _len_lambda_loop,
                                 _closure_reads_len])
def test_local_named_like_a_generated_builtin(fun):
    # was: a wrong gradient (the reverse loop ran the user's range: one step short) or a refusal
    check_grads(fun, _X)


def _param_range(x, range=_one_short):
    s = 0.0
    for i in range(4):
        s = s + x[i] ** 2 * (i + 1)
    return s * len(range(3))


def test_parameter_named_range_called_through_the_runtime_is_refused():
    # a parameter keeps its name (a helper's code is called by keyword): its calls sct writes as
    # rt.unnamed_call(range, 3) are counted now (was: missed, a wrong gradient)
    def loss(x):
        y = _param_range(x)
        return y, dlgradient(y, x)
    with pytest.raises(sct.CompileError, match="binds a variable named 'range'"):
        dlfeval(loss, dlarray(_X))


def test_module_range_read_by_a_loop_is_refused():
    import today_s41_module as M
    f = M.loop_loss
    # plain Python: the module's range, three steps
    assert np.isclose(f(_X), sum(_X[i] ** 2 * (i + 1) for i in builtins.range(3)))

    def outer(x):
        y = f(x)
        return y, dlgradient(y, x)
    # was: the reverse loop read the module's range too (two steps): gradient of x[0] 0, not 2 x[0]
    with pytest.raises(sct.CompileError, match="defines its own 'range'"):
        dlfeval(outer, dlarray(_X))


class _ReturnsSelf:
    def __init__(self, W):
        self.V = W * 3.0
        return self


class _ReturnsNumber:
    def __init__(self, W):
        self.V = W * 3.0
        if W.shape[0] > 1:
            return 5


@pytest.mark.parametrize("cls", [_ReturnsSelf, _ReturnsNumber])
def test_init_returning_a_value_is_refused(cls):
    with pytest.raises(TypeError):
        cls(_X)                                 # Python's

    def loss(w):
        y = np.sum(cls(w).V)
        return y, dlgradient(y, w)
    # was: `return self` ran; `return 5` made cls(w) the number 5 ("'int' object has no attribute 'V'")
    with pytest.raises(sct.CompileError, match="returns a value"):
        dlfeval(loss, dlarray(_X))


@dataclass
class _ClassPost:
    W: np.ndarray

    @classmethod
    def __post_init__(cls):
        cls.tag = 1.0                           # a class attribute, not the object's


def test_dataclass_with_a_classmethod_post_init_is_refused():
    def f(w):
        o = _ClassPost(w)
        return np.sum(o.W * 2.0) + ("tag" in vars(o)) * 100.0
    assert np.isclose(f(_X), np.sum(_X * 2.0))  # plain Python: tag is the class's

    def loss(w):
        y = f(w)
        return y, dlgradient(y, w)
    # was: 100 more (its cls read as self: tag set on the object)
    with pytest.raises(sct.CompileError, match="__post_init__"):
        dlfeval(loss, dlarray(_X))


# --- functools.partial(l2loss, DataFormat="CB") made in the function (was refused) --------------------

import functools  # noqa: E402

from gradcheck import check_second_order, check_tangent  # noqa: E402

_RNG = np.random.default_rng(41)
_W0 = _RNG.standard_normal((5, 3))
_X0 = _RNG.standard_normal((4, 3))
_T0 = np.eye(5)[[0, 1, 2, 3]].T.copy()          # "CB": channels on axis 0, observations on axis 1


def _softmax_cb(z):
    e = np.exp(z - z.max(0, keepdims=True))
    return e / e.sum(0, keepdims=True)


def _partial_l2(W):
    lf = functools.partial(sct.l2loss, DataFormat="CB")
    return lf(np.tanh((_X0 @ W.T).T), _T0)


def _partial_softmax(W):
    act = functools.partial(sct.softmax, DataFormat="CB")
    return np.sum(act((_X0 @ W.T).T) * _T0)


def _partial_crossentropy(W):
    act = functools.partial(sct.softmax, DataFormat="CB")
    lf = functools.partial(sct.crossentropy, DataFormat="CB")
    return lf(act((_X0 @ W.T).T), _T0)


def _helper_format_default(y, fmt="CB"):
    return sct.softmax(y, DataFormat=fmt)


def _helper_default(W):
    return np.sum(_helper_format_default((_X0 @ W.T).T) * _T0)


_REFERENCES = {
    _partial_l2: lambda W: np.sum((np.tanh((_X0 @ W.T).T) - _T0) ** 2) / 4,
    _partial_softmax: lambda W: np.sum(_softmax_cb((_X0 @ W.T).T) * _T0),
    _partial_crossentropy: lambda W: -np.sum(_T0 * np.log(_softmax_cb((_X0 @ W.T).T))) / 4,
    _helper_default: lambda W: np.sum(_softmax_cb((_X0 @ W.T).T) * _T0),
}


@pytest.mark.parametrize("fun", list(_REFERENCES), ids=lambda f: f.__name__)
def test_partial_with_a_literal_data_format_made_in_the_function(fun):
    # was: "DataFormat inside dlfeval must be a literal string" (the partial's def passes it on by name)
    assert np.isclose(fun(_W0), _REFERENCES[fun](_W0))        # plain Python (MATLAB's definitions)
    check_grads(fun, _W0)
    check_second_order(fun, _W0)
    check_tangent(fun, _W0, _RNG.standard_normal(_W0.shape))


def test_literal_default_given_another_value_is_refused_when_it_runs():
    # compiled for the default's layout: another value given when the code runs is refused, not misread
    def loss(W):
        y = np.sum(_helper_format_default((_X0 @ W.T), "BC") * _T0.T)
        return y, dlgradient(y, W)
    with pytest.raises(sct.SctError, match="DataFormat='BC' given when the code runs"):
        dlfeval(loss, dlarray(_W0))

    def axis(W):
        act = functools.partial(sct.softmax, DataFormat="CB")
        y = np.sum(act((_X0 @ W.T).T, axis=0) * _T0)
        return y, dlgradient(y, W)
    with pytest.raises(sct.SctError, match="axis=0 given when the code runs"):
        dlfeval(axis, dlarray(_W0))
