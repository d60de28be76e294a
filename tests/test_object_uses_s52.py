"""Red team 52 F14 (/work/redfix52/mini arg_reset_then_peek.py, arg_reset_by_with.py, arg_reset_by_dunder.py):
after a traced write of a field of dlfeval's argument's object, a use of the object that runs code sct does not
read (another module's method, `with cell:`, `if cell:`, len/str/print/f-string/in/for running a mixin's dunder,
vars(cell)) is refused naming the line (was: a wrong gradient, sct.object_uses)."""
import importlib
import sys

import numpy as np
import pytest

import sct
from sct import dlarray, dlfeval, dlgradient
from sct.errors import CompileError

XS = np.array([[0.5, -0.3], [0.2, 0.7]])
W0 = np.array([[0.3, -0.2], [0.1, 0.4]])
HELPER = """
import numpy as np
class Mixin:
    def scale(self, v):
        return v * 2.0
    def reset(self):
        self.h = np.zeros(2) + 0.5
    def peek(self):
        return self.h * 2.0
    def __enter__(self):
        self.h = np.zeros(2) + 0.5
    def __exit__(self, *a):
        return False
    def __bool__(self):
        self.h = np.zeros(2) + 0.5
        return True
    def __len__(self):
        self.h = np.zeros(2) + 0.5
        return 2
    def __str__(self):
        self.h = np.zeros(2) + 0.5
        return "cell"
    def __contains__(self, v):
        self.h = np.zeros(2) + 0.5
        return True
    def __iter__(self):
        self.h = np.zeros(2) + 0.5
        return iter([1])
    @property
    def status(self):
        self.h = np.zeros(2) + 0.5
        return 1.0
"""


@pytest.fixture
def Cell(tmp_path, monkeypatch):
    (tmp_path / "ou52_helper.py").write_text(HELPER)
    monkeypatch.syspath_prepend(str(tmp_path))
    sys.modules.pop("ou52_helper", None)
    base = importlib.import_module("ou52_helper").Mixin

    class Cell(base):
        def __init__(self):
            self.W = dlarray(W0.copy())
            self.h = dlarray(np.array([1.0, -1.0]))

        def __call__(self, x):
            self.h = np.tanh(self.W @ self.h + x)
            return self.h
    yield Cell
    sys.modules.pop("ou52_helper", None)


def _peek(cell, xs):
    y = cell(xs[0])
    cell.reset()
    return np.sum(y) + np.sum(cell.peek() ** 2)


def _vars(cell, xs):
    y = cell(xs[0])
    cell.reset()
    return np.sum(y) + np.sum(vars(cell)["h"] ** 2)


def _with(cell, xs):
    y = cell(xs[0])
    with cell:
        pass
    y = cell(xs[1])
    return np.sum(y ** 2)


def _if(cell, xs):
    y = cell(xs[0])
    if cell:
        pass
    y = cell(xs[1])
    return np.sum(y ** 2)


def _len(cell, xs):
    y = cell(xs[0])
    n = len(cell)
    y = cell(xs[1])
    return np.sum(y ** 2) * n


def _str(cell, xs):
    y = cell(xs[0])
    s = f"{cell}"
    y = cell(xs[1])
    return np.sum(y ** 2)


def _in(cell, xs):
    y = cell(xs[0])
    b = 3 in cell
    y = cell(xs[1])
    return np.sum(y ** 2)


def _for(cell, xs):
    y = cell(xs[0])
    for _ in cell:
        pass
    y = cell(xs[1])
    return np.sum(y ** 2)


def _print(cell, xs):
    y = cell(xs[0])
    print(cell)
    y = cell(xs[1])
    return np.sum(y ** 2)


def loss_peek(cell, xs):
    L = _peek(cell, xs)
    return L, dlgradient(L, cell.W)


def loss_vars(cell, xs):
    L = _vars(cell, xs)
    return L, dlgradient(L, cell.W)


def loss_with(cell, xs):
    L = _with(cell, xs)
    return L, dlgradient(L, cell.W)


def loss_if(cell, xs):
    L = _if(cell, xs)
    return L, dlgradient(L, cell.W)


def loss_len(cell, xs):
    L = _len(cell, xs)
    return L, dlgradient(L, cell.W)


def loss_str(cell, xs):
    L = _str(cell, xs)
    return L, dlgradient(L, cell.W)


def loss_in(cell, xs):
    L = _in(cell, xs)
    return L, dlgradient(L, cell.W)


def loss_for(cell, xs):
    L = _for(cell, xs)
    return L, dlgradient(L, cell.W)


def loss_print(cell, xs):
    L = _print(cell, xs)
    return L, dlgradient(L, cell.W)


def loss_control_reset_first_and_last(cell, xs):
    L = _control_reset_first_and_last(cell, xs)
    return L, dlgradient(L, cell.W)


def loss_control_attributes(cell, xs):
    L = _control_attributes(cell, xs)
    return L, dlgradient(L, cell.W)


def _property(cell, xs):
    y = cell(xs[0])
    k = cell.status
    y = cell(xs[1])
    return np.sum(y ** 2) * k


def loss_property(cell, xs):
    L = _property(cell, xs)
    return L, dlgradient(L, cell.W)


def _peek_only(cell, xs):
    y = cell(xs[0])
    return np.sum(y) + np.sum(cell.peek() ** 2)


def loss_peek_only(cell, xs):
    L = _peek_only(cell, xs)
    return L, dlgradient(L, cell.W)


LINES = {_peek_only: "cell.peek()", _peek: "cell.reset()", _vars: "cell.reset()", _with: "with cell:", _if: "if cell:", _len: "len(cell)",
         _str: 'f"{cell}"', _in: "3 in cell", _for: "for _ in cell:", _print: "print(cell)"}


@pytest.mark.parametrize("model", list(LINES), ids=lambda m: m.__name__)
def test_use_after_a_traced_field_write_refused(Cell, model):
    loss = globals()["loss" + model.__name__]
    sct.clear_cache()
    with pytest.raises(CompileError) as e:
        dlfeval(loss, Cell(), XS)
    import inspect
    src, first = inspect.getsourcelines(model)
    line = first + next(i for i, t in enumerate(src) if LINES[model] in t)
    assert f"line {line}" in str(e.value) and "test_object_uses_s52.py" in str(e.value)


def _fd(plain):
    e, fd = 1e-6, np.zeros(4)
    for i in range(4):
        d = np.zeros(4)
        d[i] = e
        d = d.reshape(2, 2)
        fd[i] = (plain(W0 + d) - plain(W0 - d)) / (2 * e)
    return fd


def _control_reset_first_and_last(cell, xs):
    cell.reset()
    if cell:
        pass
    y = cell(xs[0])
    y = cell(xs[1]) + cell.h * 0.5
    cell.reset()
    return np.sum(y ** 2)


def _control_attributes(cell, xs):
    y = cell(xs[0])
    if cell is not None:
        y = cell(xs[1]) + cell.W[0] + cell.scale(cell.h)
    return np.sum(y ** 2)


@pytest.mark.parametrize("model", [_control_reset_first_and_last, _control_attributes], ids=lambda m: m.__name__)
def test_controls_exact(Cell, model):
    loss = globals()["loss" + model.__name__]
    sct.clear_cache()
    L, g = dlfeval(loss, Cell(), XS)

    def plain(W):
        c = Cell()
        c.W = dlarray(W)
        return float(sct.extractdata(model(c, XS)))
    assert np.isclose(float(sct.extractdata(L)), plain(W0))
    assert np.allclose(sct.extractdata(g).ravel(), _fd(plain), atol=1e-6)
