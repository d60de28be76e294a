"""Writes through one of several names of one object (SPEC semantic 11): ``al = lst``,
``al[0] = v``, then ``lst`` read.

Differentiated code gives a write value semantics (``al[0] = v`` becomes a new value of ``al``),
so a write is exact only where no other name read later can see the old object; the write checks
(sct/write_checks.py) refuse it otherwise.  Where the other name is *surely the same object* --
every path to the write bound it by a chain of plain copies ``c = z`` that neither name was bound
again after -- Python's meaning is kept by binding it again right after the write: ``c = z``.
In Python that statement changes nothing (``c`` already is ``z``, and a write into an item, a
mutating method or ``out=z`` keeps ``z`` the same object), so the program is the same; sct then
follows the new value into ``c`` too, and the write checks judge the program as they would had
the user written it so.  A name that may be a view of the object, or the same object on some
paths only, or that a nested function reads, is left alone: the write stays refused.

``t op= v`` of such a name: Python changes an array, list or dict in place and binds ``t`` to a
new number, tuple or string; the run tells which (``if rt.updated_in_place(c, ...): c = t``).

A view by constant basic indexing of an array (``w = z[1:]``, ``z[::-1]``, ``m[1:, ::2]``) is
followed too: after a change of ``w`` in place, ``z[1:] = w; w = z[1:]`` (its numbers written back
onto themselves, the view taken again: in Python nothing changes); after a change of ``z``,
``w = z[1:]``.  The run checks first that ``z`` is an array (``rt.require_array``: a list's slice
is a new list).  A change of z's layout (``z.shape = ...``, ``z.resize(...)``) ends the fact.
An item by constant integers (``a = w[1]``) is a view of ``w`` where w has more dimensions than
the index, a number otherwise (of a list, the item itself): after a change of ``w``,
``if rt.item_is_view(w, a, ...): a = w[1]``; after a change of ``a``, the run requires a view
(``a op= v`` of a number binds it anew: ``rt.array_item_is_view``) and writes it back.

``MustCopies`` is the forward analysis: the pairs of names surely bound to the same object, and
the views, before each statement (intersected where branches join; at a loop's head, every fact
of a name bound anywhere in the loop is dropped, which holds on every iteration and after any
``break``).  The write checks leave the names bound again right after a write out of its check
(``sct_rebound``, read by ``AliasAnalysis.sharing`` and the check of ``t op= v``).
"""
from __future__ import annotations

import copy
from typing import Dict, FrozenSet, List, Set

import gast
import numpy as np

from .alias_state import EXT, MUTATORS, WRITING_FUNCTIONS
from .ir import assign, call, const, load, walk_no_defs
from .kinds import _children, child_kind
from .points_to import multi_of

# pairs {a, b} (a is b, the same object) and views ("view", w, base, index key, binding statement id)
Facts = FrozenSet

# functions that write into their first argument (np.copyto(z, v), np.add.at(z, i, v))
_FIRST_ARGUMENT_WRITERS = WRITING_FUNCTIONS | {"at"}


def _stored(node) -> Set[str]:
    """The names ``node`` (a statement or expression) binds or deletes in this scope (a walrus
    in a comprehension too); a nested definition binds its name."""
    if isinstance(node, (gast.FunctionDef, gast.AsyncFunctionDef, gast.ClassDef)):
        return {node.name}
    out = set()
    for n in walk_no_defs(node):
        if isinstance(n, gast.Name) and isinstance(n.ctx, (gast.Store, gast.Del)):
            out.add(n.id)
        elif isinstance(n, (gast.FunctionDef, gast.AsyncFunctionDef, gast.ClassDef)) and n is not node:
            out.add(n.name)
    return out


def _kill(facts: Facts, names: Set[str]) -> Facts:
    if not names:
        return facts
    return frozenset(p for p in facts if not (p & names if isinstance(p, frozenset) else
                                               p[1] in names or p[2] in names))


def _class_of(facts: Facts, name: str) -> Set[str]:
    """The names surely bound to the object ``name`` holds (``name`` not among them)."""
    return {n for p in facts if isinstance(p, frozenset) and name in p for n in p if n != name}


# attributes and methods that change how an array lays out its numbers in place (z.shape = ...,
# z.resize(...)): a view taken before no longer is z[i]
_LAYOUT = {"shape", "strides", "dtype", "data", "resize", "setfield", "setflags", "byteswap", "base"}


def _relaid(s) -> Set[str]:
    """The names ``s`` may change the layout of in place, or set an attribute of."""
    out = set()
    for n in walk_no_defs(s):
        if isinstance(n, gast.Attribute) and isinstance(n.value, gast.Name) and \
                (n.attr in _LAYOUT or isinstance(n.ctx, (gast.Store, gast.Del))):
            out.add(n.value.id)
    return out


def _kill_views(facts: Facts, names: Set[str]) -> Facts:
    if not names:
        return facts
    return frozenset(p for p in facts if isinstance(p, frozenset) or not (p[1] in names or p[2] in names))


def _views_of(facts: Facts, name: str, as_view: bool):
    """The view facts ``("view", w, base, index key, binding statement id)`` with ``name`` as the
    view ``w`` (``as_view``) or as its ``base``."""
    return sorted(p for p in facts if isinstance(p, tuple) and p[0] != "contig" and p[1 if as_view else 2] == name)


def _int_constant(node) -> bool:
    if isinstance(node, gast.UnaryOp) and isinstance(node.op, (gast.USub, gast.UAdd)):
        node = node.operand
    return isinstance(node, gast.Constant) and type(node.value) is int


def _int_index(index) -> bool:
    """Is ``index`` one or more constant integers (``[1]``, ``[0, -1]``)?"""
    items = index.elts if isinstance(index, gast.Tuple) else [index]
    return bool(items) and all(_int_constant(e) for e in items)


def _entry_key(index, tracked: Set[str]):
    """The names of ``index`` where it is a key sct can follow an item by (``d["w"]``, ``d[k]``,
    ``xs[i]``, ``d[k, 0]``: constants and local names, none a slice); None: not one.  What the
    key is (a dict's key, a list's position, an array's integers or an index array) only the run
    tells (sct/runtime ``item_is_held``)."""
    items = index.elts if isinstance(index, gast.Tuple) else [index]
    names = set()
    for e in items:
        if isinstance(e, gast.Name) and e.id in tracked:
            names.add(e.id)
        elif not (isinstance(e, gast.Constant) and e.value is not None and e.value is not Ellipsis and
                  isinstance(e.value, (int, str, bytes, float, complex, bool)) or _int_constant(e)):
            return None
    return frozenset(names)


def _basic_view_index(index) -> bool:
    """Is ``index`` basic indexing by constants with a slice or ``...`` in it (``[1:]``,
    ``[:2, 0]``, ``[::-1]``, ``[..., 0]``): of an array, always a view of it?"""
    items = index.elts if isinstance(index, gast.Tuple) else [index]
    view = False
    for e in items:
        if isinstance(e, gast.Slice):
            if not all(part is None or _int_constant(part) for part in (e.lower, e.upper, e.step)):
                return False
            view = True
        elif isinstance(e, gast.Constant) and e.value is Ellipsis:
            view = True
        elif not (_int_constant(e) or isinstance(e, gast.Constant) and e.value is None):
            return False
    return view


