"""Small helpers to build and inspect gast trees."""
from __future__ import annotations

import ast
import copy
import os
from contextlib import contextmanager
from typing import Any, Dict, Iterable, List, Optional, Set, Tuple

import gast


# The builders below make their nodes as gast's constructor does (``gast.Name(id=..., ctx=gast.Load(),
# ...)``: the fields set in the instance's ``__dict__``, in that order, nothing else), without its
# keyword handling: they run for most nodes the compiler makes (hundreds of thousands for a long
# function).  ``_new(cls)`` is the node with no field set (``ast.AST``'s ``__new__``).
_new = ast.AST.__new__
_Name, _Load, _Store, _Constant, _Assign, _Attribute, _Call, _Expr = \
    gast.Name, gast.Load, gast.Store, gast.Constant, gast.Assign, gast.Attribute, gast.Call, gast.Expr


def load(name: str) -> gast.Name:
    node = _new(_Name)          # gast.Name(id=name, ctx=gast.Load(), annotation=None, type_comment=None)
    node.__dict__.update(id=name, ctx=_new(_Load), annotation=None, type_comment=None)
    return node


def store(name: str) -> gast.Name:
    node = _new(_Name)          # gast.Name(id=name, ctx=gast.Store(), annotation=None, type_comment=None)
    node.__dict__.update(id=name, ctx=_new(_Store), annotation=None, type_comment=None)
    return node


def const(value: Any) -> gast.Constant:
    node = _new(_Constant)      # gast.Constant(value=value, kind=None)
    node.__dict__.update(value=value, kind=None)
    return node


def assign(target: str, value, lineno: int = None) -> gast.Assign:
    node = _new(_Assign)        # gast.Assign(targets=[store(target)], value=value, type_comment=None)
    node.__dict__.update(targets=[store(target)], value=value, type_comment=None)
    if lineno is not None:
        node.lineno = lineno
    return node


def attr(value, name: str) -> gast.Attribute:
    node = _new(_Attribute)     # gast.Attribute(value=value, attr=name, ctx=gast.Load())
    node.__dict__.update(value=value, attr=name, ctx=_new(_Load))
    return node


def call(func, args: Iterable = (), keywords: Iterable = ()) -> gast.Call:
    if isinstance(func, str):
        func = dotted(func)
    node = _new(_Call)          # gast.Call(func=func, args=list(args), keywords=list(keywords))
    node.__dict__.update(func=func, args=list(args), keywords=list(keywords))
    return node


def dotted(path: str):
    parts = path.split(".")
    node = load(parts[0])
    for p in parts[1:]:
        node = attr(node, p)
    return node


def expr_stmt(value) -> gast.Expr:
    node = _new(_Expr)          # gast.Expr(value=value)
    node.__dict__["value"] = value
    return node


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


_BUILDERS: Dict[int, tuple] = {}
_MISS = object()


def substitute_template(template, mapping: Dict[str, Any]):
    """``substitute`` for a tree that never changes (a rule's template, instantiated for every
    call of its op): a function that builds the copy directly, generated once per template at its
    8th use (the same tree ``substitute`` makes; templates it cannot build go to ``substitute``)."""
    hit = _BUILDERS.get(id(template))
    if hit is None or hit[0] is not template:
        if len(_BUILDERS) > 4096:
            _BUILDERS.clear()
        hit = _BUILDERS[id(template)] = (template, 0)
    builder = hit[1]
    if builder.__class__ is int:        # made at the 8th use (compiling it costs about 8 uses)
        if builder < 7:
            _BUILDERS[id(template)] = (template, builder + 1)
            return substitute(template, mapping)
        builder = _make_builder(template)
        _BUILDERS[id(template)] = (template, builder)
    if builder is None:
        return substitute(template, mapping)
    return builder(mapping)


