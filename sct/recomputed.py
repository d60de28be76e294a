"""Calls whose results only a self-contained sweep needs, and which it runs again itself.

A gradient differentiated again (``dlgradient(..., EnableHigherDerivatives=True)`` read by a later
``dlgradient``) gets a self-contained sweep: it recomputes, from the function's arguments, every
statement before the site (``rt.replay_from(effects_start)`` ... ``rt.replay_end()``), so that the
later sweep can differentiate it as ordinary code.  The caller then often reads nothing of what it
computed itself before the site: in ``y = rosen(x); g = dlgradient(y, x, EnableHigherDerivatives=True)``
the caller's ``y = rosen(x)`` is dead, and the sweep computes ``y`` again at once.

``drop_recomputed`` removes such a statement from the caller where that is provably invisible:

- it assigns only names that nothing else in the caller reads or assigns;
- it is a call, by name, of generated code resolved with the caller (sct.call_tree), unguarded,
  whose code runs no user code sct did not compile, no effect (``print``, random draws, I/O,
  ``warnings.warn``: ``rt.effect``...), and stores no attribute (``Compiled.opaque`` False), and whose
  function changes none of its arguments in place (sct.callee_effects.changes_arguments): so it
  logs nothing in the effects log (the positions the sweep replays from stay the same) and
  changes nothing anyone else sees;
- the sweep's recomputation holds the same statement (the same tree), in the same order as the
  other statements removed before the same site;
- between the statement and the sweep's call nothing else runs: it is followed (after other
  statements removed the same way) by ``rt.vjp_at(<site>, <the sweep>, ...)`` and the call of the
  sweep's forward.  The sweep runs the same call on the same values first thing after what
  preceded it in the caller, so the values, the warnings (each caught and shown once at the
  user's line, as before) and an error (raised by the same operation, at the same user line)
  are those of the statement in the caller.
"""
from __future__ import annotations

from typing import Dict, List, Optional, Set

import gast

from .callee_effects import changes_arguments


def _is_comment(s) -> bool:
    from .emit import COMMENT
    return isinstance(s, gast.Expr) and isinstance(s.value, gast.Constant) and \
        isinstance(s.value.value, str) and s.value.value.startswith(COMMENT)


def _rt_call(node, rt_name: str, attr: str) -> bool:
    return isinstance(node, gast.Call) and isinstance(node.func, gast.Attribute) and \
        isinstance(node.func.value, gast.Name) and node.func.value.id == rt_name and node.func.attr == attr


def _recomputation(fn: gast.FunctionDef, rt_name: str) -> Optional[List]:
    """The statements a self-contained sweep runs again (between its top-level
    ``rt.replay_from(...)`` and ``rt.replay_end()``), or None."""
    start = None
    for i, s in enumerate(fn.body):
        if isinstance(s, gast.Expr) and _rt_call(s.value, rt_name, "replay_from"):
            if start is not None:
                return None
            start = i + 1
        elif isinstance(s, gast.Expr) and _rt_call(s.value, rt_name, "replay_end"):
            return fn.body[start:i] if start is not None else None
    return None


def effect_free_callees(tree) -> Set[str]:
    """The names by which the caller's code calls forward (or entry) code that has no effect and
    changes none of its arguments (see the module's docstring); ``tree``: sct.call_tree.CallTree."""
    names: Set[str] = set()
    bound = getattr(getattr(tree, "resolution", None), "bound", None) or {}
    for call, record in zip(getattr(tree, "calls", ()), getattr(tree, "records", ())):
        if record is None or not record.resolved or not record.names or record.guarded or \
                record.compiled is None or getattr(record.compiled, "opaque", True) or \
                record.op not in ("vjp", "primal_call"):
            continue
        b = bound.get(id(call.node))
        if b is None or b.compiled is not record.compiled or changes_arguments(b.callee):
            continue
        names.add(record.names[0])
    return names


def _targets(s) -> Optional[List[str]]:
    if not isinstance(s, gast.Assign) or len(s.targets) != 1:
        return None
    t = s.targets[0]
    if isinstance(t, gast.Name):
        return [t.id]
    if isinstance(t, gast.Tuple) and all(isinstance(e, gast.Name) for e in t.elts):
        return [e.id for e in t.elts]
    return None


