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
