"""State kept by an object an argument holds (an RNN cell ``net.cell`` whose method sets ``self.h``),
followed by one name, as an argument's own state is.

dlfeval's function reads ``net.cell`` afresh at each use (the normalizer's ``self = net.cell`` of each
inlined call), and a write ``self.h = v`` through one such name is followed by that name only: a later read
through another binding of ``net.cell`` sent its derivative to ``net``'s adjoint, not to the written value
(a lost derivative; refused as "net.cell may be an object loss_fn() did not create").  Where the object
cannot change under the function (no code stores or deletes an attribute named ``cell``, ``net`` is read
only through its attributes, the field is a plain field of a plain class), every read of ``net.cell`` is
the same object: it is bound once, at the top, to a name of its own (``net__cell``), which sct's write
checks then take for an argument (sct/points_to.py: ``("arg", "net__cell")``), every other name bound to
``net.cell`` read as that one.  What an argument's writes need at the call is checked for it too: the
object is reached from the arguments and the globals the code reads only through ``net.cell``, and
``net`` only as itself (sct.runtime.support.written_reached_twice's ``held``; sct.api._refuse_aliased_writes),
else the call is refused at the line of the write, naming both paths."""
from __future__ import annotations

import copy
from typing import Dict, List, Optional, Tuple

import gast

from .inline_helpers import _field_kind, _plain_class
from .ir import walk_nodes

# names through which code may store, delete or read an attribute by a name the code does not write
_DYNAMIC = frozenset({"setattr", "delattr", "vars", "__dict__", "__setattr__", "__delattr__", "getattr",
                      "__getattribute__", "exec", "eval", "locals", "globals", "attrgetter", "methodcaller"})


def _user_object_kind(kind) -> Optional[type]:
    """The class of an object kind ``('obj', cls, fields)`` of a plain user class (else None)."""
    if isinstance(kind, tuple) and len(kind) > 2 and kind[0] == "obj" and _plain_class(kind[1]):
        return kind[1]
    return None


def hold_written_fields(fdef: gast.FunctionDef, params: List[str], kinds: Dict, namer, rt_name: str) -> Dict:
    """Bind each object ``P.a`` (``P`` a parameter, or an object bound so, nested) that the function writes
    attributes of to one name at the top of ``fdef`` (see the module's text); returns ``{name: (root, attr,
    kind)}`` in binding order (also kept as ``fdef.sct_held``)."""
    held: Dict[str, Tuple[str, str, tuple]] = {}
    fdef.sct_held = held
    nodes = [n for s in fdef.body for n in walk_nodes(s)]
    if any(isinstance(n, (gast.FunctionDef, gast.AsyncFunctionDef, gast.Lambda, gast.ClassDef, gast.Global,
                          gast.Nonlocal)) for n in nodes):
        return held
    if any(isinstance(n, gast.Name) and n.id in _DYNAMIC or isinstance(n, gast.Attribute) and n.attr in _DYNAMIC
           or isinstance(n, gast.Constant) and n.value in _DYNAMIC for n in nodes):
        return held
    roots = {p: kinds.get(p) for p in params}
    done: set = set()
    while True:
        found = _one_field(fdef, roots, held, done, rt_name)
        if found is None:
            return held
        root, attr = found
        done.add(found)
        name = namer.fresh(f"{root}__{attr}")
        kind = _field_kind(roots[root], attr)
        _bind(fdef, root, attr, name, len(held))
        held[name] = (root, attr, kind)
        roots[name] = kind


