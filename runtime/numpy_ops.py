"""Derivative rules of Python's operators and numpy's functions.

Every rule is written in registered ops only (see ``registry``), with the
complex convention of MATLAB: holomorphic partials appear conjugated.
"""
from __future__ import annotations

import operator

import numpy as np

from .registry import ATTRIBUTES, METHODS, defrule, nondifferentiable
from .support import unbroadcast

# --- operators ---------------------------------------------------------------------


@defrule(operator.add, np.add, wrt=("a", "b"))
def add(g, ans, a, b):
    return unbroadcast(g, a), unbroadcast(g, b)


@defrule(operator.sub, np.subtract, wrt=("a", "b"))
def subtract(g, ans, a, b):
    return unbroadcast(g, a), unbroadcast(-g, b)


@defrule(operator.mul, np.multiply, wrt=("a", "b"))
def multiply(g, ans, a, b):
    return unbroadcast(g * np.conj(b), a), unbroadcast(g * np.conj(a), b)


@defrule(operator.truediv, np.divide, np.true_divide, wrt=("a", "b"))
def divide(g, ans, a, b):
    return unbroadcast(g / np.conj(b), a), unbroadcast(-g * np.conj(ans / b), b)


@defrule(operator.neg, np.negative)
def negative(g, ans, a):
    return -g


@defrule(operator.pos, np.positive)
def positive(g, ans, a):
    return g


@defrule(operator.pow, np.power, wrt=("a", "b"))
def power(g, ans, a, b):
    return (unbroadcast(g * np.conj(b * a ** (b - 1)), a),
            unbroadcast(g * np.conj(ans * np.log(np.where(a == 0, 1, a))), b))


@defrule(operator.matmul, np.matmul, wrt=("a", "b"))
def matmul(g, ans, a, b):
    return matmul_adjoint_a(g, a, b), matmul_adjoint_b(g, a, b)


def matmul_adjoint_a(g, a, b):
    """The adjoint of ``a`` in ``a @ b`` for every rank numpy's matmul accepts."""
    if np.ndim(b) == 1:
        if np.ndim(a) == 1:
            return g * np.conj(b)
        return unbroadcast(np.expand_dims(g, -1) * np.conj(b), a)
    if np.ndim(a) == 1:
        return unbroadcast(np.conj(b) @ np.expand_dims(g, -1), np.expand_dims(a, -1))[..., 0] \
            if np.ndim(b) > 2 else np.conj(b) @ g
    return unbroadcast(g @ np.conj(np.swapaxes(b, -1, -2)), a)


def matmul_adjoint_b(g, a, b):
    """The adjoint of ``b`` in ``a @ b``."""
    if np.ndim(a) == 1:
        if np.ndim(b) == 1:
            return g * np.conj(a)
        return unbroadcast(np.expand_dims(np.conj(a), -1) * np.expand_dims(g, -2), b)
    if np.ndim(b) == 1:
        return unbroadcast(np.conj(np.swapaxes(a, -1, -2)) @ np.expand_dims(g, -1), np.expand_dims(b, -1))[..., 0] \
            if np.ndim(a) > 2 else np.conj(a).T @ g
    return unbroadcast(np.conj(np.swapaxes(a, -1, -2)) @ g, b)


# --- elementwise functions ------------------------------------------------------------


@defrule(np.sin)
def sin(g, ans, x):
    return g * np.conj(np.cos(x))


@defrule(np.cos)
def cos(g, ans, x):
    return -g * np.conj(np.sin(x))


@defrule(np.exp)
def exp(g, ans, x):
    return g * np.conj(ans)


@defrule(np.log)
def log(g, ans, x):
    return g / np.conj(x)


@defrule(np.sqrt)
def sqrt(g, ans, x):
    return g / np.conj(2 * ans)


@defrule(np.tanh)
def tanh(g, ans, x):
    return g * np.conj(1 - ans ** 2)


@defrule(np.conj, np.conjugate)
def conj(g, ans, x):
    return np.conj(g)


@defrule(np.real)
def real(g, ans, val):
    return np.real(g)


@defrule(np.imag)
def imag(g, ans, val):
    return 1j * np.real(g)


@defrule(np.abs, np.absolute, abs)
def absolute(g, ans, x):
    return g * x / np.where(ans == 0, 1, ans)


# --- reductions ---------------------------------------------------------------------------


@defrule(np.sum)
def sum(g, ans, a, axis=None, dtype=None, out=None, keepdims=False):
    return reduction_broadcast(g, a, axis, keepdims)


def reduction_broadcast(grad, a, axis, keepdims):
    """Broadcast the adjoint of a reduction over ``axis`` back to the shape of ``a``."""
    if not keepdims and axis is not None:
        grad = np.expand_dims(grad, axis)
    return np.broadcast_to(grad, np.shape(a))


def reduction_sum(grad, like, axis, keepdims):
    """Sum ``grad`` over ``axis`` to the shape of ``like`` (the adjoint of reduction_broadcast)."""
    return np.reshape(np.sum(grad, axis=axis, keepdims=keepdims), np.shape(like))


@defrule(reduction_broadcast, wrt=("grad",))
def _reduction_broadcast_rule(g, ans, grad, a, axis, keepdims):
    return reduction_sum(g, grad, axis, keepdims)


@defrule(reduction_sum, wrt=("grad",))
def _reduction_sum_rule(g, ans, grad, like, axis, keepdims):
    return reduction_broadcast(g, grad, axis, keepdims)


# --- shape ------------------------------------------------------------------------------------


@defrule(np.transpose)
def transpose(g, ans, a, axes=None):
    return np.transpose(g, None if axes is None else np.argsort(axes))


@defrule(np.reshape)
def reshape(g, ans, a, shape=None, order="C"):
    return np.reshape(g, np.shape(a))


@defrule(np.expand_dims)
def expand_dims(g, ans, a, axis):
    return np.reshape(g, np.shape(a))


@defrule(np.broadcast_to)
def broadcast_to(g, ans, array, shape, subok=False):
    return unbroadcast(g, array)


@defrule(np.swapaxes)
def swapaxes(g, ans, a, axis1, axis2):
    return np.swapaxes(g, axis1, axis2)


@defrule(np.where, wrt=("x", "y"))
def where(g, ans, condition, x, y):
    return unbroadcast(np.where(condition, g, 0), x), unbroadcast(np.where(condition, 0, g), y)


@defrule(operator.getitem, wrt=("a",))
def getitem(g, ans, a, b):
    return index_adjoint(g, a, b)


from .support import index_adjoint  # noqa: E402

nondifferentiable(
    operator.lt, operator.le, operator.gt, operator.ge, operator.eq, operator.ne,
    operator.not_, operator.floordiv, operator.mod,
    np.less, np.less_equal, np.greater, np.greater_equal, np.equal, np.not_equal,
    np.shape, np.ndim, np.size, len, np.zeros, np.ones, np.zeros_like, np.ones_like,
    np.empty, np.eye, np.arange, np.linspace, np.sign, np.floor, np.ceil, np.round,
    np.argmax, np.argmin, np.isnan, np.isfinite, np.isinf, np.logical_and,
    np.logical_or, np.logical_not, np.any, np.all, int, bool, range, isinstance,
    np.argsort, np.random.rand, np.random.randn,
)

METHODS.update({
    "sum": np.sum, "transpose": np.transpose, "reshape": np.reshape,
    "conj": np.conj, "conjugate": np.conj,
})
ATTRIBUTES.update({"T": np.transpose, "real": np.real, "imag": np.imag})
