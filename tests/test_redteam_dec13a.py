"""Red-team dec13a: programs written as users write them (ported GP, attention, RNN, ODE, DP and
physics code, ops held in variables, dicts and layer attributes), each checked against plain Python
and central differences.  The wrong results found, each a test that failed before its fix:

* an op with a ``*args`` parameter called through a value (``f = np.einsum; f("i,i->", x, t)``,
  ``ops["e"](...)``, ``self.contract(...)``, ``m = max``, ``mg = np.meshgrid``): the adjoint of the
  i-th argument was read from the rule's parameter at position i, so np.einsum's operands got a zero
  gradient, and max/min/np.meshgrid crashed in the reverse sweep (transform_calls: _primitive_pair);
  the same calls in forward mode dropped the operands' tangents (a zero jvp) or crashed, and a rule
  run at the zero marker of a tuple or named tuple of outputs (np.meshgrid's, np.linalg.eigh's) gave
  a zero tangent or a TypeError (op_jvp_impl);
* an op or array method called with a traced value in ``*parts`` (``np.where(*[mask, a, t])``,
  ``x.dot(*args)``): the starred list was bound as one argument, so the call read as inactive or its
  items got no adjoint: silent zero gradients and jvps.  Now refused, naming the op;
* a ``sct.defrule`` rule of several statements: an "internal error, please report it" where the op
  was used; now refused where the rule is registered, at its line.
"""
from __future__ import annotations

import numpy as np

import sct
from gradcheck import assert_close, check_two_inputs, numerical_gradient

RNG = np.random.default_rng(1313)
X0 = RNG.standard_normal(4) * 0.7
T0 = RNG.standard_normal(4) * 0.7
V0 = RNG.standard_normal(4)


# --- ops with *args held in a variable, a dict or a loop over functions -------------------------

def einsum_held_in_a_name(x, t):
    contract = np.einsum
    return contract("i,i->", x, t) + contract("i,j,j->", x, t, x * t)


def einsum_held_in_a_dict(x, t):
    ops = {"contract": np.einsum, "act": np.tanh}
    return ops["contract"]("i,i->", x * 2, t ** 2) + np.sum(ops["act"](x))


def builtin_max_held_in_a_name(x, t):
    biggest = max
    smallest = min
    return biggest(x[0], t[0]) + smallest(x[1], t[1], x[2]) + biggest([x[3], t[3] * 2])


def functions_in_a_loop(x, t):
    total = 0.0
    for f in (np.sin, max, np.exp, min):
        if f is max or f is min:
            total = total + f(x[0] * t[1], t[0])
        else:
            total = total + np.sum(f(x) * t)
    return total


def meshgrid_held_in_a_name(x, t):
    grid = np.meshgrid
    gx, gy = grid(x, t[:3])
    return np.sum(gx * gy ** 2)


class Block:
    """A layer keeping its operations in attributes, as ported PyTorch/JAX modules do."""

    def __init__(self, W, act=np.tanh, pool=max, contract=np.einsum):
        self.W = W
        self.act = act
        self.pool = pool
        self.contract = contract

    def __call__(self, x, t):
        h = self.act(self.contract("ij,j->i", self.W, x))
        return self.pool(h[0], h[1], t[0]) + self.contract("i,i->", h, t)


def ops_held_by_a_layer(x, t):
    return Block(np.outer(t, x) + np.eye(4))(x, t)


class Config:
    ops = {"mix": np.einsum, "reduce": np.sum}

    def run(self, a, b):
        return self.ops["reduce"](self.ops["mix"]("i,j->ij", a, b) ** 2)


def ops_in_a_class_dict(x, t):
    return Config().run(x, t) + Config.ops["mix"]("i,i->", x, t)


def test_einsum_held_in_a_name():
    check_two_inputs(einsum_held_in_a_name, X0.copy(), T0.copy())


def test_einsum_held_in_a_dict():
    check_two_inputs(einsum_held_in_a_dict, X0.copy(), T0.copy())


def test_builtin_max_held_in_a_name():
    check_two_inputs(builtin_max_held_in_a_name, X0.copy(), T0.copy())


