"""``collections.OrderedDict(...)`` built inside a differentiated function (a PyTorch-style state dict
of parameters): ``OrderedDict(pairs)``, ``OrderedDict(mapping)``, ``OrderedDict()``,
``OrderedDict(W=W, b=b)``, ``OrderedDict(zip(ks, vs))`` become ``rt.ordered_dict(dict(...))`` (the same
keys in the same order and the same values as Python's, for any arguments; where ``dict`` is not the
builtin, ``rt.ordered_dict(...)`` of one mapping or pairs, the keywords as a dict display), a call sct
differentiates as ``dict(...)`` (the same rule; sct/points_to.py follows its items as a dict's), whose
value is Python's OrderedDict.  Where ``OrderedDict`` is a name of the function (a
parameter, a local) or not ``collections.OrderedDict``, or the call mixes positional and keyword
arguments, it is left as it was (refused: no derivative rule).  The names read are returned, to be
guarded as the code's own reads (rebinding them recompiles)."""
from __future__ import annotations

import builtins
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
    spaces = fn.__globals__.get("__builtins__", builtins)
    found = spaces.get("dict") if isinstance(spaces, dict) else getattr(spaces, "dict", None)
    plain_dict = "dict" not in bound and "dict" not in fn.__code__.co_freevars and "dict" not in fn.__globals__ and \
        found is builtins.dict
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
        if plain_dict:
            # OrderedDict(x) is OrderedDict(dict(x)): the same keys in the same order, the same values, for any
            # arguments; dict(...) then as sct reads it wherever it stands (zip, generators, keywords)
            node.args = [gast.Call(func=gast.Name(id="dict", ctx=gast.Load(), annotation=None, type_comment=None),
                                   args=node.args, keywords=node.keywords)]
            gast.copy_location(node.args[0], node)
            gast.copy_location(node.args[0].func, node)
            node.keywords = []
        elif any(isinstance(a, gast.Starred) for a in node.args) or any(k.arg is None for k in node.keywords) or \
                len(node.args) > 1 or node.args and node.keywords:
            continue
        if node.keywords:
            node.args = [gast.Dict(keys=[gast.Constant(value=k.arg, kind=None) for k in node.keywords],
                                   values=[k.value for k in node.keywords])]
            node.keywords = []
        node.func = dotted(f"{rt_name}.ordered_dict")
        gast.copy_location(node.func, node)
        read.append(how)
    if plain_dict and read:
        read.append(("name", "dict"))
    return read
