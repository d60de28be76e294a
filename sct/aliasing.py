"""Aliasing and in-place writes: Python's meaning, or a clear refusal (SPEC semantic 11).

Differentiated code gives writes value semantics: ``z[i] = v`` on a traced
``z`` becomes ``z = rt.setitem(z, i, v)``, a new array.  That is exact only
when nothing else can see the old object: no other name that is read later, no
container or view holding it, not an argument the caller holds.  And a write
that stays in place (into plain data) must not change a value an adjoint reads
later (PyTorch's version counters raise there).

``AliasAnalysis`` is a flow-sensitive points-to analysis over the normalized
function.  Objects are allocation sites (with the recency abstraction: the
object a site made last, and all older ones), each argument, and one object
for everything else (globals, what arguments contain, what unknown calls
return).  Views (``x[1:]``, ``x.T``, ``x.reshape(...)``) count as the object
itself.  With liveness, a write into ``n`` is *unshared* when every object
``n`` may hold was made by this function and no other live name, no container
or view reachable from one, and no callee can reach it.

``lower_mutations`` rewrites the in-place operations sct models exactly
(``z.sort()``, ``z.fill(c)``, ``xs.reverse()``, ``xs.extend(t)``,
``ufunc(..., out=z)``, ``np.copyto(z, v)``, ``np.add.at(z, i, v)``, ``np.fill_diagonal(z, v)``)
into new values of an unshared ``z``; ``check_writes`` refuses every write it cannot
prove exact, and names the writes that must become new values because an
adjoint reads the old one.

The pass in modules, from the bottom: ``alias_state`` (the abstract objects, the
copy-on-write states and the name tables), ``callee_effects`` (what a user's
function does to its arguments and whether it returns new values, read from its
source), ``points_to`` (``AliasAnalysis``: the states before every statement,
liveness, and the questions), ``augmented_writes`` (``t op= v`` and the run-time
number guards, ``inplace_updates``), ``write_checks`` (``check_writes``) and this
module (``lower_mutations``; the names other modules import from here).
"""
from __future__ import annotations

import copy
from typing import List, Optional

import gast
import numpy as np

from .runtime import registry

from .alias_state import (ARRAY_MUTATORS, EXT, MUTATORS, VIEW_FUNCTIONS, WRITING_FUNCTIONS, State, _Map,
                          _mutating_call, _resolved)
from .augmented_writes import inplace_updates
from .callee_effects import _generated_dataclass_init, changes_arguments
from .ir import assign, call, const, load
from .points_to import AliasAnalysis, read_only_view, written_in_place
from .write_checks import _bound_to_none_only, check_writes

# what other modules import from here (the pass's face; the parts live in the modules above)
__all__ = ["lower_mutations", "check_writes", "inplace_updates", "changes_arguments",
           "_generated_dataclass_init", "AliasAnalysis", "State", "_Map", "EXT", "MUTATORS",
           "ARRAY_MUTATORS", "VIEW_FUNCTIONS", "WRITING_FUNCTIONS"]


def lower_mutations(fdef, resolver, mode, param_kinds, owned_params, rt_name: str) -> bool:
    """Rewrite modelled in-place operations on unshared names into new values (always exact);
    whether anything was rewritten."""
    lowered = False
    for _ in range(20):
        analysis = _OnFirstUse(fdef, resolver, mode, param_kinds, owned_params)
        if not _lower_once(fdef.body, analysis, resolver, rt_name, fdef):
            return lowered
        lowered = True
    return lowered


class _OnFirstUse:
    """``lower_mutations``' alias analysis, made when a rewrite first asks it something (in most
    functions no statement is an in-place operation it could lower: it is never made)."""

    def __init__(self, *args):
        self._args, self._analysis = args, None

    def __getattr__(self, name):
        if self._analysis is None:
            self._analysis = AliasAnalysis(*self._args)
        return getattr(self._analysis, name)


