"""Red team (dec5a): findings of the second random-program tester (tests/fuzz2, scripts/fuzz2.py),
each shrunk to a minimal program. Values against plain Python, gradients against central differences."""
import math

import numpy as np
import pytest

import sct
from sct import dlarray, dlfeval, dlgradient, extractdata

from gradcheck import assert_close, numerical_gradient

A3 = np.array([0.3, -0.2, 0.5])


def _np(v):
    return np.asarray(extractdata(v)) if type(v).__name__ == "dlarray" else np.asarray(v)


def _check(f, g, args, wrt, rtol=1e-5, atol=1e-7):
    """g(*args) = (y, grads w.r.t. args[wrt]) under dlfeval: y against f, grads against central differences."""
    expected = f(*args)
    y, grads = dlfeval(g, *[dlarray(a) if isinstance(a, np.ndarray) else a for a in args])
    assert_close(_np(y), expected, 1e-12, 1e-12, what="value")
    grads = grads if isinstance(grads, tuple) else (grads,)
    for i, got in zip(wrt, grads):
        num = numerical_gradient(lambda x: f(*[x if j == i else a for j, a in enumerate(args)]), [args[i]], 0)
        assert_close(_np(got), num, rtol, atol, what=f"d/darg{i}")


# --- 1. np.clip of a Python number whose adjoint is computed: clip_weights did ~(k < lo) on a Python
#        bool (~True == -2) and then .astype: AttributeError inside the generated gradient

def _clip_py(a, c, k):
    if np.sum(a) > 100.0:            # k may be traced after this join
        k = k * np.sum(a)
    b = math.sin(np.clip(k, -0.6, 0.8))
    return np.sum(a * b) + np.sum(np.sin(c))


def _clip_py_g(a, c, k):
    y = _clip_py(a, c, k)
    return y, dlgradient(y, c, a)


@pytest.mark.parametrize("k", [-0.8, 0.1, 1.3])
def test_clip_of_python_number_in_called_function(k):
    _check(_clip_py, _clip_py_g, [A3, np.array(0.4), k], [1, 0])


def test_clip_weights_python_scalar():
    from sct.runtime.numpy_ops import clip_weights
    for part in (0, 1, 2):
        w = clip_weights(-0.8, -0.6, 0.8, None, None, part)
        assert float(w) == [0.0, 1.0, 0.0][part]


# --- 2. a 0-d array argument of a called function changed in place through another name
#        (`k = c; k *= v`, then c read) or seen by the caller (`c *= v` in the helper): sct took a
#        traced scalar argument of a helper to be an immutable number and returned another value;
#        the run now checks it is a number (exact) and refuses a 0-d array

def _alias0(a, c):
    k = c
    k *= np.sum(a)
    return np.sum(np.sin(a)) + np.sum(c ** 2)


def _alias0_g(a, c):
    y = _alias0(a, c)
    return y, dlgradient(y, a)


def _mutate0(a, c):
    c *= np.sum(a)
    return np.sum(a)


def _mutate0_g(a, c):
    y = _mutate0(a, c) + c
    return y, dlgradient(y, a)


@pytest.mark.parametrize("g", [_alias0_g, _mutate0_g])
def test_zero_d_argument_changed_in_place_in_helper_is_refused(g):
    with pytest.raises(sct.EvaluationError) as info:
        dlfeval(g, dlarray(A3), dlarray(np.array(0.7)))
    assert info.value.filename == __file__
    assert "0-d array changes in place" in str(info.value)


def _scalar_rebound(s, x):
    t = s
    t += np.sum(x)             # s is a numpy number here: t is rebound, s keeps its value
    return s * 2.0 + t


def _scalar_rebound_f(a):
    return _scalar_rebound(np.sum(a ** 2), a)


def _scalar_rebound_g(a):
    y = _scalar_rebound_f(a)
    return y, dlgradient(y, a)


def test_number_argument_augmented_through_alias_still_exact():
    _check(_scalar_rebound_f, _scalar_rebound_g, [A3], [0])


# --- 3. Python's sum() of an array inside a loop: its adjoint was a list of per-item adjoints, added
#        to the zero adjoint (or an array) of the array: TypeError 'float' + 'list' inside the gradient

def _sum_conv_loop(a, B):
    v = a * 1.0
    for i in range(2):
        v[1] = sum(np.convolve(np.sum(B, axis=1), [1.0, 0.5]))
    return np.sum(v)


def _sum_conv_loop_g(a, B):
    y = _sum_conv_loop(a, B)
    return y, dlgradient(y, B, a)


def _sum_rows_loop(a, B):
    s = 0.0
    for i in range(3):
        s = s + np.sum(sum(B * a) ** 2) * (i + 1) + sum(a) * sum(np.sin(a))
    return s


def _sum_rows_loop_g(a, B):
    y = _sum_rows_loop(a, B)
    return y, dlgradient(y, B, a)


B23 = np.array([[0.3, -0.2, 0.5], [0.1, 0.2, 0.3]])


@pytest.mark.parametrize("f, g", [(_sum_conv_loop, _sum_conv_loop_g), (_sum_rows_loop, _sum_rows_loop_g)])
def test_builtin_sum_of_array_in_loop(f, g):
    args = [A3, B23]
    expected = f(*args)
    y, (gB, ga) = dlfeval(g, dlarray(A3), dlarray(B23))
    assert_close(_np(y), expected, 1e-12, 1e-12)
    for i, got in ((1, gB), (0, ga)):
        num = numerical_gradient(lambda x: f(*[x if j == i else v for j, v in enumerate(args)]), [args[i]], 0)
        assert_close(_np(got), num, 1e-5, 1e-7)


