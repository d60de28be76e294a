"""A class statement inside a differentiated function (``class MLP: ...`` then ``MLP(W).forward(X)``,
common in notebooks: corp52 FR1).

Python runs the statement at each call: it makes a new class, whose methods are plain functions.
sct runs it so too: the statement becomes ``MLP = rt.user_call(made)``, where ``made`` is a function
compiled from the statement alone (``def f(): class MLP: ...; return MLP``, named as the enclosing
function, in its file and lines and with its globals, so the class's ``__qualname__``, ``__module__``
and its methods' source are Python's), run as the user's code is where sct does not differentiate it.
A call of the class or of its methods is then the call of a class known at run time only, compiled
on its first call as a module-level class's (sct/call_sites.py).

Exact only where the class reads nothing of the enclosing function's scope (in Python its body,
methods, bases and decorators may read the function's locals; in ``made`` those names would be
globals): where it reads a name the function binds (its parameters, locals, closure values; the
class's own name only where the function binds it by this statement alone), or where ``made`` does
not compile, the statement is left in place, refused as before (sct/normalize_exprs.py UNSUPPORTED).
"""
from __future__ import annotations

import ast
import copy
import dis
import types
from typing import Any, Dict, List

import gast

from .ir import assign, call, load

# the opcodes by which code reads or writes a global (or, in a class body, a name of the class or a global)
_GLOBAL_OPS = frozenset(("LOAD_GLOBAL", "LOAD_NAME", "STORE_GLOBAL", "DELETE_GLOBAL", "LOAD_FROM_DICT_OR_GLOBALS"))


def local_class_copies(fdef) -> Dict[int, Any]:
    """The class statements of ``fdef`` (not inside a nested def or class), as Python's ast, by
    line, taken before any pass changes the tree."""
    out = {}
    for s in _class_statements(fdef.body):
        try:
            out[id(s)] = gast.gast_to_ast(copy.deepcopy(s))
        except Exception:           # (a statement gast cannot give back: left as it was, refused)
            continue
    return out


def _class_statements(stmts: List):
    for s in stmts:
        if isinstance(s, gast.ClassDef):
            yield s
        elif not isinstance(s, (gast.FunctionDef, gast.AsyncFunctionDef)):
            for field in ("body", "orelse", "finalbody"):
                inner = getattr(s, field, None)
                if isinstance(inner, list):
                    yield from _class_statements(inner)
            for h in getattr(s, "handlers", None) or ():
                yield from _class_statements(h.body)
            for c in getattr(s, "cases", None) or ():
                yield from _class_statements(c.body)


def _code_names(code) -> set:
    """The global names ``code`` and the code nested in it read or write."""
    found, todo = set(), [code]
    while todo:
        c = todo.pop()
        found.update(i.argval for i in dis.get_instructions(c) if i.opname in _GLOBAL_OPS)
        todo.extend(k for k in c.co_consts if isinstance(k, types.CodeType))
    return found


def given_names(node: ast.ClassDef, code) -> List[str]:
    """The names of ``code``'s scope (the enclosing function's) that the class statement's decorators,
    bases and keywords read: evaluated where the statement stands (``class Net(Base)`` of a class
    ``Base`` made before in the function), given to ``made`` as its arguments."""
    scope = set(code.co_varnames) | set(code.co_cellvars) | set(code.co_freevars)
    found = []
    for e in list(node.decorator_list) + list(node.bases) + [k.value for k in node.keywords]:
        for n in ast.walk(e):
            if isinstance(n, ast.Name) and n.id in scope and n.id not in found and n.id != node.name:
                found.append(n.id)
    return found


