"""The optimiser: rewrites of generated code (gast) just before it is printed.

Each rewrite is a small function that changes only what it can prove changes
nothing but speed:

* ``zero_facts``: which adjoints are the zero marker ``rt.ZERO`` (by identity) and
  which cannot be, flowing through straight-line code, branches and loops (a fixed
  point at each loop head).  With them, ``if d is not rt.ZERO:`` is decided where
  the answer is known, and the first contribution to an adjoint known to be
  ``rt.ZERO`` is assigned instead of added (``d = rt.ZERO; d = d + g`` becomes
  ``d = g``; ``rt.add_grad(ZERO, g)`` is ``g`` by definition).  An object's adjoint is known
  field by field (``ZeroFacts.fields``): ``rt.getattr_or_zero`` of a field no
  ``rt.attribute_adjoint`` put in it is the marker (the adjoint of a constant field's write).
* ``accumulate_in_place``: an adjoint built only from index adjoints
  (``d_x = d_x + rt.index_adjoint(g, x, idx)``) and read by nothing but its
  accumulations and the function's final ``return`` becomes one buffer added
  into in place (``rt.index_add``), instead of a full zero array per element or
  slice.  Generated adjoints are never written in place elsewhere, so a buffer
  made by ``rt.index_adjoint`` is held by that name alone.
* ``dead_assignments``: assignments of pure expressions to names never read.

``SCT_OPTIMIZE=0`` in the environment switches the pass off (for comparisons).
"""
from __future__ import annotations

import ast
import copy
import os
import re
from typing import Dict, List, Optional, Set, Tuple

import gast
import numpy as np

from .dead_adjoints import remove_dead_adjoints
from .cse import _MUTATING_RT, _NUMPY_WRITES, _PLAIN_RT, common_subexpressions, readers
from .ir import _CHILD_FIELDS, _child_fields, rewrite_children, tree_changed, walk_nodes
from .ir import is_comment as _is_comment, loop_jumps as _jumps, padded_block as _block

ZERO, NONZERO = "zero", "nonzero"
#: A fact of an object's adjoint (``rt.attribute_adjoint``, ``rt.add_grad`` of such): ``(FIELDS, names)``,
#: the zero marker or an adjoint none of whose other fields is anything but the marker.
FIELDS = "fields"
#: Names of numpy arrays' own attributes: an object's adjoint made for one of them may be an array
#: (``rt.zero_adjoint`` of ``x.shape``), whose other attributes getattr_or_zero reads (not followed).
_ARRAY_ATTRIBUTES = frozenset(dir(np.ndarray))
#: Runtime adjoint functions whose result is an inexact array or number (never the zero marker or a
#: container) for the operands generated code passes them: ``0.0 + f(...)`` is ``f(...)`` (the batch
#: normalisation's and max pooling's adjoints of the whole input, the first contribution to it).
_NEW_ADJOINT_ARRAYS = ("channel_product", "maxpool_scatter", "batch_total", "batch_mean_adjoint",
                       "batch_variance_adjoint", "unbroadcast_product", "batchnorm_stats_input_adjoint",
                       "matmul_adjoint_a", "matmul_adjoint_b", "matmul_adjoint_2d_a", "matmul_adjoint_2d_b")
Facts = Dict[str, str]


def enabled() -> bool:
    return os.environ.get("SCT_OPTIMIZE", "1").strip() not in ("0", "false", "no", "off")


def optimize(functions: List, rt_name: str = "rt", pair=None, numpy_name: Optional[str] = None,
             found_readers: Optional[tuple] = None, dead=None) -> None:
    """Rewrite the generated functions in place (each on its own); ``pair``: the names of a
    helper's forward and adjoint among them (what the forward keeps for the adjoint);
    ``found_readers``: ``(readers(functions, rt_name, numpy_name, scopes), scopes)`` where the
    caller found them on the functions as they are; ``dead``: ``(the names of the sweeps and
    adjoints to prune, the adjoint names they assign, the parameters holding a dict)``
    (sct/dead_adjoints.py), or None."""
    if not enabled():
        return
    if found_readers is not None:
        generated, scopes = found_readers
    else:
        scopes = {}
        generated = readers(functions, rt_name, numpy_name, scopes)
    prunable, adjoint_names, dict_params = dead if dead is not None else ((), frozenset(), frozenset())
    if dict_params:         # (the sweeps are handed them by the forwards: those that rebind one, none)
        for fn in functions:
            if isinstance(fn, gast.FunctionDef) and fn.name not in prunable:
                dict_params = dict_params - _stored(fn.body)
    for fn in functions:
        if isinstance(fn, gast.FunctionDef):
            nodes = optimize_function(fn, rt_name, scopes.get(id(fn)), functions,
                                      adjoint_names if fn.name in prunable else None, numpy_name or "np",
                                      dict_params)
            common_subexpressions(fn, rt_name, generated, numpy_name, nodes)      # sct/cse.py
    if pair is not None and all(pair):
        named = {fn.name: fn for fn in functions if isinstance(fn, gast.FunctionDef)}
        if pair[0] in named and pair[1] in named:
            shape_residuals(named[pair[0]], named[pair[1]], rt_name)
    shape_only_tapes(functions, rt_name, scopes)
    shape_only_arguments(functions, rt_name, scopes)


def optimize_function(fn: gast.FunctionDef, rt_name: str, scope: Optional[bool] = None, others=(),
                      adjoint_names: Optional[frozenset] = None, np_name: str = "np",
                      dict_params: frozenset = frozenset()) -> Optional[List]:
    """``scope``: ``_has_scope_statements(fn)`` where already known (None: found here);
    ``adjoint_names``: a sweep's adjoint names, whose assignments nothing reads are removed
    (sct/dead_adjoints.py; None: not a sweep to prune); ``dict_params``: the parameters that hold
    a dict (there, of the keys' adjoints).  Returns ``_walk_no_defs(fn.body)``'s
    nodes where the last rewrites changed no node of that walk (the common subexpressions read
    them), else None."""
    if _has_scope_statements(fn) if scope is None else scope:
        return None
    fn.body = ZeroFacts(rt_name).run(fn.body)
    if merge_zero_blocks(fn, rt_name, others):
        fn.body = ZeroFacts(rt_name).run(fn.body)
    if adjoint_names and remove_dead_adjoints(fn, adjoint_names, rt_name, np_name, _PURE_NP_CALLS, dict_params)[1]:
        fn.body = ZeroFacts(rt_name).run(fn.body)       # (a key's adjoint left out: ``d = rt.ZERO``, added to)
        remove_dead_adjoints(fn, adjoint_names, rt_name, np_name, _PURE_NP_CALLS, dict_params)
    # one walk of the body for the four passes (``called``: the runtime functions the body calls;
    # each pass below rewrites calls of one it names, and a pass whose call is absent has nothing
    # to do: skipped, no walk; ``loaded``: dead_assignments' names read, from the same walk)
    found: List = []
    nodes = contract_products(fn, rt_name, found)
    called, accumulated, loaded = found
    rewrote = "index_adjoint" in called and accumulate_in_place(fn, rt_name, nodes, accumulated)
    if "add_grad" in called and "index_adjoint" in called:
        rewrote = index_contributions(fn, rt_name, None if rewrote else nodes) or rewrote
    removed = dead_assignments(fn, rt_name) if rewrote else dead_assignments(fn, rt_name, nodes, loaded)
    return None if rewrote or removed else nodes


_SCOPE_NAMES = ("locals", "vars", "eval", "exec", "dir")


def _has_scope_statements(fn) -> bool:
    """global/nonlocal, or a call that could read the frame's names (locals(), vars(), eval)."""
    for n in walk_nodes(fn):
        if isinstance(n, (gast.Global, gast.Nonlocal)):     # here or in a nested function
            return True
        if isinstance(n, gast.Name) and n.id in ("locals", "vars", "eval", "exec", "dir"):
            return True
    return False


# --- helpers -------------------------------------------------------------------------------

def _walk_no_defs(stmts):
    AST, defs, fields_of = ast.AST, (gast.FunctionDef, gast.AsyncFunctionDef, gast.Lambda, gast.ClassDef), \
        _CHILD_FIELDS
    todo = list(stmts)
    pop, append = todo.pop, todo.append
    while todo:
        node = pop()
        yield node
        if isinstance(node, defs):
            continue
        fields = fields_of.get(node.__class__)
        if fields is None:
            fields = _child_fields(node.__class__)
        for name in fields:                 # iter_child_nodes, read directly (same order), without
            field = getattr(node, name, None)   # the context and operator leaves (sct.ir.walk_nodes)
            if isinstance(field, AST):
                append(field)
            elif isinstance(field, list):
                for child in field:
                    if isinstance(child, AST):
                        append(child)


#: The fields that can hold statements (of a statement, an ``except`` handler or a ``case``).
_STMT_FIELDS = ("body", "handlers", "orelse", "finalbody", "cases")
_STMT_HOLDERS = (gast.stmt, gast.ExceptHandler, gast.match_case)


def _statements_no_defs(stmts):
    """The statements of ``_walk_no_defs(stmts)`` (its nodes that are ``gast.stmt``), in its order,
    without walking the expressions (which hold no statement): about a tenth of the nodes, for the
    passes that look only at statements."""
    stmt, holders, defs = gast.stmt, _STMT_HOLDERS, _WALK_DEFS
    todo = list(stmts)
    pop, append = todo.pop, todo.append
    while todo:
        node = pop()
        if isinstance(node, stmt):
            yield node
            if isinstance(node, defs):
                continue
        for name in _STMT_FIELDS:       # (in the fields' order, as the full walk pushes them)
            field = getattr(node, name, None)
            if field.__class__ is list:
                for child in field:
                    if isinstance(child, holders):
                        append(child)


def _nodes_no_defs(stmts) -> List:
    """``_walk_no_defs(stmts)``'s nodes as a list (the same nodes, in the same order), for the walks
    that read the tree and change nothing while they walk (built without the generator)."""
    AST, defs, fields_of = ast.AST, _WALK_DEFS, _CHILD_FIELDS
    out: List = []
    todo = list(stmts)
    pop, append, emit = todo.pop, todo.append, out.append
    while todo:
        node = pop()
        emit(node)
        if isinstance(node, defs):
            continue
        fields = fields_of.get(node.__class__)
        if fields is None:
            fields = _child_fields(node.__class__)
        for name in fields:
            field = getattr(node, name, None)
            if isinstance(field, AST):
                append(field)
            elif isinstance(field, list):
                for child in field:
                    if isinstance(child, AST):
                        append(child)
    return out


class BodyNodes:
    """``_nodes_no_defs(fn.body)``, walked when a pass first asks for it and given to the passes
    after it until one says it changed a node (``changed``)."""

    def __init__(self, fn):
        self.fn = fn
        self.nodes: Optional[List] = None

    def get(self) -> List:
        if self.nodes is None:
            self.nodes = _nodes_no_defs(self.fn.body)
        return self.nodes

    def changed(self) -> None:
        self.nodes = None


def _has_assigned_call(fn, rt_name: str, *names) -> bool:
    """Whether a statement of ``fn`` (nested defs' too) is ``t = rt.<one of names>(...)``."""
    todo = list(fn.body)
    pop, extend, holders = todo.pop, todo.extend, _STMT_HOLDERS
    while todo:
        s = pop()
        if s.__class__ is gast.Assign and _rt_call(s.value, rt_name, *names):
            return True
        for name in _STMT_FIELDS:
            field = getattr(s, name, None)
            if field.__class__ is list:
                extend(c for c in field if isinstance(c, holders))
    return False


_WALK_DEFS = (gast.FunctionDef, gast.AsyncFunctionDef, gast.Lambda, gast.ClassDef)


def _is_rt(node, rt_name: str, attr: str) -> bool:
    return node.__class__ is _Attribute and node.attr == attr and \
        node.value.__class__ is _Name and node.value.id == rt_name


def _rt_call(node, rt_name: str, *names) -> bool:
    # (runs for most nodes of several walks: no gast node class is subclassed, so the classes
    # are compared, and nothing else is called)
    if node.__class__ is not _Call:
        return False
    func = node.func
    return func.__class__ is _Attribute and func.attr in names and func.value.__class__ is _Name and \
        func.value.id == rt_name


_Call, _Attribute, _Name = gast.Call, gast.Attribute, gast.Name


def _constant_str(node) -> Optional[str]:
    return node.value if isinstance(node, gast.Constant) and isinstance(node.value, str) else None


def _rt_attr(rt_name: str, attr: str):
    """``rt.attr`` (a load)."""
    return gast.Attribute(value=gast.Name(id=rt_name, ctx=gast.Load(), annotation=None, type_comment=None),
                          attr=attr, ctx=gast.Load())


def _name(node) -> Optional[str]:
    return node.id if isinstance(node, gast.Name) else None


def _stored(stmts) -> Set[str]:
    out = set()
    for node in _walk_no_defs(stmts):
        if isinstance(node, gast.Name) and isinstance(node.ctx, (gast.Store, gast.Del)):
            out.add(node.id)
        elif isinstance(node, (gast.FunctionDef, gast.ClassDef)):
            out.add(node.name)
    return out


def _merge(a: Facts, b: Facts) -> Facts:
    out = {}
    for k, v in a.items():
        w = b.get(k)
        if w == v:
            out[k] = v
        elif w is not None and (isinstance(v, tuple) or isinstance(w, tuple)) and NONZERO not in (v, w):
            # an object's adjoint holding some fields on one way, the marker or others on the other
            out[k] = FIELDS, (v[1] if isinstance(v, tuple) else frozenset()) | \
                (w[1] if isinstance(w, tuple) else frozenset())
    return out


# --- zero facts: decided checks, first contributions assigned --------------------------------

class ZeroFacts:
    """What is known of each name: ``rt.ZERO`` itself, or a value that cannot be it."""

    def __init__(self, rt_name: str):
        self.rt = rt_name
        self._changeable: Dict[int, tuple] = {}     # id(statement) -> (it, the names it may change)
        # id(statement) -> (it, _stored([it]), _jumps of its body where a loop): found once per
        # statement (a loop's body is run to a fixed point without rewrites; a statement is
        # rewritten only on its one visit with ``rewrite``, after these are read)
        self._stores: Dict[int, tuple] = {}

    def run(self, body: List) -> List:
        return self.block(body, {}, rewrite=True)[0]

    # what a value is, after the statement's rewrite
    def classify(self, value, facts: Facts) -> Optional[str]:
        if _is_rt(value, self.rt, "ZERO"):
            return ZERO
        if isinstance(value, gast.Name):
            return facts.get(value.id)
        # arithmetic makes a new object; seed and index_adjoint make numbers, arrays or containers
        if isinstance(value, (gast.BinOp, gast.UnaryOp, gast.Tuple, gast.List, gast.Dict)):
            return NONZERO
        if _rt_call(value, self.rt, "seed", "index_adjoint", "index_add", "reduction_broadcast", *_NEW_ADJOINT_ARRAYS):
            return NONZERO
        if _rt_call(value, self.rt, "unbroadcast") and value.args:
            kind = self.classify(value.args[0], facts)   # its argument itself, or a new array
            return kind if kind in (ZERO, NONZERO) else None
        return self.fields(value, facts)

    def fields(self, value, facts: Facts):
        """What an object's adjoint holds, field by field (was: the adjoint of a constant field's
        write ``self.running_mean = 0.9 * self.running_mean + ...``, ``self.n += 1`` of a layer
        whose gamma is traced, kept: its rules ran on the marker and read values only for them, so
        the sweep was handed ``self_mul``, ``self_n``): ``rt.attribute_adjoint(g, obj, 'w')`` holds
        ``w`` only (a dict, a namedtuple whose other fields are the marker, or the marker itself),
        ``rt.add_grad`` of two such both, ``rt.drop_attribute`` no more; ``rt.getattr_or_zero`` of a
        field it does not hold is the marker, and ``rt.drop_attribute`` of one is the adjoint itself."""
        if value.__class__ is not gast.Call or value.keywords or not isinstance(value.func, gast.Attribute) or \
                not _is_rt(value.func, self.rt, value.func.attr):
            return None
        attr, args = value.func.attr, value.args
        if attr == "attribute_adjoint" and len(args) == 3:
            field = _constant_str(args[2])
            # (``obj.__dict__``'s adjoint is the object's own, field by field: its fields are not known
            # here; was (FIELDS, {'__dict__'}), so ``getattr_or_zero(d_c, 'h')`` at a traced write
            # ``c.h = v`` read before through ``vars(c)`` / ``c.__dict__`` was taken for the marker and
            # the write's adjoint removed: a wrong gradient, red53u W1; and ``drop_attribute`` kept the
            # field's derivative for the value the field held before, W1b)
            return None if field is None or field in _ARRAY_ATTRIBUTES or field == "__dict__" else \
                (FIELDS, frozenset((field,)))
        if attr == "add_grad" and len(args) == 2:
            a, b = (self.classify(arg, facts) for arg in args)
            if a == ZERO or b == ZERO:
                return b if a == ZERO else a
            if isinstance(a, tuple) and isinstance(b, tuple):
                return FIELDS, a[1] | b[1]
            return None
        if attr in ("getattr_or_zero", "drop_attribute") and len(args) == 2:
            held, field = self.classify(args[0], facts), _constant_str(args[1])
            if held == ZERO or (isinstance(held, tuple) and field is not None and field not in held[1]):
                return ZERO if attr == "getattr_or_zero" else held
            return held if attr == "drop_attribute" and isinstance(held, tuple) else None
        return None

    def zero_test(self, test):
        """``(name, True)`` for ``name is not rt.ZERO``, ``(name, False)`` for ``name is rt.ZERO``."""
        if isinstance(test, gast.Compare) and len(test.ops) == 1 and \
                isinstance(test.left, gast.Name) and _is_rt(test.comparators[0], self.rt, "ZERO") and \
                isinstance(test.ops[0], (gast.Is, gast.IsNot)):
            return test.left.id, isinstance(test.ops[0], gast.IsNot)
        return None

    def first_contribution(self, value, facts: Facts):
        """``d + g`` or ``rt.add_grad(d, g)`` where ``d`` is rt.ZERO: ``g``."""
        if isinstance(value, gast.BinOp) and isinstance(value.op, gast.Add) and \
                facts.get(_name(value.left)) == ZERO and self.adjoint_like(value.right):
            return value.right
        if _rt_call(value, self.rt, "add_grad") and len(value.args) == 2 and not value.keywords:
            a, b = value.args
            if facts.get(_name(a)) == ZERO:
                return b
            if facts.get(_name(b)) == ZERO:
                return a
        return None

    def adjoint_like(self, node) -> bool:
        """``0.0 + g`` is ``g`` (the same numbers, type and dtype) for the adjoints generated
        code adds: inexact numbers and arrays, made by arithmetic or the runtime's adjoint
        functions.  (Where ``g`` could be a container, generated code uses add_grad.)"""
        if isinstance(node, gast.BinOp):
            return True
        if isinstance(node, gast.UnaryOp) and isinstance(node.op, gast.USub):
            return True
        if isinstance(node, gast.Name):
            return node.id.startswith("d_")
        return _rt_call(node, self.rt, "unbroadcast", "index_adjoint", "reduction_broadcast",
                        "tie_scaled", "extremum_scaled", *_NEW_ADJOINT_ARRAYS)

    def block(self, stmts: List, facts: Facts, rewrite: bool):
        facts = dict(facts)         # the block's own: its statements update it in place
        return self.block_in_place(stmts, facts, rewrite), facts

    def block_in_place(self, stmts: List, facts: Facts, rewrite: bool) -> List:
        """The statements (rewritten), ``facts`` updated in place to what holds after them (no
        copy of all facts per block or branch: a long function has many)."""
        out: List = []
        for s in stmts:
            out.extend(self.statement(s, facts, rewrite))
        return out

    def changeable(self, stmts: List) -> Set[str]:
        """The names whose facts the statements may change: those they store and those a check
        of theirs decides (``if d is not rt.ZERO:`` inside them).  Each statement's found once
        (a loop's body is run to a fixed point; a rewrite only removes statements)."""
        names: Set[str] = set()
        for s in stmts:
            found = self._changeable.get(id(s))
            if found is None or found[0] is not s:
                if isinstance(s, gast.If):
                    own = _stored([s.test]) | self.changeable(s.body) | self.changeable(s.orelse)
                    decided = self.zero_test(s.test)
                    if decided is not None:
                        own.add(decided[0])
                elif isinstance(s, (gast.For, gast.While)):
                    own = _stored([s.target, s.iter] if isinstance(s, gast.For) else [s.test]) | \
                        self.changeable(s.body) | self.changeable(s.orelse)
                else:
                    own = self.stores(s)        # (not changed: a simple statement's own set)
                found = self._changeable[id(s)] = (s, own)
            names |= found[1]
        return names

    def statement(self, s, facts: Facts, rewrite: bool) -> List:
        """The statement (rewritten, or what replaces it); ``facts`` updated in place."""
        if isinstance(s, gast.Assign) and len(s.targets) == 1 and isinstance(s.targets[0], gast.Name):
            target = s.targets[0].id
            value = s.value
            first = self.first_contribution(value, facts)
            if first is not None:
                value = first
                if rewrite:
                    s.value = first
            kind = self.classify(value, facts)
            if rewrite and (kind == ZERO or isinstance(kind, tuple)) and \
                    _rt_call(value, self.rt, "getattr_or_zero", "drop_attribute"):
                held = value.args[0]
                field = _constant_str(value.args[1])
                if value.func.attr == "getattr_or_zero":
                    if kind == ZERO:
                        s.value = _rt_attr(self.rt, "ZERO")     # a field the adjoint does not hold
                elif field is not None and (kind == ZERO or field not in kind[1]):
                    if _name(held) == target:               # d = rt.drop_attribute(d, 'n'): d itself
                        facts[target] = kind
                        return []
                    s.value = held
            if kind is None:
                facts.pop(target, None)
            else:
                facts[target] = kind
            return [s]
        if isinstance(s, gast.If):
            decided = self.zero_test(s.test)
            if decided is not None and facts.get(decided[0]) in (ZERO, NONZERO):
                name, when_nonzero = decided
                taken = (facts[name] == NONZERO) == when_nonzero
                return self.block_in_place(s.body if taken else s.orelse, facts, rewrite)
            # each branch from the facts before, in place; only the names they may change differ
            changed = self.changeable(s.body) | self.changeable(s.orelse)
            if decided is not None:
                changed.add(decided[0])
            before = {k: facts[k] for k in changed if k in facts}
            if decided is not None:
                facts[decided[0]] = NONZERO if decided[1] else ZERO
            body = self.block_in_place(s.body, facts, rewrite)
            body_out = {k: facts.pop(k) for k in changed if k in facts}
            facts.update(before)
            if decided is not None:
                facts[decided[0]] = ZERO if decided[1] else NONZERO
            orelse = self.block_in_place(s.orelse, facts, rewrite)
            else_out = {k: facts.pop(k) for k in changed if k in facts}
            facts.update(_merge(body_out, else_out))
            if rewrite:
                s.body = _block(body)
                s.orelse = orelse if any(not _is_comment(k) for k in orelse) else []
            return [s]
        if isinstance(s, (gast.For, gast.While)):
            found = self._stores.get(id(s))
            if found is None or found[0] is not s or found[2] is None:
                found = self._stores[id(s)] = (s, _stored([s]), _jumps(s.body))
            stored = found[1]
            if s.orelse or found[2]:
                head = {k: v for k, v in facts.items() if k not in stored}
            else:
                head = dict(facts)
                if isinstance(s, gast.For):
                    for name in _stored([s.target]):
                        head.pop(name, None)
                for _ in range(50):          # facts only get fewer: a fixed point soon
                    _, end = self.block(s.body, head, rewrite=False)
                    merged = _merge(head, end)
                    if merged == head:
                        break
                    head = merged
                else:
                    head = {k: v for k, v in facts.items() if k not in stored}
            body, _ = self.block(s.body, head, rewrite)
            if rewrite:
                s.body = _block(body)
            facts.clear()
            facts.update(head)
            return [s]
        for name in self.stores(s):
            facts.pop(name, None)
        return [s]

    def stores(self, s) -> Set[str]:
        """``_stored([s])`` of a statement, found once (``changeable`` and ``statement`` both ask
        it of a simple statement, which neither rewrites)."""
        found = self._stores.get(id(s))
        if found is None or found[0] is not s:
            found = self._stores[id(s)] = (s, _stored([s]), None)
        return found[1]


