"""Issue 8, per-call latency: the entry call's check of a dlarray's labels (``_fmt is ''``, the
empty str object) and scalar_elements_gradient's fast path give what the general paths give."""
import numpy as np
import pytest

from sct import dlarray, dlfeval, dlgradient
from sct.runtime import scalar_ops as so


def rosen(x):
    y = 100*(x[1] - x[0]**2)**2 + (1 - x[0])**2
    return y, dlgradient(y, x)


def rosen_grad(x):
    a = x[1] - x[0]**2
    return np.array([-400*a*x[0] - 2*(1 - x[0]), 200*a])


class Labels(str):
    pass


def test_entry_call_labels_checked():
    for v in ([-1.2, 1.0], [0.5, 2.0], [3.0, -1.0]):
        y, g = dlfeval(rosen, dlarray(np.array(v)))
        assert float(y) == 100*(v[1] - v[0]**2)**2 + (1 - v[0])**2
        np.testing.assert_allclose(g.data, rosen_grad(np.array(v)), rtol=1e-14)
    x = dlarray(np.array([0.5, 2.0]))
    x._fmt = Labels("")           # an empty label string that is not the empty str: not the entry's kind
    y, g = dlfeval(rosen, x)
    np.testing.assert_allclose(g.data, rosen_grad(np.array([0.5, 2.0])), rtol=1e-14)
    y, g = dlfeval(rosen, dlarray(np.array([1.5, 2.0])))
    np.testing.assert_allclose(g.data, rosen_grad(np.array([1.5, 2.0])), rtol=1e-14)


@pytest.mark.parametrize("elements", [(1.5, 2.5), (0, 1), (np.float64(1.5), 2.5), (True, 2.5),
                                      (np.float32(1.5), 2.5), (float("inf"), 1.0)])
def test_elements_gradient_fast_path(elements):
    x = np.array([1.0, 2.0])
    fast = so.scalar_elements_gradient(x, 0, elements)
    general = so._elements_gradient(x, 0, elements)
    assert fast.dtype == general.dtype == np.float64
    np.testing.assert_array_equal(fast, general)


def test_elements_gradient_other_lengths_and_dtypes():
    x = np.array([1.0, 2.0, 3.0])
    np.testing.assert_array_equal(so.scalar_elements_gradient(x, -2, (1.5, 2.5)), [0.0, 1.5, 2.5])
    np.testing.assert_array_equal(so.scalar_elements_gradient(x, 0, (1.5, 2.5)), [1.5, 2.5, 0.0])
    x32 = np.array([1.0, 2.0], np.float32)
    out = so.scalar_elements_gradient(x32, 0, (1.5, 2.5))
    assert out.dtype == np.float32
    np.testing.assert_array_equal(out, [1.5, 2.5])
