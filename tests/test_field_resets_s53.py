"""Red team 52 F14 (/work/redfix52/mini arg_reset_then_peek.py, arg_reset_by_with.py, arg_reset_by_dunder.py): after
a traced write of a field of an argument's object (``cell(x)``, whose ``__call__`` sct reads in place, sets
``self.h``), code sct does not read in place replaced that field (another module's ``cell.reset()`` read back by
``cell.peek()`` / ``vars(cell)["h"]``; ``__enter__`` of ``with cell:``; ``__bool__`` of ``if cell:``, ``__len__``,
``__str__`` of ``print(cell)``...) and a later read followed the field by name: its derivative went on into the
value the reset replaced (values right, gradients wrong).  Now refused naming the user's line; the same programs
without a reset between (or with dunders that set nothing), and resets before the first write or after the last
read, stay exact."""
import dataclasses
import importlib
import inspect
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
class Resetter:                      # another module's mixins: not read in place
    def reset(self):
        self.h = np.zeros(2) + 0.5
class Peeker:
    def peek(self):
        return self.h * 2.0
class ResetOnEnter:
    def __enter__(self):
        self.h = np.zeros(2) + 0.5
        return None
    def __exit__(self, *a):
        return False
class ResetOnDunder:
    def __bool__(self):
        self.h = np.zeros(2) + 0.5
        return True
    def __len__(self):
        self.h = np.zeros(2) + 0.5
        return 2
    def __str__(self):
        self.h = np.zeros(2) + 0.5
        return "cell"
    def __repr__(self):
        self.h = np.zeros(2) + 0.5
        return "cell"
    def __contains__(self, v):
        self.h = np.zeros(2) + 0.5
        return True
    def __iter__(self):
        self.h = np.zeros(2) + 0.5
        return iter([1])
    def __eq__(self, other):
        self.h = np.zeros(2) + 0.5
        return False
    def __hash__(self):
        self.h = np.zeros(2) + 0.5
        return 1
class NestedReset:
    def __bool__(self):
        self._do()
        return True
    def _do(self):
        self.h = np.zeros(2) + 0.5
class CountingReset:
    def __bool__(self):
        self.h = np.zeros(2) + 0.5
        self.count = getattr(self, "count", 0) + 1
        return True
class ModuleRepr:                    # PyTorch-style: __repr__ calls a method of self that reads only
    def __repr__(self):
        return type(self).__name__ + "(" + self.extra_repr() + ")"
    def extra_repr(self):
        return "W=%s" % (self.W.shape,)
class Holder:                        # a dunder of another object, reaching the cell
    def __init__(self, c):
        self.c = c
    def __bool__(self):
        self.c.h = np.zeros(2) + 0.5
        return True
class Loader:                        # an everyday iterable whose __iter__ does more than set fields
    def __init__(self, data):
        self.data = data
        self.epoch = 0
    def __iter__(self):
        self.epoch += 1
        return iter(list(self.data))
class PureDunders:                   # reads only (or sets a field never traced): nothing to refuse
    def __str__(self):
        self.shown = 1
        return "cell%s" % (self.W.shape,)
    def __bool__(self):
        return self.W is not None
    def __len__(self):
        return 2
    def __eq__(self, other):
        return self is other
    __hash__ = object.__hash__
    def __enter__(self):
        return self
    def __exit__(self, *a):
        return False
