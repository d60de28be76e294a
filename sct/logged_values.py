"""A Python number of a traced value appended to a list from outside, with nothing after it that could read
it back: ``HIST.append(float(L))`` logging the loss inside the loss function (red team 51, FR1).

sct differentiates ``float(L)`` (the identity onto a Python number), so the item appended holds a derivative
that sct does not follow into the outside list: a read of that item later in the same call (``HIST[-1]``, a
helper reading ``HIST``, another name of the list) would have lost it, and such a call is refused
(sct/write_checks.py).  Where the call is the last thing the function does with outside state, nothing in
this call can read the item again: the list gets the plain number Python appends (the value of ``float`` of
the forward value), and no derivative is lost.  That is proved here from the code: the call is not in a loop
(a later pass could read it) nor a ``try``; the list's name is read nowhere else in the function; every
statement after it (along the blocks around it) only takes derivatives (``dlgradient``), binds names to
names, tuples of them, other such logs, arithmetic and numpy's ops of arrays and numbers, or returns
(no item of a list or dict is read, and no code of the user's runs).  A second derivative recomputing the code replays the call
(runtime/effects.py), as it does for ``HIST.append(float(extractdata(L)))``.
"""
from __future__ import annotations

import builtins
from typing import List, Optional

import gast

from .ir import walk_nodes
from .plans import CallKind

_NUMBER_CONVERSIONS = ("float", "int")
# an array's methods that read only the array (L.item(), h.sum())
_ARRAY_METHODS = frozenset(("item", "sum", "mean", "max", "min", "prod", "std", "var", "reshape", "ravel",
                            "flatten", "transpose", "copy", "astype", "squeeze", "dot", "conj"))


def _path(body, target) -> Optional[List]:
    """``[(block, index), ...]`` from the function's body down to the statement ``target``; None where it
    is not a statement of these blocks (a nested def's)."""
    for i, s in enumerate(body):
        if s is target:
            return [(body, i)]
        if isinstance(s, (gast.FunctionDef, gast.AsyncFunctionDef, gast.ClassDef)):
            continue
        for field in ("body", "orelse", "finalbody"):
            inner = getattr(s, field, None)
            if isinstance(inner, list):
                found = _path(inner, target)
                if found is not None:
                    return [(body, i)] + found
        for handler in getattr(s, "handlers", None) or ():
            found = _path(handler.body, target)
            if found is not None:
                return [(body, i)] + found
    return None


def _number_of_traced(fdef, name: str, activity, globals_) -> bool:
    """Is the local ``name`` bound only to ``float(t)`` or ``int(t)`` (the builtins) of a name?"""
    values = []
    for n in walk_nodes(fdef):
        if isinstance(n, gast.Name) and n.id == name and not isinstance(n.ctx, gast.Load):
            values.append(n)
    binds = [n for n in walk_nodes(fdef) if isinstance(n, gast.Assign) and len(n.targets) == 1 and
             isinstance(n.targets[0], gast.Name) and n.targets[0].id == name]
    if not binds or len(binds) != len(values):
        return False
    for b in binds:
        v = b.value
        if isinstance(v, gast.Call) and isinstance(v.func, gast.Attribute) and v.func.attr == "item" and \
                not v.args and not v.keywords and isinstance(v.func.value, gast.Name) and \
                activity.array_receiver(v.func.value.id):
            continue            # L.item() of an array: a Python number
        if not (isinstance(v, gast.Call) and isinstance(v.func, gast.Name) and v.func.id in _NUMBER_CONVERSIONS and
                len(v.args) == 1 and not v.keywords and isinstance(v.args[0], gast.Name)):
            return False
        f = v.func.id
        if any(isinstance(n, gast.Name) and n.id == f and not isinstance(n.ctx, gast.Load) for n in walk_nodes(fdef)) \
                or globals_.get(f, getattr(builtins, f)) is not getattr(builtins, f):
            return False
    return True


def number_source(fdef, node, activity, globals_) -> Optional[str]:
    """``float(y)`` where ``node`` (``history.append(v)``) appends a name bound to such a number of a traced
    name (how a refusal of the log shows it); None otherwise."""
    if not (len(node.args) == 1 and isinstance(node.args[0], gast.Name) and
            _number_of_traced(fdef, node.args[0].id, activity, globals_)):
        return None
    for b in walk_nodes(fdef):
        if isinstance(b, gast.Assign) and isinstance(b.targets[0], gast.Name) and b.targets[0].id == node.args[0].id:
            v = b.value
            if isinstance(v.func, gast.Name):
                return f"{v.func.id}({v.args[0].id})"
            return f"{v.func.value.id}.item()"
    return None


