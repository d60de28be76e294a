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
``ufunc(..., out=z)``, ``np.copyto(z, v)``, ``np.add.at(z, i, v)``) into new
values of an unshared ``z``; ``check_writes`` refuses every write it cannot
prove exact, and names the writes that must become new values because an
adjoint reads the old one.
"""
from __future__ import annotations

from typing import Dict, FrozenSet, List, Optional, Set, Tuple

import gast
import numpy as np

from .runtime import registry

from .errors import CompileError
from .ir import assign, call, const, load, loaded_names, walk_no_defs
from .plans import CallKind

EXT = ("ext",)                       # every object this function does not own

# Functions and methods whose result may share memory with (or be) an argument.
VIEW_FUNCTIONS = {
    "reshape", "ravel", "transpose", "permute_dims", "matrix_transpose", "swapaxes", "moveaxis",
    "rollaxis", "squeeze", "expand_dims", "asarray", "asanyarray", "ascontiguousarray",
    "asfortranarray", "asarray_chkfinite", "require", "atleast_1d", "atleast_2d", "atleast_3d",
    "broadcast_to", "broadcast_arrays", "real", "imag", "diagonal", "diag", "flip", "fliplr",
    "flipud", "rot90", "split", "array_split", "hsplit", "vsplit", "dsplit", "unstack", "view",
    "as_strided", "sliding_window_view", "extractdata", "stop_gradient", "as_sequence",
    "as_dlarray_data", "dlarray", "min", "max", "iter", "next", "getattr", "vars", "reversed",
}
VIEW_METHODS = {"reshape", "ravel", "view", "transpose", "squeeze", "swapaxes", "diagonal", "conj",
                "conjugate", "get", "pop", "setdefault", "values", "items", "keys", "astype",
                "__getitem__", "flatten", "real", "imag"}
VIEW_ATTRIBUTES = {"T", "mT", "H", "real", "imag", "flat", "data", "base"}
COPY_BUILTINS = {"list", "tuple", "dict", "sorted", "set", "frozenset", "copy"}
# ops that build a new container of (views of) their arguments' items
CONTAINER_COPIES = COPY_BUILTINS | {"copy_value", "deepcopy", "deep_copy", "listed", "tupled",
                                    "dict_merged", "copy_list", "as_sequence"}
SEQUENCE_MAKERS = {"list", "tuple", "sorted", "listed", "tupled", "copy_list"}
IMMUTABLE_BUILTINS = {"len", "range", "int", "float", "complex", "bool", "str", "repr", "print",
                      "isinstance", "hasattr", "callable", "abs", "round", "sum", "any", "all",
                      "enumerate", "zip", "format", "id", "hash", "type"}

# Methods of lists, dicts and arrays that change their receiver.
LIST_MUTATORS = {"append", "extend", "insert", "remove", "pop", "clear", "sort", "reverse",
                 "update", "setdefault", "popitem", "add", "discard"}
ARRAY_MUTATORS = {"sort", "fill", "resize", "put", "itemset", "partition", "setfield", "byteswap",
                  "setflags"}
MUTATORS = LIST_MUTATORS | ARRAY_MUTATORS
MODELLED = {"sort", "fill", "reverse", "extend", "append", "pop"}
# numpy functions that write into their first argument
WRITING_FUNCTIONS = {"copyto", "put", "place", "putmask", "fill_diagonal", "put_along_axis"}


def _new(site) -> Tuple:
    return ("new", site)


def _old(site) -> Tuple:
    return ("old", site)


class _Map:
    """A dict with cheap copies: a shared base that is never changed once shared, and the
    entries set since (copy-on-write).  Each copy costs the size of that delta; the delta is
    folded into a new base when it outgrows the square root of the base, so the states kept
    for every statement cost O(n sqrt n) for an n-statement function, not O(n^2)."""
    __slots__ = ("base", "delta")

    def __init__(self, base=None, delta=None):
        self.base = base if base is not None else {}
        self.delta = delta if delta is not None else {}

    def get(self, k, default=None):
        d = self.delta
        if k in d:
            return d[k]
        return self.base.get(k, default)

    def __getitem__(self, k):
        d = self.delta
        if k in d:
            return d[k]
        return self.base[k]

    def __contains__(self, k):
        return k in self.delta or k in self.base

    def __setitem__(self, k, v):
        self.delta[k] = v

    def flat(self) -> Dict:
        if not self.delta:
            return self.base
        return {**self.base, **self.delta}

    def items(self):
        return self.flat().items()

    def __iter__(self):
        return iter(self.flat())

    def __len__(self):
        return len(self.flat())

    def copy(self) -> "_Map":
        if len(self.delta) * len(self.delta) > len(self.base) + 64:
            self.base = {**self.base, **self.delta}
            self.delta = {}
        return _Map(self.base, dict(self.delta))


class State:
    __slots__ = ("env", "heap", "escaped", "multi")

    def __init__(self, env=None, heap=None, escaped=frozenset(), multi=frozenset()):
        self.env = env if isinstance(env, _Map) else _Map(dict(env or {}))
        self.heap = heap if isinstance(heap, _Map) else _Map(dict(heap or {}))
        self.escaped: FrozenSet = frozenset(escaped)
        # objects a container may hold at two places (``[a] * 2``, ``{"u": a, "v": a}``)
        self.multi: FrozenSet = frozenset(multi)

    def copy(self) -> "State":
        return State(self.env.copy(), self.heap.copy(), self.escaped, self.multi)

    def join(self, other: "State") -> "State":
        out = self.copy()
        for mine, theirs, dest in ((self.env, other.env, out.env), (self.heap, other.heap, out.heap)):
            if mine.base is theirs.base:
                # the same base: only the keys either side set since can differ
                for k in set(mine.delta) | set(theirs.delta):
                    dest[k] = mine.get(k, frozenset()) | theirs.get(k, frozenset())
            else:
                for k, v in theirs.items():
                    dest[k] = dest.get(k, frozenset()) | v
        out.escaped = out.escaped | other.escaped
        out.multi = out.multi | other.multi
        return out

    def key(self):
        return (frozenset(self.env.items()), frozenset(self.heap.items()), self.escaped, self.multi)

    def contents(self, objs) -> FrozenSet:
        out = set()
        for o in objs:
            out |= self.heap.get(o, frozenset())
        return frozenset(out)

    def reach(self, objs) -> Set:
        seen = set(objs)
        todo = list(objs)
        while todo:
            o = todo.pop()
            for c in self.heap.get(o, ()):
                if c not in seen:
                    seen.add(c)
                    todo.append(c)
        return seen


class AliasAnalysis:
    def __init__(self, fdef: gast.FunctionDef, resolver, mode: str, param_kinds: Dict,
                 owned_params: Set[str] = frozenset(), activity=None):
        from .analysis import classify_call
        self.fdef = fdef
        self.resolver = resolver
        self.mode = mode
        self.kinds = param_kinds
        self.activity = activity
        self._classify = classify_call
        self.params = [a.id for a in fdef.args.args] + [a.id for a in fdef.args.kwonlyargs]
        for extra in (fdef.args.vararg, fdef.args.kwarg):
            if extra is not None:
                self.params.append(extra.id)
        self.owned_params = set(owned_params)
        # one walk for the names bound here, slice(...) and super() results and the nested defs
        self.locals = set(self.params)
        self.slice_names: Set[str] = set()
        self.super_names: Set[str] = set()
        nested = []
        for n in walk_no_defs(fdef):
            if isinstance(n, gast.Name):
                if isinstance(n.ctx, gast.Store):
                    self.locals.add(n.id)
            elif isinstance(n, gast.Assign):
                if isinstance(n.targets[0], gast.Name) and isinstance(n.value, gast.Call) and \
                        isinstance(n.value.func, gast.Name):
                    if n.value.func.id == "slice":
                        self.slice_names.add(n.targets[0].id)
                    elif n.value.func.id == "super":
                        self.super_names.add(n.targets[0].id)
            elif isinstance(n, (gast.FunctionDef, gast.Lambda)) and n is not fdef:
                nested.append(n)
        self.before: Dict[int, State] = {}     # statement id -> state before it
        self.live_after: Dict[int, FrozenSet[str]] = {}
        self.origin: Dict[str, str] = {}       # name -> how it was bound (for messages)
        self.allocated: Set = set()            # allocation sites met so far
        self.array_sites: Set = set()          # allocation sites known to make arrays (no items)
        self.seq_sites: Set = set()            # allocation sites known to make lists or tuples
        self.map_sites: Set = set()            # allocation sites known to make dicts
        # names nested functions read see every later change: always live
        self.captured: Set[str] = set()
        for n in nested:
            for m in gast.walk(n):
                if isinstance(m, gast.Name) and isinstance(m.ctx, gast.Load) and m.id in self.locals:
                    self.captured.add(m.id)
        self.run()

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

    # --- transfer -----------------------------------------------------------------------------
    def run(self):
        state = State()
        for p in self.params:
            state.env[p] = frozenset({_new(("param", p))}) if p in self.owned_params else \
                frozenset({("arg", p)})
            if p not in self.owned_params:
                state.heap[("arg", p)] = frozenset({EXT})
        state.heap[EXT] = frozenset({EXT})
        self.block(self.fdef.body, state)
        self.liveness(self.fdef.body, frozenset())

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
        o = self.alloc(state, site)
        state.heap[o] = frozenset(contents)
        return frozenset({o})

    def is_scalar_item(self, value: gast.Subscript) -> bool:
        """``x[i]`` of a 1-D array argument with no slice: a number or a copy, never a view."""
        base = value.value
        kind = self.kinds.get(base.id) if isinstance(base, gast.Name) else None
        if not (isinstance(kind, tuple) and len(kind) >= 3 and kind[0] in ("dl", "nd") and kind[2] == 1):
            return False
        items = value.slice.elts if isinstance(value.slice, gast.Tuple) else [value.slice]
        for item in items:
            if isinstance(item, gast.Slice):
                return False
            if isinstance(item, gast.Constant) and (item.value is None or item.value is Ellipsis):
                return False
            if isinstance(item, gast.Name) and item.id in self.slice_names:
                return False
        return len(items) == 1

    def value_objects(self, state: State, value, site) -> FrozenSet:
        if isinstance(value, gast.Name):
            return self.names(state, value)
        if isinstance(value, (gast.Constant, gast.Compare, gast.JoinedStr, gast.BoolOp)):
            return frozenset()
        if isinstance(value, (gast.BinOp, gast.UnaryOp)):
            operands = [value.left, value.right] if isinstance(value, gast.BinOp) else [value.operand]
            objs = frozenset()
            for o in operands:
                objs |= self.names(state, o)
            if isinstance(value, gast.BinOp):
                parts = [self.names(state, o) if isinstance(o, gast.List) else
                         state.contents(self.names(state, o)) for o in operands]
                if isinstance(value.op, gast.Mult):          # [a] * 2 holds a twice
                    state.multi = state.multi | parts[0] | parts[1]
                elif isinstance(value.op, gast.Add):         # l + [a] with a already in l
                    state.multi = state.multi | (parts[0] & parts[1])
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
            return self.fresh(state, site, state.contents(objs))
        if isinstance(value, gast.Subscript):
            base = self.names(state, value.value)
            if self.is_scalar_item(value):
                return frozenset()
            if isinstance(value.slice, gast.Slice) and base and all(self.is_sequence(o) for o in base):
                self.seq_sites.add(site)         # l[:] of a list or tuple: a new one
                return self.fresh(state, site, state.contents(base))
            if not isinstance(value.slice, (gast.Slice, gast.Tuple)) and base and \
                    all(self.is_sequence(o) or self.is_mapping(o) for o in base):
                return state.contents(base)      # an item of a list, tuple or dict, not a view of it
            return base | state.contents(base)
        if isinstance(value, gast.Attribute):
            chain = []
            node = value
            while isinstance(node, gast.Attribute):
                chain.append(node.attr)
                node = node.value
            if not isinstance(node, gast.Name) or node.id not in self.locals:
                return frozenset({EXT})
            objs = self.names(state, node)
            for attr_name in reversed(chain):
                if attr_name in registry.NONDIFF_ATTRIBUTES:
                    return frozenset()
                if attr_name in VIEW_ATTRIBUTES:
                    objs = objs | state.contents(objs)
                else:
                    objs = state.contents(objs)
            return objs
        if isinstance(value, (gast.Tuple, gast.List, gast.Dict)):
            (self.map_sites if isinstance(value, gast.Dict) else self.seq_sites).add(site)
            objs = frozenset()
            for v in (value.values if isinstance(value, gast.Dict) else value.elts):
                item = self.names(state, v)
                state.multi = state.multi | (objs & item)      # [a, a]
                objs |= item
            return self.fresh(state, site, objs)
        if isinstance(value, gast.Call):
            return self.call_objects(state, value, site)
        return frozenset({EXT})

    def call_args(self, state: State, node: gast.Call) -> FrozenSet:
        objs = frozenset()
        for a in node.args:
            objs |= self.names(state, a)
        for k in node.keywords:
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
        if info.kind == CallKind.SITE:
            return self.fresh(state, site)
        copy_false = any(k.arg == "copy" and not (isinstance(k.value, gast.Constant) and k.value.value)
                         for k in node.keywords)
        if info.kind == CallKind.OP and name in ("as_sequence", "list", "tuple", "sorted", "set") and \
                len(node.args) == 1 and not node.keywords and not receiver and \
                args and all(self.is_mapping(o) for o in args):
            # a new list of a dict's keys (hashable: never one of its values): `for k in d`, list(d)
            if name != "as_sequence":
                self.seq_sites.add(site)
            return self.fresh(state, site)
        if info.kind == CallKind.OP and name in CONTAINER_COPIES and name != "as_sequence":
            # a new list, tuple or dict holding the items (or the rows of an array argument)
            objs = args | receiver
            if name in SEQUENCE_MAKERS:
                self.seq_sites.add(site)
            elif name in ("dict", "dict_merged"):
                self.map_sites.add(site)
            return self.fresh(state, site, objs | state.contents(objs))
        if name == "inplace_result" and node.args:
            return self.names(state, node.args[0])    # the new value (the old one was unshared)
        if _number_result(node, info, name):
            return frozenset()                   # a number: immutable, `+=` rebinds it
        if info.kind in (CallKind.OP, CallKind.NONDIFF, CallKind.STOP, CallKind.CREATE):
            if name in VIEW_FUNCTIONS or copy_false or info.kind in (CallKind.STOP, CallKind.CREATE):
                objs = args | receiver
                return objs | state.contents(objs)
            if info.kind in (CallKind.OP, CallKind.NONDIFF) and info.obj is not None and \
                    not _object_dtype(node):
                from .analysis import returns_array
                if returns_array(info.obj):   # np.zeros(...) too: `y[0] = x` copies x's numbers
                    self.array_sites.add(site)
            return self.fresh(state, site)
        if info.kind == CallKind.METHOD and (info.method in registry.METHODS or info.method in MUTATORS or
                                      info.method in registry.NONDIFF_METHODS or
                                      info.method in VIEW_METHODS or info.method == "copy"):
            if info.method in VIEW_METHODS or copy_false:
                objs = receiver | args
                return objs | state.contents(objs)
            if info.method == "copy":
                return self.fresh(state, site, state.contents(receiver))
            if info.method in MUTATORS:          # pop and friends hand out an item
                return state.contents(receiver) | frozenset({EXT} if not receiver else ())
            return self.fresh(state, site)
        if info.kind == CallKind.PLAIN:
            if name in IMMUTABLE_BUILTINS:
                return frozenset()
            if name in COPY_BUILTINS:
                return self.fresh(state, site, args | state.contents(args))
            objs = args | receiver
            return self.fresh(state, site, objs | state.contents(objs)) | objs | state.contents(objs) | \
                frozenset({EXT})
        # a user function, method or object: it may return (a part of) any argument, and keep them
        objs = args | receiver
        reached = frozenset(state.reach(objs))
        via_super = isinstance(node.func, gast.Attribute) and isinstance(node.func.value, gast.Name) and \
            node.func.value.id in self.super_names and not args
        if not via_super:           # super().__init__() runs on self like the method itself
            state.escaped = state.escaped | reached
        if info.kind == CallKind.FUNCTION and _returns_fresh(info.obj):
            # every return makes a new value (``return np.tanh(v * s)``): the result is a
            # new object, whose items may still be anything
            return self.fresh(state, site, reached | frozenset({EXT}))
        return reached | frozenset({EXT})

    def store(self, state: State, objs, value_objs):
        for o in objs:
            state.multi = state.multi | (state.heap.get(o, frozenset()) & value_objs)
            state.heap[o] = state.heap.get(o, frozenset()) | value_objs
            if o == EXT or o[0] == "arg":
                state.escaped = state.escaped | frozenset(state.reach(value_objs))

    def statement(self, s, state: State):
        self.before[id(s)] = state.copy()
        if isinstance(s, gast.Assign):
            target = s.targets[0]
            if isinstance(target, gast.Name):
                objs = self.value_objects(state, s.value, id(s))
                state.env[target.id] = objs
                self.origin[target.id] = self.describe(s.value)
            elif isinstance(target, (gast.Subscript, gast.Attribute)):
                value_objs = self.value_objects(state, s.value, id(s)) if isinstance(s.value, gast.Call) \
                    else self.names(state, s.value)
                self.store(state, self.names(state, target.value), value_objs)
            elif isinstance(target, gast.Tuple):       # fwd, bwd = ... (generated only)
                objs = self.value_objects(state, s.value, id(s))
                for e in target.elts:
                    if isinstance(e, gast.Name):
                        state.env[e.id] = objs | state.contents(objs)
        elif isinstance(s, gast.Expr) and isinstance(s.value, gast.Call):
            node = s.value
            self.value_objects(state, node, id(s))
            func = node.func
            if isinstance(func, gast.Attribute) and isinstance(func.value, gast.Name) and \
                    func.attr in MUTATORS and func.value.id in self.locals:
                self.store(state, self.names(state, func.value), self.call_args(state, node))
        elif isinstance(s, gast.If):
            a = state.copy()
            b = state.copy()
            self.block(s.body, a)
            self.block(s.orelse, b)
            joined = a.join(b)
            state.env, state.heap, state.escaped = joined.env, joined.heap, joined.escaped
            state.multi = joined.multi       # ``d = [a, a]`` in a branch: d holds a twice after it
        elif isinstance(s, (gast.For, gast.While)):
            if isinstance(s, gast.For) and isinstance(s.target, gast.Name):
                state.env[s.target.id] = frozenset()
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
        elif isinstance(s, gast.With):
            self.block(s.body, state)

    def block(self, stmts, state: State):
        for s in stmts:
            self.statement(s, state)

    def describe(self, value) -> str:
        if isinstance(value, gast.Name):
            return f"a second name for {value.id}"
        if isinstance(value, gast.Subscript) and isinstance(value.value, gast.Name):
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
        return self.sharing_of(s, name, objs)

    def sharing_of(self, s, name: str, objs, exclude=frozenset()) -> Optional[str]:
        """Why a change of the objects ``objs`` (what ``name`` holds) at ``s`` may be seen
        through something else than ``name`` and the names in ``exclude`` (None: it can't)."""
        state = self.before.get(id(s))
        if state is None:
            return "sct could not follow where it comes from"
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
            if other == name or other in exclude or other not in state.env:
                continue
            if objs & state.env[other]:
                how = self.origin.get(other) or ""
                how = f" ({other} is {how})" if how else ""
                return f"{other} may be the same object as {name} or a view of it{how}, and it is read later"
            if objs & frozenset(state.reach(state.env[other])):
                return f"{other} holds it (it was put in a list, dict or object, or {other} was " \
                       f"taken from one), and {other} is read later"
        return None

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
                return f"{other} holds it (it was put in a list, dict or object, or {other} was " \
                       f"taken from one), and {other} is read later"
        return None

    def builtin(self, s, name: str) -> bool:
        """Is ``name`` surely a list, dict or array (not an object of the user's class)?"""
        act = self.activity
        if act is not None and (name in act.lists or name in act.arrays):
            return True
        kind = self.kinds.get(name)
        if isinstance(kind, tuple) and kind and kind[0] in ("seq", "map", "dl", "nd"):
            return True
        objs = self.objects(s, name)
        return bool(objs) and all(o[0] in ("new", "old") for o in objs) and \
            not any(o[1] == ("param", p) for o in objs for p in self.owned_params)

    def objects(self, s, name: str) -> FrozenSet:
        state = self.before.get(id(s))
        if state is None:
            return frozenset({EXT})
        return state.env.get(name, frozenset() if name in self.locals else frozenset({EXT}))


# --- rewriting the in-place operations sct models --------------------------------------------

# reductions whose result is a number (a numpy scalar) when given no axis
SCALAR_REDUCTIONS = {"sum", "mean", "prod", "max", "min", "amax", "amin", "std", "var", "nansum",
                     "nanmean", "nanmax", "nanmin", "nanprod", "nanstd", "nanvar", "vdot", "norm",
                     "ptp", "median", "count_nonzero"}
NUMBER_BUILTINS = {"float", "int", "complex", "bool", "len", "item"}


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
            (getattr(info.obj, "__module__", "") or "").startswith("numpy") and len(node.args) == 1 and \
            all(k.arg in ("dtype", "ddof", "where", "initial", "ord") for k in node.keywords):
        return True
    return False


def _statements(body):
    for s in body:
        yield s
        for field_name in ("body", "orelse"):
            inner = getattr(s, field_name, None)
            if isinstance(inner, list):
                yield from _statements(inner)


def _mutating_call(s):
    """``(call, assigned name or None)`` for a statement whose value is a call."""
    if isinstance(s, gast.Expr) and isinstance(s.value, gast.Call):
        return s.value, None
    if isinstance(s, gast.Assign) and isinstance(s.targets[0], gast.Name) and isinstance(s.value, gast.Call):
        return s.value, s.targets[0].id
    return None, None


def _resolved(resolver, func):
    """The object a call's ``np.add.at``-like name chain refers to, or None (a local, unknown)."""
    import types
    chain = []
    node = func
    while isinstance(node, gast.Attribute):
        chain.append(node.attr)
        node = node.value
    if not isinstance(node, gast.Name) or node.id in resolver.locals:
        return None
    try:
        value = resolver.resolve_name(node.id)
    except Exception:
        return None
    from .analysis import Unresolved, _MISSING
    if value is Unresolved or value is _MISSING:
        return None
    for name in reversed(chain):
        if not isinstance(value, (types.ModuleType, type, types.SimpleNamespace, np.ufunc)):
            return None
        value = getattr(value, name, None)
        if value is None:
            return None
    return value


def lower_mutations(fdef, resolver, mode, param_kinds, owned_params, rt_name: str) -> None:
    """Rewrite modelled in-place operations on unshared names into new values (always exact)."""
    for _ in range(20):
        analysis = AliasAnalysis(fdef, resolver, mode, param_kinds, owned_params)
        if not _lower_once(fdef.body, analysis, resolver, rt_name):
            return


def _lower_once(body: List, analysis: AliasAnalysis, resolver, rt_name: str) -> bool:
    for i, s in enumerate(body):
        for field_name in ("body", "orelse"):
            inner = getattr(s, field_name, None)
            if isinstance(inner, list) and _lower_once(inner, analysis, resolver, rt_name):
                return True
        new = _lowered(s, analysis, resolver, rt_name)
        if new is not None:
            for st in new:
                st.lineno = s.lineno
            body[i:i + 1] = new
            return True
    return False


def _lowered(s, analysis: AliasAnalysis, resolver, rt_name: str) -> Optional[List]:
    node, result = _mutating_call(s)
    if node is None:
        return None
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
    if outs and isinstance(outs[0].value, gast.Name) and isinstance(target, np.ufunc) and \
            registry.lookup(target) is not None:
        z = outs[0].value.id
        if analysis.sharing(s, z) is not None:
            return None
        keywords = [k for k in node.keywords if k.arg != "out"]
        if any(k.arg in ("where", "casting", "dtype", "order", "subok", "signature") for k in keywords):
            return None
        new = [assign(z, call(f"{rt_name}.into", [gast.Call(func=func, args=node.args, keywords=keywords),
                                                  load(z)]))]
        if result is not None:
            new.append(assign(result, load(z)))
        return _atomized(new, analysis)
    if result is None and target is np.copyto and len(node.args) == 2 and not node.keywords and \
            isinstance(node.args[0], gast.Name):
        z = node.args[0].id
        if analysis.sharing(s, z) is not None:
            return None
        return [assign(z, call(f"{rt_name}.into", [node.args[1], load(z)]))]
    if result is None and target is not None and _is_add_at(target) and len(node.args) == 3 and \
            not node.keywords and isinstance(node.args[0], gast.Name):
        z = node.args[0].id
        if analysis.sharing(s, z) is not None:
            return None
        return [assign(z, call(f"{rt_name}.add_at", [load(z), node.args[1], node.args[2]]))]
    if result is None and isinstance(func, gast.Attribute) and isinstance(func.value, gast.Name) and \
            func.value.id in analysis.locals and target is None:
        z, method = func.value.id, func.attr
        if method not in ("sort", "fill", "reverse", "extend") or not analysis.builtin(s, z):
            return None
        if analysis.sharing(s, z) is not None:
            return None
        if method == "sort" and not node.args and all(k.arg in ("axis", "kind") for k in node.keywords):
            return [assign(z, call(f"{rt_name}.sorted_value", [load(z)], node.keywords))]
        if method == "fill" and len(node.args) == 1 and not node.keywords:
            return [assign(z, call(f"{rt_name}.filled", [load(z), node.args[0]]))]
        if method == "reverse" and not node.args and not node.keywords:
            return [assign(z, call(f"{rt_name}.reversed_value", [load(z)]))]
        if method == "extend" and len(node.args) == 1 and not node.keywords:
            return [assign(z, call(f"{rt_name}.extended", [load(z), node.args[0]]))]
    return None


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


def _is_add_at(target) -> bool:
    try:
        return target == np.add.at
    except Exception:
        return False


# --- checking every write --------------------------------------------------------------------

def check_writes(fdef, resolver, mode, param_kinds, owned_params, activity, filename: str) -> Set[int]:
    """Refuse writes sct cannot prove exact; return the ids of in-place writes that must become
    new values because an adjoint reads the old value."""
    return _WriteCheck(fdef, resolver, mode, param_kinds, owned_params, activity, filename).run()


class _WriteCheck:
    """``check_writes`` for one function: one method per kind of write (into an item, into an
    attribute, by a call); ``force`` collects the writes that must become new values."""

    def __init__(self, fdef, resolver, mode, param_kinds, owned_params, activity, filename: str):
        self.fdef, self.resolver, self.mode, self.param_kinds = fdef, resolver, mode, param_kinds
        self.activity, self.filename = activity, filename
        self.analysis = AliasAnalysis(fdef, resolver, mode, param_kinds, owned_params, activity)
        self.active = activity.active
        self.fname = fdef.name
        # objects an adjoint may read, per statement: see _scan
        self.saved_at: Dict[int, "_SavedView"] = {}
        self.force: Set[int] = set()

    def run(self) -> Set[int]:
        self._scan(self.fdef.body, _Saved())
        self.fdef.sct_number_guards = []
        for s in _statements(self.fdef.body):
            if getattr(s, "sct_augmented", None) is not None:
                _check_augmented(s, self.analysis, self.param_kinds, self.mode, self.fail)
            if isinstance(s, gast.Assign) and isinstance(s.targets[0], gast.Subscript) and \
                    isinstance(s.targets[0].value, gast.Name):
                self._item_write(s, s.targets[0].value.id)
            elif isinstance(s, gast.Assign) and isinstance(s.targets[0], gast.Attribute) and \
                    isinstance(s.targets[0].value, gast.Name):
                if not self._attribute_write(s, s.targets[0].value.id, s.targets[0].attr):
                    continue        # nothing traced is stored: nothing more to check
            node, result = _mutating_call(s)
            if node is not None:
                self._call(s, node, result)
        return self.force

    def fail(self, s, message, construct):
        raise CompileError(message, self.filename, getattr(s, "lineno", self.fdef.lineno), construct)

    def _scan(self, block, saved: "_Saved") -> "_Saved":
        """Objects an adjoint may read: what active statements before a write read (in a loop,
        anywhere in its body: the next iteration's write comes after this iteration's read).
        (A snapshot per statement is taken only when asked for: copying the growing set at every
        statement made this pass quadratic in the function's length.)"""
        for s in block:
            self.saved_at[id(s)] = saved.view()
            if isinstance(s, gast.If):
                saved = self._scan(s.body, saved.copy()).union(self._scan(s.orelse, saved.copy()))
            elif isinstance(s, (gast.For, gast.While)):
                saved = self._scan(s.body, saved.copy())
                saved = self._scan(s.body, saved.copy())
            elif isinstance(s, gast.With):
                saved = self._scan(s.body, saved)
            elif isinstance(s, gast.Assign) and isinstance(s.targets[0], gast.Name) and \
                    s.targets[0].id in self.active:
                state = self.analysis.before.get(id(s))
                if state is not None:
                    for n in loaded_names(s.value):
                        objs = state.env.get(n, frozenset())
                        saved.add_all(objs)
                        saved.add_all(state.contents(objs))
        return saved

    def is_active(self, node) -> bool:
        return any(n in self.active for n in loaded_names(node))

    def saved(self, s) -> frozenset:
        return self.saved_at[id(s)].frozen() if id(s) in self.saved_at else frozenset()

    def written_saved(self, s, name) -> bool:
        objs = self.analysis.objects(s, name)
        saved = self.saved(s)
        return bool(objs & saved) or (EXT in objs and any(o == EXT or o[0] == "arg" for o in saved))

    def _item_write(self, s, name: str) -> None:
        """``name[...] = value``."""
        analysis, fail = self.analysis, self.fail
        tracked = name in self.active or self.is_active(s.value)
        needs_value = tracked or self.written_saved(s, name)
        if needs_value:
            why = analysis.sharing(s, name)
            if why is not None:
                what = "a traced value" if tracked else "a value an earlier differentiated operation read"
                fail(s, f"writing into {name}[...] in place changes {what}, and {why}; sct "
                     f"differentiates this write as a new value of {name} only. Write "
                     f"`{name} = {name}.copy()` before writing into it (or build a new array)",
                     f"write into {name}")
            if not tracked:
                self.force.add(id(s))
        elif self.mode == "vjp" and _not_owned(analysis, s, name):
            fail(s, f"{self.fname}() writes into {name}[...] in place, but {name} belongs to its caller, "
                 f"whose derivative may need the old value; return the new value instead "
                 f"(`{name} = {name}.copy()`, write, `return {name}`)", f"write into {name}")

    def _attribute_write(self, s, name: str, attr_name: str) -> bool:
        """``name.attr_name = value``; whether the value is traced."""
        analysis, fail, mode = self.analysis, self.fail, self.mode
        tracked = name in self.active or self.is_active(s.value)
        if not tracked:
            return False
        objs = analysis.objects(s, name)
        if mode == "vjp" and any(o == EXT or o[0] == "arg" for o in objs):
            fail(s, f"{self.fname}() sets {name}.{attr_name} to a traced value on an object its caller "
                 "passed in; sct follows values, not changes of the caller's objects: return the "
                 f"new value (or a new object) instead of storing it on {name}",
                 f"{name}.{attr_name} = ...")
        why = analysis.sharing(s, name)
        if why is not None and mode == "entry" and objs and all(o[0] == "arg" for o in objs) and \
                "is an argument" in why:
            why = analysis.other_name_of(s, name, objs)   # dlfeval's argument: only another name
        if why is not None:
            fail(s, f"setting {name}.{attr_name} changes the object in place, and {why}; sct "
                 f"follows the new value through {name} only. Build a new object, or set the "
                 "attribute through the one name you read it with", f"{name}.{attr_name} = ...")
        return True

    def _call(self, s, node, result) -> None:
        """A call that may change its arguments or object in place (``result``: the name its
        value is assigned to, or None)."""
        func = node.func
        target = _resolved(self.resolver, func) if not (isinstance(func, gast.Attribute) and
                                                        isinstance(func.value, gast.Name) and
                                                        func.value.id in self.analysis.locals) else None
        args_active = any(self.is_active(a) for a in node.args) or \
            any(self.is_active(k.value) for k in node.keywords)
        outs = [k for k in node.keywords if k.arg == "out"]
        if outs:
            self._out_write(s, outs[0], args_active)
            return
        fname_called = getattr(target, "__name__", "") if target is not None else ""
        writes_first = target is not None and (
            (fname_called in WRITING_FUNCTIONS and _is_numpy(target)) or _is_ufunc_method(target))
        if writes_first and node.args and isinstance(node.args[0], gast.Name):
            self._first_argument_write(s, func, node.args[0].id, args_active)
            return
        if isinstance(func, gast.Attribute) and isinstance(func.value, gast.Name) and \
                func.value.id in self.analysis.locals:
            if self._method_write(s, node, result, func.value.id, func.attr, args_active):
                return
        self._user_call(s, node, result, args_active)

    def _out_write(self, s, out, args_active: bool) -> None:
        """``f(..., out=z)``."""
        for z in loaded_names(out.value):
            if z in self.active or args_active or self.written_saved(s, z):
                self.fail(s, f"out={z} writes the result into {z} in place, which sct does not follow "
                          f"here; write `{z} = ...` with the result instead", "out=")
            if self.mode == "vjp" and _not_owned(self.analysis, s, z):
                self.fail(s, f"{self.fname}() writes into its caller's {z} with out=; return the new value "
                          "instead", "out=")

    def _first_argument_write(self, s, func, z: str, args_active: bool) -> None:
        """``np.copyto(z, ...)``, ``np.add.at(z, ...)``: numpy functions that write into their first
        argument."""
        if z in self.active or args_active or self.written_saved(s, z):
            name = func.attr if isinstance(func, gast.Attribute) else getattr(func, "id", "")
            if name in WRITING_FUNCTIONS and name != "copyto":
                # (np.copyto and np.add.at of an unshared array were made new values before this)
                instead = (f"`{z} = np.where(np.eye(*{z}.shape, dtype=bool), v, {z})`"
                           if name == "fill_diagonal" else "a new array (np.where, indexing)")
                self.fail(s, f"{_dotted(func)}() writes into {z} in place, and sct does not "
                          f"differentiate that write; compute {instead} instead", f"{_dotted(func)}")
            self.fail(s, f"{_dotted(func)}() changes {z} in place, which sct models only for a {z} "
                      f"this function created and no other name shares; write `{z} = {z}.copy()` "
                      f"first, or compute a new array", f"{_dotted(func)}")
        if self.mode == "vjp" and _not_owned(self.analysis, s, z):
            self.fail(s, f"{self.fname}() changes its caller's {z} with {_dotted(func)}(); return the new "
                      "value instead", f"{_dotted(func)}")

    def _method_write(self, s, node, result, z: str, method: str, args_active: bool) -> bool:
        """``z.method(...)`` on a local: whether it is a mutator of a builtin or array (checked here)."""
        analysis, fail = self.analysis, self.fail
        if not (method in MUTATORS and analysis.builtin(s, z)):
            return False
        tracked = z in self.active or args_active
        modelled = method in ("append",) and len(node.args) == 1 and result is None or \
            method == "pop" and not node.args and not node.keywords
        if tracked or self.written_saved(s, z):
            why = analysis.sharing(s, z)
            if not modelled:
                reason = why or "sct models this method only on a value it can copy"
                fail(s, f"{z}.{method}(...) changes {z} in place, and {reason}; write "
                     f"`{z} = {z}.copy()` (or `list({z})`) before changing it, or build "
                     "a new value", f"{z}.{method}")
            if why is not None:
                fail(s, f"{z}.{method}(...) changes {z} in place, and {why}; sct follows the "
                     f"new value through {z} only. Write `{z} = list({z})` (or "
                     f"`{z}.copy()`) first", f"{z}.{method}")
            if not tracked:
                self.force.add(id(s))
        elif self.mode == "vjp" and method in ARRAY_MUTATORS and _not_owned(analysis, s, z):
            fail(s, f"{self.fname}() changes its caller's {z} with {z}.{method}(); return the new "
                 "value instead", f"{z}.{method}")
        return True

    def _user_call(self, s, node, result, args_active: bool) -> None:
        """A call of the user's function or method that is not differentiated through its pair."""
        activity, analysis, active = self.activity, self.analysis, self.active
        info = activity.call_info(node)
        if info.kind not in (CallKind.FUNCTION, CallKind.METHOD) or info.rule is not None:
            return
        through_pair = result is not None and result in active and activity.value_active(node)
        if through_pair:
            return
        receiver_active = info.receiver is not None and info.receiver in active
        touches_saved = any(self.written_saved(s, n) for n in loaded_names(node) if n in analysis.locals)
        if not (args_active or receiver_active or touches_saved):
            return
        callee = _callee(info, node, activity, self.resolver, analysis, s)
        if callee is None and not args_active and not receiver_active and \
                not _reaches_saved_locals(analysis, s, node, self.saved(s)):
            # a method of an object that is not of the user's classes (rng.random(3)), given
            # no traced value and nothing an adjoint reads: it changes nothing sct follows
            return
        # with no traced argument, a callee may set attributes of its object to what it
        # computes from its arguments (super().__init__(), counters): nothing traced moves
        if callee is None or not _pure(callee, self_attributes=not args_active):
            what = _dotted(node.func) or "this call"
            given = "is called with traced values" if args_active or receiver_active else \
                "is given values that earlier differentiated operations read"
            self.fail(s, f"{what}(...) {given}{' and its result is not used' if result is None else ''}, "
                      "and it may change its arguments or its object in place, which sct does not follow; "
                      f"return the new values from {what}() and assign them", what)


INPLACE_METHODS = {
    gast.Add: "__iadd__", gast.Sub: "__isub__", gast.Mult: "__imul__", gast.Div: "__itruediv__",
    gast.FloorDiv: "__ifloordiv__", gast.Mod: "__imod__", gast.Pow: "__ipow__",
    gast.MatMult: "__imatmul__", gast.BitAnd: "__iand__", gast.BitOr: "__ior__",
    gast.BitXor: "__ixor__", gast.LShift: "__ilshift__", gast.RShift: "__irshift__",
}
OP_SYMBOLS = {
    gast.Add: "+", gast.Sub: "-", gast.Mult: "*", gast.Div: "/", gast.FloorDiv: "//", gast.Mod: "%",
    gast.Pow: "**", gast.MatMult: "@", gast.BitAnd: "&", gast.BitOr: "|", gast.BitXor: "^",
    gast.LShift: "<<", gast.RShift: ">>",
}


def _rebinds(kind, op, mode: str) -> bool:
    """Does ``t op= v`` rebind ``t`` to a new value when ``t`` has this argument kind (a
    number, a tuple, an object without the in-place method), rather than change it in place?"""
    if not isinstance(kind, tuple) or not kind:
        return False
    method = INPLACE_METHODS.get(type(op), "__iadd__")
    tag = kind[0]
    if tag == "num":
        return True
    if tag in ("dl", "nd"):
        # a traced scalar handed to a helper is a Python or numpy number (immutable);
        # a dlarray or ndarray given to dlfeval changes in place, even with no dimensions
        return mode == "vjp" and len(kind) > 2 and kind[2] == 0
    if tag in ("seq", "map", "obj", "const") and len(kind) > 1 and isinstance(kind[1], type):
        return not hasattr(kind[1], method)
    return False


def _object_dtype(node: gast.Call) -> bool:
    """May the array ``node`` makes hold objects (``dtype=object``), so that items are references?"""
    for v in list(node.args[1:]) + [k.value for k in node.keywords if k.arg == "dtype"]:
        if isinstance(v, gast.Name) and v.id == "object" or \
                isinstance(v, gast.Attribute) and v.attr in ("object_", "object") or \
                isinstance(v, gast.Constant) and v.value in ("O", "object", "|O"):
            return True
    return False


def _element_kinds(kind, key=None):
    """The kinds of the items of a container argument (of the item ``key`` where known)."""
    if not isinstance(kind, tuple) or len(kind) < 3 or not isinstance(kind[2], tuple):
        return None
    if kind[0] == "seq":
        if isinstance(key, int) and -len(kind[2]) <= key < len(kind[2]):
            return [kind[2][key]]
        return list(kind[2])
    if kind[0] in ("map", "obj"):
        items = [k for k in kind[2] if isinstance(k, tuple) and len(k) == 2]
        if key is not None and any(k == key for k, _ in items):
            return [v for k, v in items if k == key]
        return [v for _, v in items] if kind[0] == "map" or key is None else None
    return None


def _check_augmented(s, analysis: AliasAnalysis, param_kinds, mode: str, fail) -> None:
    """``t op= v`` (and ``d[k] op= v``, ``o.a op= v``): Python changes an array, list or dict
    that t holds in place, where sct computes a new value.  That is the same program only when
    nothing else can see the old object: check it, or refuse."""
    old_name, container = s.sct_augmented
    value = s.value
    if not isinstance(value, gast.BinOp) or old_name is None:
        return
    op = value.op
    symbol = OP_SYMBOLS.get(type(op), "+")
    state = analysis.before.get(id(s))
    if state is None:
        return
    if container is None:                       # t op= v
        objs = analysis.objects(s, old_name)
        objs = frozenset(o for o in objs if not (o[0] == "arg" and
                                                  _rebinds(param_kinds.get(o[1]), op, mode)))
        why = analysis.sharing_of(s, old_name, objs, exclude={s.targets[0].id})   # s rebinds its target
        if why is not None:
            fail(s, f"`{old_name} {symbol}= ...` changes the array (or list) {old_name} holds in place, "
                 f"and {why}; sct follows the new value through {old_name} only. Write "
                 f"`{old_name} = {old_name} {symbol} ...` for a new value (or "
                 f"`{old_name} = {old_name}.copy()` first)", f"{old_name} {symbol}=")
        return
    # d[k] op= v: the old item is changed in place (an array within a list, dict or object;
    # an item of an array is part of it, and the write into d is checked on its own)
    holders = analysis.objects(s, container)
    key = None
    src = _source_of(analysis, s, old_name)
    if isinstance(src, gast.Subscript) and isinstance(src.slice, gast.Constant):
        key = src.slice.value
    elif isinstance(src, gast.Attribute):
        key = src.attr
    items = set()
    for h in holders:
        inside = state.heap.get(h, frozenset())
        if h[0] == "arg" and isinstance(param_kinds.get(h[1]), tuple) and \
                param_kinds[h[1]][:1] in (("dl",), ("nd",)) or \
                h[0] in ("new", "old") and h[1] in analysis.array_sites:
            continue          # an item of an array is part of it: the write into it is checked
        if h[0] == "arg":
            kinds = _element_kinds(param_kinds.get(h[1]), key)
            if kinds is not None and all(_rebinds(k, op, mode) for k in kinds):
                inside = inside - {EXT}
        items |= inside
    what = f"{container}[...]" if isinstance(src, gast.Subscript) else \
        f"{container}.{src.attr}" if isinstance(src, gast.Attribute) else container
    why = analysis.sharing_of(s, what, frozenset(items), exclude={container, old_name, s.targets[0].id})
    if why is None and items & state.multi:
        why = f"{container} may hold the same object at another place too (as `[a] * 2` does)"
    if why is not None:
        message = (f"`{what} {symbol}= ...` changes the array (or list) {what} holds in place, and "
                   f"{why}; sct follows the new value through {container} only. Write "
                   f"`{what} = {what} {symbol} ...` for a new value")
        if _may_be_number(analysis, items, param_kinds):
            # a number (an int attribute, a float in a dict) is rebound, which is exact: only the
            # run can tell, so the run checks it before the statement
            guards = getattr(analysis.fdef, "sct_number_guards", None)
            if guards is not None:
                guards.append((s, old_name, message))
                return
        fail(s, message, f"{what} {symbol}=")


def _may_be_number(analysis: AliasAnalysis, objs, param_kinds) -> bool:
    """May one of ``objs`` be a number (not surely an array, list or dict)?"""
    for o in objs:
        if o == EXT:
            return True
        if o[0] == "arg":
            kind = param_kinds.get(o[1])
            if not (isinstance(kind, tuple) and kind[:1] in (("dl",), ("nd",), ("seq",), ("map",))):
                return True
        elif o[0] in ("new", "old") and not (o[1] in analysis.array_sites or o[1] in analysis.seq_sites or
                                               o[1] in analysis.map_sites):
            return True
    return False


def _insert_number_guards(body: List, guards, rt_name: str) -> None:
    """``rt.require_number(old, message)`` before each augmented statement in ``guards``."""
    wanted = {id(s): (old, message) for s, old, message in guards}
    i = 0
    while i < len(body):
        s = body[i]
        for field_name in ("body", "orelse"):
            inner = getattr(s, field_name, None)
            if isinstance(inner, list):
                _insert_number_guards(inner, guards, rt_name)
        if id(s) in wanted:
            old, message = wanted[id(s)]
            check = gast.Expr(value=call(f"{rt_name}.require_number", [load(old), const(message)]))
            check.lineno = s.lineno
            body.insert(i, check)
            i += 1
        i += 1


def _source_of(analysis: AliasAnalysis, s, name: str):
    """The value ``name`` was last assigned from before ``s`` in the same block (the item load
    the normaliser emits right before an augmented statement)."""
    for st in _statements(analysis.fdef.body):
        if isinstance(st, gast.Assign) and isinstance(st.targets[0], gast.Name) and \
                st.targets[0].id == name:
            return st.value
    return None


class _Saved:
    """A set that only grows between copies, kept with the order its members came in, so that
    the set as it was at a statement is (this log, its length then), materialised on demand."""
    __slots__ = ("log", "members")

    def __init__(self, log=None):
        self.log = list(log) if log else []
        self.members = set(self.log)

    def add_all(self, objs) -> None:
        members, log = self.members, self.log
        for o in objs:
            if o not in members:
                members.add(o)
                log.append(o)

    def copy(self) -> "_Saved":
        return _Saved(self.log)

    def union(self, other: "_Saved") -> "_Saved":
        out = self.copy()
        out.add_all(other.log)
        return out

    def view(self) -> "_SavedView":
        return _SavedView(self, len(self.log))


class _SavedView:
    __slots__ = ("saved", "size", "_frozen")

    def __init__(self, saved: _Saved, size: int):
        self.saved, self.size, self._frozen = saved, size, None

    def frozen(self) -> FrozenSet:
        if self._frozen is None:
            self._frozen = frozenset(self.saved.log[:self.size])
        return self._frozen


def _reaches_saved_locals(analysis: AliasAnalysis, s, node: gast.Call, saved) -> bool:
    """Do the call's arguments or receiver reach an object this function made that an
    adjoint reads?"""
    state = analysis.before.get(id(s))
    if state is None:
        return True
    objs = frozenset()
    for n in loaded_names(node):
        if n in analysis.locals:
            objs |= state.env.get(n, frozenset())
    return any(o in saved and o[0] in ("new", "old") for o in state.reach(objs))


_FRESH_CACHE: Dict = {}


def _returns_fresh(fn) -> bool:
    """Does every ``return`` of the plain function ``fn`` give a new object: an arithmetic
    result, a literal or comprehension, a numpy call that is not a view, or a local name bound
    only to such values?"""
    import types
    if not isinstance(fn, types.FunctionType):
        return False
    key = fn.__code__
    if key in _FRESH_CACHE:
        return _FRESH_CACHE[key]
    _FRESH_CACHE[key] = False
    try:
        from .parse import function_ast
        fdef, _, _ = function_ast(fn)
    except Exception:
        return False
    if len(_FRESH_CACHE) > 4096:
        _FRESH_CACHE.clear()

    def fresh_call(node) -> bool:
        chain = []
        f = node.func
        while isinstance(f, gast.Attribute):
            chain.append(f.attr)
            f = f.value
        if not isinstance(f, gast.Name) or not chain:
            return False
        value = fn.__globals__.get(f.id)
        for name in reversed(chain):
            if not isinstance(value, (types.ModuleType, np.ufunc)) and value is not None:
                return False
            value = getattr(value, name, None)
        module = getattr(value, "__module__", "") or ""
        name = getattr(value, "__name__", "")
        return (isinstance(value, np.ufunc) or module.startswith("numpy")) and \
            name not in VIEW_FUNCTIONS and name not in WRITING_FUNCTIONS

    def fresh_value(node) -> bool:
        if isinstance(node, (gast.BinOp, gast.UnaryOp, gast.List, gast.Tuple, gast.Dict,
                             gast.ListComp, gast.DictComp)):
            return True
        return isinstance(node, gast.Call) and fresh_call(node)

    bindings: Dict[str, List] = {}
    others = set()
    for n in walk_no_defs(fdef):
        if isinstance(n, gast.Assign):
            for t in n.targets:
                if isinstance(t, gast.Name):
                    bindings.setdefault(t.id, []).append(n.value)
                else:
                    others |= {m.id for m in gast.walk(t) if isinstance(m, gast.Name)}
        elif isinstance(n, (gast.For, gast.AugAssign, gast.AnnAssign, gast.With)):
            target = n.target if not isinstance(n, gast.With) else None
            if target is not None and not isinstance(n, gast.AugAssign):
                others |= {m.id for m in gast.walk(target) if isinstance(m, gast.Name)}
    params = {a.id for a in fdef.args.args + fdef.args.kwonlyargs}
    returns = [n for n in walk_no_defs(fdef) if isinstance(n, gast.Return)]
    # a name handed to a call, put in a literal, bound to another name or stored elsewhere
    # may be kept there: its value is not new to the caller
    kept = set()
    for n in walk_no_defs(fdef):
        children = []
        if isinstance(n, gast.Call) and not fresh_call(n):     # numpy ops keep nothing
            children = list(n.args) + [k.value for k in n.keywords]
        elif isinstance(n, (gast.List, gast.Tuple, gast.Set)):
            children = list(n.elts)
        elif isinstance(n, gast.Dict):
            children = list(n.values)
        elif isinstance(n, (gast.Assign, gast.AnnAssign)) and n.value is not None:
            children = [n.value]
        elif isinstance(n, (gast.Yield, gast.YieldFrom, gast.Lambda, gast.FunctionDef)) and n is not fdef:
            children = list(gast.walk(n))
        for c in children:
            if isinstance(c, gast.Starred):
                c = c.value
            if isinstance(c, gast.Name):
                kept.add(c.id)
    if any(isinstance(n, (gast.FunctionDef, gast.Lambda)) and n is not fdef for n in gast.walk(fdef)):
        _FRESH_CACHE[key] = False           # a closure may keep any local
        return False
    ok = bool(returns)
    for r in returns:
        v = r.value
        if fresh_value(v):
            continue
        if isinstance(v, gast.Name) and v.id not in params and v.id not in others and v.id not in kept and \
                v.id in bindings and all(fresh_value(b) for b in bindings[v.id]):
            continue
        ok = False
    _FRESH_CACHE[key] = ok
    return ok


def _not_owned(analysis: AliasAnalysis, s, name: str) -> bool:
    objs = analysis.objects(s, name)
    return any(o == EXT or o[0] == "arg" for o in objs)


def _is_numpy(obj) -> bool:
    return (getattr(obj, "__module__", "") or "").startswith("numpy")


def _is_ufunc_method(obj) -> bool:
    """``np.add.at`` and the other ufuncs' ``at``: they write into their first argument."""
    return isinstance(getattr(obj, "__self__", None), np.ufunc) and getattr(obj, "__name__", "") == "at"


def _dotted(node) -> str:
    from .ir import dotted_name
    return dotted_name(node)


def _callee(info, node, activity, resolver=None, analysis=None, s=None):
    import types
    obj = info.obj
    if info.kind == CallKind.METHOD:
        kind = activity.kinds.get(info.receiver)
        cls = kind[1] if isinstance(kind, tuple) and len(kind) > 1 and kind[0] == "obj" else None
        parent = _super_class(info.receiver, analysis, resolver)
        if parent is not None:           # super().method(...): the next class in the MRO
            obj = parent
        elif cls is None:
            return None
        else:
            obj = getattr(cls, info.method, None)
        if parent is not None:
            obj = getattr(parent, info.method, None)
    if isinstance(obj, type):
        obj = getattr(obj, "__init__", None)
    if not isinstance(obj, types.FunctionType) and callable(obj) and \
            isinstance(getattr(type(obj), "__call__", None), types.FunctionType):
        obj = type(obj).__call__
    if isinstance(obj, types.MethodType):
        obj = obj.__func__
    return obj if isinstance(obj, types.FunctionType) else None


def _super_class(receiver, analysis, resolver):
    """For ``r = super(__class__, self)``: the class after ``__class__`` in ``self``'s MRO
    (the one that defines the method is found by getattr on a ``super`` proxy type)."""
    if analysis is None or resolver is None or receiver is None:
        return None
    for st in _statements(analysis.fdef.body):
        if isinstance(st, gast.Assign) and isinstance(st.targets[0], gast.Name) and \
                st.targets[0].id == receiver and isinstance(st.value, gast.Call) and \
                isinstance(st.value.func, gast.Name) and st.value.func.id == "super" and st.value.args:
            first = st.value.args[0]
            if not isinstance(first, gast.Name):
                return None
            try:
                cls = resolver.resolve_name(first.id)
            except Exception:
                return None
            if not isinstance(cls, type):
                return None
            mro = cls.__mro__
            return _MROProxy(mro[1:])
    return None


class _MROProxy:
    """getattr through a list of classes, like super() does."""

    def __init__(self, classes):
        self.classes = classes

    def __getattr__(self, name):
        for c in self.classes:
            if name in vars(c):
                return vars(c)[name]
        raise AttributeError(name)


def _pure(fn, depth: int = 0, self_attributes: bool = False) -> bool:
    """Does ``fn`` (and the functions it calls by global name) change nothing in place?
    ``self_attributes``: setting attributes of its first parameter to values not read from
    that parameter is allowed."""
    import types
    from .parse import function_ast
    try:
        fdef, _, _ = function_ast(fn)
    except Exception:
        return False
    first = fdef.args.args[0].id if fdef.args.args else None
    for n in gast.walk(fdef):
        if isinstance(n, (gast.Global, gast.Nonlocal)):
            return False
        if self_attributes and isinstance(n, gast.Assign) and len(n.targets) == 1 and \
                isinstance(n.targets[0], gast.Attribute) and isinstance(n.targets[0].value, gast.Name) and \
                n.targets[0].value.id == first and first not in loaded_names(n.value):
            n.targets[0].ctx = gast.Load()     # checked: do not count it below (a copy of the tree)
            continue
        if isinstance(n, (gast.Subscript, gast.Attribute)) and isinstance(n.ctx, (gast.Store, gast.Del)):
            return False
        if isinstance(n, gast.AugAssign):
            return False
        if isinstance(n, gast.Call):
            if any(k.arg == "out" for k in n.keywords):
                return False
            f = n.func
            if isinstance(f, gast.Attribute) and (f.attr in MUTATORS or f.attr in WRITING_FUNCTIONS or
                                                  f.attr == "at"):
                return False
            if isinstance(f, gast.Name) and f.id in ("setattr", "delattr", "exec", "eval"):
                return False
            if isinstance(f, gast.Name) and depth < 3:
                callee = fn.__globals__.get(f.id)
                if isinstance(callee, types.FunctionType) and callee is not fn and \
                        not (callee.__module__ or "").startswith(("numpy", "sct")):
                    if not _pure(callee, depth + 1):
                        return False
    return True


def _generated_dataclass_init(cls) -> bool:
    """Is ``cls.__init__`` the one ``@dataclass`` wrote (it only stores its arguments)?"""
    import dataclasses
    init = cls.__dict__.get("__init__") if dataclasses.is_dataclass(cls) else None
    if init is None:
        for base in cls.__mro__[1:]:
            if "__init__" in base.__dict__:
                init = base.__dict__["__init__"] if dataclasses.is_dataclass(base) else None
                break
    code = getattr(init, "__code__", None)
    return code is not None and code.co_filename.startswith("<") and \
        getattr(cls, "__dataclass_params__", None) is not None


# --- may a call of a user's function be replayed instead of run again? ----------------------------

# methods of arrays, lists and dicts that read their receiver only
_READING_METHODS = {
    "sum", "mean", "max", "min", "prod", "std", "var", "any", "all", "argmax", "argmin", "cumsum",
    "cumprod", "reshape", "ravel", "flatten", "transpose", "squeeze", "swapaxes", "copy", "astype",
    "item", "tolist", "dot", "conj", "conjugate", "round", "clip", "nonzero", "trace", "diagonal",
    "repeat", "take", "searchsorted", "ptp", "keys", "values", "items", "get", "count", "index",
    "format", "join", "split", "strip", "lower", "upper", "startswith", "endswith", "replace",
    "__getitem__", "__len__", "__contains__", "view", "tobytes", "real", "imag",
}
_CHANGES: Dict[int, Tuple[object, int, bool]] = {}


def changes_arguments(fn, depth: int = 0) -> bool:
    """May calling ``fn`` (a user's function, bound method, class or callable object) change an
    argument (or its receiver, or an object reachable from them) in place?  True when unsure.
    Changes of the module's own globals are effects, not changes of arguments."""
    import types
    if isinstance(fn, types.MethodType):
        return _changes_code(fn.__func__, 0, depth)
    if isinstance(fn, type):
        if fn.__new__ is not object.__new__:
            return True
        init = getattr(fn, "__init__", None)
        if _generated_dataclass_init(fn):
            post = getattr(fn, "__post_init__", None)
            return post is not None and _changes_code(post, 1, depth)
        if init is object.__init__:
            return False
        return _changes_code(init, 1, depth)         # self is the new object, not an argument
    if isinstance(fn, types.FunctionType):
        return _changes_code(fn, 0, depth)
    call = getattr(type(fn), "__call__", None)
    if isinstance(call, types.FunctionType) and hasattr(fn, "__dict__"):
        return _changes_code(call, 0, depth)
    return True


def _changes_code(fn, skip: int, depth: int) -> bool:
    import types
    if not isinstance(fn, types.FunctionType) or depth > 3:
        return True
    code = fn.__code__
    key = id(code)
    hit = _CHANGES.get(key)
    if hit is not None and hit[0] is code and hit[1] == skip:
        return hit[2]
    try:
        result = _changes(fn, skip, depth)
    except Exception:
        result = True
    if len(_CHANGES) > 512:
        _CHANGES.clear()
    _CHANGES[key] = (code, skip, result)
    return result


def _changes(fn, skip: int, depth: int) -> bool:
    import types
    from .parse import function_ast
    fdef, _, _ = function_ast(fn)
    a = fdef.args
    params = [p.id for p in a.posonlyargs + a.args][skip:] + [p.id for p in a.kwonlyargs] + \
        [p.id for p in (a.vararg, a.kwarg) if p is not None]
    derived = set(params)

    def root(node):
        while isinstance(node, (gast.Attribute, gast.Subscript, gast.Starred)):
            node = node.value
        return node.id if isinstance(node, gast.Name) else None

    def shares(value) -> bool:
        """Can ``value`` be (a view of, a container holding) an argument?"""
        if value is None or isinstance(value, (gast.Constant, gast.BinOp, gast.UnaryOp, gast.Compare,
                                               gast.JoinedStr, gast.Lambda)):
            return False
        if isinstance(value, gast.Call):
            func = value.func
            dotted = _dotted(func)
            if dotted.split(".")[0] in ("np", "numpy", "math") and \
                    dotted.rsplit(".", 1)[-1] not in VIEW_FUNCTIONS:
                return False
            if isinstance(func, gast.Attribute) and func.attr in ("copy", "astype", "tolist", "sum",
                                                                  "mean", "item", "dot"):
                return False
        return any(n in derived or n in holders for n in loaded_names(value))

    holders: Set[str] = set()       # local objects given an argument as an attribute or item
    assigns = [n for n in gast.walk(fdef) if isinstance(n, (gast.Assign, gast.AnnAssign, gast.For,
                                                           gast.With, gast.comprehension))]
    changed = True
    while changed:
        changed = False
        for n in assigns:
            if isinstance(n, gast.Assign):
                targets, value = n.targets, n.value
            elif isinstance(n, gast.AnnAssign):
                targets, value = [n.target], n.value
            elif isinstance(n, (gast.For, gast.comprehension)):
                targets, value = [n.target], n.iter
            else:
                targets = [i.optional_vars for i in n.items if i.optional_vars is not None]
                value = gast.Tuple(elts=[i.context_expr for i in n.items], ctx=gast.Load())
            if not shares(value):
                continue
            for t in targets:
                for name in _bound_names(t):
                    if name not in derived:
                        derived.add(name)
                        changed = True
                if isinstance(t, (gast.Attribute, gast.Subscript)):
                    name = root(t)
                    if name is not None and name not in derived and name not in holders:
                        holders.add(name)
                        changed = True

    def depth(node) -> int:
        d = 0
        while isinstance(node, (gast.Attribute, gast.Subscript, gast.Starred)):
            node = node.value
            d += 1
        return d

    def derived_node(node, levels: int = 1) -> bool:
        """Does changing ``node`` (``levels`` below it) change an argument?  Setting an attribute
        of an object that only holds one does not; changing what it holds does."""
        name = root(node)
        return name in derived or (name in holders and depth(node) + levels >= 2)

    for n in gast.walk(fdef):
        if isinstance(n, (gast.Assign, gast.AugAssign, gast.AnnAssign, gast.Delete)):
            targets = n.targets if isinstance(n, (gast.Assign, gast.Delete)) else [n.target]
            for t in targets:
                for x in gast.walk(t):
                    if isinstance(x, (gast.Attribute, gast.Subscript)) and \
                            isinstance(x.ctx, (gast.Store, gast.Del)) and derived_node(x, 0):
                        return True
                if isinstance(n, gast.AugAssign) and (isinstance(t, gast.Name) and t.id in derived or
                                                      not isinstance(t, gast.Name) and derived_node(t)):
                    return True            # t += v changes an array or list in place
        if not isinstance(n, gast.Call):
            continue
        func = n.func
        args = list(n.args) + [k.value for k in n.keywords]
        touches = any(shares(x) or (isinstance(x, gast.Name) and x.id in derived) for x in args)
        if any(k.arg == "out" for k in n.keywords):
            return True
        if isinstance(func, gast.Name) and func.id in ("setattr", "delattr", "exec", "eval") and touches:
            return True
        if isinstance(func, gast.Attribute):
            if func.attr in MUTATORS or func.attr in WRITING_FUNCTIONS or func.attr in ("at", "shuffle"):
                if derived_node(func.value) or (touches and func.attr not in MUTATORS):
                    return True
                continue
            if derived_node(func.value) and func.attr not in _READING_METHODS:
                receiver = root(func.value)
                if not (receiver in derived and _method_reads_only(fn, fdef, func, depth)):
                    return True
            dotted = _dotted(func)
            if dotted.split(".")[0] in ("np", "numpy", "math", "cmath"):
                continue
        if not touches:
            continue
        if isinstance(func, gast.Name):
            if func.id in IMMUTABLE_BUILTINS or func.id in COPY_BUILTINS or func.id in VIEW_FUNCTIONS:
                continue
            callee = fn.__globals__.get(func.id, getattr(__import__("builtins"), func.id, None))
            if isinstance(callee, (types.FunctionType, type)) and \
                    not (getattr(callee, "__module__", "") or "").startswith(("numpy", "sct")):
                if changes_arguments(callee, depth + 1):
                    return True
                continue
            if getattr(callee, "__module__", "") and str(getattr(callee, "__module__", "")).startswith(
                    ("numpy", "sct", "math")):
                continue
            return True
        if isinstance(func, gast.Attribute) and not derived_node(func.value):
            base = fn.__globals__.get(root(func.value)) if root(func.value) else None
            if isinstance(base, __import__("types").ModuleType) and \
                    (base.__name__.split(".")[0] in ("numpy", "math", "cmath", "sct")):
                continue
            return True
    return False


def _bound_names(target) -> List[str]:
    """The names an assignment target binds (not those of an attribute or item it sets)."""
    if isinstance(target, gast.Name):
        return [target.id]
    if isinstance(target, gast.Starred):
        return _bound_names(target.value)
    if isinstance(target, (gast.Tuple, gast.List)):
        return [n for e in target.elts for n in _bound_names(e)]
    return []


def _method_reads_only(fn, fdef, func, depth) -> bool:
    """``self.helper(...)`` inside a method: the class's method, if it changes nothing."""
    first = (fdef.args.posonlyargs + fdef.args.args)[:1]
    if not (first and isinstance(func.value, gast.Name) and func.value.id == first[0].id):
        return False
    owner = fn.__qualname__.rsplit(".", 1)[0] if "." in fn.__qualname__ else None
    if owner is None:
        return False
    cls = fn.__globals__.get(owner.split(".")[0])
    for part in owner.split(".")[1:]:
        cls = getattr(cls, part, None)
    method = getattr(cls, func.attr, None) if isinstance(cls, type) else None
    import types
    return isinstance(method, types.FunctionType) and not _changes_code(method, 0, depth + 1)


def inplace_updates(fdef, rt_name: str) -> None:
    """The augmented statements only the run can check (an item or attribute that may be a
    number, see check_writes) get their check first."""
    guards = getattr(fdef, "sct_number_guards", None)
    if guards:
        _insert_number_guards(fdef.body, guards, rt_name)
    fdef.sct_number_guards = None
