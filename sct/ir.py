"""Small helpers to build and inspect gast trees."""
from __future__ import annotations

import ast
import copy
from collections import deque
from typing import Any, Dict, Iterable, List

import gast


def load(name: str) -> gast.Name:
    return gast.Name(id=name, ctx=gast.Load(), annotation=None, type_comment=None)


def store(name: str) -> gast.Name:
    return gast.Name(id=name, ctx=gast.Store(), annotation=None, type_comment=None)


def const(value: Any) -> gast.Constant:
    return gast.Constant(value=value, kind=None)


def assign(target: str, value, lineno: int = None) -> gast.Assign:
    node = gast.Assign(targets=[store(target)], value=value, type_comment=None)
    if lineno is not None:
        node.lineno = lineno
    return node


def attr(value, name: str) -> gast.Attribute:
    return gast.Attribute(value=value, attr=name, ctx=gast.Load())


def call(func, args: Iterable = (), keywords: Iterable = ()) -> gast.Call:
    if isinstance(func, str):
        func = dotted(func)
    return gast.Call(func=func, args=list(args), keywords=list(keywords))


def dotted(path: str):
    parts = path.split(".")
    node = load(parts[0])
    for p in parts[1:]:
        node = attr(node, p)
    return node


def expr_stmt(value) -> gast.Expr:
    return gast.Expr(value=value)


_ATOMS = (str, int, float, complex, bool, bytes, type(None), type(Ellipsis))


def copy_tree(node, memo=None):
    """``copy.deepcopy`` of an AST, several times faster: nodes and lists are copied (a node
    met twice is copied once, as deepcopy does), immutable leaves are shared, anything else
    goes through deepcopy."""
    if memo is None:
        memo = {}
    if isinstance(node, ast.AST):
        done = memo.get(id(node))
        if done is not None:
            return done
        cls = type(node)
        new = cls.__new__(cls)
        memo[id(node)] = new
        d = new.__dict__
        for k, v in node.__dict__.items():
            d[k] = v if isinstance(v, _ATOMS) else copy_tree(v, memo)
        return new
    if isinstance(node, list):
        return [v if isinstance(v, _ATOMS) else copy_tree(v, memo) for v in node]
    if isinstance(node, _ATOMS):
        return node
    return copy.deepcopy(node, memo)


def substitute(template, mapping: Dict[str, Any]):
    """A copy of ``template`` with each loaded Name in ``mapping`` replaced (by a copy).

    One pass that copies and replaces (the tree a copy followed by a NodeTransformer over the
    copy's fields gave, without the second walk: this ran for every instantiated rule)."""
    return _copy_substitute(template, {}, mapping)


def _copy_substitute(node, memo, mapping):
    if isinstance(node, gast.Name) and node.id in mapping and isinstance(node.ctx, gast.Load):
        repl = mapping[node.id]
        if isinstance(repl, str):
            return load(repl)
        return copy_tree(repl)
    if isinstance(node, ast.AST):
        done = memo.get(id(node))
        if done is not None:        # met twice: one copy, as copy_tree makes
            return done
        cls = type(node)
        new = cls.__new__(cls)
        memo[id(node)] = new
        d = new.__dict__
        fields = node._fields
        for k, v in node.__dict__.items():
            if isinstance(v, _ATOMS):
                d[k] = v
            elif k in fields:       # the transformer visited fields only
                d[k] = _copy_substitute(v, memo, mapping)
            else:
                d[k] = copy_tree(v, memo)
        return new
    if isinstance(node, list):
        return [v if isinstance(v, _ATOMS) else _copy_substitute(v, memo, mapping) for v in node]
    return copy_tree(node, memo)


def node_key(node):
    """A hashable key of a tree, equal for two trees exactly when their ``gast.dump`` strings
    are (the fields ``dump`` prints, leaves by ``repr``), several times faster to make."""
    if isinstance(node, ast.AST):
        cls = type(node)
        parts = [cls.__name__]
        for name in node._fields:
            value = getattr(node, name, _SKIPPED)
            if value is _SKIPPED or (value is None and getattr(cls, name, 42) is None) or \
                    (type(value) is list and not value):
                continue            # what dump leaves out
            parts.append(name)
            parts.append(node_key(value))
        return tuple(parts)
    if isinstance(node, list):
        return ("[", *[node_key(v) for v in node])
    return repr(node)


_SKIPPED = object()


def walk(node):
    """``gast.walk`` (the same nodes in the same breadth-first order), about twice as fast:
    the fields are read directly instead of through ``iter_child_nodes``/``iter_fields``."""
    AST = ast.AST
    todo = deque([node])
    popleft, append = todo.popleft, todo.append
    while todo:
        node = popleft()
        for name in node._fields:
            field = getattr(node, name, None)
            if isinstance(field, AST):
                append(field)
            elif isinstance(field, list):
                for item in field:
                    if isinstance(item, AST):
                        append(item)
        yield node


def loaded_names(node) -> List[str]:
    """The loaded names of ``node`` in ``walk``'s order (its breadth-first loop, inlined: this
    runs for every statement of every sweep)."""
    AST, Name, Load = ast.AST, gast.Name, gast.Load
    out: List[str] = []
    todo = [node]
    append = todo.append
    i = 0
    while i < len(todo):
        n = todo[i]
        i += 1
        if isinstance(n, Name) and isinstance(n.ctx, Load):
            out.append(n.id)
        for name in n._fields:
            field = getattr(n, name, None)
            if isinstance(field, AST):
                append(field)
            elif isinstance(field, list):
                for item in field:
                    if isinstance(item, AST):
                        append(item)
    return out


def dotted_name(node) -> str:
    """``np.linalg.norm`` for an Attribute chain on a Name, '' otherwise."""
    parts = []
    while isinstance(node, gast.Attribute):
        parts.append(node.attr)
        node = node.value
    if isinstance(node, gast.Name):
        parts.append(node.id)
        return ".".join(reversed(parts))
    return ""


def walk_no_defs(node):
    """gast.walk that does not enter nested function or class definitions."""
    AST, defs = ast.AST, (gast.FunctionDef, gast.AsyncFunctionDef, gast.ClassDef, gast.Lambda)
    todo = [node]
    pop, append = todo.pop, todo.append
    while todo:
        n = pop()
        yield n
        for name in n._fields:          # iter_child_nodes, read directly (same order)
            field = getattr(n, name, None)
            if isinstance(field, AST):
                if not isinstance(field, defs):
                    append(field)
            elif isinstance(field, list):
                for child in field:
                    if isinstance(child, AST) and not isinstance(child, defs):
                        append(child)
