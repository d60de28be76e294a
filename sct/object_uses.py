"""Uses of an argument's object whose fields the function writes traced values to (``cell.h = np.tanh(...)``,
``fdef.sct_written_arguments``), other than reading or writing its attributes (red team 52 F14).

sct follows such a field by its name (``cell.h``); code sct does not read may set or read it too: another
module's method (``cell.reset()`` between two steps, ``cell.peek()`` reading ``h``), ``vars(cell)["h"]``,
``with cell:`` (``__enter__`` setting ``h``), ``if cell:`` / ``len(cell)`` / ``str(cell)`` / an f-string /
``x in cell`` / ``for v in cell`` running a user dunder (a mixin's ``__bool__`` resetting ``h``).  Was: the
adjoint of a read after such a reset went on into the traced value written before it (a wrong gradient).
One rule: after the function's first write of a field of that object, every use of it (through any name
bound to it) other than an attribute read or write, binding another name to it, returning it, an identity
test (``is``), sct's own gradient calls, or a call whose callee sct reads and sees never touch the parameter
it is given as, is refused naming the line.  Methods sct reads in place are inlined before this check (their
``self.h`` is then ``cell.h`` here); a use before the first write (not in a loop with one) is kept, and so is the
function's last mention of the object (``cell.reset()`` after the last read; later only reads of fields that a
method setting fields and nothing else does not set, as ``dlgradient(L, cell.W)``), a property's getter
that only reads fields (sct/properties.py: its code is differentiated), and sct's own ``rt.*_here`` checks.
No class is exempt by its name: ``if cell:`` is refused even where the class has no ``__bool__``."""
from __future__ import annotations

import types
import gast

from .alias_state import _statements
from .fields_reset import _layout, _own_parts


_RT_CHECKS = ("method_read_here", "property_read_here", "property_write_here", "attribute_write_here")
_GETTER = "__sct_property_"     # sct/properties.py: a property's getter called as a function sct reads


def _parents(part) -> dict:
    out = {}
    for n in gast.walk(part):
        for child in gast.iter_child_nodes(n):
            out[id(child)] = n
    return out


def _untouched(callee, position: int) -> bool:
    """Does ``callee`` (a Python function sct can read) never name its ``position``-th parameter?"""
    from .parse import function_ast
    if not isinstance(callee, types.FunctionType):
        return False
    try:
        fdef, _, _ = function_ast(callee)
    except Exception:
        return False
    params = fdef.args.posonlyargs + fdef.args.args
    if position >= len(params) or not isinstance(params[position], gast.Name):
        return False
    name = params[position].id
    body = fdef.body + fdef.args.defaults + [d for d in fdef.args.kw_defaults if d is not None]
    return not any(isinstance(n, gast.Name) and n.id == name for st in body for n in gast.walk(st))


def _only_sets(callee, position: int):
    """The fields ``callee`` sets on its ``position``-th parameter where that is all it does with it (every
    mention ``p.f = value`` of a simple assignment); None otherwise."""
    from .parse import function_ast
    if not isinstance(callee, types.FunctionType):
        return None
    try:
        fdef, _, _ = function_ast(callee)
    except Exception:
        return None
    params = fdef.args.posonlyargs + fdef.args.args
    if position >= len(params) or not isinstance(params[position], gast.Name):
        return None
    name, fields, targets = params[position].id, set(), set()
    for n in gast.walk(fdef):
        if isinstance(n, gast.Assign) and len(n.targets) == 1 and isinstance(n.targets[0], gast.Attribute) and \
                isinstance(n.targets[0].value, gast.Name) and n.targets[0].value.id == name:
            fields.add(n.targets[0].attr)
            targets.add(id(n.targets[0].value))
    mentions = [n for n in gast.walk(fdef) if isinstance(n, gast.Name) and n.id == name]
    return fields if all(id(m) in targets or m is params[position] for m in mentions) else None


def _reads_only(callee) -> bool:
    """Does ``callee`` (a getter sct reads as a function, its differentiated code run by sct) only read plain
    fields of its first parameter (``return self._x``): no call of a method of it, no write, no other use?"""
    from .parse import function_ast
    if not isinstance(callee, types.FunctionType):
        return False
    try:
        fdef, _, _ = function_ast(callee)
    except Exception:
        return False
    params = fdef.args.posonlyargs + fdef.args.args
    if len(params) != 1 or not isinstance(params[0], gast.Name):
        return False
    name, parents = params[0].id, _parents(fdef)
    for m in gast.walk(fdef):
        if isinstance(m, gast.Name) and m.id == name and m is not params[0]:
            a = parents.get(id(m))
            if not (isinstance(a, gast.Attribute) and isinstance(a.ctx, gast.Load) and a.value is m and
                    not a.attr.startswith("__") and not (isinstance(parents.get(id(a)), gast.Call) and
                                                         parents[id(a)].func is a)):
                return False
    return True


