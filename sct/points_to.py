"""The points-to analysis of sct/aliasing.py: which objects every name may hold before each
statement, and which names are live after it; and the questions the write checks ask of them.

``AliasAnalysis`` is a flow-sensitive points-to analysis over the normalized function.  Objects
are allocation sites (with the recency abstraction: the object a site made last, and all older
ones), each argument, and one object for everything else (globals, what arguments contain, what
unknown calls return).  Views (``x[1:]``, ``x.T``, ``x.reshape(...)``) count as the object itself.
With liveness, a write into ``n`` is *unshared* when every object ``n`` may hold was made by this
function and no other live name, no container or view reachable from one, and no callee can
reach it.  Three layers: ``_Values`` (the objects an expression's value may be), ``PointsTo``
(statements, branches and loops to a fixed point) and ``AliasAnalysis`` (liveness and the
questions).
"""
from __future__ import annotations

import ast
import copy
import inspect
import random
import re
import types
from typing import Dict, FrozenSet, List, Optional, Set, Tuple

import gast
import numpy as np

from .runtime.origins import library_code, module_top
from .runtime import registry

from .alias_state import (ARRAY_MUTATORS, CONTAINER_COPIES, COPY_BUILTINS, EXT, IMMUTABLE_BUILTINS, LIST_MUTATORS, MUTATORS,
                          WRITING_FUNCTIONS,
                          SEQUENCE_MAKERS, VIEW_ATTRIBUTES, VIEW_FUNCTIONS, VIEW_METHODS, State, _Map,
                          _new, _old, LOOP_SEQUENCE, LOOP_WALK)
from .alias_state import _resolved as _chain_resolved
from .callee_effects import (_returns_fresh, keeps_arguments, local_def, nested_keeps_arguments, one_new_result,
                             returns_may_hold)
from .ir import dotted_name, loaded_names, root_name, walk_no_defs, walk_nodes
from .plans import CallKind

# reductions whose result is a number (a numpy scalar) when given no axis
SCALAR_REDUCTIONS = {"sum", "mean", "prod", "max", "min", "amax", "amin", "std", "var", "nansum",
                     "nanmean", "nanmax", "nanmin", "nanprod", "nanstd", "nanvar", "vdot", "norm",
                     "ptp", "median", "count_nonzero", "argmax", "argmin", "nanargmax", "nanargmin",
                     "all", "any"}
NUMBER_BUILTINS = {"float", "int", "complex", "bool", "len", "item"}
# call kinds whose result is a new value, a view of the arguments or a number (never kept)
_OP_KINDS = (CallKind.OP, CallKind.NONDIFF, CallKind.STOP, CallKind.CREATE)


def _einsum_operands(node: gast.Call) -> int:
    """How many operands a call of np.einsum surely has (its subscripts a string written out, no
    ``*args``): of several, its result is a new array; of one, it may be a view of it (0: not known)."""
    args = node.args
    if not args or any(isinstance(a, gast.Starred) for a in args) or \
            not (isinstance(args[0], gast.Constant) and isinstance(args[0].value, str)):
        return 0
    return len(args) - 1


def _diff_order_positive(node: gast.Call) -> bool:
    """Does a call of np.diff surely take a difference (``n`` left out, or an int >= 1 written out)?
    ``np.diff(z, n=0)`` returns z itself (red team L, dec 26: a write into it was not seen to change z)."""
    given = [k.value for k in node.keywords if k.arg == "n"] + list(node.args[1:2])
    if any(k.arg is None for k in node.keywords) or any(isinstance(a, gast.Starred) for a in node.args):
        return False
    return all(isinstance(v, gast.Constant) and type(v.value) is int and v.value >= 1 for v in given)


def _number_result(node: gast.Call, info, name: str) -> bool:
    """Is the call's result surely a number (immutable): ``np.sum(a)``, ``a.mean()`` with no
    axis, ``float(v)``, ``v.item()``?"""
    if isinstance(info.obj, type) and issubclass(info.obj, np.generic):
        return True                              # np.float32(v): a numpy scalar
    if info.kind == CallKind.METHOD:
        method = info.method
        if method == "item" or (method in SCALAR_REDUCTIONS and not node.args and
                                all(k.arg in ("dtype", "ddof", "where", "initial") for k in node.keywords)):
            return True
        return False
    if name in NUMBER_BUILTINS and info.kind in (CallKind.OP, CallKind.PLAIN, CallKind.NONDIFF) and \
            getattr(info.obj, "__module__", None) in ("builtins", None, "runtime.numpy_ops", "runtime.support"):
        return info.obj in (float, int, complex, bool, len) or info.obj is None and name in NUMBER_BUILTINS
    if info.kind in (CallKind.OP, CallKind.NONDIFF) and name in SCALAR_REDUCTIONS and \
            module_top(info.obj) == "numpy" and len(node.args) == 1 and \
            all(k.arg in ("dtype", "ddof", "where", "initial", "ord") for k in node.keywords):
        return True
    return False


def _parameter_names(fdef: gast.FunctionDef) -> List[str]:
    params = [a.id for a in fdef.args.args] + [a.id for a in fdef.args.kwonlyargs]
    params += [extra.id for extra in (fdef.args.vararg, fdef.args.kwarg) if extra is not None]
    return params


def _local_facts(fdef: gast.FunctionDef, params):
    """One walk for the names bound in ``fdef``, the names bound to ``slice(...)`` and ``super()``
    results, and the nested functions and lambdas."""
    names = set(params)
    slice_names: Set[str] = set()
    super_names: Set[str] = set()
    nested = []
    for n in walk_no_defs(fdef):
        if isinstance(n, gast.Name):
            if isinstance(n.ctx, gast.Store):
                names.add(n.id)
        elif isinstance(n, gast.Assign):
            if isinstance(n.targets[0], gast.Name) and isinstance(n.value, gast.Call) and \
                    isinstance(n.value.func, gast.Name):
                if n.value.func.id == "slice":
                    slice_names.add(n.targets[0].id)
                elif n.value.func.id == "super":
                    super_names.add(n.targets[0].id)
        elif isinstance(n, (gast.FunctionDef, gast.Lambda)) and n is not fdef:
            nested.append(n)
    slice_names |= _maybe_view_indexes(fdef)
    return names, slice_names, super_names, nested


def _maybe_view_indexes(fdef: gast.FunctionDef) -> Set[str]:
    """The names that may hold an index other than an integer -- ``None`` (``np.newaxis``),
    ``...``, a tuple or list of them, a slice: ``e = ...; w = v[e]`` is a view of a 1-D ``v``,
    not a number.  Any name bound by a constant other than a number or a string, an attribute,
    a tuple, list, set, conditional expression, an item (of a list, say), a name of these, or a
    ``for`` over anything but ``range(...)``."""
    def suspect(value, names) -> bool:
        if isinstance(value, gast.Constant):
            return value.value is None or value.value is Ellipsis
        if isinstance(value, gast.Name):
            return value.id in names
        if isinstance(value, gast.NamedExpr):
            return suspect(value.value, names)
        # (an item of a list or tuple may be any of these: ``for e in [None]`` is normalized to
        # ``e = seq[i]``)
        return isinstance(value, (gast.Attribute, gast.Tuple, gast.List, gast.Set, gast.IfExp, gast.BoolOp,
                                  gast.Starred, gast.Subscript))
    bindings = []
    out: Set[str] = set()
    for n in walk_no_defs(fdef):
        if isinstance(n, gast.Assign):
            for target in n.targets:
                if isinstance(target, gast.Name):
                    bindings.append((target.id, n.value))
                else:
                    out.update(m.id for m in gast.walk(target) if isinstance(m, gast.Name) and
                               isinstance(m.ctx, gast.Store))
        elif isinstance(n, gast.NamedExpr) and isinstance(n.target, gast.Name):
            bindings.append((n.target.id, n.value))
        elif isinstance(n, (gast.For, gast.comprehension)):
            it = n.iter
            if not (isinstance(it, gast.Call) and isinstance(it.func, gast.Name) and it.func.id == "range"):
                out.update(m.id for m in gast.walk(n.target) if isinstance(m, gast.Name))
        elif isinstance(n, (gast.AnnAssign, gast.With, gast.AugAssign)):
            target = n.target if not isinstance(n, gast.With) else None
            if isinstance(n, gast.AnnAssign) and isinstance(target, gast.Name) and n.value is not None:
                bindings.append((target.id, n.value))
            elif isinstance(n, gast.With):
                for item in n.items:
                    if item.optional_vars is not None:
                        out.update(m.id for m in gast.walk(item.optional_vars) if isinstance(m, gast.Name))
    changed = True
    while changed:
        changed = False
        for name, value in bindings:
            if name not in out and suspect(value, out):
                out.add(name)
                changed = True
    return out


_RANK_OPERATORS = (gast.Add, gast.Sub, gast.Mult, gast.Div, gast.Pow, gast.FloorDiv, gast.Mod)


def _local_ranks(fdef: gast.FunctionDef, kinds: Dict, classify, resolver) -> Dict[str, int]:
    """The number of dimensions of the locals that surely hold an array (or a number) of one
    rank wherever they are bound: ``y = x.copy()``, ``y = x * 2.0``, ``y = np.sin(y)`` of a 1-D
    argument ``x`` -- so ``t = y[0]`` is a number, not a view of ``y``.  Each binding of such a
    name is an arithmetic operator, an elementwise op or ``.copy()`` of names of known rank and
    numbers; a name bound any other way (a loop target, unpacking, an attribute store such as
    ``y.shape = ...``, ``y.resize(...)``) has none.  Found optimistically, then each binding
    checked against the ranks found until all agree (an inductive invariant)."""
    initial: Dict[str, int] = {}
    for name, kind in kinds.items():
        if isinstance(kind, tuple) and len(kind) >= 3 and kind[0] in ("dl", "nd") and isinstance(kind[2], int):
            initial[name] = kind[2]
    values: Dict[str, list] = {}
    spoiled: Set[str] = set()
    # a name bound otherwise too (a loop target, unpacking, with ... as) has more stores than
    # plain bindings: it has no rank here (its stores counted on the same walk)
    stores: Dict[str, int] = {}
    for n in walk_no_defs(fdef):
        if isinstance(n, gast.Assign) and len(n.targets) == 1 and isinstance(n.targets[0], gast.Name):
            values.setdefault(n.targets[0].id, []).append(n.value)
            continue
        if isinstance(n, gast.Name):
            if isinstance(n.ctx, gast.Del):
                spoiled.add(n.id)
            elif isinstance(n.ctx, gast.Store):
                stores[n.id] = stores.get(n.id, 0) + 1
        elif isinstance(n, gast.Attribute) and isinstance(n.ctx, (gast.Store, gast.Del)) and \
                isinstance(n.value, gast.Name):
            spoiled.add(n.value.id)     # y.shape = ... changes its rank
        elif isinstance(n, gast.Call) and isinstance(n.func, gast.Attribute) and \
                isinstance(n.func.value, gast.Name) and n.func.attr in ("resize", "shape"):
            spoiled.add(n.func.value.id)
    params = set(a.id for a in fdef.args.args) | set(a.id for a in fdef.args.kwonlyargs)
    for extra in (fdef.args.vararg, fdef.args.kwarg):
        if extra is not None:
            params.add(extra.id)
    # an argument bound again is a candidate whose first binding is its kind's rank
    ranks = {name: r for name, r in initial.items() if stores.get(name, 0) == 0 and name not in spoiled}
    candidates = {name for name, vs in values.items()
                  if stores.get(name, 0) == len(vs) and (name not in params or name in initial)}
    first = {name: initial[name] for name in candidates if name in params}

    untouched: Dict[str, bool] = {}

    def item_rank(node):
        """The rank of ``p["W"]`` (``p.W``) of a dict (dataclass, object) argument p whose kind gives
        that item an array, where the function only reads p's items (never binds p, writes into it,
        changes an item's shape or passes p itself on)."""
        base = node.value
        if not (isinstance(base, gast.Name) and base.id in params and base.id in kinds):
            return None
        key = node.attr if isinstance(node, gast.Attribute) else \
            node.slice.value if isinstance(node.slice, gast.Constant) else None
        kind = kinds[base.id]
        if isinstance(kind, tuple) and kind[:1] == ("seq",) and len(kind) > 2 and isinstance(kind[2], tuple) and \
                isinstance(node, gast.Subscript) and type(key) is int and -len(kind[2]) <= key < len(kind[2]):
            # p[1] of a list (tuple) argument of arrays, [W, b]: its item's rank, where p is only read by
            # constant index (no method of p called: p.reverse(), p.pop() change what p[1] is; was: t = p[1][0];
            # t += v refused as a change of a view, where numpy's t is a number that += rebinds)
            if base.id not in untouched:
                untouched[base.id] = _items_only_read(fdef, base.id) and not any(
                    isinstance(n, gast.Attribute) and isinstance(n.value, gast.Name) and n.value.id == base.id
                    for n in gast.walk(fdef))
            found = kind[2][key]
            if not (isinstance(found, tuple) and len(found) >= 3 and found[0] in ("dl", "nd") and
                    isinstance(found[2], int)):
                return None
            return found[2] if untouched[base.id] else None
        if key is None or not (isinstance(kind, tuple) and kind[:1] in (("map",), ("obj",))):
            return None
        if isinstance(node, gast.Subscript) != (kind[0] == "map"):
            return None
        found = _element_kinds_of(kind, key)
        if len(found) != 1 or not (isinstance(found[0], tuple) and len(found[0]) >= 3 and
                                   found[0][0] in ("dl", "nd") and isinstance(found[0][2], int)):
            return None
        if base.id not in untouched:
            untouched[base.id] = _items_only_read(fdef, base.id)
        return found[0][2] if untouched[base.id] else None

    def rank(node, known):
        if isinstance(node, (gast.Subscript, gast.Attribute)) and isinstance(node.ctx, gast.Load):
            return item_rank(node)
        if isinstance(node, gast.Constant):
            v = node.value
            return 0 if isinstance(v, (int, float, complex)) else None
        if isinstance(node, gast.Name):
            if node.id in known or node.id in stores or node.id in params:
                return known.get(node.id)
            try:        # a module's array (guarded: a new binding recompiles)
                value = resolver.resolve_name(node.id)
            except Exception:
                return None
            if type(value) is not np.ndarray:
                return None
            # (its rank guarded too: G.shape = (4, 1) changes it in place, the same binding)
            return resolver.attribute(value, "ndim")
        if isinstance(node, gast.BinOp) and isinstance(node.op, _RANK_OPERATORS):
            a, b = rank(node.left, known), rank(node.right, known)
            return None if a is None or b is None else max(a, b)
        if isinstance(node, gast.BinOp) and isinstance(node.op, gast.MatMult):
            a, b = rank(node.left, known), rank(node.right, known)
            if a is None or b is None or a == 0 or b == 0:
                return None
            if a == 1 and b == 1:
                return 0
            return b - 1 if a == 1 else a - 1 if b == 1 else max(a, b)
        if isinstance(node, gast.UnaryOp) and isinstance(node.op, (gast.USub, gast.UAdd)):
            return rank(node.operand, known)
        if isinstance(node, gast.Call) and node.args and isinstance(node.func, (gast.Name, gast.Attribute)) and \
                all(k.arg in ("dtype", "order") for k in node.keywords) and \
                (isinstance(node.args[0], gast.Constant) or isinstance(node.args[0], gast.Tuple)):
            # np.zeros(3, dtype=np.float32), np.ones((2, 3)): the rank of the shape written
            try:
                target = resolver.resolve(node.func)
            except Exception:
                target = None
            shape = node.args[0]
            if _object_dtype(node):
                return None      # (np.empty(2, dtype=object): its items are objects, arr[0] no number)
            if any(target is f for f in _CREATORS):
                if isinstance(shape, gast.Constant) and type(shape.value) is int:
                    return 1
                if isinstance(shape, gast.Tuple) and all(isinstance(e, gast.Constant) and type(e.value) is int
                                                          for e in shape.elts):
                    return len(shape.elts)
            return None
        if isinstance(node, gast.Call) and not node.keywords:
            func = node.func
            if isinstance(func, gast.Attribute) and func.attr == "copy" and not node.args and \
                    isinstance(func.value, gast.Name) and known.get(func.value.id) is not None:
                return known[func.value.id]
            try:
                info = classify(node, resolver)
            except Exception:
                return None
            if info.kind == CallKind.OP and info.obj is not None and node.args and \
                    registry.facts_of(info.obj).elementwise and \
                    not any(isinstance(a, gast.Starred) for a in node.args):
                args = [rank(a, known) for a in node.args]
                return None if any(r is None for r in args) else max(args)
        return None

    # optimistic: every candidate whose bindings give one rank, from the ranks found so far
    found: Dict[str, int] = {}
    known = dict(ranks)         # {**ranks, **found}, kept as found grows (a candidate is never in ranks)
    changed = True
    while changed:
        changed = False
        for name in candidates - spoiled - set(found):
            got = {rank(v, known) for v in values[name]} - {None}
            if name in first:
                got.add(first[name])
            if len(got) == 1:
                found[name] = known[name] = got.pop()
                changed = True
    # then checked: every binding gives exactly that rank, given all the ranks found
    while True:
        known = {**ranks, **found}
        wrong = [name for name in found if any(rank(v, known) != found[name] for v in values[name]) or
                 first.get(name, found[name]) != found[name]]
        if not wrong:
            return known
        for name in wrong:
            del found[name]


import operator as _operator  # noqa: E402

_OPERATOR_VIEWS = (_operator.getitem,)
_OPERATOR_JOINS = (_operator.add, _operator.concat, _operator.mul, _operator.iadd, _operator.iconcat,
                   _operator.imul, _operator.or_, _operator.ior)


