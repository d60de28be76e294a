"""Red team (peer corpus 2): functions written the way autograd's, tangent's and JAX's test suites
write them, run through dlfeval/dlgradient.  Values against plain numpy, gradients against
central differences (tests/gradcheck.py)."""
from __future__ import annotations

import numpy as np
import pytest

import sct
from sct import CompileError, dlarray, dlfeval, dlgradient, extractdata
from gradcheck import assert_close, numerical_gradient

X = np.array([0.5, -1.0, 2.0])


# --- writes into an array made by np.zeros/np.ones after storing an argument into it -------------
# (`y[0] = x` copies x's numbers: a later `y[1] += x` changes only y; it used to be refused
# with "x is an argument ... and would change too")

def rows_then_augmented(x):
    y = np.zeros((3, 3))
    y[0] = x
    y[1] += x
    y[2] -= x * 2
    return np.sum(y ** 3) + np.sum(y * x)


def slice_then_strided_scale(x):
    y = np.ones(6)
    y[1:4] = x
    y[::2] *= 2.0
    return np.sum(y * y)


def like_then_product(x):
    y = np.zeros_like(x)
    y[1:] = x[:2]
    y[1:] *= x[1:]
    return np.sum(y) * x[0]


@pytest.mark.parametrize("f", [rows_then_augmented, slice_then_strided_scale, like_then_product])
def test_augmented_write_into_a_fresh_array_holding_an_argument(f):
    x = X.copy()
    y, g = dlfeval(grad_of_row_writes, f, dlarray(x))
    assert_close(extractdata(y), f(X.copy()))
    assert_close(extractdata(g), numerical_gradient(lambda v: f(v.copy()), [X.copy()], 0), 1e-5, 1e-6)
    assert np.array_equal(x, X)                  # the argument is unchanged, as in Python


def grad_of_row_writes(f, x):
    y = f(x)
    return y, dlgradient(y, x)


def object_array_store(x):
    y = np.zeros(3, dtype=object)
    y[0] = x
    y[0] += 1.0                                  # changes x itself in Python: still refused
    s = np.sum(x)
    return s, dlgradient(s, x)


def test_an_object_array_holding_an_argument_is_still_refused():
    with pytest.raises(CompileError) as info:
        dlfeval(object_array_store, dlarray(X))
    assert info.value.lineno == object_array_store.__code__.co_firstlineno + 3


# --- a call that does not match the op's signature names the user's line (it said line 0) ------

def sum_where(x):
    s = np.sum(x,
               where=x > 0)
    return s, dlgradient(s, x)


def test_signature_mismatch_names_the_users_line():
    with pytest.raises(CompileError) as info:
        dlfeval(sum_where, dlarray(X))
    assert info.value.lineno == sum_where.__code__.co_firstlineno + 1
    assert "where" in str(info.value)