def _make_builder(template):
    consts: List = []
    lines: List[str] = []
    seen: set = set()
    counter = [0]

    def const_ref(value) -> str:
        consts.append(value)
        return f"C[{len(consts) - 1}]"

    def emit(node, indent: str) -> str:
        """Lines that build the copy of ``node``; returns the expression naming it."""
        if isinstance(node, _ATOMS):
            return const_ref(node)
        if isinstance(node, list):
            return "[" + "".join(emit(v, indent) + ", " for v in node) + "]"
        if not isinstance(node, ast.AST) or id(node) in seen:
            raise _NoBuilder        # shared nodes or other objects: substitute's own way
        seen.add(id(node))
        counter[0] += 1
        var = f"n{counter[0]}"
        if isinstance(node, gast.Name) and isinstance(node.ctx, gast.Load):
            lines.append(f"{indent}r = m.get({node.id!r}, MISS)")
            lines.append(f"{indent}if r is not MISS:")
            lines.append(f"{indent}    {var} = load(r) if isinstance(r, str) else copy_tree(r)")
            lines.append(f"{indent}else:")
            copy_node(node, var, indent + "    ")
        else:
            copy_node(node, var, indent)
        return var

    def copy_node(node, var: str, indent: str) -> None:
        fields = node._fields
        items = []
        for k, v in node.__dict__.items():
            if isinstance(v, _ATOMS):
                items.append(f"{k!r}: {const_ref(v)}")
            elif k in fields:
                items.append(f"{k!r}: {emit(v, indent)}")
            else:
                raise _NoBuilder
        cls = const_ref(node.__class__)
        lines.append(f"{indent}{var} = {cls}.__new__({cls})")
        lines.append(f"{indent}{var}.__dict__.update({{{', '.join(items)}}})")

    try:
        root = emit(template, "    ")
    except _NoBuilder:
        return None
    source = "def build(m):\n" + "\n".join(lines) + f"\n    return {root}\n"
    namespace = {"C": consts, "MISS": _MISS, "load": load, "copy_tree": copy_tree}
    exec(compile(source, "<sct template builder>", "exec"), namespace)
    return namespace["build"]


class _NoBuilder(Exception):
    pass


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


# The fields of each node class that may hold nodes other than the context and operator
# leaves (Load, Store, Add, Eq, ...): the walks below read only these (a name, an attribute
# or a constant's value is never a node; a ctx or op field holds a leaf no pass looks for).
_NOT_CHILDREN = frozenset({"id", "attr", "arg", "type_comment", "kind", "level", "module", "asname",
                           "simple", "conversion", "is_async", "ctx", "op", "ops"})
_CHILD_FIELDS: Dict[type, tuple] = {}


def _child_fields(cls) -> tuple:
    fields = _CHILD_FIELDS[cls] = tuple(
        name for name in cls._fields
        if name not in _NOT_CHILDREN and not (name == "value" and cls is gast.Constant) and
        not (name == "name" and cls in (gast.FunctionDef, gast.AsyncFunctionDef, gast.ClassDef, gast.alias)))
    return fields


def rewrite_children(node, rewrite) -> None:
    """Replace each child of ``node`` by ``rewrite(child)``, in place, reading only the fields
    that can hold nodes (not the context and operator leaves): a ``NodeTransformer``'s
    ``generic_visit`` without its dispatch (a ``rewrite`` returns a node, never None or a list)."""
    fields = _CHILD_FIELDS.get(node.__class__)
    if fields is None:
        fields = _child_fields(node.__class__)
    for name in fields:
        old = getattr(node, name, None)
        if old.__class__ is list:
            for i, item in enumerate(old):
                if isinstance(item, ast.AST):
                    old[i] = rewrite(item)
        elif isinstance(old, ast.AST):
            setattr(node, name, rewrite(old))


# --- one walk of a tree that does not change, shared by the passes that read it --------------------

#: id(root) -> [root, walk_nodes(root)'s nodes or None, walk_no_defs(root)'s or None] while a
#: ``shared_walks(root)`` is open (compilation holds one lock: sct.compiler._COMPILING)
_SHARED: Dict[int, list] = {}
#: SCT_CHECK_SHARED_WALKS=1: every walk given from a shared list is checked against a fresh walk
_CHECK_SHARED = os.environ.get("SCT_CHECK_SHARED_WALKS", "").strip() not in ("", "0")