def _transposed_name(value):
    """``base`` of ``base.T``, ``base.transpose()``, ``base.swapaxes(i, j)`` (constant integers): of an
    array, a view of all of it that is its own inverse; else None."""
    if isinstance(value, gast.Attribute) and value.attr == "T" and isinstance(value.value, gast.Name):
        return value.value.id
    if isinstance(value, gast.Call) and isinstance(value.func, gast.Attribute) and \
            isinstance(value.func.value, gast.Name) and not value.keywords and \
            (value.func.attr == "transpose" and not value.args or
             value.func.attr == "swapaxes" and len(value.args) == 2 and all(_int_constant(a) for a in value.args)):
        return value.func.value.id
    return None


def _transposed(value, name: str):
    """The transpose ``value`` (of a name) taken of ``name`` instead (also einsum's diagonal view:
    ``np.einsum("ii->i", name)``)."""
    new = copy.deepcopy(value)
    if isinstance(new, gast.Attribute):
        new.value = load(name)
    elif new.func.attr == "einsum":
        new.args[-1] = load(name)
    else:
        new.func.value = load(name)
    return new


def _shape_items(node, constants: Dict[str, List]):
    """The constant integers of a shape argument (``-1``, ``2, 6``, or a name bound once in the
    function to such a tuple: the normalizer's ``a_t = 2, 6`` of ``h.reshape((2, 6))``), or None."""
    if isinstance(node, gast.Name):
        return constants.get(node.id)
    if isinstance(node, gast.Tuple):
        return list(node.elts) if node.elts and all(_int_constant(e) for e in node.elts) else None
    return [node] if _int_constant(node) else None


def _reshaped_again(value, name: str, constants: Dict[str, List]):
    """The reshape ``value`` taken of ``name`` again, its shape written out as constants
    (``name.reshape(2, 6)``, ``name.ravel()``: the shape's own name is not read again)."""
    args = value.args[1:] if value.func.value.id == "np" else value.args
    items = [copy.deepcopy(e) for a in args for e in _shape_items(a, constants)]
    return call(gast.Attribute(value=load(name), attr="reshape" if items else "ravel", ctx=gast.Load()), items)


def _constant_shapes(fdef) -> Dict[str, List]:
    """The names bound once in ``fdef`` (never deleted, no parameter, no nested function's) to an
    integer constant or a non-empty tuple of them, with the constants."""
    stores: Dict[str, int] = {}
    values: Dict[str, object] = {}
    for n in walk_no_defs(fdef):
        if isinstance(n, gast.Name) and isinstance(n.ctx, (gast.Store, gast.Del)):
            stores[n.id] = stores.get(n.id, 0) + (2 if isinstance(n.ctx, gast.Del) else 1)
        elif isinstance(n, gast.Assign) and len(n.targets) == 1 and isinstance(n.targets[0], gast.Name):
            values[n.targets[0].id] = n.value
    params = {a.id for a in fdef.args.args + fdef.args.kwonlyargs + fdef.args.posonlyargs}
    out = {}
    for name, v in values.items():
        if stores.get(name) == 1 and name not in params and not isinstance(v, gast.Name):
            items = _shape_items(v, {})
            if items is not None:
                out[name] = items
    return out


def _reshaped_name(value, constants: Dict[str, List]):
    """``base`` of ``base.reshape(shape)``, ``base.ravel()``, ``np.reshape(base, shape)``,
    ``np.ravel(base)`` (a shape of constants, no keywords; numpy's functions checked where the view
    is followed): of a C-contiguous array, always a view of all of it (corp52 FR7); else None."""
    if not isinstance(value, gast.Call) or value.keywords or not isinstance(value.func, gast.Attribute):
        return None
    func, args = value.func, value.args
    if not isinstance(func.value, gast.Name):
        return None
    if func.value.id != "np" and (func.attr == "ravel" and not args or
                                  func.attr == "reshape" and args and all(_shape_items(a, constants) is not None for a in args)):
        return func.value.id
    if func.value.id == "np" and args and isinstance(args[0], gast.Name) and (
            func.attr == "ravel" and len(args) == 1 or
            func.attr == "reshape" and len(args) == 2 and _shape_items(args[1], constants) is not None):
        return args[0].id
    return None


def _diagonal_name(value):
    """``base`` of ``np.einsum("ii->i", base)``: of an array, always a writable view of its diagonal
    (numpy's einsum returns a view where it sums nothing; corp52 FR8); else None."""
    if isinstance(value, gast.Call) and not value.keywords and isinstance(value.func, gast.Attribute) and \
            value.func.attr == "einsum" and isinstance(value.func.value, gast.Name) and \
            value.func.value.id == "np" and len(value.args) == 2 and \
            isinstance(value.args[0], gast.Constant) and value.args[0].value == "ii->i" and \
            isinstance(value.args[1], gast.Name):
        return value.args[1].id
    return None


# numpy's functions whose arrays are always C-contiguous (no order= given; matmul, dot and outer of
# arrays whatever their layouts)
_C_MAKERS = frozenset(("zeros", "ones", "empty", "full", "arange", "linspace", "eye", "identity", "matmul",
                       "dot", "outer"))
_ARITHMETIC = (gast.Add, gast.Sub, gast.Mult, gast.Div, gast.Pow, gast.FloorDiv, gast.Mod)


def _contiguous_parts(value, facts: Facts, tracked: Set[str]):
    """Where ``value`` makes a new C-contiguous array, the binding ids of the ``contig`` facts of
    the names it is made of (elementwise arithmetic of C-contiguous arrays and numbers is one), and
    the other names it reads, which must be numbers; else None.  What is only known with the function's analysis (an operand surely an array, ``np``
    numpy and a ufunc) ``_surely_contiguous`` checks where a view is followed."""
    def numeric(e):
        if isinstance(e, gast.UnaryOp) and isinstance(e.op, (gast.USub, gast.UAdd)):
            e = e.operand
        return isinstance(e, gast.Constant) and type(e.value) in (int, float)

    def fact_of(e):
        if not isinstance(e, gast.Name):
            return None
        found = [p[4] for p in facts if isinstance(p, tuple) and p[0] == "contig" and p[1] == e.id]
        return found[0] if len(found) == 1 else None

    def operands(es):
        # (another local name is kept by name: the analysis must tell it a number, h = x.copy() * s)
        ids = [None if numeric(e) else fact_of(e) for e in es]
        if not any(isinstance(i, int) for i in ids) or \
                any(i is None and not numeric(e) and not (isinstance(e, gast.Name) and e.id in tracked)
                    for i, e in zip(ids, es)):
            return None
        return [i if i is not None else e.id for i, e in zip(ids, es) if not numeric(e)]
    if isinstance(value, gast.BinOp) and isinstance(value.op, gast.MatMult):
        return [] if all(isinstance(e, gast.Name) and e.id in tracked for e in (value.left, value.right)) else None
    if isinstance(value, gast.BinOp) and isinstance(value.op, _ARITHMETIC):
        return operands([value.left, value.right])
    if isinstance(value, gast.UnaryOp) and isinstance(value.op, (gast.USub, gast.UAdd)):
        return operands([value.operand])
    if not (isinstance(value, gast.Call) and isinstance(value.func, gast.Attribute) and
            isinstance(value.func.value, gast.Name)):
        return None
    func = value.func
    if func.attr == "copy" and func.value.id != "np" and not value.args and not value.keywords:
        return [] if func.value.id in tracked else None       # (of an array: checked where followed)
    if func.value.id != "np" or any(k.arg in (None, "order", "like", "out", "where", "subok") for k in value.keywords):
        return None
    if func.attr in ("matmul", "dot", "outer"):
        return [] if len(value.args) == 2 and all(isinstance(e, gast.Name) and e.id in tracked for e in value.args) \
            else None
    if func.attr == "linspace":      # (of arrays, not C-contiguous along another axis)
        return [] if value.args and all(numeric(e) for e in value.args) and not value.keywords else None
    if func.attr in _C_MAKERS:
        return [] if not any(isinstance(e, gast.Starred) for e in value.args) else None
    if not value.keywords and value.args and isinstance(getattr(np, func.attr, None), np.ufunc) and \
            getattr(np, func.attr).nout == 1:
        return operands(value.args)
    return None


