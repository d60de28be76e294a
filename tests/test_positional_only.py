"""Positional-only parameters (``def f(x, /, k=1.0)``) in the function dlfeval runs and in helpers."""
import importlib
import sys
import textwrap
import uuid

import numpy as np
import pytest

from sct import SctError, dlarray, dlfeval
from gradcheck import assert_close, numerical_gradient

SOURCE = """
import numpy as np
from sct import dlgradient

def scale(v, /, k=2.0):
    return k * np.sin(v)

def f(x, /, k=1.5):
    y = np.sum(k * x**2) + np.sum(scale(x, k=3.0))
    return y, dlgradient(y, x)

def g(x, w, /):
    y = np.sum(np.tanh(w * x))
    return y, dlgradient(y, x, w)
"""


@pytest.fixture
def user(tmp_path, monkeypatch):
    monkeypatch.syspath_prepend(str(tmp_path))
    name = "user_posonly_" + uuid.uuid4().hex[:10]
    (tmp_path / f"{name}.py").write_text(textwrap.dedent(SOURCE))
    importlib.invalidate_caches()
    yield importlib.import_module(name)
    sys.modules.pop(name, None)


X = np.array([0.3, -1.2, 2.0])
W = np.array([0.5, 1.5, -0.7])


@pytest.mark.parametrize("k", [None, 2.5])
def test_values_and_gradients(user, k):
    args = () if k is None else (k,)
    kk = 1.5 if k is None else k
    plain = lambda v: np.sum(kk * v ** 2) + np.sum(3.0 * np.sin(v))
    y, gx = dlfeval(user.f, dlarray(X), *args)
    assert_close(np.asarray(y), plain(X))
    assert_close(np.asarray(gx), numerical_gradient(plain, [X], 0))


def test_two_positional_only_arguments(user):
    y, (gx, gw) = dlfeval(user.g, dlarray(X), dlarray(W))
    plain = lambda a, b: np.sum(np.tanh(b * a))
    assert_close(np.asarray(y), plain(X, W))
    assert_close(np.asarray(gx), numerical_gradient(plain, [X, W], 0))
    assert_close(np.asarray(gw), numerical_gradient(plain, [X, W], 1))


def test_passed_by_keyword_is_an_error_as_in_python(user):
    with pytest.raises(TypeError):
        user.f(X, x=1.0)
    with pytest.raises(SctError):
        dlfeval(user.f, dlarray(X), x=1.0)
