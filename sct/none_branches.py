"""Branches on a parameter that is None (``def loss(p, x, ax=None): ... if ax: ax.imshow(...)``).

A parameter of the function dlfeval runs given None (its kind, part of the cache's key) holds None
wherever the function never binds it again: the compiled code is for that kind only (another value
is another kind, compiled anew).  ``if ax:``, ``if ax is not None:``, ``if not ax:``, ``if ax is None:`` (and
``and``/``or`` led by such a test, and the same as a conditional expression) then take one branch
whenever the code runs, so the other is dropped before anything reads the function: its plotting or
logging of traced values is not refused, as it never runs.  ``fold_none_tests`` does it for a tree and
a set of such names (sct/write_checks.py: a helper called with None for its ``ax``).
"""
from __future__ import annotations

import copy
import types
from typing import Optional, Set

import gast

from .ir import pattern_captures, walk_nodes

_NONE_KIND = ("const", type(None))


def fold_none_parameters(fn, fdef: gast.FunctionDef, kinds, entry: bool) -> None:
    """Drop the branches of ``fdef`` that a parameter given None, or left to its default None, never
    takes, where ``fdef`` is the function dlfeval (or an accelerated function) runs, whose arguments'
    kinds are its cache's key; keep the names of those never bound again as
    ``fdef.sct_none_parameters``.  In a helper (compiled for the kinds of what its callers give by
    position), keep them as ``fdef.sct_none_checked`` instead: they hold None where the code was
    compiled but may hold another value when it runs (another call of the same compiled code may give
    one by keyword, which its kinds do not hold: ``def f(v, c=None): if c is None: ...`` called as
    ``f(x)`` and ``f(x, c=w)``; and a caller's parameter given on may be such a default).  Their
    branches stay; sct/write_checks.py reads a call given one, with a check the run makes first."""
    params = [a.id for a in fdef.args.args if isinstance(a, gast.Name)]
    kinds = tuple(kinds or ())
    given = {p for p, kind in zip(params, kinds) if isinstance(kind, tuple) and kind[:2] == _NONE_KIND}
    defaulted = set()
    code = getattr(fn, "__code__", None)
    if isinstance(fn, types.FunctionType) and len(params) > len(kinds) and code.co_kwonlyargcount == 0 and \
            tuple(params) == code.co_varnames[:code.co_argcount]:
        defaults = fn.__defaults__ or ()
        first = len(params) - len(defaults)
        defaulted = {p for i, p in enumerate(params) if i >= max(first, len(kinds)) and defaults[i - first] is None}
    # (dlfeval and an accelerated function compile a call given keywords for their kinds, and guard
    # the function's defaults: there, one left to its default None is None whenever the code runs)
    # (every one, bound again or not: sct/points_to.py sharing_of reads a write into a new value bound to it,
    # `if out is None: out = np.zeros_like(u)`, as one into this function's own array; the run checks it)
    fdef.sct_none_compiled = frozenset(given | defaulted)
    none, checked = (given | defaulted, set()) if entry else (set(), given | defaulted)
    if none or checked:
        rebound = rebound_names(fdef)
        none, checked = none - rebound, checked - rebound
    fdef.sct_none_parameters = frozenset(none)
    fdef.sct_none_checked = frozenset(checked)
    if none:
        fold_none_tests(fdef, none)


def rebound_names(fdef) -> Set[str]:
    """The names ``fdef`` (or a function or class in it) binds or deletes in its body (also by ``import
    ... as``, a ``match`` capture: names that are no gast.Name; were missed, so ``case ax:`` or ``import
    math as ax`` left ``if ax:`` folded as for None)."""
    out = set()
    for n in walk_nodes(fdef):
        if isinstance(n, gast.Name) and isinstance(n.ctx, (gast.Store, gast.Del)) and \
                not any(n is a for a in fdef.args.args):
            out.add(n.id)
        elif isinstance(n, (gast.FunctionDef, gast.AsyncFunctionDef, gast.ClassDef)) and n is not fdef:
            out.add(n.name)
        elif isinstance(n, (gast.Global, gast.Nonlocal)):
            out.update(n.names)
        elif isinstance(n, gast.alias):         # ``import math as ax``, ``from math import pi as ax``
            out.add(n.asname or n.name.split(".")[0])
        else:
            out.update(name for _, name in pattern_captures(n))   # ``case ax:``, ``case [1, *ax]:``, ``case {**ax}:``
    for a in [fdef.args.vararg, fdef.args.kwarg] + list(fdef.args.kwonlyargs):
        if isinstance(a, gast.Name):
            out.add(a.id)
    return out


def fold_none_tests(fdef: gast.FunctionDef, names: Set[str]) -> bool:
    """Fold, in ``fdef``'s own body (not in the functions it defines, whose names are their own),
    the tests on ``names`` (each holding None and never bound again there); whether any changed."""
    names = set(names) - rebound_names(fdef)
    if not names:
        return False
    folder = _Folder(names, fdef)
    folder.visit(fdef)
    return folder.changed


def folded_copy(fdef: gast.FunctionDef, names: Set[str]) -> Optional[gast.FunctionDef]:
    """A copy of ``fdef`` with its tests on ``names`` folded, or None where none is."""
    tree = copy.deepcopy(fdef)
    return tree if fold_none_tests(tree, names) else None


def _value(test, names: Set[str]) -> Optional[bool]:
    """The truth of ``test`` where the names in ``names`` are None, or None where not known."""
    if isinstance(test, gast.Name):
        return False if test.id in names else None
    if isinstance(test, gast.UnaryOp) and isinstance(test.op, gast.Not):
        inner = _value(test.operand, names)
        return None if inner is None else not inner
    if isinstance(test, gast.Compare) and len(test.ops) == 1:
        left, right = test.left, test.comparators[0]
        if isinstance(left, gast.Constant) and left.value is None:
            left, right = right, left
        if isinstance(left, gast.Name) and left.id in names and \
                isinstance(right, gast.Constant) and right.value is None:
            if isinstance(test.ops[0], (gast.Is, gast.Eq)):
                return True
            if isinstance(test.ops[0], (gast.IsNot, gast.NotEq)):
                return False
    if isinstance(test, gast.BoolOp) and test.values:
        # only the first operand: later ones may have effects Python runs before deciding
        first = _value(test.values[0], names)
        if first is None:
            return None
        if isinstance(test.op, gast.And) and not first or isinstance(test.op, gast.Or) and first:
            return first
        if len(test.values) == 2:
            return _value(test.values[1], names)
    return None


class _Folder(gast.NodeTransformer):
    def __init__(self, names: Set[str], top):
        self.names, self.top, self.changed = names, top, False

    def visit_FunctionDef(self, node):
        return self.generic_visit(node) if node is self.top else node

    def _own_scope(self, node):
        return node         # (an async def, a lambda, a class: their names are their own)

    visit_AsyncFunctionDef = visit_Lambda = visit_ClassDef = _own_scope

    def visit_If(self, node):
        known = _value(node.test, self.names)
        if known is None:
            return self.generic_visit(node)
        self.changed = True
        kept = node.body if known else node.orelse
        out = []
        for s in kept:
            new = self.visit(s)
            out.extend(new if isinstance(new, list) else [new] if new is not None else [])
        if not out:
            out = [gast.copy_location(gast.Pass(), node)]
        return out

    def visit_IfExp(self, node):
        known = _value(node.test, self.names)
        if known is None:
            return self.generic_visit(node)
        self.changed = True
        return self.visit(node.body if known else node.orelse)