def test_functions_in_a_loop():
    check_two_inputs(functions_in_a_loop, X0.copy(), T0.copy())


def test_meshgrid_held_in_a_name():
    check_two_inputs(meshgrid_held_in_a_name, X0.copy(), T0.copy())


def test_ops_held_by_a_layer():
    check_two_inputs(ops_held_by_a_layer, X0.copy(), T0.copy())


def test_ops_in_a_class_dict():
    check_two_inputs(ops_in_a_class_dict, X0.copy(), T0.copy())


# --- the same in forward mode (jvp) and forward over reverse (hvp) ------------------------------

def _of_x(case):
    def f(x):
        return case(x, T0.copy())
    f.__name__ = case.__name__
    return f


def _of_t(case):
    def f(t):
        return case(X0.copy(), t)
    f.__name__ = case.__name__ + "_t"
    return f


def _check_jvp(f, x, v):
    y, jv = sct.jvp(f, x.copy(), v.copy())
    assert_close(sct.extractdata(y), f(x.copy()), rtol=1e-12, atol=1e-12, what=f"{f.__name__}: value")
    step = 1e-6
    expected = (f(x + step * v) - f(x - step * v)) / (2 * step)
    assert_close(sct.extractdata(jv), expected, what=f"{f.__name__}: jvp")


def _check_hvp(f, x, v):
    hv = sct.hvp(f, x.copy(), v.copy())
    grad = lambda a: numerical_gradient(f, [a.copy()], 0, step=1e-5)   # noqa: E731
    step = 1e-4
    expected = (grad(x + step * v) - grad(x - step * v)) / (2 * step)
    assert_close(sct.extractdata(hv), expected, rtol=1e-3, atol=1e-4, what=f"{f.__name__}: hvp")


CASES = [einsum_held_in_a_name, einsum_held_in_a_dict, builtin_max_held_in_a_name, functions_in_a_loop,
         meshgrid_held_in_a_name, ops_held_by_a_layer, ops_in_a_class_dict]


def test_jvp_of_ops_held_in_values():
    for case in CASES:
        _check_jvp(_of_x(case), X0, V0)
        _check_jvp(_of_t(case), T0, V0)


def test_hvp_of_ops_held_in_values():
    for case in (einsum_held_in_a_name, meshgrid_held_in_a_name, builtin_max_held_in_a_name):
        _check_hvp(_of_x(case), X0, V0)
        _check_hvp(_of_t(case), T0, V0)


def test_jvp_of_meshgrid_held_in_a_name_is_not_zero():
    # the plainest form of the forward-mode defect: a zero tangent where the program's is not
    f = _of_x(meshgrid_held_in_a_name)
    _, jv = sct.jvp(f, X0.copy(), np.ones(4))
    assert abs(float(sct.extractdata(jv))) > 1e-3


# --- a user's rule of several statements: refused where it is registered, at its line -----------
# (was: an "internal error ... please report it" where a function calling the op compiled)

def _softplus2(a, b):
    return np.log1p(np.exp(a * b))


def test_a_rule_of_several_statements_is_refused_at_its_line():
    import inspect
    import pytest

    with pytest.raises(sct.CompileError) as info:
        @sct.defrule(_softplus2, wrt=("a", "b"))
        def _softplus2_rule(g, ans, a, b):
            s = 1 / (1 + np.exp(-a * b))
            return g * s * b, g * s * a
    error = info.value
    assert error.filename == __file__
    assert error.lineno == inspect.currentframe().f_lineno - 4      # the line of `s = ...`
    assert "single `return`" in str(error)


def test_a_rule_with_a_docstring_and_one_return_is_accepted():
    def _cube(a):
        return a ** 3

    @sct.defrule(_cube)
    def _cube_rule(g, ans, a):
        """d(a^3) = 3 a^2."""
        return g * 3 * a ** 2

    def f(x, t):
        return np.sum(_cube(x) * t)
    check_two_inputs(f, X0.copy(), T0.copy())