def logged_number(fdef, s, node, receiver: str, local_names, activity, globals_) -> bool:
    """Is ``s`` (``receiver.append(v)``, ``node`` its call, its result unused) the append of a Python number of a
    traced value to a list from outside that nothing after it in this call can read (see the module)?"""
    if not (isinstance(node.func, gast.Attribute) and node.func.attr == "append" and len(node.args) == 1 and
            not node.keywords and isinstance(node.args[0], gast.Name) and
            (receiver not in local_names or _outside_field(fdef, receiver, local_names))):
        return False
    if not _number_of_traced(fdef, node.args[0].id, activity, globals_):
        return False
    path = _path(fdef.body, s)
    if path is None or any(isinstance(block[i], (gast.For, gast.While, gast.Try, gast.With, gast.AsyncFor,
                                                 gast.AsyncWith)) for block, i in path[:-1]):
        return False
    # the receiver read only as the object of such appends
    for n in walk_nodes(fdef):
        if isinstance(n, gast.Name) and n.id == receiver and isinstance(n.ctx, gast.Load):
            if not any(isinstance(c, gast.Call) and isinstance(c.func, gast.Attribute) and c.func.value is n and
                       c.func.attr == "append" for c in _calls(fdef)):
                return False
    bound: set = set()
    after = [st for block, i in reversed(path) for st in block[i + 1:]]
    for st in after:
        if not _after_ok(st, fdef, activity, bound, globals_, local_names):
            return False
    return True


def why_not_logged(fdef, s, node, activity, globals_) -> Optional[str]:
    """Where ``s`` appends a Python number of a traced value (``log.losses.append(float(L))``) that
    ``logged_number`` does not log: why (its refusal names that, not the advice to append a plain number,
    which it already is: red2_55 R1); None for another value."""
    if not (len(node.args) == 1 and isinstance(node.args[0], gast.Name) and
            _number_of_traced(fdef, node.args[0].id, activity, globals_)):
        return None
    path = _path(fdef.body, s)
    if path is not None and any(isinstance(block[i], (gast.For, gast.While, gast.AsyncFor)) for block, i in path[:-1]):
        return ("the append runs in a loop that does more than compute numbers with numpy and builtins and append "
                "them (it calls code of the user's, changes an object, or binds a name read after it), or code "
                "after the loop may read the list back before the gradient")
    if path is not None and any(isinstance(block[i], (gast.Try, gast.With, gast.AsyncWith)) for block, i in path[:-1]):
        return "the append runs in a try or with block"
    return "the list (or an object holding it) may be read after the append in this call"


def _outside_field(fdef, receiver: str, local_names) -> bool:
    """Is the local ``receiver`` bound once, to ``o.f`` of a name ``o`` the function never binds (a parameter, a
    global: ``log.losses``, ``self.history``, which the normalizer reads into a name of its own), where no other
    ``o.f`` is read (nor ``o`` given anything but reads of its fields), so that the list is reached in this
    call only through ``receiver``?  (``log.losses.append(float(L))`` was refused where ``HIST.append(float(L))``
    ran; refuse55a.)"""
    binds = [n for n in walk_nodes(fdef) if isinstance(n, gast.Assign) and
             any(isinstance(t, gast.Name) and t.id == receiver for t in n.targets)]
    stores = [n for n in walk_nodes(fdef) if isinstance(n, gast.Name) and n.id == receiver and
              not isinstance(n.ctx, gast.Load)]
    if len(binds) != 1 or len(stores) != 1 or len(binds[0].targets) != 1:
        return False
    field = binds[0].value
    item = isinstance(field, gast.Subscript) and isinstance(field.slice, gast.Constant) and \
        type(field.slice.value) in (str, int)       # (``METRICS["loss"].append(float(L))``: red57a F2)
    if not ((isinstance(field, gast.Attribute) or item) and isinstance(field.value, gast.Name)):
        return False
    owner = field.value.id
    if owner == receiver or any(isinstance(n, gast.Name) and n.id == owner and
                                not isinstance(n.ctx, (gast.Load, gast.Param)) for n in walk_nodes(fdef)):
        return False
    # (o read as o.g, or o[j] where the list is o[k]: a constant j, never a method that could reach o[k])
    attributes = {id(n.value) for n in walk_nodes(fdef) if isinstance(n, gast.Subscript) and
                  isinstance(n.slice, gast.Constant)} if item else \
        {id(n.value) for n in walk_nodes(fdef) if isinstance(n, gast.Attribute)}
    # (the guard of a method read in place, rt.method_read_here(o, "loss", ...), reads o's class only)
    attributes |= {id(a) for n in walk_nodes(fdef) if isinstance(n, gast.Call) and
                   isinstance(n.func, gast.Attribute) and n.func.attr == "method_read_here" and
                   isinstance(n.func.value, gast.Name) for a in n.args[:1]}
    for n in walk_nodes(fdef):
        if isinstance(n, gast.Attribute) and n is not field and isinstance(n.value, gast.Name) and \
                n.value.id == owner and not item and n.attr == field.attr:
            return False            # (another read or write of o.f)
        if isinstance(n, gast.Subscript) and n is not field and isinstance(n.value, gast.Name) and \
                n.value.id == owner and item and (not isinstance(n.slice, gast.Constant) or
                                                  n.slice.value == field.slice.value):
            return False            # (another read or write of o[k], or of o[j] with j known when it runs)
        if isinstance(n, gast.Name) and n.id == owner and isinstance(n.ctx, gast.Load) and id(n) not in attributes:
            return False            # (o itself given on, returned or bound to another name)
    return True


