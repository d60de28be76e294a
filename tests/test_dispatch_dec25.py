"""Issue 8, per-call latency: the entry call's check of a dlarray's labels (``_fmt is ''``, the
empty str object) and scalar_elements_gradient's fast path give what the general paths give."""
import numpy as np
import pytest

from sct import dlarray, dlfeval, dlgradient
from sct.errors import EvaluationError
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


def test_warnings_filters_read_again_when_changed():
    """scalar_ops._warnings_raise keeps its answer for the filters as last read; every way the warnings
    module changes them is seen (the answer is the full scan's each time)."""
    import warnings

    def check():
        assert so._warnings_raise() is so._filters_raise(warnings.filters)

    with warnings.catch_warnings():
        check()
        warnings.simplefilter("error")
        assert so._warnings_raise() is True
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            assert so._warnings_raise() is False
            warnings.filterwarnings("error", category=RuntimeWarning, append=True)
            assert so._warnings_raise() is False          # the first matching filter decides
            warnings.filterwarnings("error", category=RuntimeWarning)
            assert so._warnings_raise() is True
        assert so._warnings_raise() is True
        warnings.resetwarnings()
        assert so._warnings_raise() is False
        old = warnings.defaultaction
        try:
            warnings.defaultaction = "error"
            assert so._warnings_raise() is True
        finally:
            warnings.defaultaction = old
        assert so._warnings_raise() is False
        warnings.simplefilter("ignore")
        warnings.simplefilter("error", append=True)
        assert so._warnings_raise() is False
    check()


def test_rosenbrock_under_warnings_as_errors():
    import warnings
    x = dlarray(np.array([1e200, 1.0]))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with pytest.raises(RuntimeWarning):       # numpy's overflow warning raised, as in plain Python
            rosen_grad(np.array([1e200, 1.0]))
        with pytest.raises(EvaluationError, match="RuntimeWarning .* overflow"):    # at the user's line
            dlfeval(rosen, x)
    y, g = dlfeval(rosen, dlarray(np.array([0.5, 2.0])))
    np.testing.assert_allclose(g.data, rosen_grad(np.array([0.5, 2.0])), rtol=1e-14)