class MustCopies:
    """The pairs of names surely holding the same object before each statement of ``fdef``
    (``before``, by statement id), for the names ``tracked`` (the function's own, none that a
    nested function or lambda reads)."""

    def __init__(self, fdef, tracked: Set[str]):
        self.tracked = tracked
        self.before: Dict[int, Facts] = {}
        self.indexes: Dict[str, object] = {}       # a view fact's index key -> the index
        self.bindings: Dict[int, object] = {}      # a view fact's binding statement id -> the statement
        self.key_names: Dict[str, FrozenSet[str]] = {}   # an entry fact's index key -> the names it reads
        self.walked: Dict[str, str] = {}           # seq -> items, where seq = rt.as_sequence(items)
        # a ("contig", name, name, "", binding id) fact: name holds the new C-contiguous array that
        # binding made (-> the binding and the ids of the facts it was made of); a reshape view of it
        # -> that fact's binding id
        self.contiguous: Dict[int, tuple] = {}
        self.reshaped: Dict[int, int] = {}
        self.constants = _constant_shapes(fdef)
        self.block(fdef.body, frozenset())

    def block(self, stmts: List, facts: Facts) -> Facts:
        for s in stmts:
            facts = self.statement(s, facts)
        return facts

    def statement(self, s, facts: Facts) -> Facts:
        out = self._statement(s, facts)
        out = _stale(out, facts, s)
        if self.key_names:
            # (an entry fact w = base[k] holds while k names the same key)
            stored = _stored(s)
            out = frozenset(p for p in out if isinstance(p, frozenset) or p[0] != "entry" or
                            not (self.key_names.get(p[3], frozenset()) & stored) or p[4] == id(s))
        return out

    def _statement(self, s, facts: Facts) -> Facts:
        self.before[id(s)] = facts
        facts = _kill_views(facts, _relaid(s))
        if isinstance(s, gast.Assign):
            target, value = s.targets[0], s.value
            if len(s.targets) == 1 and isinstance(target, gast.Name) and isinstance(value, gast.Call) and \
                    isinstance(value.func, gast.Attribute) and value.func.attr == "as_sequence" and \
                    len(value.args) == 1 and isinstance(value.args[0], gast.Name) and not value.keywords and \
                    value.args[0].id in self.tracked:
                # for row in items: seq = rt.as_sequence(items) (items itself, a list, tuple or array)
                self.walked[target.id] = value.args[0].id
            if len(s.targets) == 1 and isinstance(target, gast.Name) and isinstance(value, gast.Name) and \
                    target.id != value.id and target.id in self.tracked and value.id in self.tracked:
                a, b = target.id, value.id
                facts = _kill(facts, {a})
                return facts | {frozenset((a, b))} | {frozenset((a, c)) for c in _class_of(facts, b)}
            if len(s.targets) == 1 and isinstance(target, gast.Name) and isinstance(value, gast.Subscript) and \
                    isinstance(value.value, gast.Name) and target.id != value.value.id and \
                    target.id in self.tracked and value.value.id in self.tracked:
                # w = base[1:]: w is a view of base (where base is an array: checked where it is used);
                # a = w[1]: a view of w where w has more dimensions than the index, else a number
                # (only the run can tell)
                kind = "view" if _basic_view_index(value.slice) else "item" if _int_index(value.slice) else None
                names = _entry_key(value.slice, self.tracked) if kind is None else None
                if names is not None and target.id not in names:
                    # w = d["k"], w = xs[i]: the item itself of a dict or list, a view or a copy of an
                    # array (sct/runtime item_is_held tells which)
                    kind = "entry"
                    self.key_names[gast.dump(value.slice)] = names
                if kind is not None:
                    key = gast.dump(value.slice)
                    self.indexes[key] = value.slice
                    self.bindings[id(s)] = s
                    return _kill(facts, {target.id}) | {(kind, target.id, value.value.id, key, id(s))}
            if len(s.targets) == 1 and isinstance(target, gast.Name) and target.id in self.tracked:
                base = _reshaped_name(value, self.constants)
                made = [p[4] for p in facts if isinstance(p, tuple) and p[0] == "contig" and p[1] == base]
                if base is not None and base != target.id and base in self.tracked and len(made) == 1:
                    # w = base.reshape(2, 6), base.ravel(), np.reshape(base, -1): of a new C-contiguous
                    # array, always a view of all of it (written back as base[...] = reshaped w;
                    # corp52 FR7, fuzz52 R3)
                    key = "reshaped " + gast.dump(value)
                    self.indexes[key] = value
                    self.bindings[id(s)] = s
                    self.reshaped[id(s)] = made[0]
                    return _kill(facts, {target.id}) | {("view", target.id, base, key, id(s))}
                base = _diagonal_name(value)
                if base is not None and base != target.id and base in self.tracked:
                    # w = np.einsum("ii->i", base): of an array, a view of its diagonal (corp52 FR8)
                    key = "diagonal " + gast.dump(value)
                    self.indexes[key] = value
                    self.bindings[id(s)] = s
                    return _kill(facts, {target.id}) | {("view", target.id, base, key, id(s))}
                made = _contiguous_parts(value, facts, self.tracked)
                if made is not None:
                    self.contiguous[id(s)] = (s, made)
                    self.bindings[id(s)] = s
                    return _kill(facts, {target.id}) | {("contig", target.id, target.id, "", id(s))}
                kept = [p for p in facts if isinstance(p, tuple) and p[0] == "contig" and p[1] == target.id]
                if kept and isinstance(value, gast.Call) and isinstance(value.func, gast.Attribute) and \
                        value.func.attr == "inplace_result" and len(value.args) == 2 and \
                        isinstance(value.args[1], gast.Name) and value.args[1].id == target.id:
                    # t = rt.inplace_result(t_op, t) of t op= v: an array stays itself, laid out as it was
                    # (a number is bound anew: no array, which the run checks where a view is followed)
                    return _kill(facts, _stored(s)) | frozenset(kept)
            base = _transposed_name(value)
            if len(s.targets) == 1 and isinstance(target, gast.Name) and base is not None and \
                    target.id != base and target.id in self.tracked and base in self.tracked:
                # w = base.T, base.transpose(), base.swapaxes(0, 1): of an array, always a view of all of
                # it, its own inverse (written back as base[...] = w.T; corp52 FR7)
                key = "transposed " + gast.dump(value)
                self.indexes[key] = value
                self.bindings[id(s)] = s
                return _kill(facts, {target.id}) | {("view", target.id, base, key, id(s))}
            if len(s.targets) == 1 and isinstance(target, gast.Name) and isinstance(value, gast.Attribute) and \
                    isinstance(value.value, gast.Name) and target.id != value.value.id and \
                    target.id in self.tracked and value.value.id in self.tracked:
                # w = base.attr: the object the attribute holds (followed where base is an object
                # dlgradient built, rebind_copies' attribute_statements)
                self.bindings[id(s)] = s
                return _kill(facts, {target.id}) | {("attr", target.id, value.value.id, value.attr, id(s))}
            return _kill(facts, _stored(s))
        if isinstance(s, gast.If):
            facts = _kill(facts, _stored(s.test))
            return _meet(self.block(s.body, facts), self.block(s.orelse, facts))
        if isinstance(s, (gast.For, gast.While)):
            # every pair of a name the loop binds anywhere is dropped: what is left holds at the
            # head of every iteration, after the loop and after a break
            head = _stale(_kill(facts, _stored(s)), facts, s)   # (as the loop comes back)
            self.block(s.body, head)
            return _meet(head, self.block(s.orelse, head))
        if isinstance(s, gast.With):
            entry = _kill(facts, set().union(*(_stored(item) for item in s.items)) if s.items else set())
            out = self.block(s.body, entry)
            # (a context manager may swallow an exception: after the block, from any point in it)
            return _meet(out, _kill(facts, _stored(s)))
        if isinstance(s, (gast.Expr, gast.Return, gast.Pass, gast.Break, gast.Continue, gast.Raise,
                          gast.Assert, gast.Delete, gast.AugAssign, gast.AnnAssign)):
            return _kill(facts, _stored(s))
        # any other statement (a definition, try...): nothing is known after it, nothing inside
        return _kill(facts, _stored(s)) if not isinstance(s, (gast.FunctionDef, gast.AsyncFunctionDef,
                                                               gast.ClassDef)) else frozenset()