def _number_item(node, globals_, local_names) -> bool:
    """Is ``node`` ``G[k]`` of a global list or dict ``G`` (a constant ``k``) holding a number now (a counter,
    which holds no list a log appends to)?"""
    if not (isinstance(node, gast.Subscript) and isinstance(node.value, gast.Name) and
            node.value.id not in local_names and isinstance(node.slice, gast.Constant)):
        return False
    try:
        item = globals_[node.value.id][node.slice.value]
    except Exception:
        return False
    return type(globals_[node.value.id]) in (list, dict) and isinstance(item, (bool, int, float))


def _calls(fdef):
    return [n for n in walk_nodes(fdef) if isinstance(n, gast.Call)]


def _after_ok(st, fdef, activity, bound: set, globals_, local_names) -> bool:
    """May ``st``, after the append, not read the list's items: return or bind names, tuples or lists of
    names (traced ones or those bound after the append), take derivatives of them (``dlgradient``), or
    compute arithmetic and numpy ops of arrays and numbers (names known to hold one: no list's item)?"""
    if isinstance(st, gast.Return):
        value = st.value
    elif isinstance(st, gast.Assign) and len(st.targets) == 1 and isinstance(st.targets[0], gast.Name) and \
            _number_item(st.value, globals_, local_names):
        bound.add(st.targets[0].id)     # (``METRICS["n"] += 1`` after the log reads a number there: red57a F2)
        return True
    elif isinstance(st, gast.Assign) and len(st.targets) == 1 and isinstance(st.targets[0], gast.Subscript) and \
            _number_item(st.targets[0], globals_, local_names):
        value = st.value                # (and stores a number computed from it there)
    elif isinstance(st, gast.Assign) and len(st.targets) == 1 and isinstance(st.targets[0], gast.Name) and \
            isinstance(st.value, gast.Subscript) and isinstance(st.value.value, gast.Name) and \
            isinstance(st.value.slice, gast.Constant) and activity.array_receiver(st.targets[0].id):
        bound.add(st.targets[0].id)     # (P["W"] known to be an array when compiling: no list of a log; red58b R2)
        return True
    elif isinstance(st, gast.Assign) and all(isinstance(t, gast.Name) for t in st.targets):
        value = st.value
    elif isinstance(st, gast.Expr) and isinstance(st.value, gast.Call) and \
            isinstance(st.value.func, gast.Attribute) and st.value.func.attr == "append" and \
            isinstance(st.value.func.value, gast.Name) and st.value.func.value.id not in local_names and \
            len(st.value.args) == 1 and isinstance(st.value.args[0], gast.Name) and \
            _number_of_traced(fdef, st.value.args[0].id, activity, globals_):
        return True         # another such log (checked at its own call)
    else:
        return False

    def held(name: str) -> bool:            # a value as a whole: returned, bound, differentiated
        return name in activity.active or name in bound

    def number(name: str) -> bool:          # an array or a number: read by arithmetic, no list's item
        return name in bound or activity.array_receiver(name) or \
            name in local_names and _number_of_traced(fdef, name, activity, globals_)

    def operand(e) -> bool:
        if isinstance(e, gast.Constant):
            return isinstance(e.value, (int, float, complex, bool)) or e.value is None
        if isinstance(e, gast.Name):
            return number(e.id)
        if isinstance(e, gast.BinOp):
            return operand(e.left) and operand(e.right)
        if isinstance(e, gast.UnaryOp):
            return operand(e.operand)
        if isinstance(e, gast.Call) and isinstance(e.func, (gast.Name, gast.Attribute)) and \
                not (isinstance(e.func, gast.Name) and e.func.id in local_names) and \
                activity.call_info(e).kind == CallKind.OP:
            return all(operand(a) for a in e.args) and all(operand(k.value) for k in e.keywords)
        if isinstance(e, gast.Call) and isinstance(e.func, gast.Attribute) and e.func.attr in _ARRAY_METHODS and \
                isinstance(e.func.value, gast.Name) and number(e.func.value.id):
            return all(operand(a) for a in e.args) and all(operand(k.value) for k in e.keywords)
        return False

    def whole(e) -> bool:
        if e is None or isinstance(e, gast.Constant):
            return True
        if isinstance(e, gast.Name):
            return held(e.id) or number(e.id)
        if isinstance(e, (gast.Tuple, gast.List)):
            return all(whole(v) for v in e.elts)
        if isinstance(e, gast.Call) and activity.call_info(e).kind == CallKind.SITE:
            return all(whole(a) for a in e.args) and all(isinstance(k.value, gast.Constant) for k in e.keywords)
        return operand(e)

    if not whole(value):
        return False
    if isinstance(st, gast.Assign):
        bound.update(t.id for t in st.targets if isinstance(t, gast.Name))
    return True