# --- adjoint blocks whose zero tests follow from an earlier one ---------------------------------

#: runtime adjoint functions whose result is never the zero marker ``rt.ZERO`` (a new array or number)
_NEW_RT = frozenset(("unbroadcast_product", "broadcast_product", "broadcast_op", "broadcast_negative",
                     "unit_product"))
#: ... and those whose result is their first argument where that is a zero (else a new array or a view)
_THROUGH_RT = frozenset(("unbroadcast", "broadcast_like", "negated_unbroadcast"))
_NO_MERGE = (gast.For, gast.While, gast.Try, gast.With, gast.AsyncFor, gast.AsyncWith, gast.FunctionDef,
             gast.AsyncFunctionDef, gast.ClassDef, gast.Global, gast.Nonlocal, gast.Break, gast.Continue)


def merge_zero_blocks(fn: gast.FunctionDef, rt_name: str, others=()) -> bool:
    """Second-level adjoint code tests each adjoint on its own: ``if a is not rt.ZERO: b = -a``,
    then (after tape pops and resets only) ``if b is not rt.ZERO: c = f(b)``.  Where ``b`` was
    ``rt.ZERO`` before the first block (its last store on the way there is ``b = rt.ZERO``) and
    the first block assigns it, once, a value that cannot be ``rt.ZERO`` (arithmetic, or a
    runtime adjoint function of such a value: ``sct.optimize.ZeroFacts`` reasons the same way),
    the second test is the first one's answer: the second block's statements run at the end of
    the first block instead (they read and write no name the statements between them change, and
    those are stores of names, tape pops and pushes: nothing runs in another order that can be
    seen).  The stores ``b = rt.ZERO`` left that nothing reads are then removed, so that the
    same-block rewrites (``fold_broadcast_factors``) reach the merged chain: a negation read once,
    a constant factor.  Functions with loops, ``try``, ``with``, nested functions or jumps are
    left as they are.  ``others``: the other generated functions (statements they hold too are
    not moved).  Returns whether it changed anything."""
    todo = list(fn.body)            # statements only (optimize_function has ruled out locals() and the like)
    while todo:
        node = todo.pop()
        if isinstance(node, _NO_MERGE):
            return False
        if isinstance(node, gast.If):
            todo.extend(node.body)
            todo.extend(node.orelse)
    zero_test = ZeroFacts(rt_name).zero_test
    params = {a.id for a in fn.args.args + fn.args.kwonlyargs + getattr(fn.args, "posonlyargs", [])}
    shared_ids: List = []

    def shared(node) -> bool:
        if not shared_ids:          # the statements of the other functions (statements hold no statements
            ids = set()             # but in these fields)
            todo = [f for f in others if isinstance(f, gast.FunctionDef) and f is not fn]
            while todo:
                n = todo.pop()
                ids.add(id(n))
                for field in ("body", "orelse", "finalbody", "handlers"):
                    inner = getattr(n, field, None)
                    if isinstance(inner, list):
                        todo.extend(inner)
            shared_ids.append(ids)
        return id(node) in shared_ids[0]

    def is_zero_store(s, name=None) -> bool:
        return isinstance(s, gast.Assign) and len(s.targets) == 1 and isinstance(s.targets[0], gast.Name) and \
            (name is None or s.targets[0].id == name) and _is_rt(s.value, rt_name, "ZERO")

    def nonzero(value, known: Set[str]) -> bool:
        if isinstance(value, gast.Name):
            return value.id in known
        if isinstance(value, gast.BinOp) or isinstance(value, gast.UnaryOp) and isinstance(value.op, gast.USub):
            return True         # arithmetic makes a new object
        if _rt_call(value, rt_name, *_NEW_RT):
            return True
        if _rt_call(value, rt_name, *_THROUGH_RT) and value.args and not value.keywords:
            return nonzero(value.args[0], known)
        return False

    def tape_op(s) -> bool:
        # name = tape.pop() / tape.append(name or rt.shape_proxy(name) or a constant)
        call = s.value if isinstance(s, (gast.Assign, gast.Expr)) else None
        if not (isinstance(call, gast.Call) and isinstance(call.func, gast.Attribute) and not call.keywords and
                isinstance(call.func.value, gast.Name) and call.func.value.id.startswith("tape")):
            return False
        if isinstance(s, gast.Assign):
            return call.func.attr == "pop" and not call.args and len(s.targets) == 1 and \
                isinstance(s.targets[0], gast.Name)
        if call.func.attr != "append" or len(call.args) != 1:
            return False
        arg = call.args[0]
        return isinstance(arg, (gast.Name, gast.Constant)) or _rt_call(arg, rt_name, "shape_proxy") and \
            len(arg.args) == 1 and isinstance(arg.args[0], gast.Name)

    def line_comment(s) -> bool:
        from .emit import COMMENT, LINE
        return _is_comment(s) and s.value.value.startswith(COMMENT + LINE)

    def trivial(s) -> bool:
        if _is_comment(s) or isinstance(s, gast.Pass) or tape_op(s):
            return True
        return isinstance(s, gast.Assign) and len(s.targets) == 1 and isinstance(s.targets[0], gast.Name) and \
            (isinstance(s.value, (gast.Name, gast.Constant)) or _is_rt(s.value, rt_name, "ZERO"))

    def calm(s) -> bool:
        # an assignment of arithmetic and runtime functions that change nothing
        if _is_comment(s):
            return True
        if not (isinstance(s, gast.Assign) and len(s.targets) == 1 and isinstance(s.targets[0], gast.Name)):
            return False
        for node in _walk_no_defs([s.value]):
            if isinstance(node, gast.Call) and not _rt_call(node, rt_name, *((_PLAIN_RT - _MUTATING_RT) | _NEW_RT |
                                                                          _THROUGH_RT)):
                return False
            if isinstance(node, (gast.NamedExpr, gast.Await, gast.Yield, gast.YieldFrom)):
                return False
            if isinstance(node, gast.Name) and node.id.startswith("tape"):
                return False
        return True

    def names(stmts, store: bool) -> Set[str]:
        if store:
            return _stored(stmts)
        return {n.id for n in _walk_no_defs(stmts) if isinstance(n, gast.Name) and isinstance(n.ctx, gast.Load)}

    # name -> whether its last store so far (in the order of the text: no loops here) is a statement
    # `name = rt.ZERO`, and the id of the list holding that statement (it dominates what follows in
    # that list and in the blocks nested there)
    last: Dict[str, Tuple[bool, int]] = {}

    def record(s, list_id: int) -> None:
        # (sct refuses the walrus operator: a statement's stores are its targets')
        if is_zero_store(s):
            last[s.targets[0].id] = (True, list_id)
        elif isinstance(s, (gast.Assign, gast.AugAssign, gast.AnnAssign, gast.Delete)):
            for target in (s.targets if isinstance(s, (gast.Assign, gast.Delete)) else [s.target]):
                if isinstance(target, gast.Name):
                    last[target.id] = (False, 0)
                else:
                    for name in _stored([target]):
                        last[name] = (False, 0)
        elif not isinstance(s, (gast.If, gast.Expr, gast.Return, gast.Pass, gast.Raise, gast.Assert)):
            for name in _stored([s]):
                last[name] = (False, 0)

    def zero_before(name: str, lists: Set[int]) -> bool:
        found = last.get(name)
        return found is not None and found[0] and found[1] in lists

    merged: Dict[str, gast.If] = {}     # name -> the block that now assigns it

    def visit(stmts: List, lists: Set[int]) -> None:
        lists = lists | {id(stmts)}
        i = 0
        while i < len(stmts):
            s = stmts[i]
            test = zero_test(s.test) if isinstance(s, gast.If) else None
            if test is not None and test[1] and not any(not _is_comment(k) for k in s.orelse) and not shared(s):
                merge_into(s, i, stmts, test, lists)
            record(s, id(stmts))
            if isinstance(s, gast.If):
                visit(s.body, lists)
                visit(s.orelse, lists)
            i += 1

    def merge_into(s, i: int, stmts: List, test, lists: Set[int]) -> None:
        """The later blocks whose test follows from s's, moved to the end of s's body (the names'
        last stores are those before s: ``last`` holds them)."""
        known = {test[0]}

        def learn(body):
            for b in body:
                if isinstance(b, gast.Assign) and len(b.targets) == 1 and isinstance(b.targets[0], gast.Name):
                    if nonzero(b.value, known):
                        known.add(b.targets[0].id)
                    else:
                        known.discard(b.targets[0].id)
                else:
                    known.difference_update(_stored([b]))
        learn(s.body)
        between: List = []
        mid: List = [set(), set(), 0]      # the names ``between`` stores and loads, and how many of it they count
        j = i + 1
        while j < len(stmts):
            u = stmts[j]
            t = zero_test(u.test) if isinstance(u, gast.If) else None
            if t is not None and t[1] and t[0] in known and not any(not _is_comment(k) for k in u.orelse) and \
                    not shared(u) and all(calm(b) for b in u.body) and \
                    (t[0] == test[0] or zero_before(t[0], lists)):
                if mid[2] < len(between):      # (each statement's names once: unions over statements)
                    rest = between[mid[2]:]
                    mid[0] |= names(rest, True)
                    mid[1] |= names(rest, False)
                    mid[2] = len(between)
                mid_w, mid_r = mid[0], mid[1]
                body_w, body_r = names(u.body, True), names(u.body, False)
                if not (mid_w & (body_w | body_r | {t[0]}) or mid_r & body_w):
                    # the comment giving the user's line of the moved statements goes with them
                    lead = [copy.deepcopy(c) for c in reversed(between) if line_comment(c)][:1]
                    s.body = [b for b in s.body if not isinstance(b, gast.Pass)] + lead + list(u.body)
                    learn(u.body)
                    if t[0] != test[0]:
                        merged[t[0]] = s
                    del stmts[j]
                    continue
            if not trivial(u):
                break
            between.append(u)
            j += 1

    visit(fn.body, set())
    del visit       # (recursive closures holding the functions: freed now, not by the cyclic collector)
    if not merged:
        return False
    # stores `b = rt.ZERO` of a merged name read only in its block after its one assignment there
    # (only the loads of the merged names are looked at: only theirs are kept)
    wanted = {name for name in merged if name not in params}
    loads: Dict[str, List] = {name: [] for name in wanted}
    Name, Store = gast.Name, gast.Store
    for node in (_nodes_no_defs(fn.body) if wanted else ()):
        if node.__class__ is Name and node.id in wanted and not isinstance(node.ctx, Store):
            loads[node.id].append(node)
    dead: Set[str] = set()
    places: Dict[int, Tuple] = {}      # id(block) -> (id(node) -> index of its statement, names stored there)
    for name, block in merged.items():
        if name in params:
            continue
        if id(block) not in places:
            at: Dict[int, int] = {}
            by: Dict[str, List[int]] = {}
            for k, b in enumerate(block.body):
                for n in _walk_no_defs([b]):
                    at[id(n)] = k
                    if isinstance(n, gast.Name) and isinstance(n.ctx, (gast.Store, gast.Del)):
                        by.setdefault(n.id, []).append(k)
            places[id(block)] = (at, by)
        at, by = places[id(block)]
        assigned = by.get(name, [])
        if len(assigned) != 1 or not isinstance(block.body[assigned[0]], gast.Assign):
            continue
        if all(at.get(id(n), -1) > assigned[0] for n in loads.get(name, [])):
            dead.add(name)

    def sweep(stmts: List) -> List:
        out = []
        for s in stmts:
            if is_zero_store(s) and s.targets[0].id in dead and not shared(s):
                continue
            if isinstance(s, gast.If):
                s.body = _block(sweep(s.body))
                s.orelse = sweep(s.orelse)
            out.append(s)
        return out

    if dead:
        fn.body = _block(sweep(fn.body))
    del sweep
    return True


# --- one buffer per sweep for index adjoints --------------------------------------------------

def accumulate_in_place(fn: gast.FunctionDef, rt_name: str, nodes: Optional[List] = None,
                        candidates: Optional[Set[str]] = None) -> bool:
    """``nodes``: ``_walk_no_defs(fn.body)``'s nodes where already walked; ``candidates``:
    ``_accumulated_names(fn.body, rt_name, set())`` where already found (that walk's).  Returns
    whether it rewrote anything."""
    body = fn.body
    final = body[-1] if body and isinstance(body[-1], gast.Return) else None
    params = {a.id for a in fn.args.args} | {a.id for a in fn.args.kwonlyargs}
    if fn.args.vararg is not None:
        params.add(fn.args.vararg.id)
    if fn.args.kwarg is not None:
        params.add(fn.args.kwarg.id)
    if not ((_accumulated_names(body, rt_name, params) if candidates is None else candidates - params)):
        return False        # (no name it could rewrite: the statements alone say so, no walk)
    stores: Dict[str, List] = {}
    bad: Set[str] = set(params)
    allowed_loads: Set[int] = set()
    names_and_defs: List = []       # for the check below, once every allowed load is known
    rewrote = False
    Name, Assign, Compare = gast.Name, gast.Assign, gast.Compare
    defs = (gast.FunctionDef, gast.ClassDef, gast.Lambda)
    for node in (_walk_no_defs(body) if nodes is None else nodes):
        cls = node.__class__        # (no gast node class is subclassed)
        if cls is Name or cls in defs:
            names_and_defs.append(node)
        elif cls is Assign and len(node.targets) == 1 and node.targets[0].__class__ is Name:
            target = node.targets[0].id
            value = node.value
            if _is_rt(value, rt_name, "ZERO") or _rt_call(value, rt_name, "index_adjoint"):
                stores.setdefault(target, []).append(None)
                allowed_loads.add(id(node.targets[0]))
                continue
            if isinstance(value, gast.BinOp) and isinstance(value.op, gast.Add) and \
                    _name(value.left) == target and _rt_call(value.right, rt_name, "index_adjoint") and \
                    len(value.right.args) == 3 and not value.right.keywords:
                stores.setdefault(target, []).append(node)
                allowed_loads.add(id(node.targets[0]))
                allowed_loads.add(id(value.left))
                continue
            bad.add(target)
        elif cls is Compare and len(node.ops) == 1 and \
                isinstance(node.ops[0], (gast.Is, gast.IsNot)) and isinstance(node.left, gast.Name) and \
                _is_rt(node.comparators[0], rt_name, "ZERO"):
            allowed_loads.add(id(node.left))
    if final is not None:
        for node in walk_nodes(final):
            if isinstance(node, gast.Name):
                allowed_loads.add(id(node))
    for node in names_and_defs:
        if isinstance(node, gast.Name) and id(node) not in allowed_loads:
            bad.add(node.id)
        elif isinstance(node, (gast.FunctionDef, gast.ClassDef, gast.Lambda)):
            bad |= {n.id for n in walk_nodes(node) if isinstance(n, gast.Name)}
    for name, nodes in stores.items():
        if name in bad:
            continue
        for node in nodes:
            if node is None:
                continue
            total, (grad, x, idx) = node.value.left, node.value.right.args
            node.value = gast.Call(func=gast.Attribute(value=gast.Name(id=rt_name, ctx=gast.Load(),
                                                                       annotation=None, type_comment=None),
                                                       attr="index_add", ctx=gast.Load()),
                                   args=[total, grad, x, idx], keywords=[])
            rewrote = True
    return rewrote


def _accumulated_names(body: List, rt_name: str, params: Set[str]) -> Set[str]:
    """The names ``accumulate_in_place`` could rewrite, from the statements alone (a tenth of the
    nodes): those with a statement ``t = t + rt.index_adjoint(g, x, idx)``, less the parameters
    and the names some other assignment ``t = ...`` stores (the walk below finds them bad too)."""
    found: Set[str] = set()
    other: Set[str] = set()
    for node in _statements_no_defs(body):
        if node.__class__ is gast.Assign:
            _accumulated_assign(node, rt_name, found, other)
    return found - other - params


def _accumulated_assign(node, rt_name: str, found: Set[str], other: Set[str]) -> None:
    """An assignment ``t = t + rt.index_adjoint(g, x, idx)``: ``t`` added to ``found``; any other
    ``t = ...`` but ``rt.ZERO`` and ``rt.index_adjoint(...)``: to ``other``."""
    targets = node.targets
    if len(targets) != 1 or targets[0].__class__ is not _Name:
        return
    target = targets[0].id
    value = node.value
    cls = value.__class__
    if cls is gast.BinOp:
        right = value.right
        if value.op.__class__ is gast.Add and value.left.__class__ is _Name and value.left.id == target and \
                _rt_call(right, rt_name, "index_adjoint") and len(right.args) == 3 and not right.keywords:
            found.add(target)
            return
    elif cls is _Attribute:
        if _is_rt(value, rt_name, "ZERO"):
            return
    elif cls is _Call:
        if _rt_call(value, rt_name, "index_adjoint"):
            return
    other.add(target)


# --- one call per index contribution to a container adjoint ------------------------------------

def index_contributions(fn: gast.FunctionDef, rt_name: str, nodes: Optional[List] = None) -> bool:
    """``rt.add_grad(d, rt.index_adjoint(g, x, idx))`` (a contribution of ``x[idx]`` to an adjoint
    that may be a container, e.g. a list read item by item) becomes ``rt.add_index_grad(d, g, x, idx)``:
    the same value, without the adjoint of the whole list built and added item by item.
    ``nodes``: the body's nodes (``contract_products``), None: walked here.  Whether it rewrote."""
    rewrote = False
    for node in (_walk_no_defs(fn.body) if nodes is None else nodes):
        if _rt_call(node, rt_name, "add_grad") and len(node.args) == 2 and not node.keywords:
            part = node.args[1]
            if _rt_call(part, rt_name, "index_adjoint") and len(part.args) == 3 and not part.keywords:
                node.func.attr = "add_index_grad"
                node.args = [node.args[0]] + list(part.args)
                rewrote = True
    return rewrote


# --- contraction instead of a product summed by unbroadcast ---------------------------------------

def contract_products(fn: gast.FunctionDef, rt_name: str, found: Optional[List] = None) -> List:
    """``rt.unbroadcast(a * b, like)`` (names) becomes ``rt.unbroadcast_product(a, b, like)``: one
    contraction, without the product's full-shape temporary where it is summed over.  Returns the
    body's nodes as ``_walk_no_defs`` meets them after the contractions (a call is contracted when
    the walk meets it, before it goes on to the call's children: the walk of the new tree).
    ``found`` (a list): extended by what the same walk finds for the passes after it, the
    attributes ``rt.f`` of the runtime called in these nodes (``f``, after the contractions),
    ``_accumulated_names(fn.body, rt_name, set())`` and the names ``dead_assignments`` finds read
    (``_loaded_names`` of these nodes) (a contraction changes no assignment
    ``_accumulated_names`` reads: it renames a call ``rt.unbroadcast``, its arguments met after it)."""
    nodes: List = []
    called: Set[str] = set()
    accumulated: Set[str] = set()
    other: Set[str] = set()
    loaded: Set[str] = set()
    append, add, read = nodes.append, called.add, loaded.add
    Call, Attribute, Name, Assign, Load, Del = _Call, _Attribute, _Name, gast.Assign, gast.Load, gast.Del
    defs = _LOADED_DEFS
    for node in _walk_no_defs(fn.body):
        append(node)
        cls = node.__class__
        if cls is Name:
            if node.ctx.__class__ is Load or node.ctx.__class__ is Del:
                read(node.id)
            continue
        if cls is not Call:
            if cls is Assign:
                _accumulated_assign(node, rt_name, accumulated, other)
            elif cls in defs:
                loaded |= {n.id for n in walk_nodes(node) if isinstance(n, gast.Name)}
            continue
        func = node.func        # (``_rt_call`` written out: most nodes are not calls)
        if func.__class__ is not Attribute or func.value.__class__ is not Name or func.value.id != rt_name:
            continue
        if func.attr == "unbroadcast" and len(node.args) == 2 and not node.keywords:
            product, like = node.args
            if isinstance(product, gast.BinOp) and isinstance(product.op, gast.Mult) and \
                    isinstance(product.left, gast.Name) and isinstance(product.right, gast.Name) and \
                    isinstance(like, gast.Name):
                node.func.attr = "unbroadcast_product"
                node.args = [product.left, product.right, like]
        add(func.attr)
    if found is not None:
        found.extend((called, accumulated - other, loaded))
    return nodes


#: the definitions whose every name ``dead_assignments`` counts as read
_LOADED_DEFS = (gast.FunctionDef, gast.ClassDef, gast.Lambda)


def _loaded_names(nodes) -> Set[str]:
    """The names ``dead_assignments`` keeps: those read or deleted among ``nodes``, and every name
    inside a definition among them."""
    loaded: Set[str] = set()
    Name, defs, Load, Del = gast.Name, _LOADED_DEFS, gast.Load, gast.Del
    for node in nodes:
        cls = node.__class__        # (no gast node class is subclassed)
        if cls is Name:
            if node.ctx.__class__ is Load or node.ctx.__class__ is Del:
                loaded.add(node.id)
        elif cls in defs:
            loaded |= {n.id for n in walk_nodes(node) if isinstance(n, gast.Name)}
    return loaded


# --- dead assignments ---------------------------------------------------------------------------

_PURE_RT = {"ZERO"}


def _pure(node, rt_name: str, bound=None) -> bool:
    """``bound``: the names known bound where ``node`` is read (``_BoundNames.at``); a name not
    among them may be unbound (was: ``t = y`` removed where reading ``y`` raises
    UnboundLocalError/NameError, opt53 F2)."""
    if isinstance(node, gast.Constant):
        return True
    if isinstance(node, gast.Name):
        return bound is not None and node.id in bound
    if _is_rt(node, rt_name, "ZERO"):
        return True
    if isinstance(node, gast.Tuple):
        return all(_pure(e, rt_name, bound) for e in node.elts)
    return False