def _one_field(fdef, roots: Dict, held: Dict, done: set, rt_name: str) -> Optional[Tuple[str, str]]:
    """A ``(root, attr)`` whose object may be bound once (the first found), else None."""
    nodes = [n for s in fdef.body for n in walk_nodes(s)]
    parents: Dict[int, gast.AST] = {}
    for s in fdef.body:
        for n in walk_nodes(s):
            for f in gast.iter_child_nodes(n):
                parents[id(f)] = n
    binds = {id(s.targets[0]) for s in fdef.body if getattr(s, "sct_held", False)}
    stored = {n.id for n in nodes if isinstance(n, gast.Name) and not isinstance(n.ctx, gast.Load) and
              id(n) not in binds}
    set_attrs = {n.attr for n in nodes if isinstance(n, gast.Attribute) and not isinstance(n.ctx, gast.Load)}
    for root in roots:
        cls = _user_object_kind(roots[root])
        if cls is None or root in stored or not _read_as_holder(root, nodes, parents, rt_name):
            continue
        for n in nodes:
            if not (isinstance(n, gast.Attribute) and isinstance(n.ctx, gast.Load) and
                    isinstance(n.value, gast.Name) and n.value.id == root):
                continue
            attr = n.attr
            if (root, attr) in done or attr in set_attrs or hasattr(cls, attr) or \
                    _user_object_kind(_field_kind(roots[root], attr)) is None:
                continue
            if _written_through(root, attr, nodes, parents) and _read_by_fields(root, attr, nodes, parents, rt_name):
                return root, attr
    return None


def _read_by_fields(root: str, attr: str, nodes, parents, rt_name: str) -> bool:
    """Is the object ``root.attr`` read only through its fields, as a holder is (_read_as_holder), never used
    whole (``dlgradient(L, net.bn)``: a gradient with respect to an object whose fields change, refused as it
    was; ``c2 = c if k else d``, a second name bound otherwise; passed to a call)?"""
    names = _aliases(root, attr, nodes)
    for n in nodes:
        if not _is_field(n, root, attr):
            continue
        p = parents.get(id(n))
        if isinstance(p, gast.Assign) and p.value is n and isinstance(p.targets[0], gast.Name) and \
                p.targets[0].id in names or isinstance(p, gast.Attribute) and p.value is n or _method_check(p, n, rt_name):
            continue
        return False
    return all(_read_as_holder(name, nodes, parents, rt_name) for name in names)


def _method_check(p, n, rt_name: str) -> bool:
    """Is ``n`` the object of sct's check that a method read in place is still the object's
    (``rt.method_read_here(n, ...)``)?"""
    return isinstance(p, gast.Call) and bool(p.args) and p.args[0] is n and isinstance(p.func, gast.Attribute) and \
        p.func.attr == "method_read_here" and isinstance(p.func.value, gast.Name) and p.func.value.id == rt_name


def _read_as_holder(root: str, nodes, parents, rt_name: str) -> bool:
    """Is ``root`` read only as ``root.attr`` (or by sct's check that a method read in place is still the
    object's, ``rt.method_read_here(root, ...)``), never passed, stored or returned whole?"""
    for n in nodes:
        if not (isinstance(n, gast.Name) and n.id == root and isinstance(n.ctx, gast.Load)):
            continue
        p = parents.get(id(n))
        if isinstance(p, gast.Attribute) and p.value is n or _method_check(p, n, rt_name):
            continue
        return False
    return True


def _aliases(root: str, attr: str, nodes) -> set:
    """The names every binding of which is ``name = root.attr``."""
    good: Dict[str, int] = {}
    for n in nodes:
        if isinstance(n, gast.Assign) and len(n.targets) == 1 and isinstance(n.targets[0], gast.Name) and \
                _is_field(n.value, root, attr):
            good[n.targets[0].id] = good.get(n.targets[0].id, 0) + 1
    for n in nodes:
        if isinstance(n, gast.Name) and not isinstance(n.ctx, gast.Load) and n.id in good:
            good[n.id] -= 1
    return {k for k, v in good.items() if v == 0}


def _is_field(e, root: str, attr: str) -> bool:
    return isinstance(e, gast.Attribute) and isinstance(e.ctx, gast.Load) and e.attr == attr and \
        isinstance(e.value, gast.Name) and e.value.id == root


