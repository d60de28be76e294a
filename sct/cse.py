"""Common subexpressions across statements of generated code (issue 8, item 3).

Within a straight run of simple statements (no ``if``/``for``/``while`` between them), an
arithmetic expression of names and numbers computed twice on the same values (no name in it
assigned in between) is computed once:

* ``a = x ** 2; ...; b = x ** 2`` becomes ``...; b = a`` where both names are only read as
  operands or passed on (never written into, nothing reads an attribute of them): the same numbers,
  one pass and one temporary fewer;
* ``... d * (2 * x) ...; ... e * (2 * x) ...`` (operands of operators both times) becomes
  ``cse_t = 2 * x`` before the first, read twice.

The same operation on the same values gives the same result bit for bit; only the number of
times it runs changes.  Used on every generated function by sct/optimize.py (``SCT_OPTIMIZE=0``
switches it off with the rest).
"""
from __future__ import annotations

from bisect import bisect_left
from itertools import chain, islice
from typing import Dict, List, Optional, Set, Tuple

import gast
import numpy as np

from .ir import child_nodes, walk_nodes, walk_nodes_list

_OPS = (gast.Add, gast.Sub, gast.Mult, gast.Div, gast.Pow)
_MUTATING_RT = frozenset(("index_add", "scalar_index_add", "scalar_index_add_own", "into_temporary",
                          "negative_into"))
# runtime functions generated code calls that run no user code (the rest end a run of statements)
_PLAIN_RT = frozenset(("unbroadcast", "unbroadcast_product", "reduction_broadcast", "reduction_sum", "seed",
                       "project", "index_adjoint", "index_slice", "matmul_adjoint_a", "matmul_adjoint_b",
                       "extremum_weights", "extremum_scaled", "tie_weights", "concat_head", "concat_tail", "add_grad",
                       "add_index_grad",
                       "shape_proxy", "setitem", "inplace_result", "zero_adjoint", "to_numpy", "to_numpy_bool",
                       "broadcast_like")) | _MUTATING_RT
_READ_ATTRS = frozenset(("shape", "dtype", "ndim", "size", "T"))
# numpy functions writing into their first argument (called as ``np.name(z, ...)``): as a user's call
_NUMPY_WRITES = frozenset(("copyto", "put", "putmask", "place", "fill_diagonal", "put_along_axis"))
_COMPOUND = (gast.If, gast.For, gast.While, gast.With, gast.Try, gast.FunctionDef, gast.AsyncFunctionDef,
             gast.ClassDef, gast.AsyncFor, gast.AsyncWith)


def _leaf(node) -> Optional[tuple]:
    if isinstance(node, gast.Name) and isinstance(node.ctx, gast.Load):
        return ("n", node.id)
    if isinstance(node, gast.Constant) and type(node.value) in (int, float):
        return ("c", type(node.value).__name__, repr(node.value))
    return None


def _key(node) -> Optional[tuple]:
    """A key for ``a op b`` / ``-a`` of names and numbers, else None."""
    if isinstance(node, gast.BinOp) and isinstance(node.op, _OPS):
        left, right = _leaf(node.left), _leaf(node.right)
        if left is not None and right is not None and (left[0] == "n" or right[0] == "n"):
            return (type(node.op).__name__, left, right)
    if isinstance(node, gast.UnaryOp) and isinstance(node.op, gast.USub):
        operand = _leaf(node.operand)
        if operand is not None and operand[0] == "n":
            return ("USub", operand)
    return None


def _names(key) -> List[str]:
    return [part[1] for part in key[1:] if part[0] == "n"]


def _load(name):
    return gast.Name(id=name, ctx=gast.Load(), annotation=None, type_comment=None)


def _store(name):
    return gast.Name(id=name, ctx=gast.Store(), annotation=None, type_comment=None)


_BINDS = (gast.Assign, gast.AnnAssign, gast.NamedExpr, gast.For, gast.AsyncFor, gast.withitem)
# what _Uses looks at, by a node's class
_USES_KINDS = {gast.Subscript: 1, gast.Attribute: 1, gast.AugAssign: 2, gast.Call: 3,
               gast.Global: 4, gast.Nonlocal: 4, **{cls: 5 for cls in _BINDS}}


