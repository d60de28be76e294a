"""Tape walks no adjoint reads, and the tapes and counters kept only for them (generated code only).

A sweep pops the tape it is handed in the reverse order of the forward's pushes, down to the first
loop.  Where the optimiser has found every adjoint of the earliest loops to be zero (a gradient with
respect to values they do not touch: ``dlgradient(y, net.l2.b)`` after a loop over ``s``), what is
left of their adjoint is the walk alone: ``for _ in range(n_i_0): s_0 = tape.pop(); ...``, popping
values nothing reads, from a copy of the tape nothing reads afterwards.  Such a walk at the end of a
function is dropped (``trailing_walks``); a sweep that no longer pops its tape is then no longer
handed one (``list(tape)``: ``sct.optimize.unread_parameters``), and a forward whose tape nobody is
handed any more keeps none: its pushes, the tape and the loop counters only they and the walks read
go (``unread_tapes``).  (Was: ``g_dlgradient_line101(..., n_i_0, n_i_1, list(tape))`` copied the tape,
and the forward pushed 17 values per pass, for a sweep that read none of them.)

A walk is removed only from a tape the function owns: made there (``tape = []``,
``tape = rt.copy_list(tape)``) or a parameter of a sweep every call hands a copy (``list(tape)``).
"""
from __future__ import annotations

from typing import Dict, List, Optional, Set

import gast

from .ir import tree_changed, walk_nodes, walk_nodes_list
from .optimize import _SCOPE_NAMES, _SWEEP_NAME, _block, _is_comment, _rt_call, _tape_pop, _tape_push

_Name, _Call = gast.Name, gast.Call


def _loads(node) -> Set[str]:
    return {n.id for n in walk_nodes(node) if n.__class__ is _Name and not isinstance(n.ctx, (gast.Store, gast.Param))}


def _names_of(node, tape: str) -> bool:
    return any(n.__class__ is _Name and n.id == tape for n in walk_nodes(node))


def _is_tape(name: str) -> bool:
    return name.startswith("tape")


def _copied(node, rt_name: str) -> bool:
    """``list(name)`` or ``rt.copy_list(name)``: a new list (the tape handed to a sweep)."""
    if node.__class__ is not _Call or node.keywords or len(node.args) != 1 or node.args[0].__class__ is not _Name:
        return False
    return (node.func.__class__ is _Name and node.func.id == "list") or _rt_call(node, rt_name, "copy_list")


def _owned_tapes(fn: gast.FunctionDef, rt_name: str, copied_params: Set[str]) -> Set[str]:
    """The tapes ``fn`` owns: a parameter every caller hands a copy (``copied_params``), or a name a
    statement at the top binds to a new list (``tape = []``, ``tape = rt.copy_list(tape)``, read and
    bound nowhere before it but where a helper's residuals are unpacked), and after that only pushed,
    popped and copied (never passed on, returned, kept or bound again)."""
    out: Set[str] = set()
    names = {n.id for n in walk_nodes(fn) if n.__class__ is _Name and _is_tape(n.id)}
    for tape in names:
        made = -1 if tape in copied_params else None
        for k, s in enumerate(fn.body):
            if made is None and s.__class__ is gast.Assign and len(s.targets) == 1 and \
                    s.targets[0].__class__ is _Name and s.targets[0].id == tape and \
                    ((s.value.__class__ is gast.List and not s.value.elts) or
                     (_rt_call(s.value, rt_name, "copy_list") and _copied(s.value, rt_name))):
                made = k
        if made is None:
            continue
        used: Set[int] = set()
        if made >= 0:
            maker = fn.body[made]
            used |= {id(maker.targets[0])} | {id(a) for a in getattr(maker.value, "args", ())}
            for s in fn.body[:made]:        # (a helper's residuals unpacked: ``(x, tape) = residuals``)
                if s.__class__ is gast.Assign and len(s.targets) == 1 and s.targets[0].__class__ is gast.Tuple and \
                        s.value.__class__ is _Name:
                    used |= {id(e) for e in s.targets[0].elts if e.__class__ is _Name}
        for s in fn.body[made + 1:]:
            for node in walk_nodes(s):
                found = _tape_push(node) or _tape_pop(node)
                if found is not None:
                    used.add(id(found[0]))
                elif node.__class__ is _Call and node.func.__class__ is _Name and node.func.id == "list" and \
                        _copied(node, rt_name):
                    used.add(id(node.args[0]))
        if all(id(n) in used for n in walk_nodes(fn) if n.__class__ is _Name and n.id == tape and
               not isinstance(n.ctx, gast.Param)):
            out.add(tape)
    return out