class _BoundNames:
    """Which names are certainly bound before a statement runs: the parameters and the names a
    plain assignment in the same block or an enclosing one assigned before it (a conservative
    under-estimate: a branch's or loop's assignments count only inside it; a name deleted
    anywhere, never).  ``at(s)``: those names for statement ``s`` (a container: ``name in ...``).
    Kept as positions, not a set per statement (a long generated function has thousands)."""

    def __init__(self, fn):
        args = fn.args
        self.params = {a.id for a in args.args + args.posonlyargs + args.kwonlyargs}
        self.params |= {a.id for a in (args.vararg, args.kwarg) if a is not None}
        self.where: Dict[int, tuple] = {}            # id(statement) -> ((block, position), ...) to it
        self.binds: Dict[str, List[tuple]] = {}      # name -> the (block, position)s assigning it
        self.deleted: Set[str] = set()
        self.blocks = 0
        self.block(fn.body, ())

    def block(self, stmts, outer: tuple) -> None:
        self.blocks += 1
        here = self.blocks
        for i, s in enumerate(stmts):
            path = outer + ((here, i),)
            self.where[id(s)] = path
            for field in ("body", "orelse", "finalbody", "handlers"):
                inner = getattr(s, field, None)
                if isinstance(inner, list) and not isinstance(s, (gast.FunctionDef, gast.ClassDef)):
                    self.block(inner, path)
            if isinstance(s, gast.Delete):
                self.deleted |= {n.id for n in walk_nodes(s) if isinstance(n, gast.Name)}
            elif isinstance(s, (gast.Assign, gast.AugAssign)) or isinstance(s, gast.AnnAssign) and s.value is not None:
                for t in (s.targets if isinstance(s, gast.Assign) else [s.target]):
                    for n in walk_nodes(t):
                        if isinstance(n, gast.Name) and isinstance(n.ctx, gast.Store):
                            self.binds.setdefault(n.id, []).append((here, i))

    def at(self, s) -> "_BoundAt":
        return _BoundAt(self, dict(self.where.get(id(s), ())))


class _BoundAt:
    __slots__ = ("names", "path")

    def __init__(self, names: _BoundNames, path: Dict[int, int]):
        self.names, self.path = names, path

    def __contains__(self, name) -> bool:
        names, path = self.names, self.path
        if name in names.deleted:
            return False
        return name in names.params or any(path.get(b, -1) > i for b, i in names.binds.get(name, ()))


def dead_assignments(fn: gast.FunctionDef, rt_name: str, nodes: Optional[List] = None,
                     loaded: Optional[Set[str]] = None) -> bool:
    """``name = <constant, name, rt.ZERO>`` where ``name`` is never read in the function.
    ``nodes``: ``_walk_no_defs(fn.body)``'s nodes where already walked (the first round's);
    ``loaded``: ``_loaded_names(nodes)`` where already found (the first round's).
    Returns whether it removed any (a body left with comments only gets a ``pass``, and an
    ``else`` of comments only is dropped, as before: neither holds a name or a call)."""
    any_removed = False
    while True:
        if loaded is None:
            loaded = _loaded_names(_nodes_no_defs(fn.body) if nodes is None else nodes)
        removed = [False]
        bound: List = []        # _BoundNames(fn), found where a name's read is to be removed

        def known_bound(s):
            if not isinstance(s.value, (gast.Name, gast.Tuple)):
                return None
            if not bound:
                bound.append(_BoundNames(fn))
            return bound[0].at(s)

        def sweep(stmts):
            out = []
            for s in stmts:
                if isinstance(s, gast.Assign) and len(s.targets) == 1 and \
                        isinstance(s.targets[0], gast.Name) and s.targets[0].id not in loaded and \
                        _pure(s.value, rt_name, known_bound(s)):
                    removed[0] = True
                    continue
                for field in ("body", "orelse", "finalbody"):
                    inner = getattr(s, field, None)
                    if isinstance(inner, list) and inner and not isinstance(s, gast.FunctionDef):
                        kept = sweep(inner)
                        if field == "body" or (field == "finalbody" and kept):
                            kept = _block(kept)
                        elif field == "orelse" and kept and not any(not _is_comment(k) for k in kept):
                            kept = []
                        setattr(s, field, kept)
                out.append(s)
            return out

        fn.body = _block(sweep(fn.body))
        del sweep       # (a recursive closure holding the function: freed now, not by the cyclic collector)
        if not removed[0]:
            return any_removed
        any_removed = True
        nodes = loaded = None


# --- outputs nobody reads, and everything only they needed (generated code only) ---------------
#
# Used where sct runs its own generated code in a new way and knows which of its results the
# caller reads: the Hessian-vector product (sct/forward.py) forward-differentiates a gradient's
# forward and adjoint, and reads only the adjoint's tangent (not the gradient itself) and only
# the residuals' tangents that tangent reads.  ``keep`` says which parts of the returned value are
# read; the parts not read become ``None`` and ``prune_dead`` removes every computation that only
# they needed.  Only for sct's own generated code, whose operations on arrays have no effects.

#: Runtime helpers that read their arguments and change nothing (``index_add`` writes into its
#: first argument: it counts as an assignment of that name too).
_PURE_RT_CALLS = frozenset({
    "ZERO", "unbroadcast", "unbroadcast_product", "reduction_broadcast", "index_adjoint",
    "index_slice", "zero_adjoint", "adjoint_or_zeros", "add_grad", "getitem_or_zero", "getitem_of_adjoint",
    "item_adjoint", "copy_list", "index_add", "shape_proxy", "type_only", "add_index_grad", "index_added"})
#: numpy functions of arrays without effects (generated code calls them on arrays).
_PURE_NP_CALLS = frozenset({
    "sum", "mean", "exp", "log", "log1p", "expm1", "sin", "cos", "tan", "tanh", "sinh", "cosh",
    "sqrt", "square", "abs", "absolute", "negative", "multiply", "add", "subtract", "divide",
    "true_divide", "power", "maximum", "minimum", "conj", "conjugate", "real", "imag", "where",
    "ones_like", "zeros_like", "reshape", "transpose", "matmul", "dot", "broadcast_to", "sign",
    "reciprocal", "shape", "ndim", "size"})
_PURE_ATTRIBUTES = frozenset({"shape", "dtype", "ndim", "size", "T", "real", "imag"})


def keep_outputs(fn: gast.FunctionDef, keep, rt_name: str = "rt") -> None:
    """Replace the parts of ``fn``'s final ``return`` value that ``keep`` marks unread by ``None``.

    ``keep`` is True (all read), False (nothing read), "type" (only its type, dtype and shape are
    read: the part becomes ``rt.shape_proxy(part)``, for ``type_only_values``) or a tuple with one
    entry per item of a returned tuple.  A returned name is followed to its tuple display where it
    is assigned once and read nowhere else; where the structure is not that plain, the part is kept
    whole."""
    if keep is True or not fn.body or not isinstance(fn.body[-1], gast.Return) or fn.body[-1].value is None:
        return
    stores: Dict[str, int] = {}
    loads: Dict[str, int] = {}
    for node in _walk_no_defs(fn.body):
        if isinstance(node, gast.Name):
            table = loads if isinstance(node.ctx, gast.Load) else stores
            table[node.id] = table.get(node.id, 0) + 1
        elif isinstance(node, (gast.FunctionDef, gast.ClassDef, gast.Lambda)):
            return                                      # names read where we do not look
    params = {a.id for a in fn.args.args}
    displays = {}
    for s in fn.body:
        if isinstance(s, gast.Assign) and len(s.targets) == 1 and isinstance(s.targets[0], gast.Name) \
                and isinstance(s.value, gast.Tuple):
            displays[s.targets[0].id] = s.value

    def prune(node, spec):
        if spec is True:
            return node
        if spec is False or spec is None:
            return gast.Constant(value=None, kind=None)
        if spec == "type":
            return gast.Call(func=gast.Attribute(value=gast.Name(id=rt_name, ctx=gast.Load(), annotation=None,
                                                                 type_comment=None),
                                                 attr="shape_proxy", ctx=gast.Load()),
                             args=[node], keywords=[])
        display = node
        if isinstance(node, gast.Name):
            name = node.id
            if name in params or stores.get(name) != 1 or loads.get(name) != 1 or name not in displays:
                return node
            display = displays[name]
        if not isinstance(display, gast.Tuple) or len(display.elts) != len(spec) or \
                any(isinstance(e, gast.Starred) for e in display.elts):
            return node
        display.elts = [prune(e, s) for e, s in zip(display.elts, spec)]
        return node

    ret = fn.body[-1]
    ret.value = prune(ret.value, keep)


def _user_pure(node, rt_names: Set[str], bound) -> bool:
    """``_pure_expr`` for a statement of the user's code (the primal statements of a helper's
    forward, of the forward that sct.hvp differentiates again): only what can run no user code
    and raise nothing: constants, names known bound (``bound``), displays of such, ``is``
    comparisons and sct's own runtime helpers.  Was: ``_ = d["a"]`` (a defaultdict inserting a key,
    a user ``__getitem__``/``__lt__`` with an effect, ``y[7]`` raising IndexError, ``np.reshape``
    of the wrong size) removed as effect-free: gradients zero or off, exceptions gone (opt53 F1, F3)."""
    if node is None or isinstance(node, gast.Constant):
        return True
    if isinstance(node, gast.Name):
        return node.id in bound
    if isinstance(node, (gast.Tuple, gast.List)):
        return all(_user_pure(e, rt_names, bound) for e in node.elts)
    if isinstance(node, gast.Compare):
        return all(isinstance(op, (gast.Is, gast.IsNot)) for op in node.ops) and \
            all(_user_pure(v, rt_names, bound) for v in [node.left] + node.comparators)
    if isinstance(node, gast.Attribute):
        return isinstance(node.value, gast.Name) and node.value.id in rt_names and node.attr in _PURE_RT_CALLS
    if isinstance(node, gast.Call):
        func = node.func
        return isinstance(func, gast.Attribute) and isinstance(func.value, gast.Name) and \
            func.value.id in rt_names and func.attr in _PURE_RT_CALLS and \
            all(_user_pure(a, rt_names, bound) for a in node.args) and \
            all(_user_pure(k.value, rt_names, bound) for k in node.keywords)
    return False


def _pure_expr(node, rt_names: Set[str], np_name: str) -> bool:
    """Effect-free where sct generated ``node`` itself (adjoint and tangent code, on arrays)."""
    if node is None or isinstance(node, (gast.Constant, gast.Name)):
        return True
    if isinstance(node, (gast.Tuple, gast.List)):
        return all(_pure_expr(e, rt_names, np_name) for e in node.elts)
    if isinstance(node, gast.BinOp):
        return _pure_expr(node.left, rt_names, np_name) and _pure_expr(node.right, rt_names, np_name)
    if isinstance(node, gast.UnaryOp):
        return _pure_expr(node.operand, rt_names, np_name)
    if isinstance(node, gast.BoolOp):
        return all(_pure_expr(v, rt_names, np_name) for v in node.values)
    if isinstance(node, gast.Compare):
        return _pure_expr(node.left, rt_names, np_name) and \
            all(_pure_expr(c, rt_names, np_name) for c in node.comparators)
    if isinstance(node, gast.IfExp):
        return all(_pure_expr(v, rt_names, np_name) for v in (node.test, node.body, node.orelse))
    if isinstance(node, gast.Slice):
        return all(_pure_expr(v, rt_names, np_name) for v in (node.lower, node.upper, node.step))
    if isinstance(node, gast.Subscript):
        return _pure_expr(node.value, rt_names, np_name) and _pure_expr(node.slice, rt_names, np_name)
    if isinstance(node, gast.Attribute):
        if isinstance(node.value, gast.Name) and node.value.id in rt_names:
            return node.attr in _PURE_RT_CALLS
        return node.attr in _PURE_ATTRIBUTES and _pure_expr(node.value, rt_names, np_name)
    if isinstance(node, gast.Call):
        func = node.func
        if not (isinstance(func, gast.Attribute) and isinstance(func.value, gast.Name)):
            return False
        if func.value.id in rt_names:
            ok = func.attr in _PURE_RT_CALLS
        elif func.value.id == np_name:
            ok = func.attr in _PURE_NP_CALLS
        else:
            return False
        return ok and all(_pure_expr(a, rt_names, np_name) for a in node.args) and \
            all(_pure_expr(k.value, rt_names, np_name) for k in node.keywords)
    return False


def _defined(s, rt_names: Set[str]) -> Optional[Set[str]]:
    """The names a removable assignment defines (``index_add`` also writes its first argument),
    or None where the statement is not removable (an effect, a store into an object)."""
    if not isinstance(s, gast.Assign):
        return None
    names: Set[str] = set()
    for t in s.targets:
        if isinstance(t, gast.Name):
            names.add(t.id)
        elif isinstance(t, gast.Tuple) and all(isinstance(e, gast.Name) for e in t.elts):
            names |= {e.id for e in t.elts}
        else:
            return None
    value = s.value
    if isinstance(value, gast.Call) and isinstance(value.func, gast.Attribute) and \
            isinstance(value.func.value, gast.Name) and value.func.value.id in rt_names and \
            value.func.attr == "index_add":
        if not value.args or not isinstance(value.args[0], gast.Name):
            return None
        names.add(value.args[0].id)
    return names


def prune_dead(fn: gast.FunctionDef, rt_names: Set[str], np_name: str = "np", generated=frozenset()) -> None:
    """Remove the assignments of effect-free expressions whose names are not live after them
    (backward liveness through branches and loops, a fixed point at each loop; ``index_add``
    writes its first argument, so it stays while that is live).  Statements with effects,
    loops with ``break``/``continue``, ``try`` and ``with`` keep everything they read.
    ``generated``: names only sct's own statements assign (tangents), whose expressions on arrays
    have no effects (``_pure_expr``); any other statement is the user's (``_user_pure``); None:
    every statement is sct's own (sct.hvp's forward-mode code of an adjoint)."""
    if _has_scope_statements(fn) or any(isinstance(n, (gast.FunctionDef, gast.ClassDef, gast.Lambda))
                                        for n in _walk_no_defs(fn.body)):
        return
    body, _ = _DeadPruner(rt_names, np_name, generated, _BoundNames(fn)).block(fn.body, set(), True)
    fn.body = _block(body)


def _loads_of(node) -> Set[str]:
    return {n.id for n in walk_nodes(node) if isinstance(n, gast.Name) and isinstance(n.ctx, gast.Load)}


class _DeadPruner:
    """prune_dead's backward liveness over one function."""

    def __init__(self, rt_names: Set[str], np_name: str, generated=frozenset(), bound=None):
        self.rt_names = rt_names
        self.np_name = np_name
        self.generated = generated
        self.bound = bound

    def removable(self, s) -> Optional[Set[str]]:
        names = _defined(s, self.rt_names)
        if names is None:
            return None
        if self.generated is None or names <= self.generated:
            return names if _pure_expr(s.value, self.rt_names, self.np_name) else None
        return names if _user_pure(s.value, self.rt_names, self.bound.at(s) if self.bound is not None else ()) else None

    def block(self, stmts, live: Set[str], apply: bool):
        """(the statements kept, the names live before them) given those live after."""
        live = set(live)
        out = []
        for s in reversed(stmts):
            names = self.removable(s)
            if names is not None:
                if not names & live:
                    continue                        # nothing after reads what it defines
                strong = {t.id for t in s.targets if isinstance(t, gast.Name)} | \
                    {e.id for t in s.targets if isinstance(t, gast.Tuple) for e in t.elts}
                live = (live - strong) | _loads_of(s.value)
            elif isinstance(s, gast.Return):
                live = _loads_of(s)
            elif isinstance(s, gast.If):
                body, live_body = self.block(s.body, live, apply)
                orelse, live_else = self.block(s.orelse, live, apply)
                if apply:
                    s.body = _block(body)
                    s.orelse = orelse if any(not _is_comment(k) for k in orelse) else []
                live = live_body | live_else | _loads_of(s.test)
            elif isinstance(s, (gast.For, gast.While)) and not _jumps(s.body) and not s.orelse:
                live = self.loop(s, live, apply)
            else:                                   # effects, try, with, jumps: all it reads
                live = live | _loads_of(s)
            out.append(s)
        out.reverse()
        return out, live

    def loop(self, s, live: Set[str], apply: bool) -> Set[str]:
        """The names live at the head of loop ``s`` (a fixed point), given those live after it."""
        header = _loads_of(s.iter) if isinstance(s, gast.For) else _loads_of(s.test)
        killed = {n.id for n in walk_nodes(s.target) if isinstance(n, gast.Name)} \
            if isinstance(s, gast.For) else set()
        head = set(live) | header
        while True:                         # the names live at the loop's head
            _, inner = self.block(s.body, head, False)
            new = set(live) | header | (inner - killed)
            if new == head:
                break
            head = new
        if apply:
            body, _ = self.block(s.body, head, True)
            s.body = _block(body)
        return head


# --- values read only for their type, dtype and shape (generated code run by sct only) ----------

_TYPE_BINOPS = {gast.Add: "add", gast.Sub: "sub", gast.Mult: "mul", gast.Div: "div", gast.Pow: "pow"}
_TYPE_UNARY = {gast.USub: "neg", gast.UAdd: "pos"}
_TYPE_REDUCTIONS = ("sum", "mean")


def _type_operand(node) -> bool:
    return isinstance(node, gast.Name) or \
        isinstance(node, gast.Constant) and type(node.value) in (int, float, complex)


def _type_form(value, np_name: str) -> Optional[tuple]:
    """``(op, operands)`` where ``value`` is an arithmetic op or a whole-array sum/mean of names and
    numbers that ``rt.type_only`` can stand in for, else None."""
    if isinstance(value, gast.BinOp) and type(value.op) in _TYPE_BINOPS and \
            _type_operand(value.left) and _type_operand(value.right):
        return _TYPE_BINOPS[type(value.op)], [value.left, value.right]
    if isinstance(value, gast.UnaryOp) and type(value.op) in _TYPE_UNARY and isinstance(value.operand, gast.Name):
        return _TYPE_UNARY[type(value.op)], [value.operand]
    if isinstance(value, gast.Call) and isinstance(value.func, gast.Attribute) and \
            isinstance(value.func.value, gast.Name) and value.func.value.id == np_name and \
            value.func.attr in _TYPE_REDUCTIONS and len(value.args) == 1 and not value.keywords and \
            isinstance(value.args[0], gast.Name):
        return value.func.attr, [value.args[0]]
    return None


def type_only_values(fn: gast.FunctionDef, rt_names: Set[str], rt_name: str, np_name: str = "np") -> bool:
    """Names whose every read is ``rt.shape_proxy(name)`` (what an adjoint reads for shape and dtype
    only, or a result its caller reads only so: ``keep_outputs``'s "type") or an operand of such a
    name's own arithmetic: their arithmetic becomes ``rt.type_only(op, ...)``, which computes the
    result's dtype and shape, not its values (a zero-stride stand-in for an array).  Returns whether
    anything changed (``prune_dead`` then removes what only those values needed).  Names assigned
    otherwise than by one such ``name = expr`` anywhere, parameters, and functions with nested
    scopes are left alone."""
    if _has_scope_statements(fn) or any(isinstance(n, (gast.FunctionDef, gast.ClassDef, gast.Lambda))
                                        for n in _walk_no_defs(fn.body)):
        return False
    defs: Dict[str, List] = {}
    other_stores: Set[str] = {a.id for a in fn.args.args + fn.args.posonlyargs + fn.args.kwonlyargs}
    other_stores |= {a.id for a in (fn.args.vararg, fn.args.kwarg) if a is not None}
    for node in _walk_no_defs(fn.body):
        if isinstance(node, gast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], gast.Name) \
                and _type_form(node.value, np_name) is not None:
            defs.setdefault(node.targets[0].id, []).append(node)
    counted = {id(a.targets[0]) for nodes in defs.values() for a in nodes}
    for node in _walk_no_defs(fn.body):
        if isinstance(node, gast.Name) and not isinstance(node.ctx, gast.Load) and id(node) not in counted:
            other_stores.add(node.id)
    candidates = set(defs) - other_stores
    # each read of a name: the candidate whose definition reads it as an operand, "proxy" (the one
    # argument of rt.shape_proxy), or None (a read of its value)
    reads: List[tuple] = []
    operand_of: Dict[int, str] = {}
    for name, nodes in defs.items():
        for a in nodes:
            for operand in _type_form(a.value, np_name)[1]:
                operand_of[id(operand)] = name
    proxied: Set[int] = set()
    for node in _walk_no_defs(fn.body):
        if isinstance(node, gast.Call) and isinstance(node.func, gast.Attribute) and \
                isinstance(node.func.value, gast.Name) and node.func.value.id in rt_names and \
                node.func.attr == "shape_proxy" and len(node.args) == 1 and not node.keywords:
            proxied.add(id(node.args[0]))
    loads = [node for node in _walk_no_defs(fn.body) if isinstance(node, gast.Name) and isinstance(node.ctx, gast.Load)]
    # a node met twice is shared by two statements (tangent code reuses the primal's ``Name`` nodes:
    # ``a = n * m`` and ``dot_a = n * dot_m``): a read of its value at each (was: both counted as
    # operands of ``a``, so ``n`` became ``rt.type_only`` where the tangent reads its value, once
    # prune_dead kept a dead primal ``a``: H v wrong)
    seen: Set[int] = set()
    shared = {id(node) for node in loads if id(node) in seen or seen.add(id(node))}
    for node in loads:
        user = "proxy" if id(node) in proxied else operand_of.get(id(node))
        reads.append((node.id, None if id(node) in shared else user))
    while True:
        dropped = {name for name, user in reads if name in candidates and user != "proxy" and
                   (user is None or user not in candidates)}
        if not dropped:
            break
        candidates -= dropped
    if not candidates:
        return False
    rt_func = gast.Attribute(value=gast.Name(id=rt_name, ctx=gast.Load(), annotation=None, type_comment=None),
                             attr="type_only", ctx=gast.Load())
    for name in candidates:
        for a in defs[name]:
            op, operands = _type_form(a.value, np_name)
            a.value = gast.Call(func=copy.deepcopy(rt_func), args=[gast.Constant(value=op, kind=None)] + operands,
                                keywords=[])
    return True


# --- residuals the adjoint reads only for their shape -------------------------------------------

#: Runtime helpers and the positions of the arguments they read only for shape, dtype and type
#: (``rt.shape_proxy`` keeps exactly those of an array).
SHAPE_ARGUMENTS = {"unbroadcast": 1, "unbroadcast_product": 2, "reduction_broadcast": 1,
                    "zero_adjoint": 0, "adjoint_or_zeros": 1, "index_adjoint": 1, "index_add": 2, "add_index_grad": 2, "index_added": 2, "broadcast_like": 1,
                    "item_adjoint": 2, "reduction_times": 1, "reduction_times_like": 1, "last_writes": (0, 2), "written_index": (0, 2),
                    "concat_head": (1, 2), "concat_tail": (1, 2), "real_if_real": 1}
#: Arguments runtime helpers read only for their length (a list's or tuple's), by position: what a
#: tape keeps as ``rt.length_proxy(n)`` where every read of the popped ``n`` is one of these.
LENGTH_ARGUMENTS = {"list_head": 1, "list_tail": 1}


