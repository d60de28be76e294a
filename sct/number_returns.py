"""Does a user's function return a new number or array computed only from numbers, arrays and the items
of flat lists and dicts it is given (read from its source)?  For the aliasing analysis (sct/points_to.py
``_numbers_from``): such a result holds none of the lists and dicts, so a write into them after the call
changes nothing it holds.  Answers True only where the source shows it.
"""
from __future__ import annotations

import types

import gast

from .alias_state import VIEW_FUNCTIONS, VIEW_METHODS, WRITING_FUNCTIONS, may_not_copy
from .array_returns import numpy_function
from .callee_effects import _bindings, _pure, keeps_arguments, new_results_callee, one_new_result
from .ir import walk_no_defs
from .parse import function_ast

# array methods that, on a numeric array, give a new array or a number (never a view, never a list);
# ``astype`` only with its copy (``may_not_copy`` below)
_NEW_METHODS = frozenset(("sum", "mean", "prod", "max", "min", "std", "var", "dot", "copy", "astype", "clip",
                          "cumsum", "cumprod", "item", "round", "all", "any", "trace"))
# ... and those that may give a view of it, or the array itself (a value still holding numbers only), are the
# aliasing analysis' own list, alias_state.VIEW_METHODS (was a second list here, which had missed conj/conjugate:
# taken for new, of a real array the array itself: a write into the container after the call was missed, a
# wrong value, red3_53 W1).  No method is in both but astype.
assert _NEW_METHODS & VIEW_METHODS == {"astype"}


def returns_new_numbers(fn, given: dict) -> bool:
    """Does every return of the plain function ``fn`` give a new array or a number (see _new_returns)?"""
    found = _new_returns(fn, given)
    return found is not None and all(r.value is not None and found[0](r.value) for r in found[1])


def new_number_items(fn, given: dict) -> int:
    """The length n where every return of ``fn`` gives a tuple written out of n new arrays or numbers
    (``return a + b, a * b``; see _new_returns), no two of which may be one object (``v = u; return u, v``);
    else 0.  Unpacked (``h, c = cell(x, h, c)``), each is then a new array of its own, holding nothing (was: a
    value that may be any argument, so ``h[0] = 0.0`` was refused as a change of x, red55r F1)."""
    found = _new_returns(fn, given)
    if found is None:
        return 0
    new, returns, bindings = found
    lengths = {len(r.value.elts) if isinstance(r.value, gast.Tuple) else -1 for r in returns}
    if len(lengths) != 1 or min(lengths) < 1:
        return 0

    def names(e, seen) -> set:
        """The locals whose object ``e`` may be (through names bound to names, ``a if c else b``, ``a or b``)."""
        if isinstance(e, gast.Name):
            if e.id in seen:
                return set()
            seen.add(e.id)
            return {e.id}.union(*[names(b, seen) for b in bindings.get(e.id, ())])
        parts = [e.body, e.orelse] if isinstance(e, gast.IfExp) else e.values if isinstance(e, gast.BoolOp) else []
        return set().union(*[names(v, seen) for v in parts])
    for r in returns:
        if any(isinstance(e, gast.Starred) or not new(e) for e in r.value.elts):
            return 0
        met: set = set()
        for e in r.value.elts:
            these = names(e, set())
            if these & met:
                return 0
            met |= these
    return lengths.pop()