class _Values:
    """The objects an expression's value may be, in a state (``value_objects``); allocating a
    new object ages the site's previous one (the recency abstraction)."""

    def __init__(self, fdef: gast.FunctionDef, resolver, mode: str, param_kinds: Dict,
                 owned_params: Set[str] = frozenset(), activity=None):
        from .analysis import classify_call
        self.fdef = fdef
        self.resolver = resolver
        self.mode = mode
        self.kinds = param_kinds
        self.activity = activity
        self._classify = classify_call
        self.params = _parameter_names(fdef)
        self.owned_params = set(owned_params)
        self.locals, self.slice_names, self.super_names, self.nested = _local_facts(fdef, self.params)
        self.ranks = _local_ranks(fdef, param_kinds, self._classify, resolver)
        self.allocated: Set = set()            # allocation sites met so far
        self.array_sites: Set = set()          # allocation sites known to make arrays (no items)
        self.instance_sites: Set = set()       # sites making objects of the user's classes
        self.bare_instance_sites: Set = set()  # of those, ``Acc()`` given nothing: it holds what is stored seen
        self.library_sites: Set = set()        # sites making random generators (_NEW_LIBRARY_OBJECTS)
        self.seq_sites: Set = set()            # allocation sites known to make lists or tuples
        self.list_sites: Set = set()           # those of list displays ``[a, b]`` (an index of them copies)
        self.map_sites: Set = set()            # allocation sites known to make dicts
        self.gradient_sites: Set = set()       # dlgradient(y, p) of a structure, and its items (to any depth)
        self.positional: Dict = {}             # dlgradient(y, p, q)'s site -> the items of each x's gradient
        self.holding_calls: Set[int] = set()   # the ids of the user's and libraries' calls whose result may hold
        #                                        what they are given (``_note_holding``: the self-holding gate)
        self.closures_reading: Dict[str, Set] = {}   # a name -> the closures bound reading it (rt.bind_closure)

    # --- objects ------------------------------------------------------------------------------
    def names(self, state: State, node) -> FrozenSet:
        if isinstance(node, gast.Name):
            if node.id in state.env:
                return state.env[node.id]
            if node.id in self.locals:
                return frozenset()
            return frozenset({EXT})
        if isinstance(node, gast.Starred):
            return self.names(state, node.value)
        if isinstance(node, (gast.Tuple, gast.List)):
            out = frozenset()
            for e in node.elts:
                out |= self.names(state, e)
            return out
        return frozenset()

    def alloc(self, state: State, site) -> Tuple:
        new, old = _new(site), _old(site)
        if site not in self.allocated:
            # the site's first object: nothing can hold it yet, nothing to age
            self.allocated.add(site)
            return new

        def age(objs):
            return frozenset(old if o == new else o for o in objs) if new in objs else objs
        env = {}
        for k, v in state.env.items():
            env[k] = age(v)
        state.env = _Map(env)
        heap = {}
        for k, v in state.heap.items():
            k2 = old if k == new else k
            heap[k2] = heap.get(k2, frozenset()) | age(v)
        state.heap = _Map(heap)
        state.escaped = age(state.escaped)
        state.multi = age(state.multi)
        if (_BY_OPERATION, new) in state.multi:
            state.multi = (state.multi - {(_BY_OPERATION, new)}) | {(_BY_OPERATION, old)}
        return new

    def is_sequence(self, o) -> bool:
        """Is the object ``o`` surely a list or tuple (slicing it copies)?"""
        if o[0] == "arg":
            kind = self.kinds.get(o[1])
            return isinstance(kind, tuple) and kind[:1] == ("seq",)
        return o[0] in ("new", "old") and o[1] in self.seq_sites

    def is_mapping(self, o) -> bool:
        """Is the object ``o`` surely a dict?"""
        if o[0] == "arg":
            kind = self.kinds.get(o[1])
            return isinstance(kind, tuple) and kind[:1] == ("map",) and kind[1] is dict
        return o[0] in ("new", "old") and o[1] in self.map_sites

    def fresh(self, state: State, site, contents=frozenset()) -> FrozenSet:
        again = site in self.allocated
        o = self.alloc(state, site)
        contents = frozenset(contents)
        if again and o in contents:
            # (what ``contents`` names was read before the site's previous object aged: it is the older one
            # now; was: the new object holding itself, ``d = dict(d)`` in a loop, which holds_itself refused)
            contents = (contents - {o}) | {_old(site)}
        state.heap[o] = contents
        return frozenset({o})

    def is_scalar_item(self, value: gast.Subscript, state: State = None) -> bool:
        """``x[i]`` of a 1-D array argument with an integer index: a number, never a view (an
        index array, ``x[idx]``, gives a new array that other names may share)."""
        base = value.value
        # (an argument's kind tells its rank only where it is not bound again: after
        # ``x = x.reshape(2, 2)``, x[0] is a view)
        if not (isinstance(base, gast.Name) and self.ranks.get(base.id)):
            return False
        items = value.slice.elts if isinstance(value.slice, gast.Tuple) else [value.slice]
        if len(items) != self.ranks[base.id]:
            return False        # (W[0] of a 2-D W is a row, a view; W[0, 1] a number)
        for item in items:
            if isinstance(item, gast.Slice):
                return False
            if isinstance(item, gast.Constant) and (item.value is None or item.value is Ellipsis or
                                                    isinstance(item.value, bool)):
                return False
            if isinstance(item, gast.Name) and item.id in self.slice_names:
                return False
            if isinstance(item, gast.Name) and state is not None and not self.immutable(state, item):
                return False                 # an index array (or a list of indices): x[idx] is new
        return True

    def immutable(self, state: State, node) -> bool:
        """Is ``node`` (a name or a constant) surely an immutable value, a number or a string
        (its objects are none, or arguments that are numbers)?"""
        if isinstance(node, gast.Constant):
            return not isinstance(node.value, type(Ellipsis))
        if not isinstance(node, gast.Name):
            return False
        for o in self.names(state, node):
            if o[0] != "arg":
                return False
            kind = self.kinds.get(o[1])
            if not (isinstance(kind, tuple) and kind[:1] == ("num",)):
                return False
        return True


    # --- expressions --------------------------------------------------------------------------
    def value_objects(self, state: State, value, site) -> FrozenSet:
        rule = _VALUE_RULES.get(type(value))
        return rule(self, state, value, site) if rule is not None else frozenset({EXT})

    def _name_objects(self, state: State, value, site) -> FrozenSet:
        return self.names(state, value)

    def _no_objects(self, state: State, value, site) -> FrozenSet:
        return frozenset()

    def _compare_objects(self, state: State, value, site) -> FrozenSet:
        """``a < b``: a bool where both are numbers, else a new array (``m = x > 0; n = m;
        n &= ...`` changes m too)."""
        if all(self.immutable(state, o) for o in [value.left] + list(value.comparators)):
            return frozenset()
        self.array_sites.add(site)
        return self.fresh(state, site)

    def _operation_objects(self, state: State, value, site) -> FrozenSet:
        """``a + b``, ``-a``: a new value (a list or tuple holding the operands' items); a
        number where every operand is one (``t += h`` of a float rebinds it)."""
        operands = [value.left, value.right] if isinstance(value, gast.BinOp) else [value.operand]
        if all(self.immutable(state, o) for o in operands):
            return frozenset()
        objs = frozenset()
        for o in operands:
            objs |= self.names(state, o)
        if isinstance(value, gast.BinOp):
            parts = [self.names(state, o) if isinstance(o, gast.List) else
                     state.contents(self.names(state, o)) for o in operands]
            # (marked as held twice by the operation's new list: sct/points_to.py multi_of)
            if isinstance(value.op, gast.Mult) and not any(
                    isinstance(o, gast.Constant) and type(o.value) in (float, complex) for o in operands):
                # [a] * 2 holds a twice (a list times a float raises: g[k] * 0.5 is no list)
                state.multi = state.multi | {(_BY_OPERATION, o) for o in parts[0] | parts[1]}
            elif isinstance(value.op, gast.Add):         # l + [a] with a already in l
                state.multi = state.multi | {(_BY_OPERATION, o) for o in parts[0] & parts[1]}
        if isinstance(value, gast.BinOp) and (
                any(isinstance(o, gast.List) for o in operands) or
                (objs and all(self.is_sequence(o) for o in objs))):
            self.seq_sites.add(site)
        if isinstance(value, gast.BinOp) and isinstance(value.right, gast.List):
            objs |= self.names(state, value.right)
            return self.fresh(state, site, state.contents(objs) | self.names(state, value.right))
        if self.activity is not None and self.activity.value_is_array(value):
            self.array_sites.add(site)       # an array holds numbers, not objects
            return self.fresh(state, site)
        if isinstance(value, gast.BinOp) and (
                isinstance(value.op, (gast.Div, gast.Pow, gast.MatMult)) or
                isinstance(value.op, gast.Mult) and any(isinstance(o, gast.Constant) and type(o.value) in
                                                        (float, complex) for o in operands)):
            # a number or a new array of numbers: no list or tuple is divided, raised to a power or
            # multiplied by a float (g.Value[i] * 2.0 holds none of g's items)
            return self.fresh(state, site)
        return self.fresh(state, site, state.contents(objs))

    def _subscript_objects(self, state: State, value, site) -> FrozenSet:
        base = self.names(state, value.value)
        if isinstance(value.slice, gast.Constant) and type(value.slice.value) is int and base and \
                all(o[0] == "new" and o[1] in self.positional for o in base):
            # g = grads[0] of grads = dlgradient(y, p, q): the first x's gradient, not the second's
            k = value.slice.value
            if all(-len(self.positional[o[1]]) <= k < len(self.positional[o[1]]) for o in base):
                return frozenset().union(*(self.positional[o[1]][k] for o in base))
        if self.is_scalar_item(value, state):
            return frozenset()
        if _new_axes(value.slice) or not base and isinstance(value.value, gast.Name):
            # s[None], s[..., np.newaxis], s[...] of a number (np.float64: no object) is a new array
            # (of an array, a view of it): changed in place by `b op= v` (was: taken for the number,
            # so `a = x[0][None]; b = a; b += 1` left a unchanged)
            self.array_sites.add(site)
            return base | state.contents(base) | self.fresh(state, site)
        index = self.names(state, value.slice) if isinstance(value.slice, gast.Name) else None
        arrays = base and all(o != EXT and (o[0] != "arg" or self.kinds.get(o[1], (None,))[:1] in (("dl",), ("nd",)))
                              and (o[0] == "arg" or o[1] in self.array_sites) for o in base)
        if arrays and (index and all(o[0] in ("new", "old") and o[1] in self.array_sites | self.list_sites
                                     for o in index) or isinstance(value.slice, gast.List)):
            # x[idx], x[mask], x[[0, 1]] of an array (an index array or a list display): a new array (a copy; the
            # list was taken for a view, a later write into x refused, red58a F3).  Not a tuple: x[t] of a tuple t
            # is basic indexing, a view (x[(0,)] a row; taken for a copy, it gave 4.9 where Python gives 9.4)
            self.array_sites.add(site)
            return self.fresh(state, site)
        if isinstance(value.slice, gast.Slice) and base and all(self.is_sequence(o) for o in base):
            self.seq_sites.add(site)         # l[:] of a list or tuple: a new one
            return self.fresh(state, site, state.contents(base))
        if not isinstance(value.slice, (gast.Slice, gast.Tuple)) and base and \
                all(self.is_sequence(o) or self.is_mapping(o) for o in base):
            return state.contents(base)      # an item of a list, tuple or dict, not a view of it
        return base | state.contents(base)

    def _attribute_objects(self, state: State, value, site) -> FrozenSet:
        chain = []
        node = value
        while isinstance(node, gast.Attribute):
            chain.append(node.attr)
            node = node.value
        if not isinstance(node, gast.Name) or node.id not in self.locals:
            return frozenset({EXT})
        objs = self.names(state, node)
        for k, attr_name in enumerate(reversed(chain)):
            if attr_name in registry.NONDIFF_ATTRIBUTES and not (
                    k == 0 and self.activity is not None and self.activity.user_receiver(node.id)):
                return frozenset()      # an array's metadata (an object of the user's class: its field)
            if attr_name in VIEW_ATTRIBUTES or attr_name == "__dict__":
                # (``o.__dict__`` is o's attributes: a write into it, ``o.__dict__["a"] = v``, changes
                # ``o.a``; was a new dict of its own, the write not seen: o.a kept its old value)
                objs = objs | state.contents(objs)
            else:
                objs = state.contents(objs)
                if k == 0 and node.id in self.owned_params:     # a class attribute where not set yet
                    objs = objs | state.env.get(unset_key(node.id, attr_name), frozenset())
        return objs

    def _literal_objects(self, state: State, value, site) -> FrozenSet:
        """``(a, b)``, ``[a, b]``, ``{"k": a}``: a new container holding the items."""
        (self.map_sites if isinstance(value, gast.Dict) else self.seq_sites).add(site)
        if isinstance(value, gast.List):
            self.list_sites.add(site)
        objs = frozenset()
        for v in (value.values if isinstance(value, gast.Dict) else value.elts):
            item = self.names(state, v)
            state.multi = state.multi | (objs & item)      # [a, a]
            objs |= item
        return self.fresh(state, site, objs)

    # --- calls --------------------------------------------------------------------------------
    def info(self, node: gast.Call):
        if self.activity is not None:
            return self.activity.call_info(node)
        return self._classify(node, self.resolver)

    def callee_name(self, node: gast.Call, info) -> str:
        obj = info.obj
        name = getattr(obj, "__name__", None) if obj is not None else None
        if name is None:
            f = node.func
            name = f.attr if isinstance(f, gast.Attribute) else getattr(f, "id", "")
        return name or ""

    def _argument_dict(self, state: State, node) -> bool:
        """Is ``node`` surely a dict, read off the kinds of the arguments: an item by constant keys of an
        argument (``p["enc"]``, ``p["layers"][0]``), or a name bound once to one (the normalizer's
        ``p_item = p["enc"]``, the user's ``enc = p["enc"]``), where the argument is never bound again and
        nothing has been stored into an object the function did not create.  (The gradients of such an x
        are then a dict of its keys, which ``for k in g: g[k] = ...`` walks by a new list of them: was
        refused as a write into what the loop walks, where ``dlgradient(loss, p)`` of the whole dict ran.)"""
        kind = self._argument_kind(state, node, item_only=True)
        return isinstance(kind, tuple) and len(kind) == 3 and kind[0] == "map" and kind[1] is dict

    def _argument_kind(self, state: State, node, item_only: bool = False):
        """The kind of what ``node`` holds where ``_argument_dict`` can read it off an argument's kind (the
        argument itself too, unless ``item_only``); None elsewhere."""
        if state.heap.get(EXT) != frozenset({EXT}) or state.escaped:
            return None
        path, seen = [], set()
        while True:
            if isinstance(node, gast.Subscript) and isinstance(node.slice, gast.Constant) and \
                    type(node.slice.value) in (str, int):
                path.append(node.slice.value)
                node = node.value
            elif isinstance(node, gast.Name) and node.id not in self.params and node.id not in seen:
                seen.add(node.id)
                node = self._bound_once(node.id)
            else:
                break
        if (item_only and not path) or not isinstance(node, gast.Name) or node.id not in self.params or \
                self._bound_once(node.id, count_only=True) != 0 or \
                state.env.get(node.id) != frozenset({("arg", node.id)}) or \
                state.heap.get(("arg", node.id)) != frozenset({EXT}):
            return None
        kind = self.kinds.get(node.id)
        for key in reversed(path):
            if not (isinstance(kind, tuple) and len(kind) == 3):
                return None
            if kind[0] == "map" and kind[1] is dict:
                kind = dict(kind[2]).get(key)
            elif kind[0] == "seq" and kind[1] in (list, tuple) and type(key) is int and \
                    -len(kind[2]) <= key < len(kind[2]):
                kind = kind[2][key]
            else:
                return None
        return kind

    def _nested_gradient_dicts(self, state: State, x, key) -> None:
        """The gradients of an argument's dict (or list) of dicts (``dlgradient(loss, params)`` of ``{"enc": {...},
        "dec": {...}}`` or ``[{"W": ...}, {"W": ...}]``): the items at a depth where every item of the argument is a dict are dicts of
        their keys (one object per depth, ``_gradient_items``), so ``for k in g["enc"]: g["enc"][k] = ...``
        walks a new list of keys (was refused as a write into what the loop walks)."""
        kinds = [self._argument_kind(state, x)]
        for depth in range(1, _GRADIENT_DEPTH):     # (not the deepest, which stands for all below it too)
            items = []
            for kind in kinds:
                if isinstance(kind, tuple) and len(kind) == 3 and kind[0] == "map" and kind[1] is dict:
                    items.extend(v for _, v in kind[2])
                elif isinstance(kind, tuple) and len(kind) == 3 and kind[0] == "seq" and kind[1] in (list, tuple):
                    items.extend(kind[2])       # (a list of layers' dicts: g[0], or layer of for layer in g)
                else:
                    return
            if not items or not all(isinstance(k, tuple) and len(k) == 3 and k[0] == "map" and k[1] is dict
                                    for k in items):
                return
            self.map_sites.add(("gradient items",) + key + (depth,))
            kinds = items

    def _bound_once(self, name: str, count_only: bool = False):
        """The value ``name`` is bound to by its one binding in the function, a plain ``name = value``
        (None: another binding, or several; a nested function declaring it nonlocal counts as several);
        ``count_only``: the number of its bindings."""
        bindings = self.__dict__.setdefault("_bindings", None)
        if bindings is None:
            bindings = {}
            for n in walk_no_defs(self.fdef):
                if isinstance(n, gast.Name) and isinstance(n.ctx, (gast.Store, gast.Del)):
                    bindings.setdefault(n.id, []).append(None)
            for n in walk_no_defs(self.fdef):
                if isinstance(n, gast.Assign) and len(n.targets) == 1 and isinstance(n.targets[0], gast.Name):
                    slots = bindings[n.targets[0].id]
                    if len(slots) == 1:
                        slots[0] = n.value
            for n in gast.walk(self.fdef):
                if isinstance(n, (gast.Nonlocal, gast.Global)):
                    for k in n.names:
                        bindings.setdefault(k, []).extend([None, None])
            self._bindings = bindings
        slots = bindings.get(name, [])
        if count_only:
            return len(slots)
        return slots[0] if len(slots) == 1 else None

    def _gradient_items(self, state: State, site, position) -> FrozenSet:
        """The items of the structure a dlgradient builds (of its ``position``-th x): one new object
        per depth, the deepest holding itself."""
        key = (site,) if position is None else (site, position)
        inner = ("gradient items",) + key + (_GRADIENT_DEPTH,)
        self.gradient_sites.add(inner)
        items = self.fresh(state, inner)
        state.heap[next(iter(items))] = items
        for depth in range(_GRADIENT_DEPTH - 1, 0, -1):
            inner = ("gradient items",) + key + (depth,)
            self.gradient_sites.add(inner)
            items = self.fresh(state, inner, items)
        return items

    def call_args(self, state: State, node: gast.Call) -> FrozenSet:
        objs = frozenset()
        for a in node.args:
            objs |= self.names(state, a)
        # (the key function of sorted/min/max is called, neither kept nor returned: a nested
        # function there, holding what it reads, does not make the result hold it)
        callee = self._resolved(node.func) if node.keywords else None
        key_only = any(callee is f for f in _KEY_CALLERS)
        for k in node.keywords:
            if not (key_only and k.arg == "key"):
                objs |= self.names(state, k.value)
        return objs

    def call_objects(self, state: State, node: gast.Call, site) -> FrozenSet:
        info = self.info(node)
        args = self.call_args(state, node)
        name = self.callee_name(node, info)
        receiver = frozenset()
        if isinstance(node.func, gast.Attribute) and isinstance(node.func.value, gast.Name) and \
                node.func.value.id in self.locals:
            receiver = self.names(state, node.func.value)
        elif isinstance(node.func, gast.Attribute) and isinstance(node.func.value, gast.Name) and \
                node.func.attr == "setdefault" and info.kind != CallKind.SITE:
            # G.setdefault("loss", []) of an outside dict: its item (an object from outside) or the default,
            # which it keeps (was: the default only, so `.append(float(y))` on it was made on a new list and
            # the global's list stayed empty; red57b F5)
            return args | state.contents(args) | frozenset({EXT})
        if info.kind == CallKind.SITE:
            wrt = node.args[1:]
            if name == "dlgradient" and wrt:
                one = len(wrt) == 1 and not isinstance(wrt[0], gast.Starred)
                of = self.names(state, wrt[0]) if one else frozenset()
                if one and of and (all(self.is_mapping(o) for o in of) or self._argument_dict(state, wrt[0])):
                    self.map_sites.add(site)     # the gradients of a dict: a new dict of its keys
                if one and of and all(self.is_sequence(o) for o in of):
                    self.seq_sites.add(site)     # of a list or tuple: a new one of its length
                several = not one and not all(self._surely_arrays(self.names(state, a)) for a in wrt)
                if several or of and not self._surely_arrays(of):
                    # its items (arrays, or dicts, lists and objects of them, to any depth) are new
                    # objects that it holds: a write into one (g["w"][0] = 0, or h = g["w"]; h *= 2,
                    # g.Value[0] = v, g.Learnables.Value[0] = v, gW, gX = dlgradient(y, W, X)) is a
                    # write into g (was: held by nothing, such a write was made on a copy and g kept
                    # its old value).  One object per depth, the deepest holding itself.
                    self.gradient_sites.add(site)
                    if several:
                        self.seq_sites.add(site)     # a tuple of one gradient per x
                    positions = len(wrt) if several and not any(isinstance(a, gast.Starred) for a in wrt) else 1
                    tops = [self._gradient_items(state, site, k if positions > 1 else None)
                            for k in range(positions)]
                    for k in range(positions):
                        if not isinstance(wrt[k], gast.Starred):
                            self._nested_gradient_dicts(state, wrt[k], (site, k) if positions > 1 else (site,))
                    if positions > 1:
                        self.positional[site] = tops      # g, h = dlgradient(y, p, q): g is the first's
                        for k, a in enumerate(wrt):       # (the gradients of a dict: a dict...)
                            of_k = self.names(state, a)
                            top = ("gradient items", site, k, 1)
                            if of_k and (all(self.is_mapping(o) for o in of_k) or self._argument_dict(state, a)):
                                self.map_sites.add(top)
                            elif of_k and all(self.is_sequence(o) for o in of_k):
                                self.seq_sites.add(top)
                    return self.fresh(state, site, frozenset().union(*tops))
            return self.fresh(state, site)
        copy_false = any(k.arg == "copy" and not (isinstance(k.value, gast.Constant) and k.value.value)
                         for k in node.keywords)
        if info.kind == CallKind.OP:
            objs = self._container_call(state, node, name, args, receiver, site)
            if objs is not None:
                return objs
        if name == "inplace_result" and node.args:
            return self.names(state, node.args[0])    # the new value (the old one was unshared)
        if name == "bind_closure" and self._resolved(node.func) is _bind_closure:
            # a nested function as a value (sct/closures.py): it holds the objects it reads and reads
            # them when called, so a later change of one in place is seen through it while it is live
            # (was: a new object holding nothing: `g = f; w[0] = v; g(...)` read the old w)
            objs = self.fresh(state, site, frozenset(state.reach(args)))
            if len(node.args) > 3 and isinstance(node.args[3], gast.Tuple):     # (its names: closure_rebound)
                for e in node.args[3].elts:
                    self.closures_reading.setdefault(getattr(e, "value", None), set()).update(objs)
            return objs
        if _number_result(node, info, name) and not self._mutable_scalar(node, info):
            return frozenset()                   # a number: immutable, `+=` rebinds it
        if info.kind in _OP_KINDS:
            if not receiver and not args and isinstance(info.obj, type) and new_instance_class(info.obj):
                # Acc() given nothing traced (a call sct runs as it is): a new object of the user's class
                # too (was: not one, so ``o.w[0] -= 1.0`` after ``o.w = w + 0.0`` was not followed into o.w
                # as a dict item's is, and was refused, fuzz53 R1)
                self.instance_sites.add(site)
                self.bare_instance_sites.add(site)
            return self._op_call(state, info, name, args, receiver, copy_false, site, node)
        if info.kind == CallKind.METHOD and (info.method in registry.METHODS or info.method in MUTATORS or
                                             info.method in registry.NONDIFF_METHODS or
                                             info.method in VIEW_METHODS or info.method == "copy"):
            return self._method_call(state, info, args, receiver, copy_false, site)
        if info.kind in (CallKind.PLAIN, CallKind.FUNCTION) and not receiver and new_instance_class(info.obj):
            # Box(...) of a class whose __init__ keeps self to itself: a new object (the
            # arguments may be stored in it: its contents may be anything)
            reached = frozenset(state.reach(args))
            self.instance_sites.add(site)
            if _fields_given(info.obj):
                # a dataclass whose generated __init__ sets each field to its argument or to a number:
                # it holds what it is given and keeps it nowhere else (was: anything, kept anywhere, so
                # ``st.acc += v`` after ``st.acc = st.acc + w`` on ``st = St(h, 0.0)`` was refused as a
                # change of an outside object, fuzz51 F3)
                return self._note_holding(state, node, info, self.fresh(state, site, reached), args)
            state.escaped = state.escaped | reached
            # (``holder(c)`` of a class named in lower case: the gate's vocabulary knows capitalised names only)
            return self._note_holding(state, node, info, self.fresh(state, site, reached | frozenset({EXT})), args)
        if info.kind == CallKind.PLAIN and not receiver and any(info.obj is c for c in _NEW_LIBRARY_OBJECTS):
            # np.random.default_rng(0): a new object that holds none of its arguments; what its
            # methods return is new too (rng.normal(): numbers or a new array, never the generator)
            # (was: may be anything, so rng.normal() after a differentiated operation was refused)
            self.library_sites.add(site)
            return self.fresh(state, site)
        if info.kind == CallKind.METHOD and receiver and \
                all(o[0] in ("new", "old") and o[1] in self.library_sites for o in receiver):
            return self.fresh(state, site)
        if info.kind == CallKind.PLAIN or info.kind == CallKind.FUNCTION and info.obj is None and \
                self.resolver is not None and _ufunc_method(_chain_resolved(self.resolver, node.func)):
            # (np.add.at(z, i, v), a ufunc's method, resolves to no function: it keeps nothing it is
            # given, as np.copyto; was read as a user's call that may keep z, so np.add.at(z, ...) in
            # a loop was refused: "z ... no other name shares", of a z nothing else shares)
            return self._note_holding(state, node, info, self._plain_call(state, name, args, receiver, site),
                                      args | receiver)
        if info.kind == CallKind.FUNCTION and not receiver and \
                any(info.obj is f for f in (_network.forward, _network.predict)):
            objs = self._network_call(state, node, info, args, receiver, site)
            if objs is not None:
                return objs
        return self._note_holding(state, node, info, self._user_call(state, node, info, args, receiver, site),
                                  args | receiver)

    def _note_holding(self, state: State, node: gast.Call, info, objs, given) -> FrozenSet:
        """``objs`` (what the call ``node`` of a user's function or a library's gives), after noting ``node`` in
        ``holding_calls`` where they may reach what it was given (``given``) and the callee's source does not show
        that every return holds no object (``returns_may_hold``: ``make(c)`` returning ``{"c": c}`` may hold c;
        ``attend(hs, W)`` returning ``sum(...) / len(hs)`` holds nothing).  (Was: a call not in the gate's
        vocabulary was taken to hold nothing, so ``c.d = make(c); c.h = v`` then ``c.d["c"].h`` read the write
        through a path sct followed apart from c: half the gradient, red2_54.)"""
        if given and given & frozenset(state.reach(objs)):
            fn = info.obj if isinstance(info.obj, types.FunctionType) else \
                self._nested_function(node.func.id) if isinstance(node.func, gast.Name) else \
                self._argument_method(state, node.func)
            if fn is None or returns_may_hold(fn):
                self.holding_calls.add(id(node))
        return objs

    def _argument_method(self, state: State, func) -> Optional[types.FunctionType]:
        """The plain function ``c.act`` calls where c is an argument of a user's class (``("obj", cls, fields)``)
        whose class defines ``act`` as a method, neither a field of the instance nor set here; or None."""
        if not (isinstance(func, gast.Attribute) and isinstance(func.value, gast.Name)):
            return None
        objs = state.env.get(func.value.id, frozenset())
        kinds = {self.kinds.get(o[1]) if o != EXT and o[0] == "arg" else None for o in objs}
        kind = kinds.pop() if len(kinds) == 1 else None
        if not (isinstance(kind, tuple) and len(kind) > 2 and kind[0] == "obj" and isinstance(kind[1], type) and
                isinstance(kind[2], tuple)) or kind[1].__getattribute__ is not object.__getattribute__ or \
                func.attr in {f[0] for f in kind[2] if isinstance(f, tuple) and f} or \
                any(isinstance(n, gast.Attribute) and n.attr == func.attr and not isinstance(n.ctx, gast.Load)
                    for n in walk_nodes(self.fdef)):
            return None
        fn = inspect.getattr_static(kind[1], func.attr, None)
        return fn if isinstance(fn, types.FunctionType) else None

    def _made_method(self, func) -> Optional[types.FunctionType]:
        """The plain function ``c.act`` calls where ``c`` is bound once here, to ``Cls(...)`` of a user's class
        that defines ``act`` as a method, and no code of the class may set a field ``act`` on its objects (none of
        its functions names ``act``: a field would be read before the method); or None."""
        if not (isinstance(func, gast.Attribute) and isinstance(func.value, gast.Name)) or \
                func.value.id in self.params:
            return None
        value = self._bound_once(func.value.id)
        if not (isinstance(value, gast.Call) and isinstance(value.func, (gast.Name, gast.Attribute))):
            return None
        cls = self._resolved(value.func)
        if not isinstance(cls, type) or cls.__getattribute__ is not object.__getattribute__ or \
                getattr(cls, "__getattr__", None) is not None or type(cls) is not type or \
                any(isinstance(n, gast.Attribute) and n.attr == func.attr and not isinstance(n.ctx, gast.Load)
                    for n in walk_nodes(self.fdef)):
            return None
        fn = inspect.getattr_static(cls, func.attr, None)
        if not isinstance(fn, types.FunctionType) or library_code(fn):
            return None
        for k in cls.__mro__[:-1]:
            for v in vars(k).values():
                v = getattr(v, "__func__", v)
                for f in ([v.fget, v.fset] if isinstance(v, property) else [v]):
                    code = getattr(f, "__code__", None)
                    if code is not None and _sets_attribute(code, func.attr):
                        return None     # (``self.act = ...`` somewhere in the class: maybe a field)
        return fn

    def _network_call(self, state: State, node: gast.Call, info, args, receiver, site) -> Optional[FrozenSet]:
        """sct's ``forward(net, X)`` / ``predict(net, X)`` without ``Outputs=``: the output ``Y`` is a new
        array (the runner copies every output: runtime/network.py), so MATLAB's ``YReal(:,:,:,idx) = 1 -
        YReal(:,:,:,idx)`` of a discriminator's output writes into nothing else (was: taken for what may be
        the network or X, and refused); the state table of ``Y, state = forward(...)`` may hold anything
        the arguments hold.  None: another form (``Outputs=``, ``nargout`` not a literal): the general rule."""
        keywords = {k.arg: k.value for k in node.keywords}
        if any(k is None or k.startswith("_") or k == "Outputs" for k in keywords) or \
                any(isinstance(a, gast.Starred) for a in node.args):
            return None
        nargout = 2 if info.obj is _network.forward else 1
        if "nargout" in keywords:
            v = keywords["nargout"]
            if not (isinstance(v, gast.Constant) and type(v.value) is int):
                return None
            nargout = v.value
        if nargout not in (1, 2):
            return None
        reached = frozenset(state.reach(args))
        state.escaped = state.escaped | reached
        # (several outputs of a network come as a tuple of new arrays)
        self.array_sites.add(("network output", site))
        outputs = self.fresh(state, ("network outputs", site), self.fresh(state, ("network output", site)))
        if nargout == 1:
            return outputs
        self.seq_sites.add(site)
        self.positional[site] = [outputs, reached | frozenset({EXT})]
        return self.fresh(state, site, outputs | reached | frozenset({EXT}))

    def _container_call(self, state: State, node: gast.Call, name: str, args, receiver, site):
        """An op that makes a new list, tuple or dict (None: not one).  Not numpy's ``np.copy(a)``,
        named as ``copy.copy``: a new array (was taken for a copy of a container holding a's items,
        never marked an array, so ``out = np.copy(x * 2.0); for i ...: out[i] *= np.tanh(0.9)`` was
        refused as a change of an item out may hold twice)."""
        info_obj = self.info(node).obj
        maps = frozenset(o for o in args if self.is_mapping(o))
        if name in ("as_sequence", "list", "tuple", "sorted", "set") and \
                len(node.args) == 1 and not node.keywords and not receiver and maps and \
                (maps == args or self._dict_view(node.args[0]) and args - maps <= state.contents(maps)):
            # (a view bound to a name first, ``vals_values = d.values()``, holds d and d's values: the
            # list of it holds d's values, not d; was taken for a copy holding d itself, so a later
            # ``d["a"] = v`` was refused as a change of what the list holds)
            args = maps
            if name != "as_sequence":
                self.seq_sites.add(site)
            if self._dict_view(node.args[0]):
                # list(d.values()), list(d.items()), a loop or comprehension walking one: a new list
                # of d's values (and of (key, value) pairs holding them), not of d itself (a write
                # into d while a loop walks its view is checked on its own: sct/normalize_loops.py)
                values = state.contents(args)
                pairs = self.fresh(state, ("dict view pairs", site), values)
                return self.fresh(state, site, values | pairs)
            # a new list of a dict's keys (hashable: never one of its values): `for k in d`, list(d)
            return self.fresh(state, site)
        if name in ("sorted_value", "sorted_array") and args and self._surely_arrays(args):
            return None          # z.sort() of an array: a new array (no items)
        if name in CONTAINER_COPIES and name != "as_sequence" and not (
                info_obj is np.copy and len(node.args) == 1 and self._numeric_expr(state, node.args[0], 0)):
            # a new list, tuple or dict holding the items (or the rows of an array argument)
            objs = args | receiver
            if name in SEQUENCE_MAKERS:
                self.seq_sites.add(site)
            elif name in ("dict", "dict_merged", "without_key", "dict_or", "ordered_dict"):
                self.map_sites.add(site)
            held = objs | state.contents(objs)
            if name in ("dict", "ordered_dict"):
                # dict(pairs): its values are the items of the pairs, one level further down
                # (`d = dict(zip("ab", M))`: d["a"] is a row of M; was the pair, so a write
                # d["a"][0] = v was not seen to change M: a wrong value and gradient)
                held = held | state.contents(held)
            return self.fresh(state, site, held)
        return None

    def _dict_view(self, node) -> bool:
        """May ``node`` be ``d.values()`` or ``d.items()`` (or a name bound to one): its objects are
        the dict's (and, of a dict of dicts, its items'), but walking it gives the values, not the
        keys (``list(d.values())`` holds d's values: was taken for ``list(d)``, a new list holding
        nothing, so `for layer in list(params.values()): layer["w"] = ...` and `gl = list(g.values());
        gl[0] *= 2` of a dlgradient's dict were not seen to change the dict: red team L, dec 26,
        a silently wrong value and gradient)."""
        def is_view_call(v):
            return isinstance(v, gast.Call) and isinstance(v.func, gast.Attribute) and \
                v.func.attr in ("values", "items")
        if is_view_call(node):
            return True
        if not isinstance(node, gast.Name):
            return False
        views = self.__dict__.setdefault("_dict_view_names", None)
        if views is None:
            views = set()
            for n in walk_no_defs(self.fdef):
                if isinstance(n, gast.Assign) and is_view_call(n.value):
                    views |= {t.id for t in n.targets if isinstance(t, gast.Name)}
                elif isinstance(n, gast.Assign) and isinstance(n.value, gast.Name):
                    # (a copy of such a name: ``vals = d_values``)
                    views |= {t.id for t in n.targets if isinstance(t, gast.Name)} if \
                        n.value.id in views else set()
            self._dict_view_names = views
        return node.id in views

    def _op_call(self, state: State, info, name: str, args, receiver, copy_false: bool, site,
                 node: gast.Call) -> FrozenSet:
        """An op sct differentiates or knows: a view of its arguments, or a new value."""
        if name == "as_sequence" and args and all(self.is_sequence(o) for o in args) and not receiver:
            return args          # for r in L: what the loop walks is the list or tuple L itself
        if info.obj is not None and any(info.obj is f for f in _OPERATOR_VIEWS):
            # operator.getitem(M, 0): M[0], a view of M (or an item of a list) -- was a new value,
            # so a write into it was not seen to change M: a wrong value and gradient
            objs = args | receiver
            return objs | state.contents(objs)
        if info.obj is not None and any(info.obj is f for f in _OPERATOR_JOINS):
            # operator.add(l1, l2), operator.mul([a], 2): a new list holding the operands' items
            return self.fresh(state, site, state.contents(args | receiver))
        if name == "sum" and info.obj is sum and not receiver:
            # Python's sum of lists concatenates them: a new list holding their items (`l = sum([[a],
            # [b]], [])`: l[0] is a; was a new value holding nothing, so a write l[0][1] = v was not
            # seen to change a: a wrong value and gradient); of numbers or arrays, a new value
            start = node.args[1] if len(node.args) == 2 and not node.keywords else \
                node.keywords[0].value if len(node.args) == 1 and len(node.keywords) == 1 and \
                node.keywords[0].arg == "start" else None
            if start is not None and not isinstance(start, (gast.List, gast.Tuple, gast.Starred)) and \
                    self._numeric_expr(state, start, 0) and self._surely_arrays(self.names(state, start)):
                # sum(acc, np.zeros(4)): the start array plus the items, a new array of numbers
                # (was taken for a list that may hold acc's items, so `h = sum(acc, np.zeros(4));
                # h[[0, 2]] *= v` in a loop was refused as a change of an item h may hold twice)
                # (sum([], z) is z itself: the result may be the start object)
                self.array_sites.add(site)
                return self.fresh(state, site) | self.names(state, start)
            held = state.contents(args)
            return self.fresh(state, site, held | state.contents(held))
        if name == "einsum" and not copy_false and not receiver and _einsum_operands(node) > 1:
            # np.einsum('ij,jk->ik', a, b): a new array, of numbers where the operands hold numbers
            # (was not marked one: `h = np.einsum(...)` on a path, then `h[[0, 2]] *= v` in a loop was
            # refused as a change of an item h may hold twice)
            if not _object_dtype(node) and not self._may_make_objects(state, node):
                self.array_sites.add(site)
            return self.fresh(state, site)
        if name == "diff" and not receiver and _diff_order_positive(node):
            self.array_sites.add(site)
            return self.fresh(state, site)       # np.diff(z), np.diff(z, 2): a new array
        if name in _FFT_IDENTITIES and not receiver and not self._fft_transforms(info, node):
            # np.fft.fftn(z) of a 0-d z, np.fft.fft2(z, axes=()): numpy transforms no axis and returns z
            # itself (was a new array: `v = np.fft.fftn(z); v[...] = 5.0` left z unchanged, a wrong value)
            self.array_sites.add(site)
            return args | state.contents(args) | self.fresh(state, site)
        if name in VIEW_FUNCTIONS or copy_false or info.kind in (CallKind.STOP, CallKind.CREATE):
            objs = args | receiver
            if name in _NEW_FROM_NON_ARRAYS and not receiver and not copy_false and args and \
                    all(o[0] in ("new", "old") and self.is_sequence(o) for o in args) and \
                    not _object_dtype(node) and not self._may_make_objects(state, node):
                # np.asarray([a, 2 * a]) of a list of numbers: a new array of numbers, not the list (was:
                # taken to hold the list's items, so a view of its .copy() written into was refused, fuzz52 R1)
                self.array_sites.add(site)
                return self.fresh(state, site)
            if name in _NEW_FROM_NON_ARRAYS and not receiver and not copy_false:
                # np.asarray(s) of a number or a list is a new array (0-d for a number), which
                # changes in place (`a = np.asarray(np.sum(x)); b = a; b *= 2` changes a: was
                # taken for the number itself, which holds no object, so a kept its old value)
                self.array_sites.add(site)
                return objs | state.contents(objs) | self.fresh(state, site)
            return objs | state.contents(objs)
        if info.kind in (CallKind.OP, CallKind.NONDIFF) and info.obj is not None and (_object_dtype(node) or any(
                k.arg == "dtype" and not self._numeric_dtype(state, k.value) for k in node.keywords)):
            # np.array([M[0], None], dtype=object): an array of references to the objects given
            # (was a new value holding nothing: arr[0][1] = v was not seen to change M; and of a dtype sct cannot
            # read, the normalizer's ``dtype=np_object_``: ``c.d = np.array(t, dtype=np.object_)`` of t = [c, 1],
            # an internal error in the gradient where c then holds itself, gate55)
            objs = args | receiver
            return self.fresh(state, site, objs | state.contents(objs))
        if info.kind in (CallKind.OP, CallKind.NONDIFF) and info.obj is not None and \
                not _object_dtype(node) and not self._may_make_objects(state, node):
            from .analysis import returns_array
            if returns_array(info.obj):   # np.zeros(...) too: `y[0] = x` copies x's numbers
                self.array_sites.add(site)
        return self.fresh(state, site)

    def _fft_transforms(self, info, node: gast.Call) -> bool:
        """Does a call of np.fft.fftn / ifftn / fft2 / ifft2 surely transform an axis (a new array)?
        Its ``s`` or ``axes`` a non-empty tuple or list written out, fft2's default axes, or fftn's
        first argument a name of rank 1 or more."""
        if info.obj not in _FFT_IDENTITY_OPS or any(isinstance(a, gast.Starred) for a in node.args) or \
                any(k.arg is None for k in node.keywords):
            return False
        given = dict(zip(("a", "s", "axes"), node.args[:3]))
        given.update({k.arg: k.value for k in node.keywords})

        def written(v):     # the tuple written out, or the one binding of the name it is kept in (axes=(0,))
            if isinstance(v, gast.Name):
                nodes = list(walk_no_defs(self.fdef))
                bound = [n.value for n in nodes if isinstance(n, gast.Assign) and len(n.targets) == 1 and
                         isinstance(n.targets[0], gast.Name) and n.targets[0].id == v.id]
                stores = [n for n in nodes if isinstance(n, gast.Name) and n.id == v.id and
                          not isinstance(n.ctx, gast.Load)]
                v = bound[0] if len(bound) == 1 and len(stores) == 1 and v.id not in self.params else v
            return isinstance(v, (gast.Tuple, gast.List)) and bool(v.elts) and \
                not any(isinstance(e, gast.Starred) for e in v.elts)
        if any(written(v) for k, v in given.items() if k in ("s", "axes")):
            return True
        if "axes" in given and not (isinstance(given["axes"], gast.Constant) and given["axes"].value is None):
            return False        # (axes=() or a name: may be none)
        if info.obj in (np.fft.fft2, np.fft.ifft2):
            return True         # (axes (-2, -1): numpy raises for fewer dimensions)
        a = given.get("a")
        return isinstance(a, gast.Name) and bool(self.ranks.get(a.id)) and "s" not in given

    def _method_call(self, state: State, info, args, receiver, copy_false: bool, site) -> FrozenSet:
        """A method of an array, list or dict sct knows."""
        if info.method in ("ravel", "__array__", "reshape") and not copy_false and \
                not any(self.is_sequence(o) or self.is_mapping(o) for o in receiver):
            # s.ravel() of a number (np.float64) is a new array; of an array, a view of it (or a copy)
            self.array_sites.add(site)
            return receiver | args | state.contents(receiver | args) | self.fresh(state, site)
        if info.method in ("keys", "items", "values") and receiver and \
                all(o[0] in ("new", "old") and o[1] in self.gradient_sites for o in receiver):
            return receiver          # a loop over a gradient dict's keys or items (as before its items were known)
        if info.method == "keys" and receiver and all(o[0] in ("new", "old") and self.is_mapping(o) for o in receiver):
            # d.keys() of a dict the function made: a view of d, walked as d is (`for k in d.keys(): d[k] =
            # ...` was refused as a write into what the loop walks, where `for k in d:` ran)
            return receiver
        if info.method in ("astype", "flatten") and not copy_false and (
                self._array_objects(info, receiver) or self._argument_item_receiver(state, info, receiver)):
            # (numpy's astype and flatten of a numeric array always make a new array: was taken for
            # a view, so `a = x.astype(np.float32); a[1] = v` was refused as a write into x)
            self.array_sites.add(site)
            return self.fresh(state, site)
        if info.method in ("pop", "setdefault") and receiver and \
                all(o[0] in ("new", "old") and (self.is_sequence(o) or self.is_mapping(o)) for o in receiver):
            # a list's or dict's pop / setdefault hands out one of its items, or the default given
            # (was: the list itself, so `v = L.pop(0)` in a loop made v seem to share L)
            return state.contents(receiver) | args
        if info.method in VIEW_METHODS or copy_false:
            objs = receiver | args
            return objs | state.contents(objs)
        if info.method == "copy":
            if self._array_objects(info, receiver) or self._argument_item_receiver(state, info, receiver):
                self.array_sites.add(site)       # x.copy() of an array: an array (numbers, no objects)
                # (it holds no objects: was given the argument's contents, "anything", so that a
                # view b[1:] of b = x.copy() seemed an object the function did not create)
                return self.fresh(state, site)
            return self.fresh(state, site, state.contents(receiver))
        if info.method in MUTATORS:          # pop and friends hand out an item
            return state.contents(receiver) | frozenset({EXT} if not receiver else ())
        return self.fresh(state, site)

    def _argument_item_receiver(self, state: State, info, receiver) -> bool:
        """Is the receiver of ``x.copy()`` (``x.astype(t)``) a name bound once to an item of an argument
        (through second names bound once) that the argument's kind says is a numeric array, and that the
        function has not replaced (``w0 = p["W"]``, ``w0, b0 = p``, ``w0, *rest = p``)?  Its copy is then a
        new array of numbers (was: a copy of anything, so a view of ``t = w0.copy()`` written into was
        refused as a change of an object the function did not create, fuzz53 R2)."""
        name = getattr(info, "receiver", None)
        if not name or receiver != frozenset({EXT}):
            return False
        value = None
        for _ in range(4):
            value = self._bound_once(name)
            if not isinstance(value, gast.Name) or value.id in self.params:
                break
            name = value.id
        return isinstance(value, gast.Subscript) and isinstance(value.slice, gast.Constant) and \
            self._numeric_argument_item(state, value.value, value.slice.value)

    def _nested_function(self, name: str):
        """A function object for the nested ``def name`` of this function where ``name`` is bound by
        that def only (its code, the module's globals, empty cells for what it reads from here): for
        ``keeps_arguments`` and ``_returns_fresh``, which read its source.  None: not one."""
        cache = self.__dict__.setdefault("_nested_functions", {})
        if name in cache:
            return cache[name]
        cache[name] = None
        outer = getattr(self.resolver, "fn", None)
        defs = [n for n in gast.walk(self.fdef) if isinstance(n, gast.FunctionDef) and n.name == name and
                n is not self.fdef]
        if outer is None or len(defs) != 1 or not isinstance(getattr(outer, "__code__", None), types.CodeType):
            return None
        stores = sum(1 for n in walk_no_defs(self.fdef) if isinstance(n, gast.Name) and n.id == name and
                     isinstance(n.ctx, (gast.Store, gast.Del)))
        if stores or defs[0].decorator_list or name in self.params:
            return None
        code = _nested_code(outer, name, getattr(defs[0], "lineno", None))
        if code is None:
            return None
        try:
            fn = types.FunctionType(code, outer.__globals__, name, None,
                                    tuple(types.CellType() for _ in code.co_freevars))
        except Exception:
            return None
        cache[name] = fn
        return fn

    def _array_objects(self, info, receiver) -> bool:
        """Are the objects ``receiver`` may hold surely arrays (an array argument, an array this
        function made, a name the activity analysis knows holds an array)?"""
        act = self.activity
        if act is not None and getattr(info, "receiver", None) in act.arrays and \
                all(o == EXT or self._surely_arrays({o}) for o in receiver):
            return True         # (an array the function made may hold objects: np.full(n, None).copy())
        return self._surely_arrays(receiver)

    def _may_make_objects(self, state: State, node: gast.Call, depth: int = 0) -> bool:
        """May the array ``node`` makes hold objects (references) though no ``dtype=object`` is
        written: a dtype sct cannot read (``dtype=dt``, ``np.dtype('O')``), a value that may be None
        or an object (``np.full(n, None)``, ``np.array([1.0, d["k"]])``, a list appended to), or an
        argument that may be an object array (``np.empty_like(boxes)``)?"""
        for k in node.keywords:
            if k.arg == "dtype" and not self._numeric_dtype(state, k.value):
                return True
        if not hasattr(self, "_once"):
            self._once = _bound_once(self.fdef)
        params = _parameter_list(self.info(node).obj)
        for i, v in enumerate(node.args):
            name = params[i] if i < len(params) else None
            if i == 0 and self._joined_numeric_list(state, node, v):
                continue
            if not (isinstance(v, gast.Constant) and v.value is None and name in _SETTINGS) and \
                    not self._numeric_expr(state, v, depth):
                return True
        for k in node.keywords:
            if k.arg != "dtype" and not (isinstance(k.value, gast.Constant) and k.value.value is None and
                                         k.arg in _SETTINGS) and not self._numeric_expr(state, k.value, depth):
                return True
        return False

    def _joined_numeric_list(self, state: State, node: gast.Call, v) -> bool:
        """Is ``v`` the list or tuple ``np.stack(v)`` (concatenate, vstack, ...) joins, one this function
        made (``np.stack([w[i] * 2 for i in ...])``, bound again in the loop) whose objects are surely
        numeric arrays?  The joined array then holds numbers, or copies of immutable items (None, a
        string): never a reference (unlike ``np.array([z, None])``, which holds a 0-d z itself).  (Was:
        such a list not bound once seemed to hold anything, so ``t = np.stack(...).copy()`` seemed a
        shallow copy of a list, and a write into t was refused, fuzz53 R2/r4.)"""
        if not isinstance(v, gast.Name) or self.info(node).obj not in _JOINS:
            return False
        objs = self.names(state, v)
        return bool(objs) and all(o != EXT and o[0] in ("new", "old") and self.is_sequence(o) for o in objs) and \
            all(self._numeric_object(o) for o in state.contents(objs))

    def _numeric_expr(self, state: State, e, depth: int) -> bool:
        """Is ``e`` surely a number, a string, a numeric array, or a tuple or list of them (never None,
        never an object that an array of objects would hold by reference)?"""
        if depth > 12:
            return False
        if not hasattr(self, "_once"):
            self._once = _bound_once(self.fdef)
        if isinstance(e, gast.Constant):
            return e.value is not None
        if isinstance(e, (gast.Tuple, gast.List)):
            return all(self._numeric_expr(state, x, depth + 1) for x in e.elts)
        if isinstance(e, gast.Starred):
            return self._numeric_expr(state, e.value, depth + 1)
        if isinstance(e, gast.Name):
            objs = self.names(state, e)
            if objs and all(self._numeric_object(o) for o in objs):
                return True             # a numeric array, an argument holding numbers
            if objs == frozenset({EXT}) and (_numbers(self._resolved(e)) or isinstance(self._resolved(e), tuple) and
                                             all(_numbers(x) for x in self._resolved(e))):
                return True
            if objs == frozenset({EXT}) and not (e.id in self._once and e.id not in self.params and
                                                 isinstance(self._once[e.id], (gast.Subscript, gast.Attribute))):
                return False
            if e.id in self._once and e.id not in self.params:
                value = self._once[e.id]
                if isinstance(value, gast.List) and _changed_in_place(self.fdef, e.id):
                    return False        # (lst = []; lst.append(None))
                return self._numeric_expr(state, value, depth + 1)
            return not objs and _range_target(self.fdef, e.id)
        if isinstance(e, gast.BinOp):
            return self._numeric_expr(state, e.left, depth + 1) and self._numeric_expr(state, e.right, depth + 1)
        if isinstance(e, gast.UnaryOp):
            return self._numeric_expr(state, e.operand, depth + 1)
        if isinstance(e, gast.Compare):
            return True                 # a bool, or an array of them
        if isinstance(e, gast.BoolOp):
            return all(self._numeric_expr(state, x, depth + 1) for x in e.values)
        if isinstance(e, gast.IfExp):
            return self._numeric_expr(state, e.body, depth + 1) and self._numeric_expr(state, e.orelse, depth + 1)
        if isinstance(e, gast.Subscript):
            if self._numeric_argument_item(state, e.value, e.slice.value if isinstance(e.slice, gast.Constant)
                                           else None):
                return True                 # p["w"] of a dict argument whose "w" is a numeric array
            return self._numeric_expr(state, e.value, depth + 1)     # x[0] of a numeric array: a number
        if isinstance(e, gast.Attribute):
            if self._numeric_argument_item(state, e.value, e.attr):
                return True                 # p.w of a dataclass (or object) argument holding an array there
            return e.attr in ("shape", "size", "ndim", "T", "mT", "real", "imag", "dtype") and \
                self._numeric_expr(state, e.value, depth + 1)
        if isinstance(e, gast.Call):
            f = e.func
            if isinstance(f, gast.Name) and f.id in ("len", "int", "float", "complex", "bool", "round", "abs") and \
                    f.id not in self.locals:
                return True
            info = self.info(e)
            if info.kind == CallKind.METHOD and isinstance(f, gast.Attribute) and f.attr != "astype" and \
                    (f.attr in registry.METHODS or f.attr in VIEW_METHODS or f.attr == "copy") and \
                    f.attr not in ("get", "pop", "setdefault", "values", "items", "keys"):
                return self._numeric_expr(state, f.value, depth + 1) and \
                    all(self._numeric_expr(state, a, depth + 1) for a in e.args)
            if info.kind in (CallKind.OP, CallKind.NONDIFF) and info.obj is not None and not _object_dtype(e):
                from .analysis import returns_array
                return returns_array(info.obj) and not self._may_make_objects(state, e, depth + 1)
            return False
        return False

    def _numeric_argument_item(self, state: State, base, key) -> bool:
        """Is ``base[key]`` (``base.key``) the item of a dict (dataclass, object) argument that its
        kind says is a number or a numeric array, and that the function has not replaced (the
        argument holds only what the caller gave it)?  ``np.zeros_like(p["w"])`` is then a new numeric
        array, whose items are numbers (was: taken for a container that may hold objects, so
        ``out = np.zeros_like(p["w"]); for i in ...: out[i] *= v`` was refused as a change of an item
        that ``out`` may hold twice)."""
        if key is None or not isinstance(base, gast.Name) or base.id not in self.params:
            return False
        objs = self.names(state, base)
        if not objs or any(o == EXT or o[0] != "arg" for o in objs):
            return False
        if any(c != EXT for c in state.contents(objs)):
            return False                    # something was stored into it here
        for o in objs:
            kind = self.kinds.get(o[1])
            if isinstance(kind, tuple) and kind[:1] == ("seq",) and len(kind) > 2 and isinstance(kind[2], tuple) and \
                    type(key) is int and -len(kind[2]) <= key < len(kind[2]):
                kinds = [kind[2][key]]      # p[0] of a list or tuple argument (`w0, b0 = p`)
            elif not (isinstance(kind, tuple) and kind[:1] in (("map",), ("obj",))):
                return False
            else:
                kinds = _element_kinds_of(kind, key)
            if not kinds or not all(_numbers_kind(k) for k in kinds):
                return False
        return True

    def _numeric_object(self, o) -> bool:
        """Is the object ``o`` surely a numeric array, or an argument holding numbers only?"""
        return self._surely_arrays({o}) or o != EXT and o[0] == "arg" and _numbers_kind(self.kinds.get(o[1]))

    def _numeric_dtype(self, state: State, v) -> bool:
        """Is ``v`` a dtype written so that sct can read it holds numbers (``float``, ``np.float32``,
        ``"f4"``, ``x.dtype`` of a numeric array)?"""
        if isinstance(v, gast.Attribute) and v.attr == "dtype" and isinstance(v.value, gast.Name) and \
                v.value.id in self.locals | set(self.params):
            return self._surely_arrays(self.names(state, v.value))
        if isinstance(v, gast.Name) and v.id in self.locals:
            if not hasattr(self, "_once"):
                self._once = _bound_once(self.fdef)
            once = self._once.get(v.id)      # (np_float64 = np.float64, hoisted by normalize)
            return once is not None and not isinstance(once, gast.Name) and self._numeric_dtype(state, once)
        value = v.value if isinstance(v, gast.Constant) else self._resolved(v)
        if value is None or not isinstance(value, (str, type, np.dtype)) or \
                isinstance(v, gast.Constant) and not isinstance(value, str):
            return False
        try:
            return not np.dtype(value).hasobject
        except TypeError:
            return False

    def _resolved(self, node):
        """The value of a global name or attribute (``np.float32``, ``N``), or None where sct cannot tell."""
        if not isinstance(node, (gast.Name, gast.Attribute)) or self.resolver is None:
            return None
        try:
            value = self.resolver.resolve(node)
        except Exception:       # (a resolver that cannot read it: not known)
            return None
        from .analysis import Unresolved, _MISSING
        return None if value is Unresolved or value is _MISSING else value

    def _surely_arrays(self, objs) -> bool:
        """Are ``objs`` (not none) surely numeric arrays: array arguments, arrays this function made
        (holding numbers, never objects)?"""
        if not objs:
            return False
        for o in objs:
            if o == EXT:
                return False
            if o[0] == "arg":
                kind = self.kinds.get(o[1])
                if not (isinstance(kind, tuple) and kind[:1] in (("dl",), ("nd",)) and
                        len(kind) > 1 and isinstance(kind[1], str) and not np.dtype(kind[1]).hasobject):
                    return False        # (an object array, or a structured one with an object field, holds objects)
            elif not (o[0] in ("new", "old") and o[1] in self.array_sites):
                return False
        return True

    def _plain_call(self, state: State, name: str, args, receiver, site) -> FrozenSet:
        """A call run as it is (a builtin, a function of another library)."""
        if name in ("zip", "enumerate"):
            # an iterator whose tuples hold the items of what it is given (was: a value holding
            # nothing, so `it = enumerate(ps); for i, p in it: p[0] = v`, `list(zip(d.values()))`,
            # `[*zip(L)]` or `max(zip(L, s))[0]` written into was not seen to change ps or L: red
            # team L, dec 26, a silently wrong value and gradient)
            return self.fresh(state, site, args | state.contents(args))
        if name in IMMUTABLE_BUILTINS:
            return frozenset()
        if name in COPY_BUILTINS:
            return self.fresh(state, site, args | state.contents(args))
        objs = args | receiver
        return self.fresh(state, site, objs | state.contents(objs)) | objs | state.contents(objs) | \
            frozenset({EXT})

    def _user_call(self, state: State, node: gast.Call, info, args, receiver, site) -> FrozenSet:
        """A user function, method or object: it may return (a part of) any argument, and keep them."""
        objs = args | receiver
        reached = frozenset(state.reach(objs))
        via_super = isinstance(node.func, gast.Attribute) and isinstance(node.func.value, gast.Name) and \
            node.func.value.id in self.super_names and not args
        fn = info.obj if info.kind == CallKind.FUNCTION else None
        if fn is None and not receiver and isinstance(node.func, gast.Name):
            fn = self._nested_function(node.func.id)        # def make(v): ... make(x)
        if fn is None and receiver and not via_super:
            # ``m.forward(x)`` of an argument or ``Lin(W, b).forward(x)`` of an object made here of a user's
            # class: the method's own source read as a function's (was: its result taken for what x may be, so
            # ``h = layer.forward(x); h += 0.5`` refused as a change of x, red59a F1)
            fn = self._argument_method(state, node.func) or self._made_method(node.func)
        # super().__init__() runs on self like the method itself; a function whose source shows
        # it keeps nothing it is given (``keeps_arguments``) lets them go when it returns
        if not via_super and not (fn is not None and not keeps_arguments(fn)) and \
                not (info.kind == CallKind.FUNCTION and info.obj is None and self._local_def_keeps_nothing(node.func)):
            state.escaped = state.escaped | reached
        if fn is not None and not receiver and registry.has_new_results(fn):
            return self._new_results(state, node, fn, site)
        made = self._numbers_from(state, node, fn) if fn is not None and not receiver else False
        tuple_made = self._number_items(state, node, fn, site) if fn is not None and not receiver and not made \
            else None
        if tuple_made is not None:
            return tuple_made
        if made:
            # every return computes a new number or array from numbers, arrays and the items of flat
            # lists and dicts (sct/number_returns.py): it holds none of them (was: anything they
            # reach, so ``y = helper(x, cfg); cfg["n"] += 1`` was refused as a change of y, red53h FR2)
            if made == "array":
                self.array_sites.add(site)
            return self.fresh(state, site)
        if fn is not None and _returns_fresh(fn):
            if self.activity is not None and self.activity.value_is_array(node):
                self.array_sites.add(site)       # a new array of numbers (sct/callee_effects.py returns_arrays)
                return self.fresh(state, site)
            # every return makes a new value (``return np.tanh(v * s)``): the result is a
            # new object, whose items may still be anything
            return self.fresh(state, site, reached | frozenset({EXT}))
        return reached | frozenset({EXT})


    def _new_results(self, state: State, node: gast.Call, fn, site) -> FrozenSet:
        """A call of one of sct's deep-learning functions declared to return new arrays (runtime/registry.py
        ``new_results``: ``layernorm``, ``l2loss``, ``lstm``, ...): a new array holding no object, or (where
        MATLAB's nargout may ask for several, ``sct_asked_outputs``, and the call is not given ``nargout=1``) a
        new value holding no object, as an op's several outputs (was: any object the arguments reach, so
        ``h = layernorm(x, o, s); h += x`` was refused as a change of o, and ``loss = l2loss(y, t); loss +=
        reg`` as one of t, which Python leaves as they were, red54o F1)."""
        if one_new_result(fn, node):
            self.array_sites.add(site)
            return self.fresh(state, site)
        nargout = [k.value for k in node.keywords if k.arg == "nargout"]
        count = nargout[0].value if len(nargout) == 1 and isinstance(nargout[0], gast.Constant) else None
        if type(count) is int and count in fn.sct_asked_outputs:
            # ``Y, h, c = lstm(...)`` (given nargout=3 where it is unpacked): a tuple of new values, none another's
            # (Y, h and c were one object, so ``h *= 2.0`` was refused as a change of Y)
            items = [self.fresh(state, ("new result", site, k)) for k in range(count)]
            self.seq_sites.add(site)
            self.positional[site] = items
            return self.fresh(state, site, frozenset().union(*items))
        return self.fresh(state, site)

    def _number_items(self, state: State, node: gast.Call, fn, site):
        """``h, c = cell(x, h, c)`` of a function every return of which gives a tuple written out of new arrays
        or numbers computed from its arguments as _numbers_from reads them (``return a + b, a * b``:
        sct/number_returns.py new_number_items): a new tuple of new values of their own, none another's (was: a
        new tuple whose items may be any argument, so ``h[0] = 0.0`` was refused as a change of x, red55r F1).
        None: not one."""
        found = self._numbers_from(state, node, fn, items=True)
        if not found or not found[0]:
            return None
        count, nested = found
        items = []
        for k in range(count):
            if not nested:
                self.array_sites.add(("new item", site, k))
            items.append(self.fresh(state, ("new item", site, k)))
        self.seq_sites.add(site)
        self.positional[site] = items
        return self.fresh(state, site, frozenset().union(*items))

    def _numbers_from(self, state: State, node: gast.Call, fn, items: bool = False):
        """Is each argument of the call ``node`` of the function ``fn`` a number or numeric array (a
        "leaf"), or a list, tuple or dict this function made whose items are such ("flat"), or anything else
        ("other", read as no number), and does ``fn`` return a new number or array computed from them
        (``returns_new_numbers``)?  "array" (a new
        array or number), "new" (a new value holding numbers only: a list may be one), False: not known."""
        if not isinstance(fn, types.FunctionType) or any(isinstance(a, gast.Starred) for a in node.args) or \
                any(k.arg is None for k in node.keywords):
            return False
        params = _parameter_list(fn)
        if len(node.args) > len(params):
            return False
        given, nested = {}, False
        for p, a in list(zip(params, node.args)) + [(k.arg, k.value) for k in node.keywords]:
            if p in given:
                return False
            if isinstance(a, gast.Constant):
                if not (type(a.value) in (int, float, complex, bool, str) or a.value is None):
                    return False
                given[p] = "leaf"
                continue
            if not isinstance(a, gast.Name):
                given[p] = "other"      # (read as no number: only a declared-new call's result may use it)
                continue
            objs = self.names(state, a)
            if not objs and a.id in self.locals and not self._bound_to_boolop(a.id) or \
                    objs and self._surely_arrays(objs):
                given[p] = "leaf"       # (a local bound to no object: a number, a string, None)
            elif objs and all(o[0] == "arg" and _leaf_kind(self.kinds.get(o[1])) for o in objs):
                given[p] = "leaf"       # (a number argument)
            elif objs and all(o != EXT and (o[0] in ("new", "old") and (self.is_sequence(o) or self.is_mapping(o)) or
                                            o[0] == "arg" and _flat_kind(self.kinds.get(o[1])))
                              for o in objs) and \
                    all(c == EXT and all(o[0] == "arg" for o in objs) or c != EXT and self._surely_arrays({c}) or
                        self._numbers_container(state, c, objs) for c in state.contents(objs)):
                given[p] = "flat"       # (EXT: an argument's own items, numbers by its kind)
                # (an item that is a list or dict of numbers, ``{"c": 1.0, "log": []}``: a value computed
                # from it may be a new list of numbers, no array)
                nested |= any(c != EXT and self._numbers_container(state, c, objs) for c in state.contents(objs))
            else:
                # anything else (a dict of dicts, an object): no number, but ``return mse(fullyconnect(x,
                # p["l1"]["W"], p["l1"]["b"]), t)`` of one still holds none of it (was: not known, red55u F1)
                given[p] = "other"
        from .number_returns import new_number_items, returns_new_numbers
        if items:
            return new_number_items(fn, given), nested
        if not returns_new_numbers(fn, given):
            return False
        return "new" if nested else "array"

    def _bound_to_boolop(self, name: str) -> bool:
        """Is ``name`` bound somewhere to ``a or b`` (which may be a container; held as no object)?"""
        return any(isinstance(n, gast.Assign) and isinstance(n.value, gast.BoolOp) and
                   any(isinstance(t, gast.Name) and t.id == name for t in n.targets) for n in walk_no_defs(self.fdef))

    def _numbers_container(self, state: State, c, holders) -> bool:
        """Is ``c`` a list, tuple or dict this function made, holding numbers only (no object), and none of
        ``holders``?"""
        return c != EXT and c[0] in ("new", "old") and c not in holders and \
            (self.is_sequence(c) or self.is_mapping(c)) and not state.contents({c})

    def _local_def_keeps_nothing(self, func) -> bool:
        """Is ``func`` the name of a def (or lambda) nested in this function, bound once, whose source
        shows it keeps nothing it is given (``f = lambda v: v * 2; f(z[0])``: z does not escape)?"""
        if not isinstance(func, gast.Name) or self.resolver is None:
            return False
        cache = self.__dict__.setdefault("_local_def_keeps", {})
        if func.id not in cache:
            d = local_def(self.fdef, func.id)
            cache[func.id] = d is not None and \
                not nested_keeps_arguments(d, getattr(self.resolver, "fn", None), set(self.locals) | set(self.params))
        return cache[func.id]


