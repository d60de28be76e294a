"""numpy objects passed as arguments that are not operands (a ``np.dtype``, ``np.s_[...]``,
``np.mgrid[...]``) are not refused as numpy classes with operators of their own
(runtime/support.py ``numpy_operator_class``; was: ``np.asarray(x, np.dtype("D"))`` refused, since
np.dtype has ``__getitem__``).  Values against plain numpy, the gradient against its closed form."""
import numpy as np

from sct import dlarray, dlfeval, dlgradient


def objects(x):
    z = np.asarray(x, np.dtype("D"))
    a = x.astype(np.dtype("float64"))
    b = x[np.s_[0:2]]
    c = np.zeros(3, dtype=x.dtype) + x
    g = np.mgrid[0:3] * 1.0
    y = np.real(np.sum(z * z)) + np.sum(a * b[0]) + np.sum(c * g)
    return y, dlgradient(y, x)


def objects_plain(x):
    z = np.asarray(x, np.dtype("D"))
    return np.real(np.sum(z * z)) + np.sum(x * x[0]) + np.sum(x * np.arange(3.0))


def test_dtype_and_index_expressions():
    for x in (np.array([0.5, 1.5, -2.0]), np.array([1.0, -0.25, 3.0])):
        y, g = dlfeval(objects, dlarray(x))
        assert float(y) == objects_plain(x)
        want = 2 * x + x[0] + np.array([np.sum(x), 0.0, 0.0]) + np.arange(3.0)
        np.testing.assert_allclose(g.data, want, rtol=1e-14)
