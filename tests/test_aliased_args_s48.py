"""One object reached twice by dlfeval's arguments, where the function sets a traced attribute of it
through one name and reads it through the other (``dlfeval(f, c, c, x)``): sct follows the write by
the name, so the other read was of the value at entry, a constant (a gradient of 0).  Refused at the
writing line, naming both paths; distinct objects run exactly, and the hit of a function without such
writes is unchanged."""
import inspect

import numpy as np
import pytest

import sct
from sct import dlarray, dlfeval, dlgradient, extractdata
from sct import api
from sct.errors import SctError


class Cell:
    def __init__(self):
        self.W = dlarray(np.full((2, 2), 0.3))
        self.h = np.zeros((3, 2))

    def step(self, x):
        self.h = np.tanh(x @ self.W)            # STEP
        return self.h


def _x():
    return dlarray(np.linspace(0.1, 0.6, 6).reshape(3, 2))


def _line(fn, marker):
    lines, first = inspect.getsourcelines(fn)
    return first + next(i for i, t in enumerate(lines) if marker in t)


def _refused(fn, *args, marker="WRITE", where=None, paths=("a", "b")):
    with pytest.raises(SctError) as info:
        dlfeval(fn, *args)
    text = str(info.value)
    assert f"line {_line(where or fn, marker)}" in text, text
    assert f"{paths[0]} and {paths[1]} are one object; sct follows writes by name" in text, text
    return text


def two_names(a, b, x):
    a.h = np.tanh(x @ a.W)                      # WRITE
    loss = np.sum(b.h ** 2) + np.sum(b.W)
    return loss, dlgradient(loss, x)


def two_names_no_w(a, b, x):
    a.h = np.tanh(x @ a.W)                      # WRITE
    loss = np.sum(b.h ** 2)
    return loss, dlgradient(loss, x)


def test_the_same_object_as_two_arguments_is_refused_at_the_write():
    sct.clear_cache()
    c = Cell()
    _refused(two_names, c, c, _x())             # was: 2.9305 and a gradient of zeros
    _refused(two_names_no_w, c, c, _x())        # was: "y does not depend on any traced input" or zeros


def in_a_list(a, bs, x):
    a.h = np.tanh(x @ a.W)                      # WRITE
    loss = np.sum(bs[0].h ** 2) + np.sum(a.W)
    return loss, dlgradient(loss, x)


def through_itself(a, x):
    a.h = np.tanh(x @ a.W)                      # WRITE
    loss = np.sum(a.other.h ** 2) + np.sum(a.W)
    return loss, dlgradient(loss, x)


def in_a_dict(a, d, x):
    a.h = np.tanh(x @ a.W)                      # WRITE
    loss = np.sum(d["m"].h ** 2) + np.sum(a.W)
    return loss, dlgradient(loss, x)


def by_method(a, b, x):
    a.step(x)
    loss = np.sum(b.h ** 2) + np.sum(b.W)
    return loss, dlgradient(loss, x)


def by_setattr(a, b, x):
    setattr(a, "h", np.tanh(x @ a.W))           # WRITE
    loss = np.sum(b.h ** 2) + np.sum(b.W)
    return loss, dlgradient(loss, x)


def in_a_loop(a, b, x):
    for _ in range(2):
        a.h = np.tanh(x @ a.W) + a.h            # WRITE
    loss = np.sum(b.h ** 2) + np.sum(b.W)
    return loss, dlgradient(loss, x)


def test_the_object_reached_by_other_paths_is_refused():
    sct.clear_cache()
    c = Cell()
    _refused(in_a_list, c, [c], _x(), paths=("a", "bs[0]"))
    c.other = c
    _refused(through_itself, c, _x(), paths=("a", "a.other"))
    c = Cell()
    _refused(in_a_dict, c, {"m": c}, _x(), paths=("a", "d['m']"))
    _refused(by_method, c, c, _x(), marker="STEP", where=Cell)     # (a method read in place: its line)
    _refused(by_setattr, c, c, _x())
    _refused(in_a_loop, c, c, _x())


G = Cell()


def reads_a_global(a, x):
    a.h = np.tanh(x @ a.W)                      # WRITE
    loss = np.sum(G.h ** 2) + np.sum(a.W)
    return loss, dlgradient(loss, x)


def test_the_object_read_as_a_global_or_closure_value_is_refused():
    sct.clear_cache()
    _refused(reads_a_global, G, _x(), paths=("a", "G"))
    c = Cell()

    def reads_a_closure(a, x):
        a.h = np.tanh(x @ a.W)                  # WRITE
        loss = np.sum(c.h ** 2) + np.sum(a.W)
        return loss, dlgradient(loss, x)
    _refused(reads_a_closure, c, _x(), paths=("a", "c"))


def test_a_hit_for_distinct_objects_misses_and_refuses_one_object():
    sct.clear_cache()
    for _ in range(3):
        dlfeval(two_names, Cell(), Cell(), _x())
    c = Cell()
    _refused(two_names, c, c, _x())
    acc = sct.dlaccelerate(two_names)
    for _ in range(3):
        acc(Cell(), Cell(), _x())
    with pytest.raises(SctError, match="a and b are one object"):
        acc(c, c, _x())


def _central(f, x, eps=1e-6):
    g = np.zeros_like(x)
    for i in np.ndindex(x.shape):
        e = np.zeros_like(x)
        e[i] = eps
        g[i] = (f(x + e) - f(x - e)) / (2 * eps)
    return g


