"""The scalar path's seed notes whether y is finite for the sweep's NaN refusal (was: generated code
inlined ``1.0 if y.__class__ is float`` and the flag stayed as an earlier sweep, or the thread's
start, left it: np.sqrt(x) * 0.0 + x at x = 0 gave a silent NaN gradient of a finite y)."""
import numpy as np
import pytest

from sct import EvaluationError, dlarray, dlfeval, dlgradient


def masked_sqrt(x):
    y = np.sqrt(x) * 0.0 + x
    return y, dlgradient(y, x)


def log_of(x):
    y = np.log(x)
    return y, dlgradient(y, x)


def test_finite_y_with_a_nan_gradient_is_refused_on_the_scalar_path():
    y, g = dlfeval(masked_sqrt, dlarray(4.0))
    assert float(y.data) == 4.0 and float(g.data) == 1.0      # d/dx (0 * sqrt(x) + x) = 1
    with np.errstate(all="ignore"), pytest.raises(EvaluationError, match="NaN"):
        dlfeval(masked_sqrt, dlarray(0.0))


def test_flag_of_an_earlier_sweep_with_a_nan_y_is_not_read():
    with np.errstate(all="ignore"):
        y, g = dlfeval(log_of, dlarray(-1.0))           # y is NaN: its NaN gradient is returned
        assert np.isnan(float(y.data)) and float(g.data) == -1.0
        with pytest.raises(EvaluationError, match="NaN"):
            dlfeval(masked_sqrt, dlarray(0.0))
