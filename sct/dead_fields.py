"""A traced value stored in a field that nothing in the function reads back: ``self.running_mean = 0.9 *
self.running_mean + 0.1 * mean`` of a batch-norm layer ``model.bn`` read in place (sct/write_checks.py).

sct follows a traced write into an object's field through the one name it was written with; where the object is
reached another way too (``self`` is ``model.bn``), a read of the field through the other way would lose the
derivative of what was written, and such writes are refused.  That loss needs a read whose value reaches
something else than such fields: where every read of the field, on any object, and every value computed from one
(by operators, ops and names bound to them), is only stored back into such fields (the running statistics, each
the running mean of itself), no value the function returns or differentiates depends on them, their derivative is
zero wherever it would be followed, and the object holds, after the call, the values the code computed, which are
Python's.  Proved here from the code of the function (with the methods read in place): the field name is read
nowhere else (a condition, a return, an item, a call's argument), no call of the user's code is left that could
read it (a function, a method of a user's object, a call given one), nor ``getattr``, ``vars`` or ``__dict__``.
(Was refused, naming the attribute; refuse55a.)
"""
from __future__ import annotations

import gast

from .ir import assign, call, const, load, walk_nodes
from .logged_values import _path
from .plans import CallKind
from .runtime.origins import module_top

_GUARDS = frozenset(("unformatted_outside", "require_number", "inplace_result"))
_REFLECTION = frozenset(("getattr", "vars", "setattr", "delattr", "hasattr"))
_LIBRARIES = frozenset(("builtins", "numpy", "math", "sct", "runtime"))
_BLOCKS = ("body", "orelse", "finalbody", "handlers", "cases")


def dead_end_field(fdef, attr: str, activity) -> bool:
    """Do the values of the field ``attr`` (and of the fields they are stored into) reach nothing in ``fdef``
    but stores into such fields (see the module)?"""
    nodes = list(walk_nodes(fdef))
    if any(isinstance(n, gast.Attribute) and n.attr == "__dict__" or
           isinstance(n, gast.Name) and n.id in _REFLECTION for n in nodes):
        return False
    if any(isinstance(n, (gast.Lambda, gast.FunctionDef, gast.AsyncFunctionDef)) and n is not fdef for n in nodes):
        return False
    for n in nodes:
        if isinstance(n, gast.Call) and not _closed_call(n, activity):
            return False
        if isinstance(n, gast.Attribute) and isinstance(n.ctx, gast.Load) and _runs_code(n, activity):
            return False    # (``M.avg``, a property reading the field: red57b, z = y * M.avg lost y's derivative)
    statements = [n for n in nodes if isinstance(n, gast.stmt) and n is not fdef]
    places = _places(fdef)
    fields, names = {attr}, set()
    while True:
        grown = False
        writes = [st for st in statements if isinstance(st, gast.Assign) and
                  any(isinstance(t, gast.Attribute) and t.attr in fields for t in st.targets)]
        for st in statements:
            if isinstance(st, gast.Assign):
                if not _reads(st.value, fields, names) or _read_before(st, fields, names, writes, places):
                    continue
                if len(st.targets) != 1 or not _pure(st.value, activity):
                    return False
                target = st.targets[0]
                if isinstance(target, gast.Name):
                    grown |= target.id not in names
                    names.add(target.id)
                elif isinstance(target, gast.Attribute) and isinstance(target.value, gast.Name):
                    grown |= target.attr not in fields
                    fields.add(target.attr)
                else:
                    return False
            elif isinstance(st, gast.Expr) and isinstance(st.value, gast.Call) and \
                    isinstance(st.value.func, gast.Attribute) and st.value.func.attr in _GUARDS:
                continue            # (sct's checks of a value read from outside: they read it only)
            elif any(_reads(e, fields, names) for e in _own_parts(st)):
                return False
        if not grown:
            return True


def _runs_code(node, activity) -> bool:
    """Does reading ``o.a`` (``o`` a name of a known object or argument kind) run code of its class: a property,
    a descriptor, a method?"""
    if not isinstance(node.value, gast.Name):
        return False
    name = node.value.id
    kind = activity.kinds.get(name)
    cls = kind[1] if isinstance(kind, tuple) and kind[:1] == ("obj",) and len(kind) > 1 else None
    if cls is None and name not in activity.resolver.locals:
        try:
            cls = type(activity.resolver.resolve_name(name))
        except Exception:
            return True
    if not isinstance(cls, type) or module_top(cls) in _LIBRARIES:
        return False
    return any(node.attr in vars(klass) and hasattr(type(vars(klass)[node.attr]), "__get__")
               for klass in cls.__mro__[:-1])


def _read_before(st, fields, names, writes, places) -> bool:
    """Does the statement ``st`` read the fields only as the function was given them: it reads no name of such
    values, and no write of a field it reads can run before it (one earlier in the code, not in the other branch
    of an ``if``, nor in a loop holding both)?  ``mu = self.running_mean`` in the ``else`` of a batch-norm's
    ``if self.training:`` that writes it (red56c F3: was refused, where without the ``if`` it was accepted)."""
    if _reads(st.value, (), names):
        return False
    read = {n.attr for n in gast.walk(st.value) if isinstance(n, gast.Attribute) and n.attr in fields}
    return not any(_may_follow(w, st, places) for w in writes
                   if any(isinstance(t, gast.Attribute) and t.attr in read for t in w.targets))


