"""An error inside a def nested in the user's function names the line of the nested body where it
happened (the generated file's line table holds each nested statement's own line: sct/emit.py
``Printer._FunctionDef``).  Was: every error in the nested body named the ``def inner(z):`` line."""
import inspect

import numpy as np
import pytest

from sct import EvaluationError, dlarray, dlfeval, dlgradient


def attribute_error(x):
    def inner(z):
        w = z * 2
        return w.nosuch
    y = np.sum(inner(x))
    return y, dlgradient(y, x)


def index_error(x):
    def inner(z):
        w = z * 2
        if w[0] > 0:
            w = w + 1
        return w[5]
    y = np.sum(inner(x))
    return y, dlgradient(y, x)


def after_the_def(x):
    def inner(z):
        return z * 2
    w = inner(x)
    y = np.sum(w[7])
    return y, dlgradient(y, x)


def _line_of(fun, text):
    lines, first = inspect.getsourcelines(fun)
    return first + next(i for i, line in enumerate(lines) if text in line)


@pytest.mark.parametrize("fun, text", [(attribute_error, "return w.nosuch"), (index_error, "return w[5]"),
                                       (after_the_def, "y = np.sum(w[7])")])
def test_error_names_the_nested_line(fun, text):
    with pytest.raises(EvaluationError) as info:
        dlfeval(fun, dlarray(np.array([1.0, 2.0])))
    assert f"line {_line_of(fun, text)}:" in str(info.value)
    assert f"`{text}`" in str(info.value)
