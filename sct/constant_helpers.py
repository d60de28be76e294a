"""Gradients through helpers that return constants.

A helper whose result is a gradient taken with ``EnableHigherDerivatives=False`` (or built
only from such gradients and constants) returns a constant: its pair's adjoint is zero.  A
``dlgradient`` whose ``y`` depends on the traced inputs only through such results would be
zero (MATLAB errors: y is not traced).  Written inline, the caller's activity sees it and
sct/reverse.py refuses; through a helper the caller's activity counts the call's result as
traced, so this check, run on the caller's code before it is transformed, refuses it too.

Both checks are conservative in the direction of not refusing: names are linked by every
statement that mentions them together (an undirected graph of the function's local names),
cut only at the calls known to return constants, and anything not understood (nested
functions, global statements, generators, names defined some other way) gives up.
"""
from __future__ import annotations

import ast
import builtins
import threading
import types
from typing import Dict, Optional, Set, Tuple

import gast

from .errors import CompileError
from .hooks import API
from .plans import CallKind
from .ir import child_nodes, walk_nodes

_EHD = ("EnableHigherDerivatives", "enable_higher_derivatives")


def _no_higher(call) -> bool:
    return any(k.arg in _EHD and isinstance(k.value, (gast.Constant, ast.Constant)) and
               k.value.value is False for k in call.keywords)


def _component_has(stmts, start: str, targets: Set[str], locals_: Set[str], is_cut) -> Optional[bool]:
    """Whether ``start`` is linked to a name in ``targets`` through the statements (None: gave up).
    ``is_cut(call)``: a call whose result is a constant (its arguments are not linked)."""
    links: Dict[str, Set[str]] = {}
    for s in stmts:
        names: Set[str] = set()
        todo = [s]
        while todo:
            node = todo.pop()
            if isinstance(node, (gast.Call, ast.Call)) and is_cut(node):
                continue                    # its value is a constant: its arguments do not flow
            if isinstance(node, (gast.Name, ast.Name)):
                if node.id in locals_:
                    names.add(node.id)
                continue
            if isinstance(node, (gast.Return, ast.Return)):
                names.add("<return>")
            todo.extend(child_nodes(node))     # (iter_child_nodes without the ctx/op leaves)
        for n in names:
            links.setdefault(n, set()).update(names)
    seen, todo = {start}, [start]
    while todo:
        for m in links.get(todo.pop(), ()):
            if m not in seen:
                seen.add(m)
                todo.append(m)
    return bool(seen & targets)


def _unfollowed(n, mod) -> bool:
    """A node ``_simple_statements`` does not follow (inside a statement)."""
    return isinstance(n, (mod.Lambda, mod.Yield, mod.YieldFrom, mod.Await)) or type(n).__name__ == "NamedExpr"


def _simple_statements(body, clean: bool = False):
    """The statements of a body, compound ones (if/for/while/with/try) opened; None where there
    is something this check does not follow (nested functions, classes, global/nonlocal).
    ``clean``: the body is known to hold no lambda, yield, await or ``:=`` (not looked for again)."""
    out = []
    todo = list(body)
    while todo:
        s = todo.pop()
        if isinstance(s, (gast.FunctionDef, gast.AsyncFunctionDef, gast.ClassDef, gast.Global,
                          gast.Nonlocal, gast.Import, gast.ImportFrom, gast.Lambda,
                          ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef, ast.Global,
                          ast.Nonlocal, ast.Import, ast.ImportFrom)):
            return None
        mod = gast if isinstance(s, gast.AST) else ast
        if not clean:
            for n in (walk_nodes(s) if mod is gast else ast.walk(s)):
                if _unfollowed(n, mod):
                    return None
        if isinstance(s, (mod.If, mod.For, mod.While, mod.With, mod.Try)):
            head = mod.If(test=s.test, body=[], orelse=[]) if isinstance(s, mod.If) else None
            if isinstance(s, mod.For):
                head = mod.Assign(targets=[s.target], value=s.iter)
            elif isinstance(s, mod.While):
                head = mod.Expr(value=s.test)
            elif isinstance(s, mod.With):
                head = mod.Expr(value=mod.Tuple(elts=[i.context_expr for i in s.items] +
                                                [i.optional_vars for i in s.items
                                                 if i.optional_vars is not None], ctx=mod.Load()))
            if head is not None:
                out.append(head)
            for field in ("body", "orelse", "finalbody"):
                todo.extend(getattr(s, field, None) or [])
            for h in getattr(s, "handlers", None) or []:
                todo.extend(h.body)
            continue
        out.append(s)
    return out


# --- helpers returning constants ------------------------------------------------------------

_MEMO: Dict[Tuple, Tuple[Optional[int], tuple]] = {}   # (code, globals) -> (line, the names it read)


def _resolve(fn, node):
    """The object a call's function expression names in ``fn``'s globals, or None."""
    if isinstance(node, ast.Name):
        _reads().append((fn.__globals__, node.id, fn.__globals__.get(node.id, _ABSENT)))
        if node.id in fn.__globals__:
            return fn.__globals__[node.id]
        return getattr(builtins, node.id, None)
    if isinstance(node, ast.Attribute):
        base = _resolve(fn, node.value)
        if isinstance(base, types.ModuleType):
            return getattr(base, node.attr, None)
    return None