def _walk_only(stmts: List, tape: str) -> Optional[Set[str]]:
    """The names ``stmts`` pop into, where they do nothing but pop ``tape`` (pops, comments, ``pass``,
    branches on a name, loops ``for _ in range(n)``), else None."""
    popped: Set[str] = set()
    for s in stmts:
        if _is_comment(s) or s.__class__ is gast.Pass:
            continue
        pop = _tape_pop(s)
        if pop is not None:
            if pop[0].id != tape:
                return None
            if pop[1] is not None:
                popped.add(pop[1])
            continue
        if s.__class__ is gast.If and s.test.__class__ is _Name:
            inner = [_walk_only(s.body, tape), _walk_only(s.orelse, tape)]
        elif s.__class__ is gast.For and not s.orelse and s.target.__class__ is _Name and \
                s.iter.__class__ is _Call and s.iter.func.__class__ is _Name and s.iter.func.id == "range" and \
                len(s.iter.args) == 1 and not s.iter.keywords and \
                s.iter.args[0].__class__ in (_Name, gast.Constant):
            inner = [_walk_only(s.body, tape)]
            popped.add(s.target.id)
        else:
            return None
        if any(found is None for found in inner):
            return None
        for found in inner:
            popped |= found
    return popped


def trailing_walks(fn: gast.FunctionDef, rt_name: str, copied_params: Set[str]) -> bool:
    """Drop the walks of an owned tape at the end of ``fn`` (nothing pops or reads it after them, and
    nothing reads what they pop into); returns whether it dropped any."""
    if any(n.__class__ in (gast.Global, gast.Nonlocal) or (n.__class__ is _Name and n.id in _SCOPE_NAMES)
           for n in walk_nodes(fn)):
        return False
    changed = False
    for tape in _owned_tapes(fn, rt_name, copied_params):
        later: Set[str] = set()         # what the statements after the one looked at read
        keep: List = []
        body = fn.body
        k = len(body)
        while k > 0:
            s = body[k - 1]
            if _is_comment(s):
                keep.append(s)
                k -= 1
                continue
            if not _names_of(s, tape):
                later |= _loads(s)
                keep.append(s)
                k -= 1
                continue
            popped = _walk_only([s], tape)
            if popped is None or popped & later:
                break
            changed = True
            k -= 1
            while k > 0 and _is_comment(body[k - 1]):
                k -= 1              # the walk's comments (just above it)
        if k < len(body) and changed:
            fn.body = _block(body[:k] + keep[::-1])
            tree_changed(fn)        # (inside sct.ir.shared_walks: walked again)
    return changed


def _sweep_copies(functions: List, entries) -> Dict[str, Set[str]]:
    """The parameters of each sweep that every call hands a copy (``list(tape)``), where each use of
    the sweep's name is a call by position."""
    named = {fn.name: fn for fn in functions if isinstance(fn, gast.FunctionDef)}
    sweeps = {name for name in named if _SWEEP_NAME.search(name) and name not in entries}
    calls: Dict[str, List] = {name: [] for name in sweeps}
    other: Set[str] = set()
    for fn in named.values():
        for node in walk_nodes(fn):
            if node.__class__ is _Call and node.func.__class__ is _Name and node.func.id in sweeps:
                calls[node.func.id].append(node)
            elif node.__class__ is _Name and node.id in sweeps and not isinstance(node.ctx, gast.Load):
                other.add(node.id)
    callees = {id(c.func) for found in calls.values() for c in found}
    for fn in named.values():
        for node in walk_nodes(fn):
            if node.__class__ is _Name and node.id in sweeps and id(node) not in callees:
                other.add(node.id)
    out: Dict[str, Set[str]] = {}
    for name in sweeps:
        args = named[name].args
        if name in other or not calls[name] or args.vararg is not None or args.kwarg is not None or \
                args.posonlyargs or args.kwonlyargs or args.defaults:
            continue
        params = [a.id for a in args.args]
        if any(len(c.args) != len(params) or c.keywords for c in calls[name]):
            continue
        out[name] = {p for k, p in enumerate(params) if all(_copied(c.args[k], "") for c in calls[name])}
    return out