@contextmanager
def shared_walks(root):
    """Inside, ``walk_nodes(root)`` and ``walk_no_defs(root)`` walk ``root`` once each and then give
    the nodes of that walk again (the same nodes in the same order), for a stretch of passes that
    only read the tree: nothing may change ``root``'s tree inside (a node replaced, added or
    removed there would leave the passes after it a stale walk).  Walks of other nodes (a
    statement, an expression) are walked as always."""
    key = id(root)
    if key in _SHARED:          # (already open for it further out)
        yield
        return
    entry = _SHARED[key] = [root, None, None, {}]
    try:
        yield
    finally:
        if _SHARED.get(key) is entry:
            del _SHARED[key]
        else:               # (stop_sharing: walked as always since)
            entry = [root, None, None, {}]
    if _CHECK_SHARED:       # (and at the end: the tree the passes inside read is the tree still)
        for slot, walk in ((1, _walk_nodes), (2, _walk_no_defs)):
            if entry[slot] is not None:
                _check_same(entry[slot], walk, root)


def stop_sharing(root) -> None:
    """From here to the end of its ``shared_walks``, ``root`` is walked as always (a pass about to
    change its tree in many places)."""
    entry = _SHARED.get(id(root))
    if entry is not None and entry[0] is root:
        del _SHARED[id(root)]


def tree_changed(root) -> None:
    """``root``'s tree was changed (a node added, removed or replaced) inside ``shared_walks(root)``:
    its next walks walk it again.  (A leaf changed in place, a name's ``id`` or an attribute's
    ``attr``, changes no walk: which nodes a walk meets depends only on the nodes.)"""
    entry = _SHARED.get(id(root))
    if entry is not None and entry[0] is root:
        entry[1] = entry[2] = None
        entry[3].clear()


def shared_fact(root, key: str, compute):
    """``compute(root)``, computed once inside ``shared_walks(root)`` while its tree is unchanged (a fact of
    the whole function that a pass asks for once per statement: computed again after ``tree_changed``) and
    every time outside one.  The value is shared: a caller reads it, never changes it."""
    if _SHARED:
        entry = _SHARED.get(id(root))
        if entry is not None and entry[0] is root:
            facts = entry[3]
            if key in facts:
                found = facts[key]
                if _CHECK_SHARED and found != compute(root):
                    raise AssertionError(f"sct.ir.shared_fact: {key!r} of {getattr(root, 'name', root)!r} "
                                         "changed inside a shared walk")
                return found
            found = facts[key] = compute(root)
            return found
    return compute(root)


def _shared_walk(entry, slot: int, walk, node):
    nodes = entry[slot]
    if nodes is None:
        build = _WALK_LISTS.get(walk)      # (the walk itself where it has no twin: a test's counting walk)
        nodes = entry[slot] = build(node) if build is not None else list(walk(node))
    elif _CHECK_SHARED:
        _check_same(nodes, walk, node)
    return iter(nodes)


def _check_same(nodes: List, walk, node) -> None:
    fresh = list(walk(node))
    if len(fresh) != len(nodes) or any(a is not b for a, b in zip(fresh, nodes)):
        raise AssertionError(f"sct.ir.shared_walks: the tree of {getattr(node, 'name', node)!r} "
                             "changed inside a shared walk")


def walk_nodes(node):
    """``gast.walk`` without the context and operator leaves (``Load``, ``Store``, ``Add``,
    ``Eq``...): every other node, in the same breadth-first order, in about half the time.
    For the passes that look for names, calls and statements (a leaf's type is still read
    through its parent: ``n.ctx``, ``n.op``).  Inside ``shared_walks(node)``: that one walk's nodes."""
    if _SHARED:
        entry = _SHARED.get(id(node))
        if entry is not None and entry[0] is node:
            return _shared_walk(entry, 1, _walk_nodes, node)
    return _walk_nodes(node)


def walk_nodes_list(node) -> List:
    """``list(walk_nodes(node))`` (a new list), built without the generator."""
    if _SHARED:
        entry = _SHARED.get(id(node))
        if entry is not None and entry[0] is node:
            return list(_shared_walk(entry, 1, _walk_nodes, node))
    return _walk_nodes_list(node)


def _walk_nodes(node):
    AST, fields_of = ast.AST, _CHILD_FIELDS
    todo = [node]           # (breadth first: the list is the queue, read on while it grows)
    append = todo.append
    for node in todo:
        cls = node.__class__
        fields = fields_of.get(cls)
        if fields is None:
            fields = _child_fields(cls)
        for name in fields:
            field = getattr(node, name, None)
            if isinstance(field, AST):
                append(field)
            elif field.__class__ is list:
                for item in field:
                    if isinstance(item, AST):
                        append(item)
        yield node