def shape_residuals(fwd: gast.FunctionDef, bwd: gast.FunctionDef, rt_name: str) -> None:
    """A helper's forward keeps, of a value its adjoint reads only for its shape, just that
    (``rt.shape_proxy``): in the residuals it returns and on the tape, so the array is freed once
    the forward is done with it (a per-iteration value in a loop is not kept once per iteration).

    The adjoint's first statement unpacks the residuals by position; a name is proxied where every
    read of it in the adjoint is an argument ``SHAPE_ARGUMENTS`` names.  Tape entries are pushed
    by name and popped into the same name (``tape.append(z)`` ... ``z = tape.pop()``)."""
    if not fwd.body or not bwd.body or not isinstance(fwd.body[-1], gast.Return):
        return
    # one walk of each body, read by every look below (the rewrites change no statement: the
    # residuals' names and the arguments pushed become calls, which hold none)
    fwd_nodes, bwd_nodes = _nodes_no_defs(fwd.body), _nodes_no_defs(bwd.body)
    stops = (gast.FunctionDef, gast.ClassDef, gast.Lambda, gast.Global, gast.Nonlocal)
    if any(isinstance(n, stops) for nodes in (fwd_nodes, bwd_nodes) for n in nodes):
        return
    found = _residuals_unpacked(fwd, bwd)
    if found is None:
        return
    residuals, unpacked = found
    shape_reads = _shape_reads(bwd, rt_name, bwd_nodes)
    other_reads: Set[str] = set()
    for node in bwd_nodes:
        if isinstance(node, gast.Name) and isinstance(node.ctx, gast.Load) and id(node) not in shape_reads:
            other_reads.add(node.id)
    params = {a.id for a in fwd.args.args}
    popped = _popped(bwd, bwd_nodes)
    shape_only = {n for n in unpacked if n not in other_reads and n not in params}
    residuals.elts = [_shape_proxy(rt_name, e.id) if isinstance(e, gast.Name) and e.id == u and u in shape_only
                      else e for e, u in zip(residuals.elts, unpacked)]
    # a popped name may also be read whole where it holds something else (the residual of the
    # same name, before the loop's adjoint): what each read may see is followed
    pops = [(node, _tape_pop(node)) for node in bwd_nodes]
    pop_targets = {id(node): pop[1] for node, pop in pops if pop is not None and pop[1] is not None and
                   popped.get(pop[1]) == pop[0].id}
    followed = _only_popped(bwd_nodes, set(popped.values()), rt_name)
    # a pushed name the adjoint reads only for its shape, else (of the rest) only for its length (a
    # list grown in a loop): pushed as its proxy
    proxy_of: Dict[str, str] = {}
    for table, proxy in ((SHAPE_ARGUMENTS, "shape_proxy"), (LENGTH_ARGUMENTS, "length_proxy")):
        if table is SHAPE_ARGUMENTS:
            reads, others = shape_reads, other_reads
        else:
            reads = _shape_reads(bwd, rt_name, bwd_nodes, table)
            others = {n.id for n in bwd_nodes if isinstance(n, gast.Name) and isinstance(n.ctx, gast.Load) and
                      id(n) not in reads}
        cache: Dict = {}
        for n in popped:
            if n not in params and n not in proxy_of and (n not in others or followed and _popped_read_shape_only(
                    bwd.body, n, pop_targets, reads, cache=cache)):
                proxy_of[n] = proxy
    for node in fwd_nodes:
        if isinstance(node, gast.Expr) and isinstance(node.value, gast.Call) and \
                isinstance(node.value.func, gast.Attribute) and node.value.func.attr == "append" and \
                isinstance(node.value.func.value, gast.Name) and len(node.value.args) == 1 and \
                not node.value.keywords and isinstance(node.value.args[0], gast.Name):
            name = node.value.args[0].id
            if name in proxy_of and popped.get(name) == node.value.func.value.id:
                node.value.args = [_shape_proxy(rt_name, name, proxy_of[name])]

_SWEEP_NAME = re.compile(r"_dlgradient_line\d+(_\d+)?$")


def unread_parameters(functions: List, rt_name: str, entries=()) -> None:
    """A dlgradient sweep (``loss_dlgradient_line9``) takes only the parameters it reads: one it
    never reads (its last reader rewritten away: a shape read of a value specialised to a Python
    float, an adjoint found zero) is dropped, with the argument of each call of it.  Only where
    every use of the sweep's name is a call by position (not passed as a value: ``rt.batch_jacobian``,
    ``rt.vjp``) in these functions, the argument dropped is a name (or its ``rt.shape_proxy``), and
    the sweep has plain parameters and reads no frame (``locals()``).  ``entries``: the names of the
    functions called from outside (the entry, a helper's forward and adjoint): left as they are."""
    named = {fn.name: fn for fn in functions if isinstance(fn, gast.FunctionDef)}
    sweeps = {name: fn for name, fn in named.items() if _SWEEP_NAME.search(name) and name not in entries}
    if not sweeps:
        return
    calls: Dict[str, List] = {name: [] for name in sweeps}
    names: List = []
    walked: Dict[str, List] = {}        # a sweep's walk, kept for its own test below
    holder: Dict[int, str] = {}         # id of each call of a sweep -> the function it is in
    for fn in named.values():
        nodes = list(walk_nodes(fn))
        if fn.name in sweeps:
            walked[fn.name] = nodes
        for node in nodes:
            if node.__class__ is _Call and node.func.__class__ is _Name and node.func.id in sweeps:
                calls[node.func.id].append(node)
                holder[id(node)] = fn.name
            elif node.__class__ is _Name and node.id in sweeps:
                names.append(node)
    callees = {id(c.func) for found in calls.values() for c in found}
    other = {n.id for n in names if id(n) not in callees}       # passed as a value, or rebound
    for name, sweep in sweeps.items():
        args = sweep.args
        if name in other or not calls[name] or args.vararg is not None or args.kwarg is not None or args.posonlyargs or \
                args.kwonlyargs or args.defaults:
            continue
        params = [a.id for a in args.args]
        if any(len(c.args) != len(params) or c.keywords or
               any(a.__class__ is gast.Starred for a in c.args) for c in calls[name]):
            continue
        nodes = walked.get(name)
        if nodes is None:       # (a call in it was changed since: walked again)
            nodes = list(walk_nodes(sweep))
        if any(n.__class__ in (gast.Global, gast.Nonlocal) for n in nodes):
            continue
        read = {n.id for n in nodes if n.__class__ is _Name and n.ctx.__class__ is not gast.Param}
        if read & set(_SCOPE_NAMES):        # (locals(), vars(), eval: the frame read)
            continue
        keep = [k for k, p in enumerate(params) if p in read or
                any(not _plain_argument(c.args[k], rt_name) for c in calls[name])]
        if len(keep) == len(params):
            continue
        args.args = [args.args[k] for k in keep]
        tree_changed(sweep)         # (inside sct.ir.shared_walks: walked again)
        for c in calls[name]:
            c.args = [c.args[k] for k in keep]
            walked.pop(holder[id(c)], None)
            tree_changed(named[holder[id(c)]])
        walked.pop(name, None)


def _plain_argument(node, rt_name: str) -> bool:
    """A name, ``rt.shape_proxy(name)`` or the tape's copy ``list(tape)``: an argument whose dropping
    runs nothing."""
    if node.__class__ is _Name:
        return True
    if node.__class__ is _Call and node.func.__class__ is _Name and node.func.id == "list" and \
            len(node.args) == 1 and not node.keywords and node.args[0].__class__ is _Name and \
            node.args[0].id.startswith("tape"):
        return True
    return _rt_call(node, rt_name, "shape_proxy") and len(node.args) == 1 and node.args[0].__class__ is _Name


def _only_popped(nodes: List, tapes: Set[str], rt_name: str) -> bool:
    """Whether every read of the tapes ``tapes`` among ``nodes`` (an adjoint's) is a pop whose value
    is a statement's (``m = tape.pop()``, ``tape.pop()``) or the copy ``tape = rt.copy_list(tape)``."""
    allowed: Set[int] = set()
    for node in nodes:
        pop = _tape_pop(node)
        if pop is not None:
            allowed.add(id(pop[0]))
        elif isinstance(node, gast.Assign) and _rt_call(node.value, rt_name, "copy_list") and len(node.value.args) == 1:
            allowed.add(id(node.value.args[0]))
    return not any(isinstance(n, gast.Name) and n.id in tapes and isinstance(n.ctx, gast.Load) and
                   id(n) not in allowed for n in nodes)


def _tape_push(node):
    """``(the tape's Name node, the pushed value)`` for a statement ``tape.append(value)``, else None."""
    if node.__class__ is gast.Expr and node.value.__class__ is gast.Call:
        call = node.value
        if call.func.__class__ is gast.Attribute and call.func.attr == "append" and \
                call.func.value.__class__ is gast.Name and len(call.args) == 1 and not call.keywords:
            return call.func.value, call.args[0]
    return None


def _is_tape_push(s) -> bool:
    """What ``shape_only_tapes`` pushes: ``tape....append(n)``."""
    push = _tape_push(s)
    return push is not None and push[0].id.startswith("tape") and isinstance(push[1], gast.Name)


def _tape_pop(node):
    """``(the tape's Name node, the name popped into or None)`` for a statement ``m = tape.pop()``
    or ``tape.pop()``, else None."""
    if node.__class__ is gast.Assign and len(node.targets) == 1 and node.targets[0].__class__ is gast.Name:
        target = node.targets[0].id
    elif node.__class__ is gast.Expr:
        target = None
    else:
        return None
    call = node.value
    if call.__class__ is gast.Call and call.func.__class__ is gast.Attribute and call.func.attr == "pop" and \
            call.func.value.__class__ is gast.Name and not call.args and not call.keywords:
        return call.func.value, target
    return None


def shape_only_tapes(functions: List, rt_name: str, scopes: Optional[Dict[int, bool]] = None) -> None:
    """A forward's tape entries whose popped values every sweep reads only for their shape and
    dtype are pushed as ``rt.shape_proxy(n)``: ``tape.append(traj)`` before each
    ``traj = rt.setitem(traj, t, s)`` of a loop no longer keeps one whole copy of ``traj`` per
    iteration (T copies of a T-row array: quadratic memory) where the adjoint reads only its
    shape (``rt.last_writes(traj, t, s)``).

    A forward ``F`` qualifies for a tape ``tape`` when every read of ``tape`` in it is a push
    ``tape.append(n)`` (a statement) or ``tape`` / ``list(tape)`` passed by position to a generated
    function ``S`` of ``functions`` (a sweep), and each such ``S`` reads its parameter there only
    in pops (``m = tape.pop()`` or a bare ``tape.pop()``).  A name ``n`` is proxied where, in every
    such ``S``, each read of ``n`` that may see a popped value (followed through ``S``'s blocks,
    branches and loops: a pop into ``n`` sets it, any other store of ``n`` clears it) is an argument
    ``SHAPE_ARGUMENTS`` names, and ``S`` pops no other name than those ``F`` pushes (tape entries
    are pushed by name and popped into the same name).  ``scopes``: ``_has_scope_statements`` of
    each function by id where already found."""
    named = {fn.name: fn for fn in functions if isinstance(fn, gast.FunctionDef)}
    scopes = {} if scopes is None else scopes
    stops = _SWEEP_STOPS + (gast.With,)
    for fn in named.values():
        if not fn.body or _scope_of(fn, scopes):
            continue
        if not any(_is_tape_push(s) for s in _statements_no_defs(fn.body)):
            continue            # (no push: nothing to do; the pushes are statements)
        nodes = _nodes_no_defs(fn.body)
        if any(isinstance(n, stops) for n in nodes):
            continue
        pushes: Dict[str, Dict[str, List]] = {}      # tape -> pushed name -> the append calls
        for s in nodes:
            push = _tape_push(s)
            if push is not None and push[0].id.startswith("tape") and isinstance(push[1], gast.Name):
                pushes.setdefault(push[0].id, {}).setdefault(push[1].id, []).append(s.value)
        for tape, by_name in pushes.items():
            consumers = _tape_consumers(nodes, fn, tape, named)
            if not consumers:
                continue
            # what every sweep reads only for its shape, then (of the rest) only for its length
            left = set(by_name)
            for table, proxy in ((SHAPE_ARGUMENTS, "shape_proxy"), (LENGTH_ARGUMENTS, "length_proxy")):
                proxied = set(left)
                for sweep, param in consumers:
                    proxied &= _shape_only_pops(sweep, param, set(by_name), rt_name, _scope_of(sweep, scopes),
                                                table)
                    if not proxied:
                        break
                for name in proxied:
                    for push in by_name[name]:
                        push.args = [_shape_proxy(rt_name, name, proxy)]
                left -= proxied


#: What the readers of a sweep (``_shape_only_pops``, ``shape_only_arguments``) do not follow.
_SWEEP_STOPS = (gast.FunctionDef, gast.AsyncFunctionDef, gast.ClassDef, gast.Lambda, gast.Global, gast.Nonlocal,
                gast.Try, gast.AsyncWith, gast.AsyncFor)


def _scope_of(fn, scopes: Dict[int, bool]) -> bool:
    """``_has_scope_statements(fn)``, found once per function (``scopes``: by id)."""
    found = scopes.get(id(fn))
    if found is None:
        found = scopes[id(fn)] = _has_scope_statements(fn)
    return found


def shape_only_arguments(functions: List, rt_name: str, scopes: Optional[Dict[int, bool]] = None) -> None:
    """A name a generated function passes by position to another one (a forward's call of its
    dlgradient sweep: ``loss_dlgradient_line9(W, acc, acc_item, ..., list(tape))``) is passed as
    ``rt.shape_proxy(n)`` where the callee reads that parameter only for shape and dtype wherever
    it may still hold the value passed (``_popped_read_shape_only`` from the top: a loop's last
    ``acc_item = acc[t]``, whose sweep pops the values it reads before reading them), so the
    forward no longer holds the array only for the call (a row's view then holds the whole array
    it was read from, and a write into that array must copy it).  Only names bound to a part of an
    array the same function writes into (``u = n[...]`` and ``n = rt.setitem(n, i, v)``): a proxy
    costs a call, and elsewhere it frees nothing a write is waiting for.  ``scopes``: as for
    ``shape_only_tapes``."""
    named = {fn.name: fn for fn in functions if isinstance(fn, gast.FunctionDef)}
    scopes = {} if scopes is None else scopes
    found: Dict[str, Optional[tuple]] = {}

    def callee(name: str):
        # (the callee's shape reads, verdicts per parameter, _popped_read_shape_only's cache), or
        # None where it is not followed here
        if name not in found:
            fn = named[name]
            nodes = _nodes_no_defs(fn.body)
            args = fn.args
            found[name] = None if _scope_of(fn, scopes) or any(isinstance(n, _SWEEP_STOPS) for n in nodes) or \
                args.vararg is not None \
                or args.kwarg is not None or args.posonlyargs or args.kwonlyargs or args.defaults \
                else (_shape_reads(fn, rt_name, nodes), {}, {})
        return found[name]

    for fn in named.values():
        # (the writes are statements: the whole walk only where there is one)
        written = {s.targets[0].id for s in _statements_no_defs(fn.body) if s.__class__ is gast.Assign and
                   len(s.targets) == 1 and
                   s.targets[0].__class__ is _Name and _rt_call(s.value, rt_name, "setitem") and s.value.args and
                   s.value.args[0].__class__ is _Name and s.value.args[0].id == s.targets[0].id}
        if not written:
            continue
        nodes = _nodes_no_defs(fn.body)
        parts = {s.targets[0].id for s in nodes if written and s.__class__ is gast.Assign and len(s.targets) == 1
                 and s.targets[0].__class__ is _Name and s.value.__class__ is gast.Subscript and
                 s.value.value.__class__ is _Name and s.value.value.id in written}
        if not parts:
            continue
        for node in nodes:
            if not (node.__class__ is _Call and node.func.__class__ is _Name and node.func.id in named and
                    node.func.id != fn.name and not node.keywords):
                continue
            sweep = named[node.func.id]
            facts = callee(sweep.name)
            if facts is None or len(node.args) != len(sweep.args.args):
                continue
            shape_ids, verdicts, cache = facts
            for k, arg in enumerate(node.args):
                if arg.__class__ is not _Name or arg.id not in parts:
                    continue
                param = sweep.args.args[k].id
                if param not in verdicts:
                    verdicts[param] = _popped_read_shape_only(sweep.body, param, {}, shape_ids, start=True,
                                                              cache=cache)
                if verdicts[param]:
                    node.args[k] = gast.copy_location(_shape_proxy(rt_name, arg.id), arg)


def _tape_consumers(nodes: List, fn: gast.FunctionDef, tape: str,
                    named: Dict[str, gast.FunctionDef]) -> Optional[List]:
    """[(sweep, its parameter's name)] for each passing of the tape ``tape`` by ``fn`` to a generated
    function, or None where ``fn`` reads ``tape`` otherwise than in those and in pushes
    ``tape.append(n)`` (``nodes``: ``_nodes_no_defs(fn.body)``)."""
    allowed: Set[int] = set()
    consumers: List = []
    for node in nodes:
        push = _tape_push(node)
        if push is not None and push[0].id == tape:
            allowed.add(id(push[0]))
        elif isinstance(node, gast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], gast.Name) \
                and node.targets[0].id == tape and isinstance(node.value, gast.List) and not node.value.elts:
            allowed.add(id(node.targets[0]))          # tape = []
        elif isinstance(node, gast.Call) and isinstance(node.func, gast.Name) and node.func.id in named:
            for k, arg in enumerate(node.args):
                inner = arg
                if isinstance(arg, gast.Call) and isinstance(arg.func, gast.Name) and arg.func.id == "list" and \
                        len(arg.args) == 1 and not arg.keywords:
                    inner = arg.args[0]
                if isinstance(inner, gast.Name) and inner.id == tape:
                    sweep = named[node.func.id]
                    if sweep is fn or sweep.args.vararg is not None or k >= len(sweep.args.args):
                        return None
                    allowed.add(id(inner))
                    consumers.append((sweep, sweep.args.args[k].id))
    for node in nodes:
        if isinstance(node, gast.Name) and node.id == tape and id(node) not in allowed:
            return None
    return consumers


def _shape_only_pops(sweep: gast.FunctionDef, tape: str, pushed: Set[str], rt_name: str,
                     scope: bool, table: Optional[Dict] = None) -> Set[str]:
    """The names of ``pushed`` whose popped values ``sweep`` reads only for shape and dtype (see
    shape_only_tapes); the empty set where ``sweep`` uses its tape ``tape`` otherwise than in pops,
    pops a name not in ``pushed``, or holds what is not followed here (``scope``: it has scope
    statements, ``_has_scope_statements``).  ``table``: the reads allowed (``_shape_reads``)."""
    nodes = _nodes_no_defs(sweep.body)
    if scope or any(isinstance(n, _SWEEP_STOPS) for n in nodes):
        return set()
    pop_targets: Dict[int, str] = {}        # id of a statement ``m = tape.pop()`` -> m
    allowed: Set[int] = set()
    for node in nodes:
        pop = _tape_pop(node)
        if pop is not None and pop[0].id == tape:
            if pop[1] is not None:
                if pop[1] not in pushed:
                    return set()
                pop_targets[id(node)] = pop[1]
            allowed.add(id(pop[0]))
    if any(isinstance(n, gast.Name) and n.id == tape and id(n) not in allowed for n in nodes):
        return set()
    shape_ids = _shape_reads(sweep, rt_name, nodes, table)
    candidates = set(pop_targets.values())
    out: Set[str] = set()
    cache: Dict = {}
    for name in candidates:
        if _popped_read_shape_only(sweep.body, name, pop_targets, shape_ids, cache=cache):
            out.add(name)
    return out


def _popped_read_shape_only(body: List, name: str, pop_targets: Dict[int, str], shape_ids: Set[int],
                            start: bool = False, cache: Optional[Dict] = None) -> bool:
    """Whether each read of ``name`` in ``body`` that may see a value popped into it is in ``shape_ids``
    (:func:`_popped_reads_shape_only`).  ``cache``: a dict shared by the calls for several names of one
    body with the same ``pop_targets`` and ``shape_ids``: the first call finds the verdicts of every name
    popped there at once (a walk of the whole body per name was quadratic in a long sweep: 40 % of the
    compile time of a jvp of a written-out MAML)."""
    cache = {} if cache is None else cache
    universe, verdicts = cache.get(("verdicts", start), (frozenset(), frozenset()))
    if name not in universe:
        universe = universe | frozenset(pop_targets.values()) | {name}
        verdicts = _popped_reads_shape_only(body, universe, pop_targets, shape_ids, start, cache)
        cache[("verdicts", start)] = (universe, verdicts)
    return name in verdicts


def _popped_reads_shape_only(body: List, names: frozenset, pop_targets: Dict[int, str], shape_ids: Set[int],
                             start: bool = False, cache: Optional[Dict] = None) -> frozenset:
    """The names of ``names`` each read of which in ``body`` that may see a value popped into it is in
    ``shape_ids`` (the state "may hold a popped value", a set of names, followed through the blocks: a
    name enters it at a pop into it, leaves it at any other store of it; a loop's head joins its entry
    and its body's end, and a name popped in a loop's body may hold one anywhere after).  ``start``: the
    state at the top of ``body`` (every name, with no pops: the reads that may see a parameter's
    value).  ``cache``: see :func:`_popped_read_shape_only` (what each statement reads, stores and
    pops, found once)."""
    Name, Load = gast.Name, gast.Load
    cache = {} if cache is None else cache
    unsure: Set[str] = set()

    class Unknown(Exception):
        pass

    def value_reads(node) -> frozenset:
        key = ("v", id(node))
        found = cache.get(key)
        if found is None:
            found = cache[key] = frozenset(n.id for n in _walk_no_defs([node]) if n.__class__ is Name and
                                           isinstance(n.ctx, Load) and id(n) not in shape_ids)
        return found

    def check(node, popped: frozenset) -> None:
        if popped:
            unsure.update(popped & value_reads(node))

    def pops_in(loop) -> frozenset:
        key = ("p", id(loop))
        found = cache.get(key)
        if found is None:
            found = cache[key] = frozenset(pop_targets[id(n)] for n in _walk_no_defs(loop.body)
                                           if id(n) in pop_targets)
        return found

    def stored(s) -> frozenset:
        key = ("s", id(s))
        found = cache.get(key)
        if found is None:
            found = cache[key] = frozenset(_stored([s]))
        return found

    def block(stmts, popped: frozenset) -> frozenset:
        for s in stmts:
            if isinstance(s, gast.If):
                check(s.test, popped)
                popped = block(s.body, popped) | block(s.orelse, popped)
            elif isinstance(s, (gast.For, gast.While)):
                if isinstance(s, gast.For):
                    check(s.iter, popped)
                    unsure.update(names & frozenset(_stored([s.target])))
                head = popped | (pops_in(s) & names)
                if isinstance(s, gast.While):
                    check(s.test, head)
                end = block(s.body, head)
                if end - head:
                    head = head | end
                    if isinstance(s, gast.While):
                        check(s.test, head)         # (the test runs again after the body)
                    block(s.body, head)
                popped = block(s.orelse, head) | head
            elif isinstance(s, gast.With):
                for item in s.items:
                    check(item, popped)
                popped = block(s.body, popped)
            elif id(s) in pop_targets:
                target = pop_targets[id(s)]
                others = popped - {target}
                check(s, others)
                popped = (others - stored(s)) | (names & {target})
            elif any(isinstance(getattr(s, f, None), list) for f in ("body", "orelse", "handlers", "finalbody")):
                raise Unknown           # a compound statement not followed here
            else:
                check(s, popped)
                popped = popped - stored(s)
        return popped

    try:
        block(body, frozenset(names) if start else frozenset())
    except Unknown:
        return frozenset()
    return frozenset(names) - unsure