def walks(functions: List, rt_name: str, entries=()) -> None:
    """``trailing_walks`` of every generated function (``entries``: called from outside)."""
    tapeful = [fn for fn in functions if isinstance(fn, gast.FunctionDef) and _may_own_tape(fn)]
    if not tapeful:
        return
    copies = _sweep_copies(functions, entries)
    for fn in tapeful:
        trailing_walks(fn, rt_name, copies.get(fn.name, set()))


def _may_own_tape(fn: gast.FunctionDef) -> bool:
    """A parameter named as a tape, or a tape made at the top (no walk: most functions have neither)."""
    return any(_is_tape(a.id) for a in fn.args.args if a.__class__ is _Name) or \
        any(s.__class__ is gast.Assign and len(s.targets) == 1 and s.targets[0].__class__ is _Name and
            _is_tape(s.targets[0].id) for s in fn.body)


def _made_tapes(fn: gast.FunctionDef) -> Set[str]:
    """The tapes made at the top of ``fn`` (``tape = []``)."""
    return {s.targets[0].id for s in fn.body if s.__class__ is gast.Assign and len(s.targets) == 1 and
            s.targets[0].__class__ is _Name and _is_tape(s.targets[0].id) and s.value.__class__ is gast.List and
            not s.value.elts}


def unread_tapes(fn: gast.FunctionDef, rt_name: str) -> None:
    """A tape ``fn`` makes (``tape = []``) and only pushes to: the pushes and the tape dropped; then
    the loop counters (``n_i = 0``, ``n_i = n_i + 1``) that nothing else reads (a sweep no longer
    handed them, or a loop no sweep walks: was counted for nothing)."""
    made = _made_tapes(fn)
    if not made and not any(s.__class__ in (gast.For, gast.While) for s in fn.body):
        return                  # (no tape, no loop: nothing to look for, no walk)
    nodes = walk_nodes_list(fn)
    if any(n.__class__ in (gast.Global, gast.Nonlocal) or (n.__class__ is _Name and n.id in _SCOPE_NAMES)
           for n in nodes):
        return
    pushed: Dict[int, str] = {}
    for node in nodes:
        push = _tape_push(node)
        if push is not None and push[0].id in made and _plain(push[1], rt_name):
            pushed[id(node)] = push[0].id
    pushing = {id(node.value.func.value) for node in nodes if id(node) in pushed}
    unread = {t for t in made if not any(n.__class__ is _Name and n.id == t and id(n) not in pushing and
                                         isinstance(n.ctx, gast.Load) for n in nodes)}
    if unread:
        dropped = {key for key, t in pushed.items() if t in unread}

        def is_made(s) -> bool:
            return s.__class__ is gast.Assign and len(s.targets) == 1 and s.targets[0].__class__ is _Name and \
                s.targets[0].id in unread

        _drop(fn, lambda s: id(s) in dropped or is_made(s))
        nodes = None
    _unread_counters(fn, nodes)


def _plain(node, rt_name: str) -> bool:
    """A pushed value whose dropping runs nothing: a name, a constant, ``rt.shape_proxy(name)``."""
    if node.__class__ in (_Name, gast.Constant):
        return True
    return _rt_call(node, rt_name, "shape_proxy", "length_proxy") and len(node.args) == 1 and \
        node.args[0].__class__ is _Name


def _drop(fn: gast.FunctionDef, gone) -> None:
    """Remove the statements ``gone`` says, at any depth (each statement list: bodies, ``else``,
    ``finally``, handlers'); a body left empty gets ``pass``, an ``else`` or ``finally`` left with
    comments only is dropped."""
    def block(stmts: List, required: bool) -> List:
        out: List = []
        orphans: Set[int] = set()       # comments whose statements were all dropped
        for s in stmts:
            if gone(s):
                if out and _is_comment(out[-1]):
                    orphans.add(id(out[-1]))
                continue
            if not isinstance(s, (gast.FunctionDef, gast.AsyncFunctionDef, gast.ClassDef)):
                inner_of(s)
            out.append(s)
        if orphans:
            out = [k for j, k in enumerate(out) if id(k) not in orphans or
                   (j + 1 < len(out) and not _is_comment(out[j + 1]))]
        if required:
            return _block(out)
        return out if any(not _is_comment(k) for k in out) else []

    def inner_of(node) -> None:
        for field in ("body", "orelse", "finalbody"):
            inner = getattr(node, field, None)
            if isinstance(inner, list) and inner and isinstance(inner[0], gast.stmt):
                setattr(node, field, block(inner, field == "body" or (field == "finalbody" and
                                                                      not getattr(node, "handlers", None))))
        for holder in getattr(node, "handlers", ()) or ():
            inner_of(holder)
        for case in getattr(node, "cases", ()) or ():
            inner_of(case)

    fn.body = block(fn.body, True)
    tree_changed(fn)                # (inside sct.ir.shared_walks: walked again)


