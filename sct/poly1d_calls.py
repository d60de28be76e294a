"""``np.poly1d(c)(x)``: the polynomial made and called in one expression, as ``rt.poly1d_at(c, x)``.

np.poly1d's constructor stores its coefficients with ``self.__dict__.update`` (library code sct does not
differentiate: was refused for a traced ``c``, corp52 FR2); its call is ``np.polyval(self.coeffs, x)``.
rt.poly1d_at runs numpy's own construction and call (the same value), with np.polyval's derivative.
"""
from __future__ import annotations

import gast
import numpy as np

from .ir import call, walk_no_defs


def poly1d_calls(body, numpy_function, rt_name) -> None:
    """Rewrite, in place, each ``np.poly1d(c)(x)`` in ``body`` (one argument each, no keywords)."""
    for n in [n for st in body for n in walk_no_defs(st)]:
        inner = n.func if n.__class__ is gast.Call else None
        if inner is None or inner.__class__ is not gast.Call or len(n.args) != 1 or n.keywords or \
                len(inner.args) != 1 or inner.keywords or \
                any(a.__class__ is gast.Starred for a in n.args + inner.args) or \
                numpy_function(inner.func) is not np.poly1d:
            continue
        new = call(f"{rt_name}.poly1d_at", [inner.args[0], n.args[0]])
        n.func, n.args = new.func, new.args