def _paired_names(fdef: gast.FunctionDef, most: int = 48) -> FrozenSet[str]:
    """The names ``State.apart`` follows: those a loop of ``fdef`` binds by ``name = value`` and nothing binds
    otherwise (a loop target, a tuple, a def, a with, a del, a global or nonlocal: there a pair it must drop
    would be kept); none where there are more than ``most`` (the pairs of every two names cost time)."""
    in_loops, assigned, otherwise, copies = set(), set(), set(), []
    for node in walk_nodes(fdef):
        if isinstance(node, gast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], gast.Name) \
                and isinstance(node.value, gast.Name):
            copies.append((node.targets[0].id, node.value.id))
        if isinstance(node, (gast.For, gast.While)):
            in_loops.update(m.targets[0].id for b in node.body for m in gast.walk(b)
                            if isinstance(m, gast.Assign) and len(m.targets) == 1 and
                            isinstance(m.targets[0], gast.Name))
        if isinstance(node, gast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], gast.Name):
            assigned.add(id(node.targets[0]))
        elif isinstance(node, (gast.FunctionDef, gast.AsyncFunctionDef, gast.ClassDef)) and node is not fdef:
            otherwise.add(node.name)
        elif isinstance(node, (gast.Global, gast.Nonlocal)):
            otherwise.update(node.names)
    otherwise.update(n.id for n in walk_nodes(fdef) if isinstance(n, gast.Name) and
                     not isinstance(n.ctx, gast.Load) and id(n) not in assigned)
    names = in_loops - otherwise
    grown = True
    while grown and len(names) <= most:     # (and the names they are copied from or into: a = a_mul)
        grown = False
        for t, u in copies:
            for one, two in ((t, u), (u, t)):
                if one in names and two not in names and two not in otherwise:
                    names.add(two)
                    grown = True
    names = frozenset(names)
    return names if len(names) <= most else frozenset()