def _call_ok(check, st, call, n, _callee) -> bool:
    """May ``call``, given the written object as ``n`` (its receiver or a positional argument), run here?"""
    from .analysis import CallKind
    from .inline_helpers import _SITE_NAMES
    func = call.func
    fname = func.id if isinstance(func, gast.Name) else func.attr if isinstance(func, gast.Attribute) else None
    if isinstance(func, gast.Attribute) and isinstance(func.value, gast.Name) and func.value.id == "rt" and \
            fname in _RT_CHECKS:
        return True                 # rt.method_read_here(cell, '__call__', ...): sct's check of a method read in place
    if fname in _SITE_NAMES and any(a is n for a in call.args[1:]):
        return True                 # dlgradient(L, cell): sct's own, by the object's traced fields
    if any(isinstance(a, gast.Starred) for a in call.args) or call.keywords and \
            any(k.value is n or k.arg is None for k in call.keywords):
        return False
    try:
        info = check.activity.call_info(call)
        callee = _callee(info, call, check.activity, check.resolver, check.analysis, st)
    except Exception:
        return False
    if callee is None:
        return False
    if isinstance(func, gast.Name) and func.id.startswith(_GETTER) and call.args and call.args[0] is n and \
            len(call.args) == 1:
        return _reads_only(callee)      # (was refused: p.x of a property reading p._x, tests/test_user_operators_s49)
    if isinstance(func, gast.Attribute) and func.value is n:
        return info.kind == CallKind.METHOD and _untouched(callee, 0)
    positions = [i for i, a in enumerate(call.args) if a is n]
    shift = 1 if info.kind == CallKind.METHOD else 0
    return bool(positions) and _untouched(callee, positions[0] + shift)


def _clean_result(check, st, bound, _callee) -> bool:
    """Is ``st`` (``y = call(...)``) a call given the object directly (its receiver or a positional argument) whose
    callee never names the parameter it gets it as, nothing else in it naming the object?"""
    call = st.value
    given = ([call.func.value] if isinstance(call.func, gast.Attribute) else []) + list(call.args)
    given = [a for a in given if isinstance(a, gast.Name) and bound(st, a.id)]
    mentions = [n for n in gast.walk(call) if isinstance(n, gast.Name) and bound(st, n.id)]
    return bool(given) and len(mentions) == len(given) and all(_call_ok(check, st, call, a, _callee) for a in given)


def _harmless(check, st, n, parents, _callee) -> bool:
    parent = parents.get(id(n))
    if isinstance(parent, gast.Attribute) and parent.value is n:
        grand = parents.get(id(parent))
        if isinstance(grand, gast.Call) and grand.func is parent:
            return _call_ok(check, st, grand, n, _callee)
        return True                 # cell.h, cell.W = ..., del cell.k
    if isinstance(parent, (gast.Assign, gast.Return)) and parent.value is n:
        return True                 # c = cell (its uses are checked as cell's), return cell
    if isinstance(parent, gast.Tuple) and isinstance(parents.get(id(parent)), gast.Return):
        return True                 # return L, cell
    if isinstance(parent, gast.Compare) and all(isinstance(o, (gast.Is, gast.IsNot)) for o in parent.ops):
        return True                 # cell is None: no code of the object's runs
    if isinstance(parent, gast.Call) and parent.func is not n:
        return _call_ok(check, st, parent, n, _callee)
    return False


def _what(check, n, parent) -> str:
    if isinstance(parent, gast.withitem):
        return f"`with {n.id}:` (runs its __enter__ and __exit__)"
    if isinstance(parent, (gast.If, gast.While, gast.IfExp, gast.BoolOp, gast.UnaryOp)):
        return f"testing {n.id}'s truth (runs its __bool__ or __len__)"
    if isinstance(parent, (gast.For, gast.comprehension)):
        return f"iterating over {n.id} (runs its __iter__)"
    if isinstance(parent, gast.Compare):
        return f"comparing {n.id} (runs its __eq__, __contains__ or another operator method)"
    if isinstance(parent, gast.FormattedValue):
        return f"formatting {n.id} (runs its __format__ or __str__)"
    if isinstance(parent, (gast.BinOp, gast.Subscript, gast.AugAssign)):
        return f"an operator on {n.id} (runs its operator method)"
    if isinstance(parent, gast.Attribute):
        kind = check.activity.kinds.get(n.id)
        cls = kind[1] if isinstance(kind, tuple) and len(kind) > 1 and kind[0] == "obj" else None
        if isinstance(cls, type) and not isinstance(getattr(cls, parent.attr, None), types.FunctionType):
            return f"calling {n.id}.{parent.attr}(): {cls.__name__}.{parent.attr} is not a method sct can read"
        return f"calling {n.id}.{parent.attr}(), a method sct does not read in place"
    if isinstance(parent, gast.Call):
        if parent.func is n:
            return f"calling {n.id}(...), which sct does not read in place"
        return f"giving {n.id} to a call sct does not read in place (which may set or read its fields)"
    return f"this use of {n.id}"


