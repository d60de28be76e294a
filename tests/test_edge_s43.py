"""Red team edge43 (stop 43): special values, kinks and degenerate shapes. Each test fails before its fix."""
import os

import numpy as np
import pytest

import sct
from sct import dlarray, dlfeval, dlgradient

from gradcheck import numerical_gradient

_DATA = np.array([np.nan, 2.0, 3.0])


def _nanmax_scaled(x):
    return np.nanmax(x * _DATA)


def test_jvp_refusal_through_a_reduction_skipping_nan_names_the_users_line():
    # forward mode transposes np.nanmax's rule; the refusal (a NaN tangent through the NaN entry it
    # skips) named runtime/numpy_ops.py, sct's own file, not the user's line
    with pytest.raises(sct.EvaluationError) as info:
        sct.jvp(_nanmax_scaled, (np.array([1.0, -1.0, 2.0]),), (np.ones(3),))
    assert os.path.abspath(info.value.filename) == os.path.abspath(__file__)
    assert info.value.lineno == _nanmax_scaled.__code__.co_firstlineno + 1
    assert "np.nanmax" in str(info.value)