def test_distinct_objects_run_exactly():
    sct.clear_cache()
    a, b, x = Cell(), Cell(), _x()
    b.h = np.full((3, 2), 0.7)
    W = extractdata(a.W).copy()
    xv = extractdata(x)
    for _ in range(2):          # the first run and the hit
        a.h = np.zeros((3, 2))
        loss, g = dlfeval(two_names, a, b, x)
        # plain twin: b.h is b's own constant; a.h is set
        assert np.isclose(float(extractdata(loss)), np.sum(b.h ** 2) + np.sum(extractdata(b.W)))
        np.testing.assert_allclose(extractdata(g), np.zeros((3, 2)))
        np.testing.assert_allclose(a.h, np.tanh(xv @ W))
    # reading the written object through its own name: the derivative through the new value
    loss, g = dlfeval(through_own_name, a, b, x)
    plain = lambda xv: np.sum(np.tanh(xv @ W) ** 2) + np.sum(extractdata(b.W))
    assert np.isclose(float(extractdata(loss)), plain(xv))
    np.testing.assert_allclose(extractdata(g), _central(plain, xv), rtol=1e-6, atol=1e-8)
    np.testing.assert_allclose(a.h, np.tanh(xv @ W))
    # a cycle through other objects that does not come back to the written one
    a.other, b.other = b, b
    loss, g = dlfeval(through_itself, a, x)
    np.testing.assert_allclose(extractdata(g), np.zeros((3, 2)))


def through_own_name(a, b, x):
    a.h = np.tanh(x @ a.W)
    loss = np.sum(a.h ** 2) + np.sum(b.W)
    return loss, dlgradient(loss, x)


class BN:
    def __init__(self):
        self.g = dlarray(np.array([1.5, 0.5]))
        self.rm = np.zeros(2)

    def fwd(self, x):
        self.rm = 0.5 * self.rm + 0.5 * extractdata(np.mean(x, axis=0))
        return x * self.g


class Two:
    def __init__(self, layer):
        self.a = layer
        self.b = layer


def shared_layer(p, x):
    y = p.a.fwd(x)
    z = p.b.fwd(y)
    loss = np.sum(z * p.b.rm)
    return loss, dlgradient(loss, x)


def test_one_layer_held_twice_with_a_constant_running_mean_is_exact():
    # (a field set to a value with no derivative: read through either path, the value is Python's)
    sct.clear_cache()
    xv = np.arange(6.).reshape(3, 2)
    g0 = np.array([1.5, 0.5])
    rm1 = 0.5 * np.mean(xv, axis=0)
    rm2 = 0.5 * rm1 + 0.5 * np.mean(xv * g0, axis=0)
    for _ in range(2):
        p = Two(BN())
        loss, g = dlfeval(shared_layer, p, dlarray(xv))
        assert np.isclose(float(extractdata(loss)), np.sum(xv * g0 * g0 * rm2))
        # the running mean is a constant (extractdata): the plain twin holds it fixed
        np.testing.assert_allclose(extractdata(g), _central(lambda v: np.sum(v * g0 * g0 * rm2), xv), rtol=1e-6)
        np.testing.assert_allclose(p.a.rm, rm2)
    assert api._entry(shared_layer, (p, dlarray(xv))).written_args == ()


def held_twice_traced(p, x):
    p.a.h = np.tanh(x @ p.a.W)                  # WRITE
    loss = np.sum(p.b.h ** 2) + np.sum(p.a.W)
    return loss, dlgradient(loss, x)


def dict_twice(a, b, x):
    a["h"] = np.tanh(x @ a["W"])                # WRITE
    loss = np.sum(b["h"] ** 2) + np.sum(b["W"])
    return loss, dlgradient(loss, x)


def _helper(a, b, x):
    a.h = np.tanh(x @ a.W)                      # WRITE
    return np.sum(b.h ** 2) + np.sum(b.W)


def helper_twice(c, x):
    loss = _helper(c, c, x)
    return loss, dlgradient(loss, x)


def test_forms_refused_at_compile_time_stay_refused():
    sct.clear_cache()
    for fn, args, where in [(held_twice_traced, (Two(Cell()), _x()), held_twice_traced),
                            (dict_twice, ({"W": dlarray(np.full((2, 2), 0.3)), "h": np.zeros((3, 2))},) * 2 + (_x(),),
                             dict_twice)]:
        # (helper_twice: _helper(c, c, x) is read in place since session 50, its writes c's own, and runs
        # exactly: tests/test_layer_refusals_s50.py)
        with pytest.raises(SctError) as info:
            dlfeval(fn, *args)
        assert f"line {_line(where, 'WRITE')}" in str(info.value), str(info.value)


def no_writes(a, b, x):
    loss = np.sum(b.h ** 2) + np.sum(x @ a.W)
    return loss, dlgradient(loss, x)


def test_the_hit_of_a_function_without_such_writes_is_unchanged():
    sct.clear_cache()
    c = Cell()
    loss, g = dlfeval(no_writes, c, c, _x())       # one object twice, no write: runs
    np.testing.assert_allclose(extractdata(g), np.full((3, 2), 0.6))
    for _ in range(2):
        loss, g = dlfeval(no_writes, Cell(), Cell(), _x())
    np.testing.assert_allclose(extractdata(g), np.full((3, 2), 0.6))
    call = api._ENTRY_SITES[id(no_writes.__code__)][2]
    assert call.compiled.written_args == ()
    assert "TWICE" not in call.source
    dlfeval(two_names, Cell(), Cell(), _x())
    call = api._ENTRY_SITES[id(two_names.__code__)][2]
    assert [w[1] for w in call.compiled.written_args] == ["a"]
    assert "TWICE" in call.source