def _lower_once(body: List, analysis: AliasAnalysis, resolver, rt_name: str, fdef) -> bool:
    for i, s in enumerate(body):
        for field_name in ("body", "orelse"):
            inner = getattr(s, field_name, None)
            if isinstance(inner, list) and _lower_once(inner, analysis, resolver, rt_name, fdef):
                return True
        new = _lowered(s, analysis, resolver, rt_name, fdef)
        if new is not None:
            for st in new:
                for inner in gast.walk(st):
                    if isinstance(inner, gast.stmt):
                        inner.lineno = s.lineno
            body[i:i + 1] = new
            return True
    return False


def _lowered(s, analysis: AliasAnalysis, resolver, rt_name: str, fdef=None) -> Optional[List]:
    node, result = _mutating_call(s)
    if node is None:
        return None
    target = _resolved(resolver, node.func)
    none_outs = [k for k in node.keywords if k.arg == "out" and fdef is not None and (
        isinstance(k.value, gast.Name) and _bound_to_none_only(fdef, k.value.id, target.nout if isinstance(target, np.ufunc) else 0) or
        isinstance(target, np.ufunc) and isinstance(k.value, gast.Tuple) and len(k.value.elts) == target.nout and all(
            isinstance(e, gast.Constant) and e.value is None or
            isinstance(e, gast.Name) and _bound_to_none_only(fdef, e.id) for e in k.value.elts))]
    if none_outs and _is_numpy_function(target):
        # np.add(a, b, out=o) where o's only binding is `o = None`: the call without it (numpy's
        # default; a function of the user's keeps its argument: its default may differ)
        plain = gast.Call(func=node.func, args=node.args, keywords=[k for k in node.keywords if k.arg != "out"])
        return [assign(result, plain) if result is not None else gast.Expr(value=plain)]
    written = written_in_place(s)
    if written is not None and read_only_view(analysis, s, written[0]):
        return None             # numpy raises there: left to the write checks, which refuse it
    func = node.func
    target = _resolved(resolver, func)
    # t = dict(m, k=v): t = dict(m), then t["k"] = v (a new dict: its items are set in place)
    if target is dict and result is not None and node.keywords and len(node.args) <= 1 and \
            all(k.arg is not None for k in node.keywords):
        first = assign(result, gast.Call(func=func, args=node.args, keywords=[])) if node.args else \
            assign(result, gast.Dict(keys=[], values=[]))
        return [first] + [gast.Assign(targets=[gast.Subscript(value=load(result), slice=const(k.arg),
                                                              ctx=gast.Store())],
                                      value=k.value, type_comment=None) for k in node.keywords]
    # ufunc(..., out=z)
    outs = [k for k in node.keywords if k.arg == "out"]
    if outs and isinstance(outs[0].value, gast.Name) and (
            isinstance(target, np.ufunc) and target.nout == 1 or target is np.clip) and \
            registry.lookup(target) is not None:
        # (np.clip(z, lo, hi, out=z): numpy's clip ufunc under a function, written as the ufuncs are)
        # (one output: np.divmod's out is a tuple of two arrays, left to the write checks)
        z = outs[0].value.id
        if analysis.sharing(s, z) is not None:
            return None
        keywords = [k for k in node.keywords if k.arg != "out"]
        wheres = [k for k in keywords if k.arg == "where"]
        if wheres and len(keywords) == 1 and not any(isinstance(a, gast.Starred) for a in node.args):
            return _ufunc_where(z, func, node.args, wheres[0].value, analysis, rt_name, result)
        if any(k.arg in ("where", "casting", "dtype", "order", "subok", "signature") for k in keywords):
            return None
        new = [assign(z, call(f"{rt_name}.into", [gast.Call(func=func, args=node.args, keywords=keywords),
                                                  load(z)]))]
        if result is not None:
            new.append(assign(result, load(z)))
        return _atomized(new, analysis)
    copied = _copyto_arguments(node) if result is None and target is np.copyto and node.args and \
        isinstance(node.args[0], gast.Name) else None
    if copied is not None:
        # np.copyto(z, v[, casting][, where]) of an unshared z: z = rt.into(v, z) (where=m: the new
        # values np.where(m, v, z), as numpy leaves z's entries outside m)
        z = node.args[0].id
        if analysis.sharing(s, z) is not None:
            return None
        value, casting, where = copied
        casting = [casting] if casting is not None else []
        if where is not None:
            return [assign(z, call(f"{rt_name}.into_where", [value, load(z), where] + casting))]
        return [assign(z, call(f"{rt_name}.into", [value, load(z)] + casting))]
    if result is None and target is np.fill_diagonal and 1 <= len(node.args) <= 3 and \
            all(k.arg in ("val", "wrap") for k in node.keywords) and \
            2 <= len(node.args) + len(node.keywords) <= 3 and isinstance(node.args[0], gast.Name):
        # np.fill_diagonal(z, v) of an unshared z: z = rt.with_diagonal(z, v) (numpy's fill, on a copy)
        z = node.args[0].id
        if analysis.sharing(s, z) is not None:
            return None
        return [assign(z, call(f"{rt_name}.with_diagonal", [load(z)] + list(node.args[1:]), node.keywords))]
    if result is None and target is np.put and 3 <= len(node.args) <= 4 and \
            all(k.arg == "mode" for k in node.keywords) and len(node.args) + len(node.keywords) <= 4 and \
            not any(isinstance(a, gast.Starred) for a in node.args) and isinstance(node.args[0], gast.Name):
        # np.put(z, ind, v[, mode]) of an unshared z: z = rt.with_put(z, ind, v, mode) (numpy's put, on
        # a copy; was: refused, "np.put() writes into z in place")
        z = node.args[0].id
        if analysis.sharing(s, z) is not None:
            return None
        return [assign(z, call(f"{rt_name}.with_put", [load(z)] + list(node.args[1:]), node.keywords))]
    lowered_at = _ufunc_at(target) if result is None and target is not None else None
    if lowered_at is not None and len(node.args) == 3 and \
            not node.keywords and isinstance(node.args[0], gast.Name):
        z = node.args[0].id
        if analysis.sharing(s, z) is not None:
            return None
        return [assign(z, call(f"{rt_name}.{lowered_at}", [load(z), node.args[1], node.args[2]]))]
    # (the method's name is tested before analysis.locals: reading the analysis makes it)
    if result is not None and isinstance(func, gast.Attribute) and isinstance(func.value, gast.Name) and \
            func.attr == "setdefault" and target is None and func.value.id in analysis.locals and \
            analysis.builtin(s, func.value.id) and analysis.sharing(s, func.value.id) is None:
        return _dict_method(func.value.id, "setdefault", node, analysis, rt_name, result)
    if isinstance(func, gast.Attribute) and isinstance(func.value, gast.Name) and func.attr == "pop" and \
            len(node.args) in (1, 2) and not node.keywords and target is None and func.value.id in analysis.locals:
        return _list_pop(func.value.id, node, analysis, rt_name, result, s)
    if result is None and isinstance(func, gast.Attribute) and isinstance(func.value, gast.Name) and \
            func.attr in ("update", "setdefault") and target is None and func.value.id in analysis.params and \
            _argument_dict(func.value.id, analysis, s):
        # (the caller's dict, surely a dict: the item writes that the argument-item writes model)
        if func.attr == "setdefault":
            return _dict_method(func.value.id, "setdefault", node, analysis, rt_name)
        items = _argument_dict_update(func.value.id, node, analysis, s, fdef)
        if items is not None:
            return items
    if result is None and isinstance(func, gast.Attribute) and isinstance(func.value, gast.Name) and \
            func.attr in _LOWERED_METHODS and target is None and func.value.id in analysis.locals:
        z, method = func.value.id, func.attr
        if method in ("update", "setdefault") and analysis.builtin(s, z) and analysis.sharing(s, z) is None:
            return _dict_method(z, method, node, analysis, rt_name)
        if method not in ("sort", "fill", "reverse", "extend", "insert") or not analysis.builtin(s, z):
            return None
        if analysis.sharing(s, z) is not None:
            return None
        if method == "sort" and not node.args and all(k.arg in ("axis", "kind") for k in node.keywords):
            # (with axis= or kind=: an array's sort, a list's has neither keyword)
            return [assign(z, call(f"{rt_name}.sorted_array" if node.keywords else f"{rt_name}.sorted_value",
                                   [load(z)], node.keywords))]
        if method == "fill" and len(node.args) == 1 and not node.keywords:
            return [assign(z, call(f"{rt_name}.filled", [load(z), node.args[0]]))]
        if method == "reverse" and not node.args and not node.keywords:
            return [assign(z, call(f"{rt_name}.reversed_value", [load(z)]))]
        if method == "extend" and len(node.args) == 1 and not node.keywords:
            return [assign(z, call(f"{rt_name}.extended", [load(z), node.args[0]]))]
        if method == "insert" and len(node.args) == 2 and not node.keywords:
            return [assign(z, call(f"{rt_name}.inserted", [load(z), node.args[0], node.args[1]]))]
    return None