def _nested_code(outer, name: str, line):
    """The code object of the function ``def name`` nested in ``outer`` (at ``line``), or None."""
    found = [c for c in outer.__code__.co_consts if isinstance(c, types.CodeType) and c.co_name == name]
    if len(found) > 1 and line is not None:
        found = [c for c in found if c.co_firstlineno == line]
    return found[0] if len(found) == 1 else None


# numpy's creators whose first argument is the shape of the new array
_CREATORS = (np.zeros, np.ones, np.empty, np.full)
# functions that join a list's items into a new array by copying their numbers (np.asarray of each)
_JOINS = (np.stack, np.vstack, np.hstack, np.dstack, np.column_stack, np.concatenate)


def _ufunc_method(target) -> bool:
    """Is ``target`` a method of a numpy ufunc (``np.add.at``, ``np.maximum.reduce``)?"""
    return isinstance(target, types.BuiltinMethodType) and isinstance(getattr(target, "__self__", None), np.ufunc)


from .runtime.support import bind_closure as _bind_closure, closure_rebound as _closure_rebound  # noqa: E402
from .runtime import network as _network  # noqa: E402

_KEY_CALLERS = (sorted, min, max)

# library constructors whose result is a new object keeping no reference to their arguments
_NEW_LIBRARY_OBJECTS = (np.random.default_rng, np.random.RandomState, np.random.Generator,
                        np.random.SeedSequence, np.random.PCG64, np.random.MT19937, random.Random)

