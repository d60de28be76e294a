"""Issue 8, per-call latency (session 46): the float-state test of the scalar-specialised code kept as
one state key (scalar_ops._ALLOWED, compared inline in scalar_elements and scalar_argument) and the
seed's read of the unselected-sites list skipped until a site was ever noted (support.SITES_NOTED).
Each way the state can change is still seen, and the sites of an earlier sweep are still cleared."""
import warnings

import numpy as np
import pytest

from sct import dlarray, dlfeval, dlgradient
from sct.errors import EvaluationError
from sct.runtime import scalar_ops as so
from sct.runtime import support


def rosen(x):
    y = 100*(x[1] - x[0]**2)**2 + (1 - x[0])**2
    return y, dlgradient(y, x)


def rosen_grad(x):
    a = x[1] - x[0]**2
    return np.array([-400*a*x[0] - 2*(1 - x[0]), 200*a])


def square(x):
    y = x * x
    return y, dlgradient(y, x)


def _floats(x):
    """Whether scalar_elements lets the code read ``x``'s elements as Python floats."""
    return so.scalar_elements(x) is x


def test_state_key_sees_every_change():
    x = np.array([1.0, 2.0])
    assert _floats(x)                     # the usual state: floats (and the key kept)
    assert _floats(x)
    with warnings.catch_warnings():       # a new filters list, equal to the old: same answer
        assert _floats(x)
        warnings.simplefilter("error")    # inserted at the front
        assert not _floats(x)
        assert type(so.scalar_argument(np.array(2.0))) is np.float64
    assert _floats(x)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        assert _floats(x)
        warnings.filters.insert(0, ("error", None, RuntimeWarning, None, 0))   # the list changed directly
        assert not _floats(x)
        del warnings.filters[0]
        assert _floats(x)
        warnings.filters.append(("error", None, Warning, None, 0))           # after "ignore": no effect
        assert _floats(x)
    with warnings.catch_warnings():
        warnings.resetwarnings()
        for category in (DeprecationWarning, UserWarning, ImportWarning):
            warnings.filterwarnings("ignore", category=category)
        assert _floats(x)
        warnings.filters[1] = ("error", None, RuntimeWarning, None, 0)     # in the middle: ends unchanged
        assert not _floats(x)
        assert type(so.scalar_argument(np.array(2.0))) is np.float64
        warnings.filters[1] = ("ignore", None, UserWarning, None, 0)
        assert _floats(x)
    with warnings.catch_warnings():
        warnings.resetwarnings()          # an empty list: read in full
        assert _floats(x)
        old = warnings.defaultaction
        try:
            warnings.defaultaction = "error"
            assert not _floats(x)
        finally:
            warnings.defaultaction = old
        assert _floats(x)
    with np.errstate(over="raise"):       # numpy's error state
        assert not _floats(x)
        assert type(so.scalar_argument(np.array(2.0))) is np.float64
    with np.errstate(under="raise"):
        assert not _floats(x)
    with np.errstate(all="ignore"):
        assert _floats(x)
        assert type(so.scalar_argument(np.array(2.0))) is float
    assert _floats(x) and type(so.scalar_argument(np.array(2.0))) is float


def test_rosenbrock_across_state_changes():
    """The dispatch's hit (state key kept) and the refusal where warnings raise, in turn."""
    for _ in range(3):
        y, g = dlfeval(rosen, dlarray(np.array([0.5, 2.0])))
        np.testing.assert_allclose(g.data, rosen_grad(np.array([0.5, 2.0])), rtol=1e-14)
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            with pytest.raises(EvaluationError, match="RuntimeWarning .* overflow"):
                dlfeval(rosen, dlarray(np.array([1e200, 1.0])))
        with np.errstate(over="raise"):
            with pytest.raises(Exception):
                dlfeval(rosen, dlarray(np.array([1e200, 1.0])))
        y, g = dlfeval(rosen, dlarray(np.array([1e200, 1.0])))    # floats again: inf, as numpy gives
        assert not np.isfinite(float(y))
    y, g = dlfeval(square, dlarray(3.0))                           # scalar_argument's inline key
    assert float(y) == 9.0 and float(g) == 6.0


def test_seed_clears_sites_of_an_earlier_sweep():
    """A site noted by an earlier sweep (np.where's adjoint meeting a non-finite unselected branch)
    is cleared by the next scalar sweep's seed: SITES_NOTED is set by the noting."""
    def f(x):
        y = np.sum(np.where(x > 0, np.log(x), x))     # log(-1): NaN where not selected
        return y, dlgradient(y, x)
    with np.errstate(invalid="ignore"):
        y, g = dlfeval(f, dlarray(np.array([1.0, -1.0])))
    assert support.SITES_NOTED[0]
    assert support._UNSELECTED.sites                   # this thread's list holds the site until the next seed
    np.testing.assert_array_equal(g.data, [1.0, 1.0])
    y, g = dlfeval(square, dlarray(3.0))
    assert float(g) == 6.0
    assert not support._UNSELECTED.sites
    y, g = dlfeval(rosen, dlarray(np.array([0.5, 2.0])))
    np.testing.assert_allclose(g.data, rosen_grad(np.array([0.5, 2.0])), rtol=1e-14)


def test_elements_gradient_sum_start_float():
    x = np.array([1.0, 2.0, 3.0])
    out = so.scalar_elements_gradient(x, 0, (-0.0, 1.5, 2.5))
    np.testing.assert_array_equal(out, [0.0, 1.5, 2.5])
    assert np.signbit(out[0])                           # the element as given
    assert so.scalar_elements_gradient(x, 0, (0, 1, 2)).dtype == np.float64


def scaled_product(x):
    y = x[0] * x[1] * 1e300
    return y, dlgradient(y, x)


def test_filter_changed_in_the_middle_raises_as_plain_python():
    """A RuntimeWarning-as-error filter put in the middle of the list (its length, first and last
    entries unchanged): plain Python raises numpy's overflow warning, and so does sct (was: the kept
    answer saw the list's ends only, so the Python floats gave inf silently: a value where plain
    Python raises)."""
    x = np.array([1e10, 1e10])
    with warnings.catch_warnings():
        warnings.resetwarnings()
        for category in (DeprecationWarning, UserWarning, ImportWarning):
            warnings.filterwarnings("ignore", category=category)
        y, g = dlfeval(scaled_product, dlarray(np.array([1.0, 2.0])))    # the state read with these filters
        assert float(y) == 2e300
        warnings.filters[1] = ("error", None, RuntimeWarning, None, 0)
        with pytest.raises(RuntimeWarning):
            x[0] * x[1] * 1e300
        with pytest.raises(EvaluationError, match="RuntimeWarning .* overflow"):
            dlfeval(scaled_product, dlarray(x.copy()))