def _new_returns(fn, given: dict):
    """``(new, returns, bindings)``: whether an expression of the plain function ``fn`` gives a new array or a
    number (``new``), its returns, its locals' bindings, where the returns may give such values (else None),
    computed from numbers and arrays only, given ``given`` (each parameter's name -> "leaf": a number or a numeric
    array, or "flat": a list, tuple or dict whose items are numbers or numeric arrays, or "other": anything, read
    as no number)?  Its result
    then holds none of the lists and dicts it was given (``def helper(x, d): return np.sum(np.sin(x *
    d["c"]))``: was a value that may hold d, so a write into the caller's d after ``y = helper(x, d)``
    was refused as a change of y, red team 53h FR2).  Reads ``d["k"]``, ``d.get("k", v)`` of a flat
    one, arithmetic, comparisons, numpy's functions giving arrays, array methods, and locals bound
    only to such values; the function must change nothing in place (``_pure``) and keep nothing."""
    if not isinstance(fn, types.FunctionType) or fn.__code__.co_flags & 0x2A0:
        return None
    try:
        fdef, _, _ = function_ast(fn)
    except Exception:
        return None
    args = fdef.args
    params = [a.id for a in list(getattr(args, "posonlyargs", None) or []) + list(args.args)]
    if args.vararg is not None or args.kwarg is not None or args.kwonlyargs or set(params) != set(given) or \
            not fdef.body or not isinstance(fdef.body[-1], gast.Return):
        return None
    if any(isinstance(n, (gast.FunctionDef, gast.Lambda, gast.NamedExpr, gast.Yield, gast.YieldFrom, gast.Global,
                          gast.Nonlocal, gast.ListComp, gast.DictComp, gast.SetComp, gast.GeneratorExp))
           for stmt in fdef.body for n in gast.walk(stmt)):
        return None
    if not _pure(fn) or keeps_arguments(fn):
        return None
    bindings, others = _bindings(fdef)
    if any(p in bindings or p in others for p in params) or \
            any(isinstance(n, gast.AugAssign) and isinstance(n.target, gast.Name) and n.target.id in params
                for n in walk_no_defs(fdef)):
        return None                 # (a parameter bound again)
    leaves = {p for p, k in given.items() if k == "leaf"}
    flats = {p for p, k in given.items() if k == "flat"}
    numeric = set(leaves)           # locals bound only to numbers and arrays (found below)
    fresh = set()                   # ... and to new ones only

    def number(e) -> bool:
        """A number (or a string, None) or a numeric array, holding no list or dict."""
        if isinstance(e, gast.Constant):
            return type(e.value) in (int, float, complex, bool, str) or e.value is None
        if isinstance(e, gast.Name):
            return e.id in numeric
        if isinstance(e, gast.Subscript):
            if isinstance(e.value, gast.Name) and e.value.id in flats:
                # an item of a flat list or dict: a number or an array (a slice would be a new list)
                return not isinstance(e.slice, gast.Slice) and not (
                    isinstance(e.slice, gast.Tuple) and any(isinstance(i, gast.Slice) for i in e.slice.elts)) and \
                    all(number(i) for i in gast.walk(e.slice) if isinstance(i, gast.Name))
            return number(e.value)
        if isinstance(e, gast.Attribute):
            return e.attr in ("T", "mT", "real", "imag") and number(e.value)
        if isinstance(e, (gast.BinOp, gast.UnaryOp, gast.Compare, gast.IfExp, gast.BoolOp)):
            return new(e)
        return isinstance(e, gast.Call) and (new(e) or viewing(e) or item_get(e))

    def arguments(e) -> bool:
        return all(number(a) for a in e.args) and all(k.arg != "out" and number(k.value) for k in e.keywords)

    def viewing(e) -> bool:
        f = e.func
        if isinstance(f, gast.Attribute) and f.attr in VIEW_METHODS:
            return number(f.value) and arguments(e)
        value = numpy_function(fn, f)
        return value is not None and getattr(value, "__name__", "") in VIEW_FUNCTIONS and \
            getattr(value, "__name__", "") not in ("split", "array_split", "hsplit", "vsplit", "dsplit", "unstack",
                                                   "broadcast_arrays", "min", "max", "iter", "next", "getattr",
                                                   "vars", "reversed") and arguments(e)

    def new(e) -> bool:
        """A new array, or a number, computed from numbers and arrays."""
        if isinstance(e, gast.Constant):
            return number(e)
        if isinstance(e, gast.Name):
            return e.id in fresh
        if isinstance(e, gast.BinOp):
            return number(e.left) and number(e.right)
        if isinstance(e, gast.UnaryOp):
            return number(e.operand)
        if isinstance(e, gast.Compare):
            return number(e.left) and all(number(c) for c in e.comparators)
        if isinstance(e, gast.IfExp):
            return new(e.body) and new(e.orelse)
        if isinstance(e, gast.BoolOp):
            return all(new(v) for v in e.values)
        if not isinstance(e, gast.Call) or any(isinstance(a, gast.Starred) for a in e.args):
            return False
        f = e.func
        declared = new_results_callee(fn, f)
        if declared is not None and one_new_result(declared, e):
            # (one of sct's functions declared to return a new array for every argument form, runtime/registry.py
            # new_results: ``return mse(fullyconnect(x, p["W"], p["b"]), t)`` holds nothing of p, whatever x and t
            # are; was: a value that may hold p, so ``p[k] = p[k] - lr * g[k]`` after ``loss = lossf(p)`` was
            # refused as a change of loss, red55u F1)
            return True
        if isinstance(f, gast.Name) and f.id in ("float", "int", "complex", "abs", "len", "round") and \
                f.id not in fn.__code__.co_varnames and f.id not in fn.__globals__:
            return arguments(e)
        if isinstance(f, gast.Attribute) and isinstance(f.value, gast.Name) and f.value.id in flats and \
                f.attr == "get":
            return False            # (d.get(k): an item, no new value; read by number())
        if may_not_copy(e):
            return False            # (copy=None/False: may be the array given, red3_53 W2)
        if isinstance(f, gast.Attribute) and f.attr in _NEW_METHODS and number(f.value):
            return arguments(e) and not (f.attr == "astype" and len(e.args) > 1)   # (astype's positional copy)
        value = numpy_function(fn, f)
        if value is None or isinstance(f, gast.Name):
            return False
        from .analysis import returns_array
        name = getattr(value, "__name__", "")
        return name not in VIEW_FUNCTIONS and name not in WRITING_FUNCTIONS and returns_array(value) and \
            arguments(e)

    def item_get(e) -> bool:
        f = e.func if isinstance(e, gast.Call) else None
        return isinstance(f, gast.Attribute) and isinstance(f.value, gast.Name) and f.value.id in flats and \
            f.attr == "get" and not e.keywords and 1 <= len(e.args) <= 2 and all(number(a) for a in e.args)

    locals_ = [n for n in bindings if n not in others and n not in params]
    for _ in range(len(locals_) + 1):         # (a fixed point: a local read by another's binding)
        changed = False
        for n in locals_:
            if n not in numeric and all(number(v) for v in bindings[n]):
                numeric.add(n)
                changed = True
            if n not in fresh and all(new(v) for v in bindings[n]):
                fresh.add(n)
                changed = True
        if not changed:
            break
    augmented = {n.target.id for n in walk_no_defs(fdef) if isinstance(n, gast.AugAssign) and
                 isinstance(n.target, gast.Name)}
    if any(n in numeric and not all(number(a.value) for a in walk_no_defs(fdef) if isinstance(a, gast.AugAssign)
                                    and isinstance(a.target, gast.Name) and a.target.id == n) for n in augmented):
        return None                 # (``s += L``: s may become a list)
    returns = [n for n in walk_no_defs(fdef) if isinstance(n, gast.Return)]
    if any(r.value is None for r in returns):
        return None
    return new, returns, bindings