class _Uses:
    """Names read only as operands or passed on (never written into, no attribute read but shape,
    dtype, ndim, size; never handed to a runtime function that writes into its argument)."""

    def __init__(self, fn, rt_name: str, generated: Set[str], numpy_name: Optional[str],
                 body_nodes: Optional[List] = None):
        self.written: Set[str] = set()      # names written into (unsafe before sharing)
        self.all: Set[str] = set()
        self.stored: Set[str] = set()
        self.scope = False              # global/nonlocal, or a name that reads the frame (locals...)
        self.calls: List = []           # every call in fn
        self.binds: List = []           # its assignments, for loops and with items (_sharing)
        # one walk (gast.walk's nodes but the context and operator leaves); calls looked at after
        # it, once every local name is known
        get = _USES_KINDS.get       # by class (no gast node class is subclassed): most nodes are none
        Name, Load = gast.Name, gast.Load
        names, stored = self.all.add, self.stored.add
        for node in (walk_nodes_list(fn) if body_nodes is None else _nodes_of(fn, body_nodes)):
            cls = node.__class__
            if cls is Name:             # (most of those looked at: a name; its scope test after the walk)
                names(node.id)
                if node.ctx.__class__ is not Load:
                    stored(node.id)
                continue
            kind = get(cls)
            if kind is None:
                continue
            if kind == 1:               # a subscript or an attribute
                if isinstance(node.value, gast.Name) and (
                        not isinstance(node.ctx, gast.Load) or
                        (isinstance(node, gast.Attribute) and node.attr not in _READ_ATTRS)):
                    self.written.add(node.value.id)
            elif kind == 2:             # an augmented assignment
                for n in walk_nodes(node.target):
                    if isinstance(n, gast.Name):
                        self.written.add(n.id)
            elif kind == 3:
                self.calls.append(node)
            elif kind == 4:             # global, nonlocal
                self.scope = True
            else:
                self.binds.append(node)
        if not _SCOPE_NAMES.isdisjoint(self.all):      # a name that reads the frame (locals, eval...)
            self.scope = True
        self.local = self.stored | {a.id for a in fn.args.args + fn.args.posonlyargs + fn.args.kwonlyargs} | \
            {a.id for a in (fn.args.vararg, fn.args.kwarg) if a is not None}
        for node in self.calls:
            kind = _call_kind(node, rt_name, numpy_name, generated, self.local)
            mutating = any(k.arg == "out" for k in node.keywords) or kind not in ("numpy", "rt", "generated")
            if mutating:      # a user's function, a runtime function writing into an argument
                for a in list(node.args) + [k.value for k in node.keywords]:
                    for n in walk_nodes(a):
                        if isinstance(n, gast.Name):
                            self.written.add(n.id)
        self.params = {a.id for a in fn.args.args + fn.args.posonlyargs + fn.args.kwonlyargs}
        for a in (fn.args.vararg, fn.args.kwarg):
            if a is not None:
                self.params.add(a.id)
        self.params_only = self.params - self.written      # params written into nowhere here
        self._shares = self._tokens = self._unsafe = None     # found on first use (_Summary reads none)

    @property
    def shares(self) -> Dict[str, Set[str]]:
        """Names that may share memory (a view ``v = z[:2]``, ``u = a.T``, ``w = np.reshape(a, ...)``,
        ``c = a``, a container holding ``a``): a write into one changes the others."""
        if self._shares is None:
            self._shares = _sharing(self.binds, self.local)
        return self._shares

    @property
    def tokens(self) -> Dict[str, tuple]:
        """Name -> the token of its group in ``shares`` (a tuple, never a name), for written_stores."""
        if self._tokens is None:
            group_tokens: Dict[int, tuple] = {}
            self._tokens = {n: group_tokens.setdefault(id(g), ("group", len(group_tokens)))
                            for n, g in self.shares.items()}
        return self._tokens

    @property
    def unsafe(self) -> Set[str]:
        """The names written into here (``written``), every name that may share memory with one,
        and the parameters."""
        if self._unsafe is None:
            self._unsafe = self.shared(self.written) | self.params
        return self._unsafe

    def shared(self, names) -> Set[str]:
        """``names`` and every name that may share memory with one of them."""
        out = set()
        seen = set()
        shares = self.shares
        for n in names:
            group = shares.get(n)
            if group is None:
                out.add(n)
            elif id(group) not in seen:     # names of one group share one set
                seen.add(id(group))
                out |= group
        return out

    def written_stores(self, names) -> Set:
        """What a statement writing into ``names`` stores, for ``_Rewrite.occurrences``: each
        name in no group itself, else its group's token (one key per group, not each of its
        names: a group may hold most names of a long function, and each statement writing into
        one made a copy of it).  A name's version is then its own count and its group's."""
        out = set()
        tokens = self.tokens
        for n in names:
            out.add(tokens.get(n, n))
        return out

    def aliasable(self, name: str) -> bool:
        return name not in self.unsafe