_VALUE_RULES = {
    gast.Name: _Values._name_objects,
    gast.Constant: _Values._no_objects, gast.Compare: _Values._compare_objects,
    gast.JoinedStr: _Values._no_objects, gast.BoolOp: _Values._no_objects,
    gast.BinOp: _Values._operation_objects, gast.UnaryOp: _Values._operation_objects,
    gast.Subscript: _Values._subscript_objects,
    gast.Attribute: _Values._attribute_objects,
    gast.Tuple: _Values._literal_objects, gast.List: _Values._literal_objects,
    gast.Dict: _Values._literal_objects,
    gast.Call: _Values.call_objects,
}


# numpy's transforms that return their argument itself where they transform no axis (a 0-d array,
# ``axes=()``); the others raise there (np.fft.fft, rfftn)
_FFT_IDENTITY_OPS = (np.fft.fftn, np.fft.ifftn, np.fft.fft2, np.fft.ifft2)
_FFT_IDENTITIES = frozenset({"fftn", "ifftn", "fft2", "ifft2"})

# numpy's functions whose result is their array argument or a view of it, and a new array where the
# argument is a number, a list or a tuple (np.asarray(3.0) is a new 0-d array)
_NEW_FROM_NON_ARRAYS = frozenset({
    "asarray", "asanyarray", "ascontiguousarray", "asfortranarray", "asarray_chkfinite", "require",
    "atleast_1d", "atleast_2d", "atleast_3d", "ravel", "reshape", "transpose", "permute_dims",
    "matrix_transpose", "swapaxes", "moveaxis", "rollaxis", "squeeze", "expand_dims", "flip", "fliplr",
    "flipud", "rot90", "diagonal", "diag", "real_if_close", "broadcast_to",
    "dlarray"})     # (sct's dlarray of a number: a new dlarray, whose `*=` changes it in place)


def _new_axes(index) -> bool:
    """Does the index hold None, np.newaxis or Ellipsis (which make an array of a number)?"""
    parts = index.elts if isinstance(index, gast.Tuple) else [index]
    return any(isinstance(p, gast.Constant) and (p.value is None or p.value is Ellipsis) or
               isinstance(p, gast.Attribute) and p.attr == "newaxis" for p in parts)