def _residuals_unpacked(fwd: gast.FunctionDef, bwd: gast.FunctionDef):
    """(the tuple of residuals ``fwd`` returns, the names ``bwd``'s first statement unpacks them
    into), or None where the two are not of that form."""
    residual_param = bwd.args.args[0].id if bwd.args.args else None
    unpack = next((s for s in bwd.body if not _is_comment(s)), None)
    if not (isinstance(unpack, gast.Assign) and len(unpack.targets) == 1 and
            isinstance(unpack.targets[0], gast.Tuple) and _name(unpack.value) == residual_param and
            all(isinstance(e, gast.Name) for e in unpack.targets[0].elts)):
        return None
    unpacked = [e.id for e in unpack.targets[0].elts]
    ret = fwd.body[-1].value
    if not (isinstance(ret, gast.Tuple) and len(ret.elts) == 2 and isinstance(ret.elts[1], gast.Tuple) and
            len(ret.elts[1].elts) == len(unpacked)):
        return None
    return ret.elts[1], unpacked


def _shape_reads(bwd: gast.FunctionDef, rt_name: str, nodes: Optional[List] = None,
                 table: Optional[Dict] = None) -> Set[int]:
    """The ids of the Name nodes ``bwd`` passes where a runtime helper reads only the shape
    (``nodes``: ``_nodes_no_defs(bwd.body)`` where already walked; ``table``: the arguments read
    so, SHAPE_ARGUMENTS unless given)."""
    shape_reads: Set[int] = set()
    table = SHAPE_ARGUMENTS if table is None else table
    for node in (_walk_no_defs(bwd.body) if nodes is None else nodes):
        if isinstance(node, gast.Call) and isinstance(node.func, gast.Attribute) and \
                isinstance(node.func.value, gast.Name) and node.func.value.id in (rt_name, "rt"):
            positions = table.get(node.func.attr)
            for position in (positions,) if isinstance(positions, int) else positions or ():
                if len(node.args) > position and isinstance(node.args[position], gast.Name):
                    shape_reads.add(id(node.args[position]))
    return shape_reads


def _popped(bwd: gast.FunctionDef, nodes: Optional[List] = None) -> Dict[str, str]:
    """name -> the tape it is popped from (``name = tape.pop()`` in ``bwd``; ``nodes``:
    ``_nodes_no_defs(bwd.body)`` where already walked)."""
    popped: Dict[str, str] = {}
    for node in (_walk_no_defs(bwd.body) if nodes is None else nodes):
        if isinstance(node, gast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], gast.Name) \
                and isinstance(node.value, gast.Call) and isinstance(node.value.func, gast.Attribute) and \
                node.value.func.attr == "pop" and isinstance(node.value.func.value, gast.Name) and \
                not node.value.args:
            popped[node.targets[0].id] = node.value.func.value.id
    return popped


def _shape_proxy(rt_name: str, name: str, proxy: str = "shape_proxy"):
    """``rt.shape_proxy(name)`` (or another ``proxy``: ``rt.length_proxy(name)``)."""
    return gast.Call(func=gast.Attribute(value=gast.Name(id=rt_name, ctx=gast.Load(), annotation=None,
                                                         type_comment=None),
                                         attr=proxy, ctx=gast.Load()),
                     args=[gast.Name(id=name, ctx=gast.Load(), annotation=None, type_comment=None)],
                     keywords=[])


# --- temporaries overwritten in place ----------------------------------------------------------

_INTO_OPS = {gast.Add: "add", gast.Sub: "sub", gast.Mult: "mul", gast.Div: "div"}


def reuse_temporaries(fn: gast.FunctionDef, rt_name: str, shared: Set[int] = frozenset()) -> None:
    """``u = t * b`` where ``t`` is a temporary (assigned by arithmetic earlier in the same block and
    not stored again since) read nowhere else becomes ``u = rt.into_temporary("mul", t, b, 0)``: the
    product is written into ``t``'s buffer where the run finds it an array of the result's shape and
    dtype that no other name, view or container holds (a value of arithmetic on arrays is a fresh
    array; ``into_temporary`` checks its reference count as well).  Reads of ``t`` inside
    ``rt.shape_proxy(t)`` do not count (they keep its shape and dtype only, which an op written into
    ``t`` keeps).  Code read back to be differentiated again has these calls expanded back
    (``expand_in_place``).  ``shared``: ids of statements another generated function holds too
    (left as they are)."""
    loads: Dict[str, int] = {}
    proxied: Set[int] = set()
    proxied_names: Set[str] = set()
    names = []
    # the names each simple statement of the body reads (``reads``), from this walk: id -> (it, reads)
    top_reads: Dict[int, tuple] = {}
    # ids of the statements of the body holding (at any depth) an ``a <op> b`` (op: + - * /) with an
    # operand computed inline by arithmetic: only there can ``inline`` write into an operand (a call it
    # writes replaces such a sum; the sum holding it held that sum, so held the form already)
    inline_tops: Set[int] = set()
    Name, Call, BinOp, UnaryOp, USub, Pow = gast.Name, gast.Call, gast.BinOp, gast.UnaryOp, gast.USub, gast.Pow
    stops = (gast.FunctionDef, gast.ClassDef, gast.Lambda, gast.Global, gast.Nonlocal)

    def computed(node) -> bool:     # (``fresh`` below, before any call is written)
        cls = node.__class__
        return cls is BinOp and (type(node.op) in _INTO_OPS or node.op.__class__ is Pow) or \
            cls is UnaryOp and node.op.__class__ is USub

    for top in fn.body:
        first = len(names)
        inline_here = False
        for node in _walk_no_defs([top]):
            cls = node.__class__        # (no gast node class is subclassed)
            if cls is Name:
                names.append(node)
            elif cls is Call:
                if _rt_call(node, rt_name, "shape_proxy") and len(node.args) == 1 and \
                        node.args[0].__class__ is Name:
                    proxied.add(id(node.args[0]))       # (met before the name: its parent)
                    proxied_names.add(node.args[0].id)
            elif cls is BinOp:
                if not inline_here and type(node.op) in _INTO_OPS and (computed(node.left) or computed(node.right)):
                    inline_here = True
            elif cls in stops:
                return
            elif cls is gast.AsyncFunctionDef:
                inline_here = True          # (not walked into: its statements as they were)
        if inline_here:
            inline_tops.add(id(top))
        if not any(isinstance(getattr(top, field, None), list) for field in ("body", "orelse", "finalbody",
                                                                               "handlers")):
            got: Dict[str, int] = {}
            for k in range(first, len(names)):
                node = names[k]
                if not isinstance(node.ctx, gast.Store) and id(node) not in proxied:
                    got[node.id] = got.get(node.id, 0) + 1
            top_reads[id(top)] = (top, got)
    for node in names:
        if not isinstance(node.ctx, gast.Store) and id(node) not in proxied:
            if node.id in _SCOPE_NAMES:
                return
            loads[node.id] = loads.get(node.id, 0) + 1
    params = {a.id for a in fn.args.args}

    def arithmetic(value) -> bool:
        return isinstance(value, gast.BinOp) and (type(value.op) in _INTO_OPS or isinstance(value.op, gast.Pow)) or \
            isinstance(value, gast.UnaryOp) and isinstance(value.op, gast.USub) or \
            _rt_call(value, rt_name, "into_temporary", "negative_into", "broadcast_product", "unit_product")

    def rt_attr(attr):
        return gast.Attribute(value=gast.Name(id=rt_name, ctx=gast.Load(), annotation=None, type_comment=None),
                              attr=attr, ctx=gast.Load())

    def reads(s) -> Dict[str, int]:
        found = top_reads.get(id(s))
        if found is not None and found[0] is s:     # a simple statement of the body, not changed since
            return found[1]
        out: Dict[str, int] = {}
        for node in _walk_no_defs([s]):
            if isinstance(node, gast.Name) and not isinstance(node.ctx, gast.Store) and id(node) not in proxied:
                out[node.id] = out.get(node.id, 0) + 1
        return out

    made: Set[int] = set()      # the into_temporary calls ``inline`` wrote (fresh values too)

    def fresh(node) -> bool:
        # an operand computed inline by arithmetic: a new array (where it is one) that no name,
        # view or container holds, so an op reading it may write into it (into_temporary checks the
        # reference count too)
        return isinstance(node, gast.BinOp) and (type(node.op) in _INTO_OPS or isinstance(node.op, gast.Pow)) or \
            isinstance(node, gast.UnaryOp) and isinstance(node.op, gast.USub) or id(node) in made

    def into(node, side):
        call = gast.Call(func=rt_attr("into_temporary"),
                         args=[gast.Constant(value=_INTO_OPS[type(node.op)], kind=None), node.left, node.right,
                               gast.Constant(value=side, kind=None)], keywords=[])
        made.add(id(call))
        return gast.copy_location(call, node)

    def inline(node):
        """``node`` with each ``a <op> b`` inside it (op: + - * /) whose operand is computed inline by
        arithmetic (``d / (1 + p)``, ``g - u * (2 * x)``) written into that operand's buffer: one
        array fewer, the same ufunc on the same operands (the same numbers).  Not into lambdas or
        comprehensions (``reuse_temporaries`` stops at the first; the second: their own scope)."""
        if isinstance(node, (gast.Lambda, gast.ListComp, gast.SetComp, gast.DictComp, gast.GeneratorExp)):
            return node
        # (the children in gast.iter_fields' order, less the context and operator leaves, which
        # inline returns as they are)
        rewrite_children(node, inline)
        if isinstance(node, gast.BinOp) and type(node.op) in _INTO_OPS and (fresh(node.left) or fresh(node.right)):
            return into(node, 0 if fresh(node.left) else 1)
        return node

    def block(stmts, top_inline=None):
        # temps: names assigned by arithmetic earlier in this block, neither read nor stored since
        # (top_inline: whether the statement of the body holding these may have a sum ``inline`` rewrites)
        temps: Set[str] = set()
        released: List[Tuple[int, gast.stmt, str]] = []
        for position, s in enumerate(stmts):
            may_inline = id(s) in inline_tops if top_inline is None else top_inline
            for field in ("body", "orelse", "finalbody"):
                inner = getattr(s, field, None)
                if isinstance(inner, list):
                    block(inner, may_inline)
            here = reads(s) if temps else {}       # (nothing to invalidate: no walk)
            if not (isinstance(s, gast.Assign) and len(s.targets) == 1 and isinstance(s.targets[0], gast.Name)):
                if temps:
                    temps -= _stored([s]) | set(here)
                continue
            value = s.value
            target = s.targets[0].id

            def free(node) -> bool:
                # read nowhere else in the function, or read once here by a statement that stores
                # the name again (its old value is dead after it)
                return isinstance(node, gast.Name) and node.id in temps and node.id not in params and \
                    (loads.get(node.id) == 1 or (node.id == target and here.get(node.id) == 1))
            if id(s) in shared:
                pass
            elif isinstance(value, gast.BinOp) and type(value.op) in _INTO_OPS:
                if may_inline:
                    value.left, value.right = inline(value.left), inline(value.right)
                side = 0 if free(value.left) else 1 if free(value.right) else None
                if side is None and (fresh(value.left) or fresh(value.right)):
                    s.value = into(value, 0 if fresh(value.left) else 1)
                if side is not None and not (isinstance(value.left, gast.Name) and isinstance(value.right, gast.Name)
                                             and value.left.id == value.right.id):
                    s.value = gast.Call(func=rt_attr("into_temporary"),
                                        args=[gast.Constant(value=_INTO_OPS[type(value.op)], kind=None),
                                              value.left, value.right, gast.Constant(value=side, kind=None)],
                                        keywords=[])
                    used = (value.right if side else value.left).id
                    if used != target:
                        released.append((position, s, used))
            elif isinstance(value, gast.UnaryOp) and isinstance(value.op, gast.USub) and free(value.operand):
                s.value = gast.Call(func=rt_attr("negative_into"), args=[value.operand], keywords=[])
                if value.operand.id != target:
                    released.append((position, s, value.operand.id))
            elif may_inline:
                s.value = inline(value)
            temps -= set(here)
            temps.discard(target)
            if arithmetic(s.value):
                temps.add(target)
        # the temporary written in place is released at once (``del t``, a dead name; where its shape
        # is read later, ``t = rt.shape_proxy(t)``, which keeps its shape and dtype only): its buffer,
        # now the result's, is held by one name only, so a later op can be written into it too
        # (into_temporary's reference count would otherwise see the second name and copy)
        for position, s, name in reversed(released):
            if name in proxied_names:
                release = gast.Assign(
                    targets=[gast.Name(id=name, ctx=gast.Store(), annotation=None, type_comment=None)],
                    value=gast.Call(func=rt_attr("shape_proxy"), keywords=[], args=[
                        gast.Name(id=name, ctx=gast.Load(), annotation=None, type_comment=None)]),
                    type_comment=None)
            else:
                release = gast.Delete(targets=[gast.Name(id=name, ctx=gast.Del(), annotation=None, type_comment=None)])
            stmts.insert(position + 1, gast.copy_location(release, s))

    block(fn.body)
    del block       # (a recursive closure holding the function: freed now, not by the cyclic collector)


def _is_view_index(index) -> bool:
    """An index of basic slicing over several axes that keeps or adds one: a slice or ``None`` in a
    tuple of two or more (``X[:, i:j, k:m, :]``, ``s[None, :]``), or ``None`` alone (``x[None]``).
    A one-axis slice (``x[1:]``, a vector's shift) is left alone: the wide forms need two axes."""
    if not isinstance(index, gast.Tuple):
        return isinstance(index, gast.Constant) and index.value is None
    return len(index.elts) >= 2 and any(isinstance(p, gast.Slice) or isinstance(p, gast.Constant) and p.value is None
                                        for p in index.elts)


def wide_products(fn: gast.FunctionDef, rt_name: str, shared: Set[int] = frozenset(),
                  nodes: Optional[BodyNodes] = None) -> bool:
    """``t = a * b`` where ``a`` or ``b`` is a name assigned (anywhere in ``fn``) a view of an array
    by basic slicing over several axes (``X[:, i:j, k:m, :]``, ``x[:, None]``: the operands of outer products and
    of convolutions written with shifted slices) becomes ``t = rt.broadcast_mul(a, b)``: the same
    product, computed with long inner loops where one operand has a last axis of length 1 and the
    other is a short vector along it (``broadcast_mul``); any other operands, the plain product.
    Code read back to be differentiated again has it expanded back (``expand_in_place``).
    ``shared``: ids of statements another generated function holds too (left as they are).
    ``nodes``: the body's walk, shared (``BodyNodes``).  Returns whether it changed a node."""
    if not any(s.__class__ is gast.Assign and len(s.targets) == 1 and isinstance(s.targets[0], gast.Name) and
               isinstance(s.value, gast.Subscript) and _is_view_index(s.value.slice)
               for s in _statements_no_defs(fn.body)):
        return False        # (no view: nothing to do; the views are statements)
    views: Set[str] = set()
    products = []
    changed = False
    for node in (_walk_no_defs(fn.body) if nodes is None else nodes.get()):
        cls = node.__class__
        if cls is gast.Assign and len(node.targets) == 1 and isinstance(node.targets[0], gast.Name):
            value = node.value
            if isinstance(value, gast.Subscript) and _is_view_index(value.slice):
                views.add(node.targets[0].id)
            elif isinstance(value, gast.BinOp) and isinstance(value.op, gast.Mult) and \
                    isinstance(value.left, gast.Name) and isinstance(value.right, gast.Name) and id(node) not in shared:
                products.append(node)
        elif cls in (gast.FunctionDef, gast.ClassDef, gast.Lambda, gast.Global, gast.Nonlocal):
            return False
    for node in products:
        value = node.value
        if value.left.id in views or value.right.id in views:
            changed = True
            call = gast.Call(func=gast.Attribute(value=gast.Name(id=rt_name, ctx=gast.Load(), annotation=None,
                                                                 type_comment=None),
                                                 attr="broadcast_mul", ctx=gast.Load()),
                             args=[value.left, value.right], keywords=[])
            node.value = gast.copy_location(call, value)
    return changed


def shared_statements(functions) -> Set[int]:
    """Ids of the assignments and calls (what the rewrites below change) that more than one
    generated function holds."""
    seen: Dict[int, int] = {}
    Assign, Call = gast.Assign, gast.Call
    for fn in functions:
        if isinstance(fn, gast.FunctionDef):
            for node in {id(n) for n in walk_nodes(fn) if n.__class__ is Assign or n.__class__ is Call}:
                seen[node] = seen.get(node, 0) + 1
    return {k for k, v in seen.items() if v > 1}


# --- the result of an op written straight into a slice adjoint's buffer --------------------------

def direct_index_adjoints(fn: gast.FunctionDef, rt_name: str, shared: Set[int] = frozenset()) -> bool:
    """``t = a + b`` directly followed by ``d = rt.index_adjoint(t, x, idx)`` (or after at most four
    ``i = rt.index_slice(...)`` or pushes on a sweep's tape), at the top level of the function or in a branch (no loop around
    them), ``t`` read nowhere else: one statement
    ``d = rt.index_adjoint_op("add", a, b, x, idx)``, which writes the sum straight into the slice of
    the new buffer (one pass fewer).  ``a`` and ``b`` are evaluated where the sum was, nothing runs in
    between, and no later statement reads ``t``, so only speed changes.  Returns False where its walk
    met the whole function and no ``matmul_adjoint_a``/``_b`` in it (``direct_matmul_adjoints`` has
    nothing to do: this rewrite only moves the operands of a sum it removes), else True."""
    loads: Dict[str, int] = {}
    found = False
    matmuls = False             # an attribute named as a matmul adjoint, or a def not walked into
    Name, Store, Attribute = gast.Name, gast.Store, gast.Attribute
    stops = (gast.FunctionDef, gast.ClassDef, gast.Lambda, gast.Global, gast.Nonlocal)
    for n in _walk_no_defs(fn.body):
        cls = n.__class__           # (no gast node class is subclassed)
        if cls is Name:
            if not isinstance(n.ctx, Store):
                loads[n.id] = loads.get(n.id, 0) + 1
        elif cls is Attribute:
            found = found or n.attr == "index_adjoint"
            matmuls = matmuls or n.attr in _MATMUL_ADJOINTS
        elif cls in stops:
            return True
        elif cls is gast.AsyncFunctionDef:
            matmuls = True
    if not found or any(name in loads for name in _SCOPE_NAMES):
        return matmuls

    def index_slice(stmt, operands) -> bool:
        # ``i = rt.index_slice(...)`` of numbers and names (builds a slice, changes nothing), storing
        # none of the operands: the op can move past it
        return isinstance(stmt, gast.Assign) and len(stmt.targets) == 1 and isinstance(stmt.targets[0], gast.Name) and \
            stmt.targets[0].id not in operands and id(stmt) not in shared and \
            _rt_call(stmt.value, rt_name, "index_slice") and not stmt.value.keywords and \
            all(isinstance(a, (gast.Constant, gast.Name)) or isinstance(a, gast.UnaryOp) and
                isinstance(a.operand, gast.Constant) for a in stmt.value.args)

    def passable(stmt, operands) -> bool:
        # an index_slice, or a push on a sweep's tape (tape.append(n), tape.append(rt.shape_proxy(n))):
        # neither changes an array nor stores a name
        if index_slice(stmt, operands):
            return True
        if not (isinstance(stmt, gast.Expr) and isinstance(stmt.value, gast.Call) and len(stmt.value.args) == 1 and
                not stmt.value.keywords and isinstance(stmt.value.func, gast.Attribute) and
                stmt.value.func.attr == "append" and isinstance(stmt.value.func.value, gast.Name) and
                stmt.value.func.value.id.startswith("tape")):
            return False
        arg = stmt.value.args[0]
        return isinstance(arg, (gast.Name, gast.Constant)) or \
            _rt_call(arg, rt_name, "shape_proxy") and len(arg.args) == 1 and isinstance(arg.args[0], gast.Name)

    def block(body) -> List:
        for stmt in body:
            if isinstance(stmt, gast.If):       # (branches, not loops: each runs at most once)
                stmt.body = block(stmt.body)
                stmt.orelse = block(stmt.orelse)
        out: List = []
        k = 0
        while k < len(body):
            s = body[k]
            if id(s) not in shared and isinstance(s, gast.Assign) and len(s.targets) == 1 and \
                    isinstance(s.targets[0], gast.Name) and isinstance(s.value, gast.BinOp) and \
                    type(s.value.op) in _INTO_OPS:
                t = s.targets[0].id
                operands = {n.id for n in walk_nodes(s.value) if isinstance(n, gast.Name)} | {t}
                j = k + 1
                while j < len(body) and j <= k + 4 and passable(body[j], operands):
                    j += 1
                nxt = body[j] if j < len(body) else None
                if nxt is not None and id(nxt) not in shared and id(getattr(nxt, "value", None)) not in shared and \
                        isinstance(nxt, gast.Assign) and len(nxt.targets) == 1 and isinstance(nxt.targets[0], gast.Name) and \
                        _rt_call(nxt.value, rt_name, "index_adjoint") and len(nxt.value.args) == 3 and \
                        not nxt.value.keywords and _name(nxt.value.args[0]) == t:
                    rest = nxt.value.args[1:]
                    reads_t = any(isinstance(n, gast.Name) and n.id == t for a in rest for n in walk_nodes(a))
                    own = sum(1 for n in walk_nodes(s.value) if isinstance(n, gast.Name) and n.id == t)
                    if loads.get(t, 0) - own == 1 and not reads_t and nxt.targets[0].id != t:
                        nxt.value.func.attr = "index_adjoint_op"
                        nxt.value.args = [gast.Constant(value=_INTO_OPS[type(s.value.op)], kind=None),
                                          s.value.left, s.value.right] + rest
                        out.extend(body[k + 1:j])
                        out.append(nxt)
                        k = j + 1
                        continue
            out.append(s)
            k += 1
        return out

    fn.body = block(fn.body)
    return matmuls


# --- a sum with a slice adjoint written straight into one buffer; a + (-b) as a - b ---------------

