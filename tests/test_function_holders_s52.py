"""The written dict or object reached again through a function the call is given (its closure, the globals its
code names), a bound method's object, a functools.partial or a MappingProxyType (redf4_52 W1/G2, s52): sct
follows the write by name, so a read through the function was of the value at entry (a gradient of x0 where
4 x0). Now refused before the call at the write's line, naming both paths; functions that reach other objects
run exactly."""
import functools
import types

import numpy as np
import pytest

import sct
from sct import dlarray, dlfeval, dlgradient

X0 = np.array([0.5, -1.0, 2.0])


def write_dict(d, rd, x):
    d["y"] = x * 2
    loss = rd(x)
    return loss, dlgradient(loss, x)


def write_attr(o, rd, x):
    o.y = x * 2
    loss = rd(x)
    return loss, dlgradient(loss, x)


def through_view(d, view, x):
    d["y"] = x * 2
    loss = np.sum(view["y"] * x)
    return loss, dlgradient(loss, x)


class Obj:
    def __init__(self):
        self.y = np.ones(3)


class Reader:
    def __init__(self, d):
        self.d = d

    def rd(self, x):
        return np.sum(self.d["y"] * x)


STATE = {"y": np.ones(3)}


def read_global(x):
    return np.sum(STATE["y"] * x)


def _closure_over(d):
    return lambda x: np.sum(d["y"] * x)


def _partial_reader(d, x):
    return np.sum(d["y"] * x)


def _cases():
    d1 = {"y": np.ones(3)}
    o = Obj()
    d3 = {"y": np.ones(3)}
    d4 = {"y": np.ones(3)}
    return [("closure", write_dict, d1, _closure_over(d1)),
            ("object_closure", write_attr, o, (lambda x: np.sum(o.y * x))),
            ("bound_method", write_dict, d3, Reader(d3).rd),
            ("partial", write_dict, d4, functools.partial(_partial_reader, d4)),
            ("global_of_function", write_dict, STATE, read_global),
            ("mappingproxy", through_view, {"y": np.ones(3)}, None)]


@pytest.mark.parametrize("case", _cases(), ids=lambda c: c[0])
def test_written_object_reached_through_a_function_is_refused(case):
    name, fn, holder, reader = case
    if reader is None:
        reader = types.MappingProxyType(holder)
    sct.clear_cache()
    line = fn.__code__.co_firstlineno + 1
    with pytest.raises(sct.EvaluationError, match=rf"line {line}: .* are one object"):
        dlfeval(fn, holder, reader, dlarray(X0.copy()))


def test_a_function_reaching_another_object_runs_exactly():
    sct.clear_cache()
    other = {"y": np.full(3, 3.0)}
    d = {"y": np.ones(3)}
    loss, g = dlfeval(write_dict, d, _closure_over(other), dlarray(X0.copy()))
    np.testing.assert_allclose(float(np.asarray(loss.data)), np.sum(3.0 * X0), rtol=1e-12)
    np.testing.assert_allclose(np.asarray(g.data), np.full(3, 3.0), rtol=1e-12)
    np.testing.assert_allclose(np.asarray(d["y"].data if hasattr(d["y"], "data") else d["y"]), 2 * X0)
