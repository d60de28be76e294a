"""Fixes (Dec 20).

1. A lambda given a name (``f.__name__ = "abs2"``, as a dict of test functions or a decorator does) was
   read as a def: its source line parsed as garbage, an internal error.  A lambda is known by its code
   (``co_name``).
"""
from __future__ import annotations

import numpy as np
import pytest

from gradcheck import check_grads

NAMED = {"abs2": lambda a: np.sum(np.abs(a) ** 2), "sin": lambda a: np.sum(np.sin(a) * a)}


@pytest.mark.parametrize("name", sorted(NAMED))
def test_renamed_lambda(name):
    f = NAMED[name]
    f.__name__ = f.__qualname__ = name
    check_grads(f, np.array([0.3, -0.5, 1.2]))