def _may_follow(first, then, places) -> bool:
    """May the statement ``then`` run after ``first`` has run (in one call of the function)?"""
    (i, path_i), (j, path_j) = places[id(first)], places[id(then)]
    for (a, block_a), (b, block_b) in zip(path_i, path_j):
        if a is not b:
            break
        if isinstance(a, (gast.For, gast.While, gast.AsyncFor)):
            return True             # (both in one loop: another pass runs ``then`` after ``first``)
        if isinstance(a, gast.If) and block_a != block_b:
            return False            # (the two branches of one ``if``)
    return i < j


def _places(fdef) -> dict:
    """id of each statement -> (its place in the code's order, the (statement, block) pairs holding it)."""
    found: dict = {}

    def visit(body, path):
        for st in body:
            found[id(st)] = (len(found), path)
            if isinstance(st, (gast.FunctionDef, gast.AsyncFunctionDef, gast.ClassDef)):
                continue
            for block in _BLOCKS:
                for part in getattr(st, block, None) or []:
                    visit(part.body if block in ("handlers", "cases") else [part], path + [(st, block)])
    visit(fdef.body, [])
    return found


def _own_parts(st):
    """The expressions (and targets) of the statement ``st`` itself, not of the blocks it holds."""
    for field, value in gast.iter_fields(st):
        if field in _BLOCKS:
            continue
        if isinstance(value, list):
            yield from (v for v in value if isinstance(v, gast.AST))
        elif isinstance(value, gast.AST):
            yield value


def _reads(node, fields, names) -> bool:
    return any(isinstance(n, gast.Name) and n.id in names and isinstance(n.ctx, gast.Load) or
               isinstance(n, gast.Attribute) and n.attr in fields and isinstance(n.ctx, gast.Load)
               for n in gast.walk(node))


def _pure(value, activity) -> bool:
    """Operators, ops, numbers, names and fields of names: a value computed from its operands only."""
    if isinstance(value, (gast.Name, gast.Constant)):
        return True
    if isinstance(value, gast.Attribute):
        return isinstance(value.value, gast.Name)
    if isinstance(value, gast.BinOp):
        return _pure(value.left, activity) and _pure(value.right, activity)
    if isinstance(value, gast.UnaryOp):
        return _pure(value.operand, activity)
    if isinstance(value, gast.Call):
        return (isinstance(value.func, gast.Attribute) and value.func.attr in _GUARDS or
                activity.call_info(value).kind in (CallKind.OP, CallKind.NONDIFF, CallKind.STOP)) and \
            all(_pure(a, activity) for a in value.args) and all(_pure(k.value, activity) for k in value.keywords)
    return False


def _closed_call(call, activity) -> bool:
    """A call that runs none of the user's code given an object that may hold such a field: an op, a
    derivative site, sct's checks, a builtin or a method given no user's object."""
    if isinstance(call.func, gast.Attribute) and call.func.attr in _GUARDS | {"method_read_here"}:
        return True
    info = activity.call_info(call)
    kind = info.kind
    if kind in (CallKind.OP, CallKind.NONDIFF, CallKind.STOP, CallKind.CREATE, CallKind.SITE):
        return True
    if kind == CallKind.FUNCTION:
        return False
    if kind == CallKind.PLAIN and module_top(type(info.obj) if info.obj is not None and
                                             not callable(info.obj) else info.obj) not in _LIBRARIES:
        return False            # (a callable sct does not know: a callback of the user's may read the field)
    parts = list(call.args) + [k.value for k in call.keywords]
    if isinstance(call.func, gast.Attribute):
        parts.append(call.func.value)
    return not any(isinstance(p, gast.Name) and activity.user_receiver(p.id) for p in parts) and \
        all(isinstance(p, (gast.Name, gast.Constant)) for p in parts)


def field_as_python(fdef, s, python_type: str, rt_name: str) -> None:
    """``o.f = v`` (``s``) stores what plain Python stores: ``v_kept = rt.field_as_python(v, "dl")`` before it and
    ``o.f = v_kept``, where ``v`` is surely a dlarray in Python (the code's value is its array); nothing to change
    otherwise."""
    path = _path(fdef.body, s)
    if python_type != "dl" or path is None or not isinstance(s.value, gast.Name):
        return
    block, i = path[-1]
    taken = {n.id for n in walk_nodes(fdef) if isinstance(n, gast.Name)}
    name, k = f"{s.value.id}_kept", 0
    while name in taken:
        k += 1
        name = f"{s.value.id}_kept{k}"
    bind = assign(name, call(f"{rt_name}.field_as_python", [s.value, const(python_type)]))
    gast.copy_location(bind, s)
    s.value = load(name)
    block.insert(i, bind)
