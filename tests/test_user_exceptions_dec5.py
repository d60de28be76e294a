"""An error the user's code raises inside dlfeval keeps its class (as in plain Python): sct's
EvaluationError, located at the user's line, is also an instance of the error's own class, so that
``except ValueError``, a user's ``except EarlyStop`` and ``pytest.raises(KeyError)`` still catch it
(was: an EvaluationError only, which those handlers let through)."""
import numpy as np
import pytest

import sct
from sct import dlarray, dlfeval, dlgradient


class EarlyStop(Exception):
    def __init__(self, epoch, loss):
        super().__init__(f"stop at epoch {epoch}")
        self.epoch = epoch
        self.loss = loss


def _f(x, mode):
    y = np.sum(np.sin(x) ** 2)
    if mode == 1:
        raise ValueError("x must be positive")
    if mode == 2:
        raise EarlyStop(3, 0.5)
    if mode == 3:
        table = {"a": 1.0}
        y = y + table["b"]
    if mode == 4:
        assert y < 0, "y must be negative"
    if mode == 5:
        y = y + np.sum(x @ np.ones(2))
    if mode == 6:
        raise KeyboardInterrupt
    return y, dlgradient(y, x)


X = np.array([0.5, -1.0, 2.0])


@pytest.mark.parametrize("mode, cls, text", [
    (1, ValueError, "x must be positive"),
    (2, EarlyStop, "stop at epoch 3"),
    (3, KeyError, "'b'"),
    (4, AssertionError, "y must be negative"),
    (5, ValueError, "matmul"),
])
def test_user_error_keeps_its_class(mode, cls, text):
    for _ in range(2):                               # compiled, then a cache hit
        with pytest.raises(cls) as info:
            dlfeval(_f, dlarray(X), mode)
        error = info.value
        assert isinstance(error, sct.EvaluationError) and isinstance(error, sct.SctError)
        assert error.lineno is not None and error.filename == __file__
        assert text in str(error) and str(error).startswith(f"{__file__}, line {error.lineno}: ")
        assert isinstance(error.__cause__, cls)


def test_user_exception_attributes_kept():
    with pytest.raises(EarlyStop) as info:
        dlfeval(_f, dlarray(X), 2)
    assert info.value.epoch == 3 and info.value.loss == 0.5


def test_keyboard_interrupt_passes_as_it_is():
    with pytest.raises(KeyboardInterrupt) as info:
        dlfeval(_f, dlarray(X), 6)
    assert type(info.value) is KeyboardInterrupt


def test_no_error_still_runs():
    y, g = dlfeval(_f, dlarray(X), 0)
    np.testing.assert_allclose(np.asarray(g.data), 2 * np.sin(X) * np.cos(X), rtol=1e-12)