# --- an op called with *parts: the starred list was bound as ONE argument --------------------------
# (np.where(*[mask, a, t]) bound the list to `condition` and left x, y unbound: the call was taken as
# inactive, so t's gradient was silently zero where the function was a helper called as a value, its
# jvp zero in forward mode, and the direct call said "y does not depend on any traced input")

MASK = np.array([True, False, True, False])
ROW = np.arange(4.0)


def where_of_starred_parts(t):
    parts = [MASK, X0, t]
    return np.sum(np.where(*parts) * ROW)


def where_of_starred_parts_plain(t):
    return np.sum(np.where(MASK, X0, t) * ROW)


def helper_of_starred_parts(f, t):
    y = f(t)
    return y, sct.dlgradient(y, t)


def test_op_called_with_starred_traced_parts_is_refused_not_zero():
    import pytest
    t = T0.copy()
    # the program's derivative is not zero (a zero was returned before)
    assert np.any(numerical_gradient(where_of_starred_parts_plain, [t.copy()], 0) != 0)
    with pytest.raises(sct.CompileError, match=r"where with \*args or \*\*kwargs") as info:
        sct.dlfeval(helper_of_starred_parts, where_of_starred_parts, sct.dlarray(t))
    assert info.value.filename == __file__
    with pytest.raises(sct.CompileError, match=r"where with \*args or \*\*kwargs"):
        sct.jvp(where_of_starred_parts, t, np.ones(4))
    with pytest.raises(sct.CompileError, match=r"where with \*args or \*\*kwargs"):
        sct.jvp(where_of_starred_parts, t, np.ones(4), mode="transpose")


def transpose_with_constant_starred_axes(x):
    axes = [(1, 0)]
    return np.sum(np.transpose(np.outer(x, T0), *axes) * np.arange(16.0).reshape(4, 4))


def test_forward_mode_of_an_op_with_constant_starred_arguments_still_runs():
    # the starred items carry no derivative and follow the traced argument: bound as written
    _check_jvp(transpose_with_constant_starred_axes, X0, V0)


# --- an array method called with *parts: x.dot(*args) -----------------------------------------------
# (the starred list was bound as one argument and had no adjoint: t's gradient and jvp were silently
# zero; A.dot(*[x * t]) gave half the jvp; x.clip(*bounds) crashed in the reverse sweep)

def dot_method_of_starred_args(x, t):
    args = [t]
    return x.dot(*args) * 3


def reshape_method_of_constant_starred_shape(x, t):
    shape = (2, 2)
    return np.sum((x * t).reshape(*shape) * np.arange(4.0).reshape(2, 2)) + (x * t).item(*(1,))


def test_array_method_with_starred_traced_args_is_refused_not_zero():
    import pytest
    with pytest.raises(sct.CompileError, match=r"\.dot with \*args or \*\*kwargs"):
        check_two_inputs(dot_method_of_starred_args, X0.copy(), T0.copy())
    with pytest.raises(sct.CompileError, match=r"\.dot with \*args or \*\*kwargs"):
        sct.jvp(_of_t(dot_method_of_starred_args), T0.copy(), V0.copy())


def test_array_method_with_constant_starred_args_still_differentiates():
    check_two_inputs(reshape_method_of_constant_starred_shape, X0.copy(), T0.copy())
    _check_jvp(_of_t(reshape_method_of_constant_starred_shape), T0, V0)


# --- forward mode of a decomposition held in a name (its result a named tuple) ----------------------
# (the rule was differentiated at the zero marker of the EighResult: a TypeError inside the jvp)

def decompositions_held_in_names(x, t):
    eigh = np.linalg.eigh
    slogdet = np.linalg.slogdet
    A = np.outer(x, x) + np.diag(t ** 2 + np.arange(1.0, 5.0))
    w, V = eigh(A)
    sign, logdet = slogdet(A)
    return np.sum(w * np.arange(4.0)) + np.sum(V[:, 3] ** 4) + logdet


def test_decompositions_held_in_names():
    check_two_inputs(decompositions_held_in_names, X0.copy(), T0.copy())
    _check_jvp(_of_x(decompositions_held_in_names), X0, V0)
    _check_jvp(_of_t(decompositions_held_in_names), T0, V0)