def indexed_sums(fn: gast.FunctionDef, rt_name: str, shared: Set[int] = frozenset()) -> None:
    """In every assignment: ``a + rt.index_adjoint(g, x, idx)`` (the sum of an adjoint and a slice's
    adjoint, as second-level code has them) becomes ``rt.index_added(a, g, x, idx)``, which writes the
    sum straight into one new buffer (runtime/support.py: one pass instead of three, the same
    numbers); ``a + (-b)`` becomes ``a - b`` (IEEE: the same number; no pass for the negation).
    Operands swapped (``index_adjoint(...) + a``, ``(-b) + a``) only where ``a`` is a name (nothing
    runs in it, so evaluating it first changes nothing)."""
    def simple(node) -> bool:
        return isinstance(node, (gast.Name, gast.Constant))

    def sums(node):
        # gast.NodeTransformer's visit with only visit_BinOp (children first, replaced in place)
        rewrite_children(node, sums)
        if node.__class__ is not gast.BinOp or not isinstance(node.op, gast.Add):
            return node
        for a, b, swapped in ((node.left, node.right, False), (node.right, node.left, True)):
            if swapped and not simple(a):
                continue
            if _rt_call(b, rt_name, "index_adjoint") and len(b.args) == 3 and not b.keywords:
                return gast.copy_location(_rt_of(rt_name, "index_added", [a] + list(b.args)), node)
            if isinstance(b, gast.UnaryOp) and isinstance(b.op, gast.USub):
                return gast.copy_location(gast.BinOp(left=a, op=gast.Sub(), right=b.operand), node)
        return node

    # one walk (``_walk_no_defs(fn.body)``'s, each node with the assignment whose value holds it):
    # the statements, whether a definition is inside (nothing done), and the assignments whose
    # value holds a sum with an operand of the two forms (the others the transformer leaves as
    # they are: a rewritten sum is never such an operand, so the sums rewritten are those of the
    # tree as it is now)
    AST, BinOp, Add = ast.AST, gast.BinOp, gast.Add
    fields_of = _CHILD_FIELDS
    nodes: List = []
    marked: Set[int] = set()
    todo = list(fn.body)
    owners: List = [None] * len(todo)
    pop, append, pop_owner, append_owner = todo.pop, todo.append, owners.pop, owners.append
    while todo:
        node = pop()
        owner = pop_owner()
        nodes.append(node)
        cls = node.__class__
        if cls is gast.Lambda or cls is gast.FunctionDef or cls is gast.ClassDef:
            return
        if cls is gast.AsyncFunctionDef:
            continue
        if cls is BinOp:
            if owner is not None and id(owner) not in marked and isinstance(node.op, Add):
                for b in (node.left, node.right):
                    if _rt_call(b, rt_name, "index_adjoint") or isinstance(b, gast.UnaryOp) and isinstance(b.op, gast.USub):
                        marked.add(id(owner))
        elif (cls is gast.Assign or cls is gast.AugAssign) and node.value.__class__ is BinOp and \
                id(node) not in shared and id(node.value) not in shared:
            owner = node            # (its targets hold no sum it rewrites: only its value's owner)
        fields = fields_of.get(cls)
        if fields is None:
            fields = _child_fields(cls)
        for name in fields:
            field = getattr(node, name, None)
            if field.__class__ is list:
                for child in field:
                    if isinstance(child, AST):
                        append(child)
                        append_owner(owner)
            elif isinstance(field, AST):
                append(field)
                append_owner(owner)
    if not marked:
        return
    for node in nodes:
        if id(node) in marked and isinstance(node, (gast.Assign, gast.AugAssign)) and id(node) not in shared and \
                id(getattr(node, "value", None)) not in shared and isinstance(node.value, gast.BinOp):
            node.value = sums(node.value)


# --- a sum's adjoint scaled before it meets a full array; negations folded into sums --------------

def _numeric(node) -> bool:
    return isinstance(node, gast.Constant) and type(node.value) in (int, float)


def _load(name: str):
    return gast.Name(id=name, ctx=gast.Load(), annotation=None, type_comment=None)


def _rt_of(rt_name: str, attr: str, args: List):
    return gast.Call(func=gast.Attribute(value=_load(rt_name), attr=attr, ctx=gast.Load()), args=args, keywords=[])


_FOLD_RT = frozenset(("broadcast_op", "broadcast_negative", "broadcast_product", "unit_product",
                      "negated_unbroadcast", "index_added", "reduction_times", "reduction_times_like",
                      "matmul_adjoint_2d_a", "matmul_adjoint_2d_b", "unit_scaled", "shift_free_max",
                      "unit_product_known"))


def _has_product_of(node, names: Set[str]) -> bool:
    """Whether ``node`` holds a product ``a * b`` with a name of ``names`` as an operand (any
    node of ``walk_nodes(node)``; searched until found)."""
    BinOp, Mult, Name = gast.BinOp, gast.Mult, gast.Name
    AST, fields_of = ast.AST, _CHILD_FIELDS
    todo = [node]       # (walk_nodes' nodes, in another order: only whether one is there counts)
    pop, push = todo.pop, todo.append
    while todo:
        n = pop()
        cls = n.__class__
        if cls is BinOp and isinstance(n.op, Mult) and (
                n.left.__class__ is Name and n.left.id in names or n.right.__class__ is Name and n.right.id in names):
            return True
        fields = fields_of.get(cls)
        if fields is None:
            fields = _child_fields(cls)
        for field_name in fields:
            field = getattr(n, field_name, None)
            if isinstance(field, AST):
                push(field)
            elif field.__class__ is list:
                for child in field:
                    if isinstance(child, AST):
                        push(child)
    return False


def _reads_name(stmts, name: str) -> bool:
    """Whether a node of ``_walk_no_defs(stmts)`` is the name ``name`` (any context; searched
    until found)."""
    Name = gast.Name
    return any(n.__class__ is Name and n.id == name for n in _walk_no_defs(stmts))


def fold_broadcast_factors(fn: gast.FunctionDef, rt_name: str, shared: Set[int] = frozenset(),
                           numpy_name: Optional[str] = None) -> None:
    """Exact rewrites of adjoint code around a sum's adjoint, which ``rt.reduction_broadcast``
    gives as a broadcast view of one value (or of a smaller array):

    - ``g * 100`` / ``-g`` of such a view ``g``: ``rt.broadcast_op("mul", g, 100)`` /
      ``rt.broadcast_negative(g)``, the op on the view's distinct items, broadcast again (no pass);
    - ``g * (2 * t)`` (a rule's constant times an array): ``rt.broadcast_product(g, 2, t)``, one pass
      as ``(c * 2) * t`` where the run finds that exact (runtime/support.py), else as written;
    - ``n = g * (2 * t)`` read once, by the next statement ``m = -n``: ``m = rt.broadcast_product(
      rt.broadcast_negative(g), 2, t)`` (``-(c * u)`` is ``(-c) * u``);
    - ``n = rt.unbroadcast_product(g, a, like)`` read once, later in the same block, as ``n * b``:
      ``rt.unit_product(g, a, like, b)`` (``a * b`` where ``g`` is ones: ``1 * a`` is ``a``);
    - ``n = -m`` (or ``n = rt.unbroadcast(-m, like)``) read once, later in the same block, as
      ``a + n``, ``n + a``, ``a - n`` or ``a + n * e``: ``a - m``, ``a - m``, ``a + m``, ``a - m * e``
      (IEEE: ``a + (-b)`` is ``a - b``, ``(-b) * e`` is ``-(b * e)``; the unbroadcast as
      ``rt.negated_unbroadcast(m, like)``, which is ``m`` where nothing is summed): no pass for the
      negation;
    - ``n = rt.reduction_broadcast(g, a, axis, keepdims)`` read once, later in the same block, as
      ``n * t`` or ``rt.unbroadcast_product(n, t, like)`` (``t``, ``like`` names):
      ``rt.reduction_times(g, a, axis, keepdims, t)`` / ``rt.reduction_times_like(..., t, like)``,
      ``g * t`` without the view where the run finds that the same array (runtime/numpy_ops.py).

    Whatever the run finds, each form gives the numbers of the code it replaces (only the number
    of passes changes).  ``shared``: ids of statements another generated function holds too;
    ``numpy_name``: the name numpy has there when it is plain numpy (its functions called without
    keywords change none of their arguments)."""
    loads: Dict[str, int] = {}
    stores: Dict[str, int] = {}
    proxied: Dict[str, int] = {}     # reads inside rt.shape_proxy(n): its shape and dtype only
    cleared: Dict[str, int] = {}     # n = None (a sweep's names set before its tape is written)
    found = False
    Name, Store, UnaryOp, Call, Assign = gast.Name, gast.Store, gast.UnaryOp, gast.Call, gast.Assign
    stops = (gast.FunctionDef, gast.ClassDef, gast.Lambda, gast.Global, gast.Nonlocal)
    AST, fields_of, defs = ast.AST, _CHILD_FIELDS, _WALK_DEFS
    todo = list(fn.body)        # (``_walk_no_defs(fn.body)`` written out)
    pop, push = todo.pop, todo.append
    while todo:
        node = pop()
        cls = node.__class__        # (no gast node class is subclassed)
        if cls not in defs:
            fields = fields_of.get(cls)
            if fields is None:
                fields = _child_fields(cls)
            for field_name in fields:
                field = getattr(node, field_name, None)
                if isinstance(field, AST):
                    push(field)
                elif isinstance(field, list):
                    for child in field:
                        if isinstance(child, AST):
                            push(child)
        if cls is Name:
            if isinstance(node.ctx, Store):
                stores[node.id] = stores.get(node.id, 0) + 1
            else:
                loads[node.id] = loads.get(node.id, 0) + 1
        elif cls in stops:
            return
        elif cls is UnaryOp:
            if isinstance(node.op, gast.USub):
                found = True
        elif cls is Call:
            if _rt_call(node, rt_name, "shape_proxy") and len(node.args) == 1 and \
                    node.args[0].__class__ is Name:
                proxied[node.args[0].id] = proxied.get(node.args[0].id, 0) + 1
            elif not found and _rt_call(node, rt_name, "reduction_broadcast"):
                found = True
        elif cls is Assign and len(node.targets) == 1 and node.targets[0].__class__ is Name and \
                node.value.__class__ is gast.Constant and node.value.value is None:
            cleared[node.targets[0].id] = cleared.get(node.targets[0].id, 0) + 1
    if not found or any(name in loads for name in _SCOPE_NAMES):
        return
    views: Set[str] = set()         # names that may hold a broadcast view

    def is_view(node) -> bool:
        return isinstance(node, gast.Name) and node.id in views

    class Products(gast.NodeTransformer):
        def visit_BinOp(self, node):
            self.generic_visit(node)
            if isinstance(node.op, gast.Mult):
                for g, other in ((node.left, node.right), (node.right, node.left)):
                    if is_view(g) and isinstance(other, gast.BinOp) and isinstance(other.op, gast.Mult):
                        for k, t in ((other.left, other.right), (other.right, other.left)):
                            if _numeric(k) and isinstance(t, gast.Name):
                                return _rt_of(rt_name, "broadcast_product", [g, k, t])
            return node

    def scale(stmts) -> None:
        for s in stmts:
            for field in ("body", "orelse", "finalbody"):
                inner = getattr(s, field, None)
                if isinstance(inner, list):
                    scale(inner)
            if not (isinstance(s, gast.Assign) and len(s.targets) == 1 and isinstance(s.targets[0], gast.Name)) or \
                    id(s) in shared:
                continue
            target, value = s.targets[0].id, s.value
            if _rt_call(value, rt_name, "reduction_broadcast") or \
                    _rt_call(value, rt_name, "unbroadcast") and len(value.args) == 2 and is_view(value.args[0]):
                views.add(target)
            elif isinstance(value, gast.BinOp) and type(value.op) in _INTO_OPS and \
                    (is_view(value.left) and _numeric(value.right) or _numeric(value.left) and is_view(value.right)):
                s.value = _rt_of(rt_name, "broadcast_op",
                                 [gast.Constant(value=_INTO_OPS[type(value.op)], kind=None), value.left, value.right])
                views.add(target)
            elif isinstance(value, gast.UnaryOp) and isinstance(value.op, gast.USub) and is_view(value.operand):
                s.value = _rt_of(rt_name, "broadcast_negative", [value.operand])
                views.add(target)
            elif views and _has_product_of(value, views):
                # (a product with a view's name as an operand: what Products rewrites; the rest
                # is not visited)
                s.value = Products().visit(value)

    scale(fn.body)
    plain_rt = (_PLAIN_RT - _MUTATING_RT) | _FOLD_RT

    def tape_push(s) -> bool:
        # tape.append(n) / tape.append(rt.shape_proxy(n)) of a sweep's tape: changes no array
        if not (isinstance(s, gast.Expr) and isinstance(s.value, gast.Call) and len(s.value.args) == 1 and
                not s.value.keywords and isinstance(s.value.func, gast.Attribute) and s.value.func.attr == "append" and
                isinstance(s.value.func.value, gast.Name) and s.value.func.value.id.startswith("tape")):
            return False
        arg = s.value.args[0]
        return isinstance(arg, (gast.Name, gast.Constant)) or \
            _rt_call(arg, rt_name, "shape_proxy") and len(arg.args) == 1 and isinstance(arg.args[0], gast.Name)

    def only_shape_read(u, n: str) -> bool:
        # every read of n in u is inside rt.shape_proxy(n)
        inside = {id(c.args[0]) for c in _walk_no_defs([u]) if _rt_call(c, rt_name, "shape_proxy") and
                  len(c.args) == 1 and isinstance(c.args[0], gast.Name)}
        return all(id(node) in inside for node in _walk_no_defs([u]) if isinstance(node, gast.Name) and node.id == n)

    def calm(s) -> bool:
        # an assignment that calls nothing but runtime helpers and numpy functions that change nothing
        if tape_push(s):
            return True
        if not isinstance(s, gast.Assign) or id(s) in shared:
            return False
        for node in _walk_no_defs([s.value]):
            if isinstance(node, gast.Call):
                func = node.func
                if not (isinstance(func, gast.Attribute) and isinstance(func.value, gast.Name) and
                        (func.value.id == rt_name and func.attr in plain_rt or
                         numpy_name is not None and func.value.id == numpy_name and not node.keywords)):
                    return False
        return True

    def negation_of(value):
        # n = -m: m;  n = rt.unbroadcast(-m, like): rt.negated_unbroadcast(m, like);
        # n = rt.broadcast_like(-m, like): rt.broadcast_like(m, like) (a view or m itself: -(-x) is x)
        if isinstance(value, gast.UnaryOp) and isinstance(value.op, gast.USub) and isinstance(value.operand, gast.Name):
            return value.operand
        if _rt_call(value, rt_name, "unbroadcast", "broadcast_like") and len(value.args) == 2 and not value.keywords:
            inner, like = value.args
            if isinstance(inner, gast.UnaryOp) and isinstance(inner.op, gast.USub) and \
                    isinstance(inner.operand, gast.Name) and isinstance(like, gast.Name):
                return _rt_of(rt_name, "negated_unbroadcast" if value.func.attr == "unbroadcast" else "broadcast_like",
                              [inner.operand, like])
        return None

    def scaled_of(value):
        # n = k * t (k a number, t a name; a rule's constant times an array, the tangent code's
        # split of g * (k * t)): (k, t), read as rt.broadcast_product(g, k, t) in g * n
        if isinstance(value, gast.BinOp) and isinstance(value.op, gast.Mult):
            for k, t in ((value.left, value.right), (value.right, value.left)):
                if _numeric(k) and isinstance(t, gast.Name):
                    return k, t
        return None

    def reduction_view(value) -> bool:
        # n = rt.reduction_broadcast(g, a, axis, keepdims), its operands names or constants
        return _rt_call(value, rt_name, "reduction_broadcast") and len(value.args) == 4 and \
            not value.keywords and all(isinstance(a, (gast.Name, gast.Constant)) for a in value.args)

    def fold_into(use, n: str, value, keep: bool = False) -> bool:
        """Rewrite the one read of ``n`` in ``use`` (an assignment) to compute ``value`` there.
        ``keep``: a negation only, ``n`` then holds the negated value (assigned where it was)."""
        negated = negation_of(value)
        scaled = scaled_of(value)
        viewed = reduction_view(value)
        if keep:
            if negated is None:
                return False
            negated, scaled, value, viewed = _load(n), None, None, False
        is_n = lambda node: isinstance(node, gast.Name) and node.id == n   # noqa: E731
        done = []

        class Fold(gast.NodeTransformer):
            def visit_BinOp(self, node):
                self.generic_visit(node)
                if done:
                    return node
                if negated is not None:
                    if isinstance(node.op, gast.Add):
                        for a, b in ((node.left, node.right), (node.right, node.left)):
                            if is_n(b):
                                done.append(1)
                                return gast.BinOp(left=a, op=gast.Sub(), right=negated)
                            if isinstance(b, gast.BinOp) and isinstance(b.op, gast.Mult) and \
                                    (is_n(b.left) or is_n(b.right)):
                                done.append(1)
                                product = gast.BinOp(left=negated, op=gast.Mult(), right=b.right) if is_n(b.left) \
                                    else gast.BinOp(left=b.left, op=gast.Mult(), right=negated)
                                return gast.BinOp(left=a, op=gast.Sub(), right=product)
                    elif isinstance(node.op, gast.Sub) and is_n(node.right):
                        done.append(1)
                        return gast.BinOp(left=node.left, op=gast.Add(), right=negated)
                    elif isinstance(node.op, gast.Sub) and isinstance(node.right, gast.BinOp) and \
                            isinstance(node.right.op, gast.Mult) and (is_n(node.right.left) or is_n(node.right.right)):
                        # a - n * e: a + m * e (n * e is -(m * e), a - -(y) is a + y)
                        b = node.right
                        done.append(1)
                        product = gast.BinOp(left=negated, op=gast.Mult(), right=b.right) if is_n(b.left) \
                            else gast.BinOp(left=b.left, op=gast.Mult(), right=negated)
                        return gast.BinOp(left=node.left, op=gast.Add(), right=product)
                elif viewed and isinstance(node.op, gast.Mult) and is_n(node.left) and \
                        isinstance(node.right, gast.Name):
                    done.append(1)
                    return _rt_of(rt_name, "reduction_times", list(value.args) + [node.right])
                elif _rt_call(value, rt_name, "unbroadcast_product") and isinstance(node.op, gast.Mult):
                    for a, b in ((node.left, node.right), (node.right, node.left)):
                        if is_n(a) and is_view(value.args[0]):
                            done.append(1)
                            return _rt_of(rt_name, "unit_product", list(value.args) + [b])
                        if is_n(a) and _numeric(b):     # times a rule's constant: rt.unit_scaled
                            done.append(1)
                            return _rt_of(rt_name, "unit_scaled", list(value.args) + [b])
                elif scaled is not None and isinstance(node.op, gast.Mult):
                    for a, b in ((node.left, node.right), (node.right, node.left)):
                        if is_n(a) and is_view(b):
                            done.append(1)
                            return _rt_of(rt_name, "broadcast_product", [b, scaled[0], scaled[1]])
                return node

            def visit_Call(self, node):
                self.generic_visit(node)
                if not done and viewed and _rt_call(node, rt_name, "unbroadcast_product") and \
                        len(node.args) == 3 and not node.keywords and is_n(node.args[0]) and \
                        all(isinstance(x, gast.Name) for x in node.args[1:]):
                    done.append(1)
                    return _rt_of(rt_name, "reduction_times_like", list(value.args) + node.args[1:])
                if not done and isinstance(value, gast.UnaryOp) and \
                        _rt_call(node, rt_name, "unbroadcast", "broadcast_like") and \
                        len(node.args) == 2 and not node.keywords and is_n(node.args[0]) and \
                        isinstance(node.args[1], gast.Name):
                    # n = -m read as rt.unbroadcast(n, like): rt.unbroadcast(-m, like) (the tangent code's
                    # split of a negated unbroadcast; folded on in turn where it is negated again)
                    done.append(1)
                    node.args[0] = value
                return node

            def visit_UnaryOp(self, node):
                self.generic_visit(node)
                if not done and isinstance(node.op, gast.USub) and is_n(node.operand) and negated is not None:
                    done.append(1)      # -(-m) is m; -unbroadcast(-m, like) is negated_unbroadcast(m, like)
                    return negated
                if not done and isinstance(node.op, gast.USub) and is_n(node.operand) and value is not None and \
                        _rt_call(value, rt_name, "broadcast_product"):
                    done.append(1)
                    g, k, t = value.args
                    return _rt_of(rt_name, "broadcast_product", [_rt_of(rt_name, "broadcast_negative", [g]), k, t])
                return node

        if use is None:
            return False
        new = Fold().visit(use.value)
        if done:
            use.value = new
        return bool(done)

    def merge(stmts) -> List:
        for s in stmts:
            for field in ("body", "orelse", "finalbody"):
                inner = getattr(s, field, None)
                if isinstance(inner, list):
                    setattr(s, field, merge(inner))
        dropped: Set[int] = set()
        for i, s in enumerate(stmts):
            if not (isinstance(s, gast.Assign) and len(s.targets) == 1 and isinstance(s.targets[0], gast.Name)) or \
                    id(s) in shared:
                continue
            n, value = s.targets[0].id, s.value
            shape_reads = proxied.get(n, 0) if views and scaled_of(value) is not None or \
                isinstance(value, gast.UnaryOp) and isinstance(value.op, gast.USub) else 0
            if loads.get(n, 0) - shape_reads != 1 or \
                    stores.get(n, 0) - (cleared.get(n, 0) if shape_reads else 0) != 1:
                continue
            if not (negation_of(value) is not None or views and scaled_of(value) is not None or
                    reduction_view(value) or
                    _rt_call(value, rt_name, "broadcast_product", "unbroadcast_product") and
                    all(isinstance(a, (gast.Name, gast.Constant)) for a in value.args) and not value.keywords and
                    (not _rt_call(value, rt_name, "unbroadcast_product") or is_view(value.args[0]) or
                     len(value.args) == 3)):
                continue
            reads = {node.id for node in _walk_no_defs([value]) if isinstance(node, gast.Name)}
            crossed = False     # past a comment (the user's line of what follows may be another)
            for j in range(i + 1, len(stmts)):
                u = stmts[j]
                if j in dropped:
                    continue
                if _is_comment(u):
                    if j - i > 24:          # (a few statements on: compile time stays linear)
                        break
                    crossed = True
                    continue
                if _reads_name([u], n) and not (shape_reads and only_shape_read(u, n)):
                    if crossed:
                        # a negation only, n negated where it is (no op moves to another line's code):
                        # n = -m is n = m, n = rt.unbroadcast(-m, like) n = rt.negated_unbroadcast(m, like)
                        if calm(u) and fold_into(u, n, value, keep=True):
                            s.value = negation_of(value)
                    elif calm(u) and fold_into(u, n, value):
                        if shape_reads and isinstance(value, gast.UnaryOp):   # its shape still read:
                            s.value = _rt_of(rt_name, "type_only",         # a stand-in of its shape and dtype
                                             [gast.Constant(value="neg", kind=None), value.operand])
                        elif shape_reads:
                            s.value = _rt_of(rt_name, "type_only", [gast.Constant(value="mul", kind=None),
                                                                     value.left, value.right])
                        else:
                            dropped.add(i)
                    break
                if not calm(u) or _stored([u]) & (reads | {n}):
                    break
        return [s for i, s in enumerate(stmts) if i not in dropped]

    fn.body = merge(fn.body)


_MATMUL_ADJOINTS = ("matmul_adjoint_a", "matmul_adjoint_b")


