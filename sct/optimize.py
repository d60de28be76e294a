"""The optimiser: rewrites of generated code (gast) just before it is printed.

Each rewrite is a small function that changes only what it can prove changes
nothing but speed:

* ``zero_facts``: which adjoints are the zero marker ``rt.ZERO`` (by identity) and
  which cannot be, flowing through straight-line code, branches and loops (a fixed
  point at each loop head).  With them, ``if d is not rt.ZERO:`` is decided where
  the answer is known, and the first contribution to an adjoint known to be
  ``rt.ZERO`` is assigned instead of added (``d = rt.ZERO; d = d + g`` becomes
  ``d = g``; ``rt.add_grad(ZERO, g)`` is ``g`` by definition).
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
import os
from typing import Dict, List, Optional, Set

import gast

from .ir import _CHILD_FIELDS, _child_fields, walk_nodes

ZERO, NONZERO = "zero", "nonzero"
Facts = Dict[str, str]


def enabled() -> bool:
    return os.environ.get("SCT_OPTIMIZE", "1").strip() not in ("0", "false", "no", "off")


def optimize(functions: List, rt_name: str = "rt") -> None:
    """Rewrite the generated functions in place (each on its own)."""
    if not enabled():
        return
    for fn in functions:
        if isinstance(fn, gast.FunctionDef):
            optimize_function(fn, rt_name)


def optimize_function(fn: gast.FunctionDef, rt_name: str) -> None:
    if _has_scope_statements(fn):
        return
    fn.body = ZeroFacts(rt_name).run(fn.body)
    contract_products(fn, rt_name)
    accumulate_in_place(fn, rt_name)
    dead_assignments(fn, rt_name)


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


def _is_rt(node, rt_name: str, attr: str) -> bool:
    return isinstance(node, gast.Attribute) and node.attr == attr and \
        isinstance(node.value, gast.Name) and node.value.id == rt_name


def _rt_call(node, rt_name: str, *names) -> bool:
    return isinstance(node, gast.Call) and _is_rt(node.func, rt_name, node.func.attr
                                                   if isinstance(node.func, gast.Attribute) else "") \
        and node.func.attr in names


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


def _jumps(stmts) -> bool:
    """A break or continue belonging to this loop body (not to a loop nested in it)."""
    todo = list(stmts)
    while todo:
        node = todo.pop()
        if isinstance(node, (gast.Break, gast.Continue)):
            return True
        if isinstance(node, (gast.For, gast.While, gast.FunctionDef, gast.ClassDef, gast.Lambda)):
            continue
        todo.extend(gast.iter_child_nodes(node))
    return False


def _is_comment(s) -> bool:
    from .emit import COMMENT
    return isinstance(s, gast.Expr) and isinstance(s.value, gast.Constant) and \
        isinstance(s.value.value, str) and s.value.value.startswith(COMMENT)


def _block(stmts: List) -> List:
    """A body that prints as one: ``pass`` added where only comments are left."""
    return stmts if any(not _is_comment(s) for s in stmts) else stmts + [gast.Pass()]


def _merge(a: Facts, b: Facts) -> Facts:
    return {k: v for k, v in a.items() if b.get(k) == v}


# --- zero facts: decided checks, first contributions assigned --------------------------------

class ZeroFacts:
    """What is known of each name: ``rt.ZERO`` itself, or a value that cannot be it."""

    def __init__(self, rt_name: str):
        self.rt = rt_name

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
        if _rt_call(value, self.rt, "seed", "index_adjoint", "index_add", "reduction_broadcast"):
            return NONZERO
        if _rt_call(value, self.rt, "unbroadcast") and value.args:
            return self.classify(value.args[0], facts)   # its argument itself, or a new array
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
                        "tie_scaled")

    def block(self, stmts: List, facts: Facts, rewrite: bool):
        facts = dict(facts)         # the block's own: its statements update it in place
        out: List = []
        for s in stmts:
            new, facts = self.statement(s, facts, rewrite)
            out.extend(new)
        return out, facts

    def statement(self, s, facts: Facts, rewrite: bool):
        if isinstance(s, gast.Assign) and len(s.targets) == 1 and isinstance(s.targets[0], gast.Name):
            target = s.targets[0].id
            value = s.value
            first = self.first_contribution(value, facts)
            if first is not None:
                value = first
                if rewrite:
                    s.value = first
            kind = self.classify(value, facts)
            if kind is None:
                facts.pop(target, None)
            else:
                facts[target] = kind
            return [s], facts
        if isinstance(s, gast.If):
            decided = self.zero_test(s.test)
            if decided is not None and decided[0] in facts:
                name, when_nonzero = decided
                taken = (facts[name] == NONZERO) == when_nonzero
                return self.block(s.body if taken else s.orelse, facts, rewrite)
            body_facts, else_facts = dict(facts), dict(facts)
            if decided is not None:
                name, when_nonzero = decided
                body_facts[name] = NONZERO if when_nonzero else ZERO
                else_facts[name] = ZERO if when_nonzero else NONZERO
            body, body_out = self.block(s.body, body_facts, rewrite)
            orelse, else_out = self.block(s.orelse, else_facts, rewrite)
            if rewrite:
                s.body = _block(body)
                s.orelse = orelse if any(not _is_comment(k) for k in orelse) else []
            return [s], _merge(body_out, else_out)
        if isinstance(s, (gast.For, gast.While)):
            stored = _stored([s])
            if s.orelse or _jumps(s.body):
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
            return [s], dict(head)
        for name in _stored([s]):
            facts.pop(name, None)
        return [s], facts


# --- one buffer per sweep for index adjoints --------------------------------------------------

def accumulate_in_place(fn: gast.FunctionDef, rt_name: str) -> None:
    body = fn.body
    final = body[-1] if body and isinstance(body[-1], gast.Return) else None
    params = {a.id for a in fn.args.args} | {a.id for a in fn.args.kwonlyargs}
    if fn.args.vararg is not None:
        params.add(fn.args.vararg.id)
    if fn.args.kwarg is not None:
        params.add(fn.args.kwarg.id)
    stores: Dict[str, List] = {}
    bad: Set[str] = set(params)
    allowed_loads: Set[int] = set()
    for node in _walk_no_defs(body):
        if isinstance(node, gast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], gast.Name):
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
        elif isinstance(node, gast.Compare) and len(node.ops) == 1 and \
                isinstance(node.ops[0], (gast.Is, gast.IsNot)) and isinstance(node.left, gast.Name) and \
                _is_rt(node.comparators[0], rt_name, "ZERO"):
            allowed_loads.add(id(node.left))
    if final is not None:
        for node in gast.walk(final):
            if isinstance(node, gast.Name):
                allowed_loads.add(id(node))
    for node in _walk_no_defs(body):
        if isinstance(node, gast.Name) and id(node) not in allowed_loads:
            bad.add(node.id)
        elif isinstance(node, (gast.FunctionDef, gast.ClassDef, gast.Lambda)):
            bad |= {n.id for n in gast.walk(node) if isinstance(n, gast.Name)}
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


# --- contraction instead of a product summed by unbroadcast ---------------------------------------

def contract_products(fn: gast.FunctionDef, rt_name: str) -> None:
    """``rt.unbroadcast(a * b, like)`` (names) becomes ``rt.unbroadcast_product(a, b, like)``: one
    contraction, without the product's full-shape temporary where it is summed over."""
    for node in _walk_no_defs(fn.body):
        if _rt_call(node, rt_name, "unbroadcast") and len(node.args) == 2 and not node.keywords:
            product, like = node.args
            if isinstance(product, gast.BinOp) and isinstance(product.op, gast.Mult) and \
                    isinstance(product.left, gast.Name) and isinstance(product.right, gast.Name) and \
                    isinstance(like, gast.Name):
                node.func.attr = "unbroadcast_product"
                node.args = [product.left, product.right, like]