def test_builtin_sum_of_array_second_order():
    def kernel(a, w):
        gr = dlgradient(_sum_rows_loop(a, B23), a, EnableHigherDerivatives=True)
        return dlgradient(np.sum(gr * w), a)

    def first(a):
        return _np(dlfeval(lambda z: dlgradient(_sum_rows_loop(z, B23), z), dlarray(a)))
    w = np.array([0.3, -0.7, 1.1])
    got = _np(dlfeval(kernel, dlarray(A3), w))
    h = 1e-5
    expected = np.array([np.sum((first(A3 + h * e) - first(A3 - h * e)) * w) / (2 * h) for e in np.eye(3)])
    assert_close(got, expected, 1e-4, 1e-6)


# --- 4. Python's min()/max() of an array whose adjoint flows on: the item adjoints came back as a
#        list, which np.degrees' (or any op's) adjoint then multiplied: TypeError list * float

def _min_deg(a):
    return min(np.degrees(a)) * 0.5 + max(np.sin(a) * 2.0) * np.sum(a)


def _min_deg_g(a):
    y = _min_deg(a)
    return y, dlgradient(y, a)


def _min_loop(a, k):
    for i in range(2):
        k -= min(np.degrees(0.01 * a)) * ((k > -0.3) & (np.sum(a) < 0.9))
        k = k + max(a * a) * 0.1
    return k * 2.0


def _min_loop_g(a, k):
    y = _min_loop(a, k)
    return y, dlgradient(y, a)


def test_builtin_min_max_of_array_then_an_op():
    _check(_min_deg, _min_deg_g, [A3], [0])
    _check(_min_loop, _min_loop_g, [A3, 0.1], [0])


def test_builtin_min_max_of_array_second_order():
    w = np.array([0.3, -0.7, 1.1])

    def kernel(a, w):
        gr = dlgradient(_min_deg(a), a, EnableHigherDerivatives=True)
        return dlgradient(np.sum(gr * w), a)

    def first(a):
        return _np(dlfeval(_min_deg_g, dlarray(a))[1])
    got = _np(dlfeval(kernel, dlarray(A3), w))
    h = 1e-5
    expected = np.array([np.sum((first(A3 + h * e) - first(A3 - h * e)) * w) / (2 * h) for e in np.eye(3)])
    assert_close(got, expected, 1e-4, 1e-6)


# --- 5. (fixed in dec6, test_fixes_dec6) second order through a helper that fills a dict in a loop with np.diag(...) of a traced
#        value: in the second sweep the adjoint reaching np.diag's rule is a 0-d zero, and its rule
#        fails (IndexError in np.tensordot) inside the generated gradient of the gradient

def _dict_diag(a, c):
    d2 = {}
    for i in range(3):
        d2['k' + str(i)] = np.diag(np.eye(3) * c)
    v4 = d2['k0']
    return np.sum(v4 * a ** 2)


def _dict_diag_g(a, c):
    y = _dict_diag(a, c)
    return y, dlgradient(y, a, c)


def _dict_diag_g2(a, c, w):
    gr = dlgradient(_dict_diag(a, c), a, EnableHigherDerivatives=True)
    return dlgradient(np.sum(gr * w), a)


def test_dict_of_diag_in_loop_first_order():
    _check(_dict_diag, _dict_diag_g, [A3, np.array(0.7)], [0, 1])


def test_dict_of_diag_in_loop_second_order():
    w = np.array([0.3, -0.7, 1.1])
    got = _np(dlfeval(_dict_diag_g2, dlarray(A3), dlarray(np.array(0.7)), w))
    # d/da <2 * 0.7 * a, w> = 1.4 * w
    assert_close(got, 1.4 * w, 1e-10, 1e-12)


# --- 6. (fixed in dec6, test_fixes_dec6) a NaN gradient where central differences give a finite one: fuzz2 program 6000490
#        (first-order gradient w.r.t. a of a 40-line program: np.arccos/arccosh, row writes v5[1] *= ...,
#        while loops rebinding a = 2.0 ** a, a helper called with keyword arguments); not shrunk in time

def test_fuzz2_program_6000490_nan_gradient():
    import os
    from fuzz2.runner import check_file
    path = os.path.join(os.path.dirname(__file__), "fuzz2", "repros", "fuzz2_wrong_6000490.py")
    status, kind, reason, _ = check_file(path)
    assert status in ("PASSED", "REFUSED"), f"{status} {kind}: {reason}"


# --- 7. (fixed in dec6, test_fixes_dec6) hvp NaN where the Hessian is 0: fuzz2 program 6001558 (a = np.arccosh(1.5 - a ** 2) is NaN
#        in some entries, then a is replaced in a branch; the first-order gradient is right, forward over
#        reverse gives NaN); a three-line version does not reproduce it, not shrunk or fixed in dec5a

def test_fuzz2_program_6001558_hvp_nan():
    import os
    from fuzz2.runner import check_file
    path = os.path.join(os.path.dirname(__file__), "fuzz2", "repros", "fuzz2_wrong_6001558.py")
    status, kind, reason, _ = check_file(path)
    assert status in ("PASSED", "REFUSED", "SKIPPED"), f"{status} {kind}: {reason}"