"""


@pytest.fixture(scope="module")
def helper(tmp_path_factory):
    path = tmp_path_factory.mktemp("f14s53")
    (path / "f14s53_helper.py").write_text(HELPER)
    sys.path.insert(0, str(path))
    sys.modules.pop("f14s53_helper", None)
    yield importlib.import_module("f14s53_helper")
    sys.modules.pop("f14s53_helper", None)
    sys.path.remove(str(path))


def _cell_class(*bases):
    class Cell(*bases):
        def __init__(self):
            self.W = dlarray(W0.copy())
            self.h = dlarray(np.array([1.0, -1.0]))

        def __call__(self, x):
            self.h = np.tanh(self.W @ self.h + x)
            return self.h
    return Cell


def _fd(plain):
    e, fd = 1e-6, np.zeros(4)
    for i in range(4):
        d = np.zeros(4)
        d[i] = e
        d = d.reshape(2, 2)
        fd[i] = (plain(W0 + d) - plain(W0 - d)) / (2 * e)
    return fd


def _marked_line(fn) -> int:
    lines, first = inspect.getsourcelines(fn)
    return first + next(i for i, text in enumerate(lines) if "# <-" in text)


_MODEL = None


def _global_loss(cell, xs):
    L = _MODEL(cell, xs)             # (a global function: read in place, as the mini's ``model``)
    return L, dlgradient(L, cell.W)


def _loss(model):
    global _MODEL
    _MODEL = model
    return _global_loss


def _exact(model, Cell):
    def plain(W):
        c = Cell()
        c.W = dlarray(W)
        return float(sct.extractdata(model(c, XS)))
    sct.clear_cache()
    L, g = dlfeval(_loss(model), Cell(), XS)
    assert np.isclose(float(sct.extractdata(L)), plain(W0))
    assert np.allclose(sct.extractdata(g).ravel(), _fd(plain), atol=1e-6)


def _refused(model, Cell, *says):
    sct.clear_cache()
    with pytest.raises(CompileError) as err:
        dlfeval(_loss(model), Cell(), XS)
    assert err.value.lineno == _marked_line(model), str(err.value)
    assert err.value.filename == __file__ or __file__.endswith(str(err.value.filename)), err.value.filename
    for text in says:
        assert text in str(err.value), str(err.value)
    return str(err.value)


# --- the read after another module's reset made by code the object is handed to (arg_reset_then_peek.py) ---

def _reset_then_peek(cell, xs):
    y = cell(xs[0])
    cell.reset()                 # <- h = [0.5, 0.5], a constant
    return np.sum(y) + np.sum(cell.peek() ** 2)


def _reset_then_vars(cell, xs):
    y = cell(xs[0])
    cell.reset()                 # <-
    return np.sum(y) + np.sum(vars(cell)["h"] ** 2)


def _reset_then_dict(cell, xs):
    y = cell(xs[0])
    cell.reset()                 # <-
    return np.sum(y) + np.sum(cell.__dict__["h"] ** 2)


@pytest.mark.parametrize("model", [_reset_then_peek, _reset_then_vars, _reset_then_dict],
                         ids=["peek", "vars", "__dict__"])
def test_reset_then_read_by_code_given_the_object_refused(helper, model):
    # was: sct dL/dW [2.10 -2.10 3.56 -3.56] (peek) / [0.84 -0.84 1.42 -1.42] (vars), plain [0.42 -0.42 0.71 -0.71]
    _refused(model, _cell_class(helper.Resetter, helper.Peeker),
             "cell.reset() is a method sct does not read in place", "it sets cell.h")


def _peek_then_reset(cell, xs):
    y = cell(xs[0])
    p = cell.peek()
    cell.reset()                 # after the last read: exact
    return np.sum(y) + np.sum(p ** 2) + np.sum(vars(cell)["W"])


def _peek_no_reset(cell, xs):
    y = cell(xs[0])
    return np.sum(y) + np.sum(cell.peek() ** 2) + np.sum(vars(cell)["h"] ** 3)


def _reset_first(cell, xs):
    cell.reset()                 # before the first write: exact
    y = cell(xs[0])
    return np.sum(y) + np.sum(cell.peek() ** 2)


def _reset_then_value_read(cell, xs):
    y = cell(xs[0])
    z = cell(xs[1])
    cell.reset()                 # the values read after it are arrays, not the object
    return np.sum(y ** 2) + z.sum() + np.sum(np.tanh(z))


@pytest.mark.parametrize("model", [_peek_then_reset, _peek_no_reset, _reset_first, _reset_then_value_read],
                         ids=["peek-then-reset", "no-reset", "reset-first", "reset-then-values"])
def test_peek_and_vars_without_a_reset_between_exact(helper, model):
    _exact(model, _cell_class(helper.Resetter, helper.Peeker))


# --- the reset made by ``with cell:`` (arg_reset_by_with.py) ---

def _with_reset(cell, xs):
    y = cell(xs[0])
    with cell:                   # <- __enter__ (another module) sets h = [0.5, 0.5]
        pass
    y = cell(xs[1])
    return np.sum(y ** 2)


def _with_reset_read_inside(cell, xs):
    y = cell(xs[0])
    with cell:                   # <-
        z = cell.h
    return np.sum(y) + np.sum(z ** 2)


@pytest.mark.parametrize("model", [_with_reset, _with_reset_read_inside], ids=["step-after", "read-inside"])
def test_with_whose_enter_resets_refused(helper, model):
    # was: sct dL/dW [0.316 0.144 0.460 0.210], plain [0.230 0.230 0.335 0.335]
    _refused(model, _cell_class(helper.ResetOnEnter), "`with cell:` runs Cell.__enter__()", "it sets cell.h",
             "Set the field in the function itself")


# --- resets made by a dunder Python runs (arg_reset_by_dunder.py) ---

def _if(cell, xs):
    y = cell(xs[0])
    if cell:                     # <-
        pass
    y = cell(xs[1])
    return np.sum(y ** 2)


def _len(cell, xs):
    y = cell(xs[0])
    n = len(cell)                # <-
    y = cell(xs[1])
    return np.sum(y ** 2) * n


def _str(cell, xs):
    y = cell(xs[0])
    t = str(cell)                # <-
    y = cell(xs[1])
    return np.sum(y ** 2) + len(t)


def _fstring(cell, xs):
    y = cell(xs[0])
    t = f"{cell}"                # <-
    y = cell(xs[1])
    return np.sum(y ** 2) + len(t)


def _print(cell, xs):
    y = cell(xs[0])
    print(cell)                  # <-
    y = cell(xs[1])
    return np.sum(y ** 2)


def _in(cell, xs):
    y = cell(xs[0])
    b = 3 in cell                # <-
    y = cell(xs[1])
    return np.sum(y ** 2) * b


def _for(cell, xs):
    y = cell(xs[0])
    for _ in cell:               # <-
        pass
    y = cell(xs[1])
    return np.sum(y ** 2)


def _not(cell, xs):
    y = cell(xs[0])
    b = not cell                 # <-
    y = cell(xs[1])
    return np.sum(y ** 2) + b


def _bool(cell, xs):
    y = cell(xs[0])
    b = bool(cell)               # <-
    y = cell(xs[1])
    return np.sum(y ** 2) * b


def _eq(cell, xs):
    y = cell(xs[0])
    b = cell == 3                # <-
    y = cell(xs[1])
    return np.sum(y ** 2) + b


def _repr(cell, xs):
    y = cell(xs[0])
    t = repr(cell)               # <-
    y = cell(xs[1])
    return np.sum(y ** 2)


def _hash(cell, xs):
    y = cell(xs[0])
    k = hash(cell)               # <-
    y = cell(xs[1])
    return np.sum(y ** 2) * k


def _format(cell, xs):
    y = cell(xs[0])
    t = "{}".format(cell)        # <-
    y = cell(xs[1])
    return np.sum(y ** 2)


def _percent(cell, xs):
    y = cell(xs[0])
    t = "c=%s" % cell            # <-
    y = cell(xs[1])
    return np.sum(y ** 2)


def _unpack(cell, xs):
    y = cell(xs[0])
    a, = cell                    # <-
    y = cell(xs[1])
    return np.sum(y ** 2) * a


def _in_loop(cell, xs):
    L = 0.0
    for x in xs:
        y = cell(x)
        L = L + np.sum(y ** 2)
        if cell:                 # <- the next pass reads the h this replaced
            pass
    return L


DUNDER_FORMS = {_if: "`if cell:` runs Cell.__bool__()", _len: "`len(cell)` runs Cell.__len__()",
                _str: "`str(cell)` runs Cell.__str__()", _fstring: "the f-string's {cell} runs Cell.__str__()",
                _print: "`print(cell)` runs Cell.__str__()", _in: "`... in cell` runs Cell.__contains__()",
                _for: "iterating over cell runs Cell.__iter__()", _not: "`not cell` runs Cell.__bool__()",
                _bool: "`bool(cell)` runs Cell.__bool__()", _eq: "comparison with cell runs Cell.__eq__()",
                _repr: "`repr(cell)` runs Cell.__repr__()", _hash: "`hash(cell)` runs Cell.__hash__()",
                _format: "`.format(..., cell)` runs Cell.__str__()", _percent: "a %-format of cell runs Cell.__str__()",
                _unpack: "iterating over cell runs Cell.__iter__()", _in_loop: "`if cell:` runs Cell.__bool__()"}


@pytest.mark.parametrize("model", list(DUNDER_FORMS), ids=lambda f: f.__name__.strip("_"))
def test_dunder_that_resets_refused(helper, model):
    # was (if cell:): sct dL/dW [0.316 0.144 0.460 0.210], plain [0.230 0.230 0.335 0.335]
    _refused(model, _cell_class(helper.ResetOnDunder), DUNDER_FORMS[model], "it sets cell.h")


def test_dunder_calling_another_method_refused(helper):
    # __bool__ calls self._do(), which sets h
    _refused(_if, _cell_class(helper.NestedReset), "`if cell:` runs Cell.__bool__()", "it sets cell.h")


def test_dunder_doing_more_than_setting_fields_refused(helper):
    _refused(_if, _cell_class(helper.CountingReset), "`if cell:` runs Cell.__bool__()",
             "it may set any field of cell or of the objects it reaches, cell.h among them")


def _holder_if(cell, xs):
    y = cell(xs[0])
    hd = _Holder(cell)
    if hd:                       # <- Holder.__bool__ sets hd.c.h, the cell's h
        pass
    y = cell(xs[1])
    return np.sum(y ** 2)


def test_dunder_of_an_object_reaching_the_cell_refused(helper):
    global _Holder
    _Holder = helper.Holder
    _refused(_holder_if, _cell_class(helper.PureDunders), "`if hd:` runs Holder.__bool__()",
             "it may set any field of hd or of the objects it reaches, cell.h among them")


def _loader_model(cell, xs):
    L = 0.0
    ld = _Loader(xs)
    for epoch in range(2):
        for x in ld:             # Loader.__iter__ may set any field of ld: not the cell's
            y = cell(x)
            L = L + np.sum(y ** 2)
    return L


def test_iterable_built_here_whose_iter_does_more_exact(helper):
    global _Loader
    _Loader = helper.Loader
    _exact(_loader_model, _cell_class(helper.PureDunders))


def _print_between(cell, xs):
    y = cell(xs[0])
    print(cell, repr(cell), f"{cell!r}")
    y = cell(xs[1])
    return np.sum(y ** 2)


def test_repr_calling_a_reading_method_of_self_exact(helper):
    _exact(_print_between, _cell_class(helper.ModuleRepr))


def _local_if(cell, xs):
    c = type(cell)()
    c.W = cell.W
    y = c(xs[0])
    if c:                        # <-
        pass
    y = c(xs[1])
    return np.sum(y ** 2)


def test_dunder_reset_of_an_object_built_here_refused(helper):
    Cell = _cell_class(helper.ResetOnDunder)
    global _LocalCell
    _LocalCell = Cell

    def model(cell, xs):
        c = _LocalCell()
        c.W = cell.W
        y = c(xs[0])
        if c:                    # <-
            pass
        y = c(xs[1])
        return np.sum(y ** 2)
    _refused(model, Cell, "`if c:` runs Cell.__bool__()", "it sets c.h")


def _dunders_after_last_read(cell, xs):
    t = str(cell)                # before the first write
    y = cell(xs[0])
    y = cell(xs[1])
    if cell:                     # after the last read
        pass
    return np.sum(y ** 2) + len(t)


def test_dunder_reset_before_first_write_or_after_last_read_exact(helper):
    _exact(_dunders_after_last_read, _cell_class(helper.ResetOnDunder))


# --- everyday forms: no new refusal, exact ---

def _everyday_dunders(cell, xs):
    y = cell(xs[0])
    print(cell)
    t = f"{cell} {len(cell)} {cell == cell}"
    if cell:
        y = cell(xs[1])
    with cell:
        y = y + 0.0
    L = np.sum(y ** 2) + len(t) * 0.0
    print(L)
    print(f"loss {float(sct.extractdata(L)):.4f}")
    return L


def test_dunders_that_set_no_traced_field_exact(helper):
    _exact(_everyday_dunders, _cell_class(helper.PureDunders))


@dataclasses.dataclass
class _DataCell:
    W: object
    h: object

    def __call__(self, x):
        self.h = np.tanh(self.W @ self.h + x)
        return self.h


def _dataclass_model(cell, xs):
    y = cell(xs[0])
    print(cell)
    same = cell == cell
    y = cell(xs[1])
    return np.sum(y ** 2) + same


def test_dataclass_cell_printed_between_steps_exact():
    def plain(W):
        return float(sct.extractdata(_dataclass_model(_DataCell(dlarray(W), np.array([1.0, -1.0])), XS)))
    sct.clear_cache()
    L, g = dlfeval(_loss(_dataclass_model), _DataCell(dlarray(W0.copy()), np.array([1.0, -1.0])), XS)
    assert np.isclose(float(sct.extractdata(L)), plain(W0))
    assert np.allclose(sct.extractdata(g).ravel(), _fd(plain), atol=1e-6)


class _ModuleCell:
    """A PyTorch-style cell: its state set by __call__, read later by a method of the same file."""

    def __init__(self):
        self.W = dlarray(W0.copy())
        self.h = np.array([1.0, -1.0])

    def __call__(self, x):
        self.h = np.tanh(self.W @ self.h + x)
        return self.h

    def readout(self):
        return self.W @ self.h

    def __repr__(self):
        return f"_ModuleCell(h={self.h})"


def _module_model(cell, xs):
    for x in xs:
        cell(x)
        print(cell)
    return np.sum(cell.readout() ** 2) + np.sum(cell.h)


def test_module_cell_with_same_file_method_exact():
    _exact(_module_model, _ModuleCell)


def _dict_model(p, xs):
    h = np.zeros(2)
    for x in xs:
        h = np.tanh(p["W"] @ h + x)
        print(p, f"{p['b']}")
    return np.sum(h ** 2)


def test_model_in_a_dict_printed_exact():
    def loss(p, xs):
        L = _dict_model(p, xs)
        return L, dlgradient(L, p["W"])

    def plain(W):
        return float(sct.extractdata(_dict_model({"W": dlarray(W), "b": 1.0}, XS)))
    sct.clear_cache()
    L, g = dlfeval(loss, {"W": dlarray(W0.copy()), "b": 1.0}, XS)
    assert np.isclose(float(sct.extractdata(L)), plain(W0))
    assert np.allclose(sct.extractdata(g).ravel(), _fd(plain), atol=1e-6)
