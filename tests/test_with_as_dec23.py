"""``with <context manager> as name`` where the context expression reads the function's values but no
traced one (``with open(path, "a") as fh`` of a path argument: a training loss writing a log line) runs
(was refused at compile time, before activity was known); one reading a traced value is still refused."""
import contextlib
import os

import numpy as np
import pytest

import sct
from sct import dlarray, dlfeval, dlgradient, extractdata

X = np.array([0.5, -1.0, 2.0])


def logged(x, path):
    y = np.sum(x ** 2)
    with open(path, "a") as fh:
        fh.write(f"{float(y):.3f}\n")
    return y, dlgradient(y, x)


def test_log_file_opened_from_an_argument(tmp_path):
    path = str(tmp_path / "log.txt")
    for _ in range(2):
        y, g = dlfeval(logged, dlarray(X), path)
        assert float(extractdata(y)) == pytest.approx(np.sum(X ** 2), rel=1e-14)
        np.testing.assert_allclose(extractdata(g), 2 * X)
    with open(path) as fh:
        assert fh.read() == "5.250\n5.250\n"


class Scale:
    def __init__(self, k):
        self.k = k

    def __enter__(self):
        return self.k * 3.0

    def __exit__(self, *exc):
        return False


def constant_manager(x, k):
    with Scale(k) as s:
        y = np.sum(np.sin(x) * s)
    return y, dlgradient(y, x)


def test_manager_of_a_constant_gives_a_constant():
    y, g = dlfeval(constant_manager, dlarray(X), 0.5)
    assert float(extractdata(y)) == pytest.approx(np.sum(np.sin(X) * 1.5), rel=1e-14)
    np.testing.assert_allclose(extractdata(g), np.cos(X) * 1.5)


def traced_manager(x):
    h = x * 2.0
    with Scale(h) as s:
        y = np.sum(s ** 2)
    return y, dlgradient(y, x)


def traced_nullcontext(x):
    with contextlib.nullcontext(x * 2) as u:
        y = np.sum(u ** 2)
    return y, dlgradient(y, x)


@pytest.mark.parametrize("fun", [traced_manager, traced_nullcontext])
def test_manager_of_a_traced_value_is_refused(fun):
    with pytest.raises(sct.CompileError, match="with ... as name") as info:
        dlfeval(fun, dlarray(X))
    assert info.value.filename == __file__
    assert info.value.lineno == fun.__code__.co_firstlineno + (2 if fun is traced_manager else 1)
