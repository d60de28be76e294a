"""Fixes of the session of 2026-12-02 (after the sixth red teams), each with the program that
showed it.

- ``operator.or_`` called by name on dicts (``functools.reduce(operator.or_, parts)``) had its own
  rule beside ``a | b``'s (rt.bit_or): first order right, second order an internal
  "unsupported operand type(s) for +: 'dict' and 'dict'".  It is now read as ``a | b``.
"""
import functools
import operator

import numpy as np
import pytest

from sct import CompileError, dlarray, dlfeval, dlgradient
from gradcheck import assert_close, numerical_gradient

X = np.array([1.0, 2.0])
W = np.array([0.5, -1.5])


def reduce_or(x, w):
    p = {"a": x * 2.0, "b": w}
    q = {"b": x * w, "c": w ** 2}
    m = functools.reduce(operator.or_, [p, q])
    y = np.sum(m["a"] * m["b"] + m["c"])
    return y, dlgradient(y, x, w)


def test_operator_or_by_name_first_order():
    y, (gx, gw) = dlfeval(reduce_or, dlarray(X), dlarray(W))
    plain = lambda x, w: float(np.sum(2 * x * x * w + w ** 2))
    assert_close(np.asarray(y), plain(X, W))
    assert_close(np.asarray(gx), numerical_gradient(lambda x: plain(x, W), [X], 0))
    assert_close(np.asarray(gw), numerical_gradient(lambda w: plain(X, w), [W], 0))


def or_second(x, w):
    p = {"a": x * 2.0, "b": w}
    m = operator.or_(p, {"b": x})
    y = np.sum(m["a"] * m["b"])
    gx = dlgradient(y, x, EnableHigherDerivatives=True)
    z = np.sum(gx ** 2)
    return z, dlgradient(z, x)


def test_operator_or_by_name_second_order():
    # y = 2 sum x^2, gx = 4x, z = 16 sum x^2, dz/dx = 32x
    z, g = dlfeval(or_second, dlarray(X), dlarray(W))
    assert_close(np.asarray(z), 16 * np.sum(X ** 2))
    assert_close(np.asarray(g), 32 * X)


# --- a for loop over a generator expression or map(): items computed as the loop asks -------------
# sct built the generator whole before the loop, so a body that changed what it reads
# (k = 5.0 after the first item) gave the items before the change: -0.4 for Python's -0.7,
# gradient [4, 4] for [7, 7].  The loop is now written as Python runs it.

def genexpr_loop(x):
    k = 2.0
    y = 0.0
    for v in (t * k for t in [x, x]):
        y = y + np.sum(v)
        k = 5.0
    return y, dlgradient(y, x)


def map_loop(x):
    k = 2.0
    y = 0.0
    for v in map(lambda t: t * k, [x, x]):
        y = y + np.sum(v)
        k = 5.0
    return y, dlgradient(y, x)


def map_two_loop(x, w):
    k = 1.0
    y = 0.0
    for v in map(lambda a, b: a * b * k, [x, w], [w, x]):
        y = y + np.sum(v)
        k = k + 1.0
    return y, dlgradient(y, x, w)


def genexpr_filtered_loop(x):
    k = 1.0
    y = 0.0
    t = 100.0                      # the generator's t is its own: this one is read after the loop
    for i, v in ((j, x ** j * k) for j in range(4) if j != 2):
        y = y + np.sum(v) * i
        k = k * 3.0
    y = y + t
    return y, dlgradient(y, x)


def genexpr_rng_loop(x):
    rng = np.random.default_rng(0)
    y = 0.0
    for v in (t * rng.normal() for t in [x, x]):
        y = y + np.sum(v) * rng.normal()
    return y, dlgradient(y, x)


def genexpr_nested_loop(x):
    k = 1.0
    y = 0.0
    for v in (a * b * k for a in (x, 2 * x) for b in (1.0, 3.0)):
        y = y + np.sum(v)
        k = -k
    return y, dlgradient(y, x)


def _plain(fn, x, *rest):
    """The function run by plain Python on arrays, dlgradient replaced by nothing."""
    import ast
    import inspect
    import textwrap
    tree = ast.parse(textwrap.dedent(inspect.getsource(fn)))
    body = tree.body[0]
    body.body[-1] = ast.Return(value=body.body[-1].value.elts[0])
    ast.fix_missing_locations(tree)
    space = dict(fn.__globals__)
    exec(compile(tree, "<plain>", "exec"), space)
    return float(space[fn.__name__](x, *rest))


