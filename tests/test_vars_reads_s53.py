"""A field written with a traced value, then read through ``vars(o)`` / ``o.__dict__`` in the function's own
code (red53u W1, W1b), and a frozen dataclass layer with a callable field (red53u C1).

W1: the optimiser (sct/optimize.py ZeroFacts.fields) took ``rt.attribute_adjoint(g, c, '__dict__')`` for an
adjoint holding one field named "__dict__", so at the write ``c.h = v`` the field's adjoint
``rt.getattr_or_zero(d_c, 'h')`` was taken for the zero marker and the write's adjoint removed: the derivative
through the written field was dropped (dL/dW = 2W where [1.575, -1.236, 1.750, 3.129]).  W1b: the same, with
``rt.drop_attribute`` kept, so the new field's derivative went to the value the field held before (the
constructor's W).  C1: ``Reads.__init__`` (sct/outside_reads.py) rebound its list of the arguments' classes in
its loop over closure cells: a bare TypeError.  Every case: value against plain Python, gradient against
central differences of the plain program.
"""
import dataclasses
import types
import typing

import numpy as np

from sct import dlaccelerate, dlarray, dlfeval, dlgradient

W0 = np.array([[0.5, -1.0], [0.3, 0.8]])
X0 = np.array([[1.0, 2.0]])


def fd(f, w, h=1e-6):
    g = np.zeros(w.size)
    for j in range(w.size):
        a = w.copy().ravel()
        b = w.copy().ravel()
        a[j] += h
        b[j] -= h
        g[j] = (f(a.reshape(w.shape)) - f(b.reshape(w.shape))) / (2 * h)
    return g.reshape(w.shape)


def D(v):
    return np.asarray(v.data if isinstance(v, dlarray) else v, dtype=float)


class Cell:
    def __init__(self, W):
        self.W = W
        self.h = None

    def step(self, x):
        self.h = np.tanh(x @ self.W)
        return self.h


def set_h(c, x):
    c.h = np.tanh(x @ c.W)


# --- the dlfeval functions: each reads the written field through vars()/__dict__ -------------------

def loss_items_after_method(c, x):
    c.step(x)
    s = 0.0
    for k, v in vars(c).items():
        s = s + np.sum(v ** 2)
    return s, dlgradient(s, c.W)


def loss_values_direct_write(c, x):
    c.h = np.tanh(x @ c.W)
    s = 0.0
    for v in vars(c).values():
        s = s + np.sum(v ** 2)
    return s, dlgradient(s, c.W)


def loss_dict_index(c, x):
    c.h = np.tanh(x @ c.W)
    s = np.sum(c.__dict__["h"] ** 2) + np.sum(vars(c)["W"] ** 2)
    return s, dlgradient(s, c.W)


def loss_vars_get(c, x):
    c.step(x)
    s = np.sum(vars(c).get("h") ** 2) + np.sum(c.__dict__.get("W") ** 2)
    return s, dlgradient(s, c.W)


def loss_dict_copy(c, x):
    c.step(x)
    d = dict(vars(c))
    snap = {**c.__dict__}
    s = np.sum(d["h"] ** 2) + np.sum(snap["h"] * d["W"][0])
    return s, dlgradient(s, c.W)


def loss_getattr_dict(c, x):
    c.step(x)
    s = sum(np.sum(v ** 2) for k, v in getattr(c, "__dict__").items())
    return s, dlgradient(s, c.W)


def loss_helper_write(c, x):
    set_h(c, x)
    s = sum(np.sum(v ** 2) for v in vars(c).values())
    return s, dlgradient(s, c.W)


def loss_built_here(W, x):
    c = Cell(W)
    c.step(x)
    s = sum(np.sum(v ** 2) for v in vars(c).values())
    return s, dlgradient(s, W)


def loss_loop(c, x):
    s = 0.0
    for t in range(3):
        c.h = np.tanh(x @ c.W + t * 0.1)
        for k, v in c.__dict__.items():
            s = s + np.sum(np.sin(v))
    return s, dlgradient(s, c.W)


def loss_namespace(ns, W, x):
    ns.h = np.tanh(x @ W)
    s = sum(np.sum(v ** 2) for v in vars(ns).values())
    return s, dlgradient(s, W)


def loss_stack(c, x):
    c.step(x)
    s = np.sum(np.stack(list(vars(c).values())[1:]) ** 2)
    return s, dlgradient(s, c.W)


# --- plain Python of each, for the values and the central differences ------------------------------

def _walk(c):
    return sum(np.sum(v ** 2) for v in vars(c).values())


def plain_walk(W, x=X0):
    c = Cell(W)
    c.step(x)
    return _walk(c)


def plain_dict_copy(W, x=X0):
    c = Cell(W)
    c.step(x)
    return np.sum(c.h ** 2) + np.sum(c.h * W[0])


