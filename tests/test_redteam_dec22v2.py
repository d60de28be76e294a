"""Red team V2 (Dec 22): functions that read their own scope by name.

The generated code runs in sct's own namespace with its own local names, so ``globals()``,
``locals()``, ``vars()``, ``dir()``, ``eval`` and ``exec`` inside a differentiated function read sct's
names and values, not the user's.  Before the fix these gave silent wrong values
(``globals().get("K", 1.0)`` read the default: 3 instead of 6; ``"K" in globals()`` False;
``len(vars())`` counted sct's temporaries) and a silent zero gradient (``locals()["y"]``: the value
read past the tracing).  Now each is refused with a CompileError naming the user's line; reading
the names directly still works and its gradient matches finite differences.
"""
import builtins
import inspect
import sys

import numpy as np
import pytest

import sct
from sct import CompileError, dlarray, dlfeval, dlgradient

from gradcheck import check_grads

K = 2.0


def reads_globals_get(x):
    return np.sum(x) * globals().get("K", 1.0)


def reads_globals_item(x):
    return np.sum(x ** 2) * globals()["K"]


def checks_name_in_globals(x):
    return np.sum(x) * ("K" in globals())


def reads_locals(x):
    y = x * 3
    return np.sum(locals()["y"])


def reads_locals_get(x):
    k = 5.0
    return np.sum(x) * locals().get("k", 1.0)


def counts_vars(x):
    return np.sum(x) * len(vars())


def counts_dir(x):
    return np.sum(x) * len(dir())


def evaluates(x):
    return np.sum(x) * eval("K")


def _helper_reading_globals(a):
    return a * globals().get("K", 1.0)


def calls_helper_reading_globals(x):
    return np.sum(_helper_reading_globals(x))


def lambda_reading_globals(x):
    g = lambda a: a * globals().get("K", 1.0)          # noqa: E731
    return np.sum(g(x))


def nested_def_reading_locals(x):
    def inner(a):
        y = a * 3
        return locals()["y"]
    return np.sum(inner(x))


class _Layer:
    def __init__(self):
        self.W = np.array([1.0, -2.0])

    def __call__(self, x):
        h = self.W * x
        return np.sum(locals()["h"] ** 2)


_layer = _Layer()


def calls_method_reading_locals(x):
    return _layer(x)


def reads_frame_line(x):
    return np.sum(x) * sys._getframe().f_lineno


def reads_frame_locals(x):
    y = x * 2
    return np.sum(inspect.currentframe().f_locals["y"])


_scope = globals


def reads_aliased_globals(x):
    return np.sum(x) * _scope().get("K", 1.0)


def reads_builtins_locals(x):
    y = x * 3
    return np.sum(builtins.locals()["y"])


READERS = [reads_builtins_locals, reads_frame_line, reads_frame_locals, reads_aliased_globals, reads_globals_get, reads_globals_item, checks_name_in_globals, reads_locals, reads_locals_get,
           counts_vars, counts_dir, evaluates, calls_helper_reading_globals, lambda_reading_globals,
           nested_def_reading_locals, calls_method_reading_locals]


def _value_and_gradient(f, x):
    y = f(x)
    return y, dlgradient(y, x)


def _line_of(f, text):
    lines, start = inspect.getsourcelines(f)
    return [start + k for k, line in enumerate(lines) if text in line]


def _refused(run):
    with pytest.raises(CompileError) as info:
        run()
    message = str(info.value)
    assert __file__.rsplit("/", 1)[-1] in message, message
    assert any(name + "(" in message for name in ("globals", "locals", "vars", "dir", "eval", "_getframe", "currentframe", "_scope")), message


def _data(v):
    return np.asarray(v.data if hasattr(v, "data") else v)


@pytest.mark.parametrize("f", READERS, ids=lambda f: f.__name__)
def test_scope_readers_are_refused_naming_the_line(f):
    x = np.array([1.0, 2.0])
    expected = f(x.copy())                 # plain Python runs it
    _refused(lambda: dlfeval(_value_and_gradient, f, dlarray(x)))
    # outside dlfeval, an accelerated function or jvp either refuses or gives plain Python's value
    # (a helper that reads no traced value may run as it is)
    for run in (lambda: sct.dlaccelerate(f)(x), lambda: sct.jvp(f, (x,), (x,))[0]):
        try:
            got = run()
        except CompileError:
            _refused(run)
            continue
        np.testing.assert_allclose(_data(got), expected)


def test_refusal_names_the_line_of_the_call():
    x = np.array([1.0, 2.0])
    with pytest.raises(CompileError) as info:
        dlfeval(_value_and_gradient, reads_locals, dlarray(x))
    line = _line_of(reads_locals, "locals()")[0]
    assert f"line {line}" in str(info.value), str(info.value)


def nested_def_with_own_globals(x):
    def inner(a, globals=lambda: {"K": 4.0}):
        return a * globals()["K"]
    return np.sum(inner(x) ** 2)


def direct_reads(x):
    y = x * 3
    return np.sum(y ** 2) * K


def shadows_vars(x, vars=len):
    return np.sum(x ** 2) * vars([1, 2])


def object_vars(x):
    return np.sum(x ** 2) * len(vars(_layer))


@pytest.mark.parametrize("f", [direct_reads, shadows_vars, object_vars, nested_def_with_own_globals], ids=lambda f: f.__name__)
def test_names_read_directly_and_shadowed_builtins_still_work(f):
    x = np.array([0.5, -1.5, 2.0])
    check_grads(f, x)
    np.testing.assert_allclose(_data(sct.dlaccelerate(f)(x)), f(x.copy()))
