"""``a, b = obj`` where ``obj`` is an object of a user's class: Python unpacks it by iterating it (its
``__iter__``, or ``__getitem__`` from 0 up), then checks the count; the normalizer reads every
unpacking by position (``a = obj[0]``, ``b = obj[1]``, marked ``sct_unpack``).  Where the compiler
knows ``obj`` is such an object (an argument of that kind, a part of one read by name or index, or
an object built here by ``Cls(...)``), the unpacking becomes what Python does::

    obj_items = rt.listed(obj)                  # list(obj): its __iter__ (derivatives back to its fields)
    rt.require_unpacked_exactly(obj_items, 2)   # Python's ValueError for another count
    a = obj_items[0]
    b = obj_items[1]

(was: ``obj[0]`` in the generated code: "'Params' object is not subscriptable" at run time for an
object with ``__iter__`` alone, and a crash computing the derivative through one with
``__getitem__``).  An object whose class defines neither is refused at compile time (Python's
``TypeError: cannot unpack non-iterable``), naming the user's line.  Objects the compiler cannot
see (a loop's items, a name bound twice) keep the reading by position."""
from __future__ import annotations

from typing import Dict, List

import gast

from .analysis import child_kind
from .errors import CompileError
from .ir import assign, call, const, dotted_name, load, walk_nodes
from .operand_checks import user_class


def _stores(fdef) -> Dict[str, int]:
    counts: Dict[str, int] = {}
    for node in walk_nodes(fdef):           # nested functions too (a nonlocal rebinding)
        if isinstance(node, gast.Name) and isinstance(node.ctx, (gast.Store, gast.Del)):
            counts[node.id] = counts.get(node.id, 0) + 1
    return counts


def _known_classes(fdef, resolver, param_kinds, rt_name: str) -> Dict[str, type]:
    """The class of each name surely holding an object of one user class: a parameter never rebound
    (its kind), a name bound once to a part of one (``p.layer``, ``p["a"]``, ``p[0]``) or to
    ``Cls(...)``."""
    stores = _stores(fdef)
    kinds = {name: kind for name, kind in param_kinds.items() if not stores.get(name)}
    classes: Dict[str, type] = {}
    for node in _in_order(fdef.body):
        if not (isinstance(node, gast.Assign) and len(node.targets) == 1 and
                isinstance(node.targets[0], gast.Name) and stores.get(node.targets[0].id) == 1):
            continue
        name, value = node.targets[0].id, node.value
        kind = None
        if isinstance(value, gast.Name):
            kind = kinds.get(value.id)
        elif isinstance(value, gast.Attribute) and isinstance(value.value, gast.Name):
            kind = child_kind(kinds.get(value.value.id), value.attr)
        elif isinstance(value, gast.Subscript) and isinstance(value.value, gast.Name) and \
                isinstance(value.slice, gast.Constant) and not hasattr(value, "sct_unpack"):
            kind = child_kind(kinds.get(value.value.id), value.slice.value)
        elif isinstance(value, gast.Subscript) and isinstance(value.value, gast.Name):
            # an item of a list at a computed position (``o = seq[k]``, a for loop's item): the class
            # all its items share
            base = kinds.get(value.value.id)
            if isinstance(base, tuple) and len(base) > 2 and base[0] == "seq" and base[2]:
                item_classes = {k[1] if isinstance(k, tuple) and len(k) > 1 and k[0] in ("obj", "const")
                                else None for k in base[2]}
                (cls,) = item_classes if len(item_classes) == 1 else (None,)
                if cls is not None and user_class(cls):
                    classes[name] = cls
        elif isinstance(value, gast.Call) and dotted_name(value.func) == f"{rt_name}.as_sequence" and \
                len(value.args) == 1 and isinstance(value.args[0], gast.Name):
            kind = kinds.get(value.args[0].id)          # a for loop's sequence: a list or tuple as it is
            if not (isinstance(kind, tuple) and kind and kind[0] == "seq"):
                kind = None
        elif isinstance(value, gast.Call):
            try:
                target = resolver.resolve(value.func)
            except Exception:
                target = None
            if isinstance(target, type) and user_class(target):
                classes[name] = target
        if kind is not None:
            kinds[name] = kind
    for name, kind in kinds.items():
        if isinstance(kind, tuple) and len(kind) > 1 and kind[0] in ("obj", "const") and user_class(kind[1]):
            classes[name] = kind[1]
    return classes