def _sharing(binds: List, local: Set[str]) -> Dict[str, Set[str]]:
    """``binds``: the assignments, for loops and with items of a function (``_Uses.binds``).
    For each name of the function bound to a value that may be (part of) another name's object, the
    group of names that may share memory with it (connected by assignments whose value reads the
    other name anywhere but as an operand of arithmetic, which makes a new array; flow-insensitive)."""
    parent: Dict[str, str] = {}
    size: Dict[str, int] = {}

    def find(n):
        # with path halving and union by size (near-constant time; a chain of assignments
        # ``a1 = a0 + ...; a2 = a1 + ...`` made a linear chain of parents before: quadratic)
        while True:
            p = parent.get(n, n)
            if p == n:
                return n
            g = parent[p]
            parent[n] = g
            n = g

    def union(a, b):
        parent.setdefault(a, a)
        parent.setdefault(b, b)
        ra, rb = find(a), find(b)
        if ra != rb:
            if size.get(ra, 1) > size.get(rb, 1):
                ra, rb = rb, ra
            parent[ra] = rb
            size[rb] = size.get(rb, 1) + size.get(ra, 1)

    for node in binds:
        if isinstance(node, (gast.Assign, gast.AnnAssign, gast.NamedExpr)):
            targets, value = (node.targets if isinstance(node, gast.Assign) else [node.target]), node.value
        elif isinstance(node, (gast.For, gast.AsyncFor)):
            targets, value = [node.target], node.iter
        elif isinstance(node, gast.withitem) and node.optional_vars is not None:
            targets, value = [node.optional_vars], node.context_expr
        else:
            continue
        if value is None:
            continue
        held = _held_names(value, local)
        bound = []
        for t in targets:
            if isinstance(t, gast.Name):        # (most targets: no walk)
                bound.append(t.id)
            else:
                bound.extend(m.id for m in walk_nodes(t) if isinstance(m, gast.Name))
        for t in bound:
            for h in held:
                union(t, h)
    groups: Dict[str, Set[str]] = {}
    for n in list(parent):
        groups.setdefault(find(n), set()).add(n)
    return {n: g for g in groups.values() for n in g}


