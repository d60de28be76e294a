"""``global G`` in a compiled function: a step counter (``global STEP; STEP += 1``) as Python runs it.

Generated code reads a module global's value as it was when the code was compiled, guarded to still
hold at each call (sct/cache.py).  A function that rebinds a global itself would make that guard fail
at every call and read the old value after its own write.  So such a name becomes a local of the
function: read from the module's globals where the function starts (``rt.global_value``), and written
back right after each assignment to it (``rt.set_global``); both are effects (sct.runtime.effects), so
a recomputation for a second derivative replays what the first run read and does not write again.
The name is no longer a global of the generated code: it is not guarded, and a cache hit reads the
value the module holds at that call.

Rewritten only where every binding of the name is a plain assignment (``G = v``, ``G += v``,
``G: int = v``) in the function's own body and no nested function or lambda names it; anything else
(``for G in``, ``del G``, ``global`` in a nested def) is refused as before (sct/normalize_exprs.py).
The values are checked when the code runs (numbers, strings, None: sct.runtime.effects.global_value),
a traced value assigned to the global is refused when compiling (``check_global_stores``), and so is
a function reachable from this one that reads or rebinds the same global (it would see a value of
its own: ``check_global_readers``).
"""
from __future__ import annotations

from typing import Dict, List, Optional, Set

import gast

from .errors import CompileError
from .ir import assign, call, const, expr_stmt, load, walk_nodes

MADE_NAME = "module_globals"


def _scoped(node) -> bool:
    return isinstance(node, (gast.FunctionDef, gast.AsyncFunctionDef, gast.Lambda, gast.ClassDef))


def _own_nodes(fdef):
    """The nodes of ``fdef``'s own scope (nested defs, lambdas and classes are not entered), with each
    node's parent."""
    todo = [(child, fdef) for child in gast.iter_child_nodes(fdef)]
    while todo:
        node, parent = todo.pop()
        yield node, parent
        if not _scoped(node):
            todo.extend((child, node) for child in gast.iter_child_nodes(node))


def _nested_names(fdef) -> Set[str]:
    """The names nested functions, lambdas and classes of ``fdef`` mention."""
    found: Set[str] = set()
    for node, _ in _own_nodes(fdef):
        if _scoped(node):
            found.update(n.id for n in walk_nodes(node) if isinstance(n, gast.Name))
            if not isinstance(node, gast.Lambda):
                found.add(node.name)
    return found


def _rewritable(fdef, names: Set[str]) -> bool:
    """Every binding of ``names`` in ``fdef``'s own scope is a plain assignment's target."""
    if names & _nested_names(fdef):
        return False
    for node, parent in _own_nodes(fdef):
        if isinstance(node, gast.Name) and node.id in names and not isinstance(node.ctx, gast.Load):
            if isinstance(parent, gast.Assign) and any(t is node for t in parent.targets):
                continue
            if isinstance(parent, gast.AugAssign) and parent.target is node:
                continue
            if isinstance(parent, gast.AnnAssign) and parent.target is node and parent.value is not None:
                continue
            return False
        if isinstance(node, (gast.Import, gast.ImportFrom)) and \
                any((a.asname or a.name.split(".")[0]) in names for a in node.names):
            return False
        if isinstance(node, gast.ExceptHandler) and node.name is not None and \
                getattr(node.name, "id", node.name) in names:
            return False
    return True


def _first_read(body: List, name: str) -> bool:
    """Does ``body`` (the function's statements) read ``name`` before a top-level plain ``name = v``
    that does not read it binds it?  (Where not, the function starts by reading the global.)"""
    for stmt in body:
        reads = any(isinstance(n, gast.Name) and n.id == name and isinstance(n.ctx, gast.Load)
                    for n in walk_nodes(stmt))
        stores = any(isinstance(n, gast.Name) and n.id == name and not isinstance(n.ctx, gast.Load)
                     for n in walk_nodes(stmt))
        if reads or isinstance(stmt, gast.AugAssign) and getattr(stmt.target, "id", None) == name:
            return True
        if stores:
            return not (isinstance(stmt, gast.Assign) and all(isinstance(t, gast.Name) for t in stmt.targets))
    return False


def _stores(stmt, names: Set[str]) -> List[str]:
    targets = stmt.targets if isinstance(stmt, gast.Assign) else \
        [stmt.target] if isinstance(stmt, (gast.AugAssign, gast.AnnAssign)) else []
    return [t.id for t in targets if isinstance(t, gast.Name) and t.id in names]