def _walk_nodes_list(node) -> List:
    """``list(_walk_nodes(node))``, built without the generator (the queue is the list)."""
    AST, fields_of = ast.AST, _CHILD_FIELDS
    todo = [node]
    append = todo.append
    for node in todo:
        cls = node.__class__
        fields = fields_of.get(cls)
        if fields is None:
            fields = _child_fields(cls)
        for name in fields:
            field = getattr(node, name, None)
            if isinstance(field, AST):
                append(field)
            elif field.__class__ is list:
                for item in field:
                    if isinstance(item, AST):
                        append(item)
    return todo


def child_nodes(node) -> List:
    """``gast.iter_child_nodes`` without the context and operator leaves, as a list (the same
    order)."""
    AST = ast.AST
    fields = _CHILD_FIELDS.get(node.__class__)
    if fields is None:
        fields = _child_fields(node.__class__)
    out = []
    for name in fields:
        field = getattr(node, name, None)
        if isinstance(field, AST):
            out.append(field)
        elif isinstance(field, list):
            out.extend(item for item in field if isinstance(item, AST))
    return out


def pattern_captures(node) -> List[Tuple[str, str]]:
    """The names a ``match`` pattern node binds, each with its field: ``case c:``, ``case [*c]`` (``name``),
    ``case {**c}`` (``rest``); strings in the tree, not Name nodes, so a walk for gast.Name misses them."""
    if type(node).__name__ not in ("MatchAs", "MatchStar", "MatchMapping"):
        return []
    return [(f, getattr(node, f)) for f in ("name", "rest") if isinstance(getattr(node, f, None), str)]


def loaded_names(node) -> List[str]:
    """The loaded names of ``node`` in ``walk``'s order (its breadth-first loop, inlined: this
    runs for every statement of every sweep)."""
    AST, Name, Load, fields_of = ast.AST, gast.Name, gast.Load, _CHILD_FIELDS
    out: List[str] = []
    todo = [node]
    append = todo.append
    i = 0
    while i < len(todo):
        n = todo[i]
        i += 1
        cls = n.__class__
        if isinstance(n, Name) and isinstance(n.ctx, Load):
            out.append(n.id)
        fields = fields_of.get(cls)
        if fields is None:
            fields = _child_fields(cls)
        for name in fields:
            field = getattr(n, name, None)
            if isinstance(field, AST):
                append(field)
            elif isinstance(field, list):
                for item in field:
                    if isinstance(item, AST):
                        append(item)
    return out


def name_summary(node) -> Tuple[List[str], Set[str], Set[str]]:
    """``loaded_names(node)``, the names it stores (``Store`` context) and every name in it, from
    one walk (sct/sweeps.py: a sweep's statements, read three ways)."""
    AST, Name, Load, Store, fields_of = ast.AST, gast.Name, gast.Load, gast.Store, _CHILD_FIELDS
    out: List[str] = []
    stores: Set[str] = set()
    ids: Set[str] = set()
    todo = [node]
    append = todo.append
    i = 0
    while i < len(todo):
        n = todo[i]
        i += 1
        cls = n.__class__
        if isinstance(n, Name):
            ids.add(n.id)
            ctx = n.ctx
            if isinstance(ctx, Load):
                out.append(n.id)
            elif isinstance(ctx, Store):
                stores.add(n.id)
        fields = fields_of.get(cls)
        if fields is None:
            fields = _child_fields(cls)
        for name in fields:
            field = getattr(n, name, None)
            if isinstance(field, AST):
                append(field)
            elif isinstance(field, list):
                for item in field:
                    if isinstance(item, AST):
                        append(item)
    return out, stores, ids


def bound_only_to(bindings: Dict[str, list], plain: Set[str], value_ok) -> Set[str]:
    """The largest set of names (not in ``plain``) each bound only to values that ``value_ok(value, names)``
    accepts, ``names`` being ``plain`` and the set itself (``n = n + 1`` reads its own name); ``bindings``: each
    name's bound values, None for a binding whose value is not known (a tuple's target, an ``+=``).  A
    function's locals that hold no object of the user's (sct/implicit_hooks.py, sct/recompute_hooks.py)."""
    known = {name for name, values in bindings.items() if values and None not in values} - plain
    changed = True
    while changed:
        changed = False
        for name in list(known):
            if not all(value_ok(v, plain | known) for v in bindings[name]):
                known.discard(name)
                changed = True
    return known