def detach_logged(fdef, s, node, rt_name: str) -> None:
    """Append the number ``logged_number`` proved no read follows as a constant: ``v_logged =
    rt.stop_gradient(v)`` before ``s``, and ``s`` appends ``v_logged`` (the activity computed again then
    leaves the outside list holding no traced value, and the call runs for its effect)."""
    path = _path(fdef.body, s)
    if path is None:
        return
    block, i = path[-1]
    name = f"{node.args[0].id}_logged"
    taken = {n.id for n in walk_nodes(fdef) if isinstance(n, gast.Name)}
    k = 0
    while name in taken:
        k += 1
        name = f"{node.args[0].id}_logged{k}"
    bind = gast.Assign(targets=[gast.Name(id=name, ctx=gast.Store(), annotation=None, type_comment=None)],
                       value=gast.Call(func=gast.Attribute(
                           value=gast.Name(id=rt_name, ctx=gast.Load(), annotation=None, type_comment=None),
                           attr="stop_gradient", ctx=gast.Load()), args=[node.args[0]], keywords=[]),
                       type_comment=None)
    gast.copy_location(bind, s)
    bind.end_lineno = getattr(s, "end_lineno", None)
    node.args[0] = gast.Name(id=name, ctx=gast.Load(), annotation=None, type_comment=None)
    block.insert(i, bind)


def logs_only(g) -> bool:
    """Is the user's function ``g`` a logging helper (``def log(v): LOG.append(float(v))``): its body (a docstring
    aside) appends ``float``/``int`` of its parameters to lists named by globals, and returns nothing?  Read in
    place (sct/inline_helpers.py), its appends are the caller's own logs, which sct checks as written inline
    (was: left as a call given a traced value, refused as one that "may change its arguments": red57a F2)."""
    from .parse import function_ast
    try:
        gdef = function_ast(g)[0]
    except Exception:
        return False
    a = gdef.args
    params = {p.id for p in a.posonlyargs + a.args + a.kwonlyargs}
    body = gdef.body[1:] if gdef.body and isinstance(gdef.body[0], gast.Expr) and \
        isinstance(gdef.body[0].value, gast.Constant) and isinstance(gdef.body[0].value.value, str) else gdef.body
    if not body or a.vararg is not None or a.kwarg is not None:
        return False
    for s in body:
        call = s.value if isinstance(s, gast.Expr) else None
        if not (isinstance(call, gast.Call) and isinstance(call.func, gast.Attribute) and call.func.attr == "append"
                and isinstance(call.func.value, gast.Name) and call.func.value.id not in params and
                len(call.args) == 1 and not call.keywords):
            return False
        v = call.args[0]
        if not (isinstance(v, gast.Call) and isinstance(v.func, gast.Name) and v.func.id in _NUMBER_CONVERSIONS and
                g.__globals__.get(v.func.id, getattr(builtins, v.func.id)) is getattr(builtins, v.func.id) and
                len(v.args) == 1 and not v.keywords and isinstance(v.args[0], gast.Name) and v.args[0].id in params):
            return False
        if not isinstance(g.__globals__.get(call.func.value.id), list):
            return False
    return not any(isinstance(n, gast.Name) and not isinstance(n.ctx, (gast.Load, gast.Param))
                   for n in walk_nodes(gdef))