def _ufunc_where(z: str, func, args, where, analysis, rt_name: str, result) -> List:
    """``ufunc(a, b, out=z, where=m)`` of an unshared z (``np.divide(a, b, out=np.zeros_like(a),
    where=b != 0)``): the ufunc computed at the entries m selects only, as numpy computes it (the
    others are never computed: no warning, no derivative of them), written there into a copy of z,
    whose other entries stay (``rt.into_selected``; was refused as an unexpected keyword)."""
    mask = _fresh_name(analysis, z + "_where")
    new = [assign(mask, call(f"{rt_name}.where_mask", [where, load(z)]))]
    picked = []
    for a in args:
        name = _fresh_name(analysis, "out_t")
        new.append(assign(name, call(f"{rt_name}.where_selected", [a, load(mask)])))
        picked.append(load(name))
    value = _fresh_name(analysis, z + "_selected")
    new.append(assign(value, gast.Call(func=func, args=picked, keywords=[])))
    new.append(assign(z, call(f"{rt_name}.into_selected", [load(value), load(z), load(mask)])))
    if result is not None:
        new.append(assign(result, load(z)))
    return new


def _list_pop(z: str, node: gast.Call, analysis, rt_name: str, result, s) -> Optional[List]:
    """``r = z.pop(i)`` of a list no other name shares: ``p = rt.pop_position(z, i)`` (Python's
    errors: out of range, an empty list, no list), ``r = z[p]``, ``z = rt.without_position(z, p)``
    (a new list of the other items).  (Was refused: "sct does not differentiate pop()".)"""
    if not analysis.builtin(s, z) or analysis.sharing(s, z) is not None:
        return None
    act = analysis.activity
    objs = analysis.objects(s, z)
    if objs and all(analysis.is_mapping(o) for o in objs):
        return _dict_pop(z, node, analysis, rt_name, result)
    if len(node.args) != 1 or \
            not (act is not None and z in act.lists or objs and all(analysis.is_sequence(o) for o in objs)):
        return None
    position = _fresh_name(analysis, z + "_position")
    out = [assign(position, call(f"{rt_name}.pop_position", [load(z), node.args[0]]))]
    if result is not None:
        out.append(assign(result, gast.Subscript(value=load(z), slice=load(position), ctx=gast.Load())))
    out.append(assign(z, call(f"{rt_name}.without_position", [load(z), load(position)])))
    return out


