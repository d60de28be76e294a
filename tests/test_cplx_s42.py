"""Red team s42 (rt-cplx): dtypes, complex numbers and linear algebra as scientific users write them.

Each test is one finding: it failed before its fix and passes after.  Values are checked against
plain Python running the same function on numpy arrays, gradients against central differences
(tests/gradcheck.py).
"""
import os
import sys
import warnings

import numpy as np
import pytest

sys.path.insert(0, os.path.dirname(__file__))
from gradcheck import assert_close, numerical_gradient  # noqa: E402

import sct  # noqa: E402
from sct import dlarray, dlfeval, dlgradient  # noqa: E402


def D(v):
    return np.asarray(v.data) if isinstance(v, dlarray) else np.asarray(v)


# --- 1. a rule's `rcond is not None` given the call's literal: a SyntaxWarning at the user's line ---

def pinv_loss(M):
    y = np.sum(np.linalg.pinv(M, rcond=1e-10) * np.arange(12).reshape(3, 4))
    return y, dlgradient(y, M)


def test_pinv_literal_rcond_gives_no_syntax_warning():
    # np.linalg.pinv's rule reads `rcond if rcond is not None else rtol`; with the call's literal put
    # in, the generated code read `(1e-10 if (1e-10 is not None) else None)` and Python's compiler
    # showed `SyntaxWarning: "is not" with a literal` at the user's line, about code they never wrote
    M = np.random.default_rng(0).standard_normal((4, 3))
    with warnings.catch_warnings():
        warnings.simplefilter("error", SyntaxWarning)
        y, g = dlfeval(pinv_loss, dlarray(M.copy()))
    f = lambda a: np.sum(np.linalg.pinv(a, rcond=1e-10) * np.arange(12).reshape(3, 4))
    assert_close(D(y), f(M), rtol=1e-12, atol=1e-12)
    assert_close(D(g), numerical_gradient(f, [M.copy()], 0), rtol=1e-5, atol=1e-6)