class PointsTo(_Values):
    """The state before every statement (``before``), to a fixed point over loops and joined
    after branches, and how each name was bound (``origin``, for messages)."""

    def __init__(self, fdef: gast.FunctionDef, resolver, mode: str, param_kinds: Dict,
                 owned_params: Set[str] = frozenset(), activity=None):
        super().__init__(fdef, resolver, mode, param_kinds, owned_params, activity)
        self.before: Dict[int, State] = {}     # statement id -> state before it
        self.origin: Dict[str, str] = {}       # name -> how it was bound (for messages)
        self.function_results: Set[str] = set()   # names bound to a call of a plain function (for messages)
        self.paired = _paired_names(fdef)      # the names whose distinct objects ``State.apart`` follows

    def run(self):
        state = State()
        for p in self.params:
            state.env[p] = frozenset({_new(("param", p))}) if p in self.owned_params else \
                frozenset({("arg", p)})
            if p not in self.owned_params:
                state.heap[("arg", p)] = frozenset({EXT})
        state.heap[EXT] = frozenset({EXT})
        # __init__'s new object (an owned parameter): an attribute it has not set yet reads the
        # class's attribute, an object every instance shares (``pool = {}`` in the class body;
        # ``self.pool[k] = v`` changes it for all): EXT until __init__ sets it on every path
        for node in walk_nodes(self.fdef):
            if isinstance(node, gast.Attribute) and isinstance(node.value, gast.Name) and \
                    node.value.id in self.owned_params:
                state.env[unset_key(node.value.id, node.attr)] = frozenset({EXT})
        self.block(self.fdef.body, state)

    def store(self, state: State, objs, value_objs, again: bool = False):
        for o in objs:
            if not again:
                state.multi = state.multi | (state.heap.get(o, frozenset()) & value_objs)
            state.heap[o] = state.heap.get(o, frozenset()) | value_objs
            if o == EXT or o[0] == "arg":
                state.escaped = state.escaped | frozenset(state.reach(value_objs))

    def block(self, stmts, state: State):
        for s in stmts:
            self.statement(s, state)

    def statement(self, s, state: State):
        self.before[id(s)] = state.copy()
        rule = _STATEMENT_RULES.get(type(s))
        if rule is not None:
            rule(self, s, state)

    def _assign(self, s: gast.Assign, state: State):
        target = s.targets[0]
        if isinstance(target, gast.Name):
            objs = self.value_objects(state, s.value, id(s))
            state.env[target.id] = objs
            self.pair(state, target.id, s, objs)
            if not (isinstance(s.value, gast.Call) and isinstance(s.value.func, gast.Attribute) and
                    s.value.func.attr == "inplace_result" and target.id in self.origin):
                # (``x op= v`` written as x = rt.inplace_result(x op v, x): x is what it was)
                self.origin[target.id] = self.describe(s.value)
                if isinstance(s.value, gast.Call) and isinstance(self.info(s.value).obj, types.FunctionType):
                    self.function_results.add(target.id)
            read_only = _read_only_value(state, s.value)
            if read_only or read_only_key(target.id) in state.env:
                state.env[read_only_key(target.id)] = read_only
        elif isinstance(target, (gast.Subscript, gast.Attribute)):
            value_objs = self.value_objects(state, s.value, id(s)) if isinstance(s.value, gast.Call) \
                else self.names(state, s.value)
            holders = self.names(state, target.value)
            if not (isinstance(target, gast.Subscript) and self._surely_arrays(holders)):
                # (``traj[t] = state`` of a numeric array copies state's numbers: traj holds no object)
                # (a write back sct/copy_aliases.py made, ``g["w"] = g_item`` where g["w"] is g_item
                # already, stores the object where it is: not a second place holding it)
                self.store(state, holders, value_objs, again=getattr(s, "sct_restore", False))
            if isinstance(target, gast.Attribute) and isinstance(target.value, gast.Name) and \
                    target.value.id in self.owned_params:
                state.env[unset_key(target.value.id, target.attr)] = frozenset()    # set on the object now
        elif isinstance(target, gast.Tuple):       # fwd, bwd = ... (generated only)
            objs = self.value_objects(state, s.value, id(s))
            for e in target.elts:
                if isinstance(e, gast.Name):
                    state.env[e.id] = objs | state.contents(objs)
                    state.apart = frozenset(p for p in state.apart if e.id not in p)

    def pair(self, state: State, name: str, s: gast.Assign, objs) -> None:
        """``State.apart`` after ``name = value``: a new object (``a * 0.5``: of this statement's site only) is
        apart from what every other name holds; a second name (``a = b``) is apart from what ``b`` is apart
        from; ``name = rt.inplace_result(..., name)`` keeps its object; anything else (a view, an item) is
        apart from nothing.  (Was: not followed, so after ``for ...: a, b = b, a * 0.5`` the site of
        ``a * 0.5`` was in what both a and b may hold, and ``b += 1.0`` refused as a change of a too: fuzz54 F1.)"""
        if name not in self.paired:
            return
        value = s.value
        if isinstance(value, gast.Call) and isinstance(value.func, gast.Attribute) and \
                value.func.attr == "inplace_result" and len(value.args) == 2 and \
                isinstance(value.args[1], gast.Name) and value.args[1].id == name:
            return
        kept = frozenset(p for p in state.apart if name not in p)
        if objs == frozenset({_new(id(s))}):
            kept |= frozenset(frozenset((name, w)) for w in self.paired if w != name)
        elif isinstance(value, gast.Name) and value.id != name:
            kept |= frozenset(frozenset((name, w)) for p in state.apart if value.id in p
                              for w in p if w not in (value.id, name))
        state.apart = kept

    def _expression(self, s: gast.Expr, state: State):
        if not isinstance(s.value, gast.Call):
            return
        node = s.value
        self.value_objects(state, node, id(s))
        func = node.func
        if isinstance(func, gast.Attribute) and isinstance(func.value, gast.Name) and \
                func.attr in MUTATORS and func.value.id in self.locals:
            self.store(state, self.names(state, func.value), self.call_args(state, node))
        if isinstance(func, gast.Attribute) and func.attr == "closure_rebound" and len(node.args) >= 4 and \
                isinstance(node.args[1], gast.Tuple) and isinstance(node.args[3], gast.Tuple) and \
                self._resolved(func) is _closure_rebound:
            # rt.closure_rebound(frame, names, line, new values): the closures made before reading those
            # names may read the new values from now on (Closure.rebind), so a later change of one in
            # place is seen through them (was: not held, ``s = t; t[0] = w`` then the closure's call read
            # the list sct had copied for the write, a silent wrong value)
            for e, v in zip(node.args[1].elts, node.args[3].elts):
                self.store(state, frozenset(self.closures_reading.get(getattr(e, "value", None), ())),
                           self.names(state, v))

    def _branch(self, s: gast.If, state: State):
        a = state.copy()
        b = state.copy()
        self.block(s.body, a)
        self.block(s.orelse, b)
        joined = a.join(b)
        state.env, state.heap, state.escaped = joined.env, joined.heap, joined.escaped
        state.multi = joined.multi       # ``d = [a, a]`` in a branch: d holds a twice after it
        state.apart = joined.apart

    def _loop(self, s, state: State):
        if isinstance(s, gast.For) and isinstance(s.target, gast.Name):
            state.env[s.target.id] = frozenset()
            state.apart = frozenset(p for p in state.apart if s.target.id not in p)
        current = state.copy()
        for _ in range(100):
            entry = current.copy()
            body = entry.copy()
            self.block(s.body, body)
            nxt = current.join(body)
            if nxt.key() == current.key():
                break
            current = nxt
        # a last pass records the states before the body's statements at the fixed point
        body = current.copy()
        self.block(s.body, body)
        state.env, state.heap, state.escaped = current.env, current.heap, current.escaped
        state.multi = current.multi
        state.apart = current.apart

    def _with(self, s: gast.With, state: State):
        # ``with m as u``: u is what ``m.__enter__()`` gives, an object the function may not have created
        # (a module's list, the manager itself): a write into it would change it there too (was: u held
        # no object, so ``u.append(x * 2)`` was followed as a new value of u only, and a read of the
        # module's list saw nothing: a silent wrong value)
        for item in s.items:
            if item.optional_vars is not None:
                for n in walk_nodes(item.optional_vars):
                    if isinstance(n, gast.Name) and not isinstance(n.ctx, gast.Load):
                        state.env[n.id] = frozenset({EXT})
                        state.apart = frozenset(p for p in state.apart if n.id not in p)
                        self.origin[n.id] = "what the with statement's __enter__() gives"
        self.block(s.body, state)

    def describe(self, value) -> str:
        if isinstance(value, gast.Name):
            if value.id.startswith(("out_", "seq_")) and self.origin.get(value.id):
                # (a temporary of the normalizer's, ``out_t_1`` of an inlined helper's return: what it
                # is, was named as generated, red team 53h)
                return self.origin[value.id]
            shown = self.user_text(value)
            if shown is None or shown == value.id:
                return f"a second name for {value.id}" if shown else ""
            # (a name sct made, ``a_1`` of ``a, b = b, a * 0.5``: what it holds as the user wrote it; was named
            # as made, "a is a second name for a_1": fuzz54 F1, F2)
            once = self._bound_values().get(value.id)
            return f"a second name for {shown}" if isinstance(once, gast.Name) else f"the value of `{shown}`"
        if isinstance(value, gast.Subscript) and isinstance(value.value, gast.Name):
            shown = self.user_text(value.value)
            if shown is not None:
                return f"a view or an item of {shown}"
            walked = self._walked_text(value.value.id)
            if walked is not None:
                return f"an item of {walked}, which a for loop walks"
            return f"a view or an item of {value.value.id}"
        if isinstance(value, gast.Attribute):
            root = value
            while isinstance(root, gast.Attribute):
                root = root.value
            if isinstance(root, gast.Name):
                return f"an attribute of {root.id}"
        if isinstance(value, gast.Call):
            f = value.func
            fname = f.attr if isinstance(f, gast.Attribute) else getattr(f, "id", "a function")
            return f"the result of {fname}()"
        return ""


    def _bound_values(self) -> Dict[str, object]:
        if not hasattr(self, "_once"):
            self._once = _bound_once(self.fdef)
        return self._once

    def user_text(self, node, depth: int = 0) -> Optional[str]:
        """``node`` as the user wrote it: the names sct made (bound once) written as the values they hold
        (``rt.as_sequence(seq)`` as ``seq``); None where one is not (a loop's counter, an internal call),
        or where it is not known which names are the user's."""
        users = getattr(self.fdef, "sct_user_names", None)
        if users is None or depth > 12:
            return node.id if isinstance(node, gast.Name) and users is None else None
        once = self._bound_values()
        if isinstance(node, gast.Name):
            if node.id in users:
                return node.id
            v = once.get(node.id)
            if isinstance(v, gast.Call) and dotted_name(v.func) == "rt.as_sequence" and len(v.args) == 1:
                v = v.args[0]
            return None if v is None else self.user_text(v, depth + 1)
        node = _as_written(node)
        if any(isinstance(n, gast.Attribute) and isinstance(n.value, gast.Name) and n.value.id == "rt" and
               "rt" not in users for n in gast.walk(node)):
            return None
        node = copy.deepcopy(node)
        for n in gast.walk(node):
            if isinstance(n, gast.Name) and n.id not in users:
                text = self.user_text(n, depth + 1)
                if text is None:
                    return None
                n.id = text if re.fullmatch(r"[\w.\[\]'\"]+", text) else f"({text})"
        try:
            return ast.unparse(gast.gast_to_ast(node))
        except Exception:
            return None

    def _loop_walks(self, name: str, sequence: str) -> str:
        """Why a write into ``name`` is one into what a for loop walks (``sequence``, the name sct made of
        it): the sequence as the user wrote it where that is not ``name`` itself (``for r in [u[0], u[1]]``
        writing into ``r``: was "a for loop walks r")."""
        walked = self.user_text(gast.Name(id=sequence, ctx=gast.Load(), annotation=None, type_comment=None))
        written = self.user_text(gast.Name(id=name, ctx=gast.Load(), annotation=None, type_comment=None))
        value = self._bound_values().get(name)
        if written is None and isinstance(value, (gast.Subscript, gast.Attribute)):
            written = self.user_text(value)         # (p_W of p["W"], read again where it is written)
        if walked and walked not in (name, written):
            return f"{LOOP_WALK} {walked}, which holds {name} or views of it,"
        return f"{LOOP_WALK} {name} (its keys, values or items)"

    def _walked_text(self, name: str) -> Optional[str]:
        """What a for loop walks, as the user wrote it, where ``name`` is (an item of an item of) the
        sequence sct made of it (``seq_as_sequence[k_1]`` of ``for k, v in dd.items()``: ``dd.items()``)."""
        once = self._bound_values()
        for _ in range(8):
            v = once.get(name)
            if isinstance(v, gast.Subscript) and isinstance(v.value, gast.Name):
                name = v.value.id
            elif isinstance(v, gast.Call) and dotted_name(v.func) == "rt.as_sequence" and len(v.args) == 1:
                return self.user_text(v.args[0])
            else:
                return None
        return None


_STATEMENT_RULES = {
    gast.Assign: PointsTo._assign, gast.Expr: PointsTo._expression, gast.If: PointsTo._branch,
    gast.For: PointsTo._loop, gast.While: PointsTo._loop, gast.With: PointsTo._with,
}


def _as_written(node):
    """``node`` with the runtime's calls that stand for the user's own spelled as the user wrote them
    (``rt.listed(u)``: ``list(u)``, ``rt.tupled(u)``: ``tuple(u)``, ``rt.simple_namespace(("a",), u)``:
    ``SimpleNamespace(a=u)``), for messages."""
    def spelled(n):
        name = dotted_name(n.func) if isinstance(n, gast.Call) else None
        if name in ("rt.listed", "rt.tupled") and len(n.args) == 1 and not n.keywords:
            return gast.Call(func=gast.Name(id="list" if name == "rt.listed" else "tuple", ctx=gast.Load(),
                                            annotation=None, type_comment=None), args=n.args, keywords=[])
        if name == "rt.builtin_list" and len(n.args) == 1 and not n.keywords:
            return n.args[0]        # (the keys of `for k, v in d.items()` written into d[k]: sct/normalize_loops.py)
        if name == "rt.simple_namespace" and n.args and isinstance(n.args[0], gast.Tuple) and \
                all(isinstance(e, gast.Constant) and isinstance(e.value, str) for e in n.args[0].elts) and \
                len(n.args[0].elts) == len(n.args) - 1:
            return gast.Call(func=gast.Name(id="SimpleNamespace", ctx=gast.Load(), annotation=None, type_comment=None),
                             args=[], keywords=[gast.keyword(arg=e.value, value=v)
                                                for e, v in zip(n.args[0].elts, n.args[1:])])
        return n
    if not any(isinstance(n, gast.Call) for n in gast.walk(node)):
        return node
    node = copy.deepcopy(node)
    node = spelled(node)
    for n in gast.walk(node):
        for field, value in gast.iter_fields(n):
            if isinstance(value, gast.Call):
                setattr(n, field, spelled(value))
            elif isinstance(value, list):
                value[:] = [spelled(v) for v in value]
    return node