def _sweep_call(s, sweeps: Dict[str, List], rt_name: str) -> Optional[str]:
    """The sweep whose pair ``s`` binds: ``(f, b) = rt.vjp_at(site, <sweep>, mask, ...)``."""
    if _targets(s) is None or not _rt_call(s.value, rt_name, "vjp_at") or len(s.value.args) < 2:
        return None
    target = s.value.args[1]
    return target.id if isinstance(target, gast.Name) and target.id in sweeps else None


def _dump(node) -> str:
    return gast.dump(node)


def drop_recomputed(generated, tree, rt_name: str) -> bool:
    """Remove, from the caller's forward code, the statements only a self-contained sweep needs
    and that it runs again at once (see the module's docstring).  Returns whether any was."""
    functions = [f for f in generated.functions if isinstance(f, gast.FunctionDef)]
    sweeps = {}
    for f in functions:
        prefix = _recomputation(f, rt_name)
        if prefix is not None:
            sweeps[f.name] = prefix
    if not sweeps:
        return False
    callees = effect_free_callees(tree)
    if not callees:
        return False
    changed = False
    for f in functions:
        if f.name in sweeps or f.name not in (generated.entry, getattr(generated, "fwd", None)):
            continue
        changed |= _drop_in(f, sweeps, callees, rt_name)
    return changed


def _drop_in(fn: gast.FunctionDef, sweeps: Dict[str, List], callees: Set[str], rt_name: str) -> bool:
    if any(isinstance(n, (gast.FunctionDef, gast.ClassDef, gast.Lambda, gast.Global, gast.Nonlocal))
           for s in fn.body for n in gast.walk(s)):
        return False
    stores: Dict[str, int] = {}
    for n in gast.walk(fn):
        if isinstance(n, gast.Name) and not isinstance(n.ctx, gast.Load):
            stores[n.id] = stores.get(n.id, 0) + 1
    for a in fn.args.args + fn.args.posonlyargs + fn.args.kwonlyargs + \
            [a for a in (fn.args.vararg, fn.args.kwarg) if a is not None]:
        stores[a.id] = stores.get(a.id, 0) + 1
    body = fn.body
    removed: Set[int] = set()
    for i, s in enumerate(body):
        sweep = _sweep_call(s, sweeps, rt_name)
        if sweep is None:
            continue
        following = [t for t in body[i + 1:] if not _is_comment(t)]
        pair = _targets(s)
        if not following or len(pair) != 2 or not isinstance(following[0], gast.Assign) or \
                not isinstance(following[0].value, gast.Call) or \
                not isinstance(following[0].value.func, gast.Name) or following[0].value.func.id != pair[0]:
            continue                # the sweep's forward is not what runs next
        prefix = [_dump(t) for t in sweeps[sweep]]
        bound = len(prefix)         # matched statements lie before this position of the prefix
        k = i - 1
        while k >= 0:
            t = body[k]
            if _is_comment(t):
                k -= 1
                continue
            names = _targets(t)
            if names is None or not _effect_free_call(t.value, callees) or \
                    any(stores.get(n) != 1 for n in names) or \
                    _read_elsewhere(body, set(names), removed | {k}):
                break
            text = _dump(t)
            at = next((p for p in range(bound - 1, -1, -1) if prefix[p] == text), None)
            if at is None:
                break
            bound = at
            removed.add(k)
            k -= 1
    if not removed:
        return False
    fn.body = [s for k, s in enumerate(body) if k not in removed]
    return True


def _effect_free_call(value, callees: Set[str]) -> bool:
    return isinstance(value, gast.Call) and isinstance(value.func, gast.Name) and value.func.id in callees and \
        all(isinstance(a, (gast.Name, gast.Constant)) for a in value.args) and \
        all(k.arg is not None and isinstance(k.value, (gast.Name, gast.Constant)) for k in value.keywords)


def _read_elsewhere(body: List, names: Set[str], skip: Set[int]) -> bool:
    for k, s in enumerate(body):
        if k in skip:
            continue
        for n in gast.walk(s):
            if isinstance(n, gast.Name) and isinstance(n.ctx, gast.Load) and n.id in names:
                return True
    return False