def refuse_object_uses(check, _callee) -> None:
    """Refuse (``check.fail``) the uses above; ``_callee``: sct.write_checks' (a call's Python function)."""
    written = getattr(check.fdef, "sct_written_arguments", None)
    if check.mode != "entry" or not written:
        return
    analysis = check.analysis
    mine = {("arg", p) for p in written}

    from .ir import store_counts
    once = {k for k, v in store_counts(check.fdef).items() if v == 1}
    clean: set = set()          # names bound once to the result of a call judged harmless here (see below)

    def bound(st, name) -> bool:
        if name in clean:
            return False
        objs = analysis.objects(st, name)
        return any(o in mine or isinstance(o, tuple) and o[:2] in mine for o in objs)

    order: dict = {}
    loops: dict = {}
    _layout(check.fdef.body, order, loops)
    writes = [st for st in _statements(check.fdef.body) if id(st) in order and isinstance(st, gast.Assign) and
              any(isinstance(t, gast.Attribute) and isinstance(t.value, gast.Name) and bound(st, t.value.id)
                  for t in st.targets)]
    if not writes:
        return
    first = min(order[id(w)] for w in writes)
    write_loops = set().union(*(set(loops[id(w)]) for w in writes))
    naming = [st for st in _statements(check.fdef.body) if id(st) in order and any(
        isinstance(n, gast.Name) and bound(st, n.id) for part in _own_parts(st) for n in gast.walk(part))]

    def last(st, n) -> bool:
        """Is ``n`` the function's last mention of the object (``cell.reset()`` after the last read: what it
        does to the fields no later code of the function reads; the caller's object gets Python's values)?"""
        if set(loops[id(st)]) & write_loops or sum(
                isinstance(m, gast.Name) and bound(st, m.id) for part in _own_parts(st) for m in gast.walk(part)) > 1:
            return False
        set_only = None
        parent = parents_of.get(id(n))
        grand = parents_of.get(id(parent))
        if isinstance(parent, gast.Attribute) and isinstance(grand, gast.Call) and grand.func is parent and \
                not grand.args and not grand.keywords:
            try:
                info = check.activity.call_info(grand)
                set_only = _only_sets(_callee(info, grand, check.activity, check.resolver, analysis, st), 0)
            except Exception:
                set_only = None
        for o in naming:
            if o is st or not (order[id(o)] > order[id(st)] or set(loops[id(o)]) & set(loops[id(st)])):
                continue
            if set_only is None:
                return False
            # (cell.reset() setting only h, then dlgradient(L, cell.W): later reads of fields it does not set)
            ps = {}
            for part in _own_parts(o):
                ps.update(_parents(part))
            for part in _own_parts(o):
                for m in gast.walk(part):
                    if isinstance(m, gast.Name) and bound(o, m.id):
                        a = ps.get(id(m))
                        g = ps.get(id(a))
                        if not (isinstance(a, gast.Attribute) and isinstance(a.ctx, gast.Load) and
                                a.attr not in set_only and not (isinstance(g, gast.Call) and g.func is a)):
                            return False
        return True

    for st in _statements(check.fdef.body):
        if id(st) not in order or order[id(st)] < first and not (set(loops[id(st)]) & write_loops):
            continue
        parents_of = {}
        for part in _own_parts(st):
            parents_of.update(_parents(part))
        for part in _own_parts(st):
            parents = _parents(part)
            if isinstance(st, gast.With):
                for item in st.items:
                    parents[id(item.context_expr)] = item
            if isinstance(st, (gast.If, gast.While)):
                parents[id(st.test)] = st
            if isinstance(st, gast.For):
                parents[id(st.iter)] = st
            uses = 0
            for n in gast.walk(part):
                if not isinstance(n, gast.Name) or not isinstance(n.ctx, gast.Load) or not bound(st, n.id):
                    continue
                uses += 1
                if _harmless(check, st, n, parents, _callee) or last(st, n):
                    continue
                parent = parents.get(id(n))
                what = check.spell(_what(check, n, parent))
                name = check.spell(n.id)
                where = written.get(next((p for p in written), None))
                check.fail(st, f"{what}: {name} is an object {check.fname}() was given whose fields it writes "
                           f"traced values to (line {where[1] if where else '?'}) and follows by name; code sct "
                           f"does not read may set or read those fields here, which sct would not follow (the "
                           f"derivative of a later read would go on into the value written before). Use only "
                           f"{name}'s attributes here (`{name}.field`), call methods sct reads in place, or "
                           f"do this before the first write or outside the differentiated function", name)
            if uses and isinstance(st, gast.Assign) and len(st.targets) == 1 and \
                    isinstance(st.targets[0], gast.Name) and st.targets[0].id in once and \
                    isinstance(st.value, gast.Call) and _clean_result(check, st, bound, _callee):
                # y = cell.scale(v) of a method that never names self: its result is not cell (the alias
                # analysis says it may be, as of any call's result)
                clean.add(st.targets[0].id)