def _written_through(root: str, attr: str, nodes, parents, depth: int = 0) -> bool:
    """Does the function set (or delete) an attribute of ``root.attr``'s object, through a name bound to it
    or the chain itself, or of an object held in its fields so (``net.block`` of ``self = net.block;
    c = self.cell; c.h = ...``)?"""
    names = _aliases(root, attr, nodes)
    for n in nodes:
        if isinstance(n, gast.Attribute) and not isinstance(n.ctx, gast.Load) and \
                (isinstance(n.value, gast.Name) and n.value.id in names or _is_field(n.value, root, attr)):
            return True
    if depth >= 3:
        return False
    inner = {(n.value.id, n.attr) for n in nodes if isinstance(n, gast.Attribute) and isinstance(n.ctx, gast.Load)
             and isinstance(n.value, gast.Name) and n.value.id in names}
    return any(_written_through(r, a, nodes, parents, depth + 1) for r, a in sorted(inner))


class _Rename(gast.NodeTransformer):
    def __init__(self, root: str, attr: str, names: set, name: str):
        self.root, self.attr, self.names, self.name = root, attr, names, name

    def visit_Attribute(self, node):
        if _is_field(node, self.root, self.attr):
            return gast.copy_location(gast.Name(id=self.name, ctx=gast.Load(), annotation=None,
                                                type_comment=None), node)
        return self.generic_visit(node)

    def visit_Name(self, node):
        if node.id in self.names:
            node.id = self.name
        return node


def _bind(fdef, root: str, attr: str, name: str, at: int) -> None:
    """Read ``root.attr`` as ``name`` everywhere, drop the bindings it makes ``name = name``, and bind it at the
    top (after the ones bound before)."""
    nodes = [n for s in fdef.body for n in walk_nodes(s)]
    names = _aliases(root, attr, nodes)
    rename = _Rename(root, attr, names, name)
    fdef.body = _drop_self_binds([rename.visit(s) for s in fdef.body], name)
    first = next((s for s in fdef.body if isinstance(getattr(s, "lineno", None), int)), None)
    bind = gast.Assign(targets=[gast.Name(id=name, ctx=gast.Store(), annotation=None, type_comment=None)],
                       value=gast.Attribute(value=gast.Name(id=root, ctx=gast.Load(), annotation=None,
                                                            type_comment=None), attr=attr, ctx=gast.Load()),
                       type_comment=None)
    bind.lineno = first.lineno if first is not None else fdef.lineno
    bind.col_offset = 0
    bind.sct_held = True
    fdef.body.insert(at, bind)


def _drop_self_binds(stmts: List, name: str) -> List:
    out = []
    for s in stmts:
        if isinstance(s, gast.Assign) and len(s.targets) == 1 and isinstance(s.targets[0], gast.Name) and \
                s.targets[0].id == name and isinstance(s.value, gast.Name) and s.value.id == name:
            continue
        for field in ("body", "orelse", "finalbody"):
            block = getattr(s, field, None)
            if isinstance(block, list) and block and isinstance(block[0], gast.stmt):
                kept = _drop_self_binds(block, name)
                setattr(s, field, kept or [gast.copy_location(gast.Pass(), block[0])])
        for h in getattr(s, "handlers", None) or ():
            kept = _drop_self_binds(h.body, name)
            h.body = kept or [gast.copy_location(gast.Pass(), h.body[0])]
        out.append(s)
    return out


def held_writes(fdef, params: List[str], written: Dict) -> tuple:
    """Compiled.written_args' entries for the held objects the function sets traced attributes of
    (``written``: sct.write_checks._note_argument_write's, by name): ``((i, "cell"), "net.cell", where)``, the
    position a path from argument ``i`` (sct.runtime.support.written_reached_twice walks it so)."""
    held = getattr(fdef, "sct_held", None) or {}
    out = []
    for name, where in written.items():
        path, spelled, at = [], [], name
        while at in held:
            root, attr, _ = held[at]
            path.insert(0, attr)
            spelled.insert(0, attr)
            at = root
        if not path or at not in params:
            continue
        out.append(((params.index(at),) + tuple(path), ".".join([at] + spelled), where))
    return tuple(out)
