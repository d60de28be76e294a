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


def test_write_into_transpose_view_is_followed():
    # (s52, ops52: a write through m.T is followed, m written back; was refused naming m.T as a view of m)
    def plain(x):
        m = np.stack([x, 2 * x])
        m.T[0] = 5.0
        return np.sum(m * x)
    x0 = np.array([1.0, 2.0, -0.5])
    y, g = dlfeval(transposed_write, dlarray(x0))
    assert float(np.asarray(y.data)) == plain(x0)
    fd = np.array([(plain(x0 + 1e-6 * d) - plain(x0 - 1e-6 * d)) / 2e-6 for d in np.eye(3)])
    np.testing.assert_allclose(np.asarray(g.data), fd, rtol=1e-6, atol=1e-8)