def direct_matmul_adjoints(fn: gast.FunctionDef, rt_name: str, shared: Set[int] = frozenset()) -> None:
    """``rt.matmul_adjoint_a(g, a, b)`` / ``rt.matmul_adjoint_b(g, a, b)`` in generated code called
    as ``rt.matmul_adjoint_2d_a`` / ``rt.matmul_adjoint_2d_b``: ``g @ b.T`` / ``a.T @ g`` where the
    run finds ``a`` and ``b`` real 2-D arrays (the general form's own expression, without its rank
    tests), else the general form (runtime/numpy_ops.py).  Read back as the general calls when the
    code is differentiated again (``expand_in_place``), so second-level code is what it was."""
    Call, Attribute, matmuls = gast.Call, gast.Attribute, _MATMUL_ADJOINTS
    parts: List = []        # the expressions looked in, of every statement: walked at once (a rename
    extend = parts.extend   # changes no walk)

    def rename(stmts) -> None:
        for s in stmts:
            if id(s) in shared:
                continue
            for field in ("body", "orelse", "finalbody"):
                inner = getattr(s, field, None)
                if isinstance(inner, list):
                    rename(inner)
            for handler in getattr(s, "handlers", None) or ():
                rename(handler.body)
            if isinstance(s, (gast.FunctionDef, gast.AsyncFunctionDef, gast.ClassDef)):
                continue
            for field in ("value", "test", "iter", "targets"):
                part = getattr(s, field, None)
                if isinstance(part, list):
                    extend(part)
                elif part is not None:
                    parts.append(part)
    rename(fn.body)
    del rename      # (a recursive closure: freed now, not by the cyclic collector)
    for node in _nodes_no_defs(parts):
        if node.__class__ is Call and node.func.__class__ is Attribute and node.func.attr in matmuls and \
                _rt_call(node, rt_name, "matmul_adjoint_a", "matmul_adjoint_b") and \
                len(node.args) == 3 and not node.keywords:
            node.func.attr = "matmul_adjoint_2d_" + node.func.attr[-1]


# --- a max shift nothing downstream sees (softmax, log-softmax) ------------------------------------

_META_ATTRS = frozenset(("shape", "ndim", "dtype", "size"))


def shift_invariant_maxima(functions, rt_name: str, numpy_name: Optional[str], pair=None,
                           shared: Set[int] = frozenset()) -> None:
    """The adjoint of a softmax's max shift, ``M = np.max(Z, axis=A, keepdims=True); Z1 = Z - M``,
    where ``Z1`` and what is computed from it are read (as values) only by
    ``E = np.exp(Z1)``, ``S = np.sum(E, axis=A, keepdims=True)``, ``L = np.log(S)``,
    ``R = Z1 - L`` (log-softmax) and ``P = E / S`` (softmax), and ``M`` only by ``Z1``: ``R`` and
    ``P`` do not change when ``Z1`` is shifted along ``A``, so the adjoint of ``Z1`` sums to zero
    along ``A`` in exact arithmetic and so does the adjoint of ``M``.  The adjoint function
    reading the forward's ``Z`` and ``M`` (the dlgradient function it calls with them, or the
    helper's adjoint given them as residuals) has ``dM = rt.unbroadcast(-dZ1, M)`` and
    ``dZ = dZ + rt.extremum_scaled(dM, Z, M, A, True)``: those become
    ``dZ = rt.shift_free_max(dZ, dZ1, Z, M, A)`` (runtime/numpy_ops.py), which adds nothing where
    ``dZ1`` is finite and bounded (the sums would be rounding residues of zero) and is the general
    form otherwise (NaN and infinities as before).  Plain numpy only (``numpy_name``).  Read back
    as the general form when generated code is differentiated again (``expand_in_place``)."""
    if numpy_name is None:
        return
    fns = [fn for fn in functions if isinstance(fn, gast.FunctionDef)]
    by_name = {fn.name: fn for fn in fns}
    for fwd in fns:
        found = _shift_patterns(fwd, numpy_name, rt_name, set(by_name) - {fwd.name},
                                pair is not None and fwd.name == pair[0])
        if not found:
            continue
        for bwd, triples in _readers_of(fwd, by_name, pair, found):
            _rewrite_shift(bwd, triples, rt_name, shared)


def _stores_loads(fn, rt_name: str, generated: Set[str], residual_return: bool, np_name: Optional[str] = None):
    """Per name: stores anywhere in ``fn``, and the ids of the top-level statements of ``fn.body``
    that read it as a value (each once per read): reads of its shape, dtype, ndim or size, inside
    ``rt.shape_proxy``, as arguments of a generated function's call (a dlgradient function) or in
    the residual tuple a helper's forward returns do not count.  None where ``fn`` reads its
    frame (locals(), eval...).  With ``np_name`` (``_products``), also: per name, the ids of its
    ``Load`` nodes (every one, as ``walk_nodes`` finds them), and the ids of the names read as
    operands of arithmetic and as arguments of numpy functions that write none of them
    (``np_name.f(...)``, no ``out=``), from the same walk (one walk of the body, iterative; the
    other fields of ``fn`` walked apart)."""
    stores: Dict[str, int] = {}
    loads: Dict[str, List[int]] = {}
    value_reads: Dict[str, List[int]] = {}       # name -> ids of its Load nodes
    operands: Set[int] = set()      # ids of Name nodes read as operands of arithmetic
    calls: Set[int] = set()         # ... as arguments of numpy functions that write none of them
    Name, Attribute, Call, Return, Tuple, Load = gast.Name, gast.Attribute, gast.Call, gast.Return, gast.Tuple, \
        gast.Load
    BinOp, UnaryOp, Store, Del = gast.BinOp, gast.UnaryOp, gast.Store, gast.Del
    scoped_classes = (gast.FunctionDef, gast.Lambda, gast.ClassDef, gast.Global, gast.Nonlocal)
    AST, fields_of, products = ast.AST, _CHILD_FIELDS, np_name is not None
    scoped = False

    def count_operands(node) -> None:
        """``_products``' operand and numpy-argument reads among ``node``'s direct children."""
        cls = node.__class__
        if cls is BinOp:
            operands.update(id(n) for n in (node.left, node.right) if n.__class__ is Name)
        elif cls is UnaryOp:
            if node.operand.__class__ is Name:
                operands.add(id(node.operand))
        elif cls is Call:
            func = node.func
            if func.__class__ is Attribute and func.value.__class__ is Name and func.value.id == np_name and \
                    func.attr not in _NUMPY_WRITES and not any(kw.arg in (None, "out") for kw in node.keywords):
                calls.update(id(n) for n in node.args if n.__class__ is Name)

    for top in fn.body:
        key = id(top)
        todo = [(top, False)]
        pop, push = todo.pop, todo.append
        while todo:
            node, meta = pop()
            cls = node.__class__
            if cls is Name:
                ctx = node.ctx.__class__
                if ctx is Store or ctx is Del:
                    stores[node.id] = stores.get(node.id, 0) + 1
                elif not meta:
                    loads.setdefault(node.id, []).append(key)
                if products and ctx is Load:
                    value_reads.setdefault(node.id, []).append(id(node))
                continue
            if products and (cls is BinOp or cls is UnaryOp or cls is Call):     # (count_operands' classes)
                count_operands(node)
            if cls is Attribute:
                if node.attr in _META_ATTRS and node.value.__class__ is Name:
                    push((node.value, True))
                    continue
            elif cls is Call:
                if _rt_call(node, rt_name, "shape_proxy") and len(node.args) == 1:
                    push((node.args[0], True))
                    if products and node.func.value.ctx.__class__ is Load:     # (the runtime's name)
                        value_reads.setdefault(rt_name, []).append(id(node.func.value))
                    continue
                func = node.func
                if func.__class__ is Name and func.id in generated:
                    push((func, meta))
                    for arg in node.args:
                        push((arg, meta or arg.__class__ is Name))
                    for kw in node.keywords:
                        push((kw, meta))
                    continue
            elif cls is Return:
                value = node.value
                if residual_return and value.__class__ is Tuple and len(value.elts) == 2 and \
                        value.elts[1].__class__ is Tuple:
                    push((value.elts[0], meta))
                    for elt in value.elts[1].elts:
                        push((elt, True))
                    continue
            elif cls in scoped_classes:
                scoped = True
            fields = fields_of.get(cls)
            if fields is None:
                fields = _child_fields(cls)
            for name in fields:
                field = getattr(node, name, None)
                if isinstance(field, AST):
                    push((field, meta))
                elif field.__class__ is list:
                    for item in field:
                        if isinstance(item, AST):
                            push((item, meta))
    if any(name in loads or name in stores for name in _SCOPE_NAMES):
        return None
    if scoped:
        return None
    for name in fields_of.get(fn.__class__) or _child_fields(fn.__class__):   # arguments, decorators...
        if name == "body":
            continue
        field = getattr(fn, name, None)
        for part in (field if field.__class__ is list else [field]):
            if not isinstance(part, AST):
                continue
            for n in walk_nodes(part):
                if isinstance(n, scoped_classes):
                    return None
                if products:
                    count_operands(n)
                    if n.__class__ is Name and n.ctx.__class__ is Load:
                        value_reads.setdefault(n.id, []).append(id(n))
    for a in fn.args.args + fn.args.kwonlyargs + [fn.args.vararg, fn.args.kwarg]:
        if a is not None:
            stores[a.id] = stores.get(a.id, 0) + 1
    return (stores, loads, (value_reads, operands, calls)) if products else (stores, loads)


def _shift_patterns(fn, np_name: str, rt_name: str, generated: Set[str], residual_return: bool) -> List:
    """(Z, M, A) of each max shift of ``fn`` that ``shift_invariant_maxima`` may drop."""
    if not any(s.__class__ is gast.Assign and len(s.targets) == 1 and s.targets[0].__class__ is gast.Name and
               s.value.__class__ is gast.Call and s.value.func.__class__ is gast.Attribute and
               s.value.func.attr in ("max", "amax") for s in fn.body):
        return []           # no ``M = np.max(...)`` in the body: nothing to look for (no walk)
    facts = _stores_loads(fn, rt_name, generated, residual_return)
    if facts is None:
        return []
    stores, loads = facts
    defs: Dict[str, gast.stmt] = {}
    for s in fn.body:
        if isinstance(s, gast.Assign) and len(s.targets) == 1 and isinstance(s.targets[0], gast.Name):
            defs[s.targets[0].id] = s

    def np_call(value, attrs, nargs=1) -> Optional[List[str]]:
        """The names passed to ``np.<attr>(name, ...)`` (positional names only), else None."""
        if isinstance(value, gast.Call) and isinstance(value.func, gast.Attribute) and \
                value.func.attr in attrs and isinstance(value.func.value, gast.Name) and \
                value.func.value.id == np_name and len(value.args) == nargs and \
                all(isinstance(a, gast.Name) for a in value.args):
            return [a.id for a in value.args]
        return None

    def reduction_axis(value) -> Optional[int]:
        """A of ``axis=A, keepdims=True`` (an int literal), else None."""
        kws = {kw.arg: kw.value for kw in value.keywords}
        axis, keep = kws.get("axis"), kws.get("keepdims")
        if set(kws) != {"axis", "keepdims"} or not (isinstance(axis, gast.Constant) and type(axis.value) is int) or \
                not (isinstance(keep, gast.Constant) and keep.value is True):
            return None
        return axis.value

    def once(name) -> bool:
        return stores.get(name, 0) == 1 and name in defs

    def readers(name) -> List[gast.stmt]:
        """The statements reading ``name`` as a value, once each (None where one reads it twice or
        is not a simple assignment of this body)."""
        ids = loads.get(name, [])
        if len(set(ids)) != len(ids):
            return None
        out = [s for s in fn.body if id(s) in set(ids)]
        if len(out) != len(ids) or any(not (isinstance(s, gast.Assign) and len(s.targets) == 1 and
                                            isinstance(s.targets[0], gast.Name)) for s in out):
            return None
        return out

    def sub_of(value, left) -> Optional[str]:
        if isinstance(value, gast.BinOp) and isinstance(value.op, gast.Sub) and \
                isinstance(value.left, gast.Name) and value.left.id == left and isinstance(value.right, gast.Name):
            return value.right.id
        return None

    found = []
    for z1, s in defs.items():
        m = sub_of(s.value, s.value.left.id if isinstance(s.value, gast.BinOp) and
                   isinstance(s.value.left, gast.Name) else "")
        if m is None or not once(z1) or not once(m):
            continue
        z = s.value.left.id
        m_def = defs[m]
        arg = np_call(m_def.value, ("max", "amax"))
        if arg != [z] or z in (m, z1) or m == z1 or stores.get(z, 0) != 1:
            continue
        axis = reduction_axis(m_def.value)
        if axis is None or readers(m) != [s] or fn.body.index(m_def) > fn.body.index(s):
            continue
        if _shift_free(z1, axis, np_name, defs, once, readers, np_call, reduction_axis, sub_of):
            found.append((z, m, axis))
    return found


def _shift_free(z1, axis, np_name, defs, once, readers, np_call, reduction_axis, sub_of) -> bool:
    """Every value read of ``z1`` (and of what is computed from it) is one of the softmax's or
    log-softmax's statements, whose results do not change when ``z1`` is shifted along ``axis``."""
    z1_readers = readers(z1)
    if not z1_readers:
        return False
    for r in z1_readers:
        target = r.targets[0].id
        if not once(target):
            return False
        if np_call(r.value, ("exp",)) == [z1]:               # E = np.exp(Z1)
            if not _exp_free(target, z1, axis, defs, once, readers, np_call, reduction_axis, sub_of):
                return False
            continue
        lse = sub_of(r.value, z1)                             # R = Z1 - L, L = log(sum(exp(Z1)))
        if lse is None or lse == z1 or not once(lse):
            return False
        s_names = np_call(defs[lse].value, ("log",))
        if s_names is None or not once(s_names[0]):
            return False
        e_names = np_call(defs[s_names[0]].value, ("sum",))
        if e_names is None or reduction_axis(defs[s_names[0]].value) != axis or not once(e_names[0]) or \
                np_call(defs[e_names[0]].value, ("exp",)) != [z1]:
            return False
    return True


def _exp_free(e, z1, axis, defs, once, readers, np_call, reduction_axis, sub_of) -> bool:
    """``E = np.exp(Z1)`` read only by ``S = np.sum(E, axis=A, keepdims=True)`` and ``E / S``; each
    such ``S`` only by ``np.log(S)`` (read only by ``Z1 - L``) and ``E / S``."""
    e_readers = readers(e)
    if not e_readers:
        return False
    for r in e_readers:
        target = r.targets[0].id
        if not once(target):
            return False
        if np_call(r.value, ("sum",)) == [e] and reduction_axis(r.value) == axis:
            s_readers = readers(target)
            if s_readers is None:
                return False
            for q in s_readers:
                name = q.targets[0].id
                if not once(name):
                    return False
                if _softmax(q.value, e, target):
                    continue
                if np_call(q.value, ("log",)) != [target]:
                    return False
                l_readers = readers(name)
                if l_readers is None or any(sub_of(u.value, z1) != name or not once(u.targets[0].id)
                                            for u in l_readers):
                    return False
            continue
        if not (isinstance(r.value, gast.BinOp) and isinstance(r.value.op, gast.Div) and
                isinstance(r.value.right, gast.Name) and _softmax(r.value, e, r.value.right.id) and
                r.value.right.id in defs and np_call(defs[r.value.right.id].value, ("sum",)) == [e] and
                reduction_axis(defs[r.value.right.id].value) == axis):
            return False
    return True


def _softmax(value, e, s) -> bool:
    return isinstance(value, gast.BinOp) and isinstance(value.op, gast.Div) and \
        isinstance(value.left, gast.Name) and value.left.id == e and \
        isinstance(value.right, gast.Name) and value.right.id == s


def known_products(functions, rt_name: str, numpy_name: Optional[str], pair=None,
                   shared: Set[int] = frozenset()) -> None:
    """``rt.unit_product(g, A, like, B)`` in an adjoint function (``A * B`` where the run finds
    ``g`` a broadcast view of ones: a sum's adjoint) where the forward computed ``P = A * B`` and
    hands ``A``, ``B`` and ``P`` to that adjoint under the same names (the dlgradient function it
    calls with them, or the helper's adjoint as residuals): ``rt.unit_product_known(g, A, like, B,
    P)``, which is ``P`` itself there (the same ufunc on the same arrays: the same numbers), no
    pass.  Only where ``P``, ``A`` and ``B`` are assigned once in the forward and nothing there
    could write into them or hand ``P`` on unchanged (each is read only as an operand of
    arithmetic, by a numpy function without ``out=`` that writes none of its arguments, for its
    shape, or by the adjoint).  Plain numpy only (``numpy_name``).  Read back as the plain
    expression when generated code is differentiated again (``expand_in_place``)."""
    if numpy_name is None:
        return
    fns = [fn for fn in functions if isinstance(fn, gast.FunctionDef)]
    by_name = {fn.name: fn for fn in fns}
    for fwd in fns:
        found = _products(fwd, numpy_name, rt_name, set(by_name) - {fwd.name},
                          pair is not None and fwd.name == pair[0])
        if not found:
            continue
        for bwd, products in _readers_of(fwd, by_name, pair, found, key=lambda item: item):
            _rewrite_products(bwd, products, rt_name, shared)


def _product_statements(fn) -> bool:
    """Whether ``fn.body`` has a statement ``P = A * B`` (``_products`` looks at no other)."""
    return any(s.__class__ is gast.Assign and len(s.targets) == 1 and s.targets[0].__class__ is gast.Name and
               s.value.__class__ is gast.BinOp and s.value.op.__class__ is gast.Mult for s in fn.body)


def _products(fn, np_name: str, rt_name: str, generated: Set[str], residual_return: bool) -> List:
    """(P, A, B) of each ``P = A * B`` of ``fn.body`` that ``known_products`` may use."""
    if not _product_statements(fn):
        return []           # no ``P = A * B`` in the body: nothing to look for (no walk)
    facts = _stores_loads(fn, rt_name, generated, residual_return, np_name)
    if facts is None:
        return []
    stores, loads, (value_reads, operands, calls) = facts

    def safe(name, views: bool) -> bool:
        """Every value read of ``name`` is an operand of arithmetic (or, where ``views`` may be
        handed on, a numpy function's argument); the rest read its shape or hand it to the adjoint."""
        reads = value_reads.get(name, [])
        value = [n for n in reads if n in operands or (views and n in calls)]
        return len(value) == len(loads.get(name, []))

    found = []
    for s in fn.body:
        if isinstance(s, gast.Assign) and len(s.targets) == 1 and isinstance(s.targets[0], gast.Name) and \
                isinstance(s.value, gast.BinOp) and isinstance(s.value.op, gast.Mult) and \
                isinstance(s.value.left, gast.Name) and isinstance(s.value.right, gast.Name):
            p, a, b = s.targets[0].id, s.value.left.id, s.value.right.id
            if len({p, a, b}) == 3 and all(stores.get(n, 0) == 1 for n in (p, a, b)) and \
                    safe(p, False) and safe(a, True) and safe(b, True):
                found.append((p, a, b))
    return found


def _rewrite_products(fn, products, rt_name: str, shared: Set[int]) -> None:
    stores: Dict[str, int] = {}
    for n in walk_nodes(fn):
        if isinstance(n, gast.Name) and not isinstance(n.ctx, gast.Load):
            stores[n.id] = stores.get(n.id, 0) + 1     # (parameters too: gast's Param)
    known = {(a, b): p for p, a, b in products if all(stores.get(n, 0) == 1 for n in (p, a, b))}
    if not known:
        return
    for s in fn.body:
        if id(s) in shared:
            continue
        for node in _walk_no_defs([s]):
            if _rt_call(node, rt_name, "unit_product") and len(node.args) == 4 and not node.keywords and \
                    isinstance(node.args[1], gast.Name) and isinstance(node.args[3], gast.Name):
                p = known.get((node.args[1].id, node.args[3].id))
                if p is not None:
                    node.func.attr = "unit_product_known"
                    node.args.append(_load(p))


def _readers_of(fwd, by_name, pair, found, key=lambda item: item[:2], nodes: Optional[List] = None) -> List:
    """(adjoint function, its (Z, M, A)s): the helper's adjoint given ``Z`` and ``M`` as residuals
    under the same names, and the generated functions ``fwd`` calls with them as the arguments of
    parameters of the same names (its dlgradient functions); neither stores them again.
    ``nodes``: ``walk_nodes(fwd)``'s nodes where already walked (as the tree is now)."""
    if nodes is None:
        nodes = list(walk_nodes(fwd))
    out = []
    if pair is not None and fwd.name == pair[0] and pair[1] in by_name:
        bwd = by_name[pair[1]]
        rets = [s for s in fwd.body if isinstance(s, gast.Return)]
        unpack = bwd.body[0] if bwd.body and bwd.args.args else None
        if len(rets) == 1 and isinstance(rets[0].value, gast.Tuple) and len(rets[0].value.elts) == 2 and \
                isinstance(rets[0].value.elts[1], gast.Tuple) and isinstance(unpack, gast.Assign) and \
                len(unpack.targets) == 1 and isinstance(unpack.targets[0], gast.Tuple) and \
                isinstance(unpack.value, gast.Name) and unpack.value.id == bwd.args.args[0].id:
            sent = rets[0].value.elts[1].elts
            got = unpack.targets[0].elts
            names = [e.id if isinstance(e, gast.Name) else None for e in sent]
            if len(sent) == len(got) and all(isinstance(t, gast.Name) for t in got):
                first = _first_positions(names)     # (names.index, without a scan per name)
                triples = [item for item in found
                           if all(n in first and got[first[n]].id == n for n in key(item))]
                if triples:
                    out.append((bwd, triples))
    sites: Dict[str, List] = {}      # generated function -> its calls in fwd (each must pass the names)
    for node in nodes:
        if isinstance(node, gast.Name) and node.id in by_name and node.id != fwd.name:
            sites.setdefault(node.id, [])
        if isinstance(node, gast.Call) and isinstance(node.func, gast.Name) and node.func.id in by_name and \
                node.func.id != fwd.name:
            sites.setdefault(node.func.id, []).append(node)
    for name, calls in sites.items():
        callee = by_name[name]
        params = [a.id for a in callee.args.args]
        if callee.args.vararg or callee.args.kwonlyargs or not calls or \
                sum(isinstance(n, gast.Name) and n.id == name for n in nodes) != len(calls) or \
                any(len(params) != len(call.args) or call.keywords for call in calls):
            continue                      # (the function read otherwise than called: left alone)
        triples = list(found)
        first = _first_positions(params)        # (params.index, without a scan per name)
        for call in calls:
            args = [a.id if isinstance(a, gast.Name) else None for a in call.args]
            triples = [item for item in triples
                       if all(n in first and args[first[n]] == n for n in key(item))]
        if triples:
            out.append((callee, triples))
    return out


def _first_positions(items: List) -> Dict:
    """Each item's first position in ``items`` (``items.index(item)``)."""
    out: Dict = {}
    for k, item in enumerate(items):
        out.setdefault(item, k)
    return out