def _rewrite_body(body: List, names: Set[str], namespace: str, rt_name: str, line: int = None) -> List:
    out: List = []
    for stmt in body:
        if isinstance(stmt, gast.Global):
            continue
        for field in ("body", "orelse", "finalbody"):
            inner = getattr(stmt, field, None)
            if isinstance(inner, list) and inner and not _scoped(stmt):
                setattr(stmt, field, _rewrite_body(inner, names, namespace, rt_name, line) or [gast.Pass()])
        for handler in getattr(stmt, "handlers", None) or ():
            handler.body = _rewrite_body(handler.body, names, namespace, rt_name, line) or [gast.Pass()]
        for case in getattr(stmt, "cases", None) or ():
            case.body = _rewrite_body(case.body, names, namespace, rt_name, line) or [gast.Pass()]
        out.append(stmt)
        for name in dict.fromkeys(_stores(stmt, names)):
            write = expr_stmt(call(f"{rt_name}.set_global", [load(namespace), const(name), load(name), const(line)]))
            out.append(gast.copy_location(write, stmt))
    return out


def rewrite_global_statements(fn, fdef, namer, rt_name: str) -> Optional[Dict[str, dict]]:
    """Rewrite ``fdef``'s own ``global`` statements (see the module's docstring); ``{name: fn's
    globals}`` for the name of the namespace the generated code reads (``resolver.made``), or None
    where there is none (or it cannot be rewritten: then the statement is refused as before)."""
    names: Set[str] = set()
    lines = []
    for node, _ in _own_nodes(fdef):
        if isinstance(node, gast.Global):
            names.update(node.names)
            lines.append(getattr(node, "lineno", None) or fdef.lineno)
    if not names or not _rewritable(fdef, names) or not hasattr(fn, "__globals__"):
        return None
    stored = {n.id for n, _ in _own_nodes(fdef) if isinstance(n, gast.Name) and n.id in names and
              not isinstance(n.ctx, gast.Load)}
    if not stored:          # ``global LOG`` of a name only read (LOG.append(v)): Python's meaning without it
        fdef.body = _rewrite_body(fdef.body, set(), "", rt_name) or [gast.Pass()]
        return None
    names = stored
    namespace = namer.fresh_global(MADE_NAME)
    fdef.sct_global_line = line = min(lines)
    body = _rewrite_body(fdef.body, names, namespace, rt_name, line)
    reads = []
    for name in sorted(names):
        if _first_read(body, name):
            read = assign(name, call(f"{rt_name}.global_value", [load(namespace), const(name), const(line)]))
            reads.append(gast.copy_location(read, fdef.body[0]))
    fdef.body = reads + (body or [gast.Pass()])
    fdef.sct_global_names = frozenset(names)
    return {namespace: fn.__globals__}


def check_global_stores(fdef, active, rt_name: str) -> None:
    """A traced value assigned to a global the function declares (``global BEST; BEST = float(loss)``):
    ``rt.set_global`` is told so, and refuses, when the code runs, a value Python would hold as a dlarray
    (an array or numpy scalar in sct's code; a Python number is the number in both)."""
    for node in walk_nodes(fdef):
        if isinstance(node, gast.Call) and isinstance(node.func, gast.Attribute) and \
                node.func.attr == "set_global" and isinstance(node.func.value, gast.Name) and \
                node.func.value.id == rt_name and len(node.args) == 4 and \
                isinstance(node.args[2], gast.Name) and node.args[2].id in active:
            node.args.append(const(True))


def check_global_readers(fn, fdef, filename: str) -> None:
    """A function reachable from ``fn`` that reads or rebinds a global ``fn`` rebinds: its code (compiled,
    guarded on the value at the call's start) would not see ``fn``'s writes, and ``fn``'s copy would not
    see its writes; refused."""
    names = getattr(fdef, "sct_global_names", None)
    if not names:
        return
    from .global_writes import touched_global
    found = touched_global(fn, set(names))
    if found is None:
        return
    name, func, how = found
    raise CompileError(f"{fn.__qualname__}() rebinds the global {name!r} (global {name}), and "
                       f"{func.__qualname__}(), which it may call, {how} it too: sct follows such a global only "
                       f"within the function that declares it. Pass {name} to {func.__qualname__}() as an argument "
                       f"(and return its new value)", filename, getattr(fdef, "sct_global_line", None), f"global {name}")