def unpack_objects(fdef, resolver, param_kinds, namer, rt_name: str, filename: str) -> None:
    """Rewrite the unpackings of objects of user classes (see the module's doc), in place."""
    groups: Dict = {}           # (the unpacked name, the unpacking's number) -> [(block, statement, read, class)]
    classes = None
    for block in _blocks(fdef):
        for stmt in block:
            value = getattr(stmt, "value", None) if isinstance(stmt, (gast.Assign, gast.Expr)) else None
            mark = getattr(value, "sct_unpack", None)
            if mark is None:
                continue
            # ``x = obj[i]`` (or ``obj[a:b]``), or the count check of a starred unpacking
            operand = value.value if isinstance(value, gast.Subscript) else \
                value.args[0] if isinstance(value, gast.Call) and value.args else None
            if not isinstance(operand, gast.Name):
                continue
            if classes is None:
                classes = _known_classes(fdef, resolver, param_kinds, rt_name)
            cls = classes.get(operand.id)
            groups.setdefault((operand.id, mark[-1]), []).append((block, stmt, value, cls))
    literal = None
    for parts in groups.values():
        block, first, sub, cls = parts[0]
        if cls is None:
            # ``a, b = t`` read by position: Python's ValueError where t has another number of items (was:
            # the first two of three taken, silently), unless t is a tuple or list of that many built here
            count, _, starred, _ = sub.sct_unpack
            obj = (sub.value if isinstance(sub, gast.Subscript) else sub.args[0]).id
            if literal is None:
                literal = _literal_lengths(fdef)
            if starred or literal.get(obj) == count or filename.startswith("<sct-generated"):
                continue        # (generated code unpacks its own residual tuples: the check read them all)
            check = gast.Expr(value=call(f"{rt_name}.require_unpacked_exactly", [load(obj), const(count)]))
            check.lineno = getattr(first, "lineno", None) or getattr(fdef, "lineno", 0)
            at = next(i for i, s in enumerate(block) if s is first)
            block[at:at] = [check]
            continue
        obj = (sub.value if isinstance(sub, gast.Subscript) else sub.args[0]).id
        count, _, starred, _ = sub.sct_unpack
        line = getattr(first, "lineno", None) or getattr(fdef, "lineno", 0)
        if not (hasattr(cls, "__iter__") or hasattr(cls, "__getitem__")):
            raise CompileError(
                f"unpacking {obj}, an object of {cls.__name__}: Python cannot unpack it ({cls.__name__} "
                f"defines neither __iter__ nor __getitem__; TypeError: cannot unpack non-iterable "
                f"{cls.__name__} object). Read its fields by name ({obj}.name), or give {cls.__name__} an "
                f"__iter__ that yields them", filename, line, f"unpacking {cls.__name__}")
        items = namer.fresh(obj + "_items")
        listed = assign(items, call(f"{rt_name}.listed", [load(obj)]), line)
        at = next(i for i, s in enumerate(block) if s is first)
        if starred:             # ``a, *rest = obj``: its own check of the count (at least) reads the items
            block[at:at] = [listed]
        else:
            check = gast.Expr(value=call(f"{rt_name}.require_unpacked_exactly", [load(items), const(count)]))
            check.lineno = line
            block[at:at] = [listed, check]
        for _, _, node, _ in parts:
            if isinstance(node, gast.Subscript):
                node.value = load(items)
            else:
                node.args[0] = load(items)


def _literal_lengths(fdef) -> Dict[str, int]:
    """The number of items of each name bound once, to a tuple display without a star (a list may
    change), or to a second name of one."""
    stores = _stores(fdef)
    out: Dict[str, int] = {}
    copies: Dict[str, str] = {}         # a second name of one (``r = out_t``: an inlined helper's result)
    for node in walk_nodes(fdef):
        if isinstance(node, gast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], gast.Name) and \
                stores.get(node.targets[0].id) == 1:
            if isinstance(node.value, gast.Tuple) and not any(isinstance(e, gast.Starred) for e in node.value.elts):
                out[node.targets[0].id] = len(node.value.elts)
            elif isinstance(node.value, gast.Name) and stores.get(node.value.id) == 1:
                copies[node.targets[0].id] = node.value.id
    for name, source in copies.items():
        seen = {name}
        while source in copies and source not in seen:
            seen.add(source)
            source = copies[source]
        if source in out:
            out[name] = out[source]
    return out


def _in_order(block):
    """The statements of ``block`` and of the blocks inside it, in the order of the source (not
    nested definitions')."""
    for stmt in block:
        yield stmt
        if isinstance(stmt, (gast.FunctionDef, gast.AsyncFunctionDef, gast.ClassDef)):
            continue
        for field in ("body", "orelse", "finalbody"):
            inner = getattr(stmt, field, None)
            if isinstance(inner, list) and inner and isinstance(inner[0], gast.stmt):
                yield from _in_order(inner)
        for handler in getattr(stmt, "handlers", None) or ():
            yield from _in_order(handler.body)


def _blocks(fdef):
    """Every statement list of ``fdef`` (its body, and those of its if, for, while and with
    statements), not those of nested definitions."""
    todo = [fdef.body]
    while todo:
        block = todo.pop()
        yield block
        for stmt in block:
            if isinstance(stmt, (gast.FunctionDef, gast.AsyncFunctionDef, gast.ClassDef)):
                continue
            for field in ("body", "orelse", "finalbody"):
                inner = getattr(stmt, field, None)
                if isinstance(inner, list) and inner and isinstance(inner[0], gast.stmt):
                    todo.append(inner)
            for handler in getattr(stmt, "handlers", None) or ():
                todo.append(handler.body)