# --- dead assignments ---------------------------------------------------------------------------

_PURE_RT = {"ZERO"}


def _pure(node, rt_name: str) -> bool:
    if isinstance(node, (gast.Constant, gast.Name)):
        return True
    if _is_rt(node, rt_name, "ZERO"):
        return True
    if isinstance(node, gast.Tuple):
        return all(_pure(e, rt_name) for e in node.elts)
    return False


def dead_assignments(fn: gast.FunctionDef, rt_name: str) -> None:
    """``name = <constant, name, rt.ZERO>`` where ``name`` is never read in the function."""
    while True:
        loaded = {n.id for n in _walk_no_defs(fn.body)
                  if isinstance(n, gast.Name) and isinstance(n.ctx, (gast.Load, gast.Del))}
        for node in _walk_no_defs(fn.body):
            if isinstance(node, (gast.FunctionDef, gast.ClassDef, gast.Lambda)):
                loaded |= {n.id for n in gast.walk(node) if isinstance(n, gast.Name)}
        removed = [False]

        def sweep(stmts):
            out = []
            for s in stmts:
                if isinstance(s, gast.Assign) and len(s.targets) == 1 and \
                        isinstance(s.targets[0], gast.Name) and s.targets[0].id not in loaded and \
                        _pure(s.value, rt_name):
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
        if not removed[0]:
            return