def _held_names(expr, local: Set[str]) -> Set[str]:
    """The local names whose object the value of ``expr`` may be or hold: every name read in it
    except as an operand of arithmetic (``a * 2.0`` is a new array; ``+``, ``*`` not by a float and
    ``|`` may be a list's concatenation or repetition or dicts' union, holding the operands' items) or of a
    comparison, the arguments of a numpy ufunc (a new array) and a module a function is taken from."""
    if isinstance(expr, gast.Name):
        return {expr.id} & local
    if isinstance(expr, gast.BinOp) and isinstance(expr.op, (gast.Add, gast.Mult, gast.BitOr)) and \
            not any(isinstance(o, gast.Constant) and (type(o.value) in (float, complex) or
                                                      isinstance(expr.op, gast.Add) and type(o.value) is int)
                    for o in (expr.left, expr.right)):
        # (maybe) a list's or tuple's concatenation or repetition (``[z] * 2``, ``a + b``), dicts'
        # union (``d | e``): a new container holding the operands' items, the same objects
        return _held_names(expr.left, local) | _held_names(expr.right, local)
    if isinstance(expr, (gast.BinOp, gast.UnaryOp, gast.Compare)):
        return set()
    if isinstance(expr, gast.IfExp):
        return _held_names(expr.body, local) | _held_names(expr.orelse, local)
    if isinstance(expr, gast.Call):
        f = expr.func
        if isinstance(f, gast.Attribute) and isinstance(f.value, gast.Name) and f.value.id not in local:
            if f.value.id in ("np", "numpy") and _is_ufunc(f.attr) and \
                    not any(k.arg == "out" for k in expr.keywords):
                return set()
            parts = list(expr.args) + [k.value for k in expr.keywords]
        else:
            parts = [f] + list(expr.args) + [k.value for k in expr.keywords]
        out = set()
        for part in parts:
            out |= _held_names(part, local)
        return out
    out = set()
    for child in child_nodes(expr):     # (a context or operator leaf holds no name)
        out |= _held_names(child, local) if isinstance(child, gast.expr) else \
            {m.id for m in walk_nodes(child) if isinstance(m, gast.Name)} & local
    return out


_UFUNCS: Dict[str, bool] = {}


def _is_ufunc(attr: str) -> bool:
    """Is numpy's ``attr`` a ufunc (found once per name: numpy's module __getattr__ is slow)?"""
    found = _UFUNCS.get(attr)
    if found is None:
        found = _UFUNCS[attr] = isinstance(getattr(np, attr, None), np.ufunc)
    return found


_DEFS = (gast.FunctionDef, gast.AsyncFunctionDef, gast.Lambda, gast.ClassDef)


def _nodes_of(fn, body_nodes: List):
    """``walk_nodes(fn)``'s nodes but ``fn`` (in another order: ``_Uses`` finds sets), from
    ``body_nodes``, ``sct.optimize._walk_no_defs(fn.body)``'s: those of its parameters,
    decorators and annotation, the body's, and what the definitions in the body hold."""
    parts = [walk_nodes(part) for field in ("args", "decorator_list", "returns")
             for part in _as_list(getattr(fn, field, None))]
    parts.append(body_nodes)
    parts += [islice(walk_nodes(node), 1, None) for node in body_nodes if isinstance(node, _DEFS)]
    return chain.from_iterable(parts)


def _call_kind(call, rt_name: str, numpy_name: Optional[str], generated: Set[str], local: Set[str]) -> str:
    """"numpy" (a numpy function), "rt" (a runtime function running no user code: _PLAIN_RT),
    "mutating_rt" (one writing into its first arguments), "generated" (generated code reading its
    arguments only), "other" (may run the user's code)."""
    f = call.func
    if isinstance(f, gast.Name):
        return "generated" if f.id in generated and f.id not in local else "other"
    if isinstance(f, gast.Attribute) and isinstance(f.value, gast.Name) and f.value.id not in local:
        if f.value.id == rt_name:
            if f.attr in _MUTATING_RT:
                return "mutating_rt"
            if f.attr in _PLAIN_RT or f.attr.startswith(("scalar_", "math_")):
                return "rt"
        elif numpy_name is not None and f.value.id == numpy_name and f.attr not in _NUMPY_WRITES:
            return "numpy"
    return "other"