def _written_names(s) -> Set[str]:
    """The local names whose object ``s`` may change in place without binding them again: ``z`` of
    ``z[i] = v``, ``z.sort()`` (a mutating method), ``f(..., out=z)``, ``np.copyto(z, v)``,
    ``np.add.at(z, i, v)``."""
    if isinstance(s, gast.Assign) and len(s.targets) == 1:
        target = s.targets[0]
        if isinstance(target, gast.Subscript) and isinstance(target.value, gast.Name):
            return {target.value.id}
    call = None
    if isinstance(s, gast.Expr) and isinstance(s.value, gast.Call):
        call = s.value
    elif isinstance(s, gast.Assign) and len(s.targets) == 1 and isinstance(s.targets[0], gast.Name) and \
            isinstance(s.value, gast.Call):
        call = s.value
    if call is None:
        return set()
    out = set()
    func = call.func
    if isinstance(func, gast.Attribute) and isinstance(func.value, gast.Name) and func.attr in MUTATORS:
        out.add(func.value.id)
    for k in call.keywords:
        if k.arg == "out" and isinstance(k.value, gast.Name):
            out.add(k.value.id)
    if isinstance(func, gast.Attribute) and func.attr in _FIRST_ARGUMENT_WRITERS and call.args and \
            isinstance(call.args[0], gast.Name):
        out.add(call.args[0].id)
    return out


def _meet(a: Facts, b: Facts) -> Facts:
    """The facts that hold on both paths: an item fact stale on one of them (its base changed
    there) holds as stale (was: dropped, so a view of an array was no longer followed after a
    branch that wrote into the array)."""
    out = set(a & b)
    stale_a = {p[:5]: p for p in a if isinstance(p, tuple)}
    for p in b:
        if isinstance(p, tuple) and p not in out:
            q = stale_a.get(p[:5])
            if q is not None:
                out.add(p[:5] + ("stale",))
    return frozenset(out)


def _stale(out: Facts, facts: Facts, s) -> Facts:
    """``out`` with each item fact ``w = base[k]`` whose base ``s`` may change in place (``base[k]
    = v``, ``del base[k]``, ``base.insert(0, v)``, through a second name of base) marked stale: of a
    list or dict, w may no longer be base[k] (an array's view still is: followed as before)."""
    changed = _changed_names(s)
    if not changed:
        return out
    for name in list(changed):
        changed |= _class_of(facts, name)
    return frozenset(p[:5] + ("stale",) if isinstance(p, tuple) and p[0] in ("item", "entry") and
                     p[2] in changed and p[4] != id(s) else p for p in out)


def _changed_names(s) -> Set[str]:
    """The names whose object ``s`` (any statement, with the statements inside) may change in
    place: ``z[i] = v``, ``del z[i]``, ``z.append(v)``, ``z op= v``, ``out=z``..."""
    out: Set[str] = set()
    for n in walk_no_defs(s):
        if isinstance(n, gast.stmt):
            out |= _written_names(n)
            t = _augmented_name(n)
            if t is not None:
                out.add(t)
            if isinstance(n, gast.Delete):
                out |= {t.value.id for t in n.targets if isinstance(t, gast.Subscript) and isinstance(t.value, gast.Name)}
            if isinstance(n, gast.AugAssign) and isinstance(n.target, gast.Name):
                out.add(n.target.id)
    return out


def _augmented_name(s):
    """``t`` of the statement computing ``t op v`` for ``t op= v`` (the normalizer marks it), or None."""
    mark = getattr(s, "sct_augmented", None)
    if mark is None or mark[1] is not None or mark[0] is None or not isinstance(s, gast.Assign) or \
            len(s.targets) != 1 or not isinstance(s.targets[0], gast.Name) or not isinstance(s.value, gast.BinOp):
        return None
    return mark[0]


def _is_inplace_result(nxt, t: str, s, rt_name: str) -> bool:
    """Is ``nxt`` ``t = rt.inplace_result(t_op, t)`` (``t_op`` what ``s`` binds)?"""
    if not (isinstance(nxt, gast.Assign) and len(nxt.targets) == 1 and isinstance(nxt.targets[0], gast.Name) and
            nxt.targets[0].id == t and isinstance(nxt.value, gast.Call)):
        return False
    func, args = nxt.value.func, nxt.value.args
    return isinstance(func, gast.Attribute) and func.attr == "inplace_result" and \
        isinstance(func.value, gast.Name) and func.value.id == rt_name and len(args) == 2 and \
        not nxt.value.keywords and isinstance(args[0], gast.Name) and args[0].id == s.targets[0].id and \
        isinstance(args[1], gast.Name) and args[1].id == t


def _symbol(value) -> str:
    from .augmented_writes import OP_SYMBOLS
    return OP_SYMBOLS.get(type(getattr(value, "op", None)), "+")


def _holds_kind(kind, wanted, depth: int = 0) -> bool:
    """Is ``wanted`` (an argument's dict's kind, sct.kinds) ``kind`` or the kind of a container inside it?"""
    if kind == wanted:
        return True
    if depth > 32 or not (isinstance(kind, tuple) and kind and kind[0] in ("seq", "map", "obj")):
        return False
    return any(_holds_kind(k, wanted, depth + 1) for k in _children(kind).values())


def _int_names(fdef) -> Set[str]:
    """The names every binding of which is an int: an int constant, the target of a ``range``
    loop, another such name (``k = k_next``)."""
    values: Dict[str, List] = {}
    stores: Dict[str, int] = {}
    for n in walk_no_defs(fdef):
        if isinstance(n, gast.Name) and isinstance(n.ctx, (gast.Store, gast.Del)):
            stores[n.id] = stores.get(n.id, 0) + 1
        elif isinstance(n, gast.For) and isinstance(n.target, gast.Name):
            it = n.iter
            values.setdefault(n.target.id, []).append(
                "int" if isinstance(it, gast.Call) and isinstance(it.func, gast.Name) and it.func.id == "range"
                else None)
        elif isinstance(n, gast.Assign) and len(n.targets) == 1 and isinstance(n.targets[0], gast.Name):
            v = n.value
            values.setdefault(n.targets[0].id, []).append(
                "int" if _int_constant(v) else v.id if isinstance(v, gast.Name) else None)
    ints: Set[str] = set()
    changed = True
    while changed:
        changed = False
        for name, vs in values.items():
            if name not in ints and len(vs) == stores.get(name, 0) and \
                    all(v == "int" or v in ints for v in vs):
                ints.add(name)
                changed = True
    return ints


