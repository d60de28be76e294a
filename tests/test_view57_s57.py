"""view57: what a helper's adjoint reads through a view, a default, a partial or its arguments' objects, and user
callbacks run by library functions, changed in place by a call before the gradient (red57a W1, W3).

W1: ``def layer(x): return np.sum(x @ W.T)`` called by the loss, then ``renorm()`` doing ``W[0, 0] += 1`` before
dlgradient: the helper's adjoint read ``W.T`` (a view of W) when the gradient ran, [3, 2] where Python's derivative
is [2, 2].  The same for ``A.reshape(2)``, ``np.asarray(A)[0]``, ``a = A[0]``, ``CFG.w.T``, ``L[0].T``,
``D["w"][0]``, a closure's ``w.T``, a method of a global's object, a default argument, a partial's frozen
argument, ``self.w`` of a callable object or a method.  Now each is checked around the call: refused at its line.
W3: a function of the user's given to ``sorted(key=)``, ``max``/``min(key=)``, ``functools.reduce``,
``np.apply_along_axis``, ``np.fromfunction``, ``np.piecewise`` changing an array read before: [4, 2] where [2, 2];
now refused at the call's line.  Where nothing changes (or the change follows the gradient), the value is Python's
and the gradient the finite differences'.
"""
import functools
from dataclasses import dataclass

import numpy as np
import pytest

from sct import dlarray, dlfeval, dlgradient
from sct.errors import EvaluationError
from gradcheck import assert_close, numerical_gradient

W = np.array([[2.0, 2.0]])          # (read through views: W.T)
A = np.array([[2.0, 2.0]])
V = A[0]                            # a global view of A
W1 = np.array([2.0, 2.0])           # (read as a default, frozen in a partial, a field)


@dataclass
class Cfg:
    w: np.ndarray


CFG = Cfg(np.array([[2.0, 2.0]]))
L = [np.array([[2.0, 2.0]])]
D = {"w": np.array([[2.0, 2.0]])}


def _make_cell():
    w = np.array([[2.0, 2.0]])

    def closure_part(x):
        return np.sum(x @ w.T)
    return closure_part, w


_closure_part, _cell_w = _make_cell()
_CHANGING = [True]


def _bump():
    if _CHANGING[0]:
        for a in (W, A, CFG.w, L[0], D["w"], _cell_w):
            a[0, 0] += 1.0
        W1[0] += 1.0


def _bump_view():
    if _CHANGING[0]:
        V[0] += 1.0


def _reset():
    for a in (W, A, CFG.w, L[0], D["w"], _cell_w, W1):
        a[...] = 2.0


def p_t(x):
    return np.sum(x @ W.T)


def p_reshape(x):
    return np.sum(x * A.reshape(2))


def p_asarray(x):
    return np.sum(x * np.asarray(A)[0])


def p_local_view(x):
    a = A[0]
    return np.sum(x * a)


def p_slice(x):
    return np.sum(x * A[:, 0]) + np.sum(x * A[0, 1])


def p_field_t(x):
    return np.sum(x @ CFG.w.T)


def p_item_t(x):
    return np.sum(x @ L[0].T)


def p_dict_row(x):
    return np.sum(x * D["w"][0])


def p_default(x, w=W1):
    return np.sum(x * w)


def _part2(x, w):
    return np.sum(x * w)


P_PARTIAL = functools.partial(_part2, w=W1)


class Layer:
    def __init__(self, w):
        self.w = w

    def __call__(self, x):
        return np.sum(x * self.w)

    def f(self, x):
        return np.sum(x @ CFG.w.T) * 1.0

    def g(self, x):
        return np.sum(x * self.w.T)


LAYER = Layer(W1)


def p_layer(x):
    return LAYER(x)


def p_method_global(x):
    return LAYER.f(x)


def p_method_field(x):
    return LAYER.g(x)


def p_two_levels(x):
    return p_field_t(x) * 1.0


def p_of_arg(x, m):
    return np.sum(x * m.w)


def p_arg(x):
    return p_of_arg(x, LAYER)


# (helper, what the message names, how it is changed)
W1_CASES = [(p_t, "W.T", _bump), (p_reshape, "A", _bump), (p_asarray, "A", _bump), (p_local_view, "A[0]", _bump_view),
            (p_slice, "A", _bump_view), (p_field_t, "CFG.w.T", _bump), (p_item_t, "L[0].T", _bump),
            (p_dict_row, "D['w'][0]", _bump), (_closure_part, "w.T", _bump), (p_default, "w", _bump),
            (P_PARTIAL, "partial(_part2, ...)'s w", _bump), (p_layer, "self.w", _bump),
            (p_method_global, "CFG.w.T", _bump), (p_method_field, "self.w.T", _bump), (p_two_levels, "CFG.w.T", _bump),
            (p_arg, "m.w", _bump)]


def _python(part):
    """Python's value and derivative (the arrays as they are when the operation runs)."""
    x0 = np.array([0.5, -1.5])
    f = lambda v: float(part(v))
    return x0, f(x0), numerical_gradient(f, [x0], 0)


def _loss_of(part, change):
    def loss(x):
        y = part(x)
        change()
        return y, dlgradient(y, x)
    return loss


def _ids(cases):
    return [getattr(c[0], "__name__", "partial") for c in cases]