def plain_loop(W, x=X0):
    c = Cell(W)
    s = 0.0
    for t in range(3):
        c.h = np.tanh(x @ c.W + t * 0.1)
        s = s + np.sum(np.sin(c.W)) + np.sum(np.sin(c.h))
    return s


def plain_h_only(W, x=X0):
    return np.sum(np.tanh(x @ W) ** 2)


def _check(fun, args, plain):
    L, g = dlfeval(fun, *args)
    assert np.isclose(float(D(L)), plain(W0))
    assert np.allclose(D(g), fd(plain, W0), atol=1e-6), (D(g), fd(plain, W0))


def test_items_walk_after_a_method_write():
    """Was dL/dW = [1, -2, 0.6, 1.6] (2W: the derivative through the written h dropped)."""
    _check(loss_items_after_method, (Cell(dlarray(W0)), X0), plain_walk)
    assert np.allclose(fd(plain_walk, W0).ravel(), [1.57508, -1.23569, 1.75016, 3.12861], atol=1e-5)


def test_values_walk_after_a_direct_write():
    _check(loss_values_direct_write, (Cell(dlarray(W0)), X0), plain_walk)


def test_dict_index_and_vars_index():
    _check(loss_dict_index, (Cell(dlarray(W0)), X0), plain_walk)


def test_vars_get():
    _check(loss_vars_get, (Cell(dlarray(W0)), X0), plain_walk)


def test_dict_of_vars_and_unpacked_copy():
    _check(loss_dict_copy, (Cell(dlarray(W0)), X0), plain_dict_copy)


def test_getattr_dunder_dict():
    _check(loss_getattr_dict, (Cell(dlarray(W0)), X0), plain_walk)


def test_object_built_in_the_function():
    _check(loss_built_here, (dlarray(W0), X0), plain_walk)


def test_written_in_a_loop_walked_each_time():
    """Was 6W-like: each step's write lost."""
    _check(loss_loop, (Cell(dlarray(W0)), X0), plain_loop)


def test_simple_namespace_argument():
    """Was dL/dW = 0."""
    _check(loss_namespace, (types.SimpleNamespace(), dlarray(W0), X0), plain_h_only)


def test_stack_of_the_fields():
    """Was dL/dW = 0."""
    _check(loss_stack, (Cell(dlarray(W0)), X0), plain_h_only)


def test_helper_write_under_dlaccelerate():
    """The write made by a module-level helper, the function accelerated: each call exact."""
    acc = dlaccelerate(loss_helper_write)
    for scale in (1.0, 1.0, 0.5):
        x = X0 * scale
        L, g = dlfeval(acc, Cell(dlarray(W0)), x)
        assert np.isclose(float(D(L)), plain_walk(W0, x))
        assert np.allclose(D(g), fd(lambda w: plain_walk(w, x), W0), atol=1e-6)


@dataclasses.dataclass
class DC:
    A: typing.Any
    B: typing.Any


def loss_dataclass_rebound(W, x):
    m = DC(W, W)
    m.B = np.tanh(x @ W)
    L = np.sum(vars(m)["B"] ** 2)
    return L, dlgradient(L, W)


def test_dataclass_field_rebound_then_read_through_vars():
    """W1b: was [1.601, 1.074, 1.601, 1.074] (the new B's cotangent credited to the constructor's B = W)."""
    _check(loss_dataclass_rebound, (dlarray(W0), X0), plain_h_only)


def loss_no_write(c, x):
    s = sum(np.sum(np.sin(v)) for v in vars(c).values() if v is not None)
    return s, dlgradient(s, c.W)


def test_vars_walk_without_a_write_still_exact():
    _check(loss_no_write, (Cell(dlarray(W0)), X0), lambda W: np.sum(np.sin(W)))


# --- C1: a frozen dataclass layer with a callable field ---------------------------------------------

@dataclasses.dataclass(frozen=True)
class Lin:
    W: object
    act: object = np.tanh

    def __call__(self, x):
        return self.act(x @ self.W)


def loss_frozen_layer(m, x):
    L = np.sum(m(x) ** 2)
    return L, dlgradient(L, m)


def test_frozen_dataclass_layer_with_a_ufunc_field():
    """C1: was a bare TypeError ('type' object is not iterable) from sct/outside_reads.py."""
    Wf = np.array([[0.5, -1.0], [2.0, 0.3]])
    L, g = dlfeval(loss_frozen_layer, Lin(dlarray(Wf)), X0)
    plain = lambda w: np.sum(np.tanh(X0 @ w) ** 2)
    assert np.isclose(float(D(L)), plain(Wf))
    assert isinstance(g, Lin)
    assert np.allclose(D(g.W), fd(plain, Wf), atol=1e-6)
