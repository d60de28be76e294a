"""A write into an array's view attribute (``m.T[0] = ...``) is refused with advice that can be
followed (was: "Write `m.T = m.T.copy()` before writing into it", an assignment Python rejects)."""
import numpy as np
import pytest

from sct import dlarray, dlfeval, dlgradient
from sct.errors import SctError


def transposed_write(x):
    m = np.stack([x, 2 * x])
    m.T[0] = 5.0
    y = np.sum(m * x)
    return y, dlgradient(y, x)


def test_write_into_transpose_view_names_the_array_to_write():
    with pytest.raises(SctError) as info:
        dlfeval(transposed_write, dlarray(np.ones(3)))
    text = str(info.value)
    assert "test_view_messages_s49.py, line 12" in text
    assert "m.T is a view of m" in text and "m.T = m.T.copy()" not in text
