"""Stop 43 (mine43): red-team of three changes of the day -- what a helper's value may hold of its
arguments (call_tree.returns_holding), views of a helper's own arrays counted as new
(callee_effects._returns_fresh), and tests on a parameter given None folded (sct/none_branches.py)."""
from __future__ import annotations

import functools
import operator

import numpy as np
import pytest

import sct
from sct import CompileError, dlarray, dlfeval, dlgradient

from gradcheck import D, numerical_gradient

LR = 0.1


# --- 1. a helper's value holding x where its summary said it did not ----------------------------------
# ``p = STEP(p, x)`` twice, STEP taking dlgradient(loss, p) of a loss that also reads x: once the first
# call's value holds x itself (p["z"] is x), the second call's dlgradient with respect to p["z"] is
# the whole derivative in MATLAB's trace but sct's helper holds x constant: it must be refused.  Each
# of these ran and gave the partial derivative (0.7318... where the trace gives 0.8091...).

def _loss(p, x):
    return np.sum(p["w"] * x) + np.sum(p["z"] * x)


def _ident(v):
    return v


def _put(d, v):
    d["z"] = v


def _put_update(d, v):
    d.update(z=v)


def s_alias_written(p, x):
    g = dlgradient(_loss(p, x), p)
    q = {"w": p["w"] - LR * g["z"], "z": p["z"]}
    r = q
    r["z"] = x          # q holds x too (the holds graph was followed from r only)
    return q


def s_alias_updated(p, x):
    g = dlgradient(_loss(p, x), p)
    q = {"w": p["w"] - LR * g["z"], "z": p["z"]}
    (r, s) = (q, 1)
    r.update(z=x)
    return q


def s_list_alias(p, x):
    g = dlgradient(_loss(p, x), p)
    q = {"w": p["w"] - LR * g["z"], "z": p["z"]}
    held = []
    m = held
    m += [x]
    q["z"] = held[0]
    return q


def s_partial_called(p, x):
    g = dlgradient(_loss(p, x), p)
    q = {"w": p["w"] - LR * g["z"], "z": p["z"]}
    q["z"] = functools.partial(_ident, x)()      # a call's callee holding x (was: held nothing)
    return q


def s_local_callable(p, x):
    g = dlgradient(_loss(p, x), p)
    q = {"w": p["w"] - LR * g["z"], "z": p["z"]}
    f = functools.partial(_ident, x)
    q["z"] = f()
    return q


def s_helper_writes(p, x):
    g = dlgradient(_loss(p, x), p)
    q = {"w": p["w"] - LR * g["z"], "z": p["z"]}
    _put(q, x)          # a helper storing its argument into another (was: not followed)
    return q


def s_helper_updates(p, x):
    g = dlgradient(_loss(p, x), p)
    q = {"w": p["w"] - LR * g["z"], "z": p["z"]}
    _put_update(q, x)
    return q


def s_called_getattr(p, x):
    g = dlgradient(_loss(p, x), p)
    q = {"w": p["w"] - LR * g["z"], "z": p["z"]}
    getattr(q, "update")(z=x)       # a call's value called: what it does is not read
    return q


def _put_returning(d, v):
    d["z"] = v
    return 0


def s_key_function(p, x):
    g = dlgradient(_loss(p, x), p)
    q = {"w": p["w"] - LR * g["z"], "z": p["z"]}
    max([q], key=functools.partial(_put_returning, v=x))     # a storing helper handed on to max
    return q


def s_copy_written(p, x):
    g = dlgradient(_loss(p, x), p)
    q = dict(w=p["w"] - LR * g["z"], z=p["z"] * 1.0)     # (p["z"] itself: refused since stop 47, w is
    q2 = dict(q)                                          # computed from it through g)
    q2["z"] = x         # a copy's item: q holds nothing of x
    return q


STEP = None


def two_steps(p0, x):
    p = p0
    for _ in range(2):
        p = STEP(p, x)
    return np.sum(p["w"] ** 2)


def _data():
    rng = np.random.default_rng(0)
    return rng.standard_normal(3), rng.standard_normal(3), rng.standard_normal(3)


@pytest.mark.parametrize("accelerated", [False, True])
@pytest.mark.parametrize("helper", [s_alias_written, s_alias_updated, s_list_alias, s_partial_called,
                                    s_local_callable, s_helper_writes, s_helper_updates, s_called_getattr,
                                    s_key_function],
                         ids=lambda h: h.__name__)