def _factory(fn, node: ast.ClassDef):
    """``made`` for the class statement ``node`` of ``fn``, or None where it would read another
    value than Python's (a name of ``fn``'s scope) or does not compile.  ``made`` is compiled inside
    empty definitions named as ``fn``'s qualified name says (``outer.<locals>.loss``, ``Model.loss``),
    so that the class's ``__qualname__`` is Python's."""
    code = getattr(fn, "__code__", None)
    glob = getattr(fn, "__globals__", None)
    qualname = getattr(fn, "__qualname__", None)
    if code is None or not isinstance(glob, dict) or not isinstance(qualname, str) or \
            qualname.rsplit(".", 1)[-1] != code.co_name:
        return None
    parts = qualname.split(".")
    body: List[ast.stmt] = [node, ast.Return(value=ast.Name(id=node.name, ctx=ast.Load()))]
    params = given_names(node, code)
    k = len(parts) - 1
    kind = "def"
    while k >= 0:
        if parts[k] == "<locals>":
            kind = "def"
            k -= 1
            continue
        wrapper = ast.parse(f"def {parts[k]}({', '.join(params) if k == len(parts) - 1 else ''}):\n    pass"
                            if kind == "def" else f"class {parts[k]}:\n    pass").body[0]
        wrapper.body = body
        body = [wrapper] if kind != "def" or k == len(parts) - 1 else [wrapper, ast.Pass()]
        kind = "class"
        k -= 1
    module = ast.Module(body=body, type_ignores=[])
    inside = {id(n) for n in ast.walk(node)}
    for n in ast.walk(module):            # (the wrappers on the class's line)
        if isinstance(n, (ast.stmt, ast.expr)) and id(n) not in inside:
            n.lineno = n.end_lineno = node.lineno
            n.col_offset = n.end_col_offset = 0
    ast.fix_missing_locations(module)
    try:
        compiled = compile(module, code.co_filename, "exec", dont_inherit=True)
    except (SyntaxError, ValueError, TypeError):
        return None
    found, todo = [], [compiled]
    while todo:
        c = todo.pop()
        for k2 in c.co_consts:
            if isinstance(k2, types.CodeType):
                if k2.co_qualname == qualname:
                    found.append(k2)
                else:
                    todo.append(k2)
    if len(found) != 1 or found[0].co_freevars or found[0].co_cellvars:
        return None         # (a parameter, a base class or decorator of fn's, read inside the class too)
    scope = set(code.co_varnames) | set(code.co_cellvars) | set(code.co_freevars)
    if _code_names(found[0]) & scope:
        return None
    made = types.FunctionType(found[0], glob, code.co_name)
    made.__qualname__ = qualname
    made.__module__ = getattr(fn, "__module__", None)
    return made


def run_local_classes(fn, fdef, copies: Dict[int, Any], namer, rt_name: str) -> Dict[str, Any]:
    """Each class statement of ``fdef`` that ``_factory`` makes a ``made`` for becomes ``Name =
    rt.user_call(made_name)``; the names bound to the ``made`` functions (for the resolver)."""
    found: Dict[str, Any] = {}
    stores: Dict[str, int] = {}
    for n in gast.walk(fdef):
        if isinstance(n, gast.Name) and isinstance(n.ctx, (gast.Store, gast.Del)):
            stores[n.id] = stores.get(n.id, 0) + 1
        elif isinstance(n, (gast.FunctionDef, gast.AsyncFunctionDef, gast.ClassDef)) and n is not fdef:
            stores[n.name] = stores.get(n.name, 0) + 1

    def rewrite(stmts: List):
        for i, s in enumerate(stmts):
            if isinstance(s, gast.ClassDef):
                node = copies.get(id(s))
                if node is None or stores.get(s.name, 0) != 1 or \
                        any(isinstance(n, (gast.Name,)) and n.id == s.name for n in gast.walk(s)):
                    # (a class read by its own name inside: where fn binds the name more than once, or it is
                    # read in the statement itself, Python's cell and made's may differ)
                    continue
                made = _factory(fn, node)
                if made is None:
                    continue
                name = namer.fresh_global(f"{s.name}_class")
                found[name] = made
                new = assign(s.name, call(f"{rt_name}.user_call", [load(name)] +
                                          [load(n) for n in given_names(node, fn.__code__)]), s.lineno)
                stmts[i] = new
            elif not isinstance(s, (gast.FunctionDef, gast.AsyncFunctionDef)):
                for field in ("body", "orelse", "finalbody"):
                    inner = getattr(s, field, None)
                    if isinstance(inner, list):
                        rewrite(inner)
                for h in getattr(s, "handlers", None) or ():
                    rewrite(h.body)
                for c in getattr(s, "cases", None) or ():
                    rewrite(c.body)
    rewrite(fdef.body)
    return found