def constant_result_line(fn, depth: int = 0) -> Optional[int]:
    """The line of a gradient taken with EnableHigherDerivatives=False in ``fn`` when what
    ``fn`` returns is built only from such gradients (and constants): its result is a constant
    whatever its arguments are.  None where it may depend on them (or this cannot tell)."""
    if type(fn) is not types.FunctionType or depth > 3 or fn.__code__.co_freevars:
        return None
    key = (fn.__code__, id(fn.__globals__))
    reads = _reads()
    known = _MEMO.get(key)
    if known is not None and all(g.get(name, _ABSENT) is value for g, name, value in known[1]):
        if depth:
            reads.extend(known[1])
        return known[0]
    # (the answer read the helpers ``fn`` calls by name: kept with it, checked on reuse, so a helper
    # redefined since is read again; was: the old helper's "not constant", a zero gradient unrefused)
    _MEMO[key] = (None, ())                # recursion: not known to be constant
    outer = len(reads)
    result = None
    try:
        import inspect
        import textwrap
        source = textwrap.dedent(inspect.getsource(fn.__code__))
        tree = ast.parse(source)
        fdef = tree.body[0]
        first_line = fn.__code__.co_firstlineno
    except Exception:                      # no source: not known
        return None
    if isinstance(fdef, ast.FunctionDef) and not fdef.decorator_list:
        lines = []

        def is_cut(call) -> bool:
            target = _resolve(fn, call.func)
            if target is API.dlgradient and _no_higher(call):
                lines.append(first_line + call.lineno - 1)
                return True
            if type(target) is types.FunctionType and target is not fn:
                inner = constant_result_line(target, depth + 1)
                if inner is not None:
                    lines.append(first_line + call.lineno - 1)
                    return True
            return False

        stmts = _simple_statements(fdef.body)
        args = fdef.args
        params = {a.arg for a in args.posonlyargs + args.args + args.kwonlyargs}
        if stmts is not None and args.vararg is None and args.kwarg is None:
            locals_ = params | {n.id for s in stmts for n in ast.walk(s)
                                if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Store)}
            linked = _component_has(stmts, "<return>", params, locals_ | {"<return>"}, is_cut)
            if linked is False and lines and any(isinstance(s, ast.Return) and s.value is not None
                                                 for s in stmts):
                result = min(lines)
    _MEMO[key] = (result, tuple(reads[outer:]))
    if not depth:
        del reads[outer:]
    return result


_READING = threading.local()     # .reads: (globals, name, value) _resolve read while constant_result_line runs
_ABSENT = object()


def _reads() -> list:
    reads = getattr(_READING, "reads", None)
    if reads is None:
        reads = _READING.reads = []
    return reads


# --- the caller's sites -----------------------------------------------------------------------

def check_sites(fdef: gast.FunctionDef, activity, filename: str) -> None:
    """Refuse a dlgradient whose y is traced only through helpers returning constants."""
    sites = []
    for node in walk_nodes(fdef):
        if isinstance(node, gast.Assign) and isinstance(node.value, gast.Call):
            info = activity.call_info(node.value)
            if info.kind == CallKind.SITE and getattr(info.obj, "__name__", "") == "dlgradient" and \
                    node.value.args and isinstance(node.value.args[0], gast.Name) and \
                    node.value.args[0].id in activity.active:
                sites.append(node)
    if not sites:
        return
    # (one look at the function's nodes, a walk compile_function shares: none of those a
    # statement's walk looks for anywhere in it, no statement walked for them)
    stmts = _simple_statements(fdef.body, clean=not any(_unfollowed(n, gast) for n in walk_nodes(fdef)))
    if stmts is None:
        return
    params = {a.id for a in fdef.args.args + fdef.args.kwonlyargs}
    for extra in (fdef.args.vararg, fdef.args.kwarg):
        if extra is not None:
            params.add(extra.id)
    traced = params & activity.active
    locals_ = params | {n.id for s in stmts for n in walk_nodes(s)
                        if isinstance(n, gast.Name) and isinstance(n.ctx, gast.Store)}
    for site in sites:
        found = []

        def is_cut(call) -> bool:
            info = activity.call_info(call)
            if info.kind == CallKind.SITE and _no_higher(call):
                return True
            if info.kind == CallKind.FUNCTION and type(info.obj) is types.FunctionType:
                line = constant_result_line(info.obj)
                if line is not None:
                    found.append((info.obj, line, getattr(call, "lineno", None)))
                    return True
            return False

        y = site.value.args[0].id
        linked = _component_has([s for s in stmts if s is not site], y, traced, locals_, is_cut)
        if linked is False and found:
            helper, line, _ = found[0]
            where = helper.__code__.co_filename
            raise CompileError(
                f"dlgradient: y depends on the traced inputs only through the result of "
                f"{helper.__qualname__}(), which returns the gradient computed on line {line} of "
                f"{where} with EnableHigherDerivatives=False; that makes it a constant, so this "
                "derivative would be zero. Remove EnableHigherDerivatives=False there (the default, "
                "True, lets it be differentiated again)", filename, getattr(site, "lineno", None),
                "dlgradient")