def test_helper_value_holding_x_is_refused(helper, accelerated):
    global STEP
    w, z, x = _data()
    STEP = helper
    fun = sct.accelerate(two_steps) if accelerated else two_steps
    with pytest.raises(CompileError, match="passes for 'x' a value computed from the one it passes for 'p'"):
        dlfeval(fun, {"w": dlarray(w), "z": dlarray(z)}, dlarray(x))


def test_helper_writing_a_copy_still_runs():
    """A write into a copy (``q2 = dict(q)``) leaves q holding nothing of x: still runs, and right."""
    global STEP
    w, z, x = _data()
    STEP = s_copy_written

    def plain(w_, x_):
        for _ in range(2):
            w_ = w_ - LR * x_          # dlgradient of the loss with respect to p["z"] (z never x): x
        return np.sum(w_ ** 2)

    def run(p0, x_):
        v = two_steps(p0, x_)
        return v, dlgradient(v, p0["w"], x_)
    v, (gw, gx) = dlfeval(run, {"w": dlarray(w), "z": dlarray(z)}, dlarray(x))
    assert abs(float(D(v)) - plain(w, x)) < 1e-12
    np.testing.assert_allclose(D(gw), numerical_gradient(plain, [w, x], 0), atol=1e-7)
    np.testing.assert_allclose(D(gx), numerical_gradient(plain, [w, x], 1), atol=1e-7)


# --- 2. a read-only view of a helper's own array counted as a new array -------------------------------

def _diagonal_of_new(a):
    t = a * 2.0
    return np.diagonal(t)


def _imag_of_new(a):
    t = a * 2.0
    return np.imag(t)


def diagonal_written(x, y):
    r = _diagonal_of_new(x)
    r[0] = 5.0
    return np.sum(r * r) + np.sum(x * y)


def imag_written(x, y):
    r = _imag_of_new(x)
    r[0] = 5.0
    return np.sum(r * r) + np.sum(x * y)


@pytest.mark.parametrize("program", [diagonal_written, imag_written], ids=lambda f: f.__name__)
def test_write_into_read_only_view_of_new_array_is_not_run(program):
    """np.diagonal(t) and np.imag(t) of a real t are read-only: Python raises ValueError at ``r[0] = 5.0``.
    sct counted them as new writeable arrays (a view of a local made in the helper) and ran the write
    (diagonal_written: 25.95, a value Python never gives).  Now the write is refused as before."""
    rng = np.random.default_rng(0)
    x, y = rng.standard_normal((2, 3)), rng.standard_normal((2, 3))
    with pytest.raises(ValueError):
        program(x, y)
    with pytest.raises(sct.SctError):
        dlfeval(program, dlarray(x), dlarray(y))


# --- 3. a parameter given None rebound by a binding that is no gast.Name --------------------------------

def f_match(x, ax):
    match 1:
        case ax:
            pass
    y = np.sum(x ** 3) if ax else np.sum(x ** 2)
    return y, dlgradient(y, x)


def f_match_star(x, ax):
    match [1, 2]:
        case [1, *ax]:
            pass
    y = np.sum(x ** 3) if ax else np.sum(x ** 2)
    return y, dlgradient(y, x)


def f_import_as(x, ax):
    from math import pi as ax
    y = np.sum(x ** 3) if ax else np.sum(x ** 2)
    return y, dlgradient(y, x)


def f_import_module_as(x, ax):
    import math as ax
    if ax:
        y = np.sum(x ** 3)
    else:
        y = np.sum(x ** 2)
    return y, dlgradient(y, x)


@pytest.mark.parametrize("accelerated", [False, True])
@pytest.mark.parametrize("program", [f_match, f_match_star, f_import_as, f_import_module_as],
                         ids=lambda f: f.__name__)
def test_none_parameter_rebound_by_match_or_import(program, accelerated):
    """``case ax:`` / ``case [1, *ax]:`` / ``import ... as ax`` rebind ax (given None) to a true value,
    so the x ** 3 branch runs; none_branches.rebound_names read gast.Name only and folded ``if ax`` for
    None: sct gave sum(x ** 2) and 2x."""
    rng = np.random.default_rng(0)
    x = rng.standard_normal(3)

    def plain(a):
        return np.sum(a ** 3)
    fun = sct.accelerate(program) if accelerated else program
    v, g = dlfeval(fun, dlarray(x), None)
    assert abs(float(D(v)) - plain(x)) < 1e-12
    np.testing.assert_allclose(D(g), numerical_gradient(plain, [x], 0), atol=1e-7)