@pytest.mark.parametrize("fn", [genexpr_loop, map_loop, genexpr_filtered_loop, genexpr_rng_loop,
                                genexpr_nested_loop])
def test_loops_over_lazy_iterators_follow_python(fn):
    y, g = dlfeval(fn, dlarray(X))
    assert_close(np.asarray(y), _plain(fn, X))
    assert_close(np.asarray(g), numerical_gradient(lambda x: _plain(fn, x), [X], 0))


def test_map_of_two_iterables_in_a_loop():
    y, (gx, gw) = dlfeval(map_two_loop, dlarray(X), dlarray(W))
    assert_close(np.asarray(y), _plain(map_two_loop, X, W))
    assert_close(np.asarray(gx), numerical_gradient(lambda x: _plain(map_two_loop, x, W), [X], 0))
    assert_close(np.asarray(gw), numerical_gradient(lambda w: _plain(map_two_loop, X, w), [W], 0))


def named_generator_changed(x):
    k = 2.0
    gen = (t * k for t in [x, x])
    y = 0.0
    for v in gen:
        y = y + np.sum(v)
        k = 5.0
    return y, dlgradient(y, x)


def test_a_loop_over_a_named_generator_whose_reads_change_is_refused():
    with pytest.raises(CompileError) as info:
        dlfeval(named_generator_changed, dlarray(X))
    assert info.value.lineno == named_generator_changed.__code__.co_firstlineno + 4
    assert "gen" in str(info.value) and "k" in str(info.value)


def named_generator_unchanged(x):
    gen = (t * 2.0 for t in [x, x ** 2])
    y = 0.0
    for v in gen:
        y = y + np.sum(v)
    return y, dlgradient(y, x)


def test_a_loop_over_a_named_generator_that_nothing_changes():
    y, g = dlfeval(named_generator_unchanged, dlarray(X))
    assert_close(np.asarray(y), _plain(named_generator_unchanged, X))
    assert_close(np.asarray(g), 2.0 + 4.0 * X)


# --- a random generator made in the function ------------------------------------------------------
# rng = np.random.default_rng(0) then rng.normal() after a differentiated operation was refused
# ("is given values that earlier differentiated operations read"): the alias analysis took the
# generator for anything and rng.normal()'s result for (part of) the generator.

def local_rng(x):
    rng = np.random.default_rng(0)
    v = x * rng.normal()
    y = np.sum(v) * rng.normal()
    return y, dlgradient(y, x)


def local_rng_loop_second(x):
    rng = np.random.default_rng(0)
    y = 0.0
    for i in range(2):
        y = y + np.sum(x ** 2 * rng.normal())
    g = dlgradient(y, x, EnableHigherDerivatives=True)
    z = np.sum(g ** 2) + np.sum(x) * rng.normal()
    return z, dlgradient(z, x)


def test_a_local_random_generator():
    a, b, c = np.random.default_rng(0).normal(size=3)
    y, g = dlfeval(local_rng, dlarray(X))
    assert_close(np.asarray(y), np.sum(X) * a * b)
    assert_close(np.asarray(g), np.full(2, a * b))
    z, g = dlfeval(local_rng_loop_second, dlarray(X))
    assert_close(np.asarray(z), 4 * (a + b) ** 2 * np.sum(X ** 2) + c * np.sum(X))
    assert_close(np.asarray(g), 8 * (a + b) ** 2 * X + c)


def named_map_with_numpy(x):
    gen = map(lambda a: np.sin(a), [x, 2 * x])
    y = 0.0
    for v in gen:
        y = y + np.sum(v)             # np.sum changes nothing gen reads (was refused: "changes np")
    return y, dlgradient(y, x)


def test_a_named_map_reading_numpy_in_a_loop_calling_numpy():
    y, g = dlfeval(named_map_with_numpy, dlarray(X))
    assert_close(np.asarray(y), np.sum(np.sin(X) + np.sin(2 * X)))
    assert_close(np.asarray(g), np.cos(X) + 2 * np.cos(2 * X))


def named_generator_global_random(x):
    gen = (t * np.random.normal() for t in [x, x])
    y = 0.0
    for v in gen:
        y = y + np.sum(v) * np.random.normal()    # draws interleaved in Python: refused
    return y, dlgradient(y, x)


def test_a_named_generator_drawing_from_numpys_global_random_state_is_refused():
    with pytest.raises(CompileError):
        dlfeval(named_generator_global_random, dlarray(X))
