"""Missing data in a nan* reduction's argument: ``np.nanmean((pred - y) ** 2)`` with NaN in ``y``.

numpy skips the NaN entries, so the program's derivative through them is 0; the reduction's rule gives
them a zero adjoint, but the chain rule then multiplied it by the partial of ``** 2`` there, NaN (0 * nan:
refused as a NaN gradient; was: corp52 FR5).  The argument, when it is arithmetic that propagates a NaN
(+ - * /, ** a nonzero number, unary -, numpy's elementwise functions below) of names (and of any other
expressions, left as they are), is rewritten as

    rt.nan_at(rt.nan_entries(a, b, ...), <the argument with each name x as rt.nan_filled(x)>)

the names' NaN entries filled with 1 (finite partials), and NaN put back wherever any name was NaN: the
argument's value is the same (a NaN in a name makes the entries it reaches NaN), its adjoint there a zero
times a finite partial (a traced name's own NaN entries get 0, as np.nanstd(x) of such an x gives and
central differences agree: x + h is NaN there too).  Where the filled argument is not finite at the
entries put back to NaN (np.sqrt of a negative), a NaN gradient is refused naming the reduction.
"""
from __future__ import annotations

import gast
import numpy as np

from .ir import call, const, load, walk_no_defs

#: the nan* reductions whose rules give NaN entries a zero adjoint (runtime/numpy_ops.py, more_ops.py)
NAN_REDUCTIONS = (np.nansum, np.nanmean, np.nanmax, np.nanmin, np.nanprod, np.nanvar, np.nanstd,
                  np.nancumsum, np.nancumprod)

#: numpy functions of one argument that are NaN wherever their argument is
_PROPAGATING = (np.exp, np.log, np.sqrt, np.abs, np.square, np.sin, np.cos, np.tan, np.tanh, np.sinh,
                np.cosh, np.log1p, np.expm1, np.log2, np.log10, np.exp2, np.negative, np.positive,
                np.reciprocal, np.arctan, np.conj, np.conjugate, np.cbrt)

_ARITHMETIC = (gast.Add, gast.Sub, gast.Mult, gast.Div)


def _leaves(node, numpy_function, names) -> list:
    """The Name nodes of ``node`` reached through NaN-propagating operations only (their NaN makes the
    entries of ``node`` they reach NaN), appended to ``names``."""
    cls = node.__class__
    if cls is gast.Name and isinstance(node.ctx, gast.Load):
        names.append(node)
    elif cls is gast.BinOp and isinstance(node.op, _ARITHMETIC):
        _leaves(node.left, numpy_function, names)
        _leaves(node.right, numpy_function, names)
    elif cls is gast.BinOp and isinstance(node.op, gast.Pow) and node.right.__class__ is gast.Constant and \
            type(node.right.value) in (int, float) and node.right.value != 0:
        _leaves(node.left, numpy_function, names)           # (nan ** 0 and 1 ** nan are 1)
    elif cls is gast.UnaryOp and isinstance(node.op, (gast.USub, gast.UAdd)):
        _leaves(node.operand, numpy_function, names)
    elif cls is gast.Call and len(node.args) == 1 and not node.keywords and \
            node.args[0].__class__ is not gast.Starred and any(numpy_function(node.func) is f for f in _PROPAGATING):
        _leaves(node.args[0], numpy_function, names)
    return names


def _filled(node, leaves, rt_name):
    """``node`` with each Name node of ``leaves`` as ``rt.nan_filled(name)``."""
    ids = {id(n) for n in leaves}
    for n in list(walk_no_defs(node)):
        for field in ("left", "right", "operand"):
            child = getattr(n, field, None)
            if child is not None and id(child) in ids:
                setattr(n, field, call(f"{rt_name}.nan_filled", [child]))
        if n.__class__ is gast.Call:
            n.args = [call(f"{rt_name}.nan_filled", [a]) if id(a) in ids else a for a in n.args]
    if id(node) in ids:
        return call(f"{rt_name}.nan_filled", [node])
    return node


def nan_reduction_leaves(body, numpy_function, rt_name) -> None:
    """Rewrite, in place, the first argument of each nan* reduction in ``body`` as the module says."""
    found = [n for st in body for n in walk_no_defs(st)
             if n.__class__ is gast.Call and n.args and n.args[0].__class__ is not gast.Starred and
             any(numpy_function(n.func) is f for f in NAN_REDUCTIONS)]
    for n in found:
        op = next(f"np.{f.__name__}" for f in NAN_REDUCTIONS if numpy_function(n.func) is f)
        leaves = _leaves(n.args[0], numpy_function, [])
        if not leaves:
            continue
        mask = call(f"{rt_name}.nan_entries", [load(leaf.id) for leaf in leaves])
        n.args[0] = call(f"{rt_name}.nan_at", [mask, _filled(n.args[0], leaves, rt_name), const(op)])