def _unread_counters(fn: gast.FunctionDef, nodes: Optional[List] = None) -> None:
    """``n = 0`` and ``n = n + 1`` of a name read nowhere else (a loop's count for a tape walk)."""
    def counting(s) -> Optional[str]:
        if s.__class__ is not gast.Assign or len(s.targets) != 1 or s.targets[0].__class__ is not _Name:
            return None
        t, v = s.targets[0].id, s.value
        if v.__class__ is gast.Constant and v.value == 0 and type(v.value) is int:
            return t
        if v.__class__ is gast.BinOp and isinstance(v.op, gast.Add) and v.left.__class__ is _Name and \
                v.left.id == t and v.right.__class__ is gast.Constant and v.right.value == 1 and \
                type(v.right.value) is int:
            return t
        return None

    counts: Dict[str, List] = {}
    stores: Dict[str, int] = {}
    loads: Dict[str, int] = {}
    for node in (walk_nodes(fn) if nodes is None else nodes):
        name = counting(node)
        if name is not None:
            counts.setdefault(name, []).append(node)
        elif node.__class__ is _Name:
            table = loads if isinstance(node.ctx, gast.Load) else stores
            table[node.id] = table.get(node.id, 0) + 1
    increments = {name: sum(1 for s in found if s.value.__class__ is gast.BinOp) for name, found in counts.items()}
    gone = {name for name, found in counts.items() if name.startswith("n_") and
            stores.get(name, 0) == len(found) and loads.get(name, 0) == increments[name]}
    if gone:
        ids = {id(s) for name in gone for s in counts[name]}
        _drop(fn, lambda s: id(s) in ids)


def unpopped_pushes(functions: List, rt_name: str) -> None:
    """A forward's pushes of a name whose popped values nothing reads, with the pops (``tape.append(s_0)``
    ... ``s_0 = tape.pop()``, where the sweeps' adjoints of that statement were found zero, or their
    walk of its loop was dropped): dropped from the forward and from every function that pops its tape.
    Tape entries are pushed by name and popped into the same name (a flag a branch pushes is popped
    into a ``cond`` name or by a bare pop: only names are dropped), so every other entry is popped where
    it was.  A pop is unread where no read may see the value it popped (``_popped_read_shape_only``).
    Only for a tape the forward makes (``tape = []``) and reads only to push, pop and hand copies
    (``list(tape)``) to generated sweeps that read them only to pop (``_popped_into``)."""
    from .optimize import _SWEEP_STOPS, _popped_read_shape_only
    named = {fn.name: fn for fn in functions if isinstance(fn, gast.FunctionDef)}
    copies = None
    for fn in named.values():
        made = _made_tapes(fn)
        if not made or any(n.__class__ in (gast.Global, gast.Nonlocal) or
                           (n.__class__ is _Name and n.id in _SCOPE_NAMES) for n in walk_nodes(fn)):
            continue
        if copies is None:
            copies = _sweep_copies(functions, ())
        for tape in made & _owned_tapes(fn, rt_name, set()):
            users = [(fn, tape)]            # the functions popping the tape (or a copy), and its name there
            pushes: List = []
            for node in walk_nodes(fn):
                push = _tape_push(node)
                if push is not None and push[0].id == tape:
                    pushes.append((node, push[1]))
                elif node.__class__ is _Call and node.func.__class__ is _Name and node.func.id in named:
                    for k, arg in enumerate(node.args):
                        if _copied(arg, rt_name) and arg.args[0].id == tape:
                            sweep = named[node.func.id]
                            params = [a.id for a in sweep.args.args]
                            if sweep is fn or k >= len(params) or params[k] not in copies.get(sweep.name, ()) or \
                                    _popped_into(sweep, params[k]) is None:
                                users = None
                                break
                            users.append((sweep, params[k]))
                if users is None:
                    break
            if users is None:
                continue
            names = {_pushed_name(value, rt_name) for _, value in pushes} - {None}
            pops: List = []                 # (pop statement, its name)
            for user, name in users:
                if any(n.__class__ in _SWEEP_STOPS or n.__class__ in (gast.Global, gast.Nonlocal) or
                       (n.__class__ is _Name and n.id in _SCOPE_NAMES) for st in user.body for n in walk_nodes(st)):
                    names = set()
                    break
                targets = {}
                for node in walk_nodes(user):
                    pop = _tape_pop(node)
                    if pop is not None and pop[0].id == name and pop[1] is not None:
                        targets[id(node)] = pop[1]
                        pops.append((node, pop[1]))
                cache: Dict = {}
                for n in set(targets.values()) & names:
                    if not _popped_read_shape_only(user.body, n, targets, set(), cache=cache):
                        names.discard(n)
            gone = {id(node) for node, value in pushes if _pushed_name(value, rt_name) in names} | \
                {id(node) for node, n in pops if n in names}
            if gone:
                for k, (user, _) in enumerate(users):
                    _drop(user, lambda s: id(s) in gone)
                    if k:                   # (a sweep's walks: the forward's own loops are the user's)
                        _empty_walks(user)


