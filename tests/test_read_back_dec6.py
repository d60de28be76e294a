"""A traced value written to a file or buffer and read back in the same function (sct/io_checks.py):
the read gave a constant, so the gradient through it was zero (``np.save(buf, x); np.load(buf) * x``
gave x where the derivative is 2x).  Refused at the reader's line; a write alone (a checkpoint) and a
read of what was not traced run."""
import io
import pickle

import numpy as np
import pytest

from sct import CompileError, dlarray, dlfeval, dlgradient

from gradcheck import check_grads

X = np.array([0.3, -1.2, 2.0])


def saved_and_loaded(x):
    buf = io.BytesIO()
    np.save(buf, x)
    buf.seek(0)
    return np.sum(np.load(buf) * x)          # MARK saved_and_loaded


def pickled_and_unpickled(x):
    buf = io.BytesIO()
    pickle.dump(x * 2, buf)
    buf.seek(0)
    return np.sum(pickle.load(buf) * x)      # MARK pickled_and_unpickled


def _line(fn):
    import inspect
    lines, start = inspect.getsourcelines(fn)
    return start + next(i for i, line in enumerate(lines) if "# MARK" in line)


@pytest.mark.parametrize("fn", [saved_and_loaded, pickled_and_unpickled])
def test_read_back_refused_at_the_readers_line(fn):
    def run(x):
        y = fn(x)
        return y, dlgradient(y, x)
    with pytest.raises(CompileError) as info:
        dlfeval(run, dlarray(X.copy()))
    assert info.value.filename == __file__ and info.value.lineno == _line(fn)
    assert "read back" in str(info.value)


def saved_only(x):
    buf = io.BytesIO()
    np.save(buf, x)
    return np.sum(x ** 2)


def loaded_constant(x):
    buf = io.BytesIO()
    np.save(buf, np.ones(3))
    buf.seek(0)
    return np.sum(np.load(buf) * x)


@pytest.mark.parametrize("fn", [saved_only, loaded_constant])
def test_write_alone_or_untraced_read_runs(fn):
    check_grads(fn, X.copy())