def _dict_pop(z: str, node: gast.Call, analysis, rt_name: str, result) -> List:
    """``r = z.pop(k)`` of a dict no other name shares: ``r = z[k]`` (Python's KeyError), then
    ``z = rt.without_key(z, k)``; ``r = z.pop(k, d)``: the same where k is in z, else ``r = d``."""
    out = []
    args = []
    for a in node.args:              # (each argument evaluated once, before the change, as Python does)
        if not isinstance(a, (gast.Name, gast.Constant)):
            name = _fresh_name(analysis, z + "_pop_argument")
            out.append(assign(name, a))
            a = load(name)
        args.append(a)
    key = args[0]
    taken = []
    if result is not None:
        taken.append(assign(result, gast.Subscript(value=load(z), slice=copy.deepcopy(key), ctx=gast.Load())))
    taken.append(assign(z, call(f"{rt_name}.without_key", [load(z), copy.deepcopy(key)])))
    if len(args) == 1:
        return out + taken
    missing = _fresh_name(analysis, z + "_missing_key")
    out.append(assign(missing, call(f"{rt_name}.new_dict_key", [load(z), copy.deepcopy(key)])))
    otherwise = [assign(result, args[1])] if result is not None else [gast.Pass()]
    out.append(gast.If(test=load(missing), body=otherwise, orelse=taken))
    return out