def root_name(node) -> Optional[str]:
    """The name an attribute or item chain starts from (``x``, ``p["w"]``, ``net.W``, ``m.a["k"]``), or None."""
    while isinstance(node, (gast.Subscript, gast.Attribute)):
        node = node.value
    return node.id if isinstance(node, gast.Name) else None


def constant_int(node) -> Optional[int]:
    """The int a literal ``3`` or ``-3`` (a negated constant, as the printer writes it) stands for, else None."""
    if isinstance(node, gast.Constant) and type(node.value) is int:
        return node.value
    if isinstance(node, gast.UnaryOp) and isinstance(node.op, gast.USub) and isinstance(node.operand, gast.Constant) and \
            type(node.operand.value) is int:
        return -node.operand.value
    return None


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


def store_counts(fdef) -> Dict[str, int]:
    """name -> how many times ``fdef`` binds it (each store or delete; not inside nested defs), in
    the order the walk meets them."""
    counts: Dict[str, int] = {}
    for node in walk_no_defs(fdef):
        if isinstance(node, gast.Name) and isinstance(node.ctx, (gast.Store, gast.Del)):
            counts[node.id] = counts.get(node.id, 0) + 1
    return counts


def walk_no_defs(node):
    """gast.walk that does not enter nested function or class definitions (depth first; like
    ``walk_nodes``, without the context and operator leaves).  Inside ``shared_walks(node)``: that
    one walk's nodes."""
    if _SHARED:
        entry = _SHARED.get(id(node))
        if entry is not None and entry[0] is node:
            return _shared_walk(entry, 2, _walk_no_defs, node)
    return _walk_no_defs(node)


_STMT_FIELDS = ("body", "handlers", "orelse", "finalbody", "cases")


def statements_no_defs(node):
    """The statements of ``walk_no_defs(node)`` (its nodes that are ``gast.stmt``), in its order,
    without walking the expressions (which hold no statement)."""
    stmt, holders = gast.stmt, (gast.stmt, gast.ExceptHandler, gast.match_case)
    defs = (gast.FunctionDef, gast.AsyncFunctionDef, gast.ClassDef)
    todo = [node]
    pop, append = todo.pop, todo.append
    while todo:
        n = pop()
        if isinstance(n, stmt):
            yield n
        for name in _STMT_FIELDS:       # (in the fields' order, as the full walk pushes them)
            field = getattr(n, name, None)
            if field.__class__ is list:
                for child in field:
                    if isinstance(child, holders) and not isinstance(child, defs):
                        append(child)


def _walk_no_defs(node):
    AST, defs, fields_of = ast.AST, (gast.FunctionDef, gast.AsyncFunctionDef, gast.ClassDef, gast.Lambda), \
        _CHILD_FIELDS
    todo = [node]
    pop, append = todo.pop, todo.append
    while todo:
        n = pop()
        yield n
        fields = fields_of.get(n.__class__)
        if fields is None:
            fields = _child_fields(n.__class__)
        for name in fields:             # iter_child_nodes, read directly (same order)
            field = getattr(n, name, None)
            if isinstance(field, AST):
                if not isinstance(field, defs):
                    append(field)
            elif isinstance(field, list):
                for child in field:
                    if isinstance(child, AST) and not isinstance(child, defs):
                        append(child)


def _walk_no_defs_list(node) -> List:
    """``list(_walk_no_defs(node))``, built without the generator."""
    AST, defs, fields_of = ast.AST, (gast.FunctionDef, gast.AsyncFunctionDef, gast.ClassDef, gast.Lambda), \
        _CHILD_FIELDS
    out = []
    todo = [node]
    pop, append, emit = todo.pop, todo.append, out.append
    while todo:
        n = pop()
        emit(n)
        fields = fields_of.get(n.__class__)
        if fields is None:
            fields = _child_fields(n.__class__)
        for name in fields:
            field = getattr(n, name, None)
            if isinstance(field, AST):
                if not isinstance(field, defs):
                    append(field)
            elif isinstance(field, list):
                for child in field:
                    if isinstance(child, AST) and not isinstance(child, defs):
                        append(child)
    return out


#: each walk's list-building twin (sct.ir.shared_walks materialises its walks with it)
_WALK_LISTS = {_walk_nodes: _walk_nodes_list, _walk_no_defs: _walk_no_defs_list}