def _scan(stmt, rt_name: str, generated: Set[str], numpy_name: Optional[str],
          local: Set[str], nodes: Optional[List] = None) -> Tuple[Set[str], Set[str], bool]:
    """(names ``stmt`` assigns or deletes, names whose object it may write into in place: by item or
    attribute, a method called on it, handed to a function called by name, to a runtime function
    writing into its argument or as ``out=``; whether it is a barrier: a statement that may run the
    user's code (any call but numpy's, the plain runtime functions and generated code reading its
    arguments), across which no expression is carried).  One walk for all three (``nodes``:
    ``walk_nodes(stmt)``'s, where already walked)."""
    rebound, written = set(), set()
    barrier = False
    Name, Subscript, Attribute, AugAssign, Call = gast.Name, gast.Subscript, gast.Attribute, gast.AugAssign, \
        gast.Call
    for n in (walk_nodes(stmt) if nodes is None else nodes):
        cls = n.__class__           # (no gast node class is subclassed)
        if cls is Name:
            if isinstance(n.ctx, (gast.Store, gast.Del)):
                rebound.add(n.id)
        elif cls is Subscript or cls is Attribute:
            if n.value.__class__ is Name and (not isinstance(n.ctx, gast.Load) or
                                              (cls is Attribute and n.attr not in _READ_ATTRS)):
                written.add(n.value.id)
        elif cls is AugAssign:
            written |= {m.id for m in walk_nodes(n.target) if isinstance(m, gast.Name)}
        elif cls is Call:
            handed = list(k.value for k in n.keywords if k.arg == "out")
            kind = _call_kind(n, rt_name, numpy_name, generated, local)
            if kind not in ("numpy", "rt", "generated"):
                handed += list(n.args) + [k.value for k in n.keywords]
                barrier = barrier or kind != "mutating_rt"
            for a in handed:
                written |= {m.id for m in walk_nodes(a) if isinstance(m, gast.Name)}
    return rebound, written, barrier


_SCOPE_NAMES = frozenset(("locals", "vars", "eval", "exec", "dir"))


def readers(functions, rt_name: str, numpy_name: Optional[str] = None,
            scopes: Optional[Dict[int, bool]] = None) -> Set[str]:
    """The generated functions (module level) that only read their arguments and run no user code:
    no argument is written into, by them or by a function they hand it to, and they call nothing
    but numpy, the plain runtime functions and such functions (a fixed point over the calls; each
    function walked once, its calls by name then looked up in the set of each round).  ``scopes``:
    filled with id(function) -> ``optimize._has_scope_statements`` of it, found on the same walk."""
    fns = {f.name: f for f in functions if isinstance(f, gast.FunctionDef)}
    pure = set(fns)
    summaries = {name: _Summary(f, rt_name, numpy_name) for name, f in fns.items()}
    if scopes is not None:      # id(function) -> whether it has global/nonlocal or reads its frame
        scopes.update((id(fns[name]), summary.scope) for name, summary in summaries.items())
    while True:
        drop = {name for name in pure if not summaries[name].reads_only(pure)}
        if not drop:
            return pure
        pure -= drop


def _as_list(value) -> List:
    if isinstance(value, list):
        return [v for v in value if isinstance(v, gast.AST)]
    return [value] if isinstance(value, gast.AST) else []


class _Every:
    """As ``generated``: every function called by name is a reader."""

    def __contains__(self, name) -> bool:
        return True


class _Summary:
    """What ``readers`` asks of one function (``_Uses`` of its arguments, the barriers of its
    body), for any set of readers: only the kind of a call by name to a function that is not
    local depends on that set, so those calls are kept aside."""

    def __init__(self, fn, rt_name: str, numpy_name: Optional[str]):
        uses = _Uses(fn, rt_name, _Every(), numpy_name)       # every call by name to a reader
        local = uses.local
        self.scope = uses.scope
        self.params = uses.params
        self.written = uses.params - uses.params_only       # parameters written into in any case
        self.handed: List[Tuple[str, Set[str]]] = []        # (callee, parameters handed to it)
        self.barrier = False                # a call in the body that may run the user's code
        self.callees: Set[str] = set()      # calls by name in the body: barriers unless to readers
        outside = {id(n) for field in ("args", "decorator_list", "returns", "type_params")
                   for part in _as_list(getattr(fn, field, None)) for n in walk_nodes(part)}
        for node in uses.calls:
            by_name = isinstance(node.func, gast.Name) and node.func.id not in local
            if by_name and not any(k.arg == "out" for k in node.keywords):
                names = {n.id for a in list(node.args) + [k.value for k in node.keywords]
                         for n in walk_nodes(a) if isinstance(n, gast.Name)} & self.params
                if names:
                    self.handed.append((node.func.id, names))
            if id(node) in outside:
                continue
            if by_name:
                self.callees.add(node.func.id)
            elif _call_kind(node, rt_name, numpy_name, frozenset(), local) not in \
                    ("numpy", "rt", "mutating_rt", "generated"):
                self.barrier = True

    def reads_only(self, readers: Set[str]) -> bool:
        """Whether the function only reads its arguments and runs no user code, if ``readers``
        are the functions that do."""
        return not (self.scope or self.barrier or self.written or
                    any(name not in readers for name in self.callees) or
                    any(name not in readers for name, _ in self.handed))