def _is_numpy_function(target) -> bool:
    """Whether ``target`` is one of numpy's functions or ufuncs (whose ``out`` defaults to None)."""
    return isinstance(target, np.ufunc) or \
        (callable(target) and (getattr(target, "__module__", None) or "").split(".")[0] == "numpy")


_LOWERED_METHODS = frozenset({"update", "setdefault", "sort", "fill", "reverse", "extend", "insert"})


def _dict_method(z: str, method: str, node: gast.Call, analysis, rt_name: str, result=None) -> Optional[List]:
    """``z.update(other, k=v)`` of a dict no other name shares: ``z = {**z, **other, "k": v}``
    (rt.dict_merged twice: a new dict with the same items in the same order); ``r = z.setdefault(k, d)``:
    ``if k not in z: z[k] = d``, then ``r = z[k]`` (``d`` was evaluated, as Python does)."""
    if method == "update":
        if len(node.args) > 1 or any(k.arg is None for k in node.keywords):
            return None
        keywords = _fresh_name(analysis, z + "_keywords")
        other = node.args[0] if node.args else gast.Dict(keys=[], values=[])
        out = []
        if not isinstance(other, (gast.Name, gast.Constant)):
            name = _fresh_name(analysis, z + "_other")
            out.append(assign(name, other))
            other = load(name)
        out.append(assign(keywords, gast.Dict(keys=[const(k.arg) for k in node.keywords],
                                              values=[k.value for k in node.keywords])))
        merged = _fresh_name(analysis, z + "_merged")      # (dict_merged: forward mode too)
        out.append(assign(merged, call(f"{rt_name}.dict_merged", [load(z), other])))
        out.append(assign(z, call(f"{rt_name}.dict_merged", [load(merged), load(keywords)])))
        return out
    if len(node.args) not in (1, 2) or node.keywords:
        return None
    key = node.args[0]
    default = node.args[1] if len(node.args) == 2 else const(None)
    cond = _fresh_name(analysis, z + "_new_key")
    out = [assign(cond, call(f"{rt_name}.new_dict_key", [load(z), key]))]
    branch = gast.If(test=load(cond), body=[gast.Assign(targets=[gast.Subscript(value=load(z), slice=key,
                                                                                ctx=gast.Store())],
                                                       value=default, type_comment=None)], orelse=[])
    out.append(branch)
    if result is not None:
        out.append(assign(result, gast.Subscript(value=load(z), slice=key, ctx=gast.Load())))
    return out


def _argument_dict(z: str, analysis, s) -> bool:
    """Does ``z`` hold at ``s`` only the dict argument of its name (surely a dict, not a subclass)?"""
    objs = analysis.objects(s, z)
    return bool(objs) and all(o != EXT and o[0] == "arg" and analysis.is_mapping(o) for o in objs)