class AliasAnalysis(PointsTo):
    """The points-to states and the names live after each statement of ``fdef``, and the
    questions the write checks and the lowering of in-place operations ask: may a change of
    what a name holds be seen through something else?"""

    def __init__(self, fdef: gast.FunctionDef, resolver, mode: str, param_kinds: Dict,
                 owned_params: Set[str] = frozenset(), activity=None):
        super().__init__(fdef, resolver, mode, param_kinds, owned_params, activity)
        self.live_after: Dict[int, FrozenSet[str]] = {}
        self.none_assumed: Set[str] = set()     # parameters sharing_of took for None (see there)
        # names nested functions read see every later change: always live
        self.captured: Set[str] = set()
        for n in self.nested:
            for m in gast.walk(n):
                if isinstance(m, gast.Name) and isinstance(m.ctx, gast.Load) and m.id in self.locals:
                    self.captured.add(m.id)
        self.run()
        self.liveness(self.fdef.body, frozenset())

    # --- liveness ----------------------------------------------------------------------------------
    def uses(self, s) -> Set[str]:
        if isinstance(s, gast.Assign):
            names = set(loaded_names(s.value))
            target = s.targets[0]
            if not isinstance(target, gast.Name):
                names |= set(loaded_names(target))
            return names
        if isinstance(s, (gast.FunctionDef,)):
            return set()
        return set(loaded_names(s))

    def liveness(self, stmts, live_out: FrozenSet[str]) -> FrozenSet[str]:
        live = frozenset(live_out) | frozenset(self.captured)
        for s in reversed(stmts):
            if isinstance(s, gast.If):
                live = self.liveness(s.body, live) | self.liveness(s.orelse, live) | \
                    frozenset(loaded_names(s.test))
            elif isinstance(s, (gast.For, gast.While)):
                head = frozenset(loaded_names(s.iter if isinstance(s, gast.For) else s.test))
                current = live | head
                for _ in range(100):
                    entry = self.liveness(s.body, current) | head
                    nxt = current | entry
                    if nxt == current:
                        break
                    current = nxt
                live = current
            elif isinstance(s, gast.With):
                live = self.liveness(s.body, live) | frozenset(
                    n for item in s.items for n in loaded_names(item.context_expr))
            else:
                self.live_after[id(s)] = self.live_after.get(id(s), frozenset()) | live
                defs = {s.targets[0].id} if isinstance(s, gast.Assign) and \
                    isinstance(s.targets[0], gast.Name) else set()
                live = (live - defs) | frozenset(self.uses(s)) | frozenset(self.captured)
        return live

    # --- the question ------------------------------------------------------------------------
    def sharing(self, s, name: str) -> Optional[str]:
        """Why a write into ``name`` at ``s`` may be seen through something else (None: it can't)."""
        state = self.before.get(id(s))
        if state is None:
            return "sct could not follow where it comes from"
        objs = state.env.get(name)
        if objs is None:
            objs = frozenset() if name in self.locals else frozenset({EXT})
        # (names sct/copy_aliases.py binds again right after s: they follow the write)
        return self.sharing_of(s, name, objs, exclude=getattr(s, "sct_rebound", frozenset()))

    def sharing_of(self, s, name: str, objs, exclude=frozenset()) -> Optional[str]:
        """Why a change of the objects ``objs`` (what ``name`` holds) at ``s`` may be seen
        through something else than ``name`` and the names in ``exclude`` (None: it can't)."""
        state = self.before.get(id(s))
        if state is None:
            return "sct could not follow where it comes from"
        none = {o for o in objs if o != EXT and o[0] == "arg" and o[1] in self.params and
                o[1] in getattr(self.fdef, "sct_none_compiled", ())}
        if none:
            # a parameter None where this code was compiled holds no object: `def h(u, out=None): if out is
            # None: out = np.zeros_like(u)` then `out[...] = v` writes into h's own array (was: refused as a
            # change of the caller's object, fuzz53 R5); the run checks it is None (none_assumed: a guard)
            self.none_assumed |= {o[1] for o in none}
            objs = objs - none
        if not objs:
            return None
        for o in objs:
            if o[0] == "arg":
                if self.mode == "entry":
                    return f"{o[1]} is an argument of {self.fdef.name}() and would change too"
                return f"{o[1]} is an argument of {self.fdef.name}(): the caller's object would change too"
        if EXT in objs:
            how = self.origin.get(name) or ""
            how = f" ({name} is {how})" if how else ""
            return f"{name} may be an object {self.fdef.name}() did not create{how}, which would " \
                   "change too"
        if objs & state.escaped:
            return f"{name} was passed to a function or stored in an object that may keep it"
        live = self.live_after.get(id(s), frozenset()) | self.captured
        for other in sorted(live):
            # (what a for loop walks first: a write into its items is said best so. `for layer in
            # d.values()` walks a new list of d's values, which d holds too)
            if other != name and other not in exclude and self.origin.get(other) == LOOP_SEQUENCE and \
                    other in state.env and objs & frozenset(state.reach(state.env[other])):
                return self._loop_walks(name, other)
        for other in sorted(live):
            if other == name or other in exclude or other not in state.env:
                continue
            if frozenset((name, other)) in state.apart and objs == state.env.get(name):
                # (surely distinct objects: only what other holds may be name's)
                if objs & frozenset(state.reach(state.contents(state.env[other]))):
                    return self._holds_it(other)
                continue
            if objs & state.env[other]:
                how = self.origin.get(other) or ""
                if how == LOOP_SEQUENCE:           # a compiler temporary: say what it is
                    return self._loop_walks(name, other)
                how = f" ({other} is {how})" if how else ""
                return f"{other} may be the same object as {name} or a view of it{how}, and it is read later"
            if objs & frozenset(state.reach(state.env[other])):
                return self._holds_it(other)
        return self.holds_itself(state, name, objs, live)

    def holds_itself(self, state, name: str, objs, live) -> Optional[str]:
        """Why ``objs`` (what ``name`` holds) may be seen through a reference to itself: it was stored
        into its own field or item, or into a list, dict or object it holds (None: it holds no such
        reference, or ``name`` is not read later). (was: not asked: ``c.me = c; c.h = v`` then
        ``c.me.h`` read the write through a path sct followed apart from c, a gradient of zeros; a
        dict ``q["me"] = q`` then ``q["h"] = v`` read the old q["h"] through q["me"]: red2st53 F2, F3)"""
        if name not in live or not self._stores_into_itself():
            return None

        def one(o):             # (an object of its own: not a site's older objects, nor a gradient's items
            # to any depth, which sct's summary makes hold themselves: g.Value[i] of dlgradient(y, net.Learnables))
            return o != EXT and o[0] in ("arg", "new") and not (o[0] == "new" and o[1] in self.gradient_sites)
        mine = frozenset(o for o in objs if one(o))
        seen, todo = set(), list(state.contents(mine))
        while todo:
            o = todo.pop()
            if o not in seen and o != EXT and not (o[0] in ("new", "old") and o[1] in self.gradient_sites):
                seen.add(o)
                todo += state.heap.get(o, ())
        if not mine & seen:
            return None
        like = f'`{name}["me"] = {name}` or `{name}.append({name})`' if all(
            self.is_mapping(o) or self.is_sequence(o) for o in mine) else \
            f"`{name}.me = {name}` or `{name}.kids = [{name}]`"
        return f"{name} holds itself (it was stored into a field or item of its own, or into a list, dict " \
               f"or object {name} holds, like {like}), and {name} " \
               "is read later: a read through that reference would see the change too"

    def _stores_into_itself(self) -> bool:
        """Does a statement of the function store a name's value into a field or item of what that name holds
        (``c.me = c``, ``c.kids = [c]``, ``q["me"] = q``, ``q.append(q)``, a method read in place setting
        ``self.root = self``, or the normalizer's ``q = rt.setitem(q, "me", q)``)?  Only then does holds_itself
        walk the heap: a loop's site stands for several objects, and an array for its views, which its summary
        may show holding each other (was: every write asked, so accumulators written in loops, ``acc[t] += s``,
        ``hs.append(h)``, ``d |= ...``, were refused, 17 CI tests)."""
        found = getattr(self, "_self_stores", None)
        if found is not None:
            return found
        local = frozenset(n.name for n in walk_nodes(self.fdef) if isinstance(n, gast.FunctionDef)) | frozenset(
            t.id for n in walk_nodes(self.fdef) if isinstance(n, gast.Assign) for t in n.targets
            if isinstance(t, gast.Name)) | frozenset(self.holding_calls)
        # (the names bound here: a call of one may give its arguments; and the ids of the calls the points-to state
        # says may give what they are given, ``holding_calls``)
        stores = []                             # (the name stored into, the values stored)
        binds: Dict[str, Set[str]] = {}         # (a name -> the names its bindings and stores read: ``t = [c]``,
        aliases: Dict[str, Set[str]] = {}       # ``t = {}; t["me"] = c``; and those it IS: ``d = c.__dict__``)
        for n in walk_nodes(self.fdef):
            if isinstance(n, gast.FunctionDef) and n is not self.fdef:     # (a closure: the names it reads)
                binds.setdefault(n.name, set()).update(loaded_names(n))
            elif isinstance(n, gast.For):       # (``for y in [c]``: y is an item of what it walks)
                for t in walk_nodes(n.target):
                    if isinstance(t, gast.Name):
                        binds.setdefault(t.id, set()).update(_item_names(n.iter, local))
            elif isinstance(n, (gast.Assign, gast.AugAssign)):
                targets = n.targets if isinstance(n, gast.Assign) else [n.target]
                for t in targets:
                    if isinstance(t, gast.Name):
                        bare, alias = _bare_names(n.value, local), _alias_names(n.value)
                        (aliases if bare == alias and isinstance(n, gast.Assign) else binds).setdefault(
                            t.id, set()).update(bare)
                    elif isinstance(t, (gast.Attribute, gast.Subscript)) and root_name(t) is not None:
                        stores.append((root_name(t), [n.value]))
            elif isinstance(n, gast.Call) and (n.args or n.keywords):
                base = root_name(n.func.value) if isinstance(n.func, gast.Attribute) else None
                given = list(n.args) + [k.value for k in n.keywords]
                if isinstance(n.func, gast.Name) and n.func.id == "setattr" or \
                        base is not None and base.startswith("rt") and isinstance(n.func.value, gast.Name) and \
                        n.func.attr not in CONTAINER_COPIES and n.func.attr.startswith("set"):
                    # (rt.setitem(q, k, v), rt.setattr(...): stores; not rt.dict_merged(t, d), a new dict, nor the
                    # checks, rt.item_is_held(rows, 1, rows1, ...), which store nothing: was a store of rows1 into rows
                    # in a loop, refused as rows[1] holding itself, CI test_last_s43)
                    # (the object first: setattr(c, "me", c), the normalizer's rt.setitem(q, "me", q))
                    base, given = root_name(given[0]) if given else None, given[1:]
                elif not (isinstance(n.func, gast.Attribute) and n.func.attr in _STORING_METHODS):
                    continue            # (f(x, x), np.add(a, a), x.dot(x): no store into x)
                if base is not None:
                    stores.append((base, given))
        for base, given in stores:      # (what is stored into a name's object, it holds: was not followed, so
            for g in given:             # `t = {}; t["me"] = c; c.d = t`, the normalizer's `c.d = dict(me=c)`, was
                binds.setdefault(base, set()).update(_bare_names(g, local))    # not seen, red2st53 m17)

        def depth(name) -> Tuple[int, str]:       # ("n": n itself, 0; "*n", "~n": n's items, 1)
            return (1, name[1:]) if name[0] in "*~" else (0, name)

        def reads(value) -> Set[str]:
            """The names whose objects ``value`` may reach.  (k, n): n's items k levels down (0: n itself).  Of n's
            items, what n's object holds (a name, 1 level up), the items of what it copied ("*m": as deep), of what
            it is (an alias) and, where n is an item of m ("~m", ``n = m[1]``), m's items a level deeper: not m's
            items (``rows1 = rows[1]; t = rows1[k]`` is no item of rows; was taken for rows1 itself through rows'
            items, refused as holding itself, CI test_last_s43), nor nothing (was: not followed, so ``t = [[c]][0];
            c.d = t[:]`` was no store of c into itself, half the gradient)."""
            out, seen, todo = set(), set(), [depth(n) for n in _bare_names(value, local)]
            while todo:
                k, base = todo.pop()
                k = min(k, 4)           # (deeper: as deep as 4 levels, which reach them)
                if (k, base) in seen:
                    continue
                seen.add((k, base))
                if k == 0:
                    out.add(base)       # (what n's object holds, or is)
                    todo += [depth(e) for e in binds.get(base, ())] + [(0, a) for a in aliases.get(base, ())]
                    continue
                for e in binds.get(base, ()):
                    todo.append((k + 1, e[1:]) if e[0] == "~" else (k, e[1:]) if e[0] == "*" else (k - 1, e))
                todo += [(k, a) for a in aliases.get(base, ())]
            return out
        found = any(base in reads(g) for base, given in stores for g in given)
        self._self_stores = found
        return found

    def _mutable_scalar(self, node: gast.Call, info) -> bool:
        """Is the "number" ``_number_result`` answers for ``node`` an array in Python: a numpy scalar type called on
        an array (``np.float64(h)`` of a float64 h is h itself, of a dlarray its data: red3_54 W1, h2 *= 2 doubled h,
        half the gradient)?  (Given anything but constants: then a view of its argument, alias_state.VIEW_FUNCTIONS.)"""
        return isinstance(info.obj, type) and issubclass(info.obj, np.generic) and \
            not all(isinstance(a, gast.Constant) for a in node.args)

    def _holds_it(self, other: str) -> str:
        """Why ``other`` may hold what is changed: put in it, or the result of a call given it (was said
        as put in a list, dict or object of ``y = helper(x, d)``'s scalar y, red team 53h FR2)."""
        how = self.origin.get(other) or ""
        if how.startswith("the result of ") and other in self.function_results:
            return f"{other} may hold it ({other} is {how}, a call given it, which sct cannot tell returns " \
                   f"a new value), and {other} is read later"
        return f"{other} holds it (it was put in a list, dict or object, or {other} was " \
               f"taken from one), and {other} is read later"

    def holders_through(self, s, objs, via) -> FrozenSet[str]:
        """The names live after ``s`` that hold ``objs`` only through the objects ``via`` (``g`` of
        ``v = g["w"]; v[0] *= 2``: g holds v's items only inside v, whose own change is checked and
        followed on its own)."""
        state = self.before.get(id(s))
        if state is None or not objs or not via:
            return frozenset()
        out = set()
        for other in self.live_after.get(id(s), frozenset()) | self.captured:
            held = state.env.get(other)
            if not held or held & objs:
                continue
            seen, todo = set(held), [o for o in held if o not in via]
            while todo:
                for c in state.heap.get(todo.pop(), ()):
                    if c not in seen:
                        seen.add(c)
                        if c not in via:
                            todo.append(c)
            if seen & via and not (seen - set(via)) & objs:
                out.add(other)
        return frozenset(out)

    def other_name_of(self, s, name: str, objs) -> Optional[str]:
        """Why ``objs`` (what ``name`` holds at ``s``) may also be read later through another
        name (None: through ``name`` only)."""
        state = self.before.get(id(s))
        if state is None:
            return "sct could not follow where it comes from"
        live = self.live_after.get(id(s), frozenset()) | self.captured
        for other in sorted(live):
            if other == name or other not in state.env:
                continue
            if objs & state.env[other]:
                how = self.origin.get(other) or ""
                how = f" ({other} is {how})" if how else ""
                return f"{other} may be the same object as {name}{how}, and it is read later"
            if objs & frozenset(state.reach(state.env[other])):
                return self._holds_it(other)
        return self.holds_itself(state, name, objs, live)

    def builtin(self, s, name: str) -> bool:
        """Is ``name`` surely a list, dict or array (not an object of the user's class)?"""
        act = self.activity
        if act is not None and (name in act.lists or name in act.arrays):
            return True
        kind = self.kinds.get(name)
        if isinstance(kind, tuple) and kind and kind[0] in ("seq", "map", "dl", "nd"):
            return True
        objs = self.objects(s, name)
        return bool(objs) and all(o[0] in ("new", "old") and o[1] not in self.instance_sites for o in objs) and \
            not any(o[1] == ("param", p) for o in objs for p in self.owned_params)

    def objects(self, s, name: str) -> FrozenSet:
        state = self.before.get(id(s))
        if state is None:
            return frozenset({EXT})
        return state.env.get(name, frozenset() if name in self.locals else frozenset({EXT}))


# ``(_BY_OPERATION, o)`` in a state's ``multi``: ``o`` may be held twice by the new list of an operation
# (``[a] * 2``, ``l + [a]``), not by a container it was stored into
_BY_OPERATION = "held twice by an operation"


def multi_of(analysis, state, containers) -> FrozenSet:
    """The objects ``containers`` may hold at two places: those stored so, and those an operation's
    new list holds twice, unless every container is an object of a gradient's structure (never an
    operation's new list: ``t * s`` of its item ``t = g.Value[i]`` makes no gradient hold t twice)."""
    marked = frozenset(o for o in state.multi if not (type(o) is tuple and len(o) == 2 and o[0] == _BY_OPERATION))
    if containers and all(o != EXT and o[0] in ("new", "old") and o[1] in analysis.gradient_sites
                          for o in containers):
        return marked
    return marked | frozenset(o[1] for o in state.multi if type(o) is tuple and len(o) == 2 and
                              o[0] == _BY_OPERATION)


# the depths of the items of a gradient's structure told apart (sct/copy_aliases.py writes a change of
# one back into the item holding it; deeper items are one object, refused where written)
_GRADIENT_DEPTH = 4


# numpy's functions whose result is a read-only view (numpy raises ValueError on a write into it)
# (np.diagonal / a.diagonal() too: a read-only view of the diagonal since numpy 1.9)
READ_ONLY_VIEWS = frozenset({"sliding_window_view", "broadcast_to", "diagonal"})


def read_only_key(name: str) -> str:
    """The env entry holding, where ``name`` may be a read-only view (``sliding_window_view(x, 2)``,
    ``np.broadcast_to(x, s)``, a view of one), the function that made it (no name can be spelt so)."""
    return f"<read-only {name}>"


def _read_only_value(state, value) -> FrozenSet:
    """The read-only view functions ``value`` may be a result of (empty: writeable, or a copy)."""
    if isinstance(value, gast.Call):
        f = value.func
        fname = f.attr if isinstance(f, gast.Attribute) else getattr(f, "id", "")
        if fname in READ_ONLY_VIEWS:
            writeable = [k.value for k in value.keywords if k.arg == "writeable"]
            if not (writeable and isinstance(writeable[0], gast.Constant) and writeable[0].value is True):
                return frozenset({fname})
            return frozenset()
        made_by = frozenset()
        if isinstance(f, gast.Attribute) and f.attr in VIEW_METHODS and f.attr != "astype":
            made_by = _read_only_value(state, f.value)      # w.reshape(...), w.transpose()
        if fname in VIEW_FUNCTIONS and value.args:
            # np.asarray(w), np.squeeze(w), np.swapaxes(w, 0, 1) (also a method's name: both read)
            made_by = made_by | _read_only_value(state, value.args[0])
        return made_by
    if isinstance(value, gast.Name):
        return state.env.get(read_only_key(value.id), frozenset())
    if isinstance(value, gast.Subscript):                  # w[0], w[1:] (an index array copies: kept, to be safe)
        return _read_only_value(state, value.value)
    if isinstance(value, gast.Attribute) and value.attr in VIEW_ATTRIBUTES:
        return _read_only_value(state, value.value)        # w.T
    return frozenset()


def written_in_place(s) -> Optional[tuple]:
    """``(name, what)`` for a statement that writes into the array ``name`` in place: ``name[i] = v``,
    ``name op= v``, ``name.sort()`` (and the other mutating array methods), ``np.copyto(name, v)``
    (and numpy's other functions writing into their first argument, ``np.add.at``), ``f(..., out=name)``."""
    if isinstance(s, gast.Assign) and isinstance(s.targets[0], gast.Subscript) and \
            isinstance(s.targets[0].value, gast.Name):
        return s.targets[0].value.id, f"`{s.targets[0].value.id}[...] = ...`"
    augmented = getattr(s, "sct_augmented", None)
    if augmented is not None and augmented[0] is not None and augmented[1] is None:
        return augmented[0], f"`{augmented[0]} op= ...`"
    node = s.value if isinstance(s, (gast.Expr, gast.Assign)) and isinstance(s.value, gast.Call) else None
    if node is None:
        return None
    func = node.func
    for k in node.keywords:
        if k.arg == "out" and isinstance(k.value, gast.Name):
            return k.value.id, f"out={k.value.id}"
    fname = func.attr if isinstance(func, gast.Attribute) else getattr(func, "id", "")
    if isinstance(func, gast.Attribute) and isinstance(func.value, gast.Name) and fname in ARRAY_MUTATORS:
        return func.value.id, f"{func.value.id}.{fname}(...)"
    if (fname in WRITING_FUNCTIONS or fname == "at") and node.args and isinstance(node.args[0], gast.Name):
        return node.args[0].id, f"{fname}({node.args[0].id}, ...)"
    return None


def read_only_view(analysis, s, name: str) -> FrozenSet:
    """The read-only view functions (``sliding_window_view``, ``broadcast_to``) the array ``name``
    may come from at ``s`` (empty: it is writeable, as far as sct sees)."""
    state = analysis.before.get(id(s))
    return frozenset() if state is None else state.env.get(read_only_key(name), frozenset())


def unset_key(param: str, attr: str) -> str:
    """The env entry saying ``param.attr`` may not be set on __init__'s new object yet (no name
    can be spelt so)."""
    return f"<unset {param}.{attr}>"


# parameters of numpy's functions that None sets to their default (not a value put into the array)
_SETTINGS = frozenset({
    "axis", "axes", "out", "dtype", "order", "copy", "like", "casting", "where", "weights", "keepdims",
    "subok", "ndmin", "initial", "ddof", "minlength", "side", "kind", "sorter", "mode", "norm", "n", "k",
    "bins", "range", "density", "rcond", "method", "equal_nan", "shape", "newshape", "offset", "axis1",
    "axis2", "decimals", "device", "stream", "prepend", "append", "to_begin", "to_end", "edge_order",
    "interpolation", "fweights", "aweights", "signature", "extobj", "chunks", "max_work", "optimize"})


_PARAMETER_LISTS: Dict[int, Tuple[object, List[str]]] = {}


def _parameter_list(f) -> List[str]:
    """The names of ``f``'s parameters in order (empty where Python cannot tell: np.array)."""
    hit = _PARAMETER_LISTS.get(id(f))
    if hit is not None and hit[0] is f:
        return hit[1]
    import inspect
    try:
        names = list(inspect.signature(f).parameters)
    except (TypeError, ValueError):
        names = []
    _PARAMETER_LISTS[id(f)] = (f, names)
    return names


def _changed_in_place(fdef, name: str) -> bool:
    """Is the local ``name`` a receiver of a method call or a target of an item store in ``fdef``?"""
    for n in gast.walk(fdef):
        if isinstance(n, gast.Attribute) and isinstance(n.value, gast.Name) and n.value.id == name:
            return True
        if isinstance(n, gast.Subscript) and isinstance(n.ctx, (gast.Store, gast.Del)) and \
                isinstance(n.value, gast.Name) and n.value.id == name:
            return True
        if isinstance(n, gast.AugAssign) and isinstance(n.target, gast.Name) and n.target.id == name:
            return True
    return False


def _range_target(fdef, name: str) -> bool:
    """Is ``name`` bound only as the target of ``for name in range(...)`` loops (an int)?"""
    loops = stores = 0
    for n in gast.walk(fdef):
        if isinstance(n, gast.For) and isinstance(n.target, gast.Name) and n.target.id == name:
            if not (isinstance(n.iter, gast.Call) and isinstance(n.iter.func, gast.Name) and n.iter.func.id == "range"):
                return False
            loops += 1
        elif isinstance(n, gast.Name) and n.id == name and isinstance(n.ctx, gast.Store):
            stores += 1
    return loops > 0 and loops == stores


def _items_only_read(fdef: gast.FunctionDef, name: str) -> bool:
    """Does ``fdef`` (nested functions too) use the argument ``name`` only as ``name[constant]`` or
    ``name.attr`` read for its value, never bound, written into, deleted, passed on itself, nor its
    items' shapes changed in place (``name["W"].shape = ...``, ``.resize(...)``)?"""
    parents = {}
    for node in gast.walk(fdef):
        for child in gast.iter_child_nodes(node):
            parents[id(child)] = node
    for node in gast.walk(fdef):
        if not (isinstance(node, gast.Name) and node.id == name):
            continue
        if any(node is a for a in fdef.args.args + fdef.args.kwonlyargs):
            continue            # (gast's parameters are Names with Param context)
        if not isinstance(node.ctx, gast.Load):
            return False
        item = parents.get(id(node))
        if not (isinstance(item, (gast.Subscript, gast.Attribute)) and item.value is node and
                isinstance(item.ctx, gast.Load)):
            return False
        if isinstance(item, gast.Subscript) and not isinstance(item.slice, gast.Constant):
            return False
        user = parents.get(id(item))
        if isinstance(user, gast.Attribute) and (not isinstance(user.ctx, gast.Load) or
                                                 user.attr in ("resize", "shape")):
            return False
        if isinstance(user, gast.Subscript) and user.value is item and not isinstance(user.ctx, gast.Load):
            return False        # (p["W"][0] = v keeps W's rank; refused to keep this simple)
        if isinstance(user, gast.AugAssign) and user.target is item:
            return False
    return True


def _element_kinds_of(kind, key) -> list:
    """The kinds of the item ``key`` of a dict (or the field ``key`` of an object) argument's kind."""
    if not isinstance(kind, tuple) or len(kind) < 3 or not isinstance(kind[2], tuple):
        return []
    return [v for k, v in (i for i in kind[2] if isinstance(i, tuple) and len(i) == 2) if k == key]


def _numbers_kind(kind) -> bool:
    """Is ``kind`` (an argument's, sct.kinds) numbers, numeric arrays or tuples and lists of them?"""
    if not isinstance(kind, tuple) or not kind:
        return False
    if kind[0] == "num" or kind[0] == "const" and kind[1] is bool:
        return True
    if kind[0] in ("dl", "nd"):
        return len(kind) > 1 and isinstance(kind[1], str) and not np.dtype(kind[1]).hasobject
    if kind[0] == "seq" and len(kind) > 2 and isinstance(kind[2], tuple):
        return all(_numbers_kind(k) for k in kind[2])
    return False