def _rewrite_shift(fn, triples, rt_name: str, shared: Set[int]) -> None:
    """``dM = rt.unbroadcast(-dZ1, M)`` then, later in the same block, ``dZ = dZ +
    rt.extremum_scaled(dM, Z, M, A, True)`` (``dM`` read nowhere else, ``dZ1`` not stored between,
    ``Z`` and ``M`` stored only as ``fn``'s parameters or residuals): ``dZ = rt.shift_free_max(dZ,
    dZ1, Z, M, A)``."""
    stores: Dict[str, int] = {}
    loads: Dict[str, int] = {}
    for n in walk_nodes(fn):
        if isinstance(n, gast.Name):
            if isinstance(n.ctx, gast.Load):
                loads[n.id] = loads.get(n.id, 0) + 1
            else:
                stores[n.id] = stores.get(n.id, 0) + 1     # (parameters too: gast's Param)
    wanted = {(z, m): a for z, m, a in triples if stores.get(z, 0) == 1 and stores.get(m, 0) == 1}

    def block(stmts) -> None:
        for s in stmts:
            for field in ("body", "orelse", "finalbody"):
                inner = getattr(s, field, None)
                if isinstance(inner, list) and not isinstance(s, (gast.FunctionDef, gast.ClassDef)):
                    block(inner)
            for handler in getattr(s, "handlers", None) or ():
                block(handler.body)
        i = 0
        while i < len(stmts):
            s = stmts[i]
            i += 1
            if id(s) in shared or not (isinstance(s, gast.Assign) and len(s.targets) == 1 and
                                       isinstance(s.targets[0], gast.Name)):
                continue
            v = s.value
            if not (_rt_call(v, rt_name, "unbroadcast") and len(v.args) == 2 and not v.keywords and
                    isinstance(v.args[0], gast.UnaryOp) and isinstance(v.args[0].op, gast.USub) and
                    isinstance(v.args[0].operand, gast.Name) and isinstance(v.args[1], gast.Name)):
                continue
            dm, dz1, m = s.targets[0].id, v.args[0].operand.id, v.args[1].id
            if stores.get(dm, 0) != 1 or loads.get(dm, 0) != 1 or dz1 in (dm, m):
                continue
            for j in range(i, len(stmts)):
                t = stmts[j]
                if _extremum_add(t, rt_name, dm, m, wanted) and id(t) not in shared:
                    if dz1 in _stored(stmts[i:j]):
                        break
                    dz, z = t.targets[0].id, t.value.right.args[1].id
                    t.value = _rt_of(rt_name, "shift_free_max", [_load(dz), _load(dz1), _load(z), _load(m),
                                                                 gast.Constant(value=wanted[(z, m)], kind=None)])
                    del stmts[i - 1]
                    i -= 1
                    break
                if dm in _stored([t]) or any(isinstance(n, gast.Name) and n.id == dm for n in walk_nodes(t)):
                    break

    if wanted:
        block(fn.body)


def _extremum_add(t, rt_name: str, dm: str, m: str, wanted) -> bool:
    """``dZ = dZ + rt.extremum_scaled(dM, Z, M, A, True)`` with (Z, M) among ``wanted`` (its A)."""
    if not (isinstance(t, gast.Assign) and len(t.targets) == 1 and isinstance(t.targets[0], gast.Name) and
            isinstance(t.value, gast.BinOp) and isinstance(t.value.op, gast.Add) and
            isinstance(t.value.left, gast.Name) and t.value.left.id == t.targets[0].id):
        return False
    call = t.value.right
    if not (_rt_call(call, rt_name, "extremum_scaled") and len(call.args) == 5 and not call.keywords and
            all(isinstance(a, gast.Name) for a in call.args[:3])):
        return False
    g, z, top = (a.id for a in call.args[:3])
    axis, keep = call.args[3], call.args[4]
    return g == dm and top == m and (z, m) in wanted and isinstance(axis, gast.Constant) and \
        type(axis.value) is int and axis.value == wanted[(z, m)] and \
        isinstance(keep, gast.Constant) and keep.value is True and t.targets[0].id not in (dm, m, z)


# --- reading generated code back (to differentiate it again) -------------------------------------

_INTO_BINOPS = {"add": gast.Add, "sub": gast.Sub, "mul": gast.Mult, "div": gast.Div}


def expand_in_place(fdef, rt_names: Set[str]) -> None:
    """The calls ``reuse_temporaries`` and ``direct_index_adjoints`` made, back to the plain code
    they stand for (``rt.into_temporary("mul", a, b, 0)`` is ``a * b``, ``rt.negative_into(a)``
    ``-a``, ``rt.index_adjoint_op(op, a, b, x, idx)`` ``rt.index_adjoint(a <op> b, x, idx)``), so
    generated code differentiated again is differentiated as the ops it computes."""

    class Expand(gast.NodeTransformer):
        def visit_Call(self, node):
            self.generic_visit(node)
            func = node.func
            if not (isinstance(func, gast.Attribute) and isinstance(func.value, gast.Name) and
                    func.value.id in rt_names) or node.keywords:
                return node
            if func.attr in ("setitem_owned", "zero_at_owned", "getitem_or_zero_copy", "add_index_grad_owned"):
                func.attr = func.attr.rsplit("_", 1)[0]
                return node
            if func.attr in ("negative_into", "broadcast_negative") and len(node.args) == 1:
                return gast.copy_location(gast.UnaryOp(op=gast.USub(), operand=node.args[0]), node)
            if func.attr == "broadcast_op" and len(node.args) == 3 and isinstance(node.args[0], gast.Constant) and \
                    node.args[0].value in _INTO_BINOPS:
                op = gast.BinOp(left=node.args[1], op=_INTO_BINOPS[node.args[0].value](), right=node.args[2])
                return gast.copy_location(op, node)
            if func.attr == "broadcast_mul" and len(node.args) == 2:
                return gast.copy_location(gast.BinOp(left=node.args[0], op=gast.Mult(), right=node.args[1]), node)
            if func.attr == "broadcast_product" and len(node.args) == 3:
                g, k, t = node.args
                op = gast.BinOp(left=g, op=gast.Mult(), right=gast.BinOp(left=k, op=gast.Mult(), right=t))
                return gast.copy_location(op, node)
            if func.attr == "unit_product_known" and len(node.args) == 5:
                node.args = node.args[:4]
                func.attr = "unit_product"
            if func.attr in ("unit_product", "unit_scaled") and len(node.args) == 4:
                func.attr = "unbroadcast_product"
                op = gast.BinOp(left=gast.Call(func=func, args=node.args[:3], keywords=[]), op=gast.Mult(),
                                right=node.args[3])
                return gast.copy_location(op, node)
            if func.attr in ("matmul_adjoint_2d_a", "matmul_adjoint_2d_b") and len(node.args) == 3:
                func.attr = "matmul_adjoint_" + func.attr[-1]
                return node
            if func.attr in ("reduction_times", "reduction_times_like") and len(node.args) == 5 + (
                    func.attr == "reduction_times_like"):
                view = gast.Call(func=gast.Attribute(value=func.value, attr="reduction_broadcast", ctx=gast.Load()),
                                 args=node.args[:4], keywords=[])
                if func.attr == "reduction_times":
                    return gast.copy_location(gast.BinOp(left=view, op=gast.Mult(), right=node.args[4]), node)
                func.attr = "unbroadcast_product"
                node.args = [view] + node.args[4:]
                return node
            if func.attr == "shift_free_max" and len(node.args) == 5:
                total, g, a, top, axis = node.args
                func.attr = "extremum_scaled"
                shift = gast.Call(func=gast.Attribute(value=func.value, attr="unbroadcast", ctx=gast.Load()),
                                  args=[gast.UnaryOp(op=gast.USub(), operand=g), top], keywords=[])
                node.args = [shift, a, top, axis, gast.Constant(value=True, kind=None)]
                return gast.copy_location(gast.BinOp(left=total, op=gast.Add(), right=node), node)
            if func.attr == "index_added" and len(node.args) == 4:
                func.attr = "index_adjoint"
                inner = gast.Call(func=func, args=node.args[1:], keywords=[])
                return gast.copy_location(gast.BinOp(left=node.args[0], op=gast.Add(), right=inner), node)
            if func.attr == "negated_unbroadcast" and len(node.args) == 2:
                func.attr = "unbroadcast"
                inner = gast.Call(func=func, args=[gast.UnaryOp(op=gast.USub(), operand=node.args[0]), node.args[1]],
                                  keywords=[])
                return gast.copy_location(gast.UnaryOp(op=gast.USub(), operand=inner), node)
            if func.attr in ("into_temporary", "index_adjoint_op") and len(node.args) >= 3 and \
                    isinstance(node.args[0], gast.Constant) and node.args[0].value in _INTO_BINOPS:
                op = gast.BinOp(left=node.args[1], op=_INTO_BINOPS[node.args[0].value](), right=node.args[2])
                gast.copy_location(op, node)
                if func.attr == "into_temporary":
                    return op
                func.attr = "index_adjoint"
                node.args = [op] + node.args[3:]
            return node

    _drop_releases(fdef, rt_names)
    Expand().visit(fdef)


def _drop_releases(fdef, rt_names: Set[str]) -> None:
    """The ``del t`` that ``reuse_temporaries`` put right after ``u = rt.into_temporary(op, a, b, side)``
    or ``u = rt.negative_into(t)`` (``t`` the operand written in place) or ``u = rt.zero_at_owned(t, i)``
    (``owned_zero_at``), and the ``t = rt.shape_proxy(t)`` that ``released_views`` put right before
    ``n = rt.setitem_owned(n, i, v)``, left out again."""
    def in_place_operand(s):
        if not (isinstance(s, gast.Assign) and isinstance(s.value, gast.Call)):
            return None
        func, args = s.value.func, s.value.args
        if not (isinstance(func, gast.Attribute) and isinstance(func.value, gast.Name) and func.value.id in rt_names):
            return None
        if func.attr == "negative_into" and len(args) == 1:
            operand = args[0]
        elif func.attr == "into_temporary" and len(args) == 4 and isinstance(args[3], gast.Constant) and \
                args[3].value in (0, 1):
            operand = args[2] if args[3].value else args[1]
        elif func.attr == "zero_at_owned" and len(args) == 2:
            operand = args[0]
        else:
            return None
        return operand.id if isinstance(operand, gast.Name) else None

    def owned_write(s):
        # n = rt.setitem_owned(n, i, v): released_views' releases stand right before it
        return isinstance(s, gast.Assign) and isinstance(s.value, gast.Call) and \
            isinstance(s.value.func, gast.Attribute) and s.value.func.attr == "setitem_owned" and \
            isinstance(s.value.func.value, gast.Name) and s.value.func.value.id in rt_names

    for node in walk_nodes(fdef):
        for field in ("body", "orelse", "finalbody"):
            stmts = getattr(node, field, None)
            if not isinstance(stmts, list) or not any(_released_name(s, rt_names) for s in stmts):
                continue
            kept = []
            for k, s in enumerate(stmts):
                released = _released_name(s, rt_names)
                if released is not None and (kept and in_place_operand(kept[-1]) == released or
                                             k + 1 < len(stmts) and owned_write(stmts[k + 1])):
                    continue
                kept.append(s)
            stmts[:] = kept


def _released_name(s, rt_names: Set[str]) -> Optional[str]:
    """``t`` of ``del t`` or ``t = rt.shape_proxy(t)`` (what ``reuse_temporaries`` releases with)."""
    if isinstance(s, gast.Delete) and len(s.targets) == 1 and isinstance(s.targets[0], gast.Name):
        return s.targets[0].id
    if isinstance(s, gast.Assign) and len(s.targets) == 1 and isinstance(s.targets[0], gast.Name) and \
            isinstance(s.value, gast.Call) and isinstance(s.value.func, gast.Attribute) and \
            s.value.func.attr == "shape_proxy" and isinstance(s.value.func.value, gast.Name) and \
            s.value.func.value.id in rt_names and len(s.value.args) == 1 and not s.value.keywords and \
            isinstance(s.value.args[0], gast.Name) and s.value.args[0].id == s.targets[0].id:
        return s.targets[0].id
    return None


def owned_setitems(fn: gast.FunctionDef, rt_name: str, shared: Set[int] = frozenset()) -> None:
    """``n = rt.setitem(n, i, v)`` (``n[i] = v`` in the user's code, a name rebound to the array
    written) becomes ``n = rt.setitem_owned(n, i, v)``: written into ``n``'s array itself where
    the run finds nothing but that name holding it (its reference count: the old value can be read
    nowhere else), instead of a copy per write (a row written per iteration of a loop copied the
    whole array each time).  The same for ``d = rt.add_index_grad(d, g, x, i)`` (the adjoint of a
    read ``x[i]`` added to ``d``): ``rt.add_index_grad_owned``, added into ``d``'s array.  Code read
    back to be differentiated again has them expanded back (``expand_in_place``).  ``shared``: ids
    of statements another generated function holds too."""
    for s in _statements_no_defs(fn.body):
        if isinstance(s, gast.Assign) and len(s.targets) == 1 and isinstance(s.targets[0], gast.Name) and \
                _rt_call(s.value, rt_name, *_OWNED_FORMS) and not s.value.keywords and \
                len(s.value.args) == _OWNED_FORMS[s.value.func.attr] and \
                isinstance(s.value.args[0], gast.Name) and s.value.args[0].id == s.targets[0].id and \
                id(s) not in shared:
            s.value.func.attr += "_owned"


#: The calls ``owned_setitems`` writes in place (``n = rt.<name>(n, ...)``), by their number of arguments.
_OWNED_FORMS = {"setitem": 3, "add_index_grad": 4}


def released_views(fn: gast.FunctionDef, rt_name: str, shared: Set[int] = frozenset(),
                   nodes: Optional[BodyNodes] = None) -> bool:
    """Before ``n = rt.setitem_owned(n, i, v)``, a name ``u`` bound earlier in the same block to a
    part of ``n`` (``u = n[t]``: a view, which holds ``n``'s array) whose value is read only
    between the two (everywhere else only ``rt.shape_proxy(u)``: what a sweep reads of it, shape
    and dtype) is released, ``u = rt.shape_proxy(u)``: the view no longer counts as a holder of
    ``n``'s array, so the write goes into it (``acc[t] += s`` in a loop: ``acc_item = acc[t]``,
    the sum, then the write, copied the whole array each turn).  A proxy of a small array is the
    array itself (nothing gained, nothing changed).  Code read back to be differentiated again has
    the release left out (``_drop_releases``).  ``shared``: ids of statements another generated
    function holds too (left as they are).  ``nodes``: the body's walk, shared (``BodyNodes``).
    Returns whether it changed the tree (a release added)."""
    if not _has_assigned_call(fn, rt_name, "setitem_owned"):
        return False        # (no write in place: nothing to do; the writes are statements)
    scoped = (gast.FunctionDef, gast.AsyncFunctionDef, gast.Lambda, gast.ClassDef, gast.Global, gast.Nonlocal)
    added = [False]

    def counts(stmts, walked=None) -> Optional[Tuple[Dict[str, int], Dict[str, int]]]:
        # (the reads of each name, those inside rt.shape_proxy(name)); None where a nested scope
        # may read a name (not followed)
        loads: Dict[str, int] = {}
        proxied: Dict[str, int] = {}
        for node in (_walk_no_defs(stmts) if walked is None else walked):
            cls = node.__class__
            if cls is _Name:
                if isinstance(node.ctx, gast.Load):
                    loads[node.id] = loads.get(node.id, 0) + 1
            elif cls is _Call:
                if _rt_call(node, rt_name, "shape_proxy") and len(node.args) == 1 and not node.keywords and \
                        node.args[0].__class__ is _Name:
                    proxied[node.args[0].id] = proxied.get(node.args[0].id, 0) + 1
            elif cls in scoped:
                return None
        return loads, proxied

    found = counts(fn.body, None if nodes is None else nodes.get())
    if found is None or any(n in found[0] for n in _SCOPE_NAMES):
        return False
    loads, proxied = found
    params = {a.id for a in fn.args.args + fn.args.posonlyargs + fn.args.kwonlyargs if isinstance(a, gast.Name)} | \
        {a.id for a in (fn.args.vararg, fn.args.kwarg) if isinstance(a, gast.Name)}

    def visit(stmts: List) -> None:
        for s in stmts:
            for field in ("body", "orelse", "finalbody"):
                inner = getattr(s, field, None)
                if isinstance(inner, list):
                    visit(inner)
            for handler in getattr(s, "handlers", None) or ():
                visit(handler.body)
        inserts = []
        for p, s in enumerate(stmts):
            if not (s.__class__ is gast.Assign and len(s.targets) == 1 and s.targets[0].__class__ is _Name and
                    _rt_call(s.value, rt_name, "setitem_owned") and len(s.value.args) == 3 and
                    s.value.args[0].__class__ is _Name and s.value.args[0].id == s.targets[0].id and
                    id(s) not in shared):
                continue
            n = s.targets[0].id
            for q in range(p - 1, -1, -1):
                a = stmts[q]
                if not (a.__class__ is gast.Assign and len(a.targets) == 1 and a.targets[0].__class__ is _Name and
                        a.value.__class__ is gast.Subscript and a.value.value.__class__ is _Name and
                        a.value.value.id == n):
                    if n in _stored([a]):
                        break               # n bound again: the views before are of another array
                    continue
                u = a.targets[0].id
                if u == n or u in params:
                    continue
                between = stmts[q + 1:p]
                stored = _stored(between)
                if u in stored or n in stored:
                    break
                here, here_proxied = counts(between)
                # every read of u outside the statements between the two is inside rt.shape_proxy(u)
                if loads.get(u, 0) - here.get(u, 0) == proxied.get(u, 0) - here_proxied.get(u, 0):
                    inserts.append((p, u, s))
        for p, u, s in reversed(inserts):
            release = gast.Assign(targets=[gast.Name(id=u, ctx=gast.Store(), annotation=None, type_comment=None)],
                                  value=_shape_proxy(rt_name, u), type_comment=None)
            stmts.insert(p, gast.copy_location(release, s))
            added[0] = True

    visit(fn.body)
    return added[0]


def owned_zero_at(fn: gast.FunctionDef, rt_name: str, shared: Set[int] = frozenset(),
                  nodes: Optional[BodyNodes] = None) -> None:
    """The adjoint of a write ``n[i] = v``: ``d_n = rt.zero_at(g, i)`` (a copy of ``g`` with
    ``g[i]`` zeroed), then one statement reading ``rt.getitem_or_zero(g, i)`` (``v``'s adjoint),
    where every other read of ``g`` in the function is a test ``g is (not) rt.ZERO``: the two are
    swapped, the read copies what it takes of ``g`` (``rt.getitem_or_zero_copy``) and ``d_n =
    rt.zero_at_owned(g, i)`` zeroes ``g[i]`` in ``g``'s array itself where the run finds that
    nothing else holds it (a row written per iteration of a loop no longer copies the whole
    adjoint each time).  Code read back to be differentiated again has both expanded back
    (``expand_in_place``).  ``shared``: ids of statements another generated function holds too.
    ``nodes``: the body's walk, shared (``BodyNodes``)."""
    if not _has_assigned_call(fn, rt_name, "zero_at"):
        return              # (no rt.zero_at: nothing to do; it is assigned by a statement)
    loads: Dict[str, int] = {}
    tests: Dict[str, int] = {}
    nested: Set[str] = set()        # names read inside nested functions and lambdas
    for node in (_walk_no_defs(fn.body) if nodes is None else nodes.get()):
        if isinstance(node, gast.Name) and isinstance(node.ctx, gast.Load):
            loads[node.id] = loads.get(node.id, 0) + 1
        elif isinstance(node, (gast.FunctionDef, gast.AsyncFunctionDef, gast.Lambda, gast.ClassDef)):
            nested.update(n.id for n in walk_nodes(node) if isinstance(n, gast.Name))
        elif isinstance(node, gast.Compare) and isinstance(node.left, gast.Name) and len(node.ops) == 1 and \
                isinstance(node.ops[0], (gast.Is, gast.IsNot)) and _is_rt(node.comparators[0], rt_name, "ZERO"):
            tests[node.left.id] = tests.get(node.left.id, 0) + 1
        elif isinstance(node, (gast.Global, gast.Nonlocal)):
            return

    def same(a, b) -> bool:
        return isinstance(a, gast.Name) and isinstance(b, gast.Name) and a.id == b.id or \
            isinstance(a, gast.Constant) and isinstance(b, gast.Constant) and type(a.value) is type(b.value) \
            and a.value == b.value and type(a.value) in (int, str)

    def stores(stmts: List, end: int, name: str) -> bool:
        return any(isinstance(s, gast.Assign) and any(isinstance(t, gast.Name) and t.id == name for t in s.targets)
                   for s in stmts[:end])

    def visit(stmts: List, outer) -> None:
        # outer: (the list holding the ``if`` whose branch ``stmts`` is, its position) or None
        for k, s in enumerate(stmts):
            for field in ("body", "orelse"):
                inner = getattr(s, field, None)
                if isinstance(inner, list):
                    visit(inner, (stmts, k) if isinstance(s, gast.If) else None)
        releases: List[int] = []
        for k in range(len(stmts) - 1):
            a, b = stmts[k], stmts[k + 1]
            if not (isinstance(a, gast.Assign) and len(a.targets) == 1 and isinstance(a.targets[0], gast.Name) and
                    _rt_call(a.value, rt_name, "zero_at") and len(a.value.args) == 2 and not a.value.keywords and
                    isinstance(a.value.args[0], gast.Name) and isinstance(a.value.args[1], (gast.Name, gast.Constant))
                    and isinstance(b, gast.Assign) and len(b.targets) == 1 and isinstance(b.targets[0], gast.Name)
                    and id(a) not in shared and id(b) not in shared):
                continue
            g, i, target = a.value.args[0].id, a.value.args[1], a.targets[0].id
            # g bound earlier in this block or the one around its ``if`` (a loop's next turn reads
            # it only after binding it again)
            if not (stores(stmts, k, g) or outer is not None and stores(outer[0], outer[1], g)):
                continue
            reads = [n for n in _walk_no_defs([b.value]) if _rt_call(n, rt_name, "getitem_or_zero") and
                     len(n.args) == 2 and not n.keywords and isinstance(n.args[0], gast.Name) and
                     n.args[0].id == g and same(n.args[1], i)]
            if len(reads) != 1 or loads.get(g, 0) != 2 + tests.get(g, 0) or b.targets[0].id in (g, target) or \
                    isinstance(i, gast.Name) and b.targets[0].id == i.id or \
                    any(isinstance(n, gast.Name) and n.id == target for n in _walk_no_defs([b.value])) or \
                    any(isinstance(n, (gast.NamedExpr, gast.Yield, gast.YieldFrom, gast.Await))
                        for n in _walk_no_defs([b.value])):
                continue
            reads[0].func.attr = "getitem_or_zero_copy"
            a.value.func.attr = "zero_at_owned"
            stmts[k], stmts[k + 1] = b, a
            # g released right after (``del g``) where every read of g in the function lies between
            # its binding and this pair, none after it: zero_at_owned returns g's own array, which
            # g would still hold (a later write into the result, ``add_index_grad_owned``, then saw
            # two holders and copied the whole array)
            block, end = (stmts, k) if outer is None else outer
            start = next((j for j in range(end - 1, -1, -1) if stores([block[j]], 1, g)), None)
            if start is not None and loads_of(block[start:end + 1], g) == loads.get(g, 0) and \
                    not loads_of(stmts[k + 2:], g) and g not in nested:
                releases.append(k + 2)
        for position in reversed(releases):
            g = stmts[position - 1].value.args[0].id
            stmts.insert(position, gast.copy_location(
                gast.Delete(targets=[gast.Name(id=g, ctx=gast.Del(), annotation=None, type_comment=None)]),
                stmts[position - 1]))

    def loads_of(stmts: List, name: str) -> int:
        return sum(1 for n in _walk_no_defs(stmts) if isinstance(n, gast.Name) and n.id == name and
                   isinstance(n.ctx, gast.Load))

    visit(fn.body, None)


def has_in_place(fdef) -> bool:
    return any(isinstance(n, gast.Attribute) and n.attr in _IN_PLACE_RT for n in walk_nodes(fdef))


_IN_PLACE_RT = frozenset(("into_temporary", "negative_into", "index_adjoint_op", "broadcast_mul",
                          "setitem_owned", "zero_at_owned", "getitem_or_zero_copy", "add_index_grad_owned")) | _FOLD_RT