def common_subexpressions(fn, rt_name: str, generated: Set[str] = frozenset(),
                          numpy_name: Optional[str] = None, body_nodes: Optional[List] = None) -> None:
    """Rewrite ``fn`` in place; ``generated``: the generated functions beside it that only read
    their arguments (``readers``); ``numpy_name``: the name numpy has in generated code (None:
    numpy's functions are treated as any other call); ``body_nodes``: the nodes of its body as
    ``sct.optimize._walk_no_defs`` meets them, where already walked."""
    rewrite = _Rewrite(fn, rt_name, generated, numpy_name, body_nodes)
    if rewrite.uses.scope:
        return
    fn.body = rewrite.block(fn.body)


class _Rewrite:
    """One function's rewrite: ``block`` splits statements into straight runs, ``straight`` finds
    the repeated expressions of a run and reads each from one name."""

    def __init__(self, fn, rt_name: str, generated: Set[str], numpy_name: Optional[str],
                 body_nodes: Optional[List] = None):
        self.rt_name, self.generated, self.numpy_name = rt_name, generated, numpy_name
        self.uses = _Uses(fn, rt_name, generated, numpy_name, body_nodes)
        self.taken = set(self.uses.all)
        self.counter = 0

    def fresh(self) -> str:
        while True:
            self.counter += 1
            name = f"cse_t{self.counter}"
            if name not in self.taken:
                self.taken.add(name)
                return name

    def block(self, stmts: List) -> List:
        out: List = []
        run: List = []
        for s in stmts:
            if not isinstance(s, _COMPOUND):
                # the names s may change: those it assigns, and every name that may share memory
                # with one it writes into in place (a view of it, an alias)
                nodes = walk_nodes_list(s)        # (read again by occurrences: one walk)
                rebound, written, barrier = _scan(s, self.rt_name, self.generated, self.numpy_name,
                                                  self.uses.local, nodes)
                stores = rebound | self.uses.written_stores(written)
            if not isinstance(s, _COMPOUND) and barrier:
                out.extend(self.straight(run))
                run = []
                out.append(s)
            elif isinstance(s, _COMPOUND):
                out.extend(self.straight(run))
                run = []
                for field in ("body", "orelse"):
                    inner = getattr(s, field, None)
                    if isinstance(inner, list) and inner and not isinstance(s, (gast.FunctionDef, gast.ClassDef)):
                        setattr(s, field, self.block(inner))
                out.append(s)
            else:
                run.append((s, stores, nodes))
        out.extend(self.straight(run))
        return out

    def occurrences(self, stmts: List, stores: List[Set[str]], walks: Optional[List[List]] = None):
        """(key with operand versions) -> [(statement index, node, parent, field)], and for each
        statement assigning a whole expression to a name: (target, its version after);
        ``stores``: the names each statement stores (``_scan``); ``walks``: each statement's
        ``walk_nodes``, where already walked (nothing changed the statements since)."""
        BinOp, UnaryOp = gast.BinOp, gast.UnaryOp
        version: Dict[str, int] = {}
        tokens = self.uses.tokens           # a name's version: its own count, and its group's
        found: Dict[tuple, list] = {}
        defined_at: Dict[int, Tuple[str, int]] = {}
        for i, s in enumerate(stmts):
            whole = None
            if isinstance(s, gast.Assign) and len(s.targets) == 1 and isinstance(s.targets[0], gast.Name):
                whole = s.value
            # gast.walk's order; the context and operator leaves walk_nodes leaves out have none
            # of these fields
            for parent in (walk_nodes(s) if walks is None else walks[i]):
                # operands of operators only (read, never handed on), and the whole value: a
                # BinOp's left and right, a UnaryOp's operand, s's value (no gast node class is
                # subclassed; the other nodes hold none of these)
                cls = parent.__class__
                if cls is BinOp:
                    pairs = (("left", parent.left), ("right", parent.right))
                elif cls is UnaryOp:
                    pairs = (("operand", parent.operand),)
                elif parent is s and whole is not None:
                    pairs = (("value", whole),)
                else:
                    continue
                for field, child in pairs:
                    if child.__class__ is not BinOp and child.__class__ is not UnaryOp:
                        continue
                    key = _key(child)
                    if key is None:
                        continue
                    vkey = key + (tuple((version.get(n, 0), version.get(tokens[n], 0)) if n in tokens
                                        else version.get(n, 0) for n in _names(key)),)
                    found.setdefault(vkey, []).append((i, child, parent, field))
            for n in stores[i]:
                version[n] = version.get(n, 0) + 1
            if whole is not None:
                t = s.targets[0].id
                defined_at[i] = (t, (version[t], version.get(tokens[t], 0)) if t in tokens else version[t])
        return found, defined_at

    @staticmethod
    def stored_at(stores: List[Set[str]]) -> Dict[str, List[int]]:
        """Each name -> the indices of the statements that store it, ascending: the version of a
        name just before statement ``j`` is how many of them are below ``j`` (``bisect_left``)."""
        at: Dict[str, List[int]] = {}
        for i, names in enumerate(stores):
            for n in names:
                at.setdefault(n, []).append(i)
        return at

    def straight(self, run: List) -> List:
        """``run``: its statements, each with the names it stores (``_scan``) and its nodes."""
        stmts = [s for s, _, _ in run]
        if len(stmts) < 2:
            return stmts
        stores = [names for _, names, _ in run]
        found, defined_at = self.occurrences(stmts, stores, [nodes for _, _, nodes in run])
        before = self.stored_at(stores)
        inserts: Dict[int, List] = {}
        for vkey, occ in found.items():
            if len(occ) >= 2:
                self.share(stmts, vkey, occ, defined_at, before, inserts)
        out = []
        for i, s in enumerate(stmts):
            out.extend(inserts.get(i, []))
            out.append(s)
        return out

    def share(self, stmts, vkey, occ, defined_at, before, inserts) -> None:
        """Read the occurrences ``occ`` of one expression from one name: the target of its first
        occurrence where that holds it unchanged, else a new temporary before the first."""
        uses = self.uses
        occ.sort(key=lambda o: o[0])
        first_i, first_node, first_parent, first_field = occ[0]
        if len({o[0] for o in occ}) < 2 and first_field == "value":
            return
        holder = None
        if first_field == "value" and first_i in defined_at:
            t, v = defined_at[first_i]
            token = uses.tokens.get(t)
            if t not in _names(vkey[:-1]) and uses.aliasable(t) and \
                    all((bisect_left(before.get(t, ()), o[0]) if token is None else
                         (bisect_left(before.get(t, ()), o[0]), bisect_left(before.get(token, ()), o[0]))) == v
                        for o in occ[1:]):
                holder = t
        rest = occ[1:] if holder is not None else occ
        usable = [o for o in rest if o[3] != "value" or
                  (holder is not None and uses.aliasable(stmts[o[0]].targets[0].id))]
        if holder is None:
            usable = [o for o in rest if o[3] != "value"]
            if len(usable) < 2:
                return
            name = self.fresh()
            inserts.setdefault(usable[0][0], []).append(
                gast.Assign(targets=[_store(name)], value=usable[0][1], type_comment=None))
        else:
            if not usable:
                return
            name = holder
        for i, node, parent, field in usable:
            setattr(parent, field, _load(name))