def _empty_walks(fn: gast.FunctionDef) -> None:
    """Loops ``for _ in range(n)`` and branches ``if cond_taken:`` whose pops were all dropped (only
    ``pass`` and comments left, the loop's name read nowhere), with the comment just above them."""
    loaded = _loads(fn)

    def empty(stmts) -> bool:
        return all(_is_comment(k) or k.__class__ is gast.Pass for k in stmts)

    def idle(s) -> bool:
        if s.__class__ is gast.If:
            return s.test.__class__ is _Name and empty(s.body) and empty(s.orelse)
        return s.__class__ is gast.For and not s.orelse and s.target.__class__ is _Name and \
            s.target.id == "_" and s.target.id not in loaded and _walk_only([s], "") is not None and empty(s.body)

    def block(stmts: List, required: bool) -> List:
        out: List = []
        for s in stmts:
            for field in ("body", "orelse"):
                inner = getattr(s, field, None)
                if isinstance(inner, list) and inner and isinstance(inner[0], gast.stmt) and \
                        not isinstance(s, (gast.FunctionDef, gast.ClassDef)) and s.__class__ in (gast.If, gast.For,
                                                                                                gast.While):
                    setattr(s, field, block(inner, field == "body"))
            if idle(s):
                while out and _is_comment(out[-1]):
                    out.pop()
                continue
            out.append(s)
        if required:
            return _block(out)
        return out if any(not _is_comment(k) for k in out) else []

    fn.body = block(fn.body, True)
    tree_changed(fn)                # (inside sct.ir.shared_walks: walked again)


def _pushed_name(value, rt_name: str) -> Optional[str]:
    if value.__class__ is _Name:
        return value.id
    if _rt_call(value, rt_name, "shape_proxy", "length_proxy") and len(value.args) == 1 and \
            value.args[0].__class__ is _Name:
        return value.args[0].id
    return None


def _popped_into(fn: gast.FunctionDef, tape: str, pushing: bool = False) -> Optional[Set[str]]:
    """The names ``fn`` pops ``tape`` into; None where it reads ``tape`` otherwise than to pop it (it
    pushes onto it, hands it on, binds it again), unless ``pushing`` (the forward that makes it,
    ``_owned_tapes``: its copies handed on are followed by the caller)."""
    out: Set[str] = set()
    popping: Set[int] = set()
    nodes = walk_nodes_list(fn)
    for node in nodes:
        pop = _tape_pop(node)
        if pop is not None and pop[0].id == tape:
            popping.add(id(pop[0]))
            if pop[1] is not None:
                out.add(pop[1])
    if not pushing and any(n.__class__ is _Name and n.id == tape and id(n) not in popping and
                           not isinstance(n.ctx, gast.Param) for n in nodes):
        return None
    return out