def _followed(stmts: List, memo: Dict) -> None:
    """Mark ``stmts`` (what a run added after a write, with the statements inside) in ``memo``: a
    later run of rebind_copies in the same compilation leaves them as they are.  (In ``memo``, by
    id, not on the nodes: a tree kept and compiled again must be followed again.)"""
    followed = memo.setdefault("followed", set())
    for st in stmts:
        for n in gast.walk(st):
            if isinstance(n, gast.stmt):
                followed.add(id(n))


def rebind_copies(fdef, analysis_of, rt_name: str, memo: Dict = None) -> bool:
    """After each write into ``z`` in place, bind again each other name surely holding the same
    object that is read later (``c = z``; the same program in Python).  ``analysis_of()`` gives
    the function's points-to analysis (sct/points_to.py: the names live after each statement;
    asked for only where a write has such a name).  Whether anything was added.

    ``t op= v`` (normalized to ``t_op = t op v``, marked ``sct_augmented``, then
    ``t = rt.inplace_result(t_op, t)``) changes an array, list or dict in place and binds t to a
    new object where it is a number, tuple or string; which one only the run knows, so each other
    name ``c`` of t's object gets ``if rt.updated_in_place(c, ...): c = t`` after it (in Python
    again a statement that changes nothing), and the check of the augmented statement leaves c
    out (``sct_rebound``).  Not for an object of the user's classes (its ``__iadd__`` may return
    anything): that stays refused."""
    memo = {} if memo is None else memo
    params = [a.id for a in fdef.args.args] + [a.id for a in fdef.args.kwonlyargs] + \
        [a.id for a in (fdef.args.vararg, fdef.args.kwarg) if a is not None]
    names = set(params)
    captured: Set[str] = set()
    writes = False
    for n in walk_no_defs(fdef):
        if isinstance(n, gast.Name) and isinstance(n.ctx, (gast.Store, gast.Del)):
            names.add(n.id)
        elif isinstance(n, (gast.FunctionDef, gast.AsyncFunctionDef, gast.ClassDef, gast.Lambda)) and \
                n is not fdef:
            for m in gast.walk(n):           # what a nested function reads may change any time
                if isinstance(m, gast.Name):
                    captured.add(m.id)
        elif isinstance(n, (gast.Global, gast.Nonlocal)):
            captured.update(n.names)
        elif isinstance(n, gast.stmt) and not writes and (_written_names(n) or _augmented_name(n)):
            writes = True
    if not writes:
        return False
    tracked = names - captured
    every_name = {n.id for n in gast.walk(fdef) if isinstance(n, gast.Name)}
    spellings = None

    def spelled(name: str) -> str:
        """``name`` as the user wrote it (g.Value for the normalizer's g_Value: sct/write_checks.py)."""
        nonlocal spellings
        if spellings is None:
            from .write_checks import spelled_names
            spellings = spelled_names(fdef)
        return spellings.get(name, name)
    facts = MustCopies(fdef, tracked)
    analysis = None
    added = False

    def array_base(fact) -> bool:
        """Did ``base`` surely hold an array where ``w = base[...]`` bound the view (an array
        or a number: slicing a number raises, so where the view exists base is an array)?"""
        base, binding = fact[2], facts.bindings.get(fact[4])
        if binding is None:
            return False
        objs = analysis.objects(binding, base)
        return bool(objs) and all(
            o[0] in ("new", "old") and o[1] in analysis.array_sites or
            o[0] == "arg" and isinstance(analysis.kinds.get(o[1]), tuple) and
            analysis.kinds[o[1]][:1] in (("dl",), ("nd",)) for o in objs)

    def again(key: str, index, base: str):
        """The view ``w`` of ``base`` taken again."""
        if key.startswith("reshaped "):
            return _reshaped_again(index, base, facts.constants)
        if key.startswith(("transposed ", "diagonal ")):
            return _transposed(index, base)
        return gast.Subscript(value=load(base), slice=copy.deepcopy(index), ctx=gast.Load())

    def surely_arrays(s, nodes) -> bool:
        return all(isinstance(n, gast.Name) and analysis._surely_arrays(analysis.objects(s, n.id)) for n in nodes)

    def numpy_is(call_node, name: str) -> bool:
        return isinstance(call_node.func, gast.Attribute) and isinstance(call_node.func.value, gast.Name) and \
            call_node.func.value.id == "np" and analysis.info(call_node).obj is getattr(np, name, None)

    def surely_contiguous(bid: int) -> bool:
        """Did the binding ``bid`` of a ``contig`` fact surely make a C-contiguous array, or a number
        (numpy's scalar of a 0-d operand, which the run refuses where a view of it is followed)?"""
        s, made = facts.contiguous[bid]
        value = s.value
        if isinstance(value, gast.BinOp) and isinstance(value.op, gast.MatMult):
            ok = surely_arrays(s, [value.left, value.right])
        elif isinstance(value, (gast.BinOp, gast.UnaryOp)):
            ok = True           # (of the C-contiguous arrays made, and numbers)
        elif value.func.attr == "copy" and value.func.value.id != "np":
            ok = surely_arrays(s, [value.func.value])      # (ndarray.copy(): order 'C')
        elif value.func.attr in ("matmul", "dot", "outer"):
            ok = numpy_is(value, value.func.attr) and surely_arrays(s, value.args)
        elif value.func.attr in _C_MAKERS:
            ok = numpy_is(value, value.func.attr)
        else:
            ok = numpy_is(value, value.func.attr) and isinstance(getattr(np, value.func.attr), np.ufunc)
        state = analysis.before.get(id(s))
        return ok and state is not None and all(surely_contiguous(d) if isinstance(d, int) else
                                                analysis.immutable(state, load(d)) for d in made)

    def numpy_view(fact, index) -> bool:
        """``w = base.reshape(s)`` (``ravel``, numpy's reshape and ravel) of a C-contiguous array sct
        made sure of; ``w = np.einsum("ii->i", base)`` numpy's einsum."""
        if fact[3].startswith("diagonal "):
            return numpy_is(index, "einsum")
        if index.func.value.id == "np" and not numpy_is(index, index.func.attr):
            return False
        return fact[4] in facts.reshaped and surely_contiguous(facts.reshaped[fact[4]])

    def held_attribute(fact, s) -> bool:
        """Did ``base`` surely hold an object dlgradient built (the gradients of a dataclass, a Table,
        an object of the user's class: sct/points_to.py ``gradient_sites``, new objects holding new
        items) where ``w = base.attr`` bound the attribute's object, and may base hold it in that one
        place only?  Then a change of ``w`` in place (``g.Value[0] = v``, ``g.w.append(v)``) is a
        change of ``base.attr`` (was: made on a copy, base kept the old value)."""
        # (or an object of the user's class made here, ``o = Acc(); o.w = w + 0.0; o.w[0] -= 1.0``: was
        # refused as a change o holds where the dict item's was followed, fuzz53 R1)
        # (not ``o.__dict__`` and other dunders: a view of the object's own fields, refused by the write checks;
        # and only an object made given nothing, whose every item sct saw stored: ``Holder(v)`` whose __init__
        # sets self.a = self.b = v holds v twice, unseen: a wrong value, test_redteam_dec9c)
        state = analysis.before.get(id(s))

        def made_here(o) -> bool:
            return not fact[3].startswith("__") and o[1] in analysis.bare_instance_sites and state is not None and \
                EXT not in state.contents(frozenset({o}))
        return held_base(fact, s, lambda o: o[0] in ("new", "old") and (o[1] in analysis.gradient_sites or
                                                                       made_here(o)))

    def held_base(fact, s, container=None) -> bool:
        """Did ``base`` surely hold a list, tuple or dict where ``w = base[k]`` bound the item (the
        item itself: its change in place at ``s`` is a change of ``base[k]``), not changed since
        (``len(fact) == 5``: MustCopies marks the fact stale at a change of base), and may base hold
        the item in that one place only (not twice, ``{"a": l, "b": l}``, nor inside another of its
        items, where writing ``base[k]`` back would leave the other place with the old value)?"""
        w, base, binding = fact[1], fact[2], facts.bindings.get(fact[4])
        if binding is None or len(fact) != 5:
            return False
        objs = analysis.objects(binding, base)
        if container is None:
            def container(o):
                return analysis.is_sequence(o) or analysis.is_mapping(o)
        if not (objs and all(container(o) for o in objs)):
            return False
        state = analysis.before.get(id(s))
        if state is None:
            return False
        items, bases = analysis.objects(s, w), analysis.objects(s, base)
        if items == frozenset({EXT}) and bases == objs and analysis.mode == "entry" and \
                isinstance(s, gast.Assign) and isinstance(s.targets[0], gast.Subscript) and \
                all(o != EXT and o[0] == "arg" and analysis.is_mapping(o) for o in objs):
            # an item of a dict dlfeval was given, written into by key (``state["bn"]["TrainedMean"] = m``: red
            # team mat51 F4): its items are the caller's, which the run tells held once (rt.item_is_held; among
            # the arguments, sct.api._refuse_aliased_writes); the write checks judge the other names, the run
            # the dicts (rt.setitem_through; not a list item changed by a call, refused as before)
            return True
        if not items or items & multi_of(analysis, state, bases) or bases != objs:
            return False
        return not any(state.heap.get(o, frozenset()) & items for o in state.reach(bases) - set(bases))

    def held_statements(z: str, w: str, base: str, index, line, augmented: bool, outer=frozenset()) -> List:
        """``w = base[k]`` changed in place (``w.append(v)``, ``w[0] = v``, ``w op= v``), where
        ``w`` is the item itself of a dict or list (or a view of an array, by integers): after
        the change, ``base[k] = w; w = base[k]`` (in Python nothing changes: base[k] is w).  The
        run tells first whether it is (``rt.item_is_held``; after ``w op= v``, whether the change
        was made in place: ``rt.item_changed_in_place``); a copy (an array's index array) or a
        number bound anew is left alone, a tuple's item is refused."""
        flag = w + "_held"
        while flag in names or flag in every_name:
            flag += "_"
        names.add(flag)
        shown, holder = spelled(w), spelled(base)
        if not shown.startswith(holder + "["):
            shown = f"{shown} (an item of {holder})"
        message = (f"{shown} is changed in place, and {holder} holds it; sct follows such "
                   f"a change into a dict or a list (or an array's view) only. Copy it before changing it "
                   f"(`.copy()`) and store it back into {holder}, or build a new value")
        check = call(f"{rt_name}.item_changed_in_place" if augmented else f"{rt_name}.item_is_held",
                     [load(base), copy.deepcopy(index), load(w), const(message)])
        back = gast.Assign(targets=[gast.Subscript(value=load(base), slice=copy.deepcopy(index), ctx=gast.Store())],
                           value=load(w), type_comment=None)
        back.lineno = line
        back.sct_restore = True             # (base[k] is w already: sct/points_to.py store)
        if outer:
            back.sct_rebound = outer          # (set back into them next)
        take = assign(w, gast.Subscript(value=load(base), slice=copy.deepcopy(index), ctx=gast.Load()), line)
        body = [back, take]
        items = walked_items(base)
        if items is not None:
            # for row in items: row changed in place is a change of items itself where the loop walks
            # it as it is (a list or an array: seq is items), followed by binding items again
            # (asked before the write back: seq is a new value after it)
            itself = flag + "_walked"
            while itself in names or itself in every_name:
                itself += "_"
            names.add(itself)
            back.sct_rebound = frozenset({items}) | getattr(back, "sct_rebound", frozenset())
            body.insert(0, assign(itself, call(f"{rt_name}.walks_itself", [load(base), load(items)]), line))
            body.append(gast.If(test=load(itself), body=[assign(items, load(base), line)], orelse=[]))
            body[-1].lineno = line
        branch = gast.If(test=load(flag), body=body, orelse=[])
        branch.lineno = line
        return [assign(flag, check, line), branch]

    def gradient_container(o) -> bool:
        """Is ``o`` a list or dict, or an object or item of the structure dlgradient built (a list,
        dict, object or array: the run tells which, ``rt.item_is_held``)?"""
        return analysis.is_sequence(o) or analysis.is_mapping(o) or \
            o[0] in ("new", "old") and o[1] in analysis.gradient_sites

    def gradient_chain(fact, s, after) -> List:
        """The facts ``w = base.attr`` / ``w = base[k]``, then ``base = outer.attr2`` / ``base = outer[k2]``
        ... from ``fact`` out to a base that is read after ``s`` (``g`` of ``b = g.Learnables; v =
        b.Value; v[0] = x``, of ``t = g.Value; v = t[i]; v[v > 1] = 1``), each link of the structure
        dlgradient built (or a list or dict); empty where there is none."""
        chain, seen = [], set()
        before = facts.before.get(id(s), frozenset())
        while fact is not None and fact[2] not in seen and (
                held_attribute(fact, s) if fact[0] == "attr" else
                fact[0] in ("entry", "item") and held_base(fact, s, gradient_container)):
            chain.append(fact)
            seen.add(fact[1])
            if fact[2] in after or caller_reads(fact, s):
                return chain
            outer = [p for p in before if isinstance(p, tuple) and p[0] in ("attr", "entry", "item") and
                     p[1] == fact[2] and len(p) == 5]
            fact = outer[0] if len(outer) == 1 else None
        return []

    def caller_reads(fact, s) -> bool:
        """Is ``fact``'s base (``state`` of ``b = state["rnn"]``, written ``b["h"] = v``) a dict dlfeval was
        given, which its caller reads after the function returns, read later or not (was: set back only where
        the function read it again, so ``h = f(state["rnn"]["h"]); state["rnn"]["h"] = h`` with no later read
        of state was refused as a change of an object the function did not create, red53u FR3)?"""
        if fact[0] != "entry" or analysis.mode != "entry":
            return False
        objs = analysis.objects(s, fact[2])
        if not (len(objs) == 1 and all(o != EXT and o[0] == "arg" and analysis.is_mapping(o) for o in objs)):
            return False
        root, index = next(iter(objs))[1], facts.indexes.get(fact[3])
        if not isinstance(index, gast.Constant):
            return False
        written = child_kind(analysis.kinds.get(root), index.value)
        state = analysis.before.get(id(s))
        if written is None or state is None:
            return False
        # (another argument read later holding a dict of the written one's kind may be that dict: left to the
        # write checks, which refuse it as before, `dlfeval(f, s, s, x)` of s["bn"]["m"] = v; p["bn"]["m"] read)
        for other in analysis.live_after.get(id(s), frozenset()):
            held = state.env.get(other, frozenset())
            if any(o != EXT and o[0] == "arg" and o[1] != root and _holds_kind(analysis.kinds.get(o[1]), written)
                   for o in held):
                return False
        return True

    def chain_statements(chain, line, augmented: bool) -> List:
        """The write-backs of ``gradient_chain``'s links, innermost first (each back statement leaves
        the names set back next out of its own check)."""
        out = []
        for k, f in enumerate(chain):
            outer = frozenset(f2[2] for f2 in chain[k + 1:])
            if f[0] == "attr":
                out += attribute_statements(f[1], f[2], f[3], line, augmented and k == 0, outer)
            else:
                out += held_statements(f[1], f[1], f[2], facts.indexes[f[3]], line, augmented and k == 0, outer)
        return out

    def attribute_statements(w: str, base: str, attr: str, line, augmented: bool, outer=frozenset()) -> List:
        """``w = base.attr`` changed in place (``w[0] = v``, ``w.append(v)``, ``w op= v``), where
        base is an object dlgradient built: after the change, ``base.attr = w; w = base.attr`` (in
        Python nothing changes: base.attr is w).  The run checks first that base keeps attr in its
        ``__dict__`` and sets it plainly (``rt.attribute_is_held``; after ``w op= v``, that the change
        was made in place: ``rt.attribute_changed_in_place``); anything else is refused."""
        flag = w + "_held"
        while flag in names or flag in every_name:
            flag += "_"
        names.add(flag)
        shown, holder = spelled(w), spelled(base)
        if shown != f"{holder}.{attr}":
            shown = f"{shown} (the value of {holder}.{attr})"
        message = (f"{shown} is changed in place, and {holder} holds it; sct "
                   f"follows such a change into a plain attribute only (of the gradients' object or of an object "
                   f"made here; not a namedtuple's field, a property, a slot, a frozen dataclass's). Build a new value and store it "
                   f"(`v = list({holder}.{attr}); v[i] = ...; {holder}.{attr} = v`)")
        check = call(f"{rt_name}.attribute_changed_in_place" if augmented else f"{rt_name}.attribute_is_held",
                     [load(base), const(attr), load(w), const(message)])
        back = gast.Assign(targets=[gast.Attribute(value=load(base), attr=attr, ctx=gast.Store())],
                           value=load(w), type_comment=None)
        back.lineno = line
        back.sct_restore = True             # (base.attr is w already: sct/points_to.py store)
        if outer:
            back.sct_rebound = outer          # (set back into them next)
        take = assign(w, gast.Attribute(value=load(base), attr=attr, ctx=gast.Load()), line)
        branch = gast.If(test=load(flag), body=[back, take], orelse=[])
        branch.lineno = line
        return [assign(flag, check, line), branch]

    def walked_items(seq: str):
        """``items`` where ``seq = rt.as_sequence(items)`` is what a for loop walks, and items is bound
        once in the function (so it is the object seq was made of wherever seq is read)."""
        items = facts.walked.get(seq)
        if items is None:
            return None
        stores = sum(1 for n in walk_no_defs(fdef) if isinstance(n, gast.Name) and n.id == items and
                     isinstance(n.ctx, (gast.Store, gast.Del)))
        return items if stores <= (0 if items in params else 1) else None

    def item_statements(s, z: str, w: str, base: str, index, line, augmented: bool) -> List:
        """``w = base[1]`` (constant integers): a view of the array base where it has more
        dimensions than the index, else a number (or, of a list, the item itself).  After a change
        of ``w`` in place: the run checks that w is such a view, then ``base[1] = w; w = base[1]``;
        after a change of ``base``: ``if rt.item_is_view(base, w, ...): w = base[1]`` (a number
        keeps its value; a list's item is refused: the change may have changed it in place); after ``w op= v``, which binds a number anew:
        ``if rt.array_item_is_view(base, w, ...): base[1] = w; w = base[1]``."""
        def take():
            return assign(w, gast.Subscript(value=load(base), slice=copy.deepcopy(index), ctx=gast.Load()), line)
        def fresh(stem):
            flag = stem
            while flag in names or flag in every_name:
                flag += "_"
            names.add(flag)
            return flag
        if w == z and augmented:
            message = (f"{w} = {base}[...] is a view of {base} or a number where {base} is an array; sct "
                       f"follows `{w} op= ...` for these only. Write `{w} = {w} + ...` for a new value")
            flag = fresh(f"{w}_is_view")
            back = gast.Assign(targets=[gast.Subscript(value=load(base), slice=copy.deepcopy(index), ctx=gast.Store())],
                               value=load(w), type_comment=None)
            back.lineno = line
            branch = gast.If(test=load(flag), body=[back, take()], orelse=[])
            branch.lineno = line
            return [assign(flag, call(f"{rt_name}.array_item_is_view", [load(base), load(w), const(message)]), line),
                    branch]
        if w == z:
            message = (f"{w} = {base}[...] is a view of {base} where {base} is an array with more dimensions "
                       f"than the index; sct follows a change of {w} in place for such a view only. Write "
                       f"`{w} = {w}.copy()` before changing it, or build a new value")
            check = gast.Expr(value=call(f"{rt_name}.require_view_item", [load(base), load(w), const(message)]))
            check.lineno = line
            back = gast.Assign(targets=[gast.Subscript(value=load(base), slice=copy.deepcopy(index), ctx=gast.Store())],
                               value=load(w), type_comment=None)
            back.lineno = line
            return [check, back, take()]
        flag = fresh(f"{w}_is_view")
        message = (f"{w} = {base}[...] is a view of {base} where {base} is an array; sct follows it for an "
                   f"array only (a list's item may be replaced or changed in place). Write `{w} = {w}.copy()` "
                   f"first, or build a new value")
        branch = gast.If(test=load(flag), body=[take()], orelse=[])
        branch.lineno = line
        return [assign(flag, call(f"{rt_name}.item_is_view", [load(base), load(w), const(message)]), line), branch]

    def view_statements(s, z: str, views, after, augmented: bool = False) -> List:
        """After a change in place of ``z``, where ``w = base[i]`` (a basic index of constants:
        a view of the array base) holds: ``z`` is the view: ``base[i] = w; w = base[i]`` (the
        view's numbers written back onto themselves, and the view taken again: in Python nothing
        changes); ``z`` is the base: ``w = base[i]``.  The write's check leaves the name bound
        again out (``sct_rebound``)."""
        out, rebound = [], set()
        line = getattr(s, "lineno", None)
        for fact in views:
            w, base, key = fact[1], fact[2], fact[3]
            if fact[0] == "attr" or fact[0] in ("entry", "item") and w == z and base not in after and \
                    not array_base(fact):
                # (base itself may be dead after s, where a live name holds it: g of
                # b = g.Learnables; v = b.Value; v[0] = x: b.Value = v, then g.Learnables = b)
                chain = gradient_chain(fact, s, after) if w == z and analysis.objects(s, w) else []
                if chain:
                    handled.append(fact[:4])
                    out += chain_statements(chain, line, augmented)
                    rebound |= {f[2] for f in chain}
                    for f in chain:
                        if walked_items(f[2]) is not None:
                            rebound.add(walked_items(f[2]))
                continue
            if not (w == z and base in after or base == z and w in after):
                continue
            # (a reshape's base sct made sure is a new C-contiguous array: an array, or numpy's scalar
            # the run refuses)
            on_array = array_base(fact) or key.startswith("reshaped ") and numpy_view(fact, facts.indexes[key])
            held = fact[0] in ("item", "entry") and w == z and (not on_array or fact[0] == "entry") and \
                (on_array and len(fact) == 5 or held_base(fact, s))
            if not (on_array or held):
                continue
            if not analysis.objects(s, w):
                continue        # (a number, as x[3] of a 1-D x: shares nothing)
            if fact[0] == "entry" and on_array and not held_base(fact, s) and \
                    not facts.key_names.get(key, frozenset()) <= int_names:
                continue        # (an array's item by a name that may be ..., None, a slice: a view sct
                #                  does not follow, left to the write checks)
            index = facts.indexes[key]
            if key.startswith(("reshaped ", "diagonal ")) and not numpy_view(fact, index):
                continue        # (np not numpy's, a reshape of what sct cannot tell C-contiguous: left to the
                #                  write checks, which refuse it)
            handled.append(fact[:4])
            if held:
                out += held_statements(z, w, base, index, line, augmented)
                rebound.add(base)
                if walked_items(base) is not None:
                    rebound.add(walked_items(base))
                continue
            if fact[0] == "entry":
                # base changed, an array: w = base[k] is a view of it by integers (taken again), a
                # copy by an index array or a number (each keeps its value)
                flag = w + "_is_view"
                while flag in names or flag in every_name:
                    flag += "_"
                names.add(flag)
                take = assign(w, gast.Subscript(value=load(base), slice=copy.deepcopy(index), ctx=gast.Load()), line)
                branch = gast.If(test=load(flag), body=[take], orelse=[])
                branch.lineno = line
                out += [assign(flag, call(f"{rt_name}.entry_is_view", [load(base), copy.deepcopy(index), load(w)]),
                               line), branch]
                rebound.add(w)
                continue
            if fact[0] == "item":
                out += item_statements(s, z, w, base, index, line, augmented)
                rebound.add(base if w == z else w)
                continue
            # (the activity's arrays may be numbers too, or on some paths lists: the run checks
            # that base is an array, whose slice is a view)
            message = (f"{w} = {base}[...] is a view of {base} where {base} is an array, and a new list where "
                       f"it is a list; sct follows the view for an array only. Write `{w} = {w}.copy()` or "
                       f"`{w} = list({w})` before changing it, or build a new value")
            if key.startswith(("reshaped ", "diagonal ")):
                message = (f"{spelled(w)} is a view of {spelled(base)} where {spelled(base)} is an array, and a new "
                           f"array where it is a number (numpy's scalar); sct follows the view for an array only. "
                           f"Write `{spelled(w)} = {spelled(w)}.copy()` before changing it, or build a new value")
            out.append(gast.Expr(value=call(f"{rt_name}.require_array", [load(base), const(message)])))
            out[-1].lineno = line
            # (w = base.T: base[...] = w.T; w = base.T.  w = base.reshape(s): base[...] = w reshaped as base;
            # w = base.reshape(s).  w = np.einsum("ii->i", base): base[its diagonal's indices] = w; w taken again)
            transposed = key.split(" ", 1)[0] in ("transposed", "reshaped", "diagonal")
            if w == z and base in after:
                value = w
                target = const(Ellipsis) if transposed else copy.deepcopy(index)
                if transposed:          # (one operation per statement: the transpose gets its own name)
                    kind = key.split(" ", 1)[0]
                    value = w + "_" + kind
                    while value in names or value in every_name:
                        value += "_"
                    names.add(value)
                    out.append(assign(value, _transposed(index, w) if kind == "transposed" else
                                      call(f"{rt_name}.reshaped_like", [load(w), load(base)]) if kind == "reshaped"
                                      else call(f"{rt_name}.diagonal_indices", [load(base)]), line))
                    if kind == "diagonal":
                        target, value = load(value), w
                out.append(gast.Assign(targets=[gast.Subscript(value=load(base), slice=target, ctx=gast.Store())],
                                       value=load(value), type_comment=None))
                out[-1].lineno = line
                out.append(assign(w, again(key, index, base), line))
                rebound.add(base)
            elif base == z and w in after:
                out.append(assign(w, again(key, index, base), line))
                rebound.add(w)
        if rebound:
            s.sct_rebound = getattr(s, "sct_rebound", frozenset()) | frozenset(rebound)
        return out

    handled: List = []                     # the facts view_statements followed (last call)
    int_names = _int_names(fdef)

    def visit(stmts: List):
        nonlocal analysis, added
        i = 0
        while i < len(stmts):
            s = stmts[i]
            for field in ("body", "orelse"):
                inner = getattr(s, field, None)
                if isinstance(inner, list) and not isinstance(s, (gast.FunctionDef, gast.AsyncFunctionDef,
                                                                  gast.ClassDef)):
                    visit(inner)
            # (what an earlier run followed after s already: not added twice)
            done = memo.setdefault("done", {}).setdefault(id(s), set())
            new = []
            before = facts.before.get(id(s))
            if before:
                stored = _stored(s)
                for z in sorted(_written_names(s) - stored):
                    others = sorted(c for c in _class_of(before, z) - stored if ("copy", c) not in done)
                    views = [v for v in _views_of(before, z, True) + _views_of(before, z, False)
                             if not ({v[1], v[2]} & stored) and v[:4] not in done]
                    if not others and not views:
                        continue
                    if analysis is None:
                        analysis = analysis_of()
                    after = analysis.live_after.get(id(s), frozenset())
                    for c in others:
                        if c in after:
                            new.append(assign(c, load(z), getattr(s, "lineno", None)))
                            done.add(("copy", c))
                    handled.clear()
                    new += view_statements(s, z, views, after)
                    done.update(handled)
            if new:
                _followed(new, memo)
                stmts[i + 1:i + 1] = new
                added = True
                i += len(new)
            t = _augmented_name(s)
            if before and t is not None and i + 1 < len(stmts) and _is_inplace_result(stmts[i + 1], t, s, rt_name):
                views = [v for v in _views_of(before, t, True) + _views_of(before, t, False)
                         if ("augmented",) + v[:4] not in done]
                handled.clear()
                if views:
                    if analysis is None:
                        analysis = analysis_of()
                    new = view_statements(s, t, views, analysis.live_after.get(id(stmts[i + 1]), frozenset()),
                                          augmented=True)
                    if new:
                        done.update(("augmented",) + v for v in handled)
                        _followed(new, memo)
                        stmts[i + 2:i + 2] = new
                        added = True
                        i += len(new)
            if before and t is not None and i + 1 < len(stmts) and _is_inplace_result(stmts[i + 1], t, s, rt_name):
                nxt = stmts[i + 1]
                others = sorted(c for c in _class_of(before, t) - {t, s.targets[0].id}
                                if ("augmented copy", c) not in done)
                if others:
                    if analysis is None:
                        analysis = analysis_of()
                    after = analysis.live_after.get(id(nxt), frozenset())
                    objs = analysis.objects(s, t)
                    # (a number shares nothing: t op= v binds it anew, nothing to follow; binding c
                    # again on some runs would make it seem to share t's next object)
                    plain = bool(objs) and all(o[0] in ("new", "old") and o[1] not in analysis.instance_sites
                                               for o in objs)
                    rebound = [c for c in others if c in after] if plain else []
                    new = []
                    for c in rebound:
                        flag = f"{c}_in_place"
                        while flag in names or flag in every_name:
                            flag += "_"
                        names.add(flag)
                        message = (f"`{t} {_symbol(s.value)}= ...` changes the object {t} holds, which {c} holds "
                                   f"too, in place where it is an array, a list or a dict, and binds {t} to a new "
                                   f"object where it is a number, a tuple or a string; sct follows neither for a "
                                   f"{{}}. Write `{t} = {t} {_symbol(s.value)} ...` for a new value (or "
                                   f"`{t} = {t}.copy()` first)")
                        check = assign(flag, call(f"{rt_name}.updated_in_place", [load(c), const(message)]),
                                       getattr(s, "lineno", None))
                        branch = gast.If(test=load(flag), body=[assign(c, load(t), getattr(s, "lineno", None))],
                                         orelse=[])
                        branch.lineno = getattr(s, "lineno", None)
                        new += [check, branch]
                    if new:
                        s.sct_rebound = getattr(s, "sct_rebound", frozenset()) | frozenset(rebound)
                        done.update(("augmented copy", c) for c in rebound)
                        _followed(new, memo)
                        stmts[i + 2:i + 2] = new
                        added = True
                        i += len(new)
            i += 1

    visit(fdef.body)
    return added