def _argument_dict_update(z: str, node: gast.Call, analysis, s, fdef) -> Optional[List]:
    """``z.update(k=v)``, ``z.update({"k": v})`` (a dict written out with constant keys) of an argument ``z``
    that is surely a dict (_argument_dict: not a subclass, whose update skips its own ``__setitem__``; its
    ``z.setdefault(k, d)`` is ``if k not in z: z[k] = d``, as _dict_method writes it): the values evaluated
    in Python's order, then ``z["k"] = v`` for each, the item writes into the caller's dict that the write
    checks model or refuse (``state.update(h=h_new)`` in a loss function: was refused as a change of the
    argument in place, where ``state["h"] = h_new`` ran; refuse55a)."""
    if len(node.args) > 1 or any(k.arg is None for k in node.keywords):
        return None
    pairs = []
    if node.args:
        other = node.args[0]
        if isinstance(other, gast.Name):        # (the dict written out, bound to a name just before: normalized)
            other = _bound_just_before(fdef, s, other.id)
        if not isinstance(other, gast.Dict) or \
                not all(isinstance(k, gast.Constant) and isinstance(k.value, (str, int)) for k in other.keys):
            return None
        pairs += list(zip([const(k.value) for k in other.keys], other.values))
    pairs += [(const(k.arg), k.value) for k in node.keywords]
    out = []
    if len(pairs) > 1:      # (every value evaluated before the first item is set, as Python does)
        for i, (key, value) in enumerate(pairs):
            if not isinstance(value, (gast.Name, gast.Constant)):
                name = _fresh_name(analysis, z + "_update")
                out.append(assign(name, value))
                pairs[i] = (key, load(name))
    for key, value in pairs:
        out.append(gast.Assign(targets=[gast.Subscript(value=load(z), slice=key, ctx=gast.Store())],
                               value=value, type_comment=None))
    return out


def _bound_just_before(fdef, s, name: str):
    """The value of ``name = value``, the statement just before ``s`` in its block, where its values are names
    and constants that ``s`` reads as they are and ``name`` is read nowhere else (the normalizer's name of a
    dict written out as an argument); None otherwise."""
    if fdef is None:
        return None
    for node in gast.walk(fdef):
        for field_name in ("body", "orelse", "finalbody"):
            block = getattr(node, field_name, None)
            if not isinstance(block, list) or s not in block:
                continue
            i = next(k for k, st in enumerate(block) if st is s)
            before = block[i - 1] if i else None
            if isinstance(before, gast.Assign) and len(before.targets) == 1 and \
                    isinstance(before.targets[0], gast.Name) and before.targets[0].id == name and \
                    isinstance(before.value, gast.Dict) and \
                    all(isinstance(v, (gast.Name, gast.Constant)) for v in before.value.values) and \
                    sum(isinstance(n, gast.Name) and n.id == name for n in gast.walk(fdef)) == 2:
                return before.value
            return None
    return None


def _copyto_arguments(node):
    """``(value, casting, where)`` of ``np.copyto(z, value, casting=..., where=...)`` (None for one not
    given), or None where the call has other arguments."""
    names = ("dst", "src", "casting", "where")
    given = dict(zip(names, node.args))
    if len(node.args) > 4 or any(isinstance(a, gast.Starred) for a in node.args):
        return None
    for k in node.keywords:
        if k.arg not in names or k.arg in given:
            return None
        given[k.arg] = k.value
    if "src" not in given:
        return None
    return given["src"], given.get("casting"), given.get("where")


def _atomized(stmts: List, analysis) -> List:
    """Keep one operation per statement: a nested call gets its own name."""
    out = []
    for st in stmts:
        value = st.value
        if isinstance(value, gast.Call):
            args = []
            for a in value.args:
                if isinstance(a, gast.Call):
                    name = _fresh_name(analysis, "out_t")
                    out.append(assign(name, a))
                    args.append(load(name))
                else:
                    args.append(a)
            value.args = args
        out.append(st)
    return out


_COUNTER = [0]


def _fresh_name(analysis, base: str) -> str:
    while True:
        _COUNTER[0] += 1
        name = f"{base}_{_COUNTER[0]}"
        if name not in analysis.locals:
            analysis.locals.add(name)
            return name


def _ufunc_at(target):
    """The runtime's new-value form of ``np.add.at`` / ``np.subtract.at`` (None for any other target)."""
    try:
        if target == np.add.at:
            return "add_at"
        if target == np.subtract.at:
            return "subtract_at"
    except Exception:
        pass
    return None