def local_names(fdef) -> Set[str]:
    """The names local to ``fdef``: its parameters, the names its body binds (assigned, loop and
    ``with`` targets, deleted), the nested functions and classes it defines and the modules it imports
    (a local ``g``, a def the normalizer made of ``g = lambda ...``, hides a global ``g``)."""
    args = fdef.args
    out = {a.id for a in args.posonlyargs + args.args + args.kwonlyargs if isinstance(a, gast.Name)}
    out.update(a.id for a in (args.vararg, args.kwarg) if isinstance(a, gast.Name))
    for n in walk_nodes(fdef):
        if isinstance(n, gast.Name) and isinstance(n.ctx, (gast.Store, gast.Del)):
            out.add(n.id)
        elif isinstance(n, (gast.FunctionDef, gast.AsyncFunctionDef, gast.ClassDef)) and n is not fdef:
            out.add(n.name)
        elif isinstance(n, (gast.Import, gast.ImportFrom)):
            out.update((al.asname or al.name).split(".")[0] for al in n.names)
    return out


def def_own_names(d) -> Set[str]:
    """The names the def ``d`` binds as its own: its parameters, the names it binds (its nested defs'
    and classes' too), less those it declares ``nonlocal`` or ``global`` (a write into one of these is
    never one into an enclosing function's name of the same spelling)."""
    inside = list(walk_no_defs(d))
    a = d.args
    own = {p.id for p in list(getattr(a, "posonlyargs", None) or []) + list(a.args) + list(a.kwonlyargs)} | \
        {p.id for p in (a.vararg, a.kwarg) if p is not None} | \
        {n.id for n in inside if isinstance(n, gast.Name) and not isinstance(n.ctx, gast.Load)} | \
        set(_defined_in(d.body))
    return own - {n for x in inside if isinstance(x, (gast.Nonlocal, gast.Global)) for n in x.names}


def _defined_in(stmts):
    """The names of the defs and classes in the blocks of ``stmts`` (not inside a def or class)."""
    for s in stmts:
        if isinstance(s, (gast.FunctionDef, gast.AsyncFunctionDef, gast.ClassDef)):
            yield s.name
            continue
        for field in _STMT_FIELDS:
            inner = getattr(s, field, None)
            if isinstance(inner, list):
                yield from _defined_in(x for x in inner if isinstance(x, gast.stmt))
        for h in getattr(s, "handlers", None) or []:
            yield from _defined_in(h.body)
        for c in getattr(s, "cases", None) or []:
            yield from _defined_in(c.body)


def is_comment(s) -> bool:
    """A line's comment (sct/emit.py writes them as string statements)."""
    from .emit import COMMENT
    return isinstance(s, gast.Expr) and isinstance(s.value, gast.Constant) and \
        isinstance(s.value.value, str) and s.value.value.startswith(COMMENT)


def padded_block(stmts: List) -> List:
    """A body that prints as one: ``pass`` added where only comments are left."""
    return stmts if any(not is_comment(s) for s in stmts) else stmts + [gast.Pass()]


def loop_jumps(stmts) -> bool:
    """A break or continue belonging to this loop body (not to a loop nested in it)."""
    todo = list(stmts)
    while todo:
        node = todo.pop()
        if isinstance(node, (gast.Break, gast.Continue)):
            return True
        if isinstance(node, (gast.For, gast.While, gast.FunctionDef, gast.ClassDef, gast.Lambda)):
            continue
        todo.extend(child_nodes(node))      # (no context or operator leaf is a jump or holds one)
    return False


BY_NAME = "*"       # (in fields_read: fields are read by name somewhere)


def fields_read(tree) -> frozenset:
    """The attribute names ``tree`` reads (not stores), with ``BY_NAME`` where it reads fields by name
    (getattr, vars, ``__dict__``, ``__getattribute__``): a field stored on an outside object that the code reads
    again (sct.write_checks._stored_as_python, sct.compiler._fields_through)."""
    read = {n.attr for n in gast.walk(tree) if isinstance(n, gast.Attribute) and not isinstance(n.ctx, gast.Store)}
    if read & {"__dict__", "__getattribute__"} or any(isinstance(n, gast.Name) and n.id in ("getattr", "vars")
                                                      for n in gast.walk(tree)):
        read.add(BY_NAME)
    return frozenset(read)
