"""Findings of stop 42 (mine; this stop's files end _s42): each test fails before its fix."""
import numpy as np
import pytest

import sct
from sct import dlarray, dlfeval, dlgradient


def _unbound_range(x):
    s = 0.0
    for i in range(3):
        s = s + x[i]
    if False:
        range = 5               # noqa: F841 (a local named like a builtin sct renames to range_)
    return s, dlgradient(s, x)


def test_unbound_renamed_local_is_named_as_the_user_wrote_it():
    # was: "cannot access local variable 'range_' ..." (the name sct gave it)
    with pytest.raises(sct.EvaluationError, match=r"local variable 'range' where"):
        dlfeval(_unbound_range, dlarray(np.arange(3.0)))
