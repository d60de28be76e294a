"""A global the differentiated code reads, rebound by a function it calls during the call, is
refused (generated code reads a global's value once per call: sct/global_writes.py)."""
import importlib
import sys
import textwrap
import uuid

import numpy as np
import pytest

from sct import CompileError, dlarray, dlfeval
from gradcheck import assert_close, numerical_gradient


@pytest.fixture
def modules(tmp_path, monkeypatch):
    monkeypatch.syspath_prepend(str(tmp_path))
    made = []

    def make(text: str):
        name = "user_globals_" + uuid.uuid4().hex[:10]
        (tmp_path / f"{name}.py").write_text(textwrap.dedent(text))
        importlib.invalidate_caches()
        made.append(name)
        return importlib.import_module(name)

    yield make
    for name in made:
        sys.modules.pop(name, None)


REBIND = """
import numpy as np
from sct import dlgradient
G = 2.0

def bump():
    global G
    G = G + 1.5
    return 0.0

def indirect():
    return bump()

class Counter:
    def tick(self):
        global G
        G += 1.0

def f(x):
    a = np.sum(x) * G
    bump()
    b = np.sum(x) * G
    y = a + b
    return y, dlgradient(y, x)

def g(x):
    a = np.sum(x) * G
    indirect()
    y = a + np.sum(x) * G
    return y, dlgradient(y, x)

def h(x):
    Counter().tick()
    y = np.sum(x) * G
    return y, dlgradient(y, x)
"""


@pytest.mark.parametrize("name", ["f", "g", "h"])
def test_rebound_global_is_refused(modules, name):
    user = modules(REBIND)
    with pytest.raises(CompileError) as info:
        dlfeval(getattr(user, name), dlarray(np.array([1.0, 2.0])))
    err = info.value
    assert err.filename == user.__file__ and err.lineno is not None
    assert "'G'" in str(err) and "argument" in str(err)
    assert user.G == 2.0          # refused before anything ran


FINE = """
import numpy as np
from sct import dlgradient
G = 2.0
CALLS = 0

def count():
    global CALLS          # a global the differentiated code does not read
    CALLS += 1
    return 0.0

def f(x):
    count()
    y = np.sum(x ** 2) * G
    return y, dlgradient(y, x)
"""


def test_a_global_it_does_not_read_may_change(modules):
    user = modules(FINE)
    x = np.array([1.0, -2.0, 0.5])
    y, g = dlfeval(user.f, dlarray(x))
    assert_close(np.asarray(y), np.sum(x ** 2) * 2.0)
    assert_close(np.asarray(g), numerical_gradient(lambda v: np.sum(v ** 2) * 2.0, [x], 0))
    assert user.CALLS == 1