@pytest.mark.parametrize("part, name, change", W1_CASES, ids=_ids(W1_CASES))
def test_a_helpers_read_through_a_view_default_partial_or_field_changed_in_place_is_refused(part, name, change):
    """(was: the gradient read the changed numbers, [3, 2]-like, where Python's derivative is [2, 2])"""
    _reset()
    _CHANGING[0] = True
    loss = _loss_of(part, change)
    with pytest.raises(EvaluationError) as info:
        dlfeval(loss, dlarray(np.array([0.5, -1.5])))
    msg = str(info.value)
    assert "test_view57_s57.py" in msg and f"line {loss.__code__.co_firstlineno + 2}:" in msg, msg
    assert f"{name} in place" in msg, msg


@pytest.mark.parametrize("part, name, change", W1_CASES, ids=_ids(W1_CASES))
def test_unchanged_is_exact(part, name, change):
    _reset()
    x0, value, grad = _python(part)
    _CHANGING[0] = False
    try:
        y, g = dlfeval(_loss_of(part, change), dlarray(x0))
    finally:
        _CHANGING[0] = True
    assert_close(float(y), value)
    assert_close(np.asarray(g._data).ravel(), grad)


@pytest.mark.parametrize("part, name, change", W1_CASES[:3] + W1_CASES[9:12], ids=_ids(W1_CASES[:3] + W1_CASES[9:12]))
def test_changed_after_the_gradient_is_exact(part, name, change):
    _reset()
    x0, value, grad = _python(part)

    def loss(x):
        y = part(x)
        g = dlgradient(y, x)
        change()
        return y, g
    y, g = dlfeval(loss, dlarray(x0))
    assert_close(float(y), value)
    assert_close(np.asarray(g._data).ravel(), grad)
    _reset()


# -- W3: callbacks run by library functions --
B = np.array([2.0, 2.0])


def _key(v):
    if _CHANGING[0]:
        B[0] += 1.0
    return v


def _row(v):
    if _CHANGING[0]:
        B[0] += 1.0
    return v.sum()


def l_sorted(x):
    y = np.sum(x * B)
    z = sorted([3.0, 1.0], key=_key)
    return y + z[0], dlgradient(y, x)


def l_max(x):
    y = np.sum(x * B)
    z = max([3.0, 1.0], key=_key)
    return y + z, dlgradient(y, x)


def l_min(x):
    y = np.sum(x * B)
    z = min([3.0, 1.0], key=_key)
    return y + z, dlgradient(y, x)


def l_reduce(x):
    y = np.sum(x * B)
    z = functools.reduce(lambda a, b: a + _key(b), [1.0, 2.0], 0.0)
    return y + z, dlgradient(y, x)


def l_apply(x):
    y = np.sum(x * B)
    z = np.apply_along_axis(_row, 0, np.ones((2, 2)))
    return y + np.sum(z), dlgradient(y, x)


def l_fromfunction(x):
    y = np.sum(x * B)
    z = np.fromfunction(lambda i: i + _key(i), (2,))
    return y + np.sum(z), dlgradient(y, x)


def l_piecewise(x):
    y = np.sum(x * B)
    z = np.piecewise(np.ones(2), [np.ones(2) > 0], [_row])
    return y + np.sum(z), dlgradient(y, x)


def _sorted_in_helper(x):
    y = np.sum(x * B)
    order = sorted([2.0, 1.0], key=_key)
    return y + order[0]


def l_helper(x):
    y = _sorted_in_helper(x)        # (refused in the helper, at its sorted line)
    return y, dlgradient(y, x)


def _sorted_max(x):
    return max(sorted([x[0], 1.0], key=_key), key=_key) * 1.0


def l_helper_after(x):
    y = np.sum(x * B)
    z = _sorted_max(x)              # (the helper's own callbacks: checked around its call)
    return y + z, dlgradient(y, x)


W3_CASES = [(l_sorted, None, 2), (l_max, None, 2), (l_min, None, 2), (l_reduce, None, 2), (l_apply, None, 2),
            (l_fromfunction, None, 2), (l_piecewise, None, 2), (l_helper, _sorted_in_helper, 2),
            (l_helper_after, None, 2)]


@pytest.mark.parametrize("loss, where, line", W3_CASES, ids=[c[0].__name__ for c in W3_CASES])
def test_a_callback_changing_an_array_read_before_is_refused(loss, where, line):
    """(was: [4, 2] or [3, 2] where Python's derivative is [2, 2])"""
    B[:] = 2.0
    _CHANGING[0] = True
    with pytest.raises(EvaluationError) as info:
        dlfeval(loss, dlarray(np.array([1.0, 1.0])))
    msg = str(info.value)
    assert "test_view57_s57.py" in msg and f"line {(where or loss).__code__.co_firstlineno + line}:" in msg, msg
    assert "changed B in place" in msg, msg


@pytest.mark.parametrize("loss, where, line", W3_CASES, ids=[c[0].__name__ for c in W3_CASES])
def test_a_callback_changing_nothing_is_exact(loss, where, line):
    B[:] = 2.0
    _CHANGING[0] = False
    try:
        y, g = dlfeval(loss, dlarray(np.array([1.0, 1.0])))
    finally:
        _CHANGING[0] = True
    assert_close(np.asarray(g._data).ravel(), np.array([2.0, 2.0]))      # d/dx sum(x * B), B = [2, 2]
