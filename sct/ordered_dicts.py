"""``collections.OrderedDict(...)`` built inside a differentiated function (a PyTorch-style state dict
of parameters): ``OrderedDict(pairs)``, ``OrderedDict(mapping)``, ``OrderedDict()``,
``OrderedDict(W=W, b=b)`` become ``rt.ordered_dict(...)`` (the keywords as a dict display, in their
order), a call sct differentiates as ``dict(...)`` (the same rule; sct/points_to.py follows its items
as a dict's), whose value is Python's OrderedDict.  Where ``OrderedDict`` is a name of the function (a
parameter, a local) or not ``collections.OrderedDict``, or the call mixes positional and keyword
arguments, it is left as it was (refused: no derivative rule).  The names read are returned, to be
guarded as the code's own reads (rebinding them recompiles)."""
from __future__ import annotations

import collections
import types
from typing import List, Tuple

import gast

from .ir import dotted, walk_no_defs


def _resolved(fn, name: str):
    code = fn.__code__
    if name in code.co_varnames or name in code.co_cellvars:
        return None
    if name in code.co_freevars:
        cell = dict(zip(code.co_freevars, fn.__closure__ or ())).get(name)
        try:
            return cell.cell_contents if cell is not None else None
        except ValueError:
            return None
    if name in fn.__globals__:
        return fn.__globals__[name]
    return None


def rewrite_ordered_dicts(fn, fdef, rt_name: str) -> List[Tuple]:
    """Each call of ``collections.OrderedDict`` in ``fdef`` written as ``rt.ordered_dict``; what was
    read to tell so: ``("name", n)`` or ``("attribute", module, "OrderedDict")``."""
    if not isinstance(fn, types.FunctionType) or not any(
            isinstance(n, gast.Name) and n.id == "OrderedDict" or isinstance(n, gast.Attribute) and
            n.attr == "OrderedDict" for n in gast.walk(fdef)):
        return []
    bound = {n.id for n in gast.walk(fdef) if isinstance(n, gast.Name) and not isinstance(n.ctx, gast.Load)}
    read: List[Tuple] = []
    for node in walk_no_defs(fdef):             # (a nested def's own code runs as written)
        if not isinstance(node, gast.Call):
            continue
        func = node.func
        if isinstance(func, gast.Name) and func.id not in bound and _resolved(fn, func.id) is collections.OrderedDict:
            how = ("name", func.id)
        elif isinstance(func, gast.Attribute) and func.attr == "OrderedDict" and isinstance(func.value, gast.Name) and \
                func.value.id not in bound and _resolved(fn, func.value.id) is collections:
            how = ("attribute", func.value.id)
        else:
            continue
        if any(isinstance(a, gast.Starred) for a in node.args) or any(k.arg is None for k in node.keywords) or \
                len(node.args) > 1 or node.args and node.keywords:
            continue
        if node.keywords:
            node.args = [gast.Dict(keys=[gast.Constant(value=k.arg, kind=None) for k in node.keywords],
                                   values=[k.value for k in node.keywords])]
            node.keywords = []
        node.func = dotted(f"{rt_name}.ordered_dict")
        gast.copy_location(node.func, node)
        read.append(how)
    return read