def _leaf_kind(kind) -> bool:
    """Is ``kind`` (an argument's) a number or a numeric array (no tuple or list)?"""
    return isinstance(kind, tuple) and bool(kind) and kind[0] in ("num", "const", "dl", "nd") and \
        _numbers_kind(kind)


def _flat_kind(kind) -> bool:
    """Is ``kind`` (an argument's) a dict, list or tuple whose items are numbers or numeric arrays?"""
    if not isinstance(kind, tuple) or len(kind) < 3 or not isinstance(kind[2], tuple):
        return False
    if kind[0] == "map" and kind[1] is dict:
        return all(isinstance(i, tuple) and len(i) == 2 and _leaf_kind(i[1]) for i in kind[2])
    return kind[0] == "seq" and all(_leaf_kind(k) for k in kind[2])


def _numbers(value) -> bool:
    """Is ``value`` a number or an array of numbers (no references)?"""
    import numbers
    return isinstance(value, numbers.Number) and not isinstance(value, bool) or isinstance(value, bool) or \
        isinstance(value, (np.ndarray, np.generic)) and not value.dtype.hasobject


def _sets_attribute(code, attr: str) -> bool:
    """May ``code`` (or the code nested in it) set or delete an attribute ``attr`` of an object (``o.attr = v``,
    ``del o.attr``, ``setattr``, ``__dict__``)?"""
    import dis
    if attr not in code.co_names and not {"setattr", "delattr", "__dict__", "__setattr__", "update"} & \
            set(code.co_names) and not any(isinstance(c, types.CodeType) for c in code.co_consts):
        return False
    for ins in dis.get_instructions(code):
        if ins.opname in ("STORE_ATTR", "DELETE_ATTR") and ins.argval == attr or \
                ins.argval in ("setattr", "delattr", "__dict__", "__setattr__"):
            return True
    return any(_sets_attribute(c, attr) for c in code.co_consts if isinstance(c, types.CodeType))


def _bound_once(fdef) -> Dict[str, object]:
    """The value of each local of ``fdef`` bound exactly once, by ``name = value``."""
    stores: Dict[str, int] = {}
    values: Dict[str, object] = {}
    for n in gast.walk(fdef):
        if isinstance(n, gast.Name) and not isinstance(n.ctx, gast.Load):
            stores[n.id] = stores.get(n.id, 0) + 1
        elif isinstance(n, gast.Assign) and len(n.targets) == 1 and isinstance(n.targets[0], gast.Name):
            values[n.targets[0].id] = n.value
    return {k: v for k, v in values.items() if stores.get(k) == 1}


def _object_dtype(node: gast.Call) -> bool:
    """May the array ``node`` makes hold objects (``dtype=object``), so that items are references?"""
    for v in list(node.args[1:]) + [k.value for k in node.keywords if k.arg == "dtype"]:
        if isinstance(v, gast.Name) and v.id == "object" or \
                isinstance(v, gast.Attribute) and v.attr in ("object_", "object") or \
                isinstance(v, gast.Constant) and v.value in ("O", "object", "|O"):
            return True
    return False


_NEW_INSTANCE_CACHE: Dict[int, Tuple[object, bool]] = {}


def new_instance_class(cls) -> bool:
    """Does calling ``cls`` surely make a new object that nothing else holds: a plain class
    (``type`` or ``ABCMeta`` its metaclass, object's ``__new__``, ``__setattr__`` and
    ``__getattribute__``) each of whose ``__init__`` / ``__post_init__`` (a dataclass's generated
    ``__init__`` too) uses ``self`` only to set or read its attributes."""
    if not isinstance(cls, type):
        return False
    hit = _NEW_INSTANCE_CACHE.get(id(cls))
    if hit is not None and hit[0] is cls:
        return hit[1]
    ok = _plain_instances(cls)
    if len(_NEW_INSTANCE_CACHE) > 1024:
        _NEW_INSTANCE_CACHE.clear()
    _NEW_INSTANCE_CACHE[id(cls)] = (cls, ok)
    return ok


def _plain_instances(cls) -> bool:
    import abc
    import dataclasses
    if type(cls) not in (type, abc.ABCMeta) or cls.__new__ is not object.__new__ or \
            cls.__setattr__ is not object.__setattr__ or cls.__getattribute__ is not object.__getattribute__:
        return False
    for klass in cls.__mro__:
        if klass is object:
            continue
        if module_top(klass) == "builtins":
            return False                      # a subclass of list, dict...: not followed here
        for method in ("__init__", "__post_init__"):
            fn = vars(klass).get(method)
            if fn is None:
                continue
            code = getattr(fn, "__code__", None)
            if code is None:
                return False
            if method == "__init__" and code.co_filename == "<string>" and dataclasses.is_dataclass(klass):
                continue                      # a dataclass's generated __init__: sets the fields
            if not _keeps_self(fn):
                return False
    return True


_IMMUTABLE_DEFAULTS = (type(None), bool, int, float, complex, str, bytes)


def _plain_class_attributes(cls, also=()) -> bool:
    """Is every class attribute of ``cls`` and its bases (but object's and dunders) a function, a
    class or static method, one of the types ``also`` or an immutable constant: none an object an
    instance would read (a shared array, a property)?"""
    kinds = (types.FunctionType, classmethod, staticmethod) + tuple(also) + _IMMUTABLE_DEFAULTS
    return all(name.startswith("__") and name.endswith("__") or isinstance(value, kinds)
               for klass in cls.__mro__[:-1] for name, value in vars(klass).items())


def _fields_given(cls) -> bool:
    """Does a new object of the dataclass ``cls`` (``new_instance_class``) hold only what its
    generated ``__init__`` is given: no ``__post_init__``, every field's default a number or a string
    (or a new list, dict or set), and no class attribute that is an object an instance would read (nor a
    property, whose setter the generated ``__init__`` runs)?"""
    import dataclasses
    if not dataclasses.is_dataclass(cls):
        return _init_sets_given(cls)
    for klass in cls.__mro__[:-1]:
        if "__post_init__" in vars(klass) or "__init__" in vars(klass) and \
                getattr(getattr(vars(klass)["__init__"], "__code__", None), "co_filename", None) != "<string>":
            return False
    if not _plain_class_attributes(cls, (types.MemberDescriptorType,)):
        return False
    for f in dataclasses.fields(cls):
        if f.default is not dataclasses.MISSING and not isinstance(f.default, _IMMUTABLE_DEFAULTS) or \
                f.default_factory is not dataclasses.MISSING and f.default_factory not in (list, dict, set):
            return False
    return True


def _init_sets_given(cls) -> bool:
    """``_fields_given`` of a plain class: its one ``__init__`` (of the class itself, no base's) only sets
    attributes of self to its parameters or to constants (``self.x = x``), and no class attribute is an
    object an instance would read (was: anything, so ``bf.x += v`` in ``bump`` on ``bf = Buf(h * 1.0)``
    was refused at run time, fuzz51 F4's ``+=`` form)."""
    init = vars(cls).get("__init__")
    if not isinstance(init, types.FunctionType) or \
            any("__init__" in vars(k) or "__post_init__" in vars(k) for k in cls.__mro__[1:-1]):
        return False
    if not _plain_class_attributes(cls):
        return False
    try:
        from .parse import function_ast
        fdef, _, _ = function_ast(init)
    except Exception:
        return False
    a = fdef.args
    if a.posonlyargs or a.vararg or a.kwarg or a.kwonlyargs or a.defaults or not a.args:
        return False
    me, params = a.args[0].id, {p.id for p in a.args[1:]}
    for st in fdef.body:
        if isinstance(st, gast.Expr) and isinstance(st.value, gast.Constant) and isinstance(st.value.value, str):
            continue
        if not (isinstance(st, gast.Assign) and len(st.targets) == 1 and isinstance(st.targets[0], gast.Attribute) and
                isinstance(st.targets[0].value, gast.Name) and st.targets[0].value.id == me and
                (isinstance(st.value, gast.Name) and st.value.id in params or
                 isinstance(st.value, gast.Constant) and isinstance(st.value.value, _IMMUTABLE_DEFAULTS))):
            return False
    return True


def _keeps_self(fn) -> bool:
    """Does the method ``fn`` use its first parameter only as ``self.attr`` (read or set), never
    pass it on, return it, store it, capture it or call one of its methods?"""
    try:
        from .parse import function_ast
        fdef, _, _ = function_ast(fn)
    except Exception:
        return False
    if not fdef.args.args:
        return False
    me = fdef.args.args[0].id
    parents = {}
    for node in gast.walk(fdef):
        for child in gast.iter_child_nodes(node):
            parents[id(child)] = node
        if isinstance(node, (gast.FunctionDef, gast.Lambda, gast.ClassDef)) and node is not fdef:
            return False                      # a closure may keep self
    for node in gast.walk(fdef):
        if isinstance(node, gast.Name) and node.id == me and node is not fdef.args.args[0]:
            parent = parents.get(id(node))
            if not isinstance(parent, gast.Attribute) or parent.value is not node or \
                    not isinstance(node.ctx, gast.Load):
                return False
            grand = parents.get(id(parent))
            if isinstance(grand, gast.Call) and grand.func is parent:
                return False                  # self.method(...): the method sees self
    return True


# (methods that may store what they are given into their object: q.append(q); a deque's and the dunders too)
_STORING_METHODS = frozenset(LIST_MUTATORS | {"appendleft", "extendleft", "__setitem__", "__setattr__"})


# The calls whose results hold their arguments as they are (``vars``: an argument's own dict): Python's containers
# and wrappers, a class (a capitalised name: ``Holder(c)``), sct's own container copies and closures; not a user's
# function (``make(c)``: which may or may not, read by the heap summary only where this gate opens: opening it for
# every call refused DenseNet-like loops, ``h = attn(hs, W); hs.append(h)``); the attributes of an object that hold it
# (its dict, its bound methods): ``c.d = vars(c)``, ``c.d = dict(me=c)``,
# ``c.g = c.__getattribute__``, ``c.f = functools.partial(step, c)`` store c into c as ``c.me = c`` does (was:
# the gate saw no store into itself, ``c.d = vars(c); c.h = v`` then ``c.d["h"]`` read the write through a path
# sct followed apart from c, half the gradient, red2st53 m17)
_HOLDING_CALLS = frozenset(("vars", "SimpleNamespace", "partial", "MethodType", "repeat", "replace", "_replace"))
_ARRAY_MODULES = frozenset(("np", "numpy", "math", "cmath", "scipy", "sp", "jnp"))
# ... and those that hold their arguments' ITEMS, not the arguments (``dict(vars(c))``, ``copy.copy(c)``: c's
# fields, not c; was: taken for c, so a snapshot ``c.snap = dict(vars(c))`` was refused as c holding itself, red2_54)
_COPYING_CALLS = frozenset(("dict", "list", "tuple", "set", "frozenset", "copy", "sorted", "reversed", "iter", "zip",
                            "enumerate", "map", "filter", "defaultdict", "deque", "ChainMap", "cycle", "chain", "max",
                            "min", "next", "reduce", "getattr", "accumulate", "islice", "tee"))
# methods whose results are their receiver's items (``[c].pop()``, ``[c].copy()``: c)
_ITEM_METHODS = frozenset(("pop", "copy", "get", "setdefault", "popitem", "values", "items", "keys", "__getitem__",
                           "__next__", "__copy__", "index", "__reversed__", "__iter__"))
_HOLDING_ATTRIBUTES = frozenset(("__dict__", "__self__", "__getattribute__", "__getattr__", "__getitem__",
                                 "__setattr__", "__setitem__", "__iter__", "get", "items", "values", "keys",
                                 "pop", "setdefault", "update", "append", "extend", "insert", "index", "count",
                                 "copy", "__call__", "__class__"))


def _alias_names(node) -> Set[str]:
    """The names whose objects ``node`` IS (``c``, ``c.__dict__``, ``vars(c)``: c's own dict): a name bound to it
    holds as items what they hold, not them (``d = c.__dict__; dict(d)``: c's fields, not c)."""
    if isinstance(node, gast.Name):
        return {node.id} if isinstance(node.ctx, gast.Load) else set()
    if isinstance(node, gast.Attribute) and node.attr == "__dict__" or \
            isinstance(node, gast.Call) and isinstance(node.func, gast.Name) and node.func.id == "vars" and \
            len(node.args) == 1 and not node.keywords:
        return _alias_names(node.value if isinstance(node, gast.Attribute) else node.args[0])
    if isinstance(node, gast.IfExp):
        return _alias_names(node.body) | _alias_names(node.orelse)
    return set()


def _item_names(node, local=frozenset()) -> Set[str]:
    """The names whose values ``node``'s items (or fields) hold: the elements of a display, else ``"*n"`` for a name n
    held (what is stored into n's object: expanded by ``_stores_into_itself``)."""
    if isinstance(node, (gast.List, gast.Tuple, gast.Set, gast.Dict, gast.ListComp, gast.SetComp, gast.GeneratorExp,
                         gast.DictComp, gast.Call, gast.Subscript, gast.BinOp)):
        return _bare_names(node, local) | {"*" + n for n in _bare_names(node, local) if not n.startswith("*")}
    return {"*" + n for n in _bare_names(node, local) if n[0] not in "*~"} | \
        {"~" + n[1:] for n in _bare_names(node, local) if n[0] == "~"}      # (an item's items: approximated by its holder's)


def _bare_names(node, local=frozenset()) -> Set[str]:
    """The names whose values ``node`` holds as they are: a name, or the items of a list, tuple, set or dict
    display of them (not ``a`` of ``a[i]``, ``a.h``, ``f(a)`` or ``a + 1``: an item, a field, a call's result, an
    operation's), also through the calls that hold their arguments (``_HOLDING_CALLS``, ``Holder(c)``), the
    attributes that hold an object (``_HOLDING_ATTRIBUTES``) and ``+``/``*`` (``[c] * 2``)."""
    if isinstance(node, gast.Name):
        return {node.id} if isinstance(node.ctx, gast.Load) else set()
    if isinstance(node, gast.Subscript):      # (``[c][0]``: c; ``t[0]``: "~t", an item of t)
        if not isinstance(node.ctx, gast.Load):
            return set()
        if isinstance(node.value, (gast.List, gast.Tuple, gast.Set, gast.Dict)):
            return _bare_names(node.value, local)
        if isinstance(node.slice, gast.Slice):      # (``t[::-1]``: a copy of t's items, ``*t``; was "~t", an item
            return _item_names(node.value, local)   # of t, whose items' items were not followed: list(reversed([c])))
        return {"~" + n.lstrip("*~") for n in _bare_names(node.value, local)}
    if isinstance(node, (gast.ListComp, gast.SetComp, gast.GeneratorExp, gast.DictComp)):
        return set().union(_bare_names(getattr(node, "elt", None) or node.value, local),      # (``[y for y in [c]]``)
                           *(_item_names(g.iter, local) for g in node.generators))
    if isinstance(node, gast.Call) and not isinstance(node.func, (gast.Name, gast.Attribute)):
        # (``(lambda: c)()``, ``operator.itemgetter(0)([c])``: what the callee reads, the arguments' items)
        parts = list(node.args) + [k.value for k in node.keywords]
        return set().union(_bare_names(node.func, local), *(_item_names(p, local) for p in parts),
                           *(_bare_names(p, local) for p in parts))
    if isinstance(node, gast.Call) and isinstance(node.func, gast.Attribute) and node.func.attr in _ITEM_METHODS and \
            root_name(node.func.value) not in _ARRAY_MODULES | {"copy", "rt"}:
        parts = list(node.args) + [k.value for k in node.keywords]      # (``[c].pop()``, ``d.get("a", c)``)
        return set().union(_item_names(node.func.value, local), *(_bare_names(p, local) for p in parts))
    if isinstance(node, gast.Call):
        f = node.func
        name = f.id if isinstance(f, gast.Name) else f.attr if isinstance(f, gast.Attribute) else ""
        root = root_name(f)
        # (``np.array([c], dtype=object)``: an array holding c, as ``list([c])`` does; was not followed, so
        # ``c.d = np.array([c], dtype=object)`` was no store of c into itself: an internal error, gate55)
        objects = root in _ARRAY_MODULES and (_object_dtype(node) or any(
            k.arg == "dtype" and isinstance(k.value, gast.Name) for k in node.keywords))    # (``dtype=np_object_``)
        if root is not None and root.startswith("rt") and isinstance(f, gast.Attribute):
            holds = name in CONTAINER_COPIES or name == "bind_closure"     # (sct's own: its copies, closures)
        else:
            holds = name in _HOLDING_CALLS or name in _COPYING_CALLS or isinstance(f, gast.Name) and name in local or \
                name.lstrip("_")[:1].isupper() and root not in _ARRAY_MODULES or objects
        if isinstance(f, gast.Name) and name in local or not holds and id(node) in local:
            # (a callable bound here: a nested def, a lambda, an itemgetter; or a call the points-to state says may
            # give what it is given, ``make(c)``: its arguments, their items, a method's object)
            parts = list(node.args) + [k.value for k in node.keywords] + ([f.value] if isinstance(f, gast.Attribute)
                                                                          else [])
            return set().union(*(_bare_names(p, local) for p in parts), *(_item_names(p, local) for p in parts))
        if not holds:
            return set()
        parts = list(node.args) + [k.value for k in node.keywords]
        if objects:
            return _item_names(node.args[0], local) if node.args else set()
        if name in _COPYING_CALLS and not (root is not None and root.startswith("rt")) or \
                name in CONTAINER_COPIES and name != "simple_namespace" and root is not None and root.startswith("rt"):
            return set().union(*(_item_names(p, local) for p in parts)) if parts else set()
        return set().union(*(_bare_names(p, local) for p in parts)) if parts else set()
    if isinstance(node, gast.Lambda):
        return loaded_names(node.body)  # (a closure holds the names it reads: ``c.f = lambda: c.h``)
    if isinstance(node, gast.Attribute):
        return _bare_names(node.value, local) if node.attr in _HOLDING_ATTRIBUTES else set()
    if isinstance(node, gast.BinOp) and isinstance(node.op, (gast.Mult, gast.Add)):
        return _bare_names(node.left, local) | _bare_names(node.right, local)     # (``[c] * 2``, ``t * 2`` of a list t)
    if isinstance(node, (gast.List, gast.Tuple, gast.Set)):
        parts = node.elts
    elif isinstance(node, gast.Dict):
        parts = [v for k, v in zip(node.keys, node.values) if k is not None]
        spread = [v for k, v in zip(node.keys, node.values) if k is None]      # (``{**d}``: d's items)
        return set().union(*(_bare_names(p, local) for p in parts), *(_item_names(v, local) for v in spread))
    elif isinstance(node, gast.Starred):
        return _item_names(node.value, local)  # (``[*t]``: t's items)
    elif isinstance(node, gast.IfExp):
        parts = [node.body, node.orelse]
    else:
        return set()
    return set().union(*(_bare_names(p, local) for p in parts))
