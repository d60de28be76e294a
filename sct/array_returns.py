"""Does a user's function, given arrays, return a new array or a number (read from its source)?
For the activity analysis (sct/analysis.py ``value_is_array``), which the aliasing analysis reads:
``t = helper(x).copy()`` of ``def helper(u): return u * 2.0`` is an array's copy, whose constant
slices are views of it.  Answers True only where the source shows it.
"""
from __future__ import annotations

import types

import gast
import numpy as np

from .runtime.origins import module_top
from .ir import walk_no_defs
from .parse import function_ast


def returns_arrays(fn, count: int, keywords=(), fdef=None, shadowed=frozenset()) -> bool:
    """Does every return of the plain function (or lambda) ``fn``, given ``count`` positional
    arguments and the ``keywords`` named, all arrays or numbers, give a new array or a number: arithmetic
    of its parameters and of numbers written out, numpy's ufuncs of them (``return u * 2.0``,
    ``lambda u: np.tanh(u)``)?  (was: a helper's result was no array to the compiler, so a view
    ``v = t[1:]`` of ``t = helper(x).copy()`` written into was refused as a change of x, fuzz52 R1)
    ``fdef``: the source of a def nested in ``fn`` (then ``fn`` gives the globals only; ``shadowed``: the
    names ``fn`` binds, which hide its globals).  A parameter not given must have a number written out
    as its default (was: ``hh(w, c=s)`` of ``def hh(u, c=0.5)`` was no array, fuzz53 R7)."""
    if fdef is None:
        if not isinstance(fn, types.FunctionType) or fn.__code__.co_flags & 0x2A0:
            return False                # (a generator or coroutine)
        try:
            fdef, _, _ = function_ast(fn)
        except Exception:
            return False
    elif not isinstance(getattr(fn, "__globals__", None), dict) or fdef.decorator_list:
        return False
    args = fdef.args
    positional = [a.id for a in list(getattr(args, "posonlyargs", None) or []) + list(args.args)]
    params = positional + [a.id for a in args.kwonlyargs]
    names = positional[:count] + list(keywords)
    defaults = dict(zip(positional[len(positional) - len(args.defaults):], args.defaults))
    defaults.update({a.id: d for a, d in zip(args.kwonlyargs, args.kw_defaults) if d is not None})
    if args.vararg is not None or args.kwarg is not None or count > len(positional) or \
            len(set(names)) != len(names) or not set(keywords) <= set(params) - set(positional[:count]) - \
            {a.id for a in getattr(args, "posonlyargs", None) or []} or \
            any(p not in names and not (isinstance(defaults.get(p), gast.Constant) and
                                        type(defaults[p].value) in (int, float, complex)) for p in params) or \
            not fdef.body or not isinstance(fdef.body[-1], gast.Return):
        return False                # (a body that may end without a return gives None)
    if any(isinstance(n, (gast.FunctionDef, gast.Lambda, gast.NamedExpr, gast.Yield, gast.YieldFrom, gast.Global,
                          gast.Nonlocal)) or isinstance(n, gast.Name) and n.id in params and
           not isinstance(n.ctx, gast.Load) for stmt in fdef.body for n in gast.walk(stmt)):
        return False                # (a parameter bound again)

    def array(e) -> bool:
        if isinstance(e, gast.Constant):
            return type(e.value) in (int, float, complex)
        if isinstance(e, gast.Name):
            return e.id in params
        if isinstance(e, gast.BinOp):
            return array(e.left) and array(e.right)
        if isinstance(e, gast.UnaryOp):
            return array(e.operand)
        if not isinstance(e, gast.Call):
            return False
        root = e.func
        while isinstance(root, gast.Attribute):
            root = root.value
        return not e.keywords and isinstance(numpy_function(fn, e.func), np.ufunc) and \
            not (isinstance(root, gast.Name) and (root.id in shadowed or root.id in params)) and \
            all(array(a) for a in e.args)
    returns = [n for n in walk_no_defs(fdef) if isinstance(n, gast.Return)]
    # (a parameter returned as it is is no new array: the caller's, its objects shared)
    return all(r.value is not None and not isinstance(r.value, gast.Name) and array(r.value) for r in returns)


def nested_def(fdef, name: str):
    """The def nested in ``fdef``'s own blocks that ``name`` is bound to and nothing else binds (None where
    there is none or more; callee_effects.local_def is this one, a def of the function's own blocks: not one
    nested in another def, which binds its name there)."""
    from .ir import store_counts
    a = fdef.args
    params = {p.id for p in a.posonlyargs + a.args + a.kwonlyargs} | \
        {p.id for p in (a.vararg, a.kwarg) if p is not None}
    if name in params or store_counts(fdef).get(name):
        return None
    mine = [st for n in walk_no_defs(fdef) for field in ("body", "orelse", "finalbody", "handlers")
            for st in (getattr(n, field, None) or []) if isinstance(st, gast.FunctionDef) and st.name == name]
    return mine[0] if len(mine) == 1 else None


def numpy_function(fn, f):
    """The numpy function or ufunc that ``f`` (``np.reshape``, read through a module) names in ``fn``,
    or None."""
    chain = []
    while isinstance(f, gast.Attribute):
        chain.append(f.attr)
        f = f.value
    if not isinstance(f, gast.Name) or not chain:
        return None
    value = fn.__globals__.get(f.id)
    for name in reversed(chain):
        if not isinstance(value, (types.ModuleType, np.ufunc)) and value is not None:
            return None
        value = getattr(value, name, None)
    return value if isinstance(value, np.ufunc) or module_top(value) == "numpy" else None
